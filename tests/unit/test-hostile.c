/* SPDX-License-Identifier: MIT */
/* Hostile peers: the test process writes lies into a live channel region,
 * as a server and as a client, and random bytes over a whole region.  The
 * honest side reports an error and never crashes or hangs. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bed.h"
#include "fifo.h"
#include "internal.h"
#include "reclaim.h"
#include "testmod.h"

#define TIMEOUT_MS 60000
#define FAKE_EPOCH 77

static void expect_exit(int st, int code)
{
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), code);
}

/* ---- the test process as a lying server ---- */

struct fake_server {
    struct uipc_region *r;
    struct uipc_fifo sub, cmp;
};

static void fake_attach(struct fake_server *f, struct uipc_region *r)
{
    f->r = r;
    uipc__fifo_attach_consumer(&f->sub, r->fifo[UIPC_SUBMIT], r->fifo_size);
    uipc__fifo_attach_producer(&f->cmp, r->fifo[UIPC_COMPLETE], r->fifo_size);
    uipc__region_set_epoch(r, UIPC_SERVER, FAKE_EPOCH);
}

static void fake_take(struct fake_server *f, uint32_t *slot, uint32_t *gen)
{
    uint32_t tag;
    for (int i = 0; i < TIMEOUT_MS; i++) {
        if (uipc__fifo_pop(&f->sub, slot, gen, &tag) == 1) {
            assert_int_equal(tag, FAKE_EPOCH);
            uipc__fifo_publish_head(&f->sub);
            return;
        }
        usleep(1000);
    }
    fail_msg("the client never submitted");
}

static void fake_push(struct fake_server *f, uint32_t slot, uint32_t gen)
{
    assert_int_equal(uipc__fifo_push(&f->cmp, slot, gen, 0), 0);
    uipc__fifo_publish_tail(&f->cmp);
    uipc__notify(f->r->side[UIPC_CLIENT], -1);
}

static void fake_answer(struct fake_server *f, uint32_t slot, uint32_t gen, uint32_t rep_len)
{
    struct uipc_slot_hdr *h = uipc_slot(f->r, slot);
    h->status = 4242;
    h->rep_len = rep_len;
    atomic_store(&h->own, uipc_slot_word(gen, UIPC_SLOT_DONE));
    fake_push(f, slot, gen);
}

enum lie { LIE_BADSLOT, LIE_BADGEN, LIE_BIGLEN, LIE_BADSTATE, LIE_BADSEQ, LIE_DUP, LIE_STATUS };

struct expect {
    int first, second;
    uint64_t duplicates;
};

static int liar_client(void *arg)
{
    const struct expect *e = arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    struct testmod_msg msg = { .len = 8 };
    struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply, .opcode = OP_ECHO,
                           .timeout_ms = 500, .arg = &msg };
    CHECK_EQ(uipc_call(ch, &c), e->first);
    c.timeout_ms = 5000;
    CHECK_EQ(uipc_call(ch, &c), e->second);
    uipc_poll(m, 0);
    struct uipc_chan_stats st;
    CHECK_EQ(uipc_chan_stats(ch, &st), 0);
    CHECK_EQ(st.duplicates, e->duplicates);
    uipc_module_close(m);
    return 0;
}

/* Answers the first call with the given lie, then (if the client is still
 * talking to us) the second one honestly. */
static void tell_lie(struct fake_server *f, enum lie lie, const struct expect *e)
{
    uint32_t slot, gen;
    fake_take(f, &slot, &gen);
    switch (lie) {
    case LIE_BADSLOT: fake_push(f, f->r->slots + 5, gen); break;
    case LIE_BADGEN: fake_push(f, slot, gen + 1); break;
    case LIE_BIGLEN: fake_answer(f, slot, gen, f->r->slot_size + 1); break;
    case LIE_BADSTATE: /* a completion for a slot never marked done */
        fake_push(f, slot, gen);
        break;
    case LIE_BADSEQ:
        atomic_store(&f->r->fifo[UIPC_COMPLETE]->ent[f->cmp.pos & f->cmp.mask].seq, 0xdead);
        uipc__notify(f->r->side[UIPC_CLIENT], -1);
        break;
    case LIE_DUP:
        fake_answer(f, slot, gen, 0);
        fake_push(f, slot, gen);
        break;
    case LIE_STATUS: /* a live server's answer that says "peer died" */
        uipc_slot(f->r, slot)->status = -UIPC_EPEERDIED;
        atomic_store(&uipc_slot(f->r, slot)->own, uipc_slot_word(gen, UIPC_SLOT_DONE));
        fake_push(f, slot, gen);
        break;
    }
    if (e->second == 4242) {
        fake_take(f, &slot, &gen);
        fake_answer(f, slot, gen, 0);
    }
}

