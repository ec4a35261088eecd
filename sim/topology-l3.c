/*
 * topology-l3.c -- subnets and distributed routers in the agent's
 * topology (see topology.h; the representation is in
 * topology-private.h).
 *
 * A router's routing table is derived data: its interfaces (ports with
 * device_owner "network:router_interface" and device_id = the router),
 * their fixed IPs, the subnets those IPs are on, and the router's static
 * routes.  Whenever any of these changes, router_rebuild() recomputes the
 * whole table (routers have few interfaces and routes; a rebuild is cheap
 * and leaves no room for an incremental update to go wrong) and the
 * router's tag is emitted, which invalidates exactly the flows that were
 * routed through it.
 *
 * Table entries, in order of insertion into the LPM trie (a later one
 * wins on an equal prefix):
 *   STATIC     every configured route whose next hop lies on a connected
 *              subnet (an unresolvable one is kept, without a port, so
 *              that traces can say why it is not used);
 *   CONNECTED  the subnet of each interface address;
 *   LOCAL      each interface address as a /32: packets to the router
 *              itself.
 */
#include "sim/topology-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "sim/lpm.h"

/* 02:77:65:66:74:64 -- locally administered unicast; "weftd" in ASCII. */
const struct eth_addr topo_dhcp_mac = {
    { 0x02, 0x77, 0x65, 0x66, 0x74, 0x64 }
};

#define ROUTER_INTERFACE_OWNER "network:router_interface"

struct subnet_spec {
    char *network_id;
    struct topo_subnet_cfg cfg;
};

struct router_spec {
    char *name;
    bool admin_up;
    struct topo_prefix_route *routes;
    size_t n_routes;
};

static struct topo_subnet *subnet_find(const struct topology *,
                                       const char *id);
static struct topo_router *router_find(const struct topology *,
                                       const char *id);
static struct topo_router *router_get(struct topology *, const char *id);
static void router_maybe_free(struct topology *, struct topo_router *);
static void router_rebuild(struct topology *, struct topo_router *);
static void routers_of_subnet_rebuild(struct topology *, const char *id,
                                      struct tag_set *changed);

/* Subnets. */

static void
subnet_spec_destroy(struct subnet_spec *spec)
{
    free(spec->network_id);
}

static int
parse_prefix_routes(const json_t *list, struct topo_prefix_route *out,
                    size_t max, size_t *np)
{
    size_t i;
    const json_t *e;

    *np = 0;
    if (!list || json_is_null(list)) {
        return 0;
    } else if (!json_is_array(list)) {
        return EINVAL;
    }
    json_array_foreach (list, i, e) {
        const json_t *dst = json_object_get(e, "destination");
        const json_t *nh = json_object_get(e, "nexthop");
        struct in_addr in;
        struct topo_prefix_route r;
        struct topo_prefix p;

        if (!json_is_object(e) || !json_is_string(dst)
            || !json_is_string(nh)
            || !topo_prefix_parse(json_string_value(dst), false, &p)) {
            return EINVAL;
        }
        if (p.ipv6) {
            continue;           /* IPv6 routes come with IPv6 routing. */
        }
        r.prefix = p.addr.ip4;
        r.plen = p.plen;
        if (inet_pton(AF_INET, json_string_value(nh), &in) != 1) {
            return EINVAL;
        }
        r.nexthop = in.s_addr;
        if (*np < max) {
            out[(*np)++] = r;
        }
    }
    return 0;
}

