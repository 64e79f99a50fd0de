/*
 * Self tests of the virtio transport's rings and of the virtio-blk
 * driver.
 *
 * The ring tests (virtio_vq_*) need no device: they play the device
 * themselves on a queue in memory, including a device that lies.
 *
 * The driver tests need the disks the storage image's ktest boot gets
 * (scripts/ktest.py): vda, a 16 MiB zero-filled scratch disk these tests
 * overwrite freely, and vdb, an 8 MiB ext2 image (read here only to check
 * the superblock magic). Other roles boot without disks: there the probe
 * test checks that no disk is found and the other driver tests pass
 * without doing anything. Every buffer is freed; the device itself stays
 * up (its memory is static).
 *
 * Scratch disk regions: sectors 0-255 batch test, 1000-1500 big batches,
 * 4096-5119 full-size requests, 8192-12287 and 16384-20479 the two
 * threads, the last sector the range edge.
 */
#include <arch/memlayout.h>
#include <drivers/virtio.h>
#include <drivers/virtio_blk.h>
#include <kernel/config.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <lib/string.h>

#define SCRATCH_SECTORS (16u << 11) /* 16 MiB */
#define EXT2_SECTORS	(8u << 11)  /* 8 MiB */
#define EXT2_MAGIC	0xef53
#define EXT2_MAGIC_AT	(1024 + 56) /* superblock offset + s_magic */

static bool storage_role(void)
{
	return this_role.id == ROLE_STORAGE;
}

/* vda, or NULL (and a failed check on the storage role). */
static struct blkdev *scratch(struct ktest_ctx *kt)
{
	struct blkdev *bd = NULL;

	if (!storage_role())
		return NULL;
	KT_EXPECT_EQ(virtio_blk_probe(0, &bd), 0);
	return bd;
}

static uint8_t pattern(uint64_t sector, unsigned byte, unsigned seed)
{
	return (uint8_t)(sector * 37 + byte * 11 + seed * 101 + (sector >> 8));
}

static void fill(uint8_t *buf, uint64_t sector, unsigned count, unsigned seed)
{
	for (unsigned s = 0; s < count; s++)
		for (unsigned j = 0; j < BLK_SECTOR_SIZE; j++)
			buf[s * BLK_SECTOR_SIZE + j] = pattern(sector + s, j, seed);
}

/* Sectors of buf that differ from the pattern. */
static unsigned mismatches(const uint8_t *buf, uint64_t sector, unsigned count,
			   unsigned seed)
{
	unsigned bad = 0;

	for (unsigned s = 0; s < count; s++)
		for (unsigned j = 0; j < BLK_SECTOR_SIZE; j++)
			if (buf[s * BLK_SECTOR_SIZE + j] !=
			    pattern(sector + s, j, seed)) {
				bad++;
				break;
			}
	return bad;
}

static unsigned order_for(size_t bytes)
{
	unsigned order = 0;

	while ((size_t)PAGE_SIZE << order < bytes)
		order++;
	return order;
}

/* ---- rings, with a fake device ------------------------------------------ */

#define FAKE_Q 8
static uint8_t fake_ring[VQ_MEM_SIZE(FAKE_Q)] __attribute__((aligned(PAGE_SIZE)));

static void fake_use(struct virtq *vq, uint16_t slot, uint32_t id, uint32_t len)
{
	vq->used->ring[slot & (vq->size - 1)] = (struct vq_used_elem){id, len};
}

