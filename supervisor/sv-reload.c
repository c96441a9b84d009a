/* SPDX-License-Identifier: MIT */
/* Live reload (`uipcctl reload`, SIGHUP): the config file read again and
 * applied as a difference (reload-plan.c).  A module whose settings and
 * channels are unchanged keeps its process and loses no call.  One whose
 * own settings changed restarts once.  One whose channels change can only
 * get them with a new process: it stops together with the other ends of
 * those channels (and the modules removed), one at a time in reverse start
 * order; once none of them runs, the channels are swapped and they start
 * again, with the modules added, in 'after' order.  No process ever sees a
 * channel list other than the one it was started with. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reload-plan.h"
#include "sv-internal.h"

#define LINE_MAX_LEN 1024

void sv_reload_free_lines(char **lines, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(lines[k]);
    free(lines);
}

/* ---- what changes ---- */

static int add_line(char ***lines, size_t *n, const char *text)
{
    char **more = realloc(*lines, (*n + 1) * sizeof(char *));
    if (!more)
        return -ENOMEM;
    *lines = more;
    if (!(more[*n] = strdup(text)))
        return -ENOMEM;
    (*n)++;
    return 0;
}

static int describe(const struct conf *old, const struct conf *new, const struct rl_plan *p, const char *sv_changes,
                    char ***lines, size_t *n)
{
    char line[LINE_MAX_LEN];
    int err = 0;
    if (sv_changes[0]) {
        snprintf(line, sizeof(line), "[supervisor]: %s", sv_changes);
        err = add_line(lines, n, line);
    }
    for (unsigned i = 0; i < old->nmod && !err; i++) {
        rl_describe(old, new, p, p->old_kind[i], i, line, sizeof(line));
        if (line[0])
            err = add_line(lines, n, line);
    }
    for (unsigned j = 0; j < new->nmod && !err; j++) {
        if (p->new_kind[j] != RL_ADD)
            continue;
        rl_describe(old, new, p, RL_ADD, j, line, sizeof(line));
        err = add_line(lines, n, line);
    }
    if (!err && !*n)
        err = add_line(lines, n, "nothing changed");
    return err;
}

/* ---- applying ---- */

/* Whether a config is still needed: a slot's settings, or the policy a
 * running process was started with, are in it. */
static bool conf_in_use(const struct sv *s, const struct conf *c)
{
    for (unsigned i = 0; i < s->nmod; i++) {
        const struct sv_mod *m = &s->mod[i];
        for (unsigned k = 0; m->cf && k < c->nmod; k++)
            if (m->cf == &c->mod[k] || (m->ch.pid > 0 && m->run_pol && m->run_pol == c->mod[k].pol))
                return true;
    }
    return false;
}

static void sweep_old_confs(struct sv *s)
{
    struct sv_reload *r = &s->reload;
    for (unsigned k = 0; k < r->nold;) {
        if (conf_in_use(s, r->old[k])) {
            k++;
            continue;
        }
        conf_free(r->old[k]);
        r->old[k] = r->old[--r->nold];
    }
}

/* The modules' slots take their new settings; what must stop is asked
 * to, or joins the swap. */
static void take_new_settings(struct sv *s, const struct conf *old, struct conf *new, const struct rl_plan *p)
{
    struct sv_reload *r = &s->reload;
    for (unsigned i = 0; i < old->nmod; i++) {
        int slot = sv_find(s, old->mod[i].name);
        if (slot < 0)
            continue;
        struct sv_mod *m = &s->mod[slot];
        enum rl_kind k = p->old_kind[i];
        if (k != RL_REMOVE && sv_mod_reconf(s, (unsigned)slot, &new->mod[p->new_of_old[i]], k != RL_KEEP) < 0)
            sv_ev_at(LOG_ERROR, SYSTEM_ERROR, m->cf->name,
                     SV_FIELDS(SV_STR("op", "restart count"), SV_STR("error", strerror(ENOMEM))),
                     "%s: out of memory for its restart count", m->cf->name);
        /* A kept module's policy compiled to the same filter (policy_same):
         * its process refers to the new copy, and the old config can go. */
        if (k == RL_KEEP && m->ch.pid > 0)
            m->run_pol = m->cf->pol;
        if (k == RL_RESTART && lc_live(m->lc.state))
            sv_post_event(s, (unsigned)slot, LE_RESTART);
        if (k != RL_REWIRE && k != RL_REMOVE)
            continue;
        r->member[slot] = true;
        r->removed[slot] = k == RL_REMOVE;
        enum lc_state st = m->lc.state;
        r->up_again[slot] = k == RL_REWIRE && (lc_live(st) || st == LC_WAITING || st == LC_BACKOFF);
        if (!lc_live(st))
            sv_post_event(s, (unsigned)slot, LE_STOP); /* waiting or in backoff: never started */
    }
}

