/*
 * flow-key.c -- packet parsing into a struct flow_key, plus hashing,
 * comparison and formatting of keys (see flow-key.h).
 *
 * The extractor is the first thing every received packet meets, so it is
 * written for speed and for hostile input at once:
 *
 *   - the key is zeroed once up front and a layer's fields are written only
 *     after the whole layer has been validated, so a truncated or malformed
 *     layer leaves itself and every later layer zero without any cleanup;
 *   - every read is preceded by a length check against what remains of the
 *     frame (or of the L3 payload, once IP's own length is known); loads
 *     are memcpy()s, so frames need no alignment;
 *   - IPv6 extension headers are walked at most FLOW_IPV6_EXT_MAX deep.
 *
 * What counts as "the layer" for truncation purposes:
 *   L2   Ethernet + at most two VLAN tags (the outer TCI is recorded with
 *        0x1000 set; a second tag must be 802.1Q and is skipped).  A
 *        truncated tag leaves eth_type zero.  802.3 length fields become
 *        eth_type 0x05ff and nothing further is parsed.
 *   ARP  only Ethernet/IPv4 ARP (htype 1, ptype 0x0800, 6/4 lengths) with
 *        all 28 bytes present; opcodes above 255 leave nw_proto zero.
 *   IPv4 version 4, ihl >= 5, ihl*4 <= tot_len <= bytes present (trailing
 *        Ethernet padding is ignored).  Later fragments carry no L4.
 *   IPv6 version 6, payload length within the frame, and the whole chain of
 *        hop-by-hop/routing/destination-options/fragment headers inside
 *        the payload; nw_proto is the first other next-header value.
 *   L4   TCP needs a valid data offset (20..60 bytes, present), UDP 8
 *        bytes, SCTP 12, ICMP/ICMPv6 4 (type, code, checksum).
 *
 * packet_layout: l3_ofs is set when the ARP/IPv4/IPv6 layer parsed; l4_ofs
 * and l4_len when the L4 header of a known protocol parsed, or, for other
 * protocols, to the uninterpreted L3 payload (never for later fragments).
 */
#include "lib/flow-key.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "lib/hash.h"

#define FLOW_IPV6_EXT_MAX 8

#define IPPROTO_SCTP_     132
#define IPV6_NH_HOPOPTS   0
#define IPV6_NH_ROUTING   43
#define IPV6_NH_FRAGMENT  44
#define IPV6_NH_DSTOPTS   60

#define ETH_TYPE_8023     0x05ff
#define VLAN_CFI          0x1000

/* Parses the L4 header of protocol 'proto' at 'l4' ('l4_len' bytes up to
 * the end of the L3 payload, 'l4_ofs' from the frame start). */
static inline void
parse_l4(const uint8_t *l4, size_t l4_len, size_t l4_ofs, uint8_t proto,
         bool ipv6, struct flow_key *key, struct packet_layout *lo)
{
    switch (proto) {
    case IPPROTO_TCP_: {
        size_t doff;

        if (l4_len < sizeof(struct tcp_header)) {
            return;
        }
        doff = (size_t) (l4[12] >> 4) * 4;
        if (doff < sizeof(struct tcp_header) || doff > l4_len) {
            return;
        }
        key->tp_src = get16(l4);
        key->tp_dst = get16(l4 + 2);
        key->tcp_flags = l4[13];
        break;
    }
    case IPPROTO_UDP_:
        if (l4_len < sizeof(struct udp_header)) {
            return;
        }
        key->tp_src = get16(l4);
        key->tp_dst = get16(l4 + 2);
        break;
    case IPPROTO_SCTP_:
        if (l4_len < 12) {
            return;
        }
        key->tp_src = get16(l4);
        key->tp_dst = get16(l4 + 2);
        break;
    case IPPROTO_ICMP_:
    case IPPROTO_ICMPV6_:
        if ((proto == IPPROTO_ICMPV6_) != ipv6) {
            break;              /* Uninterpreted, like any other proto. */
        }
        if (l4_len < 4) {
            return;
        }
        key->tp_src = htons(l4[0]);
        key->tp_dst = htons(l4[1]);
        if (ipv6 && (l4[0] == ICMPV6_NEIGHBOR_SOLICIT
                     || l4[0] == ICMPV6_NEIGHBOR_ADVERT)
            && l4[1] == 0 && l4_len >= 24) {
            memcpy(key->nd_target, l4 + 8, 16);
        }
        break;
    default:
        break;
    }
    lo->l4_ofs = (uint16_t) l4_ofs;
    lo->l4_len = (uint16_t) l4_len;
}

