/*
 * The buffer cache of a memory node: bcache.h for the local interface,
 * include/proto/bcache.h for the protocol, whose handlers (BC_READ,
 * BC_WRITE, BC_APPEND, BC_TRUNCATE, BC_FORGET) are at the end.
 *
 * Pages. A page is a descriptor (struct bc_page, max_pages of them made
 * at the start) and a frame of the memory service's pool, taken when the
 * page is first filled, so frames the cache does not use stay free for
 * address spaces. A page in use is in a hash table by (inode, index), on
 * its inode's list and on one LRU list of the whole cache, least recently
 * used at the front. At max_pages pages, or when the pool has no frame,
 * a new page takes the frame of the LRU page (an eviction); with no page
 * to evict it is simply not cached (the request is served all the same).
 *
 * Files. Each inode with pages, or with a request on it, has a struct
 * bc_inode: a sleeping lock (a one-token completion) held by a request for
 * its whole course, storage calls included, and what is known of the file
 * (its size and generation, learnt from the storage node's replies,
 * valid while the inode has pages; where the last read ended, for
 * read-ahead). ext2 gives a freed inode number to the next new file: a
 * reply of another generation than the pages' drops them, and so does a
 * request that names its file exactly (a file mapping's: bcache_file's
 * exact) with another generation, so that it never takes the pages of
 * another life of its number (the storage node then answers it, -ESTALE
 * if its file is gone). Holding it
 * across the storage call is what keeps a read's miss from inserting data
 * that a write of the same file made stale meanwhile.
 *
 * Locks. bc->lock (a spinlock) guards the hash tables, the lists, the
 * inodes' reference and page counts, and every copy into or out of a
 * page's frame: a page can only be evicted under bc->lock, so a copy made
 * under it never races an eviction, and the sleeping file locks never wait
 * for each other (a request holds one only). An inode with neither pages
 * nor references is taken out of the table under bc->lock and freed after
 * it is dropped (bc->reap).
 *
 * Staging. Data moves between the storage node, the cache and the
 * requester through a staging buffer in the window (BC_SLOTS of them, one
 * per request at a time, BC_SLOT_BYTES each): a read's missing pages come
 * from the storage node straight into it (one FS_READ for the run from the
 * first to the last missing page, plus read-ahead after a sequential read)
 * and are copied into frames, hits are copied out of frames, and the whole
 * range goes to the requester in one RDMA WRITE; a write's data comes in
 * one RDMA READ, goes to the storage node from there and is copied into
 * the cached pages. A slot whose RDMA READ timed out may still be written
 * by the late transfer: it is never used again (logged).
 */
#include "bcache.h"

#include "memserv_impl.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/wait.h>
#include <lib/list.h>
#include <lib/string.h>
#include <net/fs_client.h>
#include <net/rpc.h>

#define BC_PAGE		BC_PAGE_SIZE
#define BC_READAHEAD	(64u << 10) /* bytes read ahead of a sequential reader */
#define BC_SLOTS	4	    /* staging buffers: requests at once */
#define BC_SLOT_BYTES	(BC_IO_MAX + BC_PAGE + BC_READAHEAD)
#define BC_SLOT_PAGES	(BC_SLOT_BYTES / BC_PAGE)
#define BC_INODE_HASH	256

struct bc_inode {
	uint64_t ino;		/* set at creation */
	struct bc_inode *next;	/* under bc->lock: hash chain, or bc->reap */
	uint32_t refs;		/* under bc->lock: requests using it */
	uint32_t npages;	/* under bc->lock */
	struct list_node pages; /* under bc->lock: its bc_page.ilist */
	struct completion lock; /* one token: the request working on the file */
	bool size_known;	/* under lock: size is the file's */
	uint64_t size;		/* under lock */
	uint32_t gen;		/* under lock, with size_known: the generation
				 * of the file size and pages are of */
	uint64_t ra_next;	/* under lock: the page after the last read */
};

struct bc_page {
	struct bc_inode *inode;	  /* under bc->lock; NULL: a free descriptor */
	uint64_t index;		  /* under bc->lock */
	uint32_t frame;		  /* under bc->lock */
	struct bc_page *hash_next; /* under bc->lock */
	struct list_node lru;	  /* under bc->lock: bc->lru, or bc->free */
	struct list_node ilist;	  /* under bc->lock: its inode's pages */
};

