/*
 * test-emc.c -- the exact-match cache: hits, misses, dead megaflows,
 * collisions and replacement, references (ASan's leak checker proves that
 * emc_clear() and emc_destroy() drop them), statistics.
 */
#include "datapath/emc.h"

#include <arpa/inet.h>
#include <string.h>

#include "tests/lib/unit.h"

static uint32_t
key_hash(const struct flow_key *key)
{
    /* flow_key_hash(key, 0), by definition. */
    return hash_words64((const uint64_t *) key, FLOW_KEY_U64S, 0);
}

static void
make_key(struct flow_key *k, uint32_t n)
{
    memset(k, 0, sizeof *k);
    k->in_port = 2;
    k->eth_type = htons(0x0800);
    k->nw_proto = 6;
    k->nw_src.ip4 = htonl(0x0a000001);
    k->nw_dst.ip4 = htonl(0x0a000000 + n);
    k->tp_src = htons(1000 + (n & 0xfff));
    k->tp_dst = htons(80);
}

/* Inserts a megaflow for 'key' under an exact-ish mask (in_port, nw_dst). */
static struct megaflow *
add_flow(struct mf_table *t, const struct flow_key *key, uint32_t port)
{
    struct flow_wc wc;
    struct dp_actions acts;
    struct flow_tags tags;

    flow_wc_init_catchall(&wc);
    FLOW_WC_MASK(&wc, in_port);
    FLOW_WC_MASK(&wc, nw_dst);
    dp_actions_init(&acts);
    dp_actions_output(&acts, port);
    flow_tags_init(&tags);
    return mf_insert(t, key, &wc.masks, 0, &acts, &tags);
}

static void
test_flow_key_hash_equivalence(void)
{
    struct flow_key k;

    make_key(&k, 7);
    CHECK_EQ(flow_key_hash(&k, 0), key_hash(&k));
}

static void
test_hit_miss(void)
{
    struct mf_table *t = mf_create();
    struct emc *emc = emc_create();
    struct flow_key k, other;
    struct megaflow *f;
    uint64_t hits, misses;

    CHECK(emc != NULL);
    make_key(&k, 1);
    make_key(&other, 1);
    other.tp_src = htons(9);    /* Same megaflow, different exact key. */
    f = add_flow(t, &k, 3);

    emc_stats(emc, &hits, &misses);
    CHECK_EQ(hits, 0);
    CHECK_EQ(misses, 0);
    CHECK(emc_lookup(emc, &k, key_hash(&k)) == NULL);

    emc_insert(emc, &k, key_hash(&k), f);
    CHECK_EQ(f->refcnt, 2);
    CHECK(emc_lookup(emc, &k, key_hash(&k)) == f);
    CHECK(emc_lookup(emc, &k, key_hash(&k)) == f);
    CHECK(emc_lookup(emc, &other, key_hash(&other)) == NULL);
    /* The same hash with a different key is still a miss. */
    CHECK(emc_lookup(emc, &other, key_hash(&k)) == NULL);

    emc_stats(emc, &hits, &misses);
    CHECK_EQ(hits, 2);
    CHECK_EQ(misses, 3);

    /* Re-inserting the same key and megaflow keeps one reference. */
    emc_insert(emc, &k, key_hash(&k), f);
    CHECK_EQ(f->refcnt, 2);

    emc_destroy(emc);
    CHECK_EQ(f->refcnt, 1);
    mf_destroy(t);
    emc_destroy(NULL);
}

static void
test_dead_is_miss(void)
{
    struct mf_table *t = mf_create();
    struct emc *emc = emc_create();
    struct flow_key k;
    struct megaflow *f, *g;
    uint64_t hits, misses;

    make_key(&k, 2);
    f = add_flow(t, &k, 3);
    emc_insert(emc, &k, key_hash(&k), f);
    megaflow_ref(f);            /* Ours, to watch the count. */
    CHECK_EQ(f->refcnt, 3);

    mf_remove(t, f);
    CHECK(f->dead);
    CHECK_EQ(f->refcnt, 2);
    CHECK(emc_lookup(emc, &k, key_hash(&k)) == NULL);
    CHECK_EQ(f->refcnt, 1);     /* The slot was cleared. */
    CHECK(emc_lookup(emc, &k, key_hash(&k)) == NULL);
    emc_stats(emc, &hits, &misses);
    CHECK_EQ(hits, 0);
    CHECK_EQ(misses, 2);

    /* Inserting a dead megaflow caches nothing. */
    emc_insert(emc, &k, key_hash(&k), f);
    CHECK_EQ(f->refcnt, 1);
    megaflow_unref(f);

    /* Replaced megaflow (identical insert): the cache drops the old one. */
    f = add_flow(t, &k, 3);
    emc_insert(emc, &k, key_hash(&k), f);
    g = add_flow(t, &k, 4);
    CHECK(f->dead);
    CHECK(emc_lookup(emc, &k, key_hash(&k)) == NULL);   /* Frees f. */
    CHECK(mf_lookup(t, &k) == g);
    emc_insert(emc, &k, key_hash(&k), g);
    CHECK(emc_lookup(emc, &k, key_hash(&k)) == g);

    /* A dead megaflow left in the cache is freed by emc_destroy(). */
    mf_destroy(t);
    CHECK(g->dead);
    CHECK_EQ(g->refcnt, 1);
    emc_destroy(emc);
}

