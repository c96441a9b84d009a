/* SPDX-License-Identifier: MIT */
/* The real uipc-supervisor on test configs with real module programs:
 * kill -9 under load, restart limits, bad configs, clean shutdown, and the
 * supervisor itself killed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[] = "/tmp/uipc-test-sv-XXXXXX";
static char conf_path[300], log_path[300];

static const char *env_path(const char *name)
{
    const char *p = getenv(name);
    if (!p)
        fail_msg("%s is not set (run through meson test)", name);
    return p;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void write_conf(const char *fmt, ...)
{
    FILE *f = fopen(conf_path, "w");
    assert_non_null(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

/* An executable script in the test's directory; returns its path. */
static const char *write_script(const char *name, const char *text)
{
    static char path[400];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0755);
    return path;
}

static pid_t current_sv; /* killed by the per-test teardown if a test fails */

static pid_t start_supervisor(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* and its modules with it */
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, 2) < 0 || dup2(fd, 1) < 0)
            _exit(126);
        execl(env_path("UIPC_SUPERVISOR"), "uipc-supervisor", "--config", conf_path, (char *)NULL);
        _exit(127);
    }
    current_sv = pid;
    return pid;
}

static int kill_leftover(void **state)
{
    (void)state;
    if (current_sv > 0 && waitpid(current_sv, NULL, WNOHANG) == 0) {
        kill(current_sv, SIGKILL);
        waitpid(current_sv, NULL, 0);
    }
    current_sv = 0;
    /* test_example points conf_path at the shipped file: never write there */
    snprintf(conf_path, sizeof(conf_path), "%s/modules.conf", dir);
    return 0;
}

/* The whole log (it may be large: a module may flood). */
static char *read_log(void)
{
    static char *buf;
    static size_t cap;
    struct stat st;
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    if (fd >= 0 && fstat(fd, &st) == 0 && (size_t)st.st_size + 1 > cap) {
        cap = (size_t)st.st_size * 2 + 4096;
        buf = realloc(buf, cap);
        assert_non_null(buf);
    }
    if (!buf) {
        cap = 4096;
        buf = malloc(cap);
        assert_non_null(buf);
    }
    for (ssize_t r; fd >= 0 && n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0;)
        n += (size_t)r;
    if (fd >= 0)
        close(fd);
    buf[n] = '\0';
    return buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Waits up to 30 s until the log holds `needle` at least n times. */
static void wait_log(const char *needle, int n)
{
    for (int i = 0; i < 3000; i++) {
        if (count(read_log(), needle) >= n)
            return;
        sleep_ms(10);
    }
    const char *log = read_log();
    size_t len = strlen(log);
    fail_msg("log never showed \"%s\" %d times; it ends:\n%s", needle, n,
             log + (len > 1500 ? len - 1500 : 0));
}

/* The pid in the newest "NAME: started, pid N" line. */
static pid_t latest_pid(const char *name)
{
    char needle[96];
    snprintf(needle, sizeof(needle), "%s: started, pid ", name);
    const char *p = read_log(), *last = NULL;
    while ((p = strstr(p, needle))) {
        last = p;
        p += strlen(needle);
    }
    assert_non_null(last);
    return (pid_t)atoi(last + strlen(needle));
}

static int stop_supervisor(pid_t sv)
{
    int st;
    kill(sv, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(sv, &st, WNOHANG) == sv)
            return st;
        sleep_ms(10);
    }
    kill(sv, SIGKILL);
    waitpid(sv, &st, 0);
    fail_msg("supervisor did not stop within 10 s:\n%s", read_log());
    return -1;
}

