/*
 * test-sim-router.c -- distributed routers in the topology and the
 * simulation: routed unicast (local, remote, through a chain of two
 * routers, via a static route to a VM), the router's own addresses (echo,
 * UDP), TTL, unreachable destinations, MTU, DHCP and ARP at the edge,
 * tags and wildcards of routed flows, the routing table as the agent
 * shows it, DHCP lookups, and two tenants with the same addresses.
 *
 * Port security (and so security groups) is off for the fixture's ports:
 * test-sim-portsec.c and test-sim-sg.c cover those.
 *
 * The fixture, seen from host hv1:
 *
 *   netA vni 10 mtu 1450  sA 10.1.0.0/24 gw .1 dhcp   a1 .11 hv1 (port 3)
 *                                                     a2 .12 hv2
 *   netB vni 11 mtu 1300  sB 10.2.0.0/24 gw .1 no dhcp b1 .11 hv2
 *                                                     nh .50 hv1 (port 5)
 *   netT vni 12 mtu 1450  sT 10.99.0.0/24            (transit)
 *   netC vni 13 mtu 1450  sC 10.3.0.0/24 gw .1        c1 .11 hv2
 *   R1: rA 10.1.0.1 (:a1), rB 10.2.0.1 (:b1), rT 10.99.0.1 (:f1);
 *       routes 10.3.0.0/16 via 10.99.0.2, 192.168.0.0/24 via 10.2.0.50
 *   R2: r2T 10.99.0.2 (:f2), r2C 10.3.0.1 (:c1)
 *   Tenant 2 (same addresses): netA2 vni 20 with a1' .11 hv1 (port 6),
 *       netB2 vni 21 with b1' .11 hv2; R3: 10.1.0.1 (:a3), 10.2.0.1 (:b3).
 *   agents: hv1 198.18.0.11, hv2 198.18.0.12
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/topology.h"
#include "tests/lib/sim-test.h"
#include "tests/lib/unit.h"

#define R1 "r1000000-0000-4000-8000-000000000001"
#define R2 "r2000000-0000-4000-8000-000000000002"
#define R3 "r3000000-0000-4000-8000-000000000003"

static void
net(struct topology *topo, const char *id, int vni, int mtu)
{
    char key[64];

    snprintf(key, sizeof key, "networks/%s", id);
    simt_apply(topo, key, xasprintf("{\"id\": \"%s\", \"name\": \"%s\", "
                             "\"mtu\": %d, \"provider:segmentation_id\": "
                             "%d}", id, id, mtu, vni), NULL);
}

static void
subnet(struct topology *topo, const char *id, const char *net_id,
       const char *cidr, const char *gw, bool dhcp)
{
    char key[64];

    snprintf(key, sizeof key, "subnets/%s", id);
    simt_apply(topo, key, xasprintf("{\"id\": \"%s\", \"network_id\": \"%s\", "
                             "\"ip_version\": 4, \"cidr\": \"%s\", "
                             "\"gateway_ip\": %s%s%s, \"enable_dhcp\": %s, "
                             "\"dns_nameservers\": [\"10.1.0.53\"], "
                             "\"host_routes\": [{\"destination\": "
                             "\"172.16.0.0/12\", \"nexthop\": "
                             "\"10.1.0.254\"}]}",
                             id, net_id, cidr, gw ? "\"" : "",
                             gw ? gw : "null", gw ? "\"" : "",
                             dhcp ? "true" : "false"), NULL);
}

/* A port; 'router' makes it that router's interface. */
static void
port(struct topology *topo, const char *id, const char *net_id,
     const char *sub, const char *mac, const char *ip, const char *host,
     const char *router)
{
    char key[64];

    snprintf(key, sizeof key, "ports/%s", id);
    simt_apply(topo, key, xasprintf("{\"id\": \"%s\", \"name\": \"%s\", "
                             "\"network_id\": \"%s\", \"mac_address\": "
                             "\"%s\", \"fixed_ips\": [{\"subnet_id\": "
                             "\"%s\", \"ip_address\": \"%s\"}], "
                             "\"device_owner\": \"%s\", \"device_id\": "
                             "\"%s\", \"port_security_enabled\": false, "
                             "\"binding:host_id\": \"%s\"}",
                             id, id, net_id, mac, sub, ip,
                             router ? "network:router_interface"
                                    : "compute:nova",
                             router ? router : "", host), NULL);
}

