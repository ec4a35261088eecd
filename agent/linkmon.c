/*
 * linkmon.c -- rtnetlink link monitor, see linkmon.h.
 *
 * The table is a plain array keyed by ifindex (a host has tens to a few
 * thousand interfaces; lookups happen only on topology or link changes).
 * Re-dump after an overflow uses mark and sweep: entries not refreshed by
 * the new dump are removed when NLMSG_DONE arrives.
 */
#include "agent/linkmon.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/poll-loop.h"
#include "lib/util.h"

/* Bound on datagrams processed per linkmon_run(). */
#define LINKMON_MAX_RECV 64

struct linkmon_if {
    int ifindex;
    char name[IF_NAMESIZE];
    bool up;
    unsigned gen;               /* Dump generation that last saw it. */
};

struct linkmon {
    int fd;
    struct linkmon_if *ifs;
    size_t n, allocated;
    bool ready;                 /* Initial dump complete. */
    bool dumping;               /* A dump is in progress. */
    bool need_dump;             /* Overflowed: dump again when possible. */
    bool changed;               /* Reported by the next linkmon_run(). */
    unsigned gen;
    uint32_t seq;
};

static int linkmon_request_dump(struct linkmon *);
static void linkmon_parse(struct linkmon *, const void *buf, size_t len);

struct linkmon *
linkmon_create(int *errorp)
{
    struct sockaddr_nl sa;
    struct linkmon *lm;
    int rcvbuf = 4 * 1024 * 1024;
    int fd, error;

    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                NETLINK_ROUTE);
    if (fd < 0) {
        *errorp = errno;
        return NULL;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf)) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK;
    if (bind(fd, (struct sockaddr *) &sa, sizeof sa)) {
        *errorp = errno;
        close(fd);
        return NULL;
    }

    lm = xzalloc(sizeof *lm);
    lm->fd = fd;
    error = linkmon_request_dump(lm);
    if (error) {
        *errorp = error;
        linkmon_destroy(lm);
        return NULL;
    }
    *errorp = 0;
    return lm;
}

void
linkmon_destroy(struct linkmon *lm)
{
    if (lm) {
        close(lm->fd);
        free(lm->ifs);
        free(lm);
    }
}

bool
linkmon_run(struct linkmon *lm)
{
    uint8_t buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));

    for (int i = 0; i < LINKMON_MAX_RECV && poll_fd_ready(lm->fd); i++) {
        ssize_t n = recv(lm->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == ENOBUFS) {
                VLOG_WARN("netlink link notifications overflowed; "
                          "re-reading the interface list");
                lm->need_dump = true;
                continue;
            }
            if (errno != EAGAIN && errno != EINTR) {
                VLOG_WARN("netlink receive failed: %s", strerror(errno));
            }
            break;
        }
        linkmon_parse(lm, buf, n);
        if (i == LINKMON_MAX_RECV - 1) {
            poll_immediate_wake();
        }
    }
    if (lm->need_dump && !lm->dumping) {
        if (!linkmon_request_dump(lm)) {
            lm->need_dump = false;
        } else {
            poll_timer_wait(100);
        }
    }
    if (lm->changed && lm->ready && !lm->dumping) {
        lm->changed = false;
        return true;
    }
    return false;
}

void
linkmon_wait(struct linkmon *lm)
{
    poll_fd_wait(lm->fd, POLLIN);
}

bool
linkmon_is_ready(const struct linkmon *lm)
{
    return lm->ready;
}

bool
linkmon_is_up(const struct linkmon *lm, const char *name, int *ifindexp)
{
    for (size_t i = 0; i < lm->n; i++) {
        if (!strcmp(lm->ifs[i].name, name)) {
            if (ifindexp) {
                *ifindexp = lm->ifs[i].ifindex;
            }
            return lm->ifs[i].up;
        }
    }
    return false;
}

static int
linkmon_request_dump(struct linkmon *lm)
{
    struct {
        struct nlmsghdr nlh;
        struct ifinfomsg ifi;
    } req;
    struct sockaddr_nl sa;

    memset(&req, 0, sizeof req);
    req.nlh.nlmsg_len = sizeof req;
    req.nlh.nlmsg_type = RTM_GETLINK;
    req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nlh.nlmsg_seq = ++lm->seq;
    req.ifi.ifi_family = AF_UNSPEC;
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    if (sendto(lm->fd, &req, sizeof req, 0, (struct sockaddr *) &sa,
               sizeof sa) < 0) {
        return errno;
    }
    lm->dumping = true;
    lm->gen++;
    return 0;
}

