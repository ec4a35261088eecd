/*
 * test-dhcp.c -- the DHCPv4 wire layer (lib/dhcp.h) and the agent's DHCP
 * server (agent/dhcp.h).
 *
 * Requests are built the way a client builds them (BOOTP header + options
 * written with the lib's writer, wrapped by packet_build_udp4()); replies
 * are checked by decoding them again -- Ethernet, IPv4 and UDP headers and
 * checksums, the BOOTP header and every option -- never by comparing with
 * a frame the server itself produced.  Option 121 encodings are compared
 * with byte strings worked out by hand from RFC 3442.
 */
#include "agent/dhcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "lib/csum.h"
#include "lib/dhcp.h"
#include "lib/flow-key.h"
#include "lib/packet-edit.h"
#include "tests/lib/unit.h"

#define IP(a, b, c, d) htonl((uint32_t) (a) << 24 | (b) << 16 | (c) << 8 | (d))

static const struct eth_addr vm_mac = {{ 0xfa, 0x16, 0x3e, 0, 0, 5 }};
static const struct eth_addr srv_mac = {{ 0xfa, 0x16, 0x3e, 0, 0, 2 }};

/* ---------------------------------------------------------------- helpers */

static struct dhcp_port_config
default_config(void)
{
    struct dhcp_port_config c;

    memset(&c, 0, sizeof c);
    c.mac = vm_mac;
    c.ip = IP(10, 0, 0, 5);
    c.plen = 24;
    c.router = IP(10, 0, 0, 1);
    c.server_ip = IP(10, 0, 0, 2);
    c.server_mac = srv_mac;
    c.dns[0] = IP(8, 8, 8, 8);
    c.dns[1] = IP(10, 0, 0, 3);
    c.n_dns = 2;
    c.routes[0] = (struct dhcp4_route) { IP(192, 168, 0, 0), 16,
                                         IP(10, 0, 0, 254) };
    c.n_routes = 1;
    c.mtu = 1450;
    c.lease_time = 86400;
    strcpy(c.hostname, "host-10-0-0-5");
    strcpy(c.domain, "openstacklocal");
    return c;
}

/* A client message to build. */
struct req {
    uint8_t type;               /* Option 53; 0 = leave it out. */
    be32 xid;
    uint16_t flags;             /* Host order. */
    be32 ciaddr;
    be32 giaddr;
    be32 requested_ip;          /* Option 50 if nonzero. */
    be32 server_id;             /* Option 54 if nonzero. */
    struct eth_addr chaddr;     /* Zero = vm_mac. */
    uint8_t op, htype, hlen;    /* Zero = BOOTREQUEST, 1, 6. */
    be32 cookie;                /* Zero = the magic cookie. */
    const uint8_t *raw_opts;    /* Appended as is after the others. */
    size_t raw_len;
    bool no_end;                /* Leave out END. */
};

/* Writes the BOOTP part of 'r' into 'msg' (at least 512 bytes); returns
 * its length (300 at least, like real clients send). */
static size_t
build_bootp(uint8_t *msg, const struct req *r)
{
    struct dhcp4_header *h = (struct dhcp4_header *) msg;
    struct dhcp4_opt_writer w;

    memset(msg, 0, 512);
    h->op = r->op ? r->op : DHCP4_BOOTREQUEST;
    h->htype = r->htype ? r->htype : DHCP4_HTYPE_ETHER;
    h->hlen = r->hlen ? r->hlen : 6;
    h->xid = r->xid ? r->xid : htonl(0x12345678);
    h->secs = htons(3);
    h->flags = htons(r->flags);
    h->ciaddr = r->ciaddr;
    h->giaddr = r->giaddr;
    memcpy(h->chaddr, eth_addr_is_zero(&r->chaddr) ? &vm_mac : &r->chaddr,
           6);
    h->cookie = r->cookie ? r->cookie : htonl(DHCP4_MAGIC_COOKIE);

    dhcp4_opt_writer_init(&w, msg + 240, 512 - 240);
    if (r->type) {
        dhcp4_opt_put_u8(&w, DHCP4_OPT_MSG_TYPE, r->type);
    }
    dhcp4_opt_put(&w, DHCP4_OPT_CLIENT_ID, "\x01\xfa\x16\x3e\x00\x00\x05",
                  7);
    if (r->requested_ip) {
        dhcp4_opt_put_be32(&w, DHCP4_OPT_REQUESTED_IP, r->requested_ip);
    }
    if (r->server_id) {
        dhcp4_opt_put_be32(&w, DHCP4_OPT_SERVER_ID, r->server_id);
    }
    dhcp4_opt_put(&w, DHCP4_OPT_PARAM_REQUEST, "\x01\x03\x06\x0c\x0f\x1a"
                  "\x1c\x79", 8);
    CHECK_EQ(w.error, 0);
    if (r->raw_len) {
        memcpy(msg + 240 + w.ofs, r->raw_opts, r->raw_len);
        w.ofs += r->raw_len;
    }
    if (!r->no_end) {
        dhcp4_opt_put_end(&w);
    }
    CHECK_EQ(w.error, 0);
    return MAX(240 + w.ofs, (size_t) 300);
}

/* Builds the whole request frame for 'r' into 'f' (at least 600 bytes),
 * with 'spec' (may be NULL) overriding L2-L4 defaults. */
static size_t
build_request_spec(uint8_t *f, const struct req *r, struct packet_spec *spec)
{
    uint8_t msg[512];
    struct packet_spec s;
    size_t n;

    if (spec) {
        s = *spec;
    } else {
        memset(&s, 0, sizeof s);
    }
    if (eth_addr_is_zero(&s.eth_src)) {
        s.eth_src = vm_mac;
    }
    if (eth_addr_is_zero(&s.eth_dst)) {
        memset(&s.eth_dst, 0xff, 6);
    }
    if (!s.ip4_src) {
        s.ip4_src = r->ciaddr;
    }
    if (!s.ip4_dst) {
        s.ip4_dst = htonl(0xffffffff);
    }
    s.src_port = s.src_port ? s.src_port : 68;
    s.dst_port = s.dst_port ? s.dst_port : 67;
    s.payload = msg;
    s.payload_len = build_bootp(msg, r);
    n = packet_build_udp4(f, 600, &s);
    CHECK(n > 0);
    return n;
}

static size_t
build_request(uint8_t *f, const struct req *r)
{
    return build_request_spec(f, r, NULL);
}

/* A decoded reply. */
struct reply {
    const uint8_t *f;
    size_t len;
    be32 ip_src, ip_dst;
    const struct dhcp4_header *h;
    const uint8_t *opts;
    size_t opts_len;
    uint8_t type;               /* Option 53. */
    int n_opts;                 /* Options before END. */
};

/* Decodes the reply frame 'f' of 'len' bytes into 'r', checking
 * everything that must hold for any reply from the default server.
 * Returns false (after failing checks) if it cannot be decoded. */
