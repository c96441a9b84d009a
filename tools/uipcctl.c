/* SPDX-License-Identifier: MIT */
/* uipcctl: the operator's command-line tool for the supervisor's control
 * socket (schemas/control.proto).  One request, one reply, printed as a
 * table or as JSON:
 *   uipcctl [--config FILE | --socket PATH] [--json] [--timeout-ms N] COMMAND [ARGS] */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.pb-c.h"
#include "ctl-wire.h"

#define DEFAULT_SOCKET "/run/uipc/control.sock"
#define DEFAULT_TIMEOUT_MS 5000
#define TABLE_MAX_COLS 16

/* ---- command line ---- */

static const struct command {
    const char *name;
    Uipc__Control__Request__CommandCase req;
    bool takes_name;
} commands[] = {
    { "status", UIPC__CONTROL__REQUEST__COMMAND_STATUS, false },
    { "stats", UIPC__CONTROL__REQUEST__COMMAND_STATS, false },
    { "restart", UIPC__CONTROL__REQUEST__COMMAND_RESTART, true },
    { "stop", UIPC__CONTROL__REQUEST__COMMAND_STOP, true },
    { "start", UIPC__CONTROL__REQUEST__COMMAND_START, true },
    { "kill", UIPC__CONTROL__REQUEST__COMMAND_KILL, true },
    { "fault", UIPC__CONTROL__REQUEST__COMMAND_FAULT, true },
    { "drain", UIPC__CONTROL__REQUEST__COMMAND_DRAIN, false },
    { "sandbox", UIPC__CONTROL__REQUEST__COMMAND_SANDBOX, true },
};

struct args {
    const char *config;  /* NULL: none */
    const char *socket;  /* NULL: from config, or the default */
    const char *signame; /* NULL: SIGKILL */
    bool json;
    int timeout_ms;      /* 0: no limit */
    const struct command *cmd;
    char *name;          /* the module, for the commands that take one */
    int signal;
    char *fault;         /* fault: abort, slow or hostile */
    unsigned fault_ms;   /* fault slow: --ms; fault hostile: the attack, --ms or random */
    bool off;            /* drain --off */
};

static int usage(FILE *f, int code)
{
    fprintf(f,
            "usage: uipcctl [--config FILE | --socket PATH] [--json] [--timeout-ms N] COMMAND [ARGS]\n"
            "commands:\n"
            "  status                    each module: state, pid, uptime, restarts, last exit\n"
            "  stats                     each channel: calls and outcomes, slots, latencies\n"
            "  restart NAME              restart module NAME\n"
            "  stop NAME                 stop module NAME\n"
            "  start NAME                start module NAME\n"
            "  kill NAME [--signal SIG]  send module NAME a signal (default KILL)\n"
            "  fault NAME abort|slow|hostile [--ms N]\n"
            "                            in module NAME's next handler: abort(), or sleep\n"
            "                            N ms (default 1000) before it runs (crash testing);\n"
            "                            hostile: first its libmodule attacks its clients,\n"
            "                            attack N %% 5 (default random): 0 garbage completion,\n"
            "                            1 forged status, 2 false report, 3 jam and hang,\n"
            "                            4 lie and die\n"
            "  sandbox NAME              what module NAME's process has (from /proc): uid,\n"
            "                            gid, capabilities, no_new_privs, seccomp, policy,\n"
            "                            namespaces, mounts, limits, oom_score_adj\n"
            "  drain [--off]             new calls fail at once (as if every service were\n"
            "                            restarting) while calls in flight finish; --off: undo\n"
            "options:\n"
            "  -c, --config FILE     the supervisor's modules.conf, for its control_socket\n"
            "  -S, --socket PATH     the control socket (default " DEFAULT_SOCKET ")\n"
            "  -j, --json            print one JSON object\n"
            "  -t, --timeout-ms N    give up after N ms (default 5000; 0: wait forever)\n"
            "  -s, --signal SIG      for kill: a name (TERM, SIGTERM, ...) or a number\n"
            "  -m, --ms N            for fault slow: how long the handler sleeps;\n"
            "                        for fault hostile: which attack (N %% 5)\n"
            "  -o, --off             for drain: end the drain\n"
            "  -h, --help            this text\n");
    return code;
}

