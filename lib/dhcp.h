/*
 * dhcp.h -- the DHCPv4 wire format (RFC 2131, RFC 2132, RFC 3442).
 *
 * A DHCPv4 message is the fixed BOOTP header (RFC 951) followed by the
 * magic cookie 99.130.83.99 and a sequence of options:
 *
 *     op htype hlen hops | xid | secs flags | ciaddr | yiaddr | siaddr |
 *     giaddr | chaddr[16] | sname[64] | file[128] | cookie | options...
 *
 * struct dhcp4_header is exactly those 240 bytes.  Options are
 * code-length-value triples, except PAD (0, one byte) and END (255, one
 * byte, after which only padding follows).
 *
 * This module is the wire layer only: it parses and validates, iterates
 * and writes options, and encodes and decodes the classless static route
 * option (121).  It decides nothing; the agent's DHCP server
 * (agent/dhcp.h) does.  It touches nothing but caller memory, never reads
 * outside the [data, data + len) it is given, allocates nothing, and is
 * safe from any thread.
 *
 * Names carry "dhcp4" so that a DHCPv6 layer can sit beside this one.
 * Not implemented: option overloading into sname/file (option 52) and long
 * option concatenation (RFC 3396); an overload option is just an option.
 *
 * Error convention: 0 or a positive errno (EINVAL for malformed input,
 * ENOSPC when an output does not fit); predicates return bool.
 */
#ifndef WEFT_DHCP_H
#define WEFT_DHCP_H 1

#include "lib/packet.h"
#include "lib/util.h"

#define DHCP4_SERVER_PORT 67
#define DHCP4_CLIENT_PORT 68
#define DHCPV6_SERVER_PORT 547  /* RFC 8415 7.2. */
#define DHCPV6_CLIENT_PORT 546

#define DHCP4_BOOTREQUEST 1
#define DHCP4_BOOTREPLY   2
#define DHCP4_HTYPE_ETHER 1
#define DHCP4_FLAG_BROADCAST 0x8000
#define DHCP4_MAGIC_COOKIE 0x63825363   /* 99.130.83.99, host order. */

#define DHCP4_HEADER_LEN 240    /* BOOTP fixed part + magic cookie. */
#define DHCP4_BOOTP_MIN  300    /* RFC 951 message size; some clients
                                 * drop shorter replies. */
#define DHCP4_OPT_MAX_LEN 255   /* Longest option value. */

/* The fixed part of a DHCPv4 message, magic cookie included. */
struct dhcp4_header {
    uint8_t op;                 /* DHCP4_BOOTREQUEST or DHCP4_BOOTREPLY. */
    uint8_t htype;              /* 1 = Ethernet. */
    uint8_t hlen;               /* 6 for Ethernet. */
    uint8_t hops;
    be32 xid;
    be16 secs;
    be16 flags;                 /* DHCP4_FLAG_BROADCAST. */
    be32 ciaddr;                /* Client's address (renewal, inform). */
    be32 yiaddr;                /* "Your" address, set by the server. */
    be32 siaddr;                /* Next server (boot). */
    be32 giaddr;                /* Relay agent. */
    uint8_t chaddr[16];         /* Client hardware address, hlen bytes. */
    char sname[64];
    char file[128];
    be32 cookie;                /* DHCP4_MAGIC_COOKIE. */
} __attribute__((packed));
BUILD_ASSERT_DECL(sizeof(struct dhcp4_header) == DHCP4_HEADER_LEN);

/* Message types (option 53), RFC 2132 section 9.6. */
#define DHCP4_MSG_TYPES                 \
    DM(DISCOVER, 1, "discover")         \
    DM(OFFER,    2, "offer")            \
    DM(REQUEST,  3, "request")          \
    DM(DECLINE,  4, "decline")          \
    DM(ACK,      5, "ack")              \
    DM(NAK,      6, "nak")              \
    DM(RELEASE,  7, "release")          \
    DM(INFORM,   8, "inform")

enum dhcp4_msg_type {
#define DM(ENUM, VALUE, NAME) DHCP4_##ENUM = VALUE,
    DHCP4_MSG_TYPES
#undef DM
};

