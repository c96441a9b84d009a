/* SPDX-License-Identifier: MIT */
/* The shared library keeps binaries built against libmodule 0.1 working
 * (call.c, uipc__call_0_1; libuipc-module.map): modules/old-abi-client.c,
 * built with the 0.1 struct uipc_call, exec'd by the bed against an echo
 * server, makes sync and async calls. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "bed.h"
#include "testmod.h"

#define TIMEOUT_MS 60000

static const char *old_client(void)
{
    const char *path = getenv("UIPC_OLD_ABI_CLIENT");
    if (!path)
        fail_msg("UIPC_OLD_ABI_CLIENT is not set (meson test sets it)");
    return path;
}

static void test_old_binary_runs(void **state)
{
    (void)state;
    static char *argv[2];
    struct uipc_bed *b;
    int st;
    argv[0] = (char *)old_client();
    assert_int_equal(uipc__bed_new(&b), 0);
    int srv = uipc__bed_module(b, "server", testmod_echo_main, NULL);
    int cli = uipc__bed_module_exec(b, "client", argv);
    assert_true(uipc__bed_channel(b, cli, srv, "echo", 0, 0) >= 0);
    assert_int_equal(uipc__bed_start_all(b), 0);
    assert_int_equal(uipc__bed_wait(b, cli, TIMEOUT_MS, &st), cli);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(uipc__bed_kill(b, srv, SIGTERM), 0);
    assert_int_equal(uipc__bed_wait(b, srv, TIMEOUT_MS, &st), srv);
    assert_int_equal(st, 0);
    uipc__bed_free(b);
}

/* And it is the old entry point it runs through: its dynamic symbol
 * table asks for uipc_call of version UIPC_0.1. */
static void test_old_binary_binds_0_1(void **state)
{
    (void)state;
    char cmd[4096], line[512];
    bool old = false, other = false;
    snprintf(cmd, sizeof(cmd), "objdump -T '%s' 2>/dev/null", old_client());
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof(line), p)) {
        size_t n = strlen(line);
        if (n < 11 || strcmp(line + n - 11, " uipc_call\n") != 0)
            continue;
        old |= strstr(line, "(UIPC_0.1)") != NULL;
        other |= strstr(line, "UIPC_0.2") != NULL;
    }
    int st = pclose(p);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        skip(); /* no objdump here: the run above is the real test */
    assert_true(old);
    assert_false(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_binary_runs),
        cmocka_unit_test(test_old_binary_binds_0_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