/* A usage error: one line on stderr, exit status 2. */
__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    fputs("uipcctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'uipcctl --help'.\n", stderr);
    return 2;
}

static bool parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* A signal name (TERM, SIGTERM, term) or number; 0 when there is no such. */
static int parse_signal(const char *s)
{
    long n;
    if (parse_int(s, 1, NSIG - 1, &n))
        return (int)n;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    if (!*s)
        return 0;
    for (int i = 1; i < NSIG; i++) {
        const char *abbrev = sigabbrev_np(i);
        if (abbrev && strcasecmp(abbrev, s) == 0)
            return i;
    }
    return 0;
}

/* A selector for fault hostile without --ms: any will do, but not the
 * same one every time. */
static unsigned random_attack(void)
{
    unsigned v;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
        return v;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned)ts.tv_nsec ^ (unsigned)getpid();
}

/* --ms (arg, NULL if not given) for the fault a names: for slow, how long
 * the handler sleeps (1 to 3600000 ms; the supervisor's default when not
 * given); for hostile, the attack (any number, taken modulo 5 by
 * libmodule; random when not given); for nothing else.  0 or the exit
 * status of a usage error. */
static int fault_ms(struct args *a, const char *arg)
{
    bool slow = a->fault && strcmp(a->fault, "slow") == 0;
    bool hostile = a->fault && strcmp(a->fault, "hostile") == 0;
    long n;
    if (arg && !slow && !hostile)
        return bad_usage("%s", "--ms is only for fault NAME slow or hostile");
    if (arg && slow && !parse_int(arg, 1, 3600000, &n))
        return bad_usage("bad --ms '%s': 1 to 3600000 milliseconds", arg);
    if (arg && hostile && !parse_int(arg, 0, UINT32_MAX, &n))
        return bad_usage("bad --ms '%s': an attack, 0 to %u (taken modulo 5)", arg, UINT32_MAX);
    if (arg)
        a->fault_ms = (unsigned)n;
    else if (hostile)
        a->fault_ms = random_attack();
    return 0;
}

/* Fills a from argv; 0, or the exit status (0 for --help, 2 for misuse)
 * with *done set. */
static int parse_args(int argc, char **argv, struct args *a, bool *done)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "socket", required_argument, NULL, 'S' },
        { "json", no_argument, NULL, 'j' },
        { "timeout-ms", required_argument, NULL, 't' },
        { "signal", required_argument, NULL, 's' },
        { "ms", required_argument, NULL, 'm' },
        { "off", no_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char *pos[3];
    const char *ms_arg = NULL;
    int npos = 0, extra = 0, o;
    long n;

    *done = true;
    *a = (struct args){ .timeout_ms = DEFAULT_TIMEOUT_MS };
    /* '-': operands come back in order as 1, so options may follow the
     * command whatever POSIXLY_CORRECT says */
    while ((o = getopt_long(argc, argv, "-c:S:jt:s:m:oh", opts, NULL)) != -1) {
        switch (o) {
        case 1:
            if (npos < 3)
                pos[npos++] = optarg;
            else
                extra++;
            break;
        case 'c': a->config = optarg; break;
        case 'S': a->socket = optarg; break;
        case 'j': a->json = true; break;
        case 't':
            if (!parse_int(optarg, 0, INT_MAX, &n))
                return bad_usage("bad --timeout-ms '%s': a number of milliseconds, 0 for none",
                                 optarg);
            a->timeout_ms = (int)n;
            break;
        case 's': a->signame = optarg; break;
        case 'm': /* its range depends on the fault: checked below */
            ms_arg = optarg;
            break;
        case 'o': a->off = true; break;
        case 'h': return usage(stdout, 0);
        default: /* getopt said what */
            fputs("Try 'uipcctl --help'.\n", stderr);
            return 2;
        }
    }
    for (; optind < argc; optind++) /* after "--" */
        if (npos < 3)
            pos[npos++] = argv[optind];
        else
            extra++;

    if (npos == 0)
        return bad_usage("%s", "no command");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(pos[0], commands[i].name) == 0)
            a->cmd = &commands[i];
    if (!a->cmd)
        return bad_usage("unknown command '%s'", pos[0]);
    bool fault = a->cmd->req == UIPC__CONTROL__REQUEST__COMMAND_FAULT;
    if (fault && npos == 3 && !extra) {
        a->fault = pos[2];
        if (strcmp(a->fault, "abort") != 0 && strcmp(a->fault, "slow") != 0 &&
            strcmp(a->fault, "hostile") != 0)
            return bad_usage("bad fault '%s': abort, slow or hostile", a->fault);
        npos = 2;
    } else if (fault) {
        return bad_usage("%s", "fault needs a module NAME and a fault: abort, slow or hostile");
    }
    int r = fault_ms(a, ms_arg);
    if (r)
        return r;
    if (a->off && a->cmd->req != UIPC__CONTROL__REQUEST__COMMAND_DRAIN)
        return bad_usage("--off is only for drain, not %s", a->cmd->name);
    if (a->cmd->takes_name) {
        if (npos < 2 || !*pos[1])
            return bad_usage("%s needs a module NAME", a->cmd->name);
        if (extra || npos > 2)
            return bad_usage("%s takes one module NAME", a->cmd->name);
        a->name = pos[1];
    } else if (npos > 1) {
        return bad_usage("%s takes no arguments", a->cmd->name);
    }
    if (a->signame && a->cmd->req != UIPC__CONTROL__REQUEST__COMMAND_KILL)
        return bad_usage("--signal is only for kill, not %s", a->cmd->name);
    a->signal = SIGKILL;
    if (a->signame && !(a->signal = parse_signal(a->signame)))
        return bad_usage("bad signal '%s': a name like TERM or SIGKILL, or a number", a->signame);
    *done = false;
    return 0;
}

