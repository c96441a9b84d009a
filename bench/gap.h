/* SPDX-License-Identifier: MIT */
/* What uipc-survival-bench and its load module share through a file: per
 * phase (set by the bench), the calls answered and the longest gap
 * between two successive answers. */
#ifndef UIPC_BENCH_GAP_H
#define UIPC_BENCH_GAP_H

#include <stdatomic.h>
#include <stdint.h>

enum { GAP_WARMUP, GAP_BASELINE, GAP_REEXEC, GAP_KILL, GAP_PHASES };

struct gap_results {
    _Atomic uint32_t phase;              /* written by the bench */
    _Atomic uint64_t ok[GAP_PHASES];
    _Atomic uint64_t errors;             /* any status but the echoed length */
    _Atomic uint64_t max_gap_ns[GAP_PHASES];
};

#endif
