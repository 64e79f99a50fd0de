/*
 * The virtio 1.x PCI transport and split virtqueues (include/drivers/
 * virtio.h has the model and the contracts).
 *
 * Capabilities. A virtio function has several vendor capabilities (id 9);
 * pci_find_cap() gives the first, and the walk goes on along the list
 * (bounded, like pci_find_cap's) looking at each vendor one. For every
 * type the first usable one wins, as the specification asks: its BAR must
 * be an assigned memory BAR and [offset, offset + length) must lie inside
 * it; others are skipped. Each region is reached through pci_map_bar()
 * (uncached, mapped once for good).
 *
 * Register access uses each field's natural width through volatile
 * pointers; 64-bit queue addresses are written as two 32-bit halves, low
 * first, which the specification allows.
 *
 * Waiting for the device (the reset) polls with a deadline and never
 * sleeps, so it is safe under a spinlock: QEMU completes a reset within
 * the register write.
 *
 * The virtqueue functions are the spec's split ring (2.7), with the
 * bookkeeping the device cannot corrupt in struct virtq's shadow arrays.
 * Barriers: x86 keeps stores in order and loads in order, so publishing
 * needs only compiler ordering (release stores); the two places that
 * store then load a field the device writes (the event-index checks) need
 * a full fence.
 */
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <drivers/virtio.h>
#include <kernel/errno.h>
#include <kernel/time.h>
#include <lib/string.h>

/* struct virtio_pci_cap (spec 4.1.4): byte offsets in the capability. */
#define VCAP_LEN	 2
#define VCAP_TYPE	 3
#define VCAP_BAR	 4
#define VCAP_OFFSET	 8
#define VCAP_LENGTH	 12
#define VCAP_NOTIFY_MULT 16
#define VCAP_MIN_LEN	 16
#define VCAP_NOTIFY_LEN	 20

#define VCAP_COMMON 1
#define VCAP_NOTIFY 2
#define VCAP_ISR    3
#define VCAP_DEVICE 4

#define VIRTIO_MAX_CAPS 48 /* as many as config space can hold */

/* struct virtio_pci_common_cfg (spec 4.1.4.3): byte offsets. */
#define VCC_DFSELECT	 0x00
#define VCC_DF		 0x04
#define VCC_GFSELECT	 0x08
#define VCC_GF		 0x0c
#define VCC_MSIX_CONFIG	 0x10
#define VCC_NUM_QUEUES	 0x12
#define VCC_STATUS	 0x14
#define VCC_GENERATION	 0x15
#define VCC_Q_SELECT	 0x16
#define VCC_Q_SIZE	 0x18
#define VCC_Q_MSIX	 0x1a
#define VCC_Q_ENABLE	 0x1c
#define VCC_Q_NOTIFY_OFF 0x1e
#define VCC_Q_DESC	 0x20
#define VCC_Q_DRIVER	 0x28
#define VCC_Q_DEVICE	 0x30
#define VCC_MIN_LEN	 0x38 /* the 1.0 layout, all we use */

#define VIRTIO_RESET_TIMEOUT_NS (NS_PER_S)
#define VIRTIO_CFG_RETRIES	16

/* ---- register access ---------------------------------------------------- */

static uint8_t cc_read8(struct virtio_dev *vd, unsigned off)
{
	return *(volatile uint8_t *)(vd->common + off);
}

static uint16_t cc_read16(struct virtio_dev *vd, unsigned off)
{
	return *(volatile uint16_t *)(vd->common + off);
}

static uint32_t cc_read32(struct virtio_dev *vd, unsigned off)
{
	return *(volatile uint32_t *)(vd->common + off);
}

static void cc_write8(struct virtio_dev *vd, unsigned off, uint8_t v)
{
	*(volatile uint8_t *)(vd->common + off) = v;
}

static void cc_write16(struct virtio_dev *vd, unsigned off, uint16_t v)
{
	*(volatile uint16_t *)(vd->common + off) = v;
}

static void cc_write32(struct virtio_dev *vd, unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(vd->common + off) = v;
}

static void cc_write64(struct virtio_dev *vd, unsigned off, uint64_t v)
{
	cc_write32(vd, off, (uint32_t)v);
	cc_write32(vd, off + 4, (uint32_t)(v >> 32));
}

static void set_status(struct virtio_dev *vd, uint8_t bits)
{
	cc_write8(vd, VCC_STATUS, cc_read8(vd, VCC_STATUS) | bits);
}