static struct linkmon_if *
linkmon_find_index(struct linkmon *lm, int ifindex)
{
    for (size_t i = 0; i < lm->n; i++) {
        if (lm->ifs[i].ifindex == ifindex) {
            return &lm->ifs[i];
        }
    }
    return NULL;
}

static void
linkmon_remove(struct linkmon *lm, struct linkmon_if *lif)
{
    *lif = lm->ifs[--lm->n];
    lm->changed = true;
}

static void
linkmon_newlink(struct linkmon *lm, const struct nlmsghdr *nlh)
{
    const struct ifinfomsg *ifi = NLMSG_DATA(nlh);
    const char *name = NULL;
    size_t name_len = 0;
    struct linkmon_if *lif;
    struct rtattr *rta;
    int len;

    if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof *ifi)) {
        return;
    }
    len = nlh->nlmsg_len - NLMSG_LENGTH(sizeof *ifi);
    for (rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
        if (rta->rta_type == IFLA_IFNAME) {
            name = RTA_DATA(rta);
            name_len = RTA_PAYLOAD(rta);
        }
    }
    if (!name || !name_len || !memchr(name, '\0', name_len)
        || strlen(name) >= IF_NAMESIZE) {
        return;
    }

    lif = linkmon_find_index(lm, ifi->ifi_index);
    if (!lif) {
        if (lm->n == lm->allocated) {
            lm->allocated = lm->allocated ? 2 * lm->allocated : 32;
            lm->ifs = xrealloc(lm->ifs, lm->allocated * sizeof *lm->ifs);
        }
        lif = &lm->ifs[lm->n++];
        memset(lif, 0, sizeof *lif);
        lif->ifindex = ifi->ifi_index;
        lm->changed = true;
    }
    if (strcmp(lif->name, name) || lif->up != !!(ifi->ifi_flags & IFF_UP)) {
        lm->changed = true;
        VLOG_DBG("link %d %s %s", ifi->ifi_index, name,
                 ifi->ifi_flags & IFF_UP ? "up" : "down");
    }
    str_copy(lif->name, name, sizeof lif->name);
    lif->up = (ifi->ifi_flags & IFF_UP) != 0;
    lif->gen = lm->gen;
}

static void
linkmon_dump_done(struct linkmon *lm)
{
    for (size_t i = 0; i < lm->n;) {
        if (lm->ifs[i].gen != lm->gen) {
            linkmon_remove(lm, &lm->ifs[i]);
        } else {
            i++;
        }
    }
    lm->dumping = false;
    if (!lm->ready) {
        lm->ready = true;
        lm->changed = true;
        VLOG_DBG("initial link dump: %zu interfaces", lm->n);
    }
}

static void
linkmon_parse(struct linkmon *lm, const void *buf, size_t len)
{
    const struct nlmsghdr *nlh;
    int left = len;

    for (nlh = buf; NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left)) {
        if ((nlh->nlmsg_type == RTM_NEWLINK
             || nlh->nlmsg_type == RTM_DELLINK)
            && nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
            const struct ifinfomsg *ifi = NLMSG_DATA(nlh);
            if (ifi->ifi_family == AF_BRIDGE) {
                /* Bridge port state, not the interface itself: a port
                 * leaving a bridge is reported as an AF_BRIDGE DELLINK. */
                continue;
            }
        }
        switch (nlh->nlmsg_type) {
        case RTM_NEWLINK:
            linkmon_newlink(lm, nlh);
            break;
        case RTM_DELLINK:
            if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
                const struct ifinfomsg *ifi = NLMSG_DATA(nlh);
                struct linkmon_if *lif = linkmon_find_index(lm,
                                                            ifi->ifi_index);
                if (lif) {
                    VLOG_DBG("link %d %s removed", lif->ifindex, lif->name);
                    linkmon_remove(lm, lif);
                }
            }
            break;
        case NLMSG_DONE:
            if (lm->dumping && nlh->nlmsg_seq == lm->seq) {
                linkmon_dump_done(lm);
            }
            break;
        case NLMSG_ERROR:
            if (lm->dumping && nlh->nlmsg_seq == lm->seq) {
                /* The dump failed (e.g. EBUSY): try again. */
                lm->dumping = false;
                lm->need_dump = true;
            }
            break;
        default:
            break;
        }
    }
}
