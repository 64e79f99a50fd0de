/*
 * virtio-blk (virtio 1.2 section 5.2) as a struct blkdev: the storage
 * component's disks.
 *
 * One request queue (queue 0; VIRTIO_BLK_F_MQ is not taken), interrupts
 * by MSI-X entry 0 on the boot CPU, no configuration interrupts. Features
 * taken when offered: SIZE_MAX, SEG_MAX, RO, FLUSH and RING_EVENT_IDX.
 *
 * Requests. Each blk_req is one descriptor chain: the 16-byte header
 * (type, sector), the data (read: device-writable), the status byte
 * (device-writable). Headers and status bytes live in per-device arrays
 * indexed by the chain's head descriptor id, so they need no allocation.
 * The data is split into segments at page boundaries where consecutive
 * pages are not physically adjacent, and at size_max; a buffer reachable
 * through the direct map or the kernel image is physically contiguous, so
 * in practice a request takes 3 descriptors. A buffer outside them (the
 * fabric window) comes with its physical address (blk_req.phys) and is
 * contiguous too.
 * Limits follow: max_sectors = 256 unless seg_max/size_max force fewer
 * (computed for the worst case, one segment per page); max_batch = queue
 * size / 3. A scattered request (blk_req.segs: one piece per cache
 * block) takes one or more descriptors per piece; max_segs is half the
 * device's segment limit, so pieces of up to a page always fit.
 *
 * A batch goes on the ring as far as it fits, then one vq_publish() and
 * at most one doorbell (the device's event index, or its NO_NOTIFY flag,
 * usually makes that none while it is still working). The submitting
 * thread then consumes used entries itself and sleeps on the device's
 * wait queue; before sleeping it sets used_event so that the device
 * interrupts only once enough entries are used for some waiter to make
 * progress (the smallest number any waiter needs: its requests still out,
 * or 1 when it waits for ring space), rather than once per request. Any
 * consumption of used entries, by a thread or by the interrupt handler,
 * wakes every waiter, which re-checks its own batch. A waiter also looks
 * at the used ring every 100 ms by itself, so a lost interrupt costs
 * that much, not a hang (counted in missed_interrupts, logged once: seen
 * once in many test runs, cause unknown).
 *
 * Distrust. The device's capacity (< 2^55 sectors), size_max (>= 512),
 * seg_max (>= 1), queue size and notify offset are checked at bring-up
 * (nonsense: -EIO, the device is left FAILED). Every used entry is
 * checked by vq_next_used() (an id that is not a chain in flight, an
 * index that runs ahead) and here (len no more than the writable bytes,
 * exactly them for reads, status byte written and OK), with -EIO for that
 * request. A device that breaks the ring protocol, or completes nothing
 * for 30 s while requests are out, is reset (which stops its DMA) and
 * marked dead: everything in flight and everything later fails with -EIO.
 * Requests the device could refuse are caught before issue: out of range,
 * bad size or buffer -EINVAL, writes to a read-only disk -EROFS.
 *
 * Memory. The rings, headers and status bytes are static (struct vblk,
 * VIRTIO_BLK_MAX_DEVICES of them): a device is brought up once for good,
 * so this costs no allocation, and pages taken on a self test's first
 * probe would look like a leak to the ktest harness.
 *
 * Locking: vb->wq.lock is the ring lock (see struct vblk); it is held
 * only for ring work, never across the doorbell write or a sleep
 * (waitq_wait_locked() drops it). probe_lock serialises bring-up.
 */
#include <arch/memlayout.h>
#include <drivers/pci.h>
#include <drivers/virtio.h>
#include <drivers/virtio_blk.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/wait.h>
#include <lib/printf.h>
#include <lib/string.h>

/* Feature bits (spec 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO	      5
#define VIRTIO_BLK_F_FLUSH    9

/* struct virtio_blk_config: byte offsets. */
#define VBLK_CFG_CAPACITY 0
#define VBLK_CFG_SIZE_MAX 8
#define VBLK_CFG_SEG_MAX  12

/* Request types and status values. */
#define VBLK_T_IN    0
#define VBLK_T_OUT   1
#define VBLK_T_FLUSH 4
#define VBLK_S_OK    0
#define VBLK_S_UNSET 0xff /* written before issue: "device never wrote it" */

