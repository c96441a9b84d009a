/* SPDX-License-Identifier: MIT */
/* An echo service driven by the module's own epoll loop, as a module that
 * also watches sockets or timers would be: it sleeps in epoll_wait on
 * uipc_fd() with no timeout and calls uipc_poll(m, 0) only when the fd is
 * readable.  For tests/integration/test-supervisor.c: idle, such a module
 * must not look hung, and the supervisor's stop request must reach it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <uipc/module.h>

static int echo(uipc_req *req, void *ctx)
{
    (void)ctx;
    size_t len, cap;
    const void *in = uipc_req_data(req, &len);
    memmove(uipc_req_reply_buf(req, &cap), in, len);
    uipc_req_reply(req, len);
    return (int)len;
}

int main(void)
{
    uipc_module *m;
    int err = uipc_module_open(&m);
    if (err < 0 || (err = uipc_serve(m, "echo", echo, NULL)) < 0) {
        fprintf(stderr, "fd-server: %s\n", uipc_strerror(err));
        return 1;
    }
    int fd = uipc_fd(m), ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    if (fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        perror("fd-server: epoll");
        return 1;
    }
    unsigned long wakeups = 0;
    for (err = uipc_poll(m, 0); err >= 0; err = uipc_poll(m, 0)) { /* the first: "ready" */
        if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR) {
            perror("fd-server: epoll_wait");
            return 1;
        }
        wakeups++;
    }
    printf("fd-server: stopping after %lu wake-ups\n", wakeups);
    close(ep);
    uipc_module_close(m);
    return err == -UIPC_ESTOPPED ? 0 : 1;
}
