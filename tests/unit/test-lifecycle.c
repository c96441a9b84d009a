/* SPDX-License-Identifier: MIT */
/* supervisor/lifecycle.c with a fake clock and no process: the restart
 * intensity window, backoff doubling and its cap, an operator's restart
 * not counted as a death, drain holding restarts, reverse shutdown order,
 * a one-shot module's clean exit counting as ready for its dependents,
 * hang and violation kills with their reasons, the stop escalation, and
 * the table itself: consistent cell by cell, and the one printed in
 * docs/architecture.md (its path is argv[1]). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lifecycle.h"

static const char *doc_path;

static uint64_t deaths[64];
static struct lc_mod m;
static struct lc_policy pol;
static struct lc_ctx ctx;

static int setup(void **s)
{
    (void)s;
    pol = (struct lc_policy){ LC_RESTART_ALWAYS, 5, 60, 100, 5000 };
    ctx = (struct lc_ctx){ .now = 1000000, .shutdown_timeout_ms = 2000, .spawn_timeout_ms = 10000 };
    lc_init(&m, deaths, pol.max_restarts + 1);
    return 0;
}

static struct lc_step ev(enum lc_event e)
{
    return lc_apply(&m, &pol, &ctx, (struct lc_in){ .ev = e });
}

static struct lc_step exited(bool clean)
{
    return lc_apply(&m, &pol, &ctx, (struct lc_in){ .ev = LE_EXITED, .clean = clean });
}

/* Waiting -> spawning -> starting -> ready. */
static void bring_up(void)
{
    struct lc_step st = ev(LE_DEPS_READY);
    assert_int_equal(st.to, LC_SPAWNING);
    assert_true(st.effects & LX_SPAWN);
    assert_int_equal(ev(LE_SPAWNED).to, LC_STARTING);
    assert_int_equal(m.since_ms, ctx.now);
    assert_int_equal(ev(LE_READY).to, LC_READY);
}

/* From backoff, its deadline reached, to ready again. */
static void restart_from_backoff(void)
{
    ctx.now = m.deadline_ms;
    assert_true(lc_due(&m, &ctx));
    struct lc_step st = ev(LE_TIMER);
    assert_int_equal(st.to, LC_SPAWNING);
    assert_true(st.effects & LX_SPAWN);
    assert_int_equal(ev(LE_SPAWNED).to, LC_STARTING);
    assert_int_equal(ev(LE_READY).to, LC_READY);
}

static void test_backoff_doubles_to_its_cap(void **s)
{
    (void)s;
    pol.max_restarts = 10;
    pol.backoff_max_ms = 1000;
    lc_init(&m, deaths, pol.max_restarts + 1);
    bring_up();
    static const unsigned want[] = { 100, 200, 400, 800, 1000, 1000, 1000 };
    for (unsigned k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        struct lc_step st = exited(false);
        assert_int_equal(st.to, LC_BACKOFF);
        assert_true(st.effects & LX_RECLAIM);
        assert_int_equal(st.note, LN_RESTART_IN);
        assert_int_equal(st.delay_ms, want[k]);
        assert_int_equal(m.deadline_ms, ctx.now + want[k]);
        ctx.now += want[k] - 1;
        assert_false(lc_due(&m, &ctx));
        ctx.now++;
        restart_from_backoff();
    }
}

static void test_intensity_window(void **s)
{
    (void)s;
    pol.max_restarts = 2;
    pol.window_s = 10;
    lc_init(&m, deaths, pol.max_restarts + 1);
    bring_up();
    /* Deaths 11 s apart never add up. */
    for (int k = 0; k < 5; k++) {
        struct lc_step st = exited(false);
        assert_int_equal(st.to, LC_BACKOFF);
        assert_int_equal(st.recent, 1);
        restart_from_backoff();
        ctx.now += 11000;
    }
    /* Three within 10 s: given up. */
    assert_int_equal(exited(false).to, LC_BACKOFF);
    restart_from_backoff();
    assert_int_equal(exited(false).to, LC_BACKOFF);
    restart_from_backoff();
    struct lc_step st = exited(false);
    assert_int_equal(st.to, LC_FAILED);
    assert_int_equal(st.note, LN_GIVEN_UP);
    assert_int_equal(st.recent, 3);
    assert_int_equal(lc_deadline(&m, &ctx), UINT64_MAX);
    /* The operator's start begins the count anew. */
    st = ev(LE_START);
    assert_int_equal(st.to, LC_SPAWNING);
    assert_true(st.effects & LX_FRESH);
    assert_int_equal(m.ndeaths, 0);
}

