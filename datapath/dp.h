/*
 * dp.h -- the datapath: ports, tunnel, caches and the packet loop.
 *
 * One struct dp per agent, owned by the agent's main thread (which is also
 * the packet thread: it blocks in poll_block() until a port or the tunnel
 * socket is readable, so an idle agent uses no CPU).
 *
 * Packet path, per readable port, in batches of up to DP_BATCH frames:
 *   receive (recvmmsg on AF_PACKET with PACKET_VNET_HDR, or on the tunnel's
 *   UDP sockets) -> flow_key_extract() -> exact-match cache -> megaflow
 *   classifier -> on a miss, the upcall (the agent's simulation) whose
 *   result is installed as a megaflow -> execute the actions -> queue the
 *   outputs per destination -> flush every queue once per batch (sendmmsg).
 *
 * Tunnel: one UDP socket bound to 6081 (Geneve) and one to 4789 (VXLAN) on
 * the tunnel IP; both are decapsulated; the deployment's encapsulation
 * (dp_config.encap) is used to send.  VNI = the network's key; the inner
 * frame is the VM's Ethernet frame.
 *
 * Offloads: frames from VMs carry virtio-net metadata.  Output to a local
 * port passes it on; a tunnel output completes the checksum or segments a
 * TSO frame first (offload.h).  In the other direction, consecutive TCP
 * segments of one flow that arrive from the tunnel in one receive batch
 * and go to the same local port (a megaflow whose only actions are that
 * OUTPUT, possibly after CT actions) are coalesced back into one GSO
 * frame (gro.h), so the VM's kernel gets one large skb instead of one per
 * segment.  Statistics still count the segments.
 *
 * Router actions (actions.h): SET_ETH and DEC_TTL rewrite the packet for
 * the actions after them; CHECK_MTU either passes it, answers ICMP
 * "fragmentation needed" (DF set), fragments it (each fragment runs the
 * rest of the list) or, for a TCP GSO frame without DF, lowers its
 * gso_size so that every segment fits; ICMP_ERROR, ICMP_REPLY and
 * ARP_REPLY answer out of the input port (or back through the tunnel to
 * the sending host); USERSPACE hands the frame to dp_config.packet_in.
 * See dp.c for how rewrites coexist with outputs queued earlier in the
 * same list.
 *
 * Connection tracking (the CT action, conntrack.h).  One tracker per
 * datapath (dp_config.ct_max_entries connections), zones chosen by the
 * simulation (one per port: the datapath port number).  CT classifies the
 * packet and, with DP_CT_ALLOW_NEW, commits a new connection; established,
 * related and reply packets go on, a new one without ALLOW_NEW is dropped
 * (sg_denied), an invalid one too (ct_invalid); non-IP packets go on.  A
 * guarded CT (DP_CT_GUARD, one per receiving port of a flood) that refuses
 * the packet counts the drop the same way but only skips the next action
 * (that port's OUTPUT); the list goes on after it.
 * What the tracker is given:
 *   - a TSO frame from a VM is tracked once, as the one TCP segment it
 *     claims to be (its IPv4 total length covers the whole payload, which
 *     flow_key_extract() requires), before any segmentation.  The window
 *     check bounds the segment's start (seq <= the receiver's advertised
 *     edge) and end (seq + len >= what was already sent minus a window),
 *     not its length, so a super-frame inside an established connection
 *     passes and advances 'end' by its whole payload, exactly as its
 *     segments would one by one;
 *   - segments from the tunnel are tracked one by one, before coalescing
 *     (a flow of CT actions followed by one OUTPUT still coalesces);
 *   - a fragment (IPv4 or IPv6, first or not) cannot be tracked (no
 *     reassembly): it goes on only through a CT with ALLOW_NEW, i.e. when
 *     the security groups allow it on its own key (a non-first fragment has
 *     no ports), and commits nothing; otherwise it is dropped (ct_invalid).
 *     Connections that rely on fragments therefore need a rule that allows
 *     them without ports in the receiving direction;
 *   - the fragments CHECK_MTU makes are not tracked one by one: the CT
 *     actions after the CHECK_MTU are evaluated once on the whole packet
 *     before it is fragmented (dropping it whole if one refuses; a
 *     refusing guard only takes its output out of what the fragments
 *     run), and the fragments skip them.
 * Connections expire lazily and through ct_run(), called with bounded work
 * along with the flow expiry.
 *
 * ICMP errors are rate limited per input port with a token bucket
 * (dp_config.icmp_rate/icmp_burst; the tunnel is one input port), except
 * "fragmentation needed", which, as in Linux, never is: path MTU discovery
 * must not black-hole, and the error only goes back to the sender.  A
 * packet answered by an ICMP error is dropped with the reason of the
 * error's family (drop.h: ttl_exceeded, net_unreachable, host_unreachable,
 * port_unreachable, admin_prohibited, frag_needed, icmp_error) whether or
 * not the error was sent; dp_stats says what became of the errors
 * (icmp_errors_sent, icmp_errors_rate_limited, icmp_errors_suppressed).
 *
 * Threading: everything here, dp_packet_out() included, is for the thread
 * that calls dp_run().  The upcall and packet_in run inside dp_run();
 * packet_in may call dp_packet_out() and dp_get_stats()/
 * dp_get_port_stats(), nothing else of this header.
 *
 * Error convention: 0 or positive errno; NULL from constructors.
 */
