/*
 * test-sim-sg.c -- security groups in the simulation: the verdict a flow
 * caches in its CT action (allow_new or not), in both directions, for
 * protocol/port/ICMP/prefix/remote-group rules; floods filtered on
 * ingress per receiving port (guarded CTs); the tags that make rule and
 * membership changes invalidate the right flows.
 *
 * Fixture (host hv1), net1 vni 7, 10.0.0.0/24:
 *   a 10.0.0.1 dp port 3, groups web + def;  b 10.0.0.2 dp port 4, def;
 *   c 10.0.0.3 on hv2, def.
 *   def: egress IPv4 any; ingress IPv4 from remote group def.
 *   web: ingress tcp 80-81 from anywhere; ingress icmp type 8 from
 *        10.9.0.0/16.
 * fixture6() adds fd00::N to each port and def's IPv6 rules (egress any,
 * ingress from def), and web: ingress tcp 443 from 2001:db8::/32.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "datapath/conntrack.h"
#include "sim/sim.h"
#include "sim/topology.h"
#include "tests/lib/sim-test.h"
#include "tests/lib/unit.h"

static void
port(struct topology *topo, const char *id, const char *mac, const char *ip,
     const char *host, const char *sgs)
{
    char key[32];

    snprintf(key, sizeof key, "ports/%s", id);
    simt_apply(topo, key, xasprintf("{\"network_id\": \"net1\", "
                             "\"mac_address\": "
                             "\"%s\", \"fixed_ips\": [{\"subnet_id\": "
                             "\"s1\", \"ip_address\": \"%s\"}], "
                             "\"security_groups\": %s, "
                             "\"binding:host_id\": \"%s\"}",
                             mac, ip, sgs, host), NULL);
}

static void
rule(struct topology *topo, const char *id, const char *body,
     struct tag_set *changed)
{
    char key[64];

    snprintf(key, sizeof key, "security-group-rules/%s", id);
    simt_apply(topo, key, xasprintf("{%s}", body), changed);
}

static struct topology *
fixture(void)
{
    struct topology *topo = topology_create("hv1");
    struct tag_set scratch;

    tag_set_init(&scratch);
    simt_apply(topo, "networks/net1",
               xasprintf("{\"provider:segmentation_id\": 7}"), NULL);
    simt_apply(topo, "security-groups/def",
               xasprintf("{\"name\": \"default\"}"), NULL);
    simt_apply(topo, "security-groups/web",
               xasprintf("{\"name\": \"web\"}"), NULL);
    rule(topo, "r1", "\"security_group_id\": \"def\", \"direction\": "
         "\"egress\", \"ethertype\": \"IPv4\"", NULL);
    rule(topo, "r2", "\"security_group_id\": \"def\", \"direction\": "
         "\"ingress\", \"ethertype\": \"IPv4\", \"remote_group_id\": "
         "\"def\"", NULL);
    rule(topo, "r3", "\"security_group_id\": \"web\", \"direction\": "
         "\"ingress\", \"protocol\": \"tcp\", \"port_range_min\": 80, "
         "\"port_range_max\": 81", NULL);
    rule(topo, "r4", "\"security_group_id\": \"web\", \"direction\": "
         "\"ingress\", \"protocol\": \"icmp\", \"port_range_min\": 8, "
         "\"remote_ip_prefix\": \"10.9.0.0/16\"", NULL);
    port(topo, "a", "fa:16:3e:00:00:01", "10.0.0.1", "hv1",
         "[\"web\", \"def\"]");
    port(topo, "b", "fa:16:3e:00:00:02", "10.0.0.2", "hv1", "[\"def\"]");
    port(topo, "c", "fa:16:3e:00:00:03", "10.0.0.3", "hv2", "[\"def\"]");
    simt_apply(topo, "agents/hv2", xasprintf("{\"host\": \"hv2\", "
        "\"configurations\": {\"tunnel_ip\": \"198.18.0.12\"}}"), NULL);
    topology_bind(topo, "a", 3, &scratch);
    topology_bind(topo, "b", 4, &scratch);
    tag_set_destroy(&scratch);
    return topo;
}

/* A TCP (or ICMP echo, for 'dport' 0) packet from 'src_ip' to a. */
static struct flow_key
to_a(uint32_t in_port, const char *src_mac, const char *src_ip,
     uint16_t dport)
{
    struct flow_key key = simt_ip4_key(in_port, src_mac, src_ip,
                                       "fa:16:3e:00:00:01", "10.0.0.1",
                                       dport ? IPPROTO_TCP_ : IPPROTO_ICMP_,
                                       dport ? 40000 : 8, dport);

    if (in_port == FLOW_PORT_TUNNEL) {
        key.tun_vni = 7;
        key.tun_src = inet_addr("198.18.0.12");
    }
    return key;
}