struct bc_slot {
	uint64_t offset; /* in the window */
	uint8_t *va;
	struct bc_slot *next; /* under bc->slot_lock: free list */
};

struct bcache {
	struct frame_pool *fp;	/* the memory service's */
	struct verbs_dev *dev;
	uint16_t storage;	/* set at creation */
	uint32_t max_pages;	/* set at creation */
	const struct bcache_backend *ops; /* set before the first request */
	void *ops_ctx;

	struct spinlock lock;
	struct bc_page *descs;	       /* max_pages of them */
	struct bc_page **hash;	       /* under lock */
	uint64_t hash_mask;
	struct list_node lru;	       /* under lock */
	struct list_node free;	       /* under lock: unused descriptors */
	struct bc_inode *inodes[BC_INODE_HASH]; /* under lock */
	struct bc_inode *reap;	       /* under lock: to kfree */
	struct bc_stats stats;	       /* pages, max_pages under lock; the rest atomic */

	struct verbs_buf stage;	 /* BC_SLOTS slots */
	struct bc_slot slots[BC_SLOTS];
	struct spinlock slot_lock;
	struct bc_slot *slot_free; /* under slot_lock */
	struct completion slot_tokens; /* one per slot on slot_free */
};

static void count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* ---- the storage node through the file client ------------------------------------- */

/* The file f's reads and writes must reach (NULL: whatever its path
 * names): in *id. */
static const struct fsc_ident *ident(const struct bcache_file *f, struct fsc_ident *id)
{
	*id = (struct fsc_ident){.ino = f->ino, .gen = f->gen};
	return f->exact ? id : NULL;
}

static long fs_read(void *ctx, const struct bcache_file *f, uint64_t offset,
		    uint64_t win_offset, size_t len, struct fs_attr *attr)
{
	struct bcache *bc = ctx;
	struct fsc_ident id;

	return fsc_read_win_attr(bc->storage, f->cred, f->path, ident(f, &id), offset,
				 win_offset, len, attr);
}

static long fs_write(void *ctx, const struct bcache_file *f, uint64_t offset,
		     uint64_t win_offset, size_t len, struct fs_attr *attr)
{
	struct bcache *bc = ctx;
	struct fsc_ident id;

	return fsc_write_win_attr(bc->storage, f->cred, f->path, ident(f, &id), offset,
				  win_offset, len, 0, attr);
}

static int fs_truncate(void *ctx, const struct bcache_file *f, uint64_t size,
		       struct fs_attr *attr)
{
	struct bcache *bc = ctx;

	return fsc_truncate(bc->storage, f->cred, f->path, size, attr);
}

static int fs_stat(void *ctx, const struct bcache_file *f, struct fs_attr *attr)
{
	struct bcache *bc = ctx;

	return fsc_stat(bc->storage, f->cred, f->path, 0, 0, attr);
}

static const struct bcache_backend fs_backend = {
	.read = fs_read,
	.write = fs_write,
	.truncate = fs_truncate,
	.stat = fs_stat,
};

/* ---- pages (bc->lock held) -------------------------------------------------------- */

static uint64_t page_slot(const struct bcache *bc, uint64_t ino, uint64_t index)
{
	return ((ino * 0x9E3779B97F4A7C15ull) ^ (index * 0xC2B2AE3D27D4EB4Full)) >> 17 &
	       bc->hash_mask;
}

static struct bc_page *page_find(struct bcache *bc, uint64_t ino, uint64_t index)
{
	struct bc_page *p = bc->hash[page_slot(bc, ino, index)];

	while (p && !(p->inode->ino == ino && p->index == index))
		p = p->hash_next;
	return p;
}

static void hash_remove(struct bcache *bc, struct bc_page *p)
{
	struct bc_page **pp = &bc->hash[page_slot(bc, p->inode->ino, p->index)];

	while (*pp != p)
		pp = &(*pp)->hash_next;
	*pp = p->hash_next;
}

/* Moves inode i to bc->reap if it has neither pages nor references. */
static void inode_maybe_reap(struct bcache *bc, struct bc_inode *i)
{
	struct bc_inode **pp = &bc->inodes[i->ino % BC_INODE_HASH];

	if (i->refs || i->npages)
		return;
	while (*pp != i)
		pp = &(*pp)->next;
	*pp = i->next;
	i->next = bc->reap;
	bc->reap = i;
}

