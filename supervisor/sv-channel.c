/* SPDX-License-Identifier: MIT */
/* What the supervisor does to channels: the reclaim after a death, the
 * call counts that outlive a client's incarnations, protocol violations
 * (blame, kill, reset), draining, and faults asked for by uipc-chaos. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "reclaim.h"
#include "sv-internal.h"

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t load(const _Atomic uint64_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}

/* The live incarnation's counts in its side of the region, each read once. */
static void live_counts(const struct uipc_side *c, struct sv_counts *out)
{
    out->issued = load(&c->issued);
    out->ok = load(&c->ok);
    out->peer_died = load(&c->peer_died);
    out->timed_out = load(&c->timed_out);
    out->proto = load(&c->proto);
    out->duplicates = load(&c->duplicates);
    out->sync_waiting = load(&c->sync_waiting);
    out->orphaned = 0;
    for (unsigned b = 0; b < UIPC_LAT_BUCKETS; b++)
        out->lat[b] = load(&c->lat[b]);
}

/* past + live; a scribbled count saturates instead of wrapping. */
static void add_counts(const struct sv_counts *past, const struct sv_counts *live, struct sv_counts *out)
{
    out->issued = sat_add(past->issued, live->issued);
    out->ok = sat_add(past->ok, live->ok);
    out->peer_died = sat_add(past->peer_died, live->peer_died);
    out->timed_out = sat_add(past->timed_out, live->timed_out);
    out->proto = sat_add(past->proto, live->proto);
    out->duplicates = sat_add(past->duplicates, live->duplicates);
    out->orphaned = sat_add(past->orphaned, live->orphaned);
    out->sync_waiting = live->sync_waiting;
    for (unsigned b = 0; b < UIPC_LAT_BUCKETS; b++)
        out->lat[b] = sat_add(past->lat[b], live->lat[b]);
}

void sv_chan_counts(const struct sv_chan *ch, struct sv_counts *out)
{
    struct sv_counts live;
    live_counts(ch->r.side[UIPC_CLIENT], &live);
    add_counts(&ch->past, &live, out);
}

/* A client incarnation's counts start at zero in its side of the region;
 * at its death they move into the supervisor's totals, and the calls it
 * had in flight, which died with their caller, are counted as orphaned. */
static void fold_client(struct sv_chan *ch)
{
    struct uipc_side *c = ch->r.side[UIPC_CLIENT];
    struct sv_counts live;
    live_counts(c, &live);
    uint64_t done = sat_add(sat_add(live.ok, live.peer_died), sat_add(live.timed_out, live.proto));
    live.orphaned = live.issued > done ? live.issued - done : 0;
    live.sync_waiting = 0;
    add_counts(&ch->past, &live, &ch->past);
    _Atomic uint64_t *zero[] = { &c->issued, &c->ok, &c->peer_died, &c->timed_out,
                                 &c->proto, &c->duplicates, &c->sync_waiting };
    for (size_t k = 0; k < sizeof(zero) / sizeof(zero[0]); k++)
        atomic_store_explicit(zero[k], 0, memory_order_relaxed);
    for (unsigned b = 0; b < UIPC_LAT_BUCKETS; b++)
        atomic_store_explicit(&c->lat[b], 0, memory_order_relaxed);
}

static _Atomic uint64_t *report_word(struct sv *s, unsigned mod, unsigned idx)
{
    return &s->mod[mod].ctl.side[UIPC_CLIENT]->chan_violations[idx];
}

/* The offender is gone: the channel is emptied, and both ends' reports
 * cleared, which tells the honest end to start over (libmodule). */
static void reset_channel(struct sv *s, struct sv_chan *ch)
{
    uipc__reclaim_reset(&ch->r);
    ch->offender = -1;
    int ends[2] = { ch->server, ch->client };
    for (int e = 0; e < 2; e++) {
        struct sv_mod *m = &s->mod[ends[e]];
        atomic_store_explicit(report_word(s, (unsigned)ends[e], ch->idx[e]), 0, memory_order_release);
        uipc__notify(m->ctl.side[UIPC_CLIENT], m->ring);
    }
    sv_info("%s -> %s: channel %s reset", s->mod[ch->client].cf->name, s->mod[ch->server].cf->name,
            ch->r.service);
}

