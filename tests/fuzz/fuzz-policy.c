/* SPDX-License-Identifier: MIT */
/* Seccomp policies (supervisor/policy*.c): policy_load, parse and compile,
 * on the input, then policy_free.
 *
 * Input: up to four policy files separated by NUL bytes, written to
 * scratch/main.policy, a.policy, b.policy and c.policy (a file whose part
 * is missing does not exist), so that @include, nesting, cycles and
 * conflicts across files are reachable.  The repository's policies are in
 * the scratch directory too (base.policy, runtime.policy, ...).  The main
 * file is loaded.  An @include that resolves outside the scratch directory
 * is refused by the realpath fence (fuzz-fence.c). */
#include <errno.h>
#include <linux/filter.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const files[] = { "main.policy", "a.policy", "b.policy", "c.policy" };
#define NFILES (sizeof(files) / sizeof(files[0]))
static char main_path[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_scratch_init("policy");
    fuzz_copy_policies(".");
    snprintf(main_path, sizeof(main_path), "%s", fuzz_path(files[0]));
    fuzz_fence_selftest();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t start = 0;
    for (size_t f = 0; f < NFILES; f++) {
        if (start > size) {
            unlink(fuzz_path(files[f]));
            continue;
        }
        const uint8_t *nul = f + 1 < NFILES ? memchr(data + start, '\0', size - start) : NULL;
        size_t end = nul ? (size_t)(nul - data) : size;
        fuzz_write(files[f], data + start, end - start, 0644);
        start = end + 1; /* past the NUL; past size when there was none */
    }

    struct policy *pol = NULL;
    char err[512];
    memset(err, 0, sizeof(err));
    fuzz_fence(true);
    int r = policy_load(main_path, &pol, err, sizeof(err));
    fuzz_fence(false);
    FUZZ_CHECK(fuzz_seccomp_live == 0); /* libseccomp's own leaks are suppressed (fuzz-fence.c) */
    if (r == 0) {
        FUZZ_CHECK(pol && strcmp(pol->path, main_path) == 0);
        FUZZ_CHECK(pol->prog.filter && pol->prog.len > 0 && pol->prog.len <= BPF_MAXINSNS);
        FUZZ_CHECK(pol->action == POLICY_KILL || pol->action == POLICY_LOG ||
                   (pol->action == POLICY_ERRNO && pol->err > 0 && pol->err < 4096));
        /* the program ends in a return, and every jump lands inside it */
        const struct sock_filter *in = pol->prog.filter;
        unsigned n = pol->prog.len;
        FUZZ_CHECK(BPF_CLASS(in[n - 1].code) == BPF_RET);
        for (unsigned i = 0; i < n; i++)
            if (BPF_CLASS(in[i].code) == BPF_JMP)
                FUZZ_CHECK(BPF_OP(in[i].code) == BPF_JA ? i + 1 + in[i].k < n
                                                        : i + 1 + in[i].jt < n && i + 1 + in[i].jf < n);
        policy_free(pol);
    } else {
        FUZZ_CHECK(pol == NULL);
        /* every refusal says why, in one line */
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
    }
    return 0;
}
