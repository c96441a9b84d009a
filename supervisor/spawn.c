/* SPDX-License-Identifier: MIT */
/* fork + exec of a module.  The child sees exactly the fds it is given and
 * dies with the supervisor; exec failures come back as -errno over a
 * close-on-exec pipe. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

extern char **environ;

#define MAX_ENV 1024

/* The supervisor's environment, minus UIPC_*, plus the config's env and
 * the manifest. */
static void build_env(const struct sv_spawn *s, char **envp)
{
    unsigned n = 0;
    for (char **e = environ; *e && n < MAX_ENV - 80; e++)
        if (strncmp(*e, "UIPC_", 5) != 0)
            envp[n++] = *e;
    for (char *const *e = s->env; e && *e && n < MAX_ENV - 16; e++)
        envp[n++] = *e;
    for (const char *const *e = s->uipc_env; *e && n < MAX_ENV - 1; e++)
        envp[n++] = (char *)*e;
    envp[n] = NULL;
}

static void child_fail(int errfd, int err)
{
    ssize_t r = write(errfd, &err, sizeof(err));
    (void)r;
    _exit(127);
}

/* Runs in the child; never returns. */
static void child(const struct sv_spawn *s, pid_t parent, int out_w, int errfd)
{
    static char *envp[MAX_ENV];
    sigset_t none;

    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(127); /* the supervisor is already gone */
    /* A session of its own: a Ctrl-C at the supervisor's terminal (SIGINT
     * to the whole foreground group) reaches the supervisor only, which
     * then stops the modules in order. */
    if (setsid() < 0)
        child_fail(errfd, errno);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* the supervisor blocks signals for signalfd */
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0)
        child_fail(errfd, errno);
    /* Everything else closes on exec, but for the module's own fds. */
    if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
        child_fail(errfd, errno);
    for (unsigned i = 0; i < s->nkeep; i++)
        if (fcntl(s->keep[i], F_SETFD, 0) < 0)
            child_fail(errfd, errno);
    build_env(s, envp);
    execve(s->argv[0], s->argv, envp);
    child_fail(errfd, errno);
}

int sv_spawn(const struct sv_spawn *s, struct sv_child *out, const char **step)
{
    int outp[2], errp[2], err = 0;
    *step = "pipe";
    if (pipe2(outp, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(errp, O_CLOEXEC) < 0) {
        err = -errno;
        close(outp[0]);
        close(outp[1]);
        return err;
    }
    pid_t parent = getpid();
    *step = "fork";
    pid_t pid = fork();
    if (pid == 0)
        child(s, parent, outp[1], errp[1]);
    if (pid < 0)
        err = -errno;
    close(outp[1]);
    close(errp[1]);
    if (pid > 0) {
        int child_err;
        ssize_t r;
        while ((r = read(errp[0], &child_err, sizeof(child_err))) < 0 && errno == EINTR)
            ;
        if (r == (ssize_t)sizeof(child_err)) {
            *step = "exec";
            err = -child_err;
            waitpid(pid, NULL, 0);
        }
    }
    close(errp[0]);
    if (err == 0) {
        *step = "pidfd_open";
        out->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (out->pidfd < 0) {
            err = -errno;
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    if (err < 0) {
        close(outp[0]);
        return err;
    }
    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    out->pid = pid;
    out->out = outp[0];
    return 0;
}
