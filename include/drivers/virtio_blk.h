/*
 * virtio-blk: the storage component's disks (drivers/virtio_blk.c), as
 * block devices (include/kernel/blkdev.h).
 *
 * Devices are numbered in PCI order (bus, slot), counting QEMU's
 * transitional (0x1af4:0x1001) and modern (0x1af4:0x1042) ids alike: the
 * first is "vda", the second "vdb", ... The ktest boot of the storage
 * image gets a scratch disk as vda and an ext2 image as vdb
 * (scripts/ktest.py).
 */
#ifndef DRIVERS_VIRTIO_BLK_H
#define DRIVERS_VIRTIO_BLK_H

#include <kernel/blkdev.h>
#include <stdint.h>

#define VIRTIO_BLK_DEV_TRANSITIONAL 0x1001
#define VIRTIO_BLK_DEV_MODERN	    0x1042

/* Devices this driver can bring up (its ring memory is static). */
#define VIRTIO_BLK_MAX_DEVICES 4

/*
 * Finds the nth (0-based) virtio-blk device and brings it up the first
 * time it is asked for; later calls return the first result. Returns 0
 * and sets *out (valid for good), -ENODEV (no such device, or nth >=
 * VIRTIO_BLK_MAX_DEVICES), or the error that made bring-up fail (-EIO: the
 * device misbehaved or said something impossible; an MSI-X error), which
 * is logged once. Thread context; may be called concurrently.
 */
int virtio_blk_probe(unsigned nth, struct blkdev **out);

/* Counters of one device since its bring-up (self tests, diagnostics). */
struct virtio_blk_stats {
	uint64_t requests;	    /* chains put on the ring (flushes included) */
	uint64_t notifies;	    /* doorbell writes */
	uint64_t interrupts;	    /* MSI-X interrupts taken */
	uint64_t completions;	    /* used entries consumed */
	uint64_t missed_interrupts; /* due but found by the periodic look */
};

/* Copies bd's counters to *out (zeroes if bd is not a virtio-blk device). */
void virtio_blk_get_stats(struct blkdev *bd, struct virtio_blk_stats *out);

#endif
