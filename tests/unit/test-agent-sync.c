/*
 * test-agent-sync.c -- the agent's controller sync: reply parsing, the
 * event queue, and the sync thread against a fake controller.
 *
 * The fake controller (libmicrohttpd on 127.0.0.1, an ephemeral port)
 * serves /v2.0/weft/snapshot and /v2.0/weft/watch from an in-memory event
 * list, can be stopped and restarted on the same port, and records every
 * request, so the tests can check the protocol rules of sync.h: a
 * snapshot first, then watches from the last revision; after a lost
 * connection the watch resumes (no new snapshot); a 410 or a revision
 * going back reloads the snapshot.
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "agent/evq.h"
#include "agent/sync.h"
#include "lib/poll-loop.h"
#include "lib/util.h"
#include "tests/lib/unit.h"

/* An object's value as compact JSON text (for comparisons), or NULL. */
static char *
value_text(const struct sync_object *obj)
{
    return obj->value ? json_dumps(obj->value, JSON_COMPACT) : NULL;
}

static void
check_value(const struct sync_object *obj, const char *expect)
{
    char *text = value_text(obj);

    CHECK(text != NULL);
    if (text) {
        CHECK_STREQ(text, expect);
    }
    free(text);
}

static void
test_parse_snapshot(void)
{
    struct sync_item *item;

    CHECK_EQ(sync_parse_snapshot(
                 "{\"revision\": 42, \"config\": {\"encap\": \"vxlan\"},"
                 " \"objects\": [{\"key\": \"networks/n1\","
                 " \"value\": {\"id\": \"n1\", \"mtu\": 1450}},"
                 " {\"value\": {}},"
                 " {\"key\": \"ports/p1\", \"value\": {\"id\": \"p1\"}}]}",
                 &item), 0);
    CHECK(item != NULL);
    if (item) {
        CHECK_EQ(item->type, SYNC_SNAPSHOT);
        CHECK_EQ(item->revision, 42);
        CHECK_STREQ(item->encap, "vxlan");
        CHECK_EQ(item->n, 2);           /* The keyless object skipped. */
        CHECK_STREQ(item->objs[0].key, "networks/n1");
        check_value(&item->objs[0], "{\"id\":\"n1\",\"mtu\":1450}");
        CHECK_STREQ(item->objs[1].key, "ports/p1");
    }
    sync_item_destroy(item);

    CHECK_EQ(sync_parse_snapshot("{\"revision\": 1, \"objects\": []}",
                                 &item), 0);
    CHECK(item && item->n == 0 && item->encap[0] == '\0');
    sync_item_destroy(item);

    CHECK_EQ(sync_parse_snapshot("", &item), EINVAL);
    CHECK(item == NULL);
    CHECK_EQ(sync_parse_snapshot("[1]", &item), EINVAL);
    CHECK_EQ(sync_parse_snapshot("{\"objects\": []}", &item), EINVAL);
    CHECK_EQ(sync_parse_snapshot("{\"revision\": \"x\", \"objects\": []}",
                                 &item), EINVAL);
    CHECK_EQ(sync_parse_snapshot("{\"revision\": 3, \"objects\": {}}",
                                 &item), EINVAL);
    CHECK_EQ(sync_parse_snapshot("{\"revision\": 3, \"objects\": [", &item),
             EINVAL);
    CHECK(item == NULL);
}

static void
test_parse_watch(void)
{
    struct sync_item *item;

    CHECK_EQ(sync_parse_watch(
                 "{\"revision\": 57, \"events\": ["
                 "{\"key\": \"ports/a\", \"revision\": 43,"
                 " \"value\": {\"id\": \"a\"}},"
                 "{\"key\": \"ports/b\", \"value\": null},"
                 "{\"key\": \"ports/c\"}]}", &item), 0);
    CHECK(item != NULL);
    if (item) {
        CHECK_EQ(item->type, SYNC_EVENTS);
        CHECK_EQ(item->revision, 57);
        CHECK_EQ(item->n, 3);
        check_value(&item->objs[0], "{\"id\":\"a\"}");
        CHECK(item->objs[1].value == NULL);     /* Deletions. */
        CHECK(item->objs[2].value == NULL);
    }
    sync_item_destroy(item);

    CHECK_EQ(sync_parse_watch("{\"revision\": 9, \"events\": []}", &item),
             0);
    CHECK(item && item->n == 0 && item->revision == 9);
    sync_item_destroy(item);

    CHECK_EQ(sync_parse_watch("{\"events\": []}", &item), EINVAL);
    CHECK_EQ(sync_parse_watch("{\"revision\": 9}", &item), EINVAL);
    CHECK_EQ(sync_parse_watch("{\"NeutronError\": {}}", &item), EINVAL);
    CHECK(item == NULL);
    sync_item_destroy(NULL);
}

