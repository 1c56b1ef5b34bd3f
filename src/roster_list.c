/* SPDX-License-Identifier: MIT */
/* roster_list.c: roster lists (pure): parse, compare, diff, build items. */
#include "config.h"

#include "roster_list.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jid.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "stanza.h"
#include "utf8.h"
#include "xmalloc.h"

#define EL_ITEM "item"
#define EL_GROUP "group"
#define ATTR_JID "jid"
#define ATTR_NAME "name"
#define ATTR_SUBSCRIPTION "subscription"

static const char *const sub_names[] = {"none", "to", "from", "both"};

const char *roster_list_sub_name(enum roster_sub sub)
{
    return sub_names[sub];
}

static int sub_parse(const char *s, enum roster_sub *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, sub_names[i]) == 0) {
            *out = (enum roster_sub)i;
            return 0;
        }
    return -1;
}

static void item_clear(struct roster_item *it)
{
    free(it->jid);
    free(it->name);
    for (size_t i = 0; i < it->ngroups; i++)
        free(it->groups[i]);
    free(it->groups);
}

void roster_list_free(struct roster_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        item_clear(&l->items[i]);
    free(l->items);
    free(l);
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const struct roster_item *)a)->jid,
                  ((const struct roster_item *)b)->jid);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

const struct roster_item *roster_list_find(const struct roster_list *l,
                                           const char *jid)
{
    struct roster_item key = {.jid = (char *)jid};

    if (l == NULL || l->n == 0)
        return NULL;
    return bsearch(&key, l->items, l->n, sizeof(key), item_cmp);
}

/* The bare JID normalised as the server does (nodeprep, nameprep), or NULL
 * when s is no bare user JID. */
static char *normal_jid(const char *s)
{
    struct jid j;
    char *out;

    if (jid_parse(s, &j) < 0)
        return NULL;
    out = j.resource == NULL ? jid_bare(s) : NULL;
    jid_clear(&j);
    return out;
}

/* Append a group unless present; ownership of g taken. */
static void add_group(struct roster_item *it, char *g)
{
    for (size_t i = 0; i < it->ngroups; i++)
        if (strcmp(it->groups[i], g) == 0) {
            free(g);
            return;
        }
    it->groups = xrealloc(it->groups, (it->ngroups + 1) * sizeof(char *));
    it->groups[it->ngroups++] = g;
}

static struct roster_item *roster_list_push(struct roster_list *l)
{
    struct roster_item *it;

    l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
    it = &l->items[l->n++];
    memset(it, 0, sizeof(*it));
    return it;
}

/* Sort items and their groups; later duplicates of a JID are dropped. */
static void list_finish(struct roster_list *l)
{
    size_t w = 0;

    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].ngroups > 1)
            qsort(l->items[i].groups, l->items[i].ngroups, sizeof(char *),
                  str_cmp);
    if (l->n > 1)
        qsort(l->items, l->n, sizeof(*l->items), item_cmp);
    for (size_t i = 0; i < l->n; i++) {
        if (w > 0 && strcmp(l->items[w - 1].jid, l->items[i].jid) == 0) {
            item_clear(&l->items[i]);
            continue;
        }
        l->items[w++] = l->items[i];
    }
    l->n = w;
}

/* Fill groups from a JSON array of strings or object of true; -1 if bad. */
static int parse_groups(struct roster_item *it, json_object *g,
                        const char **why)
{
    if (json_object_is_type(g, json_type_array)) {
        size_t n = json_object_array_length(g);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(g, i);
            if (!json_object_is_type(e, json_type_string) ||
                json_object_get_string_len(e) == 0 ||
                strlen(json_object_get_string(e)) !=
                    (size_t)json_object_get_string_len(e)) {
                *why = "groups must hold non-empty strings";
                return -1;
            }
            if (!utf8_xml_valid_str(json_object_get_string(e))) {
                *why = "a group holds a character XML does not allow";
                return -1;
            }
            add_group(it, xstrdup(json_object_get_string(e)));
        }
        return 0;
    }
    if (json_object_is_type(g, json_type_object)) {
        json_object_object_foreach(g, key, val)
        {
            if (!json_object_is_type(val, json_type_boolean)) {
                *why = "groups object values must be true or false";
                return -1;
            }
            if (*key == '\0') {
                *why = "groups must be non-empty";
                return -1;
            }
            if (!utf8_xml_valid_str(key)) {
                *why = "a group holds a character XML does not allow";
                return -1;
            }
            if (json_object_get_boolean(val))
                add_group(it, xstrdup(key));
        }
        return 0;
    }
    *why = "groups is neither an array nor an object";
    return -1;
}

