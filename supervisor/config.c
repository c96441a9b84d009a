/* SPDX-License-Identifier: MIT */
/* modules.conf parsing (inih does the INI syntax) and checking.  Every
 * error names FILE:LINE; the first one stops the load. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <sys/capability.h>

#include "config.h"
#include "region.h"
#include "policy.h"

#define UIPC_CHANNELS_PER_MODULE 126 /* libmodule's futex_waitv bound */

enum key {
    /* [supervisor] */
    K_HEARTBEAT, K_HANG, K_SHUTDOWN, K_SOCKET, K_LOGLEVEL, K_POLICY_DIR, K_DYNAMIC_UIDS, K_SV_RLIMITS,
    K_CTL_MODULES,
    /* [module NAME] */
    K_EXEC, K_ARGS, K_ENV, K_PROVIDES, K_CONNECTS, K_RESTART, K_MAXRESTARTS,
    K_WINDOW, K_AFTER, K_POLICY, K_MOD_HANG, K_BACKOFF, K_BACKOFF_MAX,
    K_CAPS, K_USER, K_GROUP, K_NAMESPACES, K_RLIMITS, K_WRITABLE,
    K_COUNT
};

struct key_def {
    const char *name;
    enum key key;
    bool module; /* a [module] key, else a [supervisor] one */
};

static const struct key_def keys[] = {
    { "heartbeat_interval_ms", K_HEARTBEAT, false },
    { "hang_timeout_ms", K_HANG, false },
    { "shutdown_timeout_ms", K_SHUTDOWN, false },
    { "control_socket", K_SOCKET, false },
    { "log_level", K_LOGLEVEL, false },
    { "policy_dir", K_POLICY_DIR, false },
    { "dynamic_uids", K_DYNAMIC_UIDS, false },
    { "rlimits", K_SV_RLIMITS, false },
    { "control_from_modules", K_CTL_MODULES, false },
    { "exec", K_EXEC, true },
    { "args", K_ARGS, true },
    { "env", K_ENV, true },
    { "provides", K_PROVIDES, true },
    { "connects", K_CONNECTS, true },
    { "restart", K_RESTART, true },
    { "max_restarts", K_MAXRESTARTS, true },
    { "restart_window_s", K_WINDOW, true },
    { "after", K_AFTER, true },
    { "policy", K_POLICY, true },
    { "hang_timeout_ms", K_MOD_HANG, true },
    { "backoff_ms", K_BACKOFF, true },
    { "backoff_max_ms", K_BACKOFF_MAX, true },
    { "capabilities", K_CAPS, true },
    { "user", K_USER, true },
    { "group", K_GROUP, true },
    { "namespaces", K_NAMESPACES, true },
    { "rlimits", K_RLIMITS, true },
    { "writable", K_WRITABLE, true },
};

enum section { SEC_NONE, SEC_SUPERVISOR, SEC_MODULE };

struct parse {
    struct conf *c;
    FILE *f;
    int line;
    enum section sec;
    struct conf_module *mod;       /* current [module] */
    int key_line[CONF_MAX_MODULES][K_COUNT];
    int sup_line[K_COUNT];
    uint64_t rl_default[RL_COUNT]; /* [supervisor] rlimits */
    bool failed;
    char *err;
    size_t errlen;
};

