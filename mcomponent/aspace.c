/*
 * Address spaces (interface and the vRegion layout: mcomponent/aspace.h).
 *
 * Range operations walk the range vRegion by vRegion (each piece is the
 * part of [start, end) inside one vRegion) and call the piece's VMA tree.
 * Checks that decide success (free for map, covered for protect) are made
 * over every piece before the first change, so those calls either do it
 * all or nothing; only an allocation failure in the middle of a map is
 * rolled back by hand.
 *
 * A vRegion is created when a VMA first lands in it (owner: this node)
 * or when the memory service places it (aspace_add_vregion, any owner).
 * In a remote space it is freed when its last VMA and page go, so the
 * directory stays as sparse as the mappings; a home space keeps it (and
 * its owner) until destroy.
 *
 * fork (aspace_clone) copies the directory, each VMA tree VMA by VMA and
 * each page map leaf, taking a frame reference per page; on -ENOMEM the
 * half-built copy is destroyed, which drops exactly those references.
 */
#include "aspace.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <lib/string.h>

#define PAGE	 4096ull
#define PMAP_IDX(va) (((va) >> 12) & (PMAP_FANOUT * PMAP_FANOUT - 1))
#define PMAP_FRAME(e) ((e) - 1)

static uint64_t vr_index(uint64_t addr)
{
	return addr >> VREGION_SHIFT;
}

static struct vregion *vr_get(struct aspace *as, uint64_t idx)
{
	struct vregion **d = as->dir[idx / VREGION_DIR2];

	return d ? d[idx % VREGION_DIR2] : NULL;
}

static struct vregion *vr_make_owned(struct aspace *as, uint64_t idx, uint16_t owner)
{
	struct vregion ***d = &as->dir[idx / VREGION_DIR2];
	struct vregion *vr;

	if (!*d) {
		*d = kzalloc(VREGION_DIR2 * sizeof(**d));
		if (!*d)
			return NULL;
	}
	vr = (*d)[idx % VREGION_DIR2];
	if (vr)
		return vr;
	vr = kzalloc(sizeof(*vr));
	if (!vr)
		return NULL;
	vr->base = idx << VREGION_SHIFT;
	vr->owner = owner;
	vma_tree_init(&vr->vmas);
	(*d)[idx % VREGION_DIR2] = vr;
	as->nvregions++;
	return vr;
}

/* The vRegion idx, made (owned by this node) if it has none. */
static struct vregion *vr_make(struct aspace *as, uint64_t idx)
{
	return vr_make_owned(as, idx, as->self);
}

/* Drops the frame of every page of vr in [start, end). */
static void vr_free_pages(struct aspace *as, struct vregion *vr, uint64_t start,
			  uint64_t end)
{
	for (uint64_t va = start; va < end && vr->npages;) {
		uint32_t *leaf = vr->pmap[PMAP_IDX(va) / PMAP_FANOUT];
		uint64_t leaf_end = (va | (PMAP_FANOUT * PAGE - 1)) + 1;

		if (!leaf) {
			va = leaf_end;
			continue;
		}
		for (; va < end && va < leaf_end; va += PAGE) {
			uint32_t *e = &leaf[PMAP_IDX(va) % PMAP_FANOUT];

			if (*e) {
				frame_put(as->fp, PMAP_FRAME(*e));
				*e = 0;
				vr->npages--;
				as->frames--;
			}
		}
	}
}

/* Frees vr (which must hold no VMA and no page). */
static void vr_free(struct aspace *as, struct vregion *vr)
{
	uint64_t idx = vr_index(vr->base);

	for (unsigned i = 0; i < PMAP_FANOUT; i++)
		kfree(vr->pmap[i]);
	as->dir[idx / VREGION_DIR2][idx % VREGION_DIR2] = NULL;
	as->nvregions--;
	kfree(vr);
}

/* Frees vr if it holds nothing any more and as does not keep vRegions. */
static void vr_maybe_free(struct aspace *as, struct vregion *vr)
{
	if (!vr->vmas.count && !vr->npages && !as->keep_vregions)
		vr_free(as, vr);
}

struct aspace *aspace_create(struct frame_pool *fp, uint16_t self)
{
	struct aspace *as = kzalloc(sizeof(*as));

	if (as) {
		as->fp = fp;
		as->self = self;
	}
	return as;
}

