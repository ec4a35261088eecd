/*
 * tunnel.c -- Geneve/VXLAN encapsulation over UDP sockets (see tunnel.h).
 *
 * Transmit queue layout: 'msgs' are the datagrams (or UDP GSO trains) to
 * send, each owning a run of 'iovs' (header, segment, header, segment...)
 * and one 8-byte header in 'hdrs' that all its segments share.  Flushing
 * turns the queue into one sendmmsg per run of messages on the same
 * socket, with a UDP_SEGMENT control message on GSO trains.
 */
#include "datapath/tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/packet.h"

#define TUNNEL_SOCKBUF (8 * 1024 * 1024)
#define TUNNEL_RX_BUF 65536     /* Largest UDP datagram (GRO incl.). */

struct tunnel_txmsg {
    be32 dst;
    uint32_t vni;
    uint8_t encap;              /* enum dp_encap. */
    uint16_t gso_size;          /* Encapsulated segment size, 0 = single. */
    uint16_t n_segs;
    size_t iov_ofs;             /* First iovec in 'iovs'. */
    uint8_t hdr[TUNNEL_HDR_LEN];
};

struct tunnel_cmsg {
    union {
        struct cmsghdr cm;
        char buf[CMSG_SPACE(sizeof(uint16_t))];
    };
};

struct tunnel {
    int fds[2];                 /* Indexed by enum dp_encap. */
    uint16_t ports[2];          /* Host order. */
    bool gso_disabled;
    uint64_t tx_datagrams;      /* Messages sent (tunnel_tx_datagrams()). */

    /* Receive. */
    uint8_t *rxbuf;             /* TUNNEL_RX_BATCH * TUNNEL_RX_BUF. */
    struct tunnel_pkt *pkts;    /* TUNNEL_RX_BATCH * TUNNEL_RX_SEGS_MAX. */

    /* Transmit queue. */
    struct tunnel_txmsg msgs[TUNNEL_TX_MSGS];
    size_t n_msgs;
    struct iovec iovs[2 * TUNNEL_TX_SEGS];
    size_t n_iovs;

    /* Scratch for tunnel_flush(). */
    struct mmsghdr mm[TUNNEL_TX_MSGS];
    struct sockaddr_in sins[TUNNEL_TX_MSGS];
    struct tunnel_cmsg ctls[TUNNEL_TX_MSGS];
};

static int
open_socket(be32 ip, uint16_t port, int *fdp)
{
    struct sockaddr_in sin;
    int size = TUNNEL_SOCKBUF;
    int pmtu = IP_PMTUDISC_DONT;
    int one = 1;
    int error;
    int fd;

    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
    /* Let the kernel fragment an oversized tunnel packet rather than
     * refuse it: an MTU problem then costs speed, not connectivity. */
    setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
    if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) < 0) {
        VLOG_WARN("tunnel: UDP_GRO unavailable: %s", strerror(errno));
    }

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = ip;
    sin.sin_port = htons(port);
    if (bind(fd, (struct sockaddr *) &sin, sizeof sin) < 0) {
        error = errno;
        close(fd);
        return error;
    }
    *fdp = fd;
    return 0;
}

