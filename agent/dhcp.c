/*
 * dhcp.c -- the agent's DHCPv4 server (see dhcp.h).
 *
 * Three steps, each its own function: parse_request() peels the frame
 * down to the client message and the few options the decision needs (the
 * flow-key extractor does Ethernet/IPv4/UDP, lib/dhcp.c the BOOTP layer);
 * decide() maps message type and addresses to an outcome; build_reply()
 * writes the BOOTP reply and wraps it with packet_build_udp4().
 */
#include "agent/dhcp.h"

#include <arpa/inet.h>
#include <string.h>

#include "lib/flow-key.h"
#include "lib/packet-edit.h"

/* The longest option area build_reply() can produce: 53; 54, 51, 58, 59,
 * 1, 28, 3 (4-byte values); 6; 15 and 12 (63 characters each); 26; 121
 * (host routes plus a default route, 9 bytes each at most); END. */
#define DHCP_OPTS_WORST                                                 \
    (3 + 7 * 6 + (2 + 4 * DHCP_MAX_DNS) + 2 * (2 + DHCP_NAME_SIZE - 1)  \
     + 4 + (2 + (DHCP_MAX_ROUTES + 1) * DHCP4_ROUTE_MAX_LEN) + 1)
BUILD_ASSERT_DECL(DHCP4_HEADER_LEN + DHCP_OPTS_WORST <= DHCP_MSG_MAX);
BUILD_ASSERT_DECL(DHCP4_BOOTP_MIN <= DHCP_MSG_MAX);
BUILD_ASSERT_DECL((DHCP_MAX_ROUTES + 1) * DHCP4_ROUTE_MAX_LEN
                  <= DHCP4_OPT_MAX_LEN);

static const char *const outcome_whys[] = {
#define DS(ENUM, WHY) WHY,
    DHCP_SERVER_OUTCOMES
#undef DS
};
BUILD_ASSERT_DECL(ARRAY_SIZE(outcome_whys) == N_DHCP_SERVER_OUTCOMES);

/* What the server needs from a client message. */
struct dhcp_request {
    const struct dhcp4_header *h;   /* Inside the request frame. */
    uint8_t type;                   /* Option 53. */
    bool has_requested_ip;          /* Option 50 present. */
    be32 requested_ip;
    bool has_server_id;             /* Option 54 present. */
    be32 server_id;
};

static bool config_ok(const struct dhcp_port_config *);
static bool parse_request(const struct dhcp_port_config *, const void *req,
                          size_t len, struct dhcp_request *,
                          enum dhcp_server_outcome *);
static enum dhcp_server_outcome decide(const struct dhcp_port_config *,
                                       const struct dhcp_request *,
                                       uint8_t *reply_type);
static size_t build_reply(const struct dhcp_port_config *,
                          const struct dhcp_request *, uint8_t reply_type,
                          void *out, size_t size);

size_t
dhcp_server_handle(const struct dhcp_port_config *cfg, const void *req,
                   size_t len, void *out, size_t size,
                   enum dhcp_server_outcome *outcomep, const char **why)
{
    struct dhcp_request rq;
    enum dhcp_server_outcome o;
    uint8_t reply_type = 0;
    size_t n = 0;

    if (!config_ok(cfg)) {
        o = DHCP_SERVER_BAD_CONFIG;
    } else {
        if (parse_request(cfg, req, len, &rq, &o)) {
            o = decide(cfg, &rq, &reply_type);
        }
        if (reply_type) {
            n = build_reply(cfg, &rq, reply_type, out, size);
            if (!n) {
                o = DHCP_SERVER_NO_ROOM;
            }
        }
    }
    if (outcomep) {
        *outcomep = o;
    }
    if (why) {
        *why = outcome_whys[o];
    }
    return n;
}

const char *
dhcp_server_outcome_why(enum dhcp_server_outcome o)
{
    return (unsigned) o < N_DHCP_SERVER_OUTCOMES ? outcome_whys[o] : "?";
}

