/* SPDX-License-Identifier: MIT */
/* Attacks from inside: a module that knows libmodule's internals
 * (modules/attacker.c) against the real uipc-supervisor and honest peers,
 * one attack per case, each with real processes:
 * - jam (as client, as server): every fd made blocking, every bell sender
 *   filled, "ring my bell" claimed in every side, no more beats.  The
 *   supervisor must keep answering (uipcctl status while it is jammed),
 *   kill it as hung, restart it; the next incarnation works and no honest
 *   peer dies.  With the eventfd bells of old this blocked the supervisor
 *   for good;
 * - frame: a client keeps its submit FIFO's tail at head + 1 for three
 *   hang timeouts while it beats: its server is not killed, the server's
 *   other client sees nothing;
 * - status: a live server answers -UIPC_EPEERDIED, through its handler and
 *   raw past libmodule's clamp: the caller sees -UIPC_EBADSTATUS, never
 *   "peer died", and the stats count no peer_died while the server lives.
 * Every case also checks the supervisor's longest loop turn (uipcctl
 * status: loop_max_ms), its clean exit, and who the log names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "svtest.h"

#define HANG_MS 1000
/* A supervisor turn that blocked on a module would never end; a healthy
 * one takes a few ms.  Under valgrind everything is slower. */
#define LOOP_MAX_MS svtest_ms(1000)

/* The test fails saying what, the whole log on stderr first (cmocka cuts
 * its messages short). */
__attribute__((format(printf, 1, 2))) static void fail_log(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "the supervisor's log:\n%s\n", read_log());
    fail_msg("%s", msg);
}
#define expect(cond, ...) do { if (!(cond)) fail_log(__VA_ARGS__); } while (0)
#define expect_num(got, want) do { long long g_ = (got), w_ = (want); \
        expect(g_ == w_, "%s is %lld, not %lld (%s)", #got, g_, w_, #want); } while (0)

/* uipcctl --json status, which must answer within timeout_ms; the
 * supervisor's longest loop turn so far. */
static long long status_loop_max(unsigned timeout_ms)
{
    char obj[256];
    svtest_ctl_ok(svtest_ctl(timeout_ms, "--json", "status", NULL), "--json status");
    const char *sup = strstr(svtest_ctl_out, "\"supervisor\": {");
    if (!sup)
        fail_msg("no supervisor object in:\n%s", svtest_ctl_out);
    snprintf(obj, sizeof(obj), "%s", sup);
    return json_num(obj, "loop_max_ms");
}

static void expect_loop_ok(void)
{
    long long loop_max = status_loop_max(svtest_ms(2000));
    expect(loop_max < LOOP_MAX_MS, "loop_max_ms %lld (bound %u)", loop_max, LOOP_MAX_MS);
}

/* One module's entry of the last status. */
static long long module_num(const char *name, const char *key)
{
    char obj[1024];
    json_obj(svtest_ctl_out, "name", name, obj, sizeof(obj));
    return json_num(obj, key);
}

/* The channel of service from uipcctl --json stats (which must answer). */
static long long channel_num(const char *service, const char *key)
{
    char obj[2048];
    svtest_ctl_ok(svtest_ctl(svtest_ms(5000), "--json", "stats", NULL), "--json stats");
    json_obj(svtest_ctl_out, "service", service, obj, sizeof(obj));
    return json_num(obj, key);
}

/* The end of every case: the supervisor's loop never stalled, the honest
 * modules started once and were never judged hung, the attacker started
 * `attacker_starts` times, the supervisor stops cleanly. */
static void finish(pid_t sv, const char *const honest[], int attacker_starts)
{
    long long loop_max = status_loop_max(svtest_ms(5000));
    print_message("loop_max_ms %lld, loop_turns %lld\n", loop_max,
                  json_num(strstr(svtest_ctl_out, "\"supervisor\""), "loop_turns"));
    expect(loop_max < LOOP_MAX_MS, "the supervisor's longest loop turn took %lld ms (bound %u)", loop_max,
           LOOP_MAX_MS);
    const char *log = read_log();
    char needle[128];
    for (int k = 0; honest[k]; k++) {
        expect(module_num(honest[k], "restarts") == 0, "%s restarted %lld times", honest[k],
               module_num(honest[k], "restarts"));
        snprintf(needle, sizeof(needle), " %s: started, pid", honest[k]); /* not fdsrv for srv */
        expect(count(log, needle) == 1, "%s started %d times", honest[k], count(log, needle));
        snprintf(needle, sizeof(needle), " %s: hung", honest[k]);
        log_lacks(needle);
    }
    expect(count(log, " attacker: started, pid") == attacker_starts, "the attacker started %d times, not %d",
           count(log, " attacker: started, pid"), attacker_starts);
    log_lacks("broke the protocol"); /* nobody was blamed for a violation */
    int st = stop_supervisor(sv);
    expect(st == 0, "the supervisor's wait status on stop is %#x, not 0", st);
    log_lacks("CHAOS-ANOMALY");
    log_lacks("BAD REQUEST");
    log_lacks("Sanitizer");     /* ASan, TSan, LSan reports from any module */
    log_lacks("runtime error"); /* UBSan's */
}

/* The attacker attacks once, then behaves: the file says it did.  In the
 * state directory, which its config makes writable. */
static const char *statefile(const char *name)
{
    static char path[320];
    snprintf(path, sizeof(path), "%s/attacker-%s", svtest_state_dir(), name);
    unlink(path);
    return path;
}

/* A chaos-server serving the services in provides (comma-separated). */
static const char *server_section(const char *name, const char *args, const char *provides)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "[module %s]\nexec = %s\nargs = %s\nprovides = %s\nrestart = always\n", name,
             env_path("UIPC_CHAOS_SERVER"), args, provides);
    return buf;
}

