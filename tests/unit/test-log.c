/* SPDX-License-Identifier: MIT */
/* supervisor/log-format.c: the event table (names and MESSAGE_IDs unique
 * and well-formed), JSON strings (escapes, bytes that are not UTF-8, cuts)
 * and whole JSON lines; docs/architecture.md's table of them. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

static void test_table(void **state)
{
    (void)state;
    for (int i = 0; i < SV_EV_COUNT; i++) {
        const struct sv_event_def *d = &sv_event_defs[i];
        assert_non_null(d->name);
        assert_true(d->level >= LOG_DEBUG && d->level <= LOG_ERROR);
        for (const char *c = d->name; *c; c++)
            if (!islower((unsigned char)*c) && *c != '_')
                fail_msg("event %d: name '%s' is not [a-z_]", i, d->name);
        assert_int_equal(strlen(d->message_id), 32);
        for (const char *c = d->message_id; *c; c++)
            if (!isxdigit((unsigned char)*c) || isupper((unsigned char)*c))
                fail_msg("%s: MESSAGE_ID %s is not 32 lower-case hex digits", d->name, d->message_id);
        for (int k = 0; k < i; k++) {
            if (strcmp(d->name, sv_event_defs[k].name) == 0)
                fail_msg("two events are called %s", d->name);
            if (strcmp(d->message_id, sv_event_defs[k].message_id) == 0)
                fail_msg("%s and %s share MESSAGE_ID %s", sv_event_defs[k].name, d->name, d->message_id);
        }
    }
    assert_string_equal(sv_event_defs[SV_EV_OUTPUT].name, "output");
    assert_int_equal(sv__log_priority(LOG_DEBUG), 7);
    assert_int_equal(sv__log_priority(LOG_INFO), 6);
    assert_int_equal(sv__log_priority(LOG_WARN), 4);
    assert_int_equal(sv__log_priority(LOG_ERROR), 3);
}

/* docs/architecture.md (argv[1]) lists every kind of event, as a row of
 * its table. */
static const char *arch_path;

static void test_documented(void **state)
{
    (void)state;
    static char doc[1 << 18];
    FILE *f = fopen(arch_path, "re");
    assert_non_null(f);
    doc[fread(doc, 1, sizeof(doc) - 1, f)] = '\0';
    fclose(f);
    for (int i = 0; i < SV_EV_COUNT; i++) {
        char row[64];
        snprintf(row, sizeof(row), "\n| `%s` | ", sv_event_defs[i].name);
        if (!strstr(doc, row))
            fail_msg("%s: no row for event %s", arch_path, sv_event_defs[i].name);
    }
}

static void expect_str(const char *in, const char *want)
{
    char out[256];
    struct sv_buf b = { .p = out, .cap = sizeof(out) };
    sv__json_str(&b, in);
    if (strcmp(out, want) != 0)
        fail_msg("\"%s\": expected %s, got %s", in, want, out);
    assert_int_equal(b.len, strlen(want));
}