static bool fail(struct parse *p, int line, const char *fmt, ...)
{
    if (p->failed)
        return false;
    p->failed = true;
    int n = snprintf(p->err, p->errlen, "%s:%d: ", p->c->path, line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->errlen)
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

/* Service and module names: what can go into a manifest and a log line. */
static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CONF_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static bool open_module(struct parse *p, char *name)
{
    struct conf *c = p->c;
    if (!valid_name(name))
        return fail(p, p->line, "bad module name '%s' (letters, digits, _ - . ; at most %d)",
                    name, CONF_NAME_MAX - 1);
    int first = conf_module_index(c, name);
    if (first >= 0)
        return fail(p, p->line, "module '%s' defined twice (first at line %d)", name,
                    c->mod[first].line);
    if (c->nmod == CONF_MAX_MODULES)
        return fail(p, p->line, "more than %d modules", CONF_MAX_MODULES);
    p->mod = &c->mod[c->nmod++];
    snprintf(p->mod->name, sizeof(p->mod->name), "%s", name);
    p->mod->line = p->line;
    p->mod->restart = RESTART_ON_FAILURE;
    p->mod->max_restarts = 5;
    p->mod->restart_window_s = 60;
    p->mod->backoff_ms = 100;
    p->mod->backoff_max_ms = 5000;
    for (int r = 0; r < RL_COUNT; r++)
        p->mod->rlimit[r] = CONF_RLIM_UNSET;
    p->sec = SEC_MODULE;
    return true;
}

/* Section headers are read here rather than in the inih handler, which
 * never hears of a section without keys. */
static bool section_header(struct parse *p, char *s)
{
    char *end = strchr(s, ']');
    if (!end)
        return fail(p, p->line, "section header without ']'");
    *end = '\0';
    char *rest = trim(end + 1);
    if (*rest && *rest != ';' && *rest != '#')
        return fail(p, p->line, "text after section header");
    char *name = trim(s + 1);
    if (strcmp(name, "supervisor") == 0) {
        if (p->c->seen & (1u << 31))
            return fail(p, p->line, "second [supervisor] section");
        p->c->seen |= 1u << 31;
        p->sec = SEC_SUPERVISOR;
        return true;
    }
    if (strncmp(name, "module", 6) == 0 && isspace((unsigned char)name[6]))
        return open_module(p, trim(name + 6));
    return fail(p, p->line, "unknown section [%s] (expected [supervisor] or [module NAME])", name);
}

static char *reader(char *str, int num, void *stream)
{
    struct parse *p = stream;
    if (p->failed || !fgets(str, num, p->f))
        return NULL;
    p->line++;
    size_t len = strlen(str);
    if (len && str[len - 1] != '\n' && !feof(p->f)) {
        fail(p, p->line, "line longer than %d characters", num - 2);
        return NULL;
    }
    char line[512];
    snprintf(line, sizeof(line), "%s", str);
    char *t = trim(line);
    if (*t == '\0' || *t == ';' || *t == '#')
        return str;
    if (isspace((unsigned char)str[0])) {
        /* inih would glue it to the previous value */
        fail(p, p->line, "indented line (continuation lines are not supported)");
        return NULL;
    }
    if (*t == '[' && !section_header(p, t))
        return NULL;
    return str;
}

static bool parse_uint(struct parse *p, const char *v, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    if (!isdigit((unsigned char)*v))
        return fail(p, p->line, "'%s' is not a number", v);
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || n < min || n > max)
        return fail(p, p->line, "'%s' is not a number from %u to %u", v, min, max);
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
            return fail(p, p->line, "more than %d entries", CONF_MAX_LIST);
        if (!fn(p, tok))
            return false;
    }
    return true;
}

static bool add_provide(struct parse *p, char *tok)
{
    struct conf_module *m = p->mod;
    if (!valid_name(tok))
        return fail(p, p->line, "bad service name '%s'", tok);
    for (unsigned i = 0; i < m->nprovides; i++)
        if (strcmp(m->provides[i], tok) == 0)
            return fail(p, p->line, "service '%s' listed twice", tok);
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
            return fail(p, p->line, "'%s': channel size must be SLOTSxSIZE, e.g. 128x1024", geo);
        *x++ = '\0';
        if (!parse_uint(p, geo, 1, 65536, &cn->slots) || !parse_uint(p, x, 16, 16u << 20, &cn->slot_size))
            return false;
    }
    if (!valid_name(tok))
        return fail(p, p->line, "bad service name '%s'", tok);
    struct uipc_region_hdr h;
    if (geo && uipc__region_layout(tok, cn->slots, cn->slot_size, &h) < 0)
        return fail(p, p->line, "'%s:%ux%u': the channel's region would be over 1 GiB", tok, cn->slots,
                    cn->slot_size);
    for (unsigned i = 0; i < m->nconnects; i++)
        if (strcmp(m->connects[i].service, tok) == 0)
            return fail(p, p->line, "service '%s' listed twice", tok);
    snprintf(cn->service, sizeof(cn->service), "%s", tok);
    m->nconnects++;
    return true;
}