KTEST(virtio_vq_add_and_use)
{
	struct virtq vq;
	struct vq_seg seg[3] = {
		{0x1000, 16, false}, {0x2000, 512, true}, {0x3000, 1, true}};
	uint32_t len;
	int h0, h1, h2;

	vq_init(&vq, fake_ring, FAKE_Q, true);
	KT_EXPECT_EQ(vq.num_free, FAKE_Q);
	KT_EXPECT_EQ(vq_next_head(&vq), 0);
	h0 = vq_add(&vq, seg, 3);
	KT_ASSERT(h0 == 0);
	KT_EXPECT_EQ(vq.desc[0].addr, 0x1000);
	KT_EXPECT_EQ(vq.desc[0].flags, VQ_DESC_F_NEXT);
	KT_EXPECT_EQ(vq.desc[vq.desc[0].next].flags, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE);
	KT_EXPECT_EQ(vq.desc[vq.desc[vq.desc[0].next].next].flags, VQ_DESC_F_WRITE);
	h1 = vq_add(&vq, seg, 3);
	KT_EXPECT_EQ(vq_add(&vq, seg, 3), -ENOSPC); /* 2 left */
	KT_EXPECT_EQ(vq_add(&vq, seg, 0), -EINVAL);
	h2 = vq_add(&vq, seg, 2);
	KT_EXPECT(h1 >= 0 && h2 >= 0 && h1 != h2 && h0 != h1);
	KT_EXPECT_EQ(vq.num_free, 0);
	KT_EXPECT_EQ(vq_next_head(&vq), -ENOSPC);

	/* Event index: the device wants a kick at the first new entry. */
	KT_EXPECT(vq_publish(&vq));
	KT_EXPECT_EQ(vq.avail->idx, 3);
	KT_EXPECT(!vq_publish(&vq)); /* nothing new */

	/* The device finishes h1 then h0, out of order. */
	KT_EXPECT_EQ(vq_next_used(&vq, &len), -EAGAIN);
	KT_EXPECT(!vq_arm(&vq, 2));
	fake_use(&vq, 0, (uint32_t)h1, 513);
	fake_use(&vq, 1, (uint32_t)h0, 1);
	vq.used->idx = 2;
	KT_EXPECT_EQ(vq_used_pending(&vq), 2);
	KT_EXPECT(vq_arm(&vq, 1));
	KT_EXPECT_EQ(vq_next_used(&vq, &len), h1);
	KT_EXPECT_EQ(len, 513);
	KT_EXPECT_EQ(vq_next_used(&vq, &len), h0);
	KT_EXPECT_EQ(vq.num_free, 6);
	KT_EXPECT_EQ(vq_next_used(&vq, &len), -EAGAIN);
	/* used_event asks for an interrupt after one more entry */
	KT_EXPECT(!vq_arm(&vq, 1));
	KT_EXPECT_EQ(vq.avail->ring[FAKE_Q], 2);
}

KTEST(virtio_vq_rejects_a_lying_device)
{
	struct virtq vq;
	struct vq_seg seg[2] = {{0x1000, 16, false}, {0x3000, 1, true}};
	uint32_t len = 77;
	int h0, h1;

	vq_init(&vq, fake_ring, FAKE_Q, false);
	h0 = vq_add(&vq, seg, 2);
	h1 = vq_add(&vq, seg, 2);
	KT_ASSERT(h0 >= 0 && h1 >= 0);
	vq_publish(&vq);

	fake_use(&vq, 0, FAKE_Q, 1); /* id out of range */
	vq.used->idx = 1;
	KT_EXPECT_EQ(vq_next_used(&vq, &len), -EIO);
	fake_use(&vq, 0, (uint32_t)vq.desc[h0].next, 1); /* not a head */
	KT_EXPECT_EQ(vq_next_used(&vq, &len), -EIO);
	fake_use(&vq, 0, 0xffffffffu, 1);
	KT_EXPECT_EQ(vq_next_used(&vq, &len), -EIO);
	vq.used->idx = FAKE_Q + 1; /* ran ahead by more than the queue */
	KT_EXPECT_EQ(vq_next_used(&vq, &len), -EIO);
	KT_EXPECT_EQ(vq.last_used, 0); /* nothing consumed */
	KT_EXPECT_EQ(len, 77);

	fake_use(&vq, 0, (uint32_t)h0, 1);
	vq.used->idx = 1;
	KT_EXPECT_EQ(vq_next_used(&vq, &len), h0);
	fake_use(&vq, 1, (uint32_t)h0, 1); /* the same chain twice */
	vq.used->idx = 2;
	KT_EXPECT_EQ(vq_next_used(&vq, &len), -EIO);
	KT_EXPECT_EQ(vq.num_free, FAKE_Q - 2);

	/* Without the event index, NO_NOTIFY decides. */
	vq_add(&vq, seg, 2);
	vq.used->flags = VQ_USED_F_NO_NOTIFY;
	KT_EXPECT(!vq_publish(&vq));
	vq_add(&vq, seg, 2);
	vq.used->flags = 0;
	KT_EXPECT(vq_publish(&vq));
}

