/*
 * packet-edit.h -- rewriting frames in place and building frames from
 * scratch.
 *
 * Rewriting: packet_arp_reply() turns an ARP request into its answer in
 * the same buffer (the datapath's ARP_REPLY action and the simulation's
 * local ARP responder); packet_icmp4_echo_reply() does the same for an
 * ICMP echo request (ICMP_REPLY); packet_dec_ttl() is DEC_TTL.
 *
 * Router answers and IP forwarding (the datapath's ICMP_ERROR and
 * CHECK_MTU actions): packet_icmp4_error() builds the ICMP error about an
 * offending frame, refusing where RFC 1122 forbids one;
 * packet_ipv4_fragment() cuts an IPv4 packet to an MTU.  They are IPv4
 * only for now; their ICMPv6 counterparts (Packet Too Big, Time
 * Exceeded) will take the same struct packet_icmp_error and follow the
 * same shape: parse the offender with flow_key_extract(), check whether
 * an answer is allowed, write L2 mirrored from the offender, then L3, the
 * ICMP header and the quote.
 *
 * The functions of this header that take a frame never read outside
 * [frame, frame + len) and never trust a length field they have not
 * checked against it; on failure they leave the frame untouched.
 *
 * Building: the packet_build_*() functions write one complete, valid
 * Ethernet frame (optionally 802.1Q or QinQ tagged) with correct IPv4
 * header checksum and L4 checksum into a caller buffer.  They exist for
 * tests, benchmarks, fuzz seeds and locally generated replies, so they
 * favour convenience: describe the frame in a struct packet_spec, usually
 * as a compound literal with designated initializers, and every field you
 * leave zero gets a sensible default:
 *
 *     uint8_t buf[1600];
 *     size_t n = packet_build_tcp4(buf, sizeof buf, &(struct packet_spec) {
 *         .eth_src = {{ 0x02, 0, 0, 0, 0, 1 }},
 *         .eth_dst = {{ 0x02, 0, 0, 0, 0, 2 }},
 *         .ip4_src = htonl(0x0a000001), .ip4_dst = htonl(0x0a000002),
 *         .src_port = 1234, .dst_port = 80, .tcp_flags = 0x02,
 *     });
 *     // n == 54: Ethernet + IPv4 + TCP, no payload, TTL 64.
 *
 * Every builder returns the frame length, or 0 if the frame does not fit
 * in 'size' bytes or cannot exist (an IP length above 65535).  Nothing is
 * allocated; all functions are thread-safe.
 */
#ifndef WEFT_PACKET_EDIT_H
#define WEFT_PACKET_EDIT_H 1

#include "lib/packet.h"
#include "lib/util.h"

/* Turns the Ethernet/IPv4 ARP request in the 'len'-byte frame at 'frame'
 * (untagged, 802.1Q or QinQ tagged) into the reply "tpa is-at mac",
 * addressed back to the requester, in place:
 *
 *     eth_dst = old sha, eth_src = mac, op = 2 (reply),
 *     sha = mac, spa = old tpa, tha = old sha, tpa = old spa.
 *
 * VLAN tags and any trailing padding are kept.  Returns 0 on success, or
 * EINVAL (frame untouched) if the frame is not an Ethernet/IPv4 ARP
 * request with all 28 ARP bytes present. */
int packet_arp_reply(void *frame, size_t len, const struct eth_addr *mac);

