/*
 * test-sim.c -- the topology and the L2 simulation, end to end through
 * their public APIs: topologies are built from Neutron JSON strings with
 * topology_update(), packets are flow keys, and the checks are on actions
 * (formatted), wildcards, tags and traces.
 *
 * The fixture's ports have port security off: these tests are about
 * switching (test-sim-portsec.c covers anti-spoofing).
 *
 * The fixture, seen from host hv1:
 *
 *   net1 (vni 7):  p1 vm1 :01 10.0.0.1 hv1 (dp port 3)
 *                  p2 vm2 :02 10.0.0.2 hv1 (dp port 4)
 *                  p3 vm3 :03 10.0.0.3 hv2     p4 vm4 :04 10.0.0.4 hv2
 *                  p5 vm5 :05 10.0.0.5 hv3     p6 vm6 :06 10.0.0.6 unbound
 *   net2 (vni 8):  q1 :03 10.0.0.3 hv1 (dp port 5)    -- same MAC and IP
 *                  q2 :09 10.0.0.9 hv3                   as p3, other tenant
 *                  q3 :0a 10.0.0.10 hv1 (dp port 6)
 *   agents: hv1 198.18.0.11, hv2 198.18.0.12, hv3 198.18.0.13
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/topology.h"
#include "tests/lib/sim-test.h"
#include "tests/lib/unit.h"

#define NET1 "11111111-1111-4111-8111-111111111111"
#define NET2 "22222222-2222-4222-8222-222222222222"
#define P1 "a0000001-0000-4000-8000-000000000001"
#define P2 "a0000002-0000-4000-8000-000000000002"
#define P3 "a0000003-0000-4000-8000-000000000003"
#define P4 "a0000004-0000-4000-8000-000000000004"
#define P5 "a0000005-0000-4000-8000-000000000005"
#define P6 "a0000006-0000-4000-8000-000000000006"
#define Q1 "b0000001-0000-4000-8000-000000000001"
#define Q2 "b0000002-0000-4000-8000-000000000002"
#define Q3 "b0000003-0000-4000-8000-000000000003"

static char *
net_json(const char *id, const char *name, int vni, bool up)
{
    return xasprintf("{\"id\": \"%s\", \"name\": \"%s\", "
                     "\"admin_state_up\": %s, \"mtu\": 1450, "
                     "\"status\": \"ACTIVE\", "
                     "\"provider:network_type\": \"geneve\", "
                     "\"provider:segmentation_id\": %d}",
                     id, name, up ? "true" : "false", vni);
}

static char *
port_json_full(const char *id, const char *name, const char *net,
               const char *mac, const char *ip, const char *host, bool up,
               const char *status)
{
    return xasprintf("{\"id\": \"%s\", \"name\": \"%s\", "
                     "\"network_id\": \"%s\", \"mac_address\": \"%s\", "
                     "\"fixed_ips\": [{\"subnet_id\": \"s\", "
                     "\"ip_address\": \"%s\"}, {\"subnet_id\": \"s6\", "
                     "\"ip_address\": \"fd00::5\"}], "
                     "\"admin_state_up\": %s, \"status\": \"%s\", "
                     "\"device_owner\": \"compute:nova\", "
                     "\"port_security_enabled\": false, "
                     "\"binding:host_id\": \"%s\", \"binding:profile\": {}, "
                     "\"binding:vif_type\": \"ovs\"}",
                     id, name, net, mac, ip, up ? "true" : "false", status,
                     host);
}

static char *
port_json(const char *id, const char *name, const char *net, const char *mac,
          const char *ip, const char *host)
{
    return port_json_full(id, name, net, mac, ip, host, true, "ACTIVE");
}

static char *
agent_json(const char *host, const char *ip)
{
    return xasprintf("{\"id\": \"ag-%s\", \"host\": \"%s\", "
                     "\"agent_type\": \"Weft agent\", \"alive\": true, "
                     "\"admin_state_up\": true, "
                     "\"configurations\": {\"tunnel_ip\": \"%s\"}}",
                     host, host, ip);
}

static struct topology *
fixture(void)
{
    struct topology *topo = topology_create("hv1");
    struct tag_set scratch;

    tag_set_init(&scratch);
    /* Ports first: objects may arrive in any order. */
    CHECK_EQ(simt_put(topo, "ports/" P1, port_json(P1, "vm1", NET1,
                 "fa:16:3e:00:00:01", "10.0.0.1", "hv1"), NULL), 0);
    CHECK_EQ(simt_put(topo, "networks/" NET1, net_json(NET1, "net1", 7, true),
                 NULL), 0);
    CHECK_EQ(simt_put(topo, "networks/" NET2, net_json(NET2, "net2", 8, true),
                 NULL), 0);
    CHECK_EQ(simt_put(topo, "ports/" P2, port_json(P2, "vm2", NET1,
                 "fa:16:3e:00:00:02", "10.0.0.2", "hv1"), NULL), 0);
    CHECK_EQ(simt_put(topo, "ports/" P3, port_json(P3, "vm3", NET1,
                 "fa:16:3e:00:00:03", "10.0.0.3", "hv2"), NULL), 0);
    CHECK_EQ(simt_put(topo, "ports/" P4, port_json(P4, "vm4", NET1,
                 "fa:16:3e:00:00:04", "10.0.0.4", "hv2"), NULL), 0);
    CHECK_EQ(simt_put(topo, "ports/" P5, port_json(P5, "vm5", NET1,
                 "fa:16:3e:00:00:05", "10.0.0.5", "hv3"), NULL), 0);
    CHECK_EQ(simt_put(topo, "ports/" P6, port_json(P6, "vm6", NET1,
                 "fa:16:3e:00:00:06", "10.0.0.6", ""), NULL), 0);
    CHECK_EQ(simt_put(topo, "ports/" Q1, port_json(Q1, "t2a", NET2,
                 "fa:16:3e:00:00:03", "10.0.0.3", "hv1"), NULL), 0);
    CHECK_EQ(simt_put(topo, "ports/" Q2, port_json(Q2, "t2b", NET2,
                 "fa:16:3e:00:00:09", "10.0.0.9", "hv3"), NULL), 0);
    CHECK_EQ(simt_put(topo, "ports/" Q3, port_json(Q3, "t2c", NET2,
                 "FA:16:3E:00:00:0A", "10.0.0.10", "hv1"), NULL), 0);
    CHECK_EQ(simt_put(topo, "agents/ag1", agent_json("hv1", "198.18.0.11"),
                 NULL), 0);
    CHECK_EQ(simt_put(topo, "agents/ag2", agent_json("hv2", "198.18.0.12"),
                 NULL), 0);
    CHECK_EQ(simt_put(topo, "agents/ag3", agent_json("hv3", "198.18.0.13"),
                 NULL), 0);
    topology_bind(topo, P1, 3, &scratch);
    topology_bind(topo, P2, 4, &scratch);
    topology_bind(topo, Q1, 5, &scratch);
    topology_bind(topo, Q3, 6, &scratch);
    tag_set_destroy(&scratch);
    return topo;
}

