/* SPDX-License-Identifier: MIT */
/* The sandbox for real: the supervisor starts sandbox-probe modules under
 * real seccomp filters, capability sets, rlimits and namespaces; the probe
 * prints what it sees into the supervisor's log, and the test also looks
 * at the module from outside (/proc/PID/status). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "svtest.h"

/* "KEY:\tVALUE" from /proc/PID/status, VALUE copied to out. */
static void status_field(pid_t pid, const char *key, char *out, size_t len)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    size_t klen = strlen(key);
    out[0] = '\0';
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            snprintf(out, len, "%s", line + klen + 1 + strspn(line + klen + 1, " \t"));
            out[strcspn(out, "\n")] = '\0';
        }
    fclose(f);
    if (!out[0])
        fail_msg("no %s in %s", key, path);
}

static void expect_status(pid_t pid, const char *key, const char *want)
{
    char got[128];
    status_field(pid, key, got, sizeof(got));
    if (strcmp(got, want) != 0)
        fail_msg("pid %d: %s is '%s', expected '%s'", (int)pid, key, got, want);
}

/* The echo server under its shipped strict policy. */
static const char *echo_section(void)
{
    static char s[1024];
    snprintf(s, sizeof(s), "[module echo]\nexec = %s\npolicy = %s/echo.policy\nprovides = echo\n",
             env_path("UIPC_ECHO_SERVER"), env_path("UIPC_POLICIES"));
    return s;
}

/* A forbidden syscall: the module is stopped, the log names the syscall
 * by name and number, the restart policy applies, and the count shows in
 * the final status.  The echo server next to it keeps running. */
static void test_violation_named(void **state)
{
    (void)state;
    write_conf("%s[module probe]\nexec = %s\npolicy = %s\nenv = PROBE=socket\nconnects = echo\n"
               "after = echo\nrestart = on-failure\nmax_restarts = 1\nbackoff_ms = 10\n",
               echo_section(), env_path("UIPC_PROBE"), env_path("UIPC_PROBE_POLICY"));
    pid_t sv = start_supervisor();
    wait_log("probe: given up", 1);
    char want[96];
    snprintf(want, sizeof(want), "probe: stopped by seccomp: socket (%d)", (int)SYS_socket);
    const char *log = read_log();
    assert_int_equal(count(log, want), 2);
    assert_int_equal(count(log, "probe: killed by signal SIGKILL (seccomp: socket)"), 2);
    log_has("probe: restart in 10 ms");
    log_lacks("socket() returned"); /* it never ran */
    pid_t echo = latest_pid("echo");
    assert_int_equal(kill(echo, 0), 0);
    assert_int_equal(stop_supervisor(sv), 0);
    log_has("probe: failed, 2 seccomp violations");
    log_has("echo: exited with code 0");
}

/* Under a policy and with nothing granted: filter on, no_new_privs, every
 * capability set empty.  A granted capability is all there is; a user
 * runs it under that uid. */
