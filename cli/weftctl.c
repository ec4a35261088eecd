/*
 * weftctl.c -- the Weft command-line client.
 *
 *     weftctl [--url URL] [-f table|json] RESOURCE VERB [ARGS] [OPTIONS]
 *     weftctl [--agent-host NAME | --socket PATH] flows|counters|agent-status
 *
 * Resource commands speak the Neutron v2.0 API to the controller with
 * libcurl (URL from --url, else $WEFT_URL, else http://127.0.0.1:9696).
 * Operations commands read one JSON document from an agent's control
 * socket (docs/agent-protocol.md).  Output is an aligned table for people
 * or, with -f json, the server's JSON untouched for scripts.
 *
 * The command table 'commands' below is the single source of truth for
 * parsing, dispatch and help: each entry names its options, how many
 * positional arguments it takes and its usage line.
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
    for (size_t a = 1; a < n; a++) {
        for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
            const char *tmp = keys[b];
            keys[b] = keys[b - 1];
            keys[b - 1] = tmp;
        }
    }
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

struct resource {
    const char *name;           /* "network": the command word and the
                                 * JSON wrapper of one object. */
    const char *collection;     /* "networks". */
    const char *name_field;     /* Field that names it for resolution. */
    const struct column *columns;   /* For 'list', NULL-terminated. */
};

static const struct column network_columns[] = {
    { "ID", "id" }, { "Name", "name" }, { "Subnets", "subnets" },
    { "State", "admin_state_up" }, { "Status", "status" },
    { NULL, NULL },
};

static const struct column subnet_columns[] = {
    { "ID", "id" }, { "Name", "name" }, { "Network", "network_id" },
    { "Subnet", "cidr" }, { "Gateway", "gateway_ip" },
    { NULL, NULL },
};

static const struct column port_columns[] = {
    { "ID", "id" }, { "Name", "name" }, { "MAC Address", "mac_address" },
    { "Fixed IP Addresses", "fixed_ips" }, { "Host", "binding:host_id" },
    { "Status", "status" },
    { NULL, NULL },
};

static const struct column agent_columns[] = {
    { "ID", "id" }, { "Agent Type", "agent_type" }, { "Host", "host" },
    { "Alive", "alive" }, { "State", "admin_state_up" },
    { "Binary", "binary" },
    { NULL, NULL },
};

static const struct resource res_network = {
    "network", "networks", "name", network_columns,
};
static const struct resource res_subnet = {
    "subnet", "subnets", "name", subnet_columns,
};
static const struct resource res_port = {
    "port", "ports", "name", port_columns,
};
static const struct resource res_agent = {
    "agent", "agents", "host", agent_columns,
};

/* Prints the list 'objs' with the columns of 'res'. */
static void
print_list(const struct resource *res, const json_t *objs)
{
    const struct column *col;
    struct table t;
    size_t n_cols = 0;

    for (col = res->columns; col->title; col++) {
        n_cols++;
    }
    table_init(&t, n_cols);

    char **row = xcalloc(n_cols, sizeof *row);
    for (size_t c = 0; c < n_cols; c++) {
        row[c] = xstrdup(res->columns[c].title);
    }
    table_add_row(&t, row);

    size_t i;
    json_t *obj;
    json_array_foreach (objs, i, obj) {
        for (size_t c = 0; c < n_cols; c++) {
            const char *field = res->columns[c].field;
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
            json_object_get(json_object_get(j, res->name), "id"));
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
    json_t *list = json_object_get(j, res->collection);
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

enum opt_kind {
    OPT_ARG,                    /* --name VALUE (last one wins). */
    OPT_MULTI,                  /* --name VALUE, repeatable. */
    OPT_FLAG,                   /* --name. */
};

struct opt_def {
    const char *name;
    enum opt_kind kind;
};

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

struct command {
    const char *resource;       /* "network", or NULL for top-level. */
    const char *verb;
    const char *args;           /* Usage after the command words. */
    const char *summary;
    size_t min_pos, max_pos;
    const struct opt_def *opts; /* NULL-name-terminated. */
    void (*run)(struct ctl *, const struct opts *);
};

static const struct command commands[];
static const size_t n_commands;

static void
print_command_usage(FILE *f, const struct command *c)
{
    fprintf(f, "  weftctl %s%s%s%s%s\n", c->resource ? c->resource : "",
            c->resource ? " " : "", c->verb, *c->args ? " " : "", c->args);
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
        if (!resource || (c->resource && !strcmp(c->resource, resource))
            || (!c->resource && !strcmp(c->verb, resource))) {
            print_command_usage(f, c);
        }
    }
    if (!resource) {
        fputs("\nNames resolve to ids like openstackclient: an id, else a "
              "unique name.\n", f);
    }
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
        const struct opt_def *def = NULL;
        for (const struct opt_def *d = c->opts; d && d->name; d++) {
            if (strlen(d->name) == len && !memcmp(d->name, name, len)) {
                def = d;
                break;
            }
        }
        if (!def) {
            fprintf(stderr, "weftctl: unknown option --%.*s; usage:\n",
                    (int) len, name);
            print_command_usage(stderr, c);
            exit(EXIT_FAILURE);
        }
        const char *value;
        if (def->kind == OPT_FLAG) {
            if (eq) {
                fatal("--%s takes no value", def->name);
            }
            value = "";
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            fatal("--%s needs a value", def->name);
        }
        if (o->n >= ARRAY_SIZE(o->v)) {
            fatal("too many options");
        }
        o->v[o->n].name = def->name;
        o->v[o->n].value = value;
        o->n++;
    }
    if (o->n_pos < c->min_pos || o->n_pos > c->max_pos) {
        fprintf(stderr, "weftctl: wrong number of arguments; usage:\n");
        print_command_usage(stderr, c);
        exit(EXIT_FAILURE);
    }
}

