/*
 * test-api.c -- the Neutron API through api_handle(), no sockets, over a
 * "memory:" store.
 *
 * Every rejected request is checked twice: for its status and error type,
 * and for leaving the store exactly as it was (same revision, same keys
 * and values), which is what "one transaction per request" promises.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/store.h"
#include "lib/util.h"
#include "tests/lib/unit.h"

static struct store *store;
static struct api *api;

static void
setup_cfg(const struct api_config *cfg)
{
    char *err = NULL;

    store = store_open("memory:", &err);
    ASSERT(store);
    api = api_create(store, cfg);
    ASSERT(api);
}

static void
setup(void)
{
    setup_cfg(NULL);
}

static void
teardown(void)
{
    api_destroy(api);
    store_close(store);
    api = NULL;
    store = NULL;
}

/* Sends a request; returns the status and stores the parsed reply (or
 * NULL) in '*replyp' if nonnull. */
static int
req(const char *method, const char *path, const char *query,
    const char *body, json_t **replyp)
{
    char *reply = NULL;
    int status = api_handle(api, method, path, query, body, &reply);

    if (replyp) {
        *replyp = reply ? json_loads(reply, 0, NULL) : NULL;
    }
    if (status == 204) {
        CHECK(reply == NULL);
    } else {
        CHECK(reply != NULL);
    }
    free(reply);
    return status;
}

/* Creates a resource, checks 201, returns its id (malloc'd). */
static char *
create(const char *plural, const char *body)
{
    json_t *reply;
    char *id = NULL;
    char singular[32];
    int status;

    snprintf(singular, sizeof singular, "%.*s", (int) strlen(plural) - 1,
             plural);
    char *path = xasprintf("/v2.0/%s", plural);
    status = req("POST", path, NULL, body, &reply);
    free(path);
    CHECK_EQ(status, 201);
    if (status != 201) {
        fprintf(stderr, "  create %s %s failed\n", plural, body);
    }
    const char *s = json_string_value(json_object_get(
                                          json_object_get(reply, singular),
                                          "id"));
    if (s) {
        id = xstrdup(s);
    }
    json_decref(reply);
    return id ? id : xstrdup("missing");
}

/* The whole store as one string, revision included. */
static char *
dump_store(void)
{
    struct store_kvs kvs;
    int64_t rev;
    size_t len = 0;
    char *out;

    store_kvs_init(&kvs);
    CHECK_EQ(store_snapshot(store, &kvs, &rev), 0);
    out = xasprintf("rev=%lld\n", (long long) rev);
    len = strlen(out);
    for (size_t i = 0; i < kvs.n; i++) {
        char *line = xasprintf("%s=%s\n", kvs.kvs[i].key, kvs.kvs[i].value);
        size_t l = strlen(line);
        out = xrealloc(out, len + l + 1);
        memcpy(out + len, line, l + 1);
        len += l;
        free(line);
    }
    store_kvs_destroy(&kvs);
    return out;
}

/* Checks that the request fails with 'status' and 'type' and changes
 * nothing in the store. */
static void
expect_error(const char *method, const char *path, const char *body,
             int status, const char *type)
{
    char *before = dump_store();
    int64_t rev = store_revision(store);
    json_t *reply;
    int got = req(method, path, NULL, body, &reply);
    char *after = dump_store();
    const char *t = json_string_value(
        json_object_get(json_object_get(reply, "NeutronError"), "type"));

    if (got != status || !t || (type && strcmp(t, type))) {
        fprintf(stderr, "  %s %s %s: got %d %s, want %d %s\n", method, path,
                body ? body : "", got, t ? t : "(none)", status,
                type ? type : "");
    }
    CHECK_EQ(got, status);
    CHECK(t != NULL);
    if (type && t) {
        CHECK_STREQ(t, type);
    }
    CHECK(json_is_string(json_object_get(
                             json_object_get(reply, "NeutronError"),
                             "message")));
    CHECK_EQ(store_revision(store), rev);
    CHECK_STREQ(before, after);
    free(before);
    free(after);
    json_decref(reply);
}

static json_t *
get_obj(const char *path, const char *singular)
{
    json_t *reply;
    int status = req("GET", path, NULL, NULL, &reply);
    json_t *obj;

    CHECK_EQ(status, 200);
    obj = json_incref(json_object_get(reply, singular));
    json_decref(reply);
    return obj;
}

/* Lists /v2.0/<plural>?<query>, checks for 200, and returns how many
 * objects the reply holds (-1 if it holds no such list). */
static int
list_count(const char *plural, const char *query)
{
    char *path = xasprintf("/v2.0/%s", plural);
    char *key = xstrdup(plural);
    json_t *r, *list;
    int n;

    /* "security-groups" lists as "security_groups". */
    for (char *p = key; *p; p++) {
        *p = *p == '-' ? '_' : *p;
    }
    CHECK_EQ(req("GET", path, query, NULL, &r), 200);
    list = json_object_get(r, key);
    free(key);
    n = json_is_array(list) ? (int) json_array_size(list) : -1;
    json_decref(r);
    free(path);
    return n;
}

static const char *
sget(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static char *
subnet_body(const char *net, const char *cidr, const char *extra)
{
    return xasprintf("{\"subnet\": {\"network_id\": \"%s\", \"ip_version\": "
                     "%d, \"cidr\": \"%s\"%s}}", net,
                     strchr(cidr, ':') ? 6 : 4, cidr, extra ? extra : "");
}

static char *
make_subnet(const char *net, const char *cidr, const char *extra)
{
    char *body = subnet_body(net, cidr, extra);
    char *id = create("subnets", body);
    free(body);
    return id;
}

static char *
make_port(const char *net, const char *extra)
{
    char *body = xasprintf("{\"port\": {\"network_id\": \"%s\"%s}}", net,
                           extra ? extra : "");
    char *id = create("ports", body);
    free(body);
    return id;
}

static void
test_versions_and_extensions(void)
{
    json_t *r;

    setup();
    CHECK_EQ(req("GET", "/", NULL, NULL, &r), 200);
    json_t *v = json_array_get(json_object_get(r, "versions"), 0);
    CHECK_STREQ(sget(v, "id"), "v2.0");
    CHECK_STREQ(sget(v, "status"), "CURRENT");
    CHECK(json_array_size(json_object_get(v, "links")) == 1);
    json_decref(r);

    CHECK_EQ(req("GET", "/v2.0", NULL, NULL, &r), 200);
    CHECK(json_array_size(json_object_get(r, "resources")) >= 3);
    json_decref(r);
    CHECK_EQ(req("GET", "/v2.0/", NULL, NULL, NULL), 200);

    CHECK_EQ(req("GET", "/v2.0/extensions", NULL, NULL, &r), 200);
    bool binding = false, weft = false;
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(r, "extensions"), i, e) {
        binding |= !strcmp(sget(e, "alias"), "binding");
        weft |= !strcmp(sget(e, "alias"), "weft");
        CHECK(json_is_string(json_object_get(e, "updated")));
        CHECK(json_is_array(json_object_get(e, "links")));
    }
    CHECK(binding && weft);
    json_decref(r);
    CHECK_EQ(req("GET", "/v2.0/extensions/provider", NULL, NULL, &r), 200);
    CHECK_STREQ(sget(json_object_get(r, "extension"), "alias"), "provider");
    json_decref(r);

    expect_error("GET", "/v2.0/extensions/nonesuch", NULL, 404,
                 "ExtensionNotFound");
    expect_error("POST", "/", "{}", 405, "HTTPMethodNotAllowed");
    expect_error("GET", "/v3", NULL, 404, "HTTPNotFound");
    expect_error("GET", "/v2.0/widgets", NULL, 404, "HTTPNotFound");
    expect_error("GET", "/v2.0/networks/a/b", NULL, 404, "HTTPNotFound");
    expect_error("GET", "/a/b/c/d/e/f/g/h/i/j/k", NULL, 404, NULL);
    teardown();
}

static void
test_network_crud(void)
{
    json_t *r, *n;
    char *id, *id2, *path;

    setup();
    id = create("networks", "{\"network\": {\"name\": \"net1\"}}");
    n = get_obj(path = xasprintf("/v2.0/networks/%s", id), "network");
    CHECK_STREQ(sget(n, "name"), "net1");
    CHECK_STREQ(sget(n, "status"), "ACTIVE");
    CHECK_STREQ(sget(n, "provider:network_type"), "geneve");
    CHECK_EQ(json_integer_value(json_object_get(n, "mtu")), 1442);
    CHECK_EQ(json_integer_value(json_object_get(n,
                                                "provider:segmentation_id")),
             1);
    CHECK(json_is_true(json_object_get(n, "admin_state_up")));
    CHECK(json_is_false(json_object_get(n, "shared")));
    CHECK(json_is_false(json_object_get(n, "router:external")));
    CHECK(json_is_true(json_object_get(n, "port_security_enabled")));
    CHECK(json_is_null(json_object_get(n, "provider:physical_network")));
    CHECK_STREQ(sget(n, "project_id"), API_DEFAULT_PROJECT);
    CHECK_STREQ(sget(n, "tenant_id"), API_DEFAULT_PROJECT);
    CHECK_EQ(json_integer_value(json_object_get(n, "revision_number")), 1);
    CHECK_EQ(strlen(sget(n, "created_at")), 20);
    CHECK(sget(n, "created_at")[19] == 'Z');
    CHECK_EQ(json_array_size(json_object_get(n, "subnets")), 0);
    json_decref(n);

    /* Update. */
    CHECK_EQ(req("PUT", path, NULL,
                 "{\"network\": {\"name\": \"net1b\", "
                 "\"admin_state_up\": false}}", &r), 200);
    n = json_object_get(r, "network");
    CHECK_STREQ(sget(n, "name"), "net1b");
    CHECK(json_is_false(json_object_get(n, "admin_state_up")));
    CHECK_EQ(json_integer_value(json_object_get(n, "revision_number")), 2);
    json_decref(r);
    expect_error("PUT", path, "{\"network\": {\"status\": \"DOWN\"}}", 400,
                 "HTTPBadRequest");
    expect_error("PUT", path, "{\"network\": {\"mtu\": 9000}}", 400,
                 "InvalidInput");
    expect_error("PUT", path, "{\"network\": {\"bogus\": 1}}", 400,
                 "HTTPBadRequest");
    expect_error("POST", path, "{\"network\": {}}", 405,
                 "HTTPMethodNotAllowed");
    expect_error("PATCH", "/v2.0/networks", "{}", 405,
                 "HTTPMethodNotAllowed");

    /* Second network: next VNI; given VNI in use: 409. */
    id2 = create("networks", "{\"network\": {\"name\": \"net2\"}}");
    expect_error("GET", "/v2.0/networks/nonexistent", NULL, 404,
                 "NetworkNotFound");
    expect_error("POST", "/v2.0/networks",
                 "{\"network\": {\"provider:segmentation_id\": 2}}", 409,
                 "TunnelIdInUse");

    /* Delete: 204, then 404; its VNI becomes free again. */
    CHECK_EQ(req("DELETE", path, NULL, NULL, NULL), 204);
    expect_error("GET", path, NULL, 404, "NetworkNotFound");
    expect_error("DELETE", path, NULL, 404, "NetworkNotFound");
    char *id3 = create("networks", "{\"network\": {}}");
    free(path);
    n = get_obj(path = xasprintf("/v2.0/networks/%s", id3), "network");
    CHECK_EQ(json_integer_value(json_object_get(n,
                                                "provider:segmentation_id")),
             1);
    json_decref(n);

    /* Bulk create is all-or-nothing. */
    CHECK_EQ(req("POST", "/v2.0/networks", NULL,
                 "{\"networks\": [{\"name\": \"b1\"}, {\"name\": \"b2\"}]}",
                 &r), 201);
    CHECK_EQ(json_array_size(json_object_get(r, "networks")), 2);
    json_decref(r);
    expect_error("POST", "/v2.0/networks",
                 "{\"networks\": [{\"name\": \"b3\"}, {\"name\": 7}]}", 400,
                 "HTTPBadRequest");

    free(path);
    free(id);
    free(id2);
    free(id3);
    teardown();

    /* VXLAN and another physnet MTU. */
    struct api_config cfg = { "vxlan", 9000, 30 };
    setup_cfg(&cfg);
    id = create("networks", "{\"network\": {}}");
    n = get_obj(path = xasprintf("/v2.0/networks/%s", id), "network");
    CHECK_EQ(json_integer_value(json_object_get(n, "mtu")), 8950);
    CHECK_STREQ(sget(n, "provider:network_type"), "vxlan");
    json_decref(n);
    free(path);
    free(id);
    teardown();
}

/* Request bodies for the table below: "%s" is the network id, a second
 * "%s" the subnet id. */
#define NET_BODY(ATTRS) "{\"network\": {" ATTRS "}}"
#define SUBNET_BODY(VERSION, CIDR, EXTRA)                                   \
    "{\"subnet\": {\"network_id\": \"%s\", \"ip_version\": " #VERSION       \
    ", \"cidr\": \"" CIDR "\"" EXTRA "}}"
#define PORT_BODY(EXTRA) "{\"port\": {\"network_id\": \"%s\"" EXTRA "}}"
#define MISSING_ID "6b1f3a5e-0000-4000-8000-000000000000"

