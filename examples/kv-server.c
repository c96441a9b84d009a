/* SPDX-License-Identifier: MIT */
/* A key-value store service "kv", with typed calls (<uipc/pb.h>) on the
 * messages of schemas/kv.proto:
 *   PUT: PutRequest -> Empty   status 0; -ENOSPC when full
 *   GET: Key        -> Value   status 0; -ENOENT if absent
 *   DEL: Key        -> Empty   status 0; -ENOENT if absent
 * A key must be 1..255 bytes (else -EINVAL).  Requests that do not decode
 * get -EBADMSG from libuipc-pb, and the store goes on serving. */
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

static int put(const ProtobufCMessage *msg, uipc_req *req, void *ctx)
{
    const Uipc__Kv__PutRequest *r = (const Uipc__Kv__PutRequest *)msg;
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    (void)ctx;
    if (!valid_key(r->key))
        return -EINVAL;
    uint8_t *value = malloc(r->value.len ? r->value.len : 1);
    if (!value)
        return -ENOMEM;
    memcpy(value, r->value.data, r->value.len);
    struct entry *e = find(r->key, 0);
    if (!e && !(e = find(r->key, 1))) {
        free(value);
        return -ENOSPC;
    }
    if (e->used == 1)
        free(e->value);
    snprintf(e->key, sizeof(e->key), "%s", r->key);
    e->value = value;
    e->len = r->value.len;
    e->used = 1;
    return uipc_pb_reply(req, &empty.base);
}

/* The entry a Key request names: 0, -EINVAL or -ENOENT. */
static int lookup(const ProtobufCMessage *msg, struct entry **e)
{
    const Uipc__Kv__Key *k = (const Uipc__Kv__Key *)msg;
    if (!valid_key(k->key))
        return -EINVAL;
    *e = find(k->key, 0);
    return *e ? 0 : -ENOENT;
}

static int get(const ProtobufCMessage *msg, uipc_req *req, void *ctx)
{
    Uipc__Kv__Value v = UIPC__KV__VALUE__INIT;
    struct entry *e;
    (void)ctx;
    int r = lookup(msg, &e);
    if (r < 0)
        return r;
    v.value.data = e->value;
    v.value.len = e->len;
    return uipc_pb_reply(req, &v.base);
}

static int del(const ProtobufCMessage *msg, uipc_req *req, void *ctx)
{
    Uipc__Kv__Empty empty = UIPC__KV__EMPTY__INIT;
    struct entry *e;
    (void)ctx;
    int r = lookup(msg, &e);
    if (r < 0)
        return r;
    free(e->value);
    e->used = 2;
    return uipc_pb_reply(req, &empty.base);
}

static const struct uipc_pb_method methods[] = {
    { UIPC__KV__OP__PUT, &uipc__kv__put_request__descriptor, put },
    { UIPC__KV__OP__GET, &uipc__kv__key__descriptor, get },
    { UIPC__KV__OP__DEL, &uipc__kv__key__descriptor, del },
};
static const struct uipc_pb_service kv_service = { methods, 3, NULL };

int main(void)
{
    int err = uipc_module_open(&mod);
    if (err < 0 || (err = uipc_pb_serve(mod, "kv", &kv_service)) < 0) {
        fprintf(stderr, "kv-server: %s\n", uipc_strerror(err));
        return 1;
    }
    signal(SIGTERM, on_term);
    err = uipc_run(mod);
    uipc_module_close(mod);
    return err < 0 ? 1 : 0;
}
