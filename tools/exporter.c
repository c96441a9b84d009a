/* SPDX-License-Identifier: MIT */
/* uipc-exporter: answers Prometheus's GET /metrics by asking the
 * supervisor's control socket for its status and stats (metrics.c formats
 * them), so that no web server runs inside the supervisor.
 *   uipc-exporter [--socket PATH] [--listen ADDR:PORT] [--timeout-ms N]
 *
 * HTTP is libmicrohttpd's (Debian's libmicrohttpd-dev, GNU's, maintained
 * since 2007, used by systemd-journal-remote): a small C library that
 * parses requests for us, with a connection limit and timeouts, and no
 * framework around it.  Its internal polling thread serves every
 * connection; scrapes are answered one at a time (a mutex around the two
 * control requests), so a flood of scrapers costs the supervisor one
 * control connection at a time, never CTL_MAX_CLIENTS.
 *
 * Started by a supervisor (as a module: UIPC_* in its environment), it
 * runs libmodule's loop on the main thread, which beats and returns when
 * the supervisor stops it; otherwise the main thread waits for SIGINT or
 * SIGTERM.  Either way the metrics are read from the socket: a module
 * reaches the supervisor's read-only metrics_socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <uipc/module.h>

#include "ctl-wire.h"
#include "metrics.h"

#define DEFAULT_SOCKET "/run/uipc/control.sock"
#define DEFAULT_LISTEN "127.0.0.1:9464"
#define MAX_CONNECTIONS 256
#define CONNECTION_TIMEOUT_S 10

struct exporter {
    const char *socket;
    int timeout_ms;
    pthread_mutex_t lock; /* one scrape at a time talks to the supervisor */
    time_t last_error;    /* unreachable supervisor: said at most every 10 s */
};

static uipc_module *module;

/* ---- the supervisor's side ---- */

static Uipc__Control__Reply *ask(const char *path, Uipc__Control__Request *req, int timeout_ms, int *err)
{
    ProtobufCMessage *rep = NULL;
    int r = ctl_wire_call(path, &req->base, &uipc__control__reply__descriptor, &rep, timeout_ms);
    Uipc__Control__Reply *reply = (Uipc__Control__Reply *)rep;
    if (r == 0 && !reply->ok) {
        protobuf_c_message_free_unpacked(rep, NULL);
        reply = NULL;
        r = -EACCES;
    }
    *err = r;
    return r == 0 ? reply : NULL;
}

/* The page, malloc'd in *out; uipc_up 0 when the supervisor did not answer. */
static int scrape(struct exporter *e, char **out, size_t *len)
{
    Uipc__Control__StatusRequest status = UIPC__CONTROL__STATUS_REQUEST__INIT;
    Uipc__Control__StatsRequest stats = UIPC__CONTROL__STATS_REQUEST__INIT;
    Uipc__Control__Request req_status = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__Request req_stats = UIPC__CONTROL__REQUEST__INIT;
    req_status.command_case = UIPC__CONTROL__REQUEST__COMMAND_STATUS;
    req_status.status = &status;
    req_stats.command_case = UIPC__CONTROL__REQUEST__COMMAND_STATS;
    req_stats.stats = &stats;

    int err = 0;
    pthread_mutex_lock(&e->lock);
    Uipc__Control__Reply *st = ask(e->socket, &req_status, e->timeout_ms, &err);
    Uipc__Control__Reply *sr = st ? ask(e->socket, &req_stats, e->timeout_ms, &err) : NULL;
    time_t now = time(NULL);
    if (err && now - e->last_error >= 10) {
        fprintf(stderr, "uipc-exporter: the supervisor at %s: %s\n", e->socket,
                err == -EACCES ? "refused the request" : strerror(-err));
        e->last_error = now;
    }
    pthread_mutex_unlock(&e->lock);

    FILE *f = open_memstream(out, len);
    if (f) {
        metrics_write(f, st && sr ? st : NULL, sr);
        if (fclose(f) != 0)
            f = NULL;
    }
    if (st)
        protobuf_c_message_free_unpacked(&st->base, NULL);
    if (sr)
        protobuf_c_message_free_unpacked(&sr->base, NULL);
    return f ? 0 : -ENOMEM;
}

