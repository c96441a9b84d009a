/* SPDX-License-Identifier: MIT */
/* uipc_req_respond (serve.c): a server that defers every request to a pool
 * of four threads, which answer with data in whatever order they finish;
 * each caller must get its own bytes.  A reply larger than the slot, and
 * an answer given twice. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "bed.h"
#include "testmod.h"

#define TIMEOUT_MS 120000
#define SLOTS 32
#define SLOT 1024
#define WORKERS 4
#define CALLS 2000
enum { POOL_XOR = 1, POOL_BIG, POOL_TWICE };

/* ---- the server: a loop that defers, a pool that answers ---- */

struct job {
    struct job *next;
    uipc_req *req;
    uint32_t opcode;
    size_t len, cap;
    unsigned char data[SLOT];
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    bool stop;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, false };

static uipc_module *pool_m;

static void on_term(int sig)
{
    (void)sig;
    uipc_stop(pool_m);
}

static struct job *pool_take(void)
{
    pthread_mutex_lock(&pool.mu);
    while (!pool.head && !pool.stop)
        pthread_cond_wait(&pool.cv, &pool.mu);
    struct job *j = pool.head;
    if (j && !(pool.head = j->next))
        pool.tail = NULL;
    pthread_mutex_unlock(&pool.mu);
    return j;
}