/* An IPv4/UDP packet from 'in_port' to 'dst'. */
static struct flow_key
l2_key(uint32_t in_port, const char *dst)
{
    return simt_ip4_key(in_port, "fa:16:3e:00:00:01", "10.0.0.1", dst,
                        "10.0.0.77", IPPROTO_UDP_, 1234, 53);
}

static struct flow_key
tun_key(uint32_t vni, const char *dst)
{
    struct flow_key key = l2_key(1, dst);

    key.tun_vni = vni;
    key.tun_src = inet_addr("198.18.0.12");
    return key;
}

static struct flow_key
arp_key(uint32_t in_port, const char *sha, const char *spa, const char *tpa)
{
    return simt_arp_key(in_port, sha, sha, spa, tpa);
}

static void
test_local_unicast(void)
{
    struct topology *topo = fixture();
    struct flow_key key = l2_key(3, "fa:16:3e:00:00:02");
    struct simt_result r = simt_run(topo, &key);
    struct flow_wc expect;

    CHECK_STREQ(r.acts, "output:4");
    CHECK(flow_tags_contains(&r.tags, topo_tag_port(P1)));
    CHECK(flow_tags_contains(&r.tags, topo_tag_port(P2)));
    CHECK(flow_tags_contains(&r.tags, topo_tag_net(NET1)));
    CHECK(!flow_tags_contains(&r.tags, topo_tag_netmembers(NET1)));
    CHECK(!flow_tags_contains(&r.tags, topo_tag_port(P3)));

    /* Exactly the fields a unicast decision reads. */
    flow_wc_init_catchall(&expect);
    FLOW_WC_MASK(&expect, in_port);
    FLOW_WC_MASK(&expect, vlan_tci);
    FLOW_WC_MASK(&expect, eth_type);
    FLOW_WC_MASK(&expect, eth_dst);
    expect.masks.eth_src.ea[0] = 1;
    /* Is it DHCP (UDP to 67)?  53 = 0x0035 and 67 = 0x0043 first differ
     * in bit 6, so bits 15..6 of the port tell. */
    FLOW_WC_MASK(&expect, nw_proto);
    expect.masks.tp_dst = htons(0xffc0);
    CHECK(!memcmp(&expect, &r.wc, sizeof expect));

    /* Back to the input port's own MAC. */
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:01")),
                "drop(hairpin)");
    topology_destroy(topo);
}

static void
test_remote_unicast(void)
{
    struct topology *topo = fixture();
    struct flow_key key = l2_key(4, "fa:16:3e:00:00:05");
    struct simt_result r = simt_run(topo, &key);

    CHECK_STREQ(r.acts, "tunnel(vni=7,dst=198.18.0.13)");
    CHECK(flow_tags_contains(&r.tags, topo_tag_port(P5)));
    CHECK(flow_tags_contains(&r.tags, topo_tag_host("hv3")));
    CHECK(!flow_tags_contains(&r.tags, topo_tag_host("hv2")));
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:03")),
                "tunnel(vni=7,dst=198.18.0.12)");
    /* Not bound anywhere. */
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:06")),
                "drop(unknown_dst)");
    topology_destroy(topo);
}

