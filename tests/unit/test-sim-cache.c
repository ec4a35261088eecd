/*
 * test-sim-cache.c -- "a cached result equals a fresh simulation".
 *
 * The megaflow cache may only cost time, never correctness.  Two things
 * make that true and are checked here against random topologies and random
 * packets (biased so that in_ports, VNIs, destination MACs and ARP targets
 * hit real objects most of the time):
 *
 *   - masks: for a packet P and any packet Q that agrees with P on every
 *     bit of P's megaflow mask, sim_run(Q) gives P's actions;
 *   - tags: after any topology change, invalidating the flows that carry a
 *     changed tag leaves only flows whose actions a fresh simulation still
 *     produces.
 *
 * The topology is driven through topology_update() with JSON generated from
 * a small model, exactly as the agent drives it from the change stream.
 * The model has networks with one subnet each (random prefixes inside one
 * small address pool, so that they overlap and nest), routers whose
 * interfaces are ports of the model and whose static routes point at
 * random pool addresses (so that chains of routers, loops and unresolvable
 * next hops all occur), and packets with random TTLs, protocols and DHCP
 * ports.
 * Seeds are fixed, so a failure reproduces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "datapath/megaflow.h"
#include "sim/sim.h"
#include "sim/topology.h"
#include "tests/lib/unit.h"
#include "lib/random.h"

#define N_HOSTS 14              /* h0 (local) .. h13; h13 never has an
                                 * agent.  Enough that some floods go to
                                 * more hosts than SIM_MAX_HOST_TAGS. */
#define N_NETS 4
#define N_PORTS 60
#define MAC_POOL 24             /* Distinct low bytes a MAC may take. */
#define IP_POOL 24
#define N_ROUTERS 3
#define N_SGS 3
#define N_SG_RULES 8
#define MAX_ROUTES 3

static uint64_t rng_state;

static uint32_t
rnd(void)
{
    return (uint32_t) random_next(&rng_state);
}

static uint32_t
rnd_n(uint32_t n)
{
    return random_range(&rng_state, n);
}

static bool
chance(int percent)
{
    return rnd_n(100) < (uint32_t) percent;
}

/* The model the topology is generated from. */
struct m_net {
    bool exists;
    bool up;
    uint32_t vni;
    uint32_t mtu;
    bool subnet;                /* Has its subnet "sub-<i>". */
    int sub_base, sub_plen;     /* Pool index of the prefix, length. */
    int gateway;                /* Pool index, -1 none. */
    bool dhcp;
};

struct m_route {
    int dst, plen;              /* Pool index of the prefix, length. */
    int nexthop;                /* Pool index. */
};

struct m_router {
    bool exists;
    bool up;
    struct m_route routes[MAX_ROUTES];
    int n_routes;
};

struct m_port {
    bool exists;
    int net;
    int mac;                    /* Index into the MAC pool. */
    int ip, ip2;                /* Indexes into the IP pool, -1 if none. */
    int host;                   /* -1 unbound. */
    bool up;
    uint32_t port_no;           /* Local binding, 0 if none. */
    int status;
    int router;                 /* Interface of this router, -1 none. */
    bool secure;                /* port_security_enabled. */
    int pair;                   /* Allowed pair: pool index /30 (and its
                                 * IPv6 twin /126), -1. */
    int ip6;                    /* IPv6 fixed IP: pool index, -1. */
    int sgs;                    /* Bit i: member of group i. */
};

/* A security group rule of group 'sg'. */
struct m_rule {
    bool exists;
    int sg;
    bool ingress;
    int proto;                  /* -1 any, 6, 17, 1. */
    int pmin, pmax;             /* -1 any. */
    int prefix, plen;           /* Pool index, -1 none. */
    int remote;                 /* Group, -1 none. */
    bool ipv6;                  /* Ethertype (prefix: the IPv6 twin). */
};

struct m_agent {
    bool exists;
    bool has_ip;
    int ip;
};

struct model {
    struct m_net nets[N_NETS];
    struct m_port ports[N_PORTS];
    struct m_agent agents[N_HOSTS];
    struct m_router routers[N_ROUTERS];
    struct m_rule rules[N_SG_RULES];
};

static void
router_id(int i, char buf[64])
{
    snprintf(buf, 64, "%08x-2222-4222-8222-00000000000%d", 0xdd000000 + i,
             i);
}

static void
net_id(int i, char buf[64])
{
    snprintf(buf, 64, "%08x-0000-4000-8000-00000000000%d", 0xee000000 + i, i);
}

static void
port_id(int i, char buf[64])
{
    snprintf(buf, 64, "%08x-1111-4111-8111-%012d", 0xc0000000 + i, i);
}

static struct eth_addr
pool_mac(int i)
{
    struct eth_addr mac = { { 0xfa, 0x16, 0x3e, 0x00, 0x00, (uint8_t) i } };
    return mac;
}

static be32
pool_ip(int i)
{
    return htonl(0x0a000001 + (uint32_t) i);
}

/* The IPv6 twin of pool address i: fd00::10.0.0.x. */
static void
pool_ip6(int i, uint8_t out[16])
{
    be32 ip = pool_ip(i);

    memset(out, 0, 16);
    out[0] = 0xfd;
    memcpy(out + 12, &ip, 4);
}

