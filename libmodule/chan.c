/* SPDX-License-Identifier: MIT */
/* The client end of a channel: issuing calls, reaping completions,
 * delivering them exactly once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Whoever waits for a slot hears of this one: a sync caller asleep on
 * another thread (UIPC_WAIT_SLOT), or the loop, for the queue, unless the
 * loop's own turn freed it (it drains the queue before it sleeps). */
static void slot_freed(struct uipc_chan *ch)
{
    uipc_module *m = ch->m;
    if (ch->slot_waiters)
        uipc__kick(m);
    if (ch->queued.head && !m->turning)
        uipc__wake_loop(m);
}

/* Back to the pool, unannounced: for a slot taken by an issue that did
 * not go out, which frees nothing a waiter could not already have. */
static void slot_return(struct uipc_chan *ch, uint32_t i)
{
    struct uipc_callrec *rec = &ch->recs[i];
    rec->state = CALL_FREE;
    /* Informative for the reclaim; the client's own table is what counts. */
    uipc_store_release(&uipc_slot(&ch->r, i)->own, uipc_slot_word(rec->gen, UIPC_SLOT_FREE));
    ch->free_stack[ch->nfree++] = i;
}

static void slot_release(struct uipc_chan *ch, uint32_t i)
{
    slot_return(ch, i);
    if (ch->slot_waiters || ch->queued.head)
        slot_freed(ch);
}

/* Our previous incarnation may have left calls a server is still serving:
 * those slots stay out of use until their answer comes or that server
 * incarnation dies (peer_gone), so they wait on `alive` as it was before
 * we read the words.  Our predecessor sent its calls to that incarnation
 * or an earlier one (the supervisor stores `alive` before `up`), and an
 * earlier one's reclaim freed the words of what it held: loaded after
 * the words, `alive` could name a later incarnation that never saw the
 * call, and the slot would wait for it (docs/slot-protocol.pml, 9a). */
static void recs_adopt(struct uipc_chan *ch, uint32_t alive)
{
    for (uint32_t i = ch->r.slots; i-- > 0;) {
        uint64_t w = uipc_load_acquire(&uipc_slot(&ch->r, i)->own);
        uint32_t st = uipc_slot_word_state(w);
        ch->recs[i].gen = uipc_slot_word_gen(w);
        if (st == UIPC_SLOT_SUBMITTED || st == UIPC_SLOT_SERVING) {
            ch->recs[i].state = CALL_QUARANTINE;
            ch->recs[i].epoch = alive;
            continue;
        }
        /* FREE, DONE (the reply is written; a late completion entry for it
         * is dropped by its generation) or garbage: ours again. */
        ch->free_stack[ch->nfree++] = i;
    }
}

int uipc__chan_init(struct uipc_chan *ch, uipc_module *m, int region_fd, int peer_bell)
{
    memset(ch, 0, sizeof(*ch));
    ch->m = m;
    ch->peer_bell = peer_bell;
    int err = uipc__region_map(region_fd, &ch->r);
    if (err < 0)
        return err;
    uint32_t n = ch->r.slots;
    ch->recs = calloc(n, sizeof(*ch->recs));
    ch->free_stack = calloc(n, sizeof(uint32_t));
    ch->ready = calloc(n, sizeof(uint32_t));
    if (!ch->recs || !ch->free_stack || !ch->ready) {
        uipc__chan_fini(ch);
        return -ENOMEM;
    }
    uipc__fifo_attach_producer(&ch->sub, ch->r.fifo[UIPC_SUBMIT], ch->r.fifo_size);
    uipc__fifo_attach_consumer(&ch->cmp, ch->r.fifo[UIPC_COMPLETE], ch->r.fifo_size);
    /* Our predecessor's completions are consumed before we add calls:
     * what is waiting in the completion FIFO counts towards its room. */
    ch->reap_first = true;
    ch->st.slots = n;
    ch->st.slot_size = ch->r.slot_size;
    return 0;
}

