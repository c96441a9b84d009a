/* SPDX-License-Identifier: MIT */
/* clone + sandbox + exec of a module.  The child sees exactly the fds it
 * is given and dies with the supervisor; every failure before the module's
 * program runs comes back as {step, errno} over a close-on-exec socket.
 *
 * With a seccomp policy the listener is created in the child when it loads
 * the filter, and the supervisor takes it with pidfd_getfd while the child
 * waits: the child announces the fd number the kernel will give it (the
 * lowest free one) and its own pidfd before loading, then calls execve,
 * which the filter always routes to the supervisor.  Until the sync socket
 * reaches EOF (the exec closed it) every notification comes from this glue
 * code and is let through; after that, notifications are the module's. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "notify.h"
#include "pidns-init.h"
#include "sandbox.h"
#include "spawn.h"

extern char **environ;

#define MAX_ENV 1024

enum msg_kind { MSG_FAIL = 1, MSG_LISTENER, MSG_MAP_IDS, MSG_PIDFD };

struct spawn_msg {
    int kind;
    int step;                  /* MSG_FAIL: enum sandbox_step */
    int err;                   /* MSG_FAIL: errno */
    int fd;                    /* MSG_LISTENER: the listener's number in the child */
};                             /* MSG_LISTENER, MSG_PIDFD: a pidfd of the child's own rides along */

/* ---- the child ---- */

/* Whether list (NULL-terminated KEY=VALUE) sets the variable of entry. */
static bool sets(char *const *list, const char *entry)
{
    size_t klen = strcspn(entry, "=");
    for (; list && *list; list++)
        if (strncmp(*list, entry, klen) == 0 && (*list)[klen] == '=')
            return true;
    return false;
}

/* The supervisor's environment, minus UIPC_* and what the config's env
 * sets, plus the config's env and the manifest. */
static void build_env(const struct sv_spawn *s, char **envp)
{
    unsigned n = 0;
    for (char **e = environ; *e && n < MAX_ENV - 80; e++)
        if (strncmp(*e, "UIPC_", 5) != 0 && !sets(s->env, *e))
            envp[n++] = *e;
    for (char *const *e = s->env; e && *e && n < MAX_ENV - 16; e++)
        envp[n++] = *e;
    for (const char *const *e = s->uipc_env; *e && n < MAX_ENV - 1; e++)
        envp[n++] = (char *)*e;
    envp[n] = NULL;
}

static _Noreturn void child_fail(int sync, int step, int err)
{
    struct spawn_msg m = { MSG_FAIL, step, err, -1 };
    ssize_t r = send(sync, &m, sizeof(m), MSG_NOSIGNAL);
    (void)r;
    _exit(127);
}

/* A message with the child's own pidfd (SCM_RIGHTS). */
static void send_pidfd(int sync, struct spawn_msg m, int pidfd)
{
    struct iovec iov = { &m, sizeof(m) };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof(u.buf) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
    if (sendmsg(sync, &mh, MSG_NOSIGNAL) < 0)
        child_fail(sync, SB_HANDOFF, errno);
}

/* Its own pidfd (close-on-exec), or the failure reported. */
static int own_pidfd(int sync)
{
    int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (self < 0)
        child_fail(sync, SB_HANDOFF, errno);
    return self;
}

/* Announces where the listener will be, then loads the filter. */
static void load_seccomp(const struct sv_spawn *s, int sync)
{
    int self = own_pidfd(sync);
    int next = fcntl(0, F_DUPFD_CLOEXEC, 0); /* the lowest free number */
    if (next < 0 || close(next) < 0)
        child_fail(sync, SB_HANDOFF, errno);
    send_pidfd(sync, (struct spawn_msg){ MSG_LISTENER, 0, 0, next }, self);
    int fd = sandbox_seccomp(s->sb);
    if (fd < 0)
        child_fail(sync, SB_SECCOMP, -fd);
}

static void setup_stdio(int sync, int out_w)
{
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0)
        child_fail(sync, SB_STDIO, errno);
    close(devnull);
}

