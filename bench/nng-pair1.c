/* SPDX-License-Identifier: MIT */
/* nng-pair1: request/reply over an NNG PAIR1 socket pair on
 * tcp://127.0.0.1, blocking nng_sendmsg/nng_recvmsg: NNG's own round trip,
 * what uipc-bridge carries its calls on. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

#include "harness.h"

#ifdef HAVE_NNG
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

/* In a MAP_SHARED page: the port the server's listener was given. */
struct rendezvous {
    atomic_int port;
};

struct pair_ctx {
    struct rendezvous *rv;
    nng_socket s;
    nng_msg *req, *rep;
    size_t n;
};

static int nng_errno(int rv)
{
    if ((rv & NNG_ESYSERR) && !(rv & NNG_ETRANERR))
        return -(rv & ~NNG_ESYSERR);
    switch (rv) {
    case NNG_ENOMEM: return -ENOMEM;
    case NNG_ECLOSED: return -EPIPE;
    case NNG_ETIMEDOUT: return -ETIMEDOUT;
    case NNG_ECONNREFUSED: return -ECONNREFUSED;
    case NNG_EADDRINUSE: return -EADDRINUSE;
    default: return -EIO;
    }
}

static void pause_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Opened in the pinned child, never before the fork: NNG's threads start
 * here and inherit the pinning.  Queues as deep as any --depth, so that
 * PAIR1 never holds the pipelined run back (PAIR1 has no flow control of
 * its own beyond them and TCP's). */
static int open_pair(nng_socket *s)
{
    int rv = nng_pair1_open(s);
    if (rv == 0)
        rv = nng_socket_set_int(*s, NNG_OPT_SENDBUF, BENCH_DEPTH_MAX);
    if (rv == 0)
        rv = nng_socket_set_int(*s, NNG_OPT_RECVBUF, BENCH_DEPTH_MAX);
    return rv;
}

static int listen_any_port(struct pair_ctx *c)
{
    nng_listener l;
    int port = 0;
    int rv = nng_listener_create(&l, c->s, "tcp://127.0.0.1:0");
    if (rv == 0)
        rv = nng_listener_start(l, 0);
    if (rv == 0)
        rv = nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port);
    if (rv == 0)
        atomic_store_explicit(&c->rv->port, port, memory_order_release);
    return rv;
}

/* Echoes every call, each message sent back as it came; then stays until
 * the client has its last reply, for closing could drop it unsent. */
static int np_server(void *ctx, const struct bench_opts *o, struct bench_shared *sh)
{
    struct pair_ctx *c = ctx;
    uint64_t total = bench_total_calls(o);
    int rv = open_pair(&c->s);

    if (rv == 0)
        rv = listen_any_port(c);
    for (uint64_t i = 0; rv == 0 && i < total; i++) {
        nng_msg *msg;
        rv = nng_recvmsg(c->s, &msg, 0);
        if (rv == 0 && (rv = nng_sendmsg(c->s, msg, 0)) != 0)
            nng_msg_free(msg);
    }
    while (rv == 0 && !atomic_load_explicit(&sh->client_done, memory_order_acquire))
        pause_ms(1);
    nng_close(c->s);
    return rv ? nng_errno(rv) : 0;
}

static int np_loan(void *ctx, void **req)
{
    struct pair_ctx *c = ctx;
    int rv = nng_msg_alloc(&c->req, c->n);

    if (rv)
        return nng_errno(rv);
    *req = nng_msg_body(c->req);
    return 0;
}

static int np_send(void *ctx, void *req)
{
    struct pair_ctx *c = ctx;
    int rv = nng_sendmsg(c->s, c->req, 0);

    (void)req;
    if (rv)
        nng_msg_free(c->req);  /* kept by NNG only when sent */
    c->req = NULL;
    return rv ? nng_errno(rv) : 0;
}

static int np_recv(void *ctx, const void **rep)
{
    struct pair_ctx *c = ctx;
    int rv = nng_recvmsg(c->s, &c->rep, 0);

    if (rv)
        return nng_errno(rv);
    if (nng_msg_len(c->rep) != c->n) {
        nng_msg_free(c->rep);
        return -EPROTO;
    }
    *rep = nng_msg_body(c->rep);
    return 0;
}

static int np_release(void *ctx, const void *rep)
{
    struct pair_ctx *c = ctx;

    (void)rep;
    nng_msg_free(c->rep);
    return 0;
}

/* The port appears once the server listens: wait for it, 10 s at most. */
static int dial(struct pair_ctx *c)
{
    char url[64];
    int port = 0;

    for (int i = 0; i < 10000 && !port; i++) {
        port = atomic_load_explicit(&c->rv->port, memory_order_acquire);
        if (!port)
            pause_ms(1);
    }
    if (!port)
        return -ETIMEDOUT;
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    int rv = open_pair(&c->s);
    if (rv == 0)
        rv = nng_dial(c->s, url, NULL, 0);  /* synchronous: connected on return */
    return rv ? nng_errno(rv) : 0;
}

static int np_client(void *ctx, const struct bench_opts *o, struct bench_shared *sh)
{
    static const struct bench_client_ops ops = {
        .loan = np_loan, .send = np_send, .recv = np_recv, .release = np_release,
    };
    struct pair_ctx *c = ctx;
    int rc = dial(c);

    if (!rc)
        rc = bench_client_loops(&ops, c, o, sh);
    nng_close(c->s);
    return rc;
}

int bench_nng_pair1(const struct bench_opts *o, struct bench_result *r)
{
    struct rendezvous *rv = mmap(NULL, sizeof(*rv), PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (rv == MAP_FAILED)
        return -errno;
    struct pair_ctx c = { .rv = rv, .n = o->msg_size };
    struct bench_pair p = { .server = np_server, .client = np_client, .ctx = &c };
    int rc = bench_run_pair(o, &p, r);
    if (munmap(rv, sizeof(*rv)) != 0 && !rc)
        rc = -errno;
    return rc;
}

#else

int bench_nng_pair1(const struct bench_opts *o, struct bench_result *r)
{
    (void)o;
    r->skipped = 1;
    snprintf(r->note, sizeof r->note, "built without libnng (libnng-dev)");
    return 0;
}

#endif
