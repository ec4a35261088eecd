/*
 * test-sim-portsec.c -- port security (anti-spoofing) in the simulation:
 * a port with port_security_enabled may only send from its MAC and fixed
 * IPs, or from an allowed address pair; spoofed ARP and DHCP server
 * replies are dropped; IPv6 sources, neighbor advertisements, router
 * advertisements and DHCPv6 replies likewise; with port security off
 * everything is forwarded;
 * changing the setting invalidates the port's flows.
 *
 * Fixture (host hv1): net1 vni 7, subnet 10.0.0.0/24 (DHCP on);
 *   p1 fa:16:3e:00:00:01 10.0.0.1 dp port 3, port security on, allowed
 *      pairs 10.0.9.0/24 (its own MAC) and 10.0.8.8 with MAC :aa;
 *   p2 fa:16:3e:00:00:02 10.0.0.2 dp port 4, port security off;
 *   p3 fa:16:3e:00:00:03 10.0.0.3 on hv2.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/topology.h"
#include "tests/lib/sim-test.h"
#include "tests/lib/unit.h"

static char *
port_json(const char *id, const char *mac, const char *ip, const char *host,
          bool secure, const char *pairs)
{
    return xasprintf("{\"id\": \"%s\", \"network_id\": \"net1\", "
                     "\"mac_address\": \"%s\", \"fixed_ips\": "
                     "[{\"subnet_id\": \"s1\", \"ip_address\": \"%s\"}], "
                     "\"port_security_enabled\": %s, "
                     "\"allowed_address_pairs\": %s, "
                     "\"binding:host_id\": \"%s\"}",
                     id, mac, ip, secure ? "true" : "false", pairs, host);
}

#define P1_PAIRS "[{\"ip_address\": \"10.0.9.0/24\"}, " \
                 "{\"ip_address\": \"10.0.8.8\", " \
                 "\"mac_address\": \"fa:16:3e:00:00:aa\"}, " \
                 "{\"ip_address\": \"fd00::/64\"}]"

static struct topology *
fixture(void)
{
    struct topology *topo = topology_create("hv1");
    struct tag_set scratch;

    tag_set_init(&scratch);
    simt_apply(topo, "networks/net1", xasprintf("{\"name\": \"net1\", "
        "\"provider:segmentation_id\": 7}"), NULL);
    simt_apply(topo, "subnets/s1", xasprintf("{\"network_id\": \"net1\", "
        "\"cidr\": \"10.0.0.0/24\", \"gateway_ip\": \"10.0.0.254\", "
        "\"enable_dhcp\": true}"), NULL);
    simt_apply(topo, "ports/p1",
               port_json("p1", "fa:16:3e:00:00:01", "10.0.0.1", "hv1",
                         true, P1_PAIRS),
               NULL);
    simt_apply(topo, "ports/p2",
               port_json("p2", "fa:16:3e:00:00:02", "10.0.0.2", "hv1",
                         false, "[]"),
               NULL);
    simt_apply(topo, "ports/p3",
               port_json("p3", "fa:16:3e:00:00:03", "10.0.0.3", "hv2",
                         true, "[]"),
               NULL);
    simt_apply(topo, "agents/hv2", xasprintf("{\"host\": \"hv2\", "
        "\"configurations\": {\"tunnel_ip\": \"198.18.0.12\"}}"), NULL);
    topology_bind(topo, "p1", 3, &scratch);
    topology_bind(topo, "p2", 4, &scratch);
    tag_set_destroy(&scratch);
    return topo;
}

/* UDP to p3. */
static struct flow_key
udp_key(uint32_t in_port, const char *src_mac, const char *src_ip,
        uint16_t sport, uint16_t dport)
{
    return simt_ip4_key(in_port, src_mac, src_ip, "fa:16:3e:00:00:03",
                        "10.0.0.3", IPPROTO_UDP_, sport, dport);
}

/* Who has p3's address? */
static struct flow_key
arp_key(uint32_t in_port, const char *src_mac, const char *sha,
        const char *spa)
{
    return simt_arp_key(in_port, src_mac, sha, spa, "10.0.0.3");
}

/* p1 (port 3) has port security and no security group: new connections
 * are refused by its (empty) egress rules, replies pass -- ct without
 * allow_new.  p2 (port 4) is not filtered. */
