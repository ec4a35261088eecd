/*
 * test-kpath.c -- the kernel fast path's BPF program against the agent's
 * own code, run in the kernel with BPF_PROG_TEST_RUN:
 *
 *   - key extraction: on random and mutated frames of every protocol the
 *     datapath knows (IPv4 with options and fragments, IPv6 with extension
 *     headers and neighbor discovery, ARP, VLAN, truncations), every frame
 *     the program says it supports has exactly flow_key_extract()'s key;
 *   - classification: with random masks and flows in the maps, the program
 *     forwards a frame exactly when a megaflow with that mask and masked
 *     key matches it in userspace.
 *
 * Needs root (CAP_BPF) and a kernel with BPF: otherwise each test says
 * SKIP.
 */
#include "datapath/kpath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <string.h>
#include <unistd.h>

#include "datapath/megaflow.h"
#include "lib/flow-key.h"
#include "lib/random.h"
#include "tests/lib/unit.h"

#define TEST_IFINDEX 1          /* BPF_PROG_TEST_RUN: the input device. */
#define TEST_PORT 5

static uint64_t rng = 0x6b70617468;     /* "kpath" */

static struct kpath *
test_kpath(void)
{
    static struct kpath *kp;
    static bool tried;

    if (!tried) {
        struct kpath_config cfg;

        tried = true;
        memset(&cfg, 0, sizeof cfg);
        cfg.load_only = true;
        if (kpath_open(&cfg, &kp)) {
            kp = NULL;
        }
    }
    return kp;
}

static void
set_conf(struct kpath *kp, uint32_t n_masks)
{
    struct kp_conf conf;
    struct kp_port port = { .port_no = TEST_PORT };
    uint32_t zero = 0, ifindex = TEST_IFINDEX;

    memset(&conf, 0, sizeof conf);
    conf.n_masks = n_masks;
    conf.flags = KP_CONF_RECORD;
    CHECK(!bpf_map_update_elem(kpath_test_map_fd(kp, "kp_conf"), &zero,
                               &conf, BPF_ANY));
    CHECK(!bpf_map_update_elem(kpath_test_map_fd(kp, "kp_ports"), &ifindex,
                               &port, BPF_ANY));
}

/* Runs kp_port_in on 'frame'; returns its verdict, or -1. */
static int
run(struct kpath *kp, const uint8_t *frame, size_t len)
{
    uint8_t out[2048];
    struct __sk_buff ctx;
    LIBBPF_OPTS(bpf_test_run_opts, opts);

    memset(&ctx, 0, sizeof ctx);
    ctx.ingress_ifindex = TEST_IFINDEX;
    ctx.ifindex = TEST_IFINDEX;
    opts.data_in = frame;
    opts.data_size_in = (uint32_t) len;
    opts.data_out = out;
    opts.data_size_out = sizeof out;
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof ctx;
    opts.repeat = 1;
    if (bpf_prog_test_run_opts(kpath_test_prog_fd(kp), &opts)) {
        return -1;
    }
    return (int) opts.retval;
}

static bool
last_key(struct kpath *kp, struct flow_key *key)
{
    struct kp_last last;
    uint32_t zero = 0;

    if (bpf_map_lookup_elem(kpath_test_map_fd(kp, "kp_last"), &zero,
                            &last)) {
        return false;
    }
    memcpy(key, &last.key, sizeof *key);
    return last.supported;
}

static void
be_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

/* A random frame of a random protocol, mostly well-formed; returns its
 * length. */
