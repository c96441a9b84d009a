/* SPDX-License-Identifier: MIT */
/* A module that misbehaves on purpose, for tests/integration/test-badday.c.
 * argv[1] chooses how:
 *
 *   fork N [escape|daemon]
 *                     forks N children that sleep forever (they inherit the
 *                     module's mappings and its output pipe), prints
 *                     "fork: child PID" for each, then serves normally;
 *                     with escape each child first makes a session of its
 *                     own (setsid), out of the module's process group;
 *                     with daemon each child forks again and exits at once
 *                     (reaped by the module), leaving an orphan in a
 *                     session of its own while the module lives, which
 *                     prints "fork: child PID" itself
 *   forkbomb [CAP]    forks in a loop until fork fails (run it under
 *                     rlimits = nproc=... as a user other than root: root
 *                     is not bound by RLIMIT_NPROC); stops at CAP (default
 *                     1000) children whatever happens, as a safety net;
 *                     then serves normally
 *   exit              exits at once with status 1
 *   ignore-term       ignores SIGTERM and SIGINT, and the supervisor's stop
 *                     request: it keeps polling and beating
 *   flood-ctl PATH [SECONDS [DELAY_MS|usr1]]
 *                     after DELAY_MS (default 0), or once it gets SIGUSR1
 *                     with usr1, connects to the control
 *                     socket PATH as fast as it can for SECONDS (default:
 *                     forever), with garbage, oversized, half-written and
 *                     pipelined frames, never reading, keeping as many
 *                     connections open as it can; then closes them all,
 *                     prints "flood: stopped" and serves normally
 *
 * The children it forks and the lines it prints are for the test to check
 * (the supervisor logs them as "NAME: line"). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uipc/module.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* A forked child: sleeps forever, holding everything it inherited (the
 * channel mappings, the output pipe).  Never returns, never runs exit
 * handlers. */
static _Noreturn void sleep_forever(int escape)
{
    if (escape && setsid() < 0)
        printf("fork: setsid: %s\n", strerror(errno));
    prctl(PR_SET_NAME, "bad-child", 0, 0, 0);
    for (;;)
        pause();
}

/* ---- fork N, forkbomb ---- */

static int do_fork(uipc_module *m, long n, const char *how)
{
    int escape = how && strcmp(how, "escape") == 0, daemon = how && strcmp(how, "daemon") == 0;
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            printf("fork: fork %ld failed: %s\n", i + 1, strerror(errno));
            return 1;
        }
        if (pid == 0 && daemon) {
            pid_t orphan = fork();
            if (orphan != 0)
                _exit(orphan < 0); /* the middle one ends at once */
            printf("fork: child %d\n", (int)getpid()); /* line-buffered: out now */
            sleep_forever(1);
        }
        if (pid == 0)
            sleep_forever(escape);
        if (daemon)
            waitpid(pid, NULL, 0); /* as a daemon's parent does */
        else
            printf("fork: child %d\n", (int)pid);
    }
    printf("fork: %ld children\n", n);
    return uipc_run(m) < 0 ? 1 : 0;
}

static int do_forkbomb(uipc_module *m, long cap)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NPROC, &rl) == 0)
        printf("forkbomb: uid %d, nproc limit %lld\n", (int)getuid(),
               rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur);
    long n = 0;
    int err = 0;
    while (n < cap) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0)
            sleep_forever(0);
        n++;
    }
    if (err)
        printf("forkbomb: forked %ld, then fork failed: %s\n", n, strerrorname_np(err));
    else
        printf("forkbomb: forked %ld, the safety cap: fork never failed\n", n);
    int rc = uipc_run(m) < 0 ? 1 : 0;
    /* Out now, without exit handlers: under LeakSanitizer the leak check
     * at exit needs a thread of its own, which nproc no longer allows. */
    uipc_module_close(m);
    fflush(stdout);
    _exit(rc);
}

/* ---- ignore-term ---- */

static _Noreturn int do_ignore_term(uipc_module *m)
{
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    printf("ignore-term: ignoring SIGTERM, SIGINT and stop requests\n");
    int told = 0;
    for (;;) {
        int r = uipc_poll(m, 50);
        if (r == -UIPC_ESTOPPED) {
            if (!told++)
                printf("ignore-term: asked to stop; not stopping\n");
            uipc_alive(m);
            sleep_ms(20);
        } else if (r < 0) {
            printf("ignore-term: uipc_poll: %s\n", uipc_strerror(r));
            sleep_ms(20);
        }
    }
}

/* ---- flood-ctl ---- */

enum { FLOOD_MAX = 1024 };

struct flood {
    struct sockaddr_un sa;
    int fd[FLOOD_MAX];
    unsigned nfd, kind;
    unsigned long connects, refused_connect, closed_by_peer, sent_bytes;
    unsigned max_open;
};

static void put_len(uint8_t *p, uint32_t len)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(len >> (8 * i));
}

/* Writes what the socket takes now, never waiting. */
static void send_some(struct flood *f, int fd, const void *buf, size_t len)
{
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0)
        f->sent_bytes += (unsigned long)n;
}

