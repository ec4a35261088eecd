/*
 * weftctl.c -- the Weft command-line client.
 *
 *     weftctl [--url URL] [-f table|json] RESOURCE VERB [ARGS] [OPTIONS]
 *     weftctl [--agent-host NAME | --socket PATH]
 *         flows|counters|agent-status|flush|router-routes ROUTER|
 *         conntrack|conntrack-flush [ZONE]
 *
 * Resource commands speak the Neutron v2.0 API to the controller with
 * libcurl (URL from --url, else $WEFT_URL, else http://127.0.0.1:9696).
 * Operations commands read one JSON document from an agent's control
 * socket (docs/agent-protocol.md).  Output is an aligned table for people
 * or, with -f json, the server's JSON untouched for scripts.
 *
 * Each resource is described once, by a 'struct resource': its list
 * columns and an attribute table that says, for every option, which verbs
 * take it and how its value becomes a body attribute (create, update) or
 * a filter (list).  Generic create/list/show/update/delete commands work
 * from that table; the command table 'commands' pairs a resource with a
 * verb (how many positional arguments, what it runs) and its usage line.
 * A member action (router interface-add/-remove) is a verb too: its
 * options, flagged ON_ACTION in the same table, make the action's body.
 *
 * Names are resolved to ids the way openstackclient does: GET the argument
 * as an id; if that is not found, list with ?name= and insist on exactly
 * one match.
 *
 * Error handling: a CLI, so every failure prints one line to stderr saying
 * what failed (the NeutronError message, or which URL could not be
 * reached) and exits with status 1.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "datapath/drop.h"
#include "lib/util.h"

#define DEFAULT_URL "http://127.0.0.1:9696"
#define CTL_DIR "/run/weft"
#define MAX_REPLY (64 * 1024 * 1024)

/* Global options and per-run state. */
struct ctl {
    char *url;                  /* Controller base URL, no trailing '/'. */
    const char *socket;         /* Agent control socket path, or NULL. */
    const char *agent_host;     /* --agent-host NAME, or NULL. */
    bool json;                  /* -f json. */
    CURL *curl;
};

/* ---------------------------------------------------------------------- */
/* Errors. */

static void NORETURN PRINTF_FMT(1, 2)
fatal(const char *fmt, ...)
{
    va_list args;

    fflush(stdout);
    fputs("weftctl: ", stderr);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    exit(EXIT_FAILURE);
}

/* ---------------------------------------------------------------------- */
/* Growable string buffer. */

struct buf {
    char *data;
    size_t len, allocated;
};

static void
buf_put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->allocated) {
        b->allocated = MAX(2 * b->allocated, b->len + n + 1);
        b->allocated = MAX(b->allocated, 256);
        b->data = xrealloc(b->data, b->allocated);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void PRINTF_FMT(2, 3)
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list args;
    char *s;

    va_start(args, fmt);
    if (vasprintf(&s, fmt, args) < 0) {
        fatal("out of memory");
    }
    va_end(args);
    buf_put(b, s, strlen(s));
    free(s);
}

static char *
buf_steal(struct buf *b)
{
    if (!b->data) {
        return xstrdup("");
    }
    char *s = b->data;
    b->data = NULL;
    b->len = b->allocated = 0;
    return s;
}

/* ---------------------------------------------------------------------- */
/* HTTP. */

struct http_reply {
    long status;
    struct buf body;
};

static size_t
http_write_cb(char *p, size_t size, size_t n, void *reply_)
{
    struct http_reply *reply = reply_;
    size_t total = size * n;

    if (reply->body.len + total > MAX_REPLY) {
        return 0;
    }
    buf_put(&reply->body, p, total);
    return total;
}

/* Sends 'method' 'path' (starting with "/v2.0/") with optional JSON 'body'
 * to the controller.  Dies if the controller cannot be reached; any HTTP
 * status is returned in 'reply', whose body the caller frees. */
