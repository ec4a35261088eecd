/*
 * test-flow-key.c -- flow_key_extract() on every protocol it knows, on
 * truncated, malformed and random frames, and flow_key_format/hash/equal.
 *
 * Truncated and random frames are copied into heap buffers of exactly
 * their length so that AddressSanitizer (make SAN=1) reports any read past
 * the end.
 */
#include "lib/flow-key.h"

#include <arpa/inet.h>
#include <string.h>

#include "lib/packet-edit.h"
#include "tests/lib/unit.h"
#include "lib/random.h"

static const struct eth_addr mac1 = {{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 }};
static const struct eth_addr mac2 = {{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 }};

/* A TCP/IPv4 SYN written out byte by byte: 02:..:02 <- 02:..:01,
 * 10.0.0.1:1234 -> 10.0.0.2:80, TTL 64, TOS 0x10, id 0x1c46, DF. */
static const uint8_t tcp4_frame[] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x08, 0x00,
    0x45, 0x10, 0x00, 0x28, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
    0x04, 0xd2, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x50, 0x02, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
};

/* Returns a heap copy of 'len' bytes of 'src' (so ASan sees the end). */
static uint8_t *
heap_copy(const void *src, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    if (len) {
        memcpy(p, src, len);
    }
    return p;
}

static bool
extract_exact(const void *frame, size_t len, uint32_t in_port,
              struct flow_key *key, struct packet_layout *lo)
{
    uint8_t *copy = heap_copy(frame, len);
    bool ok = flow_key_extract(copy, len, in_port, key, lo);
    free(copy);
    return ok;
}

static bool
pads_zero(const struct flow_key *k)
{
    bool nd = (k->eth_type == htons(ETH_TYPE_IPV6)
               && k->nw_proto == IPPROTO_ICMPV6_
               && (k->tp_src == htons(ICMPV6_NEIGHBOR_SOLICIT)
                   || k->tp_src == htons(ICMPV6_NEIGHBOR_ADVERT)));

    /* pad3 is part of nd_target in a neighbor discovery key. */
    return !k->pad0 && !k->pad1 && !k->pad2[0] && !k->pad2[1] && !k->pad2[2]
           && (nd || !k->pad3);
}

static bool
ip4_tail_zero(const union flow_addr *a)
{
    for (int i = 4; i < 16; i++) {
        if (a->ip6[i]) {
            return false;
        }
    }
    return true;
}

static struct packet_spec
base_spec(void)
{
    struct packet_spec s;
    memset(&s, 0, sizeof s);
    s.eth_src = mac1;
    s.eth_dst = mac2;
    s.ip4_src = htonl(0x0a000001);
    s.ip4_dst = htonl(0x0a000002);
    for (int i = 0; i < 16; i++) {
        s.ip6_src[i] = (uint8_t) (i == 0 ? 0xfd : i == 15 ? 1 : 0);
        s.ip6_dst[i] = (uint8_t) (i == 0 ? 0xfd : i == 15 ? 2 : 0);
    }
    s.src_port = 1234;
    s.dst_port = 80;
    return s;
}

static void
test_runt(void)
{
    struct flow_key key;
    struct packet_layout lo;

    memset(&key, 0xff, sizeof key);
    CHECK(!extract_exact(tcp4_frame, 13, 7, &key, &lo));
    CHECK_EQ(key.in_port, 7);
    key.in_port = 0;
    struct flow_key zero;
    memset(&zero, 0, sizeof zero);
    CHECK(flow_key_equal(&key, &zero));
    CHECK_EQ(lo.l3_ofs, UINT16_MAX);
    CHECK_EQ(lo.l4_ofs, UINT16_MAX);
    CHECK(!flow_key_extract(NULL, 0, 1, &key, NULL));
}

static void
test_tcp4_by_hand(void)
{
    struct flow_key key;
    struct packet_layout lo;

    memset(&key, 0xa5, sizeof key);
    CHECK(extract_exact(tcp4_frame, sizeof tcp4_frame, 3, &key, &lo));
    CHECK_EQ(key.in_port, 3);
    CHECK_EQ(key.tun_vni, 0);
    CHECK_EQ(key.tun_src, 0);
    CHECK(!memcmp(&key.eth_dst, &mac2, 6));
    CHECK(!memcmp(&key.eth_src, &mac1, 6));
    CHECK_EQ(key.vlan_tci, 0);
    CHECK_EQ(key.eth_type, htons(0x0800));
    CHECK_EQ(key.nw_src.ip4, htonl(0x0a000001));
    CHECK_EQ(key.nw_dst.ip4, htonl(0x0a000002));
    CHECK(ip4_tail_zero(&key.nw_src) && ip4_tail_zero(&key.nw_dst));
    CHECK_EQ(key.nw_proto, 6);
    CHECK_EQ(key.nw_tos, 0x10);
    CHECK_EQ(key.nw_ttl, 64);
    CHECK_EQ(key.nw_frag, 0);
    CHECK_EQ(key.tp_src, htons(1234));
    CHECK_EQ(key.tp_dst, htons(80));
    CHECK_EQ(key.tcp_flags, 0x02);
    CHECK(eth_addr_is_zero(&key.arp_sha) && eth_addr_is_zero(&key.arp_tha));
    CHECK(pads_zero(&key));
    CHECK_EQ(lo.l2_len, 14);
    CHECK_EQ(lo.l3_ofs, 14);
    CHECK_EQ(lo.l4_ofs, 34);
    CHECK_EQ(lo.l4_len, 20);
}

