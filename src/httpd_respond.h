/* SPDX-License-Identifier: MIT */
/* httpd_respond.h: answering an HTTP request (the internal part; the
 * handlers' part is in httpd.h). */
#ifndef RESTANZA_HTTPD_RESPOND_H
#define RESTANZA_HTTPD_RESPOND_H

#include <stddef.h>

#include "httpd_internal.h"

/* The JSON error shape of the REST API into out (esc_text already
 * escaped); its length, or 0 when it does not fit. */
size_t httpd_respond_error_body(char *out, size_t cap, unsigned status,
                                const char *type, const char *condition,
                                const char *esc_text);

/* Take a parked request off the parked list. */
void httpd_respond_unpark(struct httpd_request *req);

/* Hand the stored answer to MHD. */
enum MHD_Result httpd_respond_queue(struct httpd_request *req);

/* Free a request MHD is done with. */
void httpd_respond_free_request(struct httpd_request *req);

#endif
