/* SPDX-License-Identifier: MIT */
/* What a module or the supervisor reads from shared memory a peer can write
 * (libmodule/region.c, fifo.h, chan.c, serve.c, reclaim.c), and the
 * manifest a module is handed (manifest.c), all in this one process.
 *
 * Input: the first byte chooses the sub-target (low 3 bits); the rest is
 * read as it needs it, missing bytes reading as zero.
 *   0 check     a valid header for a geometry from the input, XOR-ed with
 *               input bytes, through uipc__region_check; what it accepts
 *               must be a sane layout
 *   1 map       a region made by uipc__region_create (or a memfd of our
 *               own, with seals and size from the input), its header
 *               XOR-ed, mapped with uipc__region_map; what maps is touched
 *   2 rawmap    a sealed memfd whose bytes are the input, mapped
 *   3 fifo      a FIFO in the heap (exact bounds for ASan) with shared
 *               words from the input; pops, pushes, peer rewrites
 *   4 manifest  the input as UIPC_CHANNELS, into an array of exactly max
 *               entries
 *   5 client    a client end (chan.c) against a lying server: this process
 *               writes the completion FIFO and the slot headers, the
 *               client issues calls (async, and sync ones bounded to 1 ms),
 *               reaps, delivers, expires.  Every issued call completes
 *               exactly once, no callback runs for a call that was not
 *               issued, a reply fits its slot, no slot holds two calls
 *   6 server    a server end (serve.c) against a lying client: submissions
 *               and slot headers from the input; the handler never sees a
 *               request longer than the slot, or a slot it is still serving
 *   7 reclaim   the supervisor's reclaim of a dead server or client over a
 *               region whose shared part is the input
 * Sub-targets 5 and 6 read the rest as a list of operations (op byte, then
 * its arguments); see the op_* enums. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fifo.h"
#include "fuzz-common.h"
#include "internal.h"
#include "reclaim.h"
#include "region.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_TRACE=1 in the environment: what the sub-targets do, on stderr,
 * to follow a reproducer. */
static bool trace;
#define TRACE(...) do { if (trace) fprintf(stderr, __VA_ARGS__); } while (0)

/* ---- reading the input ---- */

struct rd {
    const uint8_t *p;
    size_t n;
};

