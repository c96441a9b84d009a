/* SPDX-License-Identifier: MIT */
/* Memory ordering for everything uipc shares between processes, in one place. */
#ifndef UIPC_ATOMICS_H
#define UIPC_ATOMICS_H

#include <stdatomic.h>
#include <stdint.h>

/*
 * The rules, once:
 *  - A producer writes an entry's payload (and the slot it names) with plain
 *    stores, then publishes with a store-release of the entry's sequence
 *    stamp.  A consumer load-acquires the stamp; if it is the one expected,
 *    every byte written before it is visible.  x86 needs no fence for this;
 *    the compiler must still not reorder, which release/acquire guarantees.
 *  - Sleep and wake-up form a store->load (Dekker) pattern: the sleeper
 *    stores "asleep" then loads the ring; the waker stores the ring then
 *    loads "asleep".  Release/acquire does not order a store before a later
 *    load (x86's store buffer reorders exactly that), so both sides put a
 *    full fence between their store and their load: uipc_fence().
 *  - The same pattern guards "service up" against "slot submitted" between a
 *    caller and the reclaim that follows a peer's death; same fence.
 *  - Words a peer may scribble on are read once into a local and validated;
 *    never re-read (double fetch).
 */
#define uipc_load_acquire(p)     atomic_load_explicit((p), memory_order_acquire)
#define uipc_load_relaxed(p)     atomic_load_explicit((p), memory_order_relaxed)
#define uipc_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define uipc_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
/* A locked add to the stack is a full barrier on x86 and cheaper than
 * mfence (Linux's smp_mb() does the same). */
#if defined(__x86_64__)
#define uipc_fence() __asm__ __volatile__("lock; addl $0,-8(%%rsp)" ::: "memory", "cc")
#else
#define uipc_fence() atomic_thread_fence(memory_order_seq_cst)
#endif

/* Moves a line we wrote out of our core's private caches into the shared
 * last-level cache, where the peer's next read of it finds it instead of
 * snooping our core.  A hint: CPUs without CLDEMOTE (before Intel's
 * Tremont and Sapphire Rapids) execute its encoding as a NOP. */
static inline void uipc_cldemote(const void *p)
{
#if defined(__x86_64__)
    __asm__ __volatile__(".byte 0x0f, 0x1c, 0x00" : : "a"(p) : "memory");
#else
    (void)p;
#endif
}

static inline void uipc_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

#endif
