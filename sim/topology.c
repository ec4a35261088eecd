/*
 * topology.c -- the agent's in-memory copy of the virtual topology (see
 * topology.h for the contract and topology-private.h for the indexes).
 *
 * Every update is applied in three steps: read the object's JSON into a
 * small "spec" (failing with EINVAL before anything is touched), compare
 * the spec with the object we already have to decide which tags changed,
 * then replace the object.  The comparison is what keeps invalidation
 * precise: a port whose 'status' alone changed emits nothing, because no
 * cached flow ever read its status.
 */
#include "sim/topology-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

/* A parsed network. */
struct net_spec {
    char *name;
    bool admin_up;
    uint32_t mtu;
    bool has_vni;
    uint32_t vni;
};

/* A parsed port. */
struct port_spec {
    char *name;
    char *network_id;
    char *host;
    char *ifname;
    char *device_owner;
    char *device_id;
    struct eth_addr mac;
    bool admin_up;
    bool port_security;
    struct topo_addr_pair *pairs;
    size_t n_pairs;
    char **sg_ids;
    size_t n_sgs;
    be32 *ips;
    char **ip_subnets;          /* Parallel to 'ips'; entries may be NULL. */
    size_t n_ips;
    union flow_addr *ip6s;
    size_t n_ip6s;
};

/* A parsed agent. */
struct agent_spec {
    char *host;
    bool has_tunnel_ip;
    be32 tunnel_ip;
};

static struct topo_net *net_find(const struct topology *, const char *id);
static void net_index_vni(struct topology *, struct topo_net *);
static void net_unindex_vni(struct topology *, struct topo_net *);
static struct topo_port *port_find(const struct topology *, const char *id);
static void port_insert(struct topology *, const char *id,
                        struct port_spec *, struct tag_set *changed);
static void port_remove(struct topology *, struct topo_port *,
                        struct tag_set *changed);
static struct topo_agent *agent_find(const struct topology *,
                                     const char *id);
static void agent_remove(struct topology *, struct topo_agent *);
static struct topo_binding *binding_find_by_id(const struct topology *,
                                               const char *port_id);
static void binding_remove(struct topology *, struct topo_binding *,
                           struct tag_set *changed);
static int update_network(struct topology *, const char *id,
                          const json_t *, struct tag_set *changed);
static int update_port(struct topology *, const char *id, const json_t *,
                       struct tag_set *changed);
static int update_agent(struct topology *, const char *id, const json_t *,
                        struct tag_set *changed);
static void port_info_fill(const struct topo_port *,
                           struct topo_port_info *);

struct topology *
topology_create(const char *local_host)
{
    struct topology *topo = xzalloc(sizeof *topo);

    topo->local_host = xstrdup(local_host ? local_host : "");
    topo_hmap_init(&topo->nets_by_id);
    topo_hmap_init(&topo->nets_by_vni);
    topo_hmap_init(&topo->ports_by_id);
    topo_hmap_init(&topo->macs);
    topo_hmap_init(&topo->ips);
    topo_hmap_init(&topo->agents_by_id);
    topo_hmap_init(&topo->hosts);
    topo_hmap_init(&topo->binds_by_id);
    topo_hmap_init(&topo->binds_by_no);
    topo_hmap_init(&topo->subnets_by_id);
    topo_hmap_init(&topo->routers_by_id);
    topo_hmap_init(&topo->sgs_by_id);
    topo_hmap_init(&topo->sg_rules_by_id);
    return topo;
}

void
topology_destroy(struct topology *topo)
{
    struct tag_set scratch;

    if (!topo) {
        return;
    }
    tag_set_init(&scratch);
    topology_clear(topo, &scratch);
    for (;;) {
        size_t i = 0;
        struct topo_hmap_node *node = topo_hmap_next(&topo->binds_by_id,
                                                     &i, NULL);
        if (!node) {
            break;
        }
        binding_remove(topo, CONTAINER_OF(node, struct topo_binding,
                                          id_node), &scratch);
    }
    tag_set_destroy(&scratch);

    topo_hmap_destroy(&topo->nets_by_id);
    topo_hmap_destroy(&topo->nets_by_vni);
    topo_hmap_destroy(&topo->ports_by_id);
    topo_hmap_destroy(&topo->macs);
    topo_hmap_destroy(&topo->ips);
    topo_hmap_destroy(&topo->agents_by_id);
    topo_hmap_destroy(&topo->hosts);
    topo_hmap_destroy(&topo->binds_by_id);
    topo_hmap_destroy(&topo->binds_by_no);
    topo_hmap_destroy(&topo->subnets_by_id);
    topo_hmap_destroy(&topo->routers_by_id);
    topo_hmap_destroy(&topo->sgs_by_id);
    topo_hmap_destroy(&topo->sg_rules_by_id);
    free(topo->local_host);
    free(topo);
}

