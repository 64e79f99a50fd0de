/*
 * Block devices: what a disk driver offers and a file system uses.
 *
 * Portable interface (no arch headers): drivers/virtio_blk.c implements it
 * in the kernel, tests/unit/fileblk.c on the host over an image file, so
 * that scomponent/ext2.c and scomponent/bcache.c run unchanged in both.
 *
 * Requests are synchronous batches: blkdev_submit() hands the device n
 * requests at once, lets it keep as many of them in flight as it can
 * (virtio-blk: one descriptor chain each, one notification for the
 * batch), and returns when every one has finished. A caller that wants
 * parallelism batches; nothing here needs callbacks or interrupts.
 */
#ifndef KERNEL_BLKDEV_H
#define KERNEL_BLKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLK_SECTOR_SIZE 512u

/* One piece of a scattered request's memory. */
struct blk_seg {
	void *buf;
	uint32_t len; /* bytes, a multiple of BLK_SECTOR_SIZE */
};

struct blk_req {
	uint64_t sector; /* first 512-byte sector */
	uint32_t count;	 /* sectors, 1 .. bd->max_sectors */
	bool write;
	/*
	 * The memory: count * BLK_SECTOR_SIZE bytes at buf, or (buf NULL)
	 * the nsegs pieces of segs in order (1 .. bd->max_segs of them),
	 * whose lengths add up to as much: one request for blocks that are
	 * neighbours on disk but not in memory. In the kernel: memory
	 * reachable through the direct map (kmalloc, page_alloc), never the
	 * stack of another thread; or, with phys, the fabric window.
	 */
	void *buf;
	const struct blk_seg *segs;
	uint32_t nsegs;
	/*
	 * 0, or buf's physical address when buf is physically contiguous
	 * memory outside the direct map (the fabric window, so that a file
	 * server reads the disk straight into the buffer it RDMA-writes
	 * from). Only with buf. Devices that reach memory by its virtual
	 * address (tests/unit/fileblk.c) ignore it.
	 */
	uint64_t phys;
	int status; /* out: 0, or a negative errno (-EIO, -EINVAL, -EROFS) */
};

struct blkdev {
	const char *name;     /* "vda", "image" ... for messages */
	uint64_t nsectors;    /* capacity */
	uint32_t max_sectors; /* per request */
	uint32_t max_batch;   /* requests the device keeps in flight at once */
	uint32_t max_segs;    /* pieces of a scattered request (segs) */
	bool read_only;

	/*
	 * Runs reqs[0..n) and returns once all have finished: 0 if every
	 * one succeeded, else the errno of the first that failed (each
	 * request's own status says which). Requests beyond the device's
	 * range or of a bad size fail with -EINVAL without being issued;
	 * writes on a read-only device with -EROFS. The order in which the
	 * requests of one batch reach the medium is unspecified: a caller
	 * that needs A on disk before B submits B in a later batch, after a
	 * flush if it needs durability. Thread-safe; thread context.
	 */
	int (*submit)(struct blkdev *bd, struct blk_req *reqs, unsigned n);
	/* Makes every write that has completed durable (a cache flush).
	 * Returns 0 or a negative errno. Thread-safe; thread context. */
	int (*flush)(struct blkdev *bd);
	void *priv; /* the driver's */
};

static inline int blkdev_submit(struct blkdev *bd, struct blk_req *reqs, unsigned n)
{
	return bd->submit(bd, reqs, n);
}

static inline int blkdev_flush(struct blkdev *bd)
{
	return bd->flush(bd);
}

#endif
