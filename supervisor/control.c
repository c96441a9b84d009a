/* SPDX-License-Identifier: MIT */
/* The control socket: a UNIX stream socket with its own small epoll set,
 * itself one fd in the supervisor's loop.  Every peer is untrusted input:
 * frames are length-checked before anything is allocated, bodies are
 * unpacked from our own buffer, a peer that is too slow (CTL_IO_TIMEOUT_MS
 * for a started request or a pending reply) or idle for a minute is
 * dropped, and nothing a peer does blocks the supervisor. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "clock.h"
#include "ctl-wire.h"
#include "log.h"

#define CTL_IDLE_MS 60000
#define LISTENER UINT32_MAX

struct ctl_conn {
    int fd;                  /* -1: unused */
    uint8_t hdr[CTL_HDR];
    size_t hdr_got;
    uint8_t *body;
    uint32_t body_len, body_got;
    uint8_t *out;            /* a packed reply being sent */
    size_t out_len, out_done;
    bool close_after;        /* once the reply is out */
    uint64_t deadline_ms;
    pid_t pid;               /* the peer, from SO_PEERCRED */
    uint64_t seq;            /* accept order: the oldest is evicted first */
};

struct ctl_server {
    int ep, lfd;
    struct sockaddr_un addr;
    uid_t uid;
    ctl_handler_fn handler;
    ctl_release_fn release;
    void *ctx;
    struct ctl_conn conn[CTL_MAX_CLIENTS];
    uint64_t accepted;       /* connections accepted so far */
    unsigned refused;        /* refused since the last warning */
    uint64_t refused_log_ms; /* when that warning was */
    enum ctl_who who;
    pid_t modules_parent;    /* the modules' parent, when it is not us (the keeper) */
    unsigned module_refused; /* refused as a module since the last warning */
    uint64_t module_log_ms;  /* when that warning was */
};

/* ---- the socket file ---- */

/* The socket's directory: made if missing (0755), and then it must be
 * ours (or root's) and writable by nobody else, or another user could put
 * their own socket, or a symlink, where uipcctl looks.  -EPERM, with why. */
static int make_parent_dir(const char *path)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct stat st;
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *(slash == dir ? slash + 1 : slash) = '\0';
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    if (stat(dir, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 022)) {
        sv_ev(UNSAFE_CONTROL_DIR, NULL,
              SV_FIELDS(SV_STR("dir", dir), SV_NUM("owner", st.st_uid), SV_NUM("mode", st.st_mode & 07777)),
              "control: %s must be a directory that only this user (or root) can write, "
              "not one of owner %u, mode %04o", dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return -EPERM;
    }
    return 0;
}

/* A socket file nobody listens on is left over from a supervisor that
 * died; one that answers belongs to a running supervisor. */
static int clear_stale(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
    int e = errno;
    close(fd);
    if (r == 0)
        return -EADDRINUSE;
    if (e == ECONNREFUSED)
        return unlink(addr->sun_path) == 0 || errno == ENOENT ? 0 : -errno;
    return e == ENOENT ? 0 : -e;
}

static int listen_on(struct ctl_server *s, const char *path)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = LISTENER };
    int r;
    s->addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(s->addr.sun_path))
        return -ENAMETOOLONG;
    snprintf(s->addr.sun_path, sizeof(s->addr.sun_path), "%s", path);
    if ((r = make_parent_dir(path)) < 0 || (r = clear_stale(&s->addr)) < 0)
        return r;
    s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->lfd < 0)
        return -errno;
    /* 0600 (0666 for anyone) from the start: no moment where another user
     * could connect, and no chmod afterwards (it would follow a symlink put
     * there) */
    mode_t old = umask(s->who == CTL_ANYONE ? 0111 : 0177);
    r = bind(s->lfd, (struct sockaddr *)&s->addr, sizeof(s->addr));
    umask(old);
    if (r < 0 || listen(s->lfd, 16) < 0)
        return -errno;
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev) < 0 ? -errno : 0;
}

