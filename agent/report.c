/*
 * report.c -- heartbeat and port status thread, see report.h.
 */
#include "agent/report.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "agent/http.h"
#include "lib/log.h"
#include "lib/util.h"

#define REPORT_BACKOFF_MIN_MS 500
#define REPORT_BACKOFF_MAX_MS 5000

struct report_status {
    char *port_id;
    char *status;
    unsigned seq;               /* Bumped on every new value. */
};

struct reporter {
    struct http_client *http;
    char *host;
    char *tunnel_ip;
    long long interval_ms;
    pthread_t thread;

    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool stop;                          /* Protected by 'mutex'. */
    struct report_status *pending;      /* Protected by 'mutex'. */
    size_t n_pending, allocated;

    atomic_bool registered;
};

static void *reporter_main(void *);

struct reporter *
reporter_create(const char *url, const char *host, const char *tunnel_ip,
                long long interval_ms)
{
    struct reporter *r = xzalloc(sizeof *r);
    pthread_condattr_t attr;

    r->http = http_client_create(url);
    if (!r->http) {
        free(r);
        return NULL;
    }
    r->host = xstrdup(host);
    r->tunnel_ip = xstrdup(tunnel_ip);
    r->interval_ms = MAX(interval_ms, 100);
    pthread_mutex_init(&r->mutex, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&r->registered, false);
    if (pthread_create(&r->thread, NULL, reporter_main, r)) {
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->mutex);
        http_client_destroy(r->http);
        free(r->host);
        free(r->tunnel_ip);
        free(r);
        return NULL;
    }
    return r;
}

void
reporter_destroy(struct reporter *r)
{
    if (!r) {
        return;
    }
    pthread_mutex_lock(&r->mutex);
    r->stop = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mutex);
    http_client_cancel(r->http);
    pthread_join(r->thread, NULL);

    for (size_t i = 0; i < r->n_pending; i++) {
        free(r->pending[i].port_id);
        free(r->pending[i].status);
    }
    free(r->pending);
    http_client_destroy(r->http);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mutex);
    free(r->host);
    free(r->tunnel_ip);
    free(r);
}

void
reporter_port_status(struct reporter *r, const char *port_id,
                     const char *status)
{
    struct report_status *st = NULL;

    pthread_mutex_lock(&r->mutex);
    for (size_t i = 0; i < r->n_pending; i++) {
        if (!strcmp(r->pending[i].port_id, port_id)) {
            st = &r->pending[i];
            free(st->status);
            break;
        }
    }
    if (!st) {
        if (r->n_pending == r->allocated) {
            r->allocated = r->allocated ? 2 * r->allocated : 8;
            r->pending = xrealloc(r->pending,
                                  r->allocated * sizeof *r->pending);
        }
        st = &r->pending[r->n_pending++];
        st->port_id = xstrdup(port_id);
        st->seq = 0;
    }
    st->status = xstrdup(status);
    st->seq++;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->mutex);
}

bool
reporter_is_registered(const struct reporter *r)
{
    return atomic_load(&((struct reporter *) r)->registered);
}

/* Sends one heartbeat.  Returns 0 if the controller accepted it, else an
 * errno-style value. */
static int
reporter_heartbeat(struct reporter *r)
{
    struct http_response resp;
    json_t *body;
    char *text;
    int error;

    body = json_pack("{s:{s:s, s:s, s:s, s:s}}", "agent",
                     "host", r->host, "tunnel_ip", r->tunnel_ip,
                     "binary", "weft-agent", "agent_type", "Weft agent");
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    error = http_request(r->http, "POST", "/v2.0/weft/agents/report", text,
                         10, &resp);
    free(text);
    if (error) {
        return error;
    }
    if (resp.status < 200 || resp.status > 299) {
        VLOG_WARN("agent report rejected: HTTP %ld: %.200s", resp.status,
                  resp.body);
        error = EPROTO;
    } else if (!atomic_exchange(&r->registered, true)) {
        VLOG_INFO("registered with controller as host %s (tunnel_ip %s)",
                  r->host, r->tunnel_ip);
    }
    http_response_destroy(&resp);
    return error;
}

/* Sends one status change.  Returns 0 if it was delivered or is
 * pointless to retry (404), else an errno-style value. */
