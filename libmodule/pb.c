/* SPDX-License-Identifier: MIT */
/* Typed calls over uipc channels (<uipc/pb.h>): thin callbacks around
 * uipc_call and uipc_serve that pack into and unpack from the slot, for an
 * opcode table or a protoc-c generated service, on either end. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <uipc/pb.h>

#define SNAPSHOT_STACK 4096 /* larger messages are copied to the heap */
/* The flags that may queue an async call: its fill then runs later. */
#define MAY_QUEUE (UIPC_WAIT_SLOT | UIPC_WAIT_READY)
#define CALL_FLAGS (UIPC_WAIT_SLOT | UIPC_WAIT_READY | UIPC_INHERIT_DEADLINE)

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
    const ProtobufCMessage *request; /* packed by fill, or NULL: packed already */
    const uint8_t *packed;           /* a call that may be queued: the request's bytes */
    size_t packed_len;
    const ProtobufCMessageDescriptor *reply_type;
    ProtobufCMessage *reply;
    int decode_error;          /* the reply was there but did not decode */
    uipc_pb_done_fn done;
    void *arg;
    /* a generated service's call (uipc_pb_service_client) */
    const ProtobufCService *client;
    ProtobufCClosure closure;
    void *closure_data;
};

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct pb_call *c = arg;
    if (c->request)
        return pack_into(c->request, buf, cap, len);
    if (c->packed_len > cap)
        return -UIPC_ETOOBIG;
    memcpy(buf, c->packed, c->packed_len);
    *len = c->packed_len;
    return 0;
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

/* The record of an asynchronous call of request.  One that may be queued
 * is packed now, into the same allocation: its fill runs later, from the
 * loop, when the caller's request may be gone.  Its size is checked
 * against the slot here, so that a request too large is refused at once,
 * as it is when the fill runs inside uipc_call. */
static int new_call(uipc_chan *ch, const ProtobufCMessage *request,
                    const ProtobufCMessageDescriptor *reply_type, bool may_queue,
                    struct pb_call **out)
{
    struct uipc_chan_stats st;
    size_t len = may_queue ? protobuf_c_message_get_packed_size(request) : 0;
    int r = may_queue ? uipc_chan_stats(ch, &st) : 0;
    if (r < 0)
        return r;
    if (may_queue && len > st.slot_size)
        return -UIPC_ETOOBIG;
    struct pb_call *c = malloc(sizeof(*c) + len);
    if (!c)
        return -ENOMEM;
    *c = (struct pb_call){ .request = request, .reply_type = reply_type };
    if (may_queue) {
        uint8_t *bytes = (uint8_t *)(c + 1);
        c->packed_len = protobuf_c_message_pack(request, bytes);
        c->packed = bytes;
        c->request = NULL;
    }
    *out = c;
    return 0;
}

/* Issues c asynchronously; frees it when the call is not issued (then no
 * callback runs). */
static int issue_async(uipc_chan *ch, struct pb_call *c, uint32_t opcode, uint32_t timeout_ms,
                       uint32_t flags)
{
    struct uipc_call call = { .fill = fill, .reply = on_reply, .complete = on_complete,
                              .opcode = opcode, .timeout_ms = timeout_ms, .arg = c,
                              .flags = flags };
    int r = uipc_call(ch, &call);
    if (r < 0)
        free(c);
    return r;
}

int uipc_pb_call_async(uipc_chan *ch, uint32_t opcode, const ProtobufCMessage *request,
                       const ProtobufCMessageDescriptor *reply_type, uipc_pb_done_fn done,
                       void *arg, uint32_t timeout_ms)
{
    struct pb_call *c;
    if (!request || !reply_type || !done)
        return -EINVAL;
    int r = new_call(ch, request, reply_type, false, &c);
    if (r < 0)
        return r;
    c->done = done;
    c->arg = arg;
    return issue_async(ch, c, opcode, timeout_ms, 0);
}

/* ---- client of a generated service ---- */

