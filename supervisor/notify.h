/* SPDX-License-Identifier: MIT */
/* Seccomp user notifications: what a module's filter sends the supervisor
 * for every syscall its policy does not allow. */
#ifndef UIPC_SV_NOTIFY_H
#define UIPC_SV_NOTIFY_H

#include <stdint.h>
#include <sys/types.h>

struct sv_notif {
    uint64_t id;
    pid_t pid;        /* the calling thread, in the supervisor's pid namespace */
    int nr;           /* the syscall */
    uint64_t args[6];
};

/* Takes one pending notification: 0, or -errno (-ENOENT: its caller died
 * before it was read). */
int sv_notify_recv(int listener, struct sv_notif *n);
/* Answers it: err 0 lets the syscall run, else the syscall fails with -err.
 * A caller that died meanwhile is not an error. */
void sv_notify_reply(int listener, uint64_t id, int err);

#endif
