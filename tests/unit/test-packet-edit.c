/*
 * test-packet-edit.c -- packet_arp_reply(), the packet_build_*() frame
 * builders, packet_verify_csums(), eth_addr text forms and the csum.h
 * helpers they rest on; the router's rewrites and answers
 * (packet_icmp4_echo_reply(), packet_icmp4_error(), packet_dec_ttl(),
 * packet_ipv4_fragment()).
 */
#include "lib/packet-edit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "lib/csum.h"
#include "lib/flow-key.h"
#include "lib/random.h"
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

/* Router answers and forwarding. */

#define RTR_IP 0x0a0000fe

static void
set_ip16(uint8_t *f, size_t l3, size_t ofs, uint16_t v)
{
    put16(f + l3 + ofs, htons(v));
    put16(f + l3 + 10, csum_ipv4_header(f + l3, (f[l3] & 15) * 4));
}

static void
set_ip32(uint8_t *f, size_t l3, size_t ofs, uint32_t v)
{
    put32(f + l3 + ofs, htonl(v));
    put16(f + l3 + 10, csum_ipv4_header(f + l3, (f[l3] & 15) * 4));
}

/* Copies the 'n'-byte frame 'f' (IPv4 at 'l3') into 'out' with the
 * 'olen' bytes of IPv4 options 'opts' (a multiple of 4) inserted after
 * the fixed header; lengths and header checksum fixed.  Returns the new
 * length.  L4 checksums do not cover options. */
static size_t
add_options(const uint8_t *f, size_t n, size_t l3, const uint8_t *opts,
            size_t olen, uint8_t *out)
{
    uint16_t tot = (uint16_t) (f[l3 + 2] << 8 | f[l3 + 3]);

    memcpy(out, f, l3 + 20);
    memcpy(out + l3 + 20, opts, olen);
    memcpy(out + l3 + 20 + olen, f + l3 + 20, n - l3 - 20);
    out[l3] = (uint8_t) (0x40 | (20 + olen) / 4);
    set_ip16(out, l3, 2, (uint16_t) (tot + olen));
    return n + olen;
}

static struct packet_spec
echo_request_spec(void)
{
    struct packet_spec s;

    memset(&s, 0, sizeof s);
    s.eth_src = req_mac;
    s.eth_dst = ans_mac;
    s.ip4_src = htonl(0x0a000005);
    s.ip4_dst = htonl(RTR_IP);
    s.ttl = 3;
    s.tos = 0x28;
    s.ip_id = 0x1234;
    s.dont_frag = true;
    s.icmp_type = 8;
    s.icmp_id = 0xbeef;
    s.icmp_seq = 42;
    s.payload_len = 56;
    return s;
}

/* Checks the echo reply 'f' ('n' bytes, IPv4 at 'l3') answering 'req'
 * (whose ICMP message starts at 'req_icmp'). */
static void
check_echo_reply(const uint8_t *f, size_t n, size_t l3,
                 const uint8_t *req_icmp)
{
    const uint8_t *ip = f + l3, *icmp = ip + 20;
    size_t icmp_len = n - l3 - 20;

    CHECK(!memcmp(f, &req_mac, 6));
    CHECK(!memcmp(f + 6, &ans_mac, 6));
    CHECK_EQ(f[l3 - 2] << 8 | f[l3 - 1], 0x0800);
    CHECK_EQ(ip[0], 0x45);
    CHECK_EQ(ip[1], 0x28);
    CHECK_EQ((size_t) (ip[2] << 8 | ip[3]), n - l3);
    CHECK_EQ(ip[4] << 8 | ip[5], 0x1234);
    CHECK_EQ(ip[6] << 8 | ip[7], IP_DF);
    CHECK_EQ(ip[8], 64);
    CHECK_EQ(ip[9], IPPROTO_ICMP_);
    CHECK_EQ(naive(ip, 20, 0), 0xffff);
    CHECK_EQ(get32(ip + 12), htonl(RTR_IP));
    CHECK_EQ(get32(ip + 16), htonl(0x0a000005));
    CHECK_EQ(icmp[0], 0);
    CHECK_EQ(icmp[1], 0);
    CHECK_EQ(naive(icmp, icmp_len, 0), 0xffff);
    CHECK(!memcmp(icmp + 4, req_icmp + 4, icmp_len - 4));
    CHECK_EQ(packet_verify_csums(f, n), 0);
}

