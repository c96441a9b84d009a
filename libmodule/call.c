/* SPDX-License-Identifier: MIT */
/* uipc_call: a call from its issue to its answer.  A sync caller waits
 * here, turning the module's loop meanwhile (uipc__progress) so that call
 * cycles (A calls B, which calls A) finish; the client end (chan.c) only
 * issues, queues, reaps and delivers, and never calls up into the loop. */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* The call's deadline (0: none): its own timeout, or with
 * UIPC_INHERIT_DEADLINE the request this thread serves, whichever ends
 * first.  Read once, at the start: timeout_ms covers every wait. */
static uint64_t call_deadline(const struct uipc_call *call)
{
    uint64_t own = call->timeout_ms ? uipc__now_ns() + (uint64_t)call->timeout_ms * 1000000u : 0;
    uint64_t inherited = call->flags & UIPC_INHERIT_DEADLINE ? uipc__serving_deadline() : 0;
    return inherited && (!own || inherited < own) ? inherited : own;
}

/* Sleeps until something may have changed for a call that could not be
 * issued with code why: a slot freed (slot_freed kicks us), the
 * supervisor's news that the service is back (the control word), or the
 * deadline.  Serves our own services first, as a sync wait does.  Called
 * and returns with m->lock held. */
static void wait_to_issue(struct uipc_chan *ch, int why, uint64_t deadline_ns)
{
    uipc_module *m = ch->m;
    struct uipc_waitset ws;

    uipc__progress(m, false);
    uipc__waitset_build(m, &ws, false); /* before the looks below: a change after them wakes us */
    if (why == -UIPC_ENOSLOT ? ch->nfree > 0 : atomic_load(ch->up) != 0)
        return;
    ch->slot_waiters++;
    pthread_mutex_unlock(&m->lock);
    uipc__wait(m, &ws, deadline_ns, false);
    pthread_mutex_lock(&m->lock);
    ch->slot_waiters--;
}

/* A sync call's issue, waiting for a slot or the service as its flags
 * allow.  Called and returns with m->lock held. */
static int issue_sync(struct uipc_chan *ch, const struct uipc_call *call, uint64_t deadline_ns)
{
    for (;;) {
        int r = uipc__chan_issue(ch, call, deadline_ns);
        if (r >= 0 || !uipc__may_wait(r, call->flags))
            return r;
        wait_to_issue(ch, r, deadline_ns);
        /* what it waited for, not a command sent already late */
        if (deadline_ns && uipc__now_ns() >= deadline_ns)
            return r;
    }
}

/* An async call's issue: sent now, or queued behind the calls already
 * waiting as its flags allow.  Called with m->lock held. */
static int issue_async(struct uipc_chan *ch, const struct uipc_call *call, uint64_t deadline_ns)
{
    bool waits = call->flags & (UIPC_WAIT_SLOT | UIPC_WAIT_READY);
    int r = waits && ch->queued.head ? ch->queued.head->status : uipc__chan_issue(ch, call, deadline_ns);
    if (r >= 0 || !uipc__may_wait(r, call->flags))
        return r < 0 ? r : 0;
    r = uipc__chan_enqueue(ch, call, deadline_ns, r);
    if (r == 0) /* a loop asleep learns of a new deadline, or of a slot it could use */
        uipc__wake_loop(ch->m);
    return r;
}

/* Waits inline for slot i's completion, serving our own services meanwhile
 * so that call cycles finish.  Called and returns with m->lock held. */
static int sync_wait(struct uipc_chan *ch, uint32_t i)
{
    uipc_module *m = ch->m;
    struct uipc_waitset ws;
    int status;

    for (;;) {
        uipc__progress(m, false);
        if (uipc__chan_sync_done(ch, i, &status))
            return status;
        uipc__waitset_build(m, &ws, false);
        pthread_mutex_unlock(&m->lock);
        uipc__wait(m, &ws, ch->recs[i].deadline_ns, true);
        pthread_mutex_lock(&m->lock);
    }
}