static const char *
pool_ip6_str(int i, char buf[INET6_ADDRSTRLEN])
{
    uint8_t a[16];

    pool_ip6(i, a);
    return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

static bool
mac_taken(const struct model *m, int net, int mac, int except)
{
    for (int i = 0; i < N_PORTS; i++) {
        if (i != except && m->ports[i].exists && m->ports[i].net == net
            && m->ports[i].mac == mac) {
            return true;
        }
    }
    return false;
}

static bool
vni_taken(const struct model *m, uint32_t vni, int except)
{
    for (int i = 0; i < N_NETS; i++) {
        if (i != except && m->nets[i].exists && m->nets[i].vni == vni) {
            return true;
        }
    }
    return false;
}

static const char *
pool_ip_str(int i, char buf[INET_ADDRSTRLEN])
{
    be32 ip = pool_ip(i);

    return inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
}

static void
push_net(struct topology *topo, const struct model *m, int i,
         struct tag_set *changed)
{
    char id[64], key[80];
    char *json = NULL;

    net_id(i, id);
    snprintf(key, sizeof key, "networks/%s", id);
    if (m->nets[i].exists) {
        json = xasprintf("{\"id\": \"%s\", \"name\": \"n%d\", "
                         "\"admin_state_up\": %s, \"mtu\": %u, "
                         "\"provider:segmentation_id\": %u}", id, i,
                         m->nets[i].up ? "true" : "false", m->nets[i].mtu,
                         m->nets[i].vni);
    }
    CHECK_EQ(topology_update(topo, key, json, changed), 0);
    free(json);
}

static void
push_subnet(struct topology *topo, const struct model *m, int i,
            struct tag_set *changed)
{
    const struct m_net *n = &m->nets[i];
    char id[64], key[80], a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN + 2];
    char *json = NULL;

    net_id(i, id);
    snprintf(key, sizeof key, "subnets/sub-%d", i);
    if (n->subnet) {
        if (n->gateway >= 0) {
            snprintf(g, sizeof g, "\"%s\"", pool_ip_str(n->gateway, a));
        } else {
            snprintf(g, sizeof g, "null");
        }
        json = xasprintf("{\"id\": \"sub-%d\", \"network_id\": \"%s\", "
                         "\"ip_version\": 4, \"cidr\": \"%s/%d\", "
                         "\"gateway_ip\": %s, \"enable_dhcp\": %s, "
                         "\"dns_nameservers\": [], \"host_routes\": []}",
                         i, id, pool_ip_str(n->sub_base, a), n->sub_plen, g,
                         n->dhcp ? "true" : "false");
    }
    CHECK_EQ(topology_update(topo, key, json, changed), 0);
    free(json);
}

static void
push_rule(struct topology *topo, const struct model *m, int i,
          struct tag_set *changed)
{
    const struct m_rule *r = &m->rules[i];
    char key[64], proto[16] = "null", ports[64] = "", prefix[64] = "";
    char remote[48] = "", a[INET6_ADDRSTRLEN];
    char *json = NULL;

    snprintf(key, sizeof key, "security-group-rules/rule%d", i);
    if (r->exists) {
        if (r->proto >= 0) {
            snprintf(proto, sizeof proto, "\"%d\"", r->proto);
        }
        if (r->pmin >= 0 && r->pmax >= 0) {
            snprintf(ports, sizeof ports, ", \"port_range_min\": %d, "
                     "\"port_range_max\": %d", r->pmin, r->pmax);
        } else if (r->pmin >= 0) {
            snprintf(ports, sizeof ports, ", \"port_range_min\": %d",
                     r->pmin);
        }
        if (r->prefix >= 0) {
            snprintf(prefix, sizeof prefix, ", \"remote_ip_prefix\": "
                     "\"%s/%d\"", (r->ipv6 ? pool_ip6_str(r->prefix, a)
                                          : pool_ip_str(r->prefix, a)),
                     r->plen + (r->ipv6 ? 96 : 0));
        } else if (r->remote >= 0) {
            snprintf(remote, sizeof remote, ", \"remote_group_id\": "
                     "\"sg%d\"", r->remote);
        }
        json = xasprintf("{\"security_group_id\": \"sg%d\", "
                         "\"direction\": \"%s\", \"ethertype\": \"%s\", "
                         "\"protocol\": %s%s%s%s}", r->sg,
                         r->ingress ? "ingress" : "egress",
                         r->ipv6 ? "IPv6" : "IPv4", proto, ports,
                         prefix, remote);
    }
    CHECK_EQ(topology_update(topo, key, json, changed), 0);
    free(json);
}

