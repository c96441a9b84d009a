/* SPDX-License-Identifier: MIT */
/* uipcctl: the operator's command-line tool for the supervisor's control
 * socket (schemas/control.proto).  One request, one reply, printed as a
 * table or as JSON:
 *   uipcctl [--config FILE | --socket PATH] [--json] [--timeout-ms N] COMMAND [ARGS]
 * This file is the table of commands, what each asks and prints, and main. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "uipcctl.h"

/* ---- requests: each sets its command and its part of the Request ---- */

static void req_status(const struct ctl_args *a, Uipc__Control__Request *req)
{
    static Uipc__Control__StatusRequest status = UIPC__CONTROL__STATUS_REQUEST__INIT;
    (void)a;
    req->command_case = UIPC__CONTROL__REQUEST__COMMAND_STATUS;
    req->status = &status;
}

static void req_stats(const struct ctl_args *a, Uipc__Control__Request *req)
{
    static Uipc__Control__StatsRequest stats = UIPC__CONTROL__STATS_REQUEST__INIT;
    (void)a;
    req->command_case = UIPC__CONTROL__REQUEST__COMMAND_STATS;
    req->stats = &stats;
}

/* restart, stop, start and sandbox name a module and nothing else. */
static Uipc__Control__ModuleRequest *module_request(const struct ctl_args *a)
{
    static Uipc__Control__ModuleRequest mod = UIPC__CONTROL__MODULE_REQUEST__INIT;
    mod.module = a->name;
    return &mod;
}

static void req_restart(const struct ctl_args *a, Uipc__Control__Request *req)
{
    req->command_case = UIPC__CONTROL__REQUEST__COMMAND_RESTART;
    req->restart = module_request(a);
}

static void req_stop(const struct ctl_args *a, Uipc__Control__Request *req)
{
    req->command_case = UIPC__CONTROL__REQUEST__COMMAND_STOP;
    req->stop = module_request(a);
}

static void req_start(const struct ctl_args *a, Uipc__Control__Request *req)
{
    req->command_case = UIPC__CONTROL__REQUEST__COMMAND_START;
    req->start = module_request(a);
}

static void req_sandbox(const struct ctl_args *a, Uipc__Control__Request *req)
{
    req->command_case = UIPC__CONTROL__REQUEST__COMMAND_SANDBOX;
    req->sandbox = module_request(a);
}

static void req_kill(const struct ctl_args *a, Uipc__Control__Request *req)
{
    static Uipc__Control__KillRequest kill = UIPC__CONTROL__KILL_REQUEST__INIT;
    kill.module = a->name;
    kill.signal = a->signal;
    req->command_case = UIPC__CONTROL__REQUEST__COMMAND_KILL;
    req->kill = &kill;
}

static void req_fault(const struct ctl_args *a, Uipc__Control__Request *req)
{
    static Uipc__Control__FaultRequest fault = UIPC__CONTROL__FAULT_REQUEST__INIT;
    fault.module = a->name;
    fault.kind = a->fault;
    fault.ms = a->fault_ms;
    req->command_case = UIPC__CONTROL__REQUEST__COMMAND_FAULT;
    req->fault = &fault;
}

static void req_drain(const struct ctl_args *a, Uipc__Control__Request *req)
{
    static Uipc__Control__DrainRequest drain = UIPC__CONTROL__DRAIN_REQUEST__INIT;
    drain.off = (a->opts & CTL_OPT_OFF) != 0;
    req->command_case = UIPC__CONTROL__REQUEST__COMMAND_DRAIN;
    req->drain = &drain;
}

static void req_reload(const struct ctl_args *a, Uipc__Control__Request *req)
{
    static Uipc__Control__ReloadRequest reload = UIPC__CONTROL__RELOAD_REQUEST__INIT;
    reload.check = (a->opts & CTL_OPT_CHECK) != 0;
    req->command_case = UIPC__CONTROL__REQUEST__COMMAND_RELOAD;
    req->reload = &reload;
}

static void req_reexec(const struct ctl_args *a, Uipc__Control__Request *req)
{
    static Uipc__Control__ReexecRequest reexec = UIPC__CONTROL__REEXEC_REQUEST__INIT;
    (void)a;
    req->command_case = UIPC__CONTROL__REQUEST__COMMAND_REEXEC;
    req->reexec = &reexec;
}

/* ---- replies, once the supervisor said yes ---- */

