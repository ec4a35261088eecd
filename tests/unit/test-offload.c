/*
 * test-offload.c -- checksum completion and TCP segmentation of frames
 * carrying virtio-net offload metadata, built the way Linux hands them to
 * a PACKET_VNET_HDR socket (pseudo-header sum in the TCP/UDP checksum
 * field, csum_start/csum_offset pointing at it).
 *
 * Every checksum is verified with a deliberately naive implementation
 * (byte pairs, big-endian, no lib/csum.h) so that a bug in csum.c cannot
 * hide itself.
 */
#include "datapath/offload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "lib/packet-edit.h"
#include "tests/lib/unit.h"

/* Naive RFC 1071 over 'len' bytes, added to 'sum'. */
static uint64_t
naive_sum(const uint8_t *p, size_t len, uint64_t sum)
{
    for (size_t i = 0; i < len; i += 2) {
        sum += (uint64_t) p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
    }
    return sum;
}

static uint16_t
naive_fold(uint64_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) sum;
}

/* True if the L4 segment at 'l4' ('l4_len' bytes) of the IP packet at
 * 'ip' carries a correct checksum. */
static bool
naive_l4_ok(const uint8_t *ip, bool v6, const uint8_t *l4, size_t l4_len,
            uint8_t proto)
{
    uint64_t sum = 0;

    if (v6) {
        sum = naive_sum(ip + 8, 32, 0);
        sum += (l4_len >> 16) + (l4_len & 0xffff) + proto;
    } else {
        sum = naive_sum(ip + 12, 8, 0);
        sum += proto + l4_len;
    }
    return naive_fold(naive_sum(l4, l4_len, sum)) == 0xffff;
}

static bool
naive_ip4_ok(const uint8_t *ip)
{
    return naive_fold(naive_sum(ip, (ip[0] & 15) * 4, 0)) == 0xffff;
}

static uint16_t
rd16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint32_t
rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t) ((rng_state * 2685821657736338717ULL) >> 32);
}

static struct packet_spec
spec_for(const uint8_t *payload, size_t payload_len)
{
    struct packet_spec s;

    memset(&s, 0, sizeof s);
    s.eth_src = (struct eth_addr) {{ 0x02, 0, 0, 0, 0, 1 }};
    s.eth_dst = (struct eth_addr) {{ 0x02, 0, 0, 0, 0, 2 }};
    s.ip4_src = htonl(0xc6120001);
    s.ip4_dst = htonl(0xc6120002);
    s.ip6_src[0] = s.ip6_dst[0] = 0xfd;
    s.ip6_src[15] = 1;
    s.ip6_dst[15] = 2;
    s.src_port = 40000;
    s.dst_port = 5201;
    s.tcp_seq = 0xfffff000;     /* Wraps during the super-frame. */
    s.tcp_ack = 12345;
    s.ip_id = 0xfff0;           /* Wraps too. */
    s.dont_frag = true;
    s.csum_mode = PACKET_CSUM_PARTIAL;
    s.payload = payload;
    s.payload_len = payload_len;
    return s;
}

/* Segments 'frame' and checks every property of the result against the
 * original: 'payload' of 'payload_len' bytes after headers of 'hdrs'
 * bytes, TCP at 'l4', IP at 'l3'. */
