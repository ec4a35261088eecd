/*
 * store-sqlite.c -- the "sqlite:PATH" store backend (the default).
 *
 * One SQLite file holds four tables:
 *
 *     kv(key TEXT PRIMARY KEY, value TEXT, mod_rev INTEGER)   current data
 *     log(seq INTEGER PRIMARY KEY, rev, key, value)           change log;
 *                                                 value NULL = deletion
 *     meta(name TEXT PRIMARY KEY, value INTEGER)   'revision', 'compact_rev'
 *     heartbeat(name TEXT PRIMARY KEY, ts INTEGER) liveness, no revisions
 *
 * 'seq' (the rowid) orders log entries within one revision.  Every store
 * transaction is exactly one SQLite transaction, BEGIN IMMEDIATE ...
 * COMMIT, so a crash at any point leaves either all of it or none of it;
 * the revision is read back from 'meta' at begin() and so survives
 * restarts (and another process writing the same file).
 *
 * Durability: the journal is WAL and synchronous=FULL, so the WAL is
 * fsync'd at every COMMIT and a transaction that store_commit() reported
 * committed survives power loss, not just a process crash.  (NORMAL would
 * only fsync at checkpoints and could lose the last commits on power
 * loss; the controller tells clients "created" only after the commit, so
 * it must not.)
 *
 * All calls arrive with store->mutex held (see store-private.h), so one
 * connection, opened with SQLITE_OPEN_NOMUTEX, and a cache of prepared
 * statements suffice.  busy_timeout covers a second process on the file.
 */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "controller/store-private.h"
#include "lib/log.h"
#include "lib/util.h"

/* How long a statement waits for another process's lock, in ms. */
#define SQL_BUSY_TIMEOUT_MS 10000

#define SQL_STATEMENTS                                                      \
    SQL_STMT(GET, "SELECT value FROM kv WHERE key = ?1")                    \
    SQL_STMT(RANGE, "SELECT key, value, mod_rev FROM kv"                    \
                    " WHERE key >= ?1 AND key < ?2 ORDER BY key")           \
    SQL_STMT(RANGE_FROM, "SELECT key, value, mod_rev FROM kv"               \
                         " WHERE key >= ?1 ORDER BY key")                   \
    SQL_STMT(PUT, "INSERT INTO kv (key, value, mod_rev) VALUES (?1, ?2, ?3)"\
                  " ON CONFLICT (key) DO UPDATE"                            \
                  " SET value = excluded.value, mod_rev = excluded.mod_rev")\
    SQL_STMT(DELETE, "DELETE FROM kv WHERE key = ?1")                       \
    SQL_STMT(LOG, "INSERT INTO log (rev, key, value) VALUES (?1, ?2, ?3)")  \
    SQL_STMT(CHANGES, "SELECT rev, key, value FROM log WHERE rev > ?1"      \
                      " ORDER BY rev, seq")                                 \
    SQL_STMT(COMPACT, "DELETE FROM log WHERE rev <= ?1")                    \
    SQL_STMT(META_GET, "SELECT value FROM meta WHERE name = ?1")            \
    SQL_STMT(META_SET, "UPDATE meta SET value = ?2 WHERE name = ?1")        \
    SQL_STMT(HB_SET, "INSERT INTO heartbeat (name, ts) VALUES (?1, ?2)"     \
                     " ON CONFLICT (name) DO UPDATE SET ts = excluded.ts")  \
    SQL_STMT(HB_GET, "SELECT ts FROM heartbeat WHERE name = ?1")

enum sql_stmt_id {
#define SQL_STMT(NAME, TEXT) SQL_##NAME,
    SQL_STATEMENTS
#undef SQL_STMT
    SQL_N_STMTS
};

static const char *const sql_texts[SQL_N_STMTS] = {
#define SQL_STMT(NAME, TEXT) TEXT,
    SQL_STATEMENTS
#undef SQL_STMT
};

