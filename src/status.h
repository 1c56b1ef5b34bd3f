/* SPDX-License-Identifier: MIT */
/* status.h: the operations routes GET /status (JSON) and GET /metrics. */
#ifndef RESTANZA_STATUS_H
#define RESTANZA_STATUS_H

#include <stdbool.h>
#include <stddef.h>

struct httpd;
struct component;
struct delegation;
struct conf;
struct status;
struct webhook;

struct status *status_new(struct httpd *h, struct component *c,
                          struct delegation *d, const struct conf *conf);
void status_free(struct status *s);
/* Report this webhook's queue in /status (borrowed; NULL: none). */
void status_set_webhook(struct status *s, struct webhook *w);
/* Show the event log's figures (borrowed; NULL: none). */
struct events;
void status_set_events(struct status *s, struct events *ev);

struct roster;
/* Report this roster feature in /status (borrowed; NULL: none). */
void status_set_roster(struct status *s, struct roster *r);

#endif
