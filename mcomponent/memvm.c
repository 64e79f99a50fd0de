/*
 * The memory service's layout calls (include/proto/mem.h): MEM_MMAP,
 * MEM_MUNMAP, MEM_MPROTECT and MEM_BRK at a process's home, with the
 * placement of new vRegions and the MEM_REGION calls that keep their
 * owners in step (the service and its locking rules: memserv.c).
 *
 * Placement. A vRegion that a map needs and that has no vRegion struct
 * yet gets an owner before the map: with a manager= node and more than
 * one memory node for the process (MEM_EXEC's memory[]), the global
 * memory manager picks one (MGR_PLACE_VREGION); otherwise, or if it
 * cannot answer (logged once), this node. The owner stays until exit.
 *
 * Owners in step. The home keeps every VMA; each piece of a range that
 * lies in a vRegion owned elsewhere becomes one MEM_REGION call to the
 * owner, made with the process's lock held and before the answer to the
 * processor. The order makes an owner's refusal safe for what matters:
 *   map      here first, then the owners; if one refuses, the owners
 *            done get UNMAP and the home drops the whole range again, so
 *            the home never believes in a VMA an owner refused;
 *   unmap    the owners first, then here; if one refuses, the call
 *            fails with the home unchanged but earlier owners already
 *            unmapped (their part then reads as a fault: the process
 *            gets SIGSEGV there, never stale data); not undone;
 *   protect  coverage checked here, then the owners, then here; an
 *            owner's refusal leaves earlier owners with the new prot
 *            and the home with the old one (the owner's prot is what its
 *            misses answer); not undone.
 * MAP_FIXED's implicit unmap and a brk shrink are unmaps as above.
 */
#include "memserv_impl.h"

#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/printk.h>
#include <lib/string.h>
#include <net/mgr_client.h>

#define PLACE_NS  (2ull * 1000 * 1000 * 1000) /* MGR_PLACE_VREGION */

/* Linux's mmap flags (uapi asm-generic/mman-common.h, x86). */
#define MAP_SHARED	    0x01
#define MAP_PRIVATE	    0x02
#define MAP_SHARED_VALIDATE 0x03
#define MAP_TYPE	    0x0f
#define MAP_FIXED	    0x10
#define MAP_ANONYMOUS	    0x20
#define MAP_32BIT	    0x40
#define MAP_GROWSDOWN	    0x100
#define MAP_DENYWRITE	    0x800
#define MAP_EXECUTABLE	    0x1000
#define MAP_LOCKED	    0x2000
#define MAP_NORESERVE	    0x4000
#define MAP_POPULATE	    0x8000
#define MAP_NONBLOCK	    0x10000
#define MAP_STACK	    0x20000
#define MAP_HUGETLB	    0x40000
#define MAP_SYNC	    0x80000
#define MAP_FIXED_NOREPLACE 0x100000
/* Accepted; the last four are ignored by Linux too. */
#define MAP_OK                                                                           \
	(MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE | MAP_STACK |  \
	 MAP_FIXED_NOREPLACE | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_LOCKED | MAP_NONBLOCK)
/* Known, not supported yet: -ENODEV. */
#define MAP_LATER (MAP_32BIT | MAP_GROWSDOWN | MAP_HUGETLB | MAP_SYNC)

/* ---- placement --------------------------------------------------------------------- */

/* The owner of the new vRegion idx of p's process: the manager's choice
 * among its memory nodes, or this node. */
static uint16_t place_vregion(struct memserv *ms, struct mem_proc *p, uint64_t idx)
{
	struct aspace *as = p->as;
	int node;

	if (as->nmemory < 2 || !kconfig.manager_id)
		return ms->self;
	node = mgr_place(ms->rn, MSG_MGR_PLACE_VREGION, as->memory, as->nmemory, p->pid, idx,
			 PLACE_NS);
	if (node < 0) {
		if (!ms->warned_placement)
			pr_warn("memory: no vRegion placement from manager %u (%s): new "
				"vRegions stay on this node",
				kconfig.manager_id, errno_name(node));
		ms->warned_placement = true;
		return ms->self;
	}
	if (node != ms->self)
		memserv_count(&ms->stats.placed_away, 1);
	return (uint16_t)node;
}