static void
router(struct topology *topo, const char *id, const char *routes,
       bool up, struct tag_set *changed)
{
    char key[64];

    snprintf(key, sizeof key, "routers/%s", id);
    simt_apply(topo, key, xasprintf("{\"id\": \"%s\", \"name\": \"%.2s\", "
                             "\"admin_state_up\": %s, \"routes\": [%s]}",
                             id, id, up ? "true" : "false", routes),
        changed);
}

#define R1_ROUTES                                                         \
    "{\"destination\": \"10.3.0.0/16\", \"nexthop\": \"10.99.0.2\"}, "   \
    "{\"destination\": \"192.168.0.0/24\", \"nexthop\": \"10.2.0.50\"}"

static struct topology *
fixture(void)
{
    struct topology *topo = topology_create("hv1");
    struct tag_set scratch;

    tag_set_init(&scratch);
    /* Routers before their interfaces for R1, after for R2. */
    router(topo, R1, R1_ROUTES, true, NULL);
    net(topo, "netA", 10, 1450);
    net(topo, "netB", 11, 1300);
    net(topo, "netT", 12, 1450);
    net(topo, "netC", 13, 1450);
    subnet(topo, "sA", "netA", "10.1.0.0/24", "10.1.0.1", true);
    subnet(topo, "sB", "netB", "10.2.0.0/24", "10.2.0.1", false);
    subnet(topo, "sT", "netT", "10.99.0.0/24", NULL, true);
    subnet(topo, "sC", "netC", "10.3.0.0/24", "10.3.0.1", true);
    port(topo, "a1", "netA", "sA", "fa:16:3e:00:0a:11", "10.1.0.11", "hv1",
         NULL);
    port(topo, "a2", "netA", "sA", "fa:16:3e:00:0a:12", "10.1.0.12", "hv2",
         NULL);
    port(topo, "b1", "netB", "sB", "fa:16:3e:00:0b:11", "10.2.0.11", "hv2",
         NULL);
    port(topo, "nh", "netB", "sB", "fa:16:3e:00:0b:50", "10.2.0.50", "hv1",
         NULL);
    port(topo, "c1", "netC", "sC", "fa:16:3e:00:0c:11", "10.3.0.11", "hv2",
         NULL);
    port(topo, "rA", "netA", "sA", "fa:16:3e:00:00:a1", "10.1.0.1", "", R1);
    port(topo, "rB", "netB", "sB", "fa:16:3e:00:00:b1", "10.2.0.1", "", R1);
    port(topo, "rT", "netT", "sT", "fa:16:3e:00:00:f1", "10.99.0.1", "",
         R1);
    port(topo, "r2T", "netT", "sT", "fa:16:3e:00:00:f2", "10.99.0.2", "",
         R2);
    port(topo, "r2C", "netC", "sC", "fa:16:3e:00:00:c1", "10.3.0.1", "",
         R2);
    router(topo, R2, "", true, NULL);

    /* Tenant 2: the same addresses. */
    net(topo, "netA2", 20, 1450);
    net(topo, "netB2", 21, 1450);
    subnet(topo, "sA2", "netA2", "10.1.0.0/24", "10.1.0.1", true);
    subnet(topo, "sB2", "netB2", "10.2.0.0/24", "10.2.0.1", true);
    port(topo, "a1x", "netA2", "sA2", "fa:16:3e:00:0a:11", "10.1.0.11",
         "hv1", NULL);
    port(topo, "b1x", "netB2", "sB2", "fa:16:3e:00:0b:11", "10.2.0.11",
         "hv2", NULL);
    port(topo, "rA3", "netA2", "sA2", "fa:16:3e:00:00:a3", "10.1.0.1", "",
         R3);
    port(topo, "rB3", "netB2", "sB2", "fa:16:3e:00:00:b3", "10.2.0.1", "",
         R3);
    router(topo, R3, "", true, NULL);

    simt_apply(topo, "agents/hv1", xasprintf("{\"host\": \"hv1\", "
        "\"configurations\": {\"tunnel_ip\": \"198.18.0.11\"}}"), NULL);
    simt_apply(topo, "agents/hv2", xasprintf("{\"host\": \"hv2\", "
        "\"configurations\": {\"tunnel_ip\": \"198.18.0.12\"}}"), NULL);
    topology_bind(topo, "a1", 3, &scratch);
    topology_bind(topo, "nh", 5, &scratch);
    topology_bind(topo, "a1x", 6, &scratch);
    tag_set_destroy(&scratch);
    return topo;
}

