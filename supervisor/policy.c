/* SPDX-License-Identifier: MIT */
/* A policy file compiled: libseccomp's context set up, the statements
 * parsed into it (policy-parse.c), the BPF program exported; and what the
 * supervisor and the child do with a compiled policy afterwards. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <seccomp.h>

#include "policy-parse.h"

/* ---- the program ---- */

static int export_bpf(struct policy_parse *p)
{
    int fd = memfd_create("uipc.policy", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = seccomp_export_bpf(p->ctx, fd);
    off_t size = lseek(fd, 0, SEEK_END);
    if (r == 0 && (size <= 0 || size % (off_t)sizeof(struct sock_filter) ||
                   size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS))
        r = -E2BIG;
    if (r == 0) {
        p->pol->prog.filter = malloc((size_t)size);
        p->pol->prog.len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
        if (!p->pol->prog.filter || pread(fd, p->pol->prog.filter, (size_t)size, 0) != size)
            r = -EIO;
    }
    close(fd);
    return r;
}

int policy_load(const char *path, struct policy **out, char *err, size_t errlen)
{
    struct policy_parse *p = calloc(1, sizeof(*p));
    struct policy *pol = calloc(1, sizeof(*pol));
    int r = -ENOMEM;
    if (!p || !pol || !(pol->path = strdup(path)))
        goto out;
    *p = (struct policy_parse){ .pol = pol, .err = err, .errlen = errlen };
    /* Everything not allowed goes to the supervisor; a foreign syscall ABI
     * (x32, int 0x80) kills outright. */
    p->ctx = seccomp_init(SCMP_ACT_NOTIFY);
    if (!p->ctx)
        goto out;
    seccomp_attr_set(p->ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    seccomp_attr_set(p->ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); /* binary tree: O(log n) per syscall */
    seccomp_rule_add(p->ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit), 0);
    seccomp_rule_add(p->ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0);
    r = policy__parse_file(p, path);
    if (r < 0 && !p->failed)
        snprintf(err, errlen, "%s: %s", path, strerror(-r));
    if (r == 0 && (r = export_bpf(p)) < 0)
        snprintf(err, errlen, "%s: cannot compile: %s", path, strerror(-r));
out:
    if (p) {
        if (p->ctx)
            seccomp_release(p->ctx);
        for (unsigned i = 0; i < p->nfiles; i++)
            free(p->files[i]);
        free(p);
    }
    if (r == 0)
        *out = pol;
    else
        policy_free(pol);
    return r;
}

void policy_free(struct policy *pol)
{
    if (!pol)
        return;
    free(pol->path);
    free(pol->prog.filter);
    free(pol);
}

bool policy_same(const struct policy *a, const struct policy *b)
{
    if (!a || !b)
        return a == b;
    return a->action == b->action && a->err == b->err && a->exec_allowed == b->exec_allowed &&
           a->prog.len == b->prog.len &&
           memcmp(a->prog.filter, b->prog.filter, a->prog.len * sizeof(struct sock_filter)) == 0;
}

/* libseccomp compares a 64-bit argument as two 32-bit halves, each a
 * BPF_JEQ | BPF_K: SELF's low half is the placeholder (its high half 0,
 * as a pid's), which no literal may take (parse_term). */
unsigned policy_bind_self(struct sock_fprog *prog, pid_t pid)
{
    unsigned n = 0;
    for (unsigned short i = 0; i < prog->len; i++) {
        struct sock_filter *f = &prog->filter[i];
        if (f->code == (BPF_JMP | BPF_JEQ | BPF_K) && f->k == POLICY_SELF) {
            f->k = (uint32_t)pid;
            n++;
        }
    }
    return n;
}

void policy_syscall_name(int nr, char *buf, size_t len)
{
    char *name = seccomp_syscall_resolve_num_arch(seccomp_arch_native(), nr);
    snprintf(buf, len, "%s", name ? name : "?");
    free(name);
}
