/* SPDX-License-Identifier: MIT */
/* A client module as a binary built against libmodule 0.1 calls it: the
 * 40-byte struct uipc_call of that version (no flags, no id), through
 * uipc_call@UIPC_0.1 of the shared library.  test-call-abi execs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uipc/module.h>

/* The 0.1 header's struct and prototype, as an old binary was built. */
struct uipc_call_0_1 {
    uipc_fill_fn fill;
    uipc_reply_fn reply;
    uipc_complete_fn complete;
    uint32_t opcode;
    uint32_t timeout_ms;
    void *arg;
};
_Static_assert(sizeof(struct uipc_call_0_1) == 40, "the 0.1 layout");
int old_uipc_call(uipc_chan *ch, const struct uipc_call_0_1 *call);
__asm__(".symver old_uipc_call, uipc_call@UIPC_0.1");

#define CHECK(c) do { if (!(c)) { \
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
        exit(90); } } while (0)

enum { OP_ECHO = 1 }; /* tests/lib/testmod.h */
#define ASYNC 8

/* Bytes the 0.2 struct has past the old one (flags, id) are the caller's
 * here: 0xff, which a call that read them as flags would act on, and
 * which one that wrote an id there would overwrite. */
struct guarded {
    struct uipc_call_0_1 call;
    unsigned char guard[32];
};

struct msg {
    unsigned char req[16], rep[16];
    size_t rep_len;
    int status, completions;
};

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct msg *m = arg;
    CHECK(cap >= sizeof(m->req));
    memcpy(buf, m->req, sizeof(m->req));
    *len = sizeof(m->req);
    return 0;
}

static void reply(int status, const void *data, size_t len, void *arg)
{
    struct msg *m = arg;
    m->status = status;
    m->rep_len = len;
    if (len <= sizeof(m->rep))
        memcpy(m->rep, data, len);
}

static void complete(int status, void *arg)
{
    struct msg *m = arg;
    m->status = status;
    m->completions++;
}

static int call(uipc_chan *ch, struct msg *m, uipc_complete_fn done)
{
    struct guarded g;
    memset(&g, 0xff, sizeof(g));
    g.call = (struct uipc_call_0_1){ .fill = fill, .reply = reply, .complete = done,
                                     .opcode = OP_ECHO, .arg = m };
    int r = old_uipc_call(ch, &g.call);
    for (size_t i = 0; i < sizeof(g.guard); i++)
        CHECK(g.guard[i] == 0xff);
    return r;
}

static void check_echo(const struct msg *m)
{
    CHECK(m->rep_len == sizeof(m->req));
    CHECK(memcmp(m->rep, m->req, sizeof(m->req)) == 0);
}

int main(void)
{
    static struct msg sync, async[ASYNC];
    uipc_module *mod;
    uipc_chan *ch;
    CHECK(uipc_module_open(&mod) == 0);
    CHECK(uipc_connect(mod, "echo", &ch) == 0);
    memset(sync.req, 's', sizeof(sync.req));
    CHECK(call(ch, &sync, NULL) == (int)sizeof(sync.req));
    check_echo(&sync);
    for (unsigned i = 0; i < ASYNC; i++) {
        memset(async[i].req, 'a' + (int)i, sizeof(async[i].req));
        CHECK(call(ch, &async[i], complete) == 0);
    }
    for (unsigned done = 0; done < ASYNC;) {
        CHECK(uipc_poll(mod, 1000) >= 0);
        done = 0;
        for (unsigned i = 0; i < ASYNC; i++)
            done += (unsigned)async[i].completions;
    }
    for (unsigned i = 0; i < ASYNC; i++) {
        CHECK(async[i].completions == 1);
        CHECK(async[i].status == (int)sizeof(async[i].req));
        check_echo(&async[i]);
    }
    struct uipc_chan_stats st;
    CHECK(uipc_chan_stats(ch, &st) == 0);
    CHECK(st.issued == 1 + ASYNC && st.ok == 1 + ASYNC && st.free_slots == st.slots);
    uipc_module_close(mod);
    return 0;
}