static struct ctl_server *server_new(enum ctl_who who, ctl_handler_fn handler, ctl_release_fn release, void *ctx)
{
    struct ctl_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->handler = handler;
    s->release = release;
    s->ctx = ctx;
    s->uid = geteuid();
    s->who = who;
    s->lfd = -1;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        s->conn[i].fd = -1;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    return s;
}

static int opened(struct ctl_server *s, int r, struct ctl_server **out)
{
    if (r < 0) {
        if (s->lfd >= 0)
            close(s->lfd);
        if (s->ep >= 0)
            close(s->ep);
        free(s);
        return r;
    }
    *out = s;
    return 0;
}

int ctl_open(const char *path, enum ctl_who who, ctl_handler_fn handler, ctl_release_fn release,
             void *ctx, struct ctl_server **out)
{
    struct ctl_server *s = server_new(who, handler, release, ctx);
    if (!s)
        return -ENOMEM;
    return opened(s, s->ep < 0 ? -errno : listen_on(s, path), out);
}

int ctl_adopt(int lfd, const char *path, enum ctl_who who, ctl_handler_fn handler, ctl_release_fn release,
              void *ctx, struct ctl_server **out)
{
    struct ctl_server *s = server_new(who, handler, release, ctx);
    if (!s)
        return -ENOMEM;
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = LISTENER };
    int r = s->ep < 0 ? -errno : 0;
    s->lfd = lfd;
    s->addr.sun_family = AF_UNIX;
    snprintf(s->addr.sun_path, sizeof(s->addr.sun_path), "%s", path);
    if (r == 0 && (fcntl(lfd, F_SETFD, FD_CLOEXEC) < 0 || fcntl(lfd, F_SETFL, O_NONBLOCK) < 0 ||
                   epoll_ctl(s->ep, EPOLL_CTL_ADD, lfd, &ev) < 0))
        r = -errno;
    return opened(s, r, out);
}

int ctl_listener(const struct ctl_server *s)
{
    return s->lfd;
}

void ctl_modules_parent(struct ctl_server *s, pid_t parent)
{
    s->modules_parent = parent;
}

static void drop(struct ctl_server *s, struct ctl_conn *c)
{
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->body);
    free(c->out);
    *c = (struct ctl_conn){ .fd = -1 };
}

void ctl_close(struct ctl_server *s)
{
    if (!s)
        return;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        if (s->conn[i].fd >= 0)
            drop(s, &s->conn[i]);
    close(s->lfd);
    close(s->ep);
    unlink(s->addr.sun_path);
    free(s);
}

int ctl_fd(const struct ctl_server *s)
{
    return s->ep;
}

int ctl_timeout(const struct ctl_server *s)
{
    uint64_t next = UINT64_MAX, now = sv_now_ms();
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        if (s->conn[i].fd >= 0 && s->conn[i].deadline_ms < next)
            next = s->conn[i].deadline_ms;
    return next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
}

/* ---- replies ---- */

static void want(struct ctl_server *s, struct ctl_conn *c, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)(c - s->conn) };
    epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends what it can now; the rest on EPOLLOUT.  false: dropped. */
static bool flush(struct ctl_server *s, struct ctl_conn *c)
{
    while (c->out_done < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_done, c->out_len - c->out_done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EAGAIN) {
            want(s, c, EPOLLOUT);
            return true;
        }
        if (n <= 0) {
            drop(s, c);
            return false;
        }
        c->out_done += (size_t)n;
    }
    free(c->out);
    c->out = NULL;
    if (c->close_after) {
        drop(s, c);
        return false;
    }
    c->deadline_ms = sv_now_ms() + CTL_IDLE_MS;
    want(s, c, EPOLLIN);
    return true;
}