static bool
decode_reply(const uint8_t *f, size_t len, struct reply *r)
{
    struct flow_key key;
    struct packet_layout lo;
    struct dhcp4_opt_iter it;
    struct dhcp4_opt opt;
    const uint8_t *ip, *udp;
    size_t bootp_len;
    bool ok = true;

    memset(r, 0, sizeof *r);
    r->f = f;
    r->len = len;
    CHECK(len > 0 && len <= DHCP_FRAME_MAX);
    if (!len) {
        return false;
    }

    /* Ethernet, IPv4, UDP, with valid (nonzero UDP) checksums and
     * consistent lengths. */
    flow_key_extract(f, len, 0, &key, &lo);
    CHECK_EQ(ntohs(key.eth_type), ETH_TYPE_IP);
    CHECK_EQ(key.vlan_tci, 0);
    CHECK_EQ(lo.l3_ofs, 14);
    CHECK_EQ(lo.l4_ofs, 34);
    CHECK_EQ(key.nw_proto, IPPROTO_UDP_);
    CHECK_EQ(key.nw_frag, 0);
    if (lo.l4_ofs != 34 || key.nw_proto != IPPROTO_UDP_) {
        return false;
    }
    CHECK(!memcmp(f, vm_mac.ea, 6));            /* To chaddr. */
    CHECK(!memcmp(f + 6, srv_mac.ea, 6));       /* From the server. */
    ip = f + 14;
    udp = f + 34;
    CHECK_EQ(ip[0], 0x45);
    CHECK_EQ(ip[8], 64);                        /* TTL. */
    CHECK_EQ(ntohs(get16(ip + 2)), len - 14);
    CHECK(csum_ipv4_header_ok(ip, 20));
    CHECK_EQ(ntohs(get16(udp)), 67);
    CHECK_EQ(ntohs(get16(udp + 2)), 68);
    CHECK_EQ(ntohs(get16(udp + 4)), len - 34);
    CHECK(get16(udp + 6) != 0);                 /* A checksum is present */
    CHECK_EQ(packet_verify_csums(f, len), 0);   /* and correct. */
    r->ip_src = get32(ip + 12);
    r->ip_dst = get32(ip + 16);
    CHECK_EQ(r->ip_src, IP(10, 0, 0, 2));

    /* BOOTP. */
    bootp_len = len - 42;
    CHECK(bootp_len >= DHCP4_BOOTP_MIN);
    if (dhcp4_msg_parse(udp + 8, bootp_len, &r->h, &r->opts,
                        &r->opts_len)) {
        CHECK(!"reply has no dhcp header");
        return false;
    }
    CHECK_EQ(r->h->op, DHCP4_BOOTREPLY);
    CHECK_EQ(r->h->htype, 1);
    CHECK_EQ(r->h->hlen, 6);
    CHECK_EQ(r->h->hops, 0);
    CHECK_EQ(r->h->siaddr, 0);
    CHECK(!memcmp(r->h->chaddr, vm_mac.ea, 6));
    for (size_t i = 6; i < 16; i++) {
        CHECK_EQ(r->h->chaddr[i], 0);
    }
    for (size_t i = 0; i < sizeof r->h->sname; i++) {
        ok &= !r->h->sname[i];
    }
    for (size_t i = 0; i < sizeof r->h->file; i++) {
        ok &= !r->h->file[i];
    }
    CHECK(ok);

    /* Options: well formed, END present, nothing but zeros after it, and
     * no option twice. */
    {
        bool seen[256] = { false };

        dhcp4_opt_iter_init(&it, r->opts, r->opts_len);
        while (dhcp4_opt_next(&it, &opt)) {
            CHECK(!seen[opt.code]);
            seen[opt.code] = true;
            r->n_opts++;
            if (opt.code == DHCP4_OPT_MSG_TYPE && opt.len == 1) {
                r->type = opt.data[0];
            }
        }
        CHECK_EQ(it.error, 0);
        CHECK(it.end_seen);
        for (size_t i = it.ofs + 1; i < r->opts_len; i++) {
            ok &= !r->opts[i];
        }
        CHECK(ok);
    }
    CHECK(r->type == DHCP4_OFFER || r->type == DHCP4_ACK
          || r->type == DHCP4_NAK);
    return true;
}

/* Returns the option 'code' of reply 'r' in '*o', or false if absent. */
static bool
get_opt(const struct reply *r, uint8_t code, struct dhcp4_opt *o)
{
    return !dhcp4_opt_find(r->opts, r->opts_len, code, o);
}

/* Checks that 'r' carries option 'code' with exactly the 'len' bytes at
 * 'data'. */
#define CHECK_OPT(R, CODE, DATA, LEN)                                   \
    do {                                                                \
        struct dhcp4_opt o_;                                            \
        bool has_ = get_opt(R, CODE, &o_);                              \
        CHECK(has_);                                                    \
        if (has_) {                                                     \
            CHECK_EQ(o_.len, LEN);                                      \
            CHECK(o_.len == (LEN) && !memcmp(o_.data, DATA, LEN));      \
        }                                                               \
    } while (0)
#define CHECK_OPT_BE32(R, CODE, V)                                      \
    do {                                                                \
        be32 v_ = (V);                                                  \
        CHECK_OPT(R, CODE, &v_, 4);                                     \
    } while (0)
#define CHECK_NO_OPT(R, CODE)                                           \
    do {                                                                \
        struct dhcp4_opt o_;                                            \
        CHECK(!get_opt(R, CODE, &o_));                                  \
    } while (0)

/* Runs the server on 'f' with 'cfg'; returns the reply length, and the
 * outcome in '*o'.  The request gets an exact-size heap copy so that ASan
 * sees any read past its end. */
static size_t
handle(const struct dhcp_port_config *cfg, const uint8_t *f, size_t len,
       uint8_t *out, enum dhcp_server_outcome *o)
{
    uint8_t *copy = xmalloc(len ? len : 1);
    const char *why = NULL;
    size_t n;

    memcpy(copy, f, len);
    memset(out, 0xcc, DHCP_FRAME_MAX);
    n = dhcp_server_handle(cfg, copy, len, out, DHCP_FRAME_MAX, o, &why);
    free(copy);
    CHECK(why != NULL);
    CHECK(n <= DHCP_FRAME_MAX);
    if (why) {
        CHECK_STREQ(why, dhcp_server_outcome_why(*o));
    }
    return n;
}

/* Builds the request 'rq' (L2-L4 from 'spec', which may be NULL), runs
 * the server with 'cfg' on it, and checks that the outcome is 'want' and
 * that a reply comes exactly when 'want' promises one (its "why" starts
 * with "offer", "ack" or "nak").  Returns true with the reply decoded
 * into 'r' (valid until the next call), false if there is none. */
static bool
exchange(const struct dhcp_port_config *cfg, const struct req *rq,
         struct packet_spec *spec, enum dhcp_server_outcome want,
         struct reply *r)
{
    static uint8_t out[DHCP_FRAME_MAX];
    const char *why = dhcp_server_outcome_why(want);
    bool replies = (!strncmp(why, "offer", 5) || !strncmp(why, "ack", 3)
                    || !strncmp(why, "nak", 3));
    enum dhcp_server_outcome o;
    uint8_t f[600];
    size_t n;

    n = build_request_spec(f, rq, spec);
    n = handle(cfg, f, n, out, &o);
    CHECK_EQ(o, want);
    if (!replies) {
        CHECK_EQ(n, 0);
        return false;
    }
    CHECK(n > 0);
    return decode_reply(out, n, r);
}

/* Checks all the configuration options of an OFFER/ACK from the default
 * config ('lease': with lease times). */
