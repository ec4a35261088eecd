/*
 * test-megaflow.c -- the megaflow classifier against a trivial reference.
 *
 * The reference classifier is a plain array of rules scanned linearly
 * (highest priority wins).  Random rules over a mix of realistic and random
 * masks, random packets and packets built to hit specific rules: every
 * mf_lookup() must return exactly the reference's answer.  Then the
 * maintenance operations: replace, remove, tag invalidation, expiry, flush,
 * counts and the reference-counted lifetime of removed megaflows.
 */
#include "datapath/megaflow.h"

#include <arpa/inet.h>
#include <limits.h>
#include <string.h>

#include "tests/lib/unit.h"
#include "lib/random.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
    return random_next(&rng_state);
}

static uint32_t
rnd_n(uint32_t n)
{
    return random_range(&rng_state, n);
}

/* A key whose fields come from small domains, so that random packets often
 * match random rules. */
static void
random_key(struct flow_key *k)
{
    memset(k, 0, sizeof *k);
    k->in_port = 2 + rnd_n(4);
    k->tun_vni = rnd_n(3);
    k->tun_src = htonl(0xc6120001 + rnd_n(2));
    for (int i = 0; i < 6; i++) {
        k->eth_dst.ea[i] = i == 5 ? rnd_n(4) : 0x02;
        k->eth_src.ea[i] = i == 5 ? rnd_n(4) : 0x02;
    }
    k->eth_type = htons(rnd_n(4) ? 0x0800 : 0x0806);
    k->nw_proto = rnd_n(2) ? 6 : 17;
    k->nw_ttl = 64;
    k->nw_src.ip4 = htonl(0x0a000000 + rnd_n(8));
    k->nw_dst.ip4 = htonl(0x0a000000 + (rnd_n(2) << 8) + rnd_n(8));
    k->tp_src = htons(1024 + rnd_n(4));
    k->tp_dst = htons(rnd_n(2) ? 80 : 22);
    k->tcp_flags = rnd_n(2) ? 0x02 : 0x10;
}

#define N_REAL_MASKS 9

/* One of a small set of masks like the simulation builds. */
static void
real_mask(struct flow_key *m, int which)
{
    struct flow_wc wc;

    flow_wc_init_catchall(&wc);
    switch (which) {
    case 0:                     /* L2 switching. */
        FLOW_WC_MASK(&wc, in_port);
        FLOW_WC_MASK(&wc, eth_dst);
        break;
    case 1:                     /* Port security + L2. */
        FLOW_WC_MASK(&wc, in_port);
        FLOW_WC_MASK(&wc, eth_src);
        FLOW_WC_MASK(&wc, eth_dst);
        FLOW_WC_MASK(&wc, eth_type);
        break;
    case 2:                     /* Routing. */
        FLOW_WC_MASK(&wc, in_port);
        FLOW_WC_MASK(&wc, eth_type);
        FLOW_WC_MASK(&wc, nw_dst);
        break;
    case 3:                     /* Security group on L4. */
        FLOW_WC_MASK(&wc, in_port);
        FLOW_WC_MASK(&wc, eth_type);
        FLOW_WC_MASK(&wc, nw_proto);
        FLOW_WC_MASK(&wc, nw_src);
        FLOW_WC_MASK(&wc, nw_dst);
        FLOW_WC_MASK(&wc, tp_dst);
        break;
    case 4:                     /* Tunnel decap. */
        FLOW_WC_MASK(&wc, in_port);
        FLOW_WC_MASK(&wc, tun_vni);
        FLOW_WC_MASK(&wc, eth_dst);
        break;
    case 5:                     /* Prefix route: nw_dst/24. */
        FLOW_WC_MASK(&wc, eth_type);
        wc.masks.nw_dst.ip4 = htonl(0xffffff00);
        break;
    case 6:
        FLOW_WC_MASK(&wc, in_port);
        break;
    case 7:                     /* Catch-all. */
        break;
    case 8:                     /* Everything. */
        memset(&wc.masks, 0xff, sizeof wc.masks);
        break;
    default:
        NOT_REACHED();
    }
    *m = wc.masks;
}

