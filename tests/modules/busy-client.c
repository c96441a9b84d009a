/* SPDX-License-Identifier: MIT */
/* A client for the busy-server test: keeps the services named on its
 * command line saturated, and checks every echo.
 *
 *   busy-client [-a DEPTH] [-t THREADS] [-s SECONDS] SERVICE...
 *
 *   -a DEPTH    asynchronous calls kept in flight on each service, each
 *               reissued from its complete callback (pipelined)
 *   -t THREADS  threads per service, each making synchronous calls in a loop
 *   -s SECONDS  stop issuing after SECONDS, let every call in flight finish,
 *               report and exit; without it, run until the supervisor asks
 *               the module to stop (calls then in flight are abandoned)
 *
 * Every call must come back with its own payload: anything else (a
 * transport error, a wrong status or reply, a call never answered) is an
 * error.  On exit, one line per service and a total:
 *   busy-client: SERVICE: N ok, M errors
 *   busy-client: N calls ok, M errors
 * Exit status 0 only without errors. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uipc/module.h>

#define MAX_SERVICES 8
#define MAX_DEPTH 48      /* below the default 64 slots, with room for the threads */
#define MAX_THREADS 8     /* per service */
#define PAYLOAD 48
#define CALL_TIMEOUT_MS 60000 /* an honest server answers long before */
#define DRAIN_MS 30000    /* after -s: time for the calls in flight to come back */
#define JOIN_MS 30000     /* for the sync threads to finish their last calls */
#define MAX_REPORTS 10    /* error lines printed; the rest are only counted */

struct svc {
    const char *name;
    uipc_chan *ch;
    atomic_ulong ok, errors;
};

/* One call: an async record (main thread only: completions are delivered
 * from uipc_poll) or a sync call on a thread's stack. */
struct call {
    struct svc *s;
    unsigned char buf[PAYLOAD];
    bool replied, wrong, busy;
};

struct worker {
    struct svc *s;
    pthread_t tid;
    atomic_bool done;
};

static struct svc svcs[MAX_SERVICES];
static unsigned nsvcs;
static struct call recs[MAX_SERVICES][MAX_DEPTH];
static struct worker workers[MAX_SERVICES * MAX_THREADS];
static unsigned depth, nthreads, nworkers;
static atomic_ulong next_seq = 1, reports;
static atomic_bool stopping; /* no new calls */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* A payload no other call of this process carries: a wrong or swapped
 * reply cannot pass for a right one. */
static void stamp(struct call *c)
{
    unsigned long seq = atomic_fetch_add(&next_seq, 1);
    for (unsigned k = 0; k < PAYLOAD; k++)
        c->buf[k] = (unsigned char)(seq >> (8 * (k % sizeof(seq))) ^ (k * 151u));
    c->replied = c->wrong = false;
}

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct call *c = arg;
    if (cap < PAYLOAD)
        return -UIPC_ETOOBIG;
    memcpy(buf, c->buf, PAYLOAD);
    *len = PAYLOAD;
    return 0;
}

static void reply(int status, const void *data, size_t len, void *arg)
{
    struct call *c = arg;
    c->replied = true;
    c->wrong = status != PAYLOAD || len != PAYLOAD || memcmp(data, c->buf, PAYLOAD) != 0;
}

static void fail_call(struct svc *s, const char *what, int status)
{
    atomic_fetch_add(&s->errors, 1);
    if (atomic_fetch_add(&reports, 1) < MAX_REPORTS)
        printf("busy-client: error on %s: %s (status %d: %s)\n", s->name, what, status,
               uipc_strerror(status));
}

static void account(struct call *c, int status)
{
    if (status == PAYLOAD && c->replied && !c->wrong)
        atomic_fetch_add(&c->s->ok, 1);
    else
        fail_call(c->s, c->wrong ? "wrong reply" : "call failed", status);
}

static void complete(int status, void *arg);

/* Issues c asynchronously; on failure it stays idle for the main loop to
 * try again after its next poll. */
static void issue(struct call *c)
{
    stamp(c);
    struct uipc_call call = { .fill = fill, .reply = reply, .complete = complete, .arg = c,
                              .timeout_ms = CALL_TIMEOUT_MS };
    int err = uipc_call(c->s->ch, &call);
    c->busy = err == 0;
    if (err)
        fail_call(c->s, "async call not issued", err);
}

/* Pipelined: the next call goes out as soon as this one is back. */
static void complete(int status, void *arg)
{
    struct call *c = arg;
    c->busy = false;
    account(c, status);
    if (!atomic_load(&stopping))
        issue(c);
}

static void *sync_loop(void *arg)
{
    struct worker *w = arg;
    struct call c = { .s = w->s };
    while (!atomic_load(&stopping)) {
        stamp(&c);
        struct uipc_call call = { .fill = fill, .reply = reply, .arg = &c, .timeout_ms = CALL_TIMEOUT_MS };
        int st = uipc_call(w->s->ch, &call);
        account(&c, st);
        if (st != PAYLOAD)
            nap_ms(1); /* a service that is down fails at once: do not spin on it */
    }
    atomic_store(&w->done, true);
    return NULL;
}

static unsigned async_busy(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < nsvcs; i++)
        for (unsigned d = 0; d < depth; d++)
            n += recs[i][d].busy;
    return n;
}

