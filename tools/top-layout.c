/* SPDX-License-Identifier: MIT */
/* uipcctl top's frame as text (top-view.h): the modules' and the channels'
 * tables, fitted to a width by dropping columns (in the order the tables
 * below give) and cutting the name column, and to a height by cutting
 * rows.  Pure, like top-view.c. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-units.h"
#include "top-view.h"

#define CELL 128     /* a cell's bytes; longer names are cut */
#define FLEX_MIN 12  /* the name column is cut no narrower: past that, columns go */
#define FIXED_LINES 5 /* title, blank, modules' head, blank, channels' head */

struct col {
    const char *head;
    bool right;      /* right-aligned (numbers) */
    unsigned drop;   /* 0: always shown; else dropped in this order when too wide */
};

static const struct col mod_cols[] = {
    { "NAME", false, 0 }, { "STATE", false, 0 },   { "PID", true, 2 }, { "UPTIME", true, 1 },
    { "RESTARTS", true, 3 }, { "CPU%", true, 0 }, { "RSS", true, 4 },
};
enum { MOD_COLS = sizeof(mod_cols) / sizeof(mod_cols[0]), MOD_FLEX = 0 };

static const struct col chan_cols[] = {
    { "SERVICE", false, 0 }, { "CLIENT -> SERVER", false, 0 }, { "CALLS/S", true, 0 },
    { "ERR/S", true, 4 },    { "IN-FLIGHT", true, 2 },         { "P50", true, 1 },
    { "P99", true, 3 },
};
enum { CHAN_COLS = sizeof(chan_cols) / sizeof(chan_cols[0]), CHAN_FLEX = 1 };

/* A table's cells, the header first, row-major. */
struct grid {
    const struct col *cols;
    unsigned ncols, flex;
    size_t nrows;            /* below the header */
    char (*cell)[CELL];
};

/* ---- cells ---- */

__attribute__((format(printf, 2, 3))) static void cell(char *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c, CELL, fmt, ap);
    va_end(ap);
    for (unsigned char *p = (unsigned char *)c; *p; p++)
        if (*p < 0x20 || *p == 0x7f) /* names come from a config: no escapes reach the terminal */
            *p = '?';
}

/* As uipcctl status shows an uptime, and stats a latency (ctl-units.c). */
static void cell_uptime(char *c, uint64_t ms)
{
    char b[CELL];
    ctl_uptime(b, sizeof(b), ms);
    cell(c, "%s", b);
}

static void cell_latency(char *c, uint64_t ns)
{
    char b[CELL];
    ctl_latency(b, sizeof(b), ns);
    cell(c, "%s", b);
}

/* "-" (unknown), "0", "0.4", "950", "12345", "512k", "1.2M". */
static void cell_rate(char *c, double v)
{
    if (v < 0)
        cell(c, "-");
    else if (v == 0)
        cell(c, "0");
    else if (v < 10)
        cell(c, "%.1f", v);
    else if (v < 1e5)
        cell(c, "%.0f", v);
    else if (v < 1e6)
        cell(c, "%.0fk", v / 1e3);
    else
        cell(c, "%.1fM", v / 1e6);
}

/* "-", "812K", "12.4M", "1.1G". */
static void cell_bytes(char *c, int64_t b)
{
    if (b < 0)
        cell(c, "-");
    else if (b < 1 << 20)
        cell(c, "%" PRId64 "K", b >> 10);
    else if (b < 1 << 30)
        cell(c, "%.1fM", (double)b / (1 << 20));
    else
        cell(c, "%.1fG", (double)b / (1 << 30));
}

static void mod_cells(const struct top_mod_row *r, char (*c)[CELL])
{
    cell(c[0], "%s", r->name);
    cell(c[1], "%s", r->state);
    if (r->pid)
        cell(c[2], "%" PRId32, r->pid);
    else
        cell(c[2], "-");
    if (r->pid)
        cell_uptime(c[3], r->uptime_ms);
    else
        cell(c[3], "-");
    cell(c[4], "%" PRIu32, r->restarts);
    if (r->cpu_permille < 0)
        cell(c[5], "-");
    else
        cell(c[5], "%" PRId64 ".%" PRId64, r->cpu_permille / 10, r->cpu_permille % 10);
    cell_bytes(c[6], r->rss_bytes);
}

static void chan_cells(const struct top_chan_row *r, char (*c)[CELL])
{
    cell(c[0], "%s", r->service);
    cell(c[1], "%s -> %s", r->client, r->server);
    cell_rate(c[2], r->calls_s);
    cell_rate(c[3], r->errors_s);
    cell(c[4], "%" PRIu32, r->in_flight);
    cell_latency(c[5], r->p50_ns);
    cell_latency(c[6], r->p99_ns);
}

/* g's cells from rows (n of them, each of size `size`), through fill. */
static int grid_fill(struct grid *g, const void *rows, size_t n, size_t size,
                     void (*fill)(const void *row, char (*c)[CELL]))
{
    g->nrows = n;
    g->cell = calloc((n + 1) * g->ncols, CELL);
    if (!g->cell)
        return -1;
    for (unsigned k = 0; k < g->ncols; k++)
        cell(g->cell[k], "%s", g->cols[k].head);
    for (size_t i = 0; i < n; i++)
        fill((const char *)rows + i * size, &g->cell[(i + 1) * g->ncols]);
    return 0;
}

static void fill_mod(const void *row, char (*c)[CELL])
{
    mod_cells(row, c);
}

static void fill_chan(const void *row, char (*c)[CELL])
{
    chan_cells(row, c);
}

/* ---- fitting ---- */