static void
random_rule(struct m_rule *r)
{
    static const int protos[] = { -1, 6, 17, 1 };

    r->exists = chance(80);
    r->ipv6 = chance(30);
    r->sg = (int) rnd_n(N_SGS);
    r->ingress = chance(50);
    r->proto = protos[rnd_n(ARRAY_SIZE(protos))];
    r->pmin = r->pmax = -1;
    if (r->proto == 6 || r->proto == 17) {
        if (chance(60)) {
            r->pmin = 64 + (int) rnd_n(8);
            r->pmax = r->pmin + (int) rnd_n(3);
        }
    } else if (r->proto == 1 && r->ipv6) {
        r->proto = 58;
        r->pmin = chance(50) ? 128 : -1;
    } else if (r->proto == 1 && chance(50)) {
        r->pmin = chance(50) ? 8 : 0;
        r->pmax = chance(50) ? 0 : -1;
    }
    r->prefix = chance(30) ? (int) rnd_n(IP_POOL) : -1;
    r->plen = 28 + (int) rnd_n(5);
    r->remote = r->prefix < 0 && chance(40) ? (int) rnd_n(N_SGS) : -1;
}

static void
push_router(struct topology *topo, const struct model *m, int i,
            struct tag_set *changed)
{
    const struct m_router *r = &m->routers[i];
    char id[64], key[80], routes[512] = "";
    char *json = NULL;
    size_t ofs = 0;

    router_id(i, id);
    snprintf(key, sizeof key, "routers/%s", id);
    if (r->exists) {
        for (int j = 0; j < r->n_routes; j++) {
            char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

            ofs += (size_t) snprintf(routes + ofs, sizeof routes - ofs,
                                     "%s{\"destination\": \"%s/%d\", "
                                     "\"nexthop\": \"%s\"}", j ? ", " : "",
                                     pool_ip_str(r->routes[j].dst, a),
                                     r->routes[j].plen,
                                     pool_ip_str(r->routes[j].nexthop, b));
        }
        json = xasprintf("{\"id\": \"%s\", \"name\": \"r%d\", "
                         "\"admin_state_up\": %s, \"routes\": [%s]}", id,
                         i, r->up ? "true" : "false", routes);
    }
    CHECK_EQ(topology_update(topo, key, json, changed), 0);
    free(json);
}

static void
push_port(struct topology *topo, const struct model *m, int i,
          struct tag_set *changed)
{
    static const char *const statuses[] = { "ACTIVE", "DOWN", "BUILD" };
    const struct m_port *p = &m->ports[i];
    char id[64], nid[64], key[80], ips[192], mac[18], host[16] = "";
    char rid[64] = "", owner[32], pairs[160];
    struct eth_addr ea;
    char *json = NULL;

    port_id(i, id);
    snprintf(key, sizeof key, "ports/%s", id);
    if (p->exists) {
        char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
        be32 ip = pool_ip(p->ip), ip2 = pool_ip(p->ip2);

        inet_ntop(AF_INET, &ip, a, sizeof a);
        inet_ntop(AF_INET, &ip2, b, sizeof b);
        char c[INET6_ADDRSTRLEN], ip6[80] = "";

        if (p->ip6 >= 0) {
            snprintf(ip6, sizeof ip6, "%s{\"ip_address\": \"%s\"}",
                     p->ip >= 0 ? ", " : "", pool_ip6_str(p->ip6, c));
        }
        if (p->ip < 0) {
            snprintf(ips, sizeof ips, "[%s]", ip6);
        } else if (p->ip2 < 0) {
            snprintf(ips, sizeof ips, "[{\"subnet_id\": \"sub-%d\", "
                     "\"ip_address\": \"%s\"}%s]", p->net, a, ip6);
        } else {
            snprintf(ips, sizeof ips, "[{\"subnet_id\": \"sub-%d\", "
                     "\"ip_address\": \"%s\"}, "
                     "{\"ip_address\": \"%s\"}%s]", p->net, a, b, ip6);
        }
        if (p->pair >= 0) {
            snprintf(pairs, sizeof pairs, "[{\"ip_address\": \"%s/30\"}, "
                     "{\"ip_address\": \"%s/126\"}]",
                     pool_ip_str(p->pair, b), pool_ip6_str(p->pair, c));
        } else {
            snprintf(pairs, sizeof pairs, "[]");
        }
        if (p->router >= 0) {
            router_id(p->router, rid);
            snprintf(owner, sizeof owner, "network:router_interface");
        } else {
            snprintf(owner, sizeof owner, "compute:nova");
        }
        if (p->host >= 0) {
            snprintf(host, sizeof host, "h%d", p->host);
        }
        net_id(p->net, nid);
        ea = pool_mac(p->mac);
        eth_addr_to_string(&ea, mac);
        json = xasprintf("{\"id\": \"%s\", \"network_id\": \"%s\", "
                         "\"mac_address\": \"%s\", \"fixed_ips\": %s, "
                         "\"admin_state_up\": %s, \"status\": \"%s\", "
                         "\"device_owner\": \"%s\", \"device_id\": \"%s\", "
                         "\"port_security_enabled\": %s, "
                         "\"allowed_address_pairs\": %s, "
                         "\"security_groups\": [%s%s%s%s%s], "
                         "\"binding:host_id\": \"%s\"}",
                         id, nid, mac, ips, p->up ? "true" : "false",
                         statuses[p->status], owner, rid,
                         p->secure ? "true" : "false", pairs,
                         p->sgs & 1 ? "\"sg0\"" : "",
                         p->sgs & 1 && p->sgs & 6 ? ", " : "",
                         p->sgs & 2 ? "\"sg1\"" : "",
                         p->sgs & 2 && p->sgs & 4 ? ", " : "",
                         p->sgs & 4 ? "\"sg2\"" : "", host);
    }
    CHECK_EQ(topology_update(topo, key, json, changed), 0);
    free(json);
}