static inline void
parse_ipv4(const uint8_t *ip, size_t avail, size_t l3_ofs,
           struct flow_key *key, struct packet_layout *lo)
{
    size_t ihl, tot_len;
    uint16_t frag_off;

    if (avail < sizeof(struct ip_header) || (ip[0] >> 4) != 4) {
        return;
    }
    ihl = (size_t) (ip[0] & 0xf) * 4;
    tot_len = ntohs(get16(ip + 2));
    if (ihl < sizeof(struct ip_header) || tot_len < ihl || tot_len > avail) {
        return;
    }

    key->nw_src.ip4 = get32(ip + 12);
    key->nw_dst.ip4 = get32(ip + 16);
    key->nw_tos = ip[1];
    key->nw_ttl = ip[8];
    key->nw_proto = ip[9];
    lo->l3_ofs = (uint16_t) l3_ofs;

    frag_off = ntohs(get16(ip + 6));
    if (frag_off & (IP_MF | IP_FRAG_OFF_MASK)) {
        key->nw_frag = FLOW_NW_FRAG_ANY;
        if (frag_off & IP_FRAG_OFF_MASK) {
            key->nw_frag |= FLOW_NW_FRAG_LATER;
            return;
        }
    }
    parse_l4(ip + ihl, tot_len - ihl, l3_ofs + ihl, ip[9], false, key, lo);
}

static inline void
parse_ipv6(const uint8_t *ip, size_t avail, size_t l3_ofs,
           struct flow_key *key, struct packet_layout *lo)
{
    size_t end, ofs = sizeof(struct ipv6_header);
    uint8_t nxt, frag = 0;

    if (avail < sizeof(struct ipv6_header) || (ip[0] >> 4) != 6) {
        return;
    }
    end = ofs + ntohs(get16(ip + 4));
    if (end > avail) {
        return;
    }

    nxt = ip[6];
    for (int n = 0; ; n++) {
        if (nxt == IPV6_NH_HOPOPTS || nxt == IPV6_NH_ROUTING
            || nxt == IPV6_NH_DSTOPTS) {
            size_t ext_len;

            if (n >= FLOW_IPV6_EXT_MAX || end - ofs < 8) {
                return;
            }
            ext_len = ((size_t) ip[ofs + 1] + 1) * 8;
            if (ext_len > end - ofs) {
                return;
            }
            nxt = ip[ofs];
            ofs += ext_len;
        } else if (nxt == IPV6_NH_FRAGMENT) {
            if (n >= FLOW_IPV6_EXT_MAX
                || end - ofs < sizeof(struct ipv6_frag_header)) {
                return;
            }
            nxt = ip[ofs];
            frag = FLOW_NW_FRAG_ANY;
            if (ntohs(get16(ip + ofs + 2)) & 0xfff8) {
                frag |= FLOW_NW_FRAG_LATER;
            }
            ofs += sizeof(struct ipv6_frag_header);
            if (frag & FLOW_NW_FRAG_LATER) {
                break;
            }
        } else {
            break;
        }
    }
    if (l3_ofs + ofs >= UINT16_MAX) {
        return;                 /* Cannot be described by packet_layout. */
    }

    memcpy(key->nw_src.ip6, ip + 8, 16);
    memcpy(key->nw_dst.ip6, ip + 24, 16);
    key->nw_tos = (uint8_t) (ntohl(get32(ip)) >> 20);
    key->nw_ttl = ip[7];
    key->nw_proto = nxt;
    key->nw_frag = frag;
    lo->l3_ofs = (uint16_t) l3_ofs;
    if (!(frag & FLOW_NW_FRAG_LATER)) {
        parse_l4(ip + ofs, end - ofs, l3_ofs + ofs, nxt, true, key, lo);
    }
}

static inline void
parse_arp(const uint8_t *arp, size_t avail, size_t l3_ofs,
          struct flow_key *key, struct packet_layout *lo)
{
    uint16_t op;