static size_t
random_frame(uint8_t *f, size_t size)
{
    uint32_t kind = random_range(&rng, 8);
    size_t ofs = 14, l4 = 0, len;
    uint8_t proto;

    memset(f, 0, size);
    f[0] = f[6] = 0x02;             /* Few distinct MACs. */
    f[5] = (uint8_t) random_range(&rng, 3);
    f[11] = (uint8_t) random_range(&rng, 3);
    if (kind == 7) {                /* VLAN-tagged IPv4. */
        be_put16(f + 12, 0x8100);
        be_put16(f + 14, (uint16_t) random_range(&rng, 4096));
        ofs = 18;
    }
    if (kind == 6) {                /* ARP. */
        be_put16(f + 12, 0x0806);
        be_put16(f + 14, 1);
        be_put16(f + 16, 0x0800);
        f[18] = 6;
        f[19] = 4;
        be_put16(f + 20, (uint16_t) (1 + random_range(&rng, 2)));
        for (int i = 22; i < 42; i++) {
            f[i] = (uint8_t) random_next(&rng);
        }
        return 42;
    }
    proto = (uint8_t[]) { 6, 17, 1, 58, 47 }[random_range(&rng, 5)];
    if (kind <= 2 || kind == 7) {   /* IPv4. */
        size_t ihl = 20 + 4 * (random_range(&rng, 4) == 0
                               ? random_range(&rng, 3) : 0);
        size_t plen = 8 + random_range(&rng, 60);

        if (proto == 58) {
            proto = 1;
        }
        be_put16(f + ofs - 2, 0x0800);
        f[ofs] = (uint8_t) (0x40 | (ihl / 4));
        f[ofs + 1] = (uint8_t) random_range(&rng, 256);
        be_put16(f + ofs + 2, (uint16_t) (ihl + plen));
        if (random_range(&rng, 6) == 0) {
            be_put16(f + ofs + 6, (uint16_t) random_range(&rng, 0x4000));
        } else {
            be_put16(f + ofs + 6, 0x4000);
        }
        f[ofs + 8] = (uint8_t) random_range(&rng, 256);
        f[ofs + 9] = proto;
        for (int i = 12; i < 20; i++) {
            f[ofs + i] = (uint8_t) random_range(&rng, 3);
        }
        l4 = ofs + ihl;
        len = l4 + plen;
    } else {                        /* IPv6. */
        size_t plen = 8 + random_range(&rng, 60);
        uint8_t nh = proto;

        if (proto == 1) {
            nh = 58;
        }
        be_put16(f + 12, 0x86dd);
        f[ofs] = (uint8_t) (0x60 | random_range(&rng, 16));
        f[ofs + 1] = (uint8_t) random_range(&rng, 256);
        f[ofs + 7] = (uint8_t) random_range(&rng, 256);
        for (int i = 8; i < 40; i++) {
            f[ofs + i] = (uint8_t) random_range(&rng, 3);
        }
        l4 = ofs + 40;
        if (random_range(&rng, 5) == 0) {   /* A hop-by-hop header. */
            f[ofs + 6] = 0;
            f[l4] = nh;
            f[l4 + 1] = 0;
            l4 += 8;
            plen += 8;
        } else {
            f[ofs + 6] = nh;
        }
        be_put16(f + ofs + 4, (uint16_t) plen);
        len = ofs + 40 + plen;
        proto = nh;
    }
    for (size_t i = l4; i < len && i < size; i++) {
        f[i] = (uint8_t) random_next(&rng);
    }
    if (proto == 6 && l4 + 13 < size) {
        f[l4 + 12] = (uint8_t) ((5 + random_range(&rng, 3)) << 4);
    }
    if (proto == 58 && random_range(&rng, 3) == 0) {
        f[l4] = (uint8_t) (135 + random_range(&rng, 2));
        f[l4 + 1] = 0;
    }
    return len < size ? len : size;
}

/* Extraction: the program's key equals flow_key_extract()'s whenever the
 * program supports the frame; and it supports the common cases. */
