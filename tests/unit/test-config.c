/* SPDX-License-Identifier: MIT */
/* supervisor/config*.c: a good modules.conf loads with every value and
 * default; every kind of bad one fails with the right FILE:LINE; loaded
 * again for a reload (conf_load_again), modules keep their dynamic uids. */
#include <errno.h>
#include <pwd.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "conftest.h"
#include "config-diff.h"
#include "policy.h"

static int setup(void **state)
{
    if (conftest_setup(state) < 0)
        return -1;
    char path[300];
    conftest_write("notexec", "data\n", 0644);
    snprintf(path, sizeof(path), "%s/policies", conftest_dir);
    mkdir(path, 0755);
    conftest_write("policies/kv.policy", "@default kill\nread\nsocket: arg0 == AF_UNIX\n", 0644);
    conftest_write("policies/bad.policy", "@default kill\nread\nsokcet\n", 0644);
    return 0;
}

static struct conf *load_ok(const char *text)
{
    return conftest_load(text, NULL);
}

/* Loads text and expects an error at `line` whose message contains want. */
static void load_bad(const char *text, int line, const char *want)
{
    struct conf *c = NULL;
    char err[CONF_ERR_MAX] = "", prefix[300];
    conftest_write("modules.conf", text, 0644);
    assert_int_equal(conf_load(conftest_conf, &c, err, sizeof(err)), -EINVAL);
    assert_null(c);
    snprintf(prefix, sizeof(prefix), "%s:%d: ", conftest_conf, line);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, want))
        fail_msg("expected \"%s...%s\", got \"%s\"", prefix, want, err);
}