void
topology_clear(struct topology *topo, struct tag_set *changed)
{
    struct topo_hmap_node *node;
    size_t i;

    while ((i = 0, node = topo_hmap_next(&topo->ports_by_id, &i, NULL))) {
        port_remove(topo, CONTAINER_OF(node, struct topo_port, id_node),
                    changed);
    }
    topo_l3_clear(topo);
    topo_sg_clear(topo);
    while ((i = 0, node = topo_hmap_next(&topo->agents_by_id, &i, NULL))) {
        agent_remove(topo, CONTAINER_OF(node, struct topo_agent, id_node));
    }
    while ((i = 0, node = topo_hmap_next(&topo->nets_by_id, &i, NULL))) {
        struct topo_net *net = CONTAINER_OF(node, struct topo_net, id_node);

        net_unindex_vni(topo, net);
        if (net->present) {
            topo->n_present_nets--;
        }
        net->present = false;
        topo_net_maybe_free(topo, net);
    }
    ASSERT(topo->macs.n == 0 && topo->ips.n == 0 && topo->hosts.n == 0);
    ASSERT(!topo->local_ports);
    ASSERT(topo->n_present_nets == 0 && topo->nets_by_vni.n == 0);
    changed->all = true;
}

/* What a change-stream key names. */
enum topo_kind {
    TOPO_IGNORED,               /* Unknown prefix. */
    TOPO_BAD_KEY,               /* NULL, or a known prefix with no id. */
    TOPO_NETWORK,
    TOPO_PORT,
    TOPO_AGENT,
    TOPO_SUBNET,
    TOPO_ROUTER,
    TOPO_SG,
    TOPO_SG_RULE,
};

static enum topo_kind
topo_key_parse(const char *key, const char **idp)
{
    static const struct {
        const char *prefix;
        enum topo_kind kind;
    } kinds[] = {
        { "networks/", TOPO_NETWORK }, { "ports/", TOPO_PORT },
        { "agents/", TOPO_AGENT }, { "subnets/", TOPO_SUBNET },
        { "routers/", TOPO_ROUTER },
        { "security-groups/", TOPO_SG },
        { "security-group-rules/", TOPO_SG_RULE },
    };

    if (!key) {
        return TOPO_BAD_KEY;
    }
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        size_t len = strlen(kinds[i].prefix);

        if (!strncmp(key, kinds[i].prefix, len)) {
            *idp = key + len;
            return **idp ? kinds[i].kind : TOPO_BAD_KEY;
        }
    }
    return TOPO_IGNORED;
}

static int
topo_update_kind(struct topology *topo, enum topo_kind kind, const char *id,
                 const json_t *value, struct tag_set *changed)
{
    if (value && !json_is_object(value)) {
        return EINVAL;
    }
    switch (kind) {
    case TOPO_NETWORK:
        return update_network(topo, id, value, changed);
    case TOPO_PORT:
        return update_port(topo, id, value, changed);
    case TOPO_AGENT:
        return update_agent(topo, id, value, changed);
    case TOPO_SUBNET:
        return topo_update_subnet(topo, id, value, changed);
    case TOPO_ROUTER:
        return topo_update_router(topo, id, value, changed);
    case TOPO_SG:
        return topo_update_sg(topo, id, value, changed);
    case TOPO_SG_RULE:
        return topo_update_sg_rule(topo, id, value, changed);
    case TOPO_IGNORED:
        return 0;
    case TOPO_BAD_KEY:
    default:
        return EINVAL;
    }
}

int
topology_update_json(struct topology *topo, const char *key,
                     const json_t *value, struct tag_set *changed)
{
    const char *id = NULL;
    enum topo_kind kind = topo_key_parse(key, &id);

    return kind == TOPO_IGNORED ? 0
           : topo_update_kind(topo, kind, id, value, changed);
}

int
topology_update(struct topology *topo, const char *key, const char *json,
                struct tag_set *changed)
{
    const char *id = NULL;
    enum topo_kind kind = topo_key_parse(key, &id);
    json_t *value = NULL;
    int error;

    if (kind == TOPO_IGNORED) {
        return 0;               /* Whatever its value. */
    }
    if (json) {
        value = json_loads(json, JSON_DECODE_ANY, NULL);
        if (!value) {
            return EINVAL;
        }
    }
    error = topo_update_kind(topo, kind, id, value, changed);
    json_decref(value);
    return error;
}

void
topology_bind(struct topology *topo, const char *port_id, uint32_t port_no,
              struct tag_set *changed)
{
    struct topo_binding *b = binding_find_by_id(topo, port_id);
    const struct topo_binding *other;

    if (b && b->port_no == port_no) {
        return;
    }
    other = topo_find_binding_by_no(topo, port_no);
    if (other) {
        binding_remove(topo, (struct topo_binding *) other, changed);
    }
    if (b) {
        tag_set_add(changed, topo_tag_inport(b->port_no));
        topo_hmap_remove(&topo->binds_by_no, &b->no_node);
    } else {
        struct topo_port *port = port_find(topo, port_id);

        b = xzalloc(sizeof *b);
        b->port_id = xstrdup(port_id);
        b->port = port;
        if (port) {
            port->binding = b;
        }
        topo_hmap_insert(&topo->binds_by_id, &b->id_node,
                         hash_string(port_id, 0));
    }
    b->port_no = port_no;
    b->inport_tag = topo_tag_inport(port_no);
    topo_hmap_insert(&topo->binds_by_no, &b->no_node, topo_hash_u32(port_no));

    tag_set_add(changed, topo_tag_inport(port_no));
    tag_set_add(changed, topo_tag_port(port_id));
    if (b->port) {
        tag_set_add(changed, b->port->net->members_tag);
    }
}

void
topology_unbind(struct topology *topo, const char *port_id,
                struct tag_set *changed)
{
    struct topo_binding *b = binding_find_by_id(topo, port_id);

    if (b) {
        binding_remove(topo, b, changed);
    }
}

