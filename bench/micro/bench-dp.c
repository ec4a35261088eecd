/*
 * bench-dp.c -- the datapath's cached path, per packet, without root.
 *
 * One datapath with two dummy ports; every packet hits a cached flow
 * (exact-match cache after the first of each flow).  Reports ns/packet and
 * Mpps for:
 *   local    VM port -> VM port (OUTPUT);
 *   tunnel   VM port -> Geneve to a loopback address nobody listens on
 *            (encapsulation + one sendmmsg per batch; the kernel's UDP
 *            send is most of the cost);
 *   routed, routed-tunnel  the same two with the actions of a routed
 *            flow in front (check_mtu, set_eth, dec_ttl), and the ratio
 *            switched/routed packet rate measured in the same run (the
 *            issue's target: routed >= 90% of switched);
 *   sg       local with the security-group actions of both ports in
 *            front (ct in the sender's and the receiver's zone), i.e.
 *            the per-packet cost of security groups on the cached path,
 *            whatever the number of rules (they are evaluated at flow
 *            setup); ratio sg/local in the same run.
 * The dummy ports' own work (a malloc and a copy per frame each way) is
 * included, so these numbers are an upper bound on the datapath's share.
 *
 * Then TCP through the tunnel, both ends: 64 KB TSO frames from a VM port
 * of datapath A, segmented and sent with UDP GSO over loopback to
 * datapath B, received with UDP GRO and delivered to B's VM port, with
 * B's receive coalescing on ("tcp-gro") and off ("tcp-seg").  Reports the
 * payload rate and ns per MSS-sized segment for the two datapaths
 * together (one thread, kernel UDP work included).
 * Not a test: nothing is asserted.
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include "datapath/dp.h"
#include "lib/log.h"
#include "lib/packet-edit.h"

#define N_FLOWS 64
#define ROUNDS 2000
#define PER_ROUND 256

#define TCP_PAYLOAD 64000
#define TCP_MSS 1448
#define TCP_SEGS ((TCP_PAYLOAD + TCP_MSS - 1) / TCP_MSS)
#define TCP_FRAMES 4                /* Per round (fits the socket buffer
                                     * even without root). */
#define TCP_ROUNDS 3000

struct bench {
    uint32_t out_port;
    be32 remote;
    bool routed;
    bool sg;
};

static int
bench_upcall(void *aux, const struct flow_key *key, struct flow_wc *wc,
             struct dp_actions *acts, struct flow_tags *tags)
{
    const struct bench *b = aux;

    FLOW_WC_MASK(wc, in_port);
    FLOW_WC_MASK(wc, eth_dst);
    if (b->sg) {
        dp_actions_ct(acts, (uint16_t) key->in_port, true);
        dp_actions_ct(acts, (uint16_t) b->out_port, true);
    }
    if (b->routed && key->in_port != FLOW_PORT_TUNNEL) {
        static const struct eth_addr rmac = {{ 0xfa, 0x16, 0x3e, 0, 0, 1 }};
        static const struct eth_addr vmac = {{ 0xfa, 0x16, 0x3e, 0, 0, 2 }};

        dp_actions_check_mtu(acts, 1450, htonl(0x0a000101), &rmac);
        dp_actions_set_eth(acts, &rmac, &vmac);
        dp_actions_dec_ttl(acts, 1);
    }
    if (b->remote && key->in_port != FLOW_PORT_TUNNEL) {
        dp_actions_tunnel(acts, 42, b->remote);
    } else {
        dp_actions_output(acts, b->out_port);
    }
    return 0;
}

/* Returns the packet rate in Mpps. */
static double
run(const char *name, be32 remote, bool routed, bool sg)
{
    static uint8_t frames[N_FLOWS][128];
    size_t lens[N_FLOWS];
    struct bench b = { 0, remote, routed, sg };
    struct dp_config cfg;
    uint32_t in, out;
    struct dp *dp;
    long long start, ns;
    uint64_t n = 0;
    uint8_t buf[256];
    int error;

    memset(&cfg, 0, sizeof cfg);
    cfg.tunnel_ip = htonl(0x7f000001);
    cfg.geneve_port = (uint16_t) (30000 + getpid() % 20000);
    cfg.vxlan_port = cfg.geneve_port + 1;
    cfg.upcall = bench_upcall;
    cfg.upcall_aux = &b;
    dp = dp_create(&cfg, &error);
    if (!dp) {
        fprintf(stderr, "bench-dp: dp_create: %s\n", strerror(error));
        return 0;
    }
    dp_port_add_dummy(dp, "in", &in);
    dp_port_add_dummy(dp, "out", &out);
    b.out_port = out;

    for (int i = 0; i < N_FLOWS; i++) {
        lens[i] = packet_build_udp4(frames[i], sizeof frames[i],
                                    &(struct packet_spec) {
            .eth_src = {{ 2, 0, 0, 0, 0, 1 }},
            .eth_dst = {{ 2, 0, 0, 0, 1, (uint8_t) i }},
            .ip4_src = htonl(0x0a000001), .ip4_dst = htonl(0x0a000002),
            .src_port = (uint16_t) (1000 + i), .dst_port = 53,
            .payload_len = 18,
        });
    }

    start = time_nsec();
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < PER_ROUND; i++) {
            dp_dummy_inject(dp, in, NULL, frames[i % N_FLOWS],
                            lens[i % N_FLOWS]);
        }
        for (int k = 0; k < PER_ROUND / DP_BATCH + 1; k++) {
            dp_run(dp);
        }
        while (dp_dummy_drain(dp, out, NULL, buf, sizeof buf)) {
            continue;
        }
        n += PER_ROUND;
    }
    ns = time_nsec() - start;
    printf("%-13s %8.1f ns/packet  %6.2f Mpps  (%llu packets)\n", name,
           (double) ns / (double) n, (double) n * 1e3 / (double) ns,
           (unsigned long long) n);
    dp_destroy(dp);
    return (double) n * 1e3 / (double) ns;
}

