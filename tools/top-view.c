/* SPDX-License-Identifier: MIT */
/* uipcctl top's pure part (top-view.h): deltas between two snapshots as
 * rates, CPU shares and interval percentiles; sorting; the frame's text,
 * fitted to the terminal.  Unit-tested by tests/unit/test-top-view.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "top-view.h"

/* ---- deltas ---- */

uint64_t top_delta(uint64_t cur, uint64_t prev)
{
    return cur >= prev ? cur - prev : cur;
}

/* The samples h holds in bucket le, walking h's buckets up from *j (the
 * caller walks up too); *lost is set when a skipped bucket had samples,
 * which the newer histogram no longer has.  h NULL: none. */
static uint64_t count_at(const struct top_chan_snap *h, uint64_t le, size_t *j, bool *lost)
{
    if (!h)
        return 0;
    for (; *j < h->nbuckets && h->le[*j] < le; (*j)++)
        if (h->count[*j])
            *lost = true;
    return *j < h->nbuckets && h->le[*j] == le ? h->count[(*j)++] : 0;
}

/* cur lost samples that prev had, in some bucket: it started again. */
static bool hist_restarted(const struct top_chan_snap *cur, const struct top_chan_snap *prev)
{
    size_t j = 0;
    bool lost = false;
    for (size_t i = 0; i < cur->nbuckets && !lost; i++)
        if (count_at(prev, cur->le[i], &j, &lost) > cur->count[i])
            lost = true;
    for (; j < prev->nbuckets; j++)
        if (prev->count[j])
            lost = true;
    return lost;
}

uint64_t top_interval_quantile(const struct top_chan_snap *cur, const struct top_chan_snap *prev,
                               double q)
{
    if (prev && hist_restarted(cur, prev))
        prev = NULL;
    uint64_t total = 0, seen = 0;
    size_t j = 0;
    bool lost = false;
    for (size_t i = 0; i < cur->nbuckets; i++) {
        uint64_t d = cur->count[i] - count_at(prev, cur->le[i], &j, &lost);
        total = d > UINT64_MAX - total ? UINT64_MAX : total + d; /* a scribbled reply saturates */
    }
    uint64_t want = (uint64_t)((double)total * q);
    j = 0;
    for (size_t i = 0; i < cur->nbuckets && total; i++) {
        uint64_t d = cur->count[i] - count_at(prev, cur->le[i], &j, &lost);
        seen = d > UINT64_MAX - seen ? UINT64_MAX : seen + d;
        if (seen > want)
            return cur->le[i];
    }
    return 0;
}

int64_t top_cpu_permille(const struct top_proc *cur, const struct top_proc *prev, bool same_pid,
                         uint64_t interval_ms, long clk_tck)
{
    if (!cur->ok || interval_ms == 0 || clk_tck <= 0)
        return TOP_UNKNOWN;
    bool seen = prev && prev->ok && same_pid && prev->start == cur->start;
    uint64_t used = top_delta(cur->jiffies, seen ? prev->jiffies : 0);
    if (used > UINT64_MAX / 1000000)
        return TOP_UNKNOWN;
    return (int64_t)(used * 1000000 / ((uint64_t)clk_tck * interval_ms));
}

/* ---- /proc ---- */

/* The n-th (from 0) space-separated number of s; 0 or -EINVAL. */
static int nth_number(const char *s, unsigned n, uint64_t *out)
{
    for (unsigned k = 0; k < n; k++) {
        s += strspn(s, " ");
        s += strcspn(s, " \n");
    }
    s += strspn(s, " ");
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || (*end && *end != ' ' && *end != '\n'))
        return -EINVAL;
    *out = v;
    return 0;
}

int top_parse_stat(const char *text, struct top_proc *p)
{
    /* "pid (comm) S ppid ...": comm may hold spaces and parentheses, so
     * the fields count from its last ')'; after it, utime is the 12th
     * word, stime the 13th, starttime the 20th (proc(5): 14, 15, 22). */
    const char *s = strrchr(text, ')');
    uint64_t ut, st, start;
    if (!s || nth_number(s + 1, 11, &ut) < 0 || nth_number(s + 1, 12, &st) < 0 ||
        nth_number(s + 1, 19, &start) < 0)
        return -EINVAL;
    p->jiffies = ut + st;
    p->start = start;
    return 0;
}

