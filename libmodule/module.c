/* SPDX-License-Identifier: MIT */
/* A module's attachment: opening what the supervisor handed us, and the
 * loop that serves and delivers (uipc_poll, uipc_run, uipc_fd). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bell.h"
#include "internal.h"

static uint32_t default_spin(void)
{
    cpu_set_t set;
    /* On one CPU the peer cannot run while we spin: sleep at once. */
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) < 2)
        return 0;
    const char *env = getenv("UIPC_SPIN_NS");
    if (env && *env) {
        char *end;
        unsigned long v = strtoul(env, &end, 10);
        if (*end == '\0' && v <= 100000000ul)
            return (uint32_t)v;
    }
    return UIPC_DEFAULT_SPIN_NS;
}

static int fd_valid(int fd)
{
    return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}

/* The supervisor's words about channel idx, in our control region; NULL
 * without one. */
static struct uipc_ctl_chan *ctl_words(uipc_module *m, unsigned idx)
{
    return m->ctl.base && idx < UIPC_CTL_CHANNELS ? uipc_ctl_chan(&m->ctl, idx) : NULL;
}

static int attach_one(uipc_module *m, const struct uipc_manifest_ent *e, unsigned idx)
{
    /* Without them a client would never hear of its server's death. */
    struct uipc_ctl_chan *w = ctl_words(m, idx);
    if (!w)
        return -EINVAL;
    if (e->role == UIPC_SERVER) {
        struct uipc_srv *s = &m->srvs[m->nsrvs];
        int err = uipc__srv_init(s, m, e->region_fd, e->peer_bell, &w->epoch);
        if (err < 0)
            return err;
        s->index = idx;
        s->reset = &w->reset;
        m->nsrvs++;
        return 0;
    }
    struct uipc_chan *ch = &m->chans[m->nchans];
    int err = uipc__chan_init(ch, m, e->region_fd, e->peer_bell);
    if (err < 0)
        return err;
    ch->index = idx;
    uipc__chan_bind(ch, &w->epoch, &w->alive, &w->reset);
    m->nchans++;
    return 0;
}

static int attach_all(uipc_module *m, const struct uipc_manifest_ent *e, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (!fd_valid(e[i].region_fd) || !fd_valid(e[i].peer_bell))
            return -EBADF;
        int err = attach_one(m, &e[i], i);
        if (err < 0)
            return err;
    }
    return 0;
}

/* The fds we were handed become ours once the module is open: closed by
 * uipc_module_close.  One peer can appear in several channels. */
static void own_fd(uipc_module *m, int fd)
{
    for (unsigned i = 0; i < m->nfds; i++)
        if (m->fds[i] == fd)
            return;
    m->fds[m->nfds++] = fd;
}

/* UIPC_CONTROL: a region only the supervisor and this module share, where
 * the module beats even when it has no channel; UIPC_HEARTBEAT_MS: how
 * often.  Both optional (a test bed may not give them). */
static int attach_control(uipc_module *m)
{
    const char *fd = getenv("UIPC_CONTROL"), *ms = getenv("UIPC_HEARTBEAT_MS");
    int cfd, beat;
    if (ms && uipc__parse_fd(ms, &beat) == 0 && beat > 0)
        m->beat_ns = (uint64_t)beat * 1000000u;
    if (!fd)
        return 0;
    if (uipc__parse_fd(fd, &cfd) < 0 || !fd_valid(cfd))
        return -EBADF;
    int err = uipc__region_map(cfd, &m->ctl);
    if (err == 0 && m->ctl.slot_size < UIPC_CTL_SLOT_SIZE) {
        uipc__region_unmap(&m->ctl);
        err = -EINVAL; /* too small for the supervisor's per-channel words */
    }
    return err;
}

static int module_init(uipc_module *m, const char *name, int bell, int self, const char *chans)
{
    unsigned n;
    pthread_mutexattr_t attr;

    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&m->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->bell = bell;
    m->self = self;
    m->spin_ns = default_spin();

    struct uipc_manifest_ent *e = calloc(UIPC_MAX_CHANNELS, sizeof(*e));
    if (!e)
        return -ENOMEM;
    int err = uipc__manifest_parse(chans, e, UIPC_MAX_CHANNELS, &n);
    if (err == 0 && (!fd_valid(bell) || !fd_valid(self)))
        err = -EBADF;
    /* The control region first: the channels read the supervisor's words
     * about them from it. */
    if (err == 0)
        err = attach_control(m);
    if (err == 0) {
        m->chans = calloc(n ? n : 1, sizeof(*m->chans));
        m->srvs = calloc(n ? n : 1, sizeof(*m->srvs));
        m->fds = calloc(2 * n + 3, sizeof(int)); /* channels, our bell and sender, control */
        err = m->chans && m->srvs && m->fds ? attach_all(m, e, n) : -ENOMEM;
    }
    const char *prov = getenv("UIPC_PROVIDES");
    if (err == 0 && prov && !(m->provides = strdup(prov)))
        err = -ENOMEM;
    if (err == 0) {
        own_fd(m, bell);
        own_fd(m, self);
        if (m->ctl.base)
            own_fd(m, m->ctl.fd);
        for (unsigned i = 0; i < n; i++) {
            own_fd(m, e[i].region_fd);
            own_fd(m, e[i].peer_bell);
        }
    }
    free(e);
    return err;
}

