/*
 * Block cache: see bcache.h for the contract.
 *
 * Design. nbufs buffers are allocated once. A valid buffer sits in a
 * hash table chained by block number. Unpinned buffers (valid or not)
 * sit on one LRU list, least recently used at the front; pinning takes a
 * buffer off the list, the last put appends it at the back. Recycling
 * takes the first clean buffer from the front; when every unpinned
 * buffer is dirty, the data class is written back in one batch (and, if
 * that left nothing clean, the metadata class), which keeps the order
 * bcache.h promises even under memory pressure.
 *
 * I/O goes through blkdev_submit in batches of up to bd->max_batch
 * requests, sorted by block number; blocks that are neighbours on disk
 * go as one scattered request (blk_req.segs, a piece per buffer), so a
 * sequential read or write-back costs one request per max_sectors rather
 * than one per block, and several requests stay in flight on virtio-blk.
 * Buffers are kmalloc memory, which the kernel's direct map reaches, as
 * struct blk_req wants.
 *
 * bcache_read_direct and bcache_write_direct move data past the cache,
 * straight between the disk and the caller's buffer (the file server's
 * RDMA staging buffer), in runs of neighbours like submit_batch's but
 * contiguous in memory (a request is one piece, not one per block).
 * Blocks that are cached are copied from or into the cache instead, so
 * a dirty buffer is never read stale nor overtaken by an older copy.
 *
 * bcache_fetch reads past the cache without the owner's lock. What makes
 * that safe is two counts kept under the lock: forgets (a block was
 * freed: the bytes a fetch read may be another file's) and changes (data
 * was written: the fetched copy may be older than the device's, so it
 * is not cached). bcache_settle compares them with the ticket taken
 * before the fetch.
 */
#include "bcache.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <lib/string.h>

struct bcache {
	struct blkdev *bd;
	uint32_t block_size;
	uint32_t spb; /* sectors per block */
	uint64_t nblocks;
	size_t nbufs;
	struct bcache_buf *bufs;
	struct bcache_buf **hash;
	size_t hash_mask;
	struct list_node lru;
	size_t ndirty;
	/* Scratch for one batch: nbufs entries each. */
	struct bcache_buf **batch; /* the buffers, by block number */
	int *status;		   /* each buffer's outcome */
	struct blk_req *runs;	   /* the requests: runs of neighbours */
	size_t *run_first;	   /* index in batch of each run's first */
	struct blk_seg *segs;	   /* the pieces of the runs, by batch index */
	uint64_t forgets, changes; /* see struct bcache_ticket */
	struct bcache_stats stats;
};

static size_t hash_slot(const struct bcache *bc, uint64_t blk)
{
	return (size_t)((blk * 0x9E3779B97F4A7C15ull) >> 20) & bc->hash_mask;
}

static struct bcache_buf *hash_find(const struct bcache *bc, uint64_t blk)
{
	for (struct bcache_buf *b = bc->hash[hash_slot(bc, blk)]; b; b = b->hash_next)
		if (b->blk == blk)
			return b;
	return NULL;
}

static void hash_insert(struct bcache *bc, struct bcache_buf *b)
{
	size_t s = hash_slot(bc, b->blk);

	b->hash_next = bc->hash[s];
	bc->hash[s] = b;
	b->valid = true;
}

static void hash_remove(struct bcache *bc, struct bcache_buf *b)
{
	struct bcache_buf **pp = &bc->hash[hash_slot(bc, b->blk)];

	if (!b->valid)
		return;
	for (; *pp; pp = &(*pp)->hash_next) {
		if (*pp == b) {
			*pp = b->hash_next;
			break;
		}
	}
	b->hash_next = NULL;
	b->valid = false;
}

static void free_bufs(struct bcache *bc)
{
	for (size_t i = 0; i < bc->nbufs; i++)
		kfree(bc->bufs[i].data);
	kfree(bc->bufs);
}

static bool alloc_tables(struct bcache *bc)
{
	size_t hsize = 16;

	while (hsize < bc->nbufs * 2)
		hsize *= 2;
	bc->hash_mask = hsize - 1;
	bc->hash = kzalloc(hsize * sizeof(*bc->hash));
	bc->batch = kzalloc(bc->nbufs * sizeof(*bc->batch));
	bc->status = kzalloc(bc->nbufs * sizeof(*bc->status));
	bc->runs = kzalloc(bc->nbufs * sizeof(*bc->runs));
	bc->run_first = kzalloc(bc->nbufs * sizeof(*bc->run_first));
	bc->segs = kzalloc(bc->nbufs * sizeof(*bc->segs));
	bc->bufs = kzalloc(bc->nbufs * sizeof(*bc->bufs));
	return bc->hash && bc->batch && bc->status && bc->runs && bc->run_first &&
	       bc->segs && bc->bufs;
}

