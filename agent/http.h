/*
 * http.h -- the agent's small blocking HTTP client (libcurl).
 *
 * Used by the agent's two controller-facing threads (sync.h, report.h),
 * each with its own struct http_client (one CURL easy handle, reused so
 * the TCP connection stays open between requests).  A request blocks the
 * calling thread; it can be cut short from another thread with
 * http_client_cancel(), which is how the agent shuts down promptly even
 * while a long-poll watch is outstanding.
 *
 * Error convention: http_request() returns 0 when an HTTP response was
 * received (whatever its status code) and a positive errno-like value when
 * none was (connection refused, timeout, cancelled: ECONNREFUSED,
 * ETIMEDOUT, ECANCELED, EIO).
 */
#ifndef WEFT_AGENT_HTTP_H
#define WEFT_AGENT_HTTP_H 1

#include <stdbool.h>
#include <stddef.h>

struct http_client;

/* A response: 'status' is the HTTP status code, 'body' the NUL-terminated
 * body ('len' bytes, not counting the NUL).  Owned by the caller; release
 * with http_response_destroy(). */
struct http_response {
    long status;
    char *body;
    size_t len;
};

/* Creates a client for the controller at 'base_url' ("http://h:9696",
 * a trailing '/' is ignored).  Returns NULL on failure. */
struct http_client *http_client_create(const char *base_url);
void http_client_destroy(struct http_client *);     /* Accepts NULL. */

/* Sends 'method' ("GET", "POST", "PUT") to base_url + 'path' with the JSON
 * 'body' (NULL for none), waiting at most 'timeout_sec' seconds in all.
 * On success (0) fills '*resp', which the caller must destroy; on failure
 * '*resp' is empty. */
int http_request(struct http_client *, const char *method, const char *path,
                 const char *body, long timeout_sec,
                 struct http_response *resp);

/* Makes the current and every later http_request() on this client fail
 * promptly with ECANCELED.  Safe from any thread. */
void http_client_cancel(struct http_client *);

void http_response_destroy(struct http_response *);   /* Accepts NULL. */

/* The base URL, without trailing '/'. */
const char *http_client_url(const struct http_client *);

#endif /* WEFT_AGENT_HTTP_H */