void uipc__chan_bind(struct uipc_chan *ch, const _Atomic uint32_t *up, const _Atomic uint32_t *alive,
                     const _Atomic uint32_t *reset)
{
    ch->up = up;
    ch->alive = alive;
    ch->reset = reset;
    ch->alive_seen = uipc_load_acquire(alive);
    recs_adopt(ch, ch->alive_seen);
}

static void queue_free(struct uipc_queue *q)
{
    while (q->head) {
        struct uipc_queued *e = q->head;
        q->head = e->next;
        free(e);
    }
    q->tail = NULL;
    q->n = 0;
}

void uipc__chan_fini(struct uipc_chan *ch)
{
    queue_free(&ch->queued);
    queue_free(&ch->ended);
    uipc__region_unmap(&ch->r);
    free(ch->recs);
    free(ch->free_stack);
    free(ch->ready);
    ch->recs = NULL;
    ch->free_stack = ch->ready = NULL;
}

/* A counter of ours in the region: only this side writes it, under the
 * module lock, so a plain store of the private count does. */
static void publish(_Atomic uint64_t *shared, uint64_t value)
{
    atomic_store_explicit(shared, value, memory_order_relaxed);
}

static void count_completion(struct uipc_chan *ch, struct uipc_callrec *rec, int status)
{
    struct uipc_side *me = ch->r.side[UIPC_CLIENT];
    if (status == -UIPC_EPEERDIED || status == -UIPC_ELINKLOST || status == -UIPC_ENOLINK)
        publish(&me->peer_died, ++ch->st.peer_died); /* a remote peer's, through a bridge */
    else if (status == -UIPC_ETIMEDOUT)
        publish(&me->timed_out, ++ch->st.timed_out);
    else if (status == -UIPC_EPROTO)
        publish(&me->proto, ++ch->st.proto);
    else
        publish(&me->ok, ++ch->st.ok); /* the region's ok holds bad_status too, as st.ok does */
    if (status == -UIPC_EBADSTATUS)
        publish(&me->bad_status, atomic_load_explicit(&me->bad_status, memory_order_relaxed) + 1);
    ch->st.in_flight--;
    if (rec->sync)
        publish(&me->sync_waiting, --ch->sync_waiting);
    if (rec->t0_ns) {
        uint64_t ns = uipc__now_ns() - rec->t0_ns;
        _Atomic uint64_t *b = &me->lat[uipc_lat_bucket(ns)];
        publish(b, atomic_load_explicit(b, memory_order_relaxed) + 1);
        publish(&me->lat_sum_ns, atomic_load_explicit(&me->lat_sum_ns, memory_order_relaxed) + ns);
    }
}

/* The one place an issued call gets its completion. */
static void complete_rec(struct uipc_chan *ch, uint32_t i, int status, uint32_t rep_len)
{
    struct uipc_callrec *rec = &ch->recs[i];
    rec->state = CALL_READY;
    rec->answered = false;
    rec->status = status;
    rec->rep_len = rep_len;
    count_completion(ch, rec, status);
    if (rec->sync) {
        atomic_store_explicit(&rec->done, 1, memory_order_release);
        /* Its caller may sleep on another thread.  One that spins, or has
         * yet to sleep, sees the completion entry arrive by itself. */
        if (atomic_load_explicit(&ch->m->waiters, memory_order_relaxed))
            uipc__kick(ch->m);
        return;
    }
    if (rec->deadline_ns)
        ch->async_deadlines--;
    ch->ready[ch->ready_tail++ % ch->r.slots] = i;
}

/* The channel stops: every caller still waiting gets -EPROTO now, and it
 * takes no more calls until the supervisor has reset it.  Slots stay
 * held: the peer may still be writing into them.  A violation we saw is
 * reported (and counted); a stop the supervisor asked for is only said. */
