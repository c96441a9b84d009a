/* SPDX-License-Identifier: MIT */
/* A module's stdout and stderr, line by line into the supervisor's log,
 * each line prefixed with the module's name. */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "sv-internal.h"

static void flush_line(struct sv_mod *m)
{
    m->line[m->linelen] = '\0';
    sv_ev(OUTPUT, m->cf->name, SV_FIELDS(SV_STR("line", m->line)), "%s: %s", m->cf->name, m->line);
    m->linelen = 0;
}

static void take(struct sv_mod *m, const char *buf, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (buf[k] == '\n' || m->linelen == OUT_LINE - 1) {
            if (buf[k] != '\n')
                m->line[m->linelen++] = buf[k];
            flush_line(m);
        } else {
            m->line[m->linelen++] = buf[k];
        }
    }
}

void sv_output(struct sv *s, unsigned i)
{
    struct sv_mod *m = &s->mod[i];
    char buf[4096];
    /* Bounded per event: a module that floods cannot starve the loop. */
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n = read(m->ch.out, buf, sizeof(buf));
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) { /* EOF: the module and its children closed it */
            if (m->linelen)
                flush_line(m);
            epoll_ctl(s->ep, EPOLL_CTL_DEL, m->ch.out, NULL);
            close(m->ch.out);
            m->ch.out = -1;
            return;
        }
        take(m, buf, (size_t)n);
    }
}