static void
http_do(struct ctl *ctl, const char *method, const char *path,
        const json_t *body, struct http_reply *reply)
{
    char *url = xasprintf("%s%s", ctl->url, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *c = ctl->curl;

    memset(reply, 0, sizeof *reply);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "weftctl");
    headers = curl_slist_append(headers, "Accept: application/json");
    if (text) {
        headers = curl_slist_append(headers,
                                    "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(text));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    free(text);
    if (rc != CURLE_OK) {
        fatal("%s %s failed: %s", method, url,
              *errbuf ? errbuf : curl_easy_strerror(rc));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
    free(url);
}

/* Dies with the NeutronError message in 'reply' (or whatever it has). */
static void NORETURN
http_fail(const char *method, const char *path, struct http_reply *reply)
{
    json_t *j = json_loadb(reply->body.data ? reply->body.data : "",
                           reply->body.len, 0, NULL);
    json_t *ne = json_object_get(j, "NeutronError");
    const char *msg = json_string_value(json_object_get(ne, "message"));
    const char *type = json_string_value(json_object_get(ne, "type"));

    if (msg) {
        fatal("%s (HTTP %ld%s%s)", msg, reply->status,
              type ? ", " : "", type ? type : "");
    }
    if (reply->body.len) {
        size_t n = reply->body.len;
        while (n > 0 && isspace((unsigned char) reply->body.data[n - 1])) {
            n--;
        }
        fatal("%s %s: HTTP %ld: %.*s", method, path, reply->status,
              (int) MIN(n, 500), reply->body.data);
    }
    fatal("%s %s: HTTP %ld", method, path, reply->status);
}

/* Performs an API call that must succeed (2xx).  Returns the parsed reply
 * (caller frees; NULL for an empty body).  If 'rawp' is nonnull, stores the
 * unparsed body there (caller frees). */
static json_t *
api(struct ctl *ctl, const char *method, const char *path,
    const json_t *body, char **rawp)
{
    struct http_reply reply;

    http_do(ctl, method, path, body, &reply);
    if (reply.status < 200 || reply.status > 299) {
        http_fail(method, path, &reply);
    }
    json_t *j = NULL;
    if (reply.body.len) {
        json_error_t err;
        j = json_loadb(reply.body.data, reply.body.len, 0, &err);
        if (!j) {
            fatal("%s %s%s: reply is not JSON: %s", method, ctl->url, path,
                  err.text);
        }
    }
    if (rawp) {
        *rawp = buf_steal(&reply.body);
    }
    free(reply.body.data);
    return j;
}

/* Returns 's' escaped for a URL path segment or query value. */
static char *
url_escape(struct ctl *ctl, const char *s)
{
    char *e = curl_easy_escape(ctl->curl, s, 0);
    if (!e) {
        fatal("out of memory");
    }
    char *copy = xstrdup(e);
    curl_free(e);
    return copy;
}

/* ---------------------------------------------------------------------- */
/* Tables. */

/* A table of strings; cells may hold several lines. */
struct table {
    size_t n_cols;
    char **cells;               /* Row-major, row 0 is the heading. */
    size_t n_rows, allocated_rows;
};

static void
table_init(struct table *t, size_t n_cols)
{
    memset(t, 0, sizeof *t);
    t->n_cols = n_cols;
}

/* Adds a row of 'n_cols' cells, taking ownership of each string. */
static void
table_add_row(struct table *t, char **row)
{
    if (t->n_rows >= t->allocated_rows) {
        t->allocated_rows = t->allocated_rows ? 2 * t->allocated_rows : 16;
        t->cells = xrealloc(t->cells, t->allocated_rows * t->n_cols
                                      * sizeof *t->cells);
    }
    memcpy(&t->cells[t->n_rows * t->n_cols], row, t->n_cols * sizeof *row);
    t->n_rows++;
}

/* Display width of the first line of 's' of byte length 'n' (UTF-8
 * continuation bytes take no column). */
static size_t
text_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        w += ((unsigned char) s[i] & 0xc0) != 0x80;
    }
    return w;
}

/* Returns the length of line 'k' of 's' and its start in '*startp', or
 * SIZE_MAX if 's' has fewer lines. */
static size_t
cell_line(const char *s, size_t k, const char **startp)
{
    for (; k > 0; k--) {
        s = strchr(s, '\n');
        if (!s) {
            return SIZE_MAX;
        }
        s++;
    }
    *startp = s;
    return strcspn(s, "\n");
}

static size_t
cell_lines(const char *s)
{
    size_t n = 1;
    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

static void
table_rule(const struct table *t, const size_t *widths)
{
    for (size_t c = 0; c < t->n_cols; c++) {
        putchar('+');
        for (size_t i = 0; i < widths[c] + 2; i++) {
            putchar('-');
        }
    }
    puts("+");
}

/* Prints 't' with box rules like openstackclient, and frees it. */
static void
table_print(struct table *t)
{
    size_t *widths = xcalloc(t->n_cols, sizeof *widths);

    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *cell = t->cells[r * t->n_cols + c];
            const char *start;
            size_t len;
            for (size_t k = 0; (len = cell_line(cell, k, &start)) != SIZE_MAX;
                 k++) {
                widths[c] = MAX(widths[c], text_width(start, len));
            }
        }
    }

    table_rule(t, widths);
    for (size_t r = 0; r < t->n_rows; r++) {
        size_t height = 1;
        for (size_t c = 0; c < t->n_cols; c++) {
            height = MAX(height, cell_lines(t->cells[r * t->n_cols + c]));
        }
        for (size_t k = 0; k < height; k++) {
            for (size_t c = 0; c < t->n_cols; c++) {
                const char *start = "";
                size_t len = cell_line(t->cells[r * t->n_cols + c], k,
                                       &start);
                if (len == SIZE_MAX) {
                    len = 0;
                }
                printf("| %.*s%*s ", (int) len, start,
                       (int) (widths[c] - text_width(start, len)), "");
            }
            puts("|");
        }
        if (r == 0) {
            table_rule(t, widths);
        }
    }
    if (t->n_rows > 1) {
        table_rule(t, widths);
    }

    for (size_t i = 0; i < t->n_rows * t->n_cols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    free(widths);
}

/* ---------------------------------------------------------------------- */
/* Formatting JSON values for tables. */

/* Returns a printable rendering of 'v' (caller frees): strings as they
 * are, null as empty, booleans as True/False, arrays of scalars joined with
 * ", ", anything else as compact JSON. */
static char *
format_value(const json_t *v)
{
    if (!v || json_is_null(v)) {
        return xstrdup("");
    }
    if (json_is_string(v)) {
        return xstrdup(json_string_value(v));
    }
    if (json_is_boolean(v)) {
        return xstrdup(json_is_true(v) ? "True" : "False");
    }
    if (json_is_array(v)) {
        struct buf b = { 0 };
        size_t i;
        json_t *e;
        json_array_foreach (v, i, e) {
            if (json_is_object(e) || json_is_array(e)) {
                goto as_json;
            }
        }
        json_array_foreach (v, i, e) {
            char *s = format_value(e);
            buf_printf(&b, "%s%s", i ? ", " : "", s);
            free(s);
        }
        return buf_steal(&b);
    }
as_json:;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    return s ? s : xstrdup("?");
}

/* Renders a list of objects one per line as key='value', key='value'
 * (openstackclient's style for fixed_ips and allocation_pools). */
static char *
format_object_list(const json_t *v)
{
    if (!json_is_array(v)) {
        return format_value(v);
    }
    struct buf b = { 0 };
    size_t i;
    json_t *e;
    json_array_foreach (v, i, e) {
        if (i) {
            buf_put(&b, "\n", 1);
        }
        if (!json_is_object(e)) {
            char *s = format_value(e);
            buf_printf(&b, "%s", s);
            free(s);
            continue;
        }
        const char *k;
        json_t *m;
        bool first = true;
        json_object_foreach ((json_t *) e, k, m) {
            char *s = format_value(m);
            buf_printf(&b, "%s%s='%s'", first ? "" : ", ", k, s);
            free(s);
            first = false;
        }
    }
    return buf_steal(&b);
}

/* Formats field 'field' of a resource for a table cell (caller frees). */
static char *
format_field(const char *field, const json_t *v)
{
    if (!strcmp(field, "admin_state_up") && json_is_boolean(v)) {
        return xstrdup(json_is_true(v) ? "UP" : "DOWN");
    }
    if (!strcmp(field, "alive") && json_is_boolean(v)) {
        return xstrdup(json_is_true(v) ? ":-)" : "XXX");
    }
    if (json_is_array(v) && json_array_size(v)
        && json_is_object(json_array_get(v, 0))) {
        return format_object_list(v);
    }
    return format_value(v);
}

/* qsort() comparison for an array of strings. */
static int
compare_strings(const void *a_, const void *b_)
{
    const char *const *a = a_;
    const char *const *b = b_;
    return strcmp(*a, *b);
}

/* Prints 'obj' as a Field/Value table, fields in name order. */
static void
print_object(const json_t *obj)
{
    struct table t;
    const char *key;
    json_t *v;
    char *row[2];

    table_init(&t, 2);
    row[0] = xstrdup("Field");
    row[1] = xstrdup("Value");
    table_add_row(&t, row);

    size_t n = json_object_size(obj);
    const char **keys = xcalloc(n, sizeof *keys);
    size_t i = 0;
    json_object_foreach ((json_t *) obj, key, v) {
        keys[i++] = key;
    }
    qsort(keys, n, sizeof *keys, compare_strings);
    for (i = 0; i < n; i++) {
        row[0] = xstrdup(keys[i]);
        row[1] = format_field(keys[i], json_object_get(obj, keys[i]));
        table_add_row(&t, row);
    }
    free(keys);
    table_print(&t);
}

/* ---------------------------------------------------------------------- */
/* Resources. */

struct column {
    const char *title;
    const char *field;
};

/* How an option's value becomes the value of a body attribute. */
enum attr_type {
    ATTR_STRING,                /* The value. */
    ATTR_REF,                   /* The id of the 'ref' resource it names. */
    ATTR_UP_DOWN,               /* "up" or "down" as true or false. */
    ATTR_OR_NONE,               /* The value, or null for "none". */
    ATTR_TRUE,                  /* A flag (no value): true. */
    ATTR_FALSE,                 /* A flag (no value): false. */
    ATTR_IP_VERSION,            /* An integer; without the option, 6 if
                                 * --cidr has a ':', else 4. */
    ATTR_MEMBER,                /* { member: value }. */
    ATTR_LIST,                  /* Repeatable: a list of the values (of
                                 * the ids they name, with 'ref'). */
    ATTR_PAIRS,                 /* Repeatable: a list of objects, each from
                                 * "KEY=VALUE,..." with 'keys'. */
    ATTR_CLEAR,                 /* A flag (no value): an empty list. */
    ATTR_INT,                   /* An integer. */
};

/* Flags of a 'struct attr'. */
enum {
    ON_CREATE = 1 << 0,         /* 'create' takes the option... */
    ON_UPDATE = 1 << 1,         /* ...'update' does... */
    ON_LIST = 1 << 2,           /* ...'list' filters on 'field' with it
                                 * (ATTR_STRING or ATTR_REF only). */
    REQUIRED = 1 << 3,          /* 'create' needs it. */
    ALL_KEYS = 1 << 4,          /* ATTR_PAIRS: every key must be given. */
    ON_ACTION = 1 << 5,         /* A member action (router interface-add)
                                 * takes the option for its body. */
};

/* One key of an ATTR_PAIRS option. */
struct pair_key {
    const char *key;            /* In the option value. */
    const char *field;          /* Member of the object. */
    const struct resource *ref; /* Value names one of these, or NULL. */
};

/* One option of a resource's commands and the attribute it sets. */
struct attr {
    const char *opt;            /* Option name without "--". */
    unsigned int flags;         /* ON_*, REQUIRED, ALL_KEYS. */
    enum attr_type type;
    const char *field;          /* Body attribute, also the filter key. */
    const char *arg;            /* Its value in messages (REQUIRED,
                                 * ATTR_PAIRS). */
    const struct resource *ref; /* ATTR_REF. */
    const struct pair_key *keys;    /* ATTR_PAIRS, NULL-key-terminated. */
    const char *member;         /* ATTR_MEMBER. */
};

struct resource {
    const char *name;           /* "network": the command word and the
                                 * JSON wrapper of one object. */
    const char *collection;     /* "networks": the URL path and the JSON
                                 * member of a list. */
    const char *name_field;     /* Field that names it for resolution. */
    const struct column *columns;   /* For 'list', NULL-terminated. */
    const struct attr *attrs;   /* Options, NULL-opt-terminated, in the
                                 * order they are processed. */
    /* Where the JSON names differ from the words above
     * ("security_group" and "security_groups" for "security-group" and
     * "security-groups"), the JSON names; else NULL. */
    const char *member;
    const char *list_key;
    /* The field that 'create''s positional argument sets ("name" if
     * NULL), and the resource whose id it is if it names one. */
    const char *create_field;
    const struct resource *create_ref;
};

/* The JSON wrapper of one 'res' object. */
static const char *
res_member(const struct resource *res)
{
    return res->member ? res->member : res->name;
}

/* The JSON member that holds a list of 'res' objects. */
static const char *
res_list_key(const struct resource *res)
{
    return res->list_key ? res->list_key : res->collection;
}

/* A 'struct attr' initializer: the fields every attribute has, then any
 * others as designated initializers. */
#define ATTR(OPT, FLAGS, TYPE, FIELD, ...) \
    { .opt = OPT, .flags = FLAGS, .type = TYPE, .field = FIELD, __VA_ARGS__ }

static const struct column network_columns[] = {
    { "ID", "id" }, { "Name", "name" }, { "Subnets", "subnets" },
    { "State", "admin_state_up" }, { "Status", "status" },
    { NULL, NULL },
};
static const struct attr network_attrs[] = {
    ATTR("name", ON_UPDATE, ATTR_STRING, "name"),
    ATTR("project", ON_CREATE | ON_LIST, ATTR_STRING, "project_id"),
    ATTR("admin-state", ON_CREATE | ON_UPDATE, ATTR_UP_DOWN,
         "admin_state_up"),
    /* --disable-port-security after --enable-port-security: it wins. */
    ATTR("enable-port-security", ON_CREATE | ON_UPDATE, ATTR_TRUE,
         "port_security_enabled"),
    ATTR("disable-port-security", ON_CREATE | ON_UPDATE, ATTR_FALSE,
         "port_security_enabled"),
    { .opt = NULL },
};
static const struct resource res_network = {
    .name = "network", .collection = "networks", .name_field = "name",
    .columns = network_columns, .attrs = network_attrs,
};

static const struct column subnet_columns[] = {
    { "ID", "id" }, { "Name", "name" }, { "Network", "network_id" },
    { "Subnet", "cidr" }, { "Gateway", "gateway_ip" },
    { NULL, NULL },
};
static const struct pair_key pool_keys[] = {
    { "start", "start", NULL }, { "end", "end", NULL }, { NULL, NULL, NULL },
};
static const struct attr subnet_attrs[] = {
    ATTR("name", ON_UPDATE, ATTR_STRING, "name"),
    ATTR("network", ON_CREATE | REQUIRED | ON_LIST, ATTR_REF, "network_id",
         .arg = "NET", .ref = &res_network),
    ATTR("cidr", ON_CREATE | REQUIRED, ATTR_STRING, "cidr", .arg = "CIDR"),
    ATTR("ip-version", ON_CREATE, ATTR_IP_VERSION, "ip_version"),
    ATTR("project", ON_CREATE, ATTR_STRING, "project_id"),
    ATTR("gateway", ON_CREATE | ON_UPDATE, ATTR_OR_NONE, "gateway_ip"),
    /* --no-dhcp after --dhcp: it wins when both are given. */
    ATTR("dhcp", ON_CREATE | ON_UPDATE, ATTR_TRUE, "enable_dhcp"),
    ATTR("no-dhcp", ON_CREATE | ON_UPDATE, ATTR_FALSE, "enable_dhcp"),
    ATTR("allocation-pool", ON_CREATE | ON_UPDATE | ALL_KEYS, ATTR_PAIRS,
         "allocation_pools", .arg = "start=IP,end=IP", .keys = pool_keys),
    ATTR("dns", ON_CREATE | ON_UPDATE, ATTR_LIST, "dns_nameservers"),
    { .opt = NULL },
};
static const struct resource res_subnet = {
    .name = "subnet", .collection = "subnets", .name_field = "name",
    .columns = subnet_columns, .attrs = subnet_attrs,
};

static const struct column security_group_columns[] = {
    { "ID", "id" }, { "Name", "name" }, { "Description", "description" },
    { "Project", "project_id" },
    { NULL, NULL },
};
static const struct attr security_group_attrs[] = {
    ATTR("name", ON_UPDATE, ATTR_STRING, "name"),
    ATTR("description", ON_CREATE | ON_UPDATE, ATTR_STRING, "description"),
    ATTR("project", ON_CREATE | ON_LIST, ATTR_STRING, "project_id"),
    { .opt = NULL },
};
static const struct resource res_security_group = {
    .name = "security-group", .collection = "security-groups",
    .name_field = "name", .columns = security_group_columns,
    .attrs = security_group_attrs, .member = "security_group",
    .list_key = "security_groups",
};

static const struct column security_group_rule_columns[] = {
    { "ID", "id" }, { "Security Group", "security_group_id" },
    { "Direction", "direction" }, { "Ethertype", "ethertype" },
    { "Protocol", "protocol" }, { "Port Min", "port_range_min" },
    { "Port Max", "port_range_max" },
    { "Remote IP Prefix", "remote_ip_prefix" },
    { "Remote Group", "remote_group_id" },
    { NULL, NULL },
};
static const struct attr security_group_rule_attrs[] = {
    ATTR("group", ON_LIST, ATTR_REF, "security_group_id",
         .ref = &res_security_group),
    ATTR("direction", ON_CREATE | REQUIRED | ON_LIST, ATTR_STRING,
         "direction", .arg = "ingress|egress"),
    ATTR("ethertype", ON_CREATE | ON_LIST, ATTR_STRING, "ethertype"),
    ATTR("protocol", ON_CREATE | ON_LIST, ATTR_STRING, "protocol"),
    ATTR("port-range-min", ON_CREATE, ATTR_INT, "port_range_min"),
    ATTR("port-range-max", ON_CREATE, ATTR_INT, "port_range_max"),
    ATTR("remote-ip-prefix", ON_CREATE, ATTR_STRING, "remote_ip_prefix"),
    ATTR("remote-group", ON_CREATE, ATTR_REF, "remote_group_id",
         .ref = &res_security_group),
    ATTR("description", ON_CREATE, ATTR_STRING, "description"),
    ATTR("project", ON_CREATE, ATTR_STRING, "project_id"),
    { .opt = NULL },
};
static const struct resource res_security_group_rule = {
    .name = "security-group-rule", .collection = "security-group-rules",
    .name_field = "id", .columns = security_group_rule_columns,
    .attrs = security_group_rule_attrs, .member = "security_group_rule",
    .list_key = "security_group_rules",
    .create_field = "security_group_id", .create_ref = &res_security_group,
};

static const struct column port_columns[] = {
    { "ID", "id" }, { "Name", "name" }, { "MAC Address", "mac_address" },
    { "Fixed IP Addresses", "fixed_ips" }, { "Host", "binding:host_id" },
    { "Status", "status" },
    { NULL, NULL },
};
static const struct pair_key address_pair_keys[] = {
    { "ip-address", "ip_address", NULL },
    { "mac-address", "mac_address", NULL },
    { NULL, NULL, NULL },
};
static const struct pair_key fixed_ip_keys[] = {
    { "subnet", "subnet_id", &res_subnet },
    { "ip-address", "ip_address", NULL },
    { NULL, NULL, NULL },
};
static const struct attr port_attrs[] = {
    ATTR("name", ON_UPDATE, ATTR_STRING, "name"),
    ATTR("network", ON_CREATE | REQUIRED | ON_LIST, ATTR_REF, "network_id",
         .arg = "NET", .ref = &res_network),
    ATTR("mac", ON_CREATE, ATTR_STRING, "mac_address"),
    ATTR("project", ON_CREATE, ATTR_STRING, "project_id"),
    ATTR("host", ON_CREATE | ON_UPDATE | ON_LIST, ATTR_STRING,
         "binding:host_id"),
    ATTR("interface", ON_CREATE | ON_UPDATE, ATTR_MEMBER, "binding:profile",
         .member = "interface_name"),
    ATTR("device-id", ON_CREATE | ON_UPDATE | ON_LIST, ATTR_STRING,
         "device_id"),
    ATTR("device-owner", ON_CREATE | ON_UPDATE, ATTR_STRING,
         "device_owner"),
    ATTR("admin-state", ON_CREATE | ON_UPDATE, ATTR_UP_DOWN,
         "admin_state_up"),
    ATTR("fixed-ip", ON_CREATE, ATTR_PAIRS, "fixed_ips",
         .arg = "subnet=SUBNET,ip-address=IP", .keys = fixed_ip_keys),
    /* The clearing flags come first: the lists given win when both are
     * (so "--no-security-group --security-group SG" replaces them). */
    ATTR("no-security-group", ON_CREATE | ON_UPDATE, ATTR_CLEAR,
         "security_groups"),
    ATTR("security-group", ON_CREATE | ON_UPDATE, ATTR_LIST,
         "security_groups", .ref = &res_security_group),
    ATTR("enable-port-security", ON_CREATE | ON_UPDATE, ATTR_TRUE,
         "port_security_enabled"),
    ATTR("disable-port-security", ON_CREATE | ON_UPDATE, ATTR_FALSE,
         "port_security_enabled"),
    ATTR("no-allowed-address", ON_UPDATE, ATTR_CLEAR,
         "allowed_address_pairs"),
    ATTR("allowed-address", ON_CREATE | ON_UPDATE, ATTR_PAIRS,
         "allowed_address_pairs", .arg = "ip-address=IP[,mac-address=MAC]",
         .keys = address_pair_keys),
    { .opt = NULL },
};
static const struct resource res_port = {
    .name = "port", .collection = "ports", .name_field = "name",
    .columns = port_columns, .attrs = port_attrs,
};

static const struct column router_columns[] = {
    { "ID", "id" }, { "Name", "name" }, { "Status", "status" },
    { "State", "admin_state_up" }, { "Project", "project_id" },
    { NULL, NULL },
};
static const struct pair_key route_keys[] = {
    { "destination", "destination", NULL }, { "nexthop", "nexthop", NULL },
    { "gateway", "nexthop", NULL },     /* openstackclient's word. */
    { NULL, NULL, NULL },
};
static const struct attr router_attrs[] = {
    ATTR("name", ON_UPDATE, ATTR_STRING, "name"),
    ATTR("project", ON_CREATE | ON_LIST, ATTR_STRING, "project_id"),
    ATTR("admin-state", ON_CREATE | ON_UPDATE, ATTR_UP_DOWN,
         "admin_state_up"),
    /* --route after --no-route: the routes given win when both are. */
    ATTR("no-route", ON_UPDATE, ATTR_CLEAR, "routes"),
    ATTR("route", ON_UPDATE | ALL_KEYS, ATTR_PAIRS, "routes",
         .arg = "destination=CIDR,nexthop=IP", .keys = route_keys),
    ATTR("subnet", ON_ACTION, ATTR_REF, "subnet_id", .arg = "SUBNET",
         .ref = &res_subnet),
    ATTR("port", ON_ACTION, ATTR_REF, "port_id", .arg = "PORT",
         .ref = &res_port),
    { .opt = NULL },
};
static const struct resource res_router = {
    .name = "router", .collection = "routers", .name_field = "name",
    .columns = router_columns, .attrs = router_attrs,
};

static const struct column agent_columns[] = {
    { "ID", "id" }, { "Agent Type", "agent_type" }, { "Host", "host" },
    { "Alive", "alive" }, { "State", "admin_state_up" },
    { "Binary", "binary" },
    { NULL, NULL },
};
static const struct attr agent_attrs[] = {
    ATTR("host", ON_LIST, ATTR_STRING, "host"),
    { .opt = NULL },
};
static const struct resource res_agent = {
    .name = "agent", .collection = "agents", .name_field = "host",
    .columns = agent_columns, .attrs = agent_attrs,
};

/* Prints 'objs', an array of objects, as a table with 'columns'. */
static void
print_rows(const struct column *columns, const json_t *objs)
{
    struct table t;
    size_t n_cols = 0;

    while (columns[n_cols].title) {
        n_cols++;
    }
    table_init(&t, n_cols);

    char **row = xcalloc(n_cols, sizeof *row);
    for (size_t c = 0; c < n_cols; c++) {
        row[c] = xstrdup(columns[c].title);
    }
    table_add_row(&t, row);

    size_t i;
    json_t *obj;
    json_array_foreach (objs, i, obj) {
        for (size_t c = 0; c < n_cols; c++) {
            const char *field = columns[c].field;
            row[c] = format_field(field, json_object_get(obj, field));
        }
        table_add_row(&t, row);
    }
    free(row);
    table_print(&t);
}

/* Returns the id of the 'res' named or identified by 'arg' (caller frees).
 * Dies if there is none, or several with that name. */
static char *
resolve(struct ctl *ctl, const struct resource *res, const char *arg)
{
    struct http_reply reply;
    char *escaped = url_escape(ctl, arg);
    char *path = xasprintf("/v2.0/%s/%s", res->collection, escaped);
    char *id = NULL;

    if (!*arg) {
        fatal("empty %s name or id", res->name);
    }
    http_do(ctl, "GET", path, NULL, &reply);
    if (reply.status == 200) {
        json_t *j = json_loadb(reply.body.data, reply.body.len, 0, NULL);
        const char *s = json_string_value(
            json_object_get(json_object_get(j, res_member(res)), "id"));
        if (s) {
            id = xstrdup(s);
        }
        json_decref(j);
    } else if (reply.status != 404 && reply.status != 400) {
        http_fail("GET", path, &reply);
    }
    free(reply.body.data);
    free(path);
    if (id) {
        free(escaped);
        return id;
    }

    /* Not an id: look it up by name.  The server filters, but check again
     * in case it does not know the filter. */
    path = xasprintf("/v2.0/%s?%s=%s", res->collection, res->name_field,
                     escaped);
    json_t *j = api(ctl, "GET", path, NULL, NULL);
    json_t *list = json_object_get(j, res_list_key(res));
    size_t n = 0, i;
    json_t *obj;
    json_array_foreach (list, i, obj) {
        const char *name = json_string_value(
            json_object_get(obj, res->name_field));
        const char *oid = json_string_value(json_object_get(obj, "id"));
        if (name && oid && !strcmp(name, arg)) {
            if (++n == 1) {
                id = xstrdup(oid);
            }
        }
    }
    json_decref(j);
    free(path);
    free(escaped);
    if (n == 0) {
        fatal("No %s found for %s", res->name, arg);
    } else if (n > 1) {
        fatal("More than one %s exists with the %s '%s'; use its id",
              res->name, res->name_field, arg);
    }
    return id;
}


/* ---------------------------------------------------------------------- */
/* Command-line options. */

/* The parsed arguments of one command. */
struct opts {
    const char *pos[8];
    size_t n_pos;
    struct {
        const char *name;
        const char *value;
    } v[64];
    size_t n;
};

/* Returns the last value of option 'name', or NULL if not given. */
static const char *
opt_get(const struct opts *o, const char *name)
{
    for (size_t i = o->n; i-- > 0;) {
        if (!strcmp(o->v[i].name, name)) {
            return o->v[i].value;
        }
    }
    return NULL;
}

/* Returns the value of the next occurrence of 'name' at or after '*ip'
 * and advances '*ip' past it, or returns NULL. */
static const char *
opt_next(const struct opts *o, const char *name, size_t *ip)
{
    for (; *ip < o->n; (*ip)++) {
        if (!strcmp(o->v[*ip].name, name)) {
            return o->v[(*ip)++].value;
        }
    }
    return NULL;
}

/* What a command does, for any resource. */
struct verb {
    const char *name;
    unsigned int attrs;         /* ON_* flag of the resource attributes it
                                 * takes as options, or 0 for none. */
    size_t min_pos, max_pos;
    void (*run)(struct ctl *, const struct resource *, const struct opts *);
};

struct command {
    const struct resource *res; /* NULL for a top-level command. */
    const struct verb *verb;
    const char *args;           /* Usage after the command words. */
    const char *summary;
};

static const struct command commands[];
static const size_t n_commands;

static void
print_command_usage(FILE *f, const struct command *c)
{
    fprintf(f, "  weftctl %s%s%s%s%s\n", c->res ? c->res->name : "",
            c->res ? " " : "", c->verb->name, *c->args ? " " : "",
            c->args);
    fprintf(f, "      %s\n", c->summary);
}

static void
usage(FILE *f, const char *resource)
{
    if (!resource) {
        fputs("weftctl: command-line client for Weft.\n"
              "\n"
              "usage: weftctl [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]\n"
              "\n"
              "Global options (anywhere on the line):\n"
              "  --url URL           controller URL (default $WEFT_URL, "
              "else " DEFAULT_URL ")\n"
              "  --agent-host NAME   agent control socket "
              CTL_DIR "/weft-agent.NAME.ctl\n"
              "  --socket PATH       agent control socket path\n"
              "  -f, --format table|json\n"
              "                      tables for people (default) or the "
              "raw JSON\n"
              "  -h, --help          this help; 'weftctl RESOURCE --help' "
              "for one resource\n"
              "\n"
              "Commands:\n", f);
    }
    for (size_t i = 0; i < n_commands; i++) {
        const struct command *c = &commands[i];
        if (!resource || (c->res && !strcmp(c->res->name, resource))
            || (!c->res && !strcmp(c->verb->name, resource))) {
            print_command_usage(f, c);
        }
    }
    if (!resource) {
        fputs("\nNames resolve to ids like openstackclient: an id, else a "
              "unique name.\n", f);
    }
}

/* Returns the attribute of command 'c' set by option 'name' of 'len'
 * bytes, or NULL if 'c' has no such option. */
static const struct attr *
find_option(const struct command *c, const char *name, size_t len)
{
    if (c->res && c->verb->attrs) {
        for (const struct attr *a = c->res->attrs; a->opt; a++) {
            if (a->flags & c->verb->attrs && strlen(a->opt) == len
                && !memcmp(a->opt, name, len)) {
                return a;
            }
        }
    }
    return NULL;
}

/* Parses the arguments after the command words against 'c'. */
static void
parse_opts(const struct command *c, int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] != '-' || !arg[2]) {
            if (o->n_pos >= ARRAY_SIZE(o->pos)) {
                fatal("too many arguments");
            }
            o->pos[o->n_pos++] = arg;
            continue;
        }

        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t) (eq - name) : strlen(name);
        const struct attr *a = find_option(c, name, len);
        if (!a) {
            fprintf(stderr, "weftctl: unknown option --%.*s; usage:\n",
                    (int) len, name);
            print_command_usage(stderr, c);
            exit(EXIT_FAILURE);
        }
        const char *value;
        if (a->type == ATTR_TRUE || a->type == ATTR_FALSE
            || a->type == ATTR_CLEAR) {
            if (eq) {
                fatal("--%s takes no value", a->opt);
            }
            value = "";
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            fatal("--%s needs a value", a->opt);
        }
        if (o->n >= ARRAY_SIZE(o->v)) {
            fatal("too many options");
        }
        o->v[o->n].name = a->opt;
        o->v[o->n].value = value;
        o->n++;
    }
    if (o->n_pos < c->verb->min_pos || o->n_pos > c->verb->max_pos) {
        fprintf(stderr, "weftctl: wrong number of arguments; usage:\n");
        print_command_usage(stderr, c);
        exit(EXIT_FAILURE);
    }
}

