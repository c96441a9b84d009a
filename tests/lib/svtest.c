/* SPDX-License-Identifier: MIT */
/* The supervisor test harness (svtest.h). */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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

/* ---- valgrind (svtest.h) ---- */

bool svtest_valgrind(void)
{
    const char *v = getenv("UIPC_VALGRIND");
    return v && *v;
}

unsigned svtest_slowdown(void)
{
    const char *s = getenv("UIPC_TEST_SLOWDOWN");
    if (s && atoi(s) > 0)
        return (unsigned)atoi(s);
    return svtest_valgrind() ? 10 : 1;
}

/* The value of `key = value` on the line at p, or NULL (p at a line start). */
static const char *value_of(const char *p, const char *key, size_t *len)
{
    p += strspn(p, " \t");
    size_t klen = strlen(key);
    if (strncmp(p, key, klen) != 0)
        return NULL;
    p += klen;
    p += strspn(p, " \t");
    if (*p != '=')
        return NULL;
    p++;
    p += strspn(p, " \t");
    *len = strcspn(p, "\n");
    return p;
}

/* What in a config valgrind 3.19 cannot run the supervisor on: every
 * policy and every mount namespace (tests/valgrind.md). */
static const char *cannot_text(const char *text)
{
    static char why[600];
    char module[128] = "?";
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *v;
        size_t len;
        if (sscanf(p, " [module %127[^]\n]]", module) == 1)
            continue;
        if ((v = value_of(p, "policy", &len)) && !(len == 4 && memcmp(v, "none", 4) == 0)) {
            snprintf(why, sizeof(why),
                     "module %s has a seccomp policy, and valgrind 3.19 implements neither "
                     "seccomp(2) (syscall 317: libseccomp cannot build a filter that notifies, "
                     "the child could not load it) nor pidfd_open/pidfd_getfd (434/438: how the "
                     "supervisor takes the filter's listener from the child)", module);
            return why;
        }
        if ((v = value_of(p, "namespaces", &len)) && memmem(v, len, "mount", 5)) {
            snprintf(why, sizeof(why),
                     "module %s has a mount namespace, and valgrind 3.19 implements neither "
                     "mount_setattr (syscall 442: the read-only root) nor open_tree (428)", module);
            return why;
        }
    }
    return NULL;
}

const char *svtest_valgrind_cannot(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    const char *why = n > 0 ? cannot_text(text) : NULL;
    free(text);
    return why;
}

/* Valgrind's "==PID== " (a report) or "--PID-- " (a warning, such as an
 * unhandled system call) at p. */
static bool vg_line_at(const char *p)
{
    char c = p[0];
    if ((c != '=' && c != '-') || p[1] != c || !(p[2] >= '0' && p[2] <= '9'))
        return false;
    p += 2;
    p += strspn(p, "0123456789");
    return p[0] == c && p[1] == c && p[2] == ' ';
}

const char *svtest_valgrind_report(const char *text)
{
    for (const char *p = text; (p = strpbrk(p, "=-")); p++)
        if (vg_line_at(p)) {
            while (p > text && p[-1] != '\n')
                p--;
            return p;
        }
    return NULL;
}

/* Every line of text valgrind wrote, for a failure message. */
static const char *vg_lines(const char *text)
{
    static char out[12000];
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = text; *p && n < sizeof(out) - 200;) {
        size_t len = strcspn(p, "\n");
        const char *q = p;
        for (; q < p + len && !vg_line_at(q); q++)
            ;
        if (q < p + len)
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%.*s\n",
                                  (int)(len < sizeof(out) - n - 2 ? len : sizeof(out) - n - 2), p);
        p += len + (p[len] == '\n');
    }
    return out;
}

/* Splits UIPC_VALGRIND into words[], returns how many. */
static int vg_words(char **words, int max)
{
    static char buf[4096];
    int n = 0;
    snprintf(buf, sizeof(buf), "%s", getenv("UIPC_VALGRIND"));
    for (char *w = strtok(buf, " \t\n"); w && n < max; w = strtok(NULL, " \t\n"))
        words[n++] = w;
    return n;
}

