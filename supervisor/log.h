/* SPDX-License-Identifier: MIT */
/* The supervisor's log: one event per line on stderr, as text (time, level
 * and message) or as a JSON object, or one journald entry per event. */
#ifndef UIPC_SV_LOG_H
#define UIPC_SV_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "log-events.h"

/* The kinds of event (log-events.h). */
enum sv_ev {
#define SV_EV_ENUM(e, name, level, id, fields) SV_EV_##e,
    SV_EVENTS(SV_EV_ENUM)
#undef SV_EV_ENUM
    SV_EV_COUNT
};

struct sv_event_def {
    const char *name;
    enum conf_log level;   /* sv_ev's; sv_ev_at's callers choose */
    const char *message_id; /* 32 hex digits */
    const char *fields;    /* for the docs: "pid code|signal ..." */
};
extern const struct sv_event_def sv_event_defs[SV_EV_COUNT];

/* A typed field: a string when str is set, else the number num. */
struct sv_field {
    const char *key;       /* lower case, [a-z_]: JSON's key, UIPC_KEY for journald */
    const char *str;
    long long num;
};
#define SV_NUM(k, v) { (k), NULL, (long long)(v) }
#define SV_STR(k, v) { (k), (v), 0 }
/* A call's fields: SV_FIELDS(SV_NUM("pid", pid), ...), or SV_NO_FIELDS. */
#define SV_FIELDS(...) (const struct sv_field[]){ __VA_ARGS__ }, \
    sizeof((const struct sv_field[]){ __VA_ARGS__ }) / sizeof(struct sv_field)
#define SV_NO_FIELDS NULL, 0

void sv_log_level(enum conf_log level);
/* How events are written from now on; journal only when built with
 * libsystemd (the config refuses it otherwise). */
void sv_log_format(enum conf_log_format format);

/* One event: module is NULL for the supervisor's own; the message is the
 * text format's line after time and level, "kv: started, pid 42". */
__attribute__((format(printf, 6, 7)))
void sv_event(enum conf_log level, enum sv_ev ev, const char *module, const struct sv_field *f, size_t nf,
              const char *fmt, ...);
/* At the event's own level ... */
#define sv_ev(ev, module, ...) sv_event(sv_event_defs[SV_EV_##ev].level, SV_EV_##ev, module, __VA_ARGS__)
/* ... or at another. */
#define sv_ev_at(level, ev, module, ...) sv_event(level, SV_EV_##ev, module, __VA_ARGS__)

/* "SIGTERM", "SIGRTMIN+3" or "signal 99", for log lines. */
struct sv_signame { char s[24]; };
struct sv_signame sv_signame(int sig);

/* log-journal.c: the event as a journald entry; 0, or -errno (journald's
 * socket missing; -ENOSYS: built without libsystemd). */
int sv__journal_send(enum conf_log level, enum sv_ev ev, const char *module, const char *msg,
                     const struct sv_field *f, size_t nf);

/* ---- log-format.c: pure, unit-tested ---- */

/* A buffer that is never overrun: an append that does not fit entirely
 * is dropped (full is set), so what is in it stays well-formed. */
struct sv_buf {
    char *p;
    size_t cap, len;
    bool full;
};
/* s as a JSON string, quotes included: '"' and '\\' escaped, control
 * characters as \u00XX, bytes that are not UTF-8 as \ufffd.  A string
 * too long is cut between two characters, still quoted. */
void sv__json_str(struct sv_buf *b, const char *s);
/* One JSON object, "\n" after it: time (a string), level, event, module
 * (when not NULL), message, then the fields. */
void sv__json_event(struct sv_buf *b, const char *time, enum conf_log level, enum sv_ev ev,
                      const char *module, const char *message, const struct sv_field *f, size_t nf);
/* journald's PRIORITY of a level: 7 debug, 6 info, 4 warn, 3 error. */
int sv__log_priority(enum conf_log level);

#endif
