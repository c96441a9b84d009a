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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "svtest.h"

/* The server, under its strict seccomp policy, is killed with SIGKILL five
 * times while a client keeps sync and async calls going; the client checks that every issued call
 * completed exactly once, no reply was wrong, and the pool is whole. */
static void test_kill9_under_load(void **state)
{
    (void)state;
    write_conf("[supervisor]\nshutdown_timeout_ms = 2000\n"
               "[module echo]\nexec = %s\npolicy = %s/echo.policy\nprovides = echo\nrestart = always\n"
               "max_restarts = 50\n"
               "[module load]\nexec = %s\nconnects = echo:32x256\nafter = echo\nrestart = never\n"
               "env = LOAD_SECONDS=2\n",
               env_path("UIPC_ECHO_SERVER"), env_path("UIPC_POLICIES"), env_path("UIPC_LOAD_CLIENT"));
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
    log_lacks("stopped by seccomp"); /* restarts and reclaims stay inside echo.policy */
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
    wait_log("echo: ready after", 1); /* under valgrind it may take longer than flaky */
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
    write_conf("[supervisor]\ncontrol_socket = %s\n[module echo]\nexec = %s\nprovides = echo\n"
               "connects = nobody\n", ctl_path, env_path("UIPC_ECHO_SERVER"));
    assert_int_equal(supervisor_refuses(), 2);
    /* the line as written (under valgrind write_conf adds some: svtest.h) */
    FILE *f = fopen(conf_path, "re");
    assert_non_null(f);
    char want[400], line[400];
    int at = 0;
    for (int n = 1; !at && fgets(line, sizeof(line), f); n++)
        at = strcmp(line, "connects = nobody\n") == 0 ? n : 0;
    fclose(f);
    assert_true(at >= 6);
    snprintf(want, sizeof(want), "%s:%d: no module provides service 'nobody'", conf_path, at);
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

/* A one-shot set-up step (restart = never) that exits 0 counts as ready
 * for the modules that list it in 'after': they start (the lifecycle's
 * 'done'); one that fails holds them back. */
static void test_after_one_shot(void **state)
{
    (void)state;
    char ok[300], bad[300]; /* write_script's path is in a buffer of its own */
    snprintf(ok, sizeof(ok), "%s", write_script("setup-ok.sh", "#!/bin/sh\necho set up\nexit 0\n"));
    snprintf(bad, sizeof(bad), "%s", write_script("setup-bad.sh", "#!/bin/sh\nexit 3\n"));
    write_conf("[module setup]\nexec = %s\nrestart = never\npolicy = none\n"
               "[module app]\nexec = %s\nprovides = echo\nafter = setup\n"
               "[module broken]\nexec = %s\nrestart = never\npolicy = none\n"
               "[module waiter]\nexec = %s\nprovides = other\nafter = broken\n",
               ok, env_path("UIPC_ECHO_SERVER"), bad, env_path("UIPC_ECHO_SERVER"));
    pid_t sv = start_supervisor();
    wait_log("setup: exited with code 0", 1);
    wait_log("app: ready after", 1);
    wait_log("broken: exited with code 3", 1);
    sleep_ms(svtest_ms(300));
    log_lacks("waiter: started");
    assert_int_equal(stop_supervisor(sv), 0);
}

/* A module that ignores SIGTERM is killed after shutdown_timeout_ms. */
static void test_shutdown_timeout(void **state)
{
    (void)state;
    const char *script = write_script("stubborn.sh",
                                      "#!/bin/sh\ntrap '' TERM\necho ready\nwhile :; do sleep 1; done\n");
    write_conf("[supervisor]\nshutdown_timeout_ms = 300\n[module stubborn]\nexec = %s\npolicy = none\n; a shell script: /bin/sh needs more than base.policy\n", script);
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

/* A module in its own epoll loop on uipc_fd (tests/modules/fd-server.c)
 * beats only when that loop calls uipc_poll.  Idle for many hang timeouts
 * it is not killed (the supervisor rings its fd once its beat is an
 * interval old), it serves a client that comes late, and it stops when
 * asked. */
static void test_fd_module_idle(void **state)
{
    (void)state;
    char text[600];
    snprintf(text, sizeof(text), "#!/bin/sh\nsleep 2\nexec %s\n", env_path("UIPC_ECHO_CLIENT"));
    char late[400];
    snprintf(late, sizeof(late), "%s", write_script("late-client.sh", text));
    write_conf("[supervisor]\nheartbeat_interval_ms = 50\nhang_timeout_ms = 300\n"
               "[module echo]\nexec = %s\nprovides = echo\nrestart = always\n"
               "policy = none\n; its own epoll loop, not in base.policy\n"
               "[module client]\nexec = %s\nconnects = echo\nafter = echo\nrestart = never\n"
               "policy = none\n; a shell script: /bin/sh needs more than base.policy\n"
               "namespaces = none\nuser = root\n"
               "; it runs the build tree's echo-client, which a private /tmp hides, and the tree\n"
               "; may be in a directory only root may enter\n"
               "hang_timeout_ms = 10000\n", /* its shell sleeps first, without beating */
               env_path("UIPC_FD_SERVER"), late);
    pid_t sv = start_supervisor();
    wait_log("client: exited with code 0", 1);
    log_lacks("echo: hung");
    assert_int_equal(count(read_log(), "echo: started, pid"), 1);
    assert_int_equal(stop_supervisor(sv), 0);
    log_has("echo: fd-server: stopping after");
    log_has("echo: exited with code 0");
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
 * each under its strict seccomp policy, and everything stops cleanly. */
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
    /* every example module ran under its strict policy, and never stepped outside */
    log_lacks("no policy");
    log_lacks("seccomp");
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
               "[module flood]\nexec = %s\nrestart = never\nhang_timeout_ms = 600000\npolicy = none\n; a shell script: /bin/sh needs more than base.policy\n",
               env_path("UIPC_ECHO_SERVER"), script);
    pid_t sv = start_supervisor();
    wait_log("flood: flood flood", 10);
    assert_int_equal(kill(latest_pid("echo"), SIGKILL), 0);
    wait_log("echo: started, pid", 2);
    wait_log("flood: flood flood flood flood", 50000);
    assert_int_equal(stop_supervisor(sv), 0);
}

/* systemd's notify protocol, against a datagram socket standing in for
 * systemd: READY=1 once every module is up, STATUS= lines, WATCHDOG=1 at
 * half of WATCHDOG_USEC, STOPPING=1 at shutdown. */
static void test_sd_notify(void **state)
{
    (void)state;
    char path[100], buf[512];
    snprintf(path, sizeof(path), "%.80s/notify.sock", dir);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    write_conf("[module echo]\nexec = %s\nprovides = echo\n"
               "[module client]\nexec = %s\nconnects = echo\nafter = echo\nrestart = never\n",
               env_path("UIPC_ECHO_SERVER"), env_path("UIPC_ECHO_CLIENT"));
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "200000", 1);
    pid_t sv = start_supervisor();
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    int ready = 0, status = 0, watchdog = 0, stopping = 0, ready_before_client_started = 0;
    for (unsigned i = 0; i < svtest_ms(100) && (ready == 0 || watchdog < 3); i++) { /* ~10 s */
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        ready += strstr(buf, "READY=1") != NULL;
        status += strstr(buf, "STATUS=2 modules: ") != NULL;
        watchdog += strcmp(buf, "WATCHDOG=1") == 0;
        if (strstr(buf, "READY=1") && !strstr(read_log(), "client: started"))
            ready_before_client_started = 1;
    }
    assert_int_equal(ready, 1);
    assert_true(status >= 2);
    assert_true(watchdog >= 3);
    assert_int_equal(ready_before_client_started, 0); /* not before every module ran */
    assert_int_equal(stop_supervisor(sv), 0);
    for (int i = 0; i < 50 && !stopping; i++) {
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        if (n > 0) {
            buf[n] = '\0';
            stopping += strstr(buf, "STOPPING=1") != NULL;
        } else {
            break;
        }
    }
    assert_int_equal(stopping, 1);
    close(fd);
}

/* A module's env replaces a variable of the supervisor's rather than
 * adding a second copy that getenv would not see. */
static void test_env_override(void **state)
{
    (void)state;
    /* env(1) prints its environment as it got it, duplicates and all
     * (a shell would fold them) */
    write_conf("[module env]\nexec = /usr/bin/env\nenv = HOME=/module-home\nrestart = never\n");
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", "/supervisor-home", 1);
    pid_t sv = start_supervisor();
    if (home)
        setenv("HOME", home, 1);
    else
        unsetenv("HOME");
    free(home);
    wait_log("env: exited with code", 1);
    log_has("env: HOME=/module-home\n");
    assert_int_equal(count(read_log(), "env: HOME="), 1);
    assert_int_equal(stop_supervisor(sv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bad_config, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_example, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_client_killed, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_kill9_under_load, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_given_up, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_supervisor_killed, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_shutdown_timeout, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_after_one_shot, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_hang_stopped, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_hang_endless_handler, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_fd_module_idle, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_flood, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_sd_notify, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_env_override, svtest_kill_leftover),
    };
    return cmocka_run_group_tests(tests, svtest_setup, svtest_teardown);
}
