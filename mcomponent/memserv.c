/*
 * The memory service: the server side of the memory protocol
 * (include/proto/mem.h; the API is memserv.h, the document
 * docs/memory.md). This file has the service itself (start, stop, the
 * table of address spaces, their locks, RDMA) and the handlers of
 * MEM_MISS, MEM_FLUSH, MEM_EXIT, MEM_FORK and MEM_STATS; memvm.c has
 * MMAP, MMAP_FILE, MUNMAP, MPROTECT, MSYNC, MADVISE, MREMAP, BRK and the
 * vRegion placement, memregion.c the owner side (MEM_REGION), exec.c
 * MEM_EXEC, memfile.c the file pages (a file VMA's page at its first
 * miss is read from its file here; MAP_SHARED write-backs at MEM_EXIT
 * and when exec replaces a space), bcache.c the buffer cache (BC_*: it
 * shares the frame pool and the RDMA QPs).
 *
 * Each handler decodes, then acts (DESIGN.md section 4):
 *   1. its service: the one bound to the rpc_node that received the
 *      request (-ENODEV if none);
 *   2. the request's fields, without any state: reserved fields 0, flags
 *      known, addresses inside user space, alignment, lengths that do not
 *      overflow (-EINVAL, or the errno Linux gives for the same call);
 *   3. the address space: (ctx->src_node, pid, home), which the RPC layer
 *      vouches for, must exist (-ESRCH), so a node only ever reaches its
 *      own processes; home is this node for the processor's calls at the
 *      home and the sender for MEM_REGION;
 *   4. then the address space changes (aspace.c), pages move by RDMA,
 *      and the home tells the owners of remote vRegions (MEM_REGION).
 * An answer to a hostile request is always an errno, never a panic.
 *
 * Spaces. The table holds home spaces (key (processor, pid, this node):
 * the process's whole layout, pages of the vRegions this node owns) and
 * remote spaces (key (processor, pid, home): the vRegions another home
 * placed here, with copies of their VMAs and their pages).
 *
 * Locking. The handlers of opcodes 0x1200-0x120f and 0x1220-0x122f may
 * run in several threads at once (memserv_pool), MEM_REGION in the server
 * thread. Rules:
 *   - ms->table_lock (a spinlock) guards the table: lookups, inserts,
 *     removals, the entries' reference counts and dead flags. Never held
 *     while sleeping.
 *   - each space has a sleeping lock (mem_proc.lock, a one-token
 *     completion) that a handler holds for its whole call on the space,
 *     RDMA and MEM_REGION calls to owners included. A handler takes a
 *     reference under the table lock, then sleeps for the space's lock,
 *     then checks that the space is not dead (-ESRCH if it is).
 *   - destroying a space (MEM_EXIT, MEM_REGION_EXIT, exec's replacement)
 *     takes its lock first, then takes it out of the table (or swaps its
 *     aspace) under the table lock; handlers waiting for it then see it
 *     dead. The entry itself goes at the last reference.
 *   - at most one space lock is held at a time, except by MEM_FORK,
 *     which holds the child's entry (new: nobody else can hold it) and
 *     then takes the parent's. A MEM_MISS whose victim belongs to
 *     another space stores the victim under that space's lock alone,
 *     releases it, and only then takes the faulting space's. So there is
 *     no lock-order cycle.
 *   - RDMA: a handler takes one QP of the pool (qp_tokens counts free
 *     QPs, qp_lock guards the free list) for one transfer and waits on
 *     that QP's completions only; each QP has its own wr_id sequence
 *     and zombies.
 *   - the frame pool has its own spinlock; counters are atomic.
 * Handlers of one process are serialised by its lock; handlers of
 * different processes run in parallel, but for the short table and frame
 * spinlocks. With one server thread (no pool) the same code is correct.
 *
 * RDMA. MEM_MISS WRITEs a frame into the requester's line (line_key,
 * line_offset) with its reply fenced right behind it (miss_write), and
 * waits for the WRITE only then: the fabric delivers the reply only
 * after the data, or flushes it if the WRITE is refused. MEM_FLUSH and
 * a miss's victim are READ from the line
 * into a fresh frame, which replaces the page's old frame (dropping one
 * reference to it: a copy-on-write break if it was shared) only once the
 * READ completed, so a failed flush leaves the page as it was. In a
 * MAP_SHARED VMA the page is its shared memory object's (shmobj.h), the
 * same for every process mapping it (page_store, miss_frame). A transfer
 * the fabric refuses answers -EFAULT; one that does not complete within
 * MEMSERV_RDMA_TIMEOUT_NS answers -ETIMEDOUT, and the fresh frame of a
 * READ is set aside (a zombie of its QP) until its late completion
 * comes, since the transfer could still write it. A late WRITE only
 * reads a frame: harmless to us.
 */
