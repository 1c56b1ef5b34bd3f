/* SPDX-License-Identifier: MIT */
/* test_jsonmap.c: unit tests for the mod_rest JSON <-> stanza mapping. */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonmap.h"
#include "stanza.h"

static xmpp_ctx_t *ctx;

static void setup(void)
{
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
}

static void teardown(void)
{
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
}

static json_object *parse_json(const char *text)
{
    char err[256];
    json_object *o = json_parse(text, strlen(text), 0, err, sizeof(err));

    ck_assert_msg(o != NULL, "bad test JSON %s: %s", text, err);
    return o;
}

static const char *eff_ns(xmpp_stanza_t *st, const char *parent)
{
    const char *ns = xmpp_stanza_get_ns(st);
    return ns != NULL ? ns : parent;
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Attributes of st except xmlns: count, and each one also in other. */
static bool attrs_within(xmpp_stanza_t *st, xmpp_stanza_t *other, int *n)
{
    const char *attrs[64];
    int count = xmpp_stanza_get_attributes(st, attrs, 64);

    *n = 0;
    for (int i = 0; i + 1 < count; i += 2) {
        if (strcmp(attrs[i], "xmlns") == 0)
            continue;
        (*n)++;
        if (!same_str(attrs[i + 1], xmpp_stanza_get_attribute(other, attrs[i])))
            return false;
    }
    return true;
}

/*
 * Same XML: names, effective namespaces, attribute sets, text and child
 * order. libstrophe keeps attributes in a hash table, so their order in
 * the serialized text depends on insertion order and is not compared.
 */
static bool xml_equal(xmpp_stanza_t *a, const char *ans, xmpp_stanza_t *b,
                      const char *bns)
{
    xmpp_stanza_t *ca, *cb;
    int na, nb;

    if (xmpp_stanza_is_text(a) || xmpp_stanza_is_text(b))
        return xmpp_stanza_is_text(a) && xmpp_stanza_is_text(b) &&
               same_str(xmpp_stanza_get_text_ptr(a),
                        xmpp_stanza_get_text_ptr(b));
    ans = eff_ns(a, ans);
    bns = eff_ns(b, bns);
    if (!same_str(xmpp_stanza_get_name(a), xmpp_stanza_get_name(b)) ||
        !same_str(ans, bns) || !attrs_within(a, b, &na) ||
        !attrs_within(b, a, &nb) || na != nb)
        return false;
    ca = xmpp_stanza_get_children(a);
    cb = xmpp_stanza_get_children(b);
    for (; ca != NULL && cb != NULL;
         ca = xmpp_stanza_get_next(ca), cb = xmpp_stanza_get_next(cb))
        if (!xml_equal(ca, ans, cb, bns))
            return false;
    return ca == NULL && cb == NULL;
}

/* Assert that XML texts got and want describe the same XML. */
static void assert_same_xml(const char *context, const char *got,
                            const char *want)
{
    xmpp_stanza_t *g = xmpp_stanza_new_from_string(ctx, got);
    xmpp_stanza_t *w = xmpp_stanza_new_from_string(ctx, want);

    ck_assert_msg(g != NULL && w != NULL, "unparseable XML %s / %s", got, want);
    ck_assert_msg(xml_equal(g, NULL, w, NULL), "%s\n got  %s\n want %s",
                  context, got, want);
    xmpp_stanza_release(g);
    xmpp_stanza_release(w);
}

/* JSON text -> stanza text (caller frees), failing the test on error. */
static char *to_xml_text(const char *json)
{
    json_object *o = parse_json(json);
    struct jsonmap_error err = {0};
    xmpp_stanza_t *st = jsonmap_to_stanza(ctx, o, &err);
    char *text, *copy;

    ck_assert_msg(st != NULL, "%s: %u %s/%s %s", json, err.status, err.type,
                  err.condition, err.text);
    text = stanza_to_text(st, NULL);
    copy = strdup(text);
    free(text);
    xmpp_stanza_release(st);
    json_object_put(o);
    return copy;
}

/* XML text -> compact JSON text (caller frees). */
static char *to_json_text(const char *xml)
{
    xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);
    json_object *o;
    char *text;

    ck_assert_msg(st != NULL, "bad test XML %s", xml);
    o = jsonmap_from_stanza(st);
    ck_assert_msg(o != NULL, "no JSON for %s", xml);
    text = json_to_string(o);
    json_object_put(o);
    xmpp_stanza_release(st);
    return text;
}

/*
 * One mapping both ways: json -> exactly xml, and xml -> exactly back
 * (the JSON that XML yields; NULL when the XML side maps to json itself).
 */
struct both_case {
    const char *json;
    const char *xml;
    const char *back;
};

static void check_both(const struct both_case *c)
{
    char *got = to_xml_text(c->json);
    char *json;

    assert_same_xml(c->json, got, c->xml);
    json = to_json_text(got);
    ck_assert_msg(strcmp(json, c->back ? c->back : c->json) == 0,
                  "%s\n got  %s\n want %s", got, json,
                  c->back ? c->back : c->json);
    free(json);
    free(got);
}

/* ---- kind and type inference, top-level attributes --------------------- */

static const struct both_case basic_cases[] = {
    {"{\"kind\":\"message\",\"type\":\"chat\",\"to\":\"a@b.example\","
     "\"from\":\"c@d.example/r\",\"id\":\"x1\",\"body\":\"hi\"}",
     "<message type='chat' to='a@b.example' from='c@d.example/r' id='x1'>"
     "<body>hi</body></message>",
     NULL},
    /* No kind, no type, no payload: a message. */
    {"{}", "<message/>", "{\"kind\":\"message\"}"},
    /* Kind from type. */
    {"{\"type\":\"headline\"}", "<message type='headline'/>",
     "{\"kind\":\"message\",\"type\":\"headline\"}"},
    {"{\"type\":\"result\"}", "<iq type='result'/>",
     "{\"kind\":\"iq\",\"type\":\"result\"}"},
    {"{\"type\":\"unavailable\"}", "<presence type='unavailable'/>",
     "{\"kind\":\"presence\",\"type\":\"unavailable\"}"},
    {"{\"type\":\"subscribe\",\"to\":\"a@b.example\"}",
     "<presence type='subscribe' to='a@b.example'/>",
     "{\"kind\":\"presence\",\"type\":\"subscribe\",\"to\":\"a@b.example\"}"},
    /* Presence without type <-> available. */
    {"{\"kind\":\"presence\"}", "<presence/>",
     "{\"kind\":\"presence\",\"type\":\"available\"}"},
    {"{\"type\":\"available\"}", "<presence/>",
     "{\"kind\":\"presence\",\"type\":\"available\"}"},
    /* Kind from payload keys; iq defaults to get. */
    {"{\"ping\":true}", "<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\",\"ping\":true}"},
    {"{\"subject\":\"s\"}", "<message><subject>s</subject></message>",
     "{\"kind\":\"message\",\"subject\":\"s\"}"},
    {"{\"status\":\"out\"}", "<presence><status>out</status></presence>",
     "{\"kind\":\"presence\",\"type\":\"available\",\"status\":\"out\"}"},
    {"{\"show\":\"dnd\"}", "<presence><show>dnd</show></presence>",
     "{\"kind\":\"presence\",\"type\":\"available\",\"show\":\"dnd\"}"},
    {"{\"priority\":-128}", "<presence><priority>-128</priority></presence>",
     "{\"kind\":\"presence\",\"type\":\"available\",\"priority\":-128}"},
    {"{\"join\":true}",
     "<presence><x xmlns='http://jabber.org/protocol/muc'/></presence>",
     "{\"kind\":\"presence\",\"type\":\"available\",\"muc\":{}}"},
    /* command and archive imply set. */
    {"{\"command\":\"uptime\"}",
     "<iq type='set'><command xmlns='http://jabber.org/protocol/commands' "
     "node='uptime'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"set\",\"command\":{\"node\":\"uptime\"}}"},
    {"{\"archive\":{}}", "<iq type='set'><query xmlns='urn:xmpp:mam:2'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"set\",\"archive\":{}}"},
    /* An explicit type beats the implied one. */
    {"{\"type\":\"get\",\"archive\":{}}",
     "<iq type='get'><query xmlns='urn:xmpp:mam:2'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\",\"archive\":{}}"},
    /* Type decides the kind before payload keys; iq keys then ignored. */
    {"{\"type\":\"chat\",\"ping\":true}", "<message type='chat'/>",
     "{\"kind\":\"message\",\"type\":\"chat\"}"},
    /* Payload inference order is fixed: iq keys, message, presence. */
    {"{\"status\":\"x\",\"body\":\"b\",\"ping\":true}",
     "<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\",\"ping\":true}"},
    {"{\"status\":\"x\",\"body\":\"b\"}", "<message><body>b</body></message>",
     "{\"kind\":\"message\",\"body\":\"b\"}"},
    /* An explicit kind wins; keys of other kinds are ignored. */
    {"{\"kind\":\"presence\",\"body\":\"x\"}", "<presence/>",
     "{\"kind\":\"presence\",\"type\":\"available\"}"},
    {"{\"kind\":\"message\",\"type\":\"set\"}", "<message type='set'/>", NULL},
    /* Unknown keys and JSON nulls are ignored; false flags emit nothing. */
    {"{\"body\":null,\"subject\":\"s\",\"frob\":{\"a\":1}}",
     "<message><subject>s</subject></message>",
     "{\"kind\":\"message\",\"subject\":\"s\"}"},
    {"{\"kind\":\"iq\",\"ping\":false}", "<iq type='get'/>",
     "{\"kind\":\"iq\",\"type\":\"get\"}"},
    {"{\"kind\":null,\"type\":null,\"body\":\"b\"}",
     "<message><body>b</body></message>",
     "{\"kind\":\"message\",\"body\":\"b\"}"},
    /* Empty strings: element without text, mapped back as "". */
    {"{\"body\":\"\"}", "<message><body/></message>",
     "{\"kind\":\"message\",\"body\":\"\"}"},
    /* Markup characters are escaped, not interpreted. */
    {"{\"body\":\"<b>&amp;\\\"'</b>\"}",
     "<message><body>&lt;b&gt;&amp;amp;&quot;'&lt;/b&gt;</body></message>",
     "{\"kind\":\"message\",\"body\":\"<b>&amp;\\\"'</b>\"}"},
};

START_TEST(test_basic_kind_type_and_attributes)
{
    check_both(&basic_cases[_i]);
}
END_TEST

START_TEST(test_lang_maps_to_xml_lang)
{
    char *got = to_xml_text("{\"lang\":\"de\",\"body\":\"x\"}");
    char *json;

    ck_assert_str_eq(got, "<message xml:lang=\"de\"><body>x</body></message>");
    json = to_json_text(got);
    ck_assert_str_eq(json, "{\"kind\":\"message\",\"lang\":\"de\","
                           "\"body\":\"x\"}");
    free(json);
    free(got);
}
END_TEST

