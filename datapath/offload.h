/*
 * offload.h -- checksum completion and software segmentation for frames
 * that carry virtio-net offload metadata.
 *
 * A VM's veth keeps the kernel's offloads on: frames read from the host
 * end with PACKET_VNET_HDR come with a struct virtio_net_hdr that may say
 * "checksum not filled in yet" (VIRTIO_NET_HDR_F_NEEDS_CSUM, with
 * csum_start/csum_offset) and "this is a TSO super-frame of up to 64 KB to
 * be cut into gso_size segments" (VIRTIO_NET_HDR_GSO_TCPV4/TCPV6, or UDP_L4).
 * A frame that goes to another local port can keep its header (the kernel
 * finishes the job); a frame that goes into a tunnel must be completed or
 * segmented first, which is what this module does.
 *
 * All functions work on caller-owned buffers, never read outside
 * [frame, frame + len), and return 0 or a positive errno (EINVAL for
 * metadata that does not fit the frame).
 */
#ifndef WEFT_OFFLOAD_H
#define WEFT_OFFLOAD_H 1

#include <linux/virtio_net.h>
#include "lib/util.h"

/* Fills in the checksum that 'vh' says is pending (csum_start/csum_offset,
 * the pseudo-header sum is already in place as Linux leaves it).  No-op if
 * VIRTIO_NET_HDR_F_NEEDS_CSUM is not set. */
int offload_complete_csum(void *frame, size_t len,
                          const struct virtio_net_hdr *vh);

/* Segments the GSO frame 'frame' (vh->gso_type TCPV4 or TCPV6, optionally
 * with ECN bit) into frames carrying at most vh->gso_size payload bytes,
 * each with correct IP total length/payload length, IPv4 id (incrementing)
 * and header checksum, TCP sequence numbers, flags (FIN/PSH only on the
 * last segment, CWR only on the first) and a complete TCP checksum.
 *
 * Segments are written back to back into 'out' (capacity 'out_size');
 * segment i starts at out + offsets[i] and is lens[i] bytes.  At most
 * 'max_segs' segments.  Returns 0 and the count in '*n_segs', or EINVAL
 * (malformed), ENOSPC (does not fit), EOPNOTSUPP (other gso types). */
int offload_segment_tcp(const void *frame, size_t len,
                        const struct virtio_net_hdr *vh, void *out,
                        size_t out_size, size_t *offsets, size_t *lens,
                        size_t max_segs, size_t *n_segs);

#endif /* WEFT_OFFLOAD_H */
