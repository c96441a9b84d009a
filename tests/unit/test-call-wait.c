/* SPDX-License-Identifier: MIT */
/* UIPC_WAIT_SLOT and UIPC_WAIT_READY (call.c, chan.c) across real
 * processes: a flood of queued async calls, sync callers in threads on
 * too few slots, and calls made while the server is dead and restarting. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bed.h"
#include "internal.h"
#include "testmod.h"

#define TIMEOUT_MS 120000

static void expect_clean_exit(int st)
{
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static uint64_t cpu_ns(void)
{
    struct rusage ru;
    CHECK_EQ(getrusage(RUSAGE_SELF, &ru), 0);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

/* A request for OP_SLEEP: the ms the server sleeps, then who asks; the
 * echo proves the reply is this call's own. */
struct sleep_req {
    uint32_t ms, who, seq;
};

/* ---- a flood of queued async calls ---- */

#define FLOOD_CALLS 10000
#define FLOOD_SLOTS 16

struct flood_call {
    struct sleep_req req;
    uint64_t id;
    int completions, status, replies;
};

struct flood {
    struct flood_call call[FLOOD_CALLS];
    unsigned done, next; /* completions seen; the index the next one must have */
    unsigned out_of_order;
};
static struct flood flood;

/* What the client leaves for the test, in shared memory. */
struct flood_figures {
    uint64_t cpu_ns, wall_ns;
};

static int sleep_fill(void *buf, size_t cap, size_t *len, void *arg)
{
    const struct sleep_req *r = arg; /* first member of every arg given here */
    CHECK(cap >= sizeof(*r));
    memcpy(buf, r, sizeof(*r));
    *len = sizeof(*r);
    return 0;
}

/* The reply is the request, byte for byte. */
static void sleep_reply(int status, const void *data, size_t len, void *arg)
{
    CHECK_EQ(status, sizeof(struct sleep_req));
    CHECK_EQ(len, sizeof(struct sleep_req));
    CHECK(memcmp(data, arg, len) == 0);
}

static void flood_reply(int status, const void *data, size_t len, void *arg)
{
    struct flood_call *c = arg;
    sleep_reply(status, data, len, &c->req);
    c->replies++;
}

static void flood_complete(int status, void *arg)
{
    struct flood_call *c = arg;
    c->completions++;
    c->status = status;
    /* One server loop takes them off one FIFO: issued in the order queued,
     * they come back in that order. */
    if (c->req.seq != flood.next)
        flood.out_of_order++;
    flood.next = c->req.seq + 1;
    flood.done++;
}

