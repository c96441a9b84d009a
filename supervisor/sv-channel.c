/* SPDX-License-Identifier: MIT */
/* What the supervisor does to channels: the reclaim after a death, the
 * call counts that outlive a client's incarnations, protocol violations
 * (blame, kill, reset), draining, and faults asked for by uipc-chaos. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    out->bad_status = load(&c->bad_status);
    out->lat_sum_ns = load(&c->lat_sum_ns);
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
    out->bad_status = sat_add(past->bad_status, live->bad_status);
    out->lat_sum_ns = sat_add(past->lat_sum_ns, live->lat_sum_ns);
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
                                 &c->proto, &c->duplicates, &c->sync_waiting, &c->bad_status,
                                 &c->lat_sum_ns };
    for (size_t k = 0; k < sizeof(zero) / sizeof(zero[0]); k++)
        atomic_store_explicit(zero[k], 0, memory_order_relaxed);
    for (unsigned b = 0; b < UIPC_LAT_BUCKETS; b++)
        atomic_store_explicit(&c->lat[b], 0, memory_order_relaxed);
}

static _Atomic uint64_t *report_word(struct sv *s, unsigned mod, unsigned idx)
{
    return &s->mod[mod].ctl.side[UIPC_CLIENT]->chan_violations[idx];
}

static unsigned end_of(const struct sv_chan *ch, enum uipc_role role)
{
    return (unsigned)(role == UIPC_SERVER ? ch->server : ch->client);
}

/* The supervisor's words about channel ch in the control region of its
 * end `role`: only that module and we map it (region.h). */
static struct uipc_ctl_chan *words(struct sv *s, const struct sv_chan *ch, enum uipc_role role)
{
    return uipc_ctl_chan(&s->mod[end_of(ch, role)].ctl, ch->idx[role]);
}

/* After changing our words about one of its channels. */
static void tell(struct sv *s, unsigned mod)
{
    uipc__ctl_news(s->mod[mod].ctl.side[UIPC_CLIENT], s->mod[mod].ring);
}

/* ---- resets: a channel emptied once both its ends have stopped using it ---- */

/* An end has stopped using the channel: it said so (its report, or its
 * answer to our request), or it does not run. */
static bool halted(struct sv *s, const struct sv_chan *ch, enum uipc_role role)
{
    unsigned m = end_of(ch, role);
    return !sv_may_write(&s->mod[m]) || load(report_word(s, m, ch->idx[role])) != 0;
}

/* Nobody writes the region any more: it is emptied, and both ends told to
 * start over (the request cleared before the report: libmodule reads them
 * in the other order). */
static void finish_reset(struct sv *s, struct sv_chan *ch)
{
    uipc__reclaim_reset(&ch->r);
    for (int role = 0; role < 2; role++) {
        atomic_store_explicit(&words(s, ch, (enum uipc_role)role)->reset, 0, memory_order_release);
        atomic_store_explicit(report_word(s, end_of(ch, (enum uipc_role)role), ch->idx[role]), 0,
                              memory_order_release);
        tell(s, end_of(ch, (enum uipc_role)role));
    }
    ch->resetting = false;
    const char *client = s->mod[ch->client].cf->name, *server = s->mod[ch->server].cf->name;
    sv_ev(CHANNEL_RESET, client, SV_FIELDS(SV_STR("server", server), SV_STR("channel", ch->r.service)),
          "%s -> %s: channel %s reset", client, server, ch->r.service);
}

static void try_finish_reset(struct sv *s, struct sv_chan *ch)
{
    if (ch->resetting && halted(s, ch, UIPC_SERVER) && halted(s, ch, UIPC_CLIENT))
        finish_reset(s, ch);
}

/* One end reported that the other broke the protocol on channel ch.  Both
 * ends map the whole region, so the reporter could have written the
 * "evidence" itself, or lie outright: a report kills no one.  It costs
 * the calls on this channel, which are only the two ends' own (a region
 * per client and service): both are asked to stop using it, and once both
 * have (or are dead), it is emptied and both start over. */
static void on_report(struct sv *s, struct sv_chan *ch, enum uipc_role reporter)
{
    enum uipc_role accused = reporter == UIPC_SERVER ? UIPC_CLIENT : UIPC_SERVER;
    unsigned rep = end_of(ch, reporter), acc = end_of(ch, accused);
    if (ch->resetting || load(report_word(s, rep, ch->idx[reporter])) == 0)
        return;
    ch->violations++;
    s->mod[acc].protocol_reports++;
    sv_ev(PROTOCOL_REPORT, s->mod[acc].cf->name,
          SV_FIELDS(SV_STR("reporter", s->mod[rep].cf->name), SV_STR("channel", ch->r.service)),
          "%s: reported by %s for breaking the protocol on channel %s; resetting the channel",
          s->mod[acc].cf->name, s->mod[rep].cf->name, ch->r.service);
    ch->resetting = true;
    for (int role = 0; role < 2; role++) {
        atomic_store_explicit(&words(s, ch, (enum uipc_role)role)->reset, 1, memory_order_release);
        tell(s, end_of(ch, (enum uipc_role)role));
    }
    try_finish_reset(s, ch);
}