/* Option codes this code knows by name (RFC 2132 unless noted). */
#define DHCP4_OPTIONS                                   \
    DO(PAD,              0,   "pad")                    \
    DO(SUBNET_MASK,      1,   "subnet_mask")            \
    DO(ROUTER,           3,   "router")                 \
    DO(DNS_SERVERS,      6,   "dns_servers")            \
    DO(HOSTNAME,         12,  "hostname")               \
    DO(DOMAIN_NAME,      15,  "domain_name")            \
    DO(MTU,              26,  "mtu")                    \
    DO(BROADCAST,        28,  "broadcast")              \
    DO(REQUESTED_IP,     50,  "requested_ip")           \
    DO(LEASE_TIME,       51,  "lease_time")             \
    DO(OVERLOAD,         52,  "overload")               \
    DO(MSG_TYPE,         53,  "msg_type")               \
    DO(SERVER_ID,        54,  "server_id")              \
    DO(PARAM_REQUEST,    55,  "param_request")          \
    DO(MESSAGE,          56,  "message")                \
    DO(MAX_MSG_SIZE,     57,  "max_msg_size")           \
    DO(RENEWAL_TIME,     58,  "renewal_time")           \
    DO(REBINDING_TIME,   59,  "rebinding_time")         \
    DO(CLIENT_ID,        61,  "client_id")              \
    DO(CLASSLESS_ROUTES, 121, "classless_routes")       \
    DO(END,              255, "end")

enum dhcp4_opt_code {
#define DO(ENUM, VALUE, NAME) DHCP4_OPT_##ENUM = VALUE,
    DHCP4_OPTIONS
#undef DO
};

/* Returns the name of message type 'type' ("discover"), or "unknown". */
const char *dhcp4_msg_type_name(unsigned int type);
/* Returns the name of option 'code' ("router"), or "unknown". */
const char *dhcp4_opt_name(unsigned int code);

/* Message parsing. */

/* Checks that the 'len' bytes at 'msg' start with a complete DHCPv4 header
 * (240 bytes with the magic cookie).  Returns 0 and sets '*hdr' to 'msg'
 * viewed as a header (packed: any alignment), '*opts' and '*opts_len' to
 * the options that follow (possibly empty), or EINVAL (outputs untouched)
 * if the message is short or the cookie is wrong.  Nothing about the
 * options is checked here; iterate them to validate. */
int dhcp4_msg_parse(const void *msg, size_t len,
                    const struct dhcp4_header **hdr,
                    const uint8_t **opts, size_t *opts_len);

/* Option iteration.
 *
 *     struct dhcp4_opt_iter it;
 *     struct dhcp4_opt opt;
 *
 *     dhcp4_opt_iter_init(&it, opts, opts_len);
 *     while (dhcp4_opt_next(&it, &opt)) {
 *         ... opt.code, opt.len, opt.data ...
 *     }
 *     if (it.error) { ... malformed ... }
 *
 * PAD is skipped; iteration stops at END (it.end_seen) or at the end of
 * the region (a missing END is tolerated, as most servers do).  An option
 * whose length byte or value runs past the region stops iteration with
 * it.error = EINVAL; the options before it were valid. */
struct dhcp4_opt {
    uint8_t code;
    uint8_t len;
    const uint8_t *data;        /* 'len' bytes inside the region. */
};

struct dhcp4_opt_iter {
    const uint8_t *p;
    size_t len;
    size_t ofs;                 /* Next byte to look at. */
    int error;                  /* 0 or EINVAL. */
    bool end_seen;              /* Stopped at an END option. */
};

/* Starts iterating the 'len' bytes of options at 'opts' (NULL if 'len' is
 * 0).  The region must outlive the iterator. */
void dhcp4_opt_iter_init(struct dhcp4_opt_iter *it, const void *opts,
                         size_t len);
/* Stores the next option in '*opt' and returns true, or returns false at
 * the end (see above for it->error and it->end_seen). */
bool dhcp4_opt_next(struct dhcp4_opt_iter *it, struct dhcp4_opt *opt);

/* Finds the first option 'code' in the 'len' bytes at 'opts'.  Returns 0
 * with '*opt' filled, ENOENT if absent, or EINVAL if the options are
 * malformed before an occurrence is found. */
int dhcp4_opt_find(const void *opts, size_t len, uint8_t code,
                   struct dhcp4_opt *opt);

/* Option writing into a caller buffer, with bounds checks.
 *
 *     struct dhcp4_opt_writer w;
 *
 *     dhcp4_opt_writer_init(&w, buf, size);
 *     dhcp4_opt_put_u8(&w, DHCP4_OPT_MSG_TYPE, DHCP4_OFFER);
 *     dhcp4_opt_put_be32(&w, DHCP4_OPT_SERVER_ID, ip);
 *     dhcp4_opt_put_end(&w);
 *     if (w.error) { ... did not fit ... } else { ... w.ofs bytes ... }
 *
 * Every put returns 0 or an errno and also records the first error in
 * w.error ("sticky"): after an error nothing more is written, so a series
 * of puts can be checked once at the end. */
