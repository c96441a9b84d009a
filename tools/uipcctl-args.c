/* SPDX-License-Identifier: MIT */
/* uipcctl's command line: options, the command and its operands, checked
 * before anything is sent; a usage error is exit status 2. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "uipcctl.h"

/* One command's lines of --help: its name and operands, then what it
 * does from column 28, on the same line when they leave room. */
static void usage_command(FILE *f, const struct ctl_command *cmd)
{
    enum { COLUMN = 28 };
    int used = fprintf(f, "  %s%s%s", cmd->name, *cmd->operands ? " " : "", cmd->operands);
    if (used > COLUMN - 2) {
        fputc('\n', f);
        used = 0;
    }
    for (const char *line = cmd->help; *line;) {
        size_t len = strcspn(line, "\n");
        fprintf(f, "%*s%.*s\n", COLUMN - used, "", (int)len, line);
        used = 0;
        line += len + (line[len] == '\n');
    }
}

/* Every command of cmds[0..n), then the options. */
static int usage(FILE *f, int code, const struct ctl_command *cmds, size_t n)
{
    fputs("usage: uipcctl [--config FILE | --socket PATH] [--json] [--timeout-ms N] COMMAND [ARGS]\n"
          "commands:\n", f);
    for (size_t i = 0; i < n; i++)
        usage_command(f, &cmds[i]);
    fprintf(f,
            "options:\n"
            "  -c, --config FILE     the supervisor's modules.conf, for its control_socket\n"
            "  -S, --socket PATH     the control socket (default " CTL_DEFAULT_SOCKET ")\n"
            "  -j, --json            print one JSON object\n"
            "  -t, --timeout-ms N    give up after N ms (default 5000; 0: wait forever)\n"
            "  -s, --signal SIG      for kill: a name (TERM, SIGTERM, ...) or a number\n"
            "  -m, --ms N            for fault slow: how long the handler sleeps;\n"
            "                        for fault hostile: which attack (N %% 5)\n"
            "  -o, --off             for drain: end the drain\n"
            "      --check           for reload: say what would change, change nothing\n"
            "      --interval MS     for top: between frames (default 1000)\n"
            "      --count N         for top: exit after N frames\n"
            "  -h, --help            this text\n");
    return code;
}

int ctl_bad_usage(const char *fmt, ...)
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

/* ---- what only one command takes ---- */

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