void
topology_for_each_local_port(const struct topology *topo,
                             void (*cb)(const struct topo_port_info *,
                                        void *aux),
                             void *aux)
{
    for (const struct topo_port *port = topo->local_ports; port;
         port = port->all_next) {
        struct topo_port_info info;

        port_info_fill(port, &info);
        cb(&info, aux);
    }
}

bool
topology_get_port(const struct topology *topo, const char *port_id,
                  struct topo_port_info *out)
{
    const struct topo_port *port = port_find(topo, port_id);

    if (!port) {
        return false;
    }
    port_info_fill(port, out);
    return true;
}

size_t
topology_n_networks(const struct topology *topo)
{
    return topo->n_present_nets;
}

size_t
topology_n_ports(const struct topology *topo)
{
    return topo->ports_by_id.n;
}

size_t
topology_n_hosts(const struct topology *topo)
{
    return topo->agents_by_id.n;
}

uint64_t
topo_tag_port(const char *port_id)
{
    return flow_tag_make("port", port_id);
}

uint64_t
topo_tag_net(const char *net_id)
{
    return flow_tag_make("net", net_id);
}

uint64_t
topo_tag_netmembers(const char *net_id)
{
    return flow_tag_make("netmembers", net_id);
}

uint64_t
topo_tag_host(const char *host)
{
    return flow_tag_make("host", host);
}

/* Writes 'x' in decimal into 'buf' (at least 11 bytes); returns 'buf'.
 * (Also computed per simulation for an unbound port or an unknown VNI:
 * no printf here.) */
static const char *
u32_to_string(uint32_t x, char *buf)
{
    char tmp[10];
    size_t n = 0, i;

    do {
        tmp[n++] = (char) ('0' + x % 10);
        x /= 10;
    } while (x);
    for (i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }
    buf[n] = '\0';
    return buf;
}

uint64_t
topo_tag_vni(uint32_t vni)
{
    char buf[11];

    return flow_tag_make("vni", u32_to_string(vni, buf));
}

uint64_t
topo_tag_inport(uint32_t port_no)
{
    char buf[11];

    return flow_tag_make("inport", u32_to_string(port_no, buf));
}

uint64_t
topo_tag_any_host(void)
{
    return flow_tag_make("host", "*");
}

/* Lookups for the simulation. */

const struct topo_binding *
topo_find_binding_by_no(const struct topology *topo, uint32_t port_no)
{
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->binds_by_no,
                                          topo_hash_u32(port_no));
         node; node = topo_hmap_next_with_hash(node)) {
        const struct topo_binding *b = CONTAINER_OF(node, struct topo_binding,
                                                    no_node);
        if (b->port_no == port_no) {
            return b;
        }
    }
    return NULL;
}

/* Networks should have distinct VNIs; if two claim one, the one with the
 * smaller id wins so that the answer does not depend on arrival order. */
const struct topo_net *
topo_find_net_by_vni(const struct topology *topo, uint32_t vni)
{
    const struct topo_net *best = NULL;
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->nets_by_vni,
                                          topo_hash_u32(vni));
         node; node = topo_hmap_next_with_hash(node)) {
        const struct topo_net *net = CONTAINER_OF(node, struct topo_net,
                                                  vni_node);
        if (net->vni == vni && (!best || strcmp(net->id, best->id) < 0)) {
            best = net;
        }
    }
    return best;
}

/* MACs should be unique per network; duplicates resolve to the smallest
 * port id. */
const struct topo_port *
topo_find_port_by_mac(const struct topology *topo, const struct topo_net *net,
                      const struct eth_addr *mac)
{
    const struct topo_port *best = NULL;
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->macs,
                                          topo_hash_mac(net, mac));
         node; node = topo_hmap_next_with_hash(node)) {
        const struct topo_port *port = CONTAINER_OF(node, struct topo_port,
                                                    mac_node);
        if (port->net == net
            && !memcmp(port->mac.ea, mac->ea, ETH_ADDR_LEN)
            && (!best || strcmp(port->id, best->id) < 0)) {
            best = port;
        }
    }
    return best;
}

const struct topo_port *
topo_find_port_by_ip(const struct topology *topo, const struct topo_net *net,
                     be32 ip, const struct topo_port *skip)
{
    const struct topo_port *best = NULL;
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->ips, topo_hash_ip(net, ip));
         node; node = topo_hmap_next_with_hash(node)) {
        const struct topo_ip *tip = CONTAINER_OF(node, struct topo_ip, node);
        const struct topo_port *port = tip->port;

        if (tip->ip == ip && port->net == net && port != skip
            && (!best || strcmp(port->id, best->id) < 0)) {
            best = port;
        }
    }
    return best;
}

/* Two agents claiming one host: prefer one with a tunnel IP, then the
 * smaller agent id. */
const struct topo_agent *
topo_find_host(const struct topology *topo, const char *host)
{
    const struct topo_agent *best = NULL;
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->hosts, hash_string(host, 0));
         node; node = topo_hmap_next_with_hash(node)) {
        const struct topo_agent *a = CONTAINER_OF(node, struct topo_agent,
                                                  host_node);
        if (strcmp(a->host, host)) {
            continue;
        }
        if (!best
            || (a->has_tunnel_ip && !best->has_tunnel_ip)
            || (a->has_tunnel_ip == best->has_tunnel_ip
                && strcmp(a->id, best->id) < 0)) {
            best = a;
        }
    }
    return best;
}

