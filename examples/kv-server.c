/* SPDX-License-Identifier: MIT */
/* A key-value store service "kv": the generated service Store of
 * schemas/kv.proto, served with uipc_pb_serve_service (<uipc/pb.h>):
 *   Put: PutRequest -> Empty   status 0; -ENOSPC when full
 *   Get: Key        -> Value   status 0; -ENOENT if absent
 *   Del: Key        -> Empty   status 0; -ENOENT if absent
 * A key must be 1..255 bytes (else -EINVAL).  Each method answers before
 * it returns.  Requests that do not decode get -EBADMSG from libuipc-pb,
 * and the store goes on serving. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uipc/pb.h>

#include "kv.pb-c.h"

#define CAP 1024 /* entries; open addressing, linear probing */
#define KEY_MAX 255

struct entry {
    char key[KEY_MAX + 1];
    uint8_t *value;
    size_t len;
    int used; /* 0 empty, 1 used, 2 deleted */
};

static struct entry table[CAP];
static uipc_module *mod;

static void on_term(int sig)
{
    (void)sig;
    uipc_stop(mod);
}

static unsigned hash(const char *k)
{
    unsigned h = 2166136261u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h;
}

/* The entry for key, or the slot to insert it into (NULL: full). */
static struct entry *find(const char *key, int for_insert)
{
    struct entry *tomb = NULL;
    for (unsigned i = 0, h = hash(key); i < CAP; i++) {
        struct entry *e = &table[(h + i) % CAP];
        if (e->used == 0)
            return for_insert ? (tomb ? tomb : e) : NULL;
        if (e->used == 2) {
            if (!tomb)
                tomb = e;
        } else if (strcmp(e->key, key) == 0) {
            return e;
        }
    }
    return for_insert ? tomb : NULL;
}

static int valid_key(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n > 0 && n <= KEY_MAX;
}

/* Stores a copy of data under key: 0, -EINVAL, -ENOMEM or -ENOSPC. */
static int store(const char *key, const uint8_t *data, size_t len)
{
    if (!valid_key(key))
        return -EINVAL;
    uint8_t *value = malloc(len ? len : 1);
    if (!value)
        return -ENOMEM;
    if (len) /* an empty bytes field may have no data */
        memcpy(value, data, len);
    struct entry *e = find(key, 0);
    if (!e && !(e = find(key, 1))) {
        free(value);
        return -ENOSPC;
    }
    if (e->used == 1)
        free(e->value);
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->value = value;
    e->len = len;
    e->used = 1;
    return 0;
}

/* The entry of key: 0, -EINVAL or -ENOENT. */
static int lookup(const char *key, struct entry **e)
{
    if (!valid_key(key))
        return -EINVAL;
    *e = find(key, 0);
    return *e ? 0 : -ENOENT;
}

/* A protobuf-c closure can only say "failed" (NULL: the caller hears
 * -EIO); uipc_pb_service_respond says which status, with the reply when
 * it is 0. */
static void kv_put(Uipc__Kv__Store_Service *svc, const Uipc__Kv__PutRequest *input,
                   Uipc__Kv__Empty_Closure closure, void *closure_data)
{
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    (void)svc;
    (void)closure;
    int err = store(input->key, input->value.data, input->value.len);
    uipc_pb_service_respond(closure_data, err, &empty.base);
}

static void kv_get(Uipc__Kv__Store_Service *svc, const Uipc__Kv__Key *input,
                   Uipc__Kv__Value_Closure closure, void *closure_data)
{
    Uipc__Kv__Value v = UIPC__KV__VALUE__INIT;
    struct entry *e;
    (void)svc;
    int err = lookup(input->key, &e);
    if (err < 0) {
        uipc_pb_service_respond(closure_data, err, NULL);
        return;
    }
    v.value.data = e->value;
    v.value.len = e->len;
    closure(&v, closure_data); /* packed straight into the slot */
}

static void kv_del(Uipc__Kv__Store_Service *svc, const Uipc__Kv__Key *input,
                   Uipc__Kv__Empty_Closure closure, void *closure_data)
{
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    struct entry *e;
    (void)svc;
    (void)closure;
    int err = lookup(input->key, &e);
    if (err == 0) {
        free(e->value);
        e->used = 2;
    }
    uipc_pb_service_respond(closure_data, err, &empty.base);
}

static Uipc__Kv__Store_Service kv_service = UIPC__KV__STORE__INIT(kv_);

int main(void)
{
    int err = uipc_module_open(&mod);
    if (err < 0 || (err = uipc_pb_serve_service(mod, "kv", &kv_service.base)) < 0) {
        fprintf(stderr, "kv-server: %s\n", uipc_strerror(err));
        return 1;
    }
    signal(SIGTERM, on_term);
    err = uipc_run(mod);
    uipc_module_close(mod);
    return err < 0 ? 1 : 0;
}
