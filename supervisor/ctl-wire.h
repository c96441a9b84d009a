/* SPDX-License-Identifier: MIT */
/* The control socket's framing (schemas/control.proto): a 4-byte
 * little-endian length, then that many bytes of a packed message.  Shared
 * by the supervisor and uipcctl. */
#ifndef UIPC_SV_CTL_WIRE_H
#define UIPC_SV_CTL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define CTL_HDR 4
#define CTL_MAX_MSG (1u << 20) /* larger is refused, and the connection closed */

/* malloc'd frame (header + message) in *out, its size in *len; 0 or -errno. */
int ctl_wire_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len);
/* The length a header announces. */
uint32_t ctl_wire_len(const uint8_t hdr[CTL_HDR]);

/* Blocking helpers for a client: one whole frame out, one whole frame in
 * (unpacked with type; free with protobuf_c_message_free_unpacked).  0 or
 * -errno: -EPIPE/-ECONNRESET when the peer went away, -EMSGSIZE for a frame
 * over CTL_MAX_MSG, -EBADMSG when it does not decode, -ETIMEDOUT after
 * timeout_ms (0: none). */
/* A socket connected to the control socket at path, or -errno;
 * timeout_ms (0: none) bounds a connect waiting on a full backlog. */
int ctl_wire_connect(const char *path, int timeout_ms);
int ctl_wire_send(int fd, const ProtobufCMessage *msg, int timeout_ms);
int ctl_wire_recv(int fd, const ProtobufCMessageDescriptor *type, ProtobufCMessage **out,
                  int timeout_ms);
/* One request on a connection of its own and its reply (unpacked with
 * type), connect, send and receive sharing timeout_ms (0: none); 0 or one
 * of the -errno above. */
int ctl_wire_call(const char *path, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *type,
                  ProtobufCMessage **out, int timeout_ms);

#endif