/* JSON helpers.  Each returns false if the member exists with the wrong
 * type; a missing or null member yields the default.  'obj' is a JSON
 * object. */

bool
topo_json_string(const json_t *obj, const char *name, const char *dflt,
                char **out)
{
    const json_t *v = json_object_get(obj, name);

    if (!v || json_is_null(v)) {
        *out = xstrdup(dflt);
        return true;
    } else if (json_is_string(v)) {
        *out = xstrdup(json_string_value(v));
        return true;
    }
    *out = NULL;
    return false;
}

bool
topo_json_bool(const json_t *obj, const char *name, bool dflt, bool *out)
{
    const json_t *v = json_object_get(obj, name);

    if (!v || json_is_null(v)) {
        *out = dflt;
        return true;
    } else if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return true;
    }
    return false;
}

/* Networks. */

static void
net_spec_destroy(struct net_spec *spec)
{
    free(spec->name);
}

static int
net_spec_parse(const json_t *obj, struct net_spec *spec)
{
    const json_t *seg, *mtu;
    int error = EINVAL;

    memset(spec, 0, sizeof *spec);
    if (!topo_json_string(obj, "name", "", &spec->name)
        || !topo_json_bool(obj, "admin_state_up", true, &spec->admin_up)) {
        goto out;
    }
    mtu = json_object_get(obj, "mtu");
    if (mtu && json_is_integer(mtu)) {
        json_int_t v = json_integer_value(mtu);

        if (v < 68 || v > 65535) {
            goto out;
        }
        spec->mtu = (uint32_t) v;
    } else if (!mtu || json_is_null(mtu)) {
        spec->mtu = TOPO_DEFAULT_MTU;
    } else {
        goto out;
    }
    seg = json_object_get(obj, "provider:segmentation_id");
    if (seg && json_is_integer(seg)) {
        json_int_t v = json_integer_value(seg);

        if (v < 0 || v > 0xffffff) {
            goto out;
        }
        spec->has_vni = true;
        spec->vni = (uint32_t) v;
    } else if (seg && !json_is_null(seg)) {
        goto out;
    }
    error = 0;

out:
    if (error) {
        net_spec_destroy(spec);
        memset(spec, 0, sizeof *spec);
    }
    return error;
}

static int
update_network(struct topology *topo, const char *id, const json_t *json,
               struct tag_set *changed)
{
    struct topo_net *net;
    struct net_spec spec;
    int error;

    if (!json) {
        net = net_find(topo, id);
        if (net && net->present) {
            tag_set_add(changed, net->tag);
            if (net->has_vni) {
                tag_set_add(changed, topo_tag_vni(net->vni));
            }
            net_unindex_vni(topo, net);
            net->present = false;
            net->has_vni = false;
            topo->n_present_nets--;
            topo_net_maybe_free(topo, net);
        }
        return 0;
    }

    error = net_spec_parse(json, &spec);
    if (error) {
        return error;
    }
    net = topo_net_get(topo, id);
    if (!net->present || net->admin_up != spec.admin_up
        || net->mtu != spec.mtu || net->has_vni != spec.has_vni
        || (spec.has_vni && net->vni != spec.vni)) {
        tag_set_add(changed, net->tag);
    }
    if (net->present && net->has_vni
        && (!spec.has_vni || net->vni != spec.vni)) {
        tag_set_add(changed, topo_tag_vni(net->vni));
    }
    if (spec.has_vni
        && (!net->present || !net->has_vni || net->vni != spec.vni)) {
        tag_set_add(changed, topo_tag_vni(spec.vni));
    }

    net_unindex_vni(topo, net);
    if (!net->present) {
        topo->n_present_nets++;
    }
    net->present = true;
    net->admin_up = spec.admin_up;
    net->mtu = spec.mtu;
    net->has_vni = spec.has_vni;
    net->vni = spec.vni;
    net->vni_tag = spec.has_vni ? topo_tag_vni(spec.vni) : 0;
    free(net->name);
    net->name = spec.name;
    net_index_vni(topo, net);
    return 0;
}

static struct topo_net *
net_find(const struct topology *topo, const char *id)
{
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->nets_by_id,
                                          hash_string(id, 0));
         node; node = topo_hmap_next_with_hash(node)) {
        struct topo_net *net = CONTAINER_OF(node, struct topo_net, id_node);

        if (!strcmp(net->id, id)) {
            return net;
        }
    }
    return NULL;
}

/* Returns the network 'id', creating an absent placeholder if needed. */
struct topo_net *
topo_net_get(struct topology *topo, const char *id)
{
    struct topo_net *net = net_find(topo, id);

    if (!net) {
        net = xzalloc(sizeof *net);
        net->id = xstrdup(id);
        net->name = xstrdup("");
        net->admin_up = true;
        net->mtu = TOPO_DEFAULT_MTU;
        net->tag = topo_tag_net(id);
        net->members_tag = topo_tag_netmembers(id);
        topo_hmap_insert(&topo->nets_by_id, &net->id_node,
                         hash_string(id, 0));
    }
    return net;
}

void
topo_net_maybe_free(struct topology *topo, struct topo_net *net)
{
    if (net->present || net->n_ports || net->n_subnets) {
        return;
    }
    ASSERT(!net->local_members && !net->n_hosts);
    ASSERT(!net->vni_indexed);
    topo_hmap_remove(&topo->nets_by_id, &net->id_node);
    free(net->hosts);
    free(net->name);
    free(net->id);
    free(net);
}

