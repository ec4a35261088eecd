/*
 * dhcp.h -- the agent's DHCPv4 server: one client frame in, one reply
 * frame (or nothing) out.
 *
 * Every VM port gets its addresses from a local answer: the datapath hands
 * a VM's DHCP client frame to the agent (USERSPACE(DHCP)), the agent
 * describes the port in a struct dhcp_port_config and calls
 * dhcp_server_handle(), and sends whatever comes back out of the input
 * port.  No DHCP packet leaves the host and there is no lease database:
 * a port has exactly one fixed IPv4 address per subnet (Neutron's
 * fixed_ips), so the server's only state is the port's configuration.
 * This is how Neutron's dnsmasq (static leases from the hosts file) and
 * OVN's pinctrl answer.
 *
 * What gets an answer (RFC 2131 section 4.3):
 *
 *   DISCOVER           OFFER of cfg->ip.
 *   REQUEST, selecting (option 54 server id + option 50 requested IP):
 *                      silently ignored if the server id is not
 *                      cfg->server_ip; else ACK if the requested IP is
 *                      cfg->ip, NAK otherwise.
 *   REQUEST, init-reboot (option 50, no option 54), or renewing/rebinding
 *                      (ciaddr, neither option): ACK if the address is
 *                      cfg->ip, else NAK.  A fixed IP that changed thus
 *                      takes effect at the client's next renewal: it gets
 *                      a NAK and starts over with a DISCOVER.
 *   INFORM             ACK with the configuration but no address (yiaddr
 *                      0) and no lease times.
 *   RELEASE, DECLINE   nothing (there is no lease to free or to mark).
 *
 * Nothing is answered unless the frame is untagged Ethernet + IPv4 (IP
 * options allowed, not a fragment) + UDP to port 67 + a BOOTREQUEST with
 * htype/hlen Ethernet, the magic cookie, well-formed options with a
 * message type, and chaddr equal to the port's MAC.  The request's UDP
 * checksum is not verified (it may be partial: checksum offload).  Relay
 * agents are not supported: giaddr is copied but replies always go to the
 * client directly.
 *
 * The reply: Ethernet from cfg->server_mac to the client's chaddr; IPv4
 * from cfg->server_ip, TTL 64, to ciaddr if the request had one, else to
 * 255.255.255.255 if the client set the broadcast flag or the reply is a
 * NAK, else to the offered address; UDP 67 -> 68; both checksums
 * computed.  xid, flags, giaddr and chaddr are copied.  OFFER/ACK carry
 * options 53 (type), 54 (server id), 51/58/59 (lease, T1 = lease / 2,
 * T2 = lease * 7 / 8; not for INFORM), 1 (mask), 28 (broadcast, prefixes
 * up to /30), 3 (router, if any), 6 (DNS, if any), 15 (domain, if set),
 * 12 (hostname, if set), 26 (MTU, if set) and 121 (classless static
 * routes, if the subnet has host routes: those plus a default route via
 * the router, since RFC 3442 clients ignore option 3 when 121 is present).
 * A NAK carries 53 and 54 only.  Options end with END and the BOOTP part
 * is padded to 300 bytes.  The client's parameter request list and
 * maximum message size are not consulted: every reply fits in
 * DHCP_MSG_MAX bytes, which only a configuration with 16 host routes and
 * long names makes longer than the 548 every client must accept.
 *
 * Pure computation: no I/O, no allocation, no global state; safe from any
 * thread.
 */
#ifndef WEFT_AGENT_DHCP_H
#define WEFT_AGENT_DHCP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/dhcp.h"
#include "lib/packet.h"

#define DHCP_MAX_DNS    4
#define DHCP_MAX_ROUTES 16
#define DHCP_NAME_SIZE  64      /* hostname/domain buffers, NUL included. */
#define DHCP_DEFAULT_LEASE_TIME 86400   /* Neutron's dhcp_lease_duration. */

/* Longest BOOTP message (header, options, END) the server builds, and the
 * longest frame it returns. */
#define DHCP_MSG_MAX    600
#define DHCP_FRAME_MAX  (ETH_HDR_LEN + 20 + 8 + DHCP_MSG_MAX)

/* What the server knows about a port on one subnet.  Addresses are network
 * order.  A config that breaks a rule below gets no answer ("error: invalid
 * port config"). */
