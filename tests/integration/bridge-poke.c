/* SPDX-License-Identifier: MIT */
/* test-bridge.sh's hostile peer: dials a listening uipc-bridge over NNG
 * PAIR1, as the other end's bridge would, and breaks the protocol one way.
 *
 *   bridge-poke URL MODE [CERT KEY CA SERVER_NAME]
 *
 * With CERT, KEY and CA (PEM files) it dials a tls+tcp:// URL with that
 * certificate, verifying the bridge's against CA and SERVER_NAME.
 *
 * MODE:
 *   second     only connects (the bridge has its link: PAIR1 refuses a
 *              second peer)
 *   garbage    64 random bytes as a frame, before any HELLO
 *   badtype    a well-formed header of an unknown frame type
 *   oversize   a frame of 17 MiB, over the bridge's largest (--max-frame)
 *   replay     a HELLO importing bx; then CALL id 5 to it with a payload
 *              the server refuses without running it (-EINVAL), whose
 *              REPLY must come back; then CALL id 5 again, which must never
 *              run: the bridge drops the connection
 *   badservice a HELLO, then a CALL to a service index it never named
 *   stale      what NNG hands a new connection first: a CALL queued for an
 *              earlier one (another session, a real payload) before the
 *              HELLO; the bridge must drop that CALL unrun and keep the
 *              connection: its PONG must come back, and the connection
 *              must last (exit 0 when it does)
 *   stalespam  such stale CALLs every 50 ms, and never a HELLO: they must
 *              not keep the connection past the HELLO's time (the link's
 *              bound)
 * Exit 0 when the bridge dropped the connection (and, for replay, answered
 * the first CALL once), 1 when it kept it 3 s or answered wrongly, 2 when
 * no connection came up within 5 s, 3 when it could not dial at all. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/tls/tls.h>

#include "bridge-wire.h"
#include "../modules/chaos-payload.h"

static atomic_int added, removed;

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    (void)arg;
    atomic_fetch_add(ev == NNG_PIPE_EV_ADD_POST ? &added : &removed, 1);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static nng_socket sock;

/* Waits up to ms for *flag to be non-zero, reading what comes meanwhile:
 * PAIR1 reads no more from a connection (so sees no end of it) while a
 * frame waits for us. */
static bool wait_for(atomic_int *flag, unsigned ms)
{
    nng_msg *msg;
    for (unsigned t = 0; t < ms && !atomic_load(flag); t += 10) {
        while (nng_recvmsg(sock, &msg, NNG_FLAG_NONBLOCK) == 0)
            nng_msg_free(msg);
        sleep_ms(10);
    }
    return atomic_load(flag) != 0;
}

static int send_buf(nng_socket s, const void *buf, size_t len)
{
    nng_msg *msg;
    int rv = nng_msg_alloc(&msg, len);
    if (rv == 0) {
        memcpy(nng_msg_body(msg), buf, len);
        if ((rv = nng_sendmsg(s, msg, 0)) != 0)
            nng_msg_free(msg);
    }
    return rv;
}

/* The next frame, decoded; false after ms without one. */
static bool receive(nng_socket s, struct bridge_frame *f, unsigned ms)
{
    nng_msg *msg;
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, (nng_duration)ms);
    if (nng_recvmsg(s, &msg, 0) != 0)
        return false;
    int r = bridge_decode(nng_msg_body(msg), nng_msg_len(msg), f);
    nng_msg_free(msg);
    return r == 0;
}

static int hello(nng_socket s, struct bridge_frame *theirs)
{
    uint8_t buf[64];
    uint64_t nonce = 0;
    while (nonce == 0)
        if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce))
            nonce = 42;
    const char *names[] = { "bx" };
    int n = bridge_put_hello(buf, sizeof(buf), 0, nonce, names, 1);
    if (n < 0 || send_buf(s, buf, (size_t)n) != 0)
        return -1;
    /* theirs came when the connection did; we may have to skip a PING */
    for (int k = 0; k < 20; k++)
        if (receive(s, theirs, 500) && theirs->type == BR_HELLO)
            return 0;
    fprintf(stderr, "bridge-poke: no HELLO from the bridge\n");
    return -1;
}