static uint8_t u8(struct rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static uint16_t u16(struct rd *r)
{
    uint16_t v = u8(r);
    return (uint16_t)(v | u8(r) << 8);
}

static uint32_t u32(struct rd *r)
{
    uint32_t v = u16(r);
    return v | (uint32_t)u16(r) << 16;
}

static uint64_t u64(struct rd *r)
{
    uint64_t v = u32(r);
    return v | (uint64_t)u32(r) << 32;
}

static void bytes(struct rd *r, void *out, size_t len)
{
    size_t k = len < r->n ? len : r->n;
    memcpy(out, r->p, k);
    memset((char *)out + k, 0, len - k);
    r->p += k;
    r->n -= k;
}

/* A service name of 1..63 bytes, none of them NUL. */
static void service_name(struct rd *r, char *out)
{
    unsigned len = 1 + u8(r) % (UIPC_SERVICE_MAX - 1);
    for (unsigned i = 0; i < len; i++) {
        uint8_t c = u8(r);
        out[i] = c ? (char)c : 'a' + (char)(i % 26);
    }
    out[len] = '\0';
}

/* A valid header, for a geometry the input picks within bounds (small
 * ones when the region will be mapped: MAP_POPULATE touches it all). */
static void valid_header(struct rd *r, bool small, struct uipc_region_hdr *h)
{
    char svc[UIPC_SERVICE_MAX];
    service_name(r, svc);
    uint32_t slots = small ? 1 + u8(r) % 128 : 1 + u32(r) % UIPC_MAX_SLOTS;
    uint32_t size = small ? UIPC_MIN_SLOT_SIZE + u16(r) % 4096
                          : UIPC_MIN_SLOT_SIZE + u32(r) % (UIPC_MAX_SLOT_SIZE - UIPC_MIN_SLOT_SIZE + 1);
    if (uipc__region_layout(svc, slots, size, h) < 0 && uipc__region_layout(svc, 1, size, h) < 0)
        FUZZ_CHECK(uipc__region_layout(svc, 1, UIPC_MIN_SLOT_SIZE, h) == 0);
}

static void xor_bytes(struct rd *r, void *p, size_t len)
{
    uint8_t *b = p;
    for (size_t i = 0; i < len && r->n; i++)
        b[i] ^= u8(r);
}

/* What uipc__region_check accepts, checked from first principles. */
static void check_sane(const struct uipc_region_hdr *h, uint64_t size)
{
    FUZZ_CHECK(h->magic == UIPC_REGION_MAGIC && h->version == UIPC_REGION_VERSION);
    FUZZ_CHECK(h->size == size && size <= UIPC_MAX_REGION && size % 4096 == 0);
    FUZZ_CHECK(h->slot_count >= 1 && h->slot_count <= UIPC_MAX_SLOTS);
    FUZZ_CHECK(h->slot_size >= UIPC_MIN_SLOT_SIZE && h->slot_size <= UIPC_MAX_SLOT_SIZE);
    FUZZ_CHECK(h->slot_stride >= UIPC_SLOT_HDR + h->slot_size && h->slot_stride % 64 == 0);
    FUZZ_CHECK(h->fifo_size >= 2 * h->slot_count && (h->fifo_size & (h->fifo_size - 1)) == 0);
    FUZZ_CHECK(memchr(h->service, '\0', sizeof(h->service)) && h->service[0]);
    uint64_t end = sizeof(*h);
    for (int s = 0; s < 2; s++) {
        FUZZ_CHECK(h->side_off[s] >= end && h->side_off[s] % UIPC_LINE == 0);
        end = h->side_off[s] + sizeof(struct uipc_side);
    }
    for (int f = 0; f < 2; f++) {
        FUZZ_CHECK(h->fifo_off[f] >= end && h->fifo_off[f] % UIPC_LINE == 0);
        end = h->fifo_off[f] + sizeof(struct uipc_fifo_shared) +
              (uint64_t)h->fifo_size * sizeof(struct uipc_fifo_entry);
    }
    FUZZ_CHECK(h->slots_off >= end && h->slots_off % 64 == 0);
    FUZZ_CHECK(h->slots_off + (uint64_t)h->slot_count * h->slot_stride <= size);
}

/* ---- 0: header check ---- */

static void fuzz_check(struct rd *r)
{
    struct uipc_region_hdr h;
    valid_header(r, false, &h);
    uint64_t size = h.size ^ (u8(r) & 1 ? u64(r) : 0);
    xor_bytes(r, &h, sizeof(h));
    int err = uipc__region_check(&h, size);
    TRACE("check: %d\n", err);
    if (err == 0)
        check_sane(&h, size);
}

/* ---- 1, 2: mapping ---- */

/* Touches every part of a mapped region: a geometry that lies about the
 * size faults here. */
static void touch(const struct uipc_region *reg)
{
    FUZZ_CHECK(reg->slots >= 1 && reg->fifo_size >= 2 * reg->slots);
    volatile unsigned char *end = reg->base + reg->size;
    for (int i = 0; i < 2; i++) {
        FUZZ_CHECK((unsigned char *)(reg->side[i] + 1) <= end);
        atomic_fetch_add(&reg->side[i]->epoch, 0);
        atomic_fetch_add(&reg->side[i]->lat[UIPC_LAT_BUCKETS - 1], 0);
        FUZZ_CHECK((unsigned char *)&reg->fifo[i]->ent[reg->fifo_size] <= end);
        atomic_fetch_add(&reg->fifo[i]->ent[reg->fifo_size - 1].seq, 0);
    }
    unsigned char *last = uipc_slot_data(reg, reg->slots - 1) + reg->slot_size - 1;
    FUZZ_CHECK(last < end);
    *(volatile unsigned char *)last ^= 0;
}

static int memfd(void)
{
    int fd = memfd_create("fuzz-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        fuzz_die("memfd_create: %s", strerror(errno));
    return fd;
}

static void map_and_touch(int fd)
{
    struct uipc_region reg;
    int err = uipc__region_map(fd, &reg);
    TRACE("map: %d\n", err);
    if (err == 0) {
        struct stat st;
        FUZZ_CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_size == reg.size);
        touch(&reg);
        uipc__region_unmap(&reg);
    }
}

static void fuzz_map(struct rd *r)
{
    struct uipc_region_hdr h;
    valid_header(r, true, &h);
    uint8_t how = u8(r);
    int fd;
    if (!(how & 1)) {
        FUZZ_CHECK(uipc__region_create(h.service, h.slot_count, h.slot_size, &fd) == 0);
    } else {
        /* our own memfd: any seals, a size near the right one */
        fd = memfd();
        uint64_t size = h.size ^ (u16(r) & 0x3fff);
        FUZZ_CHECK(ftruncate(fd, (off_t)size) == 0);
        FUZZ_CHECK(pwrite(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h));
        int seals = (how & 2 ? F_SEAL_SHRINK : 0) | (how & 4 ? F_SEAL_GROW : 0) |
                    (how & 8 ? F_SEAL_SEAL : 0);
        if (seals)
            FUZZ_CHECK(fcntl(fd, F_ADD_SEALS, seals) == 0);
    }
    xor_bytes(r, &h, sizeof(h));
    if (how & 16) /* the header written again: the rest of the file stays */
        FUZZ_CHECK(pwrite(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h));
    map_and_touch(fd);
    close(fd);
}

static void fuzz_rawmap(struct rd *r)
{
    int fd = memfd();
    size_t len = r->n;
    if (len && write(fd, r->p, len) != (ssize_t)len)
        fuzz_die("write: %s", strerror(errno));
    /* Grown to the size the header claims, when it is small enough: only
     * then can the region map. */
    struct uipc_region_hdr h;
    bytes(r, &h, sizeof(h));
    if (h.size > len && h.size <= (4u << 20))
        FUZZ_CHECK(ftruncate(fd, (off_t)h.size) == 0);
    FUZZ_CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0);
    map_and_touch(fd);
    close(fd);
}

