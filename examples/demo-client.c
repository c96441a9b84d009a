/* SPDX-License-Identifier: MIT */
/* A client module that drives the kv store with typed calls (<uipc/pb.h>,
 * schemas/kv.proto): synchronous ones by opcode (uipc_pb_call),
 * asynchronous ones through the generated stubs of service Store; and the
 * echo service with a raw call.  Prints what it sees. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <uipc/pb.h>

#include "kv.pb-c.h"

static const char *describe(int status)
{
    return status == 0 ? "ok" : uipc_strerror(status);
}

static int kv_put(uipc_chan *kv, const char *key, const char *value)
{
    Uipc__Kv__PutRequest req = UIPC__KV__PUT_REQUEST__INIT;
    ProtobufCMessage *reply;
    req.key = (char *)key;
    req.value.data = (uint8_t *)value;
    req.value.len = strlen(value);
    int status = uipc_pb_call(kv, UIPC__KV__OP__PUT, &req.base, &uipc__kv__empty__descriptor, &reply, 1000);
    if (reply)
        protobuf_c_message_free_unpacked(reply, NULL);
    return status;
}

/* GET or DEL; a GET's value goes to out. */
static int kv_key(uipc_chan *kv, uint32_t op, const char *key, char *out, size_t cap)
{
    Uipc__Kv__Key req = UIPC__KV__KEY__INIT;
    ProtobufCMessage *reply;
    req.key = (char *)key;
    int status = uipc_pb_call(kv, op, &req.base, op == UIPC__KV__OP__GET ? &uipc__kv__value__descriptor :
                              &uipc__kv__empty__descriptor, &reply, 1000);
    if (reply && op == UIPC__KV__OP__GET) {
        const Uipc__Kv__Value *v = (const Uipc__Kv__Value *)reply;
        snprintf(out, cap, "%.*s", (int)v->value.len, (const char *)v->value.data);
    }
    if (reply)
        protobuf_c_message_free_unpacked(reply, NULL);
    return status;
}

struct async_get {
    const char *key;
    ProtobufCService *store; /* the client whose stub made the call */
    char got[256];
    int status, done;
};

/* A Get's closure: runs once, from the loop (or at once if the call could
 * not be sent); v is NULL unless the status is >= 0. */
static void got_value(const Uipc__Kv__Value *v, void *arg)
{
    struct async_get *g = arg;
    if (v)
        snprintf(g->got, sizeof(g->got), "%.*s", (int)v->value.len, (const char *)v->value.data);
    g->status = uipc_pb_service_status(g->store);
    g->done = 1;
}

/* The echo service speaks raw bytes: a plain uipc_call. */
static int echo_fill(void *buf, size_t cap, size_t *len, void *arg)
{
    size_t n = strlen(arg);
    if (n > cap)
        return -UIPC_ETOOBIG;
    memcpy(buf, arg, n);
    *len = n;
    return 0;
}

static int run(uipc_module *m, uipc_chan *kv, ProtobufCService *store, uipc_chan *echo)
{
    static const char *const fruit[][2] = {
        { "apple", "red" }, { "banana", "yellow" }, { "cherry", "dark red" }, { "lime", "green" },
    };
    char value[256] = "";
    for (unsigned i = 0; i < 4; i++)
        printf("sync  put %-7s = %-9s -> %s\n", fruit[i][0], fruit[i][1],
               describe(kv_put(kv, fruit[i][0], fruit[i][1])));
    int st = kv_key(kv, UIPC__KV__OP__GET, "banana", value, sizeof(value));
    printf("sync  get banana           -> %s, \"%s\"\n", describe(st), value);
    printf("sync  del lime             -> %s\n", describe(kv_key(kv, UIPC__KV__OP__DEL, "lime", NULL, 0)));

    /* Four gets in flight at once through the generated stub; the client
     * goes on, then collects. */
    struct async_get gets[4];
    for (unsigned i = 0; i < 4; i++) {
        Uipc__Kv__Key key = UIPC__KV__KEY__INIT;
        key.key = (char *)fruit[i][0];
        gets[i] = (struct async_get){ .key = fruit[i][0], .store = store };
        uipc__kv__store__get(store, &key, got_value, &gets[i]);
    }
    struct uipc_call e = { .fill = echo_fill, .arg = "hello, echo", .timeout_ms = 1000 };
    printf("sync  echo \"hello, echo\"   -> %d bytes back while 4 async gets are in flight\n",
           uipc_call(echo, &e));
    for (int done = 0; done < 4;) {
        int r = uipc_poll(m, 1000);
        if (r < 0)
            return r;
        done = gets[0].done + gets[1].done + gets[2].done + gets[3].done;
    }
    for (unsigned i = 0; i < 4; i++)
        printf("async get %-7s          -> %s%s%s%s\n", gets[i].key, describe(gets[i].status),
               gets[i].status == 0 ? ", \"" : "", gets[i].status == 0 ? gets[i].got : "",
               gets[i].status == 0 ? "\"" : "");
    return gets[3].status == -ENOENT ? 0 : -EIO; /* lime was deleted */
}

int main(void)
{
    uipc_module *m;
    uipc_chan *kv, *echo;
    ProtobufCService *store = NULL;
    int err = uipc_module_open(&m);
    if (err == 0)
        err = uipc_connect(m, "kv", &kv);
    if (err == 0)
        err = uipc_connect(m, "echo", &echo);
    if (err == 0)
        err = uipc_pb_service_client(kv, &uipc__kv__store__descriptor, &store);
    if (err == 0)
        err = run(m, kv, store, echo);
    if (store)
        protobuf_c_service_destroy(store);
    if (err < 0)
        fprintf(stderr, "demo-client: %s\n", uipc_strerror(err));
    uipc_module_close(m);
    return err < 0 ? 1 : 0;
}
