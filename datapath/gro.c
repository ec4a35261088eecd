/*
 * gro.c -- receive-side coalescing of TCP segments (see gro.h).
 *
 * Cost per segment: parse and compare a few dozen header bytes, one
 * checksum pass to verify the segment, one iovec.  Payload is never
 * copied; the first segment's headers are copied once a second segment
 * joins it.
 */
#include "datapath/gro.h"

#include <arpa/inet.h>
#include <string.h>

#include "lib/csum.h"


bool
gro_parse(const uint8_t *frame, size_t len, struct gro_seg *seg)
{
    const uint8_t *ip = frame + ETH_HDR_LEN;
    const uint8_t *th;
    size_t l4, thlen, l4_len;
    uint32_t sum, flow;
    be16 type;
    bool v6;

    /* At least IPv4 + TCP + 1 byte of payload (IPv6 checks its own). */
    if (len < ETH_HDR_LEN + 20 + 20 + 1 || len > GRO_FRAME_MAX) {
        return false;
    }
    type = get16(frame + 12);
    if (type == htons(ETH_TYPE_IP)) {
        size_t tot_len = ntohs(get16(ip + 2));

        if (ip[0] != 0x45 || ip[9] != IPPROTO_TCP_
            || tot_len != len - ETH_HDR_LEN
            || get16(ip + 6) & htons(IP_MF | IP_FRAG_OFF_MASK)
            || !csum_ipv4_header_ok(ip, 20)) {
            return false;
        }
        v6 = false;
        l4 = ETH_HDR_LEN + 20;
        l4_len = tot_len - 20;
        sum = csum_pseudo_ipv4(get32(ip + 12), get32(ip + 16), IPPROTO_TCP_,
                               (uint16_t) l4_len);
        flow = get32(ip + 12) ^ get32(ip + 16);
        seg->ip_id = ntohs(get16(ip + 4));
        seg->df = (get16(ip + 6) & htons(IP_DF)) != 0;
    } else if (type == htons(ETH_TYPE_IPV6)) {
        if (len < ETH_HDR_LEN + 40 + 20 + 1
            || ip[0] >> 4 != 6 || ip[6] != IPPROTO_TCP_
            || ntohs(get16(ip + 4)) != len - ETH_HDR_LEN - 40) {
            return false;
        }
        v6 = true;
        l4 = ETH_HDR_LEN + 40;
        l4_len = len - l4;
        sum = csum_pseudo_ipv6(ip + 8, ip + 24, IPPROTO_TCP_,
                               (uint32_t) l4_len);
        flow = 0;
        for (int i = 8; i < 40; i += 4) {
            flow ^= get32(ip + i);
        }
        seg->ip_id = 0;
        seg->df = false;
    } else {
        return false;
    }

    th = frame + l4;
    if (l4_len < 20) {
        return false;
    }
    thlen = (size_t) (th[12] >> 4) * 4;
    if (thlen < 20 || thlen >= l4_len
        || (th[13] & ~TCP_PSH) != TCP_ACK
        || th[12] & 0x0f) {         /* Reserved bits and AccECN's AE. */
        return false;
    }
    if (csum_fold(csum_partial(th, l4_len, sum))) {
        return false;
    }

    seg->frame = frame;
    seg->len = len;
    seg->l4 = (uint16_t) l4;
    seg->hdrs = (uint16_t) (l4 + thlen);
    seg->payload = (uint16_t) (l4_len - thlen);
    seg->seq = ntohl(get32(th + 4));
    seg->flow = flow ^ get32(th);
    seg->v6 = v6;
    seg->psh = (th[13] & TCP_PSH) != 0;
    return true;
}

bool
gro_same_flow(const struct gro_seg *a, const struct gro_seg *b)
{
    const uint8_t *pa = a->frame, *pb = b->frame;

    if (a->flow != b->flow || a->v6 != b->v6
        || memcmp(pa, pb, ETH_HDR_LEN)
        || memcmp(pa + a->l4, pb + b->l4, 4)) {
        return false;
    }
    return (a->v6
            ? !memcmp(pa + ETH_HDR_LEN + 8, pb + ETH_HDR_LEN + 8, 32)
            : !memcmp(pa + ETH_HDR_LEN + 12, pb + ETH_HDR_LEN + 12, 8));
}

/* Whether every header byte of 'a' and 'b' is equal except the fields
 * that differ between segments of one TSO frame.  Both have the same
 * header length. */
static bool
gro_headers_match(const struct gro_seg *a, const struct gro_seg *b)
{
    const uint8_t *ia = a->frame + ETH_HDR_LEN, *ib = b->frame + ETH_HDR_LEN;
    const uint8_t *ta = a->frame + a->l4, *tb = b->frame + b->l4;
    size_t thlen = (size_t) (a->hdrs - a->l4);

    if (memcmp(a->frame, b->frame, ETH_HDR_LEN)) {
        return false;
    }
    if (a->v6) {
        /* Version, class, flow label; next header, hop limit, addresses;
         * not the payload length. */
        if (memcmp(ia, ib, 4) || memcmp(ia + 6, ib + 6, 34)) {
            return false;
        }
    } else {
        /* Version/IHL, TOS; flags/offset, TTL, protocol; addresses; not
         * the total length, id or checksum. */
        if (memcmp(ia, ib, 2) || memcmp(ia + 6, ib + 6, 4)
            || memcmp(ia + 12, ib + 12, 8)) {
            return false;
        }
    }
    /* Ports; ack, data offset; window; urgent pointer and options: all
     * but sequence number, flags (checked by gro_parse()) and checksum. */
    return (!memcmp(ta, tb, 4) && !memcmp(ta + 8, tb + 8, 5)
            && !memcmp(ta + 14, tb + 14, 2)
            && !memcmp(ta + 18, tb + 18, thlen - 18));
}