/* A TCP packet from 'src_ip' (IPv6) to a's fd00::1. */
static struct flow_key
to_a6(uint32_t in_port, const char *src_mac, const char *src_ip,
      uint16_t dport)
{
    struct flow_key key = to_a(in_port, src_mac, "0.0.0.0", dport);

    key.eth_type = htons(ETH_TYPE_IPV6);
    CHECK(inet_pton(AF_INET6, src_ip, key.nw_src.ip6) == 1);
    CHECK(inet_pton(AF_INET6, "fd00::1", key.nw_dst.ip6) == 1);
    if (!dport) {
        key.nw_proto = IPPROTO_ICMPV6_;
        key.tp_src = htons(128);        /* Echo request. */
    }
    return key;
}

#define C_MAC "fa:16:3e:00:00:03"

static void
test_local_both_directions(void)
{
    struct topology *topo = fixture();
    struct flow_key key = to_a(4, "fa:16:3e:00:00:02", "10.0.0.2", 22);
    struct simt_result r = simt_run(topo, &key);

    /* b's egress (def: any) and a's ingress (def: from members, b is
     * one), each in the port's own zone. */
    CHECK_STREQ(r.acts, "ct(zone=4,allow_new),ct(zone=3,allow_new),"
                "output:3");
    CHECK(flow_tags_contains(&r.tags, topo_tag_sg("def")));
    CHECK(flow_tags_contains(&r.tags, topo_tag_sg("web")));
    CHECK(flow_tags_contains(&r.tags, topo_tag_sgmembers("def")));
    topology_destroy(topo);
}

static void
test_ingress_rules(void)
{
    struct topology *topo = fixture();
    struct simt_result r;
    struct flow_key key;

    /* From c on hv2 (a member of def): any port. */
    CHECK_STREQ(simt_acts(topo, to_a(FLOW_PORT_TUNNEL, C_MAC, "10.0.0.3",
                               22)), "ct(zone=3,allow_new),output:3");
    /* From an outsider: web's ports only. */
    CHECK_STREQ(simt_acts(topo, to_a(FLOW_PORT_TUNNEL, C_MAC, "192.0.2.7",
                               81)), "ct(zone=3,allow_new),output:3");
    key = to_a(FLOW_PORT_TUNNEL, C_MAC, "192.0.2.7", 22);
    r = simt_run(topo, &key);
    CHECK_STREQ(r.acts, "ct(zone=3),output:3");
    /* The verdict read the destination port and the source address. */
    CHECK_EQ(r.wc.masks.tp_dst, 0xffff);
    CHECK_EQ(r.wc.masks.nw_src.ip4, UINT32_MAX);
    CHECK_EQ(r.wc.masks.tp_src, 0);
    /* ICMP echo from 10.9.0.0/16 only. */
    CHECK_STREQ(simt_acts(topo, to_a(FLOW_PORT_TUNNEL, C_MAC, "10.9.3.3",
                               0)), "ct(zone=3,allow_new),output:3");
    CHECK_STREQ(simt_acts(topo, to_a(FLOW_PORT_TUNNEL, C_MAC, "10.8.3.3",
                               0)), "ct(zone=3),output:3");
    topology_destroy(topo);
}

