/* SPDX-License-Identifier: MIT */
/* libmodule's private state: one module, its client ends and server ends. */
#ifndef UIPC_INTERNAL_H
#define UIPC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "fifo.h"
#include "region.h"
#include "uipc/module.h"

#define UIPC_NAME_MAX 64
/* futex_waitv takes at most 128 words: our kick word, the control
 * region's, and one per channel. */
#define UIPC_MAX_CHANNELS 126
#define UIPC_DEFAULT_SPIN_NS 50000u

/* A call as the client sees it, one per slot.  This table, not the shared
 * slot word, decides what a completion means: the peer can write anything
 * into the region, but not into this. */
enum uipc_call_state {
    CALL_FREE,       /* slot in the free stack */
    CALL_INFLIGHT,   /* issued, waiting for its completion */
    CALL_READY,      /* completion reaped, callbacks not yet run */
    CALL_ABANDONED,  /* caller already got its one completion (timeout) */
    CALL_QUARANTINE, /* left by our previous incarnation; server may still write */
};

struct uipc_callrec {
    uint32_t gen;
    uint32_t epoch;     /* the server incarnation it was sent to (adopted: the one alive at bind) */
    uint8_t state;
    bool sync;
    bool expired;       /* async call completed by its timeout or cancelled; slot still held */
    bool answered;      /* its status is the server's: the reply callback runs */
    _Atomic int done;   /* sync: READY, for a waiter on another thread */
    int status;
    uint32_t rep_len;
    uint64_t deadline_ns; /* 0: none */
    uint64_t t0_ns;       /* issue time of a timed (sampled) call; 0: not timed */
    struct uipc_call call; /* call.id: an async call's handle for uipc_cancel */
};

/* An async call waiting for a slot or for its service (UIPC_WAIT_SLOT,
 * UIPC_WAIT_READY), or one that ended without ever being sent, waiting
 * for its completion to be delivered: private memory, never shared. */
struct uipc_queued {
    struct uipc_queued *next;
    struct uipc_call call;
    uint64_t deadline_ns;
    int status; /* what it waits for (-UIPC_ENOSLOT, -UIPC_EPEERDIED), or its end */
};
struct uipc_queue {
    struct uipc_queued *head, *tail;
    uint32_t n;
};

struct uipc_chan {
    uipc_module *m;
    struct uipc_region r;
    struct uipc_fifo sub; /* producer */
    struct uipc_fifo cmp; /* consumer */
    int peer_bell;
    unsigned index;      /* position in UIPC_CHANNELS: where violations are reported */
    /* The supervisor's words about this channel (struct uipc_ctl_chan, in
     * our control region, which the server cannot write); without a
     * control region (a test bed), `up` is the region's own epoch word and
     * the other two are NULL. */
    const _Atomic uint32_t *up;    /* the server's epoch while it takes calls */
    const _Atomic uint32_t *alive; /* the server incarnation alive now */
    const _Atomic uint32_t *reset; /* nonzero: stop using the channel */
    uint32_t alive_seen;           /* *alive when we last looked */
    bool broken;
    bool notify_pending; /* calls issued during delivery, peer not yet told */
    bool reap_first;     /* reap before the next issue (chan.c, uipc__chan_issue) */
    struct uipc_callrec *recs;
    uint32_t *free_stack, nfree;
    uint32_t *ready, ready_head, ready_tail; /* async completions to deliver */
    uint32_t async_deadlines;                /* async calls in flight with a timeout */
    uint64_t sync_waiting;                   /* sync calls in flight */
    uint64_t last_id;                        /* the last async call's id */
    uint32_t slot_waiters;                   /* sync callers waiting for a slot (UIPC_WAIT_SLOT) */
    struct uipc_queue queued;                /* async calls not yet sent, in order */
    uint64_t queued_deadline;                /* no queued call's deadline is earlier (0: none has one) */
    struct uipc_queue ended;                 /* queued calls over before being sent: to deliver */
    struct uipc_chan_stats st;
};