static void
push_agent(struct topology *topo, const struct model *m, int i,
           struct tag_set *changed)
{
    char key[32];
    char *json = NULL;

    snprintf(key, sizeof key, "agents/agent-%d", i);
    if (m->agents[i].exists) {
        if (m->agents[i].has_ip) {
            json = xasprintf("{\"host\": \"h%d\", \"configurations\": "
                             "{\"tunnel_ip\": \"198.18.0.%d\"}}", i,
                             m->agents[i].ip);
        } else {
            json = xasprintf("{\"host\": \"h%d\", \"configurations\": {}}",
                             i);
        }
    }
    CHECK_EQ(topology_update(topo, key, json, changed), 0);
    free(json);
}

static void
push_binding(struct topology *topo, const struct model *m, int i,
             struct tag_set *changed)
{
    char id[64];

    port_id(i, id);
    if (m->ports[i].port_no) {
        topology_bind(topo, id, m->ports[i].port_no, changed);
    } else {
        topology_unbind(topo, id, changed);
    }
}

/* Datapath port numbers go to ports 0..N_PORTS-1 as 2 + i, so bindings
 * never collide in the model. */
static uint32_t
port_no_of(int i)
{
    return FLOW_PORT_FIRST_VIF + (uint32_t) i;
}

static void
random_port(struct model *m, int i)
{
    struct m_port *p = &m->ports[i];

    p->exists = true;
    p->net = (int) rnd_n(N_NETS);
    do {
        p->mac = (int) rnd_n(MAC_POOL);
    } while (mac_taken(m, p->net, p->mac, i));
    p->ip = chance(90) ? (int) rnd_n(IP_POOL) : -1;
    p->ip2 = p->ip >= 0 && chance(15) ? (int) rnd_n(IP_POOL) : -1;
    if (p->ip2 == p->ip) {
        p->ip2 = -1;
    }
    p->host = chance(8) ? -1 : chance(30) ? 0 : (int) rnd_n(N_HOSTS);
    p->up = chance(90);
    p->status = (int) rnd_n(3);
    /* Local ports are usually attached; a few stale bindings elsewhere. */
    p->port_no = ((p->host == 0 && chance(85)) || chance(5))
                 ? port_no_of(i) : 0;
    /* Some ports are router interfaces (unbound, as the controller makes
     * them, but a few bound ones too). */
    p->router = chance(20) ? (int) rnd_n(N_ROUTERS) : -1;
    p->secure = chance(50);
    p->pair = chance(20) ? (int) rnd_n(IP_POOL) : -1;
    p->ip6 = chance(60) ? (int) rnd_n(IP_POOL) : -1;
    p->sgs = (int) rnd_n(8);
    if (p->router >= 0 && chance(85)) {
        p->host = -1;
        p->port_no = 0;
    }
}

static void
random_subnet(struct m_net *n)
{
    static const int plens[] = { 24, 27, 28, 29, 30 };

    n->subnet = chance(90);
    n->sub_plen = plens[rnd_n(ARRAY_SIZE(plens))];
    n->sub_base = (int) rnd_n(IP_POOL);
    n->gateway = chance(80) ? (int) rnd_n(IP_POOL) : -1;
    n->dhcp = chance(80);
    n->mtu = chance(70) ? 1450 : 1300 + rnd_n(200);
}

static void
random_router(struct m_router *r)
{
    static const int plens[] = { 0, 24, 28, 30, 32 };

    r->exists = chance(90);
    r->up = chance(90);
    r->n_routes = (int) rnd_n(MAX_ROUTES + 1);
    for (int j = 0; j < r->n_routes; j++) {
        r->routes[j].dst = (int) rnd_n(IP_POOL);
        r->routes[j].plen = plens[rnd_n(ARRAY_SIZE(plens))];
        r->routes[j].nexthop = (int) rnd_n(IP_POOL);
    }
}

static void
random_model(struct model *m)
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < N_NETS; i++) {
        m->nets[i].exists = i < N_NETS - 1 || chance(50);
        m->nets[i].up = chance(90);
        do {
            m->nets[i].vni = 100 + rnd_n(8);
        } while (vni_taken(m, m->nets[i].vni, i));
        random_subnet(&m->nets[i]);
    }
    for (int i = 0; i < N_ROUTERS; i++) {
        random_router(&m->routers[i]);
    }
    for (int i = 0; i < N_SG_RULES; i++) {
        random_rule(&m->rules[i]);
    }
    for (int i = 0; i < N_HOSTS - 1; i++) {
        m->agents[i].exists = true;
        m->agents[i].has_ip = chance(85);
        m->agents[i].ip = 10 + i;
    }
    for (int i = 0; i < N_PORTS; i++) {
        if (chance(90)) {
            random_port(m, i);
        }
    }
}

