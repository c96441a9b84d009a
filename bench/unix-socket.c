/* SPDX-License-Identifier: MIT */
/* unix-socket: request/reply over an AF_UNIX SOCK_SEQPACKET socketpair with
 * blocking I/O, the usual way processes on one host talk. */
#include <errno.h>
#include <sys/socket.h>

#include "harness.h"

int bench_unix_socket(const struct bench_opts *o, struct bench_result *r)
{
    int sv[2];

    /* SEQPACKET keeps message boundaries, as an RPC over a socket would. */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
    struct bench_fds f = {
        .cli_rd = sv[0], .cli_wr = sv[0], .srv_rd = sv[1], .srv_wr = sv[1],
    };
    return bench_fdpair(o, &f, r);
}
