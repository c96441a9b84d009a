/* SPDX-License-Identifier: MIT */
/* The supervisor's structured log on real processes: log_format = json on
 * a config that makes most kinds of event (every line checked by a strict
 * JSON reader here, and by jq when installed), a reload that switches the
 * format, and log_format = journal against a journald socket of our own
 * in a private mount namespace (the native protocol parsed here). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "svtest.h"

/* ---- a strict reader of flat JSON objects: strings and numbers ---- */

#define MAX_KEYS 16

struct jobj {
    unsigned n;
    char key[MAX_KEYS][32];
    char val[MAX_KEYS][2048]; /* decoded (UTF-8), or the number's text */
    bool str[MAX_KEYS];
};

/* The length of the well-formed UTF-8 character at s, 0 if none. */
static size_t utf8_char(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    for (size_t k = 1; k < n; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80)
        return out[0] = (char)cp, 1;
    if (cp < 0x800)
        return out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f)), 2;
    out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | (cp >> 6 & 0x3f)), out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* A JSON string at *p (RFC 8259: no raw control characters, only the
 * escapes it names, UTF-8), decoded into out.  NULL when it is none. */
static const char *jstring(const char *p, char *out, size_t len)
{
    size_t n = 0;
    if (*p++ != '"')
        return NULL;
    while (*p != '"') {
        const unsigned char *u = (const unsigned char *)p;
        char c[4];
        size_t cn, used;
        if (*u < 0x20)
            return NULL;
        if (*u == '\\') {
            const char *esc = strchr("\"\\/bfnrtu", p[1]);
            if (!p[1] || !esc)
                return NULL;
            if (p[1] == 'u') {
                unsigned cp;
                if (sscanf(p + 2, "%4x", &cp) != 1 || strspn(p + 2, "0123456789abcdefABCDEF") < 4 ||
                    (cp >= 0xd800 && cp <= 0xdfff)) /* we never write surrogate pairs */
                    return NULL;
                cn = put_utf8(c, cp), used = 6;
            } else {
                c[0] = "\"\\/\b\f\n\r\t"[esc - "\"\\/bfnrtu"], cn = 1, used = 2;
            }
        } else {
            if (!(cn = used = utf8_char(u)))
                return NULL;
            memcpy(c, p, cn);
        }
        if (n + cn >= len)
            return NULL;
        memcpy(out + n, c, cn);
        n += cn;
        p += used;
    }
    out[n] = '\0';
    return p + 1;
}

/* -?(0|[1-9][0-9]*) : our numbers are integers. */
static const char *jnumber(const char *p, char *out, size_t len)
{
    const char *s = p;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        p += strspn(p, "0123456789");
    else
        return NULL;
    if ((size_t)(p - s) >= len)
        return NULL;
    memcpy(out, s, (size_t)(p - s));
    out[p - s] = '\0';
    return p;
}

/* The line as one flat object, nothing after it; false otherwise. */
static bool jparse(const char *line, struct jobj *o)
{
    const char *p = line;
    o->n = 0;
    if (*p++ != '{')
        return false;
    for (;;) {
        if (o->n == MAX_KEYS || !(p = jstring(p, o->key[o->n], sizeof(o->key[0]))) || *p++ != ':')
            return false;
        o->str[o->n] = *p == '"';
        p = o->str[o->n] ? jstring(p, o->val[o->n], sizeof(o->val[0])) : jnumber(p, o->val[o->n], sizeof(o->val[0]));
        if (!p)
            return false;
        for (unsigned k = 0; k < o->n; k++)
            if (strcmp(o->key[k], o->key[o->n]) == 0)
                return false; /* a key twice */
        o->n++;
        if (*p == '}')
            return p[1] == '\0';
        if (*p++ != ',')
            return false;
    }
}

static const char *jget(const struct jobj *o, const char *key, bool str)
{
    for (unsigned k = 0; k < o->n; k++)
        if (strcmp(o->key[k], key) == 0)
            return o->str[k] == str ? o->val[k] : NULL;
    return NULL;
}

/* ---- the log as JSON ---- */

/* "2026-12-02T08:21:29.107Z" */
static bool rfc3339_ms(const char *t)
{
    int y, mo, d, h, mi, s, ms, n = 0;
    return strlen(t) == 24 && sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi, &s, &ms, &n) == 7 &&
           n == 24;
}