/* Gives every vRegion of [start, end) that has none yet an owner; with
 * local (file mappings, mremap's moves) that is this node, and a vRegion
 * owned elsewhere is -ENODEV. */
static int place_range(struct memserv *ms, struct mem_proc *p, uint64_t start, uint64_t end,
		       bool local)
{
	for (uint64_t at = start; at < end; at = aspace_piece_end(at, end)) {
		struct vregion *vr = aspace_vregion(p->as, at);
		int err;

		if (vr) {
			if (local && vr->owner != ms->self)
				return -ENODEV;
			continue;
		}
		err = aspace_add_vregion(p->as, at,
					 local ? ms->self
					       : place_vregion(ms, p, at >> VREGION_SHIFT));
		if (err)
			return err;
	}
	return 0;
}

/* ---- owners in step ---------------------------------------------------------------- */

/* MEM_REGION op for each piece of [start, end) in a vRegion owned
 * elsewhere, in address order. On an owner's error *stop is that piece's
 * start (the pieces below it were done). */
static int forward(struct memserv *ms, struct mem_proc *p, uint16_t op, uint64_t start,
		   uint64_t end, uint32_t prot, uint32_t vflags, uint64_t *stop)
{
	for (uint64_t at = start; at < end; at = aspace_piece_end(at, end)) {
		struct vregion *vr = aspace_vregion(p->as, at);
		struct mem_region_req rq = {.proc_node = p->node, .op = op, .pid = p->pid,
					    .prot = prot, .vflags = vflags, .start = at,
					    .end = aspace_piece_end(at, end)};
		int err;

		if (!vr || vr->owner == ms->self)
			continue;
		err = region_call(ms, vr->owner, &rq, NULL);
		if (err) {
			pr_warn("memory: process %u of node %u: owner %u refused MEM_REGION "
				"%u [%llx, %llx): %s",
				p->pid, p->node, vr->owner, op, (unsigned long long)rq.start,
				(unsigned long long)rq.end, errno_name(err));
			*stop = at;
			return err;
		}
	}
	*stop = end;
	return 0;
}

/* Maps [start, end) with prot and vflags here and at the owners; a file
 * mapping (file not NULL, at offset pgoff) only in vRegions of this node. */
static int vm_map_file(struct memserv *ms, struct mem_proc *p, uint64_t start, uint64_t end,
		       uint32_t prot, uint32_t vflags, struct vma_file *file, uint64_t pgoff)
{
	uint64_t stop = start, ignored;
	int err = place_range(ms, p, start, end, file != NULL);

	if (!err)
		err = aspace_map_file(p->as, start, end, prot, vflags, file, pgoff);
	if (err)
		return err;
	err = forward(ms, p, MEM_REGION_MAP, start, end, prot, vflags, &stop);
	if (err) {
		forward(ms, p, MEM_REGION_UNMAP, start, stop, 0, 0, &ignored);
		aspace_unmap(p->as, start, end); /* drops what the map added */
	}
	return err;
}

static int vm_map(struct memserv *ms, struct mem_proc *p, uint64_t start, uint64_t end,
		  uint32_t prot, uint32_t vflags)
{
	return vm_map_file(ms, p, start, end, prot, vflags, NULL, 0);
}

/* Unmaps [start, end) at the owners, then here; MAP_SHARED stores reach
 * their files first (memfile.c: failures logged, the unmap goes on). */
static int vm_unmap(struct memserv *ms, struct mem_proc *p, uint64_t start, uint64_t end)
{
	uint64_t stop;
	int err = forward(ms, p, MEM_REGION_UNMAP, start, end, 0, 0, &stop);

	if (err)
		return err;
	memfile_sync(ms, p->as, start, end);
	return aspace_unmap(p->as, start, end);
}

