/* SPDX-License-Identifier: MIT */
/* Busy is not hung: honest servers whose handlers take 1 ms, 20 ms and
 * hang_timeout_ms / 2 (tests/modules/busy-server.c), kept saturated by
 * pipelined async callers and threads of sync callers
 * (tests/modules/busy-client.c) for UIPC_BUSY_SECONDS (default 30; 20 under
 * valgrind, where hang_timeout_ms is scaled (svtest.h) but the handlers'
 * sleeps are not).  They answer every call, so the supervisor must never
 * judge them hung: no hang kill, no restart, no error at any caller, and
 * every caller served at a rate far below what the handlers allow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "svtest.h"

#define HANG_MS 400
#define BEAT_MS 100
#define NSERVERS 3
#define NCLIENTS 3
#define MAX_CLIENT_SERVICES 3

/* total_per_s, client_per_s: the lower bounds on answers per second from
 * this server, to all its clients together and to each one.  A sequential
 * server whose handler takes h ms answers up to 1000 / h calls a second;
 * the bounds are a fifth to a hundredth of that, so that only a server that
 * stops answering, or starves one of its callers, misses them on a shared,
 * noisy machine. */
struct server {
    const char *name, *service;
    unsigned handler_ms;
    double total_per_s, client_per_s;
};

static const struct server servers[NSERVERS] = {
    { "busy1", "b1", 1, 100, 10 },
    { "busy20", "b20", 20, 10, 0.5 },
    { "busy200", "b200", HANG_MS / 2, 1, 0.1 },
};

/* Together: pipelined async calls on every server, 8 sync threads (the
 * issue's "20 ms handlers fed by two threads of synchronous callers"
 * among them), and both at once on one channel. */
struct client {
    const char *name, *args;
    const char *services[MAX_CLIENT_SERVICES];
};

static const struct client clients[NCLIENTS] = {
    { "pipelined", "-a 16", { "b1", "b20", "b200" } },
    { "threaded", "-t 2", { "b1", "b20", "b200" } },
    { "mixed", "-a 32 -t 1", { "b1", "b20", NULL } },
};

/* What a client reported: its own line per service, and its total. */
struct figures {
    unsigned long ok[NSERVERS], errors[NSERVERS];
    bool calls[NSERVERS];
    unsigned long total_ok, total_errors;
};

static unsigned busy_seconds(void)
{
    const char *s = getenv("UIPC_BUSY_SECONDS");
    if (s && atoi(s) > 0)
        return (unsigned)atoi(s);
    /* under valgrind every module is ten times slower, and the suite's
     * budget is shared; the bug shows within seconds either way, and 20 s
     * still give a sync thread of valgrind's slowest client a few turns at
     * the slowest server */
    return svtest_valgrind() ? 20 : 30;
}

/* Slower machines (valgrind, sanitizers) lower the rate bounds; never
 * below one call. */
static unsigned long bound(double per_s, unsigned seconds)
{
    double slack = svtest_slowdown() * (getenv("UIPC_SANITIZED") ? 2.0 : 1.0);
    double b = per_s * seconds / slack;
    return b < 1 ? 1 : (unsigned long)b;
}

static void append(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
    assert_true(r >= 0 && (size_t)r < cap - n);
}

static void write_busy_conf(unsigned seconds)
{
    char text[4096] = "";
    /* shutdown: each client stops itself after `seconds`; only idle
     * servers are left to stop */
    append(text, sizeof(text),
           "[supervisor]\nheartbeat_interval_ms = %u\nhang_timeout_ms = %u\nshutdown_timeout_ms = %u\n",
           BEAT_MS, HANG_MS, svtest_ms(5000));
    for (unsigned i = 0; i < NSERVERS; i++)
        append(text, sizeof(text),
               "[module %s]\nexec = %s\nargs = %s %u\nprovides = %s\nrestart = on-failure\n"
               "max_restarts = 3\nrestart_window_s = 3600\n",
               servers[i].name, env_path("UIPC_BUSY_SERVER"), servers[i].service, servers[i].handler_ms,
               servers[i].service);
    for (unsigned c = 0; c < NCLIENTS; c++) {
        char svcs[64] = "", list[64] = "";
        for (unsigned k = 0; k < MAX_CLIENT_SERVICES && clients[c].services[k]; k++) {
            append(svcs, sizeof(svcs), " %s", clients[c].services[k]);
            append(list, sizeof(list), "%s%s", k ? ", " : "", clients[c].services[k]);
        }
        append(text, sizeof(text),
               "[module %s]\nexec = %s\nargs = %s -s %u%s\nconnects = %s\nafter = busy1, busy20, busy200\n"
               "restart = never\n",
               clients[c].name, env_path("UIPC_BUSY_CLIENT"), clients[c].args, seconds, svcs, list);
    }
    write_conf("%s", text);
}