static struct jobj *events;
static unsigned nevents;

/* Every line of the log from the first that starts with '{' (all of them
 * when from_first_json is false) parsed, and checked: time, level, event
 * (one of the table's), message; a module when the event is a module's. */
static void read_json_log(bool from_first_json)
{
    static struct jobj all[4096];
    char *log = read_log(), *save = NULL;
    events = all;
    nevents = 0;
    bool on = !from_first_json;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        on |= line[0] == '{';
        if (!on || (svtest_valgrind() && strncmp(line, "==", 2) == 0))
            continue;
        assert_true(nevents < 4096);
        struct jobj *o = &all[nevents++];
        if (!jparse(line, o))
            fail_msg("not one JSON object of strings and numbers: %s", line);
        const char *t = jget(o, "time", true), *lv = jget(o, "level", true), *ev = jget(o, "event", true);
        if (!t || !rfc3339_ms(t) || !lv || !ev || !jget(o, "message", true))
            fail_msg("no time, level, event or message: %s", line);
        if (strcmp(lv, "debug") && strcmp(lv, "info") && strcmp(lv, "warn") && strcmp(lv, "error"))
            fail_msg("level %s: %s", lv, line);
        int kind = -1;
        for (int k = 0; k < SV_EV_COUNT; k++)
            if (strcmp(sv_event_defs[k].name, ev) == 0)
                kind = k;
        if (kind < 0)
            fail_msg("event %s is not in the table: %s", ev, line);
        const char *mod = jget(o, "module", true), *msg = jget(o, "message", true);
        /* a module's message starts with its name, the supervisor's with a word and ':' */
        if (mod && strncmp(msg, mod, strlen(mod)) != 0)
            fail_msg("module %s, message not its: %s", mod, line);
    }
}

/* The first event of this kind (and module, when not NULL), with these
 * fields, separated by ';': number fields given as "name", string ones as
 * "name=value" or "name=" for any string.  Fails showing the log when
 * there is none. */
static const struct jobj *expect_event(const char *event, const char *module, const char *fields)
{
    for (unsigned i = 0; i < nevents; i++) {
        const struct jobj *o = &events[i];
        const char *m = jget(o, "module", true);
        if (strcmp(jget(o, "event", true), event) != 0 || (module && (!m || strcmp(m, module) != 0)))
            continue;
        char copy[256], *save = NULL;
        snprintf(copy, sizeof(copy), "%s", fields);
        bool all = true;
        for (char *f = strtok_r(copy, ";", &save); f && all; f = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(f, '=');
            if (eq) {
                *eq = '\0';
                const char *v = jget(o, f, true);
                all = v && (!eq[1] || strcmp(v, eq + 1) == 0);
            } else {
                all = jget(o, f, false) != NULL;
            }
        }
        if (all)
            return o;
    }
    fail_msg("no event %s of %s with %s in:\n%s", event, module ? module : "the supervisor", fields, read_log());
    return NULL;
}

/* jq, a JSON parser of its own, agrees: every line an object with time,
 * level and event.  Skipped (said) when it is not installed. */
static void jq_agrees(void)
{
    if (system("command -v jq >/dev/null 2>&1") != 0) {
        print_message("jq is not installed: the log is checked by this test's reader only\n");
        return;
    }
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "grep -v '^==' '%s' | jq -e -s 'length > 0 and all(.[]; type == \"object\" and has(\"time\") and "
             "has(\"level\") and has(\"event\") and has(\"message\"))' >/dev/null",
             log_path);
    if (system(cmd) != 0)
        fail_msg("jq does not read the log as JSON objects:\n%s", read_log());
}

/* What the talker says: a quote, a backslash, a tab, a control character,
 * a byte that is not UTF-8 and one that is. */
#define TALK "printf 'tab\\there \"q\" back\\\\slash \\001 bad\\377 caf\\303\\251\\n'"
#define TALK_DECODED "tab\there \"q\" back\\slash \001 bad\xef\xbf\xbd caf\xc3\xa9"