static void test_proc_status(void **state)
{
    (void)state;
    write_conf("%s[module bare]\nexec = %s\npolicy = %s\nconnects = echo\n"
               "[module granted]\nexec = %s\npolicy = %s\ncapabilities = net_bind_service\n"
               "user = nobody\n",
               echo_section(), env_path("UIPC_PROBE"), env_path("UIPC_PROBE_POLICY"),
               env_path("UIPC_PROBE"), env_path("UIPC_PROBE_POLICY"));
    pid_t sv = start_supervisor();
    wait_log("bare: ready after", 1);
    wait_log("granted: ready after", 1);
    static const char *const sets[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
    pid_t bare = latest_pid("bare"), granted = latest_pid("granted"), echo = latest_pid("echo");
    for (pid_t p = bare; p; p = p == bare ? echo : 0) {
        expect_status(p, "Seccomp", "2");
        expect_status(p, "NoNewPrivs", "1");
        for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
            expect_status(p, sets[i], "0000000000000000");
    }
    expect_status(granted, "Seccomp", "2");
    expect_status(granted, "NoNewPrivs", "1");
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
        expect_status(granted, sets[i], "0000000000000400"); /* bit 10: CAP_NET_BIND_SERVICE */
    expect_status(granted, "Uid", "65534\t65534\t65534\t65534");
    assert_int_equal(stop_supervisor(sv), 0);
}

/* A module holds exactly its own channels, and cannot open anyone
 * else's through /proc/PID/fd. */
static void test_channels_unreachable(void **state)
{
    (void)state;
    write_conf("%s[module peer]\nexec = %s\npolicy = %s\nenv = PROBE=fds\nconnects = echo\nafter = echo\n"
               "[module probe]\nexec = %s\npolicy = %s\nenv = PROBE=fds\nafter = peer\n",
               echo_section(), env_path("UIPC_PROBE"), env_path("UIPC_PROBE_POLICY"),
               env_path("UIPC_PROBE"), env_path("UIPC_PROBE_POLICY"));
    pid_t sv = start_supervisor();
    wait_log("probe: probe: done", 1);
    const char *log = read_log();
    /* the peer holds the echo channel (the check can see one)... */
    /* stdio, its bell and its sender to it, control, channel, its sender to echo's bell */
    assert_int_equal(count(log, "peer: probe: fd "), 8);
    log_has("-> /memfd:uipc:echo (deleted)");
    /* ...the probe holds only its stdio, its bell, its sender to it and its control region */
    assert_int_equal(count(log, "probe: probe: fd "), 6);
    const char *mine = strstr(log, "probe: probe: fd ");
    assert_null(strstr(mine, "probe: probe: fd 3 -> /memfd:uipc:echo"));
    unsigned opened = 99, tried = 0, procs = 0;
    const char *line = strstr(log, "probe: probe: others' fds opened");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "probe: probe: others' fds opened %u of %u tried in %u", &opened,
                            &tried, &procs), 3);
    assert_int_equal(opened, 0);
    assert_true(procs >= 2); /* it did see the echo server and the peer */
    assert_int_equal(stop_supervisor(sv), 0);
}

/* A module that eats memory past its rlimit dies alone: the echo server
 * and its load client go on, and the client's calls all complete. */
static void test_memory_rlimit(void **state)
{
    (void)state;
    write_conf("%s[module load]\nexec = %s\nconnects = echo:32x256\nafter = echo\nrestart = never\n"
               "env = LOAD_SECONDS=2\n"
               "[module hog]\nexec = %s\npolicy = %s\nenv = PROBE=eat\nrlimits = memory=64M\n"
               "hang_timeout_ms = 20000\n"
               "after = echo\nrestart = never\n",
               echo_section(), env_path("UIPC_LOAD_CLIENT"), env_path("UIPC_PROBE"),
               env_path("UIPC_PROBE_POLICY"));
    pid_t sv = start_supervisor();
    wait_log("hog: not restarted", 1);
    wait_log("load: exited with code", 1);
    const char *log = read_log();
    if (!strstr(log, "load: exited with code 0"))
        fail_msg("the load client found a problem:\n%s", log);
    log_lacks("hog: exited with code 0");
    if (!getenv("UIPC_SANITIZED")) /* sanitizers reserve shadow memory past any such limit */
        log_has("hog: killed by signal SIGABRT");
    assert_int_equal(count(log, "echo: started"), 1);
    assert_int_equal(kill(latest_pid("echo"), 0), 0);
    assert_int_equal(stop_supervisor(sv), 0);
}

/* pid, mount, net, uts and ipc namespaces: the module is pid 2 under an
 * init, sees no other process, has only loopback, its own hostname, a
 * read-only root and a private /tmp; it stops cleanly and its init
 * forwards the supervisor's signals. */
static void test_namespaces(void **state)
{
    (void)state;
    write_conf("%s[module probe]\nexec = %s\npolicy = %s\nenv = PROBE=view\nconnects = echo\n"
               "after = echo\nnamespaces = pid, mount, net, uts, ipc\nrestart = always\n",
               echo_section(), env_path("UIPC_PROBE"), env_path("UIPC_PROBE_POLICY"));
    pid_t sv = start_supervisor();
    wait_log("probe: probe: done", 1);
    /* no user key: a uid and gid of its own, from dynamic_uids */
    const char *line = strstr(read_log(), "probe: probe: pid 2 ppid 1 uid ");
    unsigned uid = 0, gid = 0;
    if (!line || sscanf(line, "probe: probe: pid 2 ppid 1 uid %u gid %u hostname probe\n", &uid, &gid) != 2)
        fail_msg("no \"pid 2 ppid 1 uid U gid G hostname probe\" line:\n%s", read_log());
    assert_true(uid >= 61184 && uid <= 65519 && gid == uid);
    log_has("probe: probe: pids: 1 2\n");
    log_has("probe: probe: interfaces: lo\n");
    log_has("probe: probe: root Read-only file system\n");
    log_has("probe: probe: tmp writable\n");
    /* kill -9 of the namespace's init takes the module with it; restarted */
    pid_t init = latest_pid("probe");
    assert_int_equal(kill(init, SIGKILL), 0);
    wait_log("probe: probe: done", 2);
    log_has("probe: killed by signal SIGKILL");
    assert_int_equal(stop_supervisor(sv), 0);
    log_has("probe: exited with code 0");
    expect_gone(init);
}