static void test_operator_restart_not_counted(void **s)
{
    (void)s;
    bring_up();
    struct lc_step st = ev(LE_RESTART);
    assert_int_equal(st.to, LC_STOPPING);
    assert_true(st.effects & LX_STOP_WORD);
    assert_int_equal(m.want, LW_RESTART);
    st = exited(true);
    assert_int_equal(st.to, LC_SPAWNING);
    assert_true(st.effects & LX_SPAWN);
    assert_true(st.effects & LX_RECLAIM);
    assert_int_equal(st.note, LN_OPERATOR_RESTART);
    assert_int_equal(m.ndeaths, 0);
    assert_int_equal(m.want, LW_UP);
    /* Killed as hung while being restarted: still at once, not counted. */
    assert_int_equal(ev(LE_SPAWNED).to, LC_STARTING);
    assert_int_equal(ev(LE_RESTART).to, LC_STOPPING);
    assert_int_equal(exited(false).to, LC_SPAWNING);
    assert_int_equal(m.ndeaths, 0);
}

static void test_operator_stop_holds(void **s)
{
    (void)s;
    bring_up();
    assert_int_equal(ev(LE_STOP).to, LC_STOPPING);
    struct lc_step st = exited(false);
    assert_int_equal(st.to, LC_STOPPED);
    assert_int_equal(st.note, LN_HELD);
    assert_false(st.effects & LX_SPAWN);
    /* A start while it runs is refused and changes nothing. */
    assert_int_equal(ev(LE_START).to, LC_SPAWNING);
    ev(LE_SPAWNED);
    st = ev(LE_START);
    assert_true(st.effects & LX_REFUSE);
    assert_int_equal(m.state, LC_STARTING);
    assert_false(lc_accepts(LC_READY, LE_START));
    /* Stopped while in backoff: never restarted. */
    exited(false);
    assert_int_equal(m.state, LC_BACKOFF);
    assert_int_equal(ev(LE_STOP).to, LC_STOPPED);
    assert_int_equal(lc_deadline(&m, &ctx), UINT64_MAX);
}

static void test_drain_holds_restarts(void **s)
{
    (void)s;
    bring_up();
    exited(false);
    ctx.draining = true;
    ctx.now = m.deadline_ms + 60000;
    assert_false(lc_due(&m, &ctx));
    assert_int_equal(lc_deadline(&m, &ctx), UINT64_MAX);
    ctx.draining = false;
    assert_true(lc_due(&m, &ctx));
}

static void test_stop_escalates(void **s)
{
    (void)s;
    bring_up();
    ev(LE_STOP);
    assert_int_equal(m.deadline_ms, ctx.now + 1000);
    ctx.now += 1000;
    struct lc_step st = ev(LE_TIMER);
    assert_int_equal(st.to, LC_TERMINATING);
    assert_true(st.effects & LX_SIGTERM);
    assert_int_equal(st.note, LN_TERM);
    assert_int_equal(m.deadline_ms, ctx.now + 1000);
    ctx.now += 1000;
    st = ev(LE_TIMER);
    assert_int_equal(st.to, LC_KILLED);
    assert_true(st.effects & LX_SIGKILL);
    assert_int_equal(st.note, LN_KILL);
    assert_int_equal(lc_deadline(&m, &ctx), UINT64_MAX); /* only the reaping ends it */
    assert_false(lc_watched(m.state));
}