/* An IPv4 packet from 'in_port' (MAC 'src') to 'dst_mac'/'dst_ip'. */
static struct flow_key
ip_key(uint32_t in_port, const char *dst_mac, const char *dst_ip,
       uint8_t proto, uint8_t ttl)
{
    bool icmp = proto == IPPROTO_ICMP_;     /* An echo request. */
    struct flow_key key = simt_ip4_key(in_port, "fa:16:3e:00:0a:11",
                                       "10.1.0.11", dst_mac, dst_ip, proto,
                                       icmp ? 8 : 40000, icmp ? 0 : 5001);

    key.nw_ttl = ttl;
    return key;
}

#define GW_A "fa:16:3e:00:00:a1"

static void
test_routed_remote(void)
{
    struct topology *topo = fixture();
    struct flow_key key = ip_key(3, GW_A, "10.2.0.11", IPPROTO_TCP_, 64);
    struct simt_result r = simt_run(topo, &key);

    CHECK_STREQ(r.acts, "check_mtu(1300,from=10.1.0.1),"
                "set_eth(fa:16:3e:00:00:b1->fa:16:3e:00:0b:11),dec_ttl(1),"
                "tunnel(vni=11,dst=198.18.0.12)");
    CHECK(flow_tags_contains(&r.tags, topo_tag_router(R1)));
    CHECK(flow_tags_contains(&r.tags, topo_tag_port("b1")));
    CHECK(flow_tags_contains(&r.tags, topo_tag_netmembers("netB")));
    CHECK(!flow_tags_contains(&r.tags, topo_tag_router(R2)));
    /* The whole destination (it picks the VM), the TTL only as far as
     * "more than 1": 64 = 01000000, so the top two bits. */
    CHECK_EQ(r.wc.masks.nw_dst.ip4, UINT32_MAX);
    CHECK_EQ(r.wc.masks.nw_ttl, 0xc0);
    CHECK_EQ(r.wc.masks.tp_src & htons(0xff), 0);

    /* Any other TCP port, any source address (port security and
     * security groups are off in this fixture): the same flow. */
    CHECK_EQ(r.wc.masks.nw_src.ip4, 0);
    key.tp_dst = htons(80);
    key.nw_src.ip4 = inet_addr("10.1.0.99");
    CHECK_STREQ(simt_run(topo, &key).acts, r.acts);
    topology_destroy(topo);
}

static void
test_routed_local_and_static(void)
{
    struct topology *topo = fixture();
    struct flow_key key = ip_key(3, GW_A, "10.2.0.50", IPPROTO_UDP_, 64);
    struct simt_result r = simt_run(topo, &key);

    CHECK_STREQ(r.acts, "check_mtu(1300,from=10.1.0.1),"
                "set_eth(fa:16:3e:00:00:b1->fa:16:3e:00:0b:50),dec_ttl(1),"
                "output:5");

    /* A static route whose next hop is that VM: only the prefix bits
     * matter, not the host part. */
    key = ip_key(3, GW_A, "192.168.0.7", IPPROTO_TCP_, 64);
    r = simt_run(topo, &key);
    CHECK_STREQ(r.acts, "check_mtu(1300,from=10.1.0.1),"
                "set_eth(fa:16:3e:00:00:b1->fa:16:3e:00:0b:50),dec_ttl(1),"
                "output:5");
    CHECK_EQ(ntohl(r.wc.masks.nw_dst.ip4), 0xffffff00);
    topology_destroy(topo);
}

