/* SPDX-License-Identifier: MIT */
/* uipcctl's side of the control socket: where the supervisor listens, and
 * one request and its reply on a connection of their own
 * (supervisor/ctl-wire.c frames them). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl-wire.h"
#include "uipcctl.h"

int ctl_socket_path(const struct ctl_args *a, struct conf **c, const char **path)
{
    *c = NULL;
    if (a->socket) {
        *path = a->socket;
    } else if (a->config) {
        char err[CONF_ERR_MAX];
        if (conf_load(a->config, c, err, sizeof(err)) < 0) {
            fprintf(stderr, "uipcctl: %s\n", err);
            return 2;
        }
        *path = (*c)->control_socket;
    } else {
        *path = CTL_DEFAULT_SOCKET;
    }
    if (!**path)
        return ctl_bad_usage("%s", "empty socket path");
    if (strlen(*path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
        return ctl_bad_usage("socket path longer than a UNIX socket path may be: %s", *path);
    return 0;
}

/* One request and its reply; says why not on stderr unless quiet. */
static int exchange(const char *path, const Uipc__Control__Request *req, int timeout_ms, Uipc__Control__Reply **rep,
                    bool quiet)
{
    FILE *say = quiet ? NULL : stderr;
    int fd = ctl_wire_connect(path, timeout_ms);
    if (fd < 0) {
        if (say)
            fprintf(say, "uipcctl: cannot reach the supervisor at %s: %s\n", path, strerror(-fd));
        return 1;
    }
    int r = ctl_wire_send(fd, &req->base, timeout_ms);
    if (r < 0) {
        if (say)
            fprintf(say, "uipcctl: cannot send the request to the supervisor at %s: %s\n", path, strerror(-r));
        close(fd);
        return 1;
    }
    ProtobufCMessage *m = NULL;
    r = ctl_wire_recv(fd, &uipc__control__reply__descriptor, &m, timeout_ms);
    close(fd);
    if (r < 0) {
        if (say)
            fprintf(say, "uipcctl: %s reply from the supervisor at %s: %s\n",
                    r == -EBADMSG || r == -EMSGSIZE ? "bad" : "no", path, strerror(-r));
        return 1;
    }
    *rep = (Uipc__Control__Reply *)m;
    return 0;
}

int ctl_exchange(const char *path, const Uipc__Control__Request *req, int timeout_ms,
                 Uipc__Control__Reply **rep)
{
    return exchange(path, req, timeout_ms, rep, false);
}

int ctl_exchange_quiet(const char *path, const Uipc__Control__Request *req, int timeout_ms,
                       Uipc__Control__Reply **rep)
{
    return exchange(path, req, timeout_ms, rep, true);
}