static void run_lie(enum lie lie, struct expect e)
{
    struct uipc_bed *b;
    int st;
    assert_int_equal(uipc__bed_new(&b), 0);
    int absent = uipc__bed_module(b, "absent", NULL, NULL); /* never started */
    int cli = uipc__bed_module(b, "client", liar_client, &e);
    int ch = uipc__bed_channel(b, cli, absent, "echo", 8, 0);
    assert_true(ch >= 0);
    struct fake_server f;
    fake_attach(&f, uipc__bed_region(b, ch));
    /* What the supervisor would tell the client of a server that runs. */
    atomic_store(&uipc__bed_words(b, ch, UIPC_CLIENT)->epoch, FAKE_EPOCH);
    atomic_store(&uipc__bed_words(b, ch, UIPC_CLIENT)->alive, FAKE_EPOCH);
    assert_int_equal(uipc__bed_start(b, cli), 0);
    tell_lie(&f, lie, &e);
    assert_int_equal(uipc__bed_wait(b, cli, TIMEOUT_MS, &st), cli);
    expect_exit(st, 0);
    uipc__bed_free(b);
}

static void test_lie_slot_out_of_range(void **s)
{
    (void)s;
    run_lie(LIE_BADSLOT, (struct expect){ -UIPC_EPROTO, -UIPC_EPROTO, 0 });
}

static void test_lie_stale_generation(void **s)
{
    (void)s;
    run_lie(LIE_BADGEN, (struct expect){ -UIPC_ETIMEDOUT, 4242, 1 });
}

static void test_lie_reply_too_long(void **s)
{
    (void)s;
    /* A server that answers garbage is trusted no further: the channel
     * breaks (and the supervisor would restart the server and reset it). */
    run_lie(LIE_BIGLEN, (struct expect){ -UIPC_EPROTO, -UIPC_EPROTO, 0 });
}

static void test_lie_state_skipped(void **s)
{
    (void)s;
    run_lie(LIE_BADSTATE, (struct expect){ -UIPC_EPROTO, -UIPC_EPROTO, 0 });
}

static void test_lie_garbage_stamp(void **s)
{
    (void)s;
    run_lie(LIE_BADSEQ, (struct expect){ -UIPC_EPROTO, -UIPC_EPROTO, 0 });
}

static void test_lie_duplicate(void **s)
{
    (void)s;
    run_lie(LIE_DUP, (struct expect){ 4242, 4242, 1 });
}

static void test_lie_transport_status(void **s)
{
    (void)s;
    /* Clamped by the reader: uipc_is_transport_error() never says yes to
     * what a live server wrote, and the channel goes on. */
    run_lie(LIE_STATUS, (struct expect){ -UIPC_EBADSTATUS, 4242, 0 });
}

/* ---- the test process as a lying client, against a real server ---- */

static const char *const server_names[] = { "plain", "evil1", "evil2", "evil3", "evil4", "evil5", NULL };

static int good_client(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch;
    CHECK_EQ(uipc_connect(m, "plain", &ch), 0);
    testmod_echo_loop(ch, 3000, 40, 20); /* spread over the time the lies are told */
    uipc_module_close(m);
    return 0;
}

static void submit_raw(struct uipc_region *r, struct uipc_fifo *sub, uint32_t slot, uint32_t gen,
                       uint32_t tag, uint32_t state, uint32_t req_len)
{
    if (slot < r->slots) {
        struct uipc_slot_hdr *h = uipc_slot(r, slot);
        h->opcode = OP_ECHO;
        h->req_len = req_len;
        atomic_store(&h->own, uipc_slot_word(gen, state));
    }
    assert_int_equal(uipc__fifo_push(sub, slot, gen, tag), 0);
    uipc__fifo_publish_tail(sub);
    uipc__notify(r->side[UIPC_SERVER], -1);
}

static uint64_t wait_violation(struct uipc_region *r)
{
    for (int i = 0; i < 5000; i++) {
        uint64_t v = atomic_load(&r->side[UIPC_SERVER]->violations);
        if (v)
            return v;
        usleep(1000);
    }
    return 0;
}