static void
test_changes(void)
{
    struct topology *topo = fixture();
    struct tag_set changed;
    bool has;

    /* c leaves def: its traffic to a is no longer allowed to start, and
     * the membership tag says so. */
    tag_set_init(&changed);
    port(topo, "c", "fa:16:3e:00:00:03", "10.0.0.3", "hv2", "[]");
    CHECK_STREQ(simt_acts(topo, to_a(FLOW_PORT_TUNNEL, C_MAC, "10.0.0.3",
                               22)), "ct(zone=3),output:3");

    /* Deleting web's tcp rule: sg:web changes, port 80 closes. */
    simt_apply(topo, "security-group-rules/r3", NULL, &changed);
    has = false;
    for (size_t i = 0; i < changed.n; i++) {
        has = has || changed.tags[i] == topo_tag_sg("web");
    }
    CHECK(has);
    CHECK_STREQ(simt_acts(topo, to_a(FLOW_PORT_TUNNEL, C_MAC, "192.0.2.7",
                               80)), "ct(zone=3),output:3");

    /* Every protocol name the controller accepts is read back (the
     * agent once knew fewer names and refused such rules). */
    CHECK_EQ(topology_update(topo, "security-group-rules/rsvp",
                             "{\"security_group_id\": \"web\", "
                             "\"direction\": \"ingress\", \"protocol\": "
                             "\"rsvp\"}", &changed), 0);
    CHECK_EQ(topology_update(topo, "security-group-rules/route",
                             "{\"security_group_id\": \"web\", "
                             "\"direction\": \"ingress\", \"ethertype\": "
                             "\"IPv6\", \"protocol\": \"ipv6-route\"}",
                             &changed), 0);

    /* A bad rule is refused and changes nothing. */
    CHECK_EQ(topology_update(topo, "security-group-rules/bad",
                             "{\"security_group_id\": \"web\", "
                             "\"direction\": \"sideways\"}", &changed),
             EINVAL);
    CHECK_EQ(topology_update(topo, "security-group-rules/bad",
                             "{\"security_group_id\": \"web\", "
                             "\"direction\": \"ingress\", \"protocol\": "
                             "\"nope\"}", &changed), EINVAL);
    tag_set_destroy(&changed);
    topology_destroy(topo);
}

static void
test_membership_tag(void)
{
    struct topology *topo = fixture();
    struct tag_set changed;

    /* A new member's arrival and departure are both announced. */
    tag_set_init(&changed);
    simt_apply(topo, "ports/d", xasprintf("{\"network_id\": \"net1\", "
        "\"mac_address\": \"fa:16:3e:00:00:04\", \"fixed_ips\": "
        "[{\"ip_address\": \"10.0.0.4\"}], \"security_groups\": "
        "[\"def\"], \"binding:host_id\": \"hv2\"}"), &changed);
    CHECK(simt_has_tag(&changed, topo_tag_sgmembers("def")));
    CHECK(!simt_has_tag(&changed, topo_tag_sgmembers("web")));
    tag_set_destroy(&changed);
    tag_set_init(&changed);
    simt_apply(topo, "ports/d", NULL, &changed);
    CHECK(simt_has_tag(&changed, topo_tag_sgmembers("def")));
    tag_set_destroy(&changed);
    topology_destroy(topo);
}

/* The flood fixture: the fixture plus, on hv1, d 10.0.0.4 dp port 5 in
 * group "quiet" (egress only: admits nothing new) and e 10.0.0.5 dp port
 * 6 with port security off. */
static struct topology *
flood_fixture(void)
{
    struct topology *topo = fixture();
    struct tag_set scratch;

    tag_set_init(&scratch);
    simt_apply(topo, "security-groups/quiet",
               xasprintf("{\"name\": \"quiet\"}"), NULL);
    rule(topo, "r5", "\"security_group_id\": \"quiet\", \"direction\": "
         "\"egress\", \"ethertype\": \"IPv4\"", NULL);
    port(topo, "d", "fa:16:3e:00:00:04", "10.0.0.4", "hv1", "[\"quiet\"]");
    simt_apply(topo, "ports/e", xasprintf("{\"network_id\": \"net1\", "
        "\"mac_address\": \"fa:16:3e:00:00:05\", \"fixed_ips\": "
        "[{\"subnet_id\": \"s1\", \"ip_address\": \"10.0.0.5\"}], "
        "\"port_security_enabled\": false, \"security_groups\": [], "
        "\"binding:host_id\": \"hv1\"}"), NULL);
    topology_bind(topo, "d", 5, &scratch);
    topology_bind(topo, "e", 6, &scratch);
    tag_set_destroy(&scratch);
    return topo;
}

/* A UDP datagram from 'src_ip' (MAC 'src_mac') on 'in_port' to 'dst_mac'
 * and 10.0.0.255:6000. */
static struct flow_key
udp_flood(uint32_t in_port, const char *src_mac, const char *src_ip,
          const char *dst_mac)
{
    struct flow_key key = to_a(in_port, src_mac, src_ip, 6000);

    simt_mac(&key.eth_dst, dst_mac);
    key.nw_proto = IPPROTO_UDP_;
    key.nw_dst.ip4 = inet_addr("10.0.0.255");
    key.tp_src = htons(5000);
    return key;
}

