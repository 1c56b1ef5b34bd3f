/* SPDX-License-Identifier: MIT */
/* archive_priv.h: what archive.c exports for its unit tests only. */
#ifndef RESTANZA_ARCHIVE_PRIV_H
#define RESTANZA_ARCHIVE_PRIV_H

#include "archive.h"

/*
 * Add one URL parameter to the archive payload object (with, start, end,
 * before, after as strings; max as an integer). -1 for an unknown key or a
 * max that is not an integer from 0 to 100000.
 */
int archive_params_add(json_object *payload, const char *key,
                       const char *value);

/*
 * One archived message from a MAM <result/> element: {"id", "stamp",
 * "message": mod_rest JSON}. NULL when result carries no forwarded message.
 */
json_object *archive_result_entry(xmpp_stanza_t *result);

/* The RSM cursor of a MAM <fin/>: {"first", "last", "count", "complete"}
 * (absent parts left out). fin may be NULL (an empty page). */
json_object *archive_page(xmpp_stanza_t *fin);

/* HTTP status for an error condition the archive query came back with. */
unsigned archive_error_status(const char *condition, bool outer);

#endif
