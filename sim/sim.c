/*
 * sim.c -- the simulation of a first packet through the virtual topology
 * (see sim.h).  Today the walk has one device, the virtual L2 switch of a
 * network, entered either from a local VM port (the ingress stage: the
 * whole decision is taken here) or from the tunnel (the egress stage: the
 * ingress host already chose this host, we only deliver).
 *
 * Discipline for every step:
 *   - read a key field only after un-wildcarding it (FLOW_WC_MASK or, for
 *     a single bit, an explicit mask bit), and only the bits actually
 *     looked at, so the megaflow covers as many packets as possible;
 *   - tag every topology object whose state the decision depended on,
 *     including the absence of an object (the "vni:" and "inport:" tags)
 *     and the outcome of a membership lookup (netmembers:);
 *   - produce actions in a canonical order (outputs by port number, then
 *     tunnels by remote IP) so equal topologies give equal flows.
 */
#include "sim/sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "sim/topology-private.h"

BUILD_ASSERT_DECL(FLOW_KEY_SEQ == 1);

/* A flood to more remote hosts than this is tagged with the "any host"
 * tag instead of one host:<name> tag each, so that the flow keeps room
 * for its other tags instead of overflowing (flow-tags.h). */
#define SIM_MAX_HOST_TAGS 8
BUILD_ASSERT_DECL(SIM_MAX_HOST_TAGS + 6 <= FLOW_TAGS_MAX);

struct sim_ctx {
    const struct topology *topo;
    const struct flow_key *key;
    struct flow_wc *wc;
    struct dp_actions *acts;
    struct flow_tags *tags;
    struct sim_trace *trace;
};

static void sim_vif_ingress(struct sim_ctx *);
static void sim_tunnel_ingress(struct sim_ctx *);
static void sim_drop(struct sim_ctx *, enum drop_reason, const char *why);
static void sim_finish(struct sim_ctx *, size_t start);

void
sim_trace_init(struct sim_trace *trace)
{
    trace->lines = NULL;
    trace->n = trace->allocated = 0;
}

void
sim_trace_destroy(struct sim_trace *trace)
{
    if (trace) {
        for (size_t i = 0; i < trace->n; i++) {
            free(trace->lines[i]);
        }
        free(trace->lines);
        sim_trace_init(trace);
    }
}

void
sim_trace_add(struct sim_trace *trace, const char *fmt, ...)
{
    va_list args;
    char *line;

    va_start(args, fmt);
    if (vasprintf(&line, fmt, args) < 0) {
        line = xstrdup("(out of memory)");
    }
    va_end(args);

    if (trace->n == trace->allocated) {
        trace->allocated = trace->allocated ? 2 * trace->allocated : 8;
        trace->lines = xrealloc(trace->lines,
                                trace->allocated * sizeof *trace->lines);
    }
    trace->lines[trace->n++] = line;
}

int
sim_run(const struct topology *topo, const struct flow_key *key,
        struct flow_wc *wc, struct dp_actions *acts,
        struct flow_tags *tags, struct sim_trace *trace)
{
    struct sim_ctx ctx = {
        .topo = topo, .key = key, .wc = wc, .acts = acts, .tags = tags,
        .trace = trace,
    };
    size_t start = acts->n;

    if (!topo || !key) {
        dp_actions_drop(acts, DROP_SIM_ERROR);
        return EINVAL;
    }

    FLOW_WC_MASK(wc, in_port);
    if (key->in_port == FLOW_PORT_TUNNEL) {
        sim_tunnel_ingress(&ctx);
    } else if (key->in_port >= FLOW_PORT_FIRST_VIF) {
        sim_vif_ingress(&ctx);
    } else {
        flow_tags_add(tags, topo_tag_inport(key->in_port));
        sim_drop(&ctx, DROP_NO_PORT, "no such input port");
    }
    sim_finish(&ctx, start);
    return 0;
}

/* Formatting for traces. */

struct sim_name {
    char s[96];
};

