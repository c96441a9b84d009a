/* SPDX-License-Identifier: MIT */
/* The supervisor's bad day: a module that misbehaves (tests/modules/
 * bad-module.c: forks children, fork-bombs, exits in a loop, ignores
 * SIGTERM, floods the control socket) next to a healthy pair, the echo
 * server and the load client, which checks every reply.  Each test
 * demands that the supervisor stays alive and answers uipcctl, that the
 * pair keeps working, that the bad module is handled by its policy, that
 * shutdown still ends with status 0, and that nothing is left behind: no
 * process of the module's (its forked children included), no zombie
 * child of the supervisor, no descriptor of the supervisor's. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "svtest.h"

#define GONE_MS 5000 /* what "at once" means for a process to be gone */
/* bad-module forks, ignores signals and talks to the control socket on
 * purpose: more than base.policy allows, which is what it tests. */
#define BAD_POLICY "policy = none\n"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- uipcctl ---- */

struct mod_st {
    char state[32], last_exit[96];
    long long pid, restarts;
};

/* One module's entry of uipcctl --json status (which must answer). */
static void mod_status(const char *name, struct mod_st *m)
{
    char obj[1024];
    svtest_ctl_ok(svtest_ctl(5000, "--json", "status", NULL), "--json status");
    json_obj(svtest_ctl_out, "name", name, obj, sizeof(obj));
    json_text(obj, "state", m->state, sizeof(m->state));
    json_text(obj, "last_exit", m->last_exit, sizeof(m->last_exit));
    m->pid = json_num(obj, "pid");
    m->restarts = json_num(obj, "restarts");
}

/* Waits up to 15 s for the module to show state. */
static void wait_state(const char *name, const char *state, struct mod_st *m)
{
    for (int i = 0; i < 300; i++) {
        mod_status(name, m);
        if (strcmp(m->state, state) == 0)
            return;
        sleep_ms(50);
    }
    fail_msg("%s never became %s; the last status:\n%s", name, state, svtest_ctl_out);
}

/* Calls the load client's channel to echo completed with the handler's
 * status, as uipcctl --json stats reports them. */
static long long echo_ok(void)
{
    char obj[1024];
    svtest_ctl_ok(svtest_ctl(5000, "--json", "stats", NULL), "--json stats");
    json_obj(svtest_ctl_out, "service", "echo", obj, sizeof(obj));
    return json_num(obj, "ok");
}

/* ---- processes, through /proc ---- */

struct proc {
    pid_t pid;
    unsigned long long start; /* start time: a pid reused by another process is not ours */
};

/* /proc/PID/stat: parent, state, start time; false if there is no such
 * process. */
static bool proc_stat(pid_t pid, pid_t *ppid, char *state, unsigned long long *start)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    const char *p = got ? strrchr(line, ')') : NULL; /* after the command name */
    int pp;
    char st;
    unsigned long long t;
    if (!p || sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                     &st, &pp, &t) != 3)
        return false;
    if (ppid)
        *ppid = pp;
    if (state)
        *state = st;
    if (start)
        *start = t;
    return true;
}

/* Still there and not a zombie (a zombie holds no memory and no fds). */
static bool proc_alive(struct proc p, char *state)
{
    unsigned long long start;
    char st;
    if (!proc_stat(p.pid, NULL, &st, &start) || start != p.start)
        return false;
    if (state)
        *state = st;
    return st != 'Z' && st != 'X';
}

static struct proc proc_of(pid_t pid)
{
    struct proc p = { .pid = pid };
    if (!proc_stat(pid, NULL, NULL, &p.start))
        fail_msg("process %d does not exist", (int)pid);
    return p;
}

/* Every process whose parent is `parent`, with its state. */
static int children_of(pid_t parent, struct proc *out, char *states, int max)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < max;) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = atoi(e->d_name), pp;
        char st;
        unsigned long long start;
        if (proc_stat(pid, &pp, &st, &start) && pp == parent) {
            out[n] = (struct proc){ pid, start };
            if (states)
                states[n] = st;
            n++;
        }
    }
    closedir(d);
    return n;
}

/* root's descendants (not root itself), breadth first. */
static int descendants(pid_t root, struct proc *out, int max)
{
    int n = children_of(root, out, NULL, max);
    for (int k = 0; k < n && n < max; k++)
        n += children_of(out[k].pid, out + n, NULL, max - n);
    return n;
}

/* Processes a test found: killed by the teardown if a failed test (or a
 * supervisor that lets them live) leaves them behind. */
static struct proc leftovers[512];
static int nleftovers;

static void remember(const struct proc *p, int n)
{
    for (int k = 0; k < n && nleftovers < (int)(sizeof(leftovers) / sizeof(leftovers[0])); k++)
        leftovers[nleftovers++] = p[k];
}

/* root and its descendants, root first, remembered for the teardown. */
static int tree_of(pid_t root, struct proc *out, int max)
{
    out[0] = proc_of(root);
    int n = descendants(root, out + 1, max - 1) + 1;
    remember(out, n);
    return n;
}