#define TO_P3 "ct(zone=3),tunnel(vni=7,dst=198.18.0.12)"
#define TO_P3_OPEN "tunnel(vni=7,dst=198.18.0.12)"
#define P1_MAC "fa:16:3e:00:00:01"

static void
test_ip_and_mac(void)
{
    struct topology *topo = fixture();

    CHECK_STREQ(simt_acts(topo, udp_key(3, P1_MAC, "10.0.0.1", 999, 53)),
                TO_P3);
    CHECK_STREQ(simt_acts(topo, udp_key(3, P1_MAC, "10.0.0.77", 999, 53)),
                "drop(spoofed_ip)");
    CHECK_STREQ(simt_acts(topo,
                          udp_key(3, "fa:16:3e:00:00:99", "10.0.0.1", 999,
                                  53)),
                "drop(spoofed_mac)");
    /* Allowed pairs: a prefix with the port's MAC, an address with its
     * own MAC (and only with it). */
    CHECK_STREQ(simt_acts(topo, udp_key(3, P1_MAC, "10.0.9.200", 999, 53)),
                TO_P3);
    CHECK_STREQ(simt_acts(topo, udp_key(3, P1_MAC, "10.0.10.1", 999, 53)),
                "drop(spoofed_ip)");
    CHECK_STREQ(simt_acts(topo,
                          udp_key(3, "fa:16:3e:00:00:aa", "10.0.8.8", 999,
                                  53)),
                TO_P3);
    CHECK_STREQ(simt_acts(topo,
                          udp_key(3, "fa:16:3e:00:00:aa", "10.0.0.1", 999,
                                  53)),
                "drop(spoofed_ip)");
    CHECK_STREQ(simt_acts(topo, udp_key(3, P1_MAC, "10.0.8.8", 999, 53)),
                "drop(spoofed_ip)");
    /* Port security off: anything goes. */
    CHECK_STREQ(simt_acts(topo, udp_key(4, "fa:16:3e:00:00:99", "1.2.3.4", 999,
                                   53)), TO_P3_OPEN);
    topology_destroy(topo);
}

static void
test_dhcp(void)
{
    struct topology *topo = fixture();
    struct flow_key k = udp_key(3, P1_MAC, "0.0.0.0", 68, 67);

    /* A client without an address may ask for one... */
    CHECK_STREQ(simt_acts(topo, k), "userspace(dhcp)");
    /* ...but nothing else may come from 0.0.0.0. */
    CHECK_STREQ(simt_acts(topo, udp_key(3, P1_MAC, "0.0.0.0", 68, 53)),
                "drop(spoofed_ip)");
    /* A VM may not answer as a DHCP server, even from its own address. */
    CHECK_STREQ(simt_acts(topo, udp_key(3, P1_MAC, "10.0.0.1", 67, 68)),
                "drop(dhcp_server_vm)");
    CHECK_STREQ(simt_acts(topo, udp_key(4, "fa:16:3e:00:00:02", "10.0.0.2", 67,
                                   68)), TO_P3_OPEN);
    topology_destroy(topo);
}

static void
test_arp(void)
{
    struct topology *topo = fixture();

    /* 10.0.0.3 is p3's: answered locally. */
    CHECK_STREQ(simt_acts(topo, arp_key(3, P1_MAC, P1_MAC, "10.0.0.1")),
                "arp_reply(fa:16:3e:00:00:03)");
    /* ARP probe (sender 0.0.0.0). */
    CHECK_STREQ(simt_acts(topo, arp_key(3, P1_MAC, P1_MAC, "0.0.0.0")),
                "arp_reply(fa:16:3e:00:00:03)");
    CHECK_STREQ(simt_acts(topo, arp_key(3, P1_MAC, P1_MAC, "10.0.0.3")),
                "drop(spoofed_arp)");
    CHECK_STREQ(simt_acts(topo, arp_key(3, P1_MAC, "fa:16:3e:00:00:03",
                                   "10.0.0.1")), "drop(spoofed_arp)");
    CHECK_STREQ(simt_acts(topo, arp_key(4, "fa:16:3e:00:00:02",
                                   "fa:16:3e:00:00:03", "10.0.0.3")),
                "arp_reply(fa:16:3e:00:00:03)");
    topology_destroy(topo);
}

