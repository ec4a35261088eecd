/*
 * csum.h -- the Internet checksum (RFC 1071) and its incremental update
 * (RFC 1624).
 *
 * Representation.  An accumulator (uint32_t) is a one's-complement sum of
 * 16-bit words loaded from memory in *memory order* -- on a little-endian
 * host the words are byte-swapped relative to the wire, but one's-complement
 * addition commutes with byte swapping (RFC 1071 section 2(B)), so the
 * folded result stored back to memory is the correct network-order value.
 * Consequently:
 *
 *   - csum_partial() and the pseudo-header helpers return accumulators that
 *     may be added with csum_add() in any order;
 *   - csum_fold() turns an accumulator into the final, complemented 16-bit
 *     checksum as a be16, ready to be stored into a header field;
 *   - a region that already contains its correct checksum verifies with
 *     csum_fold(csum_partial(region, len, pseudo)) == 0.
 *
 * Accumulators never overflow in practice: csum_partial() folds its
 * internal 64-bit sum before returning, and csum_add() folds carries.
 *
 * Everything here is pure computation on caller memory: thread-safe, no
 * allocation, no alignment requirements.
 */
#ifndef WEFT_CSUM_H
#define WEFT_CSUM_H 1

#include "lib/util.h"

/* Adds two accumulators (end-around carry).  Either may be any 32-bit
 * value. */
static inline uint32_t
csum_add(uint32_t a, uint32_t b)
{
    uint32_t s = a + b;
    return s + (s < a);
}

/* Adds the 16-bit value 'v' (as stored in memory, e.g. a be16 field) to
 * the accumulator 'sum'. */
static inline uint32_t
csum_add16(uint32_t sum, be16 v)
{
    return csum_add(sum, v);
}

/* Adds the 32-bit value 'v' (as stored in memory, e.g. a be32 field) to
 * the accumulator 'sum'. */
static inline uint32_t
csum_add32(uint32_t sum, be32 v)
{
    return csum_add(csum_add(sum, v & 0xffff), v >> 16);
}

/* Folds 'sum' to 16 bits and complements it: the value to store in a
 * checksum field (network byte order as a be16 in memory).  Note that a
 * result of 0 is valid for TCP/IPv4 but means "no checksum" for UDP; UDP
 * writers must store 0xffff instead (see csum_fold_udp()). */
static inline be16
csum_fold(uint32_t sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (be16) ~sum;
}

/* Like csum_fold(), but maps 0 to 0xffff as RFC 768 requires for UDP (and
 * as Linux does for every offloaded checksum). */
static inline be16
csum_fold_udp(uint32_t sum)
{
    be16 c = csum_fold(sum);
    return c ? c : 0xffff;
}

/* Returns 'initial' plus the one's-complement sum of the 'len' bytes at
 * 'data'.  'data' may be unaligned.  When summing a region in several
 * calls, every piece except the last must have even length. */
uint32_t csum_partial(const void *data, size_t len, uint32_t initial);

/* Returns the checksum to store in the IPv4 header 'hdr' of 'hdr_len'
 * bytes (20..60, a multiple of 4), computed as if its ip_csum field were
 * zero; the field's current content does not matter. */
be16 csum_ipv4_header(const void *hdr, size_t hdr_len);

/* Returns true if the IPv4 header 'hdr' of 'hdr_len' bytes carries a
 * correct header checksum. */
bool csum_ipv4_header_ok(const void *hdr, size_t hdr_len);

/* Returns the accumulator for the IPv4 TCP/UDP pseudo-header (RFC 793
 * section 3.1): source, destination, protocol and 'l4_len', the length of
 * the L4 header plus payload in host byte order. */
uint32_t csum_pseudo_ipv4(be32 src, be32 dst, uint8_t proto,
                          uint16_t l4_len);

/* Returns the accumulator for the IPv6 upper-layer pseudo-header (RFC 8200
 * section 8.1): 16-byte source and destination, 'l4_len' (host order) and
 * next header 'proto'.  Also used for ICMPv6. */
uint32_t csum_pseudo_ipv6(const void *src, const void *dst, uint8_t proto,
                          uint32_t l4_len);

/* Incremental update (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).  Given the
 * checksum field 'csum' as stored, returns the new value to store after a
 * covered 16-bit field changes from 'old' to 'new' (both as stored). */
be16 csum_update16(be16 csum, be16 old, be16 new_);

/* Same as csum_update16() for a 32-bit field (e.g. an IPv4 address, which
 * is also covered by TCP/UDP checksums through the pseudo-header). */
be16 csum_update32(be16 csum, be32 old, be32 new_);

#endif /* WEFT_CSUM_H */
