/* SPDX-License-Identifier: MIT */
/* The supervisor's control socket for real (supervisor/control.c and
 * sv-control.c): every command through uipcctl, run as a child process
 * whose output and exit status are checked; hostile clients on raw
 * AF_UNIX sockets (garbage, oversized and truncated frames, a slow writer,
 * a reader that never reads, too many connections, pipelined and empty
 * requests, another uid) while the modules keep serving undisturbed; and
 * the socket file's life (stale, 0600, a second supervisor, removal). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <linux/capability.h>

#include "control.h"
#include "ctl-wire.h"
#include "svtest.h"

/* (times svtest_slowdown(): under valgrind everything is slower) */
#define CTL_WAIT_MS svtest_ms(20000)        /* a uipcctl still running after this is stuck */
#define REPLY_WAIT_MS (int)svtest_ms(10000) /* for a raw reply */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- uipcctl as a child process ---- */

static char ctl_out[1 << 16], ctl_err[1 << 14]; /* the last run's stdout and stderr */

/* uipcctl [--socket sock] args...; its exit status (-1 when it did not
 * exit), its output in ctl_out and ctl_err.  Under valgrind (svtest.h) it
 * runs under it: an error is exit status 99, and the report in ctl_err. */
static int run_ctl(const char *sock, const char *const *args)
{
    const char *argv[24];
    int n = 0;
    argv[n++] = "uipcctl";
    if (sock) {
        argv[n++] = "--socket";
        argv[n++] = sock;
    }
    for (; *args && n < 23; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    bool timed_out;
    int st = svtest_capture(env_path("UIPC_UIPCCTL"), argv, true, CTL_WAIT_MS, ctl_out,
                            sizeof(ctl_out), ctl_err, sizeof(ctl_err), &timed_out);
    if (timed_out)
        fail_msg("uipcctl did not finish within %u ms", CTL_WAIT_MS);
    return st;
}

/* uipcctl --socket ctl_path ARGS... (NULL-terminated). */
__attribute__((sentinel)) static int ctl(const char *arg, ...)
{
    const char *args[20];
    int n = 0;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && n < 19; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return run_ctl(ctl_path, args);
}

/* The last uipcctl exited with want, or the test fails showing its output. */
static void expect_code(int got, int want)
{
    if (got != want)
        fail_msg("uipcctl exited with %d, expected %d\nstdout:\n%s\nstderr:\n%s", got, want,
                 ctl_out, ctl_err);
}

static void out_has(const char *needle)
{
    if (!strstr(ctl_out, needle))
        fail_msg("uipcctl's stdout lacks \"%s\":\n%s", needle, ctl_out);
}

static void err_has(const char *needle)
{
    if (!strstr(ctl_err, needle))
        fail_msg("uipcctl's stderr lacks \"%s\":\n%s", needle, ctl_err);
}

/* uipcctl --socket ctl_path status, started and not waited for; its
 * output goes nowhere. */
static pid_t spawn_status(void)
{
    const char *exe = env_path("UIPC_UIPCCTL");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
            _exit(126);
        svtest_exec(exe, (char *const[]){ "uipcctl", "--socket", ctl_path, "status", NULL });
    }
    return pid;
}

/* ---- the output ---- */

/* The table row (a line of ctl_out) that starts with "NAME ", copied. */
static void table_row(const char *name, char *row, size_t len)
{
    size_t nlen = strlen(name);
    for (const char *p = ctl_out; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
        if (strncmp(p, name, nlen) == 0 && p[nlen] == ' ') {
            snprintf(row, len, "%.*s", (int)strcspn(p, "\n"), p);
            return;
        }
    }
    fail_msg("no row for %s in:\n%s", name, ctl_out);
}

/* The header line names the columns in this order. */
static void header_has(const char *const *cols)
{
    char head[512];
    snprintf(head, sizeof(head), "%.*s", (int)strcspn(ctl_out, "\n"), ctl_out);
    const char *at = head;
    for (; *cols; cols++) {
        const char *p = strstr(at, *cols);
        if (!p)
            fail_msg("the header lacks %s (or has it out of order): %s", *cols, head);
        at = p + strlen(*cols);
    }
}

struct mod_st {
    char state[32], last_exit[96], last_reason[96];
    long long pid, uptime_ms, restarts, violations;
};

/* One module's line of uipcctl --json status. */
static void mod_status(const char *name, struct mod_st *m)
{
    char obj[1024];
    expect_code(ctl("--json", "status", NULL), 0);
    json_obj(ctl_out, "name", name, obj, sizeof(obj));
    json_text(obj, "state", m->state, sizeof(m->state));
    json_text(obj, "last_exit", m->last_exit, sizeof(m->last_exit));
    json_text(obj, "last_reason", m->last_reason, sizeof(m->last_reason));
    m->pid = json_num(obj, "pid");
    m->uptime_ms = json_num(obj, "uptime_ms");
    m->restarts = json_num(obj, "restarts");
    m->violations = json_num(obj, "violations");
}

/* Waits up to 10 s for the module to show state. */
static void wait_state(const char *name, const char *state, struct mod_st *m)
{
    for (int i = 0; i < 200; i++) {
        mod_status(name, m);
        if (strcmp(m->state, state) == 0)
            return;
        sleep_ms(50);
    }
    fail_msg("%s never became %s; the last status:\n%s\nthe log:\n%s", name, state, ctl_out,
             read_log());
}

struct chan_st {
    char client[32], server[32];
    long long slots, slot_size, calls, ok, peer_died, timed_out, proto, in_flight, free_slots,
        reclaimed, p50, p99, max;
};

/* The echo channel's line of uipcctl --json stats. */
static void echo_stats(struct chan_st *c)
{
    char obj[1024];
    expect_code(ctl("--json", "stats", NULL), 0);
    json_obj(ctl_out, "service", "echo", obj, sizeof(obj));
    json_text(obj, "client", c->client, sizeof(c->client));
    json_text(obj, "server", c->server, sizeof(c->server));
    c->slots = json_num(obj, "slots");
    c->slot_size = json_num(obj, "slot_size");
    c->calls = json_num(obj, "calls");
    c->ok = json_num(obj, "ok");
    c->peer_died = json_num(obj, "peer_died");
    c->timed_out = json_num(obj, "timed_out");
    c->proto = json_num(obj, "proto");
    c->in_flight = json_num(obj, "in_flight");
    c->free_slots = json_num(obj, "free_slots");
    c->reclaimed = json_num(obj, "reclaimed");
    c->p50 = json_num(obj, "latency_p50_ns");
    c->p99 = json_num(obj, "latency_p99_ns");
    c->max = json_num(obj, "latency_max_ns");
}

/* ---- configs ---- */

/* The echo server under its shipped strict policy, always restarted.
 * Under valgrind without the policy: valgrind 3.19 cannot run a supervisor
 * that loads seccomp filters (svtest_valgrind_cannot), no test here is
 * about the policy, and the control socket's code is what valgrind is to
 * see. */
static const char *echo_section(void)
{
    static char s[1024], policy[512];
    static bool told;
    policy[0] = '\0';
    if (!svtest_valgrind()) {
        snprintf(policy, sizeof(policy), "policy = %s/echo.policy\n", env_path("UIPC_POLICIES"));
    } else if (!told) {
        told = true;
        print_message("valgrind: echo runs without its seccomp policy in these tests, so that the "
                      "supervisor can run under valgrind\n");
    }
    snprintf(s, sizeof(s), "[module echo]\nexec = %s\n%sprovides = echo\nrestart = always\n",
             env_path("UIPC_ECHO_SERVER"), policy);
    return s;
}

