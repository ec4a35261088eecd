/*
 * test-dp.c -- the datapath end to end, without root.
 *
 * Two struct dp instances ("host A" on 127.0.0.2, "host B" on 127.0.0.3)
 * live in this process with dummy ports as VM ports and real UDP tunnel
 * sockets on loopback (ports picked per process so parallel runs do not
 * collide).  The upcall is a tiny fake topology keyed on the destination
 * MAC:
 *
 *   host A, from a VM port:          host B, from the tunnel:
 *     ...:02  output to A2             ...:03 / broadcast  output to B1
 *     ...:03  tunnel to B, VNI         other VNI           drop unknown_vni
 *     bcast   output A2 + tunnel B     other MAC           drop unknown_dst
 *     ...:04  tunnel, no remote IP
 *     ...:05  output to a port that does not exist
 *     ARP request: arp_reply(...:aa)
 *     other   drop unknown_dst
 *
 * The router tests (env_init_router()) put a distributed router in front
 * of that, as the simulation would: IPv4 to the router MAC ...:b0 from a
 * VM port is routed by destination,
 *
 *     10.0.0.254 (the router)  ICMP echo request: icmp_reply; other:
 *                              icmp_error(port unreachable)
 *     TTL <= 1                 icmp_error(time exceeded)
 *     10.1.0.2                 check_mtu, set_eth(...:b1 -> A2), dec_ttl,
 *                              output A2
 *     10.2.0.3, 10.7.7.7       check_mtu, set_eth(...:b1 -> B1), dec_ttl,
 *                              tunnel to B
 *     10.1.0.9                 output A2, set_eth(...:b1 -> A1), dec_ttl,
 *                              output A1 (a rewrite between outputs)
 *     10.1.0.10                tunnel to B, output A2 (B drops it)
 *     other                    icmp_error(net unreachable)
 *
 * UDP to port 67 goes to userspace (DHCP); from the tunnel, host B
 * answers 10.7.7.7 with icmp_error(host unreachable) and host A delivers
 * frames for ...:b1 (the router's MAC as seen by B) to A1.
 *
 * The firewall tests replace the topology of host A with ct_decide()'s
 * (unicast A1 <-> A2) or flood_decide()'s (a flood from A1 filtered per
 * receiving port, as the simulation builds it).
 *
 * Every wait is bounded (poll with a timeout, a loop limit).
 */
#include "datapath/dp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "datapath/megaflow.h"
#include "datapath/offload.h"
#include "datapath/tunnel.h"
#include "lib/csum.h"
#include "lib/log.h"
#include "lib/packet-edit.h"
#include "lib/poll-loop.h"
#include "lib/ratelimit.h"
#include "tests/lib/unit.h"

#define VNI 0x123456u
#define PUMP_ROUNDS 200         /* x 10 ms: at most 2 s per wait. */

static const struct eth_addr mac_a1 = {{ 2, 0, 0, 0, 0, 0x01 }};
static const struct eth_addr mac_a2 = {{ 2, 0, 0, 0, 0, 0x02 }};
static const struct eth_addr mac_b1 = {{ 2, 0, 0, 0, 0, 0x03 }};
static const struct eth_addr mac_nip = {{ 2, 0, 0, 0, 0, 0x04 }};
static const struct eth_addr mac_noport = {{ 2, 0, 0, 0, 0, 0x05 }};
static const struct eth_addr mac_unknown = {{ 2, 0, 0, 0, 0, 0x99 }};
static const struct eth_addr mac_router = {{ 2, 0, 0, 0, 0, 0xaa }};
static const struct eth_addr mac_bcast = {{ 0xff, 0xff, 0xff, 0xff, 0xff,
                                            0xff }};
static const struct eth_addr mac_rtr = {{ 2, 0, 0, 0, 0, 0xb0 }};
static const struct eth_addr mac_rtr2 = {{ 2, 0, 0, 0, 0, 0xb1 }};

#define IP_A1       0x0a000001  /* A1's address. */
#define IP_RTR      0x0a0000fe  /* The router's address on A1's subnet. */
#define IP_LOCAL    0x0a010002  /* Routed to A2. */
#define IP_REMOTE   0x0a020003  /* Routed to B1. */
#define IP_UNREACH  0x0a070707  /* Routed to B, which answers host
                                 * unreachable. */
#define IP_COW      0x0a010009  /* Output, rewrite, output. */
#define IP_TUN_OUT  0x0a01000a  /* Tunnel, then output. */
#define IP_NOROUTE  0x0a090909

struct fake_host {
    uint32_t vm_port;           /* A: A2's port; B: B1's port. */
    be32 peer_ip;
    int n_upcalls;
    struct flow_key last_key;
    bool fail;                  /* Upcall returns an error. */
    bool router;                /* Route first (router_decide()). */
    uint32_t mtu;               /* The router's check_mtu(). */
    uint32_t back_port;         /* A: A1's port. */
    bool ct;                    /* Firewall mode (ct_decide()). */
    bool ct_allow;              /* A1 -> A2 may open connections. */
    uint16_t ct_zone, ct_zone_rev;  /* Zones of the two directions. */
    uint32_t ct_mtu;            /* Nonzero: A1 -> A2 starts with
                                 * check_mtu(ct_mtu). */
    uint16_t ct_tunnel_zone;    /* B, nonzero: tunnel -> B1 is
                                 * ct(zone, allow_new),output:B1 and B1 ->
                                 * anything ct(zone),tunnel to A. */
    uint32_t flood_port;        /* A, nonzero: A3's port; flood mode
                                 * (flood_decide()). */
};

struct env {
    struct dp *a, *b;
    struct fake_host ha, hb;
    uint32_t a1, a2, b1;
    be32 ip_a, ip_b;
    uint16_t geneve_port, vxlan_port;
};

static uint64_t
mac_tag(const struct eth_addr *mac)
{
    char s[18];

    eth_addr_to_string(mac, s);
    return flow_tag_make("mac", s);
}

static bool
mac_eq(const struct eth_addr *a, const struct eth_addr *b)
{
    return !memcmp(a, b, sizeof *a);
}

/* The router part of the fake topology (see the top of the file).
 * Returns true if it decided. */
static bool
router_decide(struct fake_host *h, const struct flow_key *key,
              struct flow_wc *wc, struct dp_actions *acts)
{
    be32 rtr_ip = htonl(IP_RTR);
    uint32_t dst;

    FLOW_WC_MASK(wc, in_port);
    FLOW_WC_MASK(wc, eth_dst);
    FLOW_WC_MASK(wc, eth_type);
    if (key->eth_type != htons(ETH_TYPE_IP)) {
        return false;
    }
    FLOW_WC_MASK(wc, nw_proto);
    FLOW_WC_MASK(wc, tp_src);
    FLOW_WC_MASK(wc, tp_dst);
    FLOW_WC_MASK(wc, nw_dst);
    dst = ntohl(key->nw_dst.ip4);
    if (key->nw_proto == IPPROTO_UDP_ && key->tp_dst == htons(67)) {
        dp_actions_userspace(acts, DP_USERSPACE_DHCP);
        return true;
    }
    if (key->in_port == FLOW_PORT_TUNNEL) {
        if (mac_eq(&key->eth_dst, &mac_b1) && dst == IP_UNREACH) {
            dp_actions_icmp_error(acts, 3, 1, rtr_ip, &mac_rtr);
            return true;
        }
        if (mac_eq(&key->eth_dst, &mac_rtr2)) {
            dp_actions_output(acts, h->back_port);
            return true;
        }
        return false;
    }
    if (!mac_eq(&key->eth_dst, &mac_rtr)) {
        return false;
    }

    FLOW_WC_MASK(wc, nw_ttl);
    if (dst == IP_RTR) {
        if (key->nw_proto == IPPROTO_ICMP_
            && key->tp_src == htons(ICMP4_ECHO_REQUEST)) {
            dp_actions_icmp_reply(acts, rtr_ip, &mac_rtr);
        } else {
            dp_actions_icmp_error(acts, 3, 3, rtr_ip, &mac_rtr);
        }
    } else if (key->nw_ttl <= 1) {
        dp_actions_icmp_error(acts, 11, 0, rtr_ip, &mac_rtr);
    } else if (dst == IP_LOCAL) {
        dp_actions_check_mtu(acts, h->mtu, rtr_ip, &mac_rtr);
        dp_actions_set_eth(acts, &mac_rtr2, &mac_a2);
        dp_actions_dec_ttl(acts, 1);
        dp_actions_output(acts, h->vm_port);
    } else if (dst == IP_REMOTE || dst == IP_UNREACH) {
        dp_actions_check_mtu(acts, h->mtu, rtr_ip, &mac_rtr);
        dp_actions_set_eth(acts, &mac_rtr2, &mac_b1);
        dp_actions_dec_ttl(acts, 1);
        dp_actions_tunnel(acts, VNI, h->peer_ip);
    } else if (dst == IP_COW) {
        dp_actions_output(acts, h->vm_port);
        dp_actions_set_eth(acts, &mac_rtr2, &mac_a1);
        dp_actions_dec_ttl(acts, 1);
        dp_actions_output(acts, h->back_port);
    } else if (dst == IP_TUN_OUT) {
        dp_actions_tunnel(acts, VNI, h->peer_ip);
        dp_actions_output(acts, h->vm_port);
    } else {
        dp_actions_icmp_error(acts, 3, 0, rtr_ip, &mac_rtr);
    }
    return true;
}

/* The firewall tests' topology: A1 -> A2 is ct(zone=ct_zone,
 * allow_new=ct_allow),output:A2; A2 -> A1 is ct(zone=ct_zone_rev),
 * output:A1 (replies only). */
static void
ct_decide(struct fake_host *h, const struct flow_key *key,
          struct flow_wc *wc, struct dp_actions *acts)
{
    FLOW_WC_MASK(wc, in_port);
    if (key->in_port == h->back_port) {
        if (h->ct_mtu) {
            dp_actions_check_mtu(acts, h->ct_mtu, htonl(IP_RTR), &mac_rtr);
        }
        dp_actions_ct(acts, h->ct_zone, h->ct_allow);
        dp_actions_output(acts, h->vm_port);
    } else {
        dp_actions_ct(acts, h->ct_zone_rev, false);
        dp_actions_output(acts, h->back_port);
    }
}

/* Zones of the flood tests: A1's and A3's; A2's is ct_zone. */
#define FLOOD_ZONE_A1 1
#define FLOOD_ZONE_A3 3

/* The flood tests' topology.  From A1, a flood as the simulation makes
 * it: A1's egress check, then per receiving port a guarded CT in its zone
 * right before its output -- A3 admits new connections, A2 as ct_allow
 * says -- then the tunnel copy to B.  A2 comes after A3, so that a
 * refusal skipping more than A2's output would cost the tunnel copy.
 * With ct_mtu, check_mtu(ct_mtu) first.  From A2: ct(zone=ct_zone,
 * allow_new),output:A1 (A2 may open connections to A1). */
static void
flood_decide(struct fake_host *h, const struct flow_key *key,
             struct flow_wc *wc, struct dp_actions *acts)
{
    FLOW_WC_MASK(wc, in_port);
    if (key->in_port == h->back_port) {
        if (h->ct_mtu) {
            dp_actions_check_mtu(acts, h->ct_mtu, htonl(IP_RTR), &mac_rtr);
        }
        dp_actions_ct(acts, FLOOD_ZONE_A1, true);
        dp_actions_ct_guard(acts, FLOOD_ZONE_A3, true);
        dp_actions_output(acts, h->flood_port);
        dp_actions_ct_guard(acts, h->ct_zone, h->ct_allow);
        dp_actions_output(acts, h->vm_port);
        dp_actions_tunnel(acts, VNI, h->peer_ip);
    } else {
        dp_actions_ct(acts, h->ct_zone, true);
        dp_actions_output(acts, h->back_port);
    }
}

static int
fake_upcall(void *aux, const struct flow_key *key, struct flow_wc *wc,
            struct dp_actions *acts, struct flow_tags *tags)
{
    struct fake_host *h = aux;

    h->n_upcalls++;
    h->last_key = *key;
    if (h->fail) {
        dp_actions_drop(acts, DROP_SIM_ERROR);
        return EIO;
    }
    if (h->router && router_decide(h, key, wc, acts)) {
        return 0;
    }
    if (h->ct) {
        ct_decide(h, key, wc, acts);
        return 0;
    }
    if (h->flood_port) {
        flood_decide(h, key, wc, acts);
        return 0;
    }
    if (h->ct_tunnel_zone) {
        FLOW_WC_MASK(wc, in_port);
        if (key->in_port == FLOW_PORT_TUNNEL) {
            dp_actions_ct(acts, h->ct_tunnel_zone, true);
            dp_actions_output(acts, h->vm_port);
        } else {
            dp_actions_ct(acts, h->ct_tunnel_zone, false);
            dp_actions_tunnel(acts, VNI, h->peer_ip);
        }
        return 0;
    }
    FLOW_WC_MASK(wc, in_port);
    FLOW_WC_MASK(wc, eth_dst);
    FLOW_WC_MASK(wc, eth_type);
    flow_tags_add(tags, mac_tag(&key->eth_dst));

    if (key->in_port == FLOW_PORT_TUNNEL) {
        FLOW_WC_MASK(wc, tun_vni);
        if (key->tun_vni != VNI) {
            dp_actions_drop(acts, DROP_UNKNOWN_VNI);
        } else if (mac_eq(&key->eth_dst, &mac_b1)
                   || mac_eq(&key->eth_dst, &mac_bcast)) {
            dp_actions_output(acts, h->vm_port);
        } else {
            dp_actions_drop(acts, DROP_UNKNOWN_DST);
        }
        return 0;
    }

    if (key->eth_type == htons(ETH_TYPE_ARP)) {
        FLOW_WC_MASK(wc, nw_proto);
        if (key->nw_proto == ARP_OP_REQUEST) {
            dp_actions_arp_reply(acts, &mac_router);
            return 0;
        }
    }
    if (mac_eq(&key->eth_dst, &mac_a2)) {
        dp_actions_output(acts, h->vm_port);
    } else if (mac_eq(&key->eth_dst, &mac_b1)) {
        dp_actions_tunnel(acts, VNI, h->peer_ip);
    } else if (mac_eq(&key->eth_dst, &mac_bcast)) {
        dp_actions_output(acts, h->vm_port);
        dp_actions_tunnel(acts, VNI, h->peer_ip);
    } else if (mac_eq(&key->eth_dst, &mac_nip)) {
        dp_actions_tunnel(acts, VNI, 0);
    } else if (mac_eq(&key->eth_dst, &mac_noport)) {
        dp_actions_output(acts, 999);
    } else {
        dp_actions_drop(acts, DROP_UNKNOWN_DST);
    }
    return 0;
}

/* What the router tests change in the datapaths' configuration. */
struct env_opts {
    uint32_t icmp_rate, icmp_burst;
    dp_packet_in_fn *packet_in;
    void *packet_in_aux;
};

/* Creates both hosts, with receive coalescing off if 'no_gro' and the
 * settings of 'opts' (may be NULL).  Returns false (after printing why)
 * if the loopback sockets cannot be bound. */
