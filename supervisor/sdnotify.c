/* SPDX-License-Identifier: MIT */
/* sd_notify, with libsystemd or by hand: one datagram, "KEY=VALUE\n...",
 * to the AF_UNIX socket named by $NOTIFY_SOCKET ('@': abstract). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"

#ifdef UIPC_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

void sv_sd_notify(const char *state)
{
    sd_notify(0, state);
}
#else
void sv_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    size_t len = path ? strlen(path) : 0;
    if (len == 0 || len >= sizeof(addr.sun_path) || (path[0] != '/' && path[0] != '@'))
        return;
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    /* best effort, as sd_notify: systemd may be gone */
    ssize_t r = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr,
                       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    (void)r;
    close(fd);
}
#endif

uint64_t sv_sd_watchdog_ms(void)
{
    const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    if (!usec || (pid && atol(pid) != (long)getpid()))
        return 0;
    unsigned long long v = strtoull(usec, NULL, 10);
    return v / 1000;
}
