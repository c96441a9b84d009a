/* SPDX-License-Identifier: MIT */
/* The keeper (keeper.h): a loop over two fds, its signals and the
 * supervisor's socket.  It holds what a new supervisor needs, reaps what
 * it is told to, and starts a new supervisor from the last checkpoint
 * when the running one dies; nothing else. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "keeper.h"
#include "log.h"
#include "sandbox.h"
#include "sv-internal.h"

#define BACKOFF_FIRST_MS 100 /* a supervisor that keeps failing to take over waits this, */
#define BACKOFF_MAX_MS 5000  /* doubling to this */

struct fdset {
    int fd[KEEP_MAX_FDS], num[KEEP_MAX_FDS];
    unsigned n;
};

static struct keeper {
    pid_t worker;           /* the supervisor; 0 between two */
    int sock;               /* our end of its socket, or -1 */
    int sigfd;
    struct fdset kept, next; /* the last checkpoint, and one coming in */
    bool stopping;          /* SIGTERM or SIGINT: its exit is ours */
    char exe[PATH_MAX];
    char **argv;
    bool checkpointed;       /* the running supervisor committed a checkpoint */
    unsigned failed_starts;  /* supervisors in a row that died before theirs */
    uint64_t restart_at_ms;  /* a new supervisor due then; 0: none */
} k = { .sock = -1, .sigfd = -1 };

static void fdset_clear(struct fdset *s)
{
    for (unsigned i = 0; i < s->n; i++)
        close(s->fd[i]);
    s->n = 0;
}

/* ---- the supervisor's messages ---- */

static void take_fds(const struct keep_msg *m, const struct msghdr *mh)
{
    struct cmsghdr *c = CMSG_FIRSTHDR(mh);
    unsigned got = c && c->cmsg_type == SCM_RIGHTS ? (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) : 0;
    int *fds = got ? (int *)(void *)CMSG_DATA(c) : NULL;
    for (unsigned i = 0; i < got; i++) {
        if (i < (unsigned)m->n && m->n <= KEEP_BATCH && k.next.n < KEEP_MAX_FDS) {
            k.next.fd[k.next.n] = fds[i];
            k.next.num[k.next.n++] = m->num[i];
        } else {
            close(fds[i]);
        }
    }
}

static void reap(const struct keep_msg *m)
{
    siginfo_t si = { 0 };
    struct keep_msg r = { .kind = KEEP_STATUS, .pid = m->pid };
    if (m->pid <= 0 || m->pid == k.worker) {
        r.flag = -EINVAL;
    } else if (waitid(P_PID, (id_t)m->pid, &si, WEXITED | (m->flag ? WNOHANG : 0)) < 0) {
        r.flag = -errno;
    } else {
        r.flag = si.si_pid != 0;
        r.code = si.si_code;
        r.status = si.si_status;
    }
    ssize_t n = send(k.sock, &r, sizeof(r), MSG_NOSIGNAL);
    (void)n;
}

static void on_message(void)
{
    static struct keep_msg m;
    union { char buf[CMSG_SPACE(KEEP_BATCH * sizeof(int))]; struct cmsghdr align; } u;
    struct iovec iov = { &m, sizeof(m) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
    ssize_t n = recvmsg(k.sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) { /* it closed its end: it is gone, or going */
        close(k.sock);
        k.sock = -1;
        return;
    }
    switch (m.kind) {
    case KEEP_BEGIN: fdset_clear(&k.next); break;
    case KEEP_FDS: take_fds(&m, &mh); break;
    case KEEP_COMMIT: /* the new set replaces the old */
        fdset_clear(&k.kept);
        k.kept = k.next;
        k.next.n = 0;
        k.checkpointed = true;
        break;
    case KEEP_REAP: reap(&m); break;
    default: break;
    }
}

/* ---- starting a supervisor ---- */

/* In the child: the kept fds at the numbers they had in the last
 * supervisor (the state names them so), our socket's end above them. */
static int place_fds(int sock)
{
    int hi = sock + 1;
    for (unsigned i = 0; i < k.kept.n; i++) {
        hi = k.kept.num[i] >= hi ? k.kept.num[i] + 1 : hi;
        hi = k.kept.fd[i] >= hi ? k.kept.fd[i] + 1 : hi;
    }
    int tmp[KEEP_MAX_FDS];
    for (unsigned i = 0; i < k.kept.n; i++)
        if ((tmp[i] = fcntl(k.kept.fd[i], F_DUPFD_CLOEXEC, hi)) < 0)
            return -1;
    int ws = fcntl(sock, F_DUPFD, hi);
    for (unsigned i = 0; ws >= 0 && i < k.kept.n; i++)
        if (dup2(tmp[i], k.kept.num[i]) < 0)
            return -1;
    return ws;
}

static _Noreturn void exec_worker(int sock)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max; /* room to place the fds */
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int ws = place_fds(sock);
    char wsnum[16], statenum[16], *argv[256];
    unsigned n = 0;
    for (; k.argv[n] && n < 248; n++)
        argv[n] = k.argv[n];
    snprintf(wsnum, sizeof(wsnum), "%d", ws);
    snprintf(statenum, sizeof(statenum), "%d", k.kept.num[0]); /* the state's memfd comes first */
    argv[n++] = (char *)"--keeper";
    argv[n++] = wsnum;
    argv[n++] = (char *)"--restore";
    argv[n++] = statenum;
    argv[n] = NULL;
    if (ws >= 0)
        execv(k.exe, argv);
    _exit(127);
}