static void
test_broadcast_replication(void)
{
    struct topology *topo = fixture();
    struct flow_key key = l2_key(3, "ff:ff:ff:ff:ff:ff");
    struct simt_result r = simt_run(topo, &key);

    /* Local port 4, one tunnel to hv2 (two ports there), one to hv3. */
    CHECK_STREQ(r.acts, "output:4,tunnel(vni=7,dst=198.18.0.12),"
                "tunnel(vni=7,dst=198.18.0.13)");
    CHECK(flow_tags_contains(&r.tags, topo_tag_netmembers(NET1)));
    CHECK(flow_tags_contains(&r.tags, topo_tag_host("hv2")));
    CHECK(flow_tags_contains(&r.tags, topo_tag_host("hv3")));
    /* Only the multicast bit of eth_dst was read. */
    CHECK_EQ(r.wc.masks.eth_dst.ea[0], 1);
    CHECK_EQ(r.wc.masks.eth_dst.ea[5], 0);

    /* Multicast is flooded the same way; from port 4 reaches port 3. */
    CHECK_STREQ(simt_acts(topo, l2_key(4, "01:00:5e:00:00:fb")),
                "output:3,tunnel(vni=7,dst=198.18.0.12),"
                "tunnel(vni=7,dst=198.18.0.13)");
    /* net2 from port 6: local port 5 and hv3 only. */
    CHECK_STREQ(simt_acts(topo, l2_key(6, "ff:ff:ff:ff:ff:ff")),
                "output:5,tunnel(vni=8,dst=198.18.0.13)");
    topology_destroy(topo);
}

static void
test_unknown_unicast_floods(void)
{
    struct topology *topo = fixture();
    struct flow_key key = l2_key(3, "fa:16:3e:99:99:99");
    struct simt_result r = simt_run(topo, &key);

    CHECK_STREQ(r.acts, "output:4,tunnel(vni=7,dst=198.18.0.12),"
                "tunnel(vni=7,dst=198.18.0.13)");
    CHECK(flow_tags_contains(&r.tags, topo_tag_netmembers(NET1)));
    CHECK_EQ(r.wc.masks.eth_dst.ea[5], 0xff);
    topology_destroy(topo);
}

static void
test_no_flood_target(void)
{
    struct topology *topo = topology_create("hv1");
    struct tag_set changed;

    tag_set_init(&changed);
    simt_put(topo, "networks/" NET1, net_json(NET1, "lonely", 7, true), NULL);
    simt_put(topo, "ports/" P1, port_json(P1, "vm1", NET1, "fa:16:3e:00:00:01",
                                     "10.0.0.1", "hv1"), NULL);
    topology_bind(topo, P1, 3, &changed);
    CHECK_STREQ(simt_acts(topo, l2_key(3, "ff:ff:ff:ff:ff:ff")),
                "drop(no_flood_target)");
    /* A remote port on a host without a known tunnel IP. */
    simt_put(topo, "ports/" P2, port_json(P2, "vm2", NET1, "fa:16:3e:00:00:02",
                                     "10.0.0.2", "hv9"), NULL);
    CHECK_STREQ(simt_acts(topo, l2_key(3, "ff:ff:ff:ff:ff:ff")),
                "drop(no_flood_target)");
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:02")),
                "drop(no_tunnel_ip)");
    tag_set_destroy(&changed);
    topology_destroy(topo);
}

/* A flood to more hosts than a flow has room for tags keeps its other
 * tags and still depends on every host's tunnel IP. */
static void
test_flood_many_hosts(void)
{
    struct topology *topo = topology_create("hv0");
    struct tag_set changed;
    struct flow_key key;
    struct simt_result r;
    bool hit = false;

    tag_set_init(&changed);
    simt_put(topo, "networks/" NET1, net_json(NET1, "big", 7, true), NULL);
    simt_put(topo, "ports/" P1, port_json(P1, "vm1", NET1, "fa:16:3e:00:00:01",
                                     "10.0.0.1", "hv0"), NULL);
    topology_bind(topo, P1, 3, &changed);
    for (int i = 1; i <= 20; i++) {
        char id[64], mac[32], ip[32], host[32], key_[96];

        snprintf(id, sizeof id, "c%07d-0000-4000-8000-000000000000", i);
        snprintf(mac, sizeof mac, "fa:16:3e:00:01:%02x", i);
        snprintf(ip, sizeof ip, "10.0.1.%d", i);
        snprintf(host, sizeof host, "hv%d", i);
        snprintf(key_, sizeof key_, "ports/%s", id);
        simt_put(topo, key_, port_json(id, "", NET1, mac, ip, host), NULL);
        snprintf(key_, sizeof key_, "agents/a%d", i);
        snprintf(ip, sizeof ip, "198.18.2.%d", i);
        simt_put(topo, key_, agent_json(host, ip), NULL);
    }
    key = l2_key(3, "ff:ff:ff:ff:ff:ff");
    r = simt_run(topo, &key);
    CHECK(!r.tags.overflow);
    CHECK(flow_tags_contains(&r.tags, topo_tag_netmembers(NET1)));
    CHECK(!strncmp(r.acts, "tunnel(vni=7,dst=198.18.2.1),", 29));

    tag_set_destroy(&changed);
    tag_set_init(&changed);
    simt_put(topo, "agents/a17", agent_json("hv17", "198.18.3.17"), &changed);
    for (size_t i = 0; i < changed.n; i++) {
        hit = hit || flow_tags_contains(&r.tags, changed.tags[i]);
    }
    CHECK(hit);
    tag_set_destroy(&changed);
    topology_destroy(topo);
}

