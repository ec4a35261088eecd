/*
 * agent.c -- the agent's main-thread state and control commands, see
 * agent.h.
 */
#include "agent/agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "agent/binding.h"
#include "agent/ctl.h"
#include "agent/dhcp.h"
#include "agent/linkmon.h"
#include "agent/report.h"
#include "agent/sync.h"
#include "datapath/megaflow.h"
#include "lib/ip-proto.h"
#include "lib/log.h"
#include "lib/poll-loop.h"
#include "sim/sim.h"
#include "sim/topology.h"

/* Bound on sync items applied per agent_run(), so the datapath is served
 * between large batches. */
#define AGENT_MAX_ITEMS 16

/* Most connections one `conntrack` reply lists (about 200 bytes of JSON
 * each: the reply stays under weftctl's limit). */
#define AGENT_CT_DUMP_MAX 100000

struct agent {
    struct agent_options opts;  /* Strings point into 'strings'. */
    char *strings[5];
    enum dp_encap encap;

    struct topology *topo;
    struct dp *dp;
    struct linkmon *linkmon;
    struct binding *binding;
    struct ctl_server *ctl;
    struct sync *sync;
    struct reporter *reporter;

    long long revision;         /* Of the last applied sync item; -1. */
    bool have_snapshot;

    /* DHCP server outcomes, and packets for ports it does not serve. */
    uint64_t dhcp[N_DHCP_SERVER_OUTCOMES];
    uint64_t dhcp_no_port, dhcp_disabled;

    /* Revalidation of tracked connections after security-group changes
     * (agent_revalidate_step()): the zones the pass under way revisits,
     * the zones changed since it started (the next pass's), and where
     * the pass is in the connection table. */
    uint64_t reval_zones[SIM_ZONE_WORDS];
    uint64_t reval_next[SIM_ZONE_WORDS];
    bool reval_active, reval_queued;
    uint32_t reval_cursor;
    size_t reval_ended;                 /* By the pass under way. */
    uint64_t reval_passes, reval_conns_ended;
};

/* A revalidation pass works in steps of this many connection-table slots,
 * and for at most this long per main-loop iteration, so that packets are
 * not held up behind a large table (1M connections checked against 1,000
 * rules take seconds; see bench-revalidate). */
#define AGENT_REVAL_STEP_SLOTS 256
#define AGENT_REVAL_BUDGET_NSEC (1000 * 1000LL)

static const struct binding_ops agent_binding_ops;
static dp_upcall_fn agent_upcall;
static dp_packet_in_fn agent_packet_in;
static ctl_handler_fn agent_ctl_handler;
static void agent_apply(struct agent *, struct sync_item *);
static void agent_reconcile(struct agent *, struct tag_set *changed);
static void agent_revalidate_queue(struct agent *,
                                   const struct tag_set *changed);
static void agent_revalidate_step(struct agent *);

bool
agent_parse_encap(const char *s, enum dp_encap *encapp)
{
    if (!strcmp(s, "geneve")) {
        *encapp = DP_ENCAP_GENEVE;
    } else if (!strcmp(s, "vxlan")) {
        *encapp = DP_ENCAP_VXLAN;
    } else {
        return false;
    }
    return true;
}

const char *
agent_encap_name(enum dp_encap encap)
{
    return encap == DP_ENCAP_VXLAN ? "vxlan" : "geneve";
}

