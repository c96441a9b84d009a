/* SPDX-License-Identifier: MIT */
/* What uipc-crash-bench and its load module share through a file. */
#ifndef UIPC_CRASH_H
#define UIPC_CRASH_H

#include <stdatomic.h>
#include <stdint.h>

#define CRASH_MAX 4096

struct crash_results {
    _Atomic uint64_t ok;       /* successful calls so far */
    _Atomic uint64_t outages;  /* outages seen end to end */
    _Atomic uint32_t in_flight; /* the load module's calls sent and not answered yet, */
    _Atomic uint64_t turns;     /* as of the end of its turn number `turns` */
    struct {
        uint64_t last_err_ns;  /* CLOCK_MONOTONIC: last in-flight call answered peer-died */
        uint64_t first_ok_ns;  /* CLOCK_MONOTONIC: first call answered by the new server */
    } out[CRASH_MAX];
};

#endif
