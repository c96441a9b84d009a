/* SPDX-License-Identifier: MIT */
/* uipc-bridge's frames (bridge-wire.h). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <uipc/module.h>

#include "bridge-wire.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

void bridge_put_hdr(uint8_t *buf, enum bridge_type type, uint8_t outcome, uint64_t session, uint64_t id)
{
    put32(buf, BRIDGE_MAGIC);
    buf[4] = (uint8_t)type;
    buf[5] = outcome;
    put16(buf + 6, 0);
    put64(buf + 8, session);
    put64(buf + 16, id);
}

void bridge_put_call(uint8_t *buf, uint16_t service, uint32_t opcode, uint32_t timeout_ms)
{
    put16(buf, service);
    put32(buf + 2, opcode);
    put32(buf + 6, timeout_ms);
}

void bridge_put_reply(uint8_t *buf, int32_t status)
{
    put32(buf, (uint32_t)status);
}

int bridge_put_hello(uint8_t *buf, size_t cap, uint64_t session, uint64_t nonce,
                     const char *const *names, unsigned n)
{
    if (n > BRIDGE_MAX_SERVICES)
        return -EINVAL;
    size_t len = BRIDGE_HDR + 2;
    for (unsigned i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        if (l == 0 || l > BRIDGE_NAME_MAX)
            return -EINVAL;
        len += 1 + l;
    }
    if (len > cap)
        return -ENOSPC;
    bridge_put_hdr(buf, BR_HELLO, 0, session, nonce);
    put16(buf + BRIDGE_HDR, (uint16_t)n);
    uint8_t *p = buf + BRIDGE_HDR + 2;
    for (unsigned i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        *p++ = (uint8_t)l;
        memcpy(p, names[i], l);
        p += l;
    }
    return (int)len;
}

/* A service name as the config allows it: printable, no spaces, no
 * separators the manifest uses. */
static bool name_ok(const uint8_t *p, size_t len)
{
    if (len == 0 || len > BRIDGE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == ',' || p[i] == ':')
            return false;
    return true;
}

static int decode_hello(const uint8_t *p, size_t len, struct bridge_frame *f)
{
    if (len < 2)
        return -EBADMSG;
    f->nservices = get16(p);
    if (f->nservices > BRIDGE_MAX_SERVICES)
        return -EBADMSG;
    size_t off = 2;
    for (unsigned i = 0; i < f->nservices; i++) {
        if (off >= len)
            return -EBADMSG;
        size_t l = p[off++];
        if (l > len - off || !name_ok(p + off, l))
            return -EBADMSG;
        memcpy(f->services[i], p + off, l);
        f->services[i][l] = '\0';
        off += l;
    }
    return off == len ? 0 : -EBADMSG;
}

int bridge_decode(const uint8_t *buf, size_t len, struct bridge_frame *f)
{
    if (len < BRIDGE_HDR || get32(buf) != BRIDGE_MAGIC || get16(buf + 6) != 0)
        return -EBADMSG;
    memset(f, 0, offsetof(struct bridge_frame, services));
    f->type = buf[4];
    f->outcome = buf[5];
    f->session = get64(buf + 8);
    f->id = get64(buf + 16);
    const uint8_t *p = buf + BRIDGE_HDR;
    size_t rest = len - BRIDGE_HDR;
    if (f->outcome != 0 && f->type != BR_REPLY)
        return -EBADMSG;
    switch (f->type) {
    case BR_HELLO:
        return decode_hello(p, rest, f);
    case BR_CALL:
        if (rest < BRIDGE_CALL_HDR - BRIDGE_HDR)
            return -EBADMSG;
        f->service = get16(p);
        f->opcode = get32(p + 2);
        f->timeout_ms = get32(p + 6);
        f->payload = p + 10;
        f->len = rest - 10;
        return 0;
    case BR_REPLY:
        if (rest < BRIDGE_REPLY_HDR - BRIDGE_HDR || f->outcome > BR_MAY_HAVE_RUN)
            return -EBADMSG;
        f->status = (int32_t)get32(p);
        f->payload = p + 4;
        f->len = rest - 4;
        return 0;
    case BR_PING:
    case BR_PONG:
        return rest == 0 ? 0 : -EBADMSG;
    default:
        return -EBADMSG;
    }
}

enum bridge_outcome bridge_outcome_of(bool issued, int status)
{
    if (!issued || status == -UIPC_ENOSLOT) /* a queued call that never got a slot: never sent */
        return BR_NOT_RUN;
    if (status == -UIPC_EPEERDIED || status == -UIPC_EPROTO || status == -UIPC_ETIMEDOUT)
        return BR_MAY_HAVE_RUN;
    return BR_RAN;
}

int bridge_caller_status(enum bridge_outcome outcome, int32_t status)
{
    /* Said the same way on both hosts: the request was too big for the
     * remote slot, or the reply for one, or the caller's time ran out. */
    if (status == -UIPC_ETOOBIG || status == -UIPC_ETIMEDOUT)
        return status;
    switch (outcome) {
    case BR_NOT_RUN:
        return -UIPC_ENOLINK;
    case BR_MAY_HAVE_RUN:
        return -UIPC_ELINKLOST;
    default:
        return status; /* the remote handler's; our libmodule clamps what no server may say */
    }
}