/* The socket's path: --socket, else --config's control_socket, else the
 * default.  *c is the loaded configuration (the path's owner), or NULL. */
static int socket_path(const struct args *a, struct conf **c, const char **path)
{
    *c = NULL;
    if (a->socket) {
        *path = a->socket;
    } else if (a->config) {
        char err[CONF_ERR_MAX];
        if (conf_load(a->config, c, err, sizeof(err)) < 0) {
            fprintf(stderr, "uipcctl: %s\n", err);
            return 2;
        }
        *path = (*c)->control_socket;
    } else {
        *path = DEFAULT_SOCKET;
    }
    if (!**path)
        return bad_usage("%s", "empty socket path");
    if (strlen(*path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
        return bad_usage("socket path longer than a UNIX socket path may be: %s", *path);
    return 0;
}

/* ---- the exchange ---- */

/* Sends req, reads the reply into *rep; 0, or 1 having said why not. */
static int exchange(const char *path, const Uipc__Control__Request *req, int timeout_ms,
                    Uipc__Control__Reply **rep)
{
    int fd = ctl_wire_connect(path, timeout_ms);
    if (fd < 0) {
        fprintf(stderr, "uipcctl: cannot reach the supervisor at %s: %s\n", path, strerror(-fd));
        return 1;
    }
    int r = ctl_wire_send(fd, &req->base, timeout_ms);
    if (r < 0) {
        fprintf(stderr, "uipcctl: cannot send the request to the supervisor at %s: %s\n", path,
                strerror(-r));
        close(fd);
        return 1;
    }
    ProtobufCMessage *m = NULL;
    r = ctl_wire_recv(fd, &uipc__control__reply__descriptor, &m, timeout_ms);
    close(fd);
    if (r < 0) {
        if (r == -EBADMSG || r == -EMSGSIZE)
            fprintf(stderr, "uipcctl: bad reply from the supervisor at %s: %s\n", path,
                    strerror(-r));
        else
            fprintf(stderr, "uipcctl: no reply from the supervisor at %s: %s\n", path,
                    strerror(-r));
        return 1;
    }
    *rep = (Uipc__Control__Reply *)m;
    return 0;
}

/* Builds the request a asks for and exchanges it. */
static int call(const struct args *a, const char *path, Uipc__Control__Reply **rep)
{
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__StatusRequest status = UIPC__CONTROL__STATUS_REQUEST__INIT;
    Uipc__Control__StatsRequest stats = UIPC__CONTROL__STATS_REQUEST__INIT;
    Uipc__Control__ModuleRequest mod = UIPC__CONTROL__MODULE_REQUEST__INIT;
    Uipc__Control__KillRequest kill = UIPC__CONTROL__KILL_REQUEST__INIT;
    Uipc__Control__FaultRequest fault = UIPC__CONTROL__FAULT_REQUEST__INIT;
    Uipc__Control__DrainRequest drain = UIPC__CONTROL__DRAIN_REQUEST__INIT;

    req.command_case = a->cmd->req;
    fault.module = a->name;
    fault.kind = a->fault;
    fault.ms = a->fault_ms;
    drain.off = a->off;
    mod.module = a->name;
    kill.module = a->name;
    kill.signal = a->signal;
    switch (a->cmd->req) {
    case UIPC__CONTROL__REQUEST__COMMAND_STATUS: req.status = &status; break;
    case UIPC__CONTROL__REQUEST__COMMAND_STATS: req.stats = &stats; break;
    case UIPC__CONTROL__REQUEST__COMMAND_RESTART: req.restart = &mod; break;
    case UIPC__CONTROL__REQUEST__COMMAND_STOP: req.stop = &mod; break;
    case UIPC__CONTROL__REQUEST__COMMAND_START: req.start = &mod; break;
    case UIPC__CONTROL__REQUEST__COMMAND_KILL: req.kill = &kill; break;
    case UIPC__CONTROL__REQUEST__COMMAND_FAULT: req.fault = &fault; break;
    case UIPC__CONTROL__REQUEST__COMMAND_DRAIN: req.drain = &drain; break;
    case UIPC__CONTROL__REQUEST__COMMAND_SANDBOX: req.sandbox = &mod; break;
    default: return 1;
    }
    return exchange(path, &req, a->timeout_ms, rep);
}

/* ---- tables ---- */

struct table {
    unsigned ncols;
    const bool *right; /* per column: right-aligned */
    char **cell;       /* row-major */
    size_t n, cap;
    bool oom;
};

/* Appends the next cell; control characters show as '?'. */
__attribute__((format(printf, 2, 3))) static void table_add(struct table *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        char **cell = realloc(t->cell, cap * sizeof(*cell));
        if (!cell) {
            t->oom = true;
            return;
        }
        t->cell = cell;
        t->cap = cap;
    }
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0) {
        t->oom = true;
        return;
    }
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    t->cell[t->n++] = s;
}