static int flood_client(void *arg)
{
    struct flood_figures *fig = arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    uint64_t t0 = uipc__now_ns(), cpu0 = cpu_ns();
    for (unsigned i = 0; i < FLOOD_CALLS; i++) {
        struct flood_call *fc = &flood.call[i];
        fc->req = (struct sleep_req){ .ms = 1, .seq = i };
        /* A timeout, as a real caller has: the queue's deadlines are
         * watched all along, and none may pass. */
        struct uipc_call c = { .fill = sleep_fill, .reply = flood_reply, .complete = flood_complete,
                               .opcode = OP_SLEEP, .timeout_ms = TIMEOUT_MS, .flags = UIPC_WAIT_SLOT,
                               .arg = fc };
        CHECK_EQ(uipc_call(ch, &c), 0);
        CHECK(c.id != 0 && (i == 0 || c.id > flood.call[i - 1].id));
        fc->id = c.id;
    }
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    CHECK_EQ(st.issued, FLOOD_SLOTS); /* the rest wait in the client */
    while (flood.done < FLOOD_CALLS)
        CHECK(uipc_poll(m, 1000) >= 0);
    fig->wall_ns = uipc__now_ns() - t0;
    fig->cpu_ns = cpu_ns() - cpu0;
    for (unsigned i = 0; i < FLOOD_CALLS; i++) {
        CHECK_EQ(flood.call[i].completions, 1);
        CHECK_EQ(flood.call[i].replies, 1);
        CHECK_EQ(flood.call[i].status, sizeof(struct sleep_req));
    }
    CHECK_EQ(flood.out_of_order, 0);
    CHECK_EQ(uipc_poll(m, 20), 0); /* nothing delivered twice */
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    CHECK_EQ(st.issued, FLOOD_CALLS);
    CHECK_EQ(st.ok, FLOOD_CALLS);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

/* 10,000 async calls into 16 slots of a server that takes 1 ms a call:
 * each completes once, in order, and the client waits for slots asleep.
 * Its CPU time against the wall time is a structural bound (a loop that
 * polled for free slots would burn the whole wall time), not a latency. */
static void test_flood(void **state)
{
    (void)state;
    struct flood_figures *fig = testmod_shared(sizeof(*fig));
    assert_non_null(fig);
    int st = testmod_run_pair(flood_client, fig, FLOOD_SLOTS, 0, TIMEOUT_MS);
    expect_clean_exit(st);
    print_message("flood: %u calls in %.2f s wall, client CPU %.3f s (%.1f%%)\n", FLOOD_CALLS,
                  (double)fig->wall_ns / 1e9, (double)fig->cpu_ns / 1e9,
                  100.0 * (double)fig->cpu_ns / (double)fig->wall_ns);
    assert_true(fig->wall_ns > 0);
    assert_true(fig->cpu_ns * 4 < fig->wall_ns);
}

/* ---- sync callers waiting for a slot ---- */

#define SYNC_THREADS 4
#define SYNC_CALLS 150

struct sync_caller {
    uipc_chan *ch;
    unsigned who;
    unsigned ok, failed, no_slot;
};

struct sync_probe {
    uipc_chan *ch;
    _Atomic int stop;
    unsigned no_slot, ok;
};

static void *sync_caller(void *p)
{
    struct sync_caller *t = p;
    for (unsigned i = 0; i < SYNC_CALLS; i++) {
        struct sleep_req req = { .ms = 2, .who = t->who, .seq = i };
        struct uipc_call c = { .fill = sleep_fill, .reply = sleep_reply, .opcode = OP_SLEEP,
                               .timeout_ms = 30000, .flags = UIPC_WAIT_SLOT, .arg = &req };
        int st = uipc_call(t->ch, &c);
        if (st == -UIPC_ENOSLOT)
            t->no_slot++;
        else if (st == (int)sizeof(req))
            t->ok++;
        else
            t->failed++;
    }
    return NULL;
}

/* Calls without the flag meanwhile: -UIPC_ENOSLOT proves the slots were
 * all in flight while the waiting callers got theirs. */
static void *sync_probe(void *p)
{
    struct sync_probe *pr = p;
    while (!atomic_load(&pr->stop)) {
        struct sleep_req req = { .ms = 0, .who = 99 };
        struct uipc_call c = { .fill = sleep_fill, .opcode = OP_SLEEP, .arg = &req };
        int st = uipc_call(pr->ch, &c);
        if (st == -UIPC_ENOSLOT)
            pr->no_slot++;
        else {
            CHECK_EQ(st, sizeof(req));
            pr->ok++;
        }
        testmod_sleep_ms(1);
    }
    return NULL;
}

static int sync_wait_client(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    pthread_t th[SYNC_THREADS], probe;
    struct sync_caller t[SYNC_THREADS];
    struct sync_probe pr = { .ch = ch };
    CHECK_EQ(pthread_create(&probe, NULL, sync_probe, &pr), 0);
    for (unsigned i = 0; i < SYNC_THREADS; i++) {
        t[i] = (struct sync_caller){ .ch = ch, .who = i };
        CHECK_EQ(pthread_create(&th[i], NULL, sync_caller, &t[i]), 0);
    }
    for (unsigned i = 0; i < SYNC_THREADS; i++) {
        CHECK_EQ(pthread_join(th[i], NULL), 0);
        fprintf(stderr, "caller %u: ok %u, no slot %u, failed %u\n", i, t[i].ok, t[i].no_slot, t[i].failed);
        CHECK_EQ(t[i].no_slot, 0);
        CHECK_EQ(t[i].failed, 0);
        CHECK_EQ(t[i].ok, SYNC_CALLS);
    }
    atomic_store(&pr.stop, 1);
    CHECK_EQ(pthread_join(probe, NULL), 0);
    fprintf(stderr, "probe without the flag: ok %u, no slot %u\n", pr.ok, pr.no_slot);
    CHECK(pr.no_slot > 0);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

/* Four sync callers with UIPC_WAIT_SLOT on two slots of a 2 ms server:
 * every call goes through, none sees -UIPC_ENOSLOT. */
static void test_sync_threads_wait_slot(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(sync_wait_client, NULL, 2, 0, TIMEOUT_MS));
}

/* ---- what a wait for a slot is bounded by ---- */

struct counted {
    struct sleep_req req; /* first: sleep_fill's */
    unsigned fills, completions;
    int status;
};

static int counted_fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct counted *c = arg;
    c->fills++;
    return sleep_fill(buf, cap, len, arg);
}

