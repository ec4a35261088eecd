/* lpm.c -- binary-trie longest-prefix match (see lpm.h). */
#include "sim/lpm.h"

#include <string.h>

#include "lib/util.h"

struct lpm_node {
    struct lpm_node *child[2];
    void *value;                /* NULL: no prefix ends here. */
};

struct lpm {
    struct lpm_node *root;
    unsigned n_bits;
    size_t n;
};

static unsigned
addr_bit(const uint8_t *addr, unsigned i)
{
    return (addr[i / 8] >> (7 - i % 8)) & 1;
}

struct lpm *
lpm_create(unsigned n_bits)
{
    struct lpm *lpm = xzalloc(sizeof *lpm);

    ASSERT(n_bits && n_bits <= LPM_MAX_BITS);
    lpm->n_bits = n_bits;
    return lpm;
}

static void
node_free(struct lpm_node *node)
{
    /* Recursion depth is bounded by LPM_MAX_BITS. */
    if (node) {
        node_free(node->child[0]);
        node_free(node->child[1]);
        free(node);
    }
}

void
lpm_destroy(struct lpm *lpm)
{
    if (lpm) {
        node_free(lpm->root);
        free(lpm);
    }
}

void *
lpm_insert(struct lpm *lpm, const void *addr_, unsigned plen, void *value)
{
    const uint8_t *addr = addr_;
    struct lpm_node **np = &lpm->root;
    void *old;

    ASSERT(value && plen <= lpm->n_bits);
    for (unsigned i = 0; ; i++) {
        if (!*np) {
            *np = xzalloc(sizeof **np);
        }
        if (i == plen) {
            break;
        }
        np = &(*np)->child[addr_bit(addr, i)];
    }
    old = (*np)->value;
    (*np)->value = value;
    if (!old) {
        lpm->n++;
    }
    return old;
}

void *
lpm_remove(struct lpm *lpm, const void *addr_, unsigned plen)
{
    const uint8_t *addr = addr_;
    struct lpm_node **path[LPM_MAX_BITS + 1];
    struct lpm_node **np = &lpm->root;
    void *old;
    unsigned i;

    if (plen > lpm->n_bits) {
        return NULL;
    }
    for (i = 0; ; i++) {
        if (!*np) {
            return NULL;
        }
        path[i] = np;
        if (i == plen) {
            break;
        }
        np = &(*np)->child[addr_bit(addr, i)];
    }
    old = (*np)->value;
    if (!old) {
        return NULL;
    }
    (*np)->value = NULL;
    lpm->n--;

    /* Prune the nodes that no longer lead anywhere, bottom up. */
    for (;;) {
        struct lpm_node *node = *path[i];

        if (node->value || node->child[0] || node->child[1]) {
            break;
        }
        free(node);
        *path[i] = NULL;
        if (!i--) {
            break;
        }
    }
    return old;
}

void *
lpm_lookup(const struct lpm *lpm, const void *addr_, unsigned *plenp,
           unsigned *bitsp)
{
    const uint8_t *addr = addr_;
    const struct lpm_node *node = lpm->root;
    void *best = NULL;
    unsigned best_plen = 0;
    unsigned bits = 0;

    for (unsigned i = 0; node; i++) {
        const struct lpm_node *next;

        if (node->value) {
            best = node->value;
            best_plen = i;
        }
        if (i == lpm->n_bits) {
            bits = i;
            break;
        }
        next = node->child[addr_bit(addr, i)];
        if (!next) {
            /* The answer depends on bit i only if some longer prefix
             * goes the other way. */
            bits = node->child[!addr_bit(addr, i)] ? i + 1 : i;
            break;
        }
        node = next;
    }
    if (plenp) {
        *plenp = best_plen;
    }
    if (bitsp) {
        *bitsp = bits;
    }
    return best;
}

size_t
lpm_count(const struct lpm *lpm)
{
    return lpm->n;
}

static void
walk(const struct lpm_node *node, uint8_t *addr, unsigned depth,
     void (*cb)(const uint8_t *, unsigned, void *, void *), void *aux)
{
    /* Recursion depth is bounded by LPM_MAX_BITS. */
    if (!node) {
        return;
    }
    if (node->value) {
        cb(addr, depth, node->value, aux);
    }
    for (unsigned b = 0; b < 2; b++) {
        if (node->child[b]) {
            uint8_t mask = (uint8_t) (0x80 >> (depth % 8));

            if (b) {
                addr[depth / 8] |= mask;
            }
            walk(node->child[b], addr, depth + 1, cb, aux);
            addr[depth / 8] &= (uint8_t) ~mask;
        }
    }
}

void
lpm_for_each(const struct lpm *lpm,
             void (*cb)(const uint8_t *addr, unsigned plen, void *value,
                        void *aux),
             void *aux)
{
    uint8_t addr[LPM_MAX_BITS / 8];

    memset(addr, 0, sizeof addr);
    walk(lpm->root, addr, 0, cb, aux);
}