/* The load client on echo for `seconds`; exits 0 only if every call it
 * issued completed exactly once and right. */
static const char *load_section(const char *seconds)
{
    static char s[1024];
    snprintf(s, sizeof(s),
             "[module load]\nexec = %s\nconnects = echo:32x256\nafter = echo\nrestart = never\n"
             "env = LOAD_SECONDS=%s\n",
             env_path("UIPC_LOAD_CLIENT"), seconds);
    return s;
}

/* ---- status, stats ---- */

/* The table and the JSON: every module, its state and pid; modules that
 * ended show how. */
static void test_status(void **state)
{
    (void)state;
    char echo_sec[1024];
    snprintf(echo_sec, sizeof(echo_sec), "%s", echo_section());
    write_conf("%s%s[module flaky]\nexec = /bin/false\nrestart = always\nmax_restarts = 0\n",
               echo_sec, load_section("0.3"));
    pid_t sv = start_supervisor();
    wait_log("echo: ready after", 1);
    pid_t echo = latest_pid("echo");
    char pid_s[16], row[512], name[32], st[32], pid_col[32];
    snprintf(pid_s, sizeof(pid_s), "%d", (int)echo);

    expect_code(ctl("status", NULL), 0);
    header_has((const char *const[]){ "NAME", "STATE", "PID", "UPTIME", "RESTARTS", NULL });
    table_row("echo", row, sizeof(row));
    assert_int_equal(sscanf(row, "%31s %31s %31s", name, st, pid_col), 3);
    assert_string_equal(st, "ready");
    assert_string_equal(pid_col, pid_s);
    table_row("load", row, sizeof(row));
    table_row("flaky", row, sizeof(row));

    /* the socket found through the config, as an operator would */
    expect_code(run_ctl(NULL, (const char *const[]){ "--config", conf_path, "status", NULL }), 0);
    table_row("echo", row, sizeof(row));

    struct mod_st m;
    expect_code(ctl("--json", "status", NULL), 0);
    out_has("\"name\": \"echo\"");
    out_has("\"state\": \"ready\"");
    mod_status("echo", &m);
    assert_string_equal(m.state, "ready");
    assert_int_equal(m.pid, echo);
    assert_int_equal(m.restarts, 0);
    assert_int_equal(m.violations, 0);
    assert_string_equal(m.last_exit, "");

    /* the load client ran out its time; flaky failed once and was given up */
    wait_log("load: exited with code 0", 1);
    wait_log("flaky: given up", 1);
    wait_state("load", "stopped", &m);
    assert_int_equal(m.pid, 0);
    assert_int_equal(m.uptime_ms, 0);
    assert_string_equal(m.last_exit, "exited with code 0");
    wait_state("flaky", "failed", &m);
    assert_int_equal(m.pid, 0);
    assert_string_equal(m.last_exit, "exited with code 1");
    mod_status("echo", &m);
    assert_int_equal(m.pid, echo);
    assert_true(m.uptime_ms > 0);

    expect_code(ctl("status", NULL), 0);
    table_row("load", row, sizeof(row));
    assert_int_equal(sscanf(row, "%31s %31s %31s", name, st, pid_col), 3);
    assert_string_equal(st, "stopped");
    assert_string_equal(pid_col, "-");
    assert_non_null(strstr(row, "exited with code 0"));
    table_row("flaky", row, sizeof(row));
    assert_int_equal(sscanf(row, "%31s %31s %31s", name, st, pid_col), 3);
    assert_string_equal(st, "failed");
    assert_string_equal(pid_col, "-");
    assert_non_null(strstr(row, "exited with code 1"));
    assert_int_equal(stop_supervisor(sv), 0);
}

/* The channel's counters while the load client runs, and exact at its
 * end: every issued call completed ok, no slot left in flight. */
static void test_stats(void **state)
{
    (void)state;
    char echo_sec[1024];
    snprintf(echo_sec, sizeof(echo_sec), "%s", echo_section());
    write_conf("%s%s", echo_sec, load_section("3"));
    pid_t sv = start_supervisor();
    wait_log("load: ready after", 1);
    pid_t echo = latest_pid("echo");

    struct chan_st c = { 0 };
    long long seen = 0;
    for (int i = 0; i < 200; i++) { /* the client samples one call in 16 */
        echo_stats(&c);
        assert_true(c.calls >= seen); /* never goes back */
        seen = c.calls;
        if (c.calls > 0 && c.ok > 0 && c.p50 > 0)
            break;
        sleep_ms(50);
    }
    if (!(c.calls > 0 && c.ok > 0 && c.p50 > 0))
        fail_msg("no calls, or no latency, counted while the client ran:\n%s", ctl_out);
    assert_string_equal(c.client, "load");
    assert_string_equal(c.server, "echo");
    assert_int_equal(c.slots, 32);
    assert_true(c.slot_size >= 256);
    /* (ok is read after calls, so it may count calls issued since: no
     * ok <= calls while the client runs) */
    assert_true(c.p99 >= c.p50); /* one snapshot of the histogram */
    assert_true(c.max >= c.p99);
    assert_true(c.free_slots <= c.slots);

    expect_code(ctl("stats", NULL), 0);
    header_has((const char *const[]){ "SERVICE", "CLIENT", "SERVER", "CALLS", "OK", "P50", NULL });
    char row[512], svc[32], cl[32], srv[32];
    long long calls;
    table_row("echo", row, sizeof(row));
    assert_int_equal(sscanf(row, "%31s %31s %31s %lld", svc, cl, srv, &calls), 4);
    assert_string_equal(cl, "load");
    assert_string_equal(srv, "echo");
    assert_true(calls >= seen);

    wait_log("load: exited with code", 1);
    log_has("load: exited with code 0");
    echo_stats(&c);
    assert_true(c.calls >= seen);
    assert_int_equal(c.ok, c.calls);
    assert_int_equal(c.peer_died, 0);
    assert_int_equal(c.timed_out, 0);
    assert_int_equal(c.proto, 0);
    assert_int_equal(c.reclaimed, 0);
    assert_int_equal(c.in_flight, 0);
    assert_int_equal(c.free_slots, c.slots);
    assert_true(c.p50 > 0);
    assert_int_equal(latest_pid("echo"), echo);
    assert_int_equal(stop_supervisor(sv), 0);
}

/* ---- stop, start, restart, kill ---- */

/* stop: the module ends and stays down whatever its restart policy;
 * start: it runs again. */
static void test_stop_start(void **state)
{
    (void)state;
    write_conf("%s", echo_section());
    pid_t sv = start_supervisor();
    wait_log("echo: ready after", 1);
    pid_t old = latest_pid("echo");

    expect_code(ctl("stop", "echo", NULL), 0);
    wait_log("echo: stopped by the operator", 1);
    expect_gone(old);
    struct mod_st m;
    wait_state("echo", "stopped", &m);
    assert_int_equal(m.pid, 0);
    assert_int_equal(m.uptime_ms, 0);
    expect_code(ctl("status", NULL), 0);
    char row[512], name[32], st[32], pid_col[32];
    table_row("echo", row, sizeof(row));
    assert_int_equal(sscanf(row, "%31s %31s %31s", name, st, pid_col), 3);
    assert_string_equal(st, "stopped");
    assert_string_equal(pid_col, "-");
    sleep_ms(500); /* restart = always, backoff 100 ms: it would be back by now */
    assert_int_equal(count(read_log(), "echo: started, pid"), 1);
    log_lacks("echo: restart in");
    mod_status("echo", &m);
    assert_string_equal(m.state, "stopped");

    /* stopping what is stopped is no error; killing it is */
    expect_code(ctl("stop", "echo", NULL), 0);
    expect_code(ctl("kill", "echo", NULL), 1);
    err_has("echo is not running");

    expect_code(ctl("--json", "start", "echo", NULL), 0);
    out_has("{\"ok\": true}");
    wait_log("echo: started, pid", 2);
    log_has("echo: started by the operator");
    pid_t now = latest_pid("echo");
    assert_int_not_equal(now, old);
    wait_state("echo", "ready", &m);
    assert_int_equal(m.pid, now);
    assert_int_equal(kill(now, 0), 0);

    /* starting what runs is refused, and changes nothing */
    expect_code(ctl("start", "echo", NULL), 1);
    char want[64];
    snprintf(want, sizeof(want), "echo is running (pid %d)", (int)now);
    err_has(want);
    assert_int_equal(count(read_log(), "echo: started, pid"), 2);
    assert_int_equal(stop_supervisor(sv), 0);
    expect_gone(now);
}

