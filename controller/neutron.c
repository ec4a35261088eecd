/*
 * neutron.c -- what networks, subnets, ports, routers, security groups and
 * agents mean: allocation of VNIs, MACs and IPs, and the checks between
 * objects (see neutron.h).
 *
 * Uniqueness lives in private index keys written in the same transaction
 * as the objects, so two concurrent requests can never both win:
 *   idx/vni/<%08d VNI>           -> network id
 *   idx/mac/<network>/<mac>      -> port id
 *   idx/ip/<subnet>/<address>    -> port id
 *   idx/agent/<host>             -> agent id
 *   idx/sg-default/<project>     -> security group id
 * and relations that must be found from the other end:
 *   idx/router-port/<router>/<port>  -> port id
 *   idx/sg-rule/<group>/<rule>       -> rule id
 *   idx/sg-remote/<group>/<rule>     -> rule id (rule's remote group)
 *   idx/sg-port/<group>/<port>       -> port id
 */
#include "controller/neutron.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "controller/ipam.h"
#include "controller/store.h"
#include "lib/ip-proto.h"

#define MAX_FIXED_IPS 16
#define MAX_POOLS 64

static int sg_ensure_default(struct res_ctx *, const char *project,
                             char **idp);
static int port_sync_security(struct res_ctx *, const json_t *net,
                              const json_t *old, json_t *port,
                              const json_t *changes);
static int port_sync_sg_index(struct res_ctx *, const json_t *old,
                              const json_t *port);

/* Records a 400 error of 'type' whose message is 'head' followed by the
 * reason formatted from 'fmt' and 'args', and a period. */
static int
input_error(struct res_ctx *ctx, const char *type, const char *head,
            const char *fmt, va_list args)
{
    char *reason;
    int status;

    if (vasprintf(&reason, fmt, args) < 0) {
        reason = NULL;
    }
    status = res_error(ctx, 400, type, "%s%s.", head,
                       reason ? reason : "invalid value");
    free(reason);
    return status;
}

/* "Invalid input for ATTR. Reason: ...": a bad attribute value. */
static int
bad_input(struct res_ctx *ctx, const struct attr_def *attr,
          const char *fmt, ...) PRINTF_FMT(3, 4);

static int
bad_input(struct res_ctx *ctx, const struct attr_def *attr,
          const char *fmt, ...)
{
    char *head = xasprintf("Invalid input for %s. Reason: ", attr->name);
    va_list args;
    int status;

    va_start(args, fmt);
    status = input_error(ctx, "HTTPBadRequest", head, fmt, args);
    va_end(args);
    free(head);
    return status;
}

/* "Invalid input for operation: ...": values that disagree. */
static int
invalid_input(struct res_ctx *ctx, const char *fmt, ...) PRINTF_FMT(2, 3);

static int
invalid_input(struct res_ctx *ctx, const char *fmt, ...)
{
    va_list args;
    int status;

    va_start(args, fmt);
    status = input_error(ctx, "InvalidInput",
                         "Invalid input for operation: ", fmt, args);
    va_end(args);
    return status;
}

static void
replace(json_t **valuep, json_t *new)
{
    json_decref(*valuep);
    *valuep = new;
}

static const char *
get_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static const struct resource_def *
def_of(const char *plural)
{
    const struct resource_def *def = resource_find(plural);
    ASSERT(def);
    return def;
}

/* Loads object 'id' of 'plural' referenced by a request body: a missing
 * object is reported with 'status'. */
static int
load_ref(struct res_ctx *ctx, const char *plural, const char *id,
         int status, json_t **outp)
{
    const struct resource_def *def = def_of(plural);
    int error = resource_load(ctx, def, id, outp);

    if (error == 404 && status != 404) {
        res_error_clear(ctx);
        return resource_not_found(ctx, def, id, status);
    }
    return error;
}

static bool
key_exists(struct res_ctx *ctx, const char *key, char **valuep)
{
    char *value = NULL;
    bool exists = !store_get(ctx->txn, key, &value);

    if (valuep) {
        *valuep = value;
    } else {
        free(value);
    }
    return exists;
}

static int
put_key(struct res_ctx *ctx, const char *key, const char *value)
{
    int error = store_put(ctx->txn, key, value);
    return error ? res_store_error(ctx, error) : 0;
}

static int
delete_key(struct res_ctx *ctx, const char *key)
{
    int error = store_delete(ctx->txn, key);
    return error && error != ENOENT ? res_store_error(ctx, error) : 0;
}

/* Initializes 'kvs' and reads every key starting with 'prefix' into it.
 * The caller destroys 'kvs', also on error. */
static int
range_keys(struct res_ctx *ctx, const char *prefix, struct store_kvs *kvs)
{
    int error;

    store_kvs_init(kvs);
    error = store_range(ctx->txn, prefix, kvs);
    return error ? res_store_error(ctx, error) : 0;
}

/* Sets '*usedp' to whether any key starts with 'prefix': whether an index
 * relates anything to the object it names. */
static int
index_in_use(struct res_ctx *ctx, const char *prefix, bool *usedp)
{
    struct store_kvs kvs;
    int error = range_keys(ctx, prefix, &kvs);

    *usedp = kvs.n > 0;
    store_kvs_destroy(&kvs);
    return error;
}

/* Appends to 'out' the objects of 'plural' whose ids are the values of the
 * index keys under 'prefix'. */
static int
index_load(struct res_ctx *ctx, const char *prefix, const char *plural,
           json_t *out)
{
    struct store_kvs kvs;
    int error = range_keys(ctx, prefix, &kvs);

    for (size_t i = 0; !error && i < kvs.n; i++) {
        json_t *obj;

        error = resource_load(ctx, def_of(plural), kvs.kvs[i].value, &obj);
        if (!error) {
            json_array_append_new(out, obj);
        }
    }
    store_kvs_destroy(&kvs);
    return error;
}

/* True if 'port' is a router interface: owned by
 * NEUTRON_ROUTER_INTERFACE with a device_id that can name a router. */
static bool
is_router_interface(const json_t *port)
{
    return (!strcmp(get_str(port, "device_owner"), NEUTRON_ROUTER_INTERFACE)
            && str_is_uuid(get_str(port, "device_id")));
}

/* Validators. */

int
neutron_validate_ip_version(struct res_ctx *ctx, const struct attr_def *attr,
                            json_t **valuep)
{
    json_int_t v = json_integer_value(*valuep);
    return v == 4 || v == 6 ? 0 : bad_input(ctx, attr,
                                            "%" JSON_INTEGER_FORMAT
                                            " is not in [4, 6]", v);
}

int
neutron_validate_cidr(struct res_ctx *ctx, const struct attr_def *attr,
                      json_t **valuep)
{
    struct ipam_prefix p;
    char buf[IPAM_PREFIX_STRLEN];

    if (!ipam_prefix_parse(json_string_value(*valuep), &p)) {
        return res_error(ctx, 400, "InvalidInput",
                         "Invalid input for %s. Reason: '%s' is not a "
                         "valid IP subnet.", attr->name,
                         json_string_value(*valuep));
    }
    replace(valuep, json_string(ipam_prefix_format(&p, buf)));
    return 0;
}

/* Validates and canonicalizes string 'v' as an IP address, replacing it. */
static bool
canon_ip(json_t **valuep)
{
    struct ipam_addr a;
    char buf[IPAM_ADDR_STRLEN];

    if (!json_is_string(*valuep)
        || !ipam_addr_parse(json_string_value(*valuep), &a)) {
        return false;
    }
    replace(valuep, json_string(ipam_addr_format(&a, buf)));
    return true;
}

int
neutron_validate_ip(struct res_ctx *ctx, const struct attr_def *attr,
                    json_t **valuep)
{
    if (!canon_ip(valuep)) {
        return bad_input(ctx, attr, "'%s' is not a valid IP address",
                         json_string_value(*valuep));
    }
    return 0;
}

/* Member 'key' of object 'e' as a canonical IP address string (a new
 * reference), or NULL if it is missing or not an IP address. */