static void
test_echo_reply(void)
{
    struct packet_spec s = echo_request_spec();
    uint8_t f[256], orig[256], g[256];
    be32 rtr = htonl(RTR_IP);
    size_t n, len;

    n = packet_build_icmp4(f, sizeof f, &s);
    CHECK_EQ(n, 14 + 20 + 8 + 56);
    memcpy(orig, f, n);
    len = n;
    CHECK_EQ(packet_icmp4_echo_reply(f, &len, rtr, &ans_mac), 0);
    CHECK_EQ(len, n);
    check_echo_reply(f, len, 14, orig + 34);

    /* A reply is not answered; the frame stays as it is. */
    memcpy(g, f, n);
    CHECK_EQ(packet_icmp4_echo_reply(f, &len, rtr, &ans_mac), EINVAL);
    CHECK(!memcmp(f, g, n));
    CHECK_EQ(len, n);

    /* Tagged and padded: the tag stays, the padding goes. */
    s.vlan_tci = 0x0123;
    n = packet_build_icmp4(f, sizeof f, &s);
    memcpy(orig, f, n);
    memset(f + n, 0xee, 10);
    len = n + 10;
    CHECK_EQ(packet_icmp4_echo_reply(f, &len, rtr, &ans_mac), 0);
    CHECK_EQ(len, n);
    CHECK_EQ(f[12] << 8 | f[13], 0x8100);
    CHECK_EQ(f[14] << 8 | f[15], 0x0123);
    check_echo_reply(f, len, 18, orig + 38);
    s.vlan_tci = 0;

    /* IP options are removed; the message moves up. */
    static const uint8_t rr[8] = { 7, 7, 4, 0, 0, 0, 0, 0 };
    n = packet_build_icmp4(orig, sizeof orig, &s);
    n = add_options(orig, n, 14, rr, sizeof rr, f);
    CHECK_EQ(packet_verify_csums(f, n), 0);
    len = n;
    CHECK_EQ(packet_icmp4_echo_reply(f, &len, rtr, &ans_mac), 0);
    CHECK_EQ(len, n - 8);
    check_echo_reply(f, len, 14, orig + 34);

    /* Refused, frame untouched: a bad checksum, every truncation, a
     * fragment, non-unicast sources, other protocols. */
    n = packet_build_icmp4(orig, sizeof orig, &s);
    memcpy(f, orig, n);
    f[n - 1] ^= 0x40;
    memcpy(g, f, n);
    len = n;
    CHECK_EQ(packet_icmp4_echo_reply(f, &len, rtr, &ans_mac), EINVAL);
    CHECK(!memcmp(f, g, n));
    for (size_t l = 0; l < n; l++) {
        memcpy(f, orig, n);
        len = l;
        CHECK_EQ(packet_icmp4_echo_reply(f, &len, rtr, &ans_mac), EINVAL);
        CHECK(!memcmp(f, orig, n));
    }
    memcpy(f, orig, n);
    set_ip16(f, 14, 6, IP_MF);
    len = n;
    CHECK_EQ(packet_icmp4_echo_reply(f, &len, rtr, &ans_mac), EINVAL);
    static const uint32_t bad_src[] = { 0, 0x00000001, 0x7f000001,
                                        0xe0000001, 0xf0000001,
                                        0xffffffff };
    for (size_t i = 0; i < ARRAY_SIZE(bad_src); i++) {
        s.ip4_src = htonl(bad_src[i]);
        n = packet_build_icmp4(f, sizeof f, &s);
        len = n;
        CHECK_EQ(packet_icmp4_echo_reply(f, &len, rtr, &ans_mac), EINVAL);
    }
    s = echo_request_spec();
    s.eth_src.ea[0] = 0x01;
    n = packet_build_icmp4(f, sizeof f, &s);
    len = n;
    CHECK_EQ(packet_icmp4_echo_reply(f, &len, rtr, &ans_mac), EINVAL);
    s = echo_request_spec();
    s.src_port = 8;
    n = packet_build_udp4(f, sizeof f, &s);
    len = n;
    CHECK_EQ(packet_icmp4_echo_reply(f, &len, rtr, &ans_mac), EINVAL);
    n = packet_build_icmp6(f, sizeof f, &s);
    len = n;
    CHECK_EQ(packet_icmp4_echo_reply(f, &len, rtr, &ans_mac), EINVAL);
}

