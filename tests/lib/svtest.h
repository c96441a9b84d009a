/* SPDX-License-Identifier: MIT */
/* Driving the real uipc-supervisor from a cmocka test: a scratch directory
 * with a config, the supervisor's log read back, module pids taken from
 * its "started, pid N" lines.  Binary paths come from the environment
 * (tests/meson.build sets them). */
#ifndef UIPC_TEST_SVTEST_H
#define UIPC_TEST_SVTEST_H

#include <sys/types.h>

extern char dir[];                   /* the scratch directory */
extern char conf_path[300], log_path[300], ctl_path[300];

const char *env_path(const char *name);
void sleep_ms(unsigned ms);
/* printf into conf_path; a [supervisor] control_socket = ctl_path is added
 * unless the text names one. */
__attribute__((format(printf, 1, 2))) void write_conf(const char *fmt, ...);
/* An executable script in the scratch directory; returns its path. */
const char *write_script(const char *name, const char *text);
/* uipc-supervisor --config conf_path, its output to log_path. */
pid_t start_supervisor(void);
/* SIGTERM, waits up to 10 s, returns the wait status. */
int stop_supervisor(pid_t sv);
char *read_log(void);
int count(const char *hay, const char *needle);
/* Waits up to 30 s until the log holds needle at least n times. */
void wait_log(const char *needle, int n);
/* The log holds needle, or does not; else the test fails showing the log. */
void log_has(const char *needle);
void log_lacks(const char *needle);
/* The pid in the newest "NAME: started, pid N" line. */
pid_t latest_pid(const char *name);
/* Waits up to 5 s for pid to be gone. */
void expect_gone(pid_t pid);

/* cmocka group setup/teardown (the scratch directory), and the per-test
 * teardown that kills a supervisor a failed test left running. */
int svtest_setup(void **state);
int svtest_teardown(void **state);
int svtest_kill_leftover(void **state);

#endif
