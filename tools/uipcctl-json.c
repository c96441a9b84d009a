/* SPDX-License-Identifier: MIT */
/* uipcctl --json: each reply as one JSON object on one line, its fields
 * named as in schemas/control.proto. */
#include <inttypes.h>
#include <stdint.h>

#include "uipcctl.h"

/* s as a JSON string: quote and backslash escaped, control characters as
 * \u00XX; other bytes as they are. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)ctl_str(s); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* Counts as one object: , "key": {"name": value, ...} */
static void json_counts(FILE *f, const char *key, Uipc__Control__Count *const *v, size_t n)
{
    fprintf(f, ", \"%s\": {", key);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", f);
        json_str(f, v[i]->name);
        fprintf(f, ": %" PRIu64, v[i]->value);
    }
    fputc('}', f);
}

void ctl_json_status(const Uipc__Control__Reply *rep, FILE *f)
{
    fputs("{\"modules\": [", f);
    for (size_t i = 0; i < rep->n_modules; i++) {
        const Uipc__Control__ModuleStatus *m = rep->modules[i];
        fputs(i ? ", {\"name\": " : "{\"name\": ", f);
        json_str(f, m->name);
        fputs(", \"state\": ", f);
        json_str(f, m->state);
        fprintf(f, ", \"pid\": %" PRId32 ", \"uptime_ms\": %" PRIu64 ", \"restarts\": %" PRIu32,
                m->pid, m->uptime_ms, m->restarts);
        fputs(", \"last_exit\": ", f);
        json_str(f, m->last_exit);
        fputs(", \"last_reason\": ", f);
        json_str(f, m->last_reason);
        fprintf(f, ", \"violations\": %" PRIu32 ", \"protocol_kills\": %" PRIu32
                   ", \"protocol_reports\": %" PRIu32, m->violations, m->protocol_kills,
                m->protocol_reports);
        json_counts(f, "exits", m->exits, m->n_exits);
        json_counts(f, "violations_by_syscall", m->violations_by_syscall, m->n_violations_by_syscall);
        fputc('}', f);
    }
    fputs("]", f);
    const Uipc__Control__SupervisorStatus *me = rep->supervisor;
    if (me) {
        fprintf(f, ", \"supervisor\": {\"uptime_ms\": %" PRIu64 ", \"loop_max_ms\": %" PRIu64
                   ", \"loop_turns\": %" PRIu64 ", \"pid\": %d, \"generation\": %u, \"started_ms\": %" PRIu64,
                me->uptime_ms, me->loop_max_ms, me->loop_turns, (int)me->pid, (unsigned)me->generation,
                me->started_ms);
        json_counts(f, "control_requests", me->control_requests, me->n_control_requests);
        fputc('}', f);
    }
    fputs("}\n", f);
}

void ctl_json_stats(const Uipc__Control__Reply *rep, FILE *f)
{
    fputs("{\"channels\": [", f);
    for (size_t i = 0; i < rep->n_channels; i++) {
        const Uipc__Control__ChannelStats *c = rep->channels[i];
        fputs(i ? ", {\"service\": " : "{\"service\": ", f);
        json_str(f, c->service);
        fputs(", \"client\": ", f);
        json_str(f, c->client);
        fputs(", \"server\": ", f);
        json_str(f, c->server);
        fprintf(f,
                ", \"slots\": %" PRIu32 ", \"slot_size\": %" PRIu32 ", \"calls\": %" PRIu64
                ", \"ok\": %" PRIu64 ", \"peer_died\": %" PRIu64 ", \"timed_out\": %" PRIu64
                ", \"proto\": %" PRIu64 ", \"in_flight\": %" PRIu32 ", \"free_slots\": %" PRIu32
                ", \"reclaimed\": %" PRIu64 ", \"latency_p50_ns\": %" PRIu64
                ", \"latency_p99_ns\": %" PRIu64 ", \"latency_max_ns\": %" PRIu64
                ", \"duplicates\": %" PRIu64 ", \"orphaned\": %" PRIu64 ", \"sync_waiting\": %" PRIu32
                ", \"violations\": %" PRIu32 ", \"bad_status\": %" PRIu64 ", \"latency_samples\": %" PRIu64
                ", \"latency_sum_ns\": %" PRIu64 "}",
                c->slots, c->slot_size, c->calls, c->ok, c->peer_died, c->timed_out, c->proto,
                c->in_flight, c->free_slots, c->reclaimed, c->latency_p50_ns, c->latency_p99_ns,
                c->latency_max_ns, c->duplicates, c->orphaned, c->sync_waiting, c->violations,
                c->bad_status, c->latency_samples, c->latency_sum_ns);
    }
    fputs("]}\n", f);
}

static void json_strings(FILE *f, const char *key, char *const *v, size_t n)
{
    fprintf(f, ", \"%s\": [", key);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", f);
        json_str(f, v[i]);
    }
    fputc(']', f);
}

void ctl_json_sandbox(const Uipc__Control__SandboxReport *r, FILE *f)
{
    const struct { const char *key, *val; } text[] = {
        { "module", r->module }, { "uid", r->uid }, { "gid", r->gid }, { "groups", r->groups },
        { "cap_inh", r->cap_inh }, { "cap_prm", r->cap_prm }, { "cap_eff", r->cap_eff },
        { "cap_bnd", r->cap_bnd }, { "cap_amb", r->cap_amb }, { "policy", r->policy },
    };
    fputs("{\"ok\": true, \"sandbox\": {", f);
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", text[i].key);
        json_str(f, text[i].val);
    }
    fprintf(f, ", \"pid\": %d, \"no_new_privs\": %u, \"seccomp\": %u, \"root_read_only\": %s, "
               "\"oom_score_adj\": %d", (int)r->pid, r->no_new_privs, r->seccomp,
            r->root_read_only ? "true" : "false", (int)r->oom_score_adj);
    json_strings(f, "namespaces", r->namespaces, r->n_namespaces);
    json_strings(f, "writable", r->writable, r->n_writable);
    fputs(", \"limits\": {", f);
    for (size_t i = 0; i < r->n_limits; i++) {
        fprintf(f, "%s\"%s\": {\"soft\": ", i ? ", " : "", r->limits[i]->name);
        json_str(f, r->limits[i]->soft);
        fputs(", \"hard\": ", f);
        json_str(f, r->limits[i]->hard);
        fputc('}', f);
    }
    fputs("}}}\n", f);
}

void ctl_json_ok(FILE *f)
{
    fputs("{\"ok\": true}\n", f);
}

void ctl_json_reload(const Uipc__Control__ReloadReport *r, FILE *f)
{
    fprintf(f, "{\"ok\": true, \"applied\": %s, \"changes\": [", r->applied ? "true" : "false");
    for (size_t k = 0; k < r->n_changes; k++) {
        fputs(k ? ", " : "", f);
        json_str(f, r->changes[k]);
    }
    fputs("]}\n", f);
}

void ctl_json_refused(const char *error, FILE *f)
{
    fputs("{\"ok\": false, \"error\": ", f);
    json_str(f, error);
    fputs("}\n", f);
}
