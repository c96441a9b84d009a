/* SPDX-License-Identifier: MIT */
/* Attaching to a FIFO end; the hot operations are inline in fifo.h. */
#include "fifo.h"

void uipc__fifo_attach_producer(struct uipc_fifo *f, struct uipc_fifo_shared *sh, uint32_t size)
{
    f->sh = sh;
    f->mask = size - 1;
    /* From the consumer's head, not the predecessor's tail: the consumer
     * is the side that still lives and needs the entries, while a dead
     * (perhaps hostile) producer could have left its tail anywhere (a tail
     * far ahead made the reclaim push where the client never looks, and
     * the next server fail its own full check).  From head, skipping what
     * is stamped for this lap lands where an honest predecessor stopped. */
    f->pos = uipc_load_acquire(&sh->head);
    /* Bounded: a hostile stamp pattern cannot keep us here forever. */
    for (uint32_t i = 0; i < size; i++) {
        if (uipc_load_acquire(&sh->ent[f->pos & f->mask].seq) != f->pos + 1)
            break;
        f->pos++;
    }
    f->cached = uipc_load_acquire(&sh->head);
}

void uipc__fifo_attach_consumer(struct uipc_fifo *f, struct uipc_fifo_shared *sh, uint32_t size)
{
    f->sh = sh;
    f->mask = size - 1;
    f->pos = uipc_load_acquire(&sh->head);
    f->cached = 0;
}
