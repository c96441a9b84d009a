/* SPDX-License-Identifier: MIT */
/* A server for the chaos test: serves every service named on its command
 * line.  Each request carries a checksum (chaos-client.c); the server
 * checks it before answering, and echoes the request marked as a reply
 * (chaos-payload.h), so a reply can come only from a served request. */
#include <stdio.h>

#include <uipc/module.h>

#include "chaos-payload.h"

static unsigned long bad_requests;

static int handler(uipc_req *req, void *ctx)
{
    (void)ctx;
    int r = chaos_echo(req);
    if (r == -22) {
        printf("chaos-server: BAD REQUEST (checksum wrong), %lu so far\n", ++bad_requests);
        fflush(stdout);
    }
    return r;
}

int main(int argc, char **argv)
{
    uipc_module *m;
    int err = uipc_module_open(&m);
    if (err < 0) {
        fprintf(stderr, "chaos-server: open: %s\n", uipc_strerror(err));
        return 1;
    }
    for (int k = 1; k < argc; k++)
        if ((err = uipc_serve(m, argv[k], handler, NULL)) < 0) {
            fprintf(stderr, "chaos-server: serve %s: %s\n", argv[k], uipc_strerror(err));
            return 1;
        }
    err = uipc_run(m);
    uipc_module_close(m);
    return err < 0 ? 1 : 0;
}
