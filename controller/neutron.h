/*
 * neutron.h -- the semantics of each Neutron resource: the hooks and
 * attribute validators that controller/resource.c's tables point to.
 *
 * networks: MTU from the underlay MTU minus the tunnel overhead, a unique
 *   VNI ("idx/vni/<8 digits>" -> network id), "subnets" kept up to date,
 *   delete refused while ports (other than network:dhcp) remain, and
 *   cascades to its subnets.
 * subnets: CIDR normalization, no overlap on the network, gateway and
 *   allocation pools checked against each other and the CIDR.
 * ports: MAC unique on the network ("idx/mac/<net>/<mac>" -> port id),
 *   fixed IPs unique per subnet ("idx/ip/<subnet>/<ip>" -> port id),
 *   allocated from the pools when not given.
 * routers: distributed (every agent routes), no external gateway yet.
 *   An interface is an ordinary port with device_owner
 *   NEUTRON_ROUTER_INTERFACE and device_id = the router id, indexed as
 *   "idx/router-port/<router>/<port>" by the port hooks whichever way it
 *   came to be.  add_router_interface creates one (on a subnet's gateway
 *   IP) or adopts an unused port; the subnets of one router's interfaces
 *   never overlap.  Static routes need a nexthop inside an interface's
 *   subnet (checked on every routes update and before an interface goes),
 *   so a router's routes always make sense.  A router with interfaces
 *   cannot be deleted, neither can an interface port through the port
 *   API, and a subnet's gateway_ip cannot move away from its interface.
 * agents: created by weft-ext reports; liveness rendered at read time.
 *
 * All checks run inside the request's transaction and follow resource.h's
 * error convention (0 or an HTTP status recorded with res_error()).
 */
#ifndef WEFT_CONTROLLER_NEUTRON_H
#define WEFT_CONTROLLER_NEUTRON_H 1

#include "controller/resource.h"

/* Store prefix of the controller's private indexes (never sent to
 * agents). */
#define NEUTRON_INDEX_PREFIX "idx/"

/* Tunnel overhead subtracted from the underlay MTU to get a network's
 * MTU.  VXLAN: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 = 50.
 * Geneve: the same 50 plus 8 bytes reserved for one option (Weft carries
 * metadata in Geneve options), 58.  With the default 1500: 1442 / 1450. */
#define NEUTRON_GENEVE_OVERHEAD 58
#define NEUTRON_VXLAN_OVERHEAD 50
#define NEUTRON_MAX_VNI 16777215

/* The device_owner of a router interface port. */
#define NEUTRON_ROUTER_INTERFACE "network:router_interface"
/* Most static routes per router (Neutron's max_routes default). */
#define NEUTRON_MAX_ROUTES 30

/* Network MTU for 'encap' over the configured underlay. */
int neutron_network_mtu(const struct api_config *, const char *encap);

int neutron_network_create(struct res_ctx *, json_t *obj);
int neutron_network_update(struct res_ctx *, const json_t *old, json_t *obj,
                           const json_t *changes);
int neutron_network_remove(struct res_ctx *, const json_t *obj);

int neutron_subnet_create(struct res_ctx *, json_t *obj);
int neutron_subnet_update(struct res_ctx *, const json_t *old, json_t *obj,
                          const json_t *changes);
int neutron_subnet_remove(struct res_ctx *, const json_t *obj);

int neutron_port_create(struct res_ctx *, json_t *obj);
int neutron_port_update(struct res_ctx *, const json_t *old, json_t *obj,
                        const json_t *changes);
int neutron_port_remove(struct res_ctx *, const json_t *obj);

int neutron_router_update(struct res_ctx *, const json_t *old, json_t *obj,
                          const json_t *changes);
int neutron_router_remove(struct res_ctx *, const json_t *obj);
/* Router member actions (struct resource_action): 'body' is
 * {"subnet_id": ID} or {"port_id": ID}; the reply is Neutron's interface
 * info {id, tenant_id, project_id, port_id, subnet_id, subnet_ids,
 * network_id}. */
int neutron_router_add_interface(struct res_ctx *, const char *id,
                                 const json_t *body, json_t **replyp);
int neutron_router_remove_interface(struct res_ctx *, const char *id,
                                    const json_t *body, json_t **replyp);

int neutron_agent_remove(struct res_ctx *, const json_t *obj);
void neutron_agent_render(struct res_ctx *, json_t *obj);

/* Attribute validators (attr_validate_fn). */
attr_validate_fn neutron_validate_ip_version;
attr_validate_fn neutron_validate_cidr;
attr_validate_fn neutron_validate_ip;
attr_validate_fn neutron_validate_ip_list;
attr_validate_fn neutron_validate_pools;
attr_validate_fn neutron_validate_host_routes;
attr_validate_fn neutron_validate_mac;
attr_validate_fn neutron_validate_fixed_ips;
attr_validate_fn neutron_validate_string_list;
attr_validate_fn neutron_validate_address_pairs;
attr_validate_fn neutron_validate_network_type;
attr_validate_fn neutron_validate_segmentation_id;
attr_validate_fn neutron_validate_mtu;
attr_validate_fn neutron_validate_ipv6_mode;
attr_validate_fn neutron_validate_null_only;
attr_validate_fn neutron_validate_vnic_type;
attr_validate_fn neutron_validate_dict_list;
attr_validate_fn neutron_validate_gateway_info;
attr_validate_fn neutron_validate_distributed;
attr_validate_fn neutron_validate_ha;

#endif /* WEFT_CONTROLLER_NEUTRON_H */