int top_parse_statm(const char *text, struct top_proc *p)
{
    uint64_t rss;
    if (nth_number(text, 1, &rss) < 0)
        return -EINVAL;
    p->rss_pages = rss;
    return 0;
}

/* ---- rows ---- */

/* Linear lookups: a supervisor runs tens of modules and channels, and a
 * frame is a second. */
static const struct top_mod_snap *find_mod(const struct top_snap *s, const char *name)
{
    for (size_t i = 0; s && i < s->nmods; i++)
        if (strcmp(s->mods[i].name, name) == 0)
            return &s->mods[i];
    return NULL;
}

static const struct top_chan_snap *find_chan(const struct top_snap *s, const struct top_chan_snap *c)
{
    for (size_t i = 0; s && i < s->nchans; i++)
        if (strcmp(s->chans[i].service, c->service) == 0 && strcmp(s->chans[i].client, c->client) == 0 &&
            strcmp(s->chans[i].server, c->server) == 0)
            return &s->chans[i];
    return NULL;
}

static void mod_row(const struct top_mod_snap *m, const struct top_snap *prev, uint64_t interval_ms,
                    const struct top_host *h, struct top_mod_row *r)
{
    /* A module missing from prev came with a reload during the interval:
     * its process is new, so all its jiffies are the interval's. */
    const struct top_mod_snap *was = find_mod(prev, m->name);
    *r = (struct top_mod_row){ .name = m->name, .state = m->state, .pid = m->pid,
                               .uptime_ms = m->uptime_ms, .restarts = m->restarts,
                               .cpu_permille = TOP_UNKNOWN, .rss_bytes = TOP_UNKNOWN };
    if (prev)
        r->cpu_permille = top_cpu_permille(&m->proc, was ? &was->proc : NULL,
                                           was && was->pid == m->pid, interval_ms, h->clk_tck);
    if (m->proc.ok && h->page_size > 0)
        r->rss_bytes = (int64_t)(m->proc.rss_pages * (uint64_t)h->page_size);
}

static void chan_row(const struct top_chan_snap *c, const struct top_snap *prev, uint64_t interval_ms,
                     struct top_chan_row *r)
{
    /* A channel missing from prev shows no rates yet: it may be a new one
     * counting from 0, or an old one back with its old counts. */
    const struct top_chan_snap *was = find_chan(prev, c);
    *r = (struct top_chan_row){ .service = c->service, .client = c->client, .server = c->server,
                                .calls_s = -1, .errors_s = -1, .in_flight = c->in_flight };
    if (!was || interval_ms == 0)
        return;
    r->calls_s = (double)top_delta(c->calls, was->calls) * 1000.0 / (double)interval_ms;
    r->errors_s = (double)top_delta(c->errors, was->errors) * 1000.0 / (double)interval_ms;
    r->p50_ns = top_interval_quantile(c, was, 0.50);
    r->p99_ns = top_interval_quantile(c, was, 0.99);
}

static int by_cpu_then_name(const void *pa, const void *pb)
{
    const struct top_mod_row *a = pa, *b = pb;
    if (a->cpu_permille != b->cpu_permille)
        return a->cpu_permille > b->cpu_permille ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int by_calls_then_names(const void *pa, const void *pb)
{
    const struct top_chan_row *a = pa, *b = pb;
    if (a->calls_s != b->calls_s)
        return a->calls_s > b->calls_s ? -1 : 1;
    int r = strcmp(a->service, b->service);
    if (!r)
        r = strcmp(a->client, b->client);
    return r ? r : strcmp(a->server, b->server);
}

void top_rows(const struct top_snap *cur, const struct top_snap *prev, const struct top_host *h,
              struct top_rows *rows)
{
    uint64_t interval_ms = prev && cur->at_ms > prev->at_ms ? cur->at_ms - prev->at_ms : 0;
    rows->nmods = cur->nmods;
    rows->nchans = cur->nchans;
    for (size_t i = 0; i < cur->nmods; i++)
        mod_row(&cur->mods[i], prev, interval_ms, h, &rows->mods[i]);
    for (size_t i = 0; i < cur->nchans; i++)
        chan_row(&cur->chans[i], prev, interval_ms, &rows->chans[i]);
    if (rows->nmods)
        qsort(rows->mods, rows->nmods, sizeof(rows->mods[0]), by_cpu_then_name);
    if (rows->nchans)
        qsort(rows->chans, rows->nchans, sizeof(rows->chans[0]), by_calls_then_names);
}