void sv_check_violations(struct sv *s)
{
    for (unsigned k = 0; k < s->nchan; k++) {
        struct sv_chan *ch = &s->chan[k];
        on_report(s, ch, UIPC_SERVER);
        on_report(s, ch, UIPC_CLIENT);
        try_finish_reset(s, ch);
    }
}

/* ---- channels made and dropped ---- */

/* Each end's position in its UIPC_CHANNELS, in channel order (the order
 * sv-start.c lists them in).  A module's numbers change only when its own
 * channels do, and then it is restarted. */
void sv_number_channels(struct sv *s)
{
    unsigned next[SV_MAX_MODULES] = { 0 };
    for (unsigned k = 0; k < s->nchan; k++) {
        s->chan[k].idx[UIPC_SERVER] = next[s->chan[k].server]++;
        s->chan[k].idx[UIPC_CLIENT] = next[s->chan[k].client]++;
    }
}

int sv_chan_find(const struct sv *s, unsigned client, const char *service)
{
    for (unsigned k = 0; k < s->nchan; k++)
        if (s->chan[k].client == (int)client && strcmp(s->chan[k].r.service, service) == 0)
            return (int)k;
    return -1;
}

static struct sv_chan *chan_new(struct sv *s)
{
    if (s->nchan == s->chan_cap) {
        unsigned cap = s->chan_cap ? 2 * s->chan_cap : 16;
        struct sv_chan *bigger = realloc(s->chan, cap * sizeof(*bigger));
        if (!bigger)
            return NULL;
        s->chan = bigger;
        s->chan_cap = cap;
    }
    struct sv_chan *ch = &s->chan[s->nchan];
    memset(ch, 0, sizeof(*ch));
    return ch;
}

int sv_chan_open(struct sv *s, unsigned client, unsigned server, const struct conf_connect *cn)
{
    struct sv_chan *ch = chan_new(s);
    if (!ch)
        return -ENOMEM;
    ch->client = (int)client;
    ch->server = (int)server;
    ch->ring[UIPC_SERVER] = uipc__bell_sender(&s->mod[server].bell);
    ch->ring[UIPC_CLIENT] = uipc__bell_sender(&s->mod[client].bell);
    int err = ch->ring[UIPC_SERVER] < 0 ? ch->ring[UIPC_SERVER] : ch->ring[UIPC_CLIENT];
    if (err >= 0)
        err = uipc__region_create(cn->service, cn->slots ? cn->slots : UIPC_DEFAULT_SLOTS,
                                  cn->slot_size ? cn->slot_size : UIPC_DEFAULT_SLOT_SIZE, &ch->fd);
    if (err == 0 && (err = uipc__region_map(ch->fd, &ch->r)) < 0)
        close(ch->fd);
    if (err < 0) {
        sv_ev(CHANNEL_ERROR, s->mod[client].cf->name,
              SV_FIELDS(SV_STR("service", cn->service), SV_STR("error", strerror(-err))),
              "%s: channel to %s: %s", s->mod[client].cf->name, cn->service, strerror(-err));
        for (int role = 0; role < 2; role++)
            if (ch->ring[role] >= 0)
                close(ch->ring[role]);
        return err;
    }
    s->nchan++;
    return 0;
}

int sv_chan_adopt(struct sv *s, unsigned client, unsigned server, const struct conf_connect *cn, int fd,
                  const int ring[2])
{
    struct sv_chan *ch = chan_new(s);
    if (!ch)
        return -ENOMEM;
    int err = uipc__region_map_as(fd, cn->service, cn->slots, cn->slot_size, &ch->r);
    if (err < 0)
        return err;
    ch->client = (int)client;
    ch->server = (int)server;
    ch->fd = fd;
    ch->ring[UIPC_SERVER] = ring[UIPC_SERVER];
    ch->ring[UIPC_CLIENT] = ring[UIPC_CLIENT];
    s->nchan++;
    return 0;
}

void sv_chan_close(struct sv *s, unsigned k)
{
    struct sv_chan *ch = &s->chan[k];
    uipc__region_unmap(&ch->r);
    close(ch->fd);
    close(ch->ring[UIPC_SERVER]);
    close(ch->ring[UIPC_CLIENT]);
    memmove(ch, ch + 1, (s->nchan - k - 1) * sizeof(*ch));
    s->nchan--;
}

/* ---- deaths and starts ---- */