static struct packet_spec
offender_spec(size_t payload)
{
    struct packet_spec s;

    memset(&s, 0, sizeof s);
    s.eth_src = req_mac;
    s.eth_dst = ans_mac;
    s.ip4_src = htonl(0x0a000005);
    s.ip4_dst = htonl(0xc0000209);
    s.ttl = 1;
    s.tos = 0x2b;
    s.ip_id = 0x7777;
    s.src_port = 5353;
    s.dst_port = 33434;
    s.payload_len = payload;
    return s;
}

/* Checks the ICMP error 'b' ('len' bytes) about the 'n'-byte offender
 * 'f', both with L2 headers of 'l2' bytes. */
static void
check_error(const uint8_t *b, size_t len, const uint8_t *f, size_t n,
            size_t l2, uint8_t type, uint8_t code, uint32_t rest)
{
    size_t quote = MIN(n - l2, (size_t) 548);
    const uint8_t *ip = b + l2, *icmp = ip + 20;

    CHECK_EQ(len, l2 + 28 + quote);
    if (len != l2 + 28 + quote) {
        return;
    }
    CHECK(!memcmp(b, &req_mac, 6));
    CHECK(!memcmp(b + 6, &ans_mac, 6));
    CHECK(!memcmp(b + 12, f + 12, l2 - 12));    /* Tags, EtherType. */
    CHECK_EQ(ip[0], 0x45);
    CHECK_EQ(ip[1], 0xc0 | (f[l2 + 1] & 0x1e));
    CHECK_EQ((size_t) (ip[2] << 8 | ip[3]), 28 + quote);
    CHECK_EQ(ip[4] | ip[5] | ip[6] | ip[7], 0);
    CHECK_EQ(ip[8], 64);
    CHECK_EQ(ip[9], IPPROTO_ICMP_);
    CHECK_EQ(naive(ip, 20, 0), 0xffff);
    CHECK_EQ(get32(ip + 12), htonl(RTR_IP));
    CHECK_EQ(get32(ip + 16), get32(f + l2 + 12));
    CHECK_EQ(icmp[0], type);
    CHECK_EQ(icmp[1], code);
    CHECK_EQ(ntohl(get32(icmp + 4)), rest);
    CHECK_EQ(naive(icmp, 8 + quote, 0), 0xffff);
    CHECK(!memcmp(icmp + 8, f + l2, quote));
    CHECK_EQ(packet_verify_csums(b, len), 0);
}

/* packet_icmp4_error(), checking that packet_icmp4_error_allowed() says
 * what it does: an error is allowed unless forbidden (EPERM) or there is
 * no IPv4 header to answer (EINVAL). */
static int
icmp_error(void *b, size_t size, const void *f, size_t n,
           const struct packet_icmp_error *err, size_t *lenp)
{
    int error = packet_icmp4_error(b, size, f, n, err, lenp);

    CHECK_EQ(packet_icmp4_error_allowed(f, n),
             error != EPERM && error != EINVAL);
    return error;
}

