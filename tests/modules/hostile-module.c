/* SPDX-License-Identifier: MIT */
/* A module that breaks the channel protocol on purpose, for the hostile
 * peer tests: `hostile-module client|server KIND STATEFILE`.  Its first
 * incarnation (STATEFILE absent: it creates it) maps its first channel's
 * region itself and writes KIND of garbage into it as the given end:
 *   badslot   an entry naming a slot past the end
 *   badgen    a slot word and entry of a generation never issued (client)
 *   skipstate a slot marked done that was never served (client), or an
 *             answer to a slot never marked done (server)
 *   biglen    a length over the slot size
 *   badseq    an entry whose stamp is neither old nor new
 *   random    random bytes over the whole FIFO it produces into
 *   tail      its FIFO position moved far ahead, then backwards (no
 *             corrupted entry: the peer must not hang on it)
 *   header    the region's header overwritten (geometry and magic): the
 *             server's next incarnation must still attach
 *   accuse    nothing wrong in the region: it reports its honest peer for
 *             a violation, in its own control region, five times over (each
 *             after the last reset); the peer must not be killed
 * and then waits, polling, until the supervisor has reset the channel (a
 * report kills no one: both ends stop, the region is emptied, both start
 * over), or to be killed.  Then it behaves, as do later incarnations: as a
 * client it calls "alpha" until 100 calls succeed and prints "honest
 * again", as a server it answers chaos-client's payloads. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fifo.h"
#include "internal.h"
/* after <uipc/module.h>: chaos_echo */
#include "chaos-payload.h"

static struct uipc_region r;
static struct uipc_manifest_ent ent;

static void map_first_channel(char role)
{
    struct uipc_manifest_ent e[8];
    unsigned n;
    if (uipc__manifest_parse(getenv("UIPC_CHANNELS"), e, 8, &n) < 0)
        exit(10);
    for (unsigned i = 0; i < n; i++)
        if ((e[i].role == UIPC_SERVER) == (role == 's')) {
            ent = e[i];
            if (uipc__region_map(ent.region_fd, &r) < 0)
                exit(11);
            return;
        }
    exit(12);
}

static void push(enum uipc_fifo_id id, uint32_t slot, uint32_t gen, uint32_t tag)
{
    struct uipc_fifo f;
    uipc__fifo_attach_producer(&f, r.fifo[id], r.fifo_size);
    uipc__fifo_push(&f, slot, gen, tag);
    uipc__fifo_publish_tail(&f);
}

static void scribble(enum uipc_fifo_id id, const char *kind)
{
    struct uipc_fifo_shared *f = r.fifo[id];
    uint32_t tail = atomic_load(&f->tail), mask = r.fifo_size - 1;
    if (strcmp(kind, "random") == 0) {
        unsigned char *p = (unsigned char *)f->ent;
        srand(42);
        for (size_t k = 0; k < r.fifo_size * sizeof(struct uipc_fifo_entry); k++)
            p[k] = (unsigned char)rand();
    } else if (strcmp(kind, "badseq") == 0) {
        atomic_store(&f->ent[tail & mask].seq, tail + 12345);
    } else if (strcmp(kind, "header") == 0) {
        memset(r.base, 0xa5, sizeof(struct uipc_region_hdr));
    } else if (strcmp(kind, "tail") == 0) {
        atomic_store(&f->tail, tail + 1000000);
        usleep(100000);
        atomic_store(&f->tail, tail - 1000);
    }
}

static void attack_as_client(const char *kind)
{
    struct uipc_slot_hdr *h = uipc_slot(&r, 0);
    uint32_t epoch = atomic_load(&r.side[UIPC_SERVER]->epoch);
    if (strcmp(kind, "badslot") == 0) {
        push(UIPC_SUBMIT, r.slots + 7, 1, epoch);
    } else if (strcmp(kind, "badgen") == 0) {
        atomic_store(&h->own, uipc_slot_word(5, UIPC_SLOT_SUBMITTED));
        push(UIPC_SUBMIT, 0, 9, epoch);
    } else if (strcmp(kind, "skipstate") == 0) {
        atomic_store(&h->own, uipc_slot_word(1, UIPC_SLOT_DONE));
        push(UIPC_SUBMIT, 0, 1, epoch);
    } else if (strcmp(kind, "biglen") == 0) {
        h->req_len = r.slot_size + 1;
        atomic_store(&h->own, uipc_slot_word(1, UIPC_SLOT_SUBMITTED));
        push(UIPC_SUBMIT, 0, 1, epoch);
    } else {
        scribble(UIPC_SUBMIT, kind);
    }
    uipc__notify(r.side[UIPC_SERVER], ent.peer_bell);
}

/* Takes the client's next real call off the submit FIFO, waiting for one
 * in uipc_poll (ready, and beating, while the client comes up). */