static const char sql_schema[] =
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY NOT NULL,"
    " value TEXT NOT NULL, mod_rev INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY,"
    " rev INTEGER NOT NULL, key TEXT NOT NULL, value TEXT);"
    "CREATE INDEX IF NOT EXISTS log_rev ON log (rev);"
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY NOT NULL,"
    " value INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0);"
    "INSERT OR IGNORE INTO meta (name, value) VALUES ('compact_rev', 0);"
    "CREATE TABLE IF NOT EXISTS heartbeat (name TEXT PRIMARY KEY NOT NULL,"
    " ts INTEGER NOT NULL);";

struct sql_store {
    struct store up;
    sqlite3 *db;
    sqlite3_stmt *stmts[SQL_N_STMTS];
};

static struct sql_store *
sql_cast(struct store *store)
{
    return CONTAINER_OF(store, struct sql_store, up);
}

/* Maps an SQLite result code to an errno value. */
static int
sql_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return EBUSY;
    case SQLITE_NOMEM:
        return ENOMEM;
    case SQLITE_READONLY:
        return EROFS;
    case SQLITE_FULL:
        return ENOSPC;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        return EACCES;
    case SQLITE_TOOBIG:
        return E2BIG;
    default:
        return EIO;
    }
}

/* Logs a failure of 'what' and returns its errno equivalent. */
static int
sql_fail(struct sql_store *ss, const char *what, int rc)
{
    VLOG_ERR("%s: %s: %s", ss->up.url ? ss->up.url : "sqlite", what,
             sqlite3_errmsg(ss->db));
    return sql_errno(rc);
}

/* Returns the cached statement 'id', reset and with bindings cleared. */
static sqlite3_stmt *
sql_stmt(struct sql_store *ss, enum sql_stmt_id id)
{
    sqlite3_stmt *stmt = ss->stmts[id];
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return stmt;
}

/* Runs 'sql', which returns no rows. */
static int
sql_exec(struct sql_store *ss, const char *sql)
{
    int rc = sqlite3_exec(ss->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sql_fail(ss, sql, rc);
}

/* Steps a statement that returns no rows. */
static int
sql_step_done(struct sql_store *ss, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    int error = rc == SQLITE_DONE ? 0 : sql_fail(ss, what, rc);
    sqlite3_reset(stmt);
    return error;
}

/* Steps 'stmt', which returns at most one row.  Returns 0 with the row
 * current, ENOENT if there is none, or another errno (logged).  The caller
 * reads the row, then resets 'stmt'. */
static int
sql_step_row(struct sql_store *ss, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);

    return (rc == SQLITE_ROW ? 0
            : rc == SQLITE_DONE ? ENOENT
            : sql_fail(ss, what, rc));
}

/* Rolls back the open SQLite transaction, if any (a failed COMMIT may
 * already have). */
static void
sql_rollback(struct sql_store *ss)
{
    if (!sqlite3_get_autocommit(ss->db)) {
        sql_exec(ss, "ROLLBACK");
    }
}

/* Ends the open SQLite transaction: if 'error' is 0, commits it (rolling
 * back if that fails), otherwise rolls it back.  Returns the first error. */
static int
sql_end(struct sql_store *ss, int error)
{
    if (!error) {
        error = sql_exec(ss, "COMMIT");
    }
    if (error) {
        sql_rollback(ss);
    }
    return error;
}

static char *
sql_column_dup(sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    if (!text) {
        return NULL;
    }
    size_t len = sqlite3_column_bytes(stmt, col);
    char *s = xmalloc(len + 1);
    memcpy(s, text, len);
    s[len] = '\0';
    return s;
}

static int
sql_meta_get(struct sql_store *ss, const char *name, int64_t *valuep)
{
    sqlite3_stmt *stmt = sql_stmt(ss, SQL_META_GET);
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    int error = sql_step_row(ss, stmt, "reading meta");
    if (!error) {
        *valuep = sqlite3_column_int64(stmt, 0);
    } else if (error == ENOENT) {
        error = EIO;
        VLOG_ERR("%s: meta '%s' is missing", ss->up.url, name);
    }
    sqlite3_reset(stmt);
    return error;
}