static void
test_udp4_icmp4(void)
{
    struct packet_spec s = base_spec();
    struct flow_key key;
    struct packet_layout lo;
    uint8_t buf[256];
    size_t n;

    s.src_port = 68;
    s.dst_port = 67;
    s.payload_len = 10;
    n = packet_build_udp4(buf, sizeof buf, &s);
    CHECK_EQ(n, 14 + 20 + 8 + 10);
    CHECK(extract_exact(buf, n, 2, &key, &lo));
    CHECK_EQ(key.nw_proto, 17);
    CHECK_EQ(key.tp_src, htons(68));
    CHECK_EQ(key.tp_dst, htons(67));
    CHECK_EQ(key.tcp_flags, 0);
    CHECK_EQ(lo.l4_ofs, 34);
    CHECK_EQ(lo.l4_len, 18);
    CHECK_EQ(packet_verify_csums(buf, n), 0);

    s.icmp_type = 8;
    s.icmp_code = 0;
    s.icmp_id = 77;
    n = packet_build_icmp4(buf, sizeof buf, &s);
    CHECK(extract_exact(buf, n, 2, &key, &lo));
    CHECK_EQ(key.nw_proto, 1);
    CHECK_EQ(key.tp_src, htons(8));
    CHECK_EQ(key.tp_dst, htons(0));
    CHECK_EQ(packet_verify_csums(buf, n), 0);

    s.icmp_type = 3;
    s.icmp_code = 4;
    n = packet_build_icmp4(buf, sizeof buf, &s);
    CHECK(extract_exact(buf, n, 2, &key, &lo));
    CHECK_EQ(key.tp_src, htons(3));
    CHECK_EQ(key.tp_dst, htons(4));

    /* SCTP: ports only. */
    uint8_t sctp[12] = { 0x13, 0x88, 0x00, 0x50 };
    s.payload = sctp;
    s.payload_len = sizeof sctp;
    n = packet_build_ipv4(buf, sizeof buf, &s, 132);
    CHECK(extract_exact(buf, n, 2, &key, &lo));
    CHECK_EQ(key.nw_proto, 132);
    CHECK_EQ(key.tp_src, htons(5000));
    CHECK_EQ(key.tp_dst, htons(80));

    /* Unknown protocol: L3 only, layout points at the payload. */
    n = packet_build_ipv4(buf, sizeof buf, &s, 47);
    CHECK(extract_exact(buf, n, 2, &key, &lo));
    CHECK_EQ(key.nw_proto, 47);
    CHECK_EQ(key.tp_src, 0);
    CHECK_EQ(lo.l4_ofs, 34);
    CHECK_EQ(lo.l4_len, 12);
}

static void
test_ipv4_options_and_padding(void)
{
    uint8_t f[14 + 28 + 20 + 6];
    struct flow_key key;
    struct packet_layout lo;

    /* IPv4 with 8 bytes of options (ihl 7), then TCP, then 6 bytes of
     * Ethernet padding beyond tot_len. */
    memset(f, 0, sizeof f);
    memcpy(f, tcp4_frame, 14);
    f[14] = 0x47;
    f[16] = 0;
    f[17] = 28 + 20;
    f[22] = 5;
    f[23] = 6;
    memcpy(f + 26, tcp4_frame + 26, 8);
    f[34] = 0x94;               /* Router alert option + NOPs. */
    f[35] = 4;
    f[38] = 1;
    f[39] = 1;
    f[40] = 1;
    f[41] = 0;
    memcpy(f + 42, tcp4_frame + 34, 20);
    f[42 + 13] = 0x18;          /* PSH|ACK. */
    memset(f + 62, 0xee, 6);

    CHECK(extract_exact(f, sizeof f, 1, &key, &lo));
    CHECK_EQ(key.nw_ttl, 5);
    CHECK_EQ(key.nw_proto, 6);
    CHECK_EQ(key.tp_src, htons(1234));
    CHECK_EQ(key.tcp_flags, 0x18);
    CHECK_EQ(lo.l4_ofs, 42);
    CHECK_EQ(lo.l4_len, 20);     /* Padding is not L4. */

    /* ihl < 5: L3 is malformed, eth_type stays. */
    f[14] = 0x44;
    CHECK(extract_exact(f, sizeof f, 1, &key, &lo));
    CHECK_EQ(key.eth_type, htons(0x0800));
    CHECK_EQ(key.nw_proto, 0);
    CHECK_EQ(key.nw_src.ip4, 0);
    CHECK_EQ(key.tp_src, 0);
    CHECK_EQ(lo.l3_ofs, UINT16_MAX);

    /* Version 6 in an IPv4 EtherType. */
    f[14] = 0x65;
    CHECK(extract_exact(f, sizeof f, 1, &key, &lo));
    CHECK_EQ(key.nw_ttl, 0);

    /* tot_len < ihl and tot_len beyond the frame. */
    f[14] = 0x47;
    f[17] = 20;
    CHECK(extract_exact(f, sizeof f, 1, &key, &lo));
    CHECK_EQ(key.nw_ttl, 0);
    f[17] = 28 + 20 + 7;
    CHECK(extract_exact(f, sizeof f, 1, &key, &lo));
    CHECK_EQ(key.nw_ttl, 0);
    f[17] = 28 + 20 + 6;        /* Exactly the frame: fine. */
    CHECK(extract_exact(f, sizeof f, 1, &key, &lo));
    CHECK_EQ(key.nw_ttl, 5);
    CHECK_EQ(lo.l4_len, 26);

    /* TCP data offset < 5 or beyond the packet: L4 zero, L3 kept. */
    f[17] = 28 + 20;
    f[42 + 12] = 0x40;
    CHECK(extract_exact(f, sizeof f, 1, &key, &lo));
    CHECK_EQ(key.nw_proto, 6);
    CHECK_EQ(key.tp_src, 0);
    CHECK_EQ(key.tcp_flags, 0);
    CHECK_EQ(lo.l4_ofs, UINT16_MAX);
    f[42 + 12] = 0x60;
    CHECK(extract_exact(f, sizeof f, 1, &key, &lo));
    CHECK_EQ(key.tp_src, 0);
}

