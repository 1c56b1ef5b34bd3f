/* SPDX-License-Identifier: MIT */
/* doctor_probe.c: the I/O of restanza --doctor: connect, collect the server's
 * advertisements, probe the web apps, then hand the facts to doctor.c. */
#include "config.h"

#include "doctor.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "component.h"
#include "conf.h"
#include "delegation.h"
#include "dispatch.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "stanza.h"
#include "strmap.h"
#include "webhook.h"
#include "xmalloc.h"

#define TICK_MS 100
/* The handshake and the advertisements must come within this. */
#define XMPP_WAIT_MS 10000
/* Advertisements are complete when nothing changed for this long. */
#define SETTLE_MS 1000
#define QUERY_TIMEOUT_MS 3000
/* Longest an HTTP probe may take, whatever the configured timeouts. */
#define HTTP_PROBE_MAX_MS 5000
/* Hard cap of the whole run (XMPP wait plus the slowest probe). */
#define RUN_CAP_MS 20000
#define STOP_CAP_MS 3000
#define PROBE_JSON_DEPTH 16

struct probe {
    struct loop *loop;
    const struct conf *conf;
    struct component *c;
    struct delegation *d;
    struct dispatch *dp;
    struct httpc *http;
    struct doctor_facts facts;
    struct loop_timer *tick;
    struct loop_timer *cap;
    uint64_t deadline;     /* loop_clock_ms() when the XMPP wait ends */
    uint64_t stable_since; /* when the advertisements last changed */
    char *fingerprint;     /* of the advertisements seen last */
    bool asked, xmpp_done, stopped;
    unsigned iq_pending; /* version and disco queries unanswered */
    unsigned http_pending;
};

/* One HTTP probe in flight. */
struct probe_http {
    struct probe *p;
    struct doctor_http *out;
};

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

static void on_http(const struct httpc_response *resp, void *arg)
{
    struct probe_http *ph = arg;
    struct doctor_http *out = ph->out;

    ph->p->http_pending--;
    if (resp->error != HTTPC_OK) {
        out->failed = true;
        copy(out->error, sizeof(out->error), resp->error_text);
    } else {
        json_object *o =
            json_parse(resp->body, resp->len, PROBE_JSON_DEPTH, NULL, 0);
        out->status = resp->status;
        copy(out->accept, sizeof(out->accept), resp->accept);
        out->body_is_object =
            o != NULL && json_object_is_type(o, json_type_object);
        json_object_put(o);
    }
    free(ph);
}

/* Start one probe whose outcome lands in out. */
static void http_start(struct probe *p, struct doctor_http *out,
                       const struct httpc_request *req)
{
    struct probe_http *ph = xcalloc(1, sizeof(*ph));

    ph->p = p;
    ph->out = out;
    out->ran = true;
    if (httpc_start(p->http, req, on_http, ph) == NULL) {
        out->failed = true;
        copy(out->error, sizeof(out->error), "cannot start the request");
        free(ph);
        return;
    }
    p->http_pending++;
}

static unsigned probe_timeout(unsigned seconds)
{
    unsigned ms = seconds * 1000;
    return ms < HTTP_PROBE_MAX_MS ? ms : HTTP_PROBE_MAX_MS;
}

/* roster.url with %s replaced by the probe user. */
static char *roster_probe_url(const char *tmpl)
{
    const char *s = strstr(tmpl, "%s");

    if (s == NULL)
        return xstrdup(tmpl);
    return xasprintf("%.*s%s%s", (int)(s - tmpl), tmpl, DOCTOR_PROBE_USER,
                     s + 2);
}

/* POST api_url/get_roster as roster.api_user, for the API user itself. */
static void probe_api(struct probe *p)
{
    const struct conf *conf = p->conf;
    xmpp_ctx_t *ctx = component_ctx(p->c);
    char *cred =
        xasprintf("%s:%s", conf->roster.api_user, conf->roster.api_password);
    char *b64 =
        xmpp_base64_encode(ctx, (const unsigned char *)cred, strlen(cred));
    char *auth = xasprintf("Authorization: Basic %s", b64);
    const char *at = strchr(conf->roster.api_user, '@');
    int ulen = at != NULL ? (int)(at - conf->roster.api_user)
                          : (int)strlen(conf->roster.api_user);
    char *body = xasprintf("{\"user\":\"%.*s\",\"host\":\"%s\"}", ulen,
                           conf->roster.api_user, conf->server.domain);
    char *url = xasprintf(
        "%s%sget_roster", conf->roster.api_url,
        conf->roster.api_url[strlen(conf->roster.api_url) - 1] == '/' ? ""
                                                                      : "/");
    const char *headers[] = {"Content-Type: application/json",
                             "Accept: application/json", auth, NULL};
    struct httpc_request req = {.method = "POST",
                                .url = url,
                                .headers = headers,
                                .body = body,
                                .body_len = strlen(body),
                                .timeout_ms = HTTP_PROBE_MAX_MS};

    http_start(p, &p->facts.api, &req);
    free(url);
    free(body);
    free(auth);
    xmpp_free(ctx, b64);
    free(cred);
}