/* mprotect of [start, end) at the owners, then here. */
static int vm_protect(struct memserv *ms, struct mem_proc *p, uint64_t start, uint64_t end,
		      uint32_t prot)
{
	uint64_t stop;
	int err;

	if (!aspace_range_covered(p->as, start, end))
		return -ENOMEM;
	err = forward(ms, p, MEM_REGION_PROTECT, start, end, prot, 0, &stop);
	return err ? err : aspace_protect(p->as, start, end, prot);
}

/* ---- MEM_MMAP, MEM_MUNMAP, MEM_MPROTECT ------------------------------------------- */

static bool map_shared(uint32_t flags)
{
	return (flags & MAP_TYPE) == MAP_SHARED || (flags & MAP_TYPE) == MAP_SHARED_VALIDATE;
}

/* mmap(2)'s checks, in Linux's order where it has one, for an anonymous
 * mapping or (file) a file mapping. *len is rounded. */
static int mmap_decode(const struct mem_map_req *rq, bool file, uint64_t *len)
{
	uint32_t type = rq->flags & MAP_TYPE;
	bool shared = map_shared(rq->flags);

	if (rq->reserved || (rq->prot & ~PROT_ALL) || !rq->len)
		return -EINVAL;
	if (rq->flags & ~(MAP_OK | MAP_LATER))
		return -EINVAL;
	if (type != MAP_PRIVATE && !shared)
		return -EINVAL;
	if (file && (rq->flags & MAP_ANONYMOUS))
		return -EINVAL;
	if ((!file && !(rq->flags & MAP_ANONYMOUS)) || (rq->flags & MAP_LATER))
		return -ENODEV;
	*len = page_up(rq->len);
	if (!*len || *len > MEM_USER_TOP - MEM_USER_BASE)
		return -ENOMEM;
	if (rq->flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if (rq->addr % PAGE)
			return -EINVAL;
		if (rq->addr > MEM_USER_TOP - *len)
			return -ENOMEM;
		if (rq->addr < MEM_USER_BASE)
			return -EPERM;
	}
	return 0;
}

/* The first vRegion of [start, end) owned by another node, or NULL. */
static struct vregion *remote_vregion(struct memserv *ms, struct mem_proc *p,
				      uint64_t start, uint64_t end)
{
	for (uint64_t at = start; at < end; at = aspace_piece_end(at, end)) {
		struct vregion *vr = aspace_vregion(p->as, at);

		if (vr && vr->owner != ms->self)
			return vr;
	}
	return NULL;
}

/* The highest free gap below MEM_MMAP_TOP that meets no vRegion owned
 * elsewhere (file mappings: their pages are this node's): each gap that
 * does lowers the search below that vRegion. */
static int local_gap(struct memserv *ms, struct mem_proc *p, uint64_t len, uint64_t *addr)
{
	uint64_t high = MEM_MMAP_TOP;

	for (;;) {
		int err = aspace_find_gap(p->as, len, MEM_USER_BASE, high, addr);
		struct vregion *vr = err ? NULL : remote_vregion(ms, p, *addr, *addr + len);

		if (!vr)
			return err;
		high = vr->base;
	}
}

/* Where the mapping goes: the fixed address (MAP_FIXED: after unmapping
 * what was there), the hint if free, else the highest gap below
 * MEM_MMAP_TOP; with local (file and MAP_SHARED mappings) in vRegions of
 * this node or new ones only (a fixed address in a vRegion owned
 * elsewhere: -ENODEV, with nothing unmapped). */