uint64_t aspace_destroy(struct aspace *as)
{
	uint64_t freed = as->frames;

	for (unsigned i = 0; i < VREGION_DIR1; i++) {
		if (!as->dir[i])
			continue;
		for (unsigned j = 0; j < VREGION_DIR2; j++) {
			struct vregion *vr = as->dir[i][j];

			if (!vr)
				continue;
			vr_free_pages(as, vr, vr->base, vr->base + MEM_VREGION_SIZE);
			vma_tree_clear(&vr->vmas);
			vr_free(as, vr);
		}
		kfree(as->dir[i]);
	}
	kfree(as);
	return freed;
}

/* ---- walking a range vRegion by vRegion -------------------------------------------- */

struct vma *aspace_find_vma(struct aspace *as, uint64_t addr)
{
	struct vregion *vr = addr < MEM_USER_TOP ? vr_get(as, vr_index(addr)) : NULL;

	return vr ? vma_find(&vr->vmas, addr) : NULL;
}

struct vma *aspace_vma_from(struct aspace *as, uint64_t addr)
{
	for (uint64_t idx = addr < MEM_USER_TOP ? vr_index(addr) : VREGION_COUNT;
	     idx < VREGION_COUNT; idx++) {
		struct vregion *vr;
		struct vma *v;

		if (!as->dir[idx / VREGION_DIR2]) { /* a whole empty directory page */
			idx = (idx / VREGION_DIR2 + 1) * VREGION_DIR2 - 1;
			continue;
		}
		vr = as->dir[idx / VREGION_DIR2][idx % VREGION_DIR2];
		if (!vr)
			continue;
		v = vma_first_from(&vr->vmas, addr);
		if (v)
			return v;
	}
	return NULL;
}

bool aspace_range_free(struct aspace *as, uint64_t start, uint64_t end)
{
	for (uint64_t at = start; at < end; at = aspace_piece_end(at, end)) {
		struct vregion *vr = vr_get(as, vr_index(at));

		if (vr && !vma_range_free(&vr->vmas, at, aspace_piece_end(at, end)))
			return false;
	}
	return true;
}

bool aspace_range_covered(struct aspace *as, uint64_t start, uint64_t end)
{
	for (uint64_t at = start; at < end; at = aspace_piece_end(at, end)) {
		struct vregion *vr = vr_get(as, vr_index(at));

		if (!vr || !vma_range_covered(&vr->vmas, at, aspace_piece_end(at, end)))
			return false;
	}
	return true;
}

static void count_vmas(struct aspace *as, struct vregion *vr, size_t before)
{
	as->nvmas = as->nvmas + vr->vmas.count - before;
}

/* Takes the pieces of [start, failed) out again (a map that failed there). */
static void map_undo(struct aspace *as, uint64_t start, uint64_t failed, uint64_t end)
{
	for (uint64_t p = start; p < failed; p = aspace_piece_end(p, end)) {
		struct vregion *vr = vr_get(as, vr_index(p));
		size_t before;

		if (!vr)
			continue;
		before = vr->vmas.count;
		vma_remove(&vr->vmas, p, aspace_piece_end(p, end)); /* best effort */
		count_vmas(as, vr, before);
		vr_maybe_free(as, vr);
	}
}

int aspace_map(struct aspace *as, uint64_t start, uint64_t end, uint32_t prot,
	       uint32_t flags)
{
	return aspace_map_file(as, start, end, prot, flags, NULL, 0);
}

int aspace_map_file(struct aspace *as, uint64_t start, uint64_t end, uint32_t prot,
		    uint32_t flags, struct vma_file *file, uint64_t pgoff)
{
	if (!aspace_range_free(as, start, end))
		return -EEXIST;
	for (uint64_t at = start; at < end; at = aspace_piece_end(at, end)) {
		struct vregion *vr = vr_make(as, vr_index(at));
		size_t before;
		int err = -ENOMEM;

		if (vr) {
			before = vr->vmas.count;
			err = vma_insert_file(&vr->vmas, at, aspace_piece_end(at, end), prot,
					      flags, file, pgoff + (at - start));
			count_vmas(as, vr, before);
		}
		if (err) {
			if (vr)
				vr_maybe_free(as, vr);
			map_undo(as, start, at, end);
			return err;
		}
	}
	return 0;
}

int aspace_unmap(struct aspace *as, uint64_t start, uint64_t end)
{
	for (uint64_t at = start; at < end; at = aspace_piece_end(at, end)) {
		struct vregion *vr = vr_get(as, vr_index(at));
		uint64_t pe = aspace_piece_end(at, end);
		size_t before;
		int err;

		if (!vr)
			continue;
		before = vr->vmas.count;
		err = vma_remove(&vr->vmas, at, pe);
		count_vmas(as, vr, before);
		if (err)
			return err;
		vr_free_pages(as, vr, at, pe);
		vr_maybe_free(as, vr);
	}
	return 0;
}

