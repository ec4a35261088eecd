/*
 * packet-edit.c -- in-place rewrites and frame builders (see
 * packet-edit.h).
 */
#include "lib/packet-edit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "lib/csum.h"
#include "lib/flow-key.h"

static bool ip4_is_unicast_host(be32);
static bool icmp4_error_allowed(const uint8_t *frame,
                                const struct flow_key *,
                                const struct packet_layout *);
static size_t ip4_copied_options(const uint8_t *opts, size_t len,
                                 uint8_t *out);

int
packet_arp_reply(void *frame, size_t len, const struct eth_addr *mac)
{
    uint8_t *p = frame;
    struct packet_layout lo;
    struct flow_key key;
    uint8_t *arp;

    /* The extractor decides what an Ethernet/IPv4 ARP request is (the
     * VLAN tags it accepts, all 28 ARP bytes present): nw_proto holds the
     * opcode only if the ARP layer parsed.  The key also keeps the old
     * addresses that the rewrite below overwrites. */
    flow_key_extract(frame, len, 0, &key, &lo);
    if (key.eth_type != htons(ETH_TYPE_ARP) || lo.l3_ofs == UINT16_MAX
        || key.nw_proto != ARP_OP_REQUEST) {
        return EINVAL;
    }
    arp = p + lo.l3_ofs;

    memcpy(p, &key.arp_sha, ETH_ADDR_LEN);
    memcpy(p + ETH_ADDR_LEN, mac, ETH_ADDR_LEN);
    put16(arp + 6, htons(ARP_OP_REPLY));
    memcpy(arp + 8, mac, ETH_ADDR_LEN);
    put32(arp + 14, key.nw_dst.ip4);
    memcpy(arp + 18, &key.arp_sha, ETH_ADDR_LEN);
    put32(arp + 24, key.nw_src.ip4);
    return 0;
}

int
packet_icmp4_echo_reply(void *frame, size_t *lenp, be32 ip,
                        const struct eth_addr *mac)
{
    uint8_t *p = frame;
    struct packet_layout lo;
    struct flow_key key;
    uint8_t *iph, *icmp;
    size_t ihl, icmp_len;
    be16 old_word;

    /* The extractor validated the IPv4 header and lengths; l4_len ends
     * where the IP packet does.  Verifying the request's checksum (RFC
     * 1122 3.2.2: discard a bad one) makes the incremental update below
     * exact. */
    flow_key_extract(frame, *lenp, 0, &key, &lo);
    if (key.eth_type != htons(ETH_TYPE_IP) || lo.l3_ofs == UINT16_MAX
        || key.nw_proto != IPPROTO_ICMP_ || key.nw_frag
        || lo.l4_ofs == UINT16_MAX || lo.l4_len < sizeof(struct icmp_header)
        || p[lo.l4_ofs] != ICMP4_ECHO_REQUEST
        || eth_addr_is_multicast(&key.eth_src)
        || !ip4_is_unicast_host(key.nw_src.ip4)
        || csum_fold(csum_partial(p + lo.l4_ofs, lo.l4_len, 0))) {
        return EINVAL;
    }
    iph = p + lo.l3_ofs;
    ihl = (size_t) lo.l4_ofs - lo.l3_ofs;
    icmp_len = lo.l4_len;

    memcpy(p, &key.eth_src, ETH_ADDR_LEN);
    memcpy(p + ETH_ADDR_LEN, mac, ETH_ADDR_LEN);

    if (ihl > sizeof(struct ip_header)) {
        memmove(iph + sizeof(struct ip_header), iph + ihl, icmp_len);
    }
    iph[0] = 0x45;
    put16(iph + 2, htons((uint16_t) (sizeof(struct ip_header) + icmp_len)));
    iph[8] = 64;
    put32(iph + 12, ip);
    put32(iph + 16, key.nw_src.ip4);
    put16(iph + 10, csum_ipv4_header(iph, sizeof(struct ip_header)));

    icmp = iph + sizeof(struct ip_header);
    old_word = get16(icmp);
    icmp[0] = ICMP4_ECHO_REPLY;
    icmp[1] = 0;
    put16(icmp + 2, csum_update16(get16(icmp + 2), old_word, get16(icmp)));

    *lenp = lo.l3_ofs + sizeof(struct ip_header) + icmp_len;
    return 0;
}

