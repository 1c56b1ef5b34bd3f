/* SPDX-License-Identifier: MIT */
/* test_stanza.c: unit tests for stanza accessors, builders and error replies.
 */
#include "config.h"

#include "stanza.h"
#include "stanza_priv.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static xmpp_ctx_t *ctx;

static void setup(void)
{
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    ck_assert_ptr_nonnull(ctx);
}

static void teardown(void)
{
    xmpp_ctx_free(ctx);
    ctx = NULL;
    xmpp_shutdown();
}

static xmpp_stanza_t *parse(const char *xml)
{
    xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);

    ck_assert_msg(st != NULL, "could not parse %s", xml);
    return st;
}

/* Serialize st, compare with expected, release st. */
static void assert_xml_release(xmpp_stanza_t *st, const char *expected)
{
    size_t len = 0;
    char *text = stanza_to_text(st, &len);

    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, expected);
    ck_assert_uint_eq(len, strlen(expected));
    free(text);
    xmpp_stanza_release(st);
}

START_TEST(test_attr_returns_value_or_null)
{
    xmpp_stanza_t *iq = parse("<iq type='get' id='q1' to='a.example'/>");

    ck_assert_str_eq(stanza_attr(iq, ATTR_TYPE), "get");
    ck_assert_str_eq(stanza_attr(iq, ATTR_ID), "q1");
    ck_assert_str_eq(stanza_attr(iq, ATTR_TO), "a.example");
    ck_assert_ptr_null(stanza_attr(iq, ATTR_FROM));
    ck_assert_ptr_null(stanza_attr(NULL, ATTR_ID));
    xmpp_stanza_release(iq);
}
END_TEST

START_TEST(test_is_compares_element_name)
{
    xmpp_stanza_t *msg = parse("<message>hello</message>");
    xmpp_stanza_t *text = xmpp_stanza_get_children(msg);

    ck_assert(stanza_is(msg, EL_MESSAGE));
    ck_assert(!stanza_is(msg, EL_IQ));
    ck_assert(!stanza_is(msg, "messag"));
    ck_assert(!stanza_is(msg, "message2"));
    ck_assert(!stanza_is(NULL, EL_MESSAGE));
    ck_assert_ptr_nonnull(text);
    ck_assert(xmpp_stanza_is_text(text));
    ck_assert(!stanza_is(text, EL_MESSAGE));
    xmpp_stanza_release(msg);
}
END_TEST

START_TEST(test_first_element_skips_text_nodes)
{
    xmpp_stanza_t *iq = parse("<iq> text <a/>\n <b/></iq>");
    xmpp_stanza_t *empty = parse("<iq>only text</iq>");
    xmpp_stanza_t *bare = parse("<iq/>");

    ck_assert(stanza_is(stanza_first_element(iq), "a"));
    ck_assert_ptr_null(stanza_first_element(empty));
    ck_assert_ptr_null(stanza_first_element(bare));
    xmpp_stanza_release(iq);
    xmpp_stanza_release(empty);
    xmpp_stanza_release(bare);
}
END_TEST

START_TEST(test_element_count_ignores_text_and_grandchildren)
{
    xmpp_stanza_t *iq = parse("<iq> x <a><deep/><deep/></a> y <b/><c/></iq>");
    xmpp_stanza_t *empty = parse("<iq>text</iq>");

    ck_assert_int_eq(stanza_element_count(iq), 3);
    ck_assert_int_eq(stanza_element_count(empty), 0);
    xmpp_stanza_release(iq);
    xmpp_stanza_release(empty);
}
END_TEST

