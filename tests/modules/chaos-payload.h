/* SPDX-License-Identifier: MIT */
/* The chaos test's payload: a sequence number, a length between 16 and
 * CHAOS_MAX_PAYLOAD, bytes drawn from the sequence number, and an FNV-1a
 * checksum over all of it.  The server checks the request's checksum and
 * flips the reply's last byte's meaning with a marker, so a reply that is
 * the untouched request (never served) fails the client's check. */
#ifndef UIPC_TEST_CHAOS_PAYLOAD_H
#define UIPC_TEST_CHAOS_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CHAOS_MAX_PAYLOAD 512
#define CHAOS_HDR 16 /* seq (8), checksum (4), marker (4) */

static inline uint32_t chaos_fnv(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* len >= CHAOS_HDR; the body after the header is derived from seq. */
static inline void chaos_payload_make(unsigned char *p, size_t len, uint64_t seq)
{
    memset(p, 0, CHAOS_HDR);
    memcpy(p, &seq, 8);
    for (size_t i = CHAOS_HDR; i < len; i++)
        p[i] = (unsigned char)(seq * 131 + i * 7);
    uint32_t sum = chaos_fnv(p, len);
    memcpy(p + 8, &sum, 4);
}

static inline bool chaos_payload_ok(const unsigned char *p, size_t len)
{
    unsigned char tmp[CHAOS_MAX_PAYLOAD];
    uint32_t sum;
    if (len < CHAOS_HDR || len > CHAOS_MAX_PAYLOAD)
        return false;
    memcpy(tmp, p, len);
    memcpy(&sum, tmp + 8, 4);
    memset(tmp + 8, 0, 8);
    return chaos_fnv(tmp, len) == sum;
}

#define CHAOS_REPLY_MARK 0x52504c59u /* "RPLY" */

static inline void chaos_payload_mark_reply(unsigned char *p, size_t len)
{
    uint32_t mark = CHAOS_REPLY_MARK;
    (void)len;
    memcpy(p + 12, &mark, 4);
}

/* The reply to exactly the request (seq, len) made: served, whole. */
static inline bool chaos_reply_ok(const unsigned char *p, size_t len, size_t want_len, uint64_t seq)
{
    unsigned char tmp[CHAOS_MAX_PAYLOAD];
    uint32_t mark;
    uint64_t got;
    if (len != want_len || len < CHAOS_HDR || len > CHAOS_MAX_PAYLOAD)
        return false;
    memcpy(tmp, p, len);
    memcpy(&mark, tmp + 12, 4);
    memcpy(&got, tmp, 8);
    memset(tmp + 12, 0, 4);
    return mark == CHAOS_REPLY_MARK && got == seq && chaos_payload_ok(tmp, len);
}

#ifdef UIPC_MODULE_H
/* A handler for chaos payloads: the request copied out of shared memory
 * once, checked, and echoed marked as a reply.  -EINVAL for a request
 * whose checksum is wrong. */
static inline int chaos_echo(uipc_req *req)
{
    size_t len, cap;
    unsigned char copy[CHAOS_MAX_PAYLOAD];
    const void *data = uipc_req_data(req, &len);
    if (len > sizeof(copy))
        return -22;
    memcpy(copy, data, len);
    if (!chaos_payload_ok(copy, len))
        return -22;
    unsigned char *out = uipc_req_reply_buf(req, &cap);
    if (cap < len)
        return -90;
    memcpy(out, copy, len);
    chaos_payload_mark_reply(out, len);
    uipc_req_reply(req, len);
    return (int)len;
}
#endif

#endif
