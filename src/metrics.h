/* SPDX-License-Identifier: MIT */
/* metrics.h: process-wide counters and their Prometheus text rendering. */
#ifndef RESTANZA_METRICS_H
#define RESTANZA_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum metric {
    METRIC_STANZAS_IN_MESSAGE,
    METRIC_STANZAS_IN_PRESENCE,
    METRIC_STANZAS_IN_IQ,
    METRIC_STANZAS_OUT_MESSAGE,
    METRIC_STANZAS_OUT_PRESENCE,
    METRIC_STANZAS_OUT_IQ,
    METRIC_XMPP_DISCONNECTS,
    METRIC_WEBHOOK_DELIVERIES,      /* POSTs that got an HTTP response */
    METRIC_WEBHOOK_FAIL_HTTP,       /* ... with a status outside 2xx */
    METRIC_WEBHOOK_FAIL_CONNECT,    /* connection failed */
    METRIC_WEBHOOK_FAIL_TIMEOUT,    /* timeout (or delegated deadline) */
    METRIC_WEBHOOK_FAIL_TOO_LARGE,  /* response over the cap */
    METRIC_WEBHOOK_FAIL_QUEUE_FULL, /* refused with resource-constraint */
    METRIC_WEBHOOK_FAIL_OTHER,      /* any other failure */
    METRIC_WEBHOOK_LATENCY_US,      /* sum of request durations */
    METRIC_WEBHOOK_LATENCY_COUNT,
    METRIC_ROSTER_FETCHES,        /* web app roster fetches finished */
    METRIC_ROSTER_FETCH_FAILURES, /* ... that failed (any reason) */
    METRIC_HTTP_REFUSED,          /* connections over max_connections */
    METRIC_HTTP_HEADER_TIMEOUTS,  /* closed: header not in within its time */
    METRIC_HTTP_BODY_TIMEOUTS,    /* closed: body not in within its time */

    METRIC_STANZAS_REFUSED_INVALID,    /* not sent: invalid characters */
    METRIC_STANZAS_REFUSED_TOO_LARGE,  /* not sent: over max_stanza_size */
    METRIC_STANZAS_REFUSED_QUEUE_FULL, /* not sent: send queue full */
    METRIC_LOOP_FROM_SELF,        /* stanzas from our own domain, dropped */
    METRIC_LOOP_TO_SELF,          /* replies to our own domain, not sent */
    METRIC_LOOP_PEER_BUDGET,      /* replies over a peer's budget, not sent */
    METRIC_REST_HELD,             /* sends that waited for send queue room */
    METRIC_REST_HELD_TIMEOUTS,    /* ... and got 503 after rest.queue_wait */
    METRIC_OUTBOX_CONFIRMED,      /* tracked stanzas the server confirmed */
    METRIC_OUTBOX_RESENT,         /* ... sent again on a new stream */
    METRIC_REST_CONFIRM_TIMEOUTS, /* wait=server answered 504 */
    METRIC_COUNT
};

void metrics_inc(enum metric m);
void metrics_add(enum metric m, uint64_t n);

/* Count one HTTP request; route must be a string that lives forever. */
void metrics_http(const char *route, unsigned status);

/*
 * Append the counters in Prometheus text format to *buf (a malloc'd
 * string of *len bytes, may start NULL/0).
 */
void metrics_render(char **buf, size_t *len);

#endif