/* Takes p out of the cache; returns its frame, which the caller owns. */
static uint32_t page_unlink(struct bcache *bc, struct bc_page *p)
{
	struct bc_inode *i = p->inode;
	uint32_t frame = p->frame;

	hash_remove(bc, p);
	list_remove(&p->lru);
	list_remove(&p->ilist);
	i->npages--;
	p->inode = NULL;
	list_push_back(&bc->free, &p->lru);
	bc->stats.pages--;
	inode_maybe_reap(bc, i);
	return frame;
}

static void page_drop(struct bcache *bc, struct bc_page *p)
{
	frame_free(bc->fp, page_unlink(bc, p));
}

/* A frame for a new page: a free one while under the bound, else the LRU
 * page's. FRAME_NONE if neither. */
static uint32_t frame_for_page(struct bcache *bc)
{
	uint32_t f = FRAME_NONE;

	if (bc->stats.pages < bc->max_pages)
		f = frame_alloc(bc->fp);
	if (f == FRAME_NONE && !list_empty(&bc->lru)) {
		f = page_unlink(bc, list_entry(bc->lru.next, struct bc_page, lru));
		count(&bc->stats.evictions, 1);
	}
	return f;
}

/* Caches page index of inode i with the FRAME_SIZE bytes at src, unless
 * it is cached already or there is no room. */
static void page_insert(struct bcache *bc, struct bc_inode *i, uint64_t index, const void *src)
{
	struct bc_page *p;
	uint32_t f;

	if (page_find(bc, i->ino, index))
		return;
	f = frame_for_page(bc);
	if (f == FRAME_NONE)
		return;
	p = list_entry(list_pop_front(&bc->free), struct bc_page, lru);
	p->inode = i;
	p->index = index;
	p->frame = f;
	memcpy(frame_va(bc->fp, f), src, FRAME_SIZE);
	p->hash_next = bc->hash[page_slot(bc, i->ino, index)];
	bc->hash[page_slot(bc, i->ino, index)] = p;
	list_push_back(&bc->lru, &p->lru);
	list_push_back(&i->pages, &p->ilist);
	i->npages++;
	bc->stats.pages++;
}

/* Copies page index of i to dst if cached (and makes it the most
 * recently used); true if it was. */
static bool page_copy_out(struct bcache *bc, struct bc_inode *i, uint64_t index, void *dst)
{
	struct bc_page *p = page_find(bc, i->ino, index);

	if (!p)
		return false;
	memcpy(dst, frame_va(bc->fp, p->frame), FRAME_SIZE);
	list_remove(&p->lru);
	list_push_back(&bc->lru, &p->lru);
	return true;
}

/* Drops i's pages from index from on, and zeroes page from - 1 from byte
 * tail on (tail 0: nothing to zero). */
static void pages_cut(struct bcache *bc, struct bc_inode *i, uint64_t from, uint32_t tail)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &i->pages) {
		struct bc_page *p = list_entry(n, struct bc_page, ilist);

		if (p->index >= from)
			page_drop(bc, p);
		else if (tail && p->index == from - 1)
			memset((uint8_t *)frame_va(bc->fp, p->frame) + tail, 0,
			       FRAME_SIZE - tail);
	}
}

/* ---- files ----------------------------------------------------------------------- */

/* Frees the inodes bc->reap collected (bc->lock not held). */
static void reap(struct bcache *bc)
{
	struct bc_inode *list;

	spin_lock(&bc->lock);
	list = bc->reap;
	bc->reap = NULL;
	spin_unlock(&bc->lock);
	while (list) {
		struct bc_inode *next = list->next;

		kfree(list);
		list = next;
	}
}

/* Inode ino with a reference and its lock held, made if new; NULL if out
 * of memory. */
static struct bc_inode *inode_enter(struct bcache *bc, uint64_t ino)
{
	struct bc_inode *fresh = kzalloc(sizeof(*fresh));
	struct bc_inode *i;

	spin_lock(&bc->lock);
	for (i = bc->inodes[ino % BC_INODE_HASH]; i && i->ino != ino; i = i->next)
		;
	if (!i && fresh) {
		i = fresh;
		fresh = NULL;
		i->ino = ino;
		list_init(&i->pages);
		completion_init(&i->lock);
		complete(&i->lock);
		i->next = bc->inodes[ino % BC_INODE_HASH];
		bc->inodes[ino % BC_INODE_HASH] = i;
	}
	if (i)
		i->refs++;
	spin_unlock(&bc->lock);
	kfree(fresh);
	if (i)
		wait_for_completion(&i->lock);
	return i;
}

