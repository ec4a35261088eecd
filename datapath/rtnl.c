/* rtnl.c -- see rtnl.h. */
#include "datapath/rtnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Sends the request in 'nlh' and waits for its acknowledgement. */
static int
rtnl_talk(struct nlmsghdr *nlh)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct mnl_socket *nl;
    unsigned int seq, portid;
    int error = 0;
    ssize_t n;

    nl = mnl_socket_open(NETLINK_ROUTE);
    if (!nl) {
        return errno;
    }
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        error = errno;
        goto out;
    }
    portid = mnl_socket_get_portid(nl);
    seq = (unsigned int) time(NULL);
    nlh->nlmsg_seq = seq;
    nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        error = errno;
        goto out;
    }
    n = mnl_socket_recvfrom(nl, buf, sizeof buf);
    if (n < 0) {
        error = errno;
        goto out;
    }
    if (mnl_cb_run(buf, (size_t) n, seq, portid, NULL, NULL) < 0) {
        error = errno;
    }
out:
    mnl_socket_close(nl);
    return error;
}

static struct nlmsghdr *
rtnl_link_msg(char *buf, uint16_t type, uint16_t flags)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct ifinfomsg *ifi;

    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    return nlh;
}

/* A request to create device 'name' of 'kind', with IFLA_LINKINFO and its
 * IFLA_INFO_DATA open (in '*info', '*data') for the kind's attributes. */
static struct nlmsghdr *
rtnl_link_new(char *buf, const char *name, const char *kind,
              struct nlattr **info, struct nlattr **data)
{
    struct nlmsghdr *nlh = rtnl_link_msg(buf, RTM_NEWLINK,
                                         NLM_F_CREATE | NLM_F_EXCL);

    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
    *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    return nlh;
}

int
rtnl_link_add_vxlan(const char *name, uint16_t port, be32 local)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlattr *info, *data;
    struct nlmsghdr *nlh = rtnl_link_new(buf, name, "vxlan", &info, &data);

    mnl_attr_put_u8(nlh, IFLA_VXLAN_COLLECT_METADATA, 1);
    mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 0);
    mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(port));
    if (local) {
        mnl_attr_put_u32(nlh, IFLA_VXLAN_LOCAL, local);
    }
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    return rtnl_talk(nlh);
}

int
rtnl_link_add_geneve(const char *name, uint16_t port)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlattr *info, *data;
    struct nlmsghdr *nlh = rtnl_link_new(buf, name, "geneve", &info, &data);

    mnl_attr_put(nlh, IFLA_GENEVE_COLLECT_METADATA, 0, NULL);
    mnl_attr_put_u16(nlh, IFLA_GENEVE_PORT, htons(port));
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    return rtnl_talk(nlh);
}

int
rtnl_link_add_veth(const char *name, const char *peer)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlattr *info, *data, *peer_attr;
    struct nlmsghdr *nlh = rtnl_link_new(buf, name, "veth", &info, &data);
    struct ifinfomsg *pifi;

    peer_attr = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    pifi = mnl_nlmsg_put_extra_header(nlh, sizeof *pifi);
    pifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
    mnl_attr_nest_end(nlh, peer_attr);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    return rtnl_talk(nlh);
}

int
rtnl_link_set_up(const char *name)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = rtnl_link_msg(buf, RTM_NEWLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    return rtnl_talk(nlh);
}

int
rtnl_link_del(const char *name)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = rtnl_link_msg(buf, RTM_DELLINK, 0);

    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    return rtnl_talk(nlh);
}
