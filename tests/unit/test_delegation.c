/* SPDX-License-Identifier: MIT */
/* test_delegation.c: unit tests for XEP-0355/0356 adverts, nodes and wrapping.
 */
#include "config.h"

#include "delegation.h"
#include "delegation_priv.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stanza.h"
#include "strmap.h"

static xmpp_ctx_t *ctx;
static struct delegation *dlg;

static void setup(void)
{
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    ck_assert_ptr_nonnull(ctx);
    dlg = delegation_new();
    ck_assert_ptr_nonnull(dlg);
}

static void teardown(void)
{
    delegation_free(dlg);
    dlg = NULL;
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

/* Offer the advert in xml and return what delegation_handle_advert says. */
static bool advert(const char *xml)
{
    xmpp_stanza_t *msg = parse(xml);
    bool handled = delegation_handle_advert(dlg, msg);

    xmpp_stanza_release(msg);
    return handled;
}

/* Serialize st, compare with expected, release st. */
static void assert_xml_release(xmpp_stanza_t *st, const char *expected)
{
    char *text = stanza_to_text(st, NULL);

    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, expected);
    free(text);
    xmpp_stanza_release(st);
}

/* The namespaces delegated by server, sorted and joined with spaces. */
static char *namespaces_of(const char *server)
{
    const struct strmap *set = delegation_namespaces(dlg, server);
    const char **keys;
    size_t len = 1;
    char *out;

    ck_assert_ptr_nonnull(set);
    keys = strmap_sorted_keys(set);
    for (size_t i = 0; keys[i] != NULL; i++)
        len += strlen(keys[i]) + 1;
    out = calloc(1, len);
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; keys[i] != NULL; i++) {
        if (i > 0)
            strcat(out, " ");
        strcat(out, keys[i]);
    }
    free(keys);
    return out;
}

static void assert_namespaces(const char *server, const char *expected)
{
    char *got = namespaces_of(server);

    ck_assert_str_eq(got, expected);
    free(got);
}

static void assert_no_servers(void)
{
    const char **servers = delegation_servers(dlg);

    ck_assert_ptr_null(servers[0]);
    free(servers);
}

#define PROSODY_DELEGATION                                                     \
    "<message from='example.org' to='rest.example.org'>"                       \
    "<delegation xmlns='urn:xmpp:delegation:2'>"                               \
    "<delegated namespace='jabber:iq:roster'>"                                 \
    "<attribute name='type'/><attribute name='node'/></delegated>"             \
    "<delegated namespace='urn:xmpp:mam:2'/>"                                  \
    "<delegated namespace='http://jabber.org/protocol/pubsub'>"                \
    "<attribute name='node'/></delegated>"                                     \
    "</delegation></message>"

/* ejabberd: one message per namespace, no id, no <attribute>. */
#define EJABBERD_DELEGATION(ns)                                                \
    "<message from='example.org' to='rest.example.org'>"                       \
    "<delegation xmlns='urn:xmpp:delegation:1'>"                               \
    "<delegated namespace='" ns "'/></delegation></message>"

START_TEST(test_prosody_delegation_lists_every_namespace_at_once)
{
    const char **servers;

    ck_assert(advert(PROSODY_DELEGATION));
    assert_namespaces("example.org", "http://jabber.org/protocol/pubsub "
                                     "jabber:iq:roster urn:xmpp:mam:2");
    ck_assert(delegation_is_delegated(dlg, "jabber:iq:roster"));
    ck_assert(delegation_is_delegated(dlg, "urn:xmpp:mam:2"));
    ck_assert(!delegation_is_delegated(dlg, "jabber:iq:version"));
    ck_assert(!delegation_is_delegated(dlg, "type"));
    servers = delegation_servers(dlg);
    ck_assert_str_eq(servers[0], "example.org");
    ck_assert_ptr_null(servers[1]);
    free(servers);
    /* Delegations alone record no privileges. */
    ck_assert_ptr_null(delegation_privilege_ns(dlg, "example.org"));
    ck_assert_uint_eq(strmap_count(delegation_privileges(dlg, "example.org")),
                      0);
}
END_TEST

