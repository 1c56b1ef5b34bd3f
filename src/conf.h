/* SPDX-License-Identifier: MIT */
/* conf.h: the strict INI configuration parser and the immutable settings. */
#ifndef RESTANZA_CONF_H
#define RESTANZA_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "log.h"

#define CONF_DEFAULT_PATH SYSCONFDIR "/restanza/restanza.conf"

/*
 * Upper bound of http.max_connections. Only libstrophe's socket must stay
 * below FD_SETSIZE (component.c keeps a low descriptor for it); everything
 * else is limited by RLIMIT_NOFILE, which main.c raises to its hard limit.
 */
#define CONF_MAX_CONNECTIONS 1000000

/* webhook.content_type */
enum conf_content_type {
    CONF_CONTENT_XML, /* application/xmpp+xml */
    CONF_CONTENT_JSON /* application/json */
};

/* roster.writer */
enum conf_writer {
    CONF_WRITER_AUTO,
    CONF_WRITER_PRIVILEGE,
    CONF_WRITER_API, /* ejabberd-api */
    CONF_WRITER_NONE,
};

/* Keys whose value is yes or no. */
enum conf_yes_no {
    CONF_NO,
    CONF_YES,
};

/* store.sync */
enum conf_sync {
    CONF_SYNC_NORMAL,
    CONF_SYNC_FULL,
};

/* Bits of webhook.stanzas and of webhook.events. */
#define CONF_KIND_MESSAGE 1u
#define CONF_KIND_PRESENCE 2u
#define CONF_KIND_IQ 4u
#define CONF_EVENT_BARE 1u
#define CONF_EVENT_FULL 2u
#define CONF_EVENT_HOST 4u

/* A REST bearer token and the JID pattern that limits its `from`. */
struct conf_token {
    char *token;
    /* NULL: any JID of component.jid (and, through XEP-0356, any user of
     * server.domain); else parts present must match (mod_rest's rule). */
    char *pattern;
};

/* Every value is owned by struct conf and freed by conf_free(). */
struct conf {
    char *path;
    struct {
        char *domain; /* the XMPP host whose users we serve */
        char *host;   /* where the component port listens */
        unsigned port;
    } server;
    struct {
        char *jid;          /* the component's domain */
        char *secret;       /* inline or read from secret_file */
        unsigned keepalive; /* seconds between pings */
        /* Bytes of serialized XML a stanza may have (the server's limit). */
        size_t max_stanza_size;
        /* Bytes of stanzas waiting to be written (and, for REST sends,
         * to be confirmed by the server) before sends are held. */
        size_t queue_max;
    } component;
    struct {
        char *listen_host; /* numeric IPv4 or IPv6 address, no brackets */
        unsigned listen_port;
        bool listen_loopback; /* listen_host is 127.0.0.0/8 or ::1 */
        char *tls_cert;       /* PEM file paths, both or neither */
        char *tls_key;
        char *admin_token; /* bearer for /status and /metrics, or NULL */
        size_t max_body;
        unsigned max_connections;
        unsigned timeout; /* idle connection timeout, seconds */
        /* Seconds a request header may take to arrive, counted from the
         * connection (or, on a kept-alive one, from the end of the idle
         * timeout after the previous answer). */
        unsigned header_timeout;
        unsigned body_timeout; /* seconds from header to the body's end */
    } http;
    struct {
        char *tokens_text; /* inline value or tokens_file content, as read */
        struct conf_token *tokens; /* parsed from tokens_text */
        size_t ntokens;
        unsigned iq_timeout;     /* seconds */
        unsigned iq_max_timeout; /* seconds; caps the request headers */
        unsigned queue_wait;     /* seconds a send waits for queue room */
    } rest;
    struct {
        char *url; /* NULL: no webhook; may hold {kind} {type}... */
        enum conf_content_type content_type;
        unsigned stanzas; /* CONF_KIND_* bits */
        unsigned events;  /* CONF_EVENT_* bits */
        unsigned timeout; /* seconds per request */
        unsigned concurrency;
        unsigned queue_max;
        char *secret; /* HMAC-SHA256 key for X-Restanza-Signature, or NULL */
        unsigned retry_for; /* seconds a delivery is retried (with a store) */
    } webhook;
    struct {
        char *url;        /* NULL: no roster feature; holds one %s (username) */
        char *token;      /* bearer for /roster_admin/refresh, or NULL */
        unsigned timeout; /* seconds per fetch */
        unsigned concurrency; /* parallel fetches */
        enum conf_writer writer;
        char *api_url; /* ejabberd mod_http_api base URL */
        char *api_user;
        char *api_password;
        unsigned min_interval; /* seconds between login syncs of a user */
    } roster;
    struct {
        char *rooms; /* comma list of room@service[/nick], or NULL */
        char *nick;  /* default nickname in rooms */
        enum conf_yes_no accept_invites; /* join the rooms we are invited to */
    } muc;
    struct {
        enum log_level level;
    } log;
    struct {
        char *path; /* SQLite database, NULL for `none` */
        enum conf_sync sync;
        unsigned retention; /* seconds delivered events stay readable */
    } store;
    struct {
        char *tokens_text; /* inline value or tokens_file content, as read */
        struct conf_token *tokens; /* bearers for /events */
        size_t ntokens;
    } events;
};

/* Rooms muc.rooms may list (and the API may add); conf.c says 64. */
#define CONF_MUC_MAX_ROOMS 64

/*
 * Parse and validate the file at path. Every problem is printed to errs as
 * `path:line: message` (line 0 for problems that belong to no line, such as
 * a missing required key); all of them are reported, not only the first.
 * Returns a new conf, or NULL when there was at least one problem.
 */
struct conf *conf_load(const char *path, FILE *errs);

void conf_free(struct conf *conf);

/* The configuration file's spelling of a value. */
const char *conf_content_type_name(enum conf_content_type ct);
const char *conf_writer_name(enum conf_writer w);

/* Shortest bearer token accepted in rest.tokens. */
#define CONF_TOKEN_MIN 16

/*
 * Parse a rest.tokens list: entries separated by commas or line ends, each
 * `TOKEN [JID-PATTERN]`; blank entries and lines starting with '#' are
 * skipped. Tokens are RFC 6750 b64token characters (see conf.c), CONF_TOKEN_MIN
 * or more, unique. A pattern must be a JID of component_jid or of server_domain
 * (then without resource). 0 with *out and *n set (free with conf_tokens_free),
 * or -1 with why and *line (1-based line of the text) set.
 */
int conf_tokens_parse(const char *text, const char *server_domain,
                      const char *component_jid, struct conf_token **out,
                      size_t *n, char *why, size_t whylen, unsigned *line);
void conf_tokens_free(struct conf_token *tokens, size_t n);

#endif
