/*
 * api.h -- the Neutron v2.0 API of weft-controller, without sockets.
 *
 * api_handle() turns one HTTP request (method, path, query string, body)
 * into a status code and a JSON reply, using exactly one store transaction
 * for the whole request: either everything the request changes is
 * committed, or (on any 4xx/5xx) nothing is.  controller/http.c feeds it
 * from libmicrohttpd; unit tests and the fuzzer call it directly with a
 * "memory:" store.
 *
 * Routes (all JSON, Neutron shapes, errors as
 * {"NeutronError": {"type", "message", "detail"}}):
 *   GET  /                                   version document
 *   GET  /v2.0, /v2.0/                       resource collections
 *   GET  /v2.0/extensions[/ALIAS]            extensions we implement
 *   GET|POST /v2.0/{networks,subnets,ports,routers}
 *                                            list (filters, fields=,
 *                                            limit/marker) / create (also
 *                                            bulk, all-or-nothing)
 *   GET|PUT|DELETE /v2.0/COLLECTION/ID       show / update / delete
 *   PUT  /v2.0/routers/ID/{add,remove}_router_interface
 *                                            member actions (a resource's
 *                                            'actions'), reply 200
 *   /v2.0/security-groups, /v2.0/security-group-rules
 *                                            the same (lists and bulk
 *                                            bodies use "security_groups",
 *                                            "security_group_rules"); rules
 *                                            have no PUT (405); a GET of
 *                                            security groups creates the
 *                                            project's default group
 *   GET  /v2.0/agents[/ID], PUT, DELETE      agents (created by reports)
 *   /v2.0/weft/...                           agent protocol, see
 *                                            docs/agent-protocol.md and
 *                                            controller/weft-ext.h
 *
 * Status codes: 200 show/list/update, 201 create, 204 delete, 400 bad
 * input (malformed JSON, wrong types, unknown or read-only attributes, bad
 * CIDR/IP/MAC/UUID, and a network_id that names no network -- type
 * NetworkNotFound), 404 unknown id or path, 405 wrong method, 409
 * conflicts (NetworkInUse, SubnetInUse, MacAddressInUse,
 * IpAddressAlreadyAllocated, IpAddressGenerationFailure, RouterInUse,
 * PortInUse, ServicePortInUse, RouterInterfaceInUseByRoute,
 * GatewayIpInUse, SecurityGroupInUse, SecurityGroupRuleExists,
 * SecurityGroupCannotRemoveDefault, SecurityGroupCannotUpdateDefault,
 * SecurityGroupDefaultAlreadyExists, PortSecurityPortHasSecurityGroup,
 * AddressPairAndPortSecurityRequired), 410 watch from a compacted
 * revision, 413 body too large (http.c), 500 store failure.
 *
 * Project: a create takes project_id/tenant_id from the body, else the
 * X-Project-Id header (api_request.project_id), else API_DEFAULT_PROJECT.
 *
 * Threading: a struct api is immutable after api_create() apart from the
 * shutdown flag; any number of threads may call api_handle() at once (the
 * store serializes the transactions).
 */
#ifndef WEFT_CONTROLLER_API_H
#define WEFT_CONTROLLER_API_H 1

#include <stdbool.h>
#include <stddef.h>

struct store;

/* The project that owns objects created without any project information
 * (there is no Keystone: clients use --os-auth-type none). */
#define API_DEFAULT_PROJECT "00000000000000000000000000000000"

/* Largest request body http.c accepts (larger: 413). */
#define API_MAX_BODY (1024 * 1024)

struct api_config {
    const char *encap;          /* "geneve" (default) or "vxlan". */
    int global_physnet_mtu;     /* Underlay MTU, default 1500. */
    int agent_down_time;        /* Seconds without heartbeat => dead. */
};

/* One request.  Every pointer may be NULL except 'method' and 'path'. */
struct api_request {
    const char *method;         /* "GET", "POST", "PUT", "DELETE", ... */
    const char *path;           /* "/v2.0/networks/ID", not URL-decoded. */
    const char *query;          /* "name=a&fields=id", without '?'. */
    const char *body;           /* Request body (need not be terminated). */
    size_t body_len;
    const char *host;           /* Host header, for version links. */
    const char *project_id;     /* X-Project-Id header. */
};

/* Creates an API over 'store' (not owned: the caller closes it after
 * api_destroy()).  'cfg' is copied; NULL means all defaults.  Returns NULL
 * if 'cfg' is invalid (unknown encap, MTU outside 576..65535). */
struct api *api_create(struct store *store, const struct api_config *cfg);
void api_destroy(struct api *);                 /* Accepts NULL. */

/* Makes every long-poll (watch) return promptly; used at shutdown. */
void api_shutdown(struct api *);
bool api_is_shutting_down(const struct api *);

struct store *api_store(const struct api *);

/* Handles one request.  'query' and 'body' may be NULL; 'body' must be
 * NUL-terminated.  Returns the HTTP status and stores in '*reply_body' a
 * malloc'd NUL-terminated JSON document the caller frees, or NULL when the
 * status carries no body (204).  Never fails otherwise: every error is a
 * status with a NeutronError body. */
int api_handle(struct api *, const char *method, const char *path,
               const char *query, const char *body, char **reply_body);

/* Like api_handle() with the extra request details of 'req'. */
int api_handle_request(struct api *, const struct api_request *req,
                       char **reply_body);

#endif /* WEFT_CONTROLLER_API_H */
