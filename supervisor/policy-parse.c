/* SPDX-License-Identifier: MIT */
/* The policy language (docs/policies.md), one statement per line:
 *
 *   # comment
 *   @default kill | log | errno NAME      what happens to everything else
 *   @include FILE                         relative to this file
 *   NAME                                  allowed
 *   NAME: COND [|| COND]...               allowed when a COND holds
 *   NAME: errno ENAME                     fails with ENAME, silently
 *
 *   COND  := ARG OP VALUE [&& ARG OP VALUE]...
 *   ARG   := arg0 .. arg5, optionally "argN & VALUE" (masked, with == only)
 *   OP    := == != < <= > >=
 *   VALUE := number or constant, optionally or'ed: O_RDWR|O_CLOEXEC;
 *            or SELF, alone and with == only: the pid of the module's
 *            process, known only there (policy_bind_self)
 *
 * Each || alternative is one libseccomp rule; libseccomp ORs rules. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy-parse.h"

#define MAX_LINE 512

/* Constants a condition may name.  Values come from the headers, so they
 * are right for the architecture the supervisor is built for. */
#define C(x) { #x, (uint64_t)(x) }
static const struct { const char *name; uint64_t value; } constants[] = {
    C(AF_UNIX), C(AF_LOCAL), C(AF_INET), C(AF_INET6), C(AF_NETLINK),
    C(SOCK_STREAM), C(SOCK_DGRAM), C(SOCK_SEQPACKET), C(SOCK_RAW), C(SOCK_CLOEXEC), C(SOCK_NONBLOCK),
    C(MSG_DONTWAIT), C(MSG_NOSIGNAL),
    C(PROT_NONE), C(PROT_READ), C(PROT_WRITE), C(PROT_EXEC),
    C(MAP_SHARED), C(MAP_PRIVATE), C(MAP_ANONYMOUS), C(MAP_FIXED), C(MAP_FIXED_NOREPLACE),
    C(MAP_POPULATE), C(MAP_NORESERVE), C(MAP_STACK), C(MAP_GROWSDOWN),
    C(O_RDONLY), C(O_WRONLY), C(O_RDWR), C(O_ACCMODE), C(O_CREAT), C(O_EXCL), C(O_TRUNC),
    C(O_APPEND), C(O_NONBLOCK), C(O_CLOEXEC), C(O_DIRECTORY), C(O_NOFOLLOW), C(O_PATH),
    C(O_NOCTTY), C(O_TMPFILE), C(O_LARGEFILE),
    C(F_DUPFD), C(F_DUPFD_CLOEXEC), C(F_GETFD), C(F_SETFD), C(F_GETFL), C(F_SETFL),
    C(F_GETLK), C(F_SETLK), C(F_SETLKW), C(F_ADD_SEALS), C(F_GET_SEALS), C(FD_CLOEXEC),
    C(FUTEX_WAIT), C(FUTEX_WAKE), C(FUTEX_WAIT_BITSET), C(FUTEX_WAKE_BITSET), C(FUTEX_REQUEUE),
    C(FUTEX_CMP_REQUEUE), C(FUTEX_WAKE_OP), C(FUTEX_LOCK_PI), C(FUTEX_UNLOCK_PI),
    C(FUTEX_PRIVATE_FLAG), C(FUTEX_CLOCK_REALTIME),
    C(CLOCK_REALTIME), C(CLOCK_MONOTONIC), C(CLOCK_MONOTONIC_RAW), C(CLOCK_BOOTTIME),
    C(CLOCK_PROCESS_CPUTIME_ID), C(CLOCK_THREAD_CPUTIME_ID),
    C(EFD_CLOEXEC), C(EFD_NONBLOCK), C(EFD_SEMAPHORE),
    C(MADV_DONTNEED), C(MADV_FREE), C(MADV_WILLNEED), C(MADV_HUGEPAGE), C(MADV_NOHUGEPAGE),
    C(CLONE_THREAD), C(CLONE_VM), C(CLONE_VFORK),
    C(PR_SET_NAME), C(PR_GET_NAME), C(PR_SET_DUMPABLE), C(PR_GET_DUMPABLE), C(PR_SET_PDEATHSIG),
    C(PR_SET_NO_NEW_PRIVS), C(PR_GET_NO_NEW_PRIVS), C(PR_SET_VMA), C(PR_CAPBSET_READ),
    C(TCGETS), C(TIOCGWINSZ), C(FIONREAD), C(FIONBIO), C(FIOCLEX),
};
#undef C

