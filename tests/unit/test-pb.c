/* SPDX-License-Identifier: MIT */
/* Typed calls (libmodule/pb.c, <uipc/pb.h>) between real forked modules: a
 * small kv service written here with uipc_pb_serve on the messages of
 * schemas/kv.proto, called synchronously, asynchronously and from several
 * threads; requests and replies larger than the slot, requests and replies
 * that do not decode, unknown opcodes, and argument checks.  Every module
 * ends with a leak check under ASan: each unpacked message must be freed. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <uipc/pb.h>

#include "bed.h"
#include "kv.pb-c.h"
#include "testmod.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define TIMEOUT_MS 30000
#define SERVICE "echo" /* the channel testmod_pair_start makes */

enum {
    KV_PUT = UIPC__KV__OP__PUT,  /* PutRequest -> Empty; status 0 */
    KV_GET = UIPC__KV__OP__GET,  /* Key -> Value; status 0, or -ENOENT */
    KV_DEL = UIPC__KV__OP__DEL,  /* Key -> Empty; status 0, or -ENOENT */
    KV_COUNT = 100,              /* Empty -> Empty; status = requests the other handlers saw */
    KV_GARBAGE,                  /* Key -> bytes that do not decode; status 0, 7 ("pos"),
                                  * or -ENOENT ("neg") */
    KV_SIZED,                    /* Key -> a Value packed to slot size + atoi(key) bytes;
                                  * status = its length, or what uipc_pb_reply said;
                                  * 5 whatever it said if the key has a '!' */
};

#define SIZED_SEED 77

static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff }; /* an unterminated varint */

/* Written by no one: a reply pointer preset to it must come back changed. */
static ProtobufCMessage sentinel;

/* Forked modules leave through _exit(), past LeakSanitizer's check at exit:
 * ask for it. */
static void check_no_leaks(void)
{
#ifdef HAVE_LSAN
    CHECK_EQ(__lsan_do_recoverable_leak_check(), 0);
#endif
}

/* The crash handlers in place before cmocka replaced them (main). */
static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
static struct sigaction crash_saved[sizeof(crash_signals) / sizeof(crash_signals[0])];

/* testmod_open() for a forked module: a crash kills it (after the
 * sanitizer's report, if any) instead of running the cmocka handlers it
 * inherited, which would carry on with the next tests inside the child. */
