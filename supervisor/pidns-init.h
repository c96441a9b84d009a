/* SPDX-License-Identifier: MIT */
/* Pid 1 of a module's pid namespace. */
#ifndef UIPC_SV_PIDNS_INIT_H
#define UIPC_SV_PIDNS_INIT_H

#include <sys/types.h>

/* Before forking the module: the signals the init takes, blocked, with
 * handlers (see pidns-init.c). */
void pidns_init_block(void);
/* In the module, after the fork: back to default. */
void pidns_init_unblock(void);

/* Runs as pid 1 with the module as its child: forwards the signals the
 * supervisor sends (a pid 1 would drop them), reaps orphans, and when the
 * module ends writes its wait status (an int) to status_fd and exits.
 * Closes every other fd first. */
_Noreturn void pidns_init_run(pid_t module, int status_fd);

#endif
