/* FUZZ_SOURCES: lib/flow-key.c lib/packet.c lib/csum.c lib/packet-edit.c lib/util.c datapath/offload.c */
/*
 * fuzz-packet.c -- libFuzzer target for the packet layer: the flow key
 * extractor and formatter, the ARP responder's in-place rewrite,
 * virtio-net checksum completion and TCP segmentation, and what a router
 * does to a hostile packet: the ICMP echo reply, ICMP errors about it,
 * the TTL decrement and IPv4 fragmentation.
 *
 * Input layout: bytes 0..9 are a struct virtio_net_hdr (flags, gso_type,
 * hdr_len, gso_size, csum_start, csum_offset, host order as PACKET_VNET_HDR
 * delivers them); byte 0 also supplies in_port; the rest is the frame.
 * Inputs shorter than 10 bytes are used whole as a frame with a zero
 * header.  Every function gets an exact-size heap copy so that ASan
 * catches any read past the end.
 *
 * Build (from the repository root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *     -D_GNU_SOURCE -I. -Iinclude tests/fuzz/fuzz-packet.c \
 *     <the FUZZ_SOURCES above> -o /tmp/fuzz-packet
 *   /tmp/fuzz-packet -max_total_time=30
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/offload.h"
#include "lib/flow-key.h"
#include "lib/packet-edit.h"
#include "tests/fuzz/fuzz-util.h"

BUILD_ASSERT_DECL(FLOW_KEY_SEQ == 2);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_SEGS 64
#define FUZZ_MAX_FRAGS 128

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct virtio_net_hdr vh;
    const uint8_t *frame = data;
    size_t len = size;
    struct flow_key key, key2;
    struct packet_layout lo;
    char buf[512];
    uint8_t *copy;

    memset(&vh, 0, sizeof vh);
    if (size >= sizeof vh) {
        memcpy(&vh, data, sizeof vh);
        frame = data + sizeof vh;
        len = size - sizeof vh;
    }

    /* Flow key: deterministic, padding zero, layout inside the frame. */
    copy = fuzz_copy(frame, len);
    flow_key_extract(copy, len, size ? data[0] : 0, &key, &lo);
    flow_key_extract(copy, len, size ? data[0] : 0, &key2, NULL);
    fuzz_check(flow_key_equal(&key, &key2));
    fuzz_check(!key.pad0 && !key.pad1 && !key.pad2[0] && !key.pad2[1]
               && !key.pad2[2]);
    /* The last 16 bytes are ARP hardware addresses (pad3 zero), an ND
     * target, or zero. */
    if (key.eth_type != htons(ETH_TYPE_ARP)) {
        static const uint8_t zero[16];
        bool nd = (key.eth_type == htons(ETH_TYPE_IPV6)
                   && key.nw_proto == IPPROTO_ICMPV6_
                   && (key.tp_src == htons(ICMPV6_NEIGHBOR_SOLICIT)
                       || key.tp_src == htons(ICMPV6_NEIGHBOR_ADVERT)));

        fuzz_check(nd || !memcmp(key.nd_target, zero, sizeof zero));
    } else {
        fuzz_check(!key.pad3);
    }
    fuzz_check(lo.l3_ofs == UINT16_MAX || lo.l3_ofs < len);
    fuzz_check(lo.l4_ofs == UINT16_MAX || (size_t) lo.l4_ofs + lo.l4_len <= len);
    flow_key_format(&key, NULL, buf, sizeof buf);
    flow_key_format(&key, &key2, buf, 37);
    fuzz_check(strlen(buf) < 37);
    (void) flow_key_hash(&key, 0);

    /* ARP reply on a copy; a reply must parse as a reply. */
    if (!packet_arp_reply(copy, len, &key.eth_src)) {
        flow_key_extract(copy, len, 0, &key2, NULL);
        fuzz_check(key2.nw_proto == ARP_OP_REPLY);
    }
    free(copy);

    (void) packet_verify_csums(frame, len);

    /* Checksum completion and segmentation. */
    copy = fuzz_copy(frame, len);
    (void) offload_complete_csum(copy, len, &vh);
    free(copy);

    copy = fuzz_copy(frame, len);
    {
        size_t out_size = len * 4 + 4096;
        uint8_t *out = malloc(out_size);
        size_t offsets[FUZZ_MAX_SEGS], lens[FUZZ_MAX_SEGS], n = 0;

        fuzz_check(out != NULL);
        if (!offload_segment_tcp(copy, len, &vh, out, out_size, offsets,
                                 lens, FUZZ_MAX_SEGS, &n)) {
            fuzz_check(n >= 1 && n <= FUZZ_MAX_SEGS);
            for (size_t i = 0; i < n; i++) {
                fuzz_check(offsets[i] + lens[i] <= out_size);
                fuzz_check(!packet_verify_csums(out + offsets[i], lens[i]));
            }
        }
        free(out);
    }
    free(copy);

    /* Router answers.  An echo reply must still parse as ICMP; an error
     * must be a well-formed frame with correct checksums within its
     * bound. */
    copy = fuzz_copy(frame, len);
    {
        static const struct eth_addr rmac = {{ 0xfa, 0x16, 0x3e, 0, 0, 1 }};
        size_t rlen = len;

        if (!packet_icmp4_echo_reply(copy, &rlen, htonl(0x0a000001),
                                     &rmac)) {
            fuzz_check(rlen <= len);
            fuzz_check(!packet_verify_csums(copy, rlen));
            flow_key_extract(copy, rlen, 0, &key2, NULL);
            fuzz_check(key2.nw_proto == IPPROTO_ICMP_);
        }
    }
    free(copy);
    {
        struct packet_icmp_error err = {
            .type = size ? data[size - 1] % 13 : 3,
            .code = size > 1 ? data[size - 2] % 6 : 4,
            .mtu = 1300, .ip = htonl(0x0a000001),
            .mac = {{ 0xfa, 0x16, 0x3e, 0, 0, 1 }},
        };
        uint8_t *out = malloc(PACKET_ICMP4_ERROR_MAX);
        size_t elen = 0;

        fuzz_check(out != NULL);
        copy = fuzz_copy(frame, len);
        if (!packet_icmp4_error(out, PACKET_ICMP4_ERROR_MAX, copy, len, &err,
                                &elen)) {
            fuzz_check(elen <= PACKET_ICMP4_ERROR_MAX);
            fuzz_check(!packet_verify_csums(out, elen));
        }
        free(copy);
        free(out);
    }
    if (lo.l3_ofs != UINT16_MAX) {
        unsigned hops = size ? data[0] % 3 : 1;

        /* Where the extractor understood the header (it leaves nw_ttl 0
         * for one it did not), the TTL drops by exactly 'hops'. */
        copy = fuzz_copy(frame, len);
        if (!packet_dec_ttl(copy, len, lo.l3_ofs, hops) && key.nw_ttl) {
            flow_key_extract(copy, len, 0, &key2, NULL);
            fuzz_check(key2.nw_ttl == key.nw_ttl - hops);
        }
        free(copy);
    }
    {
        size_t out_size = 2 * len + FUZZ_MAX_FRAGS * 128;
        uint8_t *out = malloc(out_size);
        size_t offsets[FUZZ_MAX_FRAGS], lens[FUZZ_MAX_FRAGS], n = 0;
        size_t mtu = 68 + (size ? data[0] : 0) * 4;

        fuzz_check(out != NULL);
        copy = fuzz_copy(frame, len);
        if (!packet_ipv4_fragment(copy, len, mtu, out, out_size, offsets,
                                  lens, FUZZ_MAX_FRAGS, &n)) {
            fuzz_check(n >= 1 && n <= FUZZ_MAX_FRAGS);
            for (size_t i = 0; i < n; i++) {
                fuzz_check(offsets[i] + lens[i] <= out_size);
                flow_key_extract(out + offsets[i], lens[i], 0, &key2, NULL);
                fuzz_check(key2.eth_type == key.eth_type);
            }
        }
        free(copy);
        free(out);
    }
    return 0;
}