static int
reporter_send_status(struct reporter *r, const char *port_id,
                     const char *status)
{
    struct http_response resp;
    json_t *body;
    char *text, *path;
    int error;

    body = json_pack("{s:s, s:s}", "status", status, "host", r->host);
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    path = xasprintf("/v2.0/weft/ports/%s/status", port_id);
    error = http_request(r->http, "PUT", path, text, 10, &resp);
    free(path);
    free(text);
    if (error) {
        return error;
    }
    if (resp.status >= 200 && resp.status <= 299) {
        VLOG_INFO("port %s status %s", port_id, status);
    } else if (resp.status == 404) {
        VLOG_DBG("port %s is gone; status %s not sent", port_id, status);
    } else {
        VLOG_WARN("port %s status %s rejected: HTTP %ld: %.200s", port_id,
                  status, resp.status, resp.body);
        error = resp.status >= 500 ? EAGAIN : 0;
    }
    http_response_destroy(&resp);
    return error;
}

/* Sends every pending status change.  Returns 0 if all went out, else the
 * error that stopped it (the rest stay queued). */
static int
reporter_flush_status(struct reporter *r)
{
    for (;;) {
        char *port_id, *status;
        unsigned seq;
        int error;

        pthread_mutex_lock(&r->mutex);
        if (r->stop || !r->n_pending) {
            pthread_mutex_unlock(&r->mutex);
            return 0;
        }
        port_id = xstrdup(r->pending[0].port_id);
        status = xstrdup(r->pending[0].status);
        seq = r->pending[0].seq;
        pthread_mutex_unlock(&r->mutex);

        error = reporter_send_status(r, port_id, status);

        pthread_mutex_lock(&r->mutex);
        for (size_t i = 0; i < r->n_pending; i++) {
            struct report_status *st = &r->pending[i];
            if (!strcmp(st->port_id, port_id)) {
                if (!error && st->seq == seq) {
                    free(st->port_id);
                    free(st->status);
                    r->pending[i] = r->pending[--r->n_pending];
                } else if (error && i + 1 < r->n_pending) {
                    /* Rotate so one stuck port does not block others. */
                    struct report_status tmp = *st;
                    memmove(st, st + 1,
                            (r->n_pending - i - 1) * sizeof *st);
                    r->pending[r->n_pending - 1] = tmp;
                }
                break;
            }
        }
        pthread_mutex_unlock(&r->mutex);
        free(port_id);
        free(status);
        if (error) {
            return error;
        }
    }
}

static void
timespec_from_msec(struct timespec *ts, long long when_ms)
{
    ts->tv_sec = when_ms / 1000;
    ts->tv_nsec = (when_ms % 1000) * 1000000;
}

static long long
monotonic_msec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void *
reporter_main(void *r_)
{
    struct reporter *r = r_;
    long long next_beat = 0;
    long long retry_at = 0;
    long long backoff = REPORT_BACKOFF_MIN_MS;
    bool logged = false;

    for (;;) {
        long long now = monotonic_msec();
        bool have_pending;
        long long wake;
        int error = 0;

        if (now >= next_beat) {
            error = reporter_heartbeat(r);
            if (error == ECANCELED) {
                break;
            }
            next_beat = now + (error ? MIN(backoff, r->interval_ms)
                               : r->interval_ms);
            if (error && !logged) {
                VLOG_DBG("heartbeat failed: %s", strerror(error));
                logged = true;
            } else if (!error) {
                logged = false;
            }
        }
        if (!error && monotonic_msec() >= retry_at) {
            error = reporter_flush_status(r);
            if (error == ECANCELED) {
                break;
            }
        }
        if (error) {
            retry_at = monotonic_msec() + backoff;
            backoff = MIN(backoff * 2, REPORT_BACKOFF_MAX_MS);
        } else {
            retry_at = 0;
            backoff = REPORT_BACKOFF_MIN_MS;
        }

        pthread_mutex_lock(&r->mutex);
        have_pending = r->n_pending > 0;
        wake = next_beat;
        if (have_pending && retry_at) {
            wake = MIN(wake, retry_at);
        }
        while (!r->stop) {
            struct timespec ts;

            if (r->n_pending && !retry_at) {
                break;          /* New work, nothing to wait for. */
            }
            timespec_from_msec(&ts, wake);
            if (pthread_cond_timedwait(&r->cond, &r->mutex, &ts)
                == ETIMEDOUT) {
                break;
            }
        }
        if (r->stop) {
            pthread_mutex_unlock(&r->mutex);
            break;
        }
        pthread_mutex_unlock(&r->mutex);
    }
    return NULL;
}