static int
subnet_spec_parse(const json_t *obj, struct subnet_spec *spec)
{
    const json_t *cidr, *gw, *dns, *e;
    struct topo_prefix p;
    struct in_addr in;
    size_t i;

    memset(spec, 0, sizeof *spec);
    if (!topo_json_string(obj, "network_id", "", &spec->network_id)
        || !spec->network_id[0]
        || !topo_json_bool(obj, "enable_dhcp", true,
                           &spec->cfg.enable_dhcp)) {
        goto error;
    }
    cidr = json_object_get(obj, "cidr");
    if (!json_is_string(cidr)
        || !topo_prefix_parse(json_string_value(cidr), false, &p)) {
        goto error;
    }
    spec->cfg.prefix = p.addr.ip4;
    spec->cfg.plen = p.plen;
    spec->cfg.ipv4 = !p.ipv6;
    if (!spec->cfg.ipv4) {
        return 0;
    }

    gw = json_object_get(obj, "gateway_ip");
    if (gw && json_is_string(gw)) {
        if (inet_pton(AF_INET, json_string_value(gw), &in) != 1) {
            goto error;
        }
        spec->cfg.has_gateway = true;
        spec->cfg.gateway = in.s_addr;
    } else if (gw && !json_is_null(gw)) {
        goto error;
    }

    dns = json_object_get(obj, "dns_nameservers");
    if (dns && json_is_array(dns)) {
        json_array_foreach (dns, i, e) {
            if (!json_is_string(e)) {
                goto error;
            }
            if (inet_pton(AF_INET, json_string_value(e), &in) == 1
                && spec->cfg.n_dns < TOPO_MAX_DNS) {
                spec->cfg.dns[spec->cfg.n_dns++] = in.s_addr;
            }
        }
    } else if (dns && !json_is_null(dns)) {
        goto error;
    }
    if (parse_prefix_routes(json_object_get(obj, "host_routes"),
                            spec->cfg.routes, TOPO_MAX_HOST_ROUTES,
                            &spec->cfg.n_routes)) {
        goto error;
    }
    return 0;

error:
    subnet_spec_destroy(spec);
    memset(spec, 0, sizeof *spec);
    return EINVAL;
}

static bool
subnet_equal(const struct topo_subnet *s, const struct subnet_spec *spec)
{
    return (!strcmp(s->network_id, spec->network_id)
            && !memcmp(&s->cfg, &spec->cfg, sizeof s->cfg));
}

static void
subnet_unlink(struct topology *topo, struct topo_subnet *s)
{
    struct topo_subnet **p;

    for (p = &s->net->subnets; *p != s; p = &(*p)->net_next) {
        ASSERT(*p);
    }
    *p = s->net_next;
    s->net->n_subnets--;
    topo_net_maybe_free(topo, s->net);
    s->net = NULL;
}

static void
subnet_link(struct topology *topo, struct topo_subnet *s)
{
    s->net = topo_net_get(topo, s->network_id);
    s->net_next = s->net->subnets;
    s->net->subnets = s;
    s->net->n_subnets++;
}

int
topo_update_subnet(struct topology *topo, const char *id,
                   const json_t *json, struct tag_set *changed)
{
    struct topo_subnet *s = subnet_find(topo, id);
    struct subnet_spec spec;
    int error;

    if (!json) {
        if (s) {
            tag_set_add(changed, s->tag);
            tag_set_add(changed, s->net->tag);
            subnet_unlink(topo, s);
            topo_hmap_remove(&topo->subnets_by_id, &s->id_node);
            routers_of_subnet_rebuild(topo, id, changed);
            free(s->id);
            free(s->network_id);
            free(s);
        }
        return 0;
    }

    error = subnet_spec_parse(json, &spec);
    if (error) {
        return error;
    }
    if (s && subnet_equal(s, &spec)) {
        subnet_spec_destroy(&spec);
        return 0;
    }
    if (!s) {
        s = xzalloc(sizeof *s);
        s->id = xstrdup(id);
        s->tag = topo_tag_subnet(id);
        topo_hmap_insert(&topo->subnets_by_id, &s->id_node,
                         hash_string(id, 0));
    } else {
        tag_set_add(changed, s->net->tag);
        subnet_unlink(topo, s);
        free(s->network_id);
    }
    tag_set_add(changed, s->tag);
    s->network_id = spec.network_id;
    memcpy(&s->cfg, &spec.cfg, sizeof s->cfg);
    subnet_link(topo, s);
    tag_set_add(changed, s->net->tag);
    routers_of_subnet_rebuild(topo, id, changed);
    return 0;
}

static struct topo_subnet *
subnet_find(const struct topology *topo, const char *id)
{
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->subnets_by_id,
                                          hash_string(id, 0));
         node; node = topo_hmap_next_with_hash(node)) {
        struct topo_subnet *s = CONTAINER_OF(node, struct topo_subnet,
                                             id_node);
        if (!strcmp(s->id, id)) {
            return s;
        }
    }
    return NULL;
}

const struct topo_subnet *
topo_find_subnet(const struct topology *topo, const char *id)
{
    return id ? subnet_find(topo, id) : NULL;
}

be32
topo_subnet_dhcp_server(const struct topo_subnet *s)
{
    return (s->cfg.has_gateway ? s->cfg.gateway
            : htonl(ntohl(s->cfg.prefix) + 1));
}

