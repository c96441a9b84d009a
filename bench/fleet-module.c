/* SPDX-License-Identifier: MIT */
/* The module uipc-fleet-bench runs a hundred of: `--serve SVC` answers
 * SVC, `--call SVC` makes one real call to SVC; either then sleeps in
 * uipc_run until the supervisor stops it.  Started without a supervisor
 * it exits 3 at once: the bench's bare fork+exec baseline. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <uipc/module.h>

static uipc_module *mod;

static void on_term(int sig)
{
    (void)sig;
    uipc_stop(mod);
}

static int echo(uipc_req *req, void *ctx)
{
    (void)ctx;
    size_t len, cap;
    const void *in = uipc_req_data(req, &len);
    void *out = uipc_req_reply_buf(req, &cap);
    memmove(out, in, len);
    uipc_req_reply(req, len);
    return 0;
}

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    (void)arg;
    if (cap < 8)
        return -UIPC_ETOOBIG;
    memcpy(buf, "fleet!!", 8);
    *len = 8;
    return 0;
}

/* Its server is up before it starts ('after'); the wait only covers a
 * restart in between. */
static int call_once(const char *svc)
{
    uipc_chan *ch;
    int err = uipc_connect(mod, svc, &ch);
    if (err < 0)
        return err;
    struct uipc_call c = { .fill = fill, .timeout_ms = 10000, .flags = UIPC_WAIT_READY };
    return uipc_call(ch, &c);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "serve", required_argument, NULL, 's' }, { "call", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    const char *serve = NULL, *call = NULL;
    for (int c; (c = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
        if (c == 's')
            serve = optarg;
        else if (c == 'c')
            call = optarg;
        else
            return 2;
    }
    if (uipc_module_open(&mod) < 0)
        return 3;
    signal(SIGTERM, on_term);
    int err = serve ? uipc_serve(mod, serve, echo, NULL) : 0;
    if (err == 0 && call)
        err = call_once(call);
    if (err == 0)
        err = uipc_run(mod);
    if (err < 0)
        fprintf(stderr, "fleet-module: %s\n", uipc_strerror(err));
    uipc_module_close(mod);
    return err < 0 ? 1 : 0;
}