static void test_lying_client(void **s)
{
    (void)s;
    struct uipc_bed *b;
    int st;
    assert_int_equal(uipc__bed_new(&b), 0);
    int srv = uipc__bed_module(b, "server", testmod_echo_main, (void *)server_names);
    int good = uipc__bed_module(b, "good", good_client, NULL);
    int absent = uipc__bed_module(b, "absent", NULL, NULL);
    assert_true(uipc__bed_channel(b, good, srv, "plain", 0, 0) >= 0);
    int evil[5];
    for (int i = 0; i < 5; i++) {
        evil[i] = uipc__bed_channel(b, absent, srv, server_names[i + 1], 8, 64);
        assert_true(evil[i] >= 0);
        uipc__region_set_epoch(uipc__bed_region(b, evil[i]), UIPC_CLIENT, FAKE_EPOCH);
    }
    assert_int_equal(uipc__bed_start(b, srv), 0);
    assert_int_equal(uipc__bed_start(b, good), 0);

    struct uipc_fifo sub[5];
    struct uipc_region *r[5];
    for (int i = 0; i < 5; i++) {
        r[i] = uipc__bed_region(b, evil[i]);
        uipc__fifo_attach_producer(&sub[i], r[i]->fifo[UIPC_SUBMIT], r[i]->fifo_size);
    }
    uint32_t epoch = atomic_load(&r[0]->side[UIPC_SERVER]->epoch);
    submit_raw(r[0], &sub[0], 1000, 1, epoch, UIPC_SLOT_SUBMITTED, 8);         /* slot out of range */
    submit_raw(r[1], &sub[1], 2, 1, epoch, UIPC_SLOT_FREE, 8);                 /* never submitted */
    submit_raw(r[2], &sub[2], 3, 1, epoch, UIPC_SLOT_SUBMITTED, 65);           /* longer than the slot */
    submit_raw(r[3], &sub[3], 4, 1, epoch, UIPC_SLOT_SUBMITTED, 8);            /* the same entry ... */
    assert_int_equal(uipc__fifo_push(&sub[3], 4, 1, epoch), 0);                /* ... twice */
    uipc__fifo_publish_tail(&sub[3]);
    for (int i = 0; i < 4; i++)
        assert_true(wait_violation(r[i]) >= 1);

    /* A stale entry (an old incarnation's) is skipped, not a violation; an
     * honest one after it is served. */
    submit_raw(r[4], &sub[4], 1, 1, epoch + 1000, UIPC_SLOT_SUBMITTED, 8);
    submit_raw(r[4], &sub[4], 2, 1, epoch, UIPC_SLOT_SUBMITTED, 8);
    struct uipc_fifo cmp;
    uipc__fifo_attach_consumer(&cmp, r[4]->fifo[UIPC_COMPLETE], r[4]->fifo_size);
    uint32_t slot = 0, gen = 0, tag = 0;
    for (int i = 0; i < 5000 && uipc__fifo_pop(&cmp, &slot, &gen, &tag) != 1; i++)
        usleep(1000);
    assert_int_equal(slot, 2);
    assert_int_equal(uipc_slot(r[4], 2)->status, 8);
    assert_int_equal(atomic_load(&r[4]->side[UIPC_SERVER]->violations), 0);

    assert_int_equal(uipc__bed_wait(b, good, TIMEOUT_MS, &st), good);
    expect_exit(st, 0);
    assert_int_equal(uipc__bed_kill(b, srv, SIGTERM), 0);
    assert_int_equal(uipc__bed_wait(b, srv, TIMEOUT_MS, &st), srv);
    expect_exit(st, 0); /* it never crashed, and stopped cleanly */
    uipc__bed_free(b);
}

/* ---- a server that lies with its positions, then dies ---- */

/* Set by the test process before each start: 0 honest, LIE_POSITIONS,
 * or LIE_WORDS. */
enum { LIE_POSITIONS = 1, LIE_WORDS };
static int server_lies = LIE_POSITIONS;

/* Takes one call and, instead of answering, either moves the completion
 * FIFO's tail a million ahead and the submit FIFO's head off the ring, or
 * marks the call's slot FREE (so the reclaim finds nothing in flight);
 * then exits.  Later incarnations are honest echo servers. */
