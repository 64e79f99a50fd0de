/*
 * Virtio 1.x over PCI: the modern transport and split virtqueues
 * (drivers/virtio_pci.c; the virtio 1.2 specification, sections 2.7 and
 * 4.1). Device drivers (drivers/virtio_blk.c) build on this.
 *
 * Transport. The device's registers are found through vendor-specific PCI
 * capabilities, each naming a BAR, an offset and a length: COMMON_CFG
 * (features, status, queue setup), NOTIFY_CFG (doorbells), ISR_CFG (INTx
 * status, unused with MSI-X) and DEVICE_CFG (the device type's own
 * configuration). Only memory BARs are used, so a transitional device
 * (QEMU's default 0x1af4:0x1000-0x103f ids, with a legacy I/O BAR too) is
 * driven exactly like a modern-only one (0x1af4:0x1040 + type). Legacy
 * (pre-1.0) devices without VIRTIO_F_VERSION_1 are refused.
 *
 * Bring-up order (spec 3.1.1), which the driver follows:
 *	virtio_pci_init()	caps, BAR mappings, reset, ACKNOWLEDGE, DRIVER
 *	virtio_negotiate()	features, FEATURES_OK (checked)
 *	virtio_cfg_read(), vq_setup() for each queue
 *	virtio_driver_ok()
 * and virtio_fail() (FAILED) when it gives up.
 *
 * Split virtqueues. One physically contiguous block holds the descriptor
 * table, the available ring (driver -> device) and the used ring (device
 * -> driver). The caller provides that memory (vq_mem_size() bytes,
 * page aligned, reachable through the direct map or the kernel image,
 * zeroed here), so a driver that lives for good can use static memory and
 * never shows up as a page leak. The free descriptor list and the length
 * of each chain are kept in shadow arrays the device cannot touch:
 * nothing the device writes is used as an index without a bounds check.
 * Every ring field is little-endian, which x86 is natively.
 *
 * Locking: none here. A struct virtq belongs to its driver, which
 * serialises every vq_* call on one queue (drivers/virtio_blk.c: its ring
 * lock); the virtio_* calls run at probe time on one thread.
 */
#ifndef DRIVERS_VIRTIO_H
#define DRIVERS_VIRTIO_H

#include <drivers/pci.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRTIO_VENDOR	     0x1af4
#define VIRTIO_MSI_NO_VECTOR 0xffff

/* Device status bits (spec 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED	  128

/* Transport feature bits (spec 6). Device types define bits 0-23. */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX	    29
#define VIRTIO_F_VERSION_1	    32
#define VIRTIO_F_ACCESS_PLATFORM    33

#define VIRTIO_BIT(b) (1ull << (b))

/* Largest queue this code sets up (the shadow arrays are this long). */
#define VQ_MAX_SIZE 256

/* Split ring layout (spec 2.7). */
#define VQ_DESC_F_NEXT	1
#define VQ_DESC_F_WRITE 2

struct vq_desc {
	uint64_t addr; /* physical */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* size entries, then used_event */
};

struct vq_used_elem {
	uint32_t id;  /* head of the finished chain */
	uint32_t len; /* bytes the device wrote into it */
};

struct vq_used {
	uint16_t flags;
	uint16_t idx;
	struct vq_used_elem ring[]; /* size entries, then avail_event */
};

#define VQ_USED_F_NO_NOTIFY 1

/* A transport instance; filled by virtio_pci_init(), then read-only
 * except for features (virtio_negotiate). */
struct virtio_dev {
	struct pci_device *pci;
	volatile uint8_t *common; /* COMMON_CFG */
	volatile uint8_t *notify; /* NOTIFY_CFG region */
	uint32_t notify_len;
	uint32_t notify_mult;	  /* notify_off_multiplier */
	volatile uint8_t *isr;	  /* ISR_CFG, NULL if absent */
	volatile uint8_t *device; /* DEVICE_CFG, NULL if absent */
	uint32_t device_len;
	uint64_t features; /* negotiated */
};

/* One split virtqueue. Owned by its driver, which serialises access. */
struct virtq {
	uint16_t size;	/* entries, a power of two */
	uint16_t index; /* queue number on the device */
	bool event_idx; /* VIRTIO_F_RING_EVENT_IDX negotiated */
	struct vq_desc *desc;
	struct vq_avail *avail;
	struct vq_used *used;
	volatile uint16_t *notify; /* doorbell; NULL: no device (tests) */
	uint16_t num_free;	   /* descriptors on the free list */
	uint16_t free_head;
	uint16_t avail_idx;		 /* next avail slot (published or not) */
	uint16_t kicked_idx;		 /* avail_idx at the last vq_publish() */
	uint16_t last_used;		 /* used entries consumed */
	uint16_t next[VQ_MAX_SIZE];	 /* shadow of desc[].next */
	uint16_t chain_len[VQ_MAX_SIZE]; /* by head id: descriptors; 0: not a
					  * head in flight */
};

/*
 * Finds the capabilities of d, maps them (pci_map_bar), resets the device
 * and sets ACKNOWLEDGE and DRIVER. Returns 0, -ENODEV (no usable
 * COMMON_CFG or NOTIFY_CFG: not a modern virtio device) or -EIO (the
 * device does not come out of reset). Probe time, thread context.
 */