#include "memserv_impl.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <lib/string.h>

#define MEMSERV_MAX 3 /* services at once: the node's, a self test's two */
#define REGION_NS   (5ull * 1000 * 1000 * 1000) /* a MEM_REGION call to an owner */

static struct spinlock services_lock = SPINLOCK_INIT("memserv");
static struct memserv *services[MEMSERV_MAX]; /* under services_lock */

void memserv_count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

struct memserv *memserv_of(struct rpc_node *rn)
{
	struct memserv *found = NULL;

	spin_lock(&services_lock);
	for (unsigned i = 0; i < MEMSERV_MAX; i++)
		if (services[i] && services[i]->rn == rn)
			found = services[i];
	spin_unlock(&services_lock);
	return found;
}

void memserv_random(struct memserv *ms, uint8_t out[16])
{
	for (unsigned i = 0; i < 2; i++) {
		/* splitmix64 over a state stirred by the clock */
		uint64_t z = __atomic_add_fetch(&ms->rand_state,
						0x9e3779b97f4a7c15ull ^ clock_ns(),
						__ATOMIC_RELAXED);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		memcpy(out + 8 * i, &z, 8);
	}
}

/* ---- the table of spaces ----------------------------------------------------------- */

/* The slot of (node, pid, home) (table_lock held), or NULL. */
static struct mem_proc **space_slot(struct memserv *ms, uint16_t node, uint32_t pid,
				    uint16_t home)
{
	for (unsigned i = 0; i < MEMSERV_SPACES; i++) {
		struct mem_proc *p = ms->spaces[i];

		if (p && p->node == node && p->pid == pid && p->home == home)
			return &ms->spaces[i];
	}
	return NULL;
}

/* Drops a reference (table_lock held); true if p is to be freed. */
static bool space_unref_locked(struct mem_proc *p)
{
	return --p->refs == 0 && p->dead;
}

static void space_put(struct memserv *ms, struct mem_proc *p)
{
	bool free_it;

	spin_lock(&ms->table_lock);
	free_it = space_unref_locked(p);
	spin_unlock(&ms->table_lock);
	if (free_it)
		kfree(p);
}

/* A reference to the space (node, pid, home), or NULL. */
static struct mem_proc *space_get(struct memserv *ms, uint16_t node, uint32_t pid,
				  uint16_t home)
{
	struct mem_proc **slot, *p = NULL;

	if (!node)
		return NULL;
	spin_lock(&ms->table_lock);
	slot = space_slot(ms, node, pid, home);
	if (slot) {
		p = *slot;
		p->refs++;
	}
	spin_unlock(&ms->table_lock);
	return p;
}

/* Sleeps for p's lock (a reference held); -ESRCH (lock and reference
 * given back) if p died meanwhile. */
static int space_lock(struct memserv *ms, struct mem_proc *p)
{
	bool dead;

	wait_for_completion(&p->lock);
	spin_lock(&ms->table_lock);
	dead = p->dead;
	spin_unlock(&ms->table_lock);
	if (!dead)
		return 0;
	complete(&p->lock);
	space_put(ms, p);
	return -ESRCH;
}

int space_enter(struct memserv *ms, uint16_t node, uint32_t pid, uint16_t home,
		struct mem_proc **out)
{
	struct mem_proc *p = space_get(ms, node, pid, home);

	if (!p)
		return -ESRCH;
	*out = p;
	return space_lock(ms, p);
}

void space_leave(struct memserv *ms, struct mem_proc *p)
{
	complete(&p->lock);
	space_put(ms, p);
}

int space_create(struct memserv *ms, uint16_t node, uint32_t pid, uint16_t home,
		 struct mem_proc **out)
{
	struct mem_proc *p = kzalloc(sizeof(*p)), **slot;
	int err = 0;

	if (!p)
		return -ENOMEM;
	p->node = node;
	p->pid = pid;
	p->home = home;
	p->refs = 2; /* the table's and the creator's */
	completion_init(&p->lock); /* no token: the creator holds it */
	spin_lock(&ms->table_lock);
	if (space_slot(ms, node, pid, home))
		err = -EEXIST;
	slot = NULL;
	for (unsigned i = 0; i < MEMSERV_SPACES && !err && !slot; i++)
		if (!ms->spaces[i])
			slot = &ms->spaces[i];
	if (!err && !slot)
		err = -ENOMEM;
	if (!err)
		*slot = p;
	spin_unlock(&ms->table_lock);
	if (err) {
		kfree(p);
		return err;
	}
	*out = p;
	return 0;
}

