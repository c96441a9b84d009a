/* SPDX-License-Identifier: MIT */
/*
 * <uipc/module.h> — the API a uipc module is written against.
 *
 * Usage, in order:
 *   1. uipc_module_open(&m)              attach to what the supervisor set up
 *   2. uipc_serve(m, "svc", handler, ctx) for each service the module provides
 *      uipc_connect(m, "other", &ch)       for each service it calls
 *   3. uipc_call(ch, &call)               sync (no .complete) or async
 *   4. uipc_run(m)                        serve until uipc_stop() or the supervisor says stop
 *      or: epoll on uipc_fd(m), then uipc_poll(m, 0) when it is readable
 *   5. uipc_module_close(m)
 *
 * Every function returns 0 (or a count) on success and a negative code on
 * failure: -errno for setup errors (-ENOENT: this module is not part of that
 * service), or one of the transport codes below, -UIPC_E*.  uipc_strerror()
 * names both.
 *
 * Status values.  A handler's return value is the status its caller sees, as
 * is (0, positive, or -errno style).  Transport codes live in the reserved
 * range -UIPC_ERANGE_MIN..-UIPC_ERANGE_MAX (-10000..-10999), which no errno
 * reaches; a handler that returns a value inside that range has it replaced
 * by -UIPC_EBADSTATUS, so a caller can always tell "the service said X" from
 * "the transport failed": uipc_is_transport_error(status).  Some transport
 * codes do pass from a server, because they say what the transport did to
 * that caller's own call: -UIPC_ETOOBIG (the command ran; its reply did
 * not fit the slot), -UIPC_ETIMEDOUT once the caller's own deadline has
 * passed (the caller checks that on its own clock; sooner, it is
 * -UIPC_EBADSTATUS), and a bridge's -UIPC_ENOLINK and -UIPC_ELINKLOST.
 */
#ifndef UIPC_MODULE_H
#define UIPC_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uipc_module uipc_module;   /* this process's attachment */
typedef struct uipc_chan   uipc_chan;     /* client end of a channel to a service */
typedef struct uipc_req    uipc_req;      /* one command being served */

/* Transport error codes; functions return them negated (-UIPC_EPEERDIED). */
enum {
    UIPC_ERANGE_MIN  = 10000,
    UIPC_EPEERDIED   = 10001, /* the peer died, or the service is down */
    UIPC_ETIMEDOUT   = 10002, /* timeout_ms passed before the reply came */
    UIPC_ENOSLOT     = 10003, /* every slot of the channel is in flight */
    UIPC_ETOOBIG     = 10004, /* command or reply larger than a slot */
    UIPC_EPROTO      = 10005, /* the peer broke the protocol; channel unusable */
    UIPC_EBADSTATUS  = 10006, /* the handler returned a reserved status */
    UIPC_ESTOPPED    = 10007, /* uipc_poll: the supervisor asks this module to stop */
    UIPC_ENOLINK     = 10008, /* a remote service (uipc-bridge): no link, the call was not sent */
    UIPC_ELINKLOST   = 10009, /* a remote service: the link, or the remote bridge, supervisor or
                               * server, was lost while the call was out: it may have run */
    UIPC_ERANGE_MAX  = 10999,
};

/* struct uipc_call's flags. */
enum {
    /* Every slot in flight: wait for one (up to timeout_ms) instead of
     * -UIPC_ENOSLOT at once.  Sync: the caller waits, serving meanwhile;
     * -UIPC_ENOSLOT when timeout_ms passes first.  Async: the call is
     * queued in the client (uipc_call returns 0 and sets id) and issued
     * by the module's loop when a slot frees, in the order queued; fill
     * runs then.  A queued call that timeout_ms passes completes with
     * -UIPC_ENOSLOT (it was never sent), and one whose fill fails or which
     * cannot be sent completes with that code.  At most UIPC_QUEUE_MAX
     * calls wait per channel; past that, -UIPC_ENOSLOT at once.  Slots of
     * async calls come back when their completions are delivered, which a
     * sync wait does not do: a sync caller inside a handler or callback,
     * on the loop's own thread, may wait for slots only the loop can
     * free; give it a timeout. */
    UIPC_WAIT_SLOT = 1u << 0,
    /* The service is down (its server died and is restarting, or it is
     * drained): wait up to timeout_ms for it to be back, then issue,
     * instead of -UIPC_EPEERDIED at once; sync waits, async is queued as
     * for UIPC_WAIT_SLOT and completes with -UIPC_EPEERDIED if the service
     * is not back in time.  A call already issued when its server died
     * still fails with -UIPC_EPEERDIED: it may have run. */
    UIPC_WAIT_READY = 1u << 1,
    /* Inside a handler: the call's deadline is the smaller of its own
     * timeout_ms and what remains of the request being served
     * (uipc_req_remaining_ms); -UIPC_ETIMEDOUT at once if none remains. */
    UIPC_INHERIT_DEADLINE = 1u << 2,
};
#define UIPC_QUEUE_MAX 65536u /* async calls waiting per channel (UIPC_WAIT_SLOT, UIPC_WAIT_READY) */

