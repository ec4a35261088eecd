/*
 * main.c -- weft-controller: parse options, open the store, serve the API
 * until SIGTERM or SIGINT, then shut down cleanly.
 *
 *   weft-controller [--listen ADDR:PORT] [--store sqlite:PATH|memory:]
 *                   [--encap geneve|vxlan] [--global-physnet-mtu N]
 *                   [--agent-down-time S] [--log-level dbg|info|warn|err]
 *
 * The main thread blocks in sigwait(); libmicrohttpd's threads do all the
 * work (see http.h).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/http.h"
#include "controller/resource.h"
#include "controller/store.h"
#include "lib/log.h"
#include "lib/util.h"

#define DEFAULT_LISTEN "0.0.0.0:9696"
#define DEFAULT_STORE "sqlite:/var/lib/weft/weft.db"

static void NORETURN
usage(int status)
{
    printf("usage: weft-controller [OPTIONS]\n"
           "  --listen ADDR:PORT         default " DEFAULT_LISTEN "\n"
           "  --store URL                sqlite:PATH or memory:, default\n"
           "                             " DEFAULT_STORE "\n"
           "  --encap geneve|vxlan       default geneve\n"
           "  --global-physnet-mtu N     underlay MTU, default 1500\n"
           "  --agent-down-time S        default 30\n"
           "  --log-level LEVEL          dbg, info, warn, err\n"
           "  --print-api-reference      print the resource attribute\n"
           "                             tables (Markdown) and exit\n");
    exit(status);
}

static bool
parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

int
main(int argc, char *argv[])
{
    enum { OPT_LISTEN = 256, OPT_STORE, OPT_ENCAP, OPT_MTU, OPT_DOWN,
           OPT_LOG, OPT_REFERENCE };
    static const struct option options[] = {
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "store", required_argument, NULL, OPT_STORE },
        { "encap", required_argument, NULL, OPT_ENCAP },
        { "global-physnet-mtu", required_argument, NULL, OPT_MTU },
        { "agent-down-time", required_argument, NULL, OPT_DOWN },
        { "log-level", required_argument, NULL, OPT_LOG },
        { "print-api-reference", no_argument, NULL, OPT_REFERENCE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *listen = DEFAULT_LISTEN, *store_url = DEFAULT_STORE;
    struct api_config cfg = { "geneve", 1500, 30 };
    enum log_level level = LOG_INFO;
    struct http_server *http = NULL;
    struct store *store = NULL;
    struct api *api = NULL;
    char *err = NULL;
    sigset_t sigs;
    int sig, c, status = EXIT_FAILURE;

    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            listen = optarg;
            break;
        case OPT_STORE:
            store_url = optarg;
            break;
        case OPT_ENCAP:
            if (strcmp(optarg, "geneve") && strcmp(optarg, "vxlan")) {
                fprintf(stderr, "weft-controller: --encap: geneve or "
                        "vxlan\n");
                return EXIT_FAILURE;
            }
            cfg.encap = optarg;
            break;
        case OPT_MTU:
            if (!parse_int(optarg, 576, 65535, &cfg.global_physnet_mtu)) {
                fprintf(stderr, "weft-controller: --global-physnet-mtu: "
                        "576..65535\n");
                return EXIT_FAILURE;
            }
            break;
        case OPT_DOWN:
            if (!parse_int(optarg, 1, 86400, &cfg.agent_down_time)) {
                fprintf(stderr, "weft-controller: --agent-down-time: "
                        "1..86400\n");
                return EXIT_FAILURE;
            }
            break;
        case OPT_LOG:
            if (!log_level_from_string(optarg, &level)) {
                fprintf(stderr, "weft-controller: --log-level: dbg, info, "
                        "warn or err\n");
                return EXIT_FAILURE;
            }
            break;
        case OPT_REFERENCE:
            resource_print_reference(stdout);
            return EXIT_SUCCESS;
        case 'h':
            usage(EXIT_SUCCESS);
        default:
            usage(EXIT_FAILURE);
        }
    }
    if (optind != argc) {
        usage(EXIT_FAILURE);
    }
    log_init("controller", level);

    if (!strncmp(store_url, "etcd:", 5)) {
        VLOG_ERR("%s: the etcd store backend is not built in this version "
                 "(use sqlite:PATH or memory:)", store_url);
        return EXIT_FAILURE;
    }

    /* Block the signals before any thread exists so that every thread
     * inherits the mask and only sigwait() below receives them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    store = store_open(store_url, &err);
    if (!store) {
        VLOG_ERR("%s", err ? err : "cannot open store");
        goto out;
    }
    api = api_create(store, &cfg);
    if (!api) {
        VLOG_ERR("invalid configuration");
        goto out;
    }
    http = http_start(api, listen, &err);
    if (!http) {
        VLOG_ERR("%s", err ? err : "cannot start HTTP server");
        goto out;
    }
    VLOG_INFO("listening on %s (port %d), store %s, encap %s, revision %lld",
              listen, http_port(http), store_url, cfg.encap,
              (long long) store_revision(store));

    while (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT)) {
        continue;
    }
    VLOG_INFO("%s: shutting down", strsignal(sig));
    status = EXIT_SUCCESS;

out:
    if (api) {
        api_shutdown(api);
    }
    http_stop(http);
    api_destroy(api);
    store_close(store);
    free(err);
    return status;
}
