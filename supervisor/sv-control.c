/* SPDX-License-Identifier: MIT */
/* What the control socket's commands do (schemas/control.proto): status,
 * stats, restart/stop/start/kill/fault of one module, drain; and the state
 * names operators see.  Numbers read from a
 * channel region were written by a module and are only reported, never
 * trusted: every count is taken as it is, every loop is bounded by the
 * supervisor's own geometry. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "latency.h"
#include "log.h"
#include "policy.h"
#include "sandbox-report.h"
#include "sv-internal.h"

/* ---- status ---- */

/* The lifecycle's states, as operators have always seen them. */
enum sv_shown sv_shown_state(const struct sv_mod *m)
{
    static const enum sv_shown shown[LC_STATES] = {
        [LC_WAITING] = SHOWN_STARTING, [LC_SPAWNING] = SHOWN_STARTING, [LC_STARTING] = SHOWN_STARTING,
        [LC_READY] = SHOWN_READY, [LC_STOPPING] = SHOWN_STOPPING, [LC_TERMINATING] = SHOWN_STOPPING,
        [LC_KILLED] = SHOWN_STOPPING, [LC_BACKOFF] = SHOWN_BACKOFF, [LC_FAILED] = SHOWN_FAILED,
        [LC_STOPPED] = SHOWN_STOPPED, [LC_DONE] = SHOWN_STOPPED,
    };
    return shown[m->lc.state];
}

const char *sv_state_name(const struct sv_mod *m)
{
    static const char *const names[SHOWN_COUNT] = {
        [SHOWN_STARTING] = "starting", [SHOWN_READY] = "ready", [SHOWN_BACKOFF] = "backoff",
        [SHOWN_FAILED] = "failed", [SHOWN_STOPPED] = "stopped", [SHOWN_STOPPING] = "stopping",
    };
    return names[sv_shown_state(m)];
}


/* n Counts in one block (free the array to free them all), each with
 * room for its name. */
struct named_count {
    Uipc__Control__Count c;
    char name[32];
};

static Uipc__Control__Count **counts_new(size_t n)
{
    Uipc__Control__Count **v = calloc(1, n * (sizeof(*v) + sizeof(struct named_count)) + 1);
    if (!v)
        return NULL;
    struct named_count *nc = (struct named_count *)(v + n);
    for (size_t k = 0; k < n; k++) {
        uipc__control__count__init(&nc[k].c);
        nc[k].c.name = nc[k].name;
        v[k] = &nc[k].c;
    }
    return v;
}

static void count_set(Uipc__Control__Count *c, const char *name, uint64_t value)
{
    snprintf(c->name, sizeof(((struct named_count *)0)->name), "%s", name);
    c->value = value;
}

static int module_counts(const struct sv_mod *m, Uipc__Control__ModuleStatus *st)
{
    static const char *const exit_names[SV_EXIT_KINDS] = {
        [EXIT_CLEAN] = "clean", [EXIT_FAILED] = "failed", [EXIT_CRASHED] = "crashed",
        [EXIT_HUNG] = "hung", [EXIT_SECCOMP] = "seccomp", [EXIT_STOPPED] = "stopped",
    };
    if (!(st->exits = counts_new(SV_EXIT_KINDS)) || !(st->violations_by_syscall = counts_new(m->nviol)))
        return -ENOMEM;
    st->n_exits = SV_EXIT_KINDS;
    for (unsigned k = 0; k < SV_EXIT_KINDS; k++)
        count_set(st->exits[k], exit_names[k], m->exits[k]);
    st->n_violations_by_syscall = m->nviol;
    for (unsigned k = 0; k < m->nviol; k++) {
        char name[32] = "other";
        if (m->viol[k].nr >= 0)
            policy_syscall_name(m->viol[k].nr, name, sizeof(name));
        count_set(st->violations_by_syscall[k], name, m->viol[k].n);
    }
    return 0;
}

static void module_status_free(Uipc__Control__ModuleStatus *st)
{
    if (st) {
        free(st->exits);
        free(st->violations_by_syscall);
        free(st);
    }
}

