/* kpath.c -- see kpath.h. */
#include "datapath/kpath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "datapath/actions.h"
#include "datapath/dp.h"
#include "datapath/megaflow.h"
#include "datapath/rtnl.h"
#include "datapath/tunnel.h"
#include "lib/flow-key.h"
#include "lib/log.h"

/* The compiled programs (kpath-obj.c). */
extern const char kpath_bpf_obj[];
extern const char kpath_bpf_obj_end[];

/* struct kp_key is struct flow_key. */
#define KP_SAME(F) \
    BUILD_ASSERT_DECL(offsetof(struct kp_key, F) \
                      == offsetof(struct flow_key, F))
BUILD_ASSERT_DECL(sizeof(struct kp_key) == sizeof(struct flow_key));
BUILD_ASSERT_DECL(KP_KEY_U64S == FLOW_KEY_U64S);
KP_SAME(in_port);
KP_SAME(tun_vni);
KP_SAME(tun_src);
KP_SAME(eth_dst);
KP_SAME(eth_src);
KP_SAME(vlan_tci);
KP_SAME(eth_type);
KP_SAME(nw_proto);
KP_SAME(nw_tos);
KP_SAME(nw_ttl);
KP_SAME(nw_frag);
KP_SAME(nw_src);
KP_SAME(nw_dst);
KP_SAME(tp_src);
KP_SAME(tp_dst);
KP_SAME(tcp_flags);
BUILD_ASSERT_DECL(offsetof(struct kp_key, arp_or_nd)
                  == offsetof(struct flow_key, nd_target));
BUILD_ASSERT_DECL(FLOW_PORT_TUNNEL == 1);
BUILD_ASSERT_DECL(sizeof(struct kp_meta) == KP_META_LEN);

#define KP_TC_HANDLE 0x5746
#define KP_TC_PRIO 1

struct kpath_mask {
    struct flow_key mask;
    unsigned int refs;          /* Offloaded flows using the slot. */
};

struct kpath_port {
    int ifindex;                /* 0: no such port. */
};

struct kpath {
    struct kpath_config cfg;
    struct bpf_object *obj;
    int prog_port, prog_tunnel, prog_miss;
    int map_conf, map_masks, map_flows, map_ports, map_tunnels;
    int map_counters;

    int tunnel_ifindex[2];      /* By enum dp_encap; 0: none. */
    struct kp_conf conf;        /* What the programs read (n_masks,
                                 * miss_ifindex, local_ip). */

    struct kpath_mask masks[KP_MAX_MASKS];
    size_t n_flows;

    struct kpath_port *ports;   /* By datapath port number. */
    size_t n_port_slots;
    size_t n_ports;
};

static const char *const tunnel_dev[2] = {
    [DP_ENCAP_GENEVE] = KPATH_GENEVE_DEV,
    [DP_ENCAP_VXLAN] = KPATH_VXLAN_DEV,
};

static int
kpath_libbpf_print(enum libbpf_print_level level, const char *fmt,
                   va_list args)
{
    char buf[512];
    size_t n;

    if (level == LIBBPF_DEBUG) {
        return 0;
    }
    vsnprintf(buf, sizeof buf, fmt, args);
    n = strlen(buf);
    if (n && buf[n - 1] == '\n') {
        buf[n - 1] = '\0';
    }
    if (level == LIBBPF_WARN) {
        VLOG_WARN("kpath: libbpf: %s", buf);
    } else {
        VLOG_INFO("kpath: libbpf: %s", buf);
    }
    return 0;
}

static int
kpath_prog_fd(struct kpath *kp, const char *name)
{
    struct bpf_program *prog = bpf_object__find_program_by_name(kp->obj,
                                                                 name);

    return prog ? bpf_program__fd(prog) : -1;
}