_Noreturn void svtest_exec(const char *exe, char *const argv[])
{
    char *a[160];
    int n = 0;
    if (!svtest_valgrind()) {
        execv(exe, argv);
        _exit(127);
    }
    n = vg_words(a, 100);
    a[n++] = (char *)exe;
    for (int i = 1; argv[i] && n < 159; i++)
        a[n++] = argv[i];
    a[n] = NULL;
    execvp(a[0], a);
    _exit(127);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads both pipes until they close or the deadline passes; true if they
 * closed in time. */
static bool capture_pipes(int fds[2], char *buf[2], size_t cap[2], uint64_t end)
{
    struct pollfd p[2] = { { .fd = fds[0], .events = POLLIN }, { .fd = fds[1], .events = POLLIN } };
    size_t len[2] = { 0, 0 };
    uint64_t now;
    while ((p[0].fd >= 0 || p[1].fd >= 0) && (now = mono_ms()) < end) {
        if (poll(p, 2, (int)(end - now)) < 0 && errno != EINTR)
            break;
        for (int k = 0; k < 2; k++) {
            if (p[k].fd < 0 || !p[k].revents)
                continue;
            char tmp[4096];
            ssize_t r = read(p[k].fd, tmp, sizeof(tmp));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                close(p[k].fd);
                p[k].fd = -1;
                continue;
            }
            size_t take = (size_t)r < cap[k] - 1 - len[k] ? (size_t)r : cap[k] - 1 - len[k];
            memcpy(buf[k] + len[k], tmp, take);
            len[k] += take;
        }
    }
    bool closed = p[0].fd < 0 && p[1].fd < 0;
    for (int k = 0; k < 2; k++) {
        if (p[k].fd >= 0)
            close(p[k].fd);
        buf[k][len[k]] = '\0';
    }
    return closed;
}

int svtest_capture(const char *exe, const char *const argv[], bool wrap, unsigned wait_ms,
                   char *out, size_t outcap, char *err, size_t errcap, bool *timed_out)
{
    int po[2], pe[2], st;
    assert_int_equal(pipe2(po, O_CLOEXEC), 0);
    assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
            _exit(126);
        if (wrap)
            svtest_exec(exe, (char *const *)argv);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    bool closed = capture_pipes((int[2]){ po[0], pe[0] }, (char *[2]){ out, err },
                                (size_t[2]){ outcap, errcap }, mono_ms() + wait_ms);
    if (!closed)
        kill(pid, SIGKILL);
    if (timed_out)
        *timed_out = !closed;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

_Noreturn void svtest_exec_supervisor(const char *conf, bool under_valgrind)
{
    const char *exe = env_path("UIPC_SUPERVISOR");
    const char *preload = getenv("UIPC_VG_PRELOAD"), *modules = getenv("UIPC_VALGRIND_MODULES");
    char *a[160];
    int n = 0;
    if (under_valgrind) {
        /* A module killed by a signal that dumps core (test_kill's SIGSEGV)
         * would leave a vgcore.PID behind: valgrind writes its own. */
        struct rlimit none = { 0, 0 };
        setrlimit(RLIMIT_CORE, &none);
        n = vg_words(a, 100);
        /* Its modules under valgrind too, but for system programs and the
         * tests' shell scripts; futex_waitv emulated (vg-preload.c). */
        if (preload && *preload && !(modules && strcmp(modules, "0") == 0)) {
            const char *old = getenv("LD_PRELOAD");
            char *pl = NULL;
            if (asprintf(&pl, "%s%s%s", preload, old && *old ? ":" : "", old ? old : "") < 0)
                _exit(126);
            setenv("LD_PRELOAD", pl, 1);
            a[n++] = (char *)"--trace-children=yes";
            a[n++] = (char *)"--trace-children-skip=/bin/*,/usr/bin/*,/sbin/*,/usr/sbin/*,*.sh";
        }
    }
    a[n++] = under_valgrind ? (char *)exe : (char *)"uipc-supervisor";
    a[n++] = (char *)"--config";
    a[n++] = (char *)conf;
    a[n] = NULL;
    if (under_valgrind)
        execvp(a[0], a);
    else
        execv(exe, a);
    _exit(127);
}

/* Whether the [module] section whose header ends at p sets key. */
static bool section_sets(const char *p, const char *key)
{
    for (; *p && *p != '['; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n')) {
        size_t len;
        if (value_of(p, key, &len))
            return true;
    }
    return false;
}

/* Under valgrind, every hang_timeout_ms in text multiplied by the slowdown
 * (at most the config's 3600000), and every module without a policy or a
 * namespaces key runs with none: the default policy is a seccomp filter
 * and the default namespaces include a mount view, which valgrind cannot
 * build (tests/valgrind.md); without an rlimits key, with no address-space
 * limit (memcheck's own mappings) and the open-file limit valgrind keeps
 * (it refuses any other hard limit).  Returns a new string. */
static char *for_valgrind(const char *text)
{
    size_t cap = strlen(text) + 4096, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n"), vlen;
        const char *v = value_of(p, "hang_timeout_ms", &vlen);
        char module[128];
        /* (the header on this line: sscanf's blank would skip a newline too) */
        if (p[strspn(p, " \t")] == '[' && sscanf(p, " [module %127[^]\n]]", module) == 1) {
            n += (size_t)snprintf(out + n, cap - n, "%.*s\n%s%s%s", (int)len, p,
                                  section_sets(p + len, "policy") ? "" : "policy = none\n",
                                  section_sets(p + len, "namespaces") ? "" : "namespaces = none\n",
                                  section_sets(p + len, "rlimits") ? "" : "rlimits = memory=infinity nofile=infinity\n");
        } else if (v) {
            unsigned long ms = strtoul(v, NULL, 10) * svtest_slowdown();
            n += (size_t)snprintf(out + n, cap - n, "hang_timeout_ms = %lu\n",
                                  ms > 3600000 ? 3600000ul : ms);
        } else {
            assert_true(n + len + 2 < cap);
            memcpy(out + n, p, len);
            n += len;
            out[n++] = '\n';
        }
        p += len + (p[len] == '\n');
        assert_true(n + 64 < cap);
    }
    out[n] = '\0';
    return out;
}