/* ---- message keys ------------------------------------------------------ */

static const struct both_case message_cases[] = {
    {"{\"kind\":\"message\",\"thread\":{\"id\":\"t1\",\"parent\":\"t0\"}}",
     "<message><thread parent='t0'>t1</thread></message>", NULL},
    {"{\"kind\":\"message\",\"thread\":{\"id\":\"t1\"}}",
     "<message><thread>t1</thread></message>", NULL},
    {"{\"kind\":\"message\",\"state\":\"composing\"}",
     "<message><composing xmlns='http://jabber.org/protocol/chatstates'/>"
     "</message>",
     NULL},
    {"{\"kind\":\"message\",\"state\":\"gone\"}",
     "<message><gone xmlns='http://jabber.org/protocol/chatstates'/>"
     "</message>",
     NULL},
    {"{\"kind\":\"message\",\"oob_url\":\"https://x.example/f\"}",
     "<message><x xmlns='jabber:x:oob'><url>https://x.example/f</url></x>"
     "</message>",
     "{\"kind\":\"message\",\"oob_url\":\"https://x.example/f\","
     "\"oob\":{\"url\":\"https://x.example/f\"}}"},
    {"{\"kind\":\"message\",\"oob\":{\"url\":\"u\",\"desc\":\"d\"}}",
     "<message><x xmlns='jabber:x:oob'><url>u</url><desc>d</desc></x>"
     "</message>",
     "{\"kind\":\"message\",\"oob_url\":\"u\",\"oob\":{\"url\":\"u\","
     "\"desc\":\"d\"}}"},
    {"{\"kind\":\"message\",\"replace\":\"m1\"}",
     "<message><replace xmlns='urn:xmpp:message-correct:0' id='m1'/>"
     "</message>",
     NULL},
    {"{\"kind\":\"message\",\"reply\":{\"id\":\"m1\",\"to\":\"a@b.example\"}}",
     "<message><reply xmlns='urn:xmpp:reply:0' id='m1' to='a@b.example'/>"
     "</message>",
     NULL},
    {"{\"kind\":\"message\",\"reactions\":{\"id\":\"m1\",\"reactions\":"
     "[\"\xf0\x9f\x91\x8d\",\"x\"]}}",
     "<message><reactions xmlns='urn:xmpp:reactions:0' id='m1'>"
     "<reaction>\xf0\x9f\x91\x8d</reaction><reaction>x</reaction>"
     "</reactions></message>",
     NULL},
    {"{\"kind\":\"message\",\"reference\":{\"type\":\"mention\",\"uri\":"
     "\"xmpp:a@b.example\",\"begin\":0,\"end\":5}}",
     "<message><reference xmlns='urn:xmpp:reference:0' type='mention' "
     "uri='xmpp:a@b.example' begin='0' end='5'/></message>",
     NULL},
    {"{\"kind\":\"message\",\"markable\":true}",
     "<message><markable xmlns='urn:xmpp:chat-markers:0'/></message>", NULL},
    {"{\"kind\":\"message\",\"displayed\":\"m1\"}",
     "<message><displayed xmlns='urn:xmpp:chat-markers:0' id='m1'/>"
     "</message>",
     NULL},
    {"{\"kind\":\"message\",\"fallback\":true}",
     "<message><fallback xmlns='urn:xmpp:fallback:0'/></message>", NULL},
    {"{\"kind\":\"message\",\"encryption\":\"eu.siacs.conversations.axolotl\"}",
     "<message><encryption xmlns='urn:xmpp:eme:0' "
     "namespace='eu.siacs.conversations.axolotl'/></message>",
     NULL},
    {"{\"kind\":\"message\",\"occupant_id\":\"o1\"}",
     "<message><occupant-id xmlns='urn:xmpp:occupant-id:0' id='o1'/>"
     "</message>",
     NULL},
    {"{\"kind\":\"message\",\"attach_to\":\"m1\"}",
     "<message><attach-to xmlns='urn:xmpp:message-attaching:1' id='m1'/>"
     "</message>",
     NULL},
    {"{\"kind\":\"message\",\"invite\":{\"jid\":\"room@muc.example\","
     "\"password\":\"pw\",\"reason\":\"r\",\"thread\":\"t\",\"continue\":true}"
     "}",
     "<message><x xmlns='jabber:x:conference' jid='room@muc.example' "
     "password='pw' reason='r' thread='t' continue='true'/></message>",
     NULL},
    {"{\"kind\":\"message\",\"stanza_ids\":[{\"id\":\"s1\",\"by\":"
     "\"a@b.example\"},{\"id\":\"s2\",\"by\":\"muc.example\"}]}",
     "<message><stanza-id xmlns='urn:xmpp:sid:0' id='s1' by='a@b.example'/>"
     "<stanza-id xmlns='urn:xmpp:sid:0' id='s2' by='muc.example'/>"
     "</message>",
     NULL},
    {"{\"kind\":\"message\",\"forwarded\":{\"delay\":\"2020-01-01T00:00:00Z\","
     "\"message\":{\"type\":\"chat\",\"from\":\"a@b.example\",\"body\":"
     "\"inner\"}}}",
     "<message><forwarded xmlns='urn:xmpp:forward:0'>"
     "<delay xmlns='urn:xmpp:delay' stamp='2020-01-01T00:00:00Z'/>"
     "<message xmlns='jabber:client' type='chat' from='a@b.example'>"
     "<body>inner</body></message></forwarded></message>",
     NULL},
    {"{\"kind\":\"message\",\"archive\":{\"queryid\":\"q1\",\"id\":\"a1\","
     "\"forward\":{\"delay\":\"2020\",\"message\":{\"to\":\"a@b.example\","
     "\"body\":\"old\"}}}}",
     "<message><result xmlns='urn:xmpp:mam:2' queryid='q1' id='a1'>"
     "<forwarded xmlns='urn:xmpp:forward:0'>"
     "<delay xmlns='urn:xmpp:delay' stamp='2020'/>"
     "<message xmlns='jabber:client' to='a@b.example'><body>old</body>"
     "</message></forwarded></result></message>",
     NULL},
    {"{\"kind\":\"message\",\"html\":\"<body><p>Hi <b>you</b></p></body>\"}",
     "<message><html xmlns='http://jabber.org/protocol/xhtml-im'>"
     "<body xmlns='http://www.w3.org/1999/xhtml'><p>Hi <b>you</b></p>"
     "</body></html></message>",
     NULL},
    /* The caller's own xmlns on body is accepted and not duplicated. */
    {"{\"html\":\"<body xmlns='http://www.w3.org/1999/xhtml'>x<br/></body>\"}",
     "<message><html xmlns='http://jabber.org/protocol/xhtml-im'>"
     "<body xmlns='http://www.w3.org/1999/xhtml'>x<br/></body></html>"
     "</message>",
     "{\"kind\":\"message\",\"html\":\"<body>x<br/></body>\"}"},
};

START_TEST(test_message_keys)
{
    check_both(&message_cases[_i]);
}
END_TEST

/* ---- presence keys ----------------------------------------------------- */

static const struct both_case presence_cases[] = {
    {"{\"kind\":\"presence\",\"type\":\"available\",\"show\":\"away\","
     "\"status\":\"lunch\",\"priority\":127}",
     "<presence><show>away</show><status>lunch</status>"
     "<priority>127</priority></presence>",
     NULL},
    {"{\"kind\":\"presence\",\"type\":\"available\",\"caps\":{\"node\":"
     "\"https://n.example\",\"ver\":\"v=\",\"hash\":\"sha-1\",\"ext\":\"e\"}}",
     "<presence><c xmlns='http://jabber.org/protocol/caps' "
     "node='https://n.example' ver='v=' hash='sha-1' ext='e'/></presence>",
     NULL},
    {"{\"kind\":\"presence\",\"type\":\"available\",\"muc\":{\"history\":"
     "{\"maxchars\":0,\"maxstanzas\":20,\"seconds\":60,\"since\":\"2020\"}}}",
     "<presence><x xmlns='http://jabber.org/protocol/muc'><history "
     "maxchars='0' maxstanzas='20' seconds='60' since='2020'/></x>"
     "</presence>",
     NULL},
    {"{\"kind\":\"presence\",\"type\":\"available\",\"muc\":{}}",
     "<presence><x xmlns='http://jabber.org/protocol/muc'/></presence>", NULL},
    /* join does not add a second muc element next to an explicit one. */
    {"{\"join\":true,\"muc\":{\"history\":{\"maxstanzas\":0}}}",
     "<presence><x xmlns='http://jabber.org/protocol/muc'>"
     "<history maxstanzas='0'/></x></presence>",
     "{\"kind\":\"presence\",\"type\":\"available\",\"muc\":{\"history\":"
     "{\"maxstanzas\":0}}}"},
    /* false does not imply presence (mod_rest tests truthiness). */
    {"{\"join\":false}", "<message/>", "{\"kind\":\"message\"}"},
    {"{\"kind\":\"presence\",\"type\":\"available\",\"idle_since\":"
     "\"2020-01-01T00:00:00Z\"}",
     "<presence><idle xmlns='urn:xmpp:idle:1' since='2020-01-01T00:00:00Z'/>"
     "</presence>",
     NULL},
    {"{\"kind\":\"presence\",\"type\":\"available\",\"vcard_update\":"
     "{\"photo\":\"abc\"}}",
     "<presence><x xmlns='vcard-temp:x:update'><photo>abc</photo></x>"
     "</presence>",
     NULL},
    {"{\"kind\":\"presence\",\"type\":\"available\",\"vcard_update\":"
     "{\"photo\":\"\"}}",
     "<presence><x xmlns='vcard-temp:x:update'><photo/></x></presence>", NULL},
};

START_TEST(test_presence_keys)
{
    check_both(&presence_cases[_i]);
}
END_TEST

/* ---- iq payload keys --------------------------------------------------- */

