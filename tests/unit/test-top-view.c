/* SPDX-License-Identifier: MIT */
/* tools/top-view.c and top-layout.c: uipcctl top's rates and interval
 * percentiles come from the difference of two snapshots (a counter or a
 * histogram that went down started again); channels that come and go;
 * /proc's text; sorting; frames that fit 40, 80 and 200 columns and a
 * height. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "top-view.h"

static const struct top_host host = { .clk_tck = 100, .page_size = 4096 };

static void test_delta(void **s)
{
    (void)s;
    assert_int_equal(top_delta(150, 100), 50);
    assert_int_equal(top_delta(100, 100), 0);
    assert_int_equal(top_delta(30, 100), 30); /* started again: 30 since, not -70 */
}

/* The interval's samples sit in a slower bucket than the all-time ones:
 * its p50 is theirs, not the history's. */
static void test_quantile_of_difference(void **s)
{
    (void)s;
    uint64_t ple[] = { 100 }, pcount[] = { 1000 };
    uint64_t cle[] = { 100, 1000 }, ccount[] = { 1000, 10 };
    struct top_chan_snap prev = { .le = ple, .count = pcount, .nbuckets = 1 };
    struct top_chan_snap cur = { .le = cle, .count = ccount, .nbuckets = 2 };
    assert_int_equal(top_interval_quantile(&cur, &prev, 0.5), 1000);
    assert_int_equal(top_interval_quantile(&cur, &prev, 0.99), 1000);
    assert_int_equal(top_interval_quantile(&cur, NULL, 0.5), 100); /* all-time */
    assert_int_equal(top_interval_quantile(&prev, &prev, 0.5), 0);  /* nothing new */
}

/* 100 new samples: 98 fast, 2 slow; p99 wants the 100th (floor(99) < seen). */
static void test_quantile_p99(void **s)
{
    (void)s;
    uint64_t ple[] = { 100, 5000 }, pcount[] = { 2, 1 };
    uint64_t cle[] = { 100, 200, 5000 }, ccount[] = { 100, 0, 3 };
    struct top_chan_snap prev = { .le = ple, .count = pcount, .nbuckets = 2 };
    struct top_chan_snap cur = { .le = cle, .count = ccount, .nbuckets = 3 };
    assert_int_equal(top_interval_quantile(&cur, &prev, 0.5), 100);
    assert_int_equal(top_interval_quantile(&cur, &prev, 0.99), 5000);
}

/* A histogram that lost samples (a bucket emptied or gone) started
 * again: the new one alone is the interval's. */
static void test_quantile_restart(void **s)
{
    (void)s;
    uint64_t ple[] = { 100, 300 }, pcount[] = { 50, 50 };
    uint64_t cle[] = { 300, 900 }, ccount[] = { 60, 40 };
    struct top_chan_snap prev = { .le = ple, .count = pcount, .nbuckets = 2 };
    struct top_chan_snap cur = { .le = cle, .count = ccount, .nbuckets = 2 };
    assert_int_equal(top_interval_quantile(&cur, &prev, 0.5), 300);  /* 100 gone */
    assert_int_equal(top_interval_quantile(&cur, &prev, 0.99), 900);
    uint64_t c2[] = { 10, 40 };
    uint64_t l2[] = { 100, 300 };
    struct top_chan_snap fewer = { .le = l2, .count = c2, .nbuckets = 2 };
    assert_int_equal(top_interval_quantile(&fewer, &prev, 0.5), 300); /* 10 at 100, 40 at 300 */
}

static void test_cpu(void **s)
{
    (void)s;
    struct top_proc was = { .ok = true, .jiffies = 1000, .start = 7 };
    struct top_proc now = { .ok = true, .jiffies = 1050, .start = 7 };
    assert_int_equal(top_cpu_permille(&now, &was, true, 1000, 100), 500); /* 0.5 s of 1 s */
    assert_int_equal(top_cpu_permille(&now, &was, true, 500, 100), 1000);
    struct top_proc other = { .ok = true, .jiffies = 20, .start = 9 };
    assert_int_equal(top_cpu_permille(&other, &was, true, 1000, 100), 200); /* pid reused */
    assert_int_equal(top_cpu_permille(&other, &was, false, 1000, 100), 200);
    struct top_proc gone = { .ok = false };
    assert_int_equal(top_cpu_permille(&gone, &was, true, 1000, 100), TOP_UNKNOWN);
    assert_int_equal(top_cpu_permille(&now, &was, true, 0, 100), TOP_UNKNOWN);
}

