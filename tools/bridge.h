/* SPDX-License-Identifier: MIT */
/* uipc-bridge: a module that carries services to another host over one
 * NNG PAIR1 connection (docs/architecture.md, "uipc-bridge").
 *
 * Both ends are alike: each imports the services it provides locally
 * (its callers' calls go out as CALL frames) and exports the services it
 * connects to (the other end's CALLs become local calls).  Which end
 * listens and which dials only says who opens the connection.
 *
 * One thread: the module's loop (uipc_fd), NNG's receive fd, a timer and
 * an eventfd for NNG's pipe events, in one epoll.  NNG's own threads only
 * move bytes and tell us of pipes. */
#ifndef UIPC_BRIDGE_H
#define UIPC_BRIDGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>
#include <uipc/module.h>

#include "bridge-wire.h"

struct bridge_opts {
    const char *listen, *connect;     /* one of the two: an NNG URL */
    const char *tls_cert, *tls_key, *tls_ca, *tls_server_name;
    bool plain;                       /* tcp:// without TLS, asked for */
    uint32_t heartbeat_ms;            /* PING period */
    uint32_t link_timeout_ms;         /* silence after which the link is lost */
    uint32_t max_inflight;            /* remote calls served at once (export side) */
    uint32_t max_frame;               /* largest frame accepted */
};

/* Parses argv; 0, or 2 after a usage message (bridge-args.c). */
int bridge_parse_args(int argc, char **argv, struct bridge_opts *o);

/* One of our imports, as its handler's ctx. */
struct bridge_import {
    struct bridge *b;
    uint16_t index; /* in our HELLO's list: how our CALLs name it */
};

/* A call of ours out on the link (import side), by id. */
struct bridge_pending {
    uipc_req *req;       /* NULL: free */
    uint64_t id;
    uint64_t deadline_ms; /* give up on the reply after this (0: never) */
};

/* A remote caller's call being made here (export side). */
struct bridge_outcall {
    struct bridge *b;
    uint64_t session;    /* the link it came on: its reply goes only there */
    uint64_t id;
    nng_msg *request;    /* the CALL frame, until fill has copied it */
    bool owned;          /* request is our copy (the call was queued), not the loop's frame */
    nng_msg *reply;      /* the REPLY being built (reply callback) */
    bool used;
    struct uipc_call call;
};

struct bridge {
    struct bridge_opts o;
    uipc_module *m;
    nng_socket sock;
    nng_listener listener;
    nng_dialer dialer;
    int epfd, recv_fd, timer_fd, event_fd;
    /* the link: a pipe that sent a valid HELLO is up */
    _Atomic uint32_t pipe_added, pipe_removed; /* from NNG's threads: pipe ids */
    nng_pipe pipe;           /* current, or id 0 */
    bool up;
    uint64_t my_nonce, peer_nonce; /* this connection's sessions */
    uint64_t last_rx_ms, since_ms, pipe_ms;
    uint64_t idle_ms;        /* since when no connection: the listener is made again after a while */
    unsigned remakes;        /* in this outage: logged once it is over */
    uint64_t rtt_ns, rtt_logged_ms;
    uint64_t last_call_id;   /* export side: ids only grow within a session */
    /* import side */
    const char *imports[BRIDGE_MAX_SERVICES];
    struct bridge_import import_ctx[BRIDGE_MAX_SERVICES];
    unsigned nimports;
    struct bridge_pending *pend;
    uint32_t npend, pend_used;
    uint64_t next_seq;
    /* export side: the other end's imports, resolved to our channels */
    uipc_chan *exports[BRIDGE_MAX_SERVICES]; /* by the other end's HELLO; NULL: not ours */
    unsigned nexports, nexports_found;
    struct bridge_outcall *out;
    uint32_t out_used, out_next;
    struct bridge_frame frame; /* the frame being handled (8 KiB: not on every wake's heap) */
    /* counts, for the log */
    uint64_t calls_out, calls_in, links, dropped;
};

uint64_t bridge_now_ms(void);
uint64_t bridge_now_ns(void);

/* bridge-link.c */
int bridge_link_open(struct bridge *b);
void bridge_link_close(struct bridge *b);
/* NNG's receive fd is readable: every frame waiting. */
void bridge_link_receive(struct bridge *b);
/* The pipe eventfd is readable: pipes came or went. */
void bridge_link_events(struct bridge *b);
/* The timer: heartbeats, the link's silence, calls past their time. */
void bridge_link_tick(struct bridge *b);
/* Drops the current connection (logged with why): calls out get
 * -UIPC_ELINKLOST, the dialer dials again. */
void bridge_link_drop(struct bridge *b, const char *why);
/* Sends msg (taken either way) on the link; false if it could not go. */
bool bridge_send(struct bridge *b, nng_msg *msg);
/* A new message holding a header and room for n more bytes. */
nng_msg *bridge_msg(enum bridge_type type, uint8_t outcome, uint64_t session, uint64_t id, size_t n);

/* bridge-import.c: our callers' calls to the other end */
int bridge_import_init(struct bridge *b);
void bridge_import_fini(struct bridge *b);
void bridge_import_reply(struct bridge *b, const struct bridge_frame *f);
/* Every call out gets -UIPC_ELINKLOST: the link it went on is gone. */
void bridge_import_fail_all(struct bridge *b, int status);
void bridge_import_expire(struct bridge *b, uint64_t now_ms);

/* bridge-export.c: the other end's calls to our services */
int bridge_export_init(struct bridge *b);
void bridge_export_fini(struct bridge *b);
/* The other end's HELLO: its imports, resolved to our channels. */
void bridge_export_resolve(struct bridge *b, const struct bridge_frame *hello);
/* false: the frame breaks the protocol (the link is dropped). */
bool bridge_export_call(struct bridge *b, const struct bridge_frame *f, nng_msg *msg);

#endif
