/*
 * dp.c -- the datapath: ports, tunnel, caches and the packet loop (see
 * dp.h for the contract).
 *
 * Shape of one receive batch (dp_run_rx(), dp_run_tunnel()):
 *
 *   recv up to DP_BATCH frames into the shared receive slots (or, from the
 *   tunnel, one tunnel_recv(): up to TUNNEL_RX_BATCH datagrams split into
 *   their segments, all processed as one batch)
 *     -> dp_process(): per packet, flow_key_extract, hash, EMC, megaflow,
 *        upcall on a miss (a packet whose key equals the previous one's
 *        reuses its flow); execute the flow's actions, which only *queue*:
 *          OUTPUT     -> that port's tx queue (iovecs into the rx slot);
 *                        from the tunnel, with OUTPUT the only action
 *                        (CT actions before it allowed), a
 *                        TCP segment may instead join a coalescing
 *                        context (dp_gro_output(), gro.h) whose merged
 *                        GSO frame (headers in the scratch arena, payload
 *                        left in the tunnel's receive buffers) is queued
 *                        when the context closes,
 *          TUNNEL     -> the tunnel's tx queue (8-byte header + iovecs),
 *                        after completing a pending checksum in place or
 *                        segmenting a TSO frame into the scratch arena,
 *          ARP_REPLY  -> a copy in the scratch arena, rewritten, queued
 *                        on the input port (from the tunnel: back
 *                        through the tunnel to the sending host, with
 *                        the packet's VNI; dp_send_back()),
 *          ICMP_REPLY -> the echo request rewritten into its reply in
 *                        place, queued like ARP_REPLY,
 *          ICMP_ERROR -> the error built in the scratch arena, queued
 *                        like ARP_REPLY if the input port's token bucket
 *                        allows; the packet is dropped,
 *          CHECK_MTU  -> nothing, or an ICMP error as above, or the
 *                        fragments written to the scratch arena, each
 *                        running the rest of the list as a packet of its
 *                        own (dp_fragment()), or a smaller gso_size,
 *          SET_ETH, DEC_TTL -> rewrite the frame in place (see below),
 *          CT         -> ct_execute() on the frame with the key and
 *                        layout dp_process() extracted; the packet goes
 *                        on or is dropped (sg_denied, ct_invalid) -- with
 *                        GUARD only the next action is skipped; for the
 *                        fragments of CHECK_MTU, once on the whole packet
 *                        beforehand (dp_fragment_actions()),
 *          USERSPACE  -> packet_in() called at once; dp_packet_out()
 *                        from inside it queues a copy in the arena,
 *          DROP       -> dp_drop();
 *     -> dp_flush_tx(): close the coalescing contexts, one sendmmsg per
 *        port with frames, one per tunnel socket; the scratch arena is
 *        reset.
 *
 * The clock is read once per batch.  Each readable source gets at most
 * DP_RX_BATCHES batches per dp_run(), so a busy port cannot starve the
 * others (epoll is level-triggered: the rest is picked up next time).
 *
 * Memory that queued frames point into (rx slots, scratch arena, the
 * tunnel's receive buffers) stays untouched until the next dp_flush_tx(),
 * which is the only place queues are emptied.  A local output copies the
 * virtio-net header into its queue entry, so a packet's header may change
 * after an output without changing what that output sends.
 *
 * Rewrites and outputs in one list.  OUTPUT and TUNNEL queue pointers to
 * the packet's bytes, so rewriting them later in the same list (SET_ETH,
 * DEC_TTL, completing a pending checksum) would change what an earlier
 * output sends.  A packet therefore carries a 'shared' flag, set by every
 * output that points into it; a rewrite of a shared packet first moves
 * the packet to a copy in the scratch arena (dp_packet_writable()).  The
 * simulation emits rewrites only before a single OUTPUT or TUNNEL, so the
 * routed fast path rewrites in place and copies nothing; a flood that
 * rewrites between outputs is correct, one copy per rewrite stage.
 * Rewrites never touch L4 checksums (TTL and MACs are not covered by
 * them), so offload metadata (partial checksum, GSO) stays valid.
 *
 * The arena also holds the packet being executed when it lives there (a
 * copy made to rewrite it, its fragments): a flush in the middle of its
 * actions must not reuse that memory, so such allocations move
 * 'scratch_pin', the part of the arena a flush keeps, up to their end;
 * the pin drops back to zero when the packet's actions end (its memory is
 * then only referenced by queued frames, which the next flush sends).
 */
#include "datapath/dp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "datapath/emc.h"
#include "datapath/gro.h"
#include "datapath/megaflow.h"
#include "datapath/offload.h"
#include "datapath/port.h"
#include "datapath/tunnel.h"
#include "lib/log.h"
#include "lib/packet-edit.h"
#include "lib/poll-loop.h"
#include "lib/ratelimit.h"

#define DP_RX_BATCHES 4             /* Per source per dp_run(). */
#define DP_PORT_TXQ 64              /* Frames queued per port. */
#define DP_SCRATCH_SIZE (2 * 1024 * 1024)
#define DP_SEG_MAX 512              /* Segments per TSO frame. */
#define DP_ARP_MAX 1536             /* Largest ARP frame we answer. */
#define DP_FRAG_MAX 128             /* Fragments per packet (CHECK_MTU). */
#define DP_GSO_SEG_MIN 64           /* Smallest gso_size CHECK_MTU sets. */
#define DP_ICMP_RATE 100            /* ICMP errors/s per input port... */
#define DP_ICMP_BURST 100           /* ...and the bucket's size. */
#define DP_EXPIRE_INTERVAL 1000     /* msec, at most. */
#define DP_CT_RUN_WORK 16384        /* Tracker slots swept per expiry. */
#define DP_IDLE_DEFAULT 10000       /* msec. */
#define DP_EPOLL_EVENTS 64
#define DP_GRO_MAX 8                /* Flows coalesced at once. */
#define DP_TUN_PKTS (TUNNEL_RX_BATCH * TUNNEL_RX_SEGS_MAX)
#define DP_SLOT_STRIDE ROUND_UP(PORT_SLOT_SIZE, CACHE_LINE)

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5     /* Linux 4.18; older headers. */
#endif

/* epoll ids of the tunnel sockets and the kernel fast path's miss device
 * (port numbers are small). */
#define DP_ID_TUNNEL_BASE 0xffffff00u
#define DP_ID_KPATH_MISS 0xfffffe00u

BUILD_ASSERT_DECL(sizeof(struct virtio_net_hdr) == PORT_VNET_HDR_LEN);

/* One packet of the batch being processed (or a fragment of one). */
struct dp_packet {
    uint8_t *frame;
    size_t len;
    struct virtio_net_hdr vh;   /* Sent along with local outputs. */
    uint32_t in_port;
    uint32_t tun_vni;
    be32 tun_src;
    struct packet_layout lo;    /* From flow_key_extract(). */
    const struct flow_key *key; /* Its key as received (dp_process()'s,
                                 * valid while its actions run).  Rewrites
                                 * leave stale only fields the tracker
                                 * does not read (MACs, TTL). */
    bool shared;                /* A queued output points into 'frame'. */
};

/* What one queued frame stands for in the statistics: a coalesced frame
 * counts as the segments it was built from. */
struct dp_txmeta {
    uint32_t n_pkts;
    uint32_t n_bytes;
};

struct dp_port {
    uint32_t port_no;
    struct port *port;
    struct dp_port_stats stats;
    bool dirty;                 /* In dp->dirty[]. */
    int n_tx;
    struct port_tx txq[DP_PORT_TXQ];
    struct dp_txmeta txmeta[DP_PORT_TXQ];
    struct virtio_net_hdr txvh[DP_PORT_TXQ];    /* txq[i].iov[0]. */
    struct ratelimit icmp_rl;   /* ICMP errors about its packets. */
};

/* A flow being coalesced for delivery to local port 'port_no'. */
struct dp_gro {
    uint32_t port_no;
    struct gro_ctx ctx;
};

/* The scratch memory of a coalesced frame: the message's iovecs (the
 * payload stays where the tunnel received it), its virtio-net header and
 * its patched headers. */
struct dp_gro_buf {
    struct iovec iov[GRO_IOVS];
    struct virtio_net_hdr vh;
    uint8_t hdrs[GRO_HDRS_MAX];
};
BUILD_ASSERT_DECL(GRO_IOVS <= PORT_TX_IOVS);