/* Writes the command into buf (cap bytes) and sets *len.  A negative return
 * cancels the call: uipc_call returns it and no other callback runs.  A *len
 * larger than cap is -UIPC_ETOOBIG. */
typedef int  (*uipc_fill_fn)(void *buf, size_t cap, size_t *len, void *arg);
/* Reads the reply while the slot is still held; data is valid only during
 * the callback.  Runs only when the command got a reply (status from the
 * handler, not a transport error). */
typedef void (*uipc_reply_fn)(int status, const void *data, size_t len, void *arg);
/* Asynchronous completion: runs exactly once per issued call, after reply. */
typedef void (*uipc_complete_fn)(int status, void *arg);
/* Serves one command; its return value is the caller's status, unless it
 * called uipc_req_defer() (then the return value is ignored). */
typedef int  (*uipc_handler_fn)(uipc_req *req, void *ctx);

/* Zero what you do not set (a designated initializer does): the fields
 * after arg came with version 0.2 of the library. */
struct uipc_call {
    uipc_fill_fn     fill;       /* writes the command straight into its slot */
    uipc_reply_fn    reply;      /* optional: reads the reply while the slot is still held */
    uipc_complete_fn complete;   /* optional: present means asynchronous */
    uint32_t         opcode;
    uint32_t         timeout_ms; /* the whole call, waits included; 0: as long as the peer lives */
    void            *arg;        /* passed to every callback */
    uint32_t         flags;      /* UIPC_WAIT_SLOT | UIPC_WAIT_READY | UIPC_INHERIT_DEADLINE */
    uint64_t         id;         /* out: an async call's id for uipc_cancel (never 0); sync: 0 */
};

/* Attaches to the channels the supervisor (or a test bed) handed this
 * process, described by the UIPC_* environment.  -ENOENT when the process
 * was not started by one.  Not thread-safe with other calls on *out.
 * Makes the process non-dumpable (PR_SET_DUMPABLE 0), so that other
 * modules cannot reach its channels through /proc/PID/fd; this also turns
 * core dumps off: a module that wants them sets it back to 1 and gives up
 * that protection. */
int  uipc_module_open(uipc_module **out);
/* Detaches and closes the fds the supervisor handed over; calls still in
 * flight are abandoned (no callback runs).  Accepts NULL. */
void uipc_module_close(uipc_module *m);
/* This module's name, as the supervisor knows it. */
const char *uipc_module_name(const uipc_module *m);

/* Serves `service` with fn on every channel whose server end this module
 * holds.  -ENOENT if the module does not provide it.  Call before uipc_run. */
int  uipc_serve(uipc_module *m, const char *service, uipc_handler_fn fn, void *ctx);
/* The client end of this module's channel to `service`; owned by m.
 * -ENOENT if this module does not connect to it. */
int  uipc_connect(uipc_module *m, const char *service, uipc_chan **out);
/* Issues a command (see the file comment for sync/async).  Returns the
 * command's status when synchronous, 0 when an asynchronous call was issued,
 * or a negative code when it could not be issued (then no callback runs).
 * Safe from several threads at once on one channel. */
int  uipc_call(uipc_chan *ch, struct uipc_call *call);
/* Cancels an asynchronous call: its complete runs once, soon, from the
 * module's loop, with -ECANCELED, and its reply callback never runs.  The
 * server may still run the command (or be running it); its slot comes
 * back when the server answers or dies.  A call still queued
 * (UIPC_WAIT_SLOT, UIPC_WAIT_READY) is never sent.  -ENOENT when the call
 * is over (its completion already decided) or the id unknown.  Any thread. */
int  uipc_cancel(uipc_chan *ch, uint64_t id);
/* Synchronous bytes in, bytes out: sends req_len bytes of req, copies the
 * reply into rep (rep_cap bytes) and sets *rep_len (NULL: not wanted).
 * Returns the call's status.  A reply longer than rep_cap is
 * -UIPC_ETOOBIG with *rep_len set to the size needed (the command ran). */
int  uipc_call_buf(uipc_chan *ch, uint32_t opcode, const void *req, size_t req_len, void *rep,
                   size_t rep_cap, size_t *rep_len, uint32_t timeout_ms);

/* Serves and delivers completions until uipc_stop() or the supervisor's
 * stop request; 0 on a clean stop. */
