/*
 * port-afpacket.c -- the AF_PACKET port backend (see port.h).
 *
 * One SOCK_RAW socket per interface, bound to its ifindex for ETH_P_ALL,
 * with:
 *   PACKET_VNET_HDR         every frame is prefixed by a virtio_net_hdr,
 *                           so partial checksums and TSO super-frames (up
 *                           to 64 KB) from a VM's veth are described
 *                           rather than silently broken;
 *   PACKET_IGNORE_OUTGOING  we do not read back what we send;
 *   PACKET_AUXDATA          to recover an 802.1Q tag the kernel moved out
 *                           of the frame (re-inserted in the headroom);
 *   promiscuous membership, non-blocking, large socket buffers.
 *
 * Receive uses recvmmsg straight into the caller's slots; send uses
 * sendmmsg with two iovecs per frame (header, frame): no copies.
 */
#include "datapath/port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define AFP_BATCH_MAX 64        /* Per recvmmsg/sendmmsg call. */
#define AFP_SOCKBUF (8 * 1024 * 1024)

struct port_afpacket {
    struct port up;
    int fd;
    int ifindex;
};

static struct port_afpacket *
port_afpacket_cast(const struct port *port)
{
    ASSERT(port->class == &port_afpacket_class
           || port->class == &port_afpacket_tx_class);
    return CONTAINER_OF(port, struct port_afpacket, up);
}

static void
set_bufsize(int fd, int force_opt, int opt, int size)
{
    if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof size) < 0) {
        setsockopt(fd, SOL_SOCKET, opt, &size, sizeof size);
    }
}

/* Opens 'name'; without 'rx', bound to no protocol, so the socket only
 * sends (port_afpacket_tx_class). */
static int
afp_open__(const char *name, bool rx, struct port **portp)
{
    struct packet_mreq mreq;
    struct sockaddr_ll sll;
    struct port_afpacket *p;
    unsigned int ifindex;
    int one = 1;
    int error;
    int fd;

    ifindex = if_nametoindex(name);
    if (!ifindex) {
        return ENODEV;
    }

    /* Protocol 0 until bound, so that no frame of another interface can
     * be queued before bind(). */
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0
        || setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one,
                      sizeof one) < 0) {
        error = errno;
        VLOG_ERR("%s: PACKET_VNET_HDR/AUXDATA: %s", name, strerror(error));
        goto error_close;
    }
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
                   sizeof one) < 0) {
        VLOG_WARN("%s: PACKET_IGNORE_OUTGOING: %s", name, strerror(errno));
    }
    set_bufsize(fd, SO_RCVBUFFORCE, SO_RCVBUF, AFP_SOCKBUF);
    set_bufsize(fd, SO_SNDBUFFORCE, SO_SNDBUF, AFP_SOCKBUF);

    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = rx ? htons(ETH_P_ALL) : 0;
    sll.sll_ifindex = (int) ifindex;
    if (bind(fd, (struct sockaddr *) &sll, sizeof sll) < 0) {
        error = errno;
        VLOG_ERR("%s: bind: %s", name, strerror(error));
        goto error_close;
    }

    memset(&mreq, 0, sizeof mreq);
    mreq.mr_ifindex = (int) ifindex;
    mreq.mr_type = PACKET_MR_PROMISC;
    if (rx && setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq,
                         sizeof mreq) < 0) {
        error = errno;
        VLOG_ERR("%s: promiscuous mode: %s", name, strerror(error));
        goto error_close;
    }

    p = xzalloc(sizeof *p);
    p->up.class = rx ? &port_afpacket_class : &port_afpacket_tx_class;
    str_copy(p->up.name, name, sizeof p->up.name);
    p->fd = fd;
    p->ifindex = (int) ifindex;
    *portp = &p->up;
    return 0;

error_close:
    close(fd);
    return error;
}

static int
afp_open(const char *name, struct port **portp)
{
    return afp_open__(name, true, portp);
}

static int
afp_open_tx(const char *name, struct port **portp)
{
    return afp_open__(name, false, portp);
}

static void
afp_close(struct port *port)
{
    if (port) {
        struct port_afpacket *p = port_afpacket_cast(port);

        close(p->fd);
        free(p);
    }
}

/* The kernel took the 802.1Q tag out of the frame into the auxdata: put it
 * back after the MAC addresses, using 4 bytes of headroom.  The virtio
 * header's csum_start already counts the tag (see af_packet.c). */