struct agent *
agent_create(const struct agent_options *opts, int *errorp)
{
    struct agent *a = xzalloc(sizeof *a);
    struct dp_config cfg;
    struct in_addr ip;
    int error;

    a->opts = *opts;
    a->opts.controller = a->strings[0] = xstrdup(opts->controller);
    a->opts.host = a->strings[1] = xstrdup(opts->host);
    a->opts.tunnel_ip = a->strings[2] = xstrdup(opts->tunnel_ip);
    a->opts.ctl_path = a->strings[3] = xstrdup(opts->ctl_path);
    a->opts.dhcp_domain = a->strings[4] = xstrdup(
        opts->dhcp_domain ? opts->dhcp_domain : AGENT_DHCP_DOMAIN_DEFAULT);
    a->encap = opts->encap_override ? opts->encap : DP_ENCAP_GENEVE;
    a->revision = -1;

    if (inet_pton(AF_INET, opts->tunnel_ip, &ip) != 1) {
        VLOG_ERR("%s: not an IPv4 address", opts->tunnel_ip);
        error = EINVAL;
        goto err;
    }

    a->topo = topology_create(opts->host);
    if (!a->topo) {
        VLOG_ERR("cannot create the topology");
        error = ENOMEM;
        goto err;
    }

    memset(&cfg, 0, sizeof cfg);
    cfg.tunnel_ip = ip.s_addr;
    cfg.encap = a->encap;
    cfg.flow_idle_msec = opts->flow_idle_ms;
    cfg.upcall = agent_upcall;
    cfg.upcall_aux = a;
    cfg.packet_in = agent_packet_in;
    cfg.packet_in_aux = a;
    cfg.icmp_rate = opts->icmp_error_rate;
    cfg.icmp_burst = opts->icmp_error_rate;
    cfg.ct_max_entries = opts->ct_max_entries;
    cfg.fastpath = opts->fastpath;
    a->dp = dp_create(&cfg, &error);
    if (!a->dp) {
        VLOG_ERR("cannot create the datapath on %s: %s", opts->tunnel_ip,
                 strerror(error));
        goto err;
    }

    a->linkmon = linkmon_create(&error);
    if (!a->linkmon) {
        VLOG_ERR("cannot open the netlink socket: %s", strerror(error));
        goto err;
    }
    a->binding = binding_create(opts->host, &agent_binding_ops, a);

    a->ctl = ctl_create(opts->ctl_path, agent_ctl_handler, a, &error);
    if (!a->ctl) {
        VLOG_ERR("%s: cannot listen: %s", opts->ctl_path,
                 error == EADDRINUSE ? "another agent is running there"
                 : strerror(error));
        goto err;
    }

    a->sync = sync_create(opts->controller);
    a->reporter = reporter_create(opts->controller, opts->host,
                                  opts->tunnel_ip, opts->report_interval_ms);
    if (!a->sync || !a->reporter) {
        VLOG_ERR("cannot start the controller threads");
        error = ENOMEM;
        goto err;
    }
    VLOG_INFO("agent for host %s started: tunnel_ip %s, controller %s, "
              "control socket %s", opts->host, opts->tunnel_ip,
              opts->controller, opts->ctl_path);
    *errorp = 0;
    return a;

err:
    agent_destroy(a);
    *errorp = error;
    return NULL;
}

void
agent_destroy(struct agent *a)
{
    if (!a) {
        return;
    }
    /* Threads first: they only touch their own state and queues. */
    sync_destroy(a->sync);
    reporter_destroy(a->reporter);
    ctl_destroy(a->ctl);
    binding_destroy(a->binding);
    linkmon_destroy(a->linkmon);
    dp_destroy(a->dp);
    topology_destroy(a->topo);
    for (size_t i = 0; i < ARRAY_SIZE(a->strings); i++) {
        free(a->strings[i]);
    }
    free(a);
}

void
agent_run(struct agent *a)
{
    struct sync_item *item;
    size_t n_items = 0;

    while (n_items < AGENT_MAX_ITEMS && (item = sync_pop(a->sync))) {
        agent_apply(a, item);
        sync_item_destroy(item);
        n_items++;
    }
    if (n_items == AGENT_MAX_ITEMS) {
        poll_immediate_wake();
    }

    if (linkmon_run(a->linkmon) && a->have_snapshot) {
        struct tag_set changed;

        tag_set_init(&changed);
        agent_reconcile(a, &changed);
        tag_set_destroy(&changed);
    }

    dp_run(a->dp);
    agent_revalidate_step(a);
    ctl_run(a->ctl);
}

void
agent_wait(struct agent *a)
{
    sync_wait(a->sync);
    linkmon_wait(a->linkmon);
    dp_wait(a->dp);
    ctl_wait(a->ctl);
    if (a->reval_active) {
        poll_immediate_wake();
    }
}

