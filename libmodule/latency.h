/* SPDX-License-Identifier: MIT */
/* Call latency histogram buckets: four per power of two (25% resolution),
 * from 1 ns to about 9 minutes.  The client records into its side of the
 * channel region; the supervisor reads percentiles from there. */
#ifndef UIPC_LATENCY_H
#define UIPC_LATENCY_H

#include <stdint.h>

#define UIPC_LAT_BUCKETS 160
#define UIPC_LAT_SAMPLE  16 /* one call in 16 is timed: two clock reads */

static inline unsigned uipc_lat_bucket(uint64_t ns)
{
    if (ns < 4)
        return (unsigned)ns;
    unsigned b = 63u - (unsigned)__builtin_clzll(ns);      /* >= 2 */
    unsigned idx = b * 4 + (unsigned)((ns >> (b - 2)) & 3) - 4;
    return idx < UIPC_LAT_BUCKETS ? idx : UIPC_LAT_BUCKETS - 1;
}

/* The largest value that falls into bucket idx. */
static inline uint64_t uipc_lat_upper(unsigned idx)
{
    if (idx < 4)
        return idx;
    unsigned b = (idx + 4) / 4, sub = (idx + 4) % 4;
    return ((uint64_t)(4 + sub + 1) << (b - 2)) - 1;
}

#endif
