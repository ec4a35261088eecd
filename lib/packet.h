/*
 * packet.h -- wire formats.
 *
 * Every struct here is exactly its on-the-wire layout (checked with
 * BUILD_ASSERT), packed where the wire is not naturally aligned, with
 * big-endian fields typed be16/be32.  Nothing here touches memory; parsing
 * lives in flow-key.c and must never trust a length it has not checked.
 */
#ifndef WEFT_PACKET_H
#define WEFT_PACKET_H 1

#include "lib/util.h"

#define ETH_ADDR_LEN 6
#define ETH_HDR_LEN 14
#define VLAN_HDR_LEN 4

#define ETH_TYPE_IP    0x0800
#define ETH_TYPE_ARP   0x0806
#define ETH_TYPE_VLAN  0x8100
#define ETH_TYPE_QINQ  0x88a8
#define ETH_TYPE_IPV6  0x86dd
#define ETH_TYPE_MIN   0x0600   /* Below this the field is an 802.3 length. */

#define IPPROTO_ICMP_   1
#define IPPROTO_TCP_    6
#define IPPROTO_UDP_    17
#define IPPROTO_ICMPV6_ 58

/* ICMPv4 types and codes (RFC 792, 1122, 1812). */
#define ICMP4_ECHO_REPLY     0
#define ICMP4_DEST_UNREACH   3
#define ICMP4_CODE_NET_UNREACH   0
#define ICMP4_CODE_HOST_UNREACH  1
#define ICMP4_CODE_PROTO_UNREACH 2
#define ICMP4_CODE_PORT_UNREACH  3
#define ICMP4_CODE_FRAG_NEEDED   4
#define ICMP4_CODE_ADMIN_PROHIB  13
#define ICMP4_ECHO_REQUEST   8
#define ICMP4_TIME_EXCEEDED  11
#define ICMP4_PARAM_PROBLEM  12

/* ICMPv6 types (RFC 4443, 4861, 2710, 3810). */
#define ICMPV6_DEST_UNREACH     1
#define ICMPV6_PACKET_TOO_BIG   2
#define ICMPV6_TIME_EXCEEDED    3
#define ICMPV6_PARAM_PROBLEM    4
#define ICMPV6_ECHO_REQUEST     128
#define ICMPV6_ECHO_REPLY       129
#define ICMPV6_MLD_QUERY        130
#define ICMPV6_MLD_REPORT       131
#define ICMPV6_MLD_DONE         132
#define ICMPV6_ROUTER_SOLICIT   133
#define ICMPV6_ROUTER_ADVERT    134
#define ICMPV6_NEIGHBOR_SOLICIT 135
#define ICMPV6_NEIGHBOR_ADVERT  136
#define ICMPV6_REDIRECT         137
#define ICMPV6_MLD2_REPORT      143

#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY   2

#define GENEVE_PORT 6081
#define VXLAN_PORT  4789

struct eth_addr {
    uint8_t ea[ETH_ADDR_LEN];
};

struct eth_header {
    struct eth_addr eth_dst;
    struct eth_addr eth_src;
    be16 eth_type;
} __attribute__((packed));
BUILD_ASSERT_DECL(sizeof(struct eth_header) == ETH_HDR_LEN);

struct vlan_header {
    be16 vlan_tci;
    be16 vlan_next_type;
} __attribute__((packed));
BUILD_ASSERT_DECL(sizeof(struct vlan_header) == VLAN_HDR_LEN);

struct arp_eth_header {
    be16 ar_hrd;                /* 1 = Ethernet. */
    be16 ar_pro;                /* 0x0800 = IPv4. */
    uint8_t ar_hln;             /* 6 */
    uint8_t ar_pln;             /* 4 */
    be16 ar_op;
    struct eth_addr ar_sha;
    be32 ar_spa;
    struct eth_addr ar_tha;
    be32 ar_tpa;
} __attribute__((packed));
BUILD_ASSERT_DECL(sizeof(struct arp_eth_header) == 28);

struct ip_header {
    uint8_t ip_ihl_ver;
    uint8_t ip_tos;
    be16 ip_tot_len;
    be16 ip_id;
    be16 ip_frag_off;
    uint8_t ip_ttl;
    uint8_t ip_proto;
    be16 ip_csum;
    be32 ip_src;
    be32 ip_dst;
} __attribute__((packed));
BUILD_ASSERT_DECL(sizeof(struct ip_header) == 20);
#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_FRAG_OFF_MASK 0x1fff

struct ipv6_header {
    be32 ip6_vtc_flow;
    be16 ip6_plen;
    uint8_t ip6_nxt;
    uint8_t ip6_hlim;
    uint8_t ip6_src[16];
    uint8_t ip6_dst[16];
} __attribute__((packed));
BUILD_ASSERT_DECL(sizeof(struct ipv6_header) == 40);

struct ipv6_ext_header {
    uint8_t nxt;
    uint8_t len;                /* In 8-octet units, not counting the first. */
} __attribute__((packed));

struct ipv6_frag_header {
    uint8_t nxt;
    uint8_t reserved;
    be16 off_flags;             /* Offset << 3 | M flag. */
    be32 ident;
} __attribute__((packed));
BUILD_ASSERT_DECL(sizeof(struct ipv6_frag_header) == 8);

