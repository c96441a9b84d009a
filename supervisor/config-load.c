/* SPDX-License-Identifier: MIT */
/* conf_load and conf_load_again: modules.conf read key by key
 * (config-read.c, config-keys.c), then checked module by module and as a
 * whole, in a fixed order: the first problem found is the one reported. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config-parse.h"

/* Each module, in file order, goes through these in this order before the
 * next module: a module's dynamic uid depends on the ones before it (and
 * on the ones every module keeps from a previous load, pinned first). */
static bool (*const module_checks[])(struct parse *, unsigned) = {
    conf__check_exec, conf__check_services, conf__check_after_names,
    conf__sandbox_defaults, conf__dynamic_uid, conf__check_sandbox, conf__check_policy,
};

/* Then the file as a whole. */
static bool (*const file_checks[])(struct parse *) = {
    conf__check_channel_counts, conf__check_after_cycles, conf__check_timeouts,
};

static bool check_all(struct parse *p)
{
    if (p->c->nmod == 0)
        return conf__fail(p, p->line, "no [module NAME] section");
    conf__pin_uids(p);
    for (unsigned i = 0; i < p->c->nmod; i++)
        for (size_t k = 0; k < sizeof(module_checks) / sizeof(module_checks[0]); k++)
            if (!module_checks[k](p, i))
                return false;
    for (size_t k = 0; k < sizeof(file_checks) / sizeof(file_checks[0]); k++)
        if (!file_checks[k](p))
            return false;
    return true;
}

int conf_load(const char *path, struct conf **out, char *err, size_t errlen)
{
    return conf_load_again(path, NULL, out, err, errlen);
}

int conf_load_again(const char *path, const struct conf *prev, struct conf **out, char *err, size_t errlen)
{
    struct parse *p = calloc(1, sizeof(*p));
    struct conf *c = conf__new(path);
    int ret = -ENOMEM;
    if (!p || !c)
        goto out;
    *p = (struct parse){ .c = c, .err = err, .errlen = errlen, .prev = prev };
    for (int r = 0; r < RL_COUNT; r++)
        p->rl_default[r] = CONF_RLIM_UNSET;
    p->f = fopen(path, "re");
    if (!p->f) {
        ret = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    int r = ini_parse_stream(conf__reader, p, conf__key, p);
    if (r > 0 && !p->failed)
        conf__fail(p, r, "syntax error (expected KEY = VALUE, [supervisor] or [module NAME])");
    if (!p->failed && ferror(p->f))
        conf__fail(p, p->line, "read error");
    if (!p->failed)
        check_all(p);
    ret = p->failed ? -EINVAL : 0;
out:
    if (p && p->f)
        fclose(p->f);
    free(p);
    if (ret == 0)
        *out = c;
    else
        conf_free(c);
    return ret;
}