#ifndef WEFT_DP_H
#define WEFT_DP_H 1

#include "datapath/actions.h"
#include "datapath/conntrack.h"
#include "datapath/drop.h"
#include "datapath/flow-tags.h"
#include "datapath/kpath.h"
#include "lib/flow-key.h"

#define DP_BATCH 32

enum dp_encap { DP_ENCAP_GENEVE, DP_ENCAP_VXLAN };

/* The kernel fast path (kpath.h). */
enum dp_fastpath {
    DP_FASTPATH_OFF,            /* Everything in the agent. */
    DP_FASTPATH_AUTO,           /* Kernel if it can be set up, else off. */
    DP_FASTPATH_KERNEL,         /* Kernel, or dp_create() fails. */
};

struct dp;

/* The simulation, as the datapath sees it: fill 'wc', 'acts', 'tags' for
 * 'key' (all initialized and empty).  Returns 0 or errno (the result is
 * then executed for this packet but not cached).  Called from dp_run(): it
 * must not call back into the datapath. */
typedef int dp_upcall_fn(void *aux, const struct flow_key *key,
                         struct flow_wc *wc, struct dp_actions *acts,
                         struct flow_tags *tags);

/* A packet for the agent (the USERSPACE action): 'why' is the action's
 * argument, 'in_port' the datapath port it came in on (FLOW_PORT_TUNNEL
 * for a decapsulated one), 'frame' the Ethernet frame with any pending
 * checksum completed (never a GSO frame), valid only during the call.
 * The packet itself is consumed: the callback may answer with
 * dp_packet_out(). */
typedef void dp_packet_in_fn(void *aux, enum dp_userspace why,
                             uint32_t in_port, const void *frame,
                             size_t len);

struct dp_config {
    be32 tunnel_ip;             /* Local underlay address (bind). */
    enum dp_encap encap;
    uint16_t geneve_port;       /* 0 = 6081. */
    uint16_t vxlan_port;        /* 0 = 4789. */
    long long flow_idle_msec;   /* Megaflow idle expiry; 0 = 10000. */
    dp_upcall_fn *upcall;
    void *upcall_aux;
    bool no_gro;                /* Deliver tunnel segments one by one
                                 * (tests and benchmarks). */
    uint32_t icmp_rate;         /* ICMP errors per second per input port;
                                 * 0 = 100. */
    uint32_t icmp_burst;        /* Bucket size; 0 = 100. */
    dp_packet_in_fn *packet_in; /* NULL: USERSPACE drops (no_userspace). */
    void *packet_in_aux;
    enum dp_fastpath fastpath;  /* Default (0): off. */
    uint32_t ct_max_entries;    /* Connections tracked at most; 0 = the
                                 * conntrack default (ct_config_default()).
                                 * Above CT_MAX_ENTRIES_LIMIT: dp_create()
                                 * fails with EINVAL. */
};

/* Creates the datapath and opens the tunnel sockets.  Returns NULL and
 * sets '*errorp' (errno) on failure. */
struct dp *dp_create(const struct dp_config *, int *errorp);
void dp_destroy(struct dp *);                   /* Accepts NULL. */

void dp_set_encap(struct dp *, enum dp_encap);

/* Attaches the network interface 'ifname' (AF_PACKET, PACKET_VNET_HDR,
 * promiscuous) and returns its new datapath port number (>=
 * FLOW_PORT_FIRST_VIF) in '*port_nop'.  Returns 0 or errno (ENODEV if the
 * interface does not exist). */
int dp_port_add(struct dp *, const char *ifname, uint32_t *port_nop);
/* Detaches a port; flows that output to it are removed. */
void dp_port_del(struct dp *, uint32_t port_no);

/* Tests: attaches an in-memory "dummy" port named 'name' (see
 * datapath/port.h) and returns its port number in '*port_nop'.  Returns 0
 * or errno. */
int dp_port_add_dummy(struct dp *, const char *name, uint32_t *port_nop);

struct virtio_net_hdr;

/* Tests: queues 'frame' ('len' bytes) with virtio-net header 'vh' (NULL
 * for none) for reception on dummy port 'port_no'; the next dp_run()
 * processes it.  Returns 0, ENODEV if 'port_no' is not a dummy port, or
 * the error of port_dummy_inject(). */