/* "5c1e0a2b.." for long ids, the id itself otherwise. */
static const char *
short_id(const char *id, char buf[16])
{
    if (strlen(id) > 8) {
        snprintf(buf, 16, "%.8s..", id);
    } else {
        snprintf(buf, 16, "%s", id);
    }
    return buf;
}

/* "port 5c1e0a2b.. (vm1)". */
static const char *
port_name(const struct topo_port *port, struct sim_name *out)
{
    char id[16];

    short_id(port->id, id);
    if (port->name[0]) {
        snprintf(out->s, sizeof out->s, "port %s (%.40s)", id, port->name);
    } else {
        snprintf(out->s, sizeof out->s, "port %s", id);
    }
    return out->s;
}

/* "network net1 (vni 7)". */
static const char *
net_name(const struct topo_net *net, struct sim_name *out)
{
    char id[16];
    const char *name = net->name[0] ? net->name : short_id(net->id, id);

    if (net->has_vni) {
        snprintf(out->s, sizeof out->s, "network %.40s (vni %u)", name,
                 net->vni);
    } else {
        snprintf(out->s, sizeof out->s, "network %.40s (no vni)", name);
    }
    return out->s;
}

static const char *
ip_name(be32 ip, char buf[INET_ADDRSTRLEN])
{
    inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
    return buf;
}

/* Steps shared by both stages. */

static void
sim_drop(struct sim_ctx *ctx, enum drop_reason reason, const char *why)
{
    if (ctx->trace) {
        sim_trace_add(ctx->trace, "drop (%s): %s", drop_reason_name(reason),
                      why);
    }
    dp_actions_drop(ctx->acts, reason);
}

static int
cmp_output(const void *a_, const void *b_)
{
    const struct dp_action *a = a_, *b = b_;

    return a->arg < b->arg ? -1 : a->arg > b->arg;
}

static int
cmp_tunnel(const void *a_, const void *b_)
{
    const struct dp_action *a = a_, *b = b_;
    uint32_t x = ntohl(a->remote_ip), y = ntohl(b->remote_ip);

    return x < y ? -1 : x > y;
}

/* Appends OUTPUT to every local port of 'net' that is attached here and
 * admin up, other than datapath port 'skip' (the input port). */
static void
sim_flood_local(struct sim_ctx *ctx, const struct topo_net *net,
                uint32_t skip)
{
    size_t start = ctx->acts->n;
    const struct topo_port *p;

    for (p = net->local_members; p; p = p->local_next) {
        if (p->binding && p->admin_up && p->binding->port_no != skip) {
            dp_actions_output(ctx->acts, p->binding->port_no);
        }
    }
    if (ctx->acts->n - start > 1) {
        qsort(ctx->acts->a + start, ctx->acts->n - start,
              sizeof *ctx->acts->a, cmp_output);
    }
}

/* Appends one TUNNEL per other host that has a port on 'net' and a known
 * tunnel IP, sorted by IP, without duplicates. */
static void
sim_flood_remote(struct sim_ctx *ctx, const struct topo_net *net)
{
    size_t start = ctx->acts->n;
    size_t i, n;
    bool many;

    if (!net->has_vni) {
        if (ctx->trace && net->n_hosts) {
            sim_trace_add(ctx->trace, "flood: network has no vni, "
                          "not replicating to other hosts");
        }
        return;
    }
    many = net->n_hosts > SIM_MAX_HOST_TAGS;
    if (many) {
        flow_tags_add(ctx->tags, topo_tag_any_host());
    }
    for (i = 0; i < net->n_hosts; i++) {
        const char *host = net->hosts[i].host;
        const struct topo_agent *agent = topo_find_host(ctx->topo, host);

        if (!many) {
            flow_tags_add(ctx->tags, net->hosts[i].tag);
        }
        if (agent && agent->has_tunnel_ip) {
            dp_actions_tunnel(ctx->acts, net->vni, agent->tunnel_ip);
        } else if (ctx->trace) {
            sim_trace_add(ctx->trace, "flood: host %s has no known tunnel "
                          "ip, skipped", host);
        }
    }
    n = ctx->acts->n - start;
    if (n > 1) {
        qsort(ctx->acts->a + start, n, sizeof *ctx->acts->a, cmp_tunnel);
    }
    for (i = 1; i < n; ) {
        struct dp_action *a = &ctx->acts->a[start + i];

        if (a->remote_ip == a[-1].remote_ip) {
            memmove(a, a + 1, (n - i - 1) * sizeof *a);
            n--;
        } else {
            i++;
        }
    }
    ctx->acts->n = start + n;
}