/* A random mask: a few random words with random sparse bits, or one of a
 * few random masks reused so that subtables hold more than one rule. */
static void
random_mask(struct flow_key *m)
{
    static struct flow_key pool[6];
    static bool pool_ready;
    uint64_t *w = (uint64_t *) m;

    if (!pool_ready) {
        for (size_t p = 0; p < ARRAY_SIZE(pool); p++) {
            uint64_t *pw = (uint64_t *) &pool[p];
            memset(&pool[p], 0, sizeof pool[p]);
            for (int i = 0; i < 3; i++) {
                pw[rnd_n(FLOW_KEY_U64S)] |= rnd() & rnd();
            }
        }
        pool_ready = true;
    }
    if (rnd_n(2)) {
        *m = pool[rnd_n(ARRAY_SIZE(pool))];
        return;
    }
    memset(m, 0, sizeof *m);
    for (int i = 0, n = 1 + rnd_n(3); i < n; i++) {
        w[rnd_n(FLOW_KEY_U64S)] |= rnd() & rnd() & rnd();
    }
}

static void
pick_mask(struct flow_key *m)
{
    if (rnd_n(4)) {
        real_mask(m, rnd_n(N_REAL_MASKS));
    } else {
        random_mask(m);
    }
}

/* The reference classifier. */
struct ref_rule {
    struct flow_key key;        /* Masked. */
    struct flow_key mask;
    int priority;
    struct megaflow *flow;      /* What mf_insert() returned. */
};

static bool
ref_matches(const struct ref_rule *r, const struct flow_key *pkt)
{
    const uint64_t *k = (const uint64_t *) &r->key;
    const uint64_t *m = (const uint64_t *) &r->mask;
    const uint64_t *p = (const uint64_t *) pkt;

    for (size_t i = 0; i < FLOW_KEY_U64S; i++) {
        if ((p[i] & m[i]) != k[i]) {
            return false;
        }
    }
    return true;
}

static const struct ref_rule *
ref_lookup(const struct ref_rule *rules, size_t n, const struct flow_key *pkt)
{
    const struct ref_rule *best = NULL;

    for (size_t i = 0; i < n; i++) {
        if (ref_matches(&rules[i], pkt)
            && (!best || rules[i].priority > best->priority)) {
            best = &rules[i];
        }
    }
    return best;
}

static bool
rules_overlap(const struct ref_rule *a, const struct ref_rule *b)
{
    const uint64_t *ak = (const uint64_t *) &a->key;
    const uint64_t *am = (const uint64_t *) &a->mask;
    const uint64_t *bk = (const uint64_t *) &b->key;
    const uint64_t *bm = (const uint64_t *) &b->mask;

    for (size_t i = 0; i < FLOW_KEY_U64S; i++) {
        if ((ak[i] ^ bk[i]) & am[i] & bm[i]) {
            return false;
        }
    }
    return true;
}

/* A packet that matches 'r': its key with random bits outside the mask. */
static void
packet_for_rule(const struct ref_rule *r, struct flow_key *pkt)
{
    const uint64_t *k = (const uint64_t *) &r->key;
    const uint64_t *m = (const uint64_t *) &r->mask;
    uint64_t *p = (uint64_t *) pkt;

    random_key(pkt);
    for (size_t i = 0; i < FLOW_KEY_U64S; i++) {
        uint64_t noise = rnd_n(2) ? rnd() : p[i];
        p[i] = k[i] | (noise & ~m[i]);
    }
}

static struct megaflow *
insert_simple(struct mf_table *t, const struct flow_key *key,
              const struct flow_key *mask, int priority, uint32_t port,
              const struct flow_tags *tags)
{
    struct dp_actions acts;
    struct flow_tags no_tags;

    dp_actions_init(&acts);
    dp_actions_output(&acts, port);
    if (!tags) {
        flow_tags_init(&no_tags);
        tags = &no_tags;
    }
    return mf_insert(t, key, mask, priority, &acts, tags);
}

