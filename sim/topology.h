/*
 * topology.h -- the agent's in-memory copy of the virtual topology.
 *
 * Filled from the controller's change stream: every event is a store key
 * ("networks/<id>", "subnets/<id>", "ports/<id>", "agents/<id>") and the
 * object's Neutron JSON (or NULL when deleted).  Objects that reference
 * each other by id may arrive in any order (a port before its network);
 * lookups simply fail until the referenced object arrives.
 *
 * Also records the local binding of ports: which datapath port number the
 * interface of a logical port has on this host (set by the agent when the
 * interface appears).
 *
 * Every mutation appends to a tag_set the tags of the objects whose change
 * may alter a cached flow, so the agent can invalidate exactly those flows:
 *   port:<id>          the port itself (MAC, IPs, binding, admin state)
 *   netmembers:<netid> the set of ports on a network (any add/remove/move)
 *   net:<id>           the network (VNI, admin state)
 *   host:<name>        an agent's tunnel IP
 *
 * Single-threaded: owned by the agent's datapath thread.
 */
#ifndef WEFT_TOPOLOGY_H
#define WEFT_TOPOLOGY_H 1

#include "datapath/flow-tags.h"
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

/* Tag constructors shared by the topology and the simulation. */
uint64_t topo_tag_port(const char *port_id);
uint64_t topo_tag_net(const char *net_id);
uint64_t topo_tag_netmembers(const char *net_id);
uint64_t topo_tag_host(const char *host);

#endif /* WEFT_TOPOLOGY_H */
