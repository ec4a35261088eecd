/*
 * sim.h -- how a first packet becomes a cached flow.
 *
 * The agent keeps an in-memory copy of the virtual topology (topology.h).
 * When a packet misses both caches, sim_run() walks it through that
 * topology starting from its flow key alone: input port -> its network
 * (the virtual L2 switch) -> the port owning the destination MAC, or every
 * member for broadcast and unknown unicast, or the ARP responder.  Later
 * stages (router, security groups, NAT, load balancer) plug into the same
 * walk as further devices.
 *
 * Three things come out of a walk:
 *   - actions: what to do with this packet and every packet like it;
 *   - wildcards: every key field the walk read (FLOW_WC_MASK) -- this is
 *     the megaflow's mask, so a field the walk never looked at cannot make
 *     two packets behave differently;
 *   - tags: every topology object the walk consulted (flow-tags.h), so
 *     that a change to one of them invalidates exactly the flows built on
 *     it.
 *
 * Invariant (tested in tests/unit/test-sim-cache.c): for any packet P and
 * any packet Q that matches P's megaflow, sim_run(Q) returns the same
 * actions as sim_run(P).
 *
 * sim_run() reads the topology and writes only its outputs: it may be
 * called from the datapath thread that owns the topology.
 */
#ifndef WEFT_SIM_H
#define WEFT_SIM_H 1

#include "datapath/actions.h"
#include "datapath/flow-tags.h"
#include "lib/flow-key.h"

struct topology;

/* Optional explanation of a walk, one line per step, for `weftctl trace`
 * and golden tests. */
struct sim_trace {
    char **lines;
    size_t n, allocated;
};

void sim_trace_init(struct sim_trace *);
void sim_trace_destroy(struct sim_trace *);     /* Accepts NULL. */
void sim_trace_add(struct sim_trace *, const char *fmt, ...) PRINTF_FMT(2, 3);

/* Simulates 'key' through 'topo'.  'wc' must have been initialized with
 * flow_wc_init_catchall() (sim_run only adds bits), 'acts' and 'tags'
 * initialized and are appended to.  'trace' may be NULL.  Always produces
 * at least one action (a DROP with a reason when nothing else).  Returns 0,
 * or a positive errno on internal failure (then 'acts' holds a SIM_ERROR
 * drop). */
int sim_run(const struct topology *topo, const struct flow_key *key,
            struct flow_wc *wc, struct dp_actions *acts,
            struct flow_tags *tags, struct sim_trace *trace);

struct ct_conn_info;

/* For a connection tracked in the zone of local datapath port 'port_no'
 * (ct_conn_info, in its original direction): returns false if the port's
 * security groups, as they are now, would not let it start, i.e. if a
 * rule that allowed it has gone.  True when the port is not filtered (or
 * unknown). */
bool sim_sg_conn_permitted(const struct topology *, uint32_t port_no,
                           const struct ct_conn_info *);

/* Conntrack zones are datapath port numbers (16 bits): a bitmap of them. */
#define SIM_ZONE_WORDS (65536 / 64)

/* After topology updates that changed the tags in 'changed': sets in
 * 'zones' the zone of every local filtered port whose connections the
 * change may revoke -- its own tag, one of its groups' (sg:<id>), or the
 * membership of a group its rules name as remote group
 * (sgmembers:<id>) is in 'changed' (every filtered port if
 * changed->all).  Returns how many zones it set that were clear.  The
 * rest of the connection table can keep its verdicts. */
size_t sim_sg_affected_zones(const struct topology *,
                             const struct tag_set *changed,
                             uint64_t zones[SIM_ZONE_WORDS]);

#endif /* WEFT_SIM_H */
