/*
 * gro.h -- receive-side coalescing of TCP segments (userspace GRO).
 *
 * A TCP stream that crossed the tunnel arrives as a train of MSS-sized
 * segments (the sender's TSO frame, cut by offload_segment_tcp(), carried
 * by UDP GSO and glued back into one datagram by UDP GRO).  Handing each
 * segment to the VM's veth on its own costs one skb and one trip through
 * the VM's TCP stack per ~1.4 KB.  This module glues consecutive segments
 * of one flow back into a single frame of up to 64 KB described by a
 * virtio-net header (VIRTIO_NET_HDR_GSO_TCPV4/TCPV6 with NEEDS_CSUM), which
 * the kernel turns into one GSO skb -- what its own GRO would have built.
 *
 * Only the boring case is coalesced; everything else is delivered as is.
 * A segment is a candidate (gro_parse()) if it is an untagged Ethernet
 * frame carrying
 *   - IPv4 without options, not a fragment, with a correct header
 *     checksum, and total length = exactly the rest of the frame; or IPv6
 *     with TCP as the first next header and payload length = exactly the
 *     rest of the frame;
 *   - TCP with flags ACK or ACK|PSH only (no SYN, FIN, RST, URG, ECE,
 *     CWR), a non-empty payload and a correct checksum (the merged frame
 *     says "checksum to be filled in", which the receiver trusts, so a
 *     corrupt segment must not be laundered into it).
 * A candidate joins a context (gro_can_append()) only if every header byte
 * equals the context's first segment except IP length, IPv4 id and header
 * checksum, TCP sequence number, checksum and the PSH flag; if its sequence
 * number follows on exactly; if its IPv4 id is the next one (or DF is set
 * in both); if its payload is no larger than the first one's (gso_size);
 * and if the result stays within GRO_MAX_SEGS segments and a 65535-byte IP
 * packet.  A segment shorter than gso_size or with PSH is the last one.
 *
 * The merged frame is not copied together: it is an iovec list of a copy
 * of the first segment's headers (patched) followed by every segment's
 * payload where it was received, so the segments' frames must stay valid
 * until it is sent.
 *
 * Pure computation on caller memory; never reads outside [frame, frame +
 * len).  The caller (dp.c) keeps the contexts, the buffers and the
 * ordering rules.
 */
#ifndef WEFT_GRO_H
#define WEFT_GRO_H 1

#include <linux/virtio_net.h>
#include <sys/uio.h>
#include "lib/packet.h"
#include "lib/util.h"

#define GRO_MAX_SEGS 64
#define GRO_MAX_IP_LEN 65535
/* Largest coalesced frame: Ethernet header + largest IP packet. */
#define GRO_FRAME_MAX (ETH_HDR_LEN + GRO_MAX_IP_LEN)
/* Largest header: Ethernet + IPv6 + TCP with 40 bytes of options. */
#define GRO_HDRS_MAX (ETH_HDR_LEN + 40 + 60)
/* Pieces of a merged message: virtio-net header, headers, payloads. */
#define GRO_IOVS (2 + GRO_MAX_SEGS)

/* A parsed candidate segment.  Offsets are from the frame's start. */
struct gro_seg {
    const uint8_t *frame;
    size_t len;
    uint16_t l4;                /* TCP header (the IP header is at 14). */
    uint16_t hdrs;              /* Ethernet + IP + TCP header bytes. */
    uint16_t payload;           /* TCP payload bytes. */
    uint16_t ip_id;             /* IPv4 only, host order. */
    uint32_t seq;               /* Host order. */
    uint32_t flow;              /* Addresses and ports folded: a quick
                                 * filter, equal for one flow. */
    bool v6;
    bool df;                    /* IPv4 DF bit. */
    bool psh;
};

/* Checks whether the 'len'-byte frame at 'frame' is a coalescing
 * candidate (see above) and if so fills '*seg' and returns true. */
bool gro_parse(const uint8_t *frame, size_t len, struct gro_seg *seg);

/* Whether 'a' and 'b' belong to the same TCP flow on the same L2 path
 * (same Ethernet header, IP addresses and TCP ports). */
bool gro_same_flow(const struct gro_seg *a, const struct gro_seg *b);

/* One flow being coalesced. */
struct gro_ctx {
    struct gro_seg first;       /* Its frame must stay valid. */
    struct iovec *iov;          /* NULL while the context holds only
                                 * 'first'; then GRO_IOVS entries: [0] the
                                 * virtio-net header (gro_finish()), [1]
                                 * the headers at 'hdrs', [2...] the
                                 * segments' payloads. */
    uint8_t *hdrs;              /* GRO_HDRS_MAX bytes. */
    size_t n_iov;               /* Entries used in 'iov'. */
    size_t len;                 /* Length of the merged frame. */
    uint32_t next_seq;
    uint16_t n_segs;
    bool last;                  /* Nothing may be appended any more. */
    bool psh;
    size_t orig_bytes;          /* Sum of the segments' frame lengths. */
};

/* Starts 'ctx' with the segment 'seg'. */
void gro_start(struct gro_ctx *ctx, const struct gro_seg *seg);

/* Whether 'seg' (of the same flow, see gro_same_flow()) may be appended to
 * 'ctx'. */
bool gro_can_append(const struct gro_ctx *ctx, const struct gro_seg *seg);

/* Appends 'seg' to 'ctx' (gro_can_append() must be true).  If 'ctx' holds
 * a single segment, 'iov' (GRO_IOVS entries) and 'hdrs' (GRO_HDRS_MAX
 * bytes), owned by the caller and valid until the merged frame is sent,
 * become its iovec list and header buffer, and the first segment's
 * headers are copied; otherwise both are ignored.  Copies no payload. */
void gro_append(struct gro_ctx *ctx, const struct gro_seg *seg,
                struct iovec *iov, uint8_t *hdrs);

/* Completes the merged frame of 'ctx' (which holds at least two segments):
 * IP length and header checksum, TCP flags, and the TCP checksum field set
 * to the pseudo-header sum as Linux leaves it for CHECKSUM_PARTIAL.  Fills
 * '*vh' accordingly (GSO TCPV4/TCPV6, gso_size = the first segment's
 * payload, NEEDS_CSUM) and points ctx->iov[0] at it, so that
 * ctx->iov[0..ctx->n_iov-1] is the message to send.  Returns the frame's
 * length (header excluded). */
size_t gro_finish(struct gro_ctx *ctx, struct virtio_net_hdr *vh);

#endif /* WEFT_GRO_H */