static void
net_index_vni(struct topology *topo, struct topo_net *net)
{
    if (net->present && net->has_vni && !net->vni_indexed) {
        topo_hmap_insert(&topo->nets_by_vni, &net->vni_node,
                         topo_hash_u32(net->vni));
        net->vni_indexed = true;
    }
}

static void
net_unindex_vni(struct topology *topo, struct topo_net *net)
{
    if (net->vni_indexed) {
        topo_hmap_remove(&topo->nets_by_vni, &net->vni_node);
        net->vni_indexed = false;
    }
}

/* Finds 'host' in the sorted per-network host array; returns its index,
 * or the insertion point with '*found' false. */
static size_t
net_host_search(const struct topo_net *net, const char *host, bool *found)
{
    size_t lo = 0, hi = net->n_hosts;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(net->hosts[mid].host, host);

        if (!cmp) {
            *found = true;
            return mid;
        } else if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

static void
net_host_add(struct topo_net *net, const char *host)
{
    bool found;
    size_t i = net_host_search(net, host, &found);

    if (found) {
        net->hosts[i].n++;
        return;
    }
    if (net->n_hosts == net->allocated_hosts) {
        net->allocated_hosts = net->allocated_hosts
                               ? 2 * net->allocated_hosts : 4;
        net->hosts = xrealloc(net->hosts,
                              net->allocated_hosts * sizeof *net->hosts);
    }
    memmove(&net->hosts[i + 1], &net->hosts[i],
            (net->n_hosts - i) * sizeof *net->hosts);
    net->hosts[i].host = xstrdup(host);
    net->hosts[i].tag = topo_tag_host(host);
    net->hosts[i].n = 1;
    net->n_hosts++;
}

static void
net_host_del(struct topo_net *net, const char *host)
{
    bool found;
    size_t i = net_host_search(net, host, &found);

    ASSERT(found);
    if (--net->hosts[i].n == 0) {
        free(net->hosts[i].host);
        memmove(&net->hosts[i], &net->hosts[i + 1],
                (net->n_hosts - i - 1) * sizeof *net->hosts);
        net->n_hosts--;
    }
}

/* Ports. */

static void
port_spec_destroy(struct port_spec *spec)
{
    free(spec->name);
    free(spec->network_id);
    free(spec->host);
    free(spec->ifname);
    free(spec->device_owner);
    free(spec->device_id);
    if (spec->ip_subnets) {
        for (size_t i = 0; i < spec->n_ips; i++) {
            free(spec->ip_subnets[i]);
        }
    }
    free(spec->ip_subnets);
    free(spec->ips);
    free(spec->ip6s);
    free(spec->pairs);
    for (size_t i = 0; i < spec->n_sgs; i++) {
        free(spec->sg_ids[i]);
    }
    free(spec->sg_ids);
}

static int
port_parse_ips(const json_t *obj, struct port_spec *spec)
{
    const json_t *ips = json_object_get(obj, "fixed_ips");
    size_t i;

    if (!ips || json_is_null(ips)) {
        return 0;
    } else if (!json_is_array(ips)) {
        return EINVAL;
    }
    spec->ips = xcalloc(json_array_size(ips), sizeof *spec->ips);
    spec->ip_subnets = xcalloc(json_array_size(ips),
                               sizeof *spec->ip_subnets);
    spec->ip6s = xcalloc(json_array_size(ips), sizeof *spec->ip6s);
    for (i = 0; i < json_array_size(ips); i++) {
        const json_t *fip = json_array_get(ips, i);
        const json_t *addr, *sid;
        struct in6_addr in6;
        struct in_addr in;

        if (!json_is_object(fip)) {
            return EINVAL;
        }
        addr = json_object_get(fip, "ip_address");
        sid = json_object_get(fip, "subnet_id");
        if (sid && !json_is_null(sid) && !json_is_string(sid)) {
            return EINVAL;
        }
        if (!addr || json_is_null(addr)) {
            continue;
        } else if (!json_is_string(addr)) {
            return EINVAL;
        }
        if (inet_pton(AF_INET, json_string_value(addr), &in) == 1) {
            bool dup = false;

            for (size_t j = 0; j < spec->n_ips; j++) {
                dup = dup || spec->ips[j] == in.s_addr;
            }
            if (!dup) {
                spec->ip_subnets[spec->n_ips]
                    = (sid && json_is_string(sid)
                       ? xstrdup(json_string_value(sid)) : NULL);
                spec->ips[spec->n_ips++] = in.s_addr;
            }
        } else if (inet_pton(AF_INET6, json_string_value(addr), &in6) == 1) {
            bool dup = false;

            for (size_t j = 0; j < spec->n_ip6s; j++) {
                dup = dup || !memcmp(spec->ip6s[j].ip6, in6.s6_addr, 16);
            }
            if (!dup) {
                memcpy(spec->ip6s[spec->n_ip6s++].ip6, in6.s6_addr, 16);
            }
        } else {
            return EINVAL;
        }
    }
    return 0;
}

/* allowed_address_pairs: [{"ip_address": IP or CIDR, "mac_address":
 * optional}], IPv4 or IPv6. */
static int
port_parse_pairs(const json_t *obj, struct port_spec *spec)
{
    const json_t *pairs = json_object_get(obj, "allowed_address_pairs");
    size_t i;

    if (!pairs || json_is_null(pairs)) {
        return 0;
    } else if (!json_is_array(pairs)) {
        return EINVAL;
    }
    spec->pairs = xcalloc(json_array_size(pairs) + 1, sizeof *spec->pairs);
    for (i = 0; i < json_array_size(pairs); i++) {
        const json_t *e = json_array_get(pairs, i);
        const json_t *ip = json_object_get(e, "ip_address");
        const json_t *mac = json_object_get(e, "mac_address");
        struct topo_addr_pair *pair = &spec->pairs[spec->n_pairs];

        if (!json_is_object(e) || !json_is_string(ip)
            || !topo_prefix_parse(json_string_value(ip), true,
                                  &pair->prefix)) {
            return EINVAL;
        }
        if (mac && !json_is_null(mac)) {
            if (!json_is_string(mac)
                || !eth_addr_from_string(json_string_value(mac),
                                         &pair->mac)) {
                return EINVAL;
            }
        } else {
            pair->mac = spec->mac;
        }
        spec->n_pairs++;
    }
    return 0;
}

/* security_groups: a list of group ids (a missing key is none). */
static int
port_parse_sgs(const json_t *obj, struct port_spec *spec)
{
    const json_t *sgs = json_object_get(obj, "security_groups");
    size_t i;

    if (!sgs || json_is_null(sgs)) {
        return 0;
    } else if (!json_is_array(sgs)) {
        return EINVAL;
    }
    spec->sg_ids = xcalloc(json_array_size(sgs) + 1, sizeof *spec->sg_ids);
    for (i = 0; i < json_array_size(sgs); i++) {
        const json_t *e = json_array_get(sgs, i);

        if (!json_is_string(e)) {
            return EINVAL;
        }
        spec->sg_ids[spec->n_sgs++] = xstrdup(json_string_value(e));
    }
    return 0;
}

static bool
port_sgs_equal(const struct topo_port *port, const struct port_spec *spec)
{
    if (port->n_sgs != spec->n_sgs) {
        return false;
    }
    for (size_t i = 0; i < spec->n_sgs; i++) {
        if (strcmp(port->sg_ids[i], spec->sg_ids[i])) {
            return false;
        }
    }
    return true;
}

static int
port_spec_parse(const char *id, const json_t *obj, struct port_spec *spec)
{
    const json_t *profile;
    char *mac = NULL;
    int error = EINVAL;

    memset(spec, 0, sizeof *spec);
    if (!topo_json_string(obj, "name", "", &spec->name)
        || !topo_json_string(obj, "network_id", "", &spec->network_id)
        || !topo_json_string(obj, "binding:host_id", "", &spec->host)
        || !topo_json_string(obj, "mac_address", "", &mac)
        || !topo_json_bool(obj, "admin_state_up", true, &spec->admin_up)
        || !topo_json_string(obj, "device_owner", "", &spec->device_owner)
        || !topo_json_string(obj, "device_id", "", &spec->device_id)
        || !topo_json_bool(obj, "port_security_enabled", true,
                           &spec->port_security)
        || !spec->network_id[0]
        || !eth_addr_from_string(mac, &spec->mac)
        || port_parse_ips(obj, spec)
        || port_parse_pairs(obj, spec)
        || port_parse_sgs(obj, spec)) {
        goto out;
    }

    /* binding:profile is free-form in Neutron: anything but an object
     * with a string interface_name means "use the default name". */
    profile = json_object_get(obj, "binding:profile");
    if (profile && json_is_object(profile)) {
        const json_t *ifname = json_object_get(profile, "interface_name");

        if (ifname && json_is_string(ifname)) {
            spec->ifname = xstrdup(json_string_value(ifname));
        }
    }
    if (!spec->ifname || !spec->ifname[0]) {
        free(spec->ifname);
        spec->ifname = xasprintf("tap%.11s", id);
    }
    error = 0;

out:
    free(mac);
    if (error) {
        port_spec_destroy(spec);
        memset(spec, 0, sizeof *spec);
    }
    return error;
}

static bool
str_eq_null(const char *a, const char *b)
{
    return a && b ? !strcmp(a, b) : a == b;
}

static bool
port_ips_equal(const struct topo_port *port, const struct port_spec *spec)
{
    if (port->n_ips != spec->n_ips || port->n_ip6s != spec->n_ip6s
        || (spec->n_ip6s && memcmp(port->ip6s, spec->ip6s,
                                   spec->n_ip6s * sizeof *spec->ip6s))) {
        return false;
    }
    for (size_t i = 0; i < spec->n_ips; i++) {
        if (port->ips[i].ip != spec->ips[i]
            || !str_eq_null(port->ips[i].subnet_id, spec->ip_subnets[i])) {
            return false;
        }
    }
    return true;
}

static int
update_port(struct topology *topo, const char *id, const json_t *json,
            struct tag_set *changed)
{
    struct topo_port *old = port_find(topo, id);
    struct port_spec spec;
    int error;

    if (!json) {
        if (old) {
            tag_set_add(changed, old->tag);
            tag_set_add(changed, old->net->members_tag);
            port_remove(topo, old, changed);
        }
        return 0;
    }

    error = port_spec_parse(id, json, &spec);
    if (error) {
        return error;
    }
    if (!old) {
        tag_set_add(changed, topo_tag_port(id));
        tag_set_add(changed, topo_tag_netmembers(spec.network_id));
    } else {
        bool moved = strcmp(old->network_id, spec.network_id) != 0;
        bool members = (moved
                        || strcmp(old->host, spec.host)
                        || strcmp(old->device_owner, spec.device_owner)
                        || strcmp(old->device_id, spec.device_id)
                        || memcmp(old->mac.ea, spec.mac.ea, ETH_ADDR_LEN)
                        || old->admin_up != spec.admin_up
                        || !port_ips_equal(old, &spec));
        bool same_pairs = (old->n_pairs == spec.n_pairs
                           && (!spec.n_pairs
                               || !memcmp(old->pairs, spec.pairs,
                                          spec.n_pairs * sizeof *spec.pairs)));
        bool same_sgs = port_sgs_equal(old, &spec);

        if (members || strcmp(old->ifname, spec.ifname)
            || old->port_security != spec.port_security
            || !same_sgs || !same_pairs) {
            tag_set_add(changed, old->tag);
        }
        if (members) {
            tag_set_add(changed, old->net->members_tag);
        }
        if (moved) {
            tag_set_add(changed, topo_tag_netmembers(spec.network_id));
        }
        if (!members && same_pairs && same_sgs) {
            /* Same port as far as any other port's flow can tell (its
             * addresses, which remote-group rules read, included): its
             * router and groups (if any) get the new object without
             * invalidating anything. */
            struct tag_set scratch;

            tag_set_init(&scratch);
            port_remove(topo, old, &scratch);
            port_insert(topo, id, &spec, &scratch);
            tag_set_destroy(&scratch);
            return 0;
        }
        port_remove(topo, old, changed);
    }
    port_insert(topo, id, &spec, changed);
    return 0;
}

static struct topo_port *
port_find(const struct topology *topo, const char *id)
{
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->ports_by_id,
                                          hash_string(id, 0));
         node; node = topo_hmap_next_with_hash(node)) {
        struct topo_port *port = CONTAINER_OF(node, struct topo_port,
                                              id_node);
        if (!strcmp(port->id, id)) {
            return port;
        }
    }
    return NULL;
}