static int mmap_place(struct memserv *ms, struct mem_proc *p, const struct mem_map_req *rq,
		      uint64_t len, bool local, uint64_t *addr)
{
	uint64_t hint = page_down(rq->addr);

	if ((rq->flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && local &&
	    remote_vregion(ms, p, rq->addr, rq->addr + len))
		return -ENODEV;
	if (rq->flags & MAP_FIXED_NOREPLACE) {
		*addr = rq->addr;
		return aspace_range_free(p->as, *addr, *addr + len) ? 0 : -EEXIST;
	}
	if (rq->flags & MAP_FIXED) {
		*addr = rq->addr;
		return vm_unmap(ms, p, *addr, *addr + len);
	}
	if (hint >= MEM_USER_BASE && hint <= MEM_USER_TOP - len &&
	    aspace_range_free(p->as, hint, hint + len) &&
	    (!local || !remote_vregion(ms, p, hint, hint + len))) {
		*addr = hint;
		return 0;
	}
	return local ? local_gap(ms, p, len, addr)
		     : aspace_find_gap(p->as, len, MEM_USER_BASE, MEM_MMAP_TOP, addr);
}

/* A MAP_SHARED | MAP_ANONYMOUS mapping of p: a new shared memory object
 * of len bytes, at offset 0 (as Linux), in vRegions of this node. */
static int mmap_shared_anon(struct memserv *ms, struct mem_proc *p,
			    const struct mem_map_req *rq, uint64_t len, uint64_t *addr)
{
	struct vma_file *obj = shm_anon(ms, len);
	int err = obj ? mmap_place(ms, p, rq, len, true, addr) : -ENOMEM;

	if (!err)
		err = vm_map_file(ms, p, *addr, *addr + len, rq->prot, VMA_ANON | VMA_SHARED,
				  obj, 0);
	vma_file_put(obj); /* the VMAs hold theirs; none: the object goes */
	return err;
}

RPC_HANDLER(MEM_MMAP, struct mem_map_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct mem_proc *p;
	uint64_t len = 0, addr = 0;
	int err;

	if (!ms)
		return -ENODEV;
	err = mmap_decode(rq, false, &len);
	if (!err)
		err = space_enter(ms, ctx->src_node, rq->pid, ms->self, &p);
	if (err)
		return err;
	if (map_shared(rq->flags)) {
		err = mmap_shared_anon(ms, p, rq, len, &addr);
	} else {
		err = mmap_place(ms, p, rq, len, false, &addr);
		if (!err)
			err = vm_map(ms, p, addr, addr + len, rq->prot, VMA_ANON);
	}
	space_leave(ms, p);
	rp->value = addr;
	return err;
}

/* MEM_MMAP_FILE's own fields: offset, reserved, the path. */
static int mmap_file_decode(const struct mem_mmap_file_req *rq, uint64_t len)
{
	if (rq->offset % PAGE || rq->reserved || rq->path[0] != '/' ||
	    !memchr(rq->path, 0, sizeof(rq->path)))
		return -EINVAL;
	if (rq->offset > (1ull << 63) - len)
		return -EOVERFLOW;
	return 0;
}

RPC_HANDLER(MEM_MMAP_FILE, struct mem_mmap_file_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	const struct mem_map_req *m = &rq->map;
	uint32_t vflags = VMA_FILE;
	struct vma_file *file;
	struct mem_proc *p;
	uint64_t len = 0, addr = 0;
	int err;

	if (!ms)
		return -ENODEV;
	err = mmap_decode(m, true, &len);
	if (!err)
		err = mmap_file_decode(rq, len);
	if (!err && !ms->storage)
		err = -ENODEV; /* no file service to read it from */
	if (!err)
		err = space_enter(ms, ctx->src_node, m->pid, ms->self, &p);
	if (err)
		return err;
	if (map_shared(m->flags)) { /* the node's one object for the file */
		vflags |= VMA_SHARED;
		file = shm_file(ms, rq->path, rq->ino, rq->gen, &rq->cred);
		if (file)
			memfile_set_cache(file, memfile_cache_of(p->as));
	} else {
		file = memfile_new(rq->path, rq->ino, rq->gen, true, &rq->cred,
				   memfile_cache_of(p->as));
	}
	err = file ? mmap_place(ms, p, m, len, true, &addr) : -ENOMEM;
	if (!err)
		err = vm_map_file(ms, p, addr, addr + len, m->prot, vflags, file, rq->offset);
	vma_file_put(file); /* the VMAs hold theirs */
	space_leave(ms, p);
	rp->value = addr;
	return err;
}

/* munmap(2) and mprotect(2)'s range checks; *end set. */
static int range_decode(const struct mem_map_req *rq, bool for_mprotect, uint64_t *end)
{
	uint64_t len = page_up(rq->len);

	if (rq->reserved || rq->flags || (rq->addr % PAGE))
		return -EINVAL;
	if (for_mprotect ? (rq->prot & ~PROT_ALL) != 0 : rq->prot != 0)
		return -EINVAL;
	if (!for_mprotect && !rq->len)
		return -EINVAL;
	if (rq->len && (!len || rq->addr >= MEM_USER_TOP || len > MEM_USER_TOP - rq->addr))
		return for_mprotect ? -ENOMEM : -EINVAL;
	*end = rq->addr + len;
	return 0;
}

/* munmap(2) (for_mprotect false) and mprotect(2) of rq->pid. */
static int range_call(struct rpc_ctx *ctx, const struct mem_map_req *rq, bool for_mprotect)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct mem_proc *p;
	uint64_t end = 0;
	int err;

	if (!ms)
		return -ENODEV;
	err = range_decode(rq, for_mprotect, &end);
	if (!err)
		err = space_enter(ms, ctx->src_node, rq->pid, ms->self, &p);
	if (err)
		return err;
	if (!for_mprotect)
		err = vm_unmap(ms, p, rq->addr, end);
	else if (end > rq->addr)
		err = vm_protect(ms, p, rq->addr, end, rq->prot);
	space_leave(ms, p);
	return err;
}