int virtio_pci_init(struct virtio_dev *vd, struct pci_device *d);

/*
 * Accepts the offered features among wanted (VIRTIO_F_VERSION_1 always,
 * and it must be offered), sets FEATURES_OK and checks that the device
 * kept it. Returns 0 with vd->features set, -ENODEV (a legacy-only
 * device) or -EIO (the device refused the subset).
 */
int virtio_negotiate(struct virtio_dev *vd, uint64_t wanted);

static inline bool virtio_has(const struct virtio_dev *vd, unsigned bit)
{
	return vd->features & VIRTIO_BIT(bit);
}

/*
 * Reads size (1, 2, 4 or 8) bytes at off of DEVICE_CFG into *out,
 * retrying while config_generation changes under the read (spec 4.1.4.3).
 * Returns 0, -EINVAL (outside the region, or no region) or -EIO (the
 * generation never settles).
 */
int virtio_cfg_read(struct virtio_dev *vd, uint32_t off, void *out, unsigned size);

/* Sets DRIVER_OK: the device is live. */
void virtio_driver_ok(struct virtio_dev *vd);
/* Writes 0 (reset: the device stops using every queue) and waits, bounded,
 * for the device to show it. Returns 0 or -EIO. Safe with locks held. */
int virtio_reset(struct virtio_dev *vd);
/* Resets the device and sets FAILED: the driver has given up on it. */
void virtio_fail(struct virtio_dev *vd);

/* Bytes of ring memory a queue of size entries needs: the descriptor
 * table, the available ring (flags, idx, ring[], used_event), padding to
 * 4, the used ring (flags, idx, ring[], avail_event). VQ_MEM_SIZE is the
 * same as a constant expression, for static buffers. */
#define VQ_MEM_SIZE(size)                                                                \
	((((size_t)(size)*16 + 2 * (3 + (size_t)(size)) + 3) & ~(size_t)3) + 6 +         \
	 8 * (size_t)(size))
size_t vq_mem_size(uint16_t size);

/*
 * Sets up queue index: size = the largest power of two <= min(the
 * device's size, max_size, VQ_MAX_SIZE), rings in mem (mem_size bytes,
 * see above), interrupts through MSI-X table entry msix_entry (or
 * VIRTIO_MSI_NO_VECTOR), then enables it. Returns 0, -ENODEV (no such
 * queue), -EINVAL (mem too small) or -EIO (the device refused the vector,
 * or its notify offset lies outside NOTIFY_CFG). Call between
 * virtio_negotiate() and virtio_driver_ok().
 */
int vq_setup(struct virtio_dev *vd, struct virtq *vq, uint16_t index, void *mem,
	     size_t mem_size, uint16_t max_size, uint16_t msix_entry);

/* The ring part of vq_setup(), without a device (self tests use it with
 * a fake device): zeroes mem, lays the rings out, frees every descriptor.
 * size is a power of two, 1..VQ_MAX_SIZE. */
void vq_init(struct virtq *vq, void *mem, uint16_t size, bool event_idx);

/* One buffer of a chain. */
struct vq_seg {
	uint64_t addr; /* physical */
	uint32_t len;
	bool device_writes; /* the device writes it (else reads it) */
};

/* The descriptor id the next vq_add() will use as its head, or -ENOSPC
 * when none is free: lets a driver index per-request memory by head. */
int vq_next_head(const struct virtq *vq);

/*
 * Puts a chain of n segments on the available ring, not yet visible to
 * the device (vq_publish). Returns the head id, or -ENOSPC (fewer than n
 * descriptors free) or -EINVAL (n is 0 or exceeds the queue).
 */
int vq_add(struct virtq *vq, const struct vq_seg *segs, unsigned n);

/*
 * Makes every chain added so far visible, and returns whether the device
 * asked to be notified (VIRTIO_F_RING_EVENT_IDX's avail_event, else the
 * used ring's NO_NOTIFY flag). The caller then vq_notify()s, which it may
 * do after dropping its lock.
 */
bool vq_publish(struct virtq *vq);
void vq_notify(struct virtq *vq);

/*
 * Takes the next used entry: returns the head id of a finished chain
 * (whose descriptors are free again) with *len = what the device says it
 * wrote, -EAGAIN if there is none, or -EIO if the device broke the
 * protocol (an index that ran ahead by more than the queue, an id that is
 * not a chain in flight); nothing is consumed then.
 */
int vq_next_used(struct virtq *vq, uint32_t *len);

/*
 * Asks for an interrupt once n (>= 1) more entries are used (with
 * VIRTIO_F_RING_EVENT_IDX: used_event; without, interrupts are always on)
 * and returns true if entries are already waiting, in which case the
 * caller must consume them rather than sleep: the device may have passed
 * the point before seeing it. n must not exceed the chains in flight, or
 * the interrupt never comes.
 */
bool vq_arm(struct virtq *vq, uint16_t n);

/* Used entries not consumed yet (0 if none; the raw count, unchecked). */
uint16_t vq_used_pending(const struct virtq *vq);

#endif
