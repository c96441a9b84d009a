/* SPDX-License-Identifier: MIT */
/* Prometheus's text exposition format, version 0.0.4, to the letter: one
 * "# HELP" and one "# TYPE" line per family, then all of its samples
 * together; label values escaped (backslash, quote, newline); counters
 * end in _total; base units (seconds, bytes); a histogram's buckets are
 * cumulative, ascending, end with le="+Inf" equal to its _count.
 *
 * The latency histogram comes from libmodule's buckets (four per power of
 * two, latency.h), sent by the supervisor as (largest latency held, count)
 * pairs.  Its le bounds are the powers of two minus one nanosecond, which
 * are bucket edges there: every count below a bound is exact. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "metrics.h"

#define LE_FIRST_POW 8  /* 2^8 - 1 ns = 255 ns */
#define LE_LAST_POW  35 /* 2^35 - 1 ns, about 34 s */

static const char *const states[] = { "starting", "ready", "backoff", "failed", "stopped", "stopping" };
#define NSTATES (sizeof(states) / sizeof(states[0]))

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label_value(FILE *f, const char *v)
{
    fputc('"', f);
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* name{k1="v1",k2="v2"} with up to 4 labels (a NULL key ends them). */
static void sample_name(FILE *f, const char *name, const char *const labels[][2], size_t n)
{
    fputs(name, f);
    bool any = false;
    for (size_t k = 0; k < n && labels[k][0]; k++) {
        fprintf(f, "%s%s=", any ? "," : "{", labels[k][0]);
        label_value(f, labels[k][1]);
        any = true;
    }
    if (any)
        fputc('}', f);
}

/* Seconds from nanoseconds, exactly: "0.000000255", "12.5", "3". */
struct seconds { char s[32]; };
static struct seconds seconds_ns(uint64_t ns)
{
    struct seconds out;
    char frac[16];
    snprintf(frac, sizeof(frac), "%09" PRIu64, ns % 1000000000u);
    size_t n = strlen(frac);
    while (n > 0 && frac[n - 1] == '0')
        frac[--n] = '\0';
    snprintf(out.s, sizeof(out.s), "%" PRIu64 "%s%s", ns / 1000000000u, n ? "." : "", frac);
    return out;
}

static void sample_u64(FILE *f, const char *name, const char *const labels[][2], size_t n, uint64_t v)
{
    sample_name(f, name, labels, n);
    fprintf(f, " %" PRIu64 "\n", v);
}

static void sample_seconds(FILE *f, const char *name, const char *const labels[][2], size_t n, uint64_t ns)
{
    sample_name(f, name, labels, n);
    fprintf(f, " %s\n", seconds_ns(ns).s);
}

#define NLABELS(l) (sizeof(l) / sizeof(l[0]))

/* ---- the supervisor ---- */

static void supervisor_metrics(FILE *f, const Uipc__Control__SupervisorStatus *me)
{
    const char *const none[][2] = { { NULL, NULL } };
    family(f, "uipc_supervisor_uptime_seconds", "gauge", "Time since this supervisor generation started.");
    sample_seconds(f, "uipc_supervisor_uptime_seconds", none, 0, me->uptime_ms * 1000000u);
    family(f, "uipc_supervisor_start_time_seconds", "gauge",
           "When this supervisor generation started, seconds since the Unix epoch.");
    sample_seconds(f, "uipc_supervisor_start_time_seconds", none, 0, me->started_ms * 1000000u);
    family(f, "uipc_supervisor_generation", "gauge", "1 at start, +1 at each reexec (in-place upgrade).");
    sample_u64(f, "uipc_supervisor_generation", none, 0, me->generation);
    family(f, "uipc_supervisor_loop_turns_total", "counter", "Turns of the supervisor's event loop.");
    sample_u64(f, "uipc_supervisor_loop_turns_total", none, 0, me->loop_turns);
    family(f, "uipc_supervisor_loop_max_seconds", "gauge", "The longest turn of the supervisor's event loop so far.");
    sample_seconds(f, "uipc_supervisor_loop_max_seconds", none, 0, me->loop_max_ms * 1000000u);
    family(f, "uipc_supervisor_control_requests_total", "counter",
           "Control socket requests answered by this generation, by command.");
    for (size_t k = 0; k < me->n_control_requests; k++) {
        const char *const l[][2] = { { "command", me->control_requests[k]->name } };
        sample_u64(f, "uipc_supervisor_control_requests_total", l, 1, me->control_requests[k]->value);
    }
}

/* ---- modules ---- */

static size_t state_index(const char *s)
{
    for (size_t k = 0; k < NSTATES; k++)
        if (s && strcmp(s, states[k]) == 0)
            return k;
    return NSTATES;
}

static void modules_by_state(FILE *f, const Uipc__Control__Reply *st)
{
    uint64_t n[NSTATES] = { 0 };
    for (size_t i = 0; i < st->n_modules; i++) {
        size_t k = state_index(st->modules[i]->state);
        if (k < NSTATES)
            n[k]++;
    }
    family(f, "uipc_modules", "gauge", "Configured modules, by state.");
    for (size_t k = 0; k < NSTATES; k++) {
        const char *const l[][2] = { { "state", states[k] } };
        sample_u64(f, "uipc_modules", l, 1, n[k]);
    }
}

/* One family with one sample per module: v(m) under the label module. */
#define PER_MODULE(f, st, metric, type, help, expr)                                          \
    do {                                                                                   \
        family(f, metric, type, help);                                                     \
        for (size_t i_ = 0; i_ < (st)->n_modules; i_++) {                                  \
            const Uipc__Control__ModuleStatus *m = (st)->modules[i_];                      \
            const char *const l_[][2] = { { "module", m->name } };                         \
            sample_u64(f, metric, l_, 1, (expr));                                          \
        }                                                                                  \
    } while (0)

static void module_metrics(FILE *f, const Uipc__Control__Reply *st)
{
    modules_by_state(f, st);
    family(f, "uipc_module_state", "gauge", "1 for the module's current state, 0 for the others.");
    for (size_t i = 0; i < st->n_modules; i++)
        for (size_t k = 0; k < NSTATES; k++) {
            const char *const l[][2] = { { "module", st->modules[i]->name }, { "state", states[k] } };
            sample_u64(f, "uipc_module_state", l, 2, state_index(st->modules[i]->state) == k);
        }
    family(f, "uipc_module_uptime_seconds", "gauge", "Time since the module's running process started; 0 when none runs.");
    for (size_t i = 0; i < st->n_modules; i++) {
        const char *const l[][2] = { { "module", st->modules[i]->name } };
        sample_seconds(f, "uipc_module_uptime_seconds", l, 1, st->modules[i]->uptime_ms * 1000000u);
    }
    PER_MODULE(f, st, "uipc_module_pid", "gauge", "The module's process id; 0 when none runs.",
               (uint64_t)(m->pid > 0 ? m->pid : 0));
    PER_MODULE(f, st, "uipc_module_restarts_total", "counter", "Starts of the module after its first.", m->restarts);
    family(f, "uipc_module_exits_total", "counter",
           "Exits of the module's process, by reason: clean (code 0), failed (another code), crashed (a signal "
           "not from the supervisor), hung, seccomp (killed for a syscall), stopped (operator, reload, shutdown).");
    for (size_t i = 0; i < st->n_modules; i++)
        for (size_t k = 0; k < st->modules[i]->n_exits; k++) {
            const Uipc__Control__Count *c = st->modules[i]->exits[k];
            const char *const l[][2] = { { "module", st->modules[i]->name }, { "reason", c->name } };
            sample_u64(f, "uipc_module_exits_total", l, 2, c->value);
        }
    family(f, "uipc_module_seccomp_violations_total", "counter",
           "Syscalls the module's policy refused, by syscall (32 names per module, then \"other\").");
    for (size_t i = 0; i < st->n_modules; i++)
        for (size_t k = 0; k < st->modules[i]->n_violations_by_syscall; k++) {
            const Uipc__Control__Count *c = st->modules[i]->violations_by_syscall[k];
            const char *const l[][2] = { { "module", st->modules[i]->name }, { "syscall", c->name } };
            sample_u64(f, "uipc_module_seccomp_violations_total", l, 2, c->value);
        }
    PER_MODULE(f, st, "uipc_module_protocol_reports_total", "counter",
               "Times a peer reported the module for breaking a channel's protocol (each resets the channel).",
               m->protocol_reports);
    PER_MODULE(f, st, "uipc_module_protocol_kills_total", "counter",
               "Times the module was killed for breaking a channel's protocol (a report resets the channel and "
               "kills no one: always 0).",
               m->protocol_kills);
}

/* ---- channels ---- */

#define CHAN_LABELS(c) { { "service", (c)->service }, { "client", (c)->client }, { "server", (c)->server } }

#define PER_CHANNEL(f, sr, metric, type, help, expr)                                         \
    do {                                                                                   \
        family(f, metric, type, help);                                                     \
        for (size_t i_ = 0; i_ < (sr)->n_channels; i_++) {                                 \
            const Uipc__Control__ChannelStats *c = (sr)->channels[i_];                     \
            const char *const l_[][2] = CHAN_LABELS(c);                                    \
            sample_u64(f, metric, l_, 3, (expr));                                          \
        }                                                                                  \
    } while (0)

static void completions(FILE *f, const Uipc__Control__Reply *sr)
{
    family(f, "uipc_channel_completions_total", "counter",
           "Calls completed, by kind: ok (the handler's status, success or not), bad_status (a status the server "
           "forged), peer_died, timed_out, proto.");
    for (size_t i = 0; i < sr->n_channels; i++) {
        const Uipc__Control__ChannelStats *c = sr->channels[i];
        const struct { const char *kind; uint64_t n; } kinds[] = {
            { "ok", c->ok }, { "bad_status", c->bad_status }, { "peer_died", c->peer_died },
            { "timed_out", c->timed_out }, { "proto", c->proto },
        };
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            const char *const l[][2] = { { "service", c->service }, { "client", c->client },
                                         { "server", c->server }, { "kind", kinds[k].kind } };
            sample_u64(f, "uipc_channel_completions_total", l, 4, kinds[k].n);
        }
    }
}