static void
test_extract_random(void)
{
    struct kpath *kp = test_kpath();
    int n_supported = 0, n_unsupported = 0, n_mismatch = 0, n_refused = 0;

    if (!kp) {
        UNIT_SKIP("cannot load the BPF programs (not root, or no BPF)");
    }
    set_conf(kp, 0);
    for (int i = 0; i < 20000; i++) {
        uint8_t f[256];
        size_t len = random_frame(f, sizeof f);
        struct flow_key want, got;

        switch (random_range(&rng, 4)) {
        case 0:                     /* Truncate. */
            len = random_range(&rng, (uint32_t) len + 1);
            break;
        case 1: {                   /* Flip a few bytes. */
            int n = 1 + (int) random_range(&rng, 3);

            for (int j = 0; j < n; j++) {
                f[random_range(&rng, (uint32_t) len)] =
                    (uint8_t) random_next(&rng);
            }
            break;
        }
        default:
            break;
        }
        if (len < 14) {
            continue;               /* The kernel refuses runts. */
        }
        if (run(kp, f, len) < 0) {
            /* The kernel's test harness refuses some truncated frames
             * (EINVAL); anything else is a failure. */
            if (errno != EINVAL) {
                fprintf(stderr, "  BPF_PROG_TEST_RUN: %s\n",
                        strerror(errno));
                CHECK(!"BPF_PROG_TEST_RUN failed");
                break;
            }
            n_refused++;
            continue;
        }
        if (!last_key(kp, &got)) {
            n_unsupported++;
            continue;
        }
        n_supported++;
        flow_key_extract(f, len, TEST_PORT, &want, NULL);
        if (!flow_key_equal(&want, &got)) {
            char a[512], b[512];

            if (n_mismatch++ < 5) {
                fprintf(stderr, "  frame %d (%zu bytes):\n  agent:  %s\n"
                        "  kernel: %s\n", i, len,
                        flow_key_format(&want, NULL, a, sizeof a),
                        flow_key_format(&got, NULL, b, sizeof b));
            }
        }
    }
    printf("  %d frames supported, %d missed to the agent, %d refused by "
           "the test harness\n", n_supported, n_unsupported, n_refused);
    CHECK_EQ(n_mismatch, 0);
    CHECK(n_supported > 5000);
    CHECK(n_unsupported > 1000);
}

/* Classification: random masks and flows; the program forwards (TC
 * redirect to the OUTPUT's ifindex) exactly the frames some flow matches in
 * userspace, and the others go to the miss path (here: no miss device, so
 * dropped). */