/* ---- 3: a FIFO ---- */

static void fuzz_fifo(struct rd *r)
{
    uint32_t size = 2u << (u8(r) % 6);
    size_t bytes_needed = sizeof(struct uipc_fifo_shared) + size * sizeof(struct uipc_fifo_entry);
    struct uipc_fifo_shared *sh;
    FUZZ_CHECK(posix_memalign((void **)&sh, UIPC_LINE, bytes_needed) == 0);
    memset(sh, 0, bytes_needed);
    atomic_store(&sh->tail, u32(r));
    atomic_store(&sh->head, u32(r));
    struct uipc_fifo c, p;
    uipc__fifo_attach_consumer(&c, sh, size);
    uipc__fifo_attach_producer(&p, sh, size);
    FUZZ_CHECK(p.pos - atomic_load(&sh->head) <= size); /* from the consumer's head, bounded */
    for (int ops = 0; r->n && ops < 256; ops++) {
        uint8_t op = u8(r);
        switch (op % 6) {
        case 0: { /* the peer writes an entry, any stamp */
            struct uipc_fifo_entry *e = &sh->ent[u8(r) % size];
            uint32_t seq = op & 8 ? c.pos + 1 + (uint32_t)(int8_t)u8(r) : u32(r);
            e->slot = u32(r);
            e->gen = u32(r);
            e->tag = u32(r);
            atomic_store(&e->seq, seq);
            break;
        }
        case 1: { /* we consume */
            uint32_t pos = c.pos, seq = atomic_load(&sh->ent[pos & c.mask].seq);
            uint32_t slot, gen, tag;
            int got = uipc__fifo_pop(&c, &slot, &gen, &tag);
            if (got == 1) {
                FUZZ_CHECK(seq == pos + 1 && c.pos == pos + 1);
                const struct uipc_fifo_entry *e = &sh->ent[pos & c.mask];
                FUZZ_CHECK(slot == e->slot && gen == e->gen && tag == e->tag);
            } else {
                FUZZ_CHECK(c.pos == pos);
                FUZZ_CHECK(got == 0 ? seq == 0 || seq == pos + 1 - size : got == -UIPC_EPROTO);
            }
            break;
        }
        case 2: uipc__fifo_publish_head(&c); break;
        case 3: { /* we produce */
            uint32_t pos = p.pos, slot = u32(r), gen = u32(r), tag = u32(r);
            int got = uipc__fifo_push(&p, slot, gen, tag);
            FUZZ_CHECK(got == 0 ? p.pos == pos + 1 : got == -UIPC_EPROTO && p.pos == pos);
            break;
        }
        case 4: uipc__fifo_publish_tail(&p); break;
        case 5: /* the peer moves its words */
            atomic_store(op & 8 ? &sh->head : &sh->tail, u32(r));
            break;
        }
    }
    free(sh);
}

/* ---- 4: the manifest ---- */

static void fuzz_manifest(struct rd *r)
{
    unsigned max = 1 + u8(r) % UIPC_MAX_CHANNELS;
    char *s = malloc(r->n + 1);
    FUZZ_CHECK(s);
    memcpy(s, r->p, r->n);
    s[r->n] = '\0';
    struct uipc_manifest_ent *e = malloc(max * sizeof(*e)); /* exactly max: ASan bounds */
    FUZZ_CHECK(e);
    unsigned n = 12345;
    int err = uipc__manifest_parse(s, e, max, &n);
    TRACE("manifest: %d, %u entries\n", err, err == 0 ? n : 0);
    if (err == 0) {
        FUZZ_CHECK(n <= max);
        for (unsigned i = 0; i < n; i++) {
            FUZZ_CHECK(e[i].role == UIPC_SERVER || e[i].role == UIPC_CLIENT);
            size_t len = strnlen(e[i].service, sizeof(e[i].service));
            FUZZ_CHECK(len > 0 && len < sizeof(e[i].service));
            FUZZ_CHECK(!strchr(e[i].service, ',') && e[i].region_fd >= 0 && e[i].peer_bell >= 0);
            for (unsigned j = 0; j < i; j++)
                FUZZ_CHECK(e[i].role == UIPC_SERVER || e[j].role == UIPC_SERVER ||
                           strcmp(e[i].service, e[j].service) != 0);
        }
    } else {
        FUZZ_CHECK(err == -EINVAL || err == -E2BIG);
    }
    int fd;
    if (uipc__parse_fd(s, &fd) == 0)
        FUZZ_CHECK(fd >= 0 && s[0] >= '0' && s[0] <= '9');
    free(e);
    free(s);
}

/* ---- a channel between this process and one end under test ---- */