#define SUPERVISOR_SECTION "[supervisor]\nheartbeat_interval_ms = 50\nhang_timeout_ms = 1000\n"

/* ---- jam ---- */

/* Right after the attack line, and again once the supervisor has rung
 * the jammed bell (it rings a module whose beat is a heartbeat interval
 * old; the hang kill comes at 1000 ms): it answers at once, and its loop
 * has not stalled. */
static void answers_while_jammed(void)
{
    long long loop_max = status_loop_max(svtest_ms(2000));
    print_message("right after the jam: loop_max_ms %lld\n", loop_max);
    expect(loop_max < LOOP_MAX_MS, "loop_max_ms %lld while jammed (bound %u)", loop_max, LOOP_MAX_MS);
    sleep_ms(svtest_ms(300));
    loop_max = status_loop_max(svtest_ms(2000));
    print_message("300 ms into the jam: loop_max_ms %lld\n", loop_max);
    expect(loop_max < LOOP_MAX_MS, "loop_max_ms %lld while jammed (bound %u)", loop_max, LOOP_MAX_MS);
}

static void test_jam_client(void **state)
{
    (void)state;
    /* the attacker calls srv (a uipc_run loop) and fdsrv (asleep in epoll
     * on its bell, which the attacker fills through its sender, made
     * blocking) */
    write_conf(SUPERVISOR_SECTION "%s"
               "[module fdsrv]\nexec = %s\nprovides = echo\n"
               "policy = none\n; its own epoll loop, not in base.policy\n"
               "[module good]\nexec = %s\nargs = beta\nconnects = beta\nafter = srv\n"
               "[module attacker]\nexec = %s\nargs = client jam %s\nconnects = alpha, echo\nwritable = %s\n"
               "after = srv, fdsrv\nbackoff_ms = 10\n",
               server_section("srv", "alpha beta", "alpha, beta"), env_path("UIPC_FD_SERVER"),
               env_path("UIPC_CHAOS_CLIENT"), env_path("UIPC_ATTACKER"), statefile("jam-client"), svtest_state_dir());
    pid_t sv = start_supervisor();
    wait_log("attacker: jammed as client", 1);
    answers_while_jammed();
    log_has("one async call issued");
    wait_log("attacker: hung: no heartbeat", 1);
    wait_log("attacker: honest again: 100 calls ok", 1);
    expect_num(count(read_log(), ": hung: "), 1); /* the attacker's verdict, no one else's */
    sleep_ms(svtest_ms(300)); /* good goes on calling its server */
    static const char *const honest[] = { "srv", "fdsrv", "good", NULL };
    finish(sv, honest, 2);
    log_has("good: chaos-client: 0 anomalies");
    log_has("fdsrv: fd-server: stopping after"); /* it answered the stop request itself */
}