static void test_escapes(void **state)
{
    (void)state;
    expect_str("", "\"\"");
    expect_str("plain text, 42", "\"plain text, 42\"");
    expect_str("a \"quote\" and a \\", "\"a \\\"quote\\\" and a \\\\\"");
    expect_str("tab\tnew\nline\r\x01\x1f", "\"tab\\u0009new\\u000aline\\u000d\\u0001\\u001f\"");
    expect_str("\x7f", "\"\x7f\""); /* DEL needs no escape in JSON */
    /* UTF-8 kept as it is: 2, 3 and 4 bytes */
    expect_str("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void test_not_utf8(void **state)
{
    (void)state;
    expect_str("\xff", "\"\\ufffd\"");
    expect_str("a\x80z", "\"a\\ufffdz\"");                          /* a lone continuation */
    expect_str("\xc3", "\"\\ufffd\"");                              /* cut at the end */
    expect_str("\xc3(", "\"\\ufffd(\"");                            /* cut before ASCII */
    expect_str("\xc0\x80", "\"\\ufffd\\ufffd\"");                   /* overlong NUL */
    expect_str("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");        /* overlong '/' */
    expect_str("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");        /* a surrogate */
    expect_str("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* above U+10FFFF */
    expect_str("\xe2\x82", "\"\\ufffd\\ufffd\"");
}

/* Cut short, a string stays a string: whole escapes, whole characters. */
static void test_cut(void **state)
{
    (void)state;
    for (size_t cap = 6; cap < 40; cap++) {
        char out[64];
        struct sv_buf b = { .p = out, .cap = cap };
        sv__json_str(&b, "ab\"\xc3\xa9\n\xf0\x9f\x98\x80zz");
        assert_true(b.len < cap);
        assert_int_equal(out[0], '"');
        assert_int_equal(out[b.len - 1], '"');
        /* what is between the quotes is a prefix of the whole, cut between two characters */
        const char *whole = "\"ab\\\"\xc3\xa9\\u000a\xf0\x9f\x98\x80zz\"";
        const char *cuts[] = { "\"", "\"a", "\"ab", "\"ab\\\"", "\"ab\\\"\xc3\xa9", "\"ab\\\"\xc3\xa9\\u000a",
                               "\"ab\\\"\xc3\xa9\\u000a\xf0\x9f\x98\x80",
                               "\"ab\\\"\xc3\xa9\\u000a\xf0\x9f\x98\x80z", "\"ab\\\"\xc3\xa9\\u000a\xf0\x9f\x98\x80zz" };
        bool ok = false;
        for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++)
            ok |= b.len == strlen(cuts[k]) + 1 && memcmp(out, cuts[k], strlen(cuts[k])) == 0;
        if (!ok)
            fail_msg("cap %zu: %s is no prefix of %s cut between characters", cap, out, whole);
    }
}

static void test_event_line(void **state)
{
    (void)state;
    char out[512];
    struct sv_buf b = { .p = out, .cap = sizeof(out) };
    const struct sv_field f[] = { SV_NUM("pid", 42), SV_STR("reason", "seccomp: \"x\""), SV_NUM("code", -1) };
    sv__json_event(&b, "2026-12-02T08:00:00.000Z", LOG_WARN, SV_EV_EXITED, "kv", "kv: exited", f, 3);
    assert_string_equal(out, "{\"time\":\"2026-12-02T08:00:00.000Z\",\"level\":\"warn\",\"event\":\"exited\","
                             "\"module\":\"kv\",\"message\":\"kv: exited\",\"pid\":42,"
                             "\"reason\":\"seccomp: \\\"x\\\"\",\"code\":-1}\n");
    b = (struct sv_buf){ .p = out, .cap = sizeof(out) };
    sv__json_event(&b, "t", LOG_INFO, SV_EV_STOPPED, NULL, "supervisor: stopped", NULL, 0);
    assert_string_equal(out, "{\"time\":\"t\",\"level\":\"info\",\"event\":\"stopped\","
                             "\"message\":\"supervisor: stopped\"}\n");
}

/* A line too long for its buffer: still one object, the message cut, a
 * field that does not fit left out whole. */
static void test_event_cut(void **state)
{
    (void)state;
    char msg[200], out[256];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    const struct sv_field f[] = { SV_STR("line", "0123456789012345678901234567890123456789") };
    for (size_t cap = 120; cap <= sizeof(out); cap += 7) {
        struct sv_buf b = { .p = out, .cap = cap };
        sv__json_event(&b, "t", LOG_INFO, SV_EV_OUTPUT, "m", msg, f, 1);
        assert_true(b.len < cap);
        assert_int_equal(out[0], '{');
        assert_string_equal(out + b.len - 2, "}\n");
        assert_non_null(strstr(out, "\"message\":\"mmm"));
        const char *line = strstr(out, "\"line\":");
        if (line && !strstr(line, "\"line\":\"0123456789012345678901234567890123456789\"}"))
            fail_msg("cap %zu: a field cut: %s", cap, out);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test-log docs/architecture.md\n");
        return 2;
    }
    arch_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_documented),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_event_line),
        cmocka_unit_test(test_event_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