static void
check_config_options(const struct reply *r, bool lease)
{
    static const uint8_t dns[] = { 8, 8, 8, 8, 10, 0, 0, 3 };
    /* 192.168.0.0/16 via 10.0.0.254, then 0.0.0.0/0 via 10.0.0.1. */
    static const uint8_t routes[] = { 16, 192, 168, 10, 0, 0, 254,
                                      0, 10, 0, 0, 1 };
    static const uint8_t mtu[] = { 0x05, 0xaa };            /* 1450 */
    static const uint8_t lease_t[] = { 0, 1, 0x51, 0x80 };  /* 86400 */
    static const uint8_t t1[] = { 0, 0, 0xa8, 0xc0 };       /* 43200 */
    static const uint8_t t2[] = { 0, 1, 0x27, 0x50 };       /* 75600 */

    CHECK_OPT_BE32(r, DHCP4_OPT_SERVER_ID, IP(10, 0, 0, 2));
    CHECK_OPT_BE32(r, DHCP4_OPT_SUBNET_MASK, IP(255, 255, 255, 0));
    CHECK_OPT_BE32(r, DHCP4_OPT_BROADCAST, IP(10, 0, 0, 255));
    CHECK_OPT_BE32(r, DHCP4_OPT_ROUTER, IP(10, 0, 0, 1));
    CHECK_OPT(r, DHCP4_OPT_DNS_SERVERS, dns, sizeof dns);
    CHECK_OPT(r, DHCP4_OPT_CLASSLESS_ROUTES, routes, sizeof routes);
    CHECK_OPT(r, DHCP4_OPT_MTU, mtu, 2);
    CHECK_OPT(r, DHCP4_OPT_HOSTNAME, "host-10-0-0-5", 13);
    CHECK_OPT(r, DHCP4_OPT_DOMAIN_NAME, "openstacklocal", 14);
    if (lease) {
        CHECK_OPT(r, DHCP4_OPT_LEASE_TIME, lease_t, 4);
        CHECK_OPT(r, DHCP4_OPT_RENEWAL_TIME, t1, 4);
        CHECK_OPT(r, DHCP4_OPT_REBINDING_TIME, t2, 4);
        CHECK_EQ(r->n_opts, 13);
    } else {
        CHECK_NO_OPT(r, DHCP4_OPT_LEASE_TIME);
        CHECK_NO_OPT(r, DHCP4_OPT_RENEWAL_TIME);
        CHECK_NO_OPT(r, DHCP4_OPT_REBINDING_TIME);
        CHECK_EQ(r->n_opts, 10);
    }
}

/* Checks that 'r' is a NAK: type, server id and nothing else. */
static void
check_nak(const struct reply *r)
{
    uint8_t nak = DHCP4_NAK;

    CHECK_EQ(r->type, DHCP4_NAK);
    CHECK_OPT(r, DHCP4_OPT_MSG_TYPE, &nak, 1);
    CHECK_OPT_BE32(r, DHCP4_OPT_SERVER_ID, IP(10, 0, 0, 2));
    CHECK_EQ(r->n_opts, 2);
    CHECK_EQ(r->len, 14 + 20 + 8 + 300);    /* Padded to BOOTP's 300. */
    CHECK_EQ(r->h->yiaddr, 0);
    CHECK_EQ(r->h->ciaddr, 0);
}

/* ------------------------------------------------------------ the server */

static void
test_discover_offer(void)
{
    struct dhcp_port_config cfg = default_config();
    uint8_t offer = DHCP4_OFFER;
    struct reply r;

    if (exchange(&cfg, &(struct req) { .type = DHCP4_DISCOVER,
                                       .giaddr = IP(1, 2, 3, 4) },
                 NULL, DHCP_SERVER_OFFER, &r)) {
        /* 240 + options 53, 54, 51, 58, 59, 1, 28, 3 (45 bytes), 6 (10),
         * 15 (16), 12 (15), 26 (4), 121 (14), END: nothing else, no
         * padding. */
        CHECK_EQ(r.len, 14 + 20 + 8 + 240 + 105);
        CHECK_EQ(r.type, DHCP4_OFFER);
        CHECK_OPT(&r, DHCP4_OPT_MSG_TYPE, &offer, 1);
        CHECK_EQ(r.h->xid, htonl(0x12345678));
        CHECK_EQ(r.h->flags, 0);
        CHECK_EQ(r.h->ciaddr, 0);
        CHECK_EQ(r.h->yiaddr, IP(10, 0, 0, 5));
        CHECK_EQ(r.h->giaddr, IP(1, 2, 3, 4));     /* Copied. */
        CHECK_EQ(r.ip_dst, IP(10, 0, 0, 5));       /* No broadcast flag. */
        check_config_options(&r, true);
    }

    /* The same DISCOVER with the broadcast flag: to 255.255.255.255, and
     * the flag is copied. */
    if (exchange(&cfg, &(struct req) { .type = DHCP4_DISCOVER,
                                       .flags = DHCP4_FLAG_BROADCAST,
                                       .xid = htonl(77) },
                 NULL, DHCP_SERVER_OFFER, &r)) {
        CHECK_EQ(r.ip_dst, htonl(0xffffffff));
        CHECK_EQ(r.h->flags, htons(DHCP4_FLAG_BROADCAST));
        CHECK_EQ(r.h->xid, htonl(77));
        check_config_options(&r, true);
    }
}

static void
test_request_selecting_ack(void)
{
    struct dhcp_port_config cfg = default_config();
    struct reply r;

    if (exchange(&cfg, &(struct req) {
                     .type = DHCP4_REQUEST, .requested_ip = IP(10, 0, 0, 5),
                     .server_id = IP(10, 0, 0, 2),
                     .flags = DHCP4_FLAG_BROADCAST },
                 NULL, DHCP_SERVER_ACK, &r)) {
        CHECK_EQ(r.type, DHCP4_ACK);
        CHECK_EQ(r.h->yiaddr, IP(10, 0, 0, 5));
        CHECK_EQ(r.h->ciaddr, 0);
        CHECK_EQ(r.ip_dst, htonl(0xffffffff));
        check_config_options(&r, true);
    }

    /* Without the broadcast flag: unicast to the new address. */
    if (exchange(&cfg, &(struct req) {
                     .type = DHCP4_REQUEST, .requested_ip = IP(10, 0, 0, 5),
                     .server_id = IP(10, 0, 0, 2) },
                 NULL, DHCP_SERVER_ACK, &r)) {
        CHECK_EQ(r.ip_dst, IP(10, 0, 0, 5));
    }
}

static void
test_request_other_ip_nak(void)
{
    struct dhcp_port_config cfg = default_config();
    struct reply r;

    /* Selecting, naming us, but another address. */
    if (exchange(&cfg, &(struct req) {
                     .type = DHCP4_REQUEST, .requested_ip = IP(10, 0, 0, 6),
                     .server_id = IP(10, 0, 0, 2) },
                 NULL, DHCP_SERVER_NAK_WRONG_IP, &r)) {
        check_nak(&r);
        CHECK_EQ(r.ip_dst, htonl(0xffffffff));     /* NAKs broadcast. */
    }

    /* Init-reboot (option 50, no server id): the same, for an address
     * from another subnet. */
    if (exchange(&cfg, &(struct req) {
                     .type = DHCP4_REQUEST,
                     .requested_ip = IP(192, 168, 1, 7) },
                 NULL, DHCP_SERVER_NAK_WRONG_IP, &r)) {
        check_nak(&r);
        CHECK_EQ(r.ip_dst, htonl(0xffffffff));
    }

    /* Init-reboot for the right address: ACK. */
    if (exchange(&cfg, &(struct req) {
                     .type = DHCP4_REQUEST,
                     .requested_ip = IP(10, 0, 0, 5) },
                 NULL, DHCP_SERVER_ACK, &r)) {
        CHECK_EQ(r.type, DHCP4_ACK);
        CHECK_EQ(r.h->yiaddr, IP(10, 0, 0, 5));
    }

    /* A REQUEST naming no address at all. */
    if (exchange(&cfg, &(struct req) { .type = DHCP4_REQUEST }, NULL,
                 DHCP_SERVER_NAK_NO_IP, &r)) {
        check_nak(&r);
    }
}

