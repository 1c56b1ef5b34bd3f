/* SPDX-License-Identifier: MIT */
/* xmalloc.h: allocation helpers that abort the process when memory runs out. */
#ifndef RESTANZA_XMALLOC_H
#define RESTANZA_XMALLOC_H

#include <stddef.h>

/* Each returns memory the caller owns and frees with free(); none returns NULL.
 */
void *xmalloc(size_t size)
    __attribute__((malloc, alloc_size(1), returns_nonnull));
void *xcalloc(size_t nmemb, size_t size)
    __attribute__((malloc, alloc_size(1, 2), returns_nonnull));
void *xrealloc(void *ptr, size_t size) __attribute__((returns_nonnull));
void *xreallocarray(void *ptr, size_t nmemb, size_t size)
    __attribute__((returns_nonnull));
char *xstrdup(const char *s) __attribute__((nonnull, malloc, returns_nonnull));
char *xstrndup(const char *s, size_t n)
    __attribute__((nonnull, malloc, returns_nonnull));
char *xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), nonnull(1), returns_nonnull));

#endif
