/* SPDX-License-Identifier: MIT */
/* The supervisor uipc-chaos runs: finding, starting, watching and
 * stopping it, and asking it things over its control socket. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaos.h"
#include "ctl-wire.h"

/* ---- the supervisor ---- */

/* --supervisor, else next to us (an install whose bindir is its sbindir),
 * ../supervisor (the build tree: we are in build/tools), ../sbin
 * (installed), else uipc-supervisor on PATH. */
const char *chaos_supervisor_path(const struct chaos_opts *o, char *buf, size_t len)
{
    static const char *const rel[] = { "uipc-supervisor", "../supervisor/uipc-supervisor",
                                       "../sbin/uipc-supervisor" };
    char self[PATH_MAX / 2];
    if (o->supervisor)
        return o->supervisor;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        for (size_t k = 0; k < sizeof(rel) / sizeof(rel[0]); k++) {
            if (snprintf(buf, len, "%s/%s", self, rel[k]) >= (int)len)
                continue;
            if (access(buf, X_OK) == 0)
                return buf;
        }
    }
    return "uipc-supervisor";
}

pid_t chaos_start_supervisor(const char *exe, const char *config, const char *sock, const char *log)
{
    int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        fprintf(stderr, "uipc-chaos: %s: %s\n", log, strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0)
        fprintf(stderr, "uipc-chaos: fork: %s\n", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* we die: it shuts its modules down */
        dup2(out, 1);
        dup2(out, 2);
        execlp(exe, exe, "--config", config, "--control-socket", sock, (char *)NULL);
        fprintf(stderr, "uipc-chaos: exec %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(out);
    return pid;
}

bool chaos_alive(struct chaos_sup *sv)
{
    if (sv->reaped)
        return false;
    pid_t r = waitpid(sv->pid, &sv->status, WNOHANG);
    if (r == 0)
        return true;
    sv->reaped = true; /* r < 0: not ours to wait for any more (ECHILD), as good as gone */
    return false;
}

/* SIGTERM, then SIGKILL after 60 s; its wait status.  One already reaped
 * is not signalled: its pid may be someone else's by now. */
int chaos_stop_supervisor(struct chaos_sup *sv)
{
    if (!chaos_alive(sv))
        return sv->status;
    kill(sv->pid, SIGTERM);
    for (int k = 0; k < 6000; k++) {
        if (!chaos_alive(sv))
            return sv->status;
        chaos_sleep_ms(10);
    }
    kill(sv->pid, SIGKILL);
    if (waitpid(sv->pid, &sv->status, 0) == sv->pid)
        sv->reaped = true;
    return sv->status;
}

/* ---- the control socket ---- */

/* Milliseconds left until `until`; 0 once it has passed (ctl-wire would
 * take a 0 timeout as "forever"). */
static int left_ms(uint64_t until)
{
    uint64_t now = chaos_now_ms();
    return now < until ? (int)(until - now) : 0;
}

/* One request on a connection of its own; NULL when no answer came within
 * CHAOS_CTL_TIMEOUT_MS or by `by`, whichever is first: the caller's phase
 * ends then, and a request must not stretch it.  Connect, send and receive
 * share that one limit. */
Uipc__Control__Reply *chaos_ask(const char *sock, Uipc__Control__Request *req, uint64_t by)
{
    int ms = left_ms(chaos_min(by, chaos_now_ms() + CHAOS_CTL_TIMEOUT_MS));
    ProtobufCMessage *m = NULL;
    if (!ms || ctl_wire_call(sock, &req->base, &uipc__control__reply__descriptor, &m, ms) < 0)
        return NULL;
    return (Uipc__Control__Reply *)m;
}

void chaos_reply_free(Uipc__Control__Reply *rep)
{
    if (rep)
        protobuf_c_message_free_unpacked(&rep->base, NULL);
}

Uipc__Control__Reply *chaos_ask_status(const char *sock, uint64_t by)
{
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__StatusRequest st = UIPC__CONTROL__STATUS_REQUEST__INIT;
    req.command_case = UIPC__CONTROL__REQUEST__COMMAND_STATUS;
    req.status = &st;
    return chaos_ask(sock, &req, by);
}

Uipc__Control__Reply *chaos_ask_stats(const char *sock, uint64_t by)
{
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    Uipc__Control__StatsRequest st = UIPC__CONTROL__STATS_REQUEST__INIT;
    req.command_case = UIPC__CONTROL__REQUEST__COMMAND_STATS;
    req.stats = &st;
    return chaos_ask(sock, &req, by);
}

const Uipc__Control__ModuleStatus *chaos_find_module(const Uipc__Control__Reply *rep, const char *name)
{
    for (size_t i = 0; rep && i < rep->n_modules; i++)
        if (strcmp(rep->modules[i]->name, name) == 0)
            return rep->modules[i];
    return NULL;
}

/* True when the named modules (all when n == 0) are ready, or failed or
 * stopped for good, in one status reply. */
static bool all_ready(const Uipc__Control__Reply *rep, const struct conf *c, const unsigned *idx, unsigned n)
{
    bool all = rep != NULL;
    for (unsigned k = 0; all && k < (n ? n : c->nmod); k++) {
        const Uipc__Control__ModuleStatus *m = chaos_find_module(rep, c->mod[n ? idx[k] : k].name);
        all = m && (strcmp(m->state, "ready") == 0 || strcmp(m->state, "failed") == 0 ||
                    strcmp(m->state, "stopped") == 0);
    }
    return all;
}

/* Waits until those modules are ready (all_ready); asks at least once, so
 * a moment already past still sees a module that is running, and asks
 * again every 20 ms until `until`, each request cut at `by`.  False on
 * timeout or a dead supervisor. */
bool chaos_wait_ready(const char *sock, struct chaos_sup *sv, const struct conf *c, const unsigned *idx,
                      unsigned n, uint64_t until, uint64_t by)
{
    for (;;) {
        if (chaos_interrupted() || !chaos_alive(sv))
            return false;
        Uipc__Control__Reply *rep = chaos_ask_status(sock, by);
        bool all = all_ready(rep, c, idx, n);
        chaos_reply_free(rep);
        if (all)
            return true;
        uint64_t now = chaos_now_ms();
        if (now >= until)
            return false;
        chaos_sleep_ms((unsigned)chaos_min(until - now, 20));
    }
}