static void inode_leave(struct bcache *bc, struct bc_inode *i)
{
	complete(&i->lock);
	spin_lock(&bc->lock);
	i->refs--;
	inode_maybe_reap(bc, i);
	spin_unlock(&bc->lock);
	reap(bc);
}

/* Learns the file's size and generation from a storage node's reply; the
 * pages of another generation go. */
static void inode_size(struct bcache *bc, struct bc_inode *i, const struct fs_attr *attr)
{
	if (i->size_known && i->gen != attr->gen) {
		spin_lock(&bc->lock);
		pages_cut(bc, i, 0, 0);
		spin_unlock(&bc->lock);
	}
	i->size = attr->size;
	i->gen = attr->gen;
	i->size_known = true;
}

/* Forgets everything about i: after a failed change, the file on the
 * storage node may or may not have changed. */
static void inode_drop_all(struct bcache *bc, struct bc_inode *i)
{
	spin_lock(&bc->lock);
	pages_cut(bc, i, 0, 0);
	spin_unlock(&bc->lock);
	i->size_known = false;
}

/* The inode of f, as inode_enter; what it knows goes if f is exact and
 * of another generation. */
static struct bc_inode *file_enter(struct bcache *bc, const struct bcache_file *f)
{
	struct bc_inode *i = inode_enter(bc, f->ino);

	if (i && f->exact && i->size_known && i->gen != f->gen)
		inode_drop_all(bc, i);
	return i;
}

/* ---- staging slots --------------------------------------------------------------- */

static struct bc_slot *slot_take(struct bcache *bc)
{
	struct bc_slot *s;

	wait_for_completion(&bc->slot_tokens);
	spin_lock(&bc->slot_lock);
	s = bc->slot_free;
	bc->slot_free = s->next;
	spin_unlock(&bc->slot_lock);
	return s;
}

static void slot_give(struct bcache *bc, struct bc_slot *s)
{
	spin_lock(&bc->slot_lock);
	s->next = bc->slot_free;
	bc->slot_free = s;
	spin_unlock(&bc->slot_lock);
	complete(&bc->slot_tokens);
}

/* ---- reads, writes, truncates ---------------------------------------------------- */

/*
 * Fetches pages [first, last] of i from the storage node into s (page k at
 * s->va + (k - base) * BC_PAGE), reading ahead up to the slot's end when
 * the read is sequential, and caches them. 0 or an errno.
 */
static int read_fetch(struct bcache *bc, const struct bcache_file *f, struct bc_inode *i,
		      struct bc_slot *s, uint64_t base, uint64_t first, uint64_t last)
{
	uint64_t end = last;
	struct fs_attr attr;
	size_t len;
	long n;

	if (i->ra_next && (base == i->ra_next || base + 1 == i->ra_next)) {
		/* sequential: read ahead, less in a small cache */
		uint64_t ra = bc->max_pages / 8 < BC_READAHEAD / BC_PAGE ? bc->max_pages / 8
									  : BC_READAHEAD / BC_PAGE;

		end = last + ra < base + BC_SLOT_PAGES - 1 ? last + ra : base + BC_SLOT_PAGES - 1;
	}
	len = (size_t)(end - first + 1) * BC_PAGE;
	n = bc->ops->read(bc->ops_ctx, f, first * BC_PAGE, s->offset + (first - base) * BC_PAGE,
			  len, &attr);
	if (n < 0)
		return (int)n;
	memset(s->va + (first - base) * BC_PAGE + n, 0, len - (size_t)n);
	inode_size(bc, i, &attr);
	count(&bc->stats.misses, last - first + 1);
	spin_lock(&bc->lock);
	for (uint64_t k = first; k <= end && k * BC_PAGE < first * BC_PAGE + (uint64_t)n; k++)
		page_insert(bc, i, k, s->va + (k - base) * BC_PAGE);
	spin_unlock(&bc->lock);
	if ((uint64_t)n > (last - first + 1) * BC_PAGE)
		count(&bc->stats.readahead,
		      (n - (last - first + 1) * BC_PAGE + BC_PAGE - 1) / BC_PAGE);
	return 0;
}

