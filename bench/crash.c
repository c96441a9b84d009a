/* SPDX-License-Identifier: MIT */
/* uipc-crash-bench: the real uipc-supervisor runs an echo server under a
 * load module; the benchmark kills the server with SIGKILL again and again
 * and measures, per crash, the time from the kill to the last in-flight
 * caller holding its peer-died error, and to the restarted server
 * answering again.  Each kill lands on a server that holds calls: it is
 * stopped (SIGSTOP) first, and killed once the load module has calls in
 * flight; a kill between two turns of the load module would leave no
 * caller to hold an error, and nothing to measure. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "bench-clock.h"
#include "bench-proc.h"

enum sandbox_level { SB_NONE, SB_POLICY, SB_FULL };
static const char *const sandbox_names[] = { "none", "policy", "full", NULL };

struct opts {
    enum sandbox_level sandbox; /* what the echo server runs under */
    unsigned crashes, backoff_ms, interval_ms;
    int json;
};

static char dir[] = "/tmp/uipc-crash-bench-XXXXXX";
static char log_path[256];

static int write_conf(const char *conf, const char *results, const struct opts *o)
{
    FILE *f = fopen(conf, "w");
    if (!f)
        return -errno;
    fprintf(f, "[supervisor]\nheartbeat_interval_ms = 100\nhang_timeout_ms = 2000\n"
               "control_socket = %s/control.sock\n"
               "[module echo]\nexec = %s\n%s%s%s%sprovides = echo\nrestart = always\n"
               "max_restarts = 100000\nrestart_window_s = 1\nbackoff_ms = %u\nbackoff_max_ms = %u\n"
               "[module load]\nexec = %s\nconnects = echo:64x256\nafter = echo\nrestart = never\n"
               "env = CRASH_RESULTS=%s\nwritable = %s\n",
            dir, UIPC_ECHO_SERVER_PATH, o->sandbox >= SB_POLICY ? "policy = " : "",
            o->sandbox >= SB_POLICY ? UIPC_ECHO_POLICY_PATH : "", o->sandbox >= SB_POLICY ? "\n" : "",
            o->sandbox == SB_FULL ? "namespaces = pid, mount, net, ipc, uts\n" : "", o->backoff_ms, o->backoff_ms, UIPC_CRASH_CLIENT_PATH, results, dir);
    return fclose(f) == 0 ? 0 : -errno;
}

/* The newest "echo: started, pid N" in the supervisor's log. */
static pid_t echo_pid(void)
{
    static char buf[1 << 22];
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    const char *needle = "echo: started, pid ", *p = buf, *last = NULL;
    while ((p = strstr(p, needle))) {
        last = p;
        p += strlen(needle);
    }
    return last ? (pid_t)atoi(last + strlen(needle)) : -1;
}

/* The server's own process: with a pid namespace the logged pid is its
 * init's, and the server is the init's one child. */
static pid_t server_process(pid_t logged)
{
    char path[96];
    long child = 0;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)logged, (int)logged);
    FILE *f = fopen(path, "re");
    if (f && fscanf(f, "%ld", &child) != 1)
        child = 0;
    if (f)
        fclose(f);
    return child > 0 ? (pid_t)child : logged;
}

/* The state letter of /proc/PID/stat ('T': stopped), or 0. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold anything */
    return p && p[1] == ' ' ? p[2] : 0;
}

/* Stops the server and waits until it is stopped and the load module has
 * calls sent to it.  A count published before the stop may name calls the
 * server answered on its way to stopping: the count taken is from the end
 * of a turn that began after the stop (whose poll reaped every answer the
 * server pushed), and a stopped server answers nothing more, so those
 * calls are still in flight at the kill.  Up to 10 s. */
static int hold_calls(pid_t pid, struct crash_results *r)
{
    if (kill(pid, SIGSTOP) < 0)
        return -errno;
    uint64_t stopped_at = 0; /* the turn under way when the stop was seen, + 1 */
    for (int i = 0; i < 10000; i++) {
        if (!stopped_at && proc_state(pid) == 'T') /* then the count: it cannot be from before */
            stopped_at = atomic_load(&r->turns) + 1;
        if (stopped_at && atomic_load(&r->turns) > stopped_at && atomic_load(&r->in_flight) > 0)
            return 0;
        sleep_ms(1);
    }
    return -ETIMEDOUT;
}

/* Waits until cond(res, arg) holds, up to 10 s. */
static int wait_ok(struct crash_results *r, uint64_t target)
{
    for (int i = 0; i < 10000 && atomic_load(&r->ok) < target; i++)
        sleep_ms(1);
    return atomic_load(&r->ok) >= target ? 0 : -ETIMEDOUT;
}

static int wait_outages(struct crash_results *r, uint64_t target)
{
    for (int i = 0; i < 10000 && atomic_load(&r->outages) < target; i++)
        sleep_ms(1);
    return atomic_load(&r->outages) >= target ? 0 : -ETIMEDOUT;
}

static uint64_t pct(uint64_t *v, unsigned n, double p)
{
    unsigned k = (unsigned)(p * (n - 1) + 0.5);
    return v[k];
}

