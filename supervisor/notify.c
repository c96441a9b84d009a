/* SPDX-License-Identifier: MIT */
/* The two ioctls.  The structures may grow with the kernel, so they are
 * allocated at the kernel's sizes, and the request is zeroed before every
 * receive (the kernel refuses a dirty one with EINVAL). */
#include <errno.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "notify.h"

static struct seccomp_notif_sizes sizes;
static struct seccomp_notif *req;
static struct seccomp_notif_resp *resp;

static int ensure_buffers(void)
{
    if (req)
        return 0;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
        return -errno;
    if (sizes.seccomp_notif < sizeof(*req))
        sizes.seccomp_notif = sizeof(*req);
    if (sizes.seccomp_notif_resp < sizeof(*resp))
        sizes.seccomp_notif_resp = sizeof(*resp);
    req = calloc(1, sizes.seccomp_notif);
    resp = calloc(1, sizes.seccomp_notif_resp);
    if (req && resp)
        return 0;
    free(req);
    free(resp);
    req = NULL;
    resp = NULL;
    return -ENOMEM;
}

int sv_notify_recv(int listener, struct sv_notif *n)
{
    int r = ensure_buffers();
    if (r < 0)
        return r;
    memset(req, 0, sizes.seccomp_notif);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
        return -errno;
    n->id = req->id;
    n->pid = (pid_t)req->pid;
    n->nr = req->data.nr;
    memcpy(n->args, req->data.args, sizeof(n->args));
    return 0;
}

void sv_notify_reply(int listener, uint64_t id, int err)
{
    if (ensure_buffers() < 0)
        return;
    memset(resp, 0, sizes.seccomp_notif_resp);
    resp->id = id;
    if (err)
        resp->error = -err;
    else
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp); /* ENOENT: the caller died meanwhile */
}
