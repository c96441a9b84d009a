/* SPDX-License-Identifier: MIT */
/* Parsing what the supervisor (or a test bed) tells a module in its
 * environment.  Everything here is input from outside: checked strictly. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int uipc__parse_fd(const char *s, int *fd)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > INT_MAX)
        return -EINVAL;
    *fd = (int)v;
    return 0;
}

/* One "R:service:fd:fd" entry, len bytes at s. */
int uipc__parse_bell(const char *s, int *rx, int *tx)
{
    char buf[32];
    const char *colon = s ? strchr(s, ':') : NULL;
    if (!colon || (size_t)(colon - s) >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, (size_t)(colon - s));
    buf[colon - s] = '\0';
    if (uipc__parse_fd(buf, rx) < 0 || uipc__parse_fd(colon + 1, tx) < 0 || *rx == *tx)
        return -EINVAL;
    return 0;
}

static int parse_ent(const char *s, size_t len, struct uipc_manifest_ent *e)
{
    char buf[UIPC_SERVICE_MAX + 32];
    if (len < 7 || len >= sizeof(buf) || s[1] != ':')
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] != 'S' && buf[0] != 'C')
        return -EINVAL;
    e->role = buf[0] == 'S' ? UIPC_SERVER : UIPC_CLIENT;

    char *name = buf + 2;
    char *fd1 = strchr(name, ':');
    if (!fd1)
        return -EINVAL;
    *fd1++ = '\0';
    char *fd2 = strchr(fd1, ':');
    if (!fd2)
        return -EINVAL;
    *fd2++ = '\0';
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen >= UIPC_SERVICE_MAX)
        return -EINVAL;
    memcpy(e->service, name, nlen + 1);
    if (uipc__parse_fd(fd1, &e->region_fd) < 0 || uipc__parse_fd(fd2, &e->peer_bell) < 0)
        return -EINVAL;
    return 0;
}

int uipc__manifest_parse(const char *s, struct uipc_manifest_ent *out, unsigned max, unsigned *n)
{
    *n = 0;
    if (!s)
        return -EINVAL;
    if (*s == '\0')
        return 0;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (*n >= max)
            return -E2BIG;
        int err = parse_ent(s, len, &out[*n]);
        if (err < 0)
            return err;
        for (unsigned i = 0; i < *n; i++)
            if (out[i].role == out[*n].role && out[i].role == UIPC_CLIENT &&
                strcmp(out[i].service, out[*n].service) == 0)
                return -EINVAL; /* one client end per service */
        (*n)++;
        if (!comma)
            return 0;
        s = comma + 1;
    }
}
