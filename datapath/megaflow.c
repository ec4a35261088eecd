/*
 * megaflow.c -- tuple-space-search classifier (see megaflow.h).
 *
 * Map of the data structures:
 *
 *   mf_table
 *     subtables[]  sorted by decreasing max_priority
 *       mf_subtable  one per distinct mask
 *         words[]    indices of the mask's nonzero 64-bit words, and the
 *         mwords[]   mask values of those words: masking, hashing and
 *                    comparing touch only these (a typical simulation mask
 *                    has 3-6 nonzero words out of 12)
 *         slots[]    open-addressed, linear-probing hash table of
 *                    { hash, head megaflow }; a power of 2, at most half
 *                    full; deletion by backward shift (no tombstones)
 *           head --next--> megaflows with the same masked key and mask
 *                          but lower priority, in decreasing priority
 *
 * The hash of a masked key in a subtable is computed over the subtable's
 * nonzero mask words only (mf_subtable_hash()), identically on insert and on
 * lookup; it is what megaflow->hash holds.  It is not flow_key_hash(): that
 * one (the exact-match cache's) covers all FLOW_KEY_U64S words.
 *
 * Invariants:
 *   - Every megaflow in a subtable has key == key & subtable->mask, so the
 *     words outside words[] are zero and comparing words[] is a full
 *     comparison.
 *   - No subtable is empty; subtable->max_priority is the maximum priority
 *     of its megaflows and n_max counts the megaflows that have it.
 *   - A linked megaflow has refcnt >= 1 (the table's reference), !dead, and
 *     subtable pointing to its subtable.  An unlinked one has dead set,
 *     subtable NULL, next NULL.
 *
 * Ranking: among subtables of equal max_priority (in the agent, all of
 * them) the order is free, so mf_expire(), which the datapath calls
 * periodically, sorts them by how many lookups they matched since the last
 * call: the busiest masks are probed first.
 *
 * Single-threaded, like the table itself.
 */
#include "datapath/megaflow.h"

#include <limits.h>
#include <string.h>

struct mf_slot {
    uint32_t hash;
    struct megaflow *flow;      /* Head of the same-key chain, or NULL. */
};

struct mf_subtable {
    /* Read by every lookup. */
    int max_priority;
    uint32_t n_words;                   /* Nonzero mask words. */
    size_t slot_mask;                   /* n_slots - 1. */
    struct mf_slot *slots;
    uint8_t words[FLOW_KEY_U64S];       /* Their indices, ascending. */
    uint64_t mwords[FLOW_KEY_U64S];     /* Their values. */
    uint64_t hits;                      /* Lookups that matched here since
                                         * the last ranking. */

    /* Maintenance only. */
    size_t n_keys;                      /* Occupied slots. */
    size_t n_flows;                     /* Megaflows, chains included. */
    size_t n_max;                       /* Megaflows at max_priority. */
    size_t index;                       /* Position in table->subtables. */
    struct mf_table *table;
    struct flow_key mask;
};

struct mf_table {
    struct mf_subtable **subtables;     /* Decreasing max_priority. */
    size_t n_subtables;
    size_t allocated;
    size_t n_flows;
    mf_remove_hook *on_remove;          /* Or NULL. */
    void *on_remove_aux;
};

#define MF_MIN_SLOTS 16

/* A growable array of megaflow pointers, for removal after a scan. */
struct mf_vec {
    struct megaflow **flows;
    size_t n, allocated;
};

static void *mf_alloc_aligned(size_t size);
static struct mf_subtable *mf_subtable_find(const struct mf_table *,
                                            const struct flow_key *mask);
static struct mf_subtable *mf_subtable_create(struct mf_table *,
                                              const struct flow_key *mask);
static void mf_subtable_destroy(struct mf_subtable *);
static void mf_subtable_resize(struct mf_subtable *, size_t n_slots);
static struct mf_slot *mf_subtable_find_slot(const struct mf_subtable *,
                                             const struct flow_key *key,
                                             uint32_t hash);
