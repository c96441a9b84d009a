/* SPDX-License-Identifier: MIT */
/* A module's lifecycle as data: its states, the events that reach it, and
 * one state x event table whose cells give the next state, the effects
 * the loop carries out and what the module's want becomes.  Pure: no
 * clock (the caller passes now), no process, no fd; the loop (sv.c)
 * turns fds and timers into events and runs the effects.  Module state is
 * assigned in lifecycle.c only.  docs/architecture.md prints the table
 * (tests/unit/test-lifecycle.c checks that it is the one compiled here). */
#ifndef UIPC_SV_LIFECYCLE_H
#define UIPC_SV_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lc_state {
    LC_WAITING,     /* configured, waiting for its 'after' modules to be ready */
    LC_SPAWNING,    /* being started: the child has not reached exec yet */
    LC_STARTING,    /* its program runs; not ready yet */
    LC_READY,       /* its loop runs (UIPC_CTL_READY) */
    LC_STOPPING,    /* asked to stop through its control word */
    LC_TERMINATING, /* SIGTERM sent */
    LC_KILLED,      /* SIGKILL sent: waiting for the reaping */
    LC_BACKOFF,     /* dead, restarted at its deadline */
    LC_FAILED,      /* dead, given up: too many deaths in the window */
    LC_STOPPED,     /* dead, not restarted: stopped, or failed with restart = never/on-failure */
    LC_DONE,        /* dead after a clean exit, not restarted: ready for its dependents */
    LC_STATES
};

enum lc_event {
    LE_DEPS_READY,  /* every module in its 'after' is ready (or exited cleanly) */
    LE_SPAWNED,     /* its program runs */
    LE_SPAWN_FAILED,/* it could not be started (nothing of it runs) */
    LE_READY,       /* its control word says ready */
    LE_EXITED,      /* reaped (.clean: exit code 0 and not killed by us) */
    LE_HUNG,        /* no heartbeat within its hang timeout (.reason) */
    LE_VIOLATION,   /* a syscall its policy kills for (.reason) */
    LE_START,       /* the operator's start: now, 'after' not waited for */
    LE_STOP,        /* the operator's stop, a removal: down, and stays down */
    LE_RESTART,     /* the operator's restart, a changed config: down, then up at once */
    LE_SHUTDOWN,    /* the supervisor stops: nothing restarts any more */
    LE_TIMER,       /* its deadline passed (lc_due) */
    LE_EVENTS
};

/* What the module should be; changed by the table's cells. */
enum lc_want { LW_UP, LW_DOWN, LW_RESTART };

/* Effects, in the order the loop carries them out. */
enum lc_effect {
    LX_RECLAIM = 1 << 0,   /* its channels: in-flight calls answered, counts folded */
    LX_FRESH = 1 << 1,     /* the restart intensity begins anew */
    LX_SPAWN = 1 << 2,     /* start its process (then LE_SPAWNED or LE_SPAWN_FAILED) */
    LX_STOP_WORD = 1 << 3, /* UIPC_CTL_STOP in its control region, and its bell rung */
    LX_SIGTERM = 1 << 4,
    LX_SIGKILL = 1 << 5,
    LX_REFUSE = 1 << 6,    /* the event does not apply in this state: nothing changed */
};

/* A cell's next state: a state, or one decided by the restart policy. */
#define LC_DECIDE LC_STATES

/* What a cell sets the module's deadline to. */
enum lc_timer { LT_KEEP, LT_NONE, LT_TERM, LT_KILL, LT_SPAWN };

struct lc_cell {
    uint8_t next;          /* enum lc_state, or LC_DECIDE; LC_STATES + 1: unchanged */
    uint8_t want;          /* enum lc_want + 1, or 0: unchanged */
    uint8_t timer;         /* enum lc_timer */
    uint16_t effects;      /* enum lc_effect bits */
};
#define LC_SAME (LC_STATES + 1)

/* The restart settings of a module (its [module] keys). */
struct lc_policy {
    enum { LC_RESTART_ALWAYS, LC_RESTART_ON_FAILURE, LC_RESTART_NEVER } restart;
    unsigned max_restarts, window_s, backoff_ms, backoff_max_ms;
};

struct lc_mod {
    enum lc_state state;
    enum lc_want want;
    uint64_t deadline_ms;     /* of its state (LC_STOPPING, LC_TERMINATING, LC_BACKOFF, LC_SPAWNING); 0: none */
    uint64_t since_ms;        /* when its process started (LC_STARTING on) */
    char reason[48];          /* why we killed it ("hung: no heartbeat", "seccomp: NAME"), or "" */
    uint64_t *deaths;         /* times of counted deaths, a ring of cap = max_restarts + 1 */
    unsigned cap, ndeaths;
};

