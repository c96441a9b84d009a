/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "chaos-schedule.h"

static const char *const names[FAULT_COUNT] = {
    [FAULT_KILL] = "kill", [FAULT_SEGV] = "segv", [FAULT_STOP] = "stop",
    [FAULT_ABORT] = "abort", [FAULT_SLOW] = "slow", [FAULT_HOSTILE] = "hostile", [FAULT_REEXEC] = "reexec",
    [FAULT_SUPERVISOR_KILL] = "supervisor-kill",
};

const char *chaos_fault_name(enum chaos_fault f)
{
    return f < FAULT_COUNT ? names[f] : "?";
}

int chaos_parse_faults(const char *list, unsigned *set)
{
    *set = 0;
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int found = -1;
        for (int f = 0; f < FAULT_COUNT; f++)
            if (strlen(names[f]) == len && strncmp(p, names[f], len) == 0)
                found = f;
        if (found < 0)
            return -EINVAL;
        *set |= 1u << found;
        p = end ? end + 1 : NULL;
    }
    return *set ? 0 : -EINVAL;
}

/* splitmix64: tiny, well mixed, and the same on every machine. */
static uint64_t next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t below(uint64_t *state, uint32_t n)
{
    return n ? (uint32_t)(next(state) % n) : 0;
}

unsigned chaos_schedule(uint64_t seed, uint32_t duration_ms, uint32_t interval_ms, unsigned ntargets,
                        unsigned faults, struct chaos_event *out, unsigned max)
{
    enum chaos_fault pick[FAULT_COUNT];
    unsigned npick = 0, n = 0;
    for (int f = 0; f < FAULT_COUNT; f++)
        if (faults & (1u << f))
            pick[npick++] = (enum chaos_fault)f;
    if (!npick || !ntargets || !interval_ms)
        return 0;
    uint64_t st = seed;
    uint64_t at = 0;
    for (;;) {
        at += interval_ms / 2 + below(&st, interval_ms + 1);
        if (at >= duration_ms || n == max)
            return n;
        out[n].at_ms = (uint32_t)at;
        out[n].target = below(&st, ntargets);
        out[n].fault = pick[below(&st, npick)];
        /* Drawn for hostile events alone: a set without them gives the
         * schedule it gave before hostile faults existed. */
        out[n].attack = out[n].fault == FAULT_HOSTILE ? (uint32_t)next(&st) : 0;
        n++;
    }
}

uint32_t chaos_event_deadline(const struct chaos_event *ev, unsigned n, unsigned k, uint32_t duration_ms)
{
    return k + 1 < n && ev[k + 1].at_ms < duration_ms ? ev[k + 1].at_ms : duration_ms;
}
