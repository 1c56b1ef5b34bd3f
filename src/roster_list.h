/* SPDX-License-Identifier: MIT */
/* roster_list.h: roster lists (pure): parse, compare, diff, build items. */
#ifndef RESTANZA_ROSTER_LIST_H
#define RESTANZA_ROSTER_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include <strophe.h>

enum roster_sub {
    ROSTER_SUB_NONE,
    ROSTER_SUB_TO,
    ROSTER_SUB_FROM,
    ROSTER_SUB_BOTH,
};

/* One contact; every string is owned by the list that holds the item. */
struct roster_item {
    char *jid;     /* bare, ASCII lower-cased */
    char *name;    /* or NULL */
    char **groups; /* sorted, unique, non-empty */
    size_t ngroups;
    enum roster_sub sub;
};

/* A roster: items sorted by jid, unique. */
struct roster_list {
    struct roster_item *items;
    size_t n;
};

enum roster_op {
    ROSTER_OP_SET,    /* add or change item */
    ROSTER_OP_REMOVE, /* remove item */
};

/* One change; item is borrowed from the list it came from. */
struct roster_change {
    enum roster_op op;
    const struct roster_item *item;
};

void roster_list_free(struct roster_list *l);
/* A deep copy. */
struct roster_list *roster_list_dup(const struct roster_list *l);
/* Item with this bare JID (exact, lower-cased), or NULL; borrowed. */
const struct roster_item *roster_list_find(const struct roster_list *l,
                                           const char *jid);
const char *roster_list_sub_name(enum roster_sub sub);

/*
 * Parse the web app's answer for user_jid (user@domain): a JSON object
 * {"<jid>": {"name": s, "groups": [s..] or {"s": true}, "subscription":
 * "both|to|from|none"}}. Invalid entries are skipped with a warning naming
 * the user and the JID. NULL (why in err) when the body is not an object.
 */
struct roster_list *roster_list_parse(const char *user_jid, const char *body,
                                      size_t len, char *err, size_t errlen);
/* The items of a <query xmlns='jabber:iq:roster'/> (NULL query: empty). */
struct roster_list *roster_list_from_query(xmpp_stanza_t *query);
/* ejabberd mod_http_api get_roster answer (one entry per group); NULL with
 * err when it is not the expected array. */
struct roster_list *roster_list_from_api(const char *body, size_t len,
                                         char *err, size_t errlen);
/*
 * What to apply to `have` to make it `want`: sets (added or changed name,
 * groups or subscription) in want's order, then removals. *out is a new
 * array (free()) of n changes, NULL when n is 0.
 */
size_t roster_list_diff(const struct roster_list *want,
                        const struct roster_list *have,
                        struct roster_change **out);
/* <item jid name subscription><group/>..</item>, or <item jid
 * subscription='remove'/>; caller releases. */
xmpp_stanza_t *roster_list_item_stanza(xmpp_ctx_t *ctx,
                                       const struct roster_item *item,
                                       bool remove);

#endif