static void chan_stop(struct uipc_chan *ch, bool violation)
{
    if (ch->broken)
        return;
    ch->broken = true;
    if (violation)
        uipc__report_violation(ch->m, ch->r.side[UIPC_CLIENT], ch->index);
    else
        uipc__report_halt(ch->m, ch->index);
    for (uint32_t i = 0; i < ch->r.slots; i++)
        if (ch->recs[i].state == CALL_INFLIGHT)
            complete_rec(ch, i, -UIPC_EPROTO, 0);
}

static void chan_break(struct uipc_chan *ch)
{
    chan_stop(ch, true);
}

void uipc__chan_halt(struct uipc_chan *ch)
{
    chan_stop(ch, false);
}

/* Both ends stopped using the channel and the supervisor emptied it
 * (uipc__reclaim_reset): slots whose callers already had their answer are
 * free again, and we start over at position 0.  Calls completed but not
 * yet delivered (READY) keep their slots until then. */
void uipc__chan_restart(struct uipc_chan *ch)
{
    ch->broken = false;
    for (uint32_t i = 0; i < ch->r.slots; i++) {
        uint8_t st = ch->recs[i].state;
        if (st == CALL_ABANDONED || st == CALL_QUARANTINE)
            slot_release(ch, i);
    }
    uipc__fifo_attach_producer(&ch->sub, ch->r.fifo[UIPC_SUBMIT], ch->r.fifo_size);
    uipc__fifo_attach_consumer(&ch->cmp, ch->r.fifo[UIPC_COMPLETE], ch->r.fifo_size);
    ch->notify_pending = false;
    ch->reap_first = true;
}

/* Reads the server's answer from the slot header once, and checks it. */
static int read_answer(struct uipc_chan *ch, uint32_t i, uint32_t gen, uint32_t *rep_len)
{
    uint64_t deadline_ns = ch->recs[i].deadline_ns;
    struct uipc_slot_hdr *h = uipc_slot(&ch->r, i);
    if (uipc_load_acquire(&h->own) != uipc_slot_word(gen, UIPC_SLOT_DONE))
        return -UIPC_EPROTO;
    int32_t status = h->status;
    uint32_t len = h->rep_len;
    if (len > ch->r.slot_size)
        return -UIPC_EPROTO;
    *rep_len = len;
    /* A server that writes a transport code (-UIPC_EPEERDIED from a live
     * server) gets -UIPC_EBADSTATUS: uipc_is_transport_error() never lies
     * (but for the two a server may say, checked on our clock). */
    return uipc__clamp_answer(status, deadline_ns);
}

/* One completion entry, {i, gen}: what it means is decided by our own
 * table, never by the entry or the slot word, which the server writes.
 * Its tag is not read: no completion says "the server died" (only the
 * supervisor can, in `alive`: peer_gone), so a server cannot forge one,
 * and a dead one's leftovers cannot answer a later call with it
 * (docs/slot-protocol.pml, finding 6). */
static void reap_one(struct uipc_chan *ch, uint32_t i, uint32_t gen)
{
    struct uipc_callrec *rec = &ch->recs[i];
    if (rec->gen == gen && rec->state == CALL_READY && rec->expired) {
        rec->expired = false; /* answered after all: its delivery frees the slot */
        return;
    }
    bool waiting = rec->state == CALL_INFLIGHT || rec->state == CALL_ABANDONED ||
                   rec->state == CALL_QUARANTINE;
    if (rec->gen != gen || !waiting) {
        /* A second completion for one call, or one for a call long gone:
         * dropped, never delivered twice. */
        publish(&ch->r.side[UIPC_CLIENT]->duplicates, ++ch->st.duplicates);
        return;
    }
    if (rec->state != CALL_INFLIGHT) { /* its caller already had its answer */
        slot_release(ch, i);
        return;
    }
    uint32_t rep_len = 0;
    uipc_slot_prefetch(&ch->r, i);
    int status = read_answer(ch, i, gen, &rep_len);
    complete_rec(ch, i, status, rep_len);
    rec->answered = !uipc_is_transport_error(status);
    /* A server that answers garbage is not trusted with the other calls
     * either; the supervisor resets the channel. */
    if (status == -UIPC_EPROTO)
        chan_break(ch);
}

