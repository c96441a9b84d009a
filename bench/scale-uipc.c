/* SPDX-License-Identifier: MIT */
/* uipc-scale-bench's uipc rows: one server module and N client modules,
 * real processes set up by the test bed, one channel each; every client
 * keeps `depth` asynchronous calls in flight and sleeps while it waits. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "bed.h"
#include "bench-uipc.h"
#include "scale-client.h"
#include "uipc/module.h"

#define SCALE_SLOTS 64 /* per channel: SCALE_DEPTH_MAX fits */

struct rec {
    struct cl *cl;
    uint64_t seq, t0;
};

/* One client process's state. */
struct cl {
    uipc_chan *ch;
    struct scale_shared *sh;
    struct scale_client *out;
    size_t size;
    uint64_t next_seq;
    unsigned inflight;
    int err;
    struct rec rec[SCALE_DEPTH_MAX];
};

struct client_arg {
    const struct scale_opts *o;
    struct scale_shared *sh;
    unsigned idx;
};

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct rec *r = arg;
    if (r->cl->size > cap)
        return -UIPC_ETOOBIG;
    memset(buf, (int)(r->seq & 0xff), r->cl->size);
    memcpy(buf, &r->seq, sizeof(r->seq));
    *len = r->cl->size;
    return 0;
}

/* The server flips every byte (bench-uipc.c): a reply that is not this
 * call's request flipped came from somewhere else. */
static void reply(int status, const void *data, size_t len, void *arg)
{
    struct rec *r = arg;
    uint64_t got;
    memcpy(&got, data, sizeof(got));
    if (status != 0 || len != r->cl->size || ~got != r->seq)
        r->cl->out->mismatches++;
}

static void complete(int status, void *arg);

static void issue(struct rec *r, uint64_t now)
{
    struct cl *c = r->cl;
    struct uipc_call call = { .fill = fill, .reply = reply, .complete = complete, .arg = r };
    r->seq = ++c->next_seq;
    r->t0 = now;
    int e = uipc_call(c->ch, &call);
    if (e < 0 && !c->err)
        c->err = e;
    c->inflight += e == 0;
}

/* Runs from uipc_poll: the clock is read here, so the latency includes
 * the client's own wake-up, as any caller's does. */
static void complete(int status, void *arg)
{
    struct rec *r = arg;
    struct cl *c = r->cl;
    uint64_t now = bench_now_ns();
    c->inflight--;
    if (status != 0)
        c->out->mismatches++;
    scale_record(c->sh, c->out, r->t0, now);
    if (now < c->sh->t_end && !c->err)
        issue(r, now);
}

static int client_run(uipc_module *m, struct cl *c, unsigned depth)
{
    uint64_t now = bench_now_ns();
    for (unsigned i = 0; i < depth && !c->err; i++)
        issue(&c->rec[i], now);
    while (c->inflight > 0) {
        int r = uipc_poll(m, -1);
        if (r < 0)
            return r;
    }
    return c->err;
}

static int client_main(void *arg)
{
    const struct client_arg *a = arg;
    static struct cl c;
    uipc_module *m;
    c = (struct cl){ .sh = a->sh, .out = &a->sh->c[a->idx], .size = 64 };
    for (unsigned i = 0; i < SCALE_DEPTH_MAX; i++)
        c.rec[i].cl = &c;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int r = uipc_module_open(&m);
    if (r < 0)
        return c.out->err = r, 1;
    uipc_set_spin(m, 0); /* 64 clients on two CPUs: a spinning client starves the rest */
    bench_pin(a->o->cpu_client);
    r = uipc_connect(m, BENCH_UIPC_SERVICE, &c.ch);
    if (r == 0) { /* the first call sets everything up, outside the window */
        struct uipc_call call = { .fill = fill, .reply = reply, .arg = &c.rec[0] };
        c.rec[0].seq = ++c.next_seq;
        r = uipc_call(c.ch, &call);
    }
    if (r == 0) {
        scale_client_wait_go(a->sh);
        r = client_run(m, &c, a->o->depth);
    }
    c.out->err = r;
    uipc_module_close(m);
    return r < 0 ? 1 : 0;
}

static int server_main(void *arg)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    return bench_uipc_server(arg);
}

static int build(struct uipc_bed *b, struct uipc_bench *ub, struct client_arg *args, unsigned n)
{
    int srv = uipc__bed_module(b, "scale-server", server_main, ub);
    for (unsigned i = 0; i < n && srv >= 0; i++) {
        char name[32];
        snprintf(name, sizeof(name), "scale-client-%u", i);
        int cli = uipc__bed_module(b, name, client_main, &args[i]);
        if (cli < 0)
            return cli;
        int ch = uipc__bed_channel(b, cli, srv, BENCH_UIPC_SERVICE, SCALE_SLOTS, 4096);
        if (ch < 0)
            return ch;
    }
    return srv < 0 ? srv : uipc__bed_start_all(b);
}

/* Every client exits on its own once the window is over; the server runs
 * until the bed kills it.  A client's failure is in its figures. */
static int wait_clients(struct uipc_bed *b, unsigned n)
{
    int err = 0;
    for (unsigned left = n; left > 0; left--) {
        int st, id = uipc__bed_wait(b, -1, 60000, &st);
        if (id < 0)
            return id;
        if (id == 0) /* module 0 is the server */
            return -EPIPE;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            err = -EIO;
    }
    return err;
}

int scale_uipc(const struct scale_opts *o, enum scale_mode mode, unsigned n, struct scale_point *pt)
{
    struct bench_opts bo = { .cpu_server = o->cpu_server, .cpu_client = o->cpu_client };
    struct uipc_bench ub = { .o = &bo, .sleep_mode = mode == SCALE_SLEEP };
    struct client_arg args[SCALE_MAX_CLIENTS];
    pid_t pids[SCALE_MAX_CLIENTS];
    struct uipc_bed *b;
    struct scale_shared *sh = scale_map();
    if (!sh)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++)
        args[i] = (struct client_arg){ .o = o, .sh = sh, .idx = i };
    int err = uipc__bed_new(&b);
    if (err == 0) {
        err = build(b, &ub, args, n);
        for (unsigned i = 0; i < n; i++)
            pids[i] = uipc__bed_pid(b, (int)i + 1);
        if (err == 0)
            err = scale_drive(o, sh, n, uipc__bed_pid(b, 0), pids, pt);
        if (err == 0)
            err = wait_clients(b, n);
        uipc__bed_free(b); /* kills and reaps the server */
    }
    int cerr = scale_collect(o, sh, n, pt);
    scale_unmap(sh);
    return err ? err : cerr;
}
