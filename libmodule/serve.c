/* SPDX-License-Identifier: MIT */
/* The server end of a channel: taking commands off the submit FIFO,
 * running the handler, answering through the completion FIFO. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

int uipc__srv_init(struct uipc_srv *s, uipc_module *m, int region_fd, int peer_bell,
                   const _Atomic uint32_t *epoch)
{
    memset(s, 0, sizeof(*s));
    s->m = m;
    s->peer_bell = peer_bell;
    int err = uipc__region_map(region_fd, &s->r);
    if (err < 0)
        return err;
    /* From our control region when there is one: the region's word can be
     * zeroed by the client, which would make us fail to start. */
    s->epoch = uipc_load_acquire(epoch ? epoch : &s->r.side[UIPC_SERVER]->epoch);
    s->reqs = calloc(s->r.slots, sizeof(*s->reqs));
    if (s->epoch == 0 || !s->reqs) {
        uipc__srv_fini(s);
        return s->epoch == 0 ? -ESTALE : -ENOMEM;
    }
    uipc__fifo_attach_consumer(&s->sub, s->r.fifo[UIPC_SUBMIT], s->r.fifo_size);
    uipc__fifo_attach_producer(&s->cmp, s->r.fifo[UIPC_COMPLETE], s->r.fifo_size);
    return 0;
}

void uipc__srv_fini(struct uipc_srv *s)
{
    uipc__region_unmap(&s->r);
    free(s->reqs);
    s->reqs = NULL;
    for (unsigned i = 0; i < s->nretired; i++)
        free(s->retired[i]);
    free(s->retired);
    s->retired = NULL;
    s->nretired = 0;
}

/* A reset with requests still deferred: their handles (pointers into
 * reqs) may be answered later, from any thread, and must not then answer
 * the next command in the same slot.  The old array is kept, every entry
 * not busy (their answers return -EINVAL), until the module closes, and
 * the channel starts over with a new one.  Without memory for it, the old
 * array serves on and a late answer could meet a new command. */
static void retire_deferred(struct uipc_srv *s)
{
    bool deferred = false;
    for (uint32_t i = 0; i < s->r.slots; i++) {
        deferred |= s->reqs[i].busy && s->reqs[i].deferred;
        s->reqs[i].busy = false;
    }
    if (!deferred)
        return;
    struct uipc_req *fresh = calloc(s->r.slots, sizeof(*fresh));
    void **list = realloc(s->retired, (s->nretired + 1) * sizeof(*list));
    if (list)
        s->retired = list;
    if (!fresh || !list) {
        free(fresh);
        return;
    }
    s->retired[s->nretired++] = s->reqs;
    s->reqs = fresh;
}

/* We stop serving the channel until the supervisor has reset it; what the
 * client does to its region can no longer reach us.  Deferred requests
 * complete as no-ops.  A violation we saw (the client broke the protocol)
 * is reported and counted; a stop the supervisor asked for is only said. */
static void srv_stop(struct uipc_srv *s, bool violation)
{
    if (s->broken)
        return;
    s->broken = true;
    if (violation)
        uipc__report_violation(s->m, s->r.side[UIPC_SERVER], s->index);
    else
        uipc__report_halt(s->m, s->index);
}

static void srv_break(struct uipc_srv *s)
{
    srv_stop(s, true);
}

void uipc__srv_halt(struct uipc_srv *s)
{
    srv_stop(s, false);
}

/* Both ends stopped using the channel and the supervisor emptied it
 * (uipc__reclaim_reset): we start over at position 0.
 * Requests still deferred are forgotten: their uipc_req_complete returns
 * -EINVAL. */
void uipc__srv_restart(struct uipc_srv *s)
{
    retire_deferred(s);
    uipc__fifo_attach_consumer(&s->sub, s->r.fifo[UIPC_SUBMIT], s->r.fifo_size);
    uipc__fifo_attach_producer(&s->cmp, s->r.fifo[UIPC_COMPLETE], s->r.fifo_size);
    s->notify_pending = false;
    s->broken = false;
}

/* The request the handler running on this thread serves (innermost when
 * handlers nest through call cycles): whose deadline a call made with
 * UIPC_INHERIT_DEADLINE inherits.  initial-exec: two accesses per
 * handler, without the shared library's call to __tls_get_addr. */
static _Thread_local const struct uipc_req *serving __attribute__((tls_model("initial-exec")));

uint64_t uipc__serving_deadline(void)
{
    return serving ? serving->deadline_ns : 0;
}