static struct topology *
build_topology(const struct model *m)
{
    struct topology *topo = topology_create("h0");
    struct tag_set changed;

    tag_set_init(&changed);
    for (int i = 0; i < N_PORTS; i++) {
        if (m->ports[i].exists) {
            push_port(topo, m, i, &changed);
        }
        if (m->ports[i].port_no) {
            push_binding(topo, m, i, &changed);
        }
    }
    for (int i = 0; i < N_NETS; i++) {
        push_net(topo, m, i, &changed);
        push_subnet(topo, m, i, &changed);
    }
    for (int i = 0; i < N_ROUTERS; i++) {
        push_router(topo, m, i, &changed);
    }
    for (int i = 0; i < N_SG_RULES; i++) {
        push_rule(topo, m, i, &changed);
    }
    for (int i = 0; i < N_HOSTS; i++) {
        push_agent(topo, m, i, &changed);
    }
    tag_set_destroy(&changed);
    return topo;
}

/* A random flow key, biased towards the model's objects. */
static void
random_key(const struct model *m, struct flow_key *key)
{
    uint8_t *bytes = (uint8_t *) key;

    for (size_t i = 0; i < sizeof *key; i++) {
        bytes[i] = (uint8_t) rnd();
    }
    key->pad0 = key->pad1 = key->pad3 = 0;
    memset(key->pad2, 0, sizeof key->pad2);

    if (chance(20)) {
        key->in_port = FLOW_PORT_TUNNEL;
        key->tun_vni = chance(85) ? m->nets[rnd_n(N_NETS)].vni
                                  : 100 + rnd_n(10);
    } else if (chance(95)) {
        int i = (int) rnd_n(N_PORTS);

        /* Mostly from attached ports, which are a minority. */
        for (int tries = 0; tries < N_PORTS && chance(90)
             && !m->ports[i].port_no; tries++) {
            i = (i + 1) % N_PORTS;
        }
        key->in_port = port_no_of(i);
        key->tun_vni = 0;
        key->tun_src = 0;
    } else {
        key->in_port = rnd_n(N_PORTS + 4);
    }

    if (chance(20)) {
        /* A router interface, often on the input port's network. */
        for (int tries = 0; tries < 3 * N_PORTS; tries++) {
            const struct m_port *p = &m->ports[rnd_n(N_PORTS)];

            if (p->exists && p->router >= 0) {
                key->eth_dst = pool_mac(p->mac);
                break;
            }
        }
    } else if (chance(55)) {
        key->eth_dst = pool_mac((int) rnd_n(MAC_POOL));
    } else if (chance(45)) {
        memset(key->eth_dst.ea, 0xff, ETH_ADDR_LEN);
    } else if (chance(30)) {
        key->eth_dst.ea[0] |= 1;
    } else {
        key->eth_dst.ea[0] &= ~1;
    }
    if (key->in_port >= FLOW_PORT_FIRST_VIF
        && key->in_port - FLOW_PORT_FIRST_VIF < N_PORTS && chance(70)) {
        /* Mostly the input port's own addresses (port security). */
        const struct m_port *p = &m->ports[key->in_port
                                           - FLOW_PORT_FIRST_VIF];

        key->eth_src = pool_mac(p->mac);
        key->arp_sha = key->eth_src;
        if (p->ip >= 0 && chance(85)) {
            key->nw_src.ip4 = pool_ip(p->ip);
        } else if (p->pair >= 0 && chance(70)) {
            key->nw_src.ip4 = pool_ip(p->pair);
        }
        if (chance(15)) {
            /* An IPv6 source of the port's: fixed, pair, link-local or
             * unspecified. */
            if (p->ip6 >= 0 && chance(60)) {
                pool_ip6(p->ip6, key->nw_src.ip6);
            } else if (p->pair >= 0 && chance(50)) {
                pool_ip6(p->pair, key->nw_src.ip6);
            } else if (chance(60)) {
                ip6_link_local_from_mac(&key->eth_src, key->nw_src.ip6);
            } else {
                memset(key->nw_src.ip6, 0, 16);
            }
            key->eth_type = htons(ETH_TYPE_IPV6);
        }
    } else if (chance(80)) {
        key->eth_src = pool_mac((int) rnd_n(MAC_POOL));
    }
    if (chance(85)) {
        key->vlan_tci = 0;
    }
    if (key->eth_type == htons(ETH_TYPE_IPV6)) {
        /* Chosen above with a source address. */
    } else if (chance(40)) {
        key->eth_type = htons(ETH_TYPE_ARP);
        key->nw_proto = chance(80) ? ARP_OP_REQUEST : ARP_OP_REPLY;
    } else if (chance(12)) {
        key->eth_type = htons(ETH_TYPE_IPV6);
        if (chance(60)) {
            pool_ip6((int) rnd_n(IP_POOL), key->nw_src.ip6);
        }
    } else if (chance(85)) {
        key->eth_type = htons(ETH_TYPE_IP);
    }
    if (key->eth_type == htons(ETH_TYPE_IPV6)) {
        static const uint8_t protos[] = { 58, 58, 6, 17 };
        static const uint8_t types[] = { 128, 134, 135, 136, 143, 1 };

        if (chance(70)) {
            pool_ip6((int) rnd_n(IP_POOL), key->nw_dst.ip6);
        }
        if (chance(85)) {
            key->nw_proto = protos[rnd_n(ARRAY_SIZE(protos))];
        }
        if (key->nw_proto == 58) {
            key->tp_src = htons(types[rnd_n(ARRAY_SIZE(types))]);
            if (chance(80)) {
                key->tp_dst = 0;
            }
            if (chance(50)) {
                /* A target of some port's, often the source's own. */
                memcpy(key->nd_target, key->nw_src.ip6, 16);
            } else if (chance(60)) {
                pool_ip6((int) rnd_n(IP_POOL), key->nd_target);
            }
        } else if (chance(20)) {
            key->tp_src = htons(547);
        } else if (chance(40)) {
            key->tp_dst = htons(62 + rnd_n(14));
        }
        if (chance(70)) {
            key->nw_frag = 0;
        }
    } else if (chance(70)) {
        key->nw_dst.ip4 = pool_ip((int) rnd_n(IP_POOL));
    }
    if (key->eth_type == htons(ETH_TYPE_IP)) {
        static const uint8_t protos[] = { 1, 6, 17, 17 };

        if (chance(80)) {
            key->nw_proto = protos[rnd_n(ARRAY_SIZE(protos))];
        }
        if (chance(50)) {
            key->nw_ttl = (uint8_t) rnd_n(5);
        } else if (chance(50)) {
            key->nw_ttl = 64;
        }
        if (chance(20)) {
            key->tp_dst = htons(chance(50) ? 67 : 66 + rnd_n(4));
        } else if (chance(40)) {
            key->tp_dst = htons(62 + rnd_n(14));
        }
        if (key->nw_proto == 1 && chance(50)) {
            key->tp_src = htons(8);
        }
        if (chance(70)) {
            key->nw_frag = 0;
        }
    }
}