static uipc_module *open_module(void)
{
    for (unsigned i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
        sigaction(crash_signals[i], &crash_saved[i], NULL);
    return testmod_open();
}

/* ---- the server: a kv store, one process ---- */

#define NKEYS 64

struct kv_entry {
    char key[64];
    uint8_t *value;
    size_t len;
    bool used;
};

struct kv_store {
    struct kv_entry e[NKEYS];
    int calls; /* requests the typed handlers saw, KV_COUNT aside */
};

static struct kv_store store;
static uipc_module *srv_m;

static struct kv_entry *kv_find(struct kv_store *s, const char *key, bool insert)
{
    struct kv_entry *free_e = NULL;
    for (unsigned i = 0; i < NKEYS; i++) {
        struct kv_entry *e = &s->e[i];
        if (e->used && strcmp(e->key, key) == 0)
            return e;
        if (!e->used && !free_e)
            free_e = e;
    }
    return insert ? free_e : NULL;
}

static int kv_put(const ProtobufCMessage *msg, uipc_req *req, void *ctx)
{
    const Uipc__Kv__PutRequest *r = (const Uipc__Kv__PutRequest *)msg;
    struct kv_store *s = ctx;
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    s->calls++;
    CHECK(msg->descriptor == &uipc__kv__put_request__descriptor);
    if (!r->key[0] || strlen(r->key) >= sizeof(s->e[0].key))
        return -EINVAL;
    struct kv_entry *e = kv_find(s, r->key, true);
    if (!e)
        return -ENOSPC;
    uint8_t *v = malloc(r->value.len ? r->value.len : 1);
    CHECK(v != NULL);
    if (r->value.len)
        memcpy(v, r->value.data, r->value.len);
    if (e->used)
        free(e->value);
    snprintf(e->key, sizeof(e->key), "%s", r->key);
    e->value = v;
    e->len = r->value.len;
    e->used = true;
    return uipc_pb_reply(req, &empty.base);
}

static int kv_get(const ProtobufCMessage *msg, uipc_req *req, void *ctx)
{
    const Uipc__Kv__Key *k = (const Uipc__Kv__Key *)msg;
    struct kv_store *s = ctx;
    Uipc__Kv__Value v = UIPC__KV__VALUE__INIT;
    s->calls++;
    CHECK(msg->descriptor == &uipc__kv__key__descriptor);
    struct kv_entry *e = kv_find(s, k->key, false);
    if (!e)
        return -ENOENT;
    v.value.data = e->value;
    v.value.len = e->len;
    return uipc_pb_reply(req, &v.base);
}

static int kv_del(const ProtobufCMessage *msg, uipc_req *req, void *ctx)
{
    const Uipc__Kv__Key *k = (const Uipc__Kv__Key *)msg;
    struct kv_store *s = ctx;
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    s->calls++;
    struct kv_entry *e = kv_find(s, k->key, false);
    if (!e)
        return -ENOENT;
    free(e->value);
    *e = (struct kv_entry){ 0 };
    return uipc_pb_reply(req, &empty.base);
}

static int kv_count(const ProtobufCMessage *msg, uipc_req *req, void *ctx)
{
    struct kv_store *s = ctx;
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    CHECK(msg->descriptor == &uipc__kv__empty__descriptor);
    CHECK_EQ(uipc_pb_reply(req, &empty.base), 0);
    return s->calls;
}

/* Writes bytes that are no protobuf as its reply, then returns a status. */
static int kv_garbage(const ProtobufCMessage *msg, uipc_req *req, void *ctx)
{
    const Uipc__Kv__Key *k = (const Uipc__Kv__Key *)msg;
    struct kv_store *s = ctx;
    size_t cap;
    s->calls++;
    uint8_t *out = uipc_req_reply_buf(req, &cap);
    CHECK(out != NULL && cap >= sizeof(garbage));
    memcpy(out, garbage, sizeof(garbage));
    CHECK_EQ(uipc_req_reply(req, sizeof(garbage)), 0);
    if (strcmp(k->key, "neg") == 0)
        return -ENOENT;
    return strcmp(k->key, "pos") == 0 ? 7 : 0;
}

/* A Value whose packed size is exactly the slot size + atoi(key).  With a
 * '!' in the key, the handler ignores what uipc_pb_reply said: a reply too
 * big must reach the caller as -UIPC_ETOOBIG all the same. */
static int kv_sized(const ProtobufCMessage *msg, uipc_req *req, void *ctx)
{
    const Uipc__Kv__Key *k = (const Uipc__Kv__Key *)msg;
    struct kv_store *s = ctx;
    Uipc__Kv__Value v = UIPC__KV__VALUE__INIT;
    size_t cap;
    s->calls++;
    CHECK(uipc_req_reply_buf(req, &cap) != NULL);
    size_t target = cap + (size_t)atoi(k->key);
    v.value.data = malloc(target);
    CHECK(v.value.data != NULL);
    testmod_pattern(v.value.data, target, SIZED_SEED);
    v.value.len = target;
    while (protobuf_c_message_get_packed_size(&v.base) > target)
        v.value.len--;
    CHECK_EQ(protobuf_c_message_get_packed_size(&v.base), target);
    int r = uipc_pb_reply(req, &v.base);
    free(v.value.data);
    if (strchr(k->key, '!'))
        return 5;
    return r < 0 ? r : (int)v.value.len;
}

static const struct uipc_pb_method kv_methods[] = {
    { KV_PUT, &uipc__kv__put_request__descriptor, kv_put },
    { KV_GET, &uipc__kv__key__descriptor, kv_get },
    { KV_DEL, &uipc__kv__key__descriptor, kv_del },
    { KV_COUNT, &uipc__kv__empty__descriptor, kv_count },
    { KV_GARBAGE, &uipc__kv__key__descriptor, kv_garbage },
    { KV_SIZED, &uipc__kv__key__descriptor, kv_sized },
};
static const struct uipc_pb_service kv_service = {
    kv_methods, sizeof(kv_methods) / sizeof(kv_methods[0]), &store
};

static void srv_on_term(int sig)
{
    (void)sig;
    uipc_stop(srv_m);
}

/* Serves kv_service until SIGTERM.  Every client makes a call first, so
 * the handler is in place before the test sends SIGTERM. */
static int kv_server_main(void *arg)
{
    (void)arg;
    srv_m = open_module();
    signal(SIGTERM, srv_on_term);

    /* argument checks on the server side */
    static const struct uipc_pb_service no_methods = { NULL, 1, NULL };
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    CHECK_EQ(uipc_pb_serve(srv_m, SERVICE, NULL), -EINVAL);
    CHECK_EQ(uipc_pb_serve(srv_m, SERVICE, &no_methods), -EINVAL);
    CHECK_EQ(uipc_pb_serve(srv_m, "nope", &kv_service), -ENOENT);
    CHECK_EQ(uipc_pb_reply(NULL, &empty.base), -EINVAL);

    CHECK_EQ(uipc_pb_serve(srv_m, SERVICE, &kv_service), 0);
    CHECK_EQ(uipc_run(srv_m), 0);
    uipc_module_close(srv_m);
    for (unsigned i = 0; i < NKEYS; i++)
        free(store.e[i].value);
    check_no_leaks();
    return 0;
}

/* ---- client helpers ---- */

static uipc_chan *connect_kv(uipc_module *m)
{
    uipc_chan *ch = NULL;
    CHECK_EQ(uipc_connect(m, SERVICE, &ch), 0);
    return ch;
}

/* Requests the typed handlers saw so far. */
static int server_calls(uipc_chan *ch)
{
    Uipc__Kv__Empty e = UIPC__KV__EMPTY__INIT;
    ProtobufCMessage *rep = &sentinel;
    int st = uipc_pb_call(ch, KV_COUNT, &e.base, &uipc__kv__empty__descriptor, &rep, 0);
    CHECK(st >= 0);
    CHECK(rep != NULL && rep != &sentinel);
    CHECK(rep->descriptor == &uipc__kv__empty__descriptor);
    protobuf_c_message_free_unpacked(rep, NULL);
    return st;
}

static uint64_t issued(uipc_chan *ch)
{
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    return st.issued;
}

/* The reply of a call that returned st: an Empty when st >= 0, else NULL;
 * freed here. */
static int check_empty_reply(int st, ProtobufCMessage *rep)
{
    if (st < 0) {
        CHECK(rep == NULL);
        return st;
    }
    CHECK(rep != NULL && rep != &sentinel);
    CHECK(rep->descriptor == &uipc__kv__empty__descriptor);
    protobuf_c_message_free_unpacked(rep, NULL);
    return st;
}

static int put(uipc_chan *ch, const char *key, const void *value, size_t len)
{
    Uipc__Kv__PutRequest rq = UIPC__KV__PUT_REQUEST__INIT;
    ProtobufCMessage *rep = &sentinel;
    rq.key = (char *)key;
    rq.value.data = (uint8_t *)value;
    rq.value.len = len;
    int st = uipc_pb_call(ch, KV_PUT, &rq.base, &uipc__kv__empty__descriptor, &rep, 0);
    return check_empty_reply(st, rep);
}

static int del(uipc_chan *ch, const char *key)
{
    Uipc__Kv__Key k = UIPC__KV__KEY__INIT;
    ProtobufCMessage *rep = &sentinel;
    k.key = (char *)key;
    int st = uipc_pb_call(ch, KV_DEL, &k.base, &uipc__kv__empty__descriptor, &rep, 0);
    return check_empty_reply(st, rep);
}

/* A typed call with a Key request and a Value reply; the value is copied to
 * out (cap bytes) and its length to *len. */
static int call_value(uipc_chan *ch, uint32_t op, const char *key, uint8_t *out, size_t cap,
                      size_t *len)
{
    Uipc__Kv__Key k = UIPC__KV__KEY__INIT;
    ProtobufCMessage *rep = &sentinel;
    k.key = (char *)key;
    *len = 0;
    int st = uipc_pb_call(ch, op, &k.base, &uipc__kv__value__descriptor, &rep, 0);
    if (st < 0) {
        CHECK(rep == NULL);
        return st;
    }
    CHECK(rep != NULL && rep != &sentinel);
    CHECK(rep->descriptor == &uipc__kv__value__descriptor);
    const Uipc__Kv__Value *v = (const Uipc__Kv__Value *)rep;
    CHECK(v->value.len <= cap);
    if (v->value.len)
        memcpy(out, v->value.data, v->value.len);
    *len = v->value.len;
    protobuf_c_message_free_unpacked(rep, NULL);
    return st;
}

static int get(uipc_chan *ch, const char *key, uint8_t *out, size_t cap, size_t *len)
{
    return call_value(ch, KV_GET, key, out, cap, len);
}

/* get must find exactly value[0..len). */
static void check_value(uipc_chan *ch, const char *key, const void *value, size_t len)
{
    static uint8_t out[65536];
    size_t got;
    CHECK_EQ(get(ch, key, out, sizeof(out), &got), 0);
    CHECK_EQ(got, len);
    CHECK(len == 0 || memcmp(out, value, len) == 0);
}

static void check_absent(uipc_chan *ch, const char *key)
{
    uint8_t out[16];
    size_t got;
    CHECK_EQ(get(ch, key, out, sizeof(out), &got), -ENOENT);
    CHECK_EQ(got, 0);
}

/* One asynchronous call's outcome. */
struct done_rec {
    int runs;
    int status;
    const ProtobufCMessageDescriptor *type; /* of the reply, NULL: none */
    uint8_t value[512];
    size_t len;
};

static void on_done(int status, const ProtobufCMessage *reply, void *arg)
{
    struct done_rec *d = arg;
    d->runs++;
    d->status = status;
    d->type = reply ? reply->descriptor : NULL;
    d->len = 0;
    if (reply && reply->descriptor == &uipc__kv__value__descriptor) {
        const Uipc__Kv__Value *v = (const Uipc__Kv__Value *)reply;
        CHECK(v->value.len <= sizeof(d->value));
        if (v->value.len)
            memcpy(d->value, v->value.data, v->value.len);
        d->len = v->value.len;
    }
}

static int async_key(uipc_chan *ch, uint32_t op, const char *key,
                     const ProtobufCMessageDescriptor *reply_type, struct done_rec *d)
{
    Uipc__Kv__Key k = UIPC__KV__KEY__INIT;
    k.key = (char *)key;
    *d = (struct done_rec){ 0 };
    return uipc_pb_call_async(ch, op, &k.base, reply_type, on_done, d, 0);
}

/* Polls until every one of d[0..n) ran, then checks none ran twice. */
static void collect(uipc_module *m, struct done_rec *d, unsigned n)
{
    for (;;) {
        unsigned done = 0;
        for (unsigned i = 0; i < n; i++)
            done += d[i].runs != 0;
        if (done == n)
            break;
        CHECK(uipc_poll(m, 1000) >= 0);
    }
    CHECK_EQ(uipc_poll(m, 20), 0); /* nothing delivered twice */
    for (unsigned i = 0; i < n; i++)
        CHECK_EQ(d[i].runs, 1);
}

/* A plain (untyped) call of the bytes in msg. */
static int raw_call(uipc_chan *ch, uint32_t op, struct testmod_msg *msg)
{
    struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply, .opcode = op, .arg = msg };
    msg->out_len = 0;
    return uipc_call(ch, &c);
}

