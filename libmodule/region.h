/* SPDX-License-Identifier: MIT */
/* Layout of a channel's shared-memory region, and the private view of it.
 * Nothing in a region is a pointer: offsets and indices only. */
#ifndef UIPC_REGION_H
#define UIPC_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomics.h"
#include "latency.h"

#define UIPC_REGION_MAGIC   0x43504955u /* "UIPC" */
#define UIPC_REGION_VERSION 3 /* 3: side.armed, taken by the waker (was sleepers, a count) */
#define UIPC_LINE           128 /* a cache line pair: Intel's adjacent-line prefetcher */
#define UIPC_SERVICE_MAX    64
#define UIPC_MAX_SLOTS      65536u
#define UIPC_MIN_SLOT_SIZE  16u
#define UIPC_MAX_SLOT_SIZE  (16u << 20)
#define UIPC_MAX_REGION     (1ull << 30)
#define UIPC_DEFAULT_SLOTS  64u
#define UIPC_DEFAULT_SLOT_SIZE 4096u

/* Immutable after creation; each side copies it once at attach. */
struct uipc_region_hdr {
    uint32_t magic;
    uint16_t version;
    uint16_t hdr_size;
    uint32_t slot_count;
    uint32_t slot_size;   /* payload bytes per slot */
    uint32_t slot_stride; /* bytes from one slot header to the next */
    uint32_t fifo_size;   /* entries per FIFO: power of two >= 2 * slot_count */
    uint64_t size;        /* whole region */
    uint64_t side_off[2]; /* struct uipc_side, one per role */
    uint64_t fifo_off[2]; /* struct uipc_fifo_shared, submit then completion */
    uint64_t slots_off;
    char     service[UIPC_SERVICE_MAX];
};

enum uipc_role { UIPC_SERVER = 0, UIPC_CLIENT = 1 };
enum uipc_fifo_id { UIPC_SUBMIT = 0, UIPC_COMPLETE = 1 };

/* Per side.  The first line is read by the peer on every call (is the
 * service up? does it sleep?) and written by this side only when it goes
 * to sleep; what this side writes often lives on the second line, so the
 * peer's copy of the first stays valid. */
struct uipc_side {
    _Alignas(UIPC_LINE) _Atomic uint32_t epoch; /* incarnation on this side; 0: down */
    _Atomic uint32_t wake;     /* futex word: bumped by the peer to wake us */
    _Atomic uint32_t armed;    /* 1: a thread of this side sleeps (or is about to) on `wake`;
                                * set by the sleeper, taken by the waker (wait.c) */
    _Atomic uint32_t bell;     /* 1: asleep in a poll loop; ring our bell (taken by the ringer) */
    _Alignas(UIPC_LINE) _Atomic uint64_t beat_ms; /* last sign of life, CLOCK_MONOTONIC ms */
    _Atomic uint64_t violations; /* protocol violations this side saw */
    _Atomic uint32_t ctl;        /* control region only: UIPC_CTL_* */
    _Atomic uint32_t fault;      /* control region only: UIPC_FAULT_*, set by the supervisor */
    _Atomic uint32_t fault_ms;   /* control region only: how long UIPC_FAULT_SLOW sleeps, or
                                  * which attack UIPC_FAULT_HOSTILE makes */
    /* Channel regions, client side: more of the client's counts (below),
     * on this line's spare room so the layout of the lines below stays. */
    _Atomic uint64_t lat_sum_ns;  /* the sampled latencies (lat[]) added up */
    _Atomic uint64_t bad_status;  /* completions whose status was forged: -UIPC_EBADSTATUS */
    /* The client's calls, for the supervisor's stats; written only by this
     * side (under its module lock), read by the supervisor, trusted by
     * no one: a peer may scribble on them. */
    _Alignas(UIPC_LINE) _Atomic uint64_t issued;
    _Atomic uint64_t ok; /* completed with a status the handler gave (not bad_status) */
    _Atomic uint64_t peer_died, timed_out, proto;
    _Atomic uint64_t duplicates;   /* completions dropped: a second one for a call, or a stray */
    _Atomic uint64_t sync_waiting; /* gauge: sync callers waiting for their completion now */
    union {
        _Atomic uint64_t lat[UIPC_LAT_BUCKETS]; /* sampled latencies, issue to completion */
        /* Control region only (it carries no calls): protocol violations
         * this module saw, per channel in its UIPC_CHANNELS order.  Its
         * peers cannot write here, so the supervisor can trust whom it
         * blames (sv.c, check_violations). */
        _Atomic uint64_t chan_violations[UIPC_LAT_BUCKETS];
    };
};
#define UIPC_CTL_READY 1u /* set by the module: its loop runs */
#define UIPC_CTL_STOP  2u /* set by the supervisor: uipc_run should return */
/* Added by the supervisor after it changed its words about a channel
 * (struct uipc_ctl_chan) and before it wakes the module: the control word
 * is part of every wait (wait.c), so a module about to sleep sees the
 * change in its last look instead of sleeping through it. */