/* Creates port 'id' from 'spec', whose strings it takes over. */
static void
port_insert(struct topology *topo, const char *id, struct port_spec *spec,
            struct tag_set *changed)
{
    struct topo_port *port = xzalloc(sizeof *port);
    struct topo_binding *b;
    struct topo_net *net;

    port->id = xstrdup(id);
    port->name = spec->name;
    port->network_id = spec->network_id;
    port->host = spec->host;
    port->ifname = spec->ifname;
    port->device_owner = spec->device_owner;
    port->device_id = spec->device_id;
    port->mac = spec->mac;
    port->port_security = spec->port_security;
    port->pairs = spec->pairs;
    port->n_pairs = spec->n_pairs;
    port->sg_ids = spec->sg_ids;
    port->n_sgs = spec->n_sgs;
    port->admin_up = spec->admin_up;
    port->local = port->host[0] && !strcmp(port->host, topo->local_host);
    port->tag = topo_tag_port(id);
    port->host_tag = port->host[0] ? topo_tag_host(port->host) : 0;

    net = topo_net_get(topo, port->network_id);
    port->net = net;
    net->n_ports++;
    if (port->local) {
        port->local_next = net->local_members;
        if (net->local_members) {
            net->local_members->local_prev = port;
        }
        net->local_members = port;

        port->all_next = topo->local_ports;
        if (topo->local_ports) {
            topo->local_ports->all_prev = port;
        }
        topo->local_ports = port;
    } else if (port->host[0]) {
        net_host_add(net, port->host);
    }