static size_t
count_distinct_masks(const struct ref_rule *rules, size_t n)
{
    size_t distinct = 0;

    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = !memcmp(&rules[i].mask, &rules[j].mask,
                           sizeof rules[i].mask);
        }
        distinct += !seen;
    }
    return distinct;
}

/* Checks 'n_random' random packets and one packet per rule against the
 * reference; returns the number of mismatches. */
static size_t
compare_with_reference(const struct mf_table *t, const struct ref_rule *rules,
                       size_t n, size_t n_random, size_t *n_hits)
{
    size_t bad = 0;

    *n_hits = 0;
    for (size_t i = 0; i < n_random + n; i++) {
        struct flow_key pkt;
        const struct ref_rule *want;
        struct megaflow *got;

        if (i < n_random) {
            if (n && rnd_n(2)) {
                packet_for_rule(&rules[rnd_n(n)], &pkt);
            } else {
                random_key(&pkt);
            }
        } else {
            packet_for_rule(&rules[i - n_random], &pkt);
        }
        want = ref_lookup(rules, n, &pkt);
        got = mf_lookup(t, &pkt);
        if ((want ? want->flow : NULL) != got) {
            if (bad++ < 5) {
                fprintf(stderr, "  mismatch on packet %zu: want prio %d, "
                        "got prio %d\n", i, want ? want->priority : -1,
                        got ? got->priority : -1);
            }
        }
        *n_hits += got != NULL;
    }
    return bad;
}

static void
test_random_vs_reference(void)
{
    enum { N_RULES = 3000, N_PACKETS = 30000 };
    struct ref_rule *rules = xcalloc(N_RULES, sizeof *rules);
    struct mf_table *t = mf_create();
    int *prios = xcalloc(N_RULES, sizeof *prios);
    size_t n = 0, n_hits, bad;

    /* Distinct priorities, shuffled, some negative. */
    for (int i = 0; i < N_RULES; i++) {
        prios[i] = i - N_RULES / 3;
    }
    for (int i = N_RULES - 1; i > 0; i--) {
        int j = rnd_n(i + 1), tmp = prios[i];
        prios[i] = prios[j];
        prios[j] = tmp;
    }

    for (int i = 0; i < N_RULES; i++) {
        struct ref_rule *r = &rules[n];
        struct flow_key key;

        random_key(&key);
        pick_mask(&r->mask);
        flow_key_apply_mask(&r->key, &key, &r->mask);
        r->priority = prios[i];
        r->flow = insert_simple(t, &key, &r->mask, r->priority, i, NULL);
        CHECK(!memcmp(&r->flow->key, &r->key, sizeof r->key));
        CHECK_EQ(r->flow->priority, r->priority);
        CHECK_EQ(r->flow->actions.a[0].arg, (uint32_t) i);
        n++;
    }
    CHECK_EQ(mf_count(t), n);
    CHECK_EQ(mf_n_subtables(t), count_distinct_masks(rules, n));

    bad = compare_with_reference(t, rules, n, N_PACKETS, &n_hits);
    CHECK_EQ(bad, 0);
    CHECK(n_hits > N_PACKETS / 2);

    /* Re-ranking subtables by hits (mf_expire() that removes nothing) must
     * not change any answer. */
    CHECK_EQ(mf_expire(t, time_msec(), LLONG_MAX / 4), 0);
    bad = compare_with_reference(t, rules, n, N_PACKETS, &n_hits);
    CHECK_EQ(bad, 0);

    /* Remove a random two thirds, in random order, and compare again. */
    for (size_t removed = 0; removed < 2 * N_RULES / 3; removed++) {
        size_t i = rnd_n(n);
        mf_remove(t, rules[i].flow);
        rules[i] = rules[--n];
    }
    CHECK_EQ(mf_count(t), n);
    CHECK_EQ(mf_n_subtables(t), count_distinct_masks(rules, n));
    bad = compare_with_reference(t, rules, n, N_PACKETS, &n_hits);
    CHECK_EQ(bad, 0);

    /* Remove the rest. */
    while (n) {
        mf_remove(t, rules[--n].flow);
    }
    CHECK_EQ(mf_count(t), 0);
    CHECK_EQ(mf_n_subtables(t), 0);
    bad = compare_with_reference(t, rules, 0, 1000, &n_hits);
    CHECK_EQ(bad, 0);
    CHECK_EQ(n_hits, 0);

    mf_destroy(t);
    free(prios);
    free(rules);
}

