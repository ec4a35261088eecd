/*
 * weft-ext.c -- the agent endpoints under /v2.0/weft/ (see weft-ext.h and
 * docs/agent-protocol.md).
 */
#include "controller/weft-ext.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/ipam.h"
#include "controller/store.h"
#include "lib/util.h"

#define WATCH_DEFAULT_TIMEOUT 25
#define WATCH_MAX_TIMEOUT 60
#define WATCH_SLICE_MS 500

/* Collections agents see. */
static const char *const agent_prefixes[] = {
    "networks/", "subnets/", "ports/", "routers/", "agents/",
    "security-groups/", "security-group-rules/",
};

static bool
agent_visible(const char *key)
{
    for (size_t i = 0; i < ARRAY_SIZE(agent_prefixes); i++) {
        if (!strncmp(key, agent_prefixes[i], strlen(agent_prefixes[i]))) {
            return true;
        }
    }
    return false;
}

/* Runs 'fn' inside a fresh transaction, committing if it succeeds. */
static int
in_txn(struct res_ctx *ctx,
       int (*fn)(struct res_ctx *, json_t *, const char *, json_t **),
       json_t *body, const char *arg, json_t **replyp)
{
    res_txn_begin(ctx);
    return res_txn_end(ctx, fn(ctx, body, arg, replyp), replyp);
}

/* POST agents/report, inside the transaction. */
static int
report_txn(struct res_ctx *ctx, json_t *body, const char *unused,
           json_t **replyp)
{
    const struct resource_def *def = resource_find("agents");
    json_t *in = json_object_get(body, "agent");
    const char *host, *tunnel_ip, *binary, *type, *encap;
    struct ipam_addr a;
    char ts[32], idbuf[37];
    char *key, *id = NULL;
    json_t *old = NULL, *obj = NULL, *conf;
    int error;

    if (!json_is_object(in)) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Unable to find 'agent' in request body");
    }
    host = json_string_value(json_object_get(in, "host"));
    tunnel_ip = json_string_value(json_object_get(in, "tunnel_ip"));
    binary = json_string_value(json_object_get(in, "binary"));
    type = json_string_value(json_object_get(in, "agent_type"));
    encap = json_string_value(json_object_get(in, "encap"));
    if (!host || !*host || strlen(host) > 255 || strchr(host, '/')) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Invalid input for host.");
    }
    if (!tunnel_ip || !ipam_addr_parse(tunnel_ip, &a)) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Invalid input for tunnel_ip.");
    }
    if ((binary && strlen(binary) > 255) || (type && strlen(type) > 255)
        || (encap && strcmp(encap, "geneve") && strcmp(encap, "vxlan"))) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Invalid input for agent.");
    }
    conf = json_pack("{s:s,s:s}", "tunnel_ip", tunnel_ip,
                     "encap", encap ? encap : ctx->cfg->encap);

    key = xasprintf("idx/agent/%s", host);
    if (!store_get(ctx->txn, key, &id)
        && !resource_load(ctx, def, id, &old)) {
        obj = json_deep_copy(old);
    } else {
        res_error_clear(ctx);
        resource_uuid_new(idbuf);
        resource_time_format(ctx->now, false, ts);
        obj = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:n,s:n}",
                        "id", idbuf, "agent_type", "Weft agent",
                        "binary", "weft-agent", "host", host,
                        "topic", "N/A", "admin_state_up", true,
                        "created_at", ts, "started_at", ts,
                        "availability_zone", "description");
        ASSERT(obj);
        error = store_put(ctx->txn, key, idbuf);
        if (error) {
            free(key);
            free(id);
            json_decref(conf);
            json_decref(obj);
            return res_store_error(ctx, error);
        }
    }
    free(key);
    free(id);
    if (binary) {
        json_object_set_new(obj, "binary", json_string(binary));
    }
    if (type) {
        json_object_set_new(obj, "agent_type", json_string(type));
    }
    if (old && !json_equal(json_object_get(old, "configurations"), conf)) {
        resource_time_format(ctx->now, false, ts);
        json_object_set_new(obj, "started_at", json_string(ts));
    }
    json_object_set_new(obj, "configurations", conf);
    error = 0;
    if (!old || !json_equal(old, obj)) {
        error = resource_save(ctx, def, obj);
    }
    if (!error) {
        *replyp = obj;
    } else {
        json_decref(obj);
    }
    json_decref(old);
    return error ? error : 200;
}