/* ---------------------------------------------------------------------- */
/* Helpers shared by resource commands. */

static bool
parse_admin_state(const char *s)
{
    if (!strcasecmp(s, "up")) {
        return true;
    } else if (!strcasecmp(s, "down")) {
        return false;
    }
    fatal("--admin-state must be up or down, not \"%s\"", s);
}

/* Sets "admin_state_up" in 'obj' if --admin-state was given. */
static void
set_admin_state(json_t *obj, const struct opts *o)
{
    const char *s = opt_get(o, "admin-state");
    if (s) {
        json_object_set_new(obj, "admin_state_up",
                            json_boolean(parse_admin_state(s)));
    }
}

static void
set_string_opt(json_t *obj, const char *field, const struct opts *o,
               const char *opt)
{
    const char *s = opt_get(o, opt);
    if (s) {
        json_object_set_new(obj, field, json_string(s));
    }
}

/* Prints the reply to a create, show or update. */
static void
print_reply(struct ctl *ctl, const struct resource *res, json_t *j,
            const char *raw)
{
    if (ctl->json) {
        puts(raw);
    } else {
        json_t *obj = json_object_get(j, res->name);
        if (!json_is_object(obj)) {
            fatal("reply has no \"%s\" object", res->name);
        }
        print_object(obj);
    }
}

/* POSTs or PUTs { res->name: obj } and prints the result. */
static void
send_object(struct ctl *ctl, const struct resource *res, const char *method,
            const char *path, json_t *obj)
{
    json_t *body = json_pack("{s:o}", res->name, obj);
    char *raw;
    json_t *j = api(ctl, method, path, body, &raw);
    print_reply(ctl, res, j, raw);
    json_decref(body);
    json_decref(j);
    free(raw);
}

static void
do_create(struct ctl *ctl, const struct resource *res, json_t *obj)
{
    char *path = xasprintf("/v2.0/%s", res->collection);
    send_object(ctl, res, "POST", path, obj);
    free(path);
}

static void
do_update(struct ctl *ctl, const struct resource *res, const char *arg,
          json_t *obj)
{
    if (!json_object_size(obj)) {
        json_decref(obj);
        fatal("nothing to update (see 'weftctl %s --help')", res->name);
    }
    char *id = resolve(ctl, res, arg);
    char *path = xasprintf("/v2.0/%s/%s", res->collection, id);
    send_object(ctl, res, "PUT", path, obj);
    free(path);
    free(id);
}

static void
do_show(struct ctl *ctl, const struct resource *res, const char *arg)
{
    char *id = resolve(ctl, res, arg);
    char *path = xasprintf("/v2.0/%s/%s", res->collection, id);
    char *raw;
    json_t *j = api(ctl, "GET", path, NULL, &raw);
    print_reply(ctl, res, j, raw);
    json_decref(j);
    free(raw);
    free(path);
    free(id);
}