static void take_call(uipc_module *m, uint32_t *slot, uint32_t *gen)
{
    struct uipc_fifo f;
    uint32_t tag;
    uipc__fifo_attach_consumer(&f, r.fifo[UIPC_SUBMIT], r.fifo_size);
    while (uipc__fifo_pop(&f, slot, gen, &tag) <= 0)
        uipc_poll(m, 1);
    uipc__fifo_publish_head(&f);
}

static void attack_as_server(uipc_module *m, const char *kind)
{
    uint32_t slot, gen;
    take_call(m, &slot, &gen);
    struct uipc_slot_hdr *h = uipc_slot(&r, slot);
    if (strcmp(kind, "badslot") == 0) {
        push(UIPC_COMPLETE, r.slots + 7, gen, 0);
    } else if (strcmp(kind, "skipstate") == 0) {
        push(UIPC_COMPLETE, slot, gen, 0); /* its word still says submitted */
    } else if (strcmp(kind, "biglen") == 0) {
        h->rep_len = r.slot_size + 1;
        atomic_store(&h->own, uipc_slot_word(gen, UIPC_SLOT_DONE));
        push(UIPC_COMPLETE, slot, gen, 0);
    } else {
        scribble(UIPC_COMPLETE, kind);
    }
    uipc__notify(r.side[UIPC_CLIENT], ent.peer_bell);
}

static int fill(void *buf, size_t cap, size_t *len, void *arg)
{
    uint64_t *seq = arg;
    size_t n = 64;
    if (cap < n)
        return -UIPC_ETOOBIG;
    chaos_payload_make(buf, n, *seq);
    *len = n;
    return 0;
}

static int honest_client(uipc_module *m)
{
    uipc_chan *ch;
    unsigned ok = 0;
    if (uipc_connect(m, "alpha", &ch) < 0)
        return 1;
    for (uint64_t seq = 1; ok < 100; seq++) {
        struct uipc_call c = { .fill = fill, .arg = &seq, .timeout_ms = 1000 };
        int st = uipc_call(ch, &c);
        if (st == 64)
            ok++;
        else if (uipc_poll(m, 10) == -UIPC_ESTOPPED)
            return 0;
    }
    printf("hostile: honest again: %u calls ok\n", ok);
    fflush(stdout);
    return uipc_run(m);
}

static int echo(uipc_req *req, void *ctx)
{
    (void)ctx;
    return chaos_echo(req);
}

static int behave(uipc_module *m, bool server)
{
    if (!server)
        return honest_client(m);
    if (uipc_serve(m, "alpha", echo, NULL) < 0)
        return 1;
    printf("hostile: serving honestly\n");
    fflush(stdout);
    return uipc_run(m) < 0;
}

/* Alive, beating, until the supervisor has asked our end of the channel
 * to stop (libmodule halts it) and then reset it: our end broken, then
 * whole again.  One progress pass per poll (timeout 0) makes at most one
 * of those moves, so neither is missed.  Without a report (positions
 * alone) that never comes, and we poll until stopped. */
static int await_reset(uipc_module *m, bool server, bool then_behave)
{
    const bool *broken = server ? &m->srvs[0].broken : &m->chans[0].broken;
    /* Already broken if we stopped it ourselves (accuse): the reset may
     * then be over before our first poll. */
    bool seen = *broken;
    for (;;) {
        if (uipc_poll(m, 0) == -UIPC_ESTOPPED)
            return 0;
        if (*broken)
            seen = true;
        else if (seen)
            break;
        usleep(5000);
    }
    if (!then_behave)
        return 1;
    printf("hostile: channel reset, behaving from now on\n");
    fflush(stdout);
    return behave(m, server);
}

/* A false report against the peer on our first channel, five times: each
 * one resets the channel (both ends stop and start over), none kills. */
static int accuse(uipc_module *m, bool server)
{
    for (int n = 1; n <= 5; n++) {
        /* Our end stops and says so: the report the supervisor reads. */
        if (server)
            uipc__srv_halt(&m->srvs[0]);
        else
            uipc__chan_halt(&m->chans[0]);
        printf("hostile: false report %d against its peer\n", n);
        fflush(stdout);
        if (await_reset(m, server, false) == 0)
            return 0;
    }
    printf("hostile: channel reset, behaving from now on\n");
    fflush(stdout);
    return behave(m, server);
}

static int run(uipc_module *m, char **argv)
{
    bool server = strcmp(argv[1], "server") == 0;
    int fd = open(argv[3], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) /* a later incarnation: behave */
        return behave(m, server);
    close(fd);
    if (strcmp(argv[2], "accuse") == 0)
        return accuse(m, server);
    map_first_channel(server ? 's' : 'c');
    printf("hostile: attacking as %s: %s\n", argv[1], argv[2]);
    fflush(stdout);
    if (server)
        attack_as_server(m, argv[2]);
    else
        attack_as_client(argv[2]);
    return await_reset(m, server, true);
}

int main(int argc, char **argv)
{
    uipc_module *m;
    if (argc != 4 || uipc_module_open(&m) < 0)
        return 2;
    int code = run(m, argv);
    uipc_module_close(m); /* the whole module, as valgrind checks it */
    return code;
}
