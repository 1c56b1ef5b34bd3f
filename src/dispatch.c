/* SPDX-License-Identifier: MIT */
/* dispatch.c: routes incoming stanzas; answers every IQ get/set. */
#include "config.h"

#include "dispatch.h"
#include "dispatch_priv.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <strings.h>
#include <sys/utsname.h>

#include "component.h"
#include "conf.h"
#include "delegation.h"
#include "iq.h"
#include "jid.h"
#include "log.h"
#include "loop.h"
#include "loopguard.h"
#include "metrics.h"
#include "stanza.h"
#include "strmap.h"
#include "version.h"
#include "xmalloc.h"

/* Registrations are bounded: a handful of features register once each. */
#define DISPATCH_MAX_HANDLERS 64

struct dispatch_handler {
    unsigned kinds;            /* DISPATCH_* bits; 0 for a delegate */
    char *ns;                  /* delegate: this namespace; NULL any */
    char *not_ns;              /* delegate: never this one; NULL none */
    int priority;              /* ascending */
    dispatch_incoming_cb cb;   /* a stanza handler, or */
    dispatch_delegated_cb dcb; /* a delegate, or */
    component_state_cb scb;    /* a follower of the stream state */
    void *arg;
    bool dead; /* unregistered while the list was walked */
    TAILQ_ENTRY(dispatch_handler) link; /* dp->handlers */
};

struct dispatch {
    struct component *c;
    struct delegation *d;
    const struct conf *conf;
    xmpp_ctx_t *ctx;
    TAILQ_HEAD(dispatch_handlers, dispatch_handler) handlers; /* by priority */
    unsigned n_handlers;
    unsigned walking;        /* nesting depth of walks over handlers */
    struct loopguard *guard; /* per-peer budget of automatic replies */
    bool from_self;          /* the IQ being handled came from our own domain */
};

static const char *const features[] = {
    NS_DISCO_INFO,
    NS_DISCO_ITEMS,
    NS_PING,
    NS_VERSION,
};

/* Whether delegate h serves namespace ns. */
static bool delegate_matches(const struct dispatch_handler *h, const char *ns)
{
    if (h->dead || h->dcb == NULL || ns == NULL)
        return false;
    if (h->ns != NULL)
        return strcmp(h->ns, ns) == 0;
    return h->not_ns == NULL || strcmp(h->not_ns, ns) != 0;
}

/* Whether some delegate serves ns. */
static bool delegate_exists(struct dispatch *dp, const char *ns)
{
    struct dispatch_handler *h;

    TAILQ_FOREACH(h, &dp->handlers, link)
    if (delegate_matches(h, ns))
        return true;
    return false;
}

/* Free the handlers unregistered during a walk, once no walk is left. */
static void reap(struct dispatch *dp)
{
    struct dispatch_handler *h, *next;

    if (dp->walking > 0)
        return;
    for (h = TAILQ_FIRST(&dp->handlers); h != NULL; h = next) {
        next = TAILQ_NEXT(h, link);
        if (!h->dead)
            continue;
        TAILQ_REMOVE(&dp->handlers, h, link);
        free(h->ns);
        free(h->not_ns);
        free(h);
    }
}

/* Offer st to the stanza handlers of its kind in order; true once one
 * consumed it. */
static bool offer(struct dispatch *dp, unsigned kind, xmpp_stanza_t *st)
{
    bool taken = false;

    if (dp->from_self)
        return false;
    dp->walking++;
    for (struct dispatch_handler *h = TAILQ_FIRST(&dp->handlers);
         h != NULL && !taken; h = TAILQ_NEXT(h, link))
        if (!h->dead && h->cb != NULL && (h->kinds & kind) != 0)
            taken = h->cb(st, h->arg);
    dp->walking--;
    reap(dp);
    return taken;
}

/* Offer a forwarded IQ to the delegates of ns in order. */
static bool offer_delegated(struct dispatch *dp, const char *ns,
                            xmpp_stanza_t *outer, xmpp_stanza_t *inner,
                            const char *dlg_ns)
{
    bool taken = false;

    dp->walking++;
    for (struct dispatch_handler *h = TAILQ_FIRST(&dp->handlers);
         h != NULL && !taken; h = TAILQ_NEXT(h, link))
        if (delegate_matches(h, ns))
            taken = h->dcb(outer, inner, dlg_ns, h->arg);
    dp->walking--;
    reap(dp);
    return taken;
}