/* Applies one item from the sync thread. */
static void
agent_apply(struct agent *a, struct sync_item *item)
{
    struct tag_set changed;

    bool sg_input = item->type == SYNC_SNAPSHOT;

    tag_set_init(&changed);
    if (item->type == SYNC_SNAPSHOT) {
        enum dp_encap encap;

        topology_clear(a->topo, &changed);
        if (!a->opts.encap_override) {
            if (item->encap[0] && !agent_parse_encap(item->encap, &encap)) {
                VLOG_WARN("controller asks for unknown encapsulation "
                          "\"%s\"; keeping %s", item->encap,
                          agent_encap_name(a->encap));
            } else if (item->encap[0] && encap != a->encap) {
                VLOG_INFO("encapsulation: %s", item->encap);
                a->encap = encap;
                dp_set_encap(a->dp, encap);
            }
        }
    }
    for (size_t i = 0; i < item->n; i++) {
        const struct sync_object *obj = &item->objs[i];
        size_t before = changed.n;

        if (topology_update_json(a->topo, obj->key, obj->value, &changed)) {
            VLOG_WARN("%s: malformed object; keeping the old one",
                      obj->key);
        }
        /* What security groups decide on: rules, groups, and ports (their
         * groups and addresses make remote-group membership). */
        if (!strncmp(obj->key, "security-group", 14)
            || (!strncmp(obj->key, "ports/", 6) && changed.n != before)) {
            sg_input = true;
        }
    }
    a->revision = item->revision;
    a->have_snapshot = true;

    agent_reconcile(a, &changed);       /* A snapshot: 'changed.all'. */
    if (sg_input) {
        agent_revalidate_queue(a, &changed);
    }
    if (item->type == SYNC_SNAPSHOT) {
        VLOG_INFO("topology loaded at revision %lld: %zu networks, %zu "
                  "ports, %zu hosts, %zu bound here", item->revision,
                  topology_n_networks(a->topo), topology_n_ports(a->topo),
                  topology_n_hosts(a->topo), binding_count(a->binding));
    }
    tag_set_destroy(&changed);
}

static bool
zone_is_set(const uint64_t *zones, uint32_t zone)
{
    return zone < 65536 && zones[zone / 64] & (1ULL << (zone % 64));
}

/* The predicate of a revalidation pass: a connection in one of the pass's
 * zones that the rules would no longer let start. */
static bool
agent_reval_revoked(const struct ct_conn_info *conn, void *a_)
{
    struct agent *a = a_;

    return (zone_is_set(a->reval_zones, conn->zone)
            && !sim_sg_conn_permitted(a->topo, conn->zone, conn));
}

static void
agent_reval_start(struct agent *a)
{
    memcpy(a->reval_zones, a->reval_next, sizeof a->reval_zones);
    memset(a->reval_next, 0, sizeof a->reval_next);
    a->reval_queued = false;
    a->reval_active = true;
    a->reval_cursor = 0;
    a->reval_ended = 0;
}

/* After a change to security groups, or to the ports whose addresses make
 * up remote groups: the tracked connections that no rule allows any more
 * are to be forgotten, so that their next packets are judged anew (and,
 * with no rule for them, dropped) -- deleting a rule ends the connections
 * it allowed.  Only the zones of local ports the change concerns are
 * revisited (sim_sg_affected_zones()).  A pass under way keeps its zones;
 * newly affected ones wait for the next pass, which starts where this one
 * ends, so that a connection already passed by the cursor is checked
 * against the newest rules too. */
static void
agent_revalidate_queue(struct agent *a, const struct tag_set *changed)
{
    if (sim_sg_affected_zones(a->topo, changed, a->reval_next)) {
        a->reval_queued = true;
        if (!a->reval_active) {
            agent_reval_start(a);
        }
    }
}

/* Runs the revalidation pass under way for a bounded time. */
static void
agent_revalidate_step(struct agent *a)
{
    long long deadline;

    if (!a->reval_active) {
        return;
    }
    deadline = time_nsec() + AGENT_REVAL_BUDGET_NSEC;
    do {
        bool done;

        a->reval_ended += dp_ct_flush_if_step(a->dp, &a->reval_cursor,
                                              AGENT_REVAL_STEP_SLOTS,
                                              agent_reval_revoked, a, &done);
        if (done) {
            a->reval_active = false;
            a->reval_passes++;
            a->reval_conns_ended += a->reval_ended;
            if (a->reval_ended) {
                VLOG_INFO("security groups changed: ended %zu connection%s "
                          "no rule allows any more", a->reval_ended,
                          a->reval_ended == 1 ? "" : "s");
            }
            if (a->reval_queued) {
                agent_reval_start(a);
            }
            return;
        }
    } while (time_nsec() < deadline);
}

/* Reconciles bindings and invalidates the flows tagged in 'changed' (plus
 * whatever the reconciliation changes). */