/* The agent's case: priority 0 everywhere, megaflows never overlap.  As in
 * the simulation, which fields are read depends on the path: here the mask
 * is a function of (in_port, tun_vni, eth_type), which it always includes,
 * so rules of different masks never overlap; an overlap between rules of
 * the same mask (an identical masked key) is rejected. */
static void
test_nonoverlapping_priority0(void)
{
    enum { N_TRIES = 6000, N_PACKETS = 30000, N_MASKS = 4 * 3 * 2 };
    struct ref_rule *rules = xcalloc(N_TRIES, sizeof *rules);
    struct mf_table *t = mf_create();
    struct flow_key masks[N_MASKS];
    size_t n = 0, n_hits, bad;

    for (int i = 0; i < N_MASKS; i++) {
        /* After the ORs below, the real masks give 7 distinct ones. */
        if (i < N_REAL_MASKS) {
            real_mask(&masks[i], i);
        } else {
            random_mask(&masks[i]);
        }
        masks[i].in_port = UINT32_MAX;
        masks[i].tun_vni = UINT32_MAX;
        masks[i].eth_type = UINT16_MAX;
    }

    for (int i = 0; i < N_TRIES; i++) {
        struct ref_rule *r = &rules[n];
        struct flow_key key;
        bool overlap = false;

        random_key(&key);
        key.nw_src.ip4 = htonl(0x0a000000 + rnd_n(256));
        key.nw_dst.ip4 = htonl(0x0a000000 + rnd_n(4096));
        key.eth_dst.ea[5] = rnd();
        key.tp_src = htons(1024 + rnd_n(64));
        r->mask = masks[(key.in_port - 2) * 6 + key.tun_vni * 2
                        + (key.eth_type == htons(0x0800))];
        flow_key_apply_mask(&r->key, &key, &r->mask);
        r->priority = 0;
        for (size_t j = 0; j < n && !overlap; j++) {
            overlap = rules_overlap(r, &rules[j]);
        }
        if (!overlap) {
            r->flow = insert_simple(t, &key, &r->mask, 0, i, NULL);
            n++;
        }
    }
    CHECK(n > 1000);
    CHECK_EQ(mf_count(t), n);
    CHECK(mf_n_subtables(t) >= 7);
    bad = compare_with_reference(t, rules, n, N_PACKETS, &n_hits);
    CHECK_EQ(bad, 0);
    CHECK(n_hits > N_PACKETS / 4);

    /* Skewed traffic towards the last rule's subtable, re-rank, compare. */
    for (int i = 0; i < 1000; i++) {
        struct flow_key pkt;
        packet_for_rule(&rules[n - 1], &pkt);
        CHECK(mf_lookup(t, &pkt) == rules[n - 1].flow);
    }
    CHECK_EQ(mf_expire(t, time_msec(), LLONG_MAX / 4), 0);
    bad = compare_with_reference(t, rules, n, N_PACKETS, &n_hits);
    CHECK_EQ(bad, 0);

    mf_destroy(t);
    free(rules);
}

