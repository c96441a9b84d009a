/* SPDX-License-Identifier: MIT */
/* UIPC_FAULT_HOSTILE: for one incarnation, the module's own libmodule
 * turns on the clients of the channel it is serving, so that uipc-chaos
 * (`--faults hostile`) and `uipcctl fault NAME hostile` can show what the
 * clients and the supervisor do against a hostile server: every call
 * still gets exactly one completion, no caller hangs, and no honest module
 * is killed.  Only the supervisor can ask for it: the word is in the
 * module's control region, which no peer maps.
 *
 * It runs inside a server, after serve.c took a request and before its
 * handler runs (serve.c, fault_point), with the module lock held.
 * The attacks are those of tests/modules/hostile-module.c and attacker.c,
 * from inside.  The selector (fault_ms, from uipc-chaos's seeded schedule
 * or `uipcctl fault --ms`) picks one, modulo UIPC_HOSTILE_ATTACKS, in the order of
 * uipc__hostile below; the supervisor's log names it (sv-channel.c,
 * sv_fault, which keeps the same order). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* After an entry of ours reached the completion FIFO. */
static void tell_client(struct uipc_srv *s)
{
    uipc__fifo_publish_tail(&s->cmp);
    uipc__notify(s->r.side[UIPC_CLIENT], s->peer_bell);
}

/* ---- 0: garbage ---- */

/* A completion naming a slot past the end, through our own producer end
 * (so our positions stay right): the client stops the channel (its calls
 * in flight get -UIPC_EPROTO) and reports us, and the supervisor resets
 * the channel.  Then we go on as if nothing happened. */
static void garbage(struct uipc_srv *s)
{
    if (uipc__fifo_push(&s->cmp, s->r.slots + 7, 1, 0) == 0)
        tell_client(s);
}

/* ---- 1: forged status ---- */

/* The handler of a forged request runs on a private copy of it: a decoy
 * server end whose only slot is this buffer.  Once the forged completion
 * is out the slot is the client's again, and the handler's reply must
 * not land on its next call there. */
static struct uipc_srv decoy;
static unsigned char *decoy_slot;
static size_t decoy_cap;

static bool decoy_for(struct uipc_srv *s)
{
    size_t need = UIPC_SLOT_HDR + (size_t)s->r.slot_size;
    if (need > decoy_cap) {
        unsigned char *p = realloc(decoy_slot, need);
        if (!p)
            return false;
        decoy_slot = p;
        decoy_cap = need;
    }
    decoy = *s;
    decoy.r.slot_base = decoy_slot;
    decoy.r.slots = 1;
    return true;
}

/* The request answered -UIPC_EPEERDIED (-10001: "the server died", from a
 * live server), written straight into the slot header, past the clamp in
 * serve.c's answer(): the client must clamp it on read and see
 * -UIPC_EBADSTATUS.  The handler then runs on the decoy, and its answer
 * goes nowhere (the request is no longer busy).  Without memory for the
 * copy, it is garbage. */
static void forge(struct uipc_srv *s, struct uipc_req *req)
{
    if (!req || !decoy_for(s)) {
        garbage(s);
        return;
    }
    struct uipc_slot_hdr *h = uipc_slot(&s->r, req->slot);
    /* Copied before the completion is out: then the client may reuse it. */
    memcpy(decoy_slot + UIPC_SLOT_HDR, uipc_slot_data(&s->r, req->slot), req->req_len);
    h->status = -UIPC_EPEERDIED;
    h->rep_len = 0;
    uipc_store_release(&h->own, uipc_slot_word(req->gen, UIPC_SLOT_DONE));
    if (uipc__fifo_push(&s->cmp, req->slot, req->gen, 0) < 0)
        return; /* the client's head is a lie: the handler's answer finds that out */
    tell_client(s);
    req->busy = false;
    req->s = &decoy;
    req->slot = 0;
}

/* ---- 2: false report ---- */