static int n_freed;

static void
count_free(void *p)
{
    n_freed++;
    free(p);
}

static bool
fd_readable(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    return poll(&pfd, 1, 0) == 1;
}

static void
test_evq(void)
{
    struct evq *q = evq_create(count_free);
    int *a = xmalloc(sizeof *a), *b = xmalloc(sizeof *b);

    CHECK(q != NULL);
    CHECK(evq_pop(q) == NULL);
    CHECK_EQ(evq_len(q), 0);
    *a = 1;
    *b = 2;
    evq_push(q, a);
    evq_push(q, b);
    CHECK_EQ(evq_len(q), 2);
    CHECK(evq_pop(q) == a);             /* FIFO. */
    CHECK_EQ(evq_len(q), 1);
    free(a);

    /* Leftovers are released with the destructor. */
    n_freed = 0;
    evq_destroy(q);
    CHECK_EQ(n_freed, 1);
    evq_destroy(NULL);
}

/* The descriptor is readable exactly while the queue is non-empty, so
 * the poll loop neither misses an item nor spins on an empty queue. */
static void
test_evq_wakeup(void)
{
    struct evq *q = evq_create(free);

    CHECK(!fd_readable(evq_fd(q)));
    evq_push(q, xstrdup("x"));
    CHECK(fd_readable(evq_fd(q)));
    evq_push(q, xstrdup("y"));
    free(evq_pop(q));
    CHECK(fd_readable(evq_fd(q)));
    free(evq_pop(q));
    CHECK(!fd_readable(evq_fd(q)));
    CHECK(evq_pop(q) == NULL);
    CHECK(!fd_readable(evq_fd(q)));

    /* And poll_block() returns on it. */
    evq_push(q, xstrdup("z"));
    evq_wait(q);
    poll_block();
    free(evq_pop(q));
    evq_destroy(q);
}

/* A thread pushes many items; the consumer sees all, in order. */
#define N_THREAD_ITEMS 2000

static void *
producer_main(void *q_)
{
    for (int i = 0; i < N_THREAD_ITEMS; i++) {
        int *p = xmalloc(sizeof *p);
        *p = i;
        evq_push(q_, p);
    }
    return NULL;
}

static void
test_evq_threads(void)
{
    struct evq *q = evq_create(free);
    pthread_t thread;
    int next = 0;

    pthread_create(&thread, NULL, producer_main, q);
    for (int round = 0; round < 100000 && next < N_THREAD_ITEMS; round++) {
        int *p;

        evq_wait(q);
        poll_timer_wait(100);
        poll_block();
        while ((p = evq_pop(q))) {
            CHECK_EQ(*p, next);
            next++;
            free(p);
        }
    }
    pthread_join(thread, NULL);
    CHECK_EQ(next, N_THREAD_ITEMS);
    evq_destroy(q);
}

/* The fake controller. */

#define FAKE_MAX_EVENTS 16
#define FAKE_MAX_LOG 256

struct fake_ctrl {
    pthread_mutex_t mutex;
    struct MHD_Daemon *daemon;
    uint16_t port;
    long long revision;
    long long compacted;        /* Watches since < this get 410. */
    char *snapshot;             /* Body of the snapshot reply. */
    struct {
        long long rev;
        char key[32];
    } events[FAKE_MAX_EVENTS];
    int n_events;
    char *log[FAKE_MAX_LOG];
    int n_log;
};

static struct fake_ctrl fake;