static void
test_ipv4_fragments(void)
{
    struct packet_spec s = base_spec();
    struct flow_key key;
    struct packet_layout lo;
    uint8_t buf[256];
    size_t n;

    s.payload_len = 40;
    n = packet_build_udp4(buf, sizeof buf, &s);

    /* First fragment: MF, offset 0: L4 present. */
    buf[20] = 0x20;
    buf[21] = 0;
    CHECK(extract_exact(buf, n, 1, &key, &lo));
    CHECK_EQ(key.nw_frag, FLOW_NW_FRAG_ANY);
    CHECK_EQ(key.tp_dst, htons(80));
    CHECK_EQ(lo.l4_ofs, 34);

    /* Later fragment (offset 185*8), MF clear: no L4. */
    buf[20] = 0x00;
    buf[21] = 185;
    CHECK(extract_exact(buf, n, 1, &key, &lo));
    CHECK_EQ(key.nw_frag, FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER);
    CHECK_EQ(key.nw_proto, 17);
    CHECK_EQ(key.nw_src.ip4, htonl(0x0a000001));
    CHECK_EQ(key.tp_src, 0);
    CHECK_EQ(key.tp_dst, 0);
    CHECK_EQ(lo.l4_ofs, UINT16_MAX);

    /* DF alone is not a fragment. */
    buf[20] = 0x40;
    buf[21] = 0;
    CHECK(extract_exact(buf, n, 1, &key, &lo));
    CHECK_EQ(key.nw_frag, 0);
}

static void
test_ipv6(void)
{
    struct packet_spec s = base_spec();
    struct flow_key key;
    struct packet_layout lo;
    uint8_t buf[256];
    size_t n;

    s.tos = 0xb8;
    s.ttl = 255;
    s.tcp_flags = 0x12;
    n = packet_build_tcp6(buf, sizeof buf, &s);
    CHECK_EQ(n, 14 + 40 + 20);
    CHECK(extract_exact(buf, n, 4, &key, &lo));
    CHECK_EQ(key.eth_type, htons(0x86dd));
    CHECK(!memcmp(key.nw_src.ip6, s.ip6_src, 16));
    CHECK(!memcmp(key.nw_dst.ip6, s.ip6_dst, 16));
    CHECK_EQ(key.nw_tos, 0xb8);
    CHECK_EQ(key.nw_ttl, 255);
    CHECK_EQ(key.nw_proto, 6);
    CHECK_EQ(key.tp_src, htons(1234));
    CHECK_EQ(key.tcp_flags, 0x12);
    CHECK_EQ(lo.l3_ofs, 14);
    CHECK_EQ(lo.l4_ofs, 54);
    CHECK(pads_zero(&key));
    CHECK_EQ(packet_verify_csums(buf, n), 0);

    n = packet_build_udp6(buf, sizeof buf, &s);
    CHECK(extract_exact(buf, n, 4, &key, &lo));
    CHECK_EQ(key.nw_proto, 17);
    CHECK_EQ(key.tp_dst, htons(80));
    CHECK_EQ(packet_verify_csums(buf, n), 0);

    /* Neighbor discovery: the target follows the 8-byte header. */
    static const uint8_t target[16] = { 0xfd, [15] = 0x42 };
    static const uint8_t zero16[16];

    s.icmp_type = 135;          /* Neighbor solicitation. */
    s.icmp_code = 0;
    s.payload = target;
    s.payload_len = sizeof target;
    n = packet_build_icmp6(buf, sizeof buf, &s);
    CHECK(extract_exact(buf, n, 4, &key, &lo));
    CHECK_EQ(key.nw_proto, 58);
    CHECK_EQ(key.tp_src, htons(135));
    CHECK_EQ(key.tp_dst, htons(0));
    CHECK(!memcmp(key.nd_target, target, 16));
    CHECK(pads_zero(&key));
    CHECK_EQ(packet_verify_csums(buf, n), 0);

    s.icmp_type = 136;          /* Neighbor advertisement. */
    n = packet_build_icmp6(buf, sizeof buf, &s);
    CHECK(extract_exact(buf, n, 4, &key, &lo));
    CHECK(!memcmp(key.nd_target, target, 16));

    s.icmp_code = 1;            /* Not neighbor discovery: no target. */
    n = packet_build_icmp6(buf, sizeof buf, &s);
    CHECK(extract_exact(buf, n, 4, &key, &lo));
    CHECK(!memcmp(key.nd_target, zero16, 16));

    s.icmp_code = 0;            /* Target cut short: none. */
    s.payload_len = 15;
    n = packet_build_icmp6(buf, sizeof buf, &s);
    CHECK(extract_exact(buf, n, 4, &key, &lo));
    CHECK_EQ(key.tp_src, htons(136));
    CHECK(!memcmp(key.nd_target, zero16, 16));

    s.icmp_type = 128;          /* Echo: the same bytes are not a target. */
    s.payload_len = sizeof target;
    n = packet_build_icmp6(buf, sizeof buf, &s);
    CHECK(extract_exact(buf, n, 4, &key, &lo));
    CHECK(!memcmp(key.nd_target, zero16, 16));
    s.icmp_type = 135;
    n = packet_build_icmp6(buf, sizeof buf, &s);
    s.payload = NULL;
    s.payload_len = 0;

    /* Payload length beyond the frame: L3 zero. */
    buf[18] = 0x10;
    CHECK(extract_exact(buf, n, 4, &key, &lo));
    CHECK_EQ(key.eth_type, htons(0x86dd));
    CHECK_EQ(key.nw_proto, 0);
    CHECK_EQ(key.nw_ttl, 0);
    CHECK_EQ(lo.l3_ofs, UINT16_MAX);
}