/* ---------------------------------------------------------------------- */
/* Resource commands, driven by the attribute tables. */

/* Returns 'value', or the id of the 'ref' it names if 'ref' is nonnull
 * (caller frees). */
static char *
value_or_id(struct ctl *ctl, const struct resource *ref, const char *value)
{
    return ref ? resolve(ctl, ref, value) : xstrdup(value);
}

static json_t *
json_string_or_id(struct ctl *ctl, const struct resource *ref,
                  const char *value)
{
    char *s = value_or_id(ctl, ref, value);
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* Parses 'text' ("k1=v1,k2=v2") for ATTR_PAIRS attribute 'a' into a new
 * object; dies on a malformed pair, an unknown key or, with ALL_KEYS, a
 * missing one. */
static json_t *
parse_pairs(struct ctl *ctl, const struct attr *a, const char *text)
{
    json_t *obj = json_object();
    char *copy = xstrdup(text);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) {
            fatal("--%s: expected KEY=VALUE, got \"%s\"", a->opt, tok);
        }
        *eq = '\0';
        const struct pair_key *k = a->keys;
        while (k->key && strcmp(k->key, tok)) {
            k++;
        }
        if (!k->key) {
            fatal("--%s: unknown key \"%s\" (use %s)", a->opt, tok, a->arg);
        }
        json_object_set_new(obj, k->field,
                            json_string_or_id(ctl, k->ref, eq + 1));
    }
    free(copy);
    for (const struct pair_key *k = a->keys; a->flags & ALL_KEYS && k->key;
         k++) {
        if (!json_object_get(obj, k->field)) {
            fatal("--%s needs %s", a->opt, a->arg);
        }
    }
    return obj;
}