__attribute__((format(printf, 2, 3))) static int fail(struct policy_parse *p, const char *fmt, ...)
{
    if (p->failed)
        return -EINVAL;
    p->failed = true;
    const struct frame *f = &p->stack[p->depth - 1];
    int n = snprintf(p->err, p->errlen, "%s:%d: ", f->name, f->line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->errlen)
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static char *skip_space(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static void trim_end(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
}

/* ---- values ---- */

static int parse_term(struct policy_parse *p, const char *t, uint64_t *out)
{
    if (isdigit((unsigned char)*t)) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(t, &end, 0);
        if (errno || *end)
            return fail(p, "'%s' is not a number", t);
        if ((uint32_t)v == POLICY_SELF)
            return fail(p, "%s is reserved (it stands for SELF in the program)", t);
        *out = v;
        return 0;
    }
    for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++)
        if (strcmp(constants[i].name, t) == 0) {
            *out = constants[i].value;
            return 0;
        }
    return fail(p, "unknown constant '%s' (a number, or a name from docs/policies.md)", t);
}

/* "A|B|0x10" */
static int parse_value(struct policy_parse *p, char *v, uint64_t *out)
{
    *out = 0;
    for (char *t = v; t;) {
        char *bar = strchr(t, '|');
        if (bar)
            *bar = '\0';
        t = skip_space(t);
        trim_end(t);
        if (!*t)
            return fail(p, bar || t != skip_space(v) ? "missing value around '|'" : "missing value");
        uint64_t x = 0;
        if (parse_term(p, t, &x) < 0)
            return -EINVAL;
        *out |= x;
        t = bar ? bar + 1 : NULL;
    }
    return 0;
}

static int errno_from_name(const char *name)
{
    if (isdigit((unsigned char)*name)) {
        char *end;
        long v = strtol(name, &end, 10);
        return *end || v <= 0 || v > 4095 ? -1 : (int)v;
    }
    for (int e = 1; e < 4096; e++) {
        const char *n = strerrorname_np(e);
        if (n && strcmp(n, name) == 0)
            return e;
    }
    return -1;
}

/* ---- conditions ---- */

static const struct { const char *text; enum scmp_compare op; } ops[] = {
    /* two-character operators first */
    { "==", SCMP_CMP_EQ }, { "!=", SCMP_CMP_NE }, { "<=", SCMP_CMP_LE },
    { ">=", SCMP_CMP_GE }, { "<", SCMP_CMP_LT }, { ">", SCMP_CMP_GT },
};

/* "argN [& MASK] OP VALUE" */
static int parse_compare(struct policy_parse *p, char *s, struct scmp_arg_cmp *cmp)
{
    s = skip_space(s);
    if (strncmp(s, "arg", 3) != 0 || s[3] < '0' || s[3] > '5' || isalnum((unsigned char)s[4]) || s[4] == '_')
        return fail(p, "condition '%s' must start with arg0 .. arg5", s);
    unsigned arg = (unsigned)(s[3] - '0');
    s = skip_space(s + 4);
    bool masked = *s == '&';
    uint64_t mask = 0;
    char *opat = s;
    if (masked) {
        opat = strpbrk(s + 1, "=!<>");
        if (!opat)
            return fail(p, "'arg%u & MASK' needs '== VALUE'", arg);
        char m[MAX_LINE];
        snprintf(m, sizeof(m), "%.*s", (int)(opat - s - 1), s + 1);
        if (parse_value(p, m, &mask) < 0)
            return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        size_t n = strlen(ops[i].text);
        if (strncmp(opat, ops[i].text, n) != 0)
            continue;
        if (masked && ops[i].op != SCMP_CMP_EQ)
            return fail(p, "a masked argument can only be compared with ==");
        uint64_t v;
        char *val = skip_space(opat + n);
        trim_end(val);
        if (strcmp(val, "SELF") == 0) {
            if (masked || ops[i].op != SCMP_CMP_EQ)
                return fail(p, "SELF can only be compared with ==");
            *cmp = (struct scmp_arg_cmp){ arg, SCMP_CMP_EQ, POLICY_SELF, 0 };
            return 0;
        }
        if (parse_value(p, val, &v) < 0)
            return -EINVAL;
        if (masked && (v & ~mask))
            return fail(p, "arg%u & 0x%llx can never equal 0x%llx", arg, (unsigned long long)mask,
                        (unsigned long long)v);
        *cmp = masked ? (struct scmp_arg_cmp){ arg, SCMP_CMP_MASKED_EQ, mask, v }
                      : (struct scmp_arg_cmp){ arg, ops[i].op, v, 0 };
        return 0;
    }
    return fail(p, "expected == != < <= > >= after arg%u", arg);
}

