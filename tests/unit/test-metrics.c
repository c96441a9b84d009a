/* SPDX-License-Identifier: MIT */
/* tools/metrics.c: Prometheus's text format from replies built here.
 * promtool checks the format in test-prometheus; these check what promtool
 * cannot know: the numbers (histogram bounds exact against libmodule's
 * buckets, cumulative, +Inf equal to _count), the escaping of label values
 * the config lets through, each family once, and the page without a
 * supervisor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "latency.h"
#include "metrics.h"

static char *page(const Uipc__Control__Reply *st, const Uipc__Control__Reply *sr)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    metrics_write(f, st, sr);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* The line that starts with prefix (whole name and labels), or fails. */
static const char *line_of(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; *p;) {
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
            return p + n + 1;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    fail_msg("no line '%s' in:\n%s", prefix, text);
    return NULL;
}

/* The value on that line, as written. */
static const char *text_of(const char *text, const char *prefix)
{
    static char v[64];
    const char *p = line_of(text, prefix);
    snprintf(v, sizeof(v), "%.*s", (int)strcspn(p, "\n"), p);
    return v;
}

static unsigned long long value_of(const char *text, const char *prefix)
{
    return strtoull(line_of(text, prefix), NULL, 10);
}

static unsigned count(const char *text, const char *needle)
{
    unsigned n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* A channel with samples in the buckets of 100 ns, 300 ns, 2000 ns (x3)
 * and 1 s: as the supervisor sends them, non-empty buckets only. */
static Uipc__Control__ChannelStats *channel(const char *service)
{
    static uint64_t le[4], n[4] = { 1, 1, 3, 1 };
    le[0] = uipc_lat_upper(uipc_lat_bucket(100));
    le[1] = uipc_lat_upper(uipc_lat_bucket(300));
    le[2] = uipc_lat_upper(uipc_lat_bucket(2000));
    le[3] = uipc_lat_upper(uipc_lat_bucket(1000000000));
    Uipc__Control__ChannelStats *c = calloc(1, sizeof(*c));
    uipc__control__channel_stats__init(c);
    c->service = (char *)service;
    c->client = (char *)"cli\"ent";
    c->server = (char *)"ser\\ver";
    c->calls = 100;
    c->ok = 90;
    c->bad_status = 4;
    c->peer_died = 6;
    c->slots = 16;
    c->slot_size = 256;
    c->latency_samples = 6;
    c->latency_sum_ns = 1000006700;
    c->n_latency_bucket_le_ns = c->n_latency_bucket_count = 4;
    c->latency_bucket_le_ns = le;
    c->latency_bucket_count = n;
    return c;
}

static void test_histogram(void **state)
{
    (void)state;
    Uipc__Control__ChannelStats *c = channel("kv");
    Uipc__Control__ChannelStats *chans[] = { c };
    Uipc__Control__Reply sr = UIPC__CONTROL__REPLY__INIT;
    sr.channels = chans;
    sr.n_channels = 1;
    char *t = page(NULL, &sr);
    const char *labels = "{service=\"kv\",client=\"cli\\\"ent\",server=\"ser\\\\ver\"";
    char name[512];
    /* 255 ns holds 100 (and not 300); 511 ns both; 2047 ns five; the last
     * bound below 1 s (2^29 - 1 ns) five; 2^30 - 1 ns all six */
    const struct { const char *le; unsigned long long n; } want[] = {
        { "0.000000255", 1 }, { "0.000000511", 2 }, { "0.000001023", 2 }, { "0.000002047", 5 },
        { "0.536870911", 5 }, { "1.073741823", 6 }, { "34.359738367", 6 }, { "+Inf", 6 },
    };
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        snprintf(name, sizeof(name), "uipc_channel_latency_seconds_bucket%s,le=\"%s\"}", labels, want[k].le);
        assert_int_equal(value_of(t, name), want[k].n);
    }
    snprintf(name, sizeof(name), "uipc_channel_latency_seconds_count%s}", labels);
    assert_int_equal(value_of(t, name), 6);
    snprintf(name, sizeof(name), "uipc_channel_latency_seconds_sum%s}", labels);
    assert_string_equal(text_of(t, name), "1.0000067");
    free(t);
    free(c);
}

static void test_completions(void **state)
{
    (void)state;
    Uipc__Control__ChannelStats *c = channel("echo");
    Uipc__Control__ChannelStats *chans[] = { c };
    Uipc__Control__Reply sr = UIPC__CONTROL__REPLY__INIT;
    sr.channels = chans;
    sr.n_channels = 1;
    char *t = page(NULL, &sr);
    const char *labels = "{service=\"echo\",client=\"cli\\\"ent\",server=\"ser\\\\ver\"";
    char name[512];
    const struct { const char *kind; unsigned long long n; } want[] = {
        { "ok", 90 }, { "bad_status", 4 }, { "peer_died", 6 }, { "timed_out", 0 }, { "proto", 0 },
    };
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        snprintf(name, sizeof(name), "uipc_channel_completions_total%s,kind=\"%s\"}", labels, want[k].kind);
        assert_int_equal(value_of(t, name), want[k].n);
    }
    snprintf(name, sizeof(name), "uipc_channel_calls_total%s}", labels);
    assert_int_equal(value_of(t, name), 100);
    free(t);
    free(c);
}