/*
 * Reads up to len bytes of f at offset into slot s, at s->va + offset %
 * BC_PAGE. Returns the bytes read or an errno; *size the file's size.
 * Pages are cached only while the size is known (every path that forgets
 * the size drops the inode's pages), so a read that hits throughout knows
 * where the file ends.
 */
static long read_staged(struct bcache *bc, const struct bcache_file *f, uint64_t offset,
			size_t len, struct bc_slot *s, uint64_t *size)
{
	uint64_t base = offset / BC_PAGE, last = (offset + len - 1) / BC_PAGE;
	uint64_t miss_first = UINT64_MAX, miss_last = 0, hits = 0;
	struct bc_inode *i = file_enter(bc, f);
	long r = 0;

	if (!i)
		return -ENOMEM;
	if (i->size_known && offset >= i->size)
		goto leave; /* at or past the end */
	spin_lock(&bc->lock);
	for (uint64_t k = base; k <= last; k++) {
		if (page_copy_out(bc, i, k, s->va + (k - base) * BC_PAGE)) {
			hits++;
		} else {
			miss_first = miss_first < k ? miss_first : k;
			miss_last = k;
		}
	}
	spin_unlock(&bc->lock);
	count(&bc->stats.hits, hits);
	if (miss_first != UINT64_MAX)
		r = read_fetch(bc, f, i, s, base, miss_first, miss_last);
	if (r)
		goto leave;
	i->ra_next = last + 1;
	if (offset < i->size)
		r = (long)(i->size - offset < len ? i->size - offset : len);
	count(&bc->stats.read_bytes, (uint64_t)r);
leave:
	*size = i->size;
	inode_leave(bc, i);
	return r;
}

/*
 * Copies the written bytes (len of them at src, the file's bytes from
 * offset) into i's cached pages; a page not cached is cached when the
 * write covers it whole, or when it lies wholly past the old end of the
 * file old_size (its other bytes are zeroes), made in scratch (a page).
 */
static void write_pages(struct bcache *bc, struct bc_inode *i, uint64_t offset,
			const uint8_t *src, size_t len, bool old_known, uint64_t old_size,
			uint8_t *scratch)
{
	uint64_t end = offset + len;

	for (uint64_t k = offset / BC_PAGE; k * BC_PAGE < end; k++) {
		uint64_t start = k * BC_PAGE;
		uint64_t from = offset > start ? offset : start;
		uint64_t to = end < start + BC_PAGE ? end : start + BC_PAGE;
		struct bc_page *p;

		if (to - from < BC_PAGE) {
			memset(scratch, 0, BC_PAGE);
			memcpy(scratch + (from - start), src + (from - offset), to - from);
		}
		spin_lock(&bc->lock);
		p = page_find(bc, i->ino, k);
		if (p)
			memcpy((uint8_t *)frame_va(bc->fp, p->frame) + (from - start),
			       src + (from - offset), to - from);
		else if (to - from == BC_PAGE)
			page_insert(bc, i, k, src + (from - offset));
		else if (old_known && start >= old_size)
			page_insert(bc, i, k, scratch);
		spin_unlock(&bc->lock);
	}
}

/*
 * Writes the len bytes at the start of slot s to f at offset (append: at
 * its end) on the storage node, then into the cache. Returns len or an
 * errno; *at where the bytes went, *size the file's size after.
 */
static long write_staged(struct bcache *bc, const struct bcache_file *f, uint64_t offset,
			 size_t len, bool append, struct bc_slot *s, uint64_t *at,
			 uint64_t *size)
{
	struct bc_inode *i = file_enter(bc, f);
	struct fs_attr attr;
	bool old_known;
	uint64_t old_size;
	long r = 0;

	if (!i)
		return -ENOMEM;
	if (append) {
		r = bc->ops->stat(bc->ops_ctx, f, &attr);
		if (r)
			goto leave;
		inode_size(bc, i, &attr);
		offset = attr.size;
	}
	if (offset + len < offset) {
		r = -EFBIG;
		goto leave;
	}
	old_known = i->size_known;
	old_size = i->size;
	r = bc->ops->write(bc->ops_ctx, f, offset, s->offset, len, &attr);
	if (r >= 0 && (size_t)r != len)
		r = -EIO;
	if (r < 0) {
		inode_drop_all(bc, i);
		goto leave;
	}
	write_pages(bc, i, offset, s->va, len, old_known, old_size, s->va + BC_IO_MAX);
	inode_size(bc, i, &attr);
	count(&bc->stats.written_bytes, len);
	*at = offset;
	*size = attr.size;
leave:
	inode_leave(bc, i);
	return r;
}

