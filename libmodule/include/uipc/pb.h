/* SPDX-License-Identifier: MIT */
/*
 * <uipc/pb.h> — typed calls: protobuf-c messages over uipc channels
 * (libuipc-pb, pkg-config uipc-pb).
 *
 * With a protoc-c generated service (a `service` block in the .proto; the
 * index of a method in it is its opcode on the channel):
 *   Server:  static Foo__Bar_Service impl = FOO__BAR__INIT(my_);   methods my_get()...
 *            uipc_pb_serve_service(m, "svc", &impl.base);
 *            and in my_get(): closure(&reply, closure_data), now or later
 *   Client:  uipc_pb_service_client(ch, &foo__bar__descriptor, &svc);
 *            foo__bar__get(svc, &request, got, arg);      got(reply, arg) runs once
 *            in got(): uipc_pb_service_status(svc) is the call's status
 *            protobuf_c_service_destroy(svc);
 *
 * With a table of opcodes:
 *   Client:  uipc_pb_call(ch, OP, &request.base, &reply__descriptor, &reply, 0)
 *   Server:  static const struct uipc_pb_method methods[] = {{ OP, &request__descriptor, fn }};
 *            static const struct uipc_pb_service svc = { methods, 1, ctx };
 *            uipc_pb_serve(m, "svc", &svc);   and in fn: uipc_pb_reply(req, &reply.base)
 *
 * Both speak the same bytes: a client of either kind calls a server of
 * either kind.
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

/* ---- opcode tables ---- */

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

/* ---- protoc-c generated services: the server ---- */

/* Serves `service` with impl, a generated service's implementation (its
 * base: &impl.base).  impl must outlive the module's loop; to give its
 * methods a context, embed the generated struct first in one of yours.
 *
 * For each command, the method whose index is the opcode (else -ENOSYS)
 * gets the request, unpacked (else -EBADMSG) and freed when the method
 * returns (copy what a later answer needs), and closure_data, which it
 * passes back to closure exactly once:
 *  - closure(&reply, closure_data) from inside the method: the reply is
 *    packed straight into the slot, status 0;
 *  - or later, from any thread: packed privately, then copied into the
 *    slot under the module's lock (uipc_req_respond);
 *  - closure(NULL, closure_data): the implementation failed; the caller
 *    gets -EIO.  A reply of another type than the method's is taken as a
 *    failure too.
 * A reply larger than the slot reaches the caller as -UIPC_ETOOBIG.
 * Never wait inside a method for another thread to call the closure: the
 * loop holds the module's lock while a method runs (and through the rest
 * of its batch), and a closure called on another thread waits for it.
 * Without memory for the request's entry, the caller gets -ENOMEM.
 *
 * closure_data is a handle, not a pointer: it names its request until the
 * request is answered, and nothing after, so a second closure call (even
 * late, even from another thread) is ignored.  Call every closure before
 * uipc_module_close, as for any deferred req: after it, the request is
 * gone.  A request whose closure never runs holds a table entry of a few
 * bytes until the process exits (reachable memory: no leak report), and
 * its caller waits for its own timeout or the server's death; give up on
 * one with closure(NULL, closure_data).
 *
 * -EINVAL for a NULL impl or one without invoke or descriptor; otherwise
 * as uipc_serve. */
int uipc_pb_serve_service(uipc_module *m, const char *service, const ProtobufCService *impl);

/* The closure with a status of its own choosing, from the same places:
 * answers the request closure_data names with status and, when status >=
 * 0, reply (NULL: an empty reply, every field at its default).  A negative
 * status sends no reply (-ENOENT: "no such key").  Returns 0, -EINVAL when
 * closure_data names no request waiting for its answer (already answered;
 * nothing is sent) or when reply is of another type than the method's
 * (the caller then gets -EIO), -UIPC_ETOOBIG when the reply does not fit
 * the slot (the caller gets -UIPC_ETOOBIG), or what uipc_req_respond
 * returns.  Any thread. */
int uipc_pb_service_respond(void *closure_data, int status, const ProtobufCMessage *reply);

/* ---- protoc-c generated services: the client ---- */

/* A service whose generated stubs (foo__bar__get(*out, &request, closure,
 * closure_data)) call `desc`'s service over ch, asynchronously, with the
 * method's index as opcode.  Free it with protobuf_c_service_destroy(*out);
 * calls still in flight then complete as usual.  *out is set only on
 * success.  -EINVAL for a NULL argument or a descriptor without protobuf-c's
 * magic, -ENOMEM.
 *
 * Each stub call's closure runs exactly once: from the module's loop
 * (uipc_poll, uipc_run) with the unpacked reply, freed when the closure
 * returns, or NULL when the status is negative.  A call that cannot even be
 * issued (every slot in flight, a request larger than the slot, the
 * service down, an index the descriptor has not (-ENOSYS), an input of
 * another type (-EINVAL)) has its closure run at once, before the stub
 * returns, with NULL: protobuf-c's invoke returns nothing, so that is the
 * only way to say it.  A NULL closure sends nothing.
 *
 * The request is packed into the slot before the stub returns, or, with
 * UIPC_WAIT_SLOT or UIPC_WAIT_READY (uipc_pb_service_options), into a
 * private copy first: a queued call is sent later.  Calls are safe from
 * several threads at once, as uipc_call is. */
int uipc_pb_service_client(uipc_chan *ch, const ProtobufCServiceDescriptor *desc,
                           ProtobufCService **out);

/* The timeout and struct uipc_call flags (UIPC_WAIT_SLOT |
 * UIPC_WAIT_READY | UIPC_INHERIT_DEADLINE) of client's calls from now on;
 * default 0 and 0: no timeout, no waiting.  -EINVAL for a service not made
 * by uipc_pb_service_client, or an unknown flag.  Any thread. */
int uipc_pb_service_options(ProtobufCService *client, uint32_t timeout_ms, uint32_t flags);

/* Inside the closure of one of client's calls: that call's status, as
 * uipc_pb_call returns it (the handler's status, -EIO for a failed
 * implementation, a transport code, -EBADMSG for a reply that does not
 * decode, or the code the call could not be issued with).  -EINVAL
 * anywhere else, or for a service not made by uipc_pb_service_client. */
int uipc_pb_service_status(const ProtobufCService *client);

#ifdef __cplusplus
}
#endif
#endif
