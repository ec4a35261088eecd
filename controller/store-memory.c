/*
 * store-memory.c -- the "memory:" store backend, for tests.
 *
 * Everything lives in this process and vanishes on close; each
 * store_open("memory:") makes a new, empty, independent store.  Keys are a
 * sorted array (binary search; inserts shift, which is fine for test-sized
 * data), the change log is an array in revision order, and heartbeats are
 * a small unsorted array.
 *
 * Transactions write in place and keep an undo log, replayed backwards on
 * abort.  That is safe because store.c holds the writer lock from begin to
 * commit/abort and around every other call, so no reader can observe an
 * uncommitted write.
 */
#include <errno.h>
#include <string.h>

#include "controller/store-private.h"
#include "lib/util.h"

struct mem_entry {
    char *key;
    char *value;
    int64_t mod_rev;
};

/* What a key looked like before the transaction touched it. */
struct mem_undo {
    char *key;
    char *value;                /* NULL: the key did not exist. */
    int64_t mod_rev;
};

struct mem_heartbeat {
    char *name;
    long long ts;
};

struct mem_store {
    struct store up;

    struct mem_entry *entries;  /* Sorted by strcmp() of 'key'. */
    size_t n_entries, allocated_entries;

    struct store_kvs log;       /* Change log, in revision order. */
    size_t log_mark;            /* log.n at begin(), for abort(). */

    struct mem_undo *undo;
    size_t n_undo, allocated_undo;

    struct mem_heartbeat *hbs;
    size_t n_hbs;
};

static struct mem_store *
mem_cast(struct store *store)
{
    return CONTAINER_OF(store, struct mem_store, up);
}

/* Returns the index of 'key' if present (and sets '*found'), else the index
 * where it would be inserted. */
static size_t
mem_find(const struct mem_store *ms, const char *key, bool *found)
{
    size_t lo = 0, hi = ms->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(ms->entries[mid].key, key);
        if (cmp < 0) {
            lo = mid + 1;
        } else if (cmp > 0) {
            hi = mid;
        } else {
            *found = true;
            return mid;
        }
    }
    *found = false;
    return lo;
}

/* Sets 'key' to 'value' (taking ownership of 'value'; NULL removes the key)
 * with 'mod_rev', without logging.  Returns the previous value (owned by the
 * caller, NULL if absent) and its mod_rev in '*old_revp'. */
static char *
mem_set_raw(struct mem_store *ms, const char *key, char *value,
            int64_t mod_rev, int64_t *old_revp)
{
    bool found;
    size_t i = mem_find(ms, key, &found);
    char *old = NULL;

    *old_revp = 0;
    if (found) {
        struct mem_entry *e = &ms->entries[i];
        old = e->value;
        *old_revp = e->mod_rev;
        if (value) {
            e->value = value;
            e->mod_rev = mod_rev;
        } else {
            free(e->key);
            memmove(e, e + 1, (ms->n_entries - i - 1) * sizeof *e);
            ms->n_entries--;
        }
    } else if (value) {
        if (ms->n_entries >= ms->allocated_entries) {
            ms->allocated_entries = (ms->allocated_entries
                                     ? 2 * ms->allocated_entries : 64);
            ms->entries = xrealloc(ms->entries, ms->allocated_entries
                                                * sizeof *ms->entries);
        }
        struct mem_entry *e = &ms->entries[i];
        memmove(e + 1, e, (ms->n_entries - i) * sizeof *e);
        e->key = xstrdup(key);
        e->value = value;
        e->mod_rev = mod_rev;
        ms->n_entries++;
    }
    return old;
}

/* Changes 'key' inside the transaction, recording undo and log entries. */
static void
mem_write(struct mem_store *ms, int64_t rev, const char *key,
          const char *value)
{
    int64_t old_rev;
    char *old = mem_set_raw(ms, key, value ? xstrdup(value) : NULL, rev,
                            &old_rev);

    if (ms->n_undo >= ms->allocated_undo) {
        ms->allocated_undo = ms->allocated_undo ? 2 * ms->allocated_undo : 16;
        ms->undo = xrealloc(ms->undo, ms->allocated_undo * sizeof *ms->undo);
    }
    struct mem_undo *u = &ms->undo[ms->n_undo++];
    u->key = xstrdup(key);
    u->value = old;
    u->mod_rev = old_rev;

    store_kvs_push(&ms->log, key, value, rev);
}

static void
mem_clear_undo(struct mem_store *ms)
{
    for (size_t i = 0; i < ms->n_undo; i++) {
        free(ms->undo[i].key);
        free(ms->undo[i].value);
    }
    ms->n_undo = 0;
}

static struct store *
mem_open(const char *arg, char **errp)
{
    if (*arg) {
        *errp = xasprintf("memory store takes no argument (use \"memory:\")");
        return NULL;
    }
    struct mem_store *ms = xzalloc(sizeof *ms);
    store_kvs_init(&ms->log);
    return &ms->up;
}

static void
mem_close(struct store *store)
{
    struct mem_store *ms = mem_cast(store);

    for (size_t i = 0; i < ms->n_entries; i++) {
        free(ms->entries[i].key);
        free(ms->entries[i].value);
    }
    free(ms->entries);
    store_kvs_destroy(&ms->log);
    mem_clear_undo(ms);
    free(ms->undo);
    for (size_t i = 0; i < ms->n_hbs; i++) {
        free(ms->hbs[i].name);
    }
    free(ms->hbs);
    free(ms);
}