int
packet_dec_ttl(void *frame, size_t len, size_t l3_ofs, unsigned int hops)
{
    uint8_t *ip;
    size_t avail;

    if (l3_ofs >= len) {
        return EINVAL;
    }
    ip = (uint8_t *) frame + l3_ofs;
    avail = len - l3_ofs;
    if (avail >= sizeof(struct ip_header) && ip[0] >> 4 == 4
        && (ip[0] & 0xf) >= 5) {
        be16 old_word = get16(ip + 8);

        if (ip[8] <= hops) {
            return hops ? ERANGE : 0;
        }
        ip[8] -= (uint8_t) hops;
        put16(ip + 10, csum_update16(get16(ip + 10), old_word,
                                     get16(ip + 8)));
        return 0;
    }
    if (avail >= sizeof(struct ipv6_header) && ip[0] >> 4 == 6) {
        if (ip[7] <= hops) {
            return hops ? ERANGE : 0;
        }
        ip[7] -= (uint8_t) hops;
        return 0;
    }
    return EINVAL;
}

int
packet_icmp4_error(void *buf, size_t size, const void *frame, size_t len,
                   const struct packet_icmp_error *err, size_t *lenp)
{
    const uint8_t *p = frame;
    uint8_t *o = buf;
    struct packet_layout lo;
    struct flow_key key;
    const uint8_t *oip;
    size_t l2, quote, ip_len;
    uint8_t *ip, *icmp;

    flow_key_extract(frame, len, 0, &key, &lo);
    if (key.eth_type != htons(ETH_TYPE_IP) || lo.l3_ofs == UINT16_MAX) {
        return EINVAL;
    }
    if (!icmp4_error_allowed(p, &key, &lo)) {
        return EPERM;
    }

    /* The extractor checked ihl <= total length <= bytes present. */
    l2 = lo.l3_ofs;
    oip = p + l2;
    quote = MIN(ntohs(get16(oip + 2)),
                PACKET_ICMP4_ERROR_IP_MAX - sizeof(struct ip_header)
                - sizeof(struct icmp_header));
    ip_len = sizeof(struct ip_header) + sizeof(struct icmp_header) + quote;
    if (size < l2 + ip_len) {
        return ENOSPC;
    }

    memcpy(o, p, l2);
    memcpy(o, &key.eth_src, ETH_ADDR_LEN);
    memcpy(o + ETH_ADDR_LEN, &err->mac, ETH_ADDR_LEN);

    ip = o + l2;
    ip[0] = 0x45;
    ip[1] = (uint8_t) ((oip[1] & 0x1e) | 0xc0);
    put16(ip + 2, htons((uint16_t) ip_len));
    put16(ip + 4, 0);
    put16(ip + 6, 0);
    ip[8] = 64;
    ip[9] = IPPROTO_ICMP_;
    put32(ip + 12, err->ip);
    put32(ip + 16, key.nw_src.ip4);
    put16(ip + 10, csum_ipv4_header(ip, sizeof(struct ip_header)));

    icmp = ip + sizeof(struct ip_header);
    icmp[0] = err->type;
    icmp[1] = err->code;
    put16(icmp + 2, 0);
    put32(icmp + 4, 0);
    if (err->type == ICMP4_DEST_UNREACH
        && err->code == ICMP4_CODE_FRAG_NEEDED) {
        put16(icmp + 6, htons(err->mtu));
    }
    memcpy(icmp + sizeof(struct icmp_header), oip, quote);
    put16(icmp + 2, csum_fold(csum_partial(icmp, ip_len
                                           - sizeof(struct ip_header), 0)));
    *lenp = l2 + ip_len;
    return 0;
}

bool
packet_icmp4_error_allowed(const void *frame, size_t len)
{
    struct packet_layout lo;
    struct flow_key key;

    flow_key_extract(frame, len, 0, &key, &lo);
    return (key.eth_type == htons(ETH_TYPE_IP) && lo.l3_ofs != UINT16_MAX
            && icmp4_error_allowed(frame, &key, &lo));
}