static void free_tables(struct bcache *bc)
{
	kfree(bc->hash);
	kfree(bc->batch);
	kfree(bc->status);
	kfree(bc->runs);
	kfree(bc->run_first);
	kfree(bc->segs);
}

struct bcache *bcache_create(struct blkdev *bd, uint32_t block_size, size_t nbufs)
{
	struct bcache *bc;

	if (!bd || block_size < BLK_SECTOR_SIZE || block_size % BLK_SECTOR_SIZE ||
	    block_size / BLK_SECTOR_SIZE > bd->max_sectors || nbufs < 8)
		return NULL;
	bc = kzalloc(sizeof(*bc));
	if (!bc)
		return NULL;
	bc->bd = bd;
	bc->block_size = block_size;
	bc->spb = block_size / BLK_SECTOR_SIZE;
	bc->nblocks = bd->nsectors / bc->spb;
	bc->nbufs = nbufs;
	list_init(&bc->lru);
	if (!alloc_tables(bc))
		goto free_tables;
	for (size_t i = 0; i < nbufs; i++) {
		struct bcache_buf *b = &bc->bufs[i];

		b->data = kmalloc(block_size);
		if (!b->data)
			goto free_bufs;
		list_init(&b->lru);
		list_push_back(&bc->lru, &b->lru);
	}
	return bc;

free_bufs:
	free_bufs(bc);
	bc->bufs = NULL;
free_tables:
	kfree(bc->bufs);
	free_tables(bc);
	kfree(bc);
	return NULL;
}

void bcache_destroy(struct bcache *bc)
{
	if (!bc)
		return;
	free_bufs(bc);
	free_tables(bc);
	kfree(bc);
}

static void set_clean(struct bcache *bc, struct bcache_buf *b)
{
	if (b->dirty) {
		b->dirty = false;
		bc->ndirty--;
	}
}

/* Shell sort of bc->batch[0..n) by block number (no recursion, no libc). */
static void sort_batch(struct bcache *bc, size_t n)
{
	static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};

	for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		size_t gap = gaps[g];

		for (size_t i = gap; i < n; i++) {
			struct bcache_buf *t = bc->batch[i];
			size_t j = i;

			for (; j >= gap && bc->batch[j - gap]->blk > t->blk; j -= gap)
				bc->batch[j] = bc->batch[j - gap];
			bc->batch[j] = t;
		}
	}
}

/* Blocks one request may carry: neighbours on disk, one piece each. */
static size_t run_limit(const struct bcache *bc)
{
	size_t by_segs = bc->bd->max_segs ? bc->bd->max_segs : 1;
	size_t by_sectors = bc->bd->max_sectors / bc->spb;

	return by_segs < by_sectors ? by_segs : by_sectors;
}

/* Fills bc->runs[r] with the request for batch[first .. first + len). */
static void make_run(struct bcache *bc, size_t r, size_t first, size_t len, bool write)
{
	struct blk_req *q = &bc->runs[r];

	*q = (struct blk_req){.sector = bc->batch[first]->blk * bc->spb,
			      .count = (uint32_t)(len * bc->spb),
			      .write = write};
	if (len == 1) {
		q->buf = bc->batch[first]->data;
		return;
	}
	for (size_t i = 0; i < len; i++)
		bc->segs[first + i] =
			(struct blk_seg){bc->batch[first + i]->data, bc->block_size};
	q->segs = &bc->segs[first];
	q->nsegs = (uint32_t)len;
}

/*
 * Submits bc->batch[0..n) (reads or writes; sorted by block number, so
 * that neighbours on disk become one scattered request of up to
 * run_limit() blocks) in chunks of max_batch requests; leaves each
 * buffer's status in bc->status[i]. Returns the first error.
 */
