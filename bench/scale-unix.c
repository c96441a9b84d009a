/* SPDX-License-Identifier: MIT */
/* uipc-scale-bench's reference rows: what the usual alternative does.  N
 * client processes, each with a UNIX stream socket to one server process
 * that waits in epoll_wait and answers every 64-byte request with its
 * bytes flipped; each client keeps `depth` requests in flight and sleeps
 * in a blocking read. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "bench-clock.h"
#include "scale-client.h"

#define MSG 64

struct conn {
    int fd;
    size_t have;                         /* bytes of a request not yet whole */
    unsigned char buf[SCALE_DEPTH_MAX * MSG + MSG];
};

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EPIPE;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Everything a client sent fits its socket's buffer (depth x 64 bytes),
 * so the answers of one read are written back in one blocking write. */
static int serve_conn(struct conn *c)
{
    ssize_t r = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
    if (r <= 0)
        return r < 0 && errno == EINTR ? 0 : -EPIPE;
    c->have += (size_t)r;
    size_t whole = c->have / MSG * MSG;
    for (size_t i = 0; i < whole; i++)
        c->buf[i] = (unsigned char)~c->buf[i];
    int err = write_all(c->fd, c->buf, whole);
    memmove(c->buf, c->buf + whole, c->have - whole);
    c->have -= whole;
    return err;
}

static _Noreturn void server(const struct scale_opts *o, int *fds, unsigned n)
{
    static struct conn conns[SCALE_MAX_CLIENTS];
    struct epoll_event ev[SCALE_MAX_CLIENTS];
    int ep = epoll_create1(EPOLL_CLOEXEC), live = (int)n;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    bench_pin(o->cpu_server);
    for (unsigned i = 0; i < n; i++) {
        conns[i].fd = fds[i];
        struct epoll_event e = { .events = EPOLLIN, .data.ptr = &conns[i] };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) < 0)
            _exit(1);
    }
    while (live > 0) {
        int k = epoll_wait(ep, ev, SCALE_MAX_CLIENTS, -1);
        for (int i = 0; i < k; i++) {
            struct conn *c = ev[i].data.ptr;
            if (serve_conn(c) < 0) { /* the client is done */
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                live--;
            }
        }
    }
    _exit(0);
}

static void fill(unsigned char *m, uint64_t seq)
{
    memset(m, (int)(seq & 0xff), MSG);
    memcpy(m, &seq, sizeof(seq));
}

static int read_msg(int fd, unsigned char *m)
{
    size_t got = 0;
    while (got < MSG) {
        ssize_t r = read(fd, m + got, MSG - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EPIPE;
        got += (size_t)r;
    }
    return 0;
}

/* The stream answers in order: the oldest call in flight is the one
 * whose reply comes next. */
static int client_loop(struct scale_shared *sh, struct scale_client *out, int fd, unsigned depth)
{
    uint64_t t0[SCALE_DEPTH_MAX], sent = 0, taken = 0;
    unsigned char m[MSG];
    int err = 0;
    for (; sent < depth && !err; sent++) {
        t0[sent % depth] = now_ns();
        fill(m, sent);
        err = write_all(fd, m, MSG);
    }
    while (!err && taken < sent) {
        if ((err = read_msg(fd, m)) < 0)
            break;
        uint64_t now = now_ns(), got;
        memcpy(&got, m, sizeof(got));
        out->mismatches += ~got != taken;
        scale_record(sh, out, t0[taken % depth], now);
        taken++;
        if (now < sh->t_end) {
            t0[sent % depth] = now;
            fill(m, sent++);
            err = write_all(fd, m, MSG);
        }
    }
    return err;
}

static _Noreturn void client(const struct scale_opts *o, struct scale_shared *sh, unsigned idx, int fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    bench_pin(o->cpu_client);
    scale_client_wait_go(sh);
    int err = client_loop(sh, &sh->c[idx], fd, o->depth);
    sh->c[idx].err = err;
    _exit(err ? 1 : 0);
}

/* Each child keeps only its own ends. */
static void keep_only(int (*sv)[2], unsigned n, int side, int keep)
{
    for (unsigned i = 0; i < n; i++)
        for (int s = 0; s < 2; s++)
            if (sv[i][s] >= 0 && !(s == side && (keep < 0 || (unsigned)keep == i)))
                close(sv[i][s]);
}

static pid_t fork_server(const struct scale_opts *o, int (*sv)[2], unsigned n)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fds[SCALE_MAX_CLIENTS];
        keep_only(sv, n, 1, -1);
        for (unsigned i = 0; i < n; i++)
            fds[i] = sv[i][1];
        server(o, fds, n);
    }
    return pid;
}

static int reap_all(pid_t server, const pid_t *cl, unsigned n, int err)
{
    for (unsigned i = 0; i < n; i++) {
        int st;
        if (cl[i] > 0 && waitpid(cl[i], &st, 0) == cl[i] && !err && (!WIFEXITED(st) || WEXITSTATUS(st)))
            err = -EIO;
    }
    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
    }
    return err;
}

int scale_unix(const struct scale_opts *o, unsigned n, struct scale_point *pt)
{
    int sv[SCALE_MAX_CLIENTS][2];
    pid_t cl[SCALE_MAX_CLIENTS] = { 0 }, srv = -1;
    struct scale_shared *sh = scale_map();
    int err = sh ? 0 : -ENOMEM;
    unsigned made = 0;
    for (; !err && made < n; made++)
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[made]) < 0)
            err = -errno;
    if (!err && (srv = fork_server(o, sv, made)) < 0)
        err = -errno;
    for (unsigned i = 0; !err && i < n; i++) {
        cl[i] = fork();
        if (cl[i] == 0) {
            keep_only(sv, made, 0, (int)i);
            client(o, sh, i, sv[i][0]);
        }
        if (cl[i] < 0)
            err = -errno;
    }
    keep_only(sv, made, 2, -1); /* the parent keeps none */
    if (!err)
        err = scale_drive(o, sh, n, srv, cl, pt);
    if (err) { /* the clients may wait for go forever */
        for (unsigned i = 0; i < n; i++)
            if (cl[i] > 0)
                kill(cl[i], SIGKILL);
    }
    err = reap_all(srv, cl, n, err);
    if (sh) {
        int cerr = scale_collect(o, sh, n, pt);
        err = err ? err : cerr;
        scale_unmap(sh);
    }
    return err;
}