/* Prints every line of the log that holds needle (the first 40), then
 * fails the test with why: cmocka cuts its own messages short. */
static void fail_showing(const char *log, const char *needle, const char *why)
{
    int n = 0;
    for (const char *p = log; (p = strstr(p, needle)) && n < 40; n++) {
        const char *b = p;
        while (b > log && b[-1] != '\n')
            b--;
        size_t len = strcspn(b, "\n");
        print_message("%.*s\n", (int)len, b);
        p = b + len;
    }
    fail_msg("%s (the log's lines with \"%s\" are above)", why, needle);
}

/* For what a module never printed: the log's end, then the failure. */
static void fail_with_tail(const char *log, const char *why, const char *who)
{
    size_t len = strlen(log);
    print_message("the log ends:\n%s\n", log + (len > 6000 ? len - 6000 : 0));
    fail_msg("%s %s", who, why);
}

static int server_index(const char *service)
{
    for (int i = 0; i < NSERVERS; i++)
        if (strcmp(servers[i].service, service) == 0)
            return i;
    fail_msg("no server for service %s", service);
    return -1;
}

/* The client's final lines; the test fails, showing the log, if it never
 * printed them. */
static void client_figures(const char *log, const struct client *c, struct figures *f)
{
    char needle[128];
    const char *p;
    memset(f, 0, sizeof(*f));
    for (unsigned k = 0; k < MAX_CLIENT_SERVICES && c->services[k]; k++) {
        int i = server_index(c->services[k]);
        snprintf(needle, sizeof(needle), "%s: busy-client: %s: ", c->name, c->services[k]);
        if (!(p = strstr(log, needle)) ||
            sscanf(p + strlen(needle), "%lu ok, %lu errors", &f->ok[i], &f->errors[i]) != 2)
            fail_with_tail(log, "never reported its calls to one of its services", c->name);
        f->calls[i] = true;
    }
    snprintf(needle, sizeof(needle), "%s: busy-client: ", c->name);
    for (p = log; (p = strstr(p, needle)); p += strlen(needle))
        if (sscanf(p + strlen(needle), "%lu calls ok, %lu errors", &f->total_ok, &f->total_errors) == 2)
            return;
    fail_with_tail(log, "never printed its total", c->name);
}

/* "busy-server: SERVICE: N calls served", printed when it stops. */
static unsigned long served(const char *log, const struct server *s)
{
    char needle[128];
    unsigned long n = 0;
    snprintf(needle, sizeof(needle), "%s: busy-server: %s: ", s->name, s->service);
    const char *p = strstr(log, needle);
    if (!p || sscanf(p + strlen(needle), "%lu calls served", &n) != 1)
        fail_with_tail(log, "never said how many calls it served", s->name);
    return n;
}

/* Figures first, so that they are in the test log whatever fails next. */
static void print_figures(const struct figures f[NCLIENTS], unsigned seconds)
{
    const char *log = read_log();
    print_message("busy: %u s, hang_timeout_ms %u; hang kills %d, given up %d\n", seconds,
                  svtest_valgrind() ? svtest_ms(HANG_MS) : HANG_MS,
                  count(log, "(hung)"), count(log, "given up"));
    for (unsigned i = 0; i < NSERVERS; i++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "%s: started, pid", servers[i].name);
        print_message("busy: server %s (%u ms handler): started %d times\n", servers[i].name,
                      servers[i].handler_ms, count(log, needle));
    }
    for (unsigned c = 0; c < NCLIENTS; c++) {
        print_message("busy: client %s (%s): %lu calls ok, %lu errors;", clients[c].name, clients[c].args,
                      f[c].total_ok, f[c].total_errors);
        for (unsigned i = 0; i < NSERVERS; i++)
            if (f[c].calls[i])
                print_message(" %s %lu ok/%lu errors", servers[i].service, f[c].ok[i], f[c].errors[i]);
        print_message("\n");
    }
}