struct bench {
    int fd;
    struct uipc_region view; /* the lying peer's own mapping */
    struct uipc_fifo sub, cmp; /* the lying peer's FIFO ends */
    uipc_module m;
    /* The supervisor's words about the channel, in each end's control
     * region (out of the liar's reach), and the client's control side. */
    struct uipc_ctl_chan srv_words, cli_words;
    uint32_t epoch;
};
static struct uipc_side cli_ctl;

/* sv.c: a server incarnation starts with the next epoch. */
static void server_started(struct bench *b)
{
    uipc__words_started(&b->srv_words, &b->cli_words, ++b->epoch, true);
}

static void bench_open(struct bench *b, struct rd *r)
{
    uint32_t slots = 1 + u8(r) % 8, size = UIPC_MIN_SLOT_SIZE << (u8(r) % 4);
    memset(b, 0, sizeof(*b));
    FUZZ_CHECK(uipc__region_create("fuzz", slots, size, &b->fd) == 0);
    FUZZ_CHECK(uipc__region_map(b->fd, &b->view) == 0);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&b->m.lock, &attr);
    pthread_mutexattr_destroy(&attr);
    snprintf(b->m.name, sizeof(b->m.name), "fuzz");
    b->m.bell = -1;
    b->m.self = -1;
}

static void bench_close(struct bench *b)
{
    uipc__region_unmap(&b->view);
    close(b->fd);
    pthread_mutex_destroy(&b->m.lock);
}

static bool in_slot_data(const struct uipc_region *reg, const void *p, uint32_t *slot)
{
    const unsigned char *c = p;
    if (c < reg->slot_base + UIPC_SLOT_HDR)
        return false;
    size_t off = (size_t)(c - reg->slot_base - UIPC_SLOT_HDR);
    if (off % reg->stride || off / reg->stride >= reg->slots)
        return false;
    *slot = (uint32_t)(off / reg->stride);
    return true;
}

/* Scribbles on one field of a slot header (the peer's view). */
static void scribble_slot(struct rd *r, const struct uipc_region *view)
{
    struct uipc_slot_hdr *h = uipc_slot(view, u8(r) % view->slots);
    uint8_t f = u8(r);
    switch (f % 5) {
    case 0: {
        uint32_t gen = u32(r);
        atomic_store(&h->own, uipc_slot_word(gen, (enum uipc_slot_state)(u8(r) % 8)));
        break;
    }
    case 1: h->status = (int32_t)u32(r); break;
    case 2: h->rep_len = f & 8 ? u32(r) : u16(r) % (view->slot_size + 2); break;
    case 3: h->req_len = f & 8 ? u32(r) : u16(r) % (view->slot_size + 2); break;
    case 4: h->opcode = u32(r); break;
    }
}

/* Writes any entry into one of the FIFOs (the peer's view). */
static void raw_entry(struct rd *r, const struct uipc_region *view, const struct uipc_fifo *rel)
{
    uint8_t how = u8(r);
    struct uipc_fifo_shared *sh = view->fifo[how & 1];
    struct uipc_fifo_entry *e = &sh->ent[u8(r) % view->fifo_size];
    uint32_t seq = how & 2 ? rel->pos + 1 + (uint32_t)(int8_t)u8(r) : u32(r);
    e->slot = how & 4 ? u8(r) % (view->slots + 2) : u32(r);
    e->gen = u32(r);
    e->tag = u32(r);
    atomic_store(&e->seq, seq);
}

/* ---- 5: a client end against a lying server ---- */

#define MAX_CALLS 64

struct fcall {
    bool issued;
    int ret;               /* uipc_call's */
    uint32_t slot, gen;    /* the slot fill ran in; its generation once issued */
    bool filled;
    uint32_t timeout_ms;
    size_t len;            /* what fill writes */
    int fill_ret;
    bool chain;            /* complete issues another call */
    bool sync;             /* no complete: uipc_call waits (1 ms at most) */
    unsigned replies, completions;
};

static struct {
    struct bench b;
    struct uipc_chan ch;
    bool up;
    struct fcall calls[MAX_CALLS];
    unsigned ncalls;
    struct { uint32_t slot, gen; } taken[16];
    unsigned ntaken;
    struct rd *r;
} cl;

static void client_issue(struct rd *r);

static int cl_fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct fcall *c = arg;
    uint32_t slot;
    FUZZ_CHECK(!c->filled && cap == cl.ch.r.slot_size && in_slot_data(&cl.ch.r, buf, &slot));
    /* no slot carries two calls: every earlier call in this slot is over */
    for (unsigned i = 0; i < cl.ncalls; i++) {
        const struct fcall *o = &cl.calls[i];
        FUZZ_CHECK(o == c || !o->filled || o->slot != slot || o->ret != 0 || o->completions > 0);
    }
    c->filled = true;
    c->slot = slot;
    memset(buf, 0xa5, c->len < cap ? c->len : cap);
    *len = c->len;
    return c->fill_ret;
}

