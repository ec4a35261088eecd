/*
 * bench-cache.c -- micro-benchmark of the flow caches.
 *
 * Measures, single-threaded:
 *   key_hash       building a packet's key and flow_key_hash() of it (the
 *                  part of emc_hit that is not the cache);
 *   emc_hit        flow_key_hash (as hash_words64 over the key) + an
 *                  exact-match cache hit, for 1k and 4k cached keys;
 *   mf_lookup      megaflow lookup hitting a random flow, with 1, 4 and 16
 *                  subtables and 1k or 100k flows (priority 0, no overlap,
 *                  as the agent installs them), and a miss that scans every
 *                  subtable; the same with skewed traffic (4 in 5 packets
 *                  for the last-created subtable) before and after
 *                  mf_expire() ranks the subtables by hits;
 *   mf_insert      inserting 100k megaflows over 4 masks, and removing them.
 *
 * Packets are generated on the fly from an index (no big packet array to
 * stream from memory), so with 100k flows the cost includes the cache
 * misses a real workload of that size would see.  Each measurement runs
 * for about 150 ms; the whole run takes a few seconds.
 *
 * Output: one line per measurement, "bench-cache: <name> <N> ns/pkt".
 */
#include "datapath/emc.h"
#include "datapath/megaflow.h"

#include <arpa/inet.h>
#include <limits.h>
#include <string.h>

#include "bench/micro/bench-util.h"

#define RUN_NSEC (150 * 1000 * 1000LL)
#define BATCH 4096

static volatile uint64_t sink;

static inline uint32_t
key_hash(const struct flow_key *key)
{
    /* flow_key_hash(key, 0), by definition. */
    return hash_words64((const uint64_t *) key, FLOW_KEY_U64S, 0);
}

/* Packet 'i': a TCP/IPv4 key whose nw_dst names flow 'i'. */
static inline void
make_packet(struct flow_key *k, uint32_t i)
{
    memset(k, 0, sizeof *k);
    k->in_port = 2;
    k->eth_dst = (struct eth_addr) { { 0x02, 0, 0, 0, 0, 1 } };
    k->eth_src = (struct eth_addr) { { 0x02, 0, 0, 0, 0, 2 } };
    k->eth_type = htons(0x0800);
    k->nw_proto = 6;
    k->nw_ttl = 64;
    k->nw_src.ip4 = htonl(0xc0a80000 | (i & 0xffff));
    k->nw_dst.ip4 = htonl(0x0a000000 + i);
    k->tp_src = htons(40000 + (i & 0x3ff));
    k->tp_dst = htons(80);
    k->tcp_flags = 0x10;
}

/* Mask number 's' of 16: in_port, eth_type, nw_dst, and nw_src/s. */
static void
make_mask(struct flow_key *m, int s)
{
    struct flow_wc wc;

    flow_wc_init_catchall(&wc);
    FLOW_WC_MASK(&wc, in_port);
    FLOW_WC_MASK(&wc, eth_type);
    FLOW_WC_MASK(&wc, nw_dst);
    if (s) {
        wc.masks.nw_src.ip4 = htonl(~0u << (32 - s));
    }
    if (s >= 8) {
        FLOW_WC_MASK(&wc, nw_proto);
        FLOW_WC_MASK(&wc, tp_dst);
    }
    *m = wc.masks;
}

static struct megaflow *
add(struct mf_table *t, const struct flow_key *key, const struct flow_key *m,
    uint32_t port)
{
    struct dp_actions acts;
    struct flow_tags tags;

    dp_actions_init(&acts);
    dp_actions_output(&acts, port);
    flow_tags_init(&tags);
    flow_tags_add(&tags, port);
    return mf_insert(t, key, m, 0, &acts, &tags);
}

/* Fills 't' with 'n_flows' flows spread over 'n_sub' masks. */
static void
fill(struct mf_table *t, int n_sub, uint32_t n_flows)
{
    for (uint32_t i = 0; i < n_flows; i++) {
        struct flow_key key, mask;

        make_packet(&key, i);
        make_mask(&mask, i % n_sub);
        add(t, &key, &mask, i);
    }
}

static void
report(const char *name, long long nsec, uint64_t n)
{
    bench_report("bench-cache", name, nsec, n);
}

static void
bench_key_hash(void)
{
    uint64_t n = 0;
    uint32_t rng = 1, acc = 0;
    long long start, end;

    start = time_nsec();
    do {
        for (int b = 0; b < BATCH; b++) {
            struct flow_key key;

            make_packet(&key, next_index(&rng, 1024));
            acc += key_hash(&key);
        }
        n += BATCH;
        end = time_nsec();
    } while (end - start < RUN_NSEC);
    sink += acc;
    report("key_hash", end - start, n);
}

