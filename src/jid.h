/* SPDX-License-Identifier: MIT */
/* jid.h: JID parsing, validation and normalisation as the servers do it. */
#ifndef RESTANZA_JID_H
#define RESTANZA_JID_H

#include <stdbool.h>
#include <stddef.h>

#define JID_PART_MAX 1023

/*
 * A JID split in three and normalised as Prosody and ejabberd do: localpart
 * through nodeprep, domainpart through nameprep (trailing dot dropped, then
 * ASCII hostname rules), resource through resourceprep. Parts are owned by
 * the struct, local/resource may be NULL.
 */
struct jid {
    char *local;
    char *domain;
    char *resource;
};

/* True for a hostname (letters, digits, '-', '_' in dot-separated labels). */
bool jid_domain_valid(const char *s);

/* True when s is a well-formed JID (any of bare, full or domain-only) that
 * survives normalisation. */
bool jid_valid(const char *s);

/* Parse and normalise s into out; -1 when it is not a valid JID (out
 * untouched). */
int jid_parse(const char *s, struct jid *out);
void jid_clear(struct jid *jid);

/* New string with the normalised bare JID (local@domain or domain), or NULL
 * if invalid. */
char *jid_bare(const char *s);

/* The normalised domainpart of s, newly allocated, or NULL if invalid. */
char *jid_domain(const char *s);

/*
 * New string with s normalised (`ALICE@LOCALHOST./Res` ->
 * `alice@localhost/Res`): what the servers route and compare. NULL when s is
 * no valid JID or a part is prohibited after prep. The caller frees.
 */
char *jid_normalize(const char *s);

/* True when a and b are valid and name the same entity once normalised. */
bool jid_equal(const char *a, const char *b);

#endif
