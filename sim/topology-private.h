/*
 * topology-private.h -- the topology's internal representation, shared by
 * topology.c (which maintains it) and sim.c (which walks it).  Nothing
 * outside sim/ includes this file.
 *
 * Indexes (all hash maps, O(1) lookups):
 *   ports_by_id     port id                  -> struct topo_port
 *   nets_by_id      network id               -> struct topo_net
 *   nets_by_vni     VNI (present networks)   -> struct topo_net
 *   macs            (network, MAC)           -> struct topo_port
 *   ips             (network, IPv4 address)  -> struct topo_ip (-> port)
 *   agents_by_id    agent id                 -> struct topo_agent
 *   hosts           agent host name          -> struct topo_agent
 *   binds_by_id     port id                  -> struct topo_binding
 *   binds_by_no     datapath port number     -> struct topo_binding
 *
 * A struct topo_net exists while a network object with that id exists
 * ('present') or while any port refers to that id ('n_ports'), so that
 * ports may arrive before their network.  Each network keeps the ports
 * bound to the local host in a list and a sorted array counting member
 * ports per remote host, so that a flood costs O(local ports + hosts)
 * rather than O(members).  The topology keeps every local port in one
 * more list, so that the agent's binding reconciliation costs O(local
 * ports), not O(ports in the cloud).
 *
 * What the simulation needs per packet and can be known per object is
 * computed when the object changes: the tags of ports, networks, VNIs,
 * hosts and bound datapath ports.
 *
 * Invariant: a port is in 'macs', in 'ips' and (if local) in the local
 * lists exactly while it is in 'ports_by_id'; port->binding points to the
 * binding with the same port id, if any (and binding->port back to it).
 */
#ifndef WEFT_TOPOLOGY_PRIVATE_H
#define WEFT_TOPOLOGY_PRIVATE_H 1

#include "lib/flow-key.h"
#include "sim/topology.h"

#include <string.h>

struct json_t;

/* A minimal intrusive chained hash map.  Callers compute hashes and
 * compare keys themselves (walking topo_hmap_first_with_hash()). */
struct topo_hmap_node {
    struct topo_hmap_node *next;
    uint32_t hash;
};

struct topo_hmap {
    struct topo_hmap_node **buckets;
    size_t mask;                /* Number of buckets - 1 (a power of 2). */
    size_t n;
};

static inline void
topo_hmap_init(struct topo_hmap *map)
{
    map->mask = 15;
    map->buckets = xcalloc(map->mask + 1, sizeof *map->buckets);
    map->n = 0;
}

static inline void
topo_hmap_destroy(struct topo_hmap *map)
{
    if (map) {
        free(map->buckets);
        map->buckets = NULL;
        map->n = 0;
    }
}

static inline void
topo_hmap_expand(struct topo_hmap *map)
{
    size_t new_mask = map->mask * 2 + 1;
    struct topo_hmap_node **b = xcalloc(new_mask + 1, sizeof *b);

    for (size_t i = 0; i <= map->mask; i++) {
        struct topo_hmap_node *node, *next;

        for (node = map->buckets[i]; node; node = next) {
            next = node->next;
            node->next = b[node->hash & new_mask];
            b[node->hash & new_mask] = node;
        }
    }
    free(map->buckets);
    map->buckets = b;
    map->mask = new_mask;
}

static inline void
topo_hmap_insert(struct topo_hmap *map, struct topo_hmap_node *node,
                 uint32_t hash)
{
    node->hash = hash;
    node->next = map->buckets[hash & map->mask];
    map->buckets[hash & map->mask] = node;
    if (++map->n > 2 * (map->mask + 1)) {
        topo_hmap_expand(map);
    }
}

static inline void
topo_hmap_remove(struct topo_hmap *map, struct topo_hmap_node *node)
{
    struct topo_hmap_node **p = &map->buckets[node->hash & map->mask];

    while (*p != node) {
        ASSERT(*p);
        p = &(*p)->next;
    }
    *p = node->next;
    map->n--;
}

static inline struct topo_hmap_node *
topo_hmap_first_with_hash(const struct topo_hmap *map, uint32_t hash)
{
    struct topo_hmap_node *node = map->buckets[hash & map->mask];

    while (node && node->hash != hash) {
        node = node->next;
    }
    return node;
}

static inline struct topo_hmap_node *
topo_hmap_next_with_hash(const struct topo_hmap_node *node)
{
    uint32_t hash = node->hash;

    for (node = node->next; node && node->hash != hash; node = node->next) {
        continue;
    }
    return (struct topo_hmap_node *) node;
}

