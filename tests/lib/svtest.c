/* SPDX-License-Identifier: MIT */
/* The supervisor test harness (svtest.h). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "svtest.h"

char dir[] = "/tmp/uipc-test-sv-XXXXXX";
char conf_path[300], log_path[300], ctl_path[300];

const char *env_path(const char *name)
{
    const char *p = getenv(name);
    if (!p)
        fail_msg("%s is not set (run through meson test)", name);
    return p;
}

void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Every test's supervisor gets a control socket of its own in the scratch
 * directory (tests run in parallel), unless the config names one. */
void write_conf(const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&text, fmt, ap) >= 0);
    va_end(ap);
    FILE *f = fopen(conf_path, "w");
    assert_non_null(f);
    const char *sup = strstr(text, "[supervisor]\n");
    if (strstr(text, "control_socket"))
        fputs(text, f);
    else if (sup)
        fprintf(f, "%.*s[supervisor]\ncontrol_socket = %s\n%s", (int)(sup - text), text, ctl_path,
                sup + strlen("[supervisor]\n"));
    else
        fprintf(f, "[supervisor]\ncontrol_socket = %s\n%s", ctl_path, text);
    fclose(f);
    free(text);
}

/* An executable script in the test's directory; returns its path. */
const char *write_script(const char *name, const char *text)
{
    static char path[400];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0755);
    return path;
}

static pid_t current_sv; /* killed by the per-test teardown if a test fails */

pid_t start_supervisor(void)
{
    /* Emptied before the fork: the previous test's log must never be
     * read as this one's. */
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* and its modules with it */
        if (dup2(fd, 2) < 0 || dup2(fd, 1) < 0)
            _exit(126);
        execl(env_path("UIPC_SUPERVISOR"), "uipc-supervisor", "--config", conf_path, (char *)NULL);
        _exit(127);
    }
    close(fd);
    current_sv = pid;
    return pid;
}

int svtest_kill_leftover(void **state)
{
    (void)state;
    if (current_sv > 0 && waitpid(current_sv, NULL, WNOHANG) == 0) {
        kill(current_sv, SIGKILL);
        waitpid(current_sv, NULL, 0);
    }
    current_sv = 0;
    /* test_example points conf_path at the shipped file: never write there */
    snprintf(conf_path, sizeof(conf_path), "%s/modules.conf", dir);
    return 0;
}

/* The whole log (it may be large: a module may flood). */
char *read_log(void)
{
    static char *buf;
    static size_t cap;
    struct stat st;
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    if (fd >= 0 && fstat(fd, &st) == 0 && (size_t)st.st_size + 1 > cap) {
        cap = (size_t)st.st_size * 2 + 4096;
        buf = realloc(buf, cap);
        assert_non_null(buf);
    }
    if (!buf) {
        cap = 4096;
        buf = malloc(cap);
        assert_non_null(buf);
    }
    for (ssize_t r; fd >= 0 && n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0;)
        n += (size_t)r;
    if (fd >= 0)
        close(fd);
    buf[n] = '\0';
    return buf;
}

int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Waits up to 30 s until the log holds `needle` at least n times. */
void wait_log(const char *needle, int n)
{
    for (int i = 0; i < 3000; i++) {
        if (count(read_log(), needle) >= n)
            return;
        sleep_ms(10);
    }
    const char *log = read_log();
    size_t len = strlen(log);
    fail_msg("log never showed \"%s\" %d times; it ends:\n%s", needle, n,
             log + (len > 1500 ? len - 1500 : 0));
}

/* The pid in the newest "NAME: started, pid N" line. */
pid_t latest_pid(const char *name)
{
    char needle[96];
    snprintf(needle, sizeof(needle), "%s: started, pid ", name);
    const char *p = read_log(), *last = NULL;
    while ((p = strstr(p, needle))) {
        last = p;
        p += strlen(needle);
    }
    assert_non_null(last);
    return (pid_t)atoi(last + strlen(needle));
}

int stop_supervisor(pid_t sv)
{
    int st;
    kill(sv, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(sv, &st, WNOHANG) == sv)
            return st;
        sleep_ms(10);
    }
    kill(sv, SIGKILL);
    waitpid(sv, &st, 0);
    fail_msg("supervisor did not stop within 10 s:\n%s", read_log());
    return -1;
}

void expect_gone(pid_t pid)
{
    for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
        sleep_ms(10);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

int svtest_setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(conf_path, sizeof(conf_path), "%s/modules.conf", dir);
    snprintf(log_path, sizeof(log_path), "%s/supervisor.log", dir);
    snprintf(ctl_path, sizeof(ctl_path), "%s/control.sock", dir);
    return 0;
}

int svtest_teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}


static void fail_with_log(const char *what, const char *needle)
{
    const char *log = read_log();
    size_t len = strlen(log);
    fail_msg("the log %s \"%s\"; it ends:\n%s", what, needle, log + (len > 3000 ? len - 3000 : 0));
}

void log_has(const char *needle)
{
    if (!strstr(read_log(), needle))
        fail_with_log("lacks", needle);
}

void log_lacks(const char *needle)
{
    if (strstr(read_log(), needle))
        fail_with_log("has", needle);
}
