/* SPDX-License-Identifier: MIT */
/* An event as a journald entry, native fields (log.h), when built with
 * libsystemd. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef UIPC_HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
/* sd-journal.h includes <syslog.h>, whose LOG_DEBUG and LOG_INFO macros
 * would rename enum conf_log's constants of the same names. */
#undef LOG_DEBUG
#undef LOG_INFO
#endif

#include "log.h"

#ifdef UIPC_HAVE_LIBSYSTEMD
/* At most this many fields an event carries, besides the fixed ones. */
#define JOURNAL_FIELDS 8
#define VALUE_MAX 1100
/* where libsystemd sends to */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* "UIPC_KEY=value" into buf: journald's field names are upper case. */
static struct iovec journal_field(char *buf, size_t len, const struct sv_field *f)
{
    size_t n = (size_t)snprintf(buf, len, "UIPC_");
    for (const char *k = f->key; *k && n < 64; k++)
        buf[n++] = (char)toupper((unsigned char)*k);
    buf[n++] = '=';
    if (f->str)
        snprintf(buf + n, len - n, "%s", f->str);
    else
        snprintf(buf + n, len - n, "%lld", f->num);
    return (struct iovec){ buf, strlen(buf) };
}

int sv__journal_send(enum conf_log level, enum sv_ev ev, const char *module, const char *msg,
                     const struct sv_field *f, size_t nf)
{
    static char fixed[5][VALUE_MAX], fields[JOURNAL_FIELDS][VALUE_MAX];
    static const char ident[] = "SYSLOG_IDENTIFIER=uipc-supervisor";
    struct iovec iov[6 + JOURNAL_FIELDS];
    int n = 0;
    /* sd_journal_sendv drops an entry and returns 0 when journald's socket
     * does not exist: asked first, so that the entry goes to stderr. */
    if (access(JOURNAL_SOCKET, F_OK) < 0)
        return -errno;
    snprintf(fixed[0], sizeof(fixed[0]), "MESSAGE=%s", msg);
    snprintf(fixed[1], sizeof(fixed[1]), "PRIORITY=%d", sv__log_priority(level));
    snprintf(fixed[2], sizeof(fixed[2]), "MESSAGE_ID=%s", sv_event_defs[ev].message_id);
    snprintf(fixed[3], sizeof(fixed[3]), "UIPC_EVENT=%s", sv_event_defs[ev].name);
    snprintf(fixed[4], sizeof(fixed[4]), "UIPC_MODULE=%s", module ? module : "");
    for (int k = 0; k < (module ? 5 : 4); k++)
        iov[n++] = (struct iovec){ fixed[k], strlen(fixed[k]) };
    iov[n++] = (struct iovec){ (void *)ident, sizeof(ident) - 1 };
    for (size_t i = 0; i < nf && i < JOURNAL_FIELDS; i++)
        iov[n++] = journal_field(fields[i], sizeof(fields[i]), &f[i]);
    return sd_journal_sendv(iov, n);
}
#else
int sv__journal_send(enum conf_log level, enum sv_ev ev, const char *module, const char *msg,
                     const struct sv_field *f, size_t nf)
{
    (void)level, (void)ev, (void)module, (void)msg, (void)f, (void)nf;
    return -ENOSYS; /* the config refuses log_format = journal */
}
#endif