static void
test_request_other_server_ignored(void)
{
    struct dhcp_port_config cfg = default_config();
    struct reply r;

    /* Even for the port's own address: the client chose someone else. */
    exchange(&cfg, &(struct req) {
                 .type = DHCP4_REQUEST, .requested_ip = IP(10, 0, 0, 5),
                 .server_id = IP(10, 0, 0, 3) },
             NULL, DHCP_SERVER_OTHER_SERVER, &r);
}

static void
test_renew_unicast_ack(void)
{
    struct dhcp_port_config cfg = default_config();
    struct reply r;

    /* Renewing: unicast from ciaddr to the server, no 50 or 54. */
    if (exchange(&cfg, &(struct req) { .type = DHCP4_REQUEST,
                                       .ciaddr = IP(10, 0, 0, 5) },
                 &(struct packet_spec) { .eth_dst = srv_mac,
                                         .ip4_dst = IP(10, 0, 0, 2) },
                 DHCP_SERVER_ACK, &r)) {
        CHECK_EQ(r.type, DHCP4_ACK);
        CHECK_EQ(r.ip_dst, IP(10, 0, 0, 5));
        CHECK_EQ(r.h->ciaddr, IP(10, 0, 0, 5));
        CHECK_EQ(r.h->yiaddr, IP(10, 0, 0, 5));
        check_config_options(&r, true);
    }

    /* Rebinding (broadcast, flag set): still to ciaddr. */
    if (exchange(&cfg, &(struct req) { .type = DHCP4_REQUEST,
                                       .ciaddr = IP(10, 0, 0, 5),
                                       .flags = DHCP4_FLAG_BROADCAST },
                 NULL, DHCP_SERVER_ACK, &r)) {
        CHECK_EQ(r.ip_dst, IP(10, 0, 0, 5));
    }
}

static void
test_renew_after_ip_change_nak(void)
{
    struct dhcp_port_config cfg = default_config();
    const struct req renew = { .type = DHCP4_REQUEST,
                               .ciaddr = IP(10, 0, 0, 5) };
    struct reply r;

    exchange(&cfg, &renew, NULL, DHCP_SERVER_ACK, &r);

    /* The port's fixed IP changes; the same renewal is refused, sent to
     * the address the client still holds. */
    cfg.ip = IP(10, 0, 0, 50);
    if (exchange(&cfg, &renew, NULL, DHCP_SERVER_NAK_WRONG_IP, &r)) {
        check_nak(&r);
        CHECK_EQ(r.ip_dst, IP(10, 0, 0, 5));
    }

    /* The client starts over and is offered the new address. */
    if (exchange(&cfg, &(struct req) { .type = DHCP4_DISCOVER }, NULL,
                 DHCP_SERVER_OFFER, &r)) {
        CHECK_EQ(r.h->yiaddr, IP(10, 0, 0, 50));
        CHECK_OPT_BE32(&r, DHCP4_OPT_BROADCAST, IP(10, 0, 0, 255));
    }
}

static void
test_inform(void)
{
    struct dhcp_port_config cfg = default_config();
    struct reply r;

    if (exchange(&cfg, &(struct req) { .type = DHCP4_INFORM,
                                       .ciaddr = IP(10, 0, 0, 5) },
                 NULL, DHCP_SERVER_ACK_INFORM, &r)) {
        CHECK_EQ(r.type, DHCP4_ACK);
        CHECK_EQ(r.h->yiaddr, 0);
        CHECK_EQ(r.h->ciaddr, IP(10, 0, 0, 5));
        CHECK_EQ(r.ip_dst, IP(10, 0, 0, 5));
        check_config_options(&r, false);
    }
}

static void
test_release_decline_ignored(void)
{
    struct dhcp_port_config cfg = default_config();
    struct reply r;

    exchange(&cfg, &(struct req) { .type = DHCP4_RELEASE,
                                   .ciaddr = IP(10, 0, 0, 5),
                                   .server_id = IP(10, 0, 0, 2) },
             NULL, DHCP_SERVER_RELEASE, &r);
    exchange(&cfg, &(struct req) { .type = DHCP4_DECLINE,
                                   .requested_ip = IP(10, 0, 0, 5),
                                   .server_id = IP(10, 0, 0, 2) },
             NULL, DHCP_SERVER_DECLINE, &r);

    /* Server messages and unknown types from a client. */
    for (uint8_t t = DHCP4_OFFER; t <= 20; t++) {
        if (t != DHCP4_REQUEST && t != DHCP4_DECLINE && t != DHCP4_RELEASE
            && t != DHCP4_INFORM) {
            exchange(&cfg, &(struct req) { .type = t }, NULL,
                     DHCP_SERVER_NOT_CLIENT_MSG, &r);
        }
    }
}

static void
test_not_for_port(void)
{
    struct dhcp_port_config cfg = default_config();
    /* Type 53 with a length of 2; server id with a length of 3. */
    static const uint8_t bad53[] = { 53, 2, 1, 1 };
    static const uint8_t bad54[] = { 54, 3, 10, 0, 0 };
    /* An option whose length runs past the message. */
    static const uint8_t overlong[] = { 12, 200, 'x' };
    /* Second occurrences, which do not count. */
    static const uint8_t again50[] = { 50, 4, 10, 0, 0, 6 };
    static const uint8_t again53[] = { 53, 1, DHCP4_RELEASE };
    const struct {
        struct req rq;
        enum dhcp_server_outcome want;
    } cases[] = {
        { { .type = DHCP4_DISCOVER, .chaddr = {{ 0xfa, 0x16, 0x3e, 0, 0,
                                                 9 }} },
          DHCP_SERVER_OTHER_CHADDR },
        { { .type = DHCP4_DISCOVER, .op = DHCP4_BOOTREPLY },
          DHCP_SERVER_NOT_ETH_REQ },
        { { .type = DHCP4_DISCOVER, .htype = 6 }, DHCP_SERVER_NOT_ETH_REQ },
        { { .type = DHCP4_DISCOVER, .hlen = 16 }, DHCP_SERVER_NOT_ETH_REQ },
        { { .type = DHCP4_DISCOVER, .cookie = htonl(0x63825364) },
          DHCP_SERVER_BAD_HEADER },
        { { .type = 0 }, DHCP_SERVER_NO_MSG_TYPE },
        { { .raw_opts = bad53, .raw_len = sizeof bad53 },
          DHCP_SERVER_BAD_OPTIONS },
        { { .type = DHCP4_REQUEST, .raw_opts = bad54,
            .raw_len = sizeof bad54 },
          DHCP_SERVER_BAD_OPTIONS },
        /* Overlong option with no END: it runs past the padded
         * message. */
        { { .type = DHCP4_DISCOVER, .raw_opts = overlong,
            .raw_len = sizeof overlong, .no_end = true },
          DHCP_SERVER_BAD_OPTIONS },
        /* No END, but every option intact: accepted (END is optional in
         * practice). */
        { { .type = DHCP4_DISCOVER, .no_end = true }, DHCP_SERVER_OFFER },
        /* The first occurrence of an option counts. */
        { { .type = DHCP4_REQUEST, .requested_ip = IP(10, 0, 0, 5),
            .raw_opts = again50, .raw_len = sizeof again50 },
          DHCP_SERVER_ACK },
        { { .type = DHCP4_DISCOVER, .raw_opts = again53,
            .raw_len = sizeof again53 },
          DHCP_SERVER_OFFER },
    };
    struct reply r;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        exchange(&cfg, &cases[i].rq, NULL, cases[i].want, &r);
    }
}

