/* SPDX-License-Identifier: MIT */
/* uipc-bench harness: runs a transport's server and client as two pinned,
 * supervised child processes, and the client's sync and pipelined loops. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

enum { SERVER, CLIENT, SIDES };

static const char *const side_name[SIDES] = { "server", "client" };

uint64_t bench_total_calls(const struct bench_opts *o)
{
    return (uint64_t)o->warmup + o->iters + o->async_calls;
}

int bench_close(int *fd)
{
    if (*fd < 0)
        return 0;
    int rc = close(*fd);
    *fd = -1;
    /* Linux releases the descriptor even when close reports EINTR. */
    return rc && errno != EINTR ? -errno : 0;
}

int bench_kill_reap(pid_t pid)
{
    int rc = kill(pid, SIGKILL) ? -errno : 0;
    while (waitpid(pid, NULL, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return rc;
}

/* ---- the client's loops ------------------------------------------------ */

struct loop {
    const struct bench_client_ops *ops;
    void    *ctx;
    size_t   n;
    uint64_t sent, taken, mismatches;
    unsigned char reply[BENCH_MSG_MAX];
};

/* Distinct per call and per word, so a stale, shifted or crossed reply
 * cannot pass for the right one. */
static void fill(void *dst, size_t n, uint64_t seq)
{
    uint64_t w[BENCH_MSG_MAX / 8];

    for (size_t i = 0; i < BENCH_MSG_MAX / 8; i++)
        w[i] = seq * UINT64_C(0x9e3779b97f4a7c15) + i;
    memcpy(dst, w, n);
}

static void verify(struct loop *l)
{
    unsigned char want[BENCH_MSG_MAX];

    fill(want, l->n, l->taken - 1);
    l->mismatches += memcmp(l->reply, want, l->n) != 0;
}

static int post(struct loop *l)
{
    void *req;
    int rc = l->ops->loan(l->ctx, &req);

    if (rc)
        return rc;
    fill(req, l->n, l->sent++);
    return l->ops->send(l->ctx, req);
}

/* Copies the reply out before releasing it, as a caller that uses the reply
 * must; the copy is part of what a round trip costs. */
static int take(struct loop *l)
{
    const void *rep;
    int rc = l->ops->recv(l->ctx, &rep);

    if (rc)
        return rc;
    memcpy(l->reply, rep, l->n);
    l->taken++;
    return l->ops->release(l->ctx, rep);
}

/* Checking happens after the second timestamp: it is the benchmark's work,
 * not the transport's. */
static int round_trip(struct loop *l, uint64_t *ns)
{
    uint64_t t0 = bench_now_ns();
    int rc = post(l);

    if (!rc)
        rc = take(l);
    if (ns)
        *ns = bench_now_ns() - t0;
    if (!rc)
        verify(l);
    return rc;
}

static int sync_run(struct loop *l, unsigned long count, uint64_t *samples)
{
    for (unsigned long i = 0; i < count; i++) {
        int rc = round_trip(l, samples ? &samples[i] : NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static int async_run(struct loop *l, uint64_t calls, unsigned depth,
                     double *calls_per_s)
{
    uint64_t end = l->sent + calls;
    uint64_t t0 = bench_now_ns();

    while (l->taken < end) {
        while (l->sent < end && l->sent - l->taken < depth) {
            int rc = post(l);
            if (rc)
                return rc;
        }
        int rc = take(l);
        if (rc)
            return rc;
        verify(l);
    }
    uint64_t ns = bench_now_ns() - t0;
    *calls_per_s = ns ? (double)calls * 1e9 / (double)ns : 0.0;
    return 0;
}

int bench_client_loops(const struct bench_client_ops *ops, void *ctx,
                       const struct bench_opts *o, struct bench_shared *sh)
{
    struct loop l = { .ops = ops, .ctx = ctx, .n = o->msg_size };

    /* Fault the sample pages in now, not one page per 512 timed calls. */
    memset(sh->samples, 0, o->iters * sizeof sh->samples[0]);
    int rc = sync_run(&l, o->warmup, NULL);
    if (!rc)
        rc = sync_run(&l, o->iters, sh->samples);
    if (!rc)
        rc = async_run(&l, o->async_calls, o->depth, &sh->calls_per_s);
    sh->mismatches = l.mismatches;
    return rc;
}

/* ---- the process pair -------------------------------------------------- */

/* A child must never outlive the benchmark: a spinning orphan would skew
 * every later measurement on the machine. */
static int child_setup(pid_t parent, int cpu)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        return -errno;
    if (getppid() != parent)
        return -ESRCH;  /* the parent died before the death signal was armed */
    /* A dead peer then shows as EPIPE from write, not as a silent kill. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        return -errno;
    return bench_pin(cpu);
}

static _Noreturn void child(int side, pid_t parent, const struct bench_opts *o,
                            struct bench_pair *p, struct bench_shared *sh)
{
    int rc = child_setup(parent, side == SERVER ? o->cpu_server : o->cpu_client);

    if (!rc)
        rc = (side == SERVER ? p->server : p->client)(p->ctx, o, sh);
    if (side == CLIENT)
        atomic_store_explicit(&sh->client_done, 1, memory_order_release);
    int code = rc >= 0 ? 0 : -rc < 255 ? -rc : 255;
    if (p->exit_normally)
        exit(code);  /* stdio was flushed before the fork: nothing doubles */
    /* _exit: the parent's atexit handlers and destructors are not ours. */
    _exit(code);
}

static pid_t spawn(int side, const struct bench_opts *o, struct bench_pair *p,
                   struct bench_shared *sh)
{
    pid_t parent = getpid();
    pid_t pid = fork();

    if (pid < 0)
        return -errno;
    if (pid == 0)
        child(side, parent, o, p, sh);
    return pid;
}

static int kill_all(const pid_t kid[SIDES])
{
    int rc = 0;

    for (int i = 0; i < SIDES; i++) {
        if (kid[i] > 0 && kill(kid[i], SIGKILL) != 0 && !rc)
            rc = -errno;
    }
    return rc;
}

/* A side killed by a signal broke the pair the way a dead peer does. */
static int status_rc(int st)
{
    if (WIFEXITED(st))
        return -WEXITSTATUS(st);
    return -EPIPE;
}

static void describe(struct bench_result *r, const char *who, int st)
{
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        snprintf(r->note, sizeof r->note, "%s exited early", who);
    else if (WIFEXITED(st))
        snprintf(r->note, sizeof r->note, "%s failed: %s", who,
                 strerror(WEXITSTATUS(st)));
    else
        snprintf(r->note, sizeof r->note, "%s killed by signal %d", who,
                 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* The first failure kills the survivor, which may be spinning on a peer
 * that will never answer. */
static void on_exit_of(pid_t pid, int st, pid_t kid[SIDES], struct bench_pair *p,
                       struct bench_result *r, int *rc)
{
    int i = pid == kid[SERVER] ? SERVER : pid == kid[CLIENT] ? CLIENT : -1;
    int crc = i < 0 ? -EPIPE : status_rc(st);

    if (i >= 0)
        kid[i] = 0;
    else if (pid == p->guard)
        p->guard = 0;
    else
        return;  /* not ours to judge */
    if (crc && !*rc) {
        *rc = crc;
        describe(r, i < 0 ? "broker" : side_name[i], st);
        int krc = kill_all(kid);
        if (krc)
            *rc = krc;
    }
}

static int supervise(pid_t kid[SIDES], struct bench_pair *p,
                     struct bench_result *r, int rc)
{
    if (rc) {
        int krc = kill_all(kid);
        if (krc)
            rc = krc;
    }
    while (kid[SERVER] > 0 || kid[CLIENT] > 0) {
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            return rc ? rc : -errno;
        }
        on_exit_of(pid, st, kid, p, r, &rc);
    }
    return rc;
}

static int run_children(const struct bench_opts *o, struct bench_pair *p,
                        struct bench_shared *sh, struct bench_result *r)
{
    pid_t kid[SIDES] = { 0, 0 };

    if (p->exit_normally && fflush(NULL) == EOF)
        return -errno;
    kid[SERVER] = spawn(SERVER, o, p, sh);
    if (kid[SERVER] < 0)
        return kid[SERVER];
    kid[CLIENT] = spawn(CLIENT, o, p, sh);
    if (kid[CLIENT] < 0) {
        int rc = kid[CLIENT];
        int krc = bench_kill_reap(kid[SERVER]);
        return krc ? krc : rc;
    }
    return supervise(kid, p, r, p->forked ? p->forked(p->ctx) : 0);
}

static int collect(const struct bench_opts *o, struct bench_shared *sh,
                   struct bench_result *r)
{
    bench_percentiles(sh->samples, o->iters, r);
    r->calls_per_s = sh->calls_per_s;
    if (!sh->mismatches)
        return 0;
    snprintf(r->note, sizeof r->note, "%llu replies differed from their request",
             (unsigned long long)sh->mismatches);
    return -EIO;
}

static int opts_ok(const struct bench_opts *o)
{
    return o->iters > 0 && o->msg_size > 0 && o->msg_size <= BENCH_MSG_MAX &&
           o->depth > 0 && o->depth <= BENCH_DEPTH_MAX &&
           o->iters <= (SIZE_MAX - sizeof(struct bench_shared)) / sizeof(uint64_t);
}

int bench_run_pair(const struct bench_opts *o, struct bench_pair *p,
                   struct bench_result *r)
{
    if (!opts_ok(o))
        return -EINVAL;
    size_t len = sizeof(struct bench_shared) + o->iters * sizeof(uint64_t);
    struct bench_shared *sh = mmap(NULL, len, PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return -errno;
    int rc = run_children(o, p, sh, r);
    if (!rc)
        rc = collect(o, sh, r);
    if (munmap(sh, len) != 0 && !rc)
        rc = -errno;
    return rc;
}