/* Routers. */

static void
router_spec_destroy(struct router_spec *spec)
{
    free(spec->name);
    free(spec->routes);
}

static int
router_spec_parse(const json_t *obj, struct router_spec *spec)
{
    const json_t *routes = json_object_get(obj, "routes");

    memset(spec, 0, sizeof *spec);
    if (!topo_json_string(obj, "name", "", &spec->name)
        || !topo_json_bool(obj, "admin_state_up", true, &spec->admin_up)) {
        goto error;
    }
    if (routes && json_is_array(routes) && json_array_size(routes)) {
        spec->routes = xcalloc(json_array_size(routes),
                               sizeof *spec->routes);
    }
    if (parse_prefix_routes(routes, spec->routes,
                            routes && json_is_array(routes)
                            ? json_array_size(routes) : 0,
                            &spec->n_routes)) {
        goto error;
    }
    return 0;

error:
    router_spec_destroy(spec);
    memset(spec, 0, sizeof *spec);
    return EINVAL;
}

int
topo_update_router(struct topology *topo, const char *id,
                   const json_t *json, struct tag_set *changed)
{
    struct topo_router *r = router_find(topo, id);
    struct router_spec spec;
    int error;

    if (!json) {
        if (r && r->present) {
            tag_set_add(changed, r->tag);
            r->present = false;
            topo->n_present_routers--;
            free(r->routes);
            r->routes = NULL;
            r->n_routes = 0;
            router_rebuild(topo, r);
            router_maybe_free(topo, r);
        }
        return 0;
    }

    error = router_spec_parse(json, &spec);
    if (error) {
        return error;
    }
    r = router_get(topo, id);
    if (!r->present || r->admin_up != spec.admin_up
        || strcmp(r->name, spec.name)
        || r->n_routes != spec.n_routes
        || (spec.n_routes && memcmp(r->routes, spec.routes,
                                    spec.n_routes * sizeof *spec.routes))) {
        tag_set_add(changed, r->tag);
    }
    if (!r->present) {
        topo->n_present_routers++;
    }
    r->present = true;
    r->admin_up = spec.admin_up;
    free(r->name);
    r->name = spec.name;
    free(r->routes);
    r->routes = spec.routes;
    r->n_routes = spec.n_routes;
    router_rebuild(topo, r);
    return 0;
}

static struct topo_router *
router_find(const struct topology *topo, const char *id)
{
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->routers_by_id,
                                          hash_string(id, 0));
         node; node = topo_hmap_next_with_hash(node)) {
        struct topo_router *r = CONTAINER_OF(node, struct topo_router,
                                             id_node);
        if (!strcmp(r->id, id)) {
            return r;
        }
    }
    return NULL;
}

const struct topo_router *
topo_find_router(const struct topology *topo, const char *id)
{
    return id ? router_find(topo, id) : NULL;
}

/* Returns router 'id', creating an absent placeholder if needed. */
static struct topo_router *
router_get(struct topology *topo, const char *id)
{
    struct topo_router *r = router_find(topo, id);

    if (!r) {
        r = xzalloc(sizeof *r);
        r->id = xstrdup(id);
        r->name = xstrdup("");
        r->admin_up = true;
        r->tag = topo_tag_router(id);
        r->lpm = lpm_create(32);
        topo_hmap_insert(&topo->routers_by_id, &r->id_node,
                         hash_string(id, 0));
    }
    return r;
}

static void
router_maybe_free(struct topology *topo, struct topo_router *r)
{
    if (r->present || r->n_ports) {
        return;
    }
    ASSERT(!r->ports);
    topo_hmap_remove(&topo->routers_by_id, &r->id_node);
    lpm_destroy(r->lpm);
    free(r->table);
    free(r->routes);
    free(r->name);
    free(r->id);
    free(r);
}

void
topo_router_port_attach(struct topology *topo, struct topo_port *port,
                        struct tag_set *changed)
{
    struct topo_router *r;

    if (strcmp(port->device_owner, ROUTER_INTERFACE_OWNER)
        || !port->device_id[0]) {
        return;
    }
    r = router_get(topo, port->device_id);
    port->router = r;
    port->rtr_prev = NULL;
    port->rtr_next = r->ports;
    if (r->ports) {
        r->ports->rtr_prev = port;
    }
    r->ports = port;
    r->n_ports++;
    tag_set_add(changed, r->tag);
    router_rebuild(topo, r);
}

