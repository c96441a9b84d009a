/* SPDX-License-Identifier: MIT */
/* What the config tests share (unit/test-config.c, test-config-diff.c): a
 * scratch directory for modules.conf and the files it names, and loading
 * a modules.conf written there. */
#ifndef UIPC_CONFTEST_H
#define UIPC_CONFTEST_H

#include <sys/types.h>

#include "config.h"

/* The scratch directory, and its modules.conf, once set up. */
extern char conftest_dir[];
extern char conftest_conf[];

/* cmocka group setup: the directory made, with "mod" in it, an executable
 * file (never run) for relative exec keys.  0, or -1. */
int conftest_setup(void **state);
/* cmocka group teardown: the directory removed. */
int conftest_teardown(void **state);

/* Writes text to name, relative to the directory, with mode. */
void conftest_write(const char *name, const char *text, mode_t mode);

/* Writes text to modules.conf and loads it, after prev (conf_load_again)
 * unless prev is NULL; an error fails the test. */
struct conf *conftest_load(const char *text, const struct conf *prev);

/* c's module called name; none fails the test. */
const struct conf_module *conftest_module(const struct conf *c, const char *name);

#endif