/* Turns the ICMP echo request (type 8) in the Ethernet frame 'frame' of
 * '*lenp' bytes into the echo reply from 'ip'/'mac', in place:
 *
 *     eth_dst = old eth_src, eth_src = mac (VLAN tags kept);
 *     IPv4: src = ip, dst = old src, TTL 64, options removed (the ICMP
 *       message moves up to follow a 20-byte header), TOS, identification
 *       and DF kept, header checksum recomputed;
 *     ICMP: type 0, code 0, identifier, sequence number and data kept,
 *       checksum recomputed.
 *
 * Options are not reflected (RFC 1122 3.2.2.6 would have Record Route and
 * Timestamp updated and returned: we do not implement them) and Ethernet
 * padding after the IP packet is dropped, so '*lenp' gets the reply's
 * length, which may be shorter.  Returns 0, or EINVAL (frame untouched) if
 * the frame is not an unfragmented IPv4 ICMP echo request with at least
 * the 8-byte ICMP header and a correct ICMP checksum, or if it comes from
 * a multicast MAC or from an IPv4 source that is not a unicast host (a
 * zero, loopback, multicast or class E address). */
int packet_icmp4_echo_reply(void *frame, size_t *lenp, be32 ip,
                            const struct eth_addr *mac);

/* Subtracts 'hops' from the IPv4 TTL or the IPv6 hop limit of the IP
 * header at 'l3_ofs' in the 'len'-byte frame at 'frame'.  For IPv4 the
 * header checksum is updated incrementally (RFC 1624, eqn. 3), which
 * gives exactly what a full recomputation gives; no L4 checksum covers
 * the TTL, so a pending (offloaded) checksum stays valid.  Returns 0,
 * EINVAL if there is no IPv4 (20-byte) or IPv6 (40-byte) header at
 * 'l3_ofs', or ERANGE if the TTL is not above 'hops' (the packet must not
 * be forwarded).  On error the frame is untouched. */
int packet_dec_ttl(void *frame, size_t len, size_t l3_ofs,
                   unsigned int hops);

/* What an ICMP error says and who says it. */
struct packet_icmp_error {
    uint8_t type;               /* E.g. 3 destination unreachable, 11 time
                                 * exceeded. */
    uint8_t code;
    uint16_t mtu;               /* Type 3 code 4: the next-hop MTU (RFC
                                 * 1191), in ICMP bytes 6-7.  Ignored for
                                 * every other type and code. */
    be32 ip;                    /* Source of the error (a router port). */
    struct eth_addr mac;        /* Its MAC. */
};

/* An ICMP error's IP datagram is at most 576 bytes (RFC 1812 4.3.2.3:
 * quote as much of the offender as fits, like Linux); with the largest L2
 * header (QinQ) the frame is at most PACKET_ICMP4_ERROR_MAX bytes. */
#define PACKET_ICMP4_ERROR_IP_MAX 576
#define PACKET_ICMP4_ERROR_MAX (ETH_HDR_LEN + 2 * VLAN_HDR_LEN \
                                + PACKET_ICMP4_ERROR_IP_MAX)

/* Builds into 'buf' ('size' bytes) the ICMP error 'err' about the
 * offending IPv4 packet in the Ethernet frame 'frame' ('len' bytes), to be
 * sent back to the offender's sender:
 *
 *     Ethernet: dst = offender's eth_src, src = err->mac, VLAN tags and
 *       EtherType as in the offender;
 *     IPv4: 20 bytes, TOS = precedence 6 (internetwork control, RFC 1812
 *       4.3.2.5) plus the offender's TOS bits (0x1e), as Linux does;
 *       identification 0, DF off (at most 576 bytes: never fragmented);
 *       TTL 64, protocol 1, src = err->ip, dst = offender's IP source;
 *     ICMP: err->type, err->code, checksum, bytes 4-7 zero except the
 *       next-hop MTU for type 3 code 4;
 *     the quote: the offender's IP header (options included) and as much
 *       of its payload as keeps the datagram within 576 bytes -- at least
 *       the 8 bytes RFC 792 asks for whenever the offender has them.
 *       Ethernet padding after the offender's IP packet is not quoted.
 *
 * Returns 0 and the frame's length in '*lenp', or:
 *   EPERM   RFC 1122 3.2.2 (and RFC 1812 4.3.2.7) forbid an error about
 *           this packet: it is an ICMP error itself (or an ICMP type we do
 *           not know to be a query: Linux treats those as errors too), a
 *           non-first fragment, sent to a link-layer broadcast or
 *           multicast, to 255.255.255.255 or to an IPv4 multicast address,
 *           or from a source that is not one unicast host (zero,
 *           loopback, multicast, class E, or a multicast MAC);
 *   EINVAL  the frame holds no complete IPv4 header;
 *   ENOSPC  'size' is too small (PACKET_ICMP4_ERROR_MAX always suffices).
 * Directed (subnet) broadcasts are the caller's to recognize: only the
 * topology knows them. */