static const struct both_case iq_cases[] = {
    {"{\"kind\":\"iq\",\"type\":\"get\",\"to\":\"b.example\",\"id\":\"p1\","
     "\"ping\":true}",
     "<iq type='get' to='b.example' id='p1'><ping xmlns='urn:xmpp:ping'/>"
     "</iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"get\",\"version\":{}}",
     "<iq type='get'><query xmlns='jabber:iq:version'/></iq>", NULL},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"version\":{\"name\":\"restanza\","
     "\"version\":\"0.1.0\",\"os\":\"Linux\"}}",
     "<iq type='result'><query xmlns='jabber:iq:version'><name>restanza</name>"
     "<version>0.1.0</version><os>Linux</os></query></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"get\",\"disco\":true}",
     "<iq type='get'><query xmlns='http://jabber.org/protocol/disco#info'/>"
     "</iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"get\",\"disco\":\"n1\"}",
     "<iq type='get'><query xmlns='http://jabber.org/protocol/disco#info' "
     "node='n1'/></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"get\",\"disco\":{\"node\":\"n1\"}}",
     "<iq type='get'><query xmlns='http://jabber.org/protocol/disco#info' "
     "node='n1'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\",\"disco\":\"n1\"}"},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"disco\":{\"node\":\"n\","
     "\"identities\":[{\"category\":\"component\",\"type\":\"generic\","
     "\"name\":\"R\"}],\"features\":[\"urn:xmpp:ping\",\"jabber:iq:version\"],"
     "\"extensions\":{\"urn:x:info\":{\"a\":\"1\",\"b\":[\"x\",\"y\"]}}}}",
     "<iq type='result'><query xmlns='http://jabber.org/protocol/disco#info' "
     "node='n'><identity category='component' type='generic' name='R'/>"
     "<feature var='urn:xmpp:ping'/><feature var='jabber:iq:version'/>"
     "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' "
     "type='hidden'><value>urn:x:info</value></field><field var='a'>"
     "<value>1</value></field><field var='b'><value>x</value><value>y</value>"
     "</field></x></query></iq>",
     /* Untyped extension fields come back as arrays (mod_rest). */
     "{\"kind\":\"iq\",\"type\":\"result\",\"disco\":{\"node\":\"n\","
     "\"identities\":[{\"category\":\"component\",\"type\":\"generic\","
     "\"name\":\"R\"}],\"features\":[\"urn:xmpp:ping\",\"jabber:iq:version\"],"
     "\"extensions\":{\"urn:x:info\":{\"a\":[\"1\"],\"b\":[\"x\",\"y\"]}}}}"},
    {"{\"kind\":\"iq\",\"type\":\"get\",\"items\":true}",
     "<iq type='get'><query xmlns='http://jabber.org/protocol/disco#items'/>"
     "</iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"get\",\"items\":\"n1\"}",
     "<iq type='get'><query xmlns='http://jabber.org/protocol/disco#items' "
     "node='n1'/></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"get\",\"items\":{\"node\":\"n1\"}}",
     "<iq type='get'><query xmlns='http://jabber.org/protocol/disco#items' "
     "node='n1'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\",\"items\":\"n1\"}"},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"items\":[{\"jid\":\"a.example\","
     "\"node\":\"n\",\"name\":\"A\"},\"b.example\"]}",
     "<iq type='result'><query xmlns='http://jabber.org/protocol/disco#items'>"
     "<item jid='a.example' node='n' name='A'/><item jid='b.example'/>"
     "</query></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"items\":[{\"jid\":\"a.example\","
     "\"node\":\"n\",\"name\":\"A\"},{\"jid\":\"b.example\"}]}"},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"command\":{\"action\":\"execute\","
     "\"node\":\"n\",\"sessionid\":\"s\",\"status\":\"executing\",\"actions\":"
     "{\"execute\":\"next\",\"next\":true,\"complete\":true},\"note\":"
     "{\"type\":\"info\",\"text\":\"hello\"},\"form\":{\"type\":\"form\","
     "\"title\":\"T\",\"instructions\":\"I\",\"fields\":[{\"var\":\"v\","
     "\"type\":\"list-single\",\"label\":\"L\",\"desc\":\"D\",\"required\":"
     "true,\"value\":\"x\",\"options\":[{\"label\":\"X\",\"value\":\"x\"}]}]}}"
     "}",
     "<iq type='result'><command xmlns='http://jabber.org/protocol/commands' "
     "action='execute' node='n' sessionid='s' status='executing'>"
     "<actions execute='next'><next/><complete/></actions>"
     "<note type='info'>hello</note><x xmlns='jabber:x:data' type='form'>"
     "<title>T</title><instructions>I</instructions><field var='v' "
     "type='list-single' label='L'><desc>D</desc><required/><value>x</value>"
     "<option label='X'><value>x</value></option></field></x></command></iq>",
     NULL},
    /* data (a flat form) is submitted as a submit form. */
    {"{\"command\":{\"node\":\"n\",\"sessionid\":\"s\",\"data\":"
     "{\"a\":\"1\",\"b\":[\"x\",\"y\"]}}}",
     "<iq type='set'><command xmlns='http://jabber.org/protocol/commands' "
     "node='n' sessionid='s'><x xmlns='jabber:x:data' type='submit'>"
     "<field var='a'><value>1</value></field><field var='b'><value>x</value>"
     "<value>y</value></field></x></command></iq>",
     "{\"kind\":\"iq\",\"type\":\"set\",\"command\":{\"node\":\"n\","
     "\"sessionid\":\"s\",\"form\":{\"type\":\"submit\",\"fields\":[{\"var\":"
     "\"a\",\"value\":\"1\"},{\"var\":\"b\",\"value\":\"x\"}]}}}"},
    /* Archive convenience keys -> MAM form and RSM page. */
    {"{\"archive\":{\"queryid\":\"q\",\"with\":\"a@b.example\",\"start\":"
     "\"2020-01-01T00:00:00Z\",\"end\":\"2021\",\"before-id\":\"b1\","
     "\"after-id\":\"a1\",\"ids\":\"1,,2\",\"after\":\"z\",\"before\":\"y\","
     "\"max\":\"10\"}}",
     "<iq type='set'><query xmlns='urn:xmpp:mam:2' queryid='q'>"
     "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' "
     "type='hidden'><value>urn:xmpp:mam:2</value></field>"
     "<field var='with'><value>a@b.example</value></field>"
     "<field var='start'><value>2020-01-01T00:00:00Z</value></field>"
     "<field var='end'><value>2021</value></field>"
     "<field var='before-id'><value>b1</value></field>"
     "<field var='after-id'><value>a1</value></field>"
     "<field var='ids'><value>1</value><value>2</value></field></x>"
     "<set xmlns='http://jabber.org/protocol/rsm'><after>z</after>"
     "<before>y</before><max>10</max></set></query></iq>",
     "{\"kind\":\"iq\",\"type\":\"set\",\"archive\":{\"queryid\":\"q\","
     "\"form\":{\"type\":\"submit\",\"fields\":[{\"var\":\"FORM_TYPE\","
     "\"type\":\"hidden\",\"values\":[\"urn:xmpp:mam:2\"]},{\"var\":\"with\","
     "\"values\":[\"a@b.example\"]},{\"var\":\"start\",\"values\":"
     "[\"2020-01-01T00:00:00Z\"]},{\"var\":\"end\",\"values\":[\"2021\"]},"
     "{\"var\":\"before-id\",\"values\":[\"b1\"]},{\"var\":\"after-id\","
     "\"values\":[\"a1\"]},{\"var\":\"ids\",\"values\":[\"1\",\"2\"]}]},"
     "\"page\":{\"after\":\"z\",\"before\":\"y\",\"max\":10}}}"},
    {"{\"archive\":{\"ids\":[\"i1\",\"i2\"],\"max\":5}}",
     "<iq type='set'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' "
     "type='submit'><field var='FORM_TYPE' type='hidden'>"
     "<value>urn:xmpp:mam:2</value></field><field var='ids'><value>i1</value>"
     "<value>i2</value></field></x><set xmlns='http://jabber.org/protocol/rsm'>"
     "<max>5</max></set></query></iq>",
     "{\"kind\":\"iq\",\"type\":\"set\",\"archive\":{\"form\":{\"type\":"
     "\"submit\",\"fields\":[{\"var\":\"FORM_TYPE\",\"type\":\"hidden\","
     "\"values\":[\"urn:xmpp:mam:2\"]},{\"var\":\"ids\",\"values\":[\"i1\","
     "\"i2\"]}]},\"page\":{\"max\":5}}}"},
    /* An explicit form and page are used as given. */
    {"{\"kind\":\"iq\",\"type\":\"set\",\"archive\":{\"queryid\":\"q\","
     "\"form\":{\"type\":\"submit\",\"fields\":[{\"var\":\"FORM_TYPE\","
     "\"type\":\"hidden\",\"values\":[\"urn:xmpp:mam:2\"]}]},\"page\":"
     "{\"max\":5,\"before\":\"\"}}}",
     "<iq type='set'><query xmlns='urn:xmpp:mam:2' queryid='q'>"
     "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' "
     "type='hidden'><value>urn:xmpp:mam:2</value></field></x>"
     "<set xmlns='http://jabber.org/protocol/rsm'><before/><max>5</max></set>"
     "</query></iq>",
     "{\"kind\":\"iq\",\"type\":\"set\",\"archive\":{\"queryid\":\"q\","
     "\"form\":{\"type\":\"submit\",\"fields\":[{\"var\":\"FORM_TYPE\","
     "\"type\":\"hidden\",\"values\":[\"urn:xmpp:mam:2\"]}]},\"page\":"
     "{\"before\":\"\",\"max\":5}}}"},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"result\":{\"page\":{\"first\":"
     "\"a\",\"last\":\"b\",\"count\":10,\"index\":0}}}",
     "<iq type='result'><fin xmlns='urn:xmpp:mam:2'><set "
     "xmlns='http://jabber.org/protocol/rsm'><count>10</count><first>a</first>"
     "<index>0</index><last>b</last></set></fin></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"result\":{\"page\":{\"count\":10,"
     "\"first\":\"a\",\"index\":0,\"last\":\"b\"}}}"},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"lastactivity\":{\"seconds\":903,"
     "\"status\":\"Heading home\"}}",
     "<iq type='result'><query xmlns='jabber:iq:last' seconds='903'>"
     "Heading home</query></iq>",
     NULL},
    /* An empty element's text is "" (util.datamapper), so it comes back. */
    {"{\"kind\":\"iq\",\"type\":\"get\",\"lastactivity\":{}}",
     "<iq type='get'><query xmlns='jabber:iq:last'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\",\"lastactivity\":{\"status\":\"\"}}"},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"stats\":[{\"name\":\"users\","
     "\"unit\":\"users\",\"value\":3},{\"name\":\"load\",\"value\":0.25}]}",
     "<iq type='result'><query xmlns='http://jabber.org/protocol/stats'>"
     "<stat name='users' unit='users' value='3'/><stat name='load' "
     "value='0.25'/></query></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"get\",\"stats\":[]}",
     "<iq type='get'><query xmlns='http://jabber.org/protocol/stats'/></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"extdisco\":{\"type\":\"turn\","
     "\"services\":[{\"type\":\"turn\",\"host\":\"t.example\",\"port\":3478,"
     "\"transport\":\"udp\",\"username\":\"u\",\"password\":\"p\","
     "\"expires\":\"2030\",\"restricted\":true,\"name\":\"T\"},{\"type\":"
     "\"stun\",\"host\":\"s.example\"}]}}",
     "<iq type='result'><services xmlns='urn:xmpp:extdisco:2' type='turn'>"
     "<service type='turn' host='t.example' port='3478' transport='udp' "
     "username='u' password='p' expires='2030' restricted='true' name='T'/>"
     "<service type='stun' host='s.example'/></services></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"gateway\":{\"desc\":\"d\","
     "\"prompt\":\"p\",\"jid\":\"u@g.example\"}}",
     "<iq type='result'><query xmlns='jabber:iq:gateway'><desc>d</desc>"
     "<prompt>p</prompt><jid>u@g.example</jid></query></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"set\",\"register\":{\"username\":\"u\","
     "\"password\":\"p\",\"email\":\"e@x.example\"}}",
     "<iq type='set'><query xmlns='jabber:iq:register'><username>u</username>"
     "<password>p</password><email>e@x.example</email></query></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"register\":{\"username\":\"u\","
     "\"registered\":true}}",
     "<iq type='result'><query xmlns='jabber:iq:register'>"
     "<username>u</username><registered/></query></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"set\",\"register\":{\"remove\":true}}",
     "<iq type='set'><query xmlns='jabber:iq:register'><remove/></query></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"get\",\"upload_request\":{\"filename\":"
     "\"a.jpg\",\"size\":2048,\"content-type\":\"image/jpeg\"}}",
     "<iq type='get'><request xmlns='urn:xmpp:http:upload:0' "
     "filename='a.jpg' size='2048' content-type='image/jpeg'/></iq>",
     NULL},
    /* The GET route passes size as a string; it becomes a number. */
    {"{\"kind\":\"iq\",\"type\":\"get\",\"upload_request\":{\"filename\":"
     "\"a\",\"size\":\"42\"}}",
     "<iq type='get'><request xmlns='urn:xmpp:http:upload:0' filename='a' "
     "size='42'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\",\"upload_request\":{\"filename\":"
     "\"a\",\"size\":42}}"},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"upload_slot\":{\"get\":"
     "{\"url\":\"https://u.example/g\"},\"put\":{\"url\":"
     "\"https://u.example/p\",\"headers\":[{\"name\":\"Authorization\","
     "\"value\":\"Basic x\"},{\"name\":\"Expires\",\"value\":\"1\"}]}}}",
     "<iq type='result'><slot xmlns='urn:xmpp:http:upload:0'>"
     "<get url='https://u.example/g'/><put url='https://u.example/p'>"
     "<header name='Authorization'>Basic x</header>"
     "<header name='Expires'>1</header></put></slot></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"set\",\"oob\":{\"url\":\"https://f\","
     "\"desc\":\"file\"}}",
     "<iq type='set'><query xmlns='jabber:iq:oob'><url>https://f</url>"
     "<desc>file</desc></query></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"set\",\"block\":[{\"jid\":"
     "\"spam@x.example\",\"report\":{\"reason\":\"urn:xmpp:reporting:spam\","
     "\"stanza_ids\":[{\"id\":\"s1\",\"by\":\"x.example\"}]}},{\"jid\":"
     "\"y.example\"}]}",
     "<iq type='set'><block xmlns='urn:xmpp:blocking'>"
     "<item jid='spam@x.example'><report xmlns='urn:xmpp:reporting:1' "
     "reason='urn:xmpp:reporting:spam'><stanza-id xmlns='urn:xmpp:sid:0' "
     "id='s1' by='x.example'/></report></item><item jid='y.example'/>"
     "</block></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"blocklist\":[{\"jid\":"
     "\"a@b.example\"}]}",
     "<iq type='result'><blocklist xmlns='urn:xmpp:blocking'>"
     "<item jid='a@b.example'/></blocklist></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"get\",\"blocklist\":[]}",
     "<iq type='get'><blocklist xmlns='urn:xmpp:blocking'/></iq>", NULL},
};