static int
mem_begin(struct store *store, int64_t *revp)
{
    struct mem_store *ms = mem_cast(store);

    ASSERT(!ms->n_undo);
    ms->log_mark = ms->log.n;
    *revp = store_revision(store);
    return 0;
}

static int
mem_commit(struct store *store, bool wrote, int64_t rev)
{
    mem_clear_undo(mem_cast(store));
    return 0;
}

static void
mem_abort(struct store *store)
{
    struct mem_store *ms = mem_cast(store);

    while (ms->n_undo > 0) {
        struct mem_undo *u = &ms->undo[--ms->n_undo];
        int64_t rev;
        free(mem_set_raw(ms, u->key, u->value, u->mod_rev, &rev));
        free(u->key);
    }
    while (ms->log.n > ms->log_mark) {
        struct store_kv *kv = &ms->log.kvs[--ms->log.n];
        free(kv->key);
        free(kv->value);
    }
}

static int
mem_get(struct store *store, const char *key, char **valuep)
{
    struct mem_store *ms = mem_cast(store);
    bool found;
    size_t i = mem_find(ms, key, &found);

    if (!found) {
        return ENOENT;
    }
    *valuep = xstrdup(ms->entries[i].value);
    return 0;
}

static int
mem_range(struct store *store, const char *prefix, struct store_kvs *out)
{
    struct mem_store *ms = mem_cast(store);
    size_t len = strlen(prefix);
    bool found;

    for (size_t i = mem_find(ms, prefix, &found); i < ms->n_entries; i++) {
        const struct mem_entry *e = &ms->entries[i];
        if (strncmp(e->key, prefix, len)) {
            break;
        }
        store_kvs_push(out, e->key, e->value, e->mod_rev);
    }
    return 0;
}

static int
mem_put(struct store *store, int64_t rev, const char *key, const char *value)
{
    mem_write(mem_cast(store), rev, key, value);
    return 0;
}

static int
mem_delete(struct store *store, int64_t rev, const char *key)
{
    struct mem_store *ms = mem_cast(store);
    bool found;

    mem_find(ms, key, &found);
    if (!found) {
        return ENOENT;
    }
    mem_write(ms, rev, key, NULL);
    return 0;
}

static int
mem_snapshot(struct store *store, struct store_kvs *out, int64_t *revp)
{
    struct mem_store *ms = mem_cast(store);

    for (size_t i = 0; i < ms->n_entries; i++) {
        const struct mem_entry *e = &ms->entries[i];
        store_kvs_push(out, e->key, e->value, e->mod_rev);
    }
    *revp = store_revision(store);
    return 0;
}

static int
mem_changes_since(struct store *store, int64_t since, size_t max,
                  struct store_kvs *out)
{
    struct mem_store *ms = mem_cast(store);
    const struct store_kvs *log = &ms->log;

    /* First entry with revision > 'since'. */
    size_t lo = 0, hi = log->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->kvs[mid].mod_revision <= since) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }

    /* Whole revisions only; see the contract in store-private.h. */
    size_t added = 0;
    for (size_t i = lo; i < log->n; ) {
        size_t j = i + 1;
        while (j < log->n && log->kvs[j].mod_revision
                             == log->kvs[i].mod_revision) {
            j++;
        }
        if (max && added > 0 && added + (j - i) > max) {
            break;
        }
        for (; i < j; i++) {
            const struct store_kv *kv = &log->kvs[i];
            store_kvs_push(out, kv->key, kv->value, kv->mod_revision);
            added++;
        }
    }
    return 0;
}

static int
mem_compact(struct store *store, int64_t compact_rev)
{
    struct store_kvs *log = &mem_cast(store)->log;
    size_t n = 0;

    while (n < log->n && log->kvs[n].mod_revision <= compact_rev) {
        free(log->kvs[n].key);
        free(log->kvs[n].value);
        n++;
    }
    memmove(log->kvs, log->kvs + n, (log->n - n) * sizeof *log->kvs);
    log->n -= n;
    return 0;
}

static struct mem_heartbeat *
mem_find_heartbeat(struct mem_store *ms, const char *name)
{
    for (size_t i = 0; i < ms->n_hbs; i++) {
        if (!strcmp(ms->hbs[i].name, name)) {
            return &ms->hbs[i];
        }
    }
    return NULL;
}

static int
mem_heartbeat(struct store *store, const char *name, long long now)
{
    struct mem_store *ms = mem_cast(store);
    struct mem_heartbeat *hb = mem_find_heartbeat(ms, name);

    if (!hb) {
        ms->hbs = xrealloc(ms->hbs, (ms->n_hbs + 1) * sizeof *ms->hbs);
        hb = &ms->hbs[ms->n_hbs++];
        hb->name = xstrdup(name);
    }
    hb->ts = now;
    return 0;
}

static int
mem_heartbeat_get(struct store *store, const char *name, long long *whenp)
{
    struct mem_heartbeat *hb = mem_find_heartbeat(mem_cast(store), name);

    if (!hb) {
        return ENOENT;
    }
    *whenp = hb->ts;
    return 0;
}

const struct store_class store_memory_class = {
    .scheme = "memory",
    .open = mem_open,
    .close = mem_close,
    .begin = mem_begin,
    .commit = mem_commit,
    .abort = mem_abort,
    .get = mem_get,
    .range = mem_range,
    .put = mem_put,
    .delete = mem_delete,
    .snapshot = mem_snapshot,
    .changes_since = mem_changes_since,
    .compact = mem_compact,
    .heartbeat = mem_heartbeat,
    .heartbeat_get = mem_heartbeat_get,
};
