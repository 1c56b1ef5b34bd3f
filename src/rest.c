/* SPDX-License-Identifier: MIT */
/* rest.c: the REST API (mod_rest parity, component mode) on /rest: its
 * routes and the steps every request takes. */
#include "config.h"

#include "rest.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "component.h"
#include "conf.h"
#include "delegation.h"
#include "httpd.h"
#include "idempotency.h"
#include "jid.h"
#include "jsonmap.h"
#include "log.h"
#include "muc.h"
#include "number.h"
#include "rest_auth.h"
#include "rest_build.h"
#include "rest_error.h"
#include "rest_format.h"
#include "rest_get.h"
#include "rest_idem.h"
#include "rest_internal.h"
#include "rest_iq.h"
#include "rest_send.h"
#include "stanza.h"
#include "utf8.h"
#include "xmalloc.h"

/* Idempotency keys remembered at once (answers up to http.max_body
 * bytes each are 2xx only: messages have an empty body). */
#define IDEMPOTENCY_MAX 100000

bool rest_jid_matches(const char *jid, const char *pattern)
{
    struct jid j, p;
    bool ok;

    if (jid_parse(jid, &j) < 0)
        return false;
    if (jid_parse(pattern, &p) < 0) {
        jid_clear(&j);
        return false;
    }
    ok = strcasecmp(j.domain, p.domain) == 0 &&
         (p.local == NULL ||
          (j.local != NULL && strcmp(j.local, p.local) == 0)) &&
         (p.resource == NULL ||
          (j.resource != NULL && strcmp(j.resource, p.resource) == 0));
    jid_clear(&j);
    jid_clear(&p);
    return ok;
}

int rest_parse_timeout(const char *value, unsigned max, unsigned *out)
{
    unsigned long long v;

    if (value == NULL || *value == '\0' ||
        value[strspn(value, "0123456789")] != '\0')
        return -1;
    /* Digits only: anything past the cap, even past any integer, is the
     * cap. */
    if (!number_parse(value, &v))
        v = ULLONG_MAX;
    if (v == 0)
        return -1;
    *out = v > max ? max : (unsigned)v;
    return 0;
}

bool rest_job_start(struct rest_job *j, struct rest *r,
                    struct httpd_request *req, const char *route)
{
    const char *accept = httpd_request_header(req, "Accept");
    const char *ctype = httpd_request_header(req, "Content-Type");

    j->r = r;
    j->req = req;
    j->route = route;
    j->fmt = rest_format_negotiate(accept, ctype, true);
    j->err_fmt = rest_format_negotiate(accept, ctype, false);
    j->auth.pattern = NULL;
    return rest_auth_check(j);
}

/* Validate, then echo or send the stanza the request described. */
void rest_process(struct rest_job *j, xmpp_stanza_t *parsed, bool echo)
{
    struct rest *r = j->r;
    struct jsonmap_error err;
    enum rest_error_id eid;
    xmpp_stanza_t *st = rest_build_normalise(r, parsed, &err);
    bool as_user;

    xmpp_stanza_release(parsed);
    if (st == NULL) {
        rest_error_fail_map(j, &err);
        return;
    }
    if (!rest_build_check_from(j, st, &as_user, &eid)) {
        rest_error_fail(j, eid);
        goto out;
    }
    if (log_enabled(LOG_LEVEL_DEBUG)) {
        size_t len;
        char *text = rest_format_stanza_xml(st, &len);
        log_debug("rest stanza", "route=%s stanza=%s", j->route,
                  text ? text : "-");
        free(text);
    }
    if (echo) {
        rest_format_respond(j->req, j->fmt, 200, &st, 1, false);
        goto out;
    }
    rest_build_add_origin_id(st);
    if (as_user) {
        const char *ns = delegation_privilege_ns(r->d, r->conf->server.domain);
        xmpp_stanza_t *wrap;

        if (!stanza_is(st, EL_MESSAGE)) {
            rest_error_fail(j, RE_USER_KIND);
            goto out;
        }
        if (ns == NULL || delegation_privilege(r->d, r->conf->server.domain,
                                               "message") == NULL) {
            rest_error_fail(j, component_state(r->c) == COMPONENT_CONNECTED
                                   ? RE_NO_PRIVILEGE
                                   : RE_UNAVAILABLE);
            goto out;
        }
        wrap = rest_build_privileged_wrap(r, st, ns);
        xmpp_stanza_release(st);
        st = wrap;
    }
    if (component_state(r->c) != COMPONENT_CONNECTED) {
        rest_error_fail(j, RE_UNAVAILABLE);
        goto out;
    }
    if (stanza_is(st, EL_IQ))
        rest_iq_send(j, st);
    else if (!as_user && r->muc != NULL && muc_is_groupchat(st))
        rest_send_groupchat(j, st);
    else
        rest_send_or_hold(j, st);
out:
    xmpp_stanza_release(st);
}