static void pool_put(struct job *j)
{
    pthread_mutex_lock(&pool.mu);
    if (pool.tail)
        pool.tail->next = j;
    else
        pool.head = j;
    pool.tail = j;
    pthread_cond_signal(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
}

/* The reply is the request with every byte flipped: a copy that never
 * happened would leave the request in the slot, which is not it. */
static void answer(struct job *j, unsigned *seed)
{
    unsigned char out[SLOT + 1];
    testmod_sleep_ms((unsigned)rand_r(seed) % 3); /* 0-2 ms: out of order */
    if (j->opcode == POOL_BIG) {
        memset(out, 1, sizeof(out));
        CHECK_EQ(j->cap + 1, sizeof(out));
        CHECK_EQ(uipc_req_respond(j->req, 0, out, j->cap + 1), -UIPC_ETOOBIG);
        return;
    }
    for (size_t i = 0; i < j->len; i++)
        out[i] = j->data[i] ^ 0x5a;
    CHECK_EQ(uipc_req_respond(j->req, (int)j->len, out, j->len), 0);
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    struct job *j;
    while ((j = pool_take())) {
        answer(j, &seed);
        free(j);
    }
    return NULL;
}

/* Answered twice in the handler, on the loop's thread, where no next
 * command can take the slot in between: the second answer is refused. */
static int answer_twice(uipc_req *req)
{
    static const char first[] = "first";
    CHECK_EQ(uipc_req_defer(req), 0);
    CHECK_EQ(uipc_req_respond(req, 5, first, 5), 0);
    CHECK_EQ(uipc_req_respond(req, 6, "second", 6), -EINVAL);
    CHECK_EQ(uipc_req_complete(req, 7), -EINVAL);
    return 0;
}

static int pool_handler(uipc_req *req, void *ctx)
{
    (void)ctx;
    if (uipc_req_opcode(req) == POOL_TWICE)
        return answer_twice(req);
    struct job *j = calloc(1, sizeof(*j));
    CHECK(j != NULL);
    const void *in = uipc_req_data(req, &j->len);
    CHECK(j->len <= sizeof(j->data));
    memcpy(j->data, in, j->len); /* the pool reads its copy, not the slot */
    uipc_req_reply_buf(req, &j->cap);
    j->req = req;
    j->opcode = uipc_req_opcode(req);
    CHECK_EQ(uipc_req_defer(req), 0);
    pool_put(j);
    return 0;
}

static int pool_server(void *arg)
{
    (void)arg;
    pthread_t th[WORKERS];
    pool_m = testmod_open();
    signal(SIGTERM, on_term);
    CHECK_EQ(uipc_serve(pool_m, "echo", pool_handler, NULL), 0);
    for (uintptr_t i = 0; i < WORKERS; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, worker, (void *)(i + 1)), 0);
    CHECK_EQ(uipc_run(pool_m), 0);
    pthread_mutex_lock(&pool.mu);
    pool.stop = true;
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
    for (unsigned i = 0; i < WORKERS; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    uipc_module_close(pool_m);
    return 0;
}

/* ---- the client: every call's own bytes back ---- */

struct pool_call {
    unsigned char req[SLOT];
    size_t len;
    unsigned seq;
    int completions, replies, status;
};

static struct {
    struct pool_call call[CALLS];
    unsigned done, next, out_of_order;
} calls;

static int pool_fill(void *buf, size_t cap, size_t *len, void *arg)
{
    struct pool_call *c = arg;
    CHECK(c->len <= cap);
    memcpy(buf, c->req, c->len);
    *len = c->len;
    return 0;
}

static void pool_reply(int status, const void *data, size_t len, void *arg)
{
    struct pool_call *c = arg;
    const unsigned char *p = data;
    CHECK_EQ(status, (int)c->len);
    CHECK_EQ(len, c->len);
    for (size_t i = 0; i < len; i++)
        CHECK_EQ(p[i], c->req[i] ^ 0x5a);
    c->replies++;
}

static void pool_complete(int status, void *arg)
{
    struct pool_call *c = arg;
    c->completions++;
    c->status = status;
    calls.out_of_order += c->seq != calls.next;
    calls.next = c->seq + 1;
    calls.done++;
}

static void twice_reply(int status, const void *data, size_t len, void *arg)
{
    (void)arg;
    CHECK_EQ(status, 5);
    CHECK_EQ(len, 5);
    CHECK(memcmp(data, "first", 5) == 0);
}

static int pool_client(void *arg)
{
    (void)arg;
    uipc_module *m = testmod_open();
    uipc_chan *ch = testmod_connect_echo(m);
    for (unsigned i = 0; i < CALLS; i++) {
        struct pool_call *c = &calls.call[i];
        c->seq = i;
        c->len = 1 + (i * 37u) % SLOT;
        testmod_pattern(c->req, c->len, i);
        struct uipc_call call = { .fill = pool_fill, .reply = pool_reply, .complete = pool_complete,
                                  .opcode = POOL_XOR, .flags = UIPC_WAIT_SLOT, .arg = c };
        CHECK_EQ(uipc_call(ch, &call), 0);
    }
    while (calls.done < CALLS)
        CHECK(uipc_poll(m, 1000) >= 0);
    for (unsigned i = 0; i < CALLS; i++) {
        CHECK_EQ(calls.call[i].completions, 1);
        CHECK_EQ(calls.call[i].replies, 1);
        CHECK_EQ(calls.call[i].status, (int)calls.call[i].len);
    }
    fprintf(stderr, "pool: %u calls, %u completions out of order\n", CALLS, calls.out_of_order);
    CHECK(calls.out_of_order > 0); /* four threads did answer in their own order */

    struct uipc_call big = { .fill = pool_fill, .reply = pool_reply, .opcode = POOL_BIG,
                             .arg = &calls.call[0] };
    CHECK_EQ(uipc_call(ch, &big), -UIPC_ETOOBIG);
    struct uipc_call twice = { .fill = pool_fill, .reply = twice_reply, .opcode = POOL_TWICE,
                               .arg = &calls.call[0] };
    CHECK_EQ(uipc_call(ch, &twice), 5);
    testmod_check_whole(ch, 1);
    uipc_module_close(m);
    return 0;
}

static void test_pool_responds(void **state)
{
    (void)state;
    struct testmod_pair p;
    int st;
    assert_int_equal(testmod_pair_start(&p, pool_server, NULL, pool_client, NULL, SLOTS, SLOT), 0);
    assert_int_equal(uipc__bed_wait(p.b, p.cli, TIMEOUT_MS, &st), p.cli);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* the server's own checks (a refused second answer, -UIPC_ETOOBIG) */
    assert_int_equal(uipc__bed_kill(p.b, p.srv, SIGTERM), 0);
    assert_int_equal(uipc__bed_wait(p.b, p.srv, TIMEOUT_MS, &st), p.srv);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    uipc__bed_free(p.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_responds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
