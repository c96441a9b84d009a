/* SPDX-License-Identifier: MIT */
/* struct conf: made with the defaults, freed, and looked up by module and
 * service name. */
#include <stdlib.h>
#include <string.h>

#include "config-parse.h"
#include "policy.h"

const char *const conf_log_names[] = { "debug", "info", "warn", "error", NULL };
const char *const conf_log_format_names[] = { "text", "json", "journal", NULL };

int conf_module_index(const struct conf *c, const char *name)
{
    for (unsigned i = 0; i < c->nmod; i++)
        if (strcmp(c->mod[i].name, name) == 0)
            return (int)i;
    return -1;
}

int conf_provider(const struct conf *c, const char *service)
{
    for (unsigned i = 0; i < c->nmod; i++)
        for (unsigned j = 0; j < c->mod[i].nprovides; j++)
            if (strcmp(c->mod[i].provides[j], service) == 0)
                return (int)i;
    return -1;
}

struct conf *conf__new(const char *path)
{
    struct conf *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->path = strdup(path);
    c->control_socket = strdup("/run/uipc/control.sock");
    c->heartbeat_interval_ms = 100;
    c->hang_timeout_ms = 1000;
    c->shutdown_timeout_ms = 3000;
    c->log_level = LOG_INFO;
    c->log_format = LOGF_TEXT;
    c->uid_first = 61184; /* systemd's DynamicUser= range */
    c->uid_last = 65519;
    if (!c->path || !c->control_socket) {
        conf_free(c);
        return NULL;
    }
    return c;
}

void conf_free(struct conf *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->nmod; i++) {
        struct conf_module *m = &c->mod[i];
        free(m->exec); /* argv[0] is exec */
        for (unsigned j = 1; m->argv[j]; j++)
            free(m->argv[j]);
        for (unsigned j = 0; m->env[j]; j++)
            free(m->env[j]);
        free(m->policy);
        policy_free(m->pol);
        for (unsigned j = 0; j < m->nwritable; j++)
            free(m->writable[j]);
    }
    free(c->path);
    free(c->control_socket);
    free(c->metrics_socket);
    free(c->policy_dir);
    free(c);
}
