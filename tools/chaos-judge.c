/* SPDX-License-Identifier: MIT */
/* uipc-chaos's verdict: once the faults are over, recovery, the drain and
 * the supervisor's final per-channel counts, judged for calls lost,
 * completed twice or left hanging, slots leaked, honest modules dead. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "chaos.h"

#define DRAIN_RETRY_MS 100  /* between drain requests the supervisor did not answer */

static uint64_t completed(const Uipc__Control__ChannelStats *ch)
{
    return ch->ok + ch->bad_status + ch->peer_died + ch->timed_out + ch->proto;
}

/* True when nothing is in flight anywhere: every call of a live client
 * completed, every slot free, no caller waiting. */
static bool quiet(const Uipc__Control__Reply *st, const Uipc__Control__Reply *status)
{
    for (size_t k = 0; k < st->n_channels; k++) {
        const Uipc__Control__ChannelStats *ch = st->channels[k];
        const Uipc__Control__ModuleStatus *client = chaos_find_module(status, ch->client);
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
                  const unsigned *targets, unsigned ntargets, struct chaos_tally *t)
{
    t->generation = status->supervisor ? status->supervisor->generation : 0;
    for (size_t k = 0; k < st->n_channels; k++) {
        const Uipc__Control__ChannelStats *ch = st->channels[k];
        const Uipc__Control__ModuleStatus *client = chaos_find_module(status, ch->client);
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
    Uipc__Control__Reply *rep = chaos_ask(sock, &req, by);
    bool ok = rep && rep->ok;
    chaos_reply_free(rep);
    return ok;
}

/* Asks for the drain until the supervisor acknowledges it (draining twice
 * is harmless, so a reply lost after the drain began costs nothing), it
 * dies, or `end` passes.  One unanswered request (the supervisor busy
 * starting a module, a connection refused) must not end the run. */
static bool drain(const char *sock, struct chaos_sup *sv, uint64_t end)
{
    for (unsigned tries = 1;; tries++) {
        if (set_drain(sock, true, tries == 1 ? chaos_request_by(end) : end)) {
            if (tries > 1)
                fprintf(stderr, "uipc-chaos: the drain began at request %u\n", tries);
            return true;
        }
        if (!chaos_alive(sv) || chaos_now_ms() >= end)
            return false;
        if (tries == 1)
            fprintf(stderr, "uipc-chaos: the drain request got no answer; asking again until the end of "
                            "--settle-s\n");
        chaos_sleep_until(chaos_min(chaos_now_ms() + DRAIN_RETRY_MS, end), false);
    }
}

/* The supervisor's counts and the modules' states, taken together. */
struct accounting {
    Uipc__Control__Reply *stats, *status;
};

static void accounting_free(struct accounting *a)
{
    chaos_reply_free(a->stats);
    chaos_reply_free(a->status);
    *a = (struct accounting){ 0 };
}

/* Both replies or neither. */
static bool read_accounting(const char *sock, uint64_t by, struct accounting *a)
{
    a->stats = chaos_ask_stats(sock, by);
    a->status = a->stats ? chaos_ask_status(sock, by) : NULL;
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
static void final_accounting(const char *sock, struct chaos_sup *sv, const struct conf *c,
                             const unsigned *targets, unsigned ntargets, uint64_t end, struct chaos_tally *t)
{
    struct accounting last = { 0 }, cur;
    for (;;) {
        if (read_accounting(sock, last.stats ? end : chaos_request_by(end), &cur)) {
            accounting_free(&last);
            last = cur;
            if ((t->drained = quiet(last.stats, last.status)))
                break;
        } else if (!chaos_alive(sv)) {
            break;
        }
        if (chaos_now_ms() >= end)
            break;
        chaos_sleep_until(chaos_min(chaos_now_ms() + 50, end), false);
    }
    if (last.stats) {
        judge(last.stats, last.status, c, targets, ntargets, t);
        t->judged = true;
    } else {
        t->broken = chaos_alive(sv) ? "the supervisor stopped answering" : "the supervisor died";
    }
    accounting_free(&last);
}

/* Faults over: the targets recover, new calls are refused (drain), and
 * what is in flight completes; then the counts are final.  All of it
 * within --settle-s (each step's first request aside), and the counts are
 * read whatever state the targets are in by then. */
void chaos_settle_and_judge(const struct chaos_opts *o, const char *sock, struct chaos_sup *sv,
                            const struct conf *c, const unsigned *targets, unsigned ntargets,
                            struct chaos_tally *t)
{
    uint64_t end = chaos_now_ms() + o->settle_ms;
    /* A stopped target still looks ready until the supervisor finds it
     * hung, and a slow handler may still sleep: give both time to end. */
    uint32_t hang = c->hang_timeout_ms;
    for (unsigned k = 0; k < ntargets; k++)
        if (c->mod[targets[k]].hang_timeout_ms > hang)
            hang = c->mod[targets[k]].hang_timeout_ms;
    uint32_t grace = 2 * hang + c->heartbeat_interval_ms;
    chaos_sleep_until(chaos_min(chaos_now_ms() + (grace > o->slow_ms ? grace : o->slow_ms), end), false);
    if (!chaos_wait_ready(sock, sv, c, targets, ntargets, end, end) && chaos_alive(sv) &&
        !chaos_interrupted())
        fprintf(stderr, "uipc-chaos: not every target was back by the end of --settle-s; draining anyway\n");
    bool draining = drain(sock, sv, end);
    final_accounting(sock, sv, c, targets, ntargets, end, t);
    /* Counts taken without a drain keep moving: that is the verdict's
     * cause to name, not "lost" calls, unless they were quiet anyway. */
    if (!draining && !t->drained && !t->broken)
        t->broken = chaos_alive(sv) ? "the drain request failed" : "the supervisor died";
}
