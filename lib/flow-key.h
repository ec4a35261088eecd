/*
 * flow-key.h -- the fixed-size key that names a packet's flow.
 *
 * A flow key is what the datapath knows about a packet before it decides
 * anything: where it came from (input port, tunnel VNI and outer source),
 * and the headers of Ethernet, 802.1Q, ARP, IPv4/IPv6 and TCP/UDP/ICMP.
 * The caches match on it; the simulation reads it through a flow_wc
 * (wildcards, megaflow.h) so that every field it looks at becomes part of
 * the cached flow's mask.
 *
 * Layout rules:
 *   - The key is FLOW_KEY_U64S 64-bit words; all padding is zero so that
 *     keys can be hashed and compared word by word, and masked with a
 *     word-wise AND.
 *   - Wire fields keep wire byte order (be16/be32); metadata is host order.
 *   - ARP reuses the IP fields: nw_proto holds the low byte of the opcode,
 *     nw_src/nw_dst the sender/target protocol addresses, arp_sha/arp_tha
 *     the hardware addresses.
 *   - ICMP/ICMPv6 put type and code in tp_src/tp_dst (htons(type)).
 *   - IPv6 neighbor solicitations and advertisements put their target
 *     address in nd_target, which shares its bytes with the ARP hardware
 *     addresses (a key is never both).
 *
 * Adding a field: add it, fix the BUILD_ASSERTs, bump FLOW_KEY_SEQ, and then
 * update every place that asserts on FLOW_KEY_SEQ (the extractor, the
 * formatter, the simulation's field accessors, the fuzz target).
 */
#ifndef WEFT_FLOW_KEY_H
#define WEFT_FLOW_KEY_H 1

#include "lib/packet.h"
#include "lib/util.h"

#define FLOW_KEY_SEQ 2

/* nw_frag bits. */
#define FLOW_NW_FRAG_ANY   0x1  /* Any fragment (first or later). */
#define FLOW_NW_FRAG_LATER 0x2  /* A non-first fragment: no L4 header. */

/* Datapath port numbers with a fixed meaning. */
#define FLOW_PORT_NONE   0
#define FLOW_PORT_TUNNEL 1      /* Packets decapsulated from the underlay. */
#define FLOW_PORT_FIRST_VIF 2   /* First number handed to a VM port. */

union flow_addr {
    be32 ip4;                   /* IPv4 in the first 4 bytes, rest zero. */
    uint8_t ip6[16];
};

struct flow_key {
    /* Metadata (host byte order). */
    uint32_t in_port;           /* Datapath port number (FLOW_PORT_*). */
    uint32_t tun_vni;           /* VNI if in_port == FLOW_PORT_TUNNEL. */
    be32 tun_src;               /* Outer IPv4 source if tunneled. */
    uint32_t pad0;              /* Zero. */

    /* L2. */
    struct eth_addr eth_dst;
    struct eth_addr eth_src;
    be16 vlan_tci;              /* 802.1Q TCI with 0x1000 (CFI) set if
                                 * tagged, else 0. */
    be16 eth_type;              /* After VLAN; 0x05ff for 802.3 frames. */

    /* L3 (or ARP). */
    uint8_t nw_proto;
    uint8_t nw_tos;
    uint8_t nw_ttl;
    uint8_t nw_frag;            /* FLOW_NW_FRAG_*. */
    uint32_t pad1;              /* Zero. */
    union flow_addr nw_src;
    union flow_addr nw_dst;

    /* L4 (or ICMP type/code), then ARP hardware addresses or the target
     * of IPv6 neighbor discovery. */
    be16 tp_src;
    be16 tp_dst;
    uint8_t tcp_flags;          /* TCP flags byte, else 0. */
    uint8_t pad2[3];            /* Zero. */
    union {
        struct {
            struct eth_addr arp_sha;
            struct eth_addr arp_tha;
            uint32_t pad3;      /* Zero. */
        };
        uint8_t nd_target[16];  /* ICMPv6 neighbor solicitation or
                                 * advertisement (code 0): the target
                                 * address. */
    };
} __attribute__((aligned(8)));  /* Word-wise access (hash, mask) is
                                 * aligned, also for UBSan. */

#define FLOW_KEY_U64S (sizeof(struct flow_key) / 8)
BUILD_ASSERT_DECL(sizeof(struct flow_key) == 96);
BUILD_ASSERT_DECL(sizeof(struct flow_key) % 8 == 0);
BUILD_ASSERT_DECL(_Alignof(struct flow_key) == 8);

