/* SPDX-License-Identifier: MIT */
/* In-place upgrade (`uipcctl reexec`, SIGUSR2): the supervisor executes
 * the binary now installed at the path it was started from, in the same
 * process.  The modules stay its children (same pids, same pidfds), every
 * fd it holds for them crosses the exec, and the new image reads the view
 * back (sv-state.c).  Calls never pass through the supervisor, so nothing
 * in flight notices.  Before it goes, the new binary is asked which state
 * format it reads: another one, and nothing happens. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "sv-internal.h"

extern char **environ;

/* Runs exe with args (NULL-terminated), its stdout into buf; its exit
 * status, or -1.  A second at most: it is the operator's request. */
static int run_new(const char *exe, char *const *argv, char *buf, size_t len)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        execve(exe, argv, environ);
        _exit(127);
    }
    close(p[1]);
    size_t got = 0;
    struct pollfd pf = { .fd = p[0], .events = POLLIN };
    while (pid > 0 && got < len - 1 && poll(&pf, 1, 1000) > 0) {
        ssize_t n = read(p[0], buf + got, len - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(p[0]);
    int st = -1;
    if (pid > 0) {
        /* a checker that took longer than its second is not waited for */
        if (waitpid(pid, &st, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
        }
    }
    return pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `EXE --state-version` prints "uipc-state N": the format it reads. */
static int new_binary_version(const char *exe, int *version)
{
    char buf[64], *argv[] = { (char *)exe, "--state-version", NULL };
    if (run_new(exe, argv, buf, sizeof(buf)) != 0)
        return -ENOEXEC;
    return sscanf(buf, "uipc-state %d", version) == 1 ? 0 : -EPROTO;
}

int sv_reexec_check(struct sv *s, char *err, size_t len)
{
    uint64_t hash;
    int version = 0;
    if (s->stopping || s->reload.pending) {
        snprintf(err, len, "%s", s->stopping ? "the supervisor is shutting down" : "a reload is being applied");
        return -EBUSY;
    }
    for (unsigned i = 0; i < s->nmod; i++)
        if (s->mod[i].cf && (s->mod[i].spawning.sync >= 0 || s->mod[i].reaped.pending)) {
            snprintf(err, len, "%s is being started or reaped; try again", s->mod[i].cf->name);
            return -EBUSY;
        }
    if (sv_conf_hash(s->c->path, &hash) < 0 || hash != s->conf_hash) {
        snprintf(err, len, "%s changed since it was loaded: reload it first (or restore it)", s->c->path);
        return -EBUSY;
    }
    int r = new_binary_version(s->exe, &version);
    if (r < 0 || version != SV_STATE_VERSION) {
        snprintf(err, len, "%s reads state format %d, this supervisor writes %d: stop and start the supervisor to "
                 "upgrade", s->exe, r < 0 ? 0 : version, SV_STATE_VERSION);
        return -EPROTONOSUPPORT;
    }
    return 0;
}

/* Every fd the state names crosses the exec (set), or closes on it again
 * (clear, after a failed exec); so does the keeper's socket. */
static void pass_fds(const struct sv *s, int state, bool across)
{
    static int fds[SV_MAX_FDS];
    int flag = across ? 0 : FD_CLOEXEC;
    unsigned n = sv_state_fds(s, fds, SV_MAX_FDS);
    fcntl(state, F_SETFD, flag);
    if (s->keeper >= 0)
        fcntl(s->keeper, F_SETFD, flag);
    for (unsigned k = 0; k < n; k++)
        fcntl(fds[k], F_SETFD, flag);
}

void sv_reexec(struct sv *s)
{
    char err[CONF_ERR_MAX], fdnum[16];
    int state;
    int r = sv_reexec_check(s, err, sizeof(err));
    /* Asked for and accepted, then a module started dying or starting:
     * it waits for that (a few turns), up to REEXEC_WAIT_MS. */
    if (r == -EBUSY && !s->stopping && sv_now_ms() < s->reexec_asked_ms + REEXEC_WAIT_MS)
        return;
    s->reexec_asked = false;
    if (r < 0) {
        sv_ev(REEXEC_REFUSED, NULL, SV_FIELDS(SV_STR("error", err)), "supervisor: reexec refused: %s", err);
        return;
    }
    r = sv_state_save(s, &state);
    if (r < 0) {
        sv_ev(REEXEC_REFUSED, NULL, SV_FIELDS(SV_STR("error", strerror(-r))), "supervisor: reexec: writing the state: %s",
              strerror(-r));
        return;
    }
    char keeper[16];
    snprintf(fdnum, sizeof(fdnum), "%d", state);
    snprintf(keeper, sizeof(keeper), "%d", s->keeper);
    char *argv[] = { s->exe, "--config", s->c->path, "--restore", fdnum, "--keeper", keeper,
                     s->socket_forced ? "--control-socket" : NULL, s->c->control_socket, NULL };
    if (s->keeper < 0) /* (no keeper: the socket's options move up) */
        argv[5] = argv[7], argv[6] = argv[8], argv[7] = NULL;
    pass_fds(s, state, true);
    /* The new binary reads the state first without taking anything over:
     * once exec'd, a generation that cannot would take every module down
     * with it. */
    char out[256], *check[] = { s->exe, "--config", s->c->path, "--check-state", fdnum,
                                s->socket_forced ? "--control-socket" : NULL, s->c->control_socket, NULL };
    int e = run_new(s->exe, check, out, sizeof(out));
    lseek(state, 0, SEEK_SET);
    if (e == 0 && s->keeper >= 0) {
        /* The keeper's checkpoint names the next generation already: if
         * the new image dies before its own first one, the supervisor the
         * keeper starts is one generation later still, not the same. */
        s->generation++;
        sv_keeper_checkpoint(s);
        s->generation--;
    }
    if (e == 0) {
        sv_ev(REEXEC, NULL, SV_FIELDS(SV_NUM("generation", s->generation), SV_STR("exe", s->exe)),
              "supervisor: reexec: generation %u hands over to %s", s->generation, s->exe);
        execve(s->exe, argv, environ);
        e = errno;
        snprintf(out, sizeof(out), "%s", strerror(e));
    }
    pass_fds(s, state, false);
    close(state);
    const char *why = out[0] ? out : "its check failed";
    sv_ev(REEXEC_REFUSED, NULL, SV_FIELDS(SV_STR("error", why), SV_STR("exe", s->exe)),
          "supervisor: reexec refused: %s cannot take over (%s); this one goes on", s->exe, why);
}
