/* SPDX-License-Identifier: MIT */
/* Channel regions (libmodule/region.c): layout bounds and invariants,
 * sealed memfd creation, and mapping checks against hostile fds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "region.h"

#define SEALS_ALL (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define N_OF(a)   (sizeof(a) / sizeof((a)[0]))

/* A geometry used for the mapping tests: large enough that changing any
 * layout input by the amounts below changes the layout. */
#define GOOD_SLOTS 64u
#define GOOD_SIZE  4096u

static const char name63[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
static const char name64[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";

static void good_layout(struct uipc_region_hdr *h)
{
    assert_int_equal(uipc__region_layout("kv", GOOD_SLOTS, GOOD_SIZE, h), 0);
}

/* A memfd of `size` bytes starting with *h (as much of it as fits), with
 * `seals` added.  No checks of the header: the caller forges it. */
static int forge_memfd(const struct uipc_region_hdr *h, off_t size, int seals)
{
    int fd = memfd_create("forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, h, sizeof(*h), 0), (ssize_t)sizeof(*h));
    assert_int_equal(ftruncate(fd, size), 0);
    if (seals)
        assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
    return fd;
}

/* uipc__region_map's verdict on fd, which it closes. */
static int map_verdict(int fd)
{
    struct uipc_region r;
    memset(&r, 0, sizeof(r));
    int err = uipc__region_map(fd, &r);
    if (err == 0)
        uipc__region_unmap(&r);
    close(fd);
    return err;
}

/* [off, off + len) within the region. */
struct range { uint64_t off, len; };

static void check_ranges(const struct range *rg, size_t n, uint64_t size)
{
    for (size_t i = 0; i < n; i++) {
        assert_true(rg[i].len > 0);
        assert_true(rg[i].off + rg[i].len <= size);
        for (size_t j = 0; j < i; j++)
            assert_true(rg[i].off >= rg[j].off + rg[j].len || rg[j].off >= rg[i].off + rg[i].len);
    }
}

/* Everything a peer relies on in a layout for this geometry. */
static void check_layout(const char *service, uint32_t slots, uint32_t slot_size)
{
    struct uipc_region_hdr h;
    memset(&h, 0xee, sizeof(h));
    assert_int_equal(uipc__region_layout(service, slots, slot_size, &h), 0);

    assert_int_equal(h.magic, UIPC_REGION_MAGIC);
    assert_int_equal(h.version, UIPC_REGION_VERSION);
    assert_int_equal(h.hdr_size, sizeof(h));
    assert_int_equal(h.slot_count, slots);
    assert_int_equal(h.slot_size, slot_size);
    assert_string_equal(h.service, service);
    for (size_t i = strlen(service); i < sizeof(h.service); i++)
        assert_int_equal(h.service[i], 0); /* the check compares every byte */

    /* A slot holds its header and payload; slot headers stay 64-aligned. */
    assert_true(h.slot_stride >= UIPC_SLOT_HDR + slot_size);
    assert_true(h.slot_stride < UIPC_SLOT_HDR + slot_size + 64);
    assert_int_equal(h.slot_stride % 64, 0);

    /* Power of two, at least 2 * slots, and the smallest such. */
    assert_int_equal(h.fifo_size & (h.fifo_size - 1), 0);
    assert_true(h.fifo_size >= 2 * slots);
    assert_true(h.fifo_size / 2 < 2 * slots || h.fifo_size == 2);

    assert_int_equal(h.size % 4096, 0);
    assert_true(h.size <= UIPC_MAX_REGION);
    assert_int_equal(h.side_off[0] % UIPC_LINE, 0);
    assert_int_equal(h.side_off[1] % UIPC_LINE, 0);
    assert_int_equal(h.fifo_off[0] % UIPC_LINE, 0);
    assert_int_equal(h.fifo_off[1] % UIPC_LINE, 0);
    assert_int_equal(h.slots_off % UIPC_LINE, 0);

    /* Each side on lines of its own: what the peer reads per call, then
     * what the side writes often, then its call statistics. */
    assert_int_equal(sizeof(struct uipc_side) % UIPC_LINE, 0);
    assert_int_equal(offsetof(struct uipc_side, beat_ms), UIPC_LINE);
    assert_int_equal(offsetof(struct uipc_side, issued), 2 * UIPC_LINE);
    /* lat_sum_ns and bad_status were added on the second line's spare room */
    assert_true(offsetof(struct uipc_side, bad_status) + 8 <= 2 * UIPC_LINE);
    uint64_t fifo_len = sizeof(struct uipc_fifo_shared) +
                        (uint64_t)h.fifo_size * sizeof(struct uipc_fifo_entry);
    const struct range rg[] = {
        { 0, sizeof(h) },
        { h.side_off[0], sizeof(struct uipc_side) },
        { h.side_off[1], sizeof(struct uipc_side) },
        { h.fifo_off[0], fifo_len },
        { h.fifo_off[1], fifo_len },
        { h.slots_off, (uint64_t)slots * h.slot_stride },
    };
    check_ranges(rg, N_OF(rg), h.size);
}

static void test_layout_rejects(void **state)
{
    (void)state;
    static const struct { const char *service; uint32_t slots, slot_size; } bad[] = {
        { NULL, 4, 64 },
        { "", 4, 64 },
        { name64, 4, 64 },
        { "kv", 0, 64 },
        { "kv", UIPC_MAX_SLOTS + 1, 64 },
        { "kv", UINT32_MAX, 64 },
        { "kv", 4, 0 },
        { "kv", 4, UIPC_MIN_SLOT_SIZE - 1 },
        { "kv", 4, UIPC_MAX_SLOT_SIZE + 1 },
        { "kv", 4, UINT32_MAX },
        /* Each bound on its own is fine; together they pass 1 GiB. */
        { "kv", UIPC_MAX_SLOTS, UIPC_MAX_SLOT_SIZE },
        { "kv", UIPC_MAX_SLOTS, 16384 },
        { "kv", 64, UIPC_MAX_SLOT_SIZE },
    };
    for (size_t i = 0; i < N_OF(bad); i++) {
        struct uipc_region_hdr h;
        assert_int_equal(uipc__region_layout(bad[i].service, bad[i].slots, bad[i].slot_size, &h),
                         -EINVAL);
    }
}

static void test_layout_invariants(void **state)
{
    (void)state;
    static const struct { const char *service; uint32_t slots, slot_size; } good[] = {
        { "a", 1, UIPC_MIN_SLOT_SIZE },
        { "kv", 1, UIPC_MAX_SLOT_SIZE },
        { "kv", 2, 17 },
        { "odd", 3, 100 },
        { "kv", GOOD_SLOTS, GOOD_SIZE },
        { "kv", 1000, 1000 },
        { "kv", UIPC_MAX_SLOTS, UIPC_MIN_SLOT_SIZE },
        { "kv", UIPC_MAX_SLOTS, 8192 },
        { "kv", 63, UIPC_MAX_SLOT_SIZE },
        { name63, 5, 64 },
    };
    for (size_t i = 0; i < N_OF(good); i++)
        check_layout(good[i].service, good[i].slots, good[i].slot_size);

    /* Spot values, so a layout change is a decision, not an accident. */
    struct uipc_region_hdr h;
    good_layout(&h);
    assert_int_equal(h.slot_stride, 4160);
    assert_int_equal(h.fifo_size, 128);
    assert_int_equal(uipc__region_layout("kv", 5, 64, &h), 0);
    assert_int_equal(h.fifo_size, 16);
    assert_int_equal(h.slot_stride, 128);
}

static void check_region_matches(const struct uipc_region *r, int fd, const struct uipc_region_hdr *h)
{
    assert_non_null(r->base);
    assert_int_equal(r->fd, fd);
    assert_int_equal(r->size, h->size);
    assert_int_equal(r->slots, h->slot_count);
    assert_int_equal(r->slot_size, h->slot_size);
    assert_int_equal(r->stride, h->slot_stride);
    assert_int_equal(r->fifo_size, h->fifo_size);
    for (int i = 0; i < 2; i++) {
        assert_ptr_equal(r->side[i], r->base + h->side_off[i]);
        assert_ptr_equal(r->fifo[i], r->base + h->fifo_off[i]);
    }
    assert_ptr_equal(r->slot_base, r->base + h->slots_off);
    assert_ptr_equal(uipc_slot(r, r->slots - 1), r->base + h->slots_off + (uint64_t)(r->slots - 1) * h->slot_stride);
    assert_true(uipc_slot_data(r, r->slots - 1) + r->slot_size <= r->base + r->size);
    assert_string_equal(r->service, h->service);
    assert_memory_equal(r->base, h, sizeof(*h));
}

static void test_create_map(void **state)
{
    (void)state;
    struct uipc_region_hdr h;
    struct uipc_region a, b;
    struct stat st;
    int fd = -1;

    good_layout(&h);
    assert_int_equal(uipc__region_create("kv", GOOD_SLOTS, GOOD_SIZE, &fd), 0);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(fcntl(fd, F_GET_SEALS) & SEALS_ALL, SEALS_ALL);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, h.size);

    assert_int_equal(uipc__region_map(fd, &a), 0);
    check_region_matches(&a, fd, &h);
    /* Two mappings of one region share memory. */
    assert_int_equal(uipc__region_map(fd, &b), 0);
    check_region_matches(&b, fd, &h);
    assert_ptr_not_equal(a.base, b.base);
    atomic_store(&a.side[UIPC_CLIENT]->epoch, 0x1234);
    uipc_slot_data(&a, a.slots - 1)[a.slot_size - 1] = 0x5a;
    assert_int_equal(atomic_load(&b.side[UIPC_CLIENT]->epoch), 0x1234);
    assert_int_equal(uipc_slot_data(&b, b.slots - 1)[b.slot_size - 1], 0x5a);

    uipc__region_unmap(&a);
    assert_null(a.base);
    uipc__region_unmap(&a); /* twice is harmless */
    uipc__region_unmap(&b);
    close(fd);

    /* Bad geometry never gets as far as a memfd. */
    fd = -1;
    assert_int_equal(uipc__region_create("kv", 0, GOOD_SIZE, &fd), -EINVAL);
    assert_int_equal(uipc__region_create("", GOOD_SLOTS, GOOD_SIZE, &fd), -EINVAL);
    assert_int_equal(fd, -1);
}

static void test_sealed_size(void **state)
{
    (void)state;
    struct uipc_region_hdr h;
    int fd;

    good_layout(&h);
    assert_int_equal(uipc__region_create("kv", GOOD_SLOTS, GOOD_SIZE, &fd), 0);
    errno = 0;
    assert_int_equal(ftruncate(fd, (off_t)h.size + 4096), -1);
    assert_int_equal(errno, EPERM);
    errno = 0;
    assert_int_equal(ftruncate(fd, (off_t)h.size - 4096), -1);
    assert_int_equal(errno, EPERM);
    errno = 0;
    assert_int_equal(ftruncate(fd, 0), -1);
    assert_int_equal(errno, EPERM);
    /* No further seals either (F_SEAL_SEAL). */
    errno = 0;
    assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
    assert_int_equal(errno, EPERM);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, h.size);
    assert_int_equal(map_verdict(fd), 0);
}

static void test_map_seals(void **state)
{
    (void)state;
    struct uipc_region_hdr h;
    good_layout(&h);
    off_t size = (off_t)h.size;

    /* The control: a correct forgery maps. */
    assert_int_equal(map_verdict(forge_memfd(&h, size, SEALS_ALL)), 0);
    /* Resizable in either direction: a peer could make us fault. */
    assert_int_equal(map_verdict(forge_memfd(&h, size, 0)), -EPERM);
    assert_int_equal(map_verdict(forge_memfd(&h, size, F_SEAL_SHRINK)), -EPERM);
    assert_int_equal(map_verdict(forge_memfd(&h, size, F_SEAL_GROW)), -EPERM);
    assert_int_equal(map_verdict(forge_memfd(&h, size, F_SEAL_GROW | F_SEAL_SEAL)), -EPERM);
    /* Not a memfd at all. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(map_verdict(p[0]), -EINVAL);
    close(p[1]);
}

/* The header with field i changed to a value inconsistent with the rest;
 * false past the last field. */
static bool corrupt(struct uipc_region_hdr *h, int i)
{
    switch (i) {
    case 0: h->magic ^= 1; break;
    case 1: h->version++; break;
    case 2: h->hdr_size += 8; break;
    case 3: h->slot_count++; break;       /* 65 slots need a 256-entry FIFO */
    case 4: h->slot_count = 0; break;
    case 5: h->slot_size += 64; break;    /* the stride would grow too */
    case 6: h->slot_size = 1; break;
    case 7: h->slot_stride += 64; break;
    case 8: h->slot_stride -= 64; break;
    case 9: h->fifo_size *= 2; break;
    case 10: h->fifo_size--; break;
    case 11: h->size += 4096; break;
    case 12: h->side_off[0] += UIPC_LINE; break;
    case 13: h->side_off[1] += UIPC_LINE; break;
    case 14: h->fifo_off[0] -= UIPC_LINE; break;
    case 15: h->fifo_off[1] += UIPC_LINE; break;
    case 16: h->slots_off += UIPC_LINE; break;
    case 17: h->slots_off = h->size; break;
    case 18: memset(h->service, 'x', sizeof(h->service)); break; /* unterminated */
    case 19: h->service[sizeof(h->service) - 1] = 'x'; break;     /* junk after the name */
    case 20: h->service[0] = '\0'; break;
    default: return false;
    }
    return true;
}

static void test_map_bad_header(void **state)
{
    (void)state;
    int i;
    for (i = 0;; i++) {
        struct uipc_region_hdr h;
        good_layout(&h);
        if (!corrupt(&h, i))
            break;
        /* The file agrees with the header's size: only the header is wrong. */
        int err = map_verdict(forge_memfd(&h, (off_t)h.size, SEALS_ALL));
        if (err != -EPROTO)
            fail_msg("corruption %d: map returned %d, want -EPROTO", i, err);
    }
    assert_int_equal(i, 21);
}

/* An unterminated name is rejected without reading past the header: the
 * header ends a page, and the next page is inaccessible. */
static void test_check_stays_in_header(void **state)
{
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    assert_int_equal(mprotect(p + page, (size_t)page, PROT_NONE), 0);
    struct uipc_region_hdr *h = (struct uipc_region_hdr *)(p + page - sizeof(*h));
    good_layout(h);
    assert_int_equal(uipc__region_check(h, h->size), 0);
    memset(h->service, 'x', sizeof(h->service));
    assert_int_equal(uipc__region_check(h, h->size), -EPROTO);
    munmap(p, 2 * (size_t)page);
}

static void test_map_bad_size(void **state)
{
    (void)state;
    struct uipc_region_hdr h;
    good_layout(&h);
    static const int64_t delta[] = { 4096, -4096, 1, -1 };
    for (size_t i = 0; i < N_OF(delta); i++)
        assert_int_equal(map_verdict(forge_memfd(&h, (off_t)h.size + delta[i], SEALS_ALL)), -EPROTO);
    /* Too small to hold the header, empty, or beyond any legal region. */
    assert_int_equal(map_verdict(forge_memfd(&h, sizeof(h) - 1, SEALS_ALL)), -EPROTO);
    assert_int_equal(map_verdict(forge_memfd(&h, 0, SEALS_ALL)), -EPROTO);
    assert_int_equal(map_verdict(forge_memfd(&h, (off_t)UIPC_MAX_REGION + 4096, SEALS_ALL)), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_rejects),
        cmocka_unit_test(test_layout_invariants),
        cmocka_unit_test(test_create_map),
        cmocka_unit_test(test_sealed_size),
        cmocka_unit_test(test_map_seals),
        cmocka_unit_test(test_map_bad_header),
        cmocka_unit_test(test_check_stays_in_header),
        cmocka_unit_test(test_map_bad_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
