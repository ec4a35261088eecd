/*
 * bench-revalidate.c -- what a security-group change costs the agent's
 * packet thread: after a change to rules, groups or the ports that make
 * up remote groups, the agent forgets the tracked connections no rule
 * allows any more (agent.c, sim_sg_conn_permitted() over ct_flush_if()).
 *
 * Set-up: one local port in a group of 1,000 ingress rules, the rule that
 * allows the connections evaluated last (the worst case: every connection
 * is checked against all 1,000), and N tracked UDP connections to it from
 * outside addresses, N = 100k and 1M.  Measured, each pass removing
 * nothing:
 *   scan_<N>       a pass whose predicate is trivially false (the cost of
 *                  visiting the table: the baseline);
 *   reval_<N>      a pass evaluating the rules for every connection, as
 *                  after a change that concerns the port: the CPU a pass
 *                  costs in all;
 *   step_<N>       the same pass in the agent's steps of 256 slots
 *                  (AGENT_REVAL_STEP_SLOTS): the longest step, which is
 *                  the most a pass holds packets up at a time (the agent
 *                  also stops after 1 ms of steps per loop iteration);
 *   zones          sim_sg_affected_zones() for a change to a group the
 *                  port's rules do not involve: it finds no zone, and no
 *                  pass runs at all.
 *
 * Output: "bench-revalidate: <name> ..." lines.  Asserts nothing.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datapath/conntrack.h"
#include "sim/sim.h"
#include "sim/topology.h"

#define N_RULES 1000
#define ZONE 3

static void
put(struct topology *topo, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
put(struct topology *topo, const char *key, const char *fmt, ...)
{
    struct tag_set changed;
    char json[512];
    va_list args;

    va_start(args, fmt);
    vsnprintf(json, sizeof json, fmt, args);
    va_end(args);
    tag_set_init(&changed);
    if (topology_update(topo, key, json, &changed)) {
        fprintf(stderr, "bench-revalidate: %s refused\n", key);
        exit(1);
    }
    tag_set_destroy(&changed);
}

static struct topology *
build_topology(void)
{
    struct topology *topo = topology_create("hv1");
    struct tag_set scratch;
    char key[64];

    put(topo, "networks/net1", "{\"provider:segmentation_id\": 7}");
    put(topo, "security-groups/big", "{\"name\": \"big\"}");
    /* Rules are evaluated newest first: the allowing one goes in first. */
    put(topo, "security-group-rules/allow", "{\"security_group_id\": "
        "\"big\", \"direction\": \"ingress\", \"protocol\": \"udp\", "
        "\"port_range_min\": 80, \"port_range_max\": 80}");
    for (int i = 1; i < N_RULES; i++) {
        snprintf(key, sizeof key, "security-group-rules/r%d", i);
        put(topo, key, "{\"security_group_id\": \"big\", \"direction\": "
            "\"ingress\", \"protocol\": \"tcp\", \"port_range_min\": %d, "
            "\"port_range_max\": %d, \"remote_ip_prefix\": "
            "\"172.16.%d.0/24\"}", 1000 + i, 1000 + i, i % 256);
    }
    put(topo, "ports/a", "{\"network_id\": \"net1\", \"mac_address\": "
        "\"fa:16:3e:00:00:01\", \"fixed_ips\": [{\"ip_address\": "
        "\"10.0.0.1\"}], \"security_groups\": [\"big\"], "
        "\"binding:host_id\": \"hv1\"}");
    tag_set_init(&scratch);
    topology_bind(topo, "a", ZONE, &scratch);
    tag_set_destroy(&scratch);
    return topo;
}