static void answer(struct uipc_req *req, int status)
{
    struct uipc_srv *s = req->s;
    struct uipc_slot_hdr *h = uipc_slot(&s->r, req->slot);

    req->busy = false;
    if (s->broken)
        return;
    h->status = req->too_big ? -UIPC_ETOOBIG : uipc__clamp_answer(status, req->deadline_ns);
    h->rep_len = req->rep_len;
    uipc_store_release(&h->own, uipc_slot_word(req->gen, UIPC_SLOT_DONE));
    if (uipc__fifo_push(&s->cmp, req->slot, req->gen, 0) < 0) {
        srv_break(s);
        return;
    }
    uipc__fifo_publish_tail(&s->cmp);
    s->notify_pending = true;
}

/* Wakes the client once per batch: the fence in uipc__notify costs more
 * than the answer itself, and a spinning client needs no wake-up at all. */
static void srv_flush(struct uipc_srv *s)
{
    if (s->notify_pending) {
        s->notify_pending = false;
        uipc__fifo_demote_last(&s->cmp, &s->r);
        uipc__notify(s->r.side[UIPC_CLIENT], s->peer_bell);
    }
}

/* Takes slot i off the FIFO for serving; false if the entry is a lie. */
static bool take(struct uipc_srv *s, uint32_t i, uint32_t gen, struct uipc_req **out)
{
    struct uipc_slot_hdr *h = uipc_slot(&s->r, i);
    uipc_slot_prefetch(&s->r, i);
    /* The word proves the client really submitted this generation; our own
     * busy flag makes a second entry for a slot in service fail instead of
     * serving it twice.  A plain store, not a CAS: only a lying client
     * could change the word in between, and it would only fool itself. */
    if (s->reqs[i].busy || uipc_load_acquire(&h->own) != uipc_slot_word(gen, UIPC_SLOT_SUBMITTED))
        return false;
    uipc_store_relaxed(&h->own, uipc_slot_word(gen, UIPC_SLOT_SERVING));
    uint32_t len = h->req_len; /* read once: the client may rewrite it */
    if (len > s->r.slot_size)
        return false;
    struct uipc_req *req = &s->reqs[i];
    *req = (struct uipc_req){ .s = s, .slot = i, .gen = gen, .opcode = h->opcode,
                              .req_len = len, .busy = true, .deadline_ns = h->deadline_ns };
    *out = req;
    return true;
}

/* Its caller has stopped waiting: the command is not run.  The coarse
 * clock (no system call, never ahead of the precise one) is enough to
 * skip; a command it lets through late is only run in vain. */
static bool past_deadline(const struct uipc_req *req)
{
    if (!req->deadline_ns)
        return false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec >= req->deadline_ns;
}

/* Before a handler runs on req: a fault the supervisor asked for
 * (uipc-chaos, uipcctl fault), in our control region, which no peer maps.
 * A hostile fault that stops our end (a false report) leaves the stop to
 * us: the end is this file's. */
