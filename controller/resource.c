/*
 * resource.c -- the attribute tables of every Neutron resource and the
 * generic create/update/delete/list engine they drive (see resource.h).
 *
 * To add an attribute, add one line to its resource's table: validation,
 * defaults, read-only checks, filters and "fields=" follow from it.
 */
#include "controller/resource.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "controller/ipam.h"
#include "controller/neutron.h"
#include "controller/store.h"

#define P AF_POST
#define U AF_PUT
#define R AF_REQUIRED
#define N AF_NULLABLE

/* The standard attributes every Neutron resource of ours carries. */
#define STD_ATTRS                                                         \
    { "id", AT_UUID, NULL, 0, NULL },                                     \
    { "project_id", AT_STRING, NULL, P, NULL },                           \
    { "tenant_id", AT_STRING, NULL, P, NULL },                            \
    { "name", AT_STRING, "\"\"", P | U, NULL },                           \
    { "description", AT_STRING, "\"\"", P | U, NULL },                    \
    { "tags", AT_LIST, "[]", 0, NULL },                                   \
    { "created_at", AT_STRING, NULL, 0, NULL },                           \
    { "updated_at", AT_STRING, NULL, 0, NULL },                           \
    { "revision_number", AT_INT, NULL, 0, NULL }

static const struct attr_def network_attrs[] = {
    STD_ATTRS,
    { "admin_state_up", AT_BOOL, "true", P | U, NULL },
    { "status", AT_STRING, "\"ACTIVE\"", 0, NULL },
    { "subnets", AT_LIST, "[]", 0, NULL },
    { "shared", AT_BOOL, "false", P | U, NULL },
    { "mtu", AT_INT, NULL, P | U, neutron_validate_mtu },
    { "router:external", AT_BOOL, "false", P | U, NULL },
    { "port_security_enabled", AT_BOOL, "true", P | U, NULL },
    { "provider:network_type", AT_STRING, NULL, P | N,
      neutron_validate_network_type },
    { "provider:segmentation_id", AT_INT, NULL, P | N,
      neutron_validate_segmentation_id },
    { "provider:physical_network", AT_STRING, "null", P | N,
      neutron_validate_null_only },
    { "availability_zones", AT_LIST, "[]", 0, NULL },
    { "availability_zone_hints", AT_LIST, "[]", P,
      neutron_validate_string_list },
    { "ipv4_address_scope", AT_STRING, "null", N, NULL },
    { "ipv6_address_scope", AT_STRING, "null", N, NULL },
};

static const struct attr_def subnet_attrs[] = {
    STD_ATTRS,
    { "network_id", AT_UUID, NULL, P | R, NULL },
    { "ip_version", AT_INT, NULL, P | R, neutron_validate_ip_version },
    { "cidr", AT_STRING, NULL, P | R, neutron_validate_cidr },
    { "gateway_ip", AT_STRING, NULL, P | U | N, neutron_validate_ip },
    { "allocation_pools", AT_LIST, NULL, P | U, neutron_validate_pools },
    { "enable_dhcp", AT_BOOL, "true", P | U, NULL },
    { "dns_nameservers", AT_LIST, "[]", P | U, neutron_validate_ip_list },
    { "host_routes", AT_LIST, "[]", P | U, neutron_validate_host_routes },
    { "ipv6_ra_mode", AT_STRING, "null", P | N, neutron_validate_ipv6_mode },
    { "ipv6_address_mode", AT_STRING, "null", P | N,
      neutron_validate_ipv6_mode },
    { "subnetpool_id", AT_STRING, "null", P | N, neutron_validate_null_only },
    { "service_types", AT_LIST, "[]", P | U, neutron_validate_string_list },
    { "segment_id", AT_STRING, "null", N, NULL },
};

