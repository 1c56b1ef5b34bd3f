/* SPDX-License-Identifier: MIT */
/* floor.c: the RSS a process has after loading and initialising restanza's
 * libraries and doing nothing else: the memory floor restanza's own idle
 * RSS is compared with (printed as "rss_kb N"). */
#include <curl/curl.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strophe.h>

static long rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            sscanf(line + 6, "%ld", &kb);
    fclose(f);
    return kb;
}

int main(void)
{
    /* What restanza's start does with each library, minus its own work. */
    xmpp_initialize();
    xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
    xmpp_conn_t *conn = xmpp_conn_new(ctx);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    json_object *o = json_tokener_parse("{\"a\":1}");
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, NULL, NULL,
        MHD_OPTION_END);

    printf("rss_kb %ld\n", rss_kb());
    fflush(stdout);
    if (d != NULL)
        MHD_stop_daemon(d);
    json_object_put(o);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    xmpp_conn_release(conn);
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
    return 0;
}
