/* SPDX-License-Identifier: MIT */
/* Driving the real uipc-supervisor from a cmocka test: a scratch directory
 * with a config, the supervisor's log read back, module pids taken from
 * its "started, pid N" lines.  Binary paths come from the environment
 * (tests/meson.build sets them). */
#ifndef UIPC_TEST_SVTEST_H
#define UIPC_TEST_SVTEST_H

#include <stdbool.h>
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
/* A directory in the test's directory that modules running as their own
 * uids may write to (mode 1777): give it to a module with
 * "writable = PATH" (a module's view of the host is read-only). */
const char *svtest_state_dir(void);
/* start_supervisor(), the supervisor running as uid (and gid uid, no
 * groups) instead of root. */
pid_t start_supervisor_as(uid_t uid);
/* uipc-supervisor --config conf_path, its output to log_path. */
pid_t start_supervisor(void);
/* start_supervisor() for a config it must refuse: waits for it to exit,
 * and returns its exit status. */
int supervisor_refuses(void);
/* The supervisor process under the one started_supervisor() started (the
 * keeper): its child running the same binary in the same pid namespace
 * (a module's pid-namespace init runs it too, in its own).  Waited for. */
pid_t svtest_supervisor_pid(pid_t started);
/* The fds process pid holds now. */
int svtest_fd_count(pid_t pid);
/* SIGTERM, waits up to 10 s (times the slowdown), returns the wait status. */
int stop_supervisor(pid_t sv);
char *read_log(void);
int count(const char *hay, const char *needle);
/* Waits up to 30 s (times the slowdown) until the log holds needle at least n times. */
void wait_log(const char *needle, int n);
/* The log holds needle, or does not; else the test fails showing the log. */
void log_has(const char *needle);
void log_lacks(const char *needle);
/* The pid in the newest "NAME: started, pid N" line (waited for, as
 * wait_log does, if there is none yet). */
pid_t latest_pid(const char *name);
/* Waits up to 5 s (times the slowdown) for pid to be gone. */
void expect_gone(pid_t pid);

/* Under valgrind (scripts/dev.sh valgrind_suite; tests/valgrind.sh).
 * UIPC_VALGRIND holds the valgrind command line, words split at blanks
 * (no quoting).  When it is set:
 *  - start_supervisor runs the supervisor under it, and with
 *    --trace-children its modules too (UIPC_VG_PRELOAD, the futex_waitv
 *    stand-in of tests/lib/vg-preload.c, is preloaded; programs under
 *    /bin, /usr/bin and *.sh scripts run natively).  A config valgrind
 *    3.19 cannot run (a seccomp policy, a mount namespace: see
 *    svtest_valgrind_cannot) starts the supervisor natively instead, and
 *    the test says so on stdout;
 *  - write_conf multiplies every hang_timeout_ms by the slowdown, and sets
 *    the supervisor's default one (1000 ms) likewise when the text does not:
 *    a module under valgrind takes a second or more to its first beat;
 *  - stop_supervisor and the per-test teardown fail the test when the
 *    supervisor exited 99 (--error-exitcode) or valgrind reported anything
 *    in the log (the supervisor's own reports, and its modules').
 * The waits below (wait_log, stop_supervisor, expect_gone) are multiplied
 * by svtest_slowdown() too. */
bool svtest_valgrind(void);
/* UIPC_TEST_SLOWDOWN if set, else 10 under valgrind, else 1. */
unsigned svtest_slowdown(void);
static inline unsigned svtest_ms(unsigned ms) { return ms * svtest_slowdown(); }
/* Why valgrind cannot run the supervisor on the config at path, or NULL. */
const char *svtest_valgrind_cannot(const char *path);
/* In a forked child: execv(exe, argv), under UIPC_VALGRIND when it is set
 * (for uipcctl). */
_Noreturn void svtest_exec(const char *exe, char *const argv[]);
/* In a forked child: the supervisor on conf, under valgrind (and its
 * modules) when UIPC_VALGRIND is set and the config allows it. */
_Noreturn void svtest_exec_supervisor(const char *conf, bool under_valgrind);
/* Runs exe with argv (through svtest_exec when wrap, else plain execv),
 * its stdout and stderr read into out and err (NUL-terminated, cut to
 * their size) until both close.  Returns its exit status, or -1 when a
 * signal ended it; one still running after wait_ms is killed with SIGKILL
 * and reaped, and *timed_out (if not NULL) says so. */
int svtest_capture(const char *exe, const char *const argv[], bool wrap, unsigned wait_ms,
                   char *out, size_t outcap, char *err, size_t errcap, bool *timed_out);
/* The first line of text that valgrind wrote ("==PID== ..." or an
 * unhandled syscall warning), or NULL. */
const char *svtest_valgrind_report(const char *text);

/* uipcctl --json output, read without a JSON library (our objects hold no
 * nested braces but "errors"): the object that begins {"KEY": "VAL",
 * copied into obj; the number or string after "KEY": in obj.  Each fails
 * the test, showing the text, when it finds nothing. */
void json_obj(const char *json, const char *key, const char *val, char *obj, size_t len);
long long json_num(const char *obj, const char *key);
void json_text(const char *obj, const char *key, char *out, size_t len);

/* uipcctl --socket ctl_path --timeout-ms T ARGS... (NULL-terminated), run
 * natively (its own start-up is no part of what a test measures): its exit
 * status, its output in svtest_ctl_out and svtest_ctl_err.  One still
 * running T + 5 s (scaled) later fails the test. */
__attribute__((sentinel)) int svtest_ctl(unsigned timeout_ms, const char *arg, ...);
extern char svtest_ctl_out[1 << 16], svtest_ctl_err[1 << 14];
/* Fails the test, showing uipcctl's output and the log's end, unless got
 * (an svtest_ctl status) is 0. */
void svtest_ctl_ok(int got, const char *what);

/* cmocka group setup/teardown (the scratch directory), and the per-test
 * teardown that kills a supervisor a failed test left running. */
int svtest_setup(void **state);
int svtest_teardown(void **state);
int svtest_kill_leftover(void **state);

#endif