static const struct attr_def port_attrs[] = {
    STD_ATTRS,
    { "network_id", AT_UUID, NULL, P | R, NULL },
    { "mac_address", AT_STRING, NULL, P | U, neutron_validate_mac },
    { "fixed_ips", AT_LIST, NULL, P | U, neutron_validate_fixed_ips },
    { "admin_state_up", AT_BOOL, "true", P | U, NULL },
    { "status", AT_STRING, "\"DOWN\"", 0, NULL },
    { "device_id", AT_STRING, "\"\"", P | U, NULL },
    { "device_owner", AT_STRING, "\"\"", P | U, NULL },
    { "binding:host_id", AT_STRING, "\"\"", P | U, NULL },
    { "binding:profile", AT_DICT, "{}", P | U, NULL },
    { "binding:vif_type", AT_STRING, "\"unbound\"", 0, NULL },
    { "binding:vif_details", AT_DICT, "{}", 0, NULL },
    { "binding:vnic_type", AT_STRING, "\"normal\"", P | U,
      neutron_validate_vnic_type },
    { "security_groups", AT_LIST, NULL, P | U, neutron_validate_uuid_list },
    { "allowed_address_pairs", AT_LIST, "[]", P | U,
      neutron_validate_address_pairs },
    { "extra_dhcp_opts", AT_LIST, "[]", P | U, neutron_validate_dict_list },
    { "port_security_enabled", AT_BOOL, NULL, P | U, NULL },
};

/* "security_group_rules" is rendered from the rules themselves. */
static const struct attr_def security_group_attrs[] = {
    STD_ATTRS,
    { "security_group_rules", AT_LIST, NULL, 0, NULL },
    { "stateful", AT_BOOL, "true", P | U, neutron_validate_stateful },
};

/* Rules cannot be updated, only created and deleted (Neutron). */
static const struct attr_def security_group_rule_attrs[] = {
    { "id", AT_UUID, NULL, 0, NULL },
    { "project_id", AT_STRING, NULL, P, NULL },
    { "tenant_id", AT_STRING, NULL, P, NULL },
    { "description", AT_STRING, "\"\"", P, NULL },
    { "security_group_id", AT_UUID, NULL, P | R, NULL },
    { "direction", AT_STRING, NULL, P | R, neutron_validate_direction },
    { "ethertype", AT_STRING, "\"IPv4\"", P, neutron_validate_ethertype },
    { "protocol", AT_SCALAR, "null", P | N, neutron_validate_protocol },
    { "port_range_min", AT_SCALAR, "null", P | N,
      neutron_validate_port_value },
    { "port_range_max", AT_SCALAR, "null", P | N,
      neutron_validate_port_value },
    { "remote_ip_prefix", AT_STRING, "null", P | N,
      neutron_validate_remote_prefix },
    { "remote_group_id", AT_UUID, "null", P | N, NULL },
    { "created_at", AT_STRING, NULL, 0, NULL },
    { "updated_at", AT_STRING, NULL, 0, NULL },
    { "revision_number", AT_INT, NULL, 0, NULL },
};

/* "routes" may not be given in a create (Neutron's extraroute): a new
 * router has no interface, so no nexthop could be valid yet. */
static const struct attr_def router_attrs[] = {
    STD_ATTRS,
    { "admin_state_up", AT_BOOL, "true", P | U, NULL },
    { "status", AT_STRING, "\"ACTIVE\"", 0, NULL },
    { "external_gateway_info", AT_DICT, "null", P | U | N,
      neutron_validate_gateway_info },
    { "routes", AT_LIST, "[]", U, neutron_validate_host_routes },
    { "distributed", AT_BOOL, "true", P | U, neutron_validate_distributed },
    { "ha", AT_BOOL, "false", P | U, neutron_validate_ha },
    { "availability_zones", AT_LIST, "[]", 0, NULL },
    { "availability_zone_hints", AT_LIST, "[]", P,
      neutron_validate_string_list },
};

static const struct attr_def agent_attrs[] = {
    { "id", AT_UUID, NULL, 0, NULL },
    { "agent_type", AT_STRING, NULL, 0, NULL },
    { "binary", AT_STRING, NULL, 0, NULL },
    { "host", AT_STRING, NULL, 0, NULL },
    { "topic", AT_STRING, NULL, 0, NULL },
    { "admin_state_up", AT_BOOL, NULL, U, NULL },
    { "alive", AT_BOOL, NULL, 0, NULL },
    { "heartbeat_timestamp", AT_STRING, NULL, N, NULL },
    { "created_at", AT_STRING, NULL, 0, NULL },
    { "started_at", AT_STRING, NULL, 0, NULL },
    { "configurations", AT_DICT, NULL, 0, NULL },
    { "availability_zone", AT_STRING, NULL, N, NULL },
    { "description", AT_STRING, NULL, U | N, NULL },
};

#undef P
#undef U
#undef R
#undef N

#define ATTRS(TABLE) .attrs = TABLE, .n_attrs = ARRAY_SIZE(TABLE)

