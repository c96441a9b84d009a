/* SPDX-License-Identifier: MIT */
/* The pure half of the log (log.h): the event table, and an event as one
 * line of JSON.  log.c writes it. */
#include <stdio.h>
#include <string.h>

#include "log.h"

const struct sv_event_def sv_event_defs[SV_EV_COUNT] = {
#define SV_EV_DEF(e, name, level, id, fields) [SV_EV_##e] = { name, level, id, fields },
    SV_EVENTS(SV_EV_DEF)
#undef SV_EV_DEF
};

int sv__log_priority(enum conf_log level)
{
    static const int prio[] = { [LOG_DEBUG] = 7, [LOG_INFO] = 6, [LOG_WARN] = 4, [LOG_ERROR] = 3 };
    return prio[level];
}

/* Appends n bytes, or nothing when they do not fit with room bytes to
 * spare (what must follow them: a closing quote, the object's end). */
static bool put(struct sv_buf *b, const char *s, size_t n, size_t room)
{
    if (b->full || b->len + n + room >= b->cap) {
        b->full = true;
        return false;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 if none. */
static size_t utf8_len(const unsigned char *s)
{
    static const struct { unsigned char lo, hi, second_lo, second_hi, len; } lead[] = {
        { 0xc2, 0xdf, 0x80, 0xbf, 2 }, { 0xe0, 0xe0, 0xa0, 0xbf, 3 }, { 0xe1, 0xec, 0x80, 0xbf, 3 },
        { 0xed, 0xed, 0x80, 0x9f, 3 }, { 0xee, 0xef, 0x80, 0xbf, 3 }, { 0xf0, 0xf0, 0x90, 0xbf, 4 },
        { 0xf1, 0xf3, 0x80, 0xbf, 4 }, { 0xf4, 0xf4, 0x80, 0x8f, 4 },
    };
    for (size_t i = 0; i < sizeof(lead) / sizeof(lead[0]); i++) {
        if (s[0] < lead[i].lo || s[0] > lead[i].hi)
            continue;
        if (s[1] < lead[i].second_lo || s[1] > lead[i].second_hi)
            return 0;
        for (size_t k = 2; k < lead[i].len; k++)
            if ((s[k] & 0xc0) != 0x80)
                return 0; /* the NUL that ends s stops here too */
        return lead[i].len;
    }
    return 0;
}

/* One character of s (or one byte that is none) as JSON writes it;
 * *used: how many bytes of s it took. */
static size_t json_char(const unsigned char *s, char out[8], size_t *used)
{
    *used = 1;
    if (*s == '"' || *s == '\\')
        return (size_t)snprintf(out, 8, "\\%c", *s);
    if (*s < 0x20)
        return (size_t)snprintf(out, 8, "\\u%04x", *s);
    if (*s < 0x80) {
        out[0] = (char)*s;
        return 1;
    }
    size_t n = utf8_len(s);
    if (!n)
        return (size_t)snprintf(out, 8, "\\ufffd"); /* not UTF-8: the replacement character */
    memcpy(out, s, n);
    *used = n;
    return n;
}

void sv__json_str(struct sv_buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (!put(b, "\"", 1, 1))
        return;
    while (*u) {
        char c[8];
        size_t used, n = json_char(u, c, &used);
        /* room for the closing quote, and the object's end after it */
        if (b->len + n + 4 >= b->cap)
            break;
        put(b, c, n, 0);
        u += used;
    }
    b->full = false;
    put(b, "\"", 1, 0);
}

static void json_key(struct sv_buf *b, const char *key)
{
    put(b, ",", 1, 3);
    sv__json_str(b, key);
    put(b, ":", 1, 3);
}

void sv__json_event(struct sv_buf *b, const char *time, enum conf_log level, enum sv_ev ev,
                    const char *module, const char *message, const struct sv_field *f, size_t nf)
{
    static const char *const levels[] = { "debug", "info", "warn", "error" };
    put(b, "{\"time\":", 8, 3);
    sv__json_str(b, time);
    json_key(b, "level");
    sv__json_str(b, levels[level]);
    json_key(b, "event");
    sv__json_str(b, sv_event_defs[ev].name);
    if (module) {
        json_key(b, "module");
        sv__json_str(b, module);
    }
    json_key(b, "message");
    sv__json_str(b, message);
    for (size_t i = 0; i < nf && !b->full; i++) {
        char num[24];
        size_t at = b->len;
        json_key(b, f[i].key);
        if (f[i].str) {
            sv__json_str(b, f[i].str);
        } else {
            int n = snprintf(num, sizeof(num), "%lld", f[i].num);
            put(b, num, (size_t)n, 2);
        }
        if (b->full) /* a field that does not fit is left out whole */
            b->p[b->len = at] = '\0';
    }
    b->full = false;
    put(b, "}\n", 2, 0);
}