static void cl_reply(int status, const void *data, size_t len, void *arg)
{
    struct fcall *c = arg;
    uint32_t slot;
    FUZZ_CHECK(c->issued && c->ret == 0 && c->replies == 0 && c->completions == 0);
    FUZZ_CHECK(!uipc_is_transport_error(status));
    if (c->sync)
        c->ret = status; /* what uipc_call will return */
    FUZZ_CHECK(in_slot_data(&cl.ch.r, data, &slot) && slot == c->slot && len <= cl.ch.r.slot_size);
    volatile const unsigned char *d = data;
    for (size_t i = 0; i < len; i++)
        (void)d[i];
    c->replies++;
    TRACE("  call %u: reply %d, %zu bytes\n", (unsigned)(c - cl.calls), status, len);
}

static void cl_complete(int status, void *arg)
{
    struct fcall *c = arg;
    (void)status;
    FUZZ_CHECK(c->issued && !c->sync && c->ret == 0 && c->completions == 0);
    c->completions++;
    TRACE("  call %u: complete %d\n", (unsigned)(c - cl.calls), status);
    if (c->chain)
        client_issue(cl.r);
}

static void client_issue(struct rd *r)
{
    if (cl.ncalls == MAX_CALLS)
        return;
    struct fcall *c = &cl.calls[cl.ncalls++];
    /* read in this order: how, [timeout], len, [fill's error], opcode */
    uint8_t how = u8(r);
    memset(c, 0, sizeof(*c));
    c->timeout_ms = how & 1 ? 1u + u8(r) : 0;
    c->len = how & 2 ? u16(r) : u8(r) % 32u;
    c->fill_ret = how & 4 ? -(int)u8(r) : 0;
    c->chain = (how & 24) == 24;
    uint32_t opcode = u8(r);
    struct uipc_call call = { .fill = cl_fill, .reply = how & 32 ? NULL : cl_reply,
                              .complete = cl_complete, .opcode = opcode,
                              .timeout_ms = c->timeout_ms, .arg = c };
    c->issued = true;
    c->ret = uipc_call(&cl.ch, &call);
    TRACE("  call %u: how 0x%02x, len %zu, timeout %u: %d (slot %u)\n", (unsigned)(c - cl.calls), how,
          c->len, c->timeout_ms, c->ret, c->slot);
    FUZZ_CHECK(c->ret <= 0);
    if (c->ret == 0) {
        FUZZ_CHECK(c->filled);
        c->gen = cl.ch.recs[c->slot].gen;
    } else {
        FUZZ_CHECK(c->replies == 0 && c->completions == 0);
    }
}

/* A synchronous call: the answer must already be on its way (an ANSWER
 * for the slot and generation it will take), else it times out after
 * 1 ms.  What it returns is its one completion. */
static void client_sync(struct rd *r)
{
    if (cl.ncalls == MAX_CALLS)
        return;
    struct fcall *c = &cl.calls[cl.ncalls++];
    uint8_t how = u8(r);
    memset(c, 0, sizeof(*c));
    c->sync = true;
    c->timeout_ms = 1;
    c->len = u8(r) % 32u;
    c->fill_ret = how & 4 ? -(int)u8(r) : 0;
    struct uipc_call call = { .fill = cl_fill, .reply = how & 32 ? NULL : cl_reply,
                              .opcode = how, .timeout_ms = c->timeout_ms, .arg = c };
    c->issued = true;
    c->ret = uipc_call(&cl.ch, &call);
    TRACE("  sync call %u: %d (slot %u)\n", (unsigned)(c - cl.calls), c->ret, c->slot);
    FUZZ_CHECK(c->replies <= 1 && (c->replies == 0 || !uipc_is_transport_error(c->ret)));
    if (c->filled)
        c->completions = 1; /* over: its slot may be taken again */
}

static void client_up(void)
{
    if (cl.up)
        return;
    int err = uipc__chan_init(&cl.ch, &cl.b.m, cl.b.fd, -1);
    FUZZ_CHECK(err == 0);
    uipc__chan_bind(&cl.ch, &cl.b.cli_words.epoch, &cl.b.cli_words.alive, &cl.b.cli_words.reset);
    cl.b.m.chans = &cl.ch;
    cl.b.m.nchans = 1;
    cl.up = true;
}

enum op_client {
    OC_UP, OC_CALL, OC_TAKE, OC_ANSWER, OC_RAW, OC_WORDS, OC_SLOT, OC_REAP, OC_DELIVER,
    OC_EXPIRE, OC_RECLAIM, OC_EPOCH, OC_REATTACH, OC_SYNC, OC_COUNT
};

