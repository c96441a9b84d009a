/* SPDX-License-Identifier: MIT */
/* uipc-bridge's frames, one per NNG message: encoding, and decoding that
 * trusts nothing (a frame comes from another host).  Pure: unit-tested
 * and fuzzed apart from the bridge.
 *
 * Every frame starts with a 24-byte header, little-endian:
 *   magic u32 "UBR1" | type u8 | outcome u8 | reserved u16 (0) |
 *   session u64 | id u64
 * `session` is the receiver's session nonce, which it announced in its
 * HELLO on this connection: a frame queued before the connection existed
 * (NNG sends what its socket holds to whichever peer comes next) carries
 * an older one and is dropped, so a call is never delivered across a
 * reconnect.  After the header, by type:
 *   HELLO  id = the sender's nonce; u16 count, then count names (u8 len,
 *          bytes): the services the sender imports (provides locally)
 *   CALL   id = call id; u16 service (index in the receiver's HELLO list
 *          as the sender received it), u32 opcode, u32 timeout_ms (0: none),
 *          payload
 *   REPLY  id = the call's id; outcome; i32 status, payload
 *   PING   id = the sender's clock (ns), echoed by PONG
 *   PONG */
#ifndef UIPC_BRIDGE_WIRE_H
#define UIPC_BRIDGE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRIDGE_MAGIC 0x31524255u /* "UBR1" */
#define BRIDGE_HDR 24u
#define BRIDGE_CALL_HDR (BRIDGE_HDR + 10u)
#define BRIDGE_REPLY_HDR (BRIDGE_HDR + 4u)
#define BRIDGE_MAX_SERVICES 126u /* a module's channels at most */
#define BRIDGE_NAME_MAX 63u
/* Calls out at once on one side (import) and, the most --max-inflight
 * allows, calls served for the other: together within NNG's largest
 * send buffer (8192 frames), so a frame is never refused for room. */
#define BRIDGE_MAX_OUT 4000u
#define BRIDGE_MAX_INFLIGHT 4096u
#define BRIDGE_RECVBUF 128 /* frames NNG holds for us before TCP pushes back */

enum bridge_type { BR_HELLO = 1, BR_CALL, BR_REPLY, BR_PING, BR_PONG };

/* What a REPLY says of the command. */
enum bridge_outcome {
    BR_RAN = 0,      /* status is the remote handler's (or a code a server may pass) */
    BR_NOT_RUN = 1,  /* the remote side never sent it to the service */
    BR_MAY_HAVE_RUN = 2, /* sent, then the remote call failed in transport */
};

struct bridge_frame {
    uint8_t type, outcome;
    uint64_t session, id;
    /* CALL */
    uint16_t service;
    uint32_t opcode, timeout_ms;
    /* REPLY */
    int32_t status;
    /* CALL, REPLY: points into the decoded buffer */
    const uint8_t *payload;
    size_t len;
    /* HELLO; last: decoding clears every field before it */
    uint16_t nservices;
    char services[BRIDGE_MAX_SERVICES][BRIDGE_NAME_MAX + 1];
};

/* Decodes buf (len bytes) into *f.  -EBADMSG for anything malformed:
 * short, wrong magic or reserved bits, unknown type or outcome, names
 * out of bounds or not printable, trailing bytes where none belong. */
int bridge_decode(const uint8_t *buf, size_t len, struct bridge_frame *f);

/* Writes a header into buf (BRIDGE_HDR bytes). */
void bridge_put_hdr(uint8_t *buf, enum bridge_type type, uint8_t outcome, uint64_t session, uint64_t id);
/* The fixed parts after the header of a CALL and a REPLY. */
void bridge_put_call(uint8_t *buf, uint16_t service, uint32_t opcode, uint32_t timeout_ms);
void bridge_put_reply(uint8_t *buf, int32_t status);
/* A whole HELLO into buf (cap bytes); its length, or -ENOSPC / -EINVAL
 * (a name too long, too many). */
int bridge_put_hello(uint8_t *buf, size_t cap, uint64_t session, uint64_t nonce,
                     const char *const *names, unsigned n);

/* The exporting side: what its REPLY says of a local call that uipc_call
 * refused (issued false) or that completed with status. */
enum bridge_outcome bridge_outcome_of(bool issued, int status);
/* The importing side: what its caller is answered for a REPLY.  A call
 * that surely did not run (-UIPC_ENOLINK) never looks like one that may
 * have (-UIPC_ELINKLOST). */
int bridge_caller_status(enum bridge_outcome outcome, int32_t status);

#endif