#define VBLK_QUEUE_MAX	   128
#define VBLK_MAX_SECTORS   256
#define VBLK_MAX_SEGS	   64		     /* data segments of one request */
#define VBLK_CAPACITY_MAX  (1ull << 55)	     /* sectors; bytes must fit 64 bits */
#define VBLK_TIMEOUT_NS	   (30 * NS_PER_S)   /* no progress: the device is dead */
#define VBLK_RECHECK_NS	   (100 * NS_PER_MS) /* longest sleep without a look */
#define VBLK_ERRORS_LOGGED 8

/* blk_req.status while the driver owns a request (never an errno). */
#define VBLK_TODO     1
#define VBLK_INFLIGHT 2

struct vblk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};
_Static_assert(sizeof(struct vblk_hdr) == 16, "virtio_blk_outhdr is 16 bytes");

/* The requests of one vblk_run(), on the submitter's stack. */
struct vblk_batch {
	unsigned pending; /* in flight; under the ring lock */
};

/* A chain in flight, by head id. */
struct vblk_slot {
	struct blk_req *req; /* NULL: no chain with this head */
	struct vblk_batch *batch;
	uint32_t want_len; /* device-writable bytes: data of a read + status */
	bool read;
};

struct vblk {
	/* Written at bring-up (under probe_lock), read-only afterwards. */
	struct blkdev bd;
	struct virtio_dev vd;
	char name[8];
	uint32_t seg_bytes; /* largest data segment (size_max) */
	uint32_t seg_limit; /* data segments per request */
	int vector;

	/* wq.lock is the ring lock: it guards every field below and the
	 * DMA memory; threads sleep on wq for completions or ring space. */
	struct waitq wq;
	struct virtq vq;
	struct vblk_slot slot[VBLK_QUEUE_MAX];
	bool dead;	   /* reset after misbehaving: everything fails */
	bool armed;	   /* used_event is set and not yet reached */
	uint16_t armed_at; /* ... to this used index */
	unsigned errors_logged;
	struct virtio_blk_stats stats;

	/* DMA memory, under the ring lock. */
	uint8_t ring[VQ_MEM_SIZE(VBLK_QUEUE_MAX)] __attribute__((aligned(PAGE_SIZE)));
	struct vblk_hdr hdr[VBLK_QUEUE_MAX];	 /* by head id; device reads */
	volatile uint8_t status[VBLK_QUEUE_MAX]; /* by head id; device writes */
};

static struct spinlock probe_lock = SPINLOCK_INIT("virtio-blk probe");
static bool probed[VIRTIO_BLK_MAX_DEVICES];	 /* under probe_lock */
static int probe_result[VIRTIO_BLK_MAX_DEVICES]; /* under probe_lock */
static struct vblk vblks[VIRTIO_BLK_MAX_DEVICES];

static int vblk_submit(struct blkdev *bd, struct blk_req *reqs, unsigned n);
static int vblk_flush(struct blkdev *bd);

/* ---- requests ----------------------------------------------------------- */

/* True if [buf, buf + len) is RAM reached through the direct map or the
 * kernel image mapping: memory whose physical address virt_to_phys()
 * gives. */
static bool vblk_buf_ok(const void *buf, size_t len)
{
	uint64_t va = (uint64_t)buf;

	if (va + len < va)
		return false;
	if (va >= KERNEL_VBASE)
		return va - KERNEL_VBASE + len <= (1ull << 30) &&
		       vmm_direct_mapped(va - KERNEL_VBASE, len);
	if (va >= DIRECT_MAP_BASE && va - DIRECT_MAP_BASE < DIRECT_MAP_SIZE)
		return vmm_direct_mapped(va - DIRECT_MAP_BASE, len);
	return false;
}

/* True if r's memory (buf, or segs) is usable and holds count sectors. */
static bool vblk_mem_ok(const struct vblk *vb, const struct blk_req *r)
{
	uint64_t bytes = (uint64_t)r->count * BLK_SECTOR_SIZE, sum = 0;

	if (r->buf && r->phys)
		return r->phys + bytes > r->phys; /* the caller vouches for it */
	if (r->buf)
		return vblk_buf_ok(r->buf, bytes);
	if (!r->segs || r->nsegs == 0 || r->nsegs > vb->bd.max_segs)
		return false;
	for (uint32_t i = 0; i < r->nsegs; i++) {
		const struct blk_seg *g = &r->segs[i];

		if (g->len == 0 || g->len % BLK_SECTOR_SIZE ||
		    !vblk_buf_ok(g->buf, g->len))
			return false;
		sum += g->len;
	}
	return sum == bytes;
}

