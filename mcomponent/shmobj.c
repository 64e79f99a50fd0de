/*
 * Shared memory objects (interface, lifetime and locking:
 * mcomponent/shmobj.h).
 *
 * The index. Pages are found by page index (offset / PAGE) in a radix
 * tree of 512-slot nodes whose height grows with the highest index
 * stored (a height h covers indices below 512^h; at most 6 levels cover
 * every offset a mapping may have, 2^63 bytes): an object of a few pages
 * costs one node, a file mapped at a large offset a few more, and
 * nothing is allocated before a page is. A leaf slot holds frame + 1
 * (0: no page), with SHM_DIRTY set on a file page stored since it was
 * read or last written back; an inner slot holds a node's address.
 * Growing puts the old top node in slot 0 of a new one.
 *
 * Write-back (shm_sync) looks for the next dirty page under the lock,
 * takes a reference to its frame and clears the mark, then writes
 * without the lock; a failed write marks the page dirty again if it
 * still has that frame (a newer store marked its own frame dirty).
 *
 * The table of file objects (by inode and generation: shmobj.h) is a
 * list under a spinlock: lookups are at MEM_MMAP_FILE only, and a node
 * maps few files MAP_SHARED at once. A lookup takes a reference only if
 * the object still has one (an object whose last reference went is on
 * its way out, and a new one is made).
 * The new one could read a page from the file before the old one's
 * write-back of it lands; in practice nothing is left to write then,
 * since munmap, exit and exec write back before they drop references.
 */
#include "shmobj.h"

#include "memserv_impl.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <lib/list.h>
#include <lib/string.h>

#define SHM_BITS       9
#define SHM_FANOUT     (1u << SHM_BITS)
#define SHM_MAX_HEIGHT 6 /* 54 bits of page index */
#define SHM_DIRTY      (1ull << 63)
#define SHM_FRAME(e)   ((uint32_t)(((e) & ~SHM_DIRTY) - 1))
#define SHM_ANON_NAME  "/dev/zero (deleted)"

struct shm_node {
	uint64_t slot[SHM_FANOUT];
};

static struct shm_node *node_at(uint64_t slot)
{
	return (struct shm_node *)(uintptr_t)slot;
}

void shm_table_init(struct shm_table *t)
{
	spin_init(&t->lock, "memserv-shm");
	t->files = NULL;
	t->objects = t->pages = 0;
	t->next_ino = 1;
}

struct shm_obj *shm_of(const struct vma *v)
{
	return v->file && (v->flags & VMA_SHARED) ? container_of(v->file, struct shm_obj, file)
						  : NULL;
}

/* ---- the index (o->lock held) ------------------------------------------------------ */

static unsigned height_for(uint64_t idx)
{
	unsigned h = 1;

	while (h < SHM_MAX_HEIGHT && idx >> (SHM_BITS * h))
		h++;
	return h;
}

/* Raises o's height to h (empty levels need no node); false: no memory. */
static bool grow(struct shm_obj *o, unsigned h)
{
	for (; o->height < h; o->height++) {
		struct shm_node *n;

		if (!o->root)
			continue;
		n = kzalloc(sizeof(*n));
		if (!n)
			return false;
		n->slot[0] = o->root;
		o->root = (uintptr_t)n;
	}
	return true;
}

/* The leaf slot of page idx; with alloc the nodes on its way are made
 * (NULL if out of memory), else NULL where one is missing. */
static uint64_t *slot_of(struct shm_obj *o, uint64_t idx, bool alloc)
{
	uint64_t *s = &o->root;

	if (height_for(idx) > o->height && (!alloc || !grow(o, height_for(idx))))
		return NULL;
	for (unsigned level = o->height; level > 0; level--) {
		if (!*s) {
			struct shm_node *n = alloc ? kzalloc(sizeof(*n)) : NULL;

			if (!n)
				return NULL;
			*s = (uintptr_t)n;
		}
		s = &node_at(*s)->slot[(idx >> (SHM_BITS * (level - 1))) % SHM_FANOUT];
	}
	return s;
}

/* The first page (dirty ones only with dirty) at an index in [from, to)
 * under n, a node of level whose first index is base: true and *idx. */
static bool find_from(const struct shm_node *n, unsigned level, uint64_t base, uint64_t from,
		      uint64_t to, bool dirty, uint64_t *idx)
{
	uint64_t span = 1ull << (SHM_BITS * (level - 1)); /* indices per slot */

	for (unsigned i = from > base ? (unsigned)((from - base) / span) : 0; i < SHM_FANOUT;
	     i++) {
		uint64_t lo = base + i * span, e = n->slot[i];

		if (lo >= to)
			return false;
		if (!e)
			continue;
		if (level > 1) {
			if (find_from(node_at(e), level - 1, lo, from, to, dirty, idx))
				return true;
		} else if (!dirty || (e & SHM_DIRTY)) {
			*idx = lo;
			return true;
		}
	}
	return false;
}

