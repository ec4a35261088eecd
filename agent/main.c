/*
 * main.c -- weft-agent's command line and main loop.
 *
 * Parses options, blocks SIGTERM/SIGINT (before any thread starts, so
 * only the main thread sees them, through a signalfd), creates the agent
 * and runs the poll loop until a signal arrives.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/dhcp.h"
#include "lib/log.h"
#include "lib/poll-loop.h"
#include "lib/util.h"

static void usage(void);
static void parse_options(int argc, char *argv[], struct agent_options *,
                          enum log_level *);
static void NORETURN bad_option(const char *fmt, ...) PRINTF_FMT(1, 2);

int
main(int argc, char *argv[])
{
    struct agent_options opts;
    enum log_level level = LOG_INFO;
    struct signalfd_siginfo si;
    struct agent *agent;
    sigset_t sigs;
    int sfd, error;
    char *ctl_default = NULL;

    log_init("agent", LOG_INFO);
    parse_options(argc, argv, &opts, &level);
    log_set_level(level);
    if (!opts.ctl_path) {
        ctl_default = xasprintf("/run/weft/weft-agent.%s.ctl", opts.host);
        opts.ctl_path = ctl_default;
    }

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL)) {
        VLOG_ERR("cannot block signals");
        return EXIT_FAILURE;
    }
    sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        VLOG_ERR("signalfd: %s", strerror(errno));
        return EXIT_FAILURE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        VLOG_ERR("cannot initialize libcurl");
        return EXIT_FAILURE;
    }

    agent = agent_create(&opts, &error);
    if (!agent) {
        curl_global_cleanup();
        free(ctl_default);
        return EXIT_FAILURE;
    }

    for (;;) {
        ssize_t n = poll_fd_ready(sfd) ? read(sfd, &si, sizeof si) : 0;

        if (n == sizeof si && si.ssi_signo != SIGHUP) {
            VLOG_INFO("%s: exiting", strsignal(si.ssi_signo));
            break;
        }
        agent_run(agent);
        agent_wait(agent);
        poll_fd_wait(sfd, POLLIN);
        poll_block();
    }

    agent_destroy(agent);
    curl_global_cleanup();
    close(sfd);
    free(ctl_default);
    return EXIT_SUCCESS;
}

static void
usage(void)
{
    printf("\
usage: weft-agent --controller URL --host NAME --tunnel-ip IP [OPTION]...\n\
Runs the Weft datapath of one hypervisor host.\n\
\n\
Required:\n\
  --controller URL        controller API root, e.g. http://10.0.0.1:9696\n\
  --host NAME             this host's name (ports with binding:host_id=NAME\n\
                          are attached here)\n\
  --tunnel-ip IP          this host's underlay IPv4 address\n\
\n\
Options:\n\
  --ctl PATH              control socket (default\n\
                          /run/weft/weft-agent.NAME.ctl)\n\
  --report-interval SEC   heartbeat interval in seconds (default 5)\n\
  --flow-idle-ms N        expire flows idle for N ms (default: datapath's)\n\
  --encap geneve|vxlan    tunnel encapsulation to send (default: the\n\
                          controller's configuration)\n\
  --dhcp-lease-time SEC   lease time the DHCP server gives (default 86400)\n\
  --dhcp-domain NAME      domain name option of DHCP replies (default\n\
                          openstacklocal)\n\
  --icmp-error-rate N     ICMP errors the routers send per port per second\n\
                          (also the burst; default 100)\n\
  --ct-max-entries N      connections the security groups track at most\n\
                          (default 262144)\n\
  --fastpath MODE         kernel fast path for cached flows: auto (the\n\
                          default: on if the kernel allows), kernel (on,\n\
                          or fail to start) or off (all in the agent)\n\
  --log-level LEVEL       dbg, info, warn or err (default info)\n\
  -h, --help              show this help and exit\n");
}

static void
bad_option(const char *fmt, ...)
{
    va_list args;

    fprintf(stderr, "weft-agent: ");
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fprintf(stderr, "\nTry 'weft-agent --help' for more information.\n");
    exit(2);
}

static long long
parse_number(const char *name, const char *s, double min, double max,
             double scale)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || v != v || v < min || v > max) {
        bad_option("--%s: \"%s\" is not a number between %g and %g", name,
                   s, min, max);
    }
    return (long long) (v * scale + 0.5);
}

static void
parse_options(int argc, char *argv[], struct agent_options *opts,
              enum log_level *levelp)
{
    enum {
        OPT_CONTROLLER = 256, OPT_HOST, OPT_TUNNEL_IP, OPT_CTL,
        OPT_REPORT_INTERVAL, OPT_FLOW_IDLE, OPT_LOG_LEVEL, OPT_ENCAP,
        OPT_DHCP_LEASE, OPT_DHCP_DOMAIN, OPT_ICMP_RATE, OPT_CT_MAX,
        OPT_FASTPATH,
    };
    static const struct option long_options[] = {
        { "controller", required_argument, NULL, OPT_CONTROLLER },
        { "host", required_argument, NULL, OPT_HOST },
        { "tunnel-ip", required_argument, NULL, OPT_TUNNEL_IP },
        { "ctl", required_argument, NULL, OPT_CTL },
        { "report-interval", required_argument, NULL, OPT_REPORT_INTERVAL },
        { "flow-idle-ms", required_argument, NULL, OPT_FLOW_IDLE },
        { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
        { "encap", required_argument, NULL, OPT_ENCAP },
        { "dhcp-lease-time", required_argument, NULL, OPT_DHCP_LEASE },
        { "dhcp-domain", required_argument, NULL, OPT_DHCP_DOMAIN },
        { "icmp-error-rate", required_argument, NULL, OPT_ICMP_RATE },
        { "ct-max-entries", required_argument, NULL, OPT_CT_MAX },
        { "fastpath", required_argument, NULL, OPT_FASTPATH },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct in_addr ip;

    memset(opts, 0, sizeof *opts);
    opts->fastpath = DP_FASTPATH_AUTO;
    opts->report_interval_ms = 5000;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_CONTROLLER:
            if (strncmp(optarg, "http://", 7)
                && strncmp(optarg, "https://", 8)) {
                bad_option("--controller: \"%s\" is not an http:// URL",
                           optarg);
            }
            opts->controller = optarg;
            break;
        case OPT_HOST:
            if (!optarg[0] || strlen(optarg) > 255 || strchr(optarg, '/')) {
                bad_option("--host: \"%s\" is not a valid host name",
                           optarg);
            }
            opts->host = optarg;
            break;
        case OPT_TUNNEL_IP:
            if (inet_pton(AF_INET, optarg, &ip) != 1) {
                bad_option("--tunnel-ip: \"%s\" is not an IPv4 address",
                           optarg);
            }
            opts->tunnel_ip = optarg;
            break;
        case OPT_CTL:
            if (!optarg[0]) {
                bad_option("--ctl: empty path");
            }
            opts->ctl_path = optarg;
            break;
        case OPT_REPORT_INTERVAL:
            opts->report_interval_ms = parse_number("report-interval",
                                                    optarg, 0.1, 3600,
                                                    1000);
            break;
        case OPT_FLOW_IDLE:
            opts->flow_idle_ms = parse_number("flow-idle-ms", optarg, 1,
                                              86400000, 1);
            break;
        case OPT_LOG_LEVEL:
            if (!log_level_from_string(optarg, levelp)) {
                bad_option("--log-level: \"%s\" is not dbg, info, warn "
                           "or err", optarg);
            }
            break;
        case OPT_ENCAP:
            if (!agent_parse_encap(optarg, &opts->encap)) {
                bad_option("--encap: \"%s\" is not geneve or vxlan",
                           optarg);
            }
            opts->encap_override = true;
            break;
        case OPT_DHCP_LEASE:
            /* At least 4 s: clients renew at half the lease. */
            opts->dhcp_lease_time = (unsigned) parse_number(
                "dhcp-lease-time", optarg, 4, 0x7fffffff, 1);
            break;
        case OPT_DHCP_DOMAIN:
            if (!dhcp_name_is_valid(optarg, true)) {
                bad_option("--dhcp-domain: \"%s\" is not a domain name "
                           "of at most 63 characters", optarg);
            }
            opts->dhcp_domain = optarg;
            break;
        case OPT_ICMP_RATE:
            opts->icmp_error_rate = (unsigned) parse_number(
                "icmp-error-rate", optarg, 1, 1000000, 1);
            break;
        case OPT_CT_MAX:
            opts->ct_max_entries = (unsigned) parse_number(
                "ct-max-entries", optarg, 1, CT_MAX_ENTRIES_LIMIT, 1);
            break;
        case OPT_FASTPATH:
            if (!strcmp(optarg, "auto")) {
                opts->fastpath = DP_FASTPATH_AUTO;
            } else if (!strcmp(optarg, "kernel")) {
                opts->fastpath = DP_FASTPATH_KERNEL;
            } else if (!strcmp(optarg, "off")) {
                opts->fastpath = DP_FASTPATH_OFF;
            } else {
                bad_option("--fastpath: \"%s\" is not auto, kernel or off",
                           optarg);
            }
            break;
        case 'h':
            usage();
            exit(EXIT_SUCCESS);
        case ':':
            bad_option("option %s needs an argument", argv[optind - 1]);
        default:
            bad_option("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        bad_option("unexpected argument \"%s\"", argv[optind]);
    }
    if (!opts->controller) {
        bad_option("--controller is required");
    }
    if (!opts->host) {
        bad_option("--host is required");
    }
    if (!opts->tunnel_ip) {
        bad_option("--tunnel-ip is required");
    }
}
