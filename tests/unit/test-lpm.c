/*
 * test-lpm.c -- the longest-prefix-match trie: hand-made cases (default
 * route, nesting, /32, replacement, removal and pruning) and a randomized
 * comparison against a linear reference, which also checks the promise
 * that lets the simulation wildcard nw_dst: every address that shares the
 * reported number of leading bits gets the same answer.
 */
#include "sim/lpm.h"

#include <arpa/inet.h>
#include <string.h>

#include "lib/random.h"
#include "tests/lib/unit.h"

static uint32_t
ip(const char *s)
{
    struct in_addr in;

    inet_pton(AF_INET, s, &in);
    return in.s_addr;
}

static void *
lookup(const struct lpm *t, const char *addr, unsigned *plen, unsigned *bits)
{
    uint32_t a = ip(addr);

    return lpm_lookup(t, &a, plen, bits);
}

static int v[8];

static void
test_basic(void)
{
    struct lpm *t = lpm_create(32);
    uint32_t a;
    unsigned plen, bits;

    CHECK(lookup(t, "10.0.0.1", &plen, &bits) == NULL);
    CHECK_EQ(bits, 0);

    a = ip("10.0.0.0");
    CHECK(lpm_insert(t, &a, 8, &v[0]) == NULL);
    a = ip("10.1.0.0");
    CHECK(lpm_insert(t, &a, 16, &v[1]) == NULL);
    a = ip("10.1.2.3");
    CHECK(lpm_insert(t, &a, 32, &v[2]) == NULL);
    CHECK_EQ(lpm_count(t), 3);

    CHECK(lookup(t, "10.2.0.1", &plen, &bits) == &v[0]);
    CHECK_EQ(plen, 8);
    /* 2 = 00000010 and 1 = 00000001: bit 14 is where 10.2 leaves the
     * path to 10.1/16. */
    CHECK_EQ(bits, 15);
    CHECK(lookup(t, "10.1.9.9", &plen, &bits) == &v[1]);
    CHECK_EQ(plen, 16);
    CHECK_EQ(bits, 21);         /* 10.1.2.3 differs from 10.1.9.9 at bit
                                 * 20 (2 = 00000010, 9 = 00001001). */
    CHECK(lookup(t, "10.1.2.3", &plen, &bits) == &v[2]);
    CHECK_EQ(plen, 32);
    CHECK_EQ(bits, 32);
    CHECK(lookup(t, "11.0.0.0", &plen, &bits) == NULL);

    /* A default route catches everything else. */
    a = 0;
    CHECK(lpm_insert(t, &a, 0, &v[3]) == NULL);
    CHECK(lookup(t, "11.0.0.0", &plen, &bits) == &v[3]);
    CHECK_EQ(plen, 0);

    /* Replacement returns the old value and keeps the count. */
    a = ip("10.1.0.0");
    CHECK(lpm_insert(t, &a, 16, &v[4]) == &v[1]);
    CHECK_EQ(lpm_count(t), 4);
    CHECK(lookup(t, "10.1.9.9", NULL, NULL) == &v[4]);

    /* Removal falls back to the shorter prefix; absent prefixes. */
    CHECK(lpm_remove(t, &a, 16) == &v[4]);
    CHECK(lpm_remove(t, &a, 16) == NULL);
    CHECK(lpm_remove(t, &a, 17) == NULL);
    CHECK(lookup(t, "10.1.9.9", &plen, NULL) == &v[0]);
    CHECK_EQ(plen, 8);
    CHECK(lookup(t, "10.1.2.3", NULL, NULL) == &v[2]);
    a = ip("10.1.2.3");
    CHECK(lpm_remove(t, &a, 32) == &v[2]);
    /* Pruned: nothing deeper than the /8 is left on this path, so only
     * the bits down to it matter now. */
    CHECK(lookup(t, "10.1.2.3", &plen, &bits) == &v[0]);
    CHECK_EQ(bits, 8);
    CHECK_EQ(lpm_count(t), 2);
    lpm_destroy(t);
    lpm_destroy(NULL);
}

static void
count_cb(const uint8_t *addr, unsigned plen, void *value, void *aux)
{
    unsigned *n = aux;

    (void) addr;
    (void) plen;
    (void) value;
    (*n)++;
}