/* restart: a new process at once (no backoff), the old one gone; of a
 * stopped module: a start. */
static void test_restart(void **state)
{
    (void)state;
    write_conf("[supervisor]\nshutdown_timeout_ms = 2000\n%s", echo_section());
    pid_t sv = start_supervisor();
    wait_log("echo: ready after", 1);
    pid_t old = latest_pid("echo");

    expect_code(ctl("restart", "echo", NULL), 0);
    wait_log("echo: started, pid", 2);
    pid_t now = latest_pid("echo");
    assert_int_not_equal(now, old);
    expect_gone(old);
    log_has("echo: restarted by the operator");
    log_has("echo: exited with code 0"); /* asked to stop, it stopped itself */
    log_lacks("echo: restart in");
    log_lacks("stopped by the operator");
    struct mod_st m;
    wait_state("echo", "ready", &m);
    assert_int_equal(m.pid, now);
    assert_int_equal(m.restarts, 1);

    expect_code(ctl("stop", "echo", NULL), 0);
    wait_log("echo: stopped by the operator", 1);
    expect_gone(now);
    expect_code(ctl("restart", "echo", NULL), 0);
    wait_log("echo: started, pid", 3);
    log_has("echo: started by the operator");
    assert_int_not_equal(latest_pid("echo"), now);
    wait_state("echo", "ready", &m);
    assert_int_equal(m.pid, latest_pid("echo"));
    log_lacks("echo: restart in");
    assert_int_equal(stop_supervisor(sv), 0);
}

/* Under a sanitizer a module's runtime catches SIGSEGV and reports it
 * instead of dying by it: ask it not to, for the supervisor started here
 * and so for its modules (they inherit its environment). */
static pid_t start_supervisor_segv_default(void)
{
    static const char *const vars[] = { "ASAN_OPTIONS", "TSAN_OPTIONS" };
    char *saved[2] = { NULL, NULL };
    bool sanitized = getenv("UIPC_SANITIZED") != NULL;
    for (int k = 0; sanitized && k < 2; k++) {
        const char *old = getenv(vars[k]);
        char *val;
        saved[k] = old ? strdup(old) : NULL;
        assert_true(asprintf(&val, "%s%shandle_segv=0", old ? old : "", old && *old ? ":" : "") > 0);
        setenv(vars[k], val, 1);
        free(val);
    }
    pid_t sv = start_supervisor();
    for (int k = 0; sanitized && k < 2; k++) {
        if (saved[k])
            setenv(vars[k], saved[k], 1);
        else
            unsetenv(vars[k]);
        free(saved[k]);
    }
    return sv;
}

/* kill: the signal reaches the module; its death is handled like any
 * other (restart = always: backoff, then a new process). */
static void test_kill(void **state)
{
    (void)state;
    write_conf("%s", echo_section());
    pid_t sv = start_supervisor_segv_default();
    wait_log("echo: ready after", 1);
    pid_t first = latest_pid("echo");
    char want[96];

    expect_code(ctl("kill", "echo", "--signal", "SEGV", NULL), 0);
    snprintf(want, sizeof(want), "echo: SIGSEGV sent by the operator to pid %d", (int)first);
    wait_log(want, 1);
    wait_log("echo: killed by signal SIGSEGV", 1);
    wait_log("echo: started, pid", 2);
    log_has("echo: restart in 100 ms"); /* the policy's restart, with its backoff */
    log_lacks("stopped by the operator");
    expect_gone(first);
    pid_t second = latest_pid("echo");
    assert_int_not_equal(second, first);
    struct mod_st m;
    wait_state("echo", "ready", &m);
    assert_int_equal(m.pid, second);
    assert_int_equal(m.restarts, 1);
    assert_string_equal(m.last_exit, "killed by signal SIGSEGV");

    expect_code(ctl("kill", "echo", NULL), 0); /* SIGKILL */
    snprintf(want, sizeof(want), "echo: SIGKILL sent by the operator to pid %d", (int)second);
    wait_log(want, 1);
    wait_log("echo: killed by signal SIGKILL", 1);
    wait_log("echo: started, pid", 3);
    expect_gone(second);
    wait_state("echo", "ready", &m);
    assert_int_equal(m.pid, latest_pid("echo"));
    assert_int_equal(m.restarts, 2);
    assert_string_equal(m.last_exit, "killed by signal SIGKILL");
    assert_int_equal(stop_supervisor(sv), 0);
}

/* kill with a real-time signal, which has no abbreviation (sigabbrev_np
 * gives NULL): delivered, and named SIGRTMIN+N in the log and the status,
 * never "(null)". */
static void test_kill_realtime(void **state)
{
    (void)state;
    write_conf("%s", echo_section());
    pid_t sv = start_supervisor();
    wait_log("echo: ready after", 1);
    pid_t first = latest_pid("echo");
    char sig[16], want[96];
    snprintf(sig, sizeof(sig), "%d", SIGRTMIN + 6);

    expect_code(ctl("kill", "echo", "--signal", sig, NULL), 0);
    wait_log("sent by the operator to pid", 1);
    snprintf(want, sizeof(want), "echo: SIGRTMIN+6 sent by the operator to pid %d", (int)first);
    log_has(want);
    wait_log("echo: killed by signal SIGRTMIN+6", 1);
    wait_log("echo: started, pid", 2);
    expect_gone(first);
    log_lacks("(null)");
    struct mod_st m;
    wait_state("echo", "ready", &m);
    assert_string_equal(m.last_exit, "killed by signal SIGRTMIN+6");
    assert_int_equal(stop_supervisor(sv), 0);
}

/* kill of a module in a pid namespace: the signal goes to the module
 * (pid 2 inside), not to its init, and the init passes its death on. */
static void test_kill_pidns(void **state)
{
    (void)state;
    write_conf("%snamespaces = pid, mount\n", echo_section());
    pid_t sv = start_supervisor_segv_default();
    wait_log("echo: ready after", 1);
    pid_t init = latest_pid("echo");
    char want[96];

    expect_code(ctl("kill", "echo", "--signal", "SIGSEGV", NULL), 0);
    wait_log("echo: SIGSEGV sent by the operator to pid ", 1);
    snprintf(want, sizeof(want), "echo: SIGSEGV sent by the operator to pid %d\n", (int)init);
    log_lacks(want); /* not to the init, which would not die of it */
    wait_log("echo: killed by signal SIGSEGV", 1);
    wait_log("echo: started, pid", 2);
    expect_gone(init);
    struct mod_st m;
    wait_state("echo", "ready", &m);
    assert_int_equal(m.pid, latest_pid("echo"));
    assert_string_equal(m.last_exit, "killed by signal SIGSEGV");

    init = latest_pid("echo");
    expect_code(ctl("kill", "echo", NULL), 0);
    wait_log("echo: killed by signal SIGKILL", 1);
    wait_log("echo: started, pid", 3);
    expect_gone(init);
    assert_int_equal(count(read_log(), "echo: SIGKILL sent by the operator"), 1);
    assert_int_equal(stop_supervisor(sv), 0);
}