static void
do_delete(struct ctl *ctl, const struct resource *res, const char *arg)
{
    char *id = resolve(ctl, res, arg);
    char *path = xasprintf("/v2.0/%s/%s", res->collection, id);
    json_decref(api(ctl, "DELETE", path, NULL, NULL));
    free(path);
    free(id);
}

/* Lists 'res', with 'query' ("" or "?a=b&c=d") appended to the path. */
static void
do_list(struct ctl *ctl, const struct resource *res, const char *query)
{
    char *path = xasprintf("/v2.0/%s%s", res->collection, query);
    char *raw;
    json_t *j = api(ctl, "GET", path, NULL, &raw);
    if (ctl->json) {
        puts(raw);
    } else {
        json_t *list = json_object_get(j, res->collection);
        if (!json_is_array(list)) {
            fatal("reply has no \"%s\" list", res->collection);
        }
        print_list(res, list);
    }
    json_decref(j);
    free(raw);
    free(path);
}

/* Appends "?key=value" or "&key=value" to 'query', resolving 'value' to an
 * id of 'res' if 'res' is nonnull. */
static void
add_filter(struct ctl *ctl, struct buf *query, const char *key,
           const struct resource *res, const char *value)
{
    char *id = res ? resolve(ctl, res, value) : xstrdup(value);
    char *escaped = url_escape(ctl, id);
    buf_printf(query, "%c%s=%s", query->len ? '&' : '?', key, escaped);
    free(escaped);
    free(id);
}

/* Splits "k1=v1,k2=v2" and calls 'fn' for each pair; dies on a malformed
 * pair.  'what' names the option for messages. */
static void
parse_pairs(const char *what, const char *text,
            void (*fn)(const char *key, const char *value, void *aux),
            void *aux)
{
    char *copy = xstrdup(text);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) {
            fatal("--%s: expected KEY=VALUE, got \"%s\"", what, tok);
        }
        *eq = '\0';
        fn(tok, eq + 1, aux);
    }
    free(copy);
}

/* ---------------------------------------------------------------------- */
/* network */

static void
cmd_network_create(struct ctl *ctl, const struct opts *o)
{
    json_t *obj = json_pack("{s:s}", "name", o->pos[0]);
    set_string_opt(obj, "project_id", o, "project");
    set_admin_state(obj, o);
    do_create(ctl, &res_network, obj);
}

static void
cmd_network_list(struct ctl *ctl, const struct opts *o)
{
    struct buf q = { 0 };
    if (opt_get(o, "project")) {
        add_filter(ctl, &q, "project_id", NULL, opt_get(o, "project"));
    }
    do_list(ctl, &res_network, q.data ? q.data : "");
    free(q.data);
}

static void
cmd_network_show(struct ctl *ctl, const struct opts *o)
{
    do_show(ctl, &res_network, o->pos[0]);
}

static void
cmd_network_update(struct ctl *ctl, const struct opts *o)
{
    json_t *obj = json_object();
    set_string_opt(obj, "name", o, "name");
    set_admin_state(obj, o);
    do_update(ctl, &res_network, o->pos[0], obj);
}

static void
cmd_network_delete(struct ctl *ctl, const struct opts *o)
{
    for (size_t i = 0; i < o->n_pos; i++) {
        do_delete(ctl, &res_network, o->pos[i]);
    }
}

/* ---------------------------------------------------------------------- */
/* subnet */

static void
pool_pair(const char *key, const char *value, void *pool_)
{
    json_t *pool = pool_;
    if (strcmp(key, "start") && strcmp(key, "end")) {
        fatal("--allocation-pool: unknown key \"%s\" (use start=IP,end=IP)",
              key);
    }
    json_object_set_new(pool, key, json_string(value));
}

