/* SPDX-License-Identifier: MIT */
/* The SPSC slot FIFO (libmodule/fifo.h, fifo.c) on a ring in plain heap
 * memory: order, full and empty edges, 32-bit wrap, and hostile peers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fifo.h"

#define RING     8u          /* entries: small, so edges come quickly */
#define NEAR_WRAP 0xFFFFFFF0u /* positions 16 short of the 32-bit wrap */

struct fx {
    struct uipc_fifo_shared *sh;
    uint32_t size;
    struct uipc_fifo prod, cons;
};

/* Distinct contents per position, so a reordering or a stale entry shows. */
static uint32_t ent_slot(uint32_t i) { return i * 3u + 1u; }
static uint32_t ent_gen(uint32_t i) { return i ^ 0x5a5a0000u; }
static uint32_t ent_tag(uint32_t i) { return ~i; }

static int fx_setup(void **state)
{
    size_t bytes = sizeof(struct uipc_fifo_shared) + RING * sizeof(struct uipc_fifo_entry);
    bytes = (bytes + UIPC_LINE - 1) / UIPC_LINE * UIPC_LINE;
    struct fx *x = calloc(1, sizeof(*x));
    if (!x)
        return -1;
    x->sh = aligned_alloc(UIPC_LINE, bytes);
    if (!x->sh) {
        free(x);
        return -1;
    }
    memset(x->sh, 0, bytes);
    x->size = RING;
    *state = x;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *x = *state;
    free(x->sh);
    free(x);
    return 0;
}

static struct uipc_fifo_entry *ent_at(struct fx *x, uint32_t pos)
{
    return &x->sh->ent[pos & (x->size - 1)];
}

/* Leaves the ring as a full previous lap ending at `pos` would have: both
 * ends at pos, every entry stamped with its last position + 1. */
static void fx_lap_ending_at(struct fx *x, uint32_t pos)
{
    for (uint32_t p = pos - x->size; p != pos; p++)
        atomic_store(&ent_at(x, p)->seq, p + 1);
    atomic_store(&x->sh->tail, pos);
    atomic_store(&x->sh->head, pos);
}

static void fx_attach(struct fx *x)
{
    uipc__fifo_attach_producer(&x->prod, x->sh, x->size);
    uipc__fifo_attach_consumer(&x->cons, x->sh, x->size);
}

/* Pushes entries for positions first..first+n-1, each must succeed. */
static void push_n(struct fx *x, uint32_t first, uint32_t n)
{
    for (uint32_t i = first; i != first + n; i++)
        assert_int_equal(uipc__fifo_push(&x->prod, ent_slot(i), ent_gen(i), ent_tag(i)), 0);
}

/* Pops n entries, expecting the contents push_n wrote for first... */
static void pop_n(struct fx *x, uint32_t first, uint32_t n)
{
    for (uint32_t i = first; i != first + n; i++) {
        uint32_t slot = 0, gen = 0, tag = 0;
        assert_int_equal(uipc__fifo_peek(&x->cons), 1);
        assert_int_equal(uipc__fifo_pop(&x->cons, &slot, &gen, &tag), 1);
        assert_int_equal(slot, ent_slot(i));
        assert_int_equal(gen, ent_gen(i));
        assert_int_equal(tag, ent_tag(i));
    }
}

/* The consumer sees nothing and does not move. */
static void expect_empty(struct fx *x)
{
    uint32_t pos = x->cons.pos, slot = 77, gen = 78, tag = 79;
    assert_int_equal(uipc__fifo_peek(&x->cons), 0);
    assert_int_equal(uipc__fifo_pop(&x->cons, &slot, &gen, &tag), 0);
    assert_int_equal(x->cons.pos, pos);
    assert_int_equal(slot, 77);
    assert_int_equal(gen, 78);
    assert_int_equal(tag, 79);
}