void sv_channels_dead(struct sv *s, unsigned i)
{
    unsigned reclaimed = 0;
    for (unsigned k = 0; k < s->nchan; k++) {
        struct sv_chan *ch = &s->chan[k];
        if (ch->server == (int)i) {
            struct sv_mod *c = &s->mod[ch->client];
            int n = uipc__reclaim_server(&ch->r, words(s, ch, UIPC_CLIENT), c->ctl.side[UIPC_CLIENT],
                                         c->ring);
            reclaimed += (unsigned)n;
            ch->reclaimed += (uint64_t)n;
        }
        if (ch->client == (int)i) {
            uipc__reclaim_client(&ch->r);
            fold_client(ch);
        }
        if (ch->server == (int)i || ch->client == (int)i)
            try_finish_reset(s, ch);
    }
    if (reclaimed)
        sv_ev(RECLAIMED, s->mod[i].cf->name, SV_FIELDS(SV_NUM("slots", reclaimed)), "%s: %u in-flight slots reclaimed",
              s->mod[i].cf->name, reclaimed);
}

/* A new incarnation with epoch e: the words about its channels, in its own
 * control region and in its peers'.  A channel still being reset starts
 * stopped: the new incarnation is asked to stop using it, like the old. */
void sv_channels_started(struct sv *s, unsigned i)
{
    struct uipc_side *c = s->mod[i].ctl.side[UIPC_CLIENT];
    uint32_t e = s->mod[i].epoch;
    for (unsigned b = 0; b < UIPC_LAT_BUCKETS; b++)
        atomic_store_explicit(&c->chan_violations[b], 0, memory_order_relaxed);
    atomic_store(&c->fault, 0);
    for (unsigned k = 0; k < s->nchan; k++) {
        struct sv_chan *ch = &s->chan[k];
        if (ch->server != (int)i && ch->client != (int)i)
            continue;
        enum uipc_role role = ch->server == (int)i ? UIPC_SERVER : UIPC_CLIENT;
        uipc__region_restore_header(&ch->r); /* whatever the peer wrote over it */
        atomic_store(&words(s, ch, role)->reset, ch->resetting ? 1u : 0u);
        uipc__region_set_epoch(&ch->r, role, e); /* informative: both ends can write it */
        if (role == UIPC_SERVER) {
            uipc__words_started(words(s, ch, UIPC_SERVER), words(s, ch, UIPC_CLIENT), e,
                                !s->draining);
            tell(s, end_of(ch, UIPC_CLIENT)); /* a caller waiting for the service (UIPC_WAIT_READY) */
        }
    }
}

/* Draining: every service looks down to its callers (new calls fail at
 * once with -UIPC_EPEERDIED, as during a restart) while the servers go
 * on answering what is in flight.  The server's own epoch, in its private
 * state, still matches the calls already sent.  Restarts wait for the end
 * of the drain (sv.c, on_timers): a restarted server would open its
 * service again. */
void sv_drain(struct sv *s, bool on)
{
    s->draining = on;
    for (unsigned k = 0; k < s->nchan; k++) {
        struct sv_mod *srv = &s->mod[s->chan[k].server];
        if (sv_may_write(srv)) { /* a dead server's stays 0 */
            atomic_store(&words(s, &s->chan[k], UIPC_CLIENT)->epoch, on ? 0 : srv->epoch);
            tell(s, end_of(&s->chan[k], UIPC_CLIENT)); /* the end: callers waiting for it go */
        }
    }
    sv_ev(DRAIN, NULL, SV_FIELDS(SV_NUM("draining", on)), "supervisor: %s",
          on ? "draining: new calls refused, calls in flight answered" : "drain ended: calls accepted again");
}

/* What a hostile incarnation does, by its selector: libmodule/hostile.c's
 * attacks, in its order. */
static const char *hostile_attack(uint32_t selector)
{
    static const char *const attack[] = {
        "a completion for a slot past the end of a channel",
        "a forged transport status (-10001) past libmodule's clamp",
        "a false protocol report against its client",
        "every bell filled and every fd made blocking, then no beat",
        "slot words and FIFO positions rewritten, then abort()",
    };
    _Static_assert(sizeof(attack) / sizeof(attack[0]) == UIPC_HOSTILE_ATTACKS, "one name per attack");
    return attack[selector % UIPC_HOSTILE_ATTACKS];
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
        sv_ev(FAULT, m->cf->name, SV_FIELDS(SV_STR("fault", "abort")),
              "%s: fault asked for: abort in its next handler", m->cf->name);
    else if (fault == UIPC_FAULT_HOSTILE)
        sv_ev(FAULT, m->cf->name, SV_FIELDS(SV_STR("fault", "hostile"), SV_NUM("attack", ms % UIPC_HOSTILE_ATTACKS)),
              "%s: fault asked for: hostile before its next handler, attack %u: %s", m->cf->name,
              ms % UIPC_HOSTILE_ATTACKS, hostile_attack(ms));
    else
        sv_ev(FAULT, m->cf->name, SV_FIELDS(SV_STR("fault", "sleep"), SV_NUM("delay_ms", ms)),
              "%s: fault asked for: its next handler sleeps %u ms", m->cf->name, ms);
    return 0;
}