    if (avail < sizeof(struct arp_eth_header)
        || get16(arp) != htons(1) || get16(arp + 2) != htons(ETH_TYPE_IP)
        || arp[4] != ETH_ADDR_LEN || arp[5] != 4) {
        return;
    }
    op = ntohs(get16(arp + 6));
    key->nw_proto = op <= 0xff ? (uint8_t) op : 0;
    memcpy(&key->arp_sha, arp + 8, ETH_ADDR_LEN);
    key->nw_src.ip4 = get32(arp + 14);
    memcpy(&key->arp_tha, arp + 18, ETH_ADDR_LEN);
    key->nw_dst.ip4 = get32(arp + 24);
    lo->l3_ofs = (uint16_t) l3_ofs;
}

/* Any change to struct flow_key must be reflected in the extractor above
 * and below, and in flow_key_format(). */
BUILD_ASSERT(FLOW_KEY_SEQ == 2);

bool
flow_key_extract(const void *frame, size_t len, uint32_t in_port,
                 struct flow_key *key, struct packet_layout *layout)
{
    const uint8_t *p = frame;
    struct packet_layout lo = { 0, UINT16_MAX, UINT16_MAX, 0 };
    size_t ofs = ETH_HDR_LEN;
    be16 type;
    bool ok = false;

    memset(key, 0, sizeof *key);
    key->in_port = in_port;
    if (len < ETH_HDR_LEN) {
        goto out;
    }
    ok = true;
    memcpy(&key->eth_dst, p, ETH_ADDR_LEN);
    memcpy(&key->eth_src, p + ETH_ADDR_LEN, ETH_ADDR_LEN);
    type = get16(p + 12);

    if (type == htons(ETH_TYPE_VLAN) || type == htons(ETH_TYPE_QINQ)) {
        if (len - ofs < VLAN_HDR_LEN) {
            goto out_l2;
        }
        key->vlan_tci = get16(p + ofs) | htons(VLAN_CFI);
        type = get16(p + ofs + 2);
        ofs += VLAN_HDR_LEN;
        if (type == htons(ETH_TYPE_VLAN)) {
            if (len - ofs < VLAN_HDR_LEN) {
                goto out_l2;
            }
            type = get16(p + ofs + 2);
            ofs += VLAN_HDR_LEN;
        }
    }
    lo.l2_len = (uint16_t) ofs;
    if (ntohs(type) < ETH_TYPE_MIN) {
        key->eth_type = htons(ETH_TYPE_8023);
        goto out;
    }
    key->eth_type = type;

    if (type == htons(ETH_TYPE_IP)) {
        parse_ipv4(p + ofs, len - ofs, ofs, key, &lo);
    } else if (type == htons(ETH_TYPE_IPV6)) {
        parse_ipv6(p + ofs, len - ofs, ofs, key, &lo);
    } else if (type == htons(ETH_TYPE_ARP)) {
        parse_arp(p + ofs, len - ofs, ofs, key, &lo);
    }
    goto out;

out_l2:
    lo.l2_len = (uint16_t) ofs;
out:
    if (layout) {
        *layout = lo;
    }
    return ok;
}

uint32_t
flow_key_hash(const struct flow_key *key, uint32_t basis)
{
    return hash_words64((const uint64_t *) key, FLOW_KEY_U64S, basis);
}

/* Formatting. */

struct fbuf {
    char *buf;
    size_t size;
    size_t n;                   /* Length so far (may exceed 'size'). */
};

static void PRINTF_FMT(2, 3)
fput(struct fbuf *fb, const char *fmt, ...)
{
    va_list args;
    char dummy[1];
    int r;

    va_start(args, fmt);
    if (fb->n < fb->size) {
        r = vsnprintf(fb->buf + fb->n, fb->size - fb->n, fmt, args);
    } else {
        r = vsnprintf(dummy, 0, fmt, args);
    }
    va_end(args);
    if (r > 0) {
        fb->n += (size_t) r;
    }
}

static bool
is_zero(const void *p_, size_t n)
{
    const uint8_t *p = p_;
    for (size_t i = 0; i < n; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

static bool
is_ones(const void *p_, size_t n)
{
    const uint8_t *p = p_;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0xff) {
            return false;
        }
    }
    return true;
}