static void
check_segments(const uint8_t *frame, size_t len, bool v6, size_t l3,
               size_t l4, size_t hdrs, uint16_t mss, uint8_t gso_extra)
{
    struct virtio_net_hdr vh;
    size_t payload_len = len - hdrs;
    size_t exp_n = (payload_len + mss - 1) / mss;
    size_t out_size = exp_n * hdrs + payload_len;
    uint8_t *out = malloc(out_size);
    uint8_t *joined = malloc(payload_len);
    size_t offsets[64], lens[64], n = 0, pos = 0;
    uint32_t seq0 = rd32(frame + l4 + 4);
    uint16_t id0 = v6 ? 0 : rd16(frame + l3 + 4);
    uint8_t flags0 = frame[l4 + 13];

    memset(&vh, 0, sizeof vh);
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh.gso_type = (v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4)
                  | gso_extra;
    vh.hdr_len = (uint16_t) hdrs;
    vh.gso_size = mss;
    vh.csum_start = (uint16_t) l4;
    vh.csum_offset = 16;

    CHECK_EQ(offload_segment_tcp(frame, len, &vh, out, out_size, offsets,
                                 lens, 64, &n), 0);
    CHECK_EQ(n, exp_n);
    for (size_t i = 0; i < n && i < 64; i++) {
        const uint8_t *seg = out + offsets[i];
        size_t chunk = i + 1 < n ? mss : payload_len - (n - 1) * (size_t) mss;
        uint8_t flags = flags0;

        CHECK_EQ(offsets[i], pos);
        CHECK_EQ(lens[i], hdrs + chunk);
        pos += lens[i];

        /* L2 (incl. tags) replicated unchanged. */
        CHECK(!memcmp(seg, frame, l3));
        if (v6) {
            CHECK_EQ(rd16(seg + l3 + 4), hdrs - l3 - 40 + chunk);
            CHECK(!memcmp(seg + l3 + 8, frame + l3 + 8, 32));
        } else {
            CHECK_EQ(rd16(seg + l3 + 2), hdrs - l3 + chunk);
            CHECK_EQ(rd16(seg + l3 + 4), (uint16_t) (id0 + i));
            CHECK(naive_ip4_ok(seg + l3));
            CHECK_EQ(seg[l3 + 6], 0x40);    /* DF kept. */
        }
        CHECK_EQ(rd32(seg + l4 + 4), (uint32_t) (seq0 + i * mss));
        CHECK_EQ(rd32(seg + l4 + 8), rd32(frame + l4 + 8));
        CHECK(!memcmp(seg + l4 + 20, frame + l4 + 20, hdrs - l4 - 20));
        if (i + 1 < n) {
            flags &= ~0x09;
        }
        if (i) {
            flags &= ~0x80;
        }
        CHECK_EQ(seg[l4 + 13], flags);
        CHECK(naive_l4_ok(seg + l3, v6, seg + l4, lens[i] - l4, 6));
        CHECK_EQ(packet_verify_csums(seg, lens[i]), 0);
        memcpy(joined + i * (size_t) mss, seg + hdrs, chunk);
    }
    CHECK_EQ(pos, out_size);
    CHECK(!memcmp(joined, frame + hdrs, payload_len));

    /* One byte or one segment too few: ENOSPC. */
    CHECK_EQ(offload_segment_tcp(frame, len, &vh, out, out_size - 1,
                                 offsets, lens, 64, &n), ENOSPC);
    CHECK_EQ(offload_segment_tcp(frame, len, &vh, out, out_size, offsets,
                                 lens, exp_n - 1, &n), ENOSPC);
    CHECK_EQ(n, 0);
    free(joined);
    free(out);
}

static void
test_tso_v4_64k(void)
{
    size_t payload_len = 65535 - 20 - 20;
    uint8_t *payload = malloc(payload_len);
    uint8_t *frame = malloc(14 + 65535);
    size_t len;

    for (size_t i = 0; i < payload_len; i++) {
        payload[i] = (uint8_t) rng();
    }
    struct packet_spec s = spec_for(payload, payload_len);
    s.tcp_flags = 0x80 | 0x10 | 0x08 | 0x01;   /* CWR ACK PSH FIN. */
    len = packet_build_tcp4(frame, 14 + 65535, &s);
    CHECK_EQ(len, 14 + 65535);
    check_segments(frame, len, false, 14, 34, 54, 1448,
                   VIRTIO_NET_HDR_GSO_ECN);
    free(frame);
    free(payload);
}

static void
test_tso_v4_options(void)
{
    /* 12 bytes of TCP options (NOP NOP timestamps) at the payload's
     * start become part of the TCP header once the data offset says so;
     * the pseudo-header sum stays right since the length is unchanged. */
    size_t payload_len = 12 + 10000;
    uint8_t *payload = malloc(payload_len);
    uint8_t *frame = malloc(14 + 20 + 20 + payload_len);
    size_t len;

    for (size_t i = 0; i < payload_len; i++) {
        payload[i] = (uint8_t) rng();
    }
    memcpy(payload, "\x01\x01\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x02", 12);
    struct packet_spec s = spec_for(payload, payload_len);
    s.tcp_flags = 0x10;
    len = packet_build_tcp4(frame, 14 + 40 + payload_len, &s);
    frame[34 + 12] = 8 << 4;
    check_segments(frame, len, false, 14, 34, 66, 1000, 0);
    free(frame);
    free(payload);
}

static void
test_tso_v6_vlan(void)
{
    size_t payload_len = 65535 - 20;
    uint8_t *payload = malloc(payload_len);
    uint8_t *frame = malloc(18 + 40 + 65535);
    size_t len;

    for (size_t i = 0; i < payload_len; i++) {
        payload[i] = (uint8_t) rng();
    }
    struct packet_spec s = spec_for(payload, payload_len);
    s.vlan_tci = 100;
    s.tcp_flags = 0x18;
    len = packet_build_tcp6(frame, 18 + 40 + 65535, &s);
    CHECK_EQ(len, 18 + 40 + 65535);
    check_segments(frame, len, true, 18, 58, 78, 1428, 0);

    /* Without VLAN, an mss that divides the payload exactly. */
    s.vlan_tci = 0;
    s.payload_len = 1440 * 20;
    len = packet_build_tcp6(frame, 18 + 40 + 65535, &s);
    check_segments(frame, len, true, 14, 54, 74, 1440, 0);
    free(frame);
    free(payload);
}