/* Builds Ethernet + IPv6 whose chain is the 'n_ext' extension headers in
 * 'ext' (each { type, bytes }) followed by a UDP header.  Returns the
 * length. */
struct ext { uint8_t type; uint8_t len8; uint16_t frag_off; };

static size_t
build_ipv6_ext(uint8_t *buf, const struct ext *ext, size_t n_ext,
               uint8_t last_proto)
{
    struct packet_spec s = base_spec();
    size_t ofs, l2;

    l2 = packet_build_eth(buf, 1024, &s, 0x86dd);
    ofs = l2 + 40;
    memset(buf + l2, 0, 40);
    buf[l2] = 0x60;
    buf[l2 + 7] = 64;
    memcpy(buf + l2 + 8, s.ip6_src, 16);
    memcpy(buf + l2 + 24, s.ip6_dst, 16);
    buf[l2 + 6] = n_ext ? ext[0].type : last_proto;
    for (size_t i = 0; i < n_ext; i++) {
        size_t elen = ext[i].type == 44 ? 8 : ((size_t) ext[i].len8 + 1) * 8;
        memset(buf + ofs, 0, elen);
        buf[ofs] = i + 1 < n_ext ? ext[i + 1].type : last_proto;
        if (ext[i].type == 44) {
            buf[ofs + 2] = (uint8_t) (ext[i].frag_off >> 8);
            buf[ofs + 3] = (uint8_t) ext[i].frag_off;
            buf[ofs + 7] = 0x42;
        } else {
            buf[ofs + 1] = ext[i].len8;
        }
        ofs += elen;
    }
    memset(buf + ofs, 0, 8);
    buf[ofs] = 0x30;            /* UDP 12345 -> 53. */
    buf[ofs + 1] = 0x39;
    buf[ofs + 3] = 53;
    buf[ofs + 5] = 8;
    ofs += 8;
    buf[l2 + 4] = (uint8_t) ((ofs - l2 - 40) >> 8);
    buf[l2 + 5] = (uint8_t) (ofs - l2 - 40);
    return ofs;
}

static void
test_ipv6_ext_headers(void)
{
    uint8_t buf[1024];
    struct flow_key key;
    struct packet_layout lo;
    size_t n;

    struct ext chain[] = { { 0, 0, 0 }, { 43, 2, 0 }, { 60, 1, 0 } };
    n = build_ipv6_ext(buf, chain, 3, 17);
    CHECK(extract_exact(buf, n, 1, &key, &lo));
    CHECK_EQ(key.nw_proto, 17);
    CHECK_EQ(key.nw_frag, 0);
    CHECK_EQ(key.tp_src, htons(12345));
    CHECK_EQ(key.tp_dst, htons(53));
    CHECK_EQ(lo.l3_ofs, 14);
    CHECK_EQ(lo.l4_ofs, 14 + 40 + 8 + 24 + 16);
    CHECK_EQ(lo.l4_len, 8);

    /* First fragment: M=1, offset 0. */
    struct ext frag1[] = { { 0, 0, 0 }, { 44, 0, 0x0001 } };
    n = build_ipv6_ext(buf, frag1, 2, 17);
    CHECK(extract_exact(buf, n, 1, &key, &lo));
    CHECK_EQ(key.nw_frag, FLOW_NW_FRAG_ANY);
    CHECK_EQ(key.nw_proto, 17);
    CHECK_EQ(key.tp_dst, htons(53));

    /* Later fragment: offset 100 (<< 3). */
    struct ext frag2[] = { { 44, 0, 100 << 3 } };
    n = build_ipv6_ext(buf, frag2, 1, 17);
    CHECK(extract_exact(buf, n, 1, &key, &lo));
    CHECK_EQ(key.nw_frag, FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER);
    CHECK_EQ(key.nw_proto, 17);
    CHECK_EQ(key.nw_ttl, 64);
    CHECK_EQ(key.tp_src, 0);
    CHECK_EQ(key.tp_dst, 0);
    CHECK_EQ(lo.l4_ofs, UINT16_MAX);

    /* Eight extension headers are walked; nine are too many. */
    struct ext many[9];
    for (int i = 0; i < 9; i++) {
        many[i] = (struct ext) { 60, 0, 0 };
    }
    n = build_ipv6_ext(buf, many, 8, 17);
    CHECK(extract_exact(buf, n, 1, &key, &lo));
    CHECK_EQ(key.nw_proto, 17);
    CHECK_EQ(key.tp_dst, htons(53));
    n = build_ipv6_ext(buf, many, 9, 17);
    CHECK(extract_exact(buf, n, 1, &key, &lo));
    CHECK_EQ(key.eth_type, htons(0x86dd));
    CHECK_EQ(key.nw_proto, 0);
    CHECK_EQ(key.nw_ttl, 0);
    CHECK_EQ(key.tp_dst, 0);

    /* An extension header longer than the payload: L3 zero. */
    struct ext big[] = { { 60, 20, 0 } };
    n = build_ipv6_ext(buf, big, 1, 17);
    buf[14 + 5] = 16;           /* Payload length 16 < 8 * 21. */
    CHECK(extract_exact(buf, 14 + 40 + 16, 1, &key, &lo));
    CHECK_EQ(key.nw_ttl, 0);
    CHECK_EQ(key.nw_proto, 0);
}