static void table_header(struct table *t, const char *const *names)
{
    for (unsigned i = 0; i < t->ncols; i++)
        table_add(t, "%s", names[i]);
}

/* Columns two spaces apart, each as wide as its widest cell. */
static int table_print(const struct table *t, FILE *f)
{
    size_t w[TABLE_MAX_COLS] = { 0 };
    if (t->oom) {
        fprintf(stderr, "uipcctl: %s\n", strerror(ENOMEM));
        return 1;
    }
    for (size_t i = 0; i < t->n; i++) {
        size_t len = strlen(t->cell[i]);
        if (len > w[i % t->ncols])
            w[i % t->ncols] = len;
    }
    for (size_t i = 0; i < t->n; i++) {
        unsigned col = (unsigned)(i % t->ncols);
        if (col > 0)
            fputs("  ", f);
        if (t->right[col])
            fprintf(f, "%*s", (int)w[col], t->cell[i]);
        else if (col + 1 < t->ncols)
            fprintf(f, "%-*s", (int)w[col], t->cell[i]);
        else
            fputs(t->cell[i], f);
        if (col + 1 == t->ncols)
            fputc('\n', f);
    }
    return 0;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->cell[i]);
    free(t->cell);
}

/* "3.2s", "5m12s", "2h03m", "4d07h". */
static void add_uptime(struct table *t, uint64_t ms)
{
    uint64_t s = ms / 1000;
    if (s < 60)
        table_add(t, "%" PRIu64 ".%" PRIu64 "s", s, ms % 1000 / 100);
    else if (s < 3600)
        table_add(t, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else if (s < 86400)
        table_add(t, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
    else
        table_add(t, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s / 3600 % 24);
}

/* "850ns", "12.3us", "4.1ms", "1.5s"; "-" for 0 (none measured). */
static void add_latency(struct table *t, uint64_t ns)
{
    if (ns == 0)
        table_add(t, "%s", "-");
    else if (ns < 1000)
        table_add(t, "%" PRIu64 "ns", ns);
    else if (ns < 1000000)
        table_add(t, "%" PRIu64 ".%" PRIu64 "us", ns / 1000, ns % 1000 / 100);
    else if (ns < 1000000000)
        table_add(t, "%" PRIu64 ".%" PRIu64 "ms", ns / 1000000, ns % 1000000 / 100000);
    else
        table_add(t, "%" PRIu64 ".%" PRIu64 "s", ns / 1000000000, ns % 1000000000 / 100000000);
}

static const char *str(const char *s)
{
    return s ? s : "";
}

static int print_status(const Uipc__Control__Reply *rep, FILE *f)
{
    static const char *const head[] = { "NAME", "STATE", "PID", "UPTIME",
                                        "RESTARTS", "VIOLATIONS", "LAST-EXIT" };
    static const bool right[] = { false, false, true, true, true, true, false };
    struct table t = { .ncols = 7, .right = right };

    table_header(&t, head);
    for (size_t i = 0; i < rep->n_modules; i++) {
        const Uipc__Control__ModuleStatus *m = rep->modules[i];
        table_add(&t, "%s", str(m->name));
        table_add(&t, "%s", str(m->state));
        if (m->pid)
            table_add(&t, "%" PRId32, m->pid);
        else
            table_add(&t, "%s", "-");
        if (m->pid)
            add_uptime(&t, m->uptime_ms);
        else
            table_add(&t, "%s", "-");
        table_add(&t, "%" PRIu32, m->restarts);
        table_add(&t, "%" PRIu32, m->violations);
        if (*str(m->last_exit) && *str(m->last_reason))
            table_add(&t, "%s (%s)", m->last_exit, m->last_reason);
        else if (*str(m->last_exit))
            table_add(&t, "%s", m->last_exit);
        else if (*str(m->last_reason))
            table_add(&t, "(%s)", m->last_reason);
        else
            table_add(&t, "%s", "-");
    }
    int r = table_print(&t, f);
    table_free(&t);
    return r;
}

static int print_stats(const Uipc__Control__Reply *rep, FILE *f)
{
    static const char *const head[] = { "SERVICE", "CLIENT", "SERVER", "CALLS", "OK",
                                        "PEER-DIED", "TIMED-OUT", "PROTO", "IN-FLIGHT",
                                        "FREE/SLOTS", "RECLAIMED", "P50", "P99", "MAX" };
    static const bool right[] = { false, false, false, true, true, true, true,
                                  true, true, true, true, true, true, true };
    struct table t = { .ncols = 14, .right = right };

    table_header(&t, head);
    for (size_t i = 0; i < rep->n_channels; i++) {
        const Uipc__Control__ChannelStats *c = rep->channels[i];
        table_add(&t, "%s", str(c->service));
        table_add(&t, "%s", str(c->client));
        table_add(&t, "%s", str(c->server));
        table_add(&t, "%" PRIu64, c->calls);
        table_add(&t, "%" PRIu64, c->ok);
        table_add(&t, "%" PRIu64, c->peer_died);
        table_add(&t, "%" PRIu64, c->timed_out);
        table_add(&t, "%" PRIu64, c->proto);
        table_add(&t, "%" PRIu32, c->in_flight);
        table_add(&t, "%" PRIu32 "/%" PRIu32, c->free_slots, c->slots);
        table_add(&t, "%" PRIu64, c->reclaimed);
        add_latency(&t, c->latency_p50_ns);
        add_latency(&t, c->latency_p99_ns);
        add_latency(&t, c->latency_max_ns);
    }
    int r = table_print(&t, f);
    table_free(&t);
    return r;
}

/* ---- JSON ---- */

/* s as a JSON string: quote and backslash escaped, control characters as
 * \u00XX; other bytes as they are. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)str(s); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_status(const Uipc__Control__Reply *rep, FILE *f)
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
                   ", \"protocol_reports\": %" PRIu32 "}", m->violations, m->protocol_kills,
                m->protocol_reports);
    }
    fputs("]", f);
    if (rep->supervisor)
        fprintf(f, ", \"supervisor\": {\"uptime_ms\": %" PRIu64 ", \"loop_max_ms\": %" PRIu64
                   ", \"loop_turns\": %" PRIu64 "}", rep->supervisor->uptime_ms,
                rep->supervisor->loop_max_ms, rep->supervisor->loop_turns);
    fputs("}\n", f);
}

static void json_stats(const Uipc__Control__Reply *rep, FILE *f)
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
                ", \"violations\": %" PRIu32 "}",
                c->slots, c->slot_size, c->calls, c->ok, c->peer_died, c->timed_out, c->proto,
                c->in_flight, c->free_slots, c->reclaimed, c->latency_p50_ns, c->latency_p99_ns,
                c->latency_max_ns, c->duplicates, c->orphaned, c->sync_waiting, c->violations);
    }
    fputs("]}\n", f);
}

/* ---- sandbox ---- */

static void join(FILE *f, char *const *v, size_t n, const char *none)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? " " : "", v[i]);
    if (!n)
        fputs(none, f);
    fputc('\n', f);
}