static void test_jam_server(void **state)
{
    (void)state;
    write_conf(SUPERVISOR_SECTION
               "[module attacker]\nexec = %s\nargs = server jam %s\nprovides = alpha\nbackoff_ms = 10\nwritable = %s\n"
               "[module client]\nexec = %s\nargs = alpha\nconnects = alpha\nafter = attacker\n",
               env_path("UIPC_ATTACKER"), statefile("jam-server"), svtest_state_dir(), env_path("UIPC_CHAOS_CLIENT"));
    pid_t sv = start_supervisor();
    wait_log("attacker: jammed as server", 1);
    answers_while_jammed();
    long long ok_jammed = channel_num("alpha", "ok");
    wait_log("attacker: hung: no heartbeat", 1);
    wait_log("attacker: serving honestly", 1);
    expect_num(count(read_log(), ": hung: "), 1); /* the attacker's verdict, no one else's */
    /* the client is served again by the next incarnation */
    long long ok = ok_jammed;
    for (unsigned i = 0; i < svtest_ms(1000) && ok <= ok_jammed + 100; i++) {
        sleep_ms(20);
        ok = channel_num("alpha", "ok");
    }
    print_message("alpha: ok %lld when jammed, %lld after the restart\n", ok_jammed, ok);
    expect(ok > ok_jammed + 100, "alpha: ok %lld when jammed, only %lld since", ok_jammed, ok);
    expect_num(channel_num("alpha", "violations"), 0);
    static const char *const honest[] = { "client", NULL };
    finish(sv, honest, 2);
    log_has("client: chaos-client: 0 anomalies");
}

/* ---- frame ---- */

static void test_frame(void **state)
{
    (void)state;
    unsigned frame_ms = 3 * svtest_ms(HANG_MS);
    write_conf(SUPERVISOR_SECTION "%s"
               "[module good]\nexec = %s\nargs = beta\nconnects = beta\nafter = srv\n"
               "[module attacker]\nexec = %s\nargs = client frame %s\nconnects = alpha\nafter = srv\nwritable = %s\n"
               "backoff_ms = 10\nenv = ATTACKER_FRAME_MS=%u\n",
               server_section("srv", "alpha beta", "alpha, beta"), env_path("UIPC_CHAOS_CLIENT"),
               env_path("UIPC_ATTACKER"), statefile("frame"), svtest_state_dir(), frame_ms);
    pid_t sv = start_supervisor();
    wait_log("attacker: framing alpha", 1);
    expect_loop_ok();
    wait_log("attacker: framing done", 1);
    /* the framed channel still works: the framer itself turns honest */
    wait_log("attacker: honest again: 100 calls ok", 1);
    expect_num(channel_num("alpha", "violations"), 0);
    expect_num(channel_num("beta", "peer_died"), 0);
    static const char *const honest[] = { "srv", "good", NULL };
    finish(sv, honest, 1);
    log_lacks(": hung"); /* nobody at all */
    log_has("good: chaos-client: 0 anomalies");
}

/* ---- status ---- */

struct tally {
    unsigned long calls, ok, badstatus, peer_died, timed_out, other;
};

/* The honest caller's newest "honest-caller: ... N calls: ..." line. */
static bool last_tally(struct tally *t)
{
    const char *log = read_log(), *p = log, *last = NULL;
    while ((p = strstr(p, " calls: ok "))) {
        last = p;
        p++;
    }
    if (!last)
        return false;
    while (last > log && last[-1] != ' ')
        last--;
    return sscanf(last, "%lu calls: ok %lu, badstatus %lu, peer_died %lu, timed_out %lu, other %lu", &t->calls,
                  &t->ok, &t->badstatus, &t->peer_died, &t->timed_out, &t->other) == 6;
}