struct dp {
    struct dp_config cfg;
    enum dp_encap encap;
    long long idle_msec;
    long long expire_interval;
    long long next_expire;

    struct tunnel *tunnel;
    int epfd;

    /* The kernel fast path, or NULL; its misses arrive on 'kp_miss'. */
    struct kpath *kp;
    struct port *kp_miss;

    struct dp_port **ports;     /* Indexed by port number; NULL = free. */
    size_t n_port_slots;
    size_t n_ports;
    uint32_t *dirty;            /* Port numbers with queued frames. */
    size_t n_dirty;

    struct mf_table *mf;
    struct emc *emc;
    struct conntrack *ct;

    /* Per-batch memory. */
    uint8_t *rx_slots;          /* DP_BATCH * DP_SLOT_STRIDE. */
    struct port_rx rx[DP_BATCH];    /* rx[i].slot set once, in
                                     * dp_create(). */
    struct dp_packet pkts[DP_BATCH];
    struct dp_packet *tun_pkts;     /* DP_TUN_PKTS: one tunnel_recv(). */
    uint8_t *scratch;           /* DP_SCRATCH_SIZE. */
    size_t scratch_used;
    size_t scratch_pin;         /* A flush keeps [0, scratch_pin). */
    size_t seg_offsets[DP_SEG_MAX];
    size_t seg_lens[DP_SEG_MAX];

    /* Receive coalescing (gro.h), open until the next dp_flush_tx(). */
    struct dp_gro gro[DP_GRO_MAX];
    size_t n_gro;

    long long now;              /* Batch clock (msec). */
    bool in_batch;              /* In dp_process(): a flush follows. */
    bool in_callback;           /* In packet_in(). */
    uint32_t icmp_rate, icmp_burst;
    struct ratelimit tunnel_icmp_rl;    /* The tunnel's input bucket. */

    /* Statistics, apart from the fields dp_get_stats() asks the tunnel
     * and the megaflow table for. */
    struct dp_stats stats;
};

static const struct virtio_net_hdr zero_vh;

static void dp_drop(struct dp *, enum drop_reason, uint64_t n);
static void dp_flush_tx(struct dp *);
static void dp_output(struct dp *, uint32_t port_no,
                      const struct virtio_net_hdr *, const uint8_t *frame,
                      size_t len);
static uint8_t *dp_scratch_alloc(struct dp *, size_t size);
static struct dp_port *dp_port_lookup(const struct dp *, uint32_t port_no);
static bool dp_ct(struct dp *, struct dp_packet *, const struct dp_action *);
static int dp_port_add__(struct dp *, const struct port_class *,
                         const char *name, uint32_t *port_nop);
static int dp_kpath_open(struct dp *);
static void dp_flow_removed(void *dp_, struct megaflow *);

struct dp *
dp_create(const struct dp_config *cfg, int *errorp)
{
    struct dp *dp;
    int error;

    if (!cfg->upcall) {
        *errorp = EINVAL;
        return NULL;
    }

    if (cfg->ct_max_entries > CT_MAX_ENTRIES_LIMIT) {
        *errorp = EINVAL;
        return NULL;
    }

    dp = xzalloc(sizeof *dp);
    dp->cfg = *cfg;
    dp->encap = cfg->encap;
    dp->idle_msec = cfg->flow_idle_msec > 0 ? cfg->flow_idle_msec
                                            : DP_IDLE_DEFAULT;
    dp->expire_interval = MIN(dp->idle_msec, DP_EXPIRE_INTERVAL);
    dp->now = time_msec();
    dp->next_expire = dp->now + dp->expire_interval;
    dp->icmp_rate = cfg->icmp_rate ? cfg->icmp_rate : DP_ICMP_RATE;
    dp->icmp_burst = cfg->icmp_burst ? cfg->icmp_burst : DP_ICMP_BURST;
    ratelimit_init(&dp->tunnel_icmp_rl, dp->icmp_rate, dp->icmp_burst,
                   dp->now);

    dp->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (dp->epfd < 0) {
        error = errno;
        goto error_free;
    }
    if (cfg->fastpath != DP_FASTPATH_OFF) {
        error = dp_kpath_open(dp);
        if (error && cfg->fastpath == DP_FASTPATH_KERNEL) {
            VLOG_ERR("datapath: kernel fast path: %s", strerror(error));
            goto error_close_ep;
        }
        if (error) {
            VLOG_WARN("datapath: kernel fast path unavailable (%s): "
                      "every packet goes through the agent",
                      strerror(error));
        }
    }
    dp->tunnel = tunnel_open(cfg->tunnel_ip,
                             (kpath_has_tunnel(dp->kp, DP_ENCAP_GENEVE)
                              ? 1u << DP_ENCAP_GENEVE : 0)
                             | (kpath_has_tunnel(dp->kp, DP_ENCAP_VXLAN)
                                ? 1u << DP_ENCAP_VXLAN : 0),
                             cfg->geneve_port, cfg->vxlan_port, &error);
    if (!dp->tunnel) {
        goto error_close_ep;
    }
    for (int e = DP_ENCAP_GENEVE; e <= DP_ENCAP_VXLAN; e++) {
        struct epoll_event ev = { .events = EPOLLIN };

        ev.data.u64 = DP_ID_TUNNEL_BASE + (uint32_t) e;
        if (epoll_ctl(dp->epfd, EPOLL_CTL_ADD, tunnel_fd(dp->tunnel, e),
                      &ev) < 0) {
            error = errno;
            goto error_close_tunnel;
        }
    }

    dp->mf = mf_create();
    mf_set_remove_hook(dp->mf, dp_flow_removed, dp);
    dp->emc = emc_create();
    {
        struct ct_config ctc;

        ct_config_default(&ctc);
        if (cfg->ct_max_entries) {
            ctc.max_entries = cfg->ct_max_entries;
        }
        dp->ct = ct_create(&ctc);
    }
    dp->rx_slots = xmalloc(DP_BATCH * DP_SLOT_STRIDE);
    for (size_t i = 0; i < DP_BATCH; i++) {
        dp->rx[i].slot = dp->rx_slots + i * DP_SLOT_STRIDE;
    }
    dp->scratch = xmalloc(DP_SCRATCH_SIZE);
    dp->tun_pkts = xmalloc(DP_TUN_PKTS * sizeof *dp->tun_pkts);
    return dp;

error_close_tunnel:
    tunnel_close(dp->tunnel);
error_close_ep:
    if (dp->kp_miss) {
        dp->kp_miss->class->close(dp->kp_miss);
    }
    kpath_close(dp->kp);
    close(dp->epfd);
error_free:
    free(dp);
    *errorp = error;
    return NULL;
}

void
dp_destroy(struct dp *dp)
{
    if (!dp) {
        return;
    }
    for (size_t i = 0; i < dp->n_port_slots; i++) {
        if (dp->ports[i]) {
            dp->ports[i]->port->class->close(dp->ports[i]->port);
            free(dp->ports[i]);
        }
    }
    free(dp->ports);
    free(dp->dirty);
    ct_destroy(dp->ct);
    emc_destroy(dp->emc);
    mf_destroy(dp->mf);
    if (dp->kp_miss) {
        dp->kp_miss->class->close(dp->kp_miss);
    }
    kpath_close(dp->kp);
    tunnel_close(dp->tunnel);
    close(dp->epfd);
    free(dp->rx_slots);
    free(dp->scratch);
    free(dp->tun_pkts);
    free(dp);
}

void
dp_set_encap(struct dp *dp, enum dp_encap encap)
{
    if (dp->kp && encap != dp->encap) {
        /* Offloaded tunnel flows name the old encapsulation's device. */
        dp_flush(dp);
    }
    dp->encap = encap;
}

/* Opens the kernel fast path and the packet socket on its miss device. */
static int
dp_kpath_open(struct dp *dp)
{
    struct kpath_config kc;
    struct epoll_event ev = { .events = EPOLLIN };
    int error;

    memset(&kc, 0, sizeof kc);
    kc.local_ip = dp->cfg.tunnel_ip;
    kc.geneve_port = dp->cfg.geneve_port;
    kc.vxlan_port = dp->cfg.vxlan_port;
    error = kpath_open(&kc, &dp->kp);
    if (error) {
        return error;
    }
    error = port_afpacket_class.open(KPATH_MISS_DEV, &dp->kp_miss);
    if (!error) {
        ev.data.u64 = DP_ID_KPATH_MISS;
        if (epoll_ctl(dp->epfd, EPOLL_CTL_ADD,
                      dp->kp_miss->class->get_fd(dp->kp_miss), &ev) < 0) {
            error = errno;
        }
    }
    if (error) {
        if (dp->kp_miss) {
            dp->kp_miss->class->close(dp->kp_miss);
            dp->kp_miss = NULL;
        }
        kpath_close(dp->kp);
        dp->kp = NULL;
    }
    return error;
}

