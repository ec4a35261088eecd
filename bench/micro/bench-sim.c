/*
 * bench-sim.c -- micro-benchmark of flow setup: simulation + megaflow
 * install, the work an upcall does for the first packet of a flow.
 *
 * Topology: 10,000 ports on 64 networks spread over 16 hosts, built through
 * topology_update() from Neutron JSON (its build time is reported too, so a
 * regression to O(n^2) indexing shows).  The local host has ~625 attached
 * ports.  Keys: from a random local port, 50% unicast to a random port of
 * its network (local or remote), 30% ARP requests for a random IP of its
 * network, 20% broadcast, with random L3/L4 fields.
 *
 * Measured on one core for about one second each:
 *   sim_only    sim_run() alone;
 *   flow_setup  sim_run() + mf_insert() (the required figure).
 *
 * Output: "bench-sim: <name> <N> <unit>" lines.
 */
#include <arpa/inet.h>
#include <string.h>

#include "datapath/megaflow.h"
#include "lib/random.h"
#include "sim/sim.h"
#include "sim/topology.h"

#define N_PORTS 10000
#define N_NETS 64
#define N_HOSTS 16
#define N_KEYS 65536
#define RUN_NSEC (1000 * 1000 * 1000LL)

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint32_t
rnd(void)
{
    return (uint32_t) random_next(&rng_state);
}

struct bench_port {
    int net;
    int host;
    uint32_t port_no;
    struct eth_addr mac;
    be32 ip;
};

static struct bench_port ports[N_PORTS];

static void
port_id(int i, char buf[64])
{
    snprintf(buf, 64, "%08x-2222-4222-8222-%012d", 0xd0000000u + i, i);
}

static void
net_id(int i, char buf[64])
{
    snprintf(buf, 64, "%08x-3333-4333-8333-%012d", 0xe0000000u + i, i);
}

static void
must_update(struct topology *topo, const char *key, char *json,
            struct tag_set *changed)
{
    if (topology_update(topo, key, json, changed)) {
        fprintf(stderr, "bench-sim: update %s failed\n", key);
        exit(EXIT_FAILURE);
    }
    free(json);
}

static struct topology *
build(void)
{
    struct topology *topo = topology_create("hv0");
    struct tag_set changed;
    uint32_t next_port_no = FLOW_PORT_FIRST_VIF;
    char key[128], id[64], nid[64];

    tag_set_init(&changed);
    for (int h = 0; h < N_HOSTS; h++) {
        snprintf(key, sizeof key, "agents/agent-%d", h);
        must_update(topo, key,
                    xasprintf("{\"host\": \"hv%d\", \"configurations\": "
                              "{\"tunnel_ip\": \"198.18.1.%d\"}}", h, h + 1),
                    &changed);
    }
    for (int n = 0; n < N_NETS; n++) {
        net_id(n, nid);
        snprintf(key, sizeof key, "networks/%s", nid);
        must_update(topo, key,
                    xasprintf("{\"name\": \"net%d\", \"admin_state_up\": "
                              "true, \"provider:segmentation_id\": %d}",
                              n, 1000 + n), &changed);
    }
    for (int i = 0; i < N_PORTS; i++) {
        struct bench_port *p = &ports[i];
        char mac[18], ip[INET_ADDRSTRLEN];

        p->net = i % N_NETS;
        p->host = (int) (rnd() % N_HOSTS);
        p->mac = (struct eth_addr) { { 0xfa, 0x16, 0x3e, (uint8_t) (i >> 16),
                                       (uint8_t) (i >> 8), (uint8_t) i } };
        p->ip = htonl(0x0a000000 + 2 + (uint32_t) (i / N_NETS));
        eth_addr_to_string(&p->mac, mac);
        inet_ntop(AF_INET, &p->ip, ip, sizeof ip);
        port_id(i, id);
        net_id(p->net, nid);
        snprintf(key, sizeof key, "ports/%s", id);
        must_update(topo, key,
                    xasprintf("{\"network_id\": \"%s\", \"mac_address\": "
                              "\"%s\", \"fixed_ips\": [{\"ip_address\": "
                              "\"%s\"}], \"admin_state_up\": true, "
                              "\"binding:host_id\": \"hv%d\"}",
                              nid, mac, ip, p->host), &changed);
        if (p->host == 0) {
            p->port_no = next_port_no++;
            topology_bind(topo, id, p->port_no, &changed);
        }
    }
    tag_set_destroy(&changed);
    return topo;
}