static const struct bad_post {
    const char *plural;         /* POST /v2.0/<plural>. */
    const char *body;           /* Format, see above; NULL: no body. */
    int status;
    const char *type;
} bad_posts[] = {
    /* Malformed bodies. */
    { "networks", "{\"network\": ", 400, "HTTPBadRequest" },
    { "networks", "[1, 2]", 400, "HTTPBadRequest" },
    { "networks", "{\"net\": {}}", 400, "HTTPBadRequest" },
    { "networks", "{\"network\": 3}", 400, "HTTPBadRequest" },
    { "networks", NULL, 400, "HTTPBadRequest" },
    /* Wrong types, unknown and read-only attributes. */
    { "networks", NET_BODY("\"admin_state_up\": \"maybe\""), 400,
      "HTTPBadRequest" },
    { "networks", NET_BODY("\"name\": 5"), 400, "HTTPBadRequest" },
    { "networks", NET_BODY("\"colour\": \"red\""), 400, "HTTPBadRequest" },
    { "networks", NET_BODY("\"status\": \"DOWN\""), 400, "HTTPBadRequest" },
    { "networks", NET_BODY("\"project_id\": \"a\", \"tenant_id\": \"b\""),
      400, "HTTPBadRequest" },
    { "networks", NET_BODY("\"provider:network_type\": \"vlan\""), 400,
      "HTTPBadRequest" },

    /* Subnets. */
    { "subnets", SUBNET_BODY(4, "10.0.0/24", ""), 400, "InvalidInput" },
    { "subnets", SUBNET_BODY(4, "10.1.0.0/33", ""), 400, "InvalidInput" },
    { "subnets", SUBNET_BODY(6, "10.2.0.0/24", ""), 400, "InvalidInput" },
    { "subnets", SUBNET_BODY(5, "10.2.0.0/24", ""), 400, "HTTPBadRequest" },
    { "subnets", "{\"subnet\": {\"network_id\": \"" MISSING_ID "\", "
      "\"ip_version\": 4, \"cidr\": \"10.3.0.0/24\"}}", 404,
      "NetworkNotFound" },
    { "subnets", "{\"subnet\": {\"network_id\": \"not-a-uuid\", "
      "\"ip_version\": 4, \"cidr\": \"10.3.0.0/24\"}}", 400,
      "HTTPBadRequest" },
    { "subnets", SUBNET_BODY(4, "10.0.0.128/25", ""), 400, "InvalidInput" },
    { "subnets", SUBNET_BODY(4, "10.4.0.0/24",
                             ", \"gateway_ip\": \"10.5.0.1\""), 400,
      "InvalidInput" },
    { "subnets", SUBNET_BODY(4, "10.4.0.0/24", ", \"gateway_ip\": \"bogus\""),
      400, "HTTPBadRequest" },
    { "subnets", SUBNET_BODY(4, "10.4.0.0/24", ", \"allocation_pools\": "
                             "[{\"start\": \"10.4.0.10\", "
                             "\"end\": \"10.4.1.20\"}]"), 400,
      "OutOfBoundsAllocationPool" },
    { "subnets", SUBNET_BODY(4, "10.4.0.0/24", ", \"allocation_pools\": "
                             "[{\"start\": \"10.4.0.1\", "
                             "\"end\": \"10.4.0.20\"}]"), 409,
      "GatewayConflictWithAllocationPools" },
    { "subnets", SUBNET_BODY(4, "10.4.0.0/24", ", \"allocation_pools\": "
                             "[{\"start\": \"10.4.0.10\", "
                             "\"end\": \"10.4.0.20\"}, "
                             "{\"start\": \"10.4.0.20\", "
                             "\"end\": \"10.4.0.30\"}]"), 400,
      "OverlappingAllocationPools" },
    { "subnets", SUBNET_BODY(4, "10.4.0.0/24", ", \"allocation_pools\": "
                             "[{\"start\": \"10.4.0.30\", "
                             "\"end\": \"10.4.0.20\"}]"), 400,
      "InvalidAllocationPool" },

    /* Ports (10.0.0.5 and fa:16:3e:00:00:01 are taken). */
    { "ports", "{\"port\": {\"network_id\": \"" MISSING_ID "\"}}", 404,
      "NetworkNotFound" },
    { "ports", PORT_BODY(", \"fixed_ips\": [{\"ip_address\": \"10.0.0.5\"}]"),
      409, "IpAddressAlreadyAllocated" },
    { "ports", PORT_BODY(", \"fixed_ips\": [{\"subnet_id\": \"%s\", "
                         "\"ip_address\": \"10.9.0.5\"}]"), 400,
      "InvalidIpForSubnet" },
    { "ports", PORT_BODY(", \"fixed_ips\": [{\"ip_address\": \"10.9.0.5\"}]"),
      400, "InvalidIpForNetwork" },
    { "ports", PORT_BODY(", \"fixed_ips\": "
                         "[{\"ip_address\": \"10.0.0.300\"}]"), 400,
      "HTTPBadRequest" },
    { "ports", PORT_BODY(", \"fixed_ips\": [{\"subnet_id\": "
                         "\"6b1f3a5e-0000-4000-8000-00000000000f\"}]"), 400,
      "SubnetNotFound" },
    { "ports", PORT_BODY(", \"mac_address\": \"FA:16:3E:00:00:01\""), 409,
      "MacAddressInUse" },
    { "ports", PORT_BODY(", \"mac_address\": \"fa:16:3e:00:00\""), 400,
      "HTTPBadRequest" },
    { "ports", PORT_BODY(", \"mac_address\": \"01:00:5e:00:00:01\""), 400,
      "HTTPBadRequest" },
    /* Two requested IPs, the second a duplicate: the first is not kept. */
    { "ports", PORT_BODY(", \"fixed_ips\": [{\"ip_address\": \"10.0.0.6\"}, "
                         "{\"ip_address\": \"10.0.0.6\"}]"), 409,
      "IpAddressAlreadyAllocated" },
    { "ports", PORT_BODY(", \"fixed_ips\": [{\"ip_address\": \"10.0.0.1\"}]"),
      409, "IpAddressAlreadyAllocated" },
    { "ports", PORT_BODY(", \"fixed_ips\": "
                         "[{\"ip_address\": \"10.0.0.255\"}]"), 400,
      "InvalidIpForSubnet" },
};

static void
test_bad_input_changes_nothing(void)
{
    char *net, *sub, *port;

    setup();
    net = create("networks", "{\"network\": {\"name\": \"n\"}}");
    sub = make_subnet(net, "10.0.0.0/24", NULL);
    port = make_port(net, ", \"fixed_ips\": [{\"ip_address\": \"10.0.0.5\"}],"
                     " \"mac_address\": \"fa:16:3e:00:00:01\"");

    for (size_t i = 0; i < ARRAY_SIZE(bad_posts); i++) {
        const struct bad_post *c = &bad_posts[i];
        char *path = xasprintf("/v2.0/%s", c->plural);
        char *body = c->body ? xasprintf(c->body, net, sub) : NULL;

        expect_error("POST", path, body, c->status, c->type);
        free(body);
        free(path);
    }

    char *path = xasprintf("/v2.0/ports/%s", port);
    expect_error("PUT", path, "{\"port\": {\"network_id\": \"x\"}}", 400,
                 "HTTPBadRequest");
    expect_error("PUT", path, "{\"port\": {\"status\": \"ACTIVE\"}}", 400,
                 "HTTPBadRequest");
    expect_error("PUT", path, "{\"port\": {\"fixed_ips\": "
                 "[{\"ip_address\": \"10.7.0.1\"}]}}", 400,
                 "InvalidIpForNetwork");
    free(path);

    /* In use. */
    path = xasprintf("/v2.0/networks/%s", net);
    expect_error("DELETE", path, NULL, 409, "NetworkInUse");
    free(path);
    path = xasprintf("/v2.0/subnets/%s", sub);
    expect_error("DELETE", path, NULL, 409, "SubnetInUse");
    free(path);

    free(net);
    free(sub);
    free(port);
    teardown();
}

static void
test_subnets(void)
{
    json_t *s, *n, *r;
    char *net, *sub, *sub6, *sub3, *path;

    setup();
    net = create("networks", "{\"network\": {}}");
    sub = make_subnet(net, "10.0.0.77/24", NULL);
    s = get_obj(path = xasprintf("/v2.0/subnets/%s", sub), "subnet");
    CHECK_STREQ(sget(s, "cidr"), "10.0.0.0/24");
    CHECK_STREQ(sget(s, "gateway_ip"), "10.0.0.1");
    json_t *pool = json_array_get(json_object_get(s, "allocation_pools"), 0);
    CHECK_STREQ(sget(pool, "start"), "10.0.0.2");
    CHECK_STREQ(sget(pool, "end"), "10.0.0.254");
    CHECK(json_is_true(json_object_get(s, "enable_dhcp")));
    CHECK(json_is_null(json_object_get(s, "ipv6_ra_mode")));
    CHECK(json_is_null(json_object_get(s, "subnetpool_id")));
    CHECK_STREQ(sget(s, "network_id"), net);
    CHECK_STREQ(sget(s, "tenant_id"), API_DEFAULT_PROJECT);
    json_decref(s);

    sub6 = make_subnet(net, "fd00:1::/64", NULL);
    sub3 = make_subnet(net, "10.1.0.0/24", ", \"gateway_ip\": null, "
                       "\"dns_nameservers\": [\"8.8.8.8\"]");
    char *p3 = xasprintf("/v2.0/subnets/%s", sub3);
    s = get_obj(p3, "subnet");
    CHECK(json_is_null(json_object_get(s, "gateway_ip")));
    pool = json_array_get(json_object_get(s, "allocation_pools"), 0);
    CHECK_STREQ(sget(pool, "start"), "10.1.0.1");
    json_decref(s);
    char *p6 = xasprintf("/v2.0/subnets/%s", sub6);
    s = get_obj(p6, "subnet");
    CHECK_EQ(json_integer_value(json_object_get(s, "ip_version")), 6);
    CHECK_STREQ(sget(s, "gateway_ip"), "fd00:1::1");
    json_decref(s);

    char *pn = xasprintf("/v2.0/networks/%s", net);
    n = get_obj(pn, "network");
    CHECK_EQ(json_array_size(json_object_get(n, "subnets")), 3);
    json_decref(n);

    /* Update. */
    CHECK_EQ(req("PUT", path, NULL, "{\"subnet\": {\"name\": \"s\", "
                 "\"gateway_ip\": \"10.0.0.254\", \"allocation_pools\": "
                 "[{\"start\": \"10.0.0.10\", \"end\": \"10.0.0.20\"}]}}",
                 &r), 200);
    CHECK_STREQ(sget(json_object_get(r, "subnet"), "gateway_ip"),
                "10.0.0.254");
    json_decref(r);
    expect_error("PUT", path, "{\"subnet\": {\"gateway_ip\": "
                 "\"10.0.0.15\"}}", 409,
                 "GatewayConflictWithAllocationPools");
    expect_error("PUT", path, "{\"subnet\": {\"cidr\": \"10.0.0.0/16\"}}",
                 400, "HTTPBadRequest");

    /* Delete unlinks it from the network. */
    CHECK_EQ(req("DELETE", p3, NULL, NULL, NULL), 204);
    n = get_obj(pn, "network");
    CHECK_EQ(json_array_size(json_object_get(n, "subnets")), 2);
    json_decref(n);

    /* Network delete cascades. */
    CHECK_EQ(req("DELETE", pn, NULL, NULL, NULL), 204);
    expect_error("GET", path, NULL, 404, "SubnetNotFound");
    expect_error("GET", p6, NULL, 404, "SubnetNotFound");

    free(p3);
    free(p6);
    free(pn);
    free(path);
    free(net);
    free(sub);
    free(sub6);
    free(sub3);
    teardown();
}

static void
test_port_allocation(void)
{
    enum { N_PORTS = 13 };      /* 10.0.0.2 .. 10.0.0.14 */
    char *ids[N_PORTS];
    char *net, *sub, *sub6, *path;
    json_t *p, *r;

    setup();
    net = create("networks", "{\"network\": {}}");
    sub = make_subnet(net, "10.0.0.0/28", NULL);
    sub6 = make_subnet(net, "fd00::/64", NULL);

    for (int i = 0; i < N_PORTS; i++) {
        ids[i] = make_port(net, NULL);
    }
    /* Every IP and MAC distinct, every port has one v4 and one v6. */
    CHECK_EQ(req("GET", "/v2.0/ports", NULL, NULL, &r), 200);
    json_t *ports = json_object_get(r, "ports");
    CHECK_EQ(json_array_size(ports), N_PORTS);
    bool seen_ip[16] = { false };
    for (size_t i = 0; i < json_array_size(ports); i++) {
        json_t *port = json_array_get(ports, i);
        json_t *fixed = json_object_get(port, "fixed_ips");
        CHECK_EQ(json_array_size(fixed), 2);
        const char *ip = sget(json_array_get(fixed, 0), "ip_address");
        CHECK(!strncmp(ip, "10.0.0.", 7));
        int last = atoi(ip + 7);
        CHECK(last >= 2 && last <= 14);
        if (last >= 2 && last <= 14) {
            CHECK(!seen_ip[last]);
            seen_ip[last] = true;
        }
        CHECK(strchr(sget(json_array_get(fixed, 1), "ip_address"), ':'));
        const char *mac = sget(port, "mac_address");
        CHECK(!strncmp(mac, "fa:16:3e:", 9));
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(mac, sget(json_array_get(ports, j),
                                   "mac_address")));
            CHECK(strcmp(sget(json_array_get(
                                  json_object_get(json_array_get(ports, j),
                                                  "fixed_ips"), 1),
                              "ip_address"),
                         sget(json_array_get(fixed, 1), "ip_address")));
        }
        CHECK_STREQ(sget(port, "status"), "DOWN");
        CHECK_STREQ(sget(port, "binding:vif_type"), "unbound");
        CHECK_STREQ(sget(port, "binding:vnic_type"), "normal");
        CHECK_STREQ(sget(port, "device_owner"), "");
    }
    json_decref(r);

    /* Pool exhausted: 409, nothing changed. */
    char *b = xasprintf("{\"port\": {\"network_id\": \"%s\"}}", net);
    expect_error("POST", "/v2.0/ports", b, 409, "IpAddressGenerationFailure");
    free(b);

    /* Free one, get it back. */
    path = xasprintf("/v2.0/ports/%s", ids[4]);
    p = get_obj(path, "port");
    char *freed = xstrdup(sget(json_array_get(json_object_get(p,
                                                              "fixed_ips"),
                                              0), "ip_address"));
    json_decref(p);
    CHECK_EQ(req("DELETE", path, NULL, NULL, NULL), 204);
    free(ids[4]);
    ids[4] = make_port(net, ", \"binding:host_id\": \"hv1\", "
                       "\"binding:profile\": {\"interface_name\": \"v1\"}");
    free(path);
    path = xasprintf("/v2.0/ports/%s", ids[4]);
    p = get_obj(path, "port");
    CHECK_STREQ(sget(json_array_get(json_object_get(p, "fixed_ips"), 0),
                     "ip_address"), freed);
    CHECK_STREQ(sget(p, "binding:host_id"), "hv1");
    CHECK_STREQ(sget(p, "binding:vif_type"), "other");
    CHECK_STREQ(sget(json_object_get(p, "binding:profile"),
                     "interface_name"), "v1");
    json_decref(p);

    /* Updating fixed_ips frees the old address: swap two ports' IPs
     * through a free one is impossible (all used), so move ids[0] to the
     * v6 subnet only and give its v4 address to a new port. */
    char *p0 = xasprintf("/v2.0/ports/%s", ids[0]);
    p = get_obj(p0, "port");
    char *ip0 = xstrdup(sget(json_array_get(json_object_get(p, "fixed_ips"),
                                            0), "ip_address"));
    int rev0 = json_integer_value(json_object_get(p, "revision_number"));
    json_decref(p);
    b = xasprintf("{\"port\": {\"fixed_ips\": [{\"subnet_id\": \"%s\"}]}}",
                  sub6);
    CHECK_EQ(req("PUT", p0, NULL, b, &r), 200);
    free(b);
    p = json_object_get(r, "port");
    CHECK_EQ(json_array_size(json_object_get(p, "fixed_ips")), 1);
    CHECK_EQ(json_integer_value(json_object_get(p, "revision_number")),
             rev0 + 1);
    json_decref(r);
    b = xasprintf(", \"fixed_ips\": [{\"ip_address\": \"%s\"}]", ip0);
    char *newp = make_port(net, b);
    free(b);

    /* MAC update: unique, and the old MAC is released. */
    CHECK_EQ(req("PUT", p0, NULL, "{\"port\": {\"mac_address\": "
                 "\"fa:16:3e:aa:bb:cc\"}}", NULL), 200);
    char *mp = make_port(net, ", \"mac_address\": \"fa:16:3e:aa:bb:cd\", "
                         "\"fixed_ips\": []");
    b = xasprintf("{\"port\": {\"mac_address\": \"fa:16:3e:aa:bb:cc\"}}");
    char *pmp = xasprintf("/v2.0/ports/%s", mp);
    expect_error("PUT", pmp, b, 409, "MacAddressInUse");
    free(b);

    /* Deleting the network with ports: 409; after the ports: 204. */
    char *pn = xasprintf("/v2.0/networks/%s", net);
    expect_error("DELETE", pn, NULL, 409, "NetworkInUse");
    for (int i = 0; i < N_PORTS; i++) {
        char *pi = xasprintf("/v2.0/ports/%s", ids[i]);
        CHECK_EQ(req("DELETE", pi, NULL, NULL, NULL), 204);
        free(pi);
        free(ids[i]);
    }
    CHECK_EQ(req("DELETE", pmp, NULL, NULL, NULL), 204);
    char *pnew = xasprintf("/v2.0/ports/%s", newp);
    CHECK_EQ(req("DELETE", pnew, NULL, NULL, NULL), 204);
    /* A DHCP port does not keep the network alive. */
    free(make_port(net, ", \"device_owner\": \"network:dhcp\""));
    CHECK_EQ(req("DELETE", pn, NULL, NULL, NULL), 204);

    /* Nothing but the project's default security group (one group, four
     * rules and their index keys) is left: no leaked index keys. */
    struct store_kvs kvs;
    int64_t rev;
    size_t n_left = 0;
    store_kvs_init(&kvs);
    CHECK_EQ(store_snapshot(store, &kvs, &rev), 0);
    for (size_t i = 0; i < kvs.n; i++) {
        const char *k = kvs.kvs[i].key;
        if (strncmp(k, "security-group", 14) && strncmp(k, "idx/sg-rule/", 12)
            && strncmp(k, "idx/sg-remote/", 14)
            && strncmp(k, "idx/sg-default/", 15)) {
            fprintf(stderr, "  left over: %s\n", k);
            n_left++;
        }
    }
    CHECK_EQ(n_left, 0);
    CHECK_EQ(kvs.n, 1 + 4 + 1 + 4 + 2);
    store_kvs_destroy(&kvs);

    free(pnew);
    free(pn);
    free(pmp);
    free(mp);
    free(newp);
    free(ip0);
    free(p0);
    free(freed);
    free(path);
    free(net);
    free(sub);
    free(sub6);
    teardown();
}