START_TEST(test_iq_keys)
{
    check_both(&iq_cases[_i]);
}
END_TEST

/* ---- common keys ------------------------------------------------------- */

static const struct both_case common_cases[] = {
    {"{\"kind\":\"message\",\"delay\":\"2002-09-10T23:08:25Z\"}",
     "<message><delay xmlns='urn:xmpp:delay' stamp='2002-09-10T23:08:25Z'/>"
     "</message>",
     NULL},
    {"{\"kind\":\"presence\",\"type\":\"available\",\"nick\":\"Ishmael\"}",
     "<presence><nick xmlns='http://jabber.org/protocol/nick'>Ishmael</nick>"
     "</presence>",
     NULL},
    {"{\"kind\":\"message\",\"rsm\":{\"after\":\"a\",\"before\":\"b\","
     "\"count\":3,\"first\":\"f\",\"index\":1,\"last\":\"l\",\"max\":10}}",
     "<message><set xmlns='http://jabber.org/protocol/rsm'><after>a</after>"
     "<before>b</before><count>3</count><first>f</first><index>1</index>"
     "<last>l</last><max>10</max></set></message>",
     NULL},
    {"{\"kind\":\"message\",\"payload\":{\"datatype\":\"urn:x\",\"data\":"
     "{\"a\":[1,\"b/c\",true,null],\"e\":{}}}}",
     "<message><payload xmlns='urn:xmpp:json-msg:0' datatype='urn:x'>"
     "{&quot;a&quot;:[1,&quot;b/c&quot;,true,null],&quot;e&quot;:{}}"
     "</payload></message>",
     NULL},
    {"{\"kind\":\"message\",\"payload\":{\"data\":\"text\"}}",
     "<message><payload xmlns='urn:xmpp:json-msg:0'>&quot;text&quot;"
     "</payload></message>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"set\",\"payload\":{\"datatype\":\"d\"}}",
     "<iq type='set'><payload xmlns='urn:xmpp:json-msg:0' datatype='d'>null"
     "</payload></iq>",
     "{\"kind\":\"iq\",\"type\":\"set\",\"payload\":{\"datatype\":\"d\","
     "\"data\":null}}"},
    {"{\"kind\":\"message\",\"dataform\":{\"type\":\"form\",\"fields\":["
     "{\"var\":\"m\",\"type\":\"text-multi\",\"value\":[\"a\",\"b\"]},"
     "{\"var\":\"j\",\"type\":\"jid-multi\",\"value\":[\"a@b\",\"c@d\"]},"
     "{\"var\":\"l\",\"type\":\"list-multi\",\"value\":[\"1\"],\"options\":"
     "[{\"label\":\"One\",\"value\":\"1\"},{\"value\":\"2\"}]},{\"var\":\"s\","
     "\"type\":\"text-single\"},{\"var\":\"b\",\"type\":\"boolean\","
     "\"value\":\"1\"}]}}",
     "<message><x xmlns='jabber:x:data' type='form'>"
     "<field var='m' type='text-multi'><value>a</value><value>b</value>"
     "</field><field var='j' type='jid-multi'><value>a@b</value>"
     "<value>c@d</value></field><field var='l' type='list-multi'>"
     "<value>1</value><option label='One'><value>1</value></option>"
     "<option><value>2</value></option></field>"
     "<field var='s' type='text-single'/><field var='b' type='boolean'>"
     "<value>1</value></field></x></message>",
     "{\"kind\":\"message\",\"dataform\":{\"type\":\"form\",\"fields\":["
     "{\"var\":\"m\",\"type\":\"text-multi\",\"value\":\"a\\nb\"},"
     "{\"var\":\"j\",\"type\":\"jid-multi\",\"value\":[\"a@b\",\"c@d\"]},"
     "{\"var\":\"l\",\"type\":\"list-multi\",\"value\":[\"1\"],\"options\":"
     "[{\"label\":\"One\",\"value\":\"1\"},{\"value\":\"2\"}]},{\"var\":\"s\","
     "\"type\":\"text-single\"},{\"var\":\"b\",\"type\":\"boolean\","
     "\"value\":\"1\"}]}}"},
    /* formdata is JSON -> XML only; the XML side reads back as dataform. */
    {"{\"kind\":\"message\",\"formdata\":{\"x\":\"1\",\"y\":[\"a\",\"b\"],"
     "\"z\":null}}",
     "<message><x xmlns='jabber:x:data' type='submit'><field var='x'>"
     "<value>1</value></field><field var='y'><value>a</value><value>b</value>"
     "</field><field var='z'/></x></message>",
     "{\"kind\":\"message\",\"dataform\":{\"type\":\"submit\",\"fields\":["
     "{\"var\":\"x\",\"value\":\"1\"},{\"var\":\"y\",\"value\":\"a\"},"
     "{\"var\":\"z\"}]}}"},
};