/* ---- raw sockets ---- */

static int dial(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    assert_true(strlen(ctl_path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, ctl_path, strlen(ctl_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        fail_msg("connect %s: %s", ctl_path, strerror(errno));
    return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        struct pollfd pf = { .fd = fd, .events = POLLOUT };
        int r = poll(&pf, 1, REPLY_WAIT_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != 1)
            fail_msg("the supervisor takes no more bytes");
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            fail_msg("send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* A length header announcing len. */
static void send_hdr(int fd, uint32_t len)
{
    uint8_t h[CTL_HDR] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                           (uint8_t)(len >> 24) };
    send_all(fd, h, sizeof(h));
}

/* A packed, framed Request for status or stats. */
static uint8_t *pack_cmd(Uipc__Control__Request__CommandCase cmd, size_t *len)
{
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__StatusRequest status = UIPC__CONTROL__STATUS_REQUEST__INIT;
    Uipc__Control__StatsRequest stats = UIPC__CONTROL__STATS_REQUEST__INIT;
    req.command_case = cmd;
    if (cmd == UIPC__CONTROL__REQUEST__COMMAND_STATUS)
        req.status = &status;
    else
        req.stats = &stats;
    uint8_t *buf;
    assert_int_equal(ctl_wire_pack(&req.base, &buf, len), 0);
    return buf;
}

static void send_cmd(int fd, Uipc__Control__Request__CommandCase cmd)
{
    size_t len;
    uint8_t *buf = pack_cmd(cmd, &len);
    send_all(fd, buf, len);
    free(buf);
}

static void send_kill(int fd, const char *module, int sig)
{
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__KillRequest k = UIPC__CONTROL__KILL_REQUEST__INIT;
    req.command_case = UIPC__CONTROL__REQUEST__COMMAND_KILL;
    req.kill = &k;
    k.module = (char *)module;
    k.signal = sig;
    assert_int_equal(ctl_wire_send(fd, &req.base, REPLY_WAIT_MS), 0);
}

static Uipc__Control__Reply *recv_reply(int fd)
{
    ProtobufCMessage *m = NULL;
    int r = ctl_wire_recv(fd, &uipc__control__reply__descriptor, &m, REPLY_WAIT_MS);
    if (r < 0)
        fail_msg("no reply on the control socket: %s", strerror(-r));
    return (Uipc__Control__Reply *)m;
}

/* A Reply with ok == false whose error says why. */
static void expect_refusal(int fd, const char *why)
{
    Uipc__Control__Reply *rep = recv_reply(fd);
    if (rep->ok || !rep->error || !strstr(rep->error, why))
        fail_msg("expected a refusal saying \"%s\", got ok = %d, error = \"%s\"", why, rep->ok,
                 rep->error ? rep->error : "");
    uipc__control__reply__free_unpacked(rep, NULL);
}

static pid_t hostile_echo; /* the echo server, which no client may disturb */

/* A good status Reply: every module, echo with its pid. */
static void expect_status_reply(int fd)
{
    Uipc__Control__Reply *rep = recv_reply(fd);
    assert_true(rep->ok);
    assert_int_equal(rep->n_modules, 2);
    assert_int_equal(rep->n_channels, 0);
    assert_string_equal(rep->modules[0]->name, "echo");
    assert_string_equal(rep->modules[1]->name, "load");
    assert_int_equal(rep->modules[0]->pid, hostile_echo);
    uipc__control__reply__free_unpacked(rep, NULL);
}

static void expect_stats_reply(int fd)
{
    Uipc__Control__Reply *rep = recv_reply(fd);
    assert_true(rep->ok);
    assert_int_equal(rep->n_modules, 0);
    assert_int_equal(rep->n_channels, 1);
    assert_string_equal(rep->channels[0]->service, "echo");
    assert_string_equal(rep->channels[0]->client, "load");
    uipc__control__reply__free_unpacked(rep, NULL);
}

/* The supervisor closed the connection (after any replies already read):
 * within timeout_ms, recv returns 0. */
static void expect_closed(int fd, int timeout_ms)
{
    struct pollfd pf = { .fd = fd, .events = POLLIN };
    int r;
    while ((r = poll(&pf, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (r != 1)
        fail_msg("the connection is still open after %d ms", timeout_ms);
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    if (n != 0)
        fail_msg("expected the connection closed; recv returned %zd (%s)", n,
                 n < 0 ? strerror(errno) : "data");
}

static void expect_open(int fd)
{
    struct pollfd pf = { .fd = fd, .events = POLLIN };
    if (poll(&pf, 1, 0) != 0)
        fail_msg("the connection was closed (or got data): revents %#x", (unsigned)pf.revents);
}

/* Whether the UNIX socket with this inode is a stream socket (the control
 * socket and its connections; bells are datagram sockets), from
 * /proc/PID/net/unix: "Num RefCount Protocol Flags Type St Inode Path". */
static bool stream_socket(pid_t sv, unsigned long inode)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/net/unix", (int)sv);
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    bool stream = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned type;
        unsigned long ino;
        if (sscanf(line, "%*s %*s %*s %*s %x %*s %lu", &type, &ino) == 2 && ino == inode) {
            stream = type == 1; /* SOCK_STREAM */
            break;
        }
    }
    fclose(f);
    return stream;
}

/* The supervisor's open stream sockets: its listener, and one per
 * connection. */
static int sv_sockets(pid_t sv)
{
    char path[64], fd_path[320], link[128];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)sv);
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        snprintf(fd_path, sizeof(fd_path), "%s/%s", path, e->d_name);
        ssize_t len = readlink(fd_path, link, sizeof(link) - 1);
        unsigned long inode;
        if (len > 0) {
            link[len] = '\0';
            n += sscanf(link, "socket:[%lu]", &inode) == 1 && stream_socket(sv, inode);
        }
    }
    closedir(d);
    return n;
}

/* Within 3 s the supervisor holds want sockets: the connections closed
 * on our side are closed on its side too. */
static void expect_sockets(pid_t sv, int want)
{
    int n = 0;
    pid_t worker = svtest_supervisor_pid(sv); /* sv is the keeper: the sockets are its child's */
    for (int i = 0; i < 300 && (n = sv_sockets(worker)) != want; i++)
        sleep_ms(10);
    if (n != want)
        fail_msg("the supervisor holds %d sockets, expected %d (its listener and %d connections)",
                 n, want, want - 1);
}

/* CPU time the process has used, in ms. */
static uint64_t cpu_ms(pid_t pid)
{
    char path[64];
    unsigned long ut = 0, st = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    char line[1024];
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    assert_non_null(got);
    const char *p = strrchr(line, ')'); /* after the command name */
    assert_non_null(p);
    assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
    return (uint64_t)(ut + st) * 1000 / (uint64_t)sysconf(_SC_CLK_TCK);
}

/* echo and the load client, which run through every hostile test. */
static pid_t hostile_begin(void)
{
    char echo_sec[1024];
    snprintf(echo_sec, sizeof(echo_sec), "%s", echo_section());
    write_conf("%s%s", echo_sec, load_section("2"));
    pid_t sv = start_supervisor();
    wait_log("load: ready after", 1);
    hostile_echo = latest_pid("echo");
    return sv;
}

/* Nothing the hostile client did reached the modules, and the control
 * socket still serves. */
static void hostile_end(pid_t sv)
{
    expect_code(ctl("status", NULL), 0);
    char row[512];
    table_row("echo", row, sizeof(row));
    wait_log("load: exited with code", 1);
    log_has("load: exited with code 0");
    assert_int_equal(latest_pid("echo"), hostile_echo);
    assert_int_equal(count(read_log(), "echo: started, pid"), 1);
    assert_int_equal(kill(hostile_echo, 0), 0);
    struct mod_st m;
    mod_status("echo", &m);
    assert_string_equal(m.state, "ready");
    assert_int_equal(m.pid, hostile_echo);
    log_lacks("Sanitizer");
    expect_sockets(sv, 1); /* the listener alone */
    assert_int_equal(stop_supervisor(sv), 0);
}

/* a. A frame whose body is not a Request: an error Reply, then the
 * connection is closed; also after a good request on the same one. */
static void test_garbage(void **state)
{
    (void)state;
    static const uint8_t junk[][8] = {
        { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, /* an endless varint */
        { 0x0a, 0x7f, 0, 0, 0, 0, 0, 0 },                   /* status, 127 bytes long */
        { 0, 0, 0, 0, 0, 0, 0, 0 },                         /* field 0 */
        { 0x0f, 1, 2, 3, 4, 5, 6, 7 },                      /* wire type 7 */
    };
    pid_t sv = hostile_begin();
    for (size_t k = 0; k < sizeof(junk) / sizeof(junk[0]); k++) {
        int fd = dial();
        send_hdr(fd, sizeof(junk[k]));
        send_all(fd, junk[k], sizeof(junk[k]));
        expect_refusal(fd, "not a uipc.control.Request");
        expect_closed(fd, 3000);
        close(fd);
    }
    int fd = dial();
    send_cmd(fd, UIPC__CONTROL__REQUEST__COMMAND_STATUS);
    expect_status_reply(fd);
    send_hdr(fd, 8);
    send_all(fd, junk[0], 8);
    expect_refusal(fd, "bad request");
    expect_closed(fd, 3000);
    close(fd);
    hostile_end(sv);
}

/* b. A header announcing more than CTL_MAX_MSG: refused before any body
 * is read, and closed; exactly CTL_MAX_MSG is served. */
static void test_oversized(void **state)
{
    (void)state;
    static const uint32_t sizes[] = { 0xFFFFFFFFu, CTL_MAX_MSG + 1, 0x80000000u };
    pid_t sv = hostile_begin();
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        int fd = dial();
        send_hdr(fd, sizes[k]);
        expect_refusal(fd, "larger than 1 MiB");
        expect_closed(fd, 3000);
        close(fd);
    }
    /* a status request padded to exactly 1 MiB with an unknown field 15:
     * tag, a 3-byte length, the padding, then status {} */
    size_t pad = CTL_MAX_MSG - 1 - 3 - 2;
    uint8_t *msg = calloc(1, CTL_HDR + CTL_MAX_MSG);
    assert_non_null(msg);
    uint8_t *p = msg + CTL_HDR;
    *p++ = 15 << 3 | 2;
    *p++ = (uint8_t)(pad | 0x80);
    *p++ = (uint8_t)(pad >> 7 | 0x80);
    *p++ = (uint8_t)(pad >> 14);
    p += pad;
    *p++ = 0x0a;
    *p++ = 0x00;
    assert_int_equal(p - msg, CTL_HDR + CTL_MAX_MSG);
    for (int i = 0; i < CTL_HDR; i++)
        msg[i] = (uint8_t)(CTL_MAX_MSG >> (8 * i));
    int fd = dial();
    send_all(fd, msg, CTL_HDR + CTL_MAX_MSG);
    free(msg);
    expect_status_reply(fd);
    send_cmd(fd, UIPC__CONTROL__REQUEST__COMMAND_STATS); /* still open */
    expect_stats_reply(fd);
    close(fd);
    hostile_end(sv);
}

/* c. Requests cut short: nothing is answered, nothing breaks. */
static void test_truncated(void **state)
{
    (void)state;
    static const uint8_t ten[10] = { 0x0a, 0x00, 1, 2, 3, 4, 5, 6, 7, 8 };
    pid_t sv = hostile_begin();
    int fd = dial(); /* 10 of 100 bytes, then gone */
    send_hdr(fd, 100);
    send_all(fd, ten, sizeof(ten));
    close(fd);
    fd = dial(); /* half a header */
    send_all(fd, ten, 2);
    close(fd);
    close(dial()); /* nothing at all */
    /* 10 of 100 bytes and the writing side shut: closed without a reply */
    fd = dial();
    send_hdr(fd, 100);
    send_all(fd, ten, sizeof(ten));
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    expect_closed(fd, 3000);
    close(fd);
    /* whole requests, gone before their replies can be sent */
    for (int k = 0; k < 20; k++) {
        fd = dial();
        send_cmd(fd, k % 2 ? UIPC__CONTROL__REQUEST__COMMAND_STATUS
                           : UIPC__CONTROL__REQUEST__COMMAND_STATS);
        close(fd);
    }
    fd = dial();
    send_cmd(fd, UIPC__CONTROL__REQUEST__COMMAND_STATUS);
    expect_status_reply(fd);
    close(fd);
    hostile_end(sv);
}

/* d. Requests begun and never finished are dropped CTL_IO_TIMEOUT_MS
 * after their first byte: 2 bytes of a header; a header and part of the
 * body; a byte a second (which must not keep it alive).  So is a client
 * that sends requests but never reads the replies.  Meanwhile others are
 * served at once, and the supervisor sleeps. */
static void test_slow(void **state)
{
    (void)state;
    enum { SLOW, PARTIAL, TRICKLE, NSLOW };
    static const char *const what[NSLOW] = { "2 header bytes", "a partial body", "a trickle" };
    static const uint8_t trickle_bytes[] = { 100, 0, 0, 0, 0x0a, 0x00, 1, 2, 3, 4, 5, 6, 7, 8 };
    pid_t sv = hostile_begin();
    int fd[NSLOW];
    for (int k = 0; k < NSLOW; k++)
        fd[k] = dial();
    send_all(fd[SLOW], "\x06\x00", 2);
    send_hdr(fd[PARTIAL], 100);
    send_all(fd[PARTIAL], trickle_bytes + 4, 10);
    send_all(fd[TRICKLE], trickle_bytes, 1);
    size_t trickled = 1;
    uint64_t t0 = now_ms();

    /* 20000 status requests in as few writes as the socket takes */
    size_t one, total = 0;
    uint8_t *req = pack_cmd(UIPC__CONTROL__REQUEST__COMMAND_STATUS, &one);
    size_t nreq = 20000, len = nreq * one;
    uint8_t *flood = malloc(len);
    assert_non_null(flood);
    for (size_t k = 0; k < nreq; k++)
        memcpy(flood + k * one, req, one);
    free(req);
    int deaf = dial();
    for (;;) {
        ssize_t n = send(deaf, flood + total, len - total, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            total += (size_t)n;
        if (total == len || (n < 0 && errno != EINTR && errno != EAGAIN))
            break;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pf = { .fd = deaf, .events = POLLOUT };
            if (poll(&pf, 1, 300) == 0)
                break; /* the supervisor stopped reading: its replies are stuck */
        }
    }
    free(flood);
    uint64_t t1 = now_ms();
    assert_true(total > 0);

    /* the others are served while all are pending */
    expect_code(ctl("status", NULL), 0);
    out_has("echo");
    int other = dial();
    send_cmd(other, UIPC__CONTROL__REQUEST__COMMAND_STATUS);
    expect_status_reply(other);
    close(other);
    for (int k = 0; k < NSLOW; k++)
        expect_open(fd[k]);
    expect_sockets(sv, 2 + NSLOW); /* the listener, the deaf one and the slow ones */

    /* each closed 5 to 8 s after its first byte; the trickle gets a byte a
     * second meanwhile */
    uint64_t cpu0 = cpu_ms(sv), wall0 = now_ms(), closed_at[NSLOW] = { 0 };
    uint64_t next_byte = t0 + 1000, end = t0 + 8000;
    int open_left = NSLOW;
    for (uint64_t now; open_left && (now = now_ms()) < end;) {
        struct pollfd pf[NSLOW];
        for (int k = 0; k < NSLOW; k++)
            pf[k] = (struct pollfd){ .fd = closed_at[k] ? -1 : fd[k], .events = POLLIN };
        uint64_t until = next_byte < end ? next_byte : end;
        if (poll(pf, NSLOW, until > now ? (int)(until - now) : 0) < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        for (int k = 0; k < NSLOW; k++) {
            if (pf[k].fd < 0 || !pf[k].revents)
                continue;
            char c;
            ssize_t n = recv(fd[k], &c, 1, MSG_DONTWAIT);
            /* A close with our last byte still unread reaches us as a
             * reset (AF_UNIX: unix_release_sock): the trickle's byte a
             * second can land just before the supervisor's deadline. */
            bool reset = n < 0 && errno == ECONNRESET && k == TRICKLE;
            if (n != 0 && !reset)
                fail_msg("%s: recv returned %zd (%s), not the close", what[k], n,
                         n < 0 ? strerror(errno) : "data");
            closed_at[k] = now_ms();
            open_left--;
        }
        if (now_ms() >= next_byte) {
            if (!closed_at[TRICKLE] && trickled < sizeof(trickle_bytes))
                (void)send(fd[TRICKLE], trickle_bytes + trickled++, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            next_byte += 1000;
        }
    }
    uint64_t cpu = cpu_ms(sv) - cpu0, wall = now_ms() - wall0;
    for (int k = 0; k < NSLOW; k++) {
        if (!closed_at[k])
            fail_msg("%s: still open 8 s after its first byte", what[k]);
        if (closed_at[k] - t0 < CTL_IO_TIMEOUT_MS - 500)
            fail_msg("%s: dropped after %llu ms, before the %d ms timeout", what[k],
                     (unsigned long long)(closed_at[k] - t0), CTL_IO_TIMEOUT_MS);
        close(fd[k]);
    }
    if (cpu > wall / 4 + 100)
        fail_msg("the supervisor used %llu ms of CPU in %llu ms with slow clients",
                 (unsigned long long)cpu, (unsigned long long)wall);

    /* the deaf one: hung up on within 8 s of its last request; the replies
     * sent until then are there to read */
    struct pollfd pf = { .fd = deaf, .events = 0 };
    int left = (int)(t1 + 8000 - now_ms());
    assert_int_equal(poll(&pf, 1, left > 0 ? left : 0), 1);
    assert_true(pf.revents & (POLLHUP | POLLERR));
    expect_status_reply(deaf);
    close(deaf);
    hostile_end(sv);
}

/* e. 100 connections at once: 64 are kept, the rest closed; once they are
 * gone, 20 uipcctl at once are all served. */
static void test_many_clients(void **state)
{
    (void)state;
    enum { N = 100, PAR = 20 };
    _Static_assert(CTL_MAX_CLIENTS == 64 && CTL_MAX_CLIENTS < N, "the server keeps 64");
    int fd[N];
    bool closed[N] = { false };
    int nclosed = 0;
    pid_t sv = hostile_begin();
    for (int k = 0; k < N; k++)
        fd[k] = dial();
    for (int i = 0; i < 500 && nclosed < N - CTL_MAX_CLIENTS; i++) {
        for (int k = 0; k < N; k++) {
            struct pollfd pf = { .fd = fd[k], .events = POLLIN };
            if (closed[k] || poll(&pf, 1, 0) != 1)
                continue;
            char c;
            ssize_t n = recv(fd[k], &c, 1, MSG_DONTWAIT);
            if (n != 0)
                fail_msg("connection %d: recv returned %zd (%s), not the close", k, n,
                         n < 0 ? strerror(errno) : "data");
            closed[k] = true;
            nclosed++;
        }
        sleep_ms(10);
    }
    assert_int_equal(nclosed, N - CTL_MAX_CLIENTS);
    sleep_ms(200);
    for (int k = 0; k < N; k++)
        if (!closed[k])
            expect_open(fd[k]);
    expect_sockets(sv, 1 + CTL_MAX_CLIENTS);
    /* refusals are logged at most once a second, with their count */
    wait_log("control: more than 64 connections; ", 1);
    /* another process still gets in: the oldest connection of the peer
     * holding the most makes room, so one flooder cannot lock out the
     * operator (control.c, free_entry) */
    expect_code(ctl("status", NULL), 0);
    /* the newest that was kept is served */
    for (int k = N; k-- > 0;)
        if (!closed[k]) {
            send_cmd(fd[k], UIPC__CONTROL__REQUEST__COMMAND_STATUS);
            expect_status_reply(fd[k]);
            break;
        }
    for (int k = 0; k < N; k++)
        close(fd[k]);

    expect_sockets(sv, 1); /* all seen closed: room for everyone again */
    expect_code(ctl("status", NULL), 0);
    pid_t pid[PAR];
    for (int k = 0; k < PAR; k++)
        pid[k] = spawn_status();
    int failed = 0;
    for (int k = 0; k < PAR; k++) {
        int st;
        assert_int_equal(waitpid(pid[k], &st, 0), pid[k]);
        failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    if (failed)
        fail_msg("%d of %d concurrent uipcctl status failed", failed, PAR);
    hostile_end(sv);
}

/* f. Requests written back to back in one write, or a byte at a time:
 * one Reply each, in order. */
static void test_pipelining(void **state)
{
    (void)state;
    pid_t sv = hostile_begin();
    size_t la, lb;
    uint8_t *a = pack_cmd(UIPC__CONTROL__REQUEST__COMMAND_STATUS, &la);
    uint8_t *b = pack_cmd(UIPC__CONTROL__REQUEST__COMMAND_STATS, &lb);
    uint8_t both[64];
    assert_true(la + lb <= sizeof(both));
    memcpy(both, a, la);
    memcpy(both + la, b, lb);
    int fd = dial();
    send_all(fd, both, la + lb);
    expect_status_reply(fd);
    expect_stats_reply(fd);

    /* stats, status, stats: a byte at a time */
    uint8_t three[64];
    assert_true(lb + la + lb <= sizeof(three));
    memcpy(three, b, lb);
    memcpy(three + lb, a, la);
    memcpy(three + lb + la, b, lb);
    for (size_t k = 0; k < lb + la + lb; k++) {
        send_all(fd, three + k, 1);
        sleep_ms(2);
    }
    expect_stats_reply(fd);
    expect_status_reply(fd);
    expect_stats_reply(fd);
    expect_open(fd);
    close(fd);
    free(a);
    free(b);
    hostile_end(sv);
}

/* g. A Request with no command (empty, or only a field this version does
 * not know): refused, and the connection serves on. */
static void test_empty(void **state)
{
    (void)state;
    pid_t sv = hostile_begin();
    int fd = dial();
    send_hdr(fd, 0);
    expect_refusal(fd, "no command");
    send_cmd(fd, UIPC__CONTROL__REQUEST__COMMAND_STATUS);
    expect_status_reply(fd);
    send_hdr(fd, 2);
    send_all(fd, "\x78\x01", 2); /* field 15 = 1 */
    expect_refusal(fd, "no command");
    send_cmd(fd, UIPC__CONTROL__REQUEST__COMMAND_STATS);
    expect_stats_reply(fd);
    close(fd);
    hostile_end(sv);
}

/* A peer with another uid (and CAP_DAC_OVERRIDE, to reach the 0600
 * socket at all) gets a refusal and is hung up on, before anything it
 * could send is read.  Only root can make such a peer. */
static void test_peer_uid(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("not root: no other uid to connect as; skipped\n");
        return;
    }
    pid_t sv = hostile_begin();
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, ctl_path, strlen(ctl_path) + 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* nobody, keeping only CAP_DAC_OVERRIDE; exit 77: could not */
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = { { 0 } };
        d[0].effective = d[0].permitted = 1u << CAP_DAC_OVERRIDE;
        if (prctl(PR_SET_KEEPCAPS, 1) < 0 || setresgid(65534, 65534, 65534) < 0 ||
            setresuid(65534, 65534, 65534) < 0 || syscall(SYS_capset, &h, d) < 0)
            _exit(77);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            _exit(77);
        ProtobufCMessage *m = NULL;
        if (ctl_wire_recv(fd, &uipc__control__reply__descriptor, &m, REPLY_WAIT_MS) < 0)
            _exit(1); /* no refusal */
        const Uipc__Control__Reply *rep = (const Uipc__Control__Reply *)m;
        if (rep->ok || !rep->error || !strstr(rep->error, "permission denied"))
            _exit(2); /* served, or refused without saying why */
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        char c;
        if (poll(&pf, 1, 3000) != 1 || recv(fd, &c, 1, 0) != 0)
            _exit(3); /* not hung up on */
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77) {
        print_message("cannot become another uid with CAP_DAC_OVERRIDE here; skipped\n");
    } else {
        if (WEXITSTATUS(st) != 0)
            fail_msg("the other uid's connection: check %d failed (1: no reply, 2: not refused, "
                     "3: not closed)", WEXITSTATUS(st));
        wait_log("control: connection from uid 65534 refused", 1);
    }
    hostile_end(sv);
}

/* The socket file: a stale one is replaced, the new one is 0600, a second
 * supervisor on it is refused and leaves it alone, and it is removed at
 * the end; a missing parent directory is created. */
static void test_socket_file(void **state)
{
    (void)state;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, ctl_path, strlen(ctl_path) + 1);
    unlink(ctl_path); /* a failed test's supervisor, killed, may have left one */
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(s); /* a socket file nobody listens on */

    write_conf("%s", echo_section());
    pid_t sv = start_supervisor();
    wait_log("echo: ready after", 1);
    pid_t echo = latest_pid("echo");
    expect_code(ctl("status", NULL), 0);
    struct stat st;
    assert_int_equal(stat(ctl_path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    /* a second supervisor on the same config: refused, starts nothing */
    char second_log[400];
    snprintf(second_log, sizeof(second_log), "%s/second.log", dir);
    int out = open(second_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(out >= 0);
    pid_t two = fork();
    assert_true(two >= 0);
    if (two == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(126);
        svtest_exec_supervisor(conf_path, svtest_valgrind() && !svtest_valgrind_cannot(conf_path));
    }
    close(out);
    int wst = 0;
    for (int i = 0; i < 1000 && waitpid(two, &wst, WNOHANG) == 0; i++)
        sleep_ms(10);
    if (kill(two, 0) == 0) {
        kill(two, SIGKILL);
        waitpid(two, NULL, 0);
        fail_msg("a second supervisor on a live control socket kept running");
    }
    assert_true(WIFEXITED(wst));
    assert_int_not_equal(WEXITSTATUS(wst), 0);
    FILE *f = fopen(second_log, "re");
    assert_non_null(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    if (!strstr(text, "another supervisor listens there") || strstr(text, "started, pid") ||
        svtest_valgrind_report(text))
        fail_msg("the second supervisor said:\n%s", text);
    /* the first is untouched and still reachable */
    assert_int_equal(stat(ctl_path, &st), 0);
    expect_code(ctl("status", NULL), 0);
    assert_int_equal(latest_pid("echo"), echo);
    assert_int_equal(count(read_log(), "echo: started, pid"), 1);
    assert_int_equal(stop_supervisor(sv), 0);
    assert_int_equal(stat(ctl_path, &st), -1);
    assert_int_equal(errno, ENOENT);

    /* a socket in a directory that is not there yet */
    char sub[400];
    snprintf(sub, sizeof(sub), "%s/run/sub.sock", dir);
    write_conf("[supervisor]\ncontrol_socket = %s\n%s", sub, echo_section());
    sv = start_supervisor();
    wait_log("echo: ready after", 1);
    expect_code(run_ctl(sub, (const char *const[]){ "status", NULL }), 0);
    char row[512];
    table_row("echo", row, sizeof(row));
    assert_int_equal(stop_supervisor(sv), 0);
    assert_int_equal(stat(sub, &st), -1);
    snprintf(sub, sizeof(sub), "%s/run", dir);
    rmdir(sub);
}

/* ---- uipcctl against a bad supervisor ---- */

enum fake { FAKE_SILENT, FAKE_REPLY, FAKE_CLOSE };

/* A one-connection stand-in for the supervisor on path: it reads the
 * request, then says nothing, or sends reply (len bytes, as they are), or
 * hangs up. */
static pid_t fake_supervisor(const char *path, enum fake what, const void *reply, size_t len)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    assert_true(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    unlink(path);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(l, 4), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int c = accept(l, NULL, NULL);
        uint8_t buf[256];
        struct pollfd pf = { .fd = c, .events = POLLIN };
        if (c < 0 || poll(&pf, 1, 5000) != 1 || recv(c, buf, sizeof(buf), 0) <= 0)
            _exit(1);
        if (what == FAKE_REPLY && send(c, reply, len, MSG_NOSIGNAL) != (ssize_t)len)
            _exit(1);
        if (what != FAKE_CLOSE)
            sleep(10);
        _exit(0);
    }
    close(l);
    return pid;
}

static void end_fake(pid_t pid, const char *path)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(path);
}

/* A supervisor that never answers, answers garbage or too much, or hangs
 * up: uipcctl gives up (exit 1) naming the socket, within its timeout;
 * and strings in a reply cannot put control characters on the terminal. */
static void test_bad_supervisor(void **state)
{
    (void)state;
    char path[400];
    snprintf(path, sizeof(path), "%s/fake.sock", dir);
    const char *const args[] = { "--timeout-ms", "1000", "status", NULL };
    static const uint8_t garbage[] = { 8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff };
    static const uint8_t short_reply[] = { 100, 0, 0, 0, 0x08 };
    static const struct {
        enum fake what;
        const uint8_t *reply;
        size_t len;
        const char *says;
    } cases[] = {
        { FAKE_SILENT, NULL, 0, "no reply" },
        { FAKE_REPLY, garbage, sizeof(garbage), "bad reply" },
        { FAKE_REPLY, huge, sizeof(huge), "bad reply" },
        { FAKE_REPLY, short_reply, sizeof(short_reply), "no reply" },
        { FAKE_CLOSE, NULL, 0, "no reply" },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        pid_t fake = fake_supervisor(path, cases[k].what, cases[k].reply, cases[k].len);
        uint64_t t0 = now_ms();
        int code = run_ctl(path, args);
        uint64_t took = now_ms() - t0;
        end_fake(fake, path);
        expect_code(code, 1);
        err_has(path);
        err_has(cases[k].says);
        assert_string_equal(ctl_out, "");
        if (took > 8000) /* --timeout-ms 1000; generous for a loaded machine */
            fail_msg("case %zu: uipcctl took %llu ms to give up", k, (unsigned long long)took);
    }

    /* a well-formed reply with hostile strings */
    Uipc__Control__Reply rep = UIPC__CONTROL__REPLY__INIT;
    Uipc__Control__ModuleStatus ms = UIPC__CONTROL__MODULE_STATUS__INIT;
    Uipc__Control__ModuleStatus *list[] = { &ms };
    ms.name = (char *)"e\x1b[31mvil\"\\";
    ms.state = (char *)"ready";
    ms.pid = 7;
    ms.last_exit = (char *)"two\nlines";
    rep.ok = true;
    rep.n_modules = 1;
    rep.modules = list;
    uint8_t *frame;
    size_t len;
    assert_int_equal(ctl_wire_pack(&rep.base, &frame, &len), 0);
    pid_t fake = fake_supervisor(path, FAKE_REPLY, frame, len);
    int code = run_ctl(path, args);
    end_fake(fake, path);
    expect_code(code, 0);
    if (strchr(ctl_out, '\x1b') || !strstr(ctl_out, "e?[31mvil\"\\") || !strstr(ctl_out, "two?lines"))
        fail_msg("control characters not masked in the table:\n%s", ctl_out);
    const char *const jargs[] = { "--json", "status", NULL };
    fake = fake_supervisor(path, FAKE_REPLY, frame, len);
    code = run_ctl(path, jargs);
    end_fake(fake, path);
    free(frame);
    expect_code(code, 0);
    out_has("\"name\": \"e\\u001b[31mvil\\\"\\\\\"");
    out_has("\"last_exit\": \"two\\u000alines\"");
}

/* ---- errors ---- */

/* What uipcctl says when the supervisor says no, cannot be reached, or the
 * command line is wrong; and requests uipcctl would not send. */
static void test_errors(void **state)
{
    (void)state;
    char nobody[400];
    snprintf(nobody, sizeof(nobody), "%s/nobody.sock", dir);

    /* nothing listens: no socket file, then a stale one */
    expect_code(run_ctl(nobody, (const char *const[]){ "status", NULL }), 1);
    err_has(nobody);
    assert_string_equal(ctl_out, "");
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    assert_true(strlen(nobody) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, nobody, strlen(nobody) + 1);
    unlink(nobody);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(s);
    expect_code(run_ctl(nobody, (const char *const[]){ "stop", "echo", NULL }), 1);
    err_has(nobody);
    unlink(nobody);

    /* usage: exit 2, before any attempt to connect (nothing runs yet) */
    expect_code(ctl("frobnicate", NULL), 2);
    err_has("unknown command 'frobnicate'");
    expect_code(ctl(NULL, NULL), 2);
    expect_code(ctl("restart", NULL), 2);
    expect_code(ctl("status", "echo", NULL), 2);
    expect_code(ctl("kill", "echo", "--signal", "NOSUCH", NULL), 2);
    expect_code(ctl("stop", "echo", "--signal", "KILL", NULL), 2);
    expect_code(ctl("--timeout-ms", "soon", "status", NULL), 2);

    write_conf("%s", echo_section());
    pid_t sv = start_supervisor();
    wait_log("echo: ready after", 1);
    pid_t echo = latest_pid("echo");
    static const char *const cmds[] = { "restart", "stop", "start", "kill" };
    for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
        expect_code(ctl(cmds[k], "nosuch", NULL), 1);
        err_has("no module named 'nosuch'");
    }
    expect_code(ctl("--json", "stop", "nosuch", NULL), 1);
    out_has("\"ok\": false");
    out_has("no module named 'nosuch'");
    expect_code(ctl("kill", "nosuch", "--signal", "TERM", NULL), 1);
    err_has("no module named 'nosuch'");

    /* raw: what uipcctl would not send */
    int fd = dial();
    send_kill(fd, "echo", 99);
    expect_refusal(fd, "no signal 99");
    send_kill(fd, "echo", -1);
    expect_refusal(fd, "no signal -1");
    send_kill(fd, "", 9);
    expect_refusal(fd, "no module named ''");
    char *longname = malloc(100001);
    assert_non_null(longname);
    memset(longname, 'x', 100000);
    longname[100000] = '\0';
    send_kill(fd, longname, 9);
    free(longname);
    expect_refusal(fd, "no module named 'xxx");
    close(fd);

    /* none of it touched echo */
    assert_int_equal(latest_pid("echo"), echo);
    assert_int_equal(count(read_log(), "echo: started, pid"), 1);
    log_lacks("sent by the operator");
    struct mod_st m;
    mod_status("echo", &m);
    assert_string_equal(m.state, "ready");
    assert_int_equal(m.pid, echo);
    assert_int_equal(stop_supervisor(sv), 0);
}

/* A module asks the control socket to stop its sibling: refused, even as
 * root and in the host's view, unless control_from_modules = yes. */
static void from_module(bool allowed)
{
    char text[800];
    snprintf(text, sizeof(text), "#!/bin/sh\n%s --socket %s stop echo; echo \"uipcctl exit $?\"\nexec sleep 60\n",
             env_path("UIPC_UIPCCTL"), ctl_path);
    const char *script = write_script("ask.sh", text);
    write_conf("[supervisor]\ncontrol_from_modules = %s\n"
               "[module echo]\nexec = %s\nprovides = echo\n"
               "[module asker]\nexec = %s\nafter = echo\nrestart = never\n"
               "user = root\nnamespaces = none\npolicy = none\n; a shell running uipcctl, as root\n",
               allowed ? "yes" : "no", env_path("UIPC_ECHO_SERVER"), script);
    pid_t sv = start_supervisor();
    wait_log("asker: uipcctl exit", 1);
    if (allowed) {
        log_has("asker: uipcctl exit 0");
        wait_log("echo: exited with code 0", 1);
    } else {
        log_has("control: connection from pid ");
        log_has("refused: a module of this supervisor, or one of its processes");
        /* uipcctl reads the refusal, or its request meets the closed
         * connection first (EPIPE): either way it fails */
        log_lacks("asker: uipcctl exit 0");
        log_lacks("echo: stopping");
    }
    assert_int_equal(stop_supervisor(sv), 0);
}

static void test_from_module_refused(void **state)
{
    (void)state;
    from_module(false);
}

static void test_from_module_allowed(void **state)
{
    (void)state;
    from_module(true);
}

/* A socket directory other users may write to is refused at start. */
static void test_socket_dir_shared(void **state)
{
    (void)state;
    char shared[400], sock[460];
    snprintf(shared, sizeof(shared), "%s/shared", dir);
    assert_int_equal(mkdir(shared, 0777), 0);
    assert_int_equal(chmod(shared, 01777), 0);
    snprintf(sock, sizeof(sock), "%s/control.sock", shared);
    write_conf("[supervisor]\ncontrol_socket = %s\n[module echo]\nexec = %s\nprovides = echo\n", sock,
               env_path("UIPC_ECHO_SERVER"));
    assert_int_not_equal(supervisor_refuses(), 0);
    log_has("must be a directory that only this user (or root) can write");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_status, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_stats, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_stop_start, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_restart, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_kill, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_kill_pidns, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_kill_realtime, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_errors, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_bad_supervisor, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_garbage, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_oversized, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_truncated, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_slow, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_many_clients, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_pipelining, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_empty, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_peer_uid, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_socket_file, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_from_module_refused, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_from_module_allowed, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_socket_dir_shared, svtest_kill_leftover),
    };
    return cmocka_run_group_tests(tests, svtest_setup, svtest_teardown);
}