static bool
env_init_opts(struct env *e, long long idle_msec, bool no_gro,
              const struct env_opts *opts)
{
    struct dp_config cfg;
    int error = 0;

    memset(e, 0, sizeof *e);
    e->ip_a = htonl(0x7f000002);
    e->ip_b = htonl(0x7f000003);

    for (int attempt = 0; attempt < 20; attempt++) {
        uint16_t base = (uint16_t) (20000 + (getpid() * 7 + attempt * 131)
                                    % 30000);

        e->geneve_port = base;
        e->vxlan_port = base + 1;
        memset(&cfg, 0, sizeof cfg);
        cfg.encap = DP_ENCAP_GENEVE;
        cfg.geneve_port = e->geneve_port;
        cfg.vxlan_port = e->vxlan_port;
        cfg.flow_idle_msec = idle_msec;
        cfg.upcall = fake_upcall;
        cfg.no_gro = no_gro;
        if (opts) {
            cfg.icmp_rate = opts->icmp_rate;
            cfg.icmp_burst = opts->icmp_burst;
            cfg.packet_in = opts->packet_in;
            cfg.packet_in_aux = opts->packet_in_aux;
        }

        cfg.tunnel_ip = e->ip_a;
        cfg.upcall_aux = &e->ha;
        e->a = dp_create(&cfg, &error);
        if (!e->a) {
            continue;
        }
        cfg.tunnel_ip = e->ip_b;
        cfg.upcall_aux = &e->hb;
        e->b = dp_create(&cfg, &error);
        if (e->b) {
            break;
        }
        dp_destroy(e->a);
        e->a = NULL;
    }
    if (!e->a || !e->b) {
        fprintf(stderr, "  cannot open tunnel sockets: %s\n",
                strerror(error));
        return false;
    }

    CHECK_EQ(dp_port_add_dummy(e->a, "a1", &e->a1), 0);
    CHECK_EQ(dp_port_add_dummy(e->a, "a2", &e->a2), 0);
    CHECK_EQ(dp_port_add_dummy(e->b, "b1", &e->b1), 0);
    CHECK(e->a1 >= FLOW_PORT_FIRST_VIF);
    CHECK(e->a1 != e->a2);
    e->ha.vm_port = e->a2;
    e->ha.peer_ip = e->ip_b;
    e->hb.vm_port = e->b1;
    e->hb.peer_ip = e->ip_a;
    e->ha.back_port = e->a1;
    return true;
}

static bool
env_init__(struct env *e, long long idle_msec, bool no_gro)
{
    return env_init_opts(e, idle_msec, no_gro, NULL);
}

static bool
env_init(struct env *e, long long idle_msec)
{
    return env_init__(e, idle_msec, false);
}

static void
env_destroy(struct env *e)
{
    dp_destroy(e->a);
    dp_destroy(e->b);
}

/* Runs 'INIT' (an env_init*() call) or skips the current test. */
#define ENV_INIT_OR_SKIP(INIT)                                          \
    do {                                                                \
        if (!(INIT)) {                                                  \
            UNIT_SKIP("loopback tunnel sockets unavailable");           \
        }                                                               \
    } while (0)

/* Runs both datapaths once, then sleeps in poll for at most 10 ms. */
static void
pump_once(struct env *e)
{
    dp_run(e->a);
    dp_run(e->b);
    dp_wait(e->a);
    dp_wait(e->b);
    poll_timer_wait(10);
    poll_block();
    dp_run(e->a);
    dp_run(e->b);
}

/* Runs the datapaths until a frame is sent on 'port' of 'dp' and returns
 * its length (0 on timeout). */
static size_t
wait_frame(struct env *e, struct dp *dp, uint32_t port,
           struct virtio_net_hdr *vh, void *buf, size_t size)
{
    for (int i = 0; i < PUMP_ROUNDS; i++) {
        size_t n = dp_dummy_drain(dp, port, vh, buf, size);

        if (n) {
            return n;
        }
        pump_once(e);
    }
    return 0;
}

/* Runs a few rounds so that anything in flight lands. */
static void
settle(struct env *e)
{
    for (int i = 0; i < 5; i++) {
        pump_once(e);
    }
}

/* Injects 'frame' ('len' bytes, no virtio-net header) on A1, then waits
 * like wait_frame() for a frame on 'port' of 'dp' and returns its
 * length. */
static size_t
inject_wait(struct env *e, const void *frame, size_t len, struct dp *dp,
            uint32_t port, void *out, size_t size)
{
    CHECK_EQ(dp_dummy_inject(e->a, e->a1, NULL, frame, len), 0);
    return wait_frame(e, dp, port, NULL, out, size);
}

/* The virtio-net header Linux gives an untagged TCP/IPv4 frame without
 * IP options whose checksum is pending (CHECKSUM_PARTIAL), and which, if
 * 'mss' is nonzero, is a TSO frame to be cut into 'mss'-byte segments. */
static struct virtio_net_hdr
tcp4_offload_vh(uint16_t mss)
{
    struct virtio_net_hdr vh;

    memset(&vh, 0, sizeof vh);
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh.csum_start = ETH_HDR_LEN + 20;
    vh.csum_offset = 16;
    if (mss) {
        vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        vh.gso_size = mss;
        vh.hdr_len = ETH_HDR_LEN + 40;
    }
    return vh;
}

static size_t
udp_frame(uint8_t *buf, size_t size, const struct eth_addr *dst,
          uint32_t src_ip, size_t payload)
{
    return packet_build_udp4(buf, size, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = *dst,
        .ip4_src = htonl(src_ip), .ip4_dst = htonl(0x0a000002),
        .src_port = 1000, .dst_port = 2000, .payload_len = payload,
    });
}

static uint64_t
drops(struct dp *dp, enum drop_reason r)
{
    struct dp_stats s;

    dp_get_stats(dp, &s);
    return s.drops[r];
}

static void
test_local_output(void)
{
    uint8_t frame[256], out[256];
    struct virtio_net_hdr vh;
    struct dp_port_stats ps[4];
    struct dp_stats s;
    struct env e;
    size_t len, n;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    len = udp_frame(frame, sizeof frame, &mac_a2, 0x0a000001, 30);
    CHECK(len > 0);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    memset(&vh, 0xee, sizeof vh);
    n = wait_frame(&e, e.a, e.a2, &vh, out, sizeof out);
    CHECK_EQ(n, len);
    CHECK(!memcmp(out, frame, len));
    CHECK_EQ(vh.flags, 0);
    CHECK_EQ(vh.gso_type, 0);
    CHECK_EQ(e.ha.n_upcalls, 1);
    CHECK_EQ(e.ha.last_key.in_port, e.a1);

    dp_get_stats(e.a, &s);
    CHECK_EQ(s.upcalls, 1);
    CHECK_EQ(s.n_megaflows, 1);
    CHECK_EQ(dp_get_port_stats(e.a, ps, 4), 2);
    CHECK_EQ(ps[0].port_no, e.a1);
    CHECK_EQ(ps[0].rx_packets, 1);
    CHECK_EQ(ps[0].rx_bytes, len);
    CHECK_EQ(ps[1].tx_packets, 1);
    CHECK_EQ(ps[1].tx_bytes, len);
    CHECK_STREQ(ps[1].name, "a2");
    CHECK_EQ(dp_dummy_drain(e.a, e.a1, NULL, out, sizeof out), 0);
    env_destroy(&e);
}

static void
test_cache_hits(void)
{
    uint8_t frame[256], out[256];
    struct tag_set changed;
    struct dp_stats s;
    struct env e;
    size_t len;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    len = udp_frame(frame, sizeof frame, &mac_a2, 0x0a000001, 10);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(inject_wait(&e, frame, len, e.a, e.a2, out, sizeof out), len);
    }
    dp_get_stats(e.a, &s);
    CHECK_EQ(s.upcalls, 1);
    CHECK_EQ(s.emc_hits, 2);
    CHECK_EQ(s.mf_hits, 0);
    CHECK_EQ(e.ha.n_upcalls, 1);

    /* Another source IP: same megaflow (the upcall never read it), new
     * exact-match entry. */
    len = udp_frame(frame, sizeof frame, &mac_a2, 0x0a000077, 10);
    CHECK_EQ(inject_wait(&e, frame, len, e.a, e.a2, out, sizeof out), len);
    dp_get_stats(e.a, &s);
    CHECK_EQ(s.upcalls, 1);
    CHECK_EQ(s.mf_hits, 1);
    CHECK_EQ(s.n_megaflows, 1);

    /* An unrelated tag changes nothing. */
    tag_set_init(&changed);
    tag_set_add(&changed, mac_tag(&mac_b1));
    dp_invalidate(e.a, &changed);
    tag_set_destroy(&changed);
    dp_get_stats(e.a, &s);
    CHECK_EQ(s.n_megaflows, 1);

    /* The flow's tag: the next packet (an EMC hit before) upcalls. */
    tag_set_init(&changed);
    tag_set_add(&changed, mac_tag(&mac_a2));
    dp_invalidate(e.a, &changed);
    tag_set_destroy(&changed);
    dp_get_stats(e.a, &s);
    CHECK_EQ(s.n_megaflows, 0);
    CHECK_EQ(inject_wait(&e, frame, len, e.a, e.a2, out, sizeof out), len);
    dp_get_stats(e.a, &s);
    CHECK_EQ(s.upcalls, 2);
    CHECK_EQ(s.n_megaflows, 1);

    /* dp_flush: the same. */
    dp_flush(e.a);
    CHECK_EQ(inject_wait(&e, frame, len, e.a, e.a2, out, sizeof out), len);
    dp_get_stats(e.a, &s);
    CHECK_EQ(s.upcalls, 3);

    /* A failing upcall executes its result but caches nothing. */
    dp_flush(e.a);
    e.ha.fail = true;
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    settle(&e);
    dp_get_stats(e.a, &s);
    CHECK_EQ(s.upcalls, 5);
    CHECK_EQ(s.n_megaflows, 0);
    CHECK_EQ(s.drops[DROP_SIM_ERROR], 2);
    env_destroy(&e);
}

static void
tunnel_round_trip(enum dp_encap encap)
{
    uint8_t frame[1600], out[1600];
    struct virtio_net_hdr vh;
    struct dp_stats sa, sb;
    struct env e;
    size_t len;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    dp_set_encap(e.a, encap);
    len = udp_frame(frame, sizeof frame, &mac_b1, 0x0a000001, 1000);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    memset(&vh, 0xee, sizeof vh);
    CHECK_EQ(wait_frame(&e, e.b, e.b1, &vh, out, sizeof out), len);
    CHECK(!memcmp(out, frame, len));
    CHECK_EQ(vh.flags, 0);
    CHECK_EQ(vh.gso_type, 0);
    CHECK_EQ(vh.hdr_len, 0);

    CHECK_EQ(e.hb.n_upcalls, 1);
    CHECK_EQ(e.hb.last_key.in_port, FLOW_PORT_TUNNEL);
    CHECK_EQ(e.hb.last_key.tun_vni, VNI);
    CHECK_EQ(e.hb.last_key.tun_src, e.ip_a);
    CHECK(mac_eq(&e.hb.last_key.eth_dst, &mac_b1));

    /* Second packet: both sides hit their caches. */
    CHECK_EQ(inject_wait(&e, frame, len, e.b, e.b1, out, sizeof out), len);
    dp_get_stats(e.a, &sa);
    dp_get_stats(e.b, &sb);
    CHECK_EQ(sa.tunnel_tx, 2);
    CHECK_EQ(sb.tunnel_rx, 2);
    CHECK_EQ(sa.upcalls, 1);
    CHECK_EQ(sb.upcalls, 1);
    CHECK_EQ(sb.emc_hits, 1);
    env_destroy(&e);
}

static void
test_tunnel_geneve(void)
{
    tunnel_round_trip(DP_ENCAP_GENEVE);
}

static void
test_tunnel_vxlan(void)
{
    tunnel_round_trip(DP_ENCAP_VXLAN);
}

/* A burst of small frames to one host leaves as few UDP GSO datagrams,
 * and arrives complete and in order; a frame of another size in the
 * middle starts a new datagram. */
static void
test_small_frame_batching(void)
{
    uint8_t frame[256], out[256];
    size_t lens[21];
    struct dp_stats sa, sb;
    struct env e;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    for (int i = 0; i < 21; i++) {
        /* Frame 10 is larger; the rest are equal. */
        lens[i] = udp_frame(frame, sizeof frame, &mac_b1, 0x0a000001 + i,
                            i == 10 ? 100 : 22);
        CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, lens[i]), 0);
    }
    for (int i = 0; i < 21; i++) {
        size_t n = wait_frame(&e, e.b, e.b1, NULL, out, sizeof out);
        struct flow_key k;

        CHECK_EQ(n, lens[i]);
        flow_key_extract(out, n, 0, &k, NULL);
        CHECK_EQ(ntohl(k.nw_src.ip4), 0x0a000001 + (uint32_t) i);
    }
    dp_get_stats(e.a, &sa);
    dp_get_stats(e.b, &sb);
    CHECK_EQ(sa.tunnel_tx, 21);
    CHECK_EQ(sb.tunnel_rx, 21);
    /* 0-9 share a datagram; 10 is longer, so it starts a second one
     * which 11 (shorter: only a last segment may be) joins and closes;
     * 12-20 share the third. */
    CHECK_EQ(sa.tunnel_tx_datagrams, 3);
    CHECK_EQ(drops(e.b, DROP_TUNNEL_MALFORMED), 0);
    env_destroy(&e);
}

static void
test_broadcast(void)
{
    uint8_t frame[256], out[256];
    struct env e;
    size_t len;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    len = udp_frame(frame, sizeof frame, &mac_bcast, 0x0a000001, 20);
    CHECK_EQ(inject_wait(&e, frame, len, e.a, e.a2, out, sizeof out), len);
    CHECK(!memcmp(out, frame, len));
    CHECK_EQ(wait_frame(&e, e.b, e.b1, NULL, out, sizeof out), len);
    CHECK(!memcmp(out, frame, len));
    settle(&e);
    CHECK_EQ(dp_dummy_drain(e.a, e.a1, NULL, out, sizeof out), 0);
    CHECK_EQ(dp_dummy_drain(e.a, e.a2, NULL, out, sizeof out), 0);
    CHECK_EQ(dp_dummy_drain(e.b, e.b1, NULL, out, sizeof out), 0);
    env_destroy(&e);
}

static void
test_arp_reply(void)
{
    uint8_t frame[128], out[128];
    struct arp_eth_header arp;
    struct eth_header eth;
    struct env e;
    size_t len;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    len = packet_build_arp(frame, sizeof frame, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_bcast,
        .ip4_src = htonl(0x0a000001), .ip4_dst = htonl(0x0a0000fe),
    });
    CHECK(len >= ETH_HDR_LEN + sizeof arp);
    CHECK_EQ(inject_wait(&e, frame, len, e.a, e.a1, out, sizeof out), len);
    memcpy(&eth, out, sizeof eth);
    memcpy(&arp, out + ETH_HDR_LEN, sizeof arp);
    CHECK(mac_eq(&eth.eth_dst, &mac_a1));
    CHECK(mac_eq(&eth.eth_src, &mac_router));
    CHECK_EQ(ntohs(eth.eth_type), ETH_TYPE_ARP);
    CHECK_EQ(ntohs(arp.ar_op), ARP_OP_REPLY);
    CHECK(mac_eq(&arp.ar_sha, &mac_router));
    CHECK_EQ(arp.ar_spa, htonl(0x0a0000fe));
    CHECK(mac_eq(&arp.ar_tha, &mac_a1));
    CHECK_EQ(arp.ar_tpa, htonl(0x0a000001));
    /* The request itself went nowhere else. */
    settle(&e);
    CHECK_EQ(dp_dummy_drain(e.a, e.a2, NULL, out, sizeof out), 0);
    CHECK_EQ(dp_dummy_drain(e.b, e.b1, NULL, out, sizeof out), 0);
    env_destroy(&e);
}

static void
test_drops(void)
{
    uint8_t frame[256], out[256];
    struct env e;
    size_t len;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    len = udp_frame(frame, sizeof frame, &mac_unknown, 0x0a000001, 10);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    len = udp_frame(frame, sizeof frame, &mac_nip, 0x0a000001, 10);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    len = udp_frame(frame, sizeof frame, &mac_noport, 0x0a000001, 10);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, 9), 0);     /* Runt. */
    settle(&e);

    CHECK_EQ(drops(e.a, DROP_UNKNOWN_DST), 2);
    CHECK_EQ(drops(e.a, DROP_NO_TUNNEL_IP), 1);
    CHECK_EQ(drops(e.a, DROP_TX_ERROR), 1);
    CHECK_EQ(drops(e.a, DROP_RUNT), 1);
    CHECK_EQ(drops(e.a, DROP_TUNNEL_MALFORMED), 0);
    CHECK_EQ(dp_dummy_drain(e.a, e.a2, NULL, out, sizeof out), 0);
    env_destroy(&e);
}

