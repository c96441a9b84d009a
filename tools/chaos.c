/* SPDX-License-Identifier: MIT */
/* uipc-chaos: runs a user's modules.conf under uipc-supervisor, injects
 * faults into its servers by a seeded schedule while the user's own
 * clients make the load, then judges from the supervisor's per-channel
 * accounting that no call was lost, completed twice, or left hanging and
 * no slot leaked.  It knows nothing of the modules: only what libmodule
 * and the supervisor count. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chaos-schedule.h"
#include "config.h"
#include "control.pb-c.h"
#include "ctl-wire.h"
#include "region.h"

#define MAX_EVENTS 100000
#define CTL_TIMEOUT_MS 5000 /* one control request, at most */
#define DRAIN_RETRY_MS 100  /* between drain requests the supervisor did not answer */

struct opts {
    const char *config, *supervisor, *log;
    uint32_t duration_ms, interval_ms, slow_ms, settle_ms;
    uint64_t seed;
    unsigned faults;
    const char *targets[CONF_MAX_MODULES];
    unsigned ntargets;
    bool json, print_schedule;
};

struct tally {
    unsigned injected[FAULT_COUNT], faults, skipped;
    uint64_t restarts, issued, ok, peer_died, timed_out, proto, orphaned;
    uint64_t duplicates, lost, leaked_slots, hung, violations, protocol_kills;
    uint64_t honest_killed; /* deaths of modules that are not targets */
    bool drained;        /* every channel quiet before the deadline */
    bool judged;         /* the counts are the supervisor's (else all zero) */
    const char *broken;  /* the run itself failed: why */
};

/* The supervisor we run; once reaped its pid is no longer ours to wait
 * for or signal. */
struct sup {
    pid_t pid;
    bool reaped;
    int status;          /* its wait status, once reaped */
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* Sleeps until `when` (now_ms time), never past it; with `interruptible`,
 * at most 50 ms at a time and no longer once interrupted. */
static void sleep_until(uint64_t when, bool interruptible)
{
    for (uint64_t now = now_ms(); now < when && !(interruptible && interrupted); now = now_ms())
        sleep_ms((unsigned)min_u64(when - now, interruptible ? 50 : UINT32_MAX));
}

/* ---- command line ---- */

static int usage(FILE *f, int code)
{
    fprintf(f,
            "usage: uipc-chaos --config FILE [--duration S] [--seed N] [--target MODULE]...\n"
            "                  [--faults kill,segv,stop,abort,slow,hostile] [--json]\n"
            "  -c, --config FILE      the modules.conf to run (its clients make the load)\n"
            "  -d, --duration S       how long to inject faults (default 30); a fault whose\n"
            "                         target is not running by the next one's time is skipped\n"
            "  -s, --seed N           the schedule's seed (default: from the clock; printed)\n"
            "  -t, --target MODULE    a module to hurt (repeatable; default: every module\n"
            "                         that provides a service)\n"
            "  -f, --faults LIST      among kill (SIGKILL), segv (SIGSEGV), stop (SIGSTOP: a\n"
            "                         hang), abort (abort() in a handler), slow (a handler\n"
            "                         slower than its caller's timeout), hostile (the\n"
            "                         target's libmodule attacks its clients, then goes on,\n"
            "                         hangs or dies); default all but hostile\n"
            "  -i, --interval-ms N    mean time between faults (default 200)\n"
            "      --slow-ms N        how long a slow handler sleeps (default 1500)\n"
            "      --settle-s S       at the end, how long recovery and the drain may take\n"
            "                         (default 20); the counts are read even if not drained\n"
            "      --supervisor PATH  the uipc-supervisor to run (default: installed next to\n"
            "                         uipc-chaos, else on PATH)\n"
            "      --log FILE         the supervisor's output (default: a file in /tmp, named)\n"
            "      --print-schedule   print the schedule the seed gives, and run nothing\n"
            "  -j, --json             the result as one JSON object\n"
            "exit status: 0 nothing lost, duplicated, leaked or hung, no module but the\n"
            "             targets died; 1 something was, or did;\n"
            "             2 usage or config error; 3 the run could not be made\n");
    return code;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v > max)
        return false;
    *out = v;
    return true;
}

