/* SPDX-License-Identifier: MIT */
/* iceoryx: request/response through iceoryx 2.0's C binding, both sides
 * busy-polling, under a RouDi broker this benchmark starts and stops itself. */
#include <stdio.h>

#include "harness.h"

#ifdef HAVE_ICEORYX

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <iceoryx_binding_c/client.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/server.h>

#define IOX_SERVICE  "uipc-bench"
#define IOX_INSTANCE "round-trip"
#define IOX_EVENT    "call"
/* MAX_RESPONSE_QUEUE_CAPACITY in iceoryx 2.0's iceoryx_posh_types.hpp; the C
 * binding does not export it.  A client cannot have more replies queued, so
 * the pipelined run keeps at most this many calls in flight. */
#define IOX_DEPTH_MAX 16u
/* RouDi prints this on stdout once runtimes can register. */
#define ROUDI_READY "RouDi is ready for clients"

struct roudi {
    pid_t pid;
    int   out;  /* its stdout: kept open to the end so a late line can't SIGPIPE it */
};

/* ---- RouDi ------------------------------------------------------------- */

static _Noreturn void roudi_exec(int out, pid_t parent)
{
    /* SIGTERM, not SIGKILL: RouDi then removes its shared memory. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
        _exit(126);
    int null = open("/dev/null", O_WRONLY);
    /* Its stderr carries banners that would garble ours. */
    if (null < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0)
        _exit(126);
    execlp("iox-roudi", "iox-roudi", "--log-level", "error", (char *)NULL);
    _exit(127);
}

