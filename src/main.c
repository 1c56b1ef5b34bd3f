/* SPDX-License-Identifier: MIT */
/* main.c: command line, start-up in order, the loop, teardown in reverse. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "component.h"
#include "conf.h"
#include "delegation.h"
#include "dispatch.h"
#include "doctor.h"
#include "httpd.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "muc.h"
#include "rest.h"
#include "archive.h"
#include "stanza.h"
#include "status.h"
#include "events.h"
#include "store.h"
#include "version.h"
#include "webhook.h"
#include "roster.h"
#include "refresh.h"

#define EXIT_CONFIG 1
#define EXIT_FATAL 2
#define STOP_DEADLINE_MS 4500
/* In-flight webhook deliveries may finish within this on a stop. */
#define WEBHOOK_DRAIN_MS 2000
/* Descriptors besides HTTP clients and HTTP transfers: XMPP, epoll, logs. */
#define FD_MARGIN 64

struct daemon {
    const char *conf_path;
    int verbosity;
    struct conf *conf;
    struct loop *loop;
    struct store *store; /* NULL for store.path = none */
    struct httpd *httpd;
    struct component *component;
    struct delegation *delegation;
    struct dispatch *dispatch;
    struct webhook *webhook;
    struct events *events; /* NULL without a store */
    struct status *status;
    struct rest *rest;
    struct archive *archive;
    struct roster *roster;
    struct refresh *refresh;
    struct muc *muc;
    bool stopping;
    struct loop_timer *deadline;
    struct dispatch_handler *handlers[10]; /* see register_handlers() */
    size_t n_handlers;
};

/* The order in which features see incoming stanzas (ascending). */
enum {
    PRIO_ARCHIVE = 5,  /* privileged MAM results for the archive */
    PRIO_REST = 10,    /* MAM results answering a REST query */
    PRIO_MUC = 20,     /* room traffic; follows the stream to rejoin */
    PRIO_ROSTER = 30,  /* logins (never consumed); delegated roster IQs */
    PRIO_WEBHOOK = 90, /* everything left, when a webhook is configured */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: restanza [-c FILE] [-d]... [-f] [--check-config] "
            "[--doctor] [--version] [--help]\n"
            "  -c, --config FILE   configuration file (default %s)\n"
            "  -d, --debug         more verbose logging (repeatable)\n"
            "  -f, --foreground    stay in the foreground\n"
            "      --check-config  validate the configuration and exit\n"
            "      --doctor        connect, check grants and web apps, "
            "print a checklist\n"
            "      --version       print the version and exit\n"
            "      --help          print this help and exit\n",
            CONF_DEFAULT_PATH);
}

static enum log_level effective_level(enum log_level level, int verbosity)
{
    int l = (int)level + verbosity;
    return l > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG : (enum log_level)l;
}

static void on_stopped(void *arg)
{
    struct daemon *d = arg;
    loop_quit(d->loop);
}

/* Webhook replies are sent; now the stream may close. */
static void on_drained(void *arg)
{
    struct daemon *d = arg;
    component_stop(d->component, on_stopped, d);
}

static void main_on_deadline(void *arg)
{
    struct daemon *d = arg;

    d->deadline = NULL;
    log_warn("stop deadline reached", "ms=%d", STOP_DEADLINE_MS);
    loop_quit(d->loop);
}

static void on_terminate(int signo, void *arg)
{
    struct daemon *d = arg;

    if (d->stopping) {
        log_warn("second stop signal, exiting now", "signal=%d", signo);
        loop_quit(d->loop);
        return;
    }
    d->stopping = true;
    log_info("stopping", "signal=%s", signo == SIGTERM ? "TERM" : "INT");
    d->deadline =
        loop_timer_add(d->loop, STOP_DEADLINE_MS, main_on_deadline, d);
    httpd_shutdown(d->httpd);
    if (d->webhook != NULL)
        webhook_drain(d->webhook, WEBHOOK_DRAIN_MS, on_drained, d);
    else
        component_stop(d->component, on_stopped, d);
}

/* SIGHUP: re-read the file; only the log level can change at run time. */
/* Rate-limited log summaries are due when their window ends. */
static int64_t on_prepare_logs(void *arg)
{
    return log_ratelimit_flush(loop_now(arg));
}

