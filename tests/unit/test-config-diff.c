/* SPDX-License-Identifier: MIT */
/* supervisor/config-diff.c, what a reload compares: a module is the same
 * until one of its own settings changes, each of them alone, its policy
 * file's content included; [supervisor] changes are told, or refused with
 * the key's FILE:LINE. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config.h"
#include "config-diff.h"
#include "conftest.h"

static int setup(void **state)
{
    if (conftest_setup(state) < 0)
        return -1;
    conftest_write("mod2", "#!/bin/sh\n", 0755);
    conftest_write("a.policy", "@default kill\nread\n", 0644);
    conftest_write("copy.policy", "@default kill\nread\n", 0644);
    return 0;
}

static struct conf *load(const char *text)
{
    return conftest_load(text, NULL);
}

/* ---- conf_module_same ---- */

/* Module a with every key, one per line; b and c for after and connects. */
static const char *const a_keys[] = {
    "exec = mod", "args = x y", "env = A=1 B=2", "provides = s1, s2", "after = b",
    "policy = a.policy", "capabilities = net_bind_service", "user = 4242424", "group = 4242",
    "namespaces = mount, ipc", "writable = /tmp", "rlimits = nofile=100",
    "restart = always", "max_restarts = 3", "restart_window_s = 30", "backoff_ms = 10",
    "backoff_max_ms = 200", "hang_timeout_ms = 5000", "connects = t",
};
#define A_KEYS (sizeof(a_keys) / sizeof(a_keys[0]))

/* The config with a's line k replaced by line (NULL: removed), after a
 * comment of `shift` lines. */
static void config_text(char *buf, size_t len, unsigned shift, int k, const char *line)
{
    size_t n = 0;
    for (unsigned i = 0; i < shift; i++)
        n += (size_t)snprintf(buf + n, len - n, "; moved down\n");
    n += (size_t)snprintf(buf + n, len - n, "[module a]\n");
    for (int i = 0; i < (int)A_KEYS; i++)
        if (i != k || line)
            n += (size_t)snprintf(buf + n, len - n, "%s\n", i == k ? line : a_keys[i]);
    snprintf(buf + n, len - n, "[module b]\nexec = mod\npolicy = none\nprovides = t, u\n"
                               "[module c]\nexec = mod\npolicy = none\n");
}

static void test_same_when_unchanged(void **state)
{
    (void)state;
    char text[2048];
    config_text(text, sizeof(text), 0, -1, NULL);
    struct conf *old = load(text);
    /* the same file again, and moved down: lines are not settings */
    config_text(text, sizeof(text), 3, -1, NULL);
    struct conf *moved = load(text);
    for (unsigned i = 0; i < old->nmod; i++)
        assert_true(conf_module_same(&old->mod[i], conftest_module(moved, old->mod[i].name)));
    assert_int_not_equal(old->mod[0].line, moved->mod[0].line);
    /* connects is the caller's to compare */
    int k = (int)A_KEYS - 1;
    config_text(text, sizeof(text), 0, k, "connects = t, u");
    struct conf *conn = load(text);
    assert_true(conf_module_same(conftest_module(old, "a"), conftest_module(conn, "a")));
    conf_free(conn);
    conf_free(moved);
    conf_free(old);
}

