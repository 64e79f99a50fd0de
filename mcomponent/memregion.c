/*
 * The owner side of vRegions placed on this node by another home
 * (MEM_REGION, include/proto/mem.h; the home side is memvm.c, the service
 * and its locking rules memserv.c).
 *
 * What a home places here lives in a remote space keyed by (proc_node,
 * pid, home = the sender): an address space (mcomponent/aspace.h) whose
 * vRegions are all owned by this node, with copies of their VMAs and
 * their pages. The processor's MEM_MISS and MEM_FLUSH for those pages
 * name the home in rq->home, which finds the space (memserv.c).
 *
 *   MAP      creates the space at its first piece, then adds the VMA;
 *   UNMAP    drops VMAs and pages (nothing held: 0);
 *   PROTECT  sets prot (a page without a VMA: -ENOMEM, nothing changed);
 *   FORK     copies the space for child_pid, pages shared copy-on-write
 *            (nothing held for pid: 0, nothing made; a space for the
 *            child already: -EEXIST);
 *   EXIT     frees the space (nothing held: 0); reply the pages freed;
 *   DISCARD  frees the pages of the range, VMAs kept (nothing held: 0).
 *
 * MEM_REGION runs in the server thread, never in the pool, and never
 * calls another node, so a home waiting for it cannot deadlock with it.
 * A home cannot be its own owner: a request from this node is refused
 * (its key would be the home space's).
 */
#include "memserv_impl.h"

#include <kernel/errno.h>
#include <lib/string.h>

#define VMA_KINDS (VMA_IMAGE | VMA_HEAP | VMA_STACK | VMA_ANON)

/* [start, end): page aligned, in user space, inside one vRegion. */
static bool range_ok(const struct mem_region_req *rq)
{
	if (rq->start % PAGE || rq->end % PAGE || rq->start >= rq->end)
		return false;
	if (rq->start < MEM_USER_BASE || rq->end > MEM_USER_TOP)
		return false;
	return rq->start >> VREGION_SHIFT == (rq->end - 1) >> VREGION_SHIFT;
}

static int region_decode(const struct mem_region_req *rq)
{
	bool ranged = rq->op == MEM_REGION_MAP || rq->op == MEM_REGION_UNMAP ||
		      rq->op == MEM_REGION_PROTECT || rq->op == MEM_REGION_DISCARD;

	if (rq->reserved || !rq->proc_node || rq->op < MEM_REGION_MAP ||
	    rq->op > MEM_REGION_DISCARD)
		return -EINVAL;
	if (ranged ? !range_ok(rq) : rq->start || rq->end)
		return -EINVAL;
	if (rq->op == MEM_REGION_FORK ? !rq->child_pid || rq->child_pid == rq->pid
				      : rq->child_pid != 0)
		return -EINVAL;
	if (rq->op == MEM_REGION_MAP || rq->op == MEM_REGION_PROTECT
		    ? rq->prot & ~PROT_ALL
		    : rq->prot != 0)
		return -EINVAL;
	if (rq->op == MEM_REGION_MAP
		    ? !rq->vflags || (rq->vflags & ~VMA_KINDS)
		    : rq->vflags != 0)
		return -EINVAL;
	return 0;
}

/* MAP: into the space, made here if it is the first piece. */
static int region_map(struct memserv *ms, uint16_t home, const struct mem_region_req *rq)
{
	struct mem_proc *p;
	struct aspace *as;
	int err = space_enter(ms, rq->proc_node, rq->pid, home, &p);

	if (!err) {
		err = aspace_map(p->as, rq->start, rq->end, rq->prot, rq->vflags);
		space_leave(ms, p);
		return err;
	}
	as = aspace_create(&ms->frames, ms->self);
	if (!as)
		return -ENOMEM;
	err = aspace_map(as, rq->start, rq->end, rq->prot, rq->vflags);
	if (!err)
		err = space_create(ms, rq->proc_node, rq->pid, home, &p);
	if (err) {
		aspace_destroy(as);
		return err; /* -EEXIST: a pool thread cannot make one; not retried */
	}
	space_set_as(ms, p, as);
	space_leave(ms, p);
	return 0;
}

/* FORK: a copy of the space for child_pid. */
static int region_fork(struct memserv *ms, struct mem_proc *parent, uint16_t home,
		       uint32_t child_pid)
{
	struct aspace *as = aspace_clone(parent->as);
	struct mem_proc *child;
	int err;

	if (!as)
		return -ENOMEM;
	err = space_create(ms, parent->node, child_pid, home, &child);
	if (err) {
		aspace_destroy(as);
		return err;
	}
	space_set_as(ms, child, as);
	space_leave(ms, child);
	return 0;
}

/* UNMAP, PROTECT, FORK, EXIT, DISCARD on the space p (locked). */
static int region_act(struct memserv *ms, struct mem_proc *p, uint16_t home,
		      const struct mem_region_req *rq, uint64_t *value)
{
	struct aspace *as;

	switch (rq->op) {
	case MEM_REGION_UNMAP:
		return aspace_unmap(p->as, rq->start, rq->end);
	case MEM_REGION_PROTECT:
		return aspace_protect(p->as, rq->start, rq->end, rq->prot);
	case MEM_REGION_FORK:
		return region_fork(ms, p, home, rq->child_pid);
	case MEM_REGION_DISCARD:
		aspace_discard(p->as, rq->start, rq->end);
		return 0;
	default: /* MEM_REGION_EXIT */
		as = space_remove(ms, p);
		*value = as ? aspace_destroy(as) : 0;
		return 0;
	}
}

RPC_HANDLER(MEM_REGION, struct mem_region_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	uint16_t home = ctx->src_node;
	struct mem_proc *p;
	int err;

	if (!ms)
		return -ENODEV;
	err = region_decode(rq);
	if (!err && (!home || home == ms->self))
		err = -EINVAL;
	if (err)
		return err;
	rp->value = 0;
	if (rq->op == MEM_REGION_MAP)
		return region_map(ms, home, rq);
	err = space_enter(ms, rq->proc_node, rq->pid, home, &p);
	if (err == -ESRCH) /* nothing held here for pid */
		return rq->op == MEM_REGION_PROTECT ? -ENOMEM : 0;
	if (err)
		return err;
	err = region_act(ms, p, home, rq, &rp->value);
	space_leave(ms, p);
	return err;
}