static const struct resource_def network_def = {
    .singular = "network", .plural = "networks", .type_name = "Network",
    ATTRS(network_attrs),
    .std_attrs = true, .allow_create = true, .allow_update = true,
    .allow_delete = true,
    .create = neutron_network_create,
    .update = neutron_network_update,
    .remove = neutron_network_remove,
};

static const struct resource_def subnet_def = {
    .singular = "subnet", .plural = "subnets", .type_name = "Subnet",
    ATTRS(subnet_attrs),
    .std_attrs = true, .allow_create = true, .allow_update = true,
    .allow_delete = true,
    .create = neutron_subnet_create,
    .update = neutron_subnet_update,
    .remove = neutron_subnet_remove,
};

static const struct resource_def port_def = {
    .singular = "port", .plural = "ports", .type_name = "Port",
    ATTRS(port_attrs),
    .std_attrs = true, .allow_create = true, .allow_update = true,
    .allow_delete = true,
    .create = neutron_port_create,
    .update = neutron_port_update,
    .remove = neutron_port_remove,
};

static const struct resource_action router_actions[] = {
    { "add_router_interface",
      "`{\"subnet_id\": S}`: a new port on S's network at S's `gateway_ip`; "
      "or `{\"port_id\": P}`: the unused port P",
      neutron_router_add_interface },
    { "remove_router_interface",
      "`{\"subnet_id\": S}` or `{\"port_id\": P}`: deletes that "
      "interface port", neutron_router_remove_interface },
};

static const struct resource_def router_def = {
    .singular = "router", .plural = "routers", .type_name = "Router",
    ATTRS(router_attrs),
    .std_attrs = true, .allow_create = true, .allow_update = true,
    .allow_delete = true,
    .update = neutron_router_update,
    .remove = neutron_router_remove,
    .actions = router_actions, .n_actions = ARRAY_SIZE(router_actions),
};

/* Agents are created by their reports (controller/weft-ext.c). */
static const struct resource_def agent_def = {
    .singular = "agent", .plural = "agents", .type_name = "Agent",
    ATTRS(agent_attrs),
    .allow_update = true, .allow_delete = true,
    .remove = neutron_agent_remove,
    .render = neutron_agent_render,
};

static const struct resource_def security_group_def = {
    .singular = "security_group", .plural = "security-groups",
    .collection = "security_groups",
    .type_name = "SecurityGroup",
    ATTRS(security_group_attrs),
    .std_attrs = true, .allow_create = true, .allow_update = true,
    .allow_delete = true,
    .create = neutron_security_group_create,
    .update = neutron_security_group_update,
    .remove = neutron_security_group_remove,
    .render = neutron_security_group_render,
    .prepare = neutron_security_group_prepare,
};

static const struct resource_def security_group_rule_def = {
    .singular = "security_group_rule", .plural = "security-group-rules",
    .collection = "security_group_rules",
    .type_name = "SecurityGroupRule",
    ATTRS(security_group_rule_attrs),
    .std_attrs = true, .allow_create = true, .allow_delete = true,
    .create = neutron_security_group_rule_create,
    .remove = neutron_security_group_rule_remove,
};

#undef ATTRS

const struct resource_def *const resource_defs[] = {
    &network_def, &subnet_def, &port_def, &router_def, &agent_def,
    &security_group_def, &security_group_rule_def,
};
const size_t n_resource_defs = ARRAY_SIZE(resource_defs);

/* Query parameters that are not attribute filters. */
static const char *const reserved_params[] = {
    "fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse",
};

void
res_ctx_init(struct res_ctx *ctx, struct store *store,
             const struct api_config *cfg, const char *project_id)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->store = store;
    ctx->cfg = cfg;
    ctx->project_id = project_id ? project_id : API_DEFAULT_PROJECT;
    ctx->now = time_wall_sec();
}

void
res_ctx_destroy(struct res_ctx *ctx)
{
    if (ctx) {
        ASSERT(!ctx->txn);
        res_error_clear(ctx);
    }
}

int
res_error(struct res_ctx *ctx, int status, const char *type,
          const char *fmt, ...)
{
    ASSERT(status >= 400);
    if (!ctx->status) {
        va_list args;

        ctx->status = status;
        ctx->err_type = xstrdup(type);
        va_start(args, fmt);
        if (vasprintf(&ctx->err_msg, fmt, args) < 0) {
            ctx->err_msg = NULL;
        }
        va_end(args);
        if (!ctx->err_msg) {
            ctx->err_msg = xstrdup(type);
        }
    }
    return ctx->status;
}

