/* SPDX-License-Identifier: MIT */
/* uipc-supervisor --config modules.conf [--check] [--control-socket PATH] */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "keeper.h"
#include "log.h"
#include "sv.h"

static int usage(FILE *f, int code)
{
    fprintf(f, "usage: uipc-supervisor --config FILE [--check] [--control-socket PATH]\n"
               "  -c, --config FILE          the modules.conf to run\n"
               "  -n, --check                only check the configuration, start nothing\n"
               "  -s, --control-socket PATH  the control socket, instead of the config's\n"
               "      --state-version        the state format this binary reads (for reexec)\n"
               "  -h, --help                 this text\n");
    return code;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, 'n' },
        { "control-socket", required_argument, NULL, 's' },
        { "state-version", no_argument, NULL, 'V' },
        { "restore", required_argument, NULL, 'R' },
        { "check-state", required_argument, NULL, 'K' },
        { "keeper", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = NULL, *sock = NULL;
    bool check = false;
    int restore = -1; /* a previous generation's state (reexec) */
    bool check_state = false;
    int keeper = -1; /* a new supervisor's socket to the keeper */
    int o;
    while ((o = getopt_long(argc, argv, "c:ns:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': path = optarg; break;
        case 's': sock = optarg; break;
        case 'n': check = true; break;
        case 'V': printf("uipc-state %d\n", SV_STATE_FORMAT); return 0;
        case 'R': restore = atoi(optarg); break;
        case 'K': restore = atoi(optarg); check_state = true; break;
        case 'k': keeper = atoi(optarg); break;
        case 'h': return usage(stdout, 0);
        default: return usage(stderr, 2);
        }
    }
    if (!path || optind != argc)
        return usage(stderr, 2);
    if (sock && (*sock != '/' || strlen(sock) >= 108)) {
        fprintf(stderr, "uipc-supervisor: --control-socket: an absolute path under 108 bytes\n");
        return 2;
    }

    struct conf *c;
    char err[CONF_ERR_MAX];
    if (conf_load(path, &c, err, sizeof(err)) < 0) {
        fprintf(stderr, "uipc-supervisor: %s\n", err);
        return 2; /* a bad configuration starts nothing */
    }
    /* before the keeper starts: it logs too */
    sv_log_level(c->log_level);
    sv_log_format(c->log_format);
    if (sock) { /* uipc-chaos runs a user's config with a socket of its own */
        char *copy = strdup(sock);
        if (!copy) {
            conf_free(c);
            return 1;
        }
        free(c->control_socket);
        c->control_socket = copy;
    }
    if (check_state) { /* reexec asks: could this binary take that state over? */
        int r = sv_state_check(c, restore);
        conf_free(c);
        return r == 0 ? 0 : 1;
    }
    if (!check && keeper < 0 && restore < 0) {
        /* The process started stays as the keeper, the modules' parent;
         * the supervisor goes on in its child. */
        int r = keeper_start(argv, &keeper);
        if (r < 0) {
            sv_ev_at(LOG_ERROR, SYSTEM_ERROR, NULL, SV_FIELDS(SV_STR("op", "keeper"), SV_STR("error", strerror(-r))),
                     "uipc-supervisor: keeper: %s", strerror(-r));
            conf_free(c);
            return 1;
        }
    }
    if (!check)
        return sv_run(c, sock != NULL, restore, keeper); /* it owns c now, and every config a reload reads */
    unsigned nchan = 0;
    for (unsigned i = 0; i < c->nmod; i++)
        nchan += c->mod[i].nconnects;
    printf("%s: ok, %u modules, %u channels\n", path, c->nmod, nchan);
    conf_free(c);
    return 0;
}