/* Iteration over every node: 'i' is the bucket cursor. */
static inline struct topo_hmap_node *
topo_hmap_next(const struct topo_hmap *map, size_t *i,
               const struct topo_hmap_node *node)
{
    if (node && node->next) {
        return node->next;
    }
    for (*i = node ? *i + 1 : 0; *i <= map->mask; (*i)++) {
        if (map->buckets[*i]) {
            return map->buckets[*i];
        }
    }
    return NULL;
}

/* Count of a network's member ports bound to one host. */
struct topo_host_count {
    char *host;
    uint64_t tag;                       /* host:<host> */
    unsigned n;
};

struct topo_net {
    struct topo_hmap_node id_node;      /* In nets_by_id. */
    struct topo_hmap_node vni_node;     /* In nets_by_vni if indexed. */
    char *id;
    char *name;                         /* "" if none. */
    bool present;                       /* A network object exists. */
    bool admin_up;
    bool has_vni;
    bool vni_indexed;
    uint32_t vni;
    uint64_t vni_tag;                   /* vni:<vni>, if 'has_vni'. */
    uint32_t mtu;                       /* Tenant MTU (bytes of IP). */
    uint64_t tag;                       /* net:<id> */
    uint64_t members_tag;               /* netmembers:<id> */

    size_t n_ports;                     /* Member ports. */
    struct topo_port *local_members;    /* Bound to the local host. */
    struct topo_host_count *hosts;      /* Sorted by name; remote hosts. */
    size_t n_hosts, allocated_hosts;
    struct topo_subnet *subnets;        /* Via subnet->net_next. */
    size_t n_subnets;
};

#define TOPO_DEFAULT_MTU 1500

/* A subnet.  Only IPv4 subnets take part in routing and DHCP for now; an
 * IPv6 one is kept (so that it exists for ports that name it) with
 * 'ipv4' false. */
#define TOPO_MAX_DNS 4
#define TOPO_MAX_HOST_ROUTES 16

struct topo_prefix_route {
    be32 prefix;
    uint8_t plen;
    be32 nexthop;
};

/* What a subnet says, apart from its network: compared and copied whole
 * (all-zero padding, unused array entries zero). */
struct topo_subnet_cfg {
    bool ipv4;
    be32 prefix;                        /* Masked. */
    uint8_t plen;
    bool has_gateway;
    be32 gateway;
    bool enable_dhcp;
    be32 dns[TOPO_MAX_DNS];
    size_t n_dns;
    struct topo_prefix_route routes[TOPO_MAX_HOST_ROUTES];  /* host_routes */
    size_t n_routes;
};

struct topo_subnet {
    struct topo_hmap_node id_node;      /* In subnets_by_id. */
    char *id;
    char *network_id;
    struct topo_net *net;
    struct topo_subnet *net_next;       /* In net->subnets. */
    struct topo_subnet_cfg cfg;
    uint64_t tag;                       /* subnet:<id> */
};

/* An IPv4 or IPv6 prefix: 'addr' is masked to 'plen' bits, the rest of it
 * zero. */
struct topo_prefix {
    union flow_addr addr;
    uint8_t plen;
    bool ipv6;
};

/* A security group rule. */
struct topo_sg_rule {
    struct topo_hmap_node id_node;      /* In sg_rules_by_id. */
    char *id;
    struct topo_sg *sg;                 /* Its group (placeholder ok). */
    struct topo_sg_rule *next;          /* In sg->rules. */
    bool ingress;
    bool ipv6;                          /* Ethertype IPv6. */
    int proto;                          /* -1: any. */
    int pmin, pmax;                     /* -1: any.  ICMP: type, code. */
    bool has_prefix;                    /* remote_ip_prefix, other
                                         * than a /0. */
    struct topo_prefix prefix;
    struct topo_sg *remote_sg;          /* remote_group_id's group (kept
                                         * by its n_refs), NULL if none. */
};

/* A port's membership in a group. */
struct topo_sg_link {
    struct topo_sg *sg;
    struct topo_port *port;
    struct topo_sg_link *prev, *next;   /* In sg->members. */
};

/* A security group: exists while present, referenced by a port or a
 * rule. */
struct topo_sg {
    struct topo_hmap_node id_node;      /* In sgs_by_id. */
    char *id;
    bool present;
    struct topo_sg_rule *rules;
    size_t n_rules, n_refs;
    struct topo_sg_link *members;
    uint64_t tag;                       /* sg:<id> (its rules) */
    uint64_t members_tag;               /* sgmembers:<id> */
};

/* One entry of a router's routing table. */
enum topo_route_type {
    TOPO_ROUTE_LOCAL,                   /* One of the router's addresses. */
    TOPO_ROUTE_CONNECTED,               /* A subnet an interface is on. */
    TOPO_ROUTE_STATIC,                  /* From the router's 'routes'. */
};

