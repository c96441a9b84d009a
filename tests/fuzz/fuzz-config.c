/* SPDX-License-Identifier: MIT */
/* modules.conf (supervisor/config*.c): conf_load on the input, in a scratch
 * directory laid out like the examples and tests/unit/test-config.c.
 *
 * Input: the modules.conf text, then optionally a NUL and the text of a
 * policy the config may name ("policy = fuzz.policy"; the file always
 * exists, empty without that part).
 *
 *   scratch/conf/modules.conf            the input
 *   scratch/conf/fuzz.policy             the part after the first NUL
 *   scratch/conf/{mod,kv-server,echo-server,demo-client}
 *                                        executable files (never run)
 *   scratch/conf/notexec                 a file that is not executable
 *   scratch/conf/policies/, scratch/policies/
 *                                        the repository's *.policy files, for
 *                                        "policies/x" and "../policies/x"
 *
 * Nothing is executed: config-os.c only stat()s the exec paths.  Policies
 * resolved outside the scratch directory are refused by the realpath fence
 * (fuzz-fence.c), so an input cannot make the policy compiler read an
 * arbitrary file of this machine. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "fuzz-common.h"
#include "policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char conf_path[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char script[] = "#!/bin/sh\nexit 0\n";
    fuzz_scratch_init("config");
    if (mkdir(fuzz_path("conf"), 0755) < 0)
        fuzz_die("mkdir conf");
    const char *const execs[] = { "mod", "kv-server", "echo-server", "demo-client" };
    for (size_t i = 0; i < sizeof(execs) / sizeof(execs[0]); i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "conf/%s", execs[i]);
        fuzz_write(rel, script, sizeof(script) - 1, 0755);
    }
    fuzz_write("conf/notexec", "data\n", 5, 0644);
    fuzz_copy_policies("conf/policies");
    fuzz_copy_policies("policies");
    snprintf(conf_path, sizeof(conf_path), "%s", fuzz_path("conf/modules.conf"));
    fuzz_fence_selftest();
    return 0;
}

static void check_loaded(const struct conf *c)
{
    FUZZ_CHECK(c->nmod >= 1 && c->nmod <= CONF_MAX_MODULES);
    FUZZ_CHECK(strcmp(c->path, conf_path) == 0);
    FUZZ_CHECK(c->control_socket && c->control_socket[0] == '/');
    FUZZ_CHECK(c->hang_timeout_ms > c->heartbeat_interval_ms);
    for (unsigned i = 0; i < c->nmod; i++) {
        const struct conf_module *m = &c->mod[i];
        FUZZ_CHECK(memchr(m->name, '\0', sizeof(m->name)) && m->name[0]);
        FUZZ_CHECK(conf_module_index(c, m->name) == (int)i);
        FUZZ_CHECK(m->exec && m->exec == m->argv[0] && m->exec[0] == '/');
        unsigned n = 1;
        while (m->argv[n])
            n++;
        FUZZ_CHECK(n <= CONF_MAX_LIST + 1);
        FUZZ_CHECK(m->nprovides <= CONF_MAX_LIST && m->nconnects <= CONF_MAX_LIST &&
                   m->nafter <= CONF_MAX_LIST);
        for (unsigned j = 0; j < m->nprovides; j++)
            FUZZ_CHECK(conf_provider(c, m->provides[j]) == (int)i);
        for (unsigned j = 0; j < m->nconnects; j++) {
            int p = conf_provider(c, m->connects[j].service);
            FUZZ_CHECK(p >= 0 && p != (int)i);
        }
        for (unsigned j = 0; j < m->nafter; j++) {
            int k = conf_module_index(c, m->after[j]);
            FUZZ_CHECK(k >= 0 && k != (int)i);
        }
        FUZZ_CHECK(m->backoff_ms <= m->backoff_max_ms);
        FUZZ_CHECK(!m->policy == !m->pol);
        if (m->pol)
            FUZZ_CHECK(m->pol->prog.len > 0 && m->pol->prog.filter);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t conf_len = nul ? (size_t)(nul - data) : size;
    fuzz_write("conf/modules.conf", data, conf_len, 0644);
    fuzz_write("conf/fuzz.policy", nul ? nul + 1 : data, nul ? size - conf_len - 1 : 0, 0644);

    struct conf *c = NULL;
    char err[CONF_ERR_MAX];
    memset(err, 0, sizeof(err));
    fuzz_fence(true);
    int r = conf_load(conf_path, &c, err, sizeof(err));
    fuzz_fence(false);
    FUZZ_CHECK(fuzz_seccomp_live == 0); /* libseccomp's own leaks are suppressed (fuzz-fence.c) */
    if (r == 0) {
        FUZZ_CHECK(c != NULL);
        check_loaded(c);
        conf_free(c);
    } else {
        /* every refusal says why, in one line */
        FUZZ_CHECK(r == -EINVAL && c == NULL);
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
    }
    return 0;
}