static void check_not_hung(void)
{
    const char *log = read_log();
    if (strstr(log, "hung"))
        fail_showing(log, "hung", "a busy server was judged hung");
    if (strstr(log, "given up"))
        fail_showing(log, "given up", "a module was given up");
    for (unsigned i = 0; i < NSERVERS; i++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "%s: started, pid", servers[i].name);
        if (count(log, needle) != 1)
            fail_showing(log, needle, "a busy server did not start exactly once");
    }
}

static void check_clients(const struct figures f[NCLIENTS], unsigned seconds)
{
    const char *log = read_log();
    for (unsigned c = 0; c < NCLIENTS; c++) {
        char needle[64], prefix[64];
        snprintf(needle, sizeof(needle), "%s: exited with code 0", clients[c].name);
        snprintf(prefix, sizeof(prefix), "%s: ", clients[c].name);
        if (f[c].total_errors || !strstr(log, needle))
            fail_showing(log, prefix, "a client had failed calls, or did not exit with code 0");
        for (unsigned i = 0; i < NSERVERS; i++)
            if (f[c].calls[i] && f[c].ok[i] < bound(servers[i].client_per_s, seconds))
                fail_msg("%s got only %lu answers from %s (%u ms handler) in %u s; at least %lu expected",
                         clients[c].name, f[c].ok[i], servers[i].name, servers[i].handler_ms, seconds,
                         bound(servers[i].client_per_s, seconds));
    }
    for (unsigned i = 0; i < NSERVERS; i++) {
        unsigned long sum = 0;
        for (unsigned c = 0; c < NCLIENTS; c++)
            sum += f[c].ok[i];
        if (sum < bound(servers[i].total_per_s, seconds))
            fail_msg("%s (%u ms handler) answered only %lu calls in %u s; at least %lu expected",
                     servers[i].name, servers[i].handler_ms, sum, seconds,
                     bound(servers[i].total_per_s, seconds));
    }
}

/* Every call a client counted ok was served once, by the one incarnation;
 * none served twice, none answered by anyone else. */
static void check_served(const struct figures f[NCLIENTS])
{
    const char *log = read_log();
    for (unsigned i = 0; i < NSERVERS; i++) {
        unsigned long sum = 0, n = served(log, &servers[i]);
        for (unsigned c = 0; c < NCLIENTS; c++)
            sum += f[c].ok[i];
        print_message("busy: server %s served %lu calls, its clients counted %lu ok\n", servers[i].name, n,
                      sum);
        assert_int_equal(n, sum);
    }
}

static void test_busy_not_hung(void **state)
{
    (void)state;
    unsigned seconds = busy_seconds();
    struct figures f[NCLIENTS];
    write_busy_conf(seconds);
    pid_t sv = start_supervisor();
    for (unsigned c = 0; c < NCLIENTS; c++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "%s: started, pid", clients[c].name);
        wait_log(needle, 1);
    }
    sleep_ms(seconds * 1000);
    /* each stops issuing after `seconds`, collects its calls in flight,
     * reports and exits */
    for (unsigned c = 0; c < NCLIENTS; c++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "%s: exited with code", clients[c].name);
        wait_log(needle, 1);
    }
    for (unsigned c = 0; c < NCLIENTS; c++)
        client_figures(read_log(), &clients[c], &f[c]);
    print_figures(f, seconds);
    check_not_hung();
    check_clients(f, seconds);
    int st = stop_supervisor(sv);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    check_served(f);
    check_not_hung(); /* nor while they stopped */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_busy_not_hung, svtest_kill_leftover),
    };
    return cmocka_run_group_tests(tests, svtest_setup, svtest_teardown);
}