static void
dp_flow_removed(void *dp_, struct megaflow *flow)
{
    struct dp *dp = dp_;

    kpath_flow_del(dp->kp, flow);
}

int
dp_port_add(struct dp *dp, const char *ifname, uint32_t *port_nop)
{
    int error;

    if (!dp->kp) {
        return dp_port_add__(dp, &port_afpacket_class, ifname, port_nop);
    }
    error = dp_port_add__(dp, &port_afpacket_tx_class, ifname, port_nop);
    if (error) {
        return error;
    }
    error = kpath_port_add(dp->kp, *port_nop, ifname);
    if (error) {
        /* The port still works, through its own packet socket. */
        VLOG_WARN("datapath: %s: kernel fast path: %s; the agent forwards "
                  "its packets", ifname, strerror(error));
        dp_port_del(dp, *port_nop);
        return dp_port_add__(dp, &port_afpacket_class, ifname, port_nop);
    }
    return 0;
}

int
dp_port_add_dummy(struct dp *dp, const char *name, uint32_t *port_nop)
{
    return dp_port_add__(dp, &port_dummy_class, name, port_nop);
}

static struct dp_port *
dp_port_lookup(const struct dp *dp, uint32_t port_no)
{
    return port_no < dp->n_port_slots ? dp->ports[port_no] : NULL;
}

void
dp_port_del(struct dp *dp, uint32_t port_no)
{
    struct dp_port *p = dp_port_lookup(dp, port_no);

    ASSERT(!dp->in_callback);
    if (!p) {
        return;
    }
    ASSERT(!p->n_tx && !p->dirty);
    kpath_port_del(dp->kp, port_no);
    epoll_ctl(dp->epfd, EPOLL_CTL_DEL, p->port->class->get_fd(p->port),
              NULL);
    p->port->class->close(p->port);
    free(p);
    dp->ports[port_no] = NULL;
    dp->n_ports--;

    /* Flows may output to the port; its number may be reused. */
    dp_flush(dp);
}

void
dp_invalidate(struct dp *dp, const struct tag_set *changed)
{
    /* The EMC needs nothing: its entries for removed flows are dead and
     * miss. */
    ASSERT(!dp->in_callback);
    mf_invalidate(dp->mf, changed);
}

void
dp_flush(struct dp *dp)
{
    ASSERT(!dp->in_callback);
    emc_clear(dp->emc);
    mf_flush(dp->mf);
}

int
dp_dummy_inject(struct dp *dp, uint32_t port_no,
                const struct virtio_net_hdr *vh, const void *frame,
                size_t len)
{
    struct dp_port *p = dp_port_lookup(dp, port_no);

    if (!p || p->port->class != &port_dummy_class) {
        return ENODEV;
    }
    return port_dummy_inject(p->port, vh, frame, len);
}

size_t
dp_dummy_drain(struct dp *dp, uint32_t port_no, struct virtio_net_hdr *vh,
               void *buf, size_t size)
{
    struct dp_port *p = dp_port_lookup(dp, port_no);

    if (!p || p->port->class != &port_dummy_class) {
        return 0;
    }
    return port_dummy_pop(p->port, vh, buf, size);
}

int
dp_packet_out(struct dp *dp, uint32_t port_no, const void *frame, size_t len)
{
    uint8_t *copy;

    if (!dp_port_lookup(dp, port_no)) {
        return ENODEV;
    }
    if (len < ETH_HDR_LEN || len > PORT_FRAME_MAX) {
        return EINVAL;
    }
    copy = dp_scratch_alloc(dp, len);
    if (!copy) {
        return ENOBUFS;
    }
    memcpy(copy, frame, len);
    dp_output(dp, port_no, &zero_vh, copy, len);
    dp->stats.packet_outs++;
    if (!dp->in_batch) {
        dp_flush_tx(dp);
    }
    return 0;
}

void
dp_get_stats(const struct dp *dp, struct dp_stats *s)
{
    *s = dp->stats;
    s->tunnel_tx_datagrams = tunnel_tx_datagrams(dp->tunnel);
    s->n_megaflows = mf_count(dp->mf);
    ct_get_stats(dp->ct, &s->ct);
    s->kpath = dp->kp != NULL;
    kpath_get_stats(dp->kp, &s->kp);
}

void
dp_ct_dump(const struct dp *dp, int zone,
           bool (*cb)(const struct ct_conn_info *, void *aux), void *aux)
{
    ct_dump(dp->ct, zone, cb, aux);
}

size_t
dp_ct_flush(struct dp *dp, int zone)
{
    return ct_flush(dp->ct, zone);
}

size_t
dp_ct_flush_if_step(struct dp *dp, uint32_t *cursor, uint32_t max_slots,
                    bool (*pred)(const struct ct_conn_info *, void *aux),
                    void *aux, bool *done)
{
    return ct_flush_if_step(dp->ct, cursor, max_slots, pred, aux, done);
}

size_t
dp_get_port_stats(const struct dp *dp, struct dp_port_stats *out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < dp->n_port_slots; i++) {
        const struct dp_port *p = dp->ports[i];

        if (p) {
            if (n < max) {
                out[n] = p->stats;
            }
            n++;
        }
    }
    return n;
}

void
dp_for_each_flow(const struct dp *dp,
                 void (*cb)(const struct megaflow *, void *aux), void *aux)
{
    mf_for_each(dp->mf, cb, aux);
}

/* Packet loop. */

static void dp_process(struct dp *, struct dp_packet *, size_t n,
                       long long now);
static void dp_execute__(struct dp *, struct dp_packet *,
                         const struct dp_actions *);
static bool dp_packet_complete_csum(struct dp *, struct dp_packet *);
static size_t dp_run_rx(struct dp *, struct port *, struct dp_port *vif);
static size_t dp_run_tunnel(struct dp *, enum dp_encap);

static void
dp_kpath_sync_flow(const struct megaflow *flow, void *kp)
{
    /* mf_for_each() hands out const flows; the statistics are ours. */
    kpath_flow_sync(kp, (struct megaflow *) flow);
}

size_t
dp_run(struct dp *dp)
{
    struct epoll_event evs[DP_EPOLL_EVENTS];
    size_t n_rx = 0;
    long long now;
    int n;

    ASSERT(!dp->in_callback);
    n = epoll_wait(dp->epfd, evs, DP_EPOLL_EVENTS, 0);
    for (int i = 0; i < n; i++) {
        uint64_t id = evs[i].data.u64;

        if (id == DP_ID_KPATH_MISS) {
            n_rx += dp_run_rx(dp, dp->kp_miss, NULL);
        } else if (id >= DP_ID_TUNNEL_BASE) {
            n_rx += dp_run_tunnel(dp,
                                  (enum dp_encap) (id - DP_ID_TUNNEL_BASE));
        } else {
            struct dp_port *p = dp_port_lookup(dp, (uint32_t) id);

            if (p) {
                n_rx += dp_run_rx(dp, p->port, p);
            }
        }
    }

    now = time_msec();
    if (now >= dp->next_expire) {
        size_t n_expired;

        if (dp->kp) {
            /* The kernel's hits keep offloaded flows alive. */
            mf_for_each(dp->mf, dp_kpath_sync_flow, dp->kp);
        }
        n_expired = mf_expire(dp->mf, now, dp->idle_msec);
        size_t n_conns = ct_run(dp->ct, now, DP_CT_RUN_WORK);

        if (n_expired || n_conns) {
            VLOG_DBG("datapath: %zu idle flows, %zu connections expired",
                     n_expired, n_conns);
        }
        dp->next_expire = now + dp->expire_interval;
    }
    return n_rx;
}

void
dp_wait(struct dp *dp)
{
    poll_fd_wait(dp->epfd, POLLIN);
    if (mf_count(dp->mf)) {
        poll_timer_wait_until(dp->next_expire);
    }
}

/* A frame from the kernel fast path's miss device: strips its struct
 * kp_meta and sets where the frame came from -- a VM port, or the tunnel
 * (the kernel device decapsulated it).  The virtio-net header's offsets
 * count the meta header, so they move back with the frame's start.
 * Returns false for a frame without a valid header. */
