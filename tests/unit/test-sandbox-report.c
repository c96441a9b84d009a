/* SPDX-License-Identifier: MIT */
/* supervisor/sandbox-report.c: the parts that read /proc's text, on text
 * as the kernel writes it, and the whole report on this process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox-report.h"

static const char status[] = "Name:\tprobe\nUmask:\t0022\nState:\tS (sleeping)\n"
                             "Uid:\t61236\t61236\t61236\t61236\nGid:\t61236\t61236\t61236\t61236\n"
                             "Groups:\t\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n"
                             "Seccomp_filters:\t1\n";

static void test_field(void **state)
{
    (void)state;
    char *v = sandbox_report_field(status, "Uid");
    assert_string_equal(v, "61236 61236 61236 61236");
    free(v);
    v = sandbox_report_field(status, "Groups");
    assert_string_equal(v, "");
    free(v);
    v = sandbox_report_field(status, "Seccomp"); /* not Seccomp_filters */
    assert_string_equal(v, "2");
    free(v);
    v = sandbox_report_field(status, "CapAmb"); /* absent */
    assert_string_equal(v, "");
    free(v);
}

static void test_mounts(void **state)
{
    (void)state;
    static const char mi[] =
        "600 500 0:31 / / ro,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "601 600 0:5 / /dev ro,nosuid - devtmpfs udev rw\n"
        "602 600 0:22 / /proc ro,nosuid - proc proc rw\n"
        "603 600 0:40 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw,size=65536k\n"
        "604 603 0:31 /var/lib/kv /var/lib/kv rw,relatime - ext4 /dev/sda1 rw\n"
        "605 600 0:41 / /run/x rw - tmpfs tmpfs rw\n";
    bool ro;
    char **w;
    size_t n;
    assert_int_equal(sandbox_report_mounts(mi, &ro, &w, &n), 0);
    assert_true(ro);
    assert_int_equal(n, 3);
    assert_string_equal(w[0], "/tmp");
    assert_string_equal(w[1], "/var/lib/kv");
    assert_string_equal(w[2], "/run/x");
    for (size_t i = 0; i < n; i++)
        free(w[i]);
    free(w);
    /* a writable root, and the last mount on / is the one seen */
    assert_int_equal(sandbox_report_mounts("1 0 0:1 / / ro - ext4 a rw\n2 1 0:2 / / rw - tmpfs b rw\n", &ro, &w, &n), 0);
    assert_false(ro);
    for (size_t i = 0; i < n; i++)
        free(w[i]);
    free(w);
}

/* The whole report, on this process: what /proc/self says. */
static void test_self(void **state)
{
    (void)state;
    Uipc__Control__SandboxReport r = UIPC__CONTROL__SANDBOX_REPORT__INIT;
    assert_int_equal(sandbox_report(getpid(), &r), 0);
    assert_int_equal(r.pid, getpid());
    assert_non_null(strchr(r.uid, ' '));
    assert_int_equal(r.n_limits, 5);
    assert_string_equal(r.limits[1]->name, "nofile");
    assert_int_equal(r.n_namespaces, 0); /* its own: the same as the "supervisor's" */
    sandbox_report_free(&r);
    Uipc__Control__SandboxReport gone = UIPC__CONTROL__SANDBOX_REPORT__INIT;
    assert_int_equal(sandbox_report(0x7ffffff0, &gone), -ESRCH);
    sandbox_report_free(&gone);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field),
        cmocka_unit_test(test_mounts),
        cmocka_unit_test(test_self),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
