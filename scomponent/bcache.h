/*
 * Block cache (scomponent/bcache.c): a fixed set of block-sized buffers
 * over a struct blkdev, found by block number, recycled least recently
 * used first, written back in batches.
 *
 * Portable code (the storage kernel and the host tests share it). Not
 * thread-safe: the owner (one file system) serialises every call, but
 * for bcache_fetch, which may run alongside any of them (see there).
 *
 * A buffer is pinned between bcache_get() and bcache_put(); pinned
 * buffers are never recycled, so a caller may keep pointers into ->data
 * until it puts the buffer. Whoever changes ->data marks the buffer
 * dirty (bcache_dirty) before putting it, with a class that orders the
 * write-back: every BCACHE_DATA buffer (file data, directories, indirect
 * blocks, inode tables) dirty at the time reaches the device before any
 * BCACHE_META buffer (bitmaps, group descriptors, superblock) of the same
 * write-back, so metadata that accounts for blocks never lands ahead of
 * them. Recycling a dirty buffer writes back the data class first, and
 * the metadata class only if that freed nothing.
 */
#ifndef SCOMPONENT_BCACHE_H
#define SCOMPONENT_BCACHE_H

#include <kernel/blkdev.h>
#include <lib/list.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bcache_class {
	BCACHE_DATA = 0,
	BCACHE_META = 1,
};

/* How bcache_get fills a buffer that is not cached. */
enum bcache_fill {
	BCACHE_READ,   /* read it from the device */
	BCACHE_ZERO,   /* zeroes (a new block); also zeroes a cached one */
	BCACHE_NOREAD, /* contents undefined: the caller overwrites all of it */
};

struct bcache_buf {
	uint64_t blk;  /* block number (in block-size units) */
	uint8_t *data; /* block_size bytes, valid while pinned */
	/* Private to bcache.c. */
	struct list_node lru;	      /* on bc->lru while unpinned */
	struct bcache_buf *hash_next; /* chain of bc->hash, if valid */
	uint32_t refs;
	bool valid; /* in the hash, data holds block blk */
	bool dirty;
	uint8_t cls; /* enum bcache_class, while dirty */
};

struct bcache_stats {
	uint64_t hits, misses, reads, writes, batches, evictions;
	uint64_t direct;  /* blocks bcache_read_direct read past the cache */
	uint64_t fetched; /* blocks bcache_fetch read (updated atomically) */
	uint64_t settled; /* of those, cached by bcache_settle */
	uint64_t refetch; /* bcache_settle calls that answered -EAGAIN */
};

/* The cache's state when a bcache_fetch began (bcache_ticket). */
struct bcache_ticket {
	uint64_t forgets; /* bcache_forget calls: blocks freed */
	uint64_t changes; /* bcache_dirty and direct write calls: data changed */
};

struct bcache;

/*
 * A cache of nbufs buffers (at least 8) of block_size bytes (a multiple
 * of 512 that bd->max_sectors can carry) on bd, whose blocks are
 * [0, bd->nsectors / sectors per block). Returns NULL if out of memory
 * or the geometry does not fit.
 */
struct bcache *bcache_create(struct blkdev *bd, uint32_t block_size, size_t nbufs);
/* Frees the cache without writing anything back (bcache_sync first). */
void bcache_destroy(struct bcache *bc);

/*
 * Pins block blk and returns its buffer in *out. Returns 0, -EIO (block
 * outside the device, or the read failed), -ENOMEM (every buffer pinned).
 */
int bcache_get(struct bcache *bc, uint64_t blk, enum bcache_fill fill,
	       struct bcache_buf **out);
/* Unpins b (NULL is allowed). */
void bcache_put(struct bcache *bc, struct bcache_buf *b);
/* Records that b's data changed and must reach the device (b pinned). */
void bcache_dirty(struct bcache *bc, struct bcache_buf *b, enum bcache_class cls);

/*
 * Reads the uncached ones of blks[0..n) in one batch, so the device works
 * on them together; they stay cached, unpinned. Best effort: returns
 * the number of blocks read; failures are left for bcache_get to report.
 */
unsigned bcache_prefetch(struct bcache *bc, const uint64_t *blks, unsigned n);

