/* SPDX-License-Identifier: MIT */
/* test-bridge's client: keeps calls going on SERVICE until the supervisor
 * stops it, and accounts for every one.
 *
 *   bridge-client SERVICE RECFILE [DEPTH [THREADS [TIMEOUT_MS]]]
 *
 * DEPTH async calls in flight on the loop's thread (default 48) and
 * THREADS threads making sync calls (default 2), each with TIMEOUT_MS
 * (default 1000).  Every call carries a chaos payload (chaos-payload.h)
 * whose first 8 bytes are an id unique to the call (a random prefix per
 * run, then a count), and is recorded in RECFILE (bridge-record.h) when
 * issued and when completed, with its status and whether its reply was
 * the right one; bridge-check joins that with the server's executions.
 * After a call fails, its caller waits 10 ms before the next one (not to
 * spin on -UIPC_ENOLINK).  A second completion of one call, or a
 * completion of a call not out, prints ANOMALY.  On stop, one line:
 *   bridge-client: summary issued=N ok=N enolink=N elinklost=N etimedout=N
 *     peerdied=N enoslot=N other=N wrong=N twice=N open=N
 * (enoslot: refused at once, every slot of its own channel taken, which
 * a channel with slots for three calls per caller never is (a call that
 * timed out holds its slot until the bridge answers it, at most the
 * timeout plus twice the link's bound later); open: calls issued and not
 * completed when it stopped, the sync ones included). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <uipc/module.h>

#include "bridge-record.h"
#include "chaos-payload.h"

#define MAX_DEPTH 1024
#define MAX_THREADS 16
#define PAUSE_US 10000 /* after a failed call */

enum { C_OK, C_ENOLINK, C_ELINKLOST, C_ETIMEDOUT, C_PEERDIED, C_ENOSLOT, C_OTHER, C_WRONG, C_TWICE, C_COUNT };
static const char *const names[C_COUNT] = { "ok", "enolink", "elinklost", "etimedout", "peerdied",
                                            "enoslot", "other", "wrong", "twice" };
static atomic_ulong counts[C_COUNT], issued, completed;

static uipc_chan *ch;
static int recfd = -1;
static uint64_t prefix;
static atomic_uint_fast64_t next_seq = 1;
static uint32_t timeout_ms = 1000;
static atomic_bool stopping;

struct rec {
    unsigned char buf[CHAOS_MAX_PAYLOAD];
    size_t len;
    uint64_t id;
    int64_t not_before_us; /* paced after a failure */
    int completions, status;
    bool busy, wrong;
};

static void record(uint64_t id, uint8_t type, uint8_t kind, int status, bool wrong)
{
    struct bridge_rec r = { .id = id, .t_us = bridge_rec_now_us(), .status = status, .type = type,
                            .kind = kind, .wrong = wrong };
    if (write(recfd, &r, sizeof(r)) != (ssize_t)sizeof(r)) {
        perror("bridge-client: write");
        exit(1);
    }
}

static void anomaly(uint64_t id, const char *what, int status)
{
    printf("bridge-client: ANOMALY: call %#" PRIx64 ": %s (status %d: %s)\n", id, what, status,
           uipc_strerror(status));
    fflush(stdout);
}

static void prepare(struct rec *r)
{
    uint64_t seq = atomic_fetch_add(&next_seq, 1);
    r->id = prefix | seq;
    r->len = CHAOS_HDR + (size_t)(seq * 37 % (CHAOS_MAX_PAYLOAD - CHAOS_HDR + 1));
    chaos_payload_make(r->buf, r->len, r->id);
    r->completions = 0;
    r->wrong = false;
}

/* One completed call: counted by kind, recorded.  True when it was ok. */
static bool account(struct rec *r, int status, uint8_t kind)
{
    bool ok = status == (int)r->len && !r->wrong;
    int c = ok ? C_OK
        : r->wrong ? C_WRONG
        : status == -UIPC_ENOLINK ? C_ENOLINK
        : status == -UIPC_ELINKLOST ? C_ELINKLOST
        : status == -UIPC_ETIMEDOUT ? C_ETIMEDOUT
        : status == -UIPC_EPEERDIED ? C_PEERDIED
        : status == -UIPC_ENOSLOT ? C_ENOSLOT : C_OTHER;
    atomic_fetch_add(&counts[c], 1);
    atomic_fetch_add(&completed, 1);
    if (c == C_WRONG || c == C_OTHER)
        anomaly(r->id, r->wrong ? "wrong reply" : "unexpected status", status);
    record(r->id, REC_DONE, kind, status, r->wrong);
    return ok;
}

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct rec *r = arg;
    if (cap < r->len)
        return -UIPC_ETOOBIG;
    memcpy(buf, r->buf, r->len);
    *len = r->len;
    return 0;
}