/* Records one rule for policy.c to give libseccomp, with its line. */
static int add_rule(struct policy_parse *p, uint32_t action, int nr, unsigned ncmp,
                    const struct scmp_arg_cmp *cmp)
{
    if (p->nrules == p->caprules) {
        if (p->nrules == POLICY_MAX_RULES)
            return fail(p, "more than %d rules (one per syscall line or || alternative)",
                        POLICY_MAX_RULES);
        unsigned cap = p->caprules ? 2 * p->caprules : 64;
        struct policy_rule *r = realloc(p->rules, cap * sizeof(*r));
        if (!r)
            return fail(p, "%s", strerror(ENOMEM));
        p->rules = r;
        p->caprules = cap;
    }
    const struct frame *f = &p->stack[p->depth - 1];
    struct policy_rule *r = &p->rules[p->nrules++];
    *r = (struct policy_rule){ .nr = nr, .action = action, .ncmp = ncmp, .file = f->name, .line = f->line };
    if (ncmp)
        memcpy(r->cmp, cmp, ncmp * sizeof(*cmp));
    return 0;
}

/* One || alternative: comparisons joined by &&, one rule (only checked
 * when the syscall is allowed without condition anyway). */
static int add_alternative(struct policy_parse *p, int nr, char *alt, bool add)
{
    struct scmp_arg_cmp cmp[6];
    unsigned n = 0, seen = 0;
    for (char *c = alt; c;) {
        char *and = strstr(c, "&&");
        if (and)
            *and = '\0';
        if (!*skip_space(c))
            return fail(p, "empty condition");
        if (n == 6)
            return fail(p, "more than 6 comparisons in one condition");
        if (parse_compare(p, c, &cmp[n]) < 0)
            return -EINVAL;
        if (seen & (1u << cmp[n].arg))
            return fail(p, "arg%u compared twice in one condition (use || for alternatives)",
                        cmp[n].arg);
        seen |= 1u << cmp[n].arg;
        n++;
        c = and ? and + 2 : NULL;
    }
    return add ? add_rule(p, SCMP_ACT_ALLOW, nr, n, cmp) : 0;
}

/* ---- statements ---- */

static struct ruled *find_ruled(struct policy_parse *p, int nr)
{
    for (unsigned i = 0; i < p->nruled; i++)
        if (p->ruled[i].nr == nr)
            return &p->ruled[i];
    return NULL;
}

/* Lines that allow add up: a syscall is allowed when any line allows it
 * (a policy may widen what base.policy allows under a condition).  Only
 * an errno line contradicts another line. */
static int rule(struct policy_parse *p, const char *name, int nr, enum ruling how)
{
    struct ruled *r = find_ruled(p, nr);
    if (r && (r->how == R_ERRNO || how == R_ERRNO))
        return fail(p, "'%s' is already ruled on at %s:%d", name, r->file, r->line);
    if (r && r->how == R_ALLOW)
        return 1; /* allowed whatever else is said */
    if (r) {
        r->how = how == R_ALLOW ? R_ALLOW : r->how;
        return 0;
    }
    if (p->nruled == POLICY_MAX_RULED)
        return fail(p, "more than %d syscalls", POLICY_MAX_RULED);
    p->ruled[p->nruled++] = (struct ruled){ nr, how, p->stack[p->depth - 1].name,
                                           p->stack[p->depth - 1].line };
    return 0;
}

static bool is_exec(const char *name)
{
    return strcmp(name, "execve") == 0 || strcmp(name, "execveat") == 0;
}

/* exit and exit_group are always allowed: every process may end. */
static bool is_exit(const char *name)
{
    return strcmp(name, "exit") == 0 || strcmp(name, "exit_group") == 0;
}