void
res_error_clear(struct res_ctx *ctx)
{
    free(ctx->err_type);
    free(ctx->err_msg);
    ctx->err_type = ctx->err_msg = NULL;
    ctx->status = 0;
}

int
res_store_error(struct res_ctx *ctx, int error)
{
    return res_error(ctx, 500, "StoreError", "Store failure: %s",
                     strerror(error));
}

int
res_method_not_allowed(struct res_ctx *ctx, const char *method)
{
    return res_error(ctx, 405, "HTTPMethodNotAllowed",
                     "The method %s is not allowed for this resource.",
                     method);
}

int
res_path_not_found(struct res_ctx *ctx)
{
    return res_error(ctx, 404, "HTTPNotFound",
                     "The resource could not be found.");
}

void
res_txn_begin(struct res_ctx *ctx)
{
    ASSERT(!ctx->txn);
    ctx->txn = store_begin(ctx->store);
}

int
res_txn_end(struct res_ctx *ctx, int status, json_t **replyp)
{
    if (status < 400) {
        int error = store_commit(ctx->txn, NULL);
        if (error) {
            json_decref(*replyp);
            *replyp = NULL;
            status = res_error(ctx, 500, "StoreError",
                               "Store commit failed: %s", strerror(error));
        }
    } else {
        store_abort(ctx->txn);
    }
    ctx->txn = NULL;
    return status;
}

const struct resource_def *
resource_find(const char *plural)
{
    for (size_t i = 0; i < n_resource_defs; i++) {
        if (!strcmp(resource_defs[i]->plural, plural)) {
            return resource_defs[i];
        }
    }
    return NULL;
}

const char *
resource_collection(const struct resource_def *def)
{
    return def->collection ? def->collection : def->plural;
}

const struct attr_def *
resource_attr(const struct resource_def *def, const char *name)
{
    for (size_t i = 0; i < def->n_attrs; i++) {
        if (!strcmp(def->attrs[i].name, name)) {
            return &def->attrs[i];
        }
    }
    return NULL;
}

const struct resource_action *
resource_find_action(const struct resource_def *def, const char *name)
{
    for (size_t i = 0; i < def->n_actions; i++) {
        if (!strcmp(def->actions[i].name, name)) {
            return &def->actions[i];
        }
    }
    return NULL;
}

/* Query strings. */

static int
hex_digit(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Returns a malloc'd URL-decoded copy of s[0..n). */
static char *
url_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[j++] = ' ';
        } else if (s[i] == '%' && i + 2 < n
                   && hex_digit((unsigned char) s[i + 1]) >= 0
                   && hex_digit((unsigned char) s[i + 2]) >= 0) {
            out[j++] = (char) (hex_digit((unsigned char) s[i + 1]) << 4
                               | hex_digit((unsigned char) s[i + 2]));
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

void
res_query_parse(struct res_query *q, const char *query)
{
    q->params = NULL;
    q->n = 0;
    if (!query) {
        return;
    }
    size_t allocated = 0;
    const char *p = query;
    while (*p) {
        size_t len = strcspn(p, "&;");
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t) (eq - p) : len;
            if (q->n >= allocated) {
                allocated = allocated ? allocated * 2 : 8;
                q->params = xrealloc(q->params,
                                     allocated * sizeof *q->params);
            }
            q->params[q->n].key = url_decode(p, klen);
            q->params[q->n].value = (eq ? url_decode(eq + 1, len - klen - 1)
                                     : xstrdup(""));
            q->n++;
        }
        p += len;
        if (*p) {
            p++;
        }
    }
}

void
res_query_destroy(struct res_query *q)
{
    if (q) {
        for (size_t i = 0; i < q->n; i++) {
            free(q->params[i].key);
            free(q->params[i].value);
        }
        free(q->params);
        q->params = NULL;
        q->n = 0;
    }
}

const char *
res_query_get(const struct res_query *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++) {
        if (!strcmp(q->params[i].key, key)) {
            return q->params[i].value;
        }
    }
    return NULL;
}

/* Values. */

