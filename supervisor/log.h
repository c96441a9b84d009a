/* SPDX-License-Identifier: MIT */
/* The supervisor's log: one line per event on stderr, with time and level. */
#ifndef UIPC_SV_LOG_H
#define UIPC_SV_LOG_H

#include "config.h"

void sv_log_level(enum conf_log level);
__attribute__((format(printf, 2, 3)))
void sv_log(enum conf_log level, const char *fmt, ...);

/* "SIGTERM", "SIGRTMIN+3" or "signal 99", for log lines. */
struct sv_signame { char s[24]; };
struct sv_signame sv_signame(int sig);

#define sv_debug(...) sv_log(LOG_DEBUG, __VA_ARGS__)
#define sv_info(...)  sv_log(LOG_INFO, __VA_ARGS__)
#define sv_warn(...)  sv_log(LOG_WARN, __VA_ARGS__)
#define sv_error(...) sv_log(LOG_ERROR, __VA_ARGS__)

#endif
