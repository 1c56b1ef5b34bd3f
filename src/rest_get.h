/* SPDX-License-Identifier: MIT */
/* rest_get.h: the GET /rest/{query}/{to} shortcuts (mod_rest's). */
#ifndef RESTANZA_REST_GET_H
#define RESTANZA_REST_GET_H

struct httpd_request;

/* The httpd handler of GET /rest/... (arg: the struct rest). */
void rest_get_on_request(struct httpd_request *req, void *arg);

#endif