static int
sql_meta_set(struct sql_store *ss, const char *name, int64_t value)
{
    sqlite3_stmt *stmt = sql_stmt(ss, SQL_META_SET);
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, value);
    return sql_step_done(ss, stmt, "writing meta");
}

static void
sql_destroy(struct sql_store *ss)
{
    for (size_t i = 0; i < SQL_N_STMTS; i++) {
        sqlite3_finalize(ss->stmts[i]);
    }
    sqlite3_close(ss->db);
    free(ss);
}

static struct store *
sql_open(const char *path, char **errp)
{
    struct sql_store *ss = xzalloc(sizeof *ss);
    const char *step = NULL;
    int rc;

    if (!*path) {
        *errp = xstrdup("missing file name (use sqlite:PATH)");
        goto error;
    }
    int error = store_mkdir_parents(path);
    if (error) {
        *errp = xasprintf("cannot create parent directory: %s",
                          strerror(error));
        goto error;
    }

    rc = sqlite3_open_v2(path, &ss->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                         | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        step = "open";
        goto sql_error;
    }
    sqlite3_extended_result_codes(ss->db, 1);
    sqlite3_busy_timeout(ss->db, SQL_BUSY_TIMEOUT_MS);

    /* journal_mode returns the resulting mode as a row; make sure it took
     * (it cannot, e.g., on some network file systems). */
    sqlite3_stmt *stmt;
    step = "setting WAL journal mode";
    rc = sqlite3_prepare_v2(ss->db, "PRAGMA journal_mode=WAL", -1, &stmt,
                            NULL);
    if (rc != SQLITE_OK) {
        goto sql_error;
    }
    rc = sqlite3_step(stmt);
    bool wal = (rc == SQLITE_ROW
                && !strcmp((const char *) sqlite3_column_text(stmt, 0),
                           "wal"));
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW) {
        goto sql_error;
    }
    if (!wal) {
        *errp = xstrdup("cannot switch the journal to WAL mode");
        goto error;
    }

    step = "creating schema";
    rc = sqlite3_exec(ss->db, "PRAGMA synchronous=FULL;"
                      "BEGIN IMMEDIATE;", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        goto sql_error;
    }
    rc = sqlite3_exec(ss->db, sql_schema, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
        goto sql_error;
    }
    rc = sqlite3_exec(ss->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
        goto sql_error;
    }

    step = "preparing statements";
    for (size_t i = 0; i < SQL_N_STMTS; i++) {
        rc = sqlite3_prepare_v3(ss->db, sql_texts[i], -1,
                                SQLITE_PREPARE_PERSISTENT, &ss->stmts[i],
                                NULL);
        if (rc != SQLITE_OK) {
            goto sql_error;
        }
    }

    if (sql_meta_get(ss, "revision", &ss->up.revision)
        || sql_meta_get(ss, "compact_rev", &ss->up.compact_rev)) {
        *errp = xasprintf("cannot read revision: %s",
                          sqlite3_errmsg(ss->db));
        goto error;
    }
    return &ss->up;

sql_error:
    *errp = xasprintf("%s: %s", step,
                      ss->db ? sqlite3_errmsg(ss->db) : sqlite3_errstr(rc));
error:
    sql_destroy(ss);
    return NULL;
}

static void
sql_close(struct store *store)
{
    sql_destroy(sql_cast(store));
}

static int
sql_begin(struct store *store, int64_t *revp)
{
    struct sql_store *ss = sql_cast(store);

    int error = sql_exec(ss, "BEGIN IMMEDIATE");
    if (error) {
        return error;
    }
    error = sql_meta_get(ss, "revision", revp);
    if (error) {
        sql_exec(ss, "ROLLBACK");
    }
    return error;
}

static void
sql_abort(struct store *store)
{
    sql_rollback(sql_cast(store));
}