static void
test_frame_variants(void)
{
    struct dhcp_port_config cfg = default_config();
    struct req discover = { .type = DHCP4_DISCOVER };
    uint8_t f[600], g[600], out[DHCP_FRAME_MAX];
    enum dhcp_server_outcome o;
    struct reply r;
    size_t n;

    /* IPv4 options (IHL 6): honoured. */
    n = build_request(f, &discover);
    memcpy(g, f, 34);
    g[14] = 0x46;
    put16(g + 16, htons(ntohs(get16(f + 16)) + 4));
    memcpy(g + 34, "\x01\x01\x01\x00", 4);     /* NOP NOP NOP EOL. */
    memcpy(g + 38, f + 34, n - 34);
    put16(g + 24, csum_ipv4_header(g + 14, 24));
    CHECK(handle(&cfg, g, n + 4, out, &o) > 0);
    CHECK_EQ(o, DHCP_SERVER_OFFER);

    /* Trailing Ethernet padding past the IP length: ignored. */
    n = build_request(f, &discover);
    memset(f + n, 0, 20);
    CHECK(handle(&cfg, f, n + 20, out, &o) > 0);
    CHECK_EQ(o, DHCP_SERVER_OFFER);

    /* A partial UDP checksum (offload) is not verified; neither is a
     * wrong one. */
    n = build_request_spec(f, &discover, &(struct packet_spec) {
        .csum_mode = PACKET_CSUM_PARTIAL });
    CHECK(handle(&cfg, f, n, out, &o) > 0);
    CHECK_EQ(o, DHCP_SERVER_OFFER);

    /* First fragment (MF): refused. */
    n = build_request(f, &discover);
    put16(f + 20, htons(IP_MF));
    put16(f + 24, csum_ipv4_header(f + 14, 20));
    CHECK_EQ(handle(&cfg, f, n, out, &o), 0);
    CHECK_EQ(o, DHCP_SERVER_FRAGMENT);

    /* 802.1Q tagged: refused. */
    n = build_request_spec(f, &discover, &(struct packet_spec) {
        .vlan_tci = 10 });
    CHECK_EQ(handle(&cfg, f, n, out, &o), 0);
    CHECK_EQ(o, DHCP_SERVER_BAD_FRAME);

    /* To the client port, or not UDP. */
    n = build_request_spec(f, &discover, &(struct packet_spec) {
        .dst_port = 68 });
    CHECK_EQ(handle(&cfg, f, n, out, &o), 0);
    CHECK_EQ(o, DHCP_SERVER_BAD_FRAME);
    n = build_request(f, &discover);
    f[23] = IPPROTO_TCP_;
    put16(f + 24, csum_ipv4_header(f + 14, 20));
    CHECK_EQ(handle(&cfg, f, n, out, &o), 0);
    CHECK_EQ(o, DHCP_SERVER_BAD_FRAME);

    /* A UDP length beyond the IP payload, and one below 8. */
    n = build_request(f, &discover);
    put16(f + 38, htons(ntohs(get16(f + 38)) + 1));
    CHECK_EQ(handle(&cfg, f, n, out, &o), 0);
    CHECK_EQ(o, DHCP_SERVER_BAD_UDP_LEN);
    put16(f + 38, htons(7));
    CHECK_EQ(handle(&cfg, f, n, out, &o), 0);
    CHECK_EQ(o, DHCP_SERVER_BAD_UDP_LEN);

    /* A UDP length that cuts the message short of its header. */
    put16(f + 38, htons(8 + 239));
    CHECK_EQ(handle(&cfg, f, n, out, &o), 0);
    CHECK_EQ(o, DHCP_SERVER_BAD_HEADER);

    /* A UDP length that ends the options before END (bytes after it in
     * the IP payload are ignored): still a valid DISCOVER. */
    put16(f + 38, htons(8 + 240 + 3));
    CHECK(handle(&cfg, f, n, out, &o) > 0);
    CHECK_EQ(o, DHCP_SERVER_OFFER);

    /* The request's IP source and destination do not matter (renewing
     * clients unicast), nor its Ethernet destination. */
    n = build_request_spec(f, &discover, &(struct packet_spec) {
        .eth_dst = srv_mac, .ip4_src = IP(10, 0, 0, 99),
        .ip4_dst = IP(10, 0, 0, 2) });
    n = handle(&cfg, f, n, out, &o);
    CHECK_EQ(o, DHCP_SERVER_OFFER);
    CHECK(decode_reply(out, n, &r));
}

