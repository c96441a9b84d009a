/* SPDX-License-Identifier: MIT */
/* One line per event: "2026-11-23T21:20:34.123Z info  kv: started, pid 42". */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum conf_log threshold = LOG_INFO;

void sv_log_level(enum conf_log level)
{
    threshold = level;
}

void sv_log(enum conf_log level, const char *fmt, ...)
{
    static const char *const names[] = { "debug", "info ", "warn ", "error" };
    char line[1024];
    struct timespec ts;
    struct tm tm;

    if (level < threshold)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ %s ", ts.tv_nsec / 1000000,
                  names[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per line, so lines from a crowded log never interleave. */
    fprintf(stderr, "%s\n", line);
}

struct sv_signame sv_signame(int sig)
{
    struct sv_signame n;
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(n.s, sizeof(n.s), "SIG%s", abbrev);
    else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        snprintf(n.s, sizeof(n.s), "SIGRTMIN+%d", sig - SIGRTMIN);
    else
        snprintf(n.s, sizeof(n.s), "signal %d", sig);
    return n;
}