/* A pid the log printed as a forked child, if it is still one of ours
 * (a process named bad-child: sleep_forever in bad-module.c). */
static void kill_printed_child(pid_t pid)
{
    char path[64], comm[32] = "";
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char *got = fgets(comm, sizeof(comm), f);
    fclose(f);
    if (got && strcmp(comm, "bad-child\n") == 0)
        kill(pid, SIGKILL);
}

static int kill_leftovers(void **state)
{
    svtest_kill_leftover(state);
    for (int k = 0; k < nleftovers; k++)
        if (proc_alive(leftovers[k], NULL))
            kill(leftovers[k].pid, SIGKILL);
    nleftovers = 0;
    /* and any child this test's log names that a failed test had no time
     * to note down */
    static const char needle[] = ": fork: child ";
    for (const char *p = read_log(); (p = strstr(p, needle)); p += strlen(needle))
        kill_printed_child(atoi(p + strlen(needle)));
    return 0;
}

/* Within GONE_MS every one of them is gone; else the test fails naming
 * the survivors, their state and their parent. */
static void expect_all_gone(const struct proc *p, int n, const char *what)
{
    uint64_t end = now_ms() + GONE_MS;
    int alive;
    do {
        alive = 0;
        for (int k = 0; k < n; k++)
            alive += proc_alive(p[k], NULL);
        if (!alive)
            return;
        sleep_ms(20);
    } while (now_ms() < end);
    char list[2048] = "";
    size_t len = 0;
    for (int k = 0; k < n && len < sizeof(list) - 64; k++) {
        char st;
        pid_t pp;
        if (proc_alive(p[k], &st) && proc_stat(p[k].pid, &pp, NULL, NULL))
            len += (size_t)snprintf(list + len, sizeof(list) - len, " %d (state %c, parent %d)",
                                    (int)p[k].pid, st, (int)pp);
    }
    fail_msg("%d of %d %s still alive %d ms later:%s", alive, n, what, GONE_MS, list);
}

/* "NAME: fork: child PID" lines since the newest "NAME: started"
 * (waiting up to 10 s for `want` of them): each one a live child of that
 * incarnation, or with `orphans` a live process that is not (a daemon's
 * grandchild, whose parent exited). */
static int printed_children(const char *name, pid_t module, struct proc *out, int want, bool orphans)
{
    char start[96], needle[96];
    snprintf(start, sizeof(start), "%s: started, pid ", name);
    snprintf(needle, sizeof(needle), "%s: fork: child ", name);
    const char *from = NULL;
    for (int i = 0; i < 500; i++, sleep_ms(20)) {
        const char *log = read_log();
        from = log;
        for (const char *p = log; (p = strstr(p, start)); p += strlen(start))
            from = p;
        if (count(from, needle) >= want)
            break;
    }
    int n = 0;
    for (const char *p = from; (p = strstr(p, needle)) && n < want; p += strlen(needle)) {
        pid_t pid = atoi(p + strlen(needle)), pp;
        out[n] = proc_of(pid);
        assert_true(proc_stat(pid, &pp, NULL, NULL));
        if (!orphans && pp != module)
            fail_msg("child %d printed by %s has parent %d, not the module %d", (int)pid, name,
                     (int)pp, (int)module);
        if (orphans && pp == module)
            fail_msg("orphan %d printed by %s is the module's own child", (int)pid, name);
        n++;
    }
    remember(out, n);
    if (n < want) {
        const char *log = read_log();
        size_t len = strlen(log);
        fail_msg("%s printed %d children, not %d; the log ends:\n%s", name, n, want,
                 log + (len > 4000 ? len - 4000 : 0));
    }
    return n;
}

/* No zombie among the supervisor's children (a death being reaped right
 * now may show as one for a moment: each must be gone within 3 s). */
static void expect_no_zombies(pid_t sv)
{
    struct proc ch[256];
    char st[256];
    char list[1024] = "";
    for (int i = 0; i < 150; i++) {
        int n = children_of(sv, ch, st, 256), z = 0;
        size_t len = 0;
        list[0] = '\0';
        for (int k = 0; k < n; k++)
            if (st[k] == 'Z') {
                z++;
                if (len < sizeof(list) - 16)
                    len += (size_t)snprintf(list + len, sizeof(list) - len, " %d", (int)ch[k].pid);
            }
        if (!z)
            return;
        sleep_ms(20);
    }
    fail_msg("zombie children of the supervisor (%d) for 3 s:%s", (int)sv, list);
}

/* /proc/PID/fd, one line per descriptor, for a failure message. */
static void fd_list(pid_t pid, char *out, size_t cap)
{
    char path[64], fp[320], link[128];
    size_t len = 0;
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    out[0] = '\0';
    for (struct dirent *e; d && (e = readdir(d)) && len < cap - 200;) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(fp, sizeof(fp), "%s/%s", path, e->d_name);
        ssize_t n = readlink(fp, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = '\0';
        len += (size_t)snprintf(out + len, cap - len, "  %s -> %s\n", e->d_name, link);
    }
    if (d)
        closedir(d);
}