struct lc_ctx {
    uint64_t now;
    unsigned shutdown_timeout_ms; /* SIGTERM at half of it, SIGKILL at its end */
    unsigned spawn_timeout_ms;
    bool draining;                /* restarts wait (a restarted server opens its service) */
    bool shutting_down;
};

/* An event with its details. */
struct lc_in {
    enum lc_event ev;
    bool clean;               /* LE_EXITED */
    char reason[48];          /* LE_HUNG, LE_VIOLATION */
};

/* What one event did, for the loop to carry out and log. */
struct lc_step {
    enum lc_state from, to;
    unsigned effects;
    enum lc_note {
        LN_NONE, LN_RESTART_IN, LN_GIVEN_UP, LN_NOT_RESTARTED, LN_HELD, LN_OPERATOR_RESTART,
        LN_TERM, LN_KILL, LN_KILL_SPAWN,
    } note;
    unsigned delay_ms;        /* LN_RESTART_IN */
    unsigned recent;          /* LN_GIVEN_UP: deaths within the window */
};

extern const struct lc_cell lc_table[LC_STATES][LE_EVENTS];

/* A module as first configured: waiting, wanted up.  deaths: room for
 * pol->max_restarts + 1 times (the caller's), or NULL with 0. */
void lc_init(struct lc_mod *m, uint64_t *deaths, unsigned cap);
/* A module's lifecycle as a previous supervisor left it (reexec): its
 * state, want, deadline, start and reason; the restart count begins in
 * the caller's ring. */
void lc_restore(struct lc_mod *m, enum lc_state state, enum lc_want want, uint64_t deadline_ms, uint64_t since_ms,
                const char *reason, uint64_t *deaths, unsigned cap);
/* A new ring for the restart count (max_restarts changed): the count
 * begins anew.  Returns the old ring, for the caller to free. */
uint64_t *lc_set_deaths(struct lc_mod *m, uint64_t *deaths, unsigned cap);
/* Applies one event: the table's cell, then the restart policy where the
 * cell says LC_DECIDE. */
struct lc_step lc_apply(struct lc_mod *m, const struct lc_policy *pol, const struct lc_ctx *ctx, struct lc_in in);
/* Whether the event would change anything (LX_REFUSE otherwise). */
bool lc_accepts(enum lc_state s, enum lc_event ev);
/* Whether the module's deadline has passed (LE_TIMER is due); a restart
 * waits while draining. */
bool lc_due(const struct lc_mod *m, const struct lc_ctx *ctx);
/* The module's next deadline, or UINT64_MAX. */
uint64_t lc_deadline(const struct lc_mod *m, const struct lc_ctx *ctx);

/* A process of it exists (reaping will follow). */
bool lc_live(enum lc_state s);
/* Its heartbeat is watched (a stop in progress has its own deadline). */
bool lc_watched(enum lc_state s);
/* Dependents may start: it is ready, or it ran once and exited cleanly. */
bool lc_counts_ready(enum lc_state s);
/* The beat's silence exceeds hang_ms (beat and start in ms, 0: none yet). */
bool lc_hung(uint64_t now, uint64_t beat_ms, uint64_t since_ms, unsigned hang_ms);

#define LC_MAX_MODULES 256 /* lc_start_order's bound */

/* Start order: order[] gets every module after those its after[i] lists
 * (nafter[i] indexes each); the graph has no cycle (the config checked).
 * Returns how many were placed (n unless there is a cycle). */
unsigned lc_start_order(unsigned n, const unsigned *const *after, const unsigned *nafter, unsigned *order);
/* Shutdown goes in reverse start order, one module at a time: the module
 * to send LE_STOP next, or -1 (none left, or the last one still stopping). */
int lc_next_to_stop(const unsigned *order, unsigned n, const struct lc_mod *const *mods);

/* Names, as in the table in docs/architecture.md. */
const char *lc_state_name(enum lc_state s);
const char *lc_event_name(enum lc_event ev);
/* The table as Markdown (docs/architecture.md holds it verbatim);
 * returns the length written, or needed. */
size_t lc_table_markdown(char *buf, size_t len);
/* One log line for a step's note (without the module's name), or "". */
void lc_describe(const struct lc_step *st, const struct lc_policy *pol, unsigned shutdown_timeout_ms,
                 char *buf, size_t len);

#endif
