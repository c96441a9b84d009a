/* SPDX-License-Identifier: MIT */
/* What modules.conf needs the system for: users and groups by name, exec
 * files that must be executable, policy files compiled (policy.c), and
 * dynamic uids that no passwd or group entry has. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-parse.h"
#include "policy.h"

bool conf__set_user(struct parse *p, const char *v)
{
    struct conf_module *m = p->mod;
    struct passwd *pw = getpwnam(v);
    char *end;
    if (!pw && isdigit((unsigned char)*v)) {
        unsigned long id = strtoul(v, &end, 10);
        if (*end || id >= UINT32_MAX)
            return conf__fail(p, p->line, "user '%s' is not a name or a number", v);
        pw = getpwuid((uid_t)id);
        m->uid = (uid_t)id;
    } else if (!pw) {
        return conf__fail(p, p->line, "no user '%s' on this system", v);
    }
    m->has_user = true;
    if (pw)
        m->uid = pw->pw_uid;
    if (!m->has_group) /* no passwd entry: a group must follow (conf__check_sandbox) */
        m->gid = pw ? pw->pw_gid : (gid_t)-1;
    return true;
}

bool conf__set_group(struct parse *p, const char *v)
{
    struct group *gr = getgrnam(v);
    char *end;
    if (gr) {
        p->mod->gid = gr->gr_gid;
    } else if (isdigit((unsigned char)*v)) {
        unsigned long id = strtoul(v, &end, 10);
        if (*end || id >= UINT32_MAX)
            return conf__fail(p, p->line, "group '%s' is not a name or a number", v);
        p->mod->gid = (gid_t)id;
    } else {
        return conf__fail(p, p->line, "no group '%s' on this system", v);
    }
    p->mod->has_group = true;
    return true;
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

bool conf__check_exec(struct parse *p, unsigned i)
{
    struct conf_module *m = &p->c->mod[i];
    struct stat st;
    if (!m->exec)
        return conf__fail(p, m->line, "[module %s] has no exec", m->name);
    char *abs = resolve(p->c->path, m->exec);
    if (!abs)
        return conf__fail(p, m->line, "out of memory");
    free(m->exec);
    m->exec = m->argv[0] = abs;
    if (stat(abs, &st) < 0 || !S_ISREG(st.st_mode) || access(abs, X_OK) < 0)
        return conf__fail(p, p->key_line[i][K_EXEC], "exec %s: not an executable file", abs);
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
bool conf__check_policy(struct parse *p, unsigned i)
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
        return conf__fail(p, m->line, "out of memory");
    free(m->policy);
    m->policy = path;
    int r = policy_load(path, &m->pol, p->err, p->errlen);
    if (r == -EINVAL)
        p->failed = true;
    else if (r < 0 && builtin)
        conf__fail(p, m->line, "[module %s] has no policy key, and the default policy %s: %s "
                   "(set policy_dir in [supervisor], or policy = none)", m->name, path, strerror(-r));
    else if (r < 0)
        conf__fail(p, p->key_line[i][K_POLICY], "policy %s: %s", path, strerror(-r));
    return r == 0;
}

/* FNV-1a: a module's dynamic uid follows its name, not its place in the
 * file, so it survives most edits of the config (and conf_load_again
 * keeps it across reloads). */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static bool system_id(uid_t id)
{
    return getpwuid(id) || getgrgid((gid_t)id);
}

/* Another module's: one before i in the file got it, or one keeps it from
 * the previous load (wherever it is in the file); or the system's. */
static bool uid_taken(const struct parse *p, unsigned i, uid_t uid)
{
    const struct conf *c = p->c;
    for (unsigned j = 0; j < c->nmod; j++)
        if (j != i && (p->pin[j] == uid || (j < i && c->mod[j].dynamic_user && c->mod[j].uid == uid)))
            return true;
    return system_id(uid);
}

/* A module that had a dynamic uid in the previous load keeps it if it is
 * still in the range and still free of passwd and group entries: probing
 * from its name's hash would move it whenever a module added before it
 * takes its place, and a module whose uid moves must restart. */
void conf__pin_uids(struct parse *p)
{
    const struct conf *c = p->c;
    for (unsigned j = 0; j < c->nmod; j++) {
        const struct conf_module *m = &c->mod[j];
        int k = p->prev && !m->has_user && !m->has_group ? conf_module_index(p->prev, m->name) : -1;
        if (k < 0 || !p->prev->mod[k].dynamic_user)
            continue;
        uid_t uid = p->prev->mod[k].uid;
        if (uid >= c->uid_first && uid <= c->uid_last && !system_id(uid))
            p->pin[j] = uid;
    }
}

/* A module without user and group keys: a uid and gid of its own from
 * dynamic_uids (modules.conf(5)), its pinned one or the first free one
 * from its name's hash on.  (0 is never in dynamic_uids.) */
bool conf__dynamic_uid(struct parse *p, unsigned i)
{
    struct conf *c = p->c;
    struct conf_module *m = &c->mod[i];
    if (m->has_user || m->has_group)
        return true;
    uid_t uid = p->pin[i];
    uint32_t span = c->uid_last - c->uid_first + 1;
    uint32_t k = name_hash(m->name) % span;
    for (uint32_t tries = 0; !uid && tries < span; tries++, k = (k + 1) % span)
        if (!uid_taken(p, i, c->uid_first + k))
            uid = c->uid_first + k;
    if (!uid)
        return conf__fail(p, m->line, "no free uid left in dynamic_uids %u-%u", (unsigned)c->uid_first,
                          (unsigned)c->uid_last);
    m->dynamic_user = true;
    m->uid = uid;
    m->gid = (gid_t)uid;
    return true;
}