/* True for an IQ of type result or error. */
static bool is_iq_answer(xmpp_stanza_t *iq)
{
    const char *type = stanza_attr(iq, ATTR_TYPE);

    return type != NULL &&
           (strcmp(type, "result") == 0 || strcmp(type, "error") == 0);
}

/* True for a stanza of type error. */
static bool is_error(xmpp_stanza_t *st)
{
    const char *type = stanza_attr(st, ATTR_TYPE);

    return type != NULL && strcmp(type, "error") == 0;
}

bool dispatch_reply_allowed(struct dispatch *dp, xmpp_stanza_t *st)
{
    static struct log_ratelimit self_log = LOG_RATELIMIT_INIT(
        LOG_LEVEL_WARN, "reply to restanza's own domain not sent");
    static struct log_ratelimit budget_log = LOG_RATELIMIT_INIT(
        LOG_LEVEL_WARN, "reply over the peer's budget not sent (ping-pong?)");
    const char *to = stanza_attr(st, ATTR_TO);

    /* Only an IQ answer may go to our own domain: it answers an IQ we sent
     * ourselves (GET /rest/version/<component>) and is never answered. */
    if (loopguard_own_domain(to, dp->conf->component.jid) &&
        !(stanza_is(st, EL_IQ) && is_iq_answer(st))) {
        metrics_inc(METRIC_LOOP_TO_SELF);
        if (log_ratelimit_pass(&self_log, loop_clock_ms()))
            log_warn("reply to restanza's own domain not sent", "to=%s", to);
        return false;
    }
    /* An IQ answer is never answered, nor is an error (RFC 6120 8.3.1):
     * only other messages and presences can go back and forth. Errors are
     * not budgeted, so a sender always learns why its stanza failed. */
    if (!stanza_is(st, EL_IQ) && !is_error(st) &&
        !loopguard_allow(dp->guard, to, loop_clock_ms())) {
        metrics_inc(METRIC_LOOP_PEER_BUDGET);
        if (log_ratelimit_pass(&budget_log, loop_clock_ms()))
            log_warn("reply over the peer's budget not sent (ping-pong?)",
                     "to=%s rate=%d burst=%d", to, LOOPGUARD_RATE,
                     LOOPGUARD_BURST);
        return false;
    }
    return true;
}

static void send_release(struct dispatch *dp, xmpp_stanza_t *st)
{
    static struct log_ratelimit unsent_log = LOG_RATELIMIT_INIT(
        LOG_LEVEL_WARN, "reply not sent: stream unavailable");

    if (!dispatch_reply_allowed(dp, st)) {
        xmpp_stanza_release(st);
        return;
    }
    if (component_send(dp->c, st) < 0 &&
        log_ratelimit_pass(&unsent_log, loop_clock_ms()))
        log_warn("reply not sent: stream unavailable", "to=%s reason=%s",
                 stanza_attr(st, ATTR_TO) ? stanza_attr(st, ATTR_TO) : "-",
                 component_refusal_name(component_send_refusal(dp->c)));
    xmpp_stanza_release(st);
}

/* The address a reply comes from: the one the request was sent to (in our
 * domain, normalised by dispatch_on_stanza_cb), else the component's. */
static const char *reply_from(struct dispatch *dp, xmpp_stanza_t *req)
{
    const char *to = stanza_attr(req, ATTR_TO);

    return to != NULL ? to : dp->conf->component.jid;
}

static void reply_error(struct dispatch *dp, xmpp_stanza_t *req,
                        const char *type, const char *cond, const char *text)
{
    send_release(
        dp, stanza_error(dp->ctx, req, reply_from(dp, req), type, cond, text));
}

static xmpp_stanza_t *query_result(struct dispatch *dp, xmpp_stanza_t *req,
                                   const char *ns, xmpp_stanza_t **query)
{
    xmpp_stanza_t *r = stanza_result(dp->ctx, req, reply_from(dp, req));
    *query = stanza_add_element(r, EL_QUERY, ns);
    return r;
}