static void test_json(void **state)
{
    (void)state;
    char denying[400];
    snprintf(denying, sizeof(denying), "%s/errno.policy", dir);
    FILE *f = fopen(denying, "w");
    assert_non_null(f);
    fprintf(f, "@default errno EACCES\n@include %s/base.policy\ngetdents64\nuname\nunlink\ngetuid\ngetgid\n"
               "getppid\n", env_path("UIPC_POLICIES"));
    fclose(f);
    const char *talker = write_script("talker.sh", "#!/bin/sh\n" TALK "\nexec sleep 1000\n");
    /* spin: hangs at its third request (the client's): hung, killed,
     * its slot reclaimed, restarted; probe: killed by seccomp twice and
     * given up; denied: its socket() fails; talker: output (and, being no
     * uipc module, it never beats: killed as hung) */
#define MODULES \
        "[module spin]\nexec = %s\nprovides = echo\nrestart = always\nmax_restarts = 50\nenv = SPIN_AFTER=2\n" \
        "[module client]\nexec = %s\nconnects = echo\nafter = spin\nrestart = never\n" \
        "[module probe]\nexec = %s\npolicy = %s\nenv = PROBE=socket\nrestart = on-failure\nmax_restarts = 1\n" \
        "backoff_ms = 10\n" \
        "[module denied]\nexec = %s\npolicy = %s\nenv = PROBE=socket\n" \
        "[module talker]\nexec = %s\npolicy = none\nrestart = never\n"
    char mods[4096];
    snprintf(mods, sizeof(mods), MODULES, env_path("UIPC_SPIN_SERVER"), env_path("UIPC_ECHO_CLIENT"),
             env_path("UIPC_PROBE"), env_path("UIPC_PROBE_POLICY"), env_path("UIPC_PROBE"), denying, talker);
    write_conf("[supervisor]\nlog_format = json\nlog_level = debug\nheartbeat_interval_ms = 50\n"
               "hang_timeout_ms = 400\nshutdown_timeout_ms = 1000\n%s", mods);
    pid_t sv = start_supervisor();
    wait_log("probe: given up", 1);
    wait_log("spin: hung:", 1);
    wait_log("client: exited with code", 1);
    wait_log("denied: probe: done", 1);
    wait_log("talker: tab", 1);
    wait_log("in-flight slots reclaimed", 1);
    /* a crash: SIGABRT from outside (ASan builds catch SIGSEGV), and the restart */
    wait_log("spin: started, pid", 2);
    pid_t spin = latest_pid("spin");
    assert_int_equal(kill(spin, SIGABRT), 0);
    wait_log("spin: killed by signal SIGABRT", 1);
    wait_log("spin: started, pid", 3);
    /* an operator's stop */
    svtest_ctl_ok(svtest_ctl(5000, "stop", "denied", NULL), "stop denied");
    wait_log("denied: stopped by the operator", 1);
    /* a reload that adds a module */
    write_conf("[supervisor]\nlog_format = json\nlog_level = debug\nheartbeat_interval_ms = 50\n"
               "hang_timeout_ms = 400\nshutdown_timeout_ms = 1000\n%s"
               "[module extra]\nexec = /bin/true\npolicy = none\nrestart = never\n", mods);
    assert_int_equal(kill(sv, SIGHUP), 0);
    wait_log("extra: exited with code 0", 1);
    assert_int_equal(stop_supervisor(sv), 0);

    read_json_log(false);
    jq_agrees();
    char nr[16], field[64];
    expect_event("supervisor_started", NULL, "modules;channels");
    expect_event("started", "spin", "pid");
    expect_event("ready", "spin", "uptime_ms");
    expect_event("transition", "spin", "from=;to=");
    expect_event("no_policy", "talker", "");
    expect_event("output", "talker", "line=" TALK_DECODED);
    expect_event("hung", "spin", "silent_ms;hang_timeout_ms");
    expect_event("exited", "spin", "pid;signal;core_dumped;uptime_ms;reason=hung");
    expect_event("exited", "spin", "pid;signal;core_dumped;uptime_ms;reason=");
    expect_event("exited", "client", "pid;code;uptime_ms");
    expect_event("reclaimed", "spin", "slots");
    expect_event("restarting", "spin", "delay_ms");
    const struct jobj *v = expect_event("violation", "probe", "syscall=socket;nr;pid");
    snprintf(nr, sizeof(nr), "%d", (int)SYS_socket);
    assert_string_equal(jget(v, "nr", false), nr);
    assert_string_equal(jget(v, "level", true), "error");
    expect_event("exited", "probe", "signal;reason=seccomp: socket");
    expect_event("given_up", "probe", "deaths;window_s;max_restarts");
    assert_string_equal(jget(expect_event("given_up", "probe", ""), "level", true), "error");
    expect_event("denied", "denied", "syscall=socket;nr;errno=EACCES");
    expect_event("output", "denied", "line=probe: socket() returned -1");
    expect_event("operator", "denied", "action=stop");
    expect_event("held", "denied", "reason=operator");
    expect_event("reload_requested", NULL, "path=");
    expect_event("reload", NULL, "change=");
    expect_event("started", "extra", "pid");
    expect_event("shutdown", NULL, "signal=SIGTERM");
    expect_event("stopping", "spin", "");
    expect_event("final_state", "probe", "state=failed;violations");
    expect_event("stopped", NULL, "");
    /* the text format's message, the same in JSON */
    snprintf(field, sizeof(field), "probe: stopped by seccomp: socket (%d), pid ", (int)SYS_socket);
    assert_non_null(strstr(jget(v, "message", true), field));
}

