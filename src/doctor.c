/* SPDX-License-Identifier: MIT */
/* doctor.c: the --doctor checklist: grants and reachability vs configuration
 * (pure: facts in, lines out). */
#include "config.h"

#include "doctor.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "strmap.h"
#include "xmalloc.h"

#define NS_ROSTER_DLG "jabber:iq:roster"
#define NS_MAM_IQ "iq:urn:xmpp:mam:2"

/* Append a line; fix may be NULL. Texts are printf formats. */
static void add(struct doctor_report *r, enum doctor_level level,
                const char *check, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add(struct doctor_report *r, enum doctor_level level,
                const char *check, const char *fix, const char *fmt, ...)
{
    struct doctor_line *l;
    va_list ap;

    r->lines = xrealloc(r->lines, (r->n + 1) * sizeof(*r->lines));
    l = &r->lines[r->n++];
    l->level = level;
    l->check = xstrdup(check);
    va_start(ap, fmt);
    if (vasprintf(&l->text, fmt, ap) < 0)
        l->text = xstrdup(check);
    va_end(ap);
    l->fix = fix != NULL ? xstrdup(fix) : NULL;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *priv(const struct doctor_facts *f, const char *access)
{
    return f->privileges != NULL ? strmap_get(f->privileges, access) : NULL;
}

static bool doctor_delegated(const struct doctor_facts *f, const char *ns)
{
    return f->namespaces != NULL && strmap_get(f->namespaces, ns) != NULL;
}

enum doctor_server doctor_server_kind(const struct doctor_facts *f)
{
    if (strcasecmp(f->software, "ejabberd") == 0)
        return DOCTOR_SERVER_EJABBERD;
    if (strcasecmp(f->software, "prosody") == 0)
        return DOCTOR_SERVER_PROSODY;
    if (strcmp(f->priv_ns, "urn:xmpp:privilege:1") == 0)
        return DOCTOR_SERVER_EJABBERD;
    if (strcmp(f->priv_ns, "urn:xmpp:privilege:2") == 0)
        return DOCTOR_SERVER_PROSODY;
    return DOCTOR_SERVER_UNKNOWN;
}

enum conf_writer doctor_effective_writer(const struct conf *conf,
                                         const struct doctor_facts *f)
{
    const char *p;

    if (conf->roster.writer != CONF_WRITER_AUTO)
        return conf->roster.writer;
    p = priv(f, "roster");
    if (p != NULL && (strcmp(p, "set") == 0 || strcmp(p, "both") == 0))
        return CONF_WRITER_PRIVILEGE;
    return CONF_WRITER_NONE;
}

/* The handshake line, with the fix for each failure restanza reports. */
static void check_handshake(struct doctor_report *r, const struct conf *conf,
                            const struct doctor_facts *f)
{
    const char *e = f->last_error;
    const char *fix;

    if (f->connected) {
        add(r, DOCTOR_OK, "handshake", NULL, "connected to %s as %s", f->server,
            conf->component.jid);
        return;
    }
    if (starts(e, "not-authorized"))
        fix = "component.secret must equal the server's secret (Prosody: "
              "component_secret; ejabberd: the listener's hosts password), "
              "and on ejabberd component.jid must be a key of that hosts map";
    else if (starts(e, "host-unknown"))
        fix = "the server has no component named component.jid: add a "
              "Component section (Prosody) or a hosts entry (ejabberd)";
    else if (starts(e, "conflict"))
        fix = "another connection holds this component (a running "
              "restanza?): stop it before running --doctor";
    else if (starts(e, "connection failed"))
        fix = "nothing accepted the connection: check server.host and "
              "server.port against the server's component port "
              "(Prosody: component_ports; ejabberd: ejabberd_service)";
    else
        fix = "see the server's log for why it closed the stream";
    add(r, DOCTOR_FAIL, "handshake", fix, "no stream to %s: %s", f->server,
        e[0] != '\0' ? e : "no answer within the wait");
}

static void check_server(struct doctor_report *r, const struct doctor_facts *f)
{
    static const char *const names[] = {"unknown", "Prosody", "ejabberd"};
    enum doctor_server kind = doctor_server_kind(f);

    add(r, DOCTOR_OK, "server", NULL, "%s%s%s (software %s, privilege ns %s)",
        names[kind], f->version[0] != '\0' ? " " : "", f->version,
        f->software[0] != '\0' ? f->software : "not told (XEP-0092)",
        f->priv_ns[0] != '\0' ? f->priv_ns : "none advertised");
}

/* The roster privilege vs roster.writer (and what auto resolves to). */
static void check_roster_privilege(struct doctor_report *r,
                                   const struct conf *conf,
                                   const struct doctor_facts *f)
{
    const char *p = priv(f, "roster");
    enum conf_writer w = conf->roster.writer;
    bool both = p != NULL && strcmp(p, "both") == 0;
    const char *fix = "grant roster \"both\" (Prosody: privileged_entities; "
                      "ejabberd: mod_privilege roster: both)";
    const char *shown = p != NULL ? p : "not granted";

    if (conf->roster.url == NULL || w == CONF_WRITER_API ||
        w == CONF_WRITER_NONE) {
        add(r, DOCTOR_OK, "privilege roster", NULL,
            "%s; not needed (roster.url %s, roster.writer = %s)", shown,
            conf->roster.url != NULL ? "set" : "unset", conf_writer_name(w));
        return;
    }
    if (both) {
        add(r, DOCTOR_OK, "privilege roster", NULL,
            "both; roster.writer = %s writes through privileged roster "
            "get/set",
            conf_writer_name(w));
        return;
    }
    if (w == CONF_WRITER_PRIVILEGE)
        add(r, DOCTOR_FAIL, "privilege roster", fix,
            "%s; roster.writer = privilege reads (get) and writes (set) "
            "rosters and needs both",
            shown);
    else if (doctor_effective_writer(conf, f) == CONF_WRITER_NONE)
        add(r, DOCTOR_WARN, "privilege roster",
            "grant roster \"both\", or on ejabberd set roster.writer = "
            "ejabberd-api",
            "%s; roster.writer = auto resolves to none: rosters are fetched "
            "but never written into the server",
            shown);
    else
        add(r, DOCTOR_FAIL, "privilege roster", fix,
            "%s; roster.writer = auto uses privileged sets, but reading the "
            "server's roster needs get too",
            shown);
}

/* Known server bugs that the configured features run into. */
static void check_quirks(struct doctor_report *r, const struct conf *conf,
                         const struct doctor_facts *f)
{
    enum doctor_server kind = doctor_server_kind(f);
    enum conf_writer writer = doctor_effective_writer(conf, f);
    bool v2301 = f->version[0] == '\0' || starts(f->version, "23.01");

    if (kind == DOCTOR_SERVER_EJABBERD && conf->roster.url != NULL &&
        writer == CONF_WRITER_PRIVILEGE)
        add(r, v2301 ? DOCTOR_FAIL : DOCTOR_WARN, "quirk ejabberd roster",
            "set roster.writer = ejabberd-api with roster.api_url, "
            "roster.api_user and roster.api_password (mod_http_api)",
            "ejabberd %s: 23.01 answers privileged roster sets with "
            "internal-server-error, and roster.writer resolves to privilege",
            f->version[0] != '\0' ? f->version : "(version not told)");
    if (kind == DOCTOR_SERVER_PROSODY && doctor_delegated(f, NS_ROSTER_DLG))
        add(r, DOCTOR_WARN, "quirk prosody roster delegation",
            "remove jabber:iq:roster from the VirtualHost's delegations and "
            "let restanza synchronise rosters (doc/rosters.md)",
            "jabber:iq:roster is delegated: Prosody then stops sending "
            "roster pushes to clients");
    if (kind == DOCTOR_SERVER_PROSODY && priv(f, NS_MAM_IQ) != NULL)
        add(r, DOCTOR_WARN, "quirk prosody mam",
            "apply contrib/prosody/mod_privilege-iq-results.patch to "
            "mod_privilege (doc/servers.md)",
            "IQ permission for urn:xmpp:mam:2 is granted, but Debian's "
            "mod_privilege fails privileged MAM queries with "
            "internal-server-error as soon as a result is sent "
            "(GET /rest/archive/{user} answers 502)");
}

/* True when a rest.tokens pattern names a user (or all users) of the host:
 * such a token exists to send as that user. */
static bool send_as_user_configured(const struct conf *conf)
{
    size_t dl = strlen(conf->server.domain);

    for (size_t i = 0; i < conf->rest.ntokens; i++) {
        const char *p = conf->rest.tokens[i].pattern;
        const char *at = p != NULL ? strchr(p, '@') : NULL;
        const char *dom = at != NULL ? at + 1 : p;
        if (dom != NULL && strncasecmp(dom, conf->server.domain, dl) == 0 &&
            (dom[dl] == '\0' || dom[dl] == '/'))
            return true;
    }
    return false;
}

static void check_message_privilege(struct doctor_report *r,
                                    const struct conf *conf,
                                    const struct doctor_facts *f)
{
    const char *p = priv(f, "message");
    bool needed = send_as_user_configured(conf);

    if (p != NULL)
        add(r, DOCTOR_OK, "privilege message", NULL,
            "%s; POST /rest may send as users of %s", p, conf->server.domain);
    else if (needed)
        add(r, DOCTOR_FAIL, "privilege message",
            "grant message \"outgoing\" (Prosody: privileged_entities; "
            "ejabberd: mod_privilege message: outgoing)",
            "not granted, but a rest.tokens pattern sends as a user of %s "
            "(such requests get 403)",
            conf->server.domain);
    else
        add(r, DOCTOR_OK, "privilege message", NULL,
            "not granted; not needed (no rest.tokens pattern names a user of "
            "%s; sending as a user gets 403)",
            conf->server.domain);
}

static void check_presence_privilege(struct doctor_report *r,
                                     const struct conf *conf,
                                     const struct doctor_facts *f)
{
    const char *p = priv(f, "presence");
    bool needed = conf->roster.url != NULL &&
                  doctor_effective_writer(conf, f) != CONF_WRITER_NONE;

    if (p != NULL)
        add(r, DOCTOR_OK, "privilege presence", NULL,
            "%s; logins trigger roster syncs", p);
    else if (needed)
        add(r, DOCTOR_WARN, "privilege presence",
            "grant presence \"managed_entity\" (Prosody: "
            "privileged_entities; ejabberd: mod_privilege presence)",
            "not granted: rosters are synchronised only by POST "
            "/roster_admin/refresh, not at login");
    else
        add(r, DOCTOR_OK, "privilege presence", NULL,
            "not granted; not needed (no roster writing)");
}

static void check_mam_permission(struct doctor_report *r,
                                 const struct doctor_facts *f)
{
    const char *p = priv(f, NS_MAM_IQ);

    if (p != NULL)
        add(r, DOCTOR_OK, "privilege iq mam", NULL,
            "urn:xmpp:mam:2 %s granted; GET /rest/archive/{user} reads "
            "users' archives",
            p);
    else
        add(r, DOCTOR_OK, "privilege iq mam", NULL,
            "urn:xmpp:mam:2 not granted; GET /rest/archive/{user} answers "
            "403 (Prosody: iq = { [\"urn:xmpp:mam:2\"] = \"set\" } in "
            "privileged_entities; ejabberd 23.01 cannot grant it)");
}

/* Each delegated namespace needs the feature that serves it. */
static void check_delegations(struct doctor_report *r, const struct conf *conf,
                              const struct doctor_facts *f)
{
    const char **keys;
    size_t n = f->namespaces != NULL ? strmap_count(f->namespaces) : 0;

    if (n == 0) {
        add(r, DOCTOR_OK, "delegations", NULL, "none delegated");
        return;
    }
    keys = strmap_sorted_keys(f->namespaces);
    for (const char **k = keys; *k != NULL; k++) {
        if (strcmp(*k, NS_ROSTER_DLG) == 0 && conf->roster.url == NULL)
            add(r, DOCTOR_FAIL, "delegation",
                "set roster.url, or stop "
                "delegating jabber:iq:roster",
                "%s is delegated but roster.url is unset: users' roster "
                "requests fail",
                *k);
        else if (strcmp(*k, NS_ROSTER_DLG) == 0)
            add(r, DOCTOR_OK, "delegation", NULL, "%s served from roster.url",
                *k);
        else if (conf->webhook.url == NULL)
            add(r, DOCTOR_FAIL, "delegation",
                "set webhook.url, or stop "
                "delegating the namespace",
                "%s is delegated but webhook.url is unset: its IQs are "
                "answered feature-not-implemented",
                *k);
        else
            add(r, DOCTOR_OK, "delegation", NULL, "%s served by the webhook",
                *k);
    }
    free(keys);
}

/* The OPTIONS probe of webhook.url. */
static void check_webhook(struct doctor_report *r, const struct conf *conf,
                          const struct doctor_facts *f)
{
    const struct doctor_http *h = &f->webhook;

    if (!h->ran) {
        add(r, DOCTOR_OK, "webhook", NULL,
            "webhook.url unset: stanzas to the component are not delivered");
        return;
    }
    if (h->failed)
        add(r, DOCTOR_FAIL, "webhook",
            "start the web app or correct webhook.url", "OPTIONS %s: %s",
            conf->webhook.url, h->error);
    else if (h->status >= 500)
        add(r, DOCTOR_WARN, "webhook", "see the web app's log",
            "OPTIONS %s: HTTP %ld", conf->webhook.url, h->status);
    else
        add(r, DOCTOR_OK, "webhook", NULL, "OPTIONS %s: HTTP %ld%s%s",
            conf->webhook.url, h->status, h->accept[0] ? ", Accept: " : "",
            h->accept);
}

/* The GET of roster.url for a probe user. */
static void check_roster_app(struct doctor_report *r, const struct conf *conf,
                             const struct doctor_facts *f)
{
    const struct doctor_http *h = &f->roster_app;
    const char *what = "roster app";

    if (!h->ran)
        return;
    if (h->failed)
        add(r, DOCTOR_FAIL, what, "start the web app or correct roster.url",
            "GET %s (user %s): %s", conf->roster.url, DOCTOR_PROBE_USER,
            h->error);
    else if (h->status == 200 && !h->body_is_object)
        add(r, DOCTOR_FAIL, what,
            "the app must answer a JSON object {\"jid\": {...}} "
            "(doc/rosters.md)",
            "GET %s (user %s): 200 but the body is not a JSON object",
            conf->roster.url, DOCTOR_PROBE_USER);
    else if (h->status == 401 || h->status == 403)
        add(r, DOCTOR_FAIL, what,
            "restanza sends no credentials to roster.url: let it through "
            "(e.g. by source address)",
            "GET %s: HTTP %ld", conf->roster.url, h->status);
    else if (h->status == 200 || h->status == 404)
        add(r, DOCTOR_OK, what, NULL, "GET %s (user %s): HTTP %ld",
            conf->roster.url, DOCTOR_PROBE_USER, h->status);
    else
        add(r, DOCTOR_WARN, what, "see the web app's log",
            "GET %s (user %s): HTTP %ld", conf->roster.url, DOCTOR_PROBE_USER,
            h->status);
}

/* The ejabberd API call made with roster.api_* credentials. */
static void check_api(struct doctor_report *r, const struct conf *conf,
                      const struct doctor_facts *f)
{
    const struct doctor_http *h = &f->api;
    const char *what = "ejabberd api";

    if (!h->ran)
        return;
    if (h->failed)
        add(r, DOCTOR_FAIL, what,
            "correct roster.api_url (ejabberd_http with /api: mod_http_api)",
            "POST %s/get_roster: %s", conf->roster.api_url, h->error);
    else if (h->status == 401 || h->status == 403)
        add(r, DOCTOR_FAIL, what,
            "check roster.api_user/api_password and ejabberd's "
            "api_permissions for get_roster, add_rosteritem, "
            "delete_rosteritem",
            "POST %s/get_roster: HTTP %ld (credentials refused)",
            conf->roster.api_url, h->status);
    else if (h->status == 200)
        add(r, DOCTOR_OK, what, NULL, "POST %s/get_roster: HTTP 200",
            conf->roster.api_url);
    else
        add(r, DOCTOR_FAIL, what,
            "enable mod_admin_extra and mod_http_api; check roster.api_url",
            "POST %s/get_roster: HTTP %ld", conf->roster.api_url, h->status);
}

struct doctor_report *doctor_check(const struct conf *conf,
                                   const struct doctor_facts *f)
{
    struct doctor_report *r = xcalloc(1, sizeof(*r));

    check_handshake(r, conf, f);
    if (f->connected) {
        check_server(r, f);
        check_roster_privilege(r, conf, f);
        check_message_privilege(r, conf, f);
        check_presence_privilege(r, conf, f);
        check_mam_permission(r, f);
        check_delegations(r, conf, f);
        check_quirks(r, conf, f);
    }
    check_webhook(r, conf, f);
    check_roster_app(r, conf, f);
    check_api(r, conf, f);
    return r;
}

void doctor_free(struct doctor_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->lines[i].check);
        free(r->lines[i].text);
        free(r->lines[i].fix);
    }
    free(r->lines);
    free(r);
}

size_t doctor_count(const struct doctor_report *r, enum doctor_level level)
{
    size_t n = 0;

    for (size_t i = 0; i < r->n; i++)
        n += r->lines[i].level == level;
    return n;
}

void doctor_print(const struct doctor_report *r, FILE *out)
{
    static const char *const names[] = {"OK", "WARN", "FAIL"};

    for (size_t i = 0; i < r->n; i++) {
        const struct doctor_line *l = &r->lines[i];
        fprintf(out, "%-4s  %s: %s\n", names[l->level], l->check, l->text);
        if (l->fix != NULL)
            fprintf(out, "      fix: %s\n", l->fix);
    }
    fprintf(out, "%zu OK, %zu WARN, %zu FAIL\n", doctor_count(r, DOCTOR_OK),
            doctor_count(r, DOCTOR_WARN), doctor_count(r, DOCTOR_FAIL));
}