static void test_parse_proc(void **s)
{
    (void)s;
    struct top_proc p = { 0 };
    /* comm with spaces and parentheses: fields count from the last ')' */
    const char *stat = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 120 0 0 0 "
                       "37 5 0 0 20 0 1 0 98765 10000000 300 18446744073709551615\n";
    assert_int_equal(top_parse_stat(stat, &p), 0);
    assert_int_equal(p.jiffies, 42);
    assert_int_equal(p.start, 98765);
    assert_int_equal(top_parse_statm("2441 300 250 10 0 150 0\n", &p), 0);
    assert_int_equal(p.rss_pages, 300);
    assert_int_equal(top_parse_stat("4242 (x) S 1 2", &p), -EINVAL);
    assert_int_equal(top_parse_stat("no paren", &p), -EINVAL);
    assert_int_equal(top_parse_statm("12", &p), -EINVAL);
}

/* ---- rows ---- */

static const uint64_t no_le[] = { 0 }, no_count[] = { 0 };

static struct top_chan_snap chan(const char *service, const char *client, uint64_t calls, uint64_t errors)
{
    return (struct top_chan_snap){ .service = service, .client = client, .server = "srv",
                                   .calls = calls, .errors = errors, .le = no_le, .count = no_count };
}

/* kv stays, echo goes, log comes; calls went down on kv: started again. */
static void test_rows_channels(void **s)
{
    (void)s;
    struct top_chan_snap pc[] = { chan("kv", "a", 1000, 0), chan("echo", "a", 500, 5) };
    struct top_chan_snap cc[] = { chan("log", "a", 10, 0), chan("kv", "a", 200, 4),
                                  chan("stay", "b", 0, 0) };
    struct top_chan_snap pc2[] = { pc[0], pc[1], chan("stay", "b", 0, 0) };
    struct top_snap prev = { .at_ms = 1000, .chans = pc2, .nchans = 3 };
    struct top_snap cur = { .at_ms = 3000, .chans = cc, .nchans = 3 };
    struct top_chan_row r[3];
    struct top_rows rows = { .chans = r };
    top_rows(&cur, &prev, &host, &rows);
    assert_int_equal(rows.nchans, 3);
    assert_string_equal(r[0].service, "kv"); /* 100/s first */
    assert_true(r[0].calls_s == 100.0);      /* 200 since it started again, over 2 s */
    assert_true(r[0].errors_s == 2.0);
    assert_string_equal(r[1].service, "stay"); /* 0/s */
    assert_true(r[1].calls_s == 0.0);
    assert_string_equal(r[2].service, "log"); /* new: no rate yet, last */
    assert_true(r[2].calls_s < 0 && r[2].errors_s < 0);
    for (int i = 0; i < 3; i++)
        assert_string_not_equal(r[i].service, "echo");
    top_rows(&cur, NULL, &host, &rows); /* the first snapshot: nothing known */
    for (int i = 0; i < 3; i++)
        assert_true(rows.chans[i].calls_s < 0);
}

static void test_rows_modules(void **s)
{
    (void)s;
    struct top_mod_snap pm[] = {
        { .name = "b", .state = "ready", .pid = 10, .proc = { .ok = true, .jiffies = 100, .start = 1 } },
        { .name = "a", .state = "ready", .pid = 11, .proc = { .ok = true, .jiffies = 100, .start = 1 } },
    };
    struct top_mod_snap cm[] = {
        { .name = "b", .state = "ready", .pid = 10, .proc = { .ok = true, .jiffies = 110, .start = 1, .rss_pages = 256 } },
        { .name = "a", .state = "ready", .pid = 11, .proc = { .ok = true, .jiffies = 110, .start = 1 } },
        { .name = "c", .state = "ready", .pid = 12, .proc = { .ok = true, .jiffies = 50, .start = 5 } },
        { .name = "d", .state = "backoff", .pid = 0 },
    };
    struct top_snap prev = { .at_ms = 0, .mods = pm, .nmods = 2 };
    struct top_snap cur = { .at_ms = 1000, .mods = cm, .nmods = 4 };
    struct top_mod_row r[4];
    struct top_rows rows = { .mods = r };
    top_rows(&cur, &prev, &host, &rows);
    assert_string_equal(r[0].name, "c"); /* new in the interval: all its 50 jiffies */
    assert_int_equal(r[0].cpu_permille, 500);
    assert_string_equal(r[1].name, "a"); /* ties by name */
    assert_string_equal(r[2].name, "b");
    assert_int_equal(r[2].cpu_permille, 100);
    assert_int_equal(r[2].rss_bytes, 1 << 20);
    assert_string_equal(r[3].name, "d");
    assert_int_equal(r[3].cpu_permille, TOP_UNKNOWN);
    assert_int_equal(r[3].rss_bytes, TOP_UNKNOWN);
}

