/* SPDX-License-Identifier: MIT */
/* uipc-chaos: runs a user's modules.conf under uipc-supervisor, injects
 * faults into its servers by a seeded schedule while the user's own
 * clients make the load, then judges from the supervisor's per-channel
 * accounting that no call was lost, completed twice, or left hanging and
 * no slot leaked.  It knows nothing of the modules: only what libmodule
 * and the supervisor count. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaos.h"

#define MAX_EVENTS 100000
#define UP_MS 30000 /* for every module to be ready at the start */

/* The run: a supervisor of its own on o->config with a socket in a new
 * directory, the faults, the verdict, the report; the exit status. */
static int run(const struct chaos_opts *o, const struct conf *c, const unsigned *targets, unsigned ntargets,
               const struct chaos_event *ev, unsigned nev)
{
    char dir[] = "/tmp/uipc-chaos.XXXXXX", sock[64], logbuf[96], exebuf[PATH_MAX];
    if (!mkdtemp(dir)) {
        fprintf(stderr, "uipc-chaos: mkdtemp: %s\n", strerror(errno));
        return 3;
    }
    snprintf(sock, sizeof(sock), "%s/control.sock", dir);
    snprintf(logbuf, sizeof(logbuf), "%s/supervisor.log", dir);
    const char *log = o->log ? o->log : logbuf;
    chaos_catch_signals();
    if (!o->json)
        fprintf(stderr, "uipc-chaos: %s: %u faults over %u s on %u target(s), seed %" PRIu64 "\n", o->config,
                nev, o->duration_ms / 1000, ntargets, o->seed);

    struct chaos_tally t = { 0 };
    const char *exe = chaos_supervisor_path(o, exebuf, sizeof(exebuf));
    struct chaos_sup sv = { .pid = chaos_start_supervisor(exe, o->config, sock, log) };
    if (sv.pid < 0)
        return 3;
    int code;
    uint64_t up_by = chaos_now_ms() + UP_MS;
    if (!chaos_wait_ready(sock, &sv, c, NULL, 0, up_by, up_by)) {
        t.broken = chaos_alive(&sv) ? "the modules did not all come up within 30 s" : "the supervisor died";
        code = 3;
    } else {
        chaos_run_schedule(o, sock, &sv, c, targets, ev, nev, &t);
        if (!t.broken)
            chaos_settle_and_judge(o, sock, &sv, c, targets, ntargets, &t);
        code = chaos_passed(&t) ? 0 : 1;
    }
    bool died = !chaos_alive(&sv); /* before we stopped it */
    int status = chaos_stop_supervisor(&sv);
    if (!t.broken && (died || !(WIFEXITED(status) && WEXITSTATUS(status) == 0))) {
        t.broken = died ? "the supervisor died" : "the supervisor did not exit cleanly";
        code = 1;
    }
    if (o->json)
        chaos_report_json(o, &t, log);
    else
        chaos_report_text(o, &t, log);
    unlink(sock);
    return code;
}

int main(int argc, char **argv)
{
    struct chaos_opts o;
    bool stop;
    int r = chaos_parse_args(argc, argv, &o, &stop);
    if (stop)
        return r;
    struct conf *c;
    char err[CONF_ERR_MAX];
    if (conf_load(o.config, &c, err, sizeof(err)) < 0) {
        fprintf(stderr, "uipc-chaos: %s\n", err);
        return 2;
    }
    unsigned targets[CONF_MAX_MODULES], ntargets;
    struct chaos_event *ev = calloc(MAX_EVENTS, sizeof(*ev));
    int code = 2;
    if (ev && chaos_resolve_targets(c, &o, targets, &ntargets) == 0) {
        unsigned nev = chaos_schedule(o.seed, o.duration_ms, o.interval_ms, ntargets, o.faults, ev,
                                      MAX_EVENTS);
        if (o.print_schedule) {
            chaos_print_schedule(c, targets, ev, nev);
            code = 0;
        } else {
            code = run(&o, c, targets, ntargets, ev, nev);
        }
    }
    free(ev);
    conf_free(c);
    return code;
}
