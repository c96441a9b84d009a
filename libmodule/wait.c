/* SPDX-License-Identifier: MIT */
/* Adaptive waiting: spin on the FIFO entries, then sleep on the futex words
 * of every channel at once (futex_waitv), waking peers only when asleep. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bell.h"
#include "internal.h"

uint64_t uipc__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void futex_wake_all(_Atomic uint32_t *word, bool shared)
{
    /* Shared mappings need the non-private operation: a private futex is
     * keyed by address space and never wakes the other process. */
    syscall(SYS_futex, word, shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void uipc__notify(struct uipc_side *peer, int peer_bell)
{
    /* Our entry is published; the fence orders that store before the load
     * of the peer's flags (Dekker, see atomics.h).  The first waker after
     * a sleep takes `armed` and bumps `wake`: one system call per sleep,
     * not one per entry published while the sleeper is still waking up
     * (13 futex wakes per sleep in a 32-deep pipeline before).  Taking the
     * flag never loses a wake-up, though it may take the one the sleeper
     * set for its next sleep: that sleeper read `wake` before it set the
     * flag, so the bump that follows the take wakes that sleep too
     * (docs/wake-protocol.pml). */
    uipc_fence();
    if (uipc_take_flag(&peer->armed)) {
        atomic_fetch_add_explicit(&peer->wake, 1, memory_order_relaxed);
        futex_wake_all(&peer->wake, true);
    }
    /* Our own sender to the peer's bell: never blocks (bell.c).  Taken as
     * `armed` is, for the same reason: the peer's loop re-arms only when
     * its uipc_poll returns, and drains its bell only when the next one
     * begins, so a datagram rung after the take is still there when the
     * loop waits again, and every one before it is one read too many. */
    if (peer_bell >= 0 && uipc_take_flag(&peer->bell))
        uipc__bell_ring(peer_bell);
}

void uipc__kick(uipc_module *m)
{
    atomic_fetch_add(&m->kick, 1);
    if (atomic_load(&m->waiters) != 0)
        futex_wake_all(&m->kick, false);
}

void uipc__wake_loop(uipc_module *m)
{
    uipc__kick(m);
    uipc__bell_ring(m->self);
}

void uipc__beat(uipc_module *m)
{
    /* The coarse clock is read from the vDSO without touching the TSC, so
     * it costs a few nanoseconds even on a VM where CLOCK_MONOTONIC is a
     * system call; its resolution (a jiffy, 1 to 4 ms) is far below any
     * hang timeout. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    /* A store per millisecond at most: the lines are shared. */
    if (atomic_load_explicit(&m->last_beat_ms, memory_order_relaxed) == ms)
        return;
    atomic_store_explicit(&m->last_beat_ms, ms, memory_order_relaxed);
    if (m->ctl.base)
        uipc_store_relaxed(&m->ctl.side[UIPC_CLIENT]->beat_ms, ms);
    for (unsigned i = 0; i < m->nchans; i++)
        uipc_store_relaxed(&m->chans[i].r.side[UIPC_CLIENT]->beat_ms, ms);
    for (unsigned i = 0; i < m->nsrvs; i++)
        uipc_store_relaxed(&m->srvs[i].r.side[UIPC_SERVER]->beat_ms, ms);
}

static void ws_add(struct uipc_waitset *ws, struct uipc_fifo *in, struct uipc_side *mine)
{
    ws->seq[ws->n] = &in->sh->ent[in->pos & in->mask].seq;
    ws->seq0[ws->n] = uipc_load_acquire(ws->seq[ws->n]);
    ws->side[ws->n] = mine;
    /* Arrived since the last look (or corrupted): waiting for the stamp to
     * change would wait for the entry after it, maybe forever. */
    if (uipc__fifo_peek(in) != 0)
        ws->pending = true;
    ws->n++;
}

void uipc__waitset_build(uipc_module *m, struct uipc_waitset *ws, bool stop_wakes)
{
    ws->n = 0;
    ws->pending = false;
    ws->kick0 = atomic_load(&m->kick);
    for (unsigned i = 0; i < m->nchans; i++)
        if (!m->chans[i].broken)
            ws_add(ws, &m->chans[i].cmp, m->chans[i].r.side[UIPC_CLIENT]);
    for (unsigned i = 0; i < m->nsrvs; i++)
        if (!m->srvs[i].broken)
            ws_add(ws, &m->srvs[i].sub, m->srvs[i].r.side[UIPC_SERVER]);
    if (m->ctl.base) { /* the supervisor's requests and news wake us too */
        struct uipc_side *me = m->ctl.side[UIPC_CLIENT];
        ws->seq[ws->n] = &me->ctl;
        ws->seq0[ws->n] = uipc_load_acquire(&me->ctl);
        ws->side[ws->n] = me;
        if (stop_wakes && (ws->seq0[ws->n] & UIPC_CTL_STOP))
            ws->pending = true;
        ws->n++;
    }
}

static bool ws_ready(uipc_module *m, const struct uipc_waitset *ws)
{
    if (ws->pending)
        return true;
    if (atomic_load_explicit(&m->kick, memory_order_acquire) != ws->kick0)
        return true;
    for (unsigned i = 0; i < ws->n; i++)
        if (uipc_load_acquire(ws->seq[i]) != ws->seq0[i])
            return true;
    return false;
}

static bool spin(uipc_module *m, const struct uipc_waitset *ws, uint64_t deadline_ns)
{
    uint64_t end = uipc__now_ns() + m->spin_ns;
    if (deadline_ns && deadline_ns < end)
        end = deadline_ns;
    for (;;) {
        /* The clock is read once per 64 polls: on a VM without a stable TSC
         * every read is a system call. */
        for (int i = 0; i < 64; i++) {
            if (ws_ready(m, ws))
                return true;
            uipc_cpu_relax();
        }
        if (uipc__now_ns() >= end)
            return false;
    }
}

static void sleep_on(uipc_module *m, const struct uipc_waitset *ws, uint64_t deadline_ns)
{
    struct futex_waitv w[UIPC_MAX_CHANNELS + 2];
    unsigned n = 0;

    w[n++] = (struct futex_waitv){ .uaddr = (uintptr_t)&m->kick, .val = ws->kick0,
                                   .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG };
    for (unsigned i = 0; i < ws->n; i++) {
        /* `wake` read before `armed` is set: see uipc__notify. */
        w[n++] = (struct futex_waitv){ .uaddr = (uintptr_t)&ws->side[i]->wake,
                                       .val = uipc_load_acquire(&ws->side[i]->wake),
                                       .flags = FUTEX_32 };
        atomic_store_explicit(&ws->side[i]->armed, 1, memory_order_relaxed);
    }
    atomic_fetch_add(&m->waiters, 1);
    uipc_fence(); /* "asleep" stores before the re-check loads (atomics.h) */

    if (!ws_ready(m, ws)) {
        struct timespec ts, *tp = NULL;
        if (deadline_ns) {
            ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
            ts.tv_nsec = (long)(deadline_ns % 1000000000u);
            tp = &ts;
        }
        /* EAGAIN (a word moved), ETIMEDOUT and EINTR all mean: look again. */
        syscall(SYS_futex_waitv, w, n, 0, tp, CLOCK_MONOTONIC);
    }

    /* `armed` stays: only a waker takes it.  Cleared here, it could be
     * another thread's of ours, set for a sleep that has just begun. */
    atomic_fetch_sub(&m->waiters, 1);
}

void uipc__wait(uipc_module *m, const struct uipc_waitset *ws, uint64_t deadline_ns, bool do_spin)
{
    uint64_t now = uipc__now_ns();
    if (deadline_ns && now >= deadline_ns)
        return;
    /* A waiting module is alive: it beats, and sleeps no longer than the
     * supervisor's heartbeat interval so that it beats again. */
    uipc__beat(m);
    if (m->beat_ns && (!deadline_ns || deadline_ns > now + m->beat_ns))
        deadline_ns = now + m->beat_ns;
    if (do_spin && m->spin_ns && spin(m, ws, deadline_ns))
        return;
    sleep_on(m, ws, deadline_ns);
}
