/* SPDX-License-Identifier: MIT */
/* uipc-bench: one transport = one function that measures 64-byte request /
 * 64-byte reply round trips between two real processes. */
#ifndef UIPC_BENCH_H
#define UIPC_BENCH_H

#include <stddef.h>
#include <stdint.h>

struct bench_opts {
    unsigned long iters;        /* synchronous round trips measured */
    unsigned long warmup;       /* round trips run before measuring */
    unsigned long async_calls;  /* calls in the pipelined throughput run */
    unsigned      depth;        /* calls kept in flight in the pipelined run */
    size_t        msg_size;     /* request and reply size (64) */
    int           cpu_client;   /* CPU the client is pinned to, -1: none */
    int           cpu_server;   /* CPU the server is pinned to, -1: none */
};

struct bench_result {
    const char *transport;
    double median_ns, p99_ns, p999_ns;  /* synchronous round trip */
    double calls_per_s;                 /* pipelined asynchronous throughput */
    int    skipped;                     /* 1: transport unavailable here */
    char   note[128];                   /* why skipped, or a remark */
};

/* Each returns 0 and fills *r, or a negative errno-style code. */
int bench_raw_ring(const struct bench_opts *o, struct bench_result *r);
int bench_line_floor(const struct bench_opts *o, struct bench_result *r);
int bench_unix_socket(const struct bench_opts *o, struct bench_result *r);
int bench_pipe(const struct bench_opts *o, struct bench_result *r);
int bench_iceoryx(const struct bench_opts *o, struct bench_result *r);
int bench_tcp_socket(const struct bench_opts *o, struct bench_result *r);
int bench_nng_pair1(const struct bench_opts *o, struct bench_result *r);
int bench_uipc_bridge(const struct bench_opts *o, struct bench_result *r);
/* sleep_mode 0: uipc-spin, 1: uipc-sleep (waiting side sleeps at once). */
int bench_uipc(const struct bench_opts *o, int sleep_mode, struct bench_result *r);

/* stats.c: sorts samples in place and fills the three percentiles. */
void bench_percentiles(uint64_t *ns, size_t n, struct bench_result *r);
uint64_t bench_now_ns(void);
int bench_pin(int cpu);

#endif