struct dhcp4_opt_writer {
    uint8_t *p;
    size_t size;
    size_t ofs;                 /* Bytes written so far. */
    int error;                  /* First error, 0 if none. */
};

/* Starts writing options into the 'size' bytes at 'buf'. */
void dhcp4_opt_writer_init(struct dhcp4_opt_writer *w, void *buf,
                           size_t size);
/* Appends option 'code' (neither PAD nor END) with the 'len' bytes at
 * 'data' (may be NULL if 'len' is 0).  Returns 0, EINVAL for PAD/END or
 * 'len' > 255, or ENOSPC if it does not fit. */
int dhcp4_opt_put(struct dhcp4_opt_writer *w, uint8_t code,
                  const void *data, size_t len);
/* Appends a one-byte option. */
int dhcp4_opt_put_u8(struct dhcp4_opt_writer *w, uint8_t code, uint8_t v);
/* Appends a two-byte option holding 'v' (host order) in network order. */
int dhcp4_opt_put_u16(struct dhcp4_opt_writer *w, uint8_t code, uint16_t v);
/* Appends a four-byte option holding 'v' (host order) in network order. */
int dhcp4_opt_put_u32(struct dhcp4_opt_writer *w, uint8_t code, uint32_t v);
/* Appends a four-byte option holding 'v' (already network order, e.g. an
 * IPv4 address). */
int dhcp4_opt_put_be32(struct dhcp4_opt_writer *w, uint8_t code, be32 v);
/* Appends a NUL-free string option (RFC 2132 strings carry no NUL).
 * Returns EINVAL for an empty string or one longer than 255 bytes. */
int dhcp4_opt_put_str(struct dhcp4_opt_writer *w, uint8_t code,
                      const char *s);
/* Appends END.  Returns 0 or ENOSPC. */
int dhcp4_opt_put_end(struct dhcp4_opt_writer *w);

/* Classless static routes, RFC 3442.
 *
 * Each route is encoded as the prefix length, the significant octets of
 * the destination (ceil(plen / 8) of them: 0 for /0, 1 for /1../8, ...,
 * 4 for /25../32), then the 4-byte router:
 *
 *     10.0.0.0/8 via 10.0.0.1       ->  8 10 10 0 0 1
 *     0.0.0.0/0 via 192.168.1.1     ->  0 192 168 1 1
 *     10.1.2.128/25 via 10.0.0.1    -> 25 10 1 2 128 10 0 0 1
 *
 * A router of 0.0.0.0 means the destination is on-link. */
struct dhcp4_route {
    be32 dst;                   /* Destination network. */
    uint8_t plen;               /* Prefix length, 0..32. */
    be32 nexthop;               /* Router; 0 = on-link. */
};

#define DHCP4_ROUTE_MAX_LEN 9   /* Longest encoding of one route. */

/* Returns the encoded length of a route with prefix length 'plen' (at
 * most 32). */
static inline size_t
dhcp4_route_encoded_len(uint8_t plen)
{
    return 1 + (plen + 7u) / 8 + 4;
}

/* Encodes the 'n' routes at 'routes' into the 'size' bytes at 'buf' and
 * sets '*len' to the bytes used.  Destination bits beyond a route's prefix
 * length are not encoded (10.1.2.3/8 becomes 10.0.0.0/8).  Returns 0,
 * EINVAL if a prefix length exceeds 32 (nothing meaningful written), or
 * ENOSPC if they do not fit. */
int dhcp4_routes_encode(const struct dhcp4_route *routes, size_t n,
                        void *buf, size_t size, size_t *len);

/* Decodes the value of an option 121 ('len' bytes at 'data') into at most
 * 'max' routes at 'routes' and sets '*n' to their number.  Destinations
 * come back with the bits beyond their prefix length cleared.  Returns 0,
 * EINVAL if the value is empty, a prefix length exceeds 32 or a route is
 * truncated, or ENOSPC if there are more than 'max' routes (the first
 * 'max' are stored). */
int dhcp4_routes_decode(const void *data, size_t len,
                        struct dhcp4_route *routes, size_t max, size_t *n);

/* Appends option 121 holding the 'n' routes at 'routes' (see
 * dhcp4_routes_encode()).  Returns 0, EINVAL for no routes, a bad prefix
 * length or an encoding longer than 255 bytes, or ENOSPC; sticky like
 * every put. */
int dhcp4_opt_put_routes(struct dhcp4_opt_writer *w,
                         const struct dhcp4_route *routes, size_t n);


#endif /* WEFT_DHCP_H */