static bool add_after(struct parse *p, char *tok)
{
    struct conf_module *m = p->mod;
    if (!valid_name(tok))
        return fail(p, p->line, "bad module name '%s'", tok);
    snprintf(m->after[m->nafter++], CONF_NAME_MAX, "%s", tok);
    return true;
}

static bool add_arg(struct parse *p, char *tok)
{
    unsigned n = 1;
    while (p->mod->argv[n])
        n++;
    return (p->mod->argv[n] = strdup(tok)) != NULL || fail(p, p->line, "out of memory");
}

static bool add_env(struct parse *p, char *tok)
{
    char *eq = strchr(tok, '=');
    if (!eq || eq == tok)
        return fail(p, p->line, "env entry '%s' is not KEY=VALUE", tok);
    for (char *k = tok; k < eq; k++)
        if (!isalnum((unsigned char)*k) && *k != '_')
            return fail(p, p->line, "env entry '%s': bad variable name", tok);
    if (strncmp(tok, "UIPC_", 5) == 0)
        return fail(p, p->line, "env entry '%s': UIPC_* variables are the supervisor's", tok);
    unsigned n = 0;
    while (p->mod->env[n])
        n++;
    return (p->mod->env[n] = strdup(tok)) != NULL || fail(p, p->line, "out of memory");
}

static bool set_string(struct parse *p, char **dst, const char *v)
{
    if (!*v)
        return fail(p, p->line, "empty value");
    free(*dst);
    *dst = strdup(v);
    return *dst || fail(p, p->line, "out of memory");
}

static bool set_enum(struct parse *p, const char *v, const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return true;
        }
    char list[128] = "";
    for (int i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", names[i]);
    return fail(p, p->line, "'%s' is not one of: %s", v, list);
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
        return fail(p, p->line, "unknown capability '%s'", tok);
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
    return fail(p, p->line, "unknown namespace '%s' (pid, net, mount, ipc, uts, user)", tok);
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
        return fail(p, p->line, "rlimits entry '%s' is not NAME=VALUE", tok);
    *eq++ = '\0';
    int r = 0;
    while (r < RL_COUNT && strcmp(rlimit_names[r], tok) != 0)
        r++;
    if (r == RL_COUNT)
        return fail(p, p->line, "unknown rlimit '%s' (memory, nofile, nproc, cpu, core)", tok);
    if (rl[r] != CONF_RLIM_UNSET)
        return fail(p, p->line, "rlimit '%s' set twice", tok);
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
        return fail(p, p->line, "rlimit %s: '%s' is not a number%s", tok, eq,
                    r == RL_MEMORY || r == RL_CORE ? " (with K, M or G), or infinity" : " or infinity");
    rl[r] = (uint64_t)v << shift;
    return true;
}

/* "FIRST-LAST": the uids (and gids) modules without a user key get. */
static bool set_uid_range(struct parse *p, const char *v)
{
    unsigned long first, last;
    int n = 0;
    if (sscanf(v, "%lu-%lu%n", &first, &last, &n) != 2 || v[n] || first == 0 || last < first ||
        last >= UINT32_MAX)
        return fail(p, p->line, "dynamic_uids must be FIRST-LAST, two uids above 0, FIRST <= LAST");
    if (last - first + 1 < CONF_MAX_MODULES)
        return fail(p, p->line, "dynamic_uids: at least %d uids (one per module)", CONF_MAX_MODULES);
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
        return fail(p, p->line, "writable: '%s' is not an absolute path", tok);
    if (m->nwritable == CONF_MAX_LIST)
        return fail(p, p->line, "writable: more than %d paths", CONF_MAX_LIST);
    return (m->writable[m->nwritable++] = strdup(tok)) != NULL || fail(p, p->line, "out of memory");
}