/* The client reported for a violation it did not commit: our end stops
 * and says so in our control region, which reads as a report (report.c,
 * uipc__report_halt).  The supervisor resets the channel: the client's
 * calls in flight get -UIPC_EPROTO, nobody is killed.  The handler runs,
 * but its answer is dropped (serve.c: a broken end answers nothing).
 * serve.c stops its end (uipc__srv_halt) when uipc__hostile says so:
 * this file, called from serve.c, never calls back into it. */

/* ---- 3: jam and hang ---- */

/* Datagrams into a bell until its queue is full. */
static void fill_bell(int fd)
{
    static const char one = 1;
    for (unsigned n = 0; n < 100000; n++)
        if (send(fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            return;
}

/* Every fd we hold made blocking: the descriptions are shared with whoever
 * else holds them (the supervisor's sender to our bell is our own).  Up to
 * the soft limit: under valgrind the fds above it are valgrind's. */
static void all_blocking(void)
{
    struct rlimit rl;
    unsigned max = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
        max = (unsigned)rl.rlim_cur;
    for (unsigned fd = 0; fd < max; fd++) {
        int fl = fcntl((int)fd, F_GETFL);
        if (fl >= 0)
            fcntl((int)fd, F_SETFL, fl & ~O_NONBLOCK);
    }
}

/* "Asleep in a poll loop, ring my bell; no futex sleeper", in every side
 * we own, the control region's included: whoever believes it rings a full
 * bell through a description we made blocking. */
static void claim_asleep(uipc_module *m)
{
    if (m->ctl.base)
        uipc_store_relaxed(&m->ctl.side[UIPC_CLIENT]->bell, 1);
    for (unsigned i = 0; i < m->nchans; i++)
        uipc_store_relaxed(&m->chans[i].r.side[UIPC_CLIENT]->bell, 1);
    for (unsigned i = 0; i < m->nsrvs; i++)
        uipc_store_relaxed(&m->srvs[i].r.side[UIPC_SERVER]->bell, 1);
    uipc_fence();
}

/* Fills every bell sender we hold (ours, which is the supervisor's too,
 * and one to each peer's bell), makes every fd blocking, claims to sleep
 * on its bell, then stops beating for good, the module lock held: the
 * supervisor must find us hung and kill us without ever blocking on what
 * we left, and our clients must get their calls back. */
static _Noreturn void jam(uipc_module *m)
{
    fill_bell(m->self);
    for (unsigned i = 0; i < m->nchans; i++)
        fill_bell(m->chans[i].peer_bell);
    for (unsigned i = 0; i < m->nsrvs; i++)
        fill_bell(m->srvs[i].peer_bell);
    all_blocking();
    claim_asleep(m);
    for (;;) { /* nanosleep, not pause(): a module's seccomp policy allows it */
        struct timespec ts = { .tv_sec = 3600 };
        nanosleep(&ts, NULL);
    }
}

/* ---- 4: lie and die ---- */

/* Every slot word of the channel FREE (the reclaim answers only slots
 * marked in service), the completion FIFO's tail and the submit FIFO's
 * head far off, then abort(): the client must still get exactly one
 * completion per call, from its own table once the supervisor says the
 * incarnation is gone (chan.c, peer_gone), and the next server must
 * attach. */
static _Noreturn void lie_and_die(struct uipc_srv *s)
{
    for (uint32_t i = 0; i < s->r.slots; i++) {
        struct uipc_slot_hdr *h = uipc_slot(&s->r, i);
        uint32_t gen = uipc_slot_word_gen(uipc_load_acquire(&h->own));
        uipc_store_release(&h->own, uipc_slot_word(gen, UIPC_SLOT_FREE));
    }
    atomic_fetch_add(&s->r.fifo[UIPC_COMPLETE]->tail, 1000000u);
    atomic_fetch_add(&s->r.fifo[UIPC_SUBMIT]->head, 1000000u);
    abort();
}

/* s: the server end whose request req is about to be handled. */
bool uipc__hostile(uipc_module *m, struct uipc_srv *s, struct uipc_req *req, uint32_t selector)
{
    switch (selector % UIPC_HOSTILE_ATTACKS) {
    case 0: garbage(s); return false;
    case 1: forge(s, req); return false;
    case 2: return true; /* false report: our end stops */
    case 3: jam(m);
    default: lie_and_die(s);
    }
}