static int bad(const char *what, const char *arg)
{
    fprintf(stderr, "uipc-chaos: bad %s '%s'\nTry 'uipc-chaos --help'.\n", what, arg);
    return 2;
}

/* 0, or the exit status with *done set. */
static int parse_args(int argc, char **argv, struct opts *o, bool *done)
{
    enum { O_SLOW = 256, O_SETTLE, O_SUPERVISOR, O_LOG, O_PRINT };
    static const struct option lo[] = {
        { "config", required_argument, NULL, 'c' }, { "duration", required_argument, NULL, 'd' },
        { "seed", required_argument, NULL, 's' }, { "target", required_argument, NULL, 't' },
        { "faults", required_argument, NULL, 'f' }, { "interval-ms", required_argument, NULL, 'i' },
        { "slow-ms", required_argument, NULL, O_SLOW }, { "settle-s", required_argument, NULL, O_SETTLE },
        { "supervisor", required_argument, NULL, O_SUPERVISOR }, { "log", required_argument, NULL, O_LOG },
        { "print-schedule", no_argument, NULL, O_PRINT }, { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    uint64_t v;
    int c;
    *done = true;
    *o = (struct opts){ .duration_ms = 30000, .interval_ms = 200, .slow_ms = 1500, .settle_ms = 20000,
                        .faults = CHAOS_DEFAULT_FAULTS };
    o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    while ((c = getopt_long(argc, argv, "c:d:s:t:f:i:jh", lo, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'd':
            if (!parse_u64(optarg, 86400, &v) || v == 0)
                return bad("--duration (1 to 86400 seconds)", optarg);
            o->duration_ms = (uint32_t)v * 1000;
            break;
        case 's':
            if (!parse_u64(optarg, UINT64_MAX, &v))
                return bad("--seed", optarg);
            o->seed = v;
            break;
        case 't':
            if (o->ntargets == CONF_MAX_MODULES)
                return bad("--target (too many)", optarg);
            o->targets[o->ntargets++] = optarg;
            break;
        case 'f':
            if (chaos_parse_faults(optarg, &o->faults) < 0)
                return bad("--faults (kill,segv,stop,abort,slow,hostile)", optarg);
            break;
        case 'i':
            if (!parse_u64(optarg, 3600000, &v) || v < 2)
                return bad("--interval-ms (2 to 3600000)", optarg);
            o->interval_ms = (uint32_t)v;
            break;
        case O_SLOW:
            if (!parse_u64(optarg, 3600000, &v) || v == 0)
                return bad("--slow-ms (1 to 3600000)", optarg);
            o->slow_ms = (uint32_t)v;
            break;
        case O_SETTLE:
            if (!parse_u64(optarg, 3600, &v) || v == 0)
                return bad("--settle-s (1 to 3600)", optarg);
            o->settle_ms = (uint32_t)v * 1000;
            break;
        case O_SUPERVISOR: o->supervisor = optarg; break;
        case O_LOG: o->log = optarg; break;
        case O_PRINT: o->print_schedule = true; break;
        case 'j': o->json = true; break;
        case 'h': return usage(stdout, 0);
        default: return usage(stderr, 2);
        }
    }
    if (!o->config || optind != argc)
        return usage(stderr, 2);
    *done = false;
    return 0;
}

/* Module indices of the targets: the named ones, or every provider. */
static int resolve_targets(const struct conf *c, const struct opts *o, unsigned *idx, unsigned *n)
{
    *n = 0;
    for (unsigned k = 0; k < o->ntargets; k++) {
        int i = conf_module_index(c, o->targets[k]);
        if (i < 0) {
            fprintf(stderr, "uipc-chaos: --target %s: no such module in %s\n", o->targets[k], o->config);
            return -1;
        }
        idx[(*n)++] = (unsigned)i;
    }
    for (unsigned i = 0; !o->ntargets && i < c->nmod; i++)
        if (c->mod[i].nprovides)
            idx[(*n)++] = i;
    if (*n == 0) {
        fprintf(stderr, "uipc-chaos: %s: no module provides a service; name targets with --target\n",
                o->config);
        return -1;
    }
    return 0;
}

/* ---- the supervisor ---- */

/* --supervisor, else next to us (an install whose bindir is its sbindir),
 * ../supervisor (the build tree: we are in build/tools), ../sbin
 * (installed), else uipc-supervisor on PATH. */
static const char *supervisor_path(const struct opts *o, char *buf, size_t len)
{
    static const char *const rel[] = { "uipc-supervisor", "../supervisor/uipc-supervisor",
                                       "../sbin/uipc-supervisor" };
    char self[PATH_MAX / 2];
    if (o->supervisor)
        return o->supervisor;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        for (size_t k = 0; k < sizeof(rel) / sizeof(rel[0]); k++) {
            if (snprintf(buf, len, "%s/%s", self, rel[k]) >= (int)len)
                continue;
            if (access(buf, X_OK) == 0)
                return buf;
        }
    }
    return "uipc-supervisor";
}

static pid_t start_supervisor(const char *exe, const char *config, const char *sock, const char *log)
{
    int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        fprintf(stderr, "uipc-chaos: %s: %s\n", log, strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0)
        fprintf(stderr, "uipc-chaos: fork: %s\n", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* we die: it shuts its modules down */
        dup2(out, 1);
        dup2(out, 2);
        execlp(exe, exe, "--config", config, "--control-socket", sock, (char *)NULL);
        fprintf(stderr, "uipc-chaos: exec %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(out);
    return pid;
}

/* Reaps it if it died, keeping its status; true while it runs. */
static bool alive(struct sup *sv)
{
    if (sv->reaped)
        return false;
    pid_t r = waitpid(sv->pid, &sv->status, WNOHANG);
    if (r == 0)
        return true;
    sv->reaped = true; /* r < 0: not ours to wait for any more (ECHILD), as good as gone */
    return false;
}

/* SIGTERM, then SIGKILL after 60 s; its wait status.  One already reaped
 * is not signalled: its pid may be someone else's by now. */
static int stop_supervisor(struct sup *sv)
{
    if (!alive(sv))
        return sv->status;
    kill(sv->pid, SIGTERM);
    for (int k = 0; k < 6000; k++) {
        if (!alive(sv))
            return sv->status;
        sleep_ms(10);
    }
    kill(sv->pid, SIGKILL);
    if (waitpid(sv->pid, &sv->status, 0) == sv->pid)
        sv->reaped = true;
    return sv->status;
}

/* ---- the control socket ---- */

/* Milliseconds left until `until`; 0 once it has passed (ctl-wire would
 * take a 0 timeout as "forever"). */
static int left_ms(uint64_t until)
{
    uint64_t now = now_ms();
    return now < until ? (int)(until - now) : 0;
}

/* One request on a connection of its own; NULL when no answer came within
 * CTL_TIMEOUT_MS or by `by` (now_ms time), whichever is first: the caller's
 * phase ends then, and a request must not stretch it.  Connect, send and
 * receive share that one limit. */
static Uipc__Control__Reply *ask(const char *sock, Uipc__Control__Request *req, uint64_t by)
{
    uint64_t until = min_u64(by, now_ms() + CTL_TIMEOUT_MS);
    ProtobufCMessage *m = NULL;
    int ms = left_ms(until);
    int fd = ms ? ctl_wire_connect(sock, ms) : -ETIMEDOUT;
    if (fd < 0)
        return NULL;
    if (!(ms = left_ms(until)) || ctl_wire_send(fd, &req->base, ms) < 0 || !(ms = left_ms(until)) ||
        ctl_wire_recv(fd, &uipc__control__reply__descriptor, &m, ms) < 0)
        m = NULL;
    close(fd);
    return (Uipc__Control__Reply *)m;
}

static void done(Uipc__Control__Reply *rep)
{
    if (rep)
        protobuf_c_message_free_unpacked(&rep->base, NULL);
}

static Uipc__Control__Reply *ask_status(const char *sock, uint64_t by)
{
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__StatusRequest st = UIPC__CONTROL__STATUS_REQUEST__INIT;
    req.command_case = UIPC__CONTROL__REQUEST__COMMAND_STATUS;
    req.status = &st;
    return ask(sock, &req, by);
}

static Uipc__Control__Reply *ask_stats(const char *sock, uint64_t by)
{
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__StatsRequest st = UIPC__CONTROL__STATS_REQUEST__INIT;
    req.command_case = UIPC__CONTROL__REQUEST__COMMAND_STATS;
    req.stats = &st;
    return ask(sock, &req, by);
}

static const Uipc__Control__ModuleStatus *find(const Uipc__Control__Reply *rep, const char *name)
{
    for (size_t i = 0; rep && i < rep->n_modules; i++)
        if (strcmp(rep->modules[i]->name, name) == 0)
            return rep->modules[i];
    return NULL;
}

/* True when the named modules (all when n == 0) are ready, or failed or
 * stopped for good, in one status reply. */
static bool all_ready(const Uipc__Control__Reply *rep, const struct conf *c, const unsigned *idx, unsigned n)
{
    bool all = rep != NULL;
    for (unsigned k = 0; all && k < (n ? n : c->nmod); k++) {
        const Uipc__Control__ModuleStatus *m = find(rep, c->mod[n ? idx[k] : k].name);
        all = m && (strcmp(m->state, "ready") == 0 || strcmp(m->state, "failed") == 0 ||
                    strcmp(m->state, "stopped") == 0);
    }
    return all;
}

/* Waits until those modules are ready (all_ready); asks at least once, so
 * a moment already past still sees a module that is running, and asks
 * again every 20 ms until `until`, each request cut at `by`.  False on
 * timeout or a dead supervisor. */
static bool wait_ready(const char *sock, struct sup *sv, const struct conf *c, const unsigned *idx, unsigned n,
                       uint64_t until, uint64_t by)
{
    for (;;) {
        if (interrupted || !alive(sv))
            return false;
        Uipc__Control__Reply *rep = ask_status(sock, by);
        bool all = all_ready(rep, c, idx, n);
        done(rep);
        if (all)
            return true;
        uint64_t now = now_ms();
        if (now >= until)
            return false;
        sleep_ms((unsigned)min_u64(until - now, 20));
    }
}

/* ---- faults ---- */

/* Signals through `kill`; abort, slow and hostile through `fault`, with
 * the slow time or the hostile attack in its ms. */
static bool inject(const char *sock, const char *module, const struct chaos_event *ev, uint32_t slow_ms,
                   uint64_t by)
{
    static const int sig[FAULT_COUNT] = { [FAULT_KILL] = SIGKILL, [FAULT_SEGV] = SIGSEGV,
                                          [FAULT_STOP] = SIGSTOP };
    enum chaos_fault f = ev->fault;
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__KillRequest kill = UIPC__CONTROL__KILL_REQUEST__INIT;
    Uipc__Control__FaultRequest fault = UIPC__CONTROL__FAULT_REQUEST__INIT;
    if (f == FAULT_ABORT || f == FAULT_SLOW || f == FAULT_HOSTILE) {
        req.command_case = UIPC__CONTROL__REQUEST__COMMAND_FAULT;
        req.fault = &fault;
        fault.module = (char *)module;
        fault.kind = (char *)chaos_fault_name(f);
        fault.ms = f == FAULT_HOSTILE ? ev->attack : slow_ms;
    } else {
        req.command_case = UIPC__CONTROL__REQUEST__COMMAND_KILL;
        req.kill = &kill;
        kill.module = (char *)module;
        kill.signal = sig[f];
    }
    Uipc__Control__Reply *rep = ask(sock, &req, by);
    bool ok = rep && rep->ok;
    done(rep);
    return ok;
}

/* Runs the schedule, which ends at start + duration whatever the targets
 * do.  A target that is not running at its moment (still restarting from
 * the last fault, its backoff maybe seconds by now) is waited for only
 * until the next fault is due (chaos_event_deadline), else the fault is
 * skipped: waiting longer would push every later fault back, pile the
 * late ones onto one incarnation, and stretch the run by up to the
 * backoff per fault.  Faults the duration left no time for are skipped
 * too. */
static void run_schedule(const struct opts *o, const char *sock, struct sup *sv, const struct conf *c,
                         const unsigned *targets, const struct chaos_event *ev, unsigned nev,
                         struct tally *t)
{
    uint64_t t0 = now_ms(), end = t0 + o->duration_ms;
    unsigned k;
    for (k = 0; k < nev && !interrupted && now_ms() < end; k++) {
        sleep_until(t0 + ev[k].at_ms, true);
        if (interrupted)
            return;
        if (!alive(sv)) {
            t->broken = "the supervisor died";
            return;
        }
        unsigned i = targets[ev[k].target];
        uint64_t until = t0 + chaos_event_deadline(ev, nev, k, o->duration_ms);
        if (!wait_ready(sock, sv, c, &i, 1, until, end) ||
            !inject(sock, c->mod[i].name, &ev[k], o->slow_ms, end)) {
            t->skipped++;
            continue;
        }
        t->injected[ev[k].fault]++;
        t->faults++;
    }
    if (!interrupted)
        t->skipped += nev - k;
}

/* ---- judging ---- */

static uint64_t completed(const Uipc__Control__ChannelStats *ch)
{
    return ch->ok + ch->peer_died + ch->timed_out + ch->proto;
}

/* True when nothing is in flight anywhere: every call of a live client
 * completed, every slot free, no caller waiting. */
static bool quiet(const Uipc__Control__Reply *st, const Uipc__Control__Reply *status)
{
    for (size_t k = 0; k < st->n_channels; k++) {
        const Uipc__Control__ChannelStats *ch = st->channels[k];
        const Uipc__Control__ModuleStatus *client = find(status, ch->client);
        if (!client || client->pid == 0)
            continue;
        if (completed(ch) + ch->orphaned != ch->calls || ch->sync_waiting || ch->free_slots != ch->slots)
            return false;
    }
    return true;
}

static bool is_target(const struct conf *c, const unsigned *targets, unsigned ntargets, const char *name)
{
    for (unsigned k = 0; k < ntargets; k++)
        if (strcmp(c->mod[targets[k]].name, name) == 0)
            return true;
    return false;
}

/* How often a module died: each restart followed a death, and one that
 * is down now (waiting for its restart, or given up) died once more. */
static uint64_t deaths(const Uipc__Control__ModuleStatus *m)
{
    bool down = strcmp(m->state, "backoff") == 0 || strcmp(m->state, "failed") == 0;
    return (uint64_t)m->restarts + down;
}

static void judge(const Uipc__Control__Reply *st, const Uipc__Control__Reply *status, const struct conf *c,
                  const unsigned *targets, unsigned ntargets, struct tally *t)
{
    for (size_t k = 0; k < st->n_channels; k++) {
        const Uipc__Control__ChannelStats *ch = st->channels[k];
        const Uipc__Control__ModuleStatus *client = find(status, ch->client);
        uint64_t answered = completed(ch) + ch->orphaned;
        t->issued += ch->calls;
        t->ok += ch->ok;
        t->peer_died += ch->peer_died;
        t->timed_out += ch->timed_out;
        t->proto += ch->proto;
        t->orphaned += ch->orphaned;
        t->violations += ch->violations;
        if (answered > ch->calls)
            t->duplicates += answered - ch->calls; /* more completions than calls */
        uint64_t open = answered < ch->calls ? ch->calls - answered : 0;
        t->hung += ch->sync_waiting;
        t->lost += open > ch->sync_waiting ? open - ch->sync_waiting : 0;
        /* A dead client's slots wait for its next incarnation: not ours to judge. */
        uint32_t held = ch->slots - ch->free_slots;
        if (client && client->pid && held > open)
            t->leaked_slots += held - open;
        if (open || answered > ch->calls || (client && client->pid && held))
            fprintf(stderr, "uipc-chaos: channel %s (%s -> %s): %" PRIu64 " calls open (%u sync callers "
                    "waiting), %" PRIu64 " completions too many, %u/%u slots held\n", ch->service,
                    ch->client, ch->server, open, ch->sync_waiting,
                    answered > ch->calls ? answered - ch->calls : 0, held, ch->slots);
    }
    for (size_t i = 0; i < status->n_modules; i++) {
        const Uipc__Control__ModuleStatus *m = status->modules[i];
        t->restarts += m->restarts;
        t->protocol_kills += m->protocol_kills;
        /* Faults go to the targets alone: any other module that died was
         * killed by what they did (a hostile server), or by a bug. */
        if (!is_target(c, targets, ntargets, m->name) && deaths(m)) {
            t->honest_killed += deaths(m);
            fprintf(stderr, "uipc-chaos: %s is no target, but died %" PRIu64 " time(s) (state %s, last exit: "
                    "%s%s%s)\n", m->name, deaths(m), m->state, m->last_exit[0] ? m->last_exit : "none",
                    m->last_reason[0] ? ", " : "", m->last_reason);
        }
    }
}

static bool set_drain(const char *sock, bool on, uint64_t by)
{
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__DrainRequest d = UIPC__CONTROL__DRAIN_REQUEST__INIT;
    req.command_case = UIPC__CONTROL__REQUEST__COMMAND_DRAIN;
    req.drain = &d;
    d.off = !on;
    Uipc__Control__Reply *rep = ask(sock, &req, by);
    bool ok = rep && rep->ok;
    done(rep);
    return ok;
}

/* The settle phase's last moment for a request: `end`, but the first
 * attempt at something the verdict needs gets a whole request's time even
 * when the wait for the targets used the phase up. */
static uint64_t first_try_by(uint64_t end)
{
    return max_u64(end, now_ms() + CTL_TIMEOUT_MS);
}

/* Asks for the drain until the supervisor acknowledges it (draining twice
 * is harmless, so a reply lost after the drain began costs nothing), it
 * dies, or `end` passes.  One unanswered request (the supervisor busy
 * starting a module, a connection refused) must not end the run. */
static bool drain(const char *sock, struct sup *sv, uint64_t end)
{
    for (unsigned tries = 1;; tries++) {
        if (set_drain(sock, true, tries == 1 ? first_try_by(end) : end)) {
            if (tries > 1)
                fprintf(stderr, "uipc-chaos: the drain began at request %u\n", tries);
            return true;
        }
        if (!alive(sv) || now_ms() >= end)
            return false;
        if (tries == 1)
            fprintf(stderr, "uipc-chaos: the drain request got no answer; asking again until the end of "
                            "--settle-s\n");
        sleep_until(min_u64(now_ms() + DRAIN_RETRY_MS, end), false);
    }
}

/* The supervisor's counts and the modules' states, taken together. */
struct accounting {
    Uipc__Control__Reply *stats, *status;
};

static void accounting_free(struct accounting *a)
{
    done(a->stats);
    done(a->status);
    *a = (struct accounting){ 0 };
}

/* Both replies or neither. */
static bool read_accounting(const char *sock, uint64_t by, struct accounting *a)
{
    a->stats = ask_stats(sock, by);
    a->status = a->stats ? ask_status(sock, by) : NULL;
    if (a->stats && a->status)
        return true;
    accounting_free(a);
    return false;
}

/* Polls the accounting until every channel is quiet or `end` passes, and
 * judges the last one read: a poll that goes unanswered is asked again,
 * and counts still moving at the end are reported as not drained, not as
 * zeros.  Only a supervisor that answered nothing leaves the counts
 * unread. */
static void final_accounting(const char *sock, struct sup *sv, const struct conf *c, const unsigned *targets,
                             unsigned ntargets, uint64_t end, struct tally *t)
{
    struct accounting last = { 0 }, cur;
    for (;;) {
        if (read_accounting(sock, last.stats ? end : first_try_by(end), &cur)) {
            accounting_free(&last);
            last = cur;
            if ((t->drained = quiet(last.stats, last.status)))
                break;
        } else if (!alive(sv)) {
            break;
        }
        if (now_ms() >= end)
            break;
        sleep_until(min_u64(now_ms() + 50, end), false);
    }
    if (last.stats) {
        judge(last.stats, last.status, c, targets, ntargets, t);
        t->judged = true;
    } else {
        t->broken = alive(sv) ? "the supervisor stopped answering" : "the supervisor died";
    }
    accounting_free(&last);
}

/* Faults over: the targets recover, new calls are refused (drain), and
 * what is in flight completes; then the counts are final.  All of it
 * within --settle-s (each step's first request aside), and the counts are
 * read whatever state the targets are in by then. */
static void settle_and_judge(const struct opts *o, const char *sock, struct sup *sv, const struct conf *c,
                             const unsigned *targets, unsigned ntargets, struct tally *t)
{
    uint64_t end = now_ms() + o->settle_ms;
    /* A stopped target still looks ready until the supervisor finds it
     * hung, and a slow handler may still sleep: give both time to end. */
    uint32_t hang = c->hang_timeout_ms;
    for (unsigned k = 0; k < ntargets; k++)
        if (c->mod[targets[k]].hang_timeout_ms > hang)
            hang = c->mod[targets[k]].hang_timeout_ms;
    uint32_t grace = 2 * hang + c->heartbeat_interval_ms;
    sleep_until(min_u64(now_ms() + (grace > o->slow_ms ? grace : o->slow_ms), end), false);
    if (!wait_ready(sock, sv, c, targets, ntargets, end, end) && alive(sv) && !interrupted)
        fprintf(stderr, "uipc-chaos: not every target was back by the end of --settle-s; draining anyway\n");
    bool draining = drain(sock, sv, end);
    final_accounting(sock, sv, c, targets, ntargets, end, t);
    /* Counts taken without a drain keep moving: that is the verdict's
     * cause to name, not "lost" calls, unless they were quiet anyway. */
    if (!draining && !t->drained && !t->broken)
        t->broken = alive(sv) ? "the drain request failed" : "the supervisor died";
}

/* ---- the report ---- */

/* Protocol violations are what hostile faults make (each reset a channel,
 * as it should): with any injected they are reported, not failed. */
static bool passed(const struct tally *t)
{
    bool violations_ok = !t->violations || t->injected[FAULT_HOSTILE] > 0;
    return !t->broken && !t->duplicates && !t->lost && !t->leaked_slots && !t->hung && violations_ok &&
           !t->honest_killed;
}

static void report_json(const struct opts *o, const struct tally *t, const char *log)
{
    printf("{\"seed\": %" PRIu64 ", \"duration_s\": %u, \"faults\": %u, \"faults_by_kind\": {", o->seed,
           o->duration_ms / 1000, t->faults);
    for (int f = 0; f < FAULT_COUNT; f++)
        printf("%s\"%s\": %u", f ? ", " : "", chaos_fault_name((enum chaos_fault)f), t->injected[f]);
    printf("}, \"skipped\": %u, \"restarts\": %" PRIu64 ", \"issued\": %" PRIu64 ", \"ok\": %" PRIu64
           ", \"errors\": {\"peer_died\": %" PRIu64 ", \"timed_out\": %" PRIu64 ", \"proto\": %" PRIu64
           "}, \"orphaned\": %" PRIu64 ", \"duplicates\": %" PRIu64 ", \"lost\": %" PRIu64
           ", \"leaked_slots\": %" PRIu64 ", \"hung\": %" PRIu64 ", \"violations\": %" PRIu64
           ", \"protocol_kills\": %" PRIu64 ", \"honest_killed\": %" PRIu64
           ", \"drained\": %s, \"passed\": %s",
           t->skipped, t->restarts, t->issued, t->ok, t->peer_died, t->timed_out, t->proto, t->orphaned,
           t->duplicates, t->lost, t->leaked_slots, t->hung, t->violations, t->protocol_kills,
           t->honest_killed, t->drained ? "true" : "false", passed(t) ? "true" : "false");
    if (t->broken)
        printf(", \"error\": \"%s\"", t->broken);
    printf(", \"log\": \"");
    for (const char *p = log; *p; p++) /* a path: escape what JSON must */
        printf(*p == '"' || *p == '\\' ? "\\%c" : (unsigned char)*p < 0x20 ? "?" : "%c", *p);
    printf("\"}\n");
}

static void report_text(const struct opts *o, const struct tally *t, const char *log)
{
    printf("seed          %" PRIu64 " (uipc-chaos --seed %" PRIu64 " repeats this schedule)\n", o->seed, o->seed);
    printf("faults        %u:", t->faults);
    for (int f = 0; f < FAULT_COUNT; f++)
        printf(" %s %u", chaos_fault_name((enum chaos_fault)f), t->injected[f]);
    printf("%s%u skipped (target not running before the next fault was due)\n", " | ", t->skipped);
    printf("restarts      %" PRIu64 "\n", t->restarts);
    printf("calls         %" PRIu64 " issued, %" PRIu64 " ok\n", t->issued, t->ok);
    printf("errors        peer_died %" PRIu64 ", timed_out %" PRIu64 ", proto %" PRIu64 "\n", t->peer_died,
           t->timed_out, t->proto);
    printf("orphaned      %" PRIu64 " (in flight when their caller died)\n", t->orphaned);
    printf("duplicates    %" PRIu64 "\nlost          %" PRIu64 "\nleaked slots  %" PRIu64
           "\nhung callers  %" PRIu64 "\nviolations    %" PRIu64 " (protocol; %" PRIu64 " kills%s)\n",
           t->duplicates, t->lost, t->leaked_slots, t->hung, t->violations, t->protocol_kills,
           t->injected[FAULT_HOSTILE] ? "; expected: hostile faults were injected" : "");
    printf("honest killed %" PRIu64 " (deaths of modules that are not targets)\n", t->honest_killed);
    if (t->judged && !t->drained)
        printf("not drained   calls were still in flight at the end of --settle-s\n");
    if (t->broken)
        printf("error         %s\n", t->broken);
    printf("log           %s\n%s\n", log, passed(t) ? "PASS" : "FAIL");
}

static void print_schedule(const struct conf *c, const unsigned *targets, const struct chaos_event *ev,
                           unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        printf("%8u ms  %-6s %s", ev[k].at_ms, chaos_fault_name(ev[k].fault),
               c->mod[targets[ev[k].target]].name);
        if (ev[k].fault == FAULT_HOSTILE)
            printf(" (attack %u)", ev[k].attack % UIPC_HOSTILE_ATTACKS);
        putchar('\n');
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    bool stop;
    int r = parse_args(argc, argv, &o, &stop);
    if (stop)
        return r;
    struct conf *c;
    char err[CONF_ERR_MAX];
    if (conf_load(o.config, &c, err, sizeof(err)) < 0) {
        fprintf(stderr, "uipc-chaos: %s\n", err);
        return 2;
    }
    unsigned targets[CONF_MAX_MODULES], ntargets;
    struct chaos_event *ev = calloc(MAX_EVENTS, sizeof(*ev));
    if (!ev || resolve_targets(c, &o, targets, &ntargets) < 0) {
        free(ev);
        conf_free(c);
        return 2;
    }
    unsigned nev = chaos_schedule(o.seed, o.duration_ms, o.interval_ms, ntargets, o.faults, ev, MAX_EVENTS);
    if (o.print_schedule) {
        print_schedule(c, targets, ev, nev);
        free(ev);
        conf_free(c);
        return 0;
    }

    char dir[] = "/tmp/uipc-chaos.XXXXXX", sock[64], logbuf[96], exebuf[PATH_MAX];
    if (!mkdtemp(dir)) {
        fprintf(stderr, "uipc-chaos: mkdtemp: %s\n", strerror(errno));
        return 3;
    }
    snprintf(sock, sizeof(sock), "%s/control.sock", dir);
    snprintf(logbuf, sizeof(logbuf), "%s/supervisor.log", dir);
    const char *log = o.log ? o.log : logbuf;
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    signal(SIGPIPE, SIG_IGN);
    if (!o.json)
        fprintf(stderr, "uipc-chaos: %s: %u faults over %u s on %u target(s), seed %" PRIu64 "\n", o.config,
                nev, o.duration_ms / 1000, ntargets, o.seed);

    struct tally t = { 0 };
    struct sup sv = { .pid = start_supervisor(supervisor_path(&o, exebuf, sizeof(exebuf)), o.config, sock, log) };
    if (sv.pid < 0)
        return 3;
    int code;
    uint64_t up_by = now_ms() + 30000;
    if (!wait_ready(sock, &sv, c, NULL, 0, up_by, up_by)) {
        t.broken = alive(&sv) ? "the modules did not all come up within 30 s" : "the supervisor died";
        code = 3;
    } else {
        run_schedule(&o, sock, &sv, c, targets, ev, nev, &t);
        if (!t.broken)
            settle_and_judge(&o, sock, &sv, c, targets, ntargets, &t);
        code = passed(&t) ? 0 : 1;
    }
    bool died = !alive(&sv); /* before we stopped it */
    int status = stop_supervisor(&sv);
    if (!t.broken && (died || !(WIFEXITED(status) && WEXITSTATUS(status) == 0))) {
        t.broken = died ? "the supervisor died" : "the supervisor did not exit cleanly";
        code = 1;
    }
    if (o.json)
        report_json(&o, &t, log);
    else
        report_text(&o, &t, log);
    unlink(sock);
    free(ev);
    conf_free(c);
    return code;
}