static json_t *
member_ip(const json_t *e, const char *key)
{
    json_t *v = json_incref(json_object_get(e, key));

    if (v && !canon_ip(&v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* True if array 'list' has an element equal to 'v'. */
static bool
list_has(const json_t *list, const json_t *v)
{
    size_t i;
    json_t *e;

    json_array_foreach (list, i, e) {
        if (json_equal(e, v)) {
            return true;
        }
    }
    return false;
}

/* Checks that every member of object 'e' is one of 'keys' (NULL-ended). */
static bool
only_keys(const json_t *e, const char *const *keys)
{
    const char *key;
    json_t *v;

    json_object_foreach ((json_t *) e, key, v) {
        bool ok = false;
        for (const char *const *k = keys; *k; k++) {
            ok = ok || !strcmp(*k, key);
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Checks element 'i', 'e', of a list attribute, given the canonical forms
 * of the elements before it in 'done'.  Returns a new reference to the
 * canonical form of 'e', or NULL after recording an error. */
typedef json_t *list_elem_fn(struct res_ctx *, const struct attr_def *,
                             size_t i, const json_t *e, const json_t *done);

/* Replaces the list '*valuep' by its elements as canonicalized by 'fn', or
 * leaves it alone and returns the error if 'fn' rejects one. */
static int
canon_list(struct res_ctx *ctx, const struct attr_def *attr,
           json_t **valuep, list_elem_fn *fn)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;

    json_array_foreach (*valuep, i, e) {
        json_t *v = fn(ctx, attr, i, e, out);
        if (!v) {
            ASSERT(ctx->status);
            json_decref(out);
            return ctx->status;
        }
        json_array_append_new(out, v);
    }
    replace(valuep, out);
    return 0;
}

static json_t *
ip_list_elem(struct res_ctx *ctx, const struct attr_def *attr, size_t i,
             const json_t *e, const json_t *done)
{
    json_t *v = json_incref((json_t *) e);

    if (!canon_ip(&v)) {
        json_decref(v);
        bad_input(ctx, attr, "element %zu is not a valid IP address", i);
        return NULL;
    }
    if (list_has(done, v)) {
        json_decref(v);
        bad_input(ctx, attr, "duplicate address");
        return NULL;
    }
    return v;
}

int
neutron_validate_ip_list(struct res_ctx *ctx, const struct attr_def *attr,
                         json_t **valuep)
{
    return canon_list(ctx, attr, valuep, ip_list_elem);
}

static json_t *
pool_elem(struct res_ctx *ctx, const struct attr_def *attr, size_t i,
          const json_t *e, const json_t *done)
{
    static const char *const keys[] = { "start", "end", NULL };
    json_t *start, *end;

    if (!json_is_object(e) || !only_keys(e, keys)) {
        bad_input(ctx, attr, "pools must be {start, end}");
        return NULL;
    }
    start = member_ip(e, "start");
    end = member_ip(e, "end");
    if (!start || !end) {
        json_decref(start);
        json_decref(end);
        bad_input(ctx, attr, "pool %zu has an invalid start or end address",
                  i);
        return NULL;
    }
    return json_pack("{s:o,s:o}", "start", start, "end", end);
}

int
neutron_validate_pools(struct res_ctx *ctx, const struct attr_def *attr,
                       json_t **valuep)
{
    if (json_array_size(*valuep) > MAX_POOLS) {
        return bad_input(ctx, attr, "too many allocation pools");
    }
    return canon_list(ctx, attr, valuep, pool_elem);
}

static json_t *
route_elem(struct res_ctx *ctx, const struct attr_def *attr, size_t i,
           const json_t *e, const json_t *done)
{
    static const char *const keys[] = { "destination", "nexthop", NULL };
    struct ipam_prefix p;
    char buf[IPAM_PREFIX_STRLEN];
    json_t *hop, *route;

    if (!json_is_object(e) || !only_keys(e, keys)
        || !ipam_prefix_parse(get_str(e, "destination"), &p)) {
        bad_input(ctx, attr, "route %zu is invalid", i);
        return NULL;
    }
    hop = member_ip(e, "nexthop");
    if (!hop) {
        bad_input(ctx, attr, "route %zu has an invalid nexthop", i);
        return NULL;
    }
    route = json_pack("{s:s,s:o}", "destination",
                      ipam_prefix_format(&p, buf), "nexthop", hop);
    if (list_has(done, route)) {
        bad_input(ctx, attr, "duplicate route (destination %s, nexthop %s)",
                  buf, json_string_value(hop));
        json_decref(route);
        return NULL;
    }
    return route;
}

int
neutron_validate_host_routes(struct res_ctx *ctx,
                             const struct attr_def *attr, json_t **valuep)
{
    return canon_list(ctx, attr, valuep, route_elem);
}

int
neutron_validate_mac(struct res_ctx *ctx, const struct attr_def *attr,
                     json_t **valuep)
{
    uint8_t mac[6];
    char buf[IPAM_MAC_STRLEN];

    if (!ipam_mac_parse(json_string_value(*valuep), mac)) {
        return bad_input(ctx, attr, "'%s' is not a valid MAC address",
                         json_string_value(*valuep));
    }
    replace(valuep, json_string(ipam_mac_format(mac, buf)));
    return 0;
}

static json_t *
fixed_ip_elem(struct res_ctx *ctx, const struct attr_def *attr, size_t i,
              const json_t *e, const json_t *done)
{
    static const char *const keys[] = { "subnet_id", "ip_address", NULL };
    json_t *sid, *ip = NULL, *entry;

    if (!json_is_object(e) || !json_object_size(e) || !only_keys(e, keys)) {
        bad_input(ctx, attr, "fixed_ips entries must have subnet_id and/or "
                  "ip_address");
        return NULL;
    }
    sid = json_object_get(e, "subnet_id");
    if (sid && !(json_is_string(sid)
                 && str_is_uuid(json_string_value(sid)))) {
        bad_input(ctx, attr, "subnet_id is not a valid UUID");
        return NULL;
    }
    if (json_object_get(e, "ip_address")) {
        ip = member_ip(e, "ip_address");
        if (!ip) {
            bad_input(ctx, attr, "ip_address is not a valid IP address");
            return NULL;
        }
    }
    entry = json_object();
    if (sid) {
        json_object_set(entry, "subnet_id", sid);
    }
    if (ip) {
        json_object_set_new(entry, "ip_address", ip);
    }
    return entry;
}

int
neutron_validate_fixed_ips(struct res_ctx *ctx, const struct attr_def *attr,
                           json_t **valuep)
{
    if (json_array_size(*valuep) > MAX_FIXED_IPS) {
        return bad_input(ctx, attr, "exceeded maximum of %d fixed IPs",
                         MAX_FIXED_IPS);
    }
    return canon_list(ctx, attr, valuep, fixed_ip_elem);
}

int
neutron_validate_string_list(struct res_ctx *ctx,
                             const struct attr_def *attr, json_t **valuep)
{
    size_t i;
    json_t *e;

    json_array_foreach (*valuep, i, e) {
        if (!json_is_string(e) || json_string_length(e) > 255) {
            return bad_input(ctx, attr, "element %zu is not a string", i);
        }
    }
    return 0;
}

static json_t *
address_pair_elem(struct res_ctx *ctx, const struct attr_def *attr,
                  size_t i, const json_t *e, const json_t *done)
{
    static const char *const keys[] = { "ip_address", "mac_address", NULL };
    const char *ip = json_string_value(json_object_get(e, "ip_address"));
    const json_t *m = json_object_get(e, "mac_address");
    char buf[IPAM_PREFIX_STRLEN], mbuf[IPAM_MAC_STRLEN];
    struct ipam_prefix p;
    struct ipam_addr a;
    uint8_t mac[6];
    json_t *pair;

    if (!json_is_object(e) || !only_keys(e, keys)) {
        bad_input(ctx, attr, "pair %zu is invalid", i);
        return NULL;
    }
    if (!ip || (!ipam_addr_parse(ip, &a) && !ipam_prefix_parse(ip, &p))) {
        bad_input(ctx, attr, "'%s' is not a valid IP address or CIDR",
                  ip ? ip : "None");
        return NULL;
    }
    if (m && !ipam_mac_parse(json_string_value(m), mac)) {
        bad_input(ctx, attr, "'%s' is not a valid MAC address",
                  json_string_value(m) ? json_string_value(m) : "None");
        return NULL;
    }
    pair = json_pack("{s:s}", "ip_address",
                     (ipam_addr_parse(ip, &a) ? ipam_addr_format(&a, buf)
                      : ipam_prefix_format(&p, buf)));
    if (m) {
        json_object_set_new(pair, "mac_address",
                            json_string(ipam_mac_format(mac, mbuf)));
    }
    if (list_has(done, pair)) {
        res_error(ctx, 400, "DuplicateAddressPairInRequest",
                  "Request contains duplicate address pair: mac_address %s "
                  "ip_address %s.", m ? mbuf : "None", buf);
        json_decref(pair);
        return NULL;
    }
    return pair;
}

int
neutron_validate_address_pairs(struct res_ctx *ctx,
                               const struct attr_def *attr, json_t **valuep)
{
    if (json_array_size(*valuep) > NEUTRON_MAX_ADDRESS_PAIRS) {
        return res_error(ctx, 400, "AllowedAddressPairExhausted",
                         "The number of allowed address pair exceeds the "
                         "maximum %d.", NEUTRON_MAX_ADDRESS_PAIRS);
    }
    return canon_list(ctx, attr, valuep, address_pair_elem);
}

int
neutron_validate_uuid_list(struct res_ctx *ctx, const struct attr_def *attr,
                           json_t **valuep)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;

    json_array_foreach (*valuep, i, e) {
        if (!json_is_string(e) || !str_is_uuid(json_string_value(e))) {
            json_decref(out);
            return bad_input(ctx, attr, "'%s' is not a valid UUID",
                             json_is_string(e) ? json_string_value(e)
                             : "(not a string)");
        }
        if (!list_has(out, e)) {
            json_array_append(out, e);
        }
    }
    replace(valuep, out);
    return 0;
}

int
neutron_validate_dict_list(struct res_ctx *ctx, const struct attr_def *attr,
                           json_t **valuep)
{
    size_t i;
    json_t *e;

    json_array_foreach (*valuep, i, e) {
        if (!json_is_object(e)) {
            return bad_input(ctx, attr, "element %zu is not a dictionary", i);
        }
    }
    return 0;
}

int
neutron_validate_network_type(struct res_ctx *ctx,
                              const struct attr_def *attr, json_t **valuep)
{
    const char *s = json_string_value(*valuep);

    if (strcmp(s, "geneve") && strcmp(s, "vxlan")) {
        return bad_input(ctx, attr, "network type '%s' is not supported "
                         "(geneve, vxlan)", s);
    }
    return 0;
}

int
neutron_validate_segmentation_id(struct res_ctx *ctx,
                                 const struct attr_def *attr,
                                 json_t **valuep)
{
    json_int_t v = json_integer_value(*valuep);

    if (v < 1 || v > NEUTRON_MAX_VNI) {
        return bad_input(ctx, attr, "%" JSON_INTEGER_FORMAT " is not in "
                         "1..%d", v, NEUTRON_MAX_VNI);
    }
    return 0;
}

int
neutron_validate_mtu(struct res_ctx *ctx, const struct attr_def *attr,
                     json_t **valuep)
{
    json_int_t v = json_integer_value(*valuep);

    if (v < 68 || v > 65535) {
        return bad_input(ctx, attr, "%" JSON_INTEGER_FORMAT " is not in "
                         "68..65535", v);
    }
    return 0;
}

int
neutron_validate_ipv6_mode(struct res_ctx *ctx, const struct attr_def *attr,
                           json_t **valuep)
{
    const char *s = json_string_value(*valuep);

    if (strcmp(s, "slaac") && strcmp(s, "dhcpv6-stateful")
        && strcmp(s, "dhcpv6-stateless")) {
        return bad_input(ctx, attr, "'%s' is not a valid IPv6 mode", s);
    }
    return 0;
}

int
neutron_validate_null_only(struct res_ctx *ctx, const struct attr_def *attr,
                           json_t **valuep)
{
    /* Validators never see null, the one value allowed. */
    return bad_input(ctx, attr, "only null is supported");
}

int
neutron_validate_vnic_type(struct res_ctx *ctx, const struct attr_def *attr,
                           json_t **valuep)
{
    static const char *const types[] = {
        "normal", "direct", "macvtap", "baremetal", "direct-physical",
        "virtio-forwarder", "smart-nic", "vdpa", "remote-managed",
    };
    const char *s = json_string_value(*valuep);

    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        if (!strcmp(s, types[i])) {
            return 0;
        }
    }
    return bad_input(ctx, attr, "'%s' is not a valid vnic type", s);
}

int
neutron_validate_gateway_info(struct res_ctx *ctx,
                              const struct attr_def *attr, json_t **valuep)
{
    /* {} clears a gateway, like null (openstackclient's "router unset
     * --external-gateway" sends it). */
    if (!json_object_size(*valuep)) {
        replace(valuep, json_null());
        return 0;
    }
    return bad_input(ctx, attr, "external gateways are not supported yet; "
                     "only null (no gateway) is accepted");
}

int
neutron_validate_distributed(struct res_ctx *ctx,
                             const struct attr_def *attr, json_t **valuep)
{
    return json_is_true(*valuep) ? 0 : bad_input(
        ctx, attr, "every Weft router is distributed; centralized routers "
        "are not supported");
}

int
neutron_validate_ha(struct res_ctx *ctx, const struct attr_def *attr,
                    json_t **valuep)
{
    return json_is_false(*valuep) ? 0 : bad_input(
        ctx, attr, "Weft routers are distributed, so there are no HA "
        "routers");
}

/* Networks. */

int
neutron_network_mtu(const struct api_config *cfg, const char *encap)
{
    int overhead = (!strcmp(encap, "vxlan") ? NEUTRON_VXLAN_OVERHEAD
                    : NEUTRON_GENEVE_OVERHEAD);
    return cfg->global_physnet_mtu - overhead;
}

static char *
vni_key(json_int_t vni)
{
    return xasprintf("idx/vni/%08lld", (long long) vni);
}

/* Finds the lowest free VNI.  Returns 0 if none is free. */
static int
vni_allocate(struct res_ctx *ctx, json_int_t *vnip)
{
    struct store_kvs kvs;
    json_int_t next = 1;
    int error;

    error = range_keys(ctx, "idx/vni/", &kvs);
    if (error) {
        store_kvs_destroy(&kvs);
        return error;
    }
    /* Keys are zero-padded, so key order is numeric order. */
    for (size_t i = 0; i < kvs.n; i++) {
        long long v = atoll(kvs.kvs[i].key + strlen("idx/vni/"));
        if (v > next) {
            break;
        } else if (v == next) {
            next++;
        }
    }
    store_kvs_destroy(&kvs);
    if (next > NEUTRON_MAX_VNI) {
        return res_error(ctx, 503, "NoNetworkAvailable",
                         "Unable to create the network. No tenant network "
                         "is available for allocation.");
    }
    *vnip = next;
    return 0;
}

static int
check_mtu(struct res_ctx *ctx, json_t *obj)
{
    const char *type = get_str(obj, "provider:network_type");
    int max = neutron_network_mtu(ctx->cfg, type);
    json_t *mtu = json_object_get(obj, "mtu");

    if (!mtu || json_is_null(mtu)) {
        json_object_set_new(obj, "mtu", json_integer(max));
    } else if (json_integer_value(mtu) > max) {
        return res_error(ctx, 400, "InvalidInput",
                         "Invalid input for operation: Requested MTU is "
                         "too big, maximum is %d.", max);
    }
    return 0;
}

int
neutron_network_create(struct res_ctx *ctx, json_t *obj)
{
    const char *id = get_str(obj, "id");
    json_t *seg = json_object_get(obj, "provider:segmentation_id");
    json_int_t vni = 0;
    char *key;
    int error;

    if (!json_string_value(json_object_get(obj, "provider:network_type"))) {
        json_object_set_new(obj, "provider:network_type",
                            json_string(ctx->cfg->encap));
    }
    error = check_mtu(ctx, obj);
    if (error) {
        return error;
    }
    if (seg && !json_is_null(seg)) {
        vni = json_integer_value(seg);
        key = vni_key(vni);
        if (key_exists(ctx, key, NULL)) {
            free(key);
            return res_error(ctx, 409, "TunnelIdInUse",
                             "Unable to create the network. The tunnel ID "
                             "%" JSON_INTEGER_FORMAT " is in use.", vni);
        }
    } else {
        error = vni_allocate(ctx, &vni);
        if (error) {
            return error;
        }
        key = vni_key(vni);
        json_object_set_new(obj, "provider:segmentation_id",
                            json_integer(vni));
    }
    error = put_key(ctx, key, id);
    free(key);
    json_object_set_new(obj, "status", json_string("ACTIVE"));
    return (error ? error
            : sg_ensure_default(ctx, get_str(obj, "project_id"), NULL));
}

int
neutron_network_update(struct res_ctx *ctx, const json_t *old, json_t *obj,
                       const json_t *changes)
{
    return json_object_get(changes, "mtu") ? check_mtu(ctx, obj) : 0;
}

/* Appends to 'out' every port on network 'net_id'.  Every port holds
 * exactly one MAC index key, "idx/mac/<network>/<mac>" -> port id, so the
 * index lists the network's ports without reading anyone else's. */
static int
ports_on_network(struct res_ctx *ctx, const char *net_id, json_t *out)
{
    char *prefix = xasprintf("idx/mac/%s/", net_id);
    int error = index_load(ctx, prefix, "ports", out);

    free(prefix);
    return error;
}

/* Frees every index key of 'port' (its IPs and MAC). */
static int
port_release(struct res_ctx *ctx, const json_t *port, bool ips, bool mac)
{
    const char *net = get_str(port, "network_id");
    json_t *fixed = json_object_get(port, "fixed_ips");
    int error = 0;
    size_t i;
    json_t *e;

    if (ips) {
        json_array_foreach (fixed, i, e) {
            char *key = xasprintf("idx/ip/%s/%s", get_str(e, "subnet_id"),
                                  get_str(e, "ip_address"));
            error = error ? error : delete_key(ctx, key);
            free(key);
        }
    }
    if (mac) {
        char *key = xasprintf("idx/mac/%s/%s", net,
                              get_str(port, "mac_address"));
        error = error ? error : delete_key(ctx, key);
        free(key);
    }
    return error;
}

int
neutron_network_remove(struct res_ctx *ctx, const json_t *obj)
{
    const char *id = get_str(obj, "id");
    json_t *ports = json_array();
    json_t *subnets = json_object_get(obj, "subnets");
    char *key;
    size_t i;
    json_t *e;
    int error;

    error = ports_on_network(ctx, id, ports);
    if (error) {
        goto out;
    }
    json_array_foreach (ports, i, e) {
        if (strcmp(get_str(e, "device_owner"), "network:dhcp")) {
            error = res_error(ctx, 409, "NetworkInUse",
                              "Unable to complete operation on network %s. "
                              "There are one or more ports still in use on "
                              "the network.", id);
            goto out;
        }
    }
    json_array_foreach (ports, i, e) {
        error = port_release(ctx, e, true, true);
        if (error) {
            goto out;
        }
        error = resource_erase(ctx, def_of("ports"), get_str(e, "id"));
        if (error) {
            goto out;
        }
    }
    json_array_foreach (subnets, i, e) {
        error = resource_erase(ctx, def_of("subnets"), json_string_value(e));
        if (error) {
            goto out;
        }
    }
    key = vni_key(json_integer_value(
                      json_object_get(obj, "provider:segmentation_id")));
    error = delete_key(ctx, key);
    free(key);

out:
    json_decref(ports);
    return error;
}

/* Subnets. */

/* Parses the allocation pools of subnet 'sub' into 'pools' (at most
 * MAX_POOLS); returns the count. */
static size_t
subnet_pools(const json_t *sub, struct ipam_range *pools)
{
    json_t *list = json_object_get(sub, "allocation_pools");
    size_t n = 0, i;
    json_t *e;

    json_array_foreach (list, i, e) {
        if (n < MAX_POOLS
            && ipam_addr_parse(get_str(e, "start"), &pools[n].start)
            && ipam_addr_parse(get_str(e, "end"), &pools[n].end)) {
            n++;
        }
    }
    return n;
}

static json_t *
pools_to_json(const struct ipam_range *pools, size_t n)
{
    json_t *list = json_array();

    for (size_t i = 0; i < n; i++) {
        char a[IPAM_ADDR_STRLEN], b[IPAM_ADDR_STRLEN];
        json_array_append_new(list, json_pack(
                                  "{s:s,s:s}",
                                  "start", ipam_addr_format(&pools[i].start,
                                                            a),
                                  "end", ipam_addr_format(&pools[i].end,
                                                          b)));
    }
    return list;
}

/* Checks the gateway and allocation pools of subnet 'obj' (whose cidr is
 * valid), filling the defaults when 'defaults'. */
static int
check_gateway_and_pools(struct res_ctx *ctx, json_t *obj, bool defaults)
{
    struct ipam_prefix p;
    struct ipam_addr gw;
    struct ipam_range pools[MAX_POOLS];
    json_t *gwj = json_object_get(obj, "gateway_ip");
    bool has_gw = false;
    size_t n;

    ASSERT(ipam_prefix_parse(get_str(obj, "cidr"), &p));
    if (!gwj && defaults) {
        char buf[IPAM_ADDR_STRLEN];
        gw = ipam_prefix_default_gateway(&p);
        json_object_set_new(obj, "gateway_ip",
                            json_string(ipam_addr_format(&gw, buf)));
        has_gw = true;
    } else if (gwj && !json_is_null(gwj)) {
        ASSERT(ipam_addr_parse(json_string_value(gwj), &gw));
        if (!ipam_prefix_contains(&p, &gw)
            || ipam_prefix_is_reserved(&p, &gw)) {
            return invalid_input(ctx, "Gateway IP %s is not valid on "
                                 "subnet %s", json_string_value(gwj),
                                 get_str(obj, "cidr"));
        }
        has_gw = true;
    } else if (!gwj) {
        json_object_set_new(obj, "gateway_ip", json_null());
    }

    if (!json_object_get(obj, "allocation_pools")) {
        ASSERT(defaults);
        n = ipam_default_pools(&p, has_gw ? &gw : NULL, pools);
        json_object_set_new(obj, "allocation_pools",
                            pools_to_json(pools, n));
        return 0;
    }
    json_t *list = json_object_get(obj, "allocation_pools");
    n = subnet_pools(obj, pools);
    ASSERT(n == json_array_size(list));
    for (size_t i = 0; i < n; i++) {
        struct ipam_range *r = &pools[i];
        char a[IPAM_ADDR_STRLEN], b[IPAM_ADDR_STRLEN];

        ipam_addr_format(&r->start, a);
        ipam_addr_format(&r->end, b);
        if (!ipam_prefix_contains(&p, &r->start)
            || !ipam_prefix_contains(&p, &r->end)
            || ipam_prefix_is_reserved(&p, &r->start)
            || ipam_prefix_is_reserved(&p, &r->end)) {
            return res_error(ctx, 400, "OutOfBoundsAllocationPool",
                             "The allocation pool %s-%s spans beyond the "
                             "subnet cidr %s.", a, b, get_str(obj, "cidr"));
        }
        if (ipam_addr_cmp(&r->start, &r->end) > 0) {
            return res_error(ctx, 400, "InvalidAllocationPool",
                             "The allocation pool %s-%s is not valid.", a,
                             b);
        }
        for (size_t j = 0; j < i; j++) {
            if (ipam_range_overlaps(r, &pools[j])) {
                return res_error(ctx, 400, "OverlappingAllocationPools",
                                 "Found overlapping allocation pools: "
                                 "%s-%s overlaps with another pool for "
                                 "subnet %s.", a, b, get_str(obj, "cidr"));
            }
        }
        if (has_gw && ipam_range_contains(r, &gw)) {
            char g[IPAM_ADDR_STRLEN];
            return res_error(ctx, 409, "GatewayConflictWithAllocationPools",
                             "Gateway ip %s conflicts with allocation pool "
                             "%s-%s.", ipam_addr_format(&gw, g), a, b);
        }
    }
    return 0;
}

int
neutron_subnet_create(struct res_ctx *ctx, json_t *obj)
{
    const char *id = get_str(obj, "id");
    const char *net_id = get_str(obj, "network_id");
    json_int_t version = json_integer_value(json_object_get(obj,
                                                            "ip_version"));
    json_t *net = NULL, *subnets;
    struct ipam_prefix p;
    size_t i;
    json_t *e;
    int error;

    error = load_ref(ctx, "networks", net_id, 404, &net);
    if (error) {
        return error;
    }
    ASSERT(ipam_prefix_parse(get_str(obj, "cidr"), &p));
    if (p.addr.family != version) {
        error = invalid_input(ctx, "cidr '%s' does not match the ip_version "
                              "'%d'", get_str(obj, "cidr"), (int) version);
        goto out;
    }
    if (version == 4
        && (!json_is_null(json_object_get(obj, "ipv6_ra_mode"))
            || !json_is_null(json_object_get(obj, "ipv6_address_mode")))) {
        error = invalid_input(ctx, "ipv6_ra_mode or ipv6_address_mode "
                              "cannot be set when ip_version is 4");
        goto out;
    }
    subnets = json_object_get(net, "subnets");
    json_array_foreach (subnets, i, e) {
        json_t *other = NULL;
        struct ipam_prefix q;
        bool overlap;

        char *key = xasprintf("subnets/%s", json_string_value(e));
        char *value;
        bool exists = key_exists(ctx, key, &value);
        free(key);
        if (!exists) {
            continue;
        }
        other = json_loads(value, 0, NULL);
        free(value);
        overlap = (ipam_prefix_parse(get_str(other, "cidr"), &q)
                   && ipam_prefix_overlaps(&p, &q));
        json_decref(other);
        if (overlap) {
            error = invalid_input(ctx, "Requested subnet with cidr: %s for "
                                  "network: %s overlaps with another subnet",
                                  get_str(obj, "cidr"), net_id);
            goto out;
        }
    }
    error = check_gateway_and_pools(ctx, obj, true);
    if (error) {
        goto out;
    }
    json_array_append_new(subnets, json_string(id));
    error = resource_touch(ctx, def_of("networks"), net);

out:
    json_decref(net);
    return error;
}

/* Refuses to move the gateway of subnet 'old' away from under the router
 * interface that holds it. */
static int
check_gateway_unused(struct res_ctx *ctx, const json_t *old,
                     const json_t *obj)
{
    const char *gw = json_string_value(json_object_get(old, "gateway_ip"));
    const char *new = json_string_value(json_object_get(obj, "gateway_ip"));
    char *key, *port_id = NULL;
    json_t *port = NULL;
    int error = 0;

    if (!gw || (new && !strcmp(gw, new))) {
        return 0;
    }
    key = xasprintf("idx/ip/%s/%s", get_str(old, "id"), gw);
    if (key_exists(ctx, key, &port_id)) {
        error = resource_load(ctx, def_of("ports"), port_id, &port);
        if (error == 404) {
            res_error_clear(ctx);
            error = 0;
        } else if (!error && is_router_interface(port)) {
            error = res_error(ctx, 409, "GatewayIpInUse",
                              "Current gateway ip %s already in use by port "
                              "%s. Unable to update.", gw, port_id);
        }
    }
    json_decref(port);
    free(port_id);
    free(key);
    return error;
}

int
neutron_subnet_update(struct res_ctx *ctx, const json_t *old, json_t *obj,
                      const json_t *changes)
{
    if (json_object_get(changes, "gateway_ip")
        || json_object_get(changes, "allocation_pools")) {
        int error = check_gateway_unused(ctx, old, obj);
        return error ? error : check_gateway_and_pools(ctx, obj, false);
    }
    return 0;
}

int
neutron_subnet_remove(struct res_ctx *ctx, const json_t *obj)
{
    const char *id = get_str(obj, "id");
    json_t *net = NULL;
    char *prefix;
    bool used;
    int error;

    prefix = xasprintf("idx/ip/%s/", id);
    error = index_in_use(ctx, prefix, &used);
    free(prefix);
    if (error) {
        goto out;
    }
    if (used) {
        error = res_error(ctx, 409, "SubnetInUse",
                          "Unable to complete operation on subnet %s: One "
                          "or more ports have an IP allocation from this "
                          "subnet.", id);
        goto out;
    }
    if (!resource_load(ctx, def_of("networks"), get_str(obj, "network_id"),
                       &net)) {
        json_t *subnets = json_object_get(net, "subnets");
        size_t i;
        json_t *e;

        json_array_foreach (subnets, i, e) {
            if (!strcmp(json_string_value(e), id)) {
                json_array_remove(subnets, i);
                break;
            }
        }
        error = resource_touch(ctx, def_of("networks"), net);
    } else {
        /* A subnet without its network: nothing to unlink. */
        res_error_clear(ctx);
    }

out:
    json_decref(net);
    return error;
}

/* Ports. */

static int
mac_claim(struct res_ctx *ctx, const char *net_id, const char *port_id,
          json_t *obj)
{
    const char *given = json_string_value(json_object_get(obj,
                                                          "mac_address"));
    char buf[IPAM_MAC_STRLEN];
    char *key;
    int error;

    if (given) {
        key = xasprintf("idx/mac/%s/%s", net_id, given);
        if (key_exists(ctx, key, NULL)) {
            free(key);
            return res_error(ctx, 409, "MacAddressInUse",
                             "Unable to complete operation for network %s. "
                             "The mac address %s is in use.", net_id,
                             given);
        }
    } else {
        key = NULL;
        for (int tries = 0; tries < 64 && !key; tries++) {
            uint8_t mac[6];

            ipam_mac_random(mac);
            key = xasprintf("idx/mac/%s/%s", net_id,
                            ipam_mac_format(mac, buf));
            if (key_exists(ctx, key, NULL)) {
                free(key);
                key = NULL;
            }
        }
        if (!key) {
            return res_error(ctx, 503, "MacAddressGenerationFailure",
                             "Unable to generate unique mac on network %s.",
                             net_id);
        }
        json_object_set_new(obj, "mac_address", json_string(buf));
    }
    error = put_key(ctx, key, port_id);
    free(key);
    return error;
}

/* Loads subnet 'sid' and checks it belongs to network 'net_id'. */
static int
load_port_subnet(struct res_ctx *ctx, const char *net_id, const char *sid,
                 json_t **subp)
{
    int error = load_ref(ctx, "subnets", sid, 400, subp);

    if (!error && strcmp(get_str(*subp, "network_id"), net_id)) {
        json_decref(*subp);
        *subp = NULL;
        return invalid_input(ctx, "Failed to create port on network %s, "
                             "because fixed_ips included invalid subnet %s",
                             net_id, sid);
    }
    return error;
}

/* Allocates the lowest free address of subnet 'sub' for 'port_id' and
 * appends {subnet_id, ip_address} to 'out'. */
static int
ip_allocate_next(struct res_ctx *ctx, const json_t *sub, const char *net_id,
                 const char *port_id, json_t *out)
{
    const char *sid = get_str(sub, "id");
    struct ipam_range pools[MAX_POOLS];
    struct ipam_addr *used, a;
    char buf[IPAM_ADDR_STRLEN];
    struct store_kvs kvs;
    size_t n_used = 0, n_pools;
    char *prefix, *key;
    int error;

    prefix = xasprintf("idx/ip/%s/", sid);
    error = range_keys(ctx, prefix, &kvs);
    if (error) {
        free(prefix);
        store_kvs_destroy(&kvs);
        return error;
    }
    used = xcalloc(kvs.n, sizeof *used);
    for (size_t i = 0; i < kvs.n; i++) {
        if (ipam_addr_parse(kvs.kvs[i].key + strlen(prefix), &used[n_used])) {
            n_used++;
        }
    }
    free(prefix);
    store_kvs_destroy(&kvs);
    ipam_addr_sort(used, n_used);
    n_pools = subnet_pools(sub, pools);
    if (!ipam_next_free(pools, n_pools, used, n_used, &a)) {
        free(used);
        return res_error(ctx, 409, "IpAddressGenerationFailure",
                         "No more IP addresses available for subnet %s.",
                         sid);
    }
    free(used);
    ipam_addr_format(&a, buf);
    key = xasprintf("idx/ip/%s/%s", sid, buf);
    error = put_key(ctx, key, port_id);
    free(key);
    json_array_append_new(out, json_pack("{s:s,s:s}", "subnet_id", sid,
                                         "ip_address", buf));
    return error;
}

/* Claims the specific address 'ip' (canonical) for 'port_id'. */
static int
ip_claim(struct res_ctx *ctx, const json_t *sub, const char *ip,
         const char *port_id, const char *owner, json_t *out)
{
    const char *sid = get_str(sub, "id");
    struct ipam_prefix p;
    struct ipam_addr a;
    char *key;
    int error;

    ASSERT(ipam_prefix_parse(get_str(sub, "cidr"), &p));
    ASSERT(ipam_addr_parse(ip, &a));
    if (!ipam_prefix_contains(&p, &a) || ipam_prefix_is_reserved(&p, &a)) {
        return res_error(ctx, 400, "InvalidIpForSubnet",
                         "IP address %s is not a valid IP for the specified "
                         "subnet.", ip);
    }
    key = xasprintf("idx/ip/%s/%s", sid, ip);
    if (key_exists(ctx, key, NULL)
        || (!strcmp(get_str(sub, "gateway_ip"), ip)
            && strncmp(owner, "network:router", 14))) {
        free(key);
        return res_error(ctx, 409, "IpAddressAlreadyAllocated",
                         "IP address %s already allocated in subnet %s",
                         ip, sid);
    }
    error = put_key(ctx, key, port_id);
    free(key);
    json_array_append_new(out, json_pack("{s:s,s:s}", "subnet_id", sid,
                                         "ip_address", ip));
    return error;
}

/* Finds the subnet of network 'net' that contains 'ip'. */
static int
find_subnet_for_ip(struct res_ctx *ctx, const json_t *net, const char *ip,
                   json_t **subp)
{
    struct ipam_addr a;
    size_t i;
    json_t *e;

    *subp = NULL;
    ASSERT(ipam_addr_parse(ip, &a));
    json_array_foreach (json_object_get(net, "subnets"), i, e) {
        json_t *sub;
        struct ipam_prefix p;

        if (resource_load(ctx, def_of("subnets"), json_string_value(e),
                          &sub)) {
            res_error_clear(ctx);
            continue;
        }
        if (ipam_prefix_parse(get_str(sub, "cidr"), &p)
            && ipam_prefix_contains(&p, &a)) {
            *subp = sub;
            return 0;
        }
        json_decref(sub);
    }
    return res_error(ctx, 400, "InvalidIpForNetwork",
                     "IP address %s is not a valid IP for any of the "
                     "subnets on the specified network.", ip);
}

/* Allocates the fixed IPs of 'port' on 'net': 'requested' as validated by
 * neutron_validate_fixed_ips(), or NULL for the default (one address from
 * the first subnet of each IP version).  Stores the result in the port. */
static int
port_allocate_ips(struct res_ctx *ctx, const json_t *net, json_t *port,
                  const json_t *requested)
{
    const char *net_id = get_str(net, "id");
    const char *port_id = get_str(port, "id");
    const char *owner = get_str(port, "device_owner");
    json_t *out = json_array();
    int error = 0;
    size_t i;
    json_t *e;

    if (!requested) {
        bool done4 = false, done6 = false;

        json_array_foreach (json_object_get(net, "subnets"), i, e) {
            json_t *sub;
            bool v4;

            if (resource_load(ctx, def_of("subnets"), json_string_value(e),
                              &sub)) {
                res_error_clear(ctx);
                continue;
            }
            v4 = json_integer_value(json_object_get(sub, "ip_version")) == 4;
            if (!(v4 ? done4 : done6)) {
                error = ip_allocate_next(ctx, sub, net_id, port_id, out);
                *(v4 ? &done4 : &done6) = true;
            }
            json_decref(sub);
            if (error) {
                goto out;
            }
        }
    } else {
        json_array_foreach (requested, i, e) {
            const char *sid = json_string_value(json_object_get(e,
                                                                "subnet_id"));
            const char *ip = json_string_value(json_object_get(e,
                                                               "ip_address"));
            json_t *sub = NULL;

            error = (sid ? load_port_subnet(ctx, net_id, sid, &sub)
                     : find_subnet_for_ip(ctx, net, ip, &sub));
            if (!error) {
                error = (ip ? ip_claim(ctx, sub, ip, port_id, owner, out)
                         : ip_allocate_next(ctx, sub, net_id, port_id, out));
            }
            json_decref(sub);
            if (error) {
                goto out;
            }
        }
    }

out:
    if (error) {
        json_decref(out);
    } else {
        json_object_set_new(port, "fixed_ips", out);
    }
    return error;
}

static char *
router_port_key(const json_t *port)
{
    return xasprintf("idx/router-port/%s/%s", get_str(port, "device_id"),
                     get_str(port, "id"));
}

/* Keeps the router interface index in step with 'port', whose previous
 * version is 'old' (NULL for a new port; 'port' is NULL for a deleted
 * one).  An unbound interface port is ACTIVE, because every agent routes
 * for it; one that stops being an interface is DOWN again. */
static int
port_sync_router(struct res_ctx *ctx, const json_t *old, json_t *port)
{
    bool was = old && is_router_interface(old);
    bool is = port && is_router_interface(port);
    bool moved = (was && is && strcmp(get_str(old, "device_id"),
                                      get_str(port, "device_id")));
    int error = 0;
    char *key;

    if (was && (!is || moved)) {
        key = router_port_key(old);
        error = delete_key(ctx, key);
        free(key);
    }
    if (!error && is && (!was || moved)) {
        key = router_port_key(port);
        error = put_key(ctx, key, get_str(port, "id"));
        free(key);
    }
    if (port && !*get_str(port, "binding:host_id") && (is || was)) {
        json_object_set_new(port, "status",
                            json_string(is ? "ACTIVE" : "DOWN"));
    }
    return error;
}

static void
port_set_vif_type(json_t *port)
{
    const char *host = get_str(port, "binding:host_id");
    json_object_set_new(port, "binding:vif_type",
                        json_string(*host ? "other" : "unbound"));
}

int
neutron_port_create(struct res_ctx *ctx, json_t *obj)
{
    const char *net_id = get_str(obj, "network_id");
    json_t *net = NULL;
    int error;

    error = load_ref(ctx, "networks", net_id, 404, &net);
    if (error) {
        return error;
    }
    error = mac_claim(ctx, net_id, get_str(obj, "id"), obj);
    if (!error) {
        error = port_allocate_ips(ctx, net, obj,
                                  json_object_get(obj, "fixed_ips"));
    }
    json_object_set_new(obj, "status", json_string("DOWN"));
    port_set_vif_type(obj);
    if (!error) {
        error = port_sync_router(ctx, NULL, obj);
    }
    if (!error) {
        error = port_sync_security(ctx, net, NULL, obj, NULL);
    }
    json_decref(net);
    return error;
}

int
neutron_port_update(struct res_ctx *ctx, const json_t *old, json_t *obj,
                    const json_t *changes)
{
    const char *net_id = get_str(obj, "network_id");
    json_t *net = NULL;
    int error = 0;

    if (json_object_get(changes, "mac_address")
        && strcmp(get_str(old, "mac_address"),
                  get_str(obj, "mac_address"))) {
        error = port_release(ctx, old, false, true);
        if (!error) {
            error = mac_claim(ctx, net_id, get_str(obj, "id"), obj);
        }
    }
    if (!error && json_object_get(changes, "fixed_ips")) {
        error = port_release(ctx, old, true, false);
        if (!error) {
            error = load_ref(ctx, "networks", net_id, 404, &net);
        }
        if (!error) {
            json_t *req = json_incref(json_object_get(obj, "fixed_ips"));
            error = port_allocate_ips(ctx, net, obj, req);
            json_decref(req);
        }
    }
    /* A port that changes host is not up anywhere until the new host's
     * agent attaches it (and only that agent may then set it ACTIVE), so
     * it is DOWN now -- not left ACTIVE on the strength of the old host. */
    if (strcmp(get_str(old, "binding:host_id"),
               get_str(obj, "binding:host_id"))) {
        json_object_set_new(obj, "status", json_string("DOWN"));
    }
    port_set_vif_type(obj);
    if (!error) {
        error = port_sync_router(ctx, old, obj);
    }
    if (!error) {
        error = port_sync_security(ctx, net, old, obj, changes);
    }
    json_decref(net);
    return error;
}

/* Releases everything 'port' holds besides its own key: its addresses,
 * its MAC, its place in the router interface index. */
static int
port_unlink(struct res_ctx *ctx, const json_t *port)
{
    int error = port_release(ctx, port, true, true);

    if (!error) {
        error = port_sync_router(ctx, port, NULL);
    }
    return error ? error : port_sync_sg_index(ctx, port, NULL);
}

int
neutron_port_remove(struct res_ctx *ctx, const json_t *obj)
{
    /* Only remove_router_interface takes an interface off its router
     * (which checks the routes that depend on it). */
    if (is_router_interface(obj)) {
        json_t *router;
        int error = resource_load(ctx, def_of("routers"),
                                  get_str(obj, "device_id"), &router);

        json_decref(router);
        if (!error) {
            return res_error(ctx, 409, "ServicePortInUse",
                             "Port %s cannot be deleted directly via the "
                             "port API: has device owner %s.",
                             get_str(obj, "id"), NEUTRON_ROUTER_INTERFACE);
        } else if (error != 404) {
            return error;
        }
        res_error_clear(ctx);
    }
    return port_unlink(ctx, obj);
}

/* Routers. */

/* Records 400 BadRequest "Bad router request: <reason>." */
static int
bad_router_request(struct res_ctx *ctx, const char *fmt, ...)
    PRINTF_FMT(2, 3);

static int
bad_router_request(struct res_ctx *ctx, const char *fmt, ...)
{
    va_list args;
    int status;

    va_start(args, fmt);
    status = input_error(ctx, "BadRequest", "Bad router request: ", fmt,
                         args);
    va_end(args);
    return status;
}

/* Appends to 'out', for every fixed IP of every interface port of router
 * 'router_id', {"port": PORT, "subnet": SUBNET, "ip_address": IP}. */
static int
router_interfaces(struct res_ctx *ctx, const char *router_id, json_t *out)
{
    char *prefix = xasprintf("idx/router-port/%s/", router_id);
    json_t *ports = json_array(), *port;
    size_t i;
    int error;

    error = index_load(ctx, prefix, "ports", ports);
    json_array_foreach (ports, i, port) {
        json_t *e;
        size_t j;

        if (error) {
            break;
        }
        json_array_foreach (json_object_get(port, "fixed_ips"), j, e) {
            json_t *sub;

            error = resource_load(ctx, def_of("subnets"),
                                  get_str(e, "subnet_id"), &sub);
            if (error) {
                break;
            }
            json_array_append_new(out, json_pack(
                                      "{s:O,s:o,s:s}", "port", port,
                                      "subnet", sub, "ip_address",
                                      get_str(e, "ip_address")));
        }
    }
    json_decref(ports);
    free(prefix);
    return error;
}

/* Checks that subnet 'sub' may join a router whose interfaces are
 * 'ifaces' (from router_interfaces()): not already there, and not
 * overlapping a subnet that is. */
static int
check_router_subnet(struct res_ctx *ctx, const json_t *ifaces,
                    const json_t *sub)
{
    const char *sid = get_str(sub, "id");
    struct ipam_prefix p, q;
    size_t i;
    json_t *f;

    ASSERT(ipam_prefix_parse(get_str(sub, "cidr"), &p));
    json_array_foreach (ifaces, i, f) {
        const json_t *other = json_object_get(f, "subnet");

        if (!strcmp(get_str(other, "id"), sid)) {
            return bad_router_request(ctx, "Router already has a port on "
                                      "subnet %s", sid);
        }
        if (ipam_prefix_parse(get_str(other, "cidr"), &q)
            && ipam_prefix_overlaps(&p, &q)) {
            return bad_router_request(ctx, "Cidr %s of subnet %s overlaps "
                                      "with cidr %s of subnet %s",
                                      get_str(sub, "cidr"), sid,
                                      get_str(other, "cidr"),
                                      get_str(other, "id"));
        }
    }
    return 0;
}

/* Why static route 'route' cannot be used by a router whose interfaces
 * are 'ifaces', or NULL if it can. */
static const char *
route_problem(const json_t *route, const json_t *ifaces)
{
    struct ipam_prefix dst, p;
    struct ipam_addr hop, a;
    bool connected = false;
    size_t i;
    json_t *f;

    if (!ipam_prefix_parse(get_str(route, "destination"), &dst)
        || !ipam_addr_parse(get_str(route, "nexthop"), &hop)) {
        return "the route is malformed";
    }
    if (dst.addr.family != hop.family) {
        return "the destination and the nexthop differ in IP version";
    }
    json_array_foreach (ifaces, i, f) {
        if (ipam_addr_parse(get_str(f, "ip_address"), &a)
            && a.family == hop.family && !ipam_addr_cmp(&a, &hop)) {
            return "the nexthop is used by router";
        }
        connected |= (ipam_prefix_parse(get_str(json_object_get(f, "subnet"),
                                                "cidr"), &p)
                      && ipam_prefix_contains(&p, &hop));
    }
    return connected ? NULL : "the nexthop is not connected with router";
}

/* Checks the routes of 'router' against its interfaces. */
static int
check_routes(struct res_ctx *ctx, const json_t *router)
{
    const char *id = get_str(router, "id");
    json_t *routes = json_object_get(router, "routes");
    json_t *ifaces;
    int error;
    size_t i;
    json_t *r;

    if (json_array_size(routes) > NEUTRON_MAX_ROUTES) {
        return res_error(ctx, 400, "RoutesExhausted",
                         "Unable to complete operation for %s. The number "
                         "of routes exceeds the maximum %d.", id,
                         NEUTRON_MAX_ROUTES);
    }
    ifaces = json_array();
    error = router_interfaces(ctx, id, ifaces);
    json_array_foreach (routes, i, r) {
        const char *why = error ? NULL : route_problem(r, ifaces);

        if (why) {
            char *text = json_dumps(routes, JSON_COMPACT);
            error = res_error(ctx, 400, "InvalidRoutes",
                              "Invalid format for routes: %s, %s.",
                              text ? text : "[]", why);
            free(text);
        }
    }
    json_decref(ifaces);
    return error;
}

int
neutron_router_update(struct res_ctx *ctx, const json_t *old, json_t *obj,
                      const json_t *changes)
{
    return json_object_get(changes, "routes") ? check_routes(ctx, obj) : 0;
}

int
neutron_router_remove(struct res_ctx *ctx, const json_t *obj)
{
    const char *id = get_str(obj, "id");
    char *prefix = xasprintf("idx/router-port/%s/", id);
    bool used;
    int error;

    error = index_in_use(ctx, prefix, &used);
    if (!error && used) {
        error = res_error(ctx, 409, "RouterInUse", "Router %s still has "
                          "ports", id);
    }
    free(prefix);
    return error;
}

/* Reads the subnet_id and port_id of an interface action's 'body' into
 * '*sidp' and '*pidp' (NULL when absent); at least one must be there. */
static int
interface_body(struct res_ctx *ctx, const json_t *body, const char **sidp,
               const char **pidp)
{
    const char *key;
    json_t *v;

    *sidp = *pidp = NULL;
    json_object_foreach ((json_t *) body, key, v) {
        const char **p = (!strcmp(key, "subnet_id") ? sidp
                          : !strcmp(key, "port_id") ? pidp : NULL);

        if (!p) {
            return bad_router_request(ctx, "Unrecognized attribute '%s'",
                                      key);
        }
        if (!json_is_string(v)) {
            return bad_router_request(ctx, "%s must be a UUID string", key);
        }
        if (!str_is_uuid(json_string_value(v))) {
            return bad_router_request(ctx, "'%s' is not a valid UUID",
                                      json_string_value(v));
        }
        *p = json_string_value(v);
    }
    if (!*sidp && !*pidp) {
        return bad_router_request(ctx, "Either subnet_id or port_id must be "
                                  "specified");
    }
    return 0;
}

/* Neutron's reply to an interface action on 'router' for 'port': the
 * subnet 'sid', or when 'sid' is NULL every subnet of the port. */
static json_t *
interface_info(const json_t *router, const json_t *port, const char *sid)
{
    json_t *ids = json_array();
    size_t i;
    json_t *e;

    if (sid) {
        json_array_append_new(ids, json_string(sid));
    } else {
        json_array_foreach (json_object_get(port, "fixed_ips"), i, e) {
            json_t *s = json_string(get_str(e, "subnet_id"));

            if (!list_has(ids, s)) {
                json_array_append(ids, s);
            }
            json_decref(s);
        }
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s}",
                     "id", get_str(router, "id"),
                     "tenant_id", get_str(router, "project_id"),
                     "project_id", get_str(router, "project_id"),
                     "port_id", get_str(port, "id"),
                     "subnet_id",
                     json_string_value(json_array_get(ids, 0)) ?: "",
                     "subnet_ids", ids,
                     "network_id", get_str(port, "network_id"));
}

/* add_router_interface by subnet: a new port on the subnet's gateway IP. */
static int
add_interface_by_subnet(struct res_ctx *ctx, const json_t *router,
                        const json_t *ifaces, const char *sid,
                        json_t **portp)
{
    const char *gw, *net_id;
    json_t *sub, *in;
    char *key;
    int error;

    error = load_ref(ctx, "subnets", sid, 404, &sub);
    if (error) {
        return error;
    }
    gw = json_string_value(json_object_get(sub, "gateway_ip"));
    net_id = get_str(sub, "network_id");
    if (!gw) {
        error = bad_router_request(ctx, "Subnet for router interface must "
                                   "have a gateway IP");
        goto out;
    }
    error = check_router_subnet(ctx, ifaces, sub);
    if (error) {
        goto out;
    }
    key = xasprintf("idx/ip/%s/%s", sid, gw);
    if (key_exists(ctx, key, NULL)) {
        error = res_error(ctx, 409, "IpAddressInUse",
                          "Unable to complete operation for network %s. The "
                          "IP address %s is in use.", net_id, gw);
    }
    free(key);
    if (error) {
        goto out;
    }
    in = json_pack("{s:s,s:[{s:s,s:s}],s:s,s:s,s:b,s:s,s:s,s:s}",
                   "network_id", net_id,
                   "fixed_ips", "subnet_id", sid, "ip_address", gw,
                   "device_owner", NEUTRON_ROUTER_INTERFACE,
                   "device_id", get_str(router, "id"),
                   "admin_state_up", true, "binding:host_id", "",
                   "project_id", get_str(router, "project_id"),
                   "name", "");
    error = resource_create(ctx, def_of("ports"), in, portp);
    json_decref(in);

out:
    json_decref(sub);
    return error;
}

/* add_router_interface by port: the unused port 'pid' joins the router,
 * unbound (the router is distributed). */
static int
add_interface_by_port(struct res_ctx *ctx, const json_t *router,
                      const json_t *ifaces, const char *pid, json_t **portp)
{
    const char *owner, *device;
    json_t *port, *fixed, *changes;
    size_t i;
    json_t *e;
    int error;

    error = resource_load(ctx, def_of("ports"), pid, &port);
    if (error) {
        return error;
    }
    owner = get_str(port, "device_owner");
    device = get_str(port, "device_id");
    fixed = json_object_get(port, "fixed_ips");
    if (*owner || *device) {
        error = res_error(ctx, 409, "PortInUse",
                          "Unable to complete operation on port %s for "
                          "network %s. Port already has an attached device "
                          "%s.", pid, get_str(port, "network_id"),
                          *device ? device : owner);
        goto out;
    }
    if (!json_array_size(fixed)) {
        error = bad_router_request(ctx, "Router port must have at least one "
                                   "fixed IP");
        goto out;
    }
    json_array_foreach (fixed, i, e) {
        json_t *sub;

        error = load_ref(ctx, "subnets", get_str(e, "subnet_id"), 404, &sub);
        if (!error) {
            error = check_router_subnet(ctx, ifaces, sub);
            json_decref(sub);
        }
        if (error) {
            goto out;
        }
    }
    changes = json_pack("{s:s,s:s,s:s}",
                        "device_owner", NEUTRON_ROUTER_INTERFACE,
                        "device_id", get_str(router, "id"),
                        "binding:host_id", "");
    error = resource_update(ctx, def_of("ports"), pid, changes, portp);
    json_decref(changes);

out:
    json_decref(port);
    return error;
}

/* Checks that no static route of 'router' goes through subnet 'sub'. */
static int
check_not_nexthop(struct res_ctx *ctx, const json_t *router,
                  const json_t *sub)
{
    struct ipam_prefix p;
    struct ipam_addr hop;
    size_t i;
    json_t *r;

    if (!ipam_prefix_parse(get_str(sub, "cidr"), &p)) {
        return 0;
    }
    json_array_foreach (json_object_get(router, "routes"), i, r) {
        if (ipam_addr_parse(get_str(r, "nexthop"), &hop)
            && ipam_prefix_contains(&p, &hop)) {
            return res_error(ctx, 409, "RouterInterfaceInUseByRoute",
                             "Router interface for subnet %s on router %s "
                             "cannot be deleted, as it is required by one "
                             "or more routes.", get_str(sub, "id"),
                             get_str(router, "id"));
        }
    }
    return 0;
}

/* Deletes interface port 'port' (a router interface, whose own checks are
 * the caller's). */
static int
port_destroy(struct res_ctx *ctx, const json_t *port)
{
    int error = port_unlink(ctx, port);

    return error ? error : resource_erase(ctx, def_of("ports"),
                                          get_str(port, "id"));
}

/* remove_router_interface by port 'pid' (and, if nonnull, subnet 'sid',
 * which must be one of the port's). */
static int
remove_interface_by_port(struct res_ctx *ctx, const json_t *router,
                         const json_t *ifaces, const char *pid,
                         const char *sid, json_t **portp)
{
    char *key = xasprintf("idx/router-port/%s/%s", get_str(router, "id"),
                          pid);
    bool on_subnet = false;
    json_t *port = NULL;
    size_t i;
    json_t *f;
    int error;

    if (!key_exists(ctx, key, NULL)) {
        free(key);
        return res_error(ctx, 404, "RouterInterfaceNotFound",
                         "Router %s does not have an interface with id %s",
                         get_str(router, "id"), pid);
    }
    free(key);
    error = resource_load(ctx, def_of("ports"), pid, &port);
    if (error) {
        return error;
    }
    json_array_foreach (json_object_get(port, "fixed_ips"), i, f) {
        on_subnet |= sid && !strcmp(get_str(f, "subnet_id"), sid);
    }
    if (sid && !on_subnet) {
        error = res_error(ctx, 400, "SubnetMismatchForPort",
                          "Subnet on port %s does not match the requested "
                          "subnet %s.", pid, sid);
    }
    json_array_foreach (ifaces, i, f) {
        if (!error && !strcmp(get_str(json_object_get(f, "port"), "id"),
                              pid)) {
            error = check_not_nexthop(ctx, router,
                                      json_object_get(f, "subnet"));
        }
    }
    if (!error) {
        error = port_destroy(ctx, port);
    }
    if (!error) {
        *portp = port;
    } else {
        json_decref(port);
    }
    return error;
}

/* remove_router_interface by subnet 'sid': deletes the router's port on
 * it, or just its address there if the port has others. */
static int
remove_interface_by_subnet(struct res_ctx *ctx, const json_t *router,
                           const json_t *ifaces, const char *sid,
                           json_t **portp)
{
    const json_t *port = NULL, *sub = NULL;
    json_t *s, *fixed;
    size_t i;
    json_t *f, *e;
    int error;

    error = load_ref(ctx, "subnets", sid, 404, &s);
    json_decref(s);
    if (error) {
        return error;
    }
    json_array_foreach (ifaces, i, f) {
        if (!strcmp(get_str(json_object_get(f, "subnet"), "id"), sid)) {
            port = json_object_get(f, "port");
            sub = json_object_get(f, "subnet");
            break;
        }
    }
    if (!port) {
        return res_error(ctx, 404, "RouterInterfaceNotFoundForSubnet",
                         "Router %s has no interface on subnet %s",
                         get_str(router, "id"), sid);
    }
    error = check_not_nexthop(ctx, router, sub);
    if (error) {
        return error;
    }
    fixed = json_object_get(port, "fixed_ips");
    if (json_array_size(fixed) <= 1) {
        error = port_destroy(ctx, port);
        if (!error) {
            *portp = json_incref((json_t *) port);
        }
        return error;
    }

    json_t *keep = json_array();
    json_array_foreach (fixed, i, e) {
        if (strcmp(get_str(e, "subnet_id"), sid)) {
            json_array_append(keep, e);
        }
    }
    json_t *changes = json_pack("{s:o}", "fixed_ips", keep);
    error = resource_update(ctx, def_of("ports"), get_str(port, "id"),
                            changes, portp);
    json_decref(changes);
    return error;
}

/* The router actions: adds ('add') or removes the interface that 'body'
 * names on router 'id'. */
static int
interface_action(struct res_ctx *ctx, const char *id, const json_t *body,
                 bool add, json_t **replyp)
{
    json_t *router = NULL, *port = NULL, *ifaces = json_array();
    const char *sid, *pid;
    int error;

    *replyp = NULL;
    error = resource_load(ctx, def_of("routers"), id, &router);
    if (!error) {
        error = interface_body(ctx, body, &sid, &pid);
    }
    if (!error && add && sid && pid) {
        error = bad_router_request(ctx, "Cannot specify both subnet-id and "
                                   "port-id");
    }
    if (!error) {
        error = router_interfaces(ctx, id, ifaces);
    }
    if (!error && add) {
        error = (sid
                 ? add_interface_by_subnet(ctx, router, ifaces, sid, &port)
                 : add_interface_by_port(ctx, router, ifaces, pid, &port));
    } else if (!error) {
        error = (pid
                 ? remove_interface_by_port(ctx, router, ifaces, pid, sid,
                                            &port)
                 : remove_interface_by_subnet(ctx, router, ifaces, sid,
                                              &port));
    }
    if (!error) {
        /* Its interfaces changed. */
        error = resource_touch(ctx, def_of("routers"), router);
    }
    if (!error) {
        *replyp = interface_info(router, port, add ? NULL : sid);
    }
    json_decref(router);
    json_decref(port);
    json_decref(ifaces);
    return error;
}

int
neutron_router_add_interface(struct res_ctx *ctx, const char *id,
                             const json_t *body, json_t **replyp)
{
    return interface_action(ctx, id, body, true, replyp);
}

int
neutron_router_remove_interface(struct res_ctx *ctx, const char *id,
                                const json_t *body, json_t **replyp)
{
    return interface_action(ctx, id, body, false, replyp);
}

/* Security groups. */

/* The protocol number of a normalized rule protocol (a name of
 * lib/ip-proto.h's table or a decimal string), or -1 for null (any). */
static int
sg_protocol_number(const json_t *proto)
{
    const char *s = json_string_value(proto);

    return s ? ip_proto_parse(s) : -1;
}

int
neutron_validate_stateful(struct res_ctx *ctx, const struct attr_def *attr,
                          json_t **valuep)
{
    return json_is_true(*valuep) ? 0 : bad_input(
        ctx, attr, "stateless security groups are not supported");
}

int
neutron_validate_direction(struct res_ctx *ctx, const struct attr_def *attr,
                           json_t **valuep)
{
    const char *s = json_string_value(*valuep);

    if (strcmp(s, "ingress") && strcmp(s, "egress")) {
        return bad_input(ctx, attr, "'%s' is not in ['ingress', 'egress']",
                         s);
    }
    return 0;
}

int
neutron_validate_ethertype(struct res_ctx *ctx, const struct attr_def *attr,
                           json_t **valuep)
{
    const char *s = json_string_value(*valuep);

    if (!strcasecmp(s, "IPv4") || !strcasecmp(s, "IPv6")) {
        replace(valuep, json_string(!strcasecmp(s, "IPv4") ? "IPv4"
                                    : "IPv6"));
        return 0;
    }
    return res_error(ctx, 400, "SecurityGroupRuleInvalidEtherType",
                     "Security group rule for ethertype '%s' not "
                     "supported. Allowed values are ['IPv4', 'IPv6'].", s);
}

int
neutron_validate_protocol(struct res_ctx *ctx, const struct attr_def *attr,
                          json_t **valuep)
{
    const char *s = json_string_value(*valuep);
    char buf[32];
    long long n;

    if (json_is_integer(*valuep)) {
        n = json_integer_value(*valuep);
        if (n >= 0 && n <= 255) {
            snprintf(buf, sizeof buf, "%lld", n);
            replace(valuep, json_string(buf));
            return 0;
        }
        snprintf(buf, sizeof buf, "%lld", n);
        s = buf;
    } else if (!*s || !strcasecmp(s, "any")) {
        replace(valuep, json_null());
        return 0;
    } else if (strspn(s, "0123456789") == strlen(s) && strlen(s) <= 3) {
        n = atoll(s);
        if (n <= 255) {
            snprintf(buf, sizeof buf, "%lld", n);
            replace(valuep, json_string(buf));
            return 0;
        }
    } else {
        const char *name = ip_proto_canonical(s);

        if (name) {
            replace(valuep, json_string(name));
            return 0;
        }
    }
    return res_error(ctx, 400, "SecurityGroupRuleInvalidProtocol",
                     "Security group rule protocol %s not supported. Only "
                     "protocol values [None, ah, dccp, egp, esp, gre, "
                     "hopopt, icmp, igmp, ipip, ipv6-encap, ipv6-frag, "
                     "ipv6-icmp, icmpv6, ipv6-nonxt, ipv6-opts, ipv6-route, "
                     "ospf, pgm, rsvp, sctp, tcp, udp, udplite, vrrp] and "
                     "integer representations [0 to 255] are supported.", s);
}

/* A port number, given as an integer or a decimal string (Neutron's
 * convert_validate_port_value), becomes an integer. */
int
neutron_validate_port_value(struct res_ctx *ctx, const struct attr_def *attr,
                            json_t **valuep)
{
    const char *s = json_string_value(*valuep);
    json_int_t v = json_integer_value(*valuep);

    if (s && *s && strlen(s) <= 5 && strspn(s, "0123456789") == strlen(s)) {
        v = atoi(s);
        replace(valuep, json_integer(v));
    } else if (s) {
        return res_error(ctx, 400, "SecurityGroupInvalidPortValue",
                         "Invalid value for port %s.", s);
    }
    if (v < 0 || v > 65535) {
        return res_error(ctx, 400, "SecurityGroupInvalidPortValue",
                         "Invalid value for port %" JSON_INTEGER_FORMAT ".",
                         v);
    }
    return 0;
}

int
neutron_validate_remote_prefix(struct res_ctx *ctx,
                               const struct attr_def *attr, json_t **valuep)
{
    const char *s = json_string_value(*valuep);
    char buf[IPAM_PREFIX_STRLEN];
    struct ipam_prefix p;
    struct ipam_addr a;

    if (ipam_addr_parse(s, &a)) {
        p.addr = a;
        p.plen = a.family == 4 ? 32 : 128;
    } else if (!ipam_prefix_parse(s, &p)) {
        return bad_input(ctx, attr, "'%s' is not a valid IP subnet", s);
    }
    replace(valuep, json_string(ipam_prefix_format(&p, buf)));
    return 0;
}

static char *
sg_default_key(const char *project)
{
    return xasprintf("idx/sg-default/%s", project);
}

/* The id of 'project''s default group (malloc'd), or NULL if it has none
 * yet. */
static char *
sg_default_id(struct res_ctx *ctx, const char *project)
{
    char *key = sg_default_key(project);
    char *id = NULL;

    if (!key_exists(ctx, key, &id) || !*id) {
        free(id);
        id = NULL;
    }
    free(key);
    return id;
}

/* Creates rule 'direction'/'ethertype' in group 'sg' of 'project', from
 * 'remote' members of the group 'remote' (NULL: from anywhere). */
static int
sg_add_default_rule(struct res_ctx *ctx, const char *project,
                    const char *sg, const char *direction,
                    const char *ethertype, const char *remote)
{
    json_t *in = json_pack("{s:s,s:s,s:s,s:s}", "security_group_id", sg,
                           "direction", direction, "ethertype", ethertype,
                           "project_id", project);
    json_t *rule = NULL;
    int error;

    if (remote) {
        json_object_set_new(in, "remote_group_id", json_string(remote));
    }
    error = resource_create(ctx, def_of("security-group-rules"), in, &rule);
    json_decref(rule);
    json_decref(in);
    return error;
}

/* Creates the default security group of 'project' unless it exists.  If
 * 'idp' is nonnull, stores the group's id there (malloc'd). */
static int
sg_ensure_default(struct res_ctx *ctx, const char *project, char **idp)
{
    static const char *const ethertypes[] = { "IPv4", "IPv6" };
    char *key, *id = sg_default_id(ctx, project);
    json_t *in, *sg = NULL;
    int error;

    if (idp) {
        *idp = NULL;
    }
    if (id) {
        if (idp) {
            *idp = id;
        } else {
            free(id);
        }
        return 0;
    }

    /* The empty index value tells neutron_security_group_create() that
     * this is the default group, which must not create itself. */
    key = sg_default_key(project);
    error = put_key(ctx, key, "");
    if (error) {
        goto out;
    }
    in = json_pack("{s:s,s:s,s:s}", "name", "default",
                   "description", "Default security group",
                   "project_id", project);
    error = resource_create(ctx, def_of("security-groups"), in, &sg);
    json_decref(in);
    if (!error) {
        error = put_key(ctx, key, get_str(sg, "id"));
    }
    for (size_t i = 0; !error && i < ARRAY_SIZE(ethertypes); i++) {
        error = sg_add_default_rule(ctx, project, get_str(sg, "id"),
                                    "egress", ethertypes[i], NULL);
        if (!error) {
            error = sg_add_default_rule(ctx, project, get_str(sg, "id"),
                                        "ingress", ethertypes[i],
                                        get_str(sg, "id"));
        }
    }
    if (!error && idp) {
        *idp = xstrdup(get_str(sg, "id"));
    }

out:
    json_decref(sg);
    free(key);
    return error;
}

static bool
is_default_name(const json_t *obj)
{
    return !strcasecmp(get_str(obj, "name"), "default");
}

static int
sg_default_exists_error(struct res_ctx *ctx)
{
    return res_error(ctx, 409, "SecurityGroupDefaultAlreadyExists",
                     "Default security group already exists.");
}

int
neutron_security_group_prepare(struct res_ctx *ctx)
{
    return sg_ensure_default(ctx, ctx->project_id, NULL);
}

int
neutron_security_group_create(struct res_ctx *ctx, json_t *obj)
{
    const char *project = get_str(obj, "project_id");
    char *key = sg_default_key(project);
    char *value = NULL;
    bool is_default = key_exists(ctx, key, &value) && !*value;
    int error = 0;

    free(key);
    free(value);
    if (is_default) {
        return 0;
    }
    if (is_default_name(obj)) {
        return sg_default_exists_error(ctx);
    }
    error = sg_ensure_default(ctx, project, NULL);
    json_object_set_new(obj, "stateful", json_true());

    /* As in Neutron, a new group lets everything out: one egress rule per
     * ethertype.  The group is saved first so the rules can name it. */
    if (!error) {
        error = resource_save(ctx, def_of("security-groups"), obj);
    }
    for (size_t i = 0; !error && i < 2; i++) {
        error = sg_add_default_rule(ctx, project, get_str(obj, "id"),
                                    "egress", i ? "IPv6" : "IPv4", NULL);
    }
    if (!error) {
        json_t *saved = NULL;

        error = resource_load(ctx, def_of("security-groups"),
                              get_str(obj, "id"), &saved);
        if (!error) {
            json_object_set(obj, "revision_number",
                            json_object_get(saved, "revision_number"));
        }
        json_decref(saved);
    }
    return error;
}

/* True if 'sg' is its project's default group. */
static bool
sg_is_default(struct res_ctx *ctx, const json_t *sg)
{
    char *id = sg_default_id(ctx, get_str(sg, "project_id"));
    bool is = id && !strcmp(id, get_str(sg, "id"));

    free(id);
    return is;
}

int
neutron_security_group_update(struct res_ctx *ctx, const json_t *old,
                              json_t *obj, const json_t *changes)
{
    if (!strcmp(get_str(old, "name"), get_str(obj, "name"))) {
        return 0;
    }
    if (sg_is_default(ctx, old)) {
        return res_error(ctx, 409, "SecurityGroupCannotUpdateDefault",
                         "Updating default security group not allowed.");
    }
    return is_default_name(obj) ? sg_default_exists_error(ctx) : 0;
}

/* Reads the ids stored as values under 'prefix' into the array 'out'. */
static int
index_values(struct res_ctx *ctx, const char *prefix, json_t *out)
{
    struct store_kvs kvs;
    int error = range_keys(ctx, prefix, &kvs);

    for (size_t i = 0; !error && i < kvs.n; i++) {
        json_array_append_new(out, json_string(kvs.kvs[i].value));
    }
    store_kvs_destroy(&kvs);
    return error;
}

/* Writes ('add') or deletes the index keys of security group rule 'rule':
 * "idx/sg-rule/<group>/<rule>" and, if it has a remote group,
 * "idx/sg-remote/<remote group>/<rule>". */
static int
sg_rule_index(struct res_ctx *ctx, const json_t *rule, bool add)
{
    const char *id = get_str(rule, "id");
    const char *remote = json_string_value(json_object_get(
                                               rule, "remote_group_id"));
    char *keys[] = {
        xasprintf("idx/sg-rule/%s/%s", get_str(rule, "security_group_id"),
                  id),
        remote ? xasprintf("idx/sg-remote/%s/%s", remote, id) : NULL,
    };
    int error = 0;

    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        if (keys[i] && !error) {
            error = (add ? put_key(ctx, keys[i], id)
                     : delete_key(ctx, keys[i]));
        }
        free(keys[i]);
    }
    return error;
}

/* Deletes rule 'rule_id' and its index keys; bumps its group's revision
 * unless the group is 'dying'. */
static int
sg_rule_destroy(struct res_ctx *ctx, const char *rule_id, const char *dying)
{
    const struct resource_def *def = def_of("security-group-rules");
    json_t *rule;
    int error = resource_load(ctx, def, rule_id, &rule);

    if (error == 404) {
        res_error_clear(ctx);
        return 0;
    }
    if (!error) {
        error = (strcmp(get_str(rule, "security_group_id"), dying)
                 ? neutron_security_group_rule_remove(ctx, rule)
                 : sg_rule_index(ctx, rule, false));
    }
    if (!error) {
        error = resource_erase(ctx, def, rule_id);
    }
    json_decref(rule);
    return error;
}

int
neutron_security_group_remove(struct res_ctx *ctx, const json_t *obj)
{
    const char *id = get_str(obj, "id");
    json_t *ids = json_array();
    char *prefix;
    bool used;
    size_t i;
    json_t *e;
    int error;

    if (sg_is_default(ctx, obj)) {
        error = res_error(ctx, 409, "SecurityGroupCannotRemoveDefault",
                          "Insufficient rights for removing default "
                          "security group.");
        goto out;
    }
    prefix = xasprintf("idx/sg-port/%s/", id);
    error = index_in_use(ctx, prefix, &used);
    free(prefix);
    if (!error && used) {
        error = res_error(ctx, 409, "SecurityGroupInUse",
                          "Security Group %s in use.", id);
    }
    if (error) {
        goto out;
    }
    /* Its own rules, then other groups' rules that name it as remote. */
    prefix = xasprintf("idx/sg-rule/%s/", id);
    error = index_values(ctx, prefix, ids);
    free(prefix);
    if (!error) {
        prefix = xasprintf("idx/sg-remote/%s/", id);
        error = index_values(ctx, prefix, ids);
        free(prefix);
    }
    json_array_foreach (ids, i, e) {
        if (!error) {
            error = sg_rule_destroy(ctx, json_string_value(e), id);
        }
    }

out:
    json_decref(ids);
    return error;
}

/* Appends the rules of group 'sg_id' to 'out'. */
static int
sg_rules(struct res_ctx *ctx, const char *sg_id, json_t *out)
{
    char *prefix = xasprintf("idx/sg-rule/%s/", sg_id);
    int error = index_load(ctx, prefix, "security-group-rules", out);

    free(prefix);
    return error;
}

void
neutron_security_group_render(struct res_ctx *ctx, json_t *obj)
{
    json_t *rules = json_array();

    if (sg_rules(ctx, get_str(obj, "id"), rules)) {
        /* Rendering cannot fail; a store error shows as no rules. */
        res_error_clear(ctx);
    }
    json_object_set_new(obj, "security_group_rules", rules);
}

/* Loads group 'id' for a reference from a request body. */
static int
sg_load(struct res_ctx *ctx, const char *id, json_t **sgp)
{
    return load_ref(ctx, "security-groups", id, 404, sgp);
}

/* Checks the protocol and port range of 'rule' (Neutron's
 * _validate_port_range and _validate_ethertype_and_protocol). */
static int
sg_check_ports(struct res_ctx *ctx, const json_t *rule)
{
    const json_t *proto = json_object_get(rule, "protocol");
    const json_t *minj = json_object_get(rule, "port_range_min");
    const json_t *maxj = json_object_get(rule, "port_range_max");
    bool has_min = json_is_integer(minj), has_max = json_is_integer(maxj);
    json_int_t min = json_integer_value(minj);
    json_int_t max = json_integer_value(maxj);
    int n = sg_protocol_number(proto);
    bool v6 = !strcmp(get_str(rule, "ethertype"), "IPv6");

    if (!v6 && json_is_string(proto)
        && (!strncmp(json_string_value(proto), "ipv6-", 5)
            || !strcmp(json_string_value(proto), "icmpv6"))) {
        return res_error(ctx, 400, "SecurityGroupEthertypeConflictWith"
                         "Protocol", "Invalid ethertype IPv4 for protocol "
                         "%s.", json_string_value(proto));
    }
    if (!has_min && !has_max) {
        return 0;
    }
    if (n < 0) {
        return res_error(ctx, 400, "SecurityGroupProtocolRequiredWithPorts",
                         "Must also specify protocol if port range is "
                         "given.");
    }
    if (ip_proto_has_ports(n)) {
        if ((has_min && !min) || (has_max && !max)) {
            return res_error(ctx, 400, "SecurityGroupInvalidPortValue",
                             "Invalid value for port 0.");
        }
        if (!has_min || !has_max || min > max) {
            return res_error(ctx, 400, "SecurityGroupInvalidPortRange",
                             "For TCP/UDP protocols, port_range_min must "
                             "be <= port_range_max");
        }
        return 0;
    }
    if (n == 1 || n == 58) {
        if (has_min && min > 255) {
            return res_error(ctx, 400, "SecurityGroupInvalidIcmpValue",
                             "Invalid value for ICMP type (port_range_min) "
                             "%" JSON_INTEGER_FORMAT ". It must be 0 to "
                             "255.", min);
        }
        if (has_max && max > 255) {
            return res_error(ctx, 400, "SecurityGroupInvalidIcmpValue",
                             "Invalid value for ICMP code (port_range_max) "
                             "%" JSON_INTEGER_FORMAT ". It must be 0 to "
                             "255.", max);
        }
        if (!has_min) {
            return res_error(ctx, 400, "SecurityGroupMissingIcmpType",
                             "ICMP code (port-range-max) %"
                             JSON_INTEGER_FORMAT " is provided but ICMP "
                             "type (port-range-min) is missing.", max);
        }
        return 0;
    }
    return res_error(ctx, 400, "SecurityGroupInvalidProtocolForPort",
                     "Invalid protocol %s for port range, only supported "
                     "for TCP, UDP, UDPLITE, SCTP and DCCP.",
                     json_string_value(proto));
}

/* True if rules 'a' and 'b' match the same traffic: the same direction,
 * ethertype, protocol (by number), ports and remote (a /0 prefix being
 * the same as none). */
static bool
sg_rules_equal(const json_t *a, const json_t *b)
{
    static const char *const keys[] = {
        "direction", "ethertype", "port_range_min", "port_range_max",
        "remote_group_id",
    };
    const char *pa = json_string_value(json_object_get(a,
                                                       "remote_ip_prefix"));
    const char *pb = json_string_value(json_object_get(b,
                                                       "remote_ip_prefix"));

    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        const json_t *va = json_object_get(a, keys[i]);
        const json_t *vb = json_object_get(b, keys[i]);
        if (!json_equal(va ? va : json_null(), vb ? vb : json_null())) {
            return false;
        }
    }
    if (pa && strstr(pa, "/0")) {
        pa = NULL;
    }
    if (pb && strstr(pb, "/0")) {
        pb = NULL;
    }
    return (sg_protocol_number(json_object_get(a, "protocol"))
            == sg_protocol_number(json_object_get(b, "protocol"))
            && (pa && pb ? !strcmp(pa, pb) : !pa && !pb));
}