static bool set_user(struct parse *p, const char *v)
{
    struct conf_module *m = p->mod;
    struct passwd *pw = getpwnam(v);
    char *end;
    if (!pw && isdigit((unsigned char)*v)) {
        unsigned long id = strtoul(v, &end, 10);
        if (*end || id >= UINT32_MAX)
            return fail(p, p->line, "user '%s' is not a name or a number", v);
        pw = getpwuid((uid_t)id);
        m->uid = (uid_t)id;
    } else if (!pw) {
        return fail(p, p->line, "no user '%s' on this system", v);
    }
    m->has_user = true;
    if (pw)
        m->uid = pw->pw_uid;
    if (!m->has_group) /* no passwd entry: a group must follow (check_sandbox) */
        m->gid = pw ? pw->pw_gid : (gid_t)-1;
    return true;
}

static bool set_group(struct parse *p, const char *v)
{
    struct group *gr = getgrnam(v);
    char *end;
    if (gr) {
        p->mod->gid = gr->gr_gid;
    } else if (isdigit((unsigned char)*v)) {
        unsigned long id = strtoul(v, &end, 10);
        if (*end || id >= UINT32_MAX)
            return fail(p, p->line, "group '%s' is not a name or a number", v);
        p->mod->gid = (gid_t)id;
    } else {
        return fail(p, p->line, "no group '%s' on this system", v);
    }
    p->mod->has_group = true;
    return true;
}

static const char *const restart_names[] = { "always", "on-failure", "never", NULL };
static const char *const log_names[] = { "debug", "info", "warn", "error", NULL };

static bool supervisor_key(struct parse *p, enum key k, const char *v)
{
    struct conf *c = p->c;
    int e;
    switch (k) {
    case K_HEARTBEAT: return parse_uint(p, v, 10, 60000, &c->heartbeat_interval_ms);
    case K_HANG: return parse_uint(p, v, 20, 3600000, &c->hang_timeout_ms);
    case K_SHUTDOWN: return parse_uint(p, v, 0, 600000, &c->shutdown_timeout_ms);
    case K_SOCKET:
        if (*v != '/')
            return fail(p, p->line, "control_socket must be an absolute path");
        if (strlen(v) >= 108)
            return fail(p, p->line, "control_socket longer than a UNIX socket path may be");
        return set_string(p, &c->control_socket, v);
    case K_LOGLEVEL:
        if (!set_enum(p, v, log_names, &e))
            return false;
        c->log_level = (enum conf_log)e;
        return true;
    case K_POLICY_DIR: return set_string(p, &c->policy_dir, v);
    case K_DYNAMIC_UIDS: return set_uid_range(p, v);
    case K_SV_RLIMITS: return each_token(p, v, true, add_rlimit);
    case K_CTL_MODULES:
        if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
            return fail(p, p->line, "control_from_modules must be yes or no");
        c->control_from_modules = strcmp(v, "yes") == 0;
        return true;
    default: return false;
    }
}