/* Frees the subtree n of level, dropping its frames. */
static void free_subtree(struct memserv *ms, struct shm_node *n, unsigned level)
{
	for (unsigned i = 0; i < SHM_FANOUT; i++) {
		if (!n->slot[i])
			continue;
		if (level > 1)
			free_subtree(ms, node_at(n->slot[i]), level - 1);
		else
			frame_put(&ms->frames, SHM_FRAME(n->slot[i]));
	}
	kfree(n);
}

static void count_pages(struct shm_obj *o, int64_t n)
{
	memserv_count(&o->ms->shm.pages, (uint64_t)n);
}

/* ---- making, finding and releasing objects ----------------------------------------- */

static void release(struct vma_file *file);

static struct shm_obj *obj_new(struct memserv *ms, bool anon)
{
	struct shm_obj *o = kzalloc(sizeof(*o));

	if (!o)
		return NULL;
	o->file.refs = 1;
	o->file.release = release;
	o->ms = ms;
	o->anon = anon;
	spin_init(&o->lock, "shm-obj");
	memserv_count(&ms->shm.objects, 1);
	return o;
}

struct vma_file *shm_anon(struct memserv *ms, uint64_t size)
{
	struct shm_obj *o = obj_new(ms, true);

	if (!o)
		return NULL;
	o->size = size;
	o->file.ino = __atomic_fetch_add(&ms->shm.next_ino, 1, __ATOMIC_RELAXED);
	strlcpy(o->file.path, SHM_ANON_NAME, sizeof(o->file.path));
	return &o->file;
}

