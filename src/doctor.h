/* SPDX-License-Identifier: MIT */
/* doctor.h: restanza --doctor: what the server granted vs what the
 * configuration needs, as an OK/WARN/FAIL checklist. */
#ifndef RESTANZA_DOCTOR_H
#define RESTANZA_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "conf.h"

struct conf;
struct strmap;

enum doctor_level {
    DOCTOR_OK,
    DOCTOR_WARN,
    DOCTOR_FAIL,
};

/* The XMPP server software, as far as the doctor could tell. */
enum doctor_server {
    DOCTOR_SERVER_UNKNOWN,
    DOCTOR_SERVER_PROSODY,
    DOCTOR_SERVER_EJABBERD,
};

/* What one HTTP probe saw. */
struct doctor_http {
    bool ran;            /* false: not configured, not probed */
    bool failed;         /* no HTTP response (connect, timeout, ...) */
    char error[160];     /* why, when failed */
    long status;         /* HTTP status of the response */
    char accept[160];    /* the response's Accept header, or "" */
    bool body_is_object; /* the body parsed as a JSON object */
};

/*
 * Everything the probe learnt; the checks read only this and the conf.
 * The maps are borrowed and may be NULL (nothing advertised).
 */
struct doctor_facts {
    bool connected;       /* the handshake succeeded */
    char last_error[256]; /* component_last_error() when not connected */
    char server[160];     /* server.host:server.port */
    char software[64];    /* XEP-0092 name of server.domain, or "" */
    char version[64];     /* XEP-0092 version, or "" */
    char priv_ns[64];     /* namespace of the privilege advert, or "" */
    const struct strmap *privileges; /* access -> type ("iq:<ns>" too) */
    const struct strmap *namespaces; /* delegated namespaces (set) */
    struct doctor_http webhook;      /* OPTIONS webhook.url */
    struct doctor_http roster_app;   /* GET roster.url for DOCTOR_PROBE_USER */
    struct doctor_http api;          /* POST api_url/get_roster */
};

/* The username put in roster.url's %s for the reachability probe. */
#define DOCTOR_PROBE_USER "restanza-doctor"

/* One line of the checklist; strings owned by the report. */
struct doctor_line {
    enum doctor_level level;
    char *check; /* short name: "handshake", "privilege roster", ... */
    char *text;  /* what was found */
    char *fix;   /* what to change, or NULL */
};

struct doctor_report {
    struct doctor_line *lines;
    size_t n;
};

/* Which server software the facts point to (XEP-0092 name, else the
 * privilege namespace generation: only ejabberd uses :1). */
enum doctor_server doctor_server_kind(const struct doctor_facts *f);

/*
 * The roster writer the configuration resolves to with these grants:
 * privilege, ejabberd-api or none (as roster.c decides for auto).
 */
enum conf_writer doctor_effective_writer(const struct conf *conf,
                                         const struct doctor_facts *f);

/* Run every check; the returned report is the caller's (doctor_free). */
struct doctor_report *doctor_check(const struct conf *conf,
                                   const struct doctor_facts *f);
void doctor_free(struct doctor_report *r);

/* Lines with this level. */
size_t doctor_count(const struct doctor_report *r, enum doctor_level level);

/* Print the checklist and a summary line to out. */
void doctor_print(const struct doctor_report *r, FILE *out);

/*
 * restanza --doctor: connect with conf, wait (at most about 10 s) for the
 * handshake and the server's advertisements, probe the webhook, the roster
 * app and the ejabberd API, print the checklist to stdout. Returns the
 * exit status: 0 when no line is FAIL, 1 otherwise, 2 on a local failure.
 * Implemented in doctor_probe.c (the I/O glue).
 */
int doctor_run(const struct conf *conf);

#endif