static int show_status(const struct ctl_args *a, const Uipc__Control__Reply *rep)
{
    if (!a->json)
        return ctl_text_status(rep, stdout);
    ctl_json_status(rep, stdout);
    return 0;
}

static int show_stats(const struct ctl_args *a, const Uipc__Control__Reply *rep)
{
    if (!a->json)
        return ctl_text_stats(rep, stdout);
    ctl_json_stats(rep, stdout);
    return 0;
}

static int show_sandbox(const struct ctl_args *a, const Uipc__Control__Reply *rep)
{
    if (!rep->sandbox) {
        fprintf(stderr, "uipcctl: the supervisor sent no sandbox report\n");
        return 1;
    }
    if (!a->json)
        return ctl_text_sandbox(rep->sandbox, stdout);
    ctl_json_sandbox(rep->sandbox, stdout);
    return 0;
}

/* What changed (or, with --check, would), one line per module. */
static int show_reload(const struct ctl_args *a, const Uipc__Control__Reply *rep)
{
    if (!rep->reload) {
        fprintf(stderr, "uipcctl: the supervisor sent no reload report\n");
        return 1;
    }
    if (a->json) {
        ctl_json_reload(rep->reload, stdout);
        return 0;
    }
    for (size_t k = 0; k < rep->reload->n_changes; k++)
        printf("%s\n", rep->reload->changes[k]);
    if (!rep->reload->applied)
        printf("(--check: nothing was changed)\n");
    return 0;
}

/* The supervisor goes once it has answered: asks for its status until a
 * later generation answers (within --timeout-ms), and says which. */