START_TEST(test_prosody_delegation_replaces_previous_list)
{
    ck_assert(advert(PROSODY_DELEGATION));
    ck_assert(advert("<message from='example.org'>"
                     "<delegation xmlns='urn:xmpp:delegation:2'>"
                     "<delegated namespace='urn:xmpp:mam:2'/>"
                     "</delegation></message>"));
    assert_namespaces("example.org", "urn:xmpp:mam:2");
    ck_assert(!delegation_is_delegated(dlg, "jabber:iq:roster"));

    ck_assert(advert("<message from='example.org'>"
                     "<delegation xmlns='urn:xmpp:delegation:2'/>"
                     "</message>"));
    assert_namespaces("example.org", "");
    ck_assert(!delegation_is_delegated(dlg, "urn:xmpp:mam:2"));
}
END_TEST

START_TEST(test_ejabberd_delegations_accumulate_one_per_message)
{
    ck_assert(advert(EJABBERD_DELEGATION("jabber:iq:roster")));
    assert_namespaces("example.org", "jabber:iq:roster");
    ck_assert(advert(EJABBERD_DELEGATION("jabber:iq:roster")));
    ck_assert(advert(EJABBERD_DELEGATION("urn:xmpp:mam:2")));
    ck_assert(advert(EJABBERD_DELEGATION("urn:xmpp:mam:2")));
    assert_namespaces("example.org", "jabber:iq:roster urn:xmpp:mam:2");
    ck_assert_uint_eq(strmap_count(delegation_namespaces(dlg, "example.org")),
                      2);
    ck_assert(delegation_is_delegated(dlg, "jabber:iq:roster"));
    ck_assert(delegation_is_delegated(dlg, "urn:xmpp:mam:2"));
}
END_TEST

START_TEST(test_delegated_without_namespace_is_ignored)
{
    ck_assert(advert("<message from='example.org'>"
                     "<delegation xmlns='urn:xmpp:delegation:2'>"
                     "<delegated/><delegated namespace=''/>"
                     "<other namespace='urn:x'/>"
                     "<delegated namespace='urn:ok'/>"
                     "</delegation></message>"));
    assert_namespaces("example.org", "urn:ok");
}
END_TEST

START_TEST(test_servers_are_kept_apart)
{
    const char **servers;

    ck_assert(advert(EJABBERD_DELEGATION("urn:a")));
    ck_assert(advert("<message from='b.example'>"
                     "<delegation xmlns='urn:xmpp:delegation:2'>"
                     "<delegated namespace='urn:b'/></delegation></message>"));
    assert_namespaces("example.org", "urn:a");
    assert_namespaces("b.example", "urn:b");
    ck_assert_ptr_null(delegation_namespaces(dlg, "c.example"));
    servers = delegation_servers(dlg);
    ck_assert_str_eq(servers[0], "b.example");
    ck_assert_str_eq(servers[1], "example.org");
    ck_assert_ptr_null(servers[2]);
    free(servers);
    ck_assert(delegation_is_delegated(dlg, "urn:a"));
    ck_assert(delegation_is_delegated(dlg, "urn:b"));
}
END_TEST

START_TEST(test_privilege_v1_omits_none_entries)
{
    const struct strmap *perms;

    ck_assert(advert("<message from='example.org' to='rest.example.org'>"
                     "<privilege xmlns='urn:xmpp:privilege:1'>"
                     "<perm access='roster' type='both'/>"
                     "<perm access='message' type='outgoing'/>"
                     "<perm access='presence' type='none'/>"
                     "</privilege></message>"));
    ck_assert_str_eq(delegation_privilege(dlg, "example.org", "roster"),
                     "both");
    ck_assert_str_eq(delegation_privilege(dlg, "example.org", "message"),
                     "outgoing");
    ck_assert_ptr_null(delegation_privilege(dlg, "example.org", "presence"));
    ck_assert_str_eq(delegation_privilege_ns(dlg, "example.org"),
                     NS_PRIVILEGE_1);
    perms = delegation_privileges(dlg, "example.org");
    ck_assert_ptr_nonnull(perms);
    ck_assert_uint_eq(strmap_count(perms), 2);
    /* Privileges alone delegate nothing. */
    ck_assert_uint_eq(strmap_count(delegation_namespaces(dlg, "example.org")),
                      0);
}
END_TEST