static void on_reload(int signo, void *arg)
{
    struct daemon *d = arg;
    char *errs = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&errs, &len);
    struct conf *fresh = conf_load(d->conf_path, f);

    /* stderr may be /dev/null once detached: every problem goes to the
     * log, one line each. */
    if (f != NULL)
        fclose(f);
    if (fresh == NULL) {
        for (char *line = errs, *next; line != NULL && *line != '\0';
             line = next) {
            next = strchr(line, '\n');
            if (next != NULL)
                *next++ = '\0';
            log_error("configuration problem", "problem=%s", line);
        }
        log_error("reload failed: configuration invalid, keeping the old one",
                  "file=%s", d->conf_path);
        free(errs);
        return;
    }
    free(errs);
    enum log_level level = effective_level(fresh->log.level, d->verbosity);
    /* Say it under whichever of the two levels is more verbose. */
    if (level >= log_get_level())
        log_set_level(level);
    log_info("reloaded", "file=%s level=%s", d->conf_path,
             log_level_name(level));
    log_set_level(level);
    conf_free(fresh);
}

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit: every HTTP client is a
 * descriptor (SPEC 12, C10k; systemd's LimitNOFILE sets the hard limit).
 * Only libstrophe's socket needs a number below FD_SETSIZE (component.c).
 */
static void raise_fd_limit(const struct conf *conf)
{
    struct rlimit rl;
    unsigned long long need = (unsigned long long)conf->http.max_connections +
                              conf->webhook.concurrency +
                              conf->roster.concurrency + FD_MARGIN;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_warn("cannot read the file descriptor limit", "error=%s",
                 strerror(errno));
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            log_warn("cannot raise the file descriptor limit",
                     "soft=%llu hard=%llu error=%s", (unsigned long long)was,
                     (unsigned long long)rl.rlim_max, strerror(errno));
            rl.rlim_cur = was;
        }
    }
    if (rl.rlim_cur < need)
        log_warn("file descriptor limit below what the configuration may use: "
                 "raise LimitNOFILE (or ulimit -n)",
                 "limit=%llu needed=%llu max_connections=%u",
                 (unsigned long long)rl.rlim_cur, need,
                 conf->http.max_connections);
    else
        log_info("file descriptor limit", "limit=%llu needed=%llu",
                 (unsigned long long)rl.rlim_cur, need);
}

static void add_handler(struct daemon *d, struct dispatch_handler *h)
{
    d->handlers[d->n_handlers++] = h;
}

/* Who sees which incoming stanza, in which order. jabber:iq:roster is the
 * roster feature's alone: never the webhook's (SPEC §4). */
static void register_handlers(struct daemon *d)
{
    struct dispatch *dp = d->dispatch;

    add_handler(d, dispatch_register(dp, DISPATCH_MESSAGE, PRIO_ARCHIVE,
                                     archive_offer_message, d->archive));
    add_handler(d, dispatch_register(dp, DISPATCH_MESSAGE, PRIO_REST,
                                     rest_offer_message, d->rest));
    add_handler(d, dispatch_register(dp, DISPATCH_MESSAGE | DISPATCH_PRESENCE,
                                     PRIO_MUC, muc_offer, d->muc));
    add_handler(d, dispatch_register_state(dp, PRIO_MUC, muc_on_state, d->muc));
    if (d->roster != NULL) {
        add_handler(d, dispatch_register(dp, DISPATCH_PRESENCE, PRIO_ROSTER,
                                         roster_offer_presence, d->roster));
        add_handler(d,
                    dispatch_register_delegate(dp, NS_ROSTER, NULL, PRIO_ROSTER,
                                               roster_delegated, d->roster));
    }
    if (d->webhook != NULL) {
        add_handler(d,
                    dispatch_register(
                        dp, DISPATCH_MESSAGE | DISPATCH_PRESENCE | DISPATCH_IQ,
                        PRIO_WEBHOOK, webhook_offer, d->webhook));
        add_handler(
            d, dispatch_register_delegate(dp, NULL, NS_ROSTER, PRIO_WEBHOOK,
                                          webhook_delegated, d->webhook));
    }
}

static void unregister_handlers(struct daemon *d)
{
    while (d->n_handlers > 0)
        dispatch_unregister(d->dispatch, d->handlers[--d->n_handlers]);
}

/* The store named by store.path (attached to the loop last, in run). */
static int open_store(struct daemon *d)
{
    enum store_sync sync = d->conf->store.sync == CONF_SYNC_FULL
                               ? STORE_SYNC_FULL
                               : STORE_SYNC_NORMAL;

    d->store = store_open(d->conf->store.path, sync);
    return d->store != NULL ? 0 : -1;
}