/* On failure *what says which wait gave up. */
static int crash_loop(struct crash_results *r, const struct opts *o, uint64_t *err, uint64_t *serve,
                      const char **what)
{
    *what = "the load module's first 1000 calls";
    if (wait_ok(r, 1000) < 0)
        return -ETIMEDOUT;
    for (unsigned k = 0; k < o->crashes; k++) {
        *what = "the server answering steadily (200 calls)";
        if (wait_ok(r, atomic_load(&r->ok) + 200) < 0)
            return -ETIMEDOUT;
        *what = "the server's pid";
        pid_t pid = echo_pid();
        if (pid <= 0)
            return -ESRCH;
        pid = server_process(pid);
        *what = "the stopped server holding calls";
        int e = hold_calls(pid, r);
        if (e < 0)
            return e;
        uint64_t t0 = now_ns();
        *what = "the kill";
        if (kill(pid, SIGKILL) < 0)
            return -errno;
        *what = "the outage's end (an error, then an answer)";
        if (wait_outages(r, k + 1) < 0)
            return -ETIMEDOUT;
        err[k] = r->out[k].last_err_ns - t0;
        serve[k] = r->out[k].first_ok_ns - t0;
        sleep_ms(o->interval_ms);
    }
    return 0;
}

static void report(const struct opts *o, uint64_t *err, uint64_t *serve)
{
    unsigned n = o->crashes;
    qsort(err, n, sizeof(*err), cmp_u64);
    qsort(serve, n, sizeof(*serve), cmp_u64);
    if (o->json) {
        printf("{\"crashes\": %u, \"backoff_ms\": %u, \"sandbox\": \"%s\", \"error_median_us\": %.1f, "
               "\"error_p99_us\": %.1f, \"serving_median_ms\": %.2f, \"serving_p99_ms\": %.2f}\n", n,
               o->backoff_ms, sandbox_names[o->sandbox],
               pct(err, n, .5) / 1e3, pct(err, n, .99) / 1e3, pct(serve, n, .5) / 1e6,
               pct(serve, n, .99) / 1e6);
        return;
    }
    printf("%u crashes (SIGKILL of the echo server under 16-deep async load), backoff %u ms, sandbox %s\n",
           n, o->backoff_ms, sandbox_names[o->sandbox]);
    printf("death -> last in-flight caller has its error:  median %8.1f us   p99 %8.1f us   max %8.1f us\n",
           pct(err, n, .5) / 1e3, pct(err, n, .99) / 1e3, err[n - 1] / 1e3);
    printf("death -> restarted server answering again:      median %8.2f ms   p99 %8.2f ms   max %8.2f ms\n",
           pct(serve, n, .5) / 1e6, pct(serve, n, .99) / 1e6, serve[n - 1] / 1e6);
    printf("  of which the configured backoff:              %u ms; the rest: median %.2f ms\n",
           o->backoff_ms, pct(serve, n, .5) / 1e6 - o->backoff_ms);
}

int main(int argc, char **argv)
{
    struct opts o = { .sandbox = SB_POLICY, .crashes = 100, .backoff_ms = 10, .interval_ms = 100 };
    static const struct option lo[] = {
        { "crashes", required_argument, NULL, 'n' }, { "backoff-ms", required_argument, NULL, 'b' },
        { "interval-ms", required_argument, NULL, 'i' }, { "json", no_argument, NULL, 'j' },
        { "sandbox", required_argument, NULL, 's' },
        { NULL, 0, NULL, 0 },
    };
    for (int c; (c = getopt_long(argc, argv, "n:b:i:js:", lo, NULL)) != -1;) {
        if (c == 'n') o.crashes = (unsigned)atoi(optarg);
        else if (c == 'b') o.backoff_ms = (unsigned)atoi(optarg);
        else if (c == 'i') o.interval_ms = (unsigned)atoi(optarg);
        else if (c == 'j') o.json = 1;
        else if (c == 's') {
            int k = 0;
            while (sandbox_names[k] && strcmp(sandbox_names[k], optarg) != 0)
                k++;
            if (!sandbox_names[k]) {
                fprintf(stderr, "uipc-crash-bench: --sandbox none|policy|full\n");
                return 2;
            }
            o.sandbox = (enum sandbox_level)k;
        }
        else return 2;
    }
    /* the load module runs as a uid of its own with a /tmp of its own: it
     * reaches the results through its writable path */
    if (o.crashes == 0 || o.crashes > CRASH_MAX || !mkdtemp(dir) || chmod(dir, 0755) < 0)
        return 2;
    char conf[300], results[300];
    snprintf(conf, sizeof(conf), "%s/modules.conf", dir);
    snprintf(results, sizeof(results), "%s/results", dir);
    snprintf(log_path, sizeof(log_path), "%s/supervisor.log", dir);
    struct crash_results *r = map_results_file(results, sizeof(struct crash_results), 0666);
    uint64_t *err = calloc(o.crashes, sizeof(uint64_t)), *serve = calloc(o.crashes, sizeof(uint64_t));
    int e = !r || !err || !serve ? -ENOMEM : write_conf(conf, results, &o);
    pid_t sv = e < 0 ? -1 : start_supervisor(conf, log_path);
    const char *what = "set-up";
    if (sv > 0)
        e = crash_loop(r, &o, err, serve, &what);
    if (sv > 0) {
        kill(sv, SIGTERM);
        waitpid(sv, NULL, 0);
    }
    if (e < 0)
        fprintf(stderr, "uipc-crash-bench: %s: %s (supervisor log: %s)\n", what, strerror(-e), log_path);
    else
        report(&o, err, serve);
    if (e == 0) {
        unlink(conf);
        unlink(results);
        unlink(log_path);
        rmdir(dir);
    }
    return e < 0 ? 1 : 0;
}