/* ---- the driver --------------------------------------------------------- */

KTEST(virtio_blk_probe_finds_the_disks)
{
	struct blkdev *a = NULL, *a2 = NULL, *b = NULL, *none = NULL;
	struct blk_req r;
	uint8_t *buf;

	if (!storage_role()) {
		KT_EXPECT_EQ(virtio_blk_probe(0, &a), -ENODEV);
		KT_EXPECT(a == NULL);
		return;
	}
	KT_ASSERT(virtio_blk_probe(0, &a) == 0);
	KT_EXPECT_EQ(virtio_blk_probe(0, &a2), 0);
	KT_EXPECT(a == a2);
	KT_EXPECT(strcmp(a->name, "vda") == 0);
	KT_EXPECT_EQ(a->nsectors, SCRATCH_SECTORS);
	KT_EXPECT(a->max_sectors >= 8 && a->max_sectors <= 256);
	KT_EXPECT(a->max_batch >= 1);
	KT_EXPECT(!a->read_only);
	KT_EXPECT_EQ(virtio_blk_probe(2, &none), -ENODEV);
	KT_EXPECT_EQ(virtio_blk_probe(VIRTIO_BLK_MAX_DEVICES, &none), -ENODEV);
	KT_EXPECT(none == NULL);

	KT_ASSERT(virtio_blk_probe(1, &b) == 0);
	KT_EXPECT(b != a);
	KT_EXPECT(strcmp(b->name, "vdb") == 0);
	KT_EXPECT_EQ(b->nsectors, EXT2_SECTORS);
	buf = kzalloc(2 * BLK_SECTOR_SIZE);
	KT_ASSERT(buf != NULL);
	r = (struct blk_req){.sector = 2, .count = 2, .buf = buf};
	KT_EXPECT_EQ(blkdev_submit(b, &r, 1), 0);
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_EQ(buf[EXT2_MAGIC_AT - 1024] | buf[EXT2_MAGIC_AT - 1024 + 1] << 8,
		     EXT2_MAGIC);
	kfree(buf);
}

/* Writes count sectors at sector in n equal requests as one batch
 * (reads if !write), from/to buf. */
static int batch(struct blkdev *bd, bool write, uint64_t sector, unsigned n, unsigned per,
		 uint8_t *buf, struct blk_req *reqs)
{
	for (unsigned i = 0; i < n; i++)
		reqs[i] =
			(struct blk_req){.sector = sector + (uint64_t)i * per,
					 .count = per,
					 .write = write,
					 .buf = buf + (size_t)i * per * BLK_SECTOR_SIZE};
	return blkdev_submit(bd, reqs, n);
}