/* The state letter in /proc/PID/stat ('T': stopped), or 0. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

/* The one child of a pid namespace's init: the module's own process. */
static pid_t init_child(pid_t init)
{
    char path[96];
    int child = 0;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init, (int)init);
    FILE *f = fopen(path, "re");
    if (!f || fscanf(f, "%d", &child) != 1)
        fail_msg("init %d has no child", (int)init);
    fclose(f);
    return child;
}

/* Stops a pid namespace's init (from outside its namespace SIGSTOP
 * reaches it) and waits until it is stopped. */
static void stop_init(pid_t init)
{
    assert_int_equal(kill(init, SIGSTOP), 0);
    for (unsigned k = 0; k < svtest_ms(10000) && proc_state(init) != 'T'; k++)
        sleep_ms(1);
    assert_int_equal(proc_state(init), 'T');
}

/* uipcctl reexec; the new generation's "took over" line waited for. */
static void reexec(int generation)
{
    char line[64];
    svtest_ctl_ok(svtest_ctl(10000, "reexec", NULL), "reexec");
    snprintf(line, sizeof(line), "supervisor: generation %d took over", generation);
    wait_log(line, 1);
}

/* In a pid namespace, under a policy that lets it create no process, a
 * module's channels are reclaimed when its own process is gone, before
 * its init has reaped it: the news does not wait for the init's exit,
 * which tears the namespaces down.  The init is held stopped, so it can
 * neither reap nor exit: the reclaim ("gone") must come while it is
 * still stopped, and the exit (the module's own status, which only the
 * init can tell) once it goes on.  The module's pidfd crosses a reexec
 * (the new generation watches it), and a generation that finds the
 * module gone does not reclaim it again.  Without such a policy (probe:
 * no policy, it could fork) nothing is reclaimed before the init's
 * exit. */
static void test_death_before_init(void **state)
{
    (void)state;
    write_conf("[module echo]\nexec = %s\npolicy = %s/echo.policy\nprovides = echo\n"
               "namespaces = pid, mount, net, uts, ipc\nrestart = always\nbackoff_ms = 10\n"
               "[module probe]\nexec = %s\npolicy = none\nenv = PROBE=view\nconnects = echo\nafter = echo\n"
               "namespaces = pid, mount\nrestart = never\n",
               env_path("UIPC_ECHO_SERVER"), env_path("UIPC_POLICIES"), env_path("UIPC_PROBE"));
    pid_t sv = start_supervisor();
    wait_log("probe: probe: done", 1);
    /* A sanitizer build's runtime.policy lets LSan clone its tracer: then
     * echo.policy allows a process, and the reclaim waits for the init. */
    bool threads_only = getenv("UIPC_SANITIZED") == NULL;
    reexec(2);
    pid_t init = latest_pid("echo");
    pid_t module = init_child(init);
    if (threads_only) {
        stop_init(init);
        assert_int_equal(kill(module, SIGKILL), 0);
        wait_log("echo: its process is gone: channels reclaimed", 1);
        assert_int_equal(proc_state(init), 'T'); /* nobody let it go on */
        log_lacks("echo: killed by signal");
        reexec(3);
        assert_int_equal(kill(init, SIGCONT), 0);
    } else {
        assert_int_equal(kill(module, SIGKILL), 0);
    }
    wait_log("echo: killed by signal SIGKILL", 1); /* the module's own status, from its init */
    wait_log("echo: started", 2);
    expect_gone(init);
    assert_int_equal(count(read_log(), "echo: its process is gone"), threads_only ? 1 : 0);

    pid_t probe_init = latest_pid("probe");
    assert_int_equal(kill(init_child(probe_init), SIGKILL), 0);
    wait_log("probe: killed by signal SIGKILL", 1);
    log_lacks("probe: its process is gone");
    assert_int_equal(stop_supervisor(sv), 0);
}