void space_set_as(struct memserv *ms, struct mem_proc *p, struct aspace *as)
{
	spin_lock(&ms->table_lock);
	p->as = as;
	spin_unlock(&ms->table_lock);
}

struct aspace *space_remove(struct memserv *ms, struct mem_proc *p)
{
	struct mem_proc **slot;
	struct aspace *as;

	spin_lock(&ms->table_lock);
	slot = space_slot(ms, p->node, p->pid, p->home);
	if (slot && *slot == p) {
		*slot = NULL;
		p->dead = true;
		p->refs--; /* the table's: the caller still holds its own */
	}
	as = p->as;
	p->as = NULL;
	spin_unlock(&ms->table_lock);
	return as;
}

/* ---- telling owners (the home side of MEM_REGION) ---------------------------------- */

int region_call(struct memserv *ms, uint16_t owner, const struct mem_region_req *rq,
		uint64_t *value)
{
	struct mem_value rp = {0};
	int err = rpc_call(ms->rn, owner, MSG_MEM_REGION, rq, sizeof(*rq), &rp, sizeof(rp),
			   REGION_NS);

	if (value)
		*value = err ? 0 : rp.value;
	return err;
}

void region_exit_all(struct memserv *ms, struct mem_proc *p, struct aspace *as)
{
	uint16_t owners[MEMSERV_MAX_OWNERS];
	unsigned n = as ? aspace_remote_owners(as, owners, MEMSERV_MAX_OWNERS) : 0;

	for (unsigned i = 0; i < n; i++) {
		struct mem_region_req rq = {.proc_node = p->node, .op = MEM_REGION_EXIT,
					    .pid = p->pid};
		int err = region_call(ms, owners[i], &rq, NULL);

		if (err)
			pr_warn("memory: exit of process %u of node %u: owner %u said %s; "
				"its pages there stay until it forgets them",
				p->pid, p->node, owners[i], errno_name(err));
	}
}

int memserv_install(struct memserv *ms, uint16_t node, uint32_t pid, struct aspace *as)
{
	struct mem_proc *p;
	struct aspace *old;
	int err;

	as->keep_vregions = true;
	for (;;) {
		err = space_enter(ms, node, pid, ms->self, &p);
		if (err == -ESRCH)
			err = space_create(ms, node, pid, ms->self, &p);
		if (err != -EEXIST && err != -ESRCH)
			break; /* else it came or went meanwhile: again */
	}
	if (err)
		return err;
	old = p->as;
	if (old)
		memfile_sync(ms, old, 0, MEM_USER_TOP);
	region_exit_all(ms, p, old); /* before anyone can place new vRegions */
	space_set_as(ms, p, as);
	space_leave(ms, p);
	if (old)
		aspace_destroy(old);
	return 0;
}

/* ---- RDMA -------------------------------------------------------------------------- */

static struct mem_qp *qp_take(struct memserv *ms)
{
	struct mem_qp *q;

	wait_for_completion(&ms->qp_tokens);
	spin_lock(&ms->qp_lock);
	q = ms->qp_free;
	ms->qp_free = q->next;
	spin_unlock(&ms->qp_lock);
	return q;
}

static void qp_give(struct memserv *ms, struct mem_qp *q)
{
	spin_lock(&ms->qp_lock);
	q->next = ms->qp_free;
	ms->qp_free = q;
	spin_unlock(&ms->qp_lock);
	complete(&ms->qp_tokens);
}

static void zombie_done(struct memserv *ms, struct mem_qp *q, uint64_t wr_id)
{
	for (unsigned i = 0; i < MEMSERV_ZOMBIES; i++) {
		struct mem_zombie *z = &q->zombies[i];

		if (z->wr_id && z->wr_id == wr_id) {
			frame_free(&ms->frames, z->frame);
			z->wr_id = 0;
		}
	}
}

static void zombie_add(struct memserv *ms, struct mem_qp *q, uint64_t wr_id, uint32_t frame)
{
	for (unsigned i = 0; i < MEMSERV_ZOMBIES; i++) {
		if (!q->zombies[i].wr_id) {
			q->zombies[i].wr_id = wr_id;
			q->zombies[i].frame = frame;
			return;
		}
	}
	/* kept for good: it may still be written */
	pr_warn("memory: RDMA READs do not complete; %llu frames set aside for good",
		(unsigned long long)__atomic_add_fetch(&ms->lost_frames, 1,
						       __ATOMIC_RELAXED));
}

/* The work request of one transfer of len bytes between local_offset of
 * this node's window and (key, remote) of a node, on QP q. */
