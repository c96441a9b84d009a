/* SPDX-License-Identifier: MIT */
/* test-bridge.sh's judge: joins the client's records (each call issued and
 * completed) with the server's (each call run) by call id
 * (tests/modules/bridge-record.h), and judges each scenario of the run.
 *
 *   bridge-check [-t TIMEOUT_MS] [-b BOUND_MS] CLIENT_RECS SERVER_RUNS < SCENARIOS
 *   bridge-check -r SINCE_US -n N CLIENT_RECS
 *
 * A scenario is a line "NAME START_US FAULT_US END_US ALLOWED": the calls
 * issued in [START_US, END_US), a fault at FAULT_US, and the errors its
 * callers may see (a comma list of enolink, elinklost, etimedout,
 * peerdied, enoslot, or none).  For each it prints a row of the failure table and
 * fails (exit 1) when a call issued in it
 *  - completed more than once, or never, or later than TIMEOUT_MS (its
 *    timeout) + BOUND_MS (the link's bound) after it was issued (hung);
 *  - ran more than once on the server (executed twice);
 *  - came back ok with the wrong reply, or ok without having run once;
 *  - came back -UIPC_ENOLINK ("not sent") and ran;
 *  - failed with an error the scenario does not allow, or any other code;
 * or when no call was ok in its last second (calls work again afterwards).
 * The server running an id the client never issued fails too.
 * With -r: exit 0 when the last N completions are ok calls issued after
 * SINCE_US (the link is back), else 1. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uipc/module.h>

#include "../modules/bridge-record.h"

struct call {
    uint64_t id;
    int64_t issue_us, done_us;
    int32_t status;
    unsigned dones, runs;
    bool wrong, sync;
};

static struct call *calls;
static size_t ncalls, cap;      /* by id, open addressing (ids are never 0) */
static unsigned long unknown_runs;

static size_t slot_of(uint64_t id)
{
    size_t i = (size_t)(id * 0x9e3779b97f4a7c15u) & (cap - 1);
    while (calls[i].id && calls[i].id != id)
        i = (i + 1) & (cap - 1);
    return i;
}

static struct call *find(uint64_t id, bool add)
{
    size_t i = slot_of(id);
    if (!calls[i].id) {
        if (!add)
            return NULL;
        calls[i].id = id;
        ncalls++;
    }
    return &calls[i];
}

static struct bridge_rec *load(const char *path, size_t *n)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "bridge-check: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    *n = (size_t)len / sizeof(struct bridge_rec);
    struct bridge_rec *r = malloc(*n * sizeof(*r) + 1);
    if (!r || fread(r, sizeof(*r), *n, f) != *n) {
        fprintf(stderr, "bridge-check: %s: short read\n", path);
        exit(2);
    }
    fclose(f);
    return r;
}

static void join_client(const struct bridge_rec *r, size_t n)
{
    for (cap = 1; cap < 2 * n + 2; cap *= 2)
        ;
    calls = calloc(cap, sizeof(*calls));
    if (!calls)
        exit(2);
    for (size_t i = 0; i < n; i++) {
        struct call *c = find(r[i].id, true);
        if (r[i].type == REC_ISSUE) {
            c->issue_us = r[i].t_us;
            c->sync = r[i].kind == REC_SYNC;
        } else if (r[i].type == REC_DONE) {
            if (c->dones++ == 0) {
                c->done_us = r[i].t_us;
                c->status = r[i].status;
                c->wrong = r[i].wrong;
            }
        }
    }
}

static void join_server(const struct bridge_rec *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct call *c = r[i].type == REC_RAN ? find(r[i].id, false) : NULL;
        if (c)
            c->runs++;
        else
            unknown_runs++;
    }
}

enum { K_OK, K_ENOLINK, K_ELINKLOST, K_ETIMEDOUT, K_PEERDIED, K_ENOSLOT, K_OTHER, K_COUNT };
static const char *const kinds[K_COUNT] = { "ok", "enolink", "elinklost", "etimedout", "peerdied", "enoslot",
                                            "other" };

static int kind_of(const struct call *c)
{
    if (c->status >= 0 && !c->wrong)
        return K_OK;
    switch (c->status) {
    case -UIPC_ENOLINK: return K_ENOLINK;
    case -UIPC_ELINKLOST: return K_ELINKLOST;
    case -UIPC_ETIMEDOUT: return K_ETIMEDOUT;
    case -UIPC_EPEERDIED: return K_PEERDIED;
    case -UIPC_ENOSLOT: return K_ENOSLOT;
    default: return K_OTHER;
    }
}

struct tally {
    unsigned long calls, inflight, by[K_COUNT], twice, hung, bad, tail, tail_ok, sync;
    int64_t max_wait_us;
};

static int failures;

static void bad(const char *scenario, const struct call *c, const char *what)
{
    if (failures++ < 40)
        fprintf(stderr, "bridge-check: %s: call %#" PRIx64 " (%s, issued %" PRId64 ", done %+" PRId64
                " ms, status %d, %u completion(s), ran %u time(s)): %s\n", scenario, c->id,
                c->sync ? "sync" : "async", c->issue_us, c->dones ? (c->done_us - c->issue_us) / 1000 : -1,
                c->status, c->dones, c->runs, what);
}