static void
agent_reconcile(struct agent *a, struct tag_set *changed)
{
    binding_reconcile(a->binding, changed);
    if (changed->n || changed->all) {
        dp_invalidate(a->dp, changed);
    }
}

/* The datapath's upcall: simulate over the topology. */
static int
agent_upcall(void *aux, const struct flow_key *key, struct flow_wc *wc,
             struct dp_actions *acts, struct flow_tags *tags)
{
    struct agent *a = aux;
    return sim_run(a->topo, key, wc, acts, tags, NULL);
}

/* Binding operations over the real topology, linkmon, dp and reporter. */

/* The host name a VM gets by DHCP: its port's name if that is a valid
 * host name label, else "host-" and its address with dashes (Neutron's
 * convention). */
static void
agent_dhcp_hostname(const struct topo_dhcp *d, char *buf, size_t size)
{
    const uint8_t *ip = (const uint8_t *) &d->ip;

    if (dhcp_name_is_valid(d->port_name, false)) {
        str_copy(buf, d->port_name, size);
    } else {
        snprintf(buf, size, "host-%u-%u-%u-%u", ip[0], ip[1], ip[2], ip[3]);
    }
}

/* The datapath hands us a DHCP client message from a VM (USERSPACE): the
 * DHCP server answers it from the topology, back out of the same port.
 * Nothing of it leaves the host. */
static void
agent_packet_in(void *aux, enum dp_userspace why, uint32_t in_port,
                const void *frame, size_t len)
{
    struct agent *a = aux;
    struct dhcp_port_config cfg;
    enum dhcp_server_outcome outcome;
    uint8_t reply[DHCP_FRAME_MAX];
    const char *what;
    struct topo_dhcp d;
    size_t n;
    int error;

    if (why != DP_USERSPACE_DHCP) {
        return;
    }
    error = topology_dhcp_lookup(a->topo, in_port, &d);
    if (error) {
        /* The flow was installed while the port had DHCP; it changed
         * since and the flow is about to be invalidated. */
        if (error == ENODEV) {
            a->dhcp_no_port++;
        } else {
            a->dhcp_disabled++;
        }
        return;
    }

    memset(&cfg, 0, sizeof cfg);
    cfg.mac = d.mac;
    cfg.ip = d.ip;
    cfg.plen = d.plen;
    cfg.router = d.router;
    cfg.server_ip = d.server_ip;
    cfg.server_mac = d.server_mac;
    cfg.n_dns = MIN(d.n_dns, (size_t) DHCP_MAX_DNS);
    memcpy(cfg.dns, d.dns, cfg.n_dns * sizeof *cfg.dns);
    cfg.n_routes = MIN(d.n_routes, (size_t) DHCP_MAX_ROUTES);
    memcpy(cfg.routes, d.routes, cfg.n_routes * sizeof *cfg.routes);
    cfg.mtu = (uint16_t) MIN(d.mtu, (uint32_t) UINT16_MAX);
    cfg.lease_time = a->opts.dhcp_lease_time;
    agent_dhcp_hostname(&d, cfg.hostname, sizeof cfg.hostname);
    str_copy(cfg.domain, a->opts.dhcp_domain, sizeof cfg.domain);

    n = dhcp_server_handle(&cfg, frame, len, reply, sizeof reply, &outcome,
                           &what);
    if ((unsigned) outcome < N_DHCP_SERVER_OUTCOMES) {
        a->dhcp[outcome]++;
    }
    if (n) {
        char ip[INET_ADDRSTRLEN];

        error = dp_packet_out(a->dp, in_port, reply, n);
        VLOG_INFO("dhcp: port %s: %s %s%s%s", d.port_id, what,
                  inet_ntop(AF_INET, &d.ip, ip, sizeof ip),
                  error ? ", not sent: " : "", error ? strerror(error) : "");
    } else {
        VLOG_DBG("dhcp: port %s: %s", d.port_id, what);
    }
}

static void
agent_for_each_local_port(void *aux,
                          void (*cb)(const struct topo_port_info *, void *),
                          void *cb_aux)
{
    struct agent *a = aux;
    topology_for_each_local_port(a->topo, cb, cb_aux);
}

static bool
agent_get_port(void *aux, const char *port_id, struct topo_port_info *out)
{
    struct agent *a = aux;
    return topology_get_port(a->topo, port_id, out);
}