/* Sets the subnet fields that create and update share. */
static void
subnet_common(json_t *obj, const struct opts *o)
{
    const char *gw = opt_get(o, "gateway");
    if (gw) {
        json_object_set_new(obj, "gateway_ip",
                            !strcmp(gw, "none") ? json_null()
                                                : json_string(gw));
    }
    if (opt_get(o, "no-dhcp")) {
        json_object_set_new(obj, "enable_dhcp", json_false());
    } else if (opt_get(o, "dhcp")) {
        json_object_set_new(obj, "enable_dhcp", json_true());
    }

    size_t i = 0;
    const char *s;
    json_t *pools = NULL;
    while ((s = opt_next(o, "allocation-pool", &i)) != NULL) {
        json_t *pool = json_object();
        parse_pairs("allocation-pool", s, pool_pair, pool);
        if (!json_object_get(pool, "start") || !json_object_get(pool, "end")) {
            fatal("--allocation-pool needs start=IP,end=IP");
        }
        if (!pools) {
            pools = json_array();
        }
        json_array_append_new(pools, pool);
    }
    if (pools) {
        json_object_set_new(obj, "allocation_pools", pools);
    }

    i = 0;
    json_t *dns = NULL;
    while ((s = opt_next(o, "dns", &i)) != NULL) {
        if (!dns) {
            dns = json_array();
        }
        json_array_append_new(dns, json_string(s));
    }
    if (dns) {
        json_object_set_new(obj, "dns_nameservers", dns);
    }
}

static void
cmd_subnet_create(struct ctl *ctl, const struct opts *o)
{
    const char *cidr = opt_get(o, "cidr");
    const char *net = opt_get(o, "network");
    if (!net || !cidr) {
        fatal("subnet create needs --network NET and --cidr CIDR");
    }
    char *net_id = resolve(ctl, &res_network, net);
    int version = strchr(cidr, ':') ? 6 : 4;
    const char *v = opt_get(o, "ip-version");
    if (v) {
        version = atoi(v);
    }
    json_t *obj = json_pack("{s:s, s:s, s:s, s:i}", "name", o->pos[0],
                            "network_id", net_id, "cidr", cidr,
                            "ip_version", version);
    free(net_id);
    set_string_opt(obj, "project_id", o, "project");
    subnet_common(obj, o);
    do_create(ctl, &res_subnet, obj);
}

static void
cmd_subnet_list(struct ctl *ctl, const struct opts *o)
{
    struct buf q = { 0 };
    if (opt_get(o, "network")) {
        add_filter(ctl, &q, "network_id", &res_network,
                   opt_get(o, "network"));
    }
    do_list(ctl, &res_subnet, q.data ? q.data : "");
    free(q.data);
}

static void
cmd_subnet_show(struct ctl *ctl, const struct opts *o)
{
    do_show(ctl, &res_subnet, o->pos[0]);
}

static void
cmd_subnet_update(struct ctl *ctl, const struct opts *o)
{
    json_t *obj = json_object();
    set_string_opt(obj, "name", o, "name");
    subnet_common(obj, o);
    do_update(ctl, &res_subnet, o->pos[0], obj);
}

static void
cmd_subnet_delete(struct ctl *ctl, const struct opts *o)
{
    for (size_t i = 0; i < o->n_pos; i++) {
        do_delete(ctl, &res_subnet, o->pos[i]);
    }
}

/* ---------------------------------------------------------------------- */
/* port */

struct fixed_ip_ctx {
    struct ctl *ctl;
    json_t *obj;
};

static void
fixed_ip_pair(const char *key, const char *value, void *ctx_)
{
    struct fixed_ip_ctx *ctx = ctx_;
    if (!strcmp(key, "subnet")) {
        char *id = resolve(ctx->ctl, &res_subnet, value);
        json_object_set_new(ctx->obj, "subnet_id", json_string(id));
        free(id);
    } else if (!strcmp(key, "ip-address")) {
        json_object_set_new(ctx->obj, "ip_address", json_string(value));
    } else {
        fatal("--fixed-ip: unknown key \"%s\" "
              "(use subnet=SUBNET,ip-address=IP)", key);
    }
}

/* Sets the port fields that create and update share. */
static void
port_common(json_t *obj, const struct opts *o)
{
    set_string_opt(obj, "binding:host_id", o, "host");
    const char *ifname = opt_get(o, "interface");
    if (ifname) {
        json_object_set_new(obj, "binding:profile",
                            json_pack("{s:s}", "interface_name", ifname));
    }
    set_string_opt(obj, "device_id", o, "device-id");
    set_string_opt(obj, "device_owner", o, "device-owner");
    set_admin_state(obj, o);
}