static size_t line_width(const struct grid *g, const bool *shown, const size_t *w)
{
    size_t total = 0, n = 0;
    for (unsigned k = 0; k < g->ncols; k++)
        if (shown[k]) {
            total += w[k];
            n++;
        }
    return total + (n ? 2 * (n - 1) : 0);
}

/* Which columns show, and how wide, within width (0: any): columns go in
 * their drop order until cutting the name column to FLEX_MIN would do,
 * then it is cut.  What still does not fit is cut with the line. */
static void fit(const struct grid *g, unsigned width, bool *shown, size_t *w)
{
    for (unsigned k = 0; k < g->ncols; k++) {
        shown[k] = true;
        w[k] = 0;
        for (size_t i = 0; i <= g->nrows; i++) {
            size_t len = strlen(g->cell[i * g->ncols + k]);
            w[k] = len > w[k] ? len : w[k];
        }
    }
    if (!width)
        return;
    size_t total = line_width(g, shown, w), slack = w[g->flex] > FLEX_MIN ? w[g->flex] - FLEX_MIN : 0;
    for (unsigned order = 1; order <= g->ncols && total > width + slack; order++) {
        for (unsigned k = 0; k < g->ncols; k++)
            if (g->cols[k].drop == order)
                shown[k] = false;
        total = line_width(g, shown, w);
    }
    if (total > width)
        w[g->flex] -= total - width < slack ? total - width : slack;
}

/* ---- text ---- */

struct text {
    char *buf;
    size_t len, cap;
    unsigned lines, max_lines; /* max_lines 0: any */
    unsigned width;            /* 0: any */
    bool oom;
};

/* Appends s as a line, cut at t->width, without trailing blanks. */
static void put_line(struct text *t, const char *s)
{
    if (t->oom || (t->max_lines && t->lines >= t->max_lines))
        return;
    size_t n = strlen(s);
    if (t->width && n > t->width)
        n = t->width;
    while (n && s[n - 1] == ' ')
        n--;
    if (t->len + n + 2 > t->cap) {
        size_t cap = 2 * (t->len + n + 2) + 1024;
        char *buf = realloc(t->buf, cap);
        if (!buf) {
            t->oom = true;
            return;
        }
        t->buf = buf;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len++] = '\n';
    t->buf[t->len] = '\0';
    t->lines++;
}

/* Row i of g (0: the header) as one line of the shown columns. */
static void put_row(struct text *t, const struct grid *g, size_t i, const bool *shown, const size_t *w)
{
    char line[(CELL + 2) * 16];
    size_t at = 0;
    unsigned last = 0;
    for (unsigned k = 0; k < g->ncols; k++)
        last = shown[k] ? k : last;
    for (unsigned k = 0; k < g->ncols; k++) {
        if (!shown[k])
            continue;
        char c[CELL];
        memcpy(c, g->cell[i * g->ncols + k], CELL);
        if (strlen(c) > w[k] && w[k] > 0) {
            c[w[k] - 1] = '~'; /* says it was cut */
            c[w[k]] = '\0';
        }
        int pad = g->cols[k].right || k != last ? (int)w[k] : 0;
        at += (size_t)snprintf(line + at, sizeof(line) - at, "%s%*s", at ? "  " : "",
                               g->cols[k].right ? pad : -pad, c);
    }
    put_line(t, line);
}

/* g's header and, within `room` lines, its rows: when they do not all
 * fit, the last line says how many were left out. */
static void put_grid(struct text *t, const struct grid *g, unsigned room)
{
    bool shown[16];
    size_t w[16];
    fit(g, t->width, shown, w);
    put_row(t, g, 0, shown, w);
    size_t n = g->nrows <= room ? g->nrows : room ? room - 1 : 0;
    for (size_t i = 1; i <= n; i++)
        put_row(t, g, i, shown, w);
    if (n < g->nrows && room) {
        char more[64];
        snprintf(more, sizeof(more), "(%zu more)", g->nrows - n);
        put_line(t, more);
    }
}

/* The lines each table may use under height (0: any): all they have if
 * both fit, else half each, or what the other leaves. */
static void split(unsigned height, size_t nm, size_t nc, unsigned *rm, unsigned *rc)
{
    size_t avail = height > FIXED_LINES ? height - FIXED_LINES : 0, half = avail / 2;
    if (!height || nm + nc <= avail) {
        *rm = (unsigned)nm;
        *rc = (unsigned)nc;
    } else if (nm <= half) {
        *rm = (unsigned)nm;
        *rc = (unsigned)(avail - nm);
    } else if (nc <= avail - half) {
        *rc = (unsigned)nc;
        *rm = (unsigned)(avail - nc);
    } else {
        *rm = (unsigned)half;
        *rc = (unsigned)(avail - half);
    }
}

char *top_render(const struct top_rows *rows, const char *title, unsigned width, unsigned height)
{
    struct grid m = { .cols = mod_cols, .ncols = MOD_COLS, .flex = MOD_FLEX };
    struct grid c = { .cols = chan_cols, .ncols = CHAN_COLS, .flex = CHAN_FLEX };
    struct text t = { .max_lines = height, .width = width };
    unsigned rm, rc;
    if (grid_fill(&m, rows->mods, rows->nmods, sizeof(rows->mods[0]), fill_mod) < 0 ||
        grid_fill(&c, rows->chans, rows->nchans, sizeof(rows->chans[0]), fill_chan) < 0) {
        t.oom = true;
    } else {
        split(height, rows->nmods, rows->nchans, &rm, &rc);
        put_line(&t, title);
        put_line(&t, "");
        put_grid(&t, &m, rm);
        put_line(&t, "");
        put_grid(&t, &c, rc);
    }
    free(m.cell);
    free(c.cell);
    if (t.oom || !t.buf) {
        free(t.buf);
        return t.oom ? NULL : calloc(1, 1);
    }
    return t.buf;
}