void
topo_router_port_detach(struct topology *topo, struct topo_port *port,
                        struct tag_set *changed)
{
    struct topo_router *r = port->router;

    if (!r) {
        return;
    }
    if (port->rtr_prev) {
        port->rtr_prev->rtr_next = port->rtr_next;
    } else {
        r->ports = port->rtr_next;
    }
    if (port->rtr_next) {
        port->rtr_next->rtr_prev = port->rtr_prev;
    }
    port->router = NULL;
    port->rtr_prev = port->rtr_next = NULL;
    r->n_ports--;
    tag_set_add(changed, r->tag);
    router_rebuild(topo, r);
    router_maybe_free(topo, r);
}

/* The connected subnet of interface address 'tip', if known and
 * consistent (an IPv4 subnet of the port's network that contains it). */
static const struct topo_subnet *
ip_subnet(const struct topology *topo, const struct topo_ip *tip)
{
    const struct topo_subnet *s = topo_find_subnet(topo, tip->subnet_id);

    if (s && s->cfg.ipv4 && !strcmp(s->network_id, tip->port->network_id)
        && (tip->ip & ip4_prefix_mask(s->cfg.plen)) == s->cfg.prefix) {
        return s;
    }
    return NULL;
}

const struct topo_subnet *
topo_ip_dhcp_subnet(const struct topology *topo, const struct topo_ip *tip)
{
    const struct topo_subnet *s = ip_subnet(topo, tip);

    return s && s->cfg.enable_dhcp ? s : NULL;
}

/* True if 'a' should win over 'b' for the same prefix and type: the
 * table must not depend on the order in which interfaces arrived, which
 * changes when a port object is replaced.  Lowest port id, then lowest
 * interface address. */
static bool
route_precedes(const struct topo_route *a, const struct topo_route *b)
{
    int cmp;

    if (!a->port || !b->port) {
        return a->port != NULL;
    }
    cmp = strcmp(a->port->id, b->port->id);
    return cmp ? cmp < 0 : ntohl(a->ifaddr) < ntohl(b->ifaddr);
}

/* Inserts 'e' into the trie unless an entry of the same type for the same
 * prefix precedes it. */
static void
router_insert(struct topo_router *r, struct topo_route *e)
{
    struct topo_route *old = lpm_insert(r->lpm, &e->prefix, e->plen, e);

    if (old && old->type == e->type && route_precedes(old, e)) {
        lpm_insert(r->lpm, &old->prefix, old->plen, old);
    }
}

static void
router_rebuild(struct topology *topo, struct topo_router *r)
{
    const struct topo_port *p;
    size_t n = r->n_routes, i;

    for (p = r->ports; p; p = p->rtr_next) {
        n += 2 * p->n_ips;
    }
    lpm_destroy(r->lpm);
    free(r->table);
    r->lpm = lpm_create(32);
    r->table = n ? xcalloc(n, sizeof *r->table) : NULL;
    r->n_table = 0;

    /* Connected entries first into the table (not yet the trie), so that
     * static next hops can be resolved against them. */
    for (p = r->ports; p; p = p->rtr_next) {
        for (i = 0; i < p->n_ips; i++) {
            const struct topo_subnet *s = ip_subnet(topo, &p->ips[i]);

            if (s) {
                r->table[r->n_table++] = (struct topo_route) {
                    .type = TOPO_ROUTE_CONNECTED, .prefix = s->cfg.prefix,
                    .plen = s->cfg.plen, .ifaddr = p->ips[i].ip, .port = p,
                };
            }
        }
    }
    size_t n_connected = r->n_table;

    for (i = 0; i < r->n_routes; i++) {
        const struct topo_prefix_route *sr = &r->routes[i];
        struct topo_route *e = &r->table[r->n_table++];
        int best = -1;

        *e = (struct topo_route) {
            .type = TOPO_ROUTE_STATIC, .prefix = sr->prefix & ip4_prefix_mask(
                sr->plen), .plen = sr->plen, .nexthop = sr->nexthop,
        };
        for (size_t j = 0; j < n_connected; j++) {
            const struct topo_route *c = &r->table[j];

            if ((sr->nexthop & ip4_prefix_mask(c->plen)) == c->prefix
                && ((int) c->plen > best
                    || ((int) c->plen == best && e->port
                        && route_precedes(c, &(struct topo_route) {
                            .port = e->port, .ifaddr = e->ifaddr })))) {
                best = c->plen;
                e->port = c->port;
                e->ifaddr = c->ifaddr;
            }
        }
        /* Static routes to the same prefix: the first one listed. */
        if (!lpm_insert(r->lpm, &e->prefix, e->plen, e)) {
            continue;
        }
        for (size_t j = n_connected; j < r->n_table - 1; j++) {
            if (r->table[j].prefix == e->prefix
                && r->table[j].plen == e->plen) {
                lpm_insert(r->lpm, &e->prefix, e->plen, &r->table[j]);
                break;
            }
        }
    }
    for (i = 0; i < n_connected; i++) {
        router_insert(r, &r->table[i]);
    }
    for (p = r->ports; p; p = p->rtr_next) {
        for (i = 0; i < p->n_ips; i++) {
            struct topo_route *e = &r->table[r->n_table++];

            *e = (struct topo_route) {
                .type = TOPO_ROUTE_LOCAL, .prefix = p->ips[i].ip,
                .plen = 32, .ifaddr = p->ips[i].ip, .port = p,
            };
            router_insert(r, e);
        }
    }
    ASSERT(r->n_table <= n);
}