struct tcp_header {
    be16 tcp_src;
    be16 tcp_dst;
    be32 tcp_seq;
    be32 tcp_ack;
    uint8_t tcp_off;            /* Data offset in the high nibble. */
    uint8_t tcp_flags;
    be16 tcp_winsz;
    be16 tcp_csum;
    be16 tcp_urg;
} __attribute__((packed));
BUILD_ASSERT_DECL(sizeof(struct tcp_header) == 20);

struct udp_header {
    be16 udp_src;
    be16 udp_dst;
    be16 udp_len;
    be16 udp_csum;
} __attribute__((packed));
BUILD_ASSERT_DECL(sizeof(struct udp_header) == 8);

struct icmp_header {            /* ICMP and ICMPv6 share the first 4 bytes. */
    uint8_t icmp_type;
    uint8_t icmp_code;
    be16 icmp_csum;
    be16 icmp_id;               /* Echo only. */
    be16 icmp_seq;
} __attribute__((packed));
BUILD_ASSERT_DECL(sizeof(struct icmp_header) == 8);

/* Geneve, RFC 8926 section 3.4. */
struct geneve_header {
    uint8_t ver_optlen;         /* Version (2 bits) and option length/4. */
    uint8_t flags;              /* O (0x80) and C (0x40) bits. */
    be16 proto_type;            /* 0x6558: Transparent Ethernet Bridging. */
    uint8_t vni[3];
    uint8_t reserved;
} __attribute__((packed));
BUILD_ASSERT_DECL(sizeof(struct geneve_header) == 8);
#define GENEVE_PROTO_TEB 0x6558

/* VXLAN, RFC 7348 section 5. */
struct vxlan_header {
    uint8_t flags;              /* I flag 0x08 must be set. */
    uint8_t reserved1[3];
    uint8_t vni[3];
    uint8_t reserved2;
} __attribute__((packed));
BUILD_ASSERT_DECL(sizeof(struct vxlan_header) == 8);
#define VXLAN_FLAG_I 0x08

/* Bytes a tunnel adds in front of the inner Ethernet frame on an IPv4
 * underlay: outer IP + UDP + tunnel header (+ inner Ethernet is part of
 * the frame, so a network's MTU = underlay MTU - overhead - 14). */
#define TUNNEL_OUTER_LEN (20 + 8 + 8)

/* TCP flag bits (tcp_flags). */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

/* Loads and stores of wire fields at any alignment, in wire order (no
 * byte swapping: the types say the value is big-endian). */
static inline be16
get16(const uint8_t *p)
{
    be16 v;
    __builtin_memcpy(&v, p, 2);
    return v;
}

static inline be32
get32(const uint8_t *p)
{
    be32 v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

static inline void
put16(uint8_t *p, be16 v)
{
    __builtin_memcpy(p, &v, 2);
}

static inline void
put32(uint8_t *p, be32 v)
{
    __builtin_memcpy(p, &v, 4);
}

/* Writes the mask of an IPv6 prefix of 'plen' bits (0..128; above 128
 * counts as 128) into 'mask'. */
static inline void
ip6_prefix_mask(unsigned int plen, uint8_t mask[16])
{
    for (unsigned int i = 0; i < 16; i++) {
        unsigned int bits = plen > i * 8 ? plen - i * 8 : 0;

        mask[i] = bits >= 8 ? 0xff : (uint8_t) (0xff00u >> bits);
    }
}

static inline bool
eth_addr_is_multicast(const struct eth_addr *a)
{
    return a->ea[0] & 1;
}

/* The network-order mask of an IPv4 prefix of 'plen' bits (0..32; above
 * 32 counts as 32). */
static inline be32
ip4_prefix_mask(unsigned int plen)
{
    uint32_t m = (!plen ? 0 : plen >= 32 ? UINT32_MAX
                  : UINT32_MAX << (32 - plen));
    uint8_t b[4] = { (uint8_t) (m >> 24), (uint8_t) (m >> 16),
                     (uint8_t) (m >> 8), (uint8_t) m };
    be32 v;

    __builtin_memcpy(&v, b, 4);
    return v;
}

static inline bool
eth_addr_equals(const struct eth_addr *a, const struct eth_addr *b)
{
    return !__builtin_memcmp(a->ea, b->ea, ETH_ADDR_LEN);
}

static inline bool
eth_addr_is_zero(const struct eth_addr *a)
{
    return !(a->ea[0] | a->ea[1] | a->ea[2] | a->ea[3] | a->ea[4]
             | a->ea[5]);
}

/* Writes the IPv6 link-local address (fe80::/64) a host forms from MAC
 * 'a' by modified EUI-64 (RFC 4291, appendix A) into 'out'. */
static inline void
ip6_link_local_from_mac(const struct eth_addr *a, uint8_t out[16])
{
    __builtin_memset(out, 0, 16);
    out[0] = 0xfe;
    out[1] = 0x80;
    out[8] = a->ea[0] ^ 0x02;
    out[9] = a->ea[1];
    out[10] = a->ea[2];
    out[11] = 0xff;
    out[12] = 0xfe;
    out[13] = a->ea[3];
    out[14] = a->ea[4];
    out[15] = a->ea[5];
}

/* Parses "aa:bb:cc:dd:ee:ff" (case-insensitive).  Returns true on success. */
bool eth_addr_from_string(const char *s, struct eth_addr *out);
/* Writes "aa:bb:cc:dd:ee:ff" plus NUL into 'buf' (at least 18 bytes). */
void eth_addr_to_string(const struct eth_addr *a, char *buf);

#endif /* WEFT_PACKET_H */