static void
test_arp_responder(void)
{
    struct topology *topo = fixture();
    struct flow_key key = arp_key(3, "fa:16:3e:00:00:01", "10.0.0.1",
                                  "10.0.0.4");
    struct simt_result r = simt_run(topo, &key);

    CHECK_STREQ(r.acts, "arp_reply(fa:16:3e:00:00:04)");
    CHECK(flow_tags_contains(&r.tags, topo_tag_netmembers(NET1)));
    /* The reply depends on the target only, not on the sender. */
    CHECK(r.wc.masks.nw_dst.ip4 == UINT32_MAX);
    CHECK(r.wc.masks.nw_src.ip4 == 0);
    CHECK(eth_addr_is_zero(&r.wc.masks.arp_sha));
    CHECK_EQ(r.wc.masks.nw_proto, 0xff);
    CHECK_EQ(r.wc.masks.eth_dst.ea[1], 0);

    /* 10.0.0.10 exists only on the other tenant's network: broadcast. */
    CHECK_STREQ(simt_acts(topo, arp_key(3, "fa:16:3e:00:00:01", "10.0.0.1",
                                      "10.0.0.10")),
                "output:4,tunnel(vni=7,dst=198.18.0.12),"
                "tunnel(vni=7,dst=198.18.0.13)");
    /* Same IP on both networks: each tenant gets its own answer. */
    CHECK_STREQ(simt_acts(topo, arp_key(3, "fa:16:3e:00:00:01", "10.0.0.1",
                                      "10.0.0.3")),
                "arp_reply(fa:16:3e:00:00:03)");
    CHECK_STREQ(simt_acts(topo, arp_key(6, "fa:16:3e:00:00:0a", "10.0.0.10",
                                      "10.0.0.9")),
                "arp_reply(fa:16:3e:00:00:09)");
    /* Gratuitous ARP (target = own IP) is broadcast. */
    CHECK_STREQ(simt_acts(topo, arp_key(5, "fa:16:3e:00:00:03", "10.0.0.3",
                                      "10.0.0.3")),
                "output:6,tunnel(vni=8,dst=198.18.0.13)");
    /* An ARP reply is not answered. */
    key = arp_key(3, "fa:16:3e:00:00:01", "10.0.0.1", "10.0.0.4");
    key.nw_proto = ARP_OP_REPLY;
    simt_mac(&key.eth_dst, "fa:16:3e:00:00:02");
    CHECK_STREQ(simt_acts(topo, key), "output:4");
    topology_destroy(topo);
}

static void
test_tunnel_ingress(void)
{
    struct topology *topo = fixture();
    struct flow_key key = tun_key(7, "fa:16:3e:00:00:01");
    struct simt_result r = simt_run(topo, &key);

    CHECK_STREQ(r.acts, "output:3");
    CHECK(r.wc.masks.tun_vni == UINT32_MAX);
    CHECK(r.wc.masks.tun_src == 0);
    CHECK(r.wc.masks.vlan_tci == 0);
    CHECK(flow_tags_contains(&r.tags, topo_tag_net(NET1)));
    CHECK(flow_tags_contains(&r.tags, topo_tag_port(P1)));

    /* Broadcast: every attached local port, never back to other hosts. */
    CHECK_STREQ(simt_acts(topo, tun_key(7, "ff:ff:ff:ff:ff:ff")),
                "output:3,output:4");
    CHECK_STREQ(simt_acts(topo, tun_key(7, "fa:16:3e:77:77:77")),
                "output:3,output:4");
    /* A port of the network on another host: not ours to deliver. */
    CHECK_STREQ(simt_acts(topo, tun_key(7, "fa:16:3e:00:00:05")),
                "drop(unknown_dst)");
    CHECK_STREQ(simt_acts(topo, tun_key(8, "fa:16:3e:00:00:03")), "output:5");

    key = tun_key(99, "fa:16:3e:00:00:01");
    r = simt_run(topo, &key);
    CHECK_STREQ(r.acts, "drop(unknown_vni)");
    CHECK(r.wc.masks.tun_vni == UINT32_MAX);
    CHECK(eth_addr_is_zero(&r.wc.masks.eth_dst));
    topology_destroy(topo);
}

static void
test_tenant_isolation(void)
{
    struct topology *topo = fixture();

    /* MAC :03 is p3 on net1 (hv2) and q1 on net2 (local port 5). */
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:03")),
                "tunnel(vni=7,dst=198.18.0.12)");
    CHECK_STREQ(simt_acts(topo, l2_key(6, "fa:16:3e:00:00:03")), "output:5");
    /* A net1 MAC is unknown on net2: flooded within net2 only. */
    CHECK_STREQ(simt_acts(topo, l2_key(6, "fa:16:3e:00:00:02")),
                "output:5,tunnel(vni=8,dst=198.18.0.13)");
    CHECK_STREQ(simt_acts(topo, tun_key(8, "fa:16:3e:00:00:02")),
                "output:5,output:6");
    topology_destroy(topo);
}