static bool
dp_kpath_unwrap(struct dp *dp, struct dp_packet *pkt)
{
    struct kp_meta meta;

    dp->stats.kpath_misses++;
    if (!kpath_meta_parse(pkt->frame, pkt->len, &meta)) {
        return false;
    }
    if (pkt->vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        if (pkt->vh.csum_start < KP_META_LEN) {
            return false;
        }
        pkt->vh.csum_start -= KP_META_LEN;
    }
    if (pkt->vh.hdr_len >= KP_META_LEN) {
        pkt->vh.hdr_len -= KP_META_LEN;
    }
    pkt->frame += KP_META_LEN;
    pkt->len -= KP_META_LEN;
    if (meta.kind == KP_META_PORT) {
        struct dp_port *p = dp_port_lookup(dp, meta.a);

        if (!p || meta.a < FLOW_PORT_FIRST_VIF) {
            return false;
        }
        pkt->in_port = meta.a;
        p->stats.rx_packets++;
        p->stats.rx_bytes += pkt->len;
    } else {
        pkt->in_port = FLOW_PORT_TUNNEL;
        pkt->tun_vni = meta.a;
        pkt->tun_src = meta.b;
        dp->stats.tunnel_rx++;
    }
    return true;
}

/* Receives and processes batches from 'port': the VM port 'vif', or, if
 * 'vif' is NULL, the kernel fast path's miss device. */
static size_t
dp_run_rx(struct dp *dp, struct port *port, struct dp_port *vif)
{
    size_t n_rx = 0;

    for (int b = 0; b < DP_RX_BATCHES; b++) {
        struct port_rx *rx = dp->rx;
        size_t n_pkts = 0;
        int n;

        n = port->class->recv_batch(port, rx, DP_BATCH);
        if (n <= 0) {
            break;
        }
        n_rx += (size_t) n;

        for (int i = 0; i < n; i++) {
            struct dp_packet *pkt = &dp->pkts[n_pkts];

            if (rx[i].truncated) {
                dp_drop(dp, DROP_RX_TRUNCATED, 1);
                continue;
            }
            if (rx[i].len < PORT_VNET_HDR_LEN) {
                dp_drop(dp, DROP_RUNT, 1);
                continue;
            }
            memcpy(&pkt->vh, rx[i].data, sizeof pkt->vh);
            pkt->frame = rx[i].data + PORT_VNET_HDR_LEN;
            pkt->len = rx[i].len - PORT_VNET_HDR_LEN;
            pkt->tun_vni = 0;
            pkt->tun_src = 0;
            pkt->shared = false;
            if (!vif) {
                if (!dp_kpath_unwrap(dp, pkt)) {
                    dp_drop(dp, DROP_KPATH_BAD_MISS, 1);
                    continue;
                }
            } else {
                pkt->in_port = vif->port_no;
                vif->stats.rx_packets++;
                vif->stats.rx_bytes += pkt->len;
            }
            n_pkts++;
        }
        dp_process(dp, dp->pkts, n_pkts, time_msec());
        dp_flush_tx(dp);
        if (n < DP_BATCH) {
            break;
        }
    }
    return n_rx;
}

static size_t
dp_run_tunnel(struct dp *dp, enum dp_encap encap)
{
    size_t n_rx = 0;

    for (int b = 0; b < DP_RX_BATCHES; b++) {
        struct tunnel_rx_counts counts;
        struct tunnel_pkt *tp;
        size_t n;

        memset(&counts, 0, sizeof counts);
        n = tunnel_recv(dp->tunnel, encap, &tp, &counts);
        dp_drop(dp, DROP_TUNNEL_MALFORMED, counts.malformed);
        dp_drop(dp, DROP_RX_TRUNCATED, counts.truncated);
        dp->stats.tunnel_rx += n;
        n_rx += n;
        ASSERT(n <= DP_TUN_PKTS);

        /* The whole receive is one batch, so that the segments of every
         * GRO datagram in it can be coalesced again (dp_gro_output()).
         * The frames stay in the tunnel's buffers until the flush. */
        for (size_t i = 0; i < n; i++) {
            struct dp_packet *pkt = &dp->tun_pkts[i];

            pkt->frame = tp[i].frame;
            pkt->len = tp[i].len;
            memset(&pkt->vh, 0, sizeof pkt->vh);
            pkt->in_port = FLOW_PORT_TUNNEL;
            pkt->tun_vni = tp[i].vni;
            pkt->tun_src = tp[i].src;
            pkt->shared = false;
        }
        if (n) {
            dp_process(dp, dp->tun_pkts, n, time_msec());
            dp_flush_tx(dp);
        }
        if (counts.datagrams < TUNNEL_RX_BATCH) {
            break;
        }
    }
    return n_rx;
}

/* Every dropped packet passes here. */
static void
dp_drop(struct dp *dp, enum drop_reason reason, uint64_t n)
{
    if ((unsigned) reason >= N_DROP_REASONS) {
        reason = DROP_SIM_ERROR;
    }
    dp->stats.drops[reason] += n;
}

/* Scratch allocations are cache-line aligned. */
static size_t
dp_scratch_round(size_t size)
{
    return ROUND_UP(size, CACHE_LINE);
}

/* Returns 'size' bytes of scratch memory valid until the next
 * dp_flush_tx(), flushing first if the arena is full.  Returns NULL only
 * if 'size' exceeds what a flush leaves free (the arena minus the pinned
 * part, see the top of the file). */
static uint8_t *
dp_scratch_alloc(struct dp *dp, size_t size)
{
    uint8_t *p;

    size = dp_scratch_round(size);
    if (size > DP_SCRATCH_SIZE - dp->scratch_pin) {
        return NULL;
    }
    if (dp->scratch_used + size > DP_SCRATCH_SIZE) {
        dp_flush_tx(dp);
    }
    p = dp->scratch + dp->scratch_used;
    dp->scratch_used += size;
    return p;
}

static void
dp_port_flush(struct dp *dp, struct dp_port *p)
{
    int done = 0;

    while (done < p->n_tx) {
        int error = 0;
        int sent = p->port->class->send_batch(p->port, &p->txq[done],
                                              p->n_tx - done, &error);

        for (int i = done; i < done + sent; i++) {
            p->stats.tx_packets += p->txmeta[i].n_pkts;
            p->stats.tx_bytes += p->txmeta[i].n_bytes;
        }
        done += sent;
        if (done < p->n_tx) {
            /* A full queue fails everything behind it; any other error
             * is the frame's own. */
            int n_failed = (error == EAGAIN || error == ENOBUFS
                            ? p->n_tx - done : 1);
            uint64_t n_pkts = 0;

            for (int i = done; i < done + n_failed; i++) {
                n_pkts += p->txmeta[i].n_pkts;
            }
            p->stats.tx_errors += n_pkts;
            dp_drop(dp, DROP_TX_ERROR, n_pkts);
            done += n_failed;
        }
    }
    p->n_tx = 0;
}

static void
dp_flush_tunnel(struct dp *dp)
{
    uint64_t n_failed = 0;

    tunnel_flush(dp->tunnel, &dp->stats.tunnel_tx, &n_failed);
    dp_drop(dp, DROP_TX_ERROR, n_failed);
}

static void dp_gro_close_all(struct dp *);

static void
dp_flush_tx(struct dp *dp)
{
    dp_gro_close_all(dp);
    for (size_t i = 0; i < dp->n_dirty; i++) {
        struct dp_port *p = dp_port_lookup(dp, dp->dirty[i]);

        if (p) {
            dp_port_flush(dp, p);
            p->dirty = false;
        }
    }
    dp->n_dirty = 0;
    dp_flush_tunnel(dp);
    dp->scratch_used = dp->scratch_pin;
}

/* Returns a new entry at the end of local port 'p''s transmit queue, for
 * a frame that stands for 'n_pkts' received packets of 'n_bytes' in
 * total. */
static struct port_tx *
dp_txq_push(struct dp *dp, struct dp_port *p, uint32_t n_pkts,
            size_t n_bytes)
{
    if (p->n_tx == DP_PORT_TXQ) {
        dp_port_flush(dp, p);
    }
    if (!p->dirty) {
        p->dirty = true;
        dp->dirty[dp->n_dirty++] = p->port_no;
    }
    p->txmeta[p->n_tx].n_pkts = n_pkts;
    p->txmeta[p->n_tx].n_bytes = (uint32_t) n_bytes;
    return &p->txq[p->n_tx++];
}

