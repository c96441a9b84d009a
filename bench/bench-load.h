/* SPDX-License-Identifier: MIT */
/* The machine's load average, printed with a benchmark's figures: other
 * work on the same CPUs moves them (the bench's own processes count too). */
#ifndef UIPC_BENCH_LOAD_H
#define UIPC_BENCH_LOAD_H

#include <stdio.h>

static inline void bench_print_load(const char *when)
{
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && !fgets(buf, sizeof(buf), f))
        snprintf(buf, sizeof(buf), "?\n");
    if (f)
        fclose(f);
    printf("load average %s: %s", when, buf);
}

#endif