static bool module_key(struct parse *p, enum key k, const char *v)
{
    struct conf_module *m = p->mod;
    int e;
    switch (k) {
    case K_EXEC: return set_string(p, &m->exec, v);
    case K_ARGS: return each_token(p, v, false, add_arg);
    case K_ENV: return each_token(p, v, false, add_env);
    case K_PROVIDES: return each_token(p, v, true, add_provide);
    case K_CONNECTS: return each_token(p, v, true, add_connect);
    case K_AFTER: return each_token(p, v, true, add_after);
    case K_POLICY: return set_string(p, &m->policy, v);
    case K_CAPS: return each_token(p, v, true, add_cap);
    case K_NAMESPACES: return each_token(p, v, true, add_namespace);
    case K_RLIMITS: return each_token(p, v, true, add_rlimit);
    case K_USER: return set_user(p, v);
    case K_WRITABLE: return each_token(p, v, true, add_writable);
    case K_GROUP: return set_group(p, v);
    case K_MAXRESTARTS: return parse_uint(p, v, 0, 100000, &m->max_restarts);
    case K_WINDOW: return parse_uint(p, v, 1, 86400, &m->restart_window_s);
    case K_MOD_HANG: return parse_uint(p, v, 20, 3600000, &m->hang_timeout_ms);
    case K_BACKOFF: return parse_uint(p, v, 0, 600000, &m->backoff_ms);
    case K_BACKOFF_MAX: return parse_uint(p, v, 0, 600000, &m->backoff_max_ms);
    case K_RESTART:
        if (!set_enum(p, v, restart_names, &e))
            return false;
        m->restart = (enum conf_restart)e;
        return true;
    default: return false;
    }
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    (void)section; /* the reader tracked it, with its line */
    if (p->failed)
        return 0;
    if (p->sec == SEC_NONE)
        return fail(p, p->line, "'%s' outside any section", name);
    bool in_module = p->sec == SEC_MODULE;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (keys[i].module != in_module || strcmp(keys[i].name, name) != 0)
            continue;
        unsigned *seen = in_module ? &p->mod->seen : &p->c->seen;
        if (*seen & (1u << keys[i].key))
            return fail(p, p->line, "'%s' set twice in this section", name);
        *seen |= 1u << keys[i].key;
        if (in_module)
            p->key_line[p->mod - p->c->mod][keys[i].key] = p->line;
        else
            p->sup_line[keys[i].key] = p->line;
        return in_module ? module_key(p, keys[i].key, value) : supervisor_key(p, keys[i].key, value);
    }
    return fail(p, p->line, "unknown key '%s' in [%s]", name,
                in_module ? "module" : "supervisor");
}

/* ---- checks across the whole file ---- */

int conf_module_index(const struct conf *c, const char *name)
{
    for (unsigned i = 0; i < c->nmod; i++)
        if (strcmp(c->mod[i].name, name) == 0)
            return (int)i;
    return -1;
}

int conf_provider(const struct conf *c, const char *service)
{
    for (unsigned i = 0; i < c->nmod; i++)
        for (unsigned j = 0; j < c->mod[i].nprovides; j++)
            if (strcmp(c->mod[i].provides[j], service) == 0)
                return (int)i;
    return -1;
}

/* Relative paths are relative to the config file's directory. */
static char *resolve(const char *config, const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    const char *slash = strrchr(config, '/');
    int dirlen = slash ? (int)(slash - config) : 1;
    const char *dir = slash ? config : ".";
    size_t n = (size_t)dirlen + strlen(path) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%.*s/%s", dirlen, dir, path);
    return out;
}

static bool check_exec(struct parse *p, unsigned i)
{
    struct conf_module *m = &p->c->mod[i];
    struct stat st;
    if (!m->exec)
        return fail(p, m->line, "[module %s] has no exec", m->name);
    char *abs = resolve(p->c->path, m->exec);
    if (!abs)
        return fail(p, m->line, "out of memory");
    free(m->exec);
    m->exec = m->argv[0] = abs;
    if (stat(abs, &st) < 0 || !S_ISREG(st.st_mode) || access(abs, X_OK) < 0)
        return fail(p, p->key_line[i][K_EXEC], "exec %s: not an executable file", abs);
    return true;
}

/* Where default.policy is without a policy_dir key: the build tree's
 * policies/ for a program run from the build tree, else the installed
 * ones. */
static const char *builtin_policy_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    size_t root = strlen(UIPC_BUILD_ROOT);
    if (n > 0 && (size_t)n > root && strncmp(exe, UIPC_BUILD_ROOT, root) == 0 && exe[root] == '/')
        return UIPC_BUILD_ROOT "/policies";
    return UIPC_POLICY_DIR;
}

/* No policy key: the policy dir's default.policy (base.policy, anything
 * else refused with EPERM and logged).  "none": no filter at all. */