static int dying_liar(void *arg)
{
    if (!server_lies)
        return testmod_echo_main(arg);
    uipc_module *m = testmod_open();
    struct uipc_region *r = &m->srvs[0].r;
    struct uipc_fifo sub;
    uint32_t slot, gen, tag;
    uipc__fifo_attach_consumer(&sub, r->fifo[UIPC_SUBMIT], r->fifo_size);
    while (uipc__fifo_pop(&sub, &slot, &gen, &tag) != 1)
        testmod_sleep_ms(1);
    uipc__fifo_publish_head(&sub);
    if (server_lies == LIE_POSITIONS) {
        atomic_fetch_add(&r->fifo[UIPC_COMPLETE]->tail, 1000000);
        atomic_fetch_add(&r->fifo[UIPC_SUBMIT]->head, 12345);
    } else {
        atomic_store(&uipc_slot(r, slot)->own, uipc_slot_word(gen, UIPC_SLOT_FREE));
    }
    _exit(0);
}

static int client_of_liar(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    struct testmod_msg msg = { .len = 8 };
    /* No timeout: only the reclaim can end this call. */
    struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply, .opcode = OP_ECHO, .arg = &msg };
    CHECK_EQ(uipc_call(ch, &c), -UIPC_EPEERDIED);
    c.timeout_ms = 5000;
    int st = -UIPC_EPEERDIED;
    for (int i = 0; i < 20000 && st == -UIPC_EPEERDIED; i++)
        if ((st = uipc_call(ch, &c)) == -UIPC_EPEERDIED)
            testmod_sleep_ms(1);
    CHECK_EQ(st, 8);
    testmod_echo_loop(ch, 200, 64, 0);
    struct uipc_chan_stats cs;
    CHECK_EQ(uipc_chan_stats(ch, &cs), 0);
    CHECK_EQ(cs.proto, 0);
    testmod_check_whole(ch, 0);
    uipc_module_close(m);
    return 0;
}

static void dead_liar(int lie)
{
    struct testmod_pair p;
    int st;
    server_lies = lie;
    assert_int_equal(testmod_pair_start(&p, dying_liar, NULL, client_of_liar, NULL, 8, 0), 0);
    assert_int_equal(uipc__bed_wait(p.b, p.srv, TIMEOUT_MS, &st), p.srv);
    server_lies = 0;
    assert_int_equal(uipc__bed_start(p.b, p.srv), 0);
    assert_int_equal(uipc__bed_wait(p.b, p.cli, TIMEOUT_MS, &st), p.cli);
    expect_exit(st, 0);
    struct uipc_region *r = uipc__bed_region(p.b, p.ch);
    assert_int_equal(atomic_load(&r->side[UIPC_SERVER]->violations), 0);
    uipc__bed_kill(p.b, p.srv, SIGTERM);
    uipc__bed_free(p.b);
}

static void test_dead_server_positions(void **s)
{
    (void)s;
    dead_liar(LIE_POSITIONS);
}

/* The reclaim, scanning slot words, finds nothing to answer: the client
 * answers its call itself once the bed says that incarnation is gone. */
static void test_dead_server_erases_words(void **s)
{
    (void)s;
    dead_liar(LIE_WORDS);
}

/* Two deaths, no restart after the second: the client, idle, sees the
 * first through its loop; the next incarnation is up when it calls again
 * (no refused call in between, so no reap first), takes the call, erases
 * its slot word and dies before the client looks again.  The client must
 * tell the second death from the first (finding 8 of the model), and
 * answer its call itself. */
static int client_of_two_deaths(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    struct testmod_msg msg = { .len = 8 };
    struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply, .opcode = OP_ECHO, .arg = &msg };
    int st;
    while ((st = uipc_call(ch, &c)) != 8) /* the first server answers */
        CHECK_EQ(st, -UIPC_EPEERDIED);
    for (int i = 0; i < 30; i++) /* idle in our loop: the first death is seen */
        CHECK(uipc_poll(m, 10) >= 0);
    testmod_sleep_ms(700); /* away from the library while the next one starts */
    /* Asynchronous and no timeout, and we look away again while the next
     * incarnation takes it and dies: only the backstop can end it. */
    c.complete = testmod_complete;
    CHECK_EQ(uipc_call(ch, &c), 0);
    testmod_sleep_ms(1000);
    for (int i = 0; i < 300 && msg.completions == 0; i++)
        CHECK(uipc_poll(m, 10) >= 0);
    CHECK_EQ(msg.completions, 1);
    CHECK_EQ(msg.status, -UIPC_EPEERDIED);
    uipc_module_close(m);
    return 0;
}