static int show_reexec(const struct ctl_args *a, const Uipc__Control__Reply *rep)
{
    uint32_t was = rep->supervisor ? rep->supervisor->generation : 0;
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    req_status(a, &req);
    for (int waited = 0; a->timeout_ms == 0 || waited < a->timeout_ms; waited += 20) {
        Uipc__Control__Reply *st = NULL;
        int code = ctl_exchange_quiet(a->path, &req, 1000, &st); /* the old one may drop it as it goes */
        uint32_t now = code == 0 && st->supervisor ? st->supervisor->generation : 0;
        if (st)
            protobuf_c_message_free_unpacked(&st->base, NULL);
        if (now > was) {
            if (a->json)
                printf("{\"ok\": true, \"generation\": %u}\n", (unsigned)now);
            else
                printf("generation %u\n", (unsigned)now);
            return 0;
        }
        struct timespec pause = { 0, 20 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "uipcctl: the supervisor did not come back as generation %u within %d ms\n", (unsigned)was + 1,
            a->timeout_ms);
    return 1;
}

/* The status it asked for, and the stats asked for now, in Prometheus's
 * text format (metrics.c). */
static int show_metrics(const struct ctl_args *a, const Uipc__Control__Reply *rep)
{
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__Reply *stats = NULL;
    req_stats(a, &req);
    int code = ctl_exchange(a->path, &req, a->timeout_ms, &stats);
    if (code)
        return code;
    if (!stats->ok) {
        fprintf(stderr, "uipcctl: stats: %s\n", *ctl_str(stats->error) ? stats->error : "refused");
        code = 1;
    } else {
        metrics_write(stdout, rep, stats);
    }
    protobuf_c_message_free_unpacked(&stats->base, NULL);
    return code;
}

/* A command that acts says nothing but, with --json, that it was done. */
static int show_done(const struct ctl_args *a, const Uipc__Control__Reply *rep)
{
    (void)rep;
    if (a->json)
        ctl_json_ok(stdout);
    return 0;
}

/* metrics prints Prometheus's format only: --json is a usage error. */
static int check_not_json(struct ctl_args *a, struct ctl_operands *op)
{
    (void)op;
    return a->json ? ctl_bad_usage("%s prints Prometheus's text format, not JSON (no --json)", a->cmd->name) : 0;
}

/* ---- the commands ---- */

/* name, its operands and what it does (for --help); NAME operand, own
 * options, check, request, reply, exit status when refused */
static const struct ctl_command commands[] = {
    { "status", "", "each module: state, pid, uptime, restarts, last exit",
      false, 0,              NULL,            req_status,  show_status,  1 },
    { "stats", "", "each channel: calls and outcomes, slots, latencies",
      false, 0,              NULL,            req_stats,   show_stats,   1 },
    { "restart", "NAME", "restart module NAME",
      true,  0,              NULL,            req_restart, show_done,    1 },
    { "stop", "NAME", "stop module NAME",
      true,  0,              NULL,            req_stop,    show_done,    1 },
    { "start", "NAME", "start module NAME",
      true,  0,              NULL,            req_start,   show_done,    1 },
    { "kill", "NAME [--signal SIG]", "send module NAME a signal (default KILL)",
      true,  CTL_OPT_SIGNAL, ctl_check_kill,  req_kill,    show_done,    1 },
    { "fault", "NAME abort|slow|hostile [--ms N]",
      "in module NAME's next handler: abort(), or sleep\n"
      "N ms (default 1000) before it runs (crash testing);\n"
      "hostile: first its libmodule attacks its clients,\n"
      "attack N % 5 (default random): 0 garbage completion,\n"
      "1 forged status, 2 false report, 3 jam and hang,\n"
      "4 lie and die",
      true,  CTL_OPT_MS,     ctl_check_fault, req_fault,   show_done,    1 },
    { "sandbox", "NAME",
      "what module NAME's process has (from /proc): uid,\n"
      "gid, capabilities, no_new_privs, seccomp, policy,\n"
      "namespaces, mounts, limits, oom_score_adj",
      true,  0,              NULL,            req_sandbox, show_sandbox, 1 },
    { "drain", "[--off]",
      "new calls fail at once (as if every service were\n"
      "restarting) while calls in flight finish; --off: undo",
      false, CTL_OPT_OFF,    NULL,            req_drain,   show_done,    1 },
    { "reload", "[--check]",
      "read the config file again and apply what changed:\n"
      "modules that did not change keep running; --check:\n"
      "only say what would change.  A config with an error\n"
      "changes nothing (exit status 2, FILE:LINE on stderr)",
      false, CTL_OPT_CHECK,  NULL,            req_reload,  show_reload,  2 },
    { "reexec", "",
      "the supervisor executes its binary again, in place\n"
      "(an upgrade; modules keep running), and uipcctl\n"
      "waits for the new generation to answer",
      false, 0,              NULL,            req_reexec,  show_reexec,  1 },
    { "metrics", "",
      "every count of status and stats in Prometheus's\n"
      "text exposition format (0.0.4)",
      false, 0,              check_not_json,  req_status,  show_metrics, 1 },
    { "top", "[--interval MS] [--count N]",
      "live view, redrawn each interval: modules with CPU%\n"
      "and memory, channels with calls/s, errors/s and the\n"
      "interval's p50/p99, sorted; q quits.  Plain frames\n"
      "when stdout is not a terminal",
      false, CTL_OPT_INTERVAL | CTL_OPT_COUNT, ctl_check_top, req_status, ctl_top, 1 },
};

/* The supervisor said no: why, on stderr and with --json as JSON; the
 * command's exit status for it (a reload refused for another reason than
 * its config, such as one still being applied: 1). */
static int refused(const struct ctl_args *a, const Uipc__Control__Reply *rep)
{
    const char *err = *ctl_str(rep->error) ? rep->error : "the supervisor refused the request";
    if (a->json)
        ctl_json_refused(err, stdout);
    fprintf(stderr, "uipcctl: %s\n", err);
    return rep->reload && !rep->reload->config_error ? 1 : a->cmd->refused;
}

/* The command a asks for, at path; the exit status. */
static int run(const struct ctl_args *a, const char *path)
{
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__Reply *rep = NULL;
    a->cmd->request(a, &req);
    int code = ctl_exchange(path, &req, a->timeout_ms, &rep);
    if (code)
        return code;
    code = rep->ok ? a->cmd->reply(a, rep) : refused(a, rep);
    protobuf_c_message_free_unpacked(&rep->base, NULL);
    return code;
}

int main(int argc, char **argv)
{
    struct ctl_args a;
    bool done;
    int code = ctl_parse_args(argc, argv, commands, sizeof(commands) / sizeof(commands[0]), &a, &done);
    if (done)
        return code;

    struct conf *c;
    const char *path;
    code = ctl_socket_path(&a, &c, &path);
    a.path = path;
    if (code == 0)
        code = run(&a, path);
    if (c)
        conf_free(c);
    if (fflush(stdout) == EOF || ferror(stdout)) {
        fprintf(stderr, "uipcctl: cannot write the output: %s\n", strerror(errno));
        return 1;
    }
    return code;
}