void
resource_uuid_new(char buf[37])
{
    uint8_t b[16];

    ipam_random_bytes(b, sizeof b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(buf, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
}

void
resource_time_format(long long when, bool iso, char buf[32])
{
    time_t t = when;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, 32, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S",
             &tm);
}

/* Each attribute type's name in the reference and in error messages. */
static const struct {
    const char *name;           /* "string" */
    const char *desc;           /* "a string" */
} attr_types[] = {
    [AT_STRING] = { "string", "a string" },
    [AT_BOOL] = { "boolean", "a boolean" },
    [AT_INT] = { "integer", "an integer" },
    [AT_UUID] = { "UUID", "a UUID" },
    [AT_LIST] = { "list", "a list" },
    [AT_DICT] = { "object", "a dictionary" },
    [AT_SCALAR] = { "string or integer", "a string or an integer" },
};

/* Converts "true"/"false" style strings and 0/1 to a JSON boolean;
 * returns NULL if 'v' is not a boolean. */
static json_t *
to_bool(const json_t *v)
{
    if (json_is_boolean(v)) {
        return json_incref((json_t *) v);
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcasecmp(s, "true") || !strcmp(s, "1")) {
            return json_true();
        }
        if (!strcasecmp(s, "false") || !strcmp(s, "0")) {
            return json_false();
        }
    } else if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i == 0 || i == 1) {
            return json_boolean(i);
        }
    }
    return NULL;
}

/* Checks '*valuep' (a reference the caller owns; may be replaced) against
 * 'attr'.  Returns 0 or an HTTP status. */
static int
check_value(struct res_ctx *ctx, const struct attr_def *attr,
            json_t **valuep)
{
    json_t *v = *valuep;
    bool ok;

    if (json_is_null(v)) {
        if (attr->flags & AF_NULLABLE) {
            return 0;
        }
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Invalid input for %s. Reason: 'None' is not %s.",
                         attr->name, attr_types[attr->type].desc);
    }
    switch (attr->type) {
    case AT_STRING:
        ok = json_is_string(v) && json_string_length(v) <= 255;
        break;
    case AT_BOOL: {
        json_t *b = to_bool(v);
        ok = b != NULL;
        if (ok) {
            json_decref(v);
            *valuep = v = b;
        }
        break;
    }
    case AT_INT:
        ok = json_is_integer(v);
        break;
    case AT_UUID:
        ok = json_is_string(v) && str_is_uuid(json_string_value(v));
        break;
    case AT_LIST:
        ok = json_is_array(v) && json_array_size(v) <= 1024;
        break;
    case AT_DICT:
        ok = json_is_object(v);
        break;
    case AT_SCALAR:
        ok = (json_is_integer(v)
              || (json_is_string(v) && json_string_length(v) <= 255));
        break;
    default:
        NOT_REACHED();
    }
    if (!ok) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Invalid input for %s. Reason: value is not %s.",
                         attr->name, attr_types[attr->type].desc);
    }
    return attr->validate ? attr->validate(ctx, attr, valuep) : 0;
}

static json_t *
load_json(const char *text)
{
    return json_loads(text, JSON_DECODE_ANY, NULL);
}


int
resource_not_found(struct res_ctx *ctx, const struct resource_def *def,
                   const char *id, int status)
{
    char type[64];

    snprintf(type, sizeof type, "%sNotFound", def->type_name);
    return res_error(ctx, status, type, "%s %s could not be found.",
                     def->type_name, id);
}

int
resource_load(struct res_ctx *ctx, const struct resource_def *def,
              const char *id, json_t **outp)
{
    char *key, *value = NULL;
    json_t *obj;
    int error;

    *outp = NULL;
    if (strlen(id) > 255 || strchr(id, '/')) {
        return resource_not_found(ctx, def, id, 404);
    }
    key = xasprintf("%s/%s", def->plural, id);
    error = store_get(ctx->txn, key, &value);
    free(key);
    if (error == ENOENT) {
        return resource_not_found(ctx, def, id, 404);
    } else if (error) {
        return res_store_error(ctx, error);
    }
    obj = load_json(value);
    free(value);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return res_error(ctx, 500, "StoreError", "%s %s is corrupt.",
                         def->type_name, id);
    }
    *outp = obj;
    return 0;
}

int
resource_save(struct res_ctx *ctx, const struct resource_def *def,
              const json_t *obj)
{
    const char *id = json_string_value(json_object_get(obj, "id"));
    char *key, *value;
    int error;

    ASSERT(id);
    key = xasprintf("%s/%s", def->plural, id);
    value = json_dumps(obj, JSON_COMPACT);
    ASSERT(value);
    error = store_put(ctx->txn, key, value);
    free(key);
    free(value);
    return error ? res_store_error(ctx, error) : 0;
}