static int
kpath_load(struct kpath *kp)
{
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "weft_kpath");
    int error;

    libbpf_set_print(kpath_libbpf_print);
    kp->obj = bpf_object__open_mem(kpath_bpf_obj,
                                   (size_t) (kpath_bpf_obj_end
                                             - kpath_bpf_obj), &opts);
    if (!kp->obj) {
        error = errno ? errno : EINVAL;
        VLOG_WARN("kpath: cannot open the BPF object: %s", strerror(error));
        return error;
    }
    if (bpf_object__load(kp->obj)) {
        error = errno ? errno : EINVAL;
        VLOG_WARN("kpath: cannot load the BPF programs: %s",
                  strerror(error));
        return error;
    }
    kp->prog_port = kpath_prog_fd(kp, "kp_port_in");
    kp->prog_tunnel = kpath_prog_fd(kp, "kp_tunnel_in");
    kp->prog_miss = kpath_prog_fd(kp, "kp_miss_in");
    kp->map_conf = bpf_object__find_map_fd_by_name(kp->obj, "kp_conf");
    kp->map_masks = bpf_object__find_map_fd_by_name(kp->obj, "kp_masks");
    kp->map_flows = bpf_object__find_map_fd_by_name(kp->obj, "kp_flows");
    kp->map_ports = bpf_object__find_map_fd_by_name(kp->obj, "kp_ports");
    kp->map_tunnels = bpf_object__find_map_fd_by_name(kp->obj,
                                                      "kp_tunnels");
    kp->map_counters = bpf_object__find_map_fd_by_name(kp->obj,
                                                       "kp_counters");
    if (kp->prog_port < 0 || kp->prog_tunnel < 0 || kp->prog_miss < 0
        || kp->map_conf < 0 || kp->map_masks < 0 || kp->map_flows < 0
        || kp->map_ports < 0 || kp->map_tunnels < 0
        || kp->map_counters < 0) {
        VLOG_WARN("kpath: the BPF object lacks a program or map");
        return EINVAL;
    }
    return 0;
}

static int
kpath_write_conf(struct kpath *kp)
{
    uint32_t zero = 0;

    return bpf_map_update_elem(kp->map_conf, &zero, &kp->conf, BPF_ANY)
           ? errno : 0;
}

/* Attaches 'prog_fd' to the TC ingress hook of 'ifindex', replacing what
 * an earlier run left there. */
static int
kpath_tc_attach(int ifindex, int prog_fd)
{
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                .attach_point = BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = KP_TC_HANDLE,
                .priority = KP_TC_PRIO, .prog_fd = prog_fd,
                .flags = BPF_TC_F_REPLACE);
    int err = bpf_tc_hook_create(&hook);

    if (err && err != -EEXIST) {
        return -err;
    }
    err = bpf_tc_attach(&hook, &opts);
    return err < 0 ? -err : 0;
}

static void
kpath_tc_detach(int ifindex)
{
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                .attach_point = BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = KP_TC_HANDLE,
                .priority = KP_TC_PRIO);

    bpf_tc_detach(&hook, &opts);
}

/* Creates the device 'name' with 'create' (deleting a leftover first),
 * brings it up and returns its ifindex, or 0 with '*errorp' set. */
static int
kpath_device(const char *name, int (*create)(struct kpath *, const char *),
             struct kpath *kp, int *errorp)
{
    unsigned int ifindex;
    int error;

    rtnl_link_del(name);
    error = create(kp, name);
    if (!error) {
        error = rtnl_link_set_up(name);
    }
    if (!error) {
        ifindex = if_nametoindex(name);
        if (!ifindex) {
            error = errno;
        }
    }
    if (error) {
        rtnl_link_del(name);
        *errorp = error;
        return 0;
    }
    return (int) ifindex;
}

static int
kpath_create_vxlan(struct kpath *kp, const char *name)
{
    return rtnl_link_add_vxlan(name, kp->cfg.vxlan_port
                                     ? kp->cfg.vxlan_port : VXLAN_PORT,
                               kp->cfg.local_ip);
}

static int
kpath_create_geneve(struct kpath *kp, const char *name)
{
    return rtnl_link_add_geneve(name, kp->cfg.geneve_port
                                      ? kp->cfg.geneve_port : GENEVE_PORT);
}

static int
kpath_create_miss(struct kpath *kp, const char *name)
{
    int error = rtnl_link_add_veth(name, KPATH_MISS_PEER);

    return error ? error : rtnl_link_set_up(KPATH_MISS_PEER);
}

