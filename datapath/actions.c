/* actions.c -- building and formatting action lists (see actions.h). */
#include "datapath/actions.h"

#include <arpa/inet.h>
#include <string.h>

static const char *const action_names[] = {
#define DA(ENUM, NAME) NAME,
    DP_ACTION_TYPES
#undef DA
};

void
dp_actions_init(struct dp_actions *acts)
{
    acts->n = 0;
    acts->allocated = 0;
    acts->a = NULL;
}

void
dp_actions_destroy(struct dp_actions *acts)
{
    if (acts) {
        free(acts->a);
        dp_actions_init(acts);
    }
}

void
dp_actions_clear(struct dp_actions *acts)
{
    acts->n = 0;
}

bool
dp_actions_equal(const struct dp_actions *a, const struct dp_actions *b)
{
    return a->n == b->n && (!a->n || !memcmp(a->a, b->a, a->n * sizeof *a->a));
}

static struct dp_action *
push(struct dp_actions *acts, enum dp_action_type type)
{
    struct dp_action *a;

    if (acts->n == acts->allocated) {
        acts->allocated = acts->allocated ? acts->allocated * 2 : 4;
        acts->a = xrealloc(acts->a, acts->allocated * sizeof *acts->a);
    }
    a = &acts->a[acts->n++];
    memset(a, 0, sizeof *a);
    a->type = type;
    return a;
}

void
dp_actions_output(struct dp_actions *acts, uint32_t port)
{
    push(acts, DP_ACT_OUTPUT)->arg = port;
}

void
dp_actions_tunnel(struct dp_actions *acts, uint32_t vni, be32 remote_ip)
{
    struct dp_action *a = push(acts, DP_ACT_TUNNEL);
    a->arg = vni;
    a->ip = remote_ip;
}

void
dp_actions_check_mtu(struct dp_actions *acts, uint32_t mtu, be32 ip,
                     const struct eth_addr *mac)
{
    struct dp_action *a = push(acts, DP_ACT_CHECK_MTU);
    a->arg = mtu;
    a->ip = ip;
    a->mac = *mac;
}

void
dp_actions_set_eth(struct dp_actions *acts, const struct eth_addr *src,
                   const struct eth_addr *dst)
{
    struct dp_action *a = push(acts, DP_ACT_SET_ETH);
    a->mac = *src;
    a->mac2 = *dst;
}

void
dp_actions_dec_ttl(struct dp_actions *acts, uint32_t hops)
{
    push(acts, DP_ACT_DEC_TTL)->arg = hops;
}

/* The drop reason of a packet answered with ICMP error 'type'/'code':
 * one per family, see drop.h. */
static enum drop_reason
icmp_error_drop_reason(uint8_t type, uint8_t code)
{
    if (type == ICMP4_TIME_EXCEEDED) {
        return DROP_TTL_EXCEEDED;
    }
    if (type != ICMP4_DEST_UNREACH) {
        return DROP_ICMP_ERROR;
    }
    switch (code) {
    case ICMP4_CODE_NET_UNREACH:
    case 6:                     /* Destination network unknown. */
    case 11:                    /* Network unreachable for TOS. */
        return DROP_NET_UNREACHABLE;
    case ICMP4_CODE_HOST_UNREACH:
    case 7:                     /* Destination host unknown. */
    case 12:                    /* Host unreachable for TOS. */
        return DROP_HOST_UNREACHABLE;
    case ICMP4_CODE_PROTO_UNREACH:
    case ICMP4_CODE_PORT_UNREACH:
        return DROP_PORT_UNREACHABLE;
    case ICMP4_CODE_FRAG_NEEDED:
        return DROP_FRAG_NEEDED;
    case 9:                     /* Network administratively prohibited. */
    case 10:                    /* Host administratively prohibited. */
    case ICMP4_CODE_ADMIN_PROHIB:
        return DROP_ADMIN_PROHIBITED;
    default:
        return DROP_ICMP_ERROR;
    }
}

void
dp_actions_icmp_error(struct dp_actions *acts, uint8_t type, uint8_t code,
                      be32 ip, const struct eth_addr *mac)
{
    struct dp_action *a = push(acts, DP_ACT_ICMP_ERROR);
    a->arg = (uint32_t) type << 8 | code;
    a->reason = icmp_error_drop_reason(type, code);
    a->ip = ip;
    a->mac = *mac;
}

void
dp_actions_icmp_reply(struct dp_actions *acts, be32 ip,
                      const struct eth_addr *mac)
{
    struct dp_action *a = push(acts, DP_ACT_ICMP_REPLY);
    a->ip = ip;
    a->mac = *mac;
}

