/* SPDX-License-Identifier: MIT */
/* What the config and policy targets wrap around the policy compiler
 * (fuzz-common.h), linked with -Wl,--wrap=realpath,--wrap=seccomp_init,
 * --wrap=seccomp_release:
 * - the realpath() fence: every call of realpath() in the target, the
 *   policy compiler's included, comes here;
 * - libseccomp contexts are counted: libseccomp 2.5.4 itself leaks rule
 *   nodes when some conditional rules for one syscall are merged (e.g.
 *   "fcntl: arg1 == 1 || arg1 == 2 && arg2 == 1" then "fcntl: arg2 == 1";
 *   three seccomp_rule_add calls reproduce it without uipc), so its leaks
 *   are suppressed; that policy.c releases every context it makes is
 *   checked here instead (fuzz_seccomp_live). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <seccomp.h>

#include "fuzz-common.h"
#include "policy.h"

const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libseccomp.so\n";
}

long fuzz_seccomp_live;

scmp_filter_ctx __real_seccomp_init(uint32_t def_action);
scmp_filter_ctx __wrap_seccomp_init(uint32_t def_action);
void __real_seccomp_release(scmp_filter_ctx ctx);
void __wrap_seccomp_release(scmp_filter_ctx ctx);

scmp_filter_ctx __wrap_seccomp_init(uint32_t def_action)
{
    scmp_filter_ctx ctx = __real_seccomp_init(def_action);
    if (ctx)
        fuzz_seccomp_live++;
    return ctx;
}

void __wrap_seccomp_release(scmp_filter_ctx ctx)
{
    if (ctx)
        fuzz_seccomp_live--;
    __real_seccomp_release(ctx);
}

unsigned long fuzz_fence_refused;
static bool fence_up;

char *__real_realpath(const char *path, char *resolved);
char *__wrap_realpath(const char *path, char *resolved);

char *__wrap_realpath(const char *path, char *resolved)
{
    char *r = __real_realpath(path, resolved);
    if (!r || !fence_up)
        return r;
    const char *top = fuzz_scratch();
    size_t n = strlen(top);
    if (n && strncmp(r, top, n) == 0 && (r[n] == '/' || r[n] == '\0'))
        return r;
    if (!resolved)
        free(r);
    fuzz_fence_refused++;
    errno = EACCES;
    return NULL;
}

void fuzz_fence(bool on)
{
    fence_up = on;
}

void fuzz_fence_selftest(void)
{
    static const char text[] = "@default kill\n@include /etc/passwd\n";
    struct policy *pol = NULL;
    char err[512] = "";
    fuzz_write("fence-selftest.policy", text, sizeof(text) - 1, 0644);
    unsigned long before = fuzz_fence_refused;
    fuzz_fence(true);
    int r = policy_load(fuzz_path("fence-selftest.policy"), &pol, err, sizeof(err));
    fuzz_fence(false);
    if (r == 0)
        policy_free(pol);
    if (r != -EINVAL || fuzz_fence_refused != before + 1 || !strstr(err, "Permission denied"))
        fuzz_die("the realpath fence does not hold (policy_load %d, refused %lu, \"%s\"): "
                 "is the target linked with -Wl,--wrap=realpath?", r, fuzz_fence_refused - before, err);
}
