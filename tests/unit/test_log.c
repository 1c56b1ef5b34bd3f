/* SPDX-License-Identifier: MIT */
/* test_log.c: unit tests for the leveled logger and its escaping. */
#include "config.h"

#include "log.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Length of "2024-01-02T03:04:05.678Z". */
#define STAMP_LEN 24

static FILE *capture_file;
static int saved_stderr = -1;

/* Send fd 2 to a temporary file until capture_end(). */
static void capture_begin(void)
{
    capture_file = tmpfile();
    ck_assert_ptr_nonnull(capture_file);
    saved_stderr = dup(STDERR_FILENO);
    ck_assert_int_ge(saved_stderr, 0);
    ck_assert_int_eq(dup2(fileno(capture_file), STDERR_FILENO), STDERR_FILENO);
}

/* Restore fd 2 and return everything written meanwhile (caller frees). */
static char *capture_end(size_t *len)
{
    long size;
    char *buf;

    ck_assert_int_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
    close(saved_stderr);
    saved_stderr = -1;
    ck_assert_int_eq(fseek(capture_file, 0, SEEK_END), 0);
    size = ftell(capture_file);
    ck_assert_int_ge(size, 0);
    rewind(capture_file);
    buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, capture_file), (size_t)size);
    buf[size] = '\0';
    fclose(capture_file);
    capture_file = NULL;
    if (len != NULL)
        *len = (size_t)size;
    return buf;
}

/* Check the timestamp prefix and return what follows it. */
static const char *after_stamp(const char *line)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";

    ck_assert_uint_ge(strlen(line), STAMP_LEN);
    for (size_t i = 0; i < STAMP_LEN; i++) {
        if (shape[i] == 'd')
            ck_assert_msg(line[i] >= '0' && line[i] <= '9',
                          "stamp char %zu is '%c' in: %s", i, line[i], line);
        else
            ck_assert_int_eq(line[i], shape[i]);
    }
    return line + STAMP_LEN;
}

static int evaluated;

static int count_evaluation(void)
{
    return ++evaluated;
}

START_TEST(test_default_level_is_info)
{
    ck_assert_int_eq(log_get_level(), LOG_LEVEL_INFO);
    ck_assert(log_enabled(LOG_LEVEL_ERROR));
    ck_assert(log_enabled(LOG_LEVEL_WARN));
    ck_assert(log_enabled(LOG_LEVEL_INFO));
    ck_assert(!log_enabled(LOG_LEVEL_DEBUG));
}
END_TEST

START_TEST(test_parse_level_accepts_the_four_names)
{
    enum log_level level = LOG_LEVEL_WARN;

    ck_assert_int_eq(log_parse_level("error", &level), 0);
    ck_assert_int_eq(level, LOG_LEVEL_ERROR);
    ck_assert_int_eq(log_parse_level("warn", &level), 0);
    ck_assert_int_eq(level, LOG_LEVEL_WARN);
    ck_assert_int_eq(log_parse_level("info", &level), 0);
    ck_assert_int_eq(level, LOG_LEVEL_INFO);
    ck_assert_int_eq(log_parse_level("debug", &level), 0);
    ck_assert_int_eq(level, LOG_LEVEL_DEBUG);
}
END_TEST

START_TEST(test_parse_level_rejects_other_spellings_and_keeps_out)
{
    static const char *const bad[] = {"",      "ERROR", "Info",   "warning",
                                      "info ", " info", "trace",  "debug\n",
                                      "err",   "0",     "notice", "fatal"};
    enum log_level level = LOG_LEVEL_WARN;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(log_parse_level(bad[i], &level) == -1, "accepted \"%s\"",
                      bad[i]);
        ck_assert_int_eq(level, LOG_LEVEL_WARN);
    }
}
END_TEST

