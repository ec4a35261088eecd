/*
 * store.c -- the backend-independent half of the store (see store.h).
 *
 * Picks a backend by URL scheme, serializes all access with the writer
 * lock, assigns revisions, wakes store_wait() sleepers on commit and
 * compacts the change log now and then.  The backends (store-memory.c,
 * store-sqlite.c) implement struct store_class from store-private.h.
 */
#include "controller/store-private.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"

/* The store whose transaction this thread holds, if any.  Lets the
 * liveness calls run inside a transaction on the same thread instead of
 * deadlocking on the writer lock, and turns the calls that cannot into
 * errors rather than hangs. */
static __thread struct store *store_held;

static const struct store_class *const store_classes[] = {
    &store_memory_class,
    &store_sqlite_class,
};

/* Automatic compaction runs once the log holds this many revisions more
 * than 'keep', so its cost is amortized over many commits. */
static int64_t
compact_slack(int64_t keep)
{
    return keep / 8 + 16;
}

void
store_kvs_init(struct store_kvs *kvs)
{
    kvs->kvs = NULL;
    kvs->n = 0;
    kvs->allocated = 0;
}

void
store_kvs_destroy(struct store_kvs *kvs)
{
    if (!kvs) {
        return;
    }
    for (size_t i = 0; i < kvs->n; i++) {
        free(kvs->kvs[i].key);
        free(kvs->kvs[i].value);
    }
    free(kvs->kvs);
    store_kvs_init(kvs);
}

void
store_kvs_push_owned(struct store_kvs *kvs, char *key, char *value,
                     int64_t mod_revision)
{
    if (kvs->n >= kvs->allocated) {
        kvs->allocated = kvs->allocated ? kvs->allocated * 2 : 16;
        kvs->kvs = xrealloc(kvs->kvs, kvs->allocated * sizeof *kvs->kvs);
    }
    struct store_kv *kv = &kvs->kvs[kvs->n++];
    kv->key = key;
    kv->value = value;
    kv->mod_revision = mod_revision;
}

void
store_kvs_push(struct store_kvs *kvs, const char *key, const char *value,
               int64_t mod_revision)
{
    store_kvs_push_owned(kvs, xstrdup(key), value ? xstrdup(value) : NULL,
                         mod_revision);
}

int
store_mkdir_parents(const char *path)
{
    char *dir = xstrdup(path);
    int error = 0;

    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        goto out;
    }
    *slash = '\0';
    for (char *p = dir + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0750) && errno != EEXIST) {
                error = errno;
                goto out;
            }
            *p = c;
            if (!c) {
                break;
            }
        }
    }
out:
    free(dir);
    return error;
}

struct store *
store_open(const char *url, char **errp)
{
    char *scratch = NULL;
    if (!errp) {
        errp = &scratch;
    }
    *errp = NULL;

    const char *colon = strchr(url, ':');
    if (!colon) {
        *errp = xasprintf("cannot open store %s: store URL must look like "
                          "sqlite:PATH or memory:", url);
        goto error;
    }
    size_t scheme_len = colon - url;
    const struct store_class *class = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(store_classes); i++) {
        const char *s = store_classes[i]->scheme;
        if (strlen(s) == scheme_len && !memcmp(s, url, scheme_len)) {
            class = store_classes[i];
            break;
        }
    }
    if (!class) {
        *errp = xasprintf("cannot open store %s: unknown store type \"%.*s\""
                          " (supported: sqlite, memory)", url,
                          (int) scheme_len, url);
        goto error;
    }

    char *backend_err = NULL;
    struct store *store = class->open(colon + 1, &backend_err);
    if (!store) {
        *errp = xasprintf("cannot open store %s: %s", url,
                          backend_err ? backend_err : "unknown error");
        free(backend_err);
        goto error;
    }
    store->class = class;
    store->url = xstrdup(url);
    store->keep = STORE_DEFAULT_KEEP;
    pthread_mutex_init(&store->mutex, NULL);
    pthread_mutex_init(&store->rev_mutex, NULL);

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&store->rev_cond, &attr);
    pthread_condattr_destroy(&attr);
    return store;

