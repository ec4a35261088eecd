/*
 * emc.c -- the exact-match cache (see emc.h).
 *
 * Layout: EMC_ENTRIES entries of exactly two cache lines, cache-line
 * aligned.  The first line holds the hash, the megaflow pointer and the
 * first 48 bytes of the key, so a lookup that misses on the hash touches
 * one line per candidate.
 *
 * A key's two candidate slots are 'hash & EMC_MASK' and
 * '(hash >> EMC_SHIFT) & EMC_MASK'; with EMC_ENTRIES == 8192 they use
 * disjoint bits of the hash.  'hash' must be flow_key_hash(key, 0), which
 * is by definition hash_words64((const uint64_t *) key, FLOW_KEY_U64S, 0);
 * the datapath computes it once per packet and the cache never rehashes.
 */
#include "datapath/emc.h"

#include <string.h>

#define EMC_MASK (EMC_ENTRIES - 1)
#define EMC_SHIFT 13
BUILD_ASSERT_DECL(!(EMC_ENTRIES & (EMC_ENTRIES - 1)));

struct emc_entry {
    uint32_t hash;
    uint32_t pad;
    struct megaflow *flow;      /* Referenced, or NULL if the slot is
                                 * empty. */
    struct flow_key key;
    uint8_t pad2[2 * CACHE_LINE - 16 - sizeof(struct flow_key)];
};
BUILD_ASSERT_DECL(sizeof(struct emc_entry) == 2 * CACHE_LINE);

struct emc {
    struct emc_entry entries[EMC_ENTRIES];
    uint64_t hits;
    uint64_t misses;
};

static inline bool
emc_entry_matches(const struct emc_entry *e, const struct flow_key *key,
                  uint32_t hash)
{
    return e->hash == hash && e->flow && flow_key_equal(&e->key, key);
}

static void
emc_entry_clear(struct emc_entry *e)
{
    megaflow_unref(e->flow);
    e->flow = NULL;
    e->hash = 0;
}

struct emc *
emc_create(void)
{
    void *p = NULL;

    if (posix_memalign(&p, CACHE_LINE, sizeof(struct emc))) {
        return NULL;
    }
    memset(p, 0, sizeof(struct emc));
    return p;
}

void
emc_destroy(struct emc *emc)
{
    if (emc) {
        emc_clear(emc);
        free(emc);
    }
}

struct megaflow *
emc_lookup(struct emc *emc, const struct flow_key *key, uint32_t hash)
{
    struct emc_entry *e = &emc->entries[hash & EMC_MASK];

    if (!emc_entry_matches(e, key, hash)) {
        e = &emc->entries[(hash >> EMC_SHIFT) & EMC_MASK];
        if (!emc_entry_matches(e, key, hash)) {
            emc->misses++;
            return NULL;
        }
    }
    if (unlikely(e->flow->dead)) {
        emc_entry_clear(e);
        emc->misses++;
        return NULL;
    }
    emc->hits++;
    return e->flow;
}

/* Inserting a dead megaflow does nothing: it would only be a miss. */
void
emc_insert(struct emc *emc, const struct flow_key *key, uint32_t hash,
           struct megaflow *flow)
{
    struct emc_entry *a = &emc->entries[hash & EMC_MASK];
    struct emc_entry *b = &emc->entries[(hash >> EMC_SHIFT) & EMC_MASK];
    struct emc_entry *victim;

    if (flow->dead) {
        return;
    }

    if (emc_entry_matches(a, key, hash)) {
        victim = a;
    } else if (emc_entry_matches(b, key, hash)) {
        victim = b;
    } else if (!a->flow || a->flow->dead) {
        victim = a;
    } else if (!b->flow || b->flow->dead) {
        victim = b;
    } else if (a->flow->used_msec != b->flow->used_msec) {
        /* Both live: evict the one whose megaflow was used longer ago. */
        victim = a->flow->used_msec < b->flow->used_msec ? a : b;
    } else {
        /* Pseudo-random, as OVS does. */
        victim = a->hash < b->hash ? a : b;
    }

    megaflow_ref(flow);
    megaflow_unref(victim->flow);
    victim->flow = flow;
    victim->hash = hash;
    victim->key = *key;
}

void
emc_clear(struct emc *emc)
{
    for (size_t i = 0; i < EMC_ENTRIES; i++) {
        if (emc->entries[i].flow) {
            emc_entry_clear(&emc->entries[i]);
        }
    }
}

void
emc_stats(const struct emc *emc, uint64_t *hits, uint64_t *misses)
{
    *hits = emc->hits;
    *misses = emc->misses;
}