static int
sql_commit(struct store *store, bool wrote, int64_t rev)
{
    struct sql_store *ss = sql_cast(store);

    return sql_end(ss, wrote ? sql_meta_set(ss, "revision", rev) : 0);
}

static int
sql_get(struct store *store, const char *key, char **valuep)
{
    struct sql_store *ss = sql_cast(store);
    sqlite3_stmt *stmt = sql_stmt(ss, SQL_GET);

    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    int error = sql_step_row(ss, stmt, "get");
    if (!error) {
        *valuep = sql_column_dup(stmt, 0);
        error = *valuep ? 0 : EIO;
    }
    sqlite3_reset(stmt);
    return error;
}

/* Appends rows (key, value, mod_rev) of 'stmt' to 'out'. */
static int
sql_collect_kvs(struct sql_store *ss, sqlite3_stmt *stmt,
                struct store_kvs *out)
{
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        store_kvs_push_owned(out, sql_column_dup(stmt, 0),
                             sql_column_dup(stmt, 1),
                             sqlite3_column_int64(stmt, 2));
    }
    int error = rc == SQLITE_DONE ? 0 : sql_fail(ss, "range", rc);
    sqlite3_reset(stmt);
    return error;
}

static int
sql_range(struct store *store, const char *prefix, struct store_kvs *out)
{
    struct sql_store *ss = sql_cast(store);

    /* The smallest string greater than every string starting with 'prefix'
     * is 'prefix' with trailing 0xff bytes dropped and the last remaining
     * byte incremented (SQLite compares TEXT bytewise, like strcmp()). */
    size_t len = strlen(prefix);
    char *limit = xstrdup(prefix);
    while (len > 0 && (unsigned char) limit[len - 1] == 0xff) {
        len--;
    }
    sqlite3_stmt *stmt;
    if (len > 0) {
        limit[len - 1]++;
        stmt = sql_stmt(ss, SQL_RANGE);
        sqlite3_bind_text(stmt, 2, limit, len, SQLITE_STATIC);
    } else {
        stmt = sql_stmt(ss, SQL_RANGE_FROM);
    }
    sqlite3_bind_text(stmt, 1, prefix, -1, SQLITE_STATIC);
    int error = sql_collect_kvs(ss, stmt, out);
    sqlite3_clear_bindings(stmt);
    free(limit);
    return error;
}

static int
sql_log(struct sql_store *ss, int64_t rev, const char *key,
        const char *value)
{
    sqlite3_stmt *stmt = sql_stmt(ss, SQL_LOG);
    sqlite3_bind_int64(stmt, 1, rev);
    sqlite3_bind_text(stmt, 2, key, -1, SQLITE_STATIC);
    if (value) {
        sqlite3_bind_text(stmt, 3, value, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(stmt, 3);
    }
    return sql_step_done(ss, stmt, "log");
}

static int
sql_put(struct store *store, int64_t rev, const char *key, const char *value)
{
    struct sql_store *ss = sql_cast(store);
    sqlite3_stmt *stmt = sql_stmt(ss, SQL_PUT);

    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, rev);
    int error = sql_step_done(ss, stmt, "put");
    return error ? error : sql_log(ss, rev, key, value);
}

static int
sql_delete(struct store *store, int64_t rev, const char *key)
{
    struct sql_store *ss = sql_cast(store);
    sqlite3_stmt *stmt = sql_stmt(ss, SQL_DELETE);

    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    int error = sql_step_done(ss, stmt, "delete");
    if (error) {
        return error;
    }
    if (!sqlite3_changes(ss->db)) {
        return ENOENT;
    }
    return sql_log(ss, rev, key, NULL);
}