struct uipc_srv {
    uipc_module *m;
    struct uipc_region r;
    struct uipc_fifo sub; /* consumer */
    struct uipc_fifo cmp; /* producer */
    int peer_bell;
    unsigned index;       /* position in UIPC_CHANNELS: where violations are reported */
    const _Atomic uint32_t *reset; /* the supervisor's: stop using the channel; NULL: none */
    bool broken;
    bool notify_pending;  /* answers pushed in this batch, peer not yet told */
    uint32_t epoch;       /* ours, stamped by the supervisor */
    uipc_handler_fn fn;
    void *ctx;
    struct uipc_req *reqs; /* one per slot: a deferred req keeps its address */
    void **retired;        /* earlier reqs arrays with deferred handles out (serve.c) */
    unsigned nretired;
    uint64_t served, stale;
    uint64_t skipped;      /* taken after their caller's deadline: not run */
};

struct uipc_req {
    struct uipc_srv *s;
    uint32_t slot, gen;
    uint32_t opcode;
    uint32_t req_len;
    uint32_t rep_len;
    bool deferred;
    bool busy;    /* taken off the FIFO and not yet answered */
    bool too_big; /* the handler's reply did not fit: the caller gets -UIPC_ETOOBIG */
    uint64_t deadline_ns; /* the caller's (0: none), read once from the slot */
};

struct uipc_module {
    char name[UIPC_NAME_MAX];
    pthread_mutex_t lock; /* recursive: handlers may call, calls may serve */
    struct uipc_chan *chans;
    unsigned nchans;
    struct uipc_srv *srvs;
    unsigned nsrvs;
    int bell;             /* our bell's receiver (bell.c); peers ring it when armed */
    int self;             /* our own sender to it: uipc_stop, and work that slipped in */
    int *fds;             /* every fd we were handed, closed on close */
    char *provides;       /* UIPC_PROVIDES: services we provide, comma-separated */
    unsigned nfds;
    bool fd_mode;
    uint32_t spin_ns;
    _Atomic uint32_t kick; /* private futex: stop, or another thread's work */
    _Atomic int stop;
    _Atomic unsigned waiters;
    unsigned delivering;  /* depth of async deliveries on the stack */
    bool turning;         /* the loop's turn (uipc__progress with delivery) is on the stack */
    _Atomic uint64_t last_beat_ms;
    uint64_t beat_ns;     /* UIPC_HEARTBEAT_MS: longest sleep without a beat; 0: none */
    struct uipc_region ctl; /* UIPC_CONTROL: the supervisor's window on us (base NULL: none) */
};

/* wait.c: what a waiting thread watches, snapshotted under the module lock
 * so the wait itself touches only shared atomics. */
struct uipc_waitset {
    unsigned n;
    bool pending; /* something had arrived already when it was built */
    uint32_t kick0;
    /* the next entry of each incoming FIFO, and the control word */
    const _Atomic uint32_t *seq[UIPC_MAX_CHANNELS + 1];
    uint32_t seq0[UIPC_MAX_CHANNELS + 1];
    struct uipc_side *side[UIPC_MAX_CHANNELS + 1];  /* our side of each */
};
uint64_t uipc__now_ns(void);
/* stop_wakes: the supervisor's stop request ends the wait at once
 * (uipc_poll, which returns -UIPC_ESTOPPED); a sync call's wait goes on
 * waiting for its answer, and only a change of the word wakes it. */
void uipc__waitset_build(uipc_module *m, struct uipc_waitset *ws, bool stop_wakes);
/* Returns once something may have arrived, the kick word moved, or the
 * deadline (0: none) passed; spins up to m->spin_ns first when spin. */
void uipc__wait(uipc_module *m, const struct uipc_waitset *ws, uint64_t deadline_ns, bool spin);
/* Wakes every thread of this module that waits (stop, or a sync call
 * completed on another thread's behalf). */