#define UIPC_CTL_NEWS  0x10000u
/* A control region's slot 0 holds one of these per channel of its module,
 * by the channel's index in UIPC_CHANNELS.  Only the supervisor writes
 * them, and only the module and the supervisor map a control region: no
 * peer can forge or erase them.  (The same words in a channel region,
 * side[].epoch, are informative only: both ends can write them.) */
struct uipc_ctl_chan {
    _Atomic uint32_t epoch; /* client end: the server's epoch while it takes calls, 0 while
                             * it is down or drained; server end: our own epoch */
    _Atomic uint32_t alive; /* client end: the epoch of the server incarnation alive now, or
                             * the last dead one's | UIPC_EPOCH_DEAD (a new value at every
                             * death); a call sent to another one gets -UIPC_EPEERDIED */
    _Atomic uint32_t reset; /* nonzero: stop using this channel and say so (chan_violations),
                             * until the supervisor has emptied it and cleared both words */
    uint32_t pad;
};
/* Epochs stay below this bit; `alive` of a dead incarnation is its epoch
 * with it set: a client that saw one death cannot mistake the next for it. */
#define UIPC_EPOCH_DEAD 0x80000000u
#define UIPC_CTL_CHANNELS UIPC_LAT_BUCKETS /* one per chan_violations word */
#define UIPC_CTL_SLOT_SIZE ((uint32_t)(UIPC_CTL_CHANNELS * sizeof(struct uipc_ctl_chan)))

/* Faults the supervisor asks a module to inject into its next handler
 * (uipc-chaos, `uipcctl fault`); the module takes the word with an
 * exchange, so each request fires once. */
#define UIPC_FAULT_ABORT 1u /* abort() inside the handler */
#define UIPC_FAULT_SLOW  2u /* sleep fault_ms before running the handler */
#define UIPC_FAULT_HOSTILE 3u /* this incarnation attacks its peers before the handler
                               * (libmodule/hostile.c); fault_ms selects the attack */
#define UIPC_HOSTILE_ATTACKS 5u /* fault_ms % this: hostile.c's attacks, sv-channel.c's names */

/* One FIFO entry.  `seq` is position + 1, stored last with release: the
 * consumer polls the entry itself instead of a separate producer index. */
struct uipc_fifo_entry {
    _Atomic uint32_t seq;
    uint32_t slot;
    uint32_t gen;
    uint32_t tag; /* submit: server epoch seen; complete: 0 (not read) */
};

struct uipc_fifo_shared {
    _Alignas(UIPC_LINE) _Atomic uint32_t tail; /* producer's, published per batch */
    _Alignas(UIPC_LINE) _Atomic uint32_t head; /* consumer's, published per batch */
    _Alignas(UIPC_LINE) struct uipc_fifo_entry ent[];
};

/* Slot ownership as one word, so a crash never leaves it half-written:
 * generation in the high half, state in the low byte. */
enum uipc_slot_state {
    UIPC_SLOT_FREE = 0,      /* the client may take it */
    UIPC_SLOT_SUBMITTED = 1, /* client filled it; in (or about to be in) the submit FIFO */
    UIPC_SLOT_SERVING = 2,   /* server took it off the submit FIFO */
    UIPC_SLOT_DONE = 3,      /* server wrote the reply; completion pushed or about to be */
};
static inline uint64_t uipc_slot_word(uint32_t gen, enum uipc_slot_state st)
{
    return (uint64_t)gen << 32 | (uint64_t)st;
}
static inline uint32_t uipc_slot_word_gen(uint64_t w) { return (uint32_t)(w >> 32); }
static inline uint32_t uipc_slot_word_state(uint64_t w) { return (uint32_t)(w & 0xff); }

/* Slot header: on the same line as the first payload bytes. */
struct uipc_slot_hdr {
    _Atomic uint64_t own;
    uint32_t opcode;
    int32_t  status;
    uint32_t req_len;
    uint32_t rep_len;
    uint64_t deadline_ns; /* the caller's, CLOCK_MONOTONIC (0: none): its claim, about its own call */
};
#define UIPC_SLOT_HDR 32u