static void post(struct rest *r, struct httpd_request *req, const char *route,
                 bool echo, bool with_path)
{
    struct rest_job j;
    struct rest_path p = {0};
    struct jsonmap_error err;
    xmpp_stanza_t *st;

    if (!rest_job_start(&j, r, req, route))
        return;
    if (!echo && rest_idem_check(&j))
        return;
    if (with_path) {
        if (!rest_build_split_path(httpd_request_rest(req), &p)) {
            rest_error_fail(&j, RE_NOT_FOUND);
            return;
        }
        if (p.kind == NULL) {
            rest_error_fail(&j, RE_NAME);
            rest_build_path_clear(&p);
            return;
        }
        /* Percent-decoded by libmicrohttpd: any bytes at all. */
        if (!utf8_xml_valid_str(p.type) || !utf8_xml_valid_str(p.to)) {
            rest_error_fail(&j, RE_PATH_CHARS);
            rest_build_path_clear(&p);
            return;
        }
    }
    st = rest_build_parse_body(&j, &p, &err);
    rest_build_path_clear(&p);
    if (st == NULL) {
        rest_error_fail_map(&j, &err);
        return;
    }
    rest_process(&j, st, echo);
}

static void on_post(struct httpd_request *req, void *arg)
{
    post(arg, req, "rest_post", false, false);
}

static void on_echo(struct httpd_request *req, void *arg)
{
    post(arg, req, "rest_echo", true, false);
}

static void on_post_path(struct httpd_request *req, void *arg)
{
    post(arg, req, "rest_post_path", false, true);
}

struct rest *rest_new(struct httpd *h, struct component *c,
                      struct delegation *d, const struct conf *conf)
{
    struct rest *r = xcalloc(1, sizeof(*r));

    r->h = h;
    r->c = c;
    r->d = d;
    r->conf = conf;
    r->ctx = component_ctx(c);
    r->loop = component_loop(c);
    r->idem = idempotency_new(IDEMPOTENCY_MAX, IDEMPOTENCY_TTL_MS);
    LIST_INIT(&r->calls);
    LIST_INIT(&r->firsts);
    TAILQ_INIT(&r->held);
    TAILQ_INIT(&r->confirm);
    component_on_room(c, rest_send_on_room, r);
    component_on_confirm(c, rest_send_on_confirmed, r);
    httpd_route(h, "POST", "/rest", false, "rest_post", on_post, r);
    httpd_route(h, "POST", "/rest/echo", false, "rest_echo", on_echo, r);
    httpd_route(h, "POST", "/rest", true, "rest_post_path", on_post_path, r);
    httpd_route(h, "GET", "/rest", true, "rest_get", rest_get_on_request, r);
    if (conf->rest.ntokens == 0)
        log_info("rest: no bearer tokens configured, only Basic "
                 "component-jid:secret is accepted",
                 "");
    return r;
}

void rest_on_archive(struct rest *r, rest_archive_cb cb, void *arg)
{
    r->archive_cb = cb;
    r->archive_arg = arg;
}

void rest_set_store(struct rest *r, struct store *s)
{
    r->store = s;
}

void rest_set_muc(struct rest *r, struct muc *m)
{
    r->muc = m;
}

bool rest_offer_message(xmpp_stanza_t *msg, void *arg)
{
    return rest_iq_offer_message(msg, arg);
}

void rest_free(struct rest *r)
{
    if (r == NULL)
        return;
    rest_iq_shutdown(r);
    rest_send_shutdown(r);
    component_on_room(r->c, NULL, NULL);
    component_on_confirm(r->c, NULL, NULL);
    /* Requests still unanswered outlive us in httpd: forget their keys. */
    rest_idem_shutdown(r);
    idempotency_free(r->idem);
    free(r);
}