static void raw_key(struct testmod_msg *msg, const char *key)
{
    Uipc__Kv__Key k = UIPC__KV__KEY__INIT;
    k.key = (char *)key;
    *msg = (struct testmod_msg){ 0 };
    msg->len = uipc__kv__key__pack(&k, msg->buf);
}

static void expect_clean_exit(int st)
{
    if (WIFSIGNALED(st))
        fail_msg("a module was killed by signal %d", WTERMSIG(st));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* Runs client against kv_server_main over one channel (slots/slot_size 0:
 * defaults); both must exit 0. */
static void run_kv(int (*client)(void *), unsigned slots, unsigned slot_size)
{
    struct testmod_pair p;
    int st = -1, sst = -1, rs = -1;
    assert_int_equal(testmod_pair_start(&p, kv_server_main, NULL, client, NULL, slots, slot_size), 0);
    int rc = uipc__bed_wait(p.b, p.cli, TIMEOUT_MS, &st);
    if (rc >= 0 && uipc__bed_kill(p.b, p.srv, SIGTERM) == 0)
        rs = uipc__bed_wait(p.b, p.srv, TIMEOUT_MS, &sst);
    int cli = p.cli, srv = p.srv;
    uipc__bed_free(p.b); /* kills what is left */
    assert_int_equal(rc, cli);
    expect_clean_exit(st);
    assert_int_equal(rs, srv);
    expect_clean_exit(sst);
}

/* ---- 1. every kv message, synchronously ---- */

static int client_sync(void *arg)
{
    (void)arg;
    static const uint8_t hello[] = "hello", world[] = "world!";
    static const uint8_t nuls[] = { 'a', 0, 'b', 0, 0, 'c', 0 };
    static uint8_t all[256], pattern[4000];
    for (unsigned i = 0; i < sizeof(all); i++)
        all[i] = (uint8_t)i;
    testmod_pattern(pattern, sizeof(pattern), 3);

    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    CHECK_EQ(server_calls(ch), 0);

    CHECK_EQ(put(ch, "hello", hello, 5), 0);
    CHECK_EQ(put(ch, "nuls", nuls, sizeof(nuls)), 0);
    CHECK_EQ(put(ch, "empty", "", 0), 0);
    CHECK_EQ(put(ch, "all", all, sizeof(all)), 0);
    CHECK_EQ(put(ch, "pattern", pattern, sizeof(pattern)), 0);
    check_value(ch, "hello", hello, 5);
    check_value(ch, "nuls", nuls, sizeof(nuls));
    check_value(ch, "empty", "", 0); /* there, and empty: not -ENOENT */
    check_value(ch, "all", all, sizeof(all));
    check_value(ch, "pattern", pattern, sizeof(pattern));
    check_absent(ch, "missing");

    CHECK_EQ(put(ch, "hello", world, 6), 0); /* overwrite */
    check_value(ch, "hello", world, 6);

    CHECK_EQ(del(ch, "hello"), 0);
    check_absent(ch, "hello");
    CHECK_EQ(del(ch, "hello"), -ENOENT);
    CHECK_EQ(del(ch, "empty"), 0);
    check_absent(ch, "empty");
    check_value(ch, "nuls", nuls, sizeof(nuls)); /* the others stay */
    check_value(ch, "all", all, sizeof(all));

    CHECK_EQ(server_calls(ch), 20);
    CHECK_EQ(issued(ch), 22);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
}

static void test_sync(void **state)
{
    (void)state;
    run_kv(client_sync, 0, 0);
}

/* Messages larger than the 4 KiB either side copies on its stack. */
static int client_sync_big(void *arg)
{
    (void)arg;
    static uint8_t big[40000];
    testmod_pattern(big, sizeof(big), 9);
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    CHECK_EQ(server_calls(ch), 0);
    for (size_t len = 4090; len <= sizeof(big); len += 5977) {
        CHECK_EQ(put(ch, "big", big, len), 0);
        check_value(ch, "big", big, len);
    }
    CHECK_EQ(del(ch, "big"), 0);
    check_absent(ch, "big");
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
}

static void test_sync_big(void **state)
{
    (void)state;
    run_kv(client_sync_big, 0, 65536);
}

/* ---- 2. the same, asynchronously ---- */

#define NPUT 16

static int client_async(void *arg)
{
    (void)arg;
    static struct done_rec d[32];
    uint8_t value[64];
    char key[16];
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    CHECK_EQ(server_calls(ch), 0);

    /* NPUT puts in flight; the request is packed before the call returns,
     * so one buffer serves them all. */
    for (unsigned i = 0; i < NPUT; i++) {
        Uipc__Kv__PutRequest rq = UIPC__KV__PUT_REQUEST__INIT;
        snprintf(key, sizeof(key), "k%u", i);
        testmod_pattern(value, sizeof(value), i); /* has NUL bytes */
        rq.key = key;
        rq.value.data = value;
        rq.value.len = i * 3; /* k0: empty */
        d[i] = (struct done_rec){ 0 };
        CHECK_EQ(uipc_pb_call_async(ch, KV_PUT, &rq.base, &uipc__kv__empty__descriptor, on_done,
                                    &d[i], 0), 0);
        memset(value, 0xee, sizeof(value));
        memset(key, 'x', sizeof(key) - 1);
    }
    for (unsigned i = 0; i < NPUT; i++)
        CHECK_EQ(d[i].runs, 0); /* never inline */
    CHECK_EQ(issued(ch), 1 + NPUT);
    collect(m, d, NPUT);
    for (unsigned i = 0; i < NPUT; i++) {
        CHECK_EQ(d[i].status, 0);
        CHECK(d[i].type == &uipc__kv__empty__descriptor);
    }

    /* gets of k0..k11, dels of k12..k15, gets of absent keys: all at once */
    unsigned n = 0;
    for (unsigned i = 0; i < 12; i++, n++) {
        snprintf(key, sizeof(key), "k%u", i);
        CHECK_EQ(async_key(ch, KV_GET, key, &uipc__kv__value__descriptor, &d[n]), 0);
    }
    for (unsigned i = 12; i < NPUT; i++, n++) {
        snprintf(key, sizeof(key), "k%u", i);
        CHECK_EQ(async_key(ch, KV_DEL, key, &uipc__kv__empty__descriptor, &d[n]), 0);
    }
    for (unsigned i = 0; i < 4; i++, n++) {
        snprintf(key, sizeof(key), "absent%u", i);
        CHECK_EQ(async_key(ch, KV_GET, key, &uipc__kv__value__descriptor, &d[n]), 0);
    }
    collect(m, d, n);
    for (unsigned i = 0; i < 12; i++) {
        testmod_pattern(value, sizeof(value), i);
        CHECK_EQ(d[i].status, 0);
        CHECK(d[i].type == &uipc__kv__value__descriptor);
        CHECK_EQ(d[i].len, i * 3);
        CHECK(memcmp(d[i].value, value, i * 3) == 0);
    }
    for (unsigned i = 12; i < NPUT; i++) {
        CHECK_EQ(d[i].status, 0);
        CHECK(d[i].type == &uipc__kv__empty__descriptor);
    }
    for (unsigned i = NPUT; i < n; i++) {
        CHECK_EQ(d[i].status, -ENOENT);
        CHECK(d[i].type == NULL);
    }

    /* the deleted keys are gone, asynchronously too */
    n = 0;
    for (unsigned i = 12; i < NPUT; i++, n++) {
        snprintf(key, sizeof(key), "k%u", i);
        CHECK_EQ(async_key(ch, KV_GET, key, &uipc__kv__value__descriptor, &d[n]), 0);
    }
    CHECK_EQ(async_key(ch, KV_DEL, "k12", &uipc__kv__empty__descriptor, &d[n++]), 0);
    collect(m, d, n);
    for (unsigned i = 0; i < n; i++) {
        CHECK_EQ(d[i].status, -ENOENT);
        CHECK(d[i].type == NULL);
    }

    CHECK_EQ(server_calls(ch), NPUT + 20 + 5);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
}

static void test_async(void **state)
{
    (void)state;
    run_kv(client_async, 0, 0);
}

/* ---- 3. a request larger than the slot is never sent ---- */

#define SMALL_SLOT 256

static int client_toobig(void *arg)
{
    (void)arg;
    static uint8_t value[SMALL_SLOT * 2];
    testmod_pattern(value, sizeof(value), 5);
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    struct uipc_chan_stats cs;
    CHECK_EQ(uipc_chan_stats(ch, &cs), 0);
    CHECK_EQ(cs.slot_size, SMALL_SLOT);
    CHECK_EQ(server_calls(ch), 0);

    /* the value length whose request packs to exactly the slot */
    Uipc__Kv__PutRequest rq = UIPC__KV__PUT_REQUEST__INIT;
    rq.key = "big";
    rq.value.data = value;
    for (rq.value.len = 0; protobuf_c_message_get_packed_size(&rq.base) < SMALL_SLOT; rq.value.len++)
        ;
    CHECK_EQ(protobuf_c_message_get_packed_size(&rq.base), SMALL_SLOT);
    size_t fit = rq.value.len;

    uint64_t before = issued(ch);
    size_t over[] = { fit + 1, sizeof(value) };
    for (unsigned i = 0; i < 2; i++) {
        rq.value.len = over[i];
        ProtobufCMessage *rep = &sentinel;
        CHECK_EQ(uipc_pb_call(ch, KV_PUT, &rq.base, &uipc__kv__empty__descriptor, &rep, 0),
                 -UIPC_ETOOBIG);
        CHECK(rep == NULL);
        struct done_rec d = { 0 };
        CHECK_EQ(uipc_pb_call_async(ch, KV_PUT, &rq.base, &uipc__kv__empty__descriptor, on_done,
                                    &d, 0), -UIPC_ETOOBIG);
        CHECK_EQ(uipc_poll(m, 20), 0);
        CHECK_EQ(d.runs, 0);
    }
    CHECK_EQ(issued(ch), before);
    CHECK_EQ(server_calls(ch), 0); /* the server saw nothing */
    check_absent(ch, "big");

    /* exactly the slot: sent and stored */
    CHECK_EQ(put(ch, "big", value, fit), 0);
    check_value(ch, "big", value, fit);
    CHECK_EQ(server_calls(ch), 3); /* the get of an absent "big", this put and get */
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
}

static void test_toobig(void **state)
{
    (void)state;
    run_kv(client_toobig, 0, SMALL_SLOT);
}

/* ---- 4. a request that does not decode ---- */

static int client_bad_request(void *arg)
{
    (void)arg;
    static const uint8_t truncated[] = { 0x0a, 0x10, 'a' }; /* key of 16 bytes, 1 there */
    struct testmod_msg msg;
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    CHECK_EQ(server_calls(ch), 0);
    CHECK_EQ(put(ch, "before", "x", 1), 0);

    uint32_t ops[] = { KV_PUT, KV_GET, KV_DEL };
    for (unsigned i = 0; i < 3; i++) {
        msg = (struct testmod_msg){ .len = sizeof(garbage) };
        memcpy(msg.buf, garbage, sizeof(garbage));
        CHECK_EQ(raw_call(ch, ops[i], &msg), -EBADMSG);
        CHECK_EQ(msg.out_len, 0);
        msg = (struct testmod_msg){ .len = sizeof(truncated) };
        memcpy(msg.buf, truncated, sizeof(truncated));
        CHECK_EQ(raw_call(ch, ops[i], &msg), -EBADMSG);
    }
    CHECK_EQ(server_calls(ch), 1); /* no handler ran */

    /* the server goes on serving the same channel */
    CHECK_EQ(put(ch, "after", "yz", 2), 0);
    check_value(ch, "after", "yz", 2);
    check_value(ch, "before", "x", 1);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
}

static void test_bad_request(void **state)
{
    (void)state;
    run_kv(client_bad_request, 0, 0);
}

/* ---- 5. an opcode no method has ---- */

static int client_unknown_op(void *arg)
{
    (void)arg;
    struct testmod_msg msg;
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    CHECK_EQ(server_calls(ch), 0);
    CHECK_EQ(put(ch, "k", "v", 1), 0);

    uint32_t ops[] = { UIPC__KV__OP__DEL + 1, 4, 999, UINT32_MAX };
    for (unsigned i = 0; i < 4; i++) {
        raw_key(&msg, "k"); /* a request that would decode */
        CHECK_EQ(raw_call(ch, ops[i], &msg), -ENOSYS);
        CHECK_EQ(msg.out_len, 0);
        uint8_t out[8];
        size_t len;
        CHECK_EQ(call_value(ch, ops[i], "k", out, sizeof(out), &len), -ENOSYS);
    }
    CHECK_EQ(server_calls(ch), 1);
    check_value(ch, "k", "v", 1);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
}

static void test_unknown_op(void **state)
{
    (void)state;
    run_kv(client_unknown_op, 0, 0);
}

/* ---- 6. a reply that does not decode ---- */

static int client_bad_reply(void *arg)
{
    (void)arg;
    static const char *const keys[] = { "zero", "pos", "neg" };
    static const int want[] = { -EBADMSG, -EBADMSG, -ENOENT }; /* a failed call's reply is not read */
    struct testmod_msg msg;
    uint8_t out[16];
    size_t len;
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    CHECK_EQ(server_calls(ch), 0);

    /* what the server really answers */
    raw_key(&msg, "zero");
    CHECK_EQ(raw_call(ch, KV_GARBAGE, &msg), 0);
    CHECK_EQ(msg.out_len, sizeof(garbage));
    CHECK(memcmp(msg.out, garbage, sizeof(garbage)) == 0);
    raw_key(&msg, "pos");
    CHECK_EQ(raw_call(ch, KV_GARBAGE, &msg), 7);

    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(call_value(ch, KV_GARBAGE, keys[i], out, sizeof(out), &len), want[i]);
        Uipc__Kv__Key k = UIPC__KV__KEY__INIT;
        ProtobufCMessage *rep = &sentinel;
        k.key = (char *)keys[i];
        CHECK_EQ(uipc_pb_call(ch, KV_GARBAGE, &k.base, &uipc__kv__empty__descriptor, &rep, 0),
                 want[i]);
        CHECK(rep == NULL);
    }

    struct done_rec d[3];
    for (unsigned i = 0; i < 3; i++)
        CHECK_EQ(async_key(ch, KV_GARBAGE, keys[i], &uipc__kv__value__descriptor, &d[i]), 0);
    collect(m, d, 3);
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(d[i].status, want[i]);
        CHECK(d[i].type == NULL);
    }

    /* the channel still carries typed calls */
    CHECK_EQ(put(ch, "k", "v", 1), 0);
    check_value(ch, "k", "v", 1);
    CHECK_EQ(server_calls(ch), 2 + 6 + 3 + 2);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
}

