/* SPDX-License-Identifier: MIT */
/* test_dispatch.c: handler order, priority, consume/pass-on, unregister. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "component.h"
#include "conf.h"
#include "conf_priv.h"
#include "delegation.h"
#include "dispatch.h"
#include "dispatch_priv.h"
#include "loop.h"

#define CONF_TEXT                                                              \
    "[server]\n"                                                               \
    "domain = example.org\n"                                                   \
    "[component]\n"                                                            \
    "jid = rest.example.org\n"                                                 \
    "secret = s3cret\n"

static struct conf *conf;
static struct loop *loop;
static struct component *comp;
static struct delegation *dlg;
static struct dispatch *dp;

/* What the handlers saw, in order: one letter per call. */
static char seen[64];

struct probe {
    char name;
    bool consume;
    struct dispatch_handler *self;  /* unregistered on its first call */
    struct dispatch_handler *other; /* unregistered on its first call */
};

static void note(char c)
{
    size_t n = strlen(seen);

    ck_assert_uint_lt(n + 1, sizeof(seen));
    seen[n] = c;
}

static bool on_stanza(xmpp_stanza_t *st, void *arg)
{
    struct probe *p = arg;

    (void)st;
    note(p->name);
    if (p->self != NULL) {
        dispatch_unregister(dp, p->self);
        p->self = NULL;
    }
    if (p->other != NULL) {
        dispatch_unregister(dp, p->other);
        p->other = NULL;
    }
    return p->consume;
}

static bool on_delegated(xmpp_stanza_t *outer, xmpp_stanza_t *inner,
                         const char *dlg_ns, void *arg)
{
    struct probe *p = arg;

    (void)outer;
    (void)inner;
    (void)dlg_ns;
    note(p->name);
    return p->consume;
}

static void setup(void)
{
    conf = conf_parse(CONF_TEXT, strlen(CONF_TEXT), "t.conf", NULL);
    ck_assert_ptr_nonnull(conf);
    loop = loop_new();
    comp = component_new(loop, conf);
    dlg = delegation_new();
    dp = dispatch_new(comp, dlg, conf);
    memset(seen, 0, sizeof(seen));
}

static void teardown(void)
{
    dispatch_free(dp);
    component_free(comp);
    delegation_free(dlg);
    loop_free(loop);
    conf_free(conf);
}

/* Route the stanza written as xml. */
static void route(const char *xml)
{
    xmpp_stanza_t *st = xmpp_stanza_new_from_string(component_ctx(comp), xml);

    ck_assert_ptr_nonnull(st);
    dispatch_route(dp, st);
    xmpp_stanza_release(st);
}

static void message(void)
{
    route("<message xmlns='jabber:client' from='a@example.org/r' "
          "to='bot@rest.example.org' type='chat'><body>hi</body></message>");
}

static void presence(void)
{
    route("<presence xmlns='jabber:client' from='a@example.org/r' "
          "to='bot@rest.example.org'/>");
}

/* A forwarded IQ whose payload is in namespace ns. */
static void delegated(const char *ns)
{
    char xml[1024];

    snprintf(xml, sizeof(xml),
             "<iq xmlns='jabber:component:accept' type='set' id='d1' "
             "from='example.org' to='rest.example.org'>"
             "<delegation xmlns='urn:xmpp:delegation:2'>"
             "<forwarded xmlns='urn:xmpp:forward:0'>"
             "<iq xmlns='jabber:client' type='get' id='q1' "
             "from='a@example.org/r' to='a@example.org'>"
             "<query xmlns='%s'/></iq></forwarded></delegation></iq>",
             ns);
    route(xml);
}

START_TEST(test_priority_orders_handlers_and_ties_keep_registration_order)
{
    struct probe a = {'a', false, NULL, NULL}, b = {'b', false, NULL, NULL},
                 c = {'c', false, NULL, NULL}, d = {'d', false, NULL, NULL};

    dispatch_register(dp, DISPATCH_MESSAGE, 50, on_stanza, &a);
    dispatch_register(dp, DISPATCH_MESSAGE, 10, on_stanza, &b);
    dispatch_register(dp, DISPATCH_MESSAGE, 50, on_stanza, &c);
    dispatch_register(dp, DISPATCH_MESSAGE, -5, on_stanza, &d);
    message();
    ck_assert_str_eq(seen, "dbac");
}
END_TEST