static void latency_histogram(FILE *f, const Uipc__Control__Reply *sr)
{
    const char *name = "uipc_channel_latency_seconds";
    family(f, name, "histogram",
           "Call latency from issue to completion, as the client saw it; one call in 16 is timed.");
    for (size_t i = 0; i < sr->n_channels; i++) {
        const Uipc__Control__ChannelStats *c = sr->channels[i];
        size_t nb = c->n_latency_bucket_le_ns < c->n_latency_bucket_count ? c->n_latency_bucket_le_ns
                                                                          : c->n_latency_bucket_count;
        uint64_t total = 0;
        for (size_t b = 0; b < nb; b++)
            total = sat_add(total, c->latency_bucket_count[b]);
        for (unsigned p = LE_FIRST_POW; p <= LE_LAST_POW + 1; p++) {
            struct seconds le = { "+Inf" };
            uint64_t below = total;
            if (p <= LE_LAST_POW) {
                uint64_t bound = (UINT64_C(1) << p) - 1;
                below = 0;
                for (size_t b = 0; b < nb; b++)
                    if (c->latency_bucket_le_ns[b] <= bound)
                        below = sat_add(below, c->latency_bucket_count[b]);
                le = seconds_ns(bound);
            }
            const char *const l[][2] = { { "service", c->service }, { "client", c->client },
                                         { "server", c->server }, { "le", le.s } };
            sample_u64(f, "uipc_channel_latency_seconds_bucket", l, 4, below);
        }
        const char *const l[][2] = CHAN_LABELS(c);
        sample_seconds(f, "uipc_channel_latency_seconds_sum", l, 3, c->latency_sum_ns);
        sample_u64(f, "uipc_channel_latency_seconds_count", l, 3, total);
    }
}

