/* SPDX-License-Identifier: MIT */
/* Typed calls over uipc channels (<uipc/pb.h>): thin callbacks around
 * uipc_call and uipc_serve that pack into and unpack from the slot. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uipc/pb.h>

#define SNAPSHOT_STACK 4096 /* larger messages are copied to the heap */

/* Unpacks from a private copy: the slot stays writable by the peer. */
static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *type, const void *data, size_t len)
{
    uint8_t stack[SNAPSHOT_STACK];
    uint8_t *copy = len <= sizeof(stack) ? stack : malloc(len);
    if (!copy)
        return NULL;
    memcpy(copy, data, len);
    ProtobufCMessage *msg = protobuf_c_message_unpack(type, NULL, len, copy);
    if (copy != stack)
        free(copy);
    return msg;
}

/* Packs msg into buf when it fits; *len is its packed size either way. */
static int pack_into(const ProtobufCMessage *msg, void *buf, size_t cap, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    if (*len > cap)
        return -UIPC_ETOOBIG;
    *len = protobuf_c_message_pack(msg, buf);
    return 0;
}

/* ---- client ---- */

struct pb_call {
    const ProtobufCMessage *request;
    const ProtobufCMessageDescriptor *reply_type;
    ProtobufCMessage *reply;
    int decode_error;          /* the reply was there but did not decode */
    uipc_pb_done_fn done;
    void *arg;
};

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct pb_call *c = arg;
    return pack_into(c->request, buf, cap, len);
}

static void on_reply(int status, const void *data, size_t len, void *arg)
{
    struct pb_call *c = arg;
    if (status < 0)
        return;
    c->reply = unpack(c->reply_type, data, len);
    c->decode_error = c->reply == NULL;
}

/* The caller's status: a reply that does not decode is -EBADMSG. */
static int final_status(struct pb_call *c, int status)
{
    return status >= 0 && c->decode_error ? -EBADMSG : status;
}

int uipc_pb_call(uipc_chan *ch, uint32_t opcode, const ProtobufCMessage *request,
                 const ProtobufCMessageDescriptor *reply_type, ProtobufCMessage **reply,
                 uint32_t timeout_ms)
{
    struct pb_call c = { .request = request, .reply_type = reply_type };
    struct uipc_call call = { .fill = fill, .reply = on_reply, .opcode = opcode,
                              .timeout_ms = timeout_ms, .arg = &c };
    if (reply)
        *reply = NULL; /* whatever the error, never a stale pointer */
    if (!request || !reply_type || !reply)
        return -EINVAL;
    int status = final_status(&c, uipc_call(ch, &call));
    if (status < 0 && c.reply) {
        protobuf_c_message_free_unpacked(c.reply, NULL);
        c.reply = NULL;
    }
    *reply = c.reply;
    return status;
}

static void on_complete(int status, void *arg)
{
    struct pb_call *c = arg;
    status = final_status(c, status);
    c->done(status, status >= 0 ? c->reply : NULL, c->arg);
    if (c->reply)
        protobuf_c_message_free_unpacked(c->reply, NULL);
    free(c);
}

int uipc_pb_call_async(uipc_chan *ch, uint32_t opcode, const ProtobufCMessage *request,
                       const ProtobufCMessageDescriptor *reply_type, uipc_pb_done_fn done,
                       void *arg, uint32_t timeout_ms)
{
    if (!request || !reply_type || !done)
        return -EINVAL;
    struct pb_call *c = malloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    *c = (struct pb_call){ .request = request, .reply_type = reply_type, .done = done, .arg = arg };
    struct uipc_call call = { .fill = fill, .reply = on_reply, .complete = on_complete,
                              .opcode = opcode, .timeout_ms = timeout_ms, .arg = c };
    int r = uipc_call(ch, &call);
    if (r < 0) /* not issued: no callback will run */
        free(c);
    return r;
}

/* ---- server ---- */

static int serve_one(uipc_req *req, void *ctx)
{
    const struct uipc_pb_service *svc = ctx;
    uint32_t op = uipc_req_opcode(req);
    for (size_t i = 0; i < svc->nmethods; i++) {
        const struct uipc_pb_method *mt = &svc->methods[i];
        if (mt->opcode != op)
            continue;
        size_t len;
        const void *data = uipc_req_data(req, &len);
        ProtobufCMessage *msg = unpack(mt->request_type, data, len);
        if (!msg)
            return -EBADMSG;
        int status = mt->handler(msg, req, svc->ctx);
        protobuf_c_message_free_unpacked(msg, NULL);
        return status;
    }
    return -ENOSYS;
}

int uipc_pb_serve(uipc_module *m, const char *service, const struct uipc_pb_service *svc)
{
    if (!svc || (!svc->methods && svc->nmethods))
        return -EINVAL;
    return uipc_serve(m, service, serve_one, (void *)svc);
}

int uipc_pb_reply(uipc_req *req, const ProtobufCMessage *msg)
{
    size_t cap, len;
    void *buf = uipc_req_reply_buf(req, &cap);
    if (!buf || !msg)
        return -EINVAL;
    /* Too big, it is not packed, and uipc_req_reply marks the request: its
     * caller gets -UIPC_ETOOBIG, whatever the handler returns. */
    pack_into(msg, buf, cap, &len);
    return uipc_req_reply(req, len);
}