static void mf_subtable_delete_slot(struct mf_subtable *, struct mf_slot *);
static void mf_subtable_update_max(struct mf_subtable *);
static void mf_table_resort(struct mf_table *, struct mf_subtable *);
static void mf_table_rank(struct mf_table *);
static void mf_unlink(struct megaflow *);
static void mf_removed(struct mf_table *, struct megaflow *);
static void mf_vec_push(struct mf_vec *, struct megaflow *);
static size_t mf_remove_matching(struct mf_table *,
                                 bool (*pred)(const struct megaflow *,
                                              const void *aux),
                                 const void *aux);

/* Hash of 'key' masked by 'st''s mask, over the nonzero mask words only.
 * 'masked' receives those masked words (in words[] order). */
static inline uint32_t
mf_subtable_hash(const struct mf_subtable *st, const struct flow_key *key,
                 uint64_t masked[FLOW_KEY_U64S])
{
    const uint64_t *k = (const uint64_t *) key;
    uint32_t hash = 0;

    for (uint32_t i = 0; i < st->n_words; i++) {
        uint64_t w = k[st->words[i]] & st->mwords[i];
        masked[i] = w;
        hash = hash_add64(hash, w);
    }
    return hash_finish(hash, st->n_words * 8);
}

/* True if megaflow 'flow' of 'st' has the masked words 'masked'. */
static inline bool
mf_subtable_key_equal(const struct mf_subtable *st,
                      const struct megaflow *flow,
                      const uint64_t masked[FLOW_KEY_U64S])
{
    const uint64_t *k = (const uint64_t *) &flow->key;
    uint64_t diff = 0;

    for (uint32_t i = 0; i < st->n_words; i++) {
        diff |= k[st->words[i]] ^ masked[i];
    }
    return !diff;
}

struct mf_table *
mf_create(void)
{
    return xzalloc(sizeof(struct mf_table));
}

void
mf_set_remove_hook(struct mf_table *table, mf_remove_hook *hook, void *aux)
{
    table->on_remove = hook;
    table->on_remove_aux = aux;
}

/* Every flow leaving the table passes here, once, already marked dead. */
static void
mf_removed(struct mf_table *table, struct megaflow *flow)
{
    if (table->on_remove) {
        table->on_remove(table->on_remove_aux, flow);
    }
}

void
mf_destroy(struct mf_table *table)
{
    if (table) {
        mf_flush(table);
        free(table->subtables);
        free(table);
    }
}

struct megaflow *
mf_insert(struct mf_table *table, const struct flow_key *key,
          const struct flow_key *mask, int priority,
          struct dp_actions *actions, const struct flow_tags *tags)
{
    uint64_t masked[FLOW_KEY_U64S];
    struct mf_subtable *st;
    struct megaflow *flow;
    struct mf_slot *slot;

    flow = mf_alloc_aligned(sizeof *flow);
    memset(flow, 0, sizeof *flow);
    flow_key_apply_mask(&flow->key, key, mask);
    flow->mask = *mask;
    flow->priority = priority;
    flow->actions = *actions;
    dp_actions_init(actions);
    flow->tags = *tags;
    flow->created_msec = flow->used_msec = time_msec();
    flow->refcnt = 1;
    flow->kp_mask = -1;

    st = mf_subtable_find(table, mask);
    if (!st) {
        st = mf_subtable_create(table, mask);
    }
    flow->hash = mf_subtable_hash(st, &flow->key, masked);
    flow->subtable = st;

    slot = mf_subtable_find_slot(st, &flow->key, flow->hash);
    if (slot->flow) {
        /* Same masked key: find the place in the chain by priority. */
        struct megaflow **prev = &slot->flow;
        struct megaflow *old;

        while (*prev && (*prev)->priority > priority) {
            prev = &(*prev)->next;
        }
        old = *prev;
        if (old && old->priority == priority) {
            /* Replace 'old' in place. */
            flow->next = old->next;
            *prev = flow;
            old->next = NULL;
            old->subtable = NULL;
            old->dead = true;
            mf_removed(table, old);
            megaflow_unref(old);
            return flow;
        }
        flow->next = old;
        *prev = flow;
    } else {
        slot->hash = flow->hash;
        slot->flow = flow;
        st->n_keys++;
        if (st->n_keys * 2 > st->slot_mask + 1) {
            mf_subtable_resize(st, (st->slot_mask + 1) * 2);
        }
    }