START_TEST(test_common_keys)
{
    check_both(&common_cases[_i]);
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

static const struct both_case error_stanza_cases[] = {
    /* An error object makes an error stanza; other payload is dropped. */
    {"{\"kind\":\"iq\",\"type\":\"error\",\"id\":\"1\",\"to\":\"a@b.example\","
     "\"ping\":true,\"error\":{\"type\":\"cancel\",\"condition\":"
     "\"item-not-found\",\"text\":\"gone\",\"by\":\"b.example\"}}",
     "<iq type='error' id='1' to='a@b.example'><error type='cancel' "
     "by='b.example'><item-not-found "
     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>gone</text></error></iq>",
     "{\"kind\":\"iq\",\"type\":\"error\",\"to\":\"a@b.example\",\"id\":\"1\","
     "\"error\":{\"type\":\"cancel\",\"condition\":\"item-not-found\","
     "\"text\":\"gone\",\"by\":\"b.example\"}}"},
    /* Defaults: cancel / undefined-condition; type forced to error. */
    {"{\"kind\":\"message\",\"body\":\"x\",\"error\":{}}",
     "<message type='error'><error type='cancel'><undefined-condition "
     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
     "{\"kind\":\"message\",\"type\":\"error\",\"error\":{\"type\":\"cancel\","
     "\"condition\":\"undefined-condition\"}}"},
    {"{\"kind\":\"presence\",\"type\":\"error\",\"error\":{\"type\":\"wait\","
     "\"condition\":\"resource-constraint\"}}",
     "<presence type='error'><error type='wait'><resource-constraint "
     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>",
     NULL},
    /* Legacy: type error without an error object, body and error_code. */
    {"{\"type\":\"error\",\"body\":\"Not found\",\"error_code\":404}",
     "<message type='error'><body>Not found</body><error code='404'>"
     "Not found</error></message>",
     "{\"kind\":\"message\",\"type\":\"error\",\"body\":\"Not found\","
     "\"error\":{}}"},
    {"{\"type\":\"error\",\"error_code\":\"503\"}",
     "<message type='error'><error code='503'/></message>",
     "{\"kind\":\"message\",\"type\":\"error\",\"error\":{}}"},
};

START_TEST(test_error_stanzas)
{
    check_both(&error_stanza_cases[_i]);
}
END_TEST

struct error_case {
    const char *json;
    unsigned status;
    const char *condition;
    const char *text;
};

#define NWF "not-well-formed"
#define BADREQ "bad-request"

static const struct error_case error_cases[] = {
    {"[1]", 400, NWF, "expected a JSON object"},
    {"\"message\"", 400, NWF, "expected a JSON object"},
    {"{\"kind\":5}", 400, NWF, "'kind' must be a string"},
    {"{\"kind\":\"foo\"}", 422, "unsupported-stanza-type",
     "must be 'message', 'presence' or 'iq'"},
    {"{\"kind\":\"xmpp\"}", 422, "unsupported-stanza-type", "must be"},
    {"{\"type\":5}", 400, NWF, "'type' must be a string"},
    {"{\"to\":\"a@@b\"}", 422, "improper-addressing",
     "Invalid destination JID"},
    {"{\"to\":\"\"}", 422, "improper-addressing", "Invalid destination JID"},
    {"{\"to\":[\"a@b\"]}", 400, NWF, "'to' must be a string"},
    {"{\"from\":\"@b.example\"}", 422, "invalid-from", "Invalid source JID"},
    {"{\"to\":\"a@b.example\",\"from\":\"x@\"}", 422, "invalid-from",
     "Invalid source JID"},
    {"{\"id\":1}", 400, NWF, "'id' must be a string"},
    {"{\"lang\":true}", 400, NWF, "'lang' must be a string"},
    {"{\"body\":5}", 400, NWF, "'body' must be a string"},
    {"{\"body\":\"a\\u0001b\"}", 400, NWF,
     "'body' contains characters not allowed in XML"},
    {"{\"body\":\"a\\u0000b\"}", 400, NWF, "'body' contains characters"},
    {"{\"body\":\"\\uffff\"}", 400, NWF, "'body' contains characters"},
    {"{\"priority\":128}", 400, BADREQ,
     "'priority' must be an integer from -128 to 127"},
    {"{\"priority\":-129}", 400, BADREQ, "'priority' must be an integer"},
    {"{\"priority\":\"5\"}", 400, NWF, "'priority' must be an integer"},
    {"{\"priority\":1.5}", 400, NWF, "'priority' must be an integer"},
    {"{\"state\":\"typing\"}", 400, BADREQ,
     "'state' must be one of the defined names"},
    {"{\"state\":\"a b\"}", 400, BADREQ, "'state' must be one of"},
    {"{\"ping\":\"yes\"}", 400, NWF, "'ping' must be a boolean"},
    {"{\"ping\":true,\"version\":{}}", 422, "bad-format",
     "'iq' stanza must have exactly one child tag"},
    {"{\"kind\":\"iq\",\"type\":\"set\",\"ping\":true,\"nick\":\"n\"}", 422,
     "bad-format", "exactly one child"},
    {"{\"thread\":\"t\"}", 400, NWF, "'thread' must be an object"},
    {"{\"stanza_ids\":{}}", 400, NWF, "'stanza_ids' must be an array"},
    {"{\"stanza_ids\":[null]}", 400, NWF, "'stanza_ids' must be an array"},
    {"{\"stanza_ids\":[\"s\"]}", 400, NWF, "'stanza_ids' must be an object"},
    {"{\"reactions\":{\"reactions\":[1]}}", 400, NWF,
     "'reactions' must be a string"},
    {"{\"html\":\"<p>\"}", 400, NWF, "'html' is not well-formed XHTML"},
    {"{\"html\":\"</x:html><x\"}", 400, NWF, "'html' is not well-formed"},
    {"{\"html\":5}", 400, NWF, "'html' must be a string"},
    {"{\"type\":\"error\",\"error\":\"x\"}", 400, NWF,
     "'error' must be an object"},
    {"{\"type\":\"error\",\"error\":{\"condition\":\"bogus\"}}", 400, BADREQ,
     "'error.condition' must be a defined stanza error condition"},
    {"{\"type\":\"error\",\"error\":{\"condition\":\"x y\"}}", 400, BADREQ,
     "'error.condition'"},
    {"{\"type\":\"error\",\"error\":{\"type\":\"fatal\"}}", 400, BADREQ,
     "'error.type' must be auth, cancel, continue, modify or wait"},
    {"{\"type\":\"error\",\"error\":{\"text\":7}}", 400, NWF,
     "'text' must be a string"},
    {"{\"type\":\"error\",\"error_code\":[1]}", 400, NWF,
     "'error_code' must be"},
    {"{\"disco\":5}", 400, NWF,
     "'disco' must be true, a node string or an object"},
    {"{\"disco\":{\"features\":[1]}}", 400, NWF, "'features' must be a string"},
    {"{\"disco\":{\"identities\":{}}}", 400, NWF,
     "'identities' must be an array"},
    {"{\"items\":5}", 400, NWF, "'items' must be true, a node string"},
    {"{\"command\":5}", 400, NWF,
     "'command' must be a node string or an object"},
    {"{\"command\":{\"actions\":{\"next\":\"yes\"}}}", 400, NWF,
     "'next' must be a boolean"},
    {"{\"command\":{\"note\":\"x\"}}", 400, NWF, "'note' must be an object"},
    {"{\"dataform\":[]}", 400, NWF, "'dataform' must be an object"},
    {"{\"dataform\":{\"fields\":[{\"value\":5}]}}", 400, NWF,
     "'value' must be a string"},
    {"{\"dataform\":{\"fields\":[\"x\"]}}", 400, NWF,
     "'fields' must be an array of objects"},
    {"{\"dataform\":{\"fields\":[{\"required\":1}]}}", 400, NWF,
     "'required' must be a boolean"},
    {"{\"formdata\":{\"a\":5}}", 400, NWF, "'a' must be a string"},
    {"{\"formdata\":[]}", 400, NWF, "'formdata' must be an object"},
    {"{\"payload\":\"x\"}", 400, NWF, "'payload' must be an object"},
    {"{\"archive\":{\"max\":\"ten\"}}", 400, NWF, "'max' must be an integer"},
    {"{\"archive\":{\"ids\":5}}", 400, NWF, "'ids' must be a string"},
    {"{\"archive\":{\"with\":1}}", 400, NWF, "'with' must be a string"},
    {"{\"archive\":[]}", 400, NWF, "'archive' must be an object"},
    {"{\"kind\":\"iq\",\"upload_request\":{\"size\":\"12a\"}}", 400, NWF,
     "'size' must be an integer"},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"stats\":[{\"value\":\"1\"}]}", 400,
     NWF, "'value' must be a number"},
    {"{\"kind\":\"message\",\"invite\":{\"continue\":\"yes\"}}", 400, NWF,
     "'continue' must be a boolean"},
    {"{\"kind\":\"message\",\"forwarded\":{\"message\":{\"from\":\"@x\"}}}",
     422, "invalid-from", "Invalid source JID"},
    {"{\"kind\":\"message\",\"forwarded\":{\"message\":[]}}", 400, NWF,
     "'message' must be an object"},
    {"{\"kind\":\"message\",\"forwarded\":{\"message\":{\"forwarded\":"
     "{\"message\":{\"forwarded\":{\"message\":{\"forwarded\":{\"message\":"
     "{\"forwarded\":{\"message\":{}}}}}}}}}}}",
     400, BADREQ, "'message' must be nested less deeply"},
};

START_TEST(test_invalid_input_is_rejected_with_mod_rest_error)
{
    const struct error_case *c = &error_cases[_i];
    json_object *o = parse_json(c->json);
    struct jsonmap_error err = {0};
    xmpp_stanza_t *st = jsonmap_to_stanza(ctx, o, &err);

    if (st != NULL) {
        char *text = stanza_to_text(st, NULL);
        ck_abort_msg("%s accepted as %s", c->json, text);
    }
    ck_assert_msg(err.status == c->status, "%s: status %u, want %u", c->json,
                  err.status, c->status);
    ck_assert_str_eq(err.type, "modify");
    ck_assert_str_eq(err.condition, c->condition);
    ck_assert_msg(strstr(err.text, c->text) != NULL, "%s: text '%s' lacks '%s'",
                  c->json, err.text, c->text);
    json_object_put(o);
}
END_TEST

START_TEST(test_to_stanza_tolerates_null_error_struct)
{
    json_object *o = parse_json("{\"kind\":\"nope\"}");

    ck_assert_ptr_null(jsonmap_to_stanza(ctx, o, NULL));
    json_object_put(o);
}
END_TEST

START_TEST(test_to_stanza_leaves_input_untouched)
{
    const char *text = "{\"archive\":{\"with\":\"a@b.example\",\"max\":\"3\"},"
                       "\"join\":true}";
    json_object *o = parse_json(text);
    xmpp_stanza_t *st = jsonmap_to_stanza(ctx, o, NULL);
    char *after = json_to_string(o);

    ck_assert_ptr_nonnull(st);
    ck_assert_str_eq(after, text);
    free(after);
    xmpp_stanza_release(st);
    json_object_put(o);
}
END_TEST

/* ---- XML -> JSON specifics --------------------------------------------- */

struct xml_case {
    const char *xml;
    const char *json;
};