static void
test_router_chain(void)
{
    struct topology *topo = fixture();
    struct flow_key key = ip_key(3, GW_A, "10.3.0.11", IPPROTO_TCP_, 64);
    struct simt_result r = simt_run(topo, &key);

    CHECK_STREQ(r.acts, "check_mtu(1450,from=10.1.0.1),"
                "set_eth(fa:16:3e:00:00:c1->fa:16:3e:00:0c:11),dec_ttl(2),"
                "tunnel(vni=13,dst=198.18.0.12)");
    CHECK(flow_tags_contains(&r.tags, topo_tag_router(R1)));
    CHECK(flow_tags_contains(&r.tags, topo_tag_router(R2)));

    /* TTL 2 expires at the second router, which says so from its address
     * on the transit network. */
    key.nw_ttl = 2;
    CHECK_STREQ(simt_run(topo, &key).acts,
                "icmp_error(type=11,code=0,from=10.99.0.2)");
    key.nw_ttl = 1;
    CHECK_STREQ(simt_run(topo, &key).acts,
                "icmp_error(type=11,code=0,from=10.1.0.1)");
    key.nw_ttl = 3;
    CHECK(!strncmp(simt_run(topo, &key).acts, "check_mtu", 9));

    /* The second router answers pings to its far address. */
    key = ip_key(3, GW_A, "10.3.0.1", IPPROTO_ICMP_, 64);
    CHECK_STREQ(simt_run(topo, &key).acts, "icmp_reply(from=10.3.0.1)");
    topology_destroy(topo);
}

static void
test_router_itself(void)
{
    struct topology *topo = fixture();
    struct flow_key key = ip_key(3, GW_A, "10.1.0.1", IPPROTO_ICMP_, 1);

    /* Echo to the gateway, whatever the TTL. */
    CHECK_STREQ(simt_run(topo, &key).acts, "icmp_reply(from=10.1.0.1)");
    key = ip_key(3, GW_A, "10.2.0.1", IPPROTO_ICMP_, 64);
    CHECK_STREQ(simt_run(topo, &key).acts, "icmp_reply(from=10.2.0.1)");
    key = ip_key(3, GW_A, "10.2.0.1", IPPROTO_UDP_, 64);
    CHECK_STREQ(simt_run(topo, &key).acts,
                "icmp_error(type=3,code=3,from=10.2.0.1)");
    key = ip_key(3, GW_A, "10.2.0.1", IPPROTO_TCP_, 64);
    CHECK_STREQ(simt_run(topo, &key).acts, "drop(to_router)");
    topology_destroy(topo);
}

static void
test_unreachable(void)
{
    struct topology *topo = fixture();
    struct flow_key key = ip_key(3, GW_A, "8.8.8.8", IPPROTO_UDP_, 64);
    struct simt_result r = simt_run(topo, &key);

    CHECK_STREQ(r.acts, "icmp_error(type=3,code=0,from=10.1.0.1)");
    /* No port has 10.2.0.99 on netB. */
    key = ip_key(3, GW_A, "10.2.0.99", IPPROTO_UDP_, 64);
    r = simt_run(topo, &key);
    CHECK_STREQ(r.acts, "icmp_error(type=3,code=1,from=10.1.0.1)");
    CHECK(flow_tags_contains(&r.tags, topo_tag_netmembers("netB")));

    /* Multicast and non-IP are not routed. */
    key = ip_key(3, GW_A, "239.1.1.1", IPPROTO_UDP_, 64);
    CHECK_STREQ(simt_run(topo, &key).acts, "drop(not_routable)");
    key.eth_type = htons(ETH_TYPE_IPV6);
    CHECK_STREQ(simt_run(topo, &key).acts, "drop(not_routable)");
    topology_destroy(topo);
}