static void
test_drops(void)
{
    struct topology *topo = fixture();
    struct flow_key key;
    struct simt_result r;

    /* Unbound datapath port. */
    CHECK_STREQ(simt_acts(topo, l2_key(9, "fa:16:3e:00:00:02")),
                "drop(no_port)");
    CHECK_STREQ(simt_acts(topo, l2_key(0, "fa:16:3e:00:00:02")),
                "drop(no_port)");

    key = l2_key(3, "fa:16:3e:00:00:02");
    key.vlan_tci = htons(0x1000 | 5);
    CHECK_STREQ(simt_acts(topo, key), "drop(vlan_tagged)");

    key = l2_key(3, "fa:16:3e:00:00:02");
    simt_mac(&key.eth_src, "01:00:00:00:00:01");
    r = simt_run(topo, &key);
    CHECK_STREQ(r.acts, "drop(bad_src_mac)");
    CHECK_EQ(r.wc.masks.eth_src.ea[0], 1);
    CHECK(eth_addr_is_zero(&r.wc.masks.eth_dst));

    /* Port admin down: no traffic in, none out, not flooded to. */
    simt_put(topo, "ports/" P2, port_json_full(P2, "vm2", NET1,
        "fa:16:3e:00:00:02", "10.0.0.2", "hv1", false, "DOWN"), NULL);
    CHECK_STREQ(simt_acts(topo, l2_key(4, "fa:16:3e:00:00:01")),
                "drop(port_admin_down)");
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:02")),
                "drop(port_admin_down)");
    CHECK_STREQ(simt_acts(topo, l2_key(3, "ff:ff:ff:ff:ff:ff")),
                "tunnel(vni=7,dst=198.18.0.12),"
                "tunnel(vni=7,dst=198.18.0.13)");

    /* Network admin down. */
    simt_put(topo, "networks/" NET1, net_json(NET1, "net1", 7, false), NULL);
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:05")),
                "drop(net_admin_down)");
    CHECK_STREQ(simt_acts(topo, tun_key(7, "fa:16:3e:00:00:01")),
                "drop(net_admin_down)");
    CHECK_STREQ(simt_acts(topo, l2_key(6, "fa:16:3e:00:00:03")), "output:5");

    /* Network deleted: its ports stay, their network is unknown. */
    simt_put(topo, "networks/" NET1, NULL, NULL);
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:05")),
                "drop(no_network)");
    CHECK_STREQ(simt_acts(topo, tun_key(7, "fa:16:3e:00:00:01")),
                "drop(unknown_vni)");
    topology_destroy(topo);
}

static void
trace_of(const struct topology *topo, struct flow_key key,
         struct sim_trace *trace)
{
    struct dp_actions acts;
    struct flow_tags tags;
    struct flow_wc wc;

    flow_wc_init_catchall(&wc);
    flow_tags_init(&tags);
    dp_actions_init(&acts);
    sim_trace_init(trace);
    CHECK_EQ(sim_run(topo, &key, &wc, &acts, &tags, trace), 0);
    dp_actions_destroy(&acts);
}

static void
check_trace(const struct sim_trace *trace, const char *const *expect,
            size_t n)
{
    CHECK_EQ(trace->n, n);
    for (size_t i = 0; i < trace->n && i < n; i++) {
        CHECK_STREQ(trace->lines[i], expect[i]);
    }
}

static void
test_golden_traces(void)
{
    static const char *const remote[] = {
        "ingress port 3 = port a0000001.. (vm1) on network net1 (vni 7)",
        "l2: dst fa:16:3e:00:00:04 = port a0000004.. (vm4) bound on host "
        "hv2 (198.18.0.12)",
        "-> tunnel(vni=7,dst=198.18.0.12)",
    };
    static const char *const arp[] = {
        "ingress port 6 = port b0000003.. (t2c) on network net2 (vni 8)",
        "arp: who-has 10.0.0.77: no other port on the network has it, "
        "handled as broadcast",
        "l2: dst ff:ff:ff:ff:ff:ff is broadcast: flood",
        "-> output:5,tunnel(vni=8,dst=198.18.0.13)",
    };
    static const char *const tunnel[] = {
        "ingress tunnel vni 99: no such network",
        "drop (unknown_vni): no network has this vni",
        "-> drop(unknown_vni)",
    };
    static const char *const tunnel_flood[] = {
        "ingress tunnel vni 7 = network net1 (vni 7)",
        "l2: dst ff:ff:ff:ff:ff:ff is broadcast: deliver to local ports",
        "-> output:3,output:4",
    };
    static const char *const tunnel_deliver[] = {
        "ingress tunnel vni 7 = network net1 (vni 7)",
        "l2: dst fa:16:3e:00:00:01 = port a0000001.. (vm1) attached here "
        "on port 3",
        "-> output:3",
    };
    struct topology *topo = fixture();
    struct sim_trace trace;

    trace_of(topo, tun_key(7, "ff:ff:ff:ff:ff:ff"), &trace);
    check_trace(&trace, tunnel_flood, ARRAY_SIZE(tunnel_flood));
    sim_trace_destroy(&trace);

    trace_of(topo, tun_key(7, "fa:16:3e:00:00:01"), &trace);
    check_trace(&trace, tunnel_deliver, ARRAY_SIZE(tunnel_deliver));
    sim_trace_destroy(&trace);

    trace_of(topo, l2_key(3, "fa:16:3e:00:00:04"), &trace);
    check_trace(&trace, remote, ARRAY_SIZE(remote));
    sim_trace_destroy(&trace);

    trace_of(topo, arp_key(6, "fa:16:3e:00:00:0a", "10.0.0.10", "10.0.0.77"),
             &trace);
    check_trace(&trace, arp, ARRAY_SIZE(arp));
    sim_trace_destroy(&trace);

    trace_of(topo, tun_key(99, "fa:16:3e:00:00:04"), &trace);
    check_trace(&trace, tunnel, ARRAY_SIZE(tunnel));
    sim_trace_destroy(&trace);

    sim_trace_destroy(NULL);
    topology_destroy(topo);
}