RPC_HANDLER(MEM_MUNMAP, struct mem_map_req, struct mem_value)
{
	rp->value = 0;
	return range_call(ctx, rq, false);
}

RPC_HANDLER(MEM_MPROTECT, struct mem_map_req, struct mem_value)
{
	rp->value = 0;
	return range_call(ctx, rq, true);
}

/* ---- MEM_MSYNC, MEM_MADVISE -------------------------------------------------------- */

/* Linux's msync and madvise values. */
#define MS_ASYNC      1
#define MS_INVALIDATE 2
#define MS_SYNC	      4

#define MADV_NORMAL	0
#define MADV_RANDOM	1
#define MADV_SEQUENTIAL 2
#define MADV_WILLNEED	3
#define MADV_DONTNEED	4
#define MADV_FREE	8
#define MADV_HUGEPAGE	14
#define MADV_NOHUGEPAGE 15
#define MADV_DONTDUMP	16
#define MADV_DODUMP	17
#define MADV_COLD	20
#define MADV_PAGEOUT	21

static bool advice_known(uint32_t advice)
{
	switch (advice) {
	case MADV_NORMAL: case MADV_RANDOM: case MADV_SEQUENTIAL: case MADV_WILLNEED:
	case MADV_DONTNEED: case MADV_FREE: case MADV_HUGEPAGE: case MADV_NOHUGEPAGE:
	case MADV_DONTDUMP: case MADV_DODUMP: case MADV_COLD: case MADV_PAGEOUT:
		return true;
	default:
		return false;
	}
}

/* msync(2) (for_madvise false) and madvise(2)'s checks; *end set (equal
 * to addr: nothing to do). */
static int hint_decode(const struct mem_map_req *rq, bool for_madvise, uint64_t *end)
{
	uint64_t len = page_up(rq->len);

	if (rq->reserved || rq->prot || (rq->addr % PAGE))
		return -EINVAL;
	if (for_madvise ? !advice_known(rq->flags)
			: (rq->flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) ||
				  ((rq->flags & MS_ASYNC) && (rq->flags & MS_SYNC)))
		return -EINVAL;
	if (rq->len && !len)
		return for_madvise ? -EINVAL : -ENOMEM;
	if (rq->addr >= MEM_USER_TOP || len > MEM_USER_TOP - rq->addr)
		return for_madvise ? -EINVAL : -ENOMEM;
	*end = rq->addr + len;
	return 0;
}