static Uipc__Control__ModuleStatus *module_status(const struct sv_mod *m)
{
    Uipc__Control__ModuleStatus *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    uipc__control__module_status__init(st);
    st->name = (char *)m->cf->name;
    st->state = (char *)sv_state_name(m);
    st->pid = m->ch.pid;
    st->uptime_ms = m->ch.pid ? sv_now_ms() - m->lc.since_ms : 0;
    st->restarts = m->starts ? m->starts - 1 : 0;
    st->last_exit = (char *)m->last_exit;
    st->last_reason = (char *)m->last_reason;
    st->violations = m->violations;
    st->protocol_kills = 0; /* kept for its readers: a report resets a channel, kills no one */
    st->protocol_reports = m->protocol_reports;
    if (module_counts(m, st) < 0) {
        module_status_free(st);
        return NULL;
    }
    return st;
}

static int supervisor_status(struct sv *s, Uipc__Control__Reply *rep)
{
    Uipc__Control__SupervisorStatus *me = malloc(sizeof(*me));
    if (!me)
        return -ENOMEM;
    uipc__control__supervisor_status__init(me);
    me->uptime_ms = sv_now_ms() - s->started_ms;
    me->loop_max_ms = s->loop_max_ms;
    me->loop_turns = s->loop_turns;
    me->pid = getpid();
    me->generation = s->generation;
    me->started_ms = s->started_wall_ms;
    rep->supervisor = me;
    size_t n = sizeof(s->ctl_requests) / sizeof(s->ctl_requests[0]);
    if (!(me->control_requests = counts_new(n)))
        return -ENOMEM;
    for (unsigned k = 0; k < n; k++) {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(&uipc__control__request__descriptor, k);
        if (k == 0 || f)
            count_set(me->control_requests[me->n_control_requests++], f ? f->name : "invalid",
                      s->ctl_requests[k]);
    }
    return 0;
}

static int status(struct sv *s, Uipc__Control__Reply *rep)
{
    if (supervisor_status(s, rep) < 0)
        return -ENOMEM;
    rep->modules = calloc(s->nmod ? s->nmod : 1, sizeof(*rep->modules));
    if (!rep->modules)
        return -ENOMEM;
    for (unsigned i = 0; i < s->nmod; i++) {
        if (!s->mod[i].cf)
            continue;
        if (!(rep->modules[rep->n_modules] = module_status(&s->mod[i])))
            return -ENOMEM;
        rep->n_modules++;
    }
    return 0;
}

/* ---- stats ---- */

/* The smallest latency bucket bound below which fraction q of the samples
 * lie; 0 without samples. */
static uint64_t percentile(const uint64_t *hist, uint64_t total, double q)
{
    uint64_t want = (uint64_t)((double)total * q), seen = 0;
    for (unsigned b = 0; b < UIPC_LAT_BUCKETS; b++) {
        seen += hist[b];
        if (total && seen > want)
            return uipc_lat_upper(b);
    }
    return 0;
}

static int latencies(const uint64_t *lat, Uipc__Control__ChannelStats *cs)
{
    uint64_t hist[UIPC_LAT_BUCKETS], total = 0;
    unsigned top = 0;
    for (unsigned b = 0; b < UIPC_LAT_BUCKETS; b++) {
        hist[b] = lat[b];
        if (hist[b] > UINT64_MAX - total)
            hist[b] = UINT64_MAX - total; /* a scribbled histogram saturates */
        total += hist[b];
        if (hist[b])
            top = b;
    }
    cs->latency_p50_ns = percentile(hist, total, 0.50);
    cs->latency_p99_ns = percentile(hist, total, 0.99);
    cs->latency_max_ns = total ? uipc_lat_upper(top) : 0;
    cs->latency_samples = total;
    cs->latency_bucket_le_ns = malloc((top + 1) * sizeof(uint64_t));
    cs->latency_bucket_count = malloc((top + 1) * sizeof(uint64_t));
    if (!cs->latency_bucket_le_ns || !cs->latency_bucket_count)
        return -ENOMEM;
    for (unsigned b = 0; total && b <= top; b++)
        if (hist[b]) {
            cs->latency_bucket_le_ns[cs->n_latency_bucket_le_ns++] = uipc_lat_upper(b);
            cs->latency_bucket_count[cs->n_latency_bucket_count++] = hist[b];
        }
    return 0;
}

/* Free slots from the slot words themselves, which the client's private
 * count would not show to anyone else. */
static uint32_t free_slots(const struct uipc_region *r)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->slots; i++)
        n += uipc_slot_word_state(atomic_load(&uipc_slot(r, i)->own)) == UIPC_SLOT_FREE;
    return n;
}