/* A supervisor: forked as it is (the first), or executed anew from the
 * last checkpoint (after a death).  In the child, returns its end of the
 * socket; in the keeper, -1 (k.worker set) or -2 when the fork failed. */
static int fork_worker(bool from_checkpoint)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -2;
    pid_t keeper = getpid(), pid = fork();
    if (pid == 0) {
        close(sv[0]);
        /* It dies with us: a supervisor without its keeper could not
         * reap its modules, which die with us too. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != keeper)
            _exit(127);
        if (from_checkpoint)
            exec_worker(sv[1]);
        return sv[1];
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return -2;
    }
    k.worker = pid;
    k.sock = sv[0];
    return -1;
}

/* ---- the loop ---- */

/* How long the next supervisor waits.  One that checkpointed ran: the
 * next starts at once, however often that happens.  One that died before
 * its first checkpoint failed to take over: after two such, a pause that
 * doubles each time (a binary that crashes at start would spin), up to
 * BACKOFF_MAX_MS; never giving up: the modules run on meanwhile. */
static unsigned restart_delay(bool ran)
{
    if (ran)
        return k.failed_starts = 0;
    if (++k.failed_starts <= 2)
        return 0;
    unsigned delay = BACKOFF_FIRST_MS;
    for (unsigned i = 3; i < k.failed_starts && delay < BACKOFF_MAX_MS; i++)
        delay *= 2;
    return delay > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay;
}

static void start_worker(void)
{
    k.restart_at_ms = 0;
    if (fork_worker(true) == -2) {
        sv_ev_at(LOG_ERROR, SYSTEM_ERROR, NULL, SV_FIELDS(SV_STR("op", "keeper: fork"), SV_STR("error", strerror(errno))),
                 "keeper: cannot start a supervisor: %s", strerror(errno));
        exit(1);
    }
}

/* The supervisor ended: its end is ours, unless it died with modules to
 * keep (a checkpoint) and we were not asked to stop. */
static void worker_ended(const siginfo_t *si)
{
    int code = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
    if (k.sock >= 0) {
        close(k.sock);
        k.sock = -1;
    }
    k.worker = 0;
    if (k.stopping || code == 0 || k.kept.n == 0)
        exit(code);
    unsigned delay = restart_delay(k.checkpointed);
    k.checkpointed = false;
    bool exited = si->si_code == CLD_EXITED;
    sv_ev(SUPERVISOR_DIED, NULL, SV_FIELDS(SV_NUM(exited ? "code" : "signal", si->si_status), SV_NUM("paused", delay != 0)),
          "keeper: the supervisor died (%s %d); starting a new one from its last state%s",
          exited ? "exit code" : "signal", si->si_status, delay ? " after a pause" : "");
    if (!delay)
        start_worker();
    else
        k.restart_at_ms = sv_now_ms() + delay;
}

static void on_signals(void)
{
    struct signalfd_siginfo si;
    while (read(k.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            siginfo_t w = { 0 };
            if (k.worker && waitid(P_PID, (id_t)k.worker, &w, WEXITED | WNOHANG) == 0 && w.si_pid == k.worker)
                worker_ended(&w);
            continue;
        }
        k.stopping = k.stopping || si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT;
        if (!k.worker && k.restart_at_ms) /* in a pause: the next one now, to stop the modules in order */
            start_worker();
        if (k.worker)
            kill(k.worker, (int)si.ssi_signo); /* TERM, INT, HUP, USR2: the supervisor's to handle */
    }
}

static _Noreturn void keep(void)
{
    for (;;) {
        struct pollfd p[2] = { { .fd = k.sigfd, .events = POLLIN }, { .fd = k.sock, .events = POLLIN } };
        uint64_t now = sv_now_ms();
        int wait = !k.restart_at_ms ? -1 : k.restart_at_ms <= now ? 0 : (int)(k.restart_at_ms - now);
        if (poll(p, k.sock >= 0 ? 2 : 1, wait) < 0 && errno != EINTR)
            exit(1);
        if (k.restart_at_ms && sv_now_ms() >= k.restart_at_ms && !k.worker)
            start_worker();
        if (p[0].revents)
            on_signals();
        if (k.sock >= 0 && p[1].revents)
            on_message();
    }
}

int keeper_start(char **argv, int *fd)
{
    sigset_t set;
    sigemptyset(&set);
    int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR2, SIGCHLD };
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(&set, sigs[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (k.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 || !realpath("/proc/self/exe", k.exe))
        return -errno;
    k.argv = argv;
    /* Orphans of a module's processes become ours; the supervisor kills
     * them and has us reap them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* The modules are our children, and share our uid under a supervisor
     * that is not root: not dumpable, so none can ptrace us or write our
     * /proc files; and the OOM killer takes them before us (the
     * supervisor, forked from here, inherits both). */
    if (prctl(PR_SET_DUMPABLE, 0) < 0)
        sv_ev(SYSTEM_ERROR, NULL, SV_FIELDS(SV_STR("op", "keeper: PR_SET_DUMPABLE"), SV_STR("error", strerror(errno))),
              "keeper: PR_SET_DUMPABLE: %s", strerror(errno));
    if (sandbox_privileged())
        sv_protect_from_oom();
    int r = fork_worker(false);
    if (r >= 0) { /* the supervisor */
        close(k.sigfd);
        *fd = r;
        return 0;
    }
    if (r == -2)
        return -errno;
    keep();
}
