/*
 * kpath.bpf.c -- Weft's kernel fast path: cached flows executed by TC BPF
 * programs, so that a packet of a known flow never wakes the agent.
 *
 * The agent stays the only place where decisions are made.  It simulates
 * a flow's first packet as always, and when the resulting megaflow's
 * actions are ones this program can execute (one output to a VM port, or
 * one tunnel send), it copies the megaflow -- key, mask, action -- into the
 * maps below.  Everything else is a miss, handed to the agent unchanged
 * apart from a small header that says where it came from.
 *
 *   kp_port_in     TC ingress of a VM port's host-side device: the frames
 *                  the VM sends.
 *   kp_tunnel_in   TC ingress of the kernel tunnel device (VXLAN or
 *                  Geneve in metadata mode): the frames it decapsulated,
 *                  with the VNI and outer source in the tunnel key.
 *   kp_miss_in     TC ingress of the miss device: drops.  The agent's
 *                  packet socket on that device has already copied the
 *                  frame (packet taps run before TC ingress).
 *
 * The flow key is struct flow_key's layout (kpath-abi.h) and is extracted
 * here exactly as lib/flow-key.c extracts it, but only for the packets
 * this program supports: untagged Ethernet carrying IPv4 (not a fragment)
 * or IPv6 (no extension headers) with TCP, UDP or ICMP/ICMPv6 (not
 * neighbor discovery) headers complete.  Anything else is a miss without a
 * lookup, so a megaflow can never match here on a field that is extracted
 * differently.  The classifier is the agent's: for each mask in use, AND
 * the key with it and look the result up in one hash map.  The agent only
 * installs megaflows that do not overlap, so the first hit is the answer.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "datapath/kpath-abi.h"

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct kp_conf);
} kp_conf SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, KP_MAX_MASKS);
    __type(key, __u32);
    __type(value, struct kp_mask);
} kp_masks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, KP_MAX_FLOWS);
    __type(key, struct kp_flow_key);
    __type(value, struct kp_flow);
} kp_flows SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, KP_MAX_PORTS);
    __type(key, __u32);
    __type(value, struct kp_port);
} kp_ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, struct kp_tunnel);
} kp_tunnels SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, KP_N_COUNTERS);
    __type(key, __u32);
    __type(value, __u64);
} kp_counters SEC(".maps");

/* Tests (BPF_PROG_TEST_RUN, with KP_CONF_RECORD): the key kp_port_in
 * extracted last, and whether it supported the packet. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct kp_last);
} kp_last SEC(".maps");

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define TCP_HDR_LEN 20
#define IPPROTO_ICMPV6_ 58
#define ICMPV6_NS 135
#define ICMPV6_NA 136

static __always_inline void
count(__u32 which)
{
    __u64 *c = bpf_map_lookup_elem(&kp_counters, &which);

    if (c) {
        *c += 1;
    }
}

/* Fills the L4 fields of 'k' for protocol 'proto' at 'ofs' ('l4_len'
 * bytes of L4 in the IP packet).  Returns 0 if supported. */
static __always_inline int
extract_l4(struct __sk_buff *skb, __u32 ofs, __u32 l4_len, __u8 proto,
           int ipv6, struct kp_key *k)
{
    __u8 h[14];

    if (proto == IPPROTO_TCP) {
        __u32 doff;

        if (l4_len < TCP_HDR_LEN
            || bpf_skb_load_bytes(skb, ofs, h, 14) < 0) {
            return -1;
        }
        doff = (__u32) (h[12] >> 4) * 4;
        if (doff < TCP_HDR_LEN || doff > l4_len) {
            return -1;
        }
        __builtin_memcpy(&k->tp_src, h, 2);
        __builtin_memcpy(&k->tp_dst, h + 2, 2);
        k->tcp_flags = h[13];
        return 0;
    }
    if (proto == IPPROTO_UDP) {
        if (l4_len < 8 || bpf_skb_load_bytes(skb, ofs, h, 4) < 0) {
            return -1;
        }
        __builtin_memcpy(&k->tp_src, h, 2);
        __builtin_memcpy(&k->tp_dst, h + 2, 2);
        return 0;
    }
    if ((!ipv6 && proto == IPPROTO_ICMP)
        || (ipv6 && proto == IPPROTO_ICMPV6_)) {
        if (l4_len < 4 || bpf_skb_load_bytes(skb, ofs, h, 2) < 0) {
            return -1;
        }
        if (ipv6 && (h[0] == ICMPV6_NS || h[0] == ICMPV6_NA)) {
            return -1;          /* nd_target: the agent's business. */
        }
        k->tp_src = bpf_htons(h[0]);
        k->tp_dst = bpf_htons(h[1]);
        return 0;
    }
    return -1;
}