/* Starts field 'name' if it is to be shown: with a mask, when its mask
 * ('m', 'n' bytes) is nonzero; without one, when 'dflt'.  Returns true if
 * the caller should print the value. */
static bool
field_start(struct fbuf *fb, const char *name, const void *m, size_t n,
            bool dflt)
{
    if (m ? is_zero(m, n) : !dflt) {
        return false;
    }
    fput(fb, "%s%s=", fb->n ? "," : "", name);
    return true;
}

/* Returns the prefix length of the contiguous netmask 'm' of 'n' bytes, or
 * -1 if it is not a prefix. */
static int
prefix_len(const uint8_t *m, size_t n)
{
    int bits = 0;
    size_t i = 0;

    for (; i < n && m[i] == 0xff; i++) {
        bits += 8;
    }
    if (i < n) {
        uint8_t b = m[i++];
        while (b & 0x80) {
            bits++;
            b <<= 1;
        }
        if (b) {
            return -1;
        }
    }
    for (; i < n; i++) {
        if (m[i]) {
            return -1;
        }
    }
    return bits;
}

static void
put_int(struct fbuf *fb, const char *name, uint32_t v, const void *m,
        size_t n, bool dflt, bool hex)
{
    uint32_t mv = 0;

    if (!field_start(fb, name, m, n, dflt)) {
        return;
    }
    if (m) {
        if (n == 1) {
            mv = *(const uint8_t *) m;
        } else if (n == 2) {
            uint16_t t;
            memcpy(&t, m, 2);
            mv = t;
        } else {
            memcpy(&mv, m, 4);
        }
    }
    if (!m || is_ones(m, n)) {
        if (hex) {
            fput(fb, "0x%0*"PRIx32, (int) n * 2, v);
        } else {
            fput(fb, "%"PRIu32, v);
        }
    } else {
        fput(fb, "0x%0*"PRIx32"/0x%0*"PRIx32, (int) n * 2, v, (int) n * 2,
             mv);
    }
}

/* Like put_int() for a be16 field: value and mask converted to host
 * order. */
static void
put_be16(struct fbuf *fb, const char *name, be16 v, const be16 *m,
         bool dflt, bool hex)
{
    be16 hm = m ? ntohs(*m) : 0;
    put_int(fb, name, ntohs(v), m ? &hm : NULL, 2, dflt, hex);
}

static void
put_mac(struct fbuf *fb, const char *name, const struct eth_addr *v,
        const struct eth_addr *m, bool dflt)
{
    char s[18];

    if (!field_start(fb, name, m, ETH_ADDR_LEN, dflt)) {
        return;
    }
    eth_addr_to_string(v, s);
    fput(fb, "%s", s);
    if (m && !is_ones(m, ETH_ADDR_LEN)) {
        eth_addr_to_string(m, s);
        fput(fb, "/%s", s);
    }
}

static void
put_addr(struct fbuf *fb, const char *name, const void *v, const void *m,
         bool ipv6, bool dflt)
{
    size_t n = ipv6 ? 16 : 4;
    char s[INET6_ADDRSTRLEN];
    int plen;

    if (!field_start(fb, name, m, n, dflt)) {
        return;
    }
    inet_ntop(ipv6 ? AF_INET6 : AF_INET, v, s, sizeof s);
    fput(fb, "%s", s);
    if (m && !is_ones(m, n)) {
        plen = prefix_len(m, n);
        if (plen >= 0) {
            fput(fb, "/%d", plen);
        } else {
            inet_ntop(ipv6 ? AF_INET6 : AF_INET, m, s, sizeof s);
            fput(fb, "/%s", s);
        }
    }
}

static void
put_frag(struct fbuf *fb, uint8_t v, const uint8_t *m)
{
    static const char *const names[] = { "no", "first", "?", "later" };

    if (m && *m && *m != 0xff
        && *m != (FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER)) {
        put_int(fb, "nw_frag", v, m, 1, true, true);
    } else if (field_start(fb, "nw_frag", m, 1, true)) {
        if (v <= 3 && v != 2) {
            fput(fb, "%s", names[v]);
        } else {
            fput(fb, "0x%02x", v);
        }
    }
}

#define M(FIELD) (mask ? &mask->FIELD : NULL)
#define MZ(FIELD) (mask ? &mask->FIELD : NULL), sizeof key->FIELD