int dp_dummy_inject(struct dp *, uint32_t port_no,
                    const struct virtio_net_hdr *vh, const void *frame,
                    size_t len);

/* Tests: removes the oldest frame the datapath sent on dummy port
 * 'port_no', storing its virtio-net header in '*vh' (may be NULL) and at
 * most 'size' bytes of it in 'buf'.  Returns the frame's length, or 0 if
 * none is waiting (or the port is not a dummy port). */
size_t dp_dummy_drain(struct dp *, uint32_t port_no, struct virtio_net_hdr *vh,
                      void *buf, size_t size);

/* Sends the Ethernet frame 'frame' ('len' bytes, no offload metadata)
 * out of local port 'port_no'.  The frame is copied: the caller keeps
 * it.  From inside packet_in the frame leaves with the rest of the
 * batch; outside dp_run() it is sent before this returns.  Returns 0,
 * ENODEV if 'port_no' is not a local port, EINVAL if 'len' is shorter
 * than an Ethernet header or longer than a port can send, or ENOBUFS if
 * the batch's memory is exhausted (not with frames of a legal size).  A
 * send error is counted (port tx_errors, drop tx_error), not returned. */
int dp_packet_out(struct dp *, uint32_t port_no, const void *frame,
                  size_t len);

/* Invalidates the flows tagged with any tag in 'changed'. */
void dp_invalidate(struct dp *, const struct tag_set *changed);
void dp_flush(struct dp *);

/* Does bounded work on whatever I/O is ready, expires idle flows.  Never
 * blocks.  Returns the number of frames received (ports and tunnel), so
 * that the caller can tell an active datapath from an idle one. */
size_t dp_run(struct dp *);
/* Registers the datapath's file descriptors and timers with the poll
 * loop. */
void dp_wait(struct dp *);

/* Statistics. */
struct dp_port_stats {
    uint32_t port_no;
    char name[16];
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, tx_errors;
};

struct dp_stats {
    uint64_t drops[N_DROP_REASONS];
    uint64_t emc_hits, emc_misses;
    uint64_t mf_hits, upcalls;
    uint64_t tunnel_rx, tunnel_tx;
    uint64_t tunnel_tx_datagrams;   /* UDP datagrams for tunnel_tx packets
                                     * (fewer with UDP GSO batching). */
    size_t n_megaflows;
    uint64_t gro_frames;        /* Coalesced frames delivered locally... */
    uint64_t gro_segs;          /* ...made of this many tunnel packets. */
    uint64_t icmp_errors_sent;  /* ICMP_ERROR and CHECK_MTU (DF). */
    uint64_t icmp_errors_rate_limited;  /* Not sent: bucket empty. */
    uint64_t icmp_errors_suppressed;    /* Not sent: RFC 1122 forbids an
                                         * error about that packet. */
    uint64_t icmp_echo_replies; /* ICMP_REPLY answers sent. */
    uint64_t ip_fragmented;     /* Packets CHECK_MTU fragmented... */
    uint64_t ip_fragments;      /* ...into this many fragments. */
    uint64_t gso_resized;       /* TCP GSO frames without DF whose
                                 * gso_size CHECK_MTU lowered. */
    uint64_t packet_ins;        /* USERSPACE frames given to packet_in. */
    uint64_t packet_outs;       /* Frames queued by dp_packet_out(). */
    struct ct_stats ct;         /* The connection tracker's counters. */
    bool kpath;                 /* The kernel fast path is on... */
    struct kpath_stats kp;      /* ...and these are its counters. */
    uint64_t kpath_misses;      /* Frames the agent got from it. */
};

void dp_get_stats(const struct dp *, struct dp_stats *);
/* Fills at most 'max' entries; returns how many ports exist. */
size_t dp_get_port_stats(const struct dp *, struct dp_port_stats *,
                         size_t max);

/* Calls 'cb' for every tracked connection in 'zone' (or CT_ZONE_ALL) until
 * it returns false (ct_dump()).  'cb' must not call into the datapath. */
void dp_ct_dump(const struct dp *, int zone,
                bool (*cb)(const struct ct_conn_info *, void *aux),
                void *aux);
/* Forgets every connection in 'zone' (or CT_ZONE_ALL); their next packets
 * are judged as new ones.  Returns how many were removed. */
size_t dp_ct_flush(struct dp *, int zone);
/* Forgets the connections for which 'pred' returns true, in bounded
 * steps over the table (ct_flush_if_step()).  Returns how many were
 * removed. */
size_t dp_ct_flush_if_step(struct dp *, uint32_t *cursor, uint32_t max_slots,
                           bool (*pred)(const struct ct_conn_info *,
                                        void *aux),
                           void *aux, bool *done);

struct megaflow;
/* Calls 'cb' for every megaflow. */
void dp_for_each_flow(const struct dp *,
                      void (*cb)(const struct megaflow *, void *aux),
                      void *aux);

#endif /* WEFT_DP_H */
