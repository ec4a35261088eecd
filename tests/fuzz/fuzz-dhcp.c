/* FUZZ_SOURCES: lib/dhcp.c agent/dhcp.c lib/flow-key.c lib/packet.c
 * lib/packet-edit.c lib/csum.c lib/util.c */
/*
 * fuzz-dhcp.c -- libFuzzer target for DHCPv4: the agent's server
 * (dhcp_server_handle()) and the wire layer under it (message parsing,
 * option iteration, classless static route decoding).
 *
 * Each input is used four ways, always through exact-size heap copies so
 * that ASan catches any read past the end:
 *
 *   1. as a whole Ethernet frame from the VM;
 *   2. as the BOOTP payload of a valid Ethernet/IPv4/UDP frame to port 67,
 *      with chaddr forced to the port's MAC when the input is long enough
 *      (so that the fuzzer spends its time in the options, not in finding
 *      headers);
 *   3. as an option region for the iterator and dhcp4_opt_find();
 *   4. as the value of an option 121 for dhcp4_routes_decode(), whose
 *      result must survive an encode/decode round trip.
 *
 * Every reply must fit the output buffer, carry correct checksums, and
 * parse back as a BOOTREPLY to the same xid and chaddr with well-formed
 * options (END included) and a message type of OFFER, ACK or NAK.
 *
 * Build (from the repository root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *     -D_GNU_SOURCE -I. -Iinclude tests/fuzz/fuzz-dhcp.c \
 *     <the FUZZ_SOURCES above> -o /tmp/fuzz-dhcp
 *   /tmp/fuzz-dhcp -max_total_time=30
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dhcp.h"
#include "lib/dhcp.h"
#include "lib/flow-key.h"
#include "lib/packet-edit.h"
#include "tests/fuzz/fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHADDR_OFS 28           /* Offset of chaddr in the BOOTP header. */
#define FUZZ_MAX_ROUTES 64

static struct dhcp_port_config
fuzz_config(void)
{
    struct dhcp_port_config c;

    memset(&c, 0, sizeof c);
    c.mac = (struct eth_addr) {{ 0xfa, 0x16, 0x3e, 0, 0, 5 }};
    c.ip = htonl(0x0a000005);
    c.plen = 24;
    c.router = htonl(0x0a000001);
    c.server_ip = htonl(0x0a000002);
    c.server_mac = (struct eth_addr) {{ 0xfa, 0x16, 0x3e, 0, 0, 2 }};
    c.dns[0] = htonl(0x08080808);
    c.n_dns = 1;
    c.routes[0] = (struct dhcp4_route) { htonl(0xc0a80000), 16,
                                         htonl(0x0a0000fe) };
    c.n_routes = 1;
    c.mtu = 1450;
    c.lease_time = 3600;
    strcpy(c.hostname, "host-10-0-0-5");
    strcpy(c.domain, "openstacklocal");
    return c;
}

/* Checks that the 'len'-byte reply 'f' to the request whose BOOTP header
 * is 'req' is a well-formed reply from 'cfg'. */
static void
check_reply(const struct dhcp_port_config *cfg,
            const struct dhcp4_header *req, const uint8_t *f, size_t len)
{
    struct flow_key key;
    struct packet_layout lo;
    const struct dhcp4_header *h;
    const uint8_t *opts;
    size_t opts_len;
    struct dhcp4_opt_iter it;
    struct dhcp4_opt opt;
    int type = -1;

    fuzz_check(packet_verify_csums(f, len) == 0);
    flow_key_extract(f, len, 0, &key, &lo);
    fuzz_check(key.eth_type == htons(ETH_TYPE_IP) && lo.l4_ofs == 34);
    fuzz_check(key.nw_proto == IPPROTO_UDP_ && !key.nw_frag);
    fuzz_check(key.tp_src == htons(DHCP4_SERVER_PORT)
          && key.tp_dst == htons(DHCP4_CLIENT_PORT));
    fuzz_check(key.nw_src.ip4 == cfg->server_ip);
    fuzz_check(!memcmp(&key.eth_src, &cfg->server_mac, ETH_ADDR_LEN));
    fuzz_check(!memcmp(&key.eth_dst, &cfg->mac, ETH_ADDR_LEN));
    fuzz_check(lo.l4_len == len - 34);
    fuzz_check(ntohs(get16(f + 38)) == len - 34);

    fuzz_check(!dhcp4_msg_parse(f + 42, len - 42, &h, &opts, &opts_len));
    fuzz_check(len - 42 >= DHCP4_BOOTP_MIN);
    fuzz_check(h->op == DHCP4_BOOTREPLY && h->xid == req->xid);
    fuzz_check(!memcmp(h->chaddr, req->chaddr, sizeof h->chaddr));
    dhcp4_opt_iter_init(&it, opts, opts_len);
    while (dhcp4_opt_next(&it, &opt)) {
        if (opt.code == DHCP4_OPT_MSG_TYPE && opt.len == 1) {
            type = opt.data[0];
        }
    }
    fuzz_check(!it.error && it.end_seen);
    fuzz_check(type == DHCP4_OFFER || type == DHCP4_ACK || type == DHCP4_NAK);
    fuzz_check(type == DHCP4_NAK ? !h->yiaddr
          : h->yiaddr == cfg->ip || (!h->yiaddr && type == DHCP4_ACK));
}