/* Returns the value options 'o' give attribute 'a' (a new reference), or
 * NULL if they give none. */
static json_t *
attr_value(struct ctl *ctl, const struct attr *a, const struct opts *o)
{
    const char *s = opt_get(o, a->opt);

    switch (a->type) {
    case ATTR_STRING:
    case ATTR_REF:
        return s ? json_string_or_id(ctl, a->ref, s) : NULL;
    case ATTR_UP_DOWN:
        if (!s) {
            return NULL;
        } else if (!strcasecmp(s, "up")) {
            return json_true();
        } else if (!strcasecmp(s, "down")) {
            return json_false();
        }
        fatal("--%s must be up or down, not \"%s\"", a->opt, s);
    case ATTR_OR_NONE:
        return !s ? NULL : !strcmp(s, "none") ? json_null() : json_string(s);
    case ATTR_TRUE:
        return s ? json_true() : NULL;
    case ATTR_FALSE:
        return s ? json_false() : NULL;
    case ATTR_CLEAR:
        return s ? json_array() : NULL;
    case ATTR_INT: {
        char *end;
        long long n;

        if (!s) {
            return NULL;
        }
        errno = 0;
        n = strtoll(s, &end, 10);
        if (!*s || *end || errno) {
            fatal("--%s must be an integer, not \"%s\"", a->opt, s);
        }
        return json_integer(n);
    }
    case ATTR_IP_VERSION: {
        const char *cidr = opt_get(o, "cidr");
        return json_integer(s ? atoi(s) : cidr && strchr(cidr, ':') ? 6 : 4);
    }
    case ATTR_MEMBER:
        return s ? json_pack("{s:s}", a->member, s) : NULL;
    case ATTR_LIST:
    case ATTR_PAIRS: {
        json_t *list = NULL;
        size_t i = 0;
        while ((s = opt_next(o, a->opt, &i)) != NULL) {
            if (!list) {
                list = json_array();
            }
            json_array_append_new(list, a->type == ATTR_LIST
                                        ? json_string_or_id(ctl, a->ref, s)
                                        : parse_pairs(ctl, a, s));
        }
        return list;
    }
    }
    NOT_REACHED();
}

