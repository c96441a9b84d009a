/* SPDX-License-Identifier: MIT */
/* Internal to uipc-bench: the uipc client and server modules (bench-uipc.c),
 * run by the uipc rows and, through two bridges, by the uipc-bridge row. */
#ifndef UIPC_BENCH_UIPC_H
#define UIPC_BENCH_UIPC_H

#include <stdint.h>

#include "bench.h"

/* The service both modules name. */
#define BENCH_UIPC_SERVICE "bench"

/* In a MAP_SHARED mapping: the client's figures reach the parent. */
struct uipc_bench_shared {
    uint64_t mismatches;
    double calls_per_s;
    int err;
    uint64_t samples[];
};

struct uipc_bench {
    const struct bench_opts *o;
    int sleep_mode; /* 1: both sides sleep at once (spin 0) */
    struct uipc_bench_shared *sh;
};

/* Maps ub->sh for o->iters samples; 0 or -errno. */
int bench_uipc_map(struct uipc_bench *ub);
void bench_uipc_unmap(struct uipc_bench *ub);
/* Module bodies for uipc__bed_module, arg a struct uipc_bench: the server
 * answers BENCH_UIPC_SERVICE, the client calls it (the warm-up, the timed
 * round trips, then the pipelined run) and leaves its figures in ub->sh. */
int bench_uipc_server(void *arg);
int bench_uipc_client(void *arg);
/* Once the client has exited with wait status st: 0 and *r's figures, or
 * the client's error. */
int bench_uipc_collect(const struct uipc_bench *ub, int st, struct bench_result *r);

#endif