error:
    free(scratch);
    return NULL;
}

void
store_close(struct store *store)
{
    if (!store) {
        return;
    }
    char *url = store->url;
    pthread_mutex_destroy(&store->mutex);
    pthread_mutex_destroy(&store->rev_mutex);
    pthread_cond_destroy(&store->rev_cond);
    store->class->close(store);
    free(url);
}

int64_t
store_revision(struct store *store)
{
    pthread_mutex_lock(&store->rev_mutex);
    int64_t rev = store->revision;
    pthread_mutex_unlock(&store->rev_mutex);
    return rev;
}

int64_t
store_compact_revision(struct store *store)
{
    pthread_mutex_lock(&store->rev_mutex);
    int64_t rev = store->compact_rev;
    pthread_mutex_unlock(&store->rev_mutex);
    return rev;
}

/* Publishes 'rev' as the committed revision and wakes waiters if it
 * advanced. */
static void
store_publish_revision(struct store *store, int64_t rev)
{
    pthread_mutex_lock(&store->rev_mutex);
    if (rev > store->revision) {
        store->revision = rev;
        pthread_cond_broadcast(&store->rev_cond);
    }
    pthread_mutex_unlock(&store->rev_mutex);
}

struct store_txn *
store_begin(struct store *store)
{
    struct store_txn *txn = xzalloc(sizeof *txn);
    txn->store = store;

    /* A second transaction on the same store and thread would wait for
     * itself forever. */
    ASSERT(store_held != store);
    txn->prev_held = store_held;
    pthread_mutex_lock(&store->mutex);
    store_held = store;
    int64_t rev = 0;
    txn->error = store->class->begin(store, &rev);
    if (txn->error) {
        VLOG_ERR("%s: cannot begin transaction: %s", store->url,
                 strerror(txn->error));
    } else {
        txn->begun = true;
        store_publish_revision(store, rev);
    }
    txn->rev = rev + 1;
    return txn;
}

/* With 'store->mutex' held: compacts the change log to 'keep' revisions. */
static int
store_compact_locked(struct store *store, int64_t keep)
{
    int64_t target = store_revision(store) - keep;
    if (target <= store_compact_revision(store)) {
        return 0;
    }
    int error = store->class->compact(store, target);
    if (!error) {
        pthread_mutex_lock(&store->rev_mutex);
        store->compact_rev = target;
        pthread_mutex_unlock(&store->rev_mutex);
    }
    return error;
}

int
store_commit(struct store_txn *txn, int64_t *revp)
{
    struct store *store = txn->store;
    int error = txn->error;
    int64_t rev = txn->rev - 1;

    if (error) {
        if (txn->begun) {
            store->class->abort(store);
        }
    } else {
        error = store->class->commit(store, txn->wrote, txn->rev);
        if (!error && txn->wrote) {
            rev = txn->rev;
            store_publish_revision(store, rev);
            int64_t backlog = rev - store_compact_revision(store);
            if (backlog > store->keep + compact_slack(store->keep)) {
                int cerr = store_compact_locked(store, store->keep);
                if (cerr) {
                    VLOG_WARN("%s: automatic compaction failed: %s",
                              store->url, strerror(cerr));
                }
            }
        }
    }
    store_held = txn->prev_held;
    pthread_mutex_unlock(&store->mutex);
    free(txn);
    if (revp && !error) {
        *revp = rev;
    }
    return error;
}

void
store_abort(struct store_txn *txn)
{
    if (!txn) {
        return;
    }
    struct store *store = txn->store;
    if (txn->begun) {
        store->class->abort(store);
    }
    store_held = txn->prev_held;
    pthread_mutex_unlock(&store->mutex);
    free(txn);
}

