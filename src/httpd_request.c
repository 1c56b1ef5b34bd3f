/* SPDX-License-Identifier: MIT */
/* httpd_request.c: what a handler reads of an HTTP request: method, path,
 * headers, URL parameters, body, peer. */
#include "config.h"

#include "httpd.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include "httpd_internal.h"

const char *httpd_request_method(const struct httpd_request *req)
{
    return req->method;
}

const char *httpd_request_path(const struct httpd_request *req)
{
    return req->path;
}

const char *httpd_request_rest(const struct httpd_request *req)
{
    return req->rest;
}

const char *httpd_request_header(const struct httpd_request *req,
                                 const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *httpd_request_query(const struct httpd_request *req,
                                const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* Adapts httpd_query_fn to libmicrohttpd's iterator. */
struct query_walk {
    httpd_query_fn fn;
    void *arg;
};

static enum MHD_Result query_walk_one(void *cls, enum MHD_ValueKind kind,
                                      const char *key, const char *value)
{
    struct query_walk *qw = cls;

    (void)kind;
    return qw->fn(key, value, qw->arg) ? MHD_YES : MHD_NO;
}

void httpd_request_query_each(const struct httpd_request *req,
                              httpd_query_fn fn, void *arg)
{
    struct query_walk qw = {fn, arg};

    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_walk_one,
                              &qw);
}

const char *httpd_request_body(const struct httpd_request *req, size_t *len)
{
    if (len != NULL)
        *len = req->body_len;
    return req->body != NULL ? req->body : "";
}

bool httpd_request_loopback(const struct httpd_request *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&s->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr) &&
                s->sin6_addr.s6_addr[12] == 127);
    }
    return false;
}