/* True if simulating 'key' traces 'line'. */
static bool
trace_has(const struct topology *topo, const struct flow_key *key,
          const char *line)
{
    struct dp_actions acts;
    struct flow_tags tags;
    struct sim_trace trace;
    struct flow_wc wc;
    bool found = false;

    flow_wc_init_catchall(&wc);
    flow_tags_init(&tags);
    dp_actions_init(&acts);
    sim_trace_init(&trace);
    CHECK_EQ(sim_run(topo, key, &wc, &acts, &tags, &trace), 0);
    for (size_t i = 0; i < trace.n; i++) {
        found = found || !strcmp(trace.lines[i], line);
    }
    sim_trace_destroy(&trace);
    dp_actions_destroy(&acts);
    return found;
}

#define A_MAC "fa:16:3e:00:00:01"
#define BCAST "ff:ff:ff:ff:ff:ff"

/* A broadcast from a: its own egress check first (def: any), then each
 * local receiver by its own ingress rules, in its own zone, guarding its
 * own output -- b admits members of def (a is one), d admits nothing new,
 * e is not filtered -- and one copy to hv2 (c is filtered there). */
static void
test_flood_ingress_per_port(void)
{
    struct topology *topo = flood_fixture();
    struct flow_key key = udp_flood(3, A_MAC, "10.0.0.1", BCAST);
    struct simt_result r = simt_run(topo, &key);

    CHECK_STREQ(r.acts, "ct(zone=3,allow_new),"
                "ct(zone=4,allow_new,guard),output:4,"
                "ct(zone=5,guard),output:5,"
                "output:6,"
                "tunnel(vni=7,dst=198.18.0.12)");
    /* Every receiver's state, filtered or not, and its groups. */
    CHECK(flow_tags_contains(&r.tags, topo_tag_port("b")));
    CHECK(flow_tags_contains(&r.tags, topo_tag_port("d")));
    CHECK(flow_tags_contains(&r.tags, topo_tag_port("e")));
    CHECK(flow_tags_contains(&r.tags, topo_tag_sg("quiet")));
    CHECK(flow_tags_contains(&r.tags, topo_tag_sgmembers("def")));
    /* b's remote-group rule read the source address. */
    CHECK_EQ(r.wc.masks.nw_src.ip4, UINT32_MAX);

    /* The trace says which port each verdict is for. */
    CHECK(trace_has(topo, &key, "flood: to port 5 = port d, filtered by "
                    "its groups (the verdict guards its copy only)"));

    /* Unknown unicast is the same flood. */
    CHECK_STREQ(simt_acts(topo, udp_flood(3, A_MAC, "10.0.0.1",
                                          "fa:16:3e:00:00:99")),
                r.acts);

    /* The same from hv2's c, delivered from the tunnel: a and b admit a
     * member of def, d does not, e is open; no egress check here (c's
     * host did it). */
    CHECK_STREQ(simt_acts(topo, udp_flood(FLOW_PORT_TUNNEL, C_MAC,
                                          "10.0.0.3", BCAST)),
                "ct(zone=3,allow_new,guard),output:3,"
                "ct(zone=4,allow_new,guard),output:4,"
                "ct(zone=5,guard),output:5,output:6");
    /* From an outsider: no rule of a, b or d admits UDP from it. */
    CHECK_STREQ(simt_acts(topo, udp_flood(FLOW_PORT_TUNNEL, C_MAC,
                                          "192.0.2.7", BCAST)),
                "ct(zone=3,guard),output:3,ct(zone=4,guard),output:4,"
                "ct(zone=5,guard),output:5,output:6");
    topology_destroy(topo);
}

/* What the groups do not filter stays unfiltered in a flood: ARP, and
 * IPv6 neighbor discovery. */
/* A DHCP server's answers (a tenant's own, from 192.0.2.7 here) pass
 * every port's ingress rules, broadcast or unicast, IPv4 or IPv6; other
 * ports from that address do not. */