static void
push_ct(struct dp_actions *acts, uint16_t zone, uint8_t flags)
{
    struct dp_action *a = push(acts, DP_ACT_CT);
    a->arg = zone;
    a->flags = flags;
}

void
dp_actions_ct(struct dp_actions *acts, uint16_t zone, bool allow_new)
{
    push_ct(acts, zone, allow_new ? DP_CT_ALLOW_NEW : 0);
}

void
dp_actions_ct_guard(struct dp_actions *acts, uint16_t zone, bool allow_new)
{
    push_ct(acts, zone, DP_CT_GUARD | (allow_new ? DP_CT_ALLOW_NEW : 0));
}

void
dp_actions_userspace(struct dp_actions *acts, enum dp_userspace why)
{
    push(acts, DP_ACT_USERSPACE)->arg = why;
}

void
dp_actions_arp_reply(struct dp_actions *acts, const struct eth_addr *mac)
{
    push(acts, DP_ACT_ARP_REPLY)->mac = *mac;
}

void
dp_actions_drop(struct dp_actions *acts, enum drop_reason reason)
{
    push(acts, DP_ACT_DROP)->reason = reason;
}

const char *
dp_action_type_name(enum dp_action_type type)
{
    return (unsigned) type < N_DP_ACTION_TYPES ? action_names[type] : "?";
}

char *
dp_actions_format(const struct dp_actions *acts, char *buf, size_t size)
{
    size_t ofs = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < acts->n && ofs < size; i++) {
        const struct dp_action *a = &acts->a[i];
        const char *sep = i ? "," : "";
        char ip[INET_ADDRSTRLEN];
        char mac[18], mac2[18];
        int n = 0;

        switch ((enum dp_action_type) a->type) {
        case DP_ACT_OUTPUT:
            n = snprintf(buf + ofs, size - ofs, "%soutput:%u", sep, a->arg);
            break;
        case DP_ACT_TUNNEL:
            inet_ntop(AF_INET, &a->ip, ip, sizeof ip);
            n = snprintf(buf + ofs, size - ofs, "%stunnel(vni=%u,dst=%s)",
                         sep, a->arg, ip);
            break;
        case DP_ACT_ARP_REPLY:
            eth_addr_to_string(&a->mac, mac);
            n = snprintf(buf + ofs, size - ofs, "%sarp_reply(%s)", sep, mac);
            break;
        case DP_ACT_CHECK_MTU:
            inet_ntop(AF_INET, &a->ip, ip, sizeof ip);
            n = snprintf(buf + ofs, size - ofs, "%scheck_mtu(%u,from=%s)",
                         sep, a->arg, ip);
            break;
        case DP_ACT_SET_ETH:
            eth_addr_to_string(&a->mac, mac);
            eth_addr_to_string(&a->mac2, mac2);
            n = snprintf(buf + ofs, size - ofs, "%sset_eth(%s->%s)", sep,
                         mac, mac2);
            break;
        case DP_ACT_DEC_TTL:
            n = snprintf(buf + ofs, size - ofs, "%sdec_ttl(%u)", sep, a->arg);
            break;
        case DP_ACT_ICMP_ERROR:
            inet_ntop(AF_INET, &a->ip, ip, sizeof ip);
            n = snprintf(buf + ofs, size - ofs,
                         "%sicmp_error(type=%u,code=%u,from=%s)", sep,
                         a->arg >> 8, a->arg & 0xff, ip);
            break;
        case DP_ACT_ICMP_REPLY:
            inet_ntop(AF_INET, &a->ip, ip, sizeof ip);
            n = snprintf(buf + ofs, size - ofs, "%sicmp_reply(from=%s)", sep,
                         ip);
            break;
        case DP_ACT_CT:
            n = snprintf(buf + ofs, size - ofs, "%sct(zone=%u%s%s)", sep,
                         a->arg,
                         a->flags & DP_CT_ALLOW_NEW ? ",allow_new" : "",
                         a->flags & DP_CT_GUARD ? ",guard" : "");
            break;
        case DP_ACT_USERSPACE:
            n = snprintf(buf + ofs, size - ofs, "%suserspace(%s)", sep,
                         a->arg == DP_USERSPACE_DHCP ? "dhcp" : "?");
            break;
        case DP_ACT_DROP:
            n = snprintf(buf + ofs, size - ofs, "%sdrop(%s)", sep,
                         drop_reason_name(a->reason));
            break;
        case N_DP_ACTION_TYPES:
        default:
            n = snprintf(buf + ofs, size - ofs, "%s?", sep);
            break;
        }
        if (n < 0) {
            break;
        }
        ofs += (size_t) n;
    }
    return buf;
}
