/*
 * kpath.h -- the kernel fast path: the datapath's cached flows executed in
 * the kernel by TC BPF programs (datapath/bpf/kpath.bpf.c), so that a
 * packet of a known flow is forwarded in the context that sent it,
 * without waking the agent.
 *
 * The agent keeps every decision.  kpath is a cache below the datapath's
 * own caches:
 *
 *   VM port ingress (TC) --hit--> redirect to a local port, or set the
 *                                 tunnel key and redirect to the kernel's
 *                                 VXLAN/Geneve device in metadata mode
 *                   \--miss--> 12-byte header (kpath-abi.h) + frame into
 *                              the miss device "weft-miss", read by the
 *                              datapath's packet socket with its virtio-net
 *                              header (checksum and GSO state intact)
 *   tunnel device ingress (TC) --hit--> redirect to the local port
 *                   \--miss--> as above, with the VNI and outer source
 *
 * A megaflow is offloaded when its whole action list is one OUTPUT to a
 * port kpath knows or one TUNNEL with a kernel device for the current
 * encapsulation; connection tracking, rewrites, answers, floods and drops
 * stay in the agent.  The kernel counts hits per flow; kpath_flow_sync()
 * folds them into the megaflow, so dumps, idle expiry and revalidation see
 * one flow, wherever its packets went.
 *
 * Without the kernel support (no BPF, no clsact, no tunnel device type) the
 * open fails and the datapath runs as before, all in the agent.
 */
#ifndef WEFT_KPATH_H
#define WEFT_KPATH_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datapath/kpath-abi.h"
#include "lib/util.h"

struct megaflow;
struct kpath;

#define KPATH_MISS_DEV "weft-miss"
#define KPATH_MISS_PEER "weft-miss-p"
#define KPATH_VXLAN_DEV "weft-vxlan"
#define KPATH_GENEVE_DEV "weft-geneve"

struct kpath_config {
    be32 local_ip;              /* Outer source of tunnel packets. */
    uint16_t geneve_port;       /* UDP ports of the kernel devices. */
    uint16_t vxlan_port;
    bool load_only;             /* Tests: programs and maps, no devices. */
};

/* Loads the programs, creates the miss device and a kernel tunnel device
 * for each encapsulation the kernel has (at least one is needed), and
 * attaches to them.  Devices of these names left by an earlier run are
 * replaced.  Returns 0, or a positive errno with the reason logged. */
int kpath_open(const struct kpath_config *, struct kpath **);
/* Detaches from every port and deletes the devices.  Accepts NULL. */
void kpath_close(struct kpath *);

/* 'encap' arguments are enum dp_encap (dp.h includes this header).
 *
 * Whether tunnel packets of 'encap' are received by a kernel device (the
 * agent then must not bind that UDP port) and can be sent by kpath. */
bool kpath_has_tunnel(const struct kpath *, int encap);

/* Starts the fast path on the VM port 'ifname', whose datapath number is
 * 'port_no': from now on its frames reach the agent only as misses.
 * Returns 0 or a positive errno. */
int kpath_port_add(struct kpath *, uint32_t port_no, const char *ifname);
void kpath_port_del(struct kpath *, uint32_t port_no);

/* Offloads 'flow' if its actions allow it, with 'encap' for a TUNNEL.
 * Returns true if it is now in the kernel. */
bool kpath_flow_add(struct kpath *, struct megaflow *, int encap);
/* Removes 'flow' from the kernel (nothing if it is not there). */
void kpath_flow_del(struct kpath *, struct megaflow *);
/* Adds the kernel's hits since the last sync to 'flow''s statistics. */
void kpath_flow_sync(struct kpath *, struct megaflow *);

struct kpath_stats {
    uint64_t counters[KP_N_COUNTERS];
    size_t n_flows;             /* Offloaded now. */
    size_t n_masks;             /* Mask slots in use. */
    size_t n_ports;
    bool tunnel[2];             /* By enum dp_encap. */
};
void kpath_get_stats(const struct kpath *, struct kpath_stats *);
const char *kpath_counter_name(enum kp_counter);

/* Parses the miss header at the front of 'frame' ('len' bytes) into
 * '*meta': 'a' in host byte order, 'b' (an IPv4 address) as it is.
 * Returns false if it is not one. */
bool kpath_meta_parse(const uint8_t *frame, size_t len, struct kp_meta *meta);

/* Tests: the loaded program's fd for kp_port_in and the fds of the maps
 * kp_conf and kp_last, for BPF_PROG_TEST_RUN. */
int kpath_test_prog_fd(const struct kpath *);
int kpath_test_map_fd(const struct kpath *, const char *name);

#endif /* kpath.h */