static void fuzz_client(struct rd *r)
{
    memset(&cl, 0, sizeof(cl));
    cl.r = r;
    bench_open(&cl.b, r);
    struct uipc_region *v = &cl.b.view;
    if (u8(r) % 4)
        server_started(&cl.b);
    uipc__fifo_attach_consumer(&cl.b.sub, v->fifo[UIPC_SUBMIT], v->fifo_size);
    uipc__fifo_attach_producer(&cl.b.cmp, v->fifo[UIPC_COMPLETE], v->fifo_size);
    for (int ops = 0; r->n && ops < 512; ops++) {
        uint8_t op = u8(r);
        static const char *const names[OC_COUNT] = {
            "up", "call", "take", "answer", "raw", "words", "slot", "reap", "deliver",
            "expire", "reclaim", "epoch", "reattach", "sync",
        };
        TRACE("client op %s\n", names[op % OC_COUNT]);
        switch (op % OC_COUNT) {
        case OC_UP: client_up(); break;
        case OC_CALL:
            if (cl.up)
                client_issue(r);
            break;
        case OC_TAKE: { /* the server takes a submission, as it should */
            uint32_t slot, gen, tag;
            if (uipc__fifo_pop(&cl.b.sub, &slot, &gen, &tag) == 1) {
                uipc__fifo_publish_head(&cl.b.sub);
                if (slot < v->slots) {
                    atomic_store(&uipc_slot(v, slot)->own, uipc_slot_word(gen, UIPC_SLOT_SERVING));
                    cl.taken[cl.ntaken % 16].slot = slot;
                    cl.taken[cl.ntaken % 16].gen = gen;
                    cl.ntaken++;
                }
            }
            break;
        }
        case OC_ANSWER: { /* an answer: for a taken call, or made up */
            uint8_t how = u8(r);
            uint32_t slot, gen;
            if (how & 1 && cl.ntaken) {
                unsigned k = u8(r) % (cl.ntaken < 16 ? cl.ntaken : 16);
                slot = cl.taken[k].slot;
                gen = cl.taken[k].gen + (how & 2 ? u8(r) : 0);
            } else {
                slot = u8(r);
                gen = u32(r);
            }
            if (slot < v->slots) {
                struct uipc_slot_hdr *h = uipc_slot(v, slot);
                h->status = how & 4 ? (int32_t)u32(r) : (int32_t)u8(r);
                h->rep_len = how & 8 ? u32(r) : u16(r) % (v->slot_size + 1);
                if (!(how & 16))
                    atomic_store(&h->own, uipc_slot_word(gen, UIPC_SLOT_DONE));
            }
            uipc__fifo_push(&cl.b.cmp, slot, gen, how & 32 ? u32(r) : 0);
            if (how & 64)
                uipc__fifo_publish_tail(&cl.b.cmp);
            if (how & 128)
                uipc__notify(v->side[UIPC_CLIENT], -1);
            break;
        }
        case OC_RAW: raw_entry(r, v, cl.up ? &cl.ch.cmp : &cl.b.cmp); break;
        case OC_WORDS: { /* the server's FIFO words, any value */
            uint8_t how = u8(r);
            struct uipc_fifo_shared *sh = v->fifo[how & 1];
            atomic_store(how & 2 ? &sh->head : &sh->tail, u32(r));
            break;
        }
        case OC_SLOT: scribble_slot(r, v); break;
        case OC_REAP:
            if (cl.up) {
                int n = uipc__chan_reap(&cl.ch);
                FUZZ_CHECK(n >= 0);
                TRACE("  reaped %d%s\n", n, cl.ch.broken ? ", broken" : "");
            }
            break;
        case OC_DELIVER:
            if (cl.up)
                uipc__chan_deliver(&cl.ch);
            break;
        case OC_EXPIRE:
            if (cl.up)
                uipc__chan_expire(&cl.ch, uipc__now_ns() + (uint64_t)u16(r) * 1000000u);
            break;
        case OC_RECLAIM: /* the server died: the supervisor answers for it */
            FUZZ_CHECK(uipc__reclaim_server(v, &cl.b.cli_words, &cli_ctl, -1) >= 0);
            break;
        case OC_EPOCH: /* a new server incarnation (the liar's writes go on) */
            server_started(&cl.b);
            uipc__region_set_epoch(v, UIPC_SERVER, u32(r)); /* informative: the liar's */
            break;
        case OC_SYNC:
            if (cl.up)
                client_sync(r);
            break;
        case OC_REATTACH: /* a new server incarnation */
            uipc__fifo_attach_consumer(&cl.b.sub, v->fifo[UIPC_SUBMIT], v->fifo_size);
            uipc__fifo_attach_producer(&cl.b.cmp, v->fifo[UIPC_COMPLETE], v->fifo_size);
            break;
        }
    }
    if (cl.up) {
        /* The end: everything reaped, every deadline passed. */
        uipc__chan_reap(&cl.ch);
        uipc__chan_deliver(&cl.ch);
        uipc__chan_expire(&cl.ch, UINT64_MAX);
        uipc__chan_deliver(&cl.ch);
        for (unsigned i = 0; i < cl.ncalls; i++) {
            const struct fcall *c = &cl.calls[i];
            if (c->sync)
                continue; /* checked when it returned */
            if (c->ret != 0) {
                FUZZ_CHECK(c->replies == 0 && c->completions == 0);
                continue;
            }
            FUZZ_CHECK(c->completions <= 1 && c->replies <= c->completions);
            if (c->completions == 0) { /* still waiting: only without a timeout, and for real */
                FUZZ_CHECK(c->timeout_ms == 0 && !cl.ch.broken);
                FUZZ_CHECK(cl.ch.recs[c->slot].state == CALL_INFLIGHT && cl.ch.recs[c->slot].gen == c->gen);
                /* ...and sent to the incarnation alive now: one that died
                 * answered every call sent to it */
                FUZZ_CHECK(cl.ch.recs[c->slot].epoch == atomic_load(&cl.b.cli_words.alive));
            }
        }
        FUZZ_CHECK(cl.ch.nfree <= cl.ch.r.slots);
        uipc__chan_fini(&cl.ch);
    }
    bench_close(&cl.b);
}