/* Broadcast, multicast or unknown unicast on 'net'.  From a VIF the flood
 * reaches the other local ports and other hosts; from the tunnel only
 * local ports (the ingress host already replicated it). */
static void
sim_flood(struct sim_ctx *ctx, const struct topo_net *net)
{
    size_t start = ctx->acts->n;

    flow_tags_add(ctx->tags, net->members_tag);
    sim_flood_local(ctx, net, ctx->key->in_port);
    if (ctx->key->in_port != FLOW_PORT_TUNNEL) {
        sim_flood_remote(ctx, net);
    }
    if (ctx->acts->n == start) {
        sim_drop(ctx, DROP_NO_FLOOD_TARGET,
                 "no other port on the network to flood to");
    }
}

/* The switch's MAC lookup on 'net', shared by both stages: floods
 * broadcast, multicast and unknown unicast (see sim_flood()) and returns
 * NULL, or returns the port that owns the destination MAC.  When tracing,
 * 'mac' receives the destination MAC as text. */
static const struct topo_port *
sim_l2_lookup(struct sim_ctx *ctx, const struct topo_net *net, char mac[18])
{
    const struct flow_key *key = ctx->key;
    const char *flood = (key->in_port == FLOW_PORT_TUNNEL
                         ? "deliver to local ports" : "flood");
    const struct topo_port *dst;

    ctx->wc->masks.eth_dst.ea[0] |= 1;
    if (ctx->trace) {
        eth_addr_to_string(&key->eth_dst, mac);
    }
    if (eth_addr_is_multicast(&key->eth_dst)) {
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "l2: dst %s is %s: %s", mac,
                          memcmp(key->eth_dst.ea, "\xff\xff\xff\xff\xff\xff",
                                 ETH_ADDR_LEN) ? "multicast" : "broadcast",
                          flood);
        }
        sim_flood(ctx, net);
        return NULL;
    }

    FLOW_WC_MASK(ctx->wc, eth_dst);
    dst = topo_find_port_by_mac(ctx->topo, net, &key->eth_dst);
    if (!dst) {
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "l2: dst %s is unknown on the "
                          "network: %s", mac, flood);
        }
        sim_flood(ctx, net);
    }
    return dst;
}

/* Ends the walk: guarantees at least one action and traces the result. */
static void
sim_finish(struct sim_ctx *ctx, size_t start)
{
    if (ctx->acts->n == start) {
        sim_drop(ctx, DROP_SIM_ERROR, "walk produced no action");
    }
    if (ctx->trace) {
        struct dp_actions tail = {
            .n = ctx->acts->n - start,
            .allocated = ctx->acts->n - start,
            .a = ctx->acts->a + start,
        };
        char buf[1024];

        sim_trace_add(ctx->trace, "-> %s",
                      dp_actions_format(&tail, buf, sizeof buf));
    }
}

/* Ingress stage: from a local VM port. */