/* A reference to o unless its last one went already. */
static bool ref_unless_zero(struct shm_obj *o)
{
	uint32_t r = __atomic_load_n(&o->file.refs, __ATOMIC_ACQUIRE);

	while (r)
		if (__atomic_compare_exchange_n(&o->file.refs, &r, r + 1, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

/* A referenced object of t for the file (ino, gen), or NULL (t->lock
 * held). */
static struct shm_obj *table_find(struct shm_table *t, uint64_t ino, uint32_t gen)
{
	for (struct shm_obj *o = t->files; o; o = o->next)
		if (o->file.ino == ino && o->file.gen == gen && ref_unless_zero(o))
			return o;
	return NULL;
}

struct vma_file *shm_file(struct memserv *ms, const char *path, uint64_t ino, uint32_t gen,
			  const struct fs_cred *cred)
{
	struct shm_table *t = &ms->shm;
	struct shm_obj *o, *fresh = obj_new(ms, false);

	if (fresh) { /* made before the lock: kept only if the table has none */
		fresh->file.ino = ino;
		fresh->file.gen = gen;
		fresh->file.exact = true;
		fresh->file.cred = *cred;
		strlcpy(fresh->file.path, path, sizeof(fresh->file.path));
	}
	spin_lock(&t->lock);
	o = table_find(t, ino, gen);
	if (!o && fresh) {
		fresh->next = t->files;
		t->files = o = fresh;
		fresh = NULL;
	}
	spin_unlock(&t->lock);
	if (fresh)
		vma_file_put(&fresh->file); /* empty: nothing to write or free */
	return o ? &o->file : NULL;
}

static void table_remove(struct shm_table *t, struct shm_obj *o)
{
	spin_lock(&t->lock);
	for (struct shm_obj **pp = &t->files; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	spin_unlock(&t->lock);
}

/* vma_file_put's last reference: write back, free every frame. */
static void release(struct vma_file *file)
{
	struct shm_obj *o = container_of(file, struct shm_obj, file);
	struct memserv *ms = o->ms;

	if (!o->anon) {
		table_remove(&ms->shm, o);
		shm_sync(o, 0, UINT64_MAX);
	}
	if (o->root)
		free_subtree(ms, node_at(o->root), o->height);
	count_pages(o, -(int64_t)o->npages);
	memserv_count(&ms->shm.objects, (uint64_t)-1);
	kfree(o);
}

/* ---- pages -------------------------------------------------------------------------- */

/* A page read from o's file for offset: installed unless a concurrent
 * miss installed one first (then f is freed and that one used); *out
 * gets the frame with a reference for the caller. */
static int install_read(struct shm_obj *o, uint64_t idx, uint32_t f, uint32_t *out)
{
	struct frame_pool *fp = &o->ms->frames;
	uint64_t *s;
	int err = 0;

	spin_lock(&o->lock);
	s = slot_of(o, idx, true);
	if (!s) {
		err = -ENOMEM;
	} else if (*s) {
		*out = SHM_FRAME(*s);
		frame_ref(fp, *out);
	} else {
		*s = (uint64_t)f + 1;
		o->npages++;
		*out = f;
		frame_ref(fp, f); /* the caller's; the object keeps the first */
		f = FRAME_NONE;
	}
	spin_unlock(&o->lock);
	if (f != FRAME_NONE)
		frame_free(fp, f);
	if (!err && f == FRAME_NONE)
		count_pages(o, 1);
	return err;
}

int shm_miss_frame(struct shm_obj *o, uint64_t offset, uint32_t *out)
{
	struct frame_pool *fp = &o->ms->frames;
	uint64_t idx = offset / PAGE, *s;
	uint32_t f;
	int err;

	if (o->anon && offset >= o->size)
		return -ENXIO;
	spin_lock(&o->lock);
	s = slot_of(o, idx, false);
	f = s && *s ? SHM_FRAME(*s) : FRAME_NONE;
	if (f != FRAME_NONE)
		frame_ref(fp, f);
	spin_unlock(&o->lock);
	*out = f;
	if (f != FRAME_NONE || o->anon)
		return 0;
	f = frame_alloc(fp);
	if (f == FRAME_NONE)
		return -ENOMEM;
	err = memfile_fill(o->ms, &o->file, offset, f);
	if (err) {
		frame_free(fp, f);
		return err;
	}
	return install_read(o, idx, f, out);
}

int shm_store(struct shm_obj *o, uint64_t offset, uint32_t f)
{
	uint64_t *s, old = 0;
	int err = 0;

	if (o->anon && offset >= o->size)
		return -ENXIO;
	spin_lock(&o->lock);
	s = slot_of(o, offset / PAGE, true);
	if (!s) {
		err = -ENOMEM;
	} else {
		old = *s;
		*s = ((uint64_t)f + 1) | (o->anon ? 0 : SHM_DIRTY);
		if (!old)
			o->npages++;
	}
	spin_unlock(&o->lock);
	if (old)
		frame_put(&o->ms->frames, SHM_FRAME(old));
	else if (!err)
		count_pages(o, 1);
	return err;
}

/* The next dirty page of o at an index in [from, to): its index and
 * frame (a reference taken), its mark cleared; false if none. */
static bool take_dirty(struct shm_obj *o, uint64_t from, uint64_t to, uint64_t *idx,
		       uint32_t *f)
{
	bool found;

	spin_lock(&o->lock);
	found = o->root && find_from(node_at(o->root), o->height, 0, from, to, true, idx);
	if (found) {
		uint64_t *s = slot_of(o, *idx, false);

		*s &= ~SHM_DIRTY;
		*f = SHM_FRAME(*s);
		frame_ref(&o->ms->frames, *f);
	}
	spin_unlock(&o->lock);
	return found;
}

/* A write-back of page idx (frame f) failed: dirty again if still f. */
static void mark_dirty(struct shm_obj *o, uint64_t idx, uint32_t f)
{
	uint64_t *s;

	spin_lock(&o->lock);
	s = slot_of(o, idx, false);
	if (s && *s && SHM_FRAME(*s) == f)
		*s |= SHM_DIRTY;
	spin_unlock(&o->lock);
}

/* A write-back found o's file unlinked: o is gone from it (the first
 * to find it takes it out of the table and says so). */
static void mark_gone(struct shm_obj *o)
{
	if (__atomic_exchange_n(&o->gone, true, __ATOMIC_ACQ_REL))
		return;
	table_remove(&o->ms->shm, o);
	pr_info("memory: %s (inode %llu generation %u) was unlinked: its MAP_SHARED pages "
		"stay in memory, written nowhere",
		o->file.path, (unsigned long long)o->file.ino, o->file.gen);
}

int shm_sync(struct shm_obj *o, uint64_t start, uint64_t end)
{
	uint64_t idx, from = start / PAGE, to = end / PAGE + (end % PAGE != 0);
	int first = 0;
	uint32_t f;

	if (o->anon)
		return 0;
	while (from < to && !__atomic_load_n(&o->gone, __ATOMIC_ACQUIRE) &&
	       take_dirty(o, from, to, &idx, &f)) {
		int err = memfile_write(o->ms, &o->file, idx * PAGE, f);

		if (err == -ESTALE) {
			mark_gone(o);
		} else if (err) {
			mark_dirty(o, idx, f);
			pr_warn("memory: write-back of %s at %llu failed (%s); the page stays "
				"dirty",
				o->file.path, (unsigned long long)(idx * PAGE), errno_name(err));
			if (!first)
				first = err;
		}
		frame_put(&o->ms->frames, f);
		from = idx + 1;
	}
	return first;
}

void shm_get_stats(struct shm_table *t, uint64_t *objects, uint64_t *pages)
{
	*objects = __atomic_load_n(&t->objects, __ATOMIC_RELAXED);
	*pages = __atomic_load_n(&t->pages, __ATOMIC_RELAXED);
}