/* Queues 'frame' with (a copy of) header 'vh' on local port 'p'. */
static void
dp_output__(struct dp *dp, struct dp_port *p, const struct virtio_net_hdr *vh,
            const uint8_t *frame, size_t len)
{
    struct port_tx *tx = dp_txq_push(dp, p, 1, len);
    struct virtio_net_hdr *txvh = &p->txvh[tx - p->txq];

    *txvh = *vh;
    tx->iov[0].iov_base = txvh;
    tx->iov[0].iov_len = sizeof *txvh;
    tx->iov[1].iov_base = (void *) frame;
    tx->iov[1].iov_len = len;
    tx->iovs = NULL;
    tx->n_iovs = 0;
}

/* Sends what the coalescing context 'i' holds to its port and forgets
 * it. */
static void
dp_gro_close(struct dp *dp, size_t i)
{
    struct dp_gro *g = &dp->gro[i];
    struct gro_ctx *ctx = &g->ctx;
    struct dp_port *p = dp_port_lookup(dp, g->port_no);

    ASSERT(i < dp->n_gro);
    if (!p) {
        dp_drop(dp, DROP_TX_ERROR, ctx->n_segs);
    } else if (ctx->n_segs == 1) {
        dp_output__(dp, p, &zero_vh, ctx->first.frame, ctx->first.len);
    } else {
        struct dp_gro_buf *buf = CONTAINER_OF(ctx->iov, struct dp_gro_buf,
                                              iov[0]);
        struct port_tx *tx;

        gro_finish(ctx, &buf->vh);
        tx = dp_txq_push(dp, p, ctx->n_segs, ctx->orig_bytes);
        tx->iovs = ctx->iov;
        tx->n_iovs = ctx->n_iov;
        dp->stats.gro_frames++;
        dp->stats.gro_segs += ctx->n_segs;
    }
    memmove(&dp->gro[i], &dp->gro[i + 1],
            (dp->n_gro - i - 1) * sizeof dp->gro[0]);
    dp->n_gro--;
}

static void
dp_gro_close_all(struct dp *dp)
{
    /* Oldest first (not that order between flows matters). */
    while (dp->n_gro) {
        dp_gro_close(dp, 0);
    }
}

/* Closes every coalescing context for port 'port_no': a frame about to be
 * queued there might belong to one of their flows and must not overtake
 * it. */
static void
dp_gro_close_port(struct dp *dp, uint32_t port_no)
{
    for (size_t i = 0; i < dp->n_gro; ) {
        if (dp->gro[i].port_no == port_no) {
            dp_gro_close(dp, i);
        } else {
            i++;
        }
    }
}

/* Queues 'frame' with header 'vh' on local port 'port_no'. */
static void
dp_output(struct dp *dp, uint32_t port_no, const struct virtio_net_hdr *vh,
          const uint8_t *frame, size_t len)
{
    struct dp_port *p = dp_port_lookup(dp, port_no);

    if (!p) {
        dp_drop(dp, DROP_TX_ERROR, 1);
        return;
    }
    if (dp->n_gro) {
        dp_gro_close_port(dp, port_no);
    }
    dp_output__(dp, p, vh, frame, len);
}

/* Delivers the decapsulated 'pkt' to local port 'port_no', coalescing it
 * with earlier segments of its TCP flow in this batch if it can (gro.h).
 * Per flow the order is kept: a candidate segment that cannot join its
 * flow's context closes it first, and any other frame closes every
 * context of its port (dp_output()). */
static void
dp_gro_output(struct dp *dp, struct dp_packet *pkt, uint32_t port_no)
{
    struct dp_port *p = dp_port_lookup(dp, port_no);
    struct dp_gro *g = NULL;
    struct gro_seg seg;
    size_t i;

    /* Only plain segments coalesce: a frame the kernel already merged
     * (GSO) or left with a partial checksum (from its tunnel device) goes
     * as it is, with its offload metadata. */
    if (!p || (pkt->vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
        || pkt->vh.gso_type != VIRTIO_NET_HDR_GSO_NONE
        || !gro_parse(pkt->frame, pkt->len, &seg)) {
        dp_output(dp, port_no, &pkt->vh, pkt->frame, pkt->len);
        return;
    }

    for (i = 0; i < dp->n_gro; i++) {
        if (dp->gro[i].port_no == port_no
            && gro_same_flow(&dp->gro[i].ctx.first, &seg)) {
            g = &dp->gro[i];
            break;
        }
    }
    if (g) {
        if (gro_can_append(&g->ctx, &seg)) {
            struct dp_gro_buf *buf = NULL;

            if (!g->ctx.iov) {
                if (dp->scratch_used + dp_scratch_round(sizeof *buf)
                    > DP_SCRATCH_SIZE) {
                    /* The flush sends what the contexts hold; start
                     * over with this segment. */
                    dp_flush_tx(dp);
                    goto open;
                }
                buf = (struct dp_gro_buf *) dp_scratch_alloc(dp,
                                                             sizeof *buf);
            }
            gro_append(&g->ctx, &seg, buf ? buf->iov : NULL,
                       buf ? buf->hdrs : NULL);
            if (g->ctx.last) {
                dp_gro_close(dp, i);
            }
            return;
        }
        dp_gro_close(dp, i);
    }

open:
    if (seg.psh) {
        /* Could only ever be alone.  Its own flow has no context any
         * more, so it overtakes no segment of its flow. */
        dp_output__(dp, p, &pkt->vh, pkt->frame, pkt->len);
        return;
    }
    if (dp->n_gro == DP_GRO_MAX) {
        dp_gro_close(dp, 0);
    }
    g = &dp->gro[dp->n_gro++];
    g->port_no = port_no;
    gro_start(&g->ctx, &seg);
}

/* Encapsulates 'pkt' to 'remote' with 'vni': completes a pending checksum
 * in place or segments a TSO frame first. */
static void
dp_tunnel_output(struct dp *dp, struct dp_packet *pkt, uint32_t vni,
                 be32 remote)
{
    struct virtio_net_hdr *vh = &pkt->vh;
    int error;

    if (!remote) {
        dp_drop(dp, DROP_NO_TUNNEL_IP, 1);
        return;
    }

    if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        size_t n_segs = 0;
        uint8_t *out;
        size_t out_size;

        if (!tunnel_has_room(dp->tunnel, DP_SEG_MAX)) {
            dp_flush_tunnel(dp);
        }
        /* A segmented frame needs the frame plus one set of headers per
         * segment; offer what is left of the arena, or all of it. */
        out_size = DP_SCRATCH_SIZE - dp->scratch_used;
        if (out_size < pkt->len * 2) {
            dp_flush_tx(dp);
            out_size = DP_SCRATCH_SIZE - dp->scratch_used;
        }
        out = dp->scratch + dp->scratch_used;
        error = offload_segment_tcp(pkt->frame, pkt->len, vh, out, out_size,
                                    dp->seg_offsets, dp->seg_lens,
                                    DP_SEG_MAX, &n_segs);
        if (error) {
            dp_drop(dp, error == EINVAL ? DROP_BAD_VNET_HDR
                                        : DROP_GSO_UNSUPPORTED, 1);
            return;
        }
        if (n_segs) {
            size_t end = dp->seg_offsets[n_segs - 1]
                         + dp->seg_lens[n_segs - 1];
            dp->scratch_used += dp_scratch_round(end);
        }
        tunnel_queue_segs(dp->tunnel, dp->encap, remote, vni, out,
                          dp->seg_offsets, dp->seg_lens, n_segs);
        return;
    }

    if (pkt->len + TUNNEL_HDR_LEN > TUNNEL_UDP_MAX) {
        dp_drop(dp, DROP_TUNNEL_TOO_BIG, 1);
        return;
    }
    /* The frame is then complete for every later output too. */
    if (!dp_packet_complete_csum(dp, pkt)) {
        return;
    }
    if (!tunnel_has_room(dp->tunnel, 1)) {
        dp_flush_tunnel(dp);
    }
    tunnel_queue(dp->tunnel, dp->encap, remote, vni, pkt->frame, pkt->len);
    pkt->shared = true;
}

/* Sends 'frame' ('len' bytes, valid until the next flush) back where
 * 'pkt' came from: out of its input port, or, for a packet from the
 * tunnel, back through the tunnel to the host that sent it, with the
 * packet's VNI (so that host delivers it by its inner destination MAC).
 * Returns false (and counts a drop) if it cannot be sent. */