static void
test_classify_random(void)
{
    struct kpath *kp = test_kpath();
    enum { N_MASKS = 6, N_FLOWS = 64 };
    struct flow_key masks[N_MASKS], keys[N_FLOWS];
    int flow_mask[N_FLOWS];
    uint8_t frames[N_FLOWS][256];
    size_t frame_len[N_FLOWS];
    int n_hit = 0, n_miss = 0, n_wrong = 0;
    struct kp_flow kf;

    if (!kp) {
        UNIT_SKIP("cannot load the BPF programs (not root, or no BPF)");
    }
    for (int m = 0; m < N_MASKS; m++) {
        struct kp_mask km;
        uint32_t idx = (uint32_t) m;

        memset(&masks[m], 0, sizeof masks[m]);
        FLOW_WC_MASK((struct flow_wc *) &masks[m], in_port);
        FLOW_WC_MASK((struct flow_wc *) &masks[m], eth_dst);
        FLOW_WC_MASK((struct flow_wc *) &masks[m], nw_dst);
        if (m & 1) {
            FLOW_WC_MASK((struct flow_wc *) &masks[m], nw_ttl);
        }
        if (m & 2) {
            FLOW_WC_MASK((struct flow_wc *) &masks[m], eth_src);
            FLOW_WC_MASK((struct flow_wc *) &masks[m], eth_type);
        }
        if (m >= 3) {
            FLOW_WC_MASK((struct flow_wc *) &masks[m], nw_proto);
        }
        if (m == 5) {
            FLOW_WC_MASK((struct flow_wc *) &masks[m], tp_dst);
        }
        memset(&km, 0, sizeof km);
        memcpy(&km.mask, &masks[m], sizeof km.mask);
        km.used = 1;
        CHECK(!bpf_map_update_elem(kpath_test_map_fd(kp, "kp_masks"), &idx,
                                   &km, BPF_ANY));
    }
    set_conf(kp, N_MASKS);

    /* Flows: keys of random frames under random masks. */
    memset(&kf, 0, sizeof kf);
    kf.action = KP_ACT_OUTPUT;
    kf.ifindex = TEST_IFINDEX;
    for (int i = 0; i < N_FLOWS; i++) {
        uint8_t f[256];
        size_t len = random_frame(f, sizeof f);
        struct kp_flow_key fk;
        struct flow_key k;

        memcpy(frames[i], f, sizeof f);
        frame_len[i] = len;
        flow_key_extract(f, len, TEST_PORT, &k, NULL);
        flow_mask[i] = (int) random_range(&rng, N_MASKS);
        flow_key_apply_mask(&keys[i], &k, &masks[flow_mask[i]]);
        memset(&fk, 0, sizeof fk);
        fk.mask_idx = (uint32_t) flow_mask[i];
        memcpy(&fk.key, &keys[i], sizeof fk.key);
        CHECK(!bpf_map_update_elem(kpath_test_map_fd(kp, "kp_flows"), &fk,
                                   &kf, BPF_ANY));
    }

    for (int i = 0; i < 5000; i++) {
        uint8_t f[256];
        size_t len;
        struct flow_key k, got;

        if (random_range(&rng, 2)) {
            len = random_frame(f, sizeof f);
        } else {
            /* A flow's own frame, one byte perhaps changed. */
            int j = (int) random_range(&rng, N_FLOWS);

            memcpy(f, frames[j], sizeof f);
            len = frame_len[j];
            f[random_range(&rng, (uint32_t) len)] ^=
                (uint8_t) random_range(&rng, 2);
        }
        bool want = false;
        int verdict;

        verdict = run(kp, f, len);
        if (verdict < 0 || !last_key(kp, &got)) {
            continue;               /* A miss without lookup: fine. */
        }
        flow_key_extract(f, len, TEST_PORT, &k, NULL);
        for (int j = 0; j < N_FLOWS && !want; j++) {
            struct flow_key mk;

            flow_key_apply_mask(&mk, &k, &masks[flow_mask[j]]);
            want = flow_key_equal(&mk, &keys[j]);
        }
        if (want) {
            n_hit++;
        } else {
            n_miss++;
        }
        if ((verdict == TC_ACT_REDIRECT) != want) {
            n_wrong++;
        }
    }
    printf("  %d frames matched a flow, %d did not\n", n_hit, n_miss);
    CHECK_EQ(n_wrong, 0);
    CHECK(n_hit > 100);
    CHECK(n_miss > 100);

    /* Leave the maps empty for the next test. */
    for (int i = 0; i < N_FLOWS; i++) {
        struct kp_flow_key fk;

        memset(&fk, 0, sizeof fk);
        fk.mask_idx = (uint32_t) flow_mask[i];
        memcpy(&fk.key, &keys[i], sizeof fk.key);
        bpf_map_delete_elem(kpath_test_map_fd(kp, "kp_flows"), &fk);
    }
    set_conf(kp, 0);
}

/* The miss header: what the program writes, the agent parses; anything
 * else is refused. */
static void
test_meta_parse(void)
{
    uint8_t buf[KP_META_LEN] = { 0x57, 0x46, KP_META_TUNNEL, 1,
                                 0, 0, 0x12, 0x34, 198, 18, 0, 11 };
    struct kp_meta m;

    CHECK(kpath_meta_parse(buf, sizeof buf, &m));
    CHECK_EQ(m.kind, KP_META_TUNNEL);
    CHECK_EQ(m.a, 0x1234);
    CHECK_EQ(m.b, htonl(0xc612000b));
    CHECK(!kpath_meta_parse(buf, sizeof buf - 1, &m));
    buf[2] = 7;
    CHECK(!kpath_meta_parse(buf, sizeof buf, &m));
    buf[2] = KP_META_PORT;
    buf[0] = 0;
    CHECK(!kpath_meta_parse(buf, sizeof buf, &m));
}

int
main(void)
{
    RUN(test_meta_parse);
    RUN(test_extract_random);
    RUN(test_classify_random);
    kpath_close(test_kpath());
    return unit_finish();
}