START_TEST(test_child_matches_name_and_namespace)
{
    xmpp_stanza_t *iq = parse("<iq xmlns='jabber:client'>text"
                              "<query xmlns='jabber:iq:roster' n='1'/>"
                              "<query xmlns='jabber:iq:version' n='2'/>"
                              "<ping xmlns='urn:xmpp:ping' n='3'/></iq>");

    ck_assert_str_eq(stanza_attr(stanza_child(iq, EL_QUERY, NULL), "n"), "1");
    ck_assert_str_eq(stanza_attr(stanza_child(iq, EL_QUERY, NS_VERSION), "n"),
                     "2");
    ck_assert_str_eq(stanza_attr(stanza_child(iq, NULL, NS_PING), "n"), "3");
    ck_assert_str_eq(stanza_attr(stanza_child(iq, NULL, NULL), "n"), "1");
    ck_assert_str_eq(stanza_attr(stanza_child(iq, EL_PING, NULL), "n"), "3");
    ck_assert_ptr_null(stanza_child(iq, EL_QUERY, NS_PING));
    ck_assert_ptr_null(stanza_child(iq, EL_ERROR, NULL));
    ck_assert_ptr_null(stanza_child(iq, NULL, "urn:example:none"));
    xmpp_stanza_release(iq);
}
END_TEST

START_TEST(test_child_with_namespace_skips_elements_without_one)
{
    xmpp_stanza_t *el = stanza_element(ctx, "wrapper", NULL);

    stanza_add_element(el, EL_QUERY, NULL);
    ck_assert_ptr_nonnull(stanza_child(el, EL_QUERY, NULL));
    ck_assert_ptr_null(stanza_child(el, EL_QUERY, NS_ROSTER));
    xmpp_stanza_release(el);
}
END_TEST

START_TEST(test_element_with_and_without_namespace)
{
    assert_xml_release(stanza_element(ctx, EL_PING, NS_PING),
                       "<ping xmlns=\"urn:xmpp:ping\"/>");
    assert_xml_release(stanza_element(ctx, EL_QUERY, NULL), "<query/>");
}
END_TEST

START_TEST(test_add_element_and_text_build_a_tree)
{
    xmpp_stanza_t *q = stanza_element(ctx, EL_QUERY, NS_VERSION);
    xmpp_stanza_t *name = stanza_add_element(q, EL_NAME, NULL);

    stanza_add_text(name, "rest & <anza>");
    stanza_add_text(stanza_add_element(q, EL_VERSION, NULL), "1.0");
    ck_assert_int_eq(stanza_element_count(q), 2);
    ck_assert_ptr_eq(stanza_first_element(q), name);
    assert_xml_release(q, "<query xmlns=\"jabber:iq:version\"><name>rest "
                          "&amp; &lt;anza&gt;</name><version>1.0</version>"
                          "</query>");
}
END_TEST

START_TEST(test_adopt_hands_the_child_to_the_parent)
{
    xmpp_stanza_t *parent = stanza_element(ctx, "a", NULL);
    xmpp_stanza_t *child = stanza_element(ctx, "b", "urn:example:b");

    stanza_adopt(parent, child);
    /* Our reference is gone; the parent's keeps the child alive. */
    ck_assert(stanza_is(stanza_first_element(parent), "b"));
    assert_xml_release(parent, "<a><b xmlns=\"urn:example:b\"/></a>");
}
END_TEST

START_TEST(test_strip_stream_ns_drops_only_the_stream_namespaces)
{
    const char *xml = "<message xmlns='jabber:client'>"
                      "<body xmlns='jabber:component:accept'>hi</body>"
                      "<x xmlns='urn:example:x'><y xmlns='jabber:client'/></x>"
                      "</message>";
    xmpp_stanza_t *st = parse(xml);

    stanza_strip_stream_ns(st, false);
    assert_xml_release(st, "<message><body xmlns=\"jabber:component:accept\">"
                           "hi</body><x xmlns=\"urn:example:x\"><y "
                           "xmlns=\"jabber:client\"/></x></message>");
    st = parse(xml);
    stanza_strip_stream_ns(st, true);
    assert_xml_release(st, "<message><body>hi</body><x xmlns=\"urn:example:x\">"
                           "<y/></x></message>");
}
END_TEST

