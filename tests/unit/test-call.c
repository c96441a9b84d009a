/* SPDX-License-Identifier: MIT */
/* uipc_call across real processes: sync, async, mixed, deferred, errors,
 * timeouts, slot exhaustion, threads, fd mode and call cycles. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
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

static int sync_one(uipc_chan *ch, uint32_t op, unsigned seed, size_t len)
{
    struct testmod_msg msg = { .len = len };
    testmod_pattern(msg.buf, len, seed);
    struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply, .opcode = op, .arg = &msg };
    int st = uipc_call(ch, &c);
    if (st >= 0 && op == OP_ECHO) {
        CHECK_EQ(msg.out_len, len);
        CHECK(memcmp(msg.out, msg.buf, len) == 0);
    }
    return st;
}

static int client_sync(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    for (unsigned i = 0; i < 5000; i++) {
        size_t len = i % 4097;
        CHECK_EQ(sync_one(ch, OP_ECHO, i, len), (int)len);
    }
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    CHECK_EQ(st.issued, 5000);
    CHECK_EQ(st.ok, 5000);
    /* the same counts published in the region for the supervisor, and one
     * call in UIPC_LAT_SAMPLE timed */
    const struct uipc_side *pub = ch->r.side[UIPC_CLIENT];
    CHECK_EQ(atomic_load(&pub->issued), 5000);
    CHECK_EQ(atomic_load(&pub->ok), 5000);
    CHECK_EQ(atomic_load(&pub->peer_died) + atomic_load(&pub->timed_out) + atomic_load(&pub->proto), 0);
    uint64_t samples = 0;
    for (unsigned b = 0; b < UIPC_LAT_BUCKETS; b++)
        samples += atomic_load(&pub->lat[b]);
    CHECK_EQ(samples, (5000 + UIPC_LAT_SAMPLE - 1) / UIPC_LAT_SAMPLE);
    CHECK_EQ(atomic_load(&pub->lat[0]), 0); /* no round trip takes under 1 ns */
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_sync(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(client_sync, NULL, 0, 0, TIMEOUT_MS));
}

#define NASYNC 64
struct async_batch {
    struct testmod_msg msg[NASYNC];
};

/* Issues n async echo calls, then polls until every one completed once. */
static void async_round(uipc_module *m, uipc_chan *ch, struct async_batch *b, unsigned n, unsigned seed)
{
    for (unsigned i = 0; i < n; i++) {
        struct testmod_msg *msg = &b->msg[i];
        memset(msg, 0, sizeof(*msg));
        msg->len = 1 + (seed + i) % 512;
        testmod_pattern(msg->buf, msg->len, seed + i);
        struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply,
                               .complete = testmod_complete, .opcode = OP_ECHO, .arg = msg };
        CHECK_EQ(uipc_call(ch, &c), 0);
        CHECK_EQ(msg->completions, 0); /* never inline */
    }
    unsigned done = 0;
    while (done < n) {
        CHECK(uipc_poll(m, 1000) >= 0);
        done = 0;
        for (unsigned i = 0; i < n; i++)
            done += b->msg[i].completions;
    }
    for (unsigned i = 0; i < n; i++) {
        CHECK_EQ(b->msg[i].completions, 1);
        CHECK_EQ(b->msg[i].status, (int)b->msg[i].len);
        CHECK(memcmp(b->msg[i].out, b->msg[i].buf, b->msg[i].len) == 0);
    }
}

static int client_async(void *arg)
{
    (void)arg;
    static struct async_batch b;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    for (unsigned round = 0; round < 200; round++)
        async_round(m, ch, &b, NASYNC, round);
    CHECK(uipc_poll(m, 0) == 0); /* nothing delivered twice */
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_async(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(client_async, NULL, 0, 0, TIMEOUT_MS));
}

static int client_mixed(void *arg)
{
    (void)arg;
    static struct async_batch b;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    for (unsigned round = 0; round < 100; round++) {
        /* async calls outstanding while sync calls go through */
        for (unsigned i = 0; i < 32; i++) {
            struct testmod_msg *msg = &b.msg[i];
            memset(msg, 0, sizeof(*msg));
            msg->len = 64;
            testmod_pattern(msg->buf, msg->len, round + i);
            struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply,
                                   .complete = testmod_complete, .opcode = OP_ECHO, .arg = msg };
            CHECK_EQ(uipc_call(ch, &c), 0);
            CHECK_EQ(sync_one(ch, OP_ECHO, round * 100 + i, 100), 100);
        }
        /* completions reaped during the sync waits are delivered only here */
        for (unsigned i = 0; i < 32; i++)
            CHECK_EQ(b.msg[i].completions, 0);
        unsigned done = 0;
        while (done < 32) {
            CHECK(uipc_poll(m, 1000) >= 0);
            done = 0;
            for (unsigned i = 0; i < 32; i++)
                done += b.msg[i].completions;
        }
        for (unsigned i = 0; i < 32; i++) {
            CHECK_EQ(b.msg[i].completions, 1);
            CHECK(memcmp(b.msg[i].out, b.msg[i].buf, 64) == 0);
        }
    }
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_mixed(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(client_mixed, NULL, 0, 0, TIMEOUT_MS));
}

