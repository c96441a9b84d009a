/* SPDX-License-Identifier: MIT */
/* An honest but slow echo service for the busy-server test: busy-server
 * SERVICE MS serves SERVICE with a handler that sleeps MS milliseconds,
 * then echoes the request.  It never calls uipc_alive(): a handler shorter
 * than hang_timeout_ms must not need to (tests/integration/test-busy.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uipc/module.h>

static unsigned long served;

/* Sleeps the whole ms, signals or not: the handler's time is the point. */
static void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int handler(uipc_req *req, void *ctx)
{
    sleep_ms(*(const unsigned *)ctx);
    size_t len, cap;
    const void *in = uipc_req_data(req, &len);
    void *out = uipc_req_reply_buf(req, &cap);
    if (len > cap)
        return -EMSGSIZE;
    memmove(out, in, len); /* the reply is written over the request */
    uipc_req_reply(req, len);
    served++;
    return (int)len;
}

int main(int argc, char **argv)
{
    static unsigned ms;
    uipc_module *m;
    if (argc != 3) {
        fprintf(stderr, "usage: busy-server SERVICE MS\n");
        return 2;
    }
    ms = (unsigned)strtoul(argv[2], NULL, 10);
    int err = uipc_module_open(&m);
    if (err < 0 || (err = uipc_serve(m, argv[1], handler, &ms)) < 0) {
        fprintf(stderr, "busy-server: %s: %s\n", argv[1], uipc_strerror(err));
        return 1;
    }
    int r = uipc_run(m);
    /* one line when asked to stop: the test prints it with its figures */
    printf("busy-server: %s: %lu calls served\n", argv[1], served);
    fflush(stdout);
    uipc_module_close(m);
    return r < 0 ? 1 : 0;
}