static int print_sandbox(const Uipc__Control__SandboxReport *r, FILE *f)
{
    static const char *const seccomp[] = { "0 (none)", "1 (strict)", "2 (filter)" };
    fprintf(f, "module         %s, pid %d\n", str(r->module), (int)r->pid);
    fprintf(f, "uid            %s\ngid            %s\ngroups         %s\n", str(r->uid), str(r->gid),
            *str(r->groups) ? r->groups : "(none)");
    fprintf(f, "capabilities   effective %s permitted %s inheritable %s\n", str(r->cap_eff),
            str(r->cap_prm), str(r->cap_inh));
    fprintf(f, "               bounding %s ambient %s\n", str(r->cap_bnd), str(r->cap_amb));
    fprintf(f, "no_new_privs   %u\nseccomp        %s, policy %s\n", r->no_new_privs,
            r->seccomp < 3 ? seccomp[r->seccomp] : "?", str(r->policy));
    fputs("namespaces     ", f);
    join(f, r->namespaces, r->n_namespaces, "(the supervisor's)");
    fprintf(f, "root           %s\nwritable       ", r->root_read_only ? "read-only" : "read-write");
    join(f, r->writable, r->n_writable, "(none)");
    fputs("limits        ", f);
    for (size_t i = 0; i < r->n_limits; i++)
        fprintf(f, " %s=%s/%s", r->limits[i]->name, r->limits[i]->soft, r->limits[i]->hard);
    fprintf(f, "\noom_score_adj  %d\n", (int)r->oom_score_adj);
    return 0;
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

static void json_sandbox(const Uipc__Control__SandboxReport *r, FILE *f)
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

/* ---- main ---- */

/* Prints the reply as a asks; the exit status. */
static int show(const struct args *a, const Uipc__Control__Reply *rep)
{
    if (!rep->ok) {
        const char *err = *str(rep->error) ? rep->error : "the supervisor refused the request";
        if (a->json) {
            fputs("{\"ok\": false, \"error\": ", stdout);
            json_str(stdout, err);
            fputs("}\n", stdout);
        }
        fprintf(stderr, "uipcctl: %s\n", err);
        return 1;
    }
    switch (a->cmd->req) {
    case UIPC__CONTROL__REQUEST__COMMAND_STATUS:
        if (!a->json)
            return print_status(rep, stdout);
        json_status(rep, stdout);
        return 0;
    case UIPC__CONTROL__REQUEST__COMMAND_STATS:
        if (!a->json)
            return print_stats(rep, stdout);
        json_stats(rep, stdout);
        return 0;
    case UIPC__CONTROL__REQUEST__COMMAND_SANDBOX:
        if (!rep->sandbox) {
            fprintf(stderr, "uipcctl: the supervisor sent no sandbox report\n");
            return 1;
        }
        if (!a->json)
            return print_sandbox(rep->sandbox, stdout);
        json_sandbox(rep->sandbox, stdout);
        return 0;
    default:
        if (a->json)
            fputs("{\"ok\": true}\n", stdout);
        return 0;
    }
}

int main(int argc, char **argv)
{
    struct args a;
    bool done;
    int code = parse_args(argc, argv, &a, &done);
    if (done)
        return code;

    struct conf *c;
    const char *path;
    code = socket_path(&a, &c, &path);
    if (code == 0) {
        Uipc__Control__Reply *rep = NULL;
        code = call(&a, path, &rep);
        if (code == 0) {
            code = show(&a, rep);
            protobuf_c_message_free_unpacked(&rep->base, NULL);
        }
    }
    if (c)
        conf_free(c);
    if (fflush(stdout) == EOF || ferror(stdout)) {
        fprintf(stderr, "uipcctl: cannot write the output: %s\n", strerror(errno));
        return 1;
    }
    return code;
}
