/*
 * store-private.h -- the store backend interface (struct store_class).
 *
 * store.c owns everything the backends have in common: parsing the URL and
 * picking a backend by its scheme, the writer lock, the revision counter
 * that store_wait() sleeps on, the transaction object, the "did this
 * transaction write anything" bookkeeping, automatic compaction and the
 * store_kvs helpers.  A backend only moves bytes in and out of its storage.
 *
 * Adding a backend (this is where etcd plugs in): write a store-NAME.c that
 * defines a 'const struct store_class store_NAME_class' whose 'scheme' is
 * the URL prefix before the colon ("etcd" for "etcd:URL[,URL]"), declare it
 * below and add it to the table in store.c.  The backend allocates its own
 * state with 'struct store' embedded in it (use CONTAINER_OF to get back).
 *
 * Locking contract: store.c calls every member function with 'store->mutex'
 * held, and holds it from begin() to commit()/abort(), so a backend never
 * sees two calls at once and needs no locking of its own.  The one
 * exception to "outside a transaction": heartbeat() and heartbeat_get() may
 * also be called between begin() and commit()/abort() by the thread that
 * holds the transaction (a heartbeat written then may share its fate).
 *
 * An etcd backend would implement begin..commit as an optimistic STM
 * transaction (reads recorded with their mod_revision, writes buffered, one
 * Txn request with compare-on-mod_revision at commit, EAGAIN-retry left to
 * the caller), keep heartbeats as leases, and serve store_wait() from a
 * watch stream that calls into store.c's revision publishing.
 *
 * Revisions: store.c decides the revision a transaction will commit as
 * (the revision begin() reported, plus one) and passes it to put() and
 * delete(), which record it as the key's mod_revision and append a change
 * log entry (rev, key, value or NULL).  commit() is told the final revision
 * and whether anything was written; if nothing was written it must not
 * change the stored revision.
 *
 * Errors: 0 or a positive errno, exactly as in store.h.
 */
#ifndef WEFT_STORE_PRIVATE_H
#define WEFT_STORE_PRIVATE_H 1

#include <pthread.h>

#include "controller/store.h"

struct store_class {
    /* URL scheme, e.g. "memory" for "memory:" or "sqlite" for "sqlite:PATH".
     */
    const char *scheme;

    /* Opens the store; 'arg' is the URL text after "scheme:".  On success
     * returns a new store whose 'revision' and 'compact_rev' members are
     * set from storage (store.c initializes the rest).  On failure returns
     * NULL and sets '*errp' to a malloc'd message (never NULL 'errp'). */
    struct store *(*open)(const char *arg, char **errp);
    /* Frees everything open() allocated. */
    void (*close)(struct store *);

    /* Starts a write transaction and stores the current committed revision
     * in '*revp' (re-read from storage, since another process may share
     * it).  On failure no transaction is open. */
    int (*begin)(struct store *, int64_t *revp);
    /* Makes the transaction durable.  'wrote' says whether any put() or
     * delete() succeeded; if so, 'rev' is the new revision to record.  On
     * failure the backend has rolled back. */
    int (*commit)(struct store *, bool wrote, int64_t rev);
    /* Discards every write since begin(). */
    void (*abort)(struct store *);

    /* Reads inside the open transaction (they see its own writes); same
     * contracts as store_get() and store_range(). */
    int (*get)(struct store *, const char *key, char **valuep);
    int (*range)(struct store *, const char *prefix, struct store_kvs *out);
    /* Writes inside the open transaction, stamping 'rev' as mod_revision
     * and appending a change-log entry at 'rev'.  delete() returns ENOENT,
     * writing nothing, if 'key' does not exist. */
    int (*put)(struct store *, int64_t rev, const char *key,
               const char *value);
    int (*delete)(struct store *, int64_t rev, const char *key);

    /* Outside any transaction: same contracts as the store_*() functions
     * of the same names.  changes_since() is called only with 'since' >=
     * the compaction revision (store.c checks) and must never split one
     * revision's changes across two calls: it stops before a revision that
     * would take it past 'max' entries, unless that is the first revision,
     * which it returns whole ('max' 0 means unlimited). */
    int (*snapshot)(struct store *, struct store_kvs *out, int64_t *revp);
    int (*changes_since)(struct store *, int64_t since, size_t max,
                         struct store_kvs *out);
    /* Drops change-log entries with revision <= 'compact_rev' and records
     * 'compact_rev' as the new compaction revision. */
    int (*compact)(struct store *, int64_t compact_rev);

    /* Non-revisioned liveness table. */
    int (*heartbeat)(struct store *, const char *name, long long now);
    int (*heartbeat_get)(struct store *, const char *name,
                         long long *whenp);
};

/* The part of every store that store.c manages.  Backends embed it. */
struct store {
    const struct store_class *class;
    char *url;                  /* As passed to store_open(). */

    /* The writer lock: held for a whole transaction and around every other
     * backend call. */
    pthread_mutex_t mutex;

    /* Last committed revision and compaction point, protected by
     * 'rev_mutex' (not 'mutex', so store_wait() and store_revision() never
     * wait behind a transaction).  'rev_cond' is broadcast on every commit
     * that advances 'revision'. */
    pthread_mutex_t rev_mutex;
    pthread_cond_t rev_cond;
    int64_t revision;
    int64_t compact_rev;

    /* Automatic compaction keeps this many revisions of change log. */
    int64_t keep;
};

/* Default number of revisions of change log kept by automatic compaction. */
#define STORE_DEFAULT_KEEP 10000

/* A transaction: only ever one open per store (the writer lock). */
struct store_txn {
    struct store *store;
    int64_t rev;                /* Revision this txn commits as if it
                                 * writes: the begin revision + 1. */
    bool begun;                 /* The backend's begin() succeeded. */
    bool wrote;                 /* A put() or delete() succeeded. */
    int error;                  /* First hard error; commit fails with it. */
    struct store *prev_held;    /* This thread's held store before begin. */
};

extern const struct store_class store_memory_class;
extern const struct store_class store_sqlite_class;

/* Appends a copy of 'key' and 'value' (NULL allowed: a deletion) with
 * 'mod_revision' to 'kvs'. */
void store_kvs_push(struct store_kvs *kvs, const char *key,
                    const char *value, int64_t mod_revision);
/* Appends 'key' and 'value' to 'kvs', taking ownership of both (both
 * malloc'd; 'value' may be NULL). */
void store_kvs_push_owned(struct store_kvs *kvs, char *key, char *value,
                          int64_t mod_revision);

/* Creates the parent directory of 'path' and its ancestors as needed,
 * with mode 0750 (the store holds every tenant's topology).  Returns 0 or
 * a positive errno. */
int store_mkdir_parents(const char *path);

#endif /* WEFT_STORE_PRIVATE_H */