static char *policy_path(struct parse *p, const struct conf_module *m)
{
    if (m->policy)
        return resolve(p->c->path, m->policy);
    char *dir = p->c->policy_dir ? resolve(p->c->path, p->c->policy_dir) : strdup(builtin_policy_dir());
    char *path = NULL;
    if (dir && asprintf(&path, "%s/default.policy", dir) < 0)
        path = NULL;
    free(dir);
    return path;
}

/* A policy error names the policy file and line; a policy that cannot be
 * opened names the modules.conf line (for the default one, the module's
 * header, and the way out). */
static bool check_policy(struct parse *p, unsigned i)
{
    struct conf_module *m = &p->c->mod[i];
    if (m->policy && strcmp(m->policy, "none") == 0) {
        free(m->policy);
        m->policy = NULL;
        return true;
    }
    bool builtin = !m->policy;
    char *path = policy_path(p, m);
    if (!path)
        return fail(p, m->line, "out of memory");
    free(m->policy);
    m->policy = path;
    int r = policy_load(path, &m->pol, p->err, p->errlen);
    if (r == -EINVAL)
        p->failed = true;
    else if (r < 0 && builtin)
        fail(p, m->line, "[module %s] has no policy key, and the default policy %s: %s "
             "(set policy_dir in [supervisor], or policy = none)", m->name, path, strerror(-r));
    else if (r < 0)
        fail(p, p->key_line[i][K_POLICY], "policy %s: %s", path, strerror(-r));
    return r == 0;
}

/* FNV-1a: a module's dynamic uid follows its name, not its place in the
 * file, so it survives edits of the config. */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static bool uid_taken(const struct conf *c, unsigned upto, uid_t uid)
{
    for (unsigned j = 0; j < upto; j++)
        if (c->mod[j].dynamic_user && c->mod[j].uid == uid)
            return true;
    return getpwuid(uid) || getgrgid((gid_t)uid);
}

/* A limit the module does not set: [supervisor] rlimits, else ours.  No
 * address-space limit under ASan or TSan, whose shadow memory reserves
 * terabytes. */
static uint64_t default_rlimit(const struct parse *p, enum conf_rlimit r)
{
    static const uint64_t ours[RL_COUNT] = {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        [RL_MEMORY] = CONF_RLIM_UNSET,
#else
        [RL_MEMORY] = 4ull << 30,
#endif
        [RL_NOFILE] = 4096, [RL_NPROC] = 512, [RL_CPU] = CONF_RLIM_UNSET, [RL_CORE] = 0,
    };
    return p->rl_default[r] != CONF_RLIM_UNSET ? p->rl_default[r] : ours[r];
}

/* The safe defaults of a [module] without sandbox keys (modules.conf(5)):
 * a uid and gid of its own from dynamic_uids, and its own mount, ipc and
 * uts namespaces (a read-only view of the host, a private /tmp). */
static bool sandbox_defaults(struct parse *p, unsigned i)
{
    struct conf *c = p->c;
    struct conf_module *m = &c->mod[i];
    for (int r = 0; r < RL_COUNT; r++)
        if (m->rlimit[r] == CONF_RLIM_UNSET) {
            m->rlimit[r] = default_rlimit(p, (enum conf_rlimit)r);
            m->rlimit_default |= 1u << r;
        }
    if (!(m->seen & (1u << K_NAMESPACES))) {
        m->namespaces = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
        m->default_namespaces = true;
    }
    if (m->has_user || m->has_group)
        return true;
    uint32_t span = c->uid_last - c->uid_first + 1;
    uint32_t k = name_hash(m->name) % span;
    for (uint32_t tries = 0; tries < span; tries++, k = (k + 1) % span) {
        uid_t uid = c->uid_first + k;
        if (!uid_taken(c, i, uid)) {
            m->dynamic_user = true;
            m->uid = uid;
            m->gid = (gid_t)uid;
            return true;
        }
    }
    return fail(p, m->line, "no free uid left in dynamic_uids %u-%u", (unsigned)c->uid_first,
                (unsigned)c->uid_last);
}