static bool send_reply(struct ctl_server *s, struct ctl_conn *c, const Uipc__Control__Reply *rep)
{
    size_t len;
    if (ctl_wire_pack(&rep->base, &c->out, &len) < 0) {
        drop(s, c);
        return false;
    }
    c->out_len = len;
    c->out_done = 0;
    c->deadline_ms = sv_now_ms() + CTL_IO_TIMEOUT_MS;
    return flush(s, c);
}

/* An error reply, then the connection closes. */
static bool refuse(struct ctl_server *s, struct ctl_conn *c, const char *why)
{
    Uipc__Control__Reply rep = UIPC__CONTROL__REPLY__INIT;
    rep.ok = false;
    rep.error = (char *)why;
    c->close_after = true;
    return send_reply(s, c, &rep);
}

static bool answer(struct ctl_server *s, struct ctl_conn *c)
{
    Uipc__Control__Request *req = uipc__control__request__unpack(NULL, c->body_len, c->body);
    free(c->body);
    c->body = NULL;
    c->hdr_got = c->body_got = c->body_len = 0;
    if (!req)
        return refuse(s, c, "bad request: not a uipc.control.Request");
    Uipc__Control__Reply rep = UIPC__CONTROL__REPLY__INIT;
    s->handler(s->ctx, req, &rep);
    uipc__control__request__free_unpacked(req, NULL);
    bool alive = send_reply(s, c, &rep);
    if (s->release)
        s->release(s->ctx, &rep);
    return alive;
}

/* ---- requests ---- */

/* Reads what has arrived; answers a whole request. */
static void on_readable(struct ctl_server *s, struct ctl_conn *c)
{
    for (;;) {
        uint8_t *dst = c->hdr_got < CTL_HDR ? c->hdr + c->hdr_got : c->body + c->body_got;
        size_t room = c->hdr_got < CTL_HDR ? CTL_HDR - c->hdr_got : c->body_len - c->body_got;
        ssize_t n = room ? recv(c->fd, dst, room, MSG_DONTWAIT) : 0;
        if (room && n < 0 && errno == EAGAIN)
            return;
        if (room && n <= 0) { /* closed, or an error: nothing to answer */
            drop(s, c);
            return;
        }
        if (c->hdr_got == 0 && c->body_got == 0)
            c->deadline_ms = sv_now_ms() + CTL_IO_TIMEOUT_MS; /* a request has begun */
        if (c->hdr_got < CTL_HDR) {
            c->hdr_got += (size_t)n;
            if (c->hdr_got < CTL_HDR)
                continue;
            c->body_len = ctl_wire_len(c->hdr);
            if (c->body_len > CTL_MAX_MSG) {
                refuse(s, c, "bad request: larger than 1 MiB");
                return;
            }
            if (!(c->body = malloc(c->body_len ? c->body_len : 1))) {
                drop(s, c);
                return;
            }
        } else {
            c->body_got += (uint32_t)n;
        }
        if (c->body_got == c->body_len && (!answer(s, c) || c->out))
            return; /* dropped, or a reply still going out: read on later */
    }
}

static unsigned conns_of(const struct ctl_server *s, pid_t pid)
{
    unsigned n = 0;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        n += s->conn[i].fd >= 0 && s->conn[i].pid == pid;
    return n;
}

/* A free entry for a new connection from pid.  When all are taken, the
 * oldest connection of the peer holding the most is closed to make room,
 * if that peer holds more than the newcomer would: one process flooding
 * the socket cannot lock the operator out.  -1: refused. */
static int free_entry(struct ctl_server *s, pid_t pid)
{
    int victim = -1;
    unsigned most = 0;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
        if (s->conn[i].fd < 0)
            return i;
        unsigned n = conns_of(s, s->conn[i].pid);
        if (n > most || (n == most && s->conn[i].seq < s->conn[victim].seq)) {
            most = n;
            victim = i;
        }
    }
    if (most <= conns_of(s, pid) + 1)
        return -1;
    drop(s, &s->conn[victim]);
    return victim;
}

