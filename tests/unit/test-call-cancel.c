/* SPDX-License-Identifier: MIT */
/* uipc_cancel (call.c, chan.c) across real processes: a call still queued,
 * one waiting in the server's FIFO, one whose handler runs, one already
 * answered; a cancel from another thread while the loop sleeps.  The
 * server's handler holds its loop until the client lets it go (OP_GATE). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bed.h"
#include "internal.h"
#include "testmod.h"

#define TIMEOUT_MS 60000
#define SLOTS 4

struct cc {
    unsigned char req[16];
    size_t len;
    int replies, completions, status;
    uint64_t id;
};

static int cc_fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct cc *c = arg;
    CHECK(c->len <= cap);
    memcpy(buf, c->req, c->len);
    *len = c->len;
    return 0;
}

static void cc_reply(int status, const void *data, size_t len, void *arg)
{
    (void)status; (void)data; (void)len;
    struct cc *c = arg;
    c->replies++;
}

static void cc_complete(int status, void *arg)
{
    struct cc *c = arg;
    c->completions++;
    c->status = status;
}

static int cc_issue(uipc_chan *ch, struct cc *c, uint32_t op, uint32_t flags)
{
    struct uipc_call call = { .fill = cc_fill, .reply = cc_reply, .complete = cc_complete,
                              .opcode = op, .flags = flags, .arg = c };
    int r = uipc_call(ch, &call);
    c->id = call.id;
    return r;
}

static void echo_req(struct cc *c, unsigned seed)
{
    *c = (struct cc){ .len = 12 };
    testmod_pattern(c->req, c->len, seed);
}

/* An OP_GATE call, issued; returns once the server's handler runs it. */
static void gate_issue(uipc_chan *ch, const struct testmod_gate *g, struct cc *c)
{
    struct testmod_gate_req req = testmod_gate_req(g);
    *c = (struct cc){ .len = sizeof(req) };
    memcpy(c->req, &req, sizeof(req));
    CHECK_EQ(cc_issue(ch, c, OP_GATE, 0), 0);
    CHECK(c->id != 0);
    testmod_gate_taken(g);
}

static void poll_until(uipc_module *m, const struct cc *c)
{
    while (c->completions == 0)
        CHECK(uipc_poll(m, 1000) >= 0);
    CHECK_EQ(c->completions, 1);
}

static uint32_t free_slots(uipc_chan *ch)
{
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    return st.free_slots;
}

/* Until every slot is back: a cancelled call's comes back with its
 * server's late answer (30 s at most). */
static void poll_until_whole(uipc_module *m, uipc_chan *ch)
{
    for (int i = 0; i < 300 && free_slots(ch) != SLOTS; i++)
        CHECK(uipc_poll(m, 100) >= 0);
    testmod_check_whole(ch, 1);
}

static void expect_clean_exit(int st)
{
    assert_true(st >= 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* Behind a handler that holds the server: three calls in its FIFO fill
 * the slots, a fourth waits in the client (UIPC_WAIT_SLOT).  Cancelling
 * one of each completes them at once with -ECANCELED, with no traffic;
 * the queued one is never sent, the sent one's slot comes back with its
 * answer, and neither reply callback runs. */
static int client_before_taken(void *arg)
{
    const struct testmod_gate *g = arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    struct cc gate, fifo[SLOTS - 1], queued;
    gate_issue(ch, g, &gate);
    for (unsigned i = 0; i < SLOTS - 1; i++) {
        echo_req(&fifo[i], i);
        CHECK_EQ(cc_issue(ch, &fifo[i], OP_ECHO, 0), 0);
    }
    echo_req(&queued, 9);
    CHECK_EQ(cc_issue(ch, &queued, OP_ECHO, UIPC_WAIT_SLOT), 0);
    CHECK(queued.id > fifo[SLOTS - 2].id);
    CHECK_EQ(free_slots(ch), 0);

    CHECK_EQ(uipc_cancel(ch, fifo[1].id), 0);
    CHECK_EQ(uipc_cancel(ch, queued.id), 0);
    CHECK_EQ(uipc_cancel(ch, queued.id), -ENOENT); /* its completion is decided */
    CHECK_EQ(fifo[1].completions + queued.completions, 0); /* never inline */
    poll_until(m, &fifo[1]);
    poll_until(m, &queued);
    CHECK_EQ(fifo[1].status, -ECANCELED);
    CHECK_EQ(queued.status, -ECANCELED);
    CHECK_EQ(gate.completions + fifo[0].completions + fifo[2].completions, 0);
    CHECK_EQ(free_slots(ch), 0); /* the cancelled call's is the server's until it answers */

    testmod_gate_release(g);
    poll_until(m, &gate);
    poll_until(m, &fifo[0]);
    poll_until(m, &fifo[2]);
    poll_until_whole(m, ch);
    CHECK_EQ(gate.status, sizeof(struct testmod_gate_req));
    CHECK_EQ(fifo[0].status, 12);
    CHECK_EQ(fifo[2].status, 12);
    CHECK_EQ(fifo[1].completions + queued.completions, 2);
    CHECK_EQ(fifo[1].replies + queued.replies, 0);
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    CHECK_EQ(st.issued, SLOTS); /* the queued call never went out */
    CHECK_EQ(uipc_cancel(ch, fifo[1].id), -ENOENT);
    uipc_module_close(m);
    return 0;
}

static void test_cancel_before_taken(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_gated(client_before_taken, SLOTS, TIMEOUT_MS));
}

/* A call whose handler runs: -ECANCELED now, the slot when the handler
 * answers, and that answer goes nowhere. */
static int client_while_running(void *arg)
{
    const struct testmod_gate *g = arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    struct cc gate;
    gate_issue(ch, g, &gate);
    CHECK_EQ(uipc_cancel(ch, gate.id), 0);
    poll_until(m, &gate);
    CHECK_EQ(gate.status, -ECANCELED);
    CHECK_EQ(free_slots(ch), SLOTS - 1);
    testmod_gate_release(g);
    poll_until_whole(m, ch);
    CHECK_EQ(gate.completions, 1);
    CHECK_EQ(gate.replies, 0);
    /* the slot serves again */
    struct cc after;
    echo_req(&after, 3);
    CHECK_EQ(cc_issue(ch, &after, OP_ECHO, 0), 0);
    poll_until(m, &after);
    CHECK_EQ(after.status, 12);
    CHECK_EQ(after.replies, 1);
    uipc_module_close(m);
    return 0;
}

static void test_cancel_while_running(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_gated(client_while_running, SLOTS, TIMEOUT_MS));
}