static void channel_metrics(FILE *f, const Uipc__Control__Reply *sr)
{
    PER_CHANNEL(f, sr, "uipc_channel_calls_total", "counter", "Calls the client issued on the channel.", c->calls);
    completions(f, sr);
    PER_CHANNEL(f, sr, "uipc_channel_duplicates_total", "counter",
                "Completions the client dropped: a second one for a call, or a stray.", c->duplicates);
    PER_CHANNEL(f, sr, "uipc_channel_orphaned_total", "counter", "Calls in flight when their caller died.",
                c->orphaned);
    PER_CHANNEL(f, sr, "uipc_channel_reclaimed_total", "counter",
                "In-flight slots the supervisor answered for a dead server.", c->reclaimed);
    PER_CHANNEL(f, sr, "uipc_channel_protocol_violations_total", "counter",
                "Protocol violations reported on the channel (each resets it).", c->violations);
    PER_CHANNEL(f, sr, "uipc_channel_in_flight", "gauge", "Slots holding a call now.", c->in_flight);
    PER_CHANNEL(f, sr, "uipc_channel_free_slots", "gauge", "Slots a new call can take now.", c->free_slots);
    PER_CHANNEL(f, sr, "uipc_channel_slots", "gauge", "Slots in the channel.", c->slots);
    PER_CHANNEL(f, sr, "uipc_channel_slot_size_bytes", "gauge", "Bytes a command or a reply may take.",
                c->slot_size);
    PER_CHANNEL(f, sr, "uipc_channel_sync_waiting", "gauge", "Synchronous callers waiting for a completion now.",
                c->sync_waiting);
    latency_histogram(f, sr);
}

void metrics_write(FILE *f, const Uipc__Control__Reply *status, const Uipc__Control__Reply *stats)
{
    const char *const none[][2] = { { NULL, NULL } };
    family(f, "uipc_up", "gauge", "1 when the supervisor answered on its control socket.");
    sample_u64(f, "uipc_up", none, 0, status != NULL);
    if (status && status->supervisor)
        supervisor_metrics(f, status->supervisor);
    if (status)
        module_metrics(f, status);
    if (stats)
        channel_metrics(f, stats);
}