/* The server incarnation a call was sent to is gone: the supervisor says
 * so in our control region (`alive`), once it has reaped it and freed the
 * slot words it held.  Every call we sent to it and still wait for is
 * answered -UIPC_EPEERDIED here, from our own table, whatever the dead
 * server left in the region; calls already answered by their timeout free
 * their slots, or will at their delivery.  `alive` was loaded (acquire)
 * before the FIFO was reaped: every answer the dead server pushed was
 * visible to that reap, so a call it answered gets its answer, not this. */
static void peer_gone(struct uipc_chan *ch, uint32_t alive)
{
    if (alive == ch->alive_seen)
        return;
    ch->alive_seen = alive;
    for (uint32_t i = 0; i < ch->r.slots; i++) {
        struct uipc_callrec *rec = &ch->recs[i];
        if (rec->epoch == alive)
            continue;
        if (rec->state == CALL_INFLIGHT)
            complete_rec(ch, i, -UIPC_EPEERDIED, 0);
        else if (rec->state == CALL_ABANDONED || rec->state == CALL_QUARANTINE)
            slot_release(ch, i);
        else if (rec->state == CALL_READY)
            rec->expired = false; /* timed out, not delivered: its delivery frees it (9b) */
    }
}

int uipc__chan_reap(struct uipc_chan *ch)
{
    uint32_t i, gen, tag;
    int n = 0, r;

    if (ch->broken)
        return 0;
    uint32_t alive = uipc_load_acquire(ch->alive);
    while ((r = uipc__fifo_pop(&ch->cmp, &i, &gen, &tag)) > 0) {
        n++;
        if (i >= ch->r.slots) {
            r = -UIPC_EPROTO;
            break;
        }
        uint32_t next;
        if (uipc__fifo_next_slot(&ch->cmp, &next) && next < ch->r.slots)
            uipc_slot_prefetch(&ch->r, next);
        reap_one(ch, i, gen);
    }
    if (n)
        uipc__fifo_publish_head(&ch->cmp);
    if (r < 0) {
        chan_break(ch);
        return n;
    }
    ch->reap_first = false;
    peer_gone(ch, alive);
    return n;
}

/* Runs reply then complete for one finished call, then frees its slot. */
static void finish_rec(struct uipc_chan *ch, uint32_t i)
{
    struct uipc_callrec *rec = &ch->recs[i];
    if (rec->call.reply && rec->answered)
        rec->call.reply(rec->status, uipc_slot_data(&ch->r, i), rec->rep_len, rec->call.arg);
    if (rec->state == CALL_ABANDONED) /* timed out: the slot waits for its completion */
        return;
    if (ch->broken) /* held: the peer may still write into it, until a reset */
        rec->state = CALL_ABANDONED;
    else
        slot_release(ch, i);
}

static void queue_push(struct uipc_queue *q, struct uipc_queued *e)
{
    e->next = NULL;
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    q->n++;
}

static void queue_push_front(struct uipc_queue *q, struct uipc_queued *e)
{
    if (!(e->next = q->head))
        q->tail = e;
    q->head = e;
    q->n++;
}

static struct uipc_queued *queue_pop(struct uipc_queue *q)
{
    struct uipc_queued *e = q->head;
    if (e && !(q->head = e->next))
        q->tail = NULL;
    if (e)
        q->n--;
    return e;
}

/* Takes out the entry after prev (NULL: the head). */
static struct uipc_queued *queue_unlink(struct uipc_queue *q, struct uipc_queued *prev)
{
    if (!prev)
        return queue_pop(q);
    struct uipc_queued *e = prev->next;
    if (!(prev->next = e->next))
        q->tail = prev;
    q->n--;
    return e;
}

/* A queued call ends unsent, with status: its completion is delivered
 * by the loop (never from inside uipc_call or uipc_cancel). */
static void queue_end(struct uipc_chan *ch, struct uipc_queued *e, int status)
{
    e->status = status;
    queue_push(&ch->ended, e);
}