    st->n_flows++;
    table->n_flows++;
    if (st->n_flows == 1 || priority > st->max_priority) {
        st->max_priority = priority;
        st->n_max = 1;
        mf_table_resort(table, st);
    } else if (priority == st->max_priority) {
        st->n_max++;
    }
    return flow;
}

struct megaflow *
mf_lookup(const struct mf_table *table, const struct flow_key *key)
{
    struct megaflow *best = NULL;

    for (size_t i = 0; i < table->n_subtables; i++) {
        struct mf_subtable *st = table->subtables[i];
        uint64_t masked[FLOW_KEY_U64S];
        uint32_t hash;

        if (best && st->max_priority <= best->priority) {
            break;
        }

        hash = mf_subtable_hash(st, key, masked);
        for (size_t j = hash & st->slot_mask; ; j = (j + 1) & st->slot_mask) {
            const struct mf_slot *slot = &st->slots[j];

            if (!slot->flow) {
                break;
            }
            if (slot->hash == hash
                && mf_subtable_key_equal(st, slot->flow, masked)) {
                if (!best || slot->flow->priority > best->priority) {
                    best = slot->flow;
                }
                st->hits++;
                break;
            }
        }
    }
    return best;
}

/* Removing a megaflow that is already dead (removed earlier, kept alive by
 * a cache's reference) does nothing. */
void
mf_remove(struct mf_table *table, struct megaflow *flow)
{
    if (!flow || flow->dead) {
        return;
    }
    ASSERT(flow->subtable && flow->subtable->table == table);
    mf_unlink(flow);
    megaflow_unref(flow);
}

/* The tags of one mf_invalidate() call, for mf_tags_hit(). */
struct mf_changed {
    const struct tag_set *changed;
    uint64_t *set;              /* For many tags, an open-addressed set of
                                 * them (0 is the empty marker), or NULL. */
    size_t set_mask;
    bool has_zero;              /* A zero tag is in 'changed'. */
};

/* Whether 'f' carries any tag of 'aux' (a struct mf_changed). */
static bool
mf_tags_hit(const struct megaflow *f, const void *aux)
{
    const struct mf_changed *c = aux;

    if (f->tags.overflow) {
        return true;
    }
    if (!c->set) {
        for (size_t k = 0; k < c->changed->n; k++) {
            if (flow_tags_contains(&f->tags, c->changed->tags[k])) {
                return true;
            }
        }
        return false;
    }
    for (size_t k = 0; k < f->tags.n; k++) {
        uint64_t tag = f->tags.tags[k];

        if (!tag) {
            if (c->has_zero) {
                return true;
            }
            continue;
        }
        for (size_t s = hash_add64(0, tag) & c->set_mask; c->set[s];
             s = (s + 1) & c->set_mask) {
            if (c->set[s] == tag) {
                return true;
            }
        }
    }
    return false;
}

size_t
mf_invalidate(struct mf_table *table, const struct tag_set *changed)
{
    struct mf_changed c = { changed, NULL, 0, false };
    size_t n;

    if (changed->all) {
        n = table->n_flows;
        mf_flush(table);
        return n;
    }
    if (!changed->n) {
        return 0;
    }

    if (changed->n > 8) {
        size_t n_set = 16;

        while (n_set < changed->n * 4) {
            n_set *= 2;
        }
        c.set = xcalloc(n_set, sizeof *c.set);
        c.set_mask = n_set - 1;
        for (size_t i = 0; i < changed->n; i++) {
            uint64_t tag = changed->tags[i];
            size_t j;

            if (!tag) {
                c.has_zero = true;
                continue;
            }
            j = hash_add64(0, tag) & c.set_mask;
            while (c.set[j] && c.set[j] != tag) {
                j = (j + 1) & c.set_mask;
            }
            c.set[j] = tag;
        }
    }
    n = mf_remove_matching(table, mf_tags_hit, &c);
    free(c.set);
    return n;
}