static void
test_port_del(void)
{
    uint8_t frame[256], out[256];
    struct dp_port_stats ps[4];
    struct dp_stats s;
    uint32_t again;
    struct env e;
    size_t len;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    len = udp_frame(frame, sizeof frame, &mac_a2, 0x0a000001, 10);
    CHECK_EQ(inject_wait(&e, frame, len, e.a, e.a2, out, sizeof out), len);
    dp_port_del(e.a, e.a2);
    dp_port_del(e.a, 12345);                    /* No such port: no-op. */
    dp_get_stats(e.a, &s);
    CHECK_EQ(s.n_megaflows, 0);
    CHECK_EQ(dp_get_port_stats(e.a, ps, 4), 1);

    /* The flow is rebuilt and now outputs to a port that is gone. */
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    settle(&e);
    CHECK_EQ(drops(e.a, DROP_TX_ERROR), 1);
    CHECK_EQ(e.ha.n_upcalls, 2);

    /* Port numbers are reused. */
    CHECK_EQ(dp_port_add_dummy(e.a, "a2bis", &again), 0);
    CHECK_EQ(again, e.a2);
    CHECK_EQ(dp_port_add(e.a, "wF-nonexistent0", &again), ENODEV);
    env_destroy(&e);
}

static void
test_expiry(void)
{
    uint8_t frame[256], out[256];
    struct dp_stats s;
    struct env e;
    size_t len;
    int i;

    ENV_INIT_OR_SKIP(env_init(&e, 20));
    len = udp_frame(frame, sizeof frame, &mac_a2, 0x0a000001, 10);
    CHECK_EQ(inject_wait(&e, frame, len, e.a, e.a2, out, sizeof out), len);
    dp_get_stats(e.a, &s);
    CHECK_EQ(s.n_megaflows, 1);

    /* dp_wait() arms a timer while flows exist: poll_block() returns. */
    for (i = 0; i < PUMP_ROUNDS; i++) {
        dp_run(e.a);
        dp_get_stats(e.a, &s);
        if (!s.n_megaflows) {
            break;
        }
        dp_wait(e.a);
        poll_timer_wait(2000);
        poll_block();
    }
    CHECK_EQ(s.n_megaflows, 0);

    CHECK_EQ(inject_wait(&e, frame, len, e.a, e.a2, out, sizeof out), len);
    CHECK_EQ(e.ha.n_upcalls, 2);
    env_destroy(&e);
}

static void
send_raw(int fd, be32 ip, uint16_t port, const void *data, size_t len)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = ip;
    sin.sin_port = htons(port);
    CHECK(sendto(fd, data, len, 0, (struct sockaddr *) &sin, sizeof sin)
          == (ssize_t) len);
}

static void
test_malformed_tunnel(void)
{
    uint8_t pkt[2048], out[2048];
    uint8_t frame[256];
    struct dp_stats s;
    struct env e;
    size_t flen;
    int fd;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(fd >= 0);
    flen = udp_frame(frame, sizeof frame, &mac_b1, 0x0a000001, 10);

    /* Truncated Geneve. */
    memset(pkt, 0, sizeof pkt);
    send_raw(fd, e.ip_b, e.geneve_port, pkt, 5);
    /* Empty datagram. */
    send_raw(fd, e.ip_b, e.geneve_port, pkt, 0);
    /* Bad version. */
    pkt[0] = 0x40;
    pkt[2] = 0x65;
    pkt[3] = 0x58;
    memcpy(pkt + 8, frame, flen);
    send_raw(fd, e.ip_b, e.geneve_port, pkt, 8 + flen);
    /* Options longer than the packet (63 * 4 bytes). */
    pkt[0] = 0x3f;
    send_raw(fd, e.ip_b, e.geneve_port, pkt, 8 + 20);
    /* Not Ethernet inside. */
    pkt[0] = 0;
    pkt[2] = 0x08;
    pkt[3] = 0x00;
    send_raw(fd, e.ip_b, e.geneve_port, pkt, 8 + flen);
    /* Control packet (O bit). */
    pkt[1] = 0x80;
    pkt[2] = 0x65;
    pkt[3] = 0x58;
    send_raw(fd, e.ip_b, e.geneve_port, pkt, 8 + flen);
    /* VXLAN without the I flag, and truncated VXLAN. */
    memset(pkt, 0, 8);
    pkt[0] = 0x80;
    send_raw(fd, e.ip_b, e.vxlan_port, pkt, 8 + flen);
    send_raw(fd, e.ip_b, e.vxlan_port, pkt, 7);
    /* Valid Geneve with a 4-byte option, then a runt inner frame. */
    memset(pkt, 0, 12);
    pkt[0] = 0x01;
    pkt[2] = 0x65;
    pkt[3] = 0x58;
    pkt[4] = VNI >> 16;
    pkt[5] = (VNI >> 8) & 0xff;
    pkt[6] = VNI & 0xff;
    memcpy(pkt + 12, frame, flen);
    send_raw(fd, e.ip_b, e.geneve_port, pkt, 12 + flen);
    CHECK_EQ(wait_frame(&e, e.b, e.b1, NULL, out, sizeof out), flen);
    CHECK(!memcmp(out, frame, flen));
    send_raw(fd, e.ip_b, e.geneve_port, pkt, 12 + 6);
    /* Valid VXLAN with reserved bits set (ignored), unknown VNI. */
    memset(pkt, 0xff, 8);
    memcpy(pkt + 8, frame, flen);
    send_raw(fd, e.ip_b, e.vxlan_port, pkt, 8 + flen);
    close(fd);

    for (int i = 0; i < PUMP_ROUNDS; i++) {
        dp_get_stats(e.b, &s);
        if (s.drops[DROP_TUNNEL_MALFORMED] >= 8
            && s.drops[DROP_RUNT] >= 1 && s.drops[DROP_UNKNOWN_VNI] >= 1) {
            break;
        }
        pump_once(&e);
    }
    settle(&e);
    dp_get_stats(e.b, &s);
    CHECK_EQ(s.drops[DROP_TUNNEL_MALFORMED], 8);
    CHECK_EQ(s.drops[DROP_RUNT], 1);
    CHECK_EQ(s.drops[DROP_UNKNOWN_VNI], 1);
    CHECK_EQ(s.tunnel_rx, 3);
    CHECK_EQ(dp_dummy_drain(e.b, e.b1, NULL, out, sizeof out), 0);
    env_destroy(&e);
}

/* Verifies the IPv4 TCP segment in 'seg' and appends its payload to
 * 'payload' at '*ofs'. */
static void
check_segment(const uint8_t *seg, size_t len, uint32_t seq0,
              uint8_t *payload, size_t *ofs, size_t cap)
{
    struct ip_header ip;
    struct tcp_header tcp;
    size_t l4 = ETH_HDR_LEN + 20;
    size_t data;

    CHECK(len >= l4 + 20);
    if (len < l4 + 20) {
        return;
    }
    CHECK_EQ(packet_verify_csums(seg, len), 0);
    memcpy(&ip, seg + ETH_HDR_LEN, sizeof ip);
    memcpy(&tcp, seg + l4, sizeof tcp);
    CHECK_EQ(ntohs(ip.ip_tot_len), len - ETH_HDR_LEN);
    CHECK_EQ(ntohl(tcp.tcp_seq) - seq0, *ofs);
    data = len - l4 - 20;
    CHECK(*ofs + data <= cap);
    if (*ofs + data <= cap) {
        memcpy(payload + *ofs, seg + l4 + 20, data);
        *ofs += data;
    }
}

static void
test_tso_to_tunnel(void)
{
    enum { PAYLOAD = 5000, MSS = 1400 };
    static uint8_t frame[PAYLOAD + 128], out[2048];
    uint8_t payload[PAYLOAD], got[PAYLOAD];
    struct virtio_net_hdr vh, ovh;
    struct dp_stats s;
    size_t len, ofs = 0;
    int n_segs = 0;
    struct env e;

    /* Receive coalescing off: B shows the segments. */
    ENV_INIT_OR_SKIP(env_init__(&e, 0, true));
    for (size_t i = 0; i < PAYLOAD; i++) {
        payload[i] = (uint8_t) (i * 7 + 3);
    }
    len = packet_build_tcp4(frame, sizeof frame, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_b1,
        .ip4_src = htonl(0x0a000001), .ip4_dst = htonl(0x0a000003),
        .src_port = 40000, .dst_port = 5201, .tcp_seq = 1000000,
        .tcp_flags = 0x18, .csum_mode = PACKET_CSUM_PARTIAL,
        .payload = payload, .payload_len = PAYLOAD,
    });
    CHECK_EQ(len, ETH_HDR_LEN + 20 + 20 + PAYLOAD);

    vh = tcp4_offload_vh(MSS);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);

    while (ofs < PAYLOAD && n_segs < 10) {
        size_t n = wait_frame(&e, e.b, e.b1, &ovh, out, sizeof out);

        CHECK(n > 0);
        if (!n) {
            break;
        }
        CHECK(n <= ETH_HDR_LEN + 40 + MSS);
        CHECK_EQ(ovh.gso_type, 0);
        CHECK_EQ(ovh.flags, 0);
        check_segment(out, n, 1000000, got, &ofs, sizeof got);
        n_segs++;
    }
    CHECK_EQ(n_segs, (PAYLOAD + MSS - 1) / MSS);
    CHECK_EQ(ofs, PAYLOAD);
    CHECK(!memcmp(got, payload, PAYLOAD));
    dp_get_stats(e.b, &s);
    CHECK_EQ(s.tunnel_rx, (PAYLOAD + MSS - 1) / MSS);
    dp_get_stats(e.a, &s);
    CHECK_EQ(s.tunnel_tx, (PAYLOAD + MSS - 1) / MSS);

    /* The same frame to a local port keeps its virtio header: the kernel
     * segments it there. */
    frame[5] = mac_a2.ea[5];
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);
    CHECK_EQ(wait_frame(&e, e.a, e.a2, &ovh, out, sizeof out), len);
    CHECK(!memcmp(&ovh, &vh, sizeof vh));
    env_destroy(&e);
}

static void
test_partial_csum_to_tunnel(void)
{
    uint8_t frame[512], out[512];
    struct virtio_net_hdr vh, ovh;
    struct env e;
    size_t len;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    len = packet_build_tcp4(frame, sizeof frame, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_bcast,
        .ip4_src = htonl(0x0a000001), .ip4_dst = htonl(0x0a000003),
        .src_port = 40000, .dst_port = 22, .tcp_flags = 0x10,
        .csum_mode = PACKET_CSUM_PARTIAL, .payload_len = 300,
    });
    CHECK(packet_verify_csums(frame, len) != 0);
    vh = tcp4_offload_vh(0);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);

    /* Broadcast: the local output was queued before the tunnel output
     * completed the checksum, so the tunnel's completion works on a copy
     * and the local copy leaves as it came: partial checksum and the
     * NEEDS_CSUM that goes with it, which the receiver completes. */
    CHECK_EQ(wait_frame(&e, e.b, e.b1, &ovh, out, sizeof out), len);
    CHECK_EQ(packet_verify_csums(out, len), 0);
    CHECK_EQ(ovh.flags, 0);
    CHECK_EQ(wait_frame(&e, e.a, e.a2, &ovh, out, sizeof out), len);
    CHECK(!memcmp(out, frame, len));
    CHECK_EQ(ovh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    CHECK_EQ(ovh.csum_start, vh.csum_start);
    CHECK_EQ(ovh.csum_offset, vh.csum_offset);
    CHECK_EQ(offload_complete_csum(out, len, &ovh), 0);
    CHECK_EQ(packet_verify_csums(out, len), 0);
    env_destroy(&e);
}

/* More TSO frames than one flush can hold: the scratch arena and the
 * tunnel queue fill up mid-batch and are flushed early, on the sender and
 * (coalescing) on the receiver.  Only the sender's counters are exact (the
 * receiver's socket buffer may overflow when not root); whatever arrives
 * must be correct. */
static void
test_tso_burst(void)
{
    enum { N_FRAMES = 40, PAYLOAD = 60000, MSS = 1448 };
    enum { SEGS = (PAYLOAD + MSS - 1) / MSS };
    static uint8_t frame[PAYLOAD + 128], out[PAYLOAD + 128];
    static uint8_t segs[PAYLOAD + SEGS * 128];
    size_t offsets[SEGS], lens[SEGS], n_segs;
    struct virtio_net_hdr vh, ovh;
    struct dp_stats s;
    size_t len, n;
    int n_rx = 0;
    struct env e;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    len = packet_build_tcp4(frame, sizeof frame, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_b1,
        .ip4_src = htonl(0x0a000001), .ip4_dst = htonl(0x0a000003),
        .src_port = 40001, .dst_port = 5201, .tcp_flags = 0x10,
        .csum_mode = PACKET_CSUM_PARTIAL, .payload_len = PAYLOAD,
    });
    CHECK(len > PAYLOAD);
    vh = tcp4_offload_vh(MSS);
    for (int i = 0; i < N_FRAMES; i++) {
        CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);
    }
    for (int i = 0; i < PUMP_ROUNDS; i++) {
        dp_get_stats(e.a, &s);
        if (s.tunnel_tx + s.drops[DROP_TX_ERROR] >= N_FRAMES * SEGS) {
            break;
        }
        pump_once(&e);
    }
    settle(&e);
    dp_get_stats(e.a, &s);
    CHECK_EQ(s.tunnel_tx, N_FRAMES * SEGS);
    CHECK_EQ(s.drops[DROP_TX_ERROR], 0);
    CHECK_EQ(s.upcalls, 1);
    while ((n = dp_dummy_drain(e.b, e.b1, &ovh, out, sizeof out)) != 0) {
        CHECK(n <= sizeof out);
        n = MIN(n, sizeof out);
        if (ovh.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
            CHECK(n <= ETH_HDR_LEN + 40 + MSS);
            CHECK_EQ(packet_verify_csums(out, n), 0);
            n_rx++;
            continue;
        }
        CHECK_EQ(ovh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
        CHECK_EQ(ovh.gso_size, MSS);
        CHECK_EQ(offload_segment_tcp(out, n, &ovh, segs, sizeof segs,
                                     offsets, lens, SEGS, &n_segs), 0);
        for (size_t i = 0; i < n_segs; i++) {
            CHECK_EQ(packet_verify_csums(segs + offsets[i], lens[i]), 0);
        }
        n_rx += (int) n_segs;
    }
    dp_get_stats(e.b, &s);
    CHECK(n_rx > 0);
    CHECK(n_rx <= N_FRAMES * SEGS);
    CHECK_EQ((uint64_t) n_rx, s.tunnel_rx);
    CHECK(s.gro_frames > 0);
    env_destroy(&e);
}

/* Receive coalescing (GRO): segments of one TCP flow that arrive from the
 * tunnel in one batch reach the VM port as one GSO frame. */

struct flow_sum {
    uint64_t n_packets, n_bytes;
};

static void
sum_flows(const struct megaflow *flow, void *aux)
{
    struct flow_sum *s = aux;

    s->n_packets += flow->n_packets;
    s->n_bytes += flow->n_bytes;
}

