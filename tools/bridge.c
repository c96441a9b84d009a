/* SPDX-License-Identifier: MIT */
/* uipc-bridge: carries the services of one host's supervisor to another
 * host's (bridge.h).  Runs as a module: the supervisor that starts it
 * gives it its channels; its `provides` are imported from the other end,
 * its `connects` exported to it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bridge.h"

static struct bridge bridge = { .epfd = -1, .timer_fd = -1, .event_fd = -1 };
static volatile sig_atomic_t stopping;

/* SIGTERM, SIGINT: a clean stop, as when the supervisor asks.  uipc_stop
 * rings our bell, which wakes the epoll below. */
static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
    if (bridge.m)
        uipc_stop(bridge.m);
}

static int watch(struct bridge *b, int fd, uint32_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
    return epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev);
}

enum { EV_MODULE, EV_RECV, EV_TIMER, EV_PIPES };

/* The module's loop and the link's events, one thread. */
static int run(struct bridge *b)
{
    int mfd = uipc_fd(b->m);
    if (mfd < 0 || watch(b, mfd, EV_MODULE) < 0 || watch(b, b->recv_fd, EV_RECV) < 0 ||
        watch(b, b->timer_fd, EV_TIMER) < 0 || watch(b, b->event_fd, EV_PIPES) < 0)
        return -errno;
    for (;;) {
        /* Our first poll also tells the supervisor we are ready. */
        int r = uipc_poll(b->m, 0);
        if (r == -UIPC_ESTOPPED || stopping)
            return 0;
        if (r < 0)
            return r;
        struct epoll_event evs[8];
        int n = epoll_wait(b->epfd, evs, 8, -1);
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n; i++) {
            switch (evs[i].data.u32) {
            case EV_RECV: bridge_link_receive(b); break;
            case EV_TIMER: bridge_link_tick(b); break;
            case EV_PIPES: bridge_link_events(b); break;
            default: break; /* the module: uipc_poll above */
            }
        }
    }
}

int main(int argc, char **argv)
{
    struct bridge *b = &bridge;
    int rc = bridge_parse_args(argc, argv, &b->o);
    if (rc != 0)
        return rc;
    int err = uipc_module_open(&b->m);
    if (err < 0) {
        fprintf(stderr, "uipc-bridge: not started by a supervisor (%s): it runs as a module\n", uipc_strerror(err));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    b->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (b->epfd < 0 || b->event_fd < 0)
        err = -errno;
    if (err == 0)
        err = bridge_import_init(b);
    if (err == 0)
        err = bridge_export_init(b);
    if (err == 0)
        err = bridge_link_open(b);
    if (err == 0)
        err = run(b);
    if (err < 0 && err != -EIO)
        fprintf(stderr, "uipc-bridge: %s\n", uipc_strerror(err));
    bridge_link_close(b);
    bridge_import_fini(b);
    bridge_export_fini(b);
    nng_fini(); /* NNG's threads joined, what they held freed: a clean exit */
    uipc_module_close(b->m);
    return err < 0 ? 1 : 0;
}
