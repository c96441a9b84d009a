/* SPDX-License-Identifier: MIT */
/* A policy file compiled: the statements parsed into rules (policy-parse.c),
 * given to libseccomp in a child with a deadline, the BPF program exported;
 * and what the supervisor and the child do with a compiled policy
 * afterwards. */
#include <errno.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#include "policy-parse.h"

/* ---- the program ----
 *
 * libseccomp 2.5.4 (Debian 12) can loop forever adding some overlapping
 * conditions of one syscall (found by fuzzing: "prlimit64: arg0 <= 1 &&
 * arg1 == 2" then "prlimit64: arg0 <= 1 && arg2 == 2").  A reload compiles
 * policies in the supervisor's loop, which must never stop, so libseccomp
 * runs in a child process with a deadline; the child notes in a shared page
 * which rule it is adding, so a refusal or a stall names that rule's line.
 * The parsing stays in the caller (policy-parse.c): it has no such loop. */

#define COMPILE_DEADLINE_MS 3000

struct compile_status {
    unsigned stage; /* the rule being added; nrules: exporting the program */
    int err;        /* the failed step's negative errno */
};

static int add_rules(scmp_filter_ctx ctx, const struct policy_parse *p, volatile struct compile_status *st)
{
    /* Everything not allowed goes to the supervisor; a foreign syscall ABI
     * (x32, int 0x80) kills outright. */
    int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (r == 0) /* binary tree: O(log n) per syscall */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit), 0);
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0);
    for (unsigned i = 0; r == 0 && i < p->nrules; i++) {
        const struct policy_rule *ru = &p->rules[i];
        st->stage = i;
        r = seccomp_rule_add_array(ctx, ru->action, ru->nr, ru->ncmp, ru->cmp);
    }
    return r;
}

static _Noreturn void compile_child(const struct policy_parse *p, volatile struct compile_status *st, int fd)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_NOTIFY);
    int r = ctx ? add_rules(ctx, p, st) : -ENOMEM;
    if (r == 0) {
        st->stage = p->nrules;
        r = seccomp_export_bpf(ctx, fd);
    }
    st->err = r;
    _exit(r == 0 ? 0 : 1);
}

/* Waits for the child until the deadline; kills it then.  Reaped either way. */
static bool child_finished(pid_t pid, int *status)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    bool done = true;
    if (pidfd >= 0) {
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        long left = COMPILE_DEADLINE_MS;
        struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
        int n;
        while ((n = poll(&pfd, 1, (int)left)) < 0 && errno == EINTR) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            left = COMPILE_DEADLINE_MS - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
            left = left < 0 ? 0 : left;
        }
        if (n == 0) {
            kill(pid, SIGKILL);
            done = false;
        }
        close(pidfd);
    }
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    return done;
}

static int read_program(struct policy *pol, int fd)
{
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % (off_t)sizeof(struct sock_filter) ||
        size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
        return -E2BIG;
    pol->prog.filter = malloc((size_t)size);
    pol->prog.len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
    if (!pol->prog.filter || pread(fd, pol->prog.filter, (size_t)size, 0) != size)
        return -EIO;
    return 0;
}

static int compile(struct policy_parse *p, const char *path)
{
    volatile struct compile_status *st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
                                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (st == MAP_FAILED)
        return -errno;
    *st = (struct compile_status){ 0 };
    int r = 0, status = 0;
    int fd = memfd_create("uipc.policy", MFD_CLOEXEC);
    pid_t pid = fd < 0 ? -1 : fork();
    if (pid == 0)
        compile_child(p, st, fd);
    if (pid < 0)
        r = -errno;
    else if (!child_finished(pid, &status))
        r = -ETIMEDOUT;
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        r = st->err < 0 ? st->err : -ECHILD;
    else
        r = read_program(p->pol, fd);

    const struct policy_rule *ru = st->stage < p->nrules ? &p->rules[st->stage] : NULL;
    if (r == -ETIMEDOUT && ru)
        snprintf(p->err, p->errlen, "%s:%d: libseccomp did not finish adding this rule within %d ms "
                 "(libseccomp 2.5 can loop on overlapping conditions of one syscall: simplify them)",
                 ru->file, ru->line, COMPILE_DEADLINE_MS);
    else if (r < 0 && ru)
        snprintf(p->err, p->errlen, "%s:%d: libseccomp refused this rule: %s", ru->file, ru->line,
                 strerror(-r));
    else if (r < 0)
        snprintf(p->err, p->errlen, "%s: cannot compile: %s", path,
                 r == -ETIMEDOUT ? "libseccomp did not finish in time" : strerror(-r));
    if (fd >= 0)
        close(fd);
    munmap((void *)st, sizeof(*st));
    return r < 0 ? -EINVAL : 0; /* the message is written */
}

/* ---- what the rules let a module do ---- */

/* A term that holds only for flags with CLONE_THREAD set. */
static bool requires_thread(const struct scmp_arg_cmp *c)
{
    if (c->arg != 0)
        return false;
    if (c->op == SCMP_CMP_MASKED_EQ)
        return (c->datum_a & CLONE_THREAD) && (c->datum_b & CLONE_THREAD);
    return c->op == SCMP_CMP_EQ && (c->datum_a & CLONE_THREAD);
}

/* Whether this allowing rule can start a new process (a rule is one ||
 * alternative: its terms all hold). */
static bool rule_forks(const struct policy_rule *ru)
{
    if (ru->action != SCMP_ACT_ALLOW)
        return false; /* an errno rule refuses */
#ifdef SYS_fork
    if (ru->nr == SYS_fork)
        return true;
#endif
#ifdef SYS_vfork
    if (ru->nr == SYS_vfork)
        return true;
#endif
    if (ru->nr == SYS_clone3) /* its flags are in memory, where no filter reads */
        return true;
    if (ru->nr != SYS_clone)
        return false;
    for (unsigned k = 0; k < ru->ncmp; k++)
        if (requires_thread(&ru->cmp[k]))
            return false;
    return true;
}

/* A module under this policy is one thread group and nothing else: every
 * process-creating call is refused, but clone with CLONE_THREAD (which
 * needs CLONE_VM and CLONE_SIGHAND: a thread of the same group).  A
 * default of `log` lets every unlisted call run, fork included.  The
 * supervisor relies on it to reclaim a module's channels when its thread
 * group is gone, before its pid namespace's init has exited (sv-reap.c). */
static bool threads_only(const struct policy_parse *p)
{
    if (p->pol->action == POLICY_LOG)
        return false;
    for (unsigned i = 0; i < p->nrules; i++)
        if (rule_forks(&p->rules[i]))
            return false;
    return true;
}

int policy_load(const char *path, struct policy **out, char *err, size_t errlen)
{
    struct policy_parse *p = calloc(1, sizeof(*p));
    struct policy *pol = calloc(1, sizeof(*pol));
    int r = -ENOMEM;
    if (!p || !pol || !(pol->path = strdup(path)))
        goto out;
    *p = (struct policy_parse){ .pol = pol, .err = err, .errlen = errlen };
    r = policy__parse_file(p, path);
    if (r < 0 && !p->failed)
        snprintf(err, errlen, "%s: %s", path, strerror(-r));
    if (r == 0)
        r = compile(p, path);
    if (r == 0)
        pol->threads_only = threads_only(p);
out:
    if (p) {
        for (unsigned i = 0; i < p->nfiles; i++)
            free(p->files[i]);
        free(p->rules);
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
           a->threads_only == b->threads_only && a->prog.len == b->prog.len &&
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