static int client_status(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    int values[] = { 0, 1, 77, -EINVAL, -4095, -9999, -11000, 1 << 30 };
    for (unsigned i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct testmod_msg msg = { .len = sizeof(int) };
        memcpy(msg.buf, &values[i], sizeof(int));
        struct uipc_call c = { .fill = testmod_fill, .opcode = OP_STATUS, .arg = &msg };
        int st = uipc_call(ch, &c);
        CHECK_EQ(st, values[i]);
        CHECK(!uipc_is_transport_error(st));
    }
    /* A handler can never pass a transport code off as its own. */
    for (int code = UIPC_ERANGE_MIN; code <= UIPC_ERANGE_MAX; code += 333) {
        struct testmod_msg msg = { .len = sizeof(int) };
        int v = -code;
        memcpy(msg.buf, &v, sizeof(int));
        struct uipc_call c = { .fill = testmod_fill, .opcode = OP_STATUS, .arg = &msg };
        CHECK_EQ(uipc_call(ch, &c), -UIPC_EBADSTATUS);
    }
    /* unknown opcode: the handler's own errno-style answer */
    CHECK_EQ(sync_one(ch, 999, 1, 8), -ENOSYS);
    /* a reply larger than the slot is refused on the server side, and
     * its caller hears why, whatever status the handler returned */
    CHECK_EQ(sync_one(ch, OP_BIGREPLY, 1, 8), -UIPC_ETOOBIG);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_status(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(client_status, NULL, 0, 0, TIMEOUT_MS));
}

static int fill_fails(void *buf, size_t cap, size_t *len, void *arg)
{
    (void)buf; (void)cap; (void)len; (void)arg;
    return -EIO;
}

static int never_runs(uipc_req *req, void *ctx)
{
    (void)req; (void)ctx;
    return -EIO;
}

static int client_not_issued(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    struct testmod_msg msg = { .len = 4097 }; /* one byte over the slot */
    struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply,
                           .complete = testmod_complete, .opcode = OP_ECHO, .arg = &msg };
    CHECK_EQ(uipc_call(ch, &c), -UIPC_ETOOBIG);
    c.complete = NULL;
    CHECK_EQ(uipc_call(ch, &c), -UIPC_ETOOBIG);
    c.fill = fill_fails;
    CHECK_EQ(uipc_call(ch, &c), -EIO);
    c.complete = testmod_complete;
    CHECK_EQ(uipc_call(ch, &c), -EIO);
    CHECK_EQ(uipc_call(ch, NULL), -EINVAL);
    c.fill = NULL;
    CHECK_EQ(uipc_call(ch, &c), -EINVAL);
    /* a call that could not be issued runs no callback, now or later */
    CHECK_EQ(uipc_poll(m, 20), 0);
    CHECK_EQ(msg.completions, 0);
    CHECK_EQ(msg.out_len, 0);
    uipc_chan *none;
    CHECK_EQ(uipc_connect(m, "nope", &none), -ENOENT);
    CHECK_EQ(uipc_serve(m, "echo", NULL, NULL), -EINVAL);
    CHECK_EQ(uipc_serve(m, "nope", never_runs, NULL), -ENOENT);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_not_issued(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(client_not_issued, NULL, 0, 0, TIMEOUT_MS));
}