static bool
dp_send_back(struct dp *dp, const struct dp_packet *pkt, const uint8_t *frame,
             size_t len)
{
    if (pkt->in_port != FLOW_PORT_TUNNEL) {
        if (!dp_port_lookup(dp, pkt->in_port)) {
            dp_drop(dp, DROP_TX_ERROR, 1);
            return false;
        }
        dp_output(dp, pkt->in_port, &zero_vh, frame, len);
        return true;
    }
    if (len + TUNNEL_HDR_LEN > TUNNEL_UDP_MAX) {
        dp_drop(dp, DROP_TUNNEL_TOO_BIG, 1);
        return false;
    }
    if (!tunnel_has_room(dp->tunnel, 1)) {
        dp_flush_tunnel(dp);
    }
    tunnel_queue(dp->tunnel, dp->encap, pkt->tun_src, pkt->tun_vni, frame,
                 len);
    return true;
}

/* Answers the ARP request 'pkt' with 'mac' out of its input port. */
static void
dp_arp_reply(struct dp *dp, const struct dp_packet *pkt,
             const struct eth_addr *mac)
{
    uint8_t *copy;

    if (pkt->len > DP_ARP_MAX) {
        dp_drop(dp, DROP_SIM_ERROR, 1);
        return;
    }
    copy = dp_scratch_alloc(dp, pkt->len);
    if (!copy) {
        dp_drop(dp, DROP_TX_ERROR, 1);
        return;
    }
    memcpy(copy, pkt->frame, pkt->len);
    if (packet_arp_reply(copy, pkt->len, mac)) {
        dp_drop(dp, DROP_SIM_ERROR, 1);
        return;
    }
    dp_send_back(dp, pkt, copy, pkt->len);
}

/* Makes 'pkt''s frame safe to rewrite: if a queued output points into it,
 * moves the packet to a pinned copy in the arena (see the top of the
 * file).  Returns false, having counted a drop, if there is no room. */
static bool
dp_packet_writable(struct dp *dp, struct dp_packet *pkt)
{
    uint8_t *copy;

    if (!pkt->shared) {
        return true;
    }
    /* A flush inside the allocation sends every queued output: the
     * packet is then no longer shared, and if it lives in the arena, it
     * is in the pinned part. */
    copy = dp_scratch_alloc(dp, pkt->len);
    if (!copy) {
        dp_drop(dp, DROP_TX_ERROR, 1);
        return false;
    }
    dp->scratch_pin = dp->scratch_used;
    memcpy(copy, pkt->frame, pkt->len);
    pkt->frame = copy;
    pkt->shared = false;
    return true;
}

/* Completes 'pkt''s pending checksum, if any, and clears the metadata
 * that announced it.  Returns false, having counted a drop, on failure. */
static bool
dp_packet_complete_csum(struct dp *dp, struct dp_packet *pkt)
{
    struct virtio_net_hdr *vh = &pkt->vh;

    if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
        return true;
    }
    if (!dp_packet_writable(dp, pkt)) {
        return false;
    }
    if (offload_complete_csum(pkt->frame, pkt->len, vh)) {
        dp_drop(dp, DROP_BAD_VNET_HDR, 1);
        return false;
    }
    vh->flags &= ~VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh->csum_start = 0;
    vh->csum_offset = 0;
    return true;
}

/* True if 'pkt' is an IPv4 packet whose header flow_key_extract()
 * validated. */
static bool
dp_packet_is_ipv4(const struct dp_packet *pkt)
{
    const struct packet_layout *lo = &pkt->lo;

    return (lo->l3_ofs != UINT16_MAX && lo->l2_len >= 2
            && get16(pkt->frame + lo->l2_len - 2) == htons(ETH_TYPE_IP));
}

/* Sends the ICMP error 'err' about 'pkt' back to its sender, unless RFC
 * 1122 forbids one or, if 'limited', the input port's bucket is empty.
 * Counts the outcome in the statistics; 'pkt' itself is the caller's to
 * drop. */
static void
dp_icmp_error(struct dp *dp, const struct dp_packet *pkt,
              const struct packet_icmp_error *err, bool limited)
{
    struct ratelimit *rl;
    uint8_t *copy;
    size_t len;

    /* Checked first, so that a forbidden error takes no token; the
     * error is built only with a token, so that a flood of packets the
     * bucket refuses costs no copy and no checksum each. */
    if (!packet_icmp4_error_allowed(pkt->frame, pkt->len)) {
        dp->stats.icmp_errors_suppressed++;
        return;
    }
    if (limited) {
        if (pkt->in_port == FLOW_PORT_TUNNEL) {
            rl = &dp->tunnel_icmp_rl;
        } else {
            struct dp_port *p = dp_port_lookup(dp, pkt->in_port);

            rl = p ? &p->icmp_rl : NULL;
        }
        if (!rl || !ratelimit_allow(rl, dp->now)) {
            dp->stats.icmp_errors_rate_limited++;
            return;
        }
    }
    copy = dp_scratch_alloc(dp, PACKET_ICMP4_ERROR_MAX);
    if (!copy || packet_icmp4_error(copy, PACKET_ICMP4_ERROR_MAX, pkt->frame,
                                    pkt->len, err, &len)) {
        dp->stats.icmp_errors_suppressed++;
        return;
    }
    if (dp_send_back(dp, pkt, copy, len)) {
        dp->stats.icmp_errors_sent++;
    }
}

/* Builds in 'tail' what the fragments of 'pkt' run: the actions of
 * 'acts' from 'next' on, without their CT actions.  The tracker cannot
 * follow fragments (dp.h), so those are run here, in order, once on the
 * whole packet: a refusing CT drops the packet whole, and a refusing
 * guard leaves the action it guards out of the list, so that the
 * fragments skip just that output.  (The cached list is shared and stays
 * as it is, hence the copy, which lives in the arena, pinned until the
 * packet's actions end.)  Returns false, having counted a drop, if the
 * packet is dropped or there is no room for the list. */
static bool
dp_fragment_actions(struct dp *dp, struct dp_packet *pkt,
                    const struct dp_actions *acts, size_t next,
                    struct dp_actions *tail)
{
    size_t max = acts->n - next;

    tail->a = (struct dp_action *) dp_scratch_alloc(dp,
                                                    max * sizeof *tail->a);
    if (!tail->a) {
        dp_drop(dp, DROP_FRAG_FAILED, 1);
        return false;
    }
    dp->scratch_pin = dp->scratch_used;
    tail->n = 0;
    tail->allocated = max;
    for (size_t i = next; i < acts->n; i++) {
        const struct dp_action *a = &acts->a[i];

        if (a->type != DP_ACT_CT) {
            tail->a[tail->n++] = *a;
        } else if (!dp_ct(dp, pkt, a)) {
            if (!(a->flags & DP_CT_GUARD)) {
                return false;
            }
            i++;
        }
    }
    return true;
}

/* Fragments 'pkt' to 'mtu' into the arena and runs the actions from
 * 'next' on for every fragment (as dp_fragment_actions() says).  'pkt' is
 * consumed. */
static void
dp_fragment(struct dp *dp, struct dp_packet *pkt,
            const struct dp_actions *acts, size_t next, size_t mtu)
{
    size_t offsets[DP_FRAG_MAX], lens[DP_FRAG_MAX];
    size_t n = 0, need, avail;
    struct dp_actions tail;
    uint8_t *out;
    int error;

    /* Fragments cannot carry a pending checksum. */
    if (!dp_packet_complete_csum(dp, pkt)) {
        return;
    }
    if (!dp_fragment_actions(dp, pkt, acts, next, &tail) || !tail.n) {
        return;                 /* Nothing would be sent. */
    }

    /* At most DP_FRAG_MAX copies of the headers plus the data. */
    need = pkt->len + DP_FRAG_MAX * ((size_t) pkt->lo.l3_ofs + 60);
    if (DP_SCRATCH_SIZE - dp->scratch_used < need) {
        dp_flush_tx(dp);
    }
    avail = DP_SCRATCH_SIZE - dp->scratch_used;
    out = dp->scratch + dp->scratch_used;
    error = packet_ipv4_fragment(pkt->frame, pkt->len, mtu, out,
                                 MIN(avail, need), offsets, lens,
                                 DP_FRAG_MAX, &n);
    if (error) {
        dp_drop(dp, DROP_FRAG_FAILED, 1);
        return;
    }
    dp->scratch_used += dp_scratch_round(offsets[n - 1] + lens[n - 1]);
    dp->scratch_pin = dp->scratch_used;
    dp->stats.ip_fragmented++;
    dp->stats.ip_fragments += n;

    for (size_t i = 0; i < n; i++) {
        struct dp_packet frag = *pkt;

        frag.frame = out + offsets[i];
        frag.len = lens[i];
        memset(&frag.vh, 0, sizeof frag.vh);
        frag.lo.l4_ofs = UINT16_MAX;
        frag.lo.l4_len = 0;
        frag.shared = false;
        dp_execute__(dp, &frag, &tail);
    }
}