/* Extracts the flow key of the frame in 'skb' into 'k' (metadata already
 * set).  Returns 0 if this program supports the packet. */
static __always_inline int
extract(struct __sk_buff *skb, struct kp_key *k)
{
    __u8 eth[ETH_HLEN];
    __u32 len = skb->len;

    if (skb->vlan_present || len < ETH_HLEN
        || bpf_skb_load_bytes(skb, 0, eth, ETH_HLEN) < 0) {
        return -1;
    }
    __builtin_memcpy(k->eth_dst, eth, 6);
    __builtin_memcpy(k->eth_src, eth + 6, 6);
    __builtin_memcpy(&k->eth_type, eth + 12, 2);

    if (k->eth_type == bpf_htons(ETH_P_IP)) {
        __u8 ip[20];
        __u32 ihl, tot_len;
        __u16 frag;

        if (len - ETH_HLEN < 20
            || bpf_skb_load_bytes(skb, ETH_HLEN, ip, 20) < 0
            || (ip[0] >> 4) != 4) {
            return -1;
        }
        ihl = (__u32) (ip[0] & 0xf) * 4;
        tot_len = ((__u32) ip[2] << 8) | ip[3];
        if (ihl < 20 || tot_len < ihl || tot_len > len - ETH_HLEN) {
            return -1;
        }
        frag = (__u16) (((__u16) ip[6] << 8) | ip[7]);
        if (frag & (IP_MF | IP_OFFSET)) {
            return -1;
        }
        k->nw_tos = ip[1];
        k->nw_ttl = ip[8];
        k->nw_proto = ip[9];
        __builtin_memcpy(k->nw_src, ip + 12, 4);
        __builtin_memcpy(k->nw_dst, ip + 16, 4);
        return extract_l4(skb, ETH_HLEN + ihl, tot_len - ihl, ip[9], 0, k);
    }
    if (k->eth_type == bpf_htons(ETH_P_IPV6)) {
        __u8 ip[40];
        __u32 plen;

        if (len - ETH_HLEN < 40
            || bpf_skb_load_bytes(skb, ETH_HLEN, ip, 40) < 0
            || (ip[0] >> 4) != 6) {
            return -1;
        }
        plen = ((__u32) ip[4] << 8) | ip[5];
        if (40 + plen > len - ETH_HLEN) {
            return -1;
        }
        k->nw_tos = (__u8) (((ip[0] & 0xf) << 4) | (ip[1] >> 4));
        k->nw_ttl = ip[7];
        k->nw_proto = ip[6];
        __builtin_memcpy(k->nw_src, ip + 8, 16);
        __builtin_memcpy(k->nw_dst, ip + 24, 16);
        return extract_l4(skb, ETH_HLEN + 40, plen, ip[6], 1, k);
    }
    return -1;
}

static __always_inline struct kp_flow *
classify(const struct kp_key *k, const struct kp_conf *conf)
{
    struct kp_flow_key fk;
    const __u64 *kw = (const __u64 *) k;
    __u64 *fw = (__u64 *) &fk.key;

    fk.pad = 0;
    for (__u32 i = 0; i < KP_MAX_MASKS; i++) {
        const struct kp_mask *m;
        const __u64 *mw;
        struct kp_flow *f;

        if (i >= conf->n_masks) {
            break;
        }
        m = bpf_map_lookup_elem(&kp_masks, &i);
        if (!m || !m->used) {
            continue;
        }
        mw = (const __u64 *) &m->mask;
        fk.mask_idx = i;
#pragma unroll
        for (int w = 0; w < KP_KEY_U64S; w++) {
            fw[w] = kw[w] & mw[w];
        }
        f = bpf_map_lookup_elem(&kp_flows, &fk);
        if (f) {
            return f;
        }
    }
    return NULL;
}

static __always_inline int
execute(struct __sk_buff *skb, struct kp_flow *f,
        const struct kp_conf *conf)
{
    __u32 segs = skb->gso_segs ? skb->gso_segs : 1;

    if (f->action == KP_ACT_TUNNEL) {
        struct bpf_tunnel_key tk;

        __builtin_memset(&tk, 0, sizeof tk);
        tk.tunnel_id = f->vni;
        tk.remote_ipv4 = bpf_ntohl(f->remote);
        tk.local_ipv4 = bpf_ntohl(conf->local_ip);
        tk.tunnel_ttl = 64;
        if (bpf_skb_set_tunnel_key(skb, &tk, sizeof tk,
                                   BPF_F_ZERO_CSUM_TX) < 0) {
            return -1;
        }
    }
    __sync_fetch_and_add(&f->packets, segs);
    __sync_fetch_and_add(&f->bytes, skb->len);
    f->used_ns = bpf_ktime_get_ns();
    return bpf_redirect(f->ifindex, 0);
}

