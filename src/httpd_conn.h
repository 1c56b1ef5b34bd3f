/* SPDX-License-Identifier: MIT */
/* httpd_conn.h: the HTTP server's connections: the listening socket, the
 * connection limit (503 and a short linger), header and body deadlines. */
#ifndef RESTANZA_HTTPD_CONN_H
#define RESTANZA_HTTPD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "httpd_internal.h"

/* The whole HTTP answer for a connection over max_connections into out;
 * its length, or 0 when it does not fit. */
size_t httpd_conn_refusal(char *out, size_t cap);

/* A non-blocking listening TCP socket on sa, or -1 with errno set. */
int httpd_conn_listen(const struct sockaddr *sa, socklen_t len);

/* The loop callback of the listening socket (arg: the struct httpd). */
void httpd_conn_on_listen(int fd, unsigned events, void *arg);

/* MHD_OPTION_NOTIFY_CONNECTION: track connections (cls: the httpd). */
void httpd_conn_on_notify(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe);

/* Our record of the connection MHD serves conn on, or NULL. */
struct httpd_conn *httpd_conn_of(struct MHD_Connection *conn);

/* Move a connection to phase, with a deadline secs from now (0: none). */
void httpd_conn_arm(struct httpd_conn *c, enum conn_phase phase, unsigned secs);

/* Close the refused sockets whose linger is over (all when `all`). */
void httpd_conn_linger_sweep(struct httpd *h, bool all);

#endif