struct pb_client {
    ProtobufCService base; /* first: what the generated stubs are handed */
    uipc_chan *ch;
    /* atomic: options may change while another thread makes calls */
    _Atomic uint32_t timeout_ms, flags;
};

/* The closures of client calls running on this thread, innermost first (a
 * closure may make a call whose closure runs at once): what
 * uipc_pb_service_status reads.  Per thread, not per client: a closure
 * that runs at once (not issued) runs on the caller's thread, beside the
 * loop's deliveries. */
struct closure_run {
    const ProtobufCService *client;
    int status;
    const struct closure_run *outer;
};
static _Thread_local const struct closure_run *running;

static void run_closure(const ProtobufCService *client, ProtobufCClosure closure, void *data,
                        int status, const ProtobufCMessage *reply)
{
    struct closure_run run = { client, status, running };
    running = &run;
    closure(reply, data);
    running = run.outer;
}

/* uipc_pb_done_fn of a service client's call: arg is its record. */
static void closure_done(int status, const ProtobufCMessage *reply, void *arg)
{
    struct pb_call *c = arg;
    run_closure(c->client, c->closure, c->closure_data, status, reply);
}

static int client_issue(struct pb_client *cl, unsigned index, const ProtobufCMessage *input,
                        ProtobufCClosure closure, void *closure_data)
{
    const ProtobufCServiceDescriptor *d = cl->base.descriptor;
    struct pb_call *c;
    if (index >= d->n_methods)
        return -ENOSYS;
    if (!input || input->descriptor != d->methods[index].input)
        return -EINVAL;
    uint32_t flags = atomic_load_explicit(&cl->flags, memory_order_relaxed);
    int r = new_call(cl->ch, input, d->methods[index].output, flags & MAY_QUEUE, &c);
    if (r < 0)
        return r;
    c->done = closure_done;
    c->arg = c;
    c->client = &cl->base;
    c->closure = closure;
    c->closure_data = closure_data;
    uint32_t timeout_ms = atomic_load_explicit(&cl->timeout_ms, memory_order_relaxed);
    return issue_async(cl->ch, c, index, timeout_ms, flags);
}

/* ProtobufCService.invoke, which the generated stubs call.  It returns
 * nothing: a call that cannot be issued is said to its closure, at once. */
static void client_invoke(ProtobufCService *service, unsigned index, const ProtobufCMessage *input,
                          ProtobufCClosure closure, void *closure_data)
{
    if (!closure)
        return; /* no one to tell anything: nothing is sent */
    int r = client_issue((struct pb_client *)service, index, input, closure, closure_data);
    if (r < 0)
        run_closure(service, closure, closure_data, r, NULL);
}

static void client_destroy(ProtobufCService *service)
{
    free(service);
}

/* Ours if made by uipc_pb_service_client: no other service has our invoke. */
static struct pb_client *client_of(const ProtobufCService *service)
{
    return service && service->invoke == client_invoke ? (struct pb_client *)service : NULL;
}

int uipc_pb_service_client(uipc_chan *ch, const ProtobufCServiceDescriptor *desc,
                           ProtobufCService **out)
{
    if (!ch || !desc || desc->magic != PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC || !out)
        return -EINVAL;
    struct pb_client *cl = malloc(sizeof(*cl));
    if (!cl)
        return -ENOMEM;
    *cl = (struct pb_client){ .base = { .descriptor = desc, .invoke = client_invoke,
                                        .destroy = client_destroy },
                              .ch = ch };
    *out = &cl->base;
    return 0;
}

int uipc_pb_service_options(ProtobufCService *client, uint32_t timeout_ms, uint32_t flags)
{
    struct pb_client *cl = client_of(client);
    if (!cl || (flags & ~CALL_FLAGS))
        return -EINVAL;
    atomic_store_explicit(&cl->timeout_ms, timeout_ms, memory_order_relaxed);
    atomic_store_explicit(&cl->flags, flags, memory_order_relaxed);
    return 0;
}