static void
test_dhcp_answers_admitted(void)
{
    struct topology *topo = flood_fixture();
    struct flow_key key = udp_flood(FLOW_PORT_TUNNEL, C_MAC, "192.0.2.7",
                                    BCAST);
    struct simt_result r;

    key.tp_src = htons(67);
    key.tp_dst = htons(68);
    r = simt_run(topo, &key);
    CHECK_STREQ(r.acts, "ct(zone=3,allow_new,guard),output:3,"
                "ct(zone=4,allow_new,guard),output:4,"
                "ct(zone=5,allow_new,guard),output:5,output:6");
    /* The flow is exact on the server port it admits. */
    CHECK_EQ(r.wc.masks.tp_src, 0xffff);
    key.tp_dst = htons(69);
    CHECK_STREQ(simt_acts(topo, key),
                "ct(zone=3,guard),output:3,ct(zone=4,guard),output:4,"
                "ct(zone=5,guard),output:5,output:6");
    key = to_a(FLOW_PORT_TUNNEL, C_MAC, "192.0.2.7", 68);
    key.nw_proto = IPPROTO_UDP_;
    key.tp_src = htons(67);
    CHECK_STREQ(simt_acts(topo, key), "ct(zone=3,allow_new),output:3");
    /* DHCPv6: server 547 to client 546. */
    key = to_a6(FLOW_PORT_TUNNEL, C_MAC, "2001:db9::1", 546);
    key.nw_proto = IPPROTO_UDP_;
    key.tp_src = htons(547);
    CHECK_STREQ(simt_acts(topo, key), "ct(zone=3,allow_new),output:3");
    key.tp_src = htons(548);
    CHECK_STREQ(simt_acts(topo, key), "ct(zone=3),output:3");
    topology_destroy(topo);
}

static void
test_flood_unfiltered(void)
{
    struct topology *topo = flood_fixture();
    struct flow_key key;
    struct simt_result r;

    /* An ARP request nobody on the network answers is broadcast. */
    key = simt_arp_key(3, A_MAC, A_MAC, "10.0.0.1", "10.0.0.77");
    r = simt_run(topo, &key);
    CHECK_STREQ(r.acts, "output:4,output:5,output:6,"
                "tunnel(vni=7,dst=198.18.0.12)");
    CHECK(!flow_tags_contains(&r.tags, topo_tag_sg("quiet")));

    /* A neighbor solicitation to its solicited-node group. */
    memset(&key, 0, sizeof key);
    key.in_port = 3;
    simt_mac(&key.eth_dst, "33:33:ff:00:00:02");
    simt_mac(&key.eth_src, A_MAC);
    key.eth_type = htons(ETH_TYPE_IPV6);
    key.nw_proto = IPPROTO_ICMPV6_;
    key.nw_ttl = 255;
    key.tp_src = htons(135);
    CHECK_STREQ(simt_acts(topo, key), "output:4,output:5,output:6,"
                "tunnel(vni=7,dst=198.18.0.12)");
    topology_destroy(topo);
}

/* Turning port security on for e, a receiver of a cached flood, changes
 * a tag the flood carries; afterwards e's copy is guarded by its (empty)
 * groups too. */
static void
test_flood_port_security_change(void)
{
    struct topology *topo = flood_fixture();
    struct flow_key key = udp_flood(3, A_MAC, "10.0.0.1", BCAST);
    struct simt_result r = simt_run(topo, &key);
    struct tag_set changed;
    bool hit = false;

    tag_set_init(&changed);
    simt_apply(topo, "ports/e", xasprintf("{\"network_id\": \"net1\", "
        "\"mac_address\": \"fa:16:3e:00:00:05\", \"fixed_ips\": "
        "[{\"subnet_id\": \"s1\", \"ip_address\": \"10.0.0.5\"}], "
        "\"security_groups\": [], \"binding:host_id\": \"hv1\"}"),
        &changed);
    for (size_t i = 0; i < changed.n; i++) {
        hit = hit || flow_tags_contains(&r.tags, changed.tags[i]);
    }
    CHECK(hit);
    CHECK_STREQ(simt_acts(topo, key), "ct(zone=3,allow_new),"
                "ct(zone=4,allow_new,guard),output:4,"
                "ct(zone=5,guard),output:5,"
                "ct(zone=6,guard),output:6,"
                "tunnel(vni=7,dst=198.18.0.12)");
    tag_set_destroy(&changed);
    topology_destroy(topo);
}

/* A tracked connection, as conntrack reports it: is it still allowed? */
static struct ct_conn_info
conn(uint16_t zone, uint8_t proto, const char *src, uint16_t sport,
     const char *dst, uint16_t dport)
{
    struct ct_conn_info c;

    memset(&c, 0, sizeof c);
    c.zone = zone;
    c.proto = proto;
    c.src.ip4 = inet_addr(src);
    c.dst.ip4 = inet_addr(dst);
    c.sport = htons(sport);
    c.dport = htons(dport);
    return c;
}

