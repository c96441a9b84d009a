/* SPDX-License-Identifier: MIT */
/* uipc-bridge's link: the NNG PAIR1 socket, its connections (pipes), the
 * HELLO that makes one a session, heartbeats, and the frames it carries.
 * Only one connection at a time: PAIR1 refuses a second while one lasts,
 * and we drop one that sends no valid HELLO in time. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/tls/tls.h>

#include "bridge.h"

uint64_t bridge_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bridge_now_ms(void)
{
    return bridge_now_ns() / 1000000u;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("uipc-bridge: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    va_end(ap);
}

/* From NNG's threads: only the pipe's id, and a wake-up for the loop. */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct bridge *b = arg;
    atomic_store(ev == NNG_PIPE_EV_ADD_POST ? &b->pipe_added : &b->pipe_removed, nng_pipe_id(p));
    uint64_t one = 1;
    if (write(b->event_fd, &one, sizeof(one)) < 0) {
        /* full counter: the loop is woken already */
    }
}

nng_msg *bridge_msg(enum bridge_type type, uint8_t outcome, uint64_t session, uint64_t id, size_t n)
{
    nng_msg *msg;
    if (nng_msg_alloc(&msg, BRIDGE_HDR + n) != 0)
        return NULL;
    bridge_put_hdr(nng_msg_body(msg), type, outcome, session, id);
    return msg;
}

bool bridge_send(struct bridge *b, nng_msg *msg)
{
    if (!msg)
        return false;
    /* Never blocks the loop: a link that cannot take a frame now is as
     * good as lost (the send buffer holds more than we ever have out). */
    if (nng_sendmsg(b->sock, msg, NNG_FLAG_NONBLOCK) != 0) {
        nng_msg_free(msg);
        return false;
    }
    return true;
}

static uint64_t random64(void)
{
    uint64_t v = 0;
    while (v == 0)
        if (getrandom(&v, sizeof(v), 0) != sizeof(v))
            v = bridge_now_ns() ^ (uint64_t)getpid() << 32;
    return v;
}

/* The link is over: every call of ours out on it gets its one answer. */
static void link_down(struct bridge *b, const char *why)
{
    if (b->up) {
        say("link down: %s; %u calls out answered -UIPC_ELINKLOST", why, b->pend_used);
        bridge_import_fail_all(b, -UIPC_ELINKLOST);
    }
    b->up = false;
    b->peer_nonce = 0;
    b->idle_ms = bridge_now_ms();
}

/* Drops the connection (garbage, silence, a stall): the dialer dials
 * again, the listener waits for it. */
static void drop_pipe(struct bridge *b, nng_pipe p, const char *why)
{
    if (nng_pipe_id(p) == nng_pipe_id(b->pipe)) {
        link_down(b, why);
        b->pipe = (nng_pipe)NNG_PIPE_INITIALIZER;
    }
    say("dropped the connection: %s", why);
    b->dropped++;
    nng_pipe_close(p);
}

void bridge_link_drop(struct bridge *b, const char *why)
{
    if (nng_pipe_id(b->pipe) > 0)
        drop_pipe(b, b->pipe, why);
}

static void send_hello(struct bridge *b)
{
    uint8_t buf[BRIDGE_HDR + 2 + BRIDGE_MAX_SERVICES * (1 + BRIDGE_NAME_MAX)];
    int n = bridge_put_hello(buf, sizeof(buf), 0, b->my_nonce, b->imports, b->nimports);
    nng_msg *msg;
    if (n < 0 || nng_msg_alloc(&msg, (size_t)n) != 0)
        return;
    memcpy(nng_msg_body(msg), buf, (size_t)n);
    bridge_send(b, msg);
}

/* A connection of ours from now on: a new session, whatever came before. */
static void adopt(struct bridge *b, nng_pipe p)
{
    if (nng_pipe_id(p) == nng_pipe_id(b->pipe))
        return;
    link_down(b, "a new connection replaced it");
    b->pipe = p;
    b->my_nonce = random64();
    b->last_call_id = 0;
    b->pipe_ms = b->last_rx_ms = bridge_now_ms();
    send_hello(b);
}