static void test_bad_reply(void **state)
{
    (void)state;
    run_kv(client_bad_reply, 0, 0);
}

/* ---- 7. a reply larger than the slot ---- */

static int client_big_reply(void *arg)
{
    (void)arg;
    static uint8_t out[8192], want[8192];
    struct testmod_msg msg;
    size_t len;
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    CHECK_EQ(server_calls(ch), 0);

    /* exactly the slot: delivered whole, status = the value's length */
    int st = call_value(ch, KV_SIZED, "0", out, sizeof(out), &len);
    CHECK(st > 4000);
    CHECK_EQ(len, (size_t)st);
    testmod_pattern(want, len, SIZED_SEED);
    CHECK(memcmp(out, want, len) == 0);

    /* the handler's own status, with the reply whole */
    CHECK_EQ(call_value(ch, KV_SIZED, "0!", out, sizeof(out), &len), 5);
    CHECK_EQ(len, (size_t)st);
    CHECK(memcmp(out, want, len) == 0);

    /* one byte more: uipc_pb_reply packs nothing and the caller hears
     * -UIPC_ETOOBIG, whatever status the handler returns */
    CHECK_EQ(call_value(ch, KV_SIZED, "1", out, sizeof(out), &len), -UIPC_ETOOBIG);
    CHECK_EQ(call_value(ch, KV_SIZED, "100", out, sizeof(out), &len), -UIPC_ETOOBIG);
    CHECK_EQ(call_value(ch, KV_SIZED, "1!", out, sizeof(out), &len), -UIPC_ETOOBIG);
    raw_key(&msg, "1!");
    CHECK_EQ(raw_call(ch, KV_SIZED, &msg), -UIPC_ETOOBIG);
    CHECK_EQ(msg.out_len, 0);

    struct done_rec d[2];
    CHECK_EQ(async_key(ch, KV_SIZED, "1", &uipc__kv__value__descriptor, &d[0]), 0);
    CHECK_EQ(async_key(ch, KV_SIZED, "1!", &uipc__kv__value__descriptor, &d[1]), 0);
    collect(m, d, 2);
    for (unsigned i = 0; i < 2; i++) {
        CHECK_EQ(d[i].status, -UIPC_ETOOBIG);
        CHECK(d[i].type == NULL);
    }

    CHECK_EQ(put(ch, "k", "v", 1), 0);
    check_value(ch, "k", "v", 1);
    CHECK_EQ(server_calls(ch), 8 + 2);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
}