static void counted_complete(int status, void *arg)
{
    struct counted *c = arg;
    c->completions++;
    c->status = status;
}

static int counted_call(uipc_chan *ch, struct counted *c, bool async, uint32_t timeout_ms)
{
    struct uipc_call call = { .fill = counted_fill, .complete = async ? counted_complete : NULL,
                              .opcode = OP_SLEEP, .timeout_ms = timeout_ms, .flags = UIPC_WAIT_SLOT,
                              .arg = c };
    return uipc_call(ch, &call);
}

/* Fills the queue to UIPC_QUEUE_MAX behind the call already there: one
 * more is refused at once; those added are cancelled (from the front,
 * where uipc_cancel finds each first) and end -ECANCELED, unsent. */
static void queue_to_the_limit(uipc_module *m, uipc_chan *ch)
{
    static uint64_t ids[UIPC_QUEUE_MAX];
    struct counted extra = { 0 };
    for (uint32_t i = 1; i < UIPC_QUEUE_MAX; i++) {
        struct uipc_call call = { .fill = counted_fill, .complete = counted_complete,
                                  .opcode = OP_SLEEP, .flags = UIPC_WAIT_SLOT, .arg = &extra };
        CHECK_EQ(uipc_call(ch, &call), 0);
        ids[i] = call.id;
    }
    struct uipc_call over = { .fill = counted_fill, .complete = counted_complete, .opcode = OP_SLEEP,
                              .flags = UIPC_WAIT_SLOT, .arg = &extra };
    CHECK_EQ(uipc_call(ch, &over), -UIPC_ENOSLOT);
    CHECK_EQ(over.id, 0);
    for (uint32_t i = 1; i < UIPC_QUEUE_MAX; i++)
        CHECK_EQ(uipc_cancel(ch, ids[i]), 0);
    while (extra.completions < UIPC_QUEUE_MAX - 1)
        CHECK(uipc_poll(m, 1000) >= 0);
    CHECK_EQ(extra.status, -ECANCELED);
    CHECK_EQ(extra.fills, 0);
}

static int limits_client(void *arg)
{
    const struct testmod_gate *g = arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    struct testmod_msg gate, echo = { .len = 8 };
    testmod_gate_call(ch, g, &gate);
    struct uipc_call c = { .fill = testmod_fill, .complete = testmod_complete, .opcode = OP_ECHO,
                           .arg = &echo };
    CHECK_EQ(uipc_call(ch, &c), 0); /* both slots in flight now */

    /* Waits bounded by their timeouts end -UIPC_ENOSLOT, never filled. */
    struct counted sync = { 0 }, async = { 0 }, later = { .req.seq = 1 };
    CHECK_EQ(counted_call(ch, &sync, false, 50), -UIPC_ENOSLOT);
    CHECK_EQ(counted_call(ch, &async, true, 50), 0);
    while (async.completions == 0)
        CHECK(uipc_poll(m, 1000) >= 0);
    CHECK_EQ(async.status, -UIPC_ENOSLOT);
    CHECK_EQ(sync.fills + async.fills, 0);

    /* One without a timeout waits, filled only when it goes out. */
    CHECK_EQ(counted_call(ch, &later, true, 0), 0);
    queue_to_the_limit(m, ch);
    CHECK_EQ(later.fills, 0);
    testmod_gate_release(g);
    while (later.completions == 0)
        CHECK(uipc_poll(m, 1000) >= 0);
    CHECK_EQ(later.status, sizeof(struct sleep_req));
    CHECK_EQ(later.fills, 1);
    CHECK_EQ(gate.completions + echo.completions, 2);
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    CHECK_EQ(st.issued, 3); /* the gate, the echo, `later` */
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

/* A wait for a slot ends at its timeout (-UIPC_ENOSLOT, sync or async,
 * never sent), at most UIPC_QUEUE_MAX calls wait, and a queued call is
 * filled when it goes out, not before. */
static void test_wait_slot_limits(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_gated(limits_client, 2, TIMEOUT_MS));
}

