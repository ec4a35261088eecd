/*
 * api.c -- request routing for the Neutron API (see api.h): version and
 * extension documents, the generic collection/member dispatch onto
 * controller/resource.c, one store transaction per request, and
 * NeutronError replies.
 */
#include "controller/api.h"

#include <stdatomic.h>
#include <string.h>

#include "controller/resource.h"
#include "controller/weft-ext.h"
#include "lib/util.h"

struct api {
    struct store *store;
    struct api_config cfg;
    char encap[16];
    atomic_bool stopping;
};

/* The extensions we implement, for GET /v2.0/extensions. */
struct api_extension {
    const char *alias;
    const char *name;
    const char *description;
};

static const struct api_extension extensions[] = {
    { "agent", "agent", "The agent management extension." },
    { "binding", "Port Binding",
      "Expose port bindings of a virtual port to external application" },
    { "provider", "Provider Network", "Expose mapping of virtual networks "
      "to physical networks" },
    { "project-id", "project_id field enabled",
      "Extension that indicates that project_id field is enabled." },
    { "standard-attr-description", "standard-attr-description",
      "Extension to add descriptions to standard attributes" },
    { "standard-attr-timestamp", "Resource timestamps",
      "Adds created_at and updated_at fields to all Neutron resources that "
      "have Neutron standard attributes." },
    { "standard-attr-revisions", "Resource revision numbers",
      "This extension will display the revision number of neutron "
      "resources." },
    { "net-mtu", "Network MTU", "Provides MTU attribute for a network "
      "resource." },
    { "port-security", "Port Security", "Provides port security" },
    { "security-group", "security-group", "The security groups extension." },
    { "allowed-address-pairs", "Allowed Address Pairs", "Provides allowed "
      "address pairs" },
    { "router", "Neutron L3 Router", "Router abstraction for Layer 3 "
      "routing between networks (distributed; no external gateway yet)." },
    { "extraroute", "Neutron Extra Route", "Extra routes configuration for "
      "L3 router" },
    { "dvr", "Distributed Virtual Router", "Enables configuration of "
      "Distributed Virtual Routers." },
    { "weft", "Weft", "Weft controller/agent protocol: agent reports, "
      "snapshot, watch and port status under /v2.0/weft/." },
};

struct api *
api_create(struct store *store, const struct api_config *cfg)
{
    struct api *api;
    struct api_config c = { "geneve", 1500, 30 };

    if (cfg) {
        c = *cfg;
        if (!c.encap) {
            c.encap = "geneve";
        }
    }
    if ((strcmp(c.encap, "geneve") && strcmp(c.encap, "vxlan"))
        || c.global_physnet_mtu < 576 || c.global_physnet_mtu > 65535
        || c.agent_down_time < 1) {
        return NULL;
    }
    api = xzalloc(sizeof *api);
    api->store = store;
    str_copy(api->encap, c.encap, sizeof api->encap);
    api->cfg = c;
    api->cfg.encap = api->encap;
    atomic_init(&api->stopping, false);
    return api;
}

void
api_destroy(struct api *api)
{
    free(api);
}

void
api_shutdown(struct api *api)
{
    atomic_store(&api->stopping, true);
}

bool
api_is_shutting_down(const struct api *api)
{
    return atomic_load(&((struct api *) api)->stopping);
}

struct store *
api_store(const struct api *api)
{
    return api->store;
}

int
api_handle(struct api *api, const char *method, const char *path,
           const char *query, const char *body, char **reply_body)
{
    struct api_request req = {
        .method = method, .path = path, .query = query, .body = body,
        .body_len = body ? strlen(body) : 0,
    };
    return api_handle_request(api, &req, reply_body);
}

/* Splits 'path' at '/' into at most 'max' nonempty components (malloc'd;
 * the caller frees each).  Returns the count, or max + 1 if there were
 * more. */
