/* SPDX-License-Identifier: MIT */
/* Typed calls (libmodule/pb.c, <uipc/pb.h>) between real forked modules: a
 * small kv service written here with uipc_pb_serve on the messages of
 * schemas/kv.proto, called synchronously, asynchronously and from several
 * threads; requests and replies larger than the slot, requests and replies
 * that do not decode, unknown opcodes, and argument checks.  Then the same
 * store as kv.proto's generated service Store, served with
 * uipc_pb_serve_service and called through its stubs: answers inside
 * invoke and from a pool of threads (out of order, while the handler
 * still runs, twice), failures, calls that cannot be issued,
 * UIPC_WAIT_SLOT, and a server killed with calls in flight.  Every module
 * ends with a leak check under ASan: each unpacked message must be freed. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
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
static ProtobufCService sentinel_service; /* and one a failure must leave alone */

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

/* 0, -EINVAL or -ENOSPC; both servers' Put. */
static int store_put(struct kv_store *s, const Uipc__Kv__PutRequest *r)
{
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
    return 0;
}

/* 0 or -ENOENT; both servers' Del. */
static int store_del(struct kv_store *s, const char *key)
{
    struct kv_entry *e = kv_find(s, key, false);
    if (!e)
        return -ENOENT;
    free(e->value);
    *e = (struct kv_entry){ 0 };
    return 0;
}

