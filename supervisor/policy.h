/* SPDX-License-Identifier: MIT */
/* Seccomp policy files (policies/NAME.policy), compiled with libseccomp into
 * a BPF program at config load, so a bad policy stops the supervisor before
 * anything starts and the forked child only has to load finished bytes.
 *
 * Every syscall the policy does not allow goes to the supervisor as a
 * seccomp user notification (SECCOMP_RET_USER_NOTIF); the supervisor then
 * applies the policy's default action (kill, errno or log) and reports the
 * syscall by name.  See docs/policies.md for the language. */
#ifndef UIPC_SV_POLICY_H
#define UIPC_SV_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/filter.h>

/* What SELF compiles to until the module's process binds its pid. */
#define POLICY_SELF 0x5e1f5e1fu

enum policy_action { POLICY_KILL, POLICY_ERRNO, POLICY_LOG };

struct policy {
    char *path;
    enum policy_action action; /* for every syscall the policy does not allow */
    int err;                   /* POLICY_ERRNO: the errno returned */
    bool exec_allowed;         /* execve/execveat listed: allowed after the start */
    bool threads_only;         /* no new process: fork, vfork and clone3 refused, clone
                                * only with CLONE_THREAD (policy_threads_only) */
    struct sock_fprog prog;    /* what the child loads */
};

/* Loads path and everything it includes.  On failure returns -EINVAL and
 * writes one line, "FILE:LINE: problem", to err; or another negative errno,
 * err untouched, when path itself cannot be opened.  libseccomp runs in a
 * child process for at most 3 s (policy.c says why); the caller waits. */
int policy_load(const char *path, struct policy **out, char *err, size_t errlen);
void policy_free(struct policy *p);

/* Whether a and b do the same to a module: the same BPF program, byte for
 * byte, and the same default action, errno and exec_allowed.  Paths are
 * not compared (an edited file under the same path differs; a copy under
 * another path does not).  NULL, no policy, is the same only as NULL. */
bool policy_same(const struct policy *a, const struct policy *b);

/* In the module's own process, just before loading prog (its copy of the
 * supervisor's): every SELF becomes pid.  Returns how many. */
unsigned policy_bind_self(struct sock_fprog *prog, pid_t pid);

/* "socket" for 41 on this machine's architecture; "?" when unknown. */
void policy_syscall_name(int nr, char *buf, size_t len);

#endif
