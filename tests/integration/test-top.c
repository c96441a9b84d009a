/* SPDX-License-Identifier: MIT */
/* uipcctl top on a real supervisor with a loaded channel: in a tmux pane
 * of a known size it shows every module and a nonzero calls/s, quits on
 * 'q' with exit status 0 and the terminal's mode restored; piped, it
 * prints plain frames with no escape byte; when the supervisor goes, it
 * says so and exits 1.  Without tmux the pane's test is skipped (exit
 * status 77 once the others passed). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "svtest.h"

#define POLL_MS 200
#define LONG_WAIT_MS svtest_ms(60000) /* an overall limit, not a timing assertion */

static bool have_tmux;
static char tmux_sock[320];

static const char *echo_and_load(void)
{
    static char s[2048];
    snprintf(s, sizeof(s),
             "[module echo]\nexec = %s\nprovides = echo\nrestart = always\n"
             "[module load]\nexec = %s\nconnects = echo:32x256\nafter = echo\nrestart = never\n"
             "env = LOAD_SECONDS=600\n",
             env_path("UIPC_ECHO_SERVER"), env_path("UIPC_LOAD_CLIENT"));
    return s;
}

/* ---- tmux ---- */

/* tmux -S tmux_sock ARGS... (NULL-terminated); its exit status, its
 * stdout in out (when not NULL).  Through a file: the server tmux starts
 * must not hold a pipe we wait on. */