/* A user namespace: root inside, the configured user outside. */
/* Whether uid can reach and run path (a checkout in a private directory
 * is out of reach; a module there is refused at start, saying so). */
static bool uid_reaches(uid_t uid, const char *path)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(setresgid(uid, uid, uid) == 0 && setresuid(uid, uid, uid) == 0 && access(path, X_OK) == 0 ? 0 : 1);
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_user_namespace(void **state)
{
    (void)state;
    if (!uid_reaches(65534, env_path("UIPC_PROBE"))) {
        /* refused at start with the directory it cannot search */
        write_conf("[module probe]\nexec = %s\nnamespaces = user, pid, mount\nuser = nobody\n",
                   env_path("UIPC_PROBE"));
        assert_int_not_equal(supervisor_refuses(), 0);
        log_has("probe: uid 65534 cannot reach its exec");
        print_message("skipped the rest: uid 65534 cannot reach the build tree (a checkout in a "
                      "private directory); the start was refused, naming the directory\n");
        skip();
    }
    write_conf("[module probe]\nexec = %s\npolicy = %s\nenv = PROBE=view\n"
               "namespaces = user, pid, mount\nuser = nobody\n",
               env_path("UIPC_PROBE"), env_path("UIPC_PROBE_POLICY"));
    pid_t sv = start_supervisor();
    wait_log("probe: probe: done", 1);
    log_has("probe: probe: pid 2 ppid 1 uid 0 gid 0");
    /* the module is the init's only child */
    char path[96], buf[64] = "";
    pid_t init = latest_pid("probe");
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init, (int)init);
    FILE *f = fopen(path, "re");
    if (!f)
        fail_msg("%s: %s\n%s", path, strerror(errno), read_log());
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    pid_t module = (pid_t)atoi(buf);
    assert_true(module > 0);
    expect_status(module, "Uid", "65534\t65534\t65534\t65534");
    expect_status(module, "Seccomp", "2");
    assert_int_equal(stop_supervisor(sv), 0);
}

/* The probe's policy with another @default, in the scratch directory. */
static void probe_policy_with(char *path, size_t len, const char *name, const char *deflt)
{
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "@default %s\n@include %s/base.policy\ngetdents64\nuname\nunlink\ngetuid\ngetgid\n"
            "getppid\n", deflt, env_path("UIPC_POLICIES"));
    fclose(f);
}

/* @default errno: the call fails and the module goes on; @default log:
 * the call runs.  Both are logged once and counted. */
static void test_default_errno_and_log(void **state)
{
    (void)state;
    char denying[400], logging[400];
    probe_policy_with(denying, sizeof(denying), "errno.policy", "errno EACCES");
    probe_policy_with(logging, sizeof(logging), "log.policy", "log");
    write_conf("[module denied]\nexec = %s\npolicy = %s\nenv = PROBE=socket\n"
               "[module logged]\nexec = %s\npolicy = %s\nenv = PROBE=socket\n",
               env_path("UIPC_PROBE"), denying, env_path("UIPC_PROBE"), logging);
    pid_t sv = start_supervisor();
    wait_log("denied: probe: done", 1);
    wait_log("logged: probe: done", 1);
    char want[128];
    snprintf(want, sizeof(want), "denied: denied by seccomp: socket (%d) fails with EACCES", (int)SYS_socket);
    log_has(want);
    log_has("denied: probe: socket() returned -1\n");
    snprintf(want, sizeof(want), "logged: not in its policy, allowed (@default log): socket (%d)",
             (int)SYS_socket);
    log_has(want);
    log_lacks("logged: probe: socket() returned -1\n");
    log_lacks("killed by signal");
    assert_int_equal(stop_supervisor(sv), 0);
    log_has("denied: stopped, 1 seccomp violations");
    log_has("logged: stopped, 1 seccomp violations");
}

/* A policy error is a config error: exit 2, the policy's FILE:LINE,
 * nothing started. */