/* ---- UIPC_WAIT_READY across a server's kill -9 and restart ---- */

/* The test and the client, over two pipes made before the fork. */
struct ready_pipes {
    int to_test[2], to_client[2];
};
enum { SAID_IN_FLIGHT = 'f', SAID_DOWN = 'd', SAID_RESTART = 'r' };

struct ready_call {
    struct sleep_req req; /* first: sleep_fill's */
    uipc_chan *ch;
    uint32_t flags, timeout_ms;
    int status, completions;
    uint64_t id;
};

static void ready_complete(int status, void *arg)
{
    struct ready_call *rc = arg;
    rc->status = status;
    rc->completions++;
}

static int ready_issue(struct ready_call *rc, bool async)
{
    struct uipc_call c = { .fill = sleep_fill, .complete = async ? ready_complete : NULL,
                           .opcode = OP_SLEEP, .timeout_ms = rc->timeout_ms, .flags = rc->flags,
                           .arg = rc };
    int r = uipc_call(rc->ch, &c);
    rc->id = c.id;
    return r;
}

static void *ready_thread(void *p)
{
    struct ready_call *rc = p;
    rc->status = ready_issue(rc, false);
    return NULL;
}

/* Without a timeout of its own: a call waiting for the service is issued
 * when the news that it is back wakes the loop, or fails at its deadline. */
static void poll_until_complete(uipc_module *m, const struct ready_call *rc)
{
    while (rc->completions == 0)
        CHECK(uipc_poll(m, -1) >= 0);
    CHECK_EQ(rc->completions, 1);
}

static void wait_in_flight(uipc_chan *ch, uint32_t n)
{
    struct uipc_chan_stats st;
    for (;;) {
        CHECK_EQ(uipc_chan_stats(ch, &st), 0);
        if (st.in_flight == n)
            return;
        testmod_sleep_ms(1);
    }
}

/* Until n sync callers of ch sleep in uipc_call for a slot or for the
 * service (call.c, wait_to_issue): then the restart that follows really
 * comes while they wait. */
static void wait_for_waiters(uipc_module *m, uipc_chan *ch, uint32_t n)
{
    for (;;) {
        pthread_mutex_lock(&m->lock);
        uint32_t w = ch->slot_waiters;
        pthread_mutex_unlock(&m->lock);
        if (w == n)
            return;
        testmod_sleep_ms(1);
    }
}

/* The calls the server has at its death fail, UIPC_WAIT_READY or not: a
 * sync one in a thread, two async.  The server sleeps on the first. */
static void calls_at_the_kill(uipc_module *m, uipc_chan *ch, const struct ready_pipes *p)
{
    struct ready_call at_kill[3];
    pthread_t th;
    for (unsigned i = 0; i < 3; i++)
        at_kill[i] = (struct ready_call){ .req = { .ms = 60000, .seq = i }, .ch = ch,
                                          .flags = UIPC_WAIT_READY };
    CHECK_EQ(pthread_create(&th, NULL, ready_thread, &at_kill[0]), 0);
    CHECK_EQ(ready_issue(&at_kill[1], true), 0);
    CHECK_EQ(ready_issue(&at_kill[2], true), 0);
    wait_in_flight(ch, 3);
    CHECK_EQ(testmod_tell(p->to_test[1], SAID_IN_FLIGHT), 0);
    CHECK_EQ(testmod_await(p->to_client[0], -1), SAID_DOWN);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(at_kill[0].status, -UIPC_EPEERDIED);
    for (unsigned i = 1; i < 3; i++) {
        poll_until_complete(m, &at_kill[i]);
        CHECK_EQ(at_kill[i].status, -UIPC_EPEERDIED);
    }
}

