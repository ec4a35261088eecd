/*
 * actions.h -- what a cached flow does with a packet.
 *
 * The simulation (sim/) produces a list of actions for a flow; the datapath
 * executes the list for every packet that hits the flow.  This header is
 * the whole contract between the two: the simulator never sees datapath
 * internals, the datapath never interprets topology.
 *
 * An action list is executed in order on the same packet; OUTPUT and
 * TUNNEL send a copy, so broadcast is simply several of them.  A list that
 * sends nothing must end in exactly one DROP carrying the reason.
 */
#ifndef WEFT_ACTIONS_H
#define WEFT_ACTIONS_H 1

#include "datapath/drop.h"
#include "lib/packet.h"
#include "lib/util.h"

#define DP_ACTION_TYPES                                                    \
    DA(OUTPUT,    "output")      /* port: local datapath port number. */   \
    DA(TUNNEL,    "tunnel")      /* vni + ip: encapsulate and send \
                                  * to that host's tunnel endpoint. */     \
    DA(ARP_REPLY, "arp_reply")   /* mac: turn this ARP request into the   \
                                  * reply "target IP is-at mac" and send  \
                                  * it back out of the input port. */      \
    DA(CHECK_MTU, "check_mtu")   /* arg: MTU of the next hop (bytes of IP \
                                  * packet); ip, mac: the router port that \
                                  * answers.  An IPv4 packet (or, for a    \
                                  * GSO frame, a segment) longer than arg: \
                                  * with DF, ICMP "fragmentation needed"   \
                                  * (from ip/mac) back to the sender and   \
                                  * the list stops; without DF, it is      \
                                  * fragmented and every fragment runs the \
                                  * rest of the list. */                   \
    DA(SET_ETH,   "set_eth")     /* mac: new source, mac2: new            \
                                  * destination MAC. */                    \
    DA(DEC_TTL,   "dec_ttl")     /* arg: hops to subtract from the IPv4   \
                                  * TTL (the simulation checked it stays \
                                  * >= 1); header checksum updated. */      \
    DA(ICMP_ERROR,"icmp_error")  /* arg: ICMP type << 8 | code; ip, mac:  \
                                  * source of the error; reason: the drop \
                                  * reason of its family (drop.h), set by \
                                  * the builder.  Sends the error quoting \
                                  * this packet back to its sender (out   \
                                  * of the input port), rate limited per  \
                                  * input port, and drops the packet.     \
                                  * Ends a list. */                        \
    DA(ICMP_REPLY,"icmp_reply")  /* ip, mac: the answering address.  Turns \
                                  * this ICMP echo request into the echo  \
                                  * reply from ip/mac and sends it back   \
                                  * out of the input port.  Ends a list. */\
    DA(CT,        "ct")          /* arg: conntrack zone; flags: DP_CT_*.  \
                                  * Runs the packet through the           \
                                  * connection tracker in that zone:      \
                                  * established, related and reply        \
                                  * packets go on; a new one goes on (and \
                                  * is committed) only with ALLOW_NEW,    \
                                  * else it is refused (sg_denied);       \
                                  * invalid ones are refused              \
                                  * (ct_invalid); non-IP packets go on.   \
                                  * A refused packet ends the list, or,   \
                                  * with GUARD, only skips the next       \
                                  * action.  The security-group verdict   \
                                  * of the simulation, applied per        \
                                  * packet. */                            \
    DA(USERSPACE, "userspace")   /* arg: enum dp_userspace.  Hands the    \
                                  * packet to the agent (dp_config's      \
                                  * packet_in), which may answer with     \
                                  * dp_packet_out().  Ends a list. */      \
    DA(DROP,      "drop")        /* reason. */

enum dp_action_type {
#define DA(ENUM, NAME) DP_ACT_##ENUM,
    DP_ACTION_TYPES
#undef DA
    N_DP_ACTION_TYPES
};

/* Why a packet goes to the agent (USERSPACE). */
enum dp_userspace {
    DP_USERSPACE_DHCP = 1,      /* A DHCPv4 client message from a VM. */
};

/* CT flags.
 *
 * DP_CT_ALLOW_NEW: a new connection may start (and is committed).
 *
 * DP_CT_GUARD: the verdict applies to the next action only.  A flood
 * delivers one packet to several local ports, each filtered by its own
 * groups in its own zone; the simulation puts a guarded CT right before
 * each such OUTPUT, so that a port whose rules refuse the packet misses
 * it (counted as for any refusal) while the other outputs and the tunnel
 * copies still go.  The tracker sees the packet once per guarded CT, in
 * that CT's zone. */
#define DP_CT_ALLOW_NEW 0x1
#define DP_CT_GUARD     0x2

struct dp_action {
    uint8_t type;               /* enum dp_action_type. */
    uint8_t flags;              /* CT: DP_CT_*. */
    uint16_t reason;            /* DROP, ICMP_ERROR: enum drop_reason. */
    uint32_t arg;               /* See DP_ACTION_TYPES. */
    be32 ip;                    /* TUNNEL: remote tunnel endpoint; ICMP_*,
                                 * CHECK_MTU: the answering address. */
    struct eth_addr mac;        /* ARP_REPLY: the answered MAC; SET_ETH:
                                 * source; ICMP_*, CHECK_MTU: source. */
    struct eth_addr mac2;       /* SET_ETH: destination. */
};
BUILD_ASSERT_DECL(sizeof(struct dp_action) == 24);

/* A growable list of actions. */
struct dp_actions {
    size_t n;
    size_t allocated;
    struct dp_action *a;
};

void dp_actions_init(struct dp_actions *);
void dp_actions_destroy(struct dp_actions *);   /* Accepts NULL. */
void dp_actions_clear(struct dp_actions *);
bool dp_actions_equal(const struct dp_actions *, const struct dp_actions *);

void dp_actions_output(struct dp_actions *, uint32_t port);
void dp_actions_tunnel(struct dp_actions *, uint32_t vni, be32 remote_ip);
void dp_actions_arp_reply(struct dp_actions *, const struct eth_addr *);
void dp_actions_check_mtu(struct dp_actions *, uint32_t mtu, be32 ip,
                          const struct eth_addr *mac);
void dp_actions_set_eth(struct dp_actions *, const struct eth_addr *src,
                        const struct eth_addr *dst);
void dp_actions_dec_ttl(struct dp_actions *, uint32_t hops);
void dp_actions_icmp_error(struct dp_actions *, uint8_t type, uint8_t code,
                           be32 ip, const struct eth_addr *mac);
void dp_actions_icmp_reply(struct dp_actions *, be32 ip,
                           const struct eth_addr *mac);
void dp_actions_userspace(struct dp_actions *, enum dp_userspace);
/* A CT in 'zone', with DP_CT_ALLOW_NEW if 'allow_new'; the _guard variant
 * also sets DP_CT_GUARD (its caller appends the guarded action next). */
void dp_actions_ct(struct dp_actions *, uint16_t zone, bool allow_new);
void dp_actions_ct_guard(struct dp_actions *, uint16_t zone, bool allow_new);
void dp_actions_drop(struct dp_actions *, enum drop_reason);

/* Returns the name of an action type ("output"). */
const char *dp_action_type_name(enum dp_action_type);

/* Formats the list as "output:3,tunnel(vni=5,dst=198.18.0.2)" into 'buf'.
 * Returns 'buf'. */
char *dp_actions_format(const struct dp_actions *, char *buf, size_t size);

#endif /* WEFT_ACTIONS_H */