static void
test_icmp_error(void)
{
    struct packet_icmp_error err = { 11, 0, 1400, 0, ans_mac };
    struct packet_spec s = offender_spec(100);
    uint8_t f[2048], g[2048], b[PACKET_ICMP4_ERROR_MAX];
    size_t n, len;

    err.ip = htonl(RTR_IP);
    n = packet_build_udp4(f, sizeof f, &s);
    CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), 0);
    CHECK_EQ(len, 14 + 28 + 20 + 8 + 100);
    check_error(b, len, f, n, 14, 11, 0, 0);

    /* Fragmentation needed carries the MTU; no other error does. */
    err.type = 3;
    err.code = 4;
    CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), 0);
    check_error(b, len, f, n, 14, 3, 4, 1400);
    err.code = 1;
    CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), 0);
    check_error(b, len, f, n, 14, 3, 1, 0);

    /* A large offender is quoted up to 576 bytes of IP; padding is not
     * quoted; the buffer must hold the whole error. */
    s = offender_spec(1400);
    n = packet_build_udp4(f, sizeof f, &s);
    CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), 0);
    CHECK_EQ(len, 14 + 576);
    check_error(b, len, f, n, 14, 3, 1, 0);
    CHECK_EQ(icmp_error(b, len - 1, f, n, &err, &len), ENOSPC);
    s = offender_spec(10);
    n = packet_build_udp4(f, sizeof f, &s);
    memset(f + n, 0xee, 20);
    CHECK_EQ(icmp_error(b, sizeof b, f, n + 20, &err, &len), 0);
    check_error(b, len, f, n, 14, 3, 1, 0);

    /* QinQ: both tags kept. */
    s.vlan_tci = 0x0123;
    s.outer_tci = 0x0456;
    n = packet_build_udp4(f, sizeof f, &s);
    CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), 0);
    check_error(b, len, f, n, 22, 3, 1, 0);

    /* About ICMP: queries yes, errors and unknown types no. */
    static const struct { uint8_t type; int error; } icmp[] = {
        { 0, 0 }, { 8, 0 }, { 13, 0 }, { 17, 0 }, { 3, EPERM },
        { 4, EPERM }, { 5, EPERM }, { 9, EPERM }, { 11, EPERM },
        { 12, EPERM }, { 99, EPERM },
    };
    for (size_t i = 0; i < ARRAY_SIZE(icmp); i++) {
        s = offender_spec(28);
        s.icmp_type = icmp[i].type;
        n = packet_build_icmp4(f, sizeof f, &s);
        CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len),
                 icmp[i].error);
    }

    /* Fragments: the first yes, later ones no. */
    s = offender_spec(100);
    n = packet_build_udp4(g, sizeof g, &s);
    memcpy(f, g, n);
    set_ip16(f, 14, 6, IP_MF);
    CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), 0);
    set_ip16(f, 14, 6, 100);
    CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), EPERM);

    /* Broadcast and multicast destinations, non-unicast sources. */
    static const uint32_t bad_dst[] = { 0xffffffff, 0xe0000005,
                                        0xefffffff };
    for (size_t i = 0; i < ARRAY_SIZE(bad_dst); i++) {
        memcpy(f, g, n);
        set_ip32(f, 14, 16, bad_dst[i]);
        CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), EPERM);
    }
    static const uint32_t bad_src[] = { 0, 0x00010203, 0x7f000001,
                                        0xe0000001, 0xf0000001,
                                        0xffffffff };
    for (size_t i = 0; i < ARRAY_SIZE(bad_src); i++) {
        memcpy(f, g, n);
        set_ip32(f, 14, 12, bad_src[i]);
        CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), EPERM);
    }
    memcpy(f, g, n);
    memset(f, 0xff, 6);                         /* Link broadcast. */
    CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), EPERM);
    memcpy(f, g, n);
    f[0] = 0x01;                                /* Link multicast. */
    CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), EPERM);
    memcpy(f, g, n);
    f[6] = 0x01;                                /* Multicast source. */
    CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), EPERM);

    /* Not IPv4, or no complete header. */
    n = packet_build_arp(f, sizeof f, &s);
    CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), EINVAL);
    n = packet_build_udp6(f, sizeof f, &s);
    CHECK_EQ(icmp_error(b, sizeof b, f, n, &err, &len), EINVAL);
    for (size_t l = 0; l < 14 + 20; l++) {
        CHECK_EQ(icmp_error(b, sizeof b, g, l, &err, &len), EINVAL);
    }
}