/* The reference: a list of prefixes searched linearly. */
struct ref {
    uint32_t addr[64];          /* Host order, masked. */
    unsigned plen[64];
    int *value[64];
    size_t n;
};

static uint32_t
mask_of(unsigned plen)
{
    return plen ? UINT32_MAX << (32 - plen) : 0;
}

static int *
ref_lookup(const struct ref *r, uint32_t addr)
{
    int *best = NULL;
    int best_plen = -1;

    for (size_t i = 0; i < r->n; i++) {
        if ((addr & mask_of(r->plen[i])) == r->addr[i]
            && (int) r->plen[i] > best_plen) {
            best = r->value[i];
            best_plen = (int) r->plen[i];
        }
    }
    return best;
}

static void
test_random(void)
{
    static int values[64];
    uint64_t seed = 0x5eed;

    for (int round = 0; round < 50; round++) {
        struct lpm *t = lpm_create(32);
        struct ref r = { .n = 0 };
        size_t n = 1 + random_range(&seed, 40);
        unsigned walked = 0;

        for (size_t i = 0; i < n; i++) {
            /* Clustered prefixes so that they nest and collide. */
            uint32_t a = 0x0a000000 | (random_range(&seed, 4) << 16)
                         | random_range(&seed, 65536);
            unsigned plen = random_range(&seed, 33);
            uint32_t be;
            size_t j;

            a &= mask_of(plen);
            for (j = 0; j < r.n; j++) {
                if (r.addr[j] == a && r.plen[j] == plen) {
                    break;
                }
            }
            r.addr[j] = a;
            r.plen[j] = plen;
            r.value[j] = &values[i];
            if (j == r.n) {
                r.n++;
            }
            be = htonl(a);
            lpm_insert(t, &be, plen, &values[i]);
        }
        /* Remove a few. */
        for (size_t k = 0; k < 3 && r.n > 1; k++) {
            size_t j = random_range(&seed, (uint32_t) r.n);
            uint32_t be = htonl(r.addr[j]);

            CHECK(lpm_remove(t, &be, r.plen[j]) == r.value[j]);
            r.addr[j] = r.addr[r.n - 1];
            r.plen[j] = r.plen[r.n - 1];
            r.value[j] = r.value[r.n - 1];
            r.n--;
        }
        CHECK_EQ(lpm_count(t), r.n);
        lpm_for_each(t, count_cb, &walked);
        CHECK_EQ(walked, r.n);

        for (int q = 0; q < 400; q++) {
            uint32_t a = 0x0a000000 | (random_range(&seed, 4) << 16)
                         | random_range(&seed, 65536);
            uint32_t be = htonl(a), be2;
            unsigned bits, plen;
            int *got = lpm_lookup(t, &be, &plen, &bits);
            uint32_t other;

            CHECK(got == ref_lookup(&r, a));
            CHECK(bits <= 32);
            /* Any address with the same leading 'bits' bits routes the
             * same way: flip one random bit below them. */
            if (bits < 32) {
                other = a ^ (1u << random_range(&seed, 32 - bits));
                be2 = htonl(other);
                CHECK(lpm_lookup(t, &be2, NULL, NULL) == got);
                CHECK(ref_lookup(&r, other) == got);
            }
        }
        lpm_destroy(t);
    }
}

static void
test_ipv6_width(void)
{
    struct lpm *t = lpm_create(128);
    uint8_t a[16], b[16];
    unsigned plen, bits;

    memset(a, 0, sizeof a);
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = 0x0d;
    a[3] = 0xb8;
    CHECK(lpm_insert(t, a, 32, &v[0]) == NULL);
    memcpy(b, a, sizeof b);
    b[15] = 1;
    CHECK(lpm_insert(t, b, 128, &v[1]) == NULL);
    CHECK(lpm_lookup(t, b, &plen, &bits) == &v[1]);
    CHECK_EQ(plen, 128);
    CHECK_EQ(bits, 128);
    b[15] = 2;
    CHECK(lpm_lookup(t, b, &plen, &bits) == &v[0]);
    CHECK_EQ(plen, 32);
    CHECK_EQ(bits, 127);
    lpm_destroy(t);
}

int
main(void)
{
    RUN(test_basic);
    RUN(test_random);
    RUN(test_ipv6_width);
    return unit_finish();
}