int
resource_touch(struct res_ctx *ctx, const struct resource_def *def,
               json_t *obj)
{
    char ts[32];

    if (def->std_attrs) {
        json_int_t rev = json_integer_value(
            json_object_get(obj, "revision_number"));
        json_object_set_new(obj, "revision_number", json_integer(rev + 1));
        resource_time_format(ctx->now, true, ts);
        json_object_set_new(obj, "updated_at", json_string(ts));
    }
    return resource_save(ctx, def, obj);
}

/* Sets project_id and tenant_id of a new object from the body or the
 * request's default. */
static int
set_project(struct res_ctx *ctx, json_t *obj)
{
    const char *pid = json_string_value(json_object_get(obj, "project_id"));
    const char *tid = json_string_value(json_object_get(obj, "tenant_id"));
    const char *project;

    if (pid && tid && strcmp(pid, tid)) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "'project_id' and 'tenant_id' do not match");
    }
    project = pid ? pid : tid ? tid : ctx->project_id;
    json_t *p = json_string(project);
    if (!p) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Invalid input for project_id.");
    }
    json_object_set(obj, "project_id", p);
    json_object_set_new(obj, "tenant_id", p);
    return 0;
}

/* Checks every attribute of the request body 'in' against 'def' for a
 * create ('op' AF_POST) or an update ('op' AF_PUT) and sets the checked,
 * possibly normalized, values in 'obj' and, if nonnull, 'changes'. */
static int
apply_body(struct res_ctx *ctx, const struct resource_def *def,
           const json_t *in, enum attr_flags op, json_t *obj,
           json_t *changes)
{
    const char *key;
    json_t *val;

    if (!json_is_object(in)) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Resource body for '%s' must be an object.",
                         def->singular);
    }
    json_object_foreach ((json_t *) in, key, val) {
        const struct attr_def *attr = resource_attr(def, key);
        json_t *v;
        int error;

        if (!attr) {
            return res_error(ctx, 400, "HTTPBadRequest",
                             "Unrecognized attribute(s) '%s'", key);
        }
        if (!(attr->flags & op)) {
            return (op == AF_POST
                    ? res_error(ctx, 400, "HTTPBadRequest",
                                "Attribute '%s' not allowed in POST", key)
                    : res_error(ctx, 400, "HTTPBadRequest",
                                "Cannot update read-only attribute %s",
                                key));
        }
        v = json_incref(val);
        error = check_value(ctx, attr, &v);
        if (error) {
            json_decref(v);
            return error;
        }
        if (changes) {
            json_object_set(changes, key, v);
        }
        json_object_set_new(obj, key, v);
    }
    return 0;
}

int
resource_create(struct res_ctx *ctx, const struct resource_def *def,
                json_t *in, json_t **outp)
{
    json_t *obj = json_object();
    char buf[37], ts[32];
    int error;

    *outp = NULL;
    error = apply_body(ctx, def, in, AF_POST, obj, NULL);
    if (error) {
        goto out;
    }
    for (size_t i = 0; i < def->n_attrs; i++) {
        const struct attr_def *attr = &def->attrs[i];

        if (json_object_get(obj, attr->name)) {
            continue;
        }
        if (attr->flags & AF_REQUIRED) {
            error = res_error(ctx, 400, "HTTPBadRequest",
                              "Failed to parse request. Required attribute "
                              "'%s' not specified", attr->name);
            goto out;
        }
        if (attr->default_json) {
            json_t *d = load_json(attr->default_json);
            ASSERT(d);
            json_object_set_new(obj, attr->name, d);
        }
    }
    resource_uuid_new(buf);
    json_object_set_new(obj, "id", json_string(buf));
    error = set_project(ctx, obj);
    if (error) {
        goto out;
    }
    if (def->std_attrs) {
        resource_time_format(ctx->now, true, ts);
        json_object_set_new(obj, "created_at", json_string(ts));
        json_object_set_new(obj, "updated_at", json_string(ts));
        json_object_set_new(obj, "revision_number", json_integer(1));
    }
    error = def->create ? def->create(ctx, obj) : 0;
    if (!error) {
        error = resource_save(ctx, def, obj);
    }

out:
    if (error) {
        json_decref(obj);
    } else {
        *outp = obj;
    }
    return error;
}

