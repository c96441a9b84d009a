/* SPDX-License-Identifier: MIT */
/* The supervisor's one epoll loop: signals through signalfd, module deaths
 * through pidfds, module output through pipes, restarts by deadline. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fifo.h"
#include "log.h"
#include "notify.h"
#include "policy.h"
#include "reclaim.h"
#include "region.h"
#include "sandbox.h"
#include "sdnotify.h"
#include "spawn.h"
#include "sv-internal.h"
#include "sv.h"

static int ep_add(struct sv *s, int fd, enum ev_kind kind, unsigned idx)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)kind << 32 | idx };
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* ---- set-up ---- */

static int make_channels(struct sv *s)
{
    const struct conf *c = s->c;
    unsigned total = 0;
    for (unsigned i = 0; i < c->nmod; i++)
        total += c->mod[i].nconnects;
    s->chan = calloc(total ? total : 1, sizeof(*s->chan));
    if (!s->chan)
        return -ENOMEM;
    for (unsigned i = 0; i < c->nmod; i++) {
        for (unsigned j = 0; j < c->mod[i].nconnects; j++) {
            const struct conf_connect *cn = &c->mod[i].connects[j];
            struct sv_chan *ch = &s->chan[s->nchan];
            ch->client = (int)i;
            ch->server = conf_provider(c, cn->service);
            ch->ring[UIPC_SERVER] = uipc__bell_sender(&s->mod[ch->server].bell);
            ch->ring[UIPC_CLIENT] = uipc__bell_sender(&s->mod[i].bell);
            int err = ch->ring[UIPC_SERVER] < 0 ? ch->ring[UIPC_SERVER] : ch->ring[UIPC_CLIENT];
            if (err >= 0)
                err = uipc__region_create(cn->service, cn->slots ? cn->slots : UIPC_DEFAULT_SLOTS,
                                          cn->slot_size ? cn->slot_size : UIPC_DEFAULT_SLOT_SIZE,
                                          &ch->fd);
            if (err == 0 && (err = uipc__region_map(ch->fd, &ch->r)) < 0)
                close(ch->fd);
            if (err < 0) {
                sv_error("%s: channel to %s: %s", c->mod[i].name, cn->service, strerror(-err));
                close(ch->ring[UIPC_SERVER]);
                close(ch->ring[UIPC_CLIENT]);
                return err;
            }
            s->nchan++;
        }
    }
    /* Each end's position in its UIPC_CHANNELS, in build_manifest's order. */
    unsigned next[CONF_MAX_MODULES] = { 0 };
    for (unsigned k = 0; k < s->nchan; k++) {
        s->chan[k].idx[UIPC_SERVER] = next[s->chan[k].server]++;
        s->chan[k].idx[UIPC_CLIENT] = next[s->chan[k].client]++;
    }
    return 0;
}

/* Kahn's algorithm; the config was checked to have no cycle. */
static void start_order(struct sv *s)
{
    const struct conf *c = s->c;
    bool placed[CONF_MAX_MODULES] = { false };
    for (unsigned n = 0; n < c->nmod;) {
        for (unsigned i = 0; i < c->nmod; i++) {
            bool ready = !placed[i];
            for (unsigned j = 0; ready && j < c->mod[i].nafter; j++)
                ready = placed[conf_module_index(c, c->mod[i].after[j])];
            if (ready) {
                placed[i] = true;
                s->order[n++] = i;
            }
        }
    }
}

static int init_modules(struct sv *s)
{
    bool root = sandbox_privileged();
    int userns = -1; /* not tried yet */
    for (unsigned i = 0; i < s->c->nmod; i++) {
        struct sv_mod *m = &s->mod[i];
        m->cf = &s->c->mod[i];
        sv_sandbox_of(m, root, &userns);
        int bad = sv_sandbox_reach(m);
        if (bad < 0)
            return bad;
        if (!m->cf->pol)
            sv_warn("%s: no policy: every syscall is allowed", m->cf->name);
        m->deaths = calloc(m->cf->max_restarts + 1, sizeof(uint64_t));
        if (!m->deaths)
            return -ENOMEM;
        int err = uipc__bell_open(&m->bell);
        if (err == 0 && (m->ring = uipc__bell_sender(&m->bell)) < 0)
            err = m->ring;
        if (err < 0) {
            sv_error("%s: bell: %s", m->cf->name, strerror(-err));
            return err;
        }
        /* Its one slot holds the supervisor's words about each of its channels. */
        err = uipc__region_create("uipc.control", 1, UIPC_CTL_SLOT_SIZE, &m->ctl_fd);
        if (err == 0 && (err = uipc__region_map(m->ctl_fd, &m->ctl)) < 0)
            close(m->ctl_fd);
        if (err < 0)
            return err;
    }
    return 0;
}