/* The supervisor's descriptors once they stop changing (a uipcctl that
 * just exited may still hold a connection it has not seen closed): the
 * same count twice, 200 ms apart. */
static int stable_fds(pid_t sv)
{
    int a = svtest_fd_count(sv), b;
    for (int i = 0; i < 25; i++, a = b) {
        sleep_ms(200);
        if ((b = svtest_fd_count(sv)) == a)
            return a;
    }
    fail_msg("the supervisor's descriptors never settled (%d, then %d)", a, b);
    return -1;
}

/* Within 5 s the supervisor holds want descriptors. */
static void expect_fds(pid_t sv, int want, const char *when)
{
    int n = 0;
    for (int i = 0; i < 250 && (n = svtest_fd_count(sv)) != want; i++)
        sleep_ms(20);
    if (n != want) {
        static char list[8192];
        fd_list(sv, list, sizeof(list));
        fail_msg("%s: the supervisor holds %d descriptors, %d before:\n%s", when, n, want, list);
    }
}

/* CPU time the process has used, in ms. */
static uint64_t cpu_ms(pid_t pid)
{
    char path[64], line[1024];
    unsigned long ut = 0, st = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    assert_non_null(got);
    const char *p = strrchr(line, ')');
    assert_non_null(p);
    assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
    return (uint64_t)(ut + st) * 1000 / (uint64_t)sysconf(_SC_CLK_TCK);
}

/* An idle supervisor does not spin: at most 300 ms of CPU in 3 s (it
 * wakes every heartbeat interval; a busy loop takes what a core gives). */
static void expect_idle(pid_t sv, const char *when)
{
    uint64_t before = cpu_ms(sv);
    sleep_ms(3000);
    uint64_t used = cpu_ms(sv) - before;
    if (used > 300)
        fail_msg("%s: the supervisor used %llu ms of CPU in 3 s while nothing happened", when,
                 (unsigned long long)used);
}

/* ---- the healthy pair ---- */

/* echo under its strict policy, and the load client on it for `seconds`
 * (it exits 0 only if every call it issued completed exactly once with
 * the right reply, and none timed out). */
static const char *pair(const char *seconds)
{
    static char s[2048];
    snprintf(s, sizeof(s),
             "[module echo]\nexec = %s\npolicy = %s/echo.policy\nprovides = echo\nrestart = always\n"
             "[module load]\nexec = %s\nconnects = echo:32x256\nafter = echo\nrestart = never\n"
             "env = LOAD_SECONDS=%s\n",
             env_path("UIPC_ECHO_SERVER"), env_path("UIPC_POLICIES"), env_path("UIPC_LOAD_CLIENT"),
             seconds);
    return s;
}

/* Calls through the pair keep succeeding from *ok on (skipped once the
 * load client has finished: its own verdict covers the rest). */
static void pair_progresses(long long *ok)
{
    if (strstr(read_log(), "load: exited"))
        return;
    long long now = 0;
    for (int i = 0; i < 100 && (now = echo_ok()) <= *ok; i++) {
        if (strstr(read_log(), "load: exited"))
            return;
        sleep_ms(50);
    }
    if (now <= *ok)
        fail_msg("no call of the load client succeeded for 5 s (ok stays at %lld)", *ok);
    *ok = now;
}

/* The load client ended with every call right, and echo ran undisturbed
 * the whole time. */
static void pair_was_fine(pid_t echo)
{
    wait_log("load: exited with code", 1);
    const char *log = read_log();
    if (!strstr(log, "load: exited with code 0")) {
        size_t len = strlen(log);
        fail_msg("the load client found a problem; the log ends:\n%s", log + (len > 3000 ? len - 3000 : 0));
    }
    const char *issued = strstr(log, "load: load: issued ");
    assert_non_null(issued);
    long long n = atoll(issued + strlen("load: load: issued "));
    if (n < 1000)
        fail_msg("the load client issued only %lld calls", n);
    assert_int_equal(count(log, "echo: started, pid"), 1);
    assert_int_equal(latest_pid("echo"), echo);
    assert_int_equal(kill(echo, 0), 0);
}

/* SIGTERM: the supervisor exits 0 within 10 s (stop_supervisor). */
static void shutdown_clean(pid_t sv)
{
    int st = stop_supervisor(sv);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("the supervisor ended with wait status %#x; the log:\n%s", (unsigned)st, read_log());
    log_has("supervisor: stopped");
    log_lacks("Sanitizer");
}

/* The end of a bad day: the bystander pair still progressed and was
 * fine, no zombie is left, and the supervisor shuts down clean. */
static void ends_unharmed(pid_t sv, long long *ok, pid_t echo)
{
    pair_progresses(ok);
    pair_was_fine(echo);
    expect_no_zombies(sv);
    shutdown_clean(sv);
}

/* ---- fork: children outliving the module ---- */

/* The module forks 3 children and is killed with SIGKILL: it is
 * restarted (restart = always), the supervisor answers, the pair works,
 * and the dead incarnation's children, which hold its channel mappings,
 * are gone too; the new incarnation's go at shutdown. */
