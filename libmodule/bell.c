/* SPDX-License-Identifier: MIT */
/* Bells: how a module asleep in its own event loop (uipc_fd) is woken.
 * One datagram socket the module receives on, and one connected sender per
 * writer, so that no writer shares a file description with anyone it must
 * not trust (docs/architecture.md, "Trust"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bell.h"

/*
 * Why not an eventfd: its reader and writers share one open file
 * description, flags and all.  A module could clear O_NONBLOCK on it and
 * fill its counter, and the next honest write blocked for good (the
 * supervisor's loop, or an honest peer).  Sockets take MSG_DONTWAIT per
 * call, whatever the description's flags, and MSG_NOSIGNAL keeps a closed
 * reader from raising SIGPIPE.  With one sender per writer, a shutdown()
 * or connect() on a sender only silences that writer, and a datagram
 * socket's shutdown does not reach its peer.  The receiver is bound to a
 * path in a private directory (mkdtemp: 0700), which only its owner's uid
 * can enter.  The test bed seals it (the path gone) once every sender is
 * connected; the supervisor keeps it, to connect a channel a reload adds.
 */

int uipc__bell_open(struct uipc_bell *b)
{
    const char *tmp = getenv("TMPDIR");
    memset(b, 0, sizeof(*b));
    b->rx = -1;
    snprintf(b->dir, sizeof(b->dir), "%s/uipc-bell-XXXXXX", tmp && *tmp && strlen(tmp) < 64 ? tmp : "/tmp");
    if (!mkdtemp(b->dir))
        return -errno;
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/b", b->dir);
    b->rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (b->rx < 0 || bind(b->rx, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int err = -errno;
        uipc__bell_close(b);
        return err;
    }
    b->bound = true;
    return 0;
}

int uipc__bell_sender(const struct uipc_bell *b)
{
    if (!b->bound)
        return -EINVAL;
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/b", b->dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

void uipc__bell_seal(struct uipc_bell *b)
{
    if (!b->bound)
        return;
    char path[sizeof(b->dir) + 2];
    snprintf(path, sizeof(path), "%s/b", b->dir);
    unlink(path);
    rmdir(b->dir);
    b->bound = false;
}

void uipc__bell_close(struct uipc_bell *b)
{
    uipc__bell_seal(b);
    if (b->dir[0] && b->rx < 0)
        rmdir(b->dir); /* made, but the socket never bound */
    if (b->rx >= 0)
        close(b->rx);
    b->rx = -1;
    b->dir[0] = '\0';
}

void uipc__bell_renew(int rx)
{
    /* A connect() of the receiver by a previous incarnation would make it
     * accept datagrams from that address only, refusing every sender: the
     * association is dissolved, and what is queued thrown away. */
    struct sockaddr sa = { .sa_family = AF_UNSPEC };
    int r = connect(rx, &sa, sizeof(sa));
    (void)r;
    uipc__bell_drain(rx);
}

void uipc__bell_ring(int sender)
{
    /* EAGAIN: the receiver's queue is full, so it is readable already;
     * EPIPE, ECONNREFUSED: the receiver (or its own sender) was shut or
     * disconnected by the module that holds it, which silences only it. */
    static const char one = 1;
    ssize_t r = send(sender, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)r;
}

void uipc__bell_drain(int rx)
{
    char buf[64];
    /* Bounded: a peer that keeps ringing cannot keep us here.  What is
     * left keeps the socket readable, which only costs a spare poll. */
    for (int i = 0; i < 1024; i++)
        if (recv(rx, buf, sizeof(buf), MSG_DONTWAIT) < 0)
            return;
}