static struct verbs_wr rdma_wr(struct memserv *ms, struct mem_qp *q, uint8_t opcode,
			       uint64_t local_offset, uint32_t len, uint32_t key,
			       uint64_t remote)
{
	return (struct verbs_wr){
		.wr_id = ++q->wr_seq,
		.opcode = opcode,
		.length = len,
		.local_offset = local_offset,
		.local_key = verbs_local_key(ms->dev),
		.remote_key = key,
		.remote_offset = remote,
	};
}

/* Waits for the completion of wr, posted on q: 0, -EFAULT (refused by
 * the fabric) or -ETIMEDOUT. A READ that times out makes frame (if not
 * FRAME_NONE) a zombie of q. */
static int rdma_wait(struct memserv *ms, struct mem_qp *q, const struct verbs_wr *wr,
		     uint32_t frame)
{
	uint64_t deadline = clock_ns() + MEMSERV_RDMA_TIMEOUT_NS;
	struct verbs_wc wc;

	for (;;) {
		uint64_t now = clock_ns();

		if (now >= deadline || verbs_wait(q->qp, &wc, deadline - now)) {
			if (wr->opcode == FAB_OP_READ && frame != FRAME_NONE)
				zombie_add(ms, q, wr->wr_id, frame);
			return -ETIMEDOUT;
		}
		if (wc.wr_id == wr->wr_id)
			break;
		zombie_done(ms, q, wc.wr_id); /* a late one */
	}
	return wc.status ? -EFAULT : 0;
}

/* Posts wr on q to node and waits for it (rdma_wait); -EAGAIN or -EIO
 * if it cannot be posted. */
static int rdma_post_wait(struct memserv *ms, struct mem_qp *q, uint16_t node,
			  const struct verbs_wr *wr, uint32_t frame)
{
	int err = verbs_post_to(q->qp, node, 0, wr);

	if (err)
		return err == -EAGAIN ? -EAGAIN : -EIO;
	return rdma_wait(ms, q, wr, frame);
}

/* One transfer of len bytes (rdma_wr) with node on QP q, posted and
 * waited for (rdma_post_wait). */
static int rdma_on(struct memserv *ms, struct mem_qp *q, uint16_t node, uint8_t opcode,
		   uint64_t local_offset, uint32_t len, uint32_t frame, uint32_t key,
		   uint64_t remote)
{
	struct verbs_wr wr = rdma_wr(ms, q, opcode, local_offset, len, key, remote);

	return rdma_post_wait(ms, q, node, &wr, frame);
}

/*
 * One page between frame f and (key, remote) of node: FAB_OP_WRITE sends
 * the frame, FAB_OP_READ fills it. Returns 0, -EFAULT (refused by the
 * fabric), -ETIMEDOUT (a READ's frame then belongs to the zombies), -EIO
 * or -EAGAIN (cannot post). Sleeps for a free QP.
 */
static int rdma(struct memserv *ms, uint16_t node, uint8_t opcode, uint32_t f, uint32_t key,
		uint64_t remote)
{
	struct mem_qp *q = qp_take(ms);
	int err = rdma_on(ms, q, node, opcode, frame_offset(&ms->frames, f), FRAME_SIZE, f,
			  key, remote);

	qp_give(ms, q);
	return err;
}

int memserv_rdma_buf(struct memserv *ms, uint16_t node, uint8_t opcode, uint64_t local_offset,
		     uint32_t len, uint32_t key, uint64_t remote)
{
	struct mem_qp *q = qp_take(ms);
	int err = rdma_on(ms, q, node, opcode, local_offset, len, FRAME_NONE, key, remote);

	qp_give(ms, q);
	return err;
}

/* Makes f (the caller's reference, given) the frame of va's page of as
 * (a VMA there, in a local vRegion): its shared memory object's page in
 * a MAP_SHARED VMA, else the space's own (1: a copy-on-write break). */
static int page_store(struct aspace *as, uint64_t va, uint32_t f)
{
	struct vma *v = aspace_find_vma(as, va);
	struct shm_obj *o = v ? shm_of(v) : NULL;

	return o ? shm_store(o, v->pgoff + (va - v->start), f) : aspace_set_page(as, va, f);
}

/*
 * MEM_MISS's frame f into the caller's line (key, remote): the WRITE with
 * the reply fenced right behind it (rpc_reply_behind), so the caller
 * does not wait for our completion; then our wait for the WRITE's, so
 * that f (the caller holds a reference) is not reused before
 * fabricd has read it. If the WRITE fails, the fabric flushes the reply
 * and the caller gets our -EFAULT instead. Without an early reply (it
 * would not fit, or could not be posted) the WRITE alone, as rdma().
 */
