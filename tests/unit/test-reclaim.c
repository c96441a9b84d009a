/* SPDX-License-Identifier: MIT */
/* Peers that die mid-call, for real: a server exiting in a handler, a
 * server killed with SIGKILL under load, a client killed while served.
 * Every issued call completes exactly once, and the pools come back whole. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bed.h"
#include "fifo.h"
#include "reclaim.h"
#include "testmod.h"

#define TIMEOUT_MS 60000

static void expect_exit(int st, int code)
{
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), code);
}

static struct uipc_call sleep_call(struct testmod_msg *msg, unsigned ms, bool async)
{
    *msg = (struct testmod_msg){ .len = sizeof(ms) };
    memcpy(msg->buf, &ms, sizeof(ms));
    return (struct uipc_call){ .fill = testmod_fill, .complete = async ? testmod_complete : NULL,
                               .opcode = OP_SLEEP, .arg = msg };
}

/* Retries a sync echo until the restarted server answers. */
static void wait_for_service(uipc_chan *ch)
{
    for (int i = 0; i < 3000; i++) {
        struct testmod_msg msg = { .len = 8 };
        struct uipc_call c = { .fill = testmod_fill, .opcode = OP_ECHO, .arg = &msg };
        int st = uipc_call(ch, &c);
        if (st == 8)
            return;
        CHECK_EQ(st, -UIPC_EPEERDIED);
        testmod_sleep_ms(5);
    }
    CHECK(!"service never came back");
}

static int client_server_exits(void *arg)
{
    (void)arg;
    static struct testmod_msg msg[32];
    uipc_module *m = testmod_open();
    uipc_chan *ch;
    CHECK_EQ(uipc_connect(m, "echo", &ch), 0);

    /* Call 0 keeps the server busy while the rest are queued behind it;
     * call 1 kills it inside its handler; calls 2..31 are still waiting. */
    struct uipc_call c = sleep_call(&msg[0], 300, true);
    CHECK_EQ(uipc_call(ch, &c), 0);
    msg[1] = (struct testmod_msg){ .len = 4 };
    c = (struct uipc_call){ .fill = testmod_fill, .complete = testmod_complete,
                            .opcode = OP_EXIT, .arg = &msg[1] };
    CHECK_EQ(uipc_call(ch, &c), 0);
    for (unsigned i = 2; i < 32; i++) {
        c = sleep_call(&msg[i], 1, true);
        CHECK_EQ(uipc_call(ch, &c), 0);
    }
    unsigned done = 0;
    while (done < 32) {
        CHECK(uipc_poll(m, 1000) >= 0);
        done = 0;
        for (unsigned i = 0; i < 32; i++)
            done += msg[i].completions;
    }
    CHECK_EQ(msg[0].status, 4);
    for (unsigned i = 0; i < 32; i++) {
        CHECK_EQ(msg[i].completions, 1);
        if (i > 0)
            CHECK_EQ(msg[i].status, -UIPC_EPEERDIED);
    }
    CHECK_EQ(uipc_poll(m, 50), 0); /* no duplicate delivered later */
    testmod_check_whole(ch, 0);

    /* Down: a call fails at once, runs no callback. */
    struct testmod_msg late = { .len = 4 };
    c = (struct uipc_call){ .fill = testmod_fill, .complete = testmod_complete,
                            .opcode = OP_ECHO, .arg = &late };
    int st = uipc_call(ch, &c);
    if (st == -UIPC_EPEERDIED) {
        uipc_poll(m, 10);
        CHECK_EQ(late.completions, 0);
    } else { /* the bed restarted it already */
        CHECK_EQ(st, 0);
        while (late.completions == 0)
            CHECK(uipc_poll(m, 1000) >= 0);
    }
    wait_for_service(ch);
    testmod_check_whole(ch, 0);
    uipc_module_close(m);
    return 0;
}

static void test_server_exits_midcall(void **state)
{
    (void)state;
    struct testmod_pair p;
    int st;
    assert_int_equal(testmod_pair_start(&p, testmod_echo_main, NULL, client_server_exits, NULL, 0, 0), 0);
    struct uipc_bed *b = p.b;
    int srv = p.srv, cli = p.cli;
    assert_int_equal(uipc__bed_wait(b, srv, TIMEOUT_MS, &st), srv);
    expect_exit(st, 3);
    assert_true(uipc__bed_reclaimed(b) >= 31);
    assert_int_equal(uipc__bed_start(b, srv), 0);
    assert_int_equal(uipc__bed_wait(b, cli, TIMEOUT_MS, &st), cli);
    expect_exit(st, 0);
    uipc__bed_free(b);
}

