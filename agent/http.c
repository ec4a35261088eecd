/*
 * http.c -- blocking HTTP requests to the controller over libcurl.
 *
 * One easy handle per client, reused across requests (keep-alive).  The
 * progress callback, which libcurl calls at least once a second while a
 * transfer is in progress, checks the cancel flag so that another thread
 * can abort a long poll.
 */
#include "agent/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "lib/util.h"

/* Bodies larger than this are refused (a snapshot of a large cloud is a
 * few tens of MB). */
#define HTTP_MAX_BODY (512u * 1024 * 1024)

struct http_client {
    CURL *curl;
    char *base_url;
    atomic_bool cancelled;
};

struct http_buf {
    char *data;
    size_t len, allocated;
    bool overflow;
};

static size_t http_write_cb(char *ptr, size_t size, size_t nmemb,
                            void *aux);
static int http_progress_cb(void *aux, curl_off_t dltotal, curl_off_t dlnow,
                            curl_off_t ultotal, curl_off_t ulnow);

struct http_client *
http_client_create(const char *base_url)
{
    struct http_client *c;
    size_t len;

    c = xzalloc(sizeof *c);
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return NULL;
    }
    c->base_url = xstrdup(base_url);
    len = strlen(c->base_url);
    while (len > 0 && c->base_url[len - 1] == '/') {
        c->base_url[--len] = '\0';
    }
    atomic_init(&c->cancelled, false);
    return c;
}

void
http_client_destroy(struct http_client *c)
{
    if (c) {
        curl_easy_cleanup(c->curl);
        free(c->base_url);
        free(c);
    }
}

void
http_client_cancel(struct http_client *c)
{
    atomic_store(&c->cancelled, true);
}

const char *
http_client_url(const struct http_client *c)
{
    return c->base_url;
}

int
http_request(struct http_client *c, const char *method, const char *path,
             const char *body, long timeout_sec, struct http_response *resp)
{
    struct curl_slist *headers = NULL;
    struct http_buf buf = { NULL, 0, 0, false };
    char *url;
    CURLcode rc;
    int error;

    memset(resp, 0, sizeof *resp);
    if (atomic_load(&c->cancelled)) {
        return ECANCELED;
    }

    url = xasprintf("%s%s", c->base_url, path);
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, MIN(timeout_sec, 5L));
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, timeout_sec);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_write_cb);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, http_progress_cb);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    headers = curl_slist_append(headers, "Accept: application/json");
    if (body) {
        headers = curl_slist_append(headers,
                                    "Content-Type: application/json");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
    }
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
    } else if (strcmp(method, "GET")) {
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);

    rc = curl_easy_perform(c->curl);
    switch (rc) {
    case CURLE_OK:
        error = buf.overflow ? EFBIG : 0;
        break;
    case CURLE_COULDNT_CONNECT:
        error = ECONNREFUSED;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        error = ETIMEDOUT;
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        error = ECANCELED;
        break;
    case CURLE_WRITE_ERROR:
        error = buf.overflow ? EFBIG : EIO;
        break;
    default:
        error = EIO;
        break;
    }
    if (!error) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        resp->body = buf.data ? buf.data : xstrdup("");
        resp->len = buf.len;
    } else {
        free(buf.data);
    }
    curl_slist_free_all(headers);
    free(url);
    return error;
}

void
http_response_destroy(struct http_response *resp)
{
    if (resp) {
        free(resp->body);
        resp->body = NULL;
        resp->len = 0;
    }
}

static size_t
http_write_cb(char *ptr, size_t size, size_t nmemb, void *aux)
{
    struct http_buf *buf = aux;
    size_t n = size * nmemb;

    if (buf->len + n + 1 > HTTP_MAX_BODY) {
        buf->overflow = true;
        return 0;
    }
    if (buf->len + n + 1 > buf->allocated) {
        buf->allocated = MAX(buf->allocated * 2, buf->len + n + 1);
        buf->allocated = MAX(buf->allocated, (size_t) 4096);
        buf->data = xrealloc(buf->data, buf->allocated);
    }
    memcpy(buf->data + buf->len, ptr, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return n;
}

static int
http_progress_cb(void *aux, curl_off_t dltotal, curl_off_t dlnow,
                 curl_off_t ultotal, curl_off_t ulnow)
{
    struct http_client *c = aux;
    return atomic_load(&c->cancelled) ? 1 : 0;
}
