/* SPDX-License-Identifier: MIT */
/* The control plane (schemas/control.proto) without a supervisor: the
 * control socket's server (supervisor/control.c) on a scratch path, the
 * request handler (supervisor/sv-control.c, and the channel counts, drain
 * and fault of sv-channel.c) on a made-up supervisor state, the
 * client-side framing (supervisor/ctl-wire.c) and the protobuf-c unpacking
 * of Request and Reply.
 *
 * The supervisor's loop (sv.c) is not linked, and needs no stand-in:
 * start, stop and restart only post an event for the loop (sv_post), which
 * the target checks and drops, so no process is ever started or signalled.  The made-up modules either have no process (pid 0) or a pid
 * no process can have (GHOST_PID, above the kernel's PID_MAX_LIMIT), so a
 * "kill" request ends in kill() failing with ESRCH, checked at start-up.
 * (sv-channel.c's protocol-violation kill is only reached from the loop's
 * sv_check_violations, which nothing here calls.)
 *
 * Input: the first byte chooses what the rest is (modulo 5).
 *   0: bytes a client sends on the control socket (framed requests, or
 *      anything), in chunks of (second byte + 1) bytes, then a half-close;
 *      every reply that comes back must be a whole, decodable frame.
 *   1: a packed Request, unpacked and handled directly, the Reply packed,
 *      framed and unpacked again; the same bytes unpacked as a Reply.
 *   2: a byte stream read with ctl_wire_recv (uipcctl's side), as Replies
 *      or, when the second byte is odd, as Requests.
 *   3: bytes written over a channel region's client statistics and slot
 *      words (which a module can scribble on), then a stats request.
 *   4: several clients on the control socket at once (second byte: how
 *      many, 1..8), the rest split between them as clients() says. */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl-wire.h"
#include "fuzz-common.h"
#include "log.h"
#include "region.h"
#include "sv-internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GHOST_PID INT_MAX /* PID_MAX_LIMIT is 4194304: never a process */
#define NMOD 4
#define NCHAN 2

static struct conf conf;
static struct sv sv;
static struct sv_chan chans[NCHAN];
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* The control handler's only way to the lifecycle: events for the loop.
 * Each names a made-up module and is one the operator may send, in a
 * state that accepts it; then it is dropped (no loop runs here). */
static void check_pending(void)
{
    for (unsigned k = 0; k < sv.npending; k++) {
        const struct sv_event *e = &sv.pending[(sv.pending_head + k) % SV_PENDING];
        FUZZ_CHECK(e->mod < NMOD);
        FUZZ_CHECK(e->in.ev == LE_START || e->in.ev == LE_STOP || e->in.ev == LE_RESTART);
        FUZZ_CHECK(lc_accepts(sv.mod[e->mod].lc.state, e->in.ev));
    }
    sv.npending = sv.pending_head = 0;
}

/* ---- the made-up supervisor ---- */

/* Each module's state is reached through its lifecycle, by these events. */
static const struct {
    const char *name;
    enum lc_event path[3];
    unsigned steps;
    pid_t pid;
    int namespaces;
} mods[NMOD] = {
    { "kv", { LE_STOP }, 1, 0, 0 },                                    /* stopped */
    { "echo", { LE_DEPS_READY, LE_SPAWNED, LE_EXITED }, 3, 0, 0 },     /* backoff */
    { "client", { LE_DEPS_READY, LE_SPAWNED, LE_READY }, 3, GHOST_PID, /* ready */
      CLONE_NEWPID | CLONE_NEWNS }, /* kill reads /proc/PID/task */
    { "spin", { LE_DEPS_READY, LE_SPAWNED, LE_READY }, 3, GHOST_PID, 0 },
};