struct tunnel *
tunnel_open(be32 ip, unsigned int send_only, uint16_t geneve_port,
            uint16_t vxlan_port, int *errorp)
{
    struct tunnel *t = xzalloc(sizeof *t);
    char ipstr[INET_ADDRSTRLEN];
    int error;

    t->fds[0] = t->fds[1] = -1;
    t->ports[DP_ENCAP_GENEVE] = geneve_port ? geneve_port : GENEVE_PORT;
    t->ports[DP_ENCAP_VXLAN] = vxlan_port ? vxlan_port : VXLAN_PORT;
    inet_ntop(AF_INET, &ip, ipstr, sizeof ipstr);

    error = open_socket(ip, send_only & (1u << DP_ENCAP_GENEVE) ? 0
                            : t->ports[DP_ENCAP_GENEVE],
                        &t->fds[DP_ENCAP_GENEVE]);
    if (error) {
        VLOG_ERR("tunnel: Geneve socket on %s:%u: %s", ipstr,
                 t->ports[DP_ENCAP_GENEVE], strerror(error));
        goto error_free;
    }
    error = open_socket(ip, send_only & (1u << DP_ENCAP_VXLAN) ? 0
                            : t->ports[DP_ENCAP_VXLAN],
                        &t->fds[DP_ENCAP_VXLAN]);
    if (error) {
        VLOG_ERR("tunnel: VXLAN socket on %s:%u: %s", ipstr,
                 t->ports[DP_ENCAP_VXLAN], strerror(error));
        goto error_close;
    }
    t->rxbuf = xmalloc((size_t) TUNNEL_RX_BATCH * TUNNEL_RX_BUF);
    t->pkts = xmalloc((size_t) TUNNEL_RX_BATCH * TUNNEL_RX_SEGS_MAX
                      * sizeof *t->pkts);
    return t;

error_close:
    close(t->fds[DP_ENCAP_GENEVE]);
error_free:
    free(t);
    *errorp = error;
    return NULL;
}

void
tunnel_close(struct tunnel *t)
{
    if (t) {
        close(t->fds[0]);
        close(t->fds[1]);
        free(t->rxbuf);
        free(t->pkts);
        free(t);
    }
}

int
tunnel_fd(const struct tunnel *t, enum dp_encap encap)
{
    return t->fds[encap];
}

/* Geneve and VXLAN both carry the 24-bit VNI in bytes 4..6. */
#define TUNNEL_VNI_OFS 4
BUILD_ASSERT_DECL(offsetof(struct geneve_header, vni) == TUNNEL_VNI_OFS);
BUILD_ASSERT_DECL(offsetof(struct vxlan_header, vni) == TUNNEL_VNI_OFS);

void
tunnel_build_header(enum dp_encap encap, uint32_t vni, uint8_t *hdr)
{
    uint8_t *v = hdr + TUNNEL_VNI_OFS;

    memset(hdr, 0, TUNNEL_HDR_LEN);
    if (encap == DP_ENCAP_GENEVE) {
        put16(hdr + offsetof(struct geneve_header, proto_type),
              htons(GENEVE_PROTO_TEB));
    } else {
        hdr[offsetof(struct vxlan_header, flags)] = VXLAN_FLAG_I;
    }
    v[0] = vni >> 16;
    v[1] = vni >> 8;
    v[2] = vni;
}

bool
tunnel_parse(enum dp_encap encap, const uint8_t *p, size_t len,
             uint32_t *vnip, size_t *hdr_lenp)
{
    if (len < TUNNEL_HDR_LEN) {
        return false;
    }
    if (encap == DP_ENCAP_GENEVE) {
        struct geneve_header g;
        size_t opt_len;

        memcpy(&g, p, sizeof g);
        opt_len = (size_t) (g.ver_optlen & 0x3f) * 4;
        if (g.ver_optlen >> 6                   /* Version 0 only. */
            || g.flags & 0xc0                   /* O, C: not for us. */
            || ntohs(g.proto_type) != GENEVE_PROTO_TEB
            || TUNNEL_HDR_LEN + opt_len > len) {
            return false;
        }
        *hdr_lenp = TUNNEL_HDR_LEN + opt_len;
    } else {
        struct vxlan_header v;

        memcpy(&v, p, sizeof v);
        if (!(v.flags & VXLAN_FLAG_I)) {
            return false;
        }
        *hdr_lenp = TUNNEL_HDR_LEN;
    }
    p += TUNNEL_VNI_OFS;
    *vnip = (uint32_t) p[0] << 16 | (uint32_t) p[1] << 8 | p[2];
    return true;
}

