/*
 * sync.c -- snapshot + long-poll watch thread, see sync.h.
 */
#include "agent/sync.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "agent/evq.h"
#include "agent/http.h"
#include "lib/log.h"
#include "lib/util.h"

#define SYNC_WATCH_TIMEOUT 25           /* Seconds the controller holds. */
#define SYNC_BACKOFF_MIN_MS 500
#define SYNC_BACKOFF_MAX_MS 5000

struct sync {
    struct http_client *http;
    struct evq *queue;
    pthread_t thread;

    pthread_mutex_t mutex;
    pthread_cond_t cond;        /* Signalled on stop. */
    bool stop;                  /* Protected by 'mutex'. */

    atomic_bool connected;
    bool ever_connected;        /* Sync thread only. */
};

static void *sync_thread_main(void *);
static void sync_item_free_cb(void *);
static int sync_parse(const char *body, enum sync_item_type,
                      struct sync_item **itemp);

void
sync_item_destroy(struct sync_item *item)
{
    if (!item) {
        return;
    }
    for (size_t i = 0; i < item->n; i++) {
        free(item->objs[i].key);
        json_decref(item->objs[i].value);
    }
    free(item->objs);
    free(item);
}

int
sync_parse_snapshot(const char *body, struct sync_item **itemp)
{
    return sync_parse(body, SYNC_SNAPSHOT, itemp);
}

int
sync_parse_watch(const char *body, struct sync_item **itemp)
{
    return sync_parse(body, SYNC_EVENTS, itemp);
}

struct sync *
sync_create(const char *url)
{
    struct sync *s = xzalloc(sizeof *s);
    pthread_condattr_t attr;

    s->http = http_client_create(url);
    if (!s->http) {
        goto err_free;
    }
    s->queue = evq_create(sync_item_free_cb);
    if (!s->queue) {
        goto err_http;
    }
    pthread_mutex_init(&s->mutex, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&s->connected, false);
    if (pthread_create(&s->thread, NULL, sync_thread_main, s)) {
        goto err_sync;
    }
    return s;

err_sync:
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mutex);
    evq_destroy(s->queue);
err_http:
    http_client_destroy(s->http);
err_free:
    free(s);
    return NULL;
}

void
sync_destroy(struct sync *s)
{
    if (!s) {
        return;
    }
    pthread_mutex_lock(&s->mutex);
    s->stop = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mutex);
    http_client_cancel(s->http);
    pthread_join(s->thread, NULL);

    evq_destroy(s->queue);
    http_client_destroy(s->http);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mutex);
    free(s);
}

struct sync_item *
sync_pop(struct sync *s)
{
    return evq_pop(s->queue);
}

void
sync_wait(struct sync *s)
{
    evq_wait(s->queue);
}

bool
sync_is_connected(const struct sync *s)
{
    return atomic_load(&((struct sync *) s)->connected);
}

static void
sync_item_free_cb(void *item)
{
    sync_item_destroy(item);
}

/* Parses a snapshot reply ({"revision", "config", "objects": [...]}) or
 * a watch reply ({"revision", "events": [...]}); each element of the
 * array is {"key": ..., "value": ...}. */
static int
sync_parse(const char *body, enum sync_item_type type,
           struct sync_item **itemp)
{
    const char *list = type == SYNC_SNAPSHOT ? "objects" : "events";
    struct sync_item *item;
    json_t *root, *rev, *array, *elem;
    size_t i;

    *itemp = NULL;
    root = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
    rev = json_object_get(root, "revision");
    array = json_object_get(root, list);
    if (!json_is_integer(rev) || !json_is_array(array)) {
        json_decref(root);
        return EINVAL;
    }

    item = xzalloc(sizeof *item);
    item->type = type;
    item->revision = json_integer_value(rev);
    if (type == SYNC_SNAPSHOT) {
        json_t *config = json_object_get(root, "config");
        json_t *encap = json_object_get(config, "encap");

        if (json_is_string(encap)) {
            str_copy(item->encap, json_string_value(encap),
                     sizeof item->encap);
        }
    }
    item->objs = xcalloc(MAX(json_array_size(array), 1), sizeof *item->objs);
    json_array_foreach (array, i, elem) {
        json_t *key = json_object_get(elem, "key");
        json_t *value = json_object_get(elem, "value");
        struct sync_object *obj;

        if (!json_is_string(key)) {
            continue;
        }
        obj = &item->objs[item->n++];
        obj->key = xstrdup(json_string_value(key));
        obj->value = value && !json_is_null(value) ? json_incref(value) : NULL;
    }
    json_decref(root);
    *itemp = item;
    return 0;
}

