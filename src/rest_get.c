/* SPDX-License-Identifier: MIT */
/* rest_get.c: the GET /rest/{query}/{to} shortcuts (mod_rest's). */
#include "config.h"

#include "rest_get.h"

#include <string.h>

#include "httpd.h"
#include "jsonmap.h"
#include "rest_build.h"
#include "rest_error.h"
#include "rest_internal.h"
#include "stanza.h"
#include "utf8.h"

/* What the payload key of a GET shortcut holds without URL parameters. */
enum get_empty {
    GET_TRUE,   /* a flag: "ping": true */
    GET_OBJECT, /* an empty object: <query xmlns=.../> */
    GET_ARRAY,  /* an empty list (stats) */
};

/*
 * GET /rest/{query}/{to} shortcuts. Every URL parameter goes into the
 * payload object of a GET_OBJECT query (as mod_rest); a flag or a list
 * takes none.
 */
static const struct {
    const char *query;
    enum get_empty empty;
} get_queries[] = {
    {"ping", GET_TRUE},
    {"version", GET_OBJECT},
    {"disco", GET_OBJECT},
    {"items", GET_OBJECT},
    {"extdisco", GET_OBJECT},
    {"archive", GET_OBJECT},
    {"lastactivity", GET_OBJECT},
    {"stats", GET_ARRAY},
    {"upload_request", GET_OBJECT},
    {"oob", GET_OBJECT},
    {"payload", GET_OBJECT},
};

/* The URL parameters of a GET shortcut, read into a payload object. */
struct get_params {
    json_object *obj; /* NULL while no parameter had a value */
    size_t n;         /* parameters seen */
    bool bad;         /* a key or value that is not XML text */
};

static bool get_param(const char *key, const char *value, void *arg)
{
    struct get_params *gp = arg;

    gp->n++;
    if (value == NULL)
        return true; /* "?flag" without '=': mod_rest's decoder skips it */
    /* Percent-decoded: any bytes at all. */
    if (!utf8_xml_valid_str(key) || !utf8_xml_valid_str(value)) {
        gp->bad = true;
        return false;
    }
    if (gp->obj == NULL)
        gp->obj = json_object_new_object();
    /* A repeated parameter: the last one wins, as in mod_rest. */
    json_object_object_add(gp->obj, key, json_object_new_string(value));
    return true;
}

void rest_get_on_request(struct httpd_request *req, void *arg)
{
    struct rest *r = arg;
    const char *rest = httpd_request_rest(req);
    const char *slash = strchr(rest, '/');
    struct jsonmap_error err;
    struct rest_job j;
    struct get_params gp = {0};
    json_object *obj, *payload = NULL;
    xmpp_stanza_t *st;
    size_t qi, n = sizeof(get_queries) / sizeof(get_queries[0]);

    if (!rest_job_start(&j, r, req, "rest_get"))
        return;
    for (qi = 0; slash != NULL && qi < n; qi++)
        if (strlen(get_queries[qi].query) == (size_t)(slash - rest) &&
            strncmp(rest, get_queries[qi].query, (size_t)(slash - rest)) == 0)
            break;
    if (slash == NULL || qi == n || slash[1] == '\0') {
        rest_error_fail(&j, RE_NOT_FOUND);
        return;
    }
    /* Path and parameters are percent-decoded: any bytes at all. */
    if (!utf8_xml_valid_str(slash + 1)) {
        rest_error_fail(&j, RE_PATH_CHARS);
        return;
    }
    if (r->archive_cb != NULL &&
        strcmp(get_queries[qi].query, "archive") == 0 &&
        r->archive_cb(req, slash + 1, j.auth.pattern, r->archive_arg))
        return;
    /* The URL parameters become the payload object (`?node=...`). */
    httpd_request_query_each(req, get_param, &gp);
    if (gp.bad || (gp.n > 0 && gp.obj == NULL)) {
        /* mod_rest cannot decode a query without any '=' either. */
        json_object_put(gp.obj);
        rest_error_fail(&j, gp.bad ? RE_QUERY_CHARS : RE_PARSE);
        return;
    }
    if (get_queries[qi].empty == GET_OBJECT)
        payload = gp.obj;
    else
        json_object_put(gp.obj);
    obj = json_object_new_object();
    json_object_object_add(obj, "kind", json_object_new_string(EL_IQ));
    json_object_object_add(
        obj, ATTR_TYPE,
        json_object_new_string(
            strcmp(get_queries[qi].query, "archive") == 0 ? "set" : "get"));
    json_object_object_add(obj, ATTR_TO, json_object_new_string(slash + 1));
    if (payload == NULL) {
        switch (get_queries[qi].empty) {
        case GET_TRUE:
            payload = json_object_new_boolean(1);
            break;
        case GET_OBJECT:
            payload = json_object_new_object();
            break;
        case GET_ARRAY:
            payload = json_object_new_array();
            break;
        }
    }
    json_object_object_add(obj, get_queries[qi].query, payload);
    st = rest_build_map_json(&j, obj, &err);
    if (st == NULL) {
        rest_error_fail_map(&j, &err);
        return;
    }
    rest_process(&j, st, false);
}
