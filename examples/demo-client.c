/* SPDX-License-Identifier: MIT */
/* A client module that drives the kv store and the echo service, with
 * synchronous and asynchronous calls, and prints what it sees. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <uipc/module.h>

#include "kv.h"

struct kv_op {
    const char *key, *value; /* value NULL: not a put */
    char got[256];
    size_t got_len;
    int status, done;
};

static int kv_fill(void *buf, size_t cap, size_t *len, void *arg)
{
    const struct kv_op *op = arg;
    size_t k = strlen(op->key) + 1, v = op->value ? strlen(op->value) : 0;
    if (k + v > cap)
        return -UIPC_ETOOBIG;
    memcpy(buf, op->key, k);
    if (op->value)
        memcpy((char *)buf + k, op->value, v);
    *len = op->value ? k + v : k - 1;
    return 0;
}

static void kv_reply(int status, const void *data, size_t len, void *arg)
{
    struct kv_op *op = arg;
    (void)status;
    op->got_len = len < sizeof(op->got) - 1 ? len : sizeof(op->got) - 1;
    memcpy(op->got, data, op->got_len);
    op->got[op->got_len] = '\0';
}

static void kv_done(int status, void *arg)
{
    struct kv_op *op = arg;
    op->status = status;
    op->done = 1;
}

static int kv_sync(uipc_chan *kv, uint32_t opcode, struct kv_op *op)
{
    struct uipc_call c = { .fill = kv_fill, .reply = kv_reply, .opcode = opcode, .arg = op,
                           .timeout_ms = 1000 };
    return op->status = uipc_call(kv, &c);
}

static const char *describe(int status)
{
    return status == 0 ? "ok" : uipc_strerror(status);
}

static int run(uipc_module *m, uipc_chan *kv, uipc_chan *echo)
{
    static const char *const fruit[][2] = {
        { "apple", "red" }, { "banana", "yellow" }, { "cherry", "dark red" }, { "lime", "green" },
    };
    struct kv_op op;
    for (unsigned i = 0; i < 4; i++) {
        op = (struct kv_op){ .key = fruit[i][0], .value = fruit[i][1] };
        printf("sync  put %-7s = %-9s -> %s\n", op.key, op.value, describe(kv_sync(kv, KV_PUT, &op)));
    }
    op = (struct kv_op){ .key = "banana" };
    printf("sync  get banana           -> %s, \"%s\"\n", describe(kv_sync(kv, KV_GET, &op)), op.got);
    op = (struct kv_op){ .key = "lime" };
    printf("sync  del lime             -> %s\n", describe(kv_sync(kv, KV_DEL, &op)));

    /* Four gets in flight at once; the client goes on, then collects. */
    struct kv_op gets[4];
    for (unsigned i = 0; i < 4; i++) {
        gets[i] = (struct kv_op){ .key = fruit[i][0] };
        struct uipc_call c = { .fill = kv_fill, .reply = kv_reply, .complete = kv_done,
                               .opcode = KV_GET, .arg = &gets[i] };
        int err = uipc_call(kv, &c);
        if (err < 0)
            return err;
    }
    op = (struct kv_op){ .key = "hello, echo", .value = NULL };
    struct uipc_call e = { .fill = kv_fill, .reply = kv_reply, .arg = &op, .timeout_ms = 1000 };
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
    int err = uipc_module_open(&m);
    if (err == 0)
        err = uipc_connect(m, "kv", &kv);
    if (err == 0)
        err = uipc_connect(m, "echo", &echo);
    if (err == 0)
        err = run(m, kv, echo);
    if (err < 0)
        fprintf(stderr, "demo-client: %s\n", uipc_strerror(err));
    uipc_module_close(m);
    return err < 0 ? 1 : 0;
}
