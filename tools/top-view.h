/* SPDX-License-Identifier: MIT */
/* uipcctl top's pure part: two snapshots of the supervisor's status and
 * stats (and of /proc) in, rows of rates and interval percentiles out,
 * sorted, laid out as text lines that fit a width and a height.  No I/O:
 * tools/uipcctl-top.c takes the snapshots and draws the lines. */
#ifndef UIPC_TOOLS_TOP_VIEW_H
#define UIPC_TOOLS_TOP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A module's process, from /proc/PID/stat and statm. */
struct top_proc {
    bool ok;             /* false: its /proc entry could not be read */
    uint64_t jiffies;    /* utime + stime, in clock ticks */
    uint64_t start;      /* starttime: tells a reused pid from the process seen before */
    uint64_t rss_pages;  /* resident set */
};

/* One module in one snapshot; strings are the snapshot owner's. */
struct top_mod_snap {
    const char *name, *state;
    int32_t pid;         /* 0: not running */
    uint64_t uptime_ms;
    uint32_t restarts;
    struct top_proc proc;
};

/* One channel in one snapshot.  Counters only grow, unless the channel
 * was made anew (a reload); le[] increases, count[] is per bucket. */
struct top_chan_snap {
    const char *service, *client, *server;
    uint64_t calls;
    uint64_t errors;     /* peer_died + timed_out + proto + bad_status */
    uint32_t in_flight;
    const uint64_t *le, *count;
    size_t nbuckets;
};

struct top_snap {
    uint64_t at_ms;      /* CLOCK_MONOTONIC when taken */
    const struct top_mod_snap *mods;
    size_t nmods;
    const struct top_chan_snap *chans;
    size_t nchans;
};

/* What the rows are computed with: the machine's clock tick and page. */
struct top_host {
    long clk_tck;        /* sysconf(_SC_CLK_TCK) */
    long page_size;      /* sysconf(_SC_PAGESIZE) */
};

#define TOP_UNKNOWN (-1)

struct top_mod_row {
    const char *name, *state;
    int32_t pid;
    uint64_t uptime_ms;
    uint32_t restarts;
    int64_t cpu_permille; /* of one CPU over the interval; TOP_UNKNOWN: no /proc */
    int64_t rss_bytes;    /* TOP_UNKNOWN: no /proc */
};

struct top_chan_row {
    const char *service, *client, *server;
    double calls_s, errors_s; /* < 0: unknown (the channel is new in this snapshot) */
    uint32_t in_flight;
    uint64_t p50_ns, p99_ns;  /* over the interval; 0: no call timed in it */
};

/* The rows of one frame; arrays of the snapshots' lengths, the caller's. */
struct top_rows {
    struct top_mod_row *mods;
    size_t nmods;
    struct top_chan_row *chans;
    size_t nchans;
};

/* cur - prev for a counter that only grows, or cur when it went down: the
 * counter started again from 0 (a reload made it anew), not a negative. */
uint64_t top_delta(uint64_t cur, uint64_t prev);

/* The q-quantile (0.5, 0.99) of the samples that cur's histogram holds
 * and prev's did not: the le of the bucket where the difference's
 * cumulative count first exceeds floor(total * q), as the supervisor
 * reads its all-time p50/p99.  A histogram that lost samples anywhere
 * started again: cur counts alone.  0 when the interval timed no call.
 * prev may be NULL (nprev 0). */
uint64_t top_interval_quantile(const struct top_chan_snap *cur, const struct top_chan_snap *prev,
                               double q);

/* Per mille of one CPU that a process used between two readings
 * interval_ms apart; a process not seen before (another pid or start)
 * used all its jiffies in the interval.  TOP_UNKNOWN without /proc. */
int64_t top_cpu_permille(const struct top_proc *cur, const struct top_proc *prev, bool same_pid,
                         uint64_t interval_ms, long clk_tck);

/* /proc/PID/stat's text into p's jiffies and start; 0 or -EINVAL. */
int top_parse_stat(const char *text, struct top_proc *p);
/* /proc/PID/statm's text into p's rss_pages; 0 or -EINVAL. */
int top_parse_statm(const char *text, struct top_proc *p);

/* The rows from cur, with rates and quantiles over prev (NULL: the first
 * snapshot, every rate unknown); modules sorted by CPU descending (unknown
 * last) then name, channels by calls/s descending then service, client,
 * server.  rows' arrays hold cur->nmods and cur->nchans (the caller
 * allocates them).  Strings are cur's. */
void top_rows(const struct top_snap *cur, const struct top_snap *prev, const struct top_host *h,
              struct top_rows *rows);

/* The frame as text lines, each at most width bytes (never wrapped:
 * columns are dropped, least useful first, then the widest name column is
 * cut, then the line), at most height lines (tables cut, each saying how
 * many rows it left out).  width or height 0: no limit.  title is the
 * first line.  Returns a malloc'd NUL-terminated text of '\n'-ended lines,
 * or NULL when out of memory. */
char *top_render(const struct top_rows *rows, const char *title, unsigned width, unsigned height);

#endif
