/* SPDX-License-Identifier: MIT */
/* refresh.h: POST /roster_admin/refresh and GET /roster_admin/refresh/{user}.
 */
#ifndef RESTANZA_REFRESH_H
#define RESTANZA_REFRESH_H

struct httpd;
struct roster;
struct conf;
struct refresh;

/* Register the routes; NULL (nothing routed) when roster is NULL. */
struct refresh *refresh_new(struct httpd *h, struct roster *roster,
                            const struct conf *conf);
/* Requests still waiting are answered 503 now; their syncs finish later. */
void refresh_free(struct refresh *f);

#endif
