/* SPDX-License-Identifier: MIT */
/* metrics.c: process-wide counters and their Prometheus text rendering. */
#include "config.h"

#include "metrics.h"
#include "metrics_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "xmalloc.h"

#define HTTP_SLOTS 256

struct http_count {
    const char *route;
    unsigned status;
    uint64_t count;
};

static uint64_t counters[METRIC_COUNT];
static struct http_count http[HTTP_SLOTS];
static size_t nhttp;

void metrics_inc(enum metric m)
{
    counters[m]++;
}

void metrics_add(enum metric m, uint64_t n)
{
    counters[m] += n;
}

uint64_t metrics_get(enum metric m)
{
    return counters[m];
}

void metrics_http(const char *route, unsigned status)
{
    for (size_t i = 0; i < nhttp; i++) {
        if (http[i].route == route && http[i].status == status) {
            http[i].count++;
            return;
        }
    }
    /* Routes and statuses are finite; a full table only loses detail. */
    if (nhttp < HTTP_SLOTS)
        http[nhttp++] = (struct http_count){route, status, 1};
}

void metrics_reset(void)
{
    memset(counters, 0, sizeof(counters));
    nhttp = 0;
}

/* Stanzas component_send() refused, by reason. */
static void metrics_render_refused(char **buf, size_t *len)
{
    static const char *const reasons[] = {"invalid_characters", "too_large",
                                          "queue_full"};

    strbuf_appendf(buf, len,
                   "# HELP restanza_stanzas_refused_total Stanzas not sent "
                   "to the XMPP server, by reason.\n"
                   "# TYPE restanza_stanzas_refused_total counter\n");
    for (int i = 0; i < 3; i++)
        strbuf_appendf(
            buf, len, "restanza_stanzas_refused_total{reason=\"%s\"} %llu\n",
            reasons[i],
            (unsigned long long)counters[METRIC_STANZAS_REFUSED_INVALID + i]);
}

/* Webhook deliveries, failures by reason and latency. */
static void metrics_render_webhook(char **buf, size_t *len)
{
    static const char *const reasons[] = {"http",      "connect",    "timeout",
                                          "too_large", "queue_full", "other"};

    strbuf_appendf(buf, len,
                   "# HELP restanza_webhook_deliveries_total Webhook POSTs "
                   "that got an HTTP response.\n"
                   "# TYPE restanza_webhook_deliveries_total counter\n"
                   "restanza_webhook_deliveries_total %llu\n"
                   "# HELP restanza_webhook_failures_total Webhook "
                   "deliveries that failed, by reason.\n"
                   "# TYPE restanza_webhook_failures_total counter\n",
                   (unsigned long long)counters[METRIC_WEBHOOK_DELIVERIES]);
    for (int i = 0; i < 6; i++)
        strbuf_appendf(
            buf, len, "restanza_webhook_failures_total{reason=\"%s\"} %llu\n",
            reasons[i],
            (unsigned long long)counters[METRIC_WEBHOOK_FAIL_HTTP + i]);
    strbuf_appendf(
        buf, len,
        "# HELP restanza_webhook_latency_seconds Webhook request duration.\n"
        "# TYPE restanza_webhook_latency_seconds summary\n"
        "restanza_webhook_latency_seconds_sum %.6f\n"
        "restanza_webhook_latency_seconds_count %llu\n",
        (double)counters[METRIC_WEBHOOK_LATENCY_US] / 1e6,
        (unsigned long long)counters[METRIC_WEBHOOK_LATENCY_COUNT]);
}

/* Roster fetches from the web app and their failures. */
static void metrics_render_roster(char **buf, size_t *len)
{
    strbuf_appendf(buf, len,
                   "# HELP restanza_roster_fetches_total Roster fetches from "
                   "the web app.\n"
                   "# TYPE restanza_roster_fetches_total counter\n"
                   "restanza_roster_fetches_total %llu\n"
                   "# HELP restanza_roster_fetch_failures_total Roster "
                   "fetches that failed (HTTP status, timeout, bad JSON).\n"
                   "# TYPE restanza_roster_fetch_failures_total counter\n"
                   "restanza_roster_fetch_failures_total %llu\n",
                   (unsigned long long)counters[METRIC_ROSTER_FETCHES],
                   (unsigned long long)counters[METRIC_ROSTER_FETCH_FAILURES]);
}

/* HTTP connections refused or closed by restanza's own limits. */
static void metrics_render_http_limits(char **buf, size_t *len)
{
    strbuf_appendf(
        buf, len,
        "# HELP restanza_http_connections_refused_total Connections "
        "answered 503 and closed because http.max_connections were open.\n"
        "# TYPE restanza_http_connections_refused_total counter\n"
        "restanza_http_connections_refused_total %llu\n"
        "# HELP restanza_http_request_timeouts_total Connections closed "
        "because a request header or body did not arrive in time.\n"
        "# TYPE restanza_http_request_timeouts_total counter\n"
        "restanza_http_request_timeouts_total{phase=\"header\"} %llu\n"
        "restanza_http_request_timeouts_total{phase=\"body\"} %llu\n",
        (unsigned long long)counters[METRIC_HTTP_REFUSED],
        (unsigned long long)counters[METRIC_HTTP_HEADER_TIMEOUTS],
        (unsigned long long)counters[METRIC_HTTP_BODY_TIMEOUTS]);
}

