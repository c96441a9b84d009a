/* SPDX-License-Identifier: MIT */
/* Module slots: what the supervisor holds for each configured module
 * whether or not it runs (its bell, its control region, its restart
 * count), opened when the module is configured and closed once it is
 * removed and gone.  A slot keeps its index for its module's life: a
 * reload moves no running module. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sv-internal.h"

static void slot_init(struct sv_mod *m)
{
    memset(m, 0, sizeof(*m));
    m->bell.rx = m->ring = m->ctl_fd = -1;
    m->ch = (struct sv_child){ .pidfd = -1, .out = -1, .listener = -1, .status = -1 };
    m->spawning = (struct sv_spawning){ .sync = -1, .child_pidfd = -1, .listener_at = -1 };
}

int sv_mod_open(struct sv *s, const struct conf_module *cf)
{
    unsigned i = 0;
    while (i < s->nmod && s->mod[i].cf)
        i++;
    if (i == SV_MAX_MODULES)
        return -ENOSPC;
    struct sv_mod *m = &s->mod[i];
    slot_init(m);
    m->cf = cf;
    if (i == s->nmod)
        s->nmod++;
    sv_sandbox_of(m, s->root, &s->userns, true);
    int err = sv_sandbox_reach(m);
    if (err < 0)
        goto fail;
    if (!cf->pol)
        sv_ev(NO_POLICY, cf->name, SV_NO_FIELDS, "%s: no policy: every syscall is allowed", cf->name);
    uint64_t *deaths = calloc(cf->max_restarts + 1, sizeof(uint64_t));
    if (!deaths) {
        err = -ENOMEM;
        goto fail;
    }
    lc_init(&m->lc, deaths, cf->max_restarts + 1);
    err = uipc__bell_open(&m->bell);
    if (err == 0 && (m->ring = uipc__bell_sender(&m->bell)) < 0)
        err = m->ring;
    if (err < 0) {
        sv_ev(START_FAILED, cf->name, SV_FIELDS(SV_STR("step", "bell"), SV_STR("error", strerror(-err))),
              "%s: bell: %s", cf->name, strerror(-err));
        goto fail;
    }
    /* Its one slot holds the supervisor's words about each of its channels. */
    err = uipc__region_create("uipc.control", 1, UIPC_CTL_SLOT_SIZE, &m->ctl_fd);
    if (err == 0 && (err = uipc__region_map(m->ctl_fd, &m->ctl)) < 0) {
        close(m->ctl_fd);
        m->ctl_fd = -1;
    }
    if (err == 0)
        return (int)i;
fail:
    sv_mod_close(s, i);
    return err;
}

void sv_mod_close(struct sv *s, unsigned i)
{
    struct sv_mod *m = &s->mod[i];
    uipc__bell_close(&m->bell);
    if (m->ring >= 0)
        close(m->ring);
    if (m->ch.out >= 0)
        close(m->ch.out);
    sv_spawn_done(&m->spawning);
    free(m->lc.deaths);
    if (m->ctl.base)
        uipc__region_unmap(&m->ctl);
    if (m->ctl_fd >= 0)
        close(m->ctl_fd);
    slot_init(m);
    while (s->nmod && !s->mod[s->nmod - 1].cf)
        s->nmod--;
}

int sv_mod_reconf(struct sv *s, unsigned i, const struct conf_module *cf, bool say)
{
    struct sv_mod *m = &s->mod[i];
    bool same_count = m->cf->max_restarts == cf->max_restarts;
    m->cf = cf;
    sv_sandbox_of(m, s->root, &s->userns, say);
    if (same_count)
        return 0;
    uint64_t *deaths = calloc(cf->max_restarts + 1, sizeof(uint64_t));
    if (!deaths)
        return -ENOMEM;
    free(lc_set_deaths(&m->lc, deaths, cf->max_restarts + 1));
    return 0;
}

void sv_start_order(struct sv *s)
{
    static unsigned after[SV_MAX_MODULES][CONF_MAX_LIST];
    const unsigned *lists[SV_MAX_MODULES];
    unsigned nafter[SV_MAX_MODULES];
    for (unsigned i = 0; i < s->nmod; i++) {
        const struct conf_module *cf = s->mod[i].cf;
        nafter[i] = 0;
        lists[i] = after[i];
        for (unsigned j = 0; cf && j < cf->nafter; j++) {
            int dep = sv_find(s, cf->after[j]);
            if (dep >= 0)
                after[i][nafter[i]++] = (unsigned)dep;
        }
    }
    unsigned all[SV_MAX_MODULES], n = lc_start_order(s->nmod, lists, nafter, all);
    s->norder = 0;
    for (unsigned k = 0; k < n; k++)
        if (s->mod[all[k]].cf)
            s->order[s->norder++] = all[k];
}