/* Q: random outside 'mask', equal to 'key' inside it. */
static void
matching_key(const struct model *m, const struct flow_key *key,
             const struct flow_key *mask, struct flow_key *q)
{
    const uint64_t *k = (const uint64_t *) key;
    const uint64_t *mk = (const uint64_t *) mask;
    uint64_t *w = (uint64_t *) q;

    random_key(m, q);
    for (size_t i = 0; i < FLOW_KEY_U64S; i++) {
        w[i] = (w[i] & ~mk[i]) | (k[i] & mk[i]);
    }
}

struct sim_out {
    struct dp_actions acts;
    struct flow_wc wc;
    struct flow_tags tags;
};

static void
simulate(const struct topology *topo, const struct flow_key *key,
         struct sim_out *out)
{
    flow_wc_init_catchall(&out->wc);
    flow_tags_init(&out->tags);
    dp_actions_init(&out->acts);
    CHECK_EQ(sim_run(topo, key, &out->wc, &out->acts, &out->tags, NULL), 0);
}

static bool
fresh_equals(const struct topology *topo, const struct flow_key *key,
             const struct dp_actions *cached)
{
    struct sim_out out;
    bool eq;

    simulate(topo, key, &out);
    eq = dp_actions_equal(&out.acts, cached);
    if (!eq) {
        char a[256], b[256], k[512];

        struct sim_trace trace;
        struct flow_wc wc;
        struct flow_tags tags;
        struct dp_actions acts;

        fprintf(stderr, "  key %s\n  cached %s fresh %s\n",
                flow_key_format(key, NULL, k, sizeof k),
                dp_actions_format(cached, a, sizeof a),
                dp_actions_format(&out.acts, b, sizeof b));
        sim_trace_init(&trace);
        flow_wc_init_catchall(&wc);
        flow_tags_init(&tags);
        dp_actions_init(&acts);
        sim_run(topo, key, &wc, &acts, &tags, &trace);
        for (size_t i = 0; i < trace.n; i++) {
            fprintf(stderr, "    %s\n", trace.lines[i]);
        }
        sim_trace_destroy(&trace);
        dp_actions_destroy(&acts);
    }
    dp_actions_destroy(&out.acts);
    return eq;
}

/* What the datapath does on a packet: hit, or simulate and install.
 * Returns true on a hit, after checking it against a fresh simulation. */
static bool
packet(const struct topology *topo, struct mf_table *table,
       const struct flow_key *key, int *bad)
{
    struct megaflow *flow = mf_lookup(table, key);
    struct sim_out out;

    if (flow) {
        if (!fresh_equals(topo, key, &flow->actions)) {
            (*bad)++;
        }
        return true;
    }
    simulate(topo, key, &out);
    mf_insert(table, key, &out.wc.masks, 0, &out.acts, &out.tags);
    dp_actions_destroy(&out.acts);
    return false;
}

struct check_aux {
    const struct topology *topo;
    const struct model *m;
    int n_flows;
    int bad;
};

/* Every surviving megaflow: its own (masked) key and random keys inside its
 * match must simulate to its actions. */
static void
check_flow(const struct megaflow *flow, void *aux_)
{
    struct check_aux *aux = aux_;

    aux->n_flows++;
    if (!fresh_equals(aux->topo, &flow->key, &flow->actions)) {
        aux->bad++;
        return;
    }
    for (int i = 0; i < 4; i++) {
        struct flow_key q;

        matching_key(aux->m, &flow->key, &flow->mask, &q);
        if (!fresh_equals(aux->topo, &q, &flow->actions)) {
            aux->bad++;
            return;
        }
    }
}

