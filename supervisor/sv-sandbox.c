/* SPDX-License-Identifier: MIT */
/* A module's sandbox as this supervisor can give it (modules.conf's keys
 * and defaults, what a supervisor that is not root cannot apply), the
 * paths its ids must reach, and the supervisor's own OOM protection. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "sv-internal.h"

/* Whether this (unprivileged) supervisor may give a module a user
 * namespace, and so the mount view of the defaults: one throw-away child
 * tries. */
static bool userns_works(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0 ? 0 : 1);
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* A module's sandbox, from its config and what this supervisor can do: one
 * that is not root gives its modules its own uid (it has no other), and
 * the default mount view in a user namespace if it can. */
void sv_sandbox_of(struct sv_mod *m, bool root, int *userns, bool say)
{
    const struct conf_module *cf = m->cf;
    bool own_ids = cf->dynamic_user && root;
    int ns = cf->namespaces;
    if (say && cf->dynamic_user && !root)
        sv_ev_at(LOG_WARN, IDENTITY, cf->name, SV_FIELDS(SV_NUM("uid", getuid()), SV_NUM("gid", getgid())),
                 "%s: runs as uid %u, the supervisor's (not root: no uid of its own)", cf->name,
                 (unsigned)getuid());
    else if (say && own_ids)
        sv_ev(IDENTITY, cf->name, SV_FIELDS(SV_NUM("uid", cf->uid), SV_NUM("gid", cf->gid)),
              "%s: runs as uid %u, gid %u (dynamic_uids)", cf->name, (unsigned)cf->uid, (unsigned)cf->gid);
    if (cf->default_namespaces && !root) {
        if (*userns < 0)
            *userns = userns_works();
        if (*userns)
            ns |= CLONE_NEWUSER;
        else if (say)
            sv_ev(NO_SANDBOX, cf->name, SV_NO_FIELDS,
                  "%s: no namespaces, no read-only view (not root, and no user namespaces here)", cf->name);
        ns = *userns ? ns : 0;
    }
    /* Absolute: the way to it is opened in the view, and the module may
     * not be able to search the directory it was started in. */
    if (!realpath(cf->exec, m->exec))
        snprintf(m->exec, sizeof(m->exec), "%s", cf->exec);
    m->sb = (struct sandbox){ .name = cf->name, .exec = m->exec, .namespaces = ns,
                              .set_ids = cf->has_user || cf->has_group || own_ids,
                              .uid = cf->has_user || own_ids ? cf->uid : getuid(),
                              .gid = cf->has_group || cf->has_user || own_ids ? cf->gid : getgid(),
                              .caps = cf->caps, .rlimit = cf->rlimit, .rlimit_default = cf->rlimit_default,
                              .writable = cf->writable, .nwritable = cf->nwritable,
                              .prog = cf->pol ? &cf->pol->prog : NULL };
}

/* What the module's ids must reach on the host: its program (without a
 * mount view, which would open the way), and its writable paths but those
 * under /tmp (made in its private /tmp).  0, or -EACCES and why. */
int sv_sandbox_reach(const struct sv_mod *m)
{
    const struct sandbox *sb = &m->sb;
    char dir[PATH_MAX];
    struct stat st;
    bool userns = sb->namespaces & CLONE_NEWUSER;
    if (!sb->set_ids && !userns)
        return 0;
    /* A user namespace's module cannot clone what its ids cannot reach,
     * so its view cannot open the way either. */
    if ((!(sb->namespaces & CLONE_NEWNS) || userns) &&
        sandbox_unreachable(sb->exec, sb->uid, sb->gid, dir, sizeof(dir))) {
        sv_ev(UNREACHABLE, m->cf->name, SV_FIELDS(SV_NUM("uid", sb->uid), SV_STR("path", sb->exec), SV_STR("dir", dir)),
              "%s: uid %u cannot reach its exec %s: %s is not searchable for it (chmod o+x %s%s)",
              m->cf->name, (unsigned)sb->uid, sb->exec, dir, dir,
              userns ? ", or no user namespace" : ", or keep the default mount namespace");
        return -EACCES;
    }
    for (unsigned i = 0; i < sb->nwritable; i++) {
        const char *w = sb->writable[i];
        if (strncmp(w, "/tmp/", 5) == 0 && (sb->namespaces & CLONE_NEWNS))
            continue;
        if (stat(w, &st) < 0) {
            int e = errno;
            sv_ev(UNREACHABLE, m->cf->name, SV_FIELDS(SV_NUM("uid", sb->uid), SV_STR("path", w), SV_STR("error", strerror(e))),
                  "%s: writable %s: %s", m->cf->name, w, strerror(e));
            errno = e;
            return -errno;
        }
        if (sandbox_unreachable(w, sb->uid, sb->gid, dir, sizeof(dir))) {
            sv_ev(UNREACHABLE, m->cf->name, SV_FIELDS(SV_NUM("uid", sb->uid), SV_STR("path", w), SV_STR("dir", dir)),
                  "%s: uid %u cannot reach its writable %s: %s is not searchable for it", m->cf->name,
                  (unsigned)sb->uid, w, dir);
            return -EACCES;
        }
    }
    return 0;
}

/* The kernel's OOM killer takes the supervisor last: its modules are
 * SV_OOM_MODULE_ABOVE above it anyway (spawn.c), and a module cannot
 * change it (another uid, a read-only /proc in its view).  Lowering needs
 * CAP_SYS_RESOURCE. */
void sv_protect_from_oom(void)
{
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, SV_OOM_SCORE_ADJ, strlen(SV_OOM_SCORE_ADJ)) < 0)
        sv_ev(SYSTEM_ERROR, NULL, SV_FIELDS(SV_STR("op", "oom_score_adj"), SV_STR("error", strerror(errno))),
              "supervisor: oom_score_adj %s: %s (modules are still %d above it)", SV_OOM_SCORE_ADJ,
              strerror(errno), SV_OOM_MODULE_ABOVE);
    if (fd >= 0)
        close(fd);
}