static void fork_killed(const char *args, bool orphans)
{
    write_conf("%s[module bad]\nexec = %s\n" BAD_POLICY "args = %s\nrestart = always\n", pair("4"),
               env_path("UIPC_BAD_MODULE"), args);
    pid_t sv = start_supervisor();
    wait_log("bad: fork: 3 children", 1);
    wait_log("load: ready after", 1);
    pid_t echo = latest_pid("echo"), bad = latest_pid("bad");
    struct proc kids[8], dead[12];
    int n = printed_children("bad", bad, kids, 3, orphans);
    long long ok = echo_ok();

    dead[0] = proc_of(bad);
    memcpy(dead + 1, kids, sizeof(kids[0]) * (size_t)n);
    assert_int_equal(kill(bad, SIGKILL), 0);
    wait_log("bad: killed by signal SIGKILL", 1);
    wait_log("bad: fork: 3 children", 2); /* restarted by its policy */
    struct mod_st m;
    wait_state("bad", "ready", &m);
    assert_int_not_equal(m.pid, bad);
    assert_int_equal(m.pid, latest_pid("bad"));
    assert_int_equal(m.restarts, 1);
    assert_string_equal(m.last_exit, "killed by signal SIGKILL");
    struct proc again[8];
    int k = printed_children("bad", (pid_t)m.pid, again, 3, orphans);
    pair_progresses(&ok);
    expect_no_zombies(sv);
    pair_was_fine(echo);

    expect_all_gone(dead, n + 1, "processes of the killed module (it and its forked children)");
    shutdown_clean(sv);
    expect_all_gone(again, k, "children of the restarted module, after shutdown");
}

static void test_fork_killed(void **state)
{
    (void)state;
    fork_killed("fork 3", false);
}

/* The same with children that left the module's process group and
 * session (setsid): still the module's, still to be gone. */
static void test_fork_escaped_killed(void **state)
{
    (void)state;
    fork_killed("fork 3 escape", false);
}

/* The same with daemons: each child forks again and exits, so its child,
 * in a session of its own, is orphaned while the module still runs. */
static void test_fork_daemon_killed(void **state)
{
    (void)state;
    fork_killed("fork 3 daemon", true);
}

/* A running module's daemons (orphans reparented to the supervisor) are
 * its own, not strays: another module's death, whose strays are killed,
 * spares them (each module runs as a uid of its own). */
static void test_fork_daemon_spared(void **state)
{
    (void)state;
    write_conf("%s[module bad]\nexec = %s\n" BAD_POLICY "args = fork 3 daemon\nrestart = always\n", pair("2"),
               env_path("UIPC_BAD_MODULE"));
    pid_t sv = start_supervisor();
    wait_log("bad: fork: 3 children", 1);
    pid_t bad = latest_pid("bad");
    struct proc kids[8];
    int n = printed_children("bad", bad, kids, 3, true);
    /* load exits (restart = never) and is reaped; echo is killed. */
    wait_log("load: exited with code", 1);
    pid_t echo = latest_pid("echo");
    assert_int_equal(kill(echo, SIGKILL), 0);
    wait_log("echo: killed by signal SIGKILL", 1);
    wait_log("echo: started, pid", 2);
    sleep_ms(svtest_ms(200));
    for (int k = 0; k < n; k++)
        if (!proc_alive(kids[k], NULL))
            fail_msg("daemon %d of the running module bad was killed when another module died", (int)kids[k].pid);
    shutdown_clean(sv);
    expect_all_gone(kids, n, "daemons of bad, after shutdown");
}

/* Stopped by the operator: the module itself exits 0 on the stop
 * request; its children must not outlive it. */
static void test_fork_stopped(void **state)
{
    (void)state;
    write_conf("[supervisor]\nshutdown_timeout_ms = 2000\n%s[module bad]\nexec = %s\n" BAD_POLICY "args = fork 3\n"
               "restart = always\n", pair("3"), env_path("UIPC_BAD_MODULE"));
    pid_t sv = start_supervisor();
    wait_log("bad: fork: 3 children", 1);
    wait_log("bad: ready after", 1);
    pid_t echo = latest_pid("echo"), bad = latest_pid("bad");
    struct proc all[8];
    int n = printed_children("bad", bad, all + 1, 3, false) + 1;
    all[0] = proc_of(bad);

    svtest_ctl_ok(svtest_ctl(5000, "stop", "bad", NULL), "stop bad");
    wait_log("bad: stopped by the operator", 1);
    log_has("bad: exited with code 0");
    struct mod_st m;
    wait_state("bad", "stopped", &m);
    assert_int_equal(m.pid, 0);
    sleep_ms(300); /* held: no restart, whatever its policy */
    assert_int_equal(count(read_log(), "bad: started, pid"), 1);
    expect_no_zombies(sv);
    pair_was_fine(echo);

    expect_all_gone(all, n, "processes of the stopped module (it and its forked children)");
    shutdown_clean(sv);
}

/* Shutdown: the supervisor exits 0, and nothing of the module's
 * outlives it. */