static void reply(int status, const void *data, size_t len, void *arg)
{
    struct rec *r = arg;
    r->wrong = status >= 0 && (status != (int)r->len || !chaos_reply_ok(data, len, r->len, r->id));
}

/* Async: runs from uipc_poll on the loop's thread, as does everything
 * else on these records. */
static void complete(int status, void *arg)
{
    struct rec *r = arg;
    if (!r->busy || ++r->completions > 1) {
        anomaly(r->id, "completed twice, or while not out", status);
        atomic_fetch_add(&counts[C_TWICE], 1);
        record(r->id, REC_DONE, REC_ASYNC, status, r->wrong);
        return;
    }
    r->busy = false;
    if (!account(r, status, REC_ASYNC))
        r->not_before_us = bridge_rec_now_us() + PAUSE_US;
}

static void issue_async(struct rec *r)
{
    prepare(r);
    record(r->id, REC_ISSUE, REC_ASYNC, 0, false);
    atomic_fetch_add(&issued, 1);
    r->busy = true;
    struct uipc_call call = { .fill = fill, .reply = reply, .complete = complete, .arg = r,
                              .timeout_ms = timeout_ms };
    int err = uipc_call(ch, &call);
    if (err < 0) { /* not issued: that is its completion */
        r->busy = false;
        account(r, err, REC_ASYNC);
        r->not_before_us = bridge_rec_now_us() + PAUSE_US;
    }
}

static void *sync_caller(void *arg)
{
    (void)arg;
    static _Thread_local struct rec r;
    while (!atomic_load(&stopping)) {
        prepare(&r);
        record(r.id, REC_ISSUE, REC_SYNC, 0, false);
        atomic_fetch_add(&issued, 1);
        struct uipc_call call = { .fill = fill, .reply = reply, .arg = &r, .timeout_ms = timeout_ms };
        int st = uipc_call(ch, &call);
        if (!account(&r, st, REC_SYNC))
            usleep(PAUSE_US);
    }
    return NULL;
}

static unsigned arg(int argc, char **argv, int i, unsigned def, unsigned max)
{
    unsigned long v = i < argc ? strtoul(argv[i], NULL, 10) : def;
    return v > max ? max : (unsigned)v;
}

int main(int argc, char **argv)
{
    static struct rec recs[MAX_DEPTH];
    static pthread_t tids[MAX_THREADS];
    if (argc < 3) {
        fprintf(stderr, "usage: bridge-client SERVICE RECFILE [DEPTH [THREADS [TIMEOUT_MS]]]\n");
        return 2;
    }
    unsigned depth = arg(argc, argv, 3, 48, MAX_DEPTH), threads = arg(argc, argv, 4, 2, MAX_THREADS);
    timeout_ms = arg(argc, argv, 5, 1000, 600000);
    uint32_t rnd = 0;
    while (rnd == 0 && getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
        rnd = (uint32_t)getpid();
    prefix = (uint64_t)(rnd & 0xffffff) << 40; /* a run's ids apart from an earlier run's */
    recfd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    uipc_module *m;
    int err = recfd < 0 ? -errno : uipc_module_open(&m);
    if (err == 0)
        err = uipc_connect(m, argv[1], &ch);
    if (err < 0) {
        fprintf(stderr, "bridge-client: %s: %s\n", argv[1], uipc_strerror(err));
        return 1;
    }
    unsigned started = 0;
    for (; started < threads; started++)
        if (pthread_create(&tids[started], NULL, sync_caller, NULL) != 0)
            break;
    for (;;) {
        int64_t now = bridge_rec_now_us();
        for (unsigned i = 0; i < depth; i++)
            if (!recs[i].busy && now >= recs[i].not_before_us)
                issue_async(&recs[i]);
        err = uipc_poll(m, 2);
        if (err == -UIPC_ESTOPPED)
            break;
        if (err < 0) {
            fprintf(stderr, "bridge-client: poll: %s\n", uipc_strerror(err));
            break;
        }
    }
    atomic_store(&stopping, true);
    for (unsigned i = 0; i < started; i++) /* each in at most one call, with its timeout */
        pthread_join(tids[i], NULL);
    unsigned long open = atomic_load(&issued) - atomic_load(&completed);
    printf("bridge-client: summary issued=%lu", atomic_load(&issued));
    for (int c = 0; c < C_COUNT; c++)
        printf(" %s=%lu", names[c], atomic_load(&counts[c]));
    printf(" open=%lu\n", open);
    fflush(stdout);
    uipc_module_close(m);
    return err < 0 && err != -UIPC_ESTOPPED ? 1 : 0;
}