static void
test_tso_small(void)
{
    /* A super-frame smaller than gso_size is one segment with a full
     * checksum. */
    uint8_t frame[200], out[200];
    struct packet_spec s = spec_for(NULL, 100);
    size_t len = packet_build_tcp4(frame, sizeof frame, &s);
    check_segments(frame, len, false, 14, 34, 54, 1448, 0);

    /* No payload at all: one header-only segment. */
    struct virtio_net_hdr vh = {
        .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 100,
    };
    size_t offsets[4], lens[4], n;
    s.payload_len = 0;
    len = packet_build_tcp4(frame, sizeof frame, &s);
    CHECK_EQ(offload_segment_tcp(frame, len, &vh, out, sizeof out, offsets,
                                 lens, 4, &n), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(lens[0], 54);
    CHECK(naive_l4_ok(out + 14, false, out + 34, 20, 6));
}

static void
test_complete_csum(void)
{
    uint8_t frame[1600];
    struct virtio_net_hdr vh;
    struct packet_spec s = spec_for(NULL, 1001);   /* Odd length. */
    size_t len;

    memset(&vh, 0, sizeof vh);
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;

    len = packet_build_tcp4(frame, sizeof frame, &s);
    CHECK(!naive_l4_ok(frame + 14, false, frame + 34, len - 34, 6));
    vh.csum_start = 34;
    vh.csum_offset = 16;
    CHECK_EQ(offload_complete_csum(frame, len, &vh), 0);
    CHECK(naive_l4_ok(frame + 14, false, frame + 34, len - 34, 6));

    len = packet_build_udp4(frame, sizeof frame, &s);
    vh.csum_offset = 6;
    CHECK_EQ(offload_complete_csum(frame, len, &vh), 0);
    CHECK(naive_l4_ok(frame + 14, false, frame + 34, len - 34, 17));
    CHECK(frame[40] || frame[41]);

    s.vlan_tci = 5;
    len = packet_build_udp6(frame, sizeof frame, &s);
    vh.csum_start = 18 + 40;
    CHECK_EQ(offload_complete_csum(frame, len, &vh), 0);
    CHECK(naive_l4_ok(frame + 18, true, frame + 58, len - 58, 17));
    CHECK_EQ(packet_verify_csums(frame, len), 0);

    len = packet_build_tcp6(frame, sizeof frame, &s);
    vh.csum_offset = 16;
    CHECK_EQ(offload_complete_csum(frame, len, &vh), 0);
    CHECK(naive_l4_ok(frame + 18, true, frame + 58, len - 58, 6));

    /* Flag clear: nothing happens, even with nonsense offsets. */
    len = packet_build_tcp4(frame, sizeof frame, &s);
    uint8_t copy[1600];
    memcpy(copy, frame, len);
    vh.flags = 0;
    vh.csum_start = 60000;
    CHECK_EQ(offload_complete_csum(frame, len, &vh), 0);
    CHECK(!memcmp(copy, frame, len));
}

static void
test_complete_csum_bounds(void)
{
    uint8_t *frame = malloc(100);
    struct virtio_net_hdr vh;

    memset(frame, 0x11, 100);
    memset(&vh, 0, sizeof vh);
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;

    vh.csum_start = 98;
    vh.csum_offset = 0;
    CHECK_EQ(offload_complete_csum(frame, 100, &vh), 0);   /* Just fits. */
    vh.csum_start = 99;
    CHECK_EQ(offload_complete_csum(frame, 100, &vh), EINVAL);
    vh.csum_start = 101;
    CHECK_EQ(offload_complete_csum(frame, 100, &vh), EINVAL);
    vh.csum_start = 50;
    vh.csum_offset = 49;
    CHECK_EQ(offload_complete_csum(frame, 100, &vh), EINVAL);
    vh.csum_start = 0xffff;
    vh.csum_offset = 0xffff;
    CHECK_EQ(offload_complete_csum(frame, 100, &vh), EINVAL);
    CHECK_EQ(offload_complete_csum(frame, 0, &vh), EINVAL);
    free(frame);
}

static void
test_segment_malformed(void)
{
    struct packet_spec s = spec_for(NULL, 3000);
    uint8_t good[4000], *frame;
    uint8_t out[8000];
    size_t offsets[16], lens[16], n, len;
    struct virtio_net_hdr vh, bad;

    len = packet_build_tcp4(good, sizeof good, &s);
    memset(&vh, 0, sizeof vh);
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    vh.hdr_len = 54;
    vh.gso_size = 1000;
    vh.csum_start = 34;
    vh.csum_offset = 16;
    CHECK_EQ(offload_segment_tcp(good, len, &vh, out, sizeof out, offsets,
                                 lens, 16, &n), 0);
    CHECK_EQ(n, 3);

#define SEG(F, L, VH) \
    offload_segment_tcp(F, L, VH, out, sizeof out, offsets, lens, 16, &n)

    bad = vh;
    bad.gso_size = 0;
    CHECK_EQ(SEG(good, len, &bad), EINVAL);
    bad = vh;
    bad.hdr_len = (uint16_t) (len + 1);
    CHECK_EQ(SEG(good, len, &bad), EINVAL);
    bad = vh;
    bad.csum_start = 30;
    CHECK_EQ(SEG(good, len, &bad), EINVAL);
    bad.csum_start = 0xffff;
    CHECK_EQ(SEG(good, len, &bad), EINVAL);
    bad = vh;
    bad.csum_offset = 6;
    CHECK_EQ(SEG(good, len, &bad), EINVAL);
    bad = vh;
    bad.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    CHECK_EQ(SEG(good, len, &bad), EINVAL);
    bad.gso_type = VIRTIO_NET_HDR_GSO_UDP;
    CHECK_EQ(SEG(good, len, &bad), EOPNOTSUPP);
    bad.gso_type = VIRTIO_NET_HDR_GSO_NONE;
    CHECK_EQ(SEG(good, len, &bad), EOPNOTSUPP);
    CHECK_EQ(n, 0);

    /* Header damage, one field at a time. */
    static const struct { size_t ofs; uint8_t val; } damage[] = {
        { 12, 0x86 },           /* EtherType. */
        { 14, 0x44 },           /* ihl 4. */
        { 14, 0x55 },           /* Version 5. */
        { 14, 0x4f },           /* ihl 15 > tot_len region?  No: options
                                 * eat the TCP header -> csum_start off. */
        { 16, 0xff },           /* tot_len beyond the frame. */
        { 20, 0x20 },           /* MF: a fragment. */
        { 23, 17 },             /* Protocol UDP. */
        { 46, 0x40 },           /* TCP data offset 4. */
    };
    for (size_t i = 0; i < ARRAY_SIZE(damage); i++) {
        frame = malloc(len);
        memcpy(frame, good, len);
        frame[damage[i].ofs] = damage[i].val;
        CHECK_EQ(SEG(frame, len, &vh), EINVAL);
        free(frame);
    }

    /* Every truncation: the IP length no longer fits -> EINVAL, and ASan
     * sees no read past the exact-size heap copy. */
    for (size_t i = 0; i < len; i++) {
        frame = malloc(i ? i : 1);
        memcpy(frame, good, i);
        CHECK_EQ(SEG(frame, i, &vh), EINVAL);
        free(frame);
    }

    /* Random headers over random and mutated frames: never a crash. */
    for (int iter = 0; iter < 20000; iter++) {
        size_t flen = rng() % 400;
        frame = malloc(flen ? flen : 1);
        if (iter % 2 && flen <= len) {
            memcpy(frame, good, flen);
            frame[rng() % (flen ? flen : 1)] ^= (uint8_t) rng();
        } else {
            for (size_t j = 0; j < flen; j++) {
                frame[j] = (uint8_t) rng();
            }
        }
        bad = vh;
        switch (rng() % 4) {
        case 0: bad.gso_size = (uint16_t) rng(); break;
        case 1: bad.csum_start = (uint16_t) (rng() % 500); break;
        case 2: bad.csum_offset = (uint16_t) (rng() % 500); break;
        default: bad.gso_type = (uint8_t) rng(); break;
        }
        if (SEG(frame, flen, &bad) == 0) {
            CHECK(n >= 1);
            for (size_t k = 0; k < n; k++) {
                CHECK(offsets[k] + lens[k] <= sizeof out);
            }
        }
        offload_complete_csum(frame, flen, &bad);
        free(frame);
    }
#undef SEG
}

int
main(void)
{
    RUN(test_tso_v4_64k);
    RUN(test_tso_v4_options);
    RUN(test_tso_v6_vlan);
    RUN(test_tso_small);
    RUN(test_complete_csum);
    RUN(test_complete_csum_bounds);
    RUN(test_segment_malformed);
    return unit_finish();
}