static void fault_point(struct uipc_srv *s, struct uipc_req *req)
{
    uipc_module *m = s->m;
    if (!m->ctl.base)
        return;
    struct uipc_side *me = m->ctl.side[UIPC_CLIENT];
    if (uipc_load_relaxed(&me->fault) == 0) /* one cached load per handler */
        return;
    uint32_t fault = atomic_exchange(&me->fault, 0);
    if (fault == UIPC_FAULT_ABORT)
        abort();
    if (fault == UIPC_FAULT_SLOW) {
        uint32_t ms = uipc_load_relaxed(&me->fault_ms);
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    if (fault == UIPC_FAULT_HOSTILE && uipc__hostile(m, s, req, uipc_load_relaxed(&me->fault_ms)))
        uipc__srv_halt(s);
}

static void run_handler(struct uipc_srv *s, struct uipc_req *req)
{
    fault_point(s, req);
    const struct uipc_req *outer = serving;
    serving = req;
    int status = s->fn(req, s->ctx);
    serving = outer;
    if (!req->deferred && req->busy)
        answer(req, status);
}

int uipc__srv_process(struct uipc_srv *s)
{
    uint32_t i, gen, tag;
    int n = 0, r = 0;

    if (s->broken || !s->fn)
        return 0;
    /* At most one lap of the client's slots per call: a client that keeps
     * the FIFO full must not starve our other channels, nor the loop's own
     * work (deliveries, the supervisor's requests). */
    for (uint32_t budget = s->r.slots; budget > 0; budget--) {
        if ((r = uipc__fifo_pop(&s->sub, &i, &gen, &tag)) <= 0)
            break;
        struct uipc_req *req;
        if (tag != s->epoch) {
            /* Sent to our previous incarnation: its caller already got
             * -UIPC_EPEERDIED from the reclaim; running it now would
             * execute a command its caller was told had failed. */
            s->stale++;
            /* Published like a taken entry: left unpublished, it looks
             * like work waiting, and the supervisor would kill us as hung
             * (docs/slot-protocol.pml, finding 5). */
            uipc__fifo_publish_head(&s->sub);
            continue;
        }
        uint32_t next;
        if (uipc__fifo_next_slot(&s->sub, &next) && next < s->r.slots)
            uipc_slot_prefetch(&s->r, next); /* on its way while this one is served */
        if (i >= s->r.slots || !take(s, i, gen, &req)) {
            r = -UIPC_EPROTO;
            break;
        }
        /* Published before the handler runs: a handler that makes a call
         * may come back here, and the supervisor reads progress from it.
         * After take()'s SERVING mark: the client's reclaim relies on that
         * order (reclaim.c, free_unsent). */
        uipc__fifo_publish_head(&s->sub);
        /* A client already asleep is woken before the next handler runs,
         * however long that takes; the unfenced look may miss a sleeper
         * that just lay down, which the fenced flush after the batch
         * catches. */
        struct uipc_side *peer = s->r.side[UIPC_CLIENT];
        if (s->notify_pending && uipc_side_sleeps(peer))
            srv_flush(s);
        /* Taking a command is progress: a server whose queue never empties
         * beats before each handler, so only a handler that itself runs
         * past the hang timeout (without uipc_alive) can look hung. */
        uipc__beat(s->m);
        if (past_deadline(req)) {
            answer(req, -UIPC_ETIMEDOUT);
            s->skipped++;
        } else {
            run_handler(s, req);
            s->served++;
        }
        n++;
        if (s->broken)
            break;
    }
    if (r < 0)
        srv_break(s);
    srv_flush(s);
    return n;
}

uint32_t uipc_req_opcode(const uipc_req *req)
{
    return req ? req->opcode : 0;
}

const void *uipc_req_data(const uipc_req *req, size_t *len)
{
    if (!req)
        return NULL;
    if (len)
        *len = req->req_len;
    return uipc_slot_data(&req->s->r, req->slot);
}

void *uipc_req_reply_buf(uipc_req *req, size_t *cap)
{
    if (!req || !req->busy) /* answered: the slot may hold the next command */
        return NULL;
    if (cap)
        *cap = req->s->r.slot_size;
    return uipc_slot_data(&req->s->r, req->slot);
}

/* Called with the module lock held. */
static int set_reply(uipc_req *req, size_t len)
{
    if (!req->busy)
        return -EINVAL;
    req->too_big = len > req->s->r.slot_size;
    if (req->too_big)
        return -UIPC_ETOOBIG;
    req->rep_len = (uint32_t)len;
    return 0;
}

int uipc_req_reply(uipc_req *req, size_t len)
{
    if (!req)
        return -EINVAL;
    pthread_mutex_lock(&req->s->m->lock);
    int r = set_reply(req, len);
    pthread_mutex_unlock(&req->s->m->lock);
    return r;
}

int uipc_req_defer(uipc_req *req)
{
    if (!req || !req->busy)
        return -EINVAL;
    req->deferred = true;
    return 0;
}

/* Called with the module lock held. */
static int complete(uipc_req *req, int status)
{
    if (!req->busy)
        return -EINVAL;
    answer(req, status);
    srv_flush(req->s);
    return 0;
}

int uipc_req_complete(uipc_req *req, int status)
{
    if (!req)
        return -EINVAL;
    uipc_module *m = req->s->m;
    pthread_mutex_lock(&m->lock);
    int r = complete(req, status);
    pthread_mutex_unlock(&m->lock);
    return r;
}

int uipc_req_respond(uipc_req *req, int status, const void *data, size_t len)
{
    if (!req || (len && !data))
        return -EINVAL;
    uipc_module *m = req->s->m;
    pthread_mutex_lock(&m->lock);
    int r = set_reply(req, len);
    if (r == 0 && len)
        memcpy(uipc_slot_data(&req->s->r, req->slot), data, len);
    if (r != -EINVAL) {
        int c = complete(req, status); /* too big: the caller hears -UIPC_ETOOBIG */
        r = r < 0 ? r : c;
    }
    pthread_mutex_unlock(&m->lock);
    return r;
}

int64_t uipc_req_remaining_ms(const uipc_req *req)
{
    if (!req || !req->deadline_ns)
        return -1;
    uint64_t now = uipc__now_ns();
    /* rounded up: 0 means passed, not "under a millisecond left" */
    return now >= req->deadline_ns ? 0 : (int64_t)((req->deadline_ns - now + 999999u) / 1000000u);
}
