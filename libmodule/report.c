/* SPDX-License-Identifier: MIT */
/* What a module tells the supervisor about its channels, in its control
 * region (which no peer maps): a peer that broke the protocol, an end it
 * stopped because it was asked to, and whether the channel has been reset
 * since.  A leaf: the client and server ends report, the loop asks. */
#include "internal.h"

void uipc__report_halt(uipc_module *m, unsigned index)
{
    if (m->ctl.base && index < UIPC_LAT_BUCKETS)
        atomic_fetch_add(&m->ctl.side[UIPC_CLIENT]->chan_violations[index], 1);
}

void uipc__report_violation(uipc_module *m, struct uipc_side *mine, unsigned index)
{
    atomic_fetch_add(&mine->violations, 1);
    uipc__report_halt(m, index);
}

bool uipc__violation_cleared(uipc_module *m, unsigned index, const _Atomic uint32_t *reset)
{
    /* The supervisor clears the request, then (release) the report: a
     * report seen cleared means the request was cleared before it. */
    return m->ctl.base && index < UIPC_LAT_BUCKETS &&
           uipc_load_acquire(&m->ctl.side[UIPC_CLIENT]->chan_violations[index]) == 0 &&
           !uipc__reset_asked(reset);
}