static void
routers_of_subnet_rebuild(struct topology *topo, const char *id,
                          struct tag_set *changed)
{
    struct topo_hmap_node *node = NULL;
    size_t b = 0;

    while ((node = topo_hmap_next(&topo->routers_by_id, &b, node))) {
        struct topo_router *r = CONTAINER_OF(node, struct topo_router,
                                             id_node);
        bool uses = false;

        for (const struct topo_port *p = r->ports; p && !uses;
             p = p->rtr_next) {
            for (size_t i = 0; i < p->n_ips; i++) {
                if (p->ips[i].subnet_id && !strcmp(p->ips[i].subnet_id, id)) {
                    uses = true;
                    break;
                }
            }
        }
        if (uses) {
            tag_set_add(changed, r->tag);
            router_rebuild(topo, r);
        }
    }
}

const struct topo_route *
topo_route_lookup(const struct topo_router *r, be32 dst, unsigned *bitsp)
{
    return lpm_lookup(r->lpm, &dst, NULL, bitsp);
}

void
topo_l3_clear(struct topology *topo)
{
    struct topo_hmap_node *node;
    size_t i;

    /* Ports are gone first (topology_clear()), so routers only remain
     * while present. */
    while ((i = 0, node = topo_hmap_next(&topo->routers_by_id, &i, NULL))) {
        struct topo_router *r = CONTAINER_OF(node, struct topo_router,
                                             id_node);
        ASSERT(!r->n_ports);
        r->present = false;
        router_maybe_free(topo, r);
    }
    topo->n_present_routers = 0;
    while ((i = 0, node = topo_hmap_next(&topo->subnets_by_id, &i, NULL))) {
        struct topo_subnet *s = CONTAINER_OF(node, struct topo_subnet,
                                             id_node);
        subnet_unlink(topo, s);
        topo_hmap_remove(&topo->subnets_by_id, &s->id_node);
        free(s->id);
        free(s->network_id);
        free(s);
    }
}

/* Public views. */

int
topology_dhcp_lookup(const struct topology *topo, uint32_t port_no,
                     struct topo_dhcp *out)
{
    const struct topo_binding *b = topo_find_binding_by_no(topo, port_no);
    const struct topo_port *port = b ? b->port : NULL;

    if (!port) {
        return ENODEV;
    }
    for (size_t i = 0; i < port->n_ips; i++) {
        const struct topo_subnet *s = topo_ip_dhcp_subnet(topo,
                                                          &port->ips[i]);

        if (!s) {
            continue;
        }
        memset(out, 0, sizeof *out);
        out->mac = port->mac;
        out->ip = port->ips[i].ip;
        out->plen = s->cfg.plen;
        out->router = s->cfg.has_gateway ? s->cfg.gateway : 0;
        out->server_ip = topo_subnet_dhcp_server(s);
        out->server_mac = topo_dhcp_mac;
        BUILD_ASSERT(ARRAY_SIZE(out->dns) >= TOPO_MAX_DNS);
        memcpy(out->dns, s->cfg.dns, s->cfg.n_dns * sizeof *s->cfg.dns);
        out->n_dns = s->cfg.n_dns;
        BUILD_ASSERT(ARRAY_SIZE(out->routes) >= TOPO_MAX_HOST_ROUTES);
        for (size_t j = 0; j < s->cfg.n_routes; j++) {
            out->routes[j].dst = s->cfg.routes[j].prefix;
            out->routes[j].plen = s->cfg.routes[j].plen;
            out->routes[j].nexthop = s->cfg.routes[j].nexthop;
        }
        out->n_routes = s->cfg.n_routes;
        out->mtu = port->net->mtu;
        out->port_name = port->name;
        out->port_id = port->id;
        return 0;
    }
    return ENOENT;
}