int aspace_protect(struct aspace *as, uint64_t start, uint64_t end, uint32_t prot)
{
	if (!aspace_range_covered(as, start, end))
		return -ENOMEM;
	for (uint64_t at = start; at < end; at = aspace_piece_end(at, end)) {
		struct vregion *vr = vr_get(as, vr_index(at));
		size_t before = vr->vmas.count;
		int err = vma_protect(&vr->vmas, at, aspace_piece_end(at, end), prot);

		count_vmas(as, vr, before);
		if (err)
			return err;
	}
	return 0;
}

/* The highest VMA starting below addr, over every vRegion of the aspace
 * ctx (a vma_last_below_fn). */
static const struct vma *last_below(const void *ctx, uint64_t addr)
{
	const struct aspace *as = ctx;
	int64_t idx;

	if (addr == 0)
		return NULL;
	for (idx = (int64_t)vr_index(addr - 1); idx >= 0; idx--) {
		struct vregion *vr;
		struct vma *v;

		if (!as->dir[idx / VREGION_DIR2]) {
			idx -= idx % VREGION_DIR2; /* skip the empty block */
			continue;
		}
		vr = as->dir[idx / VREGION_DIR2][idx % VREGION_DIR2];
		v = vr ? vma_last_below(&vr->vmas, addr) : NULL;
		if (v)
			return v;
	}
	return NULL;
}

int aspace_find_gap(struct aspace *as, uint64_t len, uint64_t low, uint64_t high,
		    uint64_t *out)
{
	if (!len || len % PAGE || low >= high)
		return -ENOMEM;
	return vma_gap_search(len, low, high, last_below, as, out);
}

/* ---- pages ----------------------------------------------------------------------- */

uint32_t aspace_page(struct aspace *as, uint64_t va)
{
	struct vregion *vr = va < MEM_USER_TOP ? vr_get(as, vr_index(va)) : NULL;
	uint32_t *leaf;

	if (!vr)
		return FRAME_NONE;
	leaf = vr->pmap[PMAP_IDX(va) / PMAP_FANOUT];
	if (!leaf || !leaf[PMAP_IDX(va) % PMAP_FANOUT])
		return FRAME_NONE;
	return PMAP_FRAME(leaf[PMAP_IDX(va) % PMAP_FANOUT]);
}

/* The entry of va's page (NULL: no page there), with alloc a leaf made
 * for it (NULL if out of memory). */
static uint32_t *page_entry(struct aspace *as, uint64_t va, bool alloc)
{
	struct vregion *vr = va < MEM_USER_TOP ? vr_get(as, vr_index(va)) : NULL;
	uint32_t **leaf;

	if (!vr)
		return NULL;
	leaf = &vr->pmap[PMAP_IDX(va) / PMAP_FANOUT];
	if (!*leaf && alloc)
		*leaf = kzalloc(PMAP_FANOUT * sizeof(uint32_t));
	return *leaf ? &(*leaf)[PMAP_IDX(va) % PMAP_FANOUT] : NULL;
}

int aspace_set_page(struct aspace *as, uint64_t va, uint32_t f)
{
	struct vregion *vr = va < MEM_USER_TOP ? vr_get(as, vr_index(va)) : NULL;
	uint32_t *e, old;

	if (!vr || vr->owner != as->self)
		return -ENOMEM; /* no VMA here: the caller broke the contract */
	e = page_entry(as, va, true);
	if (!e)
		return -ENOMEM;
	old = *e;
	*e = f + 1;
	if (old)
		return frame_put(as->fp, PMAP_FRAME(old)) ? 1 : 0;
	vr->npages++;
	as->frames++;
	return 0;
}

void aspace_discard(struct aspace *as, uint64_t start, uint64_t end)
{
	for (uint64_t at = start; at < end; at = aspace_piece_end(at, end)) {
		struct vregion *vr = vr_get(as, vr_index(at));

		if (vr)
			vr_free_pages(as, vr, at, aspace_piece_end(at, end));
	}
}

int aspace_move_pages(struct aspace *as, uint64_t from, uint64_t to, uint64_t len)
{
	for (uint64_t off = 0; off < len; off += PAGE) {
		uint32_t *src = page_entry(as, from + off, false), *dst, e;
		struct vregion *svr = vr_get(as, vr_index(from + off));
		struct vregion *dvr = vr_get(as, vr_index(to + off));

		if (!src || !*src)
			continue;
		if (!dvr || dvr->owner != as->self)
			return -ENOMEM;
		dst = page_entry(as, to + off, true);
		if (!dst)
			return -ENOMEM;
		e = *src;
		*src = 0;
		svr->npages--;
		if (*dst) { /* cannot happen: the caller maps fresh ground */
			frame_put(as->fp, PMAP_FRAME(*dst));
			dvr->npages--;
			as->frames--;
		}
		*dst = e;
		dvr->npages++;
	}
	return 0;
}

