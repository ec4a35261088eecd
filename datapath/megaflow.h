/*
 * megaflow.h -- the wildcard flow classifier (second cache level).
 *
 * A megaflow is (masked key, mask, priority) -> actions, with tags and
 * statistics.  The mask is built by the simulation: every bit of the flow
 * key it read is 1, everything else 0 (see flow_wc in lib/flow-key.h), so a
 * megaflow stands for every packet that would have taken the same path
 * through the virtual topology.
 *
 * Implementation: tuple-space search.  Megaflows with equal masks share a
 * subtable (a hash table of masked keys); a lookup probes each subtable in
 * order of decreasing maximum priority and stops when no later subtable can
 * beat the best match.  Simulation-generated megaflows never overlap, so in
 * the agent every priority is 0 and the first hit wins.
 *
 * Lifetime: a megaflow is owned by its table.  mf_remove() unlinks it and
 * drops the table's reference; the memory lives until the last reference
 * (taken by the exact-match cache with megaflow_ref()) is released, and a
 * removed megaflow has 'dead' set so that caches holding it treat it as a
 * miss.  Single-threaded: one datapath thread owns a table.
 */
#ifndef WEFT_MEGAFLOW_H
#define WEFT_MEGAFLOW_H 1

#include "datapath/actions.h"
#include "datapath/flow-tags.h"
#include "lib/flow-key.h"

struct megaflow {
    struct flow_key key;        /* Already masked. */
    struct flow_key mask;
    int priority;
    struct dp_actions actions;
    struct flow_tags tags;

    /* Statistics, updated by the datapath on each hit. */
    uint64_t n_packets;
    uint64_t n_bytes;
    long long used_msec;        /* Last hit (time_msec()), or creation. */
    long long created_msec;

    /* Kernel fast path (kpath.h): the mask slot the flow is offloaded
     * under, or -1; the kernel's counters at the last sync. */
    int kp_mask;
    uint64_t kp_packets;
    uint64_t kp_bytes;

    bool dead;                  /* Removed from the table. */
    unsigned refcnt;            /* Table's reference + caches'. */
    uint32_t hash;              /* Hash of the masked key. */
    struct megaflow *next;      /* Subtable bucket chain (private). */
    struct mf_subtable *subtable;   /* Private. */
};

struct mf_table;

struct mf_table *mf_create(void);
void mf_destroy(struct mf_table *);             /* Accepts NULL. */

/* Calls 'hook' for every flow that leaves the table (removed, replaced,
 * invalidated, expired, flushed), right after it is marked dead. */
typedef void mf_remove_hook(void *aux, struct megaflow *);
void mf_set_remove_hook(struct mf_table *, mf_remove_hook *, void *aux);

/* Inserts a megaflow matching 'key' under 'mask' (the key is masked here),
 * taking ownership of 'actions' (its contents are moved; '*actions' is left
 * empty) and copying 'tags'.  If an identical (masked key, mask, priority)
 * already exists, it is replaced.  Returns the new megaflow (owned by the
 * table). */
struct megaflow *mf_insert(struct mf_table *, const struct flow_key *key,
                           const struct flow_key *mask, int priority,
                           struct dp_actions *actions,
                           const struct flow_tags *tags);

/* Returns the highest-priority megaflow matching 'key', or NULL. */
struct megaflow *mf_lookup(const struct mf_table *,
                           const struct flow_key *key);

/* Unlinks 'flow', marks it dead and drops the table's reference. */
void mf_remove(struct mf_table *, struct megaflow *flow);

/* Removes every megaflow whose tags contain any tag of 'changed' (every
 * megaflow if changed->all).  Returns how many were removed. */
size_t mf_invalidate(struct mf_table *, const struct tag_set *changed);

/* Removes every megaflow not used since 'now - idle_msec'.  Returns how
 * many were removed. */
size_t mf_expire(struct mf_table *, long long now, long long idle_msec);

/* Removes all megaflows. */
void mf_flush(struct mf_table *);

size_t mf_count(const struct mf_table *);
size_t mf_n_subtables(const struct mf_table *);

/* Calls 'cb' for every megaflow (in no particular order).  'cb' must not
 * modify the table. */
void mf_for_each(const struct mf_table *,
                 void (*cb)(const struct megaflow *, void *aux), void *aux);

/* Reference counting for caches that keep pointers to megaflows. */
void megaflow_ref(struct megaflow *);
void megaflow_unref(struct megaflow *);         /* Accepts NULL. */

#endif /* WEFT_MEGAFLOW_H */
