/* SPDX-License-Identifier: MIT */
/* Attaching to a FIFO end; the hot operations are inline in fifo.h. */
#include "fifo.h"

void uipc__fifo_attach_producer(struct uipc_fifo *f, struct uipc_fifo_shared *sh, uint32_t size)
{
    f->sh = sh;
    f->mask = size - 1;
    f->pos = uipc_load_acquire(&sh->tail);
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
