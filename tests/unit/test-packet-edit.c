/*
 * test-packet-edit.c -- packet_arp_reply(), the packet_build_*() frame
 * builders, packet_verify_csums(), eth_addr text forms and the csum.h
 * helpers they rest on.
 */
#include "lib/packet-edit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "lib/csum.h"
#include "lib/flow-key.h"
#include "tests/lib/unit.h"

static const struct eth_addr req_mac = {{ 0x02, 0xaa, 0, 0, 0, 1 }};
static const struct eth_addr ans_mac = {{ 0xfa, 0x16, 0x3e,
                                          0x12, 0x34, 0x56 }};

static struct packet_spec
arp_request_spec(void)
{
    struct packet_spec s;

    memset(&s, 0, sizeof s);
    s.eth_src = req_mac;
    memset(&s.eth_dst, 0xff, sizeof s.eth_dst);
    s.ip4_src = htonl(0x0a000005);      /* Who has 10.0.0.1? */
    s.ip4_dst = htonl(0x0a000001);      /* Tell 10.0.0.5. */
    return s;
}

static void
check_reply(const uint8_t *f, size_t l2)
{
    const uint8_t *arp = f + l2;
    be32 spa, tpa;

    CHECK(!memcmp(f, &req_mac, 6));             /* eth_dst = old sha. */
    CHECK(!memcmp(f + 6, &ans_mac, 6));         /* eth_src = mac. */
    CHECK_EQ(arp[0] << 8 | arp[1], 1);
    CHECK_EQ(arp[2] << 8 | arp[3], 0x0800);
    CHECK_EQ(arp[4], 6);
    CHECK_EQ(arp[5], 4);
    CHECK_EQ(arp[6] << 8 | arp[7], 2);          /* op = reply. */
    CHECK(!memcmp(arp + 8, &ans_mac, 6));       /* sha = mac. */
    memcpy(&spa, arp + 14, 4);
    CHECK_EQ(spa, htonl(0x0a000001));           /* spa = old tpa. */
    CHECK(!memcmp(arp + 18, &req_mac, 6));      /* tha = old sha. */
    memcpy(&tpa, arp + 24, 4);
    CHECK_EQ(tpa, htonl(0x0a000005));           /* tpa = old spa. */
}

static void
test_arp_reply(void)
{
    struct packet_spec s = arp_request_spec();
    uint8_t f[64];
    size_t n;
    struct flow_key key;

    n = packet_build_arp(f, sizeof f, &s);
    CHECK_EQ(n, 42);
    CHECK_EQ(packet_arp_reply(f, n, &ans_mac), 0);
    check_reply(f, 14);
    CHECK_EQ(f[12] << 8 | f[13], 0x0806);

    /* The reply parses as one. */
    flow_key_extract(f, n, 1, &key, NULL);
    CHECK_EQ(key.nw_proto, ARP_OP_REPLY);
    CHECK_EQ(key.nw_src.ip4, htonl(0x0a000001));
    CHECK(!memcmp(&key.arp_sha, &ans_mac, 6));

    /* Replying again is refused: it is no longer a request. */
    CHECK_EQ(packet_arp_reply(f, n, &ans_mac), EINVAL);

    /* 802.1Q tagged, padded to 60 bytes: tag and padding kept. */
    s.vlan_tci = 0x0123;
    memset(f, 0xee, sizeof f);
    n = packet_build_arp(f, sizeof f, &s);
    CHECK_EQ(n, 46);
    CHECK_EQ(packet_arp_reply(f, 60, &ans_mac), 0);
    check_reply(f, 18);
    CHECK_EQ(f[12] << 8 | f[13], 0x8100);
    CHECK_EQ(f[14] << 8 | f[15], 0x0123);
    for (size_t i = 46; i < 60; i++) {
        CHECK_EQ(f[i], 0xee);
    }

    /* QinQ. */
    s.outer_tci = 7;
    n = packet_build_arp(f, sizeof f, &s);
    CHECK_EQ(packet_arp_reply(f, n, &ans_mac), 0);
    check_reply(f, 22);
    CHECK_EQ(f[12] << 8 | f[13], 0x88a8);
}

