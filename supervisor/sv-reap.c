/* SPDX-License-Identifier: MIT */
/* Reaping a module: its process group and strays killed, its exit read and
 * logged, LE_EXITED posted (the lifecycle reclaims its channels and
 * decides about a restart). */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "sv-internal.h"

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
    return m->run_ns & CLONE_NEWPID;
}

static bool is_module(const struct sv *s, pid_t pid)
{
    for (unsigned i = 0; i < s->nmod; i++)
        if (s->mod[i].cf && s->mod[i].ch.pid == pid)
            return true;
    return false;
}

/* A running module's own orphan (a daemon it forked, whose parent exited,
 * is reparented to us, the subreaper): it runs with that module's uid,
 * which no module that died shares.  With dynamic uids every module has
 * one of its own; modules that share a uid (a supervisor that is not
 * root) cannot be told apart, and then every orphan goes at a death. */
static bool live_modules_own(const struct sv *s, pid_t pid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof(path), "/proc/%d", (int)pid);
    if (stat(path, &st) < 0)
        return false;
    bool live = false;
    for (unsigned i = 0; i < s->nmod; i++) {
        const struct sv_mod *m = &s->mod[i];
        if (!m->cf || m->run_uid != st.st_uid)
            continue;
        if (m->ch.pid <= 0 || m->reaped.pending)
            return false; /* a dead module's uid too */
        live = true;
    }
    return live;
}

/* Our children that are no module's, each reaped if dead, else (with
 * kill_them, unless a running module owns it) SIGKILLed: how many still
 * live. */
/* Reaps pid if it is dead: 1, else 0 (still running, or not ours). */
static int reap_if_dead(const struct sv *s, pid_t pid)
{
    siginfo_t si = { 0 };
    if (s->keeper < 0)
        return waitpid(pid, NULL, WNOHANG) != 0;
    return sv_keeper_reap(s, pid, true, &si) < 0 || si.si_pid != 0;
}

static unsigned stray_pass(const struct sv *s, bool kill_them)
{
    char path[64];
    int pid;
    unsigned left = 0;
    /* Orphans are reparented to the subreaper: the keeper when there is
     * one (and then we are its child too), else us. */
    pid_t reaper = s->keeper >= 0 ? getppid() : getpid();
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)reaper, (int)reaper);
    FILE *f = fopen(path, "re");
    while (f && fscanf(f, "%d", &pid) == 1) {
        if (pid == getpid() || is_module(s, pid) || reap_if_dead(s, pid))
            continue;
        if (!kill_them || live_modules_own(s, pid))
            continue;
        kill(pid, SIGKILL);
        left += !reap_if_dead(s, pid);
    }
    if (f)
        fclose(f);
    return left;
}

void sv_strays(const struct sv *s, bool kill_them)
{
    stray_pass(s, kill_them);
}

/* A module whose leader is reaped is dead for its lifecycle (LE_EXITED,
 * and so the reclaim) once none of its strays lives: SIGKILLed, they die
 * in microseconds, and their SIGCHLD wakes the loop.  A stray that
 * survives STRAYS_MS (uninterruptible sleep) is given up on, and said so. */
#define STRAYS_MS 1000

void sv_reap_strays(struct sv *s)
{
    bool any = false;
    for (unsigned i = 0; i < s->nmod; i++)
        any |= s->mod[i].cf && s->mod[i].reaped.pending;
    if (!any)
        return;
    unsigned left = stray_pass(s, true);
    uint64_t now = sv_now_ms();
    for (unsigned i = 0; i < s->nmod; i++) {
        struct sv_mod *m = &s->mod[i];
        if (!m->cf || !m->reaped.pending || (left && now < m->reaped.until_ms))
            continue;
        if (left)
            sv_ev(STRAYS, m->cf->name, SV_FIELDS(SV_NUM("count", left), SV_NUM("after_ms", STRAYS_MS)),
                  "%s: %u orphaned processes still alive %u ms after SIGKILL", m->cf->name, left, STRAYS_MS);
        m->reaped.pending = false;
        sv_post(s, i, (struct lc_in){ .ev = LE_EXITED, .clean = m->reaped.clean });
    }
}

bool sv_reaping(const struct sv *s, unsigned i)
{
    return s->mod[i].reaped.pending;
}