/* Runs the server on the 'len' bytes at 'frame' (copied). */
static void
serve(const struct dhcp_port_config *cfg, const uint8_t *frame, size_t len)
{
    uint8_t *req = fuzz_copy(frame, len);
    size_t size = DHCP_FRAME_MAX;
    uint8_t *out = malloc(size);
    enum dhcp_server_outcome o;
    const char *why = NULL;
    size_t n;

    fuzz_check(out != NULL);
    n = dhcp_server_handle(cfg, req, len, out, size, &o, &why);
    fuzz_check(n <= size);
    fuzz_check(why != NULL && (unsigned) o < N_DHCP_SERVER_OUTCOMES);
    fuzz_check(!strcmp(why, dhcp_server_outcome_why(o)));
    fuzz_check((n != 0) == (o <= DHCP_SERVER_NAK_NO_IP));
    if (n) {
        struct flow_key key;
        struct packet_layout lo;

        /* The request parsed this far, or there would be no reply. */
        flow_key_extract(req, len, 0, &key, &lo);
        fuzz_check(lo.l4_ofs != UINT16_MAX);
        check_reply(cfg, (const struct dhcp4_header *) (req + lo.l4_ofs
                                                        + 8),
                    out, n);
    }
    free(out);
    free(req);
}

static void
fuzz_options(const uint8_t *data, size_t size)
{
    uint8_t *opts = fuzz_copy(data, size);
    struct dhcp4_opt_iter it;
    struct dhcp4_opt opt, first;
    size_t count = 0;
    int error;

    dhcp4_opt_iter_init(&it, opts, size);
    while (dhcp4_opt_next(&it, &opt)) {
        fuzz_check(opt.data >= opts + 2 && opt.data + opt.len <= opts + size);
        fuzz_check(opt.code != DHCP4_OPT_PAD && opt.code != DHCP4_OPT_END);
        count++;
    }
    fuzz_check(count <= size / 2);
    fuzz_check(it.ofs <= size);
    error = dhcp4_opt_find(opts, size, size ? data[0] : 1, &first);
    fuzz_check(!error || error == ENOENT || error == EINVAL);
    free(opts);
}

static void
fuzz_routes(const uint8_t *data, size_t size)
{
    uint8_t *val = fuzz_copy(data, size);
    struct dhcp4_route r[FUZZ_MAX_ROUTES], r2[FUZZ_MAX_ROUTES];
    uint8_t *enc = malloc(size ? size : 1);
    size_t n = 0, n2 = 0, len = 0;
    int error;

    fuzz_check(enc != NULL);
    error = dhcp4_routes_decode(val, size, r, FUZZ_MAX_ROUTES, &n);
    fuzz_check(!error || error == EINVAL || error == ENOSPC);
    if (!error) {
        /* The canonical encoding is exactly as long as the input. */
        fuzz_check(!dhcp4_routes_encode(r, n, enc, size, &len) && len == size);
        fuzz_check(!dhcp4_routes_decode(enc, len, r2, FUZZ_MAX_ROUTES, &n2));
        fuzz_check(n2 == n);
        for (size_t i = 0; i < n; i++) {
            fuzz_check(r[i].dst == r2[i].dst && r[i].plen == r2[i].plen
                  && r[i].nexthop == r2[i].nexthop);
            fuzz_check(!(r[i].dst & ~ip4_prefix_mask(r[i].plen)));
        }
    }
    free(enc);
    free(val);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct dhcp_port_config cfg;
    static bool inited;

    if (!inited) {
        cfg = fuzz_config();
        inited = true;
    }

    /* 1. Raw frame. */
    serve(&cfg, data, size);

    /* 2. BOOTP payload of a valid frame. */
    if (size <= 1500) {
        uint8_t *payload = fuzz_copy(data, size);
        uint8_t frame[1600];
        size_t n;

        if (size >= CHADDR_OFS + ETH_ADDR_LEN) {
            memcpy(payload + CHADDR_OFS, &cfg.mac, ETH_ADDR_LEN);
        }
        n = packet_build_udp4(frame, sizeof frame, &(struct packet_spec) {
            .eth_src = cfg.mac, .eth_dst = {{ 0xff, 0xff, 0xff, 0xff, 0xff,
                                              0xff }},
            .ip4_dst = htonl(0xffffffff), .src_port = DHCP4_CLIENT_PORT,
            .dst_port = DHCP4_SERVER_PORT, .payload = payload,
            .payload_len = size,
            .csum_mode = size & 1 ? PACKET_CSUM_PARTIAL : PACKET_CSUM_FULL,
        });
        fuzz_check(n == 42 + size);
        serve(&cfg, frame, n);
        free(payload);
    }

    /* 3 and 4. */
    fuzz_options(data, size);
    fuzz_routes(data, size);
    return 0;
}
