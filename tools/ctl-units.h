/* SPDX-License-Identifier: MIT */
/* How uipcctl writes times, in its tables and in top: shared so that the
 * same value reads the same everywhere. */
#ifndef UIPC_TOOLS_CTL_UNITS_H
#define UIPC_TOOLS_CTL_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "3.2s", "5m12s", "2h03m", "4d07h". */
void ctl_uptime(char *buf, size_t len, uint64_t ms);
/* "850ns", "12.3us", "4.1ms", "1.5s"; "-" for 0 (none measured). */
void ctl_latency(char *buf, size_t len, uint64_t ns);

#endif