static int apply(struct sv *s, struct conf *new, const struct rl_plan *p)
{
    struct sv_reload *r = &s->reload;
    if (r->nold == SV_OLD_CONFS)
        sweep_old_confs(s);
    if (r->nold == SV_OLD_CONFS)
        return -EBUSY;
    struct conf *old = s->c;
    r->old[r->nold++] = old;
    memset(r->member, 0, sizeof(r->member));
    memset(r->removed, 0, sizeof(r->removed));
    memset(r->up_again, 0, sizeof(r->up_again));
    s->c = new;
    sv_log_level(new->log_level);
    sv_log_format(new->log_format);
    take_new_settings(s, old, new, p);
    r->pending = true; /* the swap: at once if nothing has to stop first */
    r->generation++;
    return 0;
}

/* A running module beats at the interval it was started with (its
 * UIPC_HEARTBEAT_MS): its new hang timeout must be longer, as the config
 * check demands of the new interval. */
static int check_beats(const struct sv *s, const struct conf *new, char *err, size_t len)
{
    for (unsigned i = 0; i < s->nmod; i++) {
        const struct sv_mod *m = &s->mod[i];
        int j = m->cf && m->ch.pid > 0 ? conf_module_index(new, m->cf->name) : -1;
        if (j < 0)
            continue;
        unsigned hang = new->mod[j].hang_timeout_ms ? new->mod[j].hang_timeout_ms : new->hang_timeout_ms;
        if (hang > m->run_beat_ms)
            continue;
        int line = new->mod[j].hang_timeout_ms ? new->mod[j].line : new->key_line[CONF_SV_HANG];
        snprintf(err, len,
                 "%s:%d: hang_timeout_ms (%u) must be longer than the heartbeat_interval_ms (%u) that the running "
                 "module %s was started with (reload the interval first, then the timeout)",
                 new->path, line ? line : new->line, hang, m->run_beat_ms, m->cf->name);
        return -EINVAL;
    }
    return 0;
}

static int keep_socket(const struct conf *old, struct conf *new)
{
    char *copy = strdup(old->control_socket);
    if (!copy)
        return -ENOMEM;
    free(new->control_socket);
    new->control_socket = copy;
    return 0;
}

int sv_reload(struct sv *s, bool check, char ***lines, size_t *nlines, bool *config_error, char *err,
              size_t errlen)
{
    struct conf *new = NULL;
    char sv_changes[CONF_ERR_MAX];
    struct rl_plan plan;
    *lines = NULL;
    *nlines = 0;
    *config_error = false;
    if (s->stopping) {
        snprintf(err, errlen, "the supervisor is shutting down");
        return -ESHUTDOWN;
    }
    if (s->reload.pending) {
        snprintf(err, errlen, "the previous reload is still being applied (its modules are stopping)");
        return -EBUSY;
    }
    int r = conf_load_again(s->c->path, s->c, &new, err, errlen);
    if (r == 0 && s->socket_forced && (r = keep_socket(s->c, new)) < 0)
        snprintf(err, errlen, "out of memory");
    if (r == 0 && (r = conf_supervisor_diff(s->c, new, sv_changes, sizeof(sv_changes))) < 0)
        snprintf(err, errlen, "%s", sv_changes);
    if (r == 0)
        r = check_beats(s, new, err, errlen);
    if (r < 0) {
        *config_error = true;
        conf_free(new);
        return r;
    }
    rl_plan(s->c, new, &plan);
    r = describe(s->c, new, &plan, sv_changes, lines, nlines);
    if (r == 0 && !check)
        r = apply(s, new, &plan);
    if (r < 0 || check)
        conf_free(new);
    if (r < 0)
        snprintf(err, errlen, "%s", r == -EBUSY ? "too many reloads still in use; try again" : strerror(-r));
    for (size_t k = 0; r == 0 && !check && k < *nlines; k++)
        sv_ev(RELOAD, NULL, SV_FIELDS(SV_STR("change", (*lines)[k])), "reload: %s", (*lines)[k]);
    return r;
}