static int
kpath_devices(struct kpath *kp)
{
    static int (*const create[2])(struct kpath *, const char *) = {
        [DP_ENCAP_GENEVE] = kpath_create_geneve,
        [DP_ENCAP_VXLAN] = kpath_create_vxlan,
    };
    int error = 0;

    kp->conf.miss_ifindex = (uint32_t) kpath_device(KPATH_MISS_DEV,
                                                    kpath_create_miss, kp,
                                                    &error);
    if (!kp->conf.miss_ifindex) {
        VLOG_WARN("kpath: cannot create the miss device %s: %s",
                  KPATH_MISS_DEV, strerror(error));
        return error;
    }
    error = kpath_tc_attach((int) kp->conf.miss_ifindex, kp->prog_miss);
    if (error) {
        VLOG_WARN("kpath: cannot attach to %s: %s", KPATH_MISS_DEV,
                  strerror(error));
        return error;
    }

    for (int e = DP_ENCAP_GENEVE; e <= DP_ENCAP_VXLAN; e++) {
        struct kp_tunnel t = { .encap = (uint32_t) e };
        uint32_t ifindex;

        ifindex = (uint32_t) kpath_device(tunnel_dev[e], create[e], kp,
                                          &error);
        if (!ifindex) {
            VLOG_INFO("kpath: no kernel %s device (%s): that "
                      "encapsulation stays in the agent",
                      e == DP_ENCAP_VXLAN ? "VXLAN" : "Geneve",
                      strerror(error));
            continue;
        }
        if (bpf_map_update_elem(kp->map_tunnels, &ifindex, &t, BPF_ANY)
            || (error = kpath_tc_attach((int) ifindex, kp->prog_tunnel))) {
            error = error ? error : errno;
            VLOG_WARN("kpath: cannot attach to %s: %s", tunnel_dev[e],
                      strerror(error));
            rtnl_link_del(tunnel_dev[e]);
            continue;
        }
        kp->tunnel_ifindex[e] = (int) ifindex;
    }
    if (!kp->tunnel_ifindex[DP_ENCAP_GENEVE]
        && !kp->tunnel_ifindex[DP_ENCAP_VXLAN]) {
        return EOPNOTSUPP;
    }
    return 0;
}

static void
kpath_delete_devices(struct kpath *kp)
{
    for (int e = DP_ENCAP_GENEVE; e <= DP_ENCAP_VXLAN; e++) {
        if (kp->tunnel_ifindex[e]) {
            rtnl_link_del(tunnel_dev[e]);
            kp->tunnel_ifindex[e] = 0;
        }
    }
    if (kp->conf.miss_ifindex) {
        rtnl_link_del(KPATH_MISS_DEV);
        kp->conf.miss_ifindex = 0;
    }
}

int
kpath_open(const struct kpath_config *cfg, struct kpath **kpp)
{
    struct kpath *kp = xzalloc(sizeof *kp);
    int error;

    kp->cfg = *cfg;
    kp->conf.local_ip = cfg->local_ip;
    error = kpath_load(kp);
    if (!error && !cfg->load_only) {
        error = kpath_devices(kp);
    }
    if (!error) {
        error = kpath_write_conf(kp);
    }
    if (error) {
        kpath_close(kp);
        *kpp = NULL;
        return error;
    }
    if (!cfg->load_only) {
        VLOG_INFO("kpath: kernel fast path on (VXLAN %s, Geneve %s)",
                  kp->tunnel_ifindex[DP_ENCAP_VXLAN] ? "yes" : "no",
                  kp->tunnel_ifindex[DP_ENCAP_GENEVE] ? "yes" : "no");
    }
    *kpp = kp;
    return 0;
}

void
kpath_close(struct kpath *kp)
{
    if (!kp) {
        return;
    }
    for (size_t i = 0; i < kp->n_port_slots; i++) {
        if (kp->ports[i].ifindex) {
            kpath_port_del(kp, (uint32_t) i);
        }
    }
    kpath_delete_devices(kp);
    bpf_object__close(kp->obj);
    free(kp->ports);
    free(kp);
}

bool
kpath_has_tunnel(const struct kpath *kp, int encap)
{
    return kp && (encap == DP_ENCAP_GENEVE || encap == DP_ENCAP_VXLAN)
           && kp->tunnel_ifindex[encap] != 0;
}

