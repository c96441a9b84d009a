/* SPDX-License-Identifier: MIT */
/* A module that attacks the supervisor and its peers from the inside, for
 * tests/integration/test-attacks.c.  It is an ordinary module program
 * linked with libmodule's internal core, so it reaches its own channels'
 * regions, bells and control region through the uipc_module's internals.
 *
 *   attacker client|server KIND STATEFILE
 *
 * The first incarnation (STATEFILE absent: it creates it) attacks; later
 * ones behave (a client calls "alpha" until 100 calls succeed, prints
 * "attacker: honest again" and serves on; a server serves "alpha" with
 * chaos_echo and prints "attacker: serving honestly").  KIND:
 *   jam     (client, server) fills every bell sender it holds (its own,
 *           which is the supervisor's too, and its sender to each peer's
 *           bell) until EAGAIN, clears O_NONBLOCK on every fd it holds,
 *           says "asleep, ring my bell" (bell = 1, armed = 0) in every
 *           side it owns, control region included; a client then issues
 *           one async call, so that its server answers and rings the full
 *           bell (issued before the claim, the answer could come back
 *           before it and ring nothing); a server has served 50 calls
 *           first, so calls are in flight.  Then it stops beating for good
 *           (pause()).  The eventfd bells of old blocked the supervisor's
 *           loop in write() on this.
 *   frame   (client) never calls, but keeps its submit FIFO's tail at
 *           head + 1 (an idle server with "work waiting") while it beats
 *           normally, for ATTACKER_FRAME_MS (default 3000), then prints
 *           "attacker: framing done" and turns honest in the same
 *           incarnation.  The supervisor once judged servers by that.
 *   status  (server) a live server answering -UIPC_EPEERDIED: first 50
 *           times as its handler's return value (libmodule clamps it),
 *           then 50 times raw, writing the status into the slot header
 *           and pushing the completion itself, past the server-side clamp;
 *           then it goes on lying through the handler.
 *
 *   attacker caller SERVICE
 *
 * An honest caller for the status attack (chaos-client counts
 * -UIPC_EBADSTATUS as an anomaly): sync calls with chaos payloads, one at
 * a time, ATTACKER_TIMEOUT_MS (default 5000) each, counting the outcomes;
 * it prints them every 50 calls, the first time each kind of outcome
 * appears, and when it stops. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fifo.h"
#include "internal.h"
/* after <uipc/module.h>: chaos_echo */
#include "chaos-payload.h"

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static unsigned env_ms(const char *name, unsigned dflt)
{
    const char *s = getenv(name);
    return s && atoi(s) > 0 ? (unsigned)atoi(s) : dflt;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- honest behaviour ---- */

struct payload {
    unsigned char buf[CHAOS_MAX_PAYLOAD];
    size_t len;
    uint64_t seq;
    bool good; /* the reply was exactly the echo of this request */
};

static void prepare(struct payload *p, uint64_t seq)
{
    p->seq = seq;
    p->len = CHAOS_HDR + (size_t)(seq * 37 % (CHAOS_MAX_PAYLOAD - CHAOS_HDR + 1));
    chaos_payload_make(p->buf, p->len, seq);
    p->good = false;
}

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct payload *p = arg;
    if (cap < p->len)
        return -UIPC_ETOOBIG;
    memcpy(buf, p->buf, p->len);
    *len = p->len;
    return 0;
}

static void reply(int status, const void *data, size_t len, void *arg)
{
    struct payload *p = arg;
    p->good = status == (int)p->len && chaos_reply_ok(data, len, p->len, p->seq);
}

static int honest_client(uipc_module *m)
{
    uipc_chan *ch;
    unsigned ok = 0;
    struct payload p;
    if (uipc_connect(m, "alpha", &ch) < 0)
        return 1;
    for (uint64_t seq = 1; ok < 100; seq++) {
        prepare(&p, seq);
        struct uipc_call c = { .fill = fill, .reply = reply, .arg = &p, .timeout_ms = 1000 };
        int st = uipc_call(ch, &c);
        if (st == (int)p.len && p.good)
            ok++;
        else if (uipc_poll(m, 10) == -UIPC_ESTOPPED)
            return 0;
    }
    say("attacker: honest again: %u calls ok", ok);
    return uipc_run(m) < 0;
}

static int echo(uipc_req *req, void *ctx)
{
    (void)ctx;
    return chaos_echo(req);
}

static int honest_server(uipc_module *m)
{
    if (uipc_serve(m, "alpha", echo, NULL) < 0)
        return 1;
    say("attacker: serving honestly");
    return uipc_run(m) < 0;
}

/* ---- jam ---- */

/* Every fd we hold made blocking again (the descriptions are shared with
 * whoever else holds them: the supervisor, for its sender to our bell).
 * Up to the soft limit: under valgrind the fds above it are valgrind's. */
static unsigned make_all_blocking(void)
{
    struct rlimit rl;
    unsigned n = 0, max = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
        max = (unsigned)rl.rlim_cur;
    for (unsigned fd = 0; fd < max; fd++) {
        int fl = fcntl((int)fd, F_GETFL);
        if (fl >= 0 && fcntl((int)fd, F_SETFL, fl & ~O_NONBLOCK) == 0)
            n++;
    }
    return n;
}