size_t
tunnel_recv(struct tunnel *t, enum dp_encap encap, struct tunnel_pkt **pktsp,
            struct tunnel_rx_counts *counts)
{
    union {
        struct cmsghdr cm;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl[TUNNEL_RX_BATCH];
    struct mmsghdr msgs[TUNNEL_RX_BATCH];
    struct sockaddr_in srcs[TUNNEL_RX_BATCH];
    struct iovec iovs[TUNNEL_RX_BATCH];
    size_t n_pkts = 0;
    int got;

    *pktsp = t->pkts;
    for (int i = 0; i < TUNNEL_RX_BATCH; i++) {
        iovs[i].iov_base = t->rxbuf + (size_t) i * TUNNEL_RX_BUF;
        iovs[i].iov_len = TUNNEL_RX_BUF;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_name = &srcs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof srcs[i];
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = ctl[i].buf;
        msgs[i].msg_hdr.msg_controllen = sizeof ctl[i].buf;
    }
    got = recvmmsg(t->fds[encap], msgs, TUNNEL_RX_BATCH, MSG_DONTWAIT, NULL);
    if (got <= 0) {
        return 0;
    }

    counts->datagrams += (size_t) got;
    for (int i = 0; i < got; i++) {
        struct msghdr *mh = &msgs[i].msg_hdr;
        uint8_t *data = iovs[i].iov_base;
        size_t len = MIN(msgs[i].msg_len, (size_t) TUNNEL_RX_BUF);
        size_t seg_size = len;
        be32 src = 0;
        size_t n_segs = 0;

        if (mh->msg_flags & MSG_TRUNC) {
            counts->truncated++;
            continue;
        }
        if (mh->msg_namelen >= sizeof srcs[i]
            && srcs[i].sin_family == AF_INET) {
            src = srcs[i].sin_addr.s_addr;
        }
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
             cm = CMSG_NXTHDR(mh, cm)) {
            if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO
                && cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
                int gso;

                memcpy(&gso, CMSG_DATA(cm), sizeof gso);
                if (gso > 0 && (size_t) gso < seg_size) {
                    seg_size = (size_t) gso;
                }
            }
        }
        if (!len) {
            counts->malformed++;
            continue;
        }

        for (size_t ofs = 0; ofs < len; ofs += seg_size) {
            size_t seg_len = MIN(seg_size, len - ofs);
            struct tunnel_pkt *pkt;
            size_t hdr_len;
            uint32_t vni;

            if (n_segs++ >= TUNNEL_RX_SEGS_MAX
                || !tunnel_parse(encap, data + ofs, seg_len, &vni,
                                 &hdr_len)) {
                counts->malformed++;
                continue;
            }
            pkt = &t->pkts[n_pkts++];
            pkt->frame = data + ofs + hdr_len;
            pkt->len = seg_len - hdr_len;
            pkt->vni = vni;
            pkt->src = src;
        }
    }
    return n_pkts;
}

bool
tunnel_has_room(const struct tunnel *t, size_t n_segs)
{
    /* Worst case: UDP GSO is off and every segment is a message. */
    return (t->n_msgs + n_segs <= TUNNEL_TX_MSGS
            && t->n_iovs + 2 * n_segs <= ARRAY_SIZE(t->iovs));
}

static struct tunnel_txmsg *
txmsg_new(struct tunnel *t, enum dp_encap encap, be32 dst, uint32_t vni)
{
    struct tunnel_txmsg *m;

    ASSERT(t->n_msgs < TUNNEL_TX_MSGS);
    m = &t->msgs[t->n_msgs++];
    m->dst = dst;
    m->vni = vni;
    m->encap = encap;
    m->gso_size = 0;
    m->n_segs = 0;
    m->iov_ofs = t->n_iovs;
    tunnel_build_header(encap, vni, m->hdr);
    return m;
}