/* Whether 'f' was last used before the time '*aux' (a long long). */
static bool
mf_idle(const struct megaflow *f, const void *aux)
{
    return f->used_msec < *(const long long *) aux;
}

size_t
mf_expire(struct mf_table *table, long long now, long long idle_msec)
{
    long long limit = now - idle_msec;
    size_t n = mf_remove_matching(table, mf_idle, &limit);

    mf_table_rank(table);
    return n;
}

void
mf_flush(struct mf_table *table)
{
    for (size_t i = 0; i < table->n_subtables; i++) {
        struct mf_subtable *st = table->subtables[i];

        for (size_t j = 0; j <= st->slot_mask; j++) {
            struct megaflow *f = st->slots[j].flow;

            while (f) {
                struct megaflow *next = f->next;

                f->next = NULL;
                f->subtable = NULL;
                f->dead = true;
                mf_removed(table, f);
                megaflow_unref(f);
                f = next;
            }
        }
        mf_subtable_destroy(st);
    }
    table->n_subtables = 0;
    table->n_flows = 0;
}

size_t
mf_count(const struct mf_table *table)
{
    return table->n_flows;
}

size_t
mf_n_subtables(const struct mf_table *table)
{
    return table->n_subtables;
}

void
mf_for_each(const struct mf_table *table,
            void (*cb)(const struct megaflow *, void *aux), void *aux)
{
    for (size_t i = 0; i < table->n_subtables; i++) {
        const struct mf_subtable *st = table->subtables[i];

        for (size_t j = 0; j <= st->slot_mask; j++) {
            for (struct megaflow *f = st->slots[j].flow; f; f = f->next) {
                cb(f, aux);
            }
        }
    }
}

void
megaflow_ref(struct megaflow *flow)
{
    ASSERT(flow->refcnt > 0);
    flow->refcnt++;
}

void
megaflow_unref(struct megaflow *flow)
{
    if (flow) {
        ASSERT(flow->refcnt > 0);
        if (!--flow->refcnt) {
            ASSERT(flow->dead);
            dp_actions_destroy(&flow->actions);
            free(flow);
        }
    }
}

/* Static helpers. */

static void *
mf_alloc_aligned(size_t size)
{
    void *p = NULL;

    if (posix_memalign(&p, CACHE_LINE, size)) {
        fprintf(stderr, "virtual memory exhausted\n");
        abort();
    }
    return p;
}

static struct mf_subtable *
mf_subtable_find(const struct mf_table *table, const struct flow_key *mask)
{
    for (size_t i = 0; i < table->n_subtables; i++) {
        struct mf_subtable *st = table->subtables[i];
        if (!memcmp(&st->mask, mask, sizeof *mask)) {
            return st;
        }
    }
    return NULL;
}

/* Creates an empty subtable for 'mask' and appends it to 'table' (the
 * caller inserts a megaflow and resorts). */
static struct mf_subtable *
mf_subtable_create(struct mf_table *table, const struct flow_key *mask)
{
    const uint64_t *m = (const uint64_t *) mask;
    struct mf_subtable *st;

    st = mf_alloc_aligned(sizeof *st);
    memset(st, 0, sizeof *st);
    st->mask = *mask;
    st->table = table;
    st->max_priority = INT_MIN;
    for (size_t i = 0; i < FLOW_KEY_U64S; i++) {
        if (m[i]) {
            st->words[st->n_words] = i;
            st->mwords[st->n_words] = m[i];
            st->n_words++;
        }
    }
    st->slot_mask = MF_MIN_SLOTS - 1;
    st->slots = xcalloc(MF_MIN_SLOTS, sizeof *st->slots);

    if (table->n_subtables == table->allocated) {
        table->allocated = table->allocated ? 2 * table->allocated : 8;
        table->subtables = xrealloc(table->subtables,
                                    table->allocated
                                    * sizeof *table->subtables);
    }
    st->index = table->n_subtables;
    table->subtables[table->n_subtables++] = st;
    return st;
}

