/*
 * rtnl.h -- the few rtnetlink requests the kernel fast path needs: create
 * and delete the devices it owns (a VXLAN or Geneve device in metadata
 * mode, the miss veth pair) and bring them up.  libmnl, synchronous, one
 * request per call; every function returns 0 or a positive errno.
 */
#ifndef WEFT_RTNL_H
#define WEFT_RTNL_H 1

#include <stdint.h>

#include "lib/util.h"

int rtnl_link_add_vxlan(const char *name, uint16_t port, be32 local);
int rtnl_link_add_geneve(const char *name, uint16_t port);
int rtnl_link_add_veth(const char *name, const char *peer);
int rtnl_link_set_up(const char *name);
/* ENODEV if there is no such device. */
int rtnl_link_del(const char *name);

#endif /* rtnl.h */
