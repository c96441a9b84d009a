/* SPDX-License-Identifier: MIT */
/* A client for the chaos test: on every service named on its command line
 * keeps DEPTH async calls and one sync call going, with checksummed
 * payloads of varying length and a 500 ms timeout, until the supervisor
 * stops it.  It checks each answer itself: a wrong reply, a second
 * completion for one call, or a status no fault explains is printed with
 * CHAOS-ANOMALY (the test looks for that word in the log).  With
 * CHAOS_ALLOW_PROTO=1 (a hostile server) -UIPC_EPROTO is expected too.
 * With CHAOS_ALLOW_HOSTILE=1 (uipc-chaos --faults hostile: a server's
 * libmodule turns on its clients) so are -UIPC_EPROTO (a channel reset)
 * and -UIPC_EBADSTATUS (a forged status), counted apart. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uipc/module.h>

#include "chaos-payload.h"

#define DEPTH 8
#define MAX_SERVICES 8
#define TIMEOUT_MS 500

struct rec {
    struct chan *c;
    unsigned char buf[CHAOS_MAX_PAYLOAD];
    size_t len;
    uint64_t seq;
    int completions, status;
    bool busy, wrong;
};

struct chan {
    const char *service;
    uipc_chan *ch;
    struct rec rec[DEPTH];
    unsigned long ok, died, timed_out; /* timed_out: or -EPROTO, when allowed */
    unsigned long hostile;             /* -EPROTO or -EBADSTATUS, when hostile faults are allowed */
    unsigned long forged;              /* of those, -EBADSTATUS */
};

static uint64_t next_seq = 1;
static unsigned long anomalies;
static bool allow_proto, allow_hostile;

/* What a hostile server makes its callers see: its channel reset
 * (-UIPC_EPROTO, calls in flight and calls issued while it is stopped) or a
 * forged transport status, clamped on read (-UIPC_EBADSTATUS). */
static bool hostile_status(int status)
{
    return allow_hostile && (status == -UIPC_EPROTO || status == -UIPC_EBADSTATUS);
}

static void anomaly(const struct chan *c, const char *what, int status)
{
    printf("chaos-client: CHAOS-ANOMALY on %s: %s (status %d: %s)\n", c->service, what, status,
           uipc_strerror(status));
    fflush(stdout);
    anomalies++;
}

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct rec *r = arg;
    if (cap < r->len)
        return -UIPC_ETOOBIG;
    memcpy(buf, r->buf, r->len);
    *len = r->len;
    return 0;
}

static void reply(int status, const void *data, size_t len, void *arg)
{
    struct rec *r = arg;
    r->wrong = status != (int)r->len || !chaos_reply_ok(data, len, r->len, r->seq);
}

static void account(struct chan *c, struct rec *r, int status)
{
    if (status == (int)r->len && !r->wrong)
        c->ok++;
    else if (status == -UIPC_EPEERDIED)
        c->died++;
    else if (status == -UIPC_ETIMEDOUT || (allow_proto && status == -UIPC_EPROTO))
        c->timed_out++;
    else if (hostile_status(status)) {
        c->hostile++;
        c->forged += status == -UIPC_EBADSTATUS;
    }
    else
        anomaly(c, r->wrong ? "wrong reply" : "unexpected status", status);
}

static void complete(int status, void *arg)
{
    struct rec *r = arg;
    if (++r->completions > 1)
        anomaly(r->c, "a call completed twice", status);
    r->status = status;
}

static void prepare(struct rec *r)
{
    r->seq = next_seq++;
    r->len = CHAOS_HDR + (size_t)(r->seq * 37 % (CHAOS_MAX_PAYLOAD - CHAOS_HDR + 1));
    chaos_payload_make(r->buf, r->len, r->seq);
    r->completions = 0;
    r->wrong = false;
}

/* An async call; not issued (service down, draining, no slot) is fine. */
static void issue_async(struct chan *c, struct rec *r)
{
    prepare(r);
    struct uipc_call call = { .fill = fill, .reply = reply, .complete = complete, .arg = r,
                              .timeout_ms = TIMEOUT_MS };
    int err = uipc_call(c->ch, &call);
    if (err == 0)
        r->busy = true;
    else if (err != -UIPC_EPEERDIED && err != -UIPC_ENOSLOT && !(allow_proto && err == -UIPC_EPROTO) &&
             !hostile_status(err))
        anomaly(c, "async call refused", err);
}

static void collect(struct chan *c, struct rec *r)
{
    if (r->busy && r->completions) {
        account(c, r, r->status);
        r->busy = false;
    }
}

static void sync_call(struct chan *c)
{
    static struct rec r;
    r.c = c;
    prepare(&r);
    struct uipc_call call = { .fill = fill, .reply = reply, .arg = &r, .timeout_ms = TIMEOUT_MS };
    int st = uipc_call(c->ch, &call);
    if (st == -UIPC_ENOSLOT)
        return;
    account(c, &r, st);
}

int main(int argc, char **argv)
{
    static struct chan chans[MAX_SERVICES];
    int n = argc - 1 < MAX_SERVICES ? argc - 1 : MAX_SERVICES, err;
    uipc_module *m;
    allow_proto = getenv("CHAOS_ALLOW_PROTO") != NULL;
    allow_hostile = getenv("CHAOS_ALLOW_HOSTILE") != NULL;
    if ((err = uipc_module_open(&m)) < 0) {
        fprintf(stderr, "chaos-client: open: %s\n", uipc_strerror(err));
        return 1;
    }
    for (int k = 0; k < n; k++) {
        chans[k].service = argv[k + 1];
        if ((err = uipc_connect(m, argv[k + 1], &chans[k].ch)) < 0) {
            fprintf(stderr, "chaos-client: connect %s: %s\n", argv[k + 1], uipc_strerror(err));
            return 1;
        }
        for (unsigned i = 0; i < DEPTH; i++)
            chans[k].rec[i].c = &chans[k];
    }
    for (;;) {
        for (int k = 0; k < n; k++) {
            for (unsigned i = 0; i < DEPTH; i++) {
                collect(&chans[k], &chans[k].rec[i]);
                if (!chans[k].rec[i].busy)
                    issue_async(&chans[k], &chans[k].rec[i]);
            }
            sync_call(&chans[k]);
        }
        err = uipc_poll(m, 2);
        if (err == -UIPC_ESTOPPED)
            break;
        if (err < 0) {
            fprintf(stderr, "chaos-client: poll: %s\n", uipc_strerror(err));
            return 1;
        }
    }
    for (int k = 0; k < n; k++)
        printf("chaos-client: %s: ok %lu, peer-died %lu, timed out %lu, hostile %lu (forged %lu)\n",
               chans[k].service, chans[k].ok, chans[k].died, chans[k].timed_out, chans[k].hostile,
               chans[k].forged);
    printf("chaos-client: %lu anomalies\n", anomalies);
    uipc_module_close(m);
    return anomalies ? 3 : 0;
}
