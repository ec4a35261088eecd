/*
 * tunnel.h -- the underlay: Geneve and VXLAN over two UDP sockets.
 *
 * A tunnel endpoint is two non-blocking UDP sockets bound to the host's
 * tunnel IP, one on the Geneve port (6081) and one on the VXLAN port
 * (4789).  Both are decapsulated; the caller chooses the encapsulation of
 * each transmitted packet.  The outer IP and UDP headers are the kernel's
 * business; this module only writes and checks the 8-byte tunnel header:
 *
 *   Geneve (RFC 8926): version 0, no options on transmit, protocol 0x6558
 *   (Transparent Ethernet Bridging), 24-bit VNI.  On receive, options are
 *   skipped; control packets (O bit) and critical options (C bit), which
 *   we cannot process, are rejected.
 *   VXLAN (RFC 7348): I flag, 24-bit VNI; reserved bits are ignored.
 *
 * Receive: recvmmsg into tunnel-owned buffers with UDP_GRO on, so one
 * datagram may be several coalesced tunnel packets of 'gso_size' bytes
 * each (the last may be shorter); tunnel_recv() splits and decapsulates
 * them into an array of inner frames that stays valid until the next
 * tunnel_recv() on the same tunnel.
 *
 * Transmit: tunnel_queue*() only record iovecs (tunnel header + frame, the
 * frame is not copied: it must stay valid until tunnel_flush()).  A
 * segmented TSO frame is queued with tunnel_queue_segs() and leaves in as
 * few sendmsg calls as possible with UDP_SEGMENT (UDP GSO): each message
 * carries up to TUNNEL_GSO_MAX_SEGS encapsulated segments back to back.
 * If the kernel refuses UDP_SEGMENT (EINVAL/EIO) the tunnel remembers it
 * and sends every segment as its own datagram from then on.
 *
 * Used from the datapath thread only.
 */
#ifndef WEFT_TUNNEL_H
#define WEFT_TUNNEL_H 1

#include "datapath/dp.h"
#include "lib/util.h"

#define TUNNEL_HDR_LEN 8
#define TUNNEL_RX_BATCH 32          /* Datagrams per tunnel_recv(). */
#define TUNNEL_RX_SEGS_MAX 64       /* Segments per GRO datagram we take. */
#define TUNNEL_TX_MSGS 1024         /* Queued messages before a flush. */
#define TUNNEL_TX_SEGS 1024         /* Queued segments before a flush. */
#define TUNNEL_GSO_MAX_SEGS 64      /* Segments per UDP_SEGMENT send. */
#define TUNNEL_UDP_MAX (65535 - 20 - 8)     /* UDP payload on IPv4. */

struct tunnel;

/* A decapsulated inner frame. */
struct tunnel_pkt {
    uint8_t *frame;             /* Inner Ethernet frame. */
    size_t len;
    uint32_t vni;
    be32 src;                   /* Outer source IPv4 address. */
};

/* Counters the caller turns into drops and statistics. */
struct tunnel_rx_counts {
    size_t datagrams;           /* Datagrams received. */
    size_t malformed;           /* Bad or truncated tunnel header. */
    size_t truncated;           /* Datagram larger than our buffer. */
};

/* Opens both sockets on 'ip' (network order; 0 = any) and the given ports
 * (host order; 0 = the IANA port), which are also the ports sent to.  An
 * encapsulation whose bit (1 << enum dp_encap) is in 'send_only' gets a
 * socket on an ephemeral port instead: a kernel tunnel device receives
 * that port (kpath.h).  Returns NULL and sets '*errorp' on failure. */
struct tunnel *tunnel_open(be32 ip, unsigned int send_only,
                           uint16_t geneve_port,
                           uint16_t vxlan_port, int *errorp);
void tunnel_close(struct tunnel *);            /* Accepts NULL. */

/* The socket receiving 'encap' packets, for polling. */
int tunnel_fd(const struct tunnel *, enum dp_encap);

/* Writes the TUNNEL_HDR_LEN-byte header for 'vni' into 'hdr'. */
void tunnel_build_header(enum dp_encap, uint32_t vni, uint8_t *hdr);

/* Checks the tunnel header at the start of the 'len' bytes at 'p'.
 * Returns true and stores the VNI and the header length (options
 * included) if it is valid, false otherwise.  Never reads past 'len'. */
bool tunnel_parse(enum dp_encap, const uint8_t *p, size_t len,
                  uint32_t *vnip, size_t *hdr_lenp);

/* Receives up to TUNNEL_RX_BATCH datagrams from the 'encap' socket without
 * blocking, splits GRO datagrams and decapsulates.  Stores a pointer to
 * the inner frames in '*pktsp' (owned by the tunnel, valid until the next
 * tunnel_recv() or tunnel_close()) and adds to '*counts'.  Returns the
 * number of inner frames. */
size_t tunnel_recv(struct tunnel *, enum dp_encap, struct tunnel_pkt **pktsp,
                   struct tunnel_rx_counts *counts);

/* Whether 'n_segs' more segments (single frames count as one) fit into
 * the transmit queue; if not, tunnel_flush() first. */
bool tunnel_has_room(const struct tunnel *, size_t n_segs);

/* Queues 'frame' ('len' bytes) for 'dst' (network order) with 'encap' and
 * 'vni'.  The queue must have room (tunnel_has_room()). */
void tunnel_queue(struct tunnel *, enum dp_encap, be32 dst, uint32_t vni,
                  const void *frame, size_t len);

/* Queues the 'n' segments of one segmented frame, segment i being 'lens[i]'
 * bytes at 'base + offsets[i]'.  All but the last must have the same
 * length for UDP GSO to apply (otherwise they go out one by one).  The
 * queue must have room for 'n' segments. */
void tunnel_queue_segs(struct tunnel *, enum dp_encap, be32 dst,
                       uint32_t vni, const uint8_t *base,
                       const size_t *offsets, const size_t *lens, size_t n);

/* Sends everything queued and empties the queue.  Adds the number of
 * tunnel packets sent to '*n_sent' and of those that failed to
 * '*n_failed'. */
void tunnel_flush(struct tunnel *, uint64_t *n_sent, uint64_t *n_failed);

/* Datagrams (sendmsg messages) sent so far: with UDP GSO one datagram
 * carries many tunnel packets. */
uint64_t tunnel_tx_datagrams(const struct tunnel *);

#endif /* WEFT_TUNNEL_H */