int
packet_ipv4_fragment(const void *frame, size_t len, size_t mtu, void *out,
                     size_t out_size, size_t *offsets, size_t *lens,
                     size_t max_frags, size_t *n_frags)
{
    const uint8_t *p = frame;
    uint8_t *o = out;
    uint8_t later_opts[40];
    struct packet_layout lo;
    struct flow_key key;
    size_t l2, ihl, tot, data_len, opt_len, later_ihl;
    size_t first_max, later_max, pos = 0, ofs = 0, n = 0;
    uint16_t frag, off0;
    const uint8_t *ip;

    *n_frags = 0;
    flow_key_extract(frame, len, 0, &key, &lo);
    if (key.eth_type != htons(ETH_TYPE_IP) || lo.l3_ofs == UINT16_MAX) {
        return EINVAL;
    }
    l2 = lo.l3_ofs;
    ip = p + l2;
    ihl = (size_t) (ip[0] & 0xf) * 4;
    tot = ntohs(get16(ip + 2));
    frag = ntohs(get16(ip + 6));
    off0 = frag & IP_FRAG_OFF_MASK;

    if (tot <= mtu) {
        if (!max_frags || out_size < l2 + tot) {
            return ENOSPC;
        }
        memcpy(o, p, l2 + tot);
        offsets[0] = 0;
        lens[0] = l2 + tot;
        *n_frags = 1;
        return 0;
    }
    if (frag & IP_DF) {
        return EPERM;
    }
    data_len = tot - ihl;
    if ((size_t) off0 * 8 + data_len > 65535) {
        return EINVAL;
    }
    opt_len = ip4_copied_options(ip + sizeof(struct ip_header),
                                 ihl - sizeof(struct ip_header), later_opts);
    if (opt_len == SIZE_MAX) {
        return EINVAL;
    }
    later_ihl = sizeof(struct ip_header) + ROUND_UP(opt_len, 4);
    memset(later_opts + opt_len, 0, later_ihl - sizeof(struct ip_header)
                                    - opt_len);

    /* The first header is the longest, so it bounds both. */
    first_max = mtu > ihl ? (mtu - ihl) & ~(size_t) 7 : 0;
    later_max = (mtu - later_ihl) & ~(size_t) 7;
    if (first_max < 8) {
        return EMSGSIZE;
    }

    while (pos < data_len) {
        bool first = pos == 0;
        size_t hl = first ? ihl : later_ihl;
        size_t chunk = MIN(first ? first_max : later_max, data_len - pos);
        bool last = pos + chunk == data_len;
        size_t flen = l2 + hl + chunk;
        uint16_t fo;
        uint8_t *fip;

        if (n == max_frags || out_size - ofs < flen) {
            return ENOSPC;
        }
        memcpy(o + ofs, p, l2);
        fip = o + ofs + l2;
        if (first) {
            memcpy(fip, ip, ihl);
        } else {
            memcpy(fip, ip, sizeof(struct ip_header));
            memcpy(fip + sizeof(struct ip_header), later_opts,
                   later_ihl - sizeof(struct ip_header));
            fip[0] = (uint8_t) (0x40 | later_ihl / 4);
        }
        put16(fip + 2, htons((uint16_t) (hl + chunk)));
        fo = (uint16_t) ((frag & ~(IP_MF | IP_FRAG_OFF_MASK))
                         | (off0 + pos / 8));
        if (!last || frag & IP_MF) {
            fo |= IP_MF;
        }
        put16(fip + 6, htons(fo));
        memcpy(fip + hl, ip + ihl + pos, chunk);
        put16(fip + 10, csum_ipv4_header(fip, hl));

        offsets[n] = ofs;
        lens[n] = flen;
        n++;
        ofs += flen;
        pos += chunk;
    }
    *n_frags = n;
    return 0;
}

size_t
packet_build_eth(void *buf, size_t size, const struct packet_spec *spec,
                 uint16_t eth_type)
{
    uint8_t *p = buf;
    size_t n = ETH_HDR_LEN - 2;

    size_t need = ETH_HDR_LEN + (spec->outer_tci ? VLAN_HDR_LEN : 0)
                  + (spec->vlan_tci || spec->outer_tci ? VLAN_HDR_LEN : 0);
    if (size < need) {
        return 0;
    }
    memcpy(p, &spec->eth_dst, ETH_ADDR_LEN);
    memcpy(p + ETH_ADDR_LEN, &spec->eth_src, ETH_ADDR_LEN);
    if (spec->outer_tci) {
        put16(p + n, htons(ETH_TYPE_QINQ));
        put16(p + n + 2, htons(spec->outer_tci));
        n += VLAN_HDR_LEN;
    }
    if (spec->vlan_tci || spec->outer_tci) {
        put16(p + n, htons(ETH_TYPE_VLAN));
        put16(p + n + 2, htons(spec->vlan_tci));
        n += VLAN_HDR_LEN;
    }
    put16(p + n, htons(eth_type));
    return n + 2;
}