START_TEST(test_privilege_v2_records_nested_iq_namespaces)
{
    ck_assert(advert("<message from='example.org'>"
                     "<privilege xmlns='urn:xmpp:privilege:2'>"
                     "<perm access='roster' type='set'/>"
                     "<perm access='iq'>"
                     "<namespace ns='urn:xmpp:a' type='get'>"
                     "<namespace ns='urn:xmpp:b' type='set'>"
                     "<namespace ns='urn:xmpp:c' type='none'>"
                     "<namespace ns='urn:xmpp:d' type='both'/>"
                     "</namespace></namespace></namespace>"
                     "<namespace ns='urn:xmpp:e' type='get'/>"
                     "</perm></privilege></message>"));
    ck_assert_str_eq(delegation_privilege(dlg, "example.org", "roster"), "set");
    ck_assert_str_eq(delegation_privilege(dlg, "example.org", "iq:urn:xmpp:a"),
                     "get");
    ck_assert_str_eq(delegation_privilege(dlg, "example.org", "iq:urn:xmpp:b"),
                     "set");
    ck_assert_ptr_null(
        delegation_privilege(dlg, "example.org", "iq:urn:xmpp:c"));
    ck_assert_str_eq(delegation_privilege(dlg, "example.org", "iq:urn:xmpp:d"),
                     "both");
    ck_assert_str_eq(delegation_privilege(dlg, "example.org", "iq:urn:xmpp:e"),
                     "get");
    ck_assert_ptr_null(delegation_privilege(dlg, "example.org", "iq"));
    ck_assert_ptr_null(delegation_privilege(dlg, "example.org", "message"));
    ck_assert_uint_eq(strmap_count(delegation_privileges(dlg, "example.org")),
                      5);
    ck_assert_str_eq(delegation_privilege_ns(dlg, "example.org"),
                     NS_PRIVILEGE_2);
}
END_TEST

START_TEST(test_privilege_advert_replaces_previous_grants)
{
    ck_assert(advert("<message from='example.org'>"
                     "<privilege xmlns='urn:xmpp:privilege:2'>"
                     "<perm access='roster' type='both'/>"
                     "<perm access='iq'><namespace ns='urn:a' type='get'/>"
                     "</perm></privilege></message>"));
    ck_assert(advert("<message from='example.org'>"
                     "<privilege xmlns='urn:xmpp:privilege:1'>"
                     "<perm access='roster' type='none'/>"
                     "<perm access='message' type='outgoing'/>"
                     "</privilege></message>"));
    ck_assert_ptr_null(delegation_privilege(dlg, "example.org", "roster"));
    ck_assert_ptr_null(delegation_privilege(dlg, "example.org", "iq:urn:a"));
    ck_assert_str_eq(delegation_privilege(dlg, "example.org", "message"),
                     "outgoing");
    ck_assert_uint_eq(strmap_count(delegation_privileges(dlg, "example.org")),
                      1);
    ck_assert_str_eq(delegation_privilege_ns(dlg, "example.org"),
                     NS_PRIVILEGE_1);
}
END_TEST

START_TEST(test_privilege_and_delegation_state_are_independent)
{
    ck_assert(advert(PROSODY_DELEGATION));
    ck_assert(advert("<message from='example.org'>"
                     "<privilege xmlns='urn:xmpp:privilege:2'>"
                     "<perm access='roster' type='get'/>"
                     "</privilege></message>"));
    assert_namespaces("example.org", "http://jabber.org/protocol/pubsub "
                                     "jabber:iq:roster urn:xmpp:mam:2");
    ck_assert(advert("<message from='example.org'>"
                     "<delegation xmlns='urn:xmpp:delegation:2'>"
                     "<delegated namespace='urn:only'/>"
                     "</delegation></message>"));
    ck_assert_str_eq(delegation_privilege(dlg, "example.org", "roster"), "get");
    assert_namespaces("example.org", "urn:only");
}
END_TEST