static void test_bad_policy(void **state)
{
    (void)state;
    char policy[400], want[500];
    snprintf(policy, sizeof(policy), "%s/bad.policy", dir);
    FILE *f = fopen(policy, "w");
    assert_non_null(f);
    fprintf(f, "@default kill\n@include %s/base.policy\nread\nfrobnicate\n", env_path("UIPC_POLICIES"));
    fclose(f);
    write_conf("%s[module probe]\nexec = %s\npolicy = bad.policy\n", echo_section(), env_path("UIPC_PROBE"));
    assert_int_equal(supervisor_refuses(), 2);
    snprintf(want, sizeof(want), "%s:4: unknown syscall 'frobnicate'", policy);
    log_has(want);
    log_lacks("started");
}

/* A sandbox step that fails fails the start, naming the step; the
 * module never runs less confined than configured. */
static void test_step_fails(void **state)
{
    (void)state;
    /* more open files than the kernel allows anyone (fs.nr_open): EPERM */
    FILE *f = fopen("/proc/sys/fs/nr_open", "re");
    unsigned long nr_open = 1048576;
    if (f) {
        if (fscanf(f, "%lu", &nr_open) != 1)
            nr_open = 1048576;
        fclose(f);
    }
    write_conf("[module probe]\nexec = %s\npolicy = %s\nrlimits = nofile=%lu\nrestart = never\n",
               env_path("UIPC_PROBE"), env_path("UIPC_PROBE_POLICY"), nr_open + 1);
    pid_t sv = start_supervisor();
    wait_log("probe: not restarted", 1);
    char want[400];
    snprintf(want, sizeof(want), "probe: could not start %s: rlimits: Operation not permitted",
             env_path("UIPC_PROBE"));
    log_has(want);
    log_lacks("probe: started");
    log_lacks("probe: probe: done");
    assert_int_equal(stop_supervisor(sv), 0);
}

/* Under valgrind the defaults cannot run (its supervisor would get no
 * seccomp filter and no mount view: svtest.c, tests/valgrind.md), so the
 * tests of the defaults themselves run in the other builds only. */
static void skip_under_valgrind(void)
{
    if (svtest_valgrind()) {
        print_message("skipped under valgrind: the defaults need seccomp(2) and mount_setattr, which "
                      "valgrind 3.19 does not implement; the plain, ASan and TSan runs test them\n");
        skip();
    }
}

/* The escapes the escape probe tries: each must be refused; the ones the
 * seccomp policy refuses are named in the log. */
static const char *const escapes[] = {
    "tgkill the supervisor", "kill the supervisor", "rt_sigqueueinfo the supervisor",
    "tgkill a sibling", "kill a sibling", "open /etc/passwd for writing", "read /etc/shadow",
    "create a file in /etc", "open /proc/sys/kernel/core_pattern for writing",
    "open the supervisor's oom_score_adj for writing", "open a sibling's /proc/PID/mem",
    "ptrace the supervisor", "process_vm_writev to the supervisor", "setpriority of the supervisor",
    "fork", "socket", "map 64 GiB", NULL,
};
static const char *const denied_by_policy[] = { "tgkill", "kill", "rt_sigqueueinfo", "ptrace",
                                                "process_vm_writev", "setpriority", "clone", "socket",
                                                NULL };

static void expect_no_escape(void)
{
    wait_log("probe: escape: done", 1);
    char needle[160];
    /* In a sanitized build a module may fork (sanitizer.policy allows
     * clone outright, for LSan's tracer) and map terabytes (no default
     * address-space limit: the shadow memory needs it) */
    bool sanitized = getenv("UIPC_SANITIZED") != NULL;
    for (unsigned i = 0; escapes[i]; i++) {
        if (sanitized && (strcmp(escapes[i], "fork") == 0 || strcmp(escapes[i], "map 64 GiB") == 0))
            continue;
        snprintf(needle, sizeof(needle), "probe: escape: %s: refused (", escapes[i]);
        if (!strstr(read_log(), needle))
            fail_msg("not refused: %s\n%s", escapes[i], read_log());
    }
    for (unsigned i = 0; denied_by_policy[i]; i++) {
        if (sanitized && (strcmp(denied_by_policy[i], "clone") == 0 || strcmp(denied_by_policy[i], "ptrace") == 0))
            continue; /* sanitizer.policy allows them (LSan's tracer); the kernel refuses the ptrace */
        snprintf(needle, sizeof(needle), "probe: denied by seccomp: %s (", denied_by_policy[i]);
        log_has(needle);
    }
    if (!sanitized) {
        log_lacks("ESCAPED");
        log_has("probe: escape: done, 0 escaped");
    }
}