/* ARP responder.  Returns true if it answered. */
static bool
sim_arp_responder(struct sim_ctx *ctx, const struct topo_port *in,
                  const struct topo_net *net)
{
    const struct flow_key *key = ctx->key;
    const struct topo_port *target;
    char ip[INET_ADDRSTRLEN];

    FLOW_WC_MASK(ctx->wc, nw_proto);
    if (key->nw_proto != ARP_OP_REQUEST) {
        return false;
    }
    ctx->wc->masks.nw_dst.ip4 = UINT32_MAX;
    flow_tags_add(ctx->tags, net->members_tag);
    target = topo_find_port_by_ip(ctx->topo, net, key->nw_dst.ip4, in);
    if (!target) {
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "arp: who-has %s: no other port on "
                          "the network has it, handled as broadcast",
                          ip_name(key->nw_dst.ip4, ip));
        }
        return false;
    }

    flow_tags_add(ctx->tags, target->tag);
    if (ctx->trace) {
        struct sim_name pn;
        char mac[18];

        eth_addr_to_string(&target->mac, mac);
        sim_trace_add(ctx->trace, "arp: who-has %s = %s: reply %s",
                      ip_name(key->nw_dst.ip4, ip), port_name(target, &pn),
                      mac);
    }
    dp_actions_arp_reply(ctx->acts, &target->mac);
    return true;
}

/* Unicast to 'dst', a port on 'net', from local port 'in'. */
static void
sim_unicast(struct sim_ctx *ctx, const struct topo_port *in,
            const struct topo_net *net, const struct topo_port *dst)
{
    struct sim_name pn;
    char mac[18], ip[INET_ADDRSTRLEN];

    flow_tags_add(ctx->tags, dst->tag);
    if (ctx->trace) {
        eth_addr_to_string(&dst->mac, mac);
        port_name(dst, &pn);
    }

    if (dst == in) {
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "l2: dst %s = %s, the input port", mac,
                          pn.s);
        }
        sim_drop(ctx, DROP_HAIRPIN, "destination is the input port");
    } else if (dst->local) {
        if (!dst->binding) {
            if (ctx->trace) {
                sim_trace_add(ctx->trace, "l2: dst %s = %s bound here but "
                              "not attached", mac, pn.s);
            }
            sim_drop(ctx, DROP_UNKNOWN_DST, "destination not attached");
            return;
        }
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "l2: dst %s = %s attached here on "
                          "port %u", mac, pn.s, dst->binding->port_no);
        }
        if (dst->binding->port_no == ctx->key->in_port) {
            sim_drop(ctx, DROP_HAIRPIN, "destination is the input port");
        } else if (!dst->admin_up) {
            sim_drop(ctx, DROP_PORT_ADMIN_DOWN, "destination port is "
                     "admin down");
        } else {
            dp_actions_output(ctx->acts, dst->binding->port_no);
        }
    } else if (dst->host[0]) {
        const struct topo_agent *agent = topo_find_host(ctx->topo, dst->host);

        flow_tags_add(ctx->tags, dst->host_tag);
        if (!agent || !agent->has_tunnel_ip) {
            if (ctx->trace) {
                sim_trace_add(ctx->trace, "l2: dst %s = %s bound on host %s "
                              "(no tunnel ip)", mac, pn.s, dst->host);
            }
            sim_drop(ctx, DROP_NO_TUNNEL_IP, "destination host has no "
                     "known tunnel ip");
            return;
        }
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "l2: dst %s = %s bound on host %s (%s)",
                          mac, pn.s, dst->host,
                          ip_name(agent->tunnel_ip, ip));
        }
        if (!net->has_vni) {
            sim_drop(ctx, DROP_UNKNOWN_VNI, "network has no vni");
        } else {
            dp_actions_tunnel(ctx->acts, net->vni, agent->tunnel_ip);
        }
    } else {
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "l2: dst %s = %s not bound to any host",
                          mac, pn.s);
        }
        sim_drop(ctx, DROP_UNKNOWN_DST, "destination port is not bound");
    }
}