int uipc_pb_service_status(const ProtobufCService *client)
{
    for (const struct closure_run *run = running; run; run = run->outer)
        if (run->client == client)
            return run->status;
    return -EINVAL;
}

/* ---- server ---- */

/* req's request, unpacked as type; NULL when it does not decode. */
static ProtobufCMessage *request_of(uipc_req *req, const ProtobufCMessageDescriptor *type)
{
    size_t len;
    const void *data = uipc_req_data(req, &len);
    return unpack(type, data, len);
}

static int serve_one(uipc_req *req, void *ctx)
{
    const struct uipc_pb_service *svc = ctx;
    uint32_t op = uipc_req_opcode(req);
    for (size_t i = 0; i < svc->nmethods; i++) {
        const struct uipc_pb_method *mt = &svc->methods[i];
        if (mt->opcode != op)
            continue;
        ProtobufCMessage *msg = request_of(req, mt->request_type);
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

/* ---- server of a generated service ---- */

/* The requests of served generated services not yet answered.  The
 * implementation is handed a handle as closure_data, not a pointer: once
 * its request is answered the handle names nothing, so a closure called
 * twice, late or from another thread, is ignored instead of reading freed
 * memory or answering the next request given the same entry.  One table
 * for the process, under a lock of its own: closures run on any thread,
 * and the module's lock is not ours.  Never freed (reachable, so no leak
 * report); the entry of a request whose closure never runs stays taken
 * (<uipc/pb.h>). */
struct pending {
    uipc_req *req;                            /* NULL: free */
    const ProtobufCMessageDescriptor *output; /* the method's reply type */
    uint32_t gen;                             /* bumped at each use: stale handles miss */
    uint32_t next_free;
};

#define NO_ENTRY UINT32_MAX
/* A handle: the generation in the high half of a pointer, the index in
 * the low half (on 32-bit, both truncated to 16 bits). */
#define INDEX_BITS (sizeof(uintptr_t) * CHAR_BIT / 2)
#define INDEX_MASK (((uintptr_t)1 << INDEX_BITS) - 1)
#define PENDING_MAX (INDEX_MASK < NO_ENTRY ? (uint32_t)INDEX_MASK : NO_ENTRY - 1)

static struct {
    pthread_mutex_t lock;
    struct pending *e;
    uint32_t n, free_head;
} table = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, NO_ENTRY };

static void *handle_of(uint32_t i, uint32_t gen)
{
    return (void *)(((uintptr_t)gen << INDEX_BITS) | i);
}

/* Called with table.lock held. */
static int table_grow(void)
{
    uint32_t n = table.n ? (table.n <= PENDING_MAX / 2 ? table.n * 2 : PENDING_MAX) : 16;
    struct pending *e = n > table.n ? realloc(table.e, n * sizeof(*e)) : NULL;
    if (!e)
        return -ENOMEM;
    for (uint32_t i = n; i-- > table.n;) {
        e[i] = (struct pending){ .next_free = table.free_head };
        table.free_head = i;
    }
    table.e = e;
    table.n = n;
    return 0;
}

static int pending_open(uipc_req *req, const ProtobufCMessageDescriptor *output, void **handle)
{
    pthread_mutex_lock(&table.lock);
    int r = table.free_head == NO_ENTRY ? table_grow() : 0;
    if (r == 0) {
        uint32_t i = table.free_head;
        struct pending *p = &table.e[i];
        table.free_head = p->next_free;
        if (++p->gen == 0) /* never a NULL handle */
            p->gen = 1;
        p->req = req;
        p->output = output;
        *handle = handle_of(i, p->gen);
    }
    pthread_mutex_unlock(&table.lock);
    return r;
}

/* The request behind handle, which names nothing from then on; NULL when
 * it names none (answered already, or no handle of ours). */
static uipc_req *pending_take(void *handle, const ProtobufCMessageDescriptor **output)
{
    uint32_t i = (uint32_t)((uintptr_t)handle & INDEX_MASK);
    uipc_req *req = NULL;
    pthread_mutex_lock(&table.lock);
    struct pending *p = i < table.n ? &table.e[i] : NULL;
    if (p && p->req && handle_of(i, p->gen) == handle) {
        req = p->req;
        *output = p->output;
        p->req = NULL;
        p->next_free = table.free_head;
        table.free_head = i;
    }
    pthread_mutex_unlock(&table.lock);
    return req;
}

/* A request whose invoke runs on this thread (innermost first: a method
 * that calls out may serve another request meanwhile).  Answered from its
 * own invoke, it is answered as a handler's return, straight into the
 * slot. */
struct invoke_frame {
    void *handle;
    bool answered;
    int status;
    struct invoke_frame *outer;
};
static _Thread_local struct invoke_frame *invoking;

static int answer_inline(struct invoke_frame *f, uipc_req *req, int status,
                         const ProtobufCMessage *reply)
{
    int r = status >= 0 && reply ? uipc_pb_reply(req, reply) : 0;
    f->answered = true;
    f->status = r < 0 ? r : status;
    return r;
}

/* From any thread: packed privately, then copied into the slot under the
 * module's lock (uipc_req_respond), which is safe against a reset of the
 * channel and waits for the handler still running on the loop's thread. */
static int answer_late(uipc_req *req, int status, const ProtobufCMessage *reply)
{
    if (status < 0 || !reply)
        return uipc_req_respond(req, status, NULL, 0);
    size_t len = protobuf_c_message_get_packed_size(reply);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        uipc_req_respond(req, -ENOMEM, NULL, 0);
        return -ENOMEM;
    }
    protobuf_c_message_pack(reply, buf);
    int r = uipc_req_respond(req, status, buf, len); /* too big: the caller hears -UIPC_ETOOBIG */
    free(buf);
    return r;
}