KTEST(virtio_blk_batch_write_read_back)
{
	enum { N = 32, PER = 8, SECTOR = 0 };
	struct blkdev *bd = scratch(kt);
	struct virtio_blk_stats s0, s1, s2;
	struct blk_req *reqs;
	uint8_t *wbuf, *rbuf;
	unsigned order = order_for(N * PER * BLK_SECTOR_SIZE), ok = 0;

	if (!bd)
		return;
	KT_ASSERT(bd->max_batch >= N);
	wbuf = page_alloc(order);
	rbuf = page_zalloc(order);
	reqs = kzalloc(N * sizeof(*reqs));
	KT_ASSERT(wbuf && rbuf && reqs);
	fill(wbuf, SECTOR, N * PER, 1);

	virtio_blk_get_stats(bd, &s0);
	KT_EXPECT_EQ(batch(bd, true, SECTOR, N, PER, wbuf, reqs), 0);
	for (unsigned i = 0; i < N; i++)
		ok += reqs[i].status == 0;
	KT_EXPECT_EQ(ok, N);
	virtio_blk_get_stats(bd, &s1);
	KT_EXPECT_EQ(s1.requests - s0.requests, N);
	KT_EXPECT_EQ(s1.completions - s0.completions, N);
	KT_EXPECT(s1.notifies - s0.notifies <= 1); /* one doorbell per batch */

	/* Read back as 4 requests of 64 sectors. */
	KT_EXPECT_EQ(batch(bd, false, SECTOR, 4, N * PER / 4, rbuf, reqs), 0);
	KT_EXPECT_EQ(mismatches(rbuf, SECTOR, N * PER, 1), 0);
	virtio_blk_get_stats(bd, &s2);
	KT_EXPECT_EQ(s2.requests - s1.requests, 4);
	KT_EXPECT(s2.notifies - s1.notifies <= 1);

	/* An unaligned buffer that crosses a page boundary. */
	memset(rbuf, 0, 2 * PAGE_SIZE);
	reqs[0] = (struct blk_req){.sector = SECTOR + 3, .count = 9, .buf = rbuf + 100};
	KT_EXPECT_EQ(blkdev_submit(bd, reqs, 1), 0);
	KT_EXPECT_EQ(mismatches(rbuf + 100, SECTOR + 3, 9, 1), 0);
	KT_EXPECT_EQ(rbuf[99], 0);
	KT_EXPECT_EQ(rbuf[100 + 9 * BLK_SECTOR_SIZE], 0);

	kfree(reqs);
	page_free(wbuf, order);
	page_free(rbuf, order);
}

KTEST(virtio_blk_batches_larger_than_the_queue)
{
	struct blkdev *bd = scratch(kt);
	struct blk_req *reqs;
	uint8_t *wbuf, *rbuf;
	unsigned n, order, ok = 0, bad = 0;

	if (!bd)
		return;
	n = 3 * bd->max_batch + 5;
	order = order_for((size_t)n * BLK_SECTOR_SIZE);
	wbuf = page_alloc(order);
	rbuf = page_zalloc(order);
	reqs = kzalloc(n * sizeof(*reqs));
	KT_ASSERT(wbuf && rbuf && reqs);
	/* Single sectors, every third one, written backwards. */
	for (unsigned i = 0; i < n; i++) {
		uint64_t sector = 1000 + 3 * (uint64_t)(n - 1 - i);

		fill(wbuf + i * BLK_SECTOR_SIZE, sector, 1, 2);
		reqs[i] = (struct blk_req){.sector = sector,
					   .count = 1,
					   .write = true,
					   .buf = wbuf + i * BLK_SECTOR_SIZE};
	}
	KT_EXPECT_EQ(blkdev_submit(bd, reqs, n), 0);
	for (unsigned i = 0; i < n; i++) {
		ok += reqs[i].status == 0;
		reqs[i].write = false;
		reqs[i].buf = rbuf + i * BLK_SECTOR_SIZE;
	}
	KT_EXPECT_EQ(ok, n);
	KT_EXPECT_EQ(blkdev_submit(bd, reqs, n), 0);
	for (unsigned i = 0; i < n; i++)
		bad += mismatches(rbuf + i * BLK_SECTOR_SIZE, reqs[i].sector, 1, 2);
	KT_EXPECT_EQ(bad, 0);
	kfree(reqs);
	page_free(wbuf, order);
	page_free(rbuf, order);
}