static void
test_arp_reply_rejects(void)
{
    struct packet_spec s = arp_request_spec();
    uint8_t good[64], f[64], before[64];
    size_t n;

    n = packet_build_arp(good, sizeof good, &s);

    /* Every truncation is refused and leaves the frame alone. */
    for (size_t len = 0; len < n; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, good, len);
        CHECK_EQ(packet_arp_reply(copy, len, &ans_mac), EINVAL);
        CHECK(!memcmp(copy, good, len));
        free(copy);
    }

    static const struct { size_t ofs; uint8_t val; } damage[] = {
        { 13, 0x00 },           /* EtherType IPv4. */
        { 15, 6 },              /* htype 6. */
        { 17, 0xdd },           /* ptype 0x86dd. */
        { 18, 8 },              /* hlen 8. */
        { 19, 16 },             /* plen 16. */
        { 21, 2 },              /* A reply. */
        { 21, 3 },              /* RARP request. */
        { 20, 1 },              /* Opcode 0x0101. */
    };
    for (size_t i = 0; i < ARRAY_SIZE(damage); i++) {
        memcpy(f, good, n);
        f[damage[i].ofs] = damage[i].val;
        memcpy(before, f, n);
        CHECK_EQ(packet_arp_reply(f, n, &ans_mac), EINVAL);
        CHECK(!memcmp(f, before, n));
    }

    /* Other protocols. */
    s.src_port = 1;
    s.dst_port = 2;
    n = packet_build_udp4(f, sizeof f, &s);
    CHECK_EQ(packet_arp_reply(f, n, &ans_mac), EINVAL);
    n = packet_build_icmp6(f, sizeof f, &s);
    CHECK_EQ(packet_arp_reply(f, n, &ans_mac), EINVAL);
}

/* Naive big-endian checksum verification for the builder tests. */
static uint16_t
naive(const uint8_t *p, size_t len, uint64_t sum)
{
    for (size_t i = 0; i < len; i += 2) {
        sum += (uint64_t) p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) sum;
}

static void
test_builders(void)
{
    struct packet_spec s;
    uint8_t f[2000];
    size_t n;

    memset(&s, 0, sizeof s);
    s.eth_src = req_mac;
    s.eth_dst = ans_mac;
    s.ip4_src = htonl(0xc0000201);
    s.ip4_dst = htonl(0xc0000202);
    s.ip6_src[0] = s.ip6_dst[0] = 0x20;
    s.ip6_src[15] = 1;
    s.ip6_dst[15] = 2;
    s.src_port = 5000;
    s.dst_port = 6000;
    s.payload_len = 101;

    n = packet_build_tcp4(f, sizeof f, &s);
    CHECK_EQ(n, 14 + 20 + 20 + 101);
    CHECK_EQ(naive(f + 14, 20, 0), 0xffff);
    CHECK_EQ(naive(f + 34, n - 34, naive(f + 26, 8, 0) + 6 + n - 34),
             0xffff);
    CHECK_EQ(f[22], 64);                        /* Default TTL. */
    CHECK_EQ(f[48] << 8 | f[49], 65535);        /* Default window. */
    CHECK_EQ(f[54 + 100], 100);                 /* Pattern payload. */
    CHECK_EQ(packet_verify_csums(f, n), 0);
    f[60] ^= 1;
    CHECK_EQ(packet_verify_csums(f, n), EINVAL);
    f[60] ^= 1;
    f[24] ^= 1;                                 /* IP header checksum. */
    CHECK_EQ(packet_verify_csums(f, n), EINVAL);

    n = packet_build_udp4(f, sizeof f, &s);
    CHECK_EQ(n, 14 + 20 + 8 + 101);
    CHECK_EQ(f[38] << 8 | f[39], 8 + 101);
    CHECK_EQ(packet_verify_csums(f, n), 0);
    s.csum_mode = PACKET_CSUM_ZERO;
    n = packet_build_udp4(f, sizeof f, &s);
    CHECK_EQ(f[40] | f[41], 0);
    CHECK_EQ(packet_verify_csums(f, n), 0);     /* "No checksum". */
    s.csum_mode = PACKET_CSUM_FULL;

    s.icmp_type = 8;
    s.icmp_id = 0x1234;
    s.icmp_seq = 9;
    n = packet_build_icmp4(f, sizeof f, &s);
    CHECK_EQ(n, 14 + 20 + 8 + 101);
    CHECK_EQ(naive(f + 34, n - 34, 0), 0xffff);
    CHECK_EQ(f[38] << 8 | f[39], 0x1234);
    CHECK_EQ(packet_verify_csums(f, n), 0);

    s.tos = 0xfc;
    n = packet_build_udp6(f, sizeof f, &s);
    CHECK_EQ(n, 14 + 40 + 8 + 101);
    CHECK_EQ(f[14], 0x6f);
    CHECK_EQ(f[15], 0xc0);
    CHECK_EQ(f[18] << 8 | f[19], 8 + 101);
    CHECK_EQ(packet_verify_csums(f, n), 0);
    n = packet_build_icmp6(f, sizeof f, &s);
    CHECK_EQ(packet_verify_csums(f, n), 0);
    n = packet_build_tcp6(f, sizeof f, &s);
    CHECK_EQ(packet_verify_csums(f, n), 0);

    /* Caller payload. */
    s.payload = "hello";
    s.payload_len = 5;
    n = packet_build_udp4(f, sizeof f, &s);
    CHECK(!memcmp(f + 42, "hello", 5));

    /* Too small at every size, and impossible lengths. */
    size_t need = packet_build_tcp6(f, sizeof f, &s);
    for (size_t size = 0; size < need; size++) {
        uint8_t *b = malloc(size ? size : 1);
        CHECK_EQ(packet_build_tcp6(b, size, &s), 0);
        free(b);
    }
    s.payload = NULL;
    s.payload_len = 65535 - 28 + 1;
    CHECK_EQ(packet_build_udp4(f, sizeof f, &s), 0);

    /* Non-IP frames are ENOTSUP for verification. */
    s.payload_len = 0;
    n = packet_build_arp(f, sizeof f, &s);
    CHECK_EQ(packet_verify_csums(f, n), ENOTSUP);
}

