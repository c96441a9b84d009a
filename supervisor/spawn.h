/* SPDX-License-Identifier: MIT */
/* Starting one module process: namespaces, sandbox, fds, environment,
 * output pipe, seccomp listener, exec. */
#ifndef UIPC_SV_SPAWN_H
#define UIPC_SV_SPAWN_H

#include <sys/types.h>

struct sandbox;

struct sv_spawn {
    char *const *argv;        /* argv[0]: absolute path */
    char *const *env;         /* extra KEY=VALUE, NULL-terminated */
    const char *const *uipc_env; /* the manifest: UIPC_*=..., NULL-terminated */
    const int *keep;          /* fds the module inherits */
    unsigned nkeep;
    const struct sandbox *sb;
};

struct sv_child {
    pid_t pid;                /* the module, or with a pid namespace its init */
    int pidfd;                /* O_CLOEXEC */
    int out;                  /* read end of the module's stdout+stderr, non-blocking */
    int listener;             /* seccomp notifications, or -1 without a policy */
    int status;               /* pid namespace: the init reports the module's
                               * wait status here before it exits; else -1 */
};

/* Forks, confines and execs.  Returns 0 once the module's program runs, or
 * a negative errno when it could not be started (then nothing is left
 * running); *step names what failed. */
int sv_spawn(const struct sv_spawn *s, struct sv_child *out, const char **step);

/* Closes what sv_spawn opened (not the pid: reap it first). */
void sv_child_close(struct sv_child *ch);

#endif