KTEST(virtio_blk_full_size_requests)
{
	enum { N = 4, SECTOR = 4096 };
	struct blkdev *bd = scratch(kt);
	struct blk_req reqs[N];
	uint8_t *wbuf, *rbuf;
	unsigned per, order;

	if (!bd)
		return;
	per = bd->max_sectors;
	order = order_for((size_t)N * per * BLK_SECTOR_SIZE);
	wbuf = page_alloc(order);
	rbuf = page_zalloc(order);
	KT_ASSERT(wbuf && rbuf);
	fill(wbuf, SECTOR, N * per, 3);
	KT_EXPECT_EQ(batch(bd, true, SECTOR, N, per, wbuf, reqs), 0);
	KT_EXPECT_EQ(batch(bd, false, SECTOR, N, per, rbuf, reqs), 0);
	KT_EXPECT_EQ(mismatches(rbuf, SECTOR, N * per, 3), 0);
	page_free(wbuf, order);
	page_free(rbuf, order);
}

KTEST(virtio_blk_bad_requests_never_reach_the_device)
{
	struct blkdev *bd = scratch(kt);
	struct virtio_blk_stats s0, s1;
	struct blk_req r[9];
	uint8_t *buf;
	uint64_t last;

	if (!bd)
		return;
	last = bd->nsectors - 1;
	buf = page_zalloc(order_for(((size_t)bd->max_sectors + 1) * BLK_SECTOR_SIZE));
	KT_ASSERT(buf != NULL);
	r[0] = (struct blk_req){.sector = bd->nsectors, .count = 1, .buf = buf};
	r[1] = (struct blk_req){.sector = last, .count = 2, .buf = buf};
	r[2] = (struct blk_req){.sector = 0, .count = 0, .buf = buf};
	r[3] = (struct blk_req){.sector = 0, .count = bd->max_sectors + 1, .buf = buf};
	r[4] = (struct blk_req){.sector = 0, .count = 1, .buf = NULL};
	r[5] = (struct blk_req){.sector = UINT64_MAX, .count = 1, .buf = buf};
	r[6] = (struct blk_req){.sector = 0, .count = 1, .buf = (void *)0x1000};
	r[7] = (struct blk_req){.sector = 0, .count = 1, .buf = (void *)MMIO_BASE};
	r[8] = (struct blk_req){.sector = 2, .count = UINT32_MAX, .buf = buf};

	virtio_blk_get_stats(bd, &s0);
	KT_EXPECT_EQ(blkdev_submit(bd, r, 9), -EINVAL);
	for (unsigned i = 0; i < 9; i++)
		KT_EXPECT_EQ(r[i].status, -EINVAL);
	KT_EXPECT_EQ(blkdev_submit(bd, r, 0), 0);
	virtio_blk_get_stats(bd, &s1);
	KT_EXPECT_EQ(s1.requests, s0.requests);

	/* Mixed: the good ones run, the first error is returned. */
	r[0] = (struct blk_req){.sector = last, .count = 1, .write = true, .buf = buf};
	r[1] = (struct blk_req){.sector = last + 1, .count = 1, .buf = buf};
	r[2] = (struct blk_req){.sector = last, .count = 1, .buf = buf + BLK_SECTOR_SIZE};
	fill(buf, last, 1, 4);
	KT_EXPECT_EQ(blkdev_submit(bd, r, 1), 0);
	KT_EXPECT_EQ(blkdev_submit(bd, r + 1, 2), -EINVAL);
	KT_EXPECT_EQ(r[1].status, -EINVAL);
	KT_EXPECT_EQ(r[2].status, 0);
	KT_EXPECT_EQ(mismatches(buf + BLK_SECTOR_SIZE, last, 1, 4), 0);
	virtio_blk_get_stats(bd, &s1);
	KT_EXPECT_EQ(s1.requests, s0.requests + 2);
	page_free(buf, order_for(((size_t)bd->max_sectors + 1) * BLK_SECTOR_SIZE));
}