static void
sim_vif_ingress(struct sim_ctx *ctx)
{
    const struct flow_key *key = ctx->key;
    struct flow_wc *wc = ctx->wc;
    const struct topo_binding *b;
    const struct topo_port *in, *dst;
    const struct topo_net *net;
    struct sim_name pn, nn;
    char mac[18];

    b = topo_find_binding_by_no(ctx->topo, key->in_port);
    flow_tags_add(ctx->tags, b ? b->inport_tag
                               : topo_tag_inport(key->in_port));
    if (!b || !b->port) {
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "ingress port %u: %s", key->in_port,
                          b ? "its logical port is unknown"
                            : "not bound to a logical port");
        }
        if (b) {
            flow_tags_add(ctx->tags, topo_tag_port(b->port_id));
        }
        sim_drop(ctx, DROP_NO_PORT, "input port not bound");
        return;
    }
    in = b->port;
    net = in->net;
    flow_tags_add(ctx->tags, in->tag);
    flow_tags_add(ctx->tags, net->tag);
    if (!net->present) {
        if (ctx->trace) {
            char id[16];

            sim_trace_add(ctx->trace, "ingress port %u = %s on unknown "
                          "network %s", key->in_port, port_name(in, &pn),
                          short_id(net->id, id));
        }
        sim_drop(ctx, DROP_NO_NETWORK, "port's network is unknown");
        return;
    }
    if (ctx->trace) {
        sim_trace_add(ctx->trace, "ingress port %u = %s on %s", key->in_port,
                      port_name(in, &pn), net_name(net, &nn));
    }

    if (!in->admin_up) {
        sim_drop(ctx, DROP_PORT_ADMIN_DOWN, "input port is admin down");
        return;
    }
    if (!net->admin_up) {
        sim_drop(ctx, DROP_NET_ADMIN_DOWN, "network is admin down");
        return;
    }
    FLOW_WC_MASK(wc, vlan_tci);
    if (key->vlan_tci) {
        sim_drop(ctx, DROP_VLAN_TAGGED, "802.1Q tag on a tenant port");
        return;
    }
    wc->masks.eth_src.ea[0] |= 1;
    if (eth_addr_is_multicast(&key->eth_src)) {
        sim_drop(ctx, DROP_BAD_SRC_MAC, "multicast source mac");
        return;
    }

    FLOW_WC_MASK(wc, eth_type);
    if (key->eth_type == htons(ETH_TYPE_ARP)
        && sim_arp_responder(ctx, in, net)) {
        return;
    }

    dst = sim_l2_lookup(ctx, net, mac);
    if (dst) {
        sim_unicast(ctx, in, net, dst);
    }
}

/* Egress stage: from the tunnel. */

static void
sim_tunnel_ingress(struct sim_ctx *ctx)
{
    const struct flow_key *key = ctx->key;
    struct flow_wc *wc = ctx->wc;
    const struct topo_port *dst;
    const struct topo_net *net;
    struct sim_name pn, nn;
    char mac[18];

    FLOW_WC_MASK(wc, tun_vni);
    net = topo_find_net_by_vni(ctx->topo, key->tun_vni);
    flow_tags_add(ctx->tags, net ? net->vni_tag : topo_tag_vni(key->tun_vni));
    if (!net) {
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "ingress tunnel vni %u: no such "
                          "network", key->tun_vni);
        }
        sim_drop(ctx, DROP_UNKNOWN_VNI, "no network has this vni");
        return;
    }
    flow_tags_add(ctx->tags, net->tag);
    if (ctx->trace) {
        sim_trace_add(ctx->trace, "ingress tunnel vni %u = %s", key->tun_vni,
                      net_name(net, &nn));
    }
    if (!net->admin_up) {
        sim_drop(ctx, DROP_NET_ADMIN_DOWN, "network is admin down");
        return;
    }

    dst = sim_l2_lookup(ctx, net, mac);
    if (!dst) {
        return;
    }
    flow_tags_add(ctx->tags, dst->tag);
    if (!dst->local || !dst->binding) {
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "l2: dst %s = %s, not attached here",
                          mac, port_name(dst, &pn));
        }
        sim_drop(ctx, DROP_UNKNOWN_DST, "destination not attached here");
        return;
    }
    if (ctx->trace) {
        sim_trace_add(ctx->trace, "l2: dst %s = %s attached here on port %u",
                      mac, port_name(dst, &pn), dst->binding->port_no);
    }
    if (!dst->admin_up) {
        sim_drop(ctx, DROP_PORT_ADMIN_DOWN, "destination port is admin "
                 "down");
    } else {
        dp_actions_output(ctx->acts, dst->binding->port_no);
    }
}
