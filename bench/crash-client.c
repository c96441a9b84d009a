/* SPDX-License-Identifier: MIT */
/* The load side of uipc-crash-bench: a module that keeps async calls to
 * "echo" in flight and stamps, per outage, when the last in-flight call got
 * its peer-died error and when the first call succeeded again.  The
 * figures go to a file shared with the benchmark (CRASH_RESULTS). */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <uipc/module.h>

#include "crash.h"
#include "bench-clock.h"

#define DEPTH 16

struct rec {
    int busy, done, status;
};

static struct crash_results *res;
static uint64_t last_err_ns;
static int in_outage;

/* How many calls wait for their answer: published after every turn, with
 * the turn's number, so that the benchmark kills only a server that holds
 * some (crash.c). */
static void publish_in_flight(const struct rec *rec, unsigned n)
{
    uint32_t k = 0;
    for (unsigned i = 0; i < n; i++)
        k += rec[i].busy && !rec[i].done;
    atomic_store(&res->in_flight, k);
    atomic_fetch_add(&res->turns, 1);
}

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    (void)arg;
    if (cap < 64)
        return -UIPC_ETOOBIG;
    memset(buf, 0x5a, 64);
    *len = 64;
    return 0;
}

/* Runs when a call completes: the clock is read here, in the callback. */
static void complete(int status, void *arg)
{
    struct rec *r = arg;
    uint64_t t = now_ns();
    r->done = 1;
    r->status = status;
    if (status == -UIPC_EPEERDIED) {
        in_outage = 1;
        last_err_ns = t;
    } else if (status == 64) {
        atomic_fetch_add(&res->ok, 1);
        if (in_outage) {
            uint64_t n = atomic_load(&res->outages);
            if (n < CRASH_MAX) {
                res->out[n].last_err_ns = last_err_ns;
                res->out[n].first_ok_ns = t;
            }
            atomic_store(&res->outages, n + 1);
            in_outage = 0;
        }
    }
}

int main(void)
{
    static struct rec rec[DEPTH];
    uipc_module *m;
    uipc_chan *ch;
    const char *path = getenv("CRASH_RESULTS");
    int fd = path ? open(path, O_RDWR) : -1;
    if (fd < 0)
        return 1;
    res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (res == MAP_FAILED || uipc_module_open(&m) < 0 || uipc_connect(m, "echo", &ch) < 0)
        return 1;
    for (;;) {
        for (unsigned i = 0; i < DEPTH; i++) {
            if (rec[i].busy && !rec[i].done)
                continue;
            rec[i] = (struct rec){ .busy = 1 };
            struct uipc_call c = { .fill = fill, .complete = complete, .arg = &rec[i] };
            if (uipc_call(ch, &c) < 0)
                rec[i].busy = 0; /* down: failed at once, try again next turn */
        }
        publish_in_flight(rec, DEPTH);
        int r = uipc_poll(m, 1);
        if (r == -UIPC_ESTOPPED)
            break;
        if (r < 0)
            return 1;
    }
    uipc_module_close(m);
    return 0;
}