START_TEST(test_iq_sets_the_given_attributes)
{
    assert_xml_release(
        stanza_iq(ctx, "get", "q1", "rest.example.org", "user@example.org"),
        "<iq id=\"q1\" to=\"user@example.org\" type=\"get\" "
        "from=\"rest.example.org\"/>");
}
END_TEST

START_TEST(test_iq_leaves_out_null_attributes)
{
    assert_xml_release(stanza_iq(ctx, "set", NULL, NULL, NULL),
                       "<iq type=\"set\"/>");
    assert_xml_release(stanza_iq(ctx, "result", "x", NULL, "a.example"),
                       "<iq id=\"x\" to=\"a.example\" type=\"result\"/>");
}
END_TEST

START_TEST(test_iq_escapes_attribute_values)
{
    assert_xml_release(stanza_iq(ctx, "get", "a&b\"c'<", NULL, NULL),
                       "<iq id=\"a&amp;b&quot;c'&lt;\" type=\"get\"/>");
}
END_TEST

START_TEST(test_result_swaps_addresses_and_copies_id)
{
    xmpp_stanza_t *req =
        parse("<iq type='get' id='v1' from='user@example.org/res' "
              "to='rest.example.org'><query xmlns='jabber:iq:version'/></iq>");

    assert_xml_release(stanza_result(ctx, req, "rest.example.org"),
                       "<iq id=\"v1\" to=\"user@example.org/res\" "
                       "type=\"result\" from=\"rest.example.org\"/>");
    xmpp_stanza_release(req);
}
END_TEST

START_TEST(test_result_without_request_from_has_no_to)
{
    xmpp_stanza_t *req = parse("<iq type='get' id='v2'/>");

    assert_xml_release(stanza_result(ctx, req, NULL),
                       "<iq id=\"v2\" type=\"result\"/>");
    xmpp_stanza_release(req);
}
END_TEST

START_TEST(test_error_reply_carries_condition_and_text)
{
    xmpp_stanza_t *req =
        parse("<iq type='get' id='a1' from='u@example.org/r' "
              "to='c.example.org'><query xmlns='jabber:iq:version'/></iq>");

    assert_xml_release(
        stanza_error(ctx, req, "c.example.org", ERR_CANCEL, COND_ITEM_NOT_FOUND,
                     "no <such> & thing"),
        "<iq id=\"a1\" to=\"u@example.org/r\" type=\"error\" "
        "from=\"c.example.org\"><error type=\"cancel\"><item-not-found "
        "xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\"/><text "
        "xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\">no &lt;such&gt; "
        "&amp; thing</text></error></iq>");
    xmpp_stanza_release(req);
}
END_TEST

START_TEST(test_error_reply_without_text_has_only_condition)
{
    xmpp_stanza_t *req = parse("<iq type='set' id='a2' from='u@example.org'/>");

    assert_xml_release(
        stanza_error(ctx, req, "c.example.org", ERR_WAIT,
                     COND_RESOURCE_CONSTRAINT, NULL),
        "<iq id=\"a2\" to=\"u@example.org\" type=\"error\" "
        "from=\"c.example.org\"><error type=\"wait\"><resource-constraint "
        "xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\"/></error></iq>");
    xmpp_stanza_release(req);
}
END_TEST

START_TEST(test_error_reply_to_message_is_a_message)
{
    xmpp_stanza_t *req = parse("<message id='m2' from='u@example.org/r' "
                               "to='c.example.org'><body>x</body></message>");

    assert_xml_release(
        stanza_error(ctx, req, "c.example.org", ERR_CANCEL,
                     COND_SERVICE_UNAVAILABLE, NULL),
        "<message id=\"m2\" to=\"u@example.org/r\" type=\"error\" "
        "from=\"c.example.org\"><error type=\"cancel\"><service-unavailable "
        "xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\"/></error></message>");
    xmpp_stanza_release(req);
}
END_TEST

