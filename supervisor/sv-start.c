/* SPDX-License-Identifier: MIT */
/* Starting a module's process (the lifecycle's LX_SPAWN effect): its
 * manifest of fds and UIPC_* variables, a new epoch on its channels, a
 * fresh control word, then sv_spawn. */
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "sv-internal.h"

struct manifest {
    char module[CONF_NAME_MAX + 16], bell[48], chans[16384];
    char provides[CONF_MAX_LIST * CONF_NAME_MAX + 16];
    char control[32], heartbeat[40];
    const char *env[8];
    int keep[2 * CONF_MAX_LIST * CONF_MAX_MODULES + 3]; /* channels, bell and ring, control */
    unsigned nkeep;
};

static void manifest_add(struct manifest *mf, size_t *len, char role, const char *svc, int fd, int peer_bell)
{
    int n = snprintf(mf->chans + *len, sizeof(mf->chans) - *len, "%s%c:%s:%d:%d",
                     *len > strlen("UIPC_CHANNELS=") ? "," : "", role, svc, fd, peer_bell);
    if (n > 0 && *len + (size_t)n < sizeof(mf->chans))
        *len += (size_t)n;
    mf->keep[mf->nkeep++] = fd;
    mf->keep[mf->nkeep++] = peer_bell;
}

/* Exactly the channels this module is part of, and their peers' bells, in
 * channel order (sv_number_channels numbers each end's entries so). */
static void build_manifest(const struct sv *s, unsigned i, struct manifest *mf)
{
    const struct sv_mod *m = &s->mod[i];
    size_t len;
    mf->nkeep = 0;
    snprintf(mf->module, sizeof(mf->module), "UIPC_MODULE=%s", m->cf->name);
    snprintf(mf->bell, sizeof(mf->bell), "UIPC_BELL=%d:%d", m->bell.rx, m->ring);
    mf->keep[mf->nkeep++] = m->bell.rx;
    mf->keep[mf->nkeep++] = m->ring;
    snprintf(mf->control, sizeof(mf->control), "UIPC_CONTROL=%d", m->ctl_fd);
    mf->keep[mf->nkeep++] = m->ctl_fd;
    snprintf(mf->heartbeat, sizeof(mf->heartbeat), "UIPC_HEARTBEAT_MS=%u", s->c->heartbeat_interval_ms);
    const char *env[] = { mf->module, mf->bell, mf->chans, mf->provides, mf->control, mf->heartbeat, NULL };
    memcpy(mf->env, env, sizeof(env));
    len = (size_t)snprintf(mf->provides, sizeof(mf->provides), "UIPC_PROVIDES=");
    for (unsigned k = 0; k < m->cf->nprovides; k++)
        len += (size_t)snprintf(mf->provides + len, sizeof(mf->provides) - len, "%s%s", k ? "," : "",
                                m->cf->provides[k]);
    len = (size_t)snprintf(mf->chans, sizeof(mf->chans), "UIPC_CHANNELS=");
    for (unsigned k = 0; k < s->nchan; k++) {
        const struct sv_chan *ch = &s->chan[k];
        if (ch->server == (int)i)
            manifest_add(mf, &len, 'S', ch->r.service, ch->fd, ch->ring[UIPC_CLIENT]);
        if (ch->client == (int)i)
            manifest_add(mf, &len, 'C', ch->r.service, ch->fd, ch->ring[UIPC_SERVER]);
    }
}

/* A new incarnation gets a new epoch (sv_channels_started writes it). */
static void stamp_epoch(struct sv *s, unsigned i)
{
    uint32_t epoch = ++s->next_epoch & ~UIPC_EPOCH_DEAD; /* the bit marks the dead */
    if (epoch == 0)
        epoch = s->next_epoch = 1;
    s->mod[i].epoch = epoch;
}

static int watch(struct sv *s, int fd, enum ev_kind kind, unsigned i)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)kind << 32 | i };
    if (fd < 0 || epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST)
        return 0;
    sv_ev(START_FAILED, s->mod[i].cf->name, SV_FIELDS(SV_STR("step", "epoll"), SV_STR("error", strerror(errno))),
          "%s: epoll: %s", s->mod[i].cf->name, strerror(errno));
    return -errno;
}

int sv_start_module(struct sv *s, unsigned i)
{
    static struct manifest mf;
    struct sv_mod *m = &s->mod[i];

    build_manifest(s, i, &mf);
    uipc__bell_renew(m->bell.rx);
    stamp_epoch(s, i);
    sv_channels_started(s, i);
    /* A fresh control word: not ready, no stop request, no beat yet. */
    atomic_store(&m->ctl.side[UIPC_CLIENT]->ctl, 0);
    atomic_store(&m->ctl.side[UIPC_CLIENT]->beat_ms, 0);
    struct sv_spawn sp = { .argv = m->cf->argv, .env = m->cf->env,
                           .uipc_env = mf.env,
                           .keep = mf.keep, .nkeep = mf.nkeep,
                           .sb = &m->sb, .keeper_parent = s->keeper >= 0 };
    int err = sv_spawn_start(&sp, &m->spawning, &m->ch);
    if (err < 0) {
        sv_ev(START_FAILED, m->cf->name,
              SV_FIELDS(SV_STR("step", "clone"), SV_STR("exec", m->cf->argv[0]), SV_STR("error", strerror(-err))),
              "%s: could not start %s: clone: %s", m->cf->name, m->cf->argv[0], strerror(-err));
        return err;
    }
    /* It is ours from now on: reaped whatever happens (strays spares it). */
    m->gone = false;
    m->run_pol = m->cf->pol;
    m->run_ns = m->sb.namespaces;
    m->run_beat_ms = s->c->heartbeat_interval_ms;
    m->run_uid = m->sb.set_ids ? m->sb.uid : getuid();
    memset(m->reported, 0, sizeof(m->reported));
    watch(s, m->ch.pidfd, EV_PIDFD, i);
    watch(s, m->ch.out, EV_OUTPUT, i);
    watch(s, m->spawning.sync, EV_SPAWN, i);
    return 0;
}

void sv_spawn_step(struct sv *s, unsigned i)
{
    struct sv_mod *m = &s->mod[i];
    int step = 0;
    if (m->spawning.sync < 0)
        return;
    int r = sv_spawn_advance(&m->spawning, &m->ch, &step);
    /* Its glue's notifications before the exec come through here too. */
    watch(s, m->ch.listener, EV_SECCOMP, i);
    if (r == -EAGAIN)
        return;
    sv_spawn_done(&m->spawning);
    if (r < 0) {
        /* The child exits (it said so); its reaping is the news. */
        sv_ev(START_FAILED, m->cf->name,
              SV_FIELDS(SV_STR("step", sandbox_step_name(step)), SV_STR("exec", m->cf->argv[0]),
                        SV_STR("error", strerror(-r))),
              "%s: could not start %s: %s: %s", m->cf->name, m->cf->argv[0], sandbox_step_name(step),
              strerror(-r));
        kill(m->ch.pid, SIGKILL);
        return;
    }
    m->starts++;
    if (sv_gone_watched(s, i))
        watch(s, m->ch.own_pidfd, EV_GONE, i);
    sv_ev(STARTED, m->cf->name, SV_FIELDS(SV_NUM("pid", m->ch.pid)), "%s: started, pid %d", m->cf->name,
          (int)m->ch.pid);
    sv_post_event(s, i, LE_SPAWNED);
}

bool sv_spawn_waits(const struct sv *s, unsigned i)
{
    return s->mod[i].spawning.sync >= 0 && sv_spawn_awaits_listener(&s->mod[i].spawning, &s->mod[i].ch);
}