START_TEST(test_level_names_round_trip_through_parse)
{
    static const enum log_level all[] = {LOG_LEVEL_ERROR, LOG_LEVEL_WARN,
                                         LOG_LEVEL_INFO, LOG_LEVEL_DEBUG};
    enum log_level back;

    ck_assert_str_eq(log_level_name(LOG_LEVEL_ERROR), "error");
    ck_assert_str_eq(log_level_name(LOG_LEVEL_WARN), "warn");
    ck_assert_str_eq(log_level_name(LOG_LEVEL_INFO), "info");
    ck_assert_str_eq(log_level_name(LOG_LEVEL_DEBUG), "debug");
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        ck_assert_int_eq(log_parse_level(log_level_name(all[i]), &back), 0);
        ck_assert_int_eq(back, all[i]);
    }
}
END_TEST

START_TEST(test_set_level_decides_what_is_enabled)
{
    log_set_level(LOG_LEVEL_ERROR);
    ck_assert_int_eq(log_get_level(), LOG_LEVEL_ERROR);
    ck_assert(log_enabled(LOG_LEVEL_ERROR));
    ck_assert(!log_enabled(LOG_LEVEL_WARN));
    ck_assert(!log_enabled(LOG_LEVEL_INFO));
    ck_assert(!log_enabled(LOG_LEVEL_DEBUG));

    log_set_level(LOG_LEVEL_DEBUG);
    ck_assert_int_eq(log_get_level(), LOG_LEVEL_DEBUG);
    ck_assert(log_enabled(LOG_LEVEL_ERROR));
    ck_assert(log_enabled(LOG_LEVEL_WARN));
    ck_assert(log_enabled(LOG_LEVEL_INFO));
    ck_assert(log_enabled(LOG_LEVEL_DEBUG));
    log_set_level(LOG_LEVEL_INFO);
}
END_TEST

START_TEST(test_line_is_stamp_level_quoted_event_and_fields)
{
    char *out;
    size_t len;

    capture_begin();
    log_msg(LOG_LEVEL_WARN, "peer gone", "fd=%d peer=%s", 7, "a@b");
    out = capture_end(&len);
    ck_assert_uint_eq(len, strlen(out));
    ck_assert_str_eq(after_stamp(out),
                     " level=warn msg=\"peer gone\" fd=7 peer=a@b\n");
    free(out);
}
END_TEST

START_TEST(test_each_level_writes_its_name)
{
    char *out;

    log_set_level(LOG_LEVEL_DEBUG);
    capture_begin();
    log_error("e", "n=%d", 1);
    log_warn("w", "n=%d", 2);
    log_info("i", "n=%d", 3);
    log_debug("d", "n=%d", 4);
    out = capture_end(NULL);
    log_set_level(LOG_LEVEL_INFO);

    char *lines[4], *save = NULL, *p = out;
    for (int i = 0; i < 4; i++) {
        lines[i] = strtok_r(p, "\n", &save);
        p = NULL;
        ck_assert_ptr_nonnull(lines[i]);
    }
    ck_assert_ptr_null(strtok_r(NULL, "\n", &save));
    ck_assert_str_eq(after_stamp(lines[0]), " level=error msg=\"e\" n=1");
    ck_assert_str_eq(after_stamp(lines[1]), " level=warn msg=\"w\" n=2");
    ck_assert_str_eq(after_stamp(lines[2]), " level=info msg=\"i\" n=3");
    ck_assert_str_eq(after_stamp(lines[3]), " level=debug msg=\"d\" n=4");
    free(out);
}
END_TEST

START_TEST(test_empty_fields_leave_no_trailing_space)
{
    char *out;

    capture_begin();
    log_msg(LOG_LEVEL_INFO, "started", "%s", "");
    out = capture_end(NULL);
    ck_assert_str_eq(after_stamp(out), " level=info msg=\"started\"\n");
    free(out);
}
END_TEST

START_TEST(test_levels_above_threshold_write_nothing)
{
    char *out;
    size_t len;

    log_set_level(LOG_LEVEL_WARN);
    capture_begin();
    log_info("hidden", "x=%d", 1);
    log_msg(LOG_LEVEL_DEBUG, "hidden", "x=%d", 2);
    out = capture_end(&len);
    log_set_level(LOG_LEVEL_INFO);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(out, "");
    free(out);
}
END_TEST

START_TEST(test_disabled_debug_does_not_evaluate_arguments)
{
    char *out;

    evaluated = 0;
    log_set_level(LOG_LEVEL_INFO);
    capture_begin();
    log_debug("skipped", "n=%d", count_evaluation());
    out = capture_end(NULL);
    ck_assert_int_eq(evaluated, 0);
    ck_assert_str_eq(out, "");
    free(out);
}
END_TEST

