/* SPDX-License-Identifier: MIT */
/* What a running module's process has, read from /proc (`uipcctl sandbox`). */
#ifndef UIPC_SV_SANDBOX_REPORT_H
#define UIPC_SV_SANDBOX_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "control.pb-c.h"

/* Fills r (already initialised) for the process pid: -ESRCH if it is
 * gone, -ENOMEM.  What it allocated, sandbox_report_free releases (also
 * after a failure); r->module and r->policy are the caller's. */
int sandbox_report(pid_t pid, Uipc__Control__SandboxReport *r);
void sandbox_report_free(Uipc__Control__SandboxReport *r);

/* The value of "KEY:" in /proc/PID/status text, tabs made spaces, malloc'd
 * ("" when absent); NULL when out of memory. */
char *sandbox_report_field(const char *status, const char *key);
/* From /proc/PID/mountinfo text: whether / is read-only, and the mount
 * points mounted read-write but /proc, /dev and /sys (malloc'd). */
int sandbox_report_mounts(const char *mountinfo, bool *root_ro, char ***writable, size_t *nwritable);

#endif