static void
test_gro_tso_round_trip(void)
{
    enum { PAYLOAD = 40000, MSS = 1448, SEGS = (PAYLOAD + MSS - 1) / MSS };
    static uint8_t frame[PAYLOAD + 128], out[PAYLOAD + 256];
    static uint8_t segs[PAYLOAD + SEGS * 128];
    uint8_t payload[PAYLOAD], got[PAYLOAD];
    size_t offsets[SEGS + 1], lens[SEGS + 1];
    struct virtio_net_hdr vh, ovh;
    struct dp_port_stats ps[2];
    struct flow_sum fs;
    struct dp_stats s;
    struct ip_header ip;
    size_t len, n, n_segs = 0, ofs = 0;
    struct env e;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    for (size_t i = 0; i < PAYLOAD; i++) {
        payload[i] = (uint8_t) (i * 13 + 5);
    }
    len = packet_build_tcp4(frame, sizeof frame, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_b1,
        .ip4_src = htonl(0x0a000001), .ip4_dst = htonl(0x0a000003),
        .ip_id = 4321, .dont_frag = true,
        .src_port = 40000, .dst_port = 5201, .tcp_seq = 0xfffff000,
        .tcp_ack = 777, .tcp_flags = 0x18, .csum_mode = PACKET_CSUM_PARTIAL,
        .payload = payload, .payload_len = PAYLOAD,
    });
    CHECK_EQ(len, ETH_HDR_LEN + 40 + PAYLOAD);
    vh = tcp4_offload_vh(MSS);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);

    /* One frame, byte for byte the VM's TSO frame (same IP id, the
     * pseudo-header sum in the checksum field, PSH from the last
     * segment), with the virtio header the sender had. */
    memset(&ovh, 0xee, sizeof ovh);
    n = wait_frame(&e, e.b, e.b1, &ovh, out, sizeof out);
    CHECK_EQ(n, len);
    CHECK(!memcmp(out, frame, len));
    CHECK_EQ(ovh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    CHECK_EQ(ovh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    CHECK_EQ(ovh.gso_size, MSS);
    CHECK_EQ(ovh.hdr_len, ETH_HDR_LEN + 40);
    CHECK_EQ(ovh.csum_start, ETH_HDR_LEN + 20);
    CHECK_EQ(ovh.csum_offset, 16);
    memcpy(&ip, out + ETH_HDR_LEN, sizeof ip);
    CHECK_EQ(ntohs(ip.ip_tot_len), len - ETH_HDR_LEN);
    CHECK(csum_ipv4_header_ok(&ip, sizeof ip));
    settle(&e);
    CHECK_EQ(dp_dummy_drain(e.b, e.b1, NULL, out, sizeof out), 0);

    /* What the kernel would do with it: segment again. */
    CHECK_EQ(offload_segment_tcp(out, n, &ovh, segs, sizeof segs, offsets,
                                 lens, SEGS + 1, &n_segs), 0);
    CHECK_EQ(n_segs, SEGS);
    for (size_t i = 0; i < n_segs && i <= SEGS; i++) {
        check_segment(segs + offsets[i], lens[i], 0xfffff000, got, &ofs,
                      sizeof got);
    }
    CHECK_EQ(ofs, PAYLOAD);
    CHECK(!memcmp(got, payload, PAYLOAD));

    /* Statistics count the tunnel packets. */
    dp_get_stats(e.b, &s);
    CHECK_EQ(s.tunnel_rx, SEGS);
    CHECK_EQ(s.gro_frames, 1);
    CHECK_EQ(s.gro_segs, SEGS);
    CHECK_EQ(dp_get_port_stats(e.b, ps, 2), 1);
    CHECK_EQ(ps[0].tx_packets, SEGS);
    CHECK_EQ(ps[0].tx_bytes, len + (SEGS - 1) * (ETH_HDR_LEN + 40));
    memset(&fs, 0, sizeof fs);
    dp_for_each_flow(e.b, sum_flows, &fs);
    CHECK_EQ(fs.n_packets, SEGS);
    CHECK_EQ(fs.n_bytes, ps[0].tx_bytes);
    env_destroy(&e);
}

/* A frame the test sends straight to host B's Geneve socket. */
struct gro_in {
    int v6;                     /* 1: IPv6. */
    uint16_t sport;             /* TCP source port; 0: a UDP frame. */
    uint32_t seq;               /* Relative to GRO_SEQ0. */
    uint8_t flags;              /* 0 means ACK. */
    uint16_t payload;           /* 0 means GRO_MSS. */
    uint16_t ip_id;
    bool no_df;
    uint16_t window;            /* 0 means the default. */
    bool bad_csum;
};

#define GRO_SEQ0 0x10000000u
#define GRO_MSS 1000
#define GRO_MAX_OUT 16

static uint8_t gro_pattern[8 * GRO_MSS];

static size_t
gro_build(const struct gro_in *in, uint8_t *buf, size_t size)
{
    struct packet_spec spec = {
        .eth_src = mac_a1, .eth_dst = mac_b1,
        .ip4_src = htonl(0x0a000001), .ip4_dst = htonl(0x0a000003),
        .ip6_src = { 0xfd, [15] = 1 }, .ip6_dst = { 0xfd, [15] = 3 },
        .ip_id = in->ip_id, .dont_frag = !in->no_df,
        .src_port = in->sport ? in->sport : 53, .dst_port = 5201,
        .tcp_seq = GRO_SEQ0 + in->seq, .tcp_ack = 99,
        .tcp_flags = in->flags ? in->flags : 0x10,
        .tcp_window = in->window,
        .payload = gro_pattern + in->seq,
        .payload_len = in->payload ? in->payload : GRO_MSS,
    };
    size_t len;

    ASSERT(in->seq + spec.payload_len <= sizeof gro_pattern);
    if (!in->sport) {
        len = packet_build_udp4(buf, size, &spec);
    } else if (in->v6) {
        len = packet_build_tcp6(buf, size, &spec);
    } else {
        len = packet_build_tcp4(buf, size, &spec);
    }
    if (in->bad_csum) {
        buf[len - 1] ^= 0x5a;
    }
    return len;
}

struct gro_out {
    struct virtio_net_hdr vh;
    size_t len;
    uint8_t frame[8 * GRO_MSS + 128];
};

/* Sends 'n' frames as separate Geneve packets to host B (they queue up in
 * its socket, so one receive batch takes them all), runs B, and collects
 * what B1 receives into 'out'.  Returns the number of frames received. */
static size_t
gro_run(struct env *e, const struct gro_in *in, size_t n,
        struct gro_out *out)
{
    uint8_t pkt[TUNNEL_HDR_LEN + sizeof out->frame];
    size_t n_out = 0, len;
    struct dp_stats s;
    int fd;

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(fd >= 0);
    tunnel_build_header(DP_ENCAP_GENEVE, VNI, pkt);
    for (size_t i = 0; i < n; i++) {
        len = gro_build(&in[i], pkt + TUNNEL_HDR_LEN,
                        sizeof pkt - TUNNEL_HDR_LEN);
        CHECK(len > 0);
        send_raw(fd, e->ip_b, e->geneve_port, pkt, TUNNEL_HDR_LEN + len);
    }
    close(fd);

    dp_get_stats(e->b, &s);
    CHECK_EQ(s.tunnel_rx, 0);
    dp_run(e->b);
    dp_get_stats(e->b, &s);
    CHECK_EQ(s.tunnel_rx, n);           /* All in one go. */
    while (n_out < GRO_MAX_OUT
           && (len = dp_dummy_drain(e->b, e->b1, &out[n_out].vh,
                                    out[n_out].frame,
                                    sizeof out[n_out].frame)) != 0) {
        out[n_out++].len = len;
    }
    return n_out;
}

/* Checks that 'out' is 'in' delivered unchanged, without offload
 * metadata. */
static void
check_gro_single(const struct gro_out *out, const struct gro_in *in)
{
    uint8_t frame[sizeof out->frame];
    size_t len = gro_build(in, frame, sizeof frame);

    CHECK_EQ(out->len, len);
    CHECK(!memcmp(out->frame, frame, MIN(len, out->len)));
    CHECK_EQ(out->vh.flags, 0);
    CHECK_EQ(out->vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
}

/* Checks that 'out' is the IPv4 segments in[0..n-1] coalesced (PSH set if
 * any segment had it), and that segmenting it again yields valid segments
 * with their payload. */
static void
check_gro_merged(const struct gro_out *out, const struct gro_in *in,
                 size_t n)
{
    static uint8_t segs[16 * 2048];
    size_t offsets[16], lens[16], n_segs = 0;
    size_t payload = 0, ofs = 0;
    uint8_t got[sizeof gro_pattern];
    struct tcp_header tcp;
    struct ip_header ip;
    uint8_t flags = TCP_ACK;
    be16 pseudo;

    for (size_t i = 0; i < n; i++) {
        payload += in[i].payload ? in[i].payload : GRO_MSS;
        flags |= in[i].flags & TCP_PSH;
    }
    CHECK_EQ(out->len, ETH_HDR_LEN + 40 + payload);
    CHECK_EQ(out->vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    CHECK_EQ(out->vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    CHECK_EQ(out->vh.gso_size, in[0].payload ? in[0].payload : GRO_MSS);
    CHECK_EQ(out->vh.csum_start, ETH_HDR_LEN + 20);
    CHECK_EQ(out->vh.csum_offset, 16);
    memcpy(&ip, out->frame + ETH_HDR_LEN, sizeof ip);
    memcpy(&tcp, out->frame + ETH_HDR_LEN + 20, sizeof tcp);
    CHECK_EQ(ntohs(ip.ip_tot_len), out->len - ETH_HDR_LEN);
    CHECK(csum_ipv4_header_ok(&ip, sizeof ip));
    CHECK_EQ(ntohs(ip.ip_id), in[0].ip_id);
    CHECK_EQ(ntohl(tcp.tcp_seq), GRO_SEQ0 + in[0].seq);
    CHECK_EQ(tcp.tcp_flags, flags);
    pseudo = (be16) ~csum_fold(csum_pseudo_ipv4(ip.ip_src, ip.ip_dst,
                                                IPPROTO_TCP_,
                                                (uint16_t) (out->len - 34)));
    CHECK_EQ(tcp.tcp_csum, pseudo);
    CHECK_EQ(offload_segment_tcp(out->frame, out->len, &out->vh, segs,
                                 sizeof segs, offsets, lens, 16, &n_segs),
             0);
    CHECK_EQ(n_segs, n);
    for (size_t i = 0; i < n_segs && i < n; i++) {
        check_segment(segs + offsets[i], lens[i], GRO_SEQ0 + in[0].seq, got,
                      &ofs, sizeof got);
    }
    CHECK_EQ(ofs, payload);
    CHECK(!memcmp(got, gro_pattern + in[0].seq, MIN(ofs, payload)));
}

static bool
gro_env_init(struct env *e, bool no_gro)
{
    for (size_t i = 0; i < sizeof gro_pattern; i++) {
        gro_pattern[i] = (uint8_t) (i * 31 + i / 256);
    }
    return env_init__(e, 0, no_gro);
}

/* One coalescing scenario: 'in' reaches host B in one receive batch, and
 * B1 gets out[0..n_out-1] in this order, out[j] being the inputs
 * in[idx[0..n-1]] coalesced into one frame (n > 1) or delivered as is
 * (n == 1).  n_out 0 means every input is delivered as is, in order. */
struct gro_case {
    const char *what;
    struct gro_in in[6];
    size_t n_in;
    struct {
        uint8_t idx[3];
        uint8_t n;
    } out[4];
    size_t n_out;
};

/* Runs each case on fresh hosts (B with coalescing off if 'no_gro') and
 * checks every frame B1 gets, and that the statistics count every input
 * as sent and the coalesced frames and their segments. */
static void
run_gro_cases(const struct gro_case *cases, size_t n_cases, bool no_gro)
{
    static struct gro_out out[GRO_MAX_OUT];

    for (size_t c = 0; c < n_cases; c++) {
        const struct gro_case *gc = &cases[c];
        size_t n_out = gc->n_out ? gc->n_out : gc->n_in;
        uint64_t n_merged = 0, merged_segs = 0;
        int failed = unit_cur_failed;
        struct dp_port_stats ps[2];
        struct dp_stats s;
        struct env e;
        size_t n;

        ENV_INIT_OR_SKIP(gro_env_init(&e, no_gro));
        n = gro_run(&e, gc->in, gc->n_in, out);
        CHECK_EQ(n, n_out);
        for (size_t j = 0; j < n && j < n_out; j++) {
            struct gro_in segs[ARRAY_SIZE(gc->out[0].idx)];
            size_t n_segs = gc->n_out ? gc->out[j].n : 1;

            for (size_t k = 0; k < n_segs; k++) {
                segs[k] = gc->in[gc->n_out ? gc->out[j].idx[k] : j];
            }
            if (n_segs == 1) {
                check_gro_single(&out[j], &segs[0]);
            } else {
                check_gro_merged(&out[j], segs, n_segs);
                n_merged++;
                merged_segs += n_segs;
            }
        }
        dp_get_stats(e.b, &s);
        CHECK_EQ(s.gro_frames, n_merged);
        CHECK_EQ(s.gro_segs, merged_segs);
        CHECK_EQ(dp_get_port_stats(e.b, ps, 2), 1);
        CHECK_EQ(ps[0].tx_packets, gc->n_in);
        if (unit_cur_failed && !failed) {
            fprintf(stderr, "  case \"%s\"\n", gc->what);
        }
        env_destroy(&e);
    }
}

static void
test_gro_mixed_flows(void)
{
    static const struct gro_case cases[] = {
        { "two flows interleaved, each in order: two frames", {
            { .sport = 1, .seq = 0, .ip_id = 10 },
            { .sport = 2, .seq = 0 },
            { .sport = 1, .seq = 1000, .ip_id = 11 },
            { .sport = 2, .seq = 1000 },
            { .sport = 1, .seq = 2000, .ip_id = 12 } }, 5,
          { { { 0, 2, 4 }, 3 }, { { 1, 3 }, 2 } }, 2 },
        /* A lone PSH segment of another flow goes out at once without
         * breaking up the first flow; a UDP frame to the same port does
         * (conservatively) close it first. */
        { "lone PSH segment, UDP frame", {
            { .sport = 1, .seq = 0 },
            { .sport = 2, .seq = 0, .flags = 0x18 },
            { .sport = 1, .seq = 1000 },
            { .sport = 0, .seq = 0 },
            { .sport = 1, .seq = 2000 },
            { .sport = 1, .seq = 3000 } }, 6,
          { { { 1 }, 1 }, { { 0, 2 }, 2 }, { { 3 }, 1 }, { { 4, 5 }, 2 } },
          4 },
    };

    run_gro_cases(cases, ARRAY_SIZE(cases), false);
}

static void
test_gro_not_merged(void)
{
    static const struct gro_case cases[] = {
        { "out of order", {
            { .sport = 1, .seq = 0 }, { .sport = 1, .seq = 2000 },
            { .sport = 1, .seq = 1000 } }, 3, { { { 0 }, 0 } }, 0 },
        { "gap", {
            { .sport = 1, .seq = 0 }, { .sport = 1, .seq = 1001 } }, 2,
          { { { 0 }, 0 } }, 0 },
        { "FIN", {
            { .sport = 1, .seq = 0 },
            { .sport = 1, .seq = 1000, .flags = 0x11 } }, 2,
          { { { 0 }, 0 } }, 0 },
        { "SYN", {
            { .sport = 1, .seq = 0, .flags = 0x02 },
            { .sport = 1, .seq = 1000 } }, 2, { { { 0 }, 0 } }, 0 },
        { "RST", {
            { .sport = 1, .seq = 0 },
            { .sport = 1, .seq = 1000, .flags = 0x14 } }, 2,
          { { { 0 }, 0 } }, 0 },
        { "URG", {
            { .sport = 1, .seq = 0 },
            { .sport = 1, .seq = 1000, .flags = 0x30 } }, 2,
          { { { 0 }, 0 } }, 0 },
        { "CWR", {
            { .sport = 1, .seq = 0 },
            { .sport = 1, .seq = 1000, .flags = 0x90 } }, 2,
          { { { 0 }, 0 } }, 0 },
        { "UDP", {
            { .seq = 0 }, { .seq = 1000 }, { .seq = 2000 } }, 3,
          { { { 0 }, 0 } }, 0 },
        { "bad checksum", {
            { .sport = 1, .seq = 0 },
            { .sport = 1, .seq = 1000, .bad_csum = true },
            { .sport = 1, .seq = 2000 } }, 3, { { { 0 }, 0 } }, 0 },
        { "window changed", {
            { .sport = 1, .seq = 0 },
            { .sport = 1, .seq = 1000, .window = 1234 } }, 2,
          { { { 0 }, 0 } }, 0 },
        { "longer than the first", {
            { .sport = 1, .seq = 0, .payload = 500 },
            { .sport = 1, .seq = 500 } }, 2, { { { 0 }, 0 } }, 0 },
        { "DF differs", {
            { .sport = 1, .seq = 0, .ip_id = 1 },
            { .sport = 1, .seq = 1000, .ip_id = 2, .no_df = true } }, 2,
          { { { 0 }, 0 } }, 0 },
        { "no DF, id not incrementing", {
            { .sport = 1, .seq = 0, .ip_id = 7, .no_df = true },
            { .sport = 1, .seq = 1000, .ip_id = 7, .no_df = true } }, 2,
          { { { 0 }, 0 } }, 0 },
    };

    run_gro_cases(cases, ARRAY_SIZE(cases), false);
}

static void
test_gro_boundaries(void)
{
    static const struct gro_case cases[] = {
        /* PSH and a short segment end a frame; what follows starts
         * anew. */
        { "PSH", {
            { .sport = 1, .seq = 0 }, { .sport = 1, .seq = 1000 },
            { .sport = 1, .seq = 2000, .flags = 0x18 },
            { .sport = 1, .seq = 3000 }, { .sport = 1, .seq = 4000 } }, 5,
          { { { 0, 1, 2 }, 3 }, { { 3, 4 }, 2 } }, 2 },
        { "short segment", {
            { .sport = 1, .seq = 0 },
            { .sport = 1, .seq = 1000, .payload = 300 },
            { .sport = 1, .seq = 1300 } }, 3,
          { { { 0, 1 }, 2 }, { { 2 }, 1 } }, 2 },
        /* Without DF, incrementing ids coalesce. */
        { "no DF, incrementing ids", {
            { .sport = 1, .seq = 0, .ip_id = 0xffff, .no_df = true },
            { .sport = 1, .seq = 1000, .ip_id = 0, .no_df = true } }, 2,
          { { { 0, 1 }, 2 } }, 1 },
        /* A FIN ends the flow's frame and is delivered after it. */
        { "FIN", {
            { .sport = 1, .seq = 0 }, { .sport = 1, .seq = 1000 },
            { .sport = 1, .seq = 2000, .flags = 0x11 } }, 3,
          { { { 0, 1 }, 2 }, { { 2 }, 1 } }, 2 },
    };

    run_gro_cases(cases, ARRAY_SIZE(cases), false);
}

static void
test_gro_ipv6(void)
{
    static const struct gro_in in[] = {
        { .v6 = 1, .sport = 1, .seq = 0 },
        { .v6 = 1, .sport = 1, .seq = 1000 },
        { .v6 = 1, .sport = 1, .seq = 2000, .payload = 10 },
    };
    static struct gro_out out[GRO_MAX_OUT];
    static uint8_t segs[4 * 2048];
    size_t offsets[4], lens[4], n_segs = 0;
    size_t l4 = ETH_HDR_LEN + 40;
    struct env e;

    ENV_INIT_OR_SKIP(gro_env_init(&e, false));
    CHECK_EQ(gro_run(&e, in, ARRAY_SIZE(in), out), 1);
    CHECK_EQ(out[0].len, l4 + 20 + 2010);
    CHECK_EQ(out[0].vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
    CHECK_EQ(out[0].vh.gso_size, GRO_MSS);
    CHECK_EQ(out[0].vh.csum_start, l4);
    CHECK_EQ(out[0].vh.csum_offset, 16);
    CHECK_EQ(offload_segment_tcp(out[0].frame, out[0].len, &out[0].vh, segs,
                                 sizeof segs, offsets, lens, 4, &n_segs), 0);
    CHECK_EQ(n_segs, 3);
    for (size_t i = 0; i < n_segs && i < 3; i++) {
        uint8_t want[2048];
        size_t len = gro_build(&in[i], want, sizeof want);

        CHECK_EQ(packet_verify_csums(segs + offsets[i], lens[i]), 0);
        CHECK_EQ(lens[i], len);
        CHECK(!memcmp(segs + offsets[i], want, MIN(len, lens[i])));
    }
    env_destroy(&e);
}

static void
test_gro_disabled(void)
{
    static const struct gro_case cases[] = {
        { "coalescing off", {
            { .sport = 1, .seq = 0 }, { .sport = 1, .seq = 1000 } }, 2,
          { { { 0 }, 0 } }, 0 },
    };

    run_gro_cases(cases, ARRAY_SIZE(cases), true);
}

/* Router actions. */

/* Creates the router environment (see the top of the file) with next-hop
 * MTU 'mtu' and the settings of 'opts' (may be NULL); receive coalescing
 * is off so that fragments and segments arrive as sent. */
static bool
env_init_router(struct env *e, uint32_t mtu, const struct env_opts *opts)
{
    if (!env_init_opts(e, 0, true, opts)) {
        return false;
    }
    e->ha.router = e->hb.router = true;
    e->ha.mtu = e->hb.mtu = mtu;
    return true;
}

/* A UDP/IPv4 frame from A1 through the router to 'dst', with 'payload'
 * bytes, TTL 'ttl', DF if 'df'. */
static size_t
routed_udp(uint8_t *buf, size_t size, uint32_t dst, size_t payload,
           uint8_t ttl, bool df)
{
    return packet_build_udp4(buf, size, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_rtr,
        .ip4_src = htonl(IP_A1), .ip4_dst = htonl(dst),
        .ttl = ttl, .tos = 0x10, .ip_id = 0x4242, .dont_frag = df,
        .src_port = 1000, .dst_port = 2000, .payload_len = payload,
    });
}

/* A TCP/IPv4 TSO frame from A1 through the router to 'dst' with a
 * pending checksum: 'payload' bytes to be cut into 'mss'-byte segments
 * (the virtio-net header goes to '*vh'). */
static size_t
routed_tso(uint8_t *buf, size_t size, uint32_t dst, size_t payload,
           uint16_t mss, bool df, struct virtio_net_hdr *vh)
{
    *vh = tcp4_offload_vh(mss);
    return packet_build_tcp4(buf, size, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_rtr,
        .ip4_src = htonl(IP_A1), .ip4_dst = htonl(dst), .dont_frag = df,
        .src_port = 40000, .dst_port = 5001, .tcp_flags = TCP_ACK,
        .tcp_seq = 1000, .csum_mode = PACKET_CSUM_PARTIAL,
        .payload_len = payload,
    });
}

/* Checks that 'out' ('n' bytes) is 'orig' ('len' bytes) routed: MACs
 * ...:b1 -> 'dst', TTL one less, a correct header checksum, nothing else
 * changed. */
static void
check_routed(const uint8_t *out, size_t n, const uint8_t *orig, size_t len,
             const struct eth_addr *dst)
{
    CHECK_EQ(n, len);
    if (n != len) {
        return;
    }
    CHECK(!memcmp(out, dst, ETH_ADDR_LEN));
    CHECK(!memcmp(out + 6, &mac_rtr2, ETH_ADDR_LEN));
    CHECK(!memcmp(out + 12, orig + 12, 22 - 12));
    CHECK_EQ(out[22], orig[22] - 1);
    CHECK_EQ(out[23], orig[23]);
    CHECK(!memcmp(out + 26, orig + 26, len - 26));
    CHECK(csum_ipv4_header_ok(out + ETH_HDR_LEN, 20));
}

/* Checks that 'out' ('n' bytes) is ICMP error 'type'/'code' from the
 * router to A1's IP at MAC 'eth_dst', quoting 'orig' (the offender as
 * 'quoted', an Ethernet frame of 'len' bytes), and returns ICMP bytes
 * 4-7. */
static uint32_t
check_icmp_error(const uint8_t *out, size_t n, uint8_t type, uint8_t code,
                 const struct eth_addr *eth_dst, const uint8_t *quoted,
                 size_t len)
{
    size_t quote = MIN(len - ETH_HDR_LEN, 576 - 28);
    const uint8_t *ip = out + ETH_HDR_LEN, *icmp = ip + 20;
    be32 a;

    CHECK_EQ(n, ETH_HDR_LEN + 28 + quote);
    if (n != ETH_HDR_LEN + 28 + quote) {
        return 0;
    }
    CHECK(!memcmp(out, eth_dst, ETH_ADDR_LEN));
    CHECK(!memcmp(out + 6, &mac_rtr, ETH_ADDR_LEN));
    CHECK_EQ(out[12] << 8 | out[13], ETH_TYPE_IP);
    CHECK_EQ(ip[9], IPPROTO_ICMP_);
    CHECK_EQ(ip[8], 64);
    memcpy(&a, ip + 12, 4);
    CHECK_EQ(a, htonl(IP_RTR));
    memcpy(&a, ip + 16, 4);
    CHECK_EQ(a, htonl(IP_A1));
    CHECK_EQ(icmp[0], type);
    CHECK_EQ(icmp[1], code);
    CHECK(!memcmp(icmp + 8, quoted + ETH_HDR_LEN, quote));
    CHECK_EQ(packet_verify_csums(out, n), 0);
    return (uint32_t) icmp[4] << 24 | icmp[5] << 16 | icmp[6] << 8
           | icmp[7];
}

static struct dp_stats
stats(struct dp *dp)
{
    struct dp_stats s;

    dp_get_stats(dp, &s);
    return s;
}

static void
test_ratelimit_bucket(void)
{
    struct ratelimit rl;

    ratelimit_init(&rl, 10, 3, 1000);
    for (int i = 0; i < 3; i++) {
        CHECK(ratelimit_allow(&rl, 1000));
    }
    CHECK(!ratelimit_allow(&rl, 1000));
    CHECK(!ratelimit_allow(&rl, 1099));         /* 0.99 tokens. */
    CHECK(ratelimit_allow(&rl, 1100));          /* 1 token. */
    CHECK(!ratelimit_allow(&rl, 1100));
    CHECK(!ratelimit_allow(&rl, 500));          /* Backwards: nothing. */
    CHECK(ratelimit_allow(&rl, 1200));
    /* A long pause refills only up to the burst, without overflow. */
    for (int i = 0; i < 3; i++) {
        CHECK(ratelimit_allow(&rl, 1LL << 60));
    }
    CHECK(!ratelimit_allow(&rl, 1LL << 60));
    /* Rates below 1000/s refill by the millisecond. */
    ratelimit_init(&rl, 1, 1, 0);
    CHECK(ratelimit_allow(&rl, 0));
    CHECK(!ratelimit_allow(&rl, 999));
    CHECK(ratelimit_allow(&rl, 1000));
    /* Zero is taken as one. */
    ratelimit_init(&rl, 0, 0, 0);
    CHECK(ratelimit_allow(&rl, 0));
    CHECK(!ratelimit_allow(&rl, 0));
}

/* check_mtu, set_eth, dec_ttl, output: new MACs, TTL - 1, good checksum;
 * the same through the tunnel; offload metadata passes untouched. */
static void
test_route(void)
{
    uint8_t frame[4096], out[4096], segs[8192];
    struct virtio_net_hdr vh, ovh;
    size_t offsets[8], lens[8], n_segs, len, n;
    struct env e;

    ENV_INIT_OR_SKIP(env_init_router(&e, 1500, NULL));
    len = routed_udp(frame, sizeof frame, IP_LOCAL, 200, 64, true);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    n = wait_frame(&e, e.a, e.a2, NULL, out, sizeof out);
    check_routed(out, n, frame, len, &mac_a2);
    CHECK_EQ(packet_verify_csums(out, n), 0);

    len = routed_udp(frame, sizeof frame, IP_REMOTE, 1400, 9, false);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    n = wait_frame(&e, e.b, e.b1, NULL, out, sizeof out);
    check_routed(out, n, frame, len, &mac_b1);
    CHECK_EQ(out[22], 8);

    /* A TSO frame whose segments fit keeps its metadata and its pending
     * checksum (TTL and MACs are not covered by it). */
    len = routed_tso(frame, sizeof frame, IP_LOCAL, 3000, 1400, true, &vh);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);
    n = wait_frame(&e, e.a, e.a2, &ovh, out, sizeof out);
    check_routed(out, n, frame, len, &mac_a2);
    CHECK(!memcmp(&ovh, &vh, sizeof vh));
    CHECK_EQ(offload_segment_tcp(out, n, &ovh, segs, sizeof segs, offsets,
                                 lens, 8, &n_segs), 0);
    CHECK_EQ(n_segs, 3);
    for (size_t i = 0; i < n_segs; i++) {
        CHECK_EQ(packet_verify_csums(segs + offsets[i], lens[i]), 0);
    }

    CHECK_EQ(stats(e.a).drops[DROP_SIM_ERROR], 0);
    CHECK_EQ(stats(e.a).ip_fragmented, 0);
    CHECK_EQ(stats(e.a).gso_resized, 0);
    settle(&e);
    CHECK_EQ(dp_dummy_drain(e.a, e.a1, NULL, out, sizeof out), 0);
    env_destroy(&e);
}

/* Too big with DF: ICMP "fragmentation needed" with the MTU comes back on
 * the input port, also for a TSO frame whose segments are too big, and
 * is not rate limited. */
static void
test_frag_needed(void)
{
    struct env_opts opts = { .icmp_rate = 1, .icmp_burst = 1 };
    uint8_t frame[4096], out[4096];
    struct virtio_net_hdr vh;
    struct env e;
    size_t len, n;

    ENV_INIT_OR_SKIP(env_init_router(&e, 1000, &opts));
    len = routed_udp(frame, sizeof frame, IP_LOCAL, 1200 - 28, 64, true);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    }
    for (int i = 0; i < 3; i++) {
        n = wait_frame(&e, e.a, e.a1, NULL, out, sizeof out);
        CHECK_EQ(check_icmp_error(out, n, 3, 4, &mac_a1, frame, len),
                 1000);
    }
    CHECK_EQ(stats(e.a).drops[DROP_FRAG_NEEDED], 3);
    CHECK_EQ(stats(e.a).icmp_errors_sent, 3);
    CHECK_EQ(stats(e.a).icmp_errors_rate_limited, 0);

    /* 40 bytes of headers + 1400 > 1000. */
    len = routed_tso(frame, sizeof frame, IP_LOCAL, 3000, 1400, true, &vh);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);
    n = wait_frame(&e, e.a, e.a1, NULL, out, sizeof out);
    CHECK_EQ(check_icmp_error(out, n, 3, 4, &mac_a1, frame, len), 1000);
    /* 40 + 900 fits: passes. */
    len = routed_tso(frame, sizeof frame, IP_LOCAL, 3000, 900, true, &vh);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);
    CHECK_EQ(wait_frame(&e, e.a, e.a2, NULL, out, sizeof out), len);

    settle(&e);
    CHECK_EQ(dp_dummy_drain(e.a, e.a2, NULL, out, sizeof out), 0);
    CHECK_EQ(stats(e.a).drops[DROP_FRAG_NEEDED], 4);
    env_destroy(&e);
}