static void
test_filters_and_fields(void)
{
    json_t *r, *list;
    char *net_a, *net_b, *net_c, *sub, *port;

    setup();
    net_a = create("networks", "{\"network\": {\"name\": \"a\"}}");
    net_b = create("networks", "{\"network\": {\"name\": \"b\", "
                   "\"admin_state_up\": false}}");
    net_c = create("networks", "{\"network\": {\"name\": \"c\"}}");

    CHECK_EQ(list_count("networks", "name=a&name=b"), 2);
    CHECK_EQ(list_count("networks", "name=a&admin_state_up=false"), 0);
    CHECK_EQ(req("GET", "/v2.0/networks", "admin_state_up=False", NULL, &r),
             200);
    list = json_object_get(r, "networks");
    CHECK_EQ(json_array_size(list), 1);
    CHECK_STREQ(sget(json_array_get(list, 0), "name"), "b");
    json_decref(r);
    CHECK_EQ(list_count("networks", "name=%61"), 1);
    CHECK_EQ(list_count("networks", "provider:segmentation_id=3"), 1);

    /* fields= keeps exactly what was asked. */
    CHECK_EQ(req("GET", "/v2.0/networks", "fields=id&fields=name", NULL, &r),
             200);
    list = json_object_get(r, "networks");
    CHECK_EQ(json_array_size(list), 3);
    CHECK_EQ(json_object_size(json_array_get(list, 0)), 2);
    CHECK(json_object_get(json_array_get(list, 0), "name") != NULL);
    json_decref(r);
    char *pa = xasprintf("/v2.0/networks/%s", net_a);
    CHECK_EQ(req("GET", pa, "fields=mtu", NULL, &r), 200);
    CHECK_EQ(json_object_size(json_object_get(r, "network")), 1);
    json_decref(r);

    /* limit/marker paginate in id order and link to the next page. */
    CHECK_EQ(req("GET", "/v2.0/networks", "limit=2", NULL, &r), 200);
    list = json_object_get(r, "networks");
    CHECK_EQ(json_array_size(list), 2);
    CHECK(json_is_array(json_object_get(r, "networks_links")));
    char *q = xasprintf("limit=2&marker=%s",
                        sget(json_array_get(list, 1), "id"));
    json_decref(r);
    CHECK_EQ(req("GET", "/v2.0/networks", q, NULL, &r), 200);
    CHECK_EQ(json_array_size(json_object_get(r, "networks")), 1);
    CHECK(!json_object_get(r, "networks_links"));
    json_decref(r);
    free(q);
    CHECK_EQ(req("GET", "/v2.0/networks", "limit=x", NULL, NULL), 400);

    /* Ports by fixed IP and subnet. */
    sub = make_subnet(net_a, "10.0.0.0/24", NULL);
    port = make_port(net_a, ", \"name\": \"p\", \"fixed_ips\": "
                     "[{\"ip_address\": \"10.0.0.5\"}]");
    free(make_port(net_a, NULL));
    CHECK_EQ(req("GET", "/v2.0/ports", "fixed_ips=ip_address%3D10.0.0.5",
                 NULL, &r), 200);
    list = json_object_get(r, "ports");
    CHECK_EQ(json_array_size(list), 1);
    CHECK_STREQ(sget(json_array_get(list, 0), "id"), port);
    json_decref(r);
    q = xasprintf("fixed_ips=subnet_id=%s", sub);
    CHECK_EQ(list_count("ports", q), 2);
    free(q);
    q = xasprintf("network_id=%s", net_b);
    CHECK_EQ(list_count("ports", q), 0);
    free(q);
    CHECK_EQ(list_count("subnets", "cidr=10.0.0.0/24"), 1);

    free(pa);
    free(net_a);
    free(net_b);
    free(net_c);
    free(sub);
    free(port);
    teardown();
}

static void
test_snapshot_and_watch(void)
{
    json_t *r, *ev;
    char *net, *q;
    int64_t rev0, rev1;

    setup();
    rev0 = store_revision(store);
    net = create("networks", "{\"network\": {\"name\": \"w\"}}");
    free(make_subnet(net, "10.0.0.0/24", NULL));
    free(make_port(net, NULL));
    rev1 = store_revision(store);
    CHECK(rev1 > rev0);

    CHECK_EQ(req("GET", "/v2.0/weft/snapshot", NULL, NULL, &r), 200);
    CHECK_EQ(json_integer_value(json_object_get(r, "revision")), rev1);
    CHECK_STREQ(sget(json_object_get(r, "config"), "encap"), "geneve");
    /* The network, subnet and port, and the project's default security
     * group with its four rules. */
    json_t *objs = json_object_get(r, "objects");
    CHECK_EQ(json_array_size(objs), 8);
    size_t i;
    json_t *o;
    bool saw_net = false;
    json_array_foreach (objs, i, o) {
        CHECK(strncmp(sget(o, "key"), "idx/", 4));
        if (!strncmp(sget(o, "key"), "networks/", 9)) {
            saw_net = true;
            CHECK_STREQ(sget(json_object_get(o, "value"), "name"), "w");
        }
    }
    CHECK(saw_net);
    json_decref(r);

    /* Everything since rev0, in order, without index keys. */
    q = xasprintf("since=%lld&timeout=0", (long long) rev0);
    CHECK_EQ(req("GET", "/v2.0/weft/watch", q, NULL, &r), 200);
    free(q);
    CHECK_EQ(json_integer_value(json_object_get(r, "revision")), rev1);
    ev = json_object_get(r, "events");
    CHECK(json_array_size(ev) >= 3);
    json_int_t last = 0;
    json_array_foreach (ev, i, o) {
        json_int_t rv = json_integer_value(json_object_get(o, "revision"));
        CHECK(rv >= last);
        last = rv;
        CHECK(strncmp(sget(o, "key"), "idx/", 4));
    }
    json_decref(r);

    /* Nothing new: empty events at the current revision. */
    q = xasprintf("since=%lld&timeout=0", (long long) rev1);
    CHECK_EQ(req("GET", "/v2.0/weft/watch", q, NULL, &r), 200);
    CHECK_EQ(json_array_size(json_object_get(r, "events")), 0);
    CHECK_EQ(json_integer_value(json_object_get(r, "revision")), rev1);
    json_decref(r);

    /* A deletion is an event with a null value. */
    char *pn = xasprintf("/v2.0/networks/%s", net);
    CHECK_EQ(req("PUT", pn, NULL, "{\"network\": {\"name\": \"w2\"}}", NULL),
             200);
    CHECK_EQ(req("GET", "/v2.0/weft/watch", q, NULL, &r), 200);
    ev = json_object_get(r, "events");
    CHECK_EQ(json_array_size(ev), 1);
    CHECK_STREQ(sget(json_object_get(json_array_get(ev, 0), "value"),
                     "name"), "w2");
    json_decref(r);
    free(q);

    /* Compacted history: 410 RevisionCompacted. */
    for (int k = 0; k < 5; k++) {
        CHECK_EQ(req("PUT", pn, NULL, k % 2
                     ? "{\"network\": {\"name\": \"x\"}}"
                     : "{\"network\": {\"name\": \"y\"}}", NULL), 200);
    }
    CHECK_EQ(store_compact(store, 1), 0);
    q = xasprintf("since=%lld&timeout=0", (long long) rev0);
    CHECK_EQ(req("GET", "/v2.0/weft/watch", q, NULL, &r), 410);
    CHECK_STREQ(sget(json_object_get(r, "NeutronError"), "type"),
                "RevisionCompacted");
    json_decref(r);
    free(q);
    CHECK_EQ(req("GET", "/v2.0/weft/watch", "since=abc", NULL, NULL), 400);
    expect_error("POST", "/v2.0/weft/watch", "{}", 405,
                 "HTTPMethodNotAllowed");
    expect_error("GET", "/v2.0/weft/nothing", NULL, 404, "HTTPNotFound");

    free(pn);
    free(net);
    teardown();
}

static void
test_agents(void)
{
    json_t *r, *a;
    int64_t rev;
    char *id, *path;

    setup();
    CHECK_EQ(req("POST", "/v2.0/weft/agents/report", NULL,
                 "{\"agent\": {\"host\": \"hv1\", \"tunnel_ip\": "
                 "\"198.18.0.11\", \"binary\": \"weft-agent\", "
                 "\"agent_type\": \"Weft agent\"}}", &r), 200);
    a = json_object_get(r, "agent");
    CHECK(json_is_true(json_object_get(a, "alive")));
    CHECK_STREQ(sget(a, "host"), "hv1");
    CHECK_STREQ(sget(a, "agent_type"), "Weft agent");
    CHECK_STREQ(sget(a, "binary"), "weft-agent");
    CHECK_STREQ(sget(a, "topic"), "N/A");
    CHECK_STREQ(sget(json_object_get(a, "configurations"), "tunnel_ip"),
                "198.18.0.11");
    CHECK_STREQ(sget(json_object_get(a, "configurations"), "encap"),
                "geneve");
    CHECK_EQ(strlen(sget(a, "heartbeat_timestamp")), 19);
    id = xstrdup(sget(a, "id"));
    json_decref(r);

    /* A heartbeat with the same configuration creates no revision. */
    rev = store_revision(store);
    CHECK_EQ(req("POST", "/v2.0/weft/agents/report", NULL,
                 "{\"agent\": {\"host\": \"hv1\", \"tunnel_ip\": "
                 "\"198.18.0.11\"}}", &r), 200);
    CHECK_STREQ(sget(json_object_get(r, "agent"), "id"), id);
    json_decref(r);
    CHECK_EQ(store_revision(store), rev);
    /* A new tunnel IP does. */
    CHECK_EQ(req("POST", "/v2.0/weft/agents/report", NULL,
                 "{\"agent\": {\"host\": \"hv1\", \"tunnel_ip\": "
                 "\"198.18.0.12\"}}", NULL), 200);
    CHECK(store_revision(store) > rev);

    CHECK_EQ(list_count("agents", "alive=true"), 1);
    path = xasprintf("/v2.0/agents/%s", id);
    a = get_obj(path, "agent");
    CHECK(json_is_true(json_object_get(a, "alive")));
    CHECK_STREQ(sget(json_object_get(a, "configurations"), "tunnel_ip"),
                "198.18.0.12");
    json_decref(a);

    /* Liveness is rendered inside the request's transaction, in a show and
     * in a list (where "alive" can be filtered on): a heartbeat older than
     * agent_down_time (30 s) makes the agent dead, a fresh one alive. */
    CHECK_EQ(store_heartbeat(store, "hv1", time_wall_sec() - 31), 0);
    a = get_obj(path, "agent");
    CHECK(json_is_false(json_object_get(a, "alive")));
    CHECK_EQ(strlen(sget(a, "heartbeat_timestamp")), 19);
    json_decref(a);
    CHECK_EQ(list_count("agents", "alive=false"), 1);
    CHECK_EQ(list_count("agents", "alive=true"), 0);
    CHECK_EQ(store_heartbeat(store, "hv1", time_wall_sec()), 0);
    a = get_obj(path, "agent");
    CHECK(json_is_true(json_object_get(a, "alive")));
    json_decref(a);

    /* An agent whose host never sent a heartbeat is not alive. */
#define GHOST_ID "6b1f3a5e-0000-4000-8000-0000000000a9"
    struct store_txn *txn = store_begin(store);
    CHECK_EQ(store_put(txn, "agents/" GHOST_ID, "{\"id\": \"" GHOST_ID "\", "
                       "\"host\": \"hv9\"}"), 0);
    CHECK_EQ(store_commit(txn, NULL), 0);
    a = get_obj("/v2.0/agents/" GHOST_ID, "agent");
    CHECK(json_is_false(json_object_get(a, "alive")));
    CHECK(json_is_null(json_object_get(a, "heartbeat_timestamp")));
    json_decref(a);
    CHECK_EQ(req("DELETE", "/v2.0/agents/" GHOST_ID, NULL, NULL, NULL), 204);
#undef GHOST_ID

    CHECK_EQ(req("PUT", path, NULL, "{\"agent\": {\"admin_state_up\": false,"
                 " \"description\": \"d\"}}", &r), 200);
    CHECK(json_is_false(json_object_get(json_object_get(r, "agent"),
                                        "admin_state_up")));
    json_decref(r);
    expect_error("PUT", path, "{\"agent\": {\"host\": \"x\"}}", 400,
                 "HTTPBadRequest");
    expect_error("POST", "/v2.0/agents", "{\"agent\": {}}", 405,
                 "HTTPMethodNotAllowed");
    expect_error("POST", "/v2.0/weft/agents/report",
                 "{\"agent\": {\"host\": \"hv2\"}}", 400, "HTTPBadRequest");
    expect_error("POST", "/v2.0/weft/agents/report",
                 "{\"agent\": {\"host\": \"hv2\", \"tunnel_ip\": \"x\"}}",
                 400, "HTTPBadRequest");
    expect_error("POST", "/v2.0/weft/agents/report", "{\"host\": 1}", 400,
                 "HTTPBadRequest");

    /* A deleted agent that reports again comes back as a new agent. */
    CHECK_EQ(req("DELETE", path, NULL, NULL, NULL), 204);
    expect_error("GET", path, NULL, 404, "AgentNotFound");
    CHECK_EQ(req("POST", "/v2.0/weft/agents/report", NULL,
                 "{\"agent\": {\"host\": \"hv1\", \"tunnel_ip\": "
                 "\"198.18.0.11\"}}", &r), 200);
    CHECK(strcmp(sget(json_object_get(r, "agent"), "id"), id));
    json_decref(r);
    free(path);
    free(id);
    teardown();
}