static void
test_change_invalidates(void)
{
    struct topology *topo = fixture();
    struct tag_set changed;
    bool has = false;

    tag_set_init(&changed);
    simt_apply(topo, "ports/p1",
               port_json("p1", P1_MAC, "10.0.0.1", "hv1", false, "[]"),
               &changed);
    for (size_t i = 0; i < changed.n; i++) {
        has = has || changed.tags[i] == topo_tag_port("p1");
    }
    CHECK(has);
    CHECK_STREQ(simt_acts(topo, udp_key(3, P1_MAC, "10.0.0.77", 999, 53)),
                TO_P3_OPEN);

    /* Malformed pairs are refused and change nothing. */
    CHECK_EQ(topology_update(topo, "ports/p1",
                             "{\"network_id\": \"net1\", \"mac_address\": "
                             "\"fa:16:3e:00:00:01\", "
                             "\"allowed_address_pairs\": [{\"ip_address\": "
                             "\"10.0.0.0/33\"}]}", &changed), EINVAL);
    CHECK_EQ(topology_update(topo, "ports/p1",
                             "{\"network_id\": \"net1\", \"mac_address\": "
                             "\"fa:16:3e:00:00:01\", "
                             "\"port_security_enabled\": \"yes\"}",
                             &changed), EINVAL);
    CHECK_STREQ(simt_acts(topo, udp_key(3, P1_MAC, "10.0.0.77", 999, 53)),
                TO_P3_OPEN);
    tag_set_destroy(&changed);
    topology_destroy(topo);
}

/* IPv6.  p1 gets fixed IP fd01::1 besides 10.0.0.1; its pair fd00::/64
 * (with its own MAC) now counts. */
static struct flow_key
ip6_key(uint32_t in_port, const char *src_mac, const char *src_ip,
        uint8_t proto, uint16_t sport, uint16_t dport)
{
    struct flow_key key = udp_key(in_port, src_mac, "0.0.0.0", sport, dport);

    key.eth_type = htons(ETH_TYPE_IPV6);
    key.nw_proto = proto;
    key.nw_src.ip4 = 0;
    CHECK(inet_pton(AF_INET6, src_ip, key.nw_src.ip6) == 1);
    CHECK(inet_pton(AF_INET6, "fd01::3", key.nw_dst.ip6) == 1);
    return key;
}

static struct flow_key
nd_key(uint32_t in_port, const char *src_ip, uint16_t type,
       const char *target)
{
    struct flow_key key = ip6_key(in_port, P1_MAC, src_ip, IPPROTO_ICMPV6_,
                                  type, 0);

    CHECK(inet_pton(AF_INET6, target, key.nd_target) == 1);
    return key;
}

static struct topology *
fixture6(void)
{
    struct topology *topo = fixture();

    simt_apply(topo, "ports/p1", xasprintf("{\"network_id\": \"net1\", "
        "\"mac_address\": \"" P1_MAC "\", \"fixed_ips\": "
        "[{\"ip_address\": \"10.0.0.1\"}, {\"ip_address\": \"fd01::1\"}], "
        "\"port_security_enabled\": true, \"allowed_address_pairs\": "
        P1_PAIRS ", \"binding:host_id\": \"hv1\"}"), NULL);
    return topo;
}

