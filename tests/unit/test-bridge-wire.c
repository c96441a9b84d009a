/* SPDX-License-Identifier: MIT */
/* tools/bridge-wire.c: uipc-bridge's frames, and what a REPLY makes the
 * caller see. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <uipc/module.h>

#include "bridge-wire.h"

static struct bridge_frame f;

static void test_hello_round_trip(void **state)
{
    (void)state;
    const char *names[] = { "kv", "echo", "a.b-c_d" };
    uint8_t buf[256];
    int n = bridge_put_hello(buf, sizeof(buf), 0, 0x1234567890abcdefull, names, 3);
    assert_int_equal(n, BRIDGE_HDR + 2 + 3 + 2 + 4 + 7);
    assert_int_equal(bridge_decode(buf, (size_t)n, &f), 0);
    assert_int_equal(f.type, BR_HELLO);
    assert_true(f.id == 0x1234567890abcdefull);
    assert_int_equal(f.nservices, 3);
    assert_string_equal(f.services[0], "kv");
    assert_string_equal(f.services[2], "a.b-c_d");
    /* every truncation is refused, and so is a byte more */
    for (int len = 0; len < n; len++)
        assert_int_equal(bridge_decode(buf, (size_t)len, &f), -EBADMSG);
    buf[n] = 0;
    assert_int_equal(bridge_decode(buf, (size_t)n + 1, &f), -EBADMSG);
    /* too small a buffer, a name too long, an empty one */
    assert_int_equal(bridge_put_hello(buf, 20, 0, 1, names, 3), -ENOSPC);
    char longname[BRIDGE_NAME_MAX + 2];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    const char *bad[] = { longname };
    assert_int_equal(bridge_put_hello(buf, sizeof(buf), 0, 1, bad, 1), -EINVAL);
    const char *empty[] = { "" };
    assert_int_equal(bridge_put_hello(buf, sizeof(buf), 0, 1, empty, 1), -EINVAL);
}

static void test_hello_names_checked(void **state)
{
    (void)state;
    const char *names[] = { "kv" };
    uint8_t buf[64];
    int n = bridge_put_hello(buf, sizeof(buf), 0, 1, names, 1);
    buf[BRIDGE_HDR + 3] = ' '; /* "kv" becomes " v": not a service name */
    assert_int_equal(bridge_decode(buf, (size_t)n, &f), -EBADMSG);
    buf[BRIDGE_HDR + 3] = 'k';
    buf[BRIDGE_HDR + 2] = 200; /* a length past the end */
    assert_int_equal(bridge_decode(buf, (size_t)n, &f), -EBADMSG);
    buf[BRIDGE_HDR + 2] = 2;
    buf[BRIDGE_HDR] = 0xff; /* more services than a module has channels */
    assert_int_equal(bridge_decode(buf, (size_t)n, &f), -EBADMSG);
}

static void test_call_and_reply(void **state)
{
    (void)state;
    uint8_t buf[BRIDGE_CALL_HDR + 5];
    bridge_put_hdr(buf, BR_CALL, 0, 77, 9);
    bridge_put_call(buf + BRIDGE_HDR, 3, 0xdeadbeef, 250);
    memcpy(buf + BRIDGE_CALL_HDR, "hello", 5);
    assert_int_equal(bridge_decode(buf, sizeof(buf), &f), 0);
    assert_int_equal(f.type, BR_CALL);
    assert_true(f.session == 77 && f.id == 9);
    assert_int_equal(f.service, 3);
    assert_true(f.opcode == 0xdeadbeef);
    assert_int_equal(f.timeout_ms, 250);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.payload, "hello", 5);
    assert_int_equal(bridge_decode(buf, BRIDGE_CALL_HDR - 1, &f), -EBADMSG);

    bridge_put_hdr(buf, BR_REPLY, BR_MAY_HAVE_RUN, 77, 9);
    bridge_put_reply(buf + BRIDGE_HDR, -UIPC_EPEERDIED);
    assert_int_equal(bridge_decode(buf, BRIDGE_REPLY_HDR, &f), 0);
    assert_int_equal(f.status, -UIPC_EPEERDIED);
    assert_int_equal(f.outcome, BR_MAY_HAVE_RUN);
    assert_int_equal(f.len, 0);
    buf[5] = 3; /* no such outcome */
    assert_int_equal(bridge_decode(buf, BRIDGE_REPLY_HDR, &f), -EBADMSG);
}