int ctl_check_kill(struct ctl_args *a, struct ctl_operands *op)
{
    (void)op;
    a->signal = SIGKILL;
    if (a->signame && !(a->signal = parse_signal(a->signame)))
        return ctl_bad_usage("bad signal '%s': a name like TERM or SIGKILL, or a number", a->signame);
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

/* --ms for the fault a names: for slow, how long the handler sleeps (1 to
 * 3600000 ms; the supervisor's default when not given); for hostile, the
 * attack (any number, taken modulo 5 by libmodule; random when not
 * given); for nothing else.  0 or the exit status of a usage error. */
static int fault_ms(struct ctl_args *a)
{
    bool slow = strcmp(a->fault, "slow") == 0;
    bool hostile = strcmp(a->fault, "hostile") == 0;
    long n;
    if (a->ms && !slow && !hostile)
        return ctl_bad_usage("%s", "--ms is only for fault NAME slow or hostile");
    if (a->ms && slow && !parse_int(a->ms, 1, 3600000, &n))
        return ctl_bad_usage("bad --ms '%s': 1 to 3600000 milliseconds", a->ms);
    if (a->ms && hostile && !parse_int(a->ms, 0, UINT32_MAX, &n))
        return ctl_bad_usage("bad --ms '%s': an attack, 0 to %u (taken modulo 5)", a->ms, UINT32_MAX);
    if (a->ms)
        a->fault_ms = (unsigned)n;
    else if (hostile)
        a->fault_ms = random_attack();
    return 0;
}

int ctl_check_fault(struct ctl_args *a, struct ctl_operands *op)
{
    if (op->n != 3 || op->extra)
        return ctl_bad_usage("%s", "fault needs a module NAME and a fault: abort, slow or hostile");
    a->fault = op->v[--op->n];
    if (strcmp(a->fault, "abort") != 0 && strcmp(a->fault, "slow") != 0 &&
        strcmp(a->fault, "hostile") != 0)
        return ctl_bad_usage("bad fault '%s': abort, slow or hostile", a->fault);
    return fault_ms(a);
}

/* ---- the whole line ---- */

/* What is said when an option goes to a command that does not take it.
 * --ms is refused in the same words when fault's fault does not take it,
 * hence no ", not COMMAND" after it. */
static const struct {
    unsigned opt;
    const char *why;
    bool not_cmd; /* ", not COMMAND" after why */
} owned[] = {
    { CTL_OPT_MS, "--ms is only for fault NAME slow or hostile", false },
    { CTL_OPT_OFF, "--off is only for drain", true },
    { CTL_OPT_SIGNAL, "--signal is only for kill", true },
    { CTL_OPT_CHECK, "--check is only for reload", true },
    { CTL_OPT_INTERVAL, "--interval is only for top", true },
    { CTL_OPT_COUNT, "--count is only for top", true },
};

/* a->cmd from the first operand among cmds[0..n); 0, or the exit status. */
static int find_command(struct ctl_args *a, const struct ctl_operands *op,
                        const struct ctl_command *cmds, size_t n)
{
    if (op->n == 0)
        return ctl_bad_usage("%s", "no command");
    for (size_t i = 0; i < n; i++)
        if (strcmp(op->v[0], cmds[i].name) == 0)
            a->cmd = &cmds[i];
    if (!a->cmd)
        return ctl_bad_usage("unknown command '%s'", op->v[0]);
    return 0;
}

/* The options and operands of a->cmd's own: those it does not take, its
 * check, its NAME.  0, or the exit status. */
static int check_command(struct ctl_args *a, struct ctl_operands *op)
{
    const char *name = a->cmd->name;
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        if ((a->opts & owned[i].opt) && !(a->cmd->opts & owned[i].opt))
            return ctl_bad_usage("%s%s%s", owned[i].why, owned[i].not_cmd ? ", not " : "",
                                 owned[i].not_cmd ? name : "");
    int r = a->cmd->check ? a->cmd->check(a, op) : 0;
    if (r)
        return r;
    if (a->cmd->takes_name) {
        if (op->n < 2 || !*op->v[1])
            return ctl_bad_usage("%s needs a module NAME", name);
        if (op->extra || op->n > 2)
            return ctl_bad_usage("%s takes one module NAME", name);
        a->name = op->v[1];
    } else if (op->n > 1) {
        return ctl_bad_usage("%s takes no arguments", name);
    }
    return 0;
}

static void add_operand(struct ctl_operands *op, char *word)
{
    if (op->n < (int)(sizeof(op->v) / sizeof(op->v[0])))
        op->v[op->n++] = word;
    else
        op->extra++;
}

/* The options into a, the other words into op; 0, or the exit status
 * (0 for --help) with *done set. */
static int parse_options(int argc, char **argv, const struct ctl_command *cmds, size_t n_cmds,
                         struct ctl_args *a, struct ctl_operands *op, bool *done)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "socket", required_argument, NULL, 'S' },
        { "json", no_argument, NULL, 'j' },
        { "timeout-ms", required_argument, NULL, 't' },
        { "signal", required_argument, NULL, 's' },
        { "ms", required_argument, NULL, 'm' },
        { "off", no_argument, NULL, 'o' },
        { "check", no_argument, NULL, 'K' }, /* long only */
        { "interval", required_argument, NULL, 'I' }, /* long only */
        { "count", required_argument, NULL, 'N' },    /* long only */
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long n;
    int o;
    *done = true;
    /* '-': operands come back in order as 1, so options may follow the
     * command whatever POSIXLY_CORRECT says */
    while ((o = getopt_long(argc, argv, "-c:S:jt:s:m:oh", opts, NULL)) != -1) {
        switch (o) {
        case 1: add_operand(op, optarg); break;
        case 'c': a->config = optarg; break;
        case 'S': a->socket = optarg; break;
        case 'j': a->json = true; break;
        case 't':
            if (!parse_int(optarg, 0, INT_MAX, &n))
                return ctl_bad_usage("bad --timeout-ms '%s': a number of milliseconds, 0 for none",
                                     optarg);
            a->timeout_ms = (int)n;
            break;
        case 's': a->signame = optarg; a->opts |= CTL_OPT_SIGNAL; break;
        case 'm': a->ms = optarg; a->opts |= CTL_OPT_MS; break; /* its range is the fault's */
        case 'o': a->opts |= CTL_OPT_OFF; break;
        case 'K': a->opts |= CTL_OPT_CHECK; break;
        case 'I':
            /* a frame is two requests and a redraw: 10 ms apart is already a lot */
            if (!parse_int(optarg, 10, 3600000, &n))
                return ctl_bad_usage("bad --interval '%s': 10 to 3600000 milliseconds", optarg);
            a->top_interval_ms = (unsigned)n;
            a->opts |= CTL_OPT_INTERVAL;
            break;
        case 'N':
            if (!parse_int(optarg, 1, INT_MAX, &n))
                return ctl_bad_usage("bad --count '%s': a number of frames, 1 or more", optarg);
            a->top_count = (unsigned)n;
            a->opts |= CTL_OPT_COUNT;
            break;
        case 'h': return usage(stdout, 0, cmds, n_cmds);
        default: /* getopt said what */
            fputs("Try 'uipcctl --help'.\n", stderr);
            return 2;
        }
    }
    for (; optind < argc; optind++) /* after "--" */
        add_operand(op, argv[optind]);
    *done = false;
    return 0;
}

int ctl_parse_args(int argc, char **argv, const struct ctl_command *cmds, size_t n,
                   struct ctl_args *a, bool *done)
{
    struct ctl_operands op = { .n = 0 };
    *a = (struct ctl_args){ .timeout_ms = CTL_DEFAULT_TIMEOUT_MS };
    int r = parse_options(argc, argv, cmds, n, a, &op, done);
    if (*done)
        return r;
    r = find_command(a, &op, cmds, n);
    if (r == 0)
        r = check_command(a, &op);
    *done = r != 0;
    return r;
}