static void test_good(void **state)
{
    (void)state;
    struct conf *c = load_ok(
        "; the example from the issue\n"
        "[supervisor]\n"
        "heartbeat_interval_ms = 50\n"
        "hang_timeout_ms = 700\n"
        "shutdown_timeout_ms = 2000\n"
        "control_socket = /run/uipc/x.sock\n"
        "log_level = debug\n"
        "\n"
        "[module log]\n"
        "exec = mod\n"
        "provides = log\n"
        "\n"
        "[module kv]\n"
        "exec = /bin/true\n"
        "args = --shards 4\n"
        "env = KV_CACHE=64M LANG=C.UTF-8\n"
        "provides = kv, kv2\n"
        "connects = log:128x1024\n"
        "restart = always\n"
        "max_restarts = 7\n"
        "restart_window_s = 30\n"
        "after = log\n"
        "policy = policies/kv.policy\n"
        "capabilities = net_bind_service, CAP_SYS_NICE\n"
        "user = nobody\n"
        "namespaces = pid, mount, net, ipc, uts, user\n"
        "rlimits = memory=256M nofile=64, nproc=16 cpu=infinity core=0\n"
        "hang_timeout_ms = 5000 ; per module\n"
        "backoff_ms = 10\n"
        "backoff_max_ms = 200\n");
    assert_int_equal(c->heartbeat_interval_ms, 50);
    assert_int_equal(c->hang_timeout_ms, 700);
    assert_int_equal(c->shutdown_timeout_ms, 2000);
    assert_string_equal(c->control_socket, "/run/uipc/x.sock");
    assert_int_equal(c->log_level, LOG_DEBUG);
    assert_int_equal(c->line, 2); /* where [supervisor] and its keys are, for reload's messages */
    assert_int_equal(c->key_line[CONF_SV_HANG], 4);
    assert_int_equal(c->key_line[CONF_SV_SOCKET], 6);
    assert_int_equal(c->key_line[CONF_SV_POLICY_DIR], 0);
    assert_int_equal(c->nmod, 2);

    const struct conf_module *log = &c->mod[0], *kv = &c->mod[1];
    char want[300];
    snprintf(want, sizeof(want), "%s/mod", conftest_dir);
    assert_string_equal(log->exec, want);
    assert_string_equal(log->argv[0], want);
    assert_null(log->argv[1]);
    assert_int_equal(log->restart, RESTART_ON_FAILURE); /* defaults */
    assert_int_equal(log->max_restarts, 5);
    assert_int_equal(log->restart_window_s, 60);
    assert_int_equal(log->backoff_ms, 100);
    assert_int_equal(log->backoff_max_ms, 5000);
    assert_int_equal(log->hang_timeout_ms, 0);
    /* no policy key: the build tree's default.policy, refusing with EPERM */
    assert_non_null(strstr(log->policy, "/policies/default.policy"));
    assert_non_null(log->pol);
    assert_int_equal(log->pol->action, POLICY_ERRNO);
    assert_int_equal(log->pol->err, EPERM);

    assert_string_equal(kv->argv[0], "/bin/true");
    assert_string_equal(kv->argv[1], "--shards");
    assert_string_equal(kv->argv[2], "4");
    assert_null(kv->argv[3]);
    assert_string_equal(kv->env[0], "KV_CACHE=64M");
    assert_string_equal(kv->env[1], "LANG=C.UTF-8");
    assert_null(kv->env[2]);
    assert_int_equal(kv->nprovides, 2);
    assert_string_equal(kv->provides[1], "kv2");
    assert_int_equal(kv->nconnects, 1);
    assert_string_equal(kv->connects[0].service, "log");
    assert_int_equal(kv->connects[0].slots, 128);
    assert_int_equal(kv->connects[0].slot_size, 1024);
    assert_int_equal(kv->restart, RESTART_ALWAYS);
    assert_int_equal(kv->max_restarts, 7);
    assert_int_equal(kv->restart_window_s, 30);
    assert_int_equal(kv->nafter, 1);
    assert_string_equal(kv->after[0], "log");
    snprintf(want, sizeof(want), "%s/policies/kv.policy", conftest_dir);
    assert_string_equal(kv->policy, want);
    assert_non_null(kv->pol);
    assert_true(kv->pol->prog.len > 0);
    assert_true(log->pol != kv->pol);
    assert_true(kv->caps == ((1ull << CAP_NET_BIND_SERVICE) | (1ull << CAP_SYS_NICE)));
    assert_true(log->caps == 0);
    assert_true(kv->has_user && !kv->has_group && !log->has_user);
    assert_int_equal(kv->uid, 65534);
    assert_int_equal(kv->gid, getpwnam("nobody")->pw_gid);
    assert_int_equal(kv->namespaces, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
                                         CLONE_NEWUTS | CLONE_NEWUSER);
    /* no sandbox keys: its own mount, ipc and uts namespaces, and a uid and
     * gid of its own from dynamic_uids (61184-65519 by default) */
    assert_int_equal(log->namespaces, CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS);
    assert_true(log->default_namespaces && !kv->default_namespaces);
    assert_true(log->dynamic_user && !kv->dynamic_user);
    assert_true(log->uid >= 61184 && log->uid <= 65519 && log->gid == (gid_t)log->uid);
    assert_true(kv->rlimit[RL_MEMORY] == 256ull << 20);
    assert_true(kv->rlimit[RL_NOFILE] == 64 && kv->rlimit[RL_NPROC] == 16);
    assert_true(kv->rlimit[RL_CPU] == CONF_RLIM_INFINITY && kv->rlimit[RL_CORE] == 0);
    /* no rlimits key: the defaults (no address-space limit in sanitizer
     * builds), the others as set */
    assert_true(log->rlimit[RL_NOFILE] == 4096 && log->rlimit[RL_NPROC] == 512 && log->rlimit[RL_CORE] == 0);
    assert_true(log->rlimit[RL_CPU] == CONF_RLIM_UNSET);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    assert_true(log->rlimit[RL_MEMORY] == 4ull << 30);
#endif
    assert_int_equal(kv->hang_timeout_ms, 5000);
    assert_int_equal(kv->backoff_ms, 10);
    assert_int_equal(kv->backoff_max_ms, 200);
    assert_int_equal(conf_provider(c, "kv2"), 1);
    assert_int_equal(conf_provider(c, "nope"), -1);
    conf_free(c);
}

