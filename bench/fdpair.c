/* SPDX-License-Identifier: MIT */
/* Request/reply over blocking descriptors: the one implementation behind the
 * unix-socket and pipe baselines, which differ only in how the fds are made. */
#include <errno.h>
#include <unistd.h>

#include "harness.h"

struct fd_ctx {
    struct bench_fds f;
    size_t n;
    unsigned char req[BENCH_MSG_MAX], rep[BENCH_MSG_MAX];
};

/* 1: got all n bytes, 0: clean end of stream, else -errno.  Loops because a
 * byte stream may hand a message over in pieces. */
static int read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = read(fd, (unsigned char *)buf + got, n - got);
        if (k > 0)
            got += (size_t)k;
        else if (k == 0)
            return got ? -EPROTO : 0;
        else if (errno != EINTR)
            return -errno;
    }
    return 1;
}

static int write_full(int fd, const void *buf, size_t n)
{
    size_t put = 0;

    while (put < n) {
        ssize_t k = write(fd, (const unsigned char *)buf + put, n - put);
        if (k >= 0)
            put += (size_t)k;
        else if (errno != EINTR)
            return -errno;
    }
    return 0;
}

static int close_side(int *rd, int *wr)
{
    if (*rd == *wr)
        *wr = -1;  /* one socket: close it once */
    int rc = bench_close(rd);
    int rc2 = bench_close(wr);
    return rc ? rc : rc2;
}

/* Each process keeps only its own ends, so that a side's exit is seen by the
 * other as end-of-stream instead of a read that never returns. */
static int close_all(void *ctx)
{
    struct fd_ctx *c = ctx;
    int rc = close_side(&c->f.cli_rd, &c->f.cli_wr);
    int rc2 = close_side(&c->f.srv_rd, &c->f.srv_wr);
    return rc ? rc : rc2;
}

/* Echo until the client hangs up. */
static int fd_server(void *ctx, const struct bench_opts *o, struct bench_shared *sh)
{
    struct fd_ctx *c = ctx;
    int rc = close_side(&c->f.cli_rd, &c->f.cli_wr);

    (void)o;
    (void)sh;
    while (!rc) {
        int got = read_full(c->f.srv_rd, c->req, c->n);
        if (got <= 0)
            return got;
        rc = write_full(c->f.srv_wr, c->req, c->n);
    }
    return rc;
}

static int fd_loan(void *ctx, void **req)
{
    *req = ((struct fd_ctx *)ctx)->req;
    return 0;
}

static int fd_send(void *ctx, void *req)
{
    struct fd_ctx *c = ctx;
    return write_full(c->f.cli_wr, req, c->n);
}

static int fd_recv(void *ctx, const void **rep)
{
    struct fd_ctx *c = ctx;
    int got = read_full(c->f.cli_rd, c->rep, c->n);

    if (got <= 0)
        return got ? got : -EPIPE;
    *rep = c->rep;
    return 0;
}

static int fd_release(void *ctx, const void *rep)
{
    (void)ctx;
    (void)rep;
    return 0;
}

/* Writes run at most depth messages ahead of reads, so with depth * 64 bytes
 * far below any pipe or socket buffer neither side can block the other. */
static int fd_client(void *ctx, const struct bench_opts *o, struct bench_shared *sh)
{
    static const struct bench_client_ops ops = {
        .loan = fd_loan, .send = fd_send, .recv = fd_recv, .release = fd_release,
    };
    struct fd_ctx *c = ctx;
    int rc = close_side(&c->f.srv_rd, &c->f.srv_wr);

    return rc ? rc : bench_client_loops(&ops, c, o, sh);
}

int bench_fdpair(const struct bench_opts *o, struct bench_fds *f,
                 struct bench_result *r)
{
    struct fd_ctx c = { .f = *f, .n = o->msg_size };
    struct bench_pair p = {
        .server = fd_server, .client = fd_client, .forked = close_all, .ctx = &c,
    };
    int rc = bench_run_pair(o, &p, r);
    /* Already closed after the fork, unless the run failed before it. */
    int rc2 = close_all(&c);
    f->cli_rd = f->cli_wr = f->srv_rd = f->srv_wr = -1;
    return rc ? rc : rc2;
}