/* Issues every idle async record: at the start, and again for those whose
 * call could not be issued (the service was down). */
static void refill(void)
{
    for (unsigned i = 0; i < nsvcs; i++)
        for (unsigned d = 0; d < depth; d++)
            if (!recs[i][d].busy)
                issue(&recs[i][d]);
}

/* Until the supervisor says stop, uipc_poll fails, or end_ms (0: never).
 * Returns false if uipc_poll failed. */
static bool run(uipc_module *m, uint64_t end_ms, bool *stopped)
{
    refill();
    for (;;) {
        /* 10 ms: idle records are retried and the clock read that often */
        int r = uipc_poll(m, 10);
        if (r == -UIPC_ESTOPPED) {
            *stopped = true;
            return true;
        }
        if (r < 0) {
            printf("busy-client: uipc_poll: %s\n", uipc_strerror(r));
            return false;
        }
        if (end_ms && now_ms() >= end_ms)
            return true;
        refill();
    }
}

/* After -s: every call in flight comes back (an honest server answers
 * them all); one that does not within DRAIN_MS is an error. */
static void drain(uipc_module *m)
{
    uint64_t end = now_ms() + DRAIN_MS;
    while (async_busy() && now_ms() < end && uipc_poll(m, 10) >= 0)
        ;
    for (unsigned i = 0; i < nsvcs; i++)
        for (unsigned d = 0; d < depth; d++)
            if (recs[i][d].busy)
                fail_call(&svcs[i], "async call never answered", 0);
}

/* Waits for the sync threads to finish their last call; true if all did
 * (then they are joined). */
static bool join_workers(void)
{
    uint64_t end = now_ms() + JOIN_MS;
    for (unsigned k = 0; k < nworkers; k++)
        while (!atomic_load(&workers[k].done)) {
            if (now_ms() >= end) {
                fail_call(workers[k].s, "sync call never answered", 0);
                return false;
            }
            nap_ms(5);
        }
    for (unsigned k = 0; k < nworkers; k++)
        pthread_join(workers[k].tid, NULL);
    return true;
}

static unsigned long report(void)
{
    unsigned long ok = 0, errors = 0;
    for (unsigned i = 0; i < nsvcs; i++) {
        unsigned long o = atomic_load(&svcs[i].ok), e = atomic_load(&svcs[i].errors);
        printf("busy-client: %s: %lu ok, %lu errors\n", svcs[i].name, o, e);
        ok += o;
        errors += e;
    }
    printf("busy-client: %lu calls ok, %lu errors\n", ok, errors);
    fflush(stdout);
    return errors;
}

static bool parse(int argc, char **argv, unsigned *seconds)
{
    int opt;
    while ((opt = getopt(argc, argv, "a:t:s:")) != -1) {
        unsigned long v = strtoul(optarg, NULL, 10);
        if (opt == 'a' && v <= MAX_DEPTH)
            depth = (unsigned)v;
        else if (opt == 't' && v <= MAX_THREADS)
            nthreads = (unsigned)v;
        else if (opt == 's')
            *seconds = (unsigned)v;
        else
            return false;
    }
    for (; optind < argc && nsvcs < MAX_SERVICES; optind++)
        svcs[nsvcs++].name = argv[optind];
    return nsvcs > 0 && optind == argc && (depth || nthreads);
}

static bool start(uipc_module *m)
{
    for (unsigned i = 0; i < nsvcs; i++) {
        int err = uipc_connect(m, svcs[i].name, &svcs[i].ch);
        if (err < 0) {
            printf("busy-client: connect %s: %s\n", svcs[i].name, uipc_strerror(err));
            return false;
        }
        for (unsigned d = 0; d < depth; d++)
            recs[i][d].s = &svcs[i];
    }
    for (unsigned i = 0; i < nsvcs; i++)
        for (unsigned t = 0; t < nthreads; t++) {
            struct worker *w = &workers[nworkers];
            w->s = &svcs[i];
            if (pthread_create(&w->tid, NULL, sync_loop, w) != 0)
                return false;
            nworkers++;
        }
    return true;
}

int main(int argc, char **argv)
{
    uipc_module *m;
    unsigned seconds = 0;
    bool stopped = false;
    setvbuf(stdout, NULL, _IOLBF, 0); /* a pipe to the supervisor's log: lines as they come */
    if (!parse(argc, argv, &seconds)) {
        fprintf(stderr, "usage: busy-client [-a DEPTH] [-t THREADS] [-s SECONDS] SERVICE...\n");
        return 2;
    }
    int err = uipc_module_open(&m);
    if (err < 0) {
        printf("busy-client: uipc_module_open: %s\n", uipc_strerror(err));
        return 1;
    }
    bool ok = start(m) && run(m, seconds ? now_ms() + seconds * 1000ull : 0, &stopped);
    atomic_store(&stopping, true);
    /* Asked to stop by the supervisor, uipc_poll delivers nothing more:
     * the async calls in flight are abandoned, not waited for. */
    if (ok && !stopped)
        drain(m);
    bool joined = join_workers();
    unsigned long errors = report();
    /* a thread still inside uipc_call must not see its module unmapped */
    if (joined)
        uipc_module_close(m);
    return ok && errors == 0 ? 0 : 1;
}
