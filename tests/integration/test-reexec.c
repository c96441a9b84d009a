/* SPDX-License-Identifier: MIT */
/* In-place upgrade (supervisor/sv-reexec.c, sv-state.c): `uipcctl reexec`
 * and SIGUSR2 under load.  The supervisor executes its binary again 20
 * times while a client makes sync and async calls to a server, a chaos
 * client keeps calls going to a server in pid and mount namespaces, and
 * one module is killed in between: module pids unchanged but the killed
 * one's, zero errors on the untouched channels, the supervisor's pid the
 * same and its generation 21 (+1 for SIGUSR2), restart counts and
 * uptimes carried over, no fd piling up in the supervisor.  A binary that
 * reads another state format, and a config file edited since it was
 * loaded, are refused and the supervisor goes on. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "svtest.h"

#define CTL_MS 10000

struct sv_st {
    long long pid, generation, uptime_ms;
};

static void supervisor_status(struct sv_st *st)
{
    svtest_ctl_ok(svtest_ctl(CTL_MS, "--json", "status", NULL), "status");
    const char *sup = strstr(svtest_ctl_out, "\"supervisor\": {");
    if (!sup)
        fail_msg("no supervisor object in:\n%s", svtest_ctl_out);
    char obj[512];
    snprintf(obj, sizeof(obj), "%s", sup + strlen("\"supervisor\": "));
    st->pid = json_num(obj, "pid");
    st->generation = json_num(obj, "generation");
    st->uptime_ms = json_num(obj, "uptime_ms");
}

/* The supervisor's generation, or 0 while it does not answer (a request
 * the old generation took as it went is dropped with it). */
static long long generation_now(void)
{
    if (svtest_ctl(CTL_MS, "--json", "status", NULL) != 0)
        return 0;
    const char *g = strstr(svtest_ctl_out, "\"generation\": ");
    return g ? atoll(g + strlen("\"generation\": ")) : 0;
}

/* uipcctl reexec, again while a module is being started or reaped (then
 * it says to try again). */
static void reexec_once(int want)
{
    for (int tries = 0; tries < 100; tries++, sleep_ms(20)) {
        int code = svtest_ctl(CTL_MS, "reexec", NULL);
        if (code != 0 && strstr(svtest_ctl_err, "try again"))
            continue;
        svtest_ctl_ok(code, "reexec");
        char said[32];
        snprintf(said, sizeof(said), "generation %d", want);
        if (!strstr(svtest_ctl_out, said))
            fail_msg("uipcctl reexec said \"%s\", not \"%s\"", svtest_ctl_out, said);
        return;
    }
    fail_msg("reexec was refused for 2 s: %s", svtest_ctl_err);
}

static long long module_num(const char *name, const char *key)
{
    char obj[1024];
    svtest_ctl_ok(svtest_ctl(CTL_MS, "--json", "status", NULL), "status");
    json_obj(svtest_ctl_out, "name", name, obj, sizeof(obj));
    return json_num(obj, key);
}

static void write_modules(unsigned load_s)
{
    write_conf("[supervisor]\nshutdown_timeout_ms = 2000\n\n"
               "[module echo]\nexec = %s\nprovides = echo\n\n"
               "[module load]\nexec = %s\nconnects = echo:32x256\nafter = echo\nrestart = never\n"
               "env = LOAD_SECONDS=%u\n\n"
               "[module nsserver]\nexec = %s\nargs = nsvc\nprovides = nsvc\nnamespaces = pid mount ipc uts\n\n"
               "[module nsclient]\nexec = %s\nargs = nsvc\nconnects = nsvc:8x1024\nafter = nsserver\n\n"
               "[module victim]\nexec = %s\nargs = vsvc 0\nprovides = vsvc\nrestart = always\nbackoff_ms = 10\n",
               env_path("UIPC_ECHO_SERVER"), env_path("UIPC_LOAD_CLIENT"), load_s, env_path("UIPC_CHAOS_SERVER"),
               env_path("UIPC_CHAOS_CLIENT"), env_path("UIPC_BUSY_SERVER"));
}

