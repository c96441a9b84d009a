/* SPDX-License-Identifier: MIT */
/* modules.conf's lines: inih does the INI syntax through this reader,
 * which counts lines, reads section headers itself and refuses what inih
 * would take silently.  Every error names FILE:LINE; the first one stops
 * the load. */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config-parse.h"

bool conf__fail(struct parse *p, int line, const char *fmt, ...)
{
    if (p->failed)
        return false;
    p->failed = true;
    int n = snprintf(p->err, p->errlen, "%s:%d: ", p->c->path, line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->errlen)
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

bool conf__valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CONF_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static bool open_module(struct parse *p, char *name)
{
    struct conf *c = p->c;
    if (!conf__valid_name(name))
        return conf__fail(p, p->line, "bad module name '%s' (letters, digits, _ - . ; at most %d)",
                          name, CONF_NAME_MAX - 1);
    int first = conf_module_index(c, name);
    if (first >= 0)
        return conf__fail(p, p->line, "module '%s' defined twice (first at line %d)", name,
                          c->mod[first].line);
    if (c->nmod == CONF_MAX_MODULES)
        return conf__fail(p, p->line, "more than %d modules", CONF_MAX_MODULES);
    p->mod = &c->mod[c->nmod++];
    snprintf(p->mod->name, sizeof(p->mod->name), "%s", name);
    p->mod->line = p->line;
    p->mod->restart = RESTART_ON_FAILURE;
    p->mod->max_restarts = 5;
    p->mod->restart_window_s = 60;
    p->mod->backoff_ms = 100;
    p->mod->backoff_max_ms = 5000;
    for (int r = 0; r < RL_COUNT; r++)
        p->mod->rlimit[r] = CONF_RLIM_UNSET;
    p->sec = SEC_MODULE;
    return true;
}

/* Section headers are read here rather than in the inih handler, which
 * never hears of a section without keys. */
static bool section_header(struct parse *p, char *s)
{
    char *end = strchr(s, ']');
    if (!end)
        return conf__fail(p, p->line, "section header without ']'");
    *end = '\0';
    char *rest = trim(end + 1);
    if (*rest && *rest != ';' && *rest != '#')
        return conf__fail(p, p->line, "text after section header");
    char *name = trim(s + 1);
    if (strcmp(name, "supervisor") == 0) {
        if (p->c->seen & (1u << 31))
            return conf__fail(p, p->line, "second [supervisor] section");
        p->c->seen |= 1u << 31;
        p->c->line = p->line;
        p->sec = SEC_SUPERVISOR;
        return true;
    }
    if (strncmp(name, "module", 6) == 0 && isspace((unsigned char)name[6]))
        return open_module(p, trim(name + 6));
    return conf__fail(p, p->line, "unknown section [%s] (expected [supervisor] or [module NAME])", name);
}

char *conf__reader(char *str, int num, void *stream)
{
    struct parse *p = stream;
    if (p->failed || !fgets(str, num, p->f))
        return NULL;
    p->line++;
    size_t len = strlen(str);
    if (len && str[len - 1] != '\n' && !feof(p->f)) {
        conf__fail(p, p->line, "line longer than %d characters", num - 2);
        return NULL;
    }
    char line[512];
    snprintf(line, sizeof(line), "%s", str);
    char *t = trim(line);
    if (*t == '\0' || *t == ';' || *t == '#')
        return str;
    if (isspace((unsigned char)str[0])) {
        /* inih would glue it to the previous value */
        conf__fail(p, p->line, "indented line (continuation lines are not supported)");
        return NULL;
    }
    if (*t == '[' && !section_header(p, t))
        return NULL;
    return str;
}
