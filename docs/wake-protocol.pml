/* SPDX-License-Identifier: MIT */
/*
 * docs/wake-protocol.pml -- a Promela model of the sleep/wake handshake of
 * one side of a channel (libmodule/wait.c): a waker (the peer) publishes
 * entries and wakes the side when it is armed; two threads of the side
 * (a poll loop and a sync caller on another thread, say) take what has
 * arrived and sleep on the futex word when nothing has.  Checked by
 * `bash scripts/wake-model-check.sh`.
 *
 * The property: no lost wake-up.  When nothing can move any more (the
 * waker is done and every thread sleeps for good), every published entry
 * has been taken.  The timeout that bounds every real sleep (the
 * heartbeat interval) is left out on purpose: a handshake that needs it
 * to make progress fails here.
 *
 * What it checks, against the design that replaced the sleepers count:
 * the first waker after a sleep takes `armed` (a load, then an exchange)
 * and bumps `wake`.  It may take the flag a sleeper set for its *next*
 * sleep, after it took the entry that waker published (FIELD-NOTES: a
 * waker that clears the flag loses wake-ups).  The sleeper reads `wake`
 * before it sets `armed`, so the bump after the take still differs from
 * what that sleep compares against, and it returns.  -DSNAP_AFTER_ARM
 * reads `wake` after setting `armed` instead: the search must then find
 * the lost wake-up (scripts/wake-model-check.sh expects it to).
 *
 * Granularity: one step per shared access; sequentially consistent (the
 * full fences of wait.c, uipc_fence, are assumed).  futex_waitv(wake, v)
 * is modelled as waiting until wake != v: it returns at once when the word
 * moved before it, and a bump is always followed by FUTEX_WAKE.  Entries
 * are a count: the stamp of "the next entry" is whether published > taken.
 */
#ifndef ENTRIES
#define ENTRIES 3
#endif

byte published = 0; /* entries the waker wrote (each stamped, release) */
byte taken = 0;     /* entries the side consumed (under its module lock) */
byte wake = 0;      /* the side's futex word */
bit armed = 0;      /* the side's: a thread sleeps or is about to */

/* uipc__notify after each publish: fence, load armed, exchange, bump. */
active proctype Waker()
{
    bit old;
    do
    :: published < ENTRIES ->
        published++;
        if
        :: armed != 0 ->
            atomic { old = armed; armed = 0 };
            if
            :: old -> wake++
            :: else -> skip
            fi
        :: else -> skip
        fi
    :: else -> break
    od
}

/* uipc_poll / a sync wait: take what arrived (uipc__progress), build the
 * wait set (snapshot), then sleep_on: read wake, arm, fence, re-check,
 * futex_waitv.  `armed` is never cleared by the sleeper. */
active [2] proctype Side()
{
    bool pending;
    byte seen, w;
    do
    :: atomic { published > taken -> taken = published }
    :: atomic { seen = published; pending = (published > taken) };
        if
        :: pending -> skip
        :: else ->
#ifndef SNAP_AFTER_ARM
            w = wake;
            armed = 1;
#else
            armed = 1;
            w = wake;
#endif
            if
            :: published != seen -> skip /* re-check after the fence */
            :: else ->
end_sleep:      (wake != w)
            fi
        fi
    od
}

/* Runs only when nothing else can: then nothing published may be left. */
active proctype NoLostWakeup()
{
    timeout -> assert(taken == published && published == ENTRIES)
}
