/* SPDX-License-Identifier: MIT */
/* uipc-chaos's report: the tally as text or one JSON object, the verdict,
 * and the schedule alone (--print-schedule). */
#include <inttypes.h>
#include <stdio.h>

#include "chaos.h"
#include "region.h"

/* Protocol violations are what hostile faults make (each reset a channel,
 * as it should): with any injected they are reported, not failed. */
bool chaos_passed(const struct chaos_tally *t)
{
    bool violations_ok = !t->violations || t->injected[FAULT_HOSTILE] > 0;
    /* Fewer generations means one failed (and then the modules are gone,
     * too). */
    bool reexecs_ok = !t->judged || t->generation == chaos_generation_due(t);
    return !t->broken && !t->duplicates && !t->lost && !t->leaked_slots && !t->hung && violations_ok &&
           !t->honest_killed && reexecs_ok;
}

void chaos_report_json(const struct chaos_opts *o, const struct chaos_tally *t, const char *log)
{
    printf("{\"seed\": %" PRIu64 ", \"duration_s\": %u, \"faults\": %u, \"faults_by_kind\": {", o->seed,
           o->duration_ms / 1000, t->faults);
    for (int f = 0; f < FAULT_COUNT; f++)
        printf("%s\"%s\": %u", f ? ", " : "", chaos_fault_name((enum chaos_fault)f), t->injected[f]);
    printf("}, \"skipped\": %u, \"restarts\": %" PRIu64 ", \"issued\": %" PRIu64 ", \"ok\": %" PRIu64
           ", \"errors\": {\"peer_died\": %" PRIu64 ", \"timed_out\": %" PRIu64 ", \"proto\": %" PRIu64
           "}, \"orphaned\": %" PRIu64 ", \"duplicates\": %" PRIu64 ", \"lost\": %" PRIu64
           ", \"leaked_slots\": %" PRIu64 ", \"hung\": %" PRIu64 ", \"violations\": %" PRIu64
           ", \"protocol_kills\": %" PRIu64 ", \"honest_killed\": %" PRIu64
           ", \"supervisor_generation\": %" PRIu32 ", \"drained\": %s, \"passed\": %s",
           t->skipped, t->restarts, t->issued, t->ok, t->peer_died, t->timed_out, t->proto, t->orphaned,
           t->duplicates, t->lost, t->leaked_slots, t->hung, t->violations, t->protocol_kills,
           t->honest_killed, t->generation, t->drained ? "true" : "false", chaos_passed(t) ? "true" : "false");
    if (t->broken)
        printf(", \"error\": \"%s\"", t->broken);
    printf(", \"log\": \"");
    for (const char *p = log; *p; p++) /* a path: escape what JSON must */
        printf(*p == '"' || *p == '\\' ? "\\%c" : (unsigned char)*p < 0x20 ? "?" : "%c", *p);
    printf("\"}\n");
}

void chaos_report_text(const struct chaos_opts *o, const struct chaos_tally *t, const char *log)
{
    printf("seed          %" PRIu64 " (uipc-chaos --seed %" PRIu64 " repeats this schedule)\n", o->seed,
           o->seed);
    printf("faults        %u:", t->faults);
    for (int f = 0; f < FAULT_COUNT; f++)
        printf(" %s %u", chaos_fault_name((enum chaos_fault)f), t->injected[f]);
    printf("%s%u skipped (target not running before the next fault was due)\n", " | ", t->skipped);
    printf("restarts      %" PRIu64 "\n", t->restarts);
    printf("calls         %" PRIu64 " issued, %" PRIu64 " ok\n", t->issued, t->ok);
    printf("errors        peer_died %" PRIu64 ", timed_out %" PRIu64 ", proto %" PRIu64 "\n", t->peer_died,
           t->timed_out, t->proto);
    printf("orphaned      %" PRIu64 " (in flight when their caller died)\n", t->orphaned);
    printf("duplicates    %" PRIu64 "\nlost          %" PRIu64 "\nleaked slots  %" PRIu64
           "\nhung callers  %" PRIu64 "\nviolations    %" PRIu64 " (protocol; %" PRIu64 " kills%s)\n",
           t->duplicates, t->lost, t->leaked_slots, t->hung, t->violations, t->protocol_kills,
           t->injected[FAULT_HOSTILE] ? "; expected: hostile faults were injected" : "");
    printf("honest killed %" PRIu64 " (deaths of modules that are not targets)\n", t->honest_killed);
    printf("supervisor    generation %" PRIu32 " (%u reexecs asked for, %u supervisors killed)\n", t->generation,
           t->injected[FAULT_REEXEC], t->injected[FAULT_SUPERVISOR_KILL]);
    if (t->judged && !t->drained)
        printf("not drained   calls were still in flight at the end of --settle-s\n");
    if (t->broken)
        printf("error         %s\n", t->broken);
    printf("log           %s\n%s\n", log, chaos_passed(t) ? "PASS" : "FAIL");
}

void chaos_print_schedule(const struct conf *c, const unsigned *targets, const struct chaos_event *ev,
                           unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        printf("%8u ms  %-6s %s", ev[k].at_ms, chaos_fault_name(ev[k].fault),
               c->mod[targets[ev[k].target]].name);
        if (ev[k].fault == FAULT_HOSTILE)
            printf(" (attack %u)", ev[k].attack % UIPC_HOSTILE_ATTACKS);
        putchar('\n');
    }
}