static void
agent_bind(void *aux, const char *port_id, uint32_t port_no,
           struct tag_set *changed)
{
    struct agent *a = aux;
    topology_bind(a->topo, port_id, port_no, changed);
}

static void
agent_unbind(void *aux, const char *port_id, struct tag_set *changed)
{
    struct agent *a = aux;
    topology_unbind(a->topo, port_id, changed);
}

static bool
agent_link_up(void *aux, const char *ifname, int *ifindexp)
{
    struct agent *a = aux;
    return linkmon_is_up(a->linkmon, ifname, ifindexp);
}

static int
agent_port_add(void *aux, const char *ifname, uint32_t *port_nop)
{
    struct agent *a = aux;
    return dp_port_add(a->dp, ifname, port_nop);
}

static void
agent_port_del(void *aux, uint32_t port_no)
{
    struct agent *a = aux;
    size_t n;

    dp_port_del(a->dp, port_no);
    /* The simulation tracks a port's connections in the zone named by its
     * datapath port number, which the next port added may reuse. */
    n = dp_ct_flush(a->dp, (int) port_no);
    if (n) {
        VLOG_INFO("port %"PRIu32": forgot %zu tracked connections",
                  port_no, n);
    }
}

static void
agent_port_status(void *aux, const char *port_id, const char *status)
{
    struct agent *a = aux;
    reporter_port_status(a->reporter, port_id, status);
}

static const struct binding_ops agent_binding_ops = {
    .for_each_local_port = agent_for_each_local_port,
    .get_port = agent_get_port,
    .bind = agent_bind,
    .unbind = agent_unbind,
    .link_up = agent_link_up,
    .port_add = agent_port_add,
    .port_del = agent_port_del,
    .port_status = agent_port_status,
};

/* Control commands. */

struct agent_flows_ctx {
    json_t *array;
    long long now;
};

static void
agent_flow_cb(const struct megaflow *mf, void *ctx_)
{
    struct agent_flows_ctx *ctx = ctx_;
    char match[1024], actions[1024];
    json_t *tags = json_array();

    flow_key_format(&mf->key, &mf->mask, match, sizeof match);
    dp_actions_format(&mf->actions, actions, sizeof actions);
    for (size_t i = 0; i < mf->tags.n && i < FLOW_TAGS_MAX; i++) {
        char tag[24];
        snprintf(tag, sizeof tag, "0x%016"PRIx64, mf->tags.tags[i]);
        json_array_append_new(tags, json_string(tag));
    }
    if (mf->tags.overflow) {
        json_array_append_new(tags, json_string("overflow"));
    }
    json_array_append_new(ctx->array, json_pack(
        "{s:s, s:s, s:o, s:b, s:I, s:I, s:I, s:I}",
        "match", match, "actions", actions, "tags", tags,
        "kernel", mf->kp_mask >= 0,
        "packets", (json_int_t) mf->n_packets,
        "bytes", (json_int_t) mf->n_bytes,
        "idle_ms", (json_int_t) MAX(0, ctx->now - mf->used_msec),
        "age_ms", (json_int_t) MAX(0, ctx->now - mf->created_msec)));
}

static json_t *
agent_ctl_flows(struct agent *a)
{
    struct agent_flows_ctx ctx = { json_array(), time_msec() };

    dp_for_each_flow(a->dp, agent_flow_cb, &ctx);
    return json_pack("{s:o}", "flows", ctx.array);
}

/* The kernel fast path: whether it is on, for which encapsulations, and
 * (with 'counters') what it did. */
static json_t *
agent_fastpath_json(const struct dp_stats *st, bool counters)
{
    json_t *j = json_pack("{s:s, s:b, s:b, s:I, s:I, s:I}",
                          "mode", st->kpath ? "kernel" : "off",
                          "vxlan", st->kp.tunnel[DP_ENCAP_VXLAN],
                          "geneve", st->kp.tunnel[DP_ENCAP_GENEVE],
                          "flows", (json_int_t) st->kp.n_flows,
                          "masks", (json_int_t) st->kp.n_masks,
                          "ports", (json_int_t) st->kp.n_ports);

    if (counters) {
        for (int c = 0; c < KP_N_COUNTERS; c++) {
            json_object_set_new(j, kpath_counter_name(c), json_integer(
                (json_int_t) st->kp.counters[c]));
        }
        json_object_set_new(j, "misses_received",
                            json_integer((json_int_t) st->kpath_misses));
    }
    return j;
}

