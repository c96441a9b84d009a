/* SPDX-License-Identifier: MIT */
/* modules.conf's keys: which exist in which section (the keys tables), and
 * each one's value parsed, checked and stored in struct conf. */
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/capability.h>

#include "config-parse.h"
#include "region.h"

struct key_def;
typedef bool key_setter(struct parse *p, const struct key_def *k, const char *v);

/* What a key is and how its value is read: a setter, with a field and a
 * range where several keys share one. */
struct key_def {
    const char *name;
    enum key key;
    key_setter *set;
    size_t at;           /* set_uint, set_str, set_yes_no, set_enum: the field's
                          * offset in struct conf_module, or in struct conf */
    unsigned min, max;   /* set_uint */
    const char *const *names; /* set_enum: the values, by number; NULL after the last */
    bool (*each)(struct parse *, char *tok); /* set_list: one entry */
    bool commas;         /* set_list: entries are separated by commas too */
};

static bool parse_uint(struct parse *p, const char *v, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    if (!isdigit((unsigned char)*v))
        return conf__fail(p, p->line, "'%s' is not a number", v);
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || n < min || n > max)
        return conf__fail(p, p->line, "'%s' is not a number from %u to %u", v, min, max);
    *out = (unsigned)n;
    return true;
}

/* Splits v on whitespace (and commas when commas is set) into at most
 * CONF_MAX_LIST tokens, calling fn on each. */
static bool each_token(struct parse *p, const char *v, bool commas,
                       bool (*fn)(struct parse *, char *tok))
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", v);
    const char *sep = commas ? " \t," : " \t";
    char *save, *tok = strtok_r(buf, sep, &save);
    for (unsigned n = 0; tok; tok = strtok_r(NULL, sep, &save), n++) {
        if (n == CONF_MAX_LIST)
            return conf__fail(p, p->line, "more than %d entries", CONF_MAX_LIST);
        if (!fn(p, tok))
            return false;
    }
    return true;
}

static bool add_provide(struct parse *p, char *tok)
{
    struct conf_module *m = p->mod;
    if (!conf__valid_name(tok))
        return conf__fail(p, p->line, "bad service name '%s'", tok);
    for (unsigned i = 0; i < m->nprovides; i++)
        if (strcmp(m->provides[i], tok) == 0)
            return conf__fail(p, p->line, "service '%s' listed twice", tok);
    snprintf(m->provides[m->nprovides++], CONF_NAME_MAX, "%s", tok);
    return true;
}

/* "service" or "service:SLOTSxSIZE" */
static bool add_connect(struct parse *p, char *tok)
{
    struct conf_module *m = p->mod;
    struct conf_connect *cn = &m->connects[m->nconnects];
    char *geo = strchr(tok, ':');
    if (geo) {
        *geo++ = '\0';
        char *x = strchr(geo, 'x');
        if (!x)
            return conf__fail(p, p->line, "'%s': channel size must be SLOTSxSIZE, e.g. 128x1024", geo);
        *x++ = '\0';
        if (!parse_uint(p, geo, 1, 65536, &cn->slots) || !parse_uint(p, x, 16, 16u << 20, &cn->slot_size))
            return false;
    }
    if (!conf__valid_name(tok))
        return conf__fail(p, p->line, "bad service name '%s'", tok);
    struct uipc_region_hdr h;
    if (geo && uipc__region_layout(tok, cn->slots, cn->slot_size, &h) < 0)
        return conf__fail(p, p->line, "'%s:%ux%u': the channel's region would be over 1 GiB", tok, cn->slots,
                          cn->slot_size);
    for (unsigned i = 0; i < m->nconnects; i++)
        if (strcmp(m->connects[i].service, tok) == 0)
            return conf__fail(p, p->line, "service '%s' listed twice", tok);
    snprintf(cn->service, sizeof(cn->service), "%s", tok);
    m->nconnects++;
    return true;
}

static bool add_after(struct parse *p, char *tok)
{
    struct conf_module *m = p->mod;
    if (!conf__valid_name(tok))
        return conf__fail(p, p->line, "bad module name '%s'", tok);
    snprintf(m->after[m->nafter++], CONF_NAME_MAX, "%s", tok);
    return true;
}

static bool add_arg(struct parse *p, char *tok)
{
    unsigned n = 1;
    while (p->mod->argv[n])
        n++;
    return (p->mod->argv[n] = strdup(tok)) != NULL || conf__fail(p, p->line, "out of memory");
}