static void
test_port_status(void)
{
    char *net, *port, *path;
    int64_t rev;
    json_t *p;

    setup();
    net = create("networks", "{\"network\": {}}");
    port = make_port(net, ", \"binding:host_id\": \"hv1\"");
    path = xasprintf("/v2.0/weft/ports/%s/status", port);
    rev = store_revision(store);
    /* A host the port is not bound to may not set its status (a moved
     * port's old host reporting DOWN late): 409, nothing changes. */
    expect_error("PUT", path, "{\"status\": \"ACTIVE\", \"host\": "
                 "\"hv2\"}", 409, "PortBoundElsewhere");
    CHECK_EQ(store_revision(store), rev);
    CHECK_EQ(req("PUT", path, NULL, "{\"status\": \"ACTIVE\", \"host\": "
                 "\"hv1\"}", NULL), 200);
    CHECK_EQ(store_revision(store), rev + 1);
    char *pp = xasprintf("/v2.0/ports/%s", port);
    p = get_obj(pp, "port");
    CHECK_STREQ(sget(p, "status"), "ACTIVE");
    CHECK_EQ(json_integer_value(json_object_get(p, "revision_number")), 2);
    json_decref(p);
    /* Same status again: no new revision. */
    CHECK_EQ(req("PUT", path, NULL, "{\"status\": \"ACTIVE\"}", NULL), 200);
    CHECK_EQ(store_revision(store), rev + 1);
    expect_error("PUT", path, "{\"status\": \"BUILD\"}", 400,
                 "HTTPBadRequest");
    expect_error("PUT", path, "nonsense", 400, "HTTPBadRequest");
    expect_error("GET", path, NULL, 405, "HTTPMethodNotAllowed");
    expect_error("PUT", "/v2.0/weft/ports/nope/status",
                 "{\"status\": \"DOWN\"}", 404, "PortNotFound");

    /* Rebinding to another host makes the port DOWN until that host's
     * agent attaches it; the old host can no longer set it; the new one
     * can.  Other updates leave the status alone. */
    CHECK_EQ(req("PUT", pp, NULL, "{\"port\": {\"name\": \"x\"}}", NULL),
             200);
    p = get_obj(pp, "port");
    CHECK_STREQ(sget(p, "status"), "ACTIVE");
    json_decref(p);
    CHECK_EQ(req("PUT", pp, NULL,
                 "{\"port\": {\"binding:host_id\": \"hv2\"}}", NULL), 200);
    p = get_obj(pp, "port");
    CHECK_STREQ(sget(p, "status"), "DOWN");
    json_decref(p);
    expect_error("PUT", path, "{\"status\": \"ACTIVE\", \"host\": "
                 "\"hv1\"}", 409, "PortBoundElsewhere");
    CHECK_EQ(req("PUT", path, NULL, "{\"status\": \"ACTIVE\", \"host\": "
                 "\"hv2\"}", NULL), 200);
    p = get_obj(pp, "port");
    CHECK_STREQ(sget(p, "status"), "ACTIVE");
    json_decref(p);
    free(pp);
    free(path);
    free(port);
    free(net);
    teardown();
}

static void
test_project(void)
{
    struct api_request r = {
        .method = "POST", .path = "/v2.0/networks",
        .body = "{\"network\": {}}", .project_id = "proj-x",
    };
    char *reply;
    json_t *j;

    setup();
    r.body_len = strlen(r.body);
    CHECK_EQ(api_handle_request(api, &r, &reply), 201);
    j = json_loads(reply, 0, NULL);
    CHECK_STREQ(sget(json_object_get(j, "network"), "project_id"), "proj-x");
    CHECK_STREQ(sget(json_object_get(j, "network"), "tenant_id"), "proj-x");
    json_decref(j);
    free(reply);
    char *id = create("networks", "{\"network\": {\"tenant_id\": \"t\"}}");
    char *path = xasprintf("/v2.0/networks/%s", id);
    j = get_obj(path, "network");
    CHECK_STREQ(sget(j, "project_id"), "t");
    json_decref(j);
    CHECK_EQ(list_count("networks", "project_id=proj-x"), 1);
    free(path);
    free(id);
    teardown();
}

/* Routers. */

/* PUT /v2.0/routers/<router>/<action> with 'body'; returns the status and
 * the reply in '*replyp' if nonnull. */
static int
router_action(const char *router, const char *action, const char *body,
              json_t **replyp)
{
    char *path = xasprintf("/v2.0/routers/%s/%s", router, action);
    int status = req("PUT", path, NULL, body, replyp);

    free(path);
    return status;
}

/* Like expect_error() for a router action whose body is 'fmt' with up to
 * two "%s" filled from 'a' and 'b'. */
static void
expect_action_error(const char *router, const char *action, const char *fmt,
                    const char *a, const char *b, int status,
                    const char *type)
{
    char *path = xasprintf("/v2.0/routers/%s/%s", router, action);
    char *body = fmt ? xasprintf(fmt, a, b) : NULL;

    expect_error("PUT", path, body, status, type);
    free(body);
    free(path);
}

/* Sets the routes of 'router' to the JSON list 'routes'; returns the
 * status. */
static int
set_routes(const char *router, const char *routes)
{
    char *path = xasprintf("/v2.0/routers/%s", router);
    char *body = xasprintf("{\"router\": {\"routes\": %s}}", routes);
    int status = req("PUT", path, NULL, body, NULL);

    free(body);
    free(path);
    return status;
}

static void
expect_routes_error(const char *router, const char *routes, int status,
                    const char *type)
{
    char *path = xasprintf("/v2.0/routers/%s", router);
    char *body = xasprintf("{\"router\": {\"routes\": %s}}", routes);

    expect_error("PUT", path, body, status, type);
    free(body);
    free(path);
}

/* The store holds an index key for interface 'port' of 'router'. */
static bool
router_port_indexed(const char *router, const char *port)
{
    char *dump = dump_store();
    char *key = xasprintf("idx/router-port/%s/%s=", router, port);
    bool found = strstr(dump, key) != NULL;

    free(key);
    free(dump);
    return found;
}

static json_int_t
revision_of(const char *plural, const char *id)
{
    char *path = xasprintf("/v2.0/%s/%s", plural, id);
    char singular[32];
    json_t *obj;
    json_int_t rev;

    snprintf(singular, sizeof singular, "%.*s", (int) strlen(plural) - 1,
             plural);
    obj = get_obj(path, singular);
    rev = json_integer_value(json_object_get(obj, "revision_number"));
    json_decref(obj);
    free(path);
    return rev;
}

#define ROUTER_BODY(ATTRS) "{\"router\": {" ATTRS "}}"

static const struct bad_router_post {
    const char *body;
    const char *type;
} bad_router_posts[] = {
    { "{\"router\": ", "HTTPBadRequest" },
    { "[1]", "HTTPBadRequest" },
    { "{\"route\": {}}", "HTTPBadRequest" },
    { ROUTER_BODY("\"name\": 5"), "HTTPBadRequest" },
    { ROUTER_BODY("\"admin_state_up\": \"maybe\""), "HTTPBadRequest" },
    { ROUTER_BODY("\"status\": \"DOWN\""), "HTTPBadRequest" },
    { ROUTER_BODY("\"colour\": \"red\""), "HTTPBadRequest" },
    /* Routes only in an update (Neutron's extraroute). */
    { ROUTER_BODY("\"routes\": []"), "HTTPBadRequest" },
    { ROUTER_BODY("\"external_gateway_info\": {\"network_id\": \"" MISSING_ID
                  "\"}"), "HTTPBadRequest" },
    { ROUTER_BODY("\"external_gateway_info\": \"ext\""), "HTTPBadRequest" },
    { ROUTER_BODY("\"distributed\": false"), "HTTPBadRequest" },
    { ROUTER_BODY("\"ha\": true"), "HTTPBadRequest" },
    { ROUTER_BODY("\"tags\": [\"a\"]"), "HTTPBadRequest" },
};

static void
test_router_crud(void)
{
    json_t *r, *o;
    char *id, *path;

    setup();
    id = create("routers", "{\"router\": {\"name\": \"r1\", "
                "\"description\": \"d\"}}");
    o = get_obj(path = xasprintf("/v2.0/routers/%s", id), "router");
    CHECK_STREQ(sget(o, "id"), id);
    CHECK_STREQ(sget(o, "name"), "r1");
    CHECK_STREQ(sget(o, "description"), "d");
    CHECK_STREQ(sget(o, "status"), "ACTIVE");
    CHECK_STREQ(sget(o, "project_id"), API_DEFAULT_PROJECT);
    CHECK_STREQ(sget(o, "tenant_id"), API_DEFAULT_PROJECT);
    CHECK(json_is_true(json_object_get(o, "admin_state_up")));
    CHECK(json_is_true(json_object_get(o, "distributed")));
    CHECK(json_is_false(json_object_get(o, "ha")));
    CHECK(json_is_null(json_object_get(o, "external_gateway_info")));
    CHECK(json_is_array(json_object_get(o, "routes")));
    CHECK_EQ(json_array_size(json_object_get(o, "routes")), 0);
    CHECK_EQ(json_array_size(json_object_get(o, "tags")), 0);
    CHECK_EQ(json_integer_value(json_object_get(o, "revision_number")), 1);
    CHECK_EQ(strlen(sget(o, "created_at")), 20);
    CHECK_STREQ(sget(o, "created_at"), sget(o, "updated_at"));
    json_decref(o);

    /* The values Weft supports may be given; {} is no gateway, like
     * null. */
    char *id2 = create("routers", "{\"router\": {\"name\": \"r2\", "
                       "\"distributed\": true, \"ha\": false, "
                       "\"admin_state_up\": false, "
                       "\"external_gateway_info\": {}, "
                       "\"tenant_id\": \"p2\"}}");
    char *path2 = xasprintf("/v2.0/routers/%s", id2);
    o = get_obj(path2, "router");
    CHECK(json_is_null(json_object_get(o, "external_gateway_info")));
    CHECK(json_is_false(json_object_get(o, "admin_state_up")));
    CHECK_STREQ(sget(o, "project_id"), "p2");
    json_decref(o);

    for (size_t i = 0; i < ARRAY_SIZE(bad_router_posts); i++) {
        expect_error("POST", "/v2.0/routers", bad_router_posts[i].body, 400,
                     bad_router_posts[i].type);
    }
    /* The gateway refusal says why. */
    CHECK_EQ(req("POST", "/v2.0/routers", NULL,
                 ROUTER_BODY("\"external_gateway_info\": {\"network_id\": "
                             "\"" MISSING_ID "\"}"), &r), 400);
    CHECK(strstr(sget(json_object_get(r, "NeutronError"), "message"),
                 "external gateways are not supported") != NULL);
    json_decref(r);

    /* List, filters, fields. */
    CHECK_EQ(list_count("routers", NULL), 2);
    CHECK_EQ(list_count("routers", "name=r2"), 1);
    CHECK_EQ(list_count("routers", "admin_state_up=false"), 1);
    CHECK_EQ(list_count("routers", "project_id=p2"), 1);
    CHECK_EQ(list_count("routers", "distributed=true"), 2);
    CHECK_EQ(req("GET", "/v2.0/routers", "fields=id&fields=routes", NULL,
                 &r), 200);
    o = json_array_get(json_object_get(r, "routers"), 0);
    CHECK_EQ(json_object_size(o), 2);
    CHECK(json_is_array(json_object_get(o, "routes")));
    json_decref(r);
    CHECK_EQ(req("GET", "/v2.0", NULL, NULL, &r), 200);
    bool listed = false;
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(r, "resources"), i, e) {
        listed |= !strcmp(sget(e, "collection"), "routers");
    }
    CHECK(listed);
    json_decref(r);
    CHECK_EQ(req("GET", "/v2.0/extensions/router", NULL, NULL, NULL), 200);
    CHECK_EQ(req("GET", "/v2.0/extensions/extraroute", NULL, NULL, NULL),
             200);

    /* Update. */
    CHECK_EQ(req("PUT", path, NULL, "{\"router\": {\"name\": \"r1b\", "
                 "\"admin_state_up\": false, \"external_gateway_info\": "
                 "null, \"routes\": []}}", &r), 200);
    o = json_object_get(r, "router");
    CHECK_STREQ(sget(o, "name"), "r1b");
    CHECK(json_is_false(json_object_get(o, "admin_state_up")));
    CHECK_EQ(json_integer_value(json_object_get(o, "revision_number")), 2);
    json_decref(r);
    expect_error("PUT", path, "{\"router\": {\"status\": \"DOWN\"}}", 400,
                 "HTTPBadRequest");
    expect_error("PUT", path, "{\"router\": {\"id\": \"" MISSING_ID "\"}}",
                 400, "HTTPBadRequest");
    expect_error("PUT", path, "{\"router\": {\"distributed\": false}}", 400,
                 "HTTPBadRequest");
    expect_error("PUT", path, "{\"router\": {\"ha\": true}}", 400,
                 "HTTPBadRequest");
    expect_error("PUT", path, "{\"router\": {\"external_gateway_info\": "
                 "{\"network_id\": \"" MISSING_ID "\"}}}", 400,
                 "HTTPBadRequest");
    expect_error("PUT", path, "{\"router\": {\"routes\": \"none\"}}", 400,
                 "HTTPBadRequest");
    expect_error("PUT", path, "{\"router\": ", 400, "HTTPBadRequest");
    /* No interface yet: no nexthop is reachable. */
    expect_routes_error(id, "[{\"destination\": \"10.9.0.0/16\", "
                        "\"nexthop\": \"10.0.1.5\"}]", 400, "InvalidRoutes");

    /* Unknown ids, wrong methods. */
    expect_error("GET", "/v2.0/routers/" MISSING_ID, NULL, 404,
                 "RouterNotFound");
    expect_error("PUT", "/v2.0/routers/" MISSING_ID,
                 "{\"router\": {\"name\": \"x\"}}", 404, "RouterNotFound");
    expect_error("DELETE", "/v2.0/routers/" MISSING_ID, NULL, 404,
                 "RouterNotFound");
    expect_error("POST", path, "{\"router\": {}}", 405,
                 "HTTPMethodNotAllowed");

    /* Delete. */
    CHECK_EQ(req("DELETE", path, NULL, NULL, NULL), 204);
    expect_error("GET", path, NULL, 404, "RouterNotFound");
    CHECK_EQ(list_count("routers", NULL), 1);

    /* Agents see routers. */
    CHECK_EQ(req("GET", "/v2.0/weft/snapshot", NULL, NULL, &r), 200);
    char *key = xasprintf("routers/%s", id2);
    bool seen = false;
    json_array_foreach (json_object_get(r, "objects"), i, e) {
        seen |= !strcmp(sget(e, "key"), key);
    }
    CHECK(seen);
    free(key);
    json_decref(r);

    free(path);
    free(path2);
    free(id);
    free(id2);
    teardown();
}