static int syscall_statement(struct policy_parse *p, char *line)
{
    char *colon = strchr(line, ':');
    char *rest = NULL;
    if (colon) {
        *colon = '\0';
        rest = skip_space(colon + 1);
    }
    trim_end(line);
    for (char *c = line; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_')
            return fail(p, "'%s' is not a syscall name", line);
    int nr = seccomp_syscall_resolve_name(line);
    if (nr == __NR_SCMP_ERROR)
        return fail(p, "unknown syscall '%s'", line);
    if (nr < 0)
        return fail(p, "'%s' is not a syscall on this architecture", line);
    bool conditional = rest && *rest;
    if (is_exec(line) || is_exit(line)) {
        if (conditional)
            return fail(p, "'%s' takes no condition: it is allowed or not", line);
        if (is_exec(line)) {
            p->pol->exec_allowed = true;
            return rule(p, line, nr, R_EXEC) < 0 ? -EINVAL : 0;
        }
        return 0;
    }
    if (!conditional) {
        int r = rule(p, line, nr, R_ALLOW);
        if (r != 0)
            return r < 0 ? r : 0;
        return add_rule(p, SCMP_ACT_ALLOW, nr, 0, NULL);
    }
    if (strncmp(rest, "errno", 5) == 0 && (rest[5] == ' ' || rest[5] == '\t')) {
        char *ename = skip_space(rest + 5);
        int e = errno_from_name(ename);
        if (e < 0)
            return fail(p, "unknown errno '%s'", ename);
        if (rule(p, line, nr, R_ERRNO) < 0)
            return -EINVAL;
        return add_rule(p, SCMP_ACT_ERRNO((unsigned)e), nr, 0, NULL);
    }
    int ruled = rule(p, line, nr, R_WHEN);
    if (ruled < 0)
        return ruled;
    /* split on "||" */
    for (char *alt = rest; alt;) {
        char *bar = strstr(alt, "||");
        if (bar)
            *bar = '\0';
        if (add_alternative(p, nr, alt, ruled == 0) < 0)
            return -EINVAL;
        alt = bar ? bar + 2 : NULL;
    }
    return 0;
}

static int default_statement(struct policy_parse *p, char *arg)
{
    if (p->default_file)
        return fail(p, "second @default (the first is at %s:%d)", p->default_file, p->default_line);
    p->default_file = p->stack[p->depth - 1].name;
    p->default_line = p->stack[p->depth - 1].line;
    if (strcmp(arg, "kill") == 0) {
        p->pol->action = POLICY_KILL;
    } else if (strcmp(arg, "log") == 0) {
        p->pol->action = POLICY_LOG;
    } else if (strncmp(arg, "errno", 5) == 0 && (arg[5] == ' ' || arg[5] == '\t')) {
        p->pol->action = POLICY_ERRNO;
        p->pol->err = errno_from_name(skip_space(arg + 5));
        if (p->pol->err < 0)
            return fail(p, "unknown errno '%s'", skip_space(arg + 5));
    } else {
        return fail(p, "@default must be kill, log or errno NAME");
    }
    return 0;
}

/* Relative includes are relative to the including file's directory. */
static int include_statement(struct policy_parse *p, const char *arg)
{
    const char *cur = p->stack[p->depth - 1].name;
    const char *slash = strrchr(cur, '/');
    char path[PATH_MAX];
    if (!*arg)
        return fail(p, "@include needs a file name");
    if (arg[0] == '/' || !slash)
        snprintf(path, sizeof(path), "%s", arg);
    else
        snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - cur), cur, arg);
    return policy__parse_file(p, path);
}

static int statement(struct policy_parse *p, char *line)
{
    char *s = skip_space(line);
    char *hash = strchr(s, '#');
    if (hash)
        *hash = '\0';
    trim_end(s);
    if (!*s)
        return 0;
    if (*s != '@')
        return syscall_statement(p, s);
    char *arg = s + strcspn(s, " \t");
    if (*arg)
        *arg++ = '\0';
    arg = skip_space(arg);
    if (strcmp(s, "@include") == 0)
        return include_statement(p, arg);
    if (strcmp(s, "@default") == 0)
        return default_statement(p, arg);
    return fail(p, "unknown directive '%s' (@include or @default)", s);
}

int policy__parse_file(struct policy_parse *p, const char *path)
{
    if (p->depth == POLICY_MAX_DEPTH)
        return fail(p, "@include nested deeper than %d", POLICY_MAX_DEPTH);
    char *real = realpath(path, NULL);
    if (!real)
        return p->depth ? fail(p, "@include %s: %s", path, strerror(errno)) : -errno;
    for (int i = 0; i < p->depth; i++)
        if (strcmp(p->stack[i].real, real) == 0) {
            free(real);
            return fail(p, "@include cycle: %s includes itself again", path);
        }
    FILE *f = fopen(path, "re");
    struct stat st;
    if (f && fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
        fclose(f);
        f = NULL;
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    }
    if (!f) {
        int e = errno;
        free(real);
        return p->depth ? fail(p, "@include %s: %s", path, strerror(e)) : -e;
    }
    char *name = p->nfiles < sizeof(p->files) / sizeof(p->files[0]) ? strdup(path) : NULL;
    if (!name) {
        fclose(f);
        free(real);
        return p->depth ? fail(p, "too many policy files") : -ENOMEM;
    }
    p->files[p->nfiles++] = name;
    struct frame *fr = &p->stack[p->depth++];
    *fr = (struct frame){ .real = real, .name = name, .line = 0 };
    char line[MAX_LINE + 2];
    int r = 0;
    while (r == 0 && fgets(line, sizeof(line), f)) {
        fr->line++;
        if (!strchr(line, '\n') && !feof(f))
            r = fail(p, "line longer than %d characters", MAX_LINE);
        else
            r = statement(p, line);
    }
    if (r == 0 && ferror(f))
        r = fail(p, "read error");
    fclose(f);
    free(real);
    p->depth--;
    return r;
}
