/* SPDX-License-Identifier: MIT */
/* What the fuzz targets share (fuzz-common.c): one scratch directory per
 * process and files written into it; and (fuzz-fence.c, config and policy
 * targets only) a fence around the policy compiler, which follows @include
 * to any path: while it is up, every realpath() that resolves outside the
 * scratch directory fails with EACCES.  Those targets link with
 * -Wl,--wrap=realpath, and policy.c resolves every file before opening it. */
#ifndef UIPC_FUZZ_COMMON_H
#define UIPC_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Creates the scratch directory (under $TMPDIR, else /tmp), removed at
 * exit; aborts on failure.  Returns its real path. */
const char *fuzz_scratch_init(const char *tag);
const char *fuzz_scratch(void);
/* scratch/rel, in a static buffer that the next call reuses. */
const char *fuzz_path(const char *rel);
/* Writes len bytes to scratch/rel (created or truncated), with mode. */
void fuzz_write(const char *rel, const void *data, size_t len, mode_t mode);
/* Copies every *.policy of the source tree's policies/ (FUZZ_POLICY_DIR)
 * into scratch/reldir, created if missing. */
void fuzz_copy_policies(const char *reldir);

/* fuzz-fence.c: the realpath() fence, and how many paths it refused. */
void fuzz_fence(bool on);
extern unsigned long fuzz_fence_refused;
/* libseccomp contexts made and not released (fuzz-fence.c). */
extern long fuzz_seccomp_live;
/* Proves the fence holds: a policy including /etc/passwd must be refused
 * by it.  Aborts otherwise. */
void fuzz_fence_selftest(void);

/* Aborts with a message: a broken invariant, which libFuzzer reports as a
 * crash with this input. */
__attribute__((noreturn, format(printf, 1, 2)))
void fuzz_die(const char *fmt, ...);
#define FUZZ_CHECK(c) do { if (!(c)) fuzz_die("%s:%d: check failed: %s", __FILE__, __LINE__, #c); } while (0)

#endif
