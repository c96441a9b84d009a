/* SPDX-License-Identifier: MIT */
/* A server for the chaos test: serves every service named on its command
 * line.  Each request carries a checksum (chaos-client.c); the server
 * checks it before answering, and echoes the request with the checksum
 * folded again, so a reply can come only from a whole request. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <uipc/module.h>

#include "chaos-payload.h"

static unsigned long bad_requests;

static int handler(uipc_req *req, void *ctx)
{
    (void)ctx;
    size_t len, cap;
    unsigned char copy[CHAOS_MAX_PAYLOAD];
    const void *data = uipc_req_data(req, &len);
    if (len > sizeof(copy))
        return -22;
    memcpy(copy, data, len); /* read once: the request bytes live in shared memory */
    if (!chaos_payload_ok(copy, len)) {
        printf("chaos-server: BAD REQUEST (%zu bytes, checksum wrong), %lu so far\n", len, ++bad_requests);
        fflush(stdout);
        return -22;
    }
    unsigned char *out = uipc_req_reply_buf(req, &cap);
    if (cap < len)
        return -90;
    memcpy(out, copy, len);
    chaos_payload_mark_reply(out, len);
    uipc_req_reply(req, len);
    return (int)len;
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
