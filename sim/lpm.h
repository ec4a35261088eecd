/*
 * lpm.h -- longest-prefix match for a router's routing table, with the
 * number of address bits the answer depended on.
 *
 * A table maps prefixes (an address and a length in bits, up to 128 so
 * that IPv6 fits the same code) to values.  lpm_lookup() returns the value
 * of the longest prefix containing an address, and also how many leading
 * bits of the address the answer depended on: every address that shares
 * those bits gets the same answer.  That count is what the simulation
 * un-wildcards in nw_dst, so a routed megaflow covers the whole part of the
 * address space that routes the same way instead of one destination.
 *
 * Representation: a binary trie, one node per bit of a stored prefix.  A
 * lookup descends along the address while a child exists, remembering the
 * last node that holds a value.  Where it stops (no child for the next
 * bit, or all bits used), the answer is fixed for every address with the
 * same bits so far plus, if the node has any child, the bit that chose
 * none.  Routing tables of virtual routers are small (tens to thousands of
 * routes) and change rarely; a lookup costs at most one step per bit.
 *
 * Addresses are byte strings in network order; bit 0 is the most
 * significant bit of byte 0.  Bits of 'addr' beyond 'plen' are ignored on
 * insertion.
 *
 * Not thread-safe; the owner (the topology) serializes access.
 */
#ifndef WEFT_LPM_H
#define WEFT_LPM_H 1

#include <stddef.h>
#include <stdint.h>

#define LPM_MAX_BITS 128

struct lpm;

/* Creates an empty table for 'n_bits'-bit addresses (32 or 128; at most
 * LPM_MAX_BITS). */
struct lpm *lpm_create(unsigned n_bits);
void lpm_destroy(struct lpm *);                 /* Accepts NULL. */

/* Maps prefix 'addr'/'plen' to 'value' (not NULL), replacing any value the
 * same prefix had; returns the replaced value or NULL.  'plen' must not
 * exceed the table's address width. */
void *lpm_insert(struct lpm *, const void *addr, unsigned plen, void *value);

/* Removes prefix 'addr'/'plen'; returns its value, or NULL if it was not
 * in the table. */
void *lpm_remove(struct lpm *, const void *addr, unsigned plen);

/* Returns the value of the longest prefix that contains 'addr', or NULL if
 * none does.  '*plenp' (may be NULL) receives that prefix's length.
 * '*bitsp' (may be NULL) receives how many leading bits of 'addr' the
 * answer depended on (0..n_bits): any address with the same leading
 * '*bitsp' bits gets the same answer. */
void *lpm_lookup(const struct lpm *, const void *addr, unsigned *plenp,
                 unsigned *bitsp);

/* Number of prefixes stored. */
size_t lpm_count(const struct lpm *);

/* Calls 'cb' for every prefix, shortest first among nested prefixes
 * (pre-order, bit 0 before bit 1). */
void lpm_for_each(const struct lpm *,
                  void (*cb)(const uint8_t *addr, unsigned plen, void *value,
                             void *aux),
                  void *aux);

#endif /* WEFT_LPM_H */