/* A module with no sandbox keys at all: its own uid, a read-only view,
 * default.policy, the default limits.  Every escape fails, the log names
 * what the policy refused, and the kernel's view agrees. */
static void test_escapes_default(void **state)
{
    (void)state;
    skip_under_valgrind();
    write_conf("[module echo]\nexec = %s\nprovides = echo\n"
               "[module probe]\nexec = %s\nconnects = echo\nafter = echo\n",
               env_path("UIPC_ECHO_SERVER"), env_path("UIPC_ESCAPE_PROBE"));
    pid_t sv = start_supervisor();
    expect_no_escape();
    pid_t p = latest_pid("probe");
    char uid[64];
    status_field(p, "Uid", uid, sizeof(uid));
    assert_true(atoi(uid) >= 61184 && atoi(uid) <= 65519);
    expect_status(p, "CapEff", "0000000000000000");
    expect_status(p, "CapPrm", "0000000000000000");
    expect_status(p, "CapBnd", "0000000000000000");
    expect_status(p, "CapAmb", "0000000000000000");
    expect_status(p, "NoNewPrivs", "1");
    expect_status(p, "Seccomp", "2");
    assert_int_equal(stop_supervisor(sv), 0);
}

/* The same from a supervisor that is not root: its modules run as its own
 * uid, and everything is still refused. */
static void test_escapes_nonroot(void **state)
{
    (void)state;
    skip_under_valgrind();
    const uid_t uid = 61183; /* just below dynamic_uids: nobody's, on a test machine */
    if (!uid_reaches(uid, env_path("UIPC_SUPERVISOR")) || !uid_reaches(uid, env_path("UIPC_ESCAPE_PROBE"))) {
        print_message("skipped: uid %u cannot reach the build tree (a checkout in a private directory)\n",
                      (unsigned)uid);
        skip();
    }
    /* its control socket, in a directory of its own */
    char own[400], sock[460];
    snprintf(own, sizeof(own), "%s/nonroot", dir);
    snprintf(sock, sizeof(sock), "%s/control.sock", own);
    assert_true(mkdir(own, 0755) == 0 || errno == EEXIST);
    assert_int_equal(chown(own, uid, uid), 0);
    write_conf("[supervisor]\ncontrol_socket = %s\n[module echo]\nexec = %s\nprovides = echo\n"
               "[module probe]\nexec = %s\nconnects = echo\nafter = echo\n",
               sock, env_path("UIPC_ECHO_SERVER"), env_path("UIPC_ESCAPE_PROBE"));
    pid_t sv = start_supervisor_as(uid);
    expect_no_escape();
    log_has("probe: runs as uid 61183, the supervisor's (not root: no uid of its own)");
    assert_int_equal(stop_supervisor(sv), 0);
}

/* A /proc/PID/limits value (soft) for a label such as "Max open files". */
static void limit_of(pid_t pid, const char *label, char *out, size_t len)
{
    char path[64], buf[4096] = "";
    snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
    FILE *f = fopen(path, "re");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *at = strstr(buf, label);
    if (!at || sscanf(at + strlen(label), " %63s", out) != 1)
        fail_msg("%s: no \"%s\"", path, label);
    (void)len;
}

/* uipcctl sandbox says what the kernel says: /proc/PID/status, the
 * namespaces, mountinfo's root and limits, for a module with the
 * defaults and for one given more. */
