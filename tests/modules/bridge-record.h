/* SPDX-License-Identifier: MIT */
/* test-bridge's records: the client writes one when it issues a call and
 * one when the call completes, the server one each time it runs a call,
 * each with a single write(2) to a file opened O_APPEND, so a record is
 * whole even when its writer is killed.  bridge-check joins them by call
 * id (tests/integration/test-bridge.sh). */
#ifndef UIPC_TEST_BRIDGE_RECORD_H
#define UIPC_TEST_BRIDGE_RECORD_H

#include <stdint.h>
#include <time.h>

enum { REC_ISSUE = 1, REC_DONE = 2, REC_RAN = 3 };
enum { REC_ASYNC = 0, REC_SYNC = 1 };

struct bridge_rec {
    uint64_t id;     /* the call's id: the first 8 bytes of its payload */
    int64_t t_us;    /* CLOCK_REALTIME, microseconds: the test's clock too (date +%s%6N) */
    int32_t status;  /* REC_DONE: the call's status */
    uint8_t type;    /* REC_ISSUE, REC_DONE, REC_RAN */
    uint8_t kind;    /* REC_ASYNC, REC_SYNC */
    uint8_t wrong;   /* REC_DONE: the reply was not the one this request asked for */
    uint8_t pad;
};
_Static_assert(sizeof(struct bridge_rec) == 24, "a record is 24 bytes");

static inline int64_t bridge_rec_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