static void
fill_payload(uint8_t *dst, const struct packet_spec *spec)
{
    if (spec->payload) {
        memcpy(dst, spec->payload, spec->payload_len);
    } else {
        for (size_t i = 0; i < spec->payload_len; i++) {
            dst[i] = (uint8_t) i;
        }
    }
}

/* Writes L2 + the IP header for an L4 header of 'l4_hdr_len' bytes
 * followed by the payload, and the payload.  Returns the offset of the L4
 * header, or 0 if the frame does not fit or cannot exist; '*total' gets
 * the frame length. */
static size_t
build_ip(void *buf, size_t size, const struct packet_spec *spec, bool v6,
         uint8_t proto, size_t l4_hdr_len, size_t *total)
{
    uint8_t *p = buf;
    size_t l2, l3_len = v6 ? 40 : 20;
    size_t l4_len = l4_hdr_len + spec->payload_len;
    uint8_t *ip;

    if (spec->payload_len > 65535 || l4_len + (v6 ? 0 : l3_len) > 65535) {
        return 0;
    }
    l2 = packet_build_eth(buf, size, spec, v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP);
    if (!l2 || size - l2 < l3_len + l4_len) {
        return 0;
    }
    ip = p + l2;
    if (v6) {
        put32(ip, htonl(6u << 28 | (uint32_t) spec->tos << 20));
        put16(ip + 4, htons((uint16_t) l4_len));
        ip[6] = proto;
        ip[7] = spec->ttl ? spec->ttl : 64;
        memcpy(ip + 8, spec->ip6_src, 16);
        memcpy(ip + 24, spec->ip6_dst, 16);
    } else {
        ip[0] = 0x45;
        ip[1] = spec->tos;
        put16(ip + 2, htons((uint16_t) (l3_len + l4_len)));
        put16(ip + 4, htons(spec->ip_id));
        put16(ip + 6, htons(spec->dont_frag ? IP_DF : 0));
        ip[8] = spec->ttl ? spec->ttl : 64;
        ip[9] = proto;
        put16(ip + 10, 0);
        put32(ip + 12, spec->ip4_src);
        put32(ip + 16, spec->ip4_dst);
        put16(ip + 10, csum_ipv4_header(ip, 20));
    }
    fill_payload(ip + l3_len + l4_hdr_len, spec);
    *total = l2 + l3_len + l4_len;
    return l2 + l3_len;
}

/* Fills the L4 checksum at 'csum_ofs' within the L4 header at 'l4_ofs'
 * according to spec->csum_mode.  'pseudo' selects whether a pseudo-header
 * is covered (all but ICMPv4). */
static void
finish_l4(uint8_t *p, const struct packet_spec *spec, bool v6, uint8_t proto,
          size_t l4_ofs, size_t total, size_t csum_ofs, bool pseudo)
{
    size_t l4_len = total - l4_ofs;
    uint8_t *l4 = p + l4_ofs;
    uint32_t sum = 0;
    be16 c = 0;

    if (pseudo) {
        sum = v6 ? csum_pseudo_ipv6(spec->ip6_src, spec->ip6_dst, proto,
                                    (uint32_t) l4_len)
                 : csum_pseudo_ipv4(spec->ip4_src, spec->ip4_dst, proto,
                                    (uint16_t) l4_len);
    }
    put16(l4 + csum_ofs, 0);
    switch (spec->csum_mode) {
    case PACKET_CSUM_FULL:
        sum = csum_partial(l4, l4_len, sum);
        c = proto == IPPROTO_UDP_ ? csum_fold_udp(sum) : csum_fold(sum);
        break;
    case PACKET_CSUM_PARTIAL:
        c = (be16) ~csum_fold(sum);
        break;
    case PACKET_CSUM_ZERO:
    default:
        break;
    }
    put16(l4 + csum_ofs, c);
}

