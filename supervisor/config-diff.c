/* SPDX-License-Identifier: MIT */
/* What a reload compares (config-diff.h): a module's own settings, field
 * by field, and the [supervisor] section's, each setting shown as text and
 * compared as text. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config-diff.h"
#include "policy.h"

/* ---- a module ---- */

/* The module's settings that are plain values, compared as bytes (none
 * has padding inside). */
#define MOD(f) { offsetof(struct conf_module, f), sizeof(((struct conf_module *)0)->f) }
static const struct { size_t at, size; } mod_values[] = {
    MOD(restart), MOD(max_restarts), MOD(restart_window_s), MOD(backoff_ms),
    MOD(backoff_max_ms), MOD(hang_timeout_ms), MOD(caps), MOD(has_user), MOD(has_group),
    MOD(dynamic_user), MOD(uid), MOD(gid), MOD(namespaces), MOD(default_namespaces),
    MOD(rlimit), MOD(rlimit_default),
};
#undef MOD

static bool same_str(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

/* NULL-terminated, like argv and env. */
static bool same_strv(char *const *a, char *const *b)
{
    for (; *a && *b; a++, b++)
        if (strcmp(*a, *b) != 0)
            return false;
    return !*a && !*b;
}

/* n strings on each side, the i-th at list + i * stride, or pointed to
 * from there (indirect): provides and after hold names, writable holds
 * pointers. */
static bool same_list(const void *a, unsigned na, const void *b, unsigned nb, size_t stride, bool indirect)
{
    if (na != nb)
        return false;
    for (unsigned i = 0; i < na; i++) {
        const char *x = (const char *)a + i * stride, *y = (const char *)b + i * stride;
        if (indirect) {
            x = *(char *const *)x;
            y = *(char *const *)y;
        }
        if (strcmp(x, y) != 0)
            return false;
    }
    return true;
}

bool conf_module_same(const struct conf_module *a, const struct conf_module *b)
{
    for (size_t i = 0; i < sizeof(mod_values) / sizeof(mod_values[0]); i++)
        if (memcmp((const char *)a + mod_values[i].at, (const char *)b + mod_values[i].at, mod_values[i].size))
            return false;
    /* argv[0] is exec */
    return strcmp(a->name, b->name) == 0 && same_strv(a->argv, b->argv) && same_strv(a->env, b->env) &&
           same_list(a->provides, a->nprovides, b->provides, b->nprovides, sizeof(a->provides[0]), false) &&
           same_list(a->after, a->nafter, b->after, b->nafter, sizeof(a->after[0]), false) &&
           same_list(a->writable, a->nwritable, b->writable, b->nwritable, sizeof(char *), true) &&
           same_str(a->policy, b->policy) && policy_same(a->pol, b->pol);
}

/* ---- [supervisor] ---- */

/* A setting as the message shows it; a path longer than this is cut in
 * the message only. */
#define SHOW_MAX 256

typedef void shower(const struct conf *c, size_t at, char *buf);

static void show_uint(const struct conf *c, size_t at, char *buf)
{
    snprintf(buf, SHOW_MAX, "%u", *(const unsigned *)((const char *)c + at));
}

static void show_yes_no(const struct conf *c, size_t at, char *buf)
{
    snprintf(buf, SHOW_MAX, "%s", *(const bool *)((const char *)c + at) ? "yes" : "no");
}

static void show_log_level(const struct conf *c, size_t at, char *buf)
{
    (void)at;
    snprintf(buf, SHOW_MAX, "%s", conf_log_names[c->log_level]);
}

static void show_log_format(const struct conf *c, size_t at, char *buf)
{
    (void)at;
    snprintf(buf, SHOW_MAX, "%s", conf_log_format_names[c->log_format]);
}

static void show_uids(const struct conf *c, size_t at, char *buf)
{
    (void)at;
    snprintf(buf, SHOW_MAX, "%u-%u", (unsigned)c->uid_first, (unsigned)c->uid_last);
}

/* Every [supervisor] setting a reload compares, in the order its changes
 * are told.  rlimits is not here: it is in each module's rlimit. */
struct sv_setting {
    const char *name;
    enum conf_sv_key key;
    bool live;           /* can change while the supervisor runs */
    shower *show;        /* compared as shown; NULL: a path, compared whole */
    size_t at;           /* show_uint, show_yes_no, a path: the field's offset */
};

#define SV(f) offsetof(struct conf, f)
static const struct sv_setting sv_settings[] = {
    { "log_level", CONF_SV_LOGLEVEL, true, show_log_level, 0 },
    { "log_format", CONF_SV_LOGFORMAT, true, show_log_format, 0 },
    { "heartbeat_interval_ms", CONF_SV_HEARTBEAT, true, show_uint, SV(heartbeat_interval_ms) },
    { "hang_timeout_ms", CONF_SV_HANG, true, show_uint, SV(hang_timeout_ms) },
    { "shutdown_timeout_ms", CONF_SV_SHUTDOWN, true, show_uint, SV(shutdown_timeout_ms) },
    { "policy_dir", CONF_SV_POLICY_DIR, true, NULL, SV(policy_dir) },
    { "dynamic_uids", CONF_SV_DYNAMIC_UIDS, true, show_uids, 0 },
    /* the socket is bound once, and who may connect is decided as it is */
    { "control_socket", CONF_SV_SOCKET, false, NULL, SV(control_socket) },
    { "control_from_modules", CONF_SV_CTL_MODULES, false, show_yes_no, SV(control_from_modules) },
    { "metrics_socket", CONF_SV_METRICS_SOCKET, false, NULL, SV(metrics_socket) },
};
#undef SV

/* Whether s differs between old and new; was and is: how it reads in each. */
static bool changed(const struct sv_setting *s, const struct conf *old, const struct conf *new,
                    char *was, char *is)
{
    if (s->show) {
        s->show(old, s->at, was);
        s->show(new, s->at, is);
        return strcmp(was, is) != 0;
    }
    const char *a = *(char *const *)((const char *)old + s->at), *b = *(char *const *)((const char *)new + s->at);
    snprintf(was, SHOW_MAX, "%s", a ? a : "(built-in)");
    snprintf(is, SHOW_MAX, "%s", b ? b : "(built-in)");
    return !same_str(a, b);
}

/* Appends to msg (of len bytes) at *pos; *pos counts what did not fit too. */
__attribute__((format(printf, 4, 5)))
static void append(char *msg, size_t len, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*pos < len ? msg + *pos : NULL, *pos < len ? len - *pos : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        *pos += (size_t)n;
}

int conf_supervisor_diff(const struct conf *old, const struct conf *new, char *msg, size_t len)
{
    size_t pos = 0;
    if (len)
        msg[0] = '\0';
    for (size_t i = 0; i < sizeof(sv_settings) / sizeof(sv_settings[0]); i++) {
        const struct sv_setting *s = &sv_settings[i];
        char was[SHOW_MAX], is[SHOW_MAX];
        if (!changed(s, old, new, was, is))
            continue;
        if (s->live) {
            append(msg, len, &pos, "%s%s %s -> %s", pos ? "; " : "", s->name, was, is);
            continue;
        }
        int line = new->key_line[s->key] ? new->key_line[s->key] : new->line ? new->line : 1;
        pos = 0;
        append(msg, len, &pos, "%s:%d: %s cannot change while the supervisor runs (restart it)", new->path,
               line, s->name);
        return -EINVAL;
    }
    return 0;
}