static int run(struct daemon *d)
{
    int rc = EXIT_FATAL;

    raise_fd_limit(d->conf);
    d->loop = loop_new();
    if (d->loop == NULL)
        return EXIT_FATAL;
    if (loop_signal_add(d->loop, SIGTERM, on_terminate, d) < 0 ||
        loop_signal_add(d->loop, SIGINT, on_terminate, d) < 0 ||
        loop_signal_add(d->loop, SIGHUP, on_reload, d) < 0) {
        log_error("cannot set up signal handling", "");
        goto out;
    }
    loop_prepare_add(d->loop, on_prepare_logs, d->loop);
    if (d->conf->store.path != NULL && open_store(d) < 0)
        goto out;
    d->httpd = httpd_new(d->loop, d->conf);
    if (d->httpd == NULL)
        goto out;
    d->component = component_new(d->loop, d->conf);
    if (component_set_store(d->component, d->store) < 0)
        goto out;
    d->delegation = delegation_new();
    d->dispatch = dispatch_new(d->component, d->delegation, d->conf);
    d->status = status_new(d->httpd, d->component, d->delegation, d->conf);
    d->webhook =
        webhook_new(d->loop, d->component, d->dispatch, d->delegation, d->conf);
    status_set_webhook(d->status, d->webhook);
    d->events = events_new(d->loop, d->store, d->webhook, d->httpd, d->conf);
    status_set_events(d->status, d->events);
    d->rest = rest_new(d->httpd, d->component, d->delegation, d->conf);
    rest_set_store(d->rest, d->store);
    d->archive = archive_new(d->component, d->delegation, d->conf);
    rest_on_archive(d->rest, archive_take, d->archive);
    d->roster =
        roster_new(d->loop, d->component, d->dispatch, d->delegation, d->conf);
    d->refresh = refresh_new(d->httpd, d->roster, d->conf);
    status_set_roster(d->status, d->roster);
    d->muc = muc_new(d->loop, d->component, d->httpd, d->store, d->conf);
    rest_set_muc(d->rest, d->muc);
    register_handlers(d);
    /* Last: the store commits in its prepare hook, which must run after
     * httpd's (MHD runs handlers there too, and what they wrote would wait
     * for the next wake-up, after their answers went out). */
    if (d->store != NULL && store_attach(d->store, d->loop) < 0)
        goto out;
    log_info("started", "version=%s component=%s pid=%d", RESTANZA_VERSION,
             d->conf->component.jid, (int)getpid());
    component_start(d->component);
    if (loop_run(d->loop) == 0)
        rc = 0;
    log_info("stopped", "status=%d", rc);
out:
    loop_prepare_del(d->loop, on_prepare_logs, d->loop);
    loop_timer_cancel(d->loop, d->deadline);
    unregister_handlers(d);
    /* A start-up failure (store, listener) gets here before rest_new. */
    if (d->rest != NULL)
        rest_set_muc(d->rest, NULL);
    muc_free(d->muc);
    refresh_free(d->refresh);
    roster_free(d->roster);
    archive_free(d->archive);
    rest_free(d->rest);
    status_free(d->status);
    events_free(d->events);
    webhook_free(d->webhook);
    dispatch_free(d->dispatch);
    httpd_free(d->httpd);
    component_free(d->component);
    delegation_free(d->delegation);
    store_free(d->store);
    loop_free(d->loop);
    json_parse_release();
    return rc;
}

/* What the command line asks for besides running. */
struct options {
    bool check, foreground, doctor;
};

/* Parse argv into d and o: -1 to exit with *rc (help, version, errors). */
static int parse_args(int argc, char **argv, struct daemon *d,
                      struct options *o, int *rc)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"debug", no_argument, NULL, 'd'},
        {"foreground", no_argument, NULL, 'f'},
        {"check-config", no_argument, NULL, 'C'},
        {"doctor", no_argument, NULL, 'D'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    *rc = 0;
    while ((opt = getopt_long(argc, argv, "c:dfh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            d->conf_path = optarg;
            break;
        case 'd':
            d->verbosity++;
            break;
        case 'f':
            o->foreground = true;
            break;
        case 'C':
            o->check = true;
            break;
        case 'D':
            o->doctor = true;
            break;
        case 'V':
            printf("%s %s\n", RESTANZA_NAME, RESTANZA_VERSION);
            return -1;
        case 'h':
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            *rc = EXIT_CONFIG;
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "restanza: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        *rc = EXIT_CONFIG;
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct daemon d = {.conf_path = CONF_DEFAULT_PATH};
    struct options o = {0};
    int rc;

    if (parse_args(argc, argv, &d, &o, &rc) < 0)
        return rc;
    d.conf = conf_load(d.conf_path, stderr);
    if (d.conf == NULL)
        return EXIT_CONFIG;
    if (o.check) {
        printf("configuration OK: %s\n", d.conf_path);
        conf_free(d.conf);
        return 0;
    }
    log_set_level(effective_level(d.conf->log.level, d.verbosity));
    if (o.doctor) {
        /* The checklist is the output; logs only for problems (or -d). */
        log_set_level(effective_level(LOG_LEVEL_WARN, d.verbosity));
        signal(SIGPIPE, SIG_IGN);
        rc = doctor_run(d.conf);
        conf_free(d.conf);
        return rc;
    }
    /* Writes to a closed peer must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (!o.foreground && isatty(STDERR_FILENO)) {
        /* Started by hand without -f: detach, logging to syslog. */
        /* nochdir: relative *_file paths stay valid for SIGHUP. */
        if (daemon(1, 0) < 0) {
            perror("restanza: daemon");
            conf_free(d.conf);
            return EXIT_FATAL;
        }
        log_use_syslog();
    }
    rc = run(&d);
    conf_free(d.conf);
    return rc;
}