static void add_feature(xmpp_stanza_t *query, const char *var)
{
    xmpp_stanza_t *f = stanza_add_element(query, EL_FEATURE, NULL);
    xmpp_stanza_set_attribute(f, ATTR_VAR, var);
}

static void disco_info(struct dispatch *dp, xmpp_stanza_t *iq,
                       xmpp_stanza_t *payload)
{
    const char *node = stanza_attr(payload, ATTR_NODE);
    xmpp_stanza_t *query, *r;
    bool bare;

    if (node != NULL) {
        /* Delegation nesting (XEP-0355 §5): the features we list here
         * become the server's own for that namespace. ejabberd only
         * activates a delegation after a result that echoes the node. */
        const char *ns = delegation_parse_node(node, &bare);
        if (ns == NULL) {
            reply_error(dp, iq, ERR_CANCEL, COND_ITEM_NOT_FOUND,
                        "No such node");
            return;
        }
        r = query_result(dp, iq, NS_DISCO_INFO, &query);
        xmpp_stanza_set_attribute(query, ATTR_NODE, node);
        /* What we list becomes the server's own feature: only what a
         * handler really serves. */
        if (delegate_exists(dp, ns))
            add_feature(query, ns);
        log_debug("disco nesting answered", "node=%s", node);
        send_release(dp, r);
        return;
    }
    r = query_result(dp, iq, NS_DISCO_INFO, &query);
    xmpp_stanza_t *id = stanza_add_element(query, EL_IDENTITY, NULL);
    xmpp_stanza_set_attribute(id, ATTR_CATEGORY, "component");
    xmpp_stanza_set_attribute(id, ATTR_TYPE, "generic");
    xmpp_stanza_set_attribute(id, EL_NAME, RESTANZA_NAME);
    for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
        add_feature(query, features[i]);
    send_release(dp, r);
}

static void disco_items(struct dispatch *dp, xmpp_stanza_t *iq,
                        xmpp_stanza_t *payload)
{
    const char *node = stanza_attr(payload, ATTR_NODE);
    xmpp_stanza_t *query, *r;

    if (node != NULL) {
        reply_error(dp, iq, ERR_CANCEL, COND_ITEM_NOT_FOUND, "No such node");
        return;
    }
    r = query_result(dp, iq, NS_DISCO_ITEMS, &query);
    send_release(dp, r);
}

static void version(struct dispatch *dp, xmpp_stanza_t *iq)
{
    xmpp_stanza_t *query, *r = query_result(dp, iq, NS_VERSION, &query);
    struct utsname u;

    stanza_add_text(stanza_add_element(query, EL_NAME, NULL), RESTANZA_NAME);
    stanza_add_text(stanza_add_element(query, EL_VERSION, NULL),
                    RESTANZA_VERSION);
    if (uname(&u) == 0)
        stanza_add_text(stanza_add_element(query, "os", NULL), u.sysname);
    send_release(dp, r);
}

int dispatch_delegated_reply(struct dispatch *dp, xmpp_stanza_t *outer,
                             const char *dlg_ns, xmpp_stanza_t *inner_reply)
{
    xmpp_stanza_t *r = delegation_wrap_reply(
        dp->ctx, outer, dp->conf->component.jid, dlg_ns, inner_reply);
    int rc = component_send(dp->c, r);

    xmpp_stanza_release(r);
    return rc;
}

/* A forwarded IQ nobody serves: answer inside the wrapper (an outer error
 * would reach the user as service-unavailable or not at all). */
static void delegated_unserved(struct dispatch *dp, xmpp_stanza_t *outer,
                               xmpp_stanza_t *inner, const char *dlg_ns,
                               const char *ns)
{
    xmpp_stanza_t *r = delegation_inner_reply(dp->ctx, inner, "error");

    stanza_adopt(r, stanza_error_element(dp->ctx, ERR_CANCEL,
                                         COND_FEATURE_NOT_IMPLEMENTED,
                                         "Not served by restanza"));
    log_info("delegated iq not served", "ns=%s from=%s", ns ? ns : "-",
             stanza_attr(inner, ATTR_FROM));
    dispatch_delegated_reply(dp, outer, dlg_ns, r);
}

