/* SPDX-License-Identifier: MIT */
/* uipc-chaos's command line, and the targets it names in the config. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "chaos.h"

static int usage(FILE *f, int code)
{
    fprintf(f,
            "usage: uipc-chaos --config FILE [--duration S] [--seed N] [--target MODULE]...\n"
            "                  [--faults kill,segv,stop,abort,slow,hostile,reexec,supervisor-kill] [--json]\n"
            "  -c, --config FILE      the modules.conf to run (its clients make the load)\n"
            "  -d, --duration S       how long to inject faults (default 30); a fault whose\n"
            "                         target is not running by the next one's time is skipped\n"
            "  -s, --seed N           the schedule's seed (default: from the clock; printed)\n"
            "  -t, --target MODULE    a module to hurt (repeatable; default: every module\n"
            "                         that provides a service)\n"
            "  -f, --faults LIST      among kill (SIGKILL), segv (SIGSEGV), stop (SIGSTOP: a\n"
            "                         hang), abort (abort() in a handler), slow (a handler\n"
            "                         slower than its caller's timeout), hostile (the\n"
            "                         target's libmodule attacks its clients, then goes on,\n"
            "                         hangs or dies), reexec (the supervisor executes its\n"
            "                         binary again, keeping every module: nothing may\n"
            "                         notice), supervisor-kill (SIGKILL to the supervisor:\n"
            "                         the keeper starts a new one, nothing may notice);\n"
            "                         default all but hostile, reexec, supervisor-kill\n"
            "  -i, --interval-ms N    mean time between faults (default 200)\n"
            "      --slow-ms N        how long a slow handler sleeps (default 1500)\n"
            "      --settle-s S       at the end, how long recovery and the drain may take\n"
            "                         (default 20); the counts are read even if not drained\n"
            "      --supervisor PATH  the uipc-supervisor to run (default: installed next to\n"
            "                         uipc-chaos, else on PATH)\n"
            "      --log FILE         the supervisor's output (default: a file in /tmp, named)\n"
            "      --print-schedule   print the schedule the seed gives, and run nothing\n"
            "  -j, --json             the result as one JSON object\n"
            "exit status: 0 nothing lost, duplicated, leaked or hung, no module but the\n"
            "             targets died; 1 something was, or did;\n"
            "             2 usage or config error; 3 the run could not be made\n");
    return code;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v > max)
        return false;
    *out = v;
    return true;
}

static int bad(const char *what, const char *arg)
{
    fprintf(stderr, "uipc-chaos: bad %s '%s'\nTry 'uipc-chaos --help'.\n", what, arg);
    return 2;
}

/* 0, or the exit status with *done set. */
int chaos_parse_args(int argc, char **argv, struct chaos_opts *o, bool *done)
{
    enum { O_SLOW = 256, O_SETTLE, O_SUPERVISOR, O_LOG, O_PRINT };
    static const struct option lo[] = {
        { "config", required_argument, NULL, 'c' }, { "duration", required_argument, NULL, 'd' },
        { "seed", required_argument, NULL, 's' }, { "target", required_argument, NULL, 't' },
        { "faults", required_argument, NULL, 'f' }, { "interval-ms", required_argument, NULL, 'i' },
        { "slow-ms", required_argument, NULL, O_SLOW }, { "settle-s", required_argument, NULL, O_SETTLE },
        { "supervisor", required_argument, NULL, O_SUPERVISOR }, { "log", required_argument, NULL, O_LOG },
        { "print-schedule", no_argument, NULL, O_PRINT }, { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    uint64_t v;
    int c;
    *done = true;
    *o = (struct chaos_opts){ .duration_ms = 30000, .interval_ms = 200, .slow_ms = 1500, .settle_ms = 20000,
                        .faults = CHAOS_DEFAULT_FAULTS };
    o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    while ((c = getopt_long(argc, argv, "c:d:s:t:f:i:jh", lo, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'd':
            if (!parse_u64(optarg, 86400, &v) || v == 0)
                return bad("--duration (1 to 86400 seconds)", optarg);
            o->duration_ms = (uint32_t)v * 1000;
            break;
        case 's':
            if (!parse_u64(optarg, UINT64_MAX, &v))
                return bad("--seed", optarg);
            o->seed = v;
            break;
        case 't':
            if (o->ntargets == CONF_MAX_MODULES)
                return bad("--target (too many)", optarg);
            o->targets[o->ntargets++] = optarg;
            break;
        case 'f':
            if (chaos_parse_faults(optarg, &o->faults) < 0)
                return bad("--faults (kill,segv,stop,abort,slow,hostile,reexec,supervisor-kill)", optarg);
            break;
        case 'i':
            if (!parse_u64(optarg, 3600000, &v) || v < 2)
                return bad("--interval-ms (2 to 3600000)", optarg);
            o->interval_ms = (uint32_t)v;
            break;
        case O_SLOW:
            if (!parse_u64(optarg, 3600000, &v) || v == 0)
                return bad("--slow-ms (1 to 3600000)", optarg);
            o->slow_ms = (uint32_t)v;
            break;
        case O_SETTLE:
            if (!parse_u64(optarg, 3600, &v) || v == 0)
                return bad("--settle-s (1 to 3600)", optarg);
            o->settle_ms = (uint32_t)v * 1000;
            break;
        case O_SUPERVISOR: o->supervisor = optarg; break;
        case O_LOG: o->log = optarg; break;
        case O_PRINT: o->print_schedule = true; break;
        case 'j': o->json = true; break;
        case 'h': return usage(stdout, 0);
        default: return usage(stderr, 2);
        }
    }
    if (!o->config || optind != argc)
        return usage(stderr, 2);
    *done = false;
    return 0;
}

int chaos_resolve_targets(const struct conf *c, const struct chaos_opts *o, unsigned *idx, unsigned *n)
{
    *n = 0;
    for (unsigned k = 0; k < o->ntargets; k++) {
        int i = conf_module_index(c, o->targets[k]);
        if (i < 0) {
            fprintf(stderr, "uipc-chaos: --target %s: no such module in %s\n", o->targets[k], o->config);
            return -1;
        }
        idx[(*n)++] = (unsigned)i;
    }
    for (unsigned i = 0; !o->ntargets && i < c->nmod; i++)
        if (c->mod[i].nprovides)
            idx[(*n)++] = i;
    if (*n == 0) {
        fprintf(stderr, "uipc-chaos: %s: no module provides a service; name targets with --target\n",
                o->config);
        return -1;
    }
    return 0;
}