/* A reload that changes log_format applies it at once: text lines up to
 * the reload, JSON from its own lines on, and back. */
static void test_reload_switches(void **state)
{
    (void)state;
#define TALKER "[module talker]\nexec = %s\npolicy = none\nrestart = never\n"
    const char *talker = write_script("talker.sh", "#!/bin/sh\n" TALK "\nexec sleep 1000\n");
    write_conf(TALKER, talker);
    pid_t sv = start_supervisor();
    wait_log("talker: tab", 1);
    write_conf("[supervisor]\nlog_format = json\n" TALKER, talker);
    assert_int_equal(kill(sv, SIGHUP), 0);
    wait_log("reload: [supervisor]: log_format text -> json", 1);
    char *log = read_log();
    assert_non_null(strstr(log, " info  supervisor: SIGHUP: reloading")); /* still text */
    read_json_log(true);
    expect_event("reload", NULL, "change=[supervisor]: log_format text -> json");
    write_conf(TALKER, talker);
    assert_int_equal(kill(sv, SIGHUP), 0);
    wait_log("info  reload: [supervisor]: log_format json -> text", 1);
    assert_int_equal(stop_supervisor(sv), 0);
    log_has("info  supervisor: stopped\n");
    log_has("{\"time\":");
}

/* ---- journald ---- */

#define JOURNAL_DIR "/run/systemd/journal"
#define JOURNAL_SOCKET JOURNAL_DIR "/socket"

/* One entry, its fields as "KEY=value" strings (values with newlines
 * included, from the binary form). */
struct jentry {
    unsigned n;
    char field[24][1200];
};

static const char *jfield(const struct jentry *e, const char *key)
{
    size_t k = strlen(key);
    for (unsigned i = 0; i < e->n; i++)
        if (strncmp(e->field[i], key, k) == 0 && e->field[i][k] == '=')
            return e->field[i] + k + 1;
    return NULL;
}

/* journald's native protocol: "KEY=value\n", or "KEY\n", a 64-bit
 * little-endian length, the value and "\n". */
static void parse_native(const char *p, size_t len, struct jentry *e)
{
    const char *end = p + len;
    e->n = 0;
    while (p < end && e->n < 24) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eq = memchr(p, '=', nl ? (size_t)(nl - p) : (size_t)(end - p));
        assert_non_null(nl);
        if (eq) {
            snprintf(e->field[e->n++], sizeof(e->field[0]), "%.*s", (int)(nl - p), p);
            p = nl + 1;
            continue;
        }
        uint64_t vlen = 0;
        assert_true(end - (nl + 1) >= 8);
        for (int b = 7; b >= 0; b--)
            vlen = vlen << 8 | (unsigned char)nl[1 + b];
        const char *v = nl + 9;
        assert_true((uint64_t)(end - v) >= vlen + 1 && v[vlen] == '\n');
        snprintf(e->field[e->n++], sizeof(e->field[0]), "%.*s=%.*s", (int)(nl - p), p, (int)vlen, v);
        p = v + vlen + 1;
    }
}

/* One datagram (or the memfd it carries, for a large entry) into e;
 * false when none came within wait_ms. */