/* The module's own process: never returns. */
static _Noreturn void module(const struct sv_spawn *s, int out_w, int sync)
{
    static char *envp[MAX_ENV];
    sigset_t none;
    int step = 0, r;

    if ((s->sb->namespaces & CLONE_NEWPID) && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        _exit(127); /* its parent is the init now */
    /* In a pid namespace the supervisor's pidfd is the init's; this one
     * tells it when the module's own thread group is gone, before the
     * init has reaped it (sv-reap.c: sv_gone).  Sent from here, before the
     * exec: nothing the module runs can send or forge it, and its own
     * copy closes now. */
    if (s->sb->namespaces & CLONE_NEWPID) {
        int self = own_pidfd(sync);
        send_pidfd(sync, (struct spawn_msg){ MSG_PIDFD, 0, 0, -1 }, self);
        close(self);
    }
    signal(SIGPIPE, SIG_DFL); /* the supervisor ignores it; exec keeps that */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* the supervisor blocks signals for signalfd */
    setup_stdio(sync, out_w);
    /* Everything else closes on exec, but for the module's own fds. */
    if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
        child_fail(sync, SB_FDS, errno);
    for (unsigned i = 0; i < s->nkeep; i++)
        if (fcntl(s->keep[i], F_SETFD, 0) < 0)
            child_fail(sync, SB_FDS, errno);
    build_env(s, envp);
    if ((r = sandbox_restrict(s->sb, &step)) < 0)
        child_fail(sync, step, -r);
    /* A new uid clears the parent-death signal: set again, then make sure
     * the supervisor did not die in between (its end of sync closed). */
    struct pollfd alive = { .fd = sync, .events = POLLRDHUP };
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || poll(&alive, 1, 0) != 0)
        _exit(127);
    if (s->sb->prog)
        load_seccomp(s, sync);
    execve(s->sb->exec, s->argv, envp); /* absolute (sv.c); argv[0] as configured */
    child_fail(sync, SB_EXEC, errno);
}

/* The kernel's OOM killer takes a module before the supervisor: the
 * module's oom_score_adj is the supervisor's (inherited) plus
 * SV_OOM_MODULE_ABOVE, written while /proc is still writable.  Raising
 * needs no privilege, so this holds even where the supervisor could not
 * lower its own (no CAP_SYS_RESOURCE, as in some containers). */
static void raise_oom_score(int sync)
{
    char buf[16] = "";
    int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0)
        child_fail(sync, SB_OOM, errno);
    int v = atoi(buf) + SV_OOM_MODULE_ABOVE;
    int n = snprintf(buf, sizeof(buf), "%d", v > 1000 ? 1000 : v);
    if (pwrite(fd, buf, (size_t)n, 0) != n)
        child_fail(sync, SB_OOM, errno);
    close(fd);
}

/* Right after clone, in the new namespaces. */
static _Noreturn void child(const struct sv_spawn *s, int out_w, int sync, int status_w)
{
    int step = 0, r;
    char go;

    /* The supervisor is not dumpable (sv.c), so /proc/self is root's until
     * the child is again: its own oom_score_adj, the id maps the
     * supervisor writes.  Its exec decides its dumpability anew. */
    if (prctl(PR_SET_DUMPABLE, 1) < 0)
        _exit(127);
    /* Dies with the supervisor, and not at all if it is already gone
     * (then its end of the sync socket is closed). */
    struct pollfd alive = { .fd = sync, .events = POLLRDHUP };
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || poll(&alive, 1, 0) != 0)
        _exit(127);
    /* A session of its own: a Ctrl-C at the supervisor's terminal (SIGINT
     * to the whole foreground group) reaches the supervisor only, which
     * then stops the modules in order. */
    if (setsid() < 0)
        child_fail(sync, SB_SETSID, errno);
    /* With our own credentials: a uid change (the user namespace's root,
     * below) makes the process undumpable again. */
    raise_oom_score(sync);

    if (s->sb->namespaces & CLONE_NEWUSER) {
        /* Dumpable now, so its /proc files are its own: the supervisor
         * can write its id maps. */
        struct spawn_msg m = { MSG_MAP_IDS, 0, 0, -1 };
        if (send(sync, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
            _exit(127);
        if (read(sync, &go, 1) != 1)
            child_fail(sync, SB_USERNS_WAIT, EPROTO);
        /* Until now its ids are those it had outside, which the map does
         * not cover: files it made (the mount points below) would fail
         * with EOVERFLOW. */
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
            child_fail(sync, SB_USERNS_ROOT, errno);
    }
    if ((r = sandbox_namespaces(s->sb, &step)) < 0)
        child_fail(sync, step, -r);
    if (s->sb->namespaces & CLONE_NEWPID) {
        pidns_init_block();
        pid_t pid = fork();
        if (pid < 0)
            child_fail(sync, SB_INIT_FORK, errno);
        if (pid > 0)
            pidns_init_run(pid, status_w);
        pidns_init_unblock();
        close(status_w);
    }
    module(s, out_w, sync);
}

/* ---- the supervisor's side ---- */

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int err = n == (ssize_t)strlen(text) ? 0 : n < 0 ? -errno : -EIO;
    close(fd);
    return err;
}