static json_t *
agent_ctl_counters(struct agent *a)
{
    struct dp_port_stats *ps;
    struct dp_stats st;
    json_t *ports, *drops, *dpo, *dhcp;
    size_t n;

    n = dp_get_port_stats(a->dp, NULL, 0);
    ps = xcalloc(n ? n : 1, sizeof *ps);
    n = MIN(n, dp_get_port_stats(a->dp, ps, n));
    ports = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *port_id = binding_port_id(a->binding, ps[i].port_no);
        char name[sizeof ps[i].name + 1];

        str_copy(name, ps[i].name, sizeof name);
        json_array_append_new(ports, json_pack(
            "{s:I, s:s, s:s?, s:I, s:I, s:I, s:I, s:I}",
            "port_no", (json_int_t) ps[i].port_no,
            "name", name,
            "port_id", port_id,
            "rx_packets", (json_int_t) ps[i].rx_packets,
            "rx_bytes", (json_int_t) ps[i].rx_bytes,
            "tx_packets", (json_int_t) ps[i].tx_packets,
            "tx_bytes", (json_int_t) ps[i].tx_bytes,
            "tx_errors", (json_int_t) ps[i].tx_errors));
    }
    free(ps);

    dp_get_stats(a->dp, &st);
    drops = json_object();
    for (int r = 0; r < N_DROP_REASONS; r++) {
        if (r != DROP_NONE) {
            json_object_set_new(drops, drop_reason_name(r),
                                json_integer(st.drops[r]));
        }
    }
    {
        const struct {
            const char *name;
            uint64_t value;
        } fields[] = {
            { "emc_hits", st.emc_hits },
            { "emc_misses", st.emc_misses },
            { "megaflow_hits", st.mf_hits },
            { "upcalls", st.upcalls },
            { "tunnel_rx", st.tunnel_rx },
            { "tunnel_tx", st.tunnel_tx },
            { "tunnel_tx_datagrams", st.tunnel_tx_datagrams },
            { "gro_frames", st.gro_frames },
            { "gro_segments", st.gro_segs },
            { "megaflows", st.n_megaflows },
            { "icmp_errors_sent", st.icmp_errors_sent },
            { "icmp_errors_rate_limited", st.icmp_errors_rate_limited },
            { "icmp_errors_suppressed", st.icmp_errors_suppressed },
            { "icmp_echo_replies", st.icmp_echo_replies },
            { "ip_fragmented", st.ip_fragmented },
            { "ip_fragments", st.ip_fragments },
            { "gso_resized", st.gso_resized },
            { "packet_ins", st.packet_ins },
            { "packet_outs", st.packet_outs },
            { "ct_entries", st.ct.n_entries },
            { "ct_max_entries", st.ct.max_entries },
            { "ct_bytes", st.ct.bytes_used },
            { "ct_packets", st.ct.n_packets },
            { "ct_commits", st.ct.commits },
            { "ct_full_drops", st.ct.full_drops },
            { "ct_early_evictions", st.ct.early_evictions },
            { "ct_expired", st.ct.expired },
            { "ct_related", st.ct.related },
            { "ct_invalid", st.ct.invalid },
        };

        dpo = json_object();
        for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
            json_object_set_new(dpo, fields[i].name,
                                json_integer((json_int_t) fields[i].value));
        }
        for (int r = 0; r < CT_N_INVALID_REASONS; r++) {
            if (r != CT_INVALID_NONE) {
                char *name = xasprintf("ct_invalid_%s",
                                       ct_invalid_reason_name(r));

                json_object_set_new(dpo, name, json_integer(
                    (json_int_t) st.ct.invalid_by_reason[r]));
                free(name);
            }
        }
    }
    dhcp = json_object();
    for (int o = 0; o < N_DHCP_SERVER_OUTCOMES; o++) {
        json_object_set_new(dhcp, dhcp_server_outcome_why(o),
                            json_integer((json_int_t) a->dhcp[o]));
    }
    json_object_set_new(dhcp, "ignored: port not attached",
                        json_integer((json_int_t) a->dhcp_no_port));
    json_object_set_new(dhcp, "ignored: dhcp disabled",
                        json_integer((json_int_t) a->dhcp_disabled));
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "ports", ports,
                     "drops", drops, "datapath", dpo, "dhcp", dhcp,
                     "fastpath", agent_fastpath_json(&st, true));
}