static const struct xml_case from_xml_cases[] = {
    /* Unknown children are dropped; known ones kept. */
    {"<message type='chat' id='1'><body>hi</body><unknown xmlns='urn:x'/>"
     "<active xmlns='http://jabber.org/protocol/chatstates'/></message>",
     "{\"kind\":\"message\",\"type\":\"chat\",\"id\":\"1\",\"body\":\"hi\","
     "\"state\":\"active\"}"},
    /* A known name in the wrong namespace is not the known element. */
    {"<message><body xmlns='urn:other'>x</body><ping xmlns='urn:xmpp:ping'/>"
     "</message>",
     "{\"kind\":\"message\"}"},
    {"<iq type='get'><ping xmlns='urn:xmpp:pong'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\"}"},
    /* Stanzas as they arrive on a component stream. */
    {"<message xmlns='jabber:component:accept' from='a@b.example' "
     "to='c.example'><body>x</body></message>",
     "{\"kind\":\"message\",\"to\":\"c.example\",\"from\":\"a@b.example\","
     "\"body\":\"x\"}"},
    {"<message xmlns='jabber:client'><body>x</body></message>",
     "{\"kind\":\"message\",\"body\":\"x\"}"},
    {"<message xml:lang='fr'><body>x</body></message>",
     "{\"kind\":\"message\",\"lang\":\"fr\",\"body\":\"x\"}"},
    /* iq error: payload keys (no func keys) plus the error object. */
    {"<iq type='error' id='1' from='b.example'><query "
     "xmlns='jabber:iq:version'/><query "
     "xmlns='http://jabber.org/protocol/disco#info'/><error type='cancel' "
     "by='b.example'><service-unavailable "
     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>nope</text></error></iq>",
     "{\"kind\":\"iq\",\"type\":\"error\",\"from\":\"b.example\",\"id\":\"1\","
     "\"version\":{},\"error\":{\"type\":\"cancel\",\"condition\":"
     "\"service-unavailable\",\"text\":\"nope\",\"by\":\"b.example\"}}"},
    {"<message type='error'><error type='modify'><text "
     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>t</text><bad-request "
     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
     "{\"kind\":\"message\",\"type\":\"error\",\"error\":{\"type\":\"modify\","
     "\"condition\":\"bad-request\",\"text\":\"t\"}}"},
    /* A payload that is not JSON is dropped, not fatal. */
    {"<message><payload xmlns='urn:xmpp:json-msg:0'>{bad</payload>"
     "<body>b</body></message>",
     "{\"kind\":\"message\",\"body\":\"b\"}"},
    /* html: the XHTML body markup without its namespace declaration. */
    {"<message><html xmlns='http://jabber.org/protocol/xhtml-im'><body "
     "xmlns='http://www.w3.org/1999/xhtml'><p style='color:red'>a<br/>b</p>"
     "</body></html></message>",
     "{\"kind\":\"message\",\"html\":\"<body><p style=\\\"color:red\\\">a<br/>"
     "b</p></body>\"}"},
    {"<message><html xmlns='http://jabber.org/protocol/xhtml-im'/></message>",
     "{\"kind\":\"message\"}"},
    /* Values that do not fit the schema type are dropped. */
    {"<presence><priority>high</priority><show>xa</show></presence>",
     "{\"kind\":\"presence\",\"type\":\"available\",\"show\":\"xa\"}"},
    {"<iq type='result'><query xmlns='http://jabber.org/protocol/stats'>"
     "<stat name='a' value='x'/><stat name='b' value='1e3'/></query></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"stats\":[{\"name\":\"a\"},"
     "{\"name\":\"b\",\"value\":1e3}]}"},
    {"<message><x xmlns='jabber:x:conference' jid='r@m.example' "
     "continue='1'/></message>",
     "{\"kind\":\"message\",\"invite\":{\"jid\":\"r@m.example\",\"continue\":"
     "true}}"},
    /* disco#info forms: typed fields per formdata rules. */
    {"<iq type='result'><query xmlns='http://jabber.org/protocol/disco#info'>"
     "<feature var='f'/><feature/><identity category='c'/>"
     "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' "
     "type='hidden'><value>urn:x</value></field><field var='b' "
     "type='boolean'><value>true</value></field><field var='t' "
     "type='text-multi'><value>1</value><value>2</value></field>"
     "<field var='l' type='list-single'><value>v</value></field>"
     "<field var='s' type='text-single'/></x><x xmlns='jabber:x:data'>"
     "<field var='nope'/></x></query></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"disco\":{\"identities\":[],"
     "\"features\":[\"f\"],\"extensions\":{\"urn:x\":{\"b\":true,\"t\":"
     "\"1\\n2\",\"l\":[\"v\"],\"s\":null}}}}"},
    /* A message with several stanza-ids and a MAM result. */
    {"<message from='a@b.example'><result xmlns='urn:xmpp:mam:2' "
     "queryid='q' id='r1'><forwarded xmlns='urn:xmpp:forward:0'><delay "
     "xmlns='urn:xmpp:delay' stamp='2020'/><message xmlns='jabber:client' "
     "type='chat' from='c@d.example/r'><body>old</body><stanza-id "
     "xmlns='urn:xmpp:sid:0' id='s1' by='a@b.example'/></message>"
     "</forwarded></result></message>",
     "{\"kind\":\"message\",\"from\":\"a@b.example\",\"archive\":{\"queryid\":"
     "\"q\",\"id\":\"r1\",\"forward\":{\"delay\":\"2020\",\"message\":"
     "{\"type\":\"chat\",\"from\":\"c@d.example/r\",\"body\":\"old\","
     "\"stanza_ids\":[{\"id\":\"s1\",\"by\":\"a@b.example\"}]}}}}"},
    /* command with a note only (completed). */
    {"<iq type='result'><command xmlns='http://jabber.org/protocol/commands' "
     "node='n' status='completed'><note type='info'>done</note></command></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"command\":{\"node\":\"n\","
     "\"status\":\"completed\",\"note\":{\"type\":\"info\",\"text\":"
     "\"done\"}}}"},
};

START_TEST(test_from_stanza_cases)
{
    char *got = to_json_text(from_xml_cases[_i].xml);

    ck_assert_msg(strcmp(got, from_xml_cases[_i].json) == 0,
                  "%s\n got  %s\n want %s", from_xml_cases[_i].xml, got,
                  from_xml_cases[_i].json);
    free(got);
}
END_TEST

START_TEST(test_from_stanza_rejects_non_stanzas)
{
    xmpp_stanza_t *x =
        xmpp_stanza_new_from_string(ctx, "<xmpp><message/></xmpp>");
    xmpp_stanza_t *t = xmpp_stanza_new(ctx);

    ck_assert_ptr_null(jsonmap_from_stanza(x));
    ck_assert_ptr_null(jsonmap_from_stanza(NULL));
    xmpp_stanza_set_text(t, "text");
    ck_assert_ptr_null(jsonmap_from_stanza(t));
    xmpp_stanza_release(t);
    xmpp_stanza_release(x);
}
END_TEST

START_TEST(test_from_stanza_cuts_deep_forwarding)
{
    char xml[4096] = "<message>";
    char *got;

    for (int i = 0; i < 8; i++)
        strcat(xml, "<forwarded xmlns='urn:xmpp:forward:0'><message "
                    "xmlns='jabber:client'>");
    strcat(xml, "<body>deep</body>");
    for (int i = 0; i < 8; i++)
        strcat(xml, "</message></forwarded>");
    strcat(xml, "</message>");
    got = to_json_text(xml);
    ck_assert_ptr_null(strstr(got, "deep"));
    ck_assert_ptr_nonnull(strstr(got, "\"forwarded\":{}"));
    free(got);
}
END_TEST

/* XML -> JSON -> XML gives back the same stanza for everything mapped. */
static const char *const roundtrip_xml[] = {
    "<message type='chat' to='a@b.example' from='c@d.example/r' id='i'>"
    "<body>hi</body><thread parent='p'>t</thread>"
    "<active xmlns='http://jabber.org/protocol/chatstates'/>"
    "<markable xmlns='urn:xmpp:chat-markers:0'/></message>",
    "<presence type='unavailable'><status>bye</status></presence>",
    "<presence><show>chat</show><priority>-1</priority>"
    "<c xmlns='http://jabber.org/protocol/caps' node='n' ver='v' "
    "hash='sha-1'/></presence>",
    "<iq type='result' id='v1'><query xmlns='jabber:iq:version'>"
    "<name>n</name><version>1</version></query></iq>",
    "<iq type='set' id='c'><command "
    "xmlns='http://jabber.org/protocol/commands' "
    "node='n' action='complete' sessionid='s'/></iq>",
    "<iq type='get'><query xmlns='http://jabber.org/protocol/disco#items' "
    "node='x'/></iq>",
    "<message><body>a b</body><html "
    "xmlns='http://jabber.org/protocol/xhtml-im'><body "
    "xmlns='http://www.w3.org/1999/xhtml'><p>a <em>b</em></p></body></html>"
    "</message>",
    "<message from='a@b.example'><result xmlns='urn:xmpp:mam:2' queryid='q' "
    "id='r'><forwarded xmlns='urn:xmpp:forward:0'><delay "
    "xmlns='urn:xmpp:delay' stamp='s'/><message xmlns='jabber:client' "
    "to='c@d.example'><body>x</body></message></forwarded></result>"
    "</message>",
    "<iq type='set'><query xmlns='urn:xmpp:mam:2' queryid='q'><x "
    "xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' "
    "type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'>"
    "<value>a@b.example</value></field></x><set "
    "xmlns='http://jabber.org/protocol/rsm'><max>5</max></set></query></iq>",
};

START_TEST(test_roundtrip_from_xml)
{
    char *json = to_json_text(roundtrip_xml[_i]);
    char *got = to_xml_text(json);

    assert_same_xml(json, got, roundtrip_xml[_i]);
    free(got);
    free(json);
}
END_TEST

/* ---- application/x-www-form-urlencoded --------------------------------- */

/* Decode body; its JSON must print as want. */
static void form_ok(const char *body, const char *want)
{
    json_object *o = NULL;
    struct jsonmap_error err = {0};
    char *got;

    ck_assert_msg(jsonmap_form_to_json(body, strlen(body), &o, &err) == 0,
                  "%s: %s", body, err.text);
    got = json_to_string(o);
    ck_assert_msg(strcmp(got, want) == 0, "%s\n got  %s\n want %s", body, got,
                  want);
    free(got);
    json_object_put(o);
}

static void form_bad(const char *body, size_t len, const char *why)
{
    json_object *o = (json_object *)1;
    struct jsonmap_error err = {0};

    ck_assert_int_eq(jsonmap_form_to_json(body, len, &o, &err), -1);
    ck_assert_ptr_null(o);
    ck_assert_uint_eq(err.status, 400);
    ck_assert_str_eq(err.type, "modify");
    ck_assert_str_eq(err.condition, "not-well-formed");
    ck_assert_msg(strstr(err.text, why) != NULL, "'%s' lacks '%s'", err.text,
                  why);
}

START_TEST(test_form_decodes_flat_strings)
{
    form_ok("kind=message&to=a%40b.example&body=hello+world%21%2B",
            "{\"kind\":\"message\",\"to\":\"a@b.example\",\"body\":"
            "\"hello world!+\"}");
    form_ok("", "{}");
    form_ok("&&body=x&", "{\"body\":\"x\"}");
    form_ok("body", "{\"body\":\"\"}");
    form_ok("body=a=b", "{\"body\":\"a=b\"}");
    form_ok("body=%c3%A9", "{\"body\":\"\xc3\xa9\"}");
    form_ok("%62ody=x", "{\"body\":\"x\"}");
}
END_TEST

START_TEST(test_form_types_known_integer_and_boolean_keys)
{
    form_ok("priority=5&show=away", "{\"priority\":5,\"show\":\"away\"}");
    form_ok("ping=true&to=b.example", "{\"ping\":true,\"to\":\"b.example\"}");
    form_ok("join=false&markable=true", "{\"join\":false,\"markable\":true}");
    /* Not spelled as the type: kept as a string (rejected when mapped). */
    form_ok("priority=high&ping=yes",
            "{\"priority\":\"high\",\"ping\":\"yes\"}");
    /* Only top-level typed keys; other keys stay strings. */
    form_ok("id=5&body=true", "{\"id\":\"5\",\"body\":\"true\"}");
}
END_TEST