START_TEST(test_error_element_alone)
{
    assert_xml_release(
        stanza_error_element(ctx, ERR_MODIFY, COND_BAD_REQUEST, "bad"),
        "<error type=\"modify\"><bad-request "
        "xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\"/><text "
        "xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\">bad</text></error>");
    assert_xml_release(
        stanza_error_element(ctx, ERR_AUTH, COND_FORBIDDEN, NULL),
        "<error type=\"auth\"><forbidden "
        "xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\"/></error>");
}
END_TEST

START_TEST(test_to_text_is_compact_and_reports_length)
{
    xmpp_stanza_t *iq = stanza_iq(ctx, "result", "r1", "c.example", NULL);
    xmpp_stanza_t *q = stanza_add_element(iq, EL_QUERY, NS_DISCO_INFO);
    xmpp_stanza_t *id = stanza_add_element(q, EL_IDENTITY, NULL);

    xmpp_stanza_set_attribute(id, ATTR_CATEGORY, "component");
    xmpp_stanza_set_attribute(stanza_add_element(q, EL_FEATURE, NULL), ATTR_VAR,
                              NS_PING);
    assert_xml_release(
        iq, "<iq id=\"r1\" type=\"result\" from=\"c.example\"><query "
            "xmlns=\"http://jabber.org/protocol/disco#info\"><identity "
            "category=\"component\"/><feature var=\"urn:xmpp:ping\"/>"
            "</query></iq>");
}
END_TEST

START_TEST(test_to_text_accepts_null_length)
{
    xmpp_stanza_t *el = stanza_element(ctx, EL_PING, NS_PING);
    char *text = stanza_to_text(el, NULL);

    ck_assert_str_eq(text, "<ping xmlns=\"urn:xmpp:ping\"/>");
    free(text);
    xmpp_stanza_release(el);
}
END_TEST

/* Parsed documents serialize exactly as libstrophe's own serializer does,
 * apart from the whitespace we escape on purpose (next test). */
START_TEST(test_serialize_matches_libstrophe)
{
    static const char *const docs[] = {
        "<message xmlns='jabber:client' to='a@b' type='chat' id='x'><body>hi "
        "&amp; &lt;there&gt; \"q\" 'a'</body><html "
        "xmlns='http://jabber.org/protocol/xhtml-im'><body "
        "xmlns='http://www.w3.org/1999/xhtml'><p>x<b>y</b>z</p><br/></body>"
        "</html></message>",
        "<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>",
        "<a><b><c><d/></c></b><e/>text<f>t2</f>tail</a>",
        "<a x='1&amp;2&lt;3&gt;4&quot;5'/>",
        "<message xmlns='jabber:component:accept'><body>x</body></message>",
        "<presence><x xmlns='a'><y xmlns='b'><z xmlns='a'/></y></x></presence>",
        "<forwarded xmlns='urn:xmpp:forward:0'><message "
        "xmlns='jabber:client'><body>\xc3\xa9</body></message></forwarded>",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(*docs); i++) {
        xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, docs[i]);
        char *want = NULL, *got;
        size_t want_len = 0, got_len = 0;

        ck_assert_ptr_nonnull(st);
        ck_assert_int_eq(xmpp_stanza_to_text(st, &want, &want_len), XMPP_EOK);
        got = stanza_to_text(st, &got_len);
        ck_assert_str_eq(got, want);
        ck_assert_uint_eq(got_len, want_len);
        free(got);
        xmpp_free(ctx, want);
        xmpp_stanza_release(st);
    }
}
END_TEST

START_TEST(test_serialize_escapes_whitespace_a_parser_would_change)
{
    xmpp_stanza_t *el = stanza_element(ctx, "m", NULL);

    xmpp_stanza_set_attribute(el, "a", "x\ny\tz\r");
    stanza_add_text(el, "a\r\nb\tc");
    assert_xml_release(el, "<m a=\"x&#10;y&#9;z&#13;\">a&#13;\nb\tc</m>");
}
END_TEST