static json_t *
agent_ctl_status(struct agent *a)
{
    struct dp_stats dps;

    json_t *st = json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:b}",
        "host", a->opts.host,
        "tunnel_ip", a->opts.tunnel_ip,
        "encap", agent_encap_name(a->encap),
        "controller", a->opts.controller,
        "connected", sync_is_connected(a->sync),
        "revision", (json_int_t) a->revision,
        "networks", (json_int_t) topology_n_networks(a->topo),
        "subnets", (json_int_t) topology_n_subnets(a->topo),
        "routers", (json_int_t) topology_n_routers(a->topo),
        "ports", (json_int_t) topology_n_ports(a->topo),
        "hosts", (json_int_t) topology_n_hosts(a->topo),
        "bound_ports", (json_int_t) binding_count(a->binding),
        "registered", reporter_is_registered(a->reporter));

    /* Security-group revalidation: is a pass under way, how many ran,
     * how many connections they ended. */
    json_object_set_new(st, "sg_revalidation", json_pack(
        "{s:b, s:I, s:I}", "active", a->reval_active,
        "passes", (json_int_t) a->reval_passes,
        "connections_ended", (json_int_t) a->reval_conns_ended));
    dp_get_stats(a->dp, &dps);
    json_object_set_new(st, "fastpath", agent_fastpath_json(&dps, false));
    return st;
}

static json_t *
agent_ctl_flush(struct agent *a)
{
    struct dp_stats st;

    dp_get_stats(a->dp, &st);
    dp_flush(a->dp);
    VLOG_INFO("flushed %zu flows on request", st.n_megaflows);
    return json_pack("{s:I}", "flushed", (json_int_t) st.n_megaflows);
}

static void
agent_router_cb(const char *id, const char *name, bool admin_up,
                size_t n_ports, void *array_)
{
    json_array_append_new(array_, json_pack("{s:s, s:s, s:b, s:I}",
                                            "id", id, "name", name,
                                            "admin_state_up", admin_up,
                                            "interfaces",
                                            (json_int_t) n_ports));
}

static json_t *
agent_ctl_routers(struct agent *a)
{
    json_t *array = json_array();

    topology_for_each_router(a->topo, agent_router_cb, array);
    return json_pack("{s:o}", "routers", array);
}

static void
agent_route_cb(const struct topo_route_info *ri, void *array_)
{
    char prefix[INET_ADDRSTRLEN + 4], nexthop[INET_ADDRSTRLEN];
    char ifaddr[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &ri->prefix, prefix, INET_ADDRSTRLEN);
    snprintf(prefix + strlen(prefix), 5, "/%u", ri->plen);
    inet_ntop(AF_INET, &ri->nexthop, nexthop, sizeof nexthop);
    inet_ntop(AF_INET, &ri->ifaddr, ifaddr, sizeof ifaddr);
    json_array_append_new(array_, json_pack(
        "{s:s, s:s, s:s?, s:s?, s:s?, s:s?}",
        "destination", prefix, "type", ri->type,
        "nexthop", ri->nexthop ? nexthop : NULL,
        "interface_ip", ri->port_id ? ifaddr : NULL,
        "port_id", ri->port_id, "network_id", ri->network_id));
}

/* "routes ROUTER_ID": the routing table as this agent computed it. */
static json_t *
agent_ctl_routes(struct agent *a, const char *router_id)
{
    json_t *array = json_array();

    while (*router_id == ' ') {
        router_id++;
    }
    if (topology_for_each_route(a->topo, router_id, agent_route_cb,
                                array)) {
        char *msg = xasprintf("no router \"%.64s\" is known to this agent",
                              router_id);
        json_t *reply = json_pack("{s:s}", "error", msg);

        free(msg);
        json_decref(array);
        return reply;
    }
    return json_pack("{s:s, s:o}", "router", router_id, "routes", array);
}

struct agent_ct_ctx {
    json_t *array;
    long long now;
    size_t n;
};

/* The protocol's name ("tcp", "icmpv6"), else its number, into 'buf'. */
static const char *
agent_proto_name(uint8_t proto, char *buf, size_t size)
{
    const char *name = ip_proto_name(proto);

    if (name) {
        return name;
    }
    snprintf(buf, size, "%u", proto);
    return buf;
}

