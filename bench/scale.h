/* SPDX-License-Identifier: MIT */
/* Internal to uipc-scale-bench: what its client processes hand back to it
 * through a shared mapping, and the latency histogram they fill. */
#ifndef UIPC_SCALE_H
#define UIPC_SCALE_H

#include <stdatomic.h>
#include <stdint.h>

#define SCALE_MAX_CLIENTS 64
#define SCALE_DEPTH_MAX   64 /* calls in flight per client; the channels have 64 slots */
/* Log-linear buckets: 64 per power of two, so a bucket is at most 1/64
 * (1.6%) wide, up to 2^44 ns; values below 64 ns have a bucket each. */
#define SCALE_SUB_BITS 6
#define SCALE_BUCKETS  (64 * 40)

/* One client's figures, on lines of its own: 64 writers, no sharing. */
struct scale_client {
    uint64_t calls;      /* completed within the window */
    uint64_t mismatches; /* replies that were not their request flipped */
    int err;             /* the client's first error, or 0 */
    uint64_t hist[SCALE_BUCKETS];
} __attribute__((aligned(128)));

struct scale_shared {
    _Atomic uint32_t ready; /* clients that made their first call and wait for go */
    _Atomic uint32_t go;    /* futex word: 1 once t_start and t_end are set */
    uint64_t t_start, t_end; /* CLOCK_MONOTONIC: the measured window */
    struct scale_client c[SCALE_MAX_CLIENTS];
};

static inline unsigned scale_bucket(uint64_t ns)
{
    if (ns < 64)
        return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns); /* >= SCALE_SUB_BITS */
    unsigned b = (e - SCALE_SUB_BITS + 1) * 64 + (unsigned)((ns >> (e - SCALE_SUB_BITS)) & 63);
    return b < SCALE_BUCKETS ? b : SCALE_BUCKETS - 1;
}

/* The largest value bucket b holds: a percentile is reported as that
 * upper edge, never below the latency really observed. */
static inline uint64_t scale_bucket_top(unsigned b)
{
    if (b < 64)
        return b;
    unsigned e = b / 64 - 1 + SCALE_SUB_BITS, sub = b % 64;
    return ((uint64_t)(64 + sub) << (e - SCALE_SUB_BITS)) + ((uint64_t)1 << (e - SCALE_SUB_BITS)) - 1;
}

#endif