static void
test_dec_ttl(void)
{
    uint64_t rng = 0x5eed;
    uint8_t f[14 + 60], before[14 + 60];

    for (int i = 0; i < 20000; i++) {
        size_t ihl = 5 + random_range(&rng, 11), len = 14 + ihl * 4;
        unsigned int ttl, hops;
        int error;

        for (size_t j = 0; j < sizeof f; j++) {
            f[j] = (uint8_t) random_next(&rng);
        }
        f[12] = 0x08;
        f[13] = 0x00;
        f[14] = (uint8_t) (0x40 | ihl);
        ttl = random_range(&rng, 256);
        f[22] = (uint8_t) ttl;
        hops = random_range(&rng, ttl + 2);
        put16(f + 24, csum_ipv4_header(f + 14, ihl * 4));
        memcpy(before, f, len);

        error = packet_dec_ttl(f, len, 14, hops);
        if (hops && hops >= ttl) {
            CHECK_EQ(error, ERANGE);
            CHECK(!memcmp(f, before, len));
            continue;
        }
        CHECK_EQ(error, 0);
        CHECK_EQ(f[22], ttl - hops);
        /* Incremental update == full recomputation, bit for bit. */
        CHECK_EQ(get16(f + 24), csum_ipv4_header(f + 14, ihl * 4));
        CHECK(csum_ipv4_header_ok(f + 14, ihl * 4));
        CHECK(!memcmp(f, before, 22));
        CHECK(!memcmp(f + 23, before + 23, 1));
        CHECK(!memcmp(f + 26, before + 26, len - 26));
    }

    /* IPv6: the hop limit, no checksum. */
    struct packet_spec s = offender_spec(10);
    size_t n;
    uint8_t g[128];

    s.ttl = 9;
    n = packet_build_udp6(g, sizeof g, &s);
    CHECK_EQ(packet_dec_ttl(g, n, 14, 2), 0);
    CHECK_EQ(g[14 + 7], 7);
    CHECK_EQ(packet_verify_csums(g, n), 0);
    CHECK_EQ(packet_dec_ttl(g, n, 14, 7), ERANGE);
    CHECK_EQ(packet_dec_ttl(g, n, 14, 0), 0);
    CHECK_EQ(g[14 + 7], 7);

    /* Not IP, short, out of range. */
    n = packet_build_arp(g, sizeof g, &s);
    CHECK_EQ(packet_dec_ttl(g, n, 14, 1), EINVAL);
    n = packet_build_udp4(g, sizeof g, &s);
    CHECK_EQ(packet_dec_ttl(g, 14 + 19, 14, 1), EINVAL);
    CHECK_EQ(packet_dec_ttl(g, n, n, 1), EINVAL);
    CHECK_EQ(packet_dec_ttl(g, n, n + 100, 1), EINVAL);
}

/* Fragments 'f' ('n' bytes, IPv4 after 'l2' bytes of L2) to 'mtu' and
 * checks every fragment and the reassembly.  'later_opts' ('later_len'
 * bytes) are the options later fragments must carry.  Returns the number
 * of fragments (0 on failure). */