static void
test_tags_binding_move(void)
{
    struct topology *topo = fixture();
    struct tag_set changed;

    /* p3 migrates from hv2 to hv3. */
    tag_set_init(&changed);
    CHECK_EQ(simt_put(topo, "ports/" P3, port_json(P3, "vm3", NET1,
                 "fa:16:3e:00:00:03", "10.0.0.3", "hv3"), &changed), 0);
    CHECK(!changed.all);
    CHECK(simt_has_tag(&changed, topo_tag_port(P3)));
    CHECK(simt_has_tag(&changed, topo_tag_netmembers(NET1)));
    CHECK(!simt_has_tag(&changed, topo_tag_port(P4)));
    CHECK(!simt_has_tag(&changed, topo_tag_net(NET1)));
    CHECK(!simt_has_tag(&changed, topo_tag_netmembers(NET2)));
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:03")),
                "tunnel(vni=7,dst=198.18.0.13)");
    tag_set_destroy(&changed);

    /* p5 moves here: attached once the agent binds its interface. */
    tag_set_init(&changed);
    simt_put(topo, "ports/" P5, port_json(P5, "vm5", NET1, "fa:16:3e:00:00:05",
                                     "10.0.0.5", "hv1"), &changed);
    CHECK(simt_has_tag(&changed, topo_tag_port(P5)));
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:05")),
                "drop(unknown_dst)");
    tag_set_destroy(&changed);
    tag_set_init(&changed);
    topology_bind(topo, P5, 7, &changed);
    CHECK(simt_has_tag(&changed, topo_tag_port(P5)));
    CHECK(simt_has_tag(&changed, topo_tag_netmembers(NET1)));
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:05")), "output:7");
    CHECK_STREQ(simt_acts(topo, l2_key(3, "ff:ff:ff:ff:ff:ff")),
                "output:4,output:7,tunnel(vni=7,dst=198.18.0.12),"
                "tunnel(vni=7,dst=198.18.0.13)");
    tag_set_destroy(&changed);

    tag_set_init(&changed);
    topology_bind(topo, P5, 7, &changed);
    CHECK_EQ(changed.n, 0);
    topology_unbind(topo, P5, &changed);
    CHECK(simt_has_tag(&changed, topo_tag_port(P5)));
    CHECK(simt_has_tag(&changed, topo_tag_netmembers(NET1)));
    CHECK_STREQ(simt_acts(topo, l2_key(7, "fa:16:3e:00:00:01")),
                "drop(no_port)");
    tag_set_destroy(&changed);
    topology_destroy(topo);
}

static void
test_tags_status_only(void)
{
    struct topology *topo = fixture();
    struct tag_set changed;

    tag_set_init(&changed);
    CHECK_EQ(simt_put(topo, "ports/" P1, port_json_full(P1, "vm1", NET1,
                 "fa:16:3e:00:00:01", "10.0.0.1", "hv1", true, "DOWN"),
                 &changed), 0);
    CHECK_EQ(changed.n, 0);
    CHECK(!changed.all);
    /* Renaming the port or the network, or changing the MTU, neither. */
    CHECK_EQ(simt_put(topo, "ports/" P1, port_json_full(P1, "renamed", NET1,
                 "fa:16:3e:00:00:01", "10.0.0.1", "hv1", true, "ACTIVE"),
                 &changed), 0);
    CHECK_EQ(simt_put(topo, "networks/" NET1, net_json(NET1, "n1", 7, true),
                 &changed), 0);
    CHECK_EQ(simt_put(topo, "agents/ag2", agent_json("hv2", "198.18.0.12"),
                 &changed), 0);
    CHECK_EQ(changed.n, 0);
    /* The binding survived the rewrite. */
    CHECK_STREQ(simt_acts(topo, l2_key(4, "fa:16:3e:00:00:01")), "output:3");
    tag_set_destroy(&changed);
    topology_destroy(topo);
}

