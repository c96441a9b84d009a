/* SPDX-License-Identifier: MIT */
/* uipcctl's parts, internal: the table of commands and main (uipcctl.c),
 * the command line (uipcctl-args.c), reaching the supervisor
 * (uipcctl-call.c), and its reply as text (uipcctl-text.c) or JSON
 * (uipcctl-json.c). */
#ifndef UIPC_TOOLS_UIPCCTL_H
#define UIPC_TOOLS_UIPCCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "control.pb-c.h"

#define CTL_DEFAULT_SOCKET "/run/uipc/control.sock"
#define CTL_DEFAULT_TIMEOUT_MS 5000

/* The options that belong to one command each (struct ctl_command.opts);
 * given to another, a usage error.  A new one is a bit here, and in
 * uipcctl-args.c its getopt entry, its line of owned[] and of usage(). */
enum {
    CTL_OPT_SIGNAL = 1u << 0, /* kill --signal */
    CTL_OPT_MS = 1u << 1,     /* fault --ms */
    CTL_OPT_OFF = 1u << 2,    /* drain --off */
    CTL_OPT_CHECK = 1u << 3,  /* reload --check */
    CTL_OPT_INTERVAL = 1u << 4, /* top --interval */
    CTL_OPT_COUNT = 1u << 5,    /* top --count */
};

struct ctl_command;

/* The command line, once checked. */
struct ctl_args {
    const char *config;  /* NULL: none */
    const char *socket;  /* NULL: from config, or the default */
    bool json;
    int timeout_ms;      /* 0: no limit */
    const char *path;    /* the socket, once found */
    const struct ctl_command *cmd;
    unsigned opts;       /* the CTL_OPT_ given */
    char *name;          /* the module, for the commands that take one */
    const char *signame; /* --signal; NULL: SIGKILL */
    int signal;          /* kill: signame's number */
    const char *ms;      /* --ms as given; NULL: not given */
    char *fault;         /* fault: abort, slow or hostile */
    unsigned fault_ms;   /* fault slow: --ms; fault hostile: the attack, --ms or random */
    unsigned top_interval_ms; /* top --interval; 0: not given (1000) */
    unsigned top_count;  /* top --count: frames before it exits; 0: until q */
};

/* The words that are not options: the command, then its operands. */
struct ctl_operands {
    char *v[3];
    int n;               /* in v */
    int extra;           /* more than v holds */
};

/* One command, a row of uipcctl.c's table.  A new command is a row and
 * the function that fills its request (and one that prints its reply, if
 * it has more to say than that it was done).  --help lists the rows:
 * tests/docs/uipcctl-man.py checks uipcctl(8) against that list. */
struct ctl_command {
    const char *name;
    const char *operands; /* after the name in --help: "NAME [--signal SIG]"; "" for none */
    const char *help;     /* what it does, for --help: lines of 52 columns at most */
    bool takes_name;      /* its operand is a module NAME */
    unsigned opts;        /* the CTL_OPT_ it takes */
    /* NULL, or what checks and completes what only this command takes,
     * before NAME is checked: 0, or the exit status of a usage error */
    int (*check)(struct ctl_args *a, struct ctl_operands *op);
    /* Sets the request's command and its part of it, which must outlive
     * the call (uipcctl sends one request: static storage will do). */
    void (*request)(const struct ctl_args *a, Uipc__Control__Request *req);
    /* Prints a reply that is ok; the exit status. */
    int (*reply)(const struct ctl_args *a, const Uipc__Control__Reply *rep);
    int refused;          /* the exit status when the supervisor says no */
};

/* ---- uipcctl-args.c ---- */

/* Fills a from argv, finding the command among cmds[0..n); 0, or the exit
 * status (0 for --help, 2 for misuse, having said why) with *done set. */
int ctl_parse_args(int argc, char **argv, const struct ctl_command *cmds, size_t n,
                   struct ctl_args *a, bool *done);
/* A usage error: one line on stderr; returns 2, the exit status. */
__attribute__((format(printf, 1, 2))) int ctl_bad_usage(const char *fmt, ...);
/* kill's check: --signal into a->signal (default SIGKILL). */
int ctl_check_kill(struct ctl_args *a, struct ctl_operands *op);
/* fault's check: its fault (op's last operand) and --ms. */
int ctl_check_fault(struct ctl_args *a, struct ctl_operands *op);

/* ---- uipcctl-top.c ---- */

/* top's check: no --json. */
int ctl_check_top(struct ctl_args *a, struct ctl_operands *op);
/* top's reply to the table's status request: the live view, until q,
 * --count frames, or the supervisor goes (1).  The exit status. */
int ctl_top(const struct ctl_args *a, const Uipc__Control__Reply *rep);

/* ---- uipcctl-call.c ---- */

/* The socket's path: --socket, else --config's control_socket, else the
 * default.  *c is the loaded configuration (the path's owner), or NULL.
 * 0, or the exit status having said why not. */
int ctl_socket_path(const struct ctl_args *a, struct conf **c, const char **path);
/* Sends req, reads the reply into *rep (the caller's to free); 0, or 1
 * having said why not. */
int ctl_exchange(const char *path, const Uipc__Control__Request *req, int timeout_ms,
                 Uipc__Control__Reply **rep);
/* The same, saying nothing when it fails (1). */
int ctl_exchange_quiet(const char *path, const Uipc__Control__Request *req, int timeout_ms,
                       Uipc__Control__Reply **rep);

/* ---- uipcctl-text.c: tables for people; each returns the exit status ---- */

int ctl_text_status(const Uipc__Control__Reply *rep, FILE *f);
int ctl_text_stats(const Uipc__Control__Reply *rep, FILE *f);
int ctl_text_sandbox(const Uipc__Control__SandboxReport *r, FILE *f);

/* ---- uipcctl-json.c: one JSON object and a newline ---- */

void ctl_json_status(const Uipc__Control__Reply *rep, FILE *f);
void ctl_json_stats(const Uipc__Control__Reply *rep, FILE *f);
void ctl_json_sandbox(const Uipc__Control__SandboxReport *r, FILE *f);
void ctl_json_ok(FILE *f);
void ctl_json_reload(const Uipc__Control__ReloadReport *r, FILE *f);
void ctl_json_refused(const char *error, FILE *f);

/* A reply's string field, NULL taken as empty. */
static inline const char *ctl_str(const char *s)
{
    return s ? s : "";
}

#endif