void uipc__kick(uipc_module *m);
/* Wakes the module's loop wherever it sleeps, on its futexes or in the
 * caller's epoll (fd mode): it has work another thread made for it. */
void uipc__wake_loop(uipc_module *m);
/* A sign of life in every side we own, at most one store per ms: cheap
 * enough (a coarse clock read, no system call) to call before every
 * handler and every delivery, so a busy loop never starves its beat. */
void uipc__beat(uipc_module *m);

/* A status read from a peer's slot, or returned by our own handler: one
 * inside the transport range would pose as a transport error (a live
 * server saying "peer died"), so it becomes -UIPC_EBADSTATUS.  Clamped
 * where it is written (serve.c) and again where it is read (chan.c): the
 * reader cannot know whether the writer was honest. */
static inline int uipc__clamp_status(int status)
{
    return uipc_is_transport_error(status) ? -UIPC_EBADSTATUS : status;
}
/* The transport codes a server may answer, because they say what the
 * transport did to its own caller's call: -UIPC_ETOOBIG (the reply did
 * not fit), a bridge's -UIPC_ENOLINK and -UIPC_ELINKLOST at any time,
 * -UIPC_ETIMEDOUT once the call's deadline has passed (on the reader's
 * own clock: the writer may lie).  Only the caller is concerned, and it
 * could be told any status anyway; -UIPC_EPEERDIED, which only the
 * supervisor's words may say, never passes. */
static inline int uipc__clamp_answer(int status, uint64_t deadline_ns)
{
    if (status == -UIPC_ETOOBIG || status == -UIPC_ENOLINK || status == -UIPC_ELINKLOST ||
        (status == -UIPC_ETIMEDOUT && deadline_ns && uipc__now_ns() >= deadline_ns))
        return status;
    return uipc__clamp_status(status);
}

/* From here on, by file, lowest layer first: each calls only the files
 * before it, wait.c and the other headers' leaves (region, fifo, bell),
 * never one after it (scripts/call-cycles.sh checks it). */

/* manifest.c: what the supervisor hands a module, in UIPC_CHANNELS:
 * comma-separated "S:service:region_fd:peer_bell_fd" (S: we serve it) or
 * "C:..." (we call it).  Pure: unit-tested. */
struct uipc_manifest_ent {
    enum uipc_role role;
    char service[UIPC_SERVICE_MAX];
    int region_fd;
    int peer_bell;
};
int uipc__manifest_parse(const char *s, struct uipc_manifest_ent *out, unsigned max, unsigned *n);
int uipc__parse_fd(const char *s, int *fd);
/* UIPC_BELL: "RX:TX", the bell's receiver and the module's own sender to
 * it (bell.c).  Pure. */
int uipc__parse_bell(const char *s, int *rx, int *tx);

/* report.c: in our control region, for the supervisor */
/* A channel's peer broke the protocol: counted in its region (stats) and,
 * where the peer cannot forge it, in our control region for the
 * supervisor, which kills the peer and resets the channel. */
void uipc__report_violation(uipc_module *m, struct uipc_side *mine, unsigned index);
/* We stopped using a channel because the supervisor asked us to (it
 * resets the channel): said in the same word as a report, not counted as
 * a violation. */
void uipc__report_halt(uipc_module *m, unsigned index);
/* After a report or a halt: true once the supervisor has reset the
 * channel (it clears the reset request, then the report), so the broken
 * end may start over. */
bool uipc__violation_cleared(uipc_module *m, unsigned index, const _Atomic uint32_t *reset);
/* The supervisor asks us to stop using a channel (reset word set). */
static inline bool uipc__reset_asked(const _Atomic uint32_t *reset)
{
    return reset && uipc_load_acquire(reset) != 0;
}

