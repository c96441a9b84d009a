/* SPDX-License-Identifier: MIT */
/* The model check's findings (docs/slot-protocol.pml, architecture.md
 * "Model check"), replayed step by step in one process: both ends of a
 * channel and the supervisor's reclaim run here, in the order of spin's
 * counterexample, so each test fails on the code before its fix (2 to 5,
 * and 6, 9, 10, 11 with a lying server: its writes are made by hand).
 * Finding 1 needs a stall between two statements of issue() and has no
 * test here: the model is its proof; 8's is in test-hostile.c. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fifo.h"
#include "internal.h"
#include "reclaim.h"

#define SLOTS 4

/* A region and a module struct for the ends that live in this process. */
struct bench {
    int fd;
    struct uipc_region r; /* the supervisor's mapping */
    uipc_module m;
    struct uipc_chan ch;
    struct uipc_srv s;
    uint32_t epoch;
    /* The supervisor's words about the channel in each end's control
     * region, and the client's control side (its news word). */
    struct uipc_ctl_chan srv_words, cli_words;
};
static struct uipc_side cli_ctl;

static void bench_open(struct bench *b)
{
    memset(b, 0, sizeof(*b));
    assert_int_equal(uipc__region_create("findings", SLOTS, 64, &b->fd), 0);
    assert_int_equal(uipc__region_map(b->fd, &b->r), 0);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&b->m.lock, &attr);
    pthread_mutexattr_destroy(&attr);
    snprintf(b->m.name, sizeof(b->m.name), "findings");
    b->m.bell = -1;
    b->m.self = -1;
}

static void bench_close(struct bench *b)
{
    uipc__region_unmap(&b->r);
    close(b->fd);
    pthread_mutex_destroy(&b->m.lock);
}

static void client_up(struct bench *b)
{
    assert_int_equal(uipc__chan_init(&b->ch, &b->m, b->fd, -1), 0);
    uipc__chan_bind(&b->ch, &b->cli_words.epoch, &b->cli_words.alive, &b->cli_words.reset);
    b->m.chans = &b->ch;
    b->m.nchans = 1;
}

/* Its death: private state gone; the supervisor reaps and reclaims. */
static void client_dies(struct bench *b)
{
    uipc__chan_fini(&b->ch);
    b->m.chans = NULL;
    b->m.nchans = 0;
    uipc__reclaim_client(&b->r);
}

/* The handler answers at once or leaves the request in service. */
static bool defer_all;
static int handler(uipc_req *req, void *ctx)
{
    (void)ctx;
    if (defer_all)
        return uipc_req_defer(req);
    return 0;
}

/* sv.c: sv_start_module() stamps a new epoch, then the server runs. */
static void server_up(struct bench *b)
{
    uipc__words_started(&b->srv_words, &b->cli_words, ++b->epoch, true);
    assert_int_equal(uipc__srv_init(&b->s, &b->m, b->fd, -1, &b->srv_words.epoch), 0);
    b->s.fn = handler;
}

static int server_dies(struct bench *b)
{
    uipc__srv_fini(&b->s);
    return uipc__reclaim_server(&b->r, &b->cli_words, &cli_ctl, -1);
}

/* A live server and client on a fresh region, and their end. */
static void pair_open(struct bench *b)
{
    bench_open(b);
    server_up(b);
    client_up(b);
}

static void pair_close(struct bench *b)
{
    uipc__srv_fini(&b->s);
    uipc__chan_fini(&b->ch);
    bench_close(b);
}

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    (void)cap;
    memcpy(buf, arg, sizeof(unsigned));
    *len = sizeof(unsigned);
    return 0;
}

struct outcome {
    unsigned completions;
    int status;
};

static void complete(int status, void *arg)
{
    struct outcome *o = arg;
    o->completions++;
    o->status = status;
}

static int call(struct bench *b, struct outcome *o)
{
    struct uipc_call c = { .fill = fill, .complete = complete, .arg = o };
    return uipc_call(&b->ch, &c);
}

static uint32_t free_slots(struct bench *b)
{
    struct uipc_chan_stats st;
    assert_int_equal(uipc_chan_stats(&b->ch, &st), 0);
    return st.free_slots;
}

static uint64_t word(struct bench *b, uint32_t i)
{
    return atomic_load(&uipc_slot(&b->r, i)->own);
}

/* Finding 2: each reclaim answered every slot not yet FREE again, so a
 * server dying again and again while its client was not reaping filled
 * the completion FIFO (2 x slots): "reclaim incomplete", then the next
 * server's own answer failed and it reported the honest client.  The
 * reclaim now writes no completion at all (finding 6); the client answers
 * from `alive`, once per call, however many deaths it missed. */