/* The push is refused and writes nothing. */
static void expect_push_refused(struct fx *x)
{
    uint32_t pos = x->prod.pos;
    uint32_t seq = atomic_load(&ent_at(x, pos)->seq);
    assert_int_equal(uipc__fifo_push(&x->prod, 1, 2, 3), -UIPC_EPROTO);
    assert_int_equal(x->prod.pos, pos);
    assert_int_equal(atomic_load(&ent_at(x, pos)->seq), seq);
}

static void test_empty(void **state)
{
    struct fx *x = *state;
    fx_attach(x);
    assert_int_equal(x->cons.pos, 0);
    expect_empty(x);
    /* Also right after a lap, where the stamps are the previous lap's. */
    fx_lap_ending_at(x, 40);
    fx_attach(x);
    assert_int_equal(x->cons.pos, 40);
    expect_empty(x);
}

static void test_order_and_contents(void **state)
{
    struct fx *x = *state;
    fx_attach(x);
    push_n(x, 0, 5);
    for (uint32_t p = 0; p < 5; p++)
        assert_int_equal(atomic_load(&ent_at(x, p)->seq), p + 1);
    pop_n(x, 0, 5);
    expect_empty(x);
    push_n(x, 5, 2);
    pop_n(x, 5, 1);
    push_n(x, 7, 1);
    pop_n(x, 6, 2);
    expect_empty(x);
}

static void test_full(void **state)
{
    struct fx *x = *state;
    fx_attach(x);
    push_n(x, 0, x->size); /* the whole ring, head never published */
    expect_push_refused(x);
    /* Popping alone frees nothing: the producer only trusts published heads. */
    pop_n(x, 0, 1);
    expect_push_refused(x);
    uipc__fifo_publish_head(&x->cons);
    push_n(x, x->size, 1); /* reuses the entry at index 0 */
    expect_push_refused(x);
    pop_n(x, 1, x->size);
    expect_empty(x);
    uipc__fifo_publish_head(&x->cons);
    push_n(x, x->size + 1, x->size);
    expect_push_refused(x);
}

/* Batches of 1..size entries, so the ring is also full across the wrap. */
static void cycle(struct fx *x, uint32_t first, uint32_t total)
{
    uint32_t done = 0;
    for (uint32_t b = 0; done < total; b++) {
        uint32_t n = b % x->size + 1;
        if (n > total - done)
            n = total - done;
        push_n(x, first + done, n);
        uipc__fifo_publish_tail(&x->prod);
        pop_n(x, first + done, n);
        expect_empty(x);
        uipc__fifo_publish_head(&x->cons);
        done += n;
    }
}

static void test_wrap(void **state)
{
    struct fx *x = *state;
    fx_lap_ending_at(x, NEAR_WRAP);
    fx_attach(x);
    assert_int_equal(x->prod.pos, NEAR_WRAP);
    cycle(x, NEAR_WRAP, 100);
    assert_int_equal(x->prod.pos, NEAR_WRAP + 100u);
    assert_int_equal(x->cons.pos, NEAR_WRAP + 100u);
    assert_true(x->prod.pos < NEAR_WRAP); /* it did wrap */
    assert_int_equal(atomic_load(&x->sh->head), NEAR_WRAP + 100u);
}

/* The wrap again, but starting five laps before it: the stamps the consumer
 * meets across the wrap were written by real pushes, not by the fixture. */
static void test_wrap_from_earlier_laps(void **state)
{
    struct fx *x = *state;
    uint32_t start = 0u - 5 * RING - 3;
    fx_lap_ending_at(x, start);
    fx_attach(x);
    cycle(x, start, 10 * RING);
    assert_int_equal(x->cons.pos, start + 10 * RING);
}

