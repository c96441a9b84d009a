/* SPDX-License-Identifier: MIT */
/* raw-ring and line-floor: the floor.  Two single-producer/single-consumer
 * rings of stamped entries in one shared mapping, both sides spinning: what
 * any shared-memory request/reply costs before a library adds anything.
 * raw-ring's entries are 128 bytes (the stamp and 64 bytes of data span two
 * lines); line-floor's are one 64-byte line (the stamp and 56 bytes): one
 * line each way, the least any round trip can move. */
#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"

/* The pipelined run never has more than BENCH_DEPTH_MAX calls in flight, so
 * neither ring can fill up while its producer waits on the other. */
#define RING_SLOTS BENCH_DEPTH_MAX
/* line-floor's entry: the stamp and 56 payload bytes in one 64-byte line,
 * so a call moves exactly one line each way: the physical floor. */
#define LINE_BYTES   64u
#define STAMP_BYTES  8u
#define LINE_PAYLOAD (LINE_BYTES - STAMP_BYTES)

static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
              "stamps are shared between processes: they must be lock-free");

/* An entry is `stride` bytes: its stamp (position + 1 once the data is
 * written), then the data. */
struct ring {
    alignas(BENCH_LINE) unsigned long long head;  /* producer only */
    unsigned long long tail_seen;                 /* producer's last look at tail */
    alignas(BENCH_LINE) atomic_ullong tail;       /* consumer: entries released */
    alignas(BENCH_LINE) unsigned char ent[];      /* RING_SLOTS entries */
};

struct ring_ctx {
    struct ring *req;  /* client -> server */
    struct ring *rep;  /* server -> client */
    size_t n, stride;
};

static atomic_ullong *ring_stamp(const struct ring_ctx *c, struct ring *q, unsigned long long pos)
{
    return (atomic_ullong *)(void *)(q->ent + (pos % RING_SLOTS) * c->stride);
}

static unsigned char *ring_data(const struct ring_ctx *c, struct ring *q, unsigned long long pos)
{
    return (unsigned char *)ring_stamp(c, q, pos) + STAMP_BYTES;
}

/* Producer: the entry to fill next.  tail is read only when the cached copy
 * says the ring is full, so the consumer's line stays in its own cache. */
static unsigned char *ring_reserve(const struct ring_ctx *c, struct ring *q)
{
    while (q->head - q->tail_seen >= RING_SLOTS) {
        q->tail_seen = atomic_load_explicit(&q->tail, memory_order_acquire);
        bench_relax();
    }
    return ring_data(c, q, q->head);
}

static void ring_publish(const struct ring_ctx *c, struct ring *q)
{
    atomic_ullong *stamp = ring_stamp(c, q, q->head);

    q->head++;
    atomic_store_explicit(stamp, q->head, memory_order_release);
}

/* Consumer: polls the entry's own stamp rather than the producer's head, so
 * the line that carries the data is the only one that has to move. */
static const unsigned char *ring_peek(const struct ring_ctx *c, struct ring *q)
{
    unsigned long long pos = atomic_load_explicit(&q->tail, memory_order_relaxed);

    while (atomic_load_explicit(ring_stamp(c, q, pos), memory_order_acquire) != pos + 1)
        bench_relax();
    return ring_data(c, q, pos);
}

static void ring_release(struct ring *q)
{
    unsigned long long pos = atomic_load_explicit(&q->tail, memory_order_relaxed);

    atomic_store_explicit(&q->tail, pos + 1, memory_order_release);
}

static int rr_server(void *ctx, const struct bench_opts *o, struct bench_shared *sh)
{
    struct ring_ctx *c = ctx;
    uint64_t total = bench_total_calls(o);

    (void)sh;
    for (uint64_t i = 0; i < total; i++) {
        const unsigned char *in = ring_peek(c, c->req);
        memcpy(ring_reserve(c, c->rep), in, c->n);
        ring_publish(c, c->rep);
        ring_release(c->req);
    }
    return 0;
}

static int rr_loan(void *ctx, void **req)
{
    struct ring_ctx *c = ctx;

    *req = ring_reserve(c, c->req);
    return 0;
}

static int rr_send(void *ctx, void *req)
{
    struct ring_ctx *c = ctx;

    (void)req;
    ring_publish(c, c->req);
    return 0;
}

static int rr_recv(void *ctx, const void **rep)
{
    struct ring_ctx *c = ctx;

    *rep = ring_peek(c, c->rep);
    return 0;
}

static int rr_release(void *ctx, const void *rep)
{
    (void)rep;
    ring_release(((struct ring_ctx *)ctx)->rep);
    return 0;
}

static int rr_client(void *ctx, const struct bench_opts *o, struct bench_shared *sh)
{
    static const struct bench_client_ops ops = {
        .loan = rr_loan, .send = rr_send, .recv = rr_recv, .release = rr_release,
    };

    return bench_client_loops(&ops, ctx, o, sh);
}

static size_t ring_bytes(size_t stride)
{
    return sizeof(struct ring) + RING_SLOTS * stride;
}

/* Both rings in one shared mapping, zero-filled by the kernel: every stamp
 * 0 means every entry empty. */
static int run_rings(const struct bench_opts *o, size_t stride, struct bench_result *r)
{
    size_t one = (ring_bytes(stride) + BENCH_LINE - 1) / BENCH_LINE * BENCH_LINE;
    unsigned char *p = mmap(NULL, 2 * one, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    struct ring_ctx c = { .req = (struct ring *)(void *)p, .rep = (struct ring *)(void *)(p + one),
                          .n = o->msg_size, .stride = stride };
    struct bench_pair pr = { .server = rr_server, .client = rr_client, .ctx = &c };
    int rc = bench_run_pair(o, &pr, r);
    if (munmap(p, 2 * one) != 0 && !rc)
        rc = -errno;
    return rc;
}

/* raw-ring: the stamp and 64 bytes in a 128-byte entry, two lines that x86's
 * adjacent-line prefetcher moves as a pair. */
int bench_raw_ring(const struct bench_opts *o, struct bench_result *r)
{
    return run_rings(o, BENCH_LINE, r);
}

/* line-floor: the stamp and the payload in one line.  Only 56 bytes fit:
 * with larger messages it carries 56 and says so. */
int bench_line_floor(const struct bench_opts *o, struct bench_result *r)
{
    struct bench_opts lo = *o;
    if (lo.msg_size > LINE_PAYLOAD) {
        lo.msg_size = LINE_PAYLOAD;
        snprintf(r->note, sizeof r->note, "%u-byte messages: one line holds the stamp and %u bytes",
                 LINE_PAYLOAD, LINE_PAYLOAD);
    }
    return run_rings(&lo, LINE_BYTES, r);
}