/* Load: 48 async calls kept in flight, plus a thread making sync calls,
 * while the parent kills the server with SIGKILL and restarts it. */
#define DEPTH 48
struct load {
    uipc_chan *ch;
    struct testmod_msg msg[DEPTH];
    unsigned long ok, died, sync_ok, sync_died;
    _Atomic int stop;
};

static void *sync_thread(void *p)
{
    struct load *l = p;
    while (!atomic_load(&l->stop)) {
        struct testmod_msg msg;
        struct uipc_call c = sleep_call(&msg, 1, false);
        int st = uipc_call(l->ch, &c);
        if (st == -UIPC_EPEERDIED) {
            l->sync_died++;
            testmod_sleep_ms(1);
        } else {
            CHECK_EQ(st, 4);
            l->sync_ok++;
        }
    }
    return NULL;
}

static int issue_slot(struct load *l, unsigned i)
{
    struct uipc_call c = sleep_call(&l->msg[i], 1, true);
    return uipc_call(l->ch, &c);
}

static void collect(struct load *l, unsigned i, bool *busy)
{
    if (!busy[i] || l->msg[i].completions == 0)
        return;
    CHECK_EQ(l->msg[i].completions, 1);
    if (l->msg[i].status == -UIPC_EPEERDIED)
        l->died++;
    else {
        CHECK_EQ(l->msg[i].status, 4);
        l->ok++;
    }
    busy[i] = false;
}

static int client_under_load(void *arg)
{
    (void)arg;
    static struct load l;
    bool busy[DEPTH] = { false };
    uipc_module *m = testmod_open();
    CHECK_EQ(uipc_connect(m, "echo", &l.ch), 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, sync_thread, &l), 0);

    unsigned long ok_after = 0;
    while (l.died == 0 || ok_after < 500) {
        for (unsigned i = 0; i < DEPTH; i++) {
            collect(&l, i, busy);
            if (!busy[i]) {
                int r = issue_slot(&l, i);
                if (r == 0)
                    busy[i] = true;
                else
                    CHECK(r == -UIPC_EPEERDIED || r == -UIPC_ENOSLOT);
            }
        }
        unsigned long ok0 = l.ok;
        CHECK(uipc_poll(m, 100) >= 0);
        for (unsigned i = 0; i < DEPTH; i++)
            collect(&l, i, busy);
        if (l.died)
            ok_after += l.ok - ok0;
    }
    atomic_store(&l.stop, 1);
    CHECK_EQ(pthread_join(th, NULL), 0);
    for (bool any = true; any;) {
        CHECK(uipc_poll(m, 100) >= 0);
        any = false;
        for (unsigned i = 0; i < DEPTH; i++) {
            collect(&l, i, busy);
            any |= busy[i];
        }
    }
    testmod_check_whole(l.ch, 0);
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(l.ch, &st), 0);
    CHECK_EQ(st.issued, st.ok + st.peer_died);
    CHECK_EQ(st.ok, l.ok + l.sync_ok);
    fprintf(stderr, "async ok %lu died %lu, sync ok %lu died %lu, duplicates dropped %llu\n",
            l.ok, l.died, l.sync_ok, l.sync_died, (unsigned long long)st.duplicates);
    uipc_module_close(m);
    return 0;
}

static void test_server_killed_under_load(void **state)
{
    (void)state;
    struct testmod_pair p;
    int st;
    assert_int_equal(testmod_pair_start(&p, testmod_echo_main, NULL, client_under_load, NULL, 0, 0), 0);
    struct uipc_bed *b = p.b;
    int srv = p.srv, cli = p.cli;
    for (int kill_no = 0; kill_no < 5; kill_no++) {
        testmod_sleep_ms(60);
        assert_int_equal(uipc__bed_kill(b, srv, SIGKILL), 0);
        assert_int_equal(uipc__bed_wait(b, srv, TIMEOUT_MS, &st), srv);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(uipc__bed_start(b, srv), 0);
    }
    assert_int_equal(uipc__bed_wait(b, cli, TIMEOUT_MS, &st), cli);
    expect_exit(st, 0);
    uipc__bed_free(b);
}

/* A client killed while the server still serves its calls: the server and
 * the other client go on; the victim's next incarnation gets every slot
 * back once the server has answered the dead one's calls. */
static int victim_incarnation = 1;