static int client_exhaust(void *arg)
{
    (void)arg;
    static struct async_batch b;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    /* 4 slots: four slow calls take them all */
    for (unsigned i = 0; i < 4; i++) {
        unsigned ms = 100;
        b.msg[i] = (struct testmod_msg){ .len = sizeof(ms) };
        memcpy(b.msg[i].buf, &ms, sizeof(ms));
        struct uipc_call c = { .fill = testmod_fill, .complete = testmod_complete,
                               .opcode = OP_SLEEP, .arg = &b.msg[i] };
        CHECK_EQ(uipc_call(ch, &c), 0);
    }
    struct testmod_msg extra = { .len = 8 };
    struct uipc_call c = { .fill = testmod_fill, .complete = testmod_complete,
                           .opcode = OP_ECHO, .arg = &extra };
    CHECK_EQ(uipc_call(ch, &c), -UIPC_ENOSLOT);
    c.complete = NULL;
    CHECK_EQ(uipc_call(ch, &c), -UIPC_ENOSLOT);
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    CHECK_EQ(st.free_slots, 0);
    CHECK_EQ(st.in_flight, 4);
    unsigned done = 0;
    while (done < 4) {
        CHECK(uipc_poll(m, 1000) >= 0);
        done = b.msg[0].completions + b.msg[1].completions + b.msg[2].completions + b.msg[3].completions;
    }
    CHECK_EQ(extra.completions, 0);
    CHECK_EQ(sync_one(ch, OP_ECHO, 3, 8), 8);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_exhaust(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(client_exhaust, NULL, 4, 0, TIMEOUT_MS));
}

static int client_timeout(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    unsigned ms = 300;
    struct testmod_msg msg = { .len = sizeof(ms) };
    memcpy(msg.buf, &ms, sizeof(ms));
    struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply, .opcode = OP_SLEEP,
                           .timeout_ms = 20, .arg = &msg };
    CHECK_EQ(uipc_call(ch, &c), -UIPC_ETIMEDOUT);
    CHECK_EQ(msg.out_len, 0); /* no reply callback for a transport error */

    /* async: the same, exactly one completion, through uipc_poll */
    struct testmod_msg amsg = msg;
    c.complete = testmod_complete;
    c.arg = &amsg;
    CHECK_EQ(uipc_call(ch, &c), 0);
    while (amsg.completions == 0)
        CHECK(uipc_poll(m, -1) >= 0);
    CHECK_EQ(amsg.status, -UIPC_ETIMEDOUT);

    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    CHECK_EQ(st.timed_out, 2);
    CHECK_EQ(st.in_flight, 0);
    CHECK_EQ(st.free_slots, st.slots - 2); /* held until the late answers come */

    /* The late answers free the slots and are never delivered. */
    for (int i = 0; i < 100 && st.free_slots != st.slots; i++) {
        uipc_poll(m, 10);
        CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    }
    CHECK_EQ(amsg.completions, 1);
    testmod_check_whole(ch, 1);
    CHECK_EQ(sync_one(ch, OP_ECHO, 5, 32), 32);
    uipc_module_close(m);
    return 0;
}

static void test_timeout(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(client_timeout, NULL, 0, 0, TIMEOUT_MS));
}

static int client_defer(void *arg)
{
    (void)arg;
    static struct async_batch b;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    for (unsigned i = 0; i < 100; i++)
        CHECK_EQ(sync_one(ch, OP_DEFER, i, 16), 4242);
    for (unsigned i = 0; i < 16; i++) {
        b.msg[i] = (struct testmod_msg){ .len = 16 };
        struct uipc_call c = { .fill = testmod_fill, .complete = testmod_complete,
                               .opcode = OP_DEFER, .arg = &b.msg[i] };
        CHECK_EQ(uipc_call(ch, &c), 0);
    }
    unsigned done = 0;
    while (done < 16) {
        CHECK(uipc_poll(m, 1000) >= 0);
        done = 0;
        for (unsigned i = 0; i < 16; i++)
            done += b.msg[i].completions;
    }
    for (unsigned i = 0; i < 16; i++)
        CHECK_EQ(b.msg[i].status, 4242);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_defer(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(client_defer, NULL, 0, 0, TIMEOUT_MS));
}

struct thread_arg {
    uipc_chan *ch;
    unsigned id;
    int failures;
};

static void *thread_calls(void *p)
{
    struct thread_arg *t = p;
    for (unsigned i = 0; i < 3000; i++) {
        struct testmod_msg msg = { .len = 1 + (i + t->id) % 200 };
        testmod_pattern(msg.buf, msg.len, t->id * 100000 + i);
        struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply, .opcode = OP_ECHO, .arg = &msg };
        if (uipc_call(t->ch, &c) != (int)msg.len || memcmp(msg.out, msg.buf, msg.len) != 0)
            t->failures++;
    }
    return NULL;
}