START_TEST(test_form_then_mapping_builds_the_stanza)
{
    const char *body = "to=a%40b.example&body=Hi+there&type=chat";
    json_object *o = NULL;
    xmpp_stanza_t *st;
    char *text;

    ck_assert_int_eq(jsonmap_form_to_json(body, strlen(body), &o, NULL), 0);
    st = jsonmap_to_stanza(ctx, o, NULL);
    ck_assert_ptr_nonnull(st);
    text = stanza_to_text(st, NULL);
    ck_assert_str_eq(text, "<message to=\"a@b.example\" type=\"chat\">"
                           "<body>Hi there</body></message>");
    free(text);
    xmpp_stanza_release(st);
    json_object_put(o);
}
END_TEST

START_TEST(test_form_rejects_malformed_bodies)
{
    form_bad("a=1&a=2", 7, "duplicate key 'a'");
    form_bad("a=1&%61=2", 9, "duplicate key");
    form_bad("a=%zz", 5, "bad form encoding");
    form_bad("a=%4", 4, "bad form encoding");
    form_bad("a=%", 3, "bad form encoding");
    form_bad("a=%ff", 5, "bad form encoding");
    form_bad("a=%c0%af", 8, "bad form encoding");
    form_bad("a=%ed%a0%80", 11, "bad form encoding");
    form_bad("a=%00", 5, "bad form encoding");
    form_bad("a=x\0y", 5, "bad form encoding");
    form_bad("a=\xff", 3, "bad form encoding");
}
END_TEST

/*
 * ---- empty values (Issue 17.4) -------------------------------------------
 * Expectations from mod_rest's mapping rules (util.datamapper and the
 * hand-written keys of jsonmap.lib.lua), not from the table under test:
 * the text of an empty element is "" (an element with child elements has
 * none), a present element is an object even when empty, a string
 * attribute "" is "", an integer attribute or text "" is no number (the key
 * is left out), a boolean attribute is false only for "false" and "0", a
 * list of repeated elements with no element is left out. Both ways: "" in
 * JSON makes an empty element or attribute and comes back as "".
 */
static const struct xml_case empty_from_xml_cases[] = {
    /* Message text keys: an empty element is the empty string. */
    {"<message><body/><subject/></message>",
     "{\"kind\":\"message\",\"body\":\"\",\"subject\":\"\"}"},
    {"<message><thread/></message>",
     "{\"kind\":\"message\",\"thread\":{\"id\":\"\"}}"},
    {"<message><thread parent=''>t</thread></message>",
     "{\"kind\":\"message\",\"thread\":{\"id\":\"t\",\"parent\":\"\"}}"},
    {"<message><x xmlns='jabber:x:oob'><url/><desc/></x></message>",
     "{\"kind\":\"message\",\"oob_url\":\"\",\"oob\":{\"url\":\"\","
     "\"desc\":\"\"}}"},
    {"<message><x xmlns='jabber:x:oob'/></message>",
     "{\"kind\":\"message\",\"oob\":{}}"},
    {"<message><html xmlns='http://jabber.org/protocol/xhtml-im'><body "
     "xmlns='http://www.w3.org/1999/xhtml'/></html></message>",
     "{\"kind\":\"message\",\"html\":\"<body/>\"}"},
    /* Single attributes of a child: '' stays, a missing attribute is no key. */
    {"<message><replace xmlns='urn:xmpp:message-correct:0' id=''/><displayed "
     "xmlns='urn:xmpp:chat-markers:0' id=''/><encryption "
     "xmlns='urn:xmpp:eme:0' namespace=''/><occupant-id "
     "xmlns='urn:xmpp:occupant-id:0' id=''/><attach-to "
     "xmlns='urn:xmpp:message-attaching:1' id=''/></message>",
     "{\"kind\":\"message\",\"replace\":\"\",\"displayed\":\"\","
     "\"encryption\":\"\",\"occupant_id\":\"\",\"attach_to\":\"\"}"},
    {"<message><replace xmlns='urn:xmpp:message-correct:0'/></message>",
     "{\"kind\":\"message\"}"},
    /* Objects: present and empty is {}; empty attributes stay strings. */
    {"<message><reply xmlns='urn:xmpp:reply:0'/><forwarded "
     "xmlns='urn:xmpp:forward:0'/></message>",
     "{\"kind\":\"message\",\"reply\":{},\"forwarded\":{}}"},
    {"<message><reactions xmlns='urn:xmpp:reactions:0' id=''><reaction/>"
     "</reactions></message>",
     "{\"kind\":\"message\",\"reactions\":{\"id\":\"\",\"reactions\":[\"\"]}}"},
    {"<message><reactions xmlns='urn:xmpp:reactions:0'/></message>",
     "{\"kind\":\"message\",\"reactions\":{}}"},
    {"<message><reference xmlns='urn:xmpp:reference:0' type='' uri='' "
     "begin='' end=''/></message>",
     "{\"kind\":\"message\",\"reference\":{\"type\":\"\",\"uri\":\"\"}}"},
    {"<message><markable xmlns='urn:xmpp:chat-markers:0'/><fallback "
     "xmlns='urn:xmpp:fallback:0'/></message>",
     "{\"kind\":\"message\",\"markable\":true,\"fallback\":true}"},
    /* A boolean attribute is true unless it says false or 0. */
    {"<message><x xmlns='jabber:x:conference' jid='' password='' reason='' "
     "thread='' continue=''/></message>",
     "{\"kind\":\"message\",\"invite\":{\"jid\":\"\",\"password\":\"\","
     "\"reason\":\"\",\"thread\":\"\",\"continue\":true}}"},
    {"<message><x xmlns='jabber:x:conference' jid='r@m.example' "
     "continue='0'/></message>",
     "{\"kind\":\"message\",\"invite\":{\"jid\":\"r@m.example\","
     "\"continue\":false}}"},
    {"<message><stanza-id xmlns='urn:xmpp:sid:0' id='' by=''/><result "
     "xmlns='urn:xmpp:mam:2' queryid='' id=''/></message>",
     "{\"kind\":\"message\",\"stanza_ids\":[{\"id\":\"\",\"by\":\"\"}],"
     "\"archive\":{\"queryid\":\"\",\"id\":\"\"}}"},
    /* Presence. */
    {"<presence><show/><status/><priority/></presence>",
     "{\"kind\":\"presence\",\"type\":\"available\",\"show\":\"\","
     "\"status\":\"\"}"},
    {"<presence><c xmlns='http://jabber.org/protocol/caps' node='' ver='' "
     "hash='' ext=''/><idle xmlns='urn:xmpp:idle:1' since=''/></presence>",
     "{\"kind\":\"presence\",\"type\":\"available\",\"caps\":{\"node\":\"\","
     "\"ver\":\"\",\"hash\":\"\",\"ext\":\"\"},\"idle_since\":\"\"}"},
    {"<presence><x xmlns='http://jabber.org/protocol/muc'><history "
     "maxchars='' maxstanzas='' seconds='' since=''/></x><x "
     "xmlns='vcard-temp:x:update'><photo/></x></presence>",
     "{\"kind\":\"presence\",\"type\":\"available\","
     "\"muc\":{\"history\":{\"since\":\"\"}},"
     "\"vcard_update\":{\"photo\":\"\"}}"},
    {"<presence><x xmlns='http://jabber.org/protocol/muc'/><x "
     "xmlns='vcard-temp:x:update'/></presence>",
     "{\"kind\":\"presence\",\"type\":\"available\",\"muc\":{},"
     "\"vcard_update\":{}}"},
    /* IQ payloads. */
    {"<iq type='result'><query xmlns='jabber:iq:version'><name/><version/>"
     "<os/></query></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"version\":{\"name\":\"\","
     "\"version\":\"\",\"os\":\"\"}}"},
    {"<iq type='get'><query xmlns='http://jabber.org/protocol/disco#info' "
     "node=''/></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\",\"disco\":\"\"}"},
    {"<iq type='result'><query xmlns='http://jabber.org/protocol/disco#info' "
     "node=''><identity category='' type='' name=''/><feature var=''/>"
     "</query></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"disco\":{\"node\":\"\","
     "\"identities\":[{\"category\":\"\",\"type\":\"\",\"name\":\"\"}],"
     "\"features\":[\"\"]}}"},
    {"<iq type='get'><query xmlns='http://jabber.org/protocol/disco#items' "
     "node=''/></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\",\"items\":\"\"}"},
    {"<iq type='result'><query "
     "xmlns='http://jabber.org/protocol/disco#items'><item jid='' node='' "
     "name=''/></query></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"items\":[{\"jid\":\"\","
     "\"node\":\"\",\"name\":\"\"}]}"},
    {"<iq type='result'><command "
     "xmlns='http://jabber.org/protocol/commands'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"command\":{}}"},
    {"<iq type='result'><command xmlns='http://jabber.org/protocol/commands' "
     "action='' node='' sessionid='' status=''><note type=''/></command></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"command\":{\"action\":\"\","
     "\"node\":\"\",\"sessionid\":\"\",\"status\":\"\","
     "\"note\":{\"type\":\"\",\"text\":\"\"}}}"},
    {"<iq type='result'><fin xmlns='urn:xmpp:mam:2'><set "
     "xmlns='http://jabber.org/protocol/rsm'><first/><last/><count/></set>"
     "</fin></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\","
     "\"result\":{\"page\":{\"first\":\"\",\"last\":\"\"}}}"},
    {"<iq type='get'><query xmlns='jabber:iq:last'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\",\"lastactivity\":{\"status\":\"\"}}"},
    {"<iq type='result'><query xmlns='jabber:iq:last' seconds=''/></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\","
     "\"lastactivity\":{\"status\":\"\"}}"},
    {"<iq type='result'><query xmlns='jabber:iq:last' seconds='3'><x "
     "xmlns='urn:x'/></query></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"lastactivity\":{\"seconds\":3}}"},
    {"<iq type='result'><query xmlns='http://jabber.org/protocol/stats'>"
     "<stat name='' unit='' value=''/></query></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"stats\":[{\"name\":\"\","
     "\"unit\":\"\"}]}"},
    {"<iq type='result'><services xmlns='urn:xmpp:extdisco:2' type=''>"
     "<service type='' host='' port='' transport='' username='' password='' "
     "expires='' restricted='' name=''/></services></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"extdisco\":{\"type\":\"\","
     "\"services\":[{\"type\":\"\",\"host\":\"\",\"transport\":\"\","
     "\"username\":\"\",\"password\":\"\",\"expires\":\"\","
     "\"restricted\":true,\"name\":\"\"}]}}"},
    {"<iq type='result'><services xmlns='urn:xmpp:extdisco:2'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"extdisco\":{}}"},
    {"<iq type='result'><query xmlns='jabber:iq:gateway'><desc/><prompt/>"
     "<jid/></query></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"gateway\":{\"desc\":\"\","
     "\"prompt\":\"\",\"jid\":\"\"}}"},
    {"<iq type='result'><query xmlns='jabber:iq:register'><username/>"
     "<password/><registered/></query></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"register\":{\"username\":\"\","
     "\"password\":\"\",\"registered\":true}}"},
    {"<iq type='get'><request xmlns='urn:xmpp:http:upload:0' filename='' "
     "size='' content-type=''/></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\","
     "\"upload_request\":{\"filename\":\"\",\"content-type\":\"\"}}"},
    {"<iq type='result'><slot xmlns='urn:xmpp:http:upload:0'><get url=''/>"
     "<put url=''><header name='Authorization'/></put></slot></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\","
     "\"upload_slot\":{\"get\":{\"url\":\"\"},\"put\":{\"url\":\"\","
     "\"headers\":[{\"name\":\"Authorization\",\"value\":\"\"}]}}}"},
    {"<iq type='result'><slot xmlns='urn:xmpp:http:upload:0'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"upload_slot\":{}}"},
    {"<iq type='get'><query xmlns='jabber:iq:oob'><url/><desc/></query></iq>",
     "{\"kind\":\"iq\",\"type\":\"get\",\"oob\":{\"url\":\"\",\"desc\":\"\"}}"},
    {"<iq type='result'><blocklist xmlns='urn:xmpp:blocking'><item jid=''/>"
     "</blocklist></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"blocklist\":[{\"jid\":\"\"}]}"},
    /* An empty wrapper is an empty list (mod_rest's encoder writes {}:
       doc/rest.md). */
    {"<iq type='result'><blocklist xmlns='urn:xmpp:blocking'/></iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"blocklist\":[]}"},
    {"<iq type='result'><query xmlns='http://jabber.org/protocol/stats'/>"
     "</iq>",
     "{\"kind\":\"iq\",\"type\":\"result\",\"stats\":[]}"},
    /* Keys common to all kinds, top-level attributes, errors. */
    {"<message id='' type=''><delay xmlns='urn:xmpp:delay' stamp=''/><nick "
     "xmlns='http://jabber.org/protocol/nick'/><set "
     "xmlns='http://jabber.org/protocol/rsm'><before/><max/></set></message>",
     "{\"kind\":\"message\",\"type\":\"\",\"id\":\"\",\"delay\":\"\","
     "\"nick\":\"\",\"rsm\":{\"before\":\"\"}}"},
    {"<message><payload xmlns='urn:xmpp:json-msg:0' datatype=''>"
     "\"\"</payload></message>",
     "{\"kind\":\"message\",\"payload\":{\"datatype\":\"\",\"data\":\"\"}}"},
    {"<message><x xmlns='jabber:x:data' type=''><title/><instructions/>"
     "<field var='' type='text-single' label=''><desc/><value/></field>"
     "<field var='m' type='text-multi'/><field var='j' type='jid-multi'/></x>"
     "</message>",
     "{\"kind\":\"message\",\"dataform\":{\"type\":\"\",\"title\":\"\","
     "\"instructions\":\"\",\"fields\":[{\"var\":\"\","
     "\"type\":\"text-single\",\"label\":\"\",\"desc\":\"\",\"value\":\"\"},"
     "{\"var\":\"m\",\"type\":\"text-multi\",\"value\":\"\"},{\"var\":\"j\","
     "\"type\":\"jid-multi\",\"value\":[]}]}}"},
    {"<message type='error'><error type='cancel'><gone "
     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
     "{\"kind\":\"message\",\"type\":\"error\","
     "\"error\":{\"type\":\"cancel\",\"condition\":\"gone\",\"text\":\"\"}}"},
};