static void
test_router_interfaces(void)
{
    char *net1, *sub1, *net2, *sub2, *net3, *sub3, *net4, *sub4, *net5,
        *sub5, *rt, *rt2, *path, *ifport, *p5, *q;
    json_t *r, *o, *p;

    setup();
    net1 = create("networks", "{\"network\": {\"name\": \"n1\"}}");
    sub1 = make_subnet(net1, "10.0.1.0/24", NULL);
    net2 = create("networks", "{\"network\": {\"name\": \"n2\"}}");
    sub2 = make_subnet(net2, "10.0.2.0/24", NULL);
    /* Overlaps sub1 (allowed: another network). */
    net3 = create("networks", "{\"network\": {\"name\": \"n3\"}}");
    sub3 = make_subnet(net3, "10.0.1.0/25", NULL);
    net4 = create("networks", "{\"network\": {\"name\": \"n4\"}}");
    sub4 = make_subnet(net4, "10.0.4.0/24", ", \"gateway_ip\": null");
    net5 = create("networks", "{\"network\": {\"name\": \"n5\"}}");
    sub5 = make_subnet(net5, "10.0.5.0/24", NULL);
    rt = create("routers", "{\"router\": {\"name\": \"r\", "
                "\"project_id\": \"pr\"}}");
    rt2 = create("routers", "{\"router\": {\"name\": \"r2\"}}");
    path = xasprintf("/v2.0/routers/%s", rt);

    /* By subnet: a port on the gateway IP, owned by the router. */
    q = xasprintf("{\"subnet_id\": \"%s\"}", sub1);
    CHECK_EQ(router_action(rt, "add_router_interface", q, &r), 200);
    free(q);
    CHECK_STREQ(sget(r, "id"), rt);
    CHECK_STREQ(sget(r, "tenant_id"), "pr");
    CHECK_STREQ(sget(r, "project_id"), "pr");
    CHECK_STREQ(sget(r, "subnet_id"), sub1);
    CHECK_STREQ(sget(r, "network_id"), net1);
    CHECK_EQ(json_array_size(json_object_get(r, "subnet_ids")), 1);
    CHECK_STREQ(json_string_value(json_array_get(
                                      json_object_get(r, "subnet_ids"), 0))
                ?: "", sub1);
    ifport = xstrdup(sget(r, "port_id"));
    CHECK_EQ(json_object_size(r), 7);
    json_decref(r);
    char *ifpath = xasprintf("/v2.0/ports/%s", ifport);
    p = get_obj(ifpath, "port");
    CHECK_STREQ(sget(p, "device_owner"), "network:router_interface");
    CHECK_STREQ(sget(p, "device_id"), rt);
    CHECK_STREQ(sget(p, "network_id"), net1);
    CHECK_STREQ(sget(p, "binding:host_id"), "");
    CHECK_STREQ(sget(p, "project_id"), "pr");
    CHECK_STREQ(sget(p, "status"), "ACTIVE");
    CHECK(json_is_true(json_object_get(p, "admin_state_up")));
    CHECK(!strncmp(sget(p, "mac_address"), "fa:16:3e:", 9));
    o = json_array_get(json_object_get(p, "fixed_ips"), 0);
    CHECK_EQ(json_array_size(json_object_get(p, "fixed_ips")), 1);
    CHECK_STREQ(sget(o, "subnet_id"), sub1);
    CHECK_STREQ(sget(o, "ip_address"), "10.0.1.1");
    json_decref(p);
    CHECK(router_port_indexed(rt, ifport));
    CHECK_EQ(revision_of("routers", rt), 2);
    q = xasprintf("device_id=%s", rt);
    CHECK_EQ(list_count("ports", q), 1);
    free(q);

    /* Refused: the same subnet again, an overlapping one, one without a
     * gateway, a missing one, a gateway IP another router holds. */
    const char *by_sub = "{\"subnet_id\": \"%s\"}";
    expect_action_error(rt, "add_router_interface", by_sub, sub1, NULL, 400,
                        "BadRequest");
    expect_action_error(rt, "add_router_interface", by_sub, sub3, NULL, 400,
                        "BadRequest");
    expect_action_error(rt, "add_router_interface", by_sub, sub4, NULL, 400,
                        "BadRequest");
    expect_action_error(rt, "add_router_interface", by_sub, MISSING_ID, NULL,
                        404, "SubnetNotFound");
    q = xasprintf(by_sub, sub2);
    CHECK_EQ(router_action(rt2, "add_router_interface", q, NULL), 200);
    free(q);
    expect_action_error(rt, "add_router_interface", by_sub, sub2, NULL, 409,
                        "IpAddressInUse");
    /* Malformed requests. */
    expect_action_error(rt, "add_router_interface", "{}", NULL, NULL, 400,
                        "BadRequest");
    expect_action_error(rt, "add_router_interface",
                        "{\"subnet_id\": \"%s\", \"port_id\": \"%s\"}", sub5,
                        ifport, 400, "BadRequest");
    expect_action_error(rt, "add_router_interface", "{\"subnet_id\": 5}",
                        NULL, NULL, 400, "BadRequest");
    expect_action_error(rt, "add_router_interface",
                        "{\"subnet_id\": \"nope\"}", NULL, NULL, 400,
                        "BadRequest");
    expect_action_error(rt, "add_router_interface",
                        "{\"subnet\": \"%s\"}", sub5, NULL, 400,
                        "BadRequest");
    expect_action_error(rt, "add_router_interface", "[1]", NULL, NULL, 400,
                        "HTTPBadRequest");
    expect_action_error(rt, "add_router_interface", "{\"subnet_id\": ",
                        NULL, NULL, 400, "HTTPBadRequest");
    expect_action_error(rt, "add_router_interface", NULL, NULL, NULL, 400,
                        "HTTPBadRequest");
    expect_action_error(MISSING_ID, "add_router_interface", by_sub, sub5,
                        NULL, 404, "RouterNotFound");
    expect_action_error(rt, "add_gateway", by_sub, sub5, NULL, 404,
                        "HTTPNotFound");
    q = xasprintf("/v2.0/routers/%s/add_router_interface", rt);
    expect_error("GET", q, NULL, 405, "HTTPMethodNotAllowed");
    expect_error("POST", q, "{}", 405, "HTTPMethodNotAllowed");
    free(q);
    q = xasprintf("/v2.0/networks/%s/add_router_interface", net1);
    expect_error("PUT", q, "{}", 404, "HTTPNotFound");
    free(q);

    /* By port: an unused port joins, unbound. */
    p5 = make_port(net5, ", \"binding:host_id\": \"hv1\", \"fixed_ips\": "
                   "[{\"ip_address\": \"10.0.5.10\"}]");
    const char *by_port = "{\"port_id\": \"%s\"}";
    q = xasprintf(by_port, p5);
    CHECK_EQ(router_action(rt, "add_router_interface", q, &r), 200);
    free(q);
    CHECK_STREQ(sget(r, "port_id"), p5);
    CHECK_STREQ(sget(r, "subnet_id"), sub5);
    CHECK_STREQ(sget(r, "network_id"), net5);
    json_decref(r);
    char *p5path = xasprintf("/v2.0/ports/%s", p5);
    p = get_obj(p5path, "port");
    CHECK_STREQ(sget(p, "device_owner"), "network:router_interface");
    CHECK_STREQ(sget(p, "device_id"), rt);
    CHECK_STREQ(sget(p, "binding:host_id"), "");
    CHECK_STREQ(sget(p, "status"), "ACTIVE");
    CHECK_STREQ(sget(json_array_get(json_object_get(p, "fixed_ips"), 0),
                     "ip_address"), "10.0.5.10");
    json_decref(p);
    CHECK(router_port_indexed(rt, p5));

    /* Refused ports: attached (to us, to a VM, owned by Nova), without an
     * address, missing, on an overlapping subnet. */
    char *vm = make_port(net5, ", \"device_id\": \"vm-1\"");
    char *nova = make_port(net5, ", \"device_owner\": \"compute:nova\"");
    char *bare = make_port(net5, ", \"fixed_ips\": []");
    char *ov = make_port(net3, NULL);
    expect_action_error(rt, "add_router_interface", by_port, p5, NULL, 409,
                        "PortInUse");
    expect_action_error(rt, "add_router_interface", by_port, vm, NULL, 409,
                        "PortInUse");
    expect_action_error(rt, "add_router_interface", by_port, nova, NULL, 409,
                        "PortInUse");
    expect_action_error(rt, "add_router_interface", by_port, bare, NULL, 400,
                        "BadRequest");
    expect_action_error(rt, "add_router_interface", by_port, MISSING_ID,
                        NULL, 404, "PortNotFound");
    expect_action_error(rt, "add_router_interface", by_port, ov, NULL, 400,
                        "BadRequest");

    /* Routes: nexthops inside an interface's subnet. */
    CHECK_EQ(set_routes(rt, "[{\"destination\": \"10.9.7.7/16\", "
                        "\"nexthop\": \"10.0.1.5\"}, {\"destination\": "
                        "\"0.0.0.0/0\", \"nexthop\": \"10.0.5.254\"}]"), 200);
    o = get_obj(path, "router");
    json_t *routes = json_object_get(o, "routes");
    CHECK_EQ(json_array_size(routes), 2);
    CHECK_STREQ(sget(json_array_get(routes, 0), "destination"),
                "10.9.0.0/16");
    CHECK_STREQ(sget(json_array_get(routes, 0), "nexthop"), "10.0.1.5");
    CHECK_STREQ(sget(json_array_get(routes, 1), "destination"), "0.0.0.0/0");
    json_decref(o);
    expect_routes_error(rt, "[{\"destination\": \"10.9.0.0/16\", "
                        "\"nexthop\": \"10.0.7.1\"}]", 400, "InvalidRoutes");
    expect_routes_error(rt, "[{\"destination\": \"10.9.0.0/16\", "
                        "\"nexthop\": \"10.0.1.1\"}]", 400, "InvalidRoutes");
    expect_routes_error(rt, "[{\"destination\": \"fd00::/64\", "
                        "\"nexthop\": \"10.0.1.5\"}]", 400, "InvalidRoutes");
    expect_routes_error(rt, "[{\"destination\": \"10.9.0.0/33\", "
                        "\"nexthop\": \"10.0.1.5\"}]", 400, "HTTPBadRequest");
    expect_routes_error(rt, "[{\"destination\": \"10.9.0.0/16\", "
                        "\"nexthop\": \"10.0.1.300\"}]", 400,
                        "HTTPBadRequest");
    expect_routes_error(rt, "[{\"destination\": \"10.9.0.0/16\"}]", 400,
                        "HTTPBadRequest");
    expect_routes_error(rt, "[{\"destination\": \"10.9.0.0/16\", "
                        "\"nexthop\": \"10.0.1.5\", \"metric\": 1}]", 400,
                        "HTTPBadRequest");
    expect_routes_error(rt, "[\"10.9.0.0/16\"]", 400, "HTTPBadRequest");
    expect_routes_error(rt, "[{\"destination\": \"10.9.0.0/16\", "
                        "\"nexthop\": \"10.0.1.5\"}, {\"destination\": "
                        "\"10.9.0.0/16\", \"nexthop\": \"10.0.1.5\"}]", 400,
                        "HTTPBadRequest");
    char many[4096] = "[";
    for (int k = 0; k <= 30; k++) {
        char one[96];
        snprintf(one, sizeof one, "%s{\"destination\": \"10.%d.0.0/16\", "
                 "\"nexthop\": \"10.0.1.5\"}", k ? ", " : "", 100 + k);
        strcat(many, one);
    }
    strcat(many, "]");
    expect_routes_error(rt, many, 400, "RoutesExhausted");

    /* In use: the router, its ports, their subnets and networks. */
    expect_error("DELETE", path, NULL, 409, "RouterInUse");
    expect_error("DELETE", ifpath, NULL, 409, "ServicePortInUse");
    expect_error("DELETE", p5path, NULL, 409, "ServicePortInUse");
    q = xasprintf("/v2.0/subnets/%s", sub1);
    expect_error("DELETE", q, NULL, 409, "SubnetInUse");
    free(q);
    q = xasprintf("/v2.0/networks/%s", net1);
    expect_error("DELETE", q, NULL, 409, "NetworkInUse");
    free(q);
    /* The interface holds the gateway: it cannot move (or go). */
    q = xasprintf("/v2.0/subnets/%s", sub1);
    expect_error("PUT", q, "{\"subnet\": {\"gateway_ip\": \"10.0.1.9\"}}",
                 409, "GatewayIpInUse");
    expect_error("PUT", q, "{\"subnet\": {\"gateway_ip\": null}}", 409,
                 "GatewayIpInUse");
    CHECK_EQ(req("PUT", q, NULL, "{\"subnet\": {\"name\": \"s1\", "
                 "\"gateway_ip\": \"10.0.1.1\"}}", NULL), 200);
    free(q);

    /* Removal: refused while a route goes through the subnet; the wrong
     * subnet for a port; interfaces that are not there. */
    expect_action_error(rt, "remove_router_interface", by_sub, sub1, NULL,
                        409, "RouterInterfaceInUseByRoute");
    expect_action_error(rt, "remove_router_interface", by_port, ifport,
                        NULL, 409, "RouterInterfaceInUseByRoute");
    expect_action_error(rt, "remove_router_interface",
                        "{\"port_id\": \"%s\", \"subnet_id\": \"%s\"}",
                        ifport, sub5, 400, "SubnetMismatchForPort");
    expect_action_error(rt, "remove_router_interface", by_sub, sub4, NULL,
                        404, "RouterInterfaceNotFoundForSubnet");
    expect_action_error(rt, "remove_router_interface", by_sub, MISSING_ID,
                        NULL, 404, "SubnetNotFound");
    expect_action_error(rt, "remove_router_interface", by_port, vm, NULL,
                        404, "RouterInterfaceNotFound");
    expect_action_error(rt, "remove_router_interface", by_port, MISSING_ID,
                        NULL, 404, "RouterInterfaceNotFound");
    expect_action_error(rt, "remove_router_interface", "{}", NULL, NULL,
                        400, "BadRequest");
    expect_action_error(rt, "remove_router_interface", "{\"port_id\": 1}",
                        NULL, NULL, 400, "BadRequest");
    expect_action_error(MISSING_ID, "remove_router_interface", by_sub, sub1,
                        NULL, 404, "RouterNotFound");

    /* Without the route through sub1, its interface goes (by subnet). */
    CHECK_EQ(set_routes(rt, "[{\"destination\": \"0.0.0.0/0\", "
                        "\"nexthop\": \"10.0.5.254\"}]"), 200);
    json_int_t rev = revision_of("routers", rt);
    q = xasprintf(by_sub, sub1);
    CHECK_EQ(router_action(rt, "remove_router_interface", q, &r), 200);
    free(q);
    CHECK_STREQ(sget(r, "id"), rt);
    CHECK_STREQ(sget(r, "port_id"), ifport);
    CHECK_STREQ(sget(r, "subnet_id"), sub1);
    CHECK_STREQ(sget(r, "network_id"), net1);
    CHECK_STREQ(sget(r, "tenant_id"), "pr");
    CHECK_EQ(json_array_size(json_object_get(r, "subnet_ids")), 1);
    json_decref(r);
    expect_error("GET", ifpath, NULL, 404, "PortNotFound");
    CHECK(!router_port_indexed(rt, ifport));
    CHECK_EQ(revision_of("routers", rt), rev + 1);
    expect_action_error(rt, "remove_router_interface", by_sub, sub1, NULL,
                        404, "RouterInterfaceNotFoundForSubnet");
    /* Now nothing holds its gateway IP, and sub1 can come back. */
    q = xasprintf(by_sub, sub1);
    CHECK_EQ(router_action(rt, "add_router_interface", q, &r), 200);
    free(q);
    char *ifport2 = xstrdup(sget(r, "port_id"));
    json_decref(r);
    CHECK(strcmp(ifport2, ifport));

    /* The port interface: by port, after its route is gone. */
    expect_action_error(rt, "remove_router_interface", by_port, p5, NULL,
                        409, "RouterInterfaceInUseByRoute");
    CHECK_EQ(set_routes(rt, "[]"), 200);
    q = xasprintf("{\"port_id\": \"%s\", \"subnet_id\": \"%s\"}", p5, sub5);
    CHECK_EQ(router_action(rt, "remove_router_interface", q, &r), 200);
    free(q);
    CHECK_STREQ(sget(r, "port_id"), p5);
    CHECK_STREQ(sget(r, "subnet_id"), sub5);
    json_decref(r);
    expect_error("GET", p5path, NULL, 404, "PortNotFound");

    /* A port made an interface through the port API counts as one too:
     * the router cannot go while it is there. */
    q = xasprintf(", \"device_owner\": \"network:router_interface\", "
                  "\"device_id\": \"%s\"", rt2);
    char *manual = make_port(net5, q);
    free(q);
    CHECK(router_port_indexed(rt2, manual));
    q = xasprintf("/v2.0/routers/%s", rt2);
    expect_error("DELETE", q, NULL, 409, "RouterInUse");
    free(q);
    q = xasprintf("{\"port\": {\"device_owner\": \"\", \"device_id\": "
                  "\"\"}}");
    char *mpath = xasprintf("/v2.0/ports/%s", manual);
    CHECK_EQ(req("PUT", mpath, NULL, q, &r), 200);
    CHECK_STREQ(sget(json_object_get(r, "port"), "status"), "DOWN");
    json_decref(r);
    free(q);
    CHECK(!router_port_indexed(rt2, manual));
    CHECK_EQ(req("DELETE", mpath, NULL, NULL, NULL), 204);
    free(mpath);
    /* One without an address is still removable by port. */
    q = xasprintf(", \"fixed_ips\": [], \"device_owner\": "
                  "\"network:router_interface\", \"device_id\": \"%s\"", rt2);
    char *noip = make_port(net5, q);
    free(q);
    CHECK(router_port_indexed(rt2, noip));
    q = xasprintf("{\"port_id\": \"%s\"}", noip);
    CHECK_EQ(router_action(rt2, "remove_router_interface", q, &r), 200);
    CHECK_STREQ(sget(r, "port_id"), noip);
    CHECK_EQ(json_array_size(json_object_get(r, "subnet_ids")), 0);
    json_decref(r);
    free(q);
    CHECK(!router_port_indexed(rt2, noip));
    free(noip);

    /* Everything off: the router deletes, and no index key is left. */
    q = xasprintf(by_sub, sub1);
    CHECK_EQ(router_action(rt, "remove_router_interface", q, NULL), 200);
    free(q);
    CHECK_EQ(req("DELETE", path, NULL, NULL, NULL), 204);
    q = xasprintf(by_sub, sub2);
    CHECK_EQ(router_action(rt2, "remove_router_interface", q, NULL), 200);
    free(q);
    q = xasprintf("/v2.0/routers/%s", rt2);
    CHECK_EQ(req("DELETE", q, NULL, NULL, NULL), 204);
    free(q);
    char *dump = dump_store();
    CHECK(!strstr(dump, "idx/router-port/"));
    free(dump);
    q = xasprintf("/v2.0/subnets/%s", sub1);
    CHECK_EQ(req("DELETE", q, NULL, NULL, NULL), 204);
    free(q);

    free(ifpath);
    free(p5path);
    free(ifport);
    free(ifport2);
    free(p5);
    free(vm);
    free(nova);
    free(bare);
    free(ov);
    free(manual);
    free(path);
    free(net1);
    free(sub1);
    free(net2);
    free(sub2);
    free(net3);
    free(sub3);
    free(net4);
    free(sub4);
    free(net5);
    free(sub5);
    free(rt);
    free(rt2);
    teardown();
}