static void
cmd_port_create(struct ctl *ctl, const struct opts *o)
{
    const char *net = opt_get(o, "network");
    if (!net) {
        fatal("port create needs --network NET");
    }
    char *net_id = resolve(ctl, &res_network, net);
    json_t *obj = json_pack("{s:s, s:s}", "name", o->pos[0],
                            "network_id", net_id);
    free(net_id);
    set_string_opt(obj, "mac_address", o, "mac");
    set_string_opt(obj, "project_id", o, "project");
    port_common(obj, o);

    size_t i = 0;
    const char *s;
    json_t *ips = NULL;
    while ((s = opt_next(o, "fixed-ip", &i)) != NULL) {
        struct fixed_ip_ctx ctx = { ctl, json_object() };
        parse_pairs("fixed-ip", s, fixed_ip_pair, &ctx);
        if (!ips) {
            ips = json_array();
        }
        json_array_append_new(ips, ctx.obj);
    }
    if (ips) {
        json_object_set_new(obj, "fixed_ips", ips);
    }
    do_create(ctl, &res_port, obj);
}

static void
cmd_port_list(struct ctl *ctl, const struct opts *o)
{
    struct buf q = { 0 };
    if (opt_get(o, "network")) {
        add_filter(ctl, &q, "network_id", &res_network,
                   opt_get(o, "network"));
    }
    if (opt_get(o, "host")) {
        add_filter(ctl, &q, "binding:host_id", NULL, opt_get(o, "host"));
    }
    if (opt_get(o, "device-id")) {
        add_filter(ctl, &q, "device_id", NULL, opt_get(o, "device-id"));
    }
    do_list(ctl, &res_port, q.data ? q.data : "");
    free(q.data);
}

static void
cmd_port_show(struct ctl *ctl, const struct opts *o)
{
    do_show(ctl, &res_port, o->pos[0]);
}

static void
cmd_port_update(struct ctl *ctl, const struct opts *o)
{
    json_t *obj = json_object();
    set_string_opt(obj, "name", o, "name");
    port_common(obj, o);
    do_update(ctl, &res_port, o->pos[0], obj);
}

static void
cmd_port_delete(struct ctl *ctl, const struct opts *o)
{
    for (size_t i = 0; i < o->n_pos; i++) {
        do_delete(ctl, &res_port, o->pos[i]);
    }
}

/* ---------------------------------------------------------------------- */
/* agent */

static void
cmd_agent_list(struct ctl *ctl, const struct opts *o)
{
    struct buf q = { 0 };
    if (opt_get(o, "host")) {
        add_filter(ctl, &q, "host", NULL, opt_get(o, "host"));
    }
    do_list(ctl, &res_agent, q.data ? q.data : "");
    free(q.data);
}

