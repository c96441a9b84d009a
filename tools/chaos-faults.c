/* SPDX-License-Identifier: MIT */
/* uipc-chaos's fault phase: the seeded schedule's faults, each through the
 * control socket when its moment comes and its target is running. */
#include <signal.h>

#include "chaos.h"

/* SIGKILL to the supervisor's own process (the keeper's child, which the
 * status names): the keeper starts a new one, and nothing else may
 * notice.  Only once it is generation `want`: a reexec it said yes to
 * and has not done yet would die with it, a generation counted and never
 * made (ASan in CI). */
static bool kill_supervisor(const char *sock, uint32_t want, uint64_t by)
{
    for (;;) {
        Uipc__Control__Reply *st = chaos_ask_status(sock, by);
        pid_t pid = st && st->supervisor ? st->supervisor->pid : 0;
        uint32_t generation = st && st->supervisor ? st->supervisor->generation : 0;
        chaos_reply_free(st);
        if (pid > 0 && generation == want)
            return kill(pid, SIGKILL) == 0;
        if (generation > want || chaos_now_ms() >= by)
            return false;
        chaos_sleep_until(chaos_min(chaos_now_ms() + 10, by), false);
    }
}

/* Signals through `kill`; abort, slow and hostile through `fault`, with
 * the slow time or the hostile attack in its ms; reexec as `uipcctl
 * reexec`. */
static bool inject(const char *sock, const char *module, const struct chaos_event *ev, uint32_t slow_ms,
                   uint32_t generation, uint64_t by)
{
    static const int sig[FAULT_COUNT] = { [FAULT_KILL] = SIGKILL, [FAULT_SEGV] = SIGSEGV,
                                          [FAULT_STOP] = SIGSTOP };
    enum chaos_fault f = ev->fault;
    if (f == FAULT_SUPERVISOR_KILL)
        return kill_supervisor(sock, generation, by);
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__KillRequest kill = UIPC__CONTROL__KILL_REQUEST__INIT;
    Uipc__Control__FaultRequest fault = UIPC__CONTROL__FAULT_REQUEST__INIT;
    Uipc__Control__ReexecRequest reexec = UIPC__CONTROL__REEXEC_REQUEST__INIT;
    if (f == FAULT_REEXEC) { /* the supervisor's own: its binary again, in place */
        req.command_case = UIPC__CONTROL__REQUEST__COMMAND_REEXEC;
        req.reexec = &reexec;
    } else if (f == FAULT_ABORT || f == FAULT_SLOW || f == FAULT_HOSTILE) {
        req.command_case = UIPC__CONTROL__REQUEST__COMMAND_FAULT;
        req.fault = &fault;
        fault.module = (char *)module;
        fault.kind = (char *)chaos_fault_name(f);
        fault.ms = f == FAULT_HOSTILE ? ev->attack : slow_ms;
    } else {
        req.command_case = UIPC__CONTROL__REQUEST__COMMAND_KILL;
        req.kill = &kill;
        kill.module = (char *)module;
        kill.signal = sig[f];
    }
    Uipc__Control__Reply *rep = chaos_ask(sock, &req, by);
    bool ok = rep && rep->ok;
    chaos_reply_free(rep);
    return ok;
}

/* Runs the schedule, which ends at start + duration whatever the targets
 * do.  A target that is not running at its moment (still restarting from
 * the last fault, its backoff maybe seconds by now) is waited for only
 * until the next fault is due (chaos_event_deadline), else the fault is
 * skipped: waiting longer would push every later fault back, pile the
 * late ones onto one incarnation, and stretch the run by up to the
 * backoff per fault.  Faults the duration left no time for are skipped
 * too. */
void chaos_run_schedule(const struct chaos_opts *o, const char *sock, struct chaos_sup *sv,
                        const struct conf *c, const unsigned *targets, const struct chaos_event *ev,
                        unsigned nev, struct chaos_tally *t)
{
    uint64_t t0 = chaos_now_ms(), end = t0 + o->duration_ms;
    unsigned k;
    for (k = 0; k < nev && !chaos_interrupted() && chaos_now_ms() < end; k++) {
        chaos_sleep_until(t0 + ev[k].at_ms, true);
        if (chaos_interrupted())
            return;
        if (!chaos_alive(sv)) {
            t->broken = "the supervisor died";
            return;
        }
        unsigned i = targets[ev[k].target];
        uint64_t until = t0 + chaos_event_deadline(ev, nev, k, o->duration_ms);
        if (!chaos_wait_ready(sock, sv, c, &i, 1, until, end) ||
            !inject(sock, c->mod[i].name, &ev[k], o->slow_ms,
                    chaos_generation_due(t), chaos_request_by(end))) {
            t->skipped++;
            continue;
        }
        t->injected[ev[k].fault]++;
        t->faults++;
    }
    if (!chaos_interrupted())
        t->skipped += nev - k;
}
