/*
 * fuzz-api.c -- libFuzzer target for the Neutron API's request parsing:
 * JSON bodies, attribute validation, CIDR/IP/MAC parsing, query strings.
 *
 * FUZZ_SOURCES: controller/api.c controller/resource.c controller/neutron.c
 *   controller/ipam.c controller/weft-ext.c controller/store.c
 *   controller/store-memory.c controller/store-sqlite.c lib/util.c lib/log.c
 *   lib/ip-proto.c
 * FUZZ_LIBS: -ljansson -lsqlite3 -lpthread
 *
 * Build and run (30 s):
 *   clang -g -O1 -std=gnu11 -D_GNU_SOURCE -I. -Iinclude \
 *     -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz-api.c \
 *     <FUZZ_SOURCES> -ljansson -lsqlite3 -lpthread -o build-fuzz/fuzz-api
 *   build-fuzz/fuzz-api -max_total_time=30
 *
 * Each input gets a fresh "memory:" store holding one network, one subnet,
 * one port, one router with an interface on the subnet, and a security
 * group with one rule that the port uses besides its project's default
 * group, so updates, port creation, the router actions and the security
 * group checks reach the deep paths.  The
 * first byte picks the method and path; the rest is the body (or, for
 * GETs, the query string).  Besides the sanitizers, it checks that every
 * reply is JSON (or empty for 204) and that a rejected request leaves the
 * store revision unchanged.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/store.h"
#include "lib/log.h"
#include "lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct target {
    const char *method;
    const char *path;           /* %N = network id, %S subnet, %P port,
                                 * %R router, %G security group, %U its
                                 * rule. */
    bool query;                 /* Data is the query string, no body. */
};

static const struct target targets[] = {
    { "POST", "/v2.0/networks", false },
    { "POST", "/v2.0/subnets", false },
    { "POST", "/v2.0/ports", false },
    { "PUT", "/v2.0/networks/%N", false },
    { "PUT", "/v2.0/subnets/%S", false },
    { "PUT", "/v2.0/ports/%P", false },
    { "POST", "/v2.0/weft/agents/report", false },
    { "PUT", "/v2.0/weft/ports/%P/status", false },
    { "GET", "/v2.0/ports", true },
    { "GET", "/v2.0/networks", true },
    { "GET", "/v2.0/subnets/%S", true },
    { "GET", "/v2.0/agents", true },
    { "DELETE", "/v2.0/networks/%N", false },
    { "DELETE", "/v2.0/subnets/%S", false },
    { "POST", "/v2.0/routers", false },
    { "PUT", "/v2.0/routers/%R", false },
    { "PUT", "/v2.0/routers/%R/add_router_interface", false },
    { "PUT", "/v2.0/routers/%R/remove_router_interface", false },
    { "GET", "/v2.0/routers", true },
    { "DELETE", "/v2.0/routers/%R", false },
    { "POST", "/v2.0/security-groups", false },
    { "PUT", "/v2.0/security-groups/%G", false },
    { "POST", "/v2.0/security-group-rules", false },
    { "GET", "/v2.0/security-groups", true },
    { "GET", "/v2.0/security-group-rules", true },
    { "DELETE", "/v2.0/security-groups/%G", false },
    { "DELETE", "/v2.0/security-group-rules/%U", false },
};

/* The ids that %-escapes in a target's path stand for. */
struct ids {
    char *net, *sub, *port, *router, *group, *rule;
};

static char *
create(struct api *api, const char *path, const char *body,
       const char *singular)
{
    char *reply = NULL;
    int status = api_handle(api, "POST", path, NULL, body, &reply);
    json_t *j = reply ? json_loads(reply, 0, NULL) : NULL;
    const char *id = json_string_value(
        json_object_get(json_object_get(j, singular), "id"));
    char *out;

    ASSERT(status == 201 && id);
    out = xstrdup(id);
    json_decref(j);
    free(reply);
    return out;
}