__attribute__((sentinel)) static int tmux(char *out, size_t cap, const char *arg, ...)
{
    const char *argv[24] = { "tmux", "-S", tmux_sock };
    int n = 3;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && n < 23; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char path[320];
    snprintf(path, sizeof(path), "%s/tmux.out", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execvp("tmux", (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (out) {
        FILE *f = fopen(path, "r");
        size_t len = f ? fread(out, 1, cap - 1, f) : 0;
        out[len] = '\0';
        if (f)
            fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char pane[1 << 16];
static const char *session; /* the pane's tmux session */

static void capture(void)
{
    if (tmux(pane, sizeof(pane), "capture-pane", "-p", "-t", session, NULL) != 0)
        fail_msg("tmux capture-pane failed");
}

/* uipcctl top in a new 120x40 session `name`; then how it ended and the
 * terminal's mode, and a pause that keeps the pane for capture-pane. */
static void start_pane(const char *name)
{
    char shell[1024];
    /* trap: the shell, in the pane's foreground group too, outlives a ^C
     * (a caught signal is the default again in uipcctl) */
    snprintf(shell, sizeof(shell), "trap : INT; '%s' --socket '%s' top; echo uipcctl-exit=$?; stty -a; sleep 600",
             env_path("UIPC_UIPCCTL"), ctl_path);
    session = name;
    assert_int_equal(tmux(NULL, 0, "new-session", "-d", "-x", "120", "-y", "40", "-s", name, shell, NULL), 0);
}

/* A line of the pane that begins with `start` and holds `has`. */
static const char *pane_line(const char *start, const char *has)
{
    for (const char *l = pane; *l;) {
        size_t n = strcspn(l, "\n");
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1), l);
        if (strncmp(line, start, strlen(start)) == 0 && strstr(line, has))
            return l;
        l += n + (l[n] == '\n');
    }
    return NULL;
}

/* The screen top draws: both modules ready, and the channel with calls. */
static bool screen_ready(void)
{
    const char *ch = pane_line("echo ", "load -> echo");
    if (!pane_line("echo ", "ready") || !pane_line("load ", "ready") || !ch)
        return false;
    return strtod(strstr(ch, "load -> echo") + strlen("load -> echo"), NULL) > 0;
}

/* Polls the pane until ready() (within LONG_WAIT_MS), else fails showing it. */
static void wait_pane(bool (*ready)(void), const char *what)
{
    for (unsigned waited = 0; waited < LONG_WAIT_MS; waited += POLL_MS) {
        capture();
        if (ready())
            return;
        sleep_ms(POLL_MS);
    }
    fail_msg("the pane never showed %s; it shows:\n%s", what, pane);
}

static bool exited(void)
{
    return strstr(pane, "uipcctl-exit=") && strstr(pane, "icanon");
}

/* uipcctl top ended with `code`, and canonical mode and echo are back:
 * "icanon" and "echo" in stty -a, not "-icanon" and "-echo". */
static void expect_restored(const char *code)
{
    wait_pane(exited, "uipcctl's exit status and stty -a");
    if (!strstr(pane, code))
        fail_msg("uipcctl top did not end with %s:\n%s", code, pane);
    if (!strstr(pane, " icanon") || !strstr(pane, " echo ") || strstr(pane, "-icanon") ||
        strstr(pane, " -echo "))
        fail_msg("the terminal's mode was not restored:\n%s", pane);
}

/* The echo server under load, for a pane of tmux's own (skipped without). */
static pid_t start_with_load(void)
{
    if (!have_tmux)
        skip();
    snprintf(tmux_sock, sizeof(tmux_sock), "%s/tmux.sock", dir);
    write_conf("%s", echo_and_load());
    pid_t sv = start_supervisor();
    wait_log("load: started", 1);
    return sv;
}

static void test_top_in_tmux(void **state)
{
    (void)state;
    pid_t sv = start_with_load();
    start_pane("top");
    wait_pane(screen_ready, "both modules and load -> echo with calls/s above 0");
    assert_null(strchr(pane, '\x1b')); /* capture-pane gives the text, not the escapes */
    print_message("the screen:\n%s", pane);

    assert_int_equal(tmux(NULL, 0, "send-keys", "-t", "top", "q", NULL), 0);
    expect_restored("uipcctl-exit=0");
    tmux(NULL, 0, "kill-server", NULL);
    assert_int_equal(stop_supervisor(sv), 0);
}

static bool screen_up(void)
{
    return strstr(pane, "(q quits)") != NULL;
}

static bool went_away(void)
{
    return strstr(pane, "went away") != NULL;
}

/* ^C, and the supervisor going, restore the terminal too: ^C as SIGINT
 * (the shell sees 130), the supervisor's end with exit status 1, said. */
static void test_top_in_tmux_ends(void **state)
{
    (void)state;
    pid_t sv = start_with_load();
    start_pane("int");
    wait_pane(screen_up, "top's screen");
    assert_int_equal(tmux(NULL, 0, "send-keys", "-t", "int", "C-c", NULL), 0);
    expect_restored("uipcctl-exit=130");

    start_pane("gone");
    wait_pane(screen_up, "top's screen");
    assert_int_equal(stop_supervisor(sv), 0);
    wait_pane(went_away, "that the supervisor went away");
    expect_restored("uipcctl-exit=1\n");
    tmux(NULL, 0, "kill-server", NULL);
}

/* ---- without a terminal ---- */

static void test_top_plain(void **state)
{
    (void)state;
    write_conf("%s", echo_and_load());
    pid_t sv = start_supervisor();
    wait_log("load: started", 1);
    svtest_ctl_ok(svtest_ctl(10000, "top", "--count", "2", "--interval", "300", NULL), "top --count 2");
    if (strchr(svtest_ctl_out, '\x1b'))
        fail_msg("escape bytes in top's plain output:\n%s", svtest_ctl_out);
    assert_int_equal(count(svtest_ctl_out, "uipcctl top "), 2);
    assert_int_equal(count(svtest_ctl_out, "load -> echo"), 2);
    assert_int_equal(count(svtest_ctl_out, "\nNAME "), 2);
    assert_null(strstr(svtest_ctl_out, "q quits"));
    /* top's own options, for top only */
    assert_int_equal(svtest_ctl(10000, "status", "--count", "2", NULL), 2);
    assert_int_equal(svtest_ctl(10000, "top", "--interval", "5", NULL), 2);
    assert_int_equal(svtest_ctl(10000, "top", "--json", NULL), 2);
    assert_int_equal(stop_supervisor(sv), 0);
}

/* The supervisor goes while top runs: top says so and exits 1. */
static void test_top_supervisor_gone(void **state)
{
    (void)state;
    write_conf("%s", echo_and_load());
    pid_t sv = start_supervisor();
    wait_log("load: started", 1);
    char out[320], err[320];
    snprintf(out, sizeof(out), "%s/top.out", dir);
    snprintf(err, sizeof(err), "%s/top.err", dir);
    pid_t top = fork();
    assert_true(top >= 0);
    if (top == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        execl(env_path("UIPC_UIPCCTL"), "uipcctl", "--socket", ctl_path, "top", "--interval", "100", (char *)NULL);
        _exit(127);
    }
    sleep_ms(500);
    assert_int_equal(stop_supervisor(sv), 0);
    int st = -1;
    unsigned waited = 0;
    for (; waited < LONG_WAIT_MS && waitpid(top, &st, WNOHANG) != top; waited += POLL_MS)
        sleep_ms(POLL_MS);
    if (waited >= LONG_WAIT_MS) {
        kill(top, SIGKILL);
        waitpid(top, &st, 0);
        fail_msg("uipcctl top went on without its supervisor");
    }
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    char text[1024] = "";
    FILE *f = fopen(err, "r");
    assert_non_null(f);
    text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
    fclose(f);
    if (!strstr(text, "went away"))
        fail_msg("uipcctl top did not say the supervisor went away: %s", text);
}

/* The pane's tmux server too, when a test failed with it running. */
static int kill_leftovers(void **state)
{
    if (have_tmux && *tmux_sock)
        tmux(NULL, 0, "kill-server", NULL);
    *tmux_sock = '\0';
    return svtest_kill_leftover(state);
}

int main(void)
{
    have_tmux = system("tmux -V >/dev/null 2>&1") == 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_top_in_tmux, kill_leftovers),
        cmocka_unit_test_teardown(test_top_in_tmux_ends, kill_leftovers),
        cmocka_unit_test_teardown(test_top_plain, kill_leftovers),
        cmocka_unit_test_teardown(test_top_supervisor_gone, kill_leftovers),
    };
    if (!have_tmux)
        printf("tmux is missing (scripts/dev.sh test installs it): uipcctl top in a terminal is not tested\n");
    int failed = cmocka_run_group_tests(tests, svtest_setup, svtest_teardown);
    return failed || have_tmux ? failed : 77;
}