struct route_walk {
    void (*cb)(const struct topo_route_info *, void *aux);
    void *aux;
};

static void
route_walk_cb(const uint8_t *addr, unsigned plen, void *value, void *aux)
{
    static const char *const types[] = {
        [TOPO_ROUTE_LOCAL] = "local",
        [TOPO_ROUTE_CONNECTED] = "connected",
        [TOPO_ROUTE_STATIC] = "static",
    };
    const struct topo_route *e = value;
    struct route_walk *w = aux;
    struct topo_route_info info = {
        .type = types[e->type],
        .prefix = e->prefix,
        .plen = e->plen,
        .nexthop = e->nexthop,
        .ifaddr = e->ifaddr,
        .port_id = e->port ? e->port->id : NULL,
        .network_id = e->port ? e->port->network_id : NULL,
    };

    (void) addr;
    (void) plen;
    w->cb(&info, w->aux);
}

int
topology_for_each_route(const struct topology *topo, const char *router_id,
                        void (*cb)(const struct topo_route_info *, void *),
                        void *aux)
{
    const struct topo_router *r = topo_find_router(topo, router_id);
    struct route_walk w = { cb, aux };

    if (!r || !r->present) {
        return ENOENT;
    }
    lpm_for_each(r->lpm, route_walk_cb, &w);
    return 0;
}

void
topology_for_each_router(const struct topology *topo,
                         void (*cb)(const char *id, const char *name,
                                    bool admin_up, size_t n_ports,
                                    void *aux),
                         void *aux)
{
    struct topo_hmap_node *node = NULL;
    size_t b = 0;

    while ((node = topo_hmap_next(&topo->routers_by_id, &b, node))) {
        const struct topo_router *r = CONTAINER_OF(node, struct topo_router,
                                                   id_node);
        if (r->present) {
            cb(r->id, r->name, r->admin_up, r->n_ports, aux);
        }
    }
}

size_t
topology_n_routers(const struct topology *topo)
{
    return topo->n_present_routers;
}

size_t
topology_n_subnets(const struct topology *topo)
{
    return topo->subnets_by_id.n;
}

uint64_t
topo_tag_router(const char *router_id)
{
    return flow_tag_make("router", router_id);
}

uint64_t
topo_tag_subnet(const char *subnet_id)
{
    return flow_tag_make("subnet", subnet_id);
}

bool
topo_prefix_parse(const char *s, bool bare_ok, struct topo_prefix *p)
{
    const char *slash = strchr(s, '/');
    size_t addr_len = slash ? (size_t) (slash - s) : strlen(s);
    char addr[INET6_ADDRSTRLEN];
    struct in6_addr in6;
    struct in_addr in;
    long n = -1;

    memset(p, 0, sizeof *p);
    if (addr_len >= sizeof addr || (!slash && !bare_ok)) {
        return false;
    }
    memcpy(addr, s, addr_len);
    addr[addr_len] = '\0';
    if (slash) {
        char *end;

        if (slash[1] < '0' || slash[1] > '9') {
            return false;
        }
        n = strtol(slash + 1, &end, 10);
        if (*end) {
            return false;
        }
    }
    if (inet_pton(AF_INET, addr, &in) == 1) {
        n = n < 0 ? 32 : n;
        if (n > 32) {
            return false;
        }
        p->plen = (uint8_t) n;
        p->addr.ip4 = in.s_addr & ip4_prefix_mask(p->plen);
        return true;
    }
    if (inet_pton(AF_INET6, addr, &in6) == 1) {
        n = n < 0 ? 128 : n;
        if (n > 128) {
            return false;
        }
        uint8_t m[16];

        p->plen = (uint8_t) n;
        p->ipv6 = true;
        ip6_prefix_mask(p->plen, m);
        for (int i = 0; i < 16; i++) {
            p->addr.ip6[i] = in6.s6_addr[i] & m[i];
        }
        return true;
    }
    return false;
}
