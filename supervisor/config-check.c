/* SPDX-License-Identifier: MIT */
/* modules.conf as a whole, once every key is read: each module against
 * the others (services, after, channels) and the defaults a module gets
 * for what it does not set.  Touches nothing but struct conf. */
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "config-parse.h"

#define UIPC_CHANNELS_PER_MODULE 126 /* libmodule's futex_waitv bound */

/* A limit the module does not set: [supervisor] rlimits, else ours.  No
 * address-space limit under ASan or TSan, whose shadow memory reserves
 * terabytes. */
static uint64_t default_rlimit(const struct parse *p, enum conf_rlimit r)
{
    static const uint64_t ours[RL_COUNT] = {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        [RL_MEMORY] = CONF_RLIM_UNSET,
#else
        [RL_MEMORY] = 4ull << 30,
#endif
        [RL_NOFILE] = 4096, [RL_NPROC] = 512, [RL_CPU] = CONF_RLIM_UNSET, [RL_CORE] = 0,
    };
    return p->rl_default[r] != CONF_RLIM_UNSET ? p->rl_default[r] : ours[r];
}

/* The safe defaults of a [module] without sandbox keys (modules.conf(5)):
 * its own mount, ipc and uts namespaces (a read-only view of the host, a
 * private /tmp) and the default limits.  (A uid of its own comes from
 * config-os.c: conf__dynamic_uid.)  Always true. */
bool conf__sandbox_defaults(struct parse *p, unsigned i)
{
    struct conf_module *m = &p->c->mod[i];
    for (int r = 0; r < RL_COUNT; r++)
        if (m->rlimit[r] == CONF_RLIM_UNSET) {
            m->rlimit[r] = default_rlimit(p, (enum conf_rlimit)r);
            m->rlimit_default |= 1u << r;
        }
    if (!(m->seen & (1u << K_NAMESPACES))) {
        m->namespaces = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
        m->default_namespaces = true;
    }
    return true;
}

bool conf__check_sandbox(struct parse *p, unsigned i)
{
    const struct conf_module *m = &p->c->mod[i];
    if (m->has_user && !m->has_group && m->gid == (gid_t)-1)
        return conf__fail(p, p->key_line[i][K_USER], "user %u has no passwd entry: set group too",
                          (unsigned)m->uid);
    if ((m->namespaces & CLONE_NEWPID) && !(m->namespaces & CLONE_NEWNS))
        return conf__fail(p, p->key_line[i][K_NAMESPACES],
                          "namespaces: pid needs mount too (the module gets its own /proc)");
    return true;
}

bool conf__check_services(struct parse *p, unsigned i)
{
    const struct conf *c = p->c;
    const struct conf_module *m = &c->mod[i];
    for (unsigned j = 0; j < m->nprovides; j++) {
        int other = conf_provider(c, m->provides[j]);
        if (other != (int)i)
            return conf__fail(p, p->key_line[i][K_PROVIDES], "service '%s' is provided by both %s (line %d) and %s",
                              m->provides[j], c->mod[other].name, p->key_line[other][K_PROVIDES], m->name);
    }
    for (unsigned j = 0; j < m->nconnects; j++) {
        int prov = conf_provider(c, m->connects[j].service);
        if (prov < 0)
            return conf__fail(p, p->key_line[i][K_CONNECTS], "no module provides service '%s'",
                              m->connects[j].service);
        if (prov == (int)i)
            return conf__fail(p, p->key_line[i][K_CONNECTS], "module %s connects to its own service '%s'",
                              m->name, m->connects[j].service);
    }
    return true;
}

/* Channels the module will hold: one per service it calls, one per
 * (client, service) pair it serves. */
static bool check_channel_count(struct parse *p, unsigned i)
{
    const struct conf *c = p->c;
    unsigned n = c->mod[i].nconnects;
    for (unsigned k = 0; k < c->nmod; k++)
        for (unsigned j = 0; j < c->mod[k].nconnects; j++)
            n += conf_provider(c, c->mod[k].connects[j].service) == (int)i;
    if (n > UIPC_CHANNELS_PER_MODULE)
        return conf__fail(p, c->mod[i].line, "module %s would hold %u channels; at most %d",
                          c->mod[i].name, n, UIPC_CHANNELS_PER_MODULE);
    return true;
}

bool conf__check_channel_counts(struct parse *p)
{
    for (unsigned i = 0; i < p->c->nmod; i++)
        if (!check_channel_count(p, i))
            return false;
    return true;
}

bool conf__check_after_names(struct parse *p, unsigned i)
{
    const struct conf_module *m = &p->c->mod[i];
    for (unsigned j = 0; j < m->nafter; j++) {
        int k = conf_module_index(p->c, m->after[j]);
        if (k < 0)
            return conf__fail(p, p->key_line[i][K_AFTER], "after: no module named '%s'", m->after[j]);
        if (k == (int)i)
            return conf__fail(p, p->key_line[i][K_AFTER], "after: module %s cannot start after itself", m->name);
    }
    return true;
}

/* Depth-first search; colour 1: on the current path, 2: done. */
static int after_cycle_from(const struct conf *c, unsigned i, unsigned char *colour)
{
    colour[i] = 1;
    for (unsigned j = 0; j < c->mod[i].nafter; j++) {
        unsigned k = (unsigned)conf_module_index(c, c->mod[i].after[j]);
        if (colour[k] == 1)
            return (int)k;
        if (colour[k] == 0) {
            int r = after_cycle_from(c, k, colour);
            if (r >= 0)
                return r;
        }
    }
    colour[i] = 2;
    return -1;
}

bool conf__check_after_cycles(struct parse *p)
{
    unsigned char colour[CONF_MAX_MODULES] = { 0 };
    for (unsigned i = 0; i < p->c->nmod; i++) {
        if (colour[i])
            continue;
        int k = after_cycle_from(p->c, i, colour);
        if (k >= 0)
            return conf__fail(p, p->key_line[k][K_AFTER], "'after' forms a cycle through module %s",
                              p->c->mod[k].name);
    }
    return true;
}

bool conf__check_timeouts(struct parse *p)
{
    struct conf *c = p->c;
    if (c->hang_timeout_ms <= c->heartbeat_interval_ms)
        return conf__fail(p, c->key_line[K_HANG] ? c->key_line[K_HANG] : c->key_line[K_HEARTBEAT],
                          "hang_timeout_ms (%u) must be longer than heartbeat_interval_ms (%u)",
                          c->hang_timeout_ms, c->heartbeat_interval_ms);
    for (unsigned i = 0; i < c->nmod; i++) {
        const int *line = p->key_line[i];
        if (c->mod[i].backoff_max_ms < c->mod[i].backoff_ms)
            return conf__fail(p, line[K_BACKOFF_MAX] ? line[K_BACKOFF_MAX] : line[K_BACKOFF],
                              "backoff_max_ms (%u) is less than backoff_ms (%u)",
                              c->mod[i].backoff_max_ms, c->mod[i].backoff_ms);
    }
    for (unsigned i = 0; i < c->nmod; i++)
        if (c->mod[i].hang_timeout_ms && c->mod[i].hang_timeout_ms <= c->heartbeat_interval_ms)
            return conf__fail(p, p->key_line[i][K_MOD_HANG],
                              "hang_timeout_ms (%u) must be longer than heartbeat_interval_ms (%u)",
                              c->mod[i].hang_timeout_ms, c->heartbeat_interval_ms);
    return true;
}