int bcache_stat(struct bcache *bc, const struct bcache_file *f, struct fs_attr *attr)
{
	return bc->ops->stat(bc->ops_ctx, f, attr);
}

int bcache_truncate(struct bcache *bc, const struct bcache_file *f, uint64_t size,
		    struct fs_attr *attr)
{
	struct bc_inode *i = file_enter(bc, f);
	int err;

	if (!i)
		return -ENOMEM;
	err = bc->ops->truncate(bc->ops_ctx, f, size, attr);
	if (err) {
		inode_drop_all(bc, i);
	} else {
		spin_lock(&bc->lock);
		pages_cut(bc, i, (size + BC_PAGE - 1) / BC_PAGE, (uint32_t)(size % BC_PAGE));
		spin_unlock(&bc->lock);
		inode_size(bc, i, attr);
	}
	inode_leave(bc, i);
	return err;
}

void bcache_forget(struct bcache *bc, uint64_t ino)
{
	struct bc_inode *i = inode_enter(bc, ino);

	if (!i)
		return; /* out of memory: no inode either, so no pages */
	inode_drop_all(bc, i);
	inode_leave(bc, i);
}

/* The inode numbers bc knows now, in a kmalloc'd array (*n of them);
 * NULL if none or out of memory. */
static uint64_t *inode_numbers(struct bcache *bc, size_t *n)
{
	uint64_t *inos = NULL;
	size_t cap = 0;

	for (;;) {
		size_t count = 0;

		spin_lock(&bc->lock);
		for (unsigned h = 0; h < BC_INODE_HASH; h++)
			for (struct bc_inode *i = bc->inodes[h]; i; i = i->next) {
				if (count < cap)
					inos[count] = i->ino;
				count++;
			}
		spin_unlock(&bc->lock);
		if (count <= cap) {
			*n = count;
			return inos;
		}
		kfree(inos);
		cap = count + 16; /* a few more may come meanwhile */
		inos = kmalloc(cap * sizeof(*inos));
		if (!inos)
			return NULL;
	}
}

void bcache_forget_all(struct bcache *bc)
{
	size_t n = 0;
	uint64_t *inos = inode_numbers(bc, &n);

	for (size_t k = 0; k < n; k++)
		bcache_forget(bc, inos[k]);
	kfree(inos);
}

long bcache_read(struct bcache *bc, const struct bcache_file *f, uint64_t offset, void *dst,
		 size_t len)
{
	struct bc_slot *s;
	uint64_t size;
	long r;

	if (len > BC_IO_MAX || offset + len < offset)
		return -EINVAL;
	if (!len)
		return 0;
	s = slot_take(bc);
	r = read_staged(bc, f, offset, len, s, &size);
	if (r > 0)
		memcpy(dst, s->va + offset % BC_PAGE, (size_t)r);
	slot_give(bc, s);
	return r;
}

long bcache_read_page(struct bcache *bc, const struct bcache_file *f, uint64_t index,
		      void *page)
{
	long r;

	if (index > UINT64_MAX / BC_PAGE - 1)
		return -EINVAL;
	r = bcache_read(bc, f, index * BC_PAGE, page, BC_PAGE);
	if (r >= 0)
		memset((uint8_t *)page + r, 0, BC_PAGE - (size_t)r);
	return r;
}

long bcache_write(struct bcache *bc, const struct bcache_file *f, uint64_t offset,
		  const void *src, size_t len, bool append, uint64_t *at)
{
	struct bc_slot *s;
	uint64_t where, size;
	long r;

	if (len > BC_IO_MAX)
		return -EINVAL;
	if (!len)
		return 0;
	s = slot_take(bc);
	memcpy(s->va, src, len);
	r = write_staged(bc, f, offset, len, append, s, &where, &size);
	if (r >= 0 && at)
		*at = where;
	slot_give(bc, s);
	return r;
}

/* ---- creation -------------------------------------------------------------------- */

