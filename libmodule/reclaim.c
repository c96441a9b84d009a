/* SPDX-License-Identifier: MIT */
/* Reclaiming a dead side's share of a channel. */
#include <stdlib.h>

#include "fifo.h"
#include "internal.h"
#include "reclaim.h"

static void side_down(struct uipc_side *s)
{
    /* seq_cst, paired with the client's submit (chan.c): after this store,
     * either the client sees the service down, or we see its slot below. */
    atomic_store(&s->epoch, 0);
    /* The dead process's "asleep" announcements died with it. */
    atomic_store(&s->armed, 0);
    atomic_store(&s->bell, 0);
}

/* Consumes what the dead server left in the submit FIFO: those calls are
 * answered by the scan below.  Left there, they would take room that the
 * FIFO's size does not account for, and a server that dies again and again
 * before catching up would let them pile up until the FIFO overflowed.
 * The dead server's head is checked against the client's tail first: an
 * honest head is at most a lap behind it, or one ahead (an entry taken
 * before the client published its tail).  Anything else is a lie left
 * behind, which would fail the client's next full check or hide its next
 * calls from the next server: the drain then starts at the tail.  Head
 * never moves back, since the client may have cached it. */
static void drain_submits(struct uipc_region *r)
{
    struct uipc_fifo f;
    uint32_t slot, gen, tag;
    uipc__fifo_attach_consumer(&f, r->fifo[UIPC_SUBMIT], r->fifo_size);
    uint32_t tail = uipc_load_acquire(&r->fifo[UIPC_SUBMIT]->tail);
    if (tail - f.pos > r->fifo_size && f.pos - tail > 1)
        f.pos = tail;
    for (uint32_t i = 0; i < r->fifo_size; i++)
        if (uipc__fifo_pop(&f, &slot, &gen, &tag) <= 0)
            break;
    uipc__fifo_publish_head(&f);
}

void uipc__ctl_news(struct uipc_side *ctl, int ring)
{
    atomic_fetch_add(&ctl->ctl, UIPC_CTL_NEWS);
    uipc__notify(ctl, ring);
}

void uipc__words_started(struct uipc_ctl_chan *srv, struct uipc_ctl_chan *cli, uint32_t epoch,
                         bool take_calls)
{
    atomic_store(&srv->epoch, epoch);
    /* `alive` before `up`: a call the client sends to this epoch is never
     * one its backstop takes for a call to a dead incarnation. */
    atomic_store(&cli->alive, epoch);
    atomic_store(&cli->epoch, take_calls ? epoch : 0);
}

/* The server's slot words after its death: a call it took and never
 * answered (SERVING) or never took (SUBMITTED) will not be written by
 * anyone again (the next incarnation drops entries of another epoch), so
 * the word is FREE now.  Left as it is, our client's next incarnation
 * would keep the slot waiting for the next incarnation, which never saw
 * the call (finding 9c: a dying liar may also write them).  DONE words
 * stay: an answer pushed before the death is read from them.  A client
 * storing SUBMITTED meanwhile sees the service down (uipc__chan_issue)
 * and frees the slot itself; the exchange leaves its word alone.  Returns
 * how many. */
static int free_held(struct uipc_region *r)
{
    int n = 0;
    for (uint32_t i = 0; i < r->slots; i++) {
        _Atomic uint64_t *own = &uipc_slot(r, i)->own;
        uint64_t w = atomic_load(own);
        uint32_t st = uipc_slot_word_state(w);
        if (st != UIPC_SLOT_SUBMITTED && st != UIPC_SLOT_SERVING)
            continue;
        if (atomic_compare_exchange_strong(own, &w, uipc_slot_word(uipc_slot_word_gen(w), UIPC_SLOT_FREE)))
            n++;
    }
    return n;
}