/* 0 if r may be issued, else the errno it fails with unissued. */
static int vblk_check(const struct vblk *vb, const struct blk_req *r)
{
	if (r->count == 0 || r->count > vb->bd.max_sectors ||
	    r->sector >= vb->bd.nsectors || r->count > vb->bd.nsectors - r->sector ||
	    !vblk_mem_ok(vb, r))
		return -EINVAL;
	if (r->write && vb->bd.read_only)
		return -EROFS;
	return 0;
}

/* Splits [buf, buf + len) into at most max physical segments; returns
 * how many, or -EINVAL if it takes more. phys: buf's physical address if
 * buf is contiguous memory outside the direct map (blk_req.phys), else 0. */
static int vblk_data_segs(const struct vblk *vb, uint8_t *buf, uint64_t phys, size_t len,
			  bool device_writes, struct vq_seg *seg, unsigned max)
{
	uint64_t done = 0;
	unsigned n = 0;

	while (len) {
		size_t piece = PAGE_SIZE - ((uintptr_t)buf & (PAGE_SIZE - 1));
		uint64_t pa = phys ? phys + done : virt_to_phys(buf);

		if (piece > len)
			piece = len;
		buf += piece;
		done += piece;
		len -= piece;
		while (piece) {
			struct vq_seg *last = n ? &seg[n - 1] : NULL;
			uint32_t take;

			if (last && last->addr + last->len == pa &&
			    last->len < vb->seg_bytes) {
				take = vb->seg_bytes - last->len;
				if (take > piece)
					take = (uint32_t)piece;
				last->len += take;
			} else {
				if (n == max)
					return -EINVAL;
				take = piece < vb->seg_bytes ? (uint32_t)piece
							     : vb->seg_bytes;
				seg[n++] = (struct vq_seg){pa, take, device_writes};
			}
			pa += take;
			piece -= take;
		}
	}
	return (int)n;
}

/*
 * Puts r (a flush if type is VBLK_T_FLUSH) on the ring, unpublished.
 * Returns 0, -ENOSPC (not enough free descriptors now) or -EINVAL (the
 * buffer takes too many segments). Ring lock held.
 */
static int vblk_post(struct vblk *vb, struct blk_req *r, uint32_t type,
		     struct vblk_batch *b)
{
	struct vq_seg seg[VBLK_MAX_SEGS + 2];
	bool read = type == VBLK_T_IN;
	size_t bytes = type == VBLK_T_FLUSH ? 0 : (size_t)r->count * BLK_SECTOR_SIZE;
	int head = vq_next_head(&vb->vq), n = 1;

	if (head < 0)
		return -ENOSPC;
	if (bytes && r->buf) {
		int k = vblk_data_segs(vb, r->buf, r->phys, bytes, read, seg + 1,
				       vb->seg_limit);

		if (k < 0)
			return k;
		n += k;
	}
	for (uint32_t i = 0; bytes && !r->buf && i < r->nsegs; i++) {
		int k = vblk_data_segs(vb, r->segs[i].buf, 0, r->segs[i].len, read,
				       seg + n, vb->seg_limit - (unsigned)(n - 1));

		if (k < 0)
			return k;
		n += k;
	}
	seg[0] = (struct vq_seg){virt_to_phys(&vb->hdr[head]), sizeof(struct vblk_hdr),
				 false};
	seg[n++] =
		(struct vq_seg){virt_to_phys((const void *)&vb->status[head]), 1, true};
	if ((unsigned)n > vb->vq.num_free)
		return -ENOSPC;
	vb->hdr[head] = (struct vblk_hdr){.type = type,
					  .sector = type == VBLK_T_FLUSH ? 0 : r->sector};
	vb->status[head] = VBLK_S_UNSET;
	if (vq_add(&vb->vq, seg, (unsigned)n) != head)
		return -EINVAL; /* cannot happen: n <= num_free */
	vb->slot[head] = (struct vblk_slot){.req = r,
					    .batch = b,
					    .want_len = (read ? (uint32_t)bytes : 0) + 1,
					    .read = read};
	r->status = VBLK_INFLIGHT;
	b->pending++;
	vb->stats.requests++;
	return 0;
}

/* Ends the request of chain head with err. Ring lock held. */
static void vblk_end(struct vblk *vb, uint16_t head, int err)
{
	struct vblk_slot *s = &vb->slot[head];

	s->req->status = err;
	s->batch->pending--;
	*s = (struct vblk_slot){0};
}

