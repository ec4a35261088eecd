/*
 * packet-edit.h -- rewriting frames in place and building frames from
 * scratch.
 *
 * Rewriting: packet_arp_reply() turns an ARP request into its answer in
 * the same buffer (the datapath's ARP_REPLY action and the simulation's
 * local ARP responder).
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