/* hostile.c: UIPC_FAULT_HOSTILE, the attack `selector` picks, from inside
 * this module's own libmodule, against the client of s, before the handler
 * of req runs.  Returns true when the attack is that our end stops (a false
 * report): the caller, which owns the end, stops it (serve.c). */
bool uipc__hostile(uipc_module *m, struct uipc_srv *s, struct uipc_req *req, uint32_t selector);

/* chan.c (client ends) */
int uipc__chan_init(struct uipc_chan *ch, uipc_module *m, int region_fd, int peer_bell);
/* Points the channel at the supervisor's words about it, in our control
 * region, and adopts the slots our predecessor left.  Required before the
 * first call: a client hears of its server's death only through them. */
void uipc__chan_bind(struct uipc_chan *ch, const _Atomic uint32_t *up, const _Atomic uint32_t *alive,
                     const _Atomic uint32_t *reset);
void uipc__chan_fini(struct uipc_chan *ch);
int uipc__chan_reap(struct uipc_chan *ch);
int uipc__chan_deliver(struct uipc_chan *ch);
void uipc__chan_expire(struct uipc_chan *ch, uint64_t now);
uint64_t uipc__chan_next_deadline(const struct uipc_chan *ch);
/* Tells every server the calls issued during a delivery batch. */
void uipc__flush_notifies(uipc_module *m);
/* Fills a free slot with call and sends it, with its deadline (0: none).
 * Returns the slot index or a negative code; on failure nothing was sent
 * and no callback will run. */
int uipc__chan_issue(struct uipc_chan *ch, const struct uipc_call *call, uint64_t deadline_ns);
/* Queues an async call to be issued by the loop (UIPC_WAIT_SLOT,
 * UIPC_WAIT_READY); why: the code it would get now.  -UIPC_ENOSLOT when
 * UIPC_QUEUE_MAX wait already, -ENOMEM. */
int uipc__chan_enqueue(struct uipc_chan *ch, const struct uipc_call *call, uint64_t deadline_ns, int why);
/* Issues what the queue holds while slots and the service allow; calls
 * that cannot wait any longer end (delivered by uipc__chan_deliver). */
void uipc__chan_drain(struct uipc_chan *ch, uint64_t now);
/* Whether a call that could not be issued with code r may wait for a
 * slot or for its service, by its flags. */
bool uipc__may_wait(int r, uint32_t flags);
/* uipc_cancel under the lock. */
int uipc__chan_cancel(struct uipc_chan *ch, uint64_t id);
/* A sync call in slot i (issued by uipc__chan_issue): true once it is
 * over, *status then its answer (its reply callback has run, the slot is
 * free) or -UIPC_ETIMEDOUT (its deadline passed; the slot waits for the
 * late completion).  The caller turns the loop in between (call.c). */
bool uipc__chan_sync_done(struct uipc_chan *ch, uint32_t i, int *status);
/* The supervisor asked: stop using the channel. */
void uipc__chan_halt(struct uipc_chan *ch);
/* A broken end starting over on a reset channel. */
void uipc__chan_restart(struct uipc_chan *ch);

/* serve.c (server ends) */
/* epoch: the word holding our epoch, written by the supervisor (in our
 * control region); NULL: the region's own (a test bed). */
int uipc__srv_init(struct uipc_srv *s, uipc_module *m, int region_fd, int peer_bell,
                   const _Atomic uint32_t *epoch);
void uipc__srv_fini(struct uipc_srv *s);
int uipc__srv_process(struct uipc_srv *s);
/* The supervisor asked: stop using the channel. */
void uipc__srv_halt(struct uipc_srv *s);
/* The deadline of the request this thread's innermost running handler
 * serves (0: none, or no handler runs here). */
uint64_t uipc__serving_deadline(void);
/* A broken end starting over on a reset channel. */
void uipc__srv_restart(struct uipc_srv *s);

/* module.c: one turn of the module's loop over every end (call.c's sync
 * wait turns it too). */
int uipc__progress(uipc_module *m, bool deliver);

#endif