START_TEST(test_adverts_from_users_or_resources_are_rejected)
{
    static const char *const froms[] = {"user@example.org", "example.org/res",
                                        "user@example.org/res", "exa mple.org",
                                        ""};
    char xml[512];

    for (size_t i = 0; i < sizeof(froms) / sizeof(froms[0]); i++) {
        snprintf(xml, sizeof(xml),
                 "<message from='%s'><delegation "
                 "xmlns='urn:xmpp:delegation:2'><delegated "
                 "namespace='jabber:iq:roster'/></delegation></message>",
                 froms[i]);
        ck_assert_msg(!advert(xml), "accepted delegation from \"%s\"",
                      froms[i]);
        snprintf(xml, sizeof(xml),
                 "<message from='%s'><privilege "
                 "xmlns='urn:xmpp:privilege:2'><perm access='roster' "
                 "type='both'/></privilege></message>",
                 froms[i]);
        ck_assert_msg(!advert(xml), "accepted privilege from \"%s\"", froms[i]);
    }
    ck_assert(!advert("<message><delegation xmlns='urn:xmpp:delegation:2'>"
                      "<delegated namespace='jabber:iq:roster'/>"
                      "</delegation></message>"));
    ck_assert(!delegation_is_delegated(dlg, "jabber:iq:roster"));
    assert_no_servers();
}
END_TEST

START_TEST(test_other_messages_are_not_adverts)
{
    ck_assert(!advert("<message from='example.org'><body>hi</body>"
                      "</message>"));
    ck_assert(!advert("<message from='example.org'>"
                      "<delegation xmlns='urn:xmpp:delegation:3'>"
                      "<delegated namespace='urn:x'/></delegation>"
                      "</message>"));
    ck_assert(!advert("<message from='example.org'>"
                      "<delegated xmlns='urn:xmpp:delegation:2' "
                      "namespace='urn:x'/></message>"));
    ck_assert(!advert("<message from='example.org'>"
                      "<privilege xmlns='urn:xmpp:privilege:3'>"
                      "<perm access='roster' type='both'/></privilege>"
                      "</message>"));
    /* A privileged message carries <forwarded>: not an advert. */
    ck_assert(!advert("<message from='example.org'>"
                      "<privilege xmlns='urn:xmpp:privilege:2'>"
                      "<forwarded xmlns='urn:xmpp:forward:0'>"
                      "<message xmlns='jabber:client'/></forwarded>"
                      "</privilege></message>"));
    ck_assert(!delegation_is_delegated(dlg, "urn:x"));
    assert_no_servers();
}
END_TEST

START_TEST(test_clear_forgets_everything)
{
    ck_assert(advert(PROSODY_DELEGATION));
    ck_assert(advert("<message from='example.org'>"
                     "<privilege xmlns='urn:xmpp:privilege:2'>"
                     "<perm access='roster' type='both'/>"
                     "</privilege></message>"));
    delegation_clear(dlg);
    ck_assert(!delegation_is_delegated(dlg, "jabber:iq:roster"));
    ck_assert_ptr_null(delegation_namespaces(dlg, "example.org"));
    ck_assert_ptr_null(delegation_privileges(dlg, "example.org"));
    ck_assert_ptr_null(delegation_privilege(dlg, "example.org", "roster"));
    ck_assert_ptr_null(delegation_privilege_ns(dlg, "example.org"));
    assert_no_servers();
    /* And it starts over cleanly. */
    ck_assert(advert(EJABBERD_DELEGATION("urn:again")));
    assert_namespaces("example.org", "urn:again");
}
END_TEST

START_TEST(test_unknown_server_has_no_state)
{
    ck_assert_ptr_null(delegation_namespaces(dlg, "example.org"));
    ck_assert_ptr_null(delegation_privileges(dlg, "example.org"));
    ck_assert_ptr_null(delegation_privilege(dlg, "example.org", "roster"));
    ck_assert_ptr_null(delegation_privilege_ns(dlg, "example.org"));
    ck_assert(!delegation_is_delegated(dlg, "jabber:iq:roster"));
    assert_no_servers();
    delegation_free(NULL);
}
END_TEST

START_TEST(test_parse_node_server_form_both_generations)
{
    static const char n2[] = "urn:xmpp:delegation:2::jabber:iq:roster";
    static const char n1[] = "urn:xmpp:delegation:1::urn:xmpp:mam:2";
    bool bare = true;

    ck_assert_ptr_eq(delegation_parse_node(n2, &bare),
                     n2 + strlen("urn:xmpp:delegation:2::"));
    ck_assert(!bare);
    bare = true;
    ck_assert_str_eq(delegation_parse_node(n1, &bare), "urn:xmpp:mam:2");
    ck_assert(!bare);
}
END_TEST

