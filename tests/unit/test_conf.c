/* SPDX-License-Identifier: MIT */
/* test_conf.c: unit tests for the strict INI configuration parser. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "conf_priv.h"
#include "xmalloc.h"

/* Five lines with the three required settings; later lines start at 6. */
#define BASE                                                                   \
    "[server]\n"                                                               \
    "domain = example.org\n"                                                   \
    "[component]\n"                                                            \
    "jid = rest.example.org\n"                                                 \
    "secret = s3cret\n"

/* A config whose line 3 is `line`, inside [server]. */
#define SERVER(line)                                                           \
    "[server]\n"                                                               \
    "domain = example.org\n" line "\n"                                         \
    "[component]\n"                                                            \
    "jid = rest.example.org\n"                                                 \
    "secret = s3cret\n"

/* A config whose line 7 is `line`, inside [http]. */
#define HTTP(line) BASE "[http]\n" line "\n"

static const char *data_dir(void)
{
    const char *dir = getenv("UNIT_DATA");

    return dir != NULL ? dir : "tests/unit/data";
}

/*
 * Parse len bytes of text named "t.conf"; *out receives everything printed
 * to errs (the caller frees it).
 */
static struct conf *parse_len(const char *text, size_t len, char **out)
{
    size_t size;
    FILE *errs = open_memstream(out, &size);
    struct conf *conf;

    ck_assert_ptr_nonnull(errs);
    conf = conf_parse(text, len, "t.conf", errs);
    fclose(errs);
    return conf;
}

static struct conf *parse(const char *text, char **out)
{
    return parse_len(text, strlen(text), out);
}

/* Load path; *out receives everything printed to errs. */
static struct conf *load(const char *path, char **out)
{
    size_t size;
    FILE *errs = open_memstream(out, &size);
    struct conf *conf;

    ck_assert_ptr_nonnull(errs);
    conf = conf_load(path, errs);
    fclose(errs);
    return conf;
}

/* Text must parse without a word of complaint. */
static struct conf *parse_ok(const char *text)
{
    char *out;
    struct conf *conf = parse(text, &out);

    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(conf);
    free(out);
    return conf;
}

/* Text must be rejected with exactly the messages in expected. */
static void parse_fails(const char *text, const char *expected)
{
    char *out;
    struct conf *conf = parse(text, &out);

    ck_assert_ptr_null(conf);
    ck_assert_str_eq(out, expected);
    free(out);
}