/* Collects the fragments of one packet from 'port' of 'dp' and compares
 * their reassembly with the IPv4 packet of 'orig' ('len' bytes), routed
 * to 'mac'.  Returns the number of fragments. */
static size_t
reassemble(struct env *e, struct dp *dp, uint32_t port, const uint8_t *orig,
           size_t len, const struct eth_addr *mac, size_t mtu)
{
    static uint8_t data[65536], out[4096];
    size_t data_len = len - 34, got = 0, n_frags = 0;
    bool saw_last = false;

    memset(data, 0, sizeof data);
    while (!saw_last && n_frags < 100) {
        size_t n = wait_frame(e, dp, port, NULL, out, sizeof out);
        size_t off, flen;
        uint16_t fo;

        if (!n) {
            break;
        }
        n_frags++;
        CHECK(n <= ETH_HDR_LEN + mtu);
        CHECK(!memcmp(out, mac, ETH_ADDR_LEN));
        CHECK(!memcmp(out + 6, &mac_rtr2, ETH_ADDR_LEN));
        CHECK(csum_ipv4_header_ok(out + 14, 20));
        CHECK_EQ(out[22], orig[22] - 1);
        CHECK(!memcmp(out + 18, orig + 18, 2));         /* Identification. */
        CHECK(!memcmp(out + 26, orig + 26, 8));         /* Addresses. */
        fo = (uint16_t) (out[20] << 8 | out[21]);
        off = (size_t) (fo & IP_FRAG_OFF_MASK) * 8;
        flen = (size_t) (out[16] << 8 | out[17]) - 20;
        CHECK_EQ(n, 34 + flen);
        if (off + flen > data_len || n != 34 + flen) {
            break;
        }
        if (fo & IP_MF) {
            CHECK_EQ(flen % 8, 0);
        } else {
            saw_last = true;
        }
        memcpy(data + off, out + 34, flen);
        got += flen;
    }
    CHECK(saw_last);
    CHECK_EQ(got, data_len);
    CHECK(!memcmp(data, orig + 34, data_len));
    return n_frags;
}