/* ---- layout ---- */

static struct top_mod_row mods[] = {
    { "echo-server", "ready", 4242, 3723000, 2, 123, 13 << 20 },
    { "kv-with-a-rather-long-name", "ready", 4243, 61000, 0, 5, 900 << 10 },
    { "flaky", "backoff", 0, 0, 17, TOP_UNKNOWN, TOP_UNKNOWN },
};
static struct top_chan_row chans[] = {
    { "echo", "echo-client", "echo-server", 123456.0, 0.5, 3, 2100, 15000 },
    { "kv", "kv-with-a-rather-long-name", "store", 12.0, 0, 0, 900, 1200 },
    { "log", "x", "y", -1, -1, 0, 0, 0 },
};
static const struct top_rows rows = { mods, 3, chans, 3 };

static void lines_fit(const char *text, unsigned width)
{
    for (const char *l = text; *l;) {
        size_t n = strcspn(l, "\n");
        if (n > width)
            fail_msg("a line of %zu bytes in %u columns: %.*s", n, width, (int)n, l);
        l += n + (l[n] == '\n');
    }
}

static int count_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static void test_render_200(void **s)
{
    (void)s;
    char *t = top_render(&rows, "uipcctl top", 200, 0);
    assert_non_null(t);
    lines_fit(t, 200);
    const char *heads[] = { "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "CPU%", "RSS", "SERVICE",
                            "CLIENT -> SERVER", "CALLS/S", "ERR/S", "IN-FLIGHT", "P50", "P99" };
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
        assert_non_null(strstr(t, heads[i]));
    assert_non_null(strstr(t, "kv-with-a-rather-long-name -> store"));
    assert_non_null(strstr(t, "1h02m"));
    assert_non_null(strstr(t, "12.3"));   /* CPU% */
    assert_non_null(strstr(t, "13.0M"));
    assert_non_null(strstr(t, "123k"));   /* calls/s */
    assert_non_null(strstr(t, "15.0us")); /* p99 */
    /* sorted as given: echo's row before kv's */
    assert_true(strstr(t, "echo-client ->") < strstr(t, "kv-with-a-rather-long-name ->"));
    assert_int_equal(count_lines(t), 2 + 4 + 1 + 4);
    free(t);
}

static void test_render_80(void **s)
{
    (void)s;
    char *t = top_render(&rows, "uipcctl top", 80, 0);
    assert_non_null(t);
    lines_fit(t, 80);
    assert_non_null(strstr(t, "CALLS/S"));
    assert_non_null(strstr(t, "ERR/S"));
    assert_non_null(strstr(t, "P99"));
    assert_non_null(strstr(t, "CPU%"));
    free(t);
}

static void test_render_40(void **s)
{
    (void)s;
    char *t = top_render(&rows, "uipcctl top: a title longer than forty columns", 40, 0);
    assert_non_null(t);
    lines_fit(t, 40);
    assert_non_null(strstr(t, "NAME"));
    assert_non_null(strstr(t, "CPU%"));
    assert_non_null(strstr(t, "CALLS/S"));
    assert_null(strstr(t, "UPTIME")); /* dropped first */
    assert_null(strstr(t, "P50"));
    assert_non_null(strstr(t, "~")); /* a cut name says so */
    assert_int_equal(count_lines(t), 2 + 4 + 1 + 4); /* cut, not wrapped */
    free(t);
}

static void test_render_height(void **s)
{
    (void)s;
    char *t = top_render(&rows, "uipcctl top", 80, 8); /* 3 rows for 6 */
    assert_non_null(t);
    assert_true(count_lines(t) <= 8);
    assert_non_null(strstr(t, "more)"));
    free(t);
    t = top_render(&rows, "uipcctl top", 80, 3);
    assert_int_equal(count_lines(t), 3);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delta),
        cmocka_unit_test(test_quantile_of_difference),
        cmocka_unit_test(test_quantile_p99),
        cmocka_unit_test(test_quantile_restart),
        cmocka_unit_test(test_cpu),
        cmocka_unit_test(test_parse_proc),
        cmocka_unit_test(test_rows_channels),
        cmocka_unit_test(test_rows_modules),
        cmocka_unit_test(test_render_200),
        cmocka_unit_test(test_render_80),
        cmocka_unit_test(test_render_40),
        cmocka_unit_test(test_render_height),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
