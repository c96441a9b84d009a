/* SPDX-License-Identifier: MIT */
/* uipc itself: a client module calling a server module through libmodule,
 * two real processes set up by the test bed, spinning or sleeping.  The
 * same two modules run the uipc-bridge row (uipc-bridge.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "bed.h"
#include "bench-uipc.h"
#include "uipc/module.h"

struct call_ctx {
    uipc_chan *ch;
    size_t size;
    uint64_t seq;       /* stamps each request, checked in its reply */
    uint64_t issued, completed, total, mismatches;
};

static uipc_module *server_m;

static void on_term(int sig)
{
    (void)sig;
    uipc_stop(server_m);
}

/* The reply is the request with every byte flipped: bytes really move
 * both ways, and the client can tell a reply from a stale request. */
static int flip_handler(uipc_req *req, void *ctx)
{
    (void)ctx;
    size_t len, cap;
    const unsigned char *in = uipc_req_data(req, &len);
    unsigned char *out = uipc_req_reply_buf(req, &cap);
    for (size_t i = 0; i < len; i++)
        out[i] = (unsigned char)~in[i];
    uipc_req_reply(req, len);
    return 0;
}

static void setup_module(uipc_module **m, const struct uipc_bench *ub, int cpu)
{
    int err = uipc_module_open(m);
    if (err < 0) {
        fprintf(stderr, "uipc-bench: uipc_module_open: %s\n", uipc_strerror(err));
        _exit(2);
    }
    if (ub->sleep_mode)
        uipc_set_spin(*m, 0);
    bench_pin(cpu);
}

int bench_uipc_server(void *arg)
{
    struct uipc_bench *ub = arg;
    setup_module(&server_m, ub, ub->o->cpu_server);
    signal(SIGTERM, on_term);
    if (uipc_serve(server_m, BENCH_UIPC_SERVICE, flip_handler, NULL) < 0)
        return 2;
    int r = uipc_run(server_m);
    uipc_module_close(server_m);
    return r < 0 ? 3 : 0;
}

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct call_ctx *c = arg;
    if (c->size > cap)
        return -UIPC_ETOOBIG;
    memset(buf, (int)(c->seq & 0xff), c->size);
    memcpy(buf, &c->seq, sizeof(c->seq));
    *len = c->size;
    return 0;
}

static void reply(int status, const void *data, size_t len, void *arg)
{
    struct call_ctx *c = arg;
    uint64_t got;
    memcpy(&got, data, sizeof(got));
    if (status != 0 || len != c->size || ~got != c->seq - (c->issued - c->completed - 1))
        c->mismatches++;
}

static void complete(int status, void *arg);

static int issue_async(struct call_ctx *c)
{
    struct uipc_call call = { .fill = fill, .reply = reply, .complete = complete, .arg = c };
    c->seq++;
    c->issued++;
    int r = uipc_call(c->ch, &call);
    if (r < 0) {
        c->seq--;
        c->issued--;
    }
    return r;
}

static void complete(int status, void *arg)
{
    struct call_ctx *c = arg;
    c->completed++;
    if (status != 0)
        c->mismatches++;
    if (c->issued < c->total && issue_async(c) < 0) {
        c->mismatches++;
        c->total = c->issued; /* stop instead of waiting forever */
    }
}

static int run_sync(struct uipc_bench *ub, struct call_ctx *c)
{
    struct uipc_call call = { .fill = fill, .reply = reply, .arg = c };
    const struct bench_opts *o = ub->o;
    for (unsigned long i = 0; i < o->warmup + o->iters; i++) {
        c->seq++;
        c->issued++;
        uint64_t t0 = bench_now_ns();
        int r = uipc_call(c->ch, &call);
        uint64_t t1 = bench_now_ns();
        c->completed++;
        if (r < 0)
            return r;
        if (i >= o->warmup)
            ub->sh->samples[i - o->warmup] = t1 - t0;
    }
    return 0;
}