static void test_defaults(void **state)
{
    (void)state;
    struct conf *c = load_ok("[module a]\nexec = /bin/true\n");
    assert_int_equal(c->heartbeat_interval_ms, 100);
    assert_int_equal(c->hang_timeout_ms, 1000);
    assert_int_equal(c->shutdown_timeout_ms, 3000);
    assert_string_equal(c->control_socket, "/run/uipc/control.sock");
    assert_int_equal(c->log_level, LOG_INFO);
    assert_int_equal(c->log_format, LOGF_TEXT);
    assert_int_equal(c->line, 0);
    conf_free(c);
}

#define MOD_A "[module a]\nexec = /bin/true\n"

static void test_syntax(void **state)
{
    (void)state;
    load_bad(MOD_A "this is not a key\n", 3, "syntax error");
    load_bad(MOD_A "[module b\n", 3, "without ']'");
    load_bad(MOD_A "[modules b]\n", 3, "unknown section [modules b]");
    load_bad(MOD_A "[module b] junk\n", 3, "text after section header");
    load_bad("exec = /bin/true\n", 1, "outside any section");
    load_bad(MOD_A "  provides = x\n", 3, "indented line");
    char longline[400];
    snprintf(longline, sizeof(longline), MOD_A "args = %0300d\n", 1);
    load_bad(longline, 3, "line longer than");
    load_bad("; nothing\n", 1, "no [module NAME] section");
}

static void test_sections_and_keys(void **state)
{
    (void)state;
    load_bad(MOD_A "colour = blue\n", 3, "unknown key 'colour' in [module]");
    load_bad("[supervisor]\nexec = x\n" MOD_A, 2, "unknown key 'exec' in [supervisor]");
    load_bad(MOD_A "exec = /bin/false\n", 3, "'exec' set twice");
    load_bad(MOD_A "[module a]\nexec = /bin/true\n", 3, "module 'a' defined twice (first at line 1)");
    load_bad("[supervisor]\n[supervisor]\n" MOD_A, 2, "second [supervisor] section");
    load_bad("[module a/b]\nexec = /bin/true\n", 1, "bad module name");
    load_bad("[module ]\nexec = /bin/true\n", 1, "unknown section");
}

/* log_format: journal only from a supervisor built with libsystemd
 * (meson passes the test the same UIPC_HAVE_LIBSYSTEMD). */
static void test_log_format(void **state)
{
    (void)state;
    struct conf *c = load_ok("[supervisor]\nlog_format = json\n" MOD_A);
    assert_int_equal(c->log_format, LOGF_JSON);
    conf_free(c);
    load_bad("[supervisor]\nlog_format = xml\n" MOD_A, 2, "'xml' is not one of: text, json, journal");
    load_bad("[supervisor]\nlog_format = json\nlog_format = text\n" MOD_A, 3, "'log_format' set twice");
#ifdef UIPC_HAVE_LIBSYSTEMD
    c = load_ok("; journald\n[supervisor]\nlog_format = journal\n" MOD_A);
    assert_int_equal(c->log_format, LOGF_JOURNAL);
    conf_free(c);
#else
    load_bad("; journald\n[supervisor]\nlog_format = journal\n" MOD_A, 3,
             "log_format = journal: this uipc-supervisor was built without libsystemd");
#endif
}

