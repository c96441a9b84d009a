/* SPDX-License-Identifier: MIT */
/* An echo service module: answers every command with its own bytes.
 * Built only against <uipc/module.h>, like any module outside this tree. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <uipc/module.h>

static uipc_module *mod;

static void on_term(int sig)
{
    (void)sig;
    uipc_stop(mod); /* async-signal-safe: uipc_run returns 0 */
}

static int echo(uipc_req *req, void *ctx)
{
    unsigned long *served = ctx;
    size_t len, cap;
    const void *in = uipc_req_data(req, &len);
    void *out = uipc_req_reply_buf(req, &cap);
    memmove(out, in, len); /* the reply is written over the request, in place */
    uipc_req_reply(req, len);
    (*served)++;
    return (int)len;
}

int main(void)
{
    unsigned long served = 0;
    int err = uipc_module_open(&mod);
    if (err < 0) {
        fprintf(stderr, "echo-server: %s (start me through a supervisor)\n", uipc_strerror(err));
        return 1;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    if ((err = uipc_serve(mod, "echo", echo, &served)) < 0) {
        fprintf(stderr, "echo-server: serve: %s\n", uipc_strerror(err));
        return 1;
    }
    err = uipc_run(mod);
    fprintf(stderr, "echo-server: stopping after %lu commands\n", served);
    uipc_module_close(mod);
    return err < 0 ? 1 : 0;
}
