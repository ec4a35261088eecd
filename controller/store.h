/*
 * store.h -- the controller's only persistent state, with etcd-like
 * semantics.
 *
 * The store maps string keys ("networks/<uuid>") to JSON text values.  A
 * single global revision counts committed transactions: every transaction
 * that changes anything gets the next revision, and every key it wrote or
 * deleted records that revision as its mod_revision.  A change log keeps the
 * (revision, key, new value or deletion) of recent transactions so that a
 * watcher can ask "everything after revision R".  Old log entries are
 * compacted away; asking for a revision older than the compaction point
 * fails with ESTALE, and the watcher must reload a snapshot.
 *
 * Liveness (agent heartbeats) is kept apart from the revisioned keys, like
 * etcd leases: touching a heartbeat does not create a revision and does not
 * wake watchers.
 *
 * Backends: "sqlite:PATH" (default; durable, one file, WAL journal,
 * synchronous commits), "memory:" (tests), later "etcd:URL[,URL]".
 *
 * Threading: a struct store may be used from any number of threads; each
 * transaction is serialized with the others (one writer at a time), and a
 * transaction must be used by the thread that began it.  A thread inside a
 * transaction may still call store_revision(), store_compact_revision()
 * and the heartbeat functions (a heartbeat written then may be rolled back
 * with the transaction), but store_snapshot(), store_changes_since() and
 * store_compact() fail there with EDEADLK, and a second store_begin() on
 * the same store aborts the process.  Error convention: 0 or a positive
 * errno.
 */
#ifndef WEFT_STORE_H
#define WEFT_STORE_H 1

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct store;
struct store_txn;

/* One key/value as returned by reads and by the change log.  'value' is
 * NULL for a deletion event. */
struct store_kv {
    char *key;
    char *value;
    int64_t mod_revision;
};

/* An owned array of store_kv. */
struct store_kvs {
    struct store_kv *kvs;
    size_t n;
    size_t allocated;
};

void store_kvs_init(struct store_kvs *);
void store_kvs_destroy(struct store_kvs *);   /* Accepts NULL. */

/* Opens the store named by 'url' ("sqlite:/var/lib/weft/weft.db",
 * "memory:").  On failure returns NULL and, if 'errp' is nonnull, sets
 * '*errp' to a malloc'd message the caller frees. */
struct store *store_open(const char *url, char **errp);
void store_close(struct store *);              /* Accepts NULL. */

/* Current (last committed) revision; 0 for an empty store. */
int64_t store_revision(struct store *);
/* Oldest revision R such that store_changes_since(R) still succeeds. */
int64_t store_compact_revision(struct store *);

/* Begins a transaction.  Never returns NULL (waits for the writer lock).
 * All reads inside see the transaction's own writes. */
struct store_txn *store_begin(struct store *);
/* Commits.  On success returns 0 and stores the new revision in '*revp'
 * (the unchanged current revision if the transaction wrote nothing).  On
 * failure the transaction is rolled back; either way 'txn' is freed. */
int store_commit(struct store_txn *txn, int64_t *revp);
/* Rolls back and frees 'txn'.  Accepts NULL. */
void store_abort(struct store_txn *txn);

/* Reads 'key'.  Returns 0 and a malloc'd copy of the value in '*valuep'
 * (caller frees), or ENOENT. */
int store_get(struct store_txn *, const char *key, char **valuep);
/* Appends every key starting with 'prefix', in key order, to 'out'. */
int store_range(struct store_txn *, const char *prefix,
                struct store_kvs *out);
/* Creates or replaces 'key'. */
int store_put(struct store_txn *, const char *key, const char *value);
/* Deletes 'key'.  Returns 0, or ENOENT if absent. */
int store_delete(struct store_txn *, const char *key);

/* Reads every key (a consistent snapshot) into 'out' and the revision it
 * reflects into '*revp'. */
int store_snapshot(struct store *, struct store_kvs *out, int64_t *revp);

/* Appends every change with revision > 'since' to 'out' in revision order
 * (value NULL = deleted), at most 'max' of them (then the caller asks again
 * from the last revision it got).  Returns ESTALE if 'since' is older than
 * store_compact_revision(), 0 otherwise (possibly with nothing appended).
 * One revision's changes are never split across calls: the result ends at a
 * revision boundary, and a first revision with more than 'max' changes is
 * returned whole.  'max' 0 means no limit. */
int store_changes_since(struct store *, int64_t since, size_t max,
                        struct store_kvs *out);

/* Blocks until the revision exceeds 'since' or 'timeout_ms' passes.
 * Returns true if it does exceed 'since'. */
bool store_wait(struct store *, int64_t since, int timeout_ms);

/* Drops change-log entries so that at most 'keep' revisions remain. */
int store_compact(struct store *, int64_t keep);

/* Liveness: records that 'name' was alive at wall-clock 'now' (seconds),
 * and reads it back (ENOENT if never touched).  No revision, no watch. */
int store_heartbeat(struct store *, const char *name, long long now);
int store_heartbeat_get(struct store *, const char *name, long long *whenp);

#endif /* WEFT_STORE_H */
