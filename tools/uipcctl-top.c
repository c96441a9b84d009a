/* SPDX-License-Identifier: MIT */
/* uipcctl top's side that touches the OS: snapshots (a status and a stats
 * request, and /proc for each module's pid), the terminal (its size, its
 * mode, keys) and the loop that draws a frame each interval.  What a frame
 * says is top-view.c's and top-layout.c's, which do no I/O.
 *
 * Plain ANSI escapes, not ncurses: a frame is whole lines of text, already
 * cut to the width, drawn from the top left, so all it takes is "home",
 * "clear to end of line", "clear below", the alternate screen and the
 * cursor's visibility, which every terminal since the VT100 (and tmux)
 * understands; ncurses would add a library, terminfo lookups and its own
 * idea of the terminal's state to restore, for none of its strengths. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "top-view.h"
#include "uipcctl.h"

#define TOP_DEFAULT_INTERVAL_MS 1000
#define ESC_ENTER "\x1b[?1049h\x1b[?25l" /* the alternate screen, no cursor */
#define ESC_LEAVE "\x1b[?25h\x1b[?1049l" /* the cursor back, the screen as it was */

/* One snapshot: the two replies (which own every string the rows show)
 * and what top-view.c reads from them. */
struct snapshot {
    Uipc__Control__Reply *status, *stats;
    struct top_mod_snap *mods;
    struct top_chan_snap *chans;
    struct top_snap s;
};

/* The loop's state. */
struct view {
    const struct ctl_args *a;
    unsigned interval_ms;
    bool tty;             /* stdout is a terminal: escapes, fitted to it */
    bool keys;            /* stdin is a terminal we read keys from */
    struct top_host host;
    struct top_rows rows; /* the last frame's, for a redraw when resized */
    char why[300];        /* why it stopped, said once the terminal is back */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the terminal: its mode is restored on every way out ---- */

static struct termios saved_mode;
static volatile sig_atomic_t entered, keys_raw, resized;

/* Async-signal-safe: write() and tcsetattr() only. */
static void term_leave(void)
{
    if (keys_raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_mode);
    if (entered && write(STDOUT_FILENO, ESC_LEAVE, sizeof(ESC_LEAVE) - 1) < 0) {
        /* nothing more to do on the way out */
    }
    keys_raw = entered = 0;
}

/* SIGINT, SIGTERM, SIGHUP: the terminal back, then die of the signal as
 * if we had not caught it (the shell sees how we ended). */
static void on_fatal(int sig)
{
    term_leave();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_winch(int sig)
{
    (void)sig;
    resized = 1;
}

/* Handlers without SA_RESTART: a resize wakes the wait up to redraw. */
static void catch_signals(void)
{
    static const int fatal[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
    struct sigaction sa = { .sa_handler = on_fatal };
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
        sigaction(fatal[i], &sa, NULL);
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, NULL);
}

/* Keys one at a time without echo (ISIG stays: ^C is SIGINT, caught). */
static void term_enter(struct view *v)
{
    catch_signals();
    struct termios t;
    if (v->keys && tcgetattr(STDIN_FILENO, &saved_mode) == 0) {
        t = saved_mode;
        t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        keys_raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
    }
    v->keys = keys_raw;
    fputs(ESC_ENTER, stdout);
    fflush(stdout);
    entered = 1;
}

static void term_size(unsigned *width, unsigned *height)
{
    struct winsize ws;
    bool ok = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row;
    *width = ok ? ws.ws_col : 80;
    *height = ok ? ws.ws_row : 24;
}

enum wait_end { WAIT_DUE, WAIT_QUIT, WAIT_RESIZED };

/* Until deadline, or a 'q', or a resize.  A stdin that ends or fails is
 * no longer read (a closed one would be readable for ever). */
static enum wait_end wait_keys(struct view *v, uint64_t deadline)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline)
            return WAIT_DUE;
        struct pollfd p = { .fd = v->keys ? STDIN_FILENO : -1, .events = POLLIN };
        uint64_t left = deadline - now;
        int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0 && errno == EINTR && resized) {
            resized = 0;
            return WAIT_RESIZED;
        }
        if (r <= 0)
            continue;
        char c;
        ssize_t n = read(STDIN_FILENO, &c, 1);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            v->keys = false;
        if (n == 1 && (c == 'q' || c == 'Q'))
            return WAIT_QUIT;
    }
}

/* ---- snapshots ---- */

/* path's text into buf (cut to its size); 0 or -errno. */
static int read_text(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, cap - 1);
    int err = n < 0 ? -errno : 0;
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return err;
}

/* pid's CPU time and resident set; p->ok false when /proc would not say
 * (gone, another pid namespace, hidepid).  With a pid namespace, pid is
 * its init, whose children's time counts only once they are reaped. */