/* Adds to 'obj' the attributes of 'res' that options 'o' of 'verb'
 * (ON_CREATE or ON_UPDATE) set, in table order, and returns 'obj'. */
static json_t *
attrs_to_json(struct ctl *ctl, const struct resource *res,
              unsigned int verb, const struct opts *o, json_t *obj)
{
    for (const struct attr *a = res->attrs; a->opt; a++) {
        json_t *v = a->flags & verb ? attr_value(ctl, a, o) : NULL;
        if (v) {
            json_object_set_new(obj, a->field, v);
        }
    }
    return obj;
}

/* Prints the reply to a create, show or update. */
static void
print_reply(struct ctl *ctl, const struct resource *res, json_t *j,
            const char *raw)
{
    if (ctl->json) {
        puts(raw);
    } else {
        json_t *obj = json_object_get(j, res_member(res));
        if (!json_is_object(obj)) {
            fatal("reply has no \"%s\" object", res_member(res));
        }
        print_object(obj);
    }
}

/* Sends 'method' to 'path' with the body { member: obj }, or none if
 * 'obj' is NULL, and prints the resource in the reply. */
static void
send_and_print(struct ctl *ctl, const struct resource *res,
               const char *method, const char *path, json_t *obj)
{
    json_t *body = obj ? json_pack("{s:o}", res_member(res), obj) : NULL;
    char *raw;
    json_t *j = api(ctl, method, path, body, &raw);
    print_reply(ctl, res, j, raw);
    json_decref(body);
    json_decref(j);
    free(raw);
}

/* Returns the path of the 'res' named or identified by 'arg' (caller
 * frees). */
static char *
object_path(struct ctl *ctl, const struct resource *res, const char *arg)
{
    char *id = resolve(ctl, res, arg);
    char *path = xasprintf("/v2.0/%s/%s", res->collection, id);
    free(id);
    return path;
}

/* Dies with "<res> <verb> needs --a A <joiner> --b B", naming the
 * attributes of 'res' that have 'flag'. */
static void NORETURN
fatal_needs(const struct resource *res, const char *verb, unsigned int flag,
            const char *joiner)
{
    struct buf needs = { 0 };

    for (const struct attr *a = res->attrs; a->opt; a++) {
        if (a->flags & flag) {
            buf_printf(&needs, "%s--%s %s", needs.len ? joiner : "",
                       a->opt, a->arg);
        }
    }
    fatal("%s %s needs %s", res->name, verb, needs.data);
}

static void
cmd_create(struct ctl *ctl, const struct resource *res,
           const struct opts *o)
{
    for (const struct attr *a = res->attrs; a->opt; a++) {
        if (a->flags & REQUIRED && !opt_get(o, a->opt)) {
            fatal_needs(res, "create", REQUIRED, " and ");
        }
    }

    json_t *obj = json_object();
    json_object_set_new(obj, res->create_field ? res->create_field : "name",
                        json_string_or_id(ctl, res->create_ref, o->pos[0]));
    attrs_to_json(ctl, res, ON_CREATE, o, obj);
    char *path = xasprintf("/v2.0/%s", res->collection);
    send_and_print(ctl, res, "POST", path, obj);
    free(path);
}