static void
test_config_variants(void)
{
    struct dhcp_port_config cfg;
    uint8_t f[600], out[DHCP_FRAME_MAX];
    enum dhcp_server_outcome o;
    struct reply r;
    struct dhcp4_opt opt;
    size_t n, req_len;

    req_len = build_request(f, &(struct req) { .type = DHCP4_DISCOVER });

    /* No router: no option 3, and option 121 has only the host routes. */
    cfg = default_config();
    cfg.router = 0;
    n = handle(&cfg, f, req_len, out, &o);
    if (decode_reply(out, n, &r)) {
        static const uint8_t routes[] = { 16, 192, 168, 10, 0, 0, 254 };
        CHECK_NO_OPT(&r, DHCP4_OPT_ROUTER);
        CHECK_OPT(&r, DHCP4_OPT_CLASSLESS_ROUTES, routes, sizeof routes);
    }

    /* No host routes: no option 121 (option 3 alone). */
    cfg = default_config();
    cfg.n_routes = 0;
    n = handle(&cfg, f, req_len, out, &o);
    if (decode_reply(out, n, &r)) {
        CHECK_NO_OPT(&r, DHCP4_OPT_CLASSLESS_ROUTES);
        CHECK_OPT_BE32(&r, DHCP4_OPT_ROUTER, IP(10, 0, 0, 1));
    }

    /* A host route that is itself a default route: no second one. */
    cfg = default_config();
    cfg.routes[1] = (struct dhcp4_route) { 0, 0, IP(10, 0, 0, 253) };
    cfg.n_routes = 2;
    n = handle(&cfg, f, req_len, out, &o);
    if (decode_reply(out, n, &r)) {
        static const uint8_t routes[] = { 16, 192, 168, 10, 0, 0, 254,
                                          0, 10, 0, 0, 253 };
        CHECK_OPT(&r, DHCP4_OPT_CLASSLESS_ROUTES, routes, sizeof routes);
    }

    /* Nothing optional: no DNS, MTU, names; a /32 has no broadcast. */
    cfg = default_config();
    cfg.n_dns = 0;
    cfg.mtu = 0;
    cfg.hostname[0] = cfg.domain[0] = '\0';
    cfg.plen = 32;
    cfg.lease_time = 0;
    n = handle(&cfg, f, req_len, out, &o);
    if (decode_reply(out, n, &r)) {
        static const uint8_t lease_t[] = { 0, 1, 0x51, 0x80 };
        CHECK_NO_OPT(&r, DHCP4_OPT_DNS_SERVERS);
        CHECK_NO_OPT(&r, DHCP4_OPT_MTU);
        CHECK_NO_OPT(&r, DHCP4_OPT_HOSTNAME);
        CHECK_NO_OPT(&r, DHCP4_OPT_DOMAIN_NAME);
        CHECK_NO_OPT(&r, DHCP4_OPT_BROADCAST);
        CHECK_OPT_BE32(&r, DHCP4_OPT_SUBNET_MASK, htonl(0xffffffff));
        CHECK_OPT(&r, DHCP4_OPT_LEASE_TIME, lease_t, 4);   /* Default. */
    }

    /* A /20, and an odd lease time: T1 and T2 round down. */
    cfg = default_config();
    cfg.plen = 20;
    cfg.lease_time = 1001;
    n = handle(&cfg, f, req_len, out, &o);
    if (decode_reply(out, n, &r)) {
        static const uint8_t t1[] = { 0, 0, 0x01, 0xf4 };   /* 500 */
        static const uint8_t t2[] = { 0, 0, 0x03, 0x6b };   /* 875 */
        CHECK_OPT_BE32(&r, DHCP4_OPT_SUBNET_MASK, IP(255, 255, 240, 0));
        CHECK_OPT_BE32(&r, DHCP4_OPT_BROADCAST, IP(10, 0, 15, 255));
        CHECK_OPT(&r, DHCP4_OPT_RENEWAL_TIME, t1, 4);
        CHECK_OPT(&r, DHCP4_OPT_REBINDING_TIME, t2, 4);
    }

    /* The longest reply any valid config produces fits. */
    cfg = default_config();
    cfg.n_dns = DHCP_MAX_DNS;
    cfg.n_routes = DHCP_MAX_ROUTES;
    for (size_t i = 0; i < DHCP_MAX_ROUTES; i++) {
        cfg.routes[i] = (struct dhcp4_route) {
            IP(172, 16, i, 1), 32, IP(10, 0, 0, 254) };
    }
    memset(cfg.hostname, 'h', DHCP_NAME_SIZE - 1);
    cfg.hostname[DHCP_NAME_SIZE - 1] = '\0';
    memset(cfg.domain, 'd', DHCP_NAME_SIZE - 1);
    cfg.domain[DHCP_NAME_SIZE - 1] = '\0';
    n = handle(&cfg, f, req_len, out, &o);
    CHECK_EQ(o, DHCP_SERVER_OFFER);
    if (decode_reply(out, n, &r)) {
        CHECK(get_opt(&r, DHCP4_OPT_CLASSLESS_ROUTES, &opt));
        CHECK_EQ(opt.len, 17 * 9 - 4);          /* 16 x /32, one /0. */
        CHECK(get_opt(&r, DHCP4_OPT_HOSTNAME, &opt));
        CHECK_EQ(opt.len, 63);
        CHECK(n > 14 + 20 + 8 + 548);       /* Longer than the minimum. */
    }
    /* ... and an output buffer one byte short is refused cleanly. */
    {
        uint8_t small[DHCP_FRAME_MAX];
        size_t need = n;

        memset(small, 0xcc, sizeof small);
        CHECK_EQ(dhcp_server_handle(&cfg, f, req_len, small, need - 1, &o,
                                    NULL), 0);
        CHECK_EQ(o, DHCP_SERVER_NO_ROOM);
        CHECK_EQ(dhcp_server_handle(&cfg, f, req_len, small, need, &o,
                                    NULL), need);
        CHECK_EQ(o, DHCP_SERVER_OFFER);
    }

    /* Invalid configs: silence. */
    {
        struct dhcp_port_config bad[9];

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
            bad[i] = default_config();
        }
        bad[0].plen = 0;
        bad[1].plen = 33;
        bad[2].ip = 0;
        bad[3].server_ip = 0;
        bad[4].n_dns = DHCP_MAX_DNS + 1;
        bad[5].n_routes = DHCP_MAX_ROUTES + 1;
        bad[6].routes[0].plen = 33;
        memset(bad[7].hostname, 'x', sizeof bad[7].hostname);
        memset(&bad[8].mac, 0, sizeof bad[8].mac);
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
            CHECK_EQ(handle(&bad[i], f, req_len, out, &o), 0);
            CHECK_EQ(o, DHCP_SERVER_BAD_CONFIG);
        }
    }
}

/* Every proper prefix of a valid request gets no answer, and no read
 * outside it (each is an exact-size heap copy). */
static void
test_truncations(void)
{
    struct dhcp_port_config cfg = default_config();
    const struct req reqs[] = {
        { .type = DHCP4_DISCOVER },
        { .type = DHCP4_REQUEST, .requested_ip = IP(10, 0, 0, 5),
          .server_id = IP(10, 0, 0, 2) },
        { .type = DHCP4_REQUEST, .ciaddr = IP(10, 0, 0, 5) },
        { .type = DHCP4_INFORM, .ciaddr = IP(10, 0, 0, 5) },
    };
    uint8_t f[600], out[DHCP_FRAME_MAX];
    enum dhcp_server_outcome o;

    for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
        size_t n = build_request(f, &reqs[i]);
        int answered = 0;

        CHECK(handle(&cfg, f, n, out, &o) > 0);
        for (size_t len = 0; len < n; len++) {
            answered += handle(&cfg, f, len, out, &o) != 0;
            CHECK(o == DHCP_SERVER_BAD_FRAME);   /* IP length > frame. */
        }
        CHECK_EQ(answered, 0);
    }
}

/* Which port names become option 12 and which --dhcp-domain values
 * option 15. */
static void
test_name_is_valid(void)
{
    char longest[DHCP_NAME_SIZE], too_long[DHCP_NAME_SIZE + 1];

    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';

    CHECK(dhcp_name_is_valid("web-1", false));
    CHECK(dhcp_name_is_valid("Web1", false));
    CHECK(dhcp_name_is_valid(longest, false));
    CHECK(!dhcp_name_is_valid(too_long, false));
    CHECK(!dhcp_name_is_valid("", false));
    CHECK(!dhcp_name_is_valid("-web", false));
    CHECK(!dhcp_name_is_valid("web_1", false));
    CHECK(!dhcp_name_is_valid("web 1", false));
    CHECK(!dhcp_name_is_valid("web.example", false));   /* A label. */

    CHECK(dhcp_name_is_valid("openstacklocal", true));
    CHECK(dhcp_name_is_valid("tenant-1.example.org", true));
    CHECK(dhcp_name_is_valid(longest, true));
    CHECK(!dhcp_name_is_valid(too_long, true));
    CHECK(!dhcp_name_is_valid("", true));
    CHECK(!dhcp_name_is_valid("-example.org", true));
    CHECK(!dhcp_name_is_valid("example.org/x", true));
}

/* --------------------------------------------------------- the wire layer */

static void
test_routes_encode(void)
{
    /* RFC 3442 section 1, by hand: width, significant octets, router. */
    const struct {
        struct dhcp4_route r;
        uint8_t bytes[9];
        size_t len;
    } cases[] = {
        { { IP(0, 0, 0, 0), 0, IP(10, 0, 0, 1) },
          { 0, 10, 0, 0, 1 }, 5 },
        { { IP(10, 0, 0, 0), 8, IP(10, 0, 0, 1) },
          { 8, 10, 10, 0, 0, 1 }, 6 },
        { { IP(192, 168, 7, 0), 24, IP(192, 168, 1, 254) },
          { 24, 192, 168, 7, 192, 168, 1, 254 }, 8 },
        { { IP(169, 254, 169, 254), 32, IP(10, 0, 0, 2) },
          { 32, 169, 254, 169, 254, 10, 0, 0, 2 }, 9 },
        { { IP(10, 1, 2, 128), 25, IP(10, 0, 0, 1) },
          { 25, 10, 1, 2, 128, 10, 0, 0, 1 }, 9 },
        /* Host bits beyond the prefix are not encoded. */
        { { IP(10, 1, 2, 200), 25, IP(10, 0, 0, 1) },
          { 25, 10, 1, 2, 128, 10, 0, 0, 1 }, 9 },
        { { IP(10, 255, 1, 1), 9, 0 },
          { 9, 10, 128, 0, 0, 0, 0 }, 7 },
    };
    uint8_t buf[64], all[64];
    struct dhcp4_route rs[ARRAY_SIZE(cases)];
    size_t len, total = 0;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        CHECK_EQ(dhcp4_routes_encode(&cases[i].r, 1, buf, sizeof buf, &len),
                 0);
        CHECK_EQ(len, cases[i].len);
        CHECK(!memcmp(buf, cases[i].bytes, cases[i].len));
        CHECK_EQ(dhcp4_route_encoded_len(cases[i].r.plen), cases[i].len);
        memcpy(all + total, cases[i].bytes, cases[i].len);
        total += cases[i].len;
        rs[i] = cases[i].r;

        /* One byte short: ENOSPC. */
        CHECK_EQ(dhcp4_routes_encode(&cases[i].r, 1, buf, len - 1, &len),
                 ENOSPC);
    }

    /* All at once: the concatenation. */
    CHECK_EQ(dhcp4_routes_encode(rs, ARRAY_SIZE(rs), buf, sizeof buf, &len),
             0);
    CHECK_EQ(len, total);
    CHECK(!memcmp(buf, all, total));

    /* Bad prefix length. */
    rs[0].plen = 33;
    CHECK_EQ(dhcp4_routes_encode(rs, 1, buf, sizeof buf, &len), EINVAL);

    /* Nothing to encode: zero bytes. */
    CHECK_EQ(dhcp4_routes_encode(rs, 0, buf, sizeof buf, &len), 0);
    CHECK_EQ(len, 0);
}