static int call(nng_socket s, uint64_t session, uint64_t id, uint16_t service)
{
    uint8_t buf[BRIDGE_CALL_HDR + 16];
    bridge_put_hdr(buf, BR_CALL, 0, session, id);
    bridge_put_call(buf + BRIDGE_HDR, service, 0, 1000);
    memset(buf + BRIDGE_CALL_HDR, 0xee, 16); /* no chaos payload: the server refuses it, unrun */
    return send_buf(s, buf, sizeof(buf));
}

/* replay: the first CALL answered once, the replayed one never. */
static int replay(nng_socket s)
{
    struct bridge_frame *f = calloc(1, sizeof(*f));
    uint64_t session;
    if (!f || hello(s, f) < 0)
        return 1;
    session = f->id;
    if (call(s, session, 5, 0) != 0)
        return 1;
    bool answered = false;
    for (int k = 0; k < 20 && !answered; k++)
        answered = receive(s, f, 500) && f->type == BR_REPLY && f->id == 5;
    if (!answered || f->status != -22) {
        fprintf(stderr, "bridge-poke: CALL 5: %s (status %d)\n", answered ? "wrong status" : "no REPLY",
                answered ? f->status : 0);
        free(f);
        return 1;
    }
    printf("bridge-poke: CALL 5 answered once: status %d (the server refused it unrun)\n", f->status);
    call(s, session, 5, 0);
    while (receive(s, f, 200)) {
        if (f->type == BR_REPLY) {
            fprintf(stderr, "bridge-poke: the replayed CALL 5 was answered: it ran\n");
            free(f);
            return 1;
        }
    }
    free(f);
    return 0;
}

/* A whole PEM file, NUL-terminated; NULL if it cannot be read. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf = f ? calloc(1, 65536) : NULL;
    if (buf && fread(buf, 1, 65535, f) == 0) {
        free(buf);
        buf = NULL;
    }
    if (f)
        fclose(f);
    return buf;
}

/* The dialer's TLS: our certificate, the bridge's verified. */
static int tls(nng_dialer d, char **argv)
{
    nng_tls_config *cfg;
    int rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT);
    if (rv != 0)
        return rv;
    char *cert = slurp(argv[0]), *key = slurp(argv[1]);
    rv = cert && key ? nng_tls_config_own_cert(cfg, cert, key, NULL) : NNG_ENOENT;
    free(cert);
    free(key);
    if (rv == 0)
        rv = nng_tls_config_ca_file(cfg, argv[2]);
    if (rv == 0)
        rv = nng_tls_config_server_name(cfg, argv[3]);
    if (rv == 0)
        rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
    if (rv == 0)
        rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
    nng_tls_config_free(cfg);
    return rv;
}

/* stale: a CALL of another session first, then the HELLO and a PING of
 * this one, whose PONG must come; then the connection must last 1 s. */