static int miss_write(struct memserv *ms, struct rpc_ctx *ctx, uint32_t f, uint32_t key,
		      uint64_t remote)
{
	struct mem_qp *q = qp_take(ms);
	struct verbs_wr wr = rdma_wr(ms, q, FAB_OP_WRITE, frame_offset(&ms->frames, f),
				     FRAME_SIZE, key, remote);
	int err = rpc_reply_behind(ctx, q->qp, 0, &wr);

	err = err ? rdma_post_wait(ms, q, ctx->src_node, &wr, f)
		  : rdma_wait(ms, q, &wr, f);
	qp_give(ms, q);
	return err;
}

/* Stores the page at va of as (a local vRegion's, in a VMA) from node's
 * line (key, remote): READ into a fresh frame, which then replaces the
 * page's frame. */
static int store_from_line(struct memserv *ms, struct aspace *as, uint16_t node,
			   uint64_t va, uint32_t key, uint64_t remote)
{
	uint32_t f = frame_alloc(&ms->frames);
	int err;

	if (f == FRAME_NONE)
		return -ENOMEM;
	err = rdma(ms, node, FAB_OP_READ, f, key, remote);
	if (!err)
		err = page_store(as, va, f);
	if (err == 1) {
		memserv_count(&ms->stats.cow_copies, 1);
		err = 0;
	}
	if (err && err != -ETIMEDOUT)
		frame_free(&ms->frames, f);
	if (!err)
		memserv_count(&ms->stats.flushes, 1);
	return err;
}

/* Whether this node holds va's page in as: a VMA there, in a vRegion it
 * owns. */
static bool page_here(struct aspace *as, uint64_t va)
{
	return aspace_find_vma(as, va) && aspace_local(as, va);
}

/* ---- MEM_MISS and MEM_FLUSH --------------------------------------------------------- */

static bool line_ok(uint64_t line_offset)
{
	return !(line_offset % PAGE) && line_offset <= UINT64_MAX - PAGE;
}

/* Whether prot allows access (x86: any right implies reading). */
static bool allowed(uint32_t prot, uint32_t access)
{
	if (access == MEM_PROT_READ)
		return prot & PROT_ALL;
	return prot & access;
}

static int miss_decode(const struct mem_miss_req *rq)
{
	if ((rq->flags & ~MEM_MISS_VICTIM) || !line_ok(rq->line_offset) || !rq->home)
		return -EINVAL;
	if (rq->access != MEM_PROT_READ && rq->access != MEM_PROT_WRITE &&
	    rq->access != MEM_PROT_EXEC)
		return -EINVAL;
	if (rq->va >= MEM_USER_TOP)
		return -EFAULT;
	if (rq->flags & MEM_MISS_VICTIM)
		return rq->victim_va < MEM_USER_TOP && rq->victim_home ? 0 : -EINVAL;
	return rq->victim_va || rq->victim_pid || rq->victim_home ? -EINVAL : 0;
}

/* The victim of a miss, in the space vas (locked): stored if its VMA
 * still exists here, else dropped (unmapped since, or not this node's). */
static int victim_store(struct memserv *ms, struct aspace *vas, uint16_t node,
			const struct mem_miss_req *rq)
{
	uint64_t va = page_down(rq->victim_va);

	if (!vas || !page_here(vas, va))
		return 0;
	return store_from_line(ms, vas, node, va, rq->line_key, rq->line_offset);
}

/* The victim of another space than the miss's: its lock alone, then
 * released (see the locking rules). A victim whose process is gone is
 * dropped. */
static int victim_elsewhere(struct memserv *ms, uint16_t node, const struct mem_miss_req *rq)
{
	struct mem_proc *vp;
	int err = space_enter(ms, node, rq->victim_pid, rq->victim_home, &vp);

	if (err)
		return 0;
	err = victim_store(ms, vp->as, node, rq);
	space_leave(ms, vp);
	return err;
}

/* The frame a miss on va (in the VMA v of as, a local vRegion) sends,
 * with a reference the caller drops after sending it (a MAP_SHARED page
 * may be replaced meanwhile by another process's store); FRAME_NONE
 * (nothing held) for a page that reads as zeros. A file page's first
 * miss reads it. */
static int miss_frame(struct memserv *ms, struct aspace *as, const struct vma *v,
		      uint64_t va, uint32_t *out)
{
	struct shm_obj *o = shm_of(v);
	int err = 0;

	if (o)
		return shm_miss_frame(o, v->pgoff + (va - v->start), out);
	*out = aspace_page(as, va);
	if (*out == FRAME_NONE && v->file)
		err = memfile_page(ms, as, v, va, out);
	if (!err && *out != FRAME_NONE)
		frame_ref(&ms->frames, *out);
	return err;
}