/* ---- capabilities ------------------------------------------------------- */

/* The region a capability describes, mapped; NULL if it is unusable. */
static volatile uint8_t *cap_region(struct pci_device *d, uint8_t cap, uint32_t *len)
{
	uint8_t bar = pci_read8(d, cap + VCAP_BAR);
	uint32_t off = pci_read32(d, cap + VCAP_OFFSET);
	const struct pci_bar *b;
	uint8_t *va;

	*len = pci_read32(d, cap + VCAP_LENGTH);
	if (bar >= 6)
		return NULL;
	b = &d->bar[bar];
	if (b->io || !b->size || !b->addr || (uint64_t)off + *len > b->size)
		return NULL;
	va = pci_map_bar(d, bar);
	return va ? va + off : NULL;
}

/* Takes the vendor capability at cap if it is the first usable of its
 * type. */
static void take_cap(struct virtio_dev *vd, uint8_t cap)
{
	struct pci_device *d = vd->pci;
	uint8_t type = pci_read8(d, cap + VCAP_TYPE);
	uint8_t cap_len = pci_read8(d, cap + VCAP_LEN);
	volatile uint8_t *va;
	uint32_t len;

	if (cap_len < VCAP_MIN_LEN)
		return;
	switch (type) {
	case VCAP_COMMON:
		if (vd->common)
			return;
		va = cap_region(d, cap, &len);
		if (va && len >= VCC_MIN_LEN)
			vd->common = va;
		return;
	case VCAP_NOTIFY:
		if (vd->notify || cap_len < VCAP_NOTIFY_LEN)
			return;
		va = cap_region(d, cap, &len);
		if (va && len >= 2) {
			vd->notify = va;
			vd->notify_len = len;
			vd->notify_mult = pci_read32(d, cap + VCAP_NOTIFY_MULT);
		}
		return;
	case VCAP_ISR:
		if (vd->isr)
			return;
		va = cap_region(d, cap, &len);
		if (va && len >= 1)
			vd->isr = va;
		return;
	case VCAP_DEVICE:
		if (vd->device)
			return;
		va = cap_region(d, cap, &len);
		if (va) {
			vd->device = va;
			vd->device_len = len;
		}
		return;
	default:
		return; /* PCI_CFG, shared memory, ...: not used */
	}
}

static void find_caps(struct virtio_dev *vd)
{
	struct pci_device *d = vd->pci;
	uint8_t cap = pci_find_cap(d, PCI_CAP_VENDOR);

	for (int i = 0; cap >= 0x40 && i < VIRTIO_MAX_CAPS; i++) {
		if (pci_read8(d, cap) == PCI_CAP_VENDOR)
			take_cap(vd, cap);
		cap = pci_read8(d, cap + 1) & 0xfc;
	}
}

/* ---- device bring-up ---------------------------------------------------- */

int virtio_reset(struct virtio_dev *vd)
{
	uint64_t deadline = clock_ns() + VIRTIO_RESET_TIMEOUT_NS;

	cc_write8(vd, VCC_STATUS, 0);
	while (cc_read8(vd, VCC_STATUS) != 0) {
		if (clock_ns() > deadline)
			return -EIO;
		cpu_relax();
	}
	return 0;
}

int virtio_pci_init(struct virtio_dev *vd, struct pci_device *d)
{
	memset(vd, 0, sizeof(*vd));
	vd->pci = d;
	find_caps(vd);
	if (!vd->common || !vd->notify)
		return -ENODEV;
	if (virtio_reset(vd))
		return -EIO;
	set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(vd, VIRTIO_STATUS_DRIVER);
	/* No configuration-change interrupts: nothing here reacts to them. */
	cc_write16(vd, VCC_MSIX_CONFIG, VIRTIO_MSI_NO_VECTOR);
	return 0;
}

