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
    DA(TUNNEL,    "tunnel")      /* vni + remote_ip: encapsulate and send \
                                  * to that host's tunnel endpoint. */     \
    DA(ARP_REPLY, "arp_reply")   /* mac: turn this ARP request into the   \
                                  * reply "target IP is-at mac" and send  \
                                  * it back out of the input port. */      \
    DA(DROP,      "drop")        /* reason. */

enum dp_action_type {
#define DA(ENUM, NAME) DP_ACT_##ENUM,
    DP_ACTION_TYPES
#undef DA
    N_DP_ACTION_TYPES
};

struct dp_action {
    uint8_t type;               /* enum dp_action_type. */
    uint8_t pad;
    uint16_t reason;            /* DROP: enum drop_reason. */
    uint32_t arg;               /* OUTPUT: port number; TUNNEL: VNI. */
    be32 remote_ip;             /* TUNNEL: remote tunnel endpoint. */
    struct eth_addr mac;        /* ARP_REPLY: the answered MAC. */
    uint8_t pad2[2];
};
BUILD_ASSERT_DECL(sizeof(struct dp_action) == 20);

/* A growable list of actions. */
struct dp_actions {
    size_t n;
    size_t allocated;
    struct dp_action *a;
};

void dp_actions_init(struct dp_actions *);
void dp_actions_destroy(struct dp_actions *);   /* Accepts NULL. */
void dp_actions_clear(struct dp_actions *);
void dp_actions_clone(struct dp_actions *dst, const struct dp_actions *src);
bool dp_actions_equal(const struct dp_actions *, const struct dp_actions *);

void dp_actions_output(struct dp_actions *, uint32_t port);
void dp_actions_tunnel(struct dp_actions *, uint32_t vni, be32 remote_ip);
void dp_actions_arp_reply(struct dp_actions *, const struct eth_addr *);
void dp_actions_drop(struct dp_actions *, enum drop_reason);

/* Returns the name of an action type ("output"). */
const char *dp_action_type_name(enum dp_action_type);

/* Formats the list as "output:3,tunnel(vni=5,dst=198.18.0.2)" into 'buf'.
 * Returns 'buf'. */
char *dp_actions_format(const struct dp_actions *, char *buf, size_t size);

#endif /* WEFT_ACTIONS_H */