static bool
agent_ct_cb(const struct ct_conn_info *info, void *ctx_)
{
    struct agent_ct_ctx *ctx = ctx_;
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], line[256];
    char proto[4];
    int af = info->ipv6 ? AF_INET6 : AF_INET;

    if (ctx->n >= AGENT_CT_DUMP_MAX) {
        return false;
    }
    ctx->n++;
    inet_ntop(af, &info->src, src, sizeof src);
    inet_ntop(af, &info->dst, dst, sizeof dst);
    ct_conn_format(info, ctx->now, line, sizeof line);
    json_array_append_new(ctx->array, json_pack(
        "{s:I, s:s, s:s, s:s, s:I, s:I, s:s, s:b, s:I, s:s}",
        "zone", (json_int_t) info->zone,
        "protocol", agent_proto_name(info->proto, proto, sizeof proto),
        "src", src, "dst", dst,
        "sport", (json_int_t) ntohs(info->sport),
        "dport", (json_int_t) ntohs(info->dport),
        "state", ct_conn_state_name(info->state),
        "replied", info->replied,
        "expires_ms", (json_int_t) MAX(0, info->expiration_msec - ctx->now),
        "text", line));
    return true;
}

/* "conntrack": every tracked connection (at most AGENT_CT_DUMP_MAX). */
static json_t *
agent_ctl_conntrack(struct agent *a)
{
    struct agent_ct_ctx ctx = { json_array(), time_msec(), 0 };
    struct dp_stats st;

    dp_get_stats(a->dp, &st);
    dp_ct_dump(a->dp, CT_ZONE_ALL, agent_ct_cb, &ctx);
    return json_pack("{s:o, s:I, s:b}", "connections", ctx.array,
                     "total", (json_int_t) st.ct.n_entries,
                     "truncated", ctx.n < st.ct.n_entries);
}

/* "conntrack-flush [ZONE]": forgets the connections of one zone (a
 * datapath port number) or of all. */
static json_t *
agent_ctl_conntrack_flush(struct agent *a, const char *arg)
{
    int zone = CT_ZONE_ALL;
    size_t n;

    while (*arg == ' ') {
        arg++;
    }
    if (*arg) {
        char *end;
        long v;

        errno = 0;
        v = strtol(arg, &end, 10);
        if (errno || end == arg || *end || v < 0 || v > UINT16_MAX) {
            char *msg = xasprintf("conntrack-flush: \"%.64s\" is not a "
                                  "zone (0 to 65535)", arg);
            json_t *reply = json_pack("{s:s}", "error", msg);

            free(msg);
            return reply;
        }
        zone = (int) v;
    }
    n = dp_ct_flush(a->dp, zone);
    if (zone == CT_ZONE_ALL) {
        VLOG_INFO("flushed %zu tracked connections on request", n);
    } else {
        VLOG_INFO("flushed %zu tracked connections of zone %d on request",
                  n, zone);
    }
    return json_pack("{s:I}", "flushed", (json_int_t) n);
}

static char *
agent_ctl_handler(void *aux, const char *command)
{
    struct agent *a = aux;
    char *text, *line;
    json_t *reply;

    if (!strcmp(command, "flows")) {
        reply = agent_ctl_flows(a);
    } else if (!strcmp(command, "counters")) {
        reply = agent_ctl_counters(a);
    } else if (!strcmp(command, "status")) {
        reply = agent_ctl_status(a);
    } else if (!strcmp(command, "flush")) {
        reply = agent_ctl_flush(a);
    } else if (!strcmp(command, "routers")) {
        reply = agent_ctl_routers(a);
    } else if (!strncmp(command, "routes ", 7)) {
        reply = agent_ctl_routes(a, command + 7);
    } else if (!strcmp(command, "conntrack")) {
        reply = agent_ctl_conntrack(a);
    } else if (!strcmp(command, "conntrack-flush")
               || !strncmp(command, "conntrack-flush ", 16)) {
        reply = agent_ctl_conntrack_flush(a, command + 15);
    } else {
        char *msg = xasprintf("unknown command \"%.64s\" (try flows, "
                              "counters, status, flush, routers, "
                              "routes ROUTER, conntrack, "
                              "conntrack-flush [ZONE])", command);
        reply = json_pack("{s:s}", "error", msg);
        free(msg);
    }
    text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    json_decref(reply);
    if (!text) {
        return xstrdup("{\"error\": \"internal error\"}\n");
    }
    line = xasprintf("%s\n", text);
    free(text);
    return line;
}