void sv_channels_dead(struct sv *s, unsigned i)
{
    unsigned reclaimed = 0;
    for (unsigned k = 0; k < s->nchan; k++) {
        struct sv_chan *ch = &s->chan[k];
        if (ch->server == (int)i) {
            int n = uipc__reclaim_server(&ch->r, s->mod[ch->client].ring);
            if (n > 0) {
                reclaimed += (unsigned)n;
                ch->reclaimed += (uint64_t)n;
            } else if (n < 0 && ch->offender != (int)i) {
                sv_warn("%s: channel %s: completion FIFO corrupted, reclaim incomplete",
                        s->mod[i].cf->name, ch->r.service);
            }
        }
        if (ch->client == (int)i) {
            uipc__reclaim_client(&ch->r);
            fold_client(ch);
        }
        if (ch->offender == (int)i)
            reset_channel(s, ch);
    }
    if (reclaimed)
        sv_info("%s: %u in-flight slots reclaimed", s->mod[i].cf->name, reclaimed);
}

/* One end reported that the other broke the protocol on channel ch.  The
 * report comes from the reporter's control region, which the accused
 * cannot write; the accused is killed (or, already dead, the channel is
 * reset at once) and restarted by its policy. */
static void on_report(struct sv *s, struct sv_chan *ch, enum uipc_role reporter)
{
    unsigned rep = (unsigned)(reporter == UIPC_SERVER ? ch->server : ch->client);
    unsigned off = (unsigned)(reporter == UIPC_SERVER ? ch->client : ch->server);
    if (ch->offender >= 0 || load(report_word(s, rep, ch->idx[reporter])) == 0)
        return;
    struct sv_mod *o = &s->mod[off];
    ch->violations++;
    if (o->ch.pid == 0) {
        sv_warn("%s: broke the protocol on channel %s (reported by %s)", o->cf->name, ch->r.service,
                s->mod[rep].cf->name);
        reset_channel(s, ch);
        return;
    }
    sv_warn("%s: broke the protocol on channel %s (reported by %s); killing it", o->cf->name,
            ch->r.service, s->mod[rep].cf->name);
    ch->offender = (int)off;
    o->protocol_kills++;
    snprintf(o->stopped_for, sizeof(o->stopped_for), "protocol violation");
    /* Reclaimed and reset only once reaped: never under a live offender. */
    kill(o->ch.pid, SIGKILL);
}

void sv_check_violations(struct sv *s)
{
    for (unsigned k = 0; k < s->nchan; k++) {
        struct sv_chan *ch = &s->chan[k];
        on_report(s, ch, UIPC_SERVER);
        on_report(s, ch, UIPC_CLIENT);
    }
}

void sv_channels_started(struct sv *s, unsigned i)
{
    struct uipc_side *c = s->mod[i].ctl.side[UIPC_CLIENT];
    for (unsigned b = 0; b < UIPC_LAT_BUCKETS; b++)
        atomic_store_explicit(&c->chan_violations[b], 0, memory_order_relaxed);
    atomic_store(&c->fault, 0);
}

/* Draining: every service looks down to its callers (new calls fail at
 * once with -UIPC_EPEERDIED, as during a restart) while the servers go
 * on answering what is in flight.  The server's own epoch, in its private
 * state, still matches the calls already sent.  Restarts wait for the end
 * of the drain (sv.c, on_timers): a restarted server, which needs its
 * epoch in the region to attach, would open its service again. */
void sv_drain(struct sv *s, bool on)
{
    s->draining = on;
    for (unsigned k = 0; k < s->nchan; k++) {
        struct sv_mod *srv = &s->mod[s->chan[k].server];
        if (srv->ch.pid > 0)
            uipc__region_set_epoch(&s->chan[k].r, UIPC_SERVER, on ? 0 : srv->epoch);
    }
    sv_info("supervisor: %s", on ? "draining: new calls refused, calls in flight answered"
                                 : "drain ended: calls accepted again");
}

int sv_fault(struct sv *s, unsigned i, uint32_t fault, uint32_t ms)
{
    struct sv_mod *m = &s->mod[i];
    if (m->ch.pid == 0)
        return -ESRCH;
    struct uipc_side *c = m->ctl.side[UIPC_CLIENT];
    atomic_store(&c->fault_ms, ms);
    atomic_store(&c->fault, fault); /* after fault_ms: the module reads them in that order */
    if (fault == UIPC_FAULT_ABORT)
        sv_info("%s: fault asked for: abort in its next handler", m->cf->name);
    else
        sv_info("%s: fault asked for: its next handler sleeps %u ms", m->cf->name, ms);
    return 0;
}