/* Sleeps 'msec' unless stopped first.  Returns true if stopped. */
static bool
sync_sleep(struct sync *s, long long msec)
{
    struct timespec ts;
    bool stop;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += msec / 1000;
    ts.tv_nsec += (msec % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->mutex);
    while (!s->stop) {
        if (pthread_cond_timedwait(&s->cond, &s->mutex, &ts) == ETIMEDOUT) {
            break;
        }
    }
    stop = s->stop;
    pthread_mutex_unlock(&s->mutex);
    return stop;
}

static bool
sync_stopping(struct sync *s)
{
    bool stop;

    pthread_mutex_lock(&s->mutex);
    stop = s->stop;
    pthread_mutex_unlock(&s->mutex);
    return stop;
}

static void
sync_set_connected(struct sync *s, bool connected, const char *why)
{
    bool was = atomic_exchange(&s->connected, connected);

    if (connected && !was) {
        VLOG_INFO("%s controller %s", s->ever_connected
                  ? "connection regained to" : "connected to",
                  http_client_url(s->http));
        s->ever_connected = true;
    } else if (!connected && (was || !s->ever_connected)) {
        if (was) {
            VLOG_INFO("connection lost to controller %s (%s); "
                      "forwarding continues from the cached topology",
                      http_client_url(s->http), why);
        } else {
            VLOG_DBG("controller %s unreachable (%s)",
                     http_client_url(s->http), why);
        }
    }
}

static void *
sync_thread_main(void *s_)
{
    struct sync *s = s_;
    long long backoff = SYNC_BACKOFF_MIN_MS;
    bool need_snapshot = true;
    bool logged_unreachable = false;
    long long since = 0;

    while (!sync_stopping(s)) {
        struct http_response resp;
        struct sync_item *item = NULL;
        char why[128];
        char *path;
        int error;

        if (need_snapshot) {
            error = http_request(s->http, "GET", "/v2.0/weft/snapshot",
                                 NULL, 60, &resp);
        } else {
            /* After a failure, ask without waiting first: a long poll
             * would hide for up to SYNC_WATCH_TIMEOUT that the controller
             * is back. */
            int wait = atomic_load(&s->connected) ? SYNC_WATCH_TIMEOUT : 0;

            path = xasprintf("/v2.0/weft/watch?since=%lld&timeout=%d",
                             since, wait);
            error = http_request(s->http, "GET", path, NULL, wait + 15,
                                 &resp);
            free(path);
        }
        if (error == ECANCELED) {
            break;
        } else if (error) {
            snprintf(why, sizeof why, "%s", strerror(error));
            goto fail;
        }

        if (!need_snapshot && resp.status == 410) {
            VLOG_INFO("watch revision %lld compacted away; reloading "
                      "snapshot", since);
            http_response_destroy(&resp);
            need_snapshot = true;
            continue;
        }
        if (resp.status != 200) {
            snprintf(why, sizeof why, "HTTP status %ld", resp.status);
            http_response_destroy(&resp);
            goto fail;
        }
        error = (need_snapshot ? sync_parse_snapshot(resp.body, &item)
                 : sync_parse_watch(resp.body, &item));
        http_response_destroy(&resp);
        if (error) {
            snprintf(why, sizeof why, "malformed %s reply",
                     need_snapshot ? "snapshot" : "watch");
            VLOG_WARN("%s", why);
            goto fail;
        }

        sync_set_connected(s, true, NULL);
        logged_unreachable = false;
        backoff = SYNC_BACKOFF_MIN_MS;
        if (item->type == SYNC_EVENTS && item->revision < since) {
            /* The store went back in time (a controller with a fresh
             * store): what we have cannot be patched. */
            VLOG_WARN("controller revision went back from %lld to %lld; "
                      "reloading snapshot", since, item->revision);
            sync_item_destroy(item);
            need_snapshot = true;
            continue;
        }
        if (item->type == SYNC_SNAPSHOT) {
            VLOG_INFO("snapshot at revision %lld: %zu objects",
                      item->revision, item->n);
            need_snapshot = false;
        } else {
            VLOG_DBG("watch: %zu events, revision %lld", item->n,
                     item->revision);
        }
        if (item->n || item->type == SYNC_SNAPSHOT
            || item->revision != since) {
            since = item->revision;
            evq_push(s->queue, item);
        } else {
            sync_item_destroy(item);
        }
        continue;

    fail:
        if (!logged_unreachable) {
            sync_set_connected(s, false, why);
            if (!s->ever_connected) {
                VLOG_WARN("cannot reach controller %s (%s); retrying",
                          http_client_url(s->http), why);
            }
            logged_unreachable = true;
        }
        if (sync_sleep(s, backoff)) {
            break;
        }
        backoff = MIN(backoff * 2, SYNC_BACKOFF_MAX_MS);
    }
    return NULL;
}