static void
cmd_update(struct ctl *ctl, const struct resource *res,
           const struct opts *o)
{
    json_t *obj = attrs_to_json(ctl, res, ON_UPDATE, o, json_object());
    if (!json_object_size(obj)) {
        json_decref(obj);
        fatal("nothing to update (see 'weftctl %s --help')", res->name);
    }
    char *path = object_path(ctl, res, o->pos[0]);
    send_and_print(ctl, res, "PUT", path, obj);
    free(path);
}

static void
cmd_show(struct ctl *ctl, const struct resource *res, const struct opts *o)
{
    char *path = object_path(ctl, res, o->pos[0]);
    send_and_print(ctl, res, "GET", path, NULL);
    free(path);
}

static void
cmd_delete(struct ctl *ctl, const struct resource *res,
           const struct opts *o)
{
    for (size_t i = 0; i < o->n_pos; i++) {
        char *path = object_path(ctl, res, o->pos[i]);
        json_decref(api(ctl, "DELETE", path, NULL, NULL));
        free(path);
    }
}

/* For command 'verb': PUTs the body made of the ON_ACTION options of 'o'
 * to member action 'action' of the 'res' that o->pos[0] names, and prints
 * the reply, which Neutron does not wrap ({"id": ROUTER, ...}). */
static void
member_action(struct ctl *ctl, const struct resource *res,
              const struct opts *o, const char *verb, const char *action)
{
    json_t *body = attrs_to_json(ctl, res, ON_ACTION, o, json_object());
    if (!json_object_size(body)) {
        fatal_needs(res, verb, ON_ACTION, " or ");
    }
    char *object = object_path(ctl, res, o->pos[0]);
    char *path = xasprintf("%s/%s", object, action);
    char *raw;
    json_t *j = api(ctl, "PUT", path, body, &raw);
    if (ctl->json) {
        puts(raw);
    } else if (json_is_object(j)) {
        print_object(j);
    } else {
        fatal("PUT %s: reply is not an object", path);
    }
    json_decref(body);
    json_decref(j);
    free(raw);
    free(path);
    free(object);
}

static void
cmd_interface_add(struct ctl *ctl, const struct resource *res,
                  const struct opts *o)
{
    member_action(ctl, res, o, "interface-add", "add_router_interface");
}

static void
cmd_interface_remove(struct ctl *ctl, const struct resource *res,
                     const struct opts *o)
{
    member_action(ctl, res, o, "interface-remove",
                  "remove_router_interface");
}

/* Lists 'res', filtered by its ON_LIST options. */
static void
cmd_list(struct ctl *ctl, const struct resource *res, const struct opts *o)
{
    struct buf path = { 0 };
    buf_printf(&path, "/v2.0/%s", res->collection);
    char sep = '?';
    for (const struct attr *a = res->attrs; a->opt; a++) {
        const char *value = opt_get(o, a->opt);
        if (a->flags & ON_LIST && value) {
            char *id = value_or_id(ctl, a->ref, value);
            char *escaped = url_escape(ctl, id);
            buf_printf(&path, "%c%s=%s", sep, a->field, escaped);
            sep = '&';
            free(escaped);
            free(id);
        }
    }

    char *raw;
    json_t *j = api(ctl, "GET", path.data, NULL, &raw);
    if (ctl->json) {
        puts(raw);
    } else {
        json_t *list = json_object_get(j, res_list_key(res));
        if (!json_is_array(list)) {
            fatal("reply has no \"%s\" list", res_list_key(res));
        }
        print_rows(res->columns, list);
    }
    json_decref(j);
    free(raw);
    free(path.data);
}

/* ---------------------------------------------------------------------- */
/* Agent control socket. */

/* Returns the control socket path to use (caller frees). */
static char *
ctl_socket_path(const struct ctl *ctl)
{
    if (ctl->socket) {
        return xstrdup(ctl->socket);
    }
    if (ctl->agent_host) {
        return xasprintf(CTL_DIR "/weft-agent.%s.ctl", ctl->agent_host);
    }

    /* With exactly one agent on this machine, use it. */
    glob_t g;
    char *path = NULL;
    if (!glob(CTL_DIR "/weft-agent.*.ctl", 0, NULL, &g)) {
        if (g.gl_pathc == 1) {
            path = xstrdup(g.gl_pathv[0]);
        }
    }
    globfree(&g);
    if (!path) {
        fatal("which agent? use --agent-host NAME or --socket PATH");
    }
    return path;
}

/* Sends 'command' to the agent control socket and returns its parsed JSON
 * reply (caller frees), storing the raw text in '*rawp' (caller frees). */
static json_t *
ctl_call(const struct ctl *ctl, const char *command, char **rawp)
{
    char *path = ctl_socket_path(ctl);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    if (strlen(path) >= sizeof sun.sun_path) {
        fatal("socket path too long: %s", path);
    }
    str_copy(sun.sun_path, path, sizeof sun.sun_path);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fatal("socket: %s", strerror(errno));
    }
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *) &sun, sizeof sun) < 0) {
        fatal("cannot connect to agent socket %s: %s", path, strerror(errno));
    }

    char *line = xasprintf("%s\n", command);
    size_t len = strlen(line), done = 0;
    while (done < len) {
        ssize_t n = send(fd, line + done, len - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fatal("%s: write: %s", path, strerror(errno));
        }
        done += n;
    }
    free(line);
    shutdown(fd, SHUT_WR);

    struct buf b = { 0 };
    for (;;) {
        char chunk[65536];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fatal("%s: read: %s", path,
                  errno == EAGAIN ? "timed out" : strerror(errno));
        }
        if (n == 0) {
            break;
        }
        if (b.len + n > MAX_REPLY) {
            fatal("%s: reply too long", path);
        }
        buf_put(&b, chunk, n);
    }
    close(fd);

    json_error_t err;
    json_t *j = json_loadb(b.data ? b.data : "", b.len, 0, &err);
    if (!j) {
        fatal("%s: reply to \"%s\" is not JSON: %s", path, command,
              err.text);
    }
    const char *error = json_string_value(json_object_get(j, "error"));
    if (error) {
        fatal("agent (%s): %s", path, error);
    }
    free(path);
    *rawp = buf_steal(&b);
    return j;
}


/* Sends 'command' to the agent control socket and prints the reply: raw
 * with -f json, else with 'print'. */
static void
ctl_command(struct ctl *ctl, const char *command,
            void (*print)(const json_t *))
{
    char *raw;
    json_t *j = ctl_call(ctl, command, &raw);

    if (ctl->json) {
        puts(raw);
    } else {
        print(j);
    }
    json_decref(j);
    free(raw);
}

static void
print_flows(const json_t *j)
{
    static const struct column columns[] = {
        { "Packets", "packets" }, { "Bytes", "bytes" },
        { "Idle ms", "idle_ms" }, { "Kernel", "kernel" },
        { "Match", "match" }, { "Actions", "actions" }, { NULL, NULL },
    };
    const json_t *flows = json_object_get(j, "flows");

    print_rows(columns, flows);
    printf("%zu flows\n", json_array_size(flows));
}

/* Prints the members of 'obj' as a two-column table headed 'title'. */
static void
print_counter_object(const char *title, const json_t *obj)
{
    struct table t;
    char *row[2];
    const char *key;
    json_t *v;

    table_init(&t, 2);
    row[0] = xstrdup(title);
    row[1] = xstrdup("Count");
    table_add_row(&t, row);
    json_object_foreach ((json_t *) obj, key, v) {
        row[0] = xstrdup(key);
        row[1] = format_value(v);
        table_add_row(&t, row);
    }
    table_print(&t);
}

