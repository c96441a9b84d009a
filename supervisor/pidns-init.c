/* SPDX-License-Identifier: MIT */
/* A minimal init: the module runs as pid 2 under it.  The module itself is
 * not made pid 1 because the kernel drops every signal a pid 1 has no
 * handler for, so a plain module would ignore the supervisor's SIGTERM,
 * and orphans in the namespace would never be reaped. */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pidns-init.h"

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void nothing(int sig)
{
    (void)sig;
}

static void forwarded_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
        sigaddset(set, forwarded[i]);
}

/* Before the fork, so that a module dying at once still leaves a SIGCHLD
 * pending for the init: a pid 1 receives only signals it has a handler
 * for.  The handler never runs; the signals stay blocked and are taken by
 * sigwaitinfo. */
void pidns_init_block(void)
{
    sigset_t set;
    struct sigaction sa = { .sa_handler = nothing };
    forwarded_set(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(&set, sig))
            sigaction(sig, &sa, NULL);
}

void pidns_init_unblock(void)
{
    sigset_t set;
    struct sigaction sa = { .sa_handler = SIG_DFL };
    forwarded_set(&set);
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(&set, sig))
            sigaction(sig, &sa, NULL);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

_Noreturn void pidns_init_run(pid_t module, int status_fd)
{
    sigset_t set;

    if (status_fd > 0)
        syscall(SYS_close_range, 0u, (unsigned)status_fd - 1, 0u);
    syscall(SYS_close_range, (unsigned)status_fd + 1, ~0u, 0u);
    prctl(PR_SET_NAME, "uipc-init", 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    forwarded_set(&set);
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            kill(module, sig);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid != module)
                continue; /* an orphan, reaped */
            ssize_t w = write(status_fd, &status, sizeof(status));
            (void)w;
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
    }
}