static int make_call(uipc_chan *ch, struct uipc_call *call)
{
    if (!ch || !call || !call->fill)
        return -EINVAL;
    call->id = 0; /* until an async call is issued or queued */
    uint64_t deadline_ns = call_deadline(call);
    if (deadline_ns && (call->flags & UIPC_INHERIT_DEADLINE) && uipc__now_ns() >= deadline_ns)
        return -UIPC_ETIMEDOUT; /* nothing left of the request's time */
    uipc_module *m = ch->m;
    pthread_mutex_lock(&m->lock);
    int r;
    if (call->complete) {
        call->id = ++ch->last_id;
        r = issue_async(ch, call, deadline_ns);
        if (r < 0)
            call->id = 0;
    } else {
        r = issue_sync(ch, call, deadline_ns);
        if (r >= 0)
            r = sync_wait(ch, (uint32_t)r);
    }
    pthread_mutex_unlock(&m->lock);
    return r;
}

int uipc_cancel(uipc_chan *ch, uint64_t id)
{
    if (!ch || id == 0)
        return id == 0 && ch ? -ENOENT : -EINVAL;
    uipc_module *m = ch->m;
    pthread_mutex_lock(&m->lock);
    int r = uipc__chan_cancel(ch, id);
    pthread_mutex_unlock(&m->lock);
    if (r == 0) /* its completion is delivered by the loop: wake it */
        uipc__wake_loop(m);
    return r;
}

struct buf_call {
    const void *req;
    size_t req_len;
    void *rep;
    size_t rep_cap, rep_len;
};

static int buf_fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct buf_call *b = arg;
    if (b->req_len > cap)
        return -UIPC_ETOOBIG;
    if (b->req_len)
        memcpy(buf, b->req, b->req_len);
    *len = b->req_len;
    return 0;
}

static void buf_reply(int status, const void *data, size_t len, void *arg)
{
    (void)status;
    struct buf_call *b = arg;
    b->rep_len = len;
    if (len <= b->rep_cap && len)
        memcpy(b->rep, data, len);
}

int uipc_call_buf(uipc_chan *ch, uint32_t opcode, const void *req, size_t req_len, void *rep,
                  size_t rep_cap, size_t *rep_len, uint32_t timeout_ms)
{
    if ((req_len && !req) || (rep_cap && !rep))
        return -EINVAL;
    struct buf_call b = { .req = req, .req_len = req_len, .rep = rep, .rep_cap = rep_cap };
    struct uipc_call c = { .fill = buf_fill, .reply = buf_reply, .opcode = opcode,
                           .timeout_ms = timeout_ms, .arg = &b };
    int status = make_call(ch, &c);
    if (rep_len)
        *rep_len = b.rep_len;
    return b.rep_len > rep_cap ? -UIPC_ETOOBIG : status;
}

#ifdef UIPC_SHARED_LIBRARY
/* Binaries built against version 0.1 pass the shorter struct uipc_call
 * (no flags, no id) and get this uipc_call (libuipc-module.map). */
struct uipc_call_0_1 {
    uipc_fill_fn fill;
    uipc_reply_fn reply;
    uipc_complete_fn complete;
    uint32_t opcode;
    uint32_t timeout_ms;
    void *arg;
};
int uipc__call_0_1(uipc_chan *ch, const struct uipc_call_0_1 *call);
__asm__(".symver uipc__call_0_1, uipc_call@UIPC_0.1");

int uipc__call_0_1(uipc_chan *ch, const struct uipc_call_0_1 *call)
{
    if (!call)
        return -EINVAL;
    struct uipc_call c = { .fill = call->fill, .reply = call->reply, .complete = call->complete,
                           .opcode = call->opcode, .timeout_ms = call->timeout_ms, .arg = call->arg };
    return make_call(ch, &c);
}

/* uipc_call@@UIPC_0.2, the default: an implementation of its own name,
 * as the one above, so that the linker binds neither by accident. */
int uipc__call_0_2(uipc_chan *ch, struct uipc_call *c);
__asm__(".symver uipc__call_0_2, uipc_call@@UIPC_0.2");

int uipc__call_0_2(uipc_chan *ch, struct uipc_call *c)
{
    return make_call(ch, c);
}
#else
int uipc_call(uipc_chan *ch, struct uipc_call *c)
{
    return make_call(ch, c);
}
#endif