static bool check_sandbox(struct parse *p, unsigned i)
{
    const struct conf_module *m = &p->c->mod[i];
    if (!sandbox_defaults(p, i))
        return false;
    if (m->has_user && !m->has_group && m->gid == (gid_t)-1)
        return fail(p, p->key_line[i][K_USER], "user %u has no passwd entry: set group too",
                    (unsigned)m->uid);
    if ((m->namespaces & CLONE_NEWPID) && !(m->namespaces & CLONE_NEWNS))
        return fail(p, p->key_line[i][K_NAMESPACES],
                    "namespaces: pid needs mount too (the module gets its own /proc)");
    return true;
}

static bool check_services(struct parse *p, unsigned i)
{
    const struct conf *c = p->c;
    const struct conf_module *m = &c->mod[i];
    for (unsigned j = 0; j < m->nprovides; j++) {
        int other = conf_provider(c, m->provides[j]);
        if (other != (int)i)
            return fail(p, p->key_line[i][K_PROVIDES], "service '%s' is provided by both %s (line %d) and %s",
                        m->provides[j], c->mod[other].name, p->key_line[other][K_PROVIDES], m->name);
    }
    for (unsigned j = 0; j < m->nconnects; j++) {
        int prov = conf_provider(c, m->connects[j].service);
        if (prov < 0)
            return fail(p, p->key_line[i][K_CONNECTS], "no module provides service '%s'",
                        m->connects[j].service);
        if (prov == (int)i)
            return fail(p, p->key_line[i][K_CONNECTS], "module %s connects to its own service '%s'",
                        m->name, m->connects[j].service);
    }
    return true;
}

/* Channels the module will hold: one per service it calls, one per
 * (client, service) pair it serves. */
static bool check_channel_count(struct parse *p, unsigned i)
{
    const struct conf *c = p->c;
    unsigned n = c->mod[i].nconnects;
    for (unsigned k = 0; k < c->nmod; k++)
        for (unsigned j = 0; j < c->mod[k].nconnects; j++)
            n += conf_provider(c, c->mod[k].connects[j].service) == (int)i;
    if (n > UIPC_CHANNELS_PER_MODULE)
        return fail(p, c->mod[i].line, "module %s would hold %u channels; at most %d",
                    c->mod[i].name, n, UIPC_CHANNELS_PER_MODULE);
    return true;
}

static bool check_after_names(struct parse *p, unsigned i)
{
    const struct conf_module *m = &p->c->mod[i];
    for (unsigned j = 0; j < m->nafter; j++) {
        int k = conf_module_index(p->c, m->after[j]);
        if (k < 0)
            return fail(p, p->key_line[i][K_AFTER], "after: no module named '%s'", m->after[j]);
        if (k == (int)i)
            return fail(p, p->key_line[i][K_AFTER], "after: module %s cannot start after itself", m->name);
    }
    return true;
}

/* Depth-first search; colour 1: on the current path, 2: done. */
static int after_cycle_from(const struct conf *c, unsigned i, unsigned char *colour)
{
    colour[i] = 1;
    for (unsigned j = 0; j < c->mod[i].nafter; j++) {
        unsigned k = (unsigned)conf_module_index(c, c->mod[i].after[j]);
        if (colour[k] == 1)
            return (int)k;
        if (colour[k] == 0) {
            int r = after_cycle_from(c, k, colour);
            if (r >= 0)
                return r;
        }
    }
    colour[i] = 2;
    return -1;
}

static bool check_after_cycles(struct parse *p)
{
    unsigned char colour[CONF_MAX_MODULES] = { 0 };
    for (unsigned i = 0; i < p->c->nmod; i++) {
        if (colour[i])
            continue;
        int k = after_cycle_from(p->c, i, colour);
        if (k >= 0)
            return fail(p, p->key_line[k][K_AFTER], "'after' forms a cycle through module %s",
                        p->c->mod[k].name);
    }
    return true;
}

