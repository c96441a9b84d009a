/* SPDX-License-Identifier: MIT */
/* uipc-bench statistics and placement: percentiles of round-trip samples,
 * the monotonic clock, and pinning a process to one CPU. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest rank, so every figure reported is a latency really observed
 * (no interpolation between two samples). */
static double rank(const uint64_t *sorted, size_t n, unsigned permille)
{
    size_t k = (n * permille + 999) / 1000;

    return (double)sorted[k ? k - 1 : 0];
}

void bench_percentiles(uint64_t *ns, size_t n, struct bench_result *r)
{
    if (n == 0) {
        r->median_ns = r->p99_ns = r->p999_ns = 0.0;
        return;
    }
    qsort(ns, n, sizeof ns[0], cmp_u64);
    r->median_ns = rank(ns, n, 500);
    r->p99_ns = rank(ns, n, 990);
    r->p999_ns = rank(ns, n, 999);
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail on Linux; if it does, no figure this
     * program prints could be trusted, so stop rather than return junk. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_pin(int cpu)
{
    cpu_set_t set;

    if (cpu < 0)
        return 0;
    if (cpu >= CPU_SETSIZE)
        return -EINVAL;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) ? -errno : 0;
}
