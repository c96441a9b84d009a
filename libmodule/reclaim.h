/* SPDX-License-Identifier: MIT */
/* What the supervisor (or a test bed) does to a channel once one side has
 * died and been reaped (never while that side may still run), and the
 * words it keeps about the channel in the ends' control regions. */
#ifndef UIPC_RECLAIM_H
#define UIPC_RECLAIM_H

#include <stdbool.h>

#include "region.h"

/* The server is dead: marks the service down in the client's words (cli,
 * in its control region: `epoch` := 0, so new calls fail fast with
 * -UIPC_EPEERDIED), consumes what it left in the submit FIFO, frees the
 * slot words of calls it held, and last gives `alive` the dead mark
 * (UIPC_EPOCH_DEAD) and the client the news (cli_ctl, client_bell): the
 * client answers every call it sent to that incarnation and still waits
 * for -UIPC_EPEERDIED itself, from its own table.  Answers the server
 * pushed before dying are still delivered first.  Returns how many calls
 * the server held (informative: the dead server wrote those words). */
int uipc__reclaim_server(struct uipc_region *r, struct uipc_ctl_chan *cli, struct uipc_side *cli_ctl,
                         int client_bell);
/* A server incarnation with this epoch starts: its own epoch word, then
 * its client's `alive`, then the client's `epoch` (0 while draining:
 * take_calls false).  The supervisor's and the test bed's one order. */
void uipc__words_started(struct uipc_ctl_chan *srv, struct uipc_ctl_chan *cli, uint32_t epoch,
                         bool take_calls);
/* The supervisor changed its words about one of a module's channels: news
 * in its control word (every wait watches it), then the wake-up. */
void uipc__ctl_news(struct uipc_side *ctl, int ring);
/* The client is dead: marks its side down, and frees the slots it marked
 * submitted but never sent.  Its calls still being served are quarantined
 * by its next incarnation until the server answers them or dies. */
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
