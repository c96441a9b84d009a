/* SPDX-License-Identifier: MIT */
/* What the supervisor (or a test bed) does to a channel once one side has
 * died and been reaped.  Never call these while that side may still run. */
#ifndef UIPC_RECLAIM_H
#define UIPC_RECLAIM_H

#include "region.h"

/* The server is dead: marks the service down (new calls fail fast with
 * -UIPC_EPEERDIED; up: the client's word for it in its control region,
 * NULL without one) and completes every call in flight to it with
 * -UIPC_EPEERDIED through the client's completion FIFO, waking the client.
 * A call that the server had already answered may get both; the client
 * keeps the first and drops the other by generation.  Returns the number of
 * slots reclaimed, or -UIPC_EPROTO if the completion FIFO is corrupted. */
int uipc__reclaim_server(struct uipc_region *r, _Atomic uint32_t *up, int client_bell);
/* The client is dead: marks its side down, and frees the slots it marked
 * submitted but never sent.  Its calls still being served are quarantined
 * by its next incarnation until the server answers them. */
void uipc__reclaim_client(struct uipc_region *r);
/* After a reported protocol violation, once both ends have stopped using
 * the channel (or are dead and reclaimed): both FIFOs emptied back to
 * position 0 and every slot word FREE, whatever either end wrote.  Each
 * end starts over from there once the supervisor clears its request and
 * report (module.c); a dead end's next incarnation attaches at 0 too. */
void uipc__reclaim_reset(struct uipc_region *r);
/* Attaches a new incarnation to one side (epoch != 0), after any reclaim. */
void uipc__region_set_epoch(struct uipc_region *r, enum uipc_role role, uint32_t epoch);

#endif
