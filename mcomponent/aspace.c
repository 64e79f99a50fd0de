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
 * A vRegion is created when a VMA first lands in it and freed when its
 * last VMA and page go (unmap, destroy), so the directory stays as sparse
 * as the mappings.
 */
#include "aspace.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <lib/string.h>

#define PAGE	 4096ull
#define PMAP_IDX(va) (((va) >> 12) & (PMAP_FANOUT * PMAP_FANOUT - 1))

static uint64_t vr_index(uint64_t addr)
{
	return addr >> VREGION_SHIFT;
}

static struct vregion *vr_get(struct aspace *as, uint64_t idx)
{
	struct vregion **d = as->dir[idx / VREGION_DIR2];

	return d ? d[idx % VREGION_DIR2] : NULL;
}

static struct vregion *vr_make(struct aspace *as, uint64_t idx)
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
	vr->owner = as->home;
	vma_tree_init(&vr->vmas);
	(*d)[idx % VREGION_DIR2] = vr;
	return vr;
}

/* Frees every frame of vr's pages in [start, end). */
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
				frame_free(as->fp, *e - 1);
				*e = 0;
				vr->npages--;
				as->frames--;
			}
		}
	}
}

/* Frees vr if it holds nothing any more. */
static void vr_maybe_free(struct aspace *as, struct vregion *vr)
{
	uint64_t idx = vr_index(vr->base);

	if (vr->vmas.count || vr->npages)
		return;
	for (unsigned i = 0; i < PMAP_FANOUT; i++)
		kfree(vr->pmap[i]);
	as->dir[idx / VREGION_DIR2][idx % VREGION_DIR2] = NULL;
	kfree(vr);
}

struct aspace *aspace_create(struct frame_pool *fp, uint16_t home)
{
	struct aspace *as = kzalloc(sizeof(*as));

	if (as) {
		as->fp = fp;
		as->home = home;
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
			vr_maybe_free(as, vr);
		}
		kfree(as->dir[i]);
	}
	kfree(as);
	return freed;
}

/* ---- walking a range vRegion by vRegion -------------------------------------------- */

/* The end of the piece of [at, end) inside at's vRegion. */
static uint64_t piece_end(uint64_t at, uint64_t end)
{
	uint64_t vr_end = (vr_index(at) + 1) << VREGION_SHIFT;

	return end < vr_end ? end : vr_end;
}

struct vma *aspace_find_vma(struct aspace *as, uint64_t addr)
{
	struct vregion *vr = addr < MEM_USER_TOP ? vr_get(as, vr_index(addr)) : NULL;

	return vr ? vma_find(&vr->vmas, addr) : NULL;
}

bool aspace_range_free(struct aspace *as, uint64_t start, uint64_t end)
{
	for (uint64_t at = start; at < end; at = piece_end(at, end)) {
		struct vregion *vr = vr_get(as, vr_index(at));

		if (vr && !vma_range_free(&vr->vmas, at, piece_end(at, end)))
			return false;
	}
	return true;
}

bool aspace_range_covered(struct aspace *as, uint64_t start, uint64_t end)
{
	for (uint64_t at = start; at < end; at = piece_end(at, end)) {
		struct vregion *vr = vr_get(as, vr_index(at));

		if (!vr || !vma_range_covered(&vr->vmas, at, piece_end(at, end)))
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
	for (uint64_t p = start; p < failed; p = piece_end(p, end)) {
		struct vregion *vr = vr_get(as, vr_index(p));
		size_t before;

		if (!vr)
			continue;
		before = vr->vmas.count;
		vma_remove(&vr->vmas, p, piece_end(p, end)); /* best effort */
		count_vmas(as, vr, before);
		vr_maybe_free(as, vr);
	}
}

int aspace_map(struct aspace *as, uint64_t start, uint64_t end, uint32_t prot,
	       uint32_t flags)
{
	if (!aspace_range_free(as, start, end))
		return -EEXIST;
	for (uint64_t at = start; at < end; at = piece_end(at, end)) {
		struct vregion *vr = vr_make(as, vr_index(at));
		size_t before;
		int err = -ENOMEM;

		if (vr) {
			before = vr->vmas.count;
			err = vma_insert(&vr->vmas, at, piece_end(at, end), prot, flags);
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
	for (uint64_t at = start; at < end; at = piece_end(at, end)) {
		struct vregion *vr = vr_get(as, vr_index(at));
		uint64_t pe = piece_end(at, end);
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
	for (uint64_t at = start; at < end; at = piece_end(at, end)) {
		struct vregion *vr = vr_get(as, vr_index(at));
		size_t before = vr->vmas.count;
		int err = vma_protect(&vr->vmas, at, piece_end(at, end), prot);

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
	return leaf[PMAP_IDX(va) % PMAP_FANOUT] - 1;
}

int aspace_set_page(struct aspace *as, uint64_t va, uint32_t f)
{
	struct vregion *vr = va < MEM_USER_TOP ? vr_get(as, vr_index(va)) : NULL;
	uint32_t **leaf, *e;

	if (!vr)
		return -ENOMEM; /* no VMA here: the caller broke the contract */
	leaf = &vr->pmap[PMAP_IDX(va) / PMAP_FANOUT];
	if (!*leaf) {
		*leaf = kzalloc(PMAP_FANOUT * sizeof(uint32_t));
		if (!*leaf)
			return -ENOMEM;
	}
	e = &(*leaf)[PMAP_IDX(va) % PMAP_FANOUT];
	if (*e) {
		frame_free(as->fp, *e - 1);
	} else {
		vr->npages++;
		as->frames++;
	}
	*e = f + 1;
	return 0;
}