static void delegated(struct dispatch *dp, xmpp_stanza_t *outer,
                      xmpp_stanza_t *inner, const char *dlg_ns)
{
    xmpp_stanza_t *payload = stanza_first_element(inner);
    const char *ns = payload != NULL ? xmpp_stanza_get_ns(payload) : NULL;
    const char *type = stanza_attr(inner, ATTR_TYPE);

    if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0) {
        log_debug("forwarded iq reply ignored", "type=%s", type);
        send_release(dp,
                     stanza_result(dp->ctx, outer, dp->conf->component.jid));
        return;
    }
    if (!offer_delegated(dp, ns, outer, inner, dlg_ns))
        delegated_unserved(dp, outer, inner, dlg_ns, ns);
}

/* True when the stanza is addressed to the component's bare domain. */
static bool to_domain(struct dispatch *dp, xmpp_stanza_t *st)
{
    const char *to = stanza_attr(st, ATTR_TO);
    return to == NULL || strcmp(to, dp->conf->component.jid) == 0;
}

static void on_iq(struct dispatch *dp, xmpp_stanza_t *iq)
{
    const char *type = stanza_attr(iq, ATTR_TYPE);
    const char *from = stanza_attr(iq, ATTR_FROM);
    xmpp_stanza_t *payload, *inner;
    const char *ns, *dlg_ns;
    bool get;

    if (type == NULL || from == NULL)
        return; /* nothing to answer to */
    if (strcmp(type, "result") == 0 || strcmp(type, "error") == 0) {
        /* One that answers no request of ours goes to the webhook, as in
         * mod_rest (never answered: RFC 6120 §8.2.3). */
        if (!iq_handle(component_iqs(dp->c), iq) && !offer(dp, DISPATCH_IQ, iq))
            log_debug("unexpected iq reply", "id=%s from=%s",
                      stanza_attr(iq, ATTR_ID) ? stanza_attr(iq, ATTR_ID) : "-",
                      from);
        return;
    }
    get = strcmp(type, "get") == 0;
    if (!get && strcmp(type, "set") != 0) {
        reply_error(dp, iq, ERR_MODIFY, COND_BAD_REQUEST, "Bad IQ type");
        return;
    }
    payload = stanza_first_element(iq);
    ns = payload != NULL ? xmpp_stanza_get_ns(payload) : NULL;
    if (payload == NULL || stanza_element_count(iq) != 1) {
        reply_error(dp, iq, ERR_MODIFY, COND_BAD_REQUEST,
                    "An IQ needs exactly one child element");
        return;
    }
    if (!get && (inner = delegation_unwrap(iq, &dlg_ns)) != NULL) {
        /* Only our server forwards; a user could forge the wrapper. */
        if (strcasecmp(from, dp->conf->server.domain) != 0) {
            reply_error(dp, iq, ERR_AUTH, COND_FORBIDDEN,
                        "Only the server may forward delegated IQs");
            return;
        }
        delegated(dp, iq, inner, dlg_ns);
        return;
    }
    if (ns == NULL) {
        reply_error(dp, iq, ERR_CANCEL, COND_SERVICE_UNAVAILABLE, NULL);
        return;
    }
    if (!to_domain(dp, iq) && offer(dp, DISPATCH_IQ, iq))
        return;
    if (get && strcmp(ns, NS_DISCO_INFO) == 0 && stanza_is(payload, EL_QUERY))
        disco_info(dp, iq, payload);
    else if (get && strcmp(ns, NS_DISCO_ITEMS) == 0 &&
             stanza_is(payload, EL_QUERY))
        disco_items(dp, iq, payload);
    else if (get && strcmp(ns, NS_PING) == 0 && stanza_is(payload, EL_PING))
        send_release(dp, stanza_result(dp->ctx, iq, reply_from(dp, iq)));
    else if (get && strcmp(ns, NS_VERSION) == 0 && stanza_is(payload, EL_QUERY))
        version(dp, iq);
    else if (to_domain(dp, iq) && offer(dp, DISPATCH_IQ, iq))
        return;
    else {
        log_debug("iq not served", "ns=%s from=%s type=%s", ns, from, type);
        reply_error(dp, iq, ERR_CANCEL, COND_SERVICE_UNAVAILABLE, NULL);
    }
}