static size_t
build_tcp(void *buf, size_t size, const struct packet_spec *spec, bool v6)
{
    uint8_t *p = buf, *th;
    size_t total, l4 = build_ip(buf, size, spec, v6, IPPROTO_TCP_, 20,
                                &total);

    if (!l4) {
        return 0;
    }
    th = p + l4;
    put16(th, htons(spec->src_port));
    put16(th + 2, htons(spec->dst_port));
    put32(th + 4, htonl(spec->tcp_seq));
    put32(th + 8, htonl(spec->tcp_ack));
    th[12] = 5 << 4;
    th[13] = spec->tcp_flags;
    put16(th + 14, htons(spec->tcp_window ? spec->tcp_window : 65535));
    put16(th + 18, 0);
    finish_l4(p, spec, v6, IPPROTO_TCP_, l4, total, 16, true);
    return total;
}

static size_t
build_udp(void *buf, size_t size, const struct packet_spec *spec, bool v6)
{
    uint8_t *p = buf, *uh;
    size_t total, l4 = build_ip(buf, size, spec, v6, IPPROTO_UDP_, 8,
                                &total);

    if (!l4) {
        return 0;
    }
    uh = p + l4;
    put16(uh, htons(spec->src_port));
    put16(uh + 2, htons(spec->dst_port));
    put16(uh + 4, htons((uint16_t) (total - l4)));
    finish_l4(p, spec, v6, IPPROTO_UDP_, l4, total, 6, true);
    return total;
}

static size_t
build_icmp(void *buf, size_t size, const struct packet_spec *spec, bool v6)
{
    uint8_t proto = v6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_;
    uint8_t *p = buf, *ih;
    size_t total, l4 = build_ip(buf, size, spec, v6, proto, 8, &total);

    if (!l4) {
        return 0;
    }
    ih = p + l4;
    ih[0] = spec->icmp_type;
    ih[1] = spec->icmp_code;
    put16(ih + 4, htons(spec->icmp_id));
    put16(ih + 6, htons(spec->icmp_seq));
    finish_l4(p, spec, v6, proto, l4, total, 2, v6);
    return total;
}

size_t
packet_build_tcp4(void *buf, size_t size, const struct packet_spec *spec)
{
    return build_tcp(buf, size, spec, false);
}

size_t
packet_build_udp4(void *buf, size_t size, const struct packet_spec *spec)
{
    return build_udp(buf, size, spec, false);
}

size_t
packet_build_icmp4(void *buf, size_t size, const struct packet_spec *spec)
{
    return build_icmp(buf, size, spec, false);
}

size_t
packet_build_ipv4(void *buf, size_t size, const struct packet_spec *spec,
                  uint8_t proto)
{
    size_t total;
    return build_ip(buf, size, spec, false, proto, 0, &total) ? total : 0;
}

size_t
packet_build_tcp6(void *buf, size_t size, const struct packet_spec *spec)
{
    return build_tcp(buf, size, spec, true);
}

size_t
packet_build_udp6(void *buf, size_t size, const struct packet_spec *spec)
{
    return build_udp(buf, size, spec, true);
}

size_t
packet_build_icmp6(void *buf, size_t size, const struct packet_spec *spec)
{
    return build_icmp(buf, size, spec, true);
}

size_t
packet_build_arp(void *buf, size_t size, const struct packet_spec *spec)
{
    uint8_t *p = buf, *arp;
    size_t l2 = packet_build_eth(buf, size, spec, ETH_TYPE_ARP);

    if (!l2 || size - l2 < sizeof(struct arp_eth_header)) {
        return 0;
    }
    arp = p + l2;
    put16(arp, htons(1));
    put16(arp + 2, htons(ETH_TYPE_IP));
    arp[4] = ETH_ADDR_LEN;
    arp[5] = 4;
    put16(arp + 6, htons(spec->arp_op ? spec->arp_op : ARP_OP_REQUEST));
    memcpy(arp + 8, &spec->eth_src, ETH_ADDR_LEN);
    put32(arp + 14, spec->ip4_src);
    memcpy(arp + 18, &spec->arp_tha, ETH_ADDR_LEN);
    put32(arp + 24, spec->ip4_dst);
    return l2 + sizeof(struct arp_eth_header);
}