static void test_second_death_seen(void **s)
{
    (void)s;
    struct testmod_pair p;
    int st;
    server_lies = 0;
    assert_int_equal(testmod_pair_start(&p, dying_liar, NULL, client_of_two_deaths, NULL, 8, 0), 0);
    testmod_sleep_ms(100);
    assert_int_equal(uipc__bed_kill(p.b, p.srv, SIGKILL), 0);
    assert_int_equal(uipc__bed_wait(p.b, p.srv, TIMEOUT_MS, &st), p.srv);
    testmod_sleep_ms(300); /* the client, idle, sees this death, then looks away */
    server_lies = LIE_WORDS;
    assert_int_equal(uipc__bed_start(p.b, p.srv), 0);
    assert_int_equal(uipc__bed_wait(p.b, p.srv, TIMEOUT_MS, &st), p.srv);
    assert_int_equal(uipc__bed_wait(p.b, p.cli, TIMEOUT_MS, &st), p.cli);
    expect_exit(st, 0);
    uipc__bed_free(p.b);
}

/* ---- random bytes over a whole live region ---- */

static int noisy_client(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch;
    CHECK_EQ(uipc_connect(m, "plain", &ch), 0);
    for (unsigned i = 0; i < 200; i++) {
        struct testmod_msg e = { .len = 40 };
        struct uipc_call c = { .fill = testmod_fill, .reply = testmod_reply, .opcode = OP_ECHO,
                               .timeout_ms = 20, .arg = &e };
        int st = uipc_call(ch, &c);
        /* any answer a transport can give, or a garbage status from the
         * garbage slot header: the point is that we get one */
        (void)st;
        if (i % 2)
            uipc_poll(m, 1);
    }
    uipc_module_close(m);
    return 0;
}

static void test_random_bytes(void **s)
{
    (void)s;
    static const char *const names[] = { "plain", NULL };
    struct uipc_bed *b;
    int st;
    assert_int_equal(uipc__bed_new(&b), 0);
    int srv = uipc__bed_module(b, "server", testmod_echo_main, (void *)names);
    int noisy = uipc__bed_module(b, "noisy", noisy_client, NULL);
    int good = uipc__bed_module(b, "good", good_client, NULL);
    int bad = uipc__bed_channel(b, noisy, srv, "plain", 16, 256);
    assert_true(bad >= 0);
    assert_true(uipc__bed_channel(b, good, srv, "plain", 0, 0) >= 0);
    assert_int_equal(uipc__bed_start_all(b), 0);

    struct uipc_region *r = uipc__bed_region(b, bad);
    srand(12345);
    int done = 0;
    while (done < 2) {
        /* keep scribbling until both clients are through: everything but
         * the header, which each side copies once at attach and checks */
        for (size_t off = (size_t)((unsigned char *)r->side[0] - r->base); off < r->size;
             off += sizeof(int))
            if (rand() % 4 == 0) {
                int v = rand();
                memcpy(r->base + off, &v, sizeof(v));
            }
        int who = uipc__bed_wait(b, -1, 2, &st);
        if (who == noisy || who == good) {
            expect_exit(st, 0);
            done++;
        } else {
            assert_int_equal(who, -ETIMEDOUT); /* the server must not die */
        }
    }
    assert_int_equal(uipc__bed_kill(b, srv, SIGTERM), 0);
    assert_int_equal(uipc__bed_wait(b, srv, TIMEOUT_MS, &st), srv);
    expect_exit(st, 0);
    uipc__bed_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lie_slot_out_of_range),
        cmocka_unit_test(test_lie_stale_generation),
        cmocka_unit_test(test_lie_reply_too_long),
        cmocka_unit_test(test_lie_state_skipped),
        cmocka_unit_test(test_lie_garbage_stamp),
        cmocka_unit_test(test_lie_duplicate),
        cmocka_unit_test(test_lie_transport_status),
        cmocka_unit_test(test_dead_server_positions),
        cmocka_unit_test(test_dead_server_erases_words),
        cmocka_unit_test(test_second_death_seen),
        cmocka_unit_test(test_lying_client),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