/* Too big without DF: the fragments arrive and reassemble, locally and
 * through the tunnel (every fragment ran the rest of the list); a TSO
 * frame gets a smaller gso_size instead. */
static void
test_fragmentation(void)
{
    uint8_t frame[4096], out[4096], segs[8192];
    size_t offsets[8], lens[8], n_segs, len, n;
    struct virtio_net_hdr vh, ovh;
    struct dp_stats s;
    struct env e;

    ENV_INIT_OR_SKIP(env_init_router(&e, 997, NULL));
    len = routed_udp(frame, sizeof frame, IP_LOCAL, 2500, 64, false);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    /* 976 data bytes per fragment: 2508 = 976 + 976 + 556. */
    CHECK_EQ(reassemble(&e, e.a, e.a2, frame, len, &mac_a2, 997), 3);

    len = routed_udp(frame, sizeof frame, IP_REMOTE, 3001, 30, false);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    CHECK_EQ(reassemble(&e, e.b, e.b1, frame, len, &mac_b1, 997), 4);

    s = stats(e.a);
    CHECK_EQ(s.ip_fragmented, 2);
    CHECK_EQ(s.ip_fragments, 7);
    CHECK_EQ(s.tunnel_tx, 4);

    /* A pending checksum is completed before the cut: the fragments
     * reassemble into the completed packet. */
    len = routed_tso(frame, sizeof frame, IP_LOCAL, 2000, 0, false, &vh);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);
    CHECK_EQ(offload_complete_csum(frame, len, &vh), 0);
    CHECK_EQ(packet_verify_csums(frame, len), 0);
    CHECK_EQ(reassemble(&e, e.a, e.a2, frame, len, &mac_a2, 997), 3);

    len = routed_tso(frame, sizeof frame, IP_LOCAL, 3000, 1400, false, &vh);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);
    n = wait_frame(&e, e.a, e.a2, &ovh, out, sizeof out);
    check_routed(out, n, frame, len, &mac_a2);
    CHECK_EQ(ovh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    CHECK_EQ(ovh.gso_size, 997 - 40);
    CHECK_EQ(ovh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    CHECK_EQ(offload_segment_tcp(out, n, &ovh, segs, sizeof segs, offsets,
                                 lens, 8, &n_segs), 0);
    CHECK_EQ(n_segs, 4);
    for (size_t i = 0; i < n_segs; i++) {
        CHECK(lens[i] <= ETH_HDR_LEN + 997);
        CHECK_EQ(packet_verify_csums(segs + offsets[i], lens[i]), 0);
    }
    CHECK_EQ(stats(e.a).gso_resized, 1);

    /* Through the tunnel, the resized frame is segmented to fit. */
    len = routed_tso(frame, sizeof frame, IP_REMOTE, 3000, 1400, false,
                     &vh);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);
    for (int i = 0; i < 4; i++) {
        n = wait_frame(&e, e.b, e.b1, NULL, out, sizeof out);
        CHECK(n > 54 && n <= ETH_HDR_LEN + 997);
        CHECK_EQ(packet_verify_csums(out, n), 0);
    }
    settle(&e);
    CHECK_EQ(dp_dummy_drain(e.b, e.b1, NULL, out, sizeof out), 0);
    CHECK_EQ(stats(e.a).drops[DROP_FRAG_FAILED], 0);
    env_destroy(&e);
}

/* ICMP_ERROR: the error arrives on the input port and the original is
 * dropped with the reason of the error's family; none about an ICMP
 * error; from the tunnel, the error goes back through the tunnel. */
static void
test_icmp_error(void)
{
    uint8_t frame[2048], out[2048];
    struct env e;
    size_t len, n;

    ENV_INIT_OR_SKIP(env_init_router(&e, 1500, NULL));
    len = routed_udp(frame, sizeof frame, IP_NOROUTE, 1000, 64, false);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    n = wait_frame(&e, e.a, e.a1, NULL, out, sizeof out);
    CHECK_EQ(check_icmp_error(out, n, 3, 0, &mac_a1, frame, len), 0);
    CHECK_EQ(stats(e.a).drops[DROP_NET_UNREACHABLE], 1);

    len = routed_udp(frame, sizeof frame, IP_LOCAL, 10, 1, false);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    n = wait_frame(&e, e.a, e.a1, NULL, out, sizeof out);
    CHECK_EQ(check_icmp_error(out, n, 11, 0, &mac_a1, frame, len), 0);
    CHECK_EQ(stats(e.a).drops[DROP_TTL_EXCEEDED], 1);

    /* An ICMP error is never answered with one (RFC 1122). */
    len = packet_build_icmp4(frame, sizeof frame, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_rtr,
        .ip4_src = htonl(IP_A1), .ip4_dst = htonl(IP_NOROUTE),
        .icmp_type = 3, .icmp_code = 3, .payload_len = 28,
    });
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    settle(&e);
    CHECK_EQ(dp_dummy_drain(e.a, e.a1, NULL, out, sizeof out), 0);
    CHECK_EQ(stats(e.a).drops[DROP_NET_UNREACHABLE], 2);
    CHECK_EQ(stats(e.a).icmp_errors_suppressed, 1);
    CHECK_EQ(stats(e.a).icmp_errors_sent, 2);

    /* Routed to B, which answers through the tunnel; A delivers the
     * error (addressed to the router's MAC B saw) to A1. */
    len = routed_udp(frame, sizeof frame, IP_UNREACH, 100, 64, false);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    n = wait_frame(&e, e.a, e.a1, NULL, out, sizeof out);
    CHECK(n > 14 + 28 + 20);
    if (n > 14 + 28 + 20) {
        uint8_t routed[256];

        /* The quote is of the packet as B got it: routed once. */
        memcpy(routed, frame, len);
        routed[22]--;
        put16(routed + 24, csum_ipv4_header(routed + 14, 20));
        CHECK_EQ(check_icmp_error(out, n, 3, 1, &mac_rtr2, routed, len),
                 0);
    }
    CHECK_EQ(stats(e.b).drops[DROP_HOST_UNREACHABLE], 1);
    CHECK_EQ(stats(e.b).icmp_errors_sent, 1);
    CHECK_EQ(dp_dummy_drain(e.a, e.a2, NULL, out, sizeof out), 0);
    CHECK_EQ(dp_dummy_drain(e.b, e.b1, NULL, out, sizeof out), 0);
    env_destroy(&e);
}

/* N errors requested in one batch: only a burst's worth is sent, the rest
 * counted. */
static void
test_icmp_rate_limit(void)
{
    struct env_opts opts = { .icmp_rate = 1, .icmp_burst = 5 };
    uint8_t frame[256], out[2048];
    struct dp_stats s;
    struct env e;
    size_t len;
    int got = 0;

    ENV_INIT_OR_SKIP(env_init_router(&e, 1500, &opts));
    len = routed_udp(frame, sizeof frame, IP_NOROUTE, 10, 64, false);
    for (int i = 0; i < 20; i++) {      /* One receive batch. */
        CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    }
    settle(&e);
    while (got < 100 && dp_dummy_drain(e.a, e.a1, NULL, out, sizeof out)) {
        got++;
    }
    CHECK_EQ(got, 5);
    s = stats(e.a);
    CHECK_EQ(s.icmp_errors_sent, 5);
    CHECK_EQ(s.icmp_errors_rate_limited, 15);
    CHECK_EQ(s.drops[DROP_NET_UNREACHABLE], 20);
    env_destroy(&e);
}

/* ICMP_REPLY: the echo reply comes back on the input port; anything else
 * to the router's address gets port unreachable. */
static void
test_icmp_reply(void)
{
    uint8_t frame[256], out[256];
    struct env e;
    size_t len, n;
    be32 a;

    ENV_INIT_OR_SKIP(env_init_router(&e, 1500, NULL));
    len = packet_build_icmp4(frame, sizeof frame, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_rtr,
        .ip4_src = htonl(IP_A1), .ip4_dst = htonl(IP_RTR), .ttl = 17,
        .icmp_type = ICMP4_ECHO_REQUEST, .icmp_id = 0x77, .icmp_seq = 3,
        .payload_len = 56,
    });
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    n = wait_frame(&e, e.a, e.a1, NULL, out, sizeof out);
    CHECK_EQ(n, len);
    CHECK(!memcmp(out, &mac_a1, 6));
    CHECK(!memcmp(out + 6, &mac_rtr, 6));
    CHECK_EQ(out[22], 64);
    memcpy(&a, out + 26, 4);
    CHECK_EQ(a, htonl(IP_RTR));
    memcpy(&a, out + 30, 4);
    CHECK_EQ(a, htonl(IP_A1));
    CHECK_EQ(out[34], ICMP4_ECHO_REPLY);
    CHECK_EQ(out[35], 0);
    CHECK(!memcmp(out + 38, frame + 38, len - 38));    /* id, seq, data. */
    CHECK_EQ(packet_verify_csums(out, n), 0);
    CHECK_EQ(stats(e.a).icmp_echo_replies, 1);

    len = routed_udp(frame, sizeof frame, IP_RTR, 10, 64, false);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    n = wait_frame(&e, e.a, e.a1, NULL, out, sizeof out);
    CHECK_EQ(check_icmp_error(out, n, 3, 3, &mac_a1, frame, len), 0);
    CHECK_EQ(stats(e.a).drops[DROP_PORT_UNREACHABLE], 1);
    env_destroy(&e);
}

/* A rewrite between two outputs: the first output still sends the frame
 * as it was.  A checksum that a tunnel output completed in place is
 * complete for a later local output, which no longer claims it
 * pending. */
static void
test_rewrite_after_output(void)
{
    uint8_t frame[256], out[256];
    struct virtio_net_hdr vh, ovh;
    struct env e;
    size_t len, n;

    ENV_INIT_OR_SKIP(env_init_router(&e, 1500, NULL));
    len = routed_udp(frame, sizeof frame, IP_COW, 100, 64, false);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, frame, len), 0);
    CHECK_EQ(wait_frame(&e, e.a, e.a2, NULL, out, sizeof out), len);
    CHECK(!memcmp(out, frame, len));
    n = wait_frame(&e, e.a, e.a1, NULL, out, sizeof out);
    check_routed(out, n, frame, len, &mac_a1);

    len = routed_tso(frame, sizeof frame, IP_TUN_OUT, 100, 0, false, &vh);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);
    CHECK_EQ(wait_frame(&e, e.a, e.a2, &ovh, out, sizeof out), len);
    CHECK_EQ(ovh.flags, 0);
    CHECK_EQ(packet_verify_csums(out, len), 0);
    CHECK(!memcmp(out, frame, 50));             /* All but the checksum. */
    CHECK_EQ(stats(e.a).tunnel_tx, 1);
    env_destroy(&e);
}

struct packet_in_ctx {
    struct dp *dp;
    int n;
    enum dp_userspace why;
    uint32_t in_port;
    uint8_t frame[512];
    size_t len;
    bool csum_ok;
    int out_error;
};

/* A DHCP-like answer from the router to A1. */
static size_t
dhcp_answer(uint8_t *buf, size_t size)
{
    return packet_build_udp4(buf, size, &(struct packet_spec) {
        .eth_src = mac_rtr, .eth_dst = mac_a1,
        .ip4_src = htonl(IP_RTR), .ip4_dst = htonl(IP_A1),
        .src_port = 67, .dst_port = 68, .payload_len = 40,
    });
}

static void
packet_in_cb(void *aux, enum dp_userspace why, uint32_t in_port,
             const void *frame, size_t len)
{
    struct packet_in_ctx *c = aux;
    uint8_t answer[128];

    c->n++;
    c->why = why;
    c->in_port = in_port;
    c->len = len;
    memcpy(c->frame, frame, MIN(len, sizeof c->frame));
    c->csum_ok = packet_verify_csums(frame, len) == 0;
    c->out_error = dp_packet_out(c->dp, in_port, answer,
                                 dhcp_answer(answer, sizeof answer));
}

/* USERSPACE: packet_in gets the frame with its checksum completed and
 * answers with dp_packet_out(); dp_packet_out() outside dp_run() sends at
 * once. */
static void
test_userspace(void)
{
    struct packet_in_ctx c;
    struct env_opts opts = { .packet_in = packet_in_cb,
                             .packet_in_aux = &c };
    uint8_t frame[512], out[512], answer[128];
    struct virtio_net_hdr vh;
    size_t len, alen;
    struct env e;

    memset(&c, 0, sizeof c);
    ENV_INIT_OR_SKIP(env_init_router(&e, 1500, &opts));
    c.dp = e.a;
    len = packet_build_udp4(frame, sizeof frame, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_bcast,
        .ip4_src = 0, .ip4_dst = htonl(0xffffffff),
        .src_port = 68, .dst_port = 67, .payload_len = 300,
        .csum_mode = PACKET_CSUM_PARTIAL,
    });
    memset(&vh, 0, sizeof vh);
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh.csum_start = 34;
    vh.csum_offset = 6;
    CHECK(packet_verify_csums(frame, len) != 0);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);
    alen = dhcp_answer(answer, sizeof answer);
    CHECK_EQ(wait_frame(&e, e.a, e.a1, NULL, out, sizeof out), alen);
    CHECK(!memcmp(out, answer, alen));
    CHECK_EQ(c.n, 1);
    CHECK_EQ(c.why, DP_USERSPACE_DHCP);
    CHECK_EQ(c.in_port, e.a1);
    CHECK_EQ(c.len, len);
    CHECK(c.csum_ok);
    CHECK(!memcmp(c.frame, frame, 40));         /* Headers but UDP csum. */
    CHECK_EQ(c.out_error, 0);
    CHECK_EQ(stats(e.a).packet_ins, 1);
    CHECK_EQ(stats(e.a).packet_outs, 1);

    /* Outside dp_run(): sent before dp_packet_out() returns. */
    CHECK_EQ(dp_packet_out(e.a, e.a2, answer, alen), 0);
    CHECK_EQ(dp_dummy_drain(e.a, e.a2, NULL, out, sizeof out), alen);
    CHECK(!memcmp(out, answer, alen));
    CHECK_EQ(dp_packet_out(e.a, 999, answer, alen), ENODEV);
    CHECK_EQ(dp_packet_out(e.a, FLOW_PORT_TUNNEL, answer, alen), ENODEV);
    CHECK_EQ(dp_packet_out(e.a, e.a2, answer, 13), EINVAL);
    CHECK_EQ(stats(e.a).packet_outs, 2);
    env_destroy(&e);

    /* No handler: dropped with its reason. */
    ENV_INIT_OR_SKIP(env_init_router(&e, 1500, NULL));
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, frame, len), 0);
    settle(&e);
    CHECK_EQ(stats(e.a).drops[DROP_NO_USERSPACE], 1);
    CHECK_EQ(dp_dummy_drain(e.a, e.a1, NULL, out, sizeof out), 0);
    env_destroy(&e);
}

/* Root only: real AF_PACKET ports on veths in namespaces this test creates
 * ("wF-" prefix) and removes.  Two datapaths share one "hypervisor"
 * namespace (tunnel IPs 127.0.0.2/3 on its loopback); VM 1 hangs off A,
 * VM 2 off B, with the kernel's default offloads on their veths, so TCP
 * between them sends partial checksums and TSO super-frames through
 * segmentation, UDP GSO, UDP GRO and back. */
struct sys_host {
    uint32_t vm_port;
    struct eth_addr vm_mac;
    be32 peer_ip;
};

static int
sys_upcall(void *aux, const struct flow_key *key, struct flow_wc *wc,
           struct dp_actions *acts, struct flow_tags *tags)
{
    const struct sys_host *h = aux;