/* ---- HTTP ---- */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned code, const char *type, char *body, size_t len,
                               enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned code, const char *msg)
{
    return respond(c, code, "text/plain; charset=utf-8", (char *)msg, strlen(msg), MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    struct exporter *e = cls;
    if (*upload_size) { /* a body we do not want: taken and dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    if (!*state) { /* the headers only: answer once the request is whole */
        *state = c;
        return MHD_YES;
    }
    bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!head && strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    if (strcmp(url, "/") == 0)
        return text(c, MHD_HTTP_OK, "uipc-exporter: the metrics are at /metrics\n");
    if (strcmp(url, "/metrics") != 0)
        return text(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
    char *body = NULL;
    size_t len = 0;
    if (scrape(e, &body, &len) < 0) {
        free(body);
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return respond(c, MHD_HTTP_OK, METRICS_CONTENT_TYPE, body, len, MHD_RESPMEM_MUST_FREE);
}

/* ---- the command line ---- */

static int usage(FILE *f, int code)
{
    fprintf(f, "usage: uipc-exporter [--socket PATH] [--listen ADDR:PORT] [--timeout-ms N]\n"
               "  -S, --socket PATH      the supervisor's control or metrics socket (default " DEFAULT_SOCKET ")\n"
               "  -l, --listen ADDR:PORT where to serve GET /metrics (default " DEFAULT_LISTEN
               "; [::1]:PORT for IPv6)\n"
               "  -t, --timeout-ms N     give the supervisor N ms per request (default 2000)\n"
               "  -h, --help             this text\n");
    return code;
}

/* "127.0.0.1:9464", "[::]:9464", "localhost:9464" into an address. */
static int parse_listen(const char *arg, struct sockaddr_storage *sa)
{
    char host[256];
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || !colon[1] || (size_t)(colon - arg) >= sizeof(host))
        return -EINVAL;
    snprintf(host, sizeof(host), "%.*s", (int)(colon - arg), arg);
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']')
            return -EINVAL;
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    struct addrinfo hints = { .ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
        return -EINVAL;
    memcpy(sa, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    if (module)
        uipc_stop(module);
}

/* libmicrohttpd's own format strings: the attribute tells the compiler so. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("uipc-exporter: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* Until the supervisor stops this module, or SIGINT/SIGTERM. */
static int wait_for_the_end(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int r = uipc_module_open(&module);
    if (r == 0) {
        struct sigaction sa = { .sa_handler = on_signal };
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        r = uipc_run(module);
        uipc_module_close(module);
        return r == 0 ? 0 : 1;
    }
    if (r != -ENOENT) {
        fprintf(stderr, "uipc-exporter: as a module: %s\n", uipc_strerror(r));
        return 1;
    }
    int sig;
    sigwait(&set, &sig);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 'S' }, { "listen", required_argument, NULL, 'l' },
        { "timeout-ms", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' }, { 0 },
    };
    struct exporter e = { .socket = DEFAULT_SOCKET, .timeout_ms = 2000, .lock = PTHREAD_MUTEX_INITIALIZER };
    const char *listen = DEFAULT_LISTEN;
    for (int o; (o = getopt_long(argc, argv, "S:l:t:h", opts, NULL)) != -1;) {
        char *end;
        switch (o) {
        case 'S': e.socket = optarg; break;
        case 'l': listen = optarg; break;
        case 't':
            e.timeout_ms = (int)strtol(optarg, &end, 10);
            if (*end || e.timeout_ms <= 0 || e.timeout_ms > 600000) {
                fprintf(stderr, "uipc-exporter: bad --timeout-ms '%s': 1 to 600000\n", optarg);
                return 2;
            }
            break;
        case 'h': return usage(stdout, 0);
        default: return usage(stderr, 2);
        }
    }
    if (optind < argc)
        return usage(stderr, 2);
    struct sockaddr_storage sa = { 0 };
    if (parse_listen(listen, &sa) < 0) {
        fprintf(stderr, "uipc-exporter: bad --listen '%s': ADDR:PORT, like 127.0.0.1:9464 or [::1]:9464\n", listen);
        return 2;
    }
    /* Signals go to the thread that waits for them, not to libmicrohttpd's. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, &e, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "uipc-exporter: cannot listen on %s: %s\n", listen, strerror(errno ? errno : EADDRINUSE));
        return 1;
    }
    fprintf(stderr, "uipc-exporter: serving http://%s/metrics from %s\n", listen, e.socket);
    int code = wait_for_the_end();
    MHD_stop_daemon(d);
    return code;
}
