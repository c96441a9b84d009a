/* SPDX-License-Identifier: MIT */
/* systemd's notify protocol (sd_notify(3)): readiness, status, stopping,
 * watchdog.  Through libsystemd when built with it (meson -Dsystemd=),
 * else the datagram to $NOTIFY_SOCKET by hand.  Without $NOTIFY_SOCKET
 * every call does nothing. */
#ifndef UIPC_SV_SDNOTIFY_H
#define UIPC_SV_SDNOTIFY_H

#include <stdint.h>

/* state: newline-separated assignments, e.g. "READY=1\nSTATUS=..." */
void sv_sd_notify(const char *state);
/* The watchdog interval systemd asked for (WATCHDOG_USEC, for this pid),
 * in ms; 0 when none. */
uint64_t sv_sd_watchdog_ms(void);

#endif