/* MADV_DONTNEED or MADV_FREE of [start, end): the pages of its private
 * VMAs go (here, or at their owner); MAP_SHARED file pages stay (their
 * stores are the file's). MADV_FREE of a file VMA: -EINVAL, as Linux. */
static int discard(struct memserv *ms, struct mem_proc *p, uint64_t start, uint64_t end,
		   uint32_t advice)
{
	for (struct vma *v = aspace_vma_from(p->as, start); v && v->start < end;
	     v = aspace_vma_from(p->as, v->end))
		if (advice == MADV_FREE && v->file)
			return -EINVAL;
	for (struct vma *v = aspace_vma_from(p->as, start); v && v->start < end;
	     v = aspace_vma_from(p->as, v->end)) {
		uint64_t lo = v->start > start ? v->start : start;
		uint64_t hi = v->end < end ? v->end : end, stop;
		int err;

		if (v->flags & VMA_SHARED)
			continue;
		if (aspace_local(p->as, lo)) {
			aspace_discard(p->as, lo, hi);
			continue;
		}
		err = forward(ms, p, MEM_REGION_DISCARD, lo, hi, 0, 0, &stop);
		if (err)
			return err;
	}
	return 0;
}

/* msync (for_madvise false) or madvise of rq->pid. */
static int hint_call(struct rpc_ctx *ctx, const struct mem_map_req *rq, bool for_madvise)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct mem_proc *p;
	uint64_t end = 0;
	bool covered;
	int err;

	if (!ms)
		return -ENODEV;
	err = hint_decode(rq, for_madvise, &end);
	if (err || end == rq->addr)
		return err;
	err = space_enter(ms, ctx->src_node, rq->pid, ms->self, &p);
	if (err)
		return err;
	covered = aspace_range_covered(p->as, rq->addr, end);
	if (!for_madvise)
		memfile_sync(ms, p->as, rq->addr, end); /* errors: logged, as for munmap */
	else if (rq->flags == MADV_DONTNEED || rq->flags == MADV_FREE)
		err = discard(ms, p, rq->addr, end, rq->flags);
	space_leave(ms, p);
	return err ? err : covered ? 0 : -ENOMEM;
}

RPC_HANDLER(MEM_MSYNC, struct mem_map_req, struct mem_value)
{
	rp->value = 0;
	return hint_call(ctx, rq, false);
}

RPC_HANDLER(MEM_MADVISE, struct mem_map_req, struct mem_value)
{
	rp->value = 0;
	return hint_call(ctx, rq, true);
}

/* ---- MEM_MREMAP -------------------------------------------------------------------- */

#define MREMAP_DONTUNMAP 4

static int remap_decode(const struct mem_remap_req *rq, uint64_t *old_len, uint64_t *new_len)
{
	*old_len = page_up(rq->old_len);
	*new_len = page_up(rq->new_len);
	if (rq->flags & ~(MEM_MREMAP_MAYMOVE | MEM_MREMAP_FIXED | MREMAP_DONTUNMAP))
		return -EINVAL;
	if ((rq->flags & MEM_MREMAP_FIXED) && !(rq->flags & MEM_MREMAP_MAYMOVE))
		return -EINVAL;
	if ((rq->flags & MREMAP_DONTUNMAP) || rq->old_addr % PAGE)
		return -EINVAL; /* MREMAP_DONTUNMAP: not yet */
	if (!*new_len || !*old_len || (rq->new_len && *new_len < rq->new_len) ||
	    *old_len < rq->old_len)
		return -EINVAL; /* old_len 0 (a second mapping of shared memory): not yet */
	if (rq->old_addr >= MEM_USER_TOP || *old_len > MEM_USER_TOP - rq->old_addr)
		return -EFAULT;
	if (!(rq->flags & MEM_MREMAP_FIXED))
		return 0;
	if (rq->new_addr % PAGE || rq->new_addr < MEM_USER_BASE ||
	    rq->new_addr >= MEM_USER_TOP || *new_len > MEM_USER_TOP - rq->new_addr)
		return -EINVAL;
	if (rq->new_addr < rq->old_addr + *old_len && rq->old_addr < rq->new_addr + *new_len)
		return -EINVAL; /* the ranges overlap */
	return 0;
}