static int
handle_report(struct api *api, struct res_ctx *ctx, json_t *body,
              json_t **replyp)
{
    const struct resource_def *def = resource_find("agents");
    json_t *obj = NULL;
    int status;

    status = in_txn(ctx, report_txn, body, NULL, &obj);
    if (status >= 400) {
        return status;
    }
    store_heartbeat(api_store(api),
                    json_string_value(json_object_get(obj, "host")),
                    ctx->now);
    *replyp = json_pack("{s:o}", "agent", resource_view(ctx, def, obj,
                                                        NULL));
    json_decref(obj);
    return 200;
}

static int
handle_snapshot(struct api *api, struct res_ctx *ctx, json_t **replyp)
{
    struct store_kvs kvs;
    json_t *objects;
    int64_t rev;
    int error;

    store_kvs_init(&kvs);
    error = store_snapshot(api_store(api), &kvs, &rev);
    if (error) {
        store_kvs_destroy(&kvs);
        return res_error(ctx, 500, "StoreError", "Snapshot failed: %s",
                         strerror(error));
    }
    objects = json_array();
    for (size_t i = 0; i < kvs.n; i++) {
        json_t *value;

        if (!agent_visible(kvs.kvs[i].key)) {
            continue;
        }
        value = json_loads(kvs.kvs[i].value, 0, NULL);
        if (value) {
            json_array_append_new(objects,
                                  json_pack("{s:s,s:o}", "key",
                                            kvs.kvs[i].key, "value",
                                            value));
        }
    }
    store_kvs_destroy(&kvs);
    *replyp = json_pack("{s:I,s:{s:s},s:o}", "revision", (json_int_t) rev,
                        "config", "encap", ctx->cfg->encap,
                        "objects", objects);
    return 200;
}

/* Parses a nonnegative decimal integer; false on anything else. */
static bool
parse_nonneg(const char *s, long long *vp)
{
    char *end;

    if (!s || !*s || *s == '-' || *s == '+') {
        return false;
    }
    errno = 0;
    *vp = strtoll(s, &end, 10);
    return !*end && !errno;
}

static int
handle_watch(struct api *api, struct res_ctx *ctx,
             const struct res_query *q, json_t **replyp)
{
    struct store *store = api_store(api);
    const char *since_s = res_query_get(q, "since");
    const char *timeout_s = res_query_get(q, "timeout");
    long long since = 0, timeout = WATCH_DEFAULT_TIMEOUT, deadline;
    struct store_kvs kvs;
    json_t *events;
    int64_t rev;
    int error;

    if (since_s && !parse_nonneg(since_s, &since)) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Invalid input for since.");
    }
    if (timeout_s && !parse_nonneg(timeout_s, &timeout)) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Invalid input for timeout.");
    }
    timeout = MIN(timeout, WATCH_MAX_TIMEOUT);
    deadline = time_msec() + timeout * 1000;

    while (store_revision(store) <= since && !api_is_shutting_down(api)) {
        long long left = deadline - time_msec();
        if (left <= 0) {
            break;
        }
        store_wait(store, since, (int) MIN(left, WATCH_SLICE_MS));
    }

    rev = store_revision(store);
    store_kvs_init(&kvs);
    error = store_changes_since(store, since, WEFT_EXT_WATCH_MAX, &kvs);
    if (error == ESTALE) {
        store_kvs_destroy(&kvs);
        return res_error(ctx, 410, "RevisionCompacted",
                         "Revision %lld has been compacted; the oldest "
                         "available is %lld.  Reload a snapshot.", since,
                         (long long) store_compact_revision(store));
    } else if (error) {
        store_kvs_destroy(&kvs);
        return res_error(ctx, 500, "StoreError", "Watch failed: %s",
                         strerror(error));
    }
    /* The store never splits a revision across calls, so the last event's
     * revision is complete. */
    if (kvs.n) {
        rev = kvs.kvs[kvs.n - 1].mod_revision;
    }
    events = json_array();
    for (size_t i = 0; i < kvs.n; i++) {
        const struct store_kv *kv = &kvs.kvs[i];
        json_t *value;

        if (!agent_visible(kv->key)) {
            continue;
        }
        value = kv->value ? json_loads(kv->value, 0, NULL) : json_null();
        json_array_append_new(events,
                              json_pack("{s:s,s:I,s:o}", "key", kv->key,
                                        "revision",
                                        (json_int_t) kv->mod_revision,
                                        "value", value ? value
                                                       : json_null()));
    }
    store_kvs_destroy(&kvs);
    *replyp = json_pack("{s:I,s:o}", "revision", (json_int_t) rev,
                        "events", events);
    return 200;
}

