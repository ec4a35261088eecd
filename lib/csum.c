/*
 * csum.c -- Internet checksum helpers (see csum.h).
 *
 * csum_partial() is on the TCP throughput path (offload.c sums every byte
 * of every segment once), so it sums 32-bit words into a 64-bit
 * accumulator, eight words per iteration: no carries to propagate inside
 * the loop (2^32 words would be needed to overflow) and a shape compilers
 * schedule well.  The 64-bit sum is folded to 32 bits at the end.
 */
#include "lib/csum.h"

#include <arpa/inet.h>

#include "lib/packet.h"

static inline uint32_t
fold64(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    return (uint32_t) s;
}

uint32_t
csum_partial(const void *data, size_t len, uint32_t initial)
{
    const uint8_t *p = data;
    uint64_t s0 = initial, s1 = 0, s2 = 0, s3 = 0;

    while (len >= 32) {
        s0 += (uint64_t) get32(p) + get32(p + 4);
        s1 += (uint64_t) get32(p + 8) + get32(p + 12);
        s2 += (uint64_t) get32(p + 16) + get32(p + 20);
        s3 += (uint64_t) get32(p + 24) + get32(p + 28);
        p += 32;
        len -= 32;
    }
    while (len >= 4) {
        s0 += get32(p);
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        s1 += get16(p);
        p += 2;
        len -= 2;
    }
    if (len) {
        /* The odd byte is the first byte of a zero-padded 16-bit word, in
         * memory order. */
        uint8_t w[2] = { *p, 0 };
        s2 += get16(w);
    }
    return fold64(s0 + s1 + s2 + s3);
}

be16
csum_ipv4_header(const void *hdr, size_t hdr_len)
{
    const uint8_t *p = hdr;
    be16 field = get16(p + 10);

    /* Sum everything, then cancel the checksum field by adding its
     * one's complement. */
    return csum_fold(csum_add16(csum_partial(p, hdr_len, 0),
                                (be16) ~field));
}

bool
csum_ipv4_header_ok(const void *hdr, size_t hdr_len)
{
    return csum_fold(csum_partial(hdr, hdr_len, 0)) == 0;
}

uint32_t
csum_pseudo_ipv4(be32 src, be32 dst, uint8_t proto, uint16_t l4_len)
{
    uint32_t s = csum_add32(0, src);
    s = csum_add32(s, dst);
    s = csum_add16(s, htons(proto));
    return csum_add16(s, htons(l4_len));
}

uint32_t
csum_pseudo_ipv6(const void *src, const void *dst, uint8_t proto,
                 uint32_t l4_len)
{
    uint32_t s = csum_partial(src, 16, 0);
    s = csum_partial(dst, 16, s);
    s = csum_add32(s, htonl(l4_len));
    return csum_add32(s, htonl(proto));
}

be16
csum_update16(be16 csum, be16 old, be16 new_)
{
    uint32_t s = (uint16_t) ~csum;
    s = csum_add16(s, (be16) ~old);
    s = csum_add16(s, new_);
    return csum_fold(s);
}

be16
csum_update32(be16 csum, be32 old, be32 new_)
{
    uint32_t s = (uint16_t) ~csum;
    s = csum_add32(s, ~old);
    s = csum_add32(s, new_);
    return csum_fold(s);
}