/* A process's private view: geometry copied once, pointers derived from it. */
struct uipc_region {
    unsigned char *base;
    size_t size;
    int fd;
    uint32_t slots, slot_size, stride, fifo_size;
    struct uipc_side *side[2];
    struct uipc_fifo_shared *fifo[2];
    unsigned char *slot_base;
    char service[UIPC_SERVICE_MAX];
};

static inline struct uipc_slot_hdr *uipc_slot(const struct uipc_region *r, uint32_t i)
{
    return (struct uipc_slot_hdr *)(r->slot_base + (size_t)i * r->stride);
}
static inline unsigned char *uipc_slot_data(const struct uipc_region *r, uint32_t i)
{
    return (unsigned char *)uipc_slot(r, i) + UIPC_SLOT_HDR;
}

/* Brings slot i's first two lines (the header and the first 96 payload
 * bytes: a small call whole) into our cache for writing, before we read
 * what the peer wrote there: read plainly, a line comes shared, and our
 * own store into it next (the state word, a reply, the next command)
 * costs a second trip to take it from the peer.  uipc-spin's median went
 * from ~535 to ~462 ns (architecture.md, "Cache lines a small call moves"). */
static inline void uipc_slot_prefetch(const struct uipc_region *r, uint32_t i)
{
    const char *h = (const char *)uipc_slot(r, i);
    __builtin_prefetch(h, 1);
    __builtin_prefetch(h + 64, 1);
}

/* Channel idx's words in a control region (the caller checked that
 * idx < UIPC_CTL_CHANNELS and that the region's slots hold them). */
static inline struct uipc_ctl_chan *uipc_ctl_chan(const struct uipc_region *ctl, unsigned idx)
{
    return (struct uipc_ctl_chan *)(void *)uipc_slot_data(ctl, 0) + idx;
}

/* The waker's half of a sleep handshake (`armed`, or `bell`), after its
 * fence: true once per sleep of that side.  The plain load first keeps a
 * busy pair, whose flag stays 0, from writing the line the peer reads on
 * every call. */
static inline bool uipc_take_flag(_Atomic uint32_t *flag)
{
    return atomic_load_explicit(flag, memory_order_relaxed) != 0 && atomic_exchange(flag, 0) != 0;
}

/* Whether a side said it sleeps, on its futex or in a poll loop, by an
 * unfenced look: enough to decide to tell it before a batch ends (chan.c,
 * serve.c); the fenced look in uipc__notify decides every wake-up. */
static inline bool uipc_side_sleeps(const struct uipc_side *s)
{
    return atomic_load_explicit(&s->armed, memory_order_relaxed) != 0 ||
           atomic_load_explicit(&s->bell, memory_order_relaxed) != 0;
}

/* After publishing to a side (an entry, or a control word): wakes the
 * process there if it said it sleeps, by futex or by its bell (wait.c). */
void uipc__notify(struct uipc_side *peer, int peer_bell);

/* Fills *h with the layout for this geometry.  Pure.  -EINVAL if out of
 * bounds (counts, sizes, name). */
int uipc__region_layout(const char *service, uint32_t slots, uint32_t slot_size,
                        struct uipc_region_hdr *h);
/* Checks a header copied from a peer against the mapping's size.  Pure. */
int uipc__region_check(const struct uipc_region_hdr *h, uint64_t size);
/* Creates a sealed memfd region; *fd_out is O_CLOEXEC. */
int uipc__region_create(const char *service, uint32_t slots, uint32_t slot_size, int *fd_out);
/* Maps and validates a region fd (seals, size, header).  Takes no ownership
 * of fd; r->fd is a copy of it for reference. */
int uipc__region_map(int fd, struct uipc_region *r);
/* Maps a region whose geometry the caller knows (the supervisor, taking
 * its own regions back across a reexec): the header, which either end
 * can rewrite, is not read; the size must be this geometry's. */
int uipc__region_map_as(int fd, const char *service, uint32_t slots, uint32_t slot_size, struct uipc_region *r);
void uipc__region_unmap(struct uipc_region *r);
/* Writes the header again from r's private geometry.  Either end can
 * rewrite a region's header, and the next incarnation of the other end
 * would then fail to attach, or attach with another geometry: the
 * supervisor restores it before every start. */
int uipc__region_restore_header(const struct uipc_region *r);

#endif
