/* SPDX-License-Identifier: MIT */
/* uipc-chaos's fault schedule: which fault, in which module, when; made
 * from the seed alone, before the run, so the same seed gives the same
 * schedule whatever the modules do.  Pure: unit-tested. */
#ifndef UIPC_CHAOS_SCHEDULE_H
#define UIPC_CHAOS_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

enum chaos_fault { FAULT_KILL, FAULT_SEGV, FAULT_STOP, FAULT_ABORT, FAULT_SLOW, FAULT_HOSTILE, FAULT_REEXEC,
                   FAULT_SUPERVISOR_KILL, FAULT_COUNT };

/* Without --faults: every fault but hostile and reexec.  A hostile server
 * makes its clients see -UIPC_EPROTO and -UIPC_EBADSTATUS, which their own
 * checks may count as failures, and protocol violations, which the verdict
 * then tolerates: asked for by name only.  reexec and supervisor-kill
 * are faults of the supervisor, not of a module (the target is only
 * waited for), by name only too.  (And so a seed gives the schedule it always gave.) */
#define CHAOS_DEFAULT_FAULTS ((1u << FAULT_HOSTILE) - 1)

struct chaos_event {
    uint32_t at_ms;    /* from the start of the run */
    unsigned target;   /* index into the caller's target list */
    enum chaos_fault fault;
    uint32_t attack;   /* hostile: the attack's selector (modulo UIPC_HOSTILE_ATTACKS); else 0 */
};

/* "kill", "segv", "stop", "abort", "slow", "hostile", "reexec",
 * "supervisor-kill" */
const char *chaos_fault_name(enum chaos_fault f);
/* A comma-separated list of fault names into a bit set (1u << fault);
 * -EINVAL naming nothing or something unknown. */
int chaos_parse_faults(const char *list, unsigned *set);

/* Events from `seed`: gaps drawn uniformly from [interval/2, 3*interval/2]
 * ms until duration_ms, targets uniformly from ntargets, faults uniformly
 * from the set, and for a hostile one its attack.  Fills at most max
 * events; returns how many. */
unsigned chaos_schedule(uint64_t seed, uint32_t duration_ms, uint32_t interval_ms, unsigned ntargets,
                        unsigned faults, struct chaos_event *out, unsigned max);

/* Until when (ms from the start) event k of n may wait for its target to
 * be running: the next event's moment, for the last one the end of the
 * duration, and never past duration_ms.  Waiting longer would push every
 * later fault back and the run past its duration. */
uint32_t chaos_event_deadline(const struct chaos_event *ev, unsigned n, unsigned k, uint32_t duration_ms);

#endif