int
resource_update(struct res_ctx *ctx, const struct resource_def *def,
                const char *id, json_t *in, json_t **outp)
{
    json_t *old = NULL, *obj = NULL, *changes = json_object();
    int error;

    *outp = NULL;
    error = resource_load(ctx, def, id, &old);
    if (error) {
        goto out;
    }
    obj = json_deep_copy(old);
    error = apply_body(ctx, def, in, AF_PUT, obj, changes);
    if (error) {
        goto out;
    }
    error = def->update ? def->update(ctx, old, obj, changes) : 0;
    if (!error && !json_equal(old, obj)) {
        error = resource_touch(ctx, def, obj);
    }

out:
    if (!error) {
        *outp = json_incref(obj);
    }
    json_decref(old);
    json_decref(obj);
    json_decref(changes);
    return error;
}

int
resource_delete(struct res_ctx *ctx, const struct resource_def *def,
                const char *id)
{
    json_t *obj;
    int error;

    error = resource_load(ctx, def, id, &obj);
    if (error) {
        return error;
    }
    error = def->remove ? def->remove(ctx, obj) : 0;
    if (!error) {
        error = resource_erase(ctx, def, id);
    }
    json_decref(obj);
    return error;
}

int
resource_erase(struct res_ctx *ctx, const struct resource_def *def,
               const char *id)
{
    char *key = xasprintf("%s/%s", def->plural, id);
    int error = store_delete(ctx->txn, key);

    free(key);
    return error && error != ENOENT ? res_store_error(ctx, error) : 0;
}

/* Filters. */

static bool
is_reserved_param(const char *key)
{
    for (size_t i = 0; i < ARRAY_SIZE(reserved_params); i++) {
        if (!strcmp(reserved_params[i], key)) {
            return true;
        }
    }
    return false;
}

/* True if scalar 'v' matches the filter text 'want'. */
static bool
scalar_matches(const json_t *v, const char *want)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return !strcmp(json_string_value(v), want);
    case JSON_TRUE:
        return !strcasecmp(want, "true") || !strcmp(want, "1");
    case JSON_FALSE:
        return !strcasecmp(want, "false") || !strcmp(want, "0");
    case JSON_INTEGER: {
        char buf[32];
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        return !strcmp(buf, want);
    }
    case JSON_NULL:
        return !*want || !strcmp(want, "None") || !strcmp(want, "null");
    case JSON_REAL:
    case JSON_OBJECT:
    case JSON_ARRAY:
    default:
        return false;
    }
}

/* True if attribute value 'v' matches 'want'.  For a list: some element
 * matches; "key=value" matches a list of objects by one member (Neutron's
 * "fixed_ips=ip_address=10.0.0.5"). */
static bool
value_matches(const json_t *v, const char *want)
{
    if (json_is_array(v)) {
        const char *eq = strchr(want, '=');
        size_t i;
        json_t *e;

        json_array_foreach (v, i, e) {
            if (json_is_object(e) && eq) {
                char *k = xmalloc(eq - want + 1);
                memcpy(k, want, eq - want);
                k[eq - want] = '\0';
                json_t *m = json_object_get(e, k);
                free(k);
                if (m && scalar_matches(m, eq + 1)) {
                    return true;
                }
            } else if (scalar_matches(e, want)) {
                return true;
            }
        }
        return false;
    }
    return scalar_matches(v, want);
}

/* True if 'obj' passes every attribute filter of 'q': parameters with the
 * same name are alternatives, different names must all match. */
static bool
matches_filters(const struct resource_def *def, const json_t *obj,
                const struct res_query *q)
{
    for (size_t i = 0; i < q->n; i++) {
        const char *key = q->params[i].key;
        const struct attr_def *attr;
        bool seen = false, any = false;

        if (is_reserved_param(key)) {
            continue;
        }
        attr = resource_attr(def, key);
        if (!attr) {
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(q->params[j].key, key)) {
                seen = true;
                break;
            }
        }
        if (seen) {
            continue;
        }
        const json_t *v = json_object_get(obj, key);
        for (size_t j = i; j < q->n && !any; j++) {
            if (!strcmp(q->params[j].key, key)) {
                any = v && value_matches(v, q->params[j].value);
            }
        }
        if (!any) {
            return false;
        }
    }
    return true;
}

/* True if 'name' was asked for by a "fields" parameter (repeatable, each
 * also comma-separated). */
static bool
field_requested(const struct res_query *q, const char *name)
{
    size_t nlen = strlen(name);

    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->params[i].key, "fields")) {
            continue;
        }
        const char *p = q->params[i].value;
        while (*p) {
            size_t len = strcspn(p, ",");
            if (len == nlen && !memcmp(p, name, len)) {
                return true;
            }
            p += len;
            if (*p) {
                p++;
            }
        }
    }
    return false;
}