int
packet_verify_csums(const void *frame, size_t len)
{
    const uint8_t *p = frame;
    struct packet_layout lo;
    struct flow_key key;
    uint16_t eth_type;
    bool v6;
    uint32_t sum = 0;
    size_t min;

    flow_key_extract(frame, len, 0, &key, &lo);
    eth_type = ntohs(key.eth_type);
    if (eth_type != ETH_TYPE_IP && eth_type != ETH_TYPE_IPV6) {
        return ENOTSUP;
    }
    if (lo.l3_ofs == UINT16_MAX) {
        return EINVAL;
    }
    v6 = eth_type == ETH_TYPE_IPV6;
    if (!v6 && !csum_ipv4_header_ok(p + lo.l3_ofs, (p[lo.l3_ofs] & 15) * 4)) {
        return EINVAL;
    }
    if (key.nw_frag) {
        return 0;               /* L4 checksums span all fragments. */
    }

    switch (key.nw_proto) {
    case IPPROTO_TCP_:
        min = 20;
        break;
    case IPPROTO_UDP_:
        min = 8;
        break;
    case IPPROTO_ICMP_:
    case IPPROTO_ICMPV6_:
        if ((key.nw_proto == IPPROTO_ICMPV6_) != v6) {
            return ENOTSUP;
        }
        min = 4;
        break;
    default:
        return ENOTSUP;
    }
    if (lo.l4_ofs == UINT16_MAX || lo.l4_len < min) {
        return EINVAL;
    }
    if (key.nw_proto == IPPROTO_UDP_ && !v6
        && !get16(p + lo.l4_ofs + 6)) {
        return 0;
    }
    if (key.nw_proto != IPPROTO_ICMP_) {
        sum = v6 ? csum_pseudo_ipv6(key.nw_src.ip6, key.nw_dst.ip6,
                                    key.nw_proto, lo.l4_len)
                 : csum_pseudo_ipv4(key.nw_src.ip4, key.nw_dst.ip4,
                                    key.nw_proto, lo.l4_len);
    }
    sum = csum_partial(p + lo.l4_ofs, lo.l4_len, sum);
    return csum_fold(sum) == 0 ? 0 : EINVAL;
}

/* True if 'addr' can be the source of a packet from one unicast host: not
 * in 0/8 ("this network"), 127/8 (loopback), 224/4 (multicast) or 240/4
 * (class E, including the limited broadcast). */
static bool
ip4_is_unicast_host(be32 addr)
{
    uint32_t first = ntohl(addr) >> 24;

    return first != 0 && first != 127 && first < 224;
}

/* True if an ICMP error may be sent about the IPv4 packet parsed into
 * 'key' and 'lo' from 'frame' (RFC 1122 3.2.2, RFC 1812 4.3.2.7). */
static bool
icmp4_error_allowed(const uint8_t *frame, const struct flow_key *key,
                    const struct packet_layout *lo)
{
    uint32_t dst = ntohl(key->nw_dst.ip4);

    if (key->nw_frag & FLOW_NW_FRAG_LATER
        || eth_addr_is_multicast(&key->eth_dst)
        || eth_addr_is_multicast(&key->eth_src)
        || dst == 0xffffffffu || dst >> 28 == 0xe
        || !ip4_is_unicast_host(key->nw_src.ip4)) {
        return false;
    }
    if (key->nw_proto == IPPROTO_ICMP_) {
        if (lo->l4_ofs == UINT16_MAX) {
            return false;       /* Cannot tell what it is: stay quiet. */
        }
        /* Only the queries and their replies may be answered; every
         * other type (errors, router discovery, unknown) may not. */
        switch (frame[lo->l4_ofs]) {
        case ICMP4_ECHO_REPLY:
        case ICMP4_ECHO_REQUEST:
        case 13: case 14:       /* Timestamp request and reply. */
        case 15: case 16:       /* Information request and reply. */
        case 17: case 18:       /* Address mask request and reply. */
            return true;
        default:
            return false;
        }
    }
    return true;
}

/* Copies the options among the 'len' bytes at 'opts' whose copied flag
 * (0x80) is set into 'out' (room for 'len' bytes), dropping the others,
 * NOPs and everything after end-of-list.  Returns the bytes written, or
 * SIZE_MAX if an option's length is malformed. */
static size_t
ip4_copied_options(const uint8_t *opts, size_t len, uint8_t *out)
{
    size_t i = 0, n = 0;

    while (i < len) {
        uint8_t type = opts[i];
        size_t olen;

        if (type == 0) {
            break;
        }
        if (type == 1) {
            i++;
            continue;
        }
        if (len - i < 2) {
            return SIZE_MAX;
        }
        olen = opts[i + 1];
        if (olen < 2 || olen > len - i) {
            return SIZE_MAX;
        }
        if (type & 0x80) {
            memcpy(out + n, opts + i, olen);
            n += olen;
        }
        i += olen;
    }
    return n;
}