int uipc__reclaim_server(struct uipc_region *r, struct uipc_ctl_chan *cli, struct uipc_side *cli_ctl,
                         int client_bell)
{
    /* seq_cst, paired with the client's submit (chan.c: uipc__chan_issue
     * loads the same word): after this store, either the client sees the
     * service down, or we see its slot below. */
    atomic_store(&cli->epoch, 0);
    side_down(r->side[UIPC_SERVER]);
    drain_submits(r);
    int n = free_held(r);
    /* The client answers whatever it sent to that incarnation itself
     * (chan.c, peer_gone): `alive` still holds the dead epoch, and its
     * dead mark makes a new value at every death, so a client that saw
     * the last one sees this one (docs/slot-protocol.pml, finding 8).
     * Nothing goes into the completion FIFO: an answer only a server
     * writes there is never taken for news of a death (finding 6). */
    atomic_store_explicit(&cli->alive, atomic_load(&cli->alive) | UIPC_EPOCH_DEAD,
                          memory_order_release);
    uipc__ctl_news(cli_ctl, client_bell);
    return n;
}

/* A client that died between marking a slot SUBMITTED and pushing its
 * entry left a slot no server will ever answer: its next incarnation would
 * quarantine it forever.  Those slots are freed here.  A slot is
 * "pushed" if its entry is still in the FIFO (from the server's published
 * head to the last stamped entry); one the server took is past head, and
 * then its SERVING mark is visible: the server stores it before it
 * publishes head (serve.c), and we read head first, with acquire. */
static void free_unsent(struct uipc_region *r)
{
    struct uipc_fifo_shared *f = r->fifo[UIPC_SUBMIT];
    uint32_t mask = r->fifo_size - 1, head = uipc_load_acquire(&f->head);
    unsigned char *sent = calloc(r->slots, 1);
    if (!sent)
        return; /* then they stay quarantined: a leak, never a corruption */
    for (uint32_t pos = head, n = 0; n < r->fifo_size; pos++, n++) {
        struct uipc_fifo_entry *e = &f->ent[pos & mask];
        if (uipc_load_acquire(&e->seq) != pos + 1)
            break;
        /* Only an entry of the slot's current generation means that call
         * was sent: an older one is a stale entry, and taking it for the
         * new call would keep the slot quarantined for good
         * (docs/slot-protocol.pml, finding 4).  The server, the word's
         * only other writer now, keeps its generation. */
        uint32_t slot = e->slot, gen = e->gen;
        if (slot < r->slots && gen == uipc_slot_word_gen(atomic_load(&uipc_slot(r, slot)->own)))
            sent[slot] = 1;
    }
    for (uint32_t i = 0; i < r->slots; i++) {
        uint64_t w = atomic_load(&uipc_slot(r, i)->own);
        if (uipc_slot_word_state(w) == UIPC_SLOT_SUBMITTED && !sent[i])
            atomic_store(&uipc_slot(r, i)->own, uipc_slot_word(uipc_slot_word_gen(w), UIPC_SLOT_FREE));
    }
    free(sent);
}

void uipc__reclaim_client(struct uipc_region *r)
{
    side_down(r->side[UIPC_CLIENT]);
    free_unsent(r);
}

static void fifo_reset(struct uipc_fifo_shared *f, uint32_t size)
{
    for (uint32_t k = 0; k < size; k++)
        atomic_store_explicit(&f->ent[k].seq, 0, memory_order_relaxed);
    atomic_store_explicit(&f->head, 0, memory_order_relaxed);
    atomic_store_explicit(&f->tail, 0, memory_order_relaxed);
}

void uipc__reclaim_reset(struct uipc_region *r)
{
    fifo_reset(r->fifo[UIPC_SUBMIT], r->fifo_size);
    fifo_reset(r->fifo[UIPC_COMPLETE], r->fifo_size);
    for (uint32_t i = 0; i < r->slots; i++) {
        struct uipc_slot_hdr *h = uipc_slot(r, i);
        uint64_t w = atomic_load_explicit(&h->own, memory_order_relaxed);
        atomic_store_explicit(&h->own, uipc_slot_word(uipc_slot_word_gen(w), UIPC_SLOT_FREE),
                              memory_order_relaxed);
    }
    /* Everything above before the report is cleared (a release there). */
    atomic_thread_fence(memory_order_seq_cst);
}

void uipc__region_set_epoch(struct uipc_region *r, enum uipc_role role, uint32_t epoch)
{
    atomic_store(&r->side[role]->epoch, epoch);
}
