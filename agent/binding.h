/*
 * binding.h -- which logical ports are attached to this host's datapath.
 *
 * A logical port belongs to this host when its binding:host_id is the
 * agent's --host; its interface name follows the binding convention
 * (topo_port_info.ifname).  binding_reconcile() compares three views --
 * the topology's local ports, the host's interfaces (linkmon) and the
 * ports attached to the datapath -- and makes the third agree with the
 * first two:
 *
 *   - a local port whose interface exists and is up, and that is not yet
 *     attached: add the interface to the datapath, bind the port to the
 *     new datapath port number, report ACTIVE (DOWN if admin down);
 *   - an attached port whose interface vanished (or was replaced by a new
 *     interface of the same name), that was deleted, moved to another
 *     host or renamed its interface: detach and unbind it, and report DOWN
 *     only if the port still exists and is still bound to this host, so
 *     that another host's ACTIVE is never overwritten.
 *
 * The agent calls it after every topology change and every link event, so
 * the interface may appear before or after the port is created.
 *
 * Everything binding touches goes through 'struct binding_ops', so the
 * logic is unit-tested against fakes (tests/unit/test-agent-binding.c).
 * Single-threaded: the agent's main thread.
 */
#ifndef WEFT_AGENT_BINDING_H
#define WEFT_AGENT_BINDING_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datapath/flow-tags.h"
#include "sim/topology.h"

struct binding_ops {
    /* Topology: calls 'cb' for each port bound to this host; looks up a
     * port by id (false if unknown); records an attachment. */
    void (*for_each_local_port)(void *aux,
                                void (*cb)(const struct topo_port_info *,
                                           void *cb_aux),
                                void *cb_aux);
    bool (*get_port)(void *aux, const char *port_id,
                     struct topo_port_info *out);
    void (*bind)(void *aux, const char *port_id, uint32_t port_no,
                 struct tag_set *changed);
    void (*unbind)(void *aux, const char *port_id, struct tag_set *changed);

    /* Interfaces: true if 'ifname' exists and is up, with its index. */
    bool (*link_up)(void *aux, const char *ifname, int *ifindexp);

    /* Datapath: attach (0 or errno) and detach. */
    int (*port_add)(void *aux, const char *ifname, uint32_t *port_nop);
    void (*port_del)(void *aux, uint32_t port_no);

    /* Controller: queue a port status report ("ACTIVE" or "DOWN"). */
    void (*port_status)(void *aux, const char *port_id, const char *status);
};

struct binding;

/* Creates an empty binding table for host 'local_host'.  'ops' and 'aux'
 * must outlive it. */
struct binding *binding_create(const char *local_host,
                               const struct binding_ops *ops, void *aux);
/* Frees the table.  Does not detach anything (the datapath goes away
 * with it).  Accepts NULL. */
void binding_destroy(struct binding *);

/* Makes the attachments agree with the topology and the interfaces (see
 * above), adding the tags of changed bindings to 'changed'.  Returns how
 * many ports were attached or detached. */
size_t binding_reconcile(struct binding *, struct tag_set *changed);

/* Number of attached ports. */
size_t binding_count(const struct binding *);

/* The logical port attached on datapath port 'port_no', or NULL. */
const char *binding_port_id(const struct binding *, uint32_t port_no);

#endif /* WEFT_AGENT_BINDING_H */