static int submit_batch(struct bcache *bc, size_t n, bool write)
{
	size_t chunk = bc->bd->max_batch ? bc->bd->max_batch : 1, limit = run_limit(bc);
	size_t nruns = 0;
	int err = 0;

	for (size_t i = 0; i < n;) {
		size_t len = 1;

		while (i + len < n && len < limit &&
		       bc->batch[i + len]->blk == bc->batch[i]->blk + len)
			len++;
		bc->run_first[nruns] = i;
		make_run(bc, nruns++, i, len, write);
		i += len;
	}
	for (size_t r = 0; r < nruns; r += chunk) {
		unsigned m = (unsigned)(nruns - r < chunk ? nruns - r : chunk);
		int e = blkdev_submit(bc->bd, &bc->runs[r], m);

		bc->stats.batches++;
		if (e && !err)
			err = e;
	}
	for (size_t r = 0; r < nruns; r++) {
		size_t end = r + 1 < nruns ? bc->run_first[r + 1] : n;

		for (size_t i = bc->run_first[r]; i < end; i++)
			bc->status[i] = bc->runs[r].status;
		if (bc->runs[r].status && !err)
			err = bc->runs[r].status;
	}
	return err < 0 ? err : (err ? -EIO : 0);
}

int bcache_writeback(struct bcache *bc, enum bcache_class cls)
{
	size_t n = 0;
	int err;

	if (bc->ndirty == 0)
		return 0;
	for (size_t i = 0; i < bc->nbufs; i++) {
		struct bcache_buf *b = &bc->bufs[i];

		if (b->valid && b->dirty && b->cls == cls)
			bc->batch[n++] = b;
	}
	if (n == 0)
		return 0;
	sort_batch(bc, n);
	err = submit_batch(bc, n, true);
	for (size_t i = 0; i < n; i++) {
		if (bc->status[i] == 0) {
			set_clean(bc, bc->batch[i]);
			bc->stats.writes++;
		}
	}
	return err;
}

int bcache_sync(struct bcache *bc)
{
	int err = bcache_writeback(bc, BCACHE_DATA);

	if (!err)
		err = bcache_writeback(bc, BCACHE_META);
	if (!err)
		err = blkdev_flush(bc->bd);
	return err;
}

static struct bcache_buf *first_clean(struct bcache *bc)
{
	struct list_node *n;

	list_for_each (n, &bc->lru) {
		struct bcache_buf *b = list_entry(n, struct bcache_buf, lru);

		if (!b->dirty)
			return b;
	}
	return NULL;
}

/* Takes b off the LRU and out of the hash, for reuse. */
static struct bcache_buf *recycle(struct bcache *bc, struct bcache_buf *b)
{
	list_remove(&b->lru);
	if (b->valid)
		bc->stats.evictions++;
	hash_remove(bc, b);
	return b;
}

/* An unpinned clean buffer recycled for block blk and put in the hash,
 * never writing back (unpinned, off the LRU: the caller places it); NULL
 * if every unpinned buffer is dirty. */
static struct bcache_buf *claim_clean(struct bcache *bc, uint64_t blk)
{
	struct bcache_buf *b = first_clean(bc);

	if (!b)
		return NULL;
	recycle(bc, b);
	b->blk = blk;
	hash_insert(bc, b);
	return b;
}

/* An unpinned clean buffer to recycle, writing dirty ones back if need
 * be; NULL with *err set if none can be had. */
static struct bcache_buf *take_victim(struct bcache *bc, int *err)
{
	struct bcache_buf *b = first_clean(bc);

	*err = 0;
	if (!b && !list_empty(&bc->lru)) {
		*err = bcache_writeback(bc, BCACHE_DATA);
		b = first_clean(bc);
		if (!b && !*err) {
			*err = bcache_writeback(bc, BCACHE_META);
			b = first_clean(bc);
		}
	}
	if (!b) {
		if (!*err)
			*err = -ENOMEM;
		return NULL;
	}
	return recycle(bc, b);
}

static int read_one(struct bcache *bc, struct bcache_buf *b)
{
	bc->batch[0] = b;
	bc->stats.reads++;
	return submit_batch(bc, 1, false);
}

static void pin(struct bcache *bc, struct bcache_buf *b)
{
	if (b->refs++ == 0)
		list_remove(&b->lru);
}

int bcache_get(struct bcache *bc, uint64_t blk, enum bcache_fill fill,
	       struct bcache_buf **out)
{
	struct bcache_buf *b;
	int err;