/* ---- 6: a server end against a lying client ---- */

static struct {
    struct bench b;
    struct uipc_srv s;
    bool up;
    bool busy[8];          /* deferred, not yet completed */
    uipc_req *deferred[8];
    struct rd *r;
} sv;

static int sv_handler(uipc_req *req, void *ctx)
{
    (void)ctx;
    struct rd *r = sv.r;
    size_t len, cap;
    const void *data = uipc_req_data(req, &len);
    uint32_t slot, slot2;
    FUZZ_CHECK(in_slot_data(&sv.s.r, data, &slot) && len <= sv.s.r.slot_size);
    FUZZ_CHECK(!sv.busy[slot]); /* not while it is still being served */
    TRACE("  handler: slot %u, %zu bytes\n", slot, len);
    volatile const unsigned char *d = data;
    for (size_t i = 0; i < len; i++)
        (void)d[i];
    unsigned char *out = uipc_req_reply_buf(req, &cap);
    FUZZ_CHECK(out && in_slot_data(&sv.s.r, out, &slot2) && slot2 == slot && cap == sv.s.r.slot_size);
    uint8_t how = u8(r);
    size_t rep = how & 1 ? u32(r) : u16(r) % (cap + 1);
    memset(out, 0x5a, rep < cap ? rep : cap);
    int err = uipc_req_reply(req, rep);
    FUZZ_CHECK(rep <= cap ? err == 0 : err == -UIPC_ETOOBIG);
    if (how & 2) {
        FUZZ_CHECK(uipc_req_defer(req) == 0);
        sv.busy[slot] = true;
        sv.deferred[slot] = req;
    }
    return how & 4 ? (int)u32(r) : (int)u8(r);
}

enum op_server {
    OS_UP, OS_SUBMIT, OS_RAW, OS_WORDS, OS_SLOT, OS_PROCESS, OS_COMPLETE, OS_CONSUME, OS_RECLAIM,
    OS_COUNT
};

static void fuzz_server(struct rd *r)
{
    memset(&sv, 0, sizeof(sv));
    sv.r = r;
    bench_open(&sv.b, r);
    struct uipc_region *v = &sv.b.view;
    uint32_t epoch = u8(r) % 8 ? 77 : 0;
    uipc__region_set_epoch(v, UIPC_SERVER, epoch);
    uipc__fifo_attach_producer(&sv.b.sub, v->fifo[UIPC_SUBMIT], v->fifo_size);
    uipc__fifo_attach_consumer(&sv.b.cmp, v->fifo[UIPC_COMPLETE], v->fifo_size);
    for (int ops = 0; r->n && ops < 512; ops++) {
        uint8_t op = u8(r);
        static const char *const names[OS_COUNT] = {
            "up", "submit", "raw", "words", "slot", "process", "complete", "consume", "reclaim",
        };
        TRACE("server op %s\n", names[op % OS_COUNT]);
        switch (op % OS_COUNT) {
        case OS_UP:
            if (!sv.up) {
                int err = uipc__srv_init(&sv.s, &sv.b.m, sv.b.fd, -1, NULL);
                FUZZ_CHECK(err == 0 || (err == -ESTALE && atomic_load(&v->side[UIPC_SERVER]->epoch) == 0));
                if (err == 0) {
                    sv.s.fn = sv_handler;
                    sv.b.m.srvs = &sv.s;
                    sv.b.m.nsrvs = 1;
                    sv.up = true;
                }
            }
            break;
        case OS_SUBMIT: { /* a submission, as a client makes it, or not quite */
            uint8_t how = u8(r);
            uint32_t slot = u8(r) % (v->slots + (how & 1)), gen = u8(r);
            if (slot < v->slots) {
                struct uipc_slot_hdr *h = uipc_slot(v, slot);
                h->opcode = u8(r);
                h->req_len = how & 2 ? u32(r) : u16(r) % (v->slot_size + 1);
                atomic_store(&h->own, uipc_slot_word(gen, how & 4 ? (enum uipc_slot_state)(u8(r) % 8)
                                                                  : UIPC_SLOT_SUBMITTED));
            }
            uipc__fifo_push(&sv.b.sub, slot, gen, how & 8 ? u32(r) : epoch);
            uipc__fifo_publish_tail(&sv.b.sub);
            break;
        }
        case OS_RAW: raw_entry(r, v, sv.up ? &sv.s.sub : &sv.b.sub); break;
        case OS_WORDS: {
            uint8_t how = u8(r);
            struct uipc_fifo_shared *sh = v->fifo[how & 1];
            atomic_store(how & 2 ? &sh->head : &sh->tail, u32(r));
            break;
        }
        case OS_SLOT: scribble_slot(r, v); break;
        case OS_PROCESS:
            if (sv.up) {
                int n = uipc__srv_process(&sv.s);
                FUZZ_CHECK(n >= 0);
                TRACE("  served %d%s\n", n, sv.s.broken ? ", broken" : "");
            }
            break;
        case OS_COMPLETE: { /* a deferred request answered from the loop */
            unsigned slot = u8(r) % v->slots;
            if (sv.up && sv.busy[slot]) {
                FUZZ_CHECK(uipc_req_complete(sv.deferred[slot], (int)u32(r)) == 0);
                FUZZ_CHECK(uipc_req_complete(sv.deferred[slot], 0) == -EINVAL); /* once */
                sv.busy[slot] = false;
            }
            break;
        }
        case OS_CONSUME: { /* the client reads completions, as it should */
            uint32_t slot, gen, tag;
            for (int i = 0; i < 4 && uipc__fifo_pop(&sv.b.cmp, &slot, &gen, &tag) == 1; i++)
                ;
            uipc__fifo_publish_head(&sv.b.cmp);
            break;
        }
        case OS_RECLAIM: /* the client died: the supervisor cleans up after it */
            uipc__reclaim_client(v);
            break;
        }
    }
    if (sv.up) {
        for (unsigned i = 0; i < v->slots; i++)
            if (sv.busy[i])
                FUZZ_CHECK(uipc_req_complete(sv.deferred[i], 0) == 0);
        uipc__srv_fini(&sv.s);
    }
    bench_close(&sv.b);
}