static void
test_priority_order(void)
{
    struct mf_table *t = mf_create();
    struct flow_key key, m_port, m_dst, m_all;
    struct megaflow *lo, *hi, *mid;

    random_key(&key);
    real_mask(&m_port, 6);
    real_mask(&m_dst, 0);
    real_mask(&m_all, 7);

    lo = insert_simple(t, &key, &m_all, 1, 1, NULL);
    CHECK(mf_lookup(t, &key) == lo);
    hi = insert_simple(t, &key, &m_port, 10, 2, NULL);
    CHECK(mf_lookup(t, &key) == hi);
    mid = insert_simple(t, &key, &m_dst, 5, 3, NULL);
    CHECK(mf_lookup(t, &key) == hi);
    CHECK_EQ(mf_n_subtables(t), 3);

    /* Same masked key and mask, different priorities share a slot. */
    struct megaflow *top = insert_simple(t, &key, &m_dst, 20, 4, NULL);
    struct megaflow *bottom = insert_simple(t, &key, &m_dst, -5, 5, NULL);
    CHECK_EQ(mf_n_subtables(t), 3);
    CHECK_EQ(mf_count(t), 5);
    CHECK(mf_lookup(t, &key) == top);
    mf_remove(t, top);
    CHECK(mf_lookup(t, &key) == hi);
    mf_remove(t, hi);
    CHECK(mf_lookup(t, &key) == mid);
    mf_remove(t, mid);
    CHECK(mf_lookup(t, &key) == lo);
    mf_remove(t, lo);
    CHECK(mf_lookup(t, &key) == bottom);
    CHECK_EQ(mf_n_subtables(t), 1);
    mf_remove(t, bottom);
    CHECK(mf_lookup(t, &key) == NULL);
    CHECK_EQ(mf_n_subtables(t), 0);
    CHECK_EQ(mf_count(t), 0);
    mf_destroy(t);
}

static void
test_replace(void)
{
    struct mf_table *t = mf_create();
    struct flow_key key, key2, mask;
    struct megaflow *a, *b, *c;

    random_key(&key);
    real_mask(&mask, 2);
    key2 = key;
    key2.tp_src = htons(4444);  /* Differs only outside the mask. */

    a = insert_simple(t, &key, &mask, 0, 7, NULL);
    megaflow_ref(a);
    b = insert_simple(t, &key2, &mask, 0, 8, NULL);
    CHECK(a != b);
    CHECK(a->dead);
    CHECK(!b->dead);
    CHECK_EQ(mf_count(t), 1);
    CHECK_EQ(mf_n_subtables(t), 1);
    CHECK(mf_lookup(t, &key) == b);
    CHECK_EQ(b->actions.a[0].arg, 8);
    megaflow_unref(a);

    /* A different priority is not a replacement. */
    c = insert_simple(t, &key, &mask, 1, 9, NULL);
    CHECK(!b->dead);
    CHECK_EQ(mf_count(t), 2);
    CHECK(mf_lookup(t, &key) == c);

    /* Actions are moved, tags copied. */
    struct dp_actions acts;
    struct flow_tags tags;
    megaflow_ref(c);
    dp_actions_init(&acts);
    dp_actions_output(&acts, 3);
    dp_actions_output(&acts, 4);
    flow_tags_init(&tags);
    flow_tags_add(&tags, 42);
    struct megaflow *d = mf_insert(t, &key, &mask, 1, &acts, &tags);
    CHECK_EQ(acts.n, 0);
    CHECK(acts.a == NULL);
    CHECK_EQ(d->actions.n, 2);
    CHECK(flow_tags_contains(&d->tags, 42));
    CHECK(!flow_tags_contains(&d->tags, 43));
    CHECK(c->dead);
    CHECK(mf_lookup(t, &key) == d);
    megaflow_unref(c);
    CHECK_EQ(mf_count(t), 2);
    dp_actions_destroy(&acts);
    mf_destroy(t);
}

static void
test_remove_and_refcount(void)
{
    struct mf_table *t = mf_create();
    struct flow_key key, mask;
    struct megaflow *f, *g;

    random_key(&key);
    real_mask(&mask, 3);
    f = insert_simple(t, &key, &mask, 0, 1, NULL);
    CHECK_EQ(f->refcnt, 1);
    CHECK(!f->dead);

    /* Two cache references. */
    megaflow_ref(f);
    megaflow_ref(f);
    CHECK_EQ(f->refcnt, 3);
    mf_remove(t, f);
    CHECK(f->dead);
    CHECK_EQ(f->refcnt, 2);
    CHECK(mf_lookup(t, &key) == NULL);
    CHECK_EQ(mf_count(t), 0);
    CHECK_EQ(mf_n_subtables(t), 0);

    /* Removing it again is harmless; the memory is still ours. */
    mf_remove(t, f);
    CHECK_EQ(f->refcnt, 2);
    CHECK_EQ(f->actions.a[0].arg, 1);
    megaflow_unref(f);
    CHECK_EQ(f->refcnt, 1);
    megaflow_unref(f);          /* Freed: ASan would flag a later use. */
    megaflow_unref(NULL);

    /* A flow referenced at table destruction outlives the table. */
    g = insert_simple(t, &key, &mask, 0, 2, NULL);
    megaflow_ref(g);
    mf_destroy(t);
    CHECK(g->dead);
    CHECK_EQ(g->refcnt, 1);
    CHECK_EQ(g->actions.a[0].arg, 2);
    megaflow_unref(g);

    mf_destroy(NULL);
}

