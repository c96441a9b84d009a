/* SPDX-License-Identifier: MIT */
/* The supervisor's side of the keeper (keeper.h): checkpoints (the state
 * and every fd it names, so that a new supervisor can take over if this
 * one dies) and reaping, which only the keeper, the modules' parent, can
 * do.  The keeper is trusted (it is our own parent, never a module): a
 * request waits for its answer, at most KEEPER_MS. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keeper.h"
#include "log.h"
#include "sv-internal.h"

#define KEEPER_MS 2000

static int send_msg(int sock, const struct keep_msg *m, const int *fds, unsigned nfds)
{
    union { char buf[CMSG_SPACE(KEEP_BATCH * sizeof(int))]; struct cmsghdr align; } u;
    struct iovec iov = { (void *)m, sizeof(*m) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (nfds) {
        memset(u.buf, 0, sizeof(u.buf)); /* the header's padding goes out too */
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* The checkpoint the keeper holds, as sent: while nothing happens, the
 * periodic one would send it the same bytes and the same fds (hundreds,
 * which it then closes) every CHECKPOINT_MS, and wake it for that. */
static struct {
    char *text;
    size_t len;
    int fds[KEEP_MAX_FDS];
    unsigned nfds;
} held;

static char *read_state(int fd, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size <= 0)
        return NULL;
    char *text = malloc((size_t)st.st_size);
    if (text && pread(fd, text, (size_t)st.st_size, 0) != st.st_size) {
        free(text);
        return NULL;
    }
    *len = (size_t)st.st_size;
    return text;
}

/* The same fd numbers name the same files: a supervisor replaces an fd
 * only in a turn that marks it dirty or checkpoints at once (a module
 * started or reaped, a channel made or closed), and such a change also
 * shows in the state's text. */
static bool held_already(const char *text, size_t len, const int *fds, unsigned n)
{
    return held.text && len == held.len && n == held.nfds && memcmp(text, held.text, len) == 0 &&
           memcmp(fds, held.fds, n * sizeof(int)) == 0;
}

/* text: taken (NULL: nothing known held). */
static void hold(char *text, size_t len, const int *fds, unsigned n)
{
    free(held.text);
    held.text = text;
    held.len = len;
    held.nfds = n;
    if (n)
        memcpy(held.fds, fds, n * sizeof(int));
}

static int send_checkpoint(struct sv *s, const int *fds, unsigned n)
{
    struct keep_msg m = { .kind = KEEP_BEGIN, .n = (int32_t)n };
    int r = send_msg(s->keeper, &m, NULL, 0);
    for (unsigned at = 0; r == 0 && at < n; at += KEEP_BATCH) {
        unsigned batch = n - at < KEEP_BATCH ? n - at : KEEP_BATCH;
        m = (struct keep_msg){ .kind = KEEP_FDS, .n = (int32_t)batch };
        memcpy(m.num, fds + at, batch * sizeof(int));
        r = send_msg(s->keeper, &m, fds + at, batch);
    }
    if (r == 0)
        r = send_msg(s->keeper, &(struct keep_msg){ .kind = KEEP_COMMIT }, NULL, 0);
    return r;
}

static int checkpoint(struct sv *s, bool unless_held)
{
    static int fds[KEEP_MAX_FDS];
    int state, r = sv_state_save(s, &state);
    if (r < 0)
        return r;
    fds[0] = state;
    unsigned n = 1 + sv_state_fds(s, fds + 1, KEEP_MAX_FDS - 1);
    size_t len = 0;
    char *text = read_state(state, &len); /* NULL: sent, and nothing known held */
    if (unless_held && text && held_already(text, len, fds + 1, n - 1)) {
        free(text);
        close(state);
        return 1;
    }
    r = send_checkpoint(s, fds, n);
    if (r < 0) { /* the keeper may hold half of it: the next one is sent */
        free(text);
        text = NULL;
    }
    hold(text, len, fds + 1, n - 1);
    close(state);
    return r;
}

int sv_keeper_checkpoint(struct sv *s)
{
    return checkpoint(s, false);
}

int sv_keeper_checkpoint_idle(struct sv *s)
{
    return checkpoint(s, true);
}

int sv_keeper_reap(const struct sv *s, pid_t pid, bool nohang, siginfo_t *si)
{
    struct keep_msg m = { .kind = KEEP_REAP, .pid = pid, .flag = nohang };
    int r = send_msg(s->keeper, &m, NULL, 0);
    struct pollfd p = { .fd = s->keeper, .events = POLLIN };
    while (r == 0) {
        if (poll(&p, 1, KEEPER_MS) <= 0)
            return -ETIMEDOUT;
        ssize_t n = recv(s->keeper, &m, sizeof(m), 0);
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        if (m.kind != KEEP_STATUS || m.pid != pid)
            continue;
        if (m.flag < 0)
            return m.flag;
        memset(si, 0, sizeof(*si));
        si->si_pid = m.flag ? pid : 0;
        si->si_code = m.code;
        si->si_status = m.status;
        return 0;
    }
    return r;
}