uint64_t aspace_count_pages(struct aspace *as, uint64_t start, uint64_t end)
{
	uint64_t n = 0;

	for (uint64_t va = start; va < end; va += PAGE)
		n += aspace_page(as, va) != FRAME_NONE;
	return n;
}

/* ---- vRegions and owners ----------------------------------------------------------- */

struct vregion *aspace_vregion(struct aspace *as, uint64_t addr)
{
	return addr < MEM_USER_TOP ? vr_get(as, vr_index(addr)) : NULL;
}

int aspace_add_vregion(struct aspace *as, uint64_t addr, uint16_t owner)
{
	if (addr >= MEM_USER_TOP)
		return -EINVAL;
	if (vr_get(as, vr_index(addr)))
		return -EEXIST;
	return vr_make_owned(as, vr_index(addr), owner) ? 0 : -ENOMEM;
}

bool aspace_local(struct aspace *as, uint64_t va)
{
	struct vregion *vr = aspace_vregion(as, va);

	return vr && vr->owner == as->self;
}

/* Calls fn(as, vr, arg) for every vRegion of as, in address order, until
 * one returns non-zero (returned). */
static int vr_each(struct aspace *as, int (*fn)(struct aspace *, struct vregion *, void *),
		   void *arg)
{
	for (unsigned i = 0; i < VREGION_DIR1; i++) {
		for (unsigned j = 0; as->dir[i] && j < VREGION_DIR2; j++) {
			int err = as->dir[i][j] ? fn(as, as->dir[i][j], arg) : 0;

			if (err)
				return err;
		}
	}
	return 0;
}

struct owner_set {
	uint16_t *out;
	unsigned n, max;
};

static int add_owner(struct aspace *as, struct vregion *vr, void *arg)
{
	struct owner_set *set = arg;

	if (vr->owner == as->self)
		return 0;
	for (unsigned i = 0; i < set->n; i++)
		if (set->out[i] == vr->owner)
			return 0;
	if (set->n < set->max)
		set->out[set->n++] = vr->owner;
	return 0;
}

unsigned aspace_remote_owners(struct aspace *as, uint16_t *out, unsigned max)
{
	struct owner_set set = {.out = out, .max = max};

	vr_each(as, add_owner, &set);
	return set.n;
}

/* ---- fork -------------------------------------------------------------------------- */

/* Copies vr's VMAs and page map into the child (*arg), sharing frames. */
static int clone_vregion(struct aspace *as, struct vregion *vr, void *arg)
{
	struct aspace *child = arg;
	struct vregion *cv = vr_make_owned(child, vr_index(vr->base), vr->owner);

	if (!cv)
		return -ENOMEM;
	for (struct vma *v = vma_first_from(&vr->vmas, 0); v; v = vma_next(&vr->vmas, v)) {
		int err = vma_insert_file(&cv->vmas, v->start, v->end, v->prot, v->flags,
					  v->file, v->pgoff);

		if (err)
			return err;
	}
	child->nvmas += cv->vmas.count;
	for (unsigned i = 0; i < PMAP_FANOUT; i++) {
		if (!vr->pmap[i])
			continue;
		cv->pmap[i] = kmalloc(PMAP_FANOUT * sizeof(uint32_t));
		if (!cv->pmap[i])
			return -ENOMEM;
		memcpy(cv->pmap[i], vr->pmap[i], PMAP_FANOUT * sizeof(uint32_t));
		for (unsigned k = 0; k < PMAP_FANOUT; k++) {
			if (cv->pmap[i][k]) {
				frame_ref(as->fp, PMAP_FRAME(cv->pmap[i][k]));
				cv->npages++;
				child->frames++;
			}
		}
	}
	return 0;
}

struct aspace *aspace_clone(struct aspace *as)
{
	struct aspace *child = aspace_create(as->fp, as->self);

	if (!child)
		return NULL;
	child->keep_vregions = as->keep_vregions;
	child->brk_start = as->brk_start;
	child->brk = as->brk;
	child->nmemory = as->nmemory;
	memcpy(child->memory, as->memory, sizeof(child->memory));
	if (vr_each(as, clone_vregion, child)) {
		aspace_destroy(child);
		return NULL;
	}
	return child;
}