static void
test_tags_objects(void)
{
    struct topology *topo = fixture();
    struct tag_set changed;

    /* Tunnel IP change of hv2. */
    tag_set_init(&changed);
    CHECK_EQ(simt_put(topo, "agents/ag2", agent_json("hv2", "198.18.0.22"),
                 &changed), 0);
    CHECK(simt_has_tag(&changed, topo_tag_host("hv2")));
    CHECK(!simt_has_tag(&changed, topo_tag_host("hv3")));
    CHECK(!simt_has_tag(&changed, topo_tag_port(P3)));
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:04")),
                "tunnel(vni=7,dst=198.18.0.22)");
    tag_set_destroy(&changed);

    /* VNI change. */
    tag_set_init(&changed);
    CHECK_EQ(simt_put(topo, "networks/" NET1, net_json(NET1, "net1", 17, true),
                 &changed), 0);
    CHECK(simt_has_tag(&changed, topo_tag_net(NET1)));
    CHECK(!simt_has_tag(&changed, topo_tag_net(NET2)));
    CHECK(!simt_has_tag(&changed, topo_tag_port(P1)));
    CHECK_STREQ(simt_acts(topo, tun_key(17, "fa:16:3e:00:00:01")), "output:3");
    CHECK_STREQ(simt_acts(topo, tun_key(7, "fa:16:3e:00:00:01")),
                "drop(unknown_vni)");
    tag_set_destroy(&changed);

    /* MAC change: the port and the MAC map of its network. */
    tag_set_init(&changed);
    simt_put(topo, "ports/" P4, port_json(P4, "vm4", NET1, "fa:16:3e:00:00:44",
                                     "10.0.0.4", "hv2"), &changed);
    CHECK(simt_has_tag(&changed, topo_tag_port(P4)));
    CHECK(simt_has_tag(&changed, topo_tag_netmembers(NET1)));
    tag_set_destroy(&changed);

    /* Deletion. */
    tag_set_init(&changed);
    CHECK_EQ(simt_put(topo, "ports/" P2, NULL, &changed), 0);
    CHECK(simt_has_tag(&changed, topo_tag_port(P2)));
    CHECK(simt_has_tag(&changed, topo_tag_netmembers(NET1)));
    CHECK(!topology_get_port(topo, P2, &(struct topo_port_info) { 0 }));
    CHECK_STREQ(simt_acts(topo, l2_key(4, "fa:16:3e:00:00:01")),
                "drop(no_port)");
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:02")),
                "tunnel(vni=17,dst=198.18.0.13),"
                "tunnel(vni=17,dst=198.18.0.22)");
    tag_set_destroy(&changed);
    /* Recreated: the local binding (kept by port id) applies again. */
    tag_set_init(&changed);
    simt_put(topo, "ports/" P2, port_json(P2, "vm2", NET1, "fa:16:3e:00:00:02",
                                     "10.0.0.2", "hv1"), &changed);
    CHECK(simt_has_tag(&changed, topo_tag_port(P2)));
    CHECK(simt_has_tag(&changed, topo_tag_netmembers(NET1)));
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:02")), "output:4");
    tag_set_destroy(&changed);

    tag_set_init(&changed);
    CHECK_EQ(simt_put(topo, "agents/ag3", NULL, &changed), 0);
    CHECK(simt_has_tag(&changed, topo_tag_host("hv3")));
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:05")),
                "drop(no_tunnel_ip)");
    CHECK_EQ(topology_n_hosts(topo), 2);
    /* Deleting what does not exist changes nothing. */
    tag_set_destroy(&changed);
    tag_set_init(&changed);
    CHECK_EQ(simt_put(topo, "agents/ag3", NULL, &changed), 0);
    CHECK_EQ(simt_put(topo, "ports/nope", NULL, &changed), 0);
    CHECK_EQ(changed.n, 0);
    tag_set_destroy(&changed);
    topology_destroy(topo);
}

static void
test_malformed(void)
{
    static const char *const bad_ports[] = {
        "{\"network_id\": ",
        "[1, 2]",
        "\"port\"",
        "{\"network_id\": \"" NET1 "\", \"mac_address\": \"zz:16\"}",
        "{\"mac_address\": \"fa:16:3e:00:00:01\"}",
        "{\"network_id\": 5, \"mac_address\": \"fa:16:3e:00:00:01\"}",
        "{\"network_id\": \"" NET1 "\", \"mac_address\": "
        "\"fa:16:3e:00:00:01\", \"fixed_ips\": [{\"ip_address\": \"x\"}]}",
        "{\"network_id\": \"" NET1 "\", \"mac_address\": "
        "\"fa:16:3e:00:00:01\", \"admin_state_up\": \"yes\"}",
        "{\"network_id\": \"" NET1 "\", \"mac_address\": "
        "\"fa:16:3e:00:00:01\", \"binding:host_id\": 3}",
    };
    struct topology *topo = fixture();
    struct tag_set changed;

    tag_set_init(&changed);
    for (size_t i = 0; i < ARRAY_SIZE(bad_ports); i++) {
        CHECK_EQ(topology_update(topo, "ports/" P1, bad_ports[i], &changed),
                 EINVAL);
    }
    CHECK_EQ(topology_update(topo, "networks/" NET1,
                             "{\"provider:segmentation_id\": \"7\"}",
                             &changed), EINVAL);
    CHECK_EQ(topology_update(topo, "networks/" NET1, "{", &changed), EINVAL);
    CHECK_EQ(topology_update(topo, "agents/ag2",
                             "{\"host\": \"hv2\", \"configurations\": "
                             "{\"tunnel_ip\": \"300.1.1.1\"}}", &changed),
             EINVAL);
    CHECK_EQ(topology_update(topo, "agents/ag2", "{}", &changed), EINVAL);
    CHECK_EQ(topology_update(topo, "subnets/s1", "nope", &changed), EINVAL);
    CHECK_EQ(topology_update(topo, "ports/", "{}", &changed), EINVAL);
    CHECK_EQ(changed.n, 0);
    CHECK(!changed.all);

    /* Everything still as before. */
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:02")), "output:4");
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:04")),
                "tunnel(vni=7,dst=198.18.0.12)");
    CHECK_EQ(topology_n_ports(topo), 9);

    /* Unknown prefixes are ignored, whatever their value. */
    CHECK_EQ(topology_update(topo, "ipam/" NET1, "{garbage", &changed), 0);
    CHECK_EQ(topology_update(topo, "macs/fa:16:3e:00:00:01", "\"x\"",
                             &changed), 0);
    CHECK_EQ(changed.n, 0);

    /* Subnets are read (routing, DHCP); a bad one changes nothing. */
    CHECK_EQ(topology_update(topo, "subnets/s1",
                             "{\"network_id\": \"" NET1 "\", "
                             "\"cidr\": \"10.0.0.0/33\"}", &changed), EINVAL);
    CHECK_EQ(topology_update(topo, "subnets/s1",
                             "{\"network_id\": \"" NET1 "\", "
                             "\"cidr\": \"10.0.0.0/24\", "
                             "\"gateway_ip\": 5}", &changed), EINVAL);
    CHECK_EQ(topology_update(topo, "routers/r1", "{\"routes\": [{}]}",
                             &changed), EINVAL);
    CHECK_EQ(changed.n, 0);
    CHECK_EQ(topology_n_subnets(topo), 0);
    CHECK_EQ(topology_update(topo, "subnets/s1",
                             "{\"network_id\": \"" NET1 "\", "
                             "\"cidr\": \"10.0.0.0/24\"}", &changed), 0);
    CHECK(simt_has_tag(&changed, topo_tag_subnet("s1")));
    CHECK_EQ(topology_n_subnets(topo), 1);
    tag_set_destroy(&changed);
    topology_destroy(topo);
}