/* The miss itself, in the locked space as; rp must be complete before
 * the page's WRITE (its reply may leave with it: miss_write). */
static int miss_serve(struct memserv *ms, struct aspace *as, struct rpc_ctx *ctx,
		      const struct mem_miss_req *rq, struct mem_miss_reply *rp)
{
	struct vma *v = aspace_find_vma(as, rq->va);
	struct vregion *vr = aspace_vregion(as, rq->va);
	uint32_t f;
	int err = 0;

	if (!v)
		return -EFAULT;
	if (!allowed(v->prot, rq->access))
		return -EACCES;
	memserv_count(&ms->stats.misses, 1);
	if (vr->owner != as->self) {
		rp->flags = MEM_MISS_ELSEWHERE;
		rp->owner = vr->owner;
		rp->prot = 0;
		return 0;
	}
	err = miss_frame(ms, as, v, page_down(rq->va), &f);
	if (err)
		return err;
	rp->prot = v->prot;
	rp->flags = f == FRAME_NONE ? MEM_MISS_ZERO : 0;
	if (f == FRAME_NONE) {
		memserv_count(&ms->stats.zero_misses, 1);
		return 0;
	}
	err = miss_write(ms, ctx, f, rq->line_key, rq->line_offset);
	frame_put(&ms->frames, f);
	return err;
}

RPC_HANDLER(MEM_MISS, struct mem_miss_req, struct mem_miss_reply)
{
	struct memserv *ms = memserv_of(ctx->rn);
	uint16_t home, vhome;
	struct mem_proc *p;
	bool victim_here;
	int err;

	if (!ms)
		return -ENODEV;
	err = miss_decode(rq);
	if (err)
		return err;
	home = rq->home;
	vhome = rq->victim_home;
	p = space_get(ms, ctx->src_node, rq->pid, home);
	if (!p)
		return -ESRCH;
	victim_here = rq->victim_pid == rq->pid && vhome == home;
	if ((rq->flags & MEM_MISS_VICTIM) && !victim_here)
		err = victim_elsewhere(ms, ctx->src_node, rq);
	if (space_lock(ms, p))
		return err ? err : -ESRCH;
	if (!err && (rq->flags & MEM_MISS_VICTIM) && victim_here)
		err = victim_store(ms, p->as, ctx->src_node, rq);
	memset(rp, 0, sizeof(*rp));
	if (!err)
		err = miss_serve(ms, p->as, ctx, rq, rp);
	space_leave(ms, p);
	return err;
}

RPC_HANDLER(MEM_FLUSH, struct mem_flush_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	uint64_t va = page_down(rq->va);
	struct mem_proc *p;
	int err;

	if (!ms)
		return -ENODEV;
	if (!line_ok(rq->line_offset) || !rq->home || rq->reserved0 || rq->reserved1)
		return -EINVAL;
	if (rq->va >= MEM_USER_TOP)
		return -EFAULT;
	err = space_enter(ms, ctx->src_node, rq->pid, rq->home, &p);
	if (err)
		return err;
	err = page_here(p->as, va) ? 0 : -EFAULT;
	if (!err)
		err = store_from_line(ms, p->as, ctx->src_node, va, rq->line_key,
				      rq->line_offset);
	space_leave(ms, p);
	rp->value = 0;
	return err;
}

/* ---- MEM_EXIT, MEM_FORK, MEM_STATS -------------------------------------------------- */

RPC_HANDLER(MEM_EXIT, struct mem_pid_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct mem_proc *p;
	struct aspace *as;
	int err;

	if (!ms)
		return -ENODEV;
	if (rq->reserved || rq->addr)
		return -EINVAL;
	err = space_enter(ms, ctx->src_node, rq->pid, ms->self, &p);
	if (err)
		return err;
	memfile_sync(ms, p->as, 0, MEM_USER_TOP); /* MAP_SHARED stores to their files */
	region_exit_all(ms, p, p->as); /* while a new exec of pid waits for us */
	as = space_remove(ms, p);
	space_leave(ms, p);
	rp->value = as ? aspace_destroy(as) : 0;
	return 0;
}

/* Forwards the fork of parent (locked) to the owners of its remote
 * vRegions; on an owner's error the owners done so far forget the child. */
