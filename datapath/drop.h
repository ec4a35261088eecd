/*
 * drop.h -- every reason the datapath may drop a packet, in one table.
 *
 * Each reason has a name (shown by `weftctl counters` and in traces) and a
 * one-line explanation for operators.  All drops go through
 * dp_drop(reason) so that each has a counter; adding a reason is one line
 * here and nothing else.
 */
#ifndef WEFT_DROP_H
#define WEFT_DROP_H 1

#define DROP_REASONS                                                       \
    DR(NONE,            "none",            "not dropped")                  \
    DR(RUNT,            "runt",            "frame shorter than Ethernet")  \
    DR(NO_PORT,         "no_port",         "input port not bound to a "   \
                                           "logical port")                 \
    DR(PORT_ADMIN_DOWN, "port_admin_down", "port has admin_state_up=false")\
    DR(NET_ADMIN_DOWN,  "net_admin_down",  "network has "                  \
                                           "admin_state_up=false")         \
    DR(VLAN_TAGGED,     "vlan_tagged",     "802.1Q frame on an untagged "  \
                                           "tenant port")                  \
    DR(BAD_SRC_MAC,     "bad_src_mac",     "multicast or zero source MAC") \
    DR(UNKNOWN_VNI,     "unknown_vni",     "tunnel packet for a VNI with "  \
                                           "no network here")              \
    DR(UNKNOWN_DST,     "unknown_dst",     "tunnel packet to a MAC not "    \
                                           "bound on this host")           \
    DR(NO_TUNNEL_IP,    "no_tunnel_ip",    "destination host has no known "\
                                           "tunnel IP")                    \
    DR(HAIRPIN,         "hairpin",         "destination is the input port")\
    DR(TUNNEL_MALFORMED,"tunnel_malformed","bad Geneve/VXLAN header")      \
    DR(TUNNEL_TOO_BIG,  "tunnel_too_big",  "frame exceeds the underlay "   \
                                           "after encapsulation")          \
    DR(GSO_UNSUPPORTED, "gso_unsupported", "segmentation offload type "    \
                                           "we cannot segment")            \
    DR(NO_FLOOD_TARGET, "no_flood_target", "broadcast with no other port " \
                                           "on the network")               \
    DR(TX_ERROR,        "tx_error",        "send failed on output")        \
    DR(SIM_ERROR,       "sim_error",       "simulation failed")            \
    DR(NO_NETWORK,      "no_network",      "port's network is unknown")  \
    DR(RX_TRUNCATED,    "rx_truncated",    "received frame larger than "   \
                                           "the receive buffer")           \
    DR(BAD_VNET_HDR,    "bad_vnet_hdr",    "checksum offload metadata "    \
                                           "does not fit the frame")       \
    DR(ROUTER_DOWN,     "router_down",     "router or router port has "    \
                                           "admin_state_up=false")         \
    DR(NOT_ROUTABLE,    "not_routable",    "not a unicast IPv4 packet, "   \
                                           "sent to a router")             \
    DR(TO_ROUTER,       "to_router",       "addressed to a router, which " \
                                           "only answers ICMP echo")       \
    DR(ROUTER_LOOP,     "router_loop",     "more routers on the path than "\
                                           "a walk may cross")             \
    DR(SPOOFED_MAC,     "spoofed_mac",     "source MAC is not the port's " \
                                           "(port security)")              \
    DR(SPOOFED_IP,      "spoofed_ip",      "source IP is not the port's "  \
                                           "(port security)")              \
    DR(SPOOFED_ARP,     "spoofed_arp",     "ARP sender is not the port's " \
                                           "(port security)")              \
    DR(SPOOFED_ND,      "spoofed_nd",      "neighbor advertisement for "   \
                                           "an address not the port's "    \
                                           "(port security)")              \
    DR(DHCP_SERVER_VM,  "dhcp_server_vm",  "DHCP or DHCPv6 server reply "  \
                                           "from a VM port (port "         \
                                           "security)")                    \
    DR(ROUTER_ADVERT_VM, "router_advert_vm", "IPv6 router advertisement "  \
                                           "from a VM port (port "         \
                                           "security)")                    \
    DR(SG_DENIED,       "sg_denied",       "new connection no security "   \
                                           "group rule allows")            \
    DR(CT_INVALID,      "ct_invalid",      "conntrack: invalid packet "    \
                                           "(out of window, bad flags, "   \
                                           "unrelated, table full)")       \
    /* Answered with an ICMP error (sent unless rate limited or forbidden \
     * by RFC 1122: see dp_stats); one reason per family of errors. */    \
    DR(TTL_EXCEEDED,    "ttl_exceeded",    "TTL expired in transit (ICMP " \
                                           "time exceeded)")               \
    DR(NET_UNREACHABLE, "net_unreachable", "no route to the destination "  \
                                           "(ICMP net unreachable)")       \
    DR(HOST_UNREACHABLE,"host_unreachable","destination host unreachable " \
                                           "(ICMP host unreachable)")      \
    DR(PORT_UNREACHABLE,"port_unreachable","protocol or port a router "    \
                                           "address does not serve (ICMP " \
                                           "protocol/port unreachable)")   \
    DR(ADMIN_PROHIBITED,"admin_prohibited","administratively filtered "    \
                                           "(ICMP communication "          \
                                           "prohibited)")                  \
    DR(FRAG_NEEDED,     "frag_needed",     "larger than the next hop's "   \
                                           "MTU with DF set (ICMP "        \
                                           "fragmentation needed)")        \
    DR(ICMP_ERROR,      "icmp_error",      "answered with another ICMP "   \
                                           "error (e.g. parameter problem)")\
    /* Other router actions. */                                          \
    DR(FRAG_FAILED,     "frag_failed",     "could not be fragmented to "   \
                                           "the next hop's MTU")           \
    DR(ICMP_UNANSWERABLE,"icmp_unanswerable","echo request truncated, "    \
                                           "corrupt or from a non-unicast "\
                                           "source")                       \
    DR(NO_USERSPACE,    "no_userspace",    "for the agent, but no "        \
                                           "packet_in handler")            \
    DR(KPATH_BAD_MISS,  "kpath_bad_miss",  "from the kernel fast path "    \
                                           "without a valid miss header")

enum drop_reason {
#define DR(ENUM, NAME, DESC) DROP_##ENUM,
    DROP_REASONS
#undef DR
    N_DROP_REASONS
};

/* Returns the short name of 'r' ("unknown_vni"), or "?" if out of range. */
const char *drop_reason_name(enum drop_reason r);
/* Returns the operator-facing explanation of 'r'. */
const char *drop_reason_desc(enum drop_reason r);
/* Returns the reason named 'name' ("hairpin"), or DROP_NONE if there is
 * none. */
enum drop_reason drop_reason_from_name(const char *name);

#endif /* WEFT_DROP_H */