START_TEST(test_event_quotes_and_backslashes_are_escaped)
{
    char *out;

    capture_begin();
    log_msg(LOG_LEVEL_INFO, "say \"hi\" \\ bye", "%s", "");
    out = capture_end(NULL);
    ck_assert_str_eq(after_stamp(out),
                     " level=info msg=\"say \\x22hi\\x22 \\x5c bye\"\n");
    free(out);
}
END_TEST

START_TEST(test_values_with_spaces_are_quoted_by_the_logger)
{
    char *out;

    capture_begin();
    log_msg(LOG_LEVEL_ERROR, "connect failed", "error=%s path=%s",
            "Connection refused", "C:\\x");
    out = capture_end(NULL);
    ck_assert_str_eq(after_stamp(out), " level=error msg=\"connect failed\" "
                                       "error=\"Connection refused\" "
                                       "path=C:\\x5cx\n");
    free(out);
}
END_TEST

START_TEST(test_control_chars_in_event_and_fields_are_escaped)
{
    char *out;

    capture_begin();
    log_msg(LOG_LEVEL_INFO, "a\nb\tc\r", "v=%s", "\x01\x1f end\x1b[31m");
    out = capture_end(NULL);
    ck_assert_str_eq(after_stamp(out), " level=info msg=\"a\\x0ab\\x09c\\x0d\" "
                                       "v=\"\\x01\\x1f end\\x1b[31m\"\n");
    free(out);
}
END_TEST

START_TEST(test_untrusted_newline_cannot_forge_a_second_line)
{
    char *out;
    size_t len;

    capture_begin();
    log_msg(LOG_LEVEL_INFO, "request", "path=%s",
            "/x\n2024-01-01T00:00:00.000Z level=error msg=\"forged\"");
    out = capture_end(&len);
    ck_assert_ptr_eq(strchr(out, '\n'), out + len - 1);
    ck_assert_str_eq(after_stamp(out),
                     " level=info msg=\"request\" path=\"/x\\x0a"
                     "2024-01-01T00:00:00.000Z level=error "
                     "msg=\\x22forged\\x22\"\n");
    free(out);
}
END_TEST

START_TEST(test_bytes_from_0x7f_up_are_escaped)
{
    char *out;

    capture_begin();
    log_msg(LOG_LEVEL_INFO, "caf\xc3\xa9", "v=%s", "\x7f\x80\xff~");
    out = capture_end(NULL);
    ck_assert_str_eq(after_stamp(out),
                     " level=info msg=\"caf\\xc3\\xa9\" v=\\x7f\\x80\\xff~\n");
    free(out);
}
END_TEST

START_TEST(test_long_fields_are_truncated_to_one_line)
{
    char big[5000], *out;
    size_t len;

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    capture_begin();
    log_msg(LOG_LEVEL_INFO, "e", "%s", big);
    out = capture_end(&len);
    /* stamp + ` level=info msg="e" ` + 2047 field bytes + newline */
    ck_assert_uint_eq(len, STAMP_LEN + 20 + 2047 + 1);
    ck_assert_ptr_eq(strchr(out, '\n'), out + len - 1);
    ck_assert_int_eq(strncmp(after_stamp(out), " level=info msg=\"e\" aaa", 23),
                     0);
    free(out);
}
END_TEST

START_TEST(test_escaping_stops_at_whole_escape_and_ends_the_line)
{
    char ctl[2048], *out;
    size_t len;

    memset(ctl, '\x01', sizeof(ctl) - 1);
    ctl[sizeof(ctl) - 1] = '\0';
    capture_begin();
    log_msg(LOG_LEVEL_INFO, "e", "%s", ctl);
    out = capture_end(&len);
    /* 44 prefix bytes, then 1012 complete escapes fit under 4094. */
    ck_assert_uint_eq(len, 44 + 1012 * 4 + 1);
    ck_assert_ptr_eq(strchr(out, '\n'), out + len - 1);
    ck_assert_str_eq(out + len - 9, "\\x01\\x01\n");
    free(out);
}
END_TEST

