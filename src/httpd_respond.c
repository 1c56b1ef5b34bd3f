/* SPDX-License-Identifier: MIT */
/* httpd_respond.c: answering an HTTP request: headers, bodies, the JSON
 * error shape, parking until the answer, handing it to libmicrohttpd. */
#include "config.h"

#include "httpd_respond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd_internal.h"
#include "json.h"
#include "log.h"
#include "xmalloc.h"

/* The JSON error shape of the REST API into out; its length, or 0. */
size_t httpd_respond_error_body(char *out, size_t cap, unsigned status,
                                const char *type, const char *condition,
                                const char *esc_text)
{
    int n = snprintf(out, cap,
                     "{\"type\":\"error\",\"error\":{\"type\":\"%s\","
                     "\"condition\":\"%s\",\"text\":\"%s\"},\"code\":%u}\n",
                     type, condition, esc_text, status);

    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void httpd_respond_unpark(struct httpd_request *req)
{
    struct httpd *h = req->h;

    LIST_REMOVE(req, link);
    h->nparked--;
}

void httpd_respond_free_request(struct httpd_request *req)
{
    free(req->method);
    free(req->path);
    free(req->body);
    free(req->resp_type);
    free(req->resp_body);
    for (size_t i = 0; i < req->nheaders; i++) {
        free(req->headers[i][0]);
        free(req->headers[i][1]);
    }
    free(req);
}

/* Hand the stored answer to MHD. */
enum MHD_Result httpd_respond_queue(struct httpd_request *req)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        req->resp_len, req->resp_body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    if (req->resp_type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                req->resp_type);
    for (size_t i = 0; i < req->nheaders; i++)
        MHD_add_response_header(r, req->headers[i][0], req->headers[i][1]);
    ret = MHD_queue_response(req->conn, req->status, r);
    MHD_destroy_response(r);
    req->state = REQ_QUEUED;
    return ret;
}

void httpd_add_header(struct httpd_request *req, const char *name,
                      const char *value)
{
    if (req->nheaders == MAX_HEADERS) {
        log_error("too many response headers", "name=%s", name);
        return;
    }
    req->headers[req->nheaders][0] = xstrdup(name);
    req->headers[req->nheaders][1] = xstrdup(value);
    req->nheaders++;
}

void httpd_respond(struct httpd_request *req, unsigned status,
                   const char *content_type, const char *body, size_t len)
{
    bool was_parked = req->state == REQ_PARKED;

    if (req->state != REQ_HANDLING && req->state != REQ_PARKED &&
        req->state != REQ_READING) {
        log_error("second answer to one HTTP request", "path=%s", req->path);
        return;
    }
    req->status = status;
    req->resp_type = content_type != NULL ? xstrdup(content_type) : NULL;
    req->resp_body = xmalloc(len + 1);
    memcpy(req->resp_body, body, len);
    req->resp_len = len;
    req->state = REQ_ANSWERED;
    if (was_parked) {
        httpd_respond_unpark(req);
        MHD_resume_connection(req->conn);
        req->h->resumed = true;
    }
    if (req->answer_cb != NULL) {
        httpd_answer_cb cb = req->answer_cb;
        req->answer_cb = NULL;
        cb(status, req->resp_type, req->resp_body, len, req->answer_arg);
    }
}

void httpd_on_answer(struct httpd_request *req, httpd_answer_cb cb, void *arg)
{
    req->answer_cb = cb;
    req->answer_arg = arg;
}

/* Append s to the buffer as JSON string content. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;

    for (; *s != '\0' && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

void httpd_respond_json(struct httpd_request *req, unsigned status,
                        struct json_object *obj)
{
    char *text = json_to_string(obj);

    httpd_respond(req, status, "application/json", text, strlen(text));
    free(text);
    json_object_put(obj);
}

void httpd_error(struct httpd_request *req, unsigned status, const char *type,
                 const char *condition, const char *text)
{
    char esc[1024], body[1400];
    size_t n;

    json_escape(esc, sizeof(esc), text != NULL ? text : "");
    n = httpd_respond_error_body(body, sizeof(body), status, type, condition,
                                 esc);
    httpd_respond(req, status, "application/json", body, n);
}

void httpd_park(struct httpd_request *req, httpd_abort_cb abort_cb, void *arg)
{
    struct httpd *h = req->h;

    if (h->shutting_down) {
        /* The owner forgets req first, as for any parked request. */
        if (abort_cb != NULL)
            abort_cb(req, arg);
        httpd_add_header(req, "Retry-After", "5");
        httpd_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "wait",
                    "service-unavailable", "restanza is shutting down");
        return;
    }
    req->state = REQ_PARKED;
    req->abort_cb = abort_cb;
    req->abort_arg = arg;
    LIST_INSERT_HEAD(&h->parked, req, link);
    h->nparked++;
}