struct local_seen {
    int n;
    bool p1_ok;
};

static void
collect_local(const struct topo_port_info *info, void *aux)
{
    struct local_seen *seen = aux;

    seen->n++;
    if (!strcmp(info->id, P1)) {
        seen->p1_ok = !strcmp(info->ifname, "tapa0000001-00")
                      && !strcmp(info->network_id, NET1)
                      && !strcmp(info->host, "hv1") && info->admin_up;
    }
}

static void
test_queries_and_clear(void)
{
    struct topology *topo = fixture();
    struct local_seen seen = { 0, false };
    struct topo_port_info info;
    struct tag_set changed;
    char *json;

    CHECK_EQ(topology_n_networks(topo), 2);
    CHECK_EQ(topology_n_ports(topo), 9);
    CHECK_EQ(topology_n_hosts(topo), 3);
    topology_for_each_local_port(topo, collect_local, &seen);
    CHECK_EQ(seen.n, 4);
    CHECK(seen.p1_ok);

    json = xasprintf("{\"network_id\": \"%s\", \"mac_address\": "
                     "\"fa:16:3e:00:00:77\", \"binding:host_id\": \"hv1\", "
                     "\"binding:profile\": {\"interface_name\": \"veth-x\"}}",
                     NET1);
    CHECK_EQ(simt_put(topo, "ports/px", json, NULL), 0);
    CHECK(topology_get_port(topo, "px", &info));
    CHECK_STREQ(info.ifname, "veth-x");
    CHECK(info.admin_up);
    CHECK(info.mac.ea[5] == 0x77);

    /* The local ports follow creations, moves and deletions. */
    seen.n = 0;
    topology_for_each_local_port(topo, collect_local, &seen);
    CHECK_EQ(seen.n, 5);
    simt_put(topo, "ports/" P3, port_json(P3, "vm3", NET1, "fa:16:3e:00:00:03",
                                     "10.0.0.3", "hv1"), NULL);
    simt_put(topo, "ports/" P1, port_json(P1, "vm1", NET1, "fa:16:3e:00:00:01",
                                     "10.0.0.1", "hv2"), NULL);
    simt_put(topo, "ports/" Q3, NULL, NULL);
    seen.n = 0;
    seen.p1_ok = false;
    topology_for_each_local_port(topo, collect_local, &seen);
    CHECK_EQ(seen.n, 4);
    CHECK(!seen.p1_ok);

    tag_set_init(&changed);
    topology_clear(topo, &changed);
    CHECK(changed.all);
    CHECK_EQ(topology_n_networks(topo), 0);
    CHECK_EQ(topology_n_ports(topo), 0);
    CHECK_EQ(topology_n_hosts(topo), 0);
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:02")),
                "drop(no_port)");
    tag_set_destroy(&changed);

    /* Local bindings survive a snapshot reload. */
    topology_destroy(topo);
    topo = fixture();
    tag_set_init(&changed);
    topology_clear(topo, &changed);
    simt_put(topo, "networks/" NET1, net_json(NET1, "net1", 7, true), NULL);
    simt_put(topo, "ports/" P1, port_json(P1, "vm1", NET1, "fa:16:3e:00:00:01",
                                     "10.0.0.1", "hv1"), NULL);
    simt_put(topo, "ports/" P2, port_json(P2, "vm2", NET1, "fa:16:3e:00:00:02",
                                     "10.0.0.2", "hv1"), NULL);
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:02")), "output:4");
    /* Binding a taken port number moves it. */
    topology_bind(topo, P2, 3, &changed);
    CHECK_STREQ(simt_acts(topo, l2_key(3, "fa:16:3e:00:00:01")),
                "drop(unknown_dst)");
    tag_set_destroy(&changed);
    topology_destroy(topo);
    topology_destroy(NULL);
}

int
main(void)
{
    RUN(test_local_unicast);
    RUN(test_remote_unicast);
    RUN(test_broadcast_replication);
    RUN(test_unknown_unicast_floods);
    RUN(test_no_flood_target);
    RUN(test_flood_many_hosts);
    RUN(test_arp_responder);
    RUN(test_tunnel_ingress);
    RUN(test_tenant_isolation);
    RUN(test_drops);
    RUN(test_golden_traces);
    RUN(test_tags_binding_move);
    RUN(test_tags_status_only);
    RUN(test_tags_objects);
    RUN(test_malformed);
    RUN(test_queries_and_clear);
    return unit_finish();
}