static void
test_conn_revalidation(void)
{
    struct topology *topo = fixture();
    struct ct_conn_info in80 = conn(3, IPPROTO_TCP_, "192.0.2.7", 40000,
                                    "10.0.0.1", 80);
    struct ct_conn_info in22 = conn(3, IPPROTO_TCP_, "192.0.2.7", 40000,
                                    "10.0.0.1", 22);
    struct ct_conn_info out = conn(3, IPPROTO_UDP_, "10.0.0.1", 5000,
                                   "192.0.2.7", 53);
    struct ct_conn_info ping = conn(3, IPPROTO_ICMP_, "10.9.1.1", 7,
                                    "10.0.0.1", 7);

    /* Incoming to web's port 80, outgoing anywhere (def's egress rule),
     * ICMP echo from 10.9.0.0/16: allowed.  Port 22 from outside never
     * was. */
    CHECK(sim_sg_conn_permitted(topo, 3, &in80));
    CHECK(!sim_sg_conn_permitted(topo, 3, &in22));
    CHECK(sim_sg_conn_permitted(topo, 3, &out));
    CHECK(sim_sg_conn_permitted(topo, 3, &ping));
    /* A zone with no attached port, or with port security off: kept. */
    CHECK(sim_sg_conn_permitted(topo, 9, &in22));

    /* Deleting the rules that allowed them revokes exactly those. */
    simt_apply(topo, "security-group-rules/r3", NULL, NULL);
    CHECK(!sim_sg_conn_permitted(topo, 3, &in80));
    CHECK(sim_sg_conn_permitted(topo, 3, &out));
    CHECK(sim_sg_conn_permitted(topo, 3, &ping));
    simt_apply(topo, "security-group-rules/r1", NULL, NULL);
    CHECK(!sim_sg_conn_permitted(topo, 3, &out));
    topology_destroy(topo);
}

/* IPv6: the default group's IPv6 rules (egress any, ingress from
 * members) and an IPv6 prefix rule, over ports with IPv4 and IPv6 fixed
 * IPs. */
static void
port6(struct topology *topo, const char *id, const char *mac,
      const char *ip4, const char *ip6, const char *host, const char *sgs,
      const char *pairs, struct tag_set *changed)
{
    char key[32];

    snprintf(key, sizeof key, "ports/%s", id);
    simt_apply(topo, key, xasprintf("{\"network_id\": \"net1\", "
                             "\"mac_address\": \"%s\", \"fixed_ips\": "
                             "[{\"ip_address\": \"%s\"}, "
                             "{\"ip_address\": \"%s\"}], "
                             "\"security_groups\": %s, "
                             "\"allowed_address_pairs\": %s, "
                             "\"binding:host_id\": \"%s\"}",
                             mac, ip4, ip6, sgs, pairs, host), changed);
}

static struct topology *
fixture6(void)
{
    struct topology *topo = fixture();

    rule(topo, "r61", "\"security_group_id\": \"def\", \"direction\": "
         "\"egress\", \"ethertype\": \"IPv6\"", NULL);
    rule(topo, "r62", "\"security_group_id\": \"def\", \"direction\": "
         "\"ingress\", \"ethertype\": \"IPv6\", \"remote_group_id\": "
         "\"def\"", NULL);
    rule(topo, "r63", "\"security_group_id\": \"web\", \"direction\": "
         "\"ingress\", \"ethertype\": \"IPv6\", \"protocol\": \"tcp\", "
         "\"port_range_min\": 443, \"port_range_max\": 443, "
         "\"remote_ip_prefix\": \"2001:db8::/32\"", NULL);
    port6(topo, "a", "fa:16:3e:00:00:01", "10.0.0.1", "fd00::1", "hv1",
          "[\"web\", \"def\"]", "[]", NULL);
    port6(topo, "b", "fa:16:3e:00:00:02", "10.0.0.2", "fd00::2", "hv1",
          "[\"def\"]", "[]", NULL);
    port6(topo, "c", "fa:16:3e:00:00:03", "10.0.0.3", "fd00::3", "hv2",
          "[\"def\"]", "[]", NULL);
    return topo;
}