static size_t
check_fragments(const uint8_t *f, size_t n, size_t l2, size_t mtu,
                const uint8_t *later_opts, size_t later_len)
{
    static uint8_t out[1 << 18], data[65536];
    size_t offsets[2048], lens[2048], n_frags = 0, pos = 0;
    const uint8_t *oip = f + l2;
    size_t oihl = (oip[0] & 15) * 4;
    size_t otot = (size_t) (oip[2] << 8 | oip[3]);
    uint16_t ofrag = (uint16_t) (oip[6] << 8 | oip[7]);
    size_t base = (size_t) (ofrag & IP_FRAG_OFF_MASK) * 8;

    CHECK_EQ(packet_ipv4_fragment(f, n, mtu, out, sizeof out, offsets, lens,
                                  ARRAY_SIZE(offsets), &n_frags), 0);
    for (size_t i = 0; i < n_frags; i++) {
        const uint8_t *fr = out + offsets[i], *ip = fr + l2;
        size_t ihl = (ip[0] & 15) * 4;
        size_t tot = (size_t) (ip[2] << 8 | ip[3]);
        uint16_t fo = (uint16_t) (ip[6] << 8 | ip[7]);
        bool last = i == n_frags - 1;

        CHECK(!memcmp(fr, f, l2));
        CHECK_EQ(lens[i], l2 + tot);
        CHECK(tot <= mtu);
        CHECK(csum_ipv4_header_ok(ip, ihl));
        CHECK_EQ(ip[0] >> 4, 4);
        CHECK_EQ(ip[1], oip[1]);
        CHECK(!memcmp(ip + 4, oip + 4, 2));     /* Identification. */
        CHECK(!memcmp(ip + 8, oip + 8, 2));     /* TTL, protocol. */
        CHECK(!memcmp(ip + 12, oip + 12, 8));   /* Addresses. */
        CHECK_EQ(fo & IP_DF, 0);
        CHECK_EQ((fo & IP_FRAG_OFF_MASK) * 8, base + pos);
        if (i == 0) {
            CHECK_EQ(ihl, oihl);
            CHECK(!memcmp(ip + 20, oip + 20, oihl - 20));
        } else {
            CHECK_EQ(ihl, 20 + ROUND_UP(later_len, 4));
            CHECK(!later_len || !memcmp(ip + 20, later_opts, later_len));
            for (size_t j = 20 + later_len; j < ihl; j++) {
                CHECK_EQ(ip[j], 0);
            }
        }
        if (last) {
            CHECK_EQ(fo & IP_MF, ofrag & IP_MF);
        } else {
            CHECK(fo & IP_MF);
            CHECK_EQ((tot - ihl) % 8, 0);
        }
        if (pos + tot - ihl > sizeof data) {
            return 0;
        }
        memcpy(data + pos, ip + ihl, tot - ihl);
        pos += tot - ihl;
    }
    CHECK_EQ(pos, otot - oihl);
    CHECK(!memcmp(data, oip + oihl, otot - oihl));
    return n_frags;
}