/* Expands %N, %S, %P, %R, %G, %U in 'fmt'. */
static char *
expand(const char *fmt, const struct ids *ids)
{
    char *out = xstrdup("");

    for (const char *c = fmt; *c; c++) {
        char *next;
        if (c[0] == '%' && c[1]) {
            const char *v = (c[1] == 'N' ? ids->net : c[1] == 'S' ? ids->sub
                             : c[1] == 'R' ? ids->router
                             : c[1] == 'G' ? ids->group
                             : c[1] == 'U' ? ids->rule : ids->port);
            next = xasprintf("%s%s", out, v);
            c++;
        } else {
            next = xasprintf("%s%c", out, *c);
        }
        free(out);
        out = next;
    }
    return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool inited;
    const struct target *t;
    struct api_request req;
    struct store *store;
    struct api *api;
    char *err = NULL, *reply = NULL, *path, *text;
    struct ids ids;
    int64_t rev;
    int status;

    if (!inited) {
        log_init("fuzz", LOG_ERR);
        inited = true;
    }
    if (size < 1 || size > 65536) {
        return 0;
    }
    t = &targets[data[0] % ARRAY_SIZE(targets)];

    store = store_open("memory:", &err);
    ASSERT(store);
    api = api_create(store, NULL);
    ASSERT(api);
    ids.net = create(api, "/v2.0/networks",
                     "{\"network\": {\"name\": \"n\"}}", "network");
    text = xasprintf("{\"subnet\": {\"network_id\": \"%s\", \"ip_version\": "
                     "4, \"cidr\": \"10.0.0.0/29\"}}", ids.net);
    ids.sub = create(api, "/v2.0/subnets", text, "subnet");
    free(text);
    ids.group = create(api, "/v2.0/security-groups",
                       "{\"security_group\": {\"name\": \"web\"}}",
                       "security_group");
    text = xasprintf("{\"security_group_rule\": {\"security_group_id\": "
                     "\"%s\", \"direction\": \"ingress\", \"protocol\": "
                     "\"tcp\", \"port_range_min\": 22, \"port_range_max\": "
                     "22, \"remote_group_id\": \"%s\"}}", ids.group,
                     ids.group);
    ids.rule = create(api, "/v2.0/security-group-rules", text,
                      "security_group_rule");
    free(text);
    text = xasprintf("{\"port\": {\"network_id\": \"%s\", "
                     "\"security_groups\": [\"%s\"], "
                     "\"allowed_address_pairs\": [{\"ip_address\": "
                     "\"10.0.0.6\"}]}}", ids.net, ids.group);
    ids.port = create(api, "/v2.0/ports", text, "port");
    free(text);
    ids.router = create(api, "/v2.0/routers", "{\"router\": {}}",
                        "router");
    path = xasprintf("/v2.0/routers/%s/add_router_interface", ids.router);
    text = xasprintf("{\"subnet_id\": \"%s\"}", ids.sub);
    status = api_handle(api, "PUT", path, NULL, text, &reply);
    ASSERT(status == 200);
    free(reply);
    reply = NULL;
    free(text);
    free(path);

    path = expand(t->path, &ids);
    text = xmalloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    memset(&req, 0, sizeof req);
    req.method = t->method;
    req.path = path;
    if (t->query) {
        req.query = text;
    } else {
        req.body = text;
        req.body_len = size - 1;
    }
    rev = store_revision(store);
    status = api_handle_request(api, &req, &reply);
    ASSERT(status >= 200 && status < 600);
    if (status == 204) {
        ASSERT(!reply);
    } else {
        json_t *j = json_loads(reply, 0, NULL);
        ASSERT(j);
        if (status >= 400) {
            ASSERT(json_object_get(j, "NeutronError"));
            ASSERT(store_revision(store) == rev);
        }
        json_decref(j);
    }

    free(reply);
    free(text);
    free(path);
    free(ids.net);
    free(ids.sub);
    free(ids.port);
    free(ids.router);
    free(ids.group);
    free(ids.rule);
    api_destroy(api);
    store_close(store);
    return 0;
}