static bool check_timeouts(struct parse *p)
{
    struct conf *c = p->c;
    if (c->hang_timeout_ms <= c->heartbeat_interval_ms)
        return fail(p, p->sup_line[K_HANG] ? p->sup_line[K_HANG] : p->sup_line[K_HEARTBEAT],
                    "hang_timeout_ms (%u) must be longer than heartbeat_interval_ms (%u)",
                    c->hang_timeout_ms, c->heartbeat_interval_ms);
    for (unsigned i = 0; i < c->nmod; i++)
        if (c->mod[i].backoff_max_ms < c->mod[i].backoff_ms)
            return fail(p, p->key_line[i][K_BACKOFF_MAX] ? p->key_line[i][K_BACKOFF_MAX] : p->key_line[i][K_BACKOFF],
                        "backoff_max_ms (%u) is less than backoff_ms (%u)",
                        c->mod[i].backoff_max_ms, c->mod[i].backoff_ms);
    for (unsigned i = 0; i < c->nmod; i++)
        if (c->mod[i].hang_timeout_ms && c->mod[i].hang_timeout_ms <= c->heartbeat_interval_ms)
            return fail(p, p->key_line[i][K_MOD_HANG],
                        "hang_timeout_ms (%u) must be longer than heartbeat_interval_ms (%u)",
                        c->mod[i].hang_timeout_ms, c->heartbeat_interval_ms);
    return true;
}

static bool check_all(struct parse *p)
{
    if (p->c->nmod == 0)
        return fail(p, p->line, "no [module NAME] section");
    for (unsigned i = 0; i < p->c->nmod; i++)
        if (!check_exec(p, i) || !check_services(p, i) || !check_after_names(p, i) ||
            !check_sandbox(p, i) || !check_policy(p, i))
            return false;
    for (unsigned i = 0; i < p->c->nmod; i++)
        if (!check_channel_count(p, i))
            return false;
    return check_after_cycles(p) && check_timeouts(p);
}

static struct conf *conf_new(const char *path)
{
    struct conf *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->path = strdup(path);
    c->control_socket = strdup("/run/uipc/control.sock");
    c->heartbeat_interval_ms = 100;
    c->hang_timeout_ms = 1000;
    c->shutdown_timeout_ms = 3000;
    c->log_level = LOG_INFO;
    c->uid_first = 61184; /* systemd's DynamicUser= range */
    c->uid_last = 65519;
    if (!c->path || !c->control_socket) {
        conf_free(c);
        return NULL;
    }
    return c;
}

int conf_load(const char *path, struct conf **out, char *err, size_t errlen)
{
    struct parse *p = calloc(1, sizeof(*p));
    struct conf *c = conf_new(path);
    int ret = -ENOMEM;
    if (!p || !c)
        goto out;
    *p = (struct parse){ .c = c, .err = err, .errlen = errlen };
    for (int r = 0; r < RL_COUNT; r++)
        p->rl_default[r] = CONF_RLIM_UNSET;
    p->f = fopen(path, "re");
    if (!p->f) {
        ret = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    int r = ini_parse_stream(reader, p, handler, p);
    if (r > 0 && !p->failed)
        fail(p, r, "syntax error (expected KEY = VALUE, [supervisor] or [module NAME])");
    if (!p->failed && ferror(p->f))
        fail(p, p->line, "read error");
    if (!p->failed)
        check_all(p);
    ret = p->failed ? -EINVAL : 0;
out:
    if (p && p->f)
        fclose(p->f);
    free(p);
    if (ret == 0)
        *out = c;
    else
        conf_free(c);
    return ret;
}

void conf_free(struct conf *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->nmod; i++) {
        struct conf_module *m = &c->mod[i];
        free(m->exec); /* argv[0] is exec */
        for (unsigned j = 1; m->argv[j]; j++)
            free(m->argv[j]);
        for (unsigned j = 0; m->env[j]; j++)
            free(m->env[j]);
        free(m->policy);
        policy_free(m->pol);
        for (unsigned j = 0; j < m->nwritable; j++)
            free(m->writable[j]);
    }
    free(c->path);
    free(c->control_socket);
    free(c->policy_dir);
    free(c);
}