START_TEST(test_huge_event_stays_within_one_line)
{
    char *event = malloc(8192), *out;
    size_t len;

    ck_assert_ptr_nonnull(event);
    memset(event, 'e', 8191);
    event[8191] = '\0';
    capture_begin();
    log_msg(LOG_LEVEL_INFO, event, "k=%s", "v");
    out = capture_end(&len);
    ck_assert_uint_eq(len, 4096);
    ck_assert_ptr_eq(strchr(out, '\n'), out + len - 1);
    /* The event is cut, its quote closed; no room for the field. */
    ck_assert_int_eq(out[len - 2], '"');
    ck_assert_int_eq(out[len - 3], 'e');
    ck_assert_ptr_null(strstr(out, "k="));
    free(out);
    free(event);
}
END_TEST

/* Split the fields after the stamp like a logfmt reader: key=value, the
 * value either "..." (up to the next quote) or up to the next space.
 * Returns the number of fields; keys/values point into line (modified). */
static int logfmt_split(char *line, char **keys, char **values, int max)
{
    char *p = line;
    int n = 0;

    while (*p != '\0' && *p != '\n' && n < max) {
        while (*p == ' ')
            p++;
        keys[n] = p;
        p += strcspn(p, "= \n");
        ck_assert_msg(*p == '=', "field without '=' at: %s", keys[n]);
        *p++ = '\0';
        if (*p == '"') {
            values[n] = ++p;
            p = strchr(p, '"');
            ck_assert_ptr_nonnull(p);
            *p++ = '\0';
            ck_assert_msg(*p == ' ' || *p == '\n' || *p == '\0',
                          "junk after a quoted value: %s", p);
        } else {
            values[n] = p;
            p += strcspn(p, " \n");
            if (*p != '\0')
                *p++ = '\0';
        }
        n++;
    }
    return n;
}

START_TEST(test_forged_quote_stays_inside_one_field)
{
    char *out, *keys[8], *values[8];

    capture_begin();
    log_msg(LOG_LEVEL_INFO, "login", "user=%s id=%d", "x\" admin=\"true\" y=\"",
            5);
    out = capture_end(NULL);
    ck_assert_str_eq(after_stamp(out),
                     " level=info msg=\"login\" "
                     "user=\"x\\x22 admin=\\x22true\\x22 y=\\x22\" id=5\n");
    ck_assert_int_eq(logfmt_split((char *)after_stamp(out), keys, values, 8),
                     4);
    ck_assert_str_eq(keys[2], "user");
    ck_assert_str_eq(values[2], "x\\x22 admin=\\x22true\\x22 y=\\x22");
    ck_assert_str_eq(keys[3], "id");
    ck_assert_str_eq(values[3], "5");
    free(out);
}
END_TEST

START_TEST(test_empty_and_equals_values_are_quoted)
{
    char *out;

    capture_begin();
    log_msg(LOG_LEVEL_INFO, "e", "a=%s b=%s c=%s d=%s", "", "k=v", "\\",
            "plain");
    out = capture_end(NULL);
    ck_assert_str_eq(
        after_stamp(out),
        " level=info msg=\"e\" a=\"\" b=\"k=v\" c=\\x5c d=plain\n");
    free(out);
}
END_TEST

/* Whatever the values, a reader finds exactly the fields of the format. */
START_TEST(test_every_value_of_a_line_is_one_field)
{
    static const char *const hostile[] = {
        "",   " ",     "\"",        "=",        "a b=c",   "\"\"\"",
        "\\", "\\\"",  "x\ny=z",    "\" y=\"z", "k=\"v\"", "\x01\x7f\xff",
        "%s", "\t=\t", "end\" k=v", "=\"=\"=",
    };
    size_t n = sizeof(hostile) / sizeof(hostile[0]);

    for (size_t i = 0; i < n; i++) {
        char *out, *keys[8], *values[8];

        capture_begin();
        log_msg(LOG_LEVEL_WARN, hostile[i], "one=%s two=%s three=%d",
                hostile[i], hostile[n - 1 - i], (int)i);
        out = capture_end(NULL);
        ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
        /* msg's value is quoted by construction: skip past it. */
        char *rest = strstr(out, "msg=\"");
        ck_assert_ptr_nonnull(rest);
        rest = strchr(rest + 5, '"') + 1;
        ck_assert_int_eq(logfmt_split(rest, keys, values, 8), 3);
        ck_assert_str_eq(keys[0], "one");
        ck_assert_str_eq(keys[1], "two");
        ck_assert_str_eq(keys[2], "three");
        free(out);
    }
}
END_TEST