int packet_icmp4_error(void *buf, size_t size, const void *frame, size_t len,
                       const struct packet_icmp_error *err, size_t *lenp);

/* True if packet_icmp4_error() would answer the Ethernet frame 'frame'
 * ('len' bytes): it holds a complete IPv4 header and is none of the
 * EPERM cases above.  Lets a rate-limited caller spend a token only on an
 * error it may send, and build nothing when it has no token. */
bool packet_icmp4_error_allowed(const void *frame, size_t len);

/* Fragments the IPv4 packet in the Ethernet frame 'frame' ('len' bytes)
 * into frames whose IP packets are at most 'mtu' bytes (RFC 791 3.2, RFC
 * 1812 5.2.6), written back to back into 'out' ('out_size' bytes):
 * fragment i is lens[i] bytes at out + offsets[i], at most 'max_frags'
 * fragments.  Each fragment repeats the L2 header (tags included); the
 * first keeps the whole IPv4 header, the others carry only the options
 * whose copied flag is set, padded with end-of-list bytes to a multiple
 * of 4.  Every fragment but the last carries a multiple of 8 data bytes;
 * offsets count from the original's own offset, MF is set on all but the
 * last, which keeps the original's MF (a fragment can be fragmented
 * again); total length and header checksum are rewritten, everything else
 * is kept.  Ethernet padding after the IP packet is not copied.  A packet
 * that already fits is copied as the only fragment.
 *
 * The L4 checksum is not touched: a pending (offloaded) checksum must be
 * completed first.  Returns 0 and the count in '*n_frags', or EINVAL (no
 * complete IPv4 header, malformed options, or offsets beyond 65535), EPERM
 * (DF is set and the packet does not fit: the sender wants ICMP
 * "fragmentation needed" instead), EMSGSIZE ('mtu'
 * leaves no room for 8 data bytes after a header), ENOSPC ('out_size' or
 * 'max_frags' too small). */
int packet_ipv4_fragment(const void *frame, size_t len, size_t mtu,
                         void *out, size_t out_size, size_t *offsets,
                         size_t *lens, size_t max_frags, size_t *n_frags);

/* How a builder fills the L4 checksum. */
enum packet_csum_mode {
    PACKET_CSUM_FULL,           /* Correct, complete checksum (default). */
    PACKET_CSUM_PARTIAL,        /* What Linux leaves for CHECKSUM_PARTIAL
                                 * (TCP/UDP only): the folded pseudo-header
                                 * sum, not complemented; complete it with
                                 * csum_start = L4 offset, csum_offset =
                                 * offset of the checksum field in L4. */
    PACKET_CSUM_ZERO,           /* Zero (for UDP over IPv4: "none"). */
};

/* Description of a frame to build.  All fields are optional: zero selects
 * the default named in the comment.  Multi-byte numbers are in host byte
 * order except IPv4 addresses, which are be32 like everywhere else. */
struct packet_spec {
    /* L2. */
    struct eth_addr eth_dst;    /* Zero means all-zero. */
    struct eth_addr eth_src;
    uint16_t vlan_tci;          /* Nonzero: add an 802.1Q tag with this
                                 * TCI (PCP/DEI/VID, written as is). */
    uint16_t outer_tci;         /* Nonzero: add an outer 802.1ad tag with
                                 * this TCI in front of the 802.1Q one (a
                                 * QinQ frame; vlan_tci is then the inner
                                 * tag, and may be zero). */