/* Its fds out of the loop and closed, but for its output pipe, which stays
 * open until EOF: its children may still write.  (A close alone would
 * leave an fd the keeper holds a copy of in the epoll set.) */
static void forget_child(struct sv *s, struct sv_mod *m)
{
    epoll_ctl(s->ep, EPOLL_CTL_DEL, m->ch.pidfd, NULL);
    if (m->ch.own_pidfd >= 0)
        epoll_ctl(s->ep, EPOLL_CTL_DEL, m->ch.own_pidfd, NULL);
    if (m->ch.listener >= 0)
        epoll_ctl(s->ep, EPOLL_CTL_DEL, m->ch.listener, NULL);
    int out = m->ch.out;
    m->ch.out = -1;
    sv_child_close(&m->ch);
    m->ch.out = out;
}

/* The leader reaped, its group killed first while the zombie still pins
 * the group's id; si its exit.  With a keeper, the module is its child:
 * the pidfd's readability is the news of the exit, and the keeper reaps
 * (only when asked, so the zombie waits for the group's kill).  -EAGAIN
 * when it has not exited. */
static int reap_leader(const struct sv *s, struct sv_mod *m, siginfo_t *si)
{
    if (s->keeper >= 0) {
        struct pollfd p = { .fd = m->ch.pidfd, .events = POLLIN };
        if (poll(&p, 1, 0) <= 0)
            return -EAGAIN;
        if (!own_pidns(m))
            kill(-m->ch.pid, SIGKILL);
        int r = sv_keeper_reap(s, m->ch.pid, false, si);
        if (r < 0) { /* reaped by a keeper's earlier request, from a supervisor that died after it */
            sv_ev(EXIT_LOST, m->cf->name, SV_FIELDS(SV_STR("error", strerror(-r))), "%s: its exit status is lost (%s)",
                  m->cf->name, strerror(-r));
            *si = (siginfo_t){ .si_code = CLD_KILLED, .si_status = SIGKILL };
        }
        return 0;
    }
    /* WNOWAIT: the leader stays a zombie while its group is killed. */
    if (waitid(P_PIDFD, (id_t)m->ch.pidfd, si, WEXITED | WNOHANG | WNOWAIT) < 0 || si->si_pid == 0)
        return -EAGAIN;
    if (!own_pidns(m))
        kill(-m->ch.pid, SIGKILL);
    if (waitid(P_PIDFD, (id_t)m->ch.pidfd, si, WEXITED | WNOHANG) < 0 || si->si_pid == 0)
        return -EAGAIN;
    return 0;
}

/* ---- the news of a death before its reaping ----
 *
 * In a pid namespace the supervisor's child is the namespace's init; its
 * exit, the news sv_reap waits for, comes after the kernel has torn the
 * namespaces down (an RCU grace period, a put per mount: up to
 * milliseconds).  The module's own process is watched too, through the
 * pidfd it sent before its exec (spawn.c): readable once its whole thread
 * group has exited, its memory unmapped.  Under a policy that lets it create no process
 * but threads (fork, vfork and clone3 refused, clone only with
 * CLONE_THREAD), that thread group is all of the module that ever ran, so
 * nothing that could write its channels is left: they are reclaimed at
 * once.  The init is our code, and writes nothing into them.  Without
 * such a policy a process the module forked may live on in the
 * namespace until the init's exit kills it: the reclaim waits for that,
 * as before.  The evidence is the kernel's: a pidfd of a process no
 * module ever held, not a message.  Without a pid namespace our pidfd is
 * the module's own, and under such a policy the same holds: the reclaim
 * need not wait for the reaping (a round trip to the keeper) nor for the
 * stray pass, which finds nothing of a module that cannot fork. */

/* The pidfd is asked again: the event may be an earlier incarnation's,
 * from the same batch as its reaping. */
static bool thread_group_gone(int pidfd)
{
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    return pidfd >= 0 && poll(&p, 1, 0) > 0;
}