static void
test_vlan_qinq_8023(void)
{
    struct packet_spec s = base_spec();
    struct flow_key key;
    struct packet_layout lo;
    uint8_t buf[256];
    size_t n;

    s.vlan_tci = 0x2064;        /* PCP 1, VID 100. */
    n = packet_build_tcp4(buf, sizeof buf, &s);
    CHECK_EQ(n, 18 + 40);
    CHECK(extract_exact(buf, n, 1, &key, &lo));
    CHECK_EQ(key.vlan_tci, htons(0x3064));
    CHECK_EQ(key.eth_type, htons(0x0800));
    CHECK_EQ(key.tp_dst, htons(80));
    CHECK_EQ(lo.l2_len, 18);
    CHECK_EQ(lo.l3_ofs, 18);
    CHECK_EQ(lo.l4_ofs, 38);

    /* QinQ: the outer (802.1ad) TCI is recorded. */
    s.outer_tci = 0x0005;
    n = packet_build_udp6(buf, sizeof buf, &s);
    CHECK(extract_exact(buf, n, 1, &key, &lo));
    CHECK_EQ(key.vlan_tci, htons(0x1005));
    CHECK_EQ(key.eth_type, htons(0x86dd));
    CHECK_EQ(key.nw_proto, 17);
    CHECK_EQ(key.tp_dst, htons(80));
    CHECK_EQ(lo.l2_len, 22);
    CHECK_EQ(lo.l4_ofs, 22 + 40);

    /* Double 802.1Q works the same way. */
    buf[12] = 0x81;
    buf[13] = 0x00;
    CHECK(extract_exact(buf, n, 1, &key, &lo));
    CHECK_EQ(key.vlan_tci, htons(0x1005));
    CHECK_EQ(key.tp_dst, htons(80));

    /* In a packet_spec, vlan_tci 0 means "no tag". */
    s.outer_tci = 0;
    s.vlan_tci = 0x0000;
    n = packet_build_eth(buf, sizeof buf, &s, 0x0800);
    CHECK_EQ(n, 14);            /* vlan_tci 0 means untagged in specs. */

    /* 802.3 length field. */
    memcpy(buf, tcp4_frame, sizeof tcp4_frame);
    buf[12] = 0x00;
    buf[13] = 0x2e;
    CHECK(extract_exact(buf, sizeof tcp4_frame, 1, &key, &lo));
    CHECK_EQ(key.eth_type, htons(0x05ff));
    CHECK_EQ(key.nw_proto, 0);
    CHECK_EQ(lo.l3_ofs, UINT16_MAX);
}

static void
test_arp(void)
{
    struct packet_spec s = base_spec();
    struct flow_key key;
    struct packet_layout lo;
    uint8_t buf[128];
    size_t n;

    s.ip4_src = htonl(0xc0a80001);
    s.ip4_dst = htonl(0xc0a80002);
    n = packet_build_arp(buf, sizeof buf, &s);
    CHECK_EQ(n, 42);
    CHECK(extract_exact(buf, n, 9, &key, &lo));
    CHECK_EQ(key.eth_type, htons(0x0806));
    CHECK_EQ(key.nw_proto, 1);
    CHECK_EQ(key.nw_src.ip4, htonl(0xc0a80001));
    CHECK_EQ(key.nw_dst.ip4, htonl(0xc0a80002));
    CHECK(!memcmp(&key.arp_sha, &mac1, 6));
    CHECK(eth_addr_is_zero(&key.arp_tha));
    CHECK_EQ(key.nw_ttl, 0);
    CHECK_EQ(key.tp_src, 0);
    CHECK_EQ(lo.l3_ofs, 14);
    CHECK_EQ(lo.l4_ofs, UINT16_MAX);
    CHECK(pads_zero(&key));

    s.arp_op = 2;
    s.arp_tha = mac2;
    n = packet_build_arp(buf, sizeof buf, &s);
    CHECK(extract_exact(buf, n, 9, &key, &lo));
    CHECK_EQ(key.nw_proto, 2);
    CHECK(!memcmp(&key.arp_tha, &mac2, 6));

    /* Opcode > 255: nw_proto 0, the rest still filled. */
    buf[20] = 0x01;
    CHECK(extract_exact(buf, n, 9, &key, &lo));
    CHECK_EQ(key.nw_proto, 0);
    CHECK_EQ(key.nw_src.ip4, htonl(0xc0a80001));

    /* Not Ethernet/IPv4 ARP: nothing beyond L2. */
    buf[20] = 0x00;
    buf[15] = 6;                /* htype 6 (IEEE 802). */
    CHECK(extract_exact(buf, n, 9, &key, &lo));
    CHECK_EQ(key.eth_type, htons(0x0806));
    CHECK_EQ(key.nw_proto, 0);
    CHECK_EQ(key.nw_src.ip4, 0);
    CHECK(eth_addr_is_zero(&key.arp_sha));
    CHECK_EQ(lo.l3_ofs, UINT16_MAX);
}

