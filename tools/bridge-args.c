/* SPDX-License-Identifier: MIT */
/* uipc-bridge's command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: uipc-bridge (--listen URL | --connect URL) [options]\n"
            "  A uipc module: the services it provides are served by the other end's host,\n"
            "  the services it connects to are offered to the other end (uipc-bridge(8)).\n"
            "  -l, --listen URL         wait for the other end: tls+tcp://ADDR:PORT, tcp://... (--plain),\n"
            "                           ipc:///PATH\n"
            "  -c, --connect URL        dial the other end, again whenever the link is lost\n"
            "      --tls-cert FILE      our certificate (PEM); with --tls-key and --tls-ca: mutual TLS,\n"
            "      --tls-key FILE       the other end's certificate verified against --tls-ca\n"
            "      --tls-ca FILE\n"
            "      --tls-server-name N  the name the listener's certificate must carry (dialer)\n"
            "      --plain              allow tcp:// without TLS (a trusted network only)\n"
            "      --heartbeat-ms N     link heartbeat period (default 100)\n"
            "      --link-timeout-ms N  silence after which the link is lost (default 500)\n"
            "      --max-inflight N     the other end's calls served at once (default 1024)\n"
            "      --max-frame BYTES    largest frame accepted (default 1 MiB + 64; at most 16 MiB + 64)\n");
}

static int bad(const char *what, const char *value)
{
    fprintf(stderr, "uipc-bridge: %s: '%s'\n", what, value ? value : "");
    usage(stderr);
    return 2;
}

static int number(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* What the URL and the TLS options must agree on. */
static int check(const struct bridge_opts *o)
{
    const char *url = o->listen ? o->listen : o->connect;
    if (!o->listen == !o->connect)
        return bad("give one of --listen and --connect", url);
    bool tls = starts(url, "tls+");
    bool any_tls = o->tls_cert || o->tls_key || o->tls_ca;
    if (tls && !(o->tls_cert && o->tls_key && o->tls_ca))
        return bad("a tls+ URL needs --tls-cert, --tls-key and --tls-ca", url);
    if (!tls && any_tls)
        return bad("--tls-* options need a tls+tcp:// URL", url);
    if (starts(url, "tcp") && !o->plain)
        return bad("plain TCP is not encrypted nor authenticated: use tls+tcp:// or say --plain", url);
    if (o->link_timeout_ms < 2 * o->heartbeat_ms)
        return bad("--link-timeout-ms must be at least twice --heartbeat-ms", "");
    return 0;
}

int bridge_parse_args(int argc, char **argv, struct bridge_opts *o)
{
    static const struct option longopts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "connect", required_argument, NULL, 'c' },
        { "tls-cert", required_argument, NULL, 'C' },
        { "tls-key", required_argument, NULL, 'K' },
        { "tls-ca", required_argument, NULL, 'A' },
        { "tls-server-name", required_argument, NULL, 'N' },
        { "plain", no_argument, NULL, 'P' },
        { "heartbeat-ms", required_argument, NULL, 'H' },
        { "link-timeout-ms", required_argument, NULL, 'T' },
        { "max-inflight", required_argument, NULL, 'I' },
        { "max-frame", required_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct bridge_opts){ .heartbeat_ms = 100, .link_timeout_ms = 500, .max_inflight = 1024,
                               .max_frame = (1u << 20) + 64 };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:c:", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': o->listen = optarg; break;
        case 'c': o->connect = optarg; break;
        case 'C': o->tls_cert = optarg; break;
        case 'K': o->tls_key = optarg; break;
        case 'A': o->tls_ca = optarg; break;
        case 'N': o->tls_server_name = optarg; break;
        case 'P': o->plain = true; break;
        case 'H':
            if (number(optarg, 10, 60000, &o->heartbeat_ms) < 0)
                return bad("--heartbeat-ms (10..60000)", optarg);
            break;
        case 'T':
            if (number(optarg, 20, 600000, &o->link_timeout_ms) < 0)
                return bad("--link-timeout-ms (20..600000)", optarg);
            break;
        case 'I':
            if (number(optarg, 1, BRIDGE_MAX_INFLIGHT, &o->max_inflight) < 0)
                return bad("--max-inflight (1..4096)", optarg);
            break;
        case 'F':
            if (number(optarg, 4096, (16u << 20) + 64, &o->max_frame) < 0)
                return bad("--max-frame (4096..16 MiB + 64)", optarg);
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc)
        return bad("unexpected argument", argv[optind]);
    return check(o);
}