static void channel_stats_free(Uipc__Control__ChannelStats *cs)
{
    if (cs) {
        free(cs->latency_bucket_le_ns);
        free(cs->latency_bucket_count);
        free(cs);
    }
}

static Uipc__Control__ChannelStats *channel_stats(const struct sv *s, const struct sv_chan *ch)
{
    Uipc__Control__ChannelStats *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return NULL;
    struct sv_counts n;
    sv_chan_counts(ch, &n);
    uipc__control__channel_stats__init(cs);
    cs->service = (char *)ch->r.service;
    cs->client = (char *)s->mod[ch->client].cf->name;
    cs->server = (char *)s->mod[ch->server].cf->name;
    cs->slots = ch->r.slots;
    cs->slot_size = ch->r.slot_size;
    cs->calls = n.issued;
    cs->ok = n.ok;
    cs->peer_died = n.peer_died;
    cs->timed_out = n.timed_out;
    cs->proto = n.proto;
    cs->duplicates = n.duplicates;
    cs->orphaned = n.orphaned;
    cs->sync_waiting = n.sync_waiting > UINT32_MAX ? UINT32_MAX : (uint32_t)n.sync_waiting;
    cs->violations = ch->violations;
    cs->free_slots = free_slots(&ch->r);
    cs->in_flight = ch->r.slots - cs->free_slots;
    cs->reclaimed = ch->reclaimed;
    cs->bad_status = n.bad_status;
    cs->ok = n.ok > n.bad_status ? n.ok - n.bad_status : 0;
    cs->latency_sum_ns = n.lat_sum_ns;
    if (latencies(n.lat, cs) < 0) {
        channel_stats_free(cs);
        return NULL;
    }
    return cs;
}

static int stats(struct sv *s, Uipc__Control__Reply *rep)
{
    rep->channels = calloc(s->nchan ? s->nchan : 1, sizeof(*rep->channels));
    if (!rep->channels)
        return -ENOMEM;
    for (unsigned k = 0; k < s->nchan; k++) {
        if (!(rep->channels[k] = channel_stats(s, &s->chan[k])))
            return -ENOMEM;
        rep->n_channels++;
    }
    return 0;
}

/* ---- actions ---- */

static int find_module(const struct sv *s, const char *name, Uipc__Control__Reply *rep, char *err, size_t len)
{
    int i = name ? sv_find(s, name) : -1;
    if (i < 0) {
        snprintf(err, len, "no module named '%s'", name ? name : "");
        rep->error = err;
    }
    return i;
}

/* start, stop, restart: an event for the module's lifecycle, delivered by
 * the loop once this request is answered. */
static int lifecycle_event(struct sv *s, unsigned i, enum lc_event ev, char *err, size_t len)
{
    struct sv_mod *m = &s->mod[i];
    if (s->stopping && ev != LE_STOP) {
        snprintf(err, len, "the supervisor is shutting down");
        return -ESHUTDOWN;
    }
    if (s->reload.pending && s->reload.member[i] && ev != LE_STOP) {
        snprintf(err, len, "%s is being stopped for a reload (its channels change); try again once it is done",
                 m->cf->name);
        return -EBUSY;
    }
    if (!lc_accepts(m->lc.state, ev)) {
        if (m->ch.pid > 0)
            snprintf(err, len, "%s is running (pid %d)", m->cf->name, (int)m->ch.pid);
        else
            snprintf(err, len, "%s is %s", m->cf->name, sv_state_name(m));
        return -EBUSY;
    }
    /* Leaves room for the loop's own events (reaping, hangs). */
    if (s->npending >= SV_PENDING / 2) {
        snprintf(err, len, "too many requests at once; try again");
        return -EAGAIN;
    }
    /* A restart of what does not run is a start. */
    bool live = lc_live(m->lc.state);
    if (ev != LE_STOP || live) {
        const char *action = ev == LE_STOP ? "stop" : ev == LE_RESTART && live ? "restart" : "start";
        sv_ev(OPERATOR, m->cf->name, SV_FIELDS(SV_STR("action", action)), "%s: %s by the operator", m->cf->name,
              ev == LE_STOP ? "stop asked for" : ev == LE_RESTART && live ? "restarted" : "started");
    }
    return sv_post_event(s, i, ev);
}

/* The module's own process: with a pid namespace that is the init's one
 * child, not the init (which would drop most signals); 0 when it has
 * none, or when the init's is gone: then the init, with or_init. */
