/* SPDX-License-Identifier: MIT */
/* The misbehaving-on-demand echo service used by the process tests. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bed.h"
#include "testmod.h"

static uipc_module *echo_m;
static uipc_req *deferred[256];
static unsigned ndeferred;
static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
    uipc_stop(echo_m);
}

void testmod_sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0)
        ;
}

static int echo_back(uipc_req *req)
{
    size_t len, cap;
    const void *in = uipc_req_data(req, &len);
    void *out = uipc_req_reply_buf(req, &cap);
    memmove(out, in, len); /* the reply buffer is the request's slot */
    uipc_req_reply(req, len);
    return (int)len;
}

static int call_back(uipc_req *req)
{
    uipc_chan *ch;
    struct testmod_msg msg = { .len = 16 };
    testmod_pattern(msg.buf, msg.len, 7);
    if (uipc_connect(echo_m, "back", &ch) < 0)
        return -ENOENT;
    struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply, .opcode = OP_ECHO, .arg = &msg };
    int st = uipc_call(ch, &c);
    if (st != 16 || memcmp(msg.out, msg.buf, 16) != 0)
        return -EIO;
    return echo_back(req);
}

/* Says "taken", then holds the server's loop until the test lets go. */
static int gate(uipc_req *req)
{
    size_t len;
    const void *in = uipc_req_data(req, &len);
    struct testmod_gate_req g;
    if (len < sizeof(g))
        return -EINVAL;
    memcpy(&g, in, sizeof(g));
    if (testmod_tell(g.taken, 't') < 0 || testmod_await(g.release, -1) < 0)
        return -EIO;
    return echo_back(req);
}

static unsigned counted; /* OP_COUNT handlers run in this process */

static int plain_ctx; /* services named plain*: echo only, never misbehave */

static int echo_handler(uipc_req *req, void *ctx)
{
    size_t len;
    const unsigned char *in = uipc_req_data(req, &len);
    unsigned v = 0;
    if (len >= sizeof(v))
        memcpy(&v, in, sizeof(v));

    if (ctx == &plain_ctx)
        return uipc_req_opcode(req) == OP_ECHO ? echo_back(req) : -ENOSYS;
    switch (uipc_req_opcode(req)) {
    case OP_ECHO: return echo_back(req);
    case OP_STATUS: return (int)v;
    case OP_DEFER:
        if (ndeferred == 256)
            return -ENOSPC;
        uipc_req_defer(req);
        deferred[ndeferred++] = req;
        return 0;
    case OP_SLEEP: testmod_sleep_ms(v); return echo_back(req);
    case OP_EXIT: _exit(3);
    case OP_CALLBACK: return call_back(req);
    case OP_BIGREPLY: {
        size_t cap;
        uipc_req_reply_buf(req, &cap);
        return uipc_req_reply(req, cap + 1) == -UIPC_ETOOBIG ? 1 : -EIO;
    }
    case OP_SPIN: for (;;) pause();
    case OP_GATE: return gate(req);
    case OP_COUNT: return (int)++counted;
    case OP_REMAINING: return (int)uipc_req_remaining_ms(req);
    default: return -ENOSYS;
    }
}

int testmod_serve_echo(uipc_module *m, const char *name)
{
    if (!echo_m)
        echo_m = m;
    return uipc_serve(m, name, echo_handler, NULL);
}

int testmod_echo_main(void *arg)
{
    const char *const *names = arg;
    echo_m = testmod_open();
    signal(SIGTERM, on_term);
    for (const char *const *n = names; n && *n; n++)
        CHECK_EQ(uipc_serve(echo_m, *n, echo_handler,
                            strncmp(*n, "plain", 5) == 0 ? &plain_ctx : NULL), 0);
    if (!names)
        CHECK_EQ(uipc_serve(echo_m, "echo", echo_handler, NULL), 0);
    while (!stopping) {
        CHECK(uipc_poll(echo_m, 5) >= 0);
        /* Deferred requests are answered one loop turn later. */
        while (ndeferred)
            CHECK_EQ(uipc_req_complete(deferred[--ndeferred], 4242), 0);
    }
    uipc_module_close(echo_m);
    return 0;
}

void testmod_pattern(unsigned char *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(seed * 131u + i * 7u);
}

int testmod_fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct testmod_msg *msg = arg;
    if (msg->len <= cap)
        memcpy(buf, msg->buf, msg->len);
    *len = msg->len; /* larger than cap: the library says -UIPC_ETOOBIG */
    return 0;
}

void testmod_reply(int status, const void *data, size_t len, void *arg)
{
    struct testmod_msg *msg = arg;
    msg->status = status;
    msg->out_len = len;
    if (len <= sizeof(msg->out))
        memcpy(msg->out, data, len);
}

void testmod_complete(int status, void *arg)
{
    struct testmod_msg *msg = arg;
    msg->status = status;
    msg->completions++;
}