START_TEST(test_consumer_stops_the_walk_and_kinds_filter)
{
    struct probe a = {'a', false, NULL, NULL}, b = {'b', true, NULL, NULL},
                 c = {'c', true, NULL, NULL}, p = {'p', false, NULL, NULL};

    dispatch_register(dp, DISPATCH_MESSAGE | DISPATCH_PRESENCE, 1, on_stanza,
                      &a);
    dispatch_register(dp, DISPATCH_MESSAGE, 2, on_stanza, &b);
    dispatch_register(dp, DISPATCH_MESSAGE | DISPATCH_PRESENCE, 3, on_stanza,
                      &c);
    dispatch_register(dp, DISPATCH_PRESENCE, 2, on_stanza, &p);
    message();
    ck_assert_str_eq(seen, "ab");
    memset(seen, 0, sizeof(seen));
    presence();
    ck_assert_str_eq(seen, "apc");
}
END_TEST

START_TEST(test_unregister_removes_handler)
{
    struct probe a = {'a', false, NULL, NULL}, b = {'b', false, NULL, NULL};
    struct dispatch_handler *ha =
        dispatch_register(dp, DISPATCH_MESSAGE, 1, on_stanza, &a);

    dispatch_register(dp, DISPATCH_MESSAGE, 2, on_stanza, &b);
    message();
    dispatch_unregister(dp, ha);
    dispatch_unregister(dp, NULL);
    message();
    ck_assert_str_eq(seen, "abb");
}
END_TEST

START_TEST(test_unregister_from_inside_a_handler)
{
    struct probe a = {'a', false, NULL, NULL}, b = {'b', false, NULL, NULL},
                 c = {'c', false, NULL, NULL};
    struct dispatch_handler *hb, *hc;

    dispatch_register(dp, DISPATCH_MESSAGE, 1, on_stanza, &a);
    hb = dispatch_register(dp, DISPATCH_MESSAGE, 2, on_stanza, &b);
    hc = dispatch_register(dp, DISPATCH_MESSAGE, 3, on_stanza, &c);
    a.other = hc; /* a removes the next-but-one before it runs */
    b.self = hb;  /* b removes itself */
    message();
    ck_assert_str_eq(seen, "ab");
    message();
    ck_assert_str_eq(seen, "aba");
}
END_TEST

START_TEST(test_delegates_match_namespace_priority_and_pass_on)
{
    struct probe r = {'r', true, NULL, NULL}, w = {'w', true, NULL, NULL},
                 x = {'x', false, NULL, NULL};
    struct dispatch_handler *hr;

    hr = dispatch_register_delegate(dp, "jabber:iq:roster", NULL, 30,
                                    on_delegated, &r);
    dispatch_register_delegate(dp, NULL, "jabber:iq:roster", 90, on_delegated,
                               &w);
    dispatch_register_delegate(dp, "urn:example:x", NULL, 10, on_delegated, &x);
    delegated("jabber:iq:roster");
    ck_assert_str_eq(seen, "r");
    delegated("urn:example:x"); /* x passes it on to the catch-all */
    ck_assert_str_eq(seen, "rxw");
    delegated("urn:example:y");
    ck_assert_str_eq(seen, "rxww");
    dispatch_unregister(dp, hr);
    delegated("jabber:iq:roster"); /* excluded from the catch-all: unserved */
    ck_assert_str_eq(seen, "rxww");
}
END_TEST

START_TEST(test_stanza_handlers_never_see_delegated_iqs)
{
    struct probe a = {'a', true, NULL, NULL};

    dispatch_register(dp, DISPATCH_MESSAGE | DISPATCH_PRESENCE | DISPATCH_IQ, 1,
                      on_stanza, &a);
    delegated("urn:example:x");
    ck_assert_str_eq(seen, "");
    route("<message xmlns='jabber:client' from='x@rest.example.org' "
          "to='bot@rest.example.org'><body>self</body></message>");
    ck_assert_str_eq(seen, "");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dispatch");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(
        tc, test_priority_orders_handlers_and_ties_keep_registration_order);
    tcase_add_test(tc, test_consumer_stops_the_walk_and_kinds_filter);
    tcase_add_test(tc, test_unregister_removes_handler);
    tcase_add_test(tc, test_unregister_from_inside_a_handler);
    tcase_add_test(tc, test_delegates_match_namespace_priority_and_pass_on);
    tcase_add_test(tc, test_stanza_handlers_never_see_delegated_iqs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
