/*
 * kpath-abi.h -- what the kernel fast path (datapath/bpf/kpath.bpf.c) and
 * the agent (datapath/kpath.c) share: map layouts, the miss header and the
 * counters.  Included by both, so it uses only <linux/types.h>.
 *
 * struct kp_key mirrors struct flow_key (lib/flow-key.h) byte for byte;
 * kpath.c checks the layout with BUILD_ASSERTs, so the agent can copy a
 * megaflow's key and mask into the kernel's maps unchanged.
 */
#ifndef WEFT_KPATH_ABI_H
#define WEFT_KPATH_ABI_H 1

#include <linux/types.h>

#define KP_KEY_U64S 12          /* sizeof(struct flow_key) / 8. */

struct kp_key {
    __u32 in_port;
    __u32 tun_vni;
    __u32 tun_src;              /* Network byte order. */
    __u32 pad0;
    __u8 eth_dst[6];
    __u8 eth_src[6];
    __u16 vlan_tci;
    __u16 eth_type;             /* Network byte order. */
    __u8 nw_proto;
    __u8 nw_tos;
    __u8 nw_ttl;
    __u8 nw_frag;
    __u32 pad1;
    __u8 nw_src[16];
    __u8 nw_dst[16];
    __u16 tp_src;
    __u16 tp_dst;
    __u8 tcp_flags;
    __u8 pad2[3];
    __u8 arp_or_nd[16];
} __attribute__((aligned(8)));

/* Masks: slots [0, KP_MAX_MASKS), searched in order up to kp_conf.n_masks;
 * a slot with used == 0 is skipped. */
#define KP_MAX_MASKS 32
struct kp_mask {
    struct kp_key mask;
    __u32 used;
    __u32 pad;
};

/* Flows: the key masked by its mask slot's mask. */
#define KP_MAX_FLOWS 65536
struct kp_flow_key {
    __u32 mask_idx;
    __u32 pad;
    struct kp_key key;
};

enum kp_action {
    KP_ACT_OUTPUT = 1,          /* Redirect to 'ifindex' (a VM port). */
    KP_ACT_TUNNEL = 2,          /* Tunnel key (vni, remote), then redirect
                                 * to the tunnel device 'ifindex'. */
};

struct kp_flow {
    __u32 action;               /* enum kp_action. */
    __u32 ifindex;
    __u32 vni;
    __u32 remote;               /* TUNNEL: network byte order. */
    __u64 packets;              /* Updated by the kernel. */
    __u64 bytes;
    __u64 used_ns;              /* bpf_ktime_get_ns() of the last hit. */
};

/* Ports: ifindex -> datapath port number. */
#define KP_MAX_PORTS 4096
struct kp_port {
    __u32 port_no;
    __u32 pad;
};

/* Tunnel devices: ifindex -> which encapsulation they carry. */
struct kp_tunnel {
    __u32 encap;                /* enum dp_encap. */
    __u32 pad;
};

/* One global configuration, at index 0. */
struct kp_conf {
    __u32 n_masks;
    __u32 miss_ifindex;         /* Misses go to this device's ingress. */
    __u32 local_ip;             /* Outer source, network byte order. */
    __u32 flags;                /* KP_CONF_*. */
};
#define KP_CONF_RECORD 0x1      /* Tests: kp_port_in fills kp_last. */

struct kp_last {
    struct kp_key key;
    __u32 supported;
    __u32 pad;
};

/* A miss reaches the agent, on the miss device, with this header in front
 * of the frame (all fields in network byte order). */
#define KP_META_MAGIC 0x5746    /* "WF". */
#define KP_META_LEN 12
enum kp_meta_kind {
    KP_META_PORT = 1,           /* a = datapath port number. */
    KP_META_TUNNEL = 2,         /* a = VNI, b = outer source IPv4. */
};
struct kp_meta {
    __u16 magic;
    __u8 kind;
    __u8 encap;                 /* TUNNEL: enum dp_encap. */
    __u32 a;
    __u32 b;
};

/* Counters (per CPU, summed by the agent). */
#define KP_COUNTERS                                                       \
    KC(PORT_HITS,     "port_hits")     /* From a VM port, sent on. */      \
    KC(TUNNEL_HITS,   "tunnel_hits")   /* From the tunnel, delivered. */   \
    KC(PORT_MISSES,   "port_misses")   /* From a VM port, to the agent. */ \
    KC(TUNNEL_MISSES, "tunnel_misses") /* From the tunnel, to the agent. */\
    KC(UNSUPPORTED,   "unsupported")   /* Missed without a lookup (not  \
                                        * IPv4/IPv6 TCP/UDP/ICMP...). */   \
    KC(MISS_ERRORS,   "miss_errors")   /* Could not be handed to the    \
                                        * agent: dropped. */               \
    KC(TUNNEL_ERRORS, "tunnel_errors") /* No tunnel key: dropped. */

enum kp_counter {
#define KC(ENUM, NAME) KP_C_##ENUM,
    KP_COUNTERS
#undef KC
    KP_N_COUNTERS
};

#endif /* kpath-abi.h */