void
gro_start(struct gro_ctx *ctx, const struct gro_seg *seg)
{
    ctx->first = *seg;
    ctx->iov = NULL;
    ctx->hdrs = NULL;
    ctx->n_iov = 0;
    ctx->len = seg->len;
    ctx->next_seq = seg->seq + seg->payload;
    ctx->n_segs = 1;
    ctx->last = seg->psh;
    ctx->psh = seg->psh;
    ctx->orig_bytes = seg->len;
}

bool
gro_can_append(const struct gro_ctx *ctx, const struct gro_seg *seg)
{
    const struct gro_seg *f = &ctx->first;

    if (ctx->last
        || ctx->n_segs >= GRO_MAX_SEGS
        || seg->seq != ctx->next_seq
        || seg->hdrs != f->hdrs
        || seg->payload > f->payload
        || ctx->len + seg->payload - ETH_HDR_LEN > GRO_MAX_IP_LEN) {
        return false;
    }
    if (!f->v6 && seg->df != f->df) {
        return false;
    }
    if (!f->v6 && !f->df
        && seg->ip_id != (uint16_t) (f->ip_id + ctx->n_segs)) {
        return false;
    }
    return gro_headers_match(f, seg);
}

static void
gro_add_iov(struct gro_ctx *ctx, const void *p, size_t len)
{
    ASSERT(ctx->n_iov < GRO_IOVS);
    ctx->iov[ctx->n_iov].iov_base = (void *) p;
    ctx->iov[ctx->n_iov].iov_len = len;
    ctx->n_iov++;
}

void
gro_append(struct gro_ctx *ctx, const struct gro_seg *seg,
           struct iovec *iov, uint8_t *hdrs)
{
    const struct gro_seg *f = &ctx->first;

    if (!ctx->iov) {
        ASSERT(f->hdrs <= GRO_HDRS_MAX);
        ctx->iov = iov;
        ctx->hdrs = hdrs;
        memcpy(hdrs, f->frame, f->hdrs);
        ctx->iov[0].iov_base = NULL;
        ctx->iov[0].iov_len = 0;
        ctx->n_iov = 1;
        gro_add_iov(ctx, hdrs, f->hdrs);
        gro_add_iov(ctx, f->frame + f->hdrs, f->payload);
    }
    gro_add_iov(ctx, seg->frame + seg->hdrs, seg->payload);
    ctx->len += seg->payload;
    ctx->next_seq += seg->payload;
    ctx->n_segs++;
    ctx->orig_bytes += seg->len;
    ctx->psh |= seg->psh;
    if (seg->psh || seg->payload < f->payload
        || ctx->n_segs >= GRO_MAX_SEGS
        || ctx->len + f->payload - ETH_HDR_LEN > GRO_MAX_IP_LEN) {
        ctx->last = true;
    }
}

size_t
gro_finish(struct gro_ctx *ctx, struct virtio_net_hdr *vh)
{
    const struct gro_seg *f = &ctx->first;
    uint8_t *p = ctx->hdrs;
    uint8_t *ip = p + ETH_HDR_LEN;
    uint8_t *th = p + f->l4;
    size_t l4_len = ctx->len - f->l4;
    uint32_t pseudo;

    ASSERT(ctx->iov && ctx->n_segs >= 2);
    if (f->v6) {
        put16(ip + 4, htons((uint16_t) l4_len));
        pseudo = csum_pseudo_ipv6(ip + 8, ip + 24, IPPROTO_TCP_,
                                  (uint32_t) l4_len);
    } else {
        put16(ip + 2, htons((uint16_t) (ctx->len - ETH_HDR_LEN)));
        put16(ip + 10, csum_ipv4_header(ip, 20));
        pseudo = csum_pseudo_ipv4(get32(ip + 12), get32(ip + 16),
                                  IPPROTO_TCP_, (uint16_t) l4_len);
    }
    if (ctx->psh) {
        th[13] |= TCP_PSH;
    }
    /* CHECKSUM_PARTIAL: the folded pseudo-header sum, not complemented. */
    put16(th + 16, (be16) ~csum_fold(pseudo));

    memset(vh, 0, sizeof *vh);
    vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh->gso_type = f->v6 ? VIRTIO_NET_HDR_GSO_TCPV6
                         : VIRTIO_NET_HDR_GSO_TCPV4;
    vh->hdr_len = f->hdrs;
    vh->gso_size = f->payload;
    vh->csum_start = f->l4;
    vh->csum_offset = 16;
    ctx->iov[0].iov_base = vh;
    ctx->iov[0].iov_len = sizeof *vh;
    return ctx->len;
}