static int
check_table(const struct topology *topo, const struct model *m,
            const struct mf_table *table)
{
    struct check_aux aux = { topo, m, 0, 0 };

    mf_for_each(table, check_flow, &aux);
    CHECK_EQ(aux.n_flows, (int) mf_count(table));
    return aux.bad;
}

static void
test_masks_sufficient(void)
{
    int bad = 0, n_checked = 0;

    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct model m;
        struct topology *topo;

        rng_state = seed * 0x9e3779b97f4a7c15ULL;
        random_model(&m);
        topo = build_topology(&m);
        for (int i = 0; i < 500; i++) {
            struct flow_key p, q;
            struct sim_out out;

            random_key(&m, &p);
            simulate(topo, &p, &out);
            for (int j = 0; j < 8; j++) {
                matching_key(&m, &p, &out.wc.masks, &q);
                bad += !fresh_equals(topo, &q, &out.acts);
                n_checked++;
            }
            dp_actions_destroy(&out.acts);
        }
        topology_destroy(topo);
    }
    CHECK(n_checked == 20 * 500 * 8);
    CHECK_EQ(bad, 0);
}

static void
count_outcomes(const struct megaflow *flow, void *outcomes_)
{
    int *outcomes = outcomes_;

    for (size_t k = 0; k < flow->actions.n; k++) {
        outcomes[flow->actions.a[k].type]++;
    }
}

static void
test_cached_equals_fresh(void)
{
    int bad = 0, hits = 0, lookups = 0;
    int outcomes[N_DP_ACTION_TYPES] = { 0 };

    for (uint64_t seed = 1; seed <= 10; seed++) {
        struct mf_table *table = mf_create();
        struct model m;
        struct topology *topo;

        rng_state = seed * 0xda942042e4dd58b5ULL;
        random_model(&m);
        topo = build_topology(&m);
        for (int i = 0; i < 1500; i++) {
            struct flow_key key;

            random_key(&m, &key);
            packet(topo, table, &key, &bad);
        }
        for (int i = 0; i < 5000; i++) {
            struct flow_key key;
            struct megaflow *flow;

            random_key(&m, &key);
            lookups++;
            flow = mf_lookup(table, &key);
            if (flow) {
                hits++;
                bad += !fresh_equals(topo, &key, &flow->actions);
            }
        }
        bad += check_table(topo, &m, table);
        mf_for_each(table, count_outcomes, outcomes);
        mf_destroy(table);
        topology_destroy(topo);
    }
    CHECK_EQ(bad, 0);
    /* The biased generator must exercise the cache and every outcome. */
    CHECK(hits > lookups / 5);
    for (int t = 0; t < N_DP_ACTION_TYPES; t++) {
        if (!outcomes[t]) {
            fprintf(stderr, "  no flow with %s\n",
                    dp_action_type_name((enum dp_action_type) t));
        }
        CHECK(outcomes[t] > 0);
    }
}

/* The kind of the last random_change(), reported with a failure. */
static int last_change;

/* Applies one random change to 'm' and 'topo'; the tags go to 'changed'. */
static void
random_change(struct model *m, struct topology *topo,
              struct tag_set *changed)
{
    int i = (int) rnd_n(N_PORTS);
    int n = (int) rnd_n(N_NETS);
    int h = (int) rnd_n(N_HOSTS);
    struct m_port *p = &m->ports[i];

    int r = (int) rnd_n(N_ROUTERS);