static bool add_env(struct parse *p, char *tok)
{
    char *eq = strchr(tok, '=');
    if (!eq || eq == tok)
        return conf__fail(p, p->line, "env entry '%s' is not KEY=VALUE", tok);
    for (char *k = tok; k < eq; k++)
        if (!isalnum((unsigned char)*k) && *k != '_')
            return conf__fail(p, p->line, "env entry '%s': bad variable name", tok);
    if (strncmp(tok, "UIPC_", 5) == 0)
        return conf__fail(p, p->line, "env entry '%s': UIPC_* variables are the supervisor's", tok);
    unsigned n = 0;
    while (p->mod->env[n])
        n++;
    return (p->mod->env[n] = strdup(tok)) != NULL || conf__fail(p, p->line, "out of memory");
}

static bool store_string(struct parse *p, char **dst, const char *v)
{
    if (!*v)
        return conf__fail(p, p->line, "empty value");
    free(*dst);
    *dst = strdup(v);
    return *dst || conf__fail(p, p->line, "out of memory");
}

static bool parse_enum(struct parse *p, const char *v, const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return true;
        }
    char list[128] = "";
    for (int i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", names[i]);
    return conf__fail(p, p->line, "'%s' is not one of: %s", v, list);
}

/* ---- sandbox keys ---- */