/* The device finished chain head, saying it wrote len bytes. */
static void vblk_finish(struct vblk *vb, uint16_t head, uint32_t len)
{
	struct vblk_slot *s = &vb->slot[head];
	uint8_t st = vb->status[head];
	int err = 0;

	if (len > s->want_len || (s->read && len != s->want_len) || st != VBLK_S_OK) {
		err = -EIO;
		if (vb->errors_logged < VBLK_ERRORS_LOGGED) {
			vb->errors_logged++;
			pr_warn("virtio-blk: %s: request type %u sector %llu failed: "
				"status %u, %u of %u bytes written",
				vb->name, vb->hdr[head].type,
				(unsigned long long)vb->hdr[head].sector, st, len,
				s->want_len);
		}
	}
	vb->stats.completions++;
	vblk_end(vb, head, err);
}

/* Gives up on the device: reset (no more DMA), fail everything in
 * flight, wake every waiter. Ring lock held. */
static void vblk_die(struct vblk *vb, const char *why)
{
	if (vb->dead)
		return;
	vb->dead = true;
	pr_err("virtio-blk: %s: %s; device reset, all its requests fail from now on",
	       vb->name, why);
	virtio_fail(&vb->vd);
	for (uint16_t h = 0; h < VBLK_QUEUE_MAX; h++)
		if (vb->slot[h].req)
			vblk_end(vb, h, -EIO);
	waitq_wake_all_locked(&vb->wq);
}

/* Consumes every used entry; wakes the waiters if there was any. Ring
 * lock held. */
static void vblk_reap(struct vblk *vb)
{
	bool any = false;
	uint32_t len;
	int head;

	while (!vb->dead && (head = vq_next_used(&vb->vq, &len)) != -EAGAIN) {
		if (head < 0) {
			vblk_die(vb, "used ring corrupt");
			return;
		}
		vblk_finish(vb, (uint16_t)head, len);
		any = true;
	}
	if (any) {
		vb->armed = false;
		waitq_wake_all_locked(&vb->wq);
	}
}

/* Asks for an interrupt once k more entries are used, unless an earlier
 * point is armed already; returns true if entries wait now (consume them
 * instead of sleeping). k never exceeds the chains in flight. Ring lock
 * held. */
static bool vblk_arm(struct vblk *vb, unsigned k)
{
	uint16_t from = vb->vq.last_used, target = (uint16_t)(from + k - 1);

	if (vb->armed && (uint16_t)(vb->armed_at - from) <= (uint16_t)(target - from))
		return vq_used_pending(&vb->vq) != 0;
	vb->armed = true;
	vb->armed_at = target;
	return vq_arm(&vb->vq, (uint16_t)k);
}

/*
 * Sleeps until woken, or for VBLK_RECHECK_NS at most: then it consumes
 * what the device finished meanwhile, in case an interrupt went missing
 * (counted when the armed point was passed: the interrupt was due).
 * Returns true if the sleep timed out. Ring lock held.
 */
static bool vblk_wait(struct vblk *vb)
{
	if (!waitq_wait_locked(&vb->wq, clock_ns() + VBLK_RECHECK_NS))
		return false;
	if (vb->armed &&
	    vq_used_pending(&vb->vq) > (uint16_t)(vb->armed_at - vb->vq.last_used)) {
		if (!vb->stats.missed_interrupts++)
			pr_warn("virtio-blk: %s: an interrupt went missing; completions "
				"are also polled every %llu ms",
				vb->name, VBLK_RECHECK_NS / NS_PER_MS);
	}
	vblk_reap(vb);
	return true;
}

static uint32_t vblk_type(const struct blk_req *r, bool flush)
{
	return flush ? VBLK_T_FLUSH : r->write ? VBLK_T_OUT : VBLK_T_IN;
}

/*
 * Issues every request of reqs[0..n) whose status is VBLK_TODO and waits
 * until all have ended (status 0 or -errno). Thread context, no lock held.
 */
