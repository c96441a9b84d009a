/* SPDX-License-Identifier: MIT */
/* What a running module's process has, as the kernel says it
 * (`uipcctl sandbox`): the operator's check of the defaults, and the
 * tests'.  Everything is read from /proc; nothing is taken from the
 * config, which says what was asked, not what was got. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox-report.h"

#define TEXT_MAX 65536

/* /proc/PID/NAME into a malloc'd string; NULL if it cannot be read. */
static char *proc_text(pid_t pid, const char *name)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = malloc(TEXT_MAX);
    size_t n = 0;
    ssize_t r = 0;
    while (buf && n < TEXT_MAX - 1 && (r = read(fd, buf + n, TEXT_MAX - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    if (buf)
        buf[n] = '\0';
    return buf;
}

char *sandbox_report_field(const char *status, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = status; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, klen) != 0 || p[klen] != ':')
            continue;
        const char *v = p + klen + 1;
        v += strspn(v, " \t");
        size_t len = strcspn(v, "\n");
        char *out = malloc(len + 1);
        if (!out)
            return NULL;
        for (size_t i = 0; i < len; i++) /* tabs between the four ids: spaces */
            out[i] = v[i] == '\t' ? ' ' : v[i];
        out[len] = '\0';
        return out;
    }
    return strdup("");
}

/* mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER" */
int sandbox_report_mounts(const char *mountinfo, bool *root_ro, char ***writable, size_t *nwritable)
{
    *root_ro = false;
    *writable = NULL;
    *nwritable = 0;
    for (const char *p = mountinfo; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        char point[4096], opts[512];
        if (sscanf(p, "%*s %*s %*s %*s %4095s %511s", point, opts) != 2)
            continue;
        bool ro = strncmp(opts, "ro", 2) == 0 && (opts[2] == ',' || opts[2] == '\0');
        if (strcmp(point, "/") == 0)
            *root_ro = ro; /* the last mount on / is the one seen */
        if (ro || strncmp(point, "/proc", 5) == 0 || strncmp(point, "/dev", 4) == 0 ||
            strncmp(point, "/sys", 4) == 0)
            continue; /* pseudo filesystems: device nodes and the kernel's own files */
        char **w = realloc(*writable, (*nwritable + 1) * sizeof(char *));
        if (!w)
            return -ENOMEM;
        *writable = w;
        if (!(w[*nwritable] = strdup(point)))
            return -ENOMEM;
        (*nwritable)++;
    }
    return 0;
}

/* /proc/PID/limits: "Max address space   unlimited   unlimited   bytes" */
static const struct { const char *name, *label; } limit_names[] = {
    { "memory", "Max address space" }, { "nofile", "Max open files" },
    { "nproc", "Max processes" },      { "cpu", "Max cpu time" },
    { "core", "Max core file size" },
};
#define NLIMITS (sizeof(limit_names) / sizeof(limit_names[0]))

static int add_limits(const char *text, Uipc__Control__SandboxReport *r)
{
    r->limits = calloc(NLIMITS, sizeof(*r->limits));
    if (!r->limits)
        return -ENOMEM;
    for (size_t i = 0; i < NLIMITS; i++) {
        const char *at = text ? strstr(text, limit_names[i].label) : NULL;
        char soft[32] = "?", hard[32] = "?";
        if (at)
            sscanf(at + strlen(limit_names[i].label), " %31s %31s", soft, hard);
        Uipc__Control__Limit *l = malloc(sizeof(*l));
        if (!l)
            return -ENOMEM;
        uipc__control__limit__init(l);
        l->name = (char *)limit_names[i].name;
        l->soft = strdup(soft);
        l->hard = strdup(hard);
        r->limits[r->n_limits++] = l;
        if (!l->soft || !l->hard)
            return -ENOMEM;
    }
    return 0;
}

static int add_namespaces(pid_t pid, Uipc__Control__SandboxReport *r)
{
    static const char *const kinds[] = { "mnt", "pid", "net", "ipc", "uts", "user", "cgroup" };
    r->namespaces = calloc(sizeof(kinds) / sizeof(kinds[0]), sizeof(char *));
    if (!r->namespaces)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char path[96], mine[128] = "", theirs[128] = "";
        snprintf(path, sizeof(path), "/proc/self/ns/%s", kinds[i]);
        ssize_t a = readlink(path, mine, sizeof(mine) - 1);
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, kinds[i]);
        ssize_t b = readlink(path, theirs, sizeof(theirs) - 1);
        if (a > 0 && b > 0 && strcmp(mine, theirs) != 0)
            r->namespaces[r->n_namespaces++] = (char *)kinds[i];
    }
    return 0;
}

int sandbox_report(pid_t pid, Uipc__Control__SandboxReport *r)
{
    char *status = proc_text(pid, "status"), *mounts = proc_text(pid, "mountinfo");
    char *limits = proc_text(pid, "limits"), *oom = proc_text(pid, "oom_score_adj");
    int err = status ? 0 : -ESRCH;
    r->pid = pid;
    if (err == 0) {
        char *nnp = sandbox_report_field(status, "NoNewPrivs");
        char *sec = sandbox_report_field(status, "Seccomp");
        r->uid = sandbox_report_field(status, "Uid");
        r->gid = sandbox_report_field(status, "Gid");
        r->groups = sandbox_report_field(status, "Groups");
        r->cap_inh = sandbox_report_field(status, "CapInh");
        r->cap_prm = sandbox_report_field(status, "CapPrm");
        r->cap_eff = sandbox_report_field(status, "CapEff");
        r->cap_bnd = sandbox_report_field(status, "CapBnd");
        r->cap_amb = sandbox_report_field(status, "CapAmb");
        r->no_new_privs = nnp ? (uint32_t)atoi(nnp) : 0;
        r->seccomp = sec ? (uint32_t)atoi(sec) : 0;
        free(nnp);
        free(sec);
        if (!r->uid || !r->gid || !r->groups || !r->cap_inh || !r->cap_prm || !r->cap_eff ||
            !r->cap_bnd || !r->cap_amb)
            err = -ENOMEM;
    }
    r->oom_score_adj = oom ? atoi(oom) : 0;
    bool root_ro = false;
    if (err == 0)
        err = sandbox_report_mounts(mounts ? mounts : "", &root_ro, &r->writable, &r->n_writable);
    r->root_read_only = root_ro;
    if (err == 0)
        err = add_limits(limits, r);
    if (err == 0)
        err = add_namespaces(pid, r);
    free(status);
    free(mounts);
    free(limits);
    free(oom);
    return err;
}

void sandbox_report_free(Uipc__Control__SandboxReport *r)
{
    char **strings[] = { &r->uid, &r->gid, &r->groups, &r->cap_inh, &r->cap_prm,
                         &r->cap_eff, &r->cap_bnd, &r->cap_amb };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        if (*strings[i] != protobuf_c_empty_string)
            free(*strings[i]);
    for (size_t i = 0; i < r->n_writable; i++)
        free(r->writable[i]);
    free(r->writable);
    free(r->namespaces); /* its strings are static */
    for (size_t i = 0; i < r->n_limits; i++) {
        free(r->limits[i]->soft);
        free(r->limits[i]->hard);
        free(r->limits[i]);
    }
    free(r->limits);
}