bool
dhcp_name_is_valid(const char *name, bool dotted)
{
    size_t len = strnlen(name, DHCP_NAME_SIZE);

    return (len && len < DHCP_NAME_SIZE && name[0] != '-'
            && strspn(name, dotted
                      ? "abcdefghijklmnopqrstuvwxyz"
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."
                      : "abcdefghijklmnopqrstuvwxyz"
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == len);
}

/* Stores 'reason' in '*o' and returns false, for parse_request(). */
static bool
fail(enum dhcp_server_outcome *o, enum dhcp_server_outcome reason)
{
    *o = reason;
    return false;
}

static bool
name_ok(const char *s)
{
    return strnlen(s, DHCP_NAME_SIZE) < DHCP_NAME_SIZE;
}

/* Checks the rules of struct dhcp_port_config, so that nothing later can
 * index out of bounds or build an option that cannot exist. */
static bool
config_ok(const struct dhcp_port_config *cfg)
{
    if (eth_addr_is_zero(&cfg->mac) || eth_addr_is_multicast(&cfg->mac)
        || !cfg->ip || !cfg->server_ip || cfg->plen < 1 || cfg->plen > 32
        || cfg->n_dns > DHCP_MAX_DNS || cfg->n_routes > DHCP_MAX_ROUTES
        || !name_ok(cfg->hostname) || !name_ok(cfg->domain)) {
        return false;
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        if (cfg->routes[i].plen > 32) {
            return false;
        }
    }
    return true;
}

/* The options parse_request() reads, with their required lengths. */
enum { WANT_MSG_TYPE, WANT_REQUESTED_IP, WANT_SERVER_ID, N_WANTED };
static const struct {
    uint8_t code;
    uint8_t len;
} wanted[N_WANTED] = {
    [WANT_MSG_TYPE] = { DHCP4_OPT_MSG_TYPE, 1 },
    [WANT_REQUESTED_IP] = { DHCP4_OPT_REQUESTED_IP, 4 },
    [WANT_SERVER_ID] = { DHCP4_OPT_SERVER_ID, 4 },
};

/* Fills 'rq' from the request frame and returns true if the frame is a
 * well-formed client message from the port; else returns false with the
 * reason to stay silent in '*o'. */
static bool
parse_request(const struct dhcp_port_config *cfg, const void *req,
              size_t len, struct dhcp_request *rq,
              enum dhcp_server_outcome *o)
{
    const uint8_t *frame = req;
    struct packet_layout lo;
    struct flow_key key;
    struct dhcp4_opt_iter it;
    struct dhcp4_opt opt, got[N_WANTED];
    const uint8_t *udp, *opts;
    size_t udp_len, opts_len;

    if (!flow_key_extract(req, len, 0, &key, &lo)
        || key.eth_type != htons(ETH_TYPE_IP) || key.vlan_tci
        || lo.l3_ofs == UINT16_MAX) {
        return fail(o, DHCP_SERVER_BAD_FRAME);
    }
    if (key.nw_frag) {
        return fail(o, DHCP_SERVER_FRAGMENT);
    }
    if (key.nw_proto != IPPROTO_UDP_ || lo.l4_ofs == UINT16_MAX
        || key.tp_dst != htons(DHCP4_SERVER_PORT)) {
        return fail(o, DHCP_SERVER_BAD_FRAME);
    }

    /* The extractor guarantees 8 UDP bytes within the IP payload; the UDP
     * length must lie within that payload too (trailing bytes beyond it
     * are ignored, as the kernel does). */
    udp = frame + lo.l4_ofs;
    udp_len = ntohs(get16(udp + 4));
    if (udp_len < sizeof(struct udp_header) || udp_len > lo.l4_len) {
        return fail(o, DHCP_SERVER_BAD_UDP_LEN);
    }

    if (dhcp4_msg_parse(udp + sizeof(struct udp_header),
                        udp_len - sizeof(struct udp_header),
                        &rq->h, &opts, &opts_len)) {
        return fail(o, DHCP_SERVER_BAD_HEADER);
    }
    if (rq->h->op != DHCP4_BOOTREQUEST || rq->h->htype != DHCP4_HTYPE_ETHER
        || rq->h->hlen != ETH_ADDR_LEN) {
        return fail(o, DHCP_SERVER_NOT_ETH_REQ);
    }
    if (memcmp(rq->h->chaddr, &cfg->mac, ETH_ADDR_LEN)) {
        return fail(o, DHCP_SERVER_OTHER_CHADDR);
    }

    /* Keep the first occurrence of each option in 'got' (data NULL:
     * absent); check their lengths once all are known to be intact. */
    memset(got, 0, sizeof got);
    dhcp4_opt_iter_init(&it, opts, opts_len);
    while (dhcp4_opt_next(&it, &opt)) {
        for (size_t i = 0; i < N_WANTED; i++) {
            if (opt.code == wanted[i].code && !got[i].data) {
                got[i] = opt;
            }
        }
    }
    if (it.error) {
        return fail(o, DHCP_SERVER_BAD_OPTIONS);
    }
    for (size_t i = 0; i < N_WANTED; i++) {
        if (got[i].data && got[i].len != wanted[i].len) {
            return fail(o, DHCP_SERVER_BAD_OPTIONS);
        }
    }
    if (!got[WANT_MSG_TYPE].data) {
        return fail(o, DHCP_SERVER_NO_MSG_TYPE);
    }
    rq->type = got[WANT_MSG_TYPE].data[0];
    rq->has_requested_ip = got[WANT_REQUESTED_IP].data != NULL;
    rq->requested_ip = (rq->has_requested_ip
                        ? get32(got[WANT_REQUESTED_IP].data) : 0);
    rq->has_server_id = got[WANT_SERVER_ID].data != NULL;
    rq->server_id = (rq->has_server_id ? get32(got[WANT_SERVER_ID].data)
                     : 0);
    return true;
}

/* Decides the answer to 'rq': returns the outcome and sets '*reply_type'
 * to the DHCP message type to send, or leaves it 0 for no reply. */
static enum dhcp_server_outcome
decide(const struct dhcp_port_config *cfg, const struct dhcp_request *rq,
       uint8_t *reply_type)
{
    be32 addr;

    switch (rq->type) {
    case DHCP4_DISCOVER:
        *reply_type = DHCP4_OFFER;
        return DHCP_SERVER_OFFER;

    case DHCP4_REQUEST:
        if (rq->has_server_id && rq->server_id != cfg->server_ip) {
            /* The client chose another server's offer. */
            return DHCP_SERVER_OTHER_SERVER;
        }
        /* Selecting and init-reboot name the address in option 50;
         * renewing and rebinding in ciaddr. */
        addr = rq->has_requested_ip ? rq->requested_ip : rq->h->ciaddr;
        if (!addr) {
            *reply_type = DHCP4_NAK;
            return DHCP_SERVER_NAK_NO_IP;
        }
        if (addr != cfg->ip) {
            *reply_type = DHCP4_NAK;
            return DHCP_SERVER_NAK_WRONG_IP;
        }
        *reply_type = DHCP4_ACK;
        return DHCP_SERVER_ACK;

    case DHCP4_INFORM:
        *reply_type = DHCP4_ACK;
        return DHCP_SERVER_ACK_INFORM;

    case DHCP4_RELEASE:
        return DHCP_SERVER_RELEASE;

    case DHCP4_DECLINE:
        return DHCP_SERVER_DECLINE;

    default:
        return DHCP_SERVER_NOT_CLIENT_MSG;
    }
}

/* Appends the configuration options of an OFFER or ACK. */
static void
put_config_options(const struct dhcp_port_config *cfg, bool lease,
                   struct dhcp4_opt_writer *w)
{
    uint32_t lease_time = (cfg->lease_time ? cfg->lease_time
                           : DHCP_DEFAULT_LEASE_TIME);
    be32 mask = ip4_prefix_mask(cfg->plen);

    if (lease) {
        dhcp4_opt_put_u32(w, DHCP4_OPT_LEASE_TIME, lease_time);
        dhcp4_opt_put_u32(w, DHCP4_OPT_RENEWAL_TIME, lease_time / 2);
        dhcp4_opt_put_u32(w, DHCP4_OPT_REBINDING_TIME,
                          (uint32_t) ((uint64_t) lease_time * 7 / 8));
    }
    dhcp4_opt_put_be32(w, DHCP4_OPT_SUBNET_MASK, mask);
    if (cfg->plen <= 30) {
        dhcp4_opt_put_be32(w, DHCP4_OPT_BROADCAST, cfg->ip | ~mask);
    }
    if (cfg->router) {
        dhcp4_opt_put_be32(w, DHCP4_OPT_ROUTER, cfg->router);
    }
    if (cfg->n_dns) {
        dhcp4_opt_put(w, DHCP4_OPT_DNS_SERVERS, cfg->dns, 4 * cfg->n_dns);
    }
    if (cfg->domain[0]) {
        dhcp4_opt_put_str(w, DHCP4_OPT_DOMAIN_NAME, cfg->domain);
    }
    if (cfg->hostname[0]) {
        dhcp4_opt_put_str(w, DHCP4_OPT_HOSTNAME, cfg->hostname);
    }
    if (cfg->mtu) {
        dhcp4_opt_put_u16(w, DHCP4_OPT_MTU, cfg->mtu);
    }
    if (cfg->n_routes) {
        struct dhcp4_route routes[DHCP_MAX_ROUTES + 1];
        size_t n = cfg->n_routes;
        bool has_default = false;

        memcpy(routes, cfg->routes, n * sizeof *routes);
        for (size_t i = 0; i < n; i++) {
            has_default |= routes[i].plen == 0;
        }
        if (cfg->router && !has_default) {
            routes[n++] = (struct dhcp4_route) { .dst = 0, .plen = 0,
                                                 .nexthop = cfg->router };
        }
        dhcp4_opt_put_routes(w, routes, n);
    }
}

/* Writes the complete reply frame of type 'reply_type' to 'rq' into 'out'.
 * Returns its length, or 0 if it does not fit in 'size' bytes. */
static size_t
build_reply(const struct dhcp_port_config *cfg,
            const struct dhcp_request *rq, uint8_t reply_type, void *out,
            size_t size)
{
    const struct dhcp4_header *h = rq->h;
    uint8_t msg[DHCP_MSG_MAX];
    struct dhcp4_header *rh = (struct dhcp4_header *) msg;
    struct dhcp4_opt_writer w;
    bool inform = rq->type == DHCP4_INFORM;
    struct packet_spec spec;
    be32 dst;

    memset(msg, 0, sizeof msg);
    rh->op = DHCP4_BOOTREPLY;
    rh->htype = DHCP4_HTYPE_ETHER;
    rh->hlen = ETH_ADDR_LEN;
    rh->xid = h->xid;
    rh->flags = h->flags;
    rh->ciaddr = reply_type == DHCP4_ACK ? h->ciaddr : 0;
    rh->yiaddr = reply_type == DHCP4_NAK || inform ? 0 : cfg->ip;
    rh->giaddr = h->giaddr;
    memcpy(rh->chaddr, h->chaddr, sizeof rh->chaddr);
    rh->cookie = htonl(DHCP4_MAGIC_COOKIE);

    dhcp4_opt_writer_init(&w, msg + sizeof *rh, sizeof msg - sizeof *rh);
    dhcp4_opt_put_u8(&w, DHCP4_OPT_MSG_TYPE, reply_type);
    dhcp4_opt_put_be32(&w, DHCP4_OPT_SERVER_ID, cfg->server_ip);
    if (reply_type != DHCP4_NAK) {
        put_config_options(cfg, !inform, &w);
    }
    dhcp4_opt_put_end(&w);
    ASSERT(!w.error);           /* DHCP_OPTS_WORST fits, config_ok(). */

    if (h->ciaddr) {
        dst = h->ciaddr;
    } else if (h->flags & htons(DHCP4_FLAG_BROADCAST)
               || reply_type == DHCP4_NAK || !rh->yiaddr) {
        dst = htonl(0xffffffff);
    } else {
        dst = rh->yiaddr;
    }

    memset(&spec, 0, sizeof spec);
    spec.eth_src = cfg->server_mac;
    memcpy(&spec.eth_dst, h->chaddr, ETH_ADDR_LEN);
    spec.ip4_src = cfg->server_ip;
    spec.ip4_dst = dst;
    spec.src_port = DHCP4_SERVER_PORT;
    spec.dst_port = DHCP4_CLIENT_PORT;
    spec.payload = msg;
    spec.payload_len = MAX(sizeof *rh + w.ofs, (size_t) DHCP4_BOOTP_MIN);
    return packet_build_udp4(out, size, &spec);
}