static void test_fork_shutdown(void **state)
{
    (void)state;
    write_conf("[supervisor]\nshutdown_timeout_ms = 2000\n%s[module bad]\nexec = %s\n" BAD_POLICY "args = fork 3\n",
               pair("1"), env_path("UIPC_BAD_MODULE"));
    pid_t sv = start_supervisor();
    wait_log("bad: fork: 3 children", 1);
    wait_log("bad: ready after", 1);
    pid_t echo = latest_pid("echo"), bad = latest_pid("bad");
    struct proc all[8];
    int n = printed_children("bad", bad, all + 1, 3, false) + 1;
    all[0] = proc_of(bad);
    pair_was_fine(echo);
    expect_no_zombies(sv);

    shutdown_clean(sv);
    log_has("bad: exited with code 0");
    expect_gone(echo);
    expect_all_gone(all, n, "processes of the module after the supervisor's shutdown");
}

/* A module whose forked children keep its output pipe open dies and is
 * restarted; then those children go too (the test kills any the
 * supervisor left).  The supervisor is back at the descriptors it held
 * with the first incarnation, and does not spin. */
static void test_fork_restart_fds(void **state)
{
    (void)state;
    write_conf("%s[module bad]\nexec = %s\n" BAD_POLICY "args = fork 2\nrestart = always\n", pair("1"),
               env_path("UIPC_BAD_MODULE"));
    pid_t sv = start_supervisor();
    wait_log("bad: ready after", 1);
    pid_t echo = latest_pid("echo"), bad = latest_pid("bad");
    struct proc kids[8];
    int n = printed_children("bad", bad, kids, 2, false);
    pair_was_fine(echo); /* the load client is done: from here on the same modules run */
    expect_no_zombies(sv);
    int base = stable_fds(sv);

    assert_int_equal(kill(bad, SIGKILL), 0);
    wait_log("bad: killed by signal SIGKILL", 1);
    wait_log("bad: ready after", 2);
    struct proc again[8];
    printed_children("bad", latest_pid("bad"), again, 2, false);
    for (int k = 0; k < n; k++) /* however the supervisor handled them, they are gone now */
        if (proc_alive(kids[k], NULL))
            kill(kids[k].pid, SIGKILL);
    expect_all_gone(kids, n, "children, SIGKILLed by the test");
    struct mod_st m;
    wait_state("bad", "ready", &m);
    assert_int_equal(m.pid, latest_pid("bad"));
    /* both checked before either fails: they are separate faults */
    int fds = 0;
    for (int i = 0; i < 250 && (fds = svtest_fd_count(sv)) != base; i++)
        sleep_ms(20);
    uint64_t cpu = cpu_ms(sv);
    sleep_ms(3000);
    cpu = cpu_ms(sv) - cpu;
    if (fds != base || cpu > 300) {
        static char list[8192];
        fd_list(sv, list, sizeof(list));
        fail_msg("the second incarnation running, the first one's children gone: the supervisor "
                 "holds %d descriptors (%d before), and used %llu ms of CPU in 3 s idle "
                 "(at most 300 expected); its descriptors:\n%s",
                 fds, base, (unsigned long long)cpu, list);
    }
    expect_no_zombies(sv);
    assert_int_equal(kill(echo, 0), 0);
    shutdown_clean(sv);
}

/* With a pid namespace the module's init takes the whole namespace with
 * it: children included. */
static void test_fork_pidns(void **state)
{
    (void)state;
    write_conf("%s[module bad]\nexec = %s\n" BAD_POLICY "args = fork 3\nnamespaces = pid, mount\nrestart = always\n",
               pair("3"), env_path("UIPC_BAD_MODULE"));
    pid_t sv = start_supervisor();
    wait_log("bad: fork: 3 children", 1);
    wait_log("load: ready after", 1);
    pid_t echo = latest_pid("echo"), init = latest_pid("bad");
    struct proc all[16];
    int n = tree_of(init, all, 16);
    assert_int_equal(n, 5); /* the init, the module, its 3 children */
    long long ok = echo_ok();

    pid_t module = all[1].pid; /* the init's one child */
    assert_int_equal(kill(module, SIGKILL), 0);
    wait_log("bad: killed by signal SIGKILL", 1);
    wait_log("bad: fork: 3 children", 2);
    expect_all_gone(all, n, "processes of the killed module's pid namespace");
    struct mod_st m;
    wait_state("bad", "ready", &m);
    assert_int_equal(m.restarts, 1);
    struct proc now[16];
    int k = tree_of((pid_t)m.pid, now, 16);
    assert_int_equal(k, 5);
    ends_unharmed(sv, &ok, echo);
    expect_all_gone(now, k, "processes of the module's pid namespace after shutdown");
}

/* ---- forkbomb ---- */

/* Forks until fork fails, as nobody (root is not bound by RLIMIT_NPROC)
 * with nproc = 32, in a pid namespace: bounded, the rest of the system
 * unaffected, and all of it gone when the module dies and at shutdown. */