/* Each setting alone, changed, makes a differ, and only a. */
static void test_each_setting_differs(void **state)
{
    (void)state;
    static const struct { int key; const char *line; } edits[] = {
        { 0, "exec = mod2" },
        { 1, "args = x z" }, { 1, "args = y x" }, { 1, NULL },
        { 2, "env = A=1 B=3" }, { 2, "env = A=1" },
        { 3, "provides = s2, s1" }, { 3, "provides = s1" },
        { 4, "after = c" }, { 4, "after = b, c" },
        { 5, "policy = none" }, { 5, "policy = copy.policy" }, /* a copy: the same filter, another path */
        { 6, "capabilities = net_bind_service, sys_nice" }, { 6, NULL },
        { 7, "user = 4242425" },
        { 8, "group = 4243" },
        { 9, "namespaces = mount, ipc, uts" }, { 9, "namespaces = mount, ipc, net" },
        { 10, "writable = /var/tmp" }, { 10, "writable = /tmp /var/tmp" },
        { 11, "rlimits = nofile=101" }, { 11, "rlimits = nofile=100 core=infinity" },
        { 12, "restart = never" },
        { 13, "max_restarts = 4" },
        { 14, "restart_window_s = 31" },
        { 15, "backoff_ms = 11" },
        { 16, "backoff_max_ms = 201" },
        { 17, "hang_timeout_ms = 5001" }, { 17, NULL },
    };
    char text[2048];
    config_text(text, sizeof(text), 0, -1, NULL);
    struct conf *old = load(text);
    for (size_t e = 0; e < sizeof(edits) / sizeof(edits[0]); e++) {
        config_text(text, sizeof(text), 0, edits[e].key, edits[e].line);
        struct conf *c = load(text);
        if (conf_module_same(conftest_module(old, "a"), conftest_module(c, "a")))
            fail_msg("'%s' -> '%s': a is the same", a_keys[edits[e].key],
                     edits[e].line ? edits[e].line : "(no key)");
        assert_true(conf_module_same(conftest_module(old, "b"), conftest_module(c, "b")));
        assert_true(conf_module_same(conftest_module(old, "c"), conftest_module(c, "c")));
        conf_free(c);
    }
    conf_free(old);
}

/* A default is not the same as a key with the default's value: the
 * supervisor applies a default more leniently. */
static void test_defaults_differ_from_keys(void **state)
{
    (void)state;
    struct conf *old = load("[module a]\nexec = mod\npolicy = none\n");
    static const char *const explicit[] = {
        "[module a]\nexec = mod\npolicy = none\nnamespaces = mount, ipc, uts\n",
        "[module a]\nexec = mod\npolicy = none\nrlimits = nproc=512\n",
    };
    for (size_t i = 0; i < sizeof(explicit) / sizeof(explicit[0]); i++) {
        struct conf *c = load(explicit[i]);
        assert_false(conf_module_same(&old->mod[0], &c->mod[0]));
        conf_free(c);
    }
    /* a dynamic uid against the same uid as a user key */
    char text[256];
    snprintf(text, sizeof(text), "[module a]\nexec = mod\npolicy = none\nuser = %u\ngroup = %u\n",
             (unsigned)old->mod[0].uid, (unsigned)old->mod[0].gid);
    struct conf *c = load(text);
    assert_false(conf_module_same(&old->mod[0], &c->mod[0]));
    conf_free(c);
    conf_free(old);
}

/* An operator who edits the policy file and reloads expects the edit to
 * apply: same path, other content. */
static void test_policy_content(void **state)
{
    (void)state;
    static const char text[] = "[module a]\nexec = mod\npolicy = a.policy\n";
    struct conf *old = load(text);
    struct conf *again = load(text);
    assert_true(conf_module_same(&old->mod[0], &again->mod[0]));
    conftest_write("a.policy", "@default kill\nread\nwrite\n", 0644);
    struct conf *edited = load(text);
    assert_false(conf_module_same(&old->mod[0], &edited->mod[0]));
    conftest_write("a.policy", "@default log\nread\n", 0644);
    struct conf *action = load(text);
    assert_false(conf_module_same(&old->mod[0], &action->mod[0]));
    conftest_write("a.policy", "@default kill\nread\n", 0644); /* as setup wrote it */
    conf_free(action);
    conf_free(edited);
    conf_free(again);
    conf_free(old);
}

/* ---- conf_supervisor_diff ---- */

static void expect_diff(const struct conf *old, const char *text, int ret, const char *want)
{
    char msg[512] = "x";
    struct conf *c = load(text);
    int r = conf_supervisor_diff(old, c, msg, sizeof(msg));
    if (r != ret || strcmp(msg, want) != 0)
        fail_msg("expected %d \"%s\", got %d \"%s\"", ret, want, r, msg);
    conf_free(c);
}