static int client_threads(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    pthread_t th[4];
    struct thread_arg ta[4];
    for (unsigned i = 0; i < 4; i++) {
        ta[i] = (struct thread_arg){ .ch = ch, .id = i };
        CHECK_EQ(pthread_create(&th[i], NULL, thread_calls, &ta[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        CHECK_EQ(pthread_join(th[i], NULL), 0);
        CHECK_EQ(ta[i].failures, 0);
    }
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    CHECK_EQ(st.ok, 4 * 3000);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_threads(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(client_threads, NULL, 8, 0, TIMEOUT_MS));
}

/* The caller's own epoll loop drives completions through uipc_fd. */
static int client_fd(void *arg)
{
    (void)arg;
    static struct async_batch b;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    int fd = uipc_fd(m);
    CHECK(fd >= 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
    for (unsigned round = 0; round < 200; round++) {
        b.msg[0] = (struct testmod_msg){ .len = 32 };
        testmod_pattern(b.msg[0].buf, 32, round);
        struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply,
                               .complete = testmod_complete, .opcode = OP_ECHO, .arg = &b.msg[0] };
        CHECK_EQ(uipc_call(ch, &c), 0);
        while (b.msg[0].completions == 0) {
            int n = epoll_wait(ep, &ev, 1, 5000);
            CHECK_EQ(n, 1); /* a lost wake-up would time out here */
            CHECK(uipc_poll(m, 0) >= 0);
        }
        CHECK_EQ(b.msg[0].status, 32);
    }
    close(ep);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_fd(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(client_fd, NULL, 0, 0, TIMEOUT_MS));
}

/* Cycle: the client calls "echo" synchronously; the server's handler
 * calls the client's "back" service synchronously while the client waits. */
static int cycle_client(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    CHECK_EQ(testmod_serve_echo(m, "back"), 0);
    uipc_chan *ch;
    CHECK_EQ(uipc_connect(m, "echo", &ch), 0);
    for (unsigned i = 0; i < 500; i++)
        CHECK_EQ(sync_one(ch, OP_CALLBACK, i, 48), 48);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_cycle(void **state)
{
    (void)state;
    static const char *const names[] = { "echo", NULL };
    struct uipc_bed *b;
    int st;
    assert_int_equal(uipc__bed_new(&b), 0);
    int srv = uipc__bed_module(b, "server", testmod_echo_main, (void *)names);
    int cli = uipc__bed_module(b, "client", cycle_client, NULL);
    assert_true(uipc__bed_channel(b, cli, srv, "echo", 0, 0) >= 0);
    assert_true(uipc__bed_channel(b, srv, cli, "back", 0, 0) >= 0);
    assert_int_equal(uipc__bed_start_all(b), 0);
    assert_int_equal(uipc__bed_wait(b, cli, TIMEOUT_MS, &st), cli);
    expect_clean_exit(st);
    uipc__bed_free(b);
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* The module owns what it was handed: close leaves no fd behind. */
static int client_fds(void *arg)
{
    (void)arg;
    int before = count_fds();
    uipc_module *m = testmod_open();
    CHECK_EQ(sync_one(testmod_connect_echo(m), OP_ECHO, 1, 8), 8);
    uipc_module_close(m);
    /* our bell and sender to it, our control region, the region, our sender to the server's */
    CHECK_EQ(count_fds(), before - 5);
    const char *bell = getenv("UIPC_BELL");
    CHECK_EQ(bell != NULL, 1);
    CHECK(fcntl(atoi(bell), F_GETFD) < 0);
    CHECK(fcntl(atoi(strchr(bell, ':') + 1), F_GETFD) < 0);
    return 0;
}

static void test_close_fds(void **state)
{
    (void)state;
    expect_clean_exit(testmod_run_pair(client_fds, NULL, 0, 0, TIMEOUT_MS));
}

static void test_strerror(void **state)
{
    (void)state;
    for (int c = UIPC_EPEERDIED; c <= UIPC_ESTOPPED; c++) {
        const char *s = uipc_strerror(-c);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown uipc transport error");
        for (int d = UIPC_EPEERDIED; d < c; d++)
            assert_string_not_equal(s, uipc_strerror(-d));
        assert_true(uipc_is_transport_error(-c));
    }
    assert_string_equal(uipc_strerror(-ENOENT), strerror(ENOENT));
    assert_false(uipc_is_transport_error(-ENOENT));
    assert_false(uipc_is_transport_error(0));
    assert_false(uipc_is_transport_error(UIPC_EPEERDIED));
    uipc_module *m;
    unsetenv("UIPC_MODULE");
    assert_int_equal(uipc_module_open(&m), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_async),
        cmocka_unit_test(test_mixed),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_not_issued),
        cmocka_unit_test(test_exhaust),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_defer),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_fd),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_close_fds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