static const struct both_case empty_both_cases[] = {
    {"{\"body\":\"\"}", "<message><body/></message>",
     "{\"kind\":\"message\",\"body\":\"\"}"},
    {"{\"thread\":{\"id\":\"\"}}", "<message><thread/></message>",
     "{\"kind\":\"message\",\"thread\":{\"id\":\"\"}}"},
    {"{\"oob_url\":\"\"}",
     "<message><x xmlns='jabber:x:oob'><url/></x></message>",
     "{\"kind\":\"message\",\"oob_url\":\"\",\"oob\":{\"url\":\"\"}}"},
    {"{\"replace\":\"\"}",
     "<message><replace xmlns='urn:xmpp:message-correct:0' id=''/></message>",
     "{\"kind\":\"message\",\"replace\":\"\"}"},
    {"{\"kind\":\"presence\",\"show\":\"\",\"status\":\"\"}",
     "<presence><show/><status/></presence>",
     "{\"kind\":\"presence\",\"type\":\"available\",\"show\":\"\","
     "\"status\":\"\"}"},
    {"{\"kind\":\"presence\",\"vcard_update\":{\"photo\":\"\"}}",
     "<presence><x xmlns='vcard-temp:x:update'><photo/></x></presence>",
     "{\"kind\":\"presence\",\"type\":\"available\","
     "\"vcard_update\":{\"photo\":\"\"}}"},
    {"{\"kind\":\"iq\",\"type\":\"get\",\"disco\":\"\"}",
     "<iq type='get'><query xmlns='http://jabber.org/protocol/disco#info' "
     "node=''/></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"get\",\"items\":\"\"}",
     "<iq type='get'><query xmlns='http://jabber.org/protocol/disco#items' "
     "node=''/></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"set\",\"command\":\"\"}",
     "<iq type='set'><command xmlns='http://jabber.org/protocol/commands' "
     "node=''/></iq>",
     "{\"kind\":\"iq\",\"type\":\"set\",\"command\":{\"node\":\"\"}}"},
    {"{\"kind\":\"iq\",\"type\":\"result\",\"version\":{\"name\":\"\","
     "\"version\":\"\"}}",
     "<iq type='result'><query xmlns='jabber:iq:version'><name/><version/>"
     "</query></iq>",
     NULL},
    {"{\"kind\":\"iq\",\"type\":\"result\","
     "\"lastactivity\":{\"status\":\"\"}}",
     "<iq type='result'><query xmlns='jabber:iq:last'/></iq>", NULL},
    {"{\"kind\":\"iq\",\"type\":\"result\","
     "\"upload_slot\":{\"put\":{\"url\":\"\","
     "\"headers\":[{\"name\":\"Cookie\",\"value\":\"\"}]}}}",
     "<iq type='result'><slot xmlns='urn:xmpp:http:upload:0'><put url=''>"
     "<header name='Cookie'/></put></slot></iq>",
     NULL},
    {"{\"delay\":\"\",\"nick\":\"\",\"rsm\":{\"before\":\"\"}}",
     "<message><delay xmlns='urn:xmpp:delay' stamp=''/><nick "
     "xmlns='http://jabber.org/protocol/nick'/><set "
     "xmlns='http://jabber.org/protocol/rsm'><before/></set></message>",
     "{\"kind\":\"message\",\"delay\":\"\",\"nick\":\"\","
     "\"rsm\":{\"before\":\"\"}}"},
    {"{\"payload\":{\"datatype\":\"\",\"data\":\"\"}}",
     "<message><payload xmlns='urn:xmpp:json-msg:0' datatype=''>"
     "\"\"</payload></message>",
     "{\"kind\":\"message\",\"payload\":{\"datatype\":\"\",\"data\":\"\"}}"},
    {"{\"dataform\":{\"title\":\"\",\"fields\":[{\"var\":\"x\","
     "\"value\":\"\"}]}}",
     "<message><x xmlns='jabber:x:data'><title/><field var='x'><value/>"
     "</field></x></message>",
     "{\"kind\":\"message\",\"dataform\":{\"title\":\"\","
     "\"fields\":[{\"var\":\"x\",\"value\":\"\"}]}}"},
    {"{\"formdata\":{\"a\":\"\"}}",
     "<message><x xmlns='jabber:x:data' type='submit'><field var='a'><value/>"
     "</field></x></message>",
     "{\"kind\":\"message\",\"dataform\":{\"type\":\"submit\","
     "\"fields\":[{\"var\":\"a\",\"value\":\"\"}]}}"},
    {"{\"kind\":\"message\",\"type\":\"error\","
     "\"error\":{\"condition\":\"gone\",\"text\":\"\"}}",
     "<message type='error'><error type='cancel'><gone "
     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
     "{\"kind\":\"message\",\"type\":\"error\","
     "\"error\":{\"type\":\"cancel\",\"condition\":\"gone\",\"text\":\"\"}}"},
};

START_TEST(test_empty_values_from_xml)
{
    char *got = to_json_text(empty_from_xml_cases[_i].xml);

    ck_assert_msg(strcmp(got, empty_from_xml_cases[_i].json) == 0,
                  "%s\n got  %s\n want %s", empty_from_xml_cases[_i].xml, got,
                  empty_from_xml_cases[_i].json);
    free(got);
}
END_TEST

START_TEST(test_empty_values_both_ways)
{
    check_both(&empty_both_cases[_i]);
}
END_TEST

static Suite *jsonmap_suite(void)
{
    Suite *s = suite_create("jsonmap");
    TCase *tc = tcase_create("core");

#define LOOP(test, arr)                                                        \
    tcase_add_loop_test(tc, test, 0, (int)(sizeof(arr) / sizeof((arr)[0])))
    tcase_add_checked_fixture(tc, setup, teardown);
    LOOP(test_basic_kind_type_and_attributes, basic_cases);
    tcase_add_test(tc, test_lang_maps_to_xml_lang);
    LOOP(test_message_keys, message_cases);
    LOOP(test_presence_keys, presence_cases);
    LOOP(test_iq_keys, iq_cases);
    LOOP(test_common_keys, common_cases);
    LOOP(test_error_stanzas, error_stanza_cases);
    LOOP(test_invalid_input_is_rejected_with_mod_rest_error, error_cases);
    tcase_add_test(tc, test_to_stanza_tolerates_null_error_struct);
    tcase_add_test(tc, test_to_stanza_leaves_input_untouched);
    LOOP(test_from_stanza_cases, from_xml_cases);
    tcase_add_test(tc, test_from_stanza_rejects_non_stanzas);
    tcase_add_test(tc, test_from_stanza_cuts_deep_forwarding);
    LOOP(test_roundtrip_from_xml, roundtrip_xml);
    tcase_add_test(tc, test_form_decodes_flat_strings);
    tcase_add_test(tc, test_form_types_known_integer_and_boolean_keys);
    tcase_add_test(tc, test_form_then_mapping_builds_the_stanza);
    tcase_add_test(tc, test_form_rejects_malformed_bodies);
    LOOP(test_empty_values_from_xml, empty_from_xml_cases);
    LOOP(test_empty_values_both_ways, empty_both_cases);
#undef LOOP
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jsonmap_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