void bridge_link_events(struct bridge *b)
{
    uint64_t n;
    if (read(b->event_fd, &n, sizeof(n)) < 0) {
        /* nothing: a spurious wake */
    }
    uint32_t gone = atomic_exchange(&b->pipe_removed, 0);
    if (gone && gone == (uint32_t)nng_pipe_id(b->pipe)) {
        link_down(b, "the connection closed");
        b->pipe = (nng_pipe)NNG_PIPE_INITIALIZER;
    }
    uint32_t added = atomic_exchange(&b->pipe_added, 0);
    nng_pipe p = { .id = added };
    nng_sockaddr sa;
    if (added && added != gone && nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) == 0)
        adopt(b, p);
}

static void on_hello(struct bridge *b, const struct bridge_frame *f)
{
    if (f->id == 0 || b->up) { /* a second HELLO on one connection is garbage */
        drop_pipe(b, b->pipe, b->up ? "a second HELLO" : "a HELLO without a session");
        return;
    }
    b->peer_nonce = f->id;
    b->up = true;
    b->links++;
    b->since_ms = b->rtt_logged_ms = bridge_now_ms();
    bridge_export_resolve(b, f);
    say("link up (%s %s): %u services imported, %u of the %u the other end imports exported",
        b->o.listen ? "listening on" : "connected to", b->o.listen ? b->o.listen : b->o.connect, b->nimports,
        b->nexports_found, b->nexports);
    if (b->remakes)
        say("the listener was made anew %u times before", b->remakes);
    b->remakes = 0;
}

static void on_ping(struct bridge *b, const struct bridge_frame *f)
{
    nng_msg *msg = bridge_msg(BR_PONG, 0, b->peer_nonce, f->id, 0);
    bridge_send(b, msg);
}

static void on_pong(struct bridge *b, const struct bridge_frame *f)
{
    uint64_t now = bridge_now_ns();
    if (f->id <= now)
        b->rtt_ns = now - f->id;
}

/* One frame from the current connection.  false: it broke the protocol. */
static bool dispatch(struct bridge *b, const struct bridge_frame *f, nng_msg *msg)
{
    if (f->type == BR_HELLO) {
        on_hello(b, f);
        return true;
    }
    /* Queued for an earlier connection: dropped, never run.  Checked
     * before HELLO is awaited: NNG hands a new connection what its socket
     * still holds (frames sent while the last one was dying) ahead of the
     * peer's HELLO. */
    if (f->session != b->my_nonce)
        return true;
    if (!b->up)
        return false; /* our session before the peer's HELLO: it cannot know it yet */
    switch (f->type) {
    case BR_CALL: return bridge_export_call(b, f, msg);
    case BR_REPLY: bridge_import_reply(b, f); return true;
    case BR_PING: on_ping(b, f); return true;
    case BR_PONG: on_pong(b, f); return true;
    default: return false;
    }
}

void bridge_link_receive(struct bridge *b)
{
    nng_msg *msg;
    struct bridge_frame *f = &b->frame;
    while (nng_recvmsg(b->sock, &msg, NNG_FLAG_NONBLOCK) == 0) {
        nng_pipe p = nng_msg_get_pipe(msg);
        if (nng_pipe_id(p) != nng_pipe_id(b->pipe)) {
            /* A connection's frames may overtake NNG's word of it; but
             * one already closed (its last frames still queued) must not
             * become the link again. */
            nng_sockaddr sa;
            if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0) {
                nng_msg_free(msg);
                continue;
            }
            adopt(b, p);
        }
        b->last_rx_ms = bridge_now_ms();
        if (bridge_decode(nng_msg_body(msg), nng_msg_len(msg), f) < 0 || !dispatch(b, f, msg))
            drop_pipe(b, p, "a malformed or unexpected frame");
        nng_msg_free(msg); /* a CALL keeps what it needs (bridge-export.c) */
    }
}