/* A port with addresses on two subnets is one interface on both; removing
 * one subnet keeps the port with the other address. */
static void
test_router_multi_subnet_port(void)
{
    char *net, *sa, *sb, *rt, *port, *q, *pp;
    json_t *r, *p;

    setup();
    net = create("networks", "{\"network\": {}}");
    sa = make_subnet(net, "10.0.6.0/24", NULL);
    sb = make_subnet(net, "10.0.16.0/24", NULL);
    rt = create("routers", "{\"router\": {}}");
    q = xasprintf(", \"fixed_ips\": [{\"subnet_id\": \"%s\"}, "
                  "{\"subnet_id\": \"%s\"}]", sa, sb);
    port = make_port(net, q);
    free(q);
    q = xasprintf("{\"port_id\": \"%s\"}", port);
    CHECK_EQ(router_action(rt, "add_router_interface", q, &r), 200);
    free(q);
    CHECK_EQ(json_array_size(json_object_get(r, "subnet_ids")), 2);
    CHECK_STREQ(sget(r, "subnet_id"), sa);
    json_decref(r);
    /* Both subnets are now taken on this router. */
    expect_action_error(rt, "add_router_interface", "{\"subnet_id\": \"%s\"}",
                        sb, NULL, 400, "BadRequest");
    CHECK_EQ(set_routes(rt, "[{\"destination\": \"10.8.0.0/16\", "
                        "\"nexthop\": \"10.0.16.9\"}]"), 200);

    q = xasprintf("{\"subnet_id\": \"%s\"}", sa);
    CHECK_EQ(router_action(rt, "remove_router_interface", q, &r), 200);
    free(q);
    CHECK_STREQ(sget(r, "port_id"), port);
    CHECK_EQ(json_array_size(json_object_get(r, "subnet_ids")), 1);
    json_decref(r);
    p = get_obj(pp = xasprintf("/v2.0/ports/%s", port), "port");
    CHECK_EQ(json_array_size(json_object_get(p, "fixed_ips")), 1);
    CHECK_STREQ(sget(json_array_get(json_object_get(p, "fixed_ips"), 0),
                     "subnet_id"), sb);
    CHECK_STREQ(sget(p, "device_id"), rt);
    json_decref(p);
    CHECK(router_port_indexed(rt, port));
    expect_action_error(rt, "remove_router_interface",
                        "{\"subnet_id\": \"%s\"}", sb, NULL, 409,
                        "RouterInterfaceInUseByRoute");
    CHECK_EQ(set_routes(rt, "[]"), 200);
    q = xasprintf("{\"subnet_id\": \"%s\"}", sb);
    CHECK_EQ(router_action(rt, "remove_router_interface", q, NULL), 200);
    free(q);
    expect_error("GET", pp, NULL, 404, "PortNotFound");
    CHECK(!router_port_indexed(rt, port));

    free(pp);
    free(net);
    free(sa);
    free(sb);
    free(rt);
    free(port);
    teardown();
}

/* Security groups. */

/* Creates a /v2.0/<plural> object from 'body' with 201 and returns its id
 * (malloc'd); 'singular' names the reply member. */
static char *
create_as(const char *plural, const char *singular, const char *body)
{
    char *path = xasprintf("/v2.0/%s", plural);
    json_t *reply;
    char *id;
    int status = req("POST", path, NULL, body, &reply);

    CHECK_EQ(status, 201);
    if (status != 201) {
        fprintf(stderr, "  create %s %s failed\n", plural, body);
    }
    id = xstrdup(sget(json_object_get(reply, singular), "id"));
    json_decref(reply);
    free(path);
    return id;
}

static char *
make_sg(const char *name)
{
    char *body = xasprintf("{\"security_group\": {\"name\": \"%s\"}}", name);
    char *id = create_as("security-groups", "security_group", body);

    free(body);
    return id;
}

/* Creates a rule in 'sg' with the extra members 'attrs' (JSON text that
 * starts with a comma, or ""). */
static char *
make_rule(const char *sg, const char *attrs)
{
    char *body = xasprintf("{\"security_group_rule\": {\"security_group_id\":"
                           " \"%s\"%s}}", sg, attrs);
    char *id = create_as("security-group-rules", "security_group_rule",
                         body);

    free(body);
    return id;
}

/* True if some key or value in the store contains 's'. */
static bool
store_mentions(const char *s)
{
    char *dump = dump_store();
    bool found = strstr(dump, s) != NULL;

    free(dump);
    return found;
}

/* GET /v2.0/<plural>/<id> with 200; returns its <singular> member. */
static json_t *
get_member(const char *plural, const char *singular, const char *id)
{
    char *path = xasprintf("/v2.0/%s/%s", plural, id);
    json_t *obj = get_obj(path, singular);

    free(path);
    return obj;
}

static json_t *
get_sg(const char *id)
{
    return get_member("security-groups", "security_group", id);
}

static json_t *
get_rule(const char *id)
{
    return get_member("security-group-rules", "security_group_rule", id);
}

static json_t *
get_port(const char *id)
{
    return get_member("ports", "port", id);
}

static json_int_t
sg_revision(const char *id)
{
    json_t *sg = get_sg(id);
    json_int_t rev = json_integer_value(json_object_get(sg,
                                                        "revision_number"));

    json_decref(sg);
    return rev;
}

/* The id of the default group of 'project' (NULL: the default project),
 * listing the groups as that project (which creates it). */
static char *
default_sg(const char *project)
{
    char *query = xasprintf("name=default&project_id=%s",
                            project ? project : API_DEFAULT_PROJECT);
    struct api_request r = {
        .method = "GET", .path = "/v2.0/security-groups",
        .query = query, .project_id = project,
    };
    char *reply = NULL;
    json_t *doc, *list;
    char *id = NULL;

    CHECK_EQ(api_handle_request(api, &r, &reply), 200);
    free(query);
    doc = json_loads(reply, 0, NULL);
    list = json_object_get(doc, "security_groups");
    CHECK_EQ(json_array_size(list), 1);
    id = xstrdup(sget(json_array_get(list, 0), "id"));
    json_decref(doc);
    free(reply);
    return id;
}

/* True if the security group rules of 'sg' contain one whose members
 * include every member of the JSON object 'want'. */
static bool
sg_has_rule(const json_t *sg, const char *want)
{
    json_t *w = json_loads(want, 0, NULL);
    json_t *rules = json_object_get(sg, "security_group_rules");
    bool found = false;
    size_t i;
    json_t *r;

    ASSERT(w);
    json_array_foreach (rules, i, r) {
        const char *k;
        json_t *v;
        bool all = true;

        json_object_foreach (w, k, v) {
            json_t *have = json_object_get(r, k);
            all = all && have && json_equal(have, v);
        }
        found = found || all;
    }
    json_decref(w);
    return found;
}

static void
test_default_security_group(void)
{
    json_t *sg, *r;
    char *id, *again, *net, *path;

    /* Listing groups creates the project's default group, once. */
    setup();
    CHECK_EQ(list_count("security-group-rules", NULL), 0);
    id = default_sg(NULL);
    again = default_sg(NULL);
    CHECK_STREQ(id, again);
    CHECK_EQ(list_count("security-groups", NULL), 1);
    CHECK_EQ(list_count("security-group-rules", NULL), 4);

    sg = get_sg(id);
    CHECK_STREQ(sget(sg, "name"), "default");
    CHECK_STREQ(sget(sg, "project_id"), API_DEFAULT_PROJECT);
    CHECK_STREQ(sget(sg, "tenant_id"), API_DEFAULT_PROJECT);
    CHECK(json_is_true(json_object_get(sg, "stateful")));
    CHECK(json_is_array(json_object_get(sg, "tags")));
    CHECK(json_is_string(json_object_get(sg, "created_at")));
    CHECK_EQ(json_array_size(json_object_get(sg, "security_group_rules")), 4);
    CHECK(sg_has_rule(sg, "{\"direction\": \"egress\", \"ethertype\": "
                      "\"IPv4\", \"remote_group_id\": null, "
                      "\"remote_ip_prefix\": null, \"protocol\": null}"));
    CHECK(sg_has_rule(sg, "{\"direction\": \"egress\", \"ethertype\": "
                      "\"IPv6\", \"remote_group_id\": null, "
                      "\"remote_ip_prefix\": null}"));
    char *want = xasprintf("{\"direction\": \"ingress\", \"ethertype\": "
                           "\"IPv4\", \"remote_group_id\": \"%s\", "
                           "\"remote_ip_prefix\": null}", id);
    CHECK(sg_has_rule(sg, want));
    free(want);
    want = xasprintf("{\"direction\": \"ingress\", \"ethertype\": "
                     "\"IPv6\", \"remote_group_id\": \"%s\"}", id);
    CHECK(sg_has_rule(sg, want));
    free(want);
    json_decref(sg);

    /* The default group cannot be deleted or renamed; no other group may
     * be called "default". */
    path = xasprintf("/v2.0/security-groups/%s", id);
    expect_error("DELETE", path, NULL, 409,
                 "SecurityGroupCannotRemoveDefault");
    expect_error("PUT", path, "{\"security_group\": {\"name\": \"x\"}}", 409,
                 "SecurityGroupCannotUpdateDefault");
    CHECK_EQ(req("PUT", path, NULL, "{\"security_group\": {\"description\": "
                 "\"mine\"}}", NULL), 200);
    expect_error("POST", "/v2.0/security-groups",
                 "{\"security_group\": {\"name\": \"default\"}}", 409,
                 "SecurityGroupDefaultAlreadyExists");
    expect_error("POST", "/v2.0/security-groups",
                 "{\"security_group\": {\"name\": \"Default\"}}", 409,
                 "SecurityGroupDefaultAlreadyExists");
    free(path);

    /* Showing a group creates it too; so does another project's first
     * network or port, and a failed request creates nothing. */
    struct api_request get = {
        .method = "GET", .path = "/v2.0/security-groups/nope",
        .project_id = "p1",
    };
    char *reply = NULL;
    char *before = dump_store();
    CHECK_EQ(api_handle_request(api, &get, &reply), 404);
    char *after = dump_store();
    CHECK_STREQ(before, after);
    free(before);
    free(after);
    free(reply);
    expect_error("POST", "/v2.0/ports", "{\"port\": {\"network_id\": "
                 "\"00000000-0000-4000-8000-000000000000\", \"project_id\": "
                 "\"p2\"}}", 404, "NetworkNotFound");

    net = create("networks", "{\"network\": {\"project_id\": \"p2\"}}");
    CHECK_EQ(list_count("security-groups", "project_id=p2"), 1);
    CHECK_EQ(list_count("security-groups", "name=default"), 2);
    CHECK_EQ(list_count("security-group-rules", NULL), 8);

    /* "fields" and filters work on groups and rules. */
    CHECK_EQ(req("GET", "/v2.0/security-group-rules", "direction=egress",
                 NULL, &r), 200);
    CHECK_EQ(json_array_size(json_object_get(r, "security_group_rules")), 4);
    json_decref(r);
    CHECK_EQ(req("GET", "/v2.0/security-groups", "fields=id&fields=name",
                 NULL, &r), 200);
    CHECK_EQ(json_object_size(json_array_get(
                                  json_object_get(r, "security_groups"), 0)),
             2);
    json_decref(r);

    /* The collection is discoverable, with its extension. */
    CHECK_EQ(req("GET", "/v2.0/extensions/security-group", NULL, NULL, NULL),
             200);
    CHECK_EQ(req("GET", "/v2.0/extensions/allowed-address-pairs", NULL, NULL,
                 NULL), 200);

    free(net);
    free(id);
    free(again);
    teardown();
}