static void test_reclaims_do_not_pile_up(void **state)
{
    (void)state;
    struct bench b;
    struct outcome o[SLOTS] = { 0 };
    pair_open(&b);
    /* One call answered (DONE, its completion waiting), one in service
     * (SERVING), two submitted and never taken. */
    assert_int_equal(call(&b, &o[0]), 0);
    defer_all = false;
    assert_int_equal(uipc__srv_process(&b.s), 1);
    assert_int_equal(call(&b, &o[1]), 0);
    defer_all = true;
    assert_int_equal(uipc__srv_process(&b.s), 1);
    defer_all = false;
    assert_int_equal(call(&b, &o[2]), 0);
    assert_int_equal(call(&b, &o[3]), 0);
    for (int death = 0; death < 8; death++) {
        assert_true(server_dies(&b) >= 0);
        server_up(&b);
        /* The new server runs nothing: those calls were its predecessor's. */
        assert_int_equal(uipc__srv_process(&b.s), 0);
    }
    /* Now the client reaps: every call gets exactly one completion. */
    uipc__chan_reap(&b.ch);
    uipc__chan_deliver(&b.ch);
    for (unsigned k = 0; k < SLOTS; k++) {
        assert_int_equal(o[k].completions, 1);
        assert_int_equal(o[k].status, k == 0 ? 0 : -UIPC_EPEERDIED);
    }
    assert_int_equal(free_slots(&b), SLOTS);
    /* And the channel works: a call reaches the live server. */
    struct outcome last = { 0 };
    assert_int_equal(call(&b, &last), 0);
    assert_int_equal(uipc__srv_process(&b.s), 1);
    uipc__chan_reap(&b.ch);
    uipc__chan_deliver(&b.ch);
    assert_int_equal(last.completions, 1);
    assert_int_equal(last.status, 0);
    assert_false(b.ch.broken);
    assert_false(b.s.broken);
    pair_close(&b);
}

/* Finding 3: a client that reaped a PEER_DIED and died before delivering
 * it left the slot SERVING; its next incarnation quarantined the slot for
 * a completion already consumed, until the next server death.  The
 * reclaim frees the words of what the dead server held. */
static void test_peer_died_frees_the_word(void **state)
{
    (void)state;
    struct bench b;
    struct outcome o = { 0 };
    pair_open(&b);
    assert_int_equal(call(&b, &o), 0);
    defer_all = true;
    assert_int_equal(uipc__srv_process(&b.s), 1); /* SERVING */
    defer_all = false;
    assert_int_equal(server_dies(&b), 1);
    server_up(&b);
    uipc__chan_reap(&b.ch); /* READY (peer_gone), not delivered */
    assert_int_equal(b.ch.recs[0].state, CALL_READY);
    assert_int_equal(uipc_slot_word_state(word(&b, 0)), UIPC_SLOT_FREE);
    client_dies(&b);
    client_up(&b);
    assert_int_equal(free_slots(&b), SLOTS);
    assert_int_equal(o.completions, 0); /* its caller died with the client */
    pair_close(&b);
}

/* Finding 4: the reclaim of a dead client took a stale entry of an older
 * call in the same slot for the new call's, so a call that was never sent
 * kept its slot SUBMITTED, quarantined for good. */
static void test_unsent_matches_generation(void **state)
{
    (void)state;
    struct bench b;
    struct uipc_fifo sub;
    bench_open(&b);
    uipc__fifo_attach_producer(&sub, b.r.fifo[UIPC_SUBMIT], b.r.fifo_size);
    /* Slot 0: generation 1 was sent (its stale entry is still there), and
     * generation 2 was marked SUBMITTED by a client that died before
     * sending it.  Slot 1: generation 3, sent. */
    assert_int_equal(uipc__fifo_push(&sub, 0, 1, 1), 0);
    assert_int_equal(uipc__fifo_push(&sub, 1, 3, 1), 0);
    atomic_store(&uipc_slot(&b.r, 0)->own, uipc_slot_word(2, UIPC_SLOT_SUBMITTED));
    atomic_store(&uipc_slot(&b.r, 1)->own, uipc_slot_word(3, UIPC_SLOT_SUBMITTED));
    uipc__reclaim_client(&b.r);
    assert_int_equal(word(&b, 0), uipc_slot_word(2, UIPC_SLOT_FREE));
    assert_int_equal(word(&b, 1), uipc_slot_word(3, UIPC_SLOT_SUBMITTED));
    bench_close(&b);
}

/* Finding 5: a server that dropped an entry sent to its predecessor did
 * not publish head, so the supervisor saw work waiting on an idle server
 * and killed it as hung. */