static size_t
split_path(const char *path, char **parts, size_t max)
{
    size_t n = 0;

    while (*path) {
        size_t len = strcspn(path, "/");
        if (len) {
            if (n >= max) {
                for (size_t i = 0; i < n; i++) {
                    free(parts[i]);
                }
                return max + 1;
            }
            parts[n] = xmalloc(len + 1);
            memcpy(parts[n], path, len);
            parts[n][len] = '\0';
            n++;
        }
        path += len;
        if (*path) {
            path++;
        }
    }
    return n;
}

static char *
base_url(const struct api_request *req)
{
    const char *host = req->host && *req->host ? req->host
                                                : "localhost:9696";
    return xasprintf("http://%s", host);
}

static json_t *
links_self(const char *href)
{
    return json_pack("[{s:s,s:s}]", "href", href, "rel", "self");
}

static json_t *
version_doc(const struct api_request *req)
{
    char *base = base_url(req);
    char *href = xasprintf("%s/v2.0/", base);
    json_t *doc = json_pack("{s:[{s:s,s:s,s:o}]}", "versions",
                            "id", "v2.0", "status", "CURRENT",
                            "links", links_self(href));
    free(href);
    free(base);
    return doc;
}

static json_t *
resources_doc(const struct api_request *req)
{
    char *base = base_url(req);
    json_t *list = json_array();

    for (size_t i = 0; i < n_resource_defs; i++) {
        const struct resource_def *def = resource_defs[i];
        char *href = xasprintf("%s/v2.0/%s", base, def->plural);
        json_array_append_new(list, json_pack("{s:s,s:s,s:o}",
                                              "name", def->singular,
                                              "collection", def->plural,
                                              "links", links_self(href)));
        free(href);
    }
    free(base);
    return json_pack("{s:o}", "resources", list);
}

static json_t *
extension_json(const struct api_extension *ext)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:[]}", "alias", ext->alias,
                     "name", ext->name, "description", ext->description,
                     "updated", "2024-01-01T00:00:00-00:00", "links");
}

static int
handle_extensions(struct res_ctx *ctx, const char *method, char **parts,
                  size_t n, json_t **replyp)
{
    if (strcmp(method, "GET")) {
        return res_method_not_allowed(ctx, method);
    }
    if (n == 2) {
        json_t *list = json_array();
        for (size_t i = 0; i < ARRAY_SIZE(extensions); i++) {
            json_array_append_new(list, extension_json(&extensions[i]));
        }
        *replyp = json_pack("{s:o}", "extensions", list);
        return 200;
    }
    if (n == 3) {
        for (size_t i = 0; i < ARRAY_SIZE(extensions); i++) {
            if (!strcmp(extensions[i].alias, parts[2])) {
                *replyp = json_pack("{s:o}", "extension",
                                    extension_json(&extensions[i]));
                return 200;
            }
        }
        return res_error(ctx, 404, "ExtensionNotFound",
                         "Extension with alias %s does not exist",
                         parts[2]);
    }
    return res_path_not_found(ctx);
}

/* Checks that there is a request body and that it is a JSON object. */
static int
check_body_object(struct res_ctx *ctx, const json_t *body)
{
    if (!body) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Resource body required");
    }
    if (!json_is_object(body)) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Body contains invalid data");
    }
    return 0;
}

/* Returns the body's inner object for 'def' (a new reference): the
 * singular member, or the plural member's array when 'bulk' is allowed. */
static int
body_member(struct res_ctx *ctx, const struct resource_def *def,
            json_t *body, bool bulk, json_t **memberp, bool *is_bulkp)
{
    json_t *m;

    *memberp = NULL;
    *is_bulkp = false;
    if (check_body_object(ctx, body)) {
        return ctx->status;
    }
    m = json_object_get(body, def->singular);
    if (m && json_object_size(body) == 1) {
        *memberp = json_incref(m);
        return 0;
    }
    m = json_object_get(body, resource_collection(def));
    if (bulk && m && json_object_size(body) == 1 && json_is_array(m)
        && json_array_size(m) > 0 && json_array_size(m) <= 1000) {
        *memberp = json_incref(m);
        *is_bulkp = true;
        return 0;
    }
    return res_error(ctx, 400, "HTTPBadRequest",
                     "Unable to find '%s' in request body", def->singular);
}

