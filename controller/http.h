/*
 * http.h -- the controller's HTTP server: libmicrohttpd in thread-per-
 * connection mode feeding controller/api.c.
 *
 * One thread per connection, so a watch long-poll (up to 60 s) blocks only
 * its own connection.  Request bodies are accumulated up to API_MAX_BODY
 * (1 MiB); a larger body gets 413 without being handed to the API.  The
 * raw request target is kept (not libmicrohttpd's decoded copy) so that
 * the API sees the query string exactly as sent.
 */
#ifndef WEFT_CONTROLLER_HTTP_H
#define WEFT_CONTROLLER_HTTP_H 1

struct api;
struct http_server;

/* Starts serving 'api' on 'listen' ("ADDR:PORT", "[V6ADDR]:PORT"; port 0
 * picks a free one).  Returns NULL on failure and sets '*errp' (if
 * nonnull) to a malloc'd message. */
struct http_server *http_start(struct api *api, const char *listen,
                               char **errp);
/* The TCP port actually bound. */
int http_port(const struct http_server *);
/* Stops accepting, waits for the connection threads, frees.  Call
 * api_shutdown() first so long-polls return promptly.  Accepts NULL. */
void http_stop(struct http_server *);

#endif /* WEFT_CONTROLLER_HTTP_H */