static int fork_owners(struct memserv *ms, struct mem_proc *parent, uint32_t child_pid)
{
	uint16_t owners[MEMSERV_MAX_OWNERS];
	unsigned n = aspace_remote_owners(parent->as, owners, MEMSERV_MAX_OWNERS);
	struct mem_region_req rq = {.proc_node = parent->node, .op = MEM_REGION_FORK,
				    .pid = parent->pid, .child_pid = child_pid};
	int err = 0;
	unsigned done;

	for (done = 0; done < n && !err; done++)
		err = region_call(ms, owners[done], &rq, NULL);
	if (!err)
		return 0;
	pr_warn("memory: fork of process %u of node %u: owner %u said %s", parent->pid,
		parent->node, owners[done - 1], errno_name(err));
	rq.op = MEM_REGION_EXIT;
	rq.pid = child_pid;
	rq.child_pid = 0;
	for (unsigned i = 0; i + 1 < done; i++)
		region_call(ms, owners[i], &rq, NULL); /* best effort */
	return err;
}

/* The child's address space, made and told to the owners; the parent
 * locked. */
static int fork_copy(struct memserv *ms, struct mem_proc *parent, uint32_t child_pid,
		     struct aspace **out)
{
	struct aspace *as = aspace_clone(parent->as);
	int err;

	if (!as)
		return -ENOMEM;
	err = fork_owners(ms, parent, child_pid);
	if (err) {
		aspace_destroy(as);
		return err;
	}
	*out = as;
	return 0;
}

RPC_HANDLER(MEM_FORK, struct mem_fork_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct mem_proc *parent, *child;
	struct aspace *as = NULL;
	int err;

	if (!ms)
		return -ENODEV;
	if (!rq->child_pid || rq->child_pid == rq->pid)
		return -EINVAL;
	parent = space_get(ms, ctx->src_node, rq->pid, ms->self);
	if (!parent)
		return -ESRCH;
	err = space_create(ms, ctx->src_node, rq->child_pid, ms->self, &child);
	if (err) {
		space_put(ms, parent);
		return err;
	}
	err = space_lock(ms, parent);
	if (!err) {
		err = fork_copy(ms, parent, rq->child_pid, &as);
		space_leave(ms, parent);
	}
	if (err)
		space_remove(ms, child);
	else
		space_set_as(ms, child, as);
	space_leave(ms, child);
	if (err)
		return err;
	rp->value = as->frames;
	memserv_count(&ms->stats.forks, 1);
	return 0;
}

void memserv_get_stats(struct memserv *ms, struct mem_stats *st)
{
	*st = ms->stats; /* counters: each read whole, not all at one instant */
	bcache_get_stats(ms->bc, &st->bcache);
	st->frames_total = ms->frames.nframes;
	st->frames_free = frame_free_count(&ms->frames);
	shm_get_stats(&ms->shm, &st->shm_objects, &st->shm_pages);
	st->processes = 0;
	st->vmas = 0;
	st->remote_vregions = 0;
	spin_lock(&ms->table_lock);
	for (unsigned i = 0; i < MEMSERV_SPACES; i++) {
		struct mem_proc *p = ms->spaces[i];

		if (!p || !p->as)
			continue;
		if (p->home == ms->self) {
			st->processes++;
			st->vmas += __atomic_load_n(&p->as->nvmas, __ATOMIC_RELAXED);
		} else {
			st->remote_vregions +=
				__atomic_load_n(&p->as->nvregions, __ATOMIC_RELAXED);
		}
	}
	spin_unlock(&ms->table_lock);
}

struct bcache *memserv_bcache(struct memserv *ms)
{
	return ms->bc;
}

RPC_HANDLER(MEM_STATS, struct mem_pid_req, struct mem_stats)
{
	struct memserv *ms = memserv_of(ctx->rn);

	if (!ms)
		return -ENODEV;
	if (rq->pid || rq->reserved || rq->addr)
		return -EINVAL;
	memserv_get_stats(ms, rp);
	return 0;
}

/* ---- start and stop ---------------------------------------------------------------- */

static int services_add(struct memserv *ms)
{
	int err = -ENOMEM;

	spin_lock(&services_lock);
	for (unsigned i = 0; i < MEMSERV_MAX; i++)
		if (services[i] && services[i]->rn == ms->rn)
			err = -EBUSY;
	for (unsigned i = 0; i < MEMSERV_MAX && err == -ENOMEM; i++) {
		if (!services[i]) {
			services[i] = ms;
			err = 0;
		}
	}
	spin_unlock(&services_lock);
	return err;
}

static void qps_destroy(struct memserv *ms)
{
	for (unsigned i = 0; i < MEMSERV_QPS; i++)
		if (ms->qps[i].qp)
			verbs_qp_destroy(ms->qps[i].qp);
}

static int qps_create(struct memserv *ms)
{
	spin_init(&ms->qp_lock, "memserv-qps");
	completion_init(&ms->qp_tokens);
	for (unsigned i = 0; i < MEMSERV_QPS; i++) {
		int err = verbs_qp_create(ms->dev, -1, NULL, NULL, &ms->qps[i].qp);

		if (err) {
			qps_destroy(ms);
			return err;
		}
		qp_give(ms, &ms->qps[i]);
	}
	return 0;
}

