/* SPDX-License-Identifier: MIT */
/* Deadlines carried in the slot (call.c, serve.c): a chain of nested calls
 * that inherit the first caller's deadline, a command whose deadline has
 * passed when the server takes it, uipc_req_remaining_ms, and which
 * transport codes a server may answer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bed.h"
#include "internal.h"
#include "testmod.h"

#define TIMEOUT_MS 60000

static void expect_clean_exit(int st)
{
    assert_true(st >= 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static int no_bytes(void *buf, size_t cap, size_t *len, void *arg)
{
    (void)buf; (void)cap; (void)arg;
    *len = 0;
    return 0;
}

/* ---- client -> A -> B -> C, the first caller's 50 ms for all ---- */

#define CHAIN_LEVELS 4       /* the client, A, B, C */
#define CHAIN_DEADLINE_MS 50 /* the client's */
#define CHAIN_OWN_MS 30000   /* A's and B's own timeouts */
#define CHAIN_SLEEP_MS 2000  /* C's handler */
enum { CHAIN_PING = 1, CHAIN_CALL };

/* What each level saw, in shared memory for the test. */
struct level_report {
    _Atomic int done;
    int status;           /* its call down the chain (C: none) */
    int again;            /* another one, once the deadline has passed */
    uint64_t again_sent;  /* calls that other one issued */
    int64_t remaining_ms; /* uipc_req_remaining_ms as its handler starts (client: none) */
    uint64_t end_ns;      /* when its call returned */
};
struct chain_report {
    uint64_t t0_ns; /* the client's timed call starts */
    struct level_report lv[CHAIN_LEVELS];
};

struct chain_level {
    struct chain_report *r;
    int level;     /* 1: A, 2: B, 3: C */
    uipc_chan *next;
};

static int chain_call(uipc_chan *ch, uint32_t op, uint32_t timeout_ms, uint32_t flags)
{
    struct uipc_call c = { .fill = no_bytes, .opcode = op, .timeout_ms = timeout_ms, .flags = flags };
    return uipc_call(ch, &c);
}

static uint64_t issued(uipc_chan *ch)
{
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    return st.issued;
}

/* A and B pass the call on with UIPC_INHERIT_DEADLINE and a long timeout
 * of their own; C sleeps far past the deadline. */
static int chain_handler(uipc_req *req, void *ctx)
{
    struct chain_level *l = ctx;
    if (uipc_req_opcode(req) == CHAIN_PING)
        return l->next ? chain_call(l->next, CHAIN_PING, CHAIN_OWN_MS, UIPC_WAIT_READY) : 0;
    struct level_report *me = &l->r->lv[l->level];
    me->remaining_ms = uipc_req_remaining_ms(req);
    if (!l->next) {
        atomic_store(&me->done, 1);
        testmod_sleep_ms(CHAIN_SLEEP_MS);
        return 0;
    }
    me->status = chain_call(l->next, CHAIN_CALL, CHAIN_OWN_MS, UIPC_INHERIT_DEADLINE);
    me->end_ns = uipc__now_ns();
    uint64_t before = issued(l->next);
    me->again = chain_call(l->next, CHAIN_CALL, CHAIN_OWN_MS, UIPC_INHERIT_DEADLINE);
    me->again_sent = issued(l->next) - before;
    atomic_store(&me->done, 1);
    return me->status;
}

static int level_main(void *arg)
{
    struct chain_level *l = arg;
    char name[16], next[16];
    uipc_module *m = testmod_open();
    snprintf(name, sizeof(name), "l%d", l->level);
    snprintf(next, sizeof(next), "l%d", l->level + 1);
    if (uipc_connect(m, next, &l->next) < 0)
        l->next = NULL; /* C: the end of the chain */
    CHECK_EQ(uipc_serve(m, name, chain_handler, l), 0);
    for (;;) /* until the bed kills it */
        CHECK(uipc_poll(m, -1) >= 0);
}