KTEST(virtio_blk_flush)
{
	struct blkdev *bd = scratch(kt);
	struct virtio_blk_stats s0, s1;

	if (!bd)
		return;
	virtio_blk_get_stats(bd, &s0);
	KT_EXPECT_EQ(blkdev_flush(bd), 0);
	KT_EXPECT_EQ(blkdev_flush(bd), 0);
	virtio_blk_get_stats(bd, &s1);
	/* QEMU offers VIRTIO_BLK_F_FLUSH: two FLUSH requests went out. */
	KT_EXPECT_EQ(s1.requests - s0.requests, 2);
	KT_EXPECT_EQ(s1.completions - s0.completions, 2);
}

/* One of two threads hammering the disk at once. */
struct hammer {
	struct blkdev *bd;
	uint64_t sector; /* its own region */
	unsigned seed;
	unsigned n; /* requests per batch */
	unsigned rounds;
	unsigned errors, mismatches;
};

#define HAMMER_PER 8

static void hammer_run(void *arg)
{
	struct hammer *h = arg;
	size_t bytes = (size_t)h->n * HAMMER_PER * BLK_SECTOR_SIZE;
	unsigned order = order_for(bytes);
	uint8_t *wbuf = page_alloc(order), *rbuf = page_alloc(order);
	struct blk_req *reqs = kzalloc(h->n * sizeof(*reqs));

	if (!wbuf || !rbuf || !reqs) {
		h->errors++;
		goto free_all;
	}
	for (unsigned round = 0; round < h->rounds; round++) {
		uint64_t sector = h->sector + (uint64_t)round * h->n * HAMMER_PER;
		unsigned seed = h->seed + round;

		fill(wbuf, sector, h->n * HAMMER_PER, seed);
		memset(rbuf, 0, bytes);
		h->errors +=
			batch(h->bd, true, sector, h->n, HAMMER_PER, wbuf, reqs) != 0;
		h->errors +=
			batch(h->bd, false, sector, h->n, HAMMER_PER, rbuf, reqs) != 0;
		h->mismatches += mismatches(rbuf, sector, h->n * HAMMER_PER, seed);
	}
free_all:
	kfree(reqs);
	if (rbuf)
		page_free(rbuf, order);
	if (wbuf)
		page_free(wbuf, order);
}

KTEST(virtio_blk_two_threads_at_once)
{
	struct blkdev *bd = scratch(kt);
	struct virtio_blk_stats s0, s1;
	/* Together more than the ring holds, so each waits for the other's
	 * descriptors too. */
	struct hammer h[2] = {
		{.sector = 8192, .seed = 10, .n = 30, .rounds = 8},
		{.sector = 16384, .seed = 50, .n = 17, .rounds = 12},
	};
	struct thread *t[2];

	if (!bd)
		return;
	virtio_blk_get_stats(bd, &s0);
	for (unsigned i = 0; i < 2; i++) {
		h[i].bd = bd;
		if (h[i].n > bd->max_batch)
			h[i].n = bd->max_batch;
		t[i] = thread_create_on(&cpus[i % cpus_online()], "kt-vblk", hammer_run,
					&h[i], false);
		KT_ASSERT(t[i] != NULL);
	}
	for (unsigned i = 0; i < 2; i++) {
		thread_join(t[i]);
		KT_EXPECT_EQ(h[i].errors, 0);
		KT_EXPECT_EQ(h[i].mismatches, 0);
	}
	virtio_blk_get_stats(bd, &s1);
	KT_EXPECT_EQ(s1.requests - s0.requests,
		     2 * (h[0].n * h[0].rounds + h[1].n * h[1].rounds));
	KT_EXPECT_EQ(s1.completions - s0.completions, s1.requests - s0.requests);
	KT_EXPECT(s1.interrupts > 0); /* MSI-X works */
	pr_info("virtio-blk: %s since bring-up: %llu requests, %llu doorbells, "
		"%llu interrupts, %llu missed",
		bd->name, (unsigned long long)s1.requests,
		(unsigned long long)s1.notifies, (unsigned long long)s1.interrupts,
		(unsigned long long)s1.missed_interrupts);
}