static void reset_state(void)
{
    static uint64_t deaths[NMOD][8];
    struct lc_policy pol = { .max_restarts = 7, .window_s = 60, .backoff_ms = 100, .backoff_max_ms = 1000 };
    struct lc_ctx ctx = { .now = 1000, .shutdown_timeout_ms = 1000, .spawn_timeout_ms = 1000 };
    for (unsigned i = 0; i < NMOD; i++) {
        struct sv_mod *m = &sv.mod[i];
        lc_init(&m->lc, deaths[i], 8);
        for (unsigned k = 0; k < mods[i].steps; k++)
            lc_apply(&m->lc, &pol, &ctx, (struct lc_in){ .ev = mods[i].path[k] });
        m->ch.pid = mods[i].pid;
        m->run_ns = mods[i].namespaces;
    }
    sv.npending = sv.pending_head = 0;
    for (unsigned k = 0; k < NCHAN; k++) {
        struct uipc_side *c = chans[k].r.side[UIPC_CLIENT];
        memset((char *)c + offsetof(struct uipc_side, issued), 0,
               sizeof(*c) - offsetof(struct uipc_side, issued));
        for (uint32_t i = 0; i < chans[k].r.slots; i++)
            atomic_store(&uipc_slot(&chans[k].r, i)->own, 0);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_scratch_init("control");
    snprintf(sock_path, sizeof(sock_path), "%s", fuzz_path("ctl.sock"));
    if (strlen(fuzz_path("ctl.sock")) >= sizeof(sock_path))
        fuzz_die("scratch path too long for a socket: %s", fuzz_path("ctl.sock"));
    if (kill(GHOST_PID, 0) == 0 || errno != ESRCH)
        fuzz_die("pid %d exists?", GHOST_PID);
    sv_log_level(LOG_ERROR); /* the operator's actions are logged at info */

    conf.nmod = NMOD;
    conf.heartbeat_interval_ms = 100;
    conf.hang_timeout_ms = 1000;
    for (unsigned i = 0; i < NMOD; i++) {
        snprintf(conf.mod[i].name, sizeof(conf.mod[i].name), "%s", mods[i].name);
        conf.mod[i].namespaces = mods[i].namespaces;
        sv.mod[i].cf = &conf.mod[i];
        /* where a module beats, and where faults are asked for */
        if (uipc__region_create("uipc.control", 1, UIPC_MIN_SLOT_SIZE, &sv.mod[i].ctl_fd) < 0 ||
            uipc__region_map(sv.mod[i].ctl_fd, &sv.mod[i].ctl) < 0)
            fuzz_die("control region");
        sv.mod[i].starts = i + 1;
        sv.mod[i].violations = i * 7;
    }
    snprintf(sv.mod[1].last_exit, sizeof(sv.mod[1].last_exit), "exited with code 1");
    snprintf(sv.mod[1].last_reason, sizeof(sv.mod[1].last_reason), "seccomp: socket");
    sv.c = &conf;
    sv.nmod = NMOD;
    sv.keeper = -1; /* no keeper: nothing here reaps or checkpoints */
    conf.path = strdup(fuzz_path("modules.conf")); /* never written: a reload is refused */

    static const struct { const char *service; int client, server; uint32_t slots, size; } ch[NCHAN] = {
        { "kv", 2, 0, 8, 64 }, { "echo", 2, 1, 4, 16 },
    };
    for (unsigned k = 0; k < NCHAN; k++) {
        int fd;
        if (uipc__region_create(ch[k].service, ch[k].slots, ch[k].size, &fd) < 0 ||
            uipc__region_map(fd, &chans[k].r) < 0)
            fuzz_die("region %s", ch[k].service);
        chans[k].fd = fd;
        chans[k].client = ch[k].client;
        chans[k].server = ch[k].server;
        chans[k].reclaimed = k;
    }
    sv.chan = chans;
    sv.nchan = NCHAN;
    return 0;
}

/* ---- checks on what comes back ---- */

static void check_reply(const Uipc__Control__Reply *rep)
{
    FUZZ_CHECK(rep->ok || (rep->error && rep->error[0]));
    FUZZ_CHECK(rep->n_modules == 0 || rep->n_modules == NMOD);
    FUZZ_CHECK(rep->n_channels == 0 || rep->n_channels == NCHAN);
    for (size_t k = 0; k < rep->n_channels; k++) {
        const Uipc__Control__ChannelStats *cs = rep->channels[k];
        FUZZ_CHECK(cs->slots == chans[k].r.slots && cs->free_slots <= cs->slots);
        FUZZ_CHECK(cs->in_flight + cs->free_slots == cs->slots);
        FUZZ_CHECK(cs->latency_p50_ns <= cs->latency_p99_ns && cs->latency_p99_ns <= cs->latency_max_ns);
    }
}

/* Every frame the server sent: a length within bounds, all of it there,
 * a Reply that decodes and makes sense. */
static void check_frames(const uint8_t *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        FUZZ_CHECK(len - off >= CTL_HDR);
        uint32_t n = ctl_wire_len(buf + off);
        FUZZ_CHECK(n <= CTL_MAX_MSG && len - off - CTL_HDR >= n);
        Uipc__Control__Reply *rep = uipc__control__reply__unpack(NULL, n, buf + off + CTL_HDR);
        FUZZ_CHECK(rep != NULL);
        check_reply(rep);
        uipc__control__reply__free_unpacked(rep, NULL);
        off += CTL_HDR + n;
    }
}