/* PUT ports/<id>/status, inside the transaction. */
static int
port_status_txn(struct res_ctx *ctx, json_t *body, const char *id,
                json_t **replyp)
{
    const struct resource_def *def = resource_find("ports");
    const char *status = json_string_value(json_object_get(body, "status"));
    const char *host, *bound;
    json_t *port;
    int error;

    if (!status || (strcmp(status, "ACTIVE") && strcmp(status, "DOWN"))) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Invalid input for status: must be ACTIVE or "
                         "DOWN.");
    }
    error = resource_load(ctx, def, id, &port);
    if (error) {
        return error;
    }
    /* Only the host the port is bound to may set its status: when a port
     * moves, the old host's late DOWN must not overwrite the new host's
     * ACTIVE. */
    host = json_string_value(json_object_get(body, "host"));
    bound = json_string_value(json_object_get(port, "binding:host_id"));
    if (host && strcmp(host, bound ? bound : "")) {
        error = res_error(ctx, 409, "PortBoundElsewhere",
                          "Port %s is bound to host '%s', not '%s'.", id,
                          bound ? bound : "", host);
        json_decref(port);      /* 'bound' points into 'port'. */
        return error;
    }
    if (strcmp(json_string_value(json_object_get(port, "status")) ?: "",
               status)) {
        json_object_set_new(port, "status", json_string(status));
        error = resource_touch(ctx, def, port);
    }
    if (!error) {
        *replyp = json_pack("{s:o}", "port", port);
    } else {
        json_decref(port);
    }
    return error ? error : 200;
}

int
weft_ext_handle(struct api *api, struct res_ctx *ctx, const char *method,
                char **parts, size_t n, const struct res_query *q,
                json_t *body, json_t **replyp)
{
    if (n == 2 && !strcmp(parts[0], "agents")
        && !strcmp(parts[1], "report")) {
        return (!strcmp(method, "POST")
                ? handle_report(api, ctx, body, replyp)
                : res_method_not_allowed(ctx, method));
    } else if (n == 1 && !strcmp(parts[0], "snapshot")) {
        return (!strcmp(method, "GET") ? handle_snapshot(api, ctx, replyp)
                : res_method_not_allowed(ctx, method));
    } else if (n == 1 && !strcmp(parts[0], "watch")) {
        return (!strcmp(method, "GET") ? handle_watch(api, ctx, q, replyp)
                : res_method_not_allowed(ctx, method));
    } else if (n == 3 && !strcmp(parts[0], "ports")
               && !strcmp(parts[2], "status")) {
        if (strcmp(method, "PUT")) {
            return res_method_not_allowed(ctx, method);
        }
        if (!json_is_object(body)) {
            return res_error(ctx, 400, "HTTPBadRequest",
                             "Resource body required");
        }
        return in_txn(ctx, port_status_txn, body, parts[1], replyp);
    }
    return res_path_not_found(ctx);
}