static int chain_client(void *arg)
{
    struct chain_report *r = arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch;
    CHECK_EQ(uipc_connect(m, "l1", &ch), 0);
    /* Every level up and serving first (the bed starts them one after the
     * other): a level that took the timed call after its deadline would
     * rightly skip it, and say nothing. */
    CHECK_EQ(chain_call(ch, CHAIN_PING, CHAIN_OWN_MS, UIPC_WAIT_READY), 0);
    r->t0_ns = uipc__now_ns();
    r->lv[0].status = chain_call(ch, CHAIN_CALL, CHAIN_DEADLINE_MS, 0);
    r->lv[0].end_ns = uipc__now_ns();
    atomic_store(&r->lv[0].done, 1);
    uipc_module_close(m);
    return 0;
}

static bool chain_done(const struct chain_report *r)
{
    for (int i = 0; i < CHAIN_LEVELS; i++)
        if (!atomic_load(&r->lv[i].done))
            return false;
    return true;
}

static void check_level(const struct chain_report *r, int i)
{
    static const char *const names[] = { "client", "A", "B", "C" };
    const struct level_report *l = &r->lv[i];
    double ms = (double)(l->end_ns - r->t0_ns) / 1e6;
    if (i < CHAIN_LEVELS - 1)
        print_message("chain: %-6s its call returned %s %.1f ms after the client's began\n", names[i],
                      uipc_strerror(l->status), ms);
    if (i > 0)
        print_message("chain: %-6s uipc_req_remaining_ms %lld as its handler started\n", names[i],
                      (long long)l->remaining_ms);
    if (i < CHAIN_LEVELS - 1) {
        assert_int_equal(l->status, -UIPC_ETIMEDOUT);
        assert_true(l->end_ns - r->t0_ns >= CHAIN_DEADLINE_MS * 1000000ull);
        assert_true(ms < 5000); /* the deadline's doing, not its own 30 s */
    }
    if (i > 0)
        assert_true(l->remaining_ms >= 0 && l->remaining_ms <= CHAIN_DEADLINE_MS);
    if (i > 0 && i < CHAIN_LEVELS - 1) { /* nothing left: refused at once, never sent */
        assert_int_equal(l->again, -UIPC_ETIMEDOUT);
        assert_int_equal(l->again_sent, 0);
    }
}

/* The client's 50 ms deadline expires while C sleeps: A and B, which
 * passed it on with UIPC_INHERIT_DEADLINE and 30 s of their own, see
 * -UIPC_ETIMEDOUT at the deadline, as the client does. */
static void test_chain_inherits_deadline(void **state)
{
    (void)state;
    struct chain_report *r = testmod_shared(sizeof(*r));
    static struct chain_level lv[CHAIN_LEVELS];
    struct uipc_bed *b;
    int mod[CHAIN_LEVELS], st;
    assert_non_null(r);
    assert_int_equal(uipc__bed_new(&b), 0);
    mod[0] = uipc__bed_module(b, "client", chain_client, r);
    for (int i = 1; i < CHAIN_LEVELS; i++) {
        char name[16];
        lv[i] = (struct chain_level){ .r = r, .level = i };
        snprintf(name, sizeof(name), "level%d", i);
        mod[i] = uipc__bed_module(b, name, level_main, &lv[i]);
    }
    for (int i = 1; i < CHAIN_LEVELS; i++) {
        char service[16];
        snprintf(service, sizeof(service), "l%d", i);
        assert_true(uipc__bed_channel(b, mod[i - 1], mod[i], service, 0, 0) >= 0);
    }
    assert_int_equal(uipc__bed_start_all(b), 0);
    assert_int_equal(uipc__bed_wait(b, mod[0], TIMEOUT_MS, &st), mod[0]);
    expect_clean_exit(st);
    for (int i = 0; i < 3000 && !chain_done(r); i++)
        testmod_sleep_ms(10);
    assert_true(chain_done(r));
    for (int i = 0; i < CHAIN_LEVELS; i++)
        check_level(r, i);
    uipc__bed_free(b);
}