int testmod_tell(int fd, char c)
{
    ssize_t n;
    while ((n = write(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    return n == 1 ? 0 : -errno;
}

int testmod_await(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;
    char c;
    while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (r <= 0)
        return r == 0 ? -ETIMEDOUT : -errno;
    ssize_t n;
    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    return n == 1 ? (unsigned char)c : n == 0 ? -EPIPE : -errno;
}

int testmod_gate_open(struct testmod_gate *g)
{
    if (pipe2(g->taken, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(g->release, O_CLOEXEC) < 0) {
        int err = -errno;
        close(g->taken[0]);
        close(g->taken[1]);
        return err;
    }
    return 0;
}

void testmod_gate_close(struct testmod_gate *g)
{
    for (int i = 0; i < 2; i++) {
        close(g->taken[i]);
        close(g->release[i]);
    }
}

struct testmod_gate_req testmod_gate_req(const struct testmod_gate *g)
{
    return (struct testmod_gate_req){ .taken = g->taken[1], .release = g->release[0] };
}

void testmod_gate_taken(const struct testmod_gate *g)
{
    CHECK_EQ(testmod_await(g->taken[0], -1), 't');
}

void testmod_gate_release(const struct testmod_gate *g)
{
    CHECK_EQ(testmod_tell(g->release[1], 'r'), 0);
}

void testmod_gate_call(uipc_chan *ch, const struct testmod_gate *g, struct testmod_msg *msg)
{
    struct testmod_gate_req req = testmod_gate_req(g);
    *msg = (struct testmod_msg){ .len = sizeof(req) };
    memcpy(msg->buf, &req, sizeof(req));
    struct uipc_call c = { .fill = testmod_fill, .complete = testmod_complete, .opcode = OP_GATE,
                           .arg = msg };
    CHECK_EQ(uipc_call(ch, &c), 0);
    testmod_gate_taken(g);
}

void *testmod_shared(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

uipc_module *testmod_open(void)
{
    uipc_module *m;
    int err = uipc_module_open(&m);
    if (err < 0) {
        fprintf(stderr, "uipc_module_open: %s\n", uipc_strerror(err));
        exit(91);
    }
    return m;
}

int testmod_pair_start(struct testmod_pair *p, int (*server)(void *), void *server_arg,
                       int (*client)(void *), void *client_arg, unsigned slots,
                       unsigned slot_size)
{
    int r = uipc__bed_new(&p->b);
    if (r < 0)
        return r;
    p->srv = uipc__bed_module(p->b, "server", server, server_arg);
    p->cli = uipc__bed_module(p->b, "client", client, client_arg);
    p->ch = uipc__bed_channel(p->b, p->cli, p->srv, "echo", slots, slot_size);
    r = p->ch < 0 ? p->ch : uipc__bed_start_all(p->b);
    if (r < 0) {
        uipc__bed_free(p->b);
        p->b = NULL;
    }
    return r;
}

int testmod_run_pair(int (*client)(void *), void *arg, unsigned slots, unsigned slot_size,
                     int timeout_ms)
{
    struct testmod_pair p;
    int st = -1;
    int r = testmod_pair_start(&p, testmod_echo_main, NULL, client, arg, slots, slot_size);
    if (r < 0)
        return r;
    r = uipc__bed_wait(p.b, p.cli, timeout_ms, &st);
    if (r >= 0) {
        uipc__bed_kill(p.b, p.srv, SIGTERM);
        int sst;
        if (uipc__bed_wait(p.b, p.srv, timeout_ms, &sst) >= 0 && sst != 0)
            fprintf(stderr, "echo server exited with status %#x\n", sst);
    }
    uipc__bed_free(p.b);
    return r < 0 ? r : st;
}

int testmod_run_gated(int (*client)(void *), unsigned slots, int timeout_ms)
{
    static struct testmod_gate g; /* the client's copy is its own after the fork */
    int r = testmod_gate_open(&g);
    if (r < 0)
        return r;
    r = testmod_run_pair(client, &g, slots, 0, timeout_ms);
    testmod_gate_close(&g);
    return r;
}

void testmod_echo_loop(uipc_chan *ch, unsigned n, size_t len, unsigned pause_ms)
{
    for (unsigned i = 0; i < n; i++) {
        struct testmod_msg e = { .len = len };
        testmod_pattern(e.buf, len, i);
        struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply, .opcode = OP_ECHO, .arg = &e };
        CHECK_EQ(uipc_call(ch, &c), (int)len);
        CHECK(memcmp(e.out, e.buf, len) == 0);
        if (pause_ms && i % 500 == 0)
            testmod_sleep_ms(pause_ms);
    }
}

void testmod_check_whole(uipc_chan *ch, int no_dups)
{
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    CHECK_EQ(st.in_flight, 0);
    CHECK_EQ(st.free_slots, st.slots);
    if (no_dups)
        CHECK_EQ(st.duplicates, 0);
}

uipc_chan *testmod_connect_echo(uipc_module *m)
{
    uipc_chan *ch = NULL;
    CHECK_EQ(uipc_connect(m, "echo", &ch), 0);
    return ch;
}
