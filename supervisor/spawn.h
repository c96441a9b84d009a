/* SPDX-License-Identifier: MIT */
/* Starting one module process: fds, environment, output pipe, exec. */
#ifndef UIPC_SV_SPAWN_H
#define UIPC_SV_SPAWN_H

#include <sys/types.h>

struct sv_spawn {
    char *const *argv;        /* argv[0]: absolute path */
    char *const *env;         /* extra KEY=VALUE, NULL-terminated */
    const char *const *uipc_env; /* the manifest: UIPC_*=..., NULL-terminated */
    const int *keep;          /* fds the module inherits */
    unsigned nkeep;
};

struct sv_child {
    pid_t pid;
    int pidfd;                /* O_CLOEXEC */
    int out;                  /* read end of the module's stdout+stderr, non-blocking */
};

/* Forks and execs.  Returns 0, or a negative errno when the process could
 * not be made or the exec failed (then nothing is left running). *step
 * names what failed. */
int sv_spawn(const struct sv_spawn *s, struct sv_child *out, const char **step);

#endif
