/* SPDX-License-Identifier: MIT */
/* jid.h: JID parsing and validation (RFC 7622, ASCII-strict domainparts). */
#ifndef RESTANZA_JID_H
#define RESTANZA_JID_H

#include <stdbool.h>
#include <stddef.h>

#define JID_PART_MAX 1023

/* A JID split in three; parts are owned by the struct, local/resource may be
 * NULL. */
struct jid {
    char *local;
    char *domain;
    char *resource;
};

/* True for a hostname (letters, digits, '-', '_' in dot-separated labels). */
bool jid_domain_valid(const char *s);

/* True when s is a well-formed JID (any of bare, full or domain-only). */
bool jid_valid(const char *s);

/* Parse s into out; -1 when it is not a valid JID (out untouched). */
int jid_parse(const char *s, struct jid *out);
void jid_clear(struct jid *jid);

/* New string with the bare JID (local@domain or domain), or NULL if invalid. */
char *jid_bare(const char *s);

/* The domainpart of s, newly allocated, or NULL if invalid. */
char *jid_domain(const char *s);

#endif