static bool make_slots(struct bcache *bc)
{
	if (verbs_buf_alloc(bc->dev, (size_t)BC_SLOTS * BC_SLOT_BYTES, &bc->stage))
		return false;
	spin_init(&bc->slot_lock, "bcache-slots");
	completion_init(&bc->slot_tokens);
	for (unsigned k = 0; k < BC_SLOTS; k++) {
		bc->slots[k].offset = bc->stage.offset + (uint64_t)k * BC_SLOT_BYTES;
		bc->slots[k].va = (uint8_t *)bc->stage.va + (size_t)k * BC_SLOT_BYTES;
		slot_give(bc, &bc->slots[k]);
	}
	return true;
}

struct bcache *bcache_create(struct frame_pool *fp, struct verbs_dev *dev, uint16_t storage,
			     uint32_t max_pages)
{
	struct bcache *bc = kzalloc(sizeof(*bc));
	uint64_t buckets = 64;

	if (!bc)
		return NULL;
	while (buckets < max_pages)
		buckets <<= 1;
	bc->fp = fp;
	bc->dev = dev;
	bc->storage = storage;
	bc->max_pages = max_pages;
	bc->stats.max_pages = max_pages;
	bc->ops = &fs_backend;
	bc->ops_ctx = bc;
	spin_init(&bc->lock, "bcache");
	list_init(&bc->lru);
	list_init(&bc->free);
	bc->hash_mask = buckets - 1;
	bc->hash = kzalloc(buckets * sizeof(*bc->hash));
	bc->descs = kzalloc((size_t)(max_pages ? max_pages : 1) * sizeof(*bc->descs));
	if (!bc->hash || !bc->descs)
		goto free_tables;
	for (uint32_t k = 0; k < max_pages; k++)
		list_push_back(&bc->free, &bc->descs[k].lru);
	if (!make_slots(bc))
		goto free_tables;
	return bc;
free_tables:
	kfree(bc->hash);
	kfree(bc->descs);
	kfree(bc);
	return NULL;
}

void bcache_destroy(struct bcache *bc)
{
	bool lost = false;

	spin_lock(&bc->lock);
	while (!list_empty(&bc->lru))
		page_drop(bc, list_entry(bc->lru.next, struct bc_page, lru));
	for (unsigned k = 0; k < BC_INODE_HASH; k++)
		while (bc->inodes[k])
			inode_maybe_reap(bc, bc->inodes[k]); /* no refs: no call runs */
	spin_unlock(&bc->lock);
	reap(bc);
	for (unsigned k = 0; k < BC_SLOTS; k++)
		lost |= !wait_for_completion_timeout(&bc->slot_tokens, NS_PER_MS);
	if (!lost)
		verbs_buf_free(bc->dev, &bc->stage); /* else a late READ may write it */
	kfree(bc->hash);
	kfree(bc->descs);
	kfree(bc);
}

void bcache_set_backend(struct bcache *bc, const struct bcache_backend *ops, void *ctx)
{
	bc->ops = ops;
	bc->ops_ctx = ctx;
}

uint16_t bcache_storage(const struct bcache *bc)
{
	return bc->storage;
}

void bcache_get_stats(struct bcache *bc, struct bc_stats *st)
{
	spin_lock(&bc->lock);
	*st = bc->stats;
	spin_unlock(&bc->lock);
}

/* ---- the handlers ---------------------------------------------------------------- */

/* The cache of the service that received the request, or NULL. */
static struct bcache *bcache_of(struct rpc_ctx *ctx, struct memserv **ms)
{
	*ms = memserv_of(ctx->rn);
	return *ms ? (*ms)->bc : NULL;
}

/* Checks what every request carries: credentials, a NUL-ended absolute
 * path, an inode, this cache's storage node. */
static int decode_file(struct bcache *bc, const struct fs_cred *cred, const char *path,
		       uint64_t ino, uint16_t storage)
{
	if (cred->ngroups > FS_NGROUPS || cred->reserved || !ino)
		return -EINVAL;
	if (path[0] != '/' || !memchr(path, 0, FS_PATH_MAX))
		return -EINVAL;
	return storage == bcache_storage(bc) ? 0 : -EXDEV;
}

static int decode_io(struct bcache *bc, const struct bc_io_req *rq, bool append)
{
	if ((rq->flags & ~BC_EXACT) || rq->reserved || rq->reserved2 ||
	    (!(rq->flags & BC_EXACT) && rq->gen) || rq->length > BC_IO_MAX ||
	    rq->offset + rq->length < rq->offset || (append && rq->offset))
		return -EINVAL;
	return decode_file(bc, &rq->cred, rq->path, rq->ino, rq->storage);
}