static void test_big_reply(void **state)
{
    (void)state;
    run_kv(client_big_reply, 0, 0);
}

/* ---- 8. argument checks ---- */

static int client_args(void *arg)
{
    (void)arg;
    const ProtobufCMessageDescriptor *empty_t = &uipc__kv__empty__descriptor;
    Uipc__Kv__Key k = UIPC__KV__KEY__INIT;
    ProtobufCMessage *rep;
    struct done_rec d = { 0 };
    k.key = "k";
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    CHECK_EQ(server_calls(ch), 0);
    uint64_t before = issued(ch);

    CHECK_EQ(uipc_pb_call(ch, KV_DEL, NULL, empty_t, &rep, 0), -EINVAL);
    CHECK_EQ(uipc_pb_call(ch, KV_DEL, &k.base, NULL, &rep, 0), -EINVAL);
    CHECK_EQ(uipc_pb_call(ch, KV_DEL, &k.base, empty_t, NULL, 0), -EINVAL);
    CHECK_EQ(uipc_pb_call_async(ch, KV_DEL, NULL, empty_t, on_done, &d, 0), -EINVAL);
    CHECK_EQ(uipc_pb_call_async(ch, KV_DEL, &k.base, NULL, on_done, &d, 0), -EINVAL);
    CHECK_EQ(uipc_pb_call_async(ch, KV_DEL, &k.base, empty_t, NULL, &d, 0), -EINVAL);
    rep = &sentinel;
    CHECK_EQ(uipc_pb_call(NULL, KV_DEL, &k.base, empty_t, &rep, 0), -EINVAL);
    CHECK(rep == NULL);
    CHECK_EQ(uipc_pb_call_async(NULL, KV_DEL, &k.base, empty_t, on_done, &d, 0), -EINVAL);

    CHECK_EQ(uipc_poll(m, 20), 0);
    CHECK_EQ(d.runs, 0);
    CHECK_EQ(issued(ch), before);
    CHECK_EQ(server_calls(ch), 0);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
}

