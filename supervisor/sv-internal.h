/* SPDX-License-Identifier: MIT */
/* The supervisor's state, shared by its loop (sv.c) and its control
 * commands (sv-control.c).  Single-threaded: only the loop touches it. */
#ifndef UIPC_SV_INTERNAL_H
#define UIPC_SV_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "control.h"
#include "bell.h"
#include "region.h"
#include "lifecycle.h"
#include "policy.h"
#include "sandbox.h"
#include "spawn.h"
#include "sv.h"

#define OUT_LINE 1024
#define SV_PENDING 1024 /* events waiting for the loop */

#define REEXEC_WAIT_MS 5000
#define CHECKPOINT_MS 1000 /* a checkpoint at least this often (counters) */
#define CHECKPOINT_MIN_MS 50 /* and at most this often, however busy (each is a state file and every fd) */
#define READY_POLL_MS 10 /* how often readiness is looked at while someone waits for it */
#define SV_SPAWN_TIMEOUT_MS 10000 /* a child that never reaches exec is killed (spawn.c) */

/* Why a module's process ended, for its counters (uipcctl metrics). */
enum sv_exit { EXIT_CLEAN, EXIT_FAILED, EXIT_CRASHED, EXIT_HUNG, EXIT_SECCOMP, EXIT_STOPPED, SV_EXIT_KINDS };
#define SV_VIOL_NAMES 33 /* 32 syscalls by name, then "other" */

struct sv_mod {
    const struct conf_module *cf; /* NULL: an unused slot */
    char exec[PATH_MAX];      /* cf->exec made absolute: what the child runs */
    struct lc_mod lc;         /* its lifecycle (lifecycle.c assigns its state) */
    struct sv_child ch;       /* ch.pid == 0: no process */
    struct sv_spawning spawning; /* while its child is on its way to exec: spawning.sync >= 0 */
    struct sv_reaped {        /* its leader reaped, its strays not all gone yet (sv-reap.c) */
        bool pending, clean;
        uint64_t until_ms;
    } reaped;
    bool gone;                /* its process's thread group is gone and its channels are
                               * reclaimed, its pid namespace's init not reaped yet (sv_gone) */
    struct uipc_bell bell;    /* its bell's receiver (bell.c) */
    int ring;                 /* our sender to it, shared with the module as its own */
    char line[OUT_LINE];
    size_t linelen;
    int ctl_fd;               /* its control region: where it beats */
    struct uipc_region ctl;
    struct sandbox sb;
    unsigned violations;      /* syscalls its policy refused, over all its runs */
    uint64_t reported[8];     /* syscalls already logged in this run (log, errno) */
    unsigned starts;          /* processes started, over all its runs */
    char last_exit[96];       /* how the last run ended, "" before any */
    char last_reason[48];     /* "hung", "seccomp: NAME", or "" */
    uint32_t epoch;           /* this incarnation's, on its sides of its channels */
    const struct policy *run_pol; /* its process's policy and namespaces, as started */
    int run_ns;               /* (a reload may change cf meanwhile) */
    unsigned run_beat_ms;     /* the heartbeat interval in its manifest */
    uid_t run_uid;            /* its processes' uid, as the host sees it */
    unsigned protocol_reports; /* times a peer reported it (each: the channel reset) */
    uint64_t exits[SV_EXIT_KINDS]; /* its process's exits over all runs, by enum sv_exit */
    struct sv_viol { int nr; uint64_t n; } viol[SV_VIOL_NAMES]; /* seccomp violations by syscall
                              * (nr -1: the rest), in the order first seen */
    unsigned nviol;
};

