/* SPDX-License-Identifier: MIT */
/* uipc-bridge's frames as another host sends them (tools/bridge-wire.c):
 * the input is one NNG message body.  What decodes must be what an encoder
 * would write: payloads inside the message, names printable and
 * terminated, and a HELLO, a CALL's or a REPLY's fixed part encoded again
 * byte for byte; the status mappings answer for any outcome and status. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uipc/module.h>

#include "bridge-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_hello(const uint8_t *data, size_t size, const struct bridge_frame *f)
{
    const char *names[BRIDGE_MAX_SERVICES];
    for (unsigned i = 0; i < f->nservices; i++) {
        size_t l = strlen(f->services[i]);
        assert(l > 0 && l <= BRIDGE_NAME_MAX);
        names[i] = f->services[i];
    }
    uint8_t *again = malloc(size);
    assert(again);
    int n = bridge_put_hello(again, size, f->session, f->id, names, f->nservices);
    assert(n == (int)size && memcmp(again, data, size) == 0);
    free(again);
}

static void check_fixed(const uint8_t *data, const struct bridge_frame *f)
{
    uint8_t again[BRIDGE_CALL_HDR];
    bridge_put_hdr(again, f->type, f->outcome, f->session, f->id);
    assert(memcmp(again, data, BRIDGE_HDR) == 0);
    if (f->type == BR_CALL) {
        bridge_put_call(again + BRIDGE_HDR, f->service, f->opcode, f->timeout_ms);
        assert(memcmp(again, data, BRIDGE_CALL_HDR) == 0);
        assert(f->payload == data + BRIDGE_CALL_HDR);
    }
    if (f->type == BR_REPLY) {
        bridge_put_reply(again + BRIDGE_HDR, f->status);
        assert(memcmp(again, data, BRIDGE_REPLY_HDR) == 0);
        assert(f->payload == data + BRIDGE_REPLY_HDR);
        int st = bridge_caller_status((enum bridge_outcome)f->outcome, f->status);
        /* a call that did not run never looks like one that may have */
        if (f->outcome == BR_NOT_RUN)
            assert(st != -UIPC_ELINKLOST);
        if (f->outcome == BR_MAY_HAVE_RUN)
            assert(st != -UIPC_ENOLINK);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bridge_frame *f = malloc(sizeof(*f));
    assert(f);
    if (bridge_decode(data, size, f) == 0) {
        if (f->type == BR_HELLO)
            check_hello(data, size, f);
        else
            check_fixed(data, f);
        if (f->payload)
            assert(f->payload + f->len == data + size);
    }
    bridge_outcome_of(size & 1, (int)(size > 4 ? (int32_t)(data[0] | data[1] << 8 | data[2] << 16 | (uint32_t)data[3] << 24) : 0));
    free(f);
    return 0;
}