struct dhcp_port_config {
    struct eth_addr mac;        /* The port's MAC (chaddr must match); not
                                 * zero, not multicast. */
    be32 ip;                    /* The port's fixed IPv4; not 0. */
    uint8_t plen;               /* Subnet prefix length, 1..32. */
    be32 router;                /* gateway_ip, 0 if none (then no option 3
                                 * and no default route in option 121). */
    be32 server_ip;             /* Server identifier and IP source; not 0. */
    struct eth_addr server_mac; /* Ethernet source of replies. */
    be32 dns[DHCP_MAX_DNS];     /* dns_nameservers, the first n_dns. */
    size_t n_dns;               /* 0..DHCP_MAX_DNS. */
    struct dhcp4_route routes[DHCP_MAX_ROUTES];     /* host_routes. */
    size_t n_routes;            /* 0..DHCP_MAX_ROUTES. */
    uint16_t mtu;               /* Option 26, 0 = omit. */
    uint32_t lease_time;        /* Seconds, 0 = DHCP_DEFAULT_LEASE_TIME. */
    char hostname[DHCP_NAME_SIZE];  /* Option 12, "" = omit. */
    char domain[DHCP_NAME_SIZE];    /* Option 15, "" = omit. */
};

/* Every outcome of dhcp_server_handle(), as the "why" string it reports.
 * Strings starting "offer"/"ack"/"nak" come with a reply, the others
 * without. */
#define DHCP_SERVER_OUTCOMES                                               \
    DS(OFFER,          "offer")                                            \
    DS(ACK,            "ack")                                              \
    DS(ACK_INFORM,     "ack: inform")                                      \
    DS(NAK_WRONG_IP,   "nak: requested ip is not the port's")              \
    DS(NAK_NO_IP,      "nak: request names no address")                    \
    DS(OTHER_SERVER,   "ignored: request for another server")              \
    DS(RELEASE,        "ignored: release")                                 \
    DS(DECLINE,        "ignored: decline")                                 \
    DS(NOT_CLIENT_MSG, "ignored: not a client message type")               \
    DS(OTHER_CHADDR,   "ignored: chaddr is not the port's mac")            \
    DS(BAD_FRAME,      "malformed: not untagged ipv4/udp to port 67")      \
    DS(FRAGMENT,       "malformed: ip fragment")                           \
    DS(BAD_UDP_LEN,    "malformed: udp length")                            \
    DS(BAD_HEADER,     "malformed: short message or no magic cookie")      \
    DS(NOT_ETH_REQ,    "malformed: not an ethernet bootrequest")           \
    DS(BAD_OPTIONS,    "malformed: options")                               \
    DS(NO_MSG_TYPE,    "malformed: no message type")                       \
    DS(BAD_CONFIG,     "error: invalid port config")                       \
    DS(NO_ROOM,        "error: reply does not fit")

enum dhcp_server_outcome {
#define DS(ENUM, WHY) DHCP_SERVER_##ENUM,
    DHCP_SERVER_OUTCOMES
#undef DS
    N_DHCP_SERVER_OUTCOMES
};

/* Parses the Ethernet/IPv4/UDP/BOOTP frame of 'len' bytes at 'req' that
 * arrived from the VM whose port is described by 'cfg' and writes the
 * complete reply frame (see above) into the 'size' bytes at 'out'
 * (DHCP_FRAME_MAX always suffices; 'out' must not overlap 'req').
 *
 * Returns the reply's length, or 0 if no reply is due.  Never reads
 * outside [req, req + len).  If 'outcome' is nonnull, '*outcome' says what
 * happened (an enum dhcp_server_outcome, e.g. for counters); if 'why' is
 * nonnull, '*why' says it as a static string ("offer", "nak: ...",
 * "ignored: release", ...) for logs. */
size_t dhcp_server_handle(const struct dhcp_port_config *cfg,
                          const void *req, size_t len,
                          void *out, size_t size,
                          enum dhcp_server_outcome *outcome,
                          const char **why);

/* Returns the "why" string of 'o', or "?" if out of range. */
const char *dhcp_server_outcome_why(enum dhcp_server_outcome o);

/* Returns true if 'name' may go into option 12 (a host name label: 'dotted'
 * false) or option 15 (a domain name: 'dotted' true): 1 to
 * DHCP_NAME_SIZE - 1 letters, digits and hyphens, dots too if 'dotted',
 * not starting with a hyphen (RFC 1123). */
bool dhcp_name_is_valid(const char *name, bool dotted);

#endif /* WEFT_AGENT_DHCP_H */