/* The file offset of addr in the mapping whose VMA (holding addr or
 * above it, contiguous) is v. */
static uint64_t remap_pgoff(const struct vma *v, uint64_t addr)
{
	return v->pgoff + (addr - v->start); /* modulo 2^64: addr may be below */
}

/* Moves the VMA v's part [old, old + old_len) of p to to (new_len bytes):
 * a VMA of the same kind there (the same file or shared memory object,
 * at the same offset), the pages moved, the old range unmapped. */
static int remap_move(struct memserv *ms, struct mem_proc *p, const struct vma *v,
		      uint64_t old, uint64_t old_len, uint64_t to, uint64_t new_len)
{
	uint32_t prot = v->prot, vflags = v->flags;
	struct vma_file *file = v->file; /* v may merge away below; old's VMAs hold it */
	uint64_t moved = old_len < new_len ? old_len : new_len, pgoff = remap_pgoff(v, old);
	int err;

	for (uint64_t at = old; at < old + old_len; at = aspace_piece_end(at, old + old_len))
		if (!aspace_local(p->as, at))
			return -EINVAL; /* pages on another node: not yet */
	err = place_range(ms, p, to, to + new_len, true);
	if (!err)
		err = aspace_map_file(p->as, to, to + new_len, prot, vflags, file, pgoff);
	if (err)
		return err == -ENODEV ? -ENOMEM : err;
	err = aspace_move_pages(p->as, old, to, moved);
	if (err) { /* give back what moved: the frames are the process's */
		aspace_move_pages(p->as, to, old, moved);
		aspace_unmap(p->as, to, to + new_len);
		return err;
	}
	return vm_unmap(ms, p, old, old + old_len);
}

/* The VMA holding the last page of [old, old + len) if the range lies in
 * one mapping (VMAs of one kind that touch, a file's at contiguous
 * offsets: one per vRegion it crosses); else NULL. */
static struct vma *remap_span(struct aspace *as, uint64_t old, uint64_t len)
{
	struct vma *v = aspace_find_vma(as, old), *n;

	while (v && v->end < old + len) {
		n = aspace_find_vma(as, v->end);
		if (!n || n->prot != v->prot || n->flags != v->flags || n->file != v->file ||
		    (n->file && n->pgoff != v->pgoff + (v->end - v->start)))
			return NULL;
		v = n;
	}
	return v;
}

static int do_remap(struct memserv *ms, struct mem_proc *p, const struct mem_remap_req *rq,
		    uint64_t old_len, uint64_t new_len, uint64_t *out)
{
	uint64_t old = rq->old_addr, to = rq->new_addr;
	struct vma *v = remap_span(p->as, old, old_len);
	int err;

	if (!v)
		return -EFAULT;
	*out = old;
	if (rq->flags & MEM_MREMAP_FIXED) {
		err = vm_unmap(ms, p, to, to + new_len);
		if (!err)
			err = remap_move(ms, p, v, old, old_len, to, new_len);
		*out = to;
		return err;
	}
	if (new_len <= old_len)
		return new_len < old_len ? vm_unmap(ms, p, old + new_len, old + old_len) : 0;
	if (old + old_len == v->end && old + new_len <= MEM_USER_TOP &&
	    aspace_range_free(p->as, old + old_len, old + new_len) &&
	    (!v->file || !remote_vregion(ms, p, old + old_len, old + new_len)))
		return vm_map_file(ms, p, old + old_len, old + new_len, v->prot, v->flags,
				   v->file, remap_pgoff(v, old + old_len));
	if (!(rq->flags & MEM_MREMAP_MAYMOVE))
		return -ENOMEM;
	err = local_gap(ms, p, new_len, &to);
	if (!err)
		err = remap_move(ms, p, v, old, old_len, to, new_len);
	*out = to;
	return err;
}

