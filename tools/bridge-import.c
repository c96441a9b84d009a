/* SPDX-License-Identifier: MIT */
/* uipc-bridge, import side: the services this module provides are served
 * by the other end.  A local call is deferred, sent as one CALL frame,
 * and answered once: by its REPLY, by -UIPC_ENOLINK when it could not be
 * sent, by -UIPC_ELINKLOST when the link it went on is lost, or by
 * -UIPC_ETIMEDOUT once its caller's deadline has long passed.  Never sent
 * twice: a call lost with its link is answered, not resent. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

/* An id names its pending entry (low bits) and one use of it (high bits),
 * so a late REPLY for an entry since reused names nothing. */
#define INDEX_BITS 20u
#define INDEX_MASK ((1u << INDEX_BITS) - 1u)

static int handle(uipc_req *req, void *ctx);

int bridge_import_init(struct bridge *b)
{
    /* What the supervisor says we provide (modules.conf, `provides`). */
    const char *env = getenv("UIPC_PROVIDES");
    char *list = strdup(env ? env : ""), *save = NULL;
    if (!list)
        return -ENOMEM;
    for (char *name = strtok_r(list, ",", &save); name && b->nimports < BRIDGE_MAX_SERVICES;
         name = strtok_r(NULL, ",", &save)) {
        if (strlen(name) > BRIDGE_NAME_MAX)
            continue;
        struct bridge_import *imp = &b->import_ctx[b->nimports];
        *imp = (struct bridge_import){ .b = b, .index = (uint16_t)b->nimports };
        int err = uipc_serve(b->m, name, handle, imp);
        if (err < 0) {
            free(list);
            return err;
        }
        b->imports[b->nimports++] = strdup(name);
    }
    free(list);
    /* a power of two: ids name their entry by their low bits */
    b->npend = 4096;
    b->pend = calloc(b->npend, sizeof(*b->pend));
    return b->pend ? 0 : -ENOMEM;
}

void bridge_import_fini(struct bridge *b)
{
    bridge_import_fail_all(b, -UIPC_ELINKLOST);
    for (unsigned i = 0; i < b->nimports; i++)
        free((char *)b->imports[i]);
    free(b->pend);
}

/* A free entry for req, found from where the last search left off. */
static struct bridge_pending *pend_alloc(struct bridge *b, uipc_req *req)
{
    if (b->pend_used >= BRIDGE_MAX_OUT)
        return NULL; /* answered -UIPC_ENOLINK: not sent */
    for (uint32_t n = 0; n < b->npend; n++) {
        uint32_t i = (uint32_t)(b->next_seq + n) & (b->npend - 1);
        if (!b->pend[i].req) {
            b->next_seq += n + 1;
            b->pend[i].id = (b->next_seq << INDEX_BITS) | i;
            b->pend[i].req = req;
            b->pend_used++;
            return &b->pend[i];
        }
    }
    return NULL;
}

static void pend_free(struct bridge *b, struct bridge_pending *p)
{
    p->req = NULL;
    b->pend_used--;
}

static void answer(struct bridge *b, struct bridge_pending *p, int status, const void *data, size_t len)
{
    uipc_req_respond(p->req, status, data, len);
    pend_free(b, p);
}

/* A call to our import imp->index: out as a CALL, answered later. */
static int handle(uipc_req *req, void *ctx)
{
    const struct bridge_import *imp = ctx;
    struct bridge *b = imp->b;
    if (!b->up)
        return -UIPC_ENOLINK; /* not sent: surely not run */
    int64_t left = uipc_req_remaining_ms(req);
    if (left == 0)
        return -UIPC_ETIMEDOUT;
    size_t len;
    const void *data = uipc_req_data(req, &len);
    struct bridge_pending *p = pend_alloc(b, req);
    if (!p)
        return -UIPC_ENOLINK;
    nng_msg *msg = bridge_msg(BR_CALL, 0, b->peer_nonce, p->id, BRIDGE_CALL_HDR - BRIDGE_HDR + len);
    if (!msg) {
        pend_free(b, p);
        return -UIPC_ENOLINK;
    }
    uint8_t *body = nng_msg_body(msg);
    bridge_put_call(body + BRIDGE_HDR, imp->index, uipc_req_opcode(req), left < 0 ? 0 : (uint32_t)(left > UINT32_MAX ? UINT32_MAX : left));
    memcpy(body + BRIDGE_CALL_HDR, data, len);
    if (!bridge_send(b, msg)) { /* not sent: surely not run */
        pend_free(b, p);
        return -UIPC_ENOLINK;
    }
    /* Kept past the caller's own deadline by the link's bound: the other
     * end answers -UIPC_ETIMEDOUT by then, or the link is lost. */
    p->deadline_ms = left < 0 ? 0 : bridge_now_ms() + (uint64_t)left + 2u * b->o.link_timeout_ms;
    b->calls_out++;
    uipc_req_defer(req);
    return 0;
}

void bridge_import_reply(struct bridge *b, const struct bridge_frame *f)
{
    struct bridge_pending *p = &b->pend[f->id & INDEX_MASK & (b->npend - 1)];
    if (!p->req || p->id != f->id)
        return; /* answered already (its deadline, a lost link): dropped */
    answer(b, p, bridge_caller_status(f->outcome, f->status), f->payload, f->len);
}

void bridge_import_fail_all(struct bridge *b, int status)
{
    for (uint32_t i = 0; i < b->npend && b->pend_used; i++)
        if (b->pend[i].req)
            answer(b, &b->pend[i], status, NULL, 0);
}

void bridge_import_expire(struct bridge *b, uint64_t now_ms)
{
    for (uint32_t i = 0; i < b->npend && b->pend_used; i++) {
        struct bridge_pending *p = &b->pend[i];
        if (p->req && p->deadline_ms && now_ms >= p->deadline_ms)
            answer(b, p, -UIPC_ETIMEDOUT, NULL, 0);
    }
}