static void on_message(struct dispatch *dp, xmpp_stanza_t *msg)
{
    const char *from = stanza_attr(msg, ATTR_FROM);
    const char *type = stanza_attr(msg, ATTR_TYPE);

    if (from == NULL)
        return;
    if (strcasecmp(from, dp->conf->server.domain) == 0 &&
        delegation_handle_advert(dp->d, msg))
        return;
    if (offer(dp, DISPATCH_MESSAGE, msg))
        return;
    if (type != NULL &&
        (strcmp(type, "error") == 0 || strcmp(type, "headline") == 0 ||
         strcmp(type, "groupchat") == 0))
        return; /* RFC 6120 §8.3.1: never answer errors; headlines and
                   groupchat are not answered with errors either */
    log_debug("message not served", "from=%s", from);
    reply_error(dp, msg, ERR_CANCEL, COND_SERVICE_UNAVAILABLE,
                "No message handler is configured");
}

/* A stanza from our own domain: something sent to ourselves came back.
 * Nothing answers it and the webhook never sees it (SPEC §13). */
static void drop_from_self(xmpp_stanza_t *st)
{
    static struct log_ratelimit self_log = LOG_RATELIMIT_INIT(
        LOG_LEVEL_DEBUG, "stanza from restanza's own domain dropped");
    const char *type = stanza_attr(st, ATTR_TYPE);

    metrics_inc(METRIC_LOOP_FROM_SELF);
    if (log_enabled(LOG_LEVEL_DEBUG) &&
        log_ratelimit_pass(&self_log, loop_clock_ms()))
        log_debug("stanza from restanza's own domain dropped",
                  "kind=%s from=%s to=%s type=%s", xmpp_stanza_get_name(st),
                  stanza_attr(st, ATTR_FROM),
                  stanza_attr(st, ATTR_TO) ? stanza_attr(st, ATTR_TO) : "-",
                  type != NULL ? type : "-");
}

/*
 * Rewrite to/from in place as the servers normalise them (a client may
 * write BOT@REST.EXAMPLE.ORG): every reply, match and webhook URL then uses
 * the normalised form, and no reply goes out with a from the server would
 * refuse (invalid-from). -1 when one is not a JID after prep.
 */
static int normalise_addresses(xmpp_stanza_t *st)
{
    static const char *const attrs[] = {ATTR_TO, ATTR_FROM};

    for (size_t i = 0; i < 2; i++) {
        const char *v = stanza_attr(st, attrs[i]);
        char *n;

        if (v == NULL)
            continue;
        if ((n = jid_normalize(v)) == NULL)
            return -1;
        if (strcmp(n, v) != 0)
            xmpp_stanza_set_attribute(st, attrs[i], n);
        free(n);
    }
    return 0;
}

void dispatch_route(struct dispatch *dp, xmpp_stanza_t *st)
{
    static struct log_ratelimit bad_log = LOG_RATELIMIT_INIT(
        LOG_LEVEL_WARN, "stanza with an invalid address dropped");

    if (normalise_addresses(st) < 0) {
        if (log_ratelimit_pass(&bad_log, loop_clock_ms()))
            log_warn("stanza with an invalid address dropped", "kind=%s",
                     xmpp_stanza_get_name(st) ? xmpp_stanza_get_name(st) : "-");
        return;
    }

    if (loopguard_own_domain(stanza_attr(st, ATTR_FROM),
                             dp->conf->component.jid)) {
        /* An IQ we sent ourselves: answered by the built-in handlers (or
         * matched to our request), never by the webhook; an IQ cannot
         * ping-pong. Anything else from ourselves is dropped. */
        if (stanza_is(st, EL_IQ)) {
            dp->from_self = true;
            on_iq(dp, st);
            dp->from_self = false;
        } else {
            drop_from_self(st);
        }
        return;
    }
    if (stanza_is(st, EL_IQ))
        on_iq(dp, st);
    else if (stanza_is(st, EL_MESSAGE))
        on_message(dp, st);
    else if (stanza_is(st, EL_PRESENCE) && offer(dp, DISPATCH_PRESENCE, st))
        return;
    else
        log_debug("presence ignored", "from=%s",
                  stanza_attr(st, ATTR_FROM) ? stanza_attr(st, ATTR_FROM)
                                             : "-");
}

