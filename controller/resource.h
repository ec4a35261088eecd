/*
 * resource.h -- table-driven Neutron resources: one attribute table per
 * resource drives validation, defaults, read-only checks, list filters and
 * "fields=" (the role of Neutron's RESOURCE_ATTRIBUTE_MAP).
 *
 * A resource lives in the store under "<plural>/<id>" as its Neutron JSON
 * representation (the inner object of a GET reply).  The generic CRUD
 * functions below do the work every resource shares: check the request
 * body against the table (unknown attribute, wrong type, attribute not
 * allowed in POST/PUT, missing required attribute: 400), fill defaults,
 * set the standard attributes (id, project_id/tenant_id, created_at,
 * updated_at, revision_number), call the resource's hook for its own
 * semantics (allocation, cross-object checks; see controller/neutron.h),
 * and write the store.  Everything happens inside the caller's
 * transaction 'ctx->txn'; on error the caller aborts it, so a failed
 * request changes nothing.
 *
 * Error convention for this layer and the hooks: functions return 0, or
 * an HTTP status (>= 400) after recording a Neutron error in the context
 * with res_error().  Only the first recorded error is kept.
 */
#ifndef WEFT_CONTROLLER_RESOURCE_H
#define WEFT_CONTROLLER_RESOURCE_H 1

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "controller/api.h"
#include "lib/util.h"

struct store;
struct store_txn;

/* Per-request context. */
struct res_ctx {
    struct store *store;
    struct store_txn *txn;
    const struct api_config *cfg;
    const char *project_id;     /* Default project for creates. */
    long long now;              /* Wall clock (s) for timestamps. */

    int status;                 /* First error: HTTP status, 0 if none. */
    char *err_type;             /* e.g. "NetworkNotFound". */
    char *err_msg;
};

/* Starts a request on 'store' with no transaction yet (res_txn_begin()).
 * 'project_id' NULL means API_DEFAULT_PROJECT. */
void res_ctx_init(struct res_ctx *, struct store *,
                  const struct api_config *, const char *project_id);
void res_ctx_destroy(struct res_ctx *);

/* Records an error (unless one is already recorded) and returns 'status'. */
int res_error(struct res_ctx *, int status, const char *type,
              const char *fmt, ...) PRINTF_FMT(4, 5);

/* Forgets the recorded error (for a lookup whose failure is expected). */
void res_error_clear(struct res_ctx *);

/* Records 500 StoreError for store error 'error' (a positive errno). */
int res_store_error(struct res_ctx *, int error);

/* The errors every router records: 405 HTTPMethodNotAllowed for 'method',
 * and 404 HTTPNotFound for a path that names nothing. */
int res_method_not_allowed(struct res_ctx *, const char *method);
int res_path_not_found(struct res_ctx *);

/* Begins the request's one transaction, 'ctx->txn' (which must be NULL),
 * on 'ctx->store'. */
void res_txn_begin(struct res_ctx *);
/* Ends 'ctx->txn' and sets it to NULL: commits if 'status' is a success
 * (below 400), else rolls back.  Returns 'status', unless the commit
 * fails: then it releases and clears '*replyp' and returns 500 with a
 * StoreError recorded. */
int res_txn_end(struct res_ctx *, int status, json_t **replyp);

/* Attribute types: what a JSON value must be. */
enum attr_type {
    AT_STRING,      /* String, at most 255 bytes. */
    AT_BOOL,        /* true/false (also "true"/"false" strings, 0/1). */
    AT_INT,         /* Integer. */
    AT_UUID,        /* String "8-4-4-4-12" hex. */
    AT_LIST,        /* Array. */
    AT_DICT,        /* Object. */
    AT_SCALAR,      /* String (at most 255 bytes) or integer: a security
                     * group rule's protocol, "tcp" or 6, or port, "22"
                     * or 22. */
};

enum attr_flags {
    AF_POST = 1 << 0,           /* May be given in a create. */
    AF_PUT = 1 << 1,            /* May be given in an update. */
    AF_REQUIRED = 1 << 2,       /* Must be given in a create. */
    AF_NULLABLE = 1 << 3,       /* null is a valid value. */
};

struct attr_def;
/* Validates (and may normalize, by replacing '*valuep') a value that has
 * already passed the type check.  Returns 0 or an HTTP status. */
typedef int attr_validate_fn(struct res_ctx *, const struct attr_def *,
                             json_t **valuep);

struct attr_def {
    const char *name;
    enum attr_type type;
    const char *default_json;   /* JSON text of the default, or NULL. */
    unsigned int flags;         /* enum attr_flags. */
    attr_validate_fn *validate; /* Extra validation, or NULL. */
};

/* One query parameter, URL-decoded. */
struct res_param {
    char *key;
    char *value;
};

struct res_query {
    struct res_param *params;
    size_t n;
};

/* Parses a query string ("a=1&b=%20x") into 'q'.  Never fails. */
void res_query_parse(struct res_query *q, const char *query);
void res_query_destroy(struct res_query *);
/* The value of the first parameter named 'key', or NULL. */
const char *res_query_get(const struct res_query *, const char *key);

