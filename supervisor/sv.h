/* SPDX-License-Identifier: MIT */
/* The supervisor: channels, module processes, deaths, restarts, shutdown. */
#ifndef UIPC_SV_H
#define UIPC_SV_H

#include <stdbool.h>

#include "config.h"

/* Runs the configuration until SIGTERM or SIGINT; returns the process exit
 * status (0 after a clean shutdown).  Takes c (and frees it, or whatever
 * configuration a reload put in its place).  socket_forced: c's
 * control_socket was given on the command line, and a reload keeps it. */
int sv_run(struct conf *c, bool socket_forced);

#endif
