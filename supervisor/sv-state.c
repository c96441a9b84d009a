/* SPDX-License-Identifier: MIT */
/* The supervisor's view, written for the next binary to read (reexec):
 * which processes are which modules, their fds, their lifecycles and
 * counters, the channels with their fds, geometry and totals.  Text, one
 * record per line, "key=value" words, strings percent-encoded; the first
 * line names the format's version (SV_STATE_VERSION), and a binary that
 * reads another version refuses it.
 *
 * Nothing here comes from a module: the file is written by this process
 * for its own next image.  A channel's geometry is taken from the file,
 * not from the region's header, which either end can rewrite. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "sv-internal.h"

/* ---- writing ---- */

static void put_str(FILE *f, const char *key, const char *v)
{
    fprintf(f, " %s=", key);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p > ' ' && *p < 0x7f && *p != '%')
            fputc(*p, f);
        else
            fprintf(f, "%%%02x", *p);
    fputs(*v ? "" : "%00", f);
}

static char *put_u64(char *p, uint64_t v)
{
    char digits[20];
    unsigned n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        *p++ = digits[--n];
    return p;
}

/* Lists are most of the file (160 latency buckets per channel), and the
 * file is written every second even when nothing happens (CHECKPOINT_MS):
 * the digits are made here and written a buffer at a time, where one
 * fprintf per number cost a busy-looking supervisor ~1 ms a second with
 * 100 channels.  The bytes are the same as "%" PRIu64 gives. */
static void put_list(FILE *f, const char *key, const uint64_t *v, unsigned n)
{
    char buf[512], *p = buf;
    fprintf(f, " %s=", key);
    for (unsigned k = 0; k < n; k++) {
        if (p > buf + sizeof(buf) - 22) { /* room for ',' and 20 digits */
            fwrite(buf, 1, (size_t)(p - buf), f);
            p = buf;
        }
        if (k)
            *p++ = ',';
        p = put_u64(p, v[k]);
    }
    if (!n)
        *p++ = '-';
    fwrite(buf, 1, (size_t)(p - buf), f);
}

static void put_module(FILE *f, unsigned i, const struct sv_mod *m)
{
    fprintf(f, "mod slot=%u pid=%d pidfd=%d out=%d listener=%d status=%d own=%d gone=%d rx=%d ring=%d ctl=%d bound=%d",
            i, (int)m->ch.pid, m->ch.pidfd, m->ch.out, m->ch.listener, m->ch.status, m->ch.own_pidfd, m->gone,
            m->bell.rx, m->ring, m->ctl_fd, m->bell.bound);
    put_str(f, "name", m->cf->name);
    put_str(f, "belldir", m->bell.dir);
    fprintf(f, " state=%d want=%d deadline=%" PRIu64 " since=%" PRIu64 " cap=%u ndeaths=%u", m->lc.state, m->lc.want,
            m->lc.deadline_ms, m->lc.since_ms, m->lc.cap, m->lc.ndeaths);
    put_str(f, "reason", m->lc.reason);
    /* Only the ring's used part: the rest is zero, as the reader's calloc
     * leaves it.  A ring of max_restarts + 1 written whole made every
     * checkpoint cost ~5 ms with max_restarts = 100000. */
    put_list(f, "deaths", m->lc.deaths, m->lc.ndeaths < m->lc.cap ? m->lc.ndeaths : m->lc.cap);
    fprintf(f, " starts=%u violations=%u epoch=%" PRIu32 " reports=%u uid=%u beat=%u ns=%d", m->starts, m->violations,
            m->epoch, m->protocol_reports, (unsigned)m->run_uid, m->run_beat_ms, m->run_ns);
    put_str(f, "last_exit", m->last_exit);
    put_str(f, "last_reason", m->last_reason);
    put_list(f, "exits", m->exits, SV_EXIT_KINDS);
    uint64_t vnr[SV_VIOL_NAMES], vn[SV_VIOL_NAMES];
    for (unsigned k = 0; k < m->nviol; k++) {
        vnr[k] = (uint64_t)(int64_t)m->viol[k].nr;
        vn[k] = m->viol[k].n;
    }
    put_list(f, "vnr", vnr, m->nviol);
    put_list(f, "vn", vn, m->nviol);
    fputc('\n', f);
}

