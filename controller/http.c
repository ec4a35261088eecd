/* http.c -- libmicrohttpd glue for the API (see http.h). */
#include "controller/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "controller/api.h"
#include "lib/log.h"
#include "lib/util.h"

struct http_server {
    struct MHD_Daemon *daemon;
    struct api *api;
    int port;
};

/* Per-request state, created by the URI log callback (the only place that
 * sees the raw request target). */
struct http_req {
    char *uri;
    char *body;
    size_t body_len;
    bool too_big;
    bool started;               /* Handler saw the headers already. */
};

static void *
uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_req *r = xzalloc(sizeof *r);

    r->uri = xstrdup(uri ? uri : "/");
    return r;
}

static void
request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                  enum MHD_RequestTerminationCode code)
{
    struct http_req *r = *con_cls;

    if (r) {
        free(r->uri);
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, int status, char *body)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (body) {
        resp = MHD_create_response_from_buffer(strlen(body), body,
                                               MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json; charset=UTF-8");
    } else {
        resp = MHD_create_response_from_buffer(0, (void *) "",
                                               MHD_RESPMEM_PERSISTENT);
    }
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload_data,
       size_t *upload_data_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct http_req *r = *con_cls;
    struct api_request req;
    char *reply = NULL, *path, *query;
    int status;

    if (!r) {
        return MHD_NO;
    }
    if (!r->started) {
        /* First call: headers only; the body (if any) follows. */
        r->started = true;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (!r->too_big && r->body_len + n > API_MAX_BODY) {
            r->too_big = true;
            free(r->body);
            r->body = NULL;
            r->body_len = 0;
        }
        if (!r->too_big) {
            r->body = xrealloc(r->body, r->body_len + n + 1);
            memcpy(r->body + r->body_len, upload_data, n);
            r->body_len += n;
            r->body[r->body_len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_big) {
        return send_reply(conn, 413, xasprintf(
                              "{\"NeutronError\": {\"type\": "
                              "\"HTTPRequestEntityTooLarge\", \"message\": "
                              "\"Request body larger than %d bytes.\", "
                              "\"detail\": \"\"}}", API_MAX_BODY));
    }

    path = xstrdup(r->uri);
    query = strchr(path, '?');
    if (query) {
        *query++ = '\0';
    }
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = path;
    req.query = query;
    req.body = r->body;
    req.body_len = r->body_len;
    req.host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    req.project_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 "X-Project-Id");
    status = api_handle_request(srv->api, &req, &reply);
    VLOG_DBG("%s %s%s%s -> %d", method, path, query ? "?" : "",
             query ? query : "", status);
    free(path);
    return send_reply(conn, status, reply);
}

/* Parses "ADDR:PORT" or "[ADDR]:PORT" into 'ss'. */
static bool
parse_listen(const char *s, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon, *h;
    size_t hlen;
    char *end;
    long port;

    memset(ss, 0, sizeof *ss);
    colon = strrchr(s, ':');
    if (!colon) {
        return false;
    }
    h = s;
    hlen = colon - s;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen >= sizeof host) {
        return false;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || port < 0 || port > 65535) {
        return false;
    }
    struct sockaddr_in *sin = (struct sockaddr_in *) ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        return true;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        return true;
    }
    return false;
}

struct http_server *
http_start(struct api *api, const char *listen, char **errp)
{
    struct sockaddr_storage ss;
    struct http_server *srv;
    unsigned int flags;
    const union MHD_DaemonInfo *info;

    if (errp) {
        *errp = NULL;
    }
    if (!parse_listen(listen, &ss)) {
        if (errp) {
            *errp = xasprintf("%s: invalid listen address (want ADDR:PORT)",
                              listen);
        }
        return NULL;
    }
    srv = xzalloc(sizeof *srv);
    srv->api = api;
    /* poll(2), not select(2): select cannot watch a descriptor numbered
     * FD_SETSIZE or above, which a controller with many agents and
     * long-polling watchers reaches. */
    flags = (MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
             | MHD_USE_POLL | MHD_USE_ERROR_LOG);
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
        MHD_OPTION_URI_LOG_CALLBACK, uri_logger, srv,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, srv,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 120,
        MHD_OPTION_END);
    if (!srv->daemon) {
        if (errp) {
            *errp = xasprintf("%s: cannot listen (%s)", listen,
                              strerror(errno));
        }
        free(srv);
        return NULL;
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : 0;
    return srv;
}

int
http_port(const struct http_server *srv)
{
    return srv->port;
}

void
http_stop(struct http_server *srv)
{
    if (srv) {
        MHD_stop_daemon(srv->daemon);
        free(srv);
    }
}