static void
txmsg_add_seg(struct tunnel *t, struct tunnel_txmsg *m, const void *p,
              size_t len)
{
    ASSERT(t->n_iovs + 2 <= ARRAY_SIZE(t->iovs));
    t->iovs[t->n_iovs].iov_base = m->hdr;
    t->iovs[t->n_iovs].iov_len = TUNNEL_HDR_LEN;
    t->iovs[t->n_iovs + 1].iov_base = (void *) p;
    t->iovs[t->n_iovs + 1].iov_len = len;
    t->n_iovs += 2;
    m->n_segs++;
}

/* Tries to append a 'len'-byte frame for ('encap', 'dst', 'vni') to the
 * last queued message as one more UDP GSO segment.  That is allowed when
 * the message goes to the same place with the same encapsulation and VNI
 * (hence the same tunnel header, which is built once per message), every
 * segment so far has the first one's length and the new one is no longer
 * (only the last segment of a GSO message may be shorter), and the
 * message stays within the segment and datagram limits.  Small frames of
 * one burst -- 64-byte UDP floods, runs of TCP ACKs -- then cross the
 * kernel's UDP, IP, veth and bridge layers once per burst instead of once
 * per frame, and reach the peer as one GRO datagram. */
static bool
txmsg_try_append(struct tunnel *t, enum dp_encap encap, be32 dst,
                 uint32_t vni, const void *frame, size_t len)
{
    struct tunnel_txmsg *m;
    size_t first, last, seg;

    if (t->gso_disabled || !t->n_msgs) {
        return false;
    }
    m = &t->msgs[t->n_msgs - 1];
    if (m->dst != dst || m->encap != encap || m->vni != vni
        || m->n_segs >= TUNNEL_GSO_MAX_SEGS) {
        return false;
    }
    first = t->iovs[m->iov_ofs + 1].iov_len;
    last = t->iovs[t->n_iovs - 1].iov_len;
    seg = TUNNEL_HDR_LEN + first;
    if (last != first || len > first || !len
        || (m->n_segs + 1) * seg > TUNNEL_UDP_MAX) {
        return false;
    }
    txmsg_add_seg(t, m, frame, len);
    m->gso_size = seg;
    return true;
}

void
tunnel_queue(struct tunnel *t, enum dp_encap encap, be32 dst, uint32_t vni,
             const void *frame, size_t len)
{
    if (!txmsg_try_append(t, encap, dst, vni, frame, len)) {
        txmsg_add_seg(t, txmsg_new(t, encap, dst, vni), frame, len);
    }
}

void
tunnel_queue_segs(struct tunnel *t, enum dp_encap encap, be32 dst,
                  uint32_t vni, const uint8_t *base, const size_t *offsets,
                  const size_t *lens, size_t n)
{
    size_t full = n ? lens[0] : 0;
    size_t gso_size = TUNNEL_HDR_LEN + full;
    size_t per_msg;
    bool uniform = true;

    for (size_t i = 0; i + 1 < n; i++) {
        if (lens[i] != full) {
            uniform = false;
        }
    }
    if (n && lens[n - 1] > full) {
        uniform = false;
    }
    per_msg = MIN((size_t) TUNNEL_GSO_MAX_SEGS, TUNNEL_UDP_MAX / gso_size);
    if (!uniform || t->gso_disabled || gso_size > UINT16_MAX || !per_msg) {
        per_msg = 1;
    }

    for (size_t i = 0; i < n; i += per_msg) {
        struct tunnel_txmsg *m = txmsg_new(t, encap, dst, vni);
        size_t k = MIN(per_msg, n - i);

        for (size_t j = 0; j < k; j++) {
            txmsg_add_seg(t, m, base + offsets[i + j], lens[i + j]);
        }
        if (k > 1) {
            m->gso_size = gso_size;
        }
    }
}

/* The peer's socket address for message 'm'. */
static void
txmsg_sockaddr(const struct tunnel *t, const struct tunnel_txmsg *m,
               struct sockaddr_in *sin)
{
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = m->dst;
    sin->sin_port = htons(t->ports[m->encap]);
}

