/* SPDX-License-Identifier: MIT */
/* uipc-bridge: the uipc client and server modules of bench-uipc.c, with two
 * real uipc-bridge programs between them over tcp://127.0.0.1 --plain:
 * client -> bridge B (provides the service) -> NNG PAIR1 -> bridge A
 * (connects to it) -> server.  The test bed starts all four as modules. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bed.h"
#include "bench-uipc.h"

/* The program: UIPC_BENCH_BRIDGE, else the one meson built beside us. */
static const char *bridge_path(void)
{
    const char *env = getenv("UIPC_BENCH_BRIDGE");
    if (env && *env)
        return env;
#ifdef UIPC_BRIDGE_PATH
    return UIPC_BRIDGE_PATH;
#else
    return NULL;
#endif
}

/* A port free on 127.0.0.1 a moment ago.  Another process may take it
 * before bridge A listens; then bridge A exits and the row says so. */
static int free_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || getsockname(fd, (struct sockaddr *)&sa, &len)
                 ? -errno
                 : ntohs(sa.sin_port);
    close(fd);
    return rc;
}

struct bridge_run {
    struct uipc_bench ub;
    struct uipc_bed *bed;
    int cli, bb, ba, srv;  /* module ids */
    char url[64];
    char *argv_b[6], *argv_a[6];
    cpu_set_t cpus;        /* ours, restored after each start */
};

/* Starts mod pinned to cpu (-1: not pinned), its stdout on /dev/null: a
 * bridge logs its link there, which would garble our table or JSON.
 * Affinity and fds are inherited through the bed's fork and exec. */
static int start_on(struct bridge_run *x, int mod, int cpu, int quiet)
{
    int saved = -1, rc = 0;
    if (quiet) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null < 0 || fflush(stdout) == EOF || (saved = dup(1)) < 0 || dup2(null, 1) < 0)
            rc = -errno;
        if (null >= 0)
            close(null);
    }
    if (!rc)
        rc = bench_pin(cpu);
    if (!rc)
        rc = uipc__bed_start(x->bed, mod);
    if (cpu >= 0 && sched_setaffinity(0, sizeof(x->cpus), &x->cpus) != 0 && !rc)
        rc = -errno;
    if (saved >= 0) {
        if (dup2(saved, 1) < 0 && !rc)
            rc = -errno;
        close(saved);
    }
    return rc;
}

/* Host A (bridge A, server) on the server's CPU, host B (client, bridge B)
 * on the client's: NNG's socket pair then sits where nng-pair1's does.
 * Bridge B alone provides the service: the bed gives no UIPC_PROVIDES, so
 * it comes from our environment, set for bridge B only. */
static int start_all(struct bridge_run *x, const struct bench_opts *o)
{
    int rc = sched_getaffinity(0, sizeof(x->cpus), &x->cpus) ? -errno : 0;
    unsetenv("UIPC_PROVIDES");
    if (!rc)
        rc = start_on(x, x->srv, o->cpu_server, 0);
    if (!rc)
        rc = start_on(x, x->ba, o->cpu_server, 1);
    if (!rc && setenv("UIPC_PROVIDES", BENCH_UIPC_SERVICE, 1) != 0)
        rc = -errno;
    if (!rc)
        rc = start_on(x, x->bb, o->cpu_client, 1);
    unsetenv("UIPC_PROVIDES");
    if (!rc)
        rc = start_on(x, x->cli, o->cpu_client, 0);
    return rc;
}

static int setup(struct bridge_run *x, const char *path, int port)
{
    snprintf(x->url, sizeof(x->url), "tcp://127.0.0.1:%d", port);
    char *const b[] = { (char *)path, "--connect", x->url, "--plain", NULL };
    char *const a[] = { (char *)path, "--listen", x->url, "--plain", NULL };
    memcpy(x->argv_b, b, sizeof(b));
    memcpy(x->argv_a, a, sizeof(a));
    x->srv = uipc__bed_module(x->bed, "bench-server", bench_uipc_server, &x->ub);
    x->ba = uipc__bed_module_exec(x->bed, "bridge-a", x->argv_a);
    x->bb = uipc__bed_module_exec(x->bed, "bridge-b", x->argv_b);
    x->cli = uipc__bed_module(x->bed, "bench-client", bench_uipc_client, &x->ub);
    if (x->srv < 0 || x->ba < 0 || x->bb < 0 || x->cli < 0)
        return x->srv < 0 ? x->srv : x->ba < 0 ? x->ba : x->bb < 0 ? x->bb : x->cli;
    /* slots as the uipc rows; bridge A queues past them (UIPC_WAIT_SLOT) */
    unsigned slots = x->ub.o->depth > 64 ? x->ub.o->depth : 64;
    int rc = uipc__bed_channel(x->bed, x->cli, x->bb, BENCH_UIPC_SERVICE, slots, 4096);
    if (rc >= 0)
        rc = uipc__bed_channel(x->bed, x->ba, x->srv, BENCH_UIPC_SERVICE, slots, 4096);
    return rc < 0 ? rc : 0;
}

static const char *mod_name(const struct bridge_run *x, int id)
{
    return id == x->ba ? "bridge A" : id == x->bb ? "bridge B" : "server";
}

/* Until the client exits: any other module that exits first broke the run. */
static int wait_client(struct bridge_run *x, struct bench_result *r)
{
    int st, id = uipc__bed_wait(x->bed, -1, -1, &st);
    if (id < 0)
        return id;
    if (id == x->cli)
        return bench_uipc_collect(&x->ub, st, r);
    snprintf(r->note, sizeof r->note, "%s exited first (wait status 0x%x)", mod_name(x, id), (unsigned)st);
    return -EPIPE;
}

int bench_uipc_bridge(const struct bench_opts *o, struct bench_result *r)
{
    const char *path = bridge_path();
    if (!path || access(path, X_OK) != 0) {
        r->skipped = 1;
        snprintf(r->note, sizeof r->note, "no uipc-bridge program (built with libnng; or UIPC_BENCH_BRIDGE)");
        return 0;
    }
    int port = free_port();
    if (port < 0)
        return port;
    /* Both sides sleep at once, as libmodule chooses itself on one CPU:
     * each shares its CPU with its bridge, which it would only delay. */
    struct bridge_run x = { .ub = { .o = o, .sleep_mode = 1 } };
    int rc = bench_uipc_map(&x.ub);
    if (!rc)
        rc = uipc__bed_new(&x.bed);
    if (!rc)
        rc = setup(&x, path, port);
    if (!rc)
        rc = start_all(&x, o);
    if (!rc)
        rc = wait_client(&x, r);
    if (!rc)
        snprintf(r->note, sizeof r->note, "client and bridge B on cpu %d, bridge A and server on cpu %d; %s",
                 o->cpu_client, o->cpu_server, x.url);
    uipc__bed_free(x.bed); /* kills and reaps the rest */
    bench_uipc_unmap(&x.ub);
    return rc;
}
