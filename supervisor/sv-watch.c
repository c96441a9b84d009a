/* SPDX-License-Identifier: MIT */
/* Watching running modules: heartbeats (LE_HUNG), readiness (LE_READY),
 * protocol reports (sv-channel.c) and seccomp notifications
 * (LE_VIOLATION).  What happens to the module is the lifecycle's call. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>

#include "log.h"
#include "notify.h"
#include "policy.h"
#include "sv-internal.h"

/* ---- hangs: no heartbeat ----
 * The verdict rests on one word only the module itself and we can write:
 * the beat in its control region.  libmodule beats from its loop, before
 * each handler and each delivery, so a module that takes commands off its
 * FIFOs beats however long its queue stays full.  FIFO positions are no
 * evidence: a client writes the submit FIFO's tail and can rewrite its
 * head, so judging a server by them let a client frame it as hung. */

static void check_beat(struct sv *s, unsigned i, uint64_t now)
{
    struct sv_mod *m = &s->mod[i];
    unsigned hang_ms = m->cf->hang_timeout_ms ? m->cf->hang_timeout_ms : s->c->hang_timeout_ms;
    uint64_t beat = atomic_load(&m->ctl.side[UIPC_CLIENT]->beat_ms);
    uint64_t last = beat > m->lc.since_ms ? beat : m->lc.since_ms;
    /* A module asleep in its own loop (uipc_fd) beats only when that loop
     * calls uipc_poll, which it does when its fd is readable: ring it once
     * the beat is an interval old.  An idle loop answers and beats; a
     * stuck one does not, and misses its timeout.  A module asleep in
     * uipc_run beats by itself; at worst the ring wakes it a little early. */
    if (now > last + s->c->heartbeat_interval_ms)
        uipc__notify(m->ctl.side[UIPC_CLIENT], m->ring);
    if (!lc_hung(now, beat, m->lc.since_ms, hang_ms))
        return;
    sv_ev(HUNG, m->cf->name, SV_FIELDS(SV_NUM("silent_ms", now - last), SV_NUM("hang_timeout_ms", hang_ms)),
          "%s: hung: no heartbeat for %llu ms (hang_timeout_ms = %u); killing", m->cf->name,
          (unsigned long long)(now - last), hang_ms);
    /* Killed now, reclaimed only once reaped: never from a process that
     * may still run. */
    sv_post(s, i, (struct lc_in){ .ev = LE_HUNG, .reason = "hung" });
}

static void check_ready(struct sv *s, unsigned i)
{
    struct sv_mod *m = &s->mod[i];
    if (m->lc.state != LC_STARTING || !(atomic_load(&m->ctl.side[UIPC_CLIENT]->ctl) & UIPC_CTL_READY))
        return;
    unsigned long long up = sv_now_ms() - m->lc.since_ms;
    sv_ev(READY, m->cf->name, SV_FIELDS(SV_NUM("uptime_ms", up)), "%s: ready after %llu ms", m->cf->name, up);
    sv_post_event(s, i, LE_READY);
}

void sv_watch(struct sv *s)
{
    uint64_t now = sv_now_ms();
    for (unsigned i = 0; i < s->nmod; i++)
        if (s->mod[i].cf)
            check_ready(s, i);
    if (now < s->next_check_ms)
        return;
    s->next_check_ms = now + s->c->heartbeat_interval_ms;
    for (unsigned i = 0; i < s->nmod; i++)
        if (s->mod[i].cf && lc_watched(s->mod[i].lc.state) && s->mod[i].ch.pid > 0 && !s->stopping)
            check_beat(s, i, now);
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

/* By syscall, for uipcctl metrics: the first SV_VIOL_NAMES - 1 syscalls
 * seen by name, the rest together (nr -1): a module cannot grow the
 * supervisor's memory by trying every syscall. */
static unsigned viol_index(const struct sv_mod *m, int nr)
{
    unsigned k = 0;
    while (k < m->nviol && m->viol[k].nr != nr)
        k++;
    return k;
}

static void count_violation(struct sv_mod *m, int nr)
{
    unsigned k = viol_index(m, nr);
    if (k == m->nviol && m->nviol >= SV_VIOL_NAMES - 1)
        k = viol_index(m, nr = -1); /* no room for its name: the rest, together */
    if (k == m->nviol)
        m->viol[m->nviol++] = (struct sv_viol){ nr, 0 };
    m->viol[k].n++;
}

/* kill: the module is stopped (reclaimed and restarted as for any crash);
 * errno: the call fails; log: it runs.  The last two are logged once per
 * syscall and run, all three counted. */
static const char *errno_name(int e)
{
    const char *name = strerrorname_np(e);
    return name ? name : "?";
}

static void judge(struct sv *s, unsigned i, const struct sv_notif *n)
{
    struct sv_mod *m = &s->mod[i];
    const struct policy *pol = m->run_pol;
    struct lc_in kill_it = { .ev = LE_VIOLATION };
    char name[32];
    policy_syscall_name(n->nr, name, sizeof(name));
    m->violations++;
    count_violation(m, n->nr);
    switch (pol->action) {
    case POLICY_KILL:
        sv_ev(VIOLATION, m->cf->name, SV_FIELDS(SV_STR("syscall", name), SV_NUM("nr", n->nr), SV_NUM("pid", n->pid)),
              "%s: stopped by seccomp: %s (%d), pid %d", m->cf->name, name, n->nr, (int)n->pid);
        snprintf(kill_it.reason, sizeof(kill_it.reason), "seccomp: %s", name);
        kill(n->pid, SIGKILL); /* the caller, which may be a child of the module */
        sv_notify_reply(m->ch.listener, n->id, ENOSYS);
        sv_post(s, i, kill_it); /* the module, or its init: its lifecycle's SIGKILL */
        break;
    case POLICY_ERRNO:
        if (first_report(m, n->nr))
            sv_ev(DENIED, m->cf->name,
                  SV_FIELDS(SV_STR("syscall", name), SV_NUM("nr", n->nr), SV_STR("errno", errno_name(pol->err))),
                  "%s: denied by seccomp: %s (%d) fails with %s", m->cf->name, name, n->nr, errno_name(pol->err));
        sv_notify_reply(m->ch.listener, n->id, pol->err);
        break;
    case POLICY_LOG:
        if (first_report(m, n->nr))
            sv_ev(SYSCALL_LOGGED, m->cf->name, SV_FIELDS(SV_STR("syscall", name), SV_NUM("nr", n->nr)),
                  "%s: not in its policy, allowed (@default log): %s (%d)", m->cf->name, name, n->nr);
        sv_notify_reply(m->ch.listener, n->id, 0);
        break;
    }
}

void sv_seccomp(struct sv *s, unsigned i, uint32_t events)
{
    struct sv_mod *m = &s->mod[i];
    struct sv_notif n;

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
    if ((n.nr == SYS_execve || n.nr == SYS_execveat) && m->run_pol->exec_allowed) {
        sv_notify_reply(m->ch.listener, n.id, 0);
        return;
    }
    judge(s, i, &n);
}
