/* SPDX-License-Identifier: MIT */
/* The supervisor's counts in Prometheus's text exposition format (0.0.4),
 * from a status reply and a stats reply of the control socket: what
 * `uipcctl metrics` prints and uipc-exporter serves.  Pure: no I/O but
 * the FILE it writes to. */
#ifndef UIPC_TOOLS_METRICS_H
#define UIPC_TOOLS_METRICS_H

#include <stdio.h>

#include "control.pb-c.h"

/* The Content-Type of what metrics_write writes. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Writes every metric family, each once with its # HELP and # TYPE; either
 * reply may be NULL (its families are left out).  Label values are escaped
 * as the format asks; nothing from the replies is trusted to be sane
 * (names are the config's, counts the modules' own). */
void metrics_write(FILE *f, const Uipc__Control__Reply *status, const Uipc__Control__Reply *stats);

#endif