/* ---- starting a module ---- */

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

/* Exactly the channels this module is part of, and their peers' bells,
 * in channel order (make_channels numbers each end's entries). */
static void build_manifest(const struct sv *s, unsigned i, struct manifest *mf)
{
    size_t len;
    mf->nkeep = 0;
    snprintf(mf->module, sizeof(mf->module), "UIPC_MODULE=%s", s->mod[i].cf->name);
    snprintf(mf->bell, sizeof(mf->bell), "UIPC_BELL=%d:%d", s->mod[i].bell.rx, s->mod[i].ring);
    mf->keep[mf->nkeep++] = s->mod[i].bell.rx;
    mf->keep[mf->nkeep++] = s->mod[i].ring;
    snprintf(mf->control, sizeof(mf->control), "UIPC_CONTROL=%d", s->mod[i].ctl_fd);
    mf->keep[mf->nkeep++] = s->mod[i].ctl_fd;
    snprintf(mf->heartbeat, sizeof(mf->heartbeat), "UIPC_HEARTBEAT_MS=%u", s->c->heartbeat_interval_ms);
    mf->env[0] = mf->module;
    mf->env[1] = mf->bell;
    mf->env[2] = mf->chans;
    mf->env[3] = mf->provides;
    mf->env[4] = mf->control;
    mf->env[5] = mf->heartbeat;
    mf->env[6] = NULL;
    len = (size_t)snprintf(mf->provides, sizeof(mf->provides), "UIPC_PROVIDES=");
    for (unsigned k = 0; k < s->mod[i].cf->nprovides; k++)
        len += (size_t)snprintf(mf->provides + len, sizeof(mf->provides) - len, "%s%s",
                                k ? "," : "", s->mod[i].cf->provides[k]);
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

static void mark_dead(struct sv *s, unsigned i);
static void after_death(struct sv *s, unsigned i, bool clean_exit);
static void on_output(struct sv *s, unsigned i);

void sv_start_module(struct sv *s, unsigned i)
{
    static struct manifest mf;
    struct sv_mod *m = &s->mod[i];
    const char *step;

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
                           .sb = &m->sb };
    int err = sv_spawn(&sp, &m->ch, &step);
    if (err < 0) {
        sv_error("%s: could not start %s: %s: %s", m->cf->name, m->cf->argv[0], step, strerror(-err));
        mark_dead(s, i);
        after_death(s, i, false);
        return;
    }
    if (ep_add(s, m->ch.pidfd, EV_PIDFD, i) < 0 || ep_add(s, m->ch.out, EV_OUTPUT, i) < 0 ||
        (m->ch.listener >= 0 && ep_add(s, m->ch.listener, EV_SECCOMP, i) < 0))
        sv_error("%s: epoll: %s", m->cf->name, strerror(errno));
    m->state = ST_RUNNING;
    m->started_ms = sv_now_ms();
    m->starts++;
    m->stop_term_ms = m->stop_kill_ms = 0;
    m->hung = NULL;
    m->stopped_for[0] = '\0';
    memset(m->reported, 0, sizeof(m->reported));
    m->ready = false;
    sv_info("%s: started, pid %d", m->cf->name, (int)m->ch.pid);
}

/* ---- deaths ---- */

struct exit_info {
    int code;   /* CLD_EXITED, CLD_KILLED or CLD_DUMPED */
    int status; /* the exit code or the signal */
};

/* How the module ended: with a pid namespace its init reported the
 * module's own wait status before exiting. */
