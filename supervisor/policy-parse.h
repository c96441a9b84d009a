/* SPDX-License-Identifier: MIT */
/* The policy language's statement parser (policy-parse.c), shared with the
 * loader that compiles and exports what it parsed (policy.c).  Internal to
 * those two files. */
#ifndef UIPC_SV_POLICY_PARSE_H
#define UIPC_SV_POLICY_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <seccomp.h>

#include "policy.h"

#define POLICY_MAX_DEPTH 16       /* @include nesting */
#define POLICY_MAX_RULED 1024     /* syscalls named in one policy tree */
#define POLICY_MAX_RULES 4096     /* rules (one per || alternative) in one tree */

/* What one syscall is given, to refuse contradictions with both places. */
enum ruling { R_ALLOW, R_WHEN, R_ERRNO, R_EXEC };

struct ruled {
    int nr;
    enum ruling how;
    const char *file; /* one of policy_parse.files */
    int line;
};

/* One libseccomp rule, kept with the line that asked for it: rules are
 * added to libseccomp in a child process with a deadline (policy.c), which
 * names the line of the rule it was stuck on. */
struct policy_rule {
    int nr;
    uint32_t action; /* SCMP_ACT_ALLOW or SCMP_ACT_ERRNO(e) */
    unsigned ncmp;
    struct scmp_arg_cmp cmp[6];
    const char *file; /* one of policy_parse.files */
    int line;
};

struct frame {
    char *real;       /* realpath, for cycle detection */
    const char *name; /* as written, for messages (in policy_parse.files) */
    int line;
};

struct policy_parse {
    struct policy *pol;
    struct policy_rule *rules;
    unsigned nrules, caprules;
    struct frame stack[POLICY_MAX_DEPTH];
    int depth;
    char *files[POLICY_MAX_DEPTH * 8]; /* file names kept for messages */
    unsigned nfiles;
    struct ruled ruled[POLICY_MAX_RULED];
    unsigned nruled;
    const char *default_file;
    int default_line;
    char *err;
    size_t errlen;
    bool failed;
};

/* Parses path and what it includes into p->rules and p->pol's
 * action, err and exec_allowed.  0; -errno when path itself cannot be
 * opened (nothing written to p->err); -EINVAL with "FILE:LINE: problem" in
 * p->err for anything else. */
int policy__parse_file(struct policy_parse *p, const char *path);

#endif