static json_t *
list_links(const struct api_request *req, const struct resource_def *def,
           const struct res_query *q, const json_t *list)
{
    const json_t *last = json_array_get(list, json_array_size(list) - 1);
    const char *id = json_string_value(json_object_get(last, "id"));
    char *base, *href;
    json_t *links;

    if (!id) {
        return json_array();
    }
    base = base_url(req);
    href = xasprintf("%s/v2.0/%s?limit=%s&marker=%s", base, def->plural,
                     res_query_get(q, "limit"), id);
    links = json_pack("[{s:s,s:s}]", "href", href, "rel", "next");
    free(href);
    free(base);
    return links;
}

/* Handles /v2.0/<plural>[/<id>] inside transaction 'ctx->txn'. */
static int
handle_resource(struct res_ctx *ctx, const struct api_request *req,
                const struct resource_def *def, const char *id,
                const struct res_query *q, json_t *body, json_t **replyp)
{
    const char *method = req->method;
    json_t *obj = NULL, *member = NULL;
    bool bulk;
    int error;

    if (!strcmp(method, "GET") && def->prepare) {
        error = def->prepare(ctx);
        if (error) {
            return error;
        }
    }
    if (!id) {
        if (!strcmp(method, "GET")) {
            bool more;
            error = resource_list(ctx, def, q, &obj, &more);
            if (error) {
                return error;
            }
            *replyp = json_pack("{s:o}", resource_collection(def), obj);
            if (more) {
                char *k = xasprintf("%s_links", resource_collection(def));
                json_object_set_new(*replyp, k,
                                    list_links(req, def, q, obj));
                free(k);
            }
            return 200;
        } else if (!strcmp(method, "POST") && def->allow_create) {
            error = body_member(ctx, def, body, true, &member, &bulk);
            if (error) {
                return error;
            }
            if (!bulk) {
                error = resource_create(ctx, def, member, &obj);
                if (!error) {
                    *replyp = json_pack("{s:o}", def->singular,
                                        resource_view(ctx, def, obj, NULL));
                }
            } else {
                json_t *list = json_array();
                size_t i;
                json_t *e;

                json_array_foreach (member, i, e) {
                    error = resource_create(ctx, def, e, &obj);
                    if (error) {
                        break;
                    }
                    json_array_append_new(list, resource_view(ctx, def, obj,
                                                              NULL));
                    json_decref(obj);
                    obj = NULL;
                }
                if (!error) {
                    *replyp = json_pack("{s:o}", resource_collection(def),
                                        list);
                } else {
                    json_decref(list);
                }
            }
            json_decref(member);
            json_decref(obj);
            return error ? error : 201;
        }
        return res_method_not_allowed(ctx, method);
    }

    if (!strcmp(method, "GET")) {
        error = resource_load(ctx, def, id, &obj);
        if (!error) {
            *replyp = json_pack("{s:o}", def->singular,
                                resource_view(ctx, def, obj, q));
        }
        json_decref(obj);
        return error ? error : 200;
    } else if (!strcmp(method, "PUT") && def->allow_update) {
        error = body_member(ctx, def, body, false, &member, &bulk);
        if (!error) {
            error = resource_update(ctx, def, id, member, &obj);
        }
        if (!error) {
            *replyp = json_pack("{s:o}", def->singular,
                                resource_view(ctx, def, obj, NULL));
        }
        json_decref(member);
        json_decref(obj);
        return error ? error : 200;
    } else if (!strcmp(method, "DELETE") && def->allow_delete) {
        error = resource_delete(ctx, def, id);
        return error ? error : 204;
    }
    return res_method_not_allowed(ctx, method);
}

/* Handles PUT /v2.0/<plural>/<id>/<action> inside 'ctx->txn'. */
static int
handle_action(struct res_ctx *ctx, const char *method,
              const struct resource_action *action, const char *id,
              json_t *body, json_t **replyp)
{
    int error;

    if (strcmp(method, "PUT")) {
        return res_method_not_allowed(ctx, method);
    }
    error = check_body_object(ctx, body);
    if (!error) {
        error = action->run(ctx, id, body, replyp);
    }
    return error ? error : 200;
}

