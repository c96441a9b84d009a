/* SPDX-License-Identifier: MIT */
/* The steps that confine a module's process, run in the forked child in a
 * fixed order (docs/sandbox.md):
 *
 *   in the new namespaces, as their root:  mount view, hostname, loopback
 *   then, in the module's process:         rlimits, groups/gid/uid,
 *                                          securebits, bounding set,
 *                                          capabilities, ambient set,
 *                                          no_new_privs, seccomp (last)
 *
 * Each step either succeeds or the start fails, naming the step: a module
 * never runs less confined than its config says. */
#ifndef UIPC_SV_SANDBOX_H
#define UIPC_SV_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct sock_fprog;

/* The supervisor's /proc/self/oom_score_adj (root only), and how far above
 * it a module's is (spawn.c): the OOM killer takes modules first. */
#define SV_OOM_SCORE_ADJ "-900"
#define SV_OOM_MODULE_ABOVE 500

struct sandbox {
    const char *name;              /* the hostname in a uts namespace */
    const char *exec;              /* the module's program (kept visible under /tmp) */
    int namespaces;                /* CLONE_NEW* */
    bool set_ids;                  /* uid/gid below (else: stay, drop groups) */
    uid_t uid;
    gid_t gid;
    uint64_t caps;                 /* kept, one bit per CAP_* */
    char *const *writable;         /* bound writable into the mount view */
    unsigned nwritable;
    const uint64_t *rlimit;        /* RL_COUNT entries, config.h */
    unsigned rlimit_default;       /* bit per RL_*: a default, kept under the hard limit */
    struct sock_fprog *prog;       /* NULL: no seccomp filter.  The child binds
                                    * SELF in its own copy (fork, not a thread) */
};

enum sandbox_step {
    SB_USERNS_WAIT = 1, SB_USERNS_ROOT, SB_MOUNT_PRIVATE, SB_MOUNT_RDONLY, SB_MOUNT_KEEP, SB_MOUNT_TMP, SB_MOUNT_PROC,
    SB_MOUNT_REACH, SB_MOUNT_WRITABLE,
    SB_HOSTNAME, SB_LOOPBACK, SB_INIT_FORK, SB_RLIMIT, SB_GROUPS, SB_GID, SB_UID,
    SB_SECUREBITS, SB_BOUNDING, SB_CAPS, SB_AMBIENT, SB_NO_NEW_PRIVS, SB_SECCOMP,
    SB_STDIO, SB_FDS, SB_SETSID, SB_HANDOFF, SB_EXEC, SB_OOM, SB_STEP_COUNT
};

const char *sandbox_step_name(int step);

/* Whether uid/gid (no supplementary groups) can search every directory on
 * the way to path: 1 and the first one it cannot, in dir; else 0. */
int sandbox_unreachable(const char *path, uid_t uid, gid_t gid, char *dir, size_t len);

/* Whether this process may lock securebits, drop groups and shrink the
 * bounding set (CAP_SETPCAP): root, or the root of a user namespace. */
bool sandbox_privileged(void);

/* As root of the new namespaces: the mount view (with a mount namespace),
 * the hostname (uts), loopback up (net).  0 or -errno, *step set. */
int sandbox_namespaces(const struct sandbox *sb, int *step);
/* rlimits, ids, capabilities, no_new_privs; not seccomp. */
int sandbox_restrict(const struct sandbox *sb, int *step);
/* Binds SELF to this process's pid (policy_bind_self), then loads sb->prog
 * with a new listener; returns the listener fd or -errno.
 * From here on every syscall the policy does not allow waits for the
 * supervisor. */
int sandbox_seccomp(const struct sandbox *sb);

#endif
