/* SPDX-License-Identifier: MIT */
/* uipc-survival-bench: the real uipc-supervisor runs an echo server under
 * a load module that keeps 16 async calls in flight.  The benchmark asks
 * for N in-place upgrades (uipcctl reexec) one after the other, then kills
 * the supervisor's process with SIGKILL N times (its keeper starts a new
 * one each time), and measures, per event, the time from the request or
 * the kill to the next generation answering `status`; and, from the load
 * module, the longest gap between two answered calls during each series,
 * against the same gap over a baseline as long without either (calls do
 * not need the supervisor: all three should be about the same). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.pb-c.h"
#include "ctl-wire.h"
#include "gap.h"
#include "bench-clock.h"
#include "bench-proc.h"

static char dir[] = "/tmp/uipc-survival-bench-XXXXXX";
static char sock[256], log_path[256];

/* One request, its reply (NULL when the supervisor did not answer: the
 * old generation may take a request with it as it goes). */
static Uipc__Control__Reply *ask(Uipc__Control__Request *req)
{
    ProtobufCMessage *m = NULL;
    if (ctl_wire_call(sock, &req->base, &uipc__control__reply__descriptor, &m, 2000) < 0)
        return NULL;
    return (Uipc__Control__Reply *)m;
}

/* The supervisor's generation and process, from its status (0 and 0
 * while it does not answer). */
static uint32_t status_of(pid_t *pid)
{
    Uipc__Control__StatusRequest st = UIPC__CONTROL__STATUS_REQUEST__INIT;
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    req.command_case = UIPC__CONTROL__REQUEST__COMMAND_STATUS;
    req.status = &st;
    Uipc__Control__Reply *rep = ask(&req);
    uint32_t g = rep && rep->supervisor ? rep->supervisor->generation : 0;
    if (pid)
        *pid = rep && rep->supervisor ? rep->supervisor->pid : 0;
    if (rep)
        protobuf_c_message_free_unpacked(&rep->base, NULL);
    return g;
}

static uint32_t generation(void)
{
    return status_of(NULL);
}

/* Waits for a generation after was; ns since t0, or 0 after 10 s. */
static uint64_t answered_since(uint64_t t0, uint32_t was)
{
    while (generation() <= was)
        if (now_ns() - t0 > 10000000000ull)
            return 0;
    return now_ns() - t0;
}

/* One kill: ns from the SIGKILL to the next generation answering, or 0. */
static uint64_t kill_once(uint32_t was)
{
    pid_t pid;
    status_of(&pid);
    uint64_t t0 = now_ns();
    if (pid <= 0 || kill(pid, SIGKILL) < 0)
        return 0;
    return answered_since(t0, was);
}

/* One reexec: ns from the request to the next generation answering, or 0. */
static uint64_t reexec_once(uint32_t was)
{
    Uipc__Control__ReexecRequest rx = UIPC__CONTROL__REEXEC_REQUEST__INIT;
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    req.command_case = UIPC__CONTROL__REQUEST__COMMAND_REEXEC;
    req.reexec = &rx;
    uint64_t t0 = now_ns();
    Uipc__Control__Reply *rep = ask(&req);
    bool ok = rep && rep->ok;
    if (rep && !rep->ok)
        fprintf(stderr, "uipc-survival-bench: refused: %s\n", rep->error);
    if (rep)
        protobuf_c_message_free_unpacked(&rep->base, NULL);
    return ok ? answered_since(t0, was) : 0;
}