int  uipc_run(uipc_module *m);
/* Processes what has arrived, waiting up to timeout_ms (-1: forever, 0: not
 * at all) for something to arrive.  Returns the number of requests served
 * and completions delivered, or a negative code: -UIPC_ESTOPPED when the
 * supervisor asks the module to stop (finish up and return from main).
 * The first call tells the supervisor the module is ready. */
int  uipc_poll(uipc_module *m, int timeout_ms);
/* An fd that is readable when uipc_poll has work, for epoll or libuv.
 * Once it is used, call uipc_poll(m, 0) whenever it is readable.  While
 * the loop is idle the supervisor makes it readable about once per
 * heartbeat interval: that uipc_poll is the module's heartbeat. */
int  uipc_fd(uipc_module *m);
/* Asks uipc_run to return 0.  Async-signal-safe and thread-safe. */
void uipc_stop(uipc_module *m);
/* Spin budget before a waiting side sleeps, in nanoseconds.  0 sleeps at
 * once.  Default 50000, or UIPC_SPIN_NS from the environment; always 0 on a
 * single CPU, where spinning only delays the peer. */
void uipc_set_spin(uipc_module *m, uint32_t spin_ns);

/* Tells the supervisor that a long handler is alive (it heartbeats for the
 * module, which otherwise beats from its loop).  Cheap; call it as often as
 * you like. */
void uipc_alive(uipc_module *m);

const char *uipc_strerror(int err);
static inline int uipc_is_transport_error(int status)
{
    return status <= -UIPC_ERANGE_MIN && status >= -UIPC_ERANGE_MAX;
}

/* Server side.  A req is valid inside its handler, or, once deferred, until
 * uipc_req_complete() or uipc_req_respond().  Inside the handler, use it
 * from the loop's thread; a deferred req may be answered from any thread
 * (uipc_req_reply_buf, uipc_req_reply and uipc_req_complete, or
 * uipc_req_respond, which copies under the module's lock and so is safe
 * even against a reset of the channel by the supervisor). */
uint32_t    uipc_req_opcode(const uipc_req *req);
const void *uipc_req_data(const uipc_req *req, size_t *len);
void       *uipc_req_reply_buf(uipc_req *req, size_t *cap);
/* Sets the reply's length (bytes already written to uipc_req_reply_buf).
 * -UIPC_ETOOBIG when len exceeds the slot: the caller then gets
 * -UIPC_ETOOBIG, whatever status the handler returns. */
int         uipc_req_reply(uipc_req *req, size_t len);
int         uipc_req_defer(uipc_req *req);              /* answer later, outside the handler */
int         uipc_req_complete(uipc_req *req, int status);
/* Copies len bytes of data as the reply and completes with status, in one
 * step under the module's lock: for a deferred req, from any thread.  The
 * loop holds that lock while it serves a batch: a handler that waits for
 * a thread which is itself in uipc_req_respond waits forever.
 * -UIPC_ETOOBIG (and the caller gets -UIPC_ETOOBIG) when len exceeds the
 * slot; -EINVAL when req is no longer waiting for its answer. */
int         uipc_req_respond(uipc_req *req, int status, const void *data, size_t len);
/* How long the caller still waits for this request, in ms (0: its
 * deadline has passed), or -1 when it waits without a deadline.  The
 * deadline is the caller's own claim: it shortens only its own call.  A
 * command whose deadline has already passed when the server takes it is
 * answered -UIPC_ETIMEDOUT without running its handler. */
int64_t     uipc_req_remaining_ms(const uipc_req *req);

/* Per-channel accounting, kept by libmodule for the caller's end. */
struct uipc_chan_stats {
    uint64_t issued;          /* calls issued (got a slot and were sent) */
    uint64_t ok;              /* other completions: the server's status (-UIPC_EBADSTATUS and
                               * -UIPC_ETOOBIG included), or -ECANCELED */
    uint64_t peer_died;       /* completions with -UIPC_EPEERDIED, -UIPC_ENOLINK, -UIPC_ELINKLOST */
    uint64_t timed_out;       /* completions with -UIPC_ETIMEDOUT */
    uint64_t proto;           /* completions with -UIPC_EPROTO */
    uint64_t duplicates;      /* completions dropped as duplicate or stale */
    uint32_t in_flight;       /* issued, not yet completed */
    uint32_t free_slots;      /* slots a new call can take now */
    uint32_t slots;           /* slots in the channel */
    uint32_t slot_size;       /* bytes a command or reply may take */
};
int uipc_chan_stats(uipc_chan *ch, struct uipc_chan_stats *out);

#ifdef __cplusplus
}
#endif
#endif