bool sv_gone(struct sv *s, unsigned i)
{
    struct sv_mod *m = &s->mod[i];
    if (!thread_group_gone(sv_own_pidfd(m)))
        return false;
    if (sv_gone_watched(s, i))
        epoll_ctl(s->ep, EPOLL_CTL_DEL, m->ch.own_pidfd, NULL); /* readable for good */
    if (m->gone || !sv_gone_is_death(s, i) || !lc_live(m->lc.state))
        return false;
    m->gone = true;
    sv_channels_dead(s, i); /* first: the callers wait for it, not for the log */
    if (sv_gone_watched(s, i)) /* else its exit is logged in this same turn */
        sv_ev(GONE, m->cf->name, SV_NO_FIELDS, "%s: its process is gone: channels reclaimed, its exit follows",
              m->cf->name);
    return true;
}

/* Where a module watched so is killed, the module's own process gets the
 * SIGKILL: its init then reaps it, reports and exits by itself.  A SIGKILL
 * to the init would have the kernel kill the module from the init's exit,
 * and the module, the namespace's last process, would tear the namespaces
 * down before its own pidfd told anything.  The init too when the module
 * is gone already (or the signal fails): nothing is left to wait for. */
void sv_kill_hard(struct sv *s, unsigned i)
{
    struct sv_mod *m = &s->mod[i];
    if (m->ch.pid <= 0)
        return;
    if (!sv_gone_watched(s, i) || syscall(SYS_pidfd_send_signal, m->ch.own_pidfd, SIGKILL, NULL, 0) < 0 ||
        thread_group_gone(m->ch.own_pidfd))
        kill(m->ch.pid, SIGKILL); /* the module, or its init and so its whole namespace */
}

/* For the module's counters: our kill's reason first, then our stop. */
static enum sv_exit exit_kind(const struct sv_mod *m, struct exit_info e, const char *reason)
{
    if (reason && strncmp(reason, "hung", 4) == 0)
        return EXIT_HUNG;
    if (reason && strncmp(reason, "seccomp", 7) == 0)
        return EXIT_SECCOMP;
    if (m->lc.state == LC_STOPPING || m->lc.state == LC_TERMINATING || m->lc.state == LC_KILLED)
        return EXIT_STOPPED;
    if (e.code == CLD_EXITED)
        return e.status == 0 ? EXIT_CLEAN : EXIT_FAILED;
    return EXIT_CRASHED;
}

void sv_reap(struct sv *s, unsigned i)
{
    struct sv_mod *m = &s->mod[i];
    siginfo_t si = { 0 };
    char why[96];

    if (reap_leader(s, m, &si) < 0)
        return;
    if (m->spawning.sync >= 0)
        sv_spawn_step(s, i); /* what it said before it died: its failure, or its exec */
    sv_spawn_done(&m->spawning);
    pid_t pid = m->ch.pid;
    m->ch.pid = 0; /* reaped: what it left are strays now */
    if (m->ch.out >= 0)
        sv_output(s, i); /* its last words before the news of its death */
    struct exit_info e = module_exit(m, &si);
    const char *reason = m->lc.reason[0] ? m->lc.reason : NULL;
    bool clean = e.code == CLD_EXITED && e.status == 0 && !reason;
    describe_exit(e, why, sizeof(why));
    forget_child(s, m);
    snprintf(m->last_exit, sizeof(m->last_exit), "%s", why);
    snprintf(m->last_reason, sizeof(m->last_reason), "%s", reason ? reason : "");
    m->exits[exit_kind(m, e, reason)]++;
    unsigned long long up = sv_now_ms() - m->lc.since_ms;
    sv_ev_at(clean ? LOG_INFO : LOG_WARN, EXITED, m->cf->name,
             SV_FIELDS(SV_NUM("pid", pid), SV_NUM(e.code == CLD_EXITED ? "code" : "signal", e.status),
                       SV_NUM("core_dumped", e.code == CLD_DUMPED), SV_STR("reason", reason ? reason : ""),
                       SV_NUM("uptime_ms", up)),
             "%s: %s%s%s%s after %llu ms", m->cf->name, why, reason ? " (" : "", reason ? reason : "",
             reason ? ")" : "", up);
    /* In a pid namespace the kernel took everything down with its init. */
    m->reaped = (struct sv_reaped){ .pending = true, .clean = clean, .until_ms = sv_now_ms() + STRAYS_MS };
    if (own_pidns(m) || stray_pass(s, true) == 0) {
        m->reaped.pending = false;
        sv_post(s, i, (struct lc_in){ .ev = LE_EXITED, .clean = clean });
    }
}
