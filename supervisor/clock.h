/* SPDX-License-Identifier: MIT */
/* The supervisor's one clock: CLOCK_MONOTONIC in milliseconds. */
#ifndef UIPC_SV_CLOCK_H
#define UIPC_SV_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t sv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wall-clock milliseconds since the Unix epoch (for people, not for
 * deadlines). */
static inline uint64_t sv_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
