/* SPDX-License-Identifier: MIT */
/* tcp-socket: request/reply over one TCP connection on 127.0.0.1 with
 * TCP_NODELAY and blocking I/O: what NNG and the bridge run on, bare. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "harness.h"

static int nodelay(int fd)
{
    int one = 1;
    /* Without it Nagle holds a small request back while one is unacked,
     * and the pipelined run would measure delayed ACKs. */
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ? -errno : 0;
}

/* Both ends made here, before the fork: on loopback the connect completes
 * from the listen backlog, so no second process is needed to accept. */
static int connected_pair(int *cfd, int *sfd)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = lfd < 0 ? -errno : 0;

    *cfd = *sfd = -1;
    if (!rc && (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1) ||
                getsockname(lfd, (struct sockaddr *)&sa, &len)))
        rc = -errno;
    if (!rc && (*cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        rc = -errno;
    if (!rc && connect(*cfd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        rc = -errno;
    if (!rc && (*sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
        rc = -errno;
    if (!rc)
        rc = nodelay(*cfd);
    if (!rc)
        rc = nodelay(*sfd);
    int crc = bench_close(&lfd);
    if (rc || crc) {
        (void)bench_close(cfd); /* already failing: report the first error */
        (void)bench_close(sfd);
    }
    return rc ? rc : crc;
}

int bench_tcp_socket(const struct bench_opts *o, struct bench_result *r)
{
    int cfd, sfd;
    int rc = connected_pair(&cfd, &sfd);

    if (rc)
        return rc;
    struct bench_fds f = { .cli_rd = cfd, .cli_wr = cfd, .srv_rd = sfd, .srv_wr = sfd };
    return bench_fdpair(o, &f, r);
}
