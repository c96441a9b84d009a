/* SPDX-License-Identifier: MIT */
/* pipe: request/reply over two pipes (one per direction) with blocking I/O. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "harness.h"

int bench_pipe(const struct bench_opts *o, struct bench_result *r)
{
    int req[2], rep[2];

    if (pipe2(req, O_CLOEXEC) != 0)
        return -errno;
    if (pipe2(rep, O_CLOEXEC) != 0) {
        int rc = -errno;
        (void)bench_close(&req[0]);  /* already failing: report the first error */
        (void)bench_close(&req[1]);
        return rc;
    }
    struct bench_fds f = {
        .cli_rd = rep[0], .cli_wr = req[1], .srv_rd = req[0], .srv_wr = rep[1],
    };
    return bench_fdpair(o, &f, r);
}