struct topo_route {
    enum topo_route_type type;
    be32 prefix;
    uint8_t plen;
    be32 nexthop;                       /* STATIC: the next hop. */
    be32 ifaddr;                        /* The interface's address on that
                                         * subnet (ICMP errors come from
                                         * the ingress one). */
    const struct topo_port *port;       /* The interface to leave through;
                                         * NULL for a STATIC route whose
                                         * next hop is on no interface's
                                         * subnet. */
};

/* A distributed router: exists while a router object with that id exists
 * ('present') or while an interface port names it. */
struct topo_router {
    struct topo_hmap_node id_node;      /* In routers_by_id. */
    char *id;
    char *name;                         /* "" if none. */
    bool present;
    bool admin_up;
    struct topo_prefix_route *routes;   /* Static routes as configured. */
    size_t n_routes;
    struct topo_port *ports;            /* Interfaces, via rtr_next. */
    size_t n_ports;
    uint64_t tag;                       /* router:<id> */

    /* The routing table, rebuilt from the above whenever any of it (or a
     * subnet an interface is on) changes.  'lpm' maps prefixes to
     * entries of 'table'. */
    struct lpm *lpm;
    struct topo_route *table;
    size_t n_table;
};

struct topo_ip {
    struct topo_hmap_node node;         /* In ips. */
    struct topo_port *port;
    be32 ip;
    char *subnet_id;                    /* From fixed_ips; NULL if none. */
};

/* One of a port's allowed_address_pairs. */
struct topo_addr_pair {
    struct eth_addr mac;
    struct topo_prefix prefix;
};

struct topo_port {
    struct topo_hmap_node id_node;      /* In ports_by_id. */
    struct topo_hmap_node mac_node;     /* In macs. */
    char *id;
    char *name;                         /* "" if none. */
    char *network_id;
    char *host;                         /* "" if unbound. */
    char *ifname;
    struct eth_addr mac;
    bool admin_up;
    bool local;                         /* host == the local host. */
    uint64_t tag;                       /* port:<id> */
    uint64_t host_tag;                  /* host:<host>, 0 if unbound. */

    struct topo_ip *ips;                /* IPv4 fixed IPs. */
    size_t n_ips;
    union flow_addr *ip6s;              /* IPv6 fixed IPs. */
    size_t n_ip6s;

    struct topo_net *net;
    struct topo_port *local_prev, *local_next;  /* In net->local_members. */
    struct topo_port *all_prev, *all_next;      /* In topo->local_ports. */
    struct topo_binding *binding;       /* Local attachment, or NULL. */

    /* Port security: when on, the port may only send from its MAC and
     * fixed IPs, or from an allowed address pair. */
    bool port_security;
    struct topo_addr_pair *pairs;
    size_t n_pairs;
    char **sg_ids;                      /* security_groups. */
    struct topo_sg_link *sg_links;      /* Parallel to sg_ids. */
    size_t n_sgs;

    char *device_owner;                 /* "" if none. */
    char *device_id;                    /* "" if none. */
    struct topo_router *router;         /* If a router interface. */
    struct topo_port *rtr_prev, *rtr_next;      /* In router->ports. */
};

struct topo_agent {
    struct topo_hmap_node id_node;      /* In agents_by_id. */
    struct topo_hmap_node host_node;    /* In hosts. */
    char *id;
    char *host;
    bool has_tunnel_ip;
    be32 tunnel_ip;
};

struct topo_binding {
    struct topo_hmap_node id_node;      /* In binds_by_id. */
    struct topo_hmap_node no_node;      /* In binds_by_no. */
    char *port_id;
    uint32_t port_no;
    uint64_t inport_tag;                /* inport:<port_no> */
    struct topo_port *port;             /* NULL while the port is unknown. */
};

struct topology {
    char *local_host;
    struct topo_hmap nets_by_id;
    struct topo_hmap nets_by_vni;
    struct topo_hmap ports_by_id;
    struct topo_hmap macs;
    struct topo_hmap ips;
    struct topo_hmap agents_by_id;
    struct topo_hmap hosts;
    struct topo_hmap binds_by_id;
    struct topo_hmap binds_by_no;
    struct topo_hmap subnets_by_id;
    struct topo_hmap routers_by_id;
    struct topo_hmap sgs_by_id;
    struct topo_hmap sg_rules_by_id;
    struct topo_port *local_ports;      /* Via port->all_next. */
    size_t n_present_nets;
    size_t n_present_routers;
};

/* The MAC address the agent's DHCP server and its ARP answers for the DHCP
 * server address use. */
extern const struct eth_addr topo_dhcp_mac;

/* Hashes used by the indexes. */
static inline uint32_t
topo_hash_mac(const struct topo_net *net, const struct eth_addr *mac)
{
    uint64_t m = 0;

    memcpy(&m, mac->ea, ETH_ADDR_LEN);
    return hash_finish(hash_add64(hash_add64(0, (uintptr_t) net), m), 14);
}

