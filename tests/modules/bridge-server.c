/* SPDX-License-Identifier: MIT */
/* test-bridge's server: serves SERVICE with chaos payloads (the call's id
 * in their first 8 bytes), and counts its executions per id.
 *
 *   bridge-server SERVICE RUNFILE [DELAY_US]
 *
 * Every call it runs is appended to RUNFILE (bridge-record.h) before its
 * reply is written, so a kill -9 at any moment leaves every execution on
 * record.  At start it reads RUNFILE back: an id run twice, even across
 * its own restarts, prints a line with ANOMALY.  DELAY_US (default 1000)
 * is how long each call takes, so that calls queue and many are in flight
 * when a fault comes.  On a clean stop: one line with its counts. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uipc/module.h>

#include "bridge-record.h"
#include "chaos-payload.h"

static int runfd = -1;
static unsigned long delay_us = 1000, executions, twice;
static uint64_t *seen; /* open addressing; 0 is free (ids are never 0) */
static size_t cap, used;

static bool seen_add(uint64_t id); /* false: it was there */

static void seen_grow(void)
{
    uint64_t *old = seen;
    size_t oldcap = cap;
    cap = cap ? cap * 2 : 1u << 16;
    seen = calloc(cap, sizeof(*seen));
    if (!seen) {
        perror("bridge-server: calloc");
        exit(1);
    }
    used = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i])
            seen_add(old[i]);
    free(old);
}

static bool seen_add(uint64_t id)
{
    if (2 * (used + 1) > cap)
        seen_grow();
    size_t i = (size_t)(id * 0x9e3779b97f4a7c15u) & (cap - 1);
    for (; seen[i]; i = (i + 1) & (cap - 1))
        if (seen[i] == id)
            return false;
    seen[i] = id;
    used++;
    return true;
}

/* Executions by earlier runs of this server. */
static void load(const char *path)
{
    FILE *f = fopen(path, "re");
    struct bridge_rec r;
    unsigned long n = 0;
    while (f && fread(&r, sizeof(r), 1, f) == 1) {
        n++;
        if (r.type == REC_RAN && !seen_add(r.id)) {
            printf("bridge-server: ANOMALY: call %#" PRIx64 " ran twice (both earlier)\n", r.id);
            twice++;
        }
    }
    if (f)
        fclose(f);
    printf("bridge-server: %lu executions on record\n", n);
    fflush(stdout);
}

static void sleep_us(unsigned long us)
{
    struct timespec ts = { .tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int handler(uipc_req *req, void *ctx)
{
    (void)ctx;
    size_t len;
    const unsigned char *data = uipc_req_data(req, &len);
    uint64_t id;
    if (len < CHAOS_HDR || !chaos_payload_ok(data, len))
        return -EINVAL;
    memcpy(&id, data, sizeof(id));
    if (!seen_add(id)) {
        printf("bridge-server: ANOMALY: call %#" PRIx64 " ran twice\n", id);
        fflush(stdout);
        twice++;
    }
    struct bridge_rec r = { .id = id, .t_us = bridge_rec_now_us(), .type = REC_RAN };
    if (write(runfd, &r, sizeof(r)) != (ssize_t)sizeof(r)) {
        perror("bridge-server: write");
        exit(1);
    }
    executions++;
    if (delay_us)
        sleep_us(delay_us);
    return chaos_echo(req);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: bridge-server SERVICE RUNFILE [DELAY_US]\n");
        return 2;
    }
    if (argc == 4)
        delay_us = strtoul(argv[3], NULL, 10);
    load(argv[2]);
    runfd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (runfd < 0) {
        fprintf(stderr, "bridge-server: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    uipc_module *m;
    int err = uipc_module_open(&m);
    if (err < 0 || (err = uipc_serve(m, argv[1], handler, NULL)) < 0) {
        fprintf(stderr, "bridge-server: %s: %s\n", argv[1], uipc_strerror(err));
        return 1;
    }
    err = uipc_run(m);
    printf("bridge-server: %lu executions, %lu ids ran twice\n", executions, twice);
    fflush(stdout);
    uipc_module_close(m);
    return err < 0 ? 1 : 0;
}