static void read_proc(int32_t pid, struct top_proc *p)
{
    char path[64], text[1024];
    *p = (struct top_proc){ .ok = false };
    if (pid <= 0)
        return;
    snprintf(path, sizeof(path), "/proc/%" PRId32 "/stat", pid);
    if (read_text(path, text, sizeof(text)) < 0 || top_parse_stat(text, p) < 0)
        return;
    snprintf(path, sizeof(path), "/proc/%" PRId32 "/statm", pid);
    if (read_text(path, text, sizeof(text)) < 0 || top_parse_statm(text, p) < 0)
        return;
    p->ok = true;
}

static void snap_free(struct snapshot *sn)
{
    if (sn->status)
        protobuf_c_message_free_unpacked(&sn->status->base, NULL);
    if (sn->stats)
        protobuf_c_message_free_unpacked(&sn->stats->base, NULL);
    free(sn->mods);
    free(sn->chans);
    *sn = (struct snapshot){ 0 };
}

/* One request; 0, or 1 with v->why said. */
static int ask(struct view *v, const Uipc__Control__Request *req, Uipc__Control__Reply **rep)
{
    /* Quiet: what went wrong is said once the terminal is back. */
    if (ctl_exchange_quiet(v->a->path, req, v->a->timeout_ms, rep)) {
        snprintf(v->why, sizeof(v->why), "uipcctl: top: no reply from the supervisor at %s: it went away",
                 v->a->path);
        return 1;
    }
    if (!(*rep)->ok) {
        snprintf(v->why, sizeof(v->why), "uipcctl: top: the supervisor refused: %s",
                 *ctl_str((*rep)->error) ? (*rep)->error : "no reason given");
        return 1;
    }
    return 0;
}

static void mod_snap(const Uipc__Control__ModuleStatus *m, struct top_mod_snap *s)
{
    *s = (struct top_mod_snap){ .name = ctl_str(m->name), .state = ctl_str(m->state), .pid = m->pid,
                                .uptime_ms = m->uptime_ms, .restarts = m->restarts };
    read_proc(m->pid, &s->proc);
}

static void chan_snap(const Uipc__Control__ChannelStats *c, struct top_chan_snap *s)
{
    *s = (struct top_chan_snap){ .service = ctl_str(c->service), .client = ctl_str(c->client),
                                 .server = ctl_str(c->server), .calls = c->calls,
                                 .errors = c->peer_died + c->timed_out + c->proto + c->bad_status,
                                 .in_flight = c->in_flight, .le = c->latency_bucket_le_ns,
                                 .count = c->latency_bucket_count,
                                 /* parallel arrays: a reply that disagrees gets the shorter */
                                 .nbuckets = c->n_latency_bucket_le_ns < c->n_latency_bucket_count
                                                 ? c->n_latency_bucket_le_ns
                                                 : c->n_latency_bucket_count };
}

/* Status, /proc, stats: the two requests of a frame.  0, or 1 with
 * v->why said. */
static int take(struct view *v, struct snapshot *sn)
{
    static Uipc__Control__StatusRequest status = UIPC__CONTROL__STATUS_REQUEST__INIT;
    static Uipc__Control__StatsRequest stats = UIPC__CONTROL__STATS_REQUEST__INIT;
    Uipc__Control__Request req = UIPC__CONTROL__REQUEST__INIT;
    req.command_case = UIPC__CONTROL__REQUEST__COMMAND_STATUS;
    req.status = &status;
    if (ask(v, &req, &sn->status))
        return 1;
    req = (Uipc__Control__Request)UIPC__CONTROL__REQUEST__INIT;
    req.command_case = UIPC__CONTROL__REQUEST__COMMAND_STATS;
    req.stats = &stats;
    if (ask(v, &req, &sn->stats))
        return 1;
    size_t nm = sn->status->n_modules, nc = sn->stats->n_channels;
    sn->mods = calloc(nm ? nm : 1, sizeof(*sn->mods));
    sn->chans = calloc(nc ? nc : 1, sizeof(*sn->chans));
    if (!sn->mods || !sn->chans) {
        snprintf(v->why, sizeof(v->why), "uipcctl: top: %s", strerror(ENOMEM));
        return 1;
    }
    for (size_t i = 0; i < nm; i++)
        mod_snap(sn->status->modules[i], &sn->mods[i]);
    for (size_t i = 0; i < nc; i++)
        chan_snap(sn->stats->channels[i], &sn->chans[i]);
    sn->s = (struct top_snap){ .at_ms = now_ms(), .mods = sn->mods, .nmods = nm,
                               .chans = sn->chans, .nchans = nc };
    return 0;
}

/* ---- frames ---- */

