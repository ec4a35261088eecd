/*
 * bench-parse.c -- micro-benchmark of the packet layer's per-packet costs:
 * flow_key_extract() on typical frames (TCP/IPv4, UDP/IPv6, ARP, VLAN
 * TCP/IPv4, and a round-robin mix), offload_segment_tcp() on a 64 KB
 * TCP/IPv4 TSO frame, and offload_complete_csum() on a 1500-byte frame.
 *
 * Each measurement runs for about BENCH_MSEC milliseconds (a bounded
 * number of batches), so the whole run takes a few seconds.  Output, one
 * line per measurement:
 *
 *   bench-parse: flow_key_extract tcp4 <N> ns/pkt
 *   bench-parse: offload_segment_tcp 64k/1448 <N> ns/seg (<G> Gbps)
 */
#include <arpa/inet.h>
#include <string.h>

#include "datapath/offload.h"
#include "lib/flow-key.h"
#include "lib/packet-edit.h"
#include "lib/util.h"

#define BENCH_MSEC 400
#define BATCH 100000
#define MAX_BATCHES 2000        /* Bound even on a very fast machine. */

static volatile uint32_t sink;

static struct packet_spec
base_spec(size_t payload_len)
{
    struct packet_spec s;

    memset(&s, 0, sizeof s);
    s.eth_src = (struct eth_addr) {{ 0x02, 0, 0, 0, 0, 1 }};
    s.eth_dst = (struct eth_addr) {{ 0x02, 0, 0, 0, 0, 2 }};
    s.ip4_src = htonl(0x0a000001);
    s.ip4_dst = htonl(0x0a000002);
    s.ip6_src[0] = s.ip6_dst[0] = 0xfd;
    s.ip6_src[15] = 1;
    s.ip6_dst[15] = 2;
    s.src_port = 40000;
    s.dst_port = 80;
    s.tcp_flags = 0x10;
    s.payload_len = payload_len;
    return s;
}

/* Runs flow_key_extract() over the 'n' frames round-robin; returns
 * ns per packet. */
static double
bench_extract(uint8_t *const frames[], const size_t lens[], size_t n)
{
    struct flow_key key;
    long long start = time_nsec(), elapsed;
    uint64_t pkts = 0;
    uint32_t acc = 0;

    for (int b = 0; b < MAX_BATCHES; b++) {
        for (size_t i = 0; i < BATCH; i++) {
            size_t k = n == 1 ? 0 : i % n;
            flow_key_extract(frames[k], lens[k], 3, &key, NULL);
            acc += key.tp_dst + key.nw_proto;
        }
        pkts += BATCH;
        elapsed = time_nsec() - start;
        if (elapsed > BENCH_MSEC * 1000000LL) {
            break;
        }
    }
    sink = acc;
    return (double) (time_nsec() - start) / (double) pkts;
}

static void
run_extract(void)
{
    static uint8_t bufs[4][128];
    uint8_t *frames[4] = { bufs[0], bufs[1], bufs[2], bufs[3] };
    size_t lens[4];
    struct packet_spec s = base_spec(10);
    static const char *const names[4] = { "tcp4", "udp6", "arp",
                                          "vlan-tcp4" };

    lens[0] = packet_build_tcp4(bufs[0], sizeof bufs[0], &s);
    lens[1] = packet_build_udp6(bufs[1], sizeof bufs[1], &s);
    lens[2] = packet_build_arp(bufs[2], sizeof bufs[2], &s);
    s.vlan_tci = 100;
    lens[3] = packet_build_tcp4(bufs[3], sizeof bufs[3], &s);

    for (int i = 0; i < 4; i++) {
        printf("bench-parse: flow_key_extract %s %.1f ns/pkt\n", names[i],
               bench_extract(&frames[i], &lens[i], 1));
        fflush(stdout);
    }
    printf("bench-parse: flow_key_extract mix %.1f ns/pkt\n",
           bench_extract(frames, lens, 4));
}

static void
run_segment(void)
{
    size_t payload_len = 65535 - 40;
    size_t len, out_size, offsets[64], lens[64], n = 0;
    struct packet_spec s = base_spec(payload_len);
    struct virtio_net_hdr vh;
    uint8_t *frame = xmalloc(14 + 65535);
    uint8_t *out;
    uint64_t segs = 0, bytes = 0;
    long long start, ns;

    s.csum_mode = PACKET_CSUM_PARTIAL;
    len = packet_build_tcp4(frame, 14 + 65535, &s);
    out_size = 64 * 54 + payload_len;
    out = xmalloc(out_size);

    memset(&vh, 0, sizeof vh);
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    vh.hdr_len = 54;
    vh.gso_size = 1448;
    vh.csum_start = 34;
    vh.csum_offset = 16;

    start = time_nsec();
    for (int i = 0; i < 200000; i++) {
        if (offload_segment_tcp(frame, len, &vh, out, out_size, offsets,
                                lens, 64, &n)) {
            fprintf(stderr, "bench-parse: segmentation failed\n");
            exit(EXIT_FAILURE);
        }
        segs += n;
        bytes += len;
        if ((i & 63) == 63 && time_nsec() - start > BENCH_MSEC * 1000000LL) {
            break;
        }
    }
    ns = time_nsec() - start;
    printf("bench-parse: offload_segment_tcp 64k/1448 %.1f ns/seg "
           "(%.1f Gbps)\n", (double) ns / (double) segs,
           (double) bytes * 8 / (double) ns);

    /* Checksum completion of a 1500-byte frame. */
    s.payload_len = 1500 - 40;
    len = packet_build_tcp4(frame, 14 + 65535, &s);
    start = time_nsec();
    segs = 0;
    for (int i = 0; i < 10000000; i++) {
        offload_complete_csum(frame, len, &vh);
        segs++;
        if ((i & 1023) == 1023
            && time_nsec() - start > BENCH_MSEC * 1000000LL) {
            break;
        }
    }
    ns = time_nsec() - start;
    printf("bench-parse: offload_complete_csum 1514B %.1f ns/pkt\n",
           (double) ns / (double) segs);
    free(out);
    free(frame);
}

int
main(void)
{
    run_extract();
    run_segment();
    return 0;
}