static int kv_put(const ProtobufCMessage *msg, uipc_req *req, void *ctx)
{
    struct kv_store *s = ctx;
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    s->calls++;
    CHECK(msg->descriptor == &uipc__kv__put_request__descriptor);
    int st = store_put(s, (const Uipc__Kv__PutRequest *)msg);
    return st < 0 ? st : uipc_pb_reply(req, &empty.base);
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
    int st = store_del(s, k->key);
    return st < 0 ? st : uipc_pb_reply(req, &empty.base);
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

static void server_finish(void)
{
    uipc_module_close(srv_m);
    for (unsigned i = 0; i < NKEYS; i++)
        free(store.e[i].value);
    check_no_leaks();
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
    server_finish();
    return 0;
}

/* ---- the server: the same store as protoc-c's service Store ---- */

/* Store's Get answers most keys from the store, at once; some keys ask
 * for another behaviour (name: any text):
 *   fail            closure(NULL): the caller gets -EIO
 *   wrong           a reply of another type: -EIO
 *   status          status 7 with a Value "status" (uipc_pb_service_respond)
 *   twice           answered twice at once: the second is refused
 *   big             a Value larger than the slot: -UIPC_ETOOBIG
 *   stale/NAME      answered at once, then again by a worker: refused
 *   late/N/NAME     a worker answers with a Value NAME once N such jobs wait,
 *                   the last first; NAME ending in !fail, !twice or !big as
 *                   above
 *   race/NAME       a worker answers NAME while the handler still runs
 *   hold/N/NAME     never answered; the Nth kills the server (SIGKILL) */
#define BIG_VALUE 8192 /* more than the default slot (4096) */
#define POOL_THREADS 3
#define POOL_MAX 64

struct job {
    Uipc__Kv__Value_Closure closure;
    void *data;
    char name[64];
    unsigned batch; /* answered once this many jobs wait */
    bool fail, twice, big;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job jobs[POOL_MAX]; /* a stack: the last pushed is answered first */
    unsigned n;
    unsigned idle; /* workers waiting for a job */
    /* Jobs at the bottom of the stack that belong to the batch being
     * answered: every job waiting when it began, and no later one.  A job
     * pushed meanwhile (its caller reusing a slot the batch freed) waits
     * for a batch of its own: answered with this one, it left the last
     * batch of a WAIT_SLOT run short of its count, for good. */
    unsigned batch_left;
    bool stop;
    pthread_t th[POOL_THREADS];
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
static atomic_uint pool_started; /* jobs a worker has begun to answer */

/* A second answer for a request already answered: refused, and ignored. */
static void answer_again(Uipc__Kv__Value_Closure closure, void *data, Uipc__Kv__Value *v)
{
    CHECK_EQ(uipc_pb_service_respond(data, 0, &v->base), -EINVAL);
    closure(v, data);
    closure(NULL, data);
}

static void answer_job(const struct job *j)
{
    Uipc__Kv__Value v = UIPC__KV__VALUE__INIT;
    atomic_fetch_add(&pool_started, 1);
    if (j->fail) {
        j->closure(NULL, j->data);
        return;
    }
    v.value.len = j->big ? BIG_VALUE : strlen(j->name);
    v.value.data = j->big ? calloc(1, BIG_VALUE) : (uint8_t *)j->name;
    CHECK(v.value.data != NULL);
    j->closure(&v, j->data);
    if (j->twice)
        answer_again(j->closure, j->data, &v);
    if (j->big)
        free(v.value.data);
}

static void *pool_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        pool.idle++;
        while (!pool.stop && !(pool.n && (pool.batch_left || pool.n >= pool.jobs[0].batch)))
            pthread_cond_wait(&pool.cond, &pool.lock);
        pool.idle--;
        if (!pool.n)
            break; /* stopped, with nothing left */
        if (!pool.batch_left)
            pool.batch_left = pool.n;
        unsigned at = --pool.batch_left; /* the batch's last pushed */
        struct job j = pool.jobs[at];
        memmove(&pool.jobs[at], &pool.jobs[at + 1], (pool.n - at - 1) * sizeof(j));
        pool.n--;
        pthread_cond_broadcast(&pool.cond);
        pthread_mutex_unlock(&pool.lock);
        answer_job(&j);
        pthread_mutex_lock(&pool.lock);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* Returns whether a worker was waiting for it. */
static bool pool_push(const struct job *j)
{
    pthread_mutex_lock(&pool.lock);
    CHECK(pool.n < POOL_MAX);
    pool.jobs[pool.n++] = *j;
    bool idle = pool.idle > 0;
    pthread_cond_broadcast(&pool.cond);
    pthread_mutex_unlock(&pool.lock);
    return idle;
}

/* A late/ or race/ key's job: "late/N/NAME[!how]" or "race/NAME". */
static struct job job_of(const char *key, Uipc__Kv__Value_Closure closure, void *data)
{
    struct job j = { .closure = closure, .data = data, .batch = 1 };
    const char *name = strchr(key + 5, '/');
    if (strncmp(key, "late/", 5) == 0 && name) {
        j.batch = (unsigned)atoi(key + 5);
        key = name + 1;
    } else {
        key += 5;
    }
    snprintf(j.name, sizeof(j.name), "%s", key);
    j.fail = strstr(key, "!fail") != NULL;
    j.twice = strstr(key, "!twice") != NULL;
    j.big = strstr(key, "!big") != NULL;
    return j;
}

/* race/: the worker's closure runs while this handler still holds the
 * module: it must wait for the handler to return, and the request must
 * then be answered once, by it.  Only with a worker idle: the loop keeps
 * the module through a batch of requests, and the workers answering the
 * earlier ones of the batch wait for it (as every worker would: an
 * implementation must never wait in invoke for an answer from another
 * thread). */
static void get_race(const char *key, Uipc__Kv__Value_Closure closure, void *data)
{
    unsigned before = atomic_load(&pool_started);
    struct job j = job_of(key, closure, data);
    if (!pool_push(&j))
        return;
    while (atomic_load(&pool_started) == before)
        sched_yield();
    for (unsigned i = 0; i < 100; i++) /* let it reach the closure */
        sched_yield();
}

static void get_hold(const char *key)
{
    static int held;
    if (++held == atoi(key + 5))
        raise(SIGKILL);
}

/* The keys answered at once; false for those that are not. */
static bool get_now(const char *key, Uipc__Kv__Value_Closure closure, void *data)
{
    static uint8_t big[BIG_VALUE];
    Uipc__Kv__Value v = UIPC__KV__VALUE__INIT;
    Uipc__Kv__Empty wrong = UIPC__KV__EMPTY__INIT;
    bool is_big = strcmp(key, "big") == 0, stale = strncmp(key, "stale/", 6) == 0;
    v.value.data = is_big ? big : (uint8_t *)key;
    v.value.len = is_big ? sizeof(big) : strlen(key);
    if (strcmp(key, "fail") == 0)
        closure(NULL, data);
    else if (strcmp(key, "wrong") == 0)
        CHECK_EQ(uipc_pb_service_respond(data, 0, &wrong.base), -EINVAL);
    else if (strcmp(key, "status") == 0)
        CHECK_EQ(uipc_pb_service_respond(data, 7, &v.base), 0);
    else if (strcmp(key, "twice") == 0 || is_big || stale)
        closure(&v, data);
    else
        return false;
    if (strcmp(key, "twice") == 0)
        answer_again(closure, data, &v);
    if (stale) { /* the same handle, again, from a worker */
        struct job j = job_of(key, closure, data);
        j.twice = true;
        pool_push(&j);
    }
    return true;
}

static void svc_put(Uipc__Kv__Store_Service *service, const Uipc__Kv__PutRequest *input,
                    Uipc__Kv__Empty_Closure closure, void *closure_data)
{
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    (void)service;
    int st = store_put(&store, input);
    if (st < 0)
        CHECK_EQ(uipc_pb_service_respond(closure_data, st, NULL), 0);
    else
        closure(&empty, closure_data);
}

static void svc_get(Uipc__Kv__Store_Service *service, const Uipc__Kv__Key *input,
                    Uipc__Kv__Value_Closure closure, void *closure_data)
{
    Uipc__Kv__Value v = UIPC__KV__VALUE__INIT;
    const char *key = input->key;
    (void)service;
    if (strncmp(key, "late/", 5) == 0) {
        struct job j = job_of(key, closure, closure_data);
        pool_push(&j);
    } else if (strncmp(key, "race/", 5) == 0) {
        get_race(key, closure, closure_data);
    } else if (strncmp(key, "hold/", 5) == 0) {
        get_hold(key);
    } else if (!get_now(key, closure, closure_data)) {
        struct kv_entry *e = kv_find(&store, key, false);
        if (!e) {
            CHECK_EQ(uipc_pb_service_respond(closure_data, -ENOENT, NULL), 0);
            return;
        }
        v.value.data = e->value;
        v.value.len = e->len;
        closure(&v, closure_data);
    }
}

static void svc_del(Uipc__Kv__Store_Service *service, const Uipc__Kv__Key *input,
                    Uipc__Kv__Empty_Closure closure, void *closure_data)
{
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    (void)service;
    int st = store_del(&store, input->key);
    if (st < 0)
        CHECK_EQ(uipc_pb_service_respond(closure_data, st, &empty.base), 0);
    else
        closure(&empty, closure_data);
}

static Uipc__Kv__Store_Service kv_impl = UIPC__KV__STORE__INIT(svc_);

/* Serves kv_impl until SIGTERM, with the pool's workers running. */
static int svc_server_main(void *arg)
{
    (void)arg;
    srv_m = open_module();
    signal(SIGTERM, srv_on_term);

    /* argument checks on the server side */
    ProtobufCService no_descriptor = { NULL, kv_impl.base.invoke, NULL };
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    CHECK_EQ(uipc_pb_serve_service(srv_m, SERVICE, NULL), -EINVAL);
    CHECK_EQ(uipc_pb_serve_service(srv_m, SERVICE, &no_descriptor), -EINVAL);
    CHECK_EQ(uipc_pb_serve_service(srv_m, "nope", &kv_impl.base), -ENOENT);
    CHECK_EQ(uipc_pb_service_respond(NULL, 0, &empty.base), -EINVAL);
    CHECK_EQ(uipc_pb_service_respond((void *)(uintptr_t)12345, -ENOENT, NULL), -EINVAL);

    CHECK_EQ(uipc_pb_serve_service(srv_m, SERVICE, &kv_impl.base), 0);
    for (unsigned i = 0; i < POOL_THREADS; i++)
        CHECK_EQ(pthread_create(&pool.th[i], NULL, pool_worker, NULL), 0);
    CHECK_EQ(uipc_run(srv_m), 0);
    pthread_mutex_lock(&pool.lock);
    pool.stop = true;
    pthread_cond_broadcast(&pool.cond);
    pthread_mutex_unlock(&pool.lock);
    for (unsigned i = 0; i < POOL_THREADS; i++)
        CHECK_EQ(pthread_join(pool.th[i], NULL), 0);
    server_finish();
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
    /* a generated stub's call */
    ProtobufCService *svc;
    bool returned; /* the stub has returned */
    bool early;    /* its closure ran before */
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

/* A generated stub's closure: the status is the client's to say. */
static void on_stub(const ProtobufCMessage *reply, struct done_rec *d)
{
    int status = uipc_pb_service_status(d->svc);
    CHECK((reply != NULL) == (status >= 0));
    d->early = !d->returned;
    on_done(status, reply, d);
}

static void got_value(const Uipc__Kv__Value *v, void *data)
{
    on_stub(v ? &v->base : NULL, data);
}

static void got_empty(const Uipc__Kv__Empty *e, void *data)
{
    on_stub(e ? &e->base : NULL, data);
}

static void stub_get(ProtobufCService *svc, const char *key, struct done_rec *d)
{
    Uipc__Kv__Key k = UIPC__KV__KEY__INIT;
    k.key = (char *)key;
    *d = (struct done_rec){ .svc = svc };
    uipc__kv__store__get(svc, &k, got_value, d);
    d->returned = true;
}

static void stub_del(ProtobufCService *svc, const char *key, struct done_rec *d)
{
    Uipc__Kv__Key k = UIPC__KV__KEY__INIT;
    k.key = (char *)key;
    *d = (struct done_rec){ .svc = svc };
    uipc__kv__store__del(svc, &k, got_empty, d);
    d->returned = true;
}

static void stub_put(ProtobufCService *svc, const char *key, const void *value, size_t len,
                     struct done_rec *d)
{
    Uipc__Kv__PutRequest rq = UIPC__KV__PUT_REQUEST__INIT;
    rq.key = (char *)key;
    rq.value.data = (uint8_t *)value;
    rq.value.len = len;
    *d = (struct done_rec){ .svc = svc };
    uipc__kv__store__put(svc, &rq, got_empty, d);
    d->returned = true;
}

/* d's call ended with status and no reply. */
static void check_failed(const struct done_rec *d, int status)
{
    CHECK_EQ(d->runs, 1);
    CHECK_EQ(d->status, status);
    CHECK(d->type == NULL);
}

/* d's call ended with status and a Value holding the string want. */
static void check_got(const struct done_rec *d, int status, const char *want)
{
    CHECK_EQ(d->runs, 1);
    CHECK(!d->early);
    CHECK_EQ(d->status, status);
    CHECK(d->type == &uipc__kv__value__descriptor);
    CHECK_EQ(d->len, strlen(want));
    CHECK(memcmp(d->value, want, d->len) == 0);
}

static ProtobufCService *store_client(uipc_chan *ch)
{
    ProtobufCService *svc = NULL;
    CHECK_EQ(uipc_pb_service_client(ch, &uipc__kv__store__descriptor, &svc), 0);
    CHECK(svc != NULL);
    return svc;
}

/* A stub client's last checks: every slot back, nothing leaked. */
static int stub_client_end(uipc_module *m, uipc_chan *ch, ProtobufCService *svc)
{
    protobuf_c_service_destroy(svc);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
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

/* Runs client against server over one channel (slots/slot_size 0:
 * defaults); both must exit 0. */
static void run_pair(int (*server)(void *), int (*client)(void *), unsigned slots,
                     unsigned slot_size)
{
    struct testmod_pair p;
    int st = -1, sst = -1, rs = -1;
    assert_int_equal(testmod_pair_start(&p, server, NULL, client, NULL, slots, slot_size), 0);
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

static void run_kv(int (*client)(void *), unsigned slots, unsigned slot_size)
{
    run_pair(kv_server_main, client, slots, slot_size);
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

/* ---- 9. the generated service, served and called through its stubs ---- */

/* Put, Get and Del through the stubs, with the opcode-table client on the
 * same channel: against either server. */
static int client_stubs(void *arg)
{
    (void)arg;
    struct done_rec d[8];
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    ProtobufCService *svc = store_client(ch);

    stub_put(svc, "apple", "red", 3, &d[0]);
    stub_put(svc, "lime", "green", 5, &d[1]);
    stub_put(svc, "empty", "", 0, &d[2]);
    stub_put(svc, "", "x", 1, &d[3]);
    for (unsigned i = 0; i < 4; i++)
        CHECK_EQ(d[i].runs, 0); /* issued: never inline */
    collect(m, d, 4);
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(d[i].status, 0);
        CHECK(d[i].type == &uipc__kv__empty__descriptor);
        CHECK(!d[i].early);
    }
    check_failed(&d[3], -EINVAL);

    /* in flight together, served in order */
    stub_get(svc, "apple", &d[0]);
    stub_get(svc, "lime", &d[1]);
    stub_get(svc, "empty", &d[2]);
    stub_get(svc, "missing", &d[3]);
    stub_del(svc, "lime", &d[4]);
    stub_get(svc, "lime", &d[5]);
    stub_del(svc, "lime", &d[6]);
    collect(m, d, 7);
    check_got(&d[0], 0, "red");
    check_got(&d[1], 0, "green");
    check_got(&d[2], 0, "");
    check_failed(&d[3], -ENOENT);
    CHECK_EQ(d[4].status, 0);
    CHECK(d[4].type == &uipc__kv__empty__descriptor);
    check_failed(&d[5], -ENOENT);
    check_failed(&d[6], -ENOENT);

    /* the opcode-table client sees the same store */
    check_value(ch, "apple", "red", 3);
    check_absent(ch, "lime");
    CHECK_EQ(put(ch, "kiwi", "brown", 5), 0);
    stub_get(svc, "kiwi", &d[0]);
    collect(m, d, 1);
    check_got(&d[0], 0, "brown");

    return stub_client_end(m, ch, svc);
}

static void test_service(void **state)
{
    (void)state;
    run_pair(svc_server_main, client_stubs, 0, 0);
    run_pair(kv_server_main, client_stubs, 0, 0); /* the stubs against an opcode table */
}

/* ---- 10. answers inside invoke: statuses and failures ---- */

static int client_service_now(void *arg)
{
    (void)arg;
    struct done_rec d[8];
    struct testmod_msg msg;
    ProtobufCMessage *rep = &sentinel;
    Uipc__Kv__Key k = UIPC__KV__KEY__INIT;
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    ProtobufCService *svc = store_client(ch);

    stub_get(svc, "fail", &d[0]);   /* closure(NULL) */
    stub_get(svc, "wrong", &d[1]);  /* a reply of another type */
    stub_get(svc, "status", &d[2]); /* a status of its own, with a reply */
    stub_get(svc, "twice", &d[3]);  /* a second answer is refused */
    stub_get(svc, "big", &d[4]);    /* larger than the slot */
    stub_get(svc, "stale/s", &d[5]);
    collect(m, d, 6);
    check_failed(&d[0], -EIO);
    check_failed(&d[1], -EIO);
    check_got(&d[2], 7, "status");
    check_got(&d[3], 0, "twice");
    check_failed(&d[4], -UIPC_ETOOBIG);
    check_got(&d[5], 0, "stale/s");

    /* the opcode-table client hears the same */
    k.key = "big";
    CHECK_EQ(uipc_pb_call(ch, UIPC__KV__OP__GET, &k.base, &uipc__kv__value__descriptor, &rep, 0),
             -UIPC_ETOOBIG);
    CHECK(rep == NULL);
    k.key = "fail";
    CHECK_EQ(uipc_pb_call(ch, UIPC__KV__OP__GET, &k.base, &uipc__kv__value__descriptor, &rep, 0),
             -EIO);

    /* an index the service has not, a request that does not decode */
    uint32_t ops[] = { UIPC__KV__OP__DEL + 1, 99, UINT32_MAX };
    for (unsigned i = 0; i < 3; i++) {
        raw_key(&msg, "k");
        CHECK_EQ(raw_call(ch, ops[i], &msg), -ENOSYS);
        CHECK_EQ(uipc_pb_call(ch, ops[i], &k.base, &uipc__kv__value__descriptor, &rep, 0), -ENOSYS);
    }
    for (uint32_t op = UIPC__KV__OP__PUT; op <= UIPC__KV__OP__DEL; op++) {
        msg = (struct testmod_msg){ .len = sizeof(garbage) };
        memcpy(msg.buf, garbage, sizeof(garbage));
        CHECK_EQ(raw_call(ch, op, &msg), -EBADMSG);
    }

    /* the client's own checks: said to the closure before invoke returns */
    uint64_t before = issued(ch);
    d[0] = (struct done_rec){ .svc = svc };
    svc->invoke(svc, 3, &k.base, (ProtobufCClosure)got_value, &d[0]);
    d[1] = (struct done_rec){ .svc = svc };
    svc->invoke(svc, UIPC__KV__OP__GET, &empty.base, (ProtobufCClosure)got_value, &d[1]);
    svc->invoke(svc, UIPC__KV__OP__GET, &k.base, NULL, NULL); /* no closure: nothing sent */
    check_failed(&d[0], -ENOSYS);
    check_failed(&d[1], -EINVAL);
    CHECK(d[0].early && d[1].early);
    CHECK_EQ(issued(ch), before);

    /* and it goes on serving */
    stub_put(svc, "k", "v", 1, &d[0]);
    stub_get(svc, "k", &d[1]);
    collect(m, d, 2);
    check_got(&d[1], 0, "v");
    return stub_client_end(m, ch, svc);
}

static void test_service_now(void **state)
{
    (void)state;
    run_pair(svc_server_main, client_service_now, 0, 0);
}

/* ---- 11. answers from the server's other threads ---- */

static int client_service_late(void *arg)
{
    (void)arg;
    static struct done_rec d[32];
    static const char *const how[] = { "late/4/a!fail", "late/4/b!twice", "late/4/c!big", "late/4/d" };
    char key[32];
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    ProtobufCService *svc = store_client(ch);

    /* 16 in flight, answered once all wait, the last first */
    for (unsigned i = 0; i < 16; i++) {
        snprintf(key, sizeof(key), "late/16/k%u", i);
        stub_get(svc, key, &d[i]);
        CHECK_EQ(d[i].runs, 0);
    }
    collect(m, d, 16);
    for (unsigned i = 0; i < 16; i++) {
        snprintf(key, sizeof(key), "k%u", i);
        check_got(&d[i], 0, key);
    }

    /* failed, answered twice, too big, plain */
    for (unsigned i = 0; i < 4; i++)
        stub_get(svc, how[i], &d[i]);
    collect(m, d, 4);
    check_failed(&d[0], -EIO);
    check_got(&d[1], 0, "b!twice");
    check_failed(&d[2], -UIPC_ETOOBIG);
    check_got(&d[3], 0, "d");

    /* answered by a worker while the handler still runs */
    for (unsigned i = 0; i < 32; i++) {
        snprintf(key, sizeof(key), "race/r%u", i);
        stub_get(svc, key, &d[i]);
    }
    collect(m, d, 32);
    for (unsigned i = 0; i < 32; i++) {
        snprintf(key, sizeof(key), "r%u", i);
        check_got(&d[i], 0, key);
    }

    return stub_client_end(m, ch, svc);
}

static void test_service_late(void **state)
{
    (void)state;
    run_pair(svc_server_main, client_service_late, 0, 0);
}

/* ---- 12. calls that cannot be issued; UIPC_WAIT_SLOT ---- */

#define FEW_SLOTS 4

static int client_service_slots(void *arg)
{
    (void)arg;
    static struct done_rec d[3 * FEW_SLOTS];
    static uint8_t value[SMALL_SLOT];
    char key[32];
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    ProtobufCService *svc = store_client(ch);

    /* a request larger than the slot is said at once, to its closure,
     * before the stub returns */
    stub_put(svc, "big", value, sizeof(value), &d[0]);
    check_failed(&d[0], -UIPC_ETOOBIG);
    CHECK(d[0].early);
    CHECK_EQ(issued(ch), 0);

    /* so is a call when every slot is in flight (these are answered once
     * all wait) */
    for (unsigned i = 0; i < FEW_SLOTS; i++) {
        snprintf(key, sizeof(key), "late/%u/s%u", FEW_SLOTS, i);
        stub_get(svc, key, &d[i]);
    }
    uint64_t before = issued(ch);
    stub_get(svc, "late/1/one-too-many", &d[FEW_SLOTS]);
    check_failed(&d[FEW_SLOTS], -UIPC_ENOSLOT);
    CHECK(d[FEW_SLOTS].early);
    CHECK_EQ(issued(ch), before);
    collect(m, d, FEW_SLOTS);
    for (unsigned i = 0; i < FEW_SLOTS; i++) {
        snprintf(key, sizeof(key), "s%u", i);
        check_got(&d[i], 0, key);
    }

    /* with UIPC_WAIT_SLOT, three times as many calls as slots go through */
    CHECK_EQ(uipc_pb_service_options(svc, TIMEOUT_MS, UIPC_WAIT_SLOT | UIPC_WAIT_READY), 0);
    for (unsigned i = 0; i < 3 * FEW_SLOTS; i++) {
        snprintf(key, sizeof(key), "late/%u/w%u", FEW_SLOTS, i);
        stub_get(svc, key, &d[i]);
        CHECK_EQ(d[i].runs, 0);
    }
    collect(m, d, 3 * FEW_SLOTS);
    for (unsigned i = 0; i < 3 * FEW_SLOTS; i++) {
        snprintf(key, sizeof(key), "w%u", i);
        check_got(&d[i], 0, key);
    }
    /* a request too big is still said at once (it would never fit) */
    stub_put(svc, "big", value, sizeof(value), &d[0]);
    check_failed(&d[0], -UIPC_ETOOBIG);
    CHECK(d[0].early);

    /* argument checks */
    CHECK_EQ(uipc_pb_service_options(NULL, 0, 0), -EINVAL);
    CHECK_EQ(uipc_pb_service_options(&kv_impl.base, 0, 0), -EINVAL); /* not a client of ours */
    CHECK_EQ(uipc_pb_service_options(svc, 0, 1u << 9), -EINVAL);
    CHECK_EQ(uipc_pb_service_status(svc), -EINVAL); /* outside a closure */
    CHECK_EQ(uipc_pb_service_status(NULL), -EINVAL);
    ProtobufCServiceDescriptor bad = uipc__kv__store__descriptor;
    ProtobufCService *other = &sentinel_service;
    bad.magic = 0;
    CHECK_EQ(uipc_pb_service_client(NULL, &uipc__kv__store__descriptor, &other), -EINVAL);
    CHECK_EQ(uipc_pb_service_client(ch, NULL, &other), -EINVAL);
    CHECK_EQ(uipc_pb_service_client(ch, &bad, &other), -EINVAL);
    CHECK_EQ(uipc_pb_service_client(ch, &uipc__kv__store__descriptor, NULL), -EINVAL);
    CHECK(other == &sentinel_service);

    return stub_client_end(m, ch, svc);
}

static void test_service_slots(void **state)
{
    (void)state;
    run_pair(svc_server_main, client_service_slots, FEW_SLOTS, SMALL_SLOT);
}

/* ---- 13. a timeout; the server killed with calls in flight ---- */

#define HELD 6

static int client_service_killed(void *arg)
{
    (void)arg;
    struct done_rec d[HELD + 2];
    char key[32];
    uipc_module *m = open_module();
    uipc_chan *ch = connect_kv(m);
    ProtobufCService *svc = store_client(ch);
    stub_put(svc, "k", "v", 1, &d[0]); /* the server is serving */
    collect(m, d, 1);
    CHECK_EQ(d[0].status, 0);

    /* the client's timeout: a call its server never answers */
    CHECK_EQ(uipc_pb_service_options(svc, 1, 0), 0);
    stub_get(svc, "late/999/never", &d[0]);
    collect(m, d, 1);
    check_failed(&d[0], -UIPC_ETIMEDOUT);
    CHECK_EQ(uipc_pb_service_options(svc, 0, 0), 0);

    /* the server takes HELD, answers none, and dies at the last; the two
     * after it may have been sent or not */
    for (unsigned i = 0; i < HELD + 2; i++) {
        snprintf(key, sizeof(key), "hold/%u/h%u", HELD, i);
        stub_get(svc, key, &d[i]);
    }
    collect(m, d, HELD + 2);
    for (unsigned i = 0; i < HELD + 2; i++)
        check_failed(&d[i], -UIPC_EPEERDIED);
    for (unsigned i = 0; i < HELD; i++)
        CHECK(!d[i].early);
    protobuf_c_service_destroy(svc);
    uipc_module_close(m);
    check_no_leaks();
    return 0;
}

static void test_service_killed(void **state)
{
    (void)state;
    struct testmod_pair p;
    int st = -1;
    assert_int_equal(testmod_pair_start(&p, svc_server_main, NULL, client_service_killed, NULL, 0, 0), 0);
    int srv = uipc__bed_wait(p.b, p.srv, TIMEOUT_MS, &st), sst = st;
    int cli = srv == p.srv ? uipc__bed_wait(p.b, p.cli, TIMEOUT_MS, &st) : -1;
    int ids[2] = { p.srv, p.cli };
    uipc__bed_free(p.b);
    assert_int_equal(srv, ids[0]);
    assert_true(WIFSIGNALED(sst));
    assert_int_equal(WTERMSIG(sst), SIGKILL);
    assert_int_equal(cli, ids[1]);
    expect_clean_exit(st);
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
        cmocka_unit_test(test_service),
        cmocka_unit_test(test_service_now),
        cmocka_unit_test(test_service_late),
        cmocka_unit_test(test_service_slots),
        cmocka_unit_test(test_service_killed),
    };
    for (unsigned i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
        sigaction(crash_signals[i], NULL, &crash_saved[i]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
