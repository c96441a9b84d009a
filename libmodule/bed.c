/* SPDX-License-Identifier: MIT */
/* The test bed: real processes, real regions, real reclaim. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bed.h"
#include "bell.h"
#include "reclaim.h"

#define BED_MAX 128 /* modules, and channels: uipc-scale-bench runs one server and 64 clients */

struct bed_mod {
    char name[64];
    uipc_bed_main_fn fn;
    void *arg;
    char *const *argv; /* a program, instead of fn */
    struct uipc_bell bell; /* its receiver */
    int self;              /* the bed's sender to it, which the module shares */
    int ctl_fd;            /* its control region: the bed's words about its channels */
    struct uipc_region ctl;
    pid_t pid;   /* 0: not running */
    int pidfd;
};

struct bed_chan {
    int client, server;
    int fd;
    struct uipc_region r;
    int ring[2]; /* senders to each end's bell, by role: the other end holds it */
};

struct uipc_bed {
    struct bed_mod mod[BED_MAX];
    int nmod;
    struct bed_chan chan[BED_MAX];
    int nchan;
    uint32_t next_epoch;
    uint64_t reclaimed;
};

int uipc__bed_new(struct uipc_bed **out)
{
    struct uipc_bed *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    *out = b;
    return 0;
}

void uipc__bed_free(struct uipc_bed *b)
{
    if (!b)
        return;
    /* All reaped before any control region goes: a server's reclaim
     * writes its words into its client's. */
    for (int i = 0; i < b->nmod; i++) {
        if (b->mod[i].pid > 0) {
            uipc__bed_kill(b, i, SIGKILL);
            uipc__bed_wait(b, i, -1, NULL);
        }
    }
    for (int i = 0; i < b->nmod; i++) {
        uipc__bell_close(&b->mod[i].bell);
        close(b->mod[i].self);
        uipc__region_unmap(&b->mod[i].ctl);
        close(b->mod[i].ctl_fd);
    }
    for (int i = 0; i < b->nchan; i++) {
        uipc__region_unmap(&b->chan[i].r);
        close(b->chan[i].fd);
        close(b->chan[i].ring[UIPC_SERVER]);
        close(b->chan[i].ring[UIPC_CLIENT]);
    }
    free(b);
}

int uipc__bed_module(struct uipc_bed *b, const char *name, uipc_bed_main_fn fn, void *arg)
{
    if (b->nmod == BED_MAX)
        return -ENOSPC;
    struct bed_mod *m = &b->mod[b->nmod];
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->fn = fn;
    m->arg = arg;
    m->pidfd = -1;
    int err = uipc__region_create("uipc.control", 1, UIPC_CTL_SLOT_SIZE, &m->ctl_fd);
    if (err < 0)
        return err;
    if ((err = uipc__region_map(m->ctl_fd, &m->ctl)) < 0 || (err = uipc__bell_open(&m->bell)) < 0) {
        uipc__region_unmap(&m->ctl);
        close(m->ctl_fd);
        return err;
    }
    if ((m->self = uipc__bell_sender(&m->bell)) < 0) {
        err = m->self;
        uipc__bell_close(&m->bell);
        uipc__region_unmap(&m->ctl);
        close(m->ctl_fd);
        return err;
    }
    return b->nmod++;
}

int uipc__bed_module_exec(struct uipc_bed *b, const char *name, char *const argv[])
{
    int id = uipc__bed_module(b, name, NULL, NULL);
    if (id >= 0)
        b->mod[id].argv = argv;
    return id;
}

int uipc__bed_channel(struct uipc_bed *b, int client, int server, const char *service,
                      uint32_t slots, uint32_t slot_size)
{
    if (b->nchan == BED_MAX || client < 0 || client >= b->nmod || server < 0 || server >= b->nmod)
        return -EINVAL;
    struct bed_chan *c = &b->chan[b->nchan];
    int err = uipc__region_create(service, slots ? slots : UIPC_DEFAULT_SLOTS,
                                  slot_size ? slot_size : UIPC_DEFAULT_SLOT_SIZE, &c->fd);
    if (err < 0)
        return err;
    err = uipc__region_map(c->fd, &c->r);
    if (err < 0) {
        close(c->fd);
        return err;
    }
    c->client = client;
    c->server = server;
    c->ring[UIPC_SERVER] = uipc__bell_sender(&b->mod[server].bell);
    c->ring[UIPC_CLIENT] = uipc__bell_sender(&b->mod[client].bell);
    if (c->ring[UIPC_SERVER] < 0 || c->ring[UIPC_CLIENT] < 0) {
        err = c->ring[UIPC_SERVER] < 0 ? c->ring[UIPC_SERVER] : c->ring[UIPC_CLIENT];
        close(c->ring[UIPC_SERVER]);
        close(c->ring[UIPC_CLIENT]);
        uipc__region_unmap(&c->r);
        close(c->fd);
        return err;
    }
    return b->nchan++;
}