int
store_get(struct store_txn *txn, const char *key, char **valuep)
{
    *valuep = NULL;
    if (txn->error) {
        return txn->error;
    }
    return txn->store->class->get(txn->store, key, valuep);
}

int
store_range(struct store_txn *txn, const char *prefix, struct store_kvs *out)
{
    if (txn->error) {
        return txn->error;
    }
    return txn->store->class->range(txn->store, prefix, out);
}

int
store_put(struct store_txn *txn, const char *key, const char *value)
{
    ASSERT(key && value);
    if (txn->error) {
        return txn->error;
    }
    int error = txn->store->class->put(txn->store, txn->rev, key, value);
    if (!error) {
        txn->wrote = true;
    } else {
        txn->error = error;
    }
    return error;
}

int
store_delete(struct store_txn *txn, const char *key)
{
    if (txn->error) {
        return txn->error;
    }
    int error = txn->store->class->delete(txn->store, txn->rev, key);
    if (!error) {
        txn->wrote = true;
    } else if (error != ENOENT) {
        txn->error = error;
    }
    return error;
}

/* Reports a call that needs the writer lock from inside a transaction
 * on the same thread.  Returns true if the caller must fail. */
static bool
store_check_not_held(struct store *store, const char *func)
{
    if (store_held == store) {
        VLOG_ERR("%s: %s() called inside a transaction on the same thread",
                 store->url, func);
        return true;
    }
    return false;
}

int
store_snapshot(struct store *store, struct store_kvs *out, int64_t *revp)
{
    *revp = 0;
    if (store_check_not_held(store, __func__)) {
        return EDEADLK;
    }
    pthread_mutex_lock(&store->mutex);
    int64_t rev = 0;
    int error = store->class->snapshot(store, out, &rev);
    if (!error) {
        store_publish_revision(store, rev);
    }
    pthread_mutex_unlock(&store->mutex);
    *revp = error ? 0 : rev;
    return error;
}

int
store_changes_since(struct store *store, int64_t since, size_t max,
                    struct store_kvs *out)
{
    if (store_check_not_held(store, __func__)) {
        return EDEADLK;
    }
    pthread_mutex_lock(&store->mutex);
    int error = (since < store_compact_revision(store)
                 ? ESTALE
                 : store->class->changes_since(store, since, max, out));
    pthread_mutex_unlock(&store->mutex);
    return error;
}

bool
store_wait(struct store *store, int64_t since, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
    }

    pthread_mutex_lock(&store->rev_mutex);
    while (store->revision <= since && timeout_ms > 0) {
        if (pthread_cond_timedwait(&store->rev_cond, &store->rev_mutex,
                                   &deadline) == ETIMEDOUT) {
            break;
        }
    }
    bool advanced = store->revision > since;
    pthread_mutex_unlock(&store->rev_mutex);
    return advanced;
}

int
store_compact(struct store *store, int64_t keep)
{
    if (keep < 0) {
        return EINVAL;
    }
    if (store_check_not_held(store, __func__)) {
        return EDEADLK;
    }
    pthread_mutex_lock(&store->mutex);
    int error = store_compact_locked(store, keep);
    pthread_mutex_unlock(&store->mutex);
    return error;
}

int
store_heartbeat(struct store *store, const char *name, long long now)
{
    bool lock = store_held != store;
    if (lock) {
        pthread_mutex_lock(&store->mutex);
    }
    int error = store->class->heartbeat(store, name, now);
    if (lock) {
        pthread_mutex_unlock(&store->mutex);
    }
    return error;
}

int
store_heartbeat_get(struct store *store, const char *name, long long *whenp)
{
    bool lock = store_held != store;
    if (lock) {
        pthread_mutex_lock(&store->mutex);
    }
    int error = store->class->heartbeat_get(store, name, whenp);
    if (lock) {
        pthread_mutex_unlock(&store->mutex);
    }
    return error;
}
