/* SPDX-License-Identifier: MIT */
/* supervisor/policy.c and policy-parse.c: a good policy (every kind of
 * statement, includes by relative path) compiles; @default and execve set
 * the policy's fields; every kind of bad policy fails with exactly
 * "FILE:LINE: problem", FILE being the included file when the problem is
 * inside one; policy_same sees every edit but a move; lines that allow
 * add up; and the compiled filter, loaded into a forked child,
 * allows, refuses (ENOSYS: user notification without a listener) and
 * fails with errno as written. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"

static char dir[] = "/tmp/uipc-test-policy-XXXXXX";

/* dir/name */
static void path_in(char *buf, size_t len, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < len);
}

/* Writes text to dir/name. */
static void write_file(const char *name, const char *text)
{
    char path[512];
    path_in(path, sizeof(path), name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    char path[512];
    snprintf(path, sizeof(path), "%s/sub", dir); /* for includes by relative path */
    return mkdir(path, 0755);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Loads dir/name, which must compile. */
static struct policy *load_file_ok(const char *name)
{
    struct policy *pol = NULL;
    char path[512], err[1024] = "";
    path_in(path, sizeof(path), name);
    int r = policy_load(path, &pol, err, sizeof(err));
    if (r != 0)
        fail_msg("unexpected error %d: %s", r, err);
    assert_non_null(pol);
    assert_string_equal(pol->path, path);
    assert_non_null(pol->prog.filter);
    assert_true(pol->prog.len > 0);
    return pol;
}

/* Writes text to dir/main.policy and loads it. */
static struct policy *load_ok(const char *text)
{
    write_file("main.policy", text);
    return load_file_ok("main.policy");
}

/* Loads dir/name and expects exactly "dir/errfile:line: MESSAGE", MESSAGE
 * being fmt formatted. */
__attribute__((format(printf, 4, 5)))
static void load_file_err(const char *name, const char *errfile, int line, const char *fmt, ...)
{
    struct policy *pol = NULL;
    char path[512], errpath[512], msg[1024], want[2048], err[1024] = "";
    path_in(path, sizeof(path), name);
    path_in(errpath, sizeof(errpath), errfile);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(want, sizeof(want), "%s:%d: %s", errpath, line, msg);
    int r = policy_load(path, &pol, err, sizeof(err));
    if (r == 0)
        policy_free(pol);
    if (r != -EINVAL || strcmp(err, want) != 0)
        fail_msg("expected -EINVAL and \"%s\", got %d and \"%s\"", want, r, err);
    assert_null(pol); /* *out untouched on failure */
}

/* Writes text to dir/main.policy and expects exactly
 * "dir/main.policy:line: MESSAGE". */
__attribute__((format(printf, 3, 4)))
static void load_err(const char *text, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    write_file("main.policy", text);
    load_file_err("main.policy", "main.policy", line, "%s", msg);
}

static void test_good(void **state)
{
    (void)state;
    /* sub/inc.policy includes leaf.policy: found next to it, in sub/,
     * not next to main.policy nor in the working directory.  execve is
     * only in the leaf, so exec_allowed shows the leaf was read. */
    write_file("sub/inc.policy", "# included\n\ngetpid\n@include leaf.policy   # sub/leaf.policy\n");
    write_file("sub/leaf.policy", "execve\nclose\n");
    struct policy *pol = load_ok(
        "# a good policy: every kind of statement\n"
        "@default kill\n"
        "\n"
        "   \t\n"
        "@include sub/inc.policy\n"
        "read\n"
        "\twrite   # with a comment\n"
        "socket: arg0 == AF_UNIX\n"
        "mmap: arg2 & PROT_EXEC == 0\n"
        "openat: arg2 == O_RDONLY|O_CLOEXEC\n"
        "fcntl: arg1 == F_GETFD || arg1 == F_SETFD && arg2 == FD_CLOEXEC || arg1 == 3\n"
        "futex: arg1 == FUTEX_WAIT_BITSET|FUTEX_PRIVATE_FLAG && arg3 >= 0x10 && arg5 != 0\n"
        "prlimit64: arg2 == 0 || arg0 <= 1 && arg1 > 2 || arg1 < 100\n"
        "ioctl: errno ENOTTY\n"
        "getuid: errno 13   # a number\n"
        "exit_group\n"
        "# the end\n");
    assert_int_equal(pol->action, POLICY_KILL);
    assert_true(pol->exec_allowed);
    policy_free(pol);
}

static void test_default(void **state)
{
    (void)state;
    struct policy *pol = load_ok("@default errno EPERM\nread\n");
    assert_int_equal(pol->action, POLICY_ERRNO);
    assert_int_equal(pol->err, EPERM);
    policy_free(pol);

    pol = load_ok("read\n@default errno 13   # EACCES by number\n");
    assert_int_equal(pol->action, POLICY_ERRNO);
    assert_int_equal(pol->err, EACCES);
    policy_free(pol);

    pol = load_ok("@default log\nread\n");
    assert_int_equal(pol->action, POLICY_LOG);
    policy_free(pol);

    pol = load_ok("read\n");
    assert_int_equal(pol->action, POLICY_KILL);
    policy_free(pol);

    /* from an included file */
    write_file("inc.policy", "@default log\n");
    pol = load_ok("@include inc.policy\nread\n");
    assert_int_equal(pol->action, POLICY_LOG);
    policy_free(pol);
}

static void test_exec(void **state)
{
    (void)state;
    struct policy *pol = load_ok("read\nexecve\n");
    assert_true(pol->exec_allowed);
    policy_free(pol);

    pol = load_ok("read\nexecveat\n");
    assert_true(pol->exec_allowed);
    policy_free(pol);

    pol = load_ok("read\nwrite\n");
    assert_false(pol->exec_allowed);
    policy_free(pol);

    pol = load_ok("read\n# execve\n");
    assert_false(pol->exec_allowed);
    policy_free(pol);
}

/* threads_only: the supervisor reclaims a module in a pid namespace when
 * its thread group is gone only if nothing else of it can run. */
static void expect_threads_only(const char *text, bool want)
{
    struct policy *pol = load_ok(text);
    if (pol->threads_only != want)
        fail_msg("threads_only %d for:\n%s", pol->threads_only, text);
    policy_free(pol);
}

static void test_threads_only(void **state)
{
    (void)state;
    /* base.policy's own lines */
    expect_threads_only("@default kill\nclone3: errno ENOSYS\nclone: arg0 & CLONE_THREAD == CLONE_THREAD\n", true);
    expect_threads_only("@default errno EPERM\nread\n", true);
    expect_threads_only("@default kill\nclone: arg0 == 0x50f00\n", true);
    expect_threads_only("@default kill\nclone: arg0 & CLONE_THREAD == CLONE_THREAD && arg1 == 0\n", true);
    /* a process after all */
    expect_threads_only("@default log\nread\n", false); /* unlisted calls run */
    expect_threads_only("@default kill\nclone\n", false); /* sanitizer.policy */
    expect_threads_only("@default kill\nclone: arg0 & CLONE_VM == CLONE_VM\n", false);
    expect_threads_only("@default kill\nclone: arg0 & CLONE_THREAD == 0\n", false);
    expect_threads_only("@default kill\nclone: arg0 & CLONE_THREAD == CLONE_THREAD || arg1 == 0\n", false);
    expect_threads_only("@default kill\nclone3\n", false);
    expect_threads_only("@default kill\nfork\n", false);
    expect_threads_only("@default kill\nvfork\n", false);
}

static void test_err_syscalls(void **state)
{
    (void)state;
    load_err("read\n\nfrobnicate\n", 3, "unknown syscall 'frobnicate'");
    load_err("read-all\n", 1, "'read-all' is not a syscall name");
    load_err("read\nsocketcall\n", 2, "'socketcall' is not a syscall on this architecture");
    load_err("read\nexecve: arg0 == 0\n", 2, "'execve' takes no condition: it is allowed or not");
    load_err("execveat: errno EPERM\n", 1, "'execveat' takes no condition: it is allowed or not");
    load_err("exit_group: arg0 == 0\n", 1, "'exit_group' takes no condition: it is allowed or not");
    load_err("dup: errno EFROB\n", 1, "unknown errno 'EFROB'");
    load_err("dup: errno 0\n", 1, "unknown errno '0'");
}

static void test_err_conditions(void **state)
{
    (void)state;
    load_err("socket: arg0 == AF_FROB\n", 1,
             "unknown constant 'AF_FROB' (a number, or a name from docs/policies.md)");
    load_err("socket: arg0 == AF_UNIX|AF_FROB\n", 1,
             "unknown constant 'AF_FROB' (a number, or a name from docs/policies.md)");
    load_err("socket: arg0 == 12abc\n", 1, "'12abc' is not a number");
    load_err("socket: domain == AF_UNIX\n", 1, "condition 'domain == AF_UNIX' must start with arg0 .. arg5");
    load_err("socket: arg6 == 1\n", 1, "condition 'arg6 == 1' must start with arg0 .. arg5");
    load_err("socket: arg0 = 1\n", 1, "expected == != < <= > >= after arg0");
    load_err("socket: arg0 ~ 1\n", 1, "expected == != < <= > >= after arg0");
    load_err("socket: arg0 ==\n", 1, "missing value");
    load_err("socket: arg0 == 1 && arg1 == 2 && arg0 == 3\n", 1,
             "arg0 compared twice in one condition (use || for alternatives)");
    load_err("mmap: arg2 & PROT_EXEC != 0\n", 1, "a masked argument can only be compared with ==");
    load_err("mmap: arg2 & PROT_EXEC >= 0\n", 1, "a masked argument can only be compared with ==");
    load_err("mmap: arg2 & PROT_EXEC\n", 1, "'arg2 & MASK' needs '== VALUE'");
    load_err("socket: arg0 & 1 == 2\n", 1, "arg0 & 0x1 can never equal 0x2");
    load_err("read: arg0 == 1 ||\n", 1, "empty condition");
    load_err("read: || arg0 == 1\n", 1, "empty condition");
    load_err("read: arg0 == 1 && && arg1 == 2\n", 1, "empty condition");
    load_err("write\nread: arg0 == 1 ||   # a comment\n", 2, "empty condition");
    load_err("tgkill: arg0 != SELF\n", 1, "SELF can only be compared with ==");
    load_err("tgkill: arg0 & 1 == SELF\n", 1, "SELF can only be compared with ==");
    load_err("tgkill: arg0 == SELF|1\n", 1, "unknown constant 'SELF' (a number, or a name from docs/policies.md)");
    load_err("tgkill: arg0 == 0x5e1f5e1f\n", 1, "0x5e1f5e1f is reserved (it stands for SELF in the program)");
}

/* A bad condition is an error even when the syscall is already allowed
 * outright (by this file or by one it includes): the line is still wrong,
 * and would break the policy the day the plain allow goes. */
static void test_err_after_allow(void **state)
{
    (void)state;
    load_err("read\nread: arg0 == AF_FROB\n", 2,
             "unknown constant 'AF_FROB' (a number, or a name from docs/policies.md)");
    load_err("read\nread: arg0 == 1 ||\n", 2, "empty condition");
    load_err("read\nread: arg6 == 1\n", 2, "condition 'arg6 == 1' must start with arg0 .. arg5");
}

/* A value may not end in '|': "1|" is as incomplete as "|1" and "1| |2". */
static void test_err_trailing_bar(void **state)
{
    (void)state;
    load_err("socket: arg0 == |AF_UNIX\n", 1, "missing value around '|'");
    load_err("socket: arg0 == AF_UNIX| |AF_INET\n", 1, "missing value around '|'");
    load_err("socket: arg0 == AF_UNIX|\n", 1, "missing value around '|'");
}

/* arg10 is not arg1 followed by junk: it is no argument at all. */
static void test_err_arg_number(void **state)
{
    (void)state;
    load_err("socket: arg10 == 1\n", 1, "condition 'arg10 == 1' must start with arg0 .. arg5");
}

/* An @include that names a directory: like a missing file, an error on
 * the @include line, not "DIR:0: read error" inside the directory. */
static void test_err_include_dir(void **state)
{
    (void)state;
    char path[512], want[1200], err[1024] = "";
    struct policy *pol = NULL;
    write_file("main.policy", "read\n@include sub\n");
    path_in(path, sizeof(path), "main.policy");
    int r = policy_load(path, &pol, err, sizeof(err));
    if (r == 0)
        policy_free(pol);
    char sub[512];
    path_in(sub, sizeof(sub), "sub");
    snprintf(want, sizeof(want), "%s:2: @include %s: %s", path, sub, strerror(EISDIR));
    if (r != -EINVAL || strcmp(err, want) != 0)
        fail_msg("expected -EINVAL and \"%s\", got %d and \"%s\"", want, r, err);
}

static void test_err_directives(void **state)
{
    (void)state;
    char first[512];
    path_in(first, sizeof(first), "main.policy");
    load_err("@default kill\nread\n@default log\n", 3, "second @default (the first is at %s:1)", first);
    load_err("@default sometimes\n", 1, "@default must be kill, log or errno NAME");
    load_err("@default\n", 1, "@default must be kill, log or errno NAME");
    load_err("@default errno EFROB\n", 1, "unknown errno 'EFROB'");
    load_err("read\n@frob x\n", 2, "unknown directive '@frob' (@include or @default)");
    load_err("@include\n", 1, "@include needs a file name");

    /* the second @default in an included file names the first's file */
    write_file("sub/inc.policy", "read\n\n@default log\n");
    write_file("main.policy", "@default kill\n@include sub/inc.policy\n");
    load_file_err("main.policy", "sub/inc.policy", 3, "second @default (the first is at %s:1)", first);
}

static void test_err_includes(void **state)
{
    (void)state;
    char path[512];
    /* a missing file: the error is on the @include line */
    path_in(path, sizeof(path), "missing.policy");
    load_err("read\n@include missing.policy\n", 2, "@include %s: No such file or directory", path);

    /* an error inside an included file is reported with its own path and
     * line; the including file's lines count on after the include */
    write_file("sub/inc.policy", "# one\nread\nfrobnicate\n");
    write_file("main.policy", "write\n@include sub/inc.policy\n");
    load_file_err("main.policy", "sub/inc.policy", 3, "unknown syscall 'frobnicate'");
    write_file("sub/inc.policy", "# one\nread\nwrite\n");
    load_err("write\n@include sub/inc.policy\nfrobnicate\n", 3, "unknown syscall 'frobnicate'");

    /* a.policy includes b.policy includes a.policy */
    path_in(path, sizeof(path), "a.policy");
    write_file("a.policy", "read\n@include b.policy\n");
    write_file("b.policy", "write\n\n@include a.policy\n");
    load_file_err("a.policy", "b.policy", 3, "@include cycle: %s includes itself again", path);
    /* a file that includes itself */
    write_file("a.policy", "@include a.policy\n");
    load_file_err("a.policy", "a.policy", 1, "@include cycle: %s includes itself again", path);

    /* sixteen files deep is fine, seventeen is not: n0 .. n16, each
     * including the next */
    for (int i = 0; i <= 16; i++) {
        char name[32], text[64];
        snprintf(name, sizeof(name), "n%d.policy", i);
        if (i < 16)
            snprintf(text, sizeof(text), "@include n%d.policy\nread\n", i + 1);
        else
            snprintf(text, sizeof(text), "write\n");
        write_file(name, text);
    }
    policy_free(load_file_ok("n1.policy"));
    load_file_err("n0.policy", "n15.policy", 1, "@include nested deeper than 16");

    /* the top file missing: a plain errno, the path in the message */
    struct policy *pol = NULL;
    char err[1024] = "";
    path_in(path, sizeof(path), "nothere.policy");
    assert_int_equal(policy_load(path, &pol, err, sizeof(err)), -ENOENT);
    assert_null(pol);
    char want[600];
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    assert_string_equal(err, want);
}

static void test_err_rulings(void **state)
{
    (void)state;
    char first[512];
    path_in(first, sizeof(first), "main.policy");
    load_err("dup\nread\ndup: errno EACCES\n", 3, "'dup' is already ruled on at %s:1", first);
    load_err("dup: errno EACCES\nread\ndup\n", 3, "'dup' is already ruled on at %s:1", first);
    load_err("dup: arg0 == 1\ndup: errno EACCES\n", 2, "'dup' is already ruled on at %s:1", first);
    load_err("dup: errno EACCES\ndup: arg0 == 1\n", 2, "'dup' is already ruled on at %s:1", first);
    load_err("dup: errno EACCES\ndup: errno EPERM\n", 2, "'dup' is already ruled on at %s:1", first);

    /* across files: the first place is in the other file */
    write_file("sub/inc.policy", "read\ndup\n");
    write_file("main.policy", "@include sub/inc.policy\ndup: errno EACCES\n");
    path_in(first, sizeof(first), "sub/inc.policy");
    load_file_err("main.policy", "main.policy", 2, "'dup' is already ruled on at %s:2", first);
}

static void test_err_long_line(void **state)
{
    (void)state;
    char text[1200];
    /* exactly 512 characters: fine */
    memset(text, 'x', sizeof(text));
    memcpy(text, "read\n#", 6);
    strcpy(text + 5 + 512, "\nwrite\n");
    struct policy *pol = load_ok(text);
    policy_free(pol);

    /* 513: too long, whatever the line holds */
    memset(text, 'x', sizeof(text));
    memcpy(text, "read\n#", 6);
    strcpy(text + 5 + 513, "\nwrite\n");
    load_err(text, 2, "line longer than 512 characters");

    /* far longer, and the last line without a newline */
    memset(text, 'x', sizeof(text));
    memcpy(text, "read\nwrite\n#", 12);
    text[sizeof(text) - 1] = '\0';
    load_err(text, 3, "line longer than 512 characters");
}

/* libseccomp 2.5.4 loops forever on these two rules (the fuzzer found
 * it): the compile is stopped at its deadline and the message names the
 * rule it was stuck on, not the first one of the syscall.  Where a fixed
 * libseccomp compiles them, the program is checked like any other. */
static void test_libseccomp_stall(void **state)
{
    (void)state;
    const char *text = "read\n"
                       "prlimit64: arg0 <= 1 && arg1 == 2\n"
                       "# a comment between\n"
                       "prlimit64: arg0 <= 1 && arg2 == 2\n"
                       "write\n";
    write_file("main.policy", text);
    char path[512], err[1024] = "", want[1024];
    path_in(path, sizeof(path), "main.policy");
    struct policy *pol = NULL;
    int r = policy_load(path, &pol, err, sizeof(err));
    if (r == 0) {
        assert_true(pol->prog.len > 0);
        policy_free(pol);
        return;
    }
    snprintf(want, sizeof(want), "%s:4: libseccomp did not finish adding this rule within 3000 ms", path);
    if (r != -EINVAL || strncmp(err, want, strlen(want)) != 0)
        fail_msg("expected -EINVAL and \"%s...\", got %d and \"%s\"", want, r, err);
    assert_null(pol);
    /* the child was killed and reaped, and the next load works */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    policy_free(load_ok("read\nprlimit64: arg0 <= 1 && arg1 == 2\n"));
}

/* policy_same: what the module gets, not where it came from. */
static void test_same(void **state)
{
    (void)state;
    static const char text[] = "@default errno EPERM\nread\nsocket: arg0 == AF_UNIX\n";
    write_file("same-a.policy", text);
    write_file("same-b.policy", text); /* a copy elsewhere */
    struct policy *a = load_file_ok("same-a.policy"), *b = load_file_ok("same-b.policy");
    assert_true(policy_same(a, b));
    assert_true(policy_same(a, a));
    assert_true(policy_same(NULL, NULL));
    assert_false(policy_same(a, NULL));
    assert_false(policy_same(NULL, a));
    static const char *const edited[] = {
        "@default errno EPERM\nread\nsocket: arg0 == AF_INET\n", /* a condition */
        "@default errno EPERM\nread\nwrite\nsocket: arg0 == AF_UNIX\n", /* one more syscall */
        "@default errno EACCES\nread\nsocket: arg0 == AF_UNIX\n", /* only the errno */
        "@default kill\nread\nsocket: arg0 == AF_UNIX\n", /* only the action */
        "@default errno EPERM\nread\nsocket: arg0 == AF_UNIX\nexecve\n", /* exec allowed */
    };
    for (size_t i = 0; i < sizeof(edited) / sizeof(edited[0]); i++) {
        write_file("same-b.policy", edited[i]);
        struct policy *c = load_file_ok("same-b.policy");
        if (policy_same(a, c))
            fail_msg("\"%s\" is the same as \"%s\"", edited[i], text);
        policy_free(c);
    }
    policy_free(a);
    policy_free(b);
}

static void test_allows_add_up(void **state)
{
    (void)state;
    /* base.policy allows madvise under a condition, the policy including
     * it allows it outright, before and after the include */
    write_file("sub/base.policy", "madvise: arg2 == 4\nread\n");
    struct policy *pol = load_ok("@include sub/base.policy\nmadvise\n");
    policy_free(pol);
    pol = load_ok("madvise\n@include sub/base.policy\n");
    policy_free(pol);

    /* a conditional line after a plain allow; two conditional lines */
    pol = load_ok("madvise\nmadvise: arg2 == MADV_DONTNEED\n");
    policy_free(pol);
    pol = load_ok("madvise: arg2 == MADV_DONTNEED\nmadvise: arg2 == MADV_FREE || arg2 == 4\n");
    policy_free(pol);
    pol = load_ok("read\nread\nexecve\nexecve\nexit_group\nexit\n");
    assert_true(pol->exec_allowed);
    policy_free(pol);
}

/* What the child checks after loading the filter; its exit code is the
 * first check that failed. */
enum child_check {
    CHILD_OK,
    CHILD_GETPID,         /* getpid allowed */
    CHILD_SOCKET_UNIX,    /* socket: arg0 == AF_UNIX allows AF_UNIX */
    CHILD_SOCKET_INET,    /* ... and AF_INET is refused with ENOSYS */
    CHILD_DUP,            /* dup: errno EACCES */
    CHILD_GETUID,         /* not listed at all: ENOSYS */
    CHILD_OPENAT,         /* openat: arg2 == O_RDONLY|O_CLOEXEC allows exactly that */
    CHILD_OPENAT_OTHER,   /* ... and refuses O_RDONLY alone */
    CHILD_MMAP,           /* mmap: arg2 & PROT_EXEC == 0 allows PROT_READ */
    CHILD_MMAP_EXEC,      /* ... and refuses PROT_READ|PROT_EXEC */
    CHILD_CLOSE,          /* close (in an included file) */
    CHILD_FCNTL,          /* fcntl: arg1 == F_GETFD included, plain fcntl: any */
    CHILD_LSEEK,          /* lseek: arg2 == 0 included, lseek: arg2 == 1: both */
    CHILD_LSEEK_END,      /* ... and nothing else */
    CHILD_SIGNAL_SELF,    /* tgkill(SELF, ...) allowed */
    CHILD_SIGNAL_OTHER,   /* tgkill(another pid, ...) refused */
    CHILD_NO_NEW_PRIVS = 100,
    CHILD_SECCOMP,
};

static const char *const child_check_names[] = {
    [CHILD_OK] = "ok",
    [CHILD_GETPID] = "getpid() failed",
    [CHILD_SOCKET_UNIX] = "socket(AF_UNIX) failed",
    [CHILD_SOCKET_INET] = "socket(AF_INET) did not fail with ENOSYS",
    [CHILD_DUP] = "dup(0) did not fail with EACCES",
    [CHILD_GETUID] = "getuid did not fail with ENOSYS",
    [CHILD_OPENAT] = "openat(O_RDONLY|O_CLOEXEC) failed",
    [CHILD_OPENAT_OTHER] = "openat(O_RDONLY) did not fail with ENOSYS",
    [CHILD_MMAP] = "mmap(PROT_READ) failed",
    [CHILD_MMAP_EXEC] = "mmap(PROT_READ|PROT_EXEC) did not fail with ENOSYS",
    [CHILD_CLOSE] = "close() failed",
    [CHILD_FCNTL] = "fcntl(F_GETFL) failed",
    [CHILD_LSEEK] = "lseek(SEEK_SET or SEEK_CUR) failed",
    [CHILD_LSEEK_END] = "lseek(SEEK_END) did not fail with ENOSYS",
    [CHILD_SIGNAL_SELF] = "tgkill(SELF, gettid(), 0) failed",
    [CHILD_SIGNAL_OTHER] = "tgkill(getppid(), ...) did not fail with ENOSYS",
};

/* Runs in the forked child: loads the filter, then makes only syscalls
 * the policy allows (or expects refused) and _exits. */
static void child(struct policy *pol, pid_t pid, pid_t parent)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        _exit(CHILD_NO_NEW_PRIVS);
    if (policy_bind_self(&pol->prog, getpid()) != 1 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &pol->prog) != 0)
        _exit(CHILD_SECCOMP);

    if (getpid() != pid)
        _exit(CHILD_GETPID);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        _exit(CHILD_SOCKET_UNIX);
    if (close(fd) != 0)
        _exit(CHILD_CLOSE);
    errno = 0;
    if (socket(AF_INET, SOCK_STREAM, 0) != -1 || errno != ENOSYS)
        _exit(CHILD_SOCKET_INET);
    errno = 0;
    if (dup(0) != -1 || errno != EACCES)
        _exit(CHILD_DUP);
    errno = 0;
    if (syscall(SYS_getuid) != -1 || errno != ENOSYS)
        _exit(CHILD_GETUID);
    long r = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
    if (r < 0)
        _exit(CHILD_OPENAT);
    if (syscall(SYS_fcntl, r, F_GETFL) < 0)
        _exit(CHILD_FCNTL);
    if (syscall(SYS_lseek, r, 0, SEEK_SET) != 0 || syscall(SYS_lseek, r, 0, SEEK_CUR) != 0)
        _exit(CHILD_LSEEK);
    errno = 0;
    if (syscall(SYS_lseek, r, 0, SEEK_END) != -1 || errno != ENOSYS)
        _exit(CHILD_LSEEK_END);
    if (close((int)r) != 0)
        _exit(CHILD_CLOSE);
    errno = 0;
    if (syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY) != -1 || errno != ENOSYS)
        _exit(CHILD_OPENAT_OTHER);
    long m = syscall(SYS_mmap, NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == -1)
        _exit(CHILD_MMAP);
    errno = 0;
    if (syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != -1 ||
        errno != ENOSYS)
        _exit(CHILD_MMAP_EXEC);
    if (syscall(SYS_tgkill, pid, syscall(SYS_gettid), 0) != 0)
        _exit(CHILD_SIGNAL_SELF);
    errno = 0;
    if (syscall(SYS_tgkill, parent, parent, 0) != -1 || errno != ENOSYS)
        _exit(CHILD_SIGNAL_OTHER);
    _exit(CHILD_OK);
}