/* Start the webhook, roster app and ejabberd API probes that apply. */
static void probe_http_all(struct probe *p)
{
    const struct conf *conf = p->conf;

    if (conf->webhook.url != NULL) {
        const char *jid = conf->component.jid;
        char *url =
            webhook_expand_url(conf->webhook.url, "meta", "info", jid, jid);
        struct httpc_request req = {.method = "OPTIONS",
                                    .url = url,
                                    .timeout_ms =
                                        probe_timeout(conf->webhook.timeout),
                                    .max_response = 64 * 1024};
        http_start(p, &p->facts.webhook, &req);
        free(url);
    }
    if (conf->roster.url != NULL) {
        char *url = roster_probe_url(conf->roster.url);
        const char *headers[] = {"Accept: application/json", NULL};
        struct httpc_request req = {.url = url,
                                    .headers = headers,
                                    .timeout_ms =
                                        probe_timeout(conf->roster.timeout)};
        http_start(p, &p->facts.roster_app, &req);
        free(url);
    }
    if (conf->roster.writer == CONF_WRITER_API &&
        conf->roster.api_url != NULL && conf->roster.api_user != NULL &&
        conf->roster.api_password != NULL)
        probe_api(p);
}

/* The <query xmlns=ns/> of a result, or NULL. */
static xmpp_stanza_t *result_query(enum iq_outcome o, xmpp_stanza_t *reply,
                                   const char *ns)
{
    const char *type = o == IQ_REPLY ? stanza_attr(reply, ATTR_TYPE) : NULL;

    if (type == NULL || strcmp(type, "result") != 0)
        return NULL;
    return stanza_child(reply, EL_QUERY, ns);
}

/* disco#info of the server: its server identity's name (Prosody and
 * ejabberd both name themselves there) when XEP-0092 is not loaded. */
static void on_disco(enum iq_outcome o, xmpp_stanza_t *reply, void *arg)
{
    struct probe *p = arg;
    xmpp_stanza_t *q = result_query(o, reply, NS_DISCO_INFO);

    p->iq_pending--;
    for (xmpp_stanza_t *c = q != NULL ? xmpp_stanza_get_children(q) : NULL;
         c != NULL; c = xmpp_stanza_get_next(c)) {
        const char *cat = stanza_attr(c, ATTR_CATEGORY);
        const char *name = stanza_attr(c, EL_NAME);
        if (stanza_is(c, EL_IDENTITY) && cat != NULL &&
            strcmp(cat, "server") == 0 && name != NULL &&
            p->facts.software[0] == '\0')
            copy(p->facts.software, sizeof(p->facts.software), name);
    }
}

static void on_version(enum iq_outcome o, xmpp_stanza_t *reply, void *arg)
{
    struct probe *p = arg;
    xmpp_stanza_t *q = result_query(o, reply, NS_VERSION);

    p->iq_pending--;
    if (q == NULL)
        return;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(q); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        char *text = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_text(c) : NULL;
        if (stanza_is(c, EL_NAME))
            copy(p->facts.software, sizeof(p->facts.software), text);
        else if (stanza_is(c, EL_VERSION))
            copy(p->facts.version, sizeof(p->facts.version), text);
        if (text != NULL)
            xmpp_free(component_ctx(p->c), text);
    }
}

/* Send a <query xmlns=ns/> get to server.domain, answered to cb. */
static void ask(struct probe *p, const char *ns, iq_cb cb)
{
    xmpp_stanza_t *iq =
        stanza_iq(component_ctx(p->c), "get", NULL, p->conf->component.jid,
                  p->conf->server.domain);

    stanza_add_element(iq, EL_QUERY, ns);
    if (component_send_iq(p->c, iq, QUERY_TIMEOUT_MS, cb, p) == 0)
        p->iq_pending++;
    xmpp_stanza_release(iq);
}

/* A text that changes whenever an advertisement changes something. */
static char *fingerprint(const struct delegation *d)
{
    const char **servers = delegation_servers(d);
    char *buf = xstrdup("");

    for (const char **s = servers; *s != NULL; s++) {
        const struct strmap *maps[] = {delegation_namespaces(d, *s),
                                       delegation_privileges(d, *s)};
        for (size_t m = 0; m < 2; m++) {
            const char **keys = strmap_sorted_keys(maps[m]);
            for (const char **k = keys; *k != NULL; k++) {
                const char *v = m == 1 ? strmap_get(maps[m], *k) : "";
                char *next = xasprintf("%s%s|%s=%s;", buf, *s, *k, v);
                free(buf);
                buf = next;
            }
            free(keys);
        }
    }
    free(servers);
    return buf;
}

