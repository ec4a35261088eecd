/*
 * agent.h -- weft-agent: one hypervisor host's datapath and its control.
 *
 * struct agent ties together, on the main thread:
 *   - the datapath (datapath/dp.h), whose upcall runs the simulation
 *     (sim/sim.h) over the in-memory topology (sim/topology.h);
 *   - the sync thread's queue of controller changes (sync.h), applied in
 *     order; each applied change yields the tags that dp_invalidate()
 *     needs, a snapshot reload flushes every flow;
 *   - the link monitor (linkmon.h) and the binding reconciler (binding.h),
 *     run after every topology change or link event;
 *   - the control socket (ctl.h);
 * and owns the reporter thread (report.h) that heartbeats and sends port
 * status.  The main loop is agent_run(); agent_wait(); poll_block().
 */
#ifndef WEFT_AGENT_AGENT_H
#define WEFT_AGENT_AGENT_H 1

#include <stdbool.h>

#include "datapath/dp.h"

struct agent_options {
    const char *controller;     /* Base URL, e.g. "http://10.0.0.1:9696". */
    const char *host;           /* This host's name (binding:host_id). */
    const char *tunnel_ip;      /* Dotted quad: the underlay address. */
    const char *ctl_path;       /* Control socket path. */
    long long report_interval_ms;
    long long flow_idle_ms;     /* 0 = datapath default. */
    bool encap_override;        /* If true, 'encap' beats the snapshot. */
    enum dp_encap encap;
    unsigned dhcp_lease_time;   /* Seconds; 0 = DHCP_DEFAULT_LEASE_TIME. */
    const char *dhcp_domain;    /* Option 15; NULL = "openstacklocal". */
    unsigned icmp_error_rate;   /* ICMP errors per port per second (also
                                 * the burst); 0 = the datapath's
                                 * default. */
    unsigned ct_max_entries;    /* Connections tracked at most; 0 = the
                                 * connection tracker's default. */
    enum dp_fastpath fastpath;  /* --fastpath (main.c: AUTO by default). */
};

#define AGENT_DHCP_DOMAIN_DEFAULT "openstacklocal"

struct agent;

/* Creates the datapath, opens the control socket and the netlink socket,
 * and starts the sync and reporter threads.  Returns NULL and sets
 * '*errorp' (after logging what failed) on failure. */
struct agent *agent_create(const struct agent_options *, int *errorp);
/* Stops the threads, detaches everything, removes the control socket.
 * Accepts NULL. */
void agent_destroy(struct agent *);

void agent_run(struct agent *);
void agent_wait(struct agent *);

/* Parses "geneve" or "vxlan".  Returns false if 's' is neither. */
bool agent_parse_encap(const char *s, enum dp_encap *encapp);
const char *agent_encap_name(enum dp_encap);

#endif /* WEFT_AGENT_AGENT_H */
