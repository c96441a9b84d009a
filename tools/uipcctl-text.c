/* SPDX-License-Identifier: MIT */
/* uipcctl's replies for people: status and stats as tables (columns two
 * spaces apart, each as wide as its widest cell), the sandbox report as
 * one line a property. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-units.h"
#include "uipcctl.h"

#define TABLE_MAX_COLS 16

/* ---- tables ---- */

struct table {
    unsigned ncols;
    const bool *right; /* per column: right-aligned */
    char **cell;       /* row-major */
    size_t n, cap;
    bool oom;
};

/* Appends the next cell; control characters show as '?'. */
__attribute__((format(printf, 2, 3))) static void table_add(struct table *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        char **cell = realloc(t->cell, cap * sizeof(*cell));
        if (!cell) {
            t->oom = true;
            return;
        }
        t->cell = cell;
        t->cap = cap;
    }
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0) {
        t->oom = true;
        return;
    }
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    t->cell[t->n++] = s;
}

static void table_header(struct table *t, const char *const *names)
{
    for (unsigned i = 0; i < t->ncols; i++)
        table_add(t, "%s", names[i]);
}

/* Columns two spaces apart, each as wide as its widest cell. */
static int table_print(const struct table *t, FILE *f)
{
    size_t w[TABLE_MAX_COLS] = { 0 };
    if (t->oom) {
        fprintf(stderr, "uipcctl: %s\n", strerror(ENOMEM));
        return 1;
    }
    for (size_t i = 0; i < t->n; i++) {
        size_t len = strlen(t->cell[i]);
        if (len > w[i % t->ncols])
            w[i % t->ncols] = len;
    }
    for (size_t i = 0; i < t->n; i++) {
        unsigned col = (unsigned)(i % t->ncols);
        if (col > 0)
            fputs("  ", f);
        if (t->right[col])
            fprintf(f, "%*s", (int)w[col], t->cell[i]);
        else if (col + 1 < t->ncols)
            fprintf(f, "%-*s", (int)w[col], t->cell[i]);
        else
            fputs(t->cell[i], f);
        if (col + 1 == t->ncols)
            fputc('\n', f);
    }
    return 0;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->cell[i]);
    free(t->cell);
}

static void add_uptime(struct table *t, uint64_t ms)
{
    char b[32];
    ctl_uptime(b, sizeof(b), ms);
    table_add(t, "%s", b);
}

static void add_latency(struct table *t, uint64_t ns)
{
    char b[32];
    ctl_latency(b, sizeof(b), ns);
    table_add(t, "%s", b);
}

int ctl_text_status(const Uipc__Control__Reply *rep, FILE *f)
{
    static const char *const head[] = { "NAME", "STATE", "PID", "UPTIME",
                                        "RESTARTS", "VIOLATIONS", "LAST-EXIT" };
    static const bool right[] = { false, false, true, true, true, true, false };
    struct table t = { .ncols = 7, .right = right };

    table_header(&t, head);
    for (size_t i = 0; i < rep->n_modules; i++) {
        const Uipc__Control__ModuleStatus *m = rep->modules[i];
        table_add(&t, "%s", ctl_str(m->name));
        table_add(&t, "%s", ctl_str(m->state));
        if (m->pid)
            table_add(&t, "%" PRId32, m->pid);
        else
            table_add(&t, "%s", "-");
        if (m->pid)
            add_uptime(&t, m->uptime_ms);
        else
            table_add(&t, "%s", "-");
        table_add(&t, "%" PRIu32, m->restarts);
        table_add(&t, "%" PRIu32, m->violations);
        if (*ctl_str(m->last_exit) && *ctl_str(m->last_reason))
            table_add(&t, "%s (%s)", m->last_exit, m->last_reason);
        else if (*ctl_str(m->last_exit))
            table_add(&t, "%s", m->last_exit);
        else if (*ctl_str(m->last_reason))
            table_add(&t, "(%s)", m->last_reason);
        else
            table_add(&t, "%s", "-");
    }
    int r = table_print(&t, f);
    table_free(&t);
    return r;
}

int ctl_text_stats(const Uipc__Control__Reply *rep, FILE *f)
{
    static const char *const head[] = { "SERVICE", "CLIENT", "SERVER", "CALLS", "OK",
                                        "PEER-DIED", "TIMED-OUT", "PROTO", "IN-FLIGHT",
                                        "FREE/SLOTS", "RECLAIMED", "P50", "P99", "MAX" };
    static const bool right[] = { false, false, false, true, true, true, true,
                                  true, true, true, true, true, true, true };
    struct table t = { .ncols = 14, .right = right };

    table_header(&t, head);
    for (size_t i = 0; i < rep->n_channels; i++) {
        const Uipc__Control__ChannelStats *c = rep->channels[i];
        table_add(&t, "%s", ctl_str(c->service));
        table_add(&t, "%s", ctl_str(c->client));
        table_add(&t, "%s", ctl_str(c->server));
        table_add(&t, "%" PRIu64, c->calls);
        table_add(&t, "%" PRIu64, c->ok);
        table_add(&t, "%" PRIu64, c->peer_died);
        table_add(&t, "%" PRIu64, c->timed_out);
        table_add(&t, "%" PRIu64, c->proto);
        table_add(&t, "%" PRIu32, c->in_flight);
        table_add(&t, "%" PRIu32 "/%" PRIu32, c->free_slots, c->slots);
        table_add(&t, "%" PRIu64, c->reclaimed);
        add_latency(&t, c->latency_p50_ns);
        add_latency(&t, c->latency_p99_ns);
        add_latency(&t, c->latency_max_ns);
    }
    int r = table_print(&t, f);
    table_free(&t);
    return r;
}

/* ---- sandbox ---- */

/* v's words one space apart, or none when there are none; a line. */
static void join(FILE *f, char *const *v, size_t n, const char *none)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? " " : "", v[i]);
    if (!n)
        fputs(none, f);
    fputc('\n', f);
}

int ctl_text_sandbox(const Uipc__Control__SandboxReport *r, FILE *f)
{
    static const char *const seccomp[] = { "0 (none)", "1 (strict)", "2 (filter)" };
    fprintf(f, "module         %s, pid %d\n", ctl_str(r->module), (int)r->pid);
    fprintf(f, "uid            %s\ngid            %s\ngroups         %s\n", ctl_str(r->uid),
            ctl_str(r->gid), *ctl_str(r->groups) ? r->groups : "(none)");
    fprintf(f, "capabilities   effective %s permitted %s inheritable %s\n", ctl_str(r->cap_eff),
            ctl_str(r->cap_prm), ctl_str(r->cap_inh));
    fprintf(f, "               bounding %s ambient %s\n", ctl_str(r->cap_bnd), ctl_str(r->cap_amb));
    fprintf(f, "no_new_privs   %u\nseccomp        %s, policy %s\n", r->no_new_privs,
            r->seccomp < 3 ? seccomp[r->seccomp] : "?", ctl_str(r->policy));
    fputs("namespaces     ", f);
    join(f, r->namespaces, r->n_namespaces, "(the supervisor's)");
    fprintf(f, "root           %s\nwritable       ", r->root_read_only ? "read-only" : "read-write");
    join(f, r->writable, r->n_writable, "(none)");
    fputs("limits        ", f);
    for (size_t i = 0; i < r->n_limits; i++)
        fprintf(f, " %s=%s/%s", r->limits[i]->name, r->limits[i]->soft, r->limits[i]->hard);
    fprintf(f, "\noom_score_adj  %d\n", (int)r->oom_score_adj);
    return 0;
}

