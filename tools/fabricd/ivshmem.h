/*
 * The server side of QEMU's ivshmem protocol (docs/specs/ivshmem-spec.rst
 * in QEMU; DESIGN.md section 3), as fabricd speaks it on each node's
 * socket (tools/fabricd/ivshmem.c).
 */
#ifndef FABRICD_IVSHMEM_H
#define FABRICD_IVSHMEM_H

#include <stdint.h>

/*
 * Sends, on the freshly accepted socket sock, the five setup messages QEMU
 * reads while it creates the ivshmem-doorbell device: 8-byte little-endian
 * integers, each with at most one file descriptor (SCM_RIGHTS):
 *
 *   0             protocol version
 *   id            this client's id (= the node id)
 *   -1 + memfd    the node's window (BAR2)
 *   0 + doorbell  peer 0 (fabricd), vector 0: the guest's doorbell writes
 *                 (BAR0 + 12, value (0 << 16) | 0) signal this eventfd
 *   id + irq      the client's own vector 0: fabricd writes this eventfd
 *                 to raise the guest's MSI-X vector 0
 *
 * Returns 0, or -1 with errno set (the socket should then be closed).
 */
int ivshmem_send_setup(int sock, uint16_t id, int memfd, int doorbell_fd, int irq_fd);

#endif