/* Modules and the supervisor; every family exactly once, its HELP first. */
static void test_status(void **state)
{
    (void)state;
    Uipc__Control__Count clean = UIPC__CONTROL__COUNT__INIT, hung = UIPC__CONTROL__COUNT__INIT;
    clean.name = (char *)"clean";
    clean.value = 2;
    hung.name = (char *)"hung";
    hung.value = 1;
    Uipc__Control__Count *exits[] = { &clean, &hung };
    Uipc__Control__Count sock = UIPC__CONTROL__COUNT__INIT;
    sock.name = (char *)"socket";
    sock.value = 7;
    Uipc__Control__Count *viol[] = { &sock };
    Uipc__Control__ModuleStatus a = UIPC__CONTROL__MODULE_STATUS__INIT, b = UIPC__CONTROL__MODULE_STATUS__INIT;
    a.name = (char *)"kv\nx";
    a.state = (char *)"ready";
    a.pid = 42;
    a.uptime_ms = 1500;
    a.restarts = 3;
    a.exits = exits;
    a.n_exits = 2;
    a.violations_by_syscall = viol;
    a.n_violations_by_syscall = 1;
    b.name = (char *)"echo";
    b.state = (char *)"backoff";
    Uipc__Control__ModuleStatus *mods[] = { &a, &b };
    Uipc__Control__SupervisorStatus me = UIPC__CONTROL__SUPERVISOR_STATUS__INIT;
    me.uptime_ms = 61001;
    me.generation = 2;
    me.loop_max_ms = 3;
    Uipc__Control__Reply st = UIPC__CONTROL__REPLY__INIT;
    st.modules = mods;
    st.n_modules = 2;
    st.supervisor = &me;
    char *t = page(&st, NULL);
    assert_int_equal(value_of(t, "uipc_up"), 1);
    assert_string_equal(text_of(t, "uipc_supervisor_uptime_seconds"), "61.001");
    assert_string_equal(text_of(t, "uipc_supervisor_loop_max_seconds"), "0.003");
    assert_int_equal(value_of(t, "uipc_supervisor_generation"), 2);
    assert_int_equal(value_of(t, "uipc_modules{state=\"ready\"}"), 1);
    assert_int_equal(value_of(t, "uipc_modules{state=\"backoff\"}"), 1);
    assert_int_equal(value_of(t, "uipc_modules{state=\"failed\"}"), 0);
    /* a newline in a label value is escaped, never a line break */
    assert_int_equal(value_of(t, "uipc_module_state{module=\"kv\\nx\",state=\"ready\"}"), 1);
    assert_int_equal(value_of(t, "uipc_module_state{module=\"kv\\nx\",state=\"stopped\"}"), 0);
    assert_int_equal(value_of(t, "uipc_module_restarts_total{module=\"kv\\nx\"}"), 3);
    assert_int_equal(value_of(t, "uipc_module_exits_total{module=\"kv\\nx\",reason=\"hung\"}"), 1);
    assert_int_equal(value_of(t, "uipc_module_seccomp_violations_total{module=\"kv\\nx\",syscall=\"socket\"}"), 7);
    assert_int_equal(value_of(t, "uipc_module_pid{module=\"kv\\nx\"}"), 42);
    const char *families[] = { "uipc_up", "uipc_modules", "uipc_module_state", "uipc_module_exits_total",
                               "uipc_module_seccomp_violations_total", "uipc_supervisor_control_requests_total" };
    for (size_t k = 0; k < sizeof(families) / sizeof(families[0]); k++) {
        char help[128], type[128];
        snprintf(help, sizeof(help), "# HELP %s ", families[k]);
        snprintf(type, sizeof(type), "# TYPE %s ", families[k]);
        assert_int_equal(count(t, help), 1);
        assert_int_equal(count(t, type), 1);
        assert_true(strstr(t, help) < strstr(t, type));
    }
    assert_int_equal(count(t, "uipc_channel_"), 0); /* no stats, no channel families */
    free(t);
}

static void test_no_supervisor(void **state)
{
    (void)state;
    char *t = page(NULL, NULL);
    assert_string_equal(t, "# HELP uipc_up 1 when the supervisor answered on its control socket.\n"
                           "# TYPE uipc_up gauge\n"
                           "uipc_up 0\n");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_completions),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_no_supervisor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