static enum MHD_Result
fake_reply(struct MHD_Connection *conn, unsigned status, char *body)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(strlen(body), body,
                                           MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result
fake_handler(void *cls, struct MHD_Connection *conn, const char *url,
             const char *method, const char *version,
             const char *upload_data, size_t *upload_data_size,
             void **con_cls)
{
    const char *since_s, *timeout_s;
    long long since;
    char *body;
    size_t len;

    pthread_mutex_lock(&fake.mutex);
    since_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                          "since");
    timeout_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                            "timeout");
    if (fake.n_log < FAKE_MAX_LOG) {
        fake.log[fake.n_log++] = xasprintf("%s?since=%s&timeout=%s", url,
                                           since_s ? since_s : "",
                                           timeout_s ? timeout_s : "");
    }
    if (!strcmp(url, "/v2.0/weft/snapshot")) {
        body = xstrdup(fake.snapshot);
        pthread_mutex_unlock(&fake.mutex);
        return fake_reply(conn, 200, body);
    }
    if (strcmp(url, "/v2.0/weft/watch") || !since_s) {
        pthread_mutex_unlock(&fake.mutex);
        return fake_reply(conn, 404, xstrdup("{}"));
    }
    since = atoll(since_s);
    if (since < fake.compacted) {
        pthread_mutex_unlock(&fake.mutex);
        return fake_reply(conn, 410, xstrdup(
            "{\"NeutronError\": {\"type\": \"RevisionCompacted\"}}"));
    }
    body = xasprintf("{\"revision\": %lld, \"events\": [", fake.revision);
    for (int i = 0; i < fake.n_events; i++) {
        if (fake.events[i].rev > since) {
            char *old = body;
            len = strlen(old);
            body = xasprintf("%s%s{\"key\": \"%s\", \"revision\": %lld, "
                             "\"value\": {\"id\": \"x\"}}", old,
                             old[len - 1] == '[' ? "" : ", ",
                             fake.events[i].key, fake.events[i].rev);
            free(old);
        }
    }
    {
        char *old = body;
        body = xasprintf("%s]}", old);
        free(old);
    }
    pthread_mutex_unlock(&fake.mutex);
    if (strstr(body, "[]")) {
        usleep(20 * 1000);              /* A (short) long poll. */
    }
    return fake_reply(conn, 200, body);
}

static bool
fake_start(uint16_t port)
{
    const union MHD_DaemonInfo *info;

    fake.daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
        port, NULL, NULL, fake_handler, NULL,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
        MHD_OPTION_CONNECTION_TIMEOUT, 2u,
        MHD_OPTION_END);
    if (!fake.daemon) {
        return false;
    }
    info = MHD_get_daemon_info(fake.daemon, MHD_DAEMON_INFO_BIND_PORT);
    fake.port = info ? info->port : 0;
    return fake.port != 0;
}

static void
fake_stop(void)
{
    MHD_stop_daemon(fake.daemon);
    fake.daemon = NULL;
}

static void
fake_add_event(long long rev, const char *key)
{
    pthread_mutex_lock(&fake.mutex);
    ASSERT(fake.n_events < FAKE_MAX_EVENTS);
    fake.events[fake.n_events].rev = rev;
    str_copy(fake.events[fake.n_events].key, key,
             sizeof fake.events[0].key);
    fake.n_events++;
    fake.revision = rev;
    pthread_mutex_unlock(&fake.mutex);
}

/* Waits (bounded: 10 s) for the next item from 's' with a non-empty
 * change or a snapshot. */
static struct sync_item *
next_item(struct sync *s)
{
    long long deadline = time_msec() + 10000;

    while (time_msec() < deadline) {
        struct sync_item *item = sync_pop(s);
        if (item) {
            return item;
        }
        sync_wait(s);
        poll_timer_wait(200);
        poll_block();
    }
    return NULL;
}

static int
count_log(const char *needle)
{
    int n = 0;

    pthread_mutex_lock(&fake.mutex);
    for (int i = 0; i < fake.n_log; i++) {
        n += strstr(fake.log[i], needle) != NULL;
    }
    pthread_mutex_unlock(&fake.mutex);
    return n;
}

