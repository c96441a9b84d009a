/* SPDX-License-Identifier: MIT */
/* One modules.conf load in progress, shared by the files that make it and
 * internal to them: config-read.c (lines, sections, FILE:LINE errors),
 * config-keys.c (each key's value), config-check.c (the file as a whole),
 * config-os.c (what the system is asked), run in order by config-load.c. */
#ifndef UIPC_SV_CONFIG_PARSE_H
#define UIPC_SV_CONFIG_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

/* Bits of struct conf's and conf_module's seen, and indexes of the lines
 * where each key was set. */
enum key {
    /* [supervisor]: struct conf's key_line */
    K_HEARTBEAT = CONF_SV_HEARTBEAT, K_HANG = CONF_SV_HANG, K_SHUTDOWN = CONF_SV_SHUTDOWN,
    K_SOCKET = CONF_SV_SOCKET, K_LOGLEVEL = CONF_SV_LOGLEVEL, K_POLICY_DIR = CONF_SV_POLICY_DIR,
    K_DYNAMIC_UIDS = CONF_SV_DYNAMIC_UIDS, K_SV_RLIMITS = CONF_SV_RLIMITS, K_CTL_MODULES = CONF_SV_CTL_MODULES,
    K_METRICS_SOCKET = CONF_SV_METRICS_SOCKET,
    K_LOGFORMAT = CONF_SV_LOGFORMAT,
    /* [module NAME]: struct parse's key_line */
    K_EXEC, K_ARGS, K_ENV, K_PROVIDES, K_CONNECTS, K_RESTART, K_MAXRESTARTS,
    K_WINDOW, K_AFTER, K_POLICY, K_MOD_HANG, K_BACKOFF, K_BACKOFF_MAX,
    K_CAPS, K_USER, K_GROUP, K_NAMESPACES, K_RLIMITS, K_WRITABLE,
    K_COUNT
};
_Static_assert(K_LOGFORMAT + 1 == CONF_SV_KEYS, "the [supervisor] keys come first, all of them");
_Static_assert(K_COUNT <= 31, "a bit of seen per key; bit 31 of struct conf's: [supervisor] seen");

enum section { SEC_NONE, SEC_SUPERVISOR, SEC_MODULE };

struct parse {
    struct conf *c;
    FILE *f;
    int line;
    enum section sec;
    struct conf_module *mod;       /* current [module] */
    int key_line[CONF_MAX_MODULES][K_COUNT];
    uint64_t rl_default[RL_COUNT]; /* [supervisor] rlimits */
    const struct conf *prev;       /* conf_load_again's, else NULL */
    uid_t pin[CONF_MAX_MODULES];   /* the dynamic uid a module keeps from prev; 0: none */
    bool failed;
    char *err;
    size_t errlen;
};

/* config-read.c */

/* Writes "FILE:LINE: message" to p->err unless an error was written
 * already, and fails the load.  Always false. */
__attribute__((format(printf, 3, 4)))
bool conf__fail(struct parse *p, int line, const char *fmt, ...);
/* Service and module names: what can go into a manifest and a log line. */
bool conf__valid_name(const char *s);
/* inih's reader (stream: the struct parse): counts lines, reads section
 * headers, refuses over-long and indented lines. */
char *conf__reader(char *str, int num, void *stream);

/* config-keys.c: inih's handler (user: the struct parse), one key. */
int conf__key(void *user, const char *section, const char *name, const char *value);

/* config-os.c */
bool conf__set_user(struct parse *p, const char *v);
bool conf__set_group(struct parse *p, const char *v);
bool conf__check_exec(struct parse *p, unsigned i);
/* Before any module gets its dynamic uid: which ones keep theirs from
 * p->prev. */
void conf__pin_uids(struct parse *p);
bool conf__dynamic_uid(struct parse *p, unsigned i);
bool conf__check_policy(struct parse *p, unsigned i);

/* config-check.c: one module against the others, ... */
bool conf__check_services(struct parse *p, unsigned i);
bool conf__check_after_names(struct parse *p, unsigned i);
bool conf__sandbox_defaults(struct parse *p, unsigned i);
bool conf__check_sandbox(struct parse *p, unsigned i);
/* ... and the file as a whole. */
bool conf__check_channel_counts(struct parse *p);
bool conf__check_after_cycles(struct parse *p);
bool conf__check_timeouts(struct parse *p);

/* config.c: a conf with every [supervisor] default, or NULL. */
struct conf *conf__new(const char *path);

#endif