static void wait_tally(struct tally *t, bool (*enough)(const struct tally *))
{
    for (unsigned i = 0; i < svtest_ms(3000); i++) {
        if (last_tally(t) && enough(t))
            return;
        sleep_ms(10);
    }
    const char *log = read_log();
    size_t len = strlen(log);
    fail_msg("the caller's counts never got there; the log ends:\n%s", log + (len > 2000 ? len - 2000 : 0));
}

static bool lied_to(const struct tally *t) { return t->badstatus >= 150; }
static bool served_again(const struct tally *t) { return t->ok >= 100; }

static void test_status(void **state)
{
    (void)state;
    char timeout[64];
    snprintf(timeout, sizeof(timeout), "ATTACKER_TIMEOUT_MS=%u", svtest_ms(5000));
    write_conf(SUPERVISOR_SECTION
               "[module attacker]\nexec = %s\nargs = server status %s\nprovides = alpha\nbackoff_ms = 10\nwritable = %s\n"
               "[module caller]\nexec = %s\nargs = caller alpha\nconnects = alpha\nafter = attacker\n"
               "env = %s\n",
               env_path("UIPC_ATTACKER"), statefile("status"), svtest_state_dir(), env_path("UIPC_ATTACKER"), timeout);
    pid_t sv = start_supervisor();
    wait_log("attacker: answered -10001", 1);
    struct tally t;
    wait_tally(&t, lied_to); /* 100 lies, and 50 more through the handler */
    print_message("under the attack: %lu calls: ok %lu, badstatus %lu, peer_died %lu, timed_out %lu, other %lu\n",
                  t.calls, t.ok, t.badstatus, t.peer_died, t.timed_out, t.other);
    /* every answer was the lie, and every lie came out as EBADSTATUS */
    expect_num(t.ok, 0);
    expect_num(t.peer_died, 0);
    expect_num(t.timed_out, 0);
    expect_num(t.other, 0);
    expect_num(t.badstatus, t.calls);
    log_has("honest-caller: first badstatus (status -10006");
    log_lacks("honest-caller: first peer_died");
    /* the supervisor's stats agree: no peer died while the server lives */
    long long calls = channel_num("alpha", "calls");
    expect(calls >= 150, "alpha: %lld calls", calls);
    expect_num(channel_num("alpha", "peer_died"), 0);
    print_message("stats of alpha under the attack: calls %lld, ok %lld, peer_died %lld\n", calls,
                  channel_num("alpha", "ok"), channel_num("alpha", "peer_died"));
    expect_num(channel_num("alpha", "proto"), 0);
    expect_num(channel_num("alpha", "violations"), 0);
    expect_loop_ok();
    expect_num(module_num("attacker", "restarts"), 0);
    log_lacks("honest-caller: first peer_died");
    /* the next incarnation serves honestly */
    svtest_ctl_ok(svtest_ctl(svtest_ms(5000), "restart", "attacker", NULL), "restart attacker");
    wait_log("attacker: serving honestly", 1);
    wait_tally(&t, served_again);
    expect_num(t.other, 0);
    expect_num(t.timed_out, 0);
    print_message("after the restart: %lu calls: ok %lu, badstatus %lu, peer_died %lu\n", t.calls, t.ok,
                  t.badstatus, t.peer_died);
    log_lacks(": hung"); /* nobody at all */
    static const char *const honest[] = { "caller", NULL };
    finish(sv, honest, 2);
    log_has("honest-caller: stopping after");
    expect(last_tally(&t), "no count from the caller");
    expect_num(t.other, 0);
    expect_num(t.timed_out, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_jam_client, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_jam_server, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_frame, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_status, svtest_kill_leftover),
    };
    return cmocka_run_group_tests(tests, svtest_setup, svtest_teardown);
}