/* ---- 0, 4: clients on the control socket ---- */

#define MAX_PEERS 8

struct peer {
    int fd;
    uint8_t *in; /* everything the server sent */
    size_t got, cap;
    bool shut, eof;
};

static struct ctl_server *server_open(void)
{
    struct ctl_server *srv;
    int r = ctl_open(sock_path, CTL_OPERATORS, sv_control, sv_control_release, &sv, &srv);
    if (r < 0)
        fuzz_die("ctl_open %s: %s", sock_path, strerror(-r));
    return srv;
}

static void peer_connect(struct peer *p)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
    memset(p, 0, sizeof(*p));
    p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (p->fd < 0 || connect(p->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        fuzz_die("connect %s: %s", sock_path, strerror(errno));
    p->cap = 4096;
    p->in = malloc(p->cap);
    FUZZ_CHECK(p->in);
}

/* Reads what the server sent; true if anything moved. */
static bool peer_read(struct peer *p)
{
    bool moved = false;
    while (!p->eof) {
        if (p->got == p->cap) {
            FUZZ_CHECK(p->cap < (64u << 20));
            p->in = realloc(p->in, p->cap *= 2);
            FUZZ_CHECK(p->in);
        }
        ssize_t k = recv(p->fd, p->in + p->got, p->cap - p->got, MSG_DONTWAIT);
        if (k > 0) {
            p->got += (size_t)k;
            moved = true;
            continue;
        }
        if (k == 0 || errno == ECONNRESET)
            p->eof = moved = true;
        break;
    }
    return moved;
}

static void peer_shut(struct peer *p)
{
    if (!p->shut)
        shutdown(p->fd, SHUT_WR);
    p->shut = true;
}

/* Every peer half-closed; the server drops each connection then, at the
 * latest: a few rounds without anything moving are a connection it kept.
 * Then what each peer received is checked. */
static void peers_finish(struct ctl_server *srv, struct peer *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        peer_shut(&p[i]);
    for (unsigned stalled = 0, open = n; open && stalled < 64; stalled++) {
        ctl_process(srv);
        open = 0;
        for (unsigned i = 0; i < n; i++) {
            if (peer_read(&p[i]))
                stalled = 0;
            open += !p[i].eof;
        }
    }
    for (unsigned i = 0; i < n; i++)
        if (!p[i].eof)
            fuzz_die("the control server kept a half-closed connection open");
    ctl_close(srv);
    for (unsigned i = 0; i < n; i++) {
        close(p[i].fd);
        check_frames(p[i].in, p[i].got);
        free(p[i].in);
    }
}

/* 0: one client sends the input in chunks, reading as it goes. */
static void stream(const uint8_t *d, size_t n, size_t chunk)
{
    struct ctl_server *srv = server_open();
    struct peer p;
    peer_connect(&p);
    for (size_t sent = 0, stalled = 0; sent < n && stalled < 64; stalled++) {
        ssize_t k = send(p.fd, d + sent, n - sent < chunk ? n - sent : chunk, MSG_NOSIGNAL);
        if (k > 0) {
            sent += (size_t)k;
            stalled = 0;
        } else if (errno == EPIPE || errno == ECONNRESET) {
            break; /* the server closed: it refused something */
        }
        ctl_process(srv);
        if (peer_read(&p))
            stalled = 0;
    }
    peers_finish(srv, &p, 1);
}

/* 4: several clients at once.  Each input byte b addresses client
 * b % clients: (b >> 3) + 1 bytes of data follow for it, or, when that is
 * 32, it half-closes.  Bytes a client's socket does not take are dropped. */
static void clients(const uint8_t *d, size_t n, unsigned npeers)
{
    struct ctl_server *srv = server_open();
    struct peer p[MAX_PEERS];
    for (unsigned i = 0; i < npeers; i++)
        peer_connect(&p[i]);
    for (size_t pos = 0; pos < n;) {
        uint8_t b = d[pos++];
        struct peer *c = &p[b % npeers];
        size_t len = (size_t)(b >> 3) + 1;
        if (len == 32) {
            peer_shut(c);
        } else {
            if (len > n - pos)
                len = n - pos;
            if (!c->shut)
                (void)send(c->fd, d + pos, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            pos += len;
        }
        ctl_process(srv);
        for (unsigned i = 0; i < npeers; i++)
            peer_read(&p[i]);
    }
    peers_finish(srv, p, npeers);
}

/* ---- 1: one request, handled directly ---- */

static void direct(const uint8_t *d, size_t n)
{
    Uipc__Control__Request *req = uipc__control__request__unpack(NULL, n, d);
    if (req) {
        Uipc__Control__Reply rep = UIPC__CONTROL__REPLY__INIT;
        sv_control(&sv, req, &rep);
        check_reply(&rep);
        uint8_t *frame;
        size_t len;
        FUZZ_CHECK(ctl_wire_pack(&rep.base, &frame, &len) == 0);
        FUZZ_CHECK(len >= CTL_HDR && ctl_wire_len(frame) == len - CTL_HDR);
        check_frames(frame, len);
        free(frame);
        sv_control_release(&sv, &rep);
        uipc__control__request__free_unpacked(req, NULL);
    }
    Uipc__Control__Reply *rep = uipc__control__reply__unpack(NULL, n, d);
    if (rep)
        uipc__control__reply__free_unpacked(rep, NULL);
}

/* ---- 2: uipcctl's side of the framing ---- */

static void client_recv(const uint8_t *d, size_t n, bool requests)
{
    int sp[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    int big = 1 << 20;
    setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    if (n > 65536)
        n = 65536; /* fits the socket buffer: written before it is read */
    for (size_t done = 0; done < n;) {
        ssize_t k = send(sp[0], d + done, n - done, MSG_NOSIGNAL);
        FUZZ_CHECK(k > 0);
        done += (size_t)k;
    }
    shutdown(sp[0], SHUT_WR);
    const ProtobufCMessageDescriptor *type =
        requests ? &uipc__control__request__descriptor : &uipc__control__reply__descriptor;
    for (int i = 0; i < 1000; i++) {
        ProtobufCMessage *msg = NULL;
        int r = ctl_wire_recv(sp[1], type, &msg, 1000);
        if (r < 0) {
            FUZZ_CHECK(r == -ECONNRESET || r == -EMSGSIZE || r == -EBADMSG);
            break;
        }
        FUZZ_CHECK(msg && msg->descriptor == type);
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    close(sp[0]);
    close(sp[1]);
}

/* ---- 3: statistics a module scribbled on ---- */

static void scribbled_stats(const uint8_t *d, size_t n)
{
    for (unsigned k = 0; k < NCHAN && n; k++) {
        struct uipc_side *c = chans[k].r.side[UIPC_CLIENT];
        size_t room = sizeof(*c) - offsetof(struct uipc_side, issued);
        size_t take = n < room ? n : room;
        memcpy((char *)c + offsetof(struct uipc_side, issued), d, take);
        d += take;
        n -= take;
        for (uint32_t i = 0; i < chans[k].r.slots && n >= 8; i++, d += 8, n -= 8) {
            uint64_t w;
            memcpy(&w, d, 8);
            atomic_store(&uipc_slot(&chans[k].r, i)->own, w);
        }
    }
    Uipc__Control__StatsRequest st = UIPC__CONTROL__STATS_REQUEST__INIT;
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    req.command_case = UIPC__CONTROL__REQUEST__COMMAND_STATS;
    req.stats = &st;
    Uipc__Control__Reply rep = UIPC__CONTROL__REPLY__INIT;
    sv_control(&sv, &req, &rep);
    FUZZ_CHECK(rep.ok && rep.n_channels == NCHAN);
    check_reply(&rep);
    uint8_t *frame;
    size_t len;
    FUZZ_CHECK(ctl_wire_pack(&rep.base, &frame, &len) == 0);
    check_frames(frame, len);
    free(frame);
    sv_control_release(&sv, &rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    reset_state();
    switch (data[0] % 5) {
    case 0: stream(data + 2, size - 2, (size_t)data[1] + 1); break;
    case 1: direct(data + 1, size - 1); break;
    case 2: client_recv(data + 2, size - 2, data[1] & 1); break;
    case 3: scribbled_stats(data + 1, size - 1); break;
    case 4: clients(data + 2, size - 2, 1 + data[1] % MAX_PEERS); break;
    }
    check_pending();
    return 0;
}