static void test_reexec_under_load(void **state)
{
    (void)state;
    if (svtest_valgrind()) {
        print_message("valgrind: skipped (a supervisor under valgrind executes its binary natively)\n");
        skip();
    }
    write_modules(12);
    pid_t sv = start_supervisor();
    wait_log("load: ready after", 1);
    wait_log("nsclient: ready after", 1);
    wait_log("victim: ready after", 1);
    pid_t echo = latest_pid("echo"), load = latest_pid("load"), nss = latest_pid("nsserver"),
          nsc = latest_pid("nsclient"), victim = latest_pid("victim");
    struct sv_st st;
    supervisor_status(&st);
    long long supervisor = st.pid; /* the keeper's child: sv is the keeper */
    assert_int_not_equal(st.pid, sv);
    assert_int_equal(st.generation, 1);
    int fds_before = -1;
    long long echo_up = module_num("echo", "uptime_ms");
    for (int k = 0; k < 20; k++) {
        reexec_once(k + 2);
        if (k == 0)
            fds_before = svtest_fd_count((pid_t)supervisor);
        if (k == 10) { /* a death between two generations: noticed, reaped, restarted once */
            assert_true(victim > 1);
            assert_int_equal(kill(victim, SIGKILL), 0);
            wait_log("victim: started, pid", 2);
        }
    }
    kill(sv, SIGUSR2);
    for (int i = 0; i < 200 && generation_now() != 22; i++)
        sleep_ms(20);
    supervisor_status(&st);
    assert_int_equal(st.generation, 22);
    assert_int_equal(st.pid, supervisor); /* a reexec keeps the process */
    /* No fd piles up: 21 generations later the supervisor holds no more
     * than after the first (a control connection being closed may be
     * counted a moment longer, either time). */
    int fds_after = svtest_fd_count((pid_t)supervisor);
    for (int i = 0; i < 100 && fds_after > fds_before; i++, sleep_ms(20))
        fds_after = svtest_fd_count((pid_t)supervisor);
    if (fds_after > fds_before)
        fail_msg("the supervisor holds %d fds after 21 reexecs, %d after the first", fds_after, fds_before);
    assert_true(module_num("echo", "uptime_ms") >= echo_up);
    assert_int_equal(module_num("echo", "restarts"), 0);
    assert_int_equal(module_num("victim", "restarts"), 1);
    long long pids[] = { echo, load, nss, nsc };
    const char *names[] = { "echo", "load", "nsserver", "nsclient" };
    for (int k = 0; k < 4; k++)
        if (module_num(names[k], "pid") != pids[k] && !(k == 1 && module_num("load", "pid") == 0))
            fail_msg("%s's pid changed across the reexecs:\n%s", names[k], read_log());
    wait_log("load: exited with code 0", 1);
    const char *line = strstr(read_log(), "load: load: issued");
    assert_non_null(line);
    char figures[256];
    snprintf(figures, sizeof(figures), "%.*s", (int)strcspn(line, "\n"), line);
    print_message("during 21 reexecs: %s\n", figures);
    if (!strstr(figures, "peer-died 0,") || !strstr(figures, "wrong 0;"))
        fail_msg("the client of the untouched server saw errors: %s", figures);
    log_lacks("CHAOS-ANOMALY");
    assert_int_equal(count(read_log(), "echo: started, pid"), 1);
    assert_int_equal(count(read_log(), "nsserver: started, pid"), 1);
    assert_int_equal(stop_supervisor(sv), 0);
}

/* The supervisor killed with SIGKILL, 20 times in a row under the same
 * load, once with a module killed while no supervisor ran: the keeper
 * starts a new one from its last checkpoint each time, within a second;
 * no module restarted but the one killed (its client answered exactly
 * once: chaos-client checks), no error on the untouched channel, no fd
 * piling up in the keeper, nothing left after SIGTERM. */