/* If 'q' has "fields" parameters, removes from 'obj' every attribute they
 * do not name. */
static void
strip_fields(json_t *obj, const struct res_query *q)
{
    const char *key;
    json_t *val;
    void *tmp;

    if (!q || !res_query_get(q, "fields")) {
        return;
    }
    json_object_foreach_safe (obj, tmp, key, val) {
        if (!field_requested(q, key)) {
            json_object_del(obj, key);
        }
    }
}

json_t *
resource_view(struct res_ctx *ctx, const struct resource_def *def,
              json_t *obj, const struct res_query *q)
{
    json_t *view = json_copy(obj);

    if (def->render) {
        def->render(ctx, view);
    }
    strip_fields(view, q);
    return view;
}

int
resource_list(struct res_ctx *ctx, const struct resource_def *def,
              const struct res_query *q, json_t **outp, bool *morep)
{
    const char *limit_s = res_query_get(q, "limit");
    const char *marker = res_query_get(q, "marker");
    long long limit = 0;
    struct store_kvs kvs;
    char *prefix;
    json_t *list;
    int error;

    *outp = NULL;
    *morep = false;
    if (limit_s && *limit_s) {
        char *end;
        errno = 0;
        limit = strtoll(limit_s, &end, 10);
        if (*end || errno || limit < 0) {
            return res_error(ctx, 400, "HTTPBadRequest",
                             "Bad limit request: Limit must be an integer "
                             "0 or greater and not '%s'", limit_s);
        }
    }

    store_kvs_init(&kvs);
    prefix = xasprintf("%s/", def->plural);
    error = store_range(ctx->txn, prefix, &kvs);
    free(prefix);
    if (error) {
        store_kvs_destroy(&kvs);
        return res_store_error(ctx, error);
    }

    list = json_array();
    for (size_t i = 0; i < kvs.n; i++) {
        json_t *obj = load_json(kvs.kvs[i].value);

        if (!json_is_object(obj)) {
            json_decref(obj);
            continue;
        }
        if (marker) {
            const char *id = json_string_value(json_object_get(obj, "id"));
            if (!id || strcmp(id, marker) <= 0) {
                json_decref(obj);
                continue;
            }
        }
        /* Rendered once, before filtering, so that computed attributes
         * ("alive") can be filtered on. */
        if (def->render) {
            def->render(ctx, obj);
        }
        if (matches_filters(def, obj, q)) {
            if (limit && json_array_size(list) >= (size_t) limit) {
                *morep = true;
                json_decref(obj);
                break;
            }
            strip_fields(obj, q);
            json_array_append(list, obj);
        }
        json_decref(obj);
    }
    store_kvs_destroy(&kvs);
    *outp = list;
    return 0;
}

void
resource_print_reference(FILE *out)
{
    for (size_t i = 0; i < n_resource_defs; i++) {
        const struct resource_def *def = resource_defs[i];

        fprintf(out, "### %s (`/v2.0/%s`)\n\n", def->plural, def->plural);
        fprintf(out, "| attribute | type | create | update | default |\n");
        fprintf(out, "|---|---|---|---|---|\n");
        for (size_t j = 0; j < def->n_attrs; j++) {
            const struct attr_def *a = &def->attrs[j];
            const char *create = (a->flags & AF_REQUIRED ? "required"
                                  : a->flags & AF_POST ? "optional" : "-");

            fprintf(out, "| `%s` | %s%s | %s | %s | %s%s%s |\n", a->name,
                    attr_types[a->type].name,
                    a->flags & AF_NULLABLE ? " or null" : "", create,
                    a->flags & AF_PUT ? "yes" : "-",
                    a->default_json ? "`" : "",
                    a->default_json ? a->default_json : "computed",
                    a->default_json ? "`" : "");
        }
        fprintf(out, "\n");
        if (def->n_actions) {
            fprintf(out, "| action (`PUT /v2.0/%s/<id>/<action>`) | body "
                    "and effect |\n", def->plural);
            fprintf(out, "|---|---|\n");
            for (size_t j = 0; j < def->n_actions; j++) {
                fprintf(out, "| `%s` | %s |\n", def->actions[j].name,
                        def->actions[j].summary);
            }
            fprintf(out, "\n");
        }
    }
}