int
kpath_port_add(struct kpath *kp, uint32_t port_no, const char *ifname)
{
    struct kp_port kport = { .port_no = port_no };
    uint32_t ifindex = if_nametoindex(ifname);
    int error;

    if (!ifindex) {
        return errno;
    }
    if (port_no >= kp->n_port_slots) {
        size_t n = MAX(port_no + 1, kp->n_port_slots * 2);

        kp->ports = xrealloc(kp->ports, n * sizeof *kp->ports);
        memset(&kp->ports[kp->n_port_slots], 0,
               (n - kp->n_port_slots) * sizeof *kp->ports);
        kp->n_port_slots = n;
    }
    /* The map first: the program passes a port it does not know to the
     * host's stack. */
    if (bpf_map_update_elem(kp->map_ports, &ifindex, &kport, BPF_ANY)) {
        return errno;
    }
    error = kpath_tc_attach((int) ifindex, kp->prog_port);
    if (error) {
        bpf_map_delete_elem(kp->map_ports, &ifindex);
        return error;
    }
    kp->ports[port_no].ifindex = (int) ifindex;
    kp->n_ports++;
    return 0;
}

void
kpath_port_del(struct kpath *kp, uint32_t port_no)
{
    uint32_t ifindex;

    if (!kp || port_no >= kp->n_port_slots
        || !kp->ports[port_no].ifindex) {
        return;
    }
    ifindex = (uint32_t) kp->ports[port_no].ifindex;
    kpath_tc_detach((int) ifindex);
    bpf_map_delete_elem(kp->map_ports, &ifindex);
    kp->ports[port_no].ifindex = 0;
    kp->n_ports--;
}

/* The mask slot for 'mask', with a new reference, or -1 if all are
 * taken. */
static int
kpath_mask_get(struct kpath *kp, const struct flow_key *mask)
{
    struct kp_mask km;
    int free_slot = -1;
    uint32_t idx;

    for (int i = 0; i < KP_MAX_MASKS; i++) {
        if (kp->masks[i].refs) {
            if (!memcmp(&kp->masks[i].mask, mask, sizeof *mask)) {
                kp->masks[i].refs++;
                return i;
            }
        } else if (free_slot < 0) {
            free_slot = i;
        }
    }
    if (free_slot < 0) {
        return -1;
    }
    memset(&km, 0, sizeof km);
    memcpy(&km.mask, mask, sizeof km.mask);
    km.used = 1;
    idx = (uint32_t) free_slot;
    if (bpf_map_update_elem(kp->map_masks, &idx, &km, BPF_ANY)) {
        return -1;
    }
    kp->masks[free_slot].mask = *mask;
    kp->masks[free_slot].refs = 1;
    if (idx + 1 > kp->conf.n_masks) {
        kp->conf.n_masks = idx + 1;
        kpath_write_conf(kp);
    }
    return free_slot;
}

static void
kpath_mask_put(struct kpath *kp, int slot)
{
    struct kp_mask km;
    uint32_t idx = (uint32_t) slot;

    if (--kp->masks[slot].refs) {
        return;
    }
    memset(&km, 0, sizeof km);
    bpf_map_update_elem(kp->map_masks, &idx, &km, BPF_ANY);
    while (kp->conf.n_masks && !kp->masks[kp->conf.n_masks - 1].refs) {
        kp->conf.n_masks--;
    }
    kpath_write_conf(kp);
}

static void
kpath_flow_key(const struct megaflow *flow, int slot, struct kp_flow_key *fk)
{
    memset(fk, 0, sizeof *fk);
    fk->mask_idx = (uint32_t) slot;
    memcpy(&fk->key, &flow->key, sizeof fk->key);
}

bool
kpath_flow_add(struct kpath *kp, struct megaflow *flow, int encap)
{
    const struct dp_action *a;
    struct kp_flow_key fk;
    struct kp_flow kf;
    int slot;

    if (!kp || flow->dead || flow->kp_mask >= 0 || flow->actions.n != 1) {
        return false;
    }
    a = &flow->actions.a[0];
    memset(&kf, 0, sizeof kf);
    if (encap != DP_ENCAP_GENEVE && encap != DP_ENCAP_VXLAN) {
        return false;
    }
    if (a->type == DP_ACT_OUTPUT) {
        if (a->arg >= kp->n_port_slots || !kp->ports[a->arg].ifindex) {
            return false;
        }
        kf.action = KP_ACT_OUTPUT;
        kf.ifindex = (uint32_t) kp->ports[a->arg].ifindex;
    } else if (a->type == DP_ACT_TUNNEL) {
        if (!kp->tunnel_ifindex[encap]) {
            return false;
        }
        kf.action = KP_ACT_TUNNEL;
        kf.ifindex = (uint32_t) kp->tunnel_ifindex[encap];
        kf.vni = a->arg;
        kf.remote = a->ip;
    } else {
        return false;
    }

    slot = kpath_mask_get(kp, &flow->mask);
    if (slot < 0) {
        return false;
    }
    kpath_flow_key(flow, slot, &fk);
    if (bpf_map_update_elem(kp->map_flows, &fk, &kf, BPF_ANY)) {
        kpath_mask_put(kp, slot);
        return false;
    }
    flow->kp_mask = slot;
    flow->kp_packets = flow->kp_bytes = 0;
    kp->n_flows++;
    return true;
}