static int victim_main(void *arg)
{
    int incarnation = *(int *)arg;
    static struct testmod_msg msg[8];
    uipc_module *m = testmod_open();
    uipc_chan *ch;
    CHECK_EQ(uipc_connect(m, "echo", &ch), 0);
    if (incarnation == 1) {
        for (unsigned i = 0; i < 8; i++) {
            struct uipc_call c = sleep_call(&msg[i], 100, true);
            CHECK_EQ(uipc_call(ch, &c), 0);
        }
        for (;;)
            pause(); /* killed here, with 8 calls being served */
    }
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    CHECK(st.free_slots < st.slots); /* the dead one's calls are quarantined */
    for (unsigned i = 0; i < 200; i++) {
        struct testmod_msg e = { .len = 16 };
        struct uipc_call c = { .fill = testmod_fill, .opcode = OP_ECHO, .arg = &e };
        CHECK_EQ(uipc_call(ch, &c), 16);
    }
    for (int i = 0; i < 400 && st.free_slots != st.slots; i++) {
        uipc_poll(m, 10);
        CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    }
    testmod_check_whole(ch, 0);
    uipc_module_close(m);
    return 0;
}

static int bystander_main(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch;
    CHECK_EQ(uipc_connect(m, "echo", &ch), 0);
    testmod_echo_loop(ch, 20000, 24, 0);
    uipc_module_close(m);
    return 0;
}

/* Waits (up to 30 s) until n slots of the region are in flight.  With
 * since (one generation per slot), only calls newer than those count, and
 * since is updated: a word still SUBMITTED from the calls of the last
 * round, whose completions the client has yet to reap, is no new call. */
static bool wait_in_flight_since(struct uipc_region *r, unsigned n, uint32_t *since)
{
    for (int t = 0; t < 3000; t++) {
        unsigned busy = 0;
        for (uint32_t i = 0; i < r->slots; i++) {
            uint64_t w = atomic_load(&uipc_slot(r, i)->own);
            uint32_t st = uipc_slot_word_state(w);
            busy += (st == UIPC_SLOT_SUBMITTED || st == UIPC_SLOT_SERVING) &&
                    (!since || (int32_t)(uipc_slot_word_gen(w) - since[i]) > 0);
        }
        if (busy >= n) {
            for (uint32_t i = 0; since && i < r->slots; i++)
                since[i] = uipc_slot_word_gen(atomic_load(&uipc_slot(r, i)->own));
            return true;
        }
        testmod_sleep_ms(10);
    }
    return false;
}

static bool wait_in_flight(struct uipc_region *r, unsigned n)
{
    return wait_in_flight_since(r, n, NULL);
}

static void test_client_killed(void **state)
{
    (void)state;
    struct uipc_bed *b;
    int st;
    assert_int_equal(uipc__bed_new(&b), 0);
    int srv = uipc__bed_module(b, "server", testmod_echo_main, NULL);
    int vic = uipc__bed_module(b, "victim", victim_main, &victim_incarnation);
    int by = uipc__bed_module(b, "bystander", bystander_main, NULL);
    int vch = uipc__bed_channel(b, vic, srv, "echo", 0, 0);
    assert_true(vch >= 0);
    assert_true(uipc__bed_channel(b, by, srv, "echo", 0, 0) >= 0);
    assert_int_equal(uipc__bed_start_all(b), 0);
    assert_true(wait_in_flight(uipc__bed_region(b, vch), 6));
    assert_int_equal(uipc__bed_kill(b, vic, SIGKILL), 0);
    assert_int_equal(uipc__bed_wait(b, vic, TIMEOUT_MS, &st), vic);
    assert_true(WIFSIGNALED(st));
    victim_incarnation = 2;
    assert_int_equal(uipc__bed_start(b, vic), 0);
    assert_int_equal(uipc__bed_wait(b, vic, TIMEOUT_MS, &st), vic);
    expect_exit(st, 0);
    assert_int_equal(uipc__bed_wait(b, by, TIMEOUT_MS, &st), by);
    expect_exit(st, 0);
    assert_true(uipc__bed_pid(b, srv) > 0); /* the server never stopped */
    assert_int_equal(uipc__bed_kill(b, srv, SIGTERM), 0);
    assert_int_equal(uipc__bed_wait(b, srv, TIMEOUT_MS, &st), srv);
    expect_exit(st, 0);
    uipc__bed_free(b);
}

/* A server that attaches and never serves: whatever is sent to it stays
 * in its submit FIFO until it is killed. */