/* Every test's supervisor gets a control socket of its own in the scratch
 * directory (tests run in parallel), unless the config names one. */
void write_conf(const char *fmt, ...)
{
    char *text = NULL, extra[400] = "";
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&text, fmt, ap) >= 0);
    va_end(ap);
    const char *sup = strstr(text, "[supervisor]\n");
    if (!strstr(text, "control_socket"))
        snprintf(extra, sizeof(extra), "control_socket = %s\n", ctl_path);
    if (svtest_valgrind() && !cannot_text(text)) {
        char *scaled = for_valgrind(text);
        free(text);
        text = scaled;
        sup = strstr(text, "[supervisor]\n");
        const char *body = sup ? sup + strlen("[supervisor]\n") : NULL;
        const char *end = body ? strstr(body, "\n[") : NULL;
        size_t blen = body ? (end ? (size_t)(end - body) : strlen(body)) : 0;
        if (!body || !memmem(body, blen, "hang_timeout_ms", 15))
            snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "hang_timeout_ms = %u\n",
                     svtest_ms(1000));
    }
    FILE *f = fopen(conf_path, "w");
    assert_non_null(f);
    if (!extra[0])
        fputs(text, f);
    else if (sup)
        fprintf(f, "%.*s[supervisor]\n%s%s", (int)(sup - text), text, extra,
                sup + strlen("[supervisor]\n"));
    else
        fprintf(f, "[supervisor]\n%s%s", extra, text);
    fclose(f);
    free(text);
}