/* Appends to what the buffer holds; deep nesting costs no stack. */
START_TEST(test_serialize_appends_and_nests_deeply)
{
    struct stanza_out o = {0};
    xmpp_stanza_t *root = stanza_element(ctx, "r", "urn:x"), *el = root;
    xmpp_stanza_t *a = stanza_element(ctx, "a", NULL);
    const int depth = 100000;

    for (int i = 0; i < depth; i++)
        el = stanza_add_element(el, "e", NULL);
    stanza_add_text(el, "&");
    ck_assert_int_eq(stanza_serialize(a, &o), 0);
    ck_assert_str_eq(o.buf, "<a/>");
    ck_assert_int_eq(stanza_serialize(root, &o), 0);
    ck_assert_uint_eq(o.len, strlen(o.buf));
    ck_assert_uint_eq(o.len, 4 + strlen("<r xmlns=\"urn:x\"></r>") +
                                 (size_t)depth * strlen("<e></e>") + 5);
    ck_assert(strstr(o.buf, "<e>&amp;</e></e>") != NULL);
    ck_assert_int_eq(strncmp(o.buf + 4, "<r xmlns=\"urn:x\"><e><e>", 23), 0);
    free(o.buf);
    xmpp_stanza_release(a);
    xmpp_stanza_release(root);
}
END_TEST

START_TEST(test_serialize_refuses_a_blank_stanza_and_keeps_the_buffer)
{
    struct stanza_out o = {0};
    xmpp_stanza_t *blank = xmpp_stanza_new(ctx);
    xmpp_stanza_t *a = stanza_element(ctx, "a", NULL);

    ck_assert_int_eq(stanza_serialize(a, &o), 0);
    ck_assert_int_eq(stanza_serialize(blank, &o), -1);
    ck_assert_int_eq(stanza_serialize(NULL, &o), -1);
    ck_assert_str_eq(o.buf, "<a/>");
    ck_assert_ptr_null(stanza_to_text(blank, NULL));
    free(o.buf);
    xmpp_stanza_release(a);
    xmpp_stanza_release(blank);
}
END_TEST

/* Every text, value or name a server would close the stream on. */
START_TEST(test_serialize_refuses_what_the_server_rejects)
{
    static const char *const bad[] = {
        "a\x01b",           /* C0 control */
        "\xef\xbf\xbe",     /* U+FFFE */
        "\xef\xbf\xbf",     /* U+FFFF */
        "\xc0\xa6",         /* overlong '&' */
        "\xe0\x80\xbc",     /* overlong '<' */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xff",             /* not UTF-8 */
        "\xc3",             /* truncated sequence */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
    };
    struct stanza_out o = {0};
    xmpp_stanza_t *ok = stanza_element(ctx, "a", NULL);

    ck_assert_int_eq(stanza_serialize(ok, &o), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        xmpp_stanza_t *text = stanza_element(ctx, EL_MESSAGE, NULL);
        xmpp_stanza_t *attr = stanza_element(ctx, EL_MESSAGE, NULL);
        xmpp_stanza_t *deep = stanza_element(ctx, EL_MESSAGE, NULL);
        xmpp_stanza_t *leaf = stanza_add_element(
            stanza_add_element(deep, "x", "urn:x"), "y", NULL);
        xmpp_stanza_t *node = xmpp_stanza_new(ctx);
        enum stanza_fault fault = STANZA_FAULT_NONE;

        stanza_add_text(stanza_add_element(text, "body", NULL), bad[i]);
        xmpp_stanza_set_attribute(attr, ATTR_TO, bad[i]);
        xmpp_stanza_set_attribute(leaf, "v", "fine");
        stanza_add_text(leaf, "fine");
        stanza_add_text(deep, bad[i]);
        xmpp_stanza_set_text(node, bad[i]);
        ck_assert_int_eq(stanza_serialize_max(text, &o, SIZE_MAX, &fault), -1);
        ck_assert_int_eq(fault, STANZA_FAULT_INVALID);
        ck_assert_int_eq(stanza_serialize(attr, &o), -1);
        ck_assert_int_eq(stanza_serialize(deep, &o), -1);
        ck_assert_int_eq(stanza_serialize(node, &o), -1);
        ck_assert_ptr_null(stanza_to_text(text, NULL));
        /* Nothing of the refused stanzas stays in the buffer. */
        ck_assert_uint_eq(o.len, 4);
        ck_assert_str_eq(o.buf, "<a/>");
        xmpp_stanza_release(text);
        xmpp_stanza_release(attr);
        xmpp_stanza_release(deep);
        xmpp_stanza_release(node);
    }
    free(o.buf);
    xmpp_stanza_release(ok);
}
END_TEST