#define MOD "[module a]\nexec = mod\npolicy = none\n"

static void test_supervisor_live(void **state)
{
    (void)state;
    struct conf *old = load("[supervisor]\nhang_timeout_ms = 5000\n" MOD);
    expect_diff(old, "[supervisor]\nhang_timeout_ms = 5000\n" MOD, 0, "");
    expect_diff(old, "; a comment\n[supervisor]\nhang_timeout_ms = 5000\n" MOD, 0, "");
    expect_diff(old, "[supervisor]\nlog_level = debug\nhang_timeout_ms = 8000\n" MOD, 0,
                "log_level info -> debug; hang_timeout_ms 5000 -> 8000");
    expect_diff(old, MOD, 0, "hang_timeout_ms 5000 -> 1000"); /* back to the default */
    expect_diff(old, "[supervisor]\nhang_timeout_ms = 5000\nlog_format = json\n" MOD, 0, "log_format text -> json");
    expect_diff(old,
                "[supervisor]\nhang_timeout_ms = 5000\nheartbeat_interval_ms = 50\nshutdown_timeout_ms = 10\n"
                "policy_dir = /etc/uipc\ndynamic_uids = 70000-70999\n" MOD, 0,
                "heartbeat_interval_ms 100 -> 50; shutdown_timeout_ms 3000 -> 10; "
                "policy_dir (built-in) -> /etc/uipc; dynamic_uids 61184-65519 -> 70000-70999");
    /* what cannot change stays as it was: no restart needed */
    expect_diff(old, "[supervisor]\nhang_timeout_ms = 5000\ncontrol_socket = /run/uipc/control.sock\n"
                     "control_from_modules = no\n" MOD, 0, "");
    conf_free(old);
}

static void test_supervisor_restart(void **state)
{
    (void)state;
    char want[512];
    struct conf *old = load("[supervisor]\ncontrol_socket = /run/x.sock\n" MOD);
    /* the key's line in the new file, even when live settings changed too */
    snprintf(want, sizeof(want), "%s:4: control_socket cannot change while the supervisor runs (restart it)",
             conftest_conf);
    expect_diff(old, "\n[supervisor]\nlog_level = warn\ncontrol_socket = /run/y.sock\n" MOD, -EINVAL, want);
    snprintf(want, sizeof(want),
             "%s:3: control_from_modules cannot change while the supervisor runs (restart it)", conftest_conf);
    expect_diff(old, "[supervisor]\ncontrol_socket = /run/x.sock\ncontrol_from_modules = yes\n" MOD, -EINVAL,
                want);
    /* the key is gone: its section's header; the section is gone: line 1 */
    snprintf(want, sizeof(want), "%s:2: control_socket cannot change while the supervisor runs (restart it)",
             conftest_conf);
    expect_diff(old, "\n[supervisor]\nlog_level = warn\n" MOD, -EINVAL, want);
    snprintf(want, sizeof(want), "%s:1: control_socket cannot change while the supervisor runs (restart it)",
             conftest_conf);
    expect_diff(old, MOD, -EINVAL, want);
    conf_free(old);
}

static void test_supervisor_msg_len(void **state)
{
    (void)state;
    struct conf *old = load(MOD);
    struct conf *c = load("[supervisor]\nlog_level = debug\nhang_timeout_ms = 8000\n" MOD);
    char msg[12];
    memset(msg, 'x', sizeof(msg));
    assert_int_equal(conf_supervisor_diff(old, c, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "log_level i"); /* cut, and terminated */
    assert_int_equal(conf_supervisor_diff(old, c, NULL, 0), 0);
    conf_free(c);
    conf_free(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_when_unchanged),
        cmocka_unit_test(test_each_setting_differs),
        cmocka_unit_test(test_defaults_differ_from_keys),
        cmocka_unit_test(test_policy_content),
        cmocka_unit_test(test_supervisor_live),
        cmocka_unit_test(test_supervisor_restart),
        cmocka_unit_test(test_supervisor_msg_len),
    };
    return cmocka_run_group_tests(tests, setup, conftest_teardown);
}