static void
test_ipv6(void)
{
    struct topology *topo = fixture6();
    struct flow_key key;
    struct simt_result r;
    static const uint8_t ones[16] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

    /* From c, a member of def: any port, and the verdict read all of
     * the source address. */
    key = to_a6(FLOW_PORT_TUNNEL, C_MAC, "fd00::3", 22);
    r = simt_run(topo, &key);
    CHECK_STREQ(r.acts, "ct(zone=3,allow_new),output:3");
    CHECK(!memcmp(r.wc.masks.nw_src.ip6, ones, 16));
    CHECK(flow_tags_contains(&r.tags, topo_tag_sgmembers("def")));
    /* b to a on this host: b's IPv6 egress rule and a's ingress. */
    CHECK_STREQ(simt_acts(topo, to_a6(4, "fa:16:3e:00:00:02", "fd00::2",
                                      22)),
                "ct(zone=4,allow_new),ct(zone=3,allow_new),output:3");
    /* An address that is no member's: not allowed to start... */
    CHECK_STREQ(simt_acts(topo, to_a6(FLOW_PORT_TUNNEL, C_MAC, "fd00::99",
                                      22)), "ct(zone=3),output:3");
    /* ...except to 443 from 2001:db8::/32. */
    CHECK_STREQ(simt_acts(topo, to_a6(FLOW_PORT_TUNNEL, C_MAC,
                                      "2001:db8:7::1", 443)),
                "ct(zone=3,allow_new),output:3");
    CHECK_STREQ(simt_acts(topo, to_a6(FLOW_PORT_TUNNEL, C_MAC,
                                      "2001:db9::1", 443)),
                "ct(zone=3),output:3");
    CHECK_STREQ(simt_acts(topo, to_a6(FLOW_PORT_TUNNEL, C_MAC,
                                      "2001:db8:7::1", 22)),
                "ct(zone=3),output:3");
    /* The IPv4 address of a member does not make its IPv6 bytes one. */
    key = to_a6(FLOW_PORT_TUNNEL, C_MAC, "::", 22);
    key.nw_src.ip4 = inet_addr("10.0.0.3");
    CHECK_STREQ(simt_acts(topo, key), "ct(zone=3),output:3");

    /* "icmp" in an IPv6 rule means ICMPv6 (as Neutron reads it). */
    CHECK_STREQ(simt_acts(topo, to_a6(FLOW_PORT_TUNNEL, C_MAC,
                                      "2001:db9::1", 0)),
                "ct(zone=3),output:3");
    rule(topo, "r64", "\"security_group_id\": \"web\", \"direction\": "
         "\"ingress\", \"ethertype\": \"IPv6\", \"protocol\": \"icmp\"",
         NULL);
    CHECK_STREQ(simt_acts(topo, to_a6(FLOW_PORT_TUNNEL, C_MAC,
                                      "2001:db9::1", 0)),
                "ct(zone=3,allow_new),output:3");

    /* An allowed address pair counts as membership. */
    port6(topo, "d", "fa:16:3e:00:00:04", "10.0.0.4", "fd00::4", "hv2",
          "[\"def\"]", "[{\"ip_address\": \"fd00:9::/64\"}]", NULL);
    CHECK_STREQ(simt_acts(topo, to_a6(FLOW_PORT_TUNNEL, C_MAC, "fd00:9::5",
                                      22)),
                "ct(zone=3,allow_new),output:3");
    topology_destroy(topo);
}

static void
test_ipv6_membership_changes(void)
{
    struct topology *topo = fixture6();
    struct ct_conn_info c6 = conn(3, IPPROTO_TCP_, "0.0.0.0", 40000,
                                  "0.0.0.0", 22);
    struct ct_conn_info out6 = conn(3, IPPROTO_UDP_, "0.0.0.0", 5000,
                                    "0.0.0.0", 53);
    struct tag_set changed;

    c6.ipv6 = out6.ipv6 = true;
    CHECK(inet_pton(AF_INET6, "fd00::3", c6.src.ip6) == 1);
    CHECK(inet_pton(AF_INET6, "fd00::1", c6.dst.ip6) == 1);
    CHECK(inet_pton(AF_INET6, "fd00::1", out6.src.ip6) == 1);
    CHECK(inet_pton(AF_INET6, "2001:db8::53", out6.dst.ip6) == 1);
    CHECK(sim_sg_conn_permitted(topo, 3, &c6));
    CHECK(sim_sg_conn_permitted(topo, 3, &out6));

    /* c's IPv6 address changes: remote-group flows are invalidated, and
     * the connection from the old address is no longer permitted. */
    tag_set_init(&changed);
    port6(topo, "c", "fa:16:3e:00:00:03", "10.0.0.3", "fd00::33", "hv2",
          "[\"def\"]", "[]", &changed);
    CHECK(simt_has_tag(&changed, topo_tag_sgmembers("def")));
    CHECK(!sim_sg_conn_permitted(topo, 3, &c6));
    tag_set_destroy(&changed);

    /* So does a change of a member's allowed address pairs only. */
    tag_set_init(&changed);
    port6(topo, "c", "fa:16:3e:00:00:03", "10.0.0.3", "fd00::33", "hv2",
          "[\"def\"]", "[{\"ip_address\": \"fd00::3\"}]", &changed);
    CHECK(simt_has_tag(&changed, topo_tag_sgmembers("def")));
    CHECK(sim_sg_conn_permitted(topo, 3, &c6));
    tag_set_destroy(&changed);

    /* Deleting the IPv6 egress rule ends a's outgoing IPv6 connection. */
    simt_apply(topo, "security-group-rules/r61", NULL, NULL);
    CHECK(!sim_sg_conn_permitted(topo, 3, &out6));
    topology_destroy(topo);
}