int
neutron_security_group_rule_create(struct res_ctx *ctx, json_t *obj)
{
    const char *sg_id = get_str(obj, "security_group_id");
    const char *prefix = json_string_value(json_object_get(
                                               obj, "remote_ip_prefix"));
    const char *remote = json_string_value(json_object_get(
                                               obj, "remote_group_id"));
    json_t *sg = NULL, *rules = json_array(), *other = NULL;
    struct ipam_prefix p;
    size_t i;
    json_t *e;
    int error;

    error = sg_load(ctx, sg_id, &sg);
    if (!error && prefix && remote) {
        error = res_error(ctx, 400, "SecurityGroupRemoteGroupAndRemoteIp"
                          "Prefix", "Only remote_ip_prefix or "
                          "remote_group_id may be provided.");
    }
    if (!error && prefix) {
        bool v6 = !strcmp(get_str(obj, "ethertype"), "IPv6");

        ASSERT(ipam_prefix_parse(prefix, &p));
        if (p.addr.family != (v6 ? 6 : 4)) {
            error = res_error(ctx, 400, "SecurityGroupRuleParameterConflict",
                              "Conflicting value ethertype %s for CIDR %s",
                              get_str(obj, "ethertype"), prefix);
        }
    }
    if (!error) {
        error = sg_check_ports(ctx, obj);
    }
    if (!error && remote) {
        error = sg_load(ctx, remote, &other);
    }
    if (!error) {
        error = sg_rules(ctx, sg_id, rules);
    }
    json_array_foreach (rules, i, e) {
        if (!error && sg_rules_equal(e, obj)) {
            error = res_error(ctx, 409, "SecurityGroupRuleExists",
                              "Security group rule already exists. Rule id "
                              "is %s.", get_str(e, "id"));
        }
    }
    if (!error) {
        error = sg_rule_index(ctx, obj, true);
    }
    if (!error) {
        error = resource_touch(ctx, def_of("security-groups"), sg);
    }
    json_decref(sg);
    json_decref(other);
    json_decref(rules);
    return error;
}