static inline uint32_t
topo_hash_ip(const struct topo_net *net, be32 ip)
{
    return hash_finish(hash_add32(hash_add64(0, (uintptr_t) net), ip), 12);
}

static inline uint32_t
topo_hash_u32(uint32_t x)
{
    return hash_finish(hash_add32(0, x), 4);
}

/* Lookups used by the simulation.  Each returns NULL if not found. */
const struct topo_binding *topo_find_binding_by_no(const struct topology *,
                                                   uint32_t port_no);
const struct topo_net *topo_find_net_by_vni(const struct topology *,
                                            uint32_t vni);
const struct topo_port *topo_find_port_by_mac(const struct topology *,
                                              const struct topo_net *,
                                              const struct eth_addr *);
const struct topo_port *topo_find_port_by_ip(const struct topology *,
                                             const struct topo_net *,
                                             be32 ip,
                                             const struct topo_port *skip);
const struct topo_agent *topo_find_host(const struct topology *,
                                        const char *host);

/* Subnets and routers (topology-l3.c), for topology.c. */
int topo_update_subnet(struct topology *, const char *id,
                       const struct json_t *, struct tag_set *changed);
int topo_update_router(struct topology *, const char *id,
                       const struct json_t *, struct tag_set *changed);
void topo_l3_clear(struct topology *);
/* A port enters or leaves its router's interface set (port_insert() and
 * port_remove() call these). */
void topo_router_port_attach(struct topology *, struct topo_port *,
                             struct tag_set *changed);
void topo_router_port_detach(struct topology *, struct topo_port *,
                             struct tag_set *changed);

/* Security groups (topology-sg.c). */
int topo_update_sg(struct topology *, const char *id, const struct json_t *,
                   struct tag_set *changed);
int topo_update_sg_rule(struct topology *, const char *id,
                        const struct json_t *, struct tag_set *changed);
void topo_sg_clear(struct topology *);
void topo_sg_port_attach(struct topology *, struct topo_port *,
                         struct tag_set *changed);
void topo_sg_port_detach(struct topology *, struct topo_port *,
                         struct tag_set *changed);

/* Parses an IPv4 or IPv6 prefix "ADDR/PLEN", or with 'bare_ok' also a bare
 * address (a /32 or /128), into '*p' with the host bits cleared.  Returns
 * false on any syntax error or out-of-range length. */
bool topo_prefix_parse(const char *s, bool bare_ok, struct topo_prefix *p);

/* True if 'a' (IPv6 if 'ipv6') lies in 'p' (of the same family). */
static inline bool
topo_prefix_contains(const struct topo_prefix *p, const union flow_addr *a,
                     bool ipv6)
{
    return p->ipv6 == ipv6 && flow_addr_in_prefix(a, &p->addr, p->plen,
                                                   ipv6);
}

/* Shared with topology-l3.c. */
struct topo_net *topo_net_get(struct topology *, const char *id);
void topo_net_maybe_free(struct topology *, struct topo_net *);
bool topo_json_string(const struct json_t *obj, const char *name,
                      const char *dflt, char **out);
bool topo_json_bool(const struct json_t *obj, const char *name, bool dflt,
                    bool *out);

/* Lookups for the simulation and for DHCP. */
const struct topo_subnet *topo_find_subnet(const struct topology *,
                                           const char *id);
const struct topo_router *topo_find_router(const struct topology *,
                                           const char *id);
/* The route of 'router' for 'dst'; NULL if none.  '*bitsp' receives how
 * many leading bits of 'dst' the answer depended on. */
const struct topo_route *topo_route_lookup(const struct topo_router *,
                                           be32 dst, unsigned *bitsp);
/* The subnet whose DHCP the agent serves for fixed IP 'tip': a known IPv4
 * subnet with enable_dhcp, of the port's network, containing the address;
 * NULL otherwise.  The one definition for the simulation (which sends
 * the port's DHCP to the agent) and topology_dhcp_lookup() (which then
 * answers it). */
const struct topo_subnet *topo_ip_dhcp_subnet(const struct topology *,
                                              const struct topo_ip *);
/* The DHCP server address of 'subnet': its gateway, or else its first
 * host address. */
be32 topo_subnet_dhcp_server(const struct topo_subnet *);

/* Tags for facts that have no object id of their own: "no network has VNI
 * N", "datapath port N is bound to nothing", and "some agent's tunnel IP"
 * (emitted with every host:<name>; a flood to more hosts than a flow has
 * room for tags depends on it instead of on each host). */
uint64_t topo_tag_vni(uint32_t vni);
uint64_t topo_tag_inport(uint32_t port_no);
uint64_t topo_tag_any_host(void);

#endif /* WEFT_TOPOLOGY_PRIVATE_H */