/* Which zones a change concerns: a's (web + def) and b's (def), never
 * the unfiltered or unattached. */
static size_t
zones_for(struct topology *topo, struct tag_set *changed, bool *z3, bool *z4)
{
    static uint64_t zones[SIM_ZONE_WORDS];
    size_t n;

    memset(zones, 0, sizeof zones);
    n = sim_sg_affected_zones(topo, changed, zones);
    *z3 = zones[0] & (1ULL << 3);
    *z4 = zones[0] & (1ULL << 4);
    tag_set_destroy(changed);
    tag_set_init(changed);
    return n;
}

static void
test_affected_zones(void)
{
    struct topology *topo = fixture();
    struct tag_set changed;
    bool z3, z4;

    tag_set_init(&changed);
    /* A rule of web: a only. */
    simt_apply(topo, "security-group-rules/r3", NULL, &changed);
    CHECK_EQ(zones_for(topo, &changed, &z3, &z4), 1);
    CHECK(z3 && !z4);
    /* c (on hv2) leaves def: def's ingress rule names def, so both. */
    port(topo, "c", "fa:16:3e:00:00:03", "10.0.0.3", "hv2", "[]");
    tag_set_add(&changed, topo_tag_sgmembers("def"));
    CHECK_EQ(zones_for(topo, &changed, &z3, &z4), 2);
    CHECK(z3 && z4);
    /* A group nobody here uses or names: none, and no pass is needed. */
    simt_apply(topo, "security-groups/other",
               xasprintf("{\"name\": \"other\"}"), &changed);
    rule(topo, "r9", "\"security_group_id\": \"other\", \"direction\": "
         "\"ingress\"", &changed);
    CHECK_EQ(zones_for(topo, &changed, &z3, &z4), 0);
    /* b's own change: b only. */
    tag_set_add(&changed, topo_tag_port("b"));
    CHECK_EQ(zones_for(topo, &changed, &z3, &z4), 1);
    CHECK(!z3 && z4);
    /* A snapshot: every filtered port; b without port security: none of
     * it. */
    changed.all = true;
    CHECK_EQ(zones_for(topo, &changed, &z3, &z4), 2);
    simt_apply(topo, "ports/b", xasprintf("{\"network_id\": \"net1\", "
        "\"mac_address\": \"fa:16:3e:00:00:02\", "
        "\"port_security_enabled\": false, \"binding:host_id\": \"hv1\"}"),
        NULL);
    changed.all = true;
    CHECK_EQ(zones_for(topo, &changed, &z3, &z4), 1);
    CHECK(z3 && !z4);
    tag_set_destroy(&changed);
    topology_destroy(topo);
}

/* A flood admitted by a receiver is committed in the receiver's zone with
 * the flood's addresses; it is judged there as incoming, by the ingress
 * rules that admitted it. */
static void
test_flood_conn_revalidation(void)
{
    struct topology *topo = flood_fixture();
    struct ct_conn_info bcast = conn(4, IPPROTO_UDP_, "10.0.0.1", 5000,
                                     "10.0.0.255", 6000);

    CHECK(sim_sg_conn_permitted(topo, 4, &bcast));
    CHECK(!sim_sg_conn_permitted(topo, 5, &bcast));
    /* def's ingress rule gone: b would no longer admit it. */
    simt_apply(topo, "security-group-rules/r2", NULL, NULL);
    CHECK(!sim_sg_conn_permitted(topo, 4, &bcast));
    topology_destroy(topo);
}

int
main(void)
{
    RUN(test_local_both_directions);
    RUN(test_ingress_rules);
    RUN(test_changes);
    RUN(test_membership_tag);
    RUN(test_flood_ingress_per_port);
    RUN(test_flood_unfiltered);
    RUN(test_dhcp_answers_admitted);
    RUN(test_flood_port_security_change);
    RUN(test_conn_revalidation);
    RUN(test_ipv6);
    RUN(test_ipv6_membership_changes);
    RUN(test_affected_zones);
    RUN(test_flood_conn_revalidation);
    return unit_finish();
}