	*out = NULL;
	if (blk >= bc->nblocks)
		return -EIO;
	b = hash_find(bc, blk);
	if (b) {
		bc->stats.hits++;
		pin(bc, b);
		if (fill == BCACHE_ZERO)
			memset(b->data, 0, bc->block_size);
		*out = b;
		return 0;
	}
	bc->stats.misses++;
	b = take_victim(bc, &err);
	if (!b)
		return err;
	b->blk = blk;
	b->refs = 1;
	if (fill == BCACHE_ZERO) {
		memset(b->data, 0, bc->block_size);
	} else if (fill == BCACHE_READ && read_one(bc, b)) {
		b->refs = 0;
		list_push_front(&bc->lru, &b->lru);
		return -EIO;
	}
	hash_insert(bc, b);
	*out = b;
	return 0;
}

void bcache_put(struct bcache *bc, struct bcache_buf *b)
{
	if (!b || b->refs == 0)
		return;
	if (--b->refs == 0)
		list_push_back(&bc->lru, &b->lru);
}

void bcache_dirty(struct bcache *bc, struct bcache_buf *b, enum bcache_class cls)
{
	bc->changes++;
	if (!b->dirty) {
		b->dirty = true;
		b->cls = (uint8_t)cls;
		bc->ndirty++;
	} else if ((uint8_t)cls > b->cls) {
		b->cls = (uint8_t)cls;
	}
}

/* Collects clean buffers for the uncached blocks of blks into bc->batch
 * (never writing back: that would need bc->batch too); returns how many. */
static size_t gather_prefetch(struct bcache *bc, const uint64_t *blks, unsigned n)
{
	size_t m = 0;

	for (unsigned i = 0; i < n && m < bc->nbufs / 2; i++) {
		struct bcache_buf *b;

		if (blks[i] >= bc->nblocks || hash_find(bc, blks[i]))
			continue;
		b = claim_clean(bc, blks[i]); /* in the hash: a duplicate is found */
		if (!b)
			break;
		b->refs = 1; /* pinned by the batch */
		bc->batch[m++] = b;
	}
	return m;
}

unsigned bcache_prefetch(struct bcache *bc, const uint64_t *blks, unsigned n)
{
	size_t m = gather_prefetch(bc, blks, n);
	unsigned ok = 0;

	if (m == 0)
		return 0;
	sort_batch(bc, m);
	submit_batch(bc, m, false);
	for (size_t i = 0; i < m; i++) {
		struct bcache_buf *b = bc->batch[i];

		b->refs = 0;
		if (bc->status[i] == 0) {
			ok++;
			bc->stats.reads++;
			list_push_back(&bc->lru, &b->lru);
		} else {
			hash_remove(bc, b);
			list_push_front(&bc->lru, &b->lru);
		}
	}
	return ok;
}

/* Submits bc->runs[0..n) (transfers past the cache) as one batch. */
static int submit_direct(struct bcache *bc, size_t n)
{
	int err = blkdev_submit(bc->bd, bc->runs, (unsigned)n);

	bc->stats.batches++;
	return err < 0 ? err : (err ? -EIO : 0);
}

/* Blocks from blks[i] on that are neighbours on disk, in range, not 0 and
 * not cached: at most limit of them (0 if blks[i] itself is not such). */
static size_t direct_run(const struct bcache *bc, const uint64_t *blks, size_t i,
			 size_t n, size_t limit)
{
	size_t len = 0;

	while (i + len < n && len < limit && blks[i] && blks[i + len] == blks[i] + len &&
	       blks[i + len] < bc->nblocks && !hash_find(bc, blks[i + len]))
		len++;
	return len;
}

/* bcache_read_direct and bcache_write_direct (a block 0 is a hole for
 * reads, refused for writes). */