/* CHECK_MTU (action 'i' of 'acts').  Returns true if the list goes on
 * with 'pkt' (it fits, is not IPv4, or is a TCP GSO frame whose segments
 * were made to fit), false if 'pkt' was consumed (dropped, possibly with
 * an ICMP error, or fragmented, every fragment having run the rest of the
 * list). */
static bool
dp_check_mtu(struct dp *dp, struct dp_packet *pkt,
             const struct dp_actions *acts, size_t i)
{
    const struct dp_action *a = &acts->a[i];
    struct virtio_net_hdr *vh = &pkt->vh;
    size_t mtu = a->arg, ip_len, hdrs = 0;
    const uint8_t *ip;
    bool gso = vh->gso_type != VIRTIO_NET_HDR_GSO_NONE;

    if (!dp_packet_is_ipv4(pkt)) {
        return true;
    }
    ip = pkt->frame + pkt->lo.l3_ofs;
    ip_len = ntohs(get16(ip + 2));

    if (gso) {
        /* What matters is the IP length of one segment: IP and L4
         * headers (parsed: hdr_len is only a bound) plus gso_size. */
        uint8_t type = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
        const struct packet_layout *lo = &pkt->lo;

        if (lo->l4_ofs == UINT16_MAX || !vh->gso_size) {
            dp_drop(dp, DROP_BAD_VNET_HDR, 1);
            return false;
        }
        hdrs = (size_t) lo->l4_ofs - lo->l3_ofs;
        if (type == VIRTIO_NET_HDR_GSO_TCPV4 && ip[9] == IPPROTO_TCP_) {
            hdrs += (size_t) (pkt->frame[lo->l4_ofs + 12] >> 4) * 4;
        } else if (type == VIRTIO_NET_HDR_GSO_UDP_L4
                   && ip[9] == IPPROTO_UDP_) {
            hdrs += sizeof(struct udp_header);
        } else {
            hdrs = 0;           /* Cut up as one IP packet (UFO). */
        }
        if (hdrs) {
            ip_len = MIN(ip_len, hdrs + vh->gso_size);
        }
    }
    if (ip_len <= mtu) {
        return true;
    }

    if (ntohs(get16(ip + 6)) & IP_DF) {
        struct packet_icmp_error err = {
            .type = ICMP4_DEST_UNREACH, .code = ICMP4_CODE_FRAG_NEEDED,
            .mtu = (uint16_t) MIN(mtu, 65535), .ip = a->ip, .mac = a->mac,
        };

        /* Not rate limited: see dp.h. */
        dp_icmp_error(dp, pkt, &err, false);
        dp_drop(dp, DROP_FRAG_NEEDED, 1);
        return false;
    }
    if (gso) {
        /* Without DF a TCP super-frame may simply be cut into smaller
         * segments: no fragments, and a TCP receiver takes any size.
         * UDP GSO would change datagram boundaries: not done. */
        if ((vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN)
            != VIRTIO_NET_HDR_GSO_TCPV4 || !hdrs) {
            dp_drop(dp, DROP_GSO_UNSUPPORTED, 1);
            return false;
        }
        if (mtu < hdrs + DP_GSO_SEG_MIN) {
            dp_drop(dp, DROP_FRAG_FAILED, 1);
            return false;
        }
        vh->gso_size = (uint16_t) (mtu - hdrs);
        dp->stats.gso_resized++;
        return true;
    }
    dp_fragment(dp, pkt, acts, i + 1, mtu);
    return false;
}

/* SET_ETH.  Returns false if 'pkt' was dropped. */
static bool
dp_set_eth(struct dp *dp, struct dp_packet *pkt, const struct dp_action *a)
{
    if (!dp_packet_writable(dp, pkt)) {
        return false;
    }
    memcpy(pkt->frame, &a->mac2, ETH_ADDR_LEN);
    memcpy(pkt->frame + ETH_ADDR_LEN, &a->mac, ETH_ADDR_LEN);
    return true;
}

/* DEC_TTL by 'hops'; a packet that is not IP passes unchanged.  Returns
 * false if 'pkt' was dropped. */
static bool
dp_dec_ttl(struct dp *dp, struct dp_packet *pkt, uint32_t hops)
{
    int error;

    if (pkt->lo.l3_ofs == UINT16_MAX) {
        return true;
    }
    if (hops > UINT8_MAX) {
        dp_drop(dp, DROP_TTL_EXCEEDED, 1);
        return false;
    }
    if (!dp_packet_writable(dp, pkt)) {
        return false;
    }
    error = packet_dec_ttl(pkt->frame, pkt->len, pkt->lo.l3_ofs, hops);
    if (error == ERANGE) {
        /* The simulation checks the TTL, so only a flow whose mask
         * ignores it gets here; there is no source to answer from. */
        dp_drop(dp, DROP_TTL_EXCEEDED, 1);
        return false;
    }
    return true;
}

/* ICMP_ERROR: answers and drops 'pkt'. */
static void
dp_icmp_error_action(struct dp *dp, const struct dp_packet *pkt,
                     const struct dp_action *a)
{
    struct packet_icmp_error err = {
        .type = (uint8_t) (a->arg >> 8), .code = (uint8_t) a->arg,
        .ip = a->ip, .mac = a->mac,
    };

    dp_icmp_error(dp, pkt, &err, true);
    dp_drop(dp, a->reason, 1);
}

/* ICMP_REPLY: turns 'pkt' into its echo reply, in place, and sends it
 * back. */
static void
dp_icmp_reply(struct dp *dp, struct dp_packet *pkt, const struct dp_action *a)
{
    size_t len = pkt->len;

    if (pkt->vh.gso_type != VIRTIO_NET_HDR_GSO_NONE
        || pkt->vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        dp_drop(dp, DROP_ICMP_UNANSWERABLE, 1);
        return;
    }
    if (!dp_packet_writable(dp, pkt)) {
        return;
    }
    if (packet_icmp4_echo_reply(pkt->frame, &len, a->ip, &a->mac)) {
        dp_drop(dp, DROP_ICMP_UNANSWERABLE, 1);
        return;
    }
    pkt->len = len;
    if (dp_send_back(dp, pkt, pkt->frame, len)) {
        pkt->shared = true;
        dp->stats.icmp_echo_replies++;
    }
}

/* USERSPACE: hands 'pkt' to the agent. */
static void
dp_userspace(struct dp *dp, struct dp_packet *pkt, uint32_t why)
{
    if (!dp->cfg.packet_in) {
        dp_drop(dp, DROP_NO_USERSPACE, 1);
        return;
    }
    if (pkt->vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        dp_drop(dp, DROP_GSO_UNSUPPORTED, 1);
        return;
    }
    if (!dp_packet_complete_csum(dp, pkt)) {
        return;
    }
    dp->stats.packet_ins++;
    dp->in_callback = true;
    dp->cfg.packet_in(dp->cfg.packet_in_aux, (enum dp_userspace) why,
                      pkt->in_port, pkt->frame, pkt->len);
    dp->in_callback = false;
}

/* CT (action 'a'): runs 'pkt' through the tracker in zone a->arg.
 * Returns true if the list goes on with it, false if it was dropped. */
static bool
dp_ct(struct dp *dp, struct dp_packet *pkt, const struct dp_action *a)
{
    bool allow_new = a->flags & DP_CT_ALLOW_NEW;
    struct ct_result res;

    ct_execute(dp->ct, (uint16_t) a->arg, allow_new, pkt->frame, pkt->len,
               pkt->key, &pkt->lo, dp->now, &res);
    if (!(res.state & CT_TRACKED)) {
        return true;
    }
    if (res.state & CT_INVALID) {
        if (res.reason == CT_INVALID_FRAGMENT && allow_new) {
            /* Untrackable (dp.h): an allowing rule lets it through. */
            return true;
        }
        dp_drop(dp, DROP_CT_INVALID, 1);
        return false;
    }
    if ((res.state & CT_NEW) && !allow_new) {
        dp_drop(dp, DROP_SG_DENIED, 1);
        return false;
    }
    return true;
}

