/* SPDX-License-Identifier: MIT */
/* The config tests' scratch directory and loader (conftest.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "conftest.h"

char conftest_dir[] = "/tmp/uipc-conftest-XXXXXX";
char conftest_conf[sizeof(conftest_dir) + 16];

int conftest_setup(void **state)
{
    (void)state;
    if (!mkdtemp(conftest_dir))
        return -1;
    snprintf(conftest_conf, sizeof(conftest_conf), "%s/modules.conf", conftest_dir);
    conftest_write("mod", "#!/bin/sh\n", 0755);
    return 0;
}

int conftest_teardown(void **state)
{
    (void)state;
    char cmd[sizeof(conftest_dir) + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", conftest_dir);
    return system(cmd) == 0 ? 0 : -1;
}

void conftest_write(const char *name, const char *text, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", conftest_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

struct conf *conftest_load(const char *text, const struct conf *prev)
{
    struct conf *c = NULL;
    char err[CONF_ERR_MAX] = "";
    conftest_write("modules.conf", text, 0644);
    if (conf_load_again(conftest_conf, prev, &c, err, sizeof(err)) != 0)
        fail_msg("unexpected error: %s\nin:\n%s", err, text);
    return c;
}

const struct conf_module *conftest_module(const struct conf *c, const char *name)
{
    int i = conf_module_index(c, name);
    if (i < 0)
        fail_msg("no module %s", name);
    return &c->mod[i];
}