/* The fields of each layer, for truncation checks. */
static bool
l3_zero(const struct flow_key *k)
{
    union flow_addr z;
    memset(&z, 0, sizeof z);
    return !k->nw_proto && !k->nw_tos && !k->nw_ttl && !k->nw_frag
           && !memcmp(&k->nw_src, &z, 16) && !memcmp(&k->nw_dst, &z, 16);
}

static bool
l4_zero(const struct flow_key *k)
{
    static const uint8_t zero[16];

    return !k->tp_src && !k->tp_dst && !k->tcp_flags
           && !memcmp(k->nd_target, zero, sizeof zero);
}

static bool
l3_equal(const struct flow_key *a, const struct flow_key *b)
{
    return a->nw_proto == b->nw_proto && a->nw_tos == b->nw_tos
           && a->nw_ttl == b->nw_ttl && a->nw_frag == b->nw_frag
           && !memcmp(&a->nw_src, &b->nw_src, 16)
           && !memcmp(&a->nw_dst, &b->nw_dst, 16);
}

static bool
l4_equal(const struct flow_key *a, const struct flow_key *b)
{
    return a->tp_src == b->tp_src && a->tp_dst == b->tp_dst
           && a->tcp_flags == b->tcp_flags
           && !memcmp(a->nd_target, b->nd_target, 16);
}

/* Truncates 'frame' at every length and checks that the key has exactly
 * the layers that are complete: L2 from 'l2_need' bytes on (eth_type),
 * L3 from 'l3_need', L4 from 'l4_need'; a present layer equals the full
 * parse, an absent one is zero. */
static void
check_truncations(const uint8_t *frame, size_t len, size_t l2_need,
                  size_t l3_need, size_t l4_need)
{
    struct flow_key full, key;
    struct packet_layout lo;

    CHECK(extract_exact(frame, len, 5, &full, NULL));
    for (size_t i = 0; i <= len; i++) {
        bool ok = extract_exact(frame, i, 5, &key, &lo);

        CHECK_EQ(ok, i >= 14);
        CHECK_EQ(key.in_port, 5);
        CHECK(pads_zero(&key));
        if (i >= 14) {
            CHECK(!memcmp(&key.eth_dst, &full.eth_dst, 12));
        }
        if (i >= l2_need) {
            CHECK_EQ(key.eth_type, full.eth_type);
            CHECK_EQ(key.vlan_tci, full.vlan_tci);
        } else {
            CHECK_EQ(key.eth_type, 0);
        }
        if (i >= l3_need) {
            CHECK(l3_equal(&key, &full));
        } else if (!l3_zero(&key)) {
            fprintf(stderr, "  L3 not zero at length %zu\n", i);
            CHECK(l3_zero(&key));
        }
        if (i >= l4_need) {
            CHECK(l4_equal(&key, &full));
        } else if (!l4_zero(&key)) {
            fprintf(stderr, "  L4 not zero at length %zu\n", i);
            CHECK(l4_zero(&key));
        }
        if (lo.l3_ofs != UINT16_MAX) {
            CHECK(lo.l3_ofs < i);
        }
        if (lo.l4_ofs != UINT16_MAX) {
            CHECK(lo.l4_ofs + lo.l4_len <= i);
        }
    }
}

static void
test_truncation(void)
{
    struct packet_spec s = base_spec();
    uint8_t buf[1024];
    size_t n;

    /* TCP/IPv4: the IP length covers everything, so L3 and L4 appear
     * together only once the whole packet is there. */
    s.payload_len = 5;
    s.tcp_flags = 0x11;
    n = packet_build_tcp4(buf, sizeof buf, &s);
    check_truncations(buf, n, 14, n, n);

    /* The same, VLAN tagged and QinQ. */
    s.vlan_tci = 42;
    n = packet_build_tcp4(buf, sizeof buf, &s);
    check_truncations(buf, n, 18, n, n);
    s.outer_tci = 7;
    n = packet_build_udp4(buf, sizeof buf, &s);
    check_truncations(buf, n, 22, n, n);
    s.outer_tci = 0;
    s.vlan_tci = 0;

    /* UDP/IPv6 with extension headers. */
    struct ext chain[] = { { 0, 0, 0 }, { 44, 0, 1 }, { 60, 1, 0 } };
    n = build_ipv6_ext(buf, chain, 3, 17);
    check_truncations(buf, n, 14, n, n);

    /* ICMPv6 and ICMP. */
    s.icmp_type = 128;
    n = packet_build_icmp6(buf, sizeof buf, &s);
    check_truncations(buf, n, 14, n, n);
    s.icmp_type = 8;
    n = packet_build_icmp4(buf, sizeof buf, &s);
    check_truncations(buf, n, 14, n, n);

    /* ARP: 28 bytes of body make L3 and the hardware addresses. */
    n = packet_build_arp(buf, sizeof buf, &s);
    check_truncations(buf, n, 14, 42, 42);

    /* Ethernet padding after a short IPv4 packet: IP is complete from
     * its own length on. */
    s.payload_len = 0;
    n = packet_build_udp4(buf, sizeof buf, &s);
    memset(buf + n, 0, 60 - n);
    check_truncations(buf, 60, 14, n, n);
}