/* Parses the request body, if any.  Returns 0 or 400. */
static int
parse_body(struct res_ctx *ctx, const struct api_request *req,
           json_t **bodyp)
{
    json_error_t jerr;

    *bodyp = NULL;
    if (!req->body || !req->body_len) {
        return 0;
    }
    *bodyp = json_loadb(req->body, req->body_len, 0, &jerr);
    if (!*bodyp) {
        return res_error(ctx, 400, "HTTPBadRequest",
                         "Malformed request body: %s", jerr.text);
    }
    return 0;
}

static int
route(struct api *api, struct res_ctx *ctx, const struct api_request *req,
      char **parts, size_t n, const struct res_query *q, json_t **replyp)
{
    const char *method = req->method;
    const struct resource_action *action;
    const struct resource_def *def;
    json_t *body = NULL;
    int status;

    if (n == 0) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
            return res_method_not_allowed(ctx, method);
        }
        *replyp = version_doc(req);
        return 200;
    }
    if (strcmp(parts[0], "v2.0")) {
        return res_path_not_found(ctx);
    }
    if (n == 1) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
            return res_method_not_allowed(ctx, method);
        }
        *replyp = resources_doc(req);
        return 200;
    }
    if (!strcmp(parts[1], "extensions")) {
        return handle_extensions(ctx, method, parts, n, replyp);
    }
    if (!strcmp(parts[1], "weft")) {
        status = parse_body(ctx, req, &body);
        if (!status) {
            status = weft_ext_handle(api, ctx, method, parts + 2, n - 2, q,
                                     body, replyp);
        }
        json_decref(body);
        return status;
    }
    def = resource_find(parts[1]);
    action = def && n == 4 ? resource_find_action(def, parts[3]) : NULL;
    if (!def || n > 4 || (n == 4 && !action)) {
        return res_path_not_found(ctx);
    }
    status = parse_body(ctx, req, &body);
    if (status) {
        return status;
    }

    res_txn_begin(ctx);
    status = (action
              ? handle_action(ctx, method, action, parts[2], body, replyp)
              : handle_resource(ctx, req, def, n == 3 ? parts[2] : NULL, q,
                                body, replyp));
    status = res_txn_end(ctx, status, replyp);
    json_decref(body);
    return status;
}

int
api_handle_request(struct api *api, const struct api_request *req,
                   char **reply_body)
{
    enum { MAX_PARTS = 8 };
    char *parts[MAX_PARTS];
    struct res_query q;
    struct res_ctx ctx;
    json_t *reply = NULL;
    size_t n;
    int status;

    res_ctx_init(&ctx, api->store, &api->cfg, req->project_id);
    res_query_parse(&q, req->query);
    n = split_path(req->path, parts, MAX_PARTS);
    if (n > MAX_PARTS) {
        status = res_path_not_found(&ctx);
        n = 0;
    } else {
        /* "/v2.0/networks.json" is "/v2.0/networks". */
        if (n > 0) {
            size_t len = strlen(parts[n - 1]);
            if (len > 5 && !strcmp(parts[n - 1] + len - 5, ".json")) {
                parts[n - 1][len - 5] = '\0';
            }
        }
        status = route(api, &ctx, req, parts, n, &q, &reply);
    }
    if (status >= 400) {
        ASSERT(ctx.status);
        json_decref(reply);
        reply = json_pack("{s:{s:s,s:s,s:s}}", "NeutronError",
                          "type", ctx.err_type, "message", ctx.err_msg,
                          "detail", "");
        if (!reply) {
            reply = json_pack("{s:{s:s,s:s,s:s}}", "NeutronError",
                              "type", ctx.err_type, "message",
                              "(message not representable)", "detail", "");
        }
        status = ctx.status;
    }
    *reply_body = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    json_decref(reply);
    for (size_t i = 0; i < n; i++) {
        free(parts[i]);
    }
    res_query_destroy(&q);
    res_ctx_destroy(&ctx);
    return status;
}
