/* SPDX-License-Identifier: MIT */
/* uipc_call_buf (call.c), bytes in and bytes out, at its edges: nothing,
 * a whole slot, a byte over, a reply larger than the caller's buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "testmod.h"

#define TIMEOUT_MS 60000
#define SLOT 1024

static void stats(uipc_chan *ch, struct uipc_chan_stats *st)
{
    CHECK_EQ(uipc_chan_stats(ch, st), 0);
}

static void all_unwritten(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        CHECK_EQ(p[i], 0xee);
}

static int client_edges(void *arg)
{
    (void)arg;
    static unsigned char req[SLOT + 1], rep[SLOT + 16];
    struct uipc_chan_stats st0, st;
    size_t len = 99;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);

    /* nothing in, nothing out */
    CHECK_EQ(uipc_call_buf(ch, OP_ECHO, NULL, 0, NULL, 0, &len, 0), 0);
    CHECK_EQ(len, 0);
    /* an echo, and not a byte past it */
    testmod_pattern(req, 100, 1);
    memset(rep, 0xee, sizeof(rep));
    CHECK_EQ(uipc_call_buf(ch, OP_ECHO, req, 100, rep, sizeof(rep), &len, 0), 100);
    CHECK_EQ(len, 100);
    CHECK(memcmp(rep, req, 100) == 0);
    all_unwritten(rep + 100, sizeof(rep) - 100);
    /* exactly a slot, into exactly its size */
    testmod_pattern(req, SLOT, 2);
    CHECK_EQ(uipc_call_buf(ch, OP_ECHO, req, SLOT, rep, SLOT, &len, 0), SLOT);
    CHECK_EQ(len, SLOT);
    CHECK(memcmp(rep, req, SLOT) == 0);

    /* a byte over the slot: refused, nothing sent */
    stats(ch, &st0);
    len = 99;
    CHECK_EQ(uipc_call_buf(ch, OP_ECHO, req, SLOT + 1, rep, sizeof(rep), &len, 0), -UIPC_ETOOBIG);
    CHECK_EQ(len, 0);
    stats(ch, &st);
    CHECK_EQ(st.issued, st0.issued);

    /* a reply larger than the buffer: the command ran, nothing is copied,
     * and *rep_len says what it needs */
    memset(rep, 0xee, sizeof(rep));
    CHECK_EQ(uipc_call_buf(ch, OP_ECHO, req, 100, rep, 10, &len, 0), -UIPC_ETOOBIG);
    CHECK_EQ(len, 100);
    all_unwritten(rep, sizeof(rep));
    CHECK_EQ(uipc_call_buf(ch, OP_ECHO, req, 5, NULL, 0, &len, 0), -UIPC_ETOOBIG);
    CHECK_EQ(len, 5);
    stats(ch, &st);
    CHECK_EQ(st.issued, st0.issued + 2);
    CHECK_EQ(st.ok, st0.ok + 2);

    /* the handler's status as it is; no length wanted */
    int v = 77;
    CHECK_EQ(uipc_call_buf(ch, OP_STATUS, &v, sizeof(v), rep, sizeof(rep), &len, 0), 77);
    CHECK_EQ(len, 0);
    CHECK_EQ(uipc_call_buf(ch, OP_ECHO, req, 5, rep, 5, NULL, 0), 5);
    /* a reply that did not fit the server's slot */
    CHECK_EQ(uipc_call_buf(ch, OP_BIGREPLY, req, 4, rep, sizeof(rep), &len, 0), -UIPC_ETOOBIG);
    CHECK_EQ(len, 0);

    CHECK_EQ(uipc_call_buf(ch, OP_ECHO, NULL, 4, rep, 4, &len, 0), -EINVAL);
    CHECK_EQ(uipc_call_buf(ch, OP_ECHO, req, 4, NULL, 4, &len, 0), -EINVAL);
    CHECK_EQ(uipc_call_buf(NULL, OP_ECHO, req, 4, rep, 4, &len, 0), -EINVAL);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_call_buf_edges(void **state)
{
    (void)state;
    int st = testmod_run_pair(client_edges, NULL, 8, SLOT, TIMEOUT_MS);
    assert_true(st >= 0 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_buf_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