/* A channel's call counts over all its client's incarnations. */
struct sv_counts {
    uint64_t issued, ok, peer_died, timed_out, proto, duplicates;
    uint64_t bad_status;      /* also in ok, as the client counts */
    uint64_t lat_sum_ns;
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

/* Configured modules, and those a reload removed while they stop. */
#define SV_MAX_MODULES (2 * CONF_MAX_MODULES)

/* A reload being applied: the modules whose channels change (and those
 * removed) stop, one at a time in reverse start order; once none of them
 * runs, the channels are swapped and they start again (sv-reload.c). */
#define SV_OLD_CONFS 8
struct sv_reload {
    bool pending;
    bool member[SV_MAX_MODULES];   /* by slot: stops for the swap */
    bool removed[SV_MAX_MODULES];  /* ... and is forgotten then */
    bool up_again[SV_MAX_MODULES]; /* ... and starts again then */
    struct conf *old[SV_OLD_CONFS];      /* configs still referenced (slots, running policies) */
    unsigned nold;
    unsigned generation;                 /* reloads applied */
};


struct sv {
    struct conf *c;           /* the configuration in force */
    bool root;                /* privileged: can give modules ids of their own */
    bool socket_forced;       /* --control-socket: a reload keeps it, whatever the file says */
    int userns;               /* -1: not tried yet; else whether a user namespace works here */
    struct sv_mod mod[SV_MAX_MODULES]; /* slots: cf == NULL is free; mod[nmod..] all free */
    unsigned nmod;
    unsigned order[SV_MAX_MODULES], norder; /* start order: every module after its 'after' */
    struct sv_chan *chan;     /* in manifest order (sv_number_channels) */
    unsigned nchan, chan_cap;
    int ep, sigfd;
    bool stopping;            /* shutting down: one module at a time, in reverse order */
    struct sv_event { unsigned mod; struct lc_in in; } pending[SV_PENDING];
    unsigned pending_head, npending; /* events for the loop to deliver (sv_post) */
    struct ctl_server *ctl;   /* the control socket, or NULL */
    struct ctl_server *metrics; /* the read-only metrics socket, or NULL */
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
    uint64_t ctl_requests[16]; /* answered, by Request.command_case (0: unreadable) */
    struct sv_reload reload;
    unsigned generation;      /* 1 at start, +1 at each reexec */
    uint64_t started_wall_ms; /* this generation's start, ms since the epoch */
    uint64_t conf_hash;       /* of the config file as last (re)loaded (sv_conf_hash) */
    char exe[PATH_MAX];       /* the binary's path, for reexec */
    bool reexec_asked;        /* uipcctl reexec or SIGUSR2: at the end of this turn */
    uint64_t reexec_asked_ms; /* when (a busy moment is waited out, REEXEC_WAIT_MS) */
    int keeper;               /* our socket to the keeper (keeper.h), or -1 without one */
    bool dirty;               /* something a checkpoint holds changed this turn */
    uint64_t next_checkpoint_ms, last_checkpoint_ms;
};

/* The state file's format (sv-state.c); a binary refuses any other. */
#define SV_STATE_VERSION SV_STATE_FORMAT

enum ev_kind { EV_SIGNAL = 1, EV_PIDFD, EV_OUTPUT, EV_SECCOMP, EV_CONTROL, EV_SPAWN, EV_GONE };

/* Something of module m may still run and write its channels: a process
 * of it is not reaped, and its thread group is not known to be gone. */
static inline bool sv_may_write(const struct sv_mod *m)
{
    return m->ch.pid > 0 && !m->gone;
}

/* An event for module i, delivered by the loop after the current fd's
 * work (its cell in the lifecycle table decides what it does); -EAGAIN
 * when SV_PENDING events already wait. */
static inline int sv_post(struct sv *s, unsigned i, struct lc_in in)
{
    if (s->npending == SV_PENDING)
        return -EAGAIN;
    s->pending[(s->pending_head + s->npending++) % SV_PENDING] = (struct sv_event){ i, in };
    return 0;
}
static inline int sv_post_event(struct sv *s, unsigned i, enum lc_event ev)
{
    return sv_post(s, i, (struct lc_in){ .ev = ev });
}

/* sv-start.c: starts module i's process (the LX_SPAWN effect): 0 once it
 * is cloned (LE_SPAWNED follows its exec, its reaping a failure), or a
 * negative errno, logged, when nothing could be started. */
int sv_start_module(struct sv *s, unsigned i);
/* Its child's progress towards exec (its sync socket or listener is
 * readable, or sv_spawn_waits): posts LE_SPAWNED at the exec; a failure is
 * logged and the child killed (its reaping follows). */
void sv_spawn_step(struct sv *s, unsigned i);
/* The child is between announcing its listener and loading its filter:
 * no fd tells when that is done, so it is looked at every millisecond. */
bool sv_spawn_waits(const struct sv *s, unsigned i);
/* sv-reap.c: module i's pidfd is readable: reaped (its group and strays
 * killed first), logged, and LE_EXITED posted. */
void sv_reap(struct sv *s, unsigned i);
/* The pidfd of module m's own process: in a pid namespace the one it sent
 * (ch.own_pidfd), else ours (ch.pidfd); -1 when there is none. */
static inline int sv_own_pidfd(const struct sv_mod *m)
{
    return (m->run_ns & CLONE_NEWPID) ? m->ch.own_pidfd : m->ch.pidfd;
}
/* Whether the end of module i's own thread group (sv_own_pidfd readable)
 * is its death for its channels: under a policy that lets it create no
 * process (policy.h: threads_only).  sv-reap.c says why. */
static inline bool sv_gone_is_death(const struct sv *s, unsigned i)
{
    const struct sv_mod *m = &s->mod[i];
    return m->run_pol && m->run_pol->threads_only && sv_own_pidfd(m) >= 0;
}
/* Whether module i's own process is watched by a pidfd of its own in the
 * epoll set (EV_GONE): in a pid namespace; else its pidfd (EV_PIDFD) is. */
static inline bool sv_gone_watched(const struct sv *s, unsigned i)
{
    return (s->mod[i].run_ns & CLONE_NEWPID) && sv_gone_is_death(s, i);
}
/* Module i's own process has ended (its own pidfd is readable, or its
 * pidfd without a pid namespace): its channels reclaimed now, before the
 * reaping (the init's exit, a round trip to the keeper, the strays) and
 * its exit (status, LE_EXITED, restart), sv_reap.  Whether it reclaimed
 * (then checkpoint at once). */
bool sv_gone(struct sv *s, unsigned i);
/* The lifecycle's SIGKILL for module i: its own process where sv_gone
 * watches it, else its process (or its init, and so its namespace). */
void sv_kill_hard(struct sv *s, unsigned i);
/* Our children that are no module's: reaped if dead; with kill_them,
 * SIGKILLed (never waited for). */
void sv_strays(const struct sv *s, bool kill_them);
/* Modules reaped while strays of theirs lived: LE_EXITED once none does
 * (each turn of the loop; SIGCHLD wakes it). */
void sv_reap_strays(struct sv *s);
bool sv_reaping(const struct sv *s, unsigned i);
/* sv-output.c: the module's output, line by line into the log. */
void sv_output(struct sv *s, unsigned i);
/* sv-watch.c: heartbeats (LE_HUNG), readiness (LE_READY), protocol
 * reports; seccomp notifications (LE_VIOLATION). */
void sv_watch(struct sv *s);
void sv_seccomp(struct sv *s, unsigned i, uint32_t events);
/* A module's state as operators see it (uipcctl status, systemd STATUS=);
 * sv-control.c. */
enum sv_shown { SHOWN_STARTING, SHOWN_READY, SHOWN_BACKOFF, SHOWN_FAILED, SHOWN_STOPPED, SHOWN_STOPPING,
                SHOWN_COUNT };
enum sv_shown sv_shown_state(const struct sv_mod *m);
/* "starting", "ready", "backoff", "failed", "stopped" */
const char *sv_state_name(const struct sv_mod *m);
/* The slot of the module called name, or -1. */
static inline int sv_find(const struct sv *s, const char *name)
{
    for (unsigned i = 0; i < s->nmod; i++)
        if (s->mod[i].cf && strcmp(s->mod[i].cf->name, name) == 0)
            return (int)i;
    return -1;
}

/* sv-mods.c */
/* A slot for cf: its sandbox, bell and control region; its index, or a
 * negative errno (logged). */
int sv_mod_open(struct sv *s, const struct conf_module *cf);
/* Closes what sv_mod_open opened (its process is gone) and frees the slot. */
void sv_mod_close(struct sv *s, unsigned i);

/* sv-mods.c: every slot's module after those in its 'after'. */
void sv_start_order(struct sv *s);
/* sv-mods.c: slot i takes cf (a reload's new config): its sandbox for the
 * next start and, if max_restarts changed, a new restart count. */
int sv_mod_reconf(struct sv *s, unsigned i, const struct conf_module *cf, bool say);

/* sv-reload.c: the config file read again and, unless check, applied
 * (sv_reload_step finishes what must wait for modules to stop).  0, or
 * -EINVAL with err "FILE:LINE: problem" (*config_error), or another
 * negative errno with err.  *lines: one per change, malloc'd, for the
 * caller to free with sv_reload_free_lines. */
int sv_reload(struct sv *s, bool check, char ***lines, size_t *nlines, bool *config_error, char *err,
              size_t errlen);
void sv_reload_free_lines(char **lines, size_t n);
void sv_reload_step(struct sv *s);
/* Frees everything a reload still holds (at exit). */
void sv_reload_fini(struct sv *s);

/* sv-state.c: the view written to a memfd (close-on-exec), for reexec. */
int sv_state_save(const struct sv *s, int *fd);
/* Reads it back into s (its config loaded, nothing opened yet): slots,
 * channels, counters; *ctl_fd the control socket, *metrics_fd the metrics
 * socket (-1: none).  0, or a negative errno
 * and why in err.  Takes fd. */
int sv_state_restore(struct sv *s, int fd, int *ctl_fd, int *metrics_fd, char *err, size_t len);
/* Every fd the state names, into out (at most max); how many. */
unsigned sv_state_fds(const struct sv *s, int *out, unsigned max);
#define SV_MAX_FDS 16384
/* FNV-1a of the file's bytes. */
int sv_conf_hash(const char *path, uint64_t *out);
/* sv-keeper.c: the state and its fds to the keeper (a new supervisor
 * starts from the last one if this one dies); 0 or a negative errno. */
int sv_keeper_checkpoint(struct sv *s);
/* The same, but nothing is sent when the keeper holds this very state
 * already: 1 then.  For the periodic checkpoint of a quiet turn. */
int sv_keeper_checkpoint_idle(struct sv *s);
/* Has the keeper reap pid (a module, or a stray: its children, not ours);
 * si as waitid's (si_pid 0: still running, with nohang).  0 or -errno. */
int sv_keeper_reap(const struct sv *s, pid_t pid, bool nohang, siginfo_t *si);
/* sv-reexec.c: whether a reexec can go ahead now (the new binary reads
 * our state format, the config file is as loaded, nothing is starting):
 * 0, or a negative errno and why. */
int sv_reexec_check(struct sv *s, char *err, size_t len);
/* Executes the binary; returns only when that failed (logged, nothing
 * changed). */
void sv_reexec(struct sv *s);

/* sv-channel.c: a channel from client to server (slots) for cn, its
 * region and both bells' senders; 0 or a negative errno (logged). */
int sv_chan_open(struct sv *s, unsigned client, unsigned server, const struct conf_connect *cn);
/* A channel a previous supervisor made (reexec): its region fd mapped
 * with cn's geometry (the header is not trusted), its bells' senders. */
int sv_chan_adopt(struct sv *s, unsigned client, unsigned server, const struct conf_connect *cn, int fd,
                  const int ring[2]);
/* Drops channel k (both its ends are gone or restarting without it). */
void sv_chan_close(struct sv *s, unsigned k);
void sv_number_channels(struct sv *s);
/* The channel from client (a slot) to service, or -1. */
int sv_chan_find(const struct sv *s, unsigned client, const char *service);
/* Module i was reaped: its channels reclaimed, its client
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
/* The metrics socket's: status and stats as sv_control, nothing else. */
void sv_control_readonly(void *sv, const Uipc__Control__Request *req, Uipc__Control__Reply *rep);

/* sv-sandbox.c */
/* m->sb from its config: root (can give ids) or not; *userns: -1 until a
 * user namespace was tried, then whether one works here; say: log the ids
 * it gets and what this supervisor cannot give. */
void sv_sandbox_of(struct sv_mod *m, bool root, int *userns, bool say);
/* 0, or -EACCES (logged) when the module's ids cannot reach its exec or a
 * writable path where its view cannot open the way. */
int sv_sandbox_reach(const struct sv_mod *m);
/* Our own oom_score_adj to SV_OOM_SCORE_ADJ (root), or a warning. */
void sv_protect_from_oom(void);

#endif
