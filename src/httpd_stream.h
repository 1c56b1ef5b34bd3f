/* SPDX-License-Identifier: MIT */
/* httpd_stream.h: streamed HTTP responses (the internal part; the
 * handlers' part is in httpd.h). */
#ifndef RESTANZA_HTTPD_STREAM_H
#define RESTANZA_HTTPD_STREAM_H

#include "httpd_internal.h"

/* Hand req's stream to MHD; from here the response's free callback owns
 * it. */
enum MHD_Result httpd_stream_queue(struct httpd_request *req);

#endif