/* Frees 'st' (which must hold no linked megaflow any more) without touching
 * the table's array. */
static void
mf_subtable_destroy(struct mf_subtable *st)
{
    free(st->slots);
    free(st);
}

static void
mf_subtable_resize(struct mf_subtable *st, size_t n_slots)
{
    struct mf_slot *old = st->slots;
    size_t old_n = st->slot_mask + 1;

    ASSERT(!(n_slots & (n_slots - 1)) && n_slots >= st->n_keys * 2);
    st->slots = xcalloc(n_slots, sizeof *st->slots);
    st->slot_mask = n_slots - 1;
    for (size_t i = 0; i < old_n; i++) {
        if (old[i].flow) {
            size_t j = old[i].hash & st->slot_mask;
            while (st->slots[j].flow) {
                j = (j + 1) & st->slot_mask;
            }
            st->slots[j] = old[i];
        }
    }
    free(old);
}

/* Returns the slot holding masked key 'key' (with subtable hash 'hash') in
 * 'st', or the empty slot where it would go. */
static struct mf_slot *
mf_subtable_find_slot(const struct mf_subtable *st, const struct flow_key *key,
                      uint32_t hash)
{
    uint64_t masked[FLOW_KEY_U64S];
    const uint64_t *k = (const uint64_t *) key;

    for (uint32_t i = 0; i < st->n_words; i++) {
        masked[i] = k[st->words[i]] & st->mwords[i];
    }
    for (size_t j = hash & st->slot_mask; ; j = (j + 1) & st->slot_mask) {
        struct mf_slot *slot = &st->slots[j];

        if (!slot->flow
            || (slot->hash == hash
                && mf_subtable_key_equal(st, slot->flow, masked))) {
            return slot;
        }
    }
}

/* Empties 'slot' and shifts later members of its probe run back so that
 * every key stays reachable from its home slot. */
static void
mf_subtable_delete_slot(struct mf_subtable *st, struct mf_slot *slot)
{
    size_t hole = slot - st->slots;
    size_t j = hole;

    for (;;) {
        j = (j + 1) & st->slot_mask;
        if (!st->slots[j].flow) {
            break;
        }
        size_t home = st->slots[j].hash & st->slot_mask;
        /* Move j into the hole unless its home lies cyclically in
         * (hole, j]. */
        bool in_range = hole <= j ? (hole < home && home <= j)
                                  : (hole < home || home <= j);
        if (!in_range) {
            st->slots[hole] = st->slots[j];
            hole = j;
        }
    }
    st->slots[hole].flow = NULL;
    st->slots[hole].hash = 0;
    st->n_keys--;
}

/* Recomputes max_priority and n_max after the last megaflow at the maximum
 * priority left 'st' (which is not empty). */
static void
mf_subtable_update_max(struct mf_subtable *st)
{
    st->max_priority = INT_MIN;
    st->n_max = 0;
    for (size_t j = 0; j <= st->slot_mask; j++) {
        /* A chain is sorted by priority and its priorities are distinct
         * (an equal one replaces), so only its head can be at the
         * maximum. */
        const struct megaflow *f = st->slots[j].flow;

        if (!f) {
            continue;
        }
        if (f->priority > st->max_priority) {
            st->max_priority = f->priority;
            st->n_max = 1;
        } else if (f->priority == st->max_priority) {
            st->n_max++;
        }
    }
}

/* Moves 'st' to its place in table->subtables after its max_priority
 * changed. */