    /* L3. */
    be32 ip4_src, ip4_dst;      /* IPv4 (and ARP spa/tpa). */
    uint8_t ip6_src[16], ip6_dst[16];
    uint8_t ttl;                /* IPv4 TTL / IPv6 hop limit; 0 means 64. */
    uint8_t tos;                /* IPv4 TOS / IPv6 traffic class. */
    uint16_t ip_id;             /* IPv4 identification. */
    bool dont_frag;             /* IPv4 DF bit. */

    /* L4. */
    uint16_t src_port, dst_port;    /* TCP/UDP ports. */
    uint32_t tcp_seq, tcp_ack;
    uint8_t tcp_flags;          /* Flags byte (0x02 SYN, 0x10 ACK, ...). */
    uint16_t tcp_window;        /* 0 means 65535. */
    uint8_t icmp_type, icmp_code;   /* ICMP/ICMPv6 (0/0 is echo reply for
                                     * ICMP; use 8 or 128 for requests). */
    uint16_t icmp_id, icmp_seq;     /* Echo identifier and sequence. */
    enum packet_csum_mode csum_mode;

    /* ARP (packet_build_arp()): sha = eth_src, spa = ip4_src,
     * tpa = ip4_dst. */
    uint16_t arp_op;            /* 0 means 1 (request). */
    struct eth_addr arp_tha;    /* Zero (as in requests) by default. */

    /* Payload after the L4 header (after the ARP body for ARP: nothing). */
    const void *payload;        /* NULL: 'payload_len' bytes of the pattern
                                 * byte i = (uint8_t) i. */
    size_t payload_len;
};

/* Writes the Ethernet header (and tags) for 'spec' with EtherType
 * 'eth_type'.  Returns 14, 18 or 22, or 0 if 'size' is too small. */
size_t packet_build_eth(void *buf, size_t size,
                        const struct packet_spec *spec, uint16_t eth_type);

/* Ethernet + IPv4 + TCP (20-byte header, no options) + payload. */
size_t packet_build_tcp4(void *buf, size_t size,
                         const struct packet_spec *spec);
/* Ethernet + IPv4 + UDP + payload. */
size_t packet_build_udp4(void *buf, size_t size,
                         const struct packet_spec *spec);
/* Ethernet + IPv4 + ICMP (type, code, id, seq) + payload. */
size_t packet_build_icmp4(void *buf, size_t size,
                          const struct packet_spec *spec);
/* Ethernet + IPv4 with protocol 'proto' and 'spec''s payload right after
 * the 20-byte IPv4 header (no L4 header of its own). */
size_t packet_build_ipv4(void *buf, size_t size,
                         const struct packet_spec *spec, uint8_t proto);
/* Ethernet + IPv6 + TCP + payload. */
size_t packet_build_tcp6(void *buf, size_t size,
                         const struct packet_spec *spec);
/* Ethernet + IPv6 + UDP + payload. */
size_t packet_build_udp6(void *buf, size_t size,
                         const struct packet_spec *spec);
/* Ethernet + IPv6 + ICMPv6 (type, code, id, seq) + payload. */
size_t packet_build_icmp6(void *buf, size_t size,
                          const struct packet_spec *spec);
/* Ethernet + Ethernet/IPv4 ARP (28 bytes, no padding to 60). */
size_t packet_build_arp(void *buf, size_t size,
                        const struct packet_spec *spec);

/* Checks the checksums of the 'len'-byte frame at 'frame': the IPv4 header
 * checksum, and the TCP, UDP (over IPv4 a zero checksum is accepted as
 * "none") or ICMP/ICMPv6 checksum of an unfragmented packet.  Returns 0 if
 * every checksum present is correct, EINVAL if one is wrong or the frame
 * does not parse as Ethernet/IP with a complete L4 header, ENOTSUP for
 * other EtherTypes or L4 protocols. */
int packet_verify_csums(const void *frame, size_t len);

#endif /* WEFT_PACKET_EDIT_H */
