/* SPDX-License-Identifier: MIT */
/* The reload's plan (reload-plan.h).  A channel is its client, service,
 * server and geometry; a module keeps running only if none of its own
 * settings (conf_module_same) and none of its channels changed. */
#include <stdio.h>
#include <string.h>

#include "reload-plan.h"
#include "region.h"

static uint32_t or_default(uint32_t v, uint32_t dflt)
{
    return v ? v : dflt;
}

bool rl_has_channel(const struct conf *c, const char *client, const char *service, const char *server,
                    uint32_t slots, uint32_t slot_size)
{
    int i = conf_module_index(c, client), srv = conf_provider(c, service);
    if (i < 0 || srv < 0 || strcmp(c->mod[srv].name, server) != 0)
        return false;
    for (unsigned k = 0; k < c->mod[i].nconnects; k++) {
        const struct conf_connect *cn = &c->mod[i].connects[k];
        if (strcmp(cn->service, service) == 0 &&
            or_default(cn->slots, UIPC_DEFAULT_SLOTS) == or_default(slots, UIPC_DEFAULT_SLOTS) &&
            or_default(cn->slot_size, UIPC_DEFAULT_SLOT_SIZE) == or_default(slot_size, UIPC_DEFAULT_SLOT_SIZE))
            return true;
    }
    return false;
}

/* Every channel of a's with module `name` at an end is also b's. */
static bool channels_within(const struct conf *a, const struct conf *b, const char *name)
{
    for (unsigned i = 0; i < a->nmod; i++) {
        for (unsigned k = 0; k < a->mod[i].nconnects; k++) {
            const struct conf_connect *cn = &a->mod[i].connects[k];
            const char *server = a->mod[conf_provider(a, cn->service)].name;
            if (strcmp(a->mod[i].name, name) != 0 && strcmp(server, name) != 0)
                continue;
            if (!rl_has_channel(b, a->mod[i].name, cn->service, server, cn->slots, cn->slot_size))
                return false;
        }
    }
    return true;
}

void rl_plan(const struct conf *old, const struct conf *new, struct rl_plan *p)
{
    memset(p, 0, sizeof(*p));
    for (unsigned j = 0; j < new->nmod; j++)
        p->new_kind[j] = RL_ADD;
    for (unsigned i = 0; i < old->nmod; i++) {
        const char *name = old->mod[i].name;
        int j = conf_module_index(new, name);
        enum rl_kind k = RL_REMOVE;
        if (j >= 0 && !(channels_within(old, new, name) && channels_within(new, old, name)))
            k = RL_REWIRE;
        else if (j >= 0)
            k = conf_module_same(&old->mod[i], &new->mod[j]) ? RL_KEEP : RL_RESTART;
        p->old_kind[i] = k;
        p->new_of_old[i] = j;
        if (j >= 0)
            p->new_kind[j] = k;
    }
    for (unsigned i = 0; i < old->nmod; i++)
        p->count[p->old_kind[i]]++;
    for (unsigned j = 0; j < new->nmod; j++)
        p->count[RL_ADD] += p->new_kind[j] == RL_ADD;
}

/* "+c->svc 8x64" for each of module's channels in a and not in b. */
static size_t channel_changes(const struct conf *a, const struct conf *b, const char *name, char sign,
                              char *buf, size_t len)
{
    size_t n = 0;
    for (unsigned i = 0; i < a->nmod; i++) {
        for (unsigned k = 0; k < a->mod[i].nconnects; k++) {
            const struct conf_connect *cn = &a->mod[i].connects[k];
            const char *server = a->mod[conf_provider(a, cn->service)].name;
            if ((strcmp(a->mod[i].name, name) != 0 && strcmp(server, name) != 0) ||
                rl_has_channel(b, a->mod[i].name, cn->service, server, cn->slots, cn->slot_size))
                continue;
            int w = snprintf(buf + n, len > n ? len - n : 0, "%s%c%s->%s:%s:%ux%u", n ? " " : "", sign,
                             a->mod[i].name, server, cn->service, or_default(cn->slots, UIPC_DEFAULT_SLOTS),
                             or_default(cn->slot_size, UIPC_DEFAULT_SLOT_SIZE));
            n += w > 0 ? (size_t)w : 0;
        }
    }
    return n;
}

void rl_describe(const struct conf *old, const struct conf *new, const struct rl_plan *p, enum rl_kind kind,
                 unsigned idx, char *buf, size_t len)
{
    char gone[512] = "", added[512] = "";
    const char *name = kind == RL_ADD ? new->mod[idx].name : old->mod[idx].name;
    (void)p;
    switch (kind) {
    case RL_KEEP: snprintf(buf, len, "%s", ""); break;
    case RL_ADD: snprintf(buf, len, "%s: added: starts in 'after' order", name); break;
    case RL_REMOVE: snprintf(buf, len, "%s: removed: stops, in reverse start order", name); break;
    case RL_RESTART: snprintf(buf, len, "%s: its settings changed: restarts once with them", name); break;
    case RL_REWIRE:
        channel_changes(old, new, name, '-', gone, sizeof(gone));
        channel_changes(new, old, name, '+', added, sizeof(added));
        snprintf(buf, len, "%s: its channels changed (%s%s%s): stops with their other ends, starts again", name,
                 gone, gone[0] && added[0] ? " " : "", added);
        break;
    case RL_KINDS: break;
    }
}
