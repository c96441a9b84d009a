/* SPDX-License-Identifier: MIT */
/* modules.conf: what the supervisor runs, parsed and checked as a whole
 * before anything starts.  The reading and checking are pure; config-os.c
 * asks the system for users, groups, exec files, policies and free uids. */
#ifndef UIPC_SV_CONFIG_H
#define UIPC_SV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONF_NAME_MAX 64
#define CONF_MAX_MODULES 128
#define CONF_MAX_LIST 64       /* entries in one provides/connects/after/args/env list */
#define CONF_ERR_MAX 512

struct policy;

/* The resource limits a module may set; soft and hard are the same. */
enum conf_rlimit { RL_MEMORY, RL_NOFILE, RL_NPROC, RL_CPU, RL_CORE, RL_COUNT };
#define CONF_RLIM_UNSET UINT64_MAX     /* inherit the supervisor's */
#define CONF_RLIM_INFINITY (UINT64_MAX - 1)

enum conf_restart { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };

/* The [supervisor] keys, as indexes of struct conf's key_line. */
enum conf_sv_key {
    CONF_SV_HEARTBEAT, CONF_SV_HANG, CONF_SV_SHUTDOWN, CONF_SV_SOCKET, CONF_SV_LOGLEVEL,
    CONF_SV_POLICY_DIR, CONF_SV_DYNAMIC_UIDS, CONF_SV_RLIMITS, CONF_SV_CTL_MODULES, CONF_SV_METRICS_SOCKET,
    CONF_SV_LOGFORMAT,
    CONF_SV_KEYS
};
enum conf_log { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
/* log_level's values as modules.conf writes them, by enum conf_log; NULL
 * after the last. */
extern const char *const conf_log_names[];
/* log_format: text lines, JSON lines, or journald's native protocol. */
enum conf_log_format { LOGF_TEXT, LOGF_JSON, LOGF_JOURNAL };
extern const char *const conf_log_format_names[];

struct conf_connect {
    char service[CONF_NAME_MAX];
    uint32_t slots;      /* 0: default */
    uint32_t slot_size;  /* 0: default */
};

struct conf_module {
    char name[CONF_NAME_MAX];
    int line;                     /* of its [module NAME] header */
    char *exec;                   /* absolute, or relative to the config's directory */
    char *argv[CONF_MAX_LIST + 2];/* exec, args..., NULL */
    char *env[CONF_MAX_LIST + 1]; /* KEY=VALUE..., NULL */
    char provides[CONF_MAX_LIST][CONF_NAME_MAX];
    unsigned nprovides;
    struct conf_connect connects[CONF_MAX_LIST];
    unsigned nconnects;
    char after[CONF_MAX_LIST][CONF_NAME_MAX];
    unsigned nafter;
    enum conf_restart restart;
    unsigned max_restarts;
    unsigned restart_window_s;
    unsigned backoff_ms;          /* first restart delay; doubles per recent death */
    unsigned backoff_max_ms;      /* ... up to this */
    unsigned hang_timeout_ms;     /* 0: the [supervisor] value */
    char *policy;                 /* resolved like exec; no key: the policy dir's
                                   * default.policy; NULL after load: "none" */
    struct policy *pol;           /* policy, compiled */
    uint64_t caps;                /* capabilities kept, bit per CAP_* (default none) */
    bool has_user, has_group;
    bool dynamic_user;            /* no user or group key: uid and gid from dynamic_uids */
    uid_t uid;                    /* user: resolved at load */
    gid_t gid;                    /* group, or the user's primary group */
    int namespaces;               /* CLONE_NEW* flags */
    bool default_namespaces;      /* no namespaces key: mount, ipc, uts */
    char *writable[CONF_MAX_LIST];/* absolute paths bound writable into its view */
    unsigned nwritable;
    uint64_t rlimit[RL_COUNT];    /* CONF_RLIM_UNSET or a value */
    unsigned rlimit_default;      /* bit per RL_*: a default, not this module's key */
    unsigned seen;                /* keys seen, as bits (duplicate detection) */
};

struct conf {
    char *path;
    unsigned heartbeat_interval_ms;
    unsigned hang_timeout_ms;
    unsigned shutdown_timeout_ms;
    char *control_socket;
    bool control_from_modules;    /* serve the supervisor's own descendants */
    char *metrics_socket;         /* read-only: status and stats to anyone; NULL: none */
    char *policy_dir;             /* NULL: the build tree's or the installed one */
    uid_t uid_first, uid_last;    /* dynamic_uids */
    enum conf_log log_level;
    enum conf_log_format log_format;
    unsigned seen;
    int line;                     /* of its [supervisor] header; 0: none */
    int key_line[CONF_SV_KEYS];   /* of each [supervisor] key; 0: not set */
    struct conf_module mod[CONF_MAX_MODULES];
    unsigned nmod;
};

/* Loads and checks path.  On failure returns -EINVAL (or -errno when the
 * file cannot be read) and writes one line, "FILE:LINE: problem", to err. */
int conf_load(const char *path, struct conf **out, char *err, size_t errlen);
/* conf_load for a reload: a module that prev has too, by name, and that
 * had a dynamic uid there keeps that uid when it still has no user or
 * group key and the uid is still inside dynamic_uids and still no passwd
 * or group entry's; the other modules get theirs around those.  prev is
 * only read, and may be NULL (then this is conf_load). */
int conf_load_again(const char *path, const struct conf *prev, struct conf **out, char *err,
                    size_t errlen);
void conf_free(struct conf *c);
/* The module providing service, or -1. */
int conf_provider(const struct conf *c, const char *service);
/* The index of the module called name, or -1. */
int conf_module_index(const struct conf *c, const char *name);

#endif
