/* SPDX-License-Identifier: MIT */
/* uipc-chaos's parts, internal, in the order of a run: the command line
 * (chaos-args.c), the clock and interrupts (chaos-clock.c), the supervisor
 * it runs and asks over the control socket (chaos-sup.c), the faults
 * (chaos-faults.c), the settling and the verdict (chaos-judge.c), the
 * report (chaos-report.c); main in chaos.c. */
#ifndef UIPC_TOOLS_CHAOS_H
#define UIPC_TOOLS_CHAOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chaos-schedule.h"
#include "config.h"
#include "control.pb-c.h"

#define CHAOS_CTL_TIMEOUT_MS 5000 /* one control request, at most */

struct chaos_opts {
    const char *config, *supervisor, *log;
    uint32_t duration_ms, interval_ms, slow_ms, settle_ms;
    uint64_t seed;
    unsigned faults;
    const char *targets[CONF_MAX_MODULES];
    unsigned ntargets;
    bool json, print_schedule;
};

struct chaos_tally {
    unsigned injected[FAULT_COUNT], faults, skipped;
    uint64_t restarts, issued, ok, peer_died, timed_out, proto, orphaned;
    uint64_t duplicates, lost, leaked_slots, hung, violations, protocol_kills;
    uint64_t honest_killed; /* deaths of modules that are not targets */
    uint32_t generation; /* the supervisor's at the end: 1 + the reexecs it made */
    bool drained;        /* every channel quiet before the deadline */
    bool judged;         /* the counts are the supervisor's (else all zero) */
    const char *broken;  /* the run itself failed: why */
};

/* The supervisor's generation the faults injected so far make: each
 * reexec answered, and each supervisor killed, is one more. */
static inline uint32_t chaos_generation_due(const struct chaos_tally *t)
{
    return 1 + t->injected[FAULT_REEXEC] + t->injected[FAULT_SUPERVISOR_KILL];
}

/* The supervisor we run; once reaped its pid is no longer ours to wait
 * for or signal. */
struct chaos_sup {
    pid_t pid;
    bool reaped;
    int status;          /* its wait status, once reaped */
};

static inline uint64_t chaos_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static inline uint64_t chaos_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* ---- chaos-args.c ---- */

/* 0, or the exit status (0 for --help, 2 for misuse) with *done set. */
int chaos_parse_args(int argc, char **argv, struct chaos_opts *o, bool *done);
/* Module indices of the targets into idx: the named ones, or every
 * provider.  -1 having said why there are none. */
int chaos_resolve_targets(const struct conf *c, const struct chaos_opts *o, unsigned *idx, unsigned *n);

/* ---- chaos-clock.c ---- */

/* SIGINT and SIGTERM end the run early (chaos_interrupted); SIGPIPE is
 * ignored (a control connection the supervisor closed is an error, not
 * our death). */
void chaos_catch_signals(void);
bool chaos_interrupted(void);
/* CLOCK_MONOTONIC, in ms. */
uint64_t chaos_now_ms(void);
/* A request's deadline: `end`, but a whole request's time from now at
 * least, so that an answer on its way is read and counted (a reexec sent
 * just before the end of the schedule is done whether or not its reply is
 * read; the first try at something the verdict needs). */
static inline uint64_t chaos_request_by(uint64_t end)
{
    return chaos_max(end, chaos_now_ms() + CHAOS_CTL_TIMEOUT_MS);
}
void chaos_sleep_ms(unsigned ms);
/* Sleeps until `when` (chaos_now_ms time), never past it; with
 * `interruptible`, at most 50 ms at a time and no longer once
 * interrupted. */
void chaos_sleep_until(uint64_t when, bool interruptible);

/* ---- chaos-sup.c ---- */

/* --supervisor, else the one installed with us, else uipc-supervisor on
 * PATH; buf holds it when it is found by us. */
const char *chaos_supervisor_path(const struct chaos_opts *o, char *buf, size_t len);
/* uipc-supervisor --config config --control-socket sock, its output to
 * log; its pid, or -1 having said why not. */
pid_t chaos_start_supervisor(const char *exe, const char *config, const char *sock, const char *log);
/* Reaps it if it died, keeping its status; true while it runs. */
bool chaos_alive(struct chaos_sup *sv);
/* SIGTERM, then SIGKILL after 60 s; its wait status. */
int chaos_stop_supervisor(struct chaos_sup *sv);

/* One request; its reply, or NULL when none came within
 * CHAOS_CTL_TIMEOUT_MS or by `by` (chaos_now_ms time). */
Uipc__Control__Reply *chaos_ask(const char *sock, Uipc__Control__Request *req, uint64_t by);
Uipc__Control__Reply *chaos_ask_status(const char *sock, uint64_t by);
Uipc__Control__Reply *chaos_ask_stats(const char *sock, uint64_t by);
/* Frees a reply of chaos_ask's; NULL is none. */
void chaos_reply_free(Uipc__Control__Reply *rep);
/* The named module in a status reply (NULL, or none: NULL). */
const Uipc__Control__ModuleStatus *chaos_find_module(const Uipc__Control__Reply *rep, const char *name);
/* Waits until the modules idx[0..n) (all when n == 0) are ready, or
 * failed or stopped for good, asking at least once, until `until`, each
 * request cut at `by`.  False on timeout, interruption or a dead
 * supervisor. */
bool chaos_wait_ready(const char *sock, struct chaos_sup *sv, const struct conf *c, const unsigned *idx,
                      unsigned n, uint64_t until, uint64_t by);

/* ---- chaos-faults.c ---- */

/* Injects the events ev[0..nev) on their schedule from now, for
 * o->duration_ms, counting into t. */
void chaos_run_schedule(const struct chaos_opts *o, const char *sock, struct chaos_sup *sv,
                        const struct conf *c, const unsigned *targets, const struct chaos_event *ev,
                        unsigned nev, struct chaos_tally *t);

/* ---- chaos-judge.c ---- */

/* Faults over: lets the targets recover, drains, reads the final counts
 * into t, all within o->settle_ms. */
void chaos_settle_and_judge(const struct chaos_opts *o, const char *sock, struct chaos_sup *sv,
                            const struct conf *c, const unsigned *targets, unsigned ntargets,
                            struct chaos_tally *t);

/* ---- chaos-report.c ---- */

/* The verdict: nothing lost, duplicated, leaked or hung, no honest module
 * died, the run not broken. */
bool chaos_passed(const struct chaos_tally *t);
void chaos_report_json(const struct chaos_opts *o, const struct chaos_tally *t, const char *log);
void chaos_report_text(const struct chaos_opts *o, const struct chaos_tally *t, const char *log);
/* --print-schedule: one line an event. */
void chaos_print_schedule(const struct conf *c, const unsigned *targets, const struct chaos_event *ev,
                          unsigned n);

#endif
