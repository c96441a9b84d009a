/* SPDX-License-Identifier: MIT */
/* One event per line: "2026-11-23T21:20:34.123Z info  kv: started, pid 42",
 * the same as a JSON object, or a journald entry (log.h). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum conf_log threshold = LOG_INFO;
static enum conf_log_format format = LOGF_TEXT;

/* The message is cut here, as it always was in the text format. */
#define LINE_MAX_TEXT 1024
/* Room for the longest JSON line: a message and a module's output line,
 * each escaped at up to 6 bytes per byte, and the fields. */
#define LINE_MAX_JSON 16384

void sv_log_level(enum conf_log level)
{
    threshold = level;
}

void sv_log_format(enum conf_log_format f)
{
    format = f;
}

/* "2026-11-23T21:20:34.123Z": RFC 3339, UTC, milliseconds. */
static void now_rfc3339(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void write_text(enum conf_log level, const char *time, const char *msg)
{
    static const char *const names[] = { "debug", "info ", "warn ", "error" };
    char line[LINE_MAX_TEXT];
    size_t n = (size_t)snprintf(line, sizeof(line), "%s %s ", time, names[level]);
    size_t len = strnlen(msg, sizeof(line) - n - 1); /* cut where it always was */
    memcpy(line + n, msg, len);
    line[n + len] = '\0';
    /* One write per line, so lines from a crowded log never interleave. */
    fprintf(stderr, "%s\n", line);
}

static void write_json(enum conf_log level, const char *time, enum sv_ev ev, const char *module,
                       const char *msg, const struct sv_field *f, size_t nf)
{
    static char line[LINE_MAX_JSON];
    struct sv_buf b = { .p = line, .cap = sizeof(line) };
    sv__json_event(&b, time, level, ev, module, msg, f, nf);
    fwrite(line, 1, b.len, stderr);
}


/* The journal, or JSON on stderr while journald cannot be reached: said
 * once when it goes, and again only after it came back and went again. */
static void to_journal(enum conf_log level, const char *time, enum sv_ev ev, const char *module,
                       const char *msg, const struct sv_field *f, size_t nf)
{
    static bool away;
    int r = sv__journal_send(level, ev, module, msg, f, nf);
    if (r == 0) {
        away = false;
        return;
    }
    if (!away) {
        char why[160];
        snprintf(why, sizeof(why), "log_format = journal: journald cannot be reached (%s); JSON lines on "
                 "stderr until it can", strerror(-r));
        struct sv_field err[] = { SV_STR("error", strerror(-r)) };
        write_json(LOG_WARN, time, SV_EV_LOG_FALLBACK, NULL, why, err, 1);
        away = true;
    }
    write_json(level, time, ev, module, msg, f, nf);
}

void sv_event(enum conf_log level, enum sv_ev ev, const char *module, const struct sv_field *f, size_t nf,
              const char *fmt, ...)
{
    char msg[LINE_MAX_TEXT], time[40];
    if (level < threshold)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    now_rfc3339(time, sizeof(time));
    if (format == LOGF_JSON)
        write_json(level, time, ev, module, msg, f, nf);
    else if (format == LOGF_JOURNAL)
        to_journal(level, time, ev, module, msg, f, nf);
    else
        write_text(level, time, msg);
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