static void
make_keys(struct flow_key *keys)
{
    int local[N_PORTS];
    int n_local = 0;

    for (int i = 0; i < N_PORTS; i++) {
        if (ports[i].port_no) {
            local[n_local++] = i;
        }
    }
    for (int k = 0; k < N_KEYS; k++) {
        const struct bench_port *src = &ports[local[rnd() % n_local]];
        /* A random port of the same network. */
        const struct bench_port *dst
            = &ports[(rnd() % (N_PORTS / N_NETS)) * N_NETS + src->net];
        struct flow_key *key = &keys[k];
        uint32_t kind = rnd() % 10;

        memset(key, 0, sizeof *key);
        key->in_port = src->port_no;
        key->eth_src = src->mac;
        key->nw_src.ip4 = src->ip;
        if (kind < 3) {
            memset(key->eth_dst.ea, 0xff, ETH_ADDR_LEN);
            key->eth_type = htons(ETH_TYPE_ARP);
            key->nw_proto = ARP_OP_REQUEST;
            key->nw_dst.ip4 = dst->ip;
            key->arp_sha = src->mac;
        } else {
            key->eth_dst = dst->mac;
            if (kind >= 8) {
                memset(key->eth_dst.ea, 0xff, ETH_ADDR_LEN);
            }
            key->eth_type = htons(ETH_TYPE_IP);
            key->nw_proto = IPPROTO_TCP_;
            key->nw_ttl = 64;
            key->nw_dst.ip4 = dst->ip;
            key->tp_src = htons((uint16_t) (1024 + rnd() % 60000));
            key->tp_dst = htons((uint16_t) (rnd() % 1024));
        }
    }
}

static double
run_sim(const struct topology *topo, const struct flow_key *keys,
        struct mf_table *table)
{
    long long start = time_nsec(), elapsed;
    uint64_t n = 0;
    struct dp_actions acts;

    dp_actions_init(&acts);
    do {
        for (int i = 0; i < 4096; i++, n++) {
            const struct flow_key *key = &keys[n % N_KEYS];
            struct flow_tags tags;
            struct flow_wc wc;

            flow_wc_init_catchall(&wc);
            flow_tags_init(&tags);
            dp_actions_clear(&acts);
            sim_run(topo, key, &wc, &acts, &tags, NULL);
            if (table) {
                mf_insert(table, key, &wc.masks, 0, &acts, &tags);
            }
        }
        elapsed = time_nsec() - start;
    } while (elapsed < RUN_NSEC);
    dp_actions_destroy(&acts);
    return (double) n * 1e9 / (double) elapsed;
}

int
main(void)
{
    struct flow_key *keys = xcalloc(N_KEYS, sizeof *keys);
    struct mf_table *table = mf_create();
    struct topology *topo;
    long long t0;

    t0 = time_nsec();
    topo = build();
    printf("bench-sim: topology_build %d ports %.1f ms\n", N_PORTS,
           (double) (time_nsec() - t0) / 1e6);
    make_keys(keys);

    printf("bench-sim: sim_only %.0f sims/s\n", run_sim(topo, keys, NULL));
    printf("bench-sim: flow_setup %.0f setups/s\n",
           run_sim(topo, keys, table));
    printf("bench-sim: megaflows %zu in %zu subtables\n", mf_count(table),
           mf_n_subtables(table));

    mf_destroy(table);
    topology_destroy(topo);
    free(keys);
    return 0;
}
