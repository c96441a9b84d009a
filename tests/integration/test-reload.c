/* SPDX-License-Identifier: MIT */
/* Live reload (supervisor/sv-reload.c, reload-plan.c) on real processes:
 * `uipcctl reload` and SIGHUP while a client keeps sync and async calls
 * going to a server the new config does not touch.  The new config adds
 * a module, removes one, changes a third's args and a fourth's channel
 * geometry; then a broken config is refused with its line, by uipcctl
 * (exit 2) and by SIGHUP.  The untouched server and client keep their
 * pids and the client sees no error; each changed module restarts once.
 * Also: `reload --check` changes nothing, [supervisor] settings that can
 * change live do, and the control socket's path cannot. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "svtest.h"

#define CTL_MS 10000

static long long pid_of(const char *name)
{
    char obj[1024];
    svtest_ctl_ok(svtest_ctl(CTL_MS, "--json", "status", NULL), "status");
    json_obj(svtest_ctl_out, "name", name, obj, sizeof(obj));
    return json_num(obj, "pid");
}

static void wait_pid_change(const char *name, long long old)
{
    for (int i = 0; i < 400; i++) {
        long long pid = pid_of(name);
        if (pid > 0 && pid != old)
            return;
        sleep_ms(25);
    }
    fail_msg("%s kept pid %lld (or never came back):\n%s", name, old, read_log());
}

static void out_has(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("uipcctl's output lacks \"%s\":\n%s", needle, text);
}

static void out_lacks(const char *text, const char *needle)
{
    if (strstr(text, needle))
        fail_msg("uipcctl's output has \"%s\":\n%s", needle, text);
}

/* The modules every version of the config has; `load` calls `echo` for
 * load_s seconds and exits 0 only if every call completed once and right. */
static const char *untouched(unsigned load_s)
{
    static char s[1024];
    snprintf(s, sizeof(s),
             "[module echo]\nexec = %s\nprovides = echo\n\n"
             "[module load]\nexec = %s\nconnects = echo:32x256\nafter = echo\nrestart = never\n"
             "env = LOAD_SECONDS=%u\n\n",
             env_path("UIPC_ECHO_SERVER"), env_path("UIPC_LOAD_CLIENT"), load_s);
    return s;
}

/* v1: victim's args, gclient's channel geometry, doomed; v2 changes the
 * first two, removes doomed and adds newcomer. */
static void write_version(int v, unsigned load_s)
{
    const char *busy = env_path("UIPC_BUSY_SERVER"), *cserver = env_path("UIPC_CHAOS_SERVER"),
               *cclient = env_path("UIPC_CHAOS_CLIENT");
    char changing[2048];
    snprintf(changing, sizeof(changing),
             "[module victim]\nexec = %s\nargs = vsvc %d\nprovides = vsvc\n\n"
             "[module gserver]\nexec = %s\nargs = gsvc\nprovides = gsvc\n\n"
             "[module gclient]\nexec = %s\nargs = gsvc\nconnects = gsvc:%s\nafter = gserver\n\n"
             "[module %s]\nexec = %s\nargs = xsvc\nprovides = xsvc\n",
             busy, v == 1 ? 0 : 1, cserver, cclient, v == 1 ? "8x1024" : "16x2048",
             v == 1 ? "doomed" : "newcomer", cserver);
    write_conf("[supervisor]\nshutdown_timeout_ms = 2000\n\n%s%s", untouched(load_s), changing);
}

/* The line of the config file that begins with text. */
static int line_of(const char *text)
{
    char line[1024];
    FILE *f = fopen(conf_path, "re");
    assert_non_null(f);
    for (int n = 1; fgets(line, sizeof(line), f); n++)
        if (strncmp(line, text, strlen(text)) == 0) {
            fclose(f);
            return n;
        }
    fclose(f);
    fail_msg("no line begins with %s in %s", text, conf_path);
    return 0;
}

static int count_started(const char *name)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "%s: started, pid", name);
    return count(read_log(), needle);
}

