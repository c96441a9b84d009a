/* SPDX-License-Identifier: MIT */
/* A client module: calls the echo service synchronously, then
 * asynchronously, and prints what it sees. */
#include <stdio.h>
#include <string.h>

#include <uipc/module.h>

struct msg {
    char text[64];
    char reply[64];
    int status;
    int done;
};

/* fill: writes the command straight into the slot. */
static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct msg *m = arg;
    size_t n = strlen(m->text) + 1;
    if (n > cap)
        return -UIPC_ETOOBIG;
    memcpy(buf, m->text, n);
    *len = n;
    return 0;
}

/* reply: reads the answer while the slot is still held. */
static void reply(int status, const void *data, size_t len, void *arg)
{
    struct msg *m = arg;
    (void)status;
    snprintf(m->reply, sizeof(m->reply), "%.*s", (int)len, (const char *)data);
}

/* complete: present, so the call is asynchronous. */
static void complete(int status, void *arg)
{
    struct msg *m = arg;
    m->status = status;
    m->done = 1;
}

int main(void)
{
    uipc_module *mod;
    uipc_chan *ch;
    int err = uipc_module_open(&mod);
    if (err < 0 || (err = uipc_connect(mod, "echo", &ch)) < 0) {
        fprintf(stderr, "echo-client: %s\n", uipc_strerror(err));
        return 1;
    }

    struct msg m = { .text = "hello, synchronously" };
    struct uipc_call call = { .fill = fill, .reply = reply, .arg = &m, .timeout_ms = 1000 };
    int status = uipc_call(ch, &call);
    printf("sync call: status %d, reply \"%s\"\n", status, m.reply);
    if (status < 0)
        return 1;

    struct msg async[4];
    for (int i = 0; i < 4; i++) {
        async[i] = (struct msg){ .status = 0 };
        snprintf(async[i].text, sizeof(async[i].text), "hello, asynchronously #%d", i);
        call = (struct uipc_call){ .fill = fill, .reply = reply, .complete = complete, .arg = &async[i] };
        if ((err = uipc_call(ch, &call)) < 0) {
            fprintf(stderr, "echo-client: async call: %s\n", uipc_strerror(err));
            return 1;
        }
    }
    printf("4 async calls issued; the client goes on while they run\n");
    int done = 0;
    while (done < 4) {
        if ((err = uipc_poll(mod, 1000)) < 0)
            return 1;
        done = 0;
        for (int i = 0; i < 4; i++)
            done += async[i].done;
    }
    for (int i = 0; i < 4; i++)
        printf("async call %d: status %d, reply \"%s\"\n", i, async[i].status, async[i].reply);

    struct uipc_chan_stats st;
    uipc_chan_stats(ch, &st);
    printf("channel: %llu issued, %llu ok, %u in flight, %u/%u slots free\n",
           (unsigned long long)st.issued, (unsigned long long)st.ok, st.in_flight,
           st.free_slots, st.slots);
    uipc_module_close(mod);
    return 0;
}
