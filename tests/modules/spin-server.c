/* SPDX-License-Identifier: MIT */
/* An echo service whose handler never returns from the request number
 * SPIN_AFTER on (default 3): a hung module, for the hang tests. */
#include <stdlib.h>
#include <string.h>

#include <uipc/module.h>

static unsigned served, spin_after = 3;

static int handler(uipc_req *req, void *ctx)
{
    (void)ctx;
    if (++served > spin_after)
        for (volatile unsigned long n = 0;; n++)
            ; /* busy forever: no heartbeat, no progress */
    size_t len, cap;
    const void *in = uipc_req_data(req, &len);
    memmove(uipc_req_reply_buf(req, &cap), in, len);
    uipc_req_reply(req, len);
    return (int)len;
}

int main(void)
{
    uipc_module *m;
    const char *n = getenv("SPIN_AFTER");
    if (n)
        spin_after = (unsigned)atoi(n);
    if (uipc_module_open(&m) < 0 || uipc_serve(m, "echo", handler, NULL) < 0)
        return 1;
    return uipc_run(m) < 0 ? 1 : 0;
}