/* One web app entry into it; -1 with *why when invalid. */
static int parse_entry(struct roster_item *it, json_object *v, const char **why)
{
    json_object *f;
    const char *sub;

    if (!json_object_is_type(v, json_type_object)) {
        *why = "entry is not an object";
        return -1;
    }
    it->sub = ROSTER_SUB_BOTH;
    if (json_object_object_get_ex(v, "name", &f) && f != NULL) {
        const char *name = json_get_string(v, "name");
        if (name == NULL) {
            *why = "name is not a string";
            return -1;
        }
        if (!utf8_xml_valid_str(name)) {
            *why = "name holds a character XML does not allow";
            return -1;
        }
        if (*name != '\0')
            it->name = xstrdup(name);
    }
    if (json_object_object_get_ex(v, "groups", &f) && f != NULL &&
        parse_groups(it, f, why) < 0)
        return -1;
    if (json_object_object_get_ex(v, "subscription", &f) && f != NULL) {
        sub = json_get_string(v, "subscription");
        if (sub == NULL || sub_parse(sub, &it->sub) < 0) {
            *why = "subscription is not both, to, from or none";
            return -1;
        }
    }
    return 0;
}

struct roster_list *roster_list_parse(const char *user_jid, const char *body,
                                      size_t len, char *err, size_t errlen)
{
    char why[160] = "";
    json_object *root = json_parse(body, len, 16, why, sizeof(why));
    struct roster_list *l;

    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "%s",
                 root == NULL ? (*why != '\0' ? why : "null")
                              : "not a JSON object");
        json_object_put(root);
        return NULL;
    }
    l = xcalloc(1, sizeof(*l));
    json_object_object_foreach(root, key, val)
    {
        struct roster_item it = {0};
        const char *bad = NULL;

        it.jid = normal_jid(key);
        if (it.jid == NULL)
            bad = "invalid bare JID";
        else if (strcasecmp(it.jid, user_jid) == 0)
            bad = "the user's own JID";
        if (bad == NULL)
            parse_entry(&it, val, &bad);
        if (bad != NULL) {
            static struct log_ratelimit skipped_log =
                LOG_RATELIMIT_INIT(LOG_LEVEL_WARN, "roster entry skipped");
            if (log_ratelimit_pass(&skipped_log, loop_clock_ms()))
                log_warn("roster entry skipped", "user=%s jid=%s reason=%s",
                         user_jid, key, bad);
            item_clear(&it);
            continue;
        }
        *roster_list_push(l) = it;
    }
    json_object_put(root);
    list_finish(l);
    return l;
}

struct roster_list *roster_list_from_query(xmpp_stanza_t *query)
{
    struct roster_list *l = xcalloc(1, sizeof(*l));

    if (query == NULL)
        return l;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(query); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *jid, *name, *sub;
        struct roster_item *it;
        char *nj;

        if (!stanza_is(c, EL_ITEM))
            continue;
        jid = stanza_attr(c, ATTR_JID);
        nj = jid != NULL ? normal_jid(jid) : NULL;
        if (nj == NULL)
            continue;
        it = roster_list_push(l);
        it->jid = nj;
        name = stanza_attr(c, ATTR_NAME);
        if (name != NULL && *name != '\0')
            it->name = xstrdup(name);
        sub = stanza_attr(c, ATTR_SUBSCRIPTION);
        if (sub == NULL || sub_parse(sub, &it->sub) < 0)
            it->sub = ROSTER_SUB_NONE;
        for (xmpp_stanza_t *g = xmpp_stanza_get_children(c); g != NULL;
             g = xmpp_stanza_get_next(g)) {
            char *text;
            if (!stanza_is(g, EL_GROUP))
                continue;
            text = xmpp_stanza_get_text(g);
            if (text != NULL && *text != '\0')
                add_group(it, xstrdup(text));
            if (text != NULL)
                xmpp_free(xmpp_stanza_get_context(g), text);
        }
    }
    list_finish(l);
    return l;
}