static bool receive(int sock, struct jentry *e, int wait_ms)
{
    static char buf[1 << 17];
    struct pollfd p = { .fd = sock, .events = POLLIN };
    if (poll(&p, 1, wait_ms) <= 0)
        return false;
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } cm;
    struct iovec iov = { buf, sizeof(buf) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof(cm.b) };
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    assert_true(n >= 0);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (c && c->cmsg_type == SCM_RIGHTS) {
        int fd;
        memcpy(&fd, CMSG_DATA(c), sizeof(fd));
        n = pread(fd, buf, sizeof(buf), 0);
        close(fd);
        assert_true(n >= 0);
    }
    parse_native(buf, (size_t)n, e);
    return true;
}

/* This process in a mount namespace of its own (the rest of this test
 * program runs in it too; it is the last test), with a tmpfs on /run and
 * a datagram socket where journald's would be.  -1 with a reason. */
static int own_journal(char *why, size_t len)
{
    /* "none", not NULL: ignored by the kernel, read by valgrind */
    if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0 || mkdir("/run/systemd", 0755) < 0 ||
        mkdir(JOURNAL_DIR, 0755) < 0) {
        snprintf(why, len, "a private /run: %s", strerror(errno));
        return -1;
    }
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET };
    int big = 1 << 20;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(JOURNAL_SOCKET, 0666) < 0) {
        snprintf(why, len, "%s: %s", JOURNAL_SOCKET, strerror(errno));
        return -1;
    }
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    return s;
}

/* e has key, with the value want (any, when NULL). */
static void expect_field(const struct jentry *e, const char *key, const char *want)
{
    const char *v = jfield(e, key);
    if (!v || (want && strcmp(v, want) != 0))
        fail_msg("%s: %s=%s, not %s (MESSAGE=%s)", jfield(e, "UIPC_EVENT"), key, v ? v : "(none)",
                 want ? want : "(any)", jfield(e, "MESSAGE"));
}

static void check_entry(const struct jentry *e)
{
    const char *ev = jfield(e, "UIPC_EVENT"), *prio = jfield(e, "PRIORITY"), *id = jfield(e, "MESSAGE_ID");
    if (!ev || !prio || !id || !jfield(e, "MESSAGE"))
        fail_msg("an entry without UIPC_EVENT, PRIORITY, MESSAGE_ID or MESSAGE: %s", e->field[0]);
    int kind = -1;
    for (int k = 0; k < SV_EV_COUNT; k++)
        if (strcmp(sv_event_defs[k].name, ev) == 0)
            kind = k;
    if (kind < 0)
        fail_msg("UIPC_EVENT=%s is not in the table", ev);
    assert_string_equal(id, sv_event_defs[kind].message_id);
    assert_true(strcmp(prio, "3") == 0 || strcmp(prio, "4") == 0 || strcmp(prio, "6") == 0 || strcmp(prio, "7") == 0);
    assert_string_equal(jfield(e, "SYSLOG_IDENTIFIER"), "uipc-supervisor");
    const char *mod = jfield(e, "UIPC_MODULE");
    if (mod)
        assert_int_equal(strncmp(jfield(e, "MESSAGE"), mod, strlen(mod)), 0);
}

/* Entries until UIPC_EVENT=until arrives; which kinds came, as bits of
 * SV_EV_*; a check of each. */
static uint64_t collect(int sock, const char *until, struct jentry *saw, size_t nsaw)
{
    static struct jentry e;
    uint64_t seen = 0;
    for (;;) {
        if (!receive(sock, &e, (int)svtest_ms(30000)))
            fail_msg("no journal entry UIPC_EVENT=%s within 30 s; stderr:\n%s", until, read_log());
        check_entry(&e);
        const char *ev = jfield(&e, "UIPC_EVENT");
        for (int k = 0; k < SV_EV_COUNT; k++)
            if (strcmp(sv_event_defs[k].name, ev) == 0) {
                if ((size_t)k < nsaw && !(seen >> k & 1))
                    saw[k] = e;
                seen |= 1ull << k;
            }
        if (strcmp(ev, until) == 0)
            return seen;
    }
}