START_TEST(test_parse_node_bare_form_both_generations)
{
    static const char n2[] = "urn:xmpp:delegation:2:bare:jabber:iq:roster";
    static const char n1[] = "urn:xmpp:delegation:1:bare:urn:xmpp:mam:2";
    bool bare = false;

    ck_assert_ptr_eq(delegation_parse_node(n2, &bare),
                     n2 + strlen("urn:xmpp:delegation:2:bare:"));
    ck_assert(bare);
    bare = false;
    ck_assert_str_eq(delegation_parse_node(n1, &bare), "urn:xmpp:mam:2");
    ck_assert(bare);
}
END_TEST

START_TEST(test_parse_node_rejects_other_nodes)
{
    static const char *const bad[] = {
        "",
        "urn:xmpp:delegation:2",
        "urn:xmpp:delegation:2:",
        "urn:xmpp:delegation:2::",
        "urn:xmpp:delegation:2:bare:",
        "urn:xmpp:delegation:2:full:jabber:iq:roster",
        "urn:xmpp:delegation:2:jabber:iq:roster",
        "urn:xmpp:delegation:3::jabber:iq:roster",
        "urn:xmpp:delegation::jabber:iq:roster",
        "urn:xmpp:delegation:1:bar:jabber:iq:roster",
        "URN:XMPP:DELEGATION:2::jabber:iq:roster",
        "x urn:xmpp:delegation:2::jabber:iq:roster",
        "http://jabber.org/protocol/commands",
        "jabber:iq:roster"};
    bool bare = true;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(delegation_parse_node(bad[i], &bare) == NULL,
                      "accepted node \"%s\"", bad[i]);
        ck_assert(bare);
    }
    ck_assert_ptr_null(delegation_parse_node(NULL, &bare));
    ck_assert(bare);
}
END_TEST

#define WRAP_HEAD(type, dns)                                                   \
    "<iq type='" type "' from='example.org' to='rest.example.org' id='W1'>"    \
    "<delegation xmlns='" dns "'>"                                             \
    "<forwarded xmlns='urn:xmpp:forward:0'>"
#define WRAP_TAIL "</forwarded></delegation></iq>"

/* Prosody: no `to` on the inner IQ. */
#define PROSODY_FORWARD                                                        \
    WRAP_HEAD("set", "urn:xmpp:delegation:2")                                  \
    "<iq xmlns='jabber:client' from='user@example.org/res' id='I1' "           \
    "type='get'><query xmlns='jabber:iq:roster'/></iq>" WRAP_TAIL

/* ejabberd: `to` always filled in. */
#define EJABBERD_FORWARD                                                       \
    WRAP_HEAD("set", "urn:xmpp:delegation:1")                                  \
    "<iq xmlns='jabber:client' from='user@example.org/res' "                   \
    "to='user@example.org' id='I2' type='set'>"                                \
    "<query xmlns='urn:xmpp:mam:2'/></iq>" WRAP_TAIL

START_TEST(test_unwrap_returns_inner_iq_and_wrapper_namespace)
{
    xmpp_stanza_t *outer = parse(PROSODY_FORWARD);
    const char *dns = NULL;
    xmpp_stanza_t *inner = delegation_unwrap(outer, &dns);

    ck_assert_ptr_nonnull(inner);
    ck_assert(stanza_is(inner, EL_IQ));
    ck_assert_str_eq(stanza_attr(inner, ATTR_ID), "I1");
    ck_assert_str_eq(stanza_attr(inner, ATTR_FROM), "user@example.org/res");
    ck_assert_ptr_null(stanza_attr(inner, ATTR_TO));
    ck_assert_ptr_nonnull(stanza_child(inner, EL_QUERY, NS_ROSTER));
    ck_assert_str_eq(dns, NS_DELEGATION_2);
    xmpp_stanza_release(outer);

    outer = parse(EJABBERD_FORWARD);
    dns = NULL;
    inner = delegation_unwrap(outer, &dns);
    ck_assert_ptr_nonnull(inner);
    ck_assert_str_eq(stanza_attr(inner, ATTR_ID), "I2");
    ck_assert_str_eq(stanza_attr(inner, ATTR_TO), "user@example.org");
    ck_assert_str_eq(dns, NS_DELEGATION_1);
    xmpp_stanza_release(outer);
}
END_TEST