static void
test_ipv6_sources(void)
{
    struct topology *topo = fixture6();
    struct flow_key k;

    /* Its fixed IP, its pair's prefix (with its MAC), its link-local
     * address and that of the pair's MAC. */
    CHECK_STREQ(simt_acts(topo, ip6_key(3, P1_MAC, "fd01::1", IPPROTO_UDP_,
                                        999, 53)), TO_P3);
    CHECK_STREQ(simt_acts(topo, ip6_key(3, P1_MAC, "fd00::1234",
                                        IPPROTO_UDP_, 999, 53)), TO_P3);
    CHECK_STREQ(simt_acts(topo, ip6_key(3, P1_MAC, "fe80::f816:3eff:fe00:1",
                                        IPPROTO_UDP_, 999, 53)), TO_P3);
    CHECK_STREQ(simt_acts(topo, ip6_key(3, "fa:16:3e:00:00:aa",
                                        "fe80::f816:3eff:fe00:aa",
                                        IPPROTO_UDP_, 999, 53)), TO_P3);
    /* Anything else is spoofed: another address, the pair's prefix from
     * the other MAC, another port's link-local address, the unspecified
     * address outside neighbor discovery. */
    CHECK_STREQ(simt_acts(topo, ip6_key(3, P1_MAC, "fd01::99", IPPROTO_UDP_,
                                        999, 53)), "drop(spoofed_ip)");
    CHECK_STREQ(simt_acts(topo, ip6_key(3, "fa:16:3e:00:00:aa", "fd00::1",
                                        IPPROTO_UDP_, 999, 53)),
                "drop(spoofed_ip)");
    CHECK_STREQ(simt_acts(topo, ip6_key(3, P1_MAC, "fe80::f816:3eff:fe00:3",
                                        IPPROTO_UDP_, 999, 53)),
                "drop(spoofed_ip)");
    CHECK_STREQ(simt_acts(topo, ip6_key(3, P1_MAC, "::", IPPROTO_UDP_, 999,
                                        53)), "drop(spoofed_ip)");
    /* The decision read every bit of the source. */
    k = ip6_key(3, P1_MAC, "fd01::99", IPPROTO_UDP_, 999, 53);
    struct simt_result r = simt_run(topo, &k);
    static const uint8_t ones[16] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    CHECK(!memcmp(r.wc.masks.nw_src.ip6, ones, 16));
    /* Port security off: anything goes. */
    CHECK_STREQ(simt_acts(topo, ip6_key(4, "fa:16:3e:00:00:99", "2001::1",
                                        IPPROTO_UDP_, 999, 53)),
                TO_P3_OPEN);
    topology_destroy(topo);
}

static void
test_ipv6_nd_ra_dhcp(void)
{
    struct topology *topo = fixture6();
    struct flow_key k;

    /* Duplicate address detection and MLD reports from ::, neighbor
     * discovery unfiltered by security groups. */
    CHECK_STREQ(simt_acts(topo, nd_key(3, "::", 135, "fd01::1")),
                TO_P3_OPEN);
    CHECK_STREQ(simt_acts(topo, ip6_key(3, P1_MAC, "::", IPPROTO_ICMPV6_,
                                        143, 0)), TO_P3_OPEN);
    /* An advertisement may only announce the port's own addresses. */
    CHECK_STREQ(simt_acts(topo, nd_key(3, "fd01::1", 136, "fd01::1")),
                TO_P3_OPEN);
    CHECK_STREQ(simt_acts(topo, nd_key(3, "fe80::f816:3eff:fe00:1", 136,
                                       "fe80::f816:3eff:fe00:1")),
                TO_P3_OPEN);
    CHECK_STREQ(simt_acts(topo, nd_key(3, "fd01::1", 136, "fd01::3")),
                "drop(spoofed_nd)");
    k = nd_key(3, "fd01::1", 136, "fd01::3");
    struct simt_result r = simt_run(topo, &k);
    CHECK(r.wc.masks.nd_target[0] == 0xff && r.wc.masks.nd_target[15] == 0xff);
    /* A solicitation may ask about anyone. */
    CHECK_STREQ(simt_acts(topo, nd_key(3, "fd01::1", 135, "fd01::3")),
                TO_P3_OPEN);
    /* Router advertisements and DHCPv6 server replies are not a VM's to
     * send; a DHCPv6 client's request is. */
    CHECK_STREQ(simt_acts(topo, ip6_key(3, P1_MAC, "fe80::f816:3eff:fe00:1",
                                        IPPROTO_ICMPV6_, 134, 0)),
                "drop(router_advert_vm)");
    CHECK_STREQ(simt_acts(topo, ip6_key(3, P1_MAC, "fd01::1", IPPROTO_UDP_,
                                        547, 546)), "drop(dhcp_server_vm)");
    CHECK_STREQ(simt_acts(topo, ip6_key(3, P1_MAC, "fe80::f816:3eff:fe00:1",
                                        IPPROTO_UDP_, 546, 547)), TO_P3);
    /* With port security off, all of it passes. */
    k = ip6_key(4, "fa:16:3e:00:00:02", "fe80::1", IPPROTO_ICMPV6_, 134, 0);
    CHECK_STREQ(simt_acts(topo, k), TO_P3_OPEN);
    topology_destroy(topo);
}

int
main(void)
{
    RUN(test_ip_and_mac);
    RUN(test_dhcp);
    RUN(test_arp);
    RUN(test_change_invalidates);
    RUN(test_ipv6_sources);
    RUN(test_ipv6_nd_ra_dhcp);
    return unit_finish();
}