/* True if action 'i' of 'acts', an OUTPUT, may coalesce (dp_gro_output()):
 * it is the last action and only CT actions, which do not change the
 * packet, come before it (a refusing guard right before it skips it, so
 * the segments a flood delivers to a single port coalesce too). */
static bool
dp_gro_eligible(const struct dp_actions *acts, size_t i)
{
    if (i + 1 != acts->n) {
        return false;
    }
    for (size_t j = 0; j < i; j++) {
        if (acts->a[j].type != DP_ACT_CT) {
            return false;
        }
    }
    return true;
}

/* Runs the actions of 'acts' on 'pkt'. */
static void
dp_execute__(struct dp *dp, struct dp_packet *pkt,
             const struct dp_actions *acts)
{
    for (size_t i = 0; i < acts->n; i++) {
        const struct dp_action *a = &acts->a[i];

        switch ((enum dp_action_type) a->type) {
        case DP_ACT_OUTPUT:
            if (pkt->in_port == FLOW_PORT_TUNNEL && !dp->cfg.no_gro
                && dp_gro_eligible(acts, i)) {
                dp_gro_output(dp, pkt, a->arg);
            } else {
                dp_output(dp, a->arg, &pkt->vh, pkt->frame, pkt->len);
            }
            pkt->shared = true;
            break;
        case DP_ACT_TUNNEL:
            dp_tunnel_output(dp, pkt, a->arg, a->ip);
            break;
        case DP_ACT_ARP_REPLY:
            dp_arp_reply(dp, pkt, &a->mac);
            break;
        case DP_ACT_CHECK_MTU:
            if (!dp_check_mtu(dp, pkt, acts, i)) {
                return;
            }
            break;
        case DP_ACT_SET_ETH:
            if (!dp_set_eth(dp, pkt, a)) {
                return;
            }
            break;
        case DP_ACT_DEC_TTL:
            if (!dp_dec_ttl(dp, pkt, a->arg)) {
                return;
            }
            break;
        case DP_ACT_ICMP_ERROR:
            dp_icmp_error_action(dp, pkt, a);
            return;
        case DP_ACT_ICMP_REPLY:
            dp_icmp_reply(dp, pkt, a);
            return;
        case DP_ACT_CT:
            if (!dp_ct(dp, pkt, a)) {
                if (!(a->flags & DP_CT_GUARD)) {
                    return;
                }
                i++;            /* Refused: skip only the guarded action. */
            }
            break;
        case DP_ACT_USERSPACE:
            /* The list ends here: nothing of it is read after the
             * callback. */
            dp_userspace(dp, pkt, a->arg);
            return;
        case DP_ACT_DROP:
            dp_drop(dp, a->reason, 1);
            break;
        case N_DP_ACTION_TYPES:
        default:
            dp_drop(dp, DROP_SIM_ERROR, 1);
            break;
        }
    }
}

static void
dp_execute(struct dp *dp, struct dp_packet *pkt,
           const struct dp_actions *acts)
{
    if (!acts->n) {
        dp_drop(dp, DROP_SIM_ERROR, 1);
        return;
    }
    dp_execute__(dp, pkt, acts);
    dp->scratch_pin = 0;
}

/* Runs the simulation for 'key' and caches the result, which is executed
 * for 'pkt'. */
static void
dp_upcall(struct dp *dp, struct dp_packet *pkt, const struct flow_key *key,
          uint32_t hash, long long now)
{
    struct megaflow *flow;
    struct dp_actions acts;
    struct flow_tags tags;
    struct flow_wc wc;
    int error;

    dp->stats.upcalls++;
    flow_wc_init_catchall(&wc);
    dp_actions_init(&acts);
    flow_tags_init(&tags);
    error = dp->cfg.upcall(dp->cfg.upcall_aux, key, &wc, &acts, &tags);
    if (error) {
        /* Not cached: the next packet tries again. */
        VLOG_DBG("datapath: upcall failed: %s", strerror(error));
        dp_execute(dp, pkt, &acts);
        dp_actions_destroy(&acts);
        return;
    }

    flow = mf_insert(dp->mf, key, &wc.masks, 0, &acts, &tags);
    dp_actions_destroy(&acts);
    kpath_flow_add(dp->kp, flow, dp->encap);
    emc_insert(dp->emc, key, hash, flow);
    flow->n_packets++;
    flow->n_bytes += pkt->len;
    flow->used_msec = now;
    dp_execute(dp, pkt, &flow->actions);
}

static void
dp_process(struct dp *dp, struct dp_packet *pkts, size_t n, long long now)
{
    /* The segments of one TSO frame or GRO datagram come in a row with
     * equal keys: the previous packet's flow is reused without hashing.
     * It counts as an exact-match hit.  Only an upcall can remove a flow
     * in the middle of a batch (mf_insert() replaces), so it forgets. */
    struct megaflow *last_flow = NULL;
    struct flow_key last_key;

    dp->now = now;
    dp->in_batch = true;
    for (size_t i = 0; i < n; i++) {
        struct dp_packet *pkt = &pkts[i];
        struct megaflow *flow;
        struct flow_key key;
        uint32_t hash;

        if (!flow_key_extract(pkt->frame, pkt->len, pkt->in_port, &key,
                              &pkt->lo)) {
            dp_drop(dp, DROP_RUNT, 1);
            continue;
        }
        if (pkt->in_port == FLOW_PORT_TUNNEL) {
            key.tun_vni = pkt->tun_vni;
            key.tun_src = pkt->tun_src;
        }
        pkt->key = &key;

        if (last_flow && flow_key_equal(&key, &last_key)) {
            flow = last_flow;
            dp->stats.emc_hits++;
        } else {
            hash = flow_key_hash(&key, 0);
            flow = emc_lookup(dp->emc, &key, hash);
            if (flow) {
                dp->stats.emc_hits++;
            } else {
                dp->stats.emc_misses++;
                flow = mf_lookup(dp->mf, &key);
                if (!flow) {
                    last_flow = NULL;
                    dp_upcall(dp, pkt, &key, hash, now);
                    continue;
                }
                dp->stats.mf_hits++;
                emc_insert(dp->emc, &key, hash, flow);
            }
            last_flow = flow;
            last_key = key;
        }
        flow->n_packets++;
        flow->n_bytes += pkt->len;
        flow->used_msec = now;
        dp_execute(dp, pkt, &flow->actions);
    }
    dp->in_batch = false;
}

static int
dp_port_add__(struct dp *dp, const struct port_class *class,
              const char *name, uint32_t *port_nop)
{
    struct epoll_event ev = { .events = EPOLLIN };
    struct dp_port *p;
    struct port *port;
    uint32_t port_no;
    int error;

    ASSERT(!dp->in_callback);
    error = class->open(name, &port);
    if (error) {
        return error;
    }

    for (port_no = FLOW_PORT_FIRST_VIF; port_no < dp->n_port_slots;
         port_no++) {
        if (!dp->ports[port_no]) {
            break;
        }
    }
    if (port_no >= dp->n_port_slots) {
        size_t n = MAX(dp->n_port_slots * 2, (size_t) 16);

        dp->ports = xrealloc(dp->ports, n * sizeof *dp->ports);
        memset(&dp->ports[dp->n_port_slots], 0,
               (n - dp->n_port_slots) * sizeof *dp->ports);
        dp->dirty = xrealloc(dp->dirty, n * sizeof *dp->dirty);
        dp->n_port_slots = n;
    }

    ev.data.u64 = port_no;
    if (epoll_ctl(dp->epfd, EPOLL_CTL_ADD, class->get_fd(port), &ev) < 0) {
        error = errno;
        class->close(port);
        return error;
    }

    p = xzalloc(sizeof *p);
    p->port_no = port_no;
    p->port = port;
    p->stats.port_no = port_no;
    str_copy(p->stats.name, name, sizeof p->stats.name);
    ratelimit_init(&p->icmp_rl, dp->icmp_rate, dp->icmp_burst, time_msec());
    dp->ports[port_no] = p;
    dp->n_ports++;
    *port_nop = port_no;
    VLOG_INFO("datapath: port %u is %s (%s)", port_no, name, class->type);
    return 0;
}
