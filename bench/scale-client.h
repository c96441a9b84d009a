/* SPDX-License-Identifier: MIT */
/* Internal to uipc-scale-bench: one point of a curve (N clients, one
 * server), run by each transport's file, and what it measured. */
#ifndef UIPC_SCALE_CLIENT_H
#define UIPC_SCALE_CLIENT_H

#include <stdint.h>

#include "scale.h"

enum scale_mode { SCALE_SLEEP, SCALE_SPIN_SERVER, SCALE_UNIX, SCALE_MODES };

struct scale_opts {
    unsigned depth;      /* calls in flight per client */
    unsigned window_ms;  /* the measured window */
    unsigned warmup_ms;  /* calls run before it opens */
    int cpu_client;      /* every client is pinned here, -1: none */
    int cpu_server;      /* the server, -1: none */
};

struct scale_point {
    unsigned n;
    double calls_per_s;          /* all clients, within the window */
    double p50_ns, p99_ns;       /* issue to completion, all clients' calls */
    double min_share;            /* the slowest client's calls / the mean */
    double srv_cpu_ns_per_call;  /* the server's CPU time in the window / calls */
    double cli_cpu_ns_per_call;  /* all clients' CPU time in the window / calls */
    double srv_busy, cli_busy;   /* their CPU time / the window: 1.0, one CPU busy */
};

/* Runs n clients against one server for o->window_ms; 0 and *pt, or a
 * negative errno-style code (-EIO: a reply was not its request's). */
int scale_uipc(const struct scale_opts *o, enum scale_mode mode, unsigned n, struct scale_point *pt);
int scale_unix(const struct scale_opts *o, unsigned n, struct scale_point *pt);

/* scale.c: what both transports' parents do around their processes. */
struct scale_shared *scale_map(void);
void scale_unmap(struct scale_shared *sh);
/* In a client: counts itself ready and sleeps (a futex, no spinning)
 * until the parent opens the window. */
void scale_client_wait_go(struct scale_shared *sh);
/* In the parent, once all n clients are ready (waiting up to 30 s while
 * alive(arg) holds): sets the window, wakes them, samples the CPU time of
 * the server and clients across the window into *pt.  0 or -errno. */
int scale_drive(const struct scale_opts *o, struct scale_shared *sh, unsigned n, pid_t server,
                const pid_t *clients, struct scale_point *pt);
/* Once every client exited: sums their figures into *pt; -EIO on
 * mismatches, a client's own error, or 0. */
int scale_collect(const struct scale_opts *o, const struct scale_shared *sh, unsigned n,
                  struct scale_point *pt);
/* One completion seen by a client at now, issued at t0. */
static inline void scale_record(struct scale_shared *sh, struct scale_client *c, uint64_t t0,
                                uint64_t now)
{
    if (now >= sh->t_start && now < sh->t_end) {
        c->calls++;
        c->hist[scale_bucket(now - t0)]++;
    }
}

#endif