/* Names that would end a tag or open another are refused too. */
START_TEST(test_serialize_refuses_malformed_names)
{
    static const char *const bad[] = {"",   "a b", "a>", "a\"",   "a=b",
                                      "1a", "-a",  "a/", "a\x01", "\xff"};
    struct stanza_out o = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        xmpp_stanza_t *el = stanza_element(ctx, EL_MESSAGE, NULL);
        xmpp_stanza_t *at = stanza_element(ctx, EL_MESSAGE, NULL);

        stanza_add_element(el, "x", NULL);
        xmpp_stanza_set_name(stanza_first_element(el), bad[i]);
        xmpp_stanza_set_attribute(at, bad[i], "v");
        ck_assert_msg(stanza_serialize(el, &o) == -1, "name '%s'", bad[i]);
        ck_assert_msg(stanza_serialize(at, &o) == -1, "attr '%s'", bad[i]);
        ck_assert_uint_eq(o.len, 0);
        xmpp_stanza_release(el);
        xmpp_stanza_release(at);
    }
    free(o.buf);
}
END_TEST

/* The xml and xmlns namespaces cannot be declared as a default namespace
 * (Namespaces in XML 1.0, 3): a parser on the other side, the server's
 * included, rejects the document. A parsed <xml:x/> has exactly that
 * namespace (found by fuzz_stanza_json). */
START_TEST(test_serialize_refuses_reserved_namespaces)
{
    static const char *const reserved[] = {
        "http://www.w3.org/XML/1998/namespace",
        "http://www.w3.org/2000/xmlns/"};
    struct stanza_out o = {0};
    xmpp_stanza_t *parsed;

    for (size_t i = 0; i < sizeof(reserved) / sizeof(*reserved); i++) {
        xmpp_stanza_t *m = stanza_element(ctx, EL_MESSAGE, NULL);

        stanza_add_element(m, "x", reserved[i]);
        ck_assert_int_eq(stanza_serialize(m, &o), -1);
        ck_assert_uint_eq(o.len, 0);
        xmpp_stanza_release(m);
    }
    parsed = xmpp_stanza_new_from_string(ctx, "<iq><xml:ure var='f'/></iq>");
    ck_assert_ptr_nonnull(parsed);
    ck_assert_int_eq(stanza_serialize(parsed, &o), -1);
    xmpp_stanza_release(parsed);
    free(o.buf);
}
END_TEST