char *
flow_key_format(const struct flow_key *key, const struct flow_key *mask,
                char *buf, size_t size)
{
    struct fbuf fb = { buf, size, 0 };
    uint16_t eth_type = ntohs(key->eth_type);
    bool arp = eth_type == ETH_TYPE_ARP;
    bool ip6 = eth_type == ETH_TYPE_IPV6;
    bool ip = eth_type == ETH_TYPE_IP || ip6;
    bool l4 = ip && !(key->nw_frag & FLOW_NW_FRAG_LATER);
    bool tcp = l4 && key->nw_proto == IPPROTO_TCP_;
    bool ports = tcp || (l4 && (key->nw_proto == IPPROTO_UDP_
                                || key->nw_proto == IPPROTO_SCTP_));
    bool icmp = l4 && key->nw_proto == (ip6 ? IPPROTO_ICMPV6_
                                            : IPPROTO_ICMP_);
    bool nd = icmp && ip6 && key->tp_dst == 0
              && (key->tp_src == htons(ICMPV6_NEIGHBOR_SOLICIT)
                  || key->tp_src == htons(ICMPV6_NEIGHBOR_ADVERT));
    bool tun = key->in_port == FLOW_PORT_TUNNEL || key->tun_vni
               || key->tun_src;

    BUILD_ASSERT(FLOW_KEY_SEQ == 2);

    if (size) {
        buf[0] = '\0';
    }
    put_int(&fb, "in_port", key->in_port, MZ(in_port), true, false);
    put_int(&fb, "tun_vni", key->tun_vni, MZ(tun_vni), tun, false);
    put_addr(&fb, "tun_src", &key->tun_src, M(tun_src), false, tun);
    put_mac(&fb, "eth_dst", &key->eth_dst, M(eth_dst), true);
    put_mac(&fb, "eth_src", &key->eth_src, M(eth_src), true);
    put_be16(&fb, "vlan_tci", key->vlan_tci, M(vlan_tci),
             key->vlan_tci != 0, true);
    put_be16(&fb, "eth_type", key->eth_type, M(eth_type), true, true);

    if (arp) {
        put_int(&fb, "arp_op", key->nw_proto, MZ(nw_proto), true, false);
        put_addr(&fb, "arp_spa", &key->nw_src, M(nw_src), false, true);
        put_addr(&fb, "arp_tpa", &key->nw_dst, M(nw_dst), false, true);
        put_mac(&fb, "arp_sha", &key->arp_sha, M(arp_sha), true);
        put_mac(&fb, "arp_tha", &key->arp_tha, M(arp_tha), true);
    } else {
        put_addr(&fb, ip6 ? "ipv6_src" : "nw_src", &key->nw_src, M(nw_src),
                 ip6, ip);
        put_addr(&fb, ip6 ? "ipv6_dst" : "nw_dst", &key->nw_dst, M(nw_dst),
                 ip6, ip);
        put_int(&fb, "nw_proto", key->nw_proto, MZ(nw_proto), ip, false);
    }
    put_int(&fb, "nw_tos", key->nw_tos, MZ(nw_tos), ip, false);
    put_int(&fb, "nw_ttl", key->nw_ttl, MZ(nw_ttl), ip, false);
    if (ip || (mask && mask->nw_frag)) {
        put_frag(&fb, key->nw_frag, M(nw_frag));
    }

    if (icmp) {
        put_be16(&fb, ip6 ? "icmpv6_type" : "icmp_type", key->tp_src,
                 M(tp_src), true, false);
        put_be16(&fb, ip6 ? "icmpv6_code" : "icmp_code", key->tp_dst,
                 M(tp_dst), true, false);
    } else {
        put_be16(&fb, "tp_src", key->tp_src, M(tp_src), ports, false);
        put_be16(&fb, "tp_dst", key->tp_dst, M(tp_dst), ports, false);
    }
    put_int(&fb, "tcp_flags", key->tcp_flags, MZ(tcp_flags), tcp, true);
    if (nd) {
        put_addr(&fb, "nd_target", key->nd_target, M(nd_target), true,
                 true);
    } else if (!arp) {
        put_mac(&fb, "arp_sha", &key->arp_sha, M(arp_sha), false);
        put_mac(&fb, "arp_tha", &key->arp_tha, M(arp_tha), false);
    }
    return buf;
}