static void test_args(void **state)
{
    (void)state;
    run_kv(client_args, 0, 0);
}

/* <uipc/pb.h>: "With a status >= 0, *reply is the unpacked reply ...;
 * otherwise NULL" -- for a refused argument too. */
static int client_args_reply(void *arg)
{
    (void)arg;
    Uipc__Kv__Key k = UIPC__KV__KEY__INIT;
    ProtobufCMessage *rep = &sentinel;
    k.key = "k";
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    CHECK_EQ(server_calls(ch), 0);
    CHECK_EQ(uipc_pb_call(ch, KV_DEL, NULL, &uipc__kv__empty__descriptor, &rep, 0), -EINVAL);
    CHECK(rep == NULL);
    rep = &sentinel;
    CHECK_EQ(uipc_pb_call(ch, KV_DEL, &k.base, NULL, &rep, 0), -EINVAL);
    CHECK(rep == NULL);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
}

static void test_args_reply(void **state)
{
    (void)state;
    run_kv(client_args_reply, 0, 0);
}

/* ---- typed calls from several threads on one channel ---- */

struct thread_arg {
    uipc_chan *ch;
    unsigned id;
    int failures;
};

static void *thread_calls(void *p)
{
    struct thread_arg *t = p;
    uint8_t value[300], out[300];
    char key[16];
    for (unsigned i = 0; i < 300; i++) {
        size_t len = (i * 7 + t->id) % sizeof(value), got = 0;
        snprintf(key, sizeof(key), "t%u-%u", t->id, i % 8);
        testmod_pattern(value, len, t->id * 1000 + i);
        if (put(t->ch, key, value, len) != 0 ||
            get(t->ch, key, out, sizeof(out), &got) != 0 || got != len ||
            (len && memcmp(out, value, len) != 0))
            t->failures++;
    }
    return NULL;
}