static int deliver_ended(struct uipc_chan *ch)
{
    int n = 0;
    struct uipc_queued *e;
    while ((e = queue_pop(&ch->ended))) {
        struct uipc_call call = e->call;
        int status = e->status;
        free(e);
        uipc__beat(ch->m);
        call.complete(status, call.arg);
        n++;
    }
    return n;
}

int uipc__chan_enqueue(struct uipc_chan *ch, const struct uipc_call *call, uint64_t deadline_ns, int why)
{
    if (ch->queued.n >= UIPC_QUEUE_MAX)
        return -UIPC_ENOSLOT;
    struct uipc_queued *e = malloc(sizeof(*e));
    if (!e)
        return -ENOMEM;
    *e = (struct uipc_queued){ .call = *call, .deadline_ns = deadline_ns, .status = why };
    if (!ch->queued.head)
        ch->queued_deadline = 0;
    if (deadline_ns && (!ch->queued_deadline || deadline_ns < ch->queued_deadline))
        ch->queued_deadline = deadline_ns;
    queue_push(&ch->queued, e);
    return 0;
}

/* Whether a call that could not be issued with code r may wait, by its
 * flags. */
bool uipc__may_wait(int r, uint32_t flags)
{
    return (r == -UIPC_ENOSLOT && (flags & UIPC_WAIT_SLOT)) ||
           (r == -UIPC_EPEERDIED && (flags & UIPC_WAIT_READY));
}

/* Queued calls past their deadline end, each with what it waited for;
 * the earliest deadline left is noted for the next look. */
static void queue_expire(struct uipc_chan *ch, uint64_t now)
{
    struct uipc_queued *e, *prev = NULL;
    uint64_t next = 0;
    for (e = ch->queued.head; e;) {
        if (e->deadline_ns && now >= e->deadline_ns) {
            e = e->next;
            struct uipc_queued *gone = queue_unlink(&ch->queued, prev);
            queue_end(ch, gone, gone->status);
        } else {
            if (e->deadline_ns && (!next || e->deadline_ns < next))
                next = e->deadline_ns;
            prev = e;
            e = e->next;
        }
    }
    ch->queued_deadline = next;
}

void uipc__chan_drain(struct uipc_chan *ch, uint64_t now)
{
    struct uipc_queued *e;
    /* Walked only once a deadline has passed (calls that left since make
     * the note early, never late): walked at every turn, a queue of
     * thousands cost more than the calls it held (test-call-wait, flood). */
    if (ch->queued_deadline && now >= ch->queued_deadline)
        queue_expire(ch, now);
    /* Then in order, while they go out; the first that must wait again
     * goes back to its place.  Each is out of the queue while its fill
     * runs: a uipc_cancel from there finds nothing to end twice. */
    while ((e = queue_pop(&ch->queued))) {
        int r = uipc__chan_issue(ch, &e->call, e->deadline_ns);
        if (r >= 0) {
            free(e);
            continue;
        }
        if (uipc__may_wait(r, e->call.flags)) {
            e->status = r;
            queue_push_front(&ch->queued, e);
            break;
        }
        queue_end(ch, e, r);
    }
}

int uipc__chan_cancel(struct uipc_chan *ch, uint64_t id)
{
    for (uint32_t i = 0; i < ch->r.slots; i++) {
        struct uipc_callrec *rec = &ch->recs[i];
        if (rec->state == CALL_INFLIGHT && !rec->sync && rec->call.id == id) {
            /* As a timeout: the slot stays held until the server answers
             * or dies (reap_one, peer_gone), the caller hears now. */
            rec->expired = true;
            complete_rec(ch, i, -ECANCELED, 0);
            return 0;
        }
    }
    struct uipc_queued *prev = NULL;
    for (struct uipc_queued *e = ch->queued.head; e; prev = e, e = e->next) {
        if (e->call.id == id) {
            queue_end(ch, queue_unlink(&ch->queued, prev), -ECANCELED);
            return 0;
        }
    }
    return -ENOENT;
}