int uipc_pb_service_respond(void *closure_data, int status, const ProtobufCMessage *reply)
{
    const ProtobufCMessageDescriptor *output;
    uipc_req *req = pending_take(closure_data, &output);
    if (!req)
        return -EINVAL;
    /* Another type than the method's: the caller would decode it as its
     * own.  The implementation failed. */
    bool wrong_type = status >= 0 && reply && reply->descriptor != output;
    if (wrong_type) {
        status = -EIO;
        reply = NULL;
    }
    struct invoke_frame *f = invoking;
    int r = f && f->handle == closure_data ? answer_inline(f, req, status, reply)
                                            : answer_late(req, status, reply);
    return wrong_type ? -EINVAL : r;
}

/* ProtobufCClosure handed to the implementation. */
static void service_closure(const ProtobufCMessage *reply, void *closure_data)
{
    uipc_pb_service_respond(closure_data, reply ? 0 : -EIO, reply);
}

static int serve_method(uipc_req *req, void *ctx)
{
    ProtobufCService *impl = ctx;
    const ProtobufCServiceDescriptor *d = impl->descriptor;
    uint32_t op = uipc_req_opcode(req);
    if (op >= d->n_methods)
        return -ENOSYS;
    ProtobufCMessage *input = request_of(req, d->methods[op].input);
    if (!input)
        return -EBADMSG;
    struct invoke_frame f = { .outer = invoking };
    int r = pending_open(req, d->methods[op].output, &f.handle);
    if (r == 0) {
        invoking = &f;
        impl->invoke(impl, op, input, service_closure, f.handle);
        invoking = f.outer;
    }
    protobuf_c_message_free_unpacked(input, NULL);
    if (r < 0 || f.answered)
        return r < 0 ? r : f.status;
    /* To be answered later; or answered by another thread already, which
     * now waits for the module's lock that we hold through this handler:
     * deferred, the request outlives the handler's return for it.  Fails
     * harmlessly when the answer already went out. */
    uipc_req_defer(req);
    return 0;
}

int uipc_pb_serve_service(uipc_module *m, const char *service, const ProtobufCService *impl)
{
    if (!impl || !impl->invoke || !impl->descriptor ||
        impl->descriptor->magic != PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC)
        return -EINVAL;
    return uipc_serve(m, service, serve_method, (void *)impl);
}
