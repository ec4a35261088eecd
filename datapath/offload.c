/*
 * offload.c -- checksum completion and TCP segmentation for frames with
 * virtio-net offload metadata (see offload.h).
 *
 * Segmentation is on the TCP throughput path, so the per-segment work is:
 * copy the headers (a few dozen bytes), copy one gso_size chunk of payload,
 * patch a handful of fields, and one checksum pass over TCP header plus
 * payload (the copy leaves the chunk in cache for it).  The pseudo-header
 * sum without the length is computed once per frame.
 *
 * Validation (everything -> EINVAL): gso_size > 0; hdr_len <= len (Linux
 * fills hdr_len with the length of the skb's linear part, so it is only a
 * bound, not the header length; we find the real header length by parsing);
 * the headers as flow_key_extract() parses them (VLAN tags, IP lengths,
 * TCP data offset: one parser for the whole datapath), with IPv4 or IPv6
 * as the GSO type says, protocol TCP, not a fragment, and for IPv6 TCP as
 * the first next header; and, if NEEDS_CSUM is set, csum_start at the TCP
 * header and csum_offset 16.  Bytes after the IP packet's end (Ethernet
 * padding) are not copied.  The parse is once per TSO frame, not per
 * segment.
 */
#include "datapath/offload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "lib/csum.h"
#include "lib/flow-key.h"
#include "lib/packet.h"

int
offload_complete_csum(void *frame, size_t len,
                      const struct virtio_net_hdr *vh)
{
    uint8_t *p = frame;
    size_t start, field;
    uint32_t sum;

    if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
        return 0;
    }
    start = vh->csum_start;
    field = start + vh->csum_offset;
    if (field > len || len - field < 2) {
        return EINVAL;
    }
    /* The field holds the pseudo-header sum; summing over it adds it in.
     * Like Linux, store 0xffff for a zero result (required for UDP,
     * equivalent for TCP). */
    sum = csum_partial(p + start, len - start, 0);
    put16(p + field, csum_fold_udp(sum));
    return 0;
}

/* Where the headers of a TSO frame are, once validated. */
struct tso_layout {
    size_t l3;                  /* IP header offset. */
    size_t l4;                  /* TCP header offset. */
    size_t hdrs;                /* Total header length (L2 + L3 + L4). */
    size_t end;                 /* End of the IP packet. */
};

static int
tso_parse(const uint8_t *p, size_t len, bool v6,
          const struct virtio_net_hdr *vh, struct tso_layout *t)
{
    struct packet_layout lo;
    struct flow_key key;
    size_t thlen;

    if (vh->hdr_len > len) {
        return EINVAL;
    }
    /* flow_key_extract() validated every layer it reports: l4_ofs is set
     * for TCP only with a data offset of 20..60 bytes inside the IP
     * payload, and l4_len ends where the IP packet does. */
    flow_key_extract(p, len, 0, &key, &lo);
    if (key.eth_type != htons(v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP)
        || key.nw_proto != IPPROTO_TCP_ || key.nw_frag
        || lo.l4_ofs == UINT16_MAX
        || (v6 && lo.l4_ofs != lo.l3_ofs + sizeof(struct ipv6_header))) {
        return EINVAL;
    }
    t->l3 = lo.l3_ofs;
    t->l4 = lo.l4_ofs;
    t->end = (size_t) lo.l4_ofs + lo.l4_len;
    thlen = (size_t) (p[t->l4 + 12] >> 4) * 4;
    t->hdrs = t->l4 + thlen;

    if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM
        && (vh->csum_start != t->l4 || vh->csum_offset != 16)) {
        return EINVAL;
    }
    return 0;
}

int
offload_segment_tcp(const void *frame, size_t len,
                    const struct virtio_net_hdr *vh, void *out,
                    size_t out_size, size_t *offsets, size_t *lens,
                    size_t max_segs, size_t *n_segs)
{
    const uint8_t *p = frame;
    uint8_t *o = out;
    uint8_t gso_type = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
    struct tso_layout t;
    size_t mss = vh->gso_size, payload, n, thlen, pos = 0;
    uint32_t seq0, pseudo;
    uint16_t id0 = 0;
    uint8_t flags0;
    bool v6;
    int error;

    *n_segs = 0;
    if (gso_type == VIRTIO_NET_HDR_GSO_TCPV4) {
        v6 = false;
    } else if (gso_type == VIRTIO_NET_HDR_GSO_TCPV6) {
        v6 = true;
    } else {
        return EOPNOTSUPP;
    }
    if (!mss) {
        return EINVAL;
    }
    error = tso_parse(p, len, v6, vh, &t);
    if (error) {
        return error;
    }

    payload = t.end - t.hdrs;
    n = payload ? (payload + mss - 1) / mss : 1;
    if (n > max_segs || n * t.hdrs + payload > out_size) {
        return ENOSPC;
    }

    thlen = t.hdrs - t.l4;
    seq0 = ntohl(get32(p + t.l4 + 4));
    flags0 = p[t.l4 + 13];
    if (v6) {
        pseudo = csum_pseudo_ipv6(p + t.l3 + 8, p + t.l3 + 24,
                                  IPPROTO_TCP_, 0);
    } else {
        pseudo = csum_pseudo_ipv4(get32(p + t.l3 + 12), get32(p + t.l3 + 16),
                                  IPPROTO_TCP_, 0);
        id0 = ntohs(get16(p + t.l3 + 4));
    }

    for (size_t i = 0; i < n; i++) {
        size_t chunk = MIN(mss, payload - i * mss);
        size_t l4_len = thlen + chunk;
        uint8_t *seg = o + pos;
        uint8_t *ip = seg + t.l3;
        uint8_t *th = seg + t.l4;
        uint8_t flags = flags0;
        uint32_t sum;

        memcpy(seg, p, t.hdrs);
        memcpy(seg + t.hdrs, p + t.hdrs + i * mss, chunk);

        if (v6) {
            put16(ip + 4, htons((uint16_t) (t.l4 - t.l3 - 40 + l4_len)));
        } else {
            put16(ip + 2, htons((uint16_t) (t.l4 - t.l3 + l4_len)));
            put16(ip + 4, htons((uint16_t) (id0 + i)));
            put16(ip + 10, csum_ipv4_header(ip, t.l4 - t.l3));
        }

        put32(th + 4, htonl(seq0 + (uint32_t) (i * mss)));
        if (i != n - 1) {
            flags &= ~(TCP_FIN | TCP_PSH);
        }
        if (i != 0) {
            flags &= ~TCP_CWR;
        }
        th[13] = flags;
        put16(th + 16, 0);
        sum = csum_add16(pseudo, htons((uint16_t) l4_len));
        sum = csum_partial(th, l4_len, sum);
        put16(th + 16, csum_fold(sum));

        offsets[i] = pos;
        lens[i] = t.hdrs + chunk;
        pos += lens[i];
    }
    *n_segs = n;
    return 0;
}