static void test_reload_under_load(void **state)
{
    (void)state;
    unsigned load_s = svtest_valgrind() ? 30 : 8;
    write_version(1, load_s);
    pid_t sv = start_supervisor();
    wait_log("load: ready after", 1);
    wait_log("gclient: ready after", 1);
    wait_log("doomed: ready after", 1);
    wait_log("victim: ready after", 1);
    long long echo = pid_of("echo"), load = pid_of("load"), victim = pid_of("victim");
    long long gserver = pid_of("gserver"), gclient = pid_of("gclient");

    /* --check: the difference, nothing applied. */
    write_version(2, load_s);
    svtest_ctl_ok(svtest_ctl(CTL_MS, "reload", "--check", NULL), "reload --check");
    out_has(svtest_ctl_out, "victim: its settings changed");
    out_has(svtest_ctl_out, "gclient: its channels changed (-gclient->gserver:gsvc:8x1024 +gclient->gserver:gsvc:16x2048)");
    out_has(svtest_ctl_out, "gserver: its channels changed");
    out_has(svtest_ctl_out, "doomed: removed");
    out_has(svtest_ctl_out, "newcomer: added");
    out_lacks(svtest_ctl_out, "echo:");
    out_lacks(svtest_ctl_out, "load:");
    sleep_ms(200);
    assert_int_equal(pid_of("victim"), victim);
    log_lacks("reload:");

    /* Applied. */
    svtest_ctl_ok(svtest_ctl(CTL_MS, "reload", NULL), "reload");
    out_has(svtest_ctl_out, "newcomer: added");
    wait_log("newcomer: ready after", 1);
    wait_log("doomed: removed", 1);
    wait_pid_change("victim", victim);
    wait_pid_change("gserver", gserver);
    wait_pid_change("gclient", gclient);
    wait_log("gclient: ready after", 2);
    log_has("reload: victim: its settings changed");
    svtest_ctl_ok(svtest_ctl(CTL_MS, "--json", "status", NULL), "status");
    out_lacks(svtest_ctl_out, "\"doomed\"");

    /* A broken config: refused with its line, by uipcctl and by SIGHUP. */
    write_conf("[supervisor]\nshutdown_timeout_ms = 2000\n\n%s[module broken\n", untouched(load_s));
    int code = svtest_ctl(CTL_MS, "reload", NULL);
    if (code != 2)
        fail_msg("uipcctl reload on a broken config exited %d, not 2:\n%s%s", code, svtest_ctl_out,
                 svtest_ctl_err);
    char where[400];
    snprintf(where, sizeof(where), "%s:%d:", conf_path, line_of("[module broken"));
    out_has(svtest_ctl_err, where);
    kill(sv, SIGHUP);
    wait_log("reload refused, nothing changed", 1);
    log_has(where);
    sleep_ms(200);
    assert_int_equal(pid_of("newcomer") > 0, 1);
    assert_int_equal(count_started("victim"), 2);

    /* The untouched pair never noticed. */
    wait_log("load: exited with code 0", 1);
    assert_int_equal(pid_of("echo"), echo);
    assert_int_equal(count_started("echo"), 1);
    assert_int_equal(count_started("load"), 1);
    (void)load;
    log_has("load: load: issued");
    const char *line = strstr(read_log(), "load: load: issued");
    char figures[256];
    snprintf(figures, sizeof(figures), "%.*s", (int)strcspn(line, "\n"), line);
    print_message("untouched client during the reloads: %s\n", figures);
    if (!strstr(figures, "peer-died 0,") || !strstr(figures, "wrong 0;"))
        fail_msg("the untouched client saw errors: %s", figures);
    /* Each changed module restarted once; the others not at all. */
    assert_int_equal(count_started("victim"), 2);
    assert_int_equal(count_started("gserver"), 2);
    assert_int_equal(count_started("gclient"), 2);
    assert_int_equal(count_started("newcomer"), 1);
    assert_int_equal(count_started("doomed"), 1);
    log_lacks("CHAOS-ANOMALY");
    assert_int_equal(stop_supervisor(sv), 0);
}

/* [supervisor] settings: those that can change do, with no module
 * restarted; the control socket's path cannot, and nothing changes. */
static void test_reload_supervisor_settings(void **state)
{
    (void)state;
    write_conf("[supervisor]\nheartbeat_interval_ms = 1000\nhang_timeout_ms = 3000\n\n%s", untouched(600));
    pid_t sv = start_supervisor();
    wait_log("load: ready after", 1);
    long long echo = pid_of("echo");
    write_conf("[supervisor]\nheartbeat_interval_ms = 1000\nhang_timeout_ms = 4000\nlog_level = debug\n\n%s",
               untouched(600));
    svtest_ctl_ok(svtest_ctl(CTL_MS, "reload", NULL), "reload");
    out_has(svtest_ctl_out, "[supervisor]:");
    out_has(svtest_ctl_out, "hang_timeout_ms");
    out_lacks(svtest_ctl_out, "echo:");
    write_conf("[supervisor]\ncontrol_socket = %s.other\n\n%s", ctl_path, untouched(600));
    int code = svtest_ctl(CTL_MS, "reload", NULL);
    if (code != 2)
        fail_msg("a new control_socket was not refused (exit %d):\n%s%s", code, svtest_ctl_out, svtest_ctl_err);
    out_has(svtest_ctl_err, "control_socket");
    /* Reload after reload while the modules run on: nothing piles up. */
    for (int k = 12; k >= 0; k--) {
        write_conf("[supervisor]\nheartbeat_interval_ms = 1000\nhang_timeout_ms = %d\nlog_level = debug\n\n%s",
                   4000 + k, untouched(600));
        svtest_ctl_ok(svtest_ctl(CTL_MS, "reload", NULL), "one reload of many");
    }
    /* Running modules beat at the interval they started with: a hang
     * timeout below it would kill them, and is refused. */
    write_conf("[supervisor]\nheartbeat_interval_ms = 50\nhang_timeout_ms = 60\n\n%s", untouched(600));
    code = svtest_ctl(CTL_MS, "reload", NULL);
    if (code != 2)
        fail_msg("a hang timeout below the running modules' beat was not refused (exit %d):\n%s%s", code,
                 svtest_ctl_out, svtest_ctl_err);
    out_has(svtest_ctl_err, "that the running module echo was started with");
    /* Nothing changed: the same file again says so. */
    write_conf("[supervisor]\nheartbeat_interval_ms = 1000\nhang_timeout_ms = 4000\nlog_level = debug\n\n%s",
               untouched(600));
    svtest_ctl_ok(svtest_ctl(CTL_MS, "reload", "--check", NULL), "reload --check");
    out_has(svtest_ctl_out, "nothing changed");
    assert_int_equal(pid_of("echo"), echo);
    assert_int_equal(count_started("echo"), 1);
    assert_int_equal(stop_supervisor(sv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_reload_under_load, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_reload_supervisor_settings, svtest_kill_leftover),
    };
    return cmocka_run_group_tests(tests, svtest_setup, svtest_teardown);
}