static void
test_dhcp_and_arp(void)
{
    struct topology *topo = fixture();
    struct flow_key key = ip_key(3, "ff:ff:ff:ff:ff:ff", "255.255.255.255",
                                 IPPROTO_UDP_, 64);
    struct topo_dhcp d;
    char buf[INET_ADDRSTRLEN];

    key.tp_src = htons(68);
    key.tp_dst = htons(67);
    CHECK_STREQ(simt_run(topo, &key).acts, "userspace(dhcp)");
    /* A unicast renewal to the server's address, too. */
    simt_mac(&key.eth_dst, "02:77:65:66:74:64");
    key.nw_dst.ip4 = inet_addr("10.1.0.1");
    CHECK_STREQ(simt_run(topo, &key).acts, "userspace(dhcp)");

    /* netB has DHCP off: the VM at port 5 may run its own server, and its
     * DHCP is switched like any packet. */
    key.in_port = 5;
    simt_mac(&key.eth_dst, "ff:ff:ff:ff:ff:ff");
    simt_mac(&key.eth_src, "fa:16:3e:00:0b:50");
    key.nw_src.ip4 = 0;
    CHECK_STREQ(simt_run(topo, &key).acts, "tunnel(vni=11,dst=198.18.0.12)");

    /* ARP for the gateway: the router's MAC. */
    key = simt_arp_key(3, "fa:16:3e:00:0a:11", "fa:16:3e:00:0a:11",
                       "10.1.0.11", "10.1.0.1");
    CHECK_STREQ(simt_run(topo, &key).acts, "arp_reply(fa:16:3e:00:00:a1)");

    /* The lookup the agent's DHCP server makes. */
    CHECK_EQ(topology_dhcp_lookup(topo, 3, &d), 0);
    CHECK_EQ(d.ip, inet_addr("10.1.0.11"));
    CHECK_EQ(d.plen, 24);
    CHECK_EQ(d.router, inet_addr("10.1.0.1"));
    CHECK_EQ(d.server_ip, inet_addr("10.1.0.1"));
    CHECK_EQ(d.mtu, 1450);
    CHECK_EQ(d.n_dns, 1);
    CHECK_STREQ(inet_ntop(AF_INET, &d.dns[0], buf, sizeof buf),
                "10.1.0.53");
    CHECK_EQ(d.n_routes, 1);
    CHECK_EQ(d.routes[0].plen, 12);
    CHECK_EQ(d.routes[0].nexthop, inet_addr("10.1.0.254"));
    CHECK_STREQ(d.port_name, "a1");
    CHECK_EQ(topology_dhcp_lookup(topo, 5, &d), ENOENT);    /* DHCP off. */
    CHECK_EQ(topology_dhcp_lookup(topo, 9, &d), ENODEV);
    topology_destroy(topo);
}

/* A fixed IP naming a DHCP subnet of another network: the agent's DHCP
 * server would find no lease for it, so the walk must not send its DHCP
 * there either (it used to, and the request went unanswered). */
static void
test_dhcp_subnet_of_other_network(void)
{
    struct topology *topo = fixture();
    struct flow_key key;
    struct tag_set scratch;
    struct topo_dhcp d;

    tag_set_init(&scratch);
    port(topo, "x1", "netB", "sA", "fa:16:3e:00:0b:77", "10.1.0.77", "hv1",
         NULL);
    topology_bind(topo, "x1", 8, &scratch);
    key = ip_key(8, "ff:ff:ff:ff:ff:ff", "255.255.255.255", IPPROTO_UDP_,
                 64);
    simt_mac(&key.eth_src, "fa:16:3e:00:0b:77");
    key.nw_src.ip4 = 0;
    key.tp_src = htons(68);
    key.tp_dst = htons(67);
    CHECK_EQ(topology_dhcp_lookup(topo, 8, &d), ENOENT);
    CHECK_STREQ(simt_run(topo, &key).acts,
                "output:5,tunnel(vni=11,dst=198.18.0.12)");
    tag_set_destroy(&scratch);
    topology_destroy(topo);
}

