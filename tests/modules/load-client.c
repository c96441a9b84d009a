/* SPDX-License-Identifier: MIT */
/* A client module for crash tests: keeps async and sync calls to "echo"
 * going with checked payloads for LOAD_SECONDS, counts every completion of
 * every call, and exits 0 only if each issued call completed exactly once,
 * no reply was wrong, the slot pool is whole, and calls succeeded again
 * after the last peer death. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uipc/module.h>

#define DEPTH 16
#define LEN 64

struct call_rec {
    unsigned char buf[LEN];
    int completions;
    int status;
    int busy;
};

struct load {
    uipc_chan *ch;
    struct call_rec rec[DEPTH];
    unsigned long seq, ok, died, bad, ok_since_death;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct call_rec *r = arg;
    if (cap < LEN)
        return -UIPC_ETOOBIG;
    memcpy(buf, r->buf, LEN);
    *len = LEN;
    return 0;
}

static void reply(int status, const void *data, size_t len, void *arg)
{
    struct call_rec *r = arg;
    if (status != LEN || len != LEN || memcmp(data, r->buf, LEN) != 0)
        r->status = -1; /* marked wrong; counted at completion */
}

static void complete(int status, void *arg)
{
    struct call_rec *r = arg;
    r->completions++;
    if (r->status != -1)
        r->status = status;
}

static void account(struct load *l, int status)
{
    if (status == LEN) {
        l->ok++;
        l->ok_since_death++;
    } else if (status == -UIPC_EPEERDIED) {
        l->died++;
        l->ok_since_death = 0;
    } else {
        fprintf(stderr, "load: unexpected status %d (%s)\n", status, uipc_strerror(status));
        l->bad++;
    }
}

static void stamp(struct load *l, unsigned char *buf)
{
    l->seq++;
    for (unsigned k = 0; k < LEN; k++)
        buf[k] = (unsigned char)(l->seq * 31 + k);
}

static void issue_async(struct load *l, unsigned i)
{
    struct call_rec *r = &l->rec[i];
    stamp(l, r->buf);
    r->completions = r->status = 0;
    struct uipc_call c = { .fill = fill, .reply = reply, .complete = complete, .arg = r };
    int err = uipc_call(l->ch, &c);
    if (err == 0) {
        r->busy = 1;
    } else if (err != -UIPC_EPEERDIED && err != -UIPC_ENOSLOT) {
        fprintf(stderr, "load: async call: %s\n", uipc_strerror(err));
        l->bad++;
    }
}

static void collect(struct load *l, unsigned i)
{
    struct call_rec *r = &l->rec[i];
    if (!r->busy || r->completions == 0)
        return;
    if (r->completions != 1) {
        fprintf(stderr, "load: a call completed %d times\n", r->completions);
        l->bad++;
    }
    account(l, r->status);
    r->busy = 0;
}

static void sync_call(struct load *l)
{
    struct call_rec r = { 0 };
    stamp(l, r.buf);
    struct uipc_call c = { .fill = fill, .reply = reply, .arg = &r, .timeout_ms = 10000 };
    int st = uipc_call(l->ch, &c);
    account(l, r.status == -1 ? -1 : st); /* peer-died: answered, or not issued */
}

int main(void)
{
    static struct load l;
    uipc_module *m;
    const char *secs = getenv("LOAD_SECONDS");
    double end = now_s() + (secs ? atof(secs) : 2.0);
    if (uipc_module_open(&m) < 0 || uipc_connect(m, "echo", &l.ch) < 0)
        return 1;
    while (now_s() < end || l.ok_since_death < 200) {
        for (unsigned i = 0; i < DEPTH; i++) {
            collect(&l, i);
            if (!l.rec[i].busy)
                issue_async(&l, i);
        }
        sync_call(&l);
        if (uipc_poll(m, 10) < 0)
            return 1;
        if (now_s() > end + 30)
            break; /* never came back: the checks below fail */
    }
    for (int busy = 1; busy;) {
        uipc_poll(m, 100);
        busy = 0;
        for (unsigned i = 0; i < DEPTH; i++) {
            collect(&l, i);
            busy |= l.rec[i].busy;
        }
    }
    struct uipc_chan_stats st;
    uipc_chan_stats(l.ch, &st);
    printf("load: issued %llu, ok %llu, peer-died %llu, wrong %lu; in flight %u, %u/%u slots free, "
           "%llu duplicates dropped\n", (unsigned long long)st.issued, (unsigned long long)st.ok,
           (unsigned long long)st.peer_died, l.bad, st.in_flight, st.free_slots, st.slots,
           (unsigned long long)st.duplicates);
    /* Every issued call completed once: as ok (each reply checked) or
     * peer-died; none timed out, none lost, no slot leaked. */
    static const char *why[] = { "wrong replies or double completions", "ok count differs",
                                 "issued != ok + peer-died", "timeouts or protocol errors",
                                 "calls still in flight", "slots not returned",
                                 "no 200 successes after the last death" };
    int fails[] = { l.bad != 0, st.ok != l.ok, st.issued != st.ok + st.peer_died,
                    st.timed_out || st.proto, st.in_flight != 0, st.free_slots != st.slots,
                    l.ok_since_death < 200 };
    int pass = 1;
    for (unsigned k = 0; k < sizeof(fails) / sizeof(fails[0]); k++)
        if (fails[k]) {
            printf("load: FAIL: %s\n", why[k]);
            pass = 0;
        }
    uipc_module_close(m);
    return pass ? 0 : 3;
}
