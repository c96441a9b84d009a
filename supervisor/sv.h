/* SPDX-License-Identifier: MIT */
/* The supervisor: channels, module processes, deaths, restarts, shutdown. */
#ifndef UIPC_SV_H
#define UIPC_SV_H

#include "config.h"

/* Runs the configuration until SIGTERM or SIGINT; returns the process exit
 * status (0 after a clean shutdown). */
int sv_run(struct conf *c);

#endif