static void test_forkbomb(void **state)
{
    (void)state;
    write_conf("%s[module bomb]\nexec = %s\n" BAD_POLICY "args = forkbomb 200\nuser = nobody\n"
               "namespaces = pid, mount\nrlimits = nproc=32\nrestart = on-failure\n",
               pair("4"), env_path("UIPC_BAD_MODULE"));
    pid_t sv = start_supervisor();
    wait_log("bomb: forkbomb: forked ", 1);
    wait_log("load: ready after", 1);
    log_has("bomb: forkbomb: uid 65534, nproc limit 32\n");
    const char *line = strstr(read_log(), "bomb: forkbomb: forked ");
    int forked = atoi(line + strlen("bomb: forkbomb: forked "));
    if (!strstr(line, "then fork failed: EAGAIN") || forked < 1 || forked > 31)
        fail_msg("the bomb was not bounded by nproc = 32: %.*s", (int)strcspn(line, "\n"), line);
    pid_t echo = latest_pid("echo"), init = latest_pid("bomb");
    static struct proc all[64];
    int n = tree_of(init, all, 64);
    assert_int_equal(n, forked + 2); /* the init, the module, its children */
    long long ok = echo_ok();
    struct mod_st m;
    mod_status("bomb", &m);
    assert_string_equal(m.state, "ready");

    assert_int_equal(kill(all[1].pid, SIGKILL), 0); /* the module, under its init */
    wait_log("bomb: killed by signal SIGKILL", 1);
    expect_all_gone(all, n, "processes of the killed fork bomb");
    wait_log("bomb: forkbomb: forked ", 2); /* restarted, and bombs again */
    wait_state("bomb", "ready", &m);
    static struct proc again[64];
    int k = tree_of((pid_t)m.pid, again, 64);
    ends_unharmed(sv, &ok, echo);
    expect_all_gone(again, k, "processes of the fork bomb after shutdown");
}

/* ---- exit: a module that dies at once, again and again ---- */

/* Given up after max_restarts deaths within the window: failed, the
 * rest unaffected. */
static void test_exit_given_up(void **state)
{
    (void)state;
    write_conf("%s[module bad]\nexec = %s\n" BAD_POLICY "args = exit\nrestart = always\nmax_restarts = 4\n"
               "restart_window_s = 60\n", pair("3"), env_path("UIPC_BAD_MODULE"));
    pid_t sv = start_supervisor();
    wait_log("load: ready after", 1);
    pid_t echo = latest_pid("echo");
    long long ok = echo_ok();
    wait_log("bad: given up", 1);
    const char *log = read_log();
    assert_int_equal(count(log, "bad: started, pid"), 5);
    assert_int_equal(count(log, "bad: exited with code 1"), 5);
    struct mod_st m;
    wait_state("bad", "failed", &m);
    assert_int_equal(m.pid, 0);
    assert_string_equal(m.last_exit, "exited with code 1");
    sleep_ms(500); /* given up means no more starts */
    assert_int_equal(count(read_log(), "bad: started, pid"), 5);
    ends_unharmed(sv, &ok, echo);
}

/* No backoff and no limit: it exits and is restarted as fast as the
 * supervisor can, 30 times and more.  The supervisor keeps answering
 * all the while, the pair keeps working, and a second burst of restarts
 * leaves it with exactly the descriptors the first one did. */
static void test_exit_loop(void **state)
{
    (void)state;
    write_conf("%s[module bad]\nexec = %s\n" BAD_POLICY "args = exit\nrestart = always\nmax_restarts = 100000\n"
               "backoff_ms = 0\nbackoff_max_ms = 0\n", pair("5"), env_path("UIPC_BAD_MODULE"));
    pid_t sv = start_supervisor();
    wait_log("load: ready after", 1);
    pid_t echo = latest_pid("echo");
    long long ok = echo_ok();
    uint64_t end = now_ms() + 30000;
    int answered = 0, starts = 0;
    while ((starts = count(read_log(), "bad: started, pid")) < 30 && now_ms() < end) {
        svtest_ctl_ok(svtest_ctl(5000, "status", NULL), "status, while a module restarts in a loop");
        answered++;
        sleep_ms(50);
    }
    if (starts < 30)
        fail_msg("only %d starts in 30 s: the module was not restarted in a loop", starts);
    assert_true(answered >= 1);
    pair_progresses(&ok);

    svtest_ctl_ok(svtest_ctl(5000, "stop", "bad", NULL), "stop bad");
    struct mod_st m;
    wait_state("bad", "stopped", &m);
    expect_no_zombies(sv);
    /* The load client (restart = never) ends after its LOAD_SECONDS and
     * takes its pidfd and pipe with it: the baseline is taken after that,
     * or a slow run (TSan) counts its end as a change. */
    wait_log("load: exited with code", 1);
    int fds = stable_fds(sv);
    int before = count(read_log(), "bad: started, pid");
    svtest_ctl_ok(svtest_ctl(5000, "start", "bad", NULL), "start bad");
    wait_log("bad: started, pid", before + 10);
    svtest_ctl_ok(svtest_ctl(5000, "stop", "bad", NULL), "stop bad");
    wait_state("bad", "stopped", &m);
    expect_fds(sv, fds, "after a second burst of restarts");
    expect_idle(sv, "after a second burst of restarts");
    expect_no_zombies(sv);
    pair_was_fine(echo);
    shutdown_clean(sv);
}