    last_change = (int) rnd_n(21);
    switch (last_change) {
    case 0:                     /* Port moves to another host. */
        if (p->exists) {
            p->host = chance(10) ? -1 : (int) rnd_n(N_HOSTS);
            push_port(topo, m, i, changed);
        }
        break;
    case 1:                     /* New MAC. */
        if (p->exists) {
            int mac = (int) rnd_n(MAC_POOL);

            if (!mac_taken(m, p->net, mac, i)) {
                p->mac = mac;
                push_port(topo, m, i, changed);
            }
        }
        break;
    case 2:                     /* New IPs. */
        if (p->exists) {
            p->ip = chance(90) ? (int) rnd_n(IP_POOL) : -1;
            p->ip2 = -1;
            push_port(topo, m, i, changed);
        }
        break;
    case 3:                     /* Admin state, port security. */
        if (p->exists) {
            if (chance(50)) {
                p->up = !p->up;
            } else {
                p->secure = !p->secure;
                p->pair = chance(50) ? (int) rnd_n(IP_POOL) : -1;
            }
            push_port(topo, m, i, changed);
        }
        break;
    case 4:                     /* Status only: must emit nothing. */
        if (p->exists) {
            size_t before = changed->n;

            p->status = (p->status + 1) % 3;
            push_port(topo, m, i, changed);
            CHECK_EQ(changed->n, before);
        }
        break;
    case 5:                     /* Created or deleted. */
        if (p->exists) {
            p->exists = false;
            push_port(topo, m, i, changed);
        } else {
            uint32_t no = p->port_no;

            random_port(m, i);
            p->port_no = no;
            push_port(topo, m, i, changed);
        }
        break;
    case 6:                     /* Moves to another network. */
        if (p->exists) {
            int net = (int) rnd_n(N_NETS);

            if (!mac_taken(m, net, p->mac, i)) {
                p->net = net;
                push_port(topo, m, i, changed);
            }
        }
        break;
    case 7:                     /* Local attach / detach. */
        p->port_no = p->port_no ? 0 : port_no_of(i);
        push_binding(topo, m, i, changed);
        break;
    case 8:                     /* VNI. */
        if (m->nets[n].exists) {
            uint32_t vni = 100 + rnd_n(8);

            if (!vni_taken(m, vni, n)) {
                m->nets[n].vni = vni;
                push_net(topo, m, n, changed);
            }
        }
        break;
    case 9:                     /* Network admin state. */
        m->nets[n].up = !m->nets[n].up;
        if (m->nets[n].exists) {
            push_net(topo, m, n, changed);
        }
        break;
    case 10:                    /* Network created or deleted. */
        if (m->nets[n].exists || !vni_taken(m, m->nets[n].vni, n)) {
            m->nets[n].exists = !m->nets[n].exists;
            push_net(topo, m, n, changed);
        }
        break;
    case 11:                    /* Tunnel IP. */
        if (m->agents[h].exists) {
            if (chance(30)) {
                m->agents[h].has_ip = !m->agents[h].has_ip;
            } else {
                m->agents[h].ip = 10 + (int) rnd_n(8);
            }
            push_agent(topo, m, h, changed);
        }
        break;
    case 12:                    /* Agent created or deleted. */
        m->agents[h].exists = !m->agents[h].exists;
        m->agents[h].ip = 10 + h;
        push_agent(topo, m, h, changed);
        break;
    case 13:                    /* Subnet changes or comes and goes. */
        random_subnet(&m->nets[n]);
        push_subnet(topo, m, n, changed);
        push_net(topo, m, n, changed);
        break;
    case 14:                    /* Router routes, admin state, existence. */
    case 15:
        random_router(&m->routers[r]);
        push_router(topo, m, r, changed);
        break;
    case 16:                    /* A port becomes or stops being a router
                                 * interface. */
    case 17:
        if (p->exists) {
            p->router = p->router >= 0 ? -1 : r;
            push_port(topo, m, i, changed);
        }
        break;
    case 18:                    /* A rule changes or comes and goes. */
        {
            int k = (int) rnd_n(N_SG_RULES);

            random_rule(&m->rules[k]);
            push_rule(topo, m, k, changed);
        }
        break;
    case 19:                    /* A port's groups change. */
        if (p->exists) {
            p->sgs = (int) rnd_n(8);
            push_port(topo, m, i, changed);
        }
        break;
    default:                    /* Snapshot reload. */
        if (chance(20)) {
            topology_clear(topo, changed);
            for (int j = 0; j < N_NETS; j++) {
                push_net(topo, m, j, changed);
                push_subnet(topo, m, j, changed);
            }
            for (int j = 0; j < N_ROUTERS; j++) {
                push_router(topo, m, j, changed);
            }
            for (int j = 0; j < N_SG_RULES; j++) {
                push_rule(topo, m, j, changed);
            }
            for (int j = 0; j < N_PORTS; j++) {
                if (m->ports[j].exists) {
                    push_port(topo, m, j, changed);
                }
            }
            for (int j = 0; j < N_HOSTS; j++) {
                push_agent(topo, m, j, changed);
            }
        }
        break;
    }
}

static void
test_invalidation(void)
{
    int bad = 0, n_changes = 0, n_partial = 0;

    for (uint64_t seed = 1; seed <= 8; seed++) {
        struct mf_table *table = mf_create();
        struct model m;
        struct topology *topo;

        rng_state = seed * 0xbf58476d1ce4e5b9ULL;
        random_model(&m);
        topo = build_topology(&m);
        for (int round = 0; round < 150; round++) {
            struct tag_set changed;
            size_t before, removed;

            for (int i = 0; i < 60; i++) {
                struct flow_key key;

                random_key(&m, &key);
                packet(topo, table, &key, &bad);
            }

            tag_set_init(&changed);
            random_change(&m, topo, &changed);
            before = mf_count(table);
            removed = mf_invalidate(table, &changed);
            n_changes++;
            if (removed && removed < before) {
                n_partial++;
            }
            if (!changed.n && !changed.all) {
                CHECK_EQ(removed, 0);
            }
            tag_set_destroy(&changed);

            bad += check_table(topo, &m, table);
            if (bad) {
                fprintf(stderr, "  seed %llu round %d change %d\n",
                        (unsigned long long) seed, round, last_change);
                break;
            }
        }
        mf_destroy(table);
        topology_destroy(topo);
        if (bad) {
            break;
        }
    }
    CHECK_EQ(bad, 0);
    /* Invalidation is precise: most changes leave most flows alone. */
    CHECK(n_partial > n_changes / 4);
}

int
main(void)
{
    RUN(test_masks_sufficient);
    RUN(test_cached_equals_fresh);
    RUN(test_invalidation);
    return unit_finish();
}