static void
test_collisions(void)
{
    struct mf_table *t = mf_create();
    struct emc *emc = emc_create();
    struct flow_key ka, kb, kc;
    struct megaflow *fa, *fb, *fc, *fd;
    /* One hash for three keys: both candidate slots are shared. */
    const uint32_t h = 0x12345;

    make_key(&ka, 10);
    make_key(&kb, 11);
    make_key(&kc, 12);
    fa = add_flow(t, &ka, 1);
    fb = add_flow(t, &kb, 2);
    fc = add_flow(t, &kc, 3);
    fa->used_msec = 100;
    fb->used_msec = 200;
    fc->used_msec = 300;

    emc_insert(emc, &ka, h, fa);
    emc_insert(emc, &kb, h, fb);
    CHECK(emc_lookup(emc, &ka, h) == fa);
    CHECK(emc_lookup(emc, &kb, h) == fb);

    /* A third key evicts the older-looking one (fa). */
    emc_insert(emc, &kc, h, fc);
    CHECK(emc_lookup(emc, &ka, h) == NULL);
    CHECK(emc_lookup(emc, &kb, h) == fb);
    CHECK(emc_lookup(emc, &kc, h) == fc);
    CHECK_EQ(fa->refcnt, 1);
    CHECK_EQ(fb->refcnt, 2);
    CHECK_EQ(fc->refcnt, 2);

    /* Now fb is the older one. */
    emc_insert(emc, &ka, h, fa);
    CHECK(emc_lookup(emc, &kb, h) == NULL);
    CHECK(emc_lookup(emc, &ka, h) == fa);
    CHECK(emc_lookup(emc, &kc, h) == fc);

    /* A key already cached is updated in place, not duplicated. */
    fd = add_flow(t, &kb, 4);   /* Replaces fb, which nothing caches. */
    emc_insert(emc, &kc, h, fd);
    CHECK(emc_lookup(emc, &kc, h) == fd);
    CHECK(emc_lookup(emc, &ka, h) == fa);
    CHECK_EQ(fc->refcnt, 1);

    /* A slot whose megaflow died is reused first. */
    mf_remove(t, fa);
    emc_insert(emc, &kb, h, fd);
    CHECK(emc_lookup(emc, &kb, h) == fd);
    CHECK(emc_lookup(emc, &kc, h) == fd);

    /* A hash whose two candidates are the same slot. */
    const uint32_t same = 5 | (5 << 13);
    emc_insert(emc, &ka, same, fc);
    emc_insert(emc, &kb, same, fd);
    CHECK(emc_lookup(emc, &kb, same) == fd);
    CHECK(emc_lookup(emc, &ka, same) == NULL);

    emc_destroy(emc);
    mf_destroy(t);
}

static void
test_clear_and_many(void)
{
    enum { N = 4000 };
    struct mf_table *t = mf_create();
    struct emc *emc = emc_create();
    struct megaflow **flows = xcalloc(N, sizeof *flows);
    size_t n_hit = 0, n_wrong = 0;
    uint64_t hits, misses;

    for (int i = 0; i < N; i++) {
        struct flow_key k;

        make_key(&k, i);
        flows[i] = add_flow(t, &k, i);
        emc_insert(emc, &k, key_hash(&k), flows[i]);
    }
    for (int i = 0; i < N; i++) {
        struct flow_key k;
        struct megaflow *f;

        make_key(&k, i);
        f = emc_lookup(emc, &k, key_hash(&k));
        n_hit += f != NULL;
        n_wrong += f && f != flows[i];
    }
    CHECK_EQ(n_wrong, 0);
    /* 4000 keys in 8192 slots with 2 choices: nearly all stay. */
    CHECK(n_hit > N * 9 / 10);
    emc_stats(emc, &hits, &misses);
    CHECK_EQ(hits, n_hit);
    CHECK_EQ(misses, N - n_hit);

    emc_clear(emc);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(flows[i]->refcnt, 1);
    }
    n_hit = 0;
    for (int i = 0; i < N; i++) {
        struct flow_key k;

        make_key(&k, i);
        n_hit += emc_lookup(emc, &k, key_hash(&k)) != NULL;
    }
    CHECK_EQ(n_hit, 0);

    /* Refill, then tear down the table first: entries hold dead flows
     * that emc_destroy() frees. */
    for (int i = 0; i < N; i++) {
        struct flow_key k;

        make_key(&k, i);
        emc_insert(emc, &k, key_hash(&k), flows[i]);
    }
    mf_destroy(t);
    emc_destroy(emc);
    free(flows);
}

int
main(void)
{
    RUN(test_flow_key_hash_equivalence);
    RUN(test_hit_miss);
    RUN(test_dead_is_miss);
    RUN(test_collisions);
    RUN(test_clear_and_many);
    return unit_finish();
}