/* A member action, PUT /v2.0/<plural>/<id>/<name> with a bare JSON object
 * as the body (Neutron's "add_router_interface").  'run' works inside
 * 'ctx->txn' like the hooks below; on success it stores the reply document
 * (a new reference) in '*replyp' and returns 0, and the request answers
 * 200. */
struct resource_action {
    const char *name;           /* "add_router_interface" */
    const char *summary;        /* One line for the API reference. */
    int (*run)(struct res_ctx *, const char *id, const json_t *body,
               json_t **replyp);
};

struct resource_def {
    const char *singular;       /* "network" */
    const char *plural;         /* "networks" (also the store prefix) */
    const char *collection;     /* JSON member of a list or bulk body,
                                 * "security_groups", if not 'plural'. */
    const char *type_name;      /* "Network", for "NetworkNotFound". */
    const struct attr_def *attrs;
    size_t n_attrs;
    bool std_attrs;             /* Has timestamps and revision_number. */
    bool allow_create;
    bool allow_update;
    bool allow_delete;

    /* Before a GET (list or show), inside 'ctx->txn': may write, as
     * Neutron creates a project's default security group when it first
     * lists them.  NULL if there is nothing to do. */
    int (*prepare)(struct res_ctx *);

    /* After defaults and the standard attributes are filled: checks and
     * completes the new object 'obj', may write other keys. */
    int (*create)(struct res_ctx *, json_t *obj);
    /* 'obj' is 'old' with 'changes' applied; checks and completes it. */
    int (*update)(struct res_ctx *, const json_t *old, json_t *obj,
                  const json_t *changes);
    /* Before 'obj' is deleted: checks and removes dependent keys. */
    int (*remove)(struct res_ctx *, const json_t *obj);
    /* Adds attributes computed at read time (agent liveness, from the
     * store's heartbeats, which may be read inside 'ctx->txn'). */
    void (*render)(struct res_ctx *, json_t *obj);

    const struct resource_action *actions;     /* Member actions. */
    size_t n_actions;
};

/* Every resource served under /v2.0/<plural>. */
extern const struct resource_def *const resource_defs[];
extern const size_t n_resource_defs;

/* Writes the attribute reference of every resource, as Markdown tables,
 * to 'out'.  docs/api.md embeds this output between its "BEGIN
 * GENERATED" and "END GENERATED" markers (weft-controller
 * --print-api-reference; a unit test checks the two agree), so the tables
 * that validate requests are also the documentation.  A resource with
 * member actions gets a second table listing them. */
void resource_print_reference(FILE *out);
const struct resource_def *resource_find(const char *plural);
/* The JSON member that holds a list of 'def' objects: "networks",
 * "security_groups". */
const char *resource_collection(const struct resource_def *def);
/* The action of 'def' called 'name', or NULL. */
const struct resource_action *resource_find_action(
    const struct resource_def *, const char *name);
const struct attr_def *resource_attr(const struct resource_def *,
                                     const char *name);

/* Records "<Type>NotFound" ("Network X could not be found.") with
 * 'status' (404, or 400 when a body names a missing object). */
int resource_not_found(struct res_ctx *, const struct resource_def *,
                       const char *id, int status);

/* Creates a resource from the body's inner object 'in'.  On success stores
 * a new reference to the created object in '*outp'. */
int resource_create(struct res_ctx *, const struct resource_def *,
                    json_t *in, json_t **outp);
/* Updates resource 'id' with the attributes of 'in'. */
int resource_update(struct res_ctx *, const struct resource_def *,
                    const char *id, json_t *in, json_t **outp);
int resource_delete(struct res_ctx *, const struct resource_def *,
                    const char *id);
/* Deletes resource 'id' from the store without its remove hook: for a hook
 * that deletes the objects it owns (a network's subnets), once it has
 * released what they hold.  An absent object is not an error. */
int resource_erase(struct res_ctx *, const struct resource_def *,
                   const char *id);
/* Reads resource 'id' (404 if absent) into a new reference '*outp',
 * without render. */
int resource_load(struct res_ctx *, const struct resource_def *,
                  const char *id, json_t **outp);
/* Writes 'obj' under "<plural>/<obj.id>". */
int resource_save(struct res_ctx *, const struct resource_def *,
                  const json_t *obj);
/* Marks 'obj' updated (bumps revision_number and updated_at) and saves
 * it, as every change to an object that is not its own update does. */
int resource_touch(struct res_ctx *, const struct resource_def *,
                   json_t *obj);
/* Builds the list reply array for 'q' (filters, fields, limit, marker);
 * '*morep' is set true if 'limit' cut the list. */
int resource_list(struct res_ctx *, const struct resource_def *,
                  const struct res_query *q, json_t **outp, bool *morep);
/* Applies render and the "fields" parameters of 'q' to 'obj'; returns a
 * new reference. */
json_t *resource_view(struct res_ctx *, const struct resource_def *,
                      json_t *obj, const struct res_query *q);

/* Fills 'buf' with a random (v4) UUID. */
void resource_uuid_new(char buf[37]);
/* Formats 'when' as "YYYY-MM-DDTHH:MM:SSZ" ('iso') or
 * "YYYY-MM-DD HH:MM:SS" (!'iso'). */
void resource_time_format(long long when, bool iso, char buf[32]);

#endif /* WEFT_CONTROLLER_RESOURCE_H */