static int endpoint(struct bridge *b);

/* NNG 1.5.2 (Debian 12's) stops a listener for good when a connection
 * fails during its SP negotiation with NNG_ECLOSED, as a TLS one can when
 * its peer goes away in the middle (nanomsg/nng#1518, fixed in 1.6.0): no
 * connection is accepted again, and the link never comes back.  So after a
 * while with no connection at all, the listener is made anew; a healthy
 * one costs nothing but the moment it is closed.  (The dialer has the same
 * flaw in NNG 1.5.2 but is left alone: in one test run, a dialer closed and
 * made anew that way while it dialed left the bridge with no link and an
 * nng_close that never returned; not understood.) */
static void relisten(struct bridge *b, uint64_t now)
{
    nng_listener_close(b->listener);
    if (endpoint(b) == 0 && b->remakes++ == 0)
        say("no connection for %llu ms: the listener is made anew (again every %u ms while none comes)",
            (unsigned long long)(now - b->idle_ms), 4u * b->o.link_timeout_ms);
    b->idle_ms = now;
}

void bridge_link_tick(struct bridge *b)
{
    uint64_t n;
    if (read(b->timer_fd, &n, sizeof(n)) < 0) {
        /* nothing: a spurious wake */
    }
    uint64_t now = bridge_now_ms();
    bridge_import_expire(b, now);
    if (nng_pipe_id(b->pipe) <= 0) {
        if (b->o.listen && now - b->idle_ms >= 4u * b->o.link_timeout_ms)
            relisten(b, now);
        return;
    }
    /* Before HELLO, from the connection's start: stale frames do not
     * keep a connection that never says HELLO. */
    if (now - (b->up ? b->last_rx_ms : b->pipe_ms) > b->o.link_timeout_ms) {
        drop_pipe(b, b->pipe, b->up ? "the other end went silent" : "no HELLO in time");
        return;
    }
    if (b->up) {
        bridge_send(b, bridge_msg(BR_PING, 0, b->peer_nonce, bridge_now_ns(), 0));
        if (now - b->rtt_logged_ms >= 10000) {
            b->rtt_logged_ms = now;
            say("link up %llu s, round trip %llu us, %llu calls out, %llu calls in",
                (unsigned long long)(now - b->since_ms) / 1000, (unsigned long long)b->rtt_ns / 1000,
                (unsigned long long)b->calls_out, (unsigned long long)b->calls_in);
        }
    }
}

/* A PEM file, whole (it holds no NUL byte). */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    char *text = NULL;
    size_t cap = 0;
    if (f && getdelim(&text, &cap, '\0', f) < 0) {
        free(text);
        text = NULL;
    }
    if (f)
        fclose(f);
    return text;
}

/* Mutual TLS: our certificate, and the other end's verified against the CA. */
static int tls_config(struct bridge *b, nng_tls_config **out)
{
    nng_tls_config *cfg;
    int rv = nng_tls_config_alloc(&cfg, b->o.listen ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT);
    if (rv != 0)
        return rv;
    char *cert = read_file(b->o.tls_cert), *key = read_file(b->o.tls_key), *ca = read_file(b->o.tls_ca);
    const char *missing = !cert ? b->o.tls_cert : !key ? b->o.tls_key : !ca ? b->o.tls_ca : NULL;
    if (missing) {
        fprintf(stderr, "uipc-bridge: TLS: cannot read %s: %s\n", missing, strerror(errno));
        rv = NNG_ENOENT;
    }
    if (rv == 0)
        rv = nng_tls_config_own_cert(cfg, cert, key, NULL);
    if (rv == 0)
        rv = nng_tls_config_ca_chain(cfg, ca, NULL);
    if (rv == 0)
        rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
    if (rv == 0 && b->o.tls_server_name)
        rv = nng_tls_config_server_name(cfg, b->o.tls_server_name);
    free(cert);
    free(key);
    free(ca);
    if (rv != 0) {
        nng_tls_config_free(cfg);
        return rv;
    }
    *out = cfg;
    return 0;
}

