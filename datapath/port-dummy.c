/*
 * port-dummy.c -- the in-memory port backend for tests (see port.h).
 *
 * Two FIFO queues of malloc'd frames per port: 'rxq' filled by
 * port_dummy_inject() and emptied by recv_batch(), 'txq' filled by
 * send_batch() and emptied by port_dummy_pop().  An eventfd is readable
 * while 'rxq' is non-empty, so the datapath's poll loop treats a dummy
 * port exactly like a socket.
 */
#include "datapath/port.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct dummy_frame {
    struct dummy_frame *next;
    size_t len;                 /* Frame bytes, header excluded. */
    uint8_t vh[PORT_VNET_HDR_LEN];
    uint8_t data[];
};

struct dummy_queue {
    struct dummy_frame *head, **tailp;
    size_t n;
};

struct port_dummy {
    struct port up;
    int efd;
    struct dummy_queue rxq, txq;
};

static struct port_dummy *
port_dummy_cast(const struct port *port)
{
    ASSERT(port->class == &port_dummy_class);
    return CONTAINER_OF(port, struct port_dummy, up);
}

static void
queue_init(struct dummy_queue *q)
{
    q->head = NULL;
    q->tailp = &q->head;
    q->n = 0;
}

static void
queue_push(struct dummy_queue *q, struct dummy_frame *f)
{
    f->next = NULL;
    *q->tailp = f;
    q->tailp = &f->next;
    q->n++;
}

static struct dummy_frame *
queue_pop(struct dummy_queue *q)
{
    struct dummy_frame *f = q->head;

    if (f) {
        q->head = f->next;
        if (!q->head) {
            q->tailp = &q->head;
        }
        q->n--;
    }
    return f;
}

static void
queue_destroy(struct dummy_queue *q)
{
    struct dummy_frame *f;

    while ((f = queue_pop(q)) != NULL) {
        free(f);
    }
}

/* A frame of 'len' bytes with header 'vh' (NULL: all zero); the caller
 * fills in the data. */
static struct dummy_frame *
frame_alloc(const void *vh, size_t len)
{
    struct dummy_frame *f = xmalloc(sizeof *f + len);

    f->len = len;
    if (vh) {
        memcpy(f->vh, vh, PORT_VNET_HDR_LEN);
    } else {
        memset(f->vh, 0, PORT_VNET_HDR_LEN);
    }
    return f;
}

static struct dummy_frame *
frame_new(const void *vh, const void *data, size_t len)
{
    struct dummy_frame *f = frame_alloc(vh, len);

    if (len) {
        memcpy(f->data, data, len);
    }
    return f;
}

static void
update_event(struct port_dummy *p)
{
    uint64_t v;

    if (p->rxq.n) {
        v = 1;
        if (write(p->efd, &v, sizeof v) < 0) {
            /* Counter already saturated or EAGAIN: still readable. */
        }
    } else if (read(p->efd, &v, sizeof v) < 0) {
        /* EAGAIN: already not readable. */
    }
}

static int
dummy_open(const char *name, struct port **portp)
{
    struct port_dummy *p = xzalloc(sizeof *p);

    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        int error = errno;
        free(p);
        return error;
    }
    p->up.class = &port_dummy_class;
    str_copy(p->up.name, name, sizeof p->up.name);
    queue_init(&p->rxq);
    queue_init(&p->txq);
    *portp = &p->up;
    return 0;
}

static void
dummy_close(struct port *port)
{
    if (port) {
        struct port_dummy *p = port_dummy_cast(port);

        queue_destroy(&p->rxq);
        queue_destroy(&p->txq);
        close(p->efd);
        free(p);
    }
}

static int
dummy_recv_batch(struct port *port, struct port_rx *rx, int n)
{
    struct port_dummy *p = port_dummy_cast(port);
    int i;

    for (i = 0; i < n; i++) {
        struct dummy_frame *f = queue_pop(&p->rxq);
        size_t len;

        if (!f) {
            break;
        }
        len = MIN(f->len, (size_t) PORT_FRAME_MAX);
        rx[i].data = rx[i].slot + PORT_HEADROOM;
        memcpy(rx[i].data, f->vh, PORT_VNET_HDR_LEN);
        memcpy(rx[i].data + PORT_VNET_HDR_LEN, f->data, len);
        rx[i].len = PORT_VNET_HDR_LEN + len;
        rx[i].truncated = len < f->len;
        free(f);
    }
    update_event(p);
    return i;
}

static int
dummy_send_batch(struct port *port, const struct port_tx *tx, int n,
                 int *errorp)
{
    struct port_dummy *p = port_dummy_cast(port);

    for (int i = 0; i < n; i++) {
        const struct iovec *iov;
        struct dummy_frame *f;
        size_t n_iov, len = 0;

        iov = port_tx_iovs(&tx[i], &n_iov);
        if (n_iov < 2 || n_iov > PORT_TX_IOVS
            || iov[0].iov_len != PORT_VNET_HDR_LEN) {
            *errorp = EINVAL;
            return i;
        }
        for (size_t k = 1; k < n_iov; k++) {
            len += iov[k].iov_len;
        }
        if (len > PORT_FRAME_MAX) {
            *errorp = EMSGSIZE;
            return i;
        }
        if (p->txq.n >= PORT_DUMMY_QLEN) {
            *errorp = ENOBUFS;
            return i;
        }
        f = frame_alloc(iov[0].iov_base, len);
        len = 0;
        for (size_t k = 1; k < n_iov; k++) {
            if (iov[k].iov_len) {
                memcpy(f->data + len, iov[k].iov_base, iov[k].iov_len);
                len += iov[k].iov_len;
            }
        }
        queue_push(&p->txq, f);
    }
    return n;
}

static int
dummy_get_fd(const struct port *port)
{
    return port_dummy_cast(port)->efd;
}

int
port_dummy_inject(struct port *port, const void *vh, const void *frame,
                  size_t len)
{
    struct port_dummy *p = port_dummy_cast(port);

    if (len > PORT_FRAME_MAX) {
        return EMSGSIZE;
    }
    if (p->rxq.n >= PORT_DUMMY_QLEN) {
        return ENOBUFS;
    }
    queue_push(&p->rxq, frame_new(vh, frame, len));
    update_event(p);
    return 0;
}

size_t
port_dummy_pop(struct port *port, void *vh, void *buf, size_t size)
{
    struct port_dummy *p = port_dummy_cast(port);
    struct dummy_frame *f = queue_pop(&p->txq);
    size_t len;

    if (!f) {
        return 0;
    }
    if (vh) {
        memcpy(vh, f->vh, PORT_VNET_HDR_LEN);
    }
    memcpy(buf, f->data, MIN(size, f->len));
    len = f->len;
    free(f);
    return len;
}

const struct port_class port_dummy_class = {
    .type = "dummy",
    .open = dummy_open,
    .close = dummy_close,
    .recv_batch = dummy_recv_batch,
    .send_batch = dummy_send_batch,
    .get_fd = dummy_get_fd,
};