/* Where the headers of a parsed packet start (offsets from the frame's
 * first byte), for actions that rewrite or answer the packet.  An offset of
 * UINT16_MAX means the layer is absent. */
struct packet_layout {
    uint16_t l2_len;            /* Ethernet header incl. VLAN tags. */
    uint16_t l3_ofs;
    uint16_t l4_ofs;
    uint16_t l4_len;            /* Bytes from l4_ofs to end of L3 payload. */
};

/* Parses 'len' bytes of the Ethernet frame at 'frame' into 'key' (fully
 * overwritten, padding zeroed) and 'layout' (may be NULL).  'in_port' is
 * stored as metadata; tunnel metadata is zeroed (the caller sets it).
 *
 * Never reads outside [frame, frame + len).  A truncated or malformed layer
 * leaves that layer's fields and all later ones zero and is not an error:
 * the key still describes what could be parsed.  Returns false only when
 * 'len' is too short for an Ethernet header (the key is then zero apart
 * from in_port). */
bool flow_key_extract(const void *frame, size_t len, uint32_t in_port,
                      struct flow_key *key, struct packet_layout *layout);

/* Hash of the whole key, with 'basis'. */
uint32_t flow_key_hash(const struct flow_key *key, uint32_t basis);

/* True if 'a' and 'b' are bitwise equal.  Inline: the datapath compares
 * keys per packet (exact-match cache, runs of equal keys in a batch). */
static inline bool
flow_key_equal(const struct flow_key *a, const struct flow_key *b)
{
    const uint64_t *x = (const uint64_t *) a;
    const uint64_t *y = (const uint64_t *) b;
    uint64_t diff = 0;

    for (size_t i = 0; i < FLOW_KEY_U64S; i++) {
        diff |= x[i] ^ y[i];
    }
    return !diff;
}

/* Writes a human-readable one-line form of 'key' into 'buf' of 'size'
 * bytes, e.g. "in_port=3,eth_dst=..,eth_type=0x0800,nw_src=10.0.0.1,..".
 * If 'mask' is nonnull, fields whose mask is all-zero are omitted and
 * partially masked fields are printed as value/mask.  Returns 'buf'. */
char *flow_key_format(const struct flow_key *key, const struct flow_key *mask,
                      char *buf, size_t size);

/* Wildcards: which bits of a flow key a decision depended on.  The
 * simulation starts from flow_wc_init_catchall() and calls FLOW_WC_MASK()
 * for every field it reads; the result is the cached megaflow's mask. */
struct flow_wc {
    struct flow_key masks;
};

static inline void
flow_wc_init_catchall(struct flow_wc *wc)
{
    __builtin_memset(&wc->masks, 0, sizeof wc->masks);
}

#define FLOW_WC_MASK(WC, FIELD) \
    __builtin_memset(&(WC)->masks.FIELD, 0xff, sizeof (WC)->masks.FIELD)

/* True if address 'a' lies in the prefix 'prefix'/'plen' (whose bits past
 * 'plen' are zero); IPv4 if !ipv6. */
static inline bool
flow_addr_in_prefix(const union flow_addr *a, const union flow_addr *prefix,
                    unsigned int plen, bool ipv6)
{
    uint8_t m[16];

    if (!ipv6) {
        return (a->ip4 & ip4_prefix_mask(plen)) == prefix->ip4;
    }
    ip6_prefix_mask(plen, m);
    for (int i = 0; i < 16; i++) {
        if ((a->ip6[i] & m[i]) != prefix->ip6[i]) {
            return false;
        }
    }
    return true;
}

/* Un-wildcards the first 'plen' bits of the address whose mask is 'mask'
 * (a field of a flow_wc). */
static inline void
flow_addr_mask_prefix(union flow_addr *mask, unsigned int plen, bool ipv6)
{
    uint8_t m[16];

    if (!ipv6) {
        mask->ip4 |= ip4_prefix_mask(plen);
        return;
    }
    ip6_prefix_mask(plen, m);
    for (int i = 0; i < 16; i++) {
        mask->ip6[i] |= m[i];
    }
}

/* Sets 'dst' to 'src' & 'mask', word by word. */
static inline void
flow_key_apply_mask(struct flow_key *dst, const struct flow_key *src,
                    const struct flow_key *mask)
{
    const uint64_t *s = (const uint64_t *) src;
    const uint64_t *m = (const uint64_t *) mask;
    uint64_t *d = (uint64_t *) dst;
    for (size_t i = 0; i < FLOW_KEY_U64S; i++) {
        d[i] = s[i] & m[i];
    }
}

#endif /* WEFT_FLOW_KEY_H */