static pid_t module_process(const struct sv_mod *m, bool or_init)
{
    pid_t pid = m->ch.pid;
    if (!(m->run_ns & CLONE_NEWPID) || pid <= 0)
        return pid;
    char path[96];
    long child = 0;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "re");
    if (f && fscanf(f, "%ld", &child) != 1)
        child = 0;
    if (f)
        fclose(f);
    return child > 0 ? (pid_t)child : or_init ? pid : 0;
}

static int kill_module(struct sv *s, unsigned i, int sig, char *err, size_t len)
{
    struct sv_mod *m = &s->mod[i];
    if (sig == 0)
        sig = SIGKILL;
    if (sig < 1 || sig >= NSIG) {
        snprintf(err, len, "no signal %d", sig);
        return -EINVAL;
    }
    if (m->ch.pid == 0) {
        snprintf(err, len, "%s is not running", m->cf->name);
        return -ESRCH;
    }
    pid_t pid = module_process(m, true);
    sv_ev(SIGNAL_SENT, m->cf->name, SV_FIELDS(SV_STR("signal", sv_signame(sig).s), SV_NUM("pid", pid)),
          "%s: %s sent by the operator to pid %d", m->cf->name, sv_signame(sig).s, (int)pid);
    if (kill(pid, sig) < 0) {
        snprintf(err, len, "kill %d: %s", (int)pid, strerror(errno));
        return -errno;
    }
    return 0;
}

static int fault(struct sv *s, unsigned i, const Uipc__Control__FaultRequest *f, char *err, size_t len)
{
    uint32_t kind = strcmp(f->kind, "abort") == 0     ? UIPC_FAULT_ABORT
                  : strcmp(f->kind, "slow") == 0      ? UIPC_FAULT_SLOW
                  : strcmp(f->kind, "hostile") == 0   ? UIPC_FAULT_HOSTILE : 0;
    if (!kind) {
        snprintf(err, len, "no fault '%s' (abort, slow, hostile)", f->kind);
        return -EINVAL;
    }
    /* hostile: ms is the attack's selector, and 0 picks one like any other */
    uint32_t ms = kind == UIPC_FAULT_HOSTILE || f->ms ? f->ms : 1000;
    int r = sv_fault(s, i, kind, ms);
    if (r == -ESRCH)
        snprintf(err, len, "%s is not running", s->mod[i].cf->name);
    return r;
}

/* ---- sandbox: what the running process has ---- */

static int sandbox(struct sv *s, unsigned i, Uipc__Control__Reply *rep, char *err, size_t len)
{
    struct sv_mod *m = &s->mod[i];
    pid_t pid = module_process(m, false);
    if (pid <= 0) {
        snprintf(err, len, "%s is not running", m->cf->name);
        return -ESRCH;
    }
    Uipc__Control__SandboxReport *r = malloc(sizeof(*r));
    if (!r)
        return -ENOMEM;
    uipc__control__sandbox_report__init(r);
    r->module = (char *)m->cf->name;
    r->policy = m->run_pol ? m->run_pol->path : (char *)"none";
    rep->sandbox = r;
    int e = sandbox_report(pid, r);
    if (e == -ESRCH)
        snprintf(err, len, "%s: process %d is gone", m->cf->name, (int)pid);
    return e;
}

/* ---- reload ---- */

static int reload(struct sv *s, const Uipc__Control__ReloadRequest *req, Uipc__Control__Reply *rep, char *err,
                  size_t len)
{
    Uipc__Control__ReloadReport *r = malloc(sizeof(*r));
    if (!r)
        return -ENOMEM;
    uipc__control__reload_report__init(r);
    rep->reload = r;
    char **lines;
    size_t n;
    bool config_error;
    int e = sv_reload(s, req->check, &lines, &n, &config_error, err, len);
    r->changes = lines;
    r->n_changes = n;
    r->config_error = config_error;
    r->applied = e == 0 && !req->check;
    return e;
}

/* ---- dispatch ---- */