static bool stale(nng_socket s)
{
    uint8_t buf[BRIDGE_CALL_HDR + 64];
    uint64_t id = 0;
    while (id == 0)
        if (getrandom(&id, sizeof(id), 0) != sizeof(id))
            id = 7;
    bridge_put_hdr(buf, BR_CALL, 0, 12345, 1); /* not the bridge's session */
    bridge_put_call(buf + BRIDGE_HDR, 0, 0, 1000);
    chaos_payload_make(buf + BRIDGE_CALL_HDR, 64, id); /* one the server would run: it must not */
    struct bridge_frame *f = calloc(1, sizeof(*f));
    bool ok = f && send_buf(s, buf, sizeof(buf)) == 0 && hello(s, f) == 0;
    if (ok) {
        bridge_put_hdr(buf, BR_PING, 0, f->id, 99);
        ok = send_buf(s, buf, BRIDGE_HDR) == 0;
        bool pong = false;
        for (int k = 0; ok && k < 20 && !pong; k++)
            pong = receive(s, f, 100) && f->type == BR_PONG && f->id == 99;
        if (!pong)
            fprintf(stderr, "bridge-poke: stale: no PONG after the HELLO\n");
        ok = pong;
    }
    uint64_t session = f ? f->id : 0;
    free(f);
    for (int t = 0; ok && t < 100 && !atomic_load(&removed); t++) { /* a PING every 50 ms, as a bridge */
        nng_msg *msg;
        if (t % 5 == 0) {
            bridge_put_hdr(buf, BR_PING, 0, session, 100u + (unsigned)t);
            send_buf(s, buf, BRIDGE_HDR);
        }
        sleep_ms(10);
        while (nng_recvmsg(s, &msg, NNG_FLAG_NONBLOCK) == 0)
            nng_msg_free(msg);
    }
    return ok && !atomic_load(&removed);
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 7) {
        fprintf(stderr, "usage: bridge-poke URL second|garbage|badtype|oversize|replay|badservice|stale|stalespam "
                        "[CERT KEY CA SERVER_NAME]\n");
        return 2;
    }
    const char *mode = argv[2];
    nng_socket s = NNG_SOCKET_INITIALIZER;
    nng_dialer d;
    int rv = nng_pair1_open(&s);
    if (rv == 0)
        rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, on_pipe, NULL);
    if (rv == 0)
        rv = nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, on_pipe, NULL);
    if (rv == 0) /* one connection: not again once dropped */
        rv = nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 60000);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 3000);
    if (rv == 0)
        rv = nng_dialer_create(&d, s, argv[1]);
    if (rv == 0 && argc == 7)
        rv = tls(d, argv + 3);
    if (rv == 0)
        rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        fprintf(stderr, "bridge-poke: cannot dial %s: %s\n", argv[1], nng_strerror(rv));
        return 3;
    }
    sock = s;
    if (!wait_for(&added, 5000)) {
        if (strcmp(mode, "second") == 0) { /* refused during the handshake: as good */
            printf("bridge-poke: second: no connection (refused)\n");
            nng_close(s);
            return 0;
        }
        fprintf(stderr, "bridge-poke: no connection to %s within 5 s\n", argv[1]);
        nng_close(s);
        return 2;
    }
    rv = 0;             /* NNG's error, sending our frame */
    bool wrong = false; /* the bridge answered wrongly, or we could not play our part */
    if (strcmp(mode, "garbage") == 0) {
        uint8_t buf[64];
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = (uint8_t)rand();
        rv = send_buf(s, buf, sizeof(buf));
    } else if (strcmp(mode, "badtype") == 0) {
        uint8_t buf[BRIDGE_HDR];
        bridge_put_hdr(buf, (enum bridge_type)9, 0, 1, 1);
        rv = send_buf(s, buf, sizeof(buf));
    } else if (strcmp(mode, "oversize") == 0) {
        size_t len = 17u << 20;
        uint8_t *buf = calloc(1, len);
        if (buf)
            bridge_put_hdr(buf, BR_PING, 0, 1, 1);
        rv = buf ? send_buf(s, buf, len) : NNG_ENOMEM;
        free(buf);
    } else if (strcmp(mode, "replay") == 0) {
        wrong = replay(s) != 0;
    } else if (strcmp(mode, "badservice") == 0) {
        struct bridge_frame *f = calloc(1, sizeof(*f));
        wrong = !f || hello(s, f) != 0;
        if (!wrong)
            rv = call(s, f->id, 1, 99);
        free(f);
    } else if (strcmp(mode, "stale") == 0) {
        bool kept = stale(s);
        printf("bridge-poke: stale: %s\n", kept ? "the bridge ignored the stale CALL and kept the connection"
                                                 : "the bridge dropped the connection");
        nng_close(s);
        return kept ? 0 : 1;
    } else if (strcmp(mode, "stalespam") == 0) {
        uint8_t buf[BRIDGE_CALL_HDR + 64];
        bridge_put_hdr(buf, BR_CALL, 0, 12345, 1);
        bridge_put_call(buf + BRIDGE_HDR, 0, 0, 1000);
        memset(buf + BRIDGE_CALL_HDR, 0xee, 64);
        for (int t = 0; t < 60 && !atomic_load(&removed); t++) {
            nng_msg *msg;
            send_buf(s, buf, sizeof(buf));
            sleep_ms(50);
            while (nng_recvmsg(s, &msg, NNG_FLAG_NONBLOCK) == 0)
                nng_msg_free(msg);
        }
    } else if (strcmp(mode, "second") != 0) {
        fprintf(stderr, "bridge-poke: unknown mode %s\n", mode);
        nng_close(s);
        return 2;
    }
    if (rv) /* the connection may be gone already: that is judged below */
        fprintf(stderr, "bridge-poke: %s: sending: %s\n", mode, nng_strerror(rv));
    bool dropped = !wrong && wait_for(&removed, 3000);
    if (!wrong && !dropped)
        fprintf(stderr, "bridge-poke: %s: the bridge kept the connection 3 s\n", mode);
    if (dropped)
        printf("bridge-poke: %s: the bridge dropped the connection\n", mode);
    nng_close(s);
    return dropped ? 0 : 1;
}