/* Hands the frame to the agent: 'meta' in front, into the miss device. */
static __always_inline int
miss(struct __sk_buff *skb, const struct kp_meta *meta,
     const struct kp_conf *conf)
{
    if (!conf->miss_ifindex
        || bpf_skb_change_head(skb, KP_META_LEN, 0) < 0
        || bpf_skb_store_bytes(skb, 0, meta, KP_META_LEN, 0) < 0) {
        count(KP_C_MISS_ERRORS);
        return TC_ACT_SHOT;
    }
    return bpf_redirect(conf->miss_ifindex, BPF_F_INGRESS);
}

static __always_inline void
key_zero(struct kp_key *k)
{
    __builtin_memset(k, 0, sizeof *k);
}

/* The rest of both programs: look 'k' up if the packet is 'supported'
 * and execute the flow found, or hand the packet to the agent with
 * 'meta'.  'hits' and 'misses' are the counters to bump. */
static __always_inline int
forward(struct __sk_buff *skb, const struct kp_key *k, int supported,
        const struct kp_conf *conf, const struct kp_meta *meta, __u32 hits,
        __u32 misses)
{
    if (supported) {
        struct kp_flow *f = classify(k, conf);

        if (f) {
            int r = execute(skb, f, conf);

            if (r >= 0) {
                count(hits);
                return r;
            }
        }
    } else {
        count(KP_C_UNSUPPORTED);
    }
    count(misses);
    return miss(skb, meta, conf);
}

SEC("tc")
int
kp_port_in(struct __sk_buff *skb)
{
    __u32 zero = 0, ifindex = skb->ingress_ifindex;
    const struct kp_conf *conf = bpf_map_lookup_elem(&kp_conf, &zero);
    const struct kp_port *port = bpf_map_lookup_elem(&kp_ports, &ifindex);
    struct kp_meta meta;
    struct kp_key k;
    int supported;

    if (!conf || !port) {
        return TC_ACT_OK;       /* Not ours (yet): the host's. */
    }
    key_zero(&k);
    k.in_port = port->port_no;
    supported = extract(skb, &k) == 0;
    if (conf->flags & KP_CONF_RECORD) {
        struct kp_last *last = bpf_map_lookup_elem(&kp_last, &zero);

        if (last) {
            last->key = k;
            last->supported = supported;
        }
    }
    meta.magic = bpf_htons(KP_META_MAGIC);
    meta.kind = KP_META_PORT;
    meta.encap = 0;
    meta.a = bpf_htonl(port->port_no);
    meta.b = 0;
    return forward(skb, &k, supported, conf, &meta, KP_C_PORT_HITS,
                   KP_C_PORT_MISSES);
}

SEC("tc")
int
kp_tunnel_in(struct __sk_buff *skb)
{
    __u32 zero = 0, ifindex = skb->ingress_ifindex;
    const struct kp_conf *conf = bpf_map_lookup_elem(&kp_conf, &zero);
    const struct kp_tunnel *tun = bpf_map_lookup_elem(&kp_tunnels,
                                                      &ifindex);
    struct bpf_tunnel_key tk;
    struct kp_meta meta;
    struct kp_key k;

    if (!conf || !tun) {
        return TC_ACT_SHOT;
    }
    if (bpf_skb_get_tunnel_key(skb, &tk, sizeof tk, 0) < 0) {
        count(KP_C_TUNNEL_ERRORS);
        return TC_ACT_SHOT;
    }
    key_zero(&k);
    k.in_port = 1;              /* FLOW_PORT_TUNNEL. */
    k.tun_vni = tk.tunnel_id & 0xffffff;
    k.tun_src = bpf_htonl(tk.remote_ipv4);
    meta.magic = bpf_htons(KP_META_MAGIC);
    meta.kind = KP_META_TUNNEL;
    meta.encap = (__u8) tun->encap;
    meta.a = bpf_htonl(k.tun_vni);
    meta.b = k.tun_src;
    return forward(skb, &k, extract(skb, &k) == 0, conf, &meta,
                   KP_C_TUNNEL_HITS, KP_C_TUNNEL_MISSES);
}

SEC("tc")
int
kp_miss_in(struct __sk_buff *skb)
{
    return TC_ACT_SHOT;
}
