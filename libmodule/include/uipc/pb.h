/* SPDX-License-Identifier: MIT */
/*
 * <uipc/pb.h> — typed calls: protobuf-c messages over uipc channels
 * (libuipc-pb, pkg-config uipc-pb).
 *
 * Client:  uipc_pb_call(ch, OP, &request.base, &reply__descriptor, &reply, 0)
 * Server:  static const struct uipc_pb_method methods[] = {{ OP, &request__descriptor, fn }};
 *          static const struct uipc_pb_service svc = { methods, 1, ctx };
 *          uipc_pb_serve(m, "svc", &svc);   and in fn: uipc_pb_reply(req, &reply.base)
 *
 * A request is packed straight into its slot by the fill callback, a reply
 * straight into the slot by the server; a message larger than the slot is
 * -UIPC_ETOOBIG before anything is sent, and a reply larger than the slot
 * reaches its caller as -UIPC_ETOOBIG.  Messages are unpacked from a
 * private copy of the slot's bytes: protobuf-c reads packed fields twice,
 * and a peer that rewrote them in between could make it overrun its own
 * arrays.
 *
 * Statuses are those of <uipc/module.h>.  A server answers -EBADMSG to a
 * request that does not decode and -ENOSYS to an unknown opcode, and keeps
 * serving; a client gets -EBADMSG for a reply that does not decode.
 */
#ifndef UIPC_PB_H
#define UIPC_PB_H

#include <protobuf-c/protobuf-c.h>
#include <uipc/module.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Synchronous typed call.  Returns the handler's status or a transport
 * code.  With a status >= 0, *reply is the unpacked reply (free it with
 * protobuf_c_message_free_unpacked(*reply, NULL)); otherwise NULL. */
int uipc_pb_call(uipc_chan *ch, uint32_t opcode, const ProtobufCMessage *request,
                 const ProtobufCMessageDescriptor *reply_type, ProtobufCMessage **reply,
                 uint32_t timeout_ms);

/* Runs exactly once per issued asynchronous call, from the module's loop.
 * reply is the unpacked reply when status >= 0, else NULL; it is freed
 * when the callback returns. */
typedef void (*uipc_pb_done_fn)(int status, const ProtobufCMessage *reply, void *arg);

/* Asynchronous typed call: 0 when issued, or a negative code when not
 * (then done never runs).  The request is packed before this returns. */
int uipc_pb_call_async(uipc_chan *ch, uint32_t opcode, const ProtobufCMessage *request,
                       const ProtobufCMessageDescriptor *reply_type, uipc_pb_done_fn done,
                       void *arg, uint32_t timeout_ms);

/* A typed handler: request is the unpacked request, freed when the handler
 * returns (copy what a deferred answer needs).  Its return value is the
 * caller's status, as for uipc_handler_fn. */
typedef int (*uipc_pb_handler_fn)(const ProtobufCMessage *request, uipc_req *req, void *ctx);

struct uipc_pb_method {
    uint32_t opcode;
    const ProtobufCMessageDescriptor *request_type;
    uipc_pb_handler_fn handler;
};

/* Must outlive the module's loop (a static const is the usual). */
struct uipc_pb_service {
    const struct uipc_pb_method *methods;
    size_t nmethods;
    void *ctx;                 /* passed to every handler */
};

/* Serves `service` with typed handlers (see uipc_serve). */
int uipc_pb_serve(uipc_module *m, const char *service, const struct uipc_pb_service *svc);

/* Inside a handler: packs msg straight into the slot as the reply.
 * -UIPC_ETOOBIG when it does not fit the slot: nothing is packed, and the
 * caller gets -UIPC_ETOOBIG whatever the handler returns.  -EINVAL for a
 * NULL req or msg, or a request already answered. */
int uipc_pb_reply(uipc_req *req, const ProtobufCMessage *msg);

#ifdef __cplusplus
}
#endif
#endif