static void test_supervisor_kill9_under_load(void **state)
{
    (void)state;
    if (svtest_valgrind()) {
        print_message("valgrind: skipped (a new supervisor is started natively)\n");
        skip();
    }
    write_modules(12);
    pid_t keeper = start_supervisor();
    wait_log("load: ready after", 1);
    wait_log("nsclient: ready after", 1);
    wait_log("victim: ready after", 1);
    pid_t echo = latest_pid("echo"), load = latest_pid("load"), nsc = latest_pid("nsclient");
    int keeper_fds = -1;
    uint64_t worst_ms = 0;
    for (int k = 0; k < 20; k++) {
        struct sv_st st;
        supervisor_status(&st);
        assert_int_not_equal(st.pid, keeper);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        /* (a pid of 0 or -1 would be our own process group, or everyone) */
        if (st.pid <= 1)
            fail_msg("status names supervisor pid %lld:\n%s", st.pid, svtest_ctl_out);
        long long nss = k == 10 ? module_num("nsserver", "pid") : 0;
        assert_int_equal(kill((pid_t)st.pid, SIGKILL), 0);
        if (nss > 1) /* while no supervisor runs, if the keeper is not faster */
            kill((pid_t)nss, SIGKILL);
        if (k == 5) { /* the next one too, as soon as it exists: maybe before it checkpointed */
            pid_t next;
            do
                next = svtest_supervisor_pid(keeper);
            while (next == (pid_t)st.pid);
            if (next > 1)
                kill(next, SIGKILL);
        }
        /* one generation more (the double kill: two, or one when the second
         * died before its first checkpoint, which then never counted) */
        long long want = st.generation + 1;
        for (int i = 0; i < 500 && generation_now() < want; i++)
            sleep_ms(2);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        uint64_t ms = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (uint64_t)(t1.tv_nsec - t0.tv_nsec) / 1000000;
        worst_ms = ms > worst_ms ? ms : worst_ms;
        if (generation_now() < want)
            fail_msg("no supervisor of generation %lld after the kill:\n%s", want, read_log());
        if (k == 0)
            keeper_fds = svtest_fd_count(keeper);
    }
    print_message("20 supervisor kills: the next one answered within %llu ms each\n", (unsigned long long)worst_ms);
    int fds = svtest_fd_count(keeper);
    for (int i = 0; i < 100 && fds > keeper_fds; i++, sleep_ms(20))
        fds = svtest_fd_count(keeper);
    if (fds > keeper_fds)
        fail_msg("the keeper holds %d fds after 20 supervisor kills, %d after the first", fds, keeper_fds);
    if (module_num("echo", "pid") != echo || module_num("nsclient", "pid") != nsc) {
        const char *log = read_log();
        size_t len = strlen(log);
        fail_msg("a module not killed on purpose has another pid now; the log ends:\n%s",
                 log + (len > 3000 ? len - 3000 : 0));
    }
    assert_int_equal(module_num("echo", "restarts"), 0);
    wait_log("nsserver: started, pid", 2); /* after its backoff */
    /* once, or again if a supervisor died while starting it (then the next
     * one kills the child it cannot follow, and starts it anew) */
    assert_true(module_num("nsserver", "restarts") >= 1);
    assert_int_equal(count(read_log(), "victim: started, pid"), 1);
    wait_log("load: exited with code 0", 1);
    (void)load;
    const char *line = strstr(read_log(), "load: load: issued");
    assert_non_null(line);
    char figures[256];
    snprintf(figures, sizeof(figures), "%.*s", (int)strcspn(line, "\n"), line);
    print_message("during 20 supervisor kills: %s\n", figures);
    if (!strstr(figures, "peer-died 0,") || !strstr(figures, "wrong 0;"))
        fail_msg("the client of the untouched server saw errors: %s", figures);
    log_lacks("CHAOS-ANOMALY");
    assert_int_equal(stop_supervisor(keeper), 0);
    expect_gone(echo);
    expect_gone(nsc);
}

/* A binary that reads another state format, and a config file that no
 * longer is what the supervisor runs: refused, and it goes on. */
static void test_reexec_refused(void **state)
{
    (void)state;
    if (svtest_valgrind()) {
        print_message("valgrind: skipped (a supervisor under valgrind executes its binary natively)\n");
        skip();
    }
    char copy[400], cmd[1000];
    snprintf(copy, sizeof(copy), "%s/uipc-supervisor", dir);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", env_path("UIPC_SUPERVISOR"), copy);
    assert_int_equal(system(cmd), 0);
    const char *orig = getenv("UIPC_SUPERVISOR");
    char saved[400];
    snprintf(saved, sizeof(saved), "%s", orig);
    setenv("UIPC_SUPERVISOR", copy, 1);
    /* (a copy outside the build tree looks for the installed default policy) */
    write_conf("[supervisor]\npolicy_dir = %s\n[module echo]\nexec = %s\nprovides = echo\n", env_path("UIPC_POLICIES"),
               env_path("UIPC_ECHO_SERVER"));
    pid_t sv = start_supervisor();
    setenv("UIPC_SUPERVISOR", saved, 1);
    wait_log("echo: ready after", 1);
    pid_t echo = latest_pid("echo");

    /* The config file edited since it was loaded. */
    write_conf("[supervisor]\npolicy_dir = %s\n[module echo]\nexec = %s\nprovides = echo\nbackoff_ms = 200\n",
               env_path("UIPC_POLICIES"), env_path("UIPC_ECHO_SERVER"));
    int code = svtest_ctl(CTL_MS, "reexec", NULL);
    if (code != 1 || !strstr(svtest_ctl_err, "changed since it was loaded"))
        fail_msg("reexec with an edited config: exit %d\n%s%s", code, svtest_ctl_out, svtest_ctl_err);
    write_conf("[supervisor]\npolicy_dir = %s\n[module echo]\nexec = %s\nprovides = echo\n", env_path("UIPC_POLICIES"),
               env_path("UIPC_ECHO_SERVER"));

    /* The installed binary replaced by one of another state format. */
    assert_int_equal(unlink(copy), 0);
    write_script("uipc-supervisor", "#!/bin/sh\necho uipc-state 999\n");
    code = svtest_ctl(CTL_MS, "reexec", NULL);
    if (code != 1 || !strstr(svtest_ctl_err, "reads state format 999"))
        fail_msg("reexec to another state format: exit %d\n%s%s", code, svtest_ctl_out, svtest_ctl_err);
    struct sv_st st;
    supervisor_status(&st);
    assert_int_equal(st.generation, 1);
    assert_int_equal(module_num("echo", "pid"), echo);
    assert_int_equal(stop_supervisor(sv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_reexec_under_load, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_reexec_refused, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_supervisor_kill9_under_load, svtest_kill_leftover),
    };
    return cmocka_run_group_tests(tests, svtest_setup, svtest_teardown);
}