static void
test_dhcp_server_arp_without_gateway(void)
{
    struct topology *topo = fixture();
    struct tag_set scratch;
    struct flow_key key;

    /* A VM on netT (no gateway: the server is the first address). */
    tag_set_init(&scratch);
    port(topo, "t1", "netT", "sT", "fa:16:3e:00:0f:11", "10.99.0.11",
         "hv1", NULL);
    topology_bind(topo, "t1", 7, &scratch);
    key = simt_arp_key(7, "fa:16:3e:00:0f:11", "fa:16:3e:00:0f:11",
                       "0.0.0.0", "10.99.0.1");
    /* 10.99.0.1 is R1's interface: the port wins. */
    CHECK_STREQ(simt_run(topo, &key).acts, "arp_reply(fa:16:3e:00:00:f1)");
    /* Without it, the DHCP server answers for its address. */
    simt_apply(topo, "ports/rT", NULL, &scratch);
    CHECK_STREQ(simt_run(topo, &key).acts, "arp_reply(02:77:65:66:74:64)");
    tag_set_destroy(&scratch);
    topology_destroy(topo);
}

static void
test_isolation(void)
{
    struct topology *topo = fixture();
    struct flow_key key = ip_key(6, "fa:16:3e:00:00:a3", "10.2.0.11",
                                 IPPROTO_TCP_, 64);

    /* Tenant 2's VM reaches tenant 2's b1 (vni 21), never tenant 1's. */
    CHECK_STREQ(simt_run(topo, &key).acts, "check_mtu(1450,from=10.1.0.1),"
                "set_eth(fa:16:3e:00:00:b3->fa:16:3e:00:0b:11),dec_ttl(1),"
                "tunnel(vni=21,dst=198.18.0.12)");
    /* Tenant 1's router MAC is unknown on tenant 2's network. */
    key = ip_key(6, GW_A, "10.2.0.11", IPPROTO_TCP_, 64);
    CHECK(strstr(simt_run(topo, &key).acts, "vni=11") == NULL);
    CHECK(strstr(simt_run(topo, &key).acts, "set_eth") == NULL);
    topology_destroy(topo);
}

static void
test_changes_and_tags(void)
{
    struct topology *topo = fixture();
    struct flow_key key = ip_key(3, GW_A, "192.168.0.7", IPPROTO_TCP_, 64);
    struct simt_result switched;
    struct tag_set changed;

    tag_set_init(&changed);
    /* Removing the static route: the router's tag, and the packet now
     * has no route. */
    router(topo, R1, "{\"destination\": \"10.3.0.0/16\", \"nexthop\": "
           "\"10.99.0.2\"}", true, &changed);
    switched = simt_run(topo, &key);
    CHECK(flow_tags_contains(&switched.tags, topo_tag_router(R1)));
    CHECK_STREQ(switched.acts, "icmp_error(type=3,code=0,from=10.1.0.1)");
    {
        bool has = false;

        for (size_t i = 0; i < changed.n; i++) {
            has = has || changed.tags[i] == topo_tag_router(R1);
        }
        CHECK(has);
    }
    /* A switched flow does not depend on the router. */
    key = ip_key(3, "fa:16:3e:00:0a:12", "10.1.0.12", IPPROTO_TCP_, 64);
    switched = simt_run(topo, &key);
    CHECK(!flow_tags_contains(&switched.tags, topo_tag_router(R1)));

    /* Router admin down. */
    router(topo, R1, R1_ROUTES, false, &changed);
    key = ip_key(3, GW_A, "10.2.0.11", IPPROTO_TCP_, 64);
    CHECK_STREQ(simt_run(topo, &key).acts, "drop(router_down)");
    router(topo, R1, R1_ROUTES, true, &changed);

    /* Removing the interface on netB: 10.2.0.11 becomes unreachable... */
    tag_set_destroy(&changed);
    tag_set_init(&changed);
    simt_apply(topo, "ports/rB", NULL, &changed);
    {
        bool has = false;

        for (size_t i = 0; i < changed.n; i++) {
            has = has || changed.tags[i] == topo_tag_router(R1);
        }
        CHECK(has);
    }
    CHECK_STREQ(simt_run(topo, &key).acts,
                "icmp_error(type=3,code=0,from=10.1.0.1)");
    /* ...and adding it back restores the route. */
    port(topo, "rB", "netB", "sB", "fa:16:3e:00:00:b1", "10.2.0.1", "", R1);
    CHECK(!strncmp(simt_run(topo, &key).acts, "check_mtu(1300", 14));
    tag_set_destroy(&changed);
    topology_destroy(topo);
}

