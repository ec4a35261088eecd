/* FUZZ_SOURCES: lib/flow-key.c lib/packet.c lib/csum.c lib/packet-edit.c lib/util.c datapath/offload.c */
/*
 * fuzz-packet.c -- libFuzzer target for the packet layer: the flow key
 * extractor and formatter, the ARP responder's in-place rewrite, and
 * virtio-net checksum completion and TCP segmentation.
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
#include <stdlib.h>
#include <string.h>

#include "datapath/offload.h"
#include "lib/flow-key.h"
#include "lib/packet-edit.h"

BUILD_ASSERT_DECL(FLOW_KEY_SEQ == 1);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_SEGS 64

static void
check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static uint8_t *
copy_of(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    check(p != NULL);
    if (size) {
        memcpy(p, data, size);
    }
    return p;
}

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
    copy = copy_of(frame, len);
    flow_key_extract(copy, len, size ? data[0] : 0, &key, &lo);
    flow_key_extract(copy, len, size ? data[0] : 0, &key2, NULL);
    check(flow_key_equal(&key, &key2));
    check(!key.pad0 && !key.pad1 && !key.pad3 && !key.pad2[0]
          && !key.pad2[1] && !key.pad2[2]);
    check(lo.l3_ofs == UINT16_MAX || lo.l3_ofs < len);
    check(lo.l4_ofs == UINT16_MAX || (size_t) lo.l4_ofs + lo.l4_len <= len);
    flow_key_format(&key, NULL, buf, sizeof buf);
    flow_key_format(&key, &key2, buf, 37);
    check(strlen(buf) < 37);
    (void) flow_key_hash(&key, 0);

    /* ARP reply on a copy; a reply must parse as a reply. */
    if (!packet_arp_reply(copy, len, &key.eth_src)) {
        flow_key_extract(copy, len, 0, &key2, NULL);
        check(key2.nw_proto == ARP_OP_REPLY);
    }
    free(copy);

    (void) packet_verify_csums(frame, len);

    /* Checksum completion and segmentation. */
    copy = copy_of(frame, len);
    (void) offload_complete_csum(copy, len, &vh);
    free(copy);

    copy = copy_of(frame, len);
    {
        size_t out_size = len * 4 + 4096;
        uint8_t *out = malloc(out_size);
        size_t offsets[FUZZ_MAX_SEGS], lens[FUZZ_MAX_SEGS], n = 0;

        check(out != NULL);
        if (!offload_segment_tcp(copy, len, &vh, out, out_size, offsets,
                                 lens, FUZZ_MAX_SEGS, &n)) {
            check(n >= 1 && n <= FUZZ_MAX_SEGS);
            for (size_t i = 0; i < n; i++) {
                check(offsets[i] + lens[i] <= out_size);
                check(!packet_verify_csums(out + offsets[i], lens[i]));
            }
        }
        free(out);
    }
    free(copy);
    return 0;
}