static void
fill_msghdr(struct tunnel *t, const struct tunnel_txmsg *m,
            struct sockaddr_in *sin, struct tunnel_cmsg *ctl,
            struct msghdr *mh)
{
    txmsg_sockaddr(t, m, sin);

    memset(mh, 0, sizeof *mh);
    mh->msg_name = sin;
    mh->msg_namelen = sizeof *sin;
    mh->msg_iov = &t->iovs[m->iov_ofs];
    mh->msg_iovlen = 2 * (size_t) m->n_segs;
    if (m->gso_size) {
        struct cmsghdr *cm;
        uint16_t gso = m->gso_size;

        memset(ctl, 0, sizeof *ctl);
        mh->msg_control = ctl->buf;
        mh->msg_controllen = sizeof ctl->buf;
        cm = CMSG_FIRSTHDR(mh);
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof gso);
        memcpy(CMSG_DATA(cm), &gso, sizeof gso);
    }
}

/* Sends the segments of GSO message 'm' one datagram each. */
static void
send_unsegmented(struct tunnel *t, const struct tunnel_txmsg *m,
                 uint64_t *n_sent, uint64_t *n_failed)
{
    struct mmsghdr mm[TUNNEL_GSO_MAX_SEGS];
    struct sockaddr_in sin;
    size_t n = m->n_segs;
    size_t done = 0;

    ASSERT(n <= TUNNEL_GSO_MAX_SEGS);
    txmsg_sockaddr(t, m, &sin);
    for (size_t i = 0; i < n; i++) {
        memset(&mm[i], 0, sizeof mm[i]);
        mm[i].msg_hdr.msg_name = &sin;
        mm[i].msg_hdr.msg_namelen = sizeof sin;
        mm[i].msg_hdr.msg_iov = &t->iovs[m->iov_ofs + 2 * i];
        mm[i].msg_hdr.msg_iovlen = 2;
    }
    while (done < n) {
        int r = sendmmsg(t->fds[m->encap], &mm[done],
                         (unsigned int) (n - done), MSG_DONTWAIT);
        if (r <= 0) {
            (*n_failed)++;
            done++;
        } else {
            *n_sent += (size_t) r;
            done += (size_t) r;
        }
    }
}

uint64_t
tunnel_tx_datagrams(const struct tunnel *t)
{
    return t->tx_datagrams;
}

void
tunnel_flush(struct tunnel *t, uint64_t *n_sent, uint64_t *n_failed)
{
    struct mmsghdr *mm = t->mm;
    size_t i = 0;

    for (size_t k = 0; k < t->n_msgs; k++) {
        fill_msghdr(t, &t->msgs[k], &t->sins[k], &t->ctls[k],
                    &mm[k].msg_hdr);
        mm[k].msg_len = 0;
    }

    while (i < t->n_msgs) {
        enum dp_encap encap = t->msgs[i].encap;
        size_t run = 1;
        int r;

        while (i + run < t->n_msgs && t->msgs[i + run].encap == encap) {
            run++;
        }
        r = sendmmsg(t->fds[encap], &mm[i], (unsigned int) run,
                     MSG_DONTWAIT);
        if (r > 0) {
            for (int k = 0; k < r; k++) {
                *n_sent += t->msgs[i + k].n_segs;
            }
            t->tx_datagrams += (uint64_t) r;
            i += (size_t) r;
            continue;
        }

        /* Message 'i' failed. */
        if (t->msgs[i].gso_size && (errno == EINVAL || errno == EIO)) {
            if (!t->gso_disabled) {
                VLOG_WARN("tunnel: UDP_SEGMENT refused (%s), sending "
                          "segments one by one from now on",
                          strerror(errno));
                t->gso_disabled = true;
            }
            send_unsegmented(t, &t->msgs[i], n_sent, n_failed);
        } else {
            *n_failed += t->msgs[i].n_segs;
        }
        i++;
    }
    t->n_msgs = 0;
    t->n_iovs = 0;
}
