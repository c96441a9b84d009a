/* SPDX-License-Identifier: MIT */
/* Lock-free single-producer/single-consumer FIFO of slot locations.
 * Free-running 32-bit positions; entries stamped with position + 1. */
#ifndef UIPC_FIFO_H
#define UIPC_FIFO_H

#include <errno.h>
#include <stdbool.h>

#include "region.h"
#include "uipc/module.h"

/* One end of a FIFO, private to the process that holds it. */
struct uipc_fifo {
    struct uipc_fifo_shared *sh;
    uint32_t mask;
    uint32_t pos;    /* producer: next position to write; consumer: next to read */
    uint32_t cached; /* producer: last head seen */
    uint32_t last_slot; /* producer: the slot of the last entry pushed */
};

/* Producer end: starts at the consumer's published head and skips the
 * entries stamped for this lap, so a successor (a restarted server, or the
 * reclaim) never overwrites a completion its predecessor stamped, and never
 * trusts the predecessor's `tail`, which a hostile one could set anywhere. */
void uipc__fifo_attach_producer(struct uipc_fifo *f, struct uipc_fifo_shared *sh, uint32_t size);
void uipc__fifo_attach_consumer(struct uipc_fifo *f, struct uipc_fifo_shared *sh, uint32_t size);

/* Writes one entry.  -UIPC_EPROTO when the consumer's head is impossible
 * (behind by more than the FIFO, or ahead of us) or the FIFO is full, which
 * a consumer that follows the protocol can never cause. */
static inline int uipc__fifo_push(struct uipc_fifo *f, uint32_t slot, uint32_t gen, uint32_t tag)
{
    if (f->pos - f->cached > f->mask) {
        uint32_t head = uipc_load_acquire(&f->sh->head);
        if (f->pos - head > f->mask)
            return -UIPC_EPROTO;
        f->cached = head;
    }
    struct uipc_fifo_entry *e = &f->sh->ent[f->pos & f->mask];
    e->slot = slot;
    e->gen = gen;
    e->tag = tag;
    uipc_store_release(&e->seq, f->pos + 1);
    f->pos++;
    f->last_slot = slot;
    return 0;
}

/* Once per batch, as the consumer is told: the last entry's line and the
 * first two lines of its slot go to the shared cache (atomics.h,
 * uipc_cldemote), where the consumer, waiting for that very call when it
 * is a synchronous one, reads them soonest.  Not per entry: four share a
 * line, and the next push would fetch it back; and not per slot of a
 * pipelined batch: writing each back to the shared cache cost more than
 * it saved (uipc-bench: 0.45x raw-ring's calls/s against 0.75x). */
static inline void uipc__fifo_demote_last(const struct uipc_fifo *f, const struct uipc_region *r)
{
    uipc_cldemote(&f->sh->ent[(f->pos - 1) & f->mask]);
    /* Bounded: hostile.c pushes a slot past the region on purpose. */
    if (f->last_slot < r->slots) {
        const char *h = (const char *)uipc_slot(r, f->last_slot);
        uipc_cldemote(h);
        uipc_cldemote(h + 64);
    }
}

/* Publishes the producer position for observers (hang detection). */
static inline void uipc__fifo_publish_tail(struct uipc_fifo *f)
{
    uipc_store_release(&f->sh->tail, f->pos);
}

/* 1: an entry is waiting; 0: empty; -UIPC_EPROTO: the entry's stamp is
 * neither the one expected nor a previous lap's (corrupted). */
static inline int uipc__fifo_peek(const struct uipc_fifo *f)
{
    uint32_t seq = uipc_load_acquire(&f->sh->ent[f->pos & f->mask].seq);
    if (seq == f->pos + 1)
        return 1;
    if (seq == f->pos + 1 - (f->mask + 1) || seq == 0)
        return 0;
    return -UIPC_EPROTO;
}

/* Copies the next entry out once (the peer may rewrite it any time) and
 * advances.  Returns as uipc__fifo_peek. */
static inline int uipc__fifo_pop(struct uipc_fifo *f, uint32_t *slot, uint32_t *gen, uint32_t *tag)
{
    int r = uipc__fifo_peek(f);
    if (r <= 0)
        return r;
    struct uipc_fifo_entry *e = &f->sh->ent[f->pos & f->mask];
    *slot = e->slot;
    *gen = e->gen;
    *tag = e->tag;
    f->pos++;
    return 1;
}

/* The slot the next entry names, if it is stamped already: a hint for
 * prefetching only, never trusted (the caller bounds it, and reads the
 * entry again when it pops it). */
static inline bool uipc__fifo_next_slot(const struct uipc_fifo *f, uint32_t *slot)
{
    const struct uipc_fifo_entry *e = &f->sh->ent[f->pos & f->mask];
    if (uipc_load_acquire(&e->seq) != f->pos + 1)
        return false;
    *slot = e->slot;
    return true;
}

/* Publishes the consumer position, once per batch. */
static inline void uipc__fifo_publish_head(struct uipc_fifo *f)
{
    uipc_store_release(&f->sh->head, f->pos);
}

#endif
