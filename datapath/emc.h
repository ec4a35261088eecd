/*
 * emc.h -- the exact-match cache (first cache level), one per datapath
 * thread.
 *
 * A fixed array of EMC_ENTRIES entries, each the full flow key, its hash
 * and a referenced pointer to a megaflow.  A key hashes to two candidate
 * slots; lookup compares the hash then the key.  A hit on a dead megaflow
 * is a miss (and the entry is cleared).  Insertion replaces the empty or
 * the older-looking of the two slots.  The cache never changes a result,
 * it only saves the megaflow lookup: correctness lives in the megaflow
 * table.
 */
#ifndef WEFT_EMC_H
#define WEFT_EMC_H 1

#include "datapath/megaflow.h"

#define EMC_ENTRIES 8192        /* Power of 2. */

struct emc;

struct emc *emc_create(void);
void emc_destroy(struct emc *);                 /* Accepts NULL. */

/* Returns the live megaflow cached for 'key' (whose flow_key_hash with
 * basis 0 is 'hash'), or NULL. */
struct megaflow *emc_lookup(struct emc *, const struct flow_key *key,
                            uint32_t hash);

/* Caches 'flow' for 'key', taking a reference on it. */
void emc_insert(struct emc *, const struct flow_key *key, uint32_t hash,
                struct megaflow *flow);

/* Drops every entry (and its reference). */
void emc_clear(struct emc *);

/* Hits/misses since creation. */
void emc_stats(const struct emc *, uint64_t *hits, uint64_t *misses);

#endif /* WEFT_EMC_H */