static void
bench_emc(uint32_t n_keys)
{
    struct mf_table *t = mf_create();
    struct emc *emc = emc_create();
    struct megaflow **flows = xcalloc(n_keys, sizeof *flows);
    uint64_t n = 0, hits, misses;
    uint32_t rng = 1;
    long long start, end;
    char name[64];

    fill(t, 1, n_keys);
    for (uint32_t i = 0; i < n_keys; i++) {
        struct flow_key key;

        make_packet(&key, i);
        flows[i] = mf_lookup(t, &key);
        emc_insert(emc, &key, key_hash(&key), flows[i]);
    }

    start = time_nsec();
    do {
        for (int b = 0; b < BATCH; b++) {
            struct flow_key key;
            struct megaflow *f;

            make_packet(&key, next_index(&rng, n_keys));
            f = emc_lookup(emc, &key, key_hash(&key));
            if (f) {
                f->n_packets++;
            }
        }
        n += BATCH;
        end = time_nsec();
    } while (end - start < RUN_NSEC);

    emc_stats(emc, &hits, &misses);
    snprintf(name, sizeof name, "emc_hit_%uk", n_keys / 1024);
    report(name, end - start, n);
    printf("bench-cache:   (emc hit rate %.1f%%)\n",
           100.0 * hits / (hits + misses));

    emc_destroy(emc);
    mf_destroy(t);
    free(flows);
}

/* Packet index for the skewed workload: 4 in 5 packets hit a flow of the
 * last-created subtable. */
static inline uint32_t
skewed_index(uint32_t *rng, int n_sub, uint32_t n_flows)
{
    uint32_t i = next_index(rng, n_flows);

    if (i % 5) {
        i = i - i % n_sub + (n_sub - 1);
        if (i >= n_flows) {
            i -= n_sub;
        }
    }
    return i;
}

/* 'mode': "hit" (uniform over the flows), "miss", "skew" (skewed, in
 * creation order), "ranked" (skewed, after mf_expire() ranked the
 * subtables). */
static void
bench_mf_lookup(int n_sub, uint32_t n_flows, const char *mode)
{
    struct mf_table *t = mf_create();
    uint64_t n = 0, found = 0;
    bool miss = !strcmp(mode, "miss");
    bool skew = !strcmp(mode, "skew") || !strcmp(mode, "ranked");
    uint32_t rng = 7;
    long long start, end;
    char name[64];

    fill(t, n_sub, n_flows);
    if (!strcmp(mode, "ranked")) {
        for (int i = 0; i < 100000; i++) {
            struct flow_key key;

            make_packet(&key, skewed_index(&rng, n_sub, n_flows));
            found += mf_lookup(t, &key) != NULL;
        }
        mf_expire(t, time_msec(), LLONG_MAX / 4);
        found = 0;
    }
    start = time_nsec();
    do {
        for (int b = 0; b < BATCH; b++) {
            struct flow_key key;
            struct megaflow *f;
            uint32_t i = (skew ? skewed_index(&rng, n_sub, n_flows)
                          : next_index(&rng, n_flows));

            make_packet(&key, i + (miss ? n_flows : 0));
            f = mf_lookup(t, &key);
            found += f != NULL;
        }
        n += BATCH;
        end = time_nsec();
    } while (end - start < RUN_NSEC);
    sink += found;

    snprintf(name, sizeof name, "mf_%s_%dsub_%uk", mode, n_sub,
             n_flows / 1000);
    report(name, end - start, n);
    if (found != (miss ? 0 : n)) {
        printf("bench-cache:   WARNING: %llu of %llu found\n",
               (unsigned long long) found, (unsigned long long) n);
    }
    mf_destroy(t);
}

static void
bench_insert(void)
{
    enum { N = 100000 };
    struct mf_table *t = mf_create();
    struct megaflow **flows = xcalloc(N, sizeof *flows);
    struct flow_key *keys = xcalloc(N, sizeof *keys);
    struct flow_key masks[4];
    long long start, mid, end;
    uint32_t rng = 3;

    for (int s = 0; s < 4; s++) {
        make_mask(&masks[s], s * 4);
    }
    for (uint32_t i = 0; i < N; i++) {
        make_packet(&keys[i], i);
    }

    start = time_nsec();
    for (uint32_t i = 0; i < N; i++) {
        flows[i] = add(t, &keys[i], &masks[i % 4], i);
    }
    mid = time_nsec();
    /* Remove in a random order. */
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = next_index(&rng, i + 1);
        struct megaflow *tmp = flows[i];
        flows[i] = flows[j];
        flows[j] = tmp;
    }
    long long rstart = time_nsec();
    for (uint32_t i = 0; i < N; i++) {
        mf_remove(t, flows[i]);
    }
    end = time_nsec();

    printf("bench-cache: mf_insert_100k %.1f ns/flow (%.2f M flows/s)\n",
           (double) (mid - start) / N, N * 1e3 / (mid - start));
    printf("bench-cache: mf_remove_100k %.1f ns/flow (%.2f M flows/s)\n",
           (double) (end - rstart) / N, N * 1e3 / (end - rstart));
    mf_destroy(t);
    free(keys);
    free(flows);
}

int
main(void)
{
    static const int subs[] = { 1, 4, 16 };

    bench_key_hash();
    bench_emc(1024);
    bench_emc(4096);
    for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
        bench_mf_lookup(subs[i], 1000, "hit");
        bench_mf_lookup(subs[i], 100000, "hit");
    }
    bench_mf_lookup(16, 100000, "miss");
    bench_mf_lookup(16, 1000, "skew");
    bench_mf_lookup(16, 1000, "ranked");
    bench_mf_lookup(16, 100000, "skew");
    bench_mf_lookup(16, 100000, "ranked");
    bench_insert();
    return 0;
}