static void vblk_run(struct vblk *vb, struct blk_req *reqs, unsigned n, bool flush)
{
	struct vblk_batch b = {0};
	uint64_t seen, deadline;
	unsigned i = 0;

	spin_lock(&vb->wq.lock);
	seen = vb->stats.completions;
	deadline = clock_ns() + VBLK_TIMEOUT_NS;
	while (!vb->dead) {
		unsigned posted = 0;

		for (; i < n; i++) {
			int err;

			if (reqs[i].status != VBLK_TODO)
				continue;
			err = vblk_post(vb, &reqs[i], vblk_type(&reqs[i], flush), &b);
			if (err == -ENOSPC)
				break;
			if (err)
				reqs[i].status = err;
			else
				posted++;
		}
		if (posted && vq_publish(&vb->vq)) {
			vb->stats.notifies++;
			spin_unlock(&vb->wq.lock);
			vq_notify(&vb->vq);
			spin_lock(&vb->wq.lock);
		}
		vblk_reap(vb);
		if (vb->dead || (i == n && b.pending == 0))
			break;
		if (vblk_arm(vb, i < n ? 1 : b.pending))
			continue;
		if (vblk_wait(vb) && vb->stats.completions == seen &&
		    clock_ns() >= deadline)
			vblk_die(vb, "no completion for 30 s");
		if (vb->stats.completions != seen) {
			seen = vb->stats.completions;
			deadline = clock_ns() + VBLK_TIMEOUT_NS;
		}
	}
	for (; i < n; i++) /* not issued: the device died */
		if (reqs[i].status == VBLK_TODO)
			reqs[i].status = -EIO;
	spin_unlock(&vb->wq.lock);
}

static int vblk_submit(struct blkdev *bd, struct blk_req *reqs, unsigned n)
{
	struct vblk *vb = bd->priv;

	if (n && !reqs)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		int err = vblk_check(vb, &reqs[i]);

		reqs[i].status = err ? err : VBLK_TODO;
	}
	vblk_run(vb, reqs, n, false);
	for (unsigned i = 0; i < n; i++)
		if (reqs[i].status)
			return reqs[i].status;
	return 0;
}

static int vblk_flush(struct blkdev *bd)
{
	struct vblk *vb = bd->priv;
	struct blk_req r = {.status = VBLK_TODO};

	if (!virtio_has(&vb->vd, VIRTIO_BLK_F_FLUSH))
		return 0; /* no volatile cache to flush */
	vblk_run(vb, &r, 1, true);
	return r.status;
}

static void vblk_irq(struct trap_frame *tf, void *arg)
{
	struct vblk *vb = arg;

	spin_lock(&vb->wq.lock);
	vb->stats.interrupts++;
	vblk_reap(vb);
	spin_unlock(&vb->wq.lock);
}

/* ---- bring-up ----------------------------------------------------------- */

static struct pci_device *vblk_find(unsigned nth)
{
	for (unsigned i = 0; i < pci_count(); i++) {
		struct pci_device *d = pci_get(i);

		if (d->vendor == VIRTIO_VENDOR &&
		    (d->device == VIRTIO_BLK_DEV_TRANSITIONAL ||
		     d->device == VIRTIO_BLK_DEV_MODERN) &&
		    nth-- == 0)
			return d;
	}
	return NULL;
}

/* Data segments a buffer of len bytes takes at worst (no two pages
 * adjacent, segments of seg_bytes). */
static uint64_t vblk_worst_segs(const struct vblk *vb, uint64_t len)
{
	uint64_t segs = (len + PAGE_SIZE - 1) / PAGE_SIZE + 1;

	if (vb->seg_bytes < PAGE_SIZE)
		segs += (len + vb->seg_bytes - 1) / vb->seg_bytes;
	return segs;
}

/* Reads and checks the configuration; sets the limits. */
static int vblk_config(struct vblk *vb, uint64_t *capacity)
{
	struct virtio_dev *vd = &vb->vd;
	uint32_t size_max = 0, seg_max = 0;
	uint32_t sectors = VBLK_MAX_SECTORS;

	if (virtio_cfg_read(vd, VBLK_CFG_CAPACITY, capacity, 8) ||
	    *capacity >= VBLK_CAPACITY_MAX)
		return -EIO;
	vb->seg_bytes = 0x80000000u;
	if (virtio_has(vd, VIRTIO_BLK_F_SIZE_MAX)) {
		if (virtio_cfg_read(vd, VBLK_CFG_SIZE_MAX, &size_max, 4) ||
		    size_max < BLK_SECTOR_SIZE)
			return -EIO;
		if (size_max < vb->seg_bytes)
			vb->seg_bytes = size_max;
	}
	vb->seg_limit = VBLK_MAX_SEGS;
	if (virtio_has(vd, VIRTIO_BLK_F_SEG_MAX)) {
		if (virtio_cfg_read(vd, VBLK_CFG_SEG_MAX, &seg_max, 4) || seg_max == 0)
			return -EIO;
		if (seg_max < vb->seg_limit)
			vb->seg_limit = seg_max;
	}
	/* A chain must fit the ring: header + data + status. */
	if (vb->vq.size - 2u < vb->seg_limit)
		vb->seg_limit = vb->vq.size - 2u;
	while (sectors > 1 &&
	       vblk_worst_segs(vb, (uint64_t)sectors * BLK_SECTOR_SIZE) > vb->seg_limit)
		sectors--;
	vb->bd.max_sectors = sectors;
	vb->bd.max_batch = vb->vq.size / 3;
	/* A piece of up to a page spans at most two pages. */
	vb->bd.max_segs = vb->seg_limit / 2 ? vb->seg_limit / 2 : 1;
	return 0;
}