static void test_values(void **state)
{
    (void)state;
    load_bad("[supervisor]\nheartbeat_interval_ms = fast\n" MOD_A, 2, "'fast' is not a number");
    load_bad("[supervisor]\nheartbeat_interval_ms = 5\n" MOD_A, 2, "from 10 to 60000");
    load_bad("[supervisor]\nshutdown_timeout_ms = -1\n" MOD_A, 2, "is not a number");
    load_bad("[supervisor]\nhang_timeout_ms = 99999999999999999999\n" MOD_A, 2, "from 20 to");
    load_bad("[supervisor]\nlog_level = loud\n" MOD_A, 2, "'loud' is not one of: debug, info, warn, error");
    load_bad("[supervisor]\ncontrol_socket = run/x.sock\n" MOD_A, 2, "absolute path");
    load_bad(MOD_A "restart = sometimes\n", 3, "not one of: always, on-failure, never");
    load_bad(MOD_A "max_restarts = 5x\n", 3, "is not a number");
    load_bad(MOD_A "restart_window_s = 0\n", 3, "from 1 to 86400");
    load_bad(MOD_A "env = NOEQUALS\n", 3, "is not KEY=VALUE");
    load_bad(MOD_A "env = A-B=1\n", 3, "bad variable name");
    load_bad(MOD_A "env = UIPC_BELL=3\n", 3, "are the supervisor's");
    load_bad(MOD_A "provides = a b a\n", 3, "listed twice");
    load_bad(MOD_A "provides = bad/name\n", 3, "bad service name");
    load_bad(MOD_A "connects = x:12\n", 3, "SLOTSxSIZE");
    load_bad(MOD_A "connects = x:0x1024\n", 3, "from 1 to 65536");
    load_bad(MOD_A "connects = x:8x8\n", 3, "from 16 to");
    load_bad(MOD_A "connects = x:65536x16777216\n", 3, "over 1 GiB"); /* each bound alone is fine */
    load_bad(MOD_A "policy =\n", 3, "empty value");
    load_bad("[supervisor]\nheartbeat_interval_ms = 500\nhang_timeout_ms = 400\n" MOD_A, 3,
             "must be longer than heartbeat_interval_ms");
    load_bad(MOD_A "hang_timeout_ms = 100\n", 3, "must be longer than heartbeat_interval_ms");
    load_bad(MOD_A "backoff_ms = 500\nbackoff_max_ms = 400\n", 4, "is less than backoff_ms");
}

static void test_sandbox_keys(void **state)
{
    (void)state;
    load_bad(MOD_A "capabilities = sys_wizard\n", 3, "unknown capability 'sys_wizard'");
    load_bad(MOD_A "namespaces = pid, time\n", 3, "unknown namespace 'time'");
    load_bad(MOD_A "namespaces = pid, net\n", 3, "pid needs mount too");
    load_bad(MOD_A "rlimits = memory\n", 3, "is not NAME=VALUE");
    load_bad(MOD_A "rlimits = stack=1\n", 3, "unknown rlimit 'stack'");
    load_bad(MOD_A "rlimits = memory=lots\n", 3, "rlimit memory: 'lots' is not a number (with K, M or G), or infinity");
    load_bad(MOD_A "rlimits = nofile=64K\n", 3, "rlimit nofile: '64K' is not a number or infinity");
    load_bad(MOD_A "rlimits = core=0 core=1\n", 3, "rlimit 'core' set twice");
    load_bad(MOD_A "user = no-such-user-here\n", 3, "no user 'no-such-user-here'");
    load_bad(MOD_A "group = no-such-group-here\n", 3, "no group 'no-such-group-here'");
    load_bad(MOD_A "user = 4242424\n", 3, "has no passwd entry: set group too");
    struct conf *c = load_ok(MOD_A "user = 4242424\ngroup = 77\n");
    assert_int_equal(c->mod[0].uid, 4242424);
    assert_int_equal(c->mod[0].gid, 77);
    conf_free(c);
    /* a policy that cannot be opened: the modules.conf line; an error in
     * the policy: the policy's own FILE:LINE */
    load_bad(MOD_A "\npolicy = policies/none.policy\n", 4, "policies/none.policy: No such file or directory");
    struct conf *bad = NULL;
    char err[CONF_ERR_MAX], want[400];
    conftest_write("modules.conf", MOD_A "policy = policies/bad.policy\n", 0644);
    assert_int_equal(conf_load(conftest_conf, &bad, err, sizeof(err)), -EINVAL);
    assert_null(bad);
    snprintf(want, sizeof(want), "%s/policies/bad.policy:3: unknown syscall 'sokcet'", conftest_dir);
    assert_string_equal(err, want);
    /* "none": no filter; a policy_dir without default.policy: the module's
     * header, and the way out */
    c = load_ok(MOD_A "policy = none\n");
    assert_null(c->mod[0].policy);
    assert_null(c->mod[0].pol);
    conf_free(c);
    /* dynamic uids: one per module, following its name, not its place */
    c = load_ok("[module a]\nexec = /bin/true\n[module b]\nexec = /bin/true\n");
    uid_t ua = c->mod[0].uid, ub = c->mod[1].uid;
    assert_true(ua != ub && c->mod[0].dynamic_user && c->mod[1].dynamic_user);
    conf_free(c);
    c = load_ok("[module b]\nexec = /bin/true\n[module a]\nexec = /bin/true\n");
    assert_true(c->mod[0].uid == ub && c->mod[1].uid == ua);
    conf_free(c);
    c = load_ok("[supervisor]\ndynamic_uids = 70000-70127\n" MOD_A "writable = /var/tmp\n");
    assert_true(c->mod[0].uid >= 70000 && c->mod[0].uid <= 70127);
    assert_int_equal(c->mod[0].nwritable, 1);
    assert_string_equal(c->mod[0].writable[0], "/var/tmp");
    conf_free(c);
    c = load_ok(MOD_A "user = root\nnamespaces = none\n");
    assert_true(c->mod[0].uid == 0 && !c->mod[0].dynamic_user && c->mod[0].namespaces == 0);
    conf_free(c);
    load_bad("[supervisor]\ndynamic_uids = 70000-70010\n" MOD_A, 2, "dynamic_uids: at least 128 uids");
    load_bad("[supervisor]\ndynamic_uids = 0-1000\n" MOD_A, 2, "dynamic_uids must be FIRST-LAST");
    load_bad("[supervisor]\ndynamic_uids = 9-x\n" MOD_A, 2, "dynamic_uids must be FIRST-LAST");
    load_bad(MOD_A "writable = var/tmp\n", 3, "writable: 'var/tmp' is not an absolute path");
    /* [supervisor] rlimits: the defaults a module's own override, each */
    c = load_ok("[supervisor]\nrlimits = nofile=100 memory=infinity\n" MOD_A "rlimits = nofile=7\n");
    assert_true(c->mod[0].rlimit[RL_NOFILE] == 7 && c->mod[0].rlimit[RL_MEMORY] == CONF_RLIM_INFINITY);
    assert_true(c->mod[0].rlimit[RL_NPROC] == 512);
    conf_free(c);
    load_bad("[supervisor]\nrlimits = nofile=1 nofile=2\n" MOD_A, 2, "rlimit 'nofile' set twice");
    load_bad("[supervisor]\npolicy_dir = nowhere\n" MOD_A, 3,
             "[module a] has no policy key, and the default policy");
    c = load_ok("[supervisor]\npolicy_dir = policies\n" MOD_A "policy = policies/kv.policy\n");
    conf_free(c);
}