static int endpoint(struct bridge *b)
{
    nng_tls_config *tls = NULL;
    int rv = 0;
    if (b->o.tls_cert && (rv = tls_config(b, &tls)) != 0) {
        fprintf(stderr, "uipc-bridge: TLS: %s\n", nng_strerror(rv));
        return rv;
    }
    if (b->o.listen) {
        rv = nng_listener_create(&b->listener, b->sock, b->o.listen);
        if (rv == 0 && tls)
            rv = nng_listener_set_ptr(b->listener, NNG_OPT_TLS_CONFIG, tls);
        if (rv == 0)
            rv = nng_listener_start(b->listener, 0);
    } else {
        rv = nng_dialer_create(&b->dialer, b->sock, b->o.connect);
        if (rv == 0 && tls)
            rv = nng_dialer_set_ptr(b->dialer, NNG_OPT_TLS_CONFIG, tls);
        if (rv == 0) /* in the background, and again after every loss */
            rv = nng_dialer_start(b->dialer, NNG_FLAG_NONBLOCK);
    }
    if (tls)
        nng_tls_config_free(tls); /* the endpoint holds its own reference */
    if (rv != 0)
        fprintf(stderr, "uipc-bridge: %s %s: %s\n", b->o.listen ? "listen on" : "connect to",
                b->o.listen ? b->o.listen : b->o.connect, nng_strerror(rv));
    return rv;
}

int bridge_link_open(struct bridge *b)
{
    int rv = nng_pair1_open(&b->sock);
    if (rv == 0)
        rv = nng_socket_set_size(b->sock, NNG_OPT_RECVMAXSZ, b->o.max_frame);
    /* NNG's most: more than we ever have out (BRIDGE_MAX_OUT calls, at
     * most as many replies, a PING and a PONG per tick) */
    if (rv == 0)
        rv = nng_socket_set_int(b->sock, NNG_OPT_SENDBUF, 8192);
    /* Read at once, so a short queue does: a flood waits in TCP, not in
     * our memory (at most this many frames of --max-frame) */
    if (rv == 0)
        rv = nng_socket_set_int(b->sock, NNG_OPT_RECVBUF, BRIDGE_RECVBUF);
    if (rv == 0)
        rv = nng_socket_set_ms(b->sock, NNG_OPT_RECONNMINT, 50);
    if (rv == 0)
        rv = nng_socket_set_ms(b->sock, NNG_OPT_RECONNMAXT, 1000);
    if (rv == 0)
        rv = nng_pipe_notify(b->sock, NNG_PIPE_EV_ADD_POST, on_pipe, b);
    if (rv == 0)
        rv = nng_pipe_notify(b->sock, NNG_PIPE_EV_REM_POST, on_pipe, b);
    if (rv == 0)
        rv = nng_socket_get_int(b->sock, NNG_OPT_RECVFD, &b->recv_fd);
    if (rv != 0) {
        fprintf(stderr, "uipc-bridge: NNG: %s\n", nng_strerror(rv));
        return -EIO;
    }
    b->idle_ms = bridge_now_ms();
    b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec it = { .it_interval = { .tv_sec = b->o.heartbeat_ms / 1000,
                                              .tv_nsec = (long)(b->o.heartbeat_ms % 1000) * 1000000 } };
    it.it_value = it.it_interval;
    if (b->timer_fd < 0 || timerfd_settime(b->timer_fd, 0, &it, NULL) < 0)
        return -errno;
    return endpoint(b) == 0 ? 0 : -EIO;
}

void bridge_link_close(struct bridge *b)
{
    link_down(b, "the bridge stops");
    nng_close(b->sock);
    if (b->timer_fd >= 0)
        close(b->timer_fd);
}
