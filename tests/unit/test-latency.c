/* SPDX-License-Identifier: MIT */
/* libmodule/latency.h: every value falls into the one bucket whose bounds
 * hold it, buckets grow with the value, and the top bucket catches
 * everything past the range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "latency.h"

static void check_value(uint64_t v)
{
    unsigned b = uipc_lat_bucket(v);
    assert_true(b < UIPC_LAT_BUCKETS);
    if (b == UIPC_LAT_BUCKETS - 1)
        return; /* saturated */
    assert_true(v <= uipc_lat_upper(b));
    if (b > 0)
        assert_true(v > uipc_lat_upper(b - 1));
}

static void test_bounds(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < 100000; v++)
        check_value(v);
    for (uint64_t v = 100000; v < (1ull << 40); v += v / 7 + 1)
        check_value(v);
    for (unsigned s = 0; s < 64; s++) {
        check_value(1ull << s);
        check_value((1ull << s) - 1);
    }
}

static void test_monotonic(void **state)
{
    (void)state;
    unsigned last = 0;
    for (uint64_t v = 0; v < (1ull << 38); v = v * 3 / 2 + 1) {
        unsigned b = uipc_lat_bucket(v);
        assert_true(b >= last);
        last = b;
    }
    assert_int_equal(uipc_lat_bucket(UINT64_MAX), UIPC_LAT_BUCKETS - 1);
    /* resolution: a bucket spans at most a quarter of its values */
    for (unsigned b = 8; b < UIPC_LAT_BUCKETS - 1; b++)
        assert_true(uipc_lat_upper(b) - uipc_lat_upper(b - 1) <= uipc_lat_upper(b) / 4 + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