/* ---- the swap, once every module it concerns is down ---- */

static void stop_next_member(struct sv *s)
{
    const struct lc_mod *mods[SV_MAX_MODULES];
    unsigned order[SV_MAX_MODULES], n = 0;
    for (unsigned k = 0; k < s->norder; k++)
        if (s->reload.member[s->order[k]])
            order[n++] = s->order[k];
    for (unsigned i = 0; i < s->nmod; i++)
        mods[i] = &s->mod[i].lc;
    int i = lc_next_to_stop(order, n, mods);
    if (i >= 0)
        sv_post_event(s, (unsigned)i, LE_STOP);
}

static bool members_down(const struct sv *s)
{
    for (unsigned i = 0; i < s->nmod; i++)
        if (s->reload.member[i] && s->mod[i].cf && lc_live(s->mod[i].lc.state))
            return false;
    return true;
}

/* Channels that are not the config's any more; their ends are all down. */
static void drop_channels(struct sv *s)
{
    for (unsigned k = s->nchan; k-- > 0;) {
        const struct sv_chan *ch = &s->chan[k];
        const struct sv_mod *client = &s->mod[ch->client], *server = &s->mod[ch->server];
        if (s->reload.removed[ch->client] || s->reload.removed[ch->server] ||
            !rl_has_channel(s->c, client->cf->name, ch->r.service, server->cf->name, ch->r.slots,
                            ch->r.slot_size))
            sv_chan_close(s, k);
    }
}

/* Modules added, then channels of the config not made yet. */
static void add_new(struct sv *s)
{
    const struct conf *c = s->c;
    for (unsigned j = 0; j < c->nmod; j++)
        if (sv_find(s, c->mod[j].name) < 0 && sv_mod_open(s, &c->mod[j]) < 0)
            sv_ev(NOT_ADDED, c->mod[j].name, SV_NO_FIELDS, "%s: not added (see above)", c->mod[j].name);
    for (unsigned j = 0; j < c->nmod; j++) {
        int client = sv_find(s, c->mod[j].name);
        for (unsigned k = 0; client >= 0 && k < c->mod[j].nconnects; k++) {
            const struct conf_connect *cn = &c->mod[j].connects[k];
            int server = sv_find(s, c->mod[conf_provider(c, cn->service)].name);
            if (server < 0 || sv_chan_find(s, (unsigned)client, cn->service) >= 0)
                continue;
            if (sv_chan_open(s, (unsigned)client, (unsigned)server, cn) < 0)
                sv_ev(NOT_ADDED, c->mod[j].name, SV_FIELDS(SV_STR("service", cn->service)),
                      "%s: its channel to %s is missing (see above)", c->mod[j].name, cn->service);
        }
    }
}

static void swap(struct sv *s)
{
    struct sv_reload *r = &s->reload;
    drop_channels(s);
    for (unsigned i = 0; i < s->nmod; i++)
        if (r->removed[i] && s->mod[i].cf) {
            sv_ev(REMOVED, s->mod[i].cf->name, SV_NO_FIELDS, "%s: removed", s->mod[i].cf->name);
            sv_mod_close(s, i);
        }
    add_new(s);
    sv_number_channels(s);
    sv_start_order(s);
    /* Back to waiting for their 'after', like the modules added. */
    for (unsigned i = 0; i < s->nmod; i++)
        if (r->up_again[i] && s->mod[i].cf)
            lc_init(&s->mod[i].lc, s->mod[i].lc.deaths, s->mod[i].lc.cap);
    r->pending = false;
}

void sv_reload_step(struct sv *s)
{
    if (s->reload.pending && !s->stopping) {
        stop_next_member(s);
        if (members_down(s))
            swap(s);
    }
    if (s->reload.nold)
        sweep_old_confs(s);
}

void sv_reload_fini(struct sv *s)
{
    for (unsigned k = 0; k < s->reload.nold; k++)
        conf_free(s->reload.old[k]);
    s->reload.nold = 0;
}