static struct exit_info module_exit(struct sv_mod *m, const siginfo_t *si)
{
    int ws;
    if (m->ch.status < 0 || read(m->ch.status, &ws, sizeof(ws)) != (ssize_t)sizeof(ws))
        return (struct exit_info){ si->si_code, si->si_status };
    if (WIFEXITED(ws))
        return (struct exit_info){ CLD_EXITED, WEXITSTATUS(ws) };
    return (struct exit_info){ WCOREDUMP(ws) ? CLD_DUMPED : CLD_KILLED, WTERMSIG(ws) };
}

static void describe_exit(struct exit_info e, char *buf, size_t len)
{
    if (e.code == CLD_EXITED)
        snprintf(buf, len, "exited with code %d", e.status);
    else
        snprintf(buf, len, "killed by signal %s%s", sv_signame(e.status).s,
                 e.code == CLD_DUMPED ? " (core dumped)" : "");
}

/* Reaped: its sides of the channels go down, and its calls are answered. */
static void mark_dead(struct sv *s, unsigned i)
{
    sv_channels_dead(s, i);
    s->mod[i].state = ST_STOPPED;
}

/* Restart policy, with every death counted in the intensity window. */
static void after_death(struct sv *s, unsigned i, bool clean_exit)
{
    struct sv_mod *m = &s->mod[i];
    const struct conf_module *cf = m->cf;
    uint64_t now = sv_now_ms();

    if (s->stopping)
        return;
    if (m->held) {
        sv_info("%s: stopped by the operator", cf->name);
        return;
    }
    if (m->restart_now) { /* the operator's restart: no backoff, not counted */
        m->restart_now = false;
        sv_start_module(s, i);
        return;
    }
    if (cf->restart == RESTART_NEVER || (cf->restart == RESTART_ON_FAILURE && clean_exit)) {
        sv_info("%s: not restarted (restart = %s)", cf->name,
                cf->restart == RESTART_NEVER ? "never" : "on-failure");
        return;
    }
    unsigned cap = cf->max_restarts + 1;
    m->deaths[m->ndeaths++ % cap] = now;
    unsigned recent = 0;
    for (unsigned k = 0; k < cap && k < m->ndeaths; k++)
        recent += now - m->deaths[k] < (uint64_t)cf->restart_window_s * 1000;
    if (recent > cf->max_restarts) {
        m->state = ST_FAILED;
        sv_error("%s: given up: %u deaths within %u s (max_restarts = %u)", cf->name, recent,
                 cf->restart_window_s, cf->max_restarts);
        return;
    }
    unsigned delay = cf->backoff_ms;
    for (unsigned k = 1; k < recent && delay < cf->backoff_max_ms; k++)
        delay *= 2;
    if (delay > cf->backoff_max_ms)
        delay = cf->backoff_max_ms;
    m->state = ST_BACKOFF;
    m->restart_at_ms = now + delay;
    sv_info("%s: restart in %u ms", cf->name, delay);
}

/* The processes a module forked die with it: they hold its mappings, and
 * would write into its channels after the reclaim.  Its process group
 * (its own since setsid) is killed while its leader, a zombie, still
 * pins the group's id.  Whatever it left is orphaned to us (we are a
 * child subreaper): once the leader is reaped, every child of ours that
 * is no module is killed and reaped, so the reclaim runs on a channel no
 * one else writes; that catches a process that left the group too.  In
 * a pid namespace the kernel takes everything down with its init. */
static bool own_pidns(const struct sv_mod *m)
{
    return m->cf->namespaces & CLONE_NEWPID;
}

static bool is_module(const struct sv *s, pid_t pid)
{
    for (unsigned i = 0; i < s->c->nmod; i++)
        if (s->mod[i].ch.pid == pid)
            return true;
    return false;
}

/* Our children that are no module's: reaped; with kill_them, SIGKILLed
 * first and waited for (SIGKILLed: milliseconds; at most 1 s). */
static void strays(const struct sv *s, bool kill_them)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
    for (int tries = 0; tries < 200; tries++) {
        FILE *f = fopen(path, "re");
        int pid, left = 0;
        while (f && fscanf(f, "%d", &pid) == 1) {
            if (is_module(s, pid))
                continue;
            if (kill_them)
                kill(pid, SIGKILL);
            left += waitpid(pid, NULL, WNOHANG) == 0;
        }
        if (f)
            fclose(f);
        if (!left || !kill_them)
            return;
        usleep(5000);
    }
    sv_warn("supervisor: orphaned processes still alive after SIGKILL");
}