static bool fd_is_mine(const struct uipc_bed *b, int mod, int fd)
{
    if (fd == b->mod[mod].bell.rx || fd == b->mod[mod].self || fd == b->mod[mod].ctl_fd)
        return true;
    for (int i = 0; i < b->nchan; i++) {
        const struct bed_chan *c = &b->chan[i];
        if (c->client != mod && c->server != mod)
            continue;
        /* its sender to the other end's bell */
        if (fd == c->fd || fd == c->ring[c->client == mod ? UIPC_SERVER : UIPC_CLIENT])
            return true;
    }
    return false;
}

/* In the child: the manifest, and no fd or mapping of any channel we are
 * not part of (the bed's own mappings came along with fork). */
static void child_setup(struct uipc_bed *b, int mod)
{
    char chans[4096] = "", ent[128], num[32], ctl[16];
    size_t len = 0;

    for (int i = 0; i < b->nchan; i++) {
        const struct bed_chan *c = &b->chan[i];
        if (c->client != mod && c->server != mod)
            continue;
        int ring = c->ring[c->client == mod ? UIPC_SERVER : UIPC_CLIENT];
        int n = snprintf(ent, sizeof(ent), "%s%c:%s:%d:%d", len ? "," : "",
                         c->client == mod ? 'C' : 'S', c->r.service, c->fd, ring);
        if (len + (size_t)n < sizeof(chans)) {
            memcpy(chans + len, ent, (size_t)n + 1);
            len += (size_t)n;
        }
    }
    for (int i = 0; i < b->nchan; i++) {
        uipc__region_unmap(&b->chan[i].r);
        int fds[] = { b->chan[i].fd, b->chan[i].ring[UIPC_SERVER], b->chan[i].ring[UIPC_CLIENT] };
        for (size_t k = 0; k < sizeof(fds) / sizeof(fds[0]); k++)
            if (!fd_is_mine(b, mod, fds[k]))
                close(fds[k]);
    }
    for (int i = 0; i < b->nmod; i++) {
        uipc__region_unmap(&b->mod[i].ctl);
        int fds[] = { b->mod[i].bell.rx, b->mod[i].self, b->mod[i].ctl_fd };
        for (size_t k = 0; k < sizeof(fds) / sizeof(fds[0]); k++)
            if (!fd_is_mine(b, mod, fds[k]))
                close(fds[k]);
    }
    snprintf(num, sizeof(num), "%d:%d", b->mod[mod].bell.rx, b->mod[mod].self);
    snprintf(ctl, sizeof(ctl), "%d", b->mod[mod].ctl_fd);
    setenv("UIPC_CONTROL", ctl, 1);
    setenv("UIPC_MODULE", b->mod[mod].name, 1);
    setenv("UIPC_BELL", num, 1);
    setenv("UIPC_CHANNELS", chans, 1);
    /* The bed's parent is the test: if it dies, so do we. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* The fds a program inherits across exec: ours are all O_CLOEXEC. */
static void keep_across_exec(const struct uipc_bed *b, int mod)
{
    for (int i = 0; i < b->nchan; i++) {
        int fds[] = { b->chan[i].fd, b->chan[i].ring[UIPC_SERVER], b->chan[i].ring[UIPC_CLIENT] };
        for (size_t k = 0; k < sizeof(fds) / sizeof(fds[0]); k++)
            if (fd_is_mine(b, mod, fds[k]))
                fcntl(fds[k], F_SETFD, 0);
    }
    fcntl(b->mod[mod].bell.rx, F_SETFD, 0);
    fcntl(b->mod[mod].self, F_SETFD, 0);
    fcntl(b->mod[mod].ctl_fd, F_SETFD, 0);
}

static int child_run(struct uipc_bed *b, int mod)
{
    child_setup(b, mod);
    if (!b->mod[mod].argv)
        return b->mod[mod].fn(b->mod[mod].arg);
    keep_across_exec(b, mod);
    execv(b->mod[mod].argv[0], b->mod[mod].argv);
    fprintf(stderr, "uipc bed: exec %s: %s\n", b->mod[mod].argv[0], strerror(errno));
    return 127;
}

/* Channel chan's position in the UIPC_CHANNELS of its end `role`
 * (child_setup lists a module's channels in channel order). */
static unsigned end_index(const struct uipc_bed *b, int chan, enum uipc_role role)
{
    int mod = role == UIPC_SERVER ? b->chan[chan].server : b->chan[chan].client;
    unsigned idx = 0;
    for (int i = 0; i < chan; i++)
        idx += b->chan[i].client == mod || b->chan[i].server == mod;
    return idx;
}

struct uipc_ctl_chan *uipc__bed_words(struct uipc_bed *b, int chan, enum uipc_role role)
{
    int mod = role == UIPC_SERVER ? b->chan[chan].server : b->chan[chan].client;
    return uipc_ctl_chan(&b->mod[mod].ctl, end_index(b, chan, role));
}

/* A new incarnation: its epoch, in the regions (informative) and in the
 * control words, as the supervisor writes them (sv-channel.c).  Its
 * clients are told: one waiting for the service (UIPC_WAIT_READY) sleeps
 * until news or its deadline. */
static void stamp_epochs(struct uipc_bed *b, int mod)
{
    uint32_t epoch = ++b->next_epoch; /* far below UIPC_EPOCH_DEAD in a test */
    for (int i = 0; i < b->nchan; i++) {
        if (b->chan[i].server == mod) {
            struct bed_mod *cm = &b->mod[b->chan[i].client];
            uipc__region_set_epoch(&b->chan[i].r, UIPC_SERVER, epoch);
            uipc__words_started(uipc__bed_words(b, i, UIPC_SERVER), uipc__bed_words(b, i, UIPC_CLIENT),
                                epoch, true);
            uipc__ctl_news(cm->ctl.side[UIPC_CLIENT], cm->self);
        }
        if (b->chan[i].client == mod)
            uipc__region_set_epoch(&b->chan[i].r, UIPC_CLIENT, epoch);
    }
}

int uipc__bed_start(struct uipc_bed *b, int mod)
{
    if (mod < 0 || mod >= b->nmod || b->mod[mod].pid > 0)
        return -EINVAL;
    stamp_epochs(b, mod);
    uipc__bell_renew(b->mod[mod].bell.rx);
    fflush(NULL); /* or the child flushes the parent's buffered output again */
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int code = child_run(b, mod);
        fflush(NULL);
        _exit(code);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        int err = -errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return err;
    }
    b->mod[mod].pid = pid;
    b->mod[mod].pidfd = pidfd;
    return 0;
}

