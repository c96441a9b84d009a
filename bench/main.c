/* SPDX-License-Identifier: MIT */
/* uipc-bench: measures uipc's 64-byte round trips against the baselines
 * (raw-ring floor, unix-socket, pipe, iceoryx), and uipc-bridge's against
 * NNG's own (nng-pair1) and TCP's (tcp-socket), and checks the targets. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "uipc/module.h"  /* uipc_strerror: names errno and uipc codes alike */

struct transport {
    const char *name;
    int (*run)(const struct bench_opts *o, struct bench_result *r);
};

struct outcome {
    struct bench_result r;
    int ran, rc;
};

struct cli {
    struct bench_opts o;
    int json;
    unsigned only;  /* bit i selects transports[i]; 0: all */
};

static int uipc_spin(const struct bench_opts *o, struct bench_result *r)
{
    return bench_uipc(o, 0, r);
}

static int uipc_sleep(const struct bench_opts *o, struct bench_result *r)
{
    return bench_uipc(o, 1, r);
}

static const struct transport transports[] = {
    { "raw-ring", bench_raw_ring },
    { "line-floor", bench_line_floor },
    { "uipc-spin", uipc_spin },
    { "uipc-sleep", uipc_sleep },
    { "unix-socket", bench_unix_socket },
    { "pipe", bench_pipe },
    { "iceoryx", bench_iceoryx },
    { "tcp-socket", bench_tcp_socket },
    { "nng-pair1", bench_nng_pair1 },
    { "uipc-bridge", bench_uipc_bridge },
};

#define NTRANSPORTS (sizeof transports / sizeof transports[0])

enum metric { MEDIAN, CALLS };

/* The spec's targets (issue #2; the bridge's: issue #19; the floor's: #20): value(a) /
 * value(b) against limit, <= for latency and >= for throughput. */
static const struct target {
    const char *text, *a, *b;
    enum metric m;
    double limit;
} targets[] = {
    { "uipc-spin median <= 1.5x raw-ring", "uipc-spin", "raw-ring", MEDIAN, 1.5 },
    { "uipc-spin median <= 0.2x iceoryx", "uipc-spin", "iceoryx", MEDIAN, 0.2 },
    { "uipc-spin median <= 1/30 unix-socket", "uipc-spin", "unix-socket", MEDIAN, 1.0 / 30 },
    { "uipc-sleep median <= unix-socket median", "uipc-sleep", "unix-socket", MEDIAN, 1.0 },
    { "uipc-spin async calls/s >= 0.5x raw-ring", "uipc-spin", "raw-ring", CALLS, 0.5 },
    { "uipc-spin median <= 1.2x line-floor", "uipc-spin", "line-floor", MEDIAN, 1.2 },
    { "uipc-spin async calls/s >= 0.8x raw-ring", "uipc-spin", "raw-ring", CALLS, 0.8 },
    { "uipc-sleep async calls/s >= pipe", "uipc-sleep", "pipe", CALLS, 1.0 },
    { "bridge median <= 1.3x nng-pair1", "uipc-bridge", "nng-pair1", MEDIAN, 1.3 },
    { "bridge async calls/s >= 0.5x nng-pair1", "uipc-bridge", "nng-pair1", CALLS, 0.5 },
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: uipc-bench [--iters N] [--warmup N] [--async N] [--depth N] [--size N]\n"
            "                  [--only NAME[,NAME...]] [--cpus A,B|none] [--json]\n"
            "transports: raw-ring line-floor uipc-spin uipc-sleep unix-socket pipe iceoryx\n"
            "            tcp-socket nng-pair1 uipc-bridge\n");
}

/* ---- options ----------------------------------------------------------- */

static int parse_ulong(const char *s, unsigned long *v)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -EINVAL;  /* strtoul would quietly accept "-1" */
    errno = 0;
    *v = strtoul(s, &end, 10);
    return errno ? -errno : *end ? -EINVAL : 0;
}