int uipc_module_open(uipc_module **out)
{
    const char *name = getenv("UIPC_MODULE");
    const char *bell = getenv("UIPC_BELL");
    const char *chans = getenv("UIPC_CHANNELS");
    int bell_fd, self_fd;

    if (!out)
        return -EINVAL;
    if (!name || !bell || !chans)
        return -ENOENT;
    if (uipc__parse_bell(bell, &bell_fd, &self_fd) < 0)
        return -EINVAL;
    /* Not dumpable: another module running as the same user cannot open
     * this one's channels through /proc/PID/fd (nor ptrace it). */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    uipc_module *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    int err = module_init(m, name, bell_fd, self_fd, chans);
    if (err < 0) { /* the fds stay the caller's: nothing was taken */
        uipc_module_close(m);
        return err;
    }
    uipc__beat(m);
    *out = m;
    return 0;
}

void uipc_module_close(uipc_module *m)
{
    if (!m)
        return;
    for (unsigned i = 0; i < m->nchans; i++)
        uipc__chan_fini(&m->chans[i]);
    for (unsigned i = 0; i < m->nsrvs; i++)
        uipc__srv_fini(&m->srvs[i]);
    uipc__region_unmap(&m->ctl);
    for (unsigned i = 0; i < m->nfds; i++)
        close(m->fds[i]);
    free(m->chans);
    free(m->srvs);
    free(m->fds);
    free(m->provides);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

const char *uipc_module_name(const uipc_module *m)
{
    return m ? m->name : NULL;
}

/* UIPC_PROVIDES lists every service the module provides, with or without
 * clients; a test bed may leave it out (then only channels count). */
static bool provides(const uipc_module *m, const char *service)
{
    size_t n = strlen(service);
    for (const char *p = m->provides; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, service, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

int uipc_serve(uipc_module *m, const char *service, uipc_handler_fn fn, void *ctx)
{
    int found = -ENOENT;
    if (!m || !service || !fn)
        return -EINVAL;
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->nsrvs; i++) {
        if (strcmp(m->srvs[i].r.service, service) == 0) {
            m->srvs[i].fn = fn;
            m->srvs[i].ctx = ctx;
            found = 0;
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (found == -ENOENT && provides(m, service))
        found = 0; /* ours, with no client yet */
    return found;
}

int uipc_connect(uipc_module *m, const char *service, uipc_chan **out)
{
    if (!m || !service || !out)
        return -EINVAL;
    for (unsigned i = 0; i < m->nchans; i++) {
        if (strcmp(m->chans[i].r.service, service) == 0) {
            *out = &m->chans[i];
            return 0;
        }
    }
    return -ENOENT;
}

int uipc__progress(uipc_module *m, bool deliver)
{
    int n = 0;
    for (unsigned i = 0; i < m->nsrvs; i++) {
        struct uipc_srv *s = &m->srvs[i];
        if (!s->broken && uipc__reset_asked(s->reset))
            uipc__srv_halt(s);
        else if (s->broken && uipc__violation_cleared(m, s->index, s->reset))
            uipc__srv_restart(s);
        n += uipc__srv_process(s);
    }
    for (unsigned i = 0; i < m->nchans; i++) {
        struct uipc_chan *ch = &m->chans[i];
        if (!ch->broken && uipc__reset_asked(ch->reset))
            uipc__chan_halt(ch);
        else if (ch->broken && uipc__violation_cleared(m, ch->index, ch->reset))
            uipc__chan_restart(ch);
        uipc__chan_reap(ch);
    }
    if (!deliver)
        return n;
    bool outer = m->turning;
    m->turning = true;
    uint64_t now = 0;
    for (unsigned i = 0; i < m->nchans; i++) {
        struct uipc_chan *ch = &m->chans[i];
        if (ch->async_deadlines || ch->queued.head) {
            if (!now)
                now = uipc__now_ns();
            uipc__chan_expire(ch, now);
        }
        n += uipc__chan_deliver(ch);
        /* The slots the deliveries freed go to the calls queued for one;
         * those that end unsent are delivered now. */
        if (ch->queued.head) {
            uipc__chan_drain(ch, now);
            n += uipc__chan_deliver(ch);
        }
    }
    m->turning = outer;
    return n;
}

/* The earliest moment uipc_poll must wake up by itself: its own timeout,
 * or an async call's deadline. */
static uint64_t poll_deadline(uipc_module *m, int timeout_ms)
{
    uint64_t d = timeout_ms > 0 ? uipc__now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    for (unsigned i = 0; i < m->nchans; i++) {
        uint64_t c = uipc__chan_next_deadline(&m->chans[i]);
        if (c && (d == 0 || c < d))
            d = c;
    }
    return d;
}

/* fd mode: while the caller's loop sleeps in epoll, peers ring our bell
 * instead of the futex.  Disarmed while we run, armed when we return. */
static void bell_set(uipc_module *m, uint32_t v)
{
    if (m->ctl.base)
        uipc_store_relaxed(&m->ctl.side[UIPC_CLIENT]->bell, v);
    for (unsigned i = 0; i < m->nchans; i++)
        uipc_store_relaxed(&m->chans[i].r.side[UIPC_CLIENT]->bell, v);
    for (unsigned i = 0; i < m->nsrvs; i++)
        uipc_store_relaxed(&m->srvs[i].r.side[UIPC_SERVER]->bell, v);
}

static void bell_disarm(uipc_module *m)
{
    bell_set(m, 0);
    uipc__bell_drain(m->bell);
}

static bool fifos_pending(uipc_module *m)
{
    for (unsigned i = 0; i < m->nchans; i++) {
        struct uipc_chan *ch = &m->chans[i];
        if (!ch->broken && (uipc__fifo_peek(&ch->cmp) != 0 || ch->ready_head != ch->ready_tail))
            return true;
    }
    for (unsigned i = 0; i < m->nsrvs; i++)
        if (!m->srvs[i].broken && uipc__fifo_peek(&m->srvs[i].sub) != 0)
            return true;
    return false;
}

static void bell_arm(uipc_module *m)
{
    bell_set(m, 1);
    uipc_fence(); /* armed before the re-check, as a sleeper (atomics.h) */
    if (fifos_pending(m)) /* something slipped in: make the fd readable ourselves */
        uipc__bell_ring(m->self);
}

/* The loop runs: tell the supervisor we are ready, and hear whether it
 * asks us to stop. */
static bool control_says_stop(uipc_module *m)
{
    if (!m->ctl.base)
        return false;
    _Atomic uint32_t *w = &m->ctl.side[UIPC_CLIENT]->ctl;
    uint32_t v = uipc_load_acquire(w);
    if (!(v & UIPC_CTL_READY))
        v = atomic_fetch_or(w, UIPC_CTL_READY);
    return v & UIPC_CTL_STOP;
}

int uipc_poll(uipc_module *m, int timeout_ms)
{
    struct uipc_waitset ws;
    if (!m)
        return -EINVAL;
    pthread_mutex_lock(&m->lock);
    if (m->fd_mode)
        bell_disarm(m);
    if (control_says_stop(m)) {
        pthread_mutex_unlock(&m->lock);
        return -UIPC_ESTOPPED;
    }
    /* Every poll beats (a coarse clock read; a store per ms at most), busy
     * or idle: a loop that comes back here is alive. */
    uipc__beat(m);
    int n = uipc__progress(m, true);
    if (n == 0 && timeout_ms != 0 && !atomic_load(&m->stop)) {
        uint64_t deadline = poll_deadline(m, timeout_ms);
        uipc__waitset_build(m, &ws, true);
        pthread_mutex_unlock(&m->lock);
        uipc__wait(m, &ws, deadline, true);
        pthread_mutex_lock(&m->lock);
        n = uipc__progress(m, true);
    }
    if (m->fd_mode)
        bell_arm(m);
    pthread_mutex_unlock(&m->lock);
    return n;
}

int uipc_run(uipc_module *m)
{
    if (!m)
        return -EINVAL;
    while (!atomic_load(&m->stop)) {
        int r = uipc_poll(m, -1);
        if (r == -UIPC_ESTOPPED)
            return 0; /* the supervisor asked us to stop */
        if (r < 0)
            return r;
    }
    atomic_store(&m->stop, 0);
    return 0;
}

int uipc_fd(uipc_module *m)
{
    if (!m)
        return -EINVAL;
    pthread_mutex_lock(&m->lock);
    if (!m->fd_mode) {
        m->fd_mode = true;
        bell_arm(m);
    }
    pthread_mutex_unlock(&m->lock);
    return m->bell;
}

void uipc_stop(uipc_module *m)
{
    if (!m)
        return;
    atomic_store(&m->stop, 1);
    uipc__kick(m);
    /* Always: reading fd_mode here would race, and a spare datagram on
     * the bell only costs the next uipc_poll one read.  send() is
     * async-signal-safe. */
    uipc__bell_ring(m->self);
}

void uipc_set_spin(uipc_module *m, uint32_t spin_ns)
{
    if (m)
        m->spin_ns = spin_ns;
}

void uipc_alive(uipc_module *m)
{
    if (m)
        uipc__beat(m);
}