/* Valid text passes unchanged: tab, newline, the edges of the Char ranges. */
START_TEST(test_serialize_keeps_every_xml_char)
{
    xmpp_stanza_t *m = stanza_element(ctx, EL_MESSAGE, NULL);

    stanza_add_text(stanza_add_element(m, "body", NULL),
                    "\t\n \xed\x9f\xbf\xee\x80\x80\xef\xbf\xbd"
                    "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
    assert_xml_release(m, "<message><body>\t\n \xed\x9f\xbf\xee\x80\x80"
                          "\xef\xbf\xbd\xf0\x90\x80\x80\xf4\x8f\xbf"
                          "\xbf</body></message>");
}
END_TEST

/* The bound is on the escaped bytes, inclusive, and rolls back past it. */
START_TEST(test_serialize_max_bounds_the_escaped_size)
{
    struct stanza_out o = {0};
    xmpp_stanza_t *m = stanza_element(ctx, EL_MESSAGE, NULL);
    char body[1001];
    enum stanza_fault fault = STANZA_FAULT_INVALID;
    /* <message><body> + 1000 x "&amp;" + </body></message> */
    const size_t size = 15 + 5000 + 17;

    memset(body, '&', 1000);
    body[1000] = '\0';
    stanza_add_text(stanza_add_element(m, "body", NULL), body);
    ck_assert_int_eq(stanza_serialize(m, &o), 0);
    ck_assert_uint_eq(o.len, size);
    o.len = 0;
    ck_assert_int_eq(stanza_serialize_max(m, &o, size, &fault), 0);
    ck_assert_int_eq(fault, STANZA_FAULT_NONE);
    ck_assert_uint_eq(o.len, size);
    ck_assert_int_eq(stanza_serialize_max(m, &o, size - 1, &fault), -1);
    ck_assert_int_eq(fault, STANZA_FAULT_TOO_LARGE);
    ck_assert_uint_eq(o.len, size);
    ck_assert_uint_eq(strlen(o.buf), size);
    /* 1000 raw bytes would pass a bound on the unescaped text. */
    ck_assert_int_eq(stanza_serialize_max(m, &o, 1100, &fault), -1);
    ck_assert_int_eq(fault, STANZA_FAULT_TOO_LARGE);
    ck_assert_uint_eq(o.len, size);
    ck_assert_str_eq(stanza_fault_name(STANZA_FAULT_TOO_LARGE), "too-large");
    ck_assert_str_eq(stanza_fault_name(STANZA_FAULT_INVALID),
                     "invalid-characters");
    free(o.buf);
    xmpp_stanza_release(m);
}
END_TEST

static Suite *stanza_suite(void)
{
    Suite *s = suite_create("stanza");
    TCase *tc = tcase_create("accessors");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_attr_returns_value_or_null);
    tcase_add_test(tc, test_is_compares_element_name);
    tcase_add_test(tc, test_first_element_skips_text_nodes);
    tcase_add_test(tc, test_element_count_ignores_text_and_grandchildren);
    tcase_add_test(tc, test_child_matches_name_and_namespace);
    tcase_add_test(tc, test_child_with_namespace_skips_elements_without_one);
    suite_add_tcase(s, tc);

    tc = tcase_create("builders");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_element_with_and_without_namespace);
    tcase_add_test(tc, test_add_element_and_text_build_a_tree);
    tcase_add_test(tc, test_adopt_hands_the_child_to_the_parent);
    tcase_add_test(tc, test_strip_stream_ns_drops_only_the_stream_namespaces);
    tcase_add_test(tc, test_iq_sets_the_given_attributes);
    tcase_add_test(tc, test_iq_leaves_out_null_attributes);
    tcase_add_test(tc, test_iq_escapes_attribute_values);
    tcase_add_test(tc, test_to_text_is_compact_and_reports_length);
    tcase_add_test(tc, test_to_text_accepts_null_length);
    tcase_add_test(tc, test_serialize_matches_libstrophe);
    tcase_add_test(tc, test_serialize_escapes_whitespace_a_parser_would_change);
    tcase_add_test(tc, test_serialize_appends_and_nests_deeply);
    tcase_add_test(tc,
                   test_serialize_refuses_a_blank_stanza_and_keeps_the_buffer);
    tcase_add_test(tc, test_serialize_refuses_what_the_server_rejects);
    tcase_add_test(tc, test_serialize_refuses_malformed_names);
    tcase_add_test(tc, test_serialize_refuses_reserved_namespaces);
    tcase_add_test(tc, test_serialize_keeps_every_xml_char);
    tcase_add_test(tc, test_serialize_max_bounds_the_escaped_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("replies");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_result_swaps_addresses_and_copies_id);
    tcase_add_test(tc, test_result_without_request_from_has_no_to);
    tcase_add_test(tc, test_error_reply_carries_condition_and_text);
    tcase_add_test(tc, test_error_reply_without_text_has_only_condition);
    tcase_add_test(tc, test_error_reply_to_message_is_a_message);
    tcase_add_test(tc, test_error_element_alone);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stanza_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
