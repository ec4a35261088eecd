/*
 * sim.c -- the simulation of a first packet through the virtual topology
 * (see sim.h).  The walk crosses two kinds of device: the virtual L2
 * switch of a network, and the distributed router.  It is entered either
 * from a local VM port (the ingress stage: the whole decision is taken
 * here, across as many switches and routers as the packet crosses) or from
 * the tunnel (the egress stage: the ingress host already chose this host
 * and rewrote the packet for the last network, we only deliver).
 *
 * The ingress stage, in order: the input port and its network; DHCP from
 * the VM goes to the agent's DHCP server; ARP requests are answered from
 * the topology (ports, router interfaces, the DHCP server address); then
 * the switch looks up the destination MAC.  A router interface MAC enters
 * the router (sim_route()): a longest-prefix match on the destination
 * (un-wildcarding only the address bits that decided it), packets for the
 * router itself (ICMP echo), TTL, and ICMP errors for what cannot be
 * forwarded; a next hop that is another router's interface continues the
 * walk in that router.  The last router rewrites the MACs, decrements the
 * TTL by the number of routers crossed and hands the packet to the
 * destination port as the switch would, so a routed flow is one cached
 * flow, output or tunnelled straight to the destination's host.
 *
 * Discipline for every step:
 *   - read a key field only after un-wildcarding it (FLOW_WC_MASK or, for
 *     a single bit, an explicit mask bit), and only the bits actually
 *     looked at, so the megaflow covers as many packets as possible;
 *   - tag every topology object whose state the decision depended on,
 *     including the absence of an object (the "vni:" and "inport:" tags)
 *     and the outcome of a membership lookup (netmembers:);
 *   - produce actions in a canonical order (outputs by port number, each
 *     right after its port's guard if it has one, then tunnels by remote
 *     IP) so equal topologies give equal flows.
 */
#include "sim/sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "datapath/conntrack.h"
#include "lib/dhcp.h"
#include "lib/ip-proto.h"
#include "sim/topology-private.h"

BUILD_ASSERT_DECL(FLOW_KEY_SEQ == 2);

/* A flood to more remote hosts than this is tagged with the "any host"
 * tag instead of one host:<name> tag each, so that the flow keeps room
 * for its other tags instead of overflowing (flow-tags.h). */
#define SIM_MAX_HOST_TAGS 8
BUILD_ASSERT_DECL(SIM_MAX_HOST_TAGS + 6 <= FLOW_TAGS_MAX);

/* Routers a packet may cross in one walk (chains of tenant routers);
 * more is a loop or a misconfiguration. */
#define SIM_MAX_ROUTER_HOPS 8

struct sim_ctx {
    const struct topology *topo;
    const struct flow_key *key;
    struct flow_wc *wc;
    struct dp_actions *acts;
    struct flow_tags *tags;
    struct sim_trace *trace;
};

static void sim_vif_ingress(struct sim_ctx *);
static void sim_route(struct sim_ctx *, const struct topo_port *in,
                      const struct topo_port *rport);
static void sim_sg_filter(struct sim_ctx *, const struct topo_port *,
                          uint32_t port_no, bool ingress, bool guard);
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

/* Orders attached ports by datapath port number. */
static int
cmp_port_no(const void *a_, const void *b_)
{
    const struct topo_port *const *a = a_, *const *b = b_;
    uint32_t x = (*a)->binding->port_no, y = (*b)->binding->port_no;

    return x < y ? -1 : x > y;
}

static int
cmp_tunnel(const void *a_, const void *b_)
{
    const struct dp_action *a = a_, *b = b_;
    uint32_t x = ntohl(a->ip), y = ntohl(b->ip);

    return x < y ? -1 : x > y;
}

/* Appends OUTPUT to every local port of 'net' that is attached here and
 * admin up, other than datapath port 'skip' (the input port), by port
 * number, each preceded by the port's ingress filter if it has one: a
 * guarded CT in its zone (sim_sg_filter()), whose refusal costs that
 * port its copy and nothing else.  The ports are sorted before anything
 * is emitted, so that every guard stays right before its output. */