/* Whether pid is one of ours: a module, a process it made, or one of
 * those reparented to us (we are their subreaper).  Its parents, from
 * /proc/PID/stat, up to us or to pid 1. */
static bool our_descendant(const struct ctl_server *s, pid_t pid)
{
    pid_t self = getpid();
    for (int depth = 0; pid > 1 && depth < 64; depth++) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (fd >= 0)
            close(fd);
        buf[n > 0 ? n : 0] = '\0';
        const char *paren = strrchr(buf, ')');
        int ppid = 0;
        if (!paren || sscanf(paren + 1, " %*c %d", &ppid) != 1)
            return false;
        if (ppid == self || ppid == s->modules_parent)
            return true;
        pid = ppid;
    }
    return false;
}

/* At most one warning a second, with the count. */
static void refused_one(struct ctl_server *s)
{
    uint64_t now = sv_now_ms();
    s->refused++;
    if (now - s->refused_log_ms >= 1000) {
        sv_ev(CONTROL_REFUSED, NULL, SV_FIELDS(SV_NUM("refused", s->refused), SV_NUM("max_connections", CTL_MAX_CLIENTS)),
              "control: more than %d connections; %u refused", CTL_MAX_CLIENTS, s->refused);
        s->refused = 0;
        s->refused_log_ms = now;
    }
}

static void on_accept(struct ctl_server *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        struct ucred cred = { .pid = 0, .uid = (uid_t)-1 };
        socklen_t len = sizeof(cred);
        bool cred_ok = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
        int i = free_entry(s, cred.pid);
        if (i < 0) {
            refused_one(s);
            close(fd);
            continue;
        }
        struct ctl_conn *c = &s->conn[i];
        *c = (struct ctl_conn){ .fd = fd, .deadline_ms = sv_now_ms() + CTL_IDLE_MS, .pid = cred.pid,
                                .seq = ++s->accepted };
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            c->fd = -1;
            continue;
        }
        if (s->who == CTL_ANYONE && cred_ok)
            continue;
        if (!cred_ok || (cred.uid != 0 && cred.uid != s->uid)) {
            sv_ev(CONTROL_REFUSED, NULL, SV_FIELDS(SV_NUM("uid", (int)cred.uid)), "control: connection from uid %d refused",
                  (int)cred.uid);
            refuse(s, c, "permission denied: not the supervisor's user or root");
        } else if (s->who == CTL_OPERATORS && our_descendant(s, cred.pid)) {
            uint64_t now = sv_now_ms();
            if (s->module_refused++ == 0 || now - s->module_log_ms >= 1000) {
                sv_ev(CONTROL_REFUSED, NULL, SV_FIELDS(SV_NUM("pid", cred.pid)),
                      "control: connection from pid %d refused: a module of this supervisor, or "
                      "one of its processes (control_from_modules = no)", (int)cred.pid);
                s->module_refused = 0;
                s->module_log_ms = now;
            }
            refuse(s, c, "permission denied: a module of this supervisor (control_from_modules = no)");
        }
    }
}

void ctl_expire(struct ctl_server *s)
{
    uint64_t now = sv_now_ms();
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        if (s->conn[i].fd >= 0 && now >= s->conn[i].deadline_ms)
            drop(s, &s->conn[i]);
}

void ctl_process(struct ctl_server *s)
{
    struct epoll_event ev[16];
    int n = epoll_wait(s->ep, ev, 16, 0);
    for (int k = 0; k < n; k++) {
        uint32_t idx = ev[k].data.u32;
        if (idx == LISTENER) {
            on_accept(s);
            continue;
        }
        struct ctl_conn *c = &s->conn[idx];
        if (c->fd < 0)
            continue; /* dropped earlier in this batch */
        if (c->out)
            flush(s, c);
        else if (ev[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            on_readable(s, c);
    }
    ctl_expire(s);
}