struct tag_case {
    struct megaflow *flow;
    int which;                  /* Tag group, or -1 for overflow. */
};

static void
test_invalidate(void)
{
    enum { N = 400 };
    struct mf_table *t = mf_create();
    struct tag_case cases[N];
    struct tag_set changed;
    uint64_t tag_a = flow_tag_make("port", "a");
    uint64_t tag_b = flow_tag_make("port", "b");
    uint64_t tag_c = flow_tag_make("router", "c");

    /* Flow i carries tag_a if i % 2 == 0, tag_b if i % 3 == 0, tag_c if
     * i % 5 == 0; every 50th overflows. */
    for (int i = 0; i < N; i++) {
        struct flow_key key, mask;
        struct flow_tags tags;

        random_key(&key);
        key.nw_src.ip4 = htonl(0x0b000000 + i);
        real_mask(&mask, i % 2 ? 3 : 1);
        key.eth_src.ea[4] = i >> 8;
        key.eth_src.ea[5] = i;
        flow_tags_init(&tags);
        flow_tags_add(&tags, flow_tag_make("host", "h1"));
        if (i % 2 == 0) {
            flow_tags_add(&tags, tag_a);
        }
        if (i % 3 == 0) {
            flow_tags_add(&tags, tag_b);
        }
        if (i % 5 == 0) {
            flow_tags_add(&tags, tag_c);
        }
        if (i % 50 == 49) {
            for (int k = 0; k < FLOW_TAGS_MAX + 1; k++) {
                flow_tags_add(&tags, 1000 + k);
            }
            CHECK(tags.overflow);
        }
        cases[i].flow = insert_simple(t, &key, &mask, 0, i, &tags);
        megaflow_ref(cases[i].flow);
    }
    CHECK_EQ(mf_count(t), N);

    /* An empty change removes nothing, not even overflowed flows. */
    tag_set_init(&changed);
    CHECK_EQ(mf_invalidate(t, &changed), 0);

    /* Changing tag_b removes exactly i % 3 == 0 and the overflowed. */
    tag_set_add(&changed, tag_b);
    size_t want = 0;
    for (int i = 0; i < N; i++) {
        want += i % 3 == 0 || i % 50 == 49;
    }
    CHECK_EQ(mf_invalidate(t, &changed), want);
    for (int i = 0; i < N; i++) {
        bool gone = i % 3 == 0 || i % 50 == 49;
        CHECK_EQ(cases[i].flow->dead, gone);
    }
    CHECK_EQ(mf_count(t), N - want);

    /* An unrelated tag removes nothing (no overflowed flow is left). */
    tag_set_destroy(&changed);
    tag_set_add(&changed, flow_tag_make("port", "zzz"));
    CHECK_EQ(mf_invalidate(t, &changed), 0);

    /* Many changed tags (the hashed path): tag_c among 30 others. */
    tag_set_destroy(&changed);
    for (int k = 0; k < 30; k++) {
        tag_set_add(&changed, 5000 + k);
    }
    tag_set_add(&changed, tag_c);
    size_t before = mf_count(t);
    want = 0;
    for (int i = 0; i < N; i++) {
        want += !cases[i].flow->dead && i % 5 == 0;
    }
    CHECK_EQ(mf_invalidate(t, &changed), want);
    CHECK_EQ(mf_count(t), before - want);
    for (int i = 0; i < N; i++) {
        bool gone = i % 3 == 0 || i % 50 == 49 || i % 5 == 0;
        CHECK_EQ(cases[i].flow->dead, gone);
    }

    /* Lookups agree: dead flows are not found, live ones are. */
    for (int i = 0; i < N; i++) {
        struct megaflow *f = cases[i].flow;
        struct megaflow *got = mf_lookup(t, &f->key);
        CHECK(f->dead ? got != f : got == f);
    }

    /* changed->all removes everything. */
    tag_set_destroy(&changed);
    changed.all = true;
    before = mf_count(t);
    CHECK(before > 0);
    CHECK_EQ(mf_invalidate(t, &changed), before);
    CHECK_EQ(mf_count(t), 0);
    CHECK_EQ(mf_n_subtables(t), 0);
    tag_set_destroy(&changed);

    for (int i = 0; i < N; i++) {
        CHECK(cases[i].flow->dead);
        megaflow_unref(cases[i].flow);
    }
    mf_destroy(t);
}