const char *svtest_state_dir(void)
{
    static char path[400];
    snprintf(path, sizeof(path), "%s/state", dir);
    /* chmod: past the umask; sticky, as /tmp */
    if ((mkdir(path, 0777) < 0 && errno != EEXIST) || chmod(path, 01777) < 0)
        fail_msg("%s: %s", path, strerror(errno));
    return path;
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
static bool current_vg;  /* it runs under valgrind */
static bool vg_checked;  /* and stop_supervisor looked at valgrind's findings */

static uid_t run_as = (uid_t)-1; /* start_supervisor_as() */

pid_t start_supervisor_as(uid_t uid)
{
    run_as = uid;
    pid_t pid = start_supervisor();
    run_as = (uid_t)-1;
    return pid;
}

int supervisor_refuses(void)
{
    pid_t sv = start_supervisor();
    int st;
    assert_int_equal(waitpid(sv, &st, 0), sv);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

pid_t start_supervisor(void)
{
    bool vg = false;
    if (svtest_valgrind()) {
        const char *why = svtest_valgrind_cannot(conf_path);
        if (why)
            print_message("valgrind: the supervisor of this test runs natively: %s\n", why);
        vg = !why;
        static bool told;
        const char *pl = getenv("UIPC_VG_PRELOAD");
        if (vg && !(pl && *pl) && !told) {
            told = true;
            print_message("valgrind: UIPC_VG_PRELOAD is not set (tests/meson.build sets it): the "
                          "modules run natively, only the supervisor under valgrind\n");
        }
    }
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
        if (run_as != (uid_t)-1 && (setgroups(0, NULL) < 0 || setresgid(run_as, run_as, run_as) < 0 ||
                                    setresuid(run_as, run_as, run_as) < 0 ||
                                    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0))
            _exit(126);
        svtest_exec_supervisor(conf_path, vg);
    }
    close(fd);
    current_sv = pid;
    current_vg = vg;
    vg_checked = false;
    return pid;
}

/* Valgrind's findings in the supervisor (exit status 99, its
 * --error-exitcode) or in its log (its own reports and its modules'). */
static const char *vg_findings(int st, bool have_status)
{
    static char msg[13000];
    if (!current_vg)
        return NULL;
    const char *log = read_log();
    bool exit99 = have_status && WIFEXITED(st) && WEXITSTATUS(st) == 99;
    if (!exit99 && !svtest_valgrind_report(log))
        return NULL;
    snprintf(msg, sizeof(msg), "valgrind: %s; what it wrote in the log:\n%s",
             exit99 ? "the supervisor exited with 99 (valgrind's --error-exitcode)"
                    : "reports in the supervisor's log",
             vg_lines(log));
    return msg;
}

int svtest_kill_leftover(void **state)
{
    (void)state;
    int bad = 0;
    if (current_sv > 0 && waitpid(current_sv, NULL, WNOHANG) == 0) {
        kill(current_sv, SIGKILL);
        waitpid(current_sv, NULL, 0);
    }
    /* a supervisor the test waited for itself, or left running */
    const char *vg = vg_checked ? NULL : vg_findings(0, false);
    if (vg) {
        fprintf(stderr, "%s", vg);
        bad = -1;
    }
    current_sv = 0;
    current_vg = false;
    /* test_example points conf_path at the shipped file: never write there */
    snprintf(conf_path, sizeof(conf_path), "%s/modules.conf", dir);
    return bad;
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

/* Waits up to 30 s (times the slowdown) until the log holds `needle` at
 * least n times. */
void wait_log(const char *needle, int n)
{
    for (unsigned i = 0; i < svtest_ms(3000); i++) {
        if (count(read_log(), needle) >= n)
            return;
        sleep_ms(10);
    }
    const char *log = read_log();
    size_t len = strlen(log);
    fail_msg("log never showed \"%s\" %d times in %u s; it ends:\n%s", needle, n, svtest_ms(30),
             log + (len > 1500 ? len - 1500 : 0));
}

/* The pid in the newest "NAME: started, pid N" line. */
pid_t latest_pid(const char *name)
{
    char needle[96];
    snprintf(needle, sizeof(needle), "%s: started, pid ", name);
    /* Modules start side by side (a spawn never holds the others up):
     * another's line may come first. */
    wait_log(needle, 1);
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
    for (unsigned i = 0; i < svtest_ms(1000); i++) {
        if (waitpid(sv, &st, WNOHANG) == sv) {
            if (sv == current_sv) {
                const char *vg = vg_findings(st, true);
                vg_checked = true;
                if (vg) { /* whole: cmocka cuts its messages short */
                    fprintf(stderr, "%s", vg);
                    fail_msg("valgrind's findings are above");
                }
            }
            return st;
        }
        sleep_ms(10);
    }
    kill(sv, SIGKILL);
    waitpid(sv, &st, 0);
    fail_msg("supervisor did not stop within %u s:\n%s", svtest_ms(10), read_log());
    return -1;
}

void expect_gone(pid_t pid)
{
    for (unsigned i = 0; i < svtest_ms(500) && kill(pid, 0) == 0; i++)
        sleep_ms(10);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

int svtest_setup(void **state)
{
    (void)state;
    /* Searchable: the tests' scripts run as the modules' own uids. */
    if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
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

void json_obj(const char *json, const char *key, const char *val, char *obj, size_t len)
{
    char needle[128];
    snprintf(needle, sizeof(needle), "{\"%s\": \"%s\"", key, val);
    const char *p = strstr(json, needle), *e = p ? strchr(p, '}') : NULL;
    if (!p || !e)
        fail_msg("no object %s...} in:\n%s", needle, json);
    snprintf(obj, len, "%.*s", (int)(e - p + 1), p);
}

long long json_num(const char *obj, const char *key)
{
    char needle[64];
    long long v = 0;
    snprintf(needle, sizeof(needle), "\"%s\": ", key);
    const char *p = strstr(obj, needle);
    if (!p || sscanf(p + strlen(needle), "%lld", &v) != 1)
        fail_msg("no number \"%s\" in %s", key, obj);
    return v;
}

void json_text(const char *obj, const char *key, char *out, size_t len)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\"%s\": \"", key);
    const char *p = strstr(obj, needle);
    if (!p)
        fail_msg("no string \"%s\" in %s", key, obj);
    p += strlen(needle);
    snprintf(out, len, "%.*s", (int)strcspn(p, "\""), p);
}

char svtest_ctl_out[1 << 16], svtest_ctl_err[1 << 14];

int svtest_ctl(unsigned timeout_ms, const char *arg, ...)
{
    char t[24];
    snprintf(t, sizeof(t), "%u", timeout_ms);
    const char *argv[24] = { "uipcctl", "--socket", ctl_path, "--timeout-ms", t };
    int n = 5;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && n < 23; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    bool timed_out;
    unsigned wait_ms = timeout_ms + svtest_ms(5000);
    int st = svtest_capture(env_path("UIPC_UIPCCTL"), argv, false, wait_ms, svtest_ctl_out,
                            sizeof(svtest_ctl_out), svtest_ctl_err, sizeof(svtest_ctl_err), &timed_out);
    if (timed_out)
        fail_msg("uipcctl %s did not finish within %u ms", arg, wait_ms);
    return st;
}

void svtest_ctl_ok(int got, const char *what)
{
    if (got == 0)
        return;
    const char *log = read_log();
    size_t len = strlen(log);
    fail_msg("uipcctl %s: exit status %d (the supervisor did not answer)\nstdout:\n%s\nstderr:\n%s\n"
             "the log ends:\n%s",
             what, got, svtest_ctl_out, svtest_ctl_err, log + (len > 2000 ? len - 2000 : 0));
}

/* Whether a and b name the same thing (/proc links). */
static bool same_link(const char *a, const char *b)
{
    char x[PATH_MAX], y[PATH_MAX];
    ssize_t n = readlink(a, x, sizeof(x) - 1), m = readlink(b, y, sizeof(y) - 1);
    if (n < 0 || m < 0)
        return false;
    x[n] = y[m] = '\0';
    return strcmp(x, y) == 0;
}

/* Whether b's command line begins with a's (the supervisor is forked from
 * the keeper, or executed with more arguments; under valgrind a module's
 * exe is valgrind's too). */
static bool same_cmdline_start(pid_t a, pid_t b)
{
    char pa[64], pb[64], x[4096], y[4096];
    snprintf(pa, sizeof(pa), "/proc/%d/cmdline", (int)a);
    snprintf(pb, sizeof(pb), "/proc/%d/cmdline", (int)b);
    FILE *fa = fopen(pa, "re"), *fb = fopen(pb, "re");
    size_t n = fa ? fread(x, 1, sizeof(x), fa) : 0, m = fb ? fread(y, 1, sizeof(y), fb) : 0;
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return n > 0 && m >= n && memcmp(x, y, n) == 0;
}

pid_t svtest_supervisor_pid(pid_t started)
{
    char path[96], a[96], b[96], c[96], d[96];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)started, (int)started);
    snprintf(a, sizeof(a), "/proc/%d/exe", (int)started);
    snprintf(c, sizeof(c), "/proc/%d/ns/pid", (int)started);
    for (int tries = 0; tries < 500; tries++, sleep_ms(10)) {
        FILE *f = fopen(path, "re");
        int pid;
        while (f && fscanf(f, "%d", &pid) == 1) {
            snprintf(b, sizeof(b), "/proc/%d/exe", pid);
            snprintf(d, sizeof(d), "/proc/%d/ns/pid", pid);
            if (same_link(a, b) && same_link(c, d) && same_cmdline_start(started, pid)) {
                fclose(f);
                return pid;
            }
        }
        if (f)
            fclose(f);
    }
    fail_msg("no supervisor under the keeper %d", (int)started);
    return -1;
}

int svtest_fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}