static void
print_counters(const json_t *j)
{
    static const struct column columns[] = {
        { "Port", "port_no" }, { "Name", "name" }, { "Port ID", "port_id" },
        { "RX packets", "rx_packets" }, { "RX bytes", "rx_bytes" },
        { "TX packets", "tx_packets" }, { "TX bytes", "tx_bytes" },
        { "TX errors", "tx_errors" }, { NULL, NULL },
    };

    print_rows(columns, json_object_get(j, "ports"));
    print_counter_object("Datapath", json_object_get(j, "datapath"));
    if (json_object_get(j, "fastpath")) {
        print_counter_object("Kernel fast path",
                             json_object_get(j, "fastpath"));
    }

    /* Only the reasons that happened: the list is long. */
    json_t *drops = json_object();
    const char *key;
    json_t *v;
    json_object_foreach (json_object_get(j, "drops"), key, v) {
        if (!json_is_integer(v) || json_integer_value(v)) {
            json_object_set(drops, key, v);
        }
    }
    if (json_object_size(drops)) {
        struct table t;
        char *row[3];

        table_init(&t, 3);
        row[0] = xstrdup("Drop reason");
        row[1] = xstrdup("Count");
        row[2] = xstrdup("Meaning");
        table_add_row(&t, row);
        json_object_foreach (drops, key, v) {
            enum drop_reason r = drop_reason_from_name(key);

            row[0] = xstrdup(key);
            row[1] = format_value(v);
            row[2] = xstrdup(r != DROP_NONE ? drop_reason_desc(r) : "");
            table_add_row(&t, row);
        }
        table_print(&t);
    } else {
        puts("No drops.");
    }
    json_decref(drops);
}

static void
print_flushed(const json_t *j)
{
    printf("flushed %lld flows\n",
           (long long) json_integer_value(json_object_get(j, "flushed")));
}

static void
cmd_flows(struct ctl *ctl, const struct resource *res, const struct opts *o)
{
    ctl_command(ctl, "flows", print_flows);
}

static void
cmd_counters(struct ctl *ctl, const struct resource *res,
             const struct opts *o)
{
    ctl_command(ctl, "counters", print_counters);
}

static void
cmd_agent_status(struct ctl *ctl, const struct resource *res,
                 const struct opts *o)
{
    ctl_command(ctl, "status", print_object);
}

static void
cmd_flush(struct ctl *ctl, const struct resource *res, const struct opts *o)
{
    ctl_command(ctl, "flush", print_flushed);
}

static void
print_conntrack(const json_t *j)
{
    static const struct column columns[] = {
        { "Zone", "zone" }, { "Proto", "protocol" }, { "Source", "src" },
        { "Sport", "sport" }, { "Destination", "dst" },
        { "Dport", "dport" }, { "State", "state" },
        { "Replied", "replied" }, { "Expires ms", "expires_ms" },
        { NULL, NULL },
    };
    const json_t *conns = json_object_get(j, "connections");

    print_rows(columns, conns);
    printf("%lld connections%s\n",
           (long long) json_integer_value(json_object_get(j, "total")),
           json_is_true(json_object_get(j, "truncated"))
           ? " (not all listed)" : "");
}

static void
print_ct_flushed(const json_t *j)
{
    printf("flushed %lld connections\n",
           (long long) json_integer_value(json_object_get(j, "flushed")));
}

static void
cmd_conntrack(struct ctl *ctl, const struct resource *res,
              const struct opts *o)
{
    ctl_command(ctl, "conntrack", print_conntrack);
}

/* Forgets the connections of one zone (a datapath port number, as
 * `conntrack` shows) or, without one, of all. */
static void
cmd_conntrack_flush(struct ctl *ctl, const struct resource *res,
                    const struct opts *o)
{
    char *command = (o->n_pos
                     ? xasprintf("conntrack-flush %s", o->pos[0])
                     : xstrdup("conntrack-flush"));

    ctl_command(ctl, command, print_ct_flushed);
    free(command);
}

static void
print_routes(const json_t *j)
{
    static const struct column columns[] = {
        { "Destination", "destination" }, { "Type", "type" },
        { "Nexthop", "nexthop" }, { "Interface IP", "interface_ip" },
        { "Port ID", "port_id" }, { NULL, NULL },
    };

    print_rows(columns, json_object_get(j, "routes"));
}

/* An agent's routing table for one router: a router id goes straight to
 * the agent; a name is resolved through the controller first. */
static void
cmd_router_routes(struct ctl *ctl, const struct resource *res,
                  const struct opts *o)
{
    char *id = (str_is_uuid(o->pos[0]) ? xstrdup(o->pos[0])
                : resolve(ctl, &res_router, o->pos[0]));
    char *command = xasprintf("routes %s", id);

    ctl_command(ctl, command, print_routes);
    free(command);
    free(id);
}

static void
cmd_help(struct ctl *ctl, const struct resource *res, const struct opts *o)
{
    usage(stdout, o->n_pos ? o->pos[0] : NULL);
}

/* ---------------------------------------------------------------------- */
/* The command table. */

#define MANY 8

static const struct verb verb_create = { "create", ON_CREATE, 1, 1,
                                         cmd_create };
static const struct verb verb_list = { "list", ON_LIST, 0, 0, cmd_list };
static const struct verb verb_show = { "show", 0, 1, 1, cmd_show };
static const struct verb verb_update = { "update", ON_UPDATE, 1, 1,
                                         cmd_update };
static const struct verb verb_delete = { "delete", 0, 1, MANY, cmd_delete };
static const struct verb verb_interface_add = { "interface-add", ON_ACTION,
                                                1, 1, cmd_interface_add };
static const struct verb verb_interface_remove = {
    "interface-remove", ON_ACTION, 1, 1, cmd_interface_remove,
};
static const struct verb verb_flows = { "flows", 0, 0, 0, cmd_flows };
static const struct verb verb_counters = { "counters", 0, 0, 0,
                                           cmd_counters };
static const struct verb verb_agent_status = { "agent-status", 0, 0, 0,
                                               cmd_agent_status };
static const struct verb verb_flush = { "flush", 0, 0, 0, cmd_flush };
static const struct verb verb_router_routes = { "router-routes", 0, 1, 1,
                                                cmd_router_routes };
static const struct verb verb_conntrack = { "conntrack", 0, 0, 0,
                                            cmd_conntrack };
static const struct verb verb_conntrack_flush = { "conntrack-flush", 0, 0, 1,
                                                  cmd_conntrack_flush };
static const struct verb verb_help = { "help", 0, 0, 1, cmd_help };

/* The usage lines list the options of each resource's attribute table
 * (laid out by hand for help). */