/* ---- ignore-term ---- */

/* Two modules that ignore SIGTERM, SIGINT and the stop request, one in a
 * pid namespace (its init forwards the signals): each stop ends in
 * SIGKILL after shutdown_timeout_ms, and the supervisor answers while it
 * waits. */
static const char *stubborn_pair(void)
{
    static char s[1024];
    snprintf(s, sizeof(s),
             "[module bad]\nexec = %s\n" BAD_POLICY "args = ignore-term\nrestart = always\n"
             "[module badns]\nexec = %s\n" BAD_POLICY "args = ignore-term\nnamespaces = pid, mount\nrestart = always\n",
             env_path("UIPC_BAD_MODULE"), env_path("UIPC_BAD_MODULE"));
    return s;
}

static void test_ignore_term_stop(void **state)
{
    (void)state;
    char bads[1024];
    snprintf(bads, sizeof(bads), "%s", stubborn_pair());
    write_conf("[supervisor]\nshutdown_timeout_ms = 1500\n%s%s", pair("4"), bads);
    pid_t sv = start_supervisor();
    wait_log("bad: ready after", 1);
    wait_log("badns: ready after", 1);
    wait_log("load: ready after", 1);
    pid_t echo = latest_pid("echo");
    struct proc bad = proc_of(latest_pid("bad")), init = proc_of(latest_pid("badns"));
    struct proc ns[8];
    int n = descendants(init.pid, ns, 8);
    remember(&bad, 1);
    remember(&init, 1);
    remember(ns, n);
    assert_int_equal(n, 1);
    long long ok = echo_ok();

    svtest_ctl_ok(svtest_ctl(5000, "stop", "bad", NULL), "stop bad");
    svtest_ctl_ok(svtest_ctl(5000, "stop", "badns", NULL), "stop badns");
    svtest_ctl_ok(svtest_ctl(5000, "status", NULL), "status, while two modules refuse to stop");
    wait_log("bad: ignore-term: asked to stop; not stopping", 1);
    wait_log("badns: ignore-term: asked to stop; not stopping", 1);
    wait_log("bad: still running after 1500 ms, SIGKILL", 1);
    wait_log("badns: still running after 1500 ms, SIGKILL", 1);
    log_has("bad: still running, SIGTERM");
    log_has("badns: still running, SIGTERM");
    struct mod_st m;
    wait_state("bad", "stopped", &m);
    assert_string_equal(m.last_exit, "killed by signal SIGKILL");
    wait_state("badns", "stopped", &m);
    assert_string_equal(m.last_exit, "killed by signal SIGKILL");
    log_has("bad: stopped by the operator");
    log_has("badns: stopped by the operator");
    expect_all_gone(&bad, 1, "module that ignored SIGTERM, after its SIGKILL");
    expect_all_gone(&init, 1, "init of the module that ignored SIGTERM, after its SIGKILL");
    expect_all_gone(ns, n, "module in the pid namespace that ignored SIGTERM, after its SIGKILL");
    ends_unharmed(sv, &ok, echo);
    assert_int_equal(count(read_log(), "bad: started, pid"), 1);
}

/* Shutdown with both still running: bounded by their timeouts, exit 0,
 * everything gone. */
static void test_ignore_term_shutdown(void **state)
{
    (void)state;
    char bads[1024];
    snprintf(bads, sizeof(bads), "%s", stubborn_pair());
    write_conf("[supervisor]\nshutdown_timeout_ms = 1500\n%s%s", pair("1"), bads);
    pid_t sv = start_supervisor();
    wait_log("bad: ready after", 1);
    wait_log("badns: ready after", 1);
    pid_t echo = latest_pid("echo");
    struct proc all[8];
    all[0] = proc_of(latest_pid("bad"));
    all[1] = proc_of(latest_pid("badns"));
    int n = descendants(all[1].pid, all + 2, 6) + 2;
    remember(all, n);
    pair_was_fine(echo);
    expect_no_zombies(sv);

    shutdown_clean(sv); /* within 10 s */
    log_has("bad: still running after 1500 ms, SIGKILL");
    log_has("badns: still running after 1500 ms, SIGKILL");
    log_has("echo: exited with code 0");
    expect_gone(echo);
    expect_all_gone(all, n, "processes of the modules that ignored SIGTERM, after shutdown");
}

/* ---- flood-ctl ---- */

static pid_t flood_begin(const char *seconds)
{
    /* It floods the control socket as a local root process could: the
     * host's view and root's uid (a module's own uid, in its read-only
     * view, cannot reach the socket at all). */
    write_conf("[supervisor]\ncontrol_from_modules = yes\n"
               "; the flood stands for any local process: a module is how the test runs one\n"
               "%s[module flood]\nexec = %s\n" BAD_POLICY "user = root\nnamespaces = none\n"
               "args = flood-ctl %s %s usr1\nrestart = never\n",
               pair("8"), env_path("UIPC_BAD_MODULE"), ctl_path, seconds);
    pid_t sv = start_supervisor();
    wait_log("flood: waiting for SIGUSR1", 1);
    wait_log("flood: ready after", 1);
    wait_log("load: ready after", 1);
    return sv;
}

