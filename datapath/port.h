/*
 * port.h -- port I/O backends behind one small vtable.
 *
 * A port is where a VM's frames enter and leave the datapath.  Every
 * backend speaks the same frame format in both directions: a
 * struct virtio_net_hdr (checksum and segmentation metadata, see
 * offload.h) immediately followed by the Ethernet frame.  Backends:
 *
 *   "afpacket"  AF_PACKET socket bound to a host interface (the host end
 *               of a VM's veth or tap), PACKET_VNET_HDR, promiscuous,
 *               non-blocking; recvmmsg/sendmmsg.
 *   "dummy"     in-memory queues, for tests that run without root:
 *               port_dummy_inject() feeds the receive side,
 *               port_dummy_pop() drains what the datapath sent.
 *
 * Receive buffers belong to the caller: recv_batch() fills caller-owned
 * slots of PORT_SLOT_SIZE bytes.  The first PORT_HEADROOM bytes of a slot
 * stay free in front of the received data so that the datapath can write
 * a tunnel header in front of a frame without copying it (and a backend
 * may use some of it, e.g. to re-insert a VLAN tag the kernel stripped).
 *
 * Burst I/O returns a count.  Ports are used from the datapath thread
 * only.
 */
#ifndef WEFT_PORT_H
#define WEFT_PORT_H 1

#include <sys/uio.h>
#include "lib/util.h"

#define PORT_HEADROOM 64        /* Free bytes in front of received data. */
#define PORT_VNET_HDR_LEN 10    /* sizeof(struct virtio_net_hdr). */
#define PORT_FRAME_MAX (65536 + 256)    /* Largest frame (TSO + slack). */
#define PORT_SLOT_SIZE (PORT_HEADROOM + PORT_VNET_HDR_LEN + PORT_FRAME_MAX)

struct port_class;

/* The part every backend's port embeds (first member). */
struct port {
    const struct port_class *class;
    char name[16];
};

/* One receive slot. */
struct port_rx {
    uint8_t *slot;              /* In: caller's PORT_SLOT_SIZE bytes. */
    uint8_t *data;              /* Out: virtio_net_hdr then the frame. */
    size_t len;                 /* Out: bytes at 'data' (header incl.). */
    bool truncated;             /* Out: frame did not fit; 'len' short. */
};

/* One frame to send: iov[0] is the virtio_net_hdr (PORT_VNET_HDR_LEN
 * bytes), iov[1] the Ethernet frame.  A frame gathered from several pieces
 * (a coalesced TCP frame: its headers, then each segment's payload where
 * it was received) sets 'iovs' instead: then iovs[0] is the header and
 * iovs[1..n_iovs-1] are the frame's pieces in order (n_iovs <=
 * PORT_TX_IOVS), and 'iov' is ignored.  Everything must stay valid until
 * send_batch() returns. */
#define PORT_TX_IOVS 128
struct port_tx {
    struct iovec iov[2];
    const struct iovec *iovs;   /* NULL: use 'iov'. */
    size_t n_iovs;
};

/* The iovecs of 'tx' (header first) and their number. */
static inline const struct iovec *
port_tx_iovs(const struct port_tx *tx, size_t *n)
{
    *n = tx->iovs ? tx->n_iovs : 2;
    return tx->iovs ? tx->iovs : tx->iov;
}

struct port_class {
    const char *type;           /* "afpacket", "dummy". */

    /* Opens the port named 'name'.  Returns 0 and stores the new port in
     * '*portp', or a positive errno (ENODEV: no such interface). */
    int (*open)(const char *name, struct port **portp);

    /* Closes and frees 'port'.  Accepts NULL. */
    void (*close)(struct port *port);

    /* Receives up to 'n' frames into rx[0..n-1] (each rx[i].slot set by the
     * caller) without blocking.  Returns the number received (0 if none or
     * on error). */
    int (*recv_batch)(struct port *port, struct port_rx *rx, int n);

    /* Sends tx[0..n-1] in order without blocking.  Returns how many
     * leading frames were accepted; if fewer than 'n', stores the error of
     * frame number 'return value' in '*errorp' (EAGAIN/ENOBUFS mean the
     * queue is full; others are specific to that frame). */
    int (*send_batch)(struct port *port, const struct port_tx *tx, int n,
                      int *errorp);

    /* Returns a file descriptor that polls readable when frames wait. */
    int (*get_fd)(const struct port *port);
};

extern const struct port_class port_afpacket_class;
extern const struct port_class port_afpacket_tx_class;
extern const struct port_class port_dummy_class;

/* Returns 'port''s interface name. */
static inline const char *
port_name(const struct port *port)
{
    return port->name;
}

/* Dummy backend only ('port' must be a dummy port).
 *
 * port_dummy_inject() queues a copy of 'vh' (PORT_VNET_HDR_LEN bytes, or
 * NULL for an all-zero header) and 'frame' for reception.  Returns 0, or
 * EMSGSIZE if 'len' exceeds PORT_FRAME_MAX, or ENOBUFS if PORT_DUMMY_QLEN
 * frames are already waiting.
 *
 * port_dummy_pop() removes the oldest frame the datapath sent on 'port',
 * copies its header into 'vh' (may be NULL) and at most 'size' bytes of
 * the frame into 'buf'.  Returns the full frame length, or 0 if nothing
 * was sent. */
#define PORT_DUMMY_QLEN 1024
int port_dummy_inject(struct port *port, const void *vh, const void *frame,
                      size_t len);
size_t port_dummy_pop(struct port *port, void *vh, void *buf, size_t size);

#endif /* WEFT_PORT_H */