static const char *vblk_size_text(uint64_t sectors, char *buf, size_t len)
{
	uint64_t bytes = sectors * BLK_SECTOR_SIZE;

	if (bytes >= (1ull << 20))
		snprintf(buf, len, "%llu MiB", (unsigned long long)(bytes >> 20));
	else
		snprintf(buf, len, "%llu KiB", (unsigned long long)(bytes >> 10));
	return buf;
}

/* Brings device nth up into vb; probe_lock held. */
static int vblk_bring_up(struct vblk *vb, unsigned nth)
{
	const uint64_t wanted =
		VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
		VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
		VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	struct pci_device *d = vblk_find(nth);
	const char *step;
	uint64_t capacity;
	char size[24];
	int err;

	if (!d)
		return -ENODEV;
	snprintf(vb->name, sizeof(vb->name), "vd%c", 'a' + nth);
	waitq_init(&vb->wq, "virtio-blk");
	step = "transport";
	err = virtio_pci_init(&vb->vd, d);
	if (err)
		goto fail;
	step = "features";
	err = virtio_negotiate(&vb->vd, wanted);
	if (err)
		goto fail;
	step = "MSI-X";
	err = pci_msix_enable(d);
	if (err < 0)
		goto fail;
	err = pci_msix_route(d, 0, cpus[0].apic_id, vblk_irq, vb);
	if (err < 0)
		goto fail_msix;
	vb->vector = err;
	step = "queue";
	err = vq_setup(&vb->vd, &vb->vq, 0, vb->ring, sizeof(vb->ring), VBLK_QUEUE_MAX,
		       0);
	if (!err && vb->vq.size < 4)
		err = -EIO;
	if (err)
		goto fail_msix;
	step = "configuration";
	err = vblk_config(vb, &capacity);
	if (err)
		goto fail_msix;
	virtio_driver_ok(&vb->vd);

	vb->bd.name = vb->name;
	vb->bd.nsectors = capacity;
	vb->bd.read_only = virtio_has(&vb->vd, VIRTIO_BLK_F_RO);
	vb->bd.submit = vblk_submit;
	vb->bd.flush = vblk_flush;
	vb->bd.priv = vb;
	pr_info("virtio-blk: %s %02x:%02x.%x %s, queue %u, %u sectors/request%s%s, "
		"vector %d",
		vb->name, d->bus, d->dev, d->fn,
		vblk_size_text(capacity, size, sizeof(size)), vb->vq.size,
		vb->bd.max_sectors,
		virtio_has(&vb->vd, VIRTIO_BLK_F_FLUSH) ? ", flush" : "",
		vb->bd.read_only ? ", read-only" : "", vb->vector);
	return 0;

fail_msix:
	pci_msix_disable(d);
fail:
	if (vb->vd.common)
		virtio_fail(&vb->vd);
	pr_err("virtio-blk: %s %02x:%02x.%x: bring-up failed at the %s step (error %d)",
	       vb->name, d->bus, d->dev, d->fn, step, err);
	return err;
}

int virtio_blk_probe(unsigned nth, struct blkdev **out)
{
	int err;

	if (nth >= VIRTIO_BLK_MAX_DEVICES)
		return -ENODEV;
	spin_lock(&probe_lock);
	if (!probed[nth]) {
		probe_result[nth] = vblk_bring_up(&vblks[nth], nth);
		probed[nth] = true;
	}
	err = probe_result[nth];
	if (!err)
		*out = &vblks[nth].bd;
	spin_unlock(&probe_lock);
	return err;
}

void virtio_blk_get_stats(struct blkdev *bd, struct virtio_blk_stats *out)
{
	struct vblk *vb;

	memset(out, 0, sizeof(*out));
	if (!bd || bd->submit != vblk_submit)
		return;
	vb = bd->priv;
	spin_lock(&vb->wq.lock);
	*out = vb->stats;
	spin_unlock(&vb->wq.lock);
}