/* The module is root of its user namespace, mapped to its configured ids
 * (or the supervisor's) outside.  The child asked for it once dumpable
 * (MSG_MAP_IDS): its /proc files are its own, writable by us. */
static int map_ids(pid_t pid, const struct sandbox *sb)
{
    char path[64], map[64];
    int err;
    snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
    if ((err = write_file(path, "deny")) < 0)
        return err;
    snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
    snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)(sb->set_ids ? sb->uid : getuid()));
    if ((err = write_file(path, map)) < 0)
        return err;
    snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
    snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)(sb->set_ids ? sb->gid : getgid()));
    return write_file(path, map);
}

/* One message; 0 at EOF, 1 with a message, or -errno.  A passed fd goes
 * to *fd (else -1). */
static int recv_msg(int sync, struct spawn_msg *m, int *fd)
{
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct iovec iov = { m, sizeof(*m) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof(u.buf) };
    *fd = -1;
    ssize_t n = recvmsg(sync, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0)
        return -errno;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(fd, CMSG_DATA(c), sizeof(int));
    if (n == 0)
        return 0;
    return n == (ssize_t)sizeof(*m) ? 1 : -EPROTO;
}

static bool is_seccomp_listener(int fd)
{
    char path[64], target[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n < 0)
        return false;
    target[n] = '\0';
    return strcmp(target, "anon_inode:seccomp notify") == 0;
}

/* The child holds the listener at number `at` once it has loaded its
 * filter, microseconds after announcing it; until then the number is
 * free: -EAGAIN, to be tried again. */
static int take_listener(struct sv_spawning *sp)
{
    int fd = (int)syscall(SYS_pidfd_getfd, sp->child_pidfd, sp->listener_at, 0);
    if (fd < 0)
        return errno == EBADF ? -EAGAIN : -errno;
    close(sp->child_pidfd);
    sp->child_pidfd = -1;
    if (!is_seccomp_listener(fd)) {
        close(fd);
        return -EPROTO;
    }
    return fd;
}

static bool readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) > 0;
}

/* Lets the child's own glue code through while its exec has not closed
 * the sync socket.  The sync socket is looked at first, and again just
 * before each notification: one taken while it is quiet comes from before
 * the exec. */
static void pass_glue(struct sv_spawning *sp, int listener)
{
    for (int n = 0; n < 64 && !readable(sp->sync) && readable(listener); n++) {
        struct sv_notif note;
        if (sv_notify_recv(listener, &note) == 0)
            sv_notify_reply(listener, note.id, 0);
    }
}

/* One message from the child: its failure, its listener's number, or its
 * request for id maps. */
static int on_message(struct sv_spawning *sp, const struct spawn_msg *m, int fd, struct sv_child *ch, int *step)
{
    if (m->kind == MSG_FAIL) {
        if (fd >= 0)
            close(fd);
        *step = m->step;
        return -m->err;
    }
    if (m->kind == MSG_MAP_IDS && fd < 0 && (sp->sb->namespaces & CLONE_NEWUSER)) {
        *step = SB_USERNS_WAIT;
        int err = map_ids(ch->pid, sp->sb);
        return err < 0 ? err : write(sp->sync, "", 1) == 1 ? -EAGAIN : -errno;
    }
    *step = SB_HANDOFF;
    if (m->kind == MSG_PIDFD && fd >= 0 && (sp->sb->namespaces & CLONE_NEWPID) && ch->own_pidfd < 0) {
        ch->own_pidfd = fd;
        return -EAGAIN;
    }
    if (m->kind != MSG_LISTENER || fd < 0 || sp->child_pidfd >= 0) {
        if (fd >= 0)
            close(fd);
        return -EPROTO;
    }
    sp->child_pidfd = fd;
    sp->listener_at = m->fd;
    return -EAGAIN;
}