/* The file a decoded BC_READ, BC_WRITE or BC_APPEND names. */
static struct bcache_file io_file(const struct bc_io_req *rq)
{
	return (struct bcache_file){.cred = &rq->cred,
				    .path = rq->path,
				    .ino = rq->ino,
				    .gen = rq->gen,
				    .exact = rq->flags & BC_EXACT};
}

RPC_HANDLER(BC_READ, struct bc_io_req, struct bc_io)
{
	struct bcache_file f = io_file(rq);
	struct memserv *ms;
	struct bcache *bc = bcache_of(ctx, &ms);
	struct bc_slot *s;
	uint64_t size;
	long r;

	if (!bc)
		return -ENODEV;
	r = decode_io(bc, rq, false);
	if (r || !rq->length) {
		memset(rp, 0, sizeof(*rp));
		rp->offset = rq->offset;
		return (int)r;
	}
	s = slot_take(bc);
	r = read_staged(bc, &f, rq->offset, rq->length, s, &size);
	if (r > 0)
		r = memserv_rdma_buf(ms, ctx->src_node, FAB_OP_WRITE,
				     s->offset + rq->offset % BC_PAGE, (uint32_t)r, rq->buf_key,
				     rq->buf_offset) ?: r;
	slot_give(bc, s);
	if (r < 0)
		return (int)r;
	memset(rp, 0, sizeof(*rp));
	rp->bytes = (uint32_t)r;
	rp->offset = rq->offset;
	rp->size = size;
	return 0;
}

/* BC_WRITE and BC_APPEND. */
static int serve_write(struct rpc_ctx *ctx, const struct bc_io_req *rq, struct bc_io *rp,
		       bool append)
{
	struct bcache_file f = io_file(rq);
	uint64_t at = rq->offset, size = 0;
	struct memserv *ms;
	struct bcache *bc = bcache_of(ctx, &ms);
	struct bc_slot *s;
	long r;

	if (!bc)
		return -ENODEV;
	r = decode_io(bc, rq, append);
	if (r)
		return (int)r;
	memset(rp, 0, sizeof(*rp));
	if (!rq->length)
		return 0;
	s = slot_take(bc);
	r = memserv_rdma_buf(ms, ctx->src_node, FAB_OP_READ, s->offset, rq->length, rq->buf_key,
			     rq->buf_offset);
	if (r == -ETIMEDOUT) {
		pr_warn("bcache: an RDMA READ from node %u timed out: a staging buffer "
			"set aside for good", ctx->src_node);
		return -ETIMEDOUT; /* s stays taken: the late READ may still write it */
	}
	if (!r)
		r = write_staged(bc, &f, rq->offset, rq->length, append, s, &at, &size);
	slot_give(bc, s);
	if (r < 0)
		return (int)r;
	rp->bytes = rq->length;
	rp->offset = at;
	rp->size = size;
	return 0;
}

RPC_HANDLER(BC_WRITE, struct bc_io_req, struct bc_io)
{
	return serve_write(ctx, rq, rp, false);
}

RPC_HANDLER(BC_APPEND, struct bc_io_req, struct bc_io)
{
	return serve_write(ctx, rq, rp, true);
}

RPC_HANDLER(BC_TRUNCATE, struct bc_truncate_req, struct fs_attr)
{
	struct bcache_file f = {.cred = &rq->cred, .path = rq->path, .ino = rq->ino};
	struct memserv *ms;
	struct bcache *bc = bcache_of(ctx, &ms);
	int err;

	if (!bc)
		return -ENODEV;
	if (rq->reserved[0] || rq->reserved[1] || rq->reserved[2])
		return -EINVAL;
	err = decode_file(bc, &rq->cred, rq->path, rq->ino, rq->storage);
	return err ? err : bcache_truncate(bc, &f, rq->size, rp);
}

RPC_HANDLER(BC_FORGET, struct bc_forget_req, struct fs_empty)
{
	struct memserv *ms;
	struct bcache *bc = bcache_of(ctx, &ms);

	if (!bc)
		return -ENODEV;
	if (rq->reserved[0] || rq->reserved[1] || rq->reserved[2])
		return -EINVAL;
	if (rq->storage != bcache_storage(bc))
		return -EXDEV;
	if (rq->ino)
		bcache_forget(bc, rq->ino);
	else
		bcache_forget_all(bc);
	rp->reserved = 0;
	return 0;
}
