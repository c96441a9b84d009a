/* SPDX-License-Identifier: MIT */
/* The kv service's commands, shared by its server and its clients. */
#ifndef UIPC_EXAMPLE_KV_H
#define UIPC_EXAMPLE_KV_H

enum { KV_PUT = 1, KV_GET = 2, KV_DEL = 3 };
#define KV_KEY_MAX 255

#endif