static void dispatch_on_stanza_cb(xmpp_stanza_t *st, void *arg)
{
    dispatch_route(arg, st);
}

static void on_state(enum component_state state, void *arg)
{
    struct dispatch *dp = arg;
    struct dispatch_handler *h;

    /* Advertisements are per stream: the server sends them again. */
    if (state != COMPONENT_CONNECTED)
        delegation_clear(dp->d);
    dp->walking++;
    TAILQ_FOREACH(h, &dp->handlers, link)
    if (!h->dead && h->scb != NULL)
        h->scb(state, h->arg);
    dp->walking--;
    reap(dp);
}

struct dispatch *dispatch_new(struct component *c, struct delegation *d,
                              const struct conf *conf)
{
    struct dispatch *dp = xcalloc(1, sizeof(*dp));

    TAILQ_INIT(&dp->handlers);
    dp->c = c;
    dp->d = d;
    dp->conf = conf;
    dp->ctx = component_ctx(c);
    dp->guard = loopguard_new();
    component_on_stanza(c, dispatch_on_stanza_cb, dp);
    component_on_state(c, on_state, dp);
    return dp;
}

void dispatch_free(struct dispatch *dp)
{
    struct dispatch_handler *h;

    if (dp == NULL)
        return;
    component_on_stanza(dp->c, NULL, NULL);
    component_on_state(dp->c, NULL, NULL);
    TAILQ_FOREACH(h, &dp->handlers, link)
    h->dead = true;
    dp->walking = 0;
    reap(dp);
    loopguard_free(dp->guard);
    free(dp);
}

/* Insert h after every handler of lower or equal priority. */
static struct dispatch_handler *insert(struct dispatch *dp,
                                       struct dispatch_handler *h)
{
    struct dispatch_handler *after;

    if (dp->n_handlers >= DISPATCH_MAX_HANDLERS) {
        /* A programming error: features register once each. */
        log_error("too many stanza handlers", "max=%d", DISPATCH_MAX_HANDLERS);
        abort();
    }
    TAILQ_FOREACH(after, &dp->handlers, link)
    if (after->priority > h->priority)
        break;
    if (after != NULL)
        TAILQ_INSERT_BEFORE(after, h, link);
    else
        TAILQ_INSERT_TAIL(&dp->handlers, h, link);
    dp->n_handlers++;
    return h;
}

struct dispatch_handler *dispatch_register(struct dispatch *dp, unsigned kinds,
                                           int priority,
                                           dispatch_incoming_cb cb, void *arg)
{
    struct dispatch_handler *h = xcalloc(1, sizeof(*h));

    h->kinds = kinds;
    h->priority = priority;
    h->cb = cb;
    h->arg = arg;
    return insert(dp, h);
}

struct dispatch_handler *
dispatch_register_delegate(struct dispatch *dp, const char *ns,
                           const char *not_ns, int priority,
                           dispatch_delegated_cb cb, void *arg)
{
    struct dispatch_handler *h = xcalloc(1, sizeof(*h));

    h->ns = ns != NULL ? xstrdup(ns) : NULL;
    h->not_ns = not_ns != NULL ? xstrdup(not_ns) : NULL;
    h->priority = priority;
    h->dcb = cb;
    h->arg = arg;
    return insert(dp, h);
}

struct dispatch_handler *dispatch_register_state(struct dispatch *dp,
                                                 int priority,
                                                 component_state_cb cb,
                                                 void *arg)
{
    struct dispatch_handler *h = xcalloc(1, sizeof(*h));

    h->priority = priority;
    h->scb = cb;
    h->arg = arg;
    return insert(dp, h);
}

void dispatch_unregister(struct dispatch *dp, struct dispatch_handler *h)
{
    if (h == NULL || h->dead)
        return;
    h->dead = true;
    dp->n_handlers--;
    reap(dp);
}
