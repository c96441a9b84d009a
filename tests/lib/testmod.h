/* SPDX-License-Identifier: MIT */
/* Modules and checks shared by the process tests: an echo service whose
 * opcodes make it misbehave on demand, and CHECK for forked children. */
#ifndef UIPC_TESTMOD_H
#define UIPC_TESTMOD_H

#include <stdio.h>
#include <stdlib.h>

#include "uipc/module.h"

struct uipc_bed;

/* In a module process: report the failed condition and exit non-zero; the
 * test in the parent asserts on the exit status. */
#define CHECK(c) do { if (!(c)) { \
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
        exit(90); } } while (0)
#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
        if (a_ != b_) { fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
        __FILE__, __LINE__, #a, #b, a_, b_); exit(90); } } while (0)

enum test_op {
    OP_ECHO = 1,     /* reply = request; status = length */
    OP_STATUS,       /* status = the int in the request */
    OP_DEFER,        /* answered from the loop, after the handler returned */
    OP_SLEEP,        /* sleeps the ms in the request, then echoes */
    OP_EXIT,         /* _exit(3) inside the handler: a peer dying mid-call */
    OP_CALLBACK,     /* calls service "back" synchronously, then echoes */
    OP_BIGREPLY,     /* asks for a reply larger than the slot */
    OP_SPIN,         /* never returns: a hung handler */
    OP_GATE,         /* says it runs, blocks until told, then echoes (struct testmod_gate) */
    OP_COUNT,        /* status = how many OP_COUNT handlers this process ran, this one included */
    OP_REMAINING,    /* status = uipc_req_remaining_ms() */
};

/* The echo module's body: serves every "echo*" service it provides (and
 * the names given in arg, a NULL-terminated array, if any) until stopped
 * by SIGTERM; exit 0. */
int testmod_echo_main(void *arg);

/* Serves `name` with the echo handler on m, from m's own loop. */
int testmod_serve_echo(uipc_module *m, const char *name);

/* fill/reply helpers: a buffer of len bytes, pattern from seed. */
struct testmod_msg {
    unsigned char buf[8192];
    size_t len;
    unsigned char out[8192];
    size_t out_len;
    int status;
    int completions;
};
void testmod_pattern(unsigned char *p, size_t len, unsigned seed);
int testmod_fill(void *buf, size_t cap, size_t *len, void *arg);
void testmod_reply(int status, const void *data, size_t len, void *arg);
void testmod_complete(int status, void *arg);
/* n synchronous echo calls of len bytes, each reply checked byte for byte;
 * sleeps pause_ms after every 500th call (0: never). */
void testmod_echo_loop(uipc_chan *ch, unsigned n, size_t len, unsigned pause_ms);
/* Every slot back in the pool and nothing in flight (and, with no_dups,
 * no completion dropped as a duplicate). */
void testmod_check_whole(uipc_chan *ch, int no_dups);
void testmod_sleep_ms(unsigned ms);
/* OP_GATE's pipes, made by the test before the bed forks (so both ends'
 * modules hold them): the handler writes a byte to `taken`, then waits
 * for one on `release`.  Its request is struct testmod_gate_req. */
struct testmod_gate {
    int taken[2], release[2];
};
struct testmod_gate_req {
    int taken, release; /* the handler's ends */
};
int testmod_gate_open(struct testmod_gate *g);
void testmod_gate_close(struct testmod_gate *g);
struct testmod_gate_req testmod_gate_req(const struct testmod_gate *g);
/* In the client: until the handler runs; lets it go on. */
void testmod_gate_taken(const struct testmod_gate *g);
void testmod_gate_release(const struct testmod_gate *g);
/* In the client: an async OP_GATE call (msg gets its completion), issued
 * and taken: the server's loop is held from here to the release. */
void testmod_gate_call(uipc_chan *ch, const struct testmod_gate *g, struct testmod_msg *msg);
/* One byte through a pipe between the test and its modules, or between
 * modules: made before the bed forks, so every module inherits it.
 * testmod_tell returns 0 or -errno; testmod_await returns the byte, or
 * -ETIMEDOUT after timeout_ms (-1: never), or -EPIPE at end of file. */
int testmod_tell(int fd, char c);
int testmod_await(int fd, int timeout_ms);
/* Anonymous shared memory, zeroed, made before the bed forks: where module
 * processes leave figures for the test to check (never unmapped). */
void *testmod_shared(size_t len);
/* Opens the module or exits 91. */
uipc_module *testmod_open(void);
/* Its client end of service "echo", or a CHECK failure. */
uipc_chan *testmod_connect_echo(uipc_module *m);

#endif

/* In the test process: a bed with a server module and a client module
 * joined by one channel "echo" (slots/slot_size 0: defaults), both
 * started.  0 or a negative code. */
struct testmod_pair {
    struct uipc_bed *b;
    int srv, cli, ch;
};
int testmod_pair_start(struct testmod_pair *p, int (*server)(void *), void *server_arg,
                       int (*client)(void *), void *client_arg, unsigned slots,
                       unsigned slot_size);

/* In the test process: runs `client` against an echo server over one
 * channel "echo" (slots/slot_size 0: defaults), waits for the client to
 * exit (at most timeout_ms), stops the server, and returns the client's
 * waitpid() status, or -ETIMEDOUT (the client is then killed). */
int testmod_run_pair(int (*client)(void *), void *arg, unsigned slots, unsigned slot_size,
                     int timeout_ms);
/* The same, with a fresh struct testmod_gate for the client's arg. */
int testmod_run_gated(int (*client)(void *), unsigned slots, int timeout_ms);