static void test_header_checked(void **state)
{
    (void)state;
    uint8_t buf[BRIDGE_HDR];
    bridge_put_hdr(buf, BR_PING, 0, 1, 2);
    assert_int_equal(bridge_decode(buf, sizeof(buf), &f), 0);
    buf[0] ^= 1; /* magic */
    assert_int_equal(bridge_decode(buf, sizeof(buf), &f), -EBADMSG);
    bridge_put_hdr(buf, BR_PING, 0, 1, 2);
    buf[6] = 1; /* reserved */
    assert_int_equal(bridge_decode(buf, sizeof(buf), &f), -EBADMSG);
    bridge_put_hdr(buf, 9, 0, 1, 2); /* type */
    assert_int_equal(bridge_decode(buf, sizeof(buf), &f), -EBADMSG);
    bridge_put_hdr(buf, BR_PONG, 1, 1, 2); /* an outcome outside a REPLY */
    assert_int_equal(bridge_decode(buf, sizeof(buf), &f), -EBADMSG);
    uint8_t longer[BRIDGE_HDR + 1] = { 0 };
    bridge_put_hdr(longer, BR_PING, 0, 1, 2); /* a PING carries nothing */
    assert_int_equal(bridge_decode(longer, sizeof(longer), &f), -EBADMSG);
}

/* What the exporting side says of a local call, and what the importing
 * side's caller then sees: a call that surely did not run never looks
 * like one that may have. */
static void test_statuses(void **state)
{
    (void)state;
    assert_int_equal(bridge_outcome_of(false, -UIPC_EPEERDIED), BR_NOT_RUN);
    assert_int_equal(bridge_outcome_of(false, -UIPC_ENOSLOT), BR_NOT_RUN);
    assert_int_equal(bridge_outcome_of(true, -UIPC_ENOSLOT), BR_NOT_RUN); /* queued, never sent */
    assert_int_equal(bridge_outcome_of(true, -UIPC_EPEERDIED), BR_MAY_HAVE_RUN);
    assert_int_equal(bridge_outcome_of(true, -UIPC_EPROTO), BR_MAY_HAVE_RUN);
    assert_int_equal(bridge_outcome_of(true, -UIPC_ETIMEDOUT), BR_MAY_HAVE_RUN);
    assert_int_equal(bridge_outcome_of(true, 42), BR_RAN);
    assert_int_equal(bridge_outcome_of(true, -ENOENT), BR_RAN);

    assert_int_equal(bridge_caller_status(BR_RAN, 42), 42);
    assert_int_equal(bridge_caller_status(BR_RAN, -EINVAL), -EINVAL);
    assert_int_equal(bridge_caller_status(BR_NOT_RUN, -UIPC_EPEERDIED), -UIPC_ENOLINK);
    assert_int_equal(bridge_caller_status(BR_NOT_RUN, -ENOENT), -UIPC_ENOLINK);
    assert_int_equal(bridge_caller_status(BR_MAY_HAVE_RUN, -UIPC_EPEERDIED), -UIPC_ELINKLOST);
    assert_int_equal(bridge_caller_status(BR_MAY_HAVE_RUN, -UIPC_EPROTO), -UIPC_ELINKLOST);
    assert_int_equal(bridge_caller_status(BR_MAY_HAVE_RUN, -UIPC_ETIMEDOUT), -UIPC_ETIMEDOUT);
    assert_int_equal(bridge_caller_status(BR_NOT_RUN, -UIPC_ETOOBIG), -UIPC_ETOOBIG);
    assert_int_equal(bridge_caller_status(BR_RAN, -UIPC_ETOOBIG), -UIPC_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_round_trip),
        cmocka_unit_test(test_hello_names_checked),
        cmocka_unit_test(test_call_and_reply),
        cmocka_unit_test(test_header_checked),
        cmocka_unit_test(test_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