static int
sql_snapshot(struct store *store, struct store_kvs *out, int64_t *revp)
{
    struct sql_store *ss = sql_cast(store);

    /* A read transaction: the revision and the rows come from one view
     * even if another process writes meanwhile. */
    int error = sql_exec(ss, "BEGIN");
    if (error) {
        return error;
    }
    error = sql_meta_get(ss, "revision", revp);
    if (!error) {
        sqlite3_stmt *stmt = sql_stmt(ss, SQL_RANGE_FROM);
        sqlite3_bind_text(stmt, 1, "", 0, SQLITE_STATIC);
        error = sql_collect_kvs(ss, stmt, out);
    }
    sql_exec(ss, error ? "ROLLBACK" : "COMMIT");
    return error;
}

/* Frees entries of 'out' from index 'n' on. */
static void
sql_kvs_truncate(struct store_kvs *out, size_t n)
{
    while (out->n > n) {
        struct store_kv *kv = &out->kvs[--out->n];
        free(kv->key);
        free(kv->value);
    }
}

static int
sql_changes_since(struct store *store, int64_t since, size_t max,
                  struct store_kvs *out)
{
    struct sql_store *ss = sql_cast(store);
    sqlite3_stmt *stmt = sql_stmt(ss, SQL_CHANGES);
    size_t base = out->n;       /* Entries before ours. */
    size_t group = out->n;      /* Where the current revision began. */
    int rc;

    /* Whole revisions only; see the contract in store-private.h. */
    sqlite3_bind_int64(stmt, 1, since);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int64_t rev = sqlite3_column_int64(stmt, 0);
        if (out->n > group && out->kvs[group].mod_revision != rev) {
            /* Revision 'group' is complete. */
            if (max && group > base && out->n - base > max) {
                break;
            }
            group = out->n;
            if (max && out->n - base >= max) {
                break;
            }
        }
        store_kvs_push_owned(out, sql_column_dup(stmt, 1),
                             sql_column_dup(stmt, 2), rev);
    }
    int error = (rc == SQLITE_DONE || rc == SQLITE_ROW
                 ? 0 : sql_fail(ss, "changes", rc));
    sqlite3_reset(stmt);
    if (error) {
        sql_kvs_truncate(out, base);
    } else if (max && group > base && out->n - base > max) {
        /* The last revision read would go past 'max'. */
        sql_kvs_truncate(out, group);
    }
    return error;
}

static int
sql_compact(struct store *store, int64_t compact_rev)
{
    struct sql_store *ss = sql_cast(store);

    int error = sql_exec(ss, "BEGIN IMMEDIATE");
    if (error) {
        return error;
    }
    sqlite3_stmt *stmt = sql_stmt(ss, SQL_COMPACT);
    sqlite3_bind_int64(stmt, 1, compact_rev);
    error = sql_step_done(ss, stmt, "compact");
    if (!error) {
        error = sql_meta_set(ss, "compact_rev", compact_rev);
    }
    return sql_end(ss, error);
}

static int
sql_heartbeat(struct store *store, const char *name, long long now)
{
    struct sql_store *ss = sql_cast(store);
    sqlite3_stmt *stmt = sql_stmt(ss, SQL_HB_SET);

    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, now);
    return sql_step_done(ss, stmt, "heartbeat");
}

static int
sql_heartbeat_get(struct store *store, const char *name, long long *whenp)
{
    struct sql_store *ss = sql_cast(store);
    sqlite3_stmt *stmt = sql_stmt(ss, SQL_HB_GET);

    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    int error = sql_step_row(ss, stmt, "heartbeat");
    if (!error) {
        *whenp = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_reset(stmt);
    return error;
}

const struct store_class store_sqlite_class = {
    .scheme = "sqlite",
    .open = sql_open,
    .close = sql_close,
    .begin = sql_begin,
    .commit = sql_commit,
    .abort = sql_abort,
    .get = sql_get,
    .range = sql_range,
    .put = sql_put,
    .delete = sql_delete,
    .snapshot = sql_snapshot,
    .changes_since = sql_changes_since,
    .compact = sql_compact,
    .heartbeat = sql_heartbeat,
    .heartbeat_get = sql_heartbeat_get,
};