static void
test_security_group_crud(void)
{
    json_t *sg, *r;
    char *def, *web, *db, *path, *rule, *rpath;
    json_int_t rev;

    setup();
    def = default_sg(NULL);
    web = make_sg("web");
    sg = get_sg(web);
    CHECK_STREQ(sget(sg, "name"), "web");
    /* A new group lets everything out (Neutron): two egress rules, each
     * of which bumped the group's revision. */
    CHECK_EQ(json_array_size(json_object_get(sg, "security_group_rules")), 2);
    CHECK(json_is_true(json_object_get(sg, "stateful")));
    CHECK_EQ(json_integer_value(json_object_get(sg, "revision_number")), 3);
    json_decref(sg);

    /* Update: name and description; stateful stays true. */
    path = xasprintf("/v2.0/security-groups/%s", web);
    CHECK_EQ(req("PUT", path, NULL, "{\"security_group\": {\"name\": "
                 "\"www\", \"description\": \"d\", \"stateful\": true}}",
                 &r), 200);
    CHECK_STREQ(sget(json_object_get(r, "security_group"), "name"), "www");
    CHECK_EQ(json_array_size(json_object_get(
                                 json_object_get(r, "security_group"),
                                 "security_group_rules")), 2);
    json_decref(r);
    expect_error("PUT", path, "{\"security_group\": {\"name\": "
                 "\"default\"}}", 409, "SecurityGroupDefaultAlreadyExists");
    expect_error("PUT", path, "{\"security_group\": {\"stateful\": false}}",
                 400, "HTTPBadRequest");
    expect_error("PUT", path, "{\"security_group\": "
                 "{\"security_group_rules\": []}}", 400, "HTTPBadRequest");
    expect_error("POST", "/v2.0/security-groups", "{\"security_group\": "
                 "{\"name\": \"s\", \"stateful\": false}}", 400,
                 "HTTPBadRequest");
    expect_error("POST", "/v2.0/security-groups", "{\"security_group\": "
                 "{\"name\": 7}}", 400, "HTTPBadRequest");
    expect_error("POST", "/v2.0/security-groups", "{\"security_group\": "
                 "{\"colour\": \"red\"}}", 400, "HTTPBadRequest");
    expect_error("POST", "/v2.0/security-groups", "{\"security_grou\": "
                 "{}}", 400, "HTTPBadRequest");
    expect_error("GET", "/v2.0/security-groups/"
                 "00000000-0000-4000-8000-000000000000", NULL, 404,
                 "SecurityGroupNotFound");

    /* A rule bumps its group's revision, shows in it, and a group's
     * deletion takes its rules and the rules of other groups that name it
     * as their remote group. */
    rev = sg_revision(web);
    rule = make_rule(web, ", \"direction\": \"ingress\", \"protocol\": "
                     "\"tcp\", \"port_range_min\": 80, "
                     "\"port_range_max\": 80");
    CHECK_EQ(sg_revision(web), rev + 1);
    db = make_sg("db");
    char *attrs = xasprintf(", \"direction\": \"ingress\", "
                            "\"remote_group_id\": \"%s\"", web);
    char *remote_rule = make_rule(db, attrs);
    free(attrs);
    sg = get_sg(web);
    CHECK_EQ(json_array_size(json_object_get(sg, "security_group_rules")), 3);
    {
        bool found = false;
        size_t k;
        json_t *e;

        json_array_foreach (json_object_get(sg, "security_group_rules"), k,
                            e) {
            found = found || !strcmp(sget(e, "id"), rule);
        }
        CHECK(found);
    }
    json_decref(sg);
    CHECK_EQ(list_count("security-group-rules", NULL), 10);
    rev = sg_revision(db);
    CHECK_EQ(req("DELETE", path, NULL, NULL, NULL), 204);
    /* Losing a rule to the cascade is a change of 'db'. */
    CHECK_EQ(sg_revision(db), rev + 1);
    expect_error("GET", path, NULL, 404, "SecurityGroupNotFound");
    rpath = xasprintf("/v2.0/security-group-rules/%s", rule);
    expect_error("GET", rpath, NULL, 404, "SecurityGroupRuleNotFound");
    free(rpath);
    rpath = xasprintf("/v2.0/security-group-rules/%s", remote_rule);
    expect_error("GET", rpath, NULL, 404, "SecurityGroupRuleNotFound");
    free(rpath);
    CHECK_EQ(list_count("security-group-rules", NULL), 6);
    sg = get_sg(db);
    CHECK_EQ(json_array_size(json_object_get(sg, "security_group_rules")), 2);
    json_decref(sg);
    expect_error("DELETE", path, NULL, 404, "SecurityGroupNotFound");

    /* No index key outlives its group. */
    CHECK(!store_mentions(web));

    free(remote_rule);
    free(rule);
    free(path);
    free(db);
    free(web);
    free(def);
    teardown();
}

/* A bad rule body (inner members 'attrs', after the group id) and the
 * error it must give. */
static const struct bad_rule {
    const char *attrs;
    int status;
    const char *type;
} bad_rules[] = {
    { "", 400, "HTTPBadRequest" },      /* No direction. */
    { ", \"direction\": \"sideways\"", 400, "HTTPBadRequest" },
    { ", \"direction\": 1", 400, "HTTPBadRequest" },
    { ", \"direction\": \"ingress\", \"ethertype\": \"IPv5\"", 400,
      "SecurityGroupRuleInvalidEtherType" },
    { ", \"direction\": \"ingress\", \"protocol\": \"tcpp\"", 400,
      "SecurityGroupRuleInvalidProtocol" },
    { ", \"direction\": \"ingress\", \"protocol\": 256", 400,
      "SecurityGroupRuleInvalidProtocol" },
    { ", \"direction\": \"ingress\", \"protocol\": -1", 400,
      "SecurityGroupRuleInvalidProtocol" },
    { ", \"direction\": \"ingress\", \"protocol\": \"300\"", 400,
      "SecurityGroupRuleInvalidProtocol" },
    { ", \"direction\": \"ingress\", \"protocol\": true", 400,
      "HTTPBadRequest" },
    { ", \"direction\": \"ingress\", \"protocol\": \"tcp\", "
      "\"port_range_min\": 90, \"port_range_max\": 80", 400,
      "SecurityGroupInvalidPortRange" },
    { ", \"direction\": \"ingress\", \"protocol\": \"tcp\", "
      "\"port_range_min\": 80", 400, "SecurityGroupInvalidPortRange" },
    { ", \"direction\": \"ingress\", \"protocol\": \"udp\", "
      "\"port_range_max\": 80", 400, "SecurityGroupInvalidPortRange" },
    { ", \"direction\": \"ingress\", \"protocol\": \"tcp\", "
      "\"port_range_min\": 0, \"port_range_max\": 80", 400,
      "SecurityGroupInvalidPortValue" },
    { ", \"direction\": \"ingress\", \"protocol\": \"tcp\", "
      "\"port_range_min\": 1, \"port_range_max\": 65536", 400,
      "SecurityGroupInvalidPortValue" },
    { ", \"direction\": \"ingress\", \"protocol\": \"tcp\", "
      "\"port_range_min\": \"a\", \"port_range_max\": 80", 400,
      "SecurityGroupInvalidPortValue" },
    { ", \"direction\": \"ingress\", \"protocol\": \"tcp\", "
      "\"port_range_min\": \"99999\", \"port_range_max\": 80", 400,
      "SecurityGroupInvalidPortValue" },
    { ", \"direction\": \"ingress\", \"protocol\": \"tcp\", "
      "\"port_range_min\": true, \"port_range_max\": 80", 400,
      "HTTPBadRequest" },
    { ", \"direction\": \"ingress\", \"port_range_min\": 22, "
      "\"port_range_max\": 22", 400,
      "SecurityGroupProtocolRequiredWithPorts" },
    { ", \"direction\": \"ingress\", \"protocol\": \"gre\", "
      "\"port_range_min\": 22, \"port_range_max\": 22", 400,
      "SecurityGroupInvalidProtocolForPort" },
    { ", \"direction\": \"ingress\", \"protocol\": \"icmp\", "
      "\"port_range_min\": 256", 400, "SecurityGroupInvalidIcmpValue" },
    { ", \"direction\": \"ingress\", \"protocol\": \"icmp\", "
      "\"port_range_min\": 8, \"port_range_max\": 256", 400,
      "SecurityGroupInvalidIcmpValue" },
    { ", \"direction\": \"ingress\", \"protocol\": \"icmp\", "
      "\"port_range_max\": 0", 400, "SecurityGroupMissingIcmpType" },
    { ", \"direction\": \"ingress\", \"protocol\": \"ipv6-icmp\"", 400,
      "SecurityGroupEthertypeConflictWithProtocol" },
    { ", \"direction\": \"ingress\", \"remote_ip_prefix\": \"10.0.0.0/33\"",
      400, "HTTPBadRequest" },
    { ", \"direction\": \"ingress\", \"remote_ip_prefix\": \"banana\"",
      400, "HTTPBadRequest" },
    { ", \"direction\": \"ingress\", \"remote_ip_prefix\": \"::/0\"", 400,
      "SecurityGroupRuleParameterConflict" },
    { ", \"direction\": \"ingress\", \"ethertype\": \"IPv6\", "
      "\"remote_ip_prefix\": \"10.0.0.0/8\"", 400,
      "SecurityGroupRuleParameterConflict" },
    { ", \"direction\": \"ingress\", \"remote_group_id\": \"nope\"", 400,
      "HTTPBadRequest" },
    { ", \"direction\": \"ingress\", \"remote_group_id\": "
      "\"00000000-0000-4000-8000-000000000000\"", 404,
      "SecurityGroupNotFound" },
    { ", \"direction\": \"ingress\", \"id\": "
      "\"00000000-0000-4000-8000-000000000000\"", 400, "HTTPBadRequest" },
    { ", \"direction\": \"ingress\", \"colour\": \"red\"", 400,
      "HTTPBadRequest" },
};

static void
test_security_group_rules(void)
{
    json_t *rule, *r;
    char *sg, *other, *id, *path, *body;

    setup();
    sg = make_sg("web");
    other = make_sg("other");

    /* Defaults and normalization. */
    id = make_rule(sg, ", \"direction\": \"ingress\"");
    rule = get_rule(id);
    CHECK_STREQ(sget(rule, "ethertype"), "IPv4");
    CHECK(json_is_null(json_object_get(rule, "protocol")));
    CHECK(json_is_null(json_object_get(rule, "port_range_min")));
    CHECK(json_is_null(json_object_get(rule, "port_range_max")));
    CHECK(json_is_null(json_object_get(rule, "remote_ip_prefix")));
    CHECK(json_is_null(json_object_get(rule, "remote_group_id")));
    CHECK_STREQ(sget(rule, "security_group_id"), sg);
    CHECK_STREQ(sget(rule, "project_id"), API_DEFAULT_PROJECT);
    CHECK_STREQ(sget(rule, "description"), "");
    CHECK_EQ(json_integer_value(json_object_get(rule, "revision_number")), 1);
    json_decref(rule);
    free(id);

    id = make_rule(sg, ", \"direction\": \"ingress\", \"protocol\": \"TCP\", "
                   "\"port_range_min\": 22, \"port_range_max\": 22, "
                   "\"remote_ip_prefix\": \"10.0.0.7/24\"");
    rule = get_rule(id);
    CHECK_STREQ(sget(rule, "protocol"), "tcp");
    CHECK_EQ(json_integer_value(json_object_get(rule, "port_range_min")), 22);
    CHECK_STREQ(sget(rule, "remote_ip_prefix"), "10.0.0.0/24");
    json_decref(rule);
    free(id);

    id = make_rule(sg, ", \"direction\": \"egress\", \"protocol\": 17, "
                   "\"ethertype\": \"ipv6\", \"remote_ip_prefix\": "
                   "\"2001:db8::1\"");
    rule = get_rule(id);
    CHECK_STREQ(sget(rule, "protocol"), "17");
    CHECK_STREQ(sget(rule, "ethertype"), "IPv6");
    CHECK_STREQ(sget(rule, "remote_ip_prefix"), "2001:db8::1/128");
    json_decref(rule);
    free(id);

    id = make_rule(sg, ", \"direction\": \"ingress\", \"protocol\": "
                   "\"icmp\", \"port_range_min\": 8, \"port_range_max\": 0");
    free(id);
    id = make_rule(sg, ", \"direction\": \"ingress\", \"protocol\": "
                   "\"ipv6-icmp\", \"ethertype\": \"IPv6\"");
    free(id);
    id = make_rule(sg, ", \"direction\": \"ingress\", \"protocol\": \"132\", "
                   "\"port_range_min\": \"1\", \"port_range_max\": 65535");
    rule = get_rule(id);
    CHECK_STREQ(sget(rule, "protocol"), "132");
    CHECK(json_is_integer(json_object_get(rule, "port_range_min")));
    CHECK_EQ(json_integer_value(json_object_get(rule, "port_range_min")), 1);
    json_decref(rule);
    free(id);
    body = xasprintf(", \"direction\": \"ingress\", \"remote_group_id\": "
                     "\"%s\", \"description\": \"from other\"", other);
    id = make_rule(sg, body);
    free(body);
    rule = get_rule(id);
    CHECK_STREQ(sget(rule, "remote_group_id"), other);
    CHECK_STREQ(sget(rule, "description"), "from other");
    json_decref(rule);
    CHECK_EQ(list_count("security-group-rules", "protocol=tcp"), 1);
    char *q = xasprintf("security_group_id=%s", sg);
    CHECK_EQ(list_count("security-group-rules", q), 9);
    free(q);

    /* Duplicates, also spelled differently, are 409. */
    body = xasprintf("{\"security_group_rule\": {\"security_group_id\": "
                     "\"%s\", \"direction\": \"ingress\", \"protocol\": "
                     "\"6\", \"port_range_min\": 22, \"port_range_max\": 22,"
                     " \"remote_ip_prefix\": \"10.0.0.0/24\"}}", sg);
    expect_error("POST", "/v2.0/security-group-rules", body, 409,
                 "SecurityGroupRuleExists");
    free(body);
    body = xasprintf("{\"security_group_rule\": {\"security_group_id\": "
                     "\"%s\", \"direction\": \"ingress\", "
                     "\"remote_ip_prefix\": \"0.0.0.0/0\"}}", sg);
    expect_error("POST", "/v2.0/security-group-rules", body, 409,
                 "SecurityGroupRuleExists");
    free(body);
    /* The same rule in another group is fine. */
    free(make_rule(other, ", \"direction\": \"ingress\""));

    /* Every bad rule is refused and changes nothing. */
    for (size_t i = 0; i < ARRAY_SIZE(bad_rules); i++) {
        body = xasprintf("{\"security_group_rule\": {\"security_group_id\": "
                         "\"%s\"%s}}", sg, bad_rules[i].attrs);
        expect_error("POST", "/v2.0/security-group-rules", body,
                     bad_rules[i].status, bad_rules[i].type);
        free(body);
    }
    body = xasprintf("{\"security_group_rule\": {\"security_group_id\": "
                     "\"%s\", \"direction\": \"ingress\", "
                     "\"remote_group_id\": \"%s\", \"remote_ip_prefix\": "
                     "\"10.0.0.0/8\"}}", sg, other);
    expect_error("POST", "/v2.0/security-group-rules", body, 400,
                 "SecurityGroupRemoteGroupAndRemoteIpPrefix");
    free(body);
    expect_error("POST", "/v2.0/security-group-rules",
                 "{\"security_group_rule\": {\"security_group_id\": "
                 "\"00000000-0000-4000-8000-000000000000\", \"direction\": "
                 "\"ingress\"}}", 404, "SecurityGroupNotFound");
    expect_error("POST", "/v2.0/security-group-rules",
                 "{\"security_group_rule\": {\"direction\": \"ingress\"}}",
                 400, "HTTPBadRequest");

    /* Rules cannot be updated; deleting one bumps its group. */
    path = xasprintf("/v2.0/security-group-rules/%s", id);
    expect_error("PUT", path, "{\"security_group_rule\": {\"description\": "
                 "\"x\"}}", 405, "HTTPMethodNotAllowed");
    json_int_t rev = sg_revision(sg);
    CHECK_EQ(req("DELETE", path, NULL, NULL, NULL), 204);
    CHECK_EQ(sg_revision(sg), rev + 1);
    expect_error("DELETE", path, NULL, 404, "SecurityGroupRuleNotFound");
    CHECK(!store_mentions(id));
    free(path);
    free(id);

    /* Bulk create is all-or-nothing. */
    body = xasprintf("{\"security_group_rules\": [{\"security_group_id\": "
                     "\"%s\", \"direction\": \"egress\", \"protocol\": "
                     "\"tcp\", \"port_range_min\": 443, \"port_range_max\": "
                     "443}, {\"security_group_id\": \"%s\", \"direction\": "
                     "\"egress\", \"protocol\": \"tcp\", \"port_range_min\": "
                     "443, \"port_range_max\": 443}]}", sg, sg);
    expect_error("POST", "/v2.0/security-group-rules", body, 409,
                 "SecurityGroupRuleExists");
    free(body);
    body = xasprintf("{\"security_group_rules\": [{\"security_group_id\": "
                     "\"%s\", \"direction\": \"egress\", \"protocol\": "
                     "\"tcp\", \"port_range_min\": 443, \"port_range_max\": "
                     "443}, {\"security_group_id\": \"%s\", \"direction\": "
                     "\"egress\", \"protocol\": \"udp\", \"port_range_min\": "
                     "53, \"port_range_max\": 53}]}", sg, sg);
    CHECK_EQ(req("POST", "/v2.0/security-group-rules", NULL, body, &r), 201);
    CHECK_EQ(json_array_size(json_object_get(r, "security_group_rules")), 2);
    json_decref(r);
    free(body);

    free(sg);
    free(other);
    teardown();
}