int
neutron_security_group_rule_remove(struct res_ctx *ctx, const json_t *obj)
{
    const char *sg_id = get_str(obj, "security_group_id");
    json_t *sg;
    int error = sg_rule_index(ctx, obj, false);

    if (!error && !resource_load(ctx, def_of("security-groups"), sg_id,
                                 &sg)) {
        error = resource_touch(ctx, def_of("security-groups"), sg);
        json_decref(sg);
    } else if (!error) {
        res_error_clear(ctx);
    }
    return error;
}

/* Port security. */

/* True for ports Neutron trusts (device_owner "network:..."): router
 * interfaces, DHCP.  They get no security groups. */
static bool
is_trusted_port(const json_t *port)
{
    return !strncmp(get_str(port, "device_owner"), "network:", 8);
}

static char *
sg_port_key(const char *sg, const json_t *port)
{
    return xasprintf("idx/sg-port/%s/%s", sg, get_str(port, "id"));
}

/* Moves the security group index of a port from the groups of 'old' to
 * those of 'port' (either may be NULL). */
static int
port_sync_sg_index(struct res_ctx *ctx, const json_t *old,
                   const json_t *port)
{
    const json_t *was = old ? json_object_get(old, "security_groups") : NULL;
    const json_t *is = port ? json_object_get(port, "security_groups") : NULL;
    int error = 0;
    size_t i;
    json_t *e;

    json_array_foreach (was, i, e) {
        char *key = sg_port_key(json_string_value(e), old);
        error = error ? error : delete_key(ctx, key);
        free(key);
    }
    json_array_foreach (is, i, e) {
        char *key = sg_port_key(json_string_value(e), port);
        error = error ? error : put_key(ctx, key, get_str(port, "id"));
        free(key);
    }
    return error;
}