START_TEST(test_conversions_expand_as_printf_does)
{
    char *out, want[256];

    capture_begin();
    log_msg(LOG_LEVEL_INFO, "e",
            "a=%.*s b=%*d c=%zu d=%llu e=%.1f f=%c g=%ld%% h=%-4s| i=%x "
            "listen=%s:%u j=%5.2f",
            3, "abcdef", 4, 7, (size_t)42, 1ULL << 40, 2.25, 'q', -3L, "z",
            255u, "::1", 80u, 3.14159);
    out = capture_end(NULL);
    snprintf(want, sizeof(want),
             " level=info msg=\"e\" a=%.*s b=\"%*d\" c=%zu d=%llu e=%.1f f=%c "
             "g=%ld%% h=\"%-4s|\" i=%x listen=%s:%u j=\"%5.2f\"\n",
             3, "abcdef", 4, 7, (size_t)42, 1ULL << 40, 2.25, 'q', -3L, "z",
             255u, "::1", 80u, 3.14159);
    ck_assert_str_eq(after_stamp(out), want);
    free(out);
}
END_TEST

START_TEST(test_bare_tokens_are_values_too)
{
    char *out;

    capture_begin();
    log_msg(LOG_LEVEL_INFO, "e", "%s %s k=%s", "two words", "", "v");
    out = capture_end(NULL);
    ck_assert_str_eq(after_stamp(out),
                     " level=info msg=\"e\" \"two words\" k=v\n");
    free(out);
}
END_TEST

static struct log_ratelimit rl_burst =
    LOG_RATELIMIT_INIT(LOG_LEVEL_WARN, "burst");
static struct log_ratelimit rl_next =
    LOG_RATELIMIT_INIT(LOG_LEVEL_WARN, "queue full");
static struct log_ratelimit rl_flush =
    LOG_RATELIMIT_INIT(LOG_LEVEL_INFO, "refused");
static struct log_ratelimit rl_flood =
    LOG_RATELIMIT_INIT(LOG_LEVEL_WARN, "flood");