static int ready_client(void *arg)
{
    const struct ready_pipes *p = arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    calls_at_the_kill(m, ch, p);

    /* The server is dead and reclaimed.  Without the flag: at once. */
    struct ready_call plain = { .ch = ch };
    CHECK_EQ(ready_issue(&plain, false), -UIPC_EPEERDIED);
    CHECK_EQ(ready_issue(&plain, true), -UIPC_EPEERDIED);
    CHECK_EQ(plain.id, 0);

    /* With it: queued.  One gives up before the restart, one waits. */
    struct ready_call later = { .req = { .seq = 10 }, .ch = ch, .flags = UIPC_WAIT_READY,
                                .timeout_ms = 30000 };
    struct ready_call expires = { .req = { .seq = 11 }, .ch = ch, .flags = UIPC_WAIT_READY,
                                  .timeout_ms = 100 };
    CHECK_EQ(ready_issue(&later, true), 0);
    CHECK(later.id != 0);
    CHECK_EQ(ready_issue(&expires, true), 0);
    poll_until_complete(m, &expires);
    CHECK_EQ(expires.status, -UIPC_EPEERDIED);
    CHECK_EQ(later.completions, 0);
    CHECK_EQ(plain.completions, 0);

    /* And a sync one, asleep in its thread when the server comes back. */
    struct ready_call waiter = { .req = { .seq = 12 }, .ch = ch, .flags = UIPC_WAIT_READY,
                                 .timeout_ms = 30000 };
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, ready_thread, &waiter), 0);
    wait_for_waiters(m, ch, 1);
    CHECK_EQ(testmod_tell(p->to_test[1], SAID_RESTART), 0);
    uint64_t t0 = uipc__now_ns(), cpu0 = cpu_ns();
    poll_until_complete(m, &later);
    CHECK_EQ(later.status, sizeof(struct sleep_req));
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(waiter.status, sizeof(struct sleep_req));
    /* Both waited asleep (well under a tenth of the time on the CPU):
     * two waiters that woke each other (each failed issue announced a
     * free slot) spun through the downtime, a quarter to two thirds. */
    uint64_t wall = uipc__now_ns() - t0, cpu = cpu_ns() - cpu0;
    fprintf(stderr, "the rest of the downtime: %.1f ms wall, client CPU %.1f ms\n", (double)wall / 1e6,
            (double)cpu / 1e6);
    CHECK(cpu * 10 < wall);
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    CHECK_EQ(st.peer_died, 3); /* those sent; the expired one never was */
    CHECK_EQ(st.ok, 2);
    testmod_check_whole(ch, 0);
    uipc_module_close(m);
    return 0;
}

/* The byte the client sends next; -ECHILD (and its status printed) if it
 * exited instead, so that a failed CHECK shows at once. */
static int await_client(struct uipc_bed *b, int cli, int fd)
{
    for (;;) {
        int r = testmod_await(fd, 100);
        if (r != -ETIMEDOUT)
            return r;
        int st;
        if (uipc__bed_wait(b, cli, 0, &st) == cli) {
            print_error("client exited early, status %#x\n", st);
            return -ECHILD;
        }
    }
}

/* Calls made while the server is dead (after its reclaim, before its
 * restart: the client hears of each step from the test) wait for it with
 * UIPC_WAIT_READY and go through once it is back; without the flag, or
 * when their own timeout comes first, they fail. */
static void test_wait_ready_across_restart(void **state)
{
    (void)state;
    static struct ready_pipes p;
    struct testmod_pair pair;
    int st;
    assert_int_equal(pipe2(p.to_test, O_CLOEXEC), 0);
    assert_int_equal(pipe2(p.to_client, O_CLOEXEC), 0);
    assert_int_equal(testmod_pair_start(&pair, testmod_echo_main, NULL, ready_client, &p, 8, 0), 0);
    struct uipc_bed *b = pair.b;
    assert_int_equal(await_client(b, pair.cli, p.to_test[0]), SAID_IN_FLIGHT);
    assert_int_equal(uipc__bed_kill(b, pair.srv, SIGKILL), 0);
    assert_int_equal(uipc__bed_wait(b, pair.srv, TIMEOUT_MS, &st), pair.srv);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(testmod_tell(p.to_client[1], SAID_DOWN), 0);
    assert_int_equal(await_client(b, pair.cli, p.to_test[0]), SAID_RESTART);
    /* The downtime lasts a while, for the client's CPU time to tell
     * waiting from spinning. */
    testmod_sleep_ms(300);
    assert_int_equal(uipc__bed_start(b, pair.srv), 0);
    assert_int_equal(uipc__bed_wait(b, pair.cli, TIMEOUT_MS, &st), pair.cli);
    expect_clean_exit(st);
    uipc__bed_free(b);
    for (int i = 0; i < 2; i++) {
        close(p.to_test[i]);
        close(p.to_client[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flood),
        cmocka_unit_test(test_sync_threads_wait_slot),
        cmocka_unit_test(test_wait_slot_limits),
        cmocka_unit_test(test_wait_ready_across_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