static void
test_port_security(void)
{
    char *net, *net_off, *def, *web, *p, *path, *body, *iface, *router;
    char *def2;
    json_t *port, *r;

    setup();
    net = create("networks", "{\"network\": {\"name\": \"n\"}}");
    free(make_subnet(net, "10.0.0.0/24", NULL));
    net_off = create("networks", "{\"network\": {\"name\": \"off\", "
                     "\"port_security_enabled\": false}}");
    free(make_subnet(net_off, "10.0.1.0/24", NULL));
    def = default_sg(NULL);
    web = make_sg("web");

    /* A new port gets the default group and port security from its
     * network. */
    p = make_port(net, NULL);
    port = get_port(p);
    CHECK(json_is_true(json_object_get(port, "port_security_enabled")));
    CHECK_EQ(json_array_size(json_object_get(port, "security_groups")), 1);
    CHECK_STREQ(json_string_value(json_array_get(
                                      json_object_get(port,
                                                      "security_groups"),
                                      0)), def);
    CHECK_EQ(json_array_size(json_object_get(port,
                                             "allowed_address_pairs")), 0);
    json_decref(port);
    path = xasprintf("/v2.0/ports/%s", p);

    /* A group in use cannot go; the default group neither. */
    char *dpath = xasprintf("/v2.0/security-groups/%s", def);
    expect_error("DELETE", dpath, NULL, 409,
                 "SecurityGroupCannotRemoveDefault");
    free(dpath);

    /* port set --security-group: groups must exist and be the
     * project's. */
    body = xasprintf("{\"port\": {\"security_groups\": [\"%s\", \"%s\", "
                     "\"%s\"]}}", def, web, web);
    CHECK_EQ(req("PUT", path, NULL, body, &r), 200);
    CHECK_EQ(json_array_size(json_object_get(json_object_get(r, "port"),
                                             "security_groups")), 2);
    json_decref(r);
    free(body);
    char *wpath = xasprintf("/v2.0/security-groups/%s", web);
    expect_error("DELETE", wpath, NULL, 409, "SecurityGroupInUse");
    expect_error("PUT", path, "{\"port\": {\"security_groups\": "
                 "[\"00000000-0000-4000-8000-000000000000\"]}}", 404,
                 "SecurityGroupNotFound");
    expect_error("PUT", path, "{\"port\": {\"security_groups\": "
                 "[\"web\"]}}", 400, "HTTPBadRequest");
    expect_error("PUT", path, "{\"port\": {\"security_groups\": \"x\"}}",
                 400, "HTTPBadRequest");
    def2 = default_sg("p2");
    body = xasprintf("{\"port\": {\"security_groups\": [\"%s\"]}}", def2);
    expect_error("PUT", path, body, 404, "SecurityGroupNotFound");
    free(body);

    /* Port security off needs the groups gone in the same request. */
    expect_error("PUT", path, "{\"port\": {\"port_security_enabled\": "
                 "false}}", 409, "PortSecurityPortHasSecurityGroup");
    body = xasprintf("{\"port\": {\"port_security_enabled\": false, "
                     "\"security_groups\": [\"%s\"]}}", web);
    expect_error("PUT", path, body, 400,
                 "PortSecurityAndIPRequiredForSecurityGroups");
    free(body);
    CHECK_EQ(req("PUT", path, NULL, "{\"port\": {\"port_security_enabled\": "
                 "false, \"security_groups\": []}}", &r), 200);
    CHECK(json_is_false(json_object_get(json_object_get(r, "port"),
                                        "port_security_enabled")));
    json_decref(r);
    /* Now unused, the group can go... but first: no pairs without port
     * security, and no groups either. */
    expect_error("PUT", path, "{\"port\": {\"allowed_address_pairs\": "
                 "[{\"ip_address\": \"10.0.0.99\"}]}}", 409,
                 "AddressPairAndPortSecurityRequired");
    body = xasprintf("{\"port\": {\"security_groups\": [\"%s\"]}}", web);
    expect_error("PUT", path, body, 400,
                 "PortSecurityAndIPRequiredForSecurityGroups");
    free(body);

    /* Back on, with pairs: the MAC defaults to the port's. */
    CHECK_EQ(req("PUT", path, NULL, "{\"port\": {\"port_security_enabled\": "
                 "true, \"allowed_address_pairs\": [{\"ip_address\": "
                 "\"10.0.0.99\"}, {\"ip_address\": \"10.9.0.0/16\", "
                 "\"mac_address\": \"FA:16:3E:00:00:01\"}]}}", &r), 200);
    port = json_object_get(r, "port");
    char *mac = xstrdup(sget(port, "mac_address"));
    json_t *pairs = json_object_get(port, "allowed_address_pairs");
    CHECK_EQ(json_array_size(pairs), 2);
    CHECK_STREQ(sget(json_array_get(pairs, 0), "mac_address"),
                sget(port, "mac_address"));
    CHECK_STREQ(sget(json_array_get(pairs, 1), "mac_address"),
                "fa:16:3e:00:00:01");
    CHECK_EQ(json_array_size(json_object_get(port, "security_groups")), 0);
    json_decref(r);
    expect_error("PUT", path, "{\"port\": {\"port_security_enabled\": "
                 "false}}", 409, "AddressPairAndPortSecurityRequired");
    expect_error("PUT", path, "{\"port\": {\"allowed_address_pairs\": "
                 "[{\"ip_address\": \"10.0.0.300\"}]}}", 400,
                 "HTTPBadRequest");
    expect_error("PUT", path, "{\"port\": {\"allowed_address_pairs\": "
                 "[{\"ip_address\": \"10.0.0.3\", \"mac_address\": "
                 "\"zz\"}]}}", 400, "HTTPBadRequest");
    expect_error("PUT", path, "{\"port\": {\"allowed_address_pairs\": "
                 "[{\"mac_address\": \"fa:16:3e:00:00:01\"}]}}", 400,
                 "HTTPBadRequest");
    expect_error("PUT", path, "{\"port\": {\"allowed_address_pairs\": "
                 "[{\"ip_address\": \"10.0.0.3\", \"colour\": 1}]}}", 400,
                 "HTTPBadRequest");
    expect_error("PUT", path, "{\"port\": {\"allowed_address_pairs\": "
                 "[{\"ip_address\": \"10.0.0.3\"}, {\"ip_address\": "
                 "\"10.0.0.3\"}]}}", 400, "DuplicateAddressPairInRequest");
    body = xasprintf("{\"port\": {\"allowed_address_pairs\": [{"
                     "\"ip_address\": \"10.0.0.3\"}, {\"ip_address\": "
                     "\"10.0.0.3\", \"mac_address\": \"%s\"}]}}", mac);
    expect_error("PUT", path, body, 400, "DuplicateAddressPairInRequest");
    free(body);
    expect_error("PUT", path, "{\"port\": {\"allowed_address_pairs\": "
                 "[{\"ip_address\": \"10.0.0.1\"}, {\"ip_address\": "
                 "\"10.0.0.2\"}, {\"ip_address\": \"10.0.0.3\"}, "
                 "{\"ip_address\": \"10.0.0.4\"}, {\"ip_address\": "
                 "\"10.0.0.5\"}, {\"ip_address\": \"10.0.0.6\"}, "
                 "{\"ip_address\": \"10.0.0.7\"}, {\"ip_address\": "
                 "\"10.0.0.8\"}, {\"ip_address\": \"10.0.0.9\"}, "
                 "{\"ip_address\": \"10.0.0.10\"}, {\"ip_address\": "
                 "\"10.0.0.11\"}]}}", 400, "AllowedAddressPairExhausted");

    free(mac);

    /* The group is unused now, so it can go. */
    CHECK_EQ(req("DELETE", wpath, NULL, NULL, NULL), 204);
    free(web);
    web = make_sg("web2");

    /* Create with explicit groups, or none; port security from a network
     * that has it off; no groups without port security. */
    body = xasprintf(", \"security_groups\": [\"%s\"]", web);
    char *p2 = make_port(net, body);
    free(body);
    port = get_port(p2);
    CHECK_STREQ(json_string_value(json_array_get(
                                      json_object_get(port,
                                                      "security_groups"),
                                      0)), web);
    json_decref(port);
    char *p3 = make_port(net, ", \"security_groups\": []");
    port = get_port(p3);
    CHECK_EQ(json_array_size(json_object_get(port, "security_groups")), 0);
    json_decref(port);
    char *p4 = make_port(net_off, NULL);
    port = get_port(p4);
    CHECK(json_is_false(json_object_get(port, "port_security_enabled")));
    CHECK_EQ(json_array_size(json_object_get(port, "security_groups")), 0);
    json_decref(port);
    char *p5 = make_port(net_off, ", \"port_security_enabled\": true");
    port = get_port(p5);
    CHECK(json_is_true(json_object_get(port, "port_security_enabled")));
    CHECK_EQ(json_array_size(json_object_get(port, "security_groups")), 1);
    json_decref(port);
    body = xasprintf("{\"port\": {\"network_id\": \"%s\", "
                     "\"security_groups\": [\"%s\"]}}", net_off, web);
    expect_error("POST", "/v2.0/ports", body, 400,
                 "PortSecurityAndIPRequiredForSecurityGroups");
    free(body);
    body = xasprintf("{\"port\": {\"network_id\": \"%s\", "
                     "\"allowed_address_pairs\": [{\"ip_address\": "
                     "\"10.0.1.50\"}]}}", net_off);
    expect_error("POST", "/v2.0/ports", body, 409,
                 "AddressPairAndPortSecurityRequired");
    free(body);
    body = xasprintf("{\"port\": {\"network_id\": \"%s\", "
                     "\"security_groups\": [\"%s\"]}}", net, def2);
    expect_error("POST", "/v2.0/ports", body, 404, "SecurityGroupNotFound");
    free(body);

    /* Router interfaces and DHCP ports are trusted: no groups, also when
     * a port becomes an interface. */
    char *net2 = create("networks", "{\"network\": {\"name\": \"n2\"}}");
    char *sub2 = make_subnet(net2, "10.0.2.0/24", NULL);
    char *net3 = create("networks", "{\"network\": {\"name\": \"n3\"}}");
    free(make_subnet(net3, "10.0.3.0/24", NULL));
    router = create("routers", "{\"router\": {\"name\": \"r\"}}");
    body = xasprintf("{\"subnet_id\": \"%s\"}", sub2);
    CHECK_EQ(router_action(router, "add_router_interface", body, &r), 200);
    free(body);
    port = get_port(sget(r, "port_id"));
    CHECK_EQ(json_array_size(json_object_get(port, "security_groups")), 0);
    json_decref(port);
    json_decref(r);
    body = xasprintf(", \"security_groups\": [\"%s\"]", web);
    iface = make_port(net3, body);
    free(body);
    body = xasprintf("{\"port_id\": \"%s\"}", iface);
    CHECK_EQ(router_action(router, "add_router_interface", body, NULL), 200);
    free(body);
    port = get_port(iface);
    CHECK_EQ(json_array_size(json_object_get(port, "security_groups")), 0);
    json_decref(port);
    char *key = xasprintf("idx/sg-port/%s/%s", web, iface);
    CHECK(!store_mentions(key));
    free(key);
    char *p6 = make_port(net, ", \"device_owner\": \"network:dhcp\"");
    port = get_port(p6);
    CHECK_EQ(json_array_size(json_object_get(port, "security_groups")), 0);
    json_decref(port);

    /* Deleting a port frees its groups. */
    wpath = (free(wpath), xasprintf("/v2.0/security-groups/%s", web));
    expect_error("DELETE", wpath, NULL, 409, "SecurityGroupInUse");
    char *p2path = xasprintf("/v2.0/ports/%s", p2);
    CHECK_EQ(req("DELETE", p2path, NULL, NULL, NULL), 204);
    CHECK_EQ(req("DELETE", wpath, NULL, NULL, NULL), 204);

    free(p2path);
    free(wpath);
    free(p);
    free(p2);
    free(p3);
    free(p4);
    free(p5);
    free(p6);
    free(iface);
    free(router);
    free(net2);
    free(net3);
    free(sub2);
    free(path);
    free(def);
    free(def2);
    free(web);
    free(net);
    free(net_off);
    teardown();
}

int
main(void)
{
    RUN(test_versions_and_extensions);
    RUN(test_network_crud);
    RUN(test_bad_input_changes_nothing);
    RUN(test_subnets);
    RUN(test_port_allocation);
    RUN(test_filters_and_fields);
    RUN(test_snapshot_and_watch);
    RUN(test_agents);
    RUN(test_port_status);
    RUN(test_project);
    RUN(test_router_crud);
    RUN(test_router_interfaces);
    RUN(test_router_multi_subnet_port);
    RUN(test_default_security_group);
    RUN(test_security_group_crud);
    RUN(test_security_group_rules);
    RUN(test_port_security);
    return unit_finish();
}