static int count_lines(const char *s)
{
    int n = 0;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

START_TEST(test_ratelimit_passes_a_burst_per_window)
{
    uint64_t t = 50000;
    int passed = 0;

    for (int i = 0; i < 100; i++)
        passed += log_ratelimit_pass(&rl_burst, t + (uint64_t)i);
    ck_assert_int_eq(passed, LOG_RATELIMIT_BURST);
    /* Still inside the window: nothing more. */
    ck_assert(!log_ratelimit_pass(&rl_burst, t + LOG_RATELIMIT_MS - 1));
    capture_begin();
    ck_assert(log_ratelimit_pass(&rl_burst, t + LOG_RATELIMIT_MS));
    free(capture_end(NULL));
    log_ratelimit_flush(t + 10 * LOG_RATELIMIT_MS);
}
END_TEST

START_TEST(test_ratelimit_summary_comes_with_the_next_window)
{
    uint64_t t = 90000;
    char *out;

    for (int i = 0; i < LOG_RATELIMIT_BURST + 7; i++)
        (void)log_ratelimit_pass(&rl_next, t);
    capture_begin();
    ck_assert(log_ratelimit_pass(&rl_next, t + 1500));
    out = capture_end(NULL);
    ck_assert_str_eq(after_stamp(out),
                     " level=warn msg=\"queue full\" suppressed=7 "
                     "window_ms=1000\n");
    free(out);
    /* Counted once: the flush has nothing left to say. */
    capture_begin();
    ck_assert_int_eq(log_ratelimit_flush(t + 5000), -1);
    out = capture_end(NULL);
    ck_assert_str_eq(out, "");
    free(out);
}
END_TEST

START_TEST(test_ratelimit_flush_summarises_an_ended_window)
{
    uint64_t t = 200000;
    char *out;

    for (int i = 0; i < LOG_RATELIMIT_BURST + 3; i++)
        (void)log_ratelimit_pass(&rl_flush, t);
    capture_begin();
    ck_assert_int_eq(log_ratelimit_flush(t + 400), LOG_RATELIMIT_MS - 400);
    ck_assert_int_eq(log_ratelimit_flush(t + LOG_RATELIMIT_MS), -1);
    ck_assert_int_eq(log_ratelimit_flush(t + 2 * LOG_RATELIMIT_MS), -1);
    out = capture_end(NULL);
    ck_assert_str_eq(after_stamp(out), " level=info msg=\"refused\" "
                                       "suppressed=3 window_ms=1000\n");
    free(out);
}
END_TEST

/* 100,000 events over 10 s: five lines a second plus one summary each. */
START_TEST(test_ratelimit_flood_writes_few_lines)
{
    uint64_t t = 1000000;
    int written = 0;
    char *out;

    capture_begin();
    for (int i = 0; i < 100000; i++) {
        uint64_t now = t + (uint64_t)i / 10;
        if (log_ratelimit_pass(&rl_flood, now)) {
            log_warn("flood", "n=%d", i);
            written++;
        }
        log_ratelimit_flush(now);
    }
    log_ratelimit_flush(t + 100000);
    out = capture_end(NULL);
    ck_assert_int_eq(written, 10 * LOG_RATELIMIT_BURST);
    ck_assert_int_eq(count_lines(out), 10 * LOG_RATELIMIT_BURST + 10);
    ck_assert_ptr_nonnull(
        strstr(out, "msg=\"flood\" suppressed=9995 window_ms=1000\n"));
    free(out);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("levels");

    /* First, so that it sees the untouched default even without fork. */
    tcase_add_test(tc, test_default_level_is_info);
    tcase_add_test(tc, test_parse_level_accepts_the_four_names);
    tcase_add_test(tc, test_parse_level_rejects_other_spellings_and_keeps_out);
    tcase_add_test(tc, test_level_names_round_trip_through_parse);
    tcase_add_test(tc, test_set_level_decides_what_is_enabled);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_test(tc, test_line_is_stamp_level_quoted_event_and_fields);
    tcase_add_test(tc, test_each_level_writes_its_name);
    tcase_add_test(tc, test_empty_fields_leave_no_trailing_space);
    tcase_add_test(tc, test_levels_above_threshold_write_nothing);
    tcase_add_test(tc, test_disabled_debug_does_not_evaluate_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("escaping");
    tcase_add_test(tc, test_event_quotes_and_backslashes_are_escaped);
    tcase_add_test(tc, test_values_with_spaces_are_quoted_by_the_logger);
    tcase_add_test(tc, test_forged_quote_stays_inside_one_field);
    tcase_add_test(tc, test_empty_and_equals_values_are_quoted);
    tcase_add_test(tc, test_every_value_of_a_line_is_one_field);
    tcase_add_test(tc, test_conversions_expand_as_printf_does);
    tcase_add_test(tc, test_bare_tokens_are_values_too);
    suite_add_tcase(s, tc);

    tc = tcase_create("ratelimit");
    tcase_add_test(tc, test_ratelimit_passes_a_burst_per_window);
    tcase_add_test(tc, test_ratelimit_summary_comes_with_the_next_window);
    tcase_add_test(tc, test_ratelimit_flush_summarises_an_ended_window);
    tcase_add_test(tc, test_ratelimit_flood_writes_few_lines);
    tcase_add_test(tc, test_control_chars_in_event_and_fields_are_escaped);
    tcase_add_test(tc, test_untrusted_newline_cannot_forge_a_second_line);
    tcase_add_test(tc, test_bytes_from_0x7f_up_are_escaped);
    tcase_add_test(tc, test_long_fields_are_truncated_to_one_line);
    tcase_add_test(tc, test_escaping_stops_at_whole_escape_and_ends_the_line);
    tcase_add_test(tc, test_huge_event_stays_within_one_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
