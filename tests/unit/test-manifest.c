/* SPDX-License-Identifier: MIT */
/* Parsing the channel manifest and fd numbers a module gets in its
 * environment (libmodule/manifest.c): strict about everything. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define MAX_ENTS 4
#define N_OF(a)  (sizeof(a) / sizeof((a)[0]))

static void check_ent(const struct uipc_manifest_ent *e, enum uipc_role role,
                      const char *service, int region_fd, int peer_bell)
{
    assert_int_equal(e->role, role);
    assert_string_equal(e->service, service);
    assert_int_equal(e->region_fd, region_fd);
    assert_int_equal(e->peer_bell, peer_bell);
}

/* Parses s into a fresh table of MAX_ENTS; returns the error, *n the count. */
static int parse(const char *s, struct uipc_manifest_ent *ents, unsigned *n)
{
    memset(ents, 0xee, MAX_ENTS * sizeof(*ents));
    *n = 12345;
    return uipc__manifest_parse(s, ents, MAX_ENTS, n);
}

static void expect_invalid(const char *s)
{
    struct uipc_manifest_ent ents[MAX_ENTS];
    unsigned n;
    int err = parse(s, ents, &n);
    if (err != -EINVAL)
        fail_msg("\"%s\": returned %d, want -EINVAL", s ? s : "(null)", err);
}

static void test_good(void **state)
{
    (void)state;
    struct uipc_manifest_ent e[MAX_ENTS];
    unsigned n;

    assert_int_equal(parse("", e, &n), 0);
    assert_int_equal(n, 0);

    assert_int_equal(parse("S:kv:5:6", e, &n), 0);
    assert_int_equal(n, 1);
    check_ent(&e[0], UIPC_SERVER, "kv", 5, 6);

    assert_int_equal(parse("S:kv:5:6,C:log:7:8", e, &n), 0);
    assert_int_equal(n, 2);
    check_ent(&e[0], UIPC_SERVER, "kv", 5, 6);
    check_ent(&e[1], UIPC_CLIENT, "log", 7, 8);

    /* The shortest entry, fd 0 and the largest fd. */
    assert_int_equal(parse("C:x:0:2147483647", e, &n), 0);
    assert_int_equal(n, 1);
    check_ent(&e[0], UIPC_CLIENT, "x", 0, 2147483647);
    assert_int_equal(parse("S:k:1:2", e, &n), 0);
    check_ent(&e[0], UIPC_SERVER, "k", 1, 2);

    /* A server has one channel per client, all for the same service; and a
     * module may both serve and call one service. */
    assert_int_equal(parse("S:kv:3:4,S:kv:5:6,C:kv:7:8", e, &n), 0);
    assert_int_equal(n, 3);
    check_ent(&e[1], UIPC_SERVER, "kv", 5, 6);
    check_ent(&e[2], UIPC_CLIENT, "kv", 7, 8);
}

static void test_longest_name(void **state)
{
    (void)state;
    char name[UIPC_SERVICE_MAX + 1], s[UIPC_SERVICE_MAX + 32];
    struct uipc_manifest_ent e[MAX_ENTS];
    unsigned n;

    memset(name, 'n', sizeof(name) - 1);
    name[UIPC_SERVICE_MAX - 1] = '\0'; /* 63 characters: fits */
    snprintf(s, sizeof(s), "C:%s:2147483647:2147483646", name);
    assert_int_equal(parse(s, e, &n), 0);
    assert_int_equal(n, 1);
    check_ent(&e[0], UIPC_CLIENT, name, 2147483647, 2147483646);

    name[UIPC_SERVICE_MAX - 1] = 'n';
    name[UIPC_SERVICE_MAX] = '\0'; /* 64: no room for the terminator */
    snprintf(s, sizeof(s), "C:%s:5:6", name);
    expect_invalid(s);
}

static void test_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        NULL,
        /* Missing fields. */
        "S", "S:", "S:kv", "S:kv:", "S:kv:5", "S:kv:5:", "S:kv::6", "S::5:6", "S:::",
        ":kv:5:6",
        /* Role. */
        "X:kv:5:6", "s:kv:5:6", "c:kv:5:6", "SC:kv:5:6", " S:kv:5:6",
        /* Fds: sign, junk, overflow. */
        "S:kv:-1:6", "S:kv:5:-6", "S:kv:+5:6", "S:kv: 5:6", "S:kv:5 :6", "S:kv:5:6 ",
        "S:kv:x:6", "S:kv:5:0x6", "S:kv:2147483648:6", "S:kv:5:4294967302",
        "S:kv:5:99999999999999999999999", "S:kv:5:6:7",
        /* List structure. */
        "S:kv:5:6,", ",S:kv:5:6", "S:kv:5:6,,C:log:7:8", ",",
        "S:kv:5:6,C:log:7", "S:kv:5:6,X:log:7:8",
        /* One client end per service. */
        "C:kv:1:2,C:kv:3:4", "C:kv:1:2,S:log:3:4,C:kv:5:6",
    };
    for (size_t i = 0; i < N_OF(bad); i++)
        expect_invalid(bad[i]);
}

static void test_too_many(void **state)
{
    (void)state;
    struct uipc_manifest_ent e[MAX_ENTS];
    unsigned n;

    assert_int_equal(parse("S:a:1:2,S:b:3:4,S:c:5:6,S:d:7:8", e, &n), 0);
    assert_int_equal(n, MAX_ENTS);
    check_ent(&e[3], UIPC_SERVER, "d", 7, 8);
    assert_int_equal(parse("S:a:1:2,S:b:3:4,S:c:5:6,S:d:7:8,S:e:9:10", e, &n), -E2BIG);

    /* A table of two, and of none. */
    assert_int_equal(uipc__manifest_parse("S:a:1:2,S:b:3:4", e, 2, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(uipc__manifest_parse("S:a:1:2,S:b:3:4,C:c:5:6", e, 2, &n), -E2BIG);
    assert_int_equal(uipc__manifest_parse("S:a:1:2", e, 0, &n), -E2BIG);
    assert_int_equal(uipc__manifest_parse("", e, 0, &n), 0);
    assert_int_equal(n, 0);
}

static void test_parse_fd(void **state)
{
    (void)state;
    static const struct { const char *s; int fd; } good[] = {
        { "0", 0 }, { "7", 7 }, { "1023", 1023 }, { "007", 7 }, { "2147483647", 2147483647 },
    };
    static const char *const bad[] = {
        NULL, "", "-1", "-0", "+1", " 1", "1 ", "1x", "x1", "0x10", "1.0", "1e3",
        "2147483648", "4294967296", "9223372036854775807", "9223372036854775808",
        "99999999999999999999999",
    };
    for (size_t i = 0; i < N_OF(good); i++) {
        int fd = -1;
        assert_int_equal(uipc__parse_fd(good[i].s, &fd), 0);
        assert_int_equal(fd, good[i].fd);
    }
    for (size_t i = 0; i < N_OF(bad); i++) {
        int fd = -42;
        int err = uipc__parse_fd(bad[i], &fd);
        if (err != -EINVAL || fd != -42)
            fail_msg("\"%s\": returned %d, fd %d; want -EINVAL, fd untouched",
                     bad[i] ? bad[i] : "(null)", err, fd);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_longest_name),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_parse_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
