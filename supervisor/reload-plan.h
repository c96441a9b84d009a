/* SPDX-License-Identifier: MIT */
/* What a reload changes: the running config against the one just read,
 * module by module.  Pure (two parsed configs in, a plan out); sv-reload.c
 * carries it out. */
#ifndef UIPC_SV_RELOAD_PLAN_H
#define UIPC_SV_RELOAD_PLAN_H

#include <stddef.h>

#include "config-diff.h"
#include "config.h"

enum rl_kind {
    RL_KEEP,    /* nothing of its own and none of its channels changed: left running */
    RL_RESTART, /* its own settings changed: restarted once, with them */
    RL_REWIRE,  /* one of its channels is new, gone or of another geometry:
                 * stopped with the channel's other end, the channels
                 * swapped, started again */
    RL_REMOVE,  /* not in the new config: stopped, then forgotten */
    RL_ADD,     /* only in the new config: started in 'after' order */
    RL_KINDS
};

struct rl_plan {
    enum rl_kind old_kind[CONF_MAX_MODULES]; /* by index in the old config */
    int new_of_old[CONF_MAX_MODULES];        /* its index in the new one, or -1 */
    enum rl_kind new_kind[CONF_MAX_MODULES]; /* by index in the new config */
    unsigned count[RL_KINDS];
};

void rl_plan(const struct conf *old, const struct conf *new, struct rl_plan *p);
/* Whether the channel from client (by name) to service, served by server,
 * of this geometry (0: the default), is in c. */
bool rl_has_channel(const struct conf *c, const char *client, const char *service, const char *server,
                    uint32_t slots, uint32_t slot_size);
/* One line for a module of the plan (new index for RL_ADD, else old), as
 * logged and as `uipcctl reload` prints it; "" for RL_KEEP. */
void rl_describe(const struct conf *old, const struct conf *new, const struct rl_plan *p, enum rl_kind kind,
                 unsigned idx, char *buf, size_t len);

#endif