static int client_threads(void *arg)
{
    (void)arg;
    pthread_t th[4];
    struct thread_arg ta[4];
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    CHECK_EQ(server_calls(ch), 0);
    for (unsigned i = 0; i < 4; i++) {
        ta[i] = (struct thread_arg){ .ch = ch, .id = i };
        CHECK_EQ(pthread_create(&th[i], NULL, thread_calls, &ta[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        CHECK_EQ(pthread_join(th[i], NULL), 0);
        CHECK_EQ(ta[i].failures, 0);
    }
    CHECK_EQ(server_calls(ch), 4 * 300 * 2);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
}

static void test_threads(void **state)
{
    (void)state;
    run_kv(client_threads, 8, 0);
}

/* kv.proto's enum Op names service Store's method indices, which are
 * the opcodes its generated clients and servers use. */
static void test_schema_opcodes(void **state)
{
    (void)state;
    const ProtobufCServiceDescriptor *d = &uipc__kv__store__descriptor;
    assert_int_equal(d->n_methods, 3);
    assert_string_equal(d->methods[UIPC__KV__OP__PUT].name, "Put");
    assert_string_equal(d->methods[UIPC__KV__OP__GET].name, "Get");
    assert_string_equal(d->methods[UIPC__KV__OP__DEL].name, "Del");
    assert_ptr_equal(d->methods[UIPC__KV__OP__PUT].input, &uipc__kv__put_request__descriptor);
    assert_ptr_equal(d->methods[UIPC__KV__OP__GET].output, &uipc__kv__value__descriptor);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_opcodes),
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_sync_big),
        cmocka_unit_test(test_async),
        cmocka_unit_test(test_toobig),
        cmocka_unit_test(test_bad_request),
        cmocka_unit_test(test_unknown_op),
        cmocka_unit_test(test_bad_reply),
        cmocka_unit_test(test_big_reply),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_args_reply),
        cmocka_unit_test(test_threads),
    };
    for (unsigned i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
        sigaction(crash_signals[i], NULL, &crash_saved[i]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