START_TEST(test_unwrap_tolerates_whitespace_between_elements)
{
    xmpp_stanza_t *outer =
        parse("<iq type='set' from='example.org' id='W1'>\n  "
              "<delegation xmlns='urn:xmpp:delegation:2'>\n    "
              "<forwarded xmlns='urn:xmpp:forward:0'>\n      "
              "<iq xmlns='jabber:client' from='u@example.org/r' id='I3' "
              "type='get'/>\n    </forwarded>\n  </delegation>\n</iq>");
    const char *dns = NULL;
    xmpp_stanza_t *inner = delegation_unwrap(outer, &dns);

    ck_assert_ptr_nonnull(inner);
    ck_assert_str_eq(stanza_attr(inner, ATTR_ID), "I3");
    ck_assert_str_eq(dns, NS_DELEGATION_2);
    xmpp_stanza_release(outer);
}
END_TEST

START_TEST(test_unwrap_rejects_malformed_wrappers)
{
    static const char *const bad[] = {
        /* outer type get, result, error, missing */
        WRAP_HEAD("get",
                  "urn:xmpp:delegation:2") "<iq from='u@example.org/r' id='I' "
                                           "type='get'/>" WRAP_TAIL,
        WRAP_HEAD("result",
                  "urn:xmpp:delegation:2") "<iq from='u@example.org/r' id='I' "
                                           "type='get'/>" WRAP_TAIL,
        WRAP_HEAD("error",
                  "urn:xmpp:delegation:2") "<iq from='u@example.org/r' id='I' "
                                           "type='get'/>" WRAP_TAIL,
        "<iq from='example.org' id='W1'><delegation "
        "xmlns='urn:xmpp:delegation:2'><forwarded "
        "xmlns='urn:xmpp:forward:0'><iq from='u@example.org/r' id='I' "
        "type='get'/></forwarded></delegation></iq>",
        /* inner without id, from, type */
        WRAP_HEAD("set", "urn:xmpp:delegation:2") "<iq from='u@example.org/r' "
                                                  "type='get'/>" WRAP_TAIL,
        WRAP_HEAD("set",
                  "urn:xmpp:delegation:2") "<iq id='I' type='get'/>" WRAP_TAIL,
        WRAP_HEAD("set", "urn:xmpp:delegation:2") "<iq from='u@example.org/r' "
                                                  "id='I'/>" WRAP_TAIL,
        /* no inner iq */
        WRAP_HEAD("set",
                  "urn:xmpp:delegation:2") "<message from='u@example.org/r' "
                                           "id='I' type='chat'/>" WRAP_TAIL,
        WRAP_HEAD("set", "urn:xmpp:delegation:2") WRAP_TAIL,
        /* missing forwarded, or in the wrong namespace */
        "<iq type='set' from='example.org' id='W1'><delegation "
        "xmlns='urn:xmpp:delegation:2'><iq from='u@example.org/r' id='I' "
        "type='get'/></delegation></iq>",
        "<iq type='set' from='example.org' id='W1'><delegation "
        "xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:1'>"
        "<iq from='u@example.org/r' id='I' type='get'/></forwarded>"
        "</delegation></iq>",
        /* wrong delegation namespace or element */
        WRAP_HEAD("set",
                  "urn:xmpp:delegation:3") "<iq from='u@example.org/r' id='I' "
                                           "type='get'/>" WRAP_TAIL,
        "<iq type='set' from='example.org' id='W1'><privilege "
        "xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'>"
        "<iq from='u@example.org/r' id='I' type='get'/></forwarded>"
        "</privilege></iq>",
        /* delegation not the first element */
        "<iq type='set' from='example.org' id='W1'><query "
        "xmlns='jabber:iq:roster'/><delegation xmlns='urn:xmpp:delegation:2'>"
        "<forwarded xmlns='urn:xmpp:forward:0'><iq from='u@example.org/r' "
        "id='I' type='get'/></forwarded></delegation></iq>",
        /* empty iq, and not an iq at all */
        "<iq type='set' from='example.org' id='W1'/>",
        "<message type='set' from='example.org' id='W1'><delegation "
        "xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'>"
        "<iq from='u@example.org/r' id='I' type='get'/></forwarded>"
        "</delegation></message>"};
    static const char untouched[] = "untouched";

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        xmpp_stanza_t *outer = parse(bad[i]);
        const char *dns = untouched;

        ck_assert_msg(delegation_unwrap(outer, &dns) == NULL,
                      "unwrapped #%zu: %s", i, bad[i]);
        ck_assert_ptr_eq(dns, untouched);
        xmpp_stanza_release(outer);
    }
}
END_TEST

