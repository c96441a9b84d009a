/* SPDX-License-Identifier: MIT */
/* Control socket framing. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl-wire.h"

int ctl_wire_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > CTL_MAX_MSG)
        return -EMSGSIZE;
    uint8_t *buf = malloc(CTL_HDR + n);
    if (!buf)
        return -ENOMEM;
    for (int i = 0; i < CTL_HDR; i++)
        buf[i] = (uint8_t)(n >> (8 * i));
    protobuf_c_message_pack(msg, buf + CTL_HDR);
    *out = buf;
    *len = CTL_HDR + n;
    return 0;
}

uint32_t ctl_wire_len(const uint8_t hdr[CTL_HDR])
{
    return (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
}

/* Waits for events on fd, up to timeout_ms (0: forever). */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = events };
    int n;
    while ((n = poll(&p, 1, timeout_ms ? timeout_ms : -1)) < 0 && errno == EINTR)
        ;
    return n < 0 ? -errno : n == 0 ? -ETIMEDOUT : 0;
}

static int io_all(int fd, uint8_t *buf, size_t len, bool out, int timeout_ms)
{
    for (size_t done = 0; done < len;) {
        int r = wait_fd(fd, out ? POLLOUT : POLLIN, timeout_ms);
        if (r < 0)
            return r;
        ssize_t n = out ? send(fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT)
                        : recv(fd, buf + done, len - done, MSG_DONTWAIT);
        if (n == 0)
            return -ECONNRESET;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        if (n > 0)
            done += (size_t)n;
    }
    return 0;
}

int ctl_wire_send(int fd, const ProtobufCMessage *msg, int timeout_ms)
{
    uint8_t *buf;
    size_t len;
    int r = ctl_wire_pack(msg, &buf, &len);
    if (r < 0)
        return r;
    r = io_all(fd, buf, len, true, timeout_ms);
    free(buf);
    return r;
}

int ctl_wire_recv(int fd, const ProtobufCMessageDescriptor *type, ProtobufCMessage **out,
                  int timeout_ms)
{
    uint8_t hdr[CTL_HDR];
    int r = io_all(fd, hdr, CTL_HDR, false, timeout_ms);
    if (r < 0)
        return r;
    uint32_t n = ctl_wire_len(hdr);
    if (n > CTL_MAX_MSG)
        return -EMSGSIZE;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return -ENOMEM;
    r = io_all(fd, buf, n, false, timeout_ms);
    if (r == 0) {
        *out = protobuf_c_message_unpack(type, NULL, n, buf);
        r = *out ? 0 : -EBADMSG;
    }
    free(buf);
    return r;
}

int ctl_wire_connect(const char *path, int timeout_ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t len = strlen(path);
    if (len >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, len + 1); /* checked above */

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (timeout_ms > 0) {
        /* bounds a connect waiting on a full backlog (it then fails with EAGAIN) */
        struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000 };
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    if (connect(fd, (const struct sockaddr *)&sa,
                (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1)) < 0) {
        int e = errno == EAGAIN ? ETIMEDOUT : errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What is left of a limit for the next step: never 0, which would mean
 * none to the steps; -1 once it has passed. */
static int left_ms(int64_t until)
{
    int64_t left = until - mono_ms();
    return left > 0 ? (int)left : -1;
}

int ctl_wire_call(const char *path, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *type,
                  ProtobufCMessage **out, int timeout_ms)
{
    int64_t until = mono_ms() + timeout_ms;
    int fd = ctl_wire_connect(path, timeout_ms);
    if (fd < 0)
        return fd;
    int ms = timeout_ms ? left_ms(until) : 0;
    int r = ms < 0 ? -ETIMEDOUT : ctl_wire_send(fd, req, ms);
    if (r == 0) {
        ms = timeout_ms ? left_ms(until) : 0;
        r = ms < 0 ? -ETIMEDOUT : ctl_wire_recv(fd, type, out, ms);
    }
    close(fd);
    return r;
}