static const struct command commands[] = {
    { &res_network, &verb_create,
      "NAME [--project P] [--admin-state up|down]\n"
      "        [--enable-port-security|--disable-port-security]",
      "Create a network (its ports' default port security)." },
    { &res_network, &verb_list, "[--project P]", "List networks." },
    { &res_network, &verb_show, "ID|NAME", "Show one network." },
    { &res_network, &verb_update,
      "ID|NAME [--name N] [--admin-state up|down]\n"
      "        [--enable-port-security|--disable-port-security]",
      "Change a network." },
    { &res_network, &verb_delete, "ID|NAME...", "Delete networks." },

    { &res_subnet, &verb_create,
      "NAME --network NET --cidr CIDR [--gateway IP|none]\n"
      "        [--no-dhcp] [--allocation-pool start=IP,end=IP]..."
      " [--dns IP]...\n        [--ip-version 4|6] [--project P]",
      "Create a subnet." },
    { &res_subnet, &verb_list, "[--network NET]", "List subnets." },
    { &res_subnet, &verb_show, "ID|NAME", "Show one subnet." },
    { &res_subnet, &verb_update,
      "ID|NAME [--name N] [--gateway IP|none]\n"
      "        [--dhcp|--no-dhcp] [--allocation-pool start=IP,end=IP]..."
      "\n        [--dns IP]...",
      "Change a subnet (pools and DNS servers are replaced)." },
    { &res_subnet, &verb_delete, "ID|NAME...", "Delete subnets." },

    { &res_port, &verb_create,
      "NAME --network NET\n"
      "        [--fixed-ip subnet=SUBNET,ip-address=IP]... [--mac MAC]\n"
      "        [--host HOST] [--interface IFNAME] [--device-id ID]\n"
      "        [--device-owner OWNER] [--project P] [--admin-state up|down]\n"
      "        [--security-group GROUP]... [--no-security-group]\n"
      "        [--enable-port-security|--disable-port-security]\n"
      "        [--allowed-address ip-address=IP[,mac-address=MAC]]...",
      "Create a port (without --security-group: its project's default\n"
      "      group, if port security is on)." },
    { &res_port, &verb_list, "[--network NET] [--host HOST] [--device-id ID]",
      "List ports." },
    { &res_port, &verb_show, "ID|NAME", "Show one port." },
    { &res_port, &verb_update,
      "ID|NAME [--name N] [--host HOST] [--interface IFNAME]\n"
      "        [--admin-state up|down] [--device-id ID]"
      " [--device-owner OWNER]\n"
      "        [--security-group GROUP]... [--no-security-group]\n"
      "        [--enable-port-security|--disable-port-security]\n"
      "        [--allowed-address ip-address=IP[,mac-address=MAC]]..."
      " [--no-allowed-address]",
      "Change a port (--host binds it to that host's agent; the groups\n"
      "      and address pairs given replace the port's)." },
    { &res_port, &verb_delete, "ID|NAME...", "Delete ports." },

    { &res_security_group, &verb_create,
      "NAME [--description D] [--project P]",
      "Create a security group (it starts with no rules; every project\n"
      "      also has a group called default)." },
    { &res_security_group, &verb_list, "[--project P]",
      "List security groups." },
    { &res_security_group, &verb_show, "ID|NAME",
      "Show one security group with its rules." },
    { &res_security_group, &verb_update, "ID|NAME [--name N] "
      "[--description D]", "Change a security group." },
    { &res_security_group, &verb_delete, "ID|NAME...",
      "Delete security groups (no port may use them) and their rules." },

    { &res_security_group_rule, &verb_create,
      "GROUP --direction ingress|egress\n"
      "        [--ethertype IPv4|IPv6] [--protocol NAME|NUMBER]\n"
      "        [--port-range-min N] [--port-range-max N]\n"
      "        [--remote-ip-prefix CIDR | --remote-group GROUP]\n"
      "        [--description D] [--project P]",
      "Add a rule to a security group (ICMP: the port range is type and\n"
      "      code)." },
    { &res_security_group_rule, &verb_list,
      "[--group GROUP] [--direction D]\n"
      "        [--ethertype E] [--protocol P]",
      "List security group rules." },
    { &res_security_group_rule, &verb_show, "ID",
      "Show one security group rule." },
    { &res_security_group_rule, &verb_delete, "ID...",
      "Delete security group rules." },

    { &res_router, &verb_create, "NAME [--project P] [--admin-state up|down]",
      "Create a router (distributed: every agent routes for it)." },
    { &res_router, &verb_list, "[--project P]", "List routers." },
    { &res_router, &verb_show, "ID|NAME", "Show one router." },
    { &res_router, &verb_update,
      "ID|NAME [--name N] [--admin-state up|down]\n"
      "        [--route destination=CIDR,nexthop=IP]... [--no-route]",
      "Change a router (the routes given replace its static routes;\n"
      "      --no-route clears them; gateway= may stand for nexthop=)." },
    { &res_router, &verb_delete, "ID|NAME...",
      "Delete routers (their interfaces must be removed first)." },
    { &res_router, &verb_interface_add,
      "ID|NAME --subnet SUBNET | --port PORT",
      "Attach a subnet (the router takes its gateway IP) or an unused\n"
      "      port.  'weftctl port list --device-id ROUTER_ID' lists them." },
    { &res_router, &verb_interface_remove,
      "ID|NAME --subnet SUBNET | --port PORT",
      "Detach a subnet or port (its interface port is deleted)." },

    { &res_agent, &verb_list, "[--host HOST]",
      "List agents and whether they are alive." },
    { &res_agent, &verb_show, "ID|HOST", "Show one agent." },

    { NULL, &verb_flows, "[--agent-host NAME | --socket PATH]",
      "Show an agent's cached flows (control socket)." },
    { NULL, &verb_counters, "[--agent-host NAME | --socket PATH]",
      "Show an agent's port, datapath and drop counters." },
    { NULL, &verb_agent_status, "[--agent-host NAME | --socket PATH]",
      "Show an agent's sync status." },
    { NULL, &verb_flush, "[--agent-host NAME | --socket PATH]",
      "Drop every cached flow on an agent." },
    { NULL, &verb_router_routes,
      "ROUTER [--agent-host NAME | --socket PATH]",
      "Show a router's routing table as an agent computed it." },
    { NULL, &verb_conntrack, "[--agent-host NAME | --socket PATH]",
      "Show the connections an agent tracks (security groups)." },
    { NULL, &verb_conntrack_flush,
      "[ZONE] [--agent-host NAME | --socket PATH]",
      "Forget an agent's tracked connections (of one zone: a port)." },
    { NULL, &verb_help, "[RESOURCE]", "Show help." },
};
static const size_t n_commands = ARRAY_SIZE(commands);

/* ---------------------------------------------------------------------- */
/* main */

static bool
is_help(const char *arg)
{
    return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

/* Removes the global options from 'argv' (they may appear anywhere),
 * storing them in 'ctl'.  Returns the new argc.  Sets '*helpp' if -h or
 * --help was seen. */
static int
parse_global_options(struct ctl *ctl, int argc, char **argv, bool *helpp,
                     const char **urlp)
{
    int out = 1;

    *helpp = false;
    for (int i = 1; i < argc; i++) {
        static const char *const with_value[] = {
            "--url", "--socket", "--agent-host", "--format", "-f",
        };
        const char *arg = argv[i];
        const char *value = NULL;
        size_t which = SIZE_MAX;

        for (size_t k = 0; k < ARRAY_SIZE(with_value); k++) {
            size_t len = strlen(with_value[k]);
            if (!strcmp(arg, with_value[k])) {
                if (i + 1 >= argc) {
                    fatal("%s needs a value", arg);
                }
                value = argv[++i];
                which = k;
                break;
            } else if (!strncmp(arg, with_value[k], len)
                       && arg[len] == '=' && len > 2) {
                value = arg + len + 1;
                which = k;
                break;
            }
        }
        switch (which) {
        case 0:
            *urlp = value;
            break;
        case 1:
            ctl->socket = value;
            break;
        case 2:
            ctl->agent_host = value;
            break;
        case 3:
        case 4:
            if (!strcmp(value, "json")) {
                ctl->json = true;
            } else if (!strcmp(value, "table")) {
                ctl->json = false;
            } else {
                fatal("unknown format \"%s\" (use table or json)", value);
            }
            break;
        default:
            if (is_help(arg)) {
                *helpp = true;
            } else {
                argv[out++] = argv[i];
            }
            break;
        }
    }
    argv[out] = NULL;
    return out;
}

static const struct command *
find_command(const char *word1, const char *word2, int *n_wordsp)
{
    for (size_t i = 0; i < n_commands; i++) {
        const struct command *c = &commands[i];
        if (!c->res && !strcmp(c->verb->name, word1)) {
            *n_wordsp = 1;
            return c;
        }
        if (c->res && word2 && !strcmp(c->res->name, word1)
            && !strcmp(c->verb->name, word2)) {
            *n_wordsp = 2;
            return c;
        }
    }
    return NULL;
}

static bool
is_resource(const char *word)
{
    for (size_t i = 0; i < n_commands; i++) {
        if (commands[i].res && !strcmp(commands[i].res->name, word)) {
            return true;
        }
    }
    return false;
}

int
main(int argc, char **argv)
{
    struct ctl ctl = { .url = NULL };
    const char *url = getenv("WEFT_URL");
    bool help;

    argc = parse_global_options(&ctl, argc, argv, &help, &url);
    if (argc < 2) {
        usage(help ? stdout : stderr, NULL);
        return help ? EXIT_SUCCESS : EXIT_FAILURE;
    }

    int n_words = 0;
    const struct command *c = find_command(argv[1], argc > 2 ? argv[2]
                                                             : NULL,
                                           &n_words);
    if (!c) {
        if (is_resource(argv[1])) {
            bool ok = help || argc == 2;
            if (!ok) {
                fprintf(stderr, "weftctl: unknown command \"%s %s\"\n",
                        argv[1], argv[2]);
            }
            usage(ok ? stdout : stderr, argv[1]);
            return help ? EXIT_SUCCESS : EXIT_FAILURE;
        }
        fprintf(stderr, "weftctl: unknown command \"%s\" "
                "(try weftctl --help)\n", argv[1]);
        return EXIT_FAILURE;
    }
    if (help) {
        print_command_usage(stdout, c);
        return EXIT_SUCCESS;
    }

    struct opts opts;
    parse_opts(c, argc - 1 - n_words, argv + 1 + n_words, &opts);

    if (!url || !*url) {
        url = DEFAULT_URL;
    }
    ctl.url = xstrdup(url);
    size_t len = strlen(ctl.url);
    while (len > 0 && ctl.url[len - 1] == '/') {
        ctl.url[--len] = '\0';
    }
    if (len >= 5 && !strcmp(ctl.url + len - 5, "/v2.0")) {
        ctl.url[len - 5] = '\0';
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        fatal("cannot initialize libcurl");
    }
    ctl.curl = curl_easy_init();
    if (!ctl.curl) {
        fatal("cannot initialize libcurl");
    }

    c->verb->run(&ctl, c->res, &opts);

    curl_easy_cleanup(ctl.curl);
    curl_global_cleanup();
    free(ctl.url);
    return EXIT_SUCCESS;
}