/* Datagrams into a bell until its queue is full; how many went in.  Not
 * a socket (the eventfd bells of old): its counter filled to the brim
 * instead, while the fd is still non-blocking. */
static unsigned fill_bell(int fd)
{
    static const char one = 1;
    unsigned n = 0;
    for (; n < 100000; n++)
        if (send(fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            break;
    if (n == 0 && errno == ENOTSOCK)
        for (uint64_t v = 0xfffffffffffffffeull; v; v /= 2)
            while (write(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
                n++;
    return n;
}

/* "Asleep in a poll loop, ring my bell; no futex sleeper": every side we
 * own, the control region's included. */
static void claim_asleep(uipc_module *m)
{
    struct uipc_side *sides[2 * UIPC_MAX_CHANNELS + 1];
    unsigned n = 0;
    if (m->ctl.base)
        sides[n++] = m->ctl.side[UIPC_CLIENT];
    for (unsigned i = 0; i < m->nchans; i++)
        sides[n++] = m->chans[i].r.side[UIPC_CLIENT];
    for (unsigned i = 0; i < m->nsrvs; i++)
        sides[n++] = m->srvs[i].r.side[UIPC_SERVER];
    for (unsigned i = 0; i < n; i++) {
        atomic_store(&sides[i]->bell, 1);
        atomic_store(&sides[i]->armed, 0);
    }
}

static void ignore_complete(int status, void *arg)
{
    (void)status;
    (void)arg;
}

static int served;

static int count_echo(uipc_req *req, void *ctx)
{
    (void)ctx;
    served++;
    return chaos_echo(req);
}

static _Noreturn void jam(uipc_module *m, bool server)
{
    if (server) {
        /* serve a while first: the client is after us, and calls are in
         * flight when we stop */
        uint64_t end = now_ms() + 5000;
        if (uipc_serve(m, "alpha", count_echo, NULL) < 0)
            exit(20);
        while (served < 50 && now_ms() < end)
            uipc_poll(m, 10);
    } else {
        uipc_poll(m, 0); /* ready */
    }
    /* Filled first, while the fds are non-blocking as handed over; then
     * every description made blocking.  Our own sender to our bell is the
     * supervisor's too. */
    unsigned queued = fill_bell(m->self), senders = 1;
    for (unsigned i = 0; i < m->nchans; i++, senders++)
        queued += fill_bell(m->chans[i].peer_bell);
    for (unsigned i = 0; i < m->nsrvs; i++, senders++)
        queued += fill_bell(m->srvs[i].peer_bell);
    unsigned fds = make_all_blocking();
    claim_asleep(m);
    int call = 0;
    if (!server && m->nchans > 0) {
        /* the server answers it and, as we say we sleep, rings our full bell */
        static struct payload p;
        prepare(&p, 1);
        struct uipc_call c = { .fill = fill, .complete = ignore_complete, .arg = &p };
        call = uipc_call(&m->chans[0], &c);
        claim_asleep(m); /* issuing may have touched nothing, but to be sure */
    }
    say("attacker: jammed as %s: %u fds blocking, %u datagrams in %u bells, %s; beating no more",
        server ? "server" : "client", fds, queued, senders,
        server ? "no call" : call == 0 ? "one async call issued" : "the async call was refused");
    for (;;)
        pause();
}

/* ---- frame ---- */

static int frame(uipc_module *m)
{
    if (m->nchans == 0)
        return 21;
    struct uipc_fifo_shared *f = m->chans[0].r.fifo[UIPC_SUBMIT];
    unsigned ms = env_ms("ATTACKER_FRAME_MS", 3000);
    uint64_t end = now_ms() + ms;
    say("attacker: framing %s for %u ms: submit tail = head + 1, no call", m->chans[0].r.service, ms);
    while (now_ms() < end) {
        atomic_store(&f->tail, atomic_load(&f->head) + 1);
        if (uipc_poll(m, 10) == -UIPC_ESTOPPED)
            return 0;
    }
    say("attacker: framing done: tail %u, head %u", atomic_load(&f->tail), atomic_load(&f->head));
    return honest_client(m);
}

/* ---- status ---- */

static unsigned lies;

static int lie_handler(uipc_req *req, void *ctx)
{
    (void)req;
    (void)ctx;
    lies++;
    return -UIPC_EPEERDIED; /* libmodule's server side makes it -UIPC_EBADSTATUS */
}

/* Takes the next call off the submit FIFO through our own server end's
 * private state, and answers it as libmodule would, but with
 * -UIPC_EPEERDIED in the slot header, unclamped.  True if it took one. */
static bool raw_lie(struct uipc_srv *s)
{
    uint32_t i, gen, tag;
    if (uipc__fifo_pop(&s->sub, &i, &gen, &tag) <= 0)
        return false;
    uipc__fifo_publish_head(&s->sub);
    if (tag != s->epoch || i >= s->r.slots)
        return true; /* not ours to answer */
    struct uipc_slot_hdr *h = uipc_slot(&s->r, i);
    if (atomic_load(&h->own) != uipc_slot_word(gen, UIPC_SLOT_SUBMITTED))
        return true;
    atomic_store(&h->own, uipc_slot_word(gen, UIPC_SLOT_SERVING));
    h->status = -UIPC_EPEERDIED;
    h->rep_len = 0;
    atomic_store(&h->own, uipc_slot_word(gen, UIPC_SLOT_DONE));
    if (uipc__fifo_push(&s->cmp, i, gen, 0) < 0)
        exit(22);
    uipc__fifo_publish_tail(&s->cmp);
    uipc__notify(s->r.side[UIPC_CLIENT], s->peer_bell);
    return true;
}

static int status_attack(uipc_module *m)
{
    struct uipc_srv *s = NULL;
    for (unsigned i = 0; i < m->nsrvs; i++)
        if (strcmp(m->srvs[i].r.service, "alpha") == 0)
            s = &m->srvs[i];
    if (!s || uipc_serve(m, "alpha", lie_handler, NULL) < 0)
        return 23;
    while (lies < 50)
        if (uipc_poll(m, 10) == -UIPC_ESTOPPED)
            return 0;
    unsigned raw = 0;
    while (raw < 50) {
        pthread_mutex_lock(&m->lock);
        bool took = raw_lie(s);
        pthread_mutex_unlock(&m->lock);
        if (took) {
            raw++;
            continue;
        }
        uipc_alive(m);
        usleep(200);
        if (atomic_load(&m->ctl.side[UIPC_CLIENT]->ctl) & UIPC_CTL_STOP)
            return 0;
    }
    say("attacker: answered -10001 (-UIPC_EPEERDIED) to %u calls through the handler and %u raw; "
        "lying on through the handler", lies, raw);
    for (;;)
        if (uipc_poll(m, 100) == -UIPC_ESTOPPED)
            return 0;
}

/* ---- the honest caller ---- */

struct tally {
    unsigned long calls, ok, badstatus, peer_died, timed_out, other;
    int last_other;
};

static void tally_say(const struct tally *t, const char *when)
{
    say("honest-caller: %s %lu calls: ok %lu, badstatus %lu, peer_died %lu, timed_out %lu, other %lu "
        "(last other status %d)",
        when, t->calls, t->ok, t->badstatus, t->peer_died, t->timed_out, t->other, t->last_other);
}

static void first(unsigned long count, const char *what, int status, unsigned long call)
{
    if (count == 1)
        say("honest-caller: first %s (status %d: %s) at call %lu", what, status, uipc_strerror(status), call);
}

static int caller(uipc_module *m, const char *service)
{
    uipc_chan *ch;
    struct tally t = { 0 };
    struct payload p;
    unsigned timeout = env_ms("ATTACKER_TIMEOUT_MS", 5000);
    if (uipc_connect(m, service, &ch) < 0)
        return 1;
    for (uint64_t seq = 1;; seq++) {
        prepare(&p, seq);
        struct uipc_call c = { .fill = fill, .reply = reply, .arg = &p, .timeout_ms = timeout };
        int st = uipc_call(ch, &c);
        t.calls++;
        if (st == (int)p.len && p.good)
            first(++t.ok, "ok", st, t.calls);
        else if (st == -UIPC_EBADSTATUS)
            first(++t.badstatus, "badstatus", st, t.calls);
        else if (st == -UIPC_EPEERDIED)
            first(++t.peer_died, "peer_died", st, t.calls);
        else if (st == -UIPC_ETIMEDOUT)
            first(++t.timed_out, "timed_out", st, t.calls);
        else {
            t.last_other = st;
            first(++t.other, "other", st, t.calls);
        }
        if (t.calls % 50 == 0)
            tally_say(&t, "after");
        /* a call refused at once (service down) must not spin */
        int r = uipc_poll(m, st == -UIPC_EPEERDIED ? 10 : 0);
        if (r == -UIPC_ESTOPPED)
            break;
    }
    tally_say(&t, "stopping after");
    return 0;
}

/* ---- main ---- */

static int run(uipc_module *m, int argc, char **argv)
{
    if (strcmp(argv[1], "caller") == 0)
        return argc == 3 ? caller(m, argv[2]) : 2;
    if (argc != 4)
        return 2;
    bool server = strcmp(argv[1], "server") == 0;
    const char *kind = argv[2];
    int fd = open(argv[3], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) /* a later incarnation: behave */
        return server ? honest_server(m) : honest_client(m);
    close(fd);
    say("attacker: attacking as %s: %s", argv[1], kind);
    if (strcmp(kind, "jam") == 0)
        jam(m, server);
    if (!server && strcmp(kind, "frame") == 0)
        return frame(m);
    if (server && strcmp(kind, "status") == 0)
        return status_attack(m);
    say("attacker: no attack %s as %s", kind, argv[1]);
    return 2;
}

int main(int argc, char **argv)
{
    uipc_module *m;
    if (argc < 3 || uipc_module_open(&m) < 0)
        return 2;
    int code = run(m, argc, argv);
    uipc_module_close(m); /* the whole module, as valgrind checks it */
    return code;
}