static void
test_overflow_any_change(void)
{
    struct mf_table *t = mf_create();
    struct flow_key key, mask;
    struct flow_tags tags;
    struct tag_set changed;
    struct megaflow *f;

    random_key(&key);
    real_mask(&mask, 0);
    flow_tags_init(&tags);
    for (int k = 0; k < FLOW_TAGS_MAX + 3; k++) {
        flow_tags_add(&tags, 77 + k);
    }
    f = insert_simple(t, &key, &mask, 0, 1, &tags);
    CHECK(f->tags.overflow);

    tag_set_init(&changed);
    tag_set_add(&changed, 123456789);
    CHECK_EQ(mf_invalidate(t, &changed), 1);
    CHECK_EQ(mf_count(t), 0);
    tag_set_destroy(&changed);
    mf_destroy(t);
}

static void
test_expire(void)
{
    enum { N = 100 };
    struct mf_table *t = mf_create();
    struct megaflow *flows[N];

    for (int i = 0; i < N; i++) {
        struct flow_key key, mask;

        random_key(&key);
        key.nw_src.ip4 = htonl(0x0c000000 + i);
        real_mask(&mask, i % 3 ? 3 : 8);
        flows[i] = insert_simple(t, &key, &mask, 0, i, NULL);
        CHECK(flows[i]->created_msec <= time_msec());
        CHECK_EQ(flows[i]->used_msec, flows[i]->created_msec);
        flows[i]->used_msec = 1000 + i * 10;
        megaflow_ref(flows[i]);
    }

    /* now 1500, idle 300: not used since 1200 => i * 10 < 200 => i < 20. */
    CHECK_EQ(mf_expire(t, 1500, 300), 20);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(flows[i]->dead, i < 20);
    }
    CHECK_EQ(mf_expire(t, 1500, 300), 0);
    CHECK_EQ(mf_count(t), N - 20);

    /* A hit refreshes. */
    flows[50]->used_msec = 5000;
    CHECK_EQ(mf_expire(t, 5000, 0), N - 21);
    CHECK(!flows[50]->dead);
    CHECK_EQ(mf_count(t), 1);
    CHECK_EQ(mf_n_subtables(t), 1);
    CHECK_EQ(mf_expire(t, 100000, 1000), 1);
    CHECK_EQ(mf_count(t), 0);
    CHECK_EQ(mf_n_subtables(t), 0);

    for (int i = 0; i < N; i++) {
        megaflow_unref(flows[i]);
    }
    mf_destroy(t);
}

static void
count_cb(const struct megaflow *f, void *aux)
{
    size_t *n = aux;
    ASSERT(!f->dead);
    (*n)++;
}