struct route_lines {
    char lines[16][128];
    int n;
};

static void
route_cb(const struct topo_route_info *ri, void *aux)
{
    struct route_lines *rl = aux;
    char p[INET_ADDRSTRLEN], nh[INET_ADDRSTRLEN];

    if (rl->n < 16) {
        inet_ntop(AF_INET, &ri->prefix, p, sizeof p);
        inet_ntop(AF_INET, &ri->nexthop, nh, sizeof nh);
        snprintf(rl->lines[rl->n++], 128, "%s %s/%u %s %s", ri->type, p,
                 ri->plen, nh, ri->port_id ? ri->port_id : "-");
    }
}

static void
test_route_table(void)
{
    static const char *const expect[] = {
        "connected 10.1.0.0/24 0.0.0.0 rA",
        "local 10.1.0.1/32 0.0.0.0 rA",
        "connected 10.2.0.0/24 0.0.0.0 rB",
        "local 10.2.0.1/32 0.0.0.0 rB",
        "static 10.3.0.0/16 10.99.0.2 rT",
        "connected 10.99.0.0/24 0.0.0.0 rT",
        "local 10.99.0.1/32 0.0.0.0 rT",
        "static 192.168.0.0/24 10.2.0.50 rB",
    };
    struct topology *topo = fixture();
    struct route_lines rl = { .n = 0 };

    CHECK_EQ(topology_for_each_route(topo, R1, route_cb, &rl), 0);
    CHECK_EQ(rl.n, (int) ARRAY_SIZE(expect));
    for (int i = 0; i < rl.n && i < (int) ARRAY_SIZE(expect); i++) {
        CHECK_STREQ(rl.lines[i], expect[i]);
    }
    CHECK_EQ(topology_for_each_route(topo, "nope", route_cb, &rl), ENOENT);
    CHECK_EQ(topology_n_routers(topo), 3);
    topology_destroy(topo);
}

static void
test_trace(void)
{
    static const char *const expect[] = {
        "ingress port 3 = port a1 (a1) on network netA (vni 10)",
        "l2: dst fa:16:3e:00:00:a1 = interface of router r1",
        "router r1: in on port rA (rA) (10.1.0.1)",
        "route 10.3.0.0/16 (static): out on network netT (vni 12) to "
        "10.99.0.2",
        "router r2: in on port r2T (r2T) (10.99.0.2)",
        "route 10.3.0.0/24 (connected): out on network netC (vni 13) to "
        "10.3.0.11",
        "deliver on network netC (vni 13) to port c1 (c1) after 2 routers",
    };
    struct topology *topo = fixture();
    struct flow_key key = ip_key(3, GW_A, "10.3.0.11", IPPROTO_TCP_, 64);
    struct sim_trace trace;
    struct dp_actions acts;
    struct flow_tags tags;
    struct flow_wc wc;

    sim_trace_init(&trace);
    dp_actions_init(&acts);
    flow_tags_init(&tags);
    flow_wc_init_catchall(&wc);
    CHECK_EQ(sim_run(topo, &key, &wc, &acts, &tags, &trace), 0);
    CHECK(trace.n >= ARRAY_SIZE(expect));
    for (size_t i = 0; i < ARRAY_SIZE(expect) && i < trace.n; i++) {
        CHECK_STREQ(trace.lines[i], expect[i]);
    }
    sim_trace_destroy(&trace);
    dp_actions_destroy(&acts);
    topology_destroy(topo);
}

int
main(void)
{
    RUN(test_routed_remote);
    RUN(test_routed_local_and_static);
    RUN(test_router_chain);
    RUN(test_router_itself);
    RUN(test_unreachable);
    RUN(test_dhcp_and_arp);
    RUN(test_dhcp_subnet_of_other_network);
    RUN(test_dhcp_server_arp_without_gateway);
    RUN(test_isolation);
    RUN(test_changes_and_tags);
    RUN(test_route_table);
    RUN(test_trace);
    return unit_finish();
}