/* Stamps relative to the consumer's position, and what peek must say. */
static void test_stamps(void **state)
{
    struct fx *x = *state;
    static const struct { int64_t rel; int want; } cases[] = {
        { 1, 1 },                   /* the entry expected */
        { 1 - (int64_t)RING, 0 },   /* the previous lap's: empty */
        { 1 - 2 * (int64_t)RING, -UIPC_EPROTO }, /* two laps old */
        { 0, -UIPC_EPROTO },        /* the entry before ours */
        { 2, -UIPC_EPROTO },        /* one ahead */
        { 1 + (int64_t)RING, -UIPC_EPROTO }, /* the next lap's */
        { 0x40000000, -UIPC_EPROTO },
    };
    static const uint32_t at[] = { 40, NEAR_WRAP + 3, 0xFFFFFFFFu };
    for (size_t a = 0; a < sizeof(at) / sizeof(at[0]); a++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            fx_lap_ending_at(x, at[a]);
            fx_attach(x);
            atomic_store(&ent_at(x, at[a])->seq, at[a] + (uint32_t)cases[i].rel);
            uint32_t slot, gen, tag;
            assert_int_equal(uipc__fifo_peek(&x->cons), cases[i].want);
            assert_int_equal(uipc__fifo_pop(&x->cons, &slot, &gen, &tag), cases[i].want);
            assert_int_equal(x->cons.pos, at[a] + (cases[i].want == 1));
        }
    }
    /* 0 is "never written" anywhere but where it is the expected stamp. */
    fx_lap_ending_at(x, 40);
    fx_attach(x);
    atomic_store(&ent_at(x, 40)->seq, 0);
    expect_empty(x);
}

/* Fills the ring from `start`, then the consumer publishes head at the
 * producer's position + delta; returns what the next push says. */
static int push_after_head(struct fx *x, uint32_t start, int64_t delta)
{
    fx_lap_ending_at(x, start);
    fx_attach(x);
    push_n(x, start, x->size);
    atomic_store(&x->sh->head, x->prod.pos + (uint32_t)delta);
    uint32_t pos = x->prod.pos;
    int r = uipc__fifo_push(&x->prod, 1, 2, 3);
    assert_int_equal(x->prod.pos, pos + (r == 0));
    return r;
}

static void test_impossible_head(void **state)
{
    struct fx *x = *state;
    static const uint32_t at[] = { 0, 100, NEAR_WRAP + 4, 0xFFFFFFFFu };
    const int64_t size = RING;
    for (size_t a = 0; a < sizeof(at) / sizeof(at[0]); a++) {
        /* Honest heads. */
        assert_int_equal(push_after_head(x, at[a], 0), 0);        /* all consumed */
        assert_int_equal(push_after_head(x, at[a], -1), 0);       /* one left */
        assert_int_equal(push_after_head(x, at[a], 1 - size), 0); /* one consumed */
        /* Full, which an honest consumer never lets happen. */
        assert_int_equal(push_after_head(x, at[a], -size), -UIPC_EPROTO);
        /* Behind by more than the ring. */
        assert_int_equal(push_after_head(x, at[a], -size - 1), -UIPC_EPROTO);
        assert_int_equal(push_after_head(x, at[a], INT32_MIN), -UIPC_EPROTO);
        /* Ahead of everything ever pushed. */
        assert_int_equal(push_after_head(x, at[a], 1), -UIPC_EPROTO);
        assert_int_equal(push_after_head(x, at[a], size), -UIPC_EPROTO);
        assert_int_equal(push_after_head(x, at[a], INT32_MAX), -UIPC_EPROTO);
    }
    /* Ahead already when the producer attaches: the producer starts at the
     * consumer's word (a lie there misleads only the liar's own end). */
    fx_lap_ending_at(x, 100);
    atomic_store(&x->sh->head, 101);
    fx_attach(x);
    assert_int_equal(x->prod.pos, 101);
    assert_int_equal(uipc__fifo_push(&x->prod, 1, 2, 3), 0);
}

/* A dead producer that moved its tail anywhere: the successor starts from
 * the consumer's head all the same (the reclaim after a hostile server). */
