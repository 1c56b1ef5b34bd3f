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
 * File descriptors kept free for everything that is not an HTTP client
 * connection (XMPP socket, epoll, signalfd, webhook and roster transfers,
 * logs): libstrophe uses select(), so the process must stay under 1024 fds.
 */
#define CONF_FD_LIMIT 1024
#define CONF_FD_RESERVED 160

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
    } http;
    struct {
        enum log_level level;
    } log;
};

/*
 * Parse and validate the file at path. Every problem is printed to errs as
 * `path:line: message` (line 0 for problems that belong to no line, such as
 * a missing required key); all of them are reported, not only the first.
 * Returns a new conf, or NULL when there was at least one problem.
 */
struct conf *conf_load(const char *path, FILE *errs);

/* Same, from text in memory; name is used in messages in place of a path. */
struct conf *conf_parse(const char *text, size_t len, const char *name,
                        FILE *errs);

void conf_free(struct conf *conf);

#endif