START_TEST(test_inner_reply_uses_original_to_as_from)
{
    xmpp_stanza_t *outer = parse(EJABBERD_FORWARD);
    const char *dns;
    xmpp_stanza_t *inner = delegation_unwrap(outer, &dns);
    xmpp_stanza_t *r = delegation_inner_reply(ctx, inner, "result");

    ck_assert_str_eq(stanza_attr(r, ATTR_FROM), "user@example.org");
    ck_assert_str_eq(stanza_attr(r, ATTR_TO), "user@example.org/res");
    ck_assert_str_eq(stanza_attr(r, ATTR_ID), "I2");
    ck_assert_str_eq(stanza_attr(r, ATTR_TYPE), "result");
    ck_assert_str_eq(xmpp_stanza_get_ns(r), NS_CLIENT);
    ck_assert_int_eq(stanza_element_count(r), 0);
    xmpp_stanza_release(r);
    xmpp_stanza_release(outer);
}
END_TEST

START_TEST(test_inner_reply_to_server_addressed_iq_comes_from_server)
{
    xmpp_stanza_t *inner =
        parse("<iq xmlns='jabber:client' from='user@example.org/res' "
              "to='example.org' id='I5' type='get'/>");
    xmpp_stanza_t *r = delegation_inner_reply(ctx, inner, "error");

    ck_assert_str_eq(stanza_attr(r, ATTR_FROM), "example.org");
    ck_assert_str_eq(stanza_attr(r, ATTR_TO), "user@example.org/res");
    ck_assert_str_eq(stanza_attr(r, ATTR_ID), "I5");
    ck_assert_str_eq(stanza_attr(r, ATTR_TYPE), "error");
    ck_assert_str_eq(xmpp_stanza_get_ns(r), NS_CLIENT);
    xmpp_stanza_release(r);
    xmpp_stanza_release(inner);
}
END_TEST

START_TEST(test_inner_reply_without_to_comes_from_users_bare_jid)
{
    xmpp_stanza_t *outer = parse(PROSODY_FORWARD);
    const char *dns;
    xmpp_stanza_t *inner = delegation_unwrap(outer, &dns);
    xmpp_stanza_t *r = delegation_inner_reply(ctx, inner, "result");

    ck_assert_str_eq(stanza_attr(r, ATTR_FROM), "user@example.org");
    ck_assert_str_eq(stanza_attr(r, ATTR_TO), "user@example.org/res");
    ck_assert_str_eq(stanza_attr(r, ATTR_ID), "I1");
    ck_assert_str_eq(stanza_attr(r, ATTR_TYPE), "result");
    ck_assert_str_eq(xmpp_stanza_get_ns(r), NS_CLIENT);
    xmpp_stanza_release(r);
    xmpp_stanza_release(outer);
}
END_TEST

START_TEST(test_wrap_reply_is_compact_and_addressed_to_the_server)
{
    xmpp_stanza_t *outer = parse(PROSODY_FORWARD);
    const char *dns;
    xmpp_stanza_t *inner = delegation_unwrap(outer, &dns);
    xmpp_stanza_t *r = delegation_inner_reply(ctx, inner, "result");

    stanza_add_element(r, EL_QUERY, NS_ROSTER);
    assert_xml_release(
        delegation_wrap_reply(ctx, outer, "rest.example.org", dns, r),
        "<iq id=\"W1\" to=\"example.org\" type=\"result\" "
        "from=\"rest.example.org\">"
        "<delegation xmlns=\"urn:xmpp:delegation:2\">"
        "<forwarded xmlns=\"urn:xmpp:forward:0\">"
        "<iq id=\"I1\" xmlns=\"jabber:client\" to=\"user@example.org/res\" "
        "type=\"result\" from=\"user@example.org\">"
        "<query xmlns=\"jabber:iq:roster\"/>"
        "</iq></forwarded></delegation></iq>");
    xmpp_stanza_release(outer);
}
END_TEST