static int lazy_server(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    for (;;)
        pause();
    uipc_module_close(m);
    return 0;
}

#define LAZY_ROUNDS 4

static int client_of_lazy(void *arg)
{
    (void)arg;
    static struct testmod_msg msg[64];
    uipc_module *m = testmod_open();
    uipc_chan *ch;
    CHECK_EQ(uipc_connect(m, "echo", &ch), 0);
    for (int round = 0; round < LAZY_ROUNDS; round++) {
        for (unsigned i = 0; i < 64; i++) {
            struct uipc_call c = sleep_call(&msg[i], 1, true);
            int r;
            while ((r = uipc_call(ch, &c)) == -UIPC_EPEERDIED)
                testmod_sleep_ms(2); /* between the kill and the restart */
            CHECK_EQ(r, 0);
        }
        unsigned done = 0;
        while (done < 64) {
            CHECK(uipc_poll(m, 1000) >= 0);
            done = 0;
            for (unsigned i = 0; i < 64; i++)
                done += msg[i].completions;
        }
        for (unsigned i = 0; i < 64; i++)
            CHECK_EQ(msg[i].status, -UIPC_EPEERDIED);
        testmod_check_whole(ch, 0);
    }
    uipc_module_close(m);
    return 0;
}

/* A server killed again and again before it took anything off its submit
 * FIFO: what each one left behind must not pile up and overflow it. */
static void test_server_dies_before_serving(void **state)
{
    (void)state;
    struct testmod_pair p;
    int st;
    assert_int_equal(testmod_pair_start(&p, lazy_server, NULL, client_of_lazy, NULL, 64, 0), 0);
    struct uipc_bed *b = p.b;
    int srv = p.srv, cli = p.cli;
    int ch = p.ch;
    uint32_t since[64] = { 0 };
    for (int round = 0; round < LAZY_ROUNDS; round++) {
        /* This round's calls, not the last round's words: killing the
         * server before the client sent this round would leave its last
         * round to a server nobody kills. */
        assert_true(wait_in_flight_since(uipc__bed_region(b, ch), 64, since));
        assert_int_equal(uipc__bed_kill(b, srv, SIGKILL), 0);
        assert_int_equal(uipc__bed_wait(b, srv, TIMEOUT_MS, &st), srv);
        if (round + 1 < LAZY_ROUNDS)
            assert_int_equal(uipc__bed_start(b, srv), 0);
    }
    assert_int_equal(uipc__bed_wait(b, cli, TIMEOUT_MS, &st), cli);
    expect_exit(st, 0);
    uipc__bed_free(b);
}

/* A client that died between marking a slot submitted and sending it: the
 * reclaim frees that slot, and leaves alone the ones really sent. */
static void test_unsent_slot_freed(void **state)
{
    (void)state;
    struct uipc_region r;
    struct uipc_fifo sub;
    int fd;
    assert_int_equal(uipc__region_create("echo", 8, 64, &fd), 0);
    assert_int_equal(uipc__region_map(fd, &r), 0);
    uipc__fifo_attach_producer(&sub, r.fifo[UIPC_SUBMIT], r.fifo_size);
    atomic_store(&uipc_slot(&r, 3)->own, uipc_slot_word(5, UIPC_SLOT_SUBMITTED)); /* never sent */
    atomic_store(&uipc_slot(&r, 4)->own, uipc_slot_word(7, UIPC_SLOT_SUBMITTED)); /* sent */
    atomic_store(&uipc_slot(&r, 5)->own, uipc_slot_word(2, UIPC_SLOT_SERVING));   /* taken */
    assert_int_equal(uipc__fifo_push(&sub, 4, 7, 1), 0);
    uipc__reclaim_client(&r);
    assert_int_equal(atomic_load(&uipc_slot(&r, 3)->own), uipc_slot_word(5, UIPC_SLOT_FREE));
    assert_int_equal(atomic_load(&uipc_slot(&r, 4)->own), uipc_slot_word(7, UIPC_SLOT_SUBMITTED));
    assert_int_equal(atomic_load(&uipc_slot(&r, 5)->own), uipc_slot_word(2, UIPC_SLOT_SERVING));
    assert_int_equal(atomic_load(&r.side[UIPC_CLIENT]->epoch), 0);
    uipc__region_unmap(&r);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_exits_midcall),
        cmocka_unit_test(test_server_killed_under_load),
        cmocka_unit_test(test_client_killed),
        cmocka_unit_test(test_server_dies_before_serving),
        cmocka_unit_test(test_unsent_slot_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