    FLOW_WC_MASK(wc, in_port);
    FLOW_WC_MASK(wc, eth_dst);
    if (key->in_port == FLOW_PORT_TUNNEL) {
        if (mac_eq(&key->eth_dst, &h->vm_mac)
            || eth_addr_is_multicast(&key->eth_dst)) {
            dp_actions_output(acts, h->vm_port);
        } else {
            dp_actions_drop(acts, DROP_UNKNOWN_DST);
        }
    } else if (mac_eq(&key->eth_dst, &h->vm_mac)) {
        dp_actions_drop(acts, DROP_HAIRPIN);
    } else {
        dp_actions_tunnel(acts, VNI, h->peer_ip);
    }
    return 0;
}

static bool
sh(const char *fmt, ...) PRINTF_FMT(1, 2);

static bool
sh(const char *fmt, ...)
{
    char cmd[512];
    va_list args;
    int status;

    va_start(args, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, args);
    va_end(args);
    status = system(cmd);
    if (status != 0) {
        fprintf(stderr, "  command failed (%d): %s\n", status, cmd);
    }
    return status == 0;
}

static pid_t
spawn(char *const argv[])
{
    pid_t pid = fork();

    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Pumps both datapaths until every child in 'pids' exited or 'msec'
 * passed (then kills the rest).  Returns true if all exited with 0. */
static bool
pump_children(struct dp *a, struct dp *b, pid_t *pids, int n, int msec)
{
    long long deadline = time_msec() + msec;
    bool ok = true;
    int left = n;

    while (left && time_msec() < deadline) {
        dp_run(a);
        dp_run(b);
        dp_wait(a);
        dp_wait(b);
        poll_timer_wait(5);
        poll_block();
        for (int i = 0; i < n; i++) {
            int status;

            if (pids[i] > 0 && waitpid(pids[i], &status, WNOHANG)
                == pids[i]) {
                if (!WIFEXITED(status) || WEXITSTATUS(status)) {
                    fprintf(stderr, "  child %d failed (status %d)\n", i,
                            status);
                    ok = false;
                }
                pids[i] = 0;
                left--;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        if (pids[i] > 0) {
            fprintf(stderr, "  child %d timed out\n", i);
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
            ok = false;
        }
    }
    return ok;
}

static const char tcp_server[] =
    "import socket,hashlib,sys\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,"
    "socket.SO_REUSEADDR,1)\n"
    "s.bind(('10.9.0.2',5201)); s.listen(1); s.settimeout(20)\n"
    "c,_=s.accept(); c.settimeout(20); h=hashlib.sha256(); n=0\n"
    "while True:\n"
    "  d=c.recv(1<<20)\n"
    "  if not d: break\n"
    "  h.update(d); n+=len(d)\n"
    "exp=hashlib.sha256(bytes(range(256))*16384).hexdigest()\n"
    "sys.exit(0 if n==4194304 and h.hexdigest()==exp else 1)\n";

static const char tcp_client[] =
    "import socket,time,sys\n"
    "data=bytes(range(256))*16384\n"
    "for i in range(100):\n"
    "  try:\n"
    "    c=socket.create_connection(('10.9.0.2',5201),timeout=20); break\n"
    "  except OSError: time.sleep(0.1)\n"
    "else: sys.exit(2)\n"
    "c.sendall(data); c.close()\n";

static void
test_afpacket_netns(void)
{
    char hns[32], v1ns[32], v2ns[32], ifa[16], ifb[16];
    struct sys_host ha, hb;
    struct dp_config cfg;
    struct dp *a = NULL, *b = NULL;
    struct dp_port_stats ps[2];
    struct dp_stats sa, sb;
    int self_ns = -1, h_ns = -1;
    int pid = (int) getpid();
    char path[64];
    int error;

    if (geteuid() != 0) {
        UNIT_SKIP("AF_PACKET namespace test needs root");
    }
    /* A reader that goes away must not kill us before the cleanup. */
    signal(SIGPIPE, SIG_IGN);
    if (access("/usr/sbin/ip", X_OK) && access("/sbin/ip", X_OK)) {
        UNIT_SKIP("no ip(8)");
    }
    snprintf(hns, sizeof hns, "wF-h%d", pid);
    snprintf(v1ns, sizeof v1ns, "wF-v1-%d", pid);
    snprintf(v2ns, sizeof v2ns, "wF-v2-%d", pid);
    snprintf(ifa, sizeof ifa, "wFa%d", pid);
    snprintf(ifb, sizeof ifb, "wFb%d", pid);

    if (!sh("ip netns add %s && ip netns add %s && ip netns add %s",
            hns, v1ns, v2ns)
        || !sh("ip link add %s netns %s type veth peer name eth0 netns %s"
               " && ip link add %s netns %s type veth peer name eth0"
               " netns %s", ifa, hns, v1ns, ifb, hns, v2ns)
        || !sh("ip -n %s link set lo up && ip -n %s link set %s up"
               " && ip -n %s link set %s up", hns, hns, ifa, hns, ifb)
        || !sh("ip -n %s link set eth0 address 02:00:00:00:00:01"
               " && ip -n %s addr add 10.9.0.1/24 dev eth0"
               " && ip -n %s link set eth0 up && ip -n %s link set lo up",
               v1ns, v1ns, v1ns, v1ns)
        || !sh("ip -n %s link set eth0 address 02:00:00:00:00:03"
               " && ip -n %s addr add 10.9.0.2/24 dev eth0"
               " && ip -n %s link set eth0 up && ip -n %s link set lo up",
               v2ns, v2ns, v2ns, v2ns)) {
        CHECK(false);
        goto cleanup;
    }

    /* Open everything inside the hypervisor namespace, then come back:
     * sockets stay in the namespace they were created in. */
    snprintf(path, sizeof path, "/run/netns/%s", hns);
    self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    h_ns = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(self_ns >= 0 && h_ns >= 0);
    if (self_ns < 0 || h_ns < 0 || setns(h_ns, CLONE_NEWNET)) {
        CHECK(false);
        goto cleanup;
    }
    memset(&ha, 0, sizeof ha);
    memset(&hb, 0, sizeof hb);
    ha.vm_mac = mac_a1;
    ha.peer_ip = htonl(0x7f000003);
    hb.vm_mac = mac_b1;
    hb.peer_ip = htonl(0x7f000002);
    memset(&cfg, 0, sizeof cfg);
    cfg.upcall = sys_upcall;
    cfg.tunnel_ip = htonl(0x7f000002);
    cfg.upcall_aux = &ha;
    a = dp_create(&cfg, &error);
    cfg.tunnel_ip = htonl(0x7f000003);
    cfg.upcall_aux = &hb;
    b = dp_create(&cfg, &error);
    CHECK(a && b);
    if (a && b) {
        CHECK_EQ(dp_port_add(a, ifa, &ha.vm_port), 0);
        CHECK_EQ(dp_port_add(b, ifb, &hb.vm_port), 0);
    }
    CHECK_EQ(setns(self_ns, CLONE_NEWNET), 0);
    if (!a || !b) {
        goto cleanup;
    }

    /* ping: ARP broadcast through the tunnel, replies, ICMP. */
    {
        char *argv[] = { "/usr/sbin/ip", "netns", "exec", v1ns,
                         "/usr/bin/ping", "-c", "3", "-i", "0.2", "-W", "2",
                         "10.9.0.2", NULL };
        pid_t pids[1] = { spawn(argv) };

        CHECK(pump_children(a, b, pids, 1, 15000));
    }

    /* 4 MB of TCP with the VMs' offloads on. */
    {
        char *srv[] = { "/usr/sbin/ip", "netns", "exec", v2ns,
                        "/usr/bin/python3", "-c", (char *) tcp_server,
                        NULL };
        char *cli[] = { "/usr/sbin/ip", "netns", "exec", v1ns,
                        "/usr/bin/python3", "-c", (char *) tcp_client,
                        NULL };
        pid_t pids[2];

        pids[0] = spawn(srv);
        pids[1] = spawn(cli);
        CHECK(pump_children(a, b, pids, 2, 30000));
    }

    dp_get_stats(a, &sa);
    dp_get_stats(b, &sb);
    CHECK_EQ(dp_get_port_stats(a, ps, 2), 1);
    CHECK_EQ(sa.drops[DROP_BAD_VNET_HDR], 0);
    CHECK_EQ(sa.drops[DROP_GSO_UNSUPPORTED], 0);
    CHECK_EQ(sb.drops[DROP_TUNNEL_MALFORMED], 0);
    CHECK(sb.tunnel_rx > 0);
    CHECK(sb.gro_frames > 0);
    fprintf(stderr, "  A: port rx %llu frames, tunnel tx %llu packets "
            "(more means TSO super-frames were segmented)\n"
            "  B: tunnel rx %llu packets, %llu of them coalesced into %llu "
            "GSO frames\n",
            (unsigned long long) ps[0].rx_packets,
            (unsigned long long) sa.tunnel_tx,
            (unsigned long long) sb.tunnel_rx,
            (unsigned long long) sb.gro_segs,
            (unsigned long long) sb.gro_frames);

cleanup:
    dp_destroy(a);
    dp_destroy(b);
    if (h_ns >= 0) {
        close(h_ns);
    }
    if (self_ns >= 0) {
        close(self_ns);
    }
    sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null;"
       " ip netns del %s 2>/dev/null; true", hns, v1ns, v2ns);
}

/* Connection tracking (the CT action).  A1 is 10.0.0.1, A2 10.0.0.2; the
 * fake topology is ct_decide()'s. */
#define CT_IP1 0x0a000001
#define CT_IP2 0x0a000002

static bool
env_init_ct(struct env *e, bool allow, uint16_t zone, uint16_t zone_rev)
{
    if (!env_init__(e, 0, true)) {
        return false;
    }
    e->ha.ct = true;
    e->ha.ct_allow = allow;
    e->ha.ct_zone = zone;
    e->ha.ct_zone_rev = zone_rev;
    return true;
}

/* A TCP segment between A1:40000 and A2:80 ('fwd': from A1). */
static size_t
ct_tcp(uint8_t *buf, size_t size, bool fwd, uint8_t flags, uint32_t seq,
       uint32_t ack, size_t payload)
{
    return packet_build_tcp4(buf, size, &(struct packet_spec) {
        .eth_src = fwd ? mac_a1 : mac_a2, .eth_dst = fwd ? mac_a2 : mac_a1,
        .ip4_src = htonl(fwd ? CT_IP1 : CT_IP2),
        .ip4_dst = htonl(fwd ? CT_IP2 : CT_IP1),
        .src_port = fwd ? 40000 : 80, .dst_port = fwd ? 80 : 40000,
        .tcp_flags = flags, .tcp_seq = seq, .tcp_ack = ack,
        .payload_len = payload,
    });
}

/* A UDP datagram between A1:5000 and A2:53. */
static size_t
ct_udp(uint8_t *buf, size_t size, bool fwd)
{
    return packet_build_udp4(buf, size, &(struct packet_spec) {
        .eth_src = fwd ? mac_a1 : mac_a2, .eth_dst = fwd ? mac_a2 : mac_a1,
        .ip4_src = htonl(fwd ? CT_IP1 : CT_IP2),
        .ip4_dst = htonl(fwd ? CT_IP2 : CT_IP1),
        .src_port = fwd ? 5000 : 53, .dst_port = fwd ? 53 : 5000,
        .payload_len = 20,
    });
}

/* Sends 'frame' from A1 ('fwd') or A2 and returns true if it came out of
 * the other port (false after settling if it did not). */
static bool
ct_pass(struct env *e, bool fwd, const struct virtio_net_hdr *vh,
        const void *frame, size_t len)
{
    static uint8_t out[70000];
    uint32_t in = fwd ? e->a1 : e->a2, to = fwd ? e->a2 : e->a1;
    size_t n;

    CHECK_EQ(dp_dummy_inject(e->a, in, vh, frame, len), 0);
    settle(e);
    n = dp_dummy_drain(e->a, to, NULL, out, sizeof out);
    if (n) {
        CHECK_EQ(n, len);
        CHECK(!memcmp(out, frame, len));
    }
    return n != 0;
}

static bool
ct_count_cb(const struct ct_conn_info *info, void *aux)
{
    size_t *n = aux;

    (void) info;
    (*n)++;
    return true;
}

static size_t
ct_count(struct env *e, int zone)
{
    size_t n = 0;

    dp_ct_dump(e->a, zone, ct_count_cb, &n);
    return n;
}

/* Without allow_new a SYN is denied; with it, the SYN opens the
 * connection and the SYN-ACK comes back through a flow that allows
 * nothing new; a mid-stream segment of an unknown connection is
 * invalid. */
static void
test_ct_tcp(void)
{
    uint8_t f[256];
    size_t len;
    struct env e;

    ENV_INIT_OR_SKIP(env_init_ct(&e, false, 2, 2));
    len = ct_tcp(f, sizeof f, true, TCP_SYN, 1000, 0, 0);
    CHECK(!ct_pass(&e, true, NULL, f, len));
    CHECK_EQ(drops(e.a, DROP_SG_DENIED), 1);
    CHECK_EQ(ct_count(&e, CT_ZONE_ALL), 0);

    e.ha.ct_allow = true;
    dp_flush(e.a);
    CHECK(ct_pass(&e, true, NULL, f, len));
    CHECK_EQ(ct_count(&e, 2), 1);
    CHECK_EQ(stats(e.a).ct.commits, 1);
    len = ct_tcp(f, sizeof f, false, TCP_SYN | TCP_ACK, 5000, 1001, 0);
    CHECK(ct_pass(&e, false, NULL, f, len));
    len = ct_tcp(f, sizeof f, true, TCP_ACK, 1001, 5001, 0);
    CHECK(ct_pass(&e, true, NULL, f, len));
    len = ct_tcp(f, sizeof f, false, TCP_ACK | TCP_PSH, 5001, 1001, 100);
    CHECK(ct_pass(&e, false, NULL, f, len));
    CHECK_EQ(drops(e.a, DROP_SG_DENIED), 1);
    CHECK_EQ(drops(e.a, DROP_CT_INVALID), 0);

    /* A segment of a connection nobody opened. */
    len = packet_build_tcp4(f, sizeof f, &(struct packet_spec) {
        .eth_src = mac_a2, .eth_dst = mac_a1,
        .ip4_src = htonl(CT_IP2), .ip4_dst = htonl(CT_IP1),
        .src_port = 81, .dst_port = 40000, .tcp_flags = TCP_ACK,
        .tcp_seq = 7, .tcp_ack = 9,
    });
    CHECK(!ct_pass(&e, false, NULL, f, len));
    CHECK_EQ(drops(e.a, DROP_CT_INVALID), 1);
    CHECK_EQ(stats(e.a).ct.n_entries, 1);
    env_destroy(&e);
}

/* A 64 KB TSO frame inside an established connection with a 64 KB window
 * passes whole (one segment to the tracker), and the peer's ACK of all
 * of it too. */
static void
test_ct_tso(void)
{
    enum { PAYLOAD = 64000, MSS = 1448 };
    static uint8_t f[PAYLOAD + 128];
    struct virtio_net_hdr vh;
    size_t len;
    struct env e;

    ENV_INIT_OR_SKIP(env_init_ct(&e, true, 2, 2));
    len = ct_tcp(f, sizeof f, true, TCP_SYN, 1000, 0, 0);
    CHECK(ct_pass(&e, true, NULL, f, len));
    len = ct_tcp(f, sizeof f, false, TCP_SYN | TCP_ACK, 5000, 1001, 0);
    CHECK(ct_pass(&e, false, NULL, f, len));
    len = ct_tcp(f, sizeof f, true, TCP_ACK, 1001, 5001, 0);
    CHECK(ct_pass(&e, true, NULL, f, len));

    vh = tcp4_offload_vh(MSS);
    len = packet_build_tcp4(f, sizeof f, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_a2,
        .ip4_src = htonl(CT_IP1), .ip4_dst = htonl(CT_IP2),
        .src_port = 40000, .dst_port = 80, .tcp_flags = TCP_ACK,
        .tcp_seq = 1001, .tcp_ack = 5001,
        .csum_mode = PACKET_CSUM_PARTIAL, .payload_len = PAYLOAD,
    });
    CHECK(ct_pass(&e, true, &vh, f, len));
    len = ct_tcp(f, sizeof f, false, TCP_ACK, 5001, 1001 + PAYLOAD, 0);
    CHECK(ct_pass(&e, false, NULL, f, len));
    CHECK_EQ(drops(e.a, DROP_CT_INVALID), 0);
    CHECK_EQ(drops(e.a, DROP_SG_DENIED), 0);
    env_destroy(&e);
}

/* UDP: the reply passes; an ICMP port unreachable quoting the datagram
 * is related; ARP passes; another zone knows nothing; dump and flush. */
static void
test_ct_udp_icmp_zones(void)
{
    uint8_t f[256], q[256];
    size_t len, qlen;
    struct env e;

    ENV_INIT_OR_SKIP(env_init_ct(&e, true, 2, 2));
    qlen = ct_udp(q, sizeof q, true);
    CHECK(ct_pass(&e, true, NULL, q, qlen));

    /* A2 answers port unreachable, quoting A1's datagram. */
    len = packet_build_icmp4(f, sizeof f, &(struct packet_spec) {
        .eth_src = mac_a2, .eth_dst = mac_a1,
        .ip4_src = htonl(CT_IP2), .ip4_dst = htonl(CT_IP1),
        .icmp_type = 3, .icmp_code = 3,
        .payload = q + ETH_HDR_LEN, .payload_len = 28,
    });
    CHECK(ct_pass(&e, false, NULL, f, len));
    CHECK_EQ(stats(e.a).ct.related, 1);

    /* ARP is not tracked. */
    len = packet_build_arp(f, sizeof f, &(struct packet_spec) {
        .eth_src = mac_a2, .eth_dst = mac_a1,
        .ip4_src = htonl(CT_IP2), .ip4_dst = htonl(CT_IP1), .arp_op = 2,
        .arp_tha = mac_a1,
    });
    CHECK(ct_pass(&e, false, NULL, f, len));

    len = ct_udp(f, sizeof f, false);
    CHECK(ct_pass(&e, false, NULL, f, len));
    CHECK_EQ(drops(e.a, DROP_SG_DENIED), 0);
    CHECK_EQ(drops(e.a, DROP_CT_INVALID), 0);

    /* Replies tracked in zone 3 find nothing: new, denied. */
    e.ha.ct_zone_rev = 3;
    dp_flush(e.a);
    CHECK(!ct_pass(&e, false, NULL, f, len));
    CHECK_EQ(drops(e.a, DROP_SG_DENIED), 1);
    CHECK_EQ(ct_count(&e, 3), 0);
    CHECK_EQ(ct_count(&e, 2), 1);

    /* Flushing zone 3 leaves zone 2; flushing zone 2 forgets it. */
    CHECK_EQ(dp_ct_flush(e.a, 3), 0);
    CHECK_EQ(ct_count(&e, 2), 1);
    e.ha.ct_zone_rev = 2;
    dp_flush(e.a);
    CHECK(ct_pass(&e, false, NULL, f, len));
    CHECK_EQ(dp_ct_flush(e.a, 2), 1);
    CHECK_EQ(ct_count(&e, CT_ZONE_ALL), 0);
    CHECK(!ct_pass(&e, false, NULL, f, len));
    CHECK_EQ(drops(e.a, DROP_SG_DENIED), 2);
    env_destroy(&e);
}

/* Segments from the tunnel are tracked one by one and still coalesce when
 * CT comes before the OUTPUT. */
static void
test_ct_gro(void)
{
    enum { PAYLOAD = 40000, MSS = 1448, SEGS = (PAYLOAD + MSS - 1) / MSS };
    static uint8_t f[PAYLOAD + 128], out[PAYLOAD + 256];
    struct virtio_net_hdr vh;
    struct dp_stats s;
    size_t len;
    struct env e;

    ENV_INIT_OR_SKIP(env_init(&e, 0));
    e.hb.ct_tunnel_zone = 5;
    len = packet_build_tcp4(f, sizeof f, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_b1,
        .ip4_src = htonl(CT_IP1), .ip4_dst = htonl(0x0a000003),
        .src_port = 40000, .dst_port = 5201, .tcp_flags = TCP_SYN,
        .tcp_seq = 1000,
    });
    CHECK_EQ(inject_wait(&e, f, len, e.b, e.b1, out, sizeof out), len);
    len = packet_build_tcp4(f, sizeof f, &(struct packet_spec) {
        .eth_src = mac_b1, .eth_dst = mac_a1,
        .ip4_src = htonl(0x0a000003), .ip4_dst = htonl(CT_IP1),
        .src_port = 5201, .dst_port = 40000,
        .tcp_flags = TCP_SYN | TCP_ACK, .tcp_seq = 5000, .tcp_ack = 1001,
    });
    CHECK_EQ(dp_dummy_inject(e.b, e.b1, NULL, f, len), 0);
    settle(&e);
    len = packet_build_tcp4(f, sizeof f, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_b1,
        .ip4_src = htonl(CT_IP1), .ip4_dst = htonl(0x0a000003),
        .src_port = 40000, .dst_port = 5201, .tcp_flags = TCP_ACK,
        .tcp_seq = 1001, .tcp_ack = 5001,
    });
    CHECK_EQ(inject_wait(&e, f, len, e.b, e.b1, out, sizeof out), len);

    vh = tcp4_offload_vh(MSS);
    len = packet_build_tcp4(f, sizeof f, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_b1,
        .ip4_src = htonl(CT_IP1), .ip4_dst = htonl(0x0a000003),
        .src_port = 40000, .dst_port = 5201, .tcp_flags = TCP_ACK,
        .tcp_seq = 1001, .tcp_ack = 5001,
        .csum_mode = PACKET_CSUM_PARTIAL, .payload_len = PAYLOAD,
    });
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, &vh, f, len), 0);
    CHECK_EQ(wait_frame(&e, e.b, e.b1, NULL, out, sizeof out), len);
    dp_get_stats(e.b, &s);
    CHECK_EQ(s.gro_frames, 1);
    CHECK_EQ(s.gro_segs, SEGS);
    CHECK_EQ(s.ct.n_entries, 1);
    CHECK_EQ(s.ct.n_packets, 3 + SEGS);
    CHECK_EQ(s.drops[DROP_CT_INVALID], 0);
    CHECK_EQ(s.drops[DROP_SG_DENIED], 0);
    env_destroy(&e);
}