static void
test_eth_addr_strings(void)
{
    struct eth_addr a;
    char buf[18];

    CHECK(eth_addr_from_string("fa:16:3E:12:34:56", &a));
    CHECK(!memcmp(&a, &ans_mac, 6));
    eth_addr_to_string(&a, buf);
    CHECK_STREQ(buf, "fa:16:3e:12:34:56");
    CHECK(!eth_addr_from_string("fa:16:3e:12:34", &a));
    CHECK(!eth_addr_from_string("fa:16:3e:12:34:567", &a));
    CHECK(!eth_addr_from_string("fa-16-3e-12-34-56", &a));
    CHECK(!eth_addr_from_string("fa:16:3e:12:34:5g", &a));
    CHECK(!eth_addr_from_string("", &a));
    CHECK(!eth_addr_from_string(NULL, &a));
    CHECK(!memcmp(&a, &ans_mac, 6));            /* Untouched on failure. */
}

static void
test_csum(void)
{
    uint8_t data[1031];
    uint32_t whole, parts;

    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t) (i * 7 + 3);
    }
    /* Every length and alignment matches the naive sum. */
    for (size_t ofs = 0; ofs < 4; ofs++) {
        for (size_t len = 0; len + ofs <= sizeof data; len += 1 + len / 8) {
            uint16_t mine = ntohs((uint16_t) ~csum_fold(
                                  csum_partial(data + ofs, len, 0)));
            CHECK_EQ(mine, naive(data + ofs, len, 0));
        }
    }
    /* Even-length pieces sum to the whole. */
    whole = csum_partial(data, sizeof data, 0);
    parts = csum_partial(data, 100, 0);
    parts = csum_partial(data + 100, 600, parts);
    parts = csum_partial(data + 700, sizeof data - 700, parts);
    CHECK_EQ(csum_fold(whole), csum_fold(parts));

    /* IPv4 header checksum ignores the field's old content. */
    uint8_t ip[20] = { 0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0xde, 0xad,
                       10, 0, 0, 1, 10, 0, 0, 2 };
    be16 c = csum_ipv4_header(ip, 20);
    memcpy(ip + 10, &c, 2);
    CHECK(csum_ipv4_header_ok(ip, 20));
    CHECK_EQ(naive(ip, 20, 0), 0xffff);
    CHECK_EQ(csum_ipv4_header(ip, 20), c);

    /* Incremental updates equal recomputation (RFC 1624). */
    for (int i = 0; i < 1000; i++) {
        be16 old16, new16 = htons((uint16_t) (i * 977));
        be32 old32, new32 = htonl((uint32_t) i * 2654435761u);

        memcpy(&old16, ip + 8, 2);
        memcpy(&c, ip + 10, 2);
        c = csum_update16(c, old16, new16);
        memcpy(ip + 8, &new16, 2);
        memcpy(ip + 10, &c, 2);
        CHECK(csum_ipv4_header_ok(ip, 20));

        memcpy(&old32, ip + 12, 4);
        c = csum_update32(c, old32, new32);
        memcpy(ip + 12, &new32, 4);
        memcpy(ip + 10, &c, 2);
        CHECK(csum_ipv4_header_ok(ip, 20));
    }

    /* Pseudo-headers against the naive sum. */
    be32 src = htonl(0x01020304), dst = htonl(0xa0b0c0d0);
    uint8_t ph[12] = { 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0, 0, 17, 0x12,
                       0x34 };
    CHECK_EQ(ntohs((uint16_t) ~csum_fold(csum_pseudo_ipv4(src, dst, 17,
                                                           0x1234))),
             naive(ph, 12, 0));
    uint8_t a6[16], b6[16], ph6[40];
    for (int i = 0; i < 16; i++) {
        a6[i] = (uint8_t) (i * 17);
        b6[i] = (uint8_t) (255 - i);
    }
    memcpy(ph6, a6, 16);
    memcpy(ph6 + 16, b6, 16);
    memcpy(ph6 + 32, "\x00\x01\x23\x45\x00\x00\x00\x3a", 8);
    CHECK_EQ(ntohs((uint16_t) ~csum_fold(csum_pseudo_ipv6(a6, b6, 58,
                                                          0x12345))),
             naive(ph6, 40, 0));
}

int
main(void)
{
    RUN(test_arp_reply);
    RUN(test_arp_reply_rejects);
    RUN(test_builders);
    RUN(test_eth_addr_strings);
    RUN(test_csum);
    return unit_finish();
}