/*
 * Reads blocks blks[0..n) into buf, block i at buf + i * block size; a
 * block number 0 is a hole (zeroes). Blocks in the cache (dirty ones
 * too: the cache holds the newer copy) are copied from it; the others
 * go from the device straight into buf, neighbours on disk as one
 * request, in batches of the device's max_batch, and are not cached (as
 * O_DIRECT: a long sequential read would only evict the metadata that
 * other calls need). buf_phys: buf's physical address if buf is outside
 * the direct map (blk_req.phys), else 0. Returns 0, or -EIO (a block
 * outside the device, or the device failed: buf's contents are then
 * undefined).
 */
int bcache_read_direct(struct bcache *bc, const uint64_t *blks, size_t n, uint8_t *buf,
		       uint64_t buf_phys);
/*
 * The write side of bcache_read_direct: blocks blks[0..n) (none of them
 * 0) from buf. Cached blocks are updated in the cache (and marked dirty,
 * BCACHE_DATA); the others go from buf straight to the device, in one
 * batch per max_batch runs, before this returns: file data written this
 * way reaches the device ahead of any metadata that accounts for it.
 * Returns 0, or -EIO (then which blocks were written is undefined).
 */
int bcache_write_direct(struct bcache *bc, const uint64_t *blks, size_t n,
			const uint8_t *buf, uint64_t buf_phys);
/* Block blk was freed: drop its cached copy without writing it. */
void bcache_forget(struct bcache *bc, uint64_t blk);

/*
 * Reading without the owner's lock, so that a reader waiting for the
 * disk does not hold up every other call (the file service's small
 * reads, which run concurrently). Three steps:
 *   bcache_ticket   owner's lock held: notes the cache's state in *t;
 *                   the caller then lists the blocks it wants that
 *                   bcache_holds says are not cached (a cached one, dirty
 *                   perhaps, is newer than the disk: read it with
 *                   bcache_get meanwhile);
 *   bcache_fetch    no lock: reads them from the device;
 *   bcache_settle   owner's lock held again: whether what was read can
 *                   be used.
 * A block freed between the ticket and the settle may belong to another
 * file by the time the device read it, so its bytes must not be given
 * out: bcache_settle then answers -EAGAIN (read again, holding the lock
 * throughout). Data written meanwhile is not an error (the read simply
 * came first), but then the blocks are not cached: the device may hold a
 * newer copy than the one fetched.
 */
void bcache_ticket(const struct bcache *bc, struct bcache_ticket *t);
bool bcache_holds(const struct bcache *bc, uint64_t blk);
/*
 * Reads blocks blks[0..n) (n <= BCACHE_FETCH_MAX, none of them 0) from
 * the device into buf, block i at buf + i * block size (direct-mapped
 * memory), neighbours on disk as one request. Touches no state of the
 * cache but its fetched count, so it may run alongside any other call,
 * including another bcache_fetch. Returns 0, -EINVAL (n too big, a block
 * outside the device) or -EIO.
 */
#define BCACHE_FETCH_MAX 8
int bcache_fetch(struct bcache *bc, const uint64_t *blks, size_t n, uint8_t *buf);
/*
 * After bcache_fetch of blks[0..n) into buf under ticket t: 0 if the
 * bytes can be used, and then each block not cached meanwhile is cached
 * (clean; best effort: only into a clean buffer) unless data changed
 * since t; -EAGAIN if a block was freed since t (buf must be discarded).
 */
int bcache_settle(struct bcache *bc, const struct bcache_ticket *t, const uint64_t *blks,
		  size_t n, const uint8_t *buf);

/* Writes back every dirty buffer of class cls, in batches of the
 * device's max_batch. Returns 0 or the first error (those buffers stay
 * dirty). */
int bcache_writeback(struct bcache *bc, enum bcache_class cls);
/* Writes back BCACHE_DATA, then BCACHE_META, then flushes the device. */
int bcache_sync(struct bcache *bc);

uint32_t bcache_block_size(const struct bcache *bc);
uint64_t bcache_nblocks(const struct bcache *bc);
size_t bcache_dirty_count(const struct bcache *bc);
void bcache_get_stats(const struct bcache *bc, struct bcache_stats *st);

#endif