START_TEST(test_wrap_reply_carries_inner_error_in_v1_namespace)
{
    xmpp_stanza_t *outer = parse(EJABBERD_FORWARD);
    const char *dns;
    xmpp_stanza_t *inner = delegation_unwrap(outer, &dns);
    xmpp_stanza_t *r = delegation_inner_reply(ctx, inner, "error");

    stanza_adopt(r, stanza_error_element(ctx, ERR_CANCEL,
                                         COND_FEATURE_NOT_IMPLEMENTED, NULL));
    assert_xml_release(
        delegation_wrap_reply(ctx, outer, "rest.example.org", dns, r),
        "<iq id=\"W1\" to=\"example.org\" type=\"result\" "
        "from=\"rest.example.org\">"
        "<delegation xmlns=\"urn:xmpp:delegation:1\">"
        "<forwarded xmlns=\"urn:xmpp:forward:0\">"
        "<iq id=\"I2\" xmlns=\"jabber:client\" to=\"user@example.org/res\" "
        "type=\"error\" from=\"user@example.org\">"
        "<error type=\"cancel\"><feature-not-implemented "
        "xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\"/></error>"
        "</iq></forwarded></delegation></iq>");
    xmpp_stanza_release(outer);
}
END_TEST

static Suite *delegation_suite(void)
{
    Suite *s = suite_create("delegation");
    TCase *tc = tcase_create("adverts");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_prosody_delegation_lists_every_namespace_at_once);
    tcase_add_test(tc, test_prosody_delegation_replaces_previous_list);
    tcase_add_test(tc, test_ejabberd_delegations_accumulate_one_per_message);
    tcase_add_test(tc, test_delegated_without_namespace_is_ignored);
    tcase_add_test(tc, test_servers_are_kept_apart);
    tcase_add_test(tc, test_privilege_v1_omits_none_entries);
    tcase_add_test(tc, test_privilege_v2_records_nested_iq_namespaces);
    tcase_add_test(tc, test_privilege_advert_replaces_previous_grants);
    tcase_add_test(tc, test_privilege_and_delegation_state_are_independent);
    tcase_add_test(tc, test_adverts_from_users_or_resources_are_rejected);
    tcase_add_test(tc, test_other_messages_are_not_adverts);
    tcase_add_test(tc, test_clear_forgets_everything);
    tcase_add_test(tc, test_unknown_server_has_no_state);
    suite_add_tcase(s, tc);

    tc = tcase_create("nodes");
    tcase_add_test(tc, test_parse_node_server_form_both_generations);
    tcase_add_test(tc, test_parse_node_bare_form_both_generations);
    tcase_add_test(tc, test_parse_node_rejects_other_nodes);
    suite_add_tcase(s, tc);

    tc = tcase_create("forwarding");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_unwrap_returns_inner_iq_and_wrapper_namespace);
    tcase_add_test(tc, test_unwrap_tolerates_whitespace_between_elements);
    tcase_add_test(tc, test_unwrap_rejects_malformed_wrappers);
    tcase_add_test(tc, test_inner_reply_uses_original_to_as_from);
    tcase_add_test(tc,
                   test_inner_reply_to_server_addressed_iq_comes_from_server);
    tcase_add_test(tc, test_inner_reply_without_to_comes_from_users_bare_jid);
    tcase_add_test(tc, test_wrap_reply_is_compact_and_addressed_to_the_server);
    tcase_add_test(tc, test_wrap_reply_carries_inner_error_in_v1_namespace);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(delegation_suite());
    int failed;

    /* Adverts log at info; keep the test output to the results. */
    log_set_level(LOG_LEVEL_ERROR);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