static void
test_fragment(void)
{
    static uint8_t f[70000], g[70000], out[1 << 17];
    size_t offsets[64], lens[64], n_frags, n;
    struct packet_spec s = offender_spec(3000);
    uint64_t rng = 0xf4a6;

    s.ttl = 64;
    n = packet_build_udp4(f, sizeof f, &s);
    CHECK_EQ(check_fragments(f, n, 14, 1500, NULL, 0), 3);
    CHECK_EQ(check_fragments(f, n, 14, 1000, NULL, 0), 4);
    /* 3008 data bytes, 48 per fragment at the smallest MTU. */
    CHECK_EQ(check_fragments(f, n, 14, 68, NULL, 0), 63);
    static const size_t mtus[] = { 69, 75, 100, 577, 1001, 1499, 3027 };
    for (size_t i = 0; i < ARRAY_SIZE(mtus); i++) {
        CHECK(check_fragments(f, n, 14, mtus[i], NULL, 0) > 1);
    }

    /* Random sizes, MTUs and tags. */
    for (int i = 0; i < 300; i++) {
        s = offender_spec(random_range(&rng, 9000));
        s.vlan_tci = (uint16_t) (i % 3 ? 0 : 0x0100 + i);
        n = packet_build_udp4(f, sizeof f, &s);
        check_fragments(f, n, s.vlan_tci ? 18 : 14,
                        68 + random_range(&rng, 2000), NULL, 0);
    }

    /* Options: only the copied one (loose source route) goes into later
     * fragments, padded to 8 bytes. */
    static const uint8_t opts[16] = {
        0x83, 7, 4, 192, 0, 2, 1,       /* LSRR, copied. */
        1,                              /* NOP. */
        7, 7, 4, 0, 0, 0, 0,            /* Record route, not copied. */
        0,                              /* End of list. */
    };
    s = offender_spec(2000);
    n = packet_build_udp4(g, sizeof g, &s);
    n = add_options(g, n, 14, opts, sizeof opts, f);
    CHECK_EQ(check_fragments(f, n, 14, 1000, opts, 7), 3);
    /* 2008 data bytes: 8 after the 36-byte first header, then 16 after
     * each 28-byte later one. */
    CHECK_EQ(check_fragments(f, n, 14, 44, opts, 7), 126);
    CHECK_EQ(packet_ipv4_fragment(f, n, 43, out, sizeof out, offsets, lens,
                                  ARRAY_SIZE(offsets), &n_frags), EMSGSIZE);

    /* A fragment fragmented again: offsets continue from its own, and the
     * last piece keeps its MF. */
    s = offender_spec(1500);
    n = packet_build_udp4(f, sizeof f, &s);
    set_ip16(f, 14, 6, IP_MF | 100);
    CHECK_EQ(check_fragments(f, n, 14, 600, NULL, 0), 3);
    set_ip16(f, 14, 6, 100);
    CHECK_EQ(check_fragments(f, n, 14, 600, NULL, 0), 3);
    set_ip16(f, 14, 6, 8000);                   /* Ends at 65508. */
    CHECK_EQ(check_fragments(f, n, 14, 600, NULL, 0), 3);
    set_ip16(f, 14, 6, 8004);                   /* Ends past 65535. */
    CHECK_EQ(packet_ipv4_fragment(f, n, 600, out, sizeof out, offsets, lens,
                                  ARRAY_SIZE(offsets), &n_frags), EINVAL);

    /* DF: refused when too big, copied when it fits; padding dropped. */
    s = offender_spec(1500);
    s.dont_frag = true;
    n = packet_build_udp4(f, sizeof f, &s);
    CHECK_EQ(packet_ipv4_fragment(f, n, 1500, out, sizeof out, offsets, lens,
                                  ARRAY_SIZE(offsets), &n_frags), EPERM);
    memset(f + n, 0xee, 30);
    CHECK_EQ(packet_ipv4_fragment(f, n + 30, 1528, out, sizeof out, offsets,
                                  lens, ARRAY_SIZE(offsets), &n_frags), 0);
    CHECK_EQ(n_frags, 1);
    CHECK_EQ(lens[0], n);
    CHECK(!memcmp(out, f, n));

    /* Too small an MTU, too little room, not IPv4, bad options. */
    s = offender_spec(1500);
    n = packet_build_udp4(f, sizeof f, &s);
    CHECK_EQ(packet_ipv4_fragment(f, n, 27, out, sizeof out, offsets, lens,
                                  ARRAY_SIZE(offsets), &n_frags), EMSGSIZE);
    CHECK_EQ(packet_ipv4_fragment(f, n, 500, out, sizeof out, offsets, lens,
                                  3, &n_frags), ENOSPC);
    CHECK_EQ(packet_ipv4_fragment(f, n, 500, out, 1000, offsets, lens,
                                  ARRAY_SIZE(offsets), &n_frags), ENOSPC);
    n = packet_build_arp(f, sizeof f, &s);
    CHECK_EQ(packet_ipv4_fragment(f, n, 500, out, sizeof out, offsets, lens,
                                  ARRAY_SIZE(offsets), &n_frags), EINVAL);
    static const uint8_t bad_opts[4] = { 0x83, 0, 0, 0 };
    s = offender_spec(1500);
    n = packet_build_udp4(g, sizeof g, &s);
    n = add_options(g, n, 14, bad_opts, sizeof bad_opts, f);
    CHECK_EQ(packet_ipv4_fragment(f, n, 500, out, sizeof out, offsets, lens,
                                  ARRAY_SIZE(offsets), &n_frags), EINVAL);
}

int
main(void)
{
    RUN(test_arp_reply);
    RUN(test_arp_reply_rejects);
    RUN(test_builders);
    RUN(test_eth_addr_strings);
    RUN(test_csum);
    RUN(test_echo_reply);
    RUN(test_icmp_error);
    RUN(test_dec_ttl);
    RUN(test_fragment);
    return unit_finish();
}