/* ---- 7: the supervisor's reclaim ---- */

/* Both FIFOs (words and entries), then the slot words, then the sides'
 * first words, from the input; what it does not cover stays zero. */
static void fuzz_reclaim(struct rd *r)
{
    struct bench b;
    uint8_t how = u8(r);
    bench_open(&b, r);
    struct uipc_region *v = &b.view;
    for (int f = 0; f < 2; f++) {
        struct uipc_fifo_shared *sh = v->fifo[f];
        atomic_store(&sh->tail, u32(r));
        atomic_store(&sh->head, u32(r));
        for (uint32_t i = 0; i < v->fifo_size; i++) {
            struct uipc_fifo_entry *e = &sh->ent[i];
            uint32_t seq = u32(r);
            e->slot = how & 2 ? u8(r) % (v->slots + 1) : u32(r);
            e->gen = u32(r);
            e->tag = u32(r);
            atomic_store(&e->seq, seq);
        }
    }
    for (uint32_t i = 0; i < v->slots; i++) {
        uint64_t w = u64(r);
        if (how & 4) /* a small generation and any state */
            w = uipc_slot_word((uint32_t)(w & 0xff), (enum uipc_slot_state)((w >> 8) % 8));
        atomic_store(&uipc_slot(v, i)->own, w);
    }
    for (int s = 0; s < 2; s++) {
        atomic_store(&v->side[s]->epoch, u32(r));
        atomic_store(&v->side[s]->armed, u32(r));
        atomic_store(&v->side[s]->bell, u32(r));
    }
    if (how & 1) {
        int n = uipc__reclaim_server(v, &b.cli_words, &cli_ctl, -1);
        FUZZ_CHECK(n >= 0 && (uint32_t)n <= v->slots);
        FUZZ_CHECK(atomic_load(&v->side[UIPC_SERVER]->epoch) == 0);
        FUZZ_CHECK(atomic_load(&b.cli_words.epoch) == 0);
        for (uint32_t i = 0; i < v->slots; i++) { /* what it held, freed */
            uint32_t st = uipc_slot_word_state(atomic_load(&uipc_slot(v, i)->own));
            FUZZ_CHECK(st != UIPC_SLOT_SUBMITTED && st != UIPC_SLOT_SERVING);
        }
    } else {
        uipc__reclaim_client(v);
        FUZZ_CHECK(atomic_load(&v->side[UIPC_CLIENT]->epoch) == 0);
    }
    bench_close(&b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *t = getenv("FUZZ_TRACE");
    trace = t && *t && strcmp(t, "0") != 0;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct rd r = { data + 1, size - 1 };
    switch (data[0] & 7) {
    case 0: fuzz_check(&r); break;
    case 1: fuzz_map(&r); break;
    case 2: fuzz_rawmap(&r); break;
    case 3: fuzz_fifo(&r); break;
    case 4: fuzz_manifest(&r); break;
    case 5: fuzz_client(&r); break;
    case 6: fuzz_server(&r); break;
    case 7: fuzz_reclaim(&r); break;
    }
    return 0;
}