void sv_control(void *sv, const Uipc__Control__Request *req, Uipc__Control__Reply *rep)
{
    static char err[CONF_ERR_MAX];
    struct sv *s = sv;
    int r = 0, i = -1;
    err[0] = '\0';
    size_t kinds = sizeof(s->ctl_requests) / sizeof(s->ctl_requests[0]);
    s->ctl_requests[(size_t)req->command_case < kinds ? (size_t)req->command_case : 0]++;
    switch (req->command_case) {
    case UIPC__CONTROL__REQUEST__COMMAND_STATUS:
        r = status(s, rep);
        break;
    case UIPC__CONTROL__REQUEST__COMMAND_STATS:
        r = stats(s, rep);
        break;
    case UIPC__CONTROL__REQUEST__COMMAND_START:
        if ((i = find_module(s, req->start->module, rep, err, sizeof(err))) >= 0)
            r = lifecycle_event(s, (unsigned)i, LE_START, err, sizeof(err));
        break;
    case UIPC__CONTROL__REQUEST__COMMAND_STOP:
        if ((i = find_module(s, req->stop->module, rep, err, sizeof(err))) >= 0)
            r = lifecycle_event(s, (unsigned)i, LE_STOP, err, sizeof(err));
        break;
    case UIPC__CONTROL__REQUEST__COMMAND_RESTART:
        if ((i = find_module(s, req->restart->module, rep, err, sizeof(err))) >= 0)
            r = lifecycle_event(s, (unsigned)i, LE_RESTART, err, sizeof(err));
        break;
    case UIPC__CONTROL__REQUEST__COMMAND_KILL:
        if ((i = find_module(s, req->kill->module, rep, err, sizeof(err))) >= 0)
            r = kill_module(s, (unsigned)i, req->kill->signal, err, sizeof(err));
        break;
    case UIPC__CONTROL__REQUEST__COMMAND_FAULT:
        if ((i = find_module(s, req->fault->module, rep, err, sizeof(err))) >= 0)
            r = fault(s, (unsigned)i, req->fault, err, sizeof(err));
        break;
    case UIPC__CONTROL__REQUEST__COMMAND_DRAIN:
        sv_drain(s, !req->drain->off);
        break;
    case UIPC__CONTROL__REQUEST__COMMAND_RELOAD:
        r = reload(s, req->reload, rep, err, sizeof(err));
        break;
    case UIPC__CONTROL__REQUEST__COMMAND_REEXEC:
        /* Checked now, for the reply; done at the end of this turn (or once
         * a busy moment is over).  One at a time: a second yes would be
         * a generation promised and not made. */
        if (s->reexec_asked) {
            snprintf(err, sizeof(err), "a reexec is already under way; try again");
            r = -EBUSY;
        } else if ((r = sv_reexec_check(s, err, sizeof(err))) == 0 && (r = supervisor_status(s, rep)) == 0) {
            s->reexec_asked = true;
            s->reexec_asked_ms = sv_now_ms();
        }
        break;
    case UIPC__CONTROL__REQUEST__COMMAND_SANDBOX:
        if ((i = find_module(s, req->sandbox->module, rep, err, sizeof(err))) >= 0)
            r = sandbox(s, (unsigned)i, rep, err, sizeof(err));
        break;
    default:
        snprintf(err, sizeof(err), "no command in the request");
        r = -EINVAL;
        break;
    }
    if (r == -ENOMEM)
        snprintf(err, sizeof(err), "out of memory");
    rep->ok = !err[0] && r == 0;
    if (!rep->ok)
        rep->error = err[0] ? err : (char *)"failed";
}

void sv_control_readonly(void *sv, const Uipc__Control__Request *req, Uipc__Control__Reply *rep)
{
    if (req->command_case == UIPC__CONTROL__REQUEST__COMMAND_STATUS ||
        req->command_case == UIPC__CONTROL__REQUEST__COMMAND_STATS) {
        sv_control(sv, req, rep);
        return;
    }
    rep->ok = false;
    rep->error = (char *)"permission denied: the metrics socket answers status and stats only";
}

void sv_control_release(void *sv, Uipc__Control__Reply *rep)
{
    (void)sv;
    if (rep->supervisor)
        free(rep->supervisor->control_requests);
    free(rep->supervisor);
    for (size_t i = 0; i < rep->n_modules; i++)
        module_status_free(rep->modules[i]);
    free(rep->modules);
    for (size_t i = 0; i < rep->n_channels; i++)
        channel_stats_free(rep->channels[i]);
    free(rep->channels);
    if (rep->sandbox) {
        sandbox_report_free(rep->sandbox);
        free(rep->sandbox);
    }
    if (rep->reload) {
        sv_reload_free_lines(rep->reload->changes, rep->reload->n_changes);
        free(rep->reload);
    }
}