static void
run_tcp(const char *name, bool no_gro)
{
    static uint8_t frame[TCP_PAYLOAD + 128], buf[TCP_PAYLOAD + 256];
    struct bench ba = { 0, htonl(0x7f000003), false, false };
    struct bench bb = { 0, 0, false, false };
    struct virtio_net_hdr vh;
    struct dp_stats sb;
    struct dp_config cfg;
    struct dp *a, *b;
    uint32_t in, out;
    uint64_t segs = 0, bytes = 0;
    long long start, ns;
    size_t len, n;
    int error;

    memset(&cfg, 0, sizeof cfg);
    cfg.geneve_port = (uint16_t) (30000 + (getpid() + 7) % 20000);
    cfg.vxlan_port = cfg.geneve_port + 1;
    cfg.upcall = bench_upcall;
    cfg.no_gro = no_gro;
    cfg.tunnel_ip = htonl(0x7f000002);
    cfg.upcall_aux = &ba;
    a = dp_create(&cfg, &error);
    cfg.tunnel_ip = htonl(0x7f000003);
    cfg.upcall_aux = &bb;
    b = dp_create(&cfg, &error);
    if (!a || !b) {
        fprintf(stderr, "bench-dp: dp_create: %s\n", strerror(error));
        dp_destroy(a);
        dp_destroy(b);
        return;
    }
    dp_port_add_dummy(a, "in", &in);
    dp_port_add_dummy(b, "out", &out);
    bb.out_port = out;

    len = packet_build_tcp4(frame, sizeof frame, &(struct packet_spec) {
        .eth_src = {{ 2, 0, 0, 0, 0, 1 }},
        .eth_dst = {{ 2, 0, 0, 0, 0, 3 }},
        .ip4_src = htonl(0x0a000001), .ip4_dst = htonl(0x0a000002),
        .dont_frag = true, .src_port = 40000, .dst_port = 5201,
        .tcp_flags = 0x18, .csum_mode = PACKET_CSUM_PARTIAL,
        .payload_len = TCP_PAYLOAD,
    });
    memset(&vh, 0, sizeof vh);
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    vh.gso_size = TCP_MSS;
    vh.hdr_len = 54;
    vh.csum_start = 34;
    vh.csum_offset = 16;

    start = time_nsec();
    for (int r = 0; r < TCP_ROUNDS; r++) {
        uint64_t want;

        /* Consecutive sequence numbers, so that B can coalesce. */
        for (int i = 0; i < TCP_FRAMES; i++) {
            uint32_t seq = htonl((uint32_t) (r * TCP_FRAMES + i)
                                 * TCP_PAYLOAD);

            memcpy(frame + 38, &seq, 4);
            dp_dummy_inject(a, in, &vh, frame, len);
        }
        dp_get_stats(b, &sb);
        want = sb.tunnel_rx + TCP_FRAMES * TCP_SEGS;
        dp_run(a);
        for (int k = 0; k < 100 && sb.tunnel_rx < want; k++) {
            dp_run(b);
            dp_get_stats(b, &sb);
        }
        while ((n = dp_dummy_drain(b, out, NULL, buf, sizeof buf)) != 0) {
            bytes += n;
        }
    }
    ns = time_nsec() - start;
    dp_get_stats(b, &sb);
    segs = sb.tunnel_rx;
    printf("%-8s %6.2f Gbit/s payload  %6.1f ns/segment  (%llu segments, "
           "%llu coalesced into %llu frames)\n", name,
           (double) segs * TCP_MSS * 8 / (double) ns,
           (double) ns / (double) (segs ? segs : 1),
           (unsigned long long) segs, (unsigned long long) sb.gro_segs,
           (unsigned long long) sb.gro_frames);
    (void) bytes;
    dp_destroy(a);
    dp_destroy(b);
}

/* Runs every benchmark, or only those named on the command line. */
int
main(int argc, char *argv[])
{
    static const char *names[] = { "local", "tunnel", "routed",
                                   "routed-tunnel", "sg", "tcp-seg",
                                   "tcp-gro" };
    double mpps[5] = { 0, 0, 0, 0, 0 };

    log_set_level(LOG_WARN);
    /* The dummy ports malloc and free a buffer per frame: keep 64 KB
     * frames off mmap() and free memory in the process, or page faults
     * dominate the TCP numbers. */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        bool want = argc < 2;

        for (int j = 1; j < argc; j++) {
            want |= !strcmp(argv[j], names[i]);
        }
        if (!want) {
            continue;
        }
        switch (i) {
        case 0: mpps[0] = run(names[i], 0, false, false); break;
        case 1: mpps[1] = run(names[i], htonl(0x7f0000fe), false, false);
            break;
        case 2: mpps[2] = run(names[i], 0, true, false); break;
        case 3: mpps[3] = run(names[i], htonl(0x7f0000fe), true, false);
            break;
        case 4: mpps[4] = run(names[i], 0, false, true); break;
        case 5: run_tcp(names[i], true); break;
        default: run_tcp(names[i], false); break;
        }
    }
    if (mpps[0] && mpps[2]) {
        printf("ratio    routed/local   %.2f\n", mpps[2] / mpps[0]);
    }
    if (mpps[1] && mpps[3]) {
        printf("ratio    routed/tunnel  %.2f\n", mpps[3] / mpps[1]);
    }
    if (mpps[0] && mpps[4]) {
        printf("ratio    sg/local       %.2f\n", mpps[4] / mpps[0]);
    }
    return 0;
}
