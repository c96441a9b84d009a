/* SPDX-License-Identifier: MIT */
/* The load side of uipc-survival-bench: a module that keeps DEPTH async
 * calls to "echo" in flight and records, per phase of the bench, how many
 * were answered and the longest time between two answers.  The figures go
 * to a file shared with the benchmark (GAP_RESULTS). */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <uipc/module.h>

#include "gap.h"
#include "bench-clock.h"

#define DEPTH 16
#define LEN 64

static struct gap_results *res;
static uint64_t last_ok_ns;

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    (void)arg;
    if (cap < LEN)
        return -UIPC_ETOOBIG;
    memset(buf, 0x5a, LEN);
    *len = LEN;
    return 0;
}

static void complete(int status, void *arg)
{
    *(int *)arg = 0;
    uint64_t t = now_ns();
    if (status != LEN) {
        atomic_fetch_add(&res->errors, 1);
        return;
    }
    uint32_t phase = atomic_load(&res->phase) % GAP_PHASES;
    atomic_fetch_add(&res->ok[phase], 1);
    if (last_ok_ns && t - last_ok_ns > atomic_load(&res->max_gap_ns[phase]))
        atomic_store(&res->max_gap_ns[phase], t - last_ok_ns);
    last_ok_ns = t;
}

int main(void)
{
    const char *path = getenv("GAP_RESULTS");
    int fd = path ? open(path, O_RDWR | O_CLOEXEC) : -1;
    if (fd < 0)
        return 2;
    res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    uipc_module *m;
    uipc_chan *ch;
    if (res == MAP_FAILED || uipc_module_open(&m) < 0 || uipc_connect(m, "echo", &ch) < 0)
        return 1;
    static int busy[DEPTH];
    for (;;) {
        for (unsigned i = 0; i < DEPTH; i++) {
            if (busy[i])
                continue;
            struct uipc_call c = { .fill = fill, .complete = complete, .arg = &busy[i] };
            busy[i] = uipc_call(ch, &c) == 0;
        }
        int r = uipc_poll(m, 10);
        if (r == -UIPC_ESTOPPED)
            break;
    }
    uipc_module_close(m);
    return 0;
}