void
kpath_flow_del(struct kpath *kp, struct megaflow *flow)
{
    struct kp_flow_key fk;

    if (!kp || flow->kp_mask < 0) {
        return;
    }
    kpath_flow_key(flow, flow->kp_mask, &fk);
    bpf_map_delete_elem(kp->map_flows, &fk);
    kpath_mask_put(kp, flow->kp_mask);
    flow->kp_mask = -1;
    kp->n_flows--;
}

void
kpath_flow_sync(struct kpath *kp, struct megaflow *flow)
{
    struct kp_flow_key fk;
    struct kp_flow kf;

    if (!kp || flow->kp_mask < 0) {
        return;
    }
    kpath_flow_key(flow, flow->kp_mask, &fk);
    if (bpf_map_lookup_elem(kp->map_flows, &fk, &kf)) {
        return;
    }
    if (kf.packets > flow->kp_packets) {
        long long used = (long long) (kf.used_ns / 1000000);

        flow->n_packets += kf.packets - flow->kp_packets;
        flow->n_bytes += kf.bytes - flow->kp_bytes;
        flow->kp_packets = kf.packets;
        flow->kp_bytes = kf.bytes;
        if (used > flow->used_msec) {
            flow->used_msec = used;
        }
    }
}

void
kpath_get_stats(const struct kpath *kp, struct kpath_stats *s)
{
    int n_cpus = libbpf_num_possible_cpus();

    memset(s, 0, sizeof *s);
    if (!kp) {
        return;
    }
    s->n_flows = kp->n_flows;
    s->n_ports = kp->n_ports;
    for (int i = 0; i < KP_MAX_MASKS; i++) {
        s->n_masks += kp->masks[i].refs != 0;
    }
    s->tunnel[DP_ENCAP_GENEVE] = kp->tunnel_ifindex[DP_ENCAP_GENEVE] != 0;
    s->tunnel[DP_ENCAP_VXLAN] = kp->tunnel_ifindex[DP_ENCAP_VXLAN] != 0;
    if (n_cpus <= 0) {
        return;
    }
    {
        uint64_t *v = xcalloc((size_t) n_cpus, sizeof *v);

        for (uint32_t c = 0; c < KP_N_COUNTERS; c++) {
            if (!bpf_map_lookup_elem(kp->map_counters, &c, v)) {
                for (int cpu = 0; cpu < n_cpus; cpu++) {
                    s->counters[c] += v[cpu];
                }
            }
        }
        free(v);
    }
}

const char *
kpath_counter_name(enum kp_counter c)
{
    static const char *const names[] = {
#define KC(ENUM, NAME) NAME,
        KP_COUNTERS
#undef KC
    };

    return (unsigned) c < KP_N_COUNTERS ? names[c] : "?";
}

bool
kpath_meta_parse(const uint8_t *frame, size_t len, struct kp_meta *meta)
{
    struct kp_meta m;

    if (len < KP_META_LEN) {
        return false;
    }
    memcpy(&m, frame, sizeof m);
    if (ntohs(m.magic) != KP_META_MAGIC
        || (m.kind != KP_META_PORT && m.kind != KP_META_TUNNEL)) {
        return false;
    }
    meta->magic = KP_META_MAGIC;
    meta->kind = m.kind;
    meta->encap = m.encap;
    meta->a = ntohl(m.a);
    meta->b = m.b;
    return true;
}

int
kpath_test_prog_fd(const struct kpath *kp)
{
    return kp->prog_port;
}

int
kpath_test_map_fd(const struct kpath *kp, const char *name)
{
    return bpf_object__find_map_fd_by_name(kp->obj, name);
}