/* Fragments are not tracked: they pass only where new connections may
 * open, and commit nothing. */
static void
test_ct_fragments(void)
{
    uint8_t f[256];
    size_t len;
    struct env e;

    ENV_INIT_OR_SKIP(env_init_ct(&e, true, 2, 2));
    len = ct_udp(f, sizeof f, true);
    f[ETH_HDR_LEN + 6] |= 0x20;                 /* More fragments. */
    put16(f + ETH_HDR_LEN + 10, 0);
    put16(f + ETH_HDR_LEN + 10, csum_ipv4_header(f + ETH_HDR_LEN, 20));
    CHECK(ct_pass(&e, true, NULL, f, len));
    CHECK_EQ(ct_count(&e, CT_ZONE_ALL), 0);

    len = ct_udp(f, sizeof f, false);
    f[ETH_HDR_LEN + 6] |= 0x20;
    put16(f + ETH_HDR_LEN + 10, 0);
    put16(f + ETH_HDR_LEN + 10, csum_ipv4_header(f + ETH_HDR_LEN, 20));
    CHECK(!ct_pass(&e, false, NULL, f, len));
    CHECK_EQ(drops(e.a, DROP_CT_INVALID), 1);
    CHECK_EQ(stats(e.a).ct.invalid_by_reason[CT_INVALID_FRAGMENT], 2);
    env_destroy(&e);
}

/* CHECK_MTU before CT: the whole packet is judged once, then fragmented;
 * denied, it is dropped whole. */
static void
test_ct_check_mtu(void)
{
    static uint8_t f[4000], out[4000];
    size_t len, n, n_frags = 0, total = 0;
    struct env e;

    ENV_INIT_OR_SKIP(env_init_ct(&e, false, 2, 2));
    e.ha.ct_mtu = 1400;
    len = packet_build_udp4(f, sizeof f, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_a2,
        .ip4_src = htonl(CT_IP1), .ip4_dst = htonl(CT_IP2),
        .src_port = 5000, .dst_port = 53, .payload_len = 3000,
    });
    CHECK(!ct_pass(&e, true, NULL, f, len));
    CHECK_EQ(drops(e.a, DROP_SG_DENIED), 1);
    CHECK_EQ(stats(e.a).ip_fragmented, 0);

    e.ha.ct_allow = true;
    dp_flush(e.a);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, f, len), 0);
    settle(&e);
    while ((n = dp_dummy_drain(e.a, e.a2, NULL, out, sizeof out)) != 0) {
        CHECK(n <= ETH_HDR_LEN + 1400);
        n_frags++;
        total += n - ETH_HDR_LEN - 20;
    }
    CHECK_EQ(n_frags, 3);
    CHECK_EQ(total, len - ETH_HDR_LEN - 20);
    CHECK_EQ(stats(e.a).ct.commits, 1);
    CHECK_EQ(drops(e.a, DROP_CT_INVALID), 0);
    len = ct_udp(f, sizeof f, false);
    CHECK(ct_pass(&e, false, NULL, f, len));
    env_destroy(&e);
}

/* Host A with flood_decide()'s topology, A2 admitting new connections if
 * 'allow'; A3 is added as a third port. */
static bool
env_init_flood(struct env *e, bool allow)
{
    if (!env_init_ct(e, allow, 2, 2)) {
        return false;
    }
    e->ha.ct = false;
    CHECK_EQ(dp_port_add_dummy(e->a, "a3", &e->ha.flood_port), 0);
    return true;
}

/* A UDP broadcast from A1:5000 to 10.0.0.255:6000 with 'payload' bytes of
 * data. */
static size_t
flood_udp(uint8_t *buf, size_t size, size_t payload)
{
    return packet_build_udp4(buf, size, &(struct packet_spec) {
        .eth_src = mac_a1, .eth_dst = mac_bcast,
        .ip4_src = htonl(CT_IP1), .ip4_dst = htonl(0x0a0000ff),
        .src_port = 5000, .dst_port = 6000, .payload_len = payload,
    });
}

/* A flood whose guard for A2 refuses the packet: A2 misses its copy (one
 * sg_denied), A3 and the tunnel copy to B do not; each admitting zone
 * commits the connection.  Then the reply case: A2 opens a connection to
 * A1, and A1's answer, flooded, is a reply in A2's zone, which its guard
 * lets through although A2 admits nothing new. */
static void
test_ct_guarded_flood(void)
{
    static uint8_t f[256], out[256];
    size_t len;
    struct env e;

    ENV_INIT_OR_SKIP(env_init_flood(&e, false));
    len = flood_udp(f, sizeof f, 20);
    for (int i = 0; i < 2; i++) {       /* Upcall, then the cached flow. */
        CHECK_EQ(inject_wait(&e, f, len, e.b, e.b1, out, sizeof out), len);
        CHECK(!memcmp(out, f, len));
        settle(&e);
        CHECK_EQ(dp_dummy_drain(e.a, e.ha.flood_port, NULL, out,
                                sizeof out), len);
        CHECK_EQ(dp_dummy_drain(e.a, e.a2, NULL, out, sizeof out), 0);
        CHECK_EQ(drops(e.a, DROP_SG_DENIED), (uint64_t) i + 1);
    }
    CHECK_EQ(e.ha.n_upcalls, 1);
    CHECK_EQ(ct_count(&e, FLOOD_ZONE_A1), 1);
    CHECK_EQ(ct_count(&e, FLOOD_ZONE_A3), 1);
    CHECK_EQ(ct_count(&e, 2), 0);
    CHECK_EQ(drops(e.a, DROP_CT_INVALID), 0);

    /* A2:53 -> A1:5000 opens a connection in zone 2; A1's answer goes
     * through the flood's flow. */
    CHECK(ct_pass(&e, false, NULL, f, ct_udp(f, sizeof f, false)));
    len = ct_udp(f, sizeof f, true);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, f, len), 0);
    settle(&e);
    CHECK_EQ(dp_dummy_drain(e.a, e.a2, NULL, out, sizeof out), len);
    CHECK_EQ(dp_dummy_drain(e.a, e.ha.flood_port, NULL, out, sizeof out),
             len);
    CHECK_EQ(drops(e.a, DROP_SG_DENIED), 2);
    CHECK_EQ(ct_count(&e, 2), 1);       /* A reply: nothing new there. */
    env_destroy(&e);
}

/* CHECK_MTU before a guarded flood: the guards judge the whole packet
 * once, and the fragments go everywhere but where a guard refused. */
static void
test_ct_guarded_flood_fragments(void)
{
    static uint8_t f[4000], out[4000];
    size_t len, n, n_frags = 0;
    struct env e;

    ENV_INIT_OR_SKIP(env_init_flood(&e, false));
    e.ha.ct_mtu = 1400;
    len = flood_udp(f, sizeof f, 3000);
    CHECK_EQ(dp_dummy_inject(e.a, e.a1, NULL, f, len), 0);
    settle(&e);
    while ((n = dp_dummy_drain(e.a, e.ha.flood_port, NULL, out,
                               sizeof out)) != 0) {
        CHECK(n <= ETH_HDR_LEN + 1400);
        n_frags++;
    }
    CHECK_EQ(n_frags, 3);
    for (n_frags = 0; n_frags < 3; n_frags++) {
        if (!wait_frame(&e, e.b, e.b1, NULL, out, sizeof out)) {
            break;
        }
    }
    CHECK_EQ(n_frags, 3);
    CHECK_EQ(dp_dummy_drain(e.a, e.a2, NULL, out, sizeof out), 0);
    CHECK_EQ(drops(e.a, DROP_SG_DENIED), 1);
    CHECK_EQ(stats(e.a).ip_fragmented, 1);
    CHECK_EQ(stats(e.a).ct.commits, 2);
    env_destroy(&e);
}

/* Drop reasons: every one has a name and an explanation, and names map
 * back (weftctl prints the explanation beside the agent's counters). */
static void
test_drop_reason_names(void)
{
    for (int r = 0; r < N_DROP_REASONS; r++) {
        CHECK(strlen(drop_reason_name(r)) > 0);
        CHECK(strlen(drop_reason_desc(r)) > 0);
        CHECK_EQ((int) drop_reason_from_name(drop_reason_name(r)), r);
    }
    CHECK_EQ(drop_reason_from_name("hairpin"), DROP_HAIRPIN);
    CHECK_EQ(drop_reason_from_name("no such reason"), DROP_NONE);
    CHECK_STREQ(drop_reason_name(N_DROP_REASONS), "?");
}

int
main(void)
{
    log_set_level(LOG_WARN);
    RUN(test_local_output);
    RUN(test_cache_hits);
    RUN(test_tunnel_geneve);
    RUN(test_tunnel_vxlan);
    RUN(test_small_frame_batching);
    RUN(test_broadcast);
    RUN(test_arp_reply);
    RUN(test_drops);
    RUN(test_port_del);
    RUN(test_expiry);
    RUN(test_malformed_tunnel);
    RUN(test_tso_to_tunnel);
    RUN(test_partial_csum_to_tunnel);
    RUN(test_tso_burst);
    RUN(test_gro_tso_round_trip);
    RUN(test_gro_mixed_flows);
    RUN(test_gro_not_merged);
    RUN(test_gro_boundaries);
    RUN(test_gro_ipv6);
    RUN(test_gro_disabled);
    RUN(test_ratelimit_bucket);
    RUN(test_route);
    RUN(test_frag_needed);
    RUN(test_fragmentation);
    RUN(test_icmp_error);
    RUN(test_icmp_rate_limit);
    RUN(test_icmp_reply);
    RUN(test_rewrite_after_output);
    RUN(test_userspace);
    RUN(test_ct_tcp);
    RUN(test_ct_tso);
    RUN(test_ct_udp_icmp_zones);
    RUN(test_ct_fragments);
    RUN(test_ct_gro);
    RUN(test_ct_check_mtu);
    RUN(test_ct_guarded_flood);
    RUN(test_ct_guarded_flood_fragments);
    RUN(test_afpacket_netns);
    RUN(test_drop_reason_names);
    return unit_finish();
}