/* Cheap deterministic PRNG (xorshift64*). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rng(void)
{
    return (uint32_t) (random_next(&rng_state) >> 32);
}

static void
check_sane(const uint8_t *frame, size_t len, uint32_t in_port)
{
    struct flow_key key, key2;
    struct packet_layout lo;
    char s[512];
    uint8_t *copy = heap_copy(frame, len);

    memset(&key, 0xcc, sizeof key);
    flow_key_extract(copy, len, in_port, &key, &lo);
    CHECK(pads_zero(&key));
    CHECK_EQ(key.in_port, in_port);
    CHECK_EQ(key.tun_vni, 0);
    if (key.eth_type == htons(0x0800) || key.eth_type == htons(0x0806)) {
        CHECK(ip4_tail_zero(&key.nw_src) && ip4_tail_zero(&key.nw_dst));
    }
    if (lo.l3_ofs != UINT16_MAX) {
        CHECK(lo.l3_ofs >= lo.l2_len && lo.l3_ofs < len);
    }
    if (lo.l4_ofs != UINT16_MAX) {
        CHECK(lo.l4_ofs > lo.l3_ofs);
        CHECK((size_t) lo.l4_ofs + lo.l4_len <= len);
    }
    /* Deterministic. */
    flow_key_extract(copy, len, in_port, &key2, NULL);
    CHECK(flow_key_equal(&key, &key2));
    flow_key_format(&key, NULL, s, sizeof s);
    CHECK(strlen(s) < sizeof s);
    flow_key_format(&key, &key2, s, 40);
    CHECK(strlen(s) < 40);
    free(copy);
}

static void
test_random_frames(void)
{
    static const uint16_t types[] = { 0x0800, 0x86dd, 0x0806, 0x8100,
                                      0x88a8 };
    uint8_t buf[256];

    for (int i = 0; i < 100000; i++) {
        size_t len = rng() % sizeof buf;
        for (size_t j = 0; j < len; j++) {
            buf[j] = (uint8_t) rng();
        }
        /* Steer most frames into a known EtherType and plausible IP
         * version so that the deeper layers get exercised too. */
        if (len >= 14 && rng() % 4) {
            uint16_t t = types[rng() % ARRAY_SIZE(types)];
            buf[12] = (uint8_t) (t >> 8);
            buf[13] = (uint8_t) t;
            if (len >= 15 && rng() % 2) {
                buf[14] = t == 0x86dd ? 0x60 : 0x45;
            }
        }
        check_sane(buf, len, (uint32_t) i);
    }
}

static void
test_random_mutations(void)
{
    struct packet_spec s = base_spec();
    uint8_t seeds[6][512];
    size_t lens[6];
    uint8_t buf[512];

    s.payload_len = 30;
    lens[0] = packet_build_tcp4(seeds[0], 512, &s);
    lens[1] = packet_build_udp6(seeds[1], 512, &s);
    lens[2] = packet_build_arp(seeds[2], 512, &s);
    s.vlan_tci = 100;
    lens[3] = packet_build_tcp4(seeds[3], 512, &s);
    struct ext chain[] = { { 0, 1, 0 }, { 43, 0, 0 }, { 44, 0, 1 } };
    lens[4] = build_ipv6_ext(seeds[4], chain, 3, 6);
    s.outer_tci = 3;
    lens[5] = packet_build_icmp6(seeds[5], 512, &s);

    for (int i = 0; i < 100000; i++) {
        int k = (int) (rng() % 6);
        size_t len = lens[k];
        int flips = 1 + (int) (rng() % 4);

        memcpy(buf, seeds[k], len);
        for (int j = 0; j < flips; j++) {
            size_t at = rng() % len;
            buf[at] = rng() % 2 ? (uint8_t) rng()
                                : buf[at] ^ (1u << (rng() % 8));
        }
        if (rng() % 3 == 0) {
            len = rng() % (len + 1);
        }
        check_sane(buf, len, 1);
    }
}

static void
test_padding_zero(void)
{
    struct packet_spec s = base_spec();
    uint8_t buf[256];
    struct flow_key key;
    size_t n;

    n = packet_build_udp4(buf, sizeof buf, &s);
    memset(&key, 0xff, sizeof key);
    flow_key_extract(buf, n, 1, &key, NULL);
    CHECK(pads_zero(&key));
    CHECK(ip4_tail_zero(&key.nw_src));
    CHECK(ip4_tail_zero(&key.nw_dst));
    CHECK(eth_addr_is_zero(&key.arp_sha));
}