static void
sim_flood_local(struct sim_ctx *ctx, const struct topo_net *net,
                uint32_t skip)
{
    const struct topo_port **ports = NULL;
    size_t n = 0, allocated = 0;
    const struct topo_port *p;

    for (p = net->local_members; p; p = p->local_next) {
        if (p->binding && p->admin_up && p->binding->port_no != skip) {
            if (n == allocated) {
                allocated = allocated ? 2 * allocated : 8;
                ports = xrealloc(ports, allocated * sizeof *ports);
            }
            ports[n++] = p;
        }
    }
    if (n > 1) {
        qsort(ports, n, sizeof *ports, cmp_port_no);
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t port_no = ports[i]->binding->port_no;

        sim_sg_filter(ctx, ports[i], port_no, true, true);
        dp_actions_output(ctx->acts, port_no);
    }
    free(ports);
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

        if (a->ip == a[-1].ip) {
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
        const struct topo_subnet *sn;

        /* The agent's DHCP server, unless a port has its address. */
        flow_tags_add(ctx->tags, net->tag);
        for (sn = net->subnets; sn; sn = sn->net_next) {
            if (sn->cfg.ipv4 && sn->cfg.enable_dhcp
                && topo_subnet_dhcp_server(sn) == key->nw_dst.ip4) {
                if (ctx->trace) {
                    sim_trace_add(ctx->trace, "arp: who-has %s = the DHCP "
                                  "server: reply 02:77:65:66:74:64",
                                  ip_name(key->nw_dst.ip4, ip));
                }
                dp_actions_arp_reply(ctx->acts, &topo_dhcp_mac);
                return true;
            }
        }
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

/* Unicast to 'dst', a port on 'net', from local port 'in'.  'routed':
 * the packet was routed onto 'net', so it may go back out of the port it
 * came in on (it is a different packet now). */
static void
sim_unicast(struct sim_ctx *ctx, const struct topo_port *in,
            const struct topo_net *net, const struct topo_port *dst,
            bool routed)
{
    struct sim_name pn;
    char mac[18], ip[INET_ADDRSTRLEN];

    flow_tags_add(ctx->tags, dst->tag);
    if (ctx->trace) {
        eth_addr_to_string(&dst->mac, mac);
        port_name(dst, &pn);
    }

    if (dst == in && !routed) {
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
        if (dst->binding->port_no == ctx->key->in_port && !routed) {
            sim_drop(ctx, DROP_HAIRPIN, "destination is the input port");
        } else if (!dst->admin_up) {
            sim_drop(ctx, DROP_PORT_ADMIN_DOWN, "destination port is "
                     "admin down");
        } else {
            sim_sg_filter(ctx, dst, dst->binding->port_no, true, false);
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

/* Un-wildcards in 'mask' (a 16-bit field in network order, 'value' its
 * key value) just the leading bits needed to tell 'value' from 'c': all of
 * them if equal, else down to the first bit where they differ.  Returns
 * value == c. */
static bool
sim_match_be16(be16 value, be16 *mask, uint16_t c)
{
    uint16_t v = ntohs(value), diff = v ^ c;
    uint16_t m = UINT16_MAX;

    if (diff) {
        /* The highest differing bit, and every bit above it, decide. */
        unsigned top = 31 - (unsigned) __builtin_clz((unsigned) diff);

        m = (uint16_t) (UINT16_MAX << top);
    }
    *mask |= htons(m);
    return !diff;
}

/* True if the agent serves DHCP for port 'p' (topo_ip_dhcp_subnet() of
 * one of its addresses).  Tags the subnets it consults. */
static bool
sim_dhcp_served(struct sim_ctx *ctx, const struct topo_port *p)
{
    for (size_t i = 0; i < p->n_ips; i++) {
        if (!p->ips[i].subnet_id) {
            continue;
        }
        flow_tags_add(ctx->tags, topo_tag_subnet(p->ips[i].subnet_id));
        if (topo_ip_dhcp_subnet(ctx->topo, &p->ips[i])) {
            return true;
        }
    }
    return false;
}

/* DHCPv4 from a VM whose port has a DHCP-enabled subnet goes to the
 * agent's DHCP server, whatever its destination.  Returns true if it
 * did. */
static bool
sim_dhcp(struct sim_ctx *ctx, const struct topo_port *in)
{
    const struct flow_key *key = ctx->key;

    FLOW_WC_MASK(ctx->wc, nw_proto);
    if (key->nw_proto != IPPROTO_UDP_
        || !sim_match_be16(key->tp_dst, &ctx->wc->masks.tp_dst,
                           DHCP4_SERVER_PORT)) {
        return false;
    }
    if (!sim_dhcp_served(ctx, in)) {
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "dhcp: the port has no subnet with "
                          "enable_dhcp: forwarded as any packet");
        }
        return false;
    }
    if (ctx->trace) {
        sim_trace_add(ctx->trace, "dhcp: to the agent's DHCP server");
    }
    dp_actions_userspace(ctx->acts, DP_USERSPACE_DHCP);
    return true;
}

/* Port security. */

static bool
mac_allowed(const struct topo_port *p, const struct eth_addr *mac)
{
    if (eth_addr_equals(&p->mac, mac)) {
        return true;
    }
    for (size_t i = 0; i < p->n_pairs; i++) {
        if (eth_addr_equals(&p->pairs[i].mac, mac)) {
            return true;
        }
    }
    return false;
}

/* True if 'ip' (IPv6 if 'ipv6') is one of port 'p''s fixed IPs. */
static bool
port_has_fixed_ip(const struct topo_port *p, const union flow_addr *ip,
                  bool ipv6)
{
    for (size_t i = 0; !ipv6 && i < p->n_ips; i++) {
        if (p->ips[i].ip == ip->ip4) {
            return true;
        }
    }
    for (size_t i = 0; ipv6 && i < p->n_ip6s; i++) {
        if (!memcmp(p->ip6s[i].ip6, ip->ip6, 16)) {
            return true;
        }
    }
    return false;
}

/* True if 'p' may send from address 'ip' (IPv6 if 'ipv6') with source MAC
 * 'mac': one of its fixed IPs (from its own MAC), an IPv6 link-local
 * address formed from the port's or a pair's MAC (from that MAC), or
 * inside an allowed address pair for that MAC. */
static bool
ip_allowed(const struct topo_port *p, const struct eth_addr *mac,
           const union flow_addr *ip, bool ipv6)
{
    if (eth_addr_equals(&p->mac, mac) && port_has_fixed_ip(p, ip, ipv6)) {
        return true;
    }
    if (ipv6 && mac_allowed(p, mac)) {
        uint8_t ll[16];

        ip6_link_local_from_mac(mac, ll);
        if (!memcmp(ll, ip->ip6, 16)) {
            return true;
        }
    }
    for (size_t i = 0; i < p->n_pairs; i++) {
        const struct topo_addr_pair *pair = &p->pairs[i];

        if (eth_addr_equals(&pair->mac, mac)
            && topo_prefix_contains(&pair->prefix, ip, ipv6)) {
            return true;
        }
    }
    return false;
}

/* A VM may not answer as a DHCP (or DHCPv6) server: drops UDP from server
 * port 'port'.  Returns true if it did.  The caller has read nw_proto. */
static bool
sim_dhcp_server_from_vm(struct sim_ctx *ctx, uint16_t port)
{
    if (ctx->key->nw_proto == IPPROTO_UDP_
        && sim_match_be16(ctx->key->tp_src, &ctx->wc->masks.tp_src, port)) {
        sim_drop(ctx, DROP_DHCP_SERVER_VM, "dhcp server reply from a vm");
        return true;
    }
    return false;
}

static bool
ip6_is_unspecified(const union flow_addr *a)
{
    static const uint8_t zero[16];

    return !memcmp(a->ip6, zero, sizeof zero);
}

/* Anti-spoofing for IPv6 ('sim_port_security').  As Neutron: the source
 * must be allowed (ip_allowed()), or :: for duplicate address detection
 * and MLD reports; a neighbor advertisement may only announce an allowed
 * address; router advertisements and DHCPv6 server replies are not a
 * VM's to send. */
static bool
sim_port_security_ipv6(struct sim_ctx *ctx, const struct topo_port *in)
{
    const struct flow_key *key = ctx->key;
    struct flow_wc *wc = ctx->wc;
    int type = -1;

    FLOW_WC_MASK(wc, nw_src);
    FLOW_WC_MASK(wc, nw_proto);
    if (sim_dhcp_server_from_vm(ctx, DHCPV6_SERVER_PORT)) {
        return false;
    }
    if (key->nw_proto == IPPROTO_ICMPV6_) {
        FLOW_WC_MASK(wc, tp_src);
        type = ntohs(key->tp_src);
        if (type == ICMPV6_ROUTER_ADVERT) {
            sim_drop(ctx, DROP_ROUTER_ADVERT_VM, "router advertisement "
                     "from a vm");
            return false;
        }
        if (type == ICMPV6_NEIGHBOR_ADVERT) {
            union flow_addr target;

            FLOW_WC_MASK(wc, nd_target);
            memcpy(target.ip6, key->nd_target, 16);
            if (!ip_allowed(in, &key->eth_src, &target, true)) {
                sim_drop(ctx, DROP_SPOOFED_ND, "neighbor advertisement "
                         "target is not the port's");
                return false;
            }
        }
    }
    if (ip6_is_unspecified(&key->nw_src)
        ? (type != ICMPV6_NEIGHBOR_SOLICIT && type != ICMPV6_MLD_REPORT
           && type != ICMPV6_MLD2_REPORT)
        : !ip_allowed(in, &key->eth_src, &key->nw_src, true)) {
        sim_drop(ctx, DROP_SPOOFED_IP, "source ip is not the port's");
        return false;
    }
    return true;
}

/* Anti-spoofing for a frame from local port 'in' with port security on
 * (Neutron's semantics): the source MAC must be the port's or an allowed
 * pair's; an ARP sender and an IPv4 source must be the port's fixed IPs
 * or inside an allowed pair (0.0.0.0 is allowed for ARP probes and DHCP
 * client messages); a VM may not answer as a DHCP server.  IPv6: see
 * sim_port_security_ipv6().  Returns false after emitting the drop. */
static bool
sim_port_security(struct sim_ctx *ctx, const struct topo_port *in)
{
    const struct flow_key *key = ctx->key;
    struct flow_wc *wc = ctx->wc;

    FLOW_WC_MASK(wc, eth_src);
    if (!mac_allowed(in, &key->eth_src)) {
        sim_drop(ctx, DROP_SPOOFED_MAC, "source mac is not the port's");
        return false;
    }
    FLOW_WC_MASK(wc, eth_type);
    if (key->eth_type == htons(ETH_TYPE_ARP)) {
        FLOW_WC_MASK(wc, arp_sha);
        FLOW_WC_MASK(wc, nw_src);
        if (!mac_allowed(in, &key->arp_sha)
            || (key->nw_src.ip4
                && !ip_allowed(in, &key->arp_sha, &key->nw_src, false))) {
            sim_drop(ctx, DROP_SPOOFED_ARP, "arp sender is not the port's");
            return false;
        }
    } else if (key->eth_type == htons(ETH_TYPE_IP)) {
        FLOW_WC_MASK(wc, nw_src);
        FLOW_WC_MASK(wc, nw_proto);
        if (sim_dhcp_server_from_vm(ctx, DHCP4_SERVER_PORT)) {
            return false;
        }
        if (!ip_allowed(in, &key->eth_src, &key->nw_src, false)
            && !(key->nw_src.ip4 == 0 && key->nw_proto == IPPROTO_UDP_
                 && sim_match_be16(key->tp_dst, &wc->masks.tp_dst,
                                   DHCP4_SERVER_PORT))) {
            sim_drop(ctx, DROP_SPOOFED_IP, "source ip is not the port's");
            return false;
        }
    } else if (key->eth_type == htons(ETH_TYPE_IPV6)) {
        return sim_port_security_ipv6(ctx, in);
    }
    return true;
}

/* Security groups.
 *
 * A port with port security is filtered by its groups' rules in both
 * directions, statefully: the walk evaluates the rules at flow setup and
 * caches the verdict in a CT action in the port's zone (its datapath port
 * number), which the datapath applies per packet with the connection
 * tracker (actions.h).  Egress rules are applied where the packet enters
 * (the sending port's host), ingress rules where it is delivered (the
 * receiving port's host).  A rule un-wildcards just what it reads; the
 * first matching rule ends the evaluation.
 *
 * Floods (broadcast, multicast, unknown unicast) are filtered too: once
 * on egress in the sender's zone, before every copy, and on ingress per
 * receiving port, where each local copy is delivered (by the sender's
 * host for its own local ports, by each other host for its ports, as the
 * flood arrives from the tunnel).  Each receiving port gets its own
 * guarded CT (DP_CT_GUARD) right before its OUTPUT, so that its refusal
 * drops only its copy.  The flow's mask is the union of what every
 * port's rules read, and it carries every receiving port's tag (whether
 * a port is filtered at all is that port's state).
 *
 * Conntrack semantics of a flood: each filtered receiver that admits it
 * commits the connection in its own zone, keyed on the flood's addresses
 * (e.g. 10.0.0.5:5000 -> 10.0.0.255:6000), as the sender's zone does on
 * egress.  A unicast answer (10.0.0.7:6000 -> 10.0.0.5:5000) is not its
 * reply, as no zone saw a packet to the answering address: it is a new
 * connection of its own, which the answering port's egress rules and the
 * sender's ingress rules must let start (a UDP answer; an ICMP echo reply
 * to a broadcast ping cannot start one and is dropped as ct_invalid).
 * That is Linux conntrack's and Neutron's behaviour.  DHCP answers pass
 * every port's ingress rules (sim_sg_dhcp_reply()). */

/* True if 'ip' (IPv6 if 'ipv6') is an address of port 'p' as Neutron's
 * remote groups count them: a fixed IP or inside an allowed address
 * pair. */
static bool
port_has_ip(const struct topo_port *p, const union flow_addr *ip, bool ipv6)
{
    if (port_has_fixed_ip(p, ip, ipv6)) {
        return true;
    }
    for (size_t i = 0; i < p->n_pairs; i++) {
        if (topo_prefix_contains(&p->pairs[i].prefix, ip, ipv6)) {
            return true;
        }
    }
    return false;
}

/* True if 'ip' is an address of a member of 'sg'. */
static bool
sg_has_member_ip(const struct topo_sg *sg, const union flow_addr *ip,
                 bool ipv6)
{
    for (const struct topo_sg_link *l = sg->members; l; l = l->next) {
        if (port_has_ip(l->port, ip, ipv6)) {
            return true;
        }
    }
    return false;
}

/* Does 'r' match the packet?  ('ingress' says which address is the
 * remote one.)  Un-wildcards what it reads. */
static bool
sim_sg_rule_matches(struct sim_ctx *ctx, const struct topo_sg_rule *r)
{
    const struct flow_key *key = ctx->key;
    struct flow_wc *wc = ctx->wc;
    bool ipv6 = key->eth_type == htons(ETH_TYPE_IPV6);
    const union flow_addr *remote = r->ingress ? &key->nw_src : &key->nw_dst;
    union flow_addr *remote_mask = (r->ingress ? &wc->masks.nw_src
                                               : &wc->masks.nw_dst);

    if (r->ipv6 != ipv6) {
        return false;
    }
    if (r->proto >= 0) {
        FLOW_WC_MASK(wc, nw_proto);
        if (key->nw_proto != r->proto) {
            return false;
        }
        if (ip_proto_has_ports(r->proto) && r->pmin >= 0) {
            uint16_t port = ntohs(key->tp_dst);
            int max = r->pmax >= 0 ? r->pmax : r->pmin;

            FLOW_WC_MASK(wc, tp_dst);
            if (port < r->pmin || port > max) {
                return false;
            }
        } else if ((r->proto == IPPROTO_ICMP_ || r->proto == IPPROTO_ICMPV6_)
                   && r->pmin >= 0) {
            FLOW_WC_MASK(wc, tp_src);
            if (ntohs(key->tp_src) != r->pmin) {
                return false;
            }
            if (r->pmax >= 0) {
                FLOW_WC_MASK(wc, tp_dst);
                if (ntohs(key->tp_dst) != r->pmax) {
                    return false;
                }
            }
        }
    }
    if (r->has_prefix) {
        if (r->prefix.ipv6 != ipv6) {
            return false;
        }
        flow_addr_mask_prefix(remote_mask, r->prefix.plen, ipv6);
        if (!topo_prefix_contains(&r->prefix, remote, ipv6)) {
            return false;
        }
    }
    if (r->remote_sg) {
        flow_tags_add(ctx->tags, r->remote_sg->members_tag);
        flow_addr_mask_prefix(remote_mask, ipv6 ? 128 : 32, ipv6);
        if (!sg_has_member_ip(r->remote_sg, remote, ipv6)) {
            return false;
        }
    }
    return true;
}

/* True if a rule of 'p''s groups for this direction allows the packet to
 * start a connection. */
static bool
sim_sg_allows(struct sim_ctx *ctx, const struct topo_port *p, bool ingress)
{
    for (size_t i = 0; i < p->n_sgs; i++) {
        const struct topo_sg *sg = p->sg_links[i].sg;

        flow_tags_add(ctx->tags, sg->tag);
        for (const struct topo_sg_rule *r = sg->rules; r; r = r->next) {
            if (r->ingress == ingress && sim_sg_rule_matches(ctx, r)) {
                if (ctx->trace) {
                    sim_trace_add(ctx->trace, "security group %.8s..: %s "
                                  "rule %.8s.. allows new connections",
                                  sg->id, ingress ? "ingress" : "egress",
                                  r->id);
                }
                return true;
            }
        }
    }
    if (ctx->trace) {
        sim_trace_add(ctx->trace, "security groups: no %s rule allows a "
                      "new connection (replies still pass)",
                      ingress ? "ingress" : "egress");
    }
    return false;
}

/* True if the packet is a DHCP (or DHCPv6) server's answer to a client,
 * which a port's ingress rules never refuse, as with Neutron's firewalls:
 * a tenant may run its own DHCP server on a subnet with DHCP off (the
 * agent answers for the others and never floods its answers).  Reads
 * only the bits of the ports that tell. */
static bool
sim_sg_dhcp_reply(struct sim_ctx *ctx)
{
    const struct flow_key *key = ctx->key;
    bool v6 = key->eth_type == htons(ETH_TYPE_IPV6);
    struct flow_wc *wc = ctx->wc;

    FLOW_WC_MASK(wc, nw_proto);
    return (key->nw_proto == IPPROTO_UDP_
            && sim_match_be16(key->tp_src, &wc->masks.tp_src,
                              v6 ? DHCPV6_SERVER_PORT : DHCP4_SERVER_PORT)
            && sim_match_be16(key->tp_dst, &wc->masks.tp_dst,
                              v6 ? DHCPV6_CLIENT_PORT : DHCP4_CLIENT_PORT));
}

/* Emits the CT action of port 'p' (attached on datapath port 'port_no')
 * for an IP packet, if the port is filtered; a guarded one if 'guard'
 * (for one port of a flood: the caller appends that port's OUTPUT right
 * after).  IPv6 neighbor discovery and MLD pass unfiltered, as Neutron
 * lets them. */
static void
sim_sg_filter(struct sim_ctx *ctx, const struct topo_port *p,
              uint32_t port_no, bool ingress, bool guard)
{
    const struct flow_key *key = ctx->key;
    bool allow;

    FLOW_WC_MASK(ctx->wc, eth_type);
    if (key->eth_type != htons(ETH_TYPE_IP)
        && key->eth_type != htons(ETH_TYPE_IPV6)) {
        return;
    }
    flow_tags_add(ctx->tags, p->tag);
    if (!p->port_security) {
        return;
    }
    if (key->eth_type == htons(ETH_TYPE_IPV6)) {
        FLOW_WC_MASK(ctx->wc, nw_proto);
        if (key->nw_proto == IPPROTO_ICMPV6_) {
            uint16_t type;

            FLOW_WC_MASK(ctx->wc, tp_src);
            type = ntohs(key->tp_src);
            if ((type >= ICMPV6_MLD_QUERY && type <= ICMPV6_REDIRECT)
                || type == ICMPV6_MLD2_REPORT) {
                return;
            }
        }
    }
    if (guard && ctx->trace) {
        struct sim_name pn;

        sim_trace_add(ctx->trace, "flood: to port %u = %s, filtered by its "
                      "groups (the verdict guards its copy only)", port_no,
                      port_name(p, &pn));
    }
    if (ingress && sim_sg_dhcp_reply(ctx)) {
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "security groups: a dhcp answer, "
                          "admitted whatever the ingress rules say");
        }
        allow = true;
    } else {
        allow = sim_sg_allows(ctx, p, ingress);
    }
    if (guard) {
        dp_actions_ct_guard(ctx->acts, (uint16_t) port_no, allow);
    } else {
        dp_actions_ct(ctx->acts, (uint16_t) port_no, allow);
    }
}

bool
sim_sg_conn_permitted(const struct topology *topo, uint32_t port_no,
                      const struct ct_conn_info *conn)
{
    const struct topo_binding *b = topo_find_binding_by_no(topo, port_no);
    const struct topo_port *p = b ? b->port : NULL;
    struct flow_tags tags;
    struct flow_wc wc;
    struct flow_key key;
    bool outgoing = false;
    struct sim_ctx ctx = {
        .topo = topo, .key = &key, .wc = &wc, .tags = &tags,
    };

    if (!p || !p->port_security) {
        return true;
    }
    outgoing = port_has_ip(p, &conn->src, conn->ipv6);
    if (!outgoing && conn->ipv6) {
        uint8_t ll[16];

        /* A connection from the port's link-local address. */
        ip6_link_local_from_mac(&p->mac, ll);
        outgoing = !memcmp(ll, conn->src.ip6, 16);
    }

    /* The connection's first packet, as the rules saw it. */
    memset(&key, 0, sizeof key);
    key.in_port = port_no;
    key.eth_type = htons(conn->ipv6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP);
    key.nw_proto = conn->proto;
    key.nw_src = conn->src;
    key.nw_dst = conn->dst;
    if (conn->proto == IPPROTO_ICMP_) {
        key.tp_src = htons(ICMP4_ECHO_REQUEST);
    } else if (conn->proto == IPPROTO_ICMPV6_) {
        key.tp_src = htons(ICMPV6_ECHO_REQUEST);
    } else {
        key.tp_src = conn->sport;
        key.tp_dst = conn->dport;
    }
    flow_wc_init_catchall(&wc);
    flow_tags_init(&tags);
    return sim_sg_allows(&ctx, p, !outgoing);
}

/* True if group 'sg''s verdicts may have changed with 'changed': its
 * rules did, or the membership of a group one of them names. */
static bool
sg_changed(const struct topo_sg *sg, const struct tag_set *changed)
{
    if (tag_set_contains(changed, sg->tag)) {
        return true;
    }
    for (const struct topo_sg_rule *r = sg->rules; r; r = r->next) {
        if (r->remote_sg
            && tag_set_contains(changed, r->remote_sg->members_tag)) {
            return true;
        }
    }
    return false;
}

size_t
sim_sg_affected_zones(const struct topology *topo,
                      const struct tag_set *changed,
                      uint64_t zones[SIM_ZONE_WORDS])
{
    const struct topo_sg **hit = NULL;
    size_t n_hit = 0, n = 0;
    const struct topo_hmap_node *node = NULL;
    size_t b = 0;

    /* The groups that changed, each examined once (a group's rules are
     * read once, however many ports share it). */
    if (!changed->all) {
        hit = xcalloc(topo->sgs_by_id.n + 1, sizeof *hit);
        while ((node = topo_hmap_next(&topo->sgs_by_id, &b, node))) {
            const struct topo_sg *sg = CONTAINER_OF(node, struct topo_sg,
                                                    id_node);
            if (sg_changed(sg, changed)) {
                hit[n_hit++] = sg;
            }
        }
    }
    for (const struct topo_port *p = topo->local_ports; p; p = p->all_next) {
        uint32_t zone = p->binding ? p->binding->port_no : 0;
        bool affected = changed->all || tag_set_contains(changed, p->tag);

        if (!zone || zone >= 65536 || !p->port_security
            || zones[zone / 64] & (1ULL << (zone % 64))) {
            continue;
        }
        for (size_t i = 0; i < p->n_sgs && !affected; i++) {
            for (size_t j = 0; j < n_hit && !affected; j++) {
                affected = p->sg_links[i].sg == hit[j];
            }
        }
        if (affected) {
            zones[zone / 64] |= 1ULL << (zone % 64);
            n++;
        }
    }
    free(hit);
    return n;
}

/* Un-wildcards the fewest leading bits of nw_ttl that decide whether
 * 'ttl' <= 'limit'.  Returns ttl <= limit. */
static bool
sim_ttl_at_most(struct sim_ctx *ctx, unsigned limit)
{
    unsigned ttl = ctx->key->nw_ttl;

    for (unsigned j = 0; j <= 8; j++) {
        unsigned m = (0xff00u >> j) & 0xff;
        unsigned lo = ttl & m, hi = lo | (~m & 0xff);

        if (hi <= limit || lo > limit) {
            ctx->wc->masks.nw_ttl |= (uint8_t) m;
            break;
        }
    }
    return ttl <= limit;
}

static const char *
router_name(const struct topo_router *r, struct sim_name *out)
{
    char id[16];

    snprintf(out->s, sizeof out->s, "router %.40s",
             r->name[0] ? r->name : short_id(r->id, id));
    return out->s;
}

/* The router interface's first address (the source of what the router
 * says on that interface), 0 if it has none. */
static be32
iface_addr(const struct topo_port *p)
{
    return p->n_ips ? p->ips[0].ip : 0;
}

static void
sim_icmp_error(struct sim_ctx *ctx, uint8_t type, uint8_t code, be32 from,
               const struct eth_addr *mac, const char *why)
{
    if (ctx->trace) {
        char ip[INET_ADDRSTRLEN];

        sim_trace_add(ctx->trace, "icmp: %s: type %u code %u from %s", why,
                      type, code, ip_name(from, ip));
    }
    dp_actions_icmp_error(ctx->acts, type, code, from, mac);
}

/* A packet for one of the router's own addresses ('e', a LOCAL route). */
static void
sim_route_local(struct sim_ctx *ctx, const struct topo_route *e,
                const struct eth_addr *mac)
{
    const struct flow_key *key = ctx->key;
    struct flow_wc *wc = ctx->wc;
    char ip[INET_ADDRSTRLEN];

    ctx->wc->masks.nw_dst.ip4 = UINT32_MAX;
    FLOW_WC_MASK(wc, nw_proto);
    FLOW_WC_MASK(wc, nw_frag);
    if (key->nw_proto == IPPROTO_ICMP_ && !(key->nw_frag & FLOW_NW_FRAG_ANY)) {
        FLOW_WC_MASK(wc, tp_src);
        if (key->tp_src == htons(ICMP4_ECHO_REQUEST)) {
            if (ctx->trace) {
                sim_trace_add(ctx->trace, "router: echo request to %s: "
                              "reply", ip_name(e->prefix, ip));
            }
            dp_actions_icmp_reply(ctx->acts, e->prefix, mac);
            return;
        }
    } else if (key->nw_proto == IPPROTO_UDP_) {
        sim_icmp_error(ctx, ICMP4_DEST_UNREACH, ICMP4_CODE_PORT_UNREACH,
                       e->prefix, mac, "udp to the router");
        return;
    }
    sim_drop(ctx, DROP_TO_ROUTER, "addressed to the router");
}

/* Routes the packet that local port 'in' sent to router interface
 * 'rport' (see the comment at the top of the file). */
static void
sim_route(struct sim_ctx *ctx, const struct topo_port *in,
          const struct topo_port *rport)
{
    const struct flow_key *key = ctx->key;
    struct flow_wc *wc = ctx->wc;
    const struct eth_addr *mac = &rport->mac;   /* What the sender sees. */
    const struct topo_router *r = rport->router;
    uint32_t mtu = UINT32_MAX;
    be32 mtu_from = 0;
    char ip[INET_ADDRSTRLEN], ip2[INET_ADDRSTRLEN];
    struct sim_name rn, pn, nn;

    if (key->eth_type != htons(ETH_TYPE_IP)) {
        sim_drop(ctx, DROP_NOT_ROUTABLE, "not IPv4");
        return;
    }
    wc->masks.nw_dst.ip4 |= htonl(0xf0000000);
    if ((ntohl(key->nw_dst.ip4) & 0xf0000000) == 0xe0000000) {
        sim_drop(ctx, DROP_NOT_ROUTABLE, "multicast destination");
        return;
    }

    for (unsigned hop = 1; ; hop++) {
        const struct topo_route *e;
        const struct topo_port *out, *np;
        const struct topo_net *out_net;
        be32 from = iface_addr(rport), nexthop;
        unsigned bits;
        size_t before;

        flow_tags_add(ctx->tags, r->tag);
        if (hop > SIM_MAX_ROUTER_HOPS) {
            sim_drop(ctx, DROP_ROUTER_LOOP, "too many routers on the path");
            return;
        }
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "%s: in on %s (%s)",
                          router_name(r, &rn), port_name(rport, &pn),
                          ip_name(from, ip));
        }
        if (!r->present || !r->admin_up || !rport->admin_up) {
            sim_drop(ctx, DROP_ROUTER_DOWN, !r->present
                     ? "router is unknown" : "router or interface is down");
            return;
        }

        e = topo_route_lookup(r, key->nw_dst.ip4, &bits);
        wc->masks.nw_dst.ip4 |= ip4_prefix_mask(bits);
        if (e && e->type == TOPO_ROUTE_LOCAL) {
            sim_route_local(ctx, e, mac);
            return;
        }
        if (sim_ttl_at_most(ctx, hop)) {
            sim_icmp_error(ctx, ICMP4_TIME_EXCEEDED, 0, from, mac,
                           "ttl exceeded");
            return;
        }
        if (!e || !e->port) {
            if (ctx->trace && e) {
                sim_trace_add(ctx->trace, "route %s/%u via %s: next hop on "
                              "no interface", ip_name(e->prefix, ip),
                              e->plen, ip_name(e->nexthop, ip2));
            }
            sim_icmp_error(ctx, ICMP4_DEST_UNREACH, ICMP4_CODE_NET_UNREACH,
                           from, mac, "no route");
            return;
        }

        out = e->port;
        out_net = out->net;
        flow_tags_add(ctx->tags, out_net->tag);
        if (e->type == TOPO_ROUTE_STATIC) {
            nexthop = e->nexthop;
        } else {
            wc->masks.nw_dst.ip4 = UINT32_MAX;
            nexthop = key->nw_dst.ip4;
        }
        if (ctx->trace) {
            sim_trace_add(ctx->trace, "route %s/%u (%s): out on %s to %s",
                          ip_name(e->prefix, ip), e->plen,
                          e->type == TOPO_ROUTE_STATIC ? "static"
                          : "connected", net_name(out_net, &nn),
                          ip_name(nexthop, ip2));
        }
        if (!out->admin_up) {
            sim_drop(ctx, DROP_ROUTER_DOWN, "egress interface is down");
            return;
        }
        if (!out_net->present) {
            sim_drop(ctx, DROP_NO_NETWORK, "egress network is unknown");
            return;
        }
        if (!out_net->admin_up) {
            sim_drop(ctx, DROP_NET_ADMIN_DOWN, "egress network is admin "
                     "down");
            return;
        }
        if (out_net->mtu < mtu) {
            mtu = out_net->mtu;
            mtu_from = from;
        }

        flow_tags_add(ctx->tags, out_net->members_tag);
        np = topo_find_port_by_ip(ctx->topo, out_net, nexthop, NULL);
        if (!np) {
            sim_icmp_error(ctx, ICMP4_DEST_UNREACH, ICMP4_CODE_HOST_UNREACH,
                           from, mac, "no port has the next hop address");
            return;
        }
        flow_tags_add(ctx->tags, np->tag);
        if (np->router) {
            if (np->router == r) {
                sim_drop(ctx, DROP_ROUTER_LOOP, "next hop is the router "
                         "itself");
                return;
            }
            r = np->router;
            rport = np;
            continue;
        }

        if (ctx->trace) {
            sim_trace_add(ctx->trace, "deliver on %s to %s after %u "
                          "router%s", net_name(out_net, &nn),
                          port_name(np, &pn), hop, hop > 1 ? "s" : "");
        }
        dp_actions_check_mtu(ctx->acts, mtu, mtu_from, mac);
        dp_actions_set_eth(ctx->acts, &out->mac, &np->mac);
        dp_actions_dec_ttl(ctx->acts, hop);
        before = ctx->acts->n;
        sim_unicast(ctx, in, out_net, np, true);
        if (ctx->acts->n == before + 1
            && ctx->acts->a[before].type == DP_ACT_DROP) {
            /* Nothing is sent: the rewrite is moot. */
            memmove(ctx->acts->a + before - 3, ctx->acts->a + before,
                    sizeof *ctx->acts->a);
            ctx->acts->n -= 3;
        }
        return;
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
    if (in->port_security && !sim_port_security(ctx, in)) {
        return;
    }

    FLOW_WC_MASK(wc, eth_type);
    if (key->eth_type == htons(ETH_TYPE_ARP)
        && sim_arp_responder(ctx, in, net)) {
        return;
    }
    if (key->eth_type == htons(ETH_TYPE_IP) && sim_dhcp(ctx, in)) {
        return;
    }
    sim_sg_filter(ctx, in, key->in_port, false, false);

    dst = sim_l2_lookup(ctx, net, mac);
    if (!dst) {
        return;
    }
    if (dst->router) {
        flow_tags_add(ctx->tags, dst->tag);
        flow_tags_add(ctx->tags, dst->router->tag);
        if (ctx->trace) {
            char id[16];

            sim_trace_add(ctx->trace, "l2: dst %s = interface of router "
                          "%.40s", mac, dst->router->name[0]
                          ? dst->router->name
                          : short_id(dst->router->id, id));
        }
        sim_route(ctx, in, dst);
    } else {
        sim_unicast(ctx, in, net, dst, false);
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
        sim_sg_filter(ctx, dst, dst->binding->port_no, true, false);
        dp_actions_output(ctx->acts, dst->binding->port_no);
    }
}
