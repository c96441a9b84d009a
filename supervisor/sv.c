/* SPDX-License-Identifier: MIT */
/* The supervisor's one epoll loop.  Signals (signalfd), module deaths
 * (pidfds), spawns (sync sockets), seccomp notifications, module output,
 * control requests and deadlines become events for each module's
 * lifecycle (lifecycle.c, through sv_post); the loop delivers them and
 * carries out the effects the table gives.  Nothing here waits on one
 * module. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "sandbox.h"
#include "sdnotify.h"
#include "sv-internal.h"
#include "sv.h"

static int ep_add(struct sv *s, int fd, enum ev_kind kind, unsigned idx)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)kind << 32 | idx };
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* ---- set-up ---- */

static int open_modules(struct sv *s)
{
    s->root = sandbox_privileged();
    s->userns = -1;
    for (unsigned i = 0; i < s->c->nmod; i++) {
        int r = sv_mod_open(s, &s->c->mod[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

static int open_channels(struct sv *s)
{
    const struct conf *c = s->c;
    for (unsigned i = 0; i < c->nmod; i++) {
        for (unsigned j = 0; j < c->mod[i].nconnects; j++) {
            const struct conf_connect *cn = &c->mod[i].connects[j];
            int client = sv_find(s, c->mod[i].name);
            int server = sv_find(s, c->mod[conf_provider(c, cn->service)].name);
            int err = sv_chan_open(s, (unsigned)client, (unsigned)server, cn);
            if (err < 0)
                return err;
        }
    }
    sv_number_channels(s);
    return 0;
}

/* ---- the lifecycle's effects ---- */

static struct lc_ctx lc_context(const struct sv *s)
{
    return (struct lc_ctx){ .now = sv_now_ms(), .shutdown_timeout_ms = s->c->shutdown_timeout_ms,
                            .spawn_timeout_ms = SV_SPAWN_TIMEOUT_MS, .draining = s->draining,
                            .shutting_down = s->stopping };
}

static struct lc_policy lc_policy_of(const struct conf_module *cf)
{
    return (struct lc_policy){ .restart = cf->restart == RESTART_NEVER        ? LC_RESTART_NEVER
                                          : cf->restart == RESTART_ON_FAILURE ? LC_RESTART_ON_FAILURE
                                                                              : LC_RESTART_ALWAYS,
                               .max_restarts = cf->max_restarts, .window_s = cf->restart_window_s,
                               .backoff_ms = cf->backoff_ms, .backoff_max_ms = cf->backoff_max_ms };
}

/* The event each note of a lifecycle step is (its level: the event's). */
static const enum sv_ev note_event[] = {
    [LN_RESTART_IN] = SV_EV_RESTARTING, [LN_GIVEN_UP] = SV_EV_GIVEN_UP,
    [LN_NOT_RESTARTED] = SV_EV_NOT_RESTARTED, [LN_HELD] = SV_EV_HELD,
    [LN_OPERATOR_RESTART] = SV_EV_RESTARTING, [LN_TERM] = SV_EV_TERMINATING,
    [LN_KILL] = SV_EV_KILLED, [LN_KILL_SPAWN] = SV_EV_KILLED,
};

/* The note's fields, as lc_describe tells them: how many. */
static size_t note_fields(const struct lc_step *st, const struct lc_policy *pol, unsigned shutdown_ms,
                          bool for_reload, struct sv_field f[3])
{
    static const char *const restart_names[] = { "always", "on-failure", "never" };
    switch (st->note) {
    case LN_RESTART_IN: f[0] = (struct sv_field)SV_NUM("delay_ms", st->delay_ms); return 1;
    case LN_OPERATOR_RESTART: f[0] = (struct sv_field)SV_NUM("delay_ms", 0); return 1;
    case LN_GIVEN_UP:
        f[0] = (struct sv_field)SV_NUM("deaths", st->recent);
        f[1] = (struct sv_field)SV_NUM("window_s", pol->window_s);
        f[2] = (struct sv_field)SV_NUM("max_restarts", pol->max_restarts);
        return 3;
    case LN_NOT_RESTARTED: f[0] = (struct sv_field)SV_STR("restart", restart_names[pol->restart]); return 1;
    case LN_HELD: f[0] = (struct sv_field)SV_STR("reason", for_reload ? "reload" : "operator"); return 1;
    case LN_KILL: f[0] = (struct sv_field)SV_NUM("timeout_ms", shutdown_ms); return 1;
    default: return 0;
    }
}

static void log_step(const struct sv *s, const struct sv_mod *m, const struct lc_step *st,
                     const struct lc_policy *pol)
{
    char text[160];
    struct sv_field f[3];
    if (st->from != st->to)
        sv_ev(TRANSITION, m->cf->name,
              SV_FIELDS(SV_STR("from", lc_state_name(st->from)), SV_STR("to", lc_state_name(st->to))),
              "%s: %s -> %s", m->cf->name, lc_state_name(st->from), lc_state_name(st->to));
    lc_describe(st, pol, s->c->shutdown_timeout_ms, text, sizeof(text));
    bool for_reload = st->note == LN_HELD && s->reload.pending && s->reload.member[m - s->mod];
    if (for_reload)
        snprintf(text, sizeof(text), "stopped for the reload");
    if (!text[0])
        return;
    enum sv_ev ev = note_event[st->note];
    size_t nf = note_fields(st, pol, s->c->shutdown_timeout_ms, for_reload, f);
    sv_event(sv_event_defs[ev].level, ev, m->cf->name, f, nf, "%s: %s", m->cf->name, text);
}

/* The stop request through the control region: uipc_run returns 0. */
static void ask_to_stop(struct sv_mod *m)
{
    sv_ev(STOPPING, m->cf->name, SV_NO_FIELDS, "%s: stopping", m->cf->name);
    atomic_fetch_or(&m->ctl.side[UIPC_CLIENT]->ctl, UIPC_CTL_STOP);
    uipc__notify(m->ctl.side[UIPC_CLIENT], m->ring);
}

/* What the keeper holds for a new supervisor, after a turn that changed
 * it (and now and then anyway: counters move without events). */
static void send_checkpoint(struct sv *s, bool idle)
{
    uint64_t now = sv_now_ms();
    if (s->keeper < 0)
        return;
    int r = idle ? sv_keeper_checkpoint_idle(s) : sv_keeper_checkpoint(s);
    if (r < 0)
        sv_ev(SYSTEM_ERROR, NULL, SV_FIELDS(SV_STR("op", "checkpoint"), SV_STR("error", strerror(-r))),
              "supervisor: checkpoint to the keeper: %s", strerror(-r));
    s->dirty = false;
    s->last_checkpoint_ms = now;
    s->next_checkpoint_ms = now + CHECKPOINT_MS;
}

static void checkpoint_now(struct sv *s)
{
    send_checkpoint(s, false);
}

/* Processes and reclaims are checkpointed at once (checkpoint_now); the
 * rest (states, counters) at most every CHECKPOINT_MIN_MS when busy.  A
 * quiet turn's periodic one (counters can move without an event) is
 * only sent when the state did change. */
static void checkpoint(struct sv *s)
{
    if (s->keeper >= 0 &&
        sv_now_ms() >= (s->dirty ? s->last_checkpoint_ms + CHECKPOINT_MIN_MS : s->next_checkpoint_ms))
        send_checkpoint(s, !s->dirty);
}

/* One event through the table, then its effects, in the table's order. */
static void deliver(struct sv *s, unsigned i, struct lc_in in)
{
    struct sv_mod *m = &s->mod[i];
    struct lc_ctx ctx = lc_context(s);
    struct lc_policy pol = lc_policy_of(m->cf);
    struct lc_step st = lc_apply(&m->lc, &pol, &ctx, in);
    if (st.effects & LX_REFUSE)
        return;
    s->dirty = true;
    log_step(s, m, &st, &pol);
    if (st.effects & LX_RECLAIM) {
        if (!m->gone) /* else reclaimed when its thread group went (sv_gone) */
            sv_channels_dead(s, i);
        m->gone = false;
        checkpoint_now(s); /* a new supervisor must not reclaim it again from an older view */
    }
    if (st.effects & LX_STOP_WORD)
        ask_to_stop(m);
    if ((st.effects & LX_SIGTERM) && m->ch.pid > 0)
        kill(m->ch.pid, SIGTERM);
    if (st.effects & LX_SIGKILL)
        sv_kill_hard(s, i);
    if ((st.effects & LX_SPAWN) && sv_start_module(s, i) < 0)
        deliver(s, i, (struct lc_in){ .ev = LE_SPAWN_FAILED });
    if (in.ev == LE_SPAWNED)
        checkpoint_now(s); /* a new module runs: a new supervisor must know it */
}

static void deliver_pending(struct sv *s)
{
    while (s->npending) {
        struct sv_event e = s->pending[s->pending_head];
        s->pending_head = (s->pending_head + 1) % SV_PENDING;
        s->npending--;
        if (e.mod < s->nmod && s->mod[e.mod].cf)
            deliver(s, e.mod, e.in);
    }
}

/* ---- readiness, and starting in 'after' order ---- */

static bool deps_ready(const struct sv *s, unsigned i)
{
    const struct conf_module *cf = s->mod[i].cf;
    for (unsigned j = 0; j < cf->nafter; j++) {
        int dep = sv_find(s, cf->after[j]);
        if (dep < 0 || !lc_counts_ready(s->mod[dep].lc.state))
            return false;
    }
    return true;
}

/* A module starts once every module in its 'after' is ready, or has run
 * once and exited cleanly (a one-shot set-up step). */
static void start_due(struct sv *s)
{
    for (unsigned n = 0; n < s->norder; n++) {
        unsigned i = s->order[n];
        if (s->mod[i].lc.state == LC_WAITING && deps_ready(s, i))
            sv_post_event(s, i, LE_DEPS_READY);
    }
}

/* ---- shutdown: one module at a time, in reverse start order ---- */

static void begin_shutdown(struct sv *s, int sig)
{
    if (s->stopping)
        return;
    sv_ev(SHUTDOWN, NULL, SV_FIELDS(SV_STR("signal", sv_signame(sig).s)), "supervisor: %s received, stopping modules",
          sv_signame(sig).s);
    s->stopping = true;
    sv_sd_notify("STOPPING=1\nSTATUS=stopping modules");
    for (unsigned i = 0; i < s->nmod; i++)
        if (s->mod[i].cf)
            sv_post_event(s, i, LE_SHUTDOWN);
}

static void stop_next(struct sv *s)
{
    const struct lc_mod *mods[SV_MAX_MODULES];
    for (unsigned i = 0; i < s->nmod; i++)
        mods[i] = &s->mod[i].lc;
    int i = lc_next_to_stop(s->order, s->norder, mods);
    if (i >= 0)
        sv_post_event(s, (unsigned)i, LE_STOP);
}

static bool any_live(const struct sv *s)
{
    for (unsigned i = 0; i < s->nmod; i++)
        if (s->mod[i].cf && lc_live(s->mod[i].lc.state))
            return true;
    return false;
}

/* ---- systemd: readiness, status, watchdog ---- */

/* READY=1 once every module has been started and none is still coming
 * up; STATUS= whenever the counts change. */
static void tell_systemd(struct sv *s)
{
    unsigned n[SHOWN_COUNT] = { 0 }, total = 0;
    bool settled = true;
    for (unsigned i = 0; i < s->nmod; i++) {
        if (!s->mod[i].cf)
            continue;
        enum sv_shown k = sv_shown_state(&s->mod[i]);
        n[k]++;
        total++;
        settled = settled && k != SHOWN_STARTING && (s->mod[i].starts > 0 || s->mod[i].lc.state == LC_STOPPED);
    }
    char msg[240];
    snprintf(msg, sizeof(msg),
             "%sSTATUS=%u modules: %u ready, %u starting, %u backoff, %u failed, %u stopped, %u stopping",
             settled && !s->told_ready ? "READY=1\n" : "", total, n[SHOWN_READY], n[SHOWN_STARTING],
             n[SHOWN_BACKOFF], n[SHOWN_FAILED], n[SHOWN_STOPPED], n[SHOWN_STOPPING]);
    const char *status = strstr(msg, "STATUS=");
    if (strcmp(status, s->told_status) == 0 && (s->told_ready || !settled))
        return;
    sv_sd_notify(msg);
    snprintf(s->told_status, sizeof(s->told_status), "%s", status);
    s->told_ready = s->told_ready || settled;
}

static void feed_watchdog(struct sv *s)
{
    uint64_t now = sv_now_ms();
    if (!s->watchdog_ms || now < s->next_watchdog_ms)
        return;
    sv_sd_notify("WATCHDOG=1");
    s->next_watchdog_ms = now + s->watchdog_ms / 2;
}

/* ---- the loop ---- */

static int next_timeout(const struct sv *s)
{
    struct lc_ctx ctx = lc_context(s);
    uint64_t now = ctx.now, next = UINT64_MAX;
    for (unsigned i = 0; i < s->nmod; i++) {
        const struct sv_mod *m = &s->mod[i];
        if (!m->cf)
            continue;
        uint64_t t = lc_deadline(&m->lc, &ctx);
        /* Readiness and 'after' are looked at, not told; so is a child's
         * filter, while its listener is awaited. */
        if ((m->lc.state == LC_WAITING || m->lc.state == LC_STARTING) && now + READY_POLL_MS < t)
            t = now + READY_POLL_MS;
        if (sv_spawn_waits(s, i) && now + 1 < t)
            t = now + 1;
        if (sv_reaping(s, i) && now + 5 < t) /* SIGCHLD wakes us sooner */
            t = now + 5;
        next = t < next ? t : next;
    }
    struct ctl_server *servers[] = { s->ctl, s->metrics };
    for (size_t k = 0; k < 2; k++) {
        int c = servers[k] ? ctl_timeout(servers[k]) : -1;
        if (c >= 0 && now + (uint64_t)c < next)
            next = now + (uint64_t)c;
    }
    if (!s->stopping && s->next_check_ms < next)
        next = s->next_check_ms;
    if (s->watchdog_ms && s->next_watchdog_ms < next)
        next = s->next_watchdog_ms;
    if (s->reexec_asked && now + READY_POLL_MS < next) /* waiting out a busy moment */
        next = now + READY_POLL_MS;
    uint64_t cp = s->dirty ? s->last_checkpoint_ms + CHECKPOINT_MIN_MS : s->next_checkpoint_ms;
    if (s->keeper >= 0 && cp < next)
        next = cp;
    if (next == UINT64_MAX)
        return -1;
    return next <= now ? 0 : (int)(next - now);
}

/* Deadlines, in start order: a restart after its backoff, a stop's
 * escalation. */
static void on_timers(struct sv *s)
{
    for (unsigned i = 0; i < s->nmod; i++)
        if (s->mod[i].cf && sv_spawn_waits(s, i))
            sv_spawn_step(s, i);
    struct lc_ctx ctx = lc_context(s);
    for (unsigned n = 0; n < s->norder; n++)
        if (lc_due(&s->mod[s->order[n]].lc, &ctx))
            sv_post_event(s, s->order[n], LE_TIMER);
    if (s->ctl)
        ctl_expire(s->ctl);
    if (s->metrics)
        ctl_expire(s->metrics);
}

/* SIGHUP: the config file read again and applied (uipcctl reload says
 * the same and more). */
static void reload(struct sv *s)
{
    char err[CONF_ERR_MAX], **lines;
    size_t n;
    bool config_error;
    sv_ev(RELOAD_REQUESTED, NULL, SV_FIELDS(SV_STR("path", s->c->path)), "supervisor: SIGHUP: reloading %s",
          s->c->path);
    if (sv_reload(s, false, &lines, &n, &config_error, err, sizeof(err)) < 0)
        sv_ev(RELOAD_REFUSED, NULL, SV_FIELDS(SV_STR("error", err)), "supervisor: reload refused, nothing changed: %s",
              err);
    sv_reload_free_lines(lines, n);
}

static void on_signal(struct sv *s)
{
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        if (si.ssi_signo == SIGHUP)
            reload(s);
        else if (si.ssi_signo == SIGUSR2) { /* as nginx: the binary upgrade */
            s->reexec_asked = true;
            s->reexec_asked_ms = sv_now_ms();
        }
        else if (si.ssi_signo == SIGCHLD)
            sv_strays(s, false);
        else
            begin_shutdown(s, (int)si.ssi_signo);
}

static void dispatch(struct sv *s, uint64_t data, uint32_t events)
{
    unsigned idx = (unsigned)data;
    switch ((enum ev_kind)(data >> 32)) {
    case EV_SIGNAL: on_signal(s); break;
    case EV_PIDFD: {
        bool gone = sv_gone(s, idx); /* no pid namespace: the module's own pidfd */
        sv_reap(s, idx);
        /* Its exit, delivered at the end of this turn, checkpoints; one
         * that waits (not reaped, strays alive) must not meet a new
         * supervisor that would reclaim it again. */
        if (gone && (s->mod[idx].ch.pid != 0 || sv_reaping(s, idx)))
            checkpoint_now(s);
        break;
    }
    case EV_GONE:
        if (sv_gone(s, idx))
            checkpoint_now(s); /* a new supervisor must not reclaim it again from an older view */
        break;
    case EV_OUTPUT:
        /* Output means its program runs: its exec first, so that the log
         * says "started" before anything the module printed. */
        if (s->mod[idx].spawning.sync >= 0)
            sv_spawn_step(s, idx);
        sv_output(s, idx);
        break;
    case EV_SECCOMP:
        if (s->mod[idx].spawning.sync >= 0)
            sv_spawn_step(s, idx); /* its glue code, before the exec */
        else
            sv_seccomp(s, idx, events);
        break;
    case EV_SPAWN: sv_spawn_step(s, idx); break;
    case EV_CONTROL: ctl_process(idx ? s->metrics : s->ctl); break;
    }
    deliver_pending(s);
}

static int loop(struct sv *s)
{
    struct epoll_event ev[32];
    while (!s->stopping || any_live(s)) {
        int n = epoll_wait(s->ep, ev, 32, next_timeout(s));
        if (n < 0 && errno != EINTR)
            return -errno;
        /* How long a turn takes, from the end of the wait: what a module
         * could stretch if anything here blocked on it (uipcctl status). */
        uint64_t t0 = sv_now_ms();
        for (int k = 0; k < n; k++)
            dispatch(s, ev[k].data.u64, ev[k].events);
        sv_reap_strays(s);
        on_timers(s);
        sv_watch(s);
        deliver_pending(s);
        sv_reload_step(s);
        deliver_pending(s);
        start_due(s);
        if (s->stopping)
            stop_next(s);
        deliver_pending(s);
        if (!s->stopping)
            tell_systemd(s);
        feed_watchdog(s);
        uint64_t took = sv_now_ms() - t0;
        s->loop_max_ms = took > s->loop_max_ms ? took : s->loop_max_ms;
        s->loop_turns++;
        if (s->reexec_asked && !s->npending)
            sv_reexec(s); /* returns only if it could not */
        checkpoint(s);
    }
    /* Output the modules wrote just before they died. */
    for (unsigned i = 0; i < s->nmod; i++)
        if (s->mod[i].cf && s->mod[i].ch.out >= 0)
            sv_output(s, i);
    return 0;
}

static int setup_signals(struct sv *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    /* Orphans of a module's processes become ours, to be killed and reaped. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);
    s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return s->sigfd < 0 ? -errno : ep_add(s, s->sigfd, EV_SIGNAL, 0);
}

static void teardown(struct sv *s)
{
    ctl_close(s->ctl);
    ctl_close(s->metrics);
    while (s->nchan)
        sv_chan_close(s, s->nchan - 1);
    free(s->chan);
    while (s->nmod)
        sv_mod_close(s, s->nmod - 1);
    if (s->sigfd >= 0)
        close(s->sigfd);
    if (s->ep >= 0)
        close(s->ep);
    sv_reload_fini(s);
    conf_free(s->c);
}

static enum ctl_who control_who(const struct conf *c)
{
    return c->control_from_modules ? CTL_OPERATORS_AND_MODULES : CTL_OPERATORS;
}

/* A new supervisor: every module and channel made, the sockets opened. */
static int set_up(struct sv *s)
{
    int err = open_modules(s);
    if (err == 0)
        err = open_channels(s);
    if (err == 0 && (err = ctl_open(s->c->control_socket, control_who(s->c), sv_control, sv_control_release, s,
                                     &s->ctl)) < 0) {
        const char *why = err == -EADDRINUSE ? "another supervisor listens there" : strerror(-err);
        sv_ev_at(LOG_ERROR, SYSTEM_ERROR, NULL, SV_FIELDS(SV_STR("op", "control socket"), SV_STR("error", why)),
                 "supervisor: control socket %s: %s", s->c->control_socket, why);
    }
    if (err == 0 && s->c->metrics_socket &&
        (err = ctl_open(s->c->metrics_socket, CTL_ANYONE, sv_control_readonly, sv_control_release, s,
                        &s->metrics)) < 0) {
        const char *why = err == -EADDRINUSE ? "another supervisor listens there" : strerror(-err);
        sv_ev_at(LOG_ERROR, SYSTEM_ERROR, NULL, SV_FIELDS(SV_STR("op", "metrics socket"), SV_STR("error", why)),
                 "supervisor: metrics socket %s: %s", s->c->metrics_socket, why);
    }
    return err;
}

/* A new generation (reexec): the previous one's modules, channels and
 * control socket taken over; its modules' fds back in the epoll set. */
static int take_over(struct sv *s, int state)
{
    char err[CONF_ERR_MAX];
    int lfd = -1, mfd = -1;
    s->root = sandbox_privileged();
    s->userns = -1;
    int r = sv_state_restore(s, state, &lfd, &mfd, err, sizeof(err));
    if (r == 0 && (r = ctl_adopt(lfd, s->c->control_socket, control_who(s->c), sv_control, sv_control_release, s,
                                  &s->ctl)) < 0)
        snprintf(err, sizeof(err), "control socket: %s", strerror(-r));
    if (r == 0 && mfd >= 0 && s->c->metrics_socket &&
        (r = ctl_adopt(mfd, s->c->metrics_socket, CTL_ANYONE, sv_control_readonly, sv_control_release, s,
                       &s->metrics)) < 0)
        snprintf(err, sizeof(err), "metrics socket: %s", strerror(-r));
    if (r < 0) {
        sv_ev_at(LOG_ERROR, SYSTEM_ERROR, NULL, SV_FIELDS(SV_STR("op", "take over"), SV_STR("error", err)),
                 "supervisor: reexec: cannot take over: %s", err);
        return r;
    }
    for (unsigned i = 0; i < s->nmod; i++) {
        const struct sv_mod *m = &s->mod[i];
        int fds[] = { m->ch.pidfd, m->ch.out, m->ch.listener };
        enum ev_kind kinds[] = { EV_PIDFD, EV_OUTPUT, EV_SECCOMP };
        for (size_t k = 0; m->cf && k < 3; k++)
            if (fds[k] >= 0 && ep_add(s, fds[k], kinds[k], i) < 0)
                return -errno;
        if (m->cf && !m->gone && sv_gone_watched(s, i) && ep_add(s, m->ch.own_pidfd, EV_GONE, i) < 0)
            return -errno;
    }
    s->generation++;
    sv_ev(TOOK_OVER, NULL,
          SV_FIELDS(SV_NUM("generation", s->generation), SV_NUM("modules", s->c->nmod), SV_NUM("channels", s->nchan)),
          "supervisor: generation %u took over %u modules and %u channels", s->generation, s->c->nmod, s->nchan);
    /* The keeper's children the state does not name (started after the
     * last checkpoint) are killed: only a process the supervisor knows may
     * hold a module's channels.  A child the last one was still setting up
     * cannot be followed to its exec: it is killed too.  Both are started
     * again by their policy. */
    sv_strays(s, true);
    for (unsigned i = 0; i < s->nmod; i++)
        if (s->mod[i].cf && s->mod[i].lc.state == LC_SPAWNING && s->mod[i].ch.pid > 0) {
            sv_ev(KILLED, s->mod[i].cf->name, SV_FIELDS(SV_NUM("pid", s->mod[i].ch.pid)),
                  "%s: was being started by the last supervisor: killed", s->mod[i].cf->name);
            kill(s->mod[i].ch.pid, SIGKILL);
        }
    return 0;
}

int sv_run(struct conf *c, bool socket_forced, int restore, int keeper)
{
    static struct sv s;
    memset(&s, 0, sizeof(s));
    s.c = c;
    s.keeper = keeper;
    s.dirty = true;
    s.socket_forced = socket_forced;
    s.sigfd = -1;
    s.started_ms = sv_now_ms();
    s.started_wall_ms = sv_wall_ms();
    s.generation = 1;
    if (!realpath("/proc/self/exe", s.exe))
        snprintf(s.exe, sizeof(s.exe), "/proc/self/exe");
    sv_conf_hash(c->path, &s.conf_hash);
    sv_log_level(c->log_level);
    sv_log_format(c->log_format);
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    int err = s.ep < 0 ? -errno : setup_signals(&s);
    if (err == 0)
        err = restore >= 0 ? take_over(&s, restore) : set_up(&s);
    if (err == 0 && ep_add(&s, ctl_fd(s.ctl), EV_CONTROL, 0) < 0)
        err = -errno;
    if (err == 0 && s.metrics && ep_add(&s, ctl_fd(s.metrics), EV_CONTROL, 1) < 0)
        err = -errno;
    if (err == 0 && keeper >= 0)
        ctl_modules_parent(s.ctl, getppid()); /* the keeper: its other children are modules */
    if (err < 0) {
        sv_ev_at(LOG_ERROR, SYSTEM_ERROR, NULL, SV_FIELDS(SV_STR("op", "set-up"), SV_STR("error", strerror(-err))),
                 "supervisor: set-up failed: %s", strerror(-err));
        teardown(&s);
        return 1;
    }
    s.watchdog_ms = sv_sd_watchdog_ms();
    if (sandbox_privileged())
        sv_protect_from_oom();
    /* Not dumpable: a process of our uid (every module of a supervisor
     * that is not root) cannot ptrace us or open our /proc files, whatever
     * its seccomp policy lets through.  No core file of the supervisor. */
    if (prctl(PR_SET_DUMPABLE, 0) < 0)
        sv_ev(SYSTEM_ERROR, NULL, SV_FIELDS(SV_STR("op", "PR_SET_DUMPABLE"), SV_STR("error", strerror(errno))),
              "supervisor: PR_SET_DUMPABLE: %s", strerror(errno));
    sv_start_order(&s);
    sv_ev(SUPERVISOR_STARTED, NULL, SV_FIELDS(SV_NUM("modules", c->nmod), SV_NUM("channels", s.nchan)),
          "supervisor: %u modules, %u channels", c->nmod, s.nchan);
    if (!sandbox_privileged())
        sv_ev(UNPRIVILEGED, NULL, SV_NO_FIELDS,
              "supervisor: no CAP_SETPCAP (not root): modules keep this user's groups and "
              "bounding set, and cannot be given capabilities");
    start_due(&s);
    deliver_pending(&s);
    err = loop(&s);
    for (unsigned i = 0; i < s.nmod; i++)
        if (s.mod[i].cf && (s.mod[i].lc.state != LC_STOPPED || s.mod[i].violations))
            sv_ev(FINAL_STATE, s.mod[i].cf->name,
                  SV_FIELDS(SV_STR("state", sv_state_name(&s.mod[i])), SV_NUM("violations", s.mod[i].violations)),
                  "%s: %s, %u seccomp violations", s.mod[i].cf->name, sv_state_name(&s.mod[i]),
                  s.mod[i].violations);
    sv_ev(STOPPED, NULL, SV_NO_FIELDS, "supervisor: stopped");
    teardown(&s);
    return err < 0 ? 1 : 0;
}