static int run_async(uipc_module *m, struct uipc_bench *ub, struct call_ctx *c)
{
    c->issued = c->completed = 0;
    c->total = ub->o->async_calls;
    uint64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < ub->o->depth && c->issued < c->total; i++) {
        int r = issue_async(c);
        if (r < 0)
            return r;
    }
    while (c->completed < c->total) {
        int r = uipc_poll(m, -1);
        if (r < 0)
            return r;
    }
    ub->sh->calls_per_s = (double)c->total * 1e9 / (double)(bench_now_ns() - t0);
    return 0;
}

/* A service behind a bridge answers -UIPC_ENOLINK until the bridges' link
 * is up: wait for its first answer, 10 s at most, before anything is
 * measured.  Any other service answers the first call. */
static int first_answer(struct call_ctx *c)
{
    struct uipc_call call = { .fill = fill, .arg = c };
    struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
    int r = -UIPC_ENOLINK;
    for (int tries = 0; r == -UIPC_ENOLINK && tries < 1000; tries++) {
        if (tries)
            nanosleep(&pause, NULL);
        c->seq++;
        r = uipc_call(c->ch, &call);
    }
    return r < 0 ? r : 0;
}

/* The reply check above compares against the oldest call in flight, so the
 * pipelined run must answer in order; uipc answers one channel in order,
 * and a bridge keeps that order (one connection, answered in order). */
int bench_uipc_client(void *arg)
{
    struct uipc_bench *ub = arg;
    uipc_module *m;
    struct call_ctx c = { .size = ub->o->msg_size };
    setup_module(&m, ub, ub->o->cpu_client);
    int r = uipc_connect(m, BENCH_UIPC_SERVICE, &c.ch);
    if (r == 0)
        r = first_answer(&c);
    if (r == 0)
        r = run_sync(ub, &c);
    if (r == 0)
        r = run_async(m, ub, &c);
    ub->sh->mismatches = c.mismatches;
    ub->sh->err = r;
    uipc_module_close(m);
    return r < 0 ? 1 : 0;
}

int bench_uipc_map(struct uipc_bench *ub)
{
    size_t len = sizeof(*ub->sh) + ub->o->iters * sizeof(uint64_t);
    ub->sh = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ub->sh == MAP_FAILED) {
        ub->sh = NULL;
        return -errno;
    }
    return 0;
}

void bench_uipc_unmap(struct uipc_bench *ub)
{
    if (ub->sh)
        munmap(ub->sh, sizeof(*ub->sh) + ub->o->iters * sizeof(uint64_t));
    ub->sh = NULL;
}

int bench_uipc_collect(const struct uipc_bench *ub, int st, struct bench_result *r)
{
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return ub->sh->err < 0 ? ub->sh->err : -EIO;
    if (ub->sh->mismatches) {
        snprintf(r->note, sizeof r->note, "%llu replies differed from their request",
                 (unsigned long long)ub->sh->mismatches);
        return -EIO;
    }
    bench_percentiles(ub->sh->samples, ub->o->iters, r);
    r->calls_per_s = ub->sh->calls_per_s;
    return 0;
}

static int run_bed(struct uipc_bench *ub, struct bench_result *r)
{
    struct uipc_bed *b;
    int st, err = uipc__bed_new(&b);
    if (err < 0)
        return err;
    int srv = uipc__bed_module(b, "bench-server", bench_uipc_server, ub);
    int cli = uipc__bed_module(b, "bench-client", bench_uipc_client, ub);
    unsigned slots = ub->o->depth > 64 ? ub->o->depth : 64;
    err = uipc__bed_channel(b, cli, srv, BENCH_UIPC_SERVICE, slots, 4096);
    if (err >= 0)
        err = uipc__bed_start_all(b);
    if (err >= 0)
        err = uipc__bed_wait(b, cli, -1, &st);
    if (err >= 0)
        err = bench_uipc_collect(ub, st, r);
    uipc__bed_free(b); /* kills and reaps the server */
    return err < 0 ? err : 0;
}

int bench_uipc(const struct bench_opts *o, int sleep_mode, struct bench_result *r)
{
    struct uipc_bench ub = { .o = o, .sleep_mode = sleep_mode };
    memset(r, 0, sizeof(*r));
    r->transport = sleep_mode ? "uipc-sleep" : "uipc-spin";
    int err = bench_uipc_map(&ub);
    if (err == 0)
        err = run_bed(&ub, r);
    bench_uipc_unmap(&ub);
    return err;
}