static void
test_format(void)
{
    struct packet_spec s = base_spec();
    struct flow_key key, mask;
    uint8_t buf[256];
    char str[512];
    size_t n;

    CHECK(flow_key_extract(tcp4_frame, sizeof tcp4_frame, 3, &key, NULL));
    CHECK_STREQ(flow_key_format(&key, NULL, str, sizeof str),
                "in_port=3,eth_dst=02:00:00:00:00:02,"
                "eth_src=02:00:00:00:00:01,eth_type=0x0800,"
                "nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_proto=6,nw_tos=16,"
                "nw_ttl=64,nw_frag=no,tp_src=1234,tp_dst=80,"
                "tcp_flags=0x02");

    /* Masked: only the fields in the mask; a /24 prefix and a partial
     * port mask. */
    memset(&mask, 0, sizeof mask);
    mask.eth_type = 0xffff;
    mask.nw_dst.ip4 = htonl(0xffffff00);
    mask.tp_dst = htons(0xfff0);
    mask.nw_proto = 0xff;
    CHECK_STREQ(flow_key_format(&key, &mask, str, sizeof str),
                "eth_type=0x0800,nw_dst=10.0.0.2/24,nw_proto=6,"
                "tp_dst=0x0050/0xfff0");

    /* Non-contiguous address mask, MAC mask, frag mask. */
    memset(&mask, 0, sizeof mask);
    mask.in_port = 0xffffffff;
    mask.eth_dst.ea[0] = 0x01;
    mask.nw_src.ip4 = htonl(0xff00ff00);
    mask.nw_frag = FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER;
    CHECK_STREQ(flow_key_format(&key, &mask, str, sizeof str),
                "in_port=3,eth_dst=02:00:00:00:00:02/01:00:00:00:00:00,"
                "nw_src=10.0.0.1/255.0.255.0,nw_frag=no");

    /* ARP on a VLAN. */
    s.vlan_tci = 10;
    s.ip4_src = htonl(0xc0a80001);
    s.ip4_dst = htonl(0xc0a80002);
    n = packet_build_arp(buf, sizeof buf, &s);
    flow_key_extract(buf, n, 2, &key, NULL);
    CHECK_STREQ(flow_key_format(&key, NULL, str, sizeof str),
                "in_port=2,eth_dst=02:00:00:00:00:02,"
                "eth_src=02:00:00:00:00:01,vlan_tci=0x100a,eth_type=0x0806,"
                "arp_op=1,arp_spa=192.168.0.1,arp_tpa=192.168.0.2,"
                "arp_sha=02:00:00:00:00:01,arp_tha=00:00:00:00:00:00");

    /* ICMPv6 from the tunnel, later fragment of IPv6. */
    s.vlan_tci = 0;
    s.icmp_type = 128;
    n = packet_build_icmp6(buf, sizeof buf, &s);
    flow_key_extract(buf, n, FLOW_PORT_TUNNEL, &key, NULL);
    key.tun_vni = 5001;
    key.tun_src = htonl(0xc6120002);
    CHECK_STREQ(flow_key_format(&key, NULL, str, sizeof str),
                "in_port=1,tun_vni=5001,tun_src=198.18.0.2,"
                "eth_dst=02:00:00:00:00:02,eth_src=02:00:00:00:00:01,"
                "eth_type=0x86dd,ipv6_src=fd00::1,ipv6_dst=fd00::2,"
                "nw_proto=58,nw_tos=0,nw_ttl=64,nw_frag=no,"
                "icmpv6_type=128,icmpv6_code=0");

    /* A neighbor advertisement shows its target. */
    static const uint8_t target[16] = { 0xfd, [15] = 0x42 };
    s.icmp_type = 136;
    s.payload = target;
    s.payload_len = sizeof target;
    n = packet_build_icmp6(buf, sizeof buf, &s);
    flow_key_extract(buf, n, 3, &key, NULL);
    CHECK_STREQ(flow_key_format(&key, NULL, str, sizeof str),
                "in_port=3,eth_dst=02:00:00:00:00:02,"
                "eth_src=02:00:00:00:00:01,eth_type=0x86dd,"
                "ipv6_src=fd00::1,ipv6_dst=fd00::2,nw_proto=58,nw_tos=0,"
                "nw_ttl=64,nw_frag=no,icmpv6_type=136,icmpv6_code=0,"
                "nd_target=fd00::42");
    s.payload = NULL;
    s.payload_len = 0;

    struct ext frag[] = { { 44, 0, 8 } };
    n = build_ipv6_ext(buf, frag, 1, 17);
    flow_key_extract(buf, n, 4, &key, NULL);
    CHECK_STREQ(flow_key_format(&key, NULL, str, sizeof str),
                "in_port=4,eth_dst=02:00:00:00:00:02,"
                "eth_src=02:00:00:00:00:01,eth_type=0x86dd,"
                "ipv6_src=fd00::1,ipv6_dst=fd00::2,nw_proto=17,nw_tos=0,"
                "nw_ttl=64,nw_frag=later");

    /* Truncated output stays terminated. */
    flow_key_format(&key, NULL, str, 10);
    CHECK_STREQ(str, "in_port=4");
}

static void
test_hash_equal(void)
{
    struct packet_spec s = base_spec();
    struct flow_key a, b;
    uint8_t buf[256];
    size_t n;

    n = packet_build_tcp4(buf, sizeof buf, &s);
    flow_key_extract(buf, n, 3, &a, NULL);
    memset(&b, 0x5a, sizeof b);
    flow_key_extract(buf, n, 3, &b, NULL);
    CHECK(flow_key_equal(&a, &b));
    CHECK_EQ(flow_key_hash(&a, 0), flow_key_hash(&b, 0));
    CHECK_EQ(flow_key_hash(&a, 77), flow_key_hash(&b, 77));
    CHECK(flow_key_hash(&a, 0) != flow_key_hash(&a, 1));

    b.tp_src ^= htons(1);
    CHECK(!flow_key_equal(&a, &b));
    CHECK(flow_key_hash(&a, 0) != flow_key_hash(&b, 0));
    b = a;
    b.in_port = 4;
    CHECK(!flow_key_equal(&a, &b));
    CHECK(flow_key_hash(&a, 0) != flow_key_hash(&b, 0));
}

int
main(void)
{
    RUN(test_runt);
    RUN(test_tcp4_by_hand);
    RUN(test_udp4_icmp4);
    RUN(test_ipv4_options_and_padding);
    RUN(test_ipv4_fragments);
    RUN(test_ipv6);
    RUN(test_ipv6_ext_headers);
    RUN(test_vlan_qinq_8023);
    RUN(test_arp);
    RUN(test_truncation);
    RUN(test_random_frames);
    RUN(test_random_mutations);
    RUN(test_padding_zero);
    RUN(test_format);
    RUN(test_hash_equal);
    return unit_finish();
}
