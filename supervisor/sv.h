/* SPDX-License-Identifier: MIT */
/* The supervisor: channels, module processes, deaths, restarts, shutdown. */
#ifndef UIPC_SV_H
#define UIPC_SV_H

#include <stdbool.h>

#include "config.h"

/* Runs the configuration until SIGTERM or SIGINT; returns the process exit
 * status (0 after a clean shutdown).  Takes c (and frees it, or whatever
 * configuration a reload put in its place).  socket_forced: c's
 * control_socket was given on the command line, and a reload keeps it.
 * restore >= 0: the state a previous generation left (reexec, or a
 * supervisor that died): its modules, channels and control socket are
 * taken over, nothing started.  keeper >= 0: the socket to the keeper
 * (keeper.h), which is the modules' parent; -1: none, the modules are
 * ours and die with us. */
int sv_run(struct conf *c, bool socket_forced, int restore, int keeper);

/* Whether a state file (fd) can be taken over with c: 0, or a negative
 * errno, and why on stdout (reexec runs the new binary so, first). */
int sv_state_check(const struct conf *c, int fd);

/* The state format this binary reads and writes (sv-state.c). */
#define SV_STATE_FORMAT 1

#endif