static void put_channel(FILE *f, const struct sv_chan *ch)
{
    const struct sv_counts *p = &ch->past;
    fprintf(f, "chan client=%d server=%d fd=%d rs=%d rc=%d is=%u ic=%u slots=%" PRIu32 " size=%" PRIu32
               " reclaimed=%" PRIu64 " resetting=%d violations=%u",
            ch->client, ch->server, ch->fd, ch->ring[UIPC_SERVER], ch->ring[UIPC_CLIENT], ch->idx[UIPC_SERVER],
            ch->idx[UIPC_CLIENT], ch->r.slots, ch->r.slot_size, ch->reclaimed, ch->resetting, ch->violations);
    put_str(f, "service", ch->r.service);
    uint64_t past[] = { p->issued,     p->ok,       p->peer_died, p->timed_out, p->proto,
                        p->duplicates, p->orphaned, p->bad_status, p->lat_sum_ns };
    put_list(f, "past", past, sizeof(past) / sizeof(past[0]));
    put_list(f, "lat", p->lat, UIPC_LAT_BUCKETS);
    fputc('\n', f);
}

/* The next supervisor's first epoch is this far ahead of ours: epochs
 * this one stamped after the state was written (a start it had no time to
 * checkpoint) are never stamped again. */
#define SV_STATE_EPOCH_SLACK 1024u

int sv_state_save(const struct sv *s, int *out)
{
    int fd = memfd_create("uipc-state", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(dup(fd), "w");
    if (!f) {
        close(fd);
        return -errno;
    }
    fprintf(f, "uipc-state %d\n", SV_STATE_VERSION);
    fprintf(f, "sv generation=%u next_epoch=%" PRIu32 " draining=%d told_ready=%d ctl=%d metrics=%d conf=%016" PRIx64
               "\n",
            s->generation, s->next_epoch + SV_STATE_EPOCH_SLACK, s->draining, s->told_ready, ctl_listener(s->ctl),
            s->metrics ? ctl_listener(s->metrics) : -1, s->conf_hash);
    for (unsigned i = 0; i < s->nmod; i++)
        if (s->mod[i].cf)
            put_module(f, i, &s->mod[i]);
    for (unsigned k = 0; k < s->nchan; k++)
        put_channel(f, &s->chan[k]);
    fputs("end\n", f);
    if (fclose(f) != 0 || lseek(fd, 0, SEEK_SET) != 0) { /* the dup shared the offset */
        close(fd);
        return -EIO;
    }
    *out = fd;
    return 0;
}

unsigned sv_state_fds(const struct sv *s, int *out, unsigned max)
{
    unsigned n = 0;
#define PUT(fd) do { if ((fd) >= 0 && n < max) out[n++] = (fd); } while (0)
    PUT(ctl_listener(s->ctl));
    if (s->metrics)
        PUT(ctl_listener(s->metrics));
    for (unsigned i = 0; i < s->nmod; i++) {
        const struct sv_mod *m = &s->mod[i];
        if (!m->cf)
            continue;
        PUT(m->ch.pidfd);
        PUT(m->ch.out);
        PUT(m->ch.listener);
        PUT(m->ch.status);
        PUT(m->ch.own_pidfd);
        PUT(m->bell.rx);
        PUT(m->ring);
        PUT(m->ctl_fd);
    }
    for (unsigned k = 0; k < s->nchan; k++) {
        PUT(s->chan[k].fd);
        PUT(s->chan[k].ring[UIPC_SERVER]);
        PUT(s->chan[k].ring[UIPC_CLIENT]);
    }
#undef PUT
    return n;
}

/* ---- reading ---- */

struct words {
    char *key[64], *val[64];
    unsigned n;
};

/* Splits a line into key=value words, values decoded in place. */
static void split(char *line, struct words *w)
{
    w->n = 0;
    for (char *tok = strtok(line, " \n"); tok && w->n < 64; tok = strtok(NULL, " \n")) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *v = eq + 1, *o = v;
        for (char *p = v; *p; p++) {
            unsigned x;
            if (*p == '%' && sscanf(p + 1, "%2x", &x) == 1) {
                *o++ = (char)x;
                p += 2;
            } else {
                *o++ = *p;
            }
        }
        *o = '\0';
        w->key[w->n] = tok;
        w->val[w->n++] = v;
    }
}

static const char *get(const struct words *w, const char *key)
{
    for (unsigned k = 0; k < w->n; k++)
        if (strcmp(w->key[k], key) == 0)
            return w->val[k];
    return "";
}

static long long num(const struct words *w, const char *key)
{
    return strtoll(get(w, key), NULL, 0);
}