int uipc__bed_start_all(struct uipc_bed *b)
{
    for (int i = 0; i < b->nmod; i++) {
        int err = uipc__bed_start(b, i);
        if (err < 0)
            return err;
    }
    return 0;
}

int uipc__bed_kill(struct uipc_bed *b, int mod, int sig)
{
    if (mod < 0 || mod >= b->nmod || b->mod[mod].pid <= 0)
        return -ESRCH;
    /* Through the pidfd: never a recycled pid. */
    if (syscall(SYS_pidfd_send_signal, b->mod[mod].pidfd, sig, NULL, 0) < 0)
        return -errno;
    return 0;
}

pid_t uipc__bed_pid(const struct uipc_bed *b, int mod)
{
    return mod >= 0 && mod < b->nmod ? b->mod[mod].pid : -1;
}

/* Reaped: now, and only now, the dead side's share can be reclaimed. */
static void reclaim(struct uipc_bed *b, int mod)
{
    for (int i = 0; i < b->nchan; i++) {
        struct bed_chan *c = &b->chan[i];
        if (c->server == mod) {
            struct bed_mod *cm = &b->mod[c->client];
            int n = uipc__reclaim_server(&c->r, uipc__bed_words(b, i, UIPC_CLIENT),
                                         cm->ctl.side[UIPC_CLIENT], cm->self);
            b->reclaimed += (uint64_t)n;
        }
        if (c->client == mod)
            uipc__reclaim_client(&c->r);
    }
}

static int reap(struct uipc_bed *b, int mod, int *wstatus)
{
    siginfo_t si = { 0 };
    if (waitid(P_PIDFD, (id_t)b->mod[mod].pidfd, &si, WEXITED) < 0)
        return -errno;
    close(b->mod[mod].pidfd);
    b->mod[mod].pidfd = -1;
    b->mod[mod].pid = 0;
    reclaim(b, mod);
    if (wstatus)
        *wstatus = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : (si.si_status & 0x7f);
    return mod;
}

int uipc__bed_wait(struct uipc_bed *b, int mod, int timeout_ms, int *wstatus)
{
    struct pollfd pfd[BED_MAX];
    int ids[BED_MAX], n = 0;

    for (int i = 0; i < b->nmod; i++) {
        if (b->mod[i].pid <= 0 || (mod >= 0 && i != mod))
            continue;
        pfd[n] = (struct pollfd){ .fd = b->mod[i].pidfd, .events = POLLIN };
        ids[n++] = i;
    }
    if (n == 0)
        return -ECHILD;
    for (;;) {
        int r = poll(pfd, (nfds_t)n, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ETIMEDOUT;
        for (int i = 0; i < n; i++)
            if (pfd[i].revents)
                return reap(b, ids[i], wstatus);
    }
}

struct uipc_region *uipc__bed_region(struct uipc_bed *b, int chan)
{
    return chan >= 0 && chan < b->nchan ? &b->chan[chan].r : NULL;
}

uint64_t uipc__bed_reclaimed(const struct uipc_bed *b)
{
    return b->reclaimed;
}