static int find_transport(const char *name)
{
    for (size_t i = 0; i < NTRANSPORTS; i++) {
        if (strcmp(transports[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

static int parse_only(char *list, unsigned *mask)
{
    char *save = NULL;

    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int i = find_transport(t);
        if (i < 0) {
            fprintf(stderr, "uipc-bench: unknown transport '%s'\n", t);
            return -EINVAL;
        }
        *mask |= 1u << i;
    }
    return *mask ? 0 : -EINVAL;
}

static int parse_cpus(const char *s, int *a, int *b)
{
    char *end;

    if (strcmp(s, "none") == 0) {
        *a = *b = -1;
        return 0;
    }
    long x = strtol(s, &end, 10);
    if (end == s || *end != ',' || x < 0 || x >= CPU_SETSIZE)
        return -EINVAL;
    s = end + 1;
    long y = strtol(s, &end, 10);
    if (end == s || *end || y < 0 || y >= CPU_SETSIZE)
        return -EINVAL;
    *a = (int)x;
    *b = (int)y;
    return 0;
}

static int allowed_cpus(cpu_set_t *set)
{
    return sched_getaffinity(0, sizeof *set, set) ? -errno : 0;
}

/* The first two CPUs this process may run on: 0,1 on most machines, but
 * still right inside a cpuset that excludes CPU 0. */
static void default_cpus(struct bench_opts *o)
{
    int cpus[2], found = 0;
    cpu_set_t set;

    o->cpu_client = o->cpu_server = -1;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || allowed_cpus(&set) != 0)
        return;  /* no pinning: still a valid, if noisier, run */
    for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
        if (CPU_ISSET(cpu, &set))
            cpus[found++] = cpu;
    }
    if (found == 2) {
        o->cpu_client = cpus[0];
        o->cpu_server = cpus[1];
    }
}

/* Caught here, a bad --cpus is one clear message instead of every
 * transport failing with EINVAL from sched_setaffinity. */
static int check_cpus(const struct bench_opts *o)
{
    cpu_set_t set;
    int rc = allowed_cpus(&set);

    if (rc)
        return rc;
    if ((o->cpu_client >= 0 && !CPU_ISSET(o->cpu_client, &set)) ||
        (o->cpu_server >= 0 && !CPU_ISSET(o->cpu_server, &set)))
        return -EINVAL;
    return 0;
}

static int apply_opt(int c, char *arg, struct cli *cl)
{
    unsigned long v = 0;
    int rc = 0;

    switch (c) {
    case 'i': rc = parse_ulong(arg, &cl->o.iters); break;
    case 'w': rc = parse_ulong(arg, &cl->o.warmup); break;
    case 'a': rc = parse_ulong(arg, &cl->o.async_calls); break;
    case 'd':
        rc = parse_ulong(arg, &v);
        if (!rc && (v < 1 || v > BENCH_DEPTH_MAX))
            rc = -ERANGE;
        cl->o.depth = (unsigned)v;
        break;
    case 's':
        rc = parse_ulong(arg, &v);
        if (!rc && (v < 8 || v > BENCH_MSG_MAX))
            rc = -ERANGE; /* 8: the uipc rows stamp each request with a sequence number */
        cl->o.msg_size = v;
        break;
    case 'o': rc = parse_only(arg, &cl->only); break;
    case 'c':
        rc = parse_cpus(arg, &cl->o.cpu_client, &cl->o.cpu_server);
        if (!rc)
            rc = check_cpus(&cl->o);
        break;
    case 'j': cl->json = 1; break;
    default: rc = -EINVAL;
    }
    return rc;
}

/* 0: run, 1: --help shown, -1: bad usage. */
static int parse_args(int argc, char **argv, struct cli *cl)
{
    static const struct option longopts[] = {
        { "iters", required_argument, NULL, 'i' },
        { "warmup", required_argument, NULL, 'w' },
        { "async", required_argument, NULL, 'a' },
        { "depth", required_argument, NULL, 'd' },
        { "size", required_argument, NULL, 's' },
        { "only", required_argument, NULL, 'o' },
        { "cpus", required_argument, NULL, 'c' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c, idx = -1;

    while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (apply_opt(c, optarg, cl) != 0) {
            if (c != '?' && idx >= 0)
                fprintf(stderr, "uipc-bench: bad value for --%s: '%s'\n",
                        longopts[idx].name, optarg);
            usage(stderr);
            return -1;
        }
        idx = -1;
    }
    if (optind < argc || cl->o.iters == 0) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- running ----------------------------------------------------------- */

static void run_all(const struct cli *cl, struct outcome out[NTRANSPORTS])
{
    for (size_t i = 0; i < NTRANSPORTS; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].r.transport = transports[i].name;
        if (cl->only && !(cl->only & (1u << i)))
            continue;
        out[i].ran = 1;
        /* Children inherit unflushed stdio; flush so nothing is printed
         * twice.  A write error stays in ferror(stdout), checked at exit. */
        (void)fflush(stdout);
        out[i].rc = transports[i].run(&cl->o, &out[i].r);
    }
}

/* Usable as a reference value: ran, succeeded and was not skipped. */
static const struct bench_result *usable(const struct outcome out[NTRANSPORTS],
                                         const char *name)
{
    int i = find_transport(name);

    if (i < 0 || !out[i].ran || out[i].rc || out[i].r.skipped)
        return NULL;
    return &out[i].r;
}

/* ---- table output ------------------------------------------------------ */

static void print_ratio(double num, double den)
{
    if (den > 0.0)
        printf("  %17.2fx", num / den);
    else
        printf("  %18s", "-");
}

static void print_row(const struct outcome *x, const struct bench_result *raw)
{
    const struct bench_result *r = &x->r;

    printf("%-12s", r->transport);
    if (x->rc) {
        printf("  error: %s%s%s%s\n", uipc_strerror(x->rc), r->note[0] ? " (" : "",
               r->note, r->note[0] ? ")" : "");
        return;
    }
    if (r->skipped) {
        printf("  skipped: %s\n", r->note);
        return;
    }
    printf("  %10.0f  %10.0f  %10.0f  %12.0f", r->median_ns, r->p99_ns, r->p999_ns,
           r->calls_per_s);
    print_ratio(r->median_ns, raw ? raw->median_ns : 0.0);
    print_ratio(r->calls_per_s, raw ? raw->calls_per_s : 0.0);
    printf("\n");
}

static void print_targets(const struct outcome out[NTRANSPORTS])
{
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        const struct target *t = &targets[i];
        const struct bench_result *a = usable(out, t->a), *b = usable(out, t->b);
        if (!a || !b)
            continue;
        double va = t->m == MEDIAN ? a->median_ns : a->calls_per_s;
        double vb = t->m == MEDIAN ? b->median_ns : b->calls_per_s;
        if (vb <= 0.0)
            continue;
        double ratio = va / vb;
        int pass = t->m == MEDIAN ? ratio <= t->limit : ratio >= t->limit;
        printf("target: %s: %.3gx %s\n", t->text, ratio, pass ? "PASS" : "MISS");
    }
}

/* Side by side in one run, beyond the raw-ring columns: what the bridge
 * adds to NNG, and what NNG adds to TCP. */
static const struct ratio_pair {
    const char *a, *b;
} ratios[] = {
    { "uipc-bridge", "nng-pair1" },
    { "nng-pair1", "tcp-socket" },
};

static void print_ratios(const struct outcome out[NTRANSPORTS])
{
    for (size_t i = 0; i < sizeof ratios / sizeof ratios[0]; i++) {
        const struct bench_result *a = usable(out, ratios[i].a), *b = usable(out, ratios[i].b);
        if (!a || !b || b->median_ns <= 0.0 || b->p99_ns <= 0.0 || b->calls_per_s <= 0.0)
            continue;
        printf("ratio: %s / %s: median %.3gx, p99 %.3gx, calls/s %.3gx\n", ratios[i].a, ratios[i].b,
               a->median_ns / b->median_ns, a->p99_ns / b->p99_ns, a->calls_per_s / b->calls_per_s);
    }
}

static void print_table(const struct cli *cl, const struct outcome out[NTRANSPORTS])
{
    const struct bench_result *raw = usable(out, "raw-ring");

    printf("%lu round trips (+%lu warm-up), %lu pipelined calls at depth %u, "
           "%zu-byte messages, cpus %d,%d\n\n",
           cl->o.iters, cl->o.warmup, cl->o.async_calls, cl->o.depth,
           cl->o.msg_size, cl->o.cpu_client, cl->o.cpu_server);
    printf("%-12s  %10s  %10s  %10s  %12s  %18s  %18s\n", "transport", "median ns",
           "p99 ns", "p99.9 ns", "calls/s", "median/raw-ring", "calls/s / raw-ring");
    for (size_t i = 0; i < NTRANSPORTS; i++) {
        if (out[i].ran)
            print_row(&out[i], raw);
    }
    printf("\n");
    for (size_t i = 0; i < NTRANSPORTS; i++) {
        if (out[i].ran && !out[i].rc && !out[i].r.skipped && out[i].r.note[0])
            printf("note: %s: %s\n", out[i].r.transport, out[i].r.note);
    }
    print_ratios(out);
    print_targets(out);
}

/* ---- JSON output ------------------------------------------------------- */

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void json_row(const struct outcome *x)
{
    const struct bench_result *r = &x->r;

    printf("{\"transport\": ");
    json_string(r->transport);
    if (x->rc) {
        printf(", \"error\": ");
        json_string(uipc_strerror(x->rc));
    } else if (r->skipped) {
        printf(", \"skipped\": true");
    } else {
        printf(", \"median_ns\": %.0f, \"p99_ns\": %.0f, \"p999_ns\": %.0f, "
               "\"calls_per_s\": %.0f", r->median_ns, r->p99_ns, r->p999_ns,
               r->calls_per_s);
    }
    if (r->note[0]) {
        printf(", \"note\": ");
        json_string(r->note);
    }
    printf("}");
}

static void print_json(const struct outcome out[NTRANSPORTS])
{
    const char *sep = "";

    printf("[");
    for (size_t i = 0; i < NTRANSPORTS; i++) {
        if (!out[i].ran)
            continue;
        printf("%s\n  ", sep);
        json_row(&out[i]);
        sep = ",";
    }
    printf("\n]\n");
}

int main(int argc, char **argv)
{
    struct cli cl = {
        .o = { .iters = 200000, .warmup = 20000, .async_calls = 1000000,
               .depth = 32, .msg_size = 64 },
    };
    struct outcome out[NTRANSPORTS];
    int failed = 0;

    default_cpus(&cl.o);
    int p = parse_args(argc, argv, &cl);
    if (p)
        return p > 0 ? 0 : 2;
    run_all(&cl, out);
    if (cl.json)
        print_json(out);
    else
        print_table(&cl, out);
    for (size_t i = 0; i < NTRANSPORTS; i++)
        failed |= out[i].ran && out[i].rc;
    /* A lost or truncated report must not look like a clean run. */
    if (fflush(stdout) == EOF || ferror(stdout)) {
        perror("uipc-bench: stdout");
        return 1;
    }
    return failed ? 1 : 0;
}
