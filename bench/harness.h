/* SPDX-License-Identifier: MIT */
/* Internal to uipc-bench: what the baseline transports share, i.e. a
 * supervised client/server process pair and the client's measuring loops. */
#ifndef UIPC_BENCH_HARNESS_H
#define UIPC_BENCH_HARNESS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench.h"

#define BENCH_MSG_MAX   64u   /* largest request/reply the baselines carry */
#define BENCH_DEPTH_MAX 256u  /* largest --depth every baseline can keep in flight */
/* Two 64-byte lines: x86's adjacent-line prefetcher moves them as a pair, so
 * 64-byte separation would still let two writers' lines ping-pong together. */
#define BENCH_LINE      128

/* Polite busy-wait step: pause frees the sibling hyperthread and avoids the
 * memory-order mis-speculation flush when the awaited line finally changes. */
static inline void bench_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* Lives in a MAP_SHARED page: how the client child hands its figures back. */
struct bench_shared {
    atomic_int client_done;  /* client took its last reply (a server may wait on it) */
    uint64_t   mismatches;   /* replies whose bytes differed from the request */
    double     calls_per_s;  /* pipelined throughput */
    uint64_t   samples[];    /* o->iters synchronous round-trip times, ns */
};

/* One side of a transport, run in its own pinned child: 0 or -errno. */
typedef int bench_side_fn(void *ctx, const struct bench_opts *o,
                          struct bench_shared *sh);

struct bench_pair {
    bench_side_fn *server;
    bench_side_fn *client;
    int (*forked)(void *ctx);  /* optional, parent side once both children run */
    void *ctx;
    pid_t guard;  /* optional helper child (a broker): its death aborts the
                     run; reset to 0 if the run had to reap it */
    int exit_normally;  /* children end with exit(), not _exit(), so that a
                           C++ runtime's static destructors run (iceoryx
                           deregisters from RouDi only there) */
};

/* Forks server then client, pins them, waits for both, fills *r.  Any
 * failure kills and reaps both children.  Reaps with waitpid(-1): the caller
 * must have no other children than these and p->guard.  Returns 0, -EIO on
 * reply mismatches, or -errno. */
int bench_run_pair(const struct bench_opts *o, struct bench_pair *p,
                   struct bench_result *r);

/* What a transport's client provides to the generic loops.  loan hands out
 * the buffer the next request is written into (transport memory when it has
 * some, so zero-copy transports stay zero-copy); recv returns the next reply
 * in order, valid until release.  All return 0 or -errno. */
struct bench_client_ops {
    int (*loan)(void *ctx, void **req);
    int (*send)(void *ctx, void *req);
    int (*recv)(void *ctx, const void **rep);
    int (*release)(void *ctx, const void *rep);
};

/* Warm-up, o->iters timed round trips, then the pipelined run. */
int bench_client_loops(const struct bench_client_ops *ops, void *ctx,
                       const struct bench_opts *o, struct bench_shared *sh);

/* fdpair.c: request/reply over blocking descriptors (pipes, sockets), for
 * the transports that differ only in how the descriptors are made.  Takes
 * ownership of all four; one socket serves both ends of a side (rd == wr). */
struct bench_fds {
    int cli_rd, cli_wr;  /* client reads replies, writes requests */
    int srv_rd, srv_wr;  /* server reads requests, writes replies */
};

int bench_fdpair(const struct bench_opts *o, struct bench_fds *f,
                 struct bench_result *r);

/* Calls the server answers in one run of bench_client_loops. */
uint64_t bench_total_calls(const struct bench_opts *o);

/* Kills (SIGKILL) and reaps one child; 0 or -errno. */
int bench_kill_reap(pid_t pid);

/* Closes *fd if open and marks it closed; 0 or -errno. */
int bench_close(int *fd);

#endif