static void
test_routes_decode(void)
{
    const struct dhcp4_route in[] = {
        { IP(0, 0, 0, 0), 0, IP(10, 0, 0, 1) },
        { IP(10, 0, 0, 0), 8, IP(10, 0, 0, 2) },
        { IP(192, 168, 7, 0), 24, IP(10, 0, 0, 3) },
        { IP(169, 254, 169, 254), 32, IP(10, 0, 0, 4) },
        { IP(10, 1, 2, 128), 25, 0 },
        { IP(10, 128, 0, 0), 9, IP(10, 0, 0, 6) },
    };
    struct dhcp4_route out[8];
    uint8_t buf[64];
    size_t len, n;

    /* Round trip. */
    CHECK_EQ(dhcp4_routes_encode(in, ARRAY_SIZE(in), buf, sizeof buf, &len),
             0);
    CHECK_EQ(dhcp4_routes_decode(buf, len, out, ARRAY_SIZE(out), &n), 0);
    CHECK_EQ(n, ARRAY_SIZE(in));
    for (size_t i = 0; i < n && i < ARRAY_SIZE(in); i++) {
        CHECK_EQ(out[i].dst, in[i].dst);
        CHECK_EQ(out[i].plen, in[i].plen);
        CHECK_EQ(out[i].nexthop, in[i].nexthop);
    }

    /* Every truncation is refused (each one cuts a route short). */
    for (size_t l = 0; l < len; l++) {
        bool boundary = false;
        size_t ofs = 0;

        for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
            ofs += dhcp4_route_encoded_len(in[i].plen);
            boundary |= ofs == l;
        }
        CHECK_EQ(dhcp4_routes_decode(buf, l, out, ARRAY_SIZE(out), &n),
                 boundary ? 0 : EINVAL);
    }

    /* Prefix length 33, and host bits in the last octet (cleared). */
    {
        static const uint8_t p33[] = { 33, 10, 0, 0, 1, 0, 10, 0, 0, 1 };
        static const uint8_t host[] = { 9, 10, 255, 10, 0, 0, 1 };

        CHECK_EQ(dhcp4_routes_decode(p33, sizeof p33, out, 8, &n), EINVAL);
        CHECK_EQ(dhcp4_routes_decode(host, sizeof host, out, 8, &n), 0);
        CHECK_EQ(n, 1);
        CHECK_EQ(out[0].dst, IP(10, 128, 0, 0));
        CHECK_EQ(out[0].plen, 9);
        CHECK_EQ(out[0].nexthop, IP(10, 0, 0, 1));
    }

    /* More routes than room: ENOSPC with the first ones stored. */
    CHECK_EQ(dhcp4_routes_decode(buf, len, out, 2, &n), ENOSPC);
    CHECK_EQ(n, 2);
    CHECK_EQ(out[1].dst, IP(10, 0, 0, 0));
}

static void
test_opt_iter(void)
{
    /* PAD, 53, PAD PAD, 50, END, junk after END. */
    static const uint8_t good[] = { 0, 53, 1, 3, 0, 0, 50, 4, 10, 0, 0, 5,
                                    255, 12, 200 };
    static const uint8_t empty_val[] = { 60, 0, 255 };
    struct dhcp4_opt_iter it;
    struct dhcp4_opt opt;

    dhcp4_opt_iter_init(&it, good, sizeof good);
    CHECK(dhcp4_opt_next(&it, &opt));
    CHECK_EQ(opt.code, 53);
    CHECK_EQ(opt.len, 1);
    CHECK_EQ(opt.data[0], 3);
    CHECK(dhcp4_opt_next(&it, &opt));
    CHECK_EQ(opt.code, 50);
    CHECK_EQ(opt.len, 4);
    CHECK_EQ(get32(opt.data), IP(10, 0, 0, 5));
    CHECK(!dhcp4_opt_next(&it, &opt));
    CHECK(it.end_seen);
    CHECK_EQ(it.error, 0);
    CHECK(!dhcp4_opt_next(&it, &opt));          /* Stays at the end. */

    /* Every truncation of the region before END: either a clean end
     * between options (no END) or EINVAL inside one. */
    for (size_t len = 0; len < 12; len++) {
        bool clean = len <= 1 || len == 4 || len == 5 || len == 6;
        int count = 0;

        dhcp4_opt_iter_init(&it, good, len);
        while (dhcp4_opt_next(&it, &opt)) {
            count++;
            CHECK(opt.data + opt.len <= good + len);
        }
        CHECK(!it.end_seen);
        CHECK_EQ(it.error, clean ? 0 : EINVAL);
        CHECK_EQ(count, len >= 4 ? 1 : 0);
    }

    /* An overlong length: EINVAL after the valid options. */
    {
        static const uint8_t over[] = { 53, 1, 1, 12, 3, 'a', 'b' };
        int count = 0;

        dhcp4_opt_iter_init(&it, over, sizeof over);
        while (dhcp4_opt_next(&it, &opt)) {
            count++;
        }
        CHECK_EQ(count, 1);
        CHECK_EQ(it.error, EINVAL);
        CHECK_EQ(dhcp4_opt_find(over, sizeof over, 53, &opt), 0);
        CHECK_EQ(dhcp4_opt_find(over, sizeof over, 54, &opt), EINVAL);
    }

    /* A zero-length value is fine; find. */
    dhcp4_opt_iter_init(&it, empty_val, sizeof empty_val);
    CHECK(dhcp4_opt_next(&it, &opt));
    CHECK_EQ(opt.code, 60);
    CHECK_EQ(opt.len, 0);
    CHECK(!dhcp4_opt_next(&it, &opt) && it.end_seen && !it.error);
    CHECK_EQ(dhcp4_opt_find(good, sizeof good, 50, &opt), 0);
    CHECK_EQ(opt.data, good + 8);
    CHECK_EQ(dhcp4_opt_find(good, sizeof good, 12, &opt), ENOENT);
    CHECK_EQ(dhcp4_opt_find(NULL, 0, 12, &opt), ENOENT);
}