static void
mf_table_resort(struct mf_table *table, struct mf_subtable *st)
{
    struct mf_subtable **v = table->subtables;
    size_t i = st->index;

    while (i > 0 && v[i - 1]->max_priority < st->max_priority) {
        v[i] = v[i - 1];
        v[i]->index = i;
        i--;
    }
    while (i + 1 < table->n_subtables
           && v[i + 1]->max_priority > st->max_priority) {
        v[i] = v[i + 1];
        v[i]->index = i;
        i++;
    }
    v[i] = st;
    st->index = i;
}

/* Sorts the subtables by decreasing max_priority, then decreasing hits
 * (insertion sort: the order rarely changes much), and restarts the
 * counts. */
static void
mf_table_rank(struct mf_table *table)
{
    struct mf_subtable **v = table->subtables;

    for (size_t i = 1; i < table->n_subtables; i++) {
        struct mf_subtable *st = v[i];
        size_t j = i;

        while (j > 0 && (v[j - 1]->max_priority < st->max_priority
                         || (v[j - 1]->max_priority == st->max_priority
                             && v[j - 1]->hits < st->hits))) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = st;
    }
    for (size_t i = 0; i < table->n_subtables; i++) {
        v[i]->index = i;
        v[i]->hits = 0;
    }
}

/* Unlinks 'flow' from its subtable (destroying the subtable if it becomes
 * empty) and marks it dead.  Does not drop the table's reference. */
static void
mf_unlink(struct megaflow *flow)
{
    struct mf_subtable *st = flow->subtable;
    struct mf_table *table = st->table;
    struct mf_slot *slot;

    slot = mf_subtable_find_slot(st, &flow->key, flow->hash);
    ASSERT(slot->flow);
    if (slot->flow == flow) {
        if (flow->next) {
            slot->flow = flow->next;
        } else {
            mf_subtable_delete_slot(st, slot);
        }
    } else {
        struct megaflow **prev = &slot->flow->next;
        while (*prev != flow) {
            ASSERT(*prev);
            prev = &(*prev)->next;
        }
        *prev = flow->next;
    }
    flow->next = NULL;
    flow->subtable = NULL;
    flow->dead = true;
    mf_removed(table, flow);
    st->n_flows--;
    table->n_flows--;

    if (!st->n_flows) {
        /* Remove the subtable, keeping the order of the others. */
        for (size_t i = st->index + 1; i < table->n_subtables; i++) {
            table->subtables[i - 1] = table->subtables[i];
            table->subtables[i - 1]->index = i - 1;
        }
        table->n_subtables--;
        mf_subtable_destroy(st);
        return;
    }

    if (flow->priority == st->max_priority && !--st->n_max) {
        mf_subtable_update_max(st);
        mf_table_resort(table, st);
    }
    if (st->slot_mask + 1 > MF_MIN_SLOTS && st->n_keys * 8 < st->slot_mask) {
        mf_subtable_resize(st, (st->slot_mask + 1) / 2);
    }
}

/* Removes every megaflow for which 'pred' returns true (collected first:
 * removal reshapes the subtables being walked).  Returns how many. */
static size_t
mf_remove_matching(struct mf_table *table,
                   bool (*pred)(const struct megaflow *, const void *aux),
                   const void *aux)
{
    struct mf_vec victims = { NULL, 0, 0 };

    for (size_t i = 0; i < table->n_subtables; i++) {
        const struct mf_subtable *st = table->subtables[i];

        for (size_t j = 0; j <= st->slot_mask; j++) {
            for (struct megaflow *f = st->slots[j].flow; f; f = f->next) {
                if (pred(f, aux)) {
                    mf_vec_push(&victims, f);
                }
            }
        }
    }
    for (size_t i = 0; i < victims.n; i++) {
        mf_remove(table, victims.flows[i]);
    }
    free(victims.flows);
    return victims.n;
}

static void
mf_vec_push(struct mf_vec *v, struct megaflow *flow)
{
    if (v->n == v->allocated) {
        v->allocated = v->allocated ? 2 * v->allocated : 64;
        v->flows = xrealloc(v->flows, v->allocated * sizeof *v->flows);
    }
    v->flows[v->n++] = flow;
}