static int direct_io(struct bcache *bc, const uint64_t *blks, size_t n, uint8_t *buf,
		     uint64_t buf_phys, bool write)
{
	size_t chunk = bc->bd->max_batch ? bc->bd->max_batch : 1;
	size_t limit = bc->bd->max_sectors / bc->spb, nruns = 0;
	uint32_t bs = bc->block_size;
	int err = 0;

	if (chunk > bc->nbufs)
		chunk = bc->nbufs; /* bc->runs holds nbufs */
	if (write)
		bc->changes++;
	for (size_t i = 0; i < n && !err;) {
		uint8_t *mem = buf + i * bs;
		struct bcache_buf *b = blks[i] ? hash_find(bc, blks[i]) : NULL;
		bool hole = blks[i] == 0 && !write;
		size_t len = b || hole ? 1 : direct_run(bc, blks, i, n, limit);

		if (hole) {
			memset(mem, 0, bs);
		} else if (b) {
			memcpy(write ? b->data : mem, write ? mem : b->data, bs);
			if (write)
				bcache_dirty(bc, b, BCACHE_DATA);
			bc->stats.hits++;
		} else if (len == 0) {
			return -EIO; /* outside the device, or a write to a hole */
		} else {
			bc->runs[nruns++] = (struct blk_req){
				.sector = blks[i] * bc->spb,
				.count = (uint32_t)(len * bc->spb),
				.write = write,
				.buf = mem,
				.phys = buf_phys ? buf_phys + i * bs : 0};
			bc->stats.direct += len;
		}
		i += len;
		if (nruns == chunk || (nruns && i == n)) {
			err = submit_direct(bc, nruns);
			nruns = 0;
		}
	}
	return err;
}

int bcache_read_direct(struct bcache *bc, const uint64_t *blks, size_t n, uint8_t *buf,
		       uint64_t buf_phys)
{
	return direct_io(bc, blks, n, buf, buf_phys, false);
}

int bcache_write_direct(struct bcache *bc, const uint64_t *blks, size_t n,
			const uint8_t *buf, uint64_t buf_phys)
{
	return direct_io(bc, blks, n, (uint8_t *)buf, buf_phys, true);
}

void bcache_forget(struct bcache *bc, uint64_t blk)
{
	struct bcache_buf *b = hash_find(bc, blk);

	bc->forgets++;
	if (!b)
		return;
	set_clean(bc, b);
	if (b->refs)
		return;
	hash_remove(bc, b);
	list_remove(&b->lru);
	list_push_front(&bc->lru, &b->lru);
}

void bcache_ticket(const struct bcache *bc, struct bcache_ticket *t)
{
	t->forgets = bc->forgets;
	t->changes = bc->changes;
}

bool bcache_holds(const struct bcache *bc, uint64_t blk)
{
	return hash_find(bc, blk) != NULL;
}

int bcache_fetch(struct bcache *bc, const uint64_t *blks, size_t n, uint8_t *buf)
{
	size_t chunk = bc->bd->max_batch ? bc->bd->max_batch : 1;
	size_t limit = bc->bd->max_sectors / bc->spb, nruns = 0;
	struct blk_req runs[BCACHE_FETCH_MAX];
	int err = 0;

	if (n > BCACHE_FETCH_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n;) {
		size_t len = 1;

		if (!blks[i] || blks[i] >= bc->nblocks)
			return -EINVAL;
		while (i + len < n && len < limit && blks[i + len] == blks[i] + len &&
		       blks[i + len] < bc->nblocks)
			len++;
		runs[nruns++] = (struct blk_req){.sector = blks[i] * bc->spb,
						 .count = (uint32_t)(len * bc->spb),
						 .buf = buf + i * bc->block_size};
		i += len;
	}
	for (size_t r = 0; r < nruns && !err; r += chunk)
		err = blkdev_submit(bc->bd, &runs[r],
				    (unsigned)(nruns - r < chunk ? nruns - r : chunk));
	if (!err)
		__atomic_fetch_add(&bc->stats.fetched, n, __ATOMIC_RELAXED);
	return err;
}

int bcache_settle(struct bcache *bc, const struct bcache_ticket *t, const uint64_t *blks,
		  size_t n, const uint8_t *buf)
{
	if (bc->forgets != t->forgets) {
		bc->stats.refetch++;
		return -EAGAIN;
	}
	for (size_t i = 0; i < n && bc->changes == t->changes; i++) {
		struct bcache_buf *b;

		if (hash_find(bc, blks[i]))
			continue;
		b = claim_clean(bc, blks[i]);
		if (!b)
			break; /* none now, none for the rest either */
		memcpy(b->data, buf + i * bc->block_size, bc->block_size);
		list_push_back(&bc->lru, &b->lru);
		bc->stats.settled++;
	}
	return 0;
}

uint32_t bcache_block_size(const struct bcache *bc)
{
	return bc->block_size;
}

uint64_t bcache_nblocks(const struct bcache *bc)
{
	return bc->nblocks;
}

size_t bcache_dirty_count(const struct bcache *bc)
{
	return bc->ndirty;
}

void bcache_get_stats(const struct bcache *bc, struct bcache_stats *st)
{
	*st = bc->stats;
}