static void test_whole_file(void **state)
{
    (void)state;
    load_bad("[module a]\nprovides = x\n", 1, "[module a] has no exec");
    load_bad("[module a]\nexec = nothere\n", 2, "not an executable file");
    load_bad("[module a]\nexec = notexec\n", 2, "not an executable file");
    load_bad("[module a]\nexec = /tmp\n", 2, "not an executable file");
    load_bad(MOD_A "connects = log\n", 3, "no module provides service 'log'");
    load_bad(MOD_A "provides = log\n[module b]\nexec = /bin/true\nprovides = log\n", 6,
             "service 'log' is provided by both a (line 3) and b");
    load_bad(MOD_A "provides = s\nconnects = s\n", 4, "connects to its own service");
    load_bad(MOD_A "after = ghost\n", 3, "after: no module named 'ghost'");
    load_bad(MOD_A "after = a\n", 3, "cannot start after itself");
    load_bad(MOD_A "after = c\n[module b]\nexec = /bin/true\nafter = a\n"
             "[module c]\nexec = /bin/true\nafter = b\n", 3, "'after' forms a cycle");
    struct conf *c = NULL;
    char err[CONF_ERR_MAX];
    assert_int_equal(conf_load("/nonexistent/modules.conf", &c, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/modules.conf: "));
}

/* ---- conf_load_again: dynamic uids stay across a reload ---- */

#define RANGE "[supervisor]\ndynamic_uids = 3000000-3000127\n"
#define SPAN 128u

/* config-os.c's: FNV-1a of the name, in the range */
static unsigned slot(const char *name)
{
    uint32_t h = 2166136261u;
    for (; *name; name++)
        h = (h ^ (unsigned char)*name) * 16777619u;
    return h % SPAN;
}

static void test_uid_kept(void **state)
{
    (void)state;
    struct conf *old = conftest_load(RANGE "[module keep]\nexec = mod\npolicy = none\n", NULL);
    uid_t kept = old->mod[0].uid;
    assert_int_equal(kept, 3000000 + slot("keep")); /* nothing else in the range */
    /* a name whose hash falls on keep's uid */
    char other[32];
    for (unsigned n = 0;; n++) {
        snprintf(other, sizeof(other), "new%u", n);
        if (slot(other) == slot("keep"))
            break;
    }
    char text[512];
    snprintf(text, sizeof(text), RANGE "[module %s]\nexec = mod\npolicy = none\n"
                                       "[module keep]\nexec = mod\npolicy = none\n", other);
    /* loaded afresh, the new module, first in the file, takes keep's uid */
    struct conf *fresh = conftest_load(text, NULL);
    assert_int_equal(conftest_module(fresh, other)->uid, kept);
    assert_int_not_equal(conftest_module(fresh, "keep")->uid, kept);
    assert_false(conf_module_same(&old->mod[0], conftest_module(fresh, "keep")));
    /* loaded again after old, keep keeps it: the same module, no restart */
    struct conf *again = conftest_load(text, old);
    assert_int_equal(conftest_module(again, "keep")->uid, kept);
    assert_int_equal(conftest_module(again, "keep")->gid, kept);
    assert_true(conftest_module(again, other)->dynamic_user);
    assert_int_not_equal(conftest_module(again, other)->uid, kept);
    assert_true(conf_module_same(&old->mod[0], conftest_module(again, "keep")));
    /* and again after that: both stay where they are */
    struct conf *third = conftest_load(text, again);
    assert_int_equal(conftest_module(third, "keep")->uid, kept);
    assert_int_equal(conftest_module(third, other)->uid, conftest_module(again, other)->uid);
    conf_free(third);
    conf_free(again);
    conf_free(fresh);
    conf_free(old);
}

static void test_uid_not_kept(void **state)
{
    (void)state;
    struct conf *old = conftest_load(RANGE "[module keep]\nexec = mod\npolicy = none\n", NULL);
    /* the range moved away from it: a uid in the new one */
    struct conf *c = conftest_load("[supervisor]\ndynamic_uids = 4000000-4000127\n"
                          "[module keep]\nexec = mod\npolicy = none\n", old);
    assert_int_equal(c->mod[0].uid, 4000000 + slot("keep"));
    conf_free(c);
    /* a user key now: that user */
    c = conftest_load(RANGE "[module keep]\nexec = mod\npolicy = none\nuser = 4242424\ngroup = 4242\n", old);
    assert_false(c->mod[0].dynamic_user);
    assert_int_equal(c->mod[0].uid, 4242424);
    conf_free(c);
    /* a user key before, none now: from its hash, as a new module */
    struct conf *user = conftest_load(RANGE "[module x]\nexec = mod\npolicy = none\nuser = 3000000\ngroup = 7\n",
                                      NULL);
    c = conftest_load(RANGE "[module x]\nexec = mod\npolicy = none\n", user);
    assert_true(c->mod[0].dynamic_user);
    assert_int_equal(c->mod[0].uid, 3000000 + slot("x"));
    conf_free(c);
    conf_free(user);
    conf_free(old);
}

/* One server providing a service to more clients than libmodule can
 * wait on at once. */
static void test_channel_limit(void **state)
{
    (void)state;
    size_t cap = 64 * 1024, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len,
                            "[module srv]\nexec = /bin/true\nprovides = s\nconnects = t\n");
    len += (size_t)snprintf(text + len, cap - len,
                            "[module c0]\nexec = /bin/true\nconnects = s\nprovides = t\n");
    for (int i = 1; i < 126; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "[module c%d]\nexec = /bin/true\nconnects = s\n", i);
    load_bad(text, 1, "module srv would hold 127 channels; at most 126");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_sections_and_keys),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_sandbox_keys),
        cmocka_unit_test(test_whole_file),
        cmocka_unit_test(test_channel_limit),
        cmocka_unit_test(test_uid_kept),
        cmocka_unit_test(test_uid_not_kept),
        cmocka_unit_test(test_log_format),
    };
    return cmocka_run_group_tests(tests, setup, conftest_teardown);
}
