/* SPDX-License-Identifier: MIT */
/* uipc_call: a call from its issue to its answer.  A sync caller waits
 * here, turning the module's loop meanwhile (uipc__progress) so that call
 * cycles (A calls B, which calls A) finish; the client end (chan.c) only
 * issues, reaps and delivers, and never calls up into the loop. */
#include <errno.h>

#include "internal.h"

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
        uipc__waitset_build(m, &ws);
        pthread_mutex_unlock(&m->lock);
        uipc__wait(m, &ws, ch->recs[i].deadline_ns, true);
        pthread_mutex_lock(&m->lock);
    }
}

int uipc_call(uipc_chan *ch, const struct uipc_call *call)
{
    if (!ch || !call || !call->fill)
        return -EINVAL;
    uipc_module *m = ch->m;
    pthread_mutex_lock(&m->lock);
    int r = uipc__chan_issue(ch, call);
    if (r >= 0)
        r = call->complete ? 0 : sync_wait(ch, (uint32_t)r);
    pthread_mutex_unlock(&m->lock);
    return r;
}