/* A module connects to the control socket as fast as it can, with
 * garbage, oversized, half-written and pipelined frames, never reading,
 * for 4 s.  The supervisor's loop keeps running (the module's output
 * keeps being logged), it holds at most one descriptor per connection it
 * may keep, the pair works; once the flood stops it is back at the
 * descriptors it held before, answers, and stops cleanly. */
static void test_flood_ctl(void **state)
{
    (void)state;
    pid_t sv = flood_begin("4");
    pid_t echo = latest_pid("echo"), flood = latest_pid("flood");
    int base = stable_fds(sv);
    svtest_ctl_ok(svtest_ctl(5000, "status", NULL), "status, before the flood");
    expect_fds(sv, base, "status answered, before the flood");

    assert_int_equal(kill(flood, SIGUSR1), 0);
    wait_log("flood: flooding", 1);
    for (int i = 0; i < 30 && !strstr(read_log(), "flood: stopped"); i++) {
        int n = svtest_fd_count(sv);
        if (n > base + 64 + 2)
            fail_msg("the supervisor holds %d descriptors during the flood, %d before", n, base);
        assert_int_equal(kill(sv, 0), 0);
        sleep_ms(100);
    }
    wait_log("flood: flood: ", 3); /* its progress lines, logged by the supervisor's loop */
    wait_log("flood: stopped after", 1);
    const char *line = strstr(read_log(), "flood: stopped after ");
    long connects = atol(line + strlen("flood: stopped after "));
    if (connects < 1000)
        fail_msg("the flood made only %ld connections", connects);
    expect_fds(sv, base, "the flood over");
    svtest_ctl_ok(svtest_ctl(5000, "status", NULL), "status, after the flood");
    struct mod_st m;
    mod_status("flood", &m);
    assert_string_equal(m.state, "ready");
    assert_int_equal(m.pid, flood);
    pair_was_fine(echo);
    expect_no_zombies(sv);
    expect_idle(sv, "the flood over");
    shutdown_clean(sv);
    log_has("flood: exited with code 0");
}

/* The operator is not locked out: during the flood, at least half of 20
 * uipcctl status (100 ms apart, each with its 5 s timeout) get an answer.
 * (An answer now and then is not enough: one try in two means a person
 * retrying once gets through.) */
static void test_flood_ctl_operator(void **state)
{
    (void)state;
    pid_t sv = flood_begin("120");
    pid_t flood = latest_pid("flood");
    assert_int_equal(kill(flood, SIGUSR1), 0);
    wait_log("flood: flood: ", 1); /* a second into it */
    int answered = 0;
    char last_err[256] = "";
    for (int k = 0; k < 20; k++) {
        if (svtest_ctl(5000, "status", NULL) == 0)
            answered++;
        else
            snprintf(last_err, sizeof(last_err), "%.*s", (int)strcspn(svtest_ctl_err, "\n"), svtest_ctl_err);
        sleep_ms(100);
    }
    bool flooding = !strstr(read_log(), "flood: stopped");
    assert_int_equal(kill(flood, SIGKILL), 0); /* the flood over, whatever happened */
    assert_true(flooding);
    if (answered < 10)
        fail_msg("during a control-socket flood by a module, uipcctl status got an answer %d "
                 "times in 20; a refusal: %s", answered, last_err);
    wait_log("flood: killed by signal SIGKILL", 1);
    svtest_ctl_ok(svtest_ctl(5000, "status", NULL), "status, after the flood");
    shutdown_clean(sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fork_killed, kill_leftovers),
        cmocka_unit_test_teardown(test_fork_escaped_killed, kill_leftovers),
        cmocka_unit_test_teardown(test_fork_daemon_killed, kill_leftovers),
        cmocka_unit_test_teardown(test_fork_daemon_spared, kill_leftovers),
        cmocka_unit_test_teardown(test_fork_stopped, kill_leftovers),
        cmocka_unit_test_teardown(test_fork_shutdown, kill_leftovers),
        cmocka_unit_test_teardown(test_fork_restart_fds, kill_leftovers),
        cmocka_unit_test_teardown(test_fork_pidns, kill_leftovers),
        cmocka_unit_test_teardown(test_forkbomb, kill_leftovers),
        cmocka_unit_test_teardown(test_exit_given_up, kill_leftovers),
        cmocka_unit_test_teardown(test_exit_loop, kill_leftovers),
        cmocka_unit_test_teardown(test_ignore_term_stop, kill_leftovers),
        cmocka_unit_test_teardown(test_ignore_term_shutdown, kill_leftovers),
        cmocka_unit_test_teardown(test_flood_ctl, kill_leftovers),
        cmocka_unit_test_teardown(test_flood_ctl_operator, kill_leftovers),
    };
    return cmocka_run_group_tests(tests, svtest_setup, svtest_teardown);
}
