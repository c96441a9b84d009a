/* SPDX-License-Identifier: MIT */
/* Starting one module process: namespaces, sandbox, fds, environment,
 * output pipe, seccomp listener, exec. */
#ifndef UIPC_SV_SPAWN_H
#define UIPC_SV_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>
#include <unistd.h>

struct sandbox;

struct sv_spawn {
    char *const *argv;        /* argv[0]: absolute path */
    char *const *env;         /* extra KEY=VALUE, NULL-terminated */
    const char *const *uipc_env; /* the manifest: UIPC_*=..., NULL-terminated */
    const int *keep;          /* fds the module inherits */
    unsigned nkeep;
    const struct sandbox *sb;
    bool keeper_parent;       /* CLONE_PARENT: the child is our parent's (the keeper's) */
};

struct sv_child {
    pid_t pid;                /* the module, or with a pid namespace its init */
    int pidfd;                /* O_CLOEXEC */
    int out;                  /* read end of the module's stdout+stderr, non-blocking */
    int listener;             /* seccomp notifications, or -1 without a policy */
    int status;               /* pid namespace: the init reports the module's
                               * wait status here before it exits; else -1 */
    int own_pidfd;            /* pid namespace: the module's own process (the
                               * init's child), sent by it before its exec
                               * (MSG_PIDFD); else -1.  O_CLOEXEC */
};

/* A child on its way to its exec (sv_spawn_advance). */
struct sv_spawning {
    int sync;                 /* the sync socket: readable with a message, or EOF at the exec */
    int child_pidfd;          /* the child's pidfd it sent, while its listener is awaited; else -1 */
    int listener_at;          /* the listener's number in the child, once announced */
    const struct sandbox *sb;
};

/* Clones the child, which confines itself and execs; out gets its pid,
 * pidfd, output pipe and status pipe at once (its listener later).  0, or
 * a negative errno (nothing runs). */
int sv_spawn_start(const struct sv_spawn *s, struct sv_spawning *sp, struct sv_child *out);
/* What the child did since, without waiting: 0 once its exec closed the
 * sync socket (out->listener set with a policy), -EAGAIN while it is not
 * there yet, or a negative errno with *step (enum sandbox_step) when it
 * failed (it exits; its reaping follows).  Call when sp->sync or
 * out->listener is readable, and every millisecond while
 * sv_spawn_awaits_listener. */
int sv_spawn_advance(struct sv_spawning *sp, struct sv_child *out, int *step);
static inline bool sv_spawn_awaits_listener(const struct sv_spawning *sp, const struct sv_child *out)
{
    return sp->child_pidfd >= 0 && out->listener < 0;
}
/* Closes what only the spawn needed (after its end, either way). */
static inline void sv_spawn_done(struct sv_spawning *sp)
{
    if (sp->sync >= 0)
        close(sp->sync);
    if (sp->child_pidfd >= 0)
        close(sp->child_pidfd);
    sp->sync = sp->child_pidfd = -1;
}

/* Closes what sv_spawn opened (not the pid: reap it first). */
void sv_child_close(struct sv_child *ch);

#endif
