/*
 * ip-proto.h -- IP protocol numbers and their names.
 *
 * One table serves everything that names protocols: the controller, which
 * accepts a security group rule's protocol as a name (Neutron's list,
 * case-insensitive) and stores the table's spelling; the agent, which reads
 * those stored rules back into numbers; and the displays of conntrack and
 * weftctl.  Adding a name here is enough for all of them.
 *
 * Pure functions over a constant table: any thread.
 */
#ifndef WEFT_IP_PROTO_H
#define WEFT_IP_PROTO_H 1

#include <stdbool.h>

/* Returns the number of protocol 'name' (compared without regard to case),
 * or -1 if the table has no such name.  NULL gives -1. */
int ip_proto_from_name(const char *name);

/* Returns the table's spelling of 'name' ("TCP" -> "tcp"), or NULL. */
const char *ip_proto_canonical(const char *name);

/* Parses a stored rule protocol: a name of the table or a decimal number
 * 0..255.  Returns the number, or -1 if 's' is neither. */
int ip_proto_parse(const char *s);

/* Returns a short name for protocol 'proto' ("tcp", "icmpv6"), or NULL if
 * the table has none. */
const char *ip_proto_name(int proto);

/* True for the protocols whose rules may give port ranges (TCP, UDP,
 * DCCP, SCTP, UDP-Lite). */
bool ip_proto_has_ports(int proto);

#endif /* WEFT_IP_PROTO_H */
