/* SPDX-License-Identifier: MIT */
/* tools/chaos-schedule.c: the fault schedule is the seed's alone,
 * within its bounds, and made only of the faults asked for; an event's wait
 * for its target ends when the next one is due; hostile faults carry an
 * attack drawn from the seed, and are not among the defaults. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "chaos-schedule.h"

#define MAX 4096
static struct chaos_event a[MAX], b[MAX];

static void test_same_seed_same_schedule(void **s)
{
    (void)s;
    unsigned na = chaos_schedule(42, 60000, 100, 3, 0x1f, a, MAX);
    unsigned nb = chaos_schedule(42, 60000, 100, 3, 0x1f, b, MAX);
    assert_true(na > 400 && na < 800); /* gaps average the interval */
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof(a[0]));
    nb = chaos_schedule(43, 60000, 100, 3, 0x1f, b, MAX);
    assert_true(nb != na || memcmp(a, b, na * sizeof(a[0])) != 0);
}

static void test_bounds(void **s)
{
    (void)s;
    unsigned faults = (1u << FAULT_KILL) | (1u << FAULT_SLOW);
    unsigned n = chaos_schedule(7, 10000, 50, 2, faults, a, MAX), seen[FAULT_COUNT] = { 0 };
    uint32_t last = 0;
    for (unsigned k = 0; k < n; k++) {
        assert_true(a[k].at_ms < 10000);
        assert_true(a[k].at_ms >= last + 25 && a[k].at_ms <= last + 75); /* [interval/2, 3*interval/2] */
        assert_true(a[k].target < 2);
        assert_true(faults & (1u << a[k].fault));
        seen[a[k].fault]++;
        last = a[k].at_ms;
    }
    assert_true(seen[FAULT_KILL] > n / 4 && seen[FAULT_SLOW] > n / 4);
    assert_int_equal(chaos_schedule(7, 10000, 50, 2, faults, a, 10), 10); /* capped */
    assert_int_equal(chaos_schedule(7, 10000, 50, 0, faults, a, MAX), 0);
    assert_int_equal(chaos_schedule(7, 10000, 50, 2, 0, a, MAX), 0);
}

/* An event waits for its target at most until the next one is due, the
 * last until the end: the waits never push the run past its duration. */
static void test_event_deadline(void **s)
{
    (void)s;
    unsigned n = chaos_schedule(7, 20000, 200, 2, 0x1f, a, MAX);
    assert_true(n > 50);
    for (unsigned k = 0; k + 1 < n; k++) {
        assert_int_equal(chaos_event_deadline(a, n, k, 20000), a[k + 1].at_ms);
        assert_true(chaos_event_deadline(a, n, k, 20000) > a[k].at_ms);
    }
    assert_int_equal(chaos_event_deadline(a, n, n - 1, 20000), 20000);
    assert_int_equal(chaos_event_deadline(a, n, 0, a[1].at_ms - 1), a[1].at_ms - 1); /* capped */
    const struct chaos_event one = { .at_ms = 100 };
    assert_int_equal(chaos_event_deadline(&one, 1, 0, 5000), 5000);
}

/* Hostile events carry an attack from the seed, spread over all five of
 * libmodule/hostile.c; other events carry none. */
static void test_hostile_attacks(void **s)
{
    (void)s;
    unsigned all = (1u << FAULT_COUNT) - 1, seen[5] = { 0 }, hostile = 0;
    unsigned n = chaos_schedule(11, 60000, 50, 2, all, a, MAX);
    assert_int_equal(chaos_schedule(11, 60000, 50, 2, all, b, MAX), n);
    assert_memory_equal(a, b, n * sizeof(a[0]));
    for (unsigned k = 0; k < n; k++) {
        if (a[k].fault != FAULT_HOSTILE) {
            assert_int_equal(a[k].attack, 0);
            continue;
        }
        hostile++;
        seen[a[k].attack % 5]++;
    }
    assert_true(hostile > n / 12); /* one in six, roughly */
    for (unsigned k = 0; k < 5; k++)
        assert_true(seen[k] > hostile / 10);
}

/* Without --faults every fault runs but hostile, and a set without hostile
 * gives the schedule it gave before hostile faults existed (these are the
 * first events of the suite's chaos run, as before). */
static void test_defaults_and_old_schedules(void **s)
{
    (void)s;
    static const struct { uint32_t at_ms; unsigned target; enum chaos_fault fault; } old[] = {
        { 65, 0, FAULT_KILL }, { 105, 0, FAULT_SEGV }, { 148, 1, FAULT_STOP }, { 225, 0, FAULT_ABORT },
        { 269, 0, FAULT_SEGV }, { 320, 0, FAULT_ABORT }, { 350, 0, FAULT_SLOW }, { 436, 1, FAULT_KILL },
    };
    assert_int_equal(CHAOS_DEFAULT_FAULTS, 0x1fu);
    assert_false(CHAOS_DEFAULT_FAULTS & (1u << FAULT_HOSTILE));
    unsigned n = chaos_schedule(20261124, 60000, 60, 2, CHAOS_DEFAULT_FAULTS, a, 8);
    assert_int_equal(n, 8);
    for (unsigned k = 0; k < n; k++) {
        assert_int_equal(a[k].at_ms, old[k].at_ms);
        assert_int_equal(a[k].target, old[k].target);
        assert_int_equal(a[k].fault, old[k].fault);
        assert_int_equal(a[k].attack, 0);
    }
}

static void test_parse_faults(void **s)
{
    (void)s;
    unsigned set;
    assert_int_equal(chaos_parse_faults("kill,segv,stop,abort,slow", &set), 0);
    assert_int_equal(set, 0x1fu);
    assert_int_equal(chaos_parse_faults("stop", &set), 0);
    assert_int_equal(set, 1u << FAULT_STOP);
    assert_int_equal(chaos_parse_faults("kill,", &set), 0); /* a trailing comma names nothing more */
    assert_int_equal(chaos_parse_faults("", &set), -EINVAL);
    assert_int_equal(chaos_parse_faults("kil", &set), -EINVAL);
    assert_int_equal(chaos_parse_faults("kill,bogus", &set), -EINVAL);
    assert_int_equal(chaos_parse_faults(",", &set), -EINVAL);
    assert_string_equal(chaos_fault_name(FAULT_ABORT), "abort");
    assert_int_equal(chaos_parse_faults("kill,hostile", &set), 0);
    assert_int_equal(set, (1u << FAULT_KILL) | (1u << FAULT_HOSTILE));
    assert_string_equal(chaos_fault_name(FAULT_HOSTILE), "hostile");
    assert_string_equal(chaos_fault_name(FAULT_COUNT), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_schedule),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_event_deadline),
        cmocka_unit_test(test_hostile_attacks),
        cmocka_unit_test(test_defaults_and_old_schedules),
        cmocka_unit_test(test_parse_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