static int usage(FILE *f, int code)
{
    fprintf(f, "usage: uipc-survival-bench [--events N] [--json]\n"
               "  -n, --events N   how many reexecs, and how many supervisor kills (default 50)\n"
               "  -j, --json       one JSON object\n");
    return code;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = { { "events", required_argument, NULL, 'n' },
                                          { "json", no_argument, NULL, 'j' },
                                          { "help", no_argument, NULL, 'h' },
                                          { NULL, 0, NULL, 0 } };
    unsigned n = 50;
    int json = 0, o;
    while ((o = getopt_long(argc, argv, "n:jh", opts, NULL)) != -1) {
        if (o == 'n' && (n = (unsigned)atoi(optarg)) > 0 && n <= 10000)
            continue;
        if (o == 'j') {
            json = 1;
            continue;
        }
        return usage(o == 'h' ? stdout : stderr, o == 'h' ? 0 : 2);
    }
    if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
        return 3;
    char conf[300], results[300];
    snprintf(conf, sizeof(conf), "%s/modules.conf", dir);
    snprintf(results, sizeof(results), "%s/results", dir);
    snprintf(sock, sizeof(sock), "%s/control.sock", dir);
    snprintf(log_path, sizeof(log_path), "%s/supervisor.log", dir);
    struct gap_results *res = map_results_file(results, sizeof(struct gap_results), 0666);
    FILE *f = fopen(conf, "w");
    if (!res || !f)
        return 3;
    fprintf(f, "[supervisor]\ncontrol_socket = %s\n[module echo]\nexec = %s\nprovides = echo\n"
               "[module load]\nexec = %s\nconnects = echo:64x256\nafter = echo\nenv = GAP_RESULTS=%s\n"
               "writable = %s\n",
            sock, UIPC_ECHO_SERVER_PATH, UIPC_GAP_CLIENT_PATH, results, dir);
    fclose(f);
    pid_t sv = start_supervisor(conf, log_path);
    for (int i = 0; i < 500 && atomic_load(&res->ok[GAP_WARMUP]) < 10000; i++)
        sleep_ms(10);
    if (atomic_load(&res->ok[GAP_WARMUP]) < 10000) {
        fprintf(stderr, "uipc-survival-bench: the load never got going (log: %s)\n", log_path);
        kill(sv, SIGTERM);
        return 3;
    }
    struct series { const char *name; uint64_t (*once)(uint32_t); unsigned phase; uint64_t *took; uint64_t span; }
        series[] = { { "reexec", reexec_once, GAP_REEXEC, calloc(n, sizeof(uint64_t)), 0 },
                     { "kill -9", kill_once, GAP_KILL, calloc(n, sizeof(uint64_t)), 0 } };
    unsigned failed = 0;
    for (unsigned k = 0; k < 2 && !failed; k++) {
        atomic_store(&res->phase, series[k].phase);
        uint64_t t0 = now_ns();
        for (uint32_t g = generation(), i = 0; i < n; i++, g++)
            if (!(series[k].took[i] = series[k].once(g))) {
                failed = i + 1;
                fprintf(stderr, "uipc-survival-bench: %s %u failed (log: %s)\n", series[k].name, i + 1, log_path);
                break;
            }
        series[k].span = now_ns() - t0;
    }
    /* The baseline: as long as the longer series, nothing done to the supervisor. */
    atomic_store(&res->phase, GAP_BASELINE);
    uint64_t span = series[0].span > series[1].span ? series[0].span : series[1].span;
    sleep_ms((unsigned)(span / 1000000) + 1);
    atomic_store(&res->phase, GAP_WARMUP);
    kill(sv, SIGTERM);
    waitpid(sv, NULL, 0);
    if (failed)
        return 1;
    double base = (double)atomic_load(&res->max_gap_ns[GAP_BASELINE]) / 1e6;
    uint64_t errors = atomic_load(&res->errors);
    if (json)
        printf("{\"events\": %u, \"baseline_longest_gap_ms\": %.3f, \"errors\": %" PRIu64 ", \"series\": [", n, base,
               errors);
    else
        printf("uipc-survival-bench: %u of each under load (echo, 16 async calls in flight); longest gap between "
               "answered calls over a baseline as long: %.2f ms; errors: %" PRIu64 "\n", n, base, errors);
    for (unsigned k = 0; k < 2; k++) {
        qsort(series[k].took, n, sizeof(uint64_t), cmp_u64);
        double med = (double)series[k].took[n / 2] / 1e6;
        double p99 = (double)series[k].took[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e6;
        double gap = (double)atomic_load(&res->max_gap_ns[series[k].phase]) / 1e6;
        uint64_t ok = atomic_load(&res->ok[series[k].phase]);
        if (json)
            printf("%s{\"event\": \"%s\", \"answering_again_ms\": {\"median\": %.3f, \"p99\": %.3f}, "
                   "\"longest_gap_ms\": %.3f, \"calls\": %" PRIu64 "}", k ? ", " : "", series[k].name, med, p99, gap, ok);
        else
            printf("  %-8s -> next supervisor answering status: median %.2f ms, p99 %.2f ms; longest gap between "
                   "answered calls %.2f ms (%.2fx the baseline's); %" PRIu64 " calls answered\n",
                   series[k].name, med, p99, gap, base > 0 ? gap / base : 0.0, ok);
        free(series[k].took);
    }
    if (json)
        printf("]}\n");
    return errors ? 1 : 0;
}