static void test_hang_and_violation_kills(void **s)
{
    (void)s;
    bring_up();
    assert_true(lc_watched(m.state));
    assert_false(lc_hung(ctx.now + 500, ctx.now, ctx.now, 500));
    assert_true(lc_hung(ctx.now + 501, ctx.now, ctx.now, 500));
    assert_false(lc_hung(ctx.now + 501, ctx.now + 400, ctx.now, 500)); /* it beat since */
    struct lc_step st = lc_apply(&m, &pol, &ctx, (struct lc_in){ .ev = LE_HUNG, .reason = "hung" });
    assert_int_equal(st.to, LC_KILLED);
    assert_true(st.effects & LX_SIGKILL);
    assert_string_equal(m.reason, "hung");
    assert_false(lc_watched(m.state)); /* not killed twice */
    st = exited(false);
    assert_int_equal(st.to, LC_BACKOFF);
    assert_string_equal(m.reason, "hung"); /* for the log of its death */
    restart_from_backoff();
    assert_string_equal(m.reason, "");
    /* A violation kills even a module being stopped. */
    ev(LE_STOP);
    st = lc_apply(&m, &pol, &ctx, (struct lc_in){ .ev = LE_VIOLATION, .reason = "seccomp: ptrace" });
    assert_int_equal(st.to, LC_KILLED);
    assert_string_equal(m.reason, "seccomp: ptrace");
    assert_int_equal(exited(false).to, LC_STOPPED); /* still wanted down */
}

/* restart = never: a clean exit is done (ready for dependents), a crash
 * is not; on-failure restarts the crash only. */
static void test_one_shot(void **s)
{
    (void)s;
    pol.restart = LC_RESTART_NEVER;
    bring_up();
    struct lc_step st = exited(true);
    assert_int_equal(st.to, LC_DONE);
    assert_int_equal(st.note, LN_NOT_RESTARTED);
    assert_true(lc_counts_ready(m.state));
    ev(LE_START);
    ev(LE_SPAWNED);
    assert_int_equal(exited(false).to, LC_STOPPED);
    assert_false(lc_counts_ready(m.state));
    pol.restart = LC_RESTART_ON_FAILURE;
    ev(LE_START);
    ev(LE_SPAWNED);
    assert_int_equal(exited(false).to, LC_BACKOFF);
    restart_from_backoff();
    assert_int_equal(exited(true).to, LC_DONE);
}

static void test_shutdown(void **s)
{
    (void)s;
    static uint64_t d[3][6];
    struct lc_mod mods[3];
    const struct lc_mod *ptrs[3] = { &mods[0], &mods[1], &mods[2] };
    unsigned order[3] = { 2, 0, 1 }; /* start order */
    for (int k = 0; k < 3; k++) {
        lc_init(&mods[k], d[k], 6);
        lc_apply(&mods[k], &pol, &ctx, (struct lc_in){ .ev = LE_DEPS_READY });
        lc_apply(&mods[k], &pol, &ctx, (struct lc_in){ .ev = LE_SPAWNED });
    }
    ctx.shutting_down = true;
    for (int k = 0; k < 3; k++)
        assert_int_equal(lc_apply(&mods[k], &pol, &ctx, (struct lc_in){ .ev = LE_SHUTDOWN }).to, LC_STARTING);
    /* Reverse start order, one at a time. */
    assert_int_equal(lc_next_to_stop(order, 3, ptrs), 1);
    lc_apply(&mods[1], &pol, &ctx, (struct lc_in){ .ev = LE_STOP });
    assert_int_equal(lc_next_to_stop(order, 3, ptrs), -1);
    /* One dies meanwhile: not restarted. */
    struct lc_step st = lc_apply(&mods[2], &pol, &ctx, (struct lc_in){ .ev = LE_EXITED });
    assert_int_equal(st.to, LC_STOPPED);
    assert_int_equal(st.note, LN_NONE);
    lc_apply(&mods[1], &pol, &ctx, (struct lc_in){ .ev = LE_EXITED, .clean = true });
    assert_int_equal(mods[1].state, LC_STOPPED);
    assert_int_equal(lc_next_to_stop(order, 3, ptrs), 0);
    /* Nothing starts any more. */
    assert_true(lc_apply(&mods[1], &pol, &ctx, (struct lc_in){ .ev = LE_START }).effects & LX_REFUSE);
    /* Waiting and backoff modules stop at once. */
    lc_init(&m, deaths, 6);
    assert_int_equal(ev(LE_SHUTDOWN).to, LC_STOPPED);
}