/* A new file under /tmp holding len bytes of content; returns its path. */
static char *temp_file(const char *content, size_t len)
{
    char *path = xstrdup("/tmp/test_conf-XXXXXX");
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

static void remove_temp(char *path)
{
    unlink(path);
    free(path);
}

START_TEST(test_minimal_config_gets_every_default)
{
    struct conf *conf = parse_ok(BASE);

    ck_assert_str_eq(conf->path, "t.conf");
    ck_assert_str_eq(conf->server.domain, "example.org");
    ck_assert_str_eq(conf->server.host, "127.0.0.1");
    ck_assert_uint_eq(conf->server.port, 5347);
    ck_assert_str_eq(conf->component.jid, "rest.example.org");
    ck_assert_str_eq(conf->component.secret, "s3cret");
    ck_assert_uint_eq(conf->component.keepalive, 60);
    ck_assert_str_eq(conf->http.listen_host, "127.0.0.1");
    ck_assert_uint_eq(conf->http.listen_port, 5380);
    ck_assert(conf->http.listen_loopback);
    ck_assert_ptr_null(conf->http.tls_cert);
    ck_assert_ptr_null(conf->http.tls_key);
    ck_assert_ptr_null(conf->http.admin_token);
    ck_assert_uint_eq(conf->http.max_body, 196608);
    ck_assert_uint_eq(conf->http.max_connections, 512);
    ck_assert_uint_eq(conf->http.timeout, 30);
    ck_assert_uint_eq(conf->http.header_timeout, 10);
    ck_assert_uint_eq(conf->http.body_timeout, 30);
    ck_assert_int_eq(conf->log.level, LOG_LEVEL_INFO);
    conf_free(conf);
}
END_TEST

START_TEST(test_full_config_file_sets_every_value)
{
    char *path = xasprintf("%s/conf-good-full.conf", data_dir());
    char *out;
    struct conf *conf = load(path, &out);

    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(conf);
    ck_assert_str_eq(conf->path, path);
    ck_assert_str_eq(conf->server.domain, "example.org");
    ck_assert_str_eq(conf->server.host, "xmpp.example.org");
    ck_assert_uint_eq(conf->server.port, 5348);
    ck_assert_str_eq(conf->component.jid, "rest.example.org");
    ck_assert_str_eq(conf->component.secret, "s3cret#with;marks");
    ck_assert_uint_eq(conf->component.keepalive, 3600);
    ck_assert_str_eq(conf->http.listen_host, "::");
    ck_assert_uint_eq(conf->http.listen_port, 8080);
    ck_assert(!conf->http.listen_loopback);
    ck_assert_str_eq(conf->http.admin_token, "t0ken");
    ck_assert_uint_eq(conf->http.max_body, 67108864);
    ck_assert_uint_eq(conf->http.max_connections, 1000000);
    ck_assert_uint_eq(conf->http.timeout, 1);
    ck_assert_uint_eq(conf->http.header_timeout, 3600);
    ck_assert_uint_eq(conf->http.body_timeout, 2);
    ck_assert_uint_eq(conf->rest.ntokens, 1);
    ck_assert_str_eq(conf->rest.tokens[0].token, "tok_a_0123456789abcdef");
    ck_assert_str_eq(conf->rest.tokens[0].pattern, "bot@rest.example.org");
    ck_assert_uint_eq(conf->rest.iq_timeout, 30);
    ck_assert_uint_eq(conf->rest.iq_max_timeout, 60);
    ck_assert_int_eq(conf->log.level, LOG_LEVEL_DEBUG);
    conf_free(conf);
    free(out);
    free(path);
}
END_TEST

START_TEST(test_conf_free_null_is_a_noop)
{
    conf_free(NULL);
}
END_TEST

START_TEST(test_null_errs_rejects_silently)
{
    ck_assert_ptr_null(conf_parse("[x]\n", 4, "t.conf", NULL));
    ck_assert_ptr_null(conf_load("/nonexistent/restanza.conf", NULL));
}
END_TEST

START_TEST(test_comments_start_with_hash_or_semicolon)
{
    struct conf *conf = parse_ok("# hash\n"
                                 "; semicolon\n"
                                 "   # indented hash\n"
                                 "\t; indented semicolon\n" BASE "#port = 1\n");

    ck_assert_uint_eq(conf->server.port, 5347);
    conf_free(conf);
}
END_TEST

START_TEST(test_hash_and_semicolon_inside_value_are_kept)
{
    struct conf *conf = parse_ok("[server]\ndomain = example.org\n"
                                 "[component]\njid = rest.example.org\n"
                                 "secret = a#b ;c # d\n");

    ck_assert_str_eq(conf->component.secret, "a#b ;c # d");
    conf_free(conf);
}
END_TEST

START_TEST(test_trailing_comment_is_part_of_the_value)
{
    parse_fails(SERVER("port = 5347 # default"),
                "t.conf:3: server.port: '5347 # default' is not an integer "
                "from 1 to 65535\n");
}
END_TEST

START_TEST(test_blanks_around_names_and_values_are_trimmed)
{
    struct conf *conf = parse_ok("  [server]\t\n"
                                 "\tdomain\t=   example.org \t\n"
                                 "[ component ]\n"
                                 "jid=rest.example.org\n"
                                 "secret =  two words  \n");

    ck_assert_str_eq(conf->server.domain, "example.org");
    ck_assert_str_eq(conf->component.secret, "two words");
    conf_free(conf);
}
END_TEST

START_TEST(test_quoted_value_keeps_leading_and_trailing_spaces)
{
    struct conf *conf = parse_ok("[server]\ndomain = example.org\n"
                                 "[component]\njid = rest.example.org\n"
                                 "secret = \"  s3 cret  \"\n"
                                 "[http]\nadmin_token = \"a\"b\"\n");

    ck_assert_str_eq(conf->component.secret, "  s3 cret  ");
    ck_assert_str_eq(conf->http.admin_token, "a\"b");
    conf_free(conf);
}
END_TEST

START_TEST(test_empty_quotes_are_an_empty_value)
{
    parse_fails(SERVER("host = \"\""), "t.conf:3: server.host: empty value\n");
}
END_TEST

START_TEST(test_unterminated_quote_is_an_error)
{
    parse_fails(SERVER("host = \"localhost"),
                "t.conf:3: server.host: unterminated quoted value\n");
    parse_fails(SERVER("host = \""),
                "t.conf:3: server.host: unterminated quoted value\n");
}
END_TEST

START_TEST(test_crlf_line_ends_and_byte_order_mark_are_accepted)
{
    char *path = xasprintf("%s/conf-good-crlf-bom.conf", data_dir());
    char *out;
    struct conf *conf = load(path, &out);

    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(conf);
    ck_assert_str_eq(conf->server.domain, "example.org");
    ck_assert_str_eq(conf->component.jid, "rest.example.org");
    ck_assert_str_eq(conf->component.secret, "  spaces kept  ");
    ck_assert_int_eq(conf->log.level, LOG_LEVEL_WARN);
    conf_free(conf);
    free(out);
    free(path);
}
END_TEST

START_TEST(test_unknown_section_is_reported_once)
{
    /* Its keys are not each reported as unknown, but syntax still counts. */
    parse_fails(BASE "[webhooks]\nurl = x\nqueue = 1\nnot a pair\n",
                "t.conf:6: unknown section [webhooks]\n"
                "t.conf:9: expected 'key = value', '[section]' or a "
                "comment\n");
}
END_TEST

START_TEST(test_section_names_are_case_sensitive)
{
    parse_fails(BASE "[Log]\nlevel = info\n",
                "t.conf:6: unknown section [Log]\n");
}
END_TEST

START_TEST(test_key_outside_any_section)
{
    parse_fails("port = 5347\n" BASE,
                "t.conf:1: key 'port' outside of any section\n");
}
END_TEST

START_TEST(test_unknown_key_names_its_section)
{
    parse_fails(SERVER("prot = 5347"),
                "t.conf:3: unknown key 'prot' in [server]\n");
    parse_fails(SERVER("Port = 5347"),
                "t.conf:3: unknown key 'Port' in [server]\n");
    parse_fails(HTTP("secret = x"),
                "t.conf:7: unknown key 'secret' in [http]\n");
}
END_TEST

START_TEST(test_duplicate_key_says_where_the_first_was)
{
    parse_fails(SERVER("port = 1\nport = 1"),
                "t.conf:4: duplicate key 'port' (first at line 3)\n");
}
END_TEST

START_TEST(test_duplicate_section_is_an_error)
{
    parse_fails(BASE "[server]\nport = 1\n",
                "t.conf:6: duplicate section [server] (first at line 1)\n");
}
END_TEST

START_TEST(test_keys_in_duplicate_section_are_still_checked)
{
    parse_fails(BASE "[server]\ndomain = example.net\nportt = 1\n",
                "t.conf:6: duplicate section [server] (first at line 1)\n"
                "t.conf:7: duplicate key 'domain' (first at line 2)\n"
                "t.conf:8: unknown key 'portt' in [server]\n");
}
END_TEST

START_TEST(test_line_without_equals_sign)
{
    parse_fails(SERVER("port 5347"),
                "t.conf:3: expected 'key = value', '[section]' or a comment\n");
}
END_TEST

START_TEST(test_missing_key_name)
{
    parse_fails(SERVER(" = 5347"), "t.conf:3: missing key name before '='\n");
}
END_TEST

START_TEST(test_empty_value_is_an_error)
{
    parse_fails(SERVER("host ="), "t.conf:3: server.host: empty value\n");
    parse_fails(HTTP("admin_token =  \t"),
                "t.conf:7: http.admin_token: empty value\n");
}
END_TEST

START_TEST(test_equals_sign_inside_value_is_kept)
{
    struct conf *conf = parse_ok(HTTP("admin_token = a=b=="));

    ck_assert_str_eq(conf->http.admin_token, "a=b==");
    conf_free(conf);
}
END_TEST

START_TEST(test_broken_section_headers)
{
    /* Keys under a broken header are not reported a second time. */
    parse_fails("[server\nport = 1\n"
                "[server] # main\nport = 2\n"
                "[]\nport = 3\n"
                "[ \t ]\n" BASE,
                "t.conf:1: unterminated section header\n"
                "t.conf:3: unexpected text after section header\n"
                "t.conf:5: empty section name\n"
                "t.conf:7: empty section name\n");
}
END_TEST

START_TEST(test_missing_required_keys_are_reported_at_line_0)
{
    parse_fails("", "t.conf:0: missing required key server.domain\n"
                    "t.conf:0: missing required key component.jid\n"
                    "t.conf:0: missing required key component.secret or "
                    "component.secret_file\n");
    parse_fails("[server]\ndomain = example.org\n[component]\n"
                "secret = s3cret\n",
                "t.conf:0: missing required key component.jid\n");
}
END_TEST

START_TEST(test_nul_byte_is_an_error_at_its_line)
{
    static const char text[] = SERVER("host = local\0host");
    char *out;
    struct conf *conf = parse_len(text, sizeof(text) - 1, &out);

    /* The key on the broken line is not also reported as missing. */
    ck_assert_ptr_null(conf);
    ck_assert_str_eq(out, "t.conf:3: NUL byte in line\n");
    free(out);
}
END_TEST

START_TEST(test_broken_line_hides_no_required_key)
{
    parse_fails("[server]\ndomain = exa\001mple.org\n[component]\n"
                "jid = rest.example.org\nsecret = s3cret\n",
                "t.conf:2: control character 0x01 in line\n");
}
END_TEST

static const char *const bad_utf8[] = {
    "\xc3",             /* truncated sequence */
    "\xc3(",            /* bad continuation byte */
    "\x80",             /* lone continuation byte */
    "\xc0\xaf",         /* overlong '/' */
    "\xe0\x80\xaf",     /* overlong '/' in three bytes */
    "\xed\xa0\x80",     /* UTF-16 surrogate */
    "\xf4\x90\x80\x80", /* past U+10FFFF */
    "\xff",             /* never valid */
};

START_TEST(test_invalid_utf8_is_an_error_at_its_line)
{
    char *text = xasprintf(HTTP("admin_token = tok%sen"), bad_utf8[_i]);

    parse_fails(text, "t.conf:7: invalid UTF-8\n");
    free(text);
}
END_TEST

START_TEST(test_valid_utf8_is_accepted)
{
    struct conf *conf = parse_ok(HTTP("admin_token = ünï€ødé😀"));

    ck_assert_str_eq(conf->http.admin_token, "ünï€ødé😀");
    conf_free(conf);
}
END_TEST

START_TEST(test_control_characters_are_errors_but_tab_is_blank)
{
    struct conf *conf;

    parse_fails(HTTP("admin_token = a\033[0mb"),
                "t.conf:7: control character 0x1b in line\n");
    parse_fails(HTTP("admin_token = a\177b"),
                "t.conf:7: control character 0x7f in line\n");
    parse_fails(HTTP("admin_token = a\rb"),
                "t.conf:7: control character 0x0d in line\n");
    conf = parse_ok(HTTP("admin_token = a\tb"));
    ck_assert_str_eq(conf->http.admin_token, "a\tb");
    conf_free(conf);
}
END_TEST

/* An [http] admin_token line exactly len bytes long. */
static char *token_line(size_t len)
{
    static const char prefix[] = "admin_token = ";
    char *line = xmalloc(len + 1);

    memcpy(line, prefix, sizeof(prefix) - 1);
    memset(line + sizeof(prefix) - 1, 'x', len - (sizeof(prefix) - 1));
    line[len] = '\0';
    return line;
}

START_TEST(test_lines_up_to_4096_bytes_are_accepted)
{
    char *line = token_line(4096);
    char *text = xasprintf(HTTP("%s"), line);
    struct conf *conf = parse_ok(text);

    ck_assert_uint_eq(strlen(conf->http.admin_token), 4096 - 14);
    conf_free(conf);
    free(text);
    free(line);
}
END_TEST

START_TEST(test_line_longer_than_4096_bytes_is_an_error)
{
    char *line = token_line(4097);
    char *text = xasprintf(HTTP("%s"), line);

    parse_fails(text, "t.conf:7: line is longer than 4096 bytes\n");
    free(text);
    free(line);
}
END_TEST

/* BASE followed by comment lines up to exactly len bytes. */
static char *padded_config(size_t len)
{
    char *text = xmalloc(len + 1);
    size_t n = strlen(BASE);

    memcpy(text, BASE, n);
    while (n < len) {
        size_t chunk = len - n < 1000 ? len - n : 1000;

        memset(text + n, '#', chunk);
        text[n + chunk - 1] = '\n';
        n += chunk;
    }
    text[len] = '\0';
    return text;
}

START_TEST(test_text_of_1_mib_is_accepted)
{
    char *text = padded_config(1024 * 1024);
    char *out;
    struct conf *conf = parse_len(text, 1024 * 1024, &out);

    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(conf);
    conf_free(conf);
    free(out);
    free(text);
}
END_TEST

START_TEST(test_text_over_1_mib_is_an_error)
{
    char *text = padded_config(1024 * 1024 + 1);
    char *out;
    struct conf *conf = parse_len(text, 1024 * 1024 + 1, &out);

    ck_assert_ptr_null(conf);
    ck_assert_str_eq(out, "t.conf:0: file is larger than 1048576 bytes\n");
    free(out);
    free(text);
}
END_TEST

START_TEST(test_file_of_1_mib_loads_and_larger_is_an_error)
{
    char *text = padded_config(1024 * 1024 + 1);
    char *path = temp_file(text, 1024 * 1024), *big;
    char *out, *expected;
    struct conf *conf = load(path, &out);

    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(conf);
    conf_free(conf);
    free(out);

    big = temp_file(text, 1024 * 1024 + 1);
    conf = load(big, &out);
    expected = xasprintf("%s:0: file is larger than 1048576 bytes\n", big);
    ck_assert_ptr_null(conf);
    ck_assert_str_eq(out, expected);
    free(expected);
    free(out);
    remove_temp(big);
    remove_temp(path);
    free(text);
}
END_TEST

START_TEST(test_unreadable_file_says_why)
{
    char *out;
    char *expected = xasprintf("/nonexistent/restanza.conf:0: cannot read: "
                               "%s\n",
                               strerror(ENOENT));
    struct conf *conf = load("/nonexistent/restanza.conf", &out);

    ck_assert_ptr_null(conf);
    ck_assert_str_eq(out, expected);
    free(expected);
    free(out);

    expected = xasprintf("/tmp:0: cannot read: %s\n", strerror(EISDIR));
    conf = load("/tmp", &out);
    ck_assert_ptr_null(conf);
    ck_assert_str_eq(out, expected);
    free(expected);
    free(out);
}
END_TEST

START_TEST(test_secret_file_content_without_trailing_line_ends)
{
    static const char content[] = "s3 cret\nline two\r\n\n\r\n";
    char *secret = temp_file(content, sizeof(content) - 1);
    char *text = xasprintf("[server]\ndomain = example.org\n"
                           "[component]\njid = rest.example.org\n"
                           "secret_file = %s\n",
                           secret);
    struct conf *conf = parse_ok(text);

    ck_assert_str_eq(conf->component.secret, "s3 cret\nline two");
    conf_free(conf);
    free(text);
    remove_temp(secret);
}
END_TEST

START_TEST(test_secret_and_secret_file_conflict)
{
    parse_fails("[server]\ndomain = example.org\n"
                "[component]\njid = rest.example.org\n"
                "secret = s3cret\nsecret_file = /nonexistent/secret\n",
                "t.conf:6: component.secret_file conflicts with "
                "component.secret (line 5): set only one\n");
    parse_fails("[server]\ndomain = example.org\n"
                "[component]\njid = rest.example.org\n"
                "secret_file = /nonexistent/secret\nsecret = s3cret\n",
                "t.conf:5: component.secret_file: cannot read "
                "'/nonexistent/secret': No such file or directory\n"
                "t.conf:6: component.secret conflicts with "
                "component.secret_file (line 5): set only one\n");
}
END_TEST

START_TEST(test_secret_file_unreadable_is_an_error_at_its_line)
{
    char *expected = xasprintf("t.conf:5: component.secret_file: cannot read "
                               "'/nonexistent/secret': %s\n"
                               "t.conf:7: http.admin_token_file: cannot read "
                               "'/tmp': %s\n",
                               strerror(ENOENT), strerror(EISDIR));

    parse_fails("[server]\ndomain = example.org\n"
                "[component]\njid = rest.example.org\n"
                "secret_file = /nonexistent/secret\n"
                "[http]\nadmin_token_file = /tmp\n",
                expected);
    free(expected);
}
END_TEST

/* Config text with component.secret_file (line 5) = a file holding content. */
static void secret_file_fails(const char *content, size_t len, const char *why)
{
    char *secret = temp_file(content, len);
    char *text = xasprintf("[server]\ndomain = example.org\n"
                           "[component]\njid = rest.example.org\n"
                           "secret_file = %s\n",
                           secret);
    char *expected =
        xasprintf("t.conf:5: component.secret_file: '%s' %s\n", secret, why);

    parse_fails(text, expected);
    free(expected);
    free(text);
    remove_temp(secret);
}

START_TEST(test_secret_file_empty_is_an_error)
{
    secret_file_fails("", 0, "is empty");
    secret_file_fails("\r\n\n", 3, "is empty");
}
END_TEST

START_TEST(test_secret_file_with_nul_byte_is_an_error)
{
    secret_file_fails("s3\0cret\n", 8, "contains a NUL byte");
}
END_TEST

START_TEST(test_secret_file_over_64_kib_is_an_error)
{
    char *big = xmalloc(65537);
    char *secret, *text;
    struct conf *conf;

    memset(big, 'x', 65537);
    secret_file_fails(big, 65537, "is larger than 65536 bytes");

    /* 64 KiB exactly is still accepted. */
    secret = temp_file(big, 65536);
    text = xasprintf(HTTP("admin_token_file = %s"), secret);
    conf = parse_ok(text);
    ck_assert_uint_eq(strlen(conf->http.admin_token), 65536);
    conf_free(conf);
    free(text);
    remove_temp(secret);
    free(big);
}
END_TEST

START_TEST(test_admin_token_inline_or_from_file)
{
    char *token = temp_file("t0ken\n", 6);
    char *text = xasprintf(HTTP("admin_token_file = %s"), token);
    struct conf *conf = parse_ok(text);

    ck_assert_str_eq(conf->http.admin_token, "t0ken");
    conf_free(conf);
    free(text);
    conf = parse_ok(HTTP("admin_token = inline"));
    ck_assert_str_eq(conf->http.admin_token, "inline");
    conf_free(conf);
    remove_temp(token);
}
END_TEST

START_TEST(test_admin_token_and_admin_token_file_conflict)
{
    parse_fails(HTTP("admin_token = a\nadmin_token_file = /nonexistent"),
                "t.conf:8: http.admin_token_file conflicts with "
                "http.admin_token (line 7): set only one\n");
}
END_TEST

static const char *const public_listen[] = {
    "0.0.0.0:5380",      "192.0.2.1:80",          "[::]:5380",
    "[2001:db8::1]:443", "[::ffff:192.0.2.1]:80",
};

START_TEST(test_admin_token_required_when_listen_is_not_loopback)
{
    char *text = xasprintf(HTTP("listen = %s"), public_listen[_i]);
    char *with_token =
        xasprintf(HTTP("listen = %s\nadmin_token = t"), public_listen[_i]);
    struct conf *conf;

    parse_fails(text, "t.conf:7: http.listen is not a loopback address: set "
                      "http.admin_token\n");
    conf = parse_ok(with_token);
    ck_assert(!conf->http.listen_loopback);
    conf_free(conf);
    free(with_token);
    free(text);
}
END_TEST

static const struct {
    const char *value, *host;
    unsigned port;
} loopback_listen[] = {
    {"127.0.0.1:5380", "127.0.0.1", 5380},
    {"127.1.2.3:1", "127.1.2.3", 1},
    {"[::1]:65535", "::1", 65535},
    {"[0:0:0:0:0:0:0:1]:80", "0:0:0:0:0:0:0:1", 80},
    {"[::ffff:127.0.0.1]:8080", "::ffff:127.0.0.1", 8080},
};

START_TEST(test_loopback_listen_needs_no_admin_token)
{
    char *text = xasprintf(HTTP("listen = %s"), loopback_listen[_i].value);
    struct conf *conf = parse_ok(text);

    ck_assert_str_eq(conf->http.listen_host, loopback_listen[_i].host);
    ck_assert_uint_eq(conf->http.listen_port, loopback_listen[_i].port);
    ck_assert(conf->http.listen_loopback);
    conf_free(conf);
    free(text);
}
END_TEST

static const struct {
    const char *value, *why;
} bad_listen[] = {
    {"localhost:5380", "is not a numeric IPv4:port or [IPv6]:port"},
    {"::1:5380", "is not a numeric IPv4:port or [IPv6]:port"},
    {"[::1]5380", "is not a numeric IPv4:port or [IPv6]:port"},
    {"[::1:5380", "is not a numeric IPv4:port or [IPv6]:port"},
    {"[127.0.0.1]:5380", "is not a numeric IPv4:port or [IPv6]:port"},
    {"127.0.0.1", "is not a numeric IPv4:port or [IPv6]:port"},
    {"127.1:5380", "is not a numeric IPv4:port or [IPv6]:port"},
    {"[fe80::1%lo]:5380", "is not a numeric IPv4:port or [IPv6]:port"},
    {":5380", "is not a numeric IPv4:port or [IPv6]:port"},
    {"127.0.0.1:", "has no valid port (1 to 65535)"},
    {"127.0.0.1:0", "has no valid port (1 to 65535)"},
    {"127.0.0.1:65536", "has no valid port (1 to 65535)"},
    {"127.0.0.1:+80", "has no valid port (1 to 65535)"},
    {"127.0.0.1:http", "has no valid port (1 to 65535)"},
    {"[::1]:", "has no valid port (1 to 65535)"},
    {"[::1]:0x50", "has no valid port (1 to 65535)"},
};

START_TEST(test_bad_listen_addresses)
{
    char *text = xasprintf(HTTP("listen = %s"), bad_listen[_i].value);
    char *expected = xasprintf("t.conf:7: http.listen: '%s' %s\n",
                               bad_listen[_i].value, bad_listen[_i].why);

    parse_fails(text, expected);
    free(expected);
    free(text);
}
END_TEST

static const char *const bad_domains[] = {
    "example..org",     ".example.org",    "exa mple.org",
    "user@example.org", "example.org/res", "ex!ample.org",
};

START_TEST(test_bad_server_domain)
{
    char *text = xasprintf("[server]\ndomain = %s\n[component]\n"
                           "jid = rest.example.org\nsecret = s\n",
                           bad_domains[_i]);
    char *expected = xasprintf("t.conf:2: server.domain: '%s' is not a valid "
                               "domain name\n",
                               bad_domains[_i]);

    parse_fails(text, expected);
    free(expected);
    free(text);
}
END_TEST

START_TEST(test_bad_component_jid)
{
    char *text = xasprintf("[server]\ndomain = example.org\n[component]\n"
                           "jid = %s\nsecret = s\n",
                           bad_domains[_i]);
    char *expected = xasprintf("t.conf:4: component.jid: '%s' is not a valid "
                               "domain name\n",
                               bad_domains[_i]);

    parse_fails(text, expected);
    free(expected);
    free(text);
}
END_TEST

START_TEST(test_component_jid_must_differ_from_server_domain)
{
    /* Case and a final root dot do not make two domains different. */
    parse_fails("[component]\njid = Example.Org\nsecret = s\n"
                "[server]\ndomain = example.org\n",
                "t.conf:2: component.jid must differ from server.domain "
                "(line 5)\n");
    parse_fails("[component]\njid = example.org.\nsecret = s\n"
                "[server]\ndomain = example.org\n",
                "t.conf:2: component.jid must differ from server.domain "
                "(line 5)\n");
}
END_TEST

static const char *const good_hosts[] = {
    "localhost",   "xmpp.example.org", "127.0.0.1", "::1",
    "2001:db8::5", "host-1.example",   "10.0.0.1",
};

START_TEST(test_server_host_accepts_names_and_addresses)
{
    char *text = xasprintf(SERVER("host = %s"), good_hosts[_i]);
    struct conf *conf = parse_ok(text);

    ck_assert_str_eq(conf->server.host, good_hosts[_i]);
    conf_free(conf);
    free(text);
}
END_TEST

static const char *const bad_hosts[] = {
    "[::1]", "local host", "999.1.1.1", "123", "host/x", "host:5347", "a..b",
};

START_TEST(test_server_host_rejects_the_rest)
{
    char *text = xasprintf(SERVER("host = %s"), bad_hosts[_i]);
    char *expected = xasprintf("t.conf:3: server.host: '%s' is not a hostname "
                               "or IP address\n",
                               bad_hosts[_i]);

    parse_fails(text, expected);
    free(expected);
    free(text);
}
END_TEST

START_TEST(test_port_accepts_decimal_digits_in_range)
{
    struct conf *conf = parse_ok(SERVER("port = 1"));

    ck_assert_uint_eq(conf->server.port, 1);
    conf_free(conf);
    conf = parse_ok(SERVER("port = 65535"));
    ck_assert_uint_eq(conf->server.port, 65535);
    conf_free(conf);
    /* A leading zero is still decimal, never octal. */
    conf = parse_ok(SERVER("port = 010"));
    ck_assert_uint_eq(conf->server.port, 10);
    conf_free(conf);
}
END_TEST

static const char *const bad_ports[] = {
    "0",
    "65536",
    "0x10",
    "+5",
    "-5",
    "5a",
    "5 5",
    "1e3",
    "5.0",
    "99999999999999999999999",
    "18446744073709551617", /* 2^64 + 1 wraps to 1 if overflow is missed */
    "4294967297",           /* 2^32 + 1 wraps to 1 in 32 bits */
};

START_TEST(test_port_rejects_anything_else)
{
    char *text = xasprintf(SERVER("port = %s"), bad_ports[_i]);
    char *expected = xasprintf("t.conf:3: server.port: '%s' is not an integer "
                               "from 1 to 65535\n",
                               bad_ports[_i]);

    parse_fails(text, expected);
    free(expected);
    free(text);
}
END_TEST

/*
 * For a numeric key whose line is `before` then the number: min and max
 * load, min - 1 and max + 1 fail with the given range text.
 */
static void check_range(const char *before, unsigned line, const char *key,
                        unsigned long long min, unsigned long long max,
                        const char *range)
{
    unsigned long long ok[] = {min, max}, bad[] = {min - 1, max + 1};

    for (size_t i = 0; i < 2; i++) {
        char *text = xasprintf("%s%llu\n", before, ok[i]);
        char *expected;

        conf_free(parse_ok(text));
        free(text);
        text = xasprintf("%s%llu\n", before, bad[i]);
        expected = xasprintf("t.conf:%u: %s: '%llu' is not an integer from "
                             "%s\n",
                             line, key, bad[i], range);
        parse_fails(text, expected);
        free(expected);
        free(text);
    }
}

START_TEST(test_keepalive_range)
{
    struct conf *conf = parse_ok(BASE "keepalive = 15\n");

    ck_assert_uint_eq(conf->component.keepalive, 15);
    conf_free(conf);
    check_range(BASE "keepalive = ", 6, "component.keepalive", 1, 3600,
                "1 to 3600");
}
END_TEST

START_TEST(test_max_body_range_in_plain_bytes)
{
    struct conf *conf = parse_ok(HTTP("max_body = 1024"));

    ck_assert_uint_eq(conf->http.max_body, 1024);
    conf_free(conf);
    check_range(BASE "[http]\nmax_body = ", 7, "http.max_body", 1, 67108864,
                "1 to 67108864");
    parse_fails(HTTP("max_body = 64k"), "t.conf:7: http.max_body: '64k' is not "
                                        "an integer from 1 to 67108864\n");
    parse_fails(HTTP("max_body = 1M"), "t.conf:7: http.max_body: '1M' is not "
                                       "an integer from 1 to 67108864\n");
}
END_TEST

START_TEST(test_max_connections_allows_c10k)
{
    struct conf *conf = parse_ok(HTTP("max_connections = 20000"));

    ck_assert_uint_eq(conf->http.max_connections, 20000);
    conf_free(conf);
    check_range(BASE "[http]\nmax_connections = ", 7, "http.max_connections", 1,
                1000000, "1 to 1000000");
}
END_TEST

START_TEST(test_http_timeout_range)
{
    struct conf *conf = parse_ok(HTTP("timeout = 90"));

    ck_assert_uint_eq(conf->http.timeout, 90);
    conf_free(conf);
    check_range(BASE "[http]\ntimeout = ", 7, "http.timeout", 1, 3600,
                "1 to 3600");
}
END_TEST

START_TEST(test_http_header_and_body_timeout_ranges)
{
    struct conf *conf =
        parse_ok(HTTP("header_timeout = 5\nbody_timeout = 120"));

    ck_assert_uint_eq(conf->http.header_timeout, 5);
    ck_assert_uint_eq(conf->http.body_timeout, 120);
    conf_free(conf);
    check_range(BASE "[http]\nheader_timeout = ", 7, "http.header_timeout", 1,
                3600, "1 to 3600");
    check_range(BASE "[http]\nbody_timeout = ", 7, "http.body_timeout", 1, 3600,
                "1 to 3600");
    parse_fails(HTTP("header_timeout = 10s"),
                "t.conf:7: http.header_timeout: '10s' is not an integer "
                "from 1 to 3600\n");
}
END_TEST

static const struct {
    const char *name;
    enum log_level level;
} levels[] = {
    {"error", LOG_LEVEL_ERROR},
    {"warn", LOG_LEVEL_WARN},
    {"info", LOG_LEVEL_INFO},
    {"debug", LOG_LEVEL_DEBUG},
};

START_TEST(test_log_level_names)
{
    char *text = xasprintf(BASE "[log]\nlevel = %s\n", levels[_i].name);
    struct conf *conf = parse_ok(text);

    ck_assert_int_eq(conf->log.level, levels[_i].level);
    conf_free(conf);
    free(text);
}
END_TEST

START_TEST(test_log_level_rejects_other_names)
{
    parse_fails(BASE "[log]\nlevel = INFO\n",
                "t.conf:7: log.level: 'INFO' is not one of error, warn, info, "
                "debug\n");
    parse_fails(BASE "[log]\nlevel = warning\n",
                "t.conf:7: log.level: 'warning' is not one of error, warn, "
                "info, debug\n");
}
END_TEST

START_TEST(test_tls_cert_and_key_both_readable)
{
    char *cert = temp_file("cert", 4), *key = temp_file("key", 3);
    char *text = xasprintf(HTTP("tls_cert = %s\ntls_key = %s"), cert, key);
    struct conf *conf = parse_ok(text);

    ck_assert_str_eq(conf->http.tls_cert, cert);
    ck_assert_str_eq(conf->http.tls_key, key);
    conf_free(conf);
    free(text);
    remove_temp(key);
    remove_temp(cert);
}
END_TEST

START_TEST(test_tls_cert_without_key_and_key_without_cert)
{
    char *cert = temp_file("cert", 4);
    char *text = xasprintf(HTTP("tls_cert = %s"), cert);

    parse_fails(text, "t.conf:7: http.tls_cert is set but http.tls_key is "
                      "not\n");
    free(text);
    text = xasprintf(HTTP("tls_key = %s"), cert);
    parse_fails(text, "t.conf:7: http.tls_key is set but http.tls_cert is "
                      "not\n");
    free(text);
    remove_temp(cert);
}
END_TEST

START_TEST(test_tls_files_must_be_readable_files)
{
    char *cert = temp_file("cert", 4);
    char *text = xasprintf(HTTP("tls_cert = %s\ntls_key = /tmp"), cert);

    parse_fails(text, "t.conf:8: http.tls_key: '/tmp' is a directory\n");
    free(text);
    text =
        xasprintf(HTTP("tls_cert = /nonexistent/cert.pem\ntls_key = %s"), cert);
    parse_fails(text, "t.conf:7: http.tls_cert: cannot read "
                      "'/nonexistent/cert.pem': No such file or directory\n");
    free(text);
    remove_temp(cert);
}
END_TEST

START_TEST(test_every_problem_is_reported_in_line_order)
{
    parse_fails("[server]\n"
                "domain = bad..domain\n"
                "port = 0\n"
                "colour = blue\n"
                "[component]\n"
                "keepalive = forever\n"
                "secret = a\n"
                "secret_file = /nonexistent\n"
                "[http]\n"
                "listen = 0.0.0.0:80\n"
                "max_body = -1\n"
                "tls_key = /nonexistent/key\n"
                "[log]\n"
                "level = loud\n"
                "[metrics]\n",
                "t.conf:0: missing required key component.jid\n"
                "t.conf:2: server.domain: 'bad..domain' is not a valid "
                "domain name\n"
                "t.conf:3: server.port: '0' is not an integer from 1 to "
                "65535\n"
                "t.conf:4: unknown key 'colour' in [server]\n"
                "t.conf:6: component.keepalive: 'forever' is not an integer "
                "from 1 to 3600\n"
                "t.conf:8: component.secret_file conflicts with "
                "component.secret (line 7): set only one\n"
                "t.conf:10: http.listen is not a loopback address: set "
                "http.admin_token\n"
                "t.conf:11: http.max_body: '-1' is not an integer from 1 to "
                "67108864\n"
                "t.conf:12: http.tls_key: cannot read '/nonexistent/key': No "
                "such file or directory\n"
                "t.conf:12: http.tls_key is set but http.tls_cert is not\n"
                "t.conf:14: log.level: 'loud' is not one of error, warn, "
                "info, debug\n"
                "t.conf:15: unknown section [metrics]\n");
}
END_TEST

/* The `# expect: LINE: message` comments of a data file, as errs text. */
static char *expectations(const char *path)
{
    static const char tag[] = "# expect: ";
    char *text, *expected = xstrdup("");
    size_t len, n = 0;
    FILE *f = fopen(path, "rb");

    ck_assert_ptr_nonnull(f);
    text = xmalloc(2 * 1024 * 1024);
    len = fread(text, 1, 2 * 1024 * 1024, f);
    fclose(f);
    for (size_t i = 0; i < len; i = n + 1) {
        char *nl = memchr(text + i, '\n', len - i);
        n = nl != NULL ? (size_t)(nl - text) : len;
        if (n - i > sizeof(tag) - 1 &&
            memcmp(text + i, tag, sizeof(tag) - 1) == 0) {
            char *more = xasprintf("%s%s:%.*s\n", expected, path,
                                   (int)(n - i - (sizeof(tag) - 1)),
                                   text + i + sizeof(tag) - 1);
            free(expected);
            expected = more;
        }
    }
    free(text);
    return expected;
}

static int is_conf(const struct dirent *d)
{
    size_t n = strlen(d->d_name);

    return n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0 &&
           strncmp(d->d_name, "conf-", 5) == 0;
}

START_TEST(test_data_files_give_exactly_the_expected_errors)
{
    struct dirent **names;
    int n = scandir(data_dir(), &names, is_conf, alphasort);
    int good = 0, bad = 0;

    ck_assert_int_gt(n, 0);
    for (int i = 0; i < n; i++) {
        char *path = xasprintf("%s/%s", data_dir(), names[i]->d_name);
        char *expected = expectations(path), *out;
        struct conf *conf = load(path, &out);

        if (strncmp(names[i]->d_name, "conf-good-", 10) == 0) {
            ck_assert_msg(conf != NULL, "%s: %s", path, out);
            ck_assert_str_eq(out, "");
            good++;
        } else {
            ck_assert_msg(conf == NULL, "%s loaded", path);
            ck_assert_msg(expected[0] != '\0', "%s: no expectations", path);
            ck_assert_str_eq(out, expected);
            bad++;
        }
        conf_free(conf);
        free(out);
        free(expected);
        free(path);
        free(names[i]);
    }
    free(names);
    ck_assert_int_ge(good, 3);
    ck_assert_int_ge(bad, 12);
}
END_TEST

/* A config whose line 7 is `line`, inside [rest]. */
#define REST(line) BASE "[rest]\n" line "\n"

START_TEST(test_rest_defaults)
{
    struct conf *conf = parse_ok(BASE);

    ck_assert_uint_eq(conf->rest.iq_timeout, 120);
    ck_assert_uint_eq(conf->rest.iq_max_timeout, 300);
    ck_assert_ptr_null(conf->rest.tokens_text);
    ck_assert_ptr_null(conf->rest.tokens);
    ck_assert_uint_eq(conf->rest.ntokens, 0);
    conf_free(conf);
}
END_TEST

START_TEST(test_rest_iq_timeouts_ranges_and_order)
{
    struct conf *conf = parse_ok(BASE "[rest]\niq_timeout = 5\n"
                                      "iq_max_timeout = 5\n");

    ck_assert_uint_eq(conf->rest.iq_timeout, 5);
    ck_assert_uint_eq(conf->rest.iq_max_timeout, 5);
    conf_free(conf);
    check_range(BASE "[rest]\niq_max_timeout = 3600\niq_timeout = ", 8,
                "rest.iq_timeout", 1, 3600, "1 to 3600");
    check_range(BASE "[rest]\niq_timeout = 1\niq_max_timeout = ", 8,
                "rest.iq_max_timeout", 1, 3600, "1 to 3600");
    parse_fails(BASE "[rest]\niq_timeout = 60\niq_max_timeout = 30\n",
                "t.conf:7: rest.iq_timeout (60) is larger than "
                "rest.iq_max_timeout (30)\n");
    /* The default iq_timeout (120) above an explicit maximum. */
    parse_fails(REST("iq_max_timeout = 30"),
                "t.conf:7: rest.iq_timeout (120) is larger than "
                "rest.iq_max_timeout (30)\n");
}
END_TEST

START_TEST(test_rest_tokens_inline_with_patterns)
{
    struct conf *conf =
        parse_ok(REST("tokens = tok_a_0123456789abcdef, tok_b_0123456789abcdef "
                      "bot@rest.example.org ,tok_c_0123456789abcde== "
                      "alice@example.org,"));

    ck_assert_uint_eq(conf->rest.ntokens, 3);
    ck_assert_str_eq(conf->rest.tokens[0].token, "tok_a_0123456789abcdef");
    ck_assert_ptr_null(conf->rest.tokens[0].pattern);
    ck_assert_str_eq(conf->rest.tokens[1].token, "tok_b_0123456789abcdef");
    ck_assert_str_eq(conf->rest.tokens[1].pattern, "bot@rest.example.org");
    ck_assert_str_eq(conf->rest.tokens[2].token, "tok_c_0123456789abcde==");
    ck_assert_str_eq(conf->rest.tokens[2].pattern, "alice@example.org");
    conf_free(conf);
}
END_TEST

START_TEST(test_rest_tokens_file_one_per_line)
{
    static const char content[] =
        "# web app\n"
        "tok_a_0123456789abcdef\r\n"
        "\n"
        "  tok_b_0123456789abcdef  rest.example.org/r\n";
    char *path = temp_file(content, sizeof(content) - 1);
    char *text = xasprintf(BASE "[rest]\ntokens_file = %s\n", path);
    struct conf *conf = parse_ok(text);

    ck_assert_uint_eq(conf->rest.ntokens, 2);
    ck_assert_str_eq(conf->rest.tokens[0].token, "tok_a_0123456789abcdef");
    ck_assert_ptr_null(conf->rest.tokens[0].pattern);
    ck_assert_str_eq(conf->rest.tokens[1].token, "tok_b_0123456789abcdef");
    ck_assert_str_eq(conf->rest.tokens[1].pattern, "rest.example.org/r");
    conf_free(conf);
    free(text);
    remove_temp(path);
}
END_TEST

START_TEST(test_rest_tokens_errors_name_the_entry_never_the_token)
{
    parse_fails(REST("tokens = short"),
                "t.conf:7: rest.tokens: token 1 is shorter than 16 "
                "characters\n");
    parse_fails(REST("tokens = tok_a_0123456789abcdef, tok:b_0123456789abcdef"),
                "t.conf:7: rest.tokens: token 2 has characters outside A-Z "
                "a-z 0-9 - . _ ~ + / and trailing =\n");
    parse_fails(REST("tokens = tok_a_0123456789abcdef,tok_a_0123456789abcdef"),
                "t.conf:7: rest.tokens: token 2 repeats token 1\n");
    parse_fails(REST("tokens = tok_a_0123456789abcdef a@b c@d"),
                "t.conf:7: rest.tokens: entry 1: expected 'TOKEN "
                "[JID-PATTERN]'\n");
    parse_fails(REST("tokens = tok_a_0123456789abcdef bot@elsewhere.org"),
                "t.conf:7: rest.tokens: pattern of token 1 "
                "'bot@elsewhere.org' is neither in component.jid nor in "
                "server.domain\n");
    parse_fails(REST("tokens = tok_a_0123456789abcdef alice@example.org/r"),
                "t.conf:7: rest.tokens: pattern of token 1 "
                "'alice@example.org/r' names a resource of a server.domain "
                "user (only bare JIDs can send as a user)\n");
    parse_fails(REST("tokens = tok_a_0123456789abcdef a@@b"),
                "t.conf:7: rest.tokens: pattern of token 1 'a@@b' is not a "
                "valid JID\n");
}
END_TEST

START_TEST(test_rest_tokens_file_errors_give_the_file_line)
{
    static const char content[] = "tok_a_0123456789abcdef\n"
                                  "# comment\n"
                                  "tok_a_0123456789abcdef\n";
    char *path = temp_file(content, sizeof(content) - 1);
    char *text = xasprintf(BASE "[rest]\ntokens_file = %s\n", path);
    char *expected = xasprintf("t.conf:7: rest.tokens_file: %s:3: token 2 "
                               "repeats token 1\n",
                               path);

    parse_fails(text, expected);
    free(expected);
    free(text);
    remove_temp(path);
    parse_fails(REST("tokens = tok_a_0123456789abcdef\ntokens_file = /x"),
                "t.conf:8: rest.tokens_file conflicts with rest.tokens (line "
                "7): set only one\n");
}
END_TEST

/* A webhook config: BASE plus a [webhook] section with these lines. */
#define WEBHOOK(lines) BASE "[webhook]\n" lines

START_TEST(test_webhook_defaults)
{
    struct conf *conf = parse_ok(BASE);

    ck_assert_ptr_null(conf->webhook.url);
    ck_assert_int_eq(conf->webhook.content_type, CONF_CONTENT_XML);
    ck_assert_uint_eq(conf->webhook.stanzas,
                      CONF_KIND_MESSAGE | CONF_KIND_PRESENCE | CONF_KIND_IQ);
    ck_assert_uint_eq(conf->webhook.events,
                      CONF_EVENT_BARE | CONF_EVENT_FULL | CONF_EVENT_HOST);
    ck_assert_uint_eq(conf->webhook.timeout, 10);
    ck_assert_uint_eq(conf->webhook.concurrency, 64);
    ck_assert_uint_eq(conf->webhook.queue_max, 10000);
    ck_assert_ptr_null(conf->webhook.secret);
    conf_free(conf);
}
END_TEST

START_TEST(test_webhook_values)
{
    struct conf *conf =
        parse_ok(WEBHOOK("url = https://app.example/hook/{kind}?to={to}\n"
                         "content_type = application/json\n"
                         "stanzas = iq , message\n"
                         "events = bare\n"
                         "timeout = 300\n"
                         "concurrency = 256\n"
                         "queue_max = 1000000\n"
                         "secret = k#y;1\n"));

    ck_assert_str_eq(conf->webhook.url,
                     "https://app.example/hook/{kind}?to={to}");
    ck_assert_int_eq(conf->webhook.content_type, CONF_CONTENT_JSON);
    ck_assert_uint_eq(conf->webhook.stanzas, CONF_KIND_IQ | CONF_KIND_MESSAGE);
    ck_assert_uint_eq(conf->webhook.events, CONF_EVENT_BARE);
    ck_assert_uint_eq(conf->webhook.timeout, 300);
    ck_assert_uint_eq(conf->webhook.concurrency, 256);
    ck_assert_uint_eq(conf->webhook.queue_max, 1000000);
    ck_assert_str_eq(conf->webhook.secret, "k#y;1");
    conf_free(conf);
}
END_TEST

START_TEST(test_webhook_bad_values_are_rejected)
{
    static const char *const bad[] = {
        WEBHOOK("url = ftp://app.example/\n"),
        WEBHOOK("url = http://\n"),
        WEBHOOK("url = http://a b/\n"),
        WEBHOOK("content_type = text/plain\n"),
        WEBHOOK("stanzas = message, chat\n"),
        WEBHOOK("stanzas = message,\n"),
        WEBHOOK("events = bare, room\n"),
        WEBHOOK("timeout = 0\n"),
        WEBHOOK("timeout = 301\n"),
        WEBHOOK("concurrency = 257\n"),
        WEBHOOK("queue_max = 0\n"),
        WEBHOOK("secret = a\nsecret_file = /etc/hostname\n"),
        WEBHOOK("colour = blue\n"),
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out;
        struct conf *conf = parse(bad[i], &out);
        ck_assert_msg(conf == NULL, "accepted: %s", bad[i]);
        ck_assert_msg(strstr(out, "t.conf:") != NULL, "%s", out);
        free(out);
    }
}
END_TEST

START_TEST(test_webhook_concurrency_is_not_bounded_by_http_connections)
{
    /* Only libstrophe's socket must stay below FD_SETSIZE: the old
     * max_connections + concurrency <= 928 rule is gone. */
    struct conf *conf = parse_ok(BASE "[http]\nmax_connections = 20000\n"
                                      "[webhook]\nurl = http://h/\n"
                                      "concurrency = 256\n"
                                      "[roster]\nurl = http://h/%s\n"
                                      "token = t\nconcurrency = 256\n");

    ck_assert_uint_eq(conf->webhook.concurrency, 256);
    conf_free(conf);
}
END_TEST

/* A roster config: BASE plus a [roster] section (line 6) with these lines. */
#define ROSTER(lines) BASE "[roster]\n" lines

START_TEST(test_roster_defaults)
{
    struct conf *conf = parse_ok(BASE);

    ck_assert_ptr_null(conf->roster.url);
    ck_assert_ptr_null(conf->roster.token);
    ck_assert_uint_eq(conf->roster.timeout, 10);
    ck_assert_uint_eq(conf->roster.concurrency, 32);
    ck_assert_int_eq(conf->roster.writer, CONF_WRITER_AUTO);
    ck_assert_ptr_null(conf->roster.api_url);
    ck_assert_uint_eq(conf->roster.min_interval, 60);
    conf_free(conf);
}
END_TEST

START_TEST(test_roster_values)
{
    struct conf *conf =
        parse_ok(ROSTER("url = http://app.example/contacts/%s?x=1\n"
                        "token = t0k3n\n"
                        "timeout = 3\n"
                        "concurrency = 8\n"
                        "writer = ejabberd-api\n"
                        "api_url = http://127.0.0.1:5443/api\n"
                        "api_user = admin@example.org\n"
                        "api_password = pw\n"
                        "min_interval = 0\n"));

    ck_assert_str_eq(conf->roster.url, "http://app.example/contacts/%s?x=1");
    ck_assert_str_eq(conf->roster.token, "t0k3n");
    ck_assert_uint_eq(conf->roster.timeout, 3);
    ck_assert_uint_eq(conf->roster.concurrency, 8);
    ck_assert_int_eq(conf->roster.writer, CONF_WRITER_API);
    ck_assert_str_eq(conf->roster.api_url, "http://127.0.0.1:5443/api");
    ck_assert_str_eq(conf->roster.api_user, "admin@example.org");
    ck_assert_str_eq(conf->roster.api_password, "pw");
    ck_assert_uint_eq(conf->roster.min_interval, 0);
    conf_free(conf);
}
END_TEST

START_TEST(test_roster_cross_checks)
{
    char *out;
    struct conf *conf;

    conf = parse(ROSTER("url = http://app/contacts\ntoken = t\n"), &out);
    ck_assert_ptr_null(conf);
    ck_assert_ptr_nonnull(strstr(out, "t.conf:7: "));
    ck_assert_ptr_nonnull(strstr(out, "must contain %s"));
    free(out);
    conf = parse(ROSTER("url = http://app/%s/%s\ntoken = t\n"), &out);
    ck_assert_ptr_null(conf);
    ck_assert_ptr_nonnull(strstr(out, "once"));
    free(out);
    parse_fails(ROSTER("url = http://app/%s\n"),
                "t.conf:7: roster.url is set but roster.token (or "
                "token_file) is not\n");
    conf = parse(ROSTER("writer = privileged\n"), &out);
    ck_assert_ptr_null(conf);
    ck_assert_ptr_nonnull(strstr(out, "t.conf:7: "));
    free(out);
    parse_fails(ROSTER("writer = ejabberd-api\napi_user = a\n"),
                "t.conf:7: roster.writer = ejabberd-api needs roster.api_url\n"
                "t.conf:7: roster.writer = ejabberd-api needs "
                "roster.api_password\n");
}
END_TEST

static Suite *conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *syntax = tcase_create("syntax");
    TCase *limits = tcase_create("limits");
    TCase *secrets = tcase_create("secrets");
    TCase *values = tcase_create("values");
    TCase *files = tcase_create("files");
    TCase *rest = tcase_create("rest");

    tcase_add_test(syntax, test_minimal_config_gets_every_default);
    tcase_add_test(syntax, test_conf_free_null_is_a_noop);
    tcase_add_test(syntax, test_null_errs_rejects_silently);
    tcase_add_test(syntax, test_comments_start_with_hash_or_semicolon);
    tcase_add_test(syntax, test_hash_and_semicolon_inside_value_are_kept);
    tcase_add_test(syntax, test_trailing_comment_is_part_of_the_value);
    tcase_add_test(syntax, test_blanks_around_names_and_values_are_trimmed);
    tcase_add_test(syntax, test_quoted_value_keeps_leading_and_trailing_spaces);
    tcase_add_test(syntax, test_empty_quotes_are_an_empty_value);
    tcase_add_test(syntax, test_unterminated_quote_is_an_error);
    tcase_add_test(syntax, test_unknown_section_is_reported_once);
    tcase_add_test(syntax, test_section_names_are_case_sensitive);
    tcase_add_test(syntax, test_key_outside_any_section);
    tcase_add_test(syntax, test_unknown_key_names_its_section);
    tcase_add_test(syntax, test_duplicate_key_says_where_the_first_was);
    tcase_add_test(syntax, test_duplicate_section_is_an_error);
    tcase_add_test(syntax, test_keys_in_duplicate_section_are_still_checked);
    tcase_add_test(syntax, test_line_without_equals_sign);
    tcase_add_test(syntax, test_missing_key_name);
    tcase_add_test(syntax, test_empty_value_is_an_error);
    tcase_add_test(syntax, test_equals_sign_inside_value_is_kept);
    tcase_add_test(syntax, test_broken_section_headers);
    tcase_add_test(syntax, test_missing_required_keys_are_reported_at_line_0);
    tcase_add_test(syntax, test_every_problem_is_reported_in_line_order);
    suite_add_tcase(s, syntax);

    tcase_add_test(limits, test_nul_byte_is_an_error_at_its_line);
    tcase_add_test(limits, test_broken_line_hides_no_required_key);
    tcase_add_loop_test(limits, test_invalid_utf8_is_an_error_at_its_line, 0,
                        sizeof(bad_utf8) / sizeof(bad_utf8[0]));
    tcase_add_test(limits, test_valid_utf8_is_accepted);
    tcase_add_test(limits, test_control_characters_are_errors_but_tab_is_blank);
    tcase_add_test(limits, test_lines_up_to_4096_bytes_are_accepted);
    tcase_add_test(limits, test_line_longer_than_4096_bytes_is_an_error);
    tcase_add_test(limits, test_text_of_1_mib_is_accepted);
    tcase_add_test(limits, test_text_over_1_mib_is_an_error);
    suite_add_tcase(s, limits);

    tcase_add_test(secrets,
                   test_secret_file_content_without_trailing_line_ends);
    tcase_add_test(secrets, test_secret_and_secret_file_conflict);
    tcase_add_test(secrets,
                   test_secret_file_unreadable_is_an_error_at_its_line);
    tcase_add_test(secrets, test_secret_file_empty_is_an_error);
    tcase_add_test(secrets, test_secret_file_with_nul_byte_is_an_error);
    tcase_add_test(secrets, test_secret_file_over_64_kib_is_an_error);
    tcase_add_test(secrets, test_admin_token_inline_or_from_file);
    tcase_add_test(secrets, test_admin_token_and_admin_token_file_conflict);
    tcase_add_loop_test(secrets,
                        test_admin_token_required_when_listen_is_not_loopback,
                        0, sizeof(public_listen) / sizeof(public_listen[0]));
    tcase_add_loop_test(secrets, test_loopback_listen_needs_no_admin_token, 0,
                        sizeof(loopback_listen) / sizeof(loopback_listen[0]));
    suite_add_tcase(s, secrets);

    tcase_add_loop_test(values, test_bad_listen_addresses, 0,
                        sizeof(bad_listen) / sizeof(bad_listen[0]));
    tcase_add_loop_test(values, test_bad_server_domain, 0,
                        sizeof(bad_domains) / sizeof(bad_domains[0]));
    tcase_add_loop_test(values, test_bad_component_jid, 0,
                        sizeof(bad_domains) / sizeof(bad_domains[0]));
    tcase_add_test(values, test_component_jid_must_differ_from_server_domain);
    tcase_add_loop_test(values, test_server_host_accepts_names_and_addresses, 0,
                        sizeof(good_hosts) / sizeof(good_hosts[0]));
    tcase_add_loop_test(values, test_server_host_rejects_the_rest, 0,
                        sizeof(bad_hosts) / sizeof(bad_hosts[0]));
    tcase_add_test(values, test_port_accepts_decimal_digits_in_range);
    tcase_add_loop_test(values, test_port_rejects_anything_else, 0,
                        sizeof(bad_ports) / sizeof(bad_ports[0]));
    tcase_add_test(values, test_keepalive_range);
    tcase_add_test(values, test_max_body_range_in_plain_bytes);
    tcase_add_test(values, test_max_connections_allows_c10k);
    tcase_add_test(values, test_http_timeout_range);
    tcase_add_test(values, test_http_header_and_body_timeout_ranges);
    tcase_add_loop_test(values, test_log_level_names, 0,
                        sizeof(levels) / sizeof(levels[0]));
    tcase_add_test(values, test_log_level_rejects_other_names);
    tcase_add_test(values, test_tls_cert_and_key_both_readable);
    tcase_add_test(values, test_tls_cert_without_key_and_key_without_cert);
    tcase_add_test(values, test_tls_files_must_be_readable_files);
    suite_add_tcase(s, values);

    tcase_add_test(files, test_full_config_file_sets_every_value);
    tcase_add_test(files, test_crlf_line_ends_and_byte_order_mark_are_accepted);
    tcase_add_test(files, test_file_of_1_mib_loads_and_larger_is_an_error);
    tcase_add_test(files, test_unreadable_file_says_why);
    tcase_add_test(files, test_data_files_give_exactly_the_expected_errors);
    /* Under valgrind, reading and writing megabytes takes a while. */
    tcase_set_timeout(files, 60);
    tcase_set_timeout(limits, 60);
    suite_add_tcase(s, files);

    tcase_add_test(rest, test_rest_defaults);
    tcase_add_test(rest, test_rest_iq_timeouts_ranges_and_order);
    tcase_add_test(rest, test_rest_tokens_inline_with_patterns);
    tcase_add_test(rest, test_rest_tokens_file_one_per_line);
    tcase_add_test(rest,
                   test_rest_tokens_errors_name_the_entry_never_the_token);
    tcase_add_test(rest, test_rest_tokens_file_errors_give_the_file_line);
    suite_add_tcase(s, rest);

    TCase *webhook = tcase_create("webhook");
    tcase_add_test(webhook, test_webhook_defaults);
    tcase_add_test(webhook, test_webhook_values);
    tcase_add_test(webhook, test_webhook_bad_values_are_rejected);
    tcase_add_test(webhook,
                   test_webhook_concurrency_is_not_bounded_by_http_connections);
    suite_add_tcase(s, webhook);

    TCase *roster = tcase_create("roster");
    tcase_add_test(roster, test_roster_defaults);
    tcase_add_test(roster, test_roster_values);
    tcase_add_test(roster, test_roster_cross_checks);
    suite_add_tcase(s, roster);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conf_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