static uint64_t unum(const struct words *w, const char *key)
{
    return strtoull(get(w, key), NULL, 0);
}

static unsigned get_list(const struct words *w, const char *key, uint64_t *v, unsigned max)
{
    unsigned n = 0;
    for (const char *p = get(w, key); *p && *p != '-' && n < max; n++) {
        char *end;
        v[n] = strtoull(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

static int restore_module(struct sv *s, const struct words *w, char *err, size_t len)
{
    unsigned i = (unsigned)num(w, "slot");
    int j = conf_module_index(s->c, get(w, "name"));
    if (i >= SV_MAX_MODULES || j < 0 || s->mod[i].cf) {
        snprintf(err, len, "module %s (slot %u) is not in the configuration", get(w, "name"), i);
        return -EINVAL;
    }
    struct sv_mod *m = &s->mod[i];
    const struct conf_module *cf = &s->c->mod[j];
    m->cf = cf;
    s->nmod = i + 1 > s->nmod ? i + 1 : s->nmod;
    m->ch = (struct sv_child){ (pid_t)num(w, "pid"), (int)num(w, "pidfd"), (int)num(w, "out"),
                               (int)num(w, "listener"), (int)num(w, "status"),
                               *get(w, "own") ? (int)num(w, "own") : -1 }; /* -1: a state from before it */
    m->gone = num(w, "gone") != 0;
    m->spawning = (struct sv_spawning){ .sync = -1, .child_pidfd = -1, .listener_at = -1 };
    m->bell.rx = (int)num(w, "rx");
    m->bell.bound = num(w, "bound") != 0;
    snprintf(m->bell.dir, sizeof(m->bell.dir), "%s", get(w, "belldir"));
    m->ring = (int)num(w, "ring");
    m->ctl_fd = (int)num(w, "ctl");
    int e = uipc__region_map_as(m->ctl_fd, "uipc.control", 1, UIPC_CTL_SLOT_SIZE, &m->ctl);
    uint64_t *deaths = calloc(cf->max_restarts + 1, sizeof(uint64_t));
    if (e < 0 || !deaths) {
        free(deaths);
        snprintf(err, len, "%s: its control region: %s", cf->name, strerror(e < 0 ? -e : ENOMEM));
        return e < 0 ? e : -ENOMEM;
    }
    sv_sandbox_of(m, s->root, &s->userns, false);
    lc_restore(&m->lc, (enum lc_state)num(w, "state"), (enum lc_want)num(w, "want"), unum(w, "deadline"),
               unum(w, "since"), get(w, "reason"), deaths, cf->max_restarts + 1);
    if ((unsigned)num(w, "cap") == m->lc.cap) {
        get_list(w, "deaths", deaths, m->lc.cap);
        m->lc.ndeaths = (unsigned)num(w, "ndeaths");
    }
    m->starts = (unsigned)num(w, "starts");
    m->violations = (unsigned)num(w, "violations");
    m->epoch = (uint32_t)unum(w, "epoch");
    m->protocol_reports = (unsigned)num(w, "reports");
    m->run_uid = (uid_t)num(w, "uid");
    m->run_beat_ms = (unsigned)num(w, "beat");
    m->run_ns = (int)num(w, "ns");
    m->run_pol = cf->pol;
    snprintf(m->last_exit, sizeof(m->last_exit), "%s", get(w, "last_exit"));
    snprintf(m->last_reason, sizeof(m->last_reason), "%s", get(w, "last_reason"));
    get_list(w, "exits", m->exits, SV_EXIT_KINDS);
    uint64_t vnr[SV_VIOL_NAMES], vn[SV_VIOL_NAMES];
    unsigned n = get_list(w, "vnr", vnr, SV_VIOL_NAMES);
    if (get_list(w, "vn", vn, SV_VIOL_NAMES) == n) {
        for (unsigned k = 0; k < n; k++)
            m->viol[k] = (struct sv_viol){ (int)(int64_t)vnr[k], vn[k] };
        m->nviol = n;
    }
    return 0;
}

static int restore_channel(struct sv *s, const struct words *w, char *err, size_t len)
{
    unsigned client = (unsigned)num(w, "client"), server = (unsigned)num(w, "server");
    if (client >= s->nmod || server >= s->nmod || !s->mod[client].cf || !s->mod[server].cf) {
        snprintf(err, len, "channel %s: an end is not a module", get(w, "service"));
        return -EINVAL;
    }
    struct conf_connect cn = { .slots = (uint32_t)unum(w, "slots"), .slot_size = (uint32_t)unum(w, "size") };
    snprintf(cn.service, sizeof(cn.service), "%s", get(w, "service"));
    int e = sv_chan_adopt(s, client, server, &cn, (int)num(w, "fd"),
                          (int[]){ (int)num(w, "rs"), (int)num(w, "rc") });
    if (e < 0) {
        snprintf(err, len, "channel %s: %s", cn.service, strerror(-e));
        return e;
    }
    struct sv_chan *ch = &s->chan[s->nchan - 1];
    ch->idx[UIPC_SERVER] = (unsigned)num(w, "is");
    ch->idx[UIPC_CLIENT] = (unsigned)num(w, "ic");
    ch->reclaimed = unum(w, "reclaimed");
    ch->resetting = num(w, "resetting") != 0;
    ch->violations = (unsigned)num(w, "violations");
    uint64_t past[9] = { 0 }; /* a state from before bad_status and lat_sum_ns has 7 */
    get_list(w, "past", past, 9);
    ch->past = (struct sv_counts){ .issued = past[0], .ok = past[1], .peer_died = past[2], .timed_out = past[3],
                                   .proto = past[4], .duplicates = past[5], .orphaned = past[6],
                                   .bad_status = past[7], .lat_sum_ns = past[8] };
    get_list(w, "lat", ch->past.lat, UIPC_LAT_BUCKETS);
    return 0;
}

int sv_state_restore(struct sv *s, int fd, int *ctl_fd, int *metrics_fd, char *err, size_t len)
{
    /* Read through an open file of our own: fd's offset is shared with the
     * keeper's copy (SCM_RIGHTS passes the same open file), and a reader
     * that moved it, then died, would leave the next one nothing to read. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int own = open(path, O_RDONLY | O_CLOEXEC);
    close(fd);
    FILE *f = own < 0 ? NULL : fdopen(own, "r");
    char *line = NULL;
    size_t cap = 0;
    int r = -EPROTO, version = 0;
    if (!f) {
        int e = errno;
        if (own >= 0)
            close(own);
        snprintf(err, len, "state: %s", strerror(e));
        return -e;
    }
    if (getline(&line, &cap, f) < 0 || sscanf(line, "uipc-state %d", &version) != 1 ||
        version != SV_STATE_VERSION) {
        snprintf(err, len, "state: format %d, this binary reads %d", version, SV_STATE_VERSION);
        goto out;
    }
    snprintf(err, len, "state: no end (cut short)");
    while (getline(&line, &cap, f) > 0) {
        struct words w;
        char kind[8] = "";
        sscanf(line, "%7s", kind);
        if (strcmp(kind, "end") == 0) {
            r = 0;
            break;
        }
        split(line, &w);
        if (strcmp(kind, "sv") == 0) {
            s->generation = (unsigned)num(&w, "generation");
            s->next_epoch = (uint32_t)unum(&w, "next_epoch");
            s->draining = num(&w, "draining") != 0;
            s->told_ready = num(&w, "told_ready") != 0;
            s->conf_hash = strtoull(get(&w, "conf"), NULL, 16);
            *ctl_fd = (int)num(&w, "ctl");
            *metrics_fd = *get(&w, "metrics") ? (int)num(&w, "metrics") : -1; /* not before metrics_socket */
        } else if (strcmp(kind, "mod") == 0 && (r = restore_module(s, &w, err, len)) < 0) {
            goto out;
        } else if (strcmp(kind, "chan") == 0 && (r = restore_channel(s, &w, err, len)) < 0) {
            goto out;
        }
        r = -EPROTO;
    }
out:
    free(line);
    fclose(f);
    return r;
}

/* ---- the config file's fingerprint ---- */

int sv_conf_hash(const char *path, uint64_t *out)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (int c; (c = getc(f)) != EOF;)
        h = (h ^ (unsigned char)c) * 0x100000001b3ull;
    fclose(f);
    *out = h;
    return 0;
}

int sv_state_check(const struct conf *c, int fd)
{
    static struct sv s;
    char err[CONF_ERR_MAX];
    int ctl = -1, metrics = -1;
    memset(&s, 0, sizeof(s));
    s.c = (struct conf *)c;
    s.userns = -1;
    int r = sv_state_restore(&s, fd, &ctl, &metrics, err, sizeof(err));
    if (r < 0)
        printf("%s\n", err);
    return r; /* this process exits: its mappings and fds go with it */
}