static int reap(pid_t pid, int *st)
{
    while (waitpid(pid, st, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* 1: ready, 0: RouDi closed stdout (it exited), else -errno.  Waiting here
 * beats letting each runtime sit in iceoryx's own 60 s wait-for-RouDi. */
static int roudi_wait_ready(int fd)
{
    char line[128], ch;
    size_t len = 0;

    for (;;) {
        ssize_t k = read(fd, &ch, 1);
        if (k == 0)
            return 0;
        if (k < 0 && errno != EINTR)
            return -errno;
        if (k < 0)
            continue;
        if (ch != '\n') {
            if (len < sizeof line - 1)
                line[len++] = ch;
            continue;
        }
        line[len] = '\0';
        len = 0;
        if (strstr(line, ROUDI_READY))
            return 1;
    }
}

/* Returns 0 or -errno; *st gets RouDi's wait status (0 when not reaped here). */
static int roudi_stop(struct roudi *d, int *st)
{
    int rc = 0;

    *st = 0;
    if (d->pid > 0) {
        rc = kill(d->pid, SIGTERM) ? -errno : 0;
        int rc2 = reap(d->pid, st);
        rc = rc ? rc : rc2;
        d->pid = 0;
    }
    int rc3 = bench_close(&d->out);
    return rc ? rc : rc3;
}

/* RouDi went away before it was ready: iceoryx is unusable here, which is a
 * skip, not a failure of the benchmark. */
static int roudi_gone(struct roudi *d, struct bench_result *r)
{
    int st;
    int rc = kill(d->pid, SIGKILL) ? -errno : 0;  /* in case it only closed stdout */
    int rc2 = reap(d->pid, &st);

    d->pid = 0;
    r->skipped = 1;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        snprintf(r->note, sizeof r->note, "iox-roudi not found");
    else
        snprintf(r->note, sizeof r->note,
                 "iox-roudi did not start (status 0x%x; another RouDi running?)", st);
    int rc3 = bench_close(&d->out);
    return rc ? rc : rc2 ? rc2 : rc3;
}

static int roudi_start(struct roudi *d, struct bench_result *r)
{
    int fd[2];

    if (pipe2(fd, O_CLOEXEC) != 0)
        return -errno;
    pid_t parent = getpid();
    d->pid = fork();
    if (d->pid < 0) {
        int rc = -errno;
        (void)bench_close(&fd[0]);  /* already failing: report the first error */
        (void)bench_close(&fd[1]);
        return rc;
    }
    if (d->pid == 0)
        roudi_exec(fd[1], parent);
    d->out = fd[0];
    int rc = bench_close(&fd[1]);
    int ready = rc ? rc : roudi_wait_ready(d->out);
    if (ready == 1)
        return 0;
    if (ready == 0)
        return roudi_gone(d, r);
    int st;
    (void)roudi_stop(d, &st);  /* already failing: report the first error */
    return ready;
}

/* ---- the two sides ----------------------------------------------------- */

static void runtime_init(const char *side)
{
    char name[64];

    /* Names must be unique among the runtimes registered with RouDi. */
    snprintf(name, sizeof name, "uipc-bench-%s-%ld", side, (long)getpid());
    iox_set_loglevel(Iceoryx_LogLevel_Error);
    iox_runtime_init(name);
}

static int respond(iox_server_t s, const void *req, uint32_t n)
{
    void *rep;

    if (iox_server_loan_response(s, req, &rep, n) != AllocationResult_SUCCESS)
        return -ENOMEM;
    memcpy(rep, req, n);
    return iox_server_send(s, rep) == ServerSendResult_SUCCESS ? 0 : -EPIPE;
}

static int serve(iox_server_t s, uint32_t n, uint64_t total)
{
    for (uint64_t done = 0; done < total;) {
        const void *req;
        enum iox_ServerRequestResult got = iox_server_take_request(s, &req);
        if (got == ServerRequestResult_NO_PENDING_REQUESTS) {
            bench_relax();
            continue;
        }
        if (got != ServerRequestResult_SUCCESS)
            return -EPROTO;
        int rc = respond(s, req, n);
        iox_server_release_request(s, req);
        if (rc)
            return rc;
        done++;
    }
    return 0;
}

static void nap(void)
{
    struct timespec ms = { .tv_sec = 0, .tv_nsec = 1000000 };

    /* EINTR only shortens a nap that callers repeat anyway. */
    (void)nanosleep(&ms, NULL);
}

static int iox_server_side(void *ctx, const struct bench_opts *o,
                           struct bench_shared *sh)
{
    iox_server_options_t opt;
    iox_server_storage_t storage;

    (void)ctx;
    runtime_init("server");
    iox_server_options_init(&opt);
    /* Blocking policies on both ends: a full queue then stalls rather than
     * silently dropping a call, which would show only as a hang. */
    opt.requestQueueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
    opt.clientTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
    iox_server_t s = iox_server_init(&storage, IOX_SERVICE, IOX_INSTANCE, IOX_EVENT,
                                     &opt);
    int rc = serve(s, (uint32_t)o->msg_size, bench_total_calls(o));
    /* Stay offered until the client has taken its last response. */
    while (!rc && !atomic_load_explicit(&sh->client_done, memory_order_acquire))
        nap();
    iox_server_deinit(s);
    return rc;
}

struct iox_cli {
    iox_client_t c;
    uint32_t n;
};

static int cli_loan(void *ctx, void **req)
{
    struct iox_cli *k = ctx;

    if (iox_client_loan_request(k->c, req, k->n) != AllocationResult_SUCCESS)
        return -ENOMEM;
    return 0;
}

static int cli_send(void *ctx, void *req)
{
    struct iox_cli *k = ctx;

    return iox_client_send(k->c, req) == ClientSendResult_SUCCESS ? 0 : -EPIPE;
}

static int cli_recv(void *ctx, const void **rep)
{
    struct iox_cli *k = ctx;

    for (;;) {
        enum iox_ChunkReceiveResult got = iox_client_take_response(k->c, rep);
        if (got == ChunkReceiveResult_SUCCESS)
            return 0;
        if (got != ChunkReceiveResult_NO_CHUNK_AVAILABLE)
            return -EPROTO;
        bench_relax();
    }
}

static int cli_release(void *ctx, const void *rep)
{
    iox_client_release_response(((struct iox_cli *)ctx)->c, rep);
    return 0;
}

/* Connecting goes through RouDi's discovery loop; sending before it is done
 * fails with NO_CONNECT_REQUESTED or SERVER_NOT_AVAILABLE. */
static void wait_connected(iox_client_t c)
{
    while (iox_client_get_connection_state(c) != ConnectionState_CONNECTED)
        nap();
}

static int iox_client_side(void *ctx, const struct bench_opts *o,
                           struct bench_shared *sh)
{
    static const struct bench_client_ops ops = {
        .loan = cli_loan, .send = cli_send, .recv = cli_recv, .release = cli_release,
    };
    iox_client_options_t opt;
    iox_client_storage_t storage;

    (void)ctx;
    runtime_init("client");
    iox_client_options_init(&opt);
    opt.responseQueueCapacity = o->depth;
    opt.responseQueueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
    opt.serverTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
    struct iox_cli k = {
        .c = iox_client_init(&storage, IOX_SERVICE, IOX_INSTANCE, IOX_EVENT, &opt),
        .n = (uint32_t)o->msg_size,
    };
    wait_connected(k.c);
    int rc = bench_client_loops(&ops, &k, o, sh);
    iox_client_deinit(k.c);
    return rc;
}

int bench_iceoryx(const struct bench_opts *o, struct bench_result *r)
{
    struct roudi d = { .pid = 0, .out = -1 };
    struct bench_opts capped = *o;
    int rc = roudi_start(&d, r);

    if (rc || r->skipped)
        return rc;
    if (capped.depth > IOX_DEPTH_MAX) {
        capped.depth = IOX_DEPTH_MAX;
        snprintf(r->note, sizeof r->note,
                 "depth %u capped at %u (iceoryx 2.0 response queue limit)",
                 o->depth, IOX_DEPTH_MAX);
    }
    struct bench_pair p = {
        .server = iox_server_side, .client = iox_client_side, .guard = d.pid,
        /* RouDi's shutdown kill()s every runtime still registered and
         * aborts, leaking its shared memory, if one is already gone. */
        .exit_normally = 1,
    };
    rc = bench_run_pair(&capped, &p, r);
    d.pid = p.guard;  /* 0 if RouDi died during the run and was reaped there */
    int st, rc2 = roudi_stop(&d, &st);
    /* The figures stand, but the leak deserves a word. */
    if (!rc && !rc2 && st != 0)
        snprintf(r->note, sizeof r->note,
                 "RouDi did not shut down cleanly (status 0x%x): /dev/shm may keep "
                 "its segments until the next RouDi starts", st);
    return rc ? rc : rc2;
}

#else /* !HAVE_ICEORYX */

/* iceoryx is an optional comparison: without it the row is skipped. */
int bench_iceoryx(const struct bench_opts *o, struct bench_result *r)
{
    (void)o;
    r->skipped = 1;
    snprintf(r->note, sizeof r->note, "iceoryx not installed");
    return 0;
}

#endif