/* Commits 'n' UDP connections from outside addresses to 10.0.0.1:80. */
static void
fill(struct conntrack *ct, uint32_t n)
{
    uint8_t f[42];
    struct packet_layout lo;
    struct flow_key k;

    memset(f, 0, sizeof f);
    f[0] = f[6] = 2;
    put16(f + 12, htons(ETH_TYPE_IP));
    f[14] = 0x45;
    put16(f + 16, htons(28));
    f[22] = 64;
    f[23] = IPPROTO_UDP_;
    put16(f + 38, htons(8));
    for (uint32_t i = 0; i < n; i++) {
        put32(f + 26, htonl(0x0b000000u | (i >> 8)));
        put32(f + 30, inet_addr("10.0.0.1"));
        put16(f + 34, htons((uint16_t) (1024 + (i & 0xff))));
        put16(f + 36, htons(80));
        flow_key_extract(f, sizeof f, ZONE, &k, &lo);
        ct_execute(ct, ZONE, true, f, sizeof f, &k, &lo, 0, NULL);
    }
}

static bool
never(const struct ct_conn_info *conn, void *aux)
{
    (void) conn;
    (void) aux;
    return false;
}

static bool
revoked(const struct ct_conn_info *conn, void *topo)
{
    return !sim_sg_conn_permitted(topo, conn->zone, conn);
}

static void
report(const char *name, uint32_t n, long long nsec, size_t removed)
{
    printf("bench-revalidate: %s_%s %.1f ms/pass (%.1f ns/conn)%s\n", name,
           n >= 1000000 ? "1M" : "100k", nsec / 1e6, (double) nsec / n,
           removed ? " REMOVED CONNECTIONS (set-up error)" : "");
}

/* The pass in steps of 256 slots: the longest and the mean step. */
static void
bench_steps(struct conntrack *ct, uint32_t n, struct topology *topo)
{
    long long longest = 0, total = 0;
    uint32_t cursor = 0, steps = 0;
    size_t removed = 0;
    bool done = false;

    while (!done) {
        long long t = time_nsec(), dt;

        removed += ct_flush_if_step(ct, &cursor, 256, revoked, topo, &done);
        dt = time_nsec() - t;
        longest = dt > longest ? dt : longest;
        total += dt;
        steps++;
    }
    printf("bench-revalidate: step_%s longest %.0f us, mean %.0f us over "
           "%u steps of 256 slots%s\n", n >= 1000000 ? "1M" : "100k",
           longest / 1e3, total / 1e3 / steps, steps,
           removed ? " REMOVED CONNECTIONS (set-up error)" : "");
}

/* Which zones a change to an unrelated group affects: none. */
static void
bench_zones(struct topology *topo)
{
    static uint64_t zones[SIM_ZONE_WORDS];
    struct tag_set changed;
    long long t;
    size_t n = 0;
    int runs = 1000;

    tag_set_init(&changed);
    tag_set_add(&changed, topo_tag_sg("other"));
    tag_set_add(&changed, topo_tag_sgmembers("other"));
    t = time_nsec();
    for (int i = 0; i < runs; i++) {
        n += sim_sg_affected_zones(topo, &changed, zones);
    }
    printf("bench-revalidate: zones %.1f us per unrelated change (%zu "
           "zones affected)\n", (time_nsec() - t) / 1e3 / runs, n);
    tag_set_destroy(&changed);
}

int
main(void)
{
    static const uint32_t sizes[] = { 100000, 1000000 };
    struct topology *topo = build_topology();

    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        uint32_t n = sizes[s];
        struct ct_config cfg;
        struct conntrack *ct;
        long long t;
        size_t removed;

        ct_config_default(&cfg);
        cfg.max_entries = n;
        ct = ct_create(&cfg);
        fill(ct, n);

        t = time_nsec();
        removed = ct_flush_if(ct, CT_ZONE_ALL, never, NULL);
        report("scan", n, time_nsec() - t, removed);

        t = time_nsec();
        removed = ct_flush_if(ct, CT_ZONE_ALL, revoked, topo);
        report("reval", n, time_nsec() - t, removed);

        bench_steps(ct, n, topo);
        ct_destroy(ct);
    }
    bench_zones(topo);
    topology_destroy(topo);
    return 0;
}