static void test_start_order(void **s)
{
    (void)s;
    /* 0 after 2, 1 after 0 and 2, 2 after nothing, 3 after 1. */
    static const unsigned a0[] = { 2 }, a1[] = { 0, 2 }, a3[] = { 1 };
    const unsigned *after[] = { a0, a1, NULL, a3 };
    const unsigned nafter[] = { 1, 2, 0, 1 };
    unsigned order[4];
    assert_int_equal(lc_start_order(4, after, nafter, order), 4);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 0);
    assert_int_equal(order[2], 1);
    assert_int_equal(order[3], 3);
    /* A cycle places what it can and says so. */
    static const unsigned c0[] = { 1 }, c1[] = { 0 };
    const unsigned *cyc[] = { c0, c1, NULL };
    assert_int_equal(lc_start_order(3, cyc, (const unsigned[]){ 1, 1, 0 }, order), 1);
}

/* Every cell, applied for real: effects fit the state they lead to. */
static void test_table_is_consistent(void **s)
{
    (void)s;
    for (unsigned st = 0; st < LC_STATES; st++) {
        for (unsigned e = 0; e < LE_EVENTS; e++) {
            setup(NULL);
            m.state = (enum lc_state)st;
            m.want = LW_UP;
            struct lc_step r = lc_apply(&m, &pol, &ctx, (struct lc_in){ .ev = (enum lc_event)e });
            assert_true(r.to < LC_STATES);
            if (r.effects & LX_REFUSE) {
                assert_int_equal(r.to, st);
                continue;
            }
            /* Only a state with a process is reaped or reclaimed. */
            if (e == LE_EXITED || (r.effects & LX_RECLAIM))
                assert_true(lc_live((enum lc_state)st));
            if (r.effects & LX_SPAWN)
                assert_int_equal(r.to, LC_SPAWNING);
            if (r.effects & (LX_SIGKILL | LX_SIGTERM | LX_STOP_WORD))
                assert_true(lc_live((enum lc_state)st) && lc_live(r.to));
            if (r.to != st && (r.to == LC_BACKOFF || r.to == LC_STOPPING || r.to == LC_TERMINATING || r.to == LC_SPAWNING))
                assert_true(m.deadline_ms > 0);
        }
    }
    for (unsigned st = 0; st < LC_STATES; st++)
        assert_true(lc_live((enum lc_state)st) == lc_accepts((enum lc_state)st, LE_EXITED));
}

static void test_doc_holds_the_table(void **s)
{
    (void)s;
    static char want[32768], doc[1 << 20];
    size_t n = lc_table_markdown(want, sizeof(want));
    assert_true(n < sizeof(want));
    FILE *f = fopen(doc_path, "re");
    assert_non_null(f);
    size_t len = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[len] = '\0';
    if (!strstr(doc, want)) {
        fprintf(stderr, "docs/architecture.md does not hold the lifecycle table; it is now:\n%s", want);
        fail();
    }
}

int main(int argc, char **argv)
{
    /* --print: the table, for docs/architecture.md */
    if (argc > 1 && strcmp(argv[1], "--print") == 0) {
        static char buf[32768];
        lc_table_markdown(buf, sizeof(buf));
        fputs(buf, stdout);
        return 0;
    }
    doc_path = argc > 1 ? argv[1] : "docs/architecture.md";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_backoff_doubles_to_its_cap, setup),
        cmocka_unit_test_setup(test_intensity_window, setup),
        cmocka_unit_test_setup(test_operator_restart_not_counted, setup),
        cmocka_unit_test_setup(test_operator_stop_holds, setup),
        cmocka_unit_test_setup(test_drain_holds_restarts, setup),
        cmocka_unit_test_setup(test_stop_escalates, setup),
        cmocka_unit_test_setup(test_hang_and_violation_kills, setup),
        cmocka_unit_test_setup(test_one_shot, setup),
        cmocka_unit_test_setup(test_shutdown, setup),
        cmocka_unit_test_setup(test_start_order, setup),
        cmocka_unit_test(test_table_is_consistent),
        cmocka_unit_test(test_doc_holds_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
