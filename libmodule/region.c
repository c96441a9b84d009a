/* SPDX-License-Identifier: MIT */
/* Channel regions: layout, creation as a sealed memfd, mapping with checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "region.h"

#define REQUIRED_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static uint32_t fifo_size_for(uint32_t slots)
{
    /* Room for every slot twice: the server's real completions and the
     * reclaim's peer-died ones can both be pending, and then a FIFO can
     * never overflow, so it needs no overflow machinery. */
    uint32_t n = 2;
    while (n < 2 * slots)
        n <<= 1;
    return n;
}

static uint64_t fifo_bytes(uint32_t entries)
{
    return align_up(sizeof(struct uipc_fifo_shared) +
                    (uint64_t)entries * sizeof(struct uipc_fifo_entry), UIPC_LINE);
}

int uipc__region_layout(const char *service, uint32_t slots, uint32_t slot_size,
                        struct uipc_region_hdr *h)
{
    size_t nlen = service ? strlen(service) : 0;
    if (nlen == 0 || nlen >= UIPC_SERVICE_MAX)
        return -EINVAL;
    if (slots == 0 || slots > UIPC_MAX_SLOTS)
        return -EINVAL;
    if (slot_size < UIPC_MIN_SLOT_SIZE || slot_size > UIPC_MAX_SLOT_SIZE)
        return -EINVAL;

    memset(h, 0, sizeof(*h));
    h->magic = UIPC_REGION_MAGIC;
    h->version = UIPC_REGION_VERSION;
    h->hdr_size = sizeof(*h);
    h->slot_count = slots;
    h->slot_size = slot_size;
    h->slot_stride = (uint32_t)align_up(UIPC_SLOT_HDR + (uint64_t)slot_size, 64);
    h->fifo_size = fifo_size_for(slots);

    uint64_t off = align_up(sizeof(*h), UIPC_LINE);
    for (int s = 0; s < 2; s++, off += sizeof(struct uipc_side))
        h->side_off[s] = off;
    for (int f = 0; f < 2; f++) {
        h->fifo_off[f] = off;
        off += fifo_bytes(h->fifo_size);
    }
    h->slots_off = off;
    h->size = align_up(off + (uint64_t)slots * h->slot_stride, 4096);
    if (h->size > UIPC_MAX_REGION)
        return -EINVAL;
    memcpy(h->service, service, nlen + 1);
    return 0;
}

int uipc__region_check(const struct uipc_region_hdr *h, uint64_t size)
{
    struct uipc_region_hdr want;

    if (h->magic != UIPC_REGION_MAGIC || h->version != UIPC_REGION_VERSION ||
        h->hdr_size != sizeof(*h))
        return -EPROTO;
    if (memchr(h->service, '\0', sizeof(h->service)) == NULL)
        return -EPROTO;
    /* Recompute the whole layout from the three inputs: any other value in
     * any field is a corrupted or hostile header. */
    if (uipc__region_layout(h->service, h->slot_count, h->slot_size, &want) < 0)
        return -EPROTO;
    if (memcmp(&want, h, sizeof(want)) != 0)
        return -EPROTO;
    if (h->size != size)
        return -EPROTO;
    return 0;
}

int uipc__region_create(const char *service, uint32_t slots, uint32_t slot_size, int *fd_out)
{
    struct uipc_region_hdr h;
    int err = uipc__region_layout(service, slots, slot_size, &h);
    if (err < 0)
        return err;

    char name[UIPC_SERVICE_MAX + 8];
    snprintf(name, sizeof(name), "uipc:%s", service);
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)h.size) < 0)
        goto fail;
    /* The header goes in with pwrite: the creator never needs a mapping. */
    if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
        goto fail;
    /* Sealed against resizing, so no peer can make the other fault (SIGBUS)
     * by shrinking it, and against removing the seals. */
    if (fcntl(fd, F_ADD_SEALS, REQUIRED_SEALS) < 0)
        goto fail;
    *fd_out = fd;
    return 0;
fail:
    err = errno ? -errno : -EIO;
    close(fd);
    return err;
}

static void region_derive(struct uipc_region *r, const struct uipc_region_hdr *h)
{
    r->slots = h->slot_count;
    r->slot_size = h->slot_size;
    r->stride = h->slot_stride;
    r->fifo_size = h->fifo_size;
    for (int i = 0; i < 2; i++) {
        r->side[i] = (struct uipc_side *)(r->base + h->side_off[i]);
        r->fifo[i] = (struct uipc_fifo_shared *)(r->base + h->fifo_off[i]);
    }
    r->slot_base = r->base + h->slots_off;
    memcpy(r->service, h->service, sizeof(r->service));
}

/* Seals first: the size read after them can no longer change. */
static int sealed_size(int fd, struct stat *st)
{
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0)
        return -errno;
    if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
        return -EPERM;
    if (fstat(fd, st) < 0)
        return -errno;
    return 0;
}

/* Geometry comes from the local copy h, never from the mapping. */
static int map_checked(int fd, const struct uipc_region_hdr *h, struct uipc_region *r)
{
    /* Pre-faulted, so first-touch page faults do not show up as latency. */
    void *p = mmap(NULL, h->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    memset(r, 0, sizeof(*r));
    r->base = p;
    r->size = h->size;
    r->fd = fd;
    region_derive(r, h);
    return 0;
}

int uipc__region_map(int fd, struct uipc_region *r)
{
    struct stat st;
    struct uipc_region_hdr h;
    int err = sealed_size(fd, &st);
    if (err < 0)
        return err;
    if (st.st_size < (off_t)sizeof(h) || (uint64_t)st.st_size > UIPC_MAX_REGION)
        return -EPROTO;
    if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
        return -EIO;
    if ((err = uipc__region_check(&h, (uint64_t)st.st_size)) < 0)
        return err;
    return map_checked(fd, &h, r);
}

int uipc__region_map_as(int fd, const char *service, uint32_t slots, uint32_t slot_size, struct uipc_region *r)
{
    struct stat st;
    struct uipc_region_hdr h;
    int err = sealed_size(fd, &st);
    if (err == 0)
        err = uipc__region_layout(service, slots, slot_size, &h);
    if (err < 0)
        return err;
    if ((uint64_t)st.st_size != h.size)
        return -EPROTO;
    return map_checked(fd, &h, r);
}

int uipc__region_restore_header(const struct uipc_region *r)
{
    struct uipc_region_hdr h;
    int err = uipc__region_layout(r->service, r->slots, r->slot_size, &h);
    if (err == 0)
        memcpy(r->base, &h, sizeof(h));
    return err;
}

void uipc__region_unmap(struct uipc_region *r)
{
    if (r->base)
        munmap(r->base, r->size);
    r->base = NULL;
}