static void test_stale_drop_publishes_head(void **state)
{
    (void)state;
    struct bench b;
    struct outcome o = { 0 };
    pair_open(&b);
    assert_int_equal(call(&b, &o), 0); /* tagged with epoch 1 */
    uipc__srv_fini(&b.s);              /* dies: the supervisor has not reaped it yet */
    server_up(&b);                     /* epoch 2 (a restart by hand, as uipcctl's) */
    assert_int_equal(uipc__srv_process(&b.s), 0);
    assert_int_equal(b.s.stale, 1);
    struct uipc_fifo_shared *sub = b.r.fifo[UIPC_SUBMIT];
    assert_int_equal(atomic_load(&sub->head), atomic_load(&sub->tail));
    pair_close(&b);
}

/* Answered, reaped and delivered: the client has nothing to reap first. */
static void one_round_trip(struct bench *b)
{
    struct outcome o = { 0 };
    assert_int_equal(call(b, &o), 0);
    assert_int_equal(uipc__srv_process(&b->s), 1);
    uipc__chan_reap(&b->ch);
    uipc__chan_deliver(&b->ch);
    assert_int_equal(o.completions, 1);
}

/* A lying server's completion entry {slot, gen}, and its word DONE{gen}. */
static void forge_answer(struct bench *b, uint32_t slot, uint32_t gen, uint32_t tag)
{
    struct uipc_slot_hdr *h = uipc_slot(&b->r, slot);
    h->status = 0;
    h->rep_len = 0;
    atomic_store(&h->own, uipc_slot_word(gen, UIPC_SLOT_DONE));
    assert_int_equal(uipc__fifo_push(&b->s.cmp, slot, gen, tag), 0);
    uipc__fifo_publish_tail(&b->s.cmp);
}

/* The slot of the call just issued (the only one SUBMITTED). */
static uint32_t submitted_slot(struct bench *b)
{
    for (uint32_t i = 0; i < SLOTS; i++)
        if (uipc_slot_word_state(word(b, i)) == UIPC_SLOT_SUBMITTED)
            return i;
    fail_msg("no slot submitted");
    return 0;
}

/* Finding 6: a dying server answered a call not issued yet ("PEER_DIED"
 * for the slot's next generation); the client took it for the answer of
 * the call it then sent to the next, honest server, which ran that call
 * after its caller was told it had failed. */
static void test_forged_answer_ahead(void **state)
{
    (void)state;
    struct bench b;
    pair_open(&b);
    one_round_trip(&b); /* slot 0, generation 1; slot 0 is the next free */
    forge_answer(&b, 0, 2, 1 /* the tag the reclaim's PEER_DIED had */);
    assert_true(server_dies(&b) >= 0);
    server_up(&b);
    struct outcome a = { 0 };
    assert_int_equal(call(&b, &a), 0);
    assert_int_equal(submitted_slot(&b), 0);
    assert_int_equal(uipc__srv_process(&b.s), 1);
    uipc__chan_reap(&b.ch);
    uipc__chan_deliver(&b.ch);
    assert_int_equal(a.completions, 1);
    assert_int_equal(a.status, 0); /* the live server's answer, not the dead one's lie */
    assert_false(b.ch.broken);
    assert_false(b.s.broken);
    pair_close(&b);
}

/* Finding 11: a dying server filled the completion FIFO; the next,
 * honest server found no room for its first answer and reported the
 * honest client.  The client now consumes what the dead one left before
 * it sends the new one anything. */
static void test_dead_liar_fills_completions(void **state)
{
    (void)state;
    struct bench b;
    pair_open(&b);
    one_round_trip(&b);
    uint64_t dups = b.ch.st.duplicates;
    for (uint32_t k = 0; k < b.r.fifo_size; k++)
        forge_answer(&b, 1, 0, 0); /* slot 1 is FREE in the client's table: strays */
    assert_true(server_dies(&b) >= 0);
    server_up(&b);
    struct outcome a = { 0 };
    assert_int_equal(call(&b, &a), 0);
    assert_int_equal(uipc__srv_process(&b.s), 1);
    assert_false(b.s.broken);
    uipc__chan_reap(&b.ch);
    uipc__chan_deliver(&b.ch);
    assert_int_equal(a.completions, 1);
    assert_int_equal(a.status, 0);
    assert_int_equal(b.ch.st.duplicates - dups, b.r.fifo_size);
    assert_false(b.ch.broken);
    pair_close(&b);
}

/* Finding 9a: a new client incarnation read `alive` after the slot words,
 * so a call its predecessor sent to a server that died in between waited
 * for the next incarnation, which never saw it. */
