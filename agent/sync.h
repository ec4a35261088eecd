/*
 * sync.h -- the agent's copy of the controller's state, kept current.
 *
 * A sync thread talks to the controller (docs/agent-protocol.md) with
 * blocking HTTP and hands what it learns to the main thread through an
 * event queue (evq.h), so that the main thread -- which owns the topology
 * and the datapath -- never waits on the network:
 *
 *   1. GET /v2.0/weft/snapshot -> one SYNC_SNAPSHOT item (revision R, the
 *      deployment config, every object);
 *   2. GET /v2.0/weft/watch?since=R -> SYNC_EVENTS items, in order; R
 *      advances to each reply's revision;
 *   3. 410 RevisionCompacted -> back to 1;
 *   4. no reply (controller down, network cut, 5xx) -> the main thread
 *      keeps forwarding from what it has; the sync thread retries with
 *      backoff (0.5 s doubling to 5 s) and resumes at step 2 from the last
 *      revision it saw, so nothing is reloaded needlessly.
 *
 * The main thread calls sync_wait() before poll_block() and then drains
 * sync_pop() applying each item in order.
 */
#ifndef WEFT_AGENT_SYNC_H
#define WEFT_AGENT_SYNC_H 1

#include <stdbool.h>
#include <stddef.h>

struct json_t;

/* One store object: its key ("ports/<id>") and its value as parsed JSON
 * (jansson), or NULL for a deletion.  The sync thread parses each reply
 * once and hands the values over whole (it keeps no reference to them), so
 * the main thread reads fields (topology_update_json()) without parsing
 * text again. */
struct sync_object {
    char *key;
    struct json_t *value;
};

enum sync_item_type {
    SYNC_SNAPSHOT,              /* Replace everything with 'objs'. */
    SYNC_EVENTS,                /* Apply 'objs' in order. */
};

struct sync_item {
    enum sync_item_type type;
    long long revision;         /* State after applying this item. */
    char encap[16];             /* SYNC_SNAPSHOT: config.encap, or "". */
    struct sync_object *objs;
    size_t n;
};

void sync_item_destroy(struct sync_item *);     /* Accepts NULL. */

/* Parse the body of a snapshot / watch reply into a new item in '*itemp'
 * (owned by the caller).  Return 0, or EINVAL if 'body' is not valid JSON
 * of the documented shape (then '*itemp' is NULL).  Objects with a
 * missing or non-string key are skipped. */
int sync_parse_snapshot(const char *body, struct sync_item **itemp);
int sync_parse_watch(const char *body, struct sync_item **itemp);

struct sync;

/* Creates a sync client for the controller at 'url' and starts its
 * thread.  Returns NULL on failure. */
struct sync *sync_create(const char *url);
/* Stops the thread (aborting an outstanding request) and frees
 * everything, including items not yet popped.  Accepts NULL. */
void sync_destroy(struct sync *);

/* Main thread: the next item, or NULL.  The caller destroys it. */
struct sync_item *sync_pop(struct sync *);
void sync_wait(struct sync *);

/* True while the last request to the controller got a reply. */
bool sync_is_connected(const struct sync *);

#endif /* WEFT_AGENT_SYNC_H */
