/* SPDX-License-Identifier: MIT */
/* raw-ring: the floor.  Two single-producer/single-consumer rings of stamped
 * 64-byte entries in one shared mapping, both sides spinning: what any
 * shared-memory request/reply costs before a library adds anything. */
#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"

/* The pipelined run never has more than BENCH_DEPTH_MAX calls in flight, so
 * neither ring can fill up while its producer waits on the other. */
#define RING_SLOTS BENCH_DEPTH_MAX

static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
              "stamps are shared between processes: they must be lock-free");

struct ring_entry {
    alignas(BENCH_LINE) atomic_ullong stamp;  /* position + 1 once data is written */
    unsigned char data[BENCH_MSG_MAX];
};

struct ring {
    alignas(BENCH_LINE) unsigned long long head;  /* producer only */
    unsigned long long tail_seen;                 /* producer's last look at tail */
    alignas(BENCH_LINE) atomic_ullong tail;       /* consumer: entries released */
    struct ring_entry slot[RING_SLOTS];
};

struct rings {
    struct ring req;  /* client -> server */
    struct ring rep;  /* server -> client */
};

struct ring_ctx {
    struct rings *rg;
    size_t n;
};

/* Producer: the entry to fill next.  tail is read only when the cached copy
 * says the ring is full, so the consumer's line stays in its own cache. */
static struct ring_entry *ring_reserve(struct ring *q)
{
    while (q->head - q->tail_seen >= RING_SLOTS) {
        q->tail_seen = atomic_load_explicit(&q->tail, memory_order_acquire);
        bench_relax();
    }
    return &q->slot[q->head % RING_SLOTS];
}

static void ring_publish(struct ring *q)
{
    struct ring_entry *e = &q->slot[q->head % RING_SLOTS];

    q->head++;
    atomic_store_explicit(&e->stamp, q->head, memory_order_release);
}

/* Consumer: polls the entry's own stamp rather than the producer's head, so
 * the line that carries the data is the only one that has to move. */
static struct ring_entry *ring_peek(struct ring *q)
{
    unsigned long long pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    struct ring_entry *e = &q->slot[pos % RING_SLOTS];

    while (atomic_load_explicit(&e->stamp, memory_order_acquire) != pos + 1)
        bench_relax();
    return e;
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
        const struct ring_entry *in = ring_peek(&c->rg->req);
        memcpy(ring_reserve(&c->rg->rep)->data, in->data, c->n);
        ring_publish(&c->rg->rep);
        ring_release(&c->rg->req);
    }
    return 0;
}

static int rr_loan(void *ctx, void **req)
{
    *req = ring_reserve(&((struct ring_ctx *)ctx)->rg->req)->data;
    return 0;
}

static int rr_send(void *ctx, void *req)
{
    (void)req;
    ring_publish(&((struct ring_ctx *)ctx)->rg->req);
    return 0;
}

static int rr_recv(void *ctx, const void **rep)
{
    *rep = ring_peek(&((struct ring_ctx *)ctx)->rg->rep)->data;
    return 0;
}

static int rr_release(void *ctx, const void *rep)
{
    (void)rep;
    ring_release(&((struct ring_ctx *)ctx)->rg->rep);
    return 0;
}

static int rr_client(void *ctx, const struct bench_opts *o, struct bench_shared *sh)
{
    static const struct bench_client_ops ops = {
        .loan = rr_loan, .send = rr_send, .recv = rr_recv, .release = rr_release,
    };

    return bench_client_loops(&ops, ctx, o, sh);
}

int bench_raw_ring(const struct bench_opts *o, struct bench_result *r)
{
    /* Zero-filled by the kernel: every stamp 0 means every entry empty. */
    struct rings *rg = mmap(NULL, sizeof *rg, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (rg == MAP_FAILED)
        return -errno;
    struct ring_ctx c = { .rg = rg, .n = o->msg_size };
    struct bench_pair p = { .server = rr_server, .client = rr_client, .ctx = &c };
    int rc = bench_run_pair(o, &p, r);
    if (munmap(rg, sizeof *rg) != 0 && !rc)
        rc = -errno;
    return rc;
}