    topo_hmap_insert(&topo->macs, &port->mac_node,
                     topo_hash_mac(net, &port->mac));
    port->n_ips = spec->n_ips;
    port->ips = xcalloc(spec->n_ips, sizeof *port->ips);
    for (size_t i = 0; i < spec->n_ips; i++) {
        struct topo_ip *tip = &port->ips[i];

        tip->port = port;
        tip->ip = spec->ips[i];
        tip->subnet_id = spec->ip_subnets[i];
        topo_hmap_insert(&topo->ips, &tip->node, topo_hash_ip(net, tip->ip));
    }
    port->ip6s = spec->ip6s;
    port->n_ip6s = spec->n_ip6s;
    free(spec->ips);
    free(spec->ip_subnets);
    memset(spec, 0, sizeof *spec);

    b = binding_find_by_id(topo, id);
    if (b) {
        b->port = port;
        port->binding = b;
    }
    topo_hmap_insert(&topo->ports_by_id, &port->id_node, hash_string(id, 0));
    topo_router_port_attach(topo, port, changed);
    topo_sg_port_attach(topo, port, changed);
}

static void
port_remove(struct topology *topo, struct topo_port *port,
            struct tag_set *changed)
{
    struct topo_net *net = port->net;

    topo_router_port_detach(topo, port, changed);
    topo_sg_port_detach(topo, port, changed);
    topo_hmap_remove(&topo->ports_by_id, &port->id_node);
    if (port->binding) {
        port->binding->port = NULL;
    }
    for (size_t i = 0; i < port->n_ips; i++) {
        topo_hmap_remove(&topo->ips, &port->ips[i].node);
        free(port->ips[i].subnet_id);
    }
    topo_hmap_remove(&topo->macs, &port->mac_node);

