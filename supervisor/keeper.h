/* SPDX-License-Identifier: MIT */
/* The keeper: the process the operator (or systemd) starts, which outlives
 * the supervisor.  It is the parent of every module (the supervisor
 * spawns them with CLONE_PARENT), so their PR_SET_PDEATHSIG follows the
 * keeper, not the supervisor; it holds a copy of every fd the supervisor
 * keeps for its modules and channels, with the last state it wrote
 * (checkpoints); it reaps a module only when the supervisor asks; and
 * when the supervisor dies it starts a new one on that state (at once, or
 * after a pause when the last ones died before their first checkpoint).  Small, and
 * it does not change with the supervisor's logic: what must never die.
 *
 * The protocol, over a SOCK_SEQPACKET pair (one message each):
 *   supervisor -> keeper: KEEP_BEGIN, KEEP_FDS (numbers + SCM_RIGHTS, the
 *   state's memfd first), KEEP_COMMIT; KEEP_REAP pid [nohang].
 *   keeper -> supervisor: KEEP_STATUS for each KEEP_REAP. */
#ifndef UIPC_SV_KEEPER_H
#define UIPC_SV_KEEPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define KEEP_BATCH 200 /* fds per KEEP_FDS message (SCM_MAX_FD is 253) */
#define KEEP_MAX_FDS 16384

enum keep_kind { KEEP_BEGIN = 1, KEEP_FDS, KEEP_COMMIT, KEEP_REAP, KEEP_STATUS };

struct keep_msg {
    uint32_t kind;
    int32_t pid;              /* KEEP_REAP, KEEP_STATUS */
    int32_t flag;             /* KEEP_REAP: nohang.  KEEP_STATUS: 1 reaped, 0 still running, -errno */
    int32_t code, status;     /* KEEP_STATUS: siginfo's si_code and si_status */
    int32_t n;                /* KEEP_BEGIN: fds in all; KEEP_FDS: in this message */
    int32_t num[KEEP_BATCH];  /* KEEP_FDS: each fd's number in the supervisor */
};

/* In main, before anything else: forks the supervisor, which returns 0
 * with *fd its end of the keeper's socket (and goes on as the
 * supervisor); the keeper itself never returns: it exits with the
 * supervisor's status once that one is done.  argv: the supervisor's
 * own command line, for a new supervisor after a crash. */
int keeper_start(char **argv, int *fd);

#endif