/* The compiled filter in a real process.  With no listener for its user
 * notifications, a syscall the policy does not allow fails with ENOSYS. */
static void test_filter(void **state)
{
    (void)state;
    write_file("sub/inc.policy", "close\nfcntl: arg1 == F_GETFD\nlseek: arg2 == 0\n");
    struct policy *pol = load_ok(
        "@default kill\n"
        "@include sub/inc.policy\n"
        "fcntl\n"
        "lseek: arg2 == 1\n"
        "write\n"
        "getpid\n"
        "socket: arg0 == AF_UNIX\n"
        "dup: errno EACCES\n"
        "openat: arg2 == O_RDONLY|O_CLOEXEC\n"
        "mmap: arg2 & PROT_EXEC == 0\n"
        "gettid\n"
        "tgkill: arg0 == SELF\n"
#ifdef __SANITIZE_ADDRESS__
        /* what the sanitizer runtimes may call (policies/sanitizer.policy) */
        "open\nprlimit64\nmadvise\nsigaltstack\nprctl\nclone\nptrace\nwait4\n"
        "getppid\ngetdents64\ngetdents\nunlink\nmincore\n"
#endif
    );
    pid_t parent = getpid(), pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child(pol, getpid(), parent);
    policy_free(pol);

    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the child was killed by signal %d", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    int code = WEXITSTATUS(status);
    if (code == CHILD_NO_NEW_PRIVS)
        fail_msg("prctl(PR_SET_NO_NEW_PRIVS) failed in the child");
    if (code == CHILD_SECCOMP)
        fail_msg("seccomp(SECCOMP_SET_MODE_FILTER) refused the compiled program");
    if (code != CHILD_OK)
        fail_msg("in the child: %s (exit code %d)",
                 code < (int)(sizeof(child_check_names) / sizeof(child_check_names[0])) ?
                     child_check_names[code] : "?",
                 code);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_exec),
        cmocka_unit_test(test_threads_only),
        cmocka_unit_test(test_err_syscalls),
        cmocka_unit_test(test_err_conditions),
        cmocka_unit_test(test_err_after_allow),
        cmocka_unit_test(test_err_trailing_bar),
        cmocka_unit_test(test_err_arg_number),
        cmocka_unit_test(test_err_include_dir),
        cmocka_unit_test(test_err_directives),
        cmocka_unit_test(test_err_includes),
        cmocka_unit_test(test_err_rulings),
        cmocka_unit_test(test_err_long_line),
        cmocka_unit_test(test_libseccomp_stall),
        cmocka_unit_test(test_same),
        cmocka_unit_test(test_allows_add_up),
        cmocka_unit_test(test_filter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