RPC_HANDLER(MEM_MREMAP, struct mem_remap_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	uint64_t old_len, new_len, addr = 0;
	struct mem_proc *p;
	int err;

	if (!ms)
		return -ENODEV;
	err = remap_decode(rq, &old_len, &new_len);
	if (!err)
		err = space_enter(ms, ctx->src_node, rq->pid, ms->self, &p);
	if (err)
		return err;
	err = do_remap(ms, p, rq, old_len, new_len, &addr);
	space_leave(ms, p);
	rp->value = err ? 0 : addr;
	return err;
}

/* ---- MEM_BRK ----------------------------------------------------------------------- */

/* brk(2): the new break, or the old one if addr is not allowed. */
static uint64_t do_brk(struct memserv *ms, struct mem_proc *p, uint64_t addr)
{
	struct aspace *as = p->as;
	uint64_t old_end = page_up(as->brk), new_end = page_up(addr);

	if (addr < as->brk_start || addr > MEM_MMAP_TOP)
		return as->brk;
	if (new_end < old_end && vm_unmap(ms, p, new_end, old_end))
		return as->brk;
	if (new_end > old_end &&
	    (!aspace_range_free(as, old_end, new_end) ||
	     vm_map(ms, p, old_end, new_end, MEM_PROT_READ | MEM_PROT_WRITE, VMA_HEAP)))
		return as->brk;
	as->brk = addr;
	return addr;
}

RPC_HANDLER(MEM_BRK, struct mem_pid_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct mem_proc *p;
	int err;

	if (!ms)
		return -ENODEV;
	if (rq->reserved)
		return -EINVAL;
	err = space_enter(ms, ctx->src_node, rq->pid, ms->self, &p);
	if (err)
		return err;
	rp->value = do_brk(ms, p, rq->addr);
	space_leave(ms, p);
	return 0;
}

/* Appends v to rp (a file VMA's path into names); false if names is full. */
static bool maps_add(struct mem_maps *rp, const struct vma *v)
{
	struct mem_map_entry *e = &rp->e[rp->n];
	size_t len;

	*e = (struct mem_map_entry){.start = v->start, .end = v->end, .prot = v->prot,
				    .kind = v->flags};
	if (v->file) {
		len = strlen(v->file->path) + 1;
		if (len > MEM_MAPS_NAMES - rp->names_len)
			return false;
		memcpy(rp->names + rp->names_len, v->file->path, len);
		e->offset = v->pgoff;
		e->ino = v->file->ino;
		e->name = rp->names_len + 1;
		rp->names_len += (uint32_t)len;
	}
	rp->n++;
	return true;
}

/* The home's VMA list of the process, from rq->addr on (/proc/PID/maps). */
RPC_HANDLER(MEM_MAPS, struct mem_pid_req, struct mem_maps)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct mem_proc *p;
	uint64_t at = rq->addr;
	struct vma *v;
	int err;

	if (!ms)
		return -ENODEV;
	if (rq->reserved || at >= MEM_USER_TOP)
		return -EINVAL;
	err = space_enter(ms, ctx->src_node, rq->pid, ms->self, &p);
	if (err)
		return err;
	while ((v = aspace_vma_from(p->as, at))) {
		if (rp->n == MEM_MAPS_MAX || !maps_add(rp, v)) {
			rp->more = 1;
			break;
		}
		at = v->end;
	}
	space_leave(ms, p);
	return 0;
}