static void on_pidfd(struct sv *s, unsigned i)
{
    struct sv_mod *m = &s->mod[i];
    siginfo_t si = { 0 };
    char why[96];

    /* WNOWAIT: the leader stays a zombie while its group is killed. */
    if (waitid(P_PIDFD, (id_t)m->ch.pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
        return;
    if (!own_pidns(m))
        kill(-m->ch.pid, SIGKILL);
    if (waitid(P_PIDFD, (id_t)m->ch.pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
        return;
    m->ch.pid = 0; /* reaped: what it left are strays now */
    if (!own_pidns(m))
        strays(s, true);
    if (m->ch.out >= 0)
        on_output(s, i); /* its last words before the news of its death */
    struct exit_info e = module_exit(m, &si);
    bool clean = e.code == CLD_EXITED && e.status == 0 && !m->stopped_for[0];
    describe_exit(e, why, sizeof(why));
    epoll_ctl(s->ep, EPOLL_CTL_DEL, m->ch.pidfd, NULL);
    if (m->ch.listener >= 0)
        epoll_ctl(s->ep, EPOLL_CTL_DEL, m->ch.listener, NULL);
    int out = m->ch.out; /* stays open until EOF: its children may still write */
    m->ch.out = -1;
    sv_child_close(&m->ch);
    m->ch.out = out;
    const char *reason = m->hung ? "hung" : m->stopped_for[0] ? m->stopped_for : NULL;
    snprintf(m->last_exit, sizeof(m->last_exit), "%s", why);
    snprintf(m->last_reason, sizeof(m->last_reason), "%s", reason ? reason : "");
    sv_log(clean ? LOG_INFO : LOG_WARN, "%s: %s%s%s%s after %llu ms", m->cf->name, why,
           reason ? " (" : "", reason ? reason : "", reason ? ")" : "",
           (unsigned long long)(sv_now_ms() - m->started_ms));
    mark_dead(s, i);
    after_death(s, i, clean);
}

/* ---- module output ---- */

static void flush_line(struct sv_mod *m)
{
    m->line[m->linelen] = '\0';
    sv_info("%s: %s", m->cf->name, m->line);
    m->linelen = 0;
}

static void on_output(struct sv *s, unsigned i)
{
    struct sv_mod *m = &s->mod[i];
    char buf[4096];
    /* Bounded per event: a module that floods cannot starve the loop. */
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n = read(m->ch.out, buf, sizeof(buf));
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) { /* EOF: the module and its children closed it */
            if (m->linelen)
                flush_line(m);
            epoll_ctl(s->ep, EPOLL_CTL_DEL, m->ch.out, NULL);
            close(m->ch.out);
            m->ch.out = -1;
            return;
        }
        for (ssize_t k = 0; k < n; k++) {
            if (buf[k] == '\n' || m->linelen == OUT_LINE - 1) {
                if (buf[k] != '\n')
                    m->line[m->linelen++] = buf[k];
                flush_line(m);
            } else {
                m->line[m->linelen++] = buf[k];
            }
        }
    }
}

/* ---- hangs: no heartbeat ----
 * The verdict rests on one word only the module itself and we can write:
 * the beat in its control region.  libmodule beats from its loop, before
 * each handler and each delivery, so a module that takes commands off its
 * FIFOs beats however long its queue stays full.  FIFO positions are no
 * evidence: a client writes the submit FIFO's tail and can rewrite its
 * head, so judging a server by them let a client frame it as hung. */

static void kill_hung(struct sv *s, unsigned i, const char *why)
{
    struct sv_mod *m = &s->mod[i];
    m->hung = why;
    /* Killed now, reclaimed only once reaped (on_pidfd): never from a
     * process that may still run. */
    kill(m->ch.pid, SIGKILL);
}

static void check_beat(struct sv *s, unsigned i, unsigned hang_ms, uint64_t now)
{
    struct sv_mod *m = &s->mod[i];
    uint64_t beat = atomic_load(&m->ctl.side[UIPC_CLIENT]->beat_ms);
    uint64_t last = beat > m->started_ms ? beat : m->started_ms;
    /* A module asleep in its own loop (uipc_fd) beats only when that loop
     * calls uipc_poll, which it does when its fd is readable: ring it once
     * the beat is an interval old.  An idle loop answers and beats; a
     * stuck one does not, and misses its timeout.  A module asleep in
     * uipc_run beats by itself; at worst the ring wakes it a little early. */
    if (now > last + s->c->heartbeat_interval_ms)
        uipc__notify(m->ctl.side[UIPC_CLIENT], m->ring);
    if (now <= last || now - last <= hang_ms)
        return;
    sv_warn("%s: hung: no heartbeat for %llu ms (hang_timeout_ms = %u); killing", m->cf->name,
            (unsigned long long)(now - last), hang_ms);
    kill_hung(s, i, "no heartbeat");
}

static void check_hangs(struct sv *s)
{
    uint64_t now = sv_now_ms();
    if (now < s->next_check_ms)
        return;
    s->next_check_ms = now + s->c->heartbeat_interval_ms;
    for (unsigned i = 0; i < s->c->nmod; i++) {
        struct sv_mod *m = &s->mod[i];
        unsigned hang_ms = m->cf->hang_timeout_ms ? m->cf->hang_timeout_ms : s->c->hang_timeout_ms;
        if (m->state == ST_RUNNING && m->ch.pid > 0 && !m->hung && !m->stop_kill_ms && !s->stopping)
            check_beat(s, i, hang_ms, now);
    }
    sv_check_violations(s);
}

/* ---- seccomp: syscalls a module's policy does not allow ---- */

static bool first_report(struct sv_mod *m, int nr)
{
    if (nr < 0 || nr >= 512)
        return true;
    uint64_t bit = 1ull << (nr % 64);
    bool first = !(m->reported[nr / 64] & bit);
    m->reported[nr / 64] |= bit;
    return first;
}

/* kill: the module is stopped (reclaimed and restarted as for any crash);
 * errno: the call fails; log: it runs.  The last two are logged once per
 * syscall and run, all three counted. */
static void on_seccomp(struct sv *s, unsigned i, uint32_t events)
{
    struct sv_mod *m = &s->mod[i];
    const struct policy *pol = m->cf->pol;
    struct sv_notif n;
    char name[32];

    /* Hang-up alone: no process uses the filter any more, and a receive
     * would block.  Each notification is counted, so with EPOLLIN a
     * receive returns at once (-ENOENT if its caller died meanwhile). */
    if (!(events & EPOLLIN)) {
        epoll_ctl(s->ep, EPOLL_CTL_DEL, m->ch.listener, NULL);
        return;
    }
    int r = sv_notify_recv(m->ch.listener, &n);
    if (r < 0) {
        if (r != -ENOENT) /* nothing left to notify: stop watching until it is reaped */
            epoll_ctl(s->ep, EPOLL_CTL_DEL, m->ch.listener, NULL);
        return;
    }
    if ((n.nr == SYS_execve || n.nr == SYS_execveat) && pol->exec_allowed) {
        sv_notify_reply(m->ch.listener, n.id, 0);
        return;
    }
    policy_syscall_name(n.nr, name, sizeof(name));
    m->violations++;
    switch (pol->action) {
    case POLICY_KILL:
        sv_error("%s: stopped by seccomp: %s (%d), pid %d", m->cf->name, name, n.nr, (int)n.pid);
        snprintf(m->stopped_for, sizeof(m->stopped_for), "seccomp: %s", name);
        kill(n.pid, SIGKILL);     /* the caller, which may be a child of the module */
        kill(m->ch.pid, SIGKILL); /* the module, or its init and so its whole namespace */
        sv_notify_reply(m->ch.listener, n.id, ENOSYS);
        break;
    case POLICY_ERRNO:
        if (first_report(m, n.nr))
            sv_warn("%s: denied by seccomp: %s (%d) fails with %s", m->cf->name, name, n.nr,
                    strerrorname_np(pol->err));
        sv_notify_reply(m->ch.listener, n.id, pol->err);
        break;
    case POLICY_LOG:
        if (first_report(m, n.nr))
            sv_warn("%s: not in its policy, allowed (@default log): %s (%d)", m->cf->name, name, n.nr);
        sv_notify_reply(m->ch.listener, n.id, 0);
        break;
    }
}

/* ---- stopping: a module on request, or all of them at shutdown ---- */

/* First the request through the control region (uipc_run returns 0);
 * SIGTERM at half the timeout; SIGKILL at the timeout (on_timers). */
void sv_request_stop(struct sv *s, unsigned i)
{
    struct sv_mod *m = &s->mod[i];
    uint64_t now = sv_now_ms();
    if (m->ch.pid == 0 || m->stop_kill_ms)
        return; /* not running, or already being stopped */
    m->stop_term_ms = now + s->c->shutdown_timeout_ms / 2;
    m->stop_kill_ms = now + s->c->shutdown_timeout_ms;
    sv_info("%s: stopping", m->cf->name);
    atomic_fetch_or(&m->ctl.side[UIPC_CLIENT]->ctl, UIPC_CTL_STOP);
    uipc__notify(m->ctl.side[UIPC_CLIENT], m->ring);
}

static void stop_escalate(struct sv *s, unsigned i, uint64_t now)
{
    struct sv_mod *m = &s->mod[i];
    if (m->ch.pid == 0 || !m->stop_kill_ms)
        return;
    if (m->stop_term_ms && now >= m->stop_term_ms) {
        sv_info("%s: still running, SIGTERM", m->cf->name);
        kill(m->ch.pid, SIGTERM);
        m->stop_term_ms = 0;
    }
    if (now >= m->stop_kill_ms) {
        sv_warn("%s: still running after %u ms, SIGKILL", m->cf->name, s->c->shutdown_timeout_ms);
        kill(m->ch.pid, SIGKILL);
        m->stop_kill_ms = UINT64_MAX; /* sent: wait for the reaping */
    }
}

/* Shutdown goes in reverse start order, one module at a time. */
static void stop_next(struct sv *s)
{
    for (unsigned n = s->c->nmod; n-- > 0;) {
        unsigned i = s->order[n];
        if (s->mod[i].ch.pid > 0) {
            sv_request_stop(s, i);
            return;
        }
    }
}

static void begin_shutdown(struct sv *s, int sig)
{
    if (s->stopping)
        return;
    sv_info("supervisor: %s received, stopping modules", sv_signame(sig).s);
    s->stopping = true;
    sv_sd_notify("STOPPING=1\nSTATUS=stopping modules");
    for (unsigned i = 0; i < s->c->nmod; i++)
        if (s->mod[i].state == ST_BACKOFF || s->mod[i].state == ST_WAITING)
            s->mod[i].state = ST_STOPPED;
    stop_next(s);
}

static bool any_running(const struct sv *s)
{
    for (unsigned i = 0; i < s->c->nmod; i++)
        if (s->mod[i].ch.pid > 0)
            return true;
    return false;
}

/* ---- readiness, and starting in 'after' order ---- */

static void check_ready(struct sv *s)
{
    for (unsigned i = 0; i < s->c->nmod; i++) {
        struct sv_mod *m = &s->mod[i];
        if (m->state != ST_RUNNING || m->ready ||
            !(atomic_load(&m->ctl.side[UIPC_CLIENT]->ctl) & UIPC_CTL_READY))
            continue;
        m->ready = true;
        sv_info("%s: ready after %llu ms", m->cf->name, (unsigned long long)(sv_now_ms() - m->started_ms));
    }
}

static bool deps_ready(const struct sv *s, unsigned i)
{
    const struct conf_module *cf = s->mod[i].cf;
    for (unsigned j = 0; j < cf->nafter; j++) {
        const struct sv_mod *dep = &s->mod[conf_module_index(s->c, cf->after[j])];
        if (dep->state != ST_RUNNING || !dep->ready)
            return false;
    }
    return true;
}

/* A module starts once every module in its 'after' is ready. */
static void start_due(struct sv *s)
{
    for (unsigned n = 0; n < s->c->nmod && !s->stopping; n++) {
        unsigned i = s->order[n];
        if (s->mod[i].state == ST_WAITING && deps_ready(s, i))
            sv_start_module(s, i);
    }
}

/* ---- systemd: readiness, status, watchdog ---- */

/* READY=1 once every module has been started and none is still coming
 * up; STATUS= whenever the counts change. */
static void tell_systemd(struct sv *s)
{
    unsigned n[SHOWN_COUNT] = { 0 };
    bool settled = true;
    for (unsigned i = 0; i < s->c->nmod; i++) {
        enum sv_shown k = sv_shown_state(&s->mod[i]);
        n[k]++;
        settled = settled && k != SHOWN_STARTING && s->mod[i].starts > 0;
    }
    char msg[200];
    snprintf(msg, sizeof(msg), "%sSTATUS=%u modules: %u ready, %u starting, %u backoff, %u failed, %u stopped",
             settled && !s->told_ready ? "READY=1\n" : "", s->c->nmod, n[SHOWN_READY], n[SHOWN_STARTING],
             n[SHOWN_BACKOFF], n[SHOWN_FAILED], n[SHOWN_STOPPED]);
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
    uint64_t now = sv_now_ms(), next = UINT64_MAX;
    for (unsigned i = 0; i < s->c->nmod; i++) {
        const struct sv_mod *m = &s->mod[i];
        uint64_t t = m->stop_term_ms ? m->stop_term_ms : m->stop_kill_ms;
        if (m->ch.pid > 0 && t && t < next)
            next = t;
    }
    if (s->ctl) {
        int c = ctl_timeout(s->ctl);
        if (c >= 0 && now + (uint64_t)c < next)
            next = now + (uint64_t)c;
    }
    for (unsigned i = 0; i < s->c->nmod && !s->stopping; i++)
        if (s->mod[i].state == ST_WAITING || (s->mod[i].state == ST_RUNNING && !s->mod[i].ready))
            if (now + READY_POLL_MS < next)
                next = now + READY_POLL_MS;
    if (!s->stopping && s->next_check_ms < next)
        next = s->next_check_ms;
    if (s->watchdog_ms && s->next_watchdog_ms < next)
        next = s->next_watchdog_ms;
    for (unsigned i = 0; i < s->c->nmod; i++)
        if (s->mod[i].state == ST_BACKOFF && !s->draining && s->mod[i].restart_at_ms < next)
            next = s->mod[i].restart_at_ms;
    if (next == UINT64_MAX)
        return -1;
    return next <= now ? 0 : (int)(next - now);
}

static void on_timers(struct sv *s)
{
    uint64_t now = sv_now_ms();
    for (unsigned i = 0; i < s->c->nmod; i++)
        stop_escalate(s, i, now);
    for (unsigned n = 0; n < s->c->nmod; n++) {
        unsigned i = s->order[n];
        /* Draining holds restarts: a restarted server would open its service. */
        if (s->mod[i].state == ST_BACKOFF && !s->draining && now >= s->mod[i].restart_at_ms)
            sv_start_module(s, i);
    }
    if (s->ctl)
        ctl_expire(s->ctl);
}

static void on_signal(struct sv *s)
{
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        if (si.ssi_signo == SIGHUP) /* a terminal going away, or a reload asked for: neither stops us */
            sv_info("supervisor: SIGHUP ignored (there is no reload; restart a module with uipcctl)");
        else if (si.ssi_signo == SIGCHLD)
            strays(s, false);
        else
            begin_shutdown(s, (int)si.ssi_signo);
}

static void dispatch(struct sv *s, uint64_t data, uint32_t events)
{
    unsigned idx = (unsigned)data;
    switch ((enum ev_kind)(data >> 32)) {
    case EV_SIGNAL: on_signal(s); break;
    case EV_PIDFD: on_pidfd(s, idx); break;
    case EV_OUTPUT: on_output(s, idx); break;
    case EV_SECCOMP: on_seccomp(s, idx, events); break;
    case EV_CONTROL: ctl_process(s->ctl); break;
    }
}

static int loop(struct sv *s)
{
    struct epoll_event ev[32];
    while (!s->stopping || any_running(s)) {
        int n = epoll_wait(s->ep, ev, 32, next_timeout(s));
        if (n < 0 && errno != EINTR)
            return -errno;
        /* How long a turn takes, from the end of the wait: what a module
         * could stretch if anything here blocked on it (uipcctl status). */
        uint64_t t0 = sv_now_ms();
        for (int k = 0; k < n; k++)
            dispatch(s, ev[k].data.u64, ev[k].events);
        on_timers(s);
        check_ready(s);
        start_due(s);
        check_hangs(s);
        if (s->stopping)
            stop_next(s);
        else
            tell_systemd(s);
        feed_watchdog(s);
        uint64_t took = sv_now_ms() - t0;
        s->loop_max_ms = took > s->loop_max_ms ? took : s->loop_max_ms;
        s->loop_turns++;
    }
    /* Output the modules wrote just before they died. */
    for (unsigned i = 0; i < s->c->nmod; i++)
        if (s->mod[i].ch.out >= 0)
            on_output(s, i);
    return 0;
}

static int setup_signals(struct sv *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
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
    for (unsigned i = 0; i < s->c->nmod; i++) {
        uipc__bell_close(&s->mod[i].bell);
        if (s->mod[i].ring >= 0)
            close(s->mod[i].ring);
        if (s->mod[i].ch.out >= 0)
            close(s->mod[i].ch.out);
        free(s->mod[i].deaths);
        if (s->mod[i].ctl.base) {
            uipc__region_unmap(&s->mod[i].ctl);
            close(s->mod[i].ctl_fd);
        }
    }
    for (unsigned k = 0; k < s->nchan; k++) {
        uipc__region_unmap(&s->chan[k].r);
        close(s->chan[k].fd);
        close(s->chan[k].ring[UIPC_SERVER]);
        close(s->chan[k].ring[UIPC_CLIENT]);
    }
    free(s->chan);
    if (s->sigfd >= 0)
        close(s->sigfd);
    if (s->ep >= 0)
        close(s->ep);
}

int sv_run(struct conf *c)
{
    static struct sv s;
    memset(&s, 0, sizeof(s));
    s.c = c;
    s.sigfd = -1;
    s.started_ms = sv_now_ms();
    for (unsigned i = 0; i < CONF_MAX_MODULES; i++)
        s.mod[i].bell.rx = s.mod[i].ring = s.mod[i].ch.out = s.mod[i].ch.listener = s.mod[i].ch.status = -1;
    sv_log_level(c->log_level);
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    int err = s.ep < 0 ? -errno : setup_signals(&s);
    if (err == 0)
        err = init_modules(&s);
    if (err == 0)
        err = make_channels(&s);
    /* Every sender is connected: nobody else may connect to a bell now. */
    for (unsigned i = 0; i < c->nmod; i++)
        uipc__bell_seal(&s.mod[i].bell);
    if (err == 0 && (err = ctl_open(c->control_socket, c->control_from_modules, sv_control, sv_control_release,
                                     &s, &s.ctl)) < 0)
        sv_error("supervisor: control socket %s: %s", c->control_socket,
                 err == -EADDRINUSE ? "another supervisor listens there" : strerror(-err));
    if (err == 0 && ep_add(&s, ctl_fd(s.ctl), EV_CONTROL, 0) < 0)
        err = -errno;
    if (err < 0) {
        sv_error("supervisor: set-up failed: %s", strerror(-err));
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
        sv_warn("supervisor: PR_SET_DUMPABLE: %s", strerror(errno));
    start_order(&s);
    sv_info("supervisor: %u modules, %u channels", c->nmod, s.nchan);
    if (!sandbox_privileged())
        sv_warn("supervisor: no CAP_SETPCAP (not root): modules keep this user's groups and "
                "bounding set, and cannot be given capabilities");
    for (unsigned i = 0; i < c->nmod; i++)
        s.mod[i].state = ST_WAITING;
    start_due(&s);
    err = loop(&s);
    for (unsigned i = 0; i < c->nmod; i++)
        if (s.mod[i].state != ST_STOPPED || s.mod[i].violations)
            sv_info("%s: %s, %u seccomp violations", c->mod[i].name, sv_state_name(&s.mod[i]),
                    s.mod[i].violations);
    sv_info("supervisor: stopped");
    teardown(&s);
    return err < 0 ? 1 : 0;
}