static void judge(const char *name, int64_t start, int64_t fault, int64_t end, const char *allowed,
                  int64_t limit_us, struct tally *t)
{
    bool allow[K_COUNT] = { [K_OK] = true };
    for (int k = 1; k < K_COUNT - 1; k++)
        allow[k] = strstr(allowed, kinds[k]) != NULL;
    for (size_t i = 0; i < cap; i++) {
        const struct call *c = &calls[i];
        if (!c->id || !c->issue_us || c->issue_us < start || c->issue_us >= end)
            continue;
        int k = kind_of(c);
        t->calls++;
        t->sync += c->sync;
        if (c->issue_us < fault && (!c->dones || c->done_us >= fault))
            t->inflight++;
        if (c->dones)
            t->by[k]++;
        if (c->runs > 1) {
            t->twice++;
            bad(name, c, "executed twice");
        }
        int64_t wait = c->dones ? c->done_us - c->issue_us : INT64_MAX;
        if (c->dones && wait > t->max_wait_us)
            t->max_wait_us = wait;
        if (wait > limit_us) {
            t->hung++;
            bad(name, c, c->dones ? "completed after its timeout plus the link's bound" : "never completed");
            continue;
        }
        const char *why = c->dones > 1 ? "completed twice"
            : c->wrong ? "a wrong reply"
            : k == K_OK && c->runs != 1 ? "ok, but it did not run exactly once"
            : k == K_ENOLINK && c->runs ? "-UIPC_ENOLINK (not sent), but it ran"
            : !allow[k] ? "an error this fault does not explain" : NULL;
        if (why) {
            t->bad++;
            bad(name, c, why);
        }
        if (c->issue_us >= end - 1000000) {
            t->tail++;
            t->tail_ok += k == K_OK;
        }
    }
    if (!t->tail_ok) {
        fprintf(stderr, "bridge-check: %s: no call was ok in its last second (%lu issued then)\n", name,
                t->tail);
        failures++;
    }
}

static void row(const char *name, const struct tally *t)
{
    char errs[200];
    int n = 0;
    errs[0] = '\0';
    for (int k = 1; k < K_COUNT; k++)
        if (t->by[k])
            n += snprintf(errs + n, sizeof(errs) - (size_t)n, "%s%s %lu", n ? ", " : "", kinds[k], t->by[k]);
    printf("| %-22s | %6lu | %9lu | %7lu | %-38s | %5lu | %4lu | %7" PRId64 " |\n", name, t->calls, t->inflight,
           t->by[K_OK], n ? errs : "-", t->twice, t->hung, t->max_wait_us / 1000);
}

static int by_done_desc(const void *a, const void *b)
{
    const struct call *x = *(const struct call *const *)a, *y = *(const struct call *const *)b;
    return (x->done_us < y->done_us) - (x->done_us > y->done_us);
}

/* -r: the last n completions are ok, of calls issued after since_us. */
static int recovered(int64_t since_us, unsigned long n)
{
    const struct call **v = malloc(cap * sizeof(*v));
    size_t m = 0;
    int r = 0;
    for (size_t i = 0; v && i < cap; i++)
        if (calls[i].id && calls[i].dones && calls[i].done_us >= since_us)
            v[m++] = &calls[i];
    if (!v || m < n)
        r = 1;
    else
        qsort(v, m, sizeof(*v), by_done_desc);
    for (size_t k = 0; r == 0 && k < n; k++)
        if (v[k]->issue_us < since_us || kind_of(v[k]) != K_OK)
            r = 1;
    free(v);
    return r;
}

int main(int argc, char **argv)
{
    long timeout_ms = 1000, bound_ms = 500;
    int64_t since = -1;
    unsigned long n = 100;
    int opt;
    while ((opt = getopt(argc, argv, "t:b:r:n:")) != -1) {
        switch (opt) {
        case 't': timeout_ms = strtol(optarg, NULL, 10); break;
        case 'b': bound_ms = strtol(optarg, NULL, 10); break;
        case 'r': since = strtoll(optarg, NULL, 10); break;
        case 'n': n = strtoul(optarg, NULL, 10); break;
        default: return 2;
        }
    }
    size_t nc, ns = 0;
    if (argc - optind != (since >= 0 ? 1 : 2)) {
        fprintf(stderr, "usage: bridge-check [-t MS] [-b MS] CLIENT SERVER < SCENARIOS | "
                        "bridge-check -r SINCE_US [-n N] CLIENT\n");
        return 2;
    }
    struct bridge_rec *cr = load(argv[optind], &nc), *sr = NULL;
    join_client(cr, nc);
    if (since >= 0) {
        int r = recovered(since, n);
        free(cr);
        free(calls);
        return r;
    }
    sr = load(argv[optind + 1], &ns);
    join_server(sr, ns);
    printf("| %-22s | %6s | %9s | %7s | %-38s | %5s | %4s | %7s |\n", "fault", "calls", "in flight",
           "ok", "with error (by code)", "twice", "hung", "max ms");
    printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------", "--------", "-----------", "---------",
           "----------------------------------------", "-------", "------", "---------");
    char line[512], name[64], allowed[128];
    long long start, fault, end;
    while (fgets(line, sizeof(line), stdin)) {
        if (sscanf(line, "%63s %lld %lld %lld %127s", name, &start, &fault, &end, allowed) != 5)
            continue;
        struct tally t = { 0 };
        judge(name, start, fault, end, allowed, (timeout_ms + bound_ms) * 1000, &t);
        row(name, &t);
    }
    if (unknown_runs) {
        fprintf(stderr, "bridge-check: the server ran %lu call(s) the client never issued\n", unknown_runs);
        failures++;
    }
    printf("client records: %zu, server executions: %zu, calls: %zu\n", nc, ns, ncalls);
    free(cr);
    free(sr);
    free(calls);
    return failures ? 1 : 0;
}