static void
test_flush_counts_for_each(void)
{
    struct mf_table *t = mf_create();
    struct megaflow *kept = NULL, *f;
    size_t n = 0;

    CHECK_EQ(mf_count(t), 0);
    CHECK_EQ(mf_n_subtables(t), 0);
    mf_for_each(t, count_cb, &n);
    CHECK_EQ(n, 0);

    /* 2000 flows over 4 masks: exercises subtable growth. */
    for (int i = 0; i < 2000; i++) {
        struct flow_key key, mask;

        memset(&key, 0, sizeof key);
        key.in_port = 2;
        key.nw_src.ip4 = htonl(0x0a000000 + i);
        key.nw_dst.ip4 = htonl(0x0a010000 + i);
        key.eth_dst.ea[5] = i;
        key.eth_dst.ea[4] = i >> 8;
        key.eth_type = htons(0x0800);
        real_mask(&mask, i % 4);
        f = insert_simple(t, &key, &mask, 0, i, NULL);
        if (i == 2) {
            kept = f;
        }
    }
    /* Every mask includes a field that encodes i: no two flows overlap. */
    CHECK_EQ(mf_count(t), 2000);
    CHECK_EQ(mf_n_subtables(t), 4);
    mf_for_each(t, count_cb, &n);
    CHECK_EQ(n, 2000);

    for (int i = 0; i < 2000; i++) {
        struct flow_key pkt;

        memset(&pkt, 0, sizeof pkt);
        pkt.in_port = 2;
        pkt.nw_src.ip4 = htonl(0x0a000000 + i);
        pkt.nw_dst.ip4 = htonl(0x0a010000 + i);
        pkt.eth_dst.ea[5] = i;
        pkt.eth_dst.ea[4] = i >> 8;
        pkt.eth_type = htons(0x0800);
        f = mf_lookup(t, &pkt);
        CHECK(f != NULL);
        if (f) {
            CHECK_EQ(f->actions.a[0].arg, (uint32_t) i);
        }
    }

    CHECK(kept != NULL);
    megaflow_ref(kept);
    mf_flush(t);
    CHECK_EQ(mf_count(t), 0);
    CHECK_EQ(mf_n_subtables(t), 0);
    n = 0;
    mf_for_each(t, count_cb, &n);
    CHECK_EQ(n, 0);
    CHECK(kept->dead);
    megaflow_unref(kept);

    /* The table is usable after a flush. */
    struct flow_key key, mask;
    random_key(&key);
    real_mask(&mask, 8);
    f = insert_simple(t, &key, &mask, 0, 1, NULL);
    CHECK(mf_lookup(t, &key) == f);
    CHECK_EQ(mf_count(t), 1);
    mf_destroy(t);
}

/* Grows a subtable large and shrinks it by removal, checking that every
 * remaining key stays reachable (backward-shift deletion). */
static void
test_grow_shrink(void)
{
    enum { N = 5000 };
    struct mf_table *t = mf_create();
    struct megaflow **flows = xcalloc(N, sizeof *flows);
    struct flow_key mask;

    real_mask(&mask, 2);
    for (int i = 0; i < N; i++) {
        struct flow_key key;

        memset(&key, 0, sizeof key);
        key.in_port = 2 + i % 7;
        key.eth_type = htons(0x0800);
        key.nw_dst.ip4 = htonl(0x0a000000 + i);
        flows[i] = insert_simple(t, &key, &mask, 0, i, NULL);
    }
    CHECK_EQ(mf_n_subtables(t), 1);
    for (int round = 0; round < 3; round++) {
        for (int i = round; i < N; i += 3) {
            mf_remove(t, flows[i]);
            flows[i] = NULL;
        }
        size_t bad = 0;
        for (int i = 0; i < N; i++) {
            struct flow_key pkt;

            memset(&pkt, 0, sizeof pkt);
            pkt.in_port = 2 + i % 7;
            pkt.eth_type = htons(0x0800);
            pkt.nw_dst.ip4 = htonl(0x0a000000 + i);
            bad += mf_lookup(t, &pkt) != flows[i];
        }
        CHECK_EQ(bad, 0);
    }
    CHECK_EQ(mf_count(t), 0);
    CHECK_EQ(mf_n_subtables(t), 0);
    free(flows);
    mf_destroy(t);
}

int
main(void)
{
    RUN(test_random_vs_reference);
    RUN(test_nonoverlapping_priority0);
    RUN(test_priority_order);
    RUN(test_replace);
    RUN(test_remove_and_refcount);
    RUN(test_invalidate);
    RUN(test_overflow_any_change);
    RUN(test_expire);
    RUN(test_flush_counts_for_each);
    RUN(test_grow_shrink);
    return unit_finish();
}