/* text's lines from the top left, each line's rest and the screen below
 * cleared: no flicker, and nothing written past the last line, which
 * would scroll. */
static void put_screen(const char *text, unsigned width)
{
    fputs("\x1b[H", stdout);
    for (const char *l = text; *l;) {
        size_t n = strcspn(l, "\n");
        fwrite(l, 1, n, stdout);
        if (n < width)
            fputs("\x1b[K", stdout);
        l += n + (l[n] == '\n');
        if (*l)
            fputs("\r\n", stdout);
    }
    fputs("\x1b[J", stdout);
}

/* v->rows as a frame; 0, or 1 with v->why said. */
static int draw(struct view *v)
{
    unsigned width = 0, height = 0;
    char title[400], clock[16] = "";
    time_t t = time(NULL);
    struct tm tm;
    if (localtime_r(&t, &tm))
        strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
    snprintf(title, sizeof(title), "uipcctl top  %s  every %u ms  %zu modules  %zu channels%s", clock,
             v->interval_ms, v->rows.nmods, v->rows.nchans, v->keys ? "  (q quits)" : "");
    if (v->tty)
        term_size(&width, &height);
    char *text = top_render(&v->rows, title, width, height);
    if (!text) {
        snprintf(v->why, sizeof(v->why), "uipcctl: top: %s", strerror(ENOMEM));
        return 1;
    }
    if (v->tty)
        put_screen(text, width);
    else
        printf("%s\n", text); /* frames a blank line apart */
    free(text);
    if (fflush(stdout) == EOF) {
        snprintf(v->why, sizeof(v->why), "uipcctl: top: cannot write: %s", strerror(errno));
        return 1;
    }
    return 0;
}

/* The rows of cur over prev (NULL: rates unknown) into v, then drawn. */
static int show(struct view *v, const struct snapshot *cur, const struct snapshot *prev)
{
    free(v->rows.mods);
    free(v->rows.chans);
    v->rows.mods = calloc(cur->s.nmods ? cur->s.nmods : 1, sizeof(*v->rows.mods));
    v->rows.chans = calloc(cur->s.nchans ? cur->s.nchans : 1, sizeof(*v->rows.chans));
    v->rows.nmods = v->rows.nchans = 0;
    if (!v->rows.mods || !v->rows.chans) {
        snprintf(v->why, sizeof(v->why), "uipcctl: top: %s", strerror(ENOMEM));
        return 1;
    }
    top_rows(&cur->s, prev ? &prev->s : NULL, &v->host, &v->rows);
    return draw(v);
}

/* Frames until --count, a 'q', or the supervisor goes; *prev is the
 * first snapshot.  0, or 1 with v->why said. */
static int frames(struct view *v, struct snapshot *prev)
{
    uint64_t next = prev->s.at_ms;
    unsigned count = v->a->top_count;
    for (unsigned done = 0; count == 0 || done < count; done++) {
        enum wait_end w;
        next += v->interval_ms;
        while ((w = wait_keys(v, next)) == WAIT_RESIZED)
            if (draw(v))
                return 1;
        if (w == WAIT_QUIT)
            return 0;
        struct snapshot cur = { 0 };
        int r = take(v, &cur);
        if (r == 0)
            r = show(v, &cur, prev);
        snap_free(prev);
        *prev = cur;
        if (r)
            return r;
        uint64_t now = now_ms();
        if (next < now) /* a slow reply: the next interval starts now, no catching up */
            next = now;
    }
    return 0;
}

int ctl_check_top(struct ctl_args *a, struct ctl_operands *op)
{
    (void)op;
    if (a->json)
        return ctl_bad_usage("%s", "top draws a live view, not JSON (no --json): "
                                   "stats --json and status --json give the counts");
    return 0;
}

/* The table's first status request only showed the supervisor answers:
 * each frame asks for its own. */
int ctl_top(const struct ctl_args *a, const Uipc__Control__Reply *rep)
{
    (void)rep;
    struct view v = { .a = a,
                      .interval_ms = a->top_interval_ms ? a->top_interval_ms : TOP_DEFAULT_INTERVAL_MS,
                      .tty = isatty(STDOUT_FILENO),
                      .host = { .clk_tck = sysconf(_SC_CLK_TCK), .page_size = sysconf(_SC_PAGESIZE) } };
    v.keys = v.tty && isatty(STDIN_FILENO);
    struct snapshot first = { 0 };
    int code = take(&v, &first);
    if (code == 0 && v.tty) {
        term_enter(&v);
        code = show(&v, &first, NULL); /* what is known before an interval has passed */
    }
    if (code == 0)
        code = frames(&v, &first);
    term_leave();
    snap_free(&first);
    free(v.rows.mods);
    free(v.rows.chans);
    if (code)
        fprintf(stderr, "%s\n", v.why);
    return code;
}
