/* SPDX-License-Identifier: MIT */
/* A key-value store service "kv".  Commands (opcode: request -> reply):
 *   KV_PUT 1: "key\0value"  -> status 0
 *   KV_GET 2: "key"         -> status 0, the value; -ENOENT if absent
 *   KV_DEL 3: "key"         -> status 0; -ENOENT if absent
 * Malformed requests get -EINVAL, a full store -ENOSPC. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uipc/module.h>

#include "kv.h"

#define CAP 1024 /* entries; open addressing, linear probing */

struct entry {
    char key[KV_KEY_MAX + 1];
    char *value;
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

/* Copies the key out of shared memory once, checked. */
static int read_key(const char *data, size_t len, char *key, size_t *klen)
{
    const char *nul = memchr(data, '\0', len);
    size_t n = nul ? (size_t)(nul - data) : len;
    if (n == 0 || n > KV_KEY_MAX)
        return -EINVAL;
    memcpy(key, data, n);
    key[n] = '\0';
    *klen = n;
    return 0;
}

static int put(const char *data, size_t len)
{
    char key[KV_KEY_MAX + 1];
    size_t klen;
    if (read_key(data, len, key, &klen) < 0 || klen + 1 > len)
        return -EINVAL;
    size_t vlen = len - klen - 1;
    char *value = malloc(vlen ? vlen : 1);
    if (!value)
        return -ENOMEM;
    memcpy(value, data + klen + 1, vlen);
    struct entry *e = find(key, 0);
    if (!e && !(e = find(key, 1))) {
        free(value);
        return -ENOSPC;
    }
    if (e->used == 1)
        free(e->value);
    memcpy(e->key, key, klen + 1);
    e->value = value;
    e->len = vlen;
    e->used = 1;
    return 0;
}

static int handler(uipc_req *req, void *ctx)
{
    (void)ctx;
    size_t len, cap, klen;
    const char *data = uipc_req_data(req, &len);
    char key[KV_KEY_MAX + 1];
    if (uipc_req_opcode(req) == KV_PUT)
        return put(data, len);
    if (read_key(data, len, key, &klen) < 0)
        return -EINVAL;
    struct entry *e = find(key, 0);
    if (!e)
        return -ENOENT;
    switch (uipc_req_opcode(req)) {
    case KV_GET: {
        char *out = uipc_req_reply_buf(req, &cap);
        if (e->len > cap)
            return -EMSGSIZE;
        memcpy(out, e->value, e->len);
        uipc_req_reply(req, e->len);
        return 0;
    }
    case KV_DEL:
        free(e->value);
        e->used = 2;
        return 0;
    default:
        return -ENOSYS;
    }
}

int main(void)
{
    int err = uipc_module_open(&mod);
    if (err < 0 || (err = uipc_serve(mod, "kv", handler, NULL)) < 0) {
        fprintf(stderr, "kv-server: %s\n", uipc_strerror(err));
        return 1;
    }
    signal(SIGTERM, on_term);
    err = uipc_run(mod);
    uipc_module_close(mod);
    return err < 0 ? 1 : 0;
}