int uipc__chan_deliver(struct uipc_chan *ch)
{
    int n = 0;
    ch->m->delivering++;
    while (ch->ready_head != ch->ready_tail) {
        uint32_t i = ch->ready[ch->ready_head++ % ch->r.slots];
        struct uipc_callrec *rec = &ch->recs[i];
        struct uipc_call call = rec->call;
        int status = rec->status;
        if (rec->expired)
            rec->state = CALL_ABANDONED;
        finish_rec(ch, i);
        /* A long run of slow callbacks is progress too (wait.c). */
        uipc__beat(ch->m);
        /* complete runs after the slot is back: it may issue the next call. */
        call.complete(status, call.arg);
        n++;
    }
    n += deliver_ended(ch);
    if (--ch->m->delivering == 0)
        uipc__flush_notifies(ch->m);
    return n;
}

void uipc__flush_notifies(uipc_module *m)
{
    for (unsigned i = 0; i < m->nchans; i++) {
        struct uipc_chan *c = &m->chans[i];
        if (c->notify_pending) {
            c->notify_pending = false;
            uipc__fifo_demote_last(&c->sub, &c->r);
            uipc__notify(c->r.side[UIPC_SERVER], c->peer_bell);
        }
    }
}

void uipc__chan_expire(struct uipc_chan *ch, uint64_t now)
{
    if (ch->async_deadlines == 0)
        return;
    for (uint32_t i = 0; i < ch->r.slots; i++) {
        struct uipc_callrec *rec = &ch->recs[i];
        if (rec->state == CALL_INFLIGHT && !rec->sync && rec->deadline_ns &&
            now >= rec->deadline_ns) {
            rec->expired = true;
            complete_rec(ch, i, -UIPC_ETIMEDOUT, 0);
        }
    }
}

uint64_t uipc__chan_next_deadline(const struct uipc_chan *ch)
{
    uint64_t next = ch->queued.head ? ch->queued_deadline : 0;
    if (ch->ended.head) /* to deliver at once */
        return 1;
    if (ch->async_deadlines == 0)
        return next;
    for (uint32_t i = 0; i < ch->r.slots; i++) {
        const struct uipc_callrec *rec = &ch->recs[i];
        if (rec->state == CALL_INFLIGHT && !rec->sync && rec->deadline_ns &&
            (next == 0 || rec->deadline_ns < next))
            next = rec->deadline_ns;
    }
    return next;
}