static void
test_opt_writer(void)
{
    uint8_t buf[16];
    struct dhcp4_opt_writer w;
    static const uint8_t want[] = { 53, 1, 2, 26, 2, 0x05, 0xdc,
                                    51, 4, 0, 0, 0x0e, 0x10, 255 };
    struct dhcp4_route r = { 0, 0, IP(10, 0, 0, 1) };

    dhcp4_opt_writer_init(&w, buf, sizeof buf);
    CHECK_EQ(dhcp4_opt_put_u8(&w, 53, 2), 0);
    CHECK_EQ(dhcp4_opt_put_u16(&w, 26, 1500), 0);
    CHECK_EQ(dhcp4_opt_put_u32(&w, 51, 3600), 0);
    CHECK_EQ(dhcp4_opt_put_end(&w), 0);
    CHECK_EQ(w.ofs, sizeof want);
    CHECK(!memcmp(buf, want, sizeof want));

    /* Two bytes left: a 4-byte option does not fit, and the error sticks
     * even for what would fit. */
    dhcp4_opt_writer_init(&w, buf, sizeof buf);
    memset(buf, 0xee, sizeof buf);
    CHECK_EQ(dhcp4_opt_put(&w, 60, "0123456789", 10), 0);
    CHECK_EQ(dhcp4_opt_put(&w, 60, "ab", 2), 0);
    CHECK_EQ(w.ofs, 16);
    CHECK_EQ(dhcp4_opt_put_end(&w), ENOSPC);
    CHECK_EQ(w.error, ENOSPC);
    memset(buf, 0xee, sizeof buf);
    dhcp4_opt_writer_init(&w, buf, 14);
    CHECK_EQ(dhcp4_opt_put(&w, 60, "0123456789", 10), 0);
    CHECK_EQ(dhcp4_opt_put_be32(&w, 54, IP(1, 2, 3, 4)), ENOSPC);
    CHECK_EQ(dhcp4_opt_put_u8(&w, 53, 1), ENOSPC);
    CHECK_EQ(dhcp4_opt_put_end(&w), ENOSPC);
    CHECK_EQ(w.ofs, 12);
    CHECK_EQ(buf[12], 0xee);                    /* Nothing written. */

    /* Exact fits: a one-byte option needs 3 bytes, END 1. */
    dhcp4_opt_writer_init(&w, buf, 2);
    CHECK_EQ(dhcp4_opt_put_u8(&w, 53, 1), ENOSPC);
    CHECK_EQ(w.ofs, 0);
    dhcp4_opt_writer_init(&w, buf, 3);
    CHECK_EQ(dhcp4_opt_put_u8(&w, 53, 1), 0);
    CHECK_EQ(dhcp4_opt_put_end(&w), ENOSPC);
    dhcp4_opt_writer_init(&w, buf, 4);
    CHECK_EQ(dhcp4_opt_put_u8(&w, 53, 1), 0);
    CHECK_EQ(dhcp4_opt_put_end(&w), 0);
    CHECK_EQ(w.ofs, 4);

    /* Bad arguments. */
    dhcp4_opt_writer_init(&w, buf, sizeof buf);
    CHECK_EQ(dhcp4_opt_put(&w, 0, "a", 1), EINVAL);
    dhcp4_opt_writer_init(&w, buf, sizeof buf);
    CHECK_EQ(dhcp4_opt_put(&w, 255, NULL, 0), EINVAL);
    dhcp4_opt_writer_init(&w, buf, sizeof buf);
    CHECK_EQ(dhcp4_opt_put(&w, 60, buf, 256), EINVAL);
    dhcp4_opt_writer_init(&w, buf, sizeof buf);
    CHECK_EQ(dhcp4_opt_put_str(&w, 12, ""), EINVAL);
    dhcp4_opt_writer_init(&w, buf, sizeof buf);
    CHECK_EQ(dhcp4_opt_put_routes(&w, &r, 0), EINVAL);
    dhcp4_opt_writer_init(&w, buf, sizeof buf);
    CHECK_EQ(dhcp4_opt_put_routes(&w, &r, 1), 0);
    CHECK_EQ(w.ofs, 7);
    CHECK(!memcmp(buf, "\x79\x05\x00\x0a\x00\x00\x01", 7));
    {
        struct dhcp4_route many[29];          /* 29 x 9 > 255 bytes. */
        uint8_t big[512];

        for (size_t i = 0; i < ARRAY_SIZE(many); i++) {
            many[i] = (struct dhcp4_route) { IP(10, 0, i, 1), 32, 0 };
        }
        dhcp4_opt_writer_init(&w, big, sizeof big);
        CHECK_EQ(dhcp4_opt_put_routes(&w, many, 28), 0);   /* 252. */
        CHECK_EQ(w.ofs, 254);
        dhcp4_opt_writer_init(&w, big, sizeof big);
        CHECK_EQ(dhcp4_opt_put_routes(&w, many, 29), EINVAL);
    }
}

static void
test_msg_parse_and_names(void)
{
    uint8_t msg[512];
    const struct dhcp4_header *h;
    const uint8_t *opts;
    size_t opts_len, n;

    n = build_bootp(msg, &(struct req) { .type = DHCP4_DISCOVER });
    CHECK_EQ(dhcp4_msg_parse(msg, n, &h, &opts, &opts_len), 0);
    CHECK_EQ((const void *) h, (const void *) msg);
    CHECK_EQ(opts, msg + 240);
    CHECK_EQ(opts_len, n - 240);
    CHECK_EQ(dhcp4_msg_parse(msg, 240, &h, &opts, &opts_len), 0);
    CHECK_EQ(opts_len, 0);
    CHECK_EQ(dhcp4_msg_parse(msg, 239, &h, &opts, &opts_len), EINVAL);
    msg[239] ^= 1;
    CHECK_EQ(dhcp4_msg_parse(msg, n, &h, &opts, &opts_len), EINVAL);

    CHECK_STREQ(dhcp4_msg_type_name(DHCP4_DISCOVER), "discover");
    CHECK_STREQ(dhcp4_msg_type_name(DHCP4_INFORM), "inform");
    CHECK_STREQ(dhcp4_msg_type_name(0), "unknown");
    CHECK_STREQ(dhcp4_opt_name(DHCP4_OPT_CLASSLESS_ROUTES),
                "classless_routes");
    CHECK_STREQ(dhcp4_opt_name(200), "unknown");
    CHECK_STREQ(dhcp_server_outcome_why(DHCP_SERVER_RELEASE),
                "ignored: release");
    CHECK_STREQ(dhcp_server_outcome_why(N_DHCP_SERVER_OUTCOMES), "?");
    CHECK_EQ(ip4_prefix_mask(0), 0);
    CHECK_EQ(ip4_prefix_mask(1), IP(128, 0, 0, 0));
    CHECK_EQ(ip4_prefix_mask(25), IP(255, 255, 255, 128));
    CHECK_EQ(ip4_prefix_mask(32), htonl(0xffffffff));
    CHECK_EQ(ip4_prefix_mask(33), htonl(0xffffffff));
}

int
main(void)
{
    RUN(test_discover_offer);
    RUN(test_request_selecting_ack);
    RUN(test_request_other_ip_nak);
    RUN(test_request_other_server_ignored);
    RUN(test_renew_unicast_ack);
    RUN(test_renew_after_ip_change_nak);
    RUN(test_inform);
    RUN(test_release_decline_ignored);
    RUN(test_not_for_port);
    RUN(test_frame_variants);
    RUN(test_config_variants);
    RUN(test_truncations);
    RUN(test_name_is_valid);
    RUN(test_routes_encode);
    RUN(test_routes_decode);
    RUN(test_opt_iter);
    RUN(test_opt_writer);
    RUN(test_msg_parse_and_names);
    return unit_finish();
}