static void
cmd_agent_show(struct ctl *ctl, const struct opts *o)
{
    do_show(ctl, &res_agent, o->pos[0]);
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

/* Formats an integer member of 'obj' (caller frees). */
static char *
fmt_int(const json_t *obj, const char *key)
{
    return format_value(json_object_get(obj, key));
}

static void
cmd_flows(struct ctl *ctl, const struct opts *o)
{
    char *raw;
    json_t *j = ctl_call(ctl, "flows", &raw);

    if (ctl->json) {
        puts(raw);
    } else {
        static const char *const heads[] = {
            "Packets", "Bytes", "Idle ms", "Match", "Actions",
        };
        struct table t;
        char *row[ARRAY_SIZE(heads)];

        table_init(&t, ARRAY_SIZE(heads));
        for (size_t c = 0; c < ARRAY_SIZE(heads); c++) {
            row[c] = xstrdup(heads[c]);
        }
        table_add_row(&t, row);

        size_t i;
        json_t *f;
        json_array_foreach (json_object_get(j, "flows"), i, f) {
            row[0] = fmt_int(f, "packets");
            row[1] = fmt_int(f, "bytes");
            row[2] = fmt_int(f, "idle_ms");
            row[3] = fmt_int(f, "match");
            row[4] = fmt_int(f, "actions");
            table_add_row(&t, row);
        }
        table_print(&t);
        printf("%zu flows\n", json_array_size(json_object_get(j, "flows")));
    }
    json_decref(j);
    free(raw);
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
cmd_counters(struct ctl *ctl, const struct opts *o)
{
    char *raw;
    json_t *j = ctl_call(ctl, "counters", &raw);

    if (ctl->json) {
        puts(raw);
    } else {
        static const char *const fields[] = {
            "port_no", "name", "port_id", "rx_packets", "rx_bytes",
            "tx_packets", "tx_bytes", "tx_errors",
        };
        static const char *const heads[] = {
            "Port", "Name", "Port ID", "RX packets", "RX bytes",
            "TX packets", "TX bytes", "TX errors",
        };
        BUILD_ASSERT(ARRAY_SIZE(fields) == ARRAY_SIZE(heads));
        struct table t;
        char *row[ARRAY_SIZE(heads)];

        table_init(&t, ARRAY_SIZE(heads));
        for (size_t c = 0; c < ARRAY_SIZE(heads); c++) {
            row[c] = xstrdup(heads[c]);
        }
        table_add_row(&t, row);
        size_t i;
        json_t *p;
        json_array_foreach (json_object_get(j, "ports"), i, p) {
            for (size_t c = 0; c < ARRAY_SIZE(fields); c++) {
                row[c] = fmt_int(p, fields[c]);
            }
            table_add_row(&t, row);
        }
        table_print(&t);
        print_counter_object("Datapath", json_object_get(j, "datapath"));

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
            print_counter_object("Drop reason", drops);
        } else {
            puts("No drops.");
        }
        json_decref(drops);
    }
    json_decref(j);
    free(raw);
}

static void
cmd_agent_status(struct ctl *ctl, const struct opts *o)
{
    char *raw;
    json_t *j = ctl_call(ctl, "status", &raw);

    if (ctl->json) {
        puts(raw);
    } else {
        print_object(j);
    }
    json_decref(j);
    free(raw);
}

static void
cmd_flush(struct ctl *ctl, const struct opts *o)
{
    char *raw;
    json_t *j = ctl_call(ctl, "flush", &raw);

    if (ctl->json) {
        puts(raw);
    } else {
        printf("flushed %lld flows\n", (long long) json_integer_value(
                   json_object_get(j, "flushed")));
    }
    json_decref(j);
    free(raw);
}

static void
cmd_help(struct ctl *ctl, const struct opts *o)
{
    usage(stdout, o->n_pos ? o->pos[0] : NULL);
}

/* ---------------------------------------------------------------------- */
/* The command table. */

static const struct opt_def network_create_opts[] = {
    { "project", OPT_ARG }, { "admin-state", OPT_ARG }, { NULL, 0 },
};
static const struct opt_def network_list_opts[] = {
    { "project", OPT_ARG }, { NULL, 0 },
};
static const struct opt_def network_update_opts[] = {
    { "name", OPT_ARG }, { "admin-state", OPT_ARG }, { NULL, 0 },
};
static const struct opt_def subnet_create_opts[] = {
    { "network", OPT_ARG }, { "cidr", OPT_ARG }, { "gateway", OPT_ARG },
    { "no-dhcp", OPT_FLAG }, { "dhcp", OPT_FLAG },
    { "allocation-pool", OPT_MULTI }, { "dns", OPT_MULTI },
    { "ip-version", OPT_ARG }, { "project", OPT_ARG }, { NULL, 0 },
};
static const struct opt_def subnet_list_opts[] = {
    { "network", OPT_ARG }, { NULL, 0 },
};
static const struct opt_def subnet_update_opts[] = {
    { "name", OPT_ARG }, { "gateway", OPT_ARG }, { "no-dhcp", OPT_FLAG },
    { "dhcp", OPT_FLAG }, { "allocation-pool", OPT_MULTI },
    { "dns", OPT_MULTI }, { NULL, 0 },
};
static const struct opt_def port_create_opts[] = {
    { "network", OPT_ARG }, { "fixed-ip", OPT_MULTI }, { "mac", OPT_ARG },
    { "host", OPT_ARG }, { "interface", OPT_ARG }, { "device-id", OPT_ARG },
    { "device-owner", OPT_ARG }, { "project", OPT_ARG },
    { "admin-state", OPT_ARG }, { NULL, 0 },
};
static const struct opt_def port_list_opts[] = {
    { "network", OPT_ARG }, { "host", OPT_ARG }, { "device-id", OPT_ARG },
    { NULL, 0 },
};
static const struct opt_def port_update_opts[] = {
    { "name", OPT_ARG }, { "host", OPT_ARG }, { "interface", OPT_ARG },
    { "admin-state", OPT_ARG }, { "device-id", OPT_ARG },
    { "device-owner", OPT_ARG }, { NULL, 0 },
};
static const struct opt_def agent_list_opts[] = {
    { "host", OPT_ARG }, { NULL, 0 },
};

#define MANY 8

static const struct command commands[] = {
    { "network", "create", "NAME [--project P] [--admin-state up|down]",
      "Create a network.", 1, 1, network_create_opts, cmd_network_create },
    { "network", "list", "[--project P]",
      "List networks.", 0, 0, network_list_opts, cmd_network_list },
    { "network", "show", "ID|NAME",
      "Show one network.", 1, 1, NULL, cmd_network_show },
    { "network", "update", "ID|NAME [--name N] [--admin-state up|down]",
      "Change a network.", 1, 1, network_update_opts, cmd_network_update },
    { "network", "delete", "ID|NAME...",
      "Delete networks.", 1, MANY, NULL, cmd_network_delete },

    { "subnet", "create",
      "NAME --network NET --cidr CIDR [--gateway IP|none]\n"
      "        [--no-dhcp] [--allocation-pool start=IP,end=IP]..."
      " [--dns IP]...\n        [--ip-version 4|6] [--project P]",
      "Create a subnet.", 1, 1, subnet_create_opts, cmd_subnet_create },
    { "subnet", "list", "[--network NET]",
      "List subnets.", 0, 0, subnet_list_opts, cmd_subnet_list },
    { "subnet", "show", "ID|NAME",
      "Show one subnet.", 1, 1, NULL, cmd_subnet_show },
    { "subnet", "update",
      "ID|NAME [--name N] [--gateway IP|none]\n"
      "        [--dhcp|--no-dhcp] [--allocation-pool start=IP,end=IP]..."
      "\n        [--dns IP]...",
      "Change a subnet (pools and DNS servers are replaced).", 1, 1,
      subnet_update_opts, cmd_subnet_update },
    { "subnet", "delete", "ID|NAME...",
      "Delete subnets.", 1, MANY, NULL, cmd_subnet_delete },

    { "port", "create",
      "NAME --network NET\n"
      "        [--fixed-ip subnet=SUBNET,ip-address=IP]... [--mac MAC]\n"
      "        [--host HOST] [--interface IFNAME] [--device-id ID]\n"
      "        [--device-owner OWNER] [--project P] [--admin-state up|down]",
      "Create a port.", 1, 1, port_create_opts, cmd_port_create },
    { "port", "list", "[--network NET] [--host HOST] [--device-id ID]",
      "List ports.", 0, 0, port_list_opts, cmd_port_list },
    { "port", "show", "ID|NAME",
      "Show one port.", 1, 1, NULL, cmd_port_show },
    { "port", "update",
      "ID|NAME [--name N] [--host HOST] [--interface IFNAME]\n"
      "        [--admin-state up|down] [--device-id ID]"
      " [--device-owner OWNER]",
      "Change a port (--host binds it to that host's agent).", 1, 1,
      port_update_opts, cmd_port_update },
    { "port", "delete", "ID|NAME...",
      "Delete ports.", 1, MANY, NULL, cmd_port_delete },

    { "agent", "list", "[--host HOST]",
      "List agents and whether they are alive.", 0, 0, agent_list_opts,
      cmd_agent_list },
    { "agent", "show", "ID|HOST",
      "Show one agent.", 1, 1, NULL, cmd_agent_show },

    { NULL, "flows", "[--agent-host NAME | --socket PATH]",
      "Show an agent's cached flows (control socket).", 0, 0, NULL,
      cmd_flows },
    { NULL, "counters", "[--agent-host NAME | --socket PATH]",
      "Show an agent's port, datapath and drop counters.", 0, 0, NULL,
      cmd_counters },
    { NULL, "agent-status", "[--agent-host NAME | --socket PATH]",
      "Show an agent's sync status.", 0, 0, NULL, cmd_agent_status },
    { NULL, "flush", "[--agent-host NAME | --socket PATH]",
      "Drop every cached flow on an agent.", 0, 0, NULL, cmd_flush },
    { NULL, "help", "[RESOURCE]",
      "Show help.", 0, 1, NULL, cmd_help },
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
        if (!c->resource && !strcmp(c->verb, word1)) {
            *n_wordsp = 1;
            return c;
        }
        if (c->resource && word2 && !strcmp(c->resource, word1)
            && !strcmp(c->verb, word2)) {
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
        if (commands[i].resource && !strcmp(commands[i].resource, word)) {
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

    c->run(&ctl, &opts);

    curl_easy_cleanup(ctl.curl);
    curl_global_cleanup();
    free(ctl.url);
    return EXIT_SUCCESS;
}