static void expect_gone(pid_t pid)
{
    for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
        sleep_ms(10);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(conf_path, sizeof(conf_path), "%s/modules.conf", dir);
    snprintf(log_path, sizeof(log_path), "%s/supervisor.log", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The server is killed with SIGKILL five times while a client keeps sync
 * and async calls going; the client checks that every issued call
 * completed exactly once, no reply was wrong, and the pool is whole. */
static void test_kill9_under_load(void **state)
{
    (void)state;
    write_conf("[supervisor]\nshutdown_timeout_ms = 2000\n"
               "[module echo]\nexec = %s\nprovides = echo\nrestart = always\nmax_restarts = 50\n"
               "[module load]\nexec = %s\nconnects = echo:32x256\nafter = echo\nrestart = never\n"
               "env = LOAD_SECONDS=2\n",
               env_path("UIPC_ECHO_SERVER"), env_path("UIPC_LOAD_CLIENT"));
    pid_t sv = start_supervisor();
    wait_log("load: started, pid", 1);
    pid_t victims[5];
    for (int k = 0; k < 5; k++) {
        sleep_ms(150);
        victims[k] = latest_pid("echo");
        assert_int_equal(kill(victims[k], SIGKILL), 0);
        wait_log("echo: started, pid", k + 2);
    }
    wait_log("load: exited with code", 1);
    const char *log = read_log();
    if (!strstr(log, "load: exited with code 0"))
        fail_msg("the load client found a problem:\n%s", log);
    assert_true(count(log, "echo: killed by signal SIGKILL") >= 5);
    /* 'after = echo': load started only once echo's loop ran */
    const char *ready = strstr(log, "echo: ready after"), *load = strstr(log, "load: started");
    assert_non_null(ready);
    assert_true(load > ready);
    assert_true(count(log, "in-flight slots reclaimed") >= 1);
    pid_t echo = latest_pid("echo");
    int st = stop_supervisor(sv);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    expect_gone(echo);
    for (int k = 0; k < 5; k++)
        expect_gone(victims[k]);
}

/* A module that dies at once, again and again, is given up; the other
 * module keeps running. */
static void test_given_up(void **state)
{
    (void)state;
    write_conf("[module echo]\nexec = %s\nprovides = echo\n"
               "[module flaky]\nexec = /bin/false\nrestart = always\nmax_restarts = 2\n"
               "restart_window_s = 60\n", env_path("UIPC_ECHO_SERVER"));
    pid_t sv = start_supervisor();
    wait_log("flaky: given up", 1);
    const char *log = read_log();
    assert_int_equal(count(log, "flaky: started"), 3);
    assert_int_equal(count(log, "flaky: exited with code 1"), 3);
    assert_non_null(strstr(log, "flaky: restart in 100 ms"));
    assert_non_null(strstr(log, "flaky: restart in 200 ms"));
    pid_t echo = latest_pid("echo");
    assert_int_equal(kill(echo, 0), 0); /* still running */
    assert_int_equal(stop_supervisor(sv), 0);
    expect_gone(echo);
    /* stopped by the request through its control region: no signal needed */
    assert_non_null(strstr(read_log(), "echo: exited with code 0"));
    assert_null(strstr(read_log(), "echo: still running"));
}

/* A bad config: exit 2, FILE:LINE named, nothing started. */
static void test_bad_config(void **state)
{
    (void)state;
    write_conf("[module echo]\nexec = %s\nprovides = echo\nconnects = nobody\n",
               env_path("UIPC_ECHO_SERVER"));
    pid_t sv = start_supervisor();
    int st;
    assert_int_equal(waitpid(sv, &st, 0), sv);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 2);
    char want[400];
    snprintf(want, sizeof(want), "%s:4: no module provides service 'nobody'", conf_path);
    assert_non_null(strstr(read_log(), want));
    assert_null(strstr(read_log(), "started"));
}

/* The supervisor killed with SIGKILL: its modules die with it. */
static void test_supervisor_killed(void **state)
{
    (void)state;
    write_conf("[module echo]\nexec = %s\nprovides = echo\n"
               "[module echo2]\nexec = %s\nprovides = echo2\n",
               env_path("UIPC_ECHO_SERVER"), env_path("UIPC_ECHO_SERVER"));
    pid_t sv = start_supervisor();
    wait_log("echo2: started, pid", 1);
    pid_t a = latest_pid("echo"), b = latest_pid("echo2");
    kill(sv, SIGKILL);
    waitpid(sv, NULL, 0);
    expect_gone(a);
    expect_gone(b);
}

/* A module that ignores SIGTERM is killed after shutdown_timeout_ms. */
static void test_shutdown_timeout(void **state)
{
    (void)state;
    const char *script = write_script("stubborn.sh",
                                      "#!/bin/sh\ntrap '' TERM\necho ready\nwhile :; do sleep 1; done\n");
    write_conf("[supervisor]\nshutdown_timeout_ms = 300\n[module stubborn]\nexec = %s\n", script);
    pid_t sv = start_supervisor();
    wait_log("stubborn: ready", 1);
    pid_t p = latest_pid("stubborn");
    int st = stop_supervisor(sv);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_non_null(strstr(read_log(), "stubborn: still running after 300 ms, SIGKILL"));
    expect_gone(p);
}

/* SIGSTOP: no heartbeat; detected within hang_timeout_ms plus one
 * interval, killed, reaped and restarted. */
static void test_hang_stopped(void **state)
{
    (void)state;
    write_conf("[supervisor]\nheartbeat_interval_ms = 50\nhang_timeout_ms = 400\n"
               "[module echo]\nexec = %s\nprovides = echo\nrestart = always\n",
               env_path("UIPC_ECHO_SERVER"));
    pid_t sv = start_supervisor();
    wait_log("echo: started, pid", 1);
    sleep_ms(200);
    pid_t p = latest_pid("echo");
    assert_int_equal(kill(p, SIGSTOP), 0);
    wait_log("echo: hung: no heartbeat for", 1);
    wait_log("echo: killed by signal SIGKILL (hung)", 1);
    wait_log("echo: started, pid", 2);
    assert_int_not_equal(latest_pid("echo"), p);
    assert_int_equal(stop_supervisor(sv), 0);
    expect_gone(p);
}

/* A handler that never returns: the server is killed as hung, its caller's
 * waiting calls are answered with peer-died, and the caller finishes. */
static void test_hang_endless_handler(void **state)
{
    (void)state;
    write_conf("[supervisor]\nheartbeat_interval_ms = 50\nhang_timeout_ms = 400\n"
               "[module echo]\nexec = %s\nprovides = echo\nrestart = always\nenv = SPIN_AFTER=2\n"
               "[module client]\nexec = %s\nconnects = echo\nafter = echo\nrestart = never\n",
               env_path("UIPC_SPIN_SERVER"), env_path("UIPC_ECHO_CLIENT"));
    pid_t sv = start_supervisor();
    wait_log("echo: hung:", 1);
    wait_log("client: exited with code 0", 1);
    const char *log = read_log();
    assert_non_null(strstr(log, "echo: killed by signal SIGKILL (hung)"));
    assert_non_null(strstr(log, "in-flight slots reclaimed"));
    assert_non_null(strstr(log, "status -10001")); /* peer died, as the client printed it */
    assert_int_equal(stop_supervisor(sv), 0);
}

/* examples/modules.conf as shipped: the demo client drives kv and echo,
 * and everything stops cleanly. */
static void test_example(void **state)
{
    (void)state;
    snprintf(conf_path, sizeof(conf_path), "%s", env_path("UIPC_EXAMPLE_CONF"));
    pid_t sv = start_supervisor();
    wait_log("client: exited with code", 1);
    const char *log = read_log();
    if (!strstr(log, "client: exited with code 0"))
        fail_msg("the demo client failed:\n%s", log);
    assert_non_null(strstr(log, "client: async get cherry           -> ok, \"dark red\""));
    assert_int_equal(stop_supervisor(sv), 0);
    log = read_log();
    assert_non_null(strstr(log, "kv: exited with code 0"));
    assert_non_null(strstr(log, "echo: exited with code 0"));
}

/* A client killed while its calls are served: the server is unaffected,
 * and the client's next incarnation gets the whole pool back. */
static void test_client_killed(void **state)
{
    (void)state;
    write_conf("[module echo]\nexec = %s\nprovides = echo\n"
               "[module load]\nexec = %s\nconnects = echo:32x256\nafter = echo\n"
               "restart = on-failure\nenv = LOAD_SECONDS=1\n",
               env_path("UIPC_ECHO_SERVER"), env_path("UIPC_LOAD_CLIENT"));
    pid_t sv = start_supervisor();
    wait_log("load: ready after", 1);
    pid_t echo = latest_pid("echo");
    sleep_ms(100);
    assert_int_equal(kill(latest_pid("load"), SIGKILL), 0);
    wait_log("load: exited with code 0", 1);
    const char *log = read_log();
    assert_non_null(strstr(log, "load: killed by signal SIGKILL"));
    assert_int_equal(count(log, "echo: started"), 1);
    assert_int_equal(latest_pid("echo"), echo);
    assert_int_equal(kill(echo, 0), 0);
    assert_int_equal(stop_supervisor(sv), 0);
}

/* A module that floods its output does not stall the supervisor: a crash
 * elsewhere is still handled at once, and shutdown still works. */
static void test_flood(void **state)
{
    (void)state;
    const char *script = write_script(
        "flood.sh", "#!/bin/sh\nyes 'flood flood flood flood' 2>/dev/null | head -n 50000\nexec sleep 60\n");
    write_conf("[module echo]\nexec = %s\nprovides = echo\nrestart = always\n"
               "[module flood]\nexec = %s\nrestart = never\nhang_timeout_ms = 600000\n",
               env_path("UIPC_ECHO_SERVER"), script);
    pid_t sv = start_supervisor();
    wait_log("flood: flood flood", 10);
    assert_int_equal(kill(latest_pid("echo"), SIGKILL), 0);
    wait_log("echo: started, pid", 2);
    wait_log("flood: flood flood flood flood", 50000);
    assert_int_equal(stop_supervisor(sv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bad_config, kill_leftover),
        cmocka_unit_test_teardown(test_example, kill_leftover),
        cmocka_unit_test_teardown(test_client_killed, kill_leftover),
        cmocka_unit_test_teardown(test_kill9_under_load, kill_leftover),
        cmocka_unit_test_teardown(test_given_up, kill_leftover),
        cmocka_unit_test_teardown(test_supervisor_killed, kill_leftover),
        cmocka_unit_test_teardown(test_shutdown_timeout, kill_leftover),
        cmocka_unit_test_teardown(test_hang_stopped, kill_leftover),
        cmocka_unit_test_teardown(test_hang_endless_handler, kill_leftover),
        cmocka_unit_test_teardown(test_flood, kill_leftover),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