/* ---- the server's side of a deadline ---- */

static int count_call(uipc_chan *ch)
{
    struct uipc_call c = { .fill = no_bytes, .opcode = OP_COUNT };
    return uipc_call(ch, &c);
}

/* Held behind a handler until its 50 ms are gone, a command is answered
 * -UIPC_ETIMEDOUT by the server without running: OP_COUNT counts only
 * the handlers that ran. */
static int client_skip(void *arg)
{
    const struct testmod_gate *g = arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    struct testmod_msg gate, late = { .len = 0 };
    testmod_gate_call(ch, g, &gate);
    struct uipc_call c = { .fill = testmod_fill, .complete = testmod_complete, .opcode = OP_COUNT,
                           .timeout_ms = 50, .arg = &late };
    CHECK_EQ(uipc_call(ch, &c), 0);
    while (late.completions == 0)
        CHECK(uipc_poll(m, 1000) >= 0);
    CHECK_EQ(late.status, -UIPC_ETIMEDOUT);
    /* The server reads the coarse clock, up to a tick (4 ms at HZ=250)
     * behind ours: let it pass the deadline too. */
    testmod_sleep_ms(20);
    testmod_gate_release(g);
    while (gate.completions == 0)
        CHECK(uipc_poll(m, 1000) >= 0);
    CHECK_EQ(gate.status, sizeof(struct testmod_gate_req));
    CHECK_EQ(count_call(ch), 1); /* this one: the late one never ran */
    CHECK_EQ(count_call(ch), 2);
    testmod_check_whole(ch, 1); /* the late one's slot came back with its answer */
    CHECK_EQ(late.completions, 1);
    uipc_module_close(m);
    return 0;
}

static void test_skip_past_deadline(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_gated(client_skip, 0, TIMEOUT_MS));
}

static int remaining_call(uipc_chan *ch, uint32_t timeout_ms)
{
    struct uipc_call c = { .fill = no_bytes, .opcode = OP_REMAINING, .timeout_ms = timeout_ms };
    return uipc_call(ch, &c);
}

static int status_call(uipc_chan *ch, int status, uint32_t timeout_ms)
{
    struct testmod_msg msg = { .len = sizeof(status) };
    memcpy(msg.buf, &status, sizeof(status));
    struct uipc_call c = { .fill = testmod_fill, .opcode = OP_STATUS, .timeout_ms = timeout_ms, .arg = &msg };
    return uipc_call(ch, &c);
}

static int client_remaining(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    CHECK_EQ(remaining_call(ch, 0), -1); /* no deadline */
    int r = remaining_call(ch, 5000);
    CHECK(r >= 0 && r <= 5000);
    r = remaining_call(ch, 30000);
    CHECK(r > 5000 && r <= 30000); /* the caller's, not a default */
    /* -UIPC_ETIMEDOUT from a server whose caller's deadline has not passed
     * (or who has none) is a lie; -UIPC_ETOOBIG says what the transport did. */
    CHECK_EQ(status_call(ch, -UIPC_ETIMEDOUT, 0), -UIPC_EBADSTATUS);
    CHECK_EQ(status_call(ch, -UIPC_ETIMEDOUT, 30000), -UIPC_EBADSTATUS);
    CHECK_EQ(status_call(ch, -UIPC_ETOOBIG, 0), -UIPC_ETOOBIG);
    /* outside a handler there is nothing to inherit: its own timeout */
    struct uipc_call c = { .fill = no_bytes, .opcode = OP_REMAINING, .timeout_ms = 5000,
                           .flags = UIPC_INHERIT_DEADLINE };
    r = uipc_call(ch, &c);
    CHECK(r >= 0 && r <= 5000);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_remaining_and_statuses(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(client_remaining, NULL, 0, 0, TIMEOUT_MS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_inherits_deadline),
        cmocka_unit_test(test_skip_past_deadline),
        cmocka_unit_test(test_remaining_and_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