static void
reinsert_vlan(struct port_rx *rx, const struct tpacket_auxdata *aux)
{
    uint8_t *old = rx->data;
    uint8_t *new = old - 4;
    uint16_t tpid = (aux->tp_status & TP_STATUS_VLAN_TPID_VALID
                     ? aux->tp_vlan_tpid : ETH_P_8021Q);
    be16 tpid_be = htons(tpid);
    be16 tci_be = htons(aux->tp_vlan_tci);

    if (rx->len < PORT_VNET_HDR_LEN + 12) {
        return;
    }
    memmove(new, old, PORT_VNET_HDR_LEN + 12);
    memcpy(new + PORT_VNET_HDR_LEN + 12, &tpid_be, 2);
    memcpy(new + PORT_VNET_HDR_LEN + 14, &tci_be, 2);
    rx->data = new;
    rx->len += 4;
}

static int
afp_recv_batch(struct port *port, struct port_rx *rx, int n)
{
    struct port_afpacket *p = port_afpacket_cast(port);
    union {
        struct cmsghdr cm;
        char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    } ctl[AFP_BATCH_MAX];
    struct mmsghdr msgs[AFP_BATCH_MAX];
    struct iovec iovs[AFP_BATCH_MAX];
    int got;

    n = MIN(n, AFP_BATCH_MAX);
    for (int i = 0; i < n; i++) {
        rx[i].data = rx[i].slot + PORT_HEADROOM;
        iovs[i].iov_base = rx[i].data;
        iovs[i].iov_len = PORT_VNET_HDR_LEN + PORT_FRAME_MAX;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = ctl[i].buf;
        msgs[i].msg_hdr.msg_controllen = sizeof ctl[i].buf;
    }

    got = recvmmsg(p->fd, msgs, (unsigned int) n, MSG_DONTWAIT, NULL);
    if (got <= 0) {
        return 0;
    }
    for (int i = 0; i < got; i++) {
        struct msghdr *mh = &msgs[i].msg_hdr;
        struct cmsghdr *cm;

        rx[i].len = msgs[i].msg_len;
        rx[i].truncated = (mh->msg_flags & MSG_TRUNC) != 0;
        if (rx[i].len > PORT_VNET_HDR_LEN + PORT_FRAME_MAX) {
            rx[i].len = PORT_VNET_HDR_LEN + PORT_FRAME_MAX;
            rx[i].truncated = true;
        }
        for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
            struct tpacket_auxdata aux;

            if (cm->cmsg_level != SOL_PACKET
                || cm->cmsg_type != PACKET_AUXDATA
                || cm->cmsg_len < CMSG_LEN(sizeof aux)) {
                continue;
            }
            memcpy(&aux, CMSG_DATA(cm), sizeof aux);
            if (aux.tp_status & TP_STATUS_VLAN_VALID) {
                reinsert_vlan(&rx[i], &aux);
            }
        }
    }
    return got;
}

static int
afp_send_batch(struct port *port, const struct port_tx *tx, int n,
               int *errorp)
{
    struct port_afpacket *p = port_afpacket_cast(port);
    struct mmsghdr msgs[AFP_BATCH_MAX];
    int done = 0;

    while (done < n) {
        int chunk = MIN(n - done, AFP_BATCH_MAX);
        int sent;

        for (int i = 0; i < chunk; i++) {
            size_t n_iov;

            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov
                = (struct iovec *) port_tx_iovs(&tx[done + i], &n_iov);
            msgs[i].msg_hdr.msg_iovlen = n_iov;
        }
        sent = sendmmsg(p->fd, msgs, (unsigned int) chunk, MSG_DONTWAIT);
        if (sent < 0) {
            *errorp = errno;
            return done;
        }
        done += sent;
        if (sent < chunk) {
            /* sendmmsg stops at the first failing frame without saying
             * why: send that one alone to learn its error. */
            struct msghdr mh;
            size_t n_iov;

            memset(&mh, 0, sizeof mh);
            mh.msg_iov = (struct iovec *) port_tx_iovs(&tx[done], &n_iov);
            mh.msg_iovlen = n_iov;
            if (sendmsg(p->fd, &mh, MSG_DONTWAIT) < 0) {
                *errorp = errno;
                return done;
            }
            done++;
        }
    }
    return done;
}

static int
afp_get_fd(const struct port *port)
{
    return port_afpacket_cast(port)->fd;
}

const struct port_class port_afpacket_class = {
    .type = "afpacket",
    .open = afp_open,
    .close = afp_close,
    .recv_batch = afp_recv_batch,
    .send_batch = afp_send_batch,
    .get_fd = afp_get_fd,
};

/* The kernel fast path's VM ports: frames arrive through the miss device,
 * so the socket only sends (a receiving one would also copy every frame
 * the kernel forwards: packet taps run before TC). */
const struct port_class port_afpacket_tx_class = {
    .type = "afpacket+kpath",
    .open = afp_open_tx,
    .close = afp_close,
    .recv_batch = afp_recv_batch,
    .send_batch = afp_send_batch,
    .get_fd = afp_get_fd,
};