/* Checks that every group of 'port' exists and belongs to its project. */
static int
port_check_groups(struct res_ctx *ctx, const json_t *port)
{
    size_t i;
    json_t *e;

    json_array_foreach (json_object_get(port, "security_groups"), i, e) {
        const char *id = json_string_value(e);
        json_t *sg;
        int error = sg_load(ctx, id, &sg);

        if (!error && strcmp(get_str(sg, "project_id"),
                             get_str(port, "project_id"))) {
            error = resource_not_found(ctx, def_of("security-groups"), id,
                                       404);
        }
        json_decref(sg);
        if (error) {
            return error;
        }
    }
    return 0;
}

/* Fills the MAC of each allowed address pair of 'port' that has none with
 * the port's, and checks that no two pairs are then the same. */
static int
port_fill_pair_macs(struct res_ctx *ctx, json_t *port)
{
    json_t *pairs = json_object_get(port, "allowed_address_pairs");
    size_t i, j;
    json_t *e, *d;

    json_array_foreach (pairs, i, e) {
        if (!json_object_get(e, "mac_address")) {
            json_object_set_new(e, "mac_address",
                                json_string(get_str(port, "mac_address")));
        }
        json_array_foreach (pairs, j, d) {
            if (j < i && json_equal(d, e)) {
                return res_error(ctx, 400, "DuplicateAddressPairInRequest",
                                 "Request contains duplicate address pair: "
                                 "mac_address %s ip_address %s.",
                                 get_str(e, "mac_address"),
                                 get_str(e, "ip_address"));
            }
        }
    }
    return 0;
}

