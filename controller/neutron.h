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
 * security groups: every project has one group named "default"
 *   ("idx/sg-default/<project>" -> group id), created with its four
 *   rules (egress IPv4 and IPv6 to anywhere, ingress IPv4 and IPv6 from
 *   members of the group itself) on the project's first network, port,
 *   security group, or GET of security groups.  It cannot be renamed or
 *   deleted, and no other group may be called "default".  Only stateful
 *   groups exist.  A group's rules are indexed as
 *   "idx/sg-rule/<group>/<rule>", rules that name a group as their remote
 *   as "idx/sg-remote/<remote group>/<rule>" (deleting a group deletes
 *   them, like Neutron's foreign key cascade), and the ports that use a
 *   group as "idx/sg-port/<group>/<port>" (a group in use cannot go).
 *   A group's "security_group_rules" are rendered from its rules at read
 *   time; creating or deleting a rule bumps the group's revision.  Rules
 *   are validated like Neutron's: protocol names are lowercased and
 *   numbers become decimal strings, TCP/UDP/SCTP/DCCP/UDP-Lite port
 *   ranges are 1..65535 with min <= max, ICMP type/code 0..255 (no code
 *   without a type), other protocols take no ports, remote_ip_prefix is
 *   normalized and matches the ethertype, and no two rules of a group
 *   are the same (409 SecurityGroupRuleExists).
 * port security: a port's port_security_enabled defaults to its
 *   network's.  With it, a port gets its project's default group unless
 *   it names its groups (which must exist and belong to its project);
 *   without it, it may have neither security groups nor allowed address
 *   pairs.  Ports whose device_owner starts with "network:" (router
 *   interfaces, DHCP) are trusted and have no security groups.  Allowed
 *   address pairs default their MAC to the port's.
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
/* Most allowed address pairs per port (Neutron's
 * max_allowed_address_pair default). */
#define NEUTRON_MAX_ADDRESS_PAIRS 10
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

int neutron_security_group_create(struct res_ctx *, json_t *obj);
int neutron_security_group_update(struct res_ctx *, const json_t *old,
                                  json_t *obj, const json_t *changes);
int neutron_security_group_remove(struct res_ctx *, const json_t *obj);
/* Adds "security_group_rules", the group's rules. */
void neutron_security_group_render(struct res_ctx *, json_t *obj);
/* Creates the default security group of the request's project if it has
 * none yet. */
int neutron_security_group_prepare(struct res_ctx *);

int neutron_security_group_rule_create(struct res_ctx *, json_t *obj);
int neutron_security_group_rule_remove(struct res_ctx *, const json_t *obj);

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
attr_validate_fn neutron_validate_uuid_list;
attr_validate_fn neutron_validate_stateful;
attr_validate_fn neutron_validate_direction;
attr_validate_fn neutron_validate_ethertype;
attr_validate_fn neutron_validate_protocol;
attr_validate_fn neutron_validate_port_value;
attr_validate_fn neutron_validate_remote_prefix;

#endif /* WEFT_CONTROLLER_NEUTRON_H */