int uipc__chan_issue(struct uipc_chan *ch, const struct uipc_call *call, uint64_t deadline_ns)
{
    /* A server incarnation we have not seen alive gets no call before we
     * have consumed what its predecessors left in the completion FIFO:
     * left there, a dead liar's entries would fill the room the new
     * server's answers need, or read as answers to our next calls
     * (docs/slot-protocol.pml, findings 6 and 11). */
    if (ch->reap_first || atomic_load_explicit(ch->up, memory_order_relaxed) != ch->alive_seen)
        uipc__chan_reap(ch);
    if (ch->broken)
        return -UIPC_EPROTO;
    /* Down: no fill for a call that cannot go (a waiting caller would run
     * it on every try).  The checks below still decide. */
    if (atomic_load_explicit(ch->up, memory_order_relaxed) == 0)
        return -UIPC_EPEERDIED;
    if (ch->nfree == 0)
        return -UIPC_ENOSLOT;
    uint32_t i = ch->free_stack[--ch->nfree];
    struct uipc_callrec *rec = &ch->recs[i];
    struct uipc_slot_hdr *h = uipc_slot(&ch->r, i);

    size_t len = 0;
    int err = call->fill(uipc_slot_data(&ch->r, i), ch->r.slot_size, &len, call->arg);
    if (err >= 0 && len > ch->r.slot_size)
        err = -UIPC_ETOOBIG;
    if (err < 0) {
        ch->free_stack[ch->nfree++] = i;
        return err;
    }
    uint32_t gen = rec->gen + 1;
    h->opcode = call->opcode;
    h->req_len = (uint32_t)len;
    h->status = 0;
    h->rep_len = 0;
    h->deadline_ns = deadline_ns;
    /* "Is the service up?", submitted, then "is it still the same one?".
     * The second load pairs with the reclaim, which marks the service
     * down, then scans the slots (atomics.h): one of the two always sees
     * the other, so a call is never lost between them.  The first load
     * makes sure the server we send to is the one whose reclaim would have
     * seen the slot: without it, a reclaim and a restart in between (a
     * stall of ours) would let a call already answered PEER_DIED reach the
     * next server (docs/slot-protocol.pml, finding 1).  And the server
     * must be the one we last saw alive (the reap above). */
    uint32_t epoch0 = atomic_load(ch->up);
    atomic_store(&h->own, uipc_slot_word(gen, UIPC_SLOT_SUBMITTED));
    uint32_t epoch = atomic_load(ch->up);
    rec->gen = gen;
    rec->epoch = epoch;
    /* Not sent: the slot goes back unannounced.  Announced, it would wake
     * the callers waiting for the service, whose issues fail as this one
     * did and announce it in turn: two of them (a sync caller and the
     * loop with a queued call) spun for the whole of a restart. */
    if (epoch == 0 || epoch != epoch0 || epoch != ch->alive_seen) {
        slot_return(ch, i);
        return -UIPC_EPEERDIED;
    }
    if (uipc__fifo_push(&ch->sub, i, gen, epoch) < 0) {
        /* Full: the server lied about what it took.  Nothing was sent,
         * so the slot is ours again (finding 10). */
        slot_return(ch, i);
        chan_break(ch);
        return -UIPC_EPROTO;
    }
    uipc__fifo_publish_tail(&ch->sub);
    rec->state = CALL_INFLIGHT;
    rec->sync = call->complete == NULL;
    rec->expired = false;
    atomic_store_explicit(&rec->done, 0, memory_order_relaxed);
    rec->call = *call;
    rec->deadline_ns = deadline_ns;
    if (!rec->sync && rec->deadline_ns)
        ch->async_deadlines++;
    rec->t0_ns = ch->st.issued % UIPC_LAT_SAMPLE == 0 ? uipc__now_ns() : 0;
    publish(&ch->r.side[UIPC_CLIENT]->issued, ++ch->st.issued);
    if (rec->sync)
        publish(&ch->r.side[UIPC_CLIENT]->sync_waiting, ++ch->sync_waiting);
    ch->st.in_flight++;
    /* Calls issued from complete callbacks are announced once, after the
     * delivery batch (uipc__chan_deliver): one fence for many calls; but
     * a server already asleep is woken by the first of them, so that it
     * serves while we deliver the rest (as serve.c wakes us). */
    struct uipc_side *peer = ch->r.side[UIPC_SERVER];
    if (ch->m->delivering && !uipc_side_sleeps(peer))
        ch->notify_pending = true;
    else {
        uipc__fifo_demote_last(&ch->sub, &ch->r);
        uipc__notify(peer, ch->peer_bell);
    }
    return (int)i;
}

bool uipc__chan_sync_done(struct uipc_chan *ch, uint32_t i, int *status)
{
    struct uipc_callrec *rec = &ch->recs[i];
    if (rec->state == CALL_READY) {
        *status = rec->status;
        finish_rec(ch, i);
        return true;
    }
    if (rec->deadline_ns && uipc__now_ns() >= rec->deadline_ns) {
        rec->state = CALL_ABANDONED; /* the slot waits for its late completion */
        count_completion(ch, rec, -UIPC_ETIMEDOUT);
        *status = -UIPC_ETIMEDOUT;
        return true;
    }
    return false;
}

int uipc_chan_stats(uipc_chan *ch, struct uipc_chan_stats *out)
{
    if (!ch || !out)
        return -EINVAL;
    pthread_mutex_lock(&ch->m->lock);
    *out = ch->st;
    out->free_slots = ch->nfree;
    pthread_mutex_unlock(&ch->m->lock);
    return 0;
}