int virtio_negotiate(struct virtio_dev *vd, uint64_t wanted)
{
	uint64_t offered, accepted;

	cc_write32(vd, VCC_DFSELECT, 0);
	offered = cc_read32(vd, VCC_DF);
	cc_write32(vd, VCC_DFSELECT, 1);
	offered |= (uint64_t)cc_read32(vd, VCC_DF) << 32;
	if (!(offered & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		return -ENODEV;
	accepted = offered & (wanted | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	cc_write32(vd, VCC_GFSELECT, 0);
	cc_write32(vd, VCC_GF, (uint32_t)accepted);
	cc_write32(vd, VCC_GFSELECT, 1);
	cc_write32(vd, VCC_GF, (uint32_t)(accepted >> 32));
	set_status(vd, VIRTIO_STATUS_FEATURES_OK);
	if (!(cc_read8(vd, VCC_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return -EIO;
	vd->features = accepted;
	return 0;
}

static uint32_t dev_read32(struct virtio_dev *vd, uint32_t off)
{
	return *(volatile uint32_t *)(vd->device + off);
}

int virtio_cfg_read(struct virtio_dev *vd, uint32_t off, void *out, unsigned size)
{
	uint8_t gen;

	if (!vd->device || (size != 1 && size != 2 && size != 4 && size != 8) ||
	    (uint64_t)off + size > vd->device_len || (off & (size - 1)))
		return -EINVAL;
	for (int i = 0; i < VIRTIO_CFG_RETRIES; i++) {
		uint64_t v;

		gen = cc_read8(vd, VCC_GENERATION);
		switch (size) {
		case 1:
			v = *(volatile uint8_t *)(vd->device + off);
			break;
		case 2:
			v = *(volatile uint16_t *)(vd->device + off);
			break;
		case 4:
			v = dev_read32(vd, off);
			break;
		default:
			v = dev_read32(vd, off) | (uint64_t)dev_read32(vd, off + 4) << 32;
			break;
		}
		if (cc_read8(vd, VCC_GENERATION) == gen) {
			memcpy(out, &v, size); /* little-endian: the low bytes */
			return 0;
		}
	}
	return -EIO;
}

void virtio_driver_ok(struct virtio_dev *vd)
{
	set_status(vd, VIRTIO_STATUS_DRIVER_OK);
}

void virtio_fail(struct virtio_dev *vd)
{
	virtio_reset(vd);
	cc_write8(vd, VCC_STATUS, VIRTIO_STATUS_FAILED);
}

/* ---- virtqueues --------------------------------------------------------- */

static size_t avail_offset(uint16_t size)
{
	return (size_t)size * sizeof(struct vq_desc);
}

static size_t used_offset(uint16_t size)
{
	/* flags, idx, ring[size], used_event; the used ring is 4-aligned */
	return (avail_offset(size) + 2 * (3 + (size_t)size) + 3) & ~(size_t)3;
}

size_t vq_mem_size(uint16_t size)
{
	/* flags, idx, ring[size], avail_event */
	return used_offset(size) + 6 + sizeof(struct vq_used_elem) * (size_t)size;
}

_Static_assert(VQ_MEM_SIZE(128) == 2048 + 262 + 2 + 1030, "VQ_MEM_SIZE");

static volatile uint16_t *used_event(struct virtq *vq)
{
	return &vq->avail->ring[vq->size];
}

static volatile uint16_t *avail_event(struct virtq *vq)
{
	return (volatile uint16_t *)&vq->used->ring[vq->size];
}

void vq_init(struct virtq *vq, void *mem, uint16_t size, bool event_idx)
{
	uint8_t *base = mem;

	memset(mem, 0, vq_mem_size(size));
	memset(vq, 0, sizeof(*vq));
	vq->size = size;
	vq->event_idx = event_idx;
	vq->desc = (struct vq_desc *)base;
	vq->avail = (struct vq_avail *)(base + avail_offset(size));
	vq->used = (struct vq_used *)(base + used_offset(size));
	for (uint16_t i = 0; i < size; i++)
		vq->next[i] = (uint16_t)(i + 1);
	vq->free_head = 0;
	vq->num_free = size;
}

static uint16_t pow2_floor(uint16_t v)
{
	uint16_t p = 1;

	while ((uint32_t)p * 2 <= v)
		p *= 2;
	return p;
}

int vq_setup(struct virtio_dev *vd, struct virtq *vq, uint16_t index, void *mem,
	     size_t mem_size, uint16_t max_size, uint16_t msix_entry)
{
	uint16_t dev_size, size, notify_off;
	uint64_t notify_at;

	if (index >= cc_read16(vd, VCC_NUM_QUEUES))
		return -ENODEV;
	cc_write16(vd, VCC_Q_SELECT, index);
	dev_size = cc_read16(vd, VCC_Q_SIZE);
	if (max_size > VQ_MAX_SIZE)
		max_size = VQ_MAX_SIZE;
	if (dev_size == 0 || max_size == 0)
		return -ENODEV;
	size = pow2_floor(dev_size < max_size ? dev_size : max_size);
	if (vq_mem_size(size) > mem_size)
		return -EINVAL;
	notify_off = cc_read16(vd, VCC_Q_NOTIFY_OFF);
	notify_at = (uint64_t)notify_off * vd->notify_mult;
	if (notify_at + 2 > vd->notify_len)
		return -EIO;

	vq_init(vq, mem, size, virtio_has(vd, VIRTIO_F_RING_EVENT_IDX));
	vq->index = index;
	vq->notify = (volatile uint16_t *)(vd->notify + notify_at);
	cc_write16(vd, VCC_Q_SIZE, size);
	cc_write64(vd, VCC_Q_DESC, virt_to_phys(vq->desc));
	cc_write64(vd, VCC_Q_DRIVER, virt_to_phys(vq->avail));
	cc_write64(vd, VCC_Q_DEVICE, virt_to_phys(vq->used));
	cc_write16(vd, VCC_Q_MSIX, msix_entry);
	if (cc_read16(vd, VCC_Q_MSIX) != msix_entry)
		return -EIO;
	cc_write16(vd, VCC_Q_ENABLE, 1);
	return 0;
}

int vq_next_head(const struct virtq *vq)
{
	return vq->num_free ? vq->free_head : -ENOSPC;
}

int vq_add(struct virtq *vq, const struct vq_seg *segs, unsigned n)
{
	uint16_t head = vq->free_head, id = head, last = head;

	if (n == 0 || n > vq->size)
		return -EINVAL;
	if (n > vq->num_free)
		return -ENOSPC;
	for (unsigned i = 0; i < n; i++) {
		struct vq_desc *d = &vq->desc[id];

		d->addr = segs[i].addr;
		d->len = segs[i].len;
		d->flags = segs[i].device_writes ? VQ_DESC_F_WRITE : 0;
		if (i + 1 < n) {
			d->flags |= VQ_DESC_F_NEXT;
			d->next = vq->next[id];
		}
		last = id;
		id = vq->next[id];
	}
	vq->free_head = vq->next[last];
	vq->num_free -= (uint16_t)n;
	vq->chain_len[head] = (uint16_t)n;
	vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
	vq->avail_idx++;
	return head;
}

/* The event-index test of spec 2.7.10: did idx pass event going from old
 * to new_idx? */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool vq_publish(struct virtq *vq)
{
	uint16_t old = vq->kicked_idx, new_idx = vq->avail_idx;

	__atomic_store_n(&vq->avail->idx, new_idx, __ATOMIC_RELEASE);
	vq->kicked_idx = new_idx;
	if (old == new_idx)
		return false;
	/* Our idx store must be visible before we read what the device
	 * asked for, or both sides may decide the other will act. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx)
		return need_event(*avail_event(vq), new_idx, old);
	return !(__atomic_load_n(&vq->used->flags, __ATOMIC_ACQUIRE) &
		 VQ_USED_F_NO_NOTIFY);
}

void vq_notify(struct virtq *vq)
{
	if (vq->notify)
		*vq->notify = vq->index;
}

uint16_t vq_used_pending(const struct virtq *vq)
{
	return (uint16_t)(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) -
			  vq->last_used);
}

/* Returns chain head's descriptors to the free list. */
static void free_chain(struct virtq *vq, uint16_t head)
{
	uint16_t n = vq->chain_len[head], last = head;

	for (uint16_t i = 1; i < n; i++)
		last = vq->next[last];
	vq->next[last] = vq->free_head;
	vq->free_head = head;
	vq->num_free += n;
	vq->chain_len[head] = 0;
}

int vq_next_used(struct virtq *vq, uint32_t *len)
{
	uint16_t pending = vq_used_pending(vq);
	volatile struct vq_used_elem *e;
	uint32_t id;

	if (pending == 0)
		return -EAGAIN;
	if (pending > vq->size)
		return -EIO;
	e = &vq->used->ring[vq->last_used & (vq->size - 1)];
	id = e->id;
	if (id >= vq->size || vq->chain_len[id] == 0)
		return -EIO;
	*len = e->len;
	vq->last_used++;
	free_chain(vq, (uint16_t)id);
	return (int)id;
}

bool vq_arm(struct virtq *vq, uint16_t n)
{
	if (vq->event_idx)
		*used_event(vq) = (uint16_t)(vq->last_used + n - 1);
	/* The store above must be visible before we look at used->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_used_pending(vq) != 0;
}
