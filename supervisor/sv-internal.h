/* SPDX-License-Identifier: MIT */
/* The supervisor's state, shared by its loop (sv.c) and its control
 * commands (sv-control.c).  Single-threaded: only the loop touches it. */
#ifndef UIPC_SV_INTERNAL_H
#define UIPC_SV_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "control.h"
#include "bell.h"
#include "region.h"
#include "sandbox.h"
#include "spawn.h"

#define OUT_LINE 1024

enum sv_state { ST_STOPPED, ST_WAITING, ST_RUNNING, ST_BACKOFF, ST_FAILED };
#define READY_POLL_MS 10 /* how often readiness is looked at while someone waits for it */

struct sv_mod {
    const struct conf_module *cf;
    char exec[PATH_MAX];      /* cf->exec made absolute: what the child runs */
    enum sv_state state;
    struct sv_child ch;       /* ch.pid == 0: no process */
    struct uipc_bell bell;    /* its bell's receiver (bell.c) */
    int ring;                 /* our sender to it, shared with the module as its own */
    uint64_t started_ms;
    uint64_t restart_at_ms;
    uint64_t *deaths;         /* times of deaths, a ring of max_restarts + 1 */
    unsigned ndeaths;
    char line[OUT_LINE];
    size_t linelen;
    int ctl_fd;               /* its control region: where it beats */
    struct uipc_region ctl;
    const char *hung;         /* why it was killed as hung, or NULL */
    bool ready;               /* its loop runs (UIPC_CTL_READY) */
    struct sandbox sb;
    unsigned violations;      /* syscalls its policy refused, over all its runs */
    char stopped_for[48];     /* "seccomp: NAME": why the supervisor killed it */
    uint64_t reported[8];     /* syscalls already logged in this run (log, errno) */
    unsigned starts;          /* processes started, over all its runs */
    char last_exit[96];       /* how the last run ended, "" before any */
    char last_reason[48];     /* "hung", "seccomp: NAME", or "" */
    uint64_t stop_term_ms;    /* a stop in progress: SIGTERM then, */
    uint64_t stop_kill_ms;    /* SIGKILL then; 0: no stop in progress */
    bool held;                /* stopped by the operator: no restart */
    uint32_t epoch;           /* this incarnation's, on its sides of its channels */
    unsigned protocol_reports; /* times a peer reported it (each: the channel reset) */
    bool restart_now;         /* restarted by the operator: start again at once */
};

/* A channel's call counts over all its client's incarnations. */
struct sv_counts {
    uint64_t issued, ok, peer_died, timed_out, proto, duplicates;
    uint64_t orphaned;        /* in flight when their caller died */
    uint64_t sync_waiting;    /* now, not summed */
    uint64_t lat[UIPC_LAT_BUCKETS];
};

struct sv_chan {
    int client, server;
    unsigned idx[2];          /* its position in each end's UIPC_CHANNELS, by enum uipc_role */
    int fd;
    struct uipc_region r;
    int ring[2];              /* senders to each end's bell, by role; the other end holds it */
    uint64_t reclaimed;       /* slots answered for a dead server */
    struct sv_counts past;    /* the client's dead incarnations */
    bool resetting;           /* both ends asked to stop using it; emptied once they have */
    unsigned violations;      /* protocol violations reported on it */
};

struct sv {
    struct conf *c;
    struct sv_mod mod[CONF_MAX_MODULES];
    unsigned order[CONF_MAX_MODULES]; /* start order: every module after its 'after' */
    struct sv_chan *chan;
    unsigned nchan;
    int ep, sigfd;
    bool stopping;            /* shutting down: one module at a time, in reverse order */
    struct ctl_server *ctl;   /* the control socket, or NULL */
    bool told_ready;          /* READY=1 sent to systemd */
    char told_status[160];    /* the last STATUS= sent */
    uint64_t watchdog_ms;     /* systemd's WatchdogSec, 0: none */
    uint64_t next_watchdog_ms;
    uint32_t next_epoch;
    uint64_t next_check_ms;   /* next heartbeat / progress check */
    bool draining;            /* services look down to new calls (sv_drain) */
    uint64_t started_ms;      /* the supervisor's own start */
    uint64_t loop_max_ms;     /* the longest turn of the loop so far */
    uint64_t loop_turns;
};

enum ev_kind { EV_SIGNAL = 1, EV_PIDFD, EV_OUTPUT, EV_SECCOMP, EV_CONTROL };

/* Starts module i now (its 'after' is not waited for). */
void sv_start_module(struct sv *s, unsigned i);
/* The stop request, then SIGTERM at half of shutdown_timeout_ms, then
 * SIGKILL at its end. */
void sv_request_stop(struct sv *s, unsigned i);
/* A module's state as operators see it (uipcctl status, systemd STATUS=);
 * sv-control.c. */
enum sv_shown { SHOWN_STARTING, SHOWN_READY, SHOWN_BACKOFF, SHOWN_FAILED, SHOWN_STOPPED, SHOWN_COUNT };
enum sv_shown sv_shown_state(const struct sv_mod *m);
/* "starting", "ready", "backoff", "failed", "stopped" */
const char *sv_state_name(const struct sv_mod *m);
/* sv-channel.c: module i was reaped: its channels reclaimed, its client
 * counts folded, channels it broke reset. */
void sv_channels_dead(struct sv *s, unsigned i);
/* Module i starts (its epoch set): no reports, no fault pending; the
 * supervisor's words about its channels, in its and its peers' control
 * regions. */
void sv_channels_started(struct sv *s, unsigned i);
/* Protocol-violation reports in the modules' control regions. */
void sv_check_violations(struct sv *s);
void sv_chan_counts(const struct sv_chan *ch, struct sv_counts *out);
void sv_drain(struct sv *s, bool on);
/* UIPC_FAULT_* in module i's next handler; -ESRCH if it is not running. */
int sv_fault(struct sv *s, unsigned i, uint32_t fault, uint32_t ms);
/* Handles a control request (sv-control.c). */
void sv_control(void *sv, const Uipc__Control__Request *req, Uipc__Control__Reply *rep);
void sv_control_release(void *sv, Uipc__Control__Reply *rep);

/* sv-sandbox.c */
/* m->sb from its config: root (can give ids) or not; *userns: -1 until a
 * user namespace was tried, then whether one works here. */
void sv_sandbox_of(struct sv_mod *m, bool root, int *userns);
/* 0, or -EACCES (logged) when the module's ids cannot reach its exec or a
 * writable path where its view cannot open the way. */
int sv_sandbox_reach(const struct sv_mod *m);
/* Our own oom_score_adj to SV_OOM_SCORE_ADJ (root), or a warning. */
void sv_protect_from_oom(void);

#endif
