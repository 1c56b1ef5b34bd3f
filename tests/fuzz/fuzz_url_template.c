/* SPDX-License-Identifier: MIT */
/* fuzz_url_template.c: webhook URL template expansion ({kind} {to} ...).
 * Input: template, kind, type, to, from separated by NUL bytes. */
#include "config.h"

#include "fuzz.h"
#include "webhook.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_LEVEL_ERROR);
    return 0;
}

static bool unreserved_or_escape(const char *s)
{
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || strchr("-_~%", *s) != NULL))
            return false;
    return true;
}

/* The number of path segments of url (after "scheme://host"), or -1 when
 * one of them is "." or ".." (a segment libcurl or a server resolves). */
static int path_segments(const char *url)
{
    const char *p = strstr(url, "://");
    size_t end;
    int n = 0;

    p = p != NULL ? p + 3 : url;
    p += strcspn(p, "/?#");
    end = strcspn(p, "?#");
    while (*p == '/' && end > 0) {
        size_t len = strcspn(p + 1, "/?#");
        if ((len == 1 && p[1] == '.') ||
            (len == 2 && p[1] == '.' && p[2] == '.'))
            return -1;
        n++;
        end -= len + 1;
        p += len + 1;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The template is the admin's; a long one times long values is only
     * big, not wrong. */
    if (size > 4096)
        return 0;
    char *buf = fuzz_cstr(data, size);
    const char *part[5] = {NULL, NULL, NULL, NULL, NULL};
    size_t off = 0;

    for (int i = 0; i < 5 && off <= size; i++) {
        part[i] = buf + off;
        off += strlen(buf + off) + 1;
    }
    char *url = webhook_expand_url(part[0], part[1], part[2], part[3], part[4]);
    free(url);
    /* Values never escape their placeholder. */
    url = webhook_expand_url("{kind}{type}{to}{from}", part[1], part[2],
                             part[3], part[4]);
    if (!unreserved_or_escape(url))
        abort();
    free(url);
    /* Placeholders as whole segments: the path keeps the template's six
     * segments and none becomes a dot segment, whatever the values. */
    url = webhook_expand_url("http://h/hook/{kind}/{type}/{to}/{from}/end?q",
                             part[1], part[2], part[3], part[4]);
    if (path_segments(url) != 6)
        abort();
    free(url);
    free(buf);
    return 0;
}