/* Answered and delivered: too late, -ENOENT, the completion was the real
 * one.  Ids nobody was given: -ENOENT. */
static int client_after_answer(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    struct cc c;
    echo_req(&c, 1);
    CHECK_EQ(cc_issue(ch, &c, OP_ECHO, 0), 0);
    poll_until(m, &c);
    CHECK_EQ(uipc_cancel(ch, c.id), -ENOENT);
    CHECK_EQ(c.status, 12);
    CHECK_EQ(c.replies, 1);
    CHECK_EQ(uipc_poll(m, 20), 0);
    CHECK_EQ(c.completions, 1);

    CHECK_EQ(uipc_cancel(ch, 0), -ENOENT);
    CHECK_EQ(uipc_cancel(ch, c.id + 1000), -ENOENT);
    CHECK_EQ(uipc_cancel(NULL, c.id), -EINVAL);
    struct cc sync;
    echo_req(&sync, 2);
    struct uipc_call call = { .fill = cc_fill, .opcode = OP_ECHO, .arg = &sync, .id = 77 };
    CHECK_EQ(uipc_call(ch, &call), 12);
    CHECK_EQ(call.id, 0); /* a sync call has none */
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_cancel_after_answer(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_gated(client_after_answer, SLOTS, TIMEOUT_MS));
}

struct canceller {
    uipc_module *m;
    uipc_chan *ch;
    uint64_t id;
    int r;
};

/* Cancels once the loop's thread sleeps in uipc_poll. */
static void *cancel_thread(void *p)
{
    struct canceller *k = p;
    while (atomic_load(&k->m->waiters) == 0)
        testmod_sleep_ms(1);
    k->r = uipc_cancel(k->ch, k->id);
    return NULL;
}

/* The loop asleep with nothing else to come (the server is held): a
 * cancel from another thread wakes it, and the completion comes well
 * before the poll's own timeout. */
static int client_other_thread(void *arg)
{
    const struct testmod_gate *g = arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    struct cc gate;
    gate_issue(ch, g, &gate);
    struct canceller k = { .m = m, .ch = ch, .id = gate.id };
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, cancel_thread, &k), 0);
    uint64_t t0 = uipc__now_ns();
    while (gate.completions == 0)
        CHECK(uipc_poll(m, 60000) >= 0);
    uint64_t waited_ms = (uipc__now_ns() - t0) / 1000000u;
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(k.r, 0);
    CHECK_EQ(gate.status, -ECANCELED);
    fprintf(stderr, "cancel from another thread: the loop woke after %llu ms\n",
            (unsigned long long)waited_ms);
    CHECK(waited_ms < 30000); /* woken, not timed out */
    testmod_gate_release(g);
    poll_until_whole(m, ch);
    CHECK_EQ(gate.replies, 0);
    uipc_module_close(m);
    return 0;
}

static void test_cancel_from_other_thread(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_gated(client_other_thread, SLOTS, TIMEOUT_MS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_before_taken),
        cmocka_unit_test(test_cancel_while_running),
        cmocka_unit_test(test_cancel_after_answer),
        cmocka_unit_test(test_cancel_from_other_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