static void test_attach_ignores_tail(void **state)
{
    struct fx *x = *state;
    static const int64_t lies[] = { 1000000, -1000, 3, -3 };
    for (size_t k = 0; k < sizeof(lies) / sizeof(lies[0]); k++) {
        fx_lap_ending_at(x, 40);
        fx_attach(x);
        push_n(x, 40, 2);
        uipc__fifo_publish_tail(&x->prod);
        atomic_store(&x->sh->tail, (uint32_t)(42 + lies[k]));
        struct uipc_fifo succ;
        uipc__fifo_attach_producer(&succ, x->sh, x->size);
        assert_int_equal(succ.pos, 42);
        x->prod = succ;
        push_n(x, 42, 1);
        pop_n(x, 40, 3);
        expect_empty(x);
    }
}

/* A producer died after stamping entries but before publishing tail: its
 * successor must not overwrite them. */
static void test_attach_skips_unpublished(void **state)
{
    struct fx *x = *state;
    fx_lap_ending_at(x, 20);
    fx_attach(x);
    push_n(x, 20, 2);
    uipc__fifo_publish_tail(&x->prod);
    push_n(x, 22, 3); /* stamped, never counted in tail */
    assert_int_equal(atomic_load(&x->sh->tail), 22);

    struct uipc_fifo succ;
    uipc__fifo_attach_producer(&succ, x->sh, x->size);
    assert_int_equal(succ.pos, 25);
    assert_int_equal(succ.cached, 20);
    x->prod = succ;
    push_n(x, 25, 1);
    pop_n(x, 20, 6);
    expect_empty(x);

    /* Nothing unpublished: the successor starts where the consumer is, not
     * past the previous lap's stamps. */
    fx_lap_ending_at(x, NEAR_WRAP);
    uipc__fifo_attach_producer(&succ, x->sh, x->size);
    assert_int_equal(succ.pos, NEAR_WRAP);
}

/* Every entry stamped as if the producer were a whole lap ahead of tail:
 * attach must return, and the producer then sees a full ring. */
static void test_attach_bounded(void **state)
{
    struct fx *x = *state;
    static const uint32_t at[] = { 0, 37, 0xFFFFFFFDu };
    for (size_t a = 0; a < sizeof(at) / sizeof(at[0]); a++) {
        fx_lap_ending_at(x, at[a] + x->size); /* stamps tail+1 .. tail+size */
        atomic_store(&x->sh->tail, at[a]);
        atomic_store(&x->sh->head, at[a]);
        uipc__fifo_attach_producer(&x->prod, x->sh, x->size);
        assert_int_equal(x->prod.pos, at[a] + x->size);
        expect_push_refused(x);
    }
}

static void test_publish(void **state)
{
    struct fx *x = *state;
    fx_lap_ending_at(x, NEAR_WRAP + 14);
    fx_attach(x);
    push_n(x, NEAR_WRAP + 14, 3);
    assert_int_equal(atomic_load(&x->sh->tail), NEAR_WRAP + 14); /* not yet */
    uipc__fifo_publish_tail(&x->prod);
    assert_int_equal(atomic_load(&x->sh->tail), NEAR_WRAP + 17);
    pop_n(x, NEAR_WRAP + 14, 2);
    assert_int_equal(atomic_load(&x->sh->head), NEAR_WRAP + 14);
    uipc__fifo_publish_head(&x->cons);
    assert_int_equal(atomic_load(&x->sh->head), NEAR_WRAP + 16);
    assert_int_equal(atomic_load(&x->sh->tail), NEAR_WRAP + 17);

    /* A consumer attaching later resumes at the published head. */
    struct uipc_fifo again;
    uipc__fifo_attach_consumer(&again, x->sh, x->size);
    assert_int_equal(again.pos, NEAR_WRAP + 16);
    x->cons = again;
    pop_n(x, NEAR_WRAP + 16, 1);
    expect_empty(x);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_empty),
        T(test_order_and_contents),
        T(test_full),
        T(test_wrap),
        T(test_wrap_from_earlier_laps),
        T(test_stamps),
        T(test_impossible_head),
        T(test_attach_skips_unpublished),
        T(test_attach_ignores_tail),
        T(test_attach_bounded),
        T(test_publish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
