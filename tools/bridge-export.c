/* SPDX-License-Identifier: MIT */
/* uipc-bridge, export side: the other end's CALLs become asynchronous
 * calls on our channels, at most --max-inflight at once, each answered by
 * one REPLY on the connection it came on (none if that connection is gone:
 * its caller was answered -UIPC_ELINKLOST by its own bridge).  A call id
 * seen once in a session is never run again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

int bridge_export_init(struct bridge *b)
{
    b->out = calloc(b->o.max_inflight, sizeof(*b->out));
    return b->out ? 0 : -ENOMEM;
}

void bridge_export_fini(struct bridge *b)
{
    for (uint32_t i = 0; b->out && i < b->o.max_inflight; i++) {
        struct bridge_outcall *oc = &b->out[i];
        if (oc->used && oc->request && oc->owned)
            nng_msg_free(oc->request);
        if (oc->used && oc->reply)
            nng_msg_free(oc->reply);
    }
    free(b->out);
}

void bridge_export_resolve(struct bridge *b, const struct bridge_frame *hello)
{
    unsigned found = 0;
    b->nexports = hello->nservices;
    for (unsigned i = 0; i < hello->nservices; i++) {
        if (uipc_connect(b->m, hello->services[i], &b->exports[i]) < 0)
            b->exports[i] = NULL; /* not ours to offer: its calls are answered not run */
        else
            found++;
    }
    b->nexports_found = found;
}

static struct bridge_outcall *out_alloc(struct bridge *b)
{
    if (b->out_used >= b->o.max_inflight)
        return NULL;
    for (uint32_t n = 0; n < b->o.max_inflight; n++) {
        uint32_t i = (b->out_next + n) % b->o.max_inflight;
        if (!b->out[i].used) {
            b->out_next = i + 1;
            b->out_used++;
            memset(&b->out[i], 0, sizeof(b->out[i]));
            b->out[i].used = true;
            return &b->out[i];
        }
    }
    return NULL;
}

static void out_free(struct bridge *b, struct bridge_outcall *oc)
{
    if (oc->request && oc->owned)
        nng_msg_free(oc->request);
    if (oc->reply)
        nng_msg_free(oc->reply);
    oc->used = false;
    b->out_used--;
}

/* The REPLY for call id, on the connection of `session` only. */
static void send_reply(struct bridge *b, uint64_t session, uint64_t id, nng_msg *msg, int status, bool issued)
{
    if (!msg && !(msg = bridge_msg(BR_REPLY, 0, 0, 0, BRIDGE_REPLY_HDR - BRIDGE_HDR)))
        return;
    uint8_t *body = nng_msg_body(msg);
    bridge_put_hdr(body, BR_REPLY, (uint8_t)bridge_outcome_of(issued, status), b->peer_nonce, id);
    bridge_put_reply(body + BRIDGE_HDR, status);
    if (!b->up || session != b->my_nonce) {
        nng_msg_free(msg); /* its caller had its answer from its own bridge */
        return;
    }
    /* Never for room (BRIDGE_MAX_OUT): the link is failing.  Its caller
     * must not wait for a reply that will not come: dropped, the link
     * answers it -UIPC_ELINKLOST at the other end. */
    if (!bridge_send(b, msg))
        bridge_link_drop(b, "a reply could not be sent");
}

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct bridge_outcall *oc = arg;
    size_t n = nng_msg_len(oc->request) - BRIDGE_CALL_HDR;
    int r = 0;
    if (n > cap)
        r = -UIPC_ETOOBIG;
    else
        memcpy(buf, (uint8_t *)nng_msg_body(oc->request) + BRIDGE_CALL_HDR, n);
    *len = n;
    if (oc->owned)
        nng_msg_free(oc->request);
    oc->request = NULL;
    return r;
}

static void on_reply(int status, const void *data, size_t len, void *arg)
{
    (void)status;
    struct bridge_outcall *oc = arg;
    oc->reply = bridge_msg(BR_REPLY, 0, 0, 0, BRIDGE_REPLY_HDR - BRIDGE_HDR + len);
    if (oc->reply)
        memcpy((uint8_t *)nng_msg_body(oc->reply) + BRIDGE_REPLY_HDR, data, len);
}

static void on_complete(int status, void *arg)
{
    struct bridge_outcall *oc = arg;
    struct bridge *b = oc->b;
    send_reply(b, oc->session, oc->id, oc->reply, status, true);
    oc->reply = NULL;
    out_free(b, oc);
}

bool bridge_export_call(struct bridge *b, const struct bridge_frame *f, nng_msg *msg)
{
    /* Ids only grow within a session: a repeated or older one is never
     * run (a second delivery could only be a forgery). */
    if (f->id <= b->last_call_id || f->service >= b->nexports)
        return false;
    b->last_call_id = f->id;
    uipc_chan *ch = b->exports[f->service];
    struct bridge_outcall *oc = ch ? out_alloc(b) : NULL;
    if (!oc) { /* not a service of ours, or --max-inflight reached: not run */
        send_reply(b, b->my_nonce, f->id, NULL, ch ? -UIPC_ENOSLOT : -ENOENT, false);
        return true;
    }
    *oc = (struct bridge_outcall){ .b = b, .session = b->my_nonce, .id = f->id, .request = msg, .used = true };
    /* Waits for a slot of ours rather than failing: the other end's
     * calls queue here (bounded by --max-inflight), in order. */
    oc->call = (struct uipc_call){ .fill = fill, .reply = on_reply, .complete = on_complete,
                                   .opcode = f->opcode, .timeout_ms = f->timeout_ms, .arg = oc,
                                   .flags = UIPC_WAIT_SLOT };
    int r = uipc_call(ch, &oc->call);
    if (r < 0) {
        oc->request = NULL; /* borrowed */
        out_free(b, oc);
        send_reply(b, b->my_nonce, f->id, NULL, r, false);
        return true;
    }
    b->calls_in++;
    if (oc->request) { /* queued: fill runs later, after the frame is gone */
        nng_msg *copy;
        if (nng_msg_dup(&copy, msg) == 0) {
            oc->request = copy;
            oc->owned = true;
        } else {
            oc->request = NULL;
            uipc_cancel(ch, oc->call.id); /* completes it, not run, -ECANCELED */
        }
    }
    return true;
}