/* Advance the XMPP part: handshake, version round trip, settled adverts. */
static void xmpp_step(struct probe *p, uint64_t now)
{
    enum component_state state = component_state(p->c);
    const char *err = component_last_error(p->c);
    char *fp;

    if (state != COMPONENT_CONNECTED) {
        if (err != NULL || now >= p->deadline) {
            /* Refused, failed, or dropped after the handshake. */
            p->facts.connected = false;
            copy(p->facts.last_error, sizeof(p->facts.last_error), err);
            p->xmpp_done = true;
        }
        return;
    }
    p->facts.connected = true;
    if (!p->asked) {
        /* XEP-0092 and disco#info name the software (for its quirks); the
         * answers are also a round trip after the advertisements. */
        p->asked = true;
        ask(p, NS_VERSION, on_version);
        ask(p, NS_DISCO_INFO, on_disco);
    }
    fp = fingerprint(p->d);
    if (p->fingerprint == NULL || strcmp(fp, p->fingerprint) != 0) {
        free(p->fingerprint);
        p->fingerprint = fp;
        p->stable_since = now;
    } else
        free(fp);
    if ((p->iq_pending == 0 && now - p->stable_since >= SETTLE_MS) ||
        now >= p->deadline)
        p->xmpp_done = true;
}

static void probe_on_tick(void *arg)
{
    struct probe *p = arg;

    p->tick = NULL;
    if (!p->xmpp_done)
        xmpp_step(p, loop_clock_ms());
    if (p->xmpp_done && p->http_pending == 0) {
        loop_quit(p->loop);
        return;
    }
    p->tick = loop_timer_add(p->loop, TICK_MS, probe_on_tick, p);
}

static void on_cap(void *arg)
{
    struct probe *p = arg;

    p->cap = NULL;
    log_warn("doctor: giving up waiting", "ms=%d", RUN_CAP_MS);
    loop_quit(p->loop);
}

static void probe_on_stopped(void *arg)
{
    struct probe *p = arg;

    p->stopped = true;
    loop_quit(p->loop);
}

/* Record the advertisements of server.domain and print the checklist. */
static int probe_report(struct probe *p)
{
    const char *domain = p->conf->server.domain;
    struct doctor_report *r;
    int rc;

    copy(p->facts.server, sizeof(p->facts.server), component_server(p->c));
    copy(p->facts.priv_ns, sizeof(p->facts.priv_ns),
         delegation_privilege_ns(p->d, domain));
    p->facts.privileges = delegation_privileges(p->d, domain);
    p->facts.namespaces = delegation_namespaces(p->d, domain);
    r = doctor_check(p->conf, &p->facts);
    printf("restanza doctor: %s\n", p->conf->path);
    doctor_print(r, stdout);
    fflush(stdout);
    rc = doctor_count(r, DOCTOR_FAIL) > 0 ? 1 : 0;
    doctor_free(r);
    return rc;
}

/* Close the stream cleanly (bounded), then free everything. */
static void teardown(struct probe *p)
{
    loop_timer_cancel(p->loop, p->tick);
    loop_timer_cancel(p->loop, p->cap);
    p->tick = NULL;
    component_stop(p->c, probe_on_stopped, p);
    if (!p->stopped) {
        p->cap = loop_timer_add(p->loop, STOP_CAP_MS, on_cap, p);
        loop_run(p->loop);
        loop_timer_cancel(p->loop, p->cap);
    }
    httpc_free(p->http);
    dispatch_free(p->dp);
    component_free(p->c);
    delegation_free(p->d);
    loop_free(p->loop);
    free(p->fingerprint);
}

int doctor_run(const struct conf *conf)
{
    struct probe p = {.conf = conf};
    int rc = 2;

    p.loop = loop_new();
    if (p.loop == NULL)
        return 2;
    p.c = component_new(p.loop, conf);
    p.d = delegation_new();
    /* dispatch records the advertisements and answers the server's disco
     * queries (ejabberd activates a delegation only after that). */
    p.dp = dispatch_new(p.c, p.d, conf);
    p.http = httpc_new(p.loop, 4);
    p.deadline = loop_clock_ms() + XMPP_WAIT_MS;
    component_start(p.c);
    probe_http_all(&p);
    p.tick = loop_timer_add(p.loop, TICK_MS, probe_on_tick, &p);
    p.cap = loop_timer_add(p.loop, RUN_CAP_MS, on_cap, &p);
    if (loop_run(p.loop) == 0)
        rc = probe_report(&p);
    teardown(&p);
    json_parse_release();
    return rc;
}