struct roster_list *roster_list_from_api(const char *body, size_t len,
                                         char *err, size_t errlen)
{
    char why[160] = "";
    json_object *root = json_parse(body, len, 8, why, sizeof(why));
    struct roster_list *l;
    size_t n;

    if (root == NULL || !json_object_is_type(root, json_type_array)) {
        snprintf(err, errlen, "get_roster: %s",
                 root == NULL ? why : "not a JSON array");
        json_object_put(root);
        return NULL;
    }
    l = xcalloc(1, sizeof(*l));
    n = json_object_array_length(root);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(root, i);
        const char *jid = json_get_string(e, "jid");
        const char *nick = json_get_string(e, "nick");
        const char *sub = json_get_string(e, "subscription");
        const char *group = json_get_string(e, "group");
        struct roster_item *it = NULL;
        char *nj = jid != NULL ? normal_jid(jid) : NULL;

        if (nj == NULL)
            continue;
        /* One entry per group: merge them (the list is short). */
        for (size_t k = 0; k < l->n; k++)
            if (strcmp(l->items[k].jid, nj) == 0)
                it = &l->items[k];
        if (it == NULL) {
            it = roster_list_push(l);
            it->jid = nj;
            nj = NULL;
            if (nick != NULL && *nick != '\0')
                it->name = xstrdup(nick);
            if (sub == NULL || sub_parse(sub, &it->sub) < 0)
                it->sub = ROSTER_SUB_NONE;
        }
        free(nj);
        if (group != NULL && *group != '\0')
            add_group(it, xstrdup(group));
    }
    json_object_put(root);
    list_finish(l);
    return l;
}

/* A deep copy of l. */
struct roster_list *roster_list_dup(const struct roster_list *l)
{
    struct roster_list *c = xcalloc(1, sizeof(*c));

    c->n = l->n;
    c->items = l->n ? xcalloc(l->n, sizeof(*c->items)) : NULL;
    for (size_t i = 0; i < l->n; i++) {
        const struct roster_item *a = &l->items[i];
        struct roster_item *b = &c->items[i];
        b->jid = xstrdup(a->jid);
        b->name = a->name ? xstrdup(a->name) : NULL;
        b->sub = a->sub;
        b->ngroups = a->ngroups;
        b->groups = a->ngroups ? xcalloc(a->ngroups, sizeof(char *)) : NULL;
        for (size_t g = 0; g < a->ngroups; g++)
            b->groups[g] = xstrdup(a->groups[g]);
    }
    return c;
}

static bool str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool item_equal(const struct roster_item *a, const struct roster_item *b)
{
    if (!str_eq(a->name, b->name) || a->sub != b->sub ||
        a->ngroups != b->ngroups)
        return false;
    for (size_t i = 0; i < a->ngroups; i++)
        if (strcmp(a->groups[i], b->groups[i]) != 0)
            return false;
    return true;
}

size_t roster_list_diff(const struct roster_list *want,
                        const struct roster_list *have,
                        struct roster_change **out)
{
    size_t n = 0, cap = want->n + have->n;
    struct roster_change *ch = cap ? xcalloc(cap, sizeof(*ch)) : NULL;

    for (size_t i = 0; i < want->n; i++) {
        const struct roster_item *h =
            roster_list_find(have, want->items[i].jid);
        if (h == NULL || !item_equal(&want->items[i], h))
            ch[n++] = (struct roster_change){ROSTER_OP_SET, &want->items[i]};
    }
    for (size_t i = 0; i < have->n; i++)
        if (roster_list_find(want, have->items[i].jid) == NULL)
            ch[n++] = (struct roster_change){ROSTER_OP_REMOVE, &have->items[i]};
    if (n == 0) {
        free(ch);
        ch = NULL;
    }
    *out = ch;
    return n;
}

xmpp_stanza_t *roster_list_item_stanza(xmpp_ctx_t *ctx,
                                       const struct roster_item *item,
                                       bool remove)
{
    xmpp_stanza_t *el = stanza_element(ctx, EL_ITEM, NULL);

    xmpp_stanza_set_attribute(el, ATTR_JID, item->jid);
    if (remove) {
        xmpp_stanza_set_attribute(el, ATTR_SUBSCRIPTION, "remove");
        return el;
    }
    if (item->name != NULL)
        xmpp_stanza_set_attribute(el, ATTR_NAME, item->name);
    xmpp_stanza_set_attribute(el, ATTR_SUBSCRIPTION,
                              roster_list_sub_name(item->sub));
    for (size_t i = 0; i < item->ngroups; i++)
        stanza_add_text(stanza_add_element(el, EL_GROUP, NULL),
                        item->groups[i]);
    return el;
}
