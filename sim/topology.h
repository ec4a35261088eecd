/*
 * topology.h -- the agent's in-memory copy of the virtual topology.
 *
 * Filled from the controller's change stream: every event is a store key
 * ("networks/<id>", "subnets/<id>", "ports/<id>", "routers/<id>",
 * "agents/<id>") and the object's Neutron JSON (or NULL when deleted).
 * Objects that reference each other by id may arrive in any order (a port
 * before its network); lookups simply fail until the referenced object
 * arrives.
 *
 * Also records the local binding of ports: which datapath port number the
 * interface of a logical port has on this host (set by the agent when the
 * interface appears).
 *
 * Every mutation appends to a tag_set the tags of the objects whose change
 * may alter a cached flow, so the agent can invalidate exactly those flows:
 *   port:<id>          the port itself (MAC, IPs, binding, admin state)
 *   netmembers:<netid> the set of ports on a network (any add/remove/move)
 *   net:<id>           the network (VNI, MTU, admin state)
 *   host:<name>        an agent's tunnel IP
 *   router:<id>        a router: admin state, static routes, its set of
 *                      interfaces and their addresses, the subnets they
 *                      are on -- anything its routing table is made of
 *   sg:<id>            a security group's rules (and existence)
 *   sgmembers:<id>     the addresses of a security group's member ports
 *   subnet:<id>        a subnet (also emits net:<network> of its network,
 *                      whose ARP answers for the DHCP server depend on it)
 *
 * Single-threaded: owned by the agent's datapath thread.
 */
#ifndef WEFT_TOPOLOGY_H
#define WEFT_TOPOLOGY_H 1

#include "datapath/flow-tags.h"
#include "lib/dhcp.h"
#include "lib/packet.h"
#include "lib/util.h"

struct json_t;
struct topology;

/* One port as the agent needs it (a view into the topology; valid until
 * the next mutation). */
struct topo_port_info {
    const char *id;
    const char *network_id;
    const char *host;           /* binding:host_id, "" if unbound. */
    const char *ifname;         /* From the binding convention. */
    struct eth_addr mac;
    bool admin_up;
};

struct topology *topology_create(const char *local_host);
void topology_destroy(struct topology *);       /* Accepts NULL. */

/* Forgets every object (before a snapshot reload); sets changed->all.
 * Local bindings are kept. */
void topology_clear(struct topology *, struct tag_set *changed);

/* Applies one change-stream event.  'value' is the object as parsed JSON
 * (jansson), or NULL for a deletion; the topology keeps no reference to
 * it.  Keys with unknown prefixes are ignored.  Returns 0, or EINVAL if
 * 'value' is not an object of the expected shape (the old object is
 * kept). */
int topology_update_json(struct topology *, const char *key,
                         const struct json_t *value,
                         struct tag_set *changed);

/* The same with the object as JSON text ('json', NULL for a deletion);
 * EINVAL also if the text does not parse.  For callers that hold text
 * (tests, tools); the agent hands over what its sync thread parsed. */
int topology_update(struct topology *, const char *key, const char *json,
                    struct tag_set *changed);

/* Records that logical port 'port_id' is attached on datapath port
 * 'port_no' (bind) or no longer attached (unbind). */
void topology_bind(struct topology *, const char *port_id, uint32_t port_no,
                   struct tag_set *changed);
void topology_unbind(struct topology *, const char *port_id,
                     struct tag_set *changed);

/* Calls 'cb' for each port whose binding:host_id is this host (in time
 * proportional to their number).  'cb' must not change the topology. */
void topology_for_each_local_port(const struct topology *,
                                  void (*cb)(const struct topo_port_info *,
                                             void *aux),
                                  void *aux);

/* Looks up a port by id; returns false if unknown. */
bool topology_get_port(const struct topology *, const char *port_id,
                       struct topo_port_info *out);

/* Counts, for status displays. */
size_t topology_n_networks(const struct topology *);
size_t topology_n_ports(const struct topology *);
size_t topology_n_hosts(const struct topology *);

/* What the agent's DHCP server needs to answer the VM on a local port
 * (a view of the topology, valid until the next mutation). */
struct topo_dhcp {
    struct eth_addr mac;        /* The port's MAC. */
    be32 ip;                    /* Its fixed IPv4 address... */
    uint8_t plen;               /* ...on a subnet of this prefix length. */
    be32 router;                /* The subnet's gateway_ip, 0 if none. */
    be32 server_ip;             /* Server identifier (see sim.h). */
    struct eth_addr server_mac;
    be32 dns[4];
    size_t n_dns;
    struct dhcp4_route routes[16];  /* The subnet's host_routes. */
    size_t n_routes;
    uint32_t mtu;               /* The network's MTU. */
    const char *port_name;      /* "" if none. */
    const char *port_id;
};

/* Fills 'out' for the logical port attached on datapath port 'port_no',
 * from its first IPv4 fixed IP on a subnet with enable_dhcp.  Returns 0,
 * ENODEV if no known port is attached there, ENOENT if the port has no
 * such address (DHCP is off for it). */
int topology_dhcp_lookup(const struct topology *, uint32_t port_no,
                         struct topo_dhcp *out);

/* One route of a router's table as the agent computed it, for
 * `weftctl router-routes`. */
struct topo_route_info {
    const char *type;           /* "local", "connected" or "static". */
    be32 prefix;
    uint8_t plen;
    be32 nexthop;               /* 0 if directly connected. */
    be32 ifaddr;                /* The router's address on the way out. */
    const char *port_id;        /* Interface port; NULL if unresolved. */
    const char *network_id;     /* Its network; NULL if unresolved. */
};

/* Calls 'cb' for each route of router 'router_id', most specific last
 * among nested prefixes.  Returns 0, or ENOENT if no such router is
 * known. */
int topology_for_each_route(const struct topology *, const char *router_id,
                            void (*cb)(const struct topo_route_info *,
                                       void *aux),
                            void *aux);

/* Calls 'cb' with the id and name of every known router. */
void topology_for_each_router(const struct topology *,
                              void (*cb)(const char *id, const char *name,
                                         bool admin_up, size_t n_ports,
                                         void *aux),
                              void *aux);

size_t topology_n_routers(const struct topology *);
size_t topology_n_subnets(const struct topology *);

/* Tag constructors shared by the topology and the simulation. */
uint64_t topo_tag_port(const char *port_id);
uint64_t topo_tag_net(const char *net_id);
uint64_t topo_tag_netmembers(const char *net_id);
uint64_t topo_tag_host(const char *host);
uint64_t topo_tag_router(const char *router_id);
uint64_t topo_tag_subnet(const char *subnet_id);
uint64_t topo_tag_sg(const char *sg_id);
uint64_t topo_tag_sgmembers(const char *sg_id);

#endif /* WEFT_TOPOLOGY_H */