static void
test_sync_thread(void)
{
    struct sync_item *item;
    struct sync *s;
    char *url;
    uint16_t port;

    memset(&fake, 0, sizeof fake);
    pthread_mutex_init(&fake.mutex, NULL);
    fake.revision = 5;
    fake.snapshot = xstrdup(
        "{\"revision\": 5, \"config\": {\"encap\": \"vxlan\"}, "
        "\"objects\": [{\"key\": \"networks/n1\", \"value\": {}}]}");
    if (!fake_start(0)) {
        UNIT_SKIP("cannot start a fake controller on 127.0.0.1");
    }
    port = fake.port;
    url = xasprintf("http://127.0.0.1:%u/", port);
    s = sync_create(url);
    CHECK(s != NULL);

    /* 1. Snapshot. */
    item = next_item(s);
    CHECK(item && item->type == SYNC_SNAPSHOT && item->revision == 5
          && item->n == 1 && !strcmp(item->encap, "vxlan"));
    sync_item_destroy(item);
    CHECK(sync_is_connected(s));

    /* 2. A change arrives through the watch. */
    fake_add_event(6, "ports/p6");
    item = next_item(s);
    CHECK(item && item->type == SYNC_EVENTS && item->revision == 6
          && item->n == 1 && !strcmp(item->objs[0].key, "ports/p6"));
    sync_item_destroy(item);

    /* 3. Controller down: the thread notices, then the controller comes
     * back with one more change; the watch resumes from 6 without a new
     * snapshot. */
    fake_stop();
    for (int i = 0; i < 200 && sync_is_connected(s); i++) {
        usleep(50 * 1000);
    }
    CHECK(!sync_is_connected(s));
    fake_add_event(7, "ports/p7");
    CHECK(fake_start(port));
    item = next_item(s);
    CHECK(item && item->type == SYNC_EVENTS && item->revision == 7
          && item->n == 1 && !strcmp(item->objs[0].key, "ports/p7"));
    sync_item_destroy(item);
    CHECK(sync_is_connected(s));
    CHECK_EQ(count_log("/snapshot"), 1);
    /* The first watch after the outage does not wait (so "connected" is
     * known at once), the following ones long-poll. */
    CHECK(count_log("/watch?since=6&timeout=0") >= 1);
    for (int i = 0; i < 200 && !count_log("/watch?since=7&timeout=25");
         i++) {
        usleep(25 * 1000);
    }
    CHECK(count_log("/watch?since=7&timeout=25") >= 1);

    /* 4. History compacted: 410 -> a new snapshot. */
    pthread_mutex_lock(&fake.mutex);
    free(fake.snapshot);
    fake.snapshot = xstrdup("{\"revision\": 100, \"objects\": []}");
    fake.compacted = 100;
    fake.revision = 100;
    pthread_mutex_unlock(&fake.mutex);
    fake_add_event(8, "ports/p8");      /* Only seen as part of 410. */
    pthread_mutex_lock(&fake.mutex);
    fake.revision = 100;
    pthread_mutex_unlock(&fake.mutex);
    item = next_item(s);
    while (item && item->type == SYNC_EVENTS && item->revision < 100) {
        sync_item_destroy(item);        /* Raced with the change. */
        item = next_item(s);
    }
    CHECK(item && item->type == SYNC_SNAPSHOT && item->revision == 100);
    sync_item_destroy(item);
    CHECK_EQ(count_log("/snapshot"), 2);

    /* 5. A controller with a fresh store: its revision went back, so what
     * the agent has cannot be patched -> a new snapshot. */
    pthread_mutex_lock(&fake.mutex);
    free(fake.snapshot);
    fake.snapshot = xstrdup("{\"revision\": 3, \"objects\": []}");
    fake.compacted = 0;
    fake.revision = 3;
    fake.n_events = 0;
    pthread_mutex_unlock(&fake.mutex);
    item = next_item(s);
    CHECK(item && item->type == SYNC_SNAPSHOT && item->revision == 3);
    sync_item_destroy(item);
    CHECK_EQ(count_log("/snapshot"), 3);

    /* 6. Empty watch replies at the same revision are not queued: once a
     * second watch from 3 went out, the first one's reply was handled. */
    for (int i = 0; i < 200 && count_log("/watch?since=3&") < 2; i++) {
        usleep(25 * 1000);
    }
    CHECK(count_log("/watch?since=3&") >= 2);
    CHECK(sync_pop(s) == NULL);

    sync_destroy(s);                    /* Mid long poll: must not hang. */
    fake_stop();
    for (int i = 0; i < fake.n_log; i++) {
        free(fake.log[i]);
    }
    free(fake.snapshot);
    free(url);
    pthread_mutex_destroy(&fake.mutex);
}

int
main(void)
{
    RUN(test_parse_snapshot);
    RUN(test_parse_watch);
    RUN(test_evq);
    RUN(test_evq_wakeup);
    RUN(test_evq_threads);
    RUN(test_sync_thread);
    return unit_finish();
}