/* Applies port security to 'port', a new one (old NULL) on network 'net'
 * or an update of 'old' with 'changes': port_security_enabled, its
 * security groups and allowed address pairs, and their index. */
static int
port_sync_security(struct res_ctx *ctx, const json_t *net, const json_t *old,
                   json_t *port, const json_t *changes)
{
    const json_t *pse = json_object_get(port, "port_security_enabled");
    bool given = (old ? json_object_get(changes, "security_groups") != NULL
                  : json_object_get(port, "security_groups") != NULL);
    bool enabled;
    int error;

    if (!pse) {
        const json_t *n = json_object_get(net, "port_security_enabled");
        json_object_set_new(port, "port_security_enabled",
                            json_boolean(!json_is_false(n)));
    }
    enabled = json_is_true(json_object_get(port, "port_security_enabled"));
    if (!enabled && json_array_size(json_object_get(
                                        port, "allowed_address_pairs"))) {
        return res_error(ctx, 409, "AddressPairAndPortSecurityRequired",
                         "Port Security must be enabled in order to have "
                         "allowed address pairs on a port.");
    }
    error = port_fill_pair_macs(ctx, port);
    if (error) {
        return error;
    }
    if (is_trusted_port(port)) {
        json_object_set_new(port, "security_groups", json_array());
    } else if (!enabled) {
        if (json_array_size(json_object_get(port, "security_groups"))) {
            if (given || !old) {
                return res_error(ctx, 400, "PortSecurityAndIPRequiredFor"
                                 "SecurityGroups", "Port security must be "
                                 "enabled and port must have an IP address "
                                 "in order to use security groups.");
            }
            return res_error(ctx, 409, "PortSecurityPortHasSecurityGroup",
                             "Port has security group associated. Cannot "
                             "disable port security or IP address until "
                             "security group is removed");
        }
        json_object_set_new(port, "security_groups", json_array());
    } else if (!old && !given) {
        char *id;

        error = sg_ensure_default(ctx, get_str(port, "project_id"), &id);
        if (error) {
            return error;
        }
        json_object_set_new(port, "security_groups", json_pack("[s]", id));
        free(id);
    } else if (given) {
        error = port_check_groups(ctx, port);
        if (error) {
            return error;
        }
    }
    return port_sync_sg_index(ctx, old, port);
}

/* Agents. */

int
neutron_agent_remove(struct res_ctx *ctx, const json_t *obj)
{
    char *key = xasprintf("idx/agent/%s", get_str(obj, "host"));
    int error = delete_key(ctx, key);

    free(key);
    return error;
}

void
neutron_agent_render(struct res_ctx *ctx, json_t *obj)
{
    long long when;
    char ts[32];

    if (!store_heartbeat_get(ctx->store, get_str(obj, "host"), &when)) {
        resource_time_format(when, false, ts);
        json_object_set_new(obj, "heartbeat_timestamp", json_string(ts));
        json_object_set_new(obj, "alive",
                            json_boolean(ctx->now - when
                                         <= ctx->cfg->agent_down_time));
    } else {
        json_object_set_new(obj, "heartbeat_timestamp", json_null());
        json_object_set_new(obj, "alive", json_false());
    }
}