int sv_spawn_advance(struct sv_spawning *sp, struct sv_child *ch, int *step)
{
    for (int rounds = 0; rounds < 8; rounds++) {
        if (sp->child_pidfd >= 0 && ch->listener < 0) {
            int fd = take_listener(sp);
            if (fd >= 0)
                ch->listener = fd;
            else if (fd != -EAGAIN || !readable(sp->sync)) /* else: the child reported something */
                return (*step = SB_HANDOFF, fd);
        }
        if (ch->listener >= 0)
            pass_glue(sp, ch->listener);
        struct spawn_msg m;
        int fd, r = recv_msg(sp->sync, &m, &fd);
        if (r == -EAGAIN || r == -EINTR)
            return -EAGAIN;
        if (r == 0) /* EOF: the exec closed it */
            return 0;
        if (r < 0)
            return r;
        if ((r = on_message(sp, &m, fd, ch, step)) != -EAGAIN)
            return r;
    }
    return -EAGAIN;
}

void sv_child_close(struct sv_child *ch)
{
    int *fds[] = { &ch->pidfd, &ch->out, &ch->listener, &ch->status, &ch->own_pidfd };
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

static int make_pipes(const struct sv_spawn *s, int outp[2], int sync[2], int statusp[2])
{
    if (pipe2(outp, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) < 0)
        return -errno;
    if ((s->sb->namespaces & CLONE_NEWPID) && pipe2(statusp, O_CLOEXEC) < 0)
        return -errno;
    return 0;
}

static void close_all(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

int sv_spawn_start(const struct sv_spawn *s, struct sv_spawning *sp, struct sv_child *out)
{
    int fds[6] = { -1, -1, -1, -1, -1, -1 }; /* out, sync, status: read/parent end first */
    int *outp = &fds[0], *sync = &fds[2], *statusp = &fds[4];
    int pidfd = -1, err;

    *out = (struct sv_child){ .pidfd = -1, .out = -1, .listener = -1, .status = -1, .own_pidfd = -1 };
    *sp = (struct sv_spawning){ .sync = -1, .child_pidfd = -1, .listener_at = -1, .sb = s->sb };
    if ((err = make_pipes(s, outp, sync, statusp)) < 0) {
        close_all(fds, 6);
        return err;
    }
    struct clone_args ca = { .flags = CLONE_PIDFD | (uint64_t)s->sb->namespaces |
                                      (s->keeper_parent ? CLONE_PARENT : 0),
                             .pidfd = (uintptr_t)&pidfd,
                             /* with CLONE_PARENT the kernel takes ours (and refuses another) */
                             .exit_signal = s->keeper_parent ? 0 : SIGCHLD };
    pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid < 0 && errno == ENOSYS) /* container runtimes' default seccomp profiles */
        pid = (pid_t)syscall(SYS_clone, (unsigned long)ca.flags | ca.exit_signal, 0UL, &pidfd, NULL, 0UL);
    if (pid == 0) {
        /* Our copy of the supervisor's end would keep the socket from
         * ever hanging up: the liveness check in child() needs it gone. */
        close(sync[0]);
        child(s, outp[1], sync[1], statusp[1]);
    }
    err = pid < 0 ? -errno : 0;
    close_all((int[]){ outp[1], sync[1], statusp[1] }, 3);
    if (err < 0) {
        close_all((int[]){ outp[0], sync[0], statusp[0] }, 3);
        return err;
    }
    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    *out = (struct sv_child){ .pid = pid, .pidfd = pidfd, .out = outp[0], .listener = -1, .status = statusp[0],
                              .own_pidfd = -1 };
    sp->sync = sync[0];
    return 0;
}