static void test_journal(void **state)
{
    (void)state;
#ifndef UIPC_HAVE_LIBSYSTEMD
    print_message("skipped: this uipc-supervisor was built without libsystemd\n");
    skip();
#endif
    if (geteuid() != 0) {
        print_message("skipped: a private mount namespace for a journald socket needs root\n");
        skip();
    }
    char why[256];
    int sock = own_journal(why, sizeof(why));
    if (sock < 0)
        fail_msg("%s", why);
    _Static_assert(SV_EV_COUNT <= 64, "the kinds seen, as bits of a uint64_t");
    static struct jentry saw[SV_EV_COUNT];
    const char *talker = write_script("talker.sh", "#!/bin/sh\n" TALK "\nexec sleep 1000\n");
    write_conf("[supervisor]\nlog_format = journal\nshutdown_timeout_ms = 1000\n"
               "[module talker]\nexec = %s\npolicy = none\nrestart = never\n"
               "[module flaky]\nexec = /bin/false\npolicy = none\nrestart = always\nmax_restarts = 1\n"
               "backoff_ms = 10\n", talker);
    pid_t sv = start_supervisor();
    uint64_t seen = collect(sock, "given_up", saw, SV_EV_COUNT);
    while (!(seen >> SV_EV_OUTPUT & 1))
        seen |= collect(sock, "output", saw, SV_EV_COUNT);
    assert_int_equal(kill(sv, SIGTERM), 0);
    seen |= collect(sock, "stopped", saw, SV_EV_COUNT);
    int st;
    assert_int_equal(waitpid(sv, &st, 0), sv);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    const enum sv_ev want[] = { SV_EV_SUPERVISOR_STARTED, SV_EV_STARTED, SV_EV_OUTPUT, SV_EV_EXITED,
                                SV_EV_RESTARTING, SV_EV_GIVEN_UP, SV_EV_SHUTDOWN, SV_EV_STOPPED };
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
        if (!(seen >> want[k] & 1))
            fail_msg("no journal entry UIPC_EVENT=%s", sv_event_defs[want[k]].name);
    expect_field(&saw[SV_EV_OUTPUT], "UIPC_MODULE", "talker");
    expect_field(&saw[SV_EV_OUTPUT], "UIPC_LINE", "tab\there \"q\" back\\slash \001 bad\377 caf\xc3\xa9");
    expect_field(&saw[SV_EV_OUTPUT], "PRIORITY", "6");
    expect_field(&saw[SV_EV_STARTED], "UIPC_PID", NULL);
    expect_field(&saw[SV_EV_GIVEN_UP], "UIPC_MODULE", "flaky");
    expect_field(&saw[SV_EV_GIVEN_UP], "PRIORITY", "3");
    expect_field(&saw[SV_EV_GIVEN_UP], "UIPC_MAX_RESTARTS", "1");
    expect_field(&saw[SV_EV_EXITED], "UIPC_UPTIME_MS", NULL);
    expect_field(&saw[SV_EV_RESTARTING], "UIPC_DELAY_MS", "10");
    expect_field(&saw[SV_EV_SHUTDOWN], "UIPC_SIGNAL", "SIGTERM");
    assert_null(jfield(&saw[SV_EV_STOPPED], "UIPC_MODULE"));
    /* nothing on stderr: every event went to the journal */
    char *log = read_log();
    if (!svtest_valgrind() && log[0])
        fail_msg("stderr is not empty:\n%s", log);

    /* journald gone: JSON on stderr, said once */
    close(sock);
    assert_int_equal(unlink(JOURNAL_SOCKET), 0);
    sv = start_supervisor();
    wait_log("flaky: given up", 1);
    assert_int_equal(stop_supervisor(sv), 0);
    read_json_log(false);
    expect_event("log_fallback", NULL, "error=");
    expect_event("given_up", "flaky", "deaths");
    unsigned fallbacks = 0;
    for (unsigned i = 0; i < nevents; i++)
        fallbacks += strcmp(jget(&events[i], "event", true), "log_fallback") == 0;
    assert_int_equal(fallbacks, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_json, svtest_kill_leftover),
        cmocka_unit_test_teardown(test_reload_switches, svtest_kill_leftover),
        /* last: it leaves this process in a mount namespace of its own */
        cmocka_unit_test_teardown(test_journal, svtest_kill_leftover),
    };
    return cmocka_run_group_tests(tests, svtest_setup, svtest_teardown);
}