/* Stanzas the loop guard kept from going round in circles. */
static void metrics_render_loop_guard(char **buf, size_t *len)
{
    strbuf_appendf(
        buf, len,
        "# HELP restanza_loop_guard_drops_total Stanzas dropped so that "
        "restanza never talks to itself or ping-pongs with a peer.\n"
        "# TYPE restanza_loop_guard_drops_total counter\n"
        "restanza_loop_guard_drops_total{reason=\"from_self\"} %llu\n"
        "restanza_loop_guard_drops_total{reason=\"to_self\"} %llu\n"
        "restanza_loop_guard_drops_total{reason=\"peer_budget\"} %llu\n",
        (unsigned long long)counters[METRIC_LOOP_FROM_SELF],
        (unsigned long long)counters[METRIC_LOOP_TO_SELF],
        (unsigned long long)counters[METRIC_LOOP_PEER_BUDGET]);
}

/* REST sends held while the send queue to the server was full. */
static void metrics_render_sends(char **buf, size_t *len)
{
    strbuf_appendf(
        buf, len,
        "# HELP restanza_rest_held_total POST /rest sends that waited for "
        "room in the send queue to the server.\n"
        "# TYPE restanza_rest_held_total counter\n"
        "restanza_rest_held_total %llu\n"
        "# HELP restanza_rest_held_timeouts_total Held sends answered 503 "
        "because no room came within rest.queue_wait.\n"
        "# TYPE restanza_rest_held_timeouts_total counter\n"
        "restanza_rest_held_timeouts_total %llu\n"
        "# HELP restanza_outbox_confirmed_total Sent messages and presences "
        "the server confirmed (a ping after them was answered).\n"
        "# TYPE restanza_outbox_confirmed_total counter\n"
        "restanza_outbox_confirmed_total %llu\n"
        "# HELP restanza_outbox_resent_total Unconfirmed messages and "
        "presences sent again on a new stream.\n"
        "# TYPE restanza_outbox_resent_total counter\n"
        "restanza_outbox_resent_total %llu\n"
        "# HELP restanza_rest_confirm_timeouts_total Prefer: wait=server "
        "requests answered 504 before the server confirmed.\n"
        "# TYPE restanza_rest_confirm_timeouts_total counter\n"
        "restanza_rest_confirm_timeouts_total %llu\n",
        (unsigned long long)counters[METRIC_REST_HELD],
        (unsigned long long)counters[METRIC_REST_HELD_TIMEOUTS],
        (unsigned long long)counters[METRIC_OUTBOX_CONFIRMED],
        (unsigned long long)counters[METRIC_OUTBOX_RESENT],
        (unsigned long long)counters[METRIC_REST_CONFIRM_TIMEOUTS]);
}

void metrics_render(char **buf, size_t *len)
{
    static const char *const kinds[] = {"message", "presence", "iq"};

    strbuf_appendf(buf, len,
                   "# HELP restanza_stanzas_in_total Stanzas received from "
                   "the XMPP server.\n"
                   "# TYPE restanza_stanzas_in_total counter\n");
    for (int i = 0; i < 3; i++)
        strbuf_appendf(
            buf, len, "restanza_stanzas_in_total{kind=\"%s\"} %llu\n", kinds[i],
            (unsigned long long)counters[METRIC_STANZAS_IN_MESSAGE + i]);
    strbuf_appendf(buf, len,
                   "# HELP restanza_stanzas_out_total Stanzas sent to the "
                   "XMPP server.\n"
                   "# TYPE restanza_stanzas_out_total counter\n");
    for (int i = 0; i < 3; i++)
        strbuf_appendf(
            buf, len, "restanza_stanzas_out_total{kind=\"%s\"} %llu\n",
            kinds[i],
            (unsigned long long)counters[METRIC_STANZAS_OUT_MESSAGE + i]);
    strbuf_appendf(buf, len,
                   "# HELP restanza_xmpp_disconnects_total Connection "
                   "attempts and streams that ended.\n"
                   "# TYPE restanza_xmpp_disconnects_total counter\n"
                   "restanza_xmpp_disconnects_total %llu\n",
                   (unsigned long long)counters[METRIC_XMPP_DISCONNECTS]);
    metrics_render_refused(buf, len);
    metrics_render_webhook(buf, len);
    metrics_render_roster(buf, len);
    metrics_render_http_limits(buf, len);
    metrics_render_loop_guard(buf, len);
    metrics_render_sends(buf, len);
    strbuf_appendf(buf, len,
                   "# HELP restanza_http_requests_total HTTP requests by "
                   "route and status.\n"
                   "# TYPE restanza_http_requests_total counter\n");
    for (size_t i = 0; i < nhttp; i++)
        strbuf_appendf(
            buf, len,
            "restanza_http_requests_total{route=\"%s\",status=\"%u\"} "
            "%llu\n",
            http[i].route, http[i].status, (unsigned long long)http[i].count);
}