/* One new connection's misbehaviour, in turn. */
static void misbehave(struct flood *f, int fd)
{
    static uint8_t big[65536];
    uint8_t buf[64];
    switch (f->kind++ % 7) {
    case 0: /* a frame whose body is garbage */
        put_len(buf, 16);
        memset(buf + 4, 0xff, 16);
        send_some(f, fd, buf, 20);
        break;
    case 1: /* a header announcing 4 GiB - 1 */
        put_len(buf, 0xFFFFFFFFu);
        send_some(f, fd, buf, 4);
        break;
    case 2: /* a header announcing 1 MiB + 1 */
        put_len(buf, (1u << 20) + 1);
        send_some(f, fd, buf, 4);
        break;
    case 3: /* half a header */
        send_some(f, fd, "\x10\x00", 2);
        break;
    case 4: /* a 1 MiB frame begun, a little of it sent */
        put_len(buf, 1u << 20);
        memset(buf + 4, 0xab, 40);
        send_some(f, fd, buf, 44);
        break;
    case 5: /* valid status requests back to back, the replies never read,
             * then as much of a 1 MiB frame as the socket takes */
        for (int k = 0; k < 200; k++) {
            static const uint8_t status[] = { 2, 0, 0, 0, 0x0a, 0x00 };
            send_some(f, fd, status, sizeof(status));
        }
        put_len(big, 1u << 20);
        send_some(f, fd, big, sizeof(big));
        break;
    case 6: /* nothing at all */
        break;
    }
}

static int dial_nonblock(struct flood *f)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&f->sa, sizeof(f->sa)) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Drops the connections the supervisor closed (never reading what it
 * sent), so that new ones can take their place. */
static void reap_closed(struct flood *f)
{
    struct pollfd p[FLOOD_MAX];
    for (unsigned i = 0; i < f->nfd; i++)
        p[i] = (struct pollfd){ .fd = f->fd[i], .events = POLLRDHUP };
    if (poll(p, f->nfd, 0) <= 0)
        return;
    unsigned j = 0;
    for (unsigned i = 0; i < f->nfd; i++) {
        if (p[i].revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)) {
            close(f->fd[i]);
            f->closed_by_peer++;
        } else {
            f->fd[j++] = f->fd[i];
        }
    }
    f->nfd = j;
}

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
    (void)sig;
    go = 1;
}

static int do_flood(uipc_module *m, const char *path, double seconds, const char *when)
{
    static struct flood f;
    f.sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(f.sa.sun_path))
        return 1;
    memcpy(f.sa.sun_path, path, strlen(path) + 1);
    /* as many descriptors as the limit allows, up to FLOOD_MAX */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < FLOOD_MAX + 64 && rl.rlim_max > rl.rlim_cur) {
        rl.rlim_cur = rl.rlim_max < FLOOD_MAX + 64 ? rl.rlim_max : FLOOD_MAX + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (when && strcmp(when, "usr1") == 0) {
        signal(SIGUSR1, on_usr1);
        printf("flood: waiting for SIGUSR1\n");
        while (!go)
            if (uipc_poll(m, 10) == -UIPC_ESTOPPED)
                return 0;
    } else {
        uint64_t until = now_ms() + (when ? (unsigned)atoi(when) : 0);
        while (now_ms() < until)
            if (uipc_poll(m, 10) == -UIPC_ESTOPPED)
                return 0;
    }
    uint64_t start = now_ms();
    printf("flood: flooding %s\n", path);
    uint64_t end = seconds > 0 ? start + (uint64_t)(seconds * 1000) : UINT64_MAX, report = start + 1000;
    int stopped = 0;
    while (now_ms() < end) {
        if (uipc_poll(m, 0) == -UIPC_ESTOPPED) {
            stopped = 1;
            break;
        }
        reap_closed(&f);
        /* as many new ones as the backlog and our limits take */
        for (int k = 0; k < 64 && f.nfd < FLOOD_MAX; k++) {
            int fd = dial_nonblock(&f);
            if (fd < 0) {
                f.refused_connect++;
                break;
            }
            f.connects++;
            f.fd[f.nfd++] = fd;
            misbehave(&f, fd);
        }
        if (f.nfd > f.max_open)
            f.max_open = f.nfd;
        if (now_ms() >= report) {
            report += 1000;
            printf("flood: %lu connects, %lu connects refused, %lu closed by the supervisor, "
                   "%u open now, %u at most\n", f.connects, f.refused_connect, f.closed_by_peer,
                   f.nfd, f.max_open);
        }
        if (f.nfd == FLOOD_MAX)
            sleep_ms(1); /* full: wait for the supervisor to close some */
    }
    for (unsigned i = 0; i < f.nfd; i++)
        close(f.fd[i]);
    printf("flood: stopped after %lu connects (%lu closed by the supervisor, %u open at most)\n",
           f.connects, f.closed_by_peer, f.max_open);
    if (stopped)
        return 0;
    return uipc_run(m) < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    uipc_module *m;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: bad-module fork N [escape|daemon] | forkbomb [CAP] | exit | ignore-term | "
                        "flood-ctl PATH [SECONDS [DELAY_MS|usr1]]\n");
        return 2;
    }
    const char *what = argv[1];
    if (strcmp(what, "exit") == 0)
        return 1;
    int err = uipc_module_open(&m);
    if (err < 0) {
        fprintf(stderr, "bad-module: uipc_module_open: %s\n", uipc_strerror(err));
        return 1;
    }
    int rc = 2;
    if (strcmp(what, "fork") == 0 && argc >= 3)
        rc = do_fork(m, atol(argv[2]), argc >= 4 ? argv[3] : NULL);
    else if (strcmp(what, "forkbomb") == 0)
        rc = do_forkbomb(m, argc >= 3 ? atol(argv[2]) : 1000);
    else if (strcmp(what, "ignore-term") == 0)
        rc = do_ignore_term(m);
    else if (strcmp(what, "flood-ctl") == 0 && argc >= 3)
        rc = do_flood(m, argv[2], argc >= 4 ? atof(argv[3]) : 0, argc >= 5 ? argv[4] : NULL);
    else
        fprintf(stderr, "bad-module: unknown behaviour '%s'\n", what);
    uipc_module_close(m);
    return rc;
}