    if (port->local) {
        if (port->local_prev) {
            port->local_prev->local_next = port->local_next;
        } else {
            net->local_members = port->local_next;
        }
        if (port->local_next) {
            port->local_next->local_prev = port->local_prev;
        }

        if (port->all_prev) {
            port->all_prev->all_next = port->all_next;
        } else {
            topo->local_ports = port->all_next;
        }
        if (port->all_next) {
            port->all_next->all_prev = port->all_prev;
        }
    } else if (port->host[0]) {
        net_host_del(net, port->host);
    }
    net->n_ports--;
    topo_net_maybe_free(topo, net);

    free(port->ips);
    free(port->ip6s);
    free(port->id);
    free(port->name);
    free(port->network_id);
    free(port->host);
    free(port->ifname);
    free(port->device_owner);
    free(port->device_id);
    free(port->pairs);
    for (size_t i = 0; i < port->n_sgs; i++) {
        free(port->sg_ids[i]);
    }
    free(port->sg_ids);
    free(port);
}

static void
port_info_fill(const struct topo_port *port, struct topo_port_info *info)
{
    info->id = port->id;
    info->network_id = port->network_id;
    info->host = port->host;
    info->ifname = port->ifname;
    info->mac = port->mac;
    info->admin_up = port->admin_up;
}

/* Agents. */

static int
agent_spec_parse(const json_t *obj, struct agent_spec *spec)
{
    const json_t *conf;
    int error = EINVAL;

    memset(spec, 0, sizeof *spec);
    if (!topo_json_string(obj, "host", "", &spec->host) || !spec->host[0]) {
        goto out;
    }
    conf = json_object_get(obj, "configurations");
    if (conf && json_is_object(conf)) {
        const json_t *ip = json_object_get(conf, "tunnel_ip");

        if (ip && json_is_string(ip)) {
            struct in_addr in;

            if (inet_pton(AF_INET, json_string_value(ip), &in) != 1) {
                goto out;
            }
            spec->has_tunnel_ip = true;
            spec->tunnel_ip = in.s_addr;
        } else if (ip && !json_is_null(ip)) {
            goto out;
        }
    } else if (conf && !json_is_null(conf)) {
        goto out;
    }
    error = 0;

out:
    if (error) {
        free(spec->host);
        memset(spec, 0, sizeof *spec);
    }
    return error;
}

static int
update_agent(struct topology *topo, const char *id, const json_t *json,
             struct tag_set *changed)
{
    struct topo_agent *agent = agent_find(topo, id);
    struct agent_spec spec;
    int error;

    if (!json) {
        if (agent) {
            tag_set_add(changed, topo_tag_host(agent->host));
            tag_set_add(changed, topo_tag_any_host());
            agent_remove(topo, agent);
        }
        return 0;
    }

    error = agent_spec_parse(json, &spec);
    if (error) {
        return error;
    }
    if (!agent) {
        agent = xzalloc(sizeof *agent);
        agent->id = xstrdup(id);
        topo_hmap_insert(&topo->agents_by_id, &agent->id_node,
                         hash_string(id, 0));
        tag_set_add(changed, topo_tag_host(spec.host));
        tag_set_add(changed, topo_tag_any_host());
    } else {
        if (strcmp(agent->host, spec.host)
            || agent->has_tunnel_ip != spec.has_tunnel_ip
            || agent->tunnel_ip != spec.tunnel_ip) {
            tag_set_add(changed, topo_tag_host(agent->host));
            tag_set_add(changed, topo_tag_host(spec.host));
            tag_set_add(changed, topo_tag_any_host());
        }
        topo_hmap_remove(&topo->hosts, &agent->host_node);
        free(agent->host);
    }
    agent->host = spec.host;
    agent->has_tunnel_ip = spec.has_tunnel_ip;
    agent->tunnel_ip = spec.tunnel_ip;
    topo_hmap_insert(&topo->hosts, &agent->host_node,
                     hash_string(agent->host, 0));
    return 0;
}

static struct topo_agent *
agent_find(const struct topology *topo, const char *id)
{
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->agents_by_id,
                                          hash_string(id, 0));
         node; node = topo_hmap_next_with_hash(node)) {
        struct topo_agent *a = CONTAINER_OF(node, struct topo_agent,
                                            id_node);
        if (!strcmp(a->id, id)) {
            return a;
        }
    }
    return NULL;
}

static void
agent_remove(struct topology *topo, struct topo_agent *agent)
{
    topo_hmap_remove(&topo->agents_by_id, &agent->id_node);
    topo_hmap_remove(&topo->hosts, &agent->host_node);
    free(agent->id);
    free(agent->host);
    free(agent);
}

/* Bindings. */

static struct topo_binding *
binding_find_by_id(const struct topology *topo, const char *port_id)
{
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->binds_by_id,
                                          hash_string(port_id, 0));
         node; node = topo_hmap_next_with_hash(node)) {
        struct topo_binding *b = CONTAINER_OF(node, struct topo_binding,
                                              id_node);
        if (!strcmp(b->port_id, port_id)) {
            return b;
        }
    }
    return NULL;
}

static void
binding_remove(struct topology *topo, struct topo_binding *b,
               struct tag_set *changed)
{
    tag_set_add(changed, topo_tag_port(b->port_id));
    tag_set_add(changed, topo_tag_inport(b->port_no));
    if (b->port) {
        tag_set_add(changed, b->port->net->members_tag);
        b->port->binding = NULL;
    }
    topo_hmap_remove(&topo->binds_by_id, &b->id_node);
    topo_hmap_remove(&topo->binds_by_no, &b->no_node);
    free(b->port_id);
    free(b);
}