static void test_adopt_loads_alive_first(void **state)
{
    (void)state;
    struct bench b;
    struct outcome o = { 0 };
    pair_open(&b);
    assert_int_equal(call(&b, &o), 0);
    uint32_t slot = submitted_slot(&b);
    client_dies(&b); /* its call was sent: the word stays SUBMITTED */
    assert_int_equal(uipc__chan_init(&b.ch, &b.m, b.fd, -1), 0);
    /* Before the new incarnation binds: the server hides the call, dies,
     * and the next one starts. */
    atomic_store(&uipc_slot(&b.r, slot)->own, uipc_slot_word(1, UIPC_SLOT_FREE));
    assert_true(server_dies(&b) >= 0);
    server_up(&b);
    uipc__chan_bind(&b.ch, &b.cli_words.epoch, &b.cli_words.alive, &b.cli_words.reset);
    b.m.chans = &b.ch;
    b.m.nchans = 1;
    uipc__chan_reap(&b.ch);
    assert_int_equal(free_slots(&b), SLOTS);
    pair_close(&b);
}

/* Finding 9b: a call past its deadline (READY, expired, not delivered
 * yet) when its server died was skipped by peer_gone; its delivery then
 * left the slot waiting for a completion nobody would send. */
static void test_expired_then_server_died(void **state)
{
    (void)state;
    struct bench b;
    struct outcome o = { 0 };
    pair_open(&b);
    struct uipc_call c = { .fill = fill, .complete = complete, .arg = &o, .timeout_ms = 1 };
    assert_int_equal(uipc_call(&b.ch, &c), 0);
    uint32_t slot = submitted_slot(&b);
    uipc__chan_expire(&b.ch, UINT64_MAX);
    atomic_store(&uipc_slot(&b.r, slot)->own, uipc_slot_word(1, UIPC_SLOT_FREE)); /* hidden */
    assert_true(server_dies(&b) >= 0);
    uipc__chan_reap(&b.ch); /* before the delivery */
    uipc__chan_deliver(&b.ch);
    assert_int_equal(o.completions, 1);
    assert_int_equal(o.status, -UIPC_ETIMEDOUT);
    assert_int_equal(free_slots(&b), SLOTS);
    pair_close(&b);
}

/* Finding 10: a call refused by the client's full check (the server
 * answered calls it never took, so the client sent more than a lap) kept
 * its slot off the free stack for the client's life. */
static void test_refused_push_keeps_slot(void **state)
{
    (void)state;
    struct bench b;
    pair_open(&b);
    int r = 0;
    struct outcome o = { 0 };
    for (uint32_t k = 0; k <= b.r.fifo_size && r == 0; k++) {
        r = call(&b, &o);
        if (r == 0) {
            uint32_t slot = submitted_slot(&b);
            forge_answer(&b, slot, b.ch.recs[slot].gen, 0);
            uipc__chan_reap(&b.ch);
            uipc__chan_deliver(&b.ch);
        }
    }
    assert_int_equal(r, -UIPC_EPROTO);
    assert_true(b.ch.broken);
    uipc__reclaim_reset(&b.r); /* the supervisor's reset, once both ends stopped */
    uipc__chan_restart(&b.ch);
    assert_int_equal(free_slots(&b), SLOTS);
    pair_close(&b);
}

/* Finding 9c: a dying server wrote SERVING over a slot FREE in its
 * client's table; the client's next incarnation quarantined the slot for
 * the next server, which never saw a call there. */
static void test_dying_liar_words_freed(void **state)
{
    (void)state;
    struct bench b;
    pair_open(&b);
    atomic_store(&uipc_slot(&b.r, 2)->own, uipc_slot_word(5, UIPC_SLOT_SERVING));
    assert_true(server_dies(&b) >= 0);
    server_up(&b);
    uipc__chan_reap(&b.ch);
    client_dies(&b);
    client_up(&b);
    assert_int_equal(free_slots(&b), SLOTS);
    one_round_trip(&b);
    pair_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reclaims_do_not_pile_up),
        cmocka_unit_test(test_peer_died_frees_the_word),
        cmocka_unit_test(test_unsent_matches_generation),
        cmocka_unit_test(test_stale_drop_publishes_head),
        cmocka_unit_test(test_forged_answer_ahead),
        cmocka_unit_test(test_dead_liar_fills_completions),
        cmocka_unit_test(test_adopt_loads_alive_first),
        cmocka_unit_test(test_expired_then_server_died),
        cmocka_unit_test(test_refused_push_keeps_slot),
        cmocka_unit_test(test_dying_liar_words_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