/* One request over pieces scattered in memory (the block cache's runs of
 * neighbouring blocks): written scattered, read back whole, and read
 * back scattered; malformed piece lists never reach the device. */
KTEST(virtio_blk_scattered_requests)
{
	enum { PIECES = 5, SECTOR = 64 };
	struct blkdev *bd = scratch(kt);
	struct blk_seg seg[PIECES + 1];
	struct virtio_blk_stats s0, s1;
	uint8_t *piece[PIECES] = {0};
	struct blk_req r;
	unsigned count = 0;
	uint8_t *whole;

	if (!bd)
		return;
	KT_ASSERT(bd->max_segs >= 2);
	whole = page_zalloc(order_for(PIECES * 2 * BLK_SECTOR_SIZE));
	KT_ASSERT(whole != NULL);
	for (unsigned i = 0; i < PIECES && i < bd->max_segs; i++) {
		unsigned sectors = 1 + i % 2; /* 512 and 1024-byte pieces */

		piece[i] = kmalloc(sectors * BLK_SECTOR_SIZE);
		KT_ASSERT(piece[i] != NULL);
		fill(piece[i], SECTOR + count, sectors, 9);
		seg[i] = (struct blk_seg){piece[i], sectors * BLK_SECTOR_SIZE};
		count += sectors;
	}
	r = (struct blk_req){.sector = SECTOR,
			     .count = count,
			     .write = true,
			     .segs = seg,
			     .nsegs = PIECES};
	KT_EXPECT_EQ(blkdev_submit(bd, &r, 1), 0);
	r = (struct blk_req){.sector = SECTOR, .count = count, .buf = whole};
	KT_EXPECT_EQ(blkdev_submit(bd, &r, 1), 0);
	KT_EXPECT_EQ(mismatches(whole, SECTOR, count, 9), 0);
	for (unsigned i = 0; i < PIECES; i++)
		memset(piece[i], 0, seg[i].len);
	r = (struct blk_req){
		.sector = SECTOR, .count = count, .segs = seg, .nsegs = PIECES};
	KT_EXPECT_EQ(blkdev_submit(bd, &r, 1), 0);
	for (unsigned i = 0, at = 0; i < PIECES; at += seg[i].len / BLK_SECTOR_SIZE, i++)
		KT_EXPECT_EQ(mismatches(piece[i], SECTOR + at,
					seg[i].len / BLK_SECTOR_SIZE, 9),
			     0);

	virtio_blk_get_stats(bd, &s0);
	r = (struct blk_req){
		.sector = SECTOR, .count = count + 1, .segs = seg, .nsegs = PIECES};
	KT_EXPECT_EQ(blkdev_submit(bd, &r, 1), -EINVAL); /* pieces too short */
	seg[PIECES] = (struct blk_seg){whole, 100};
	r = (struct blk_req){
		.sector = SECTOR, .count = count, .segs = seg + 1, .nsegs = PIECES};
	KT_EXPECT_EQ(blkdev_submit(bd, &r, 1), -EINVAL); /* a piece of 100 bytes */
	r = (struct blk_req){.sector = SECTOR, .count = 1, .segs = seg, .nsegs = 0};
	KT_EXPECT_EQ(blkdev_submit(bd, &r, 1), -EINVAL);
	r = (struct blk_req){
		.sector = SECTOR, .count = 1, .segs = seg, .nsegs = bd->max_segs + 1};
	KT_EXPECT_EQ(blkdev_submit(bd, &r, 1), -EINVAL);
	virtio_blk_get_stats(bd, &s1);
	KT_EXPECT_EQ(s1.requests, s0.requests);

	for (unsigned i = 0; i < PIECES; i++)
		kfree(piece[i]);
	page_free(whole, order_for(PIECES * 2 * BLK_SECTOR_SIZE));
}