#define MEMSERV_OPS_LAST 0x120f /* MSG_MEM_EXEC.. : the processors' memory requests */
#define BCACHE_OPS_LAST	 0x122f /* MSG_BC_READ.. : their buffer cache requests */

int memserv_pool(struct rpc_node *rn, unsigned nthreads)
{
	return rpc_serve_pool(rn, MSG_MEM_EXEC, MEMSERV_OPS_LAST, nthreads) ?:
	       rpc_pool_add_range(rn, MSG_BC_READ, BCACHE_OPS_LAST);
}

int memserv_start(struct rpc_node *rn, struct verbs_dev *dev, uint64_t frame_bytes,
		  uint16_t storage, struct memserv **out)
{
	struct memserv *ms = kzalloc(sizeof(*ms));
	int err;

	if (!ms)
		return -ENOMEM;
	ms->rn = rn;
	ms->dev = dev;
	ms->self = verbs_node_id(dev);
	ms->storage = storage;
	ms->rand_state = clock_ns();
	spin_init(&ms->table_lock, "memserv-spaces");
	shm_table_init(&ms->shm);
	err = frame_pool_init(&ms->frames, dev, frame_bytes);
	if (err)
		goto free_ms;
	err = qps_create(ms);
	if (err)
		goto free_frames;
	err = -ENOMEM;
	ms->bc = bcache_create(&ms->frames, dev, storage,
			       ms->frames.nframes / BCACHE_FRAME_SHARE);
	if (!ms->bc)
		goto free_qps;
	err = services_add(ms);
	if (err)
		goto free_bcache;
	*out = ms;
	return 0;
free_bcache:
	bcache_destroy(ms->bc);
free_qps:
	qps_destroy(ms);
free_frames:
	frame_pool_destroy(&ms->frames);
free_ms:
	kfree(ms);
	return err;
}

void memserv_stop(struct memserv *ms)
{
	uint64_t lost;

	spin_lock(&services_lock);
	for (unsigned i = 0; i < MEMSERV_MAX; i++)
		if (services[i] == ms)
			services[i] = NULL;
	spin_unlock(&services_lock);
	for (unsigned i = 0; i < MEMSERV_SPACES; i++) {
		struct mem_proc *p = ms->spaces[i];

		if (!p)
			continue;
		if (p->as)
			aspace_destroy(p->as);
		kfree(p); /* no handler runs any more: no other reference */
	}
	bcache_destroy(ms->bc);
	qps_destroy(ms);
	for (unsigned i = 0; i < MEMSERV_QPS; i++)
		for (unsigned j = 0; j < MEMSERV_ZOMBIES; j++)
			if (ms->qps[i].zombies[j].wr_id)
				ms->lost_frames++; /* may still be written: keep the window */
	lost = ms->lost_frames;
	if (!lost) {
		frame_pool_destroy(&ms->frames);
	} else {
		kfree(ms->frames.free_stack);
		kfree(ms->frames.refs);
	}
	kfree(ms);
}

/* ---- self-test hooks --------------------------------------------------------------- */

int memserv_test_aspace(struct memserv *ms, uint16_t node, uint32_t pid,
			uint64_t brk_start)
{
	struct aspace *as = aspace_create(&ms->frames, ms->self);
	int err;

	if (!as)
		return -ENOMEM;
	as->brk_start = as->brk = brk_start;
	err = aspace_map(as, MEM_STACK_TOP - MEM_STACK_SIZE, MEM_STACK_TOP,
			 MEM_PROT_READ | MEM_PROT_WRITE, VMA_STACK);
	if (!err)
		err = memserv_install(ms, node, pid, as);
	if (err)
		aspace_destroy(as);
	return err;
}

int memserv_test_place(struct memserv *ms, uint16_t node, uint32_t pid, uint64_t addr,
		       uint16_t owner)
{
	struct mem_proc *p;
	int err = space_enter(ms, node, pid, ms->self, &p);

	if (err)
		return err;
	err = aspace_add_vregion(p->as, addr, owner);
	space_leave(ms, p);
	return err;
}

uint32_t memserv_test_frame_refs(struct memserv *ms, uint16_t node, uint32_t pid,
				 uint16_t home, uint64_t va)
{
	struct mem_proc *p;
	uint32_t refs = 0;

	if (space_enter(ms, node, pid, home, &p))
		return 0;
	if (aspace_page(p->as, va) != FRAME_NONE)
		refs = frame_refs(&ms->frames, aspace_page(p->as, va));
	space_leave(ms, p);
	return refs;
}