static void test_sandbox_report(void **state)
{
    (void)state;
    skip_under_valgrind();
    write_conf("[module echo]\nexec = %s\nprovides = echo\n"
               "[module loose]\nexec = %s\nuser = root\nnamespaces = none\npolicy = none\n"
               "capabilities = net_bind_service\nrlimits = nofile=77\nenv = PROBE=idle\n",
               env_path("UIPC_ECHO_SERVER"), env_path("UIPC_PROBE"));
    pid_t sv = start_supervisor();
    wait_log("loose: probe: done", 1);
    wait_log("echo: ready after", 1);
    /* /proc/PID/status key, and the report's */
    static const char *const keys[][2] = {
        { "Uid", "uid" }, { "Gid", "gid" }, { "CapEff", "cap_eff" }, { "CapBnd", "cap_bnd" }, { "CapAmb", "cap_amb" },
    };
    static const char *const modules[] = { "echo", "loose" };
    for (unsigned k = 0; k < 2; k++) {
        svtest_ctl_ok(svtest_ctl(5000, "--json", "sandbox", modules[k], NULL), "uipcctl sandbox");
        const char *json = svtest_ctl_out;
        pid_t p = latest_pid(modules[k]);
        assert_int_equal(json_num(json, "pid"), p);
        for (unsigned j = 0; j < sizeof(keys) / sizeof(keys[0]); j++) {
            char got[128], kernel[128];
            json_text(json, keys[j][1], got, sizeof(got));
            status_field(p, keys[j][0], kernel, sizeof(kernel));
            for (char *t = kernel; *t; t++)
                *t = *t == '\t' ? ' ' : *t;
            if (strcmp(got, kernel) != 0)
                fail_msg("%s %s: uipcctl says '%s', /proc says '%s'", modules[k], keys[j][1], got, kernel);
        }
        char nofile[64], got[64];
        limit_of(p, "Max open files", nofile, sizeof(nofile));
        const char *lim = strstr(json, "\"nofile\": {");
        assert_non_null(lim);
        json_text(lim, "soft", got, sizeof(got));
        assert_string_equal(got, nofile);
    }
    /* the defaults: not root, nothing kept, its own view, the default policy */
    svtest_ctl_ok(svtest_ctl(5000, "--json", "sandbox", "echo", NULL), "uipcctl sandbox echo");
    assert_null(strstr(svtest_ctl_out, "\"uid\": \"0 "));
    assert_non_null(strstr(svtest_ctl_out, "\"cap_eff\": \"0000000000000000\""));
    assert_int_equal(json_num(svtest_ctl_out, "no_new_privs"), 1);
    assert_int_equal(json_num(svtest_ctl_out, "seccomp"), 2);
    assert_non_null(strstr(svtest_ctl_out, "/default.policy\""));
    assert_non_null(strstr(svtest_ctl_out, "\"namespaces\": [\"mnt\", \"ipc\", \"uts\"]"));
    assert_non_null(strstr(svtest_ctl_out, "\"root_read_only\": true"));
    assert_non_null(strstr(svtest_ctl_out, "\"writable\": [\"/tmp\"]"));
    assert_non_null(strstr(svtest_ctl_out, "\"nproc\": {\"soft\": \"512\""));
    assert_non_null(strstr(svtest_ctl_out, "\"core\": {\"soft\": \"0\""));
    /* loosened: root, one capability, the host's view, no filter */
    svtest_ctl_ok(svtest_ctl(5000, "--json", "sandbox", "loose", NULL), "uipcctl sandbox loose");
    assert_non_null(strstr(svtest_ctl_out, "\"uid\": \"0 0 0 0\""));
    assert_non_null(strstr(svtest_ctl_out, "\"cap_eff\": \"0000000000000400\""));
    assert_int_equal(json_num(svtest_ctl_out, "seccomp"), 0);
    assert_non_null(strstr(svtest_ctl_out, "\"policy\": \"none\""));
    assert_non_null(strstr(svtest_ctl_out, "\"namespaces\": []"));
    assert_non_null(strstr(svtest_ctl_out, "\"nofile\": {\"soft\": \"77\""));
    /* and for a person */
    svtest_ctl_ok(svtest_ctl(5000, "sandbox", "echo", NULL), "uipcctl sandbox echo");
    assert_non_null(strstr(svtest_ctl_out, "root           read-only\n"));
    assert_int_not_equal(svtest_ctl(5000, "sandbox", "nosuch", NULL), 0);
    assert_int_equal(stop_supervisor(sv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_violation_named, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_proc_status, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_channels_unreachable, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_memory_rlimit, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_namespaces, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_death_before_init, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_user_namespace, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_default_errno_and_log, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_bad_policy, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_step_fails, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_escapes_default, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_escapes_nonroot, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_sandbox_report, svtest_kill_leftover),
    };
    return cmocka_run_group_tests(tests, svtest_setup, svtest_teardown);
}