/* "net_bind_service" or "cap_net_bind_service", any case; "none" */
static bool add_cap(struct parse *p, char *tok)
{
    char name[64];
    cap_value_t cap;
    for (char *c = tok; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (strcmp(tok, "none") == 0)
        return true;
    snprintf(name, sizeof(name), "%s%s", strncmp(tok, "cap_", 4) == 0 ? "" : "cap_", tok);
    if (cap_from_name(name, &cap) < 0 || cap < 0 || cap > 63)
        return conf__fail(p, p->line, "unknown capability '%s'", tok);
    p->mod->caps |= 1ull << cap;
    return true;
}

static const struct { const char *name; int flag; } ns_names[] = {
    { "pid", CLONE_NEWPID }, { "net", CLONE_NEWNET }, { "mount", CLONE_NEWNS },
    { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "user", CLONE_NEWUSER },
};

static bool add_namespace(struct parse *p, char *tok)
{
    if (strcmp(tok, "none") == 0)
        return true;
    for (size_t i = 0; i < sizeof(ns_names) / sizeof(ns_names[0]); i++)
        if (strcmp(tok, ns_names[i].name) == 0) {
            p->mod->namespaces |= ns_names[i].flag;
            return true;
        }
    return conf__fail(p, p->line, "unknown namespace '%s' (pid, net, mount, ipc, uts, user)", tok);
}

static const char *const rlimit_names[RL_COUNT] = { "memory", "nofile", "nproc", "cpu", "core" };

/* NAME=VALUE: a number, with K, M or G (powers of 1024) for memory and
 * core, or "infinity". */
static bool add_rlimit(struct parse *p, char *tok)
{
    /* [supervisor] rlimits: the defaults, each set once there too */
    uint64_t *rl = p->sec == SEC_MODULE ? p->mod->rlimit : p->rl_default;
    char *eq = strchr(tok, '=');
    if (!eq)
        return conf__fail(p, p->line, "rlimits entry '%s' is not NAME=VALUE", tok);
    *eq++ = '\0';
    int r = 0;
    while (r < RL_COUNT && strcmp(rlimit_names[r], tok) != 0)
        r++;
    if (r == RL_COUNT)
        return conf__fail(p, p->line, "unknown rlimit '%s' (memory, nofile, nproc, cpu, core)", tok);
    if (rl[r] != CONF_RLIM_UNSET)
        return conf__fail(p, p->line, "rlimit '%s' set twice", tok);
    if (strcmp(eq, "infinity") == 0) {
        rl[r] = CONF_RLIM_INFINITY;
        return true;
    }
    char *end;
    errno = 0;
    unsigned long long v = isdigit((unsigned char)*eq) ? strtoull(eq, &end, 10) : (end = eq, 0);
    unsigned shift = 0;
    if (end != eq && (r == RL_MEMORY || r == RL_CORE) && end[0] && !end[1])
        shift = end[0] == 'K' ? 10 : end[0] == 'M' ? 20 : end[0] == 'G' ? 30 : 0;
    if (end == eq || errno || (*end && !shift) || v > (CONF_RLIM_INFINITY - 1) >> shift)
        return conf__fail(p, p->line, "rlimit %s: '%s' is not a number%s", tok, eq,
                          r == RL_MEMORY || r == RL_CORE ? " (with K, M or G), or infinity" : " or infinity");
    rl[r] = (uint64_t)v << shift;
    return true;
}

/* "FIRST-LAST": the uids (and gids) modules without a user key get. */
static bool set_dynamic_uids(struct parse *p, const struct key_def *k, const char *v)
{
    (void)k;
    unsigned long first, last;
    int n = 0;
    if (sscanf(v, "%lu-%lu%n", &first, &last, &n) != 2 || v[n] || first == 0 || last < first ||
        last >= UINT32_MAX)
        return conf__fail(p, p->line, "dynamic_uids must be FIRST-LAST, two uids above 0, FIRST <= LAST");
    if (last - first + 1 < CONF_MAX_MODULES)
        return conf__fail(p, p->line, "dynamic_uids: at least %d uids (one per module)", CONF_MAX_MODULES);
    p->c->uid_first = (uid_t)first;
    p->c->uid_last = (uid_t)last;
    return true;
}

/* An absolute directory the module may write to, bound writable into its
 * read-only view. */
static bool add_writable(struct parse *p, char *tok)
{
    struct conf_module *m = p->mod;
    if (*tok != '/')
        return conf__fail(p, p->line, "writable: '%s' is not an absolute path", tok);
    if (m->nwritable == CONF_MAX_LIST)
        return conf__fail(p, p->line, "writable: more than %d paths", CONF_MAX_LIST);
    return (m->writable[m->nwritable++] = strdup(tok)) != NULL || conf__fail(p, p->line, "out of memory");
}

/* ---- setters ---- */

/* The field k->at of the current module, or of the [supervisor] section. */
static void *field(struct parse *p, const struct key_def *k)
{
    return (p->sec == SEC_MODULE ? (char *)p->mod : (char *)p->c) + k->at;
}

static bool set_uint(struct parse *p, const struct key_def *k, const char *v)
{
    return parse_uint(p, v, k->min, k->max, field(p, k));
}

static bool set_str(struct parse *p, const struct key_def *k, const char *v)
{
    return store_string(p, field(p, k), v);
}

static bool set_list(struct parse *p, const struct key_def *k, const char *v)
{
    return each_token(p, v, k->commas, k->each);
}

static bool set_yes_no(struct parse *p, const struct key_def *k, const char *v)
{
    if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
        return conf__fail(p, p->line, "%s must be yes or no", k->name);
    *(bool *)field(p, k) = strcmp(v, "yes") == 0;
    return true;
}

/* control_socket, metrics_socket */
static bool set_socket(struct parse *p, const struct key_def *k, const char *v)
{
    if (*v != '/')
        return conf__fail(p, p->line, "%s must be an absolute path", k->name);
    if (strlen(v) >= 108)
        return conf__fail(p, p->line, "%s longer than a UNIX socket path may be", k->name);
    return store_string(p, (char **)field(p, k), v);
}

/* An enum field: the value's number in k->names.  (struct conf's enums
 * are int-sized, asserted below; GCC and clang make them unsigned int,
 * which an int lvalue may access.) */
static bool set_enum(struct parse *p, const struct key_def *k, const char *v)
{
    int e = 0;
    if (!parse_enum(p, v, k->names, &e))
        return false;
    *(int *)field(p, k) = e;
    return true;
}
_Static_assert(sizeof(enum conf_log) == sizeof(int) && sizeof(enum conf_restart) == sizeof(int) &&
               sizeof(enum conf_log_format) == sizeof(int),
               "set_enum stores an enum as an int");

/* journal: only a supervisor linked with libsystemd speaks journald's
 * protocol; one without says so at the key's line. */
static bool set_log_format(struct parse *p, const struct key_def *k, const char *v)
{
#ifndef UIPC_HAVE_LIBSYSTEMD
    if (strcmp(v, "journal") == 0)
        return conf__fail(p, p->line, "log_format = journal: this uipc-supervisor was built without libsystemd");
#endif
    return set_enum(p, k, v);
}

static const char *const restart_names[] = { "always", "on-failure", "never", NULL };

/* config-os.c: names are looked up in the system's user and group
 * databases as they are read. */
static bool set_user(struct parse *p, const struct key_def *k, const char *v)
{
    (void)k;
    return conf__set_user(p, v);
}

static bool set_group(struct parse *p, const struct key_def *k, const char *v)
{
    (void)k;
    return conf__set_group(p, v);
}

#define SV(f) offsetof(struct conf, f)
#define MOD(f) offsetof(struct conf_module, f)

/* Every key of modules.conf(5), with how its value is read: */
static const struct key_def sv_keys[] = {
    { "heartbeat_interval_ms", K_HEARTBEAT, .set = set_uint, .at = SV(heartbeat_interval_ms), .min = 10, .max = 60000 },
    { "hang_timeout_ms", K_HANG, .set = set_uint, .at = SV(hang_timeout_ms), .min = 20, .max = 3600000 },
    { "shutdown_timeout_ms", K_SHUTDOWN, .set = set_uint, .at = SV(shutdown_timeout_ms), .min = 0, .max = 600000 },
    { "control_socket", K_SOCKET, .set = set_socket, .at = SV(control_socket) },
    { "metrics_socket", K_METRICS_SOCKET, .set = set_socket, .at = SV(metrics_socket) },
    { "log_level", K_LOGLEVEL, .set = set_enum, .at = SV(log_level), .names = conf_log_names },
    { "policy_dir", K_POLICY_DIR, .set = set_str, .at = SV(policy_dir) },
    { "dynamic_uids", K_DYNAMIC_UIDS, .set = set_dynamic_uids },
    { "rlimits", K_SV_RLIMITS, .set = set_list, .each = add_rlimit, .commas = true },
    { "control_from_modules", K_CTL_MODULES, .set = set_yes_no, .at = SV(control_from_modules) },
    { "log_format", K_LOGFORMAT, .set = set_log_format, .at = SV(log_format), .names = conf_log_format_names },
};

static const struct key_def module_keys[] = {
    { "exec", K_EXEC, .set = set_str, .at = MOD(exec) },
    { "args", K_ARGS, .set = set_list, .each = add_arg },
    { "env", K_ENV, .set = set_list, .each = add_env },
    { "provides", K_PROVIDES, .set = set_list, .each = add_provide, .commas = true },
    { "connects", K_CONNECTS, .set = set_list, .each = add_connect, .commas = true },
    { "restart", K_RESTART, .set = set_enum, .at = MOD(restart), .names = restart_names },
    { "max_restarts", K_MAXRESTARTS, .set = set_uint, .at = MOD(max_restarts), .min = 0, .max = 100000 },
    { "restart_window_s", K_WINDOW, .set = set_uint, .at = MOD(restart_window_s), .min = 1, .max = 86400 },
    { "after", K_AFTER, .set = set_list, .each = add_after, .commas = true },
    { "policy", K_POLICY, .set = set_str, .at = MOD(policy) },
    { "hang_timeout_ms", K_MOD_HANG, .set = set_uint, .at = MOD(hang_timeout_ms), .min = 20, .max = 3600000 },
    { "backoff_ms", K_BACKOFF, .set = set_uint, .at = MOD(backoff_ms), .min = 0, .max = 600000 },
    { "backoff_max_ms", K_BACKOFF_MAX, .set = set_uint, .at = MOD(backoff_max_ms), .min = 0, .max = 600000 },
    { "capabilities", K_CAPS, .set = set_list, .each = add_cap, .commas = true },
    { "user", K_USER, .set = set_user },
    { "group", K_GROUP, .set = set_group },
    { "namespaces", K_NAMESPACES, .set = set_list, .each = add_namespace, .commas = true },
    { "rlimits", K_RLIMITS, .set = set_list, .each = add_rlimit, .commas = true },
    { "writable", K_WRITABLE, .set = set_list, .each = add_writable, .commas = true },
};

#undef SV
#undef MOD

static const struct key_def *find_key(bool in_module, const char *name)
{
    const struct key_def *k = in_module ? module_keys : sv_keys;
    size_t n = in_module ? sizeof(module_keys) / sizeof(module_keys[0]) : sizeof(sv_keys) / sizeof(sv_keys[0]);
    for (size_t i = 0; i < n; i++)
        if (strcmp(k[i].name, name) == 0)
            return &k[i];
    return NULL;
}

int conf__key(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    (void)section; /* the reader tracked it, with its line */
    if (p->failed)
        return 0;
    if (p->sec == SEC_NONE)
        return conf__fail(p, p->line, "'%s' outside any section", name);
    bool in_module = p->sec == SEC_MODULE;
    const struct key_def *k = find_key(in_module, name);
    if (!k)
        return conf__fail(p, p->line, "unknown key '%s' in [%s]", name, in_module ? "module" : "supervisor");
    unsigned *seen = in_module ? &p->mod->seen : &p->c->seen;
    if (*seen & (1u << k->key))
        return conf__fail(p, p->line, "'%s' set twice in this section", name);
    *seen |= 1u << k->key;
    if (in_module)
        p->key_line[p->mod - p->c->mod][k->key] = p->line;
    else
        p->c->key_line[k->key] = p->line;
    return k->set(p, k, value);
}
