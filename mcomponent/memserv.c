/*
 * The memory service: the server side of the memory protocol
 * (include/proto/mem.h; the API is memserv.h, MEM_EXEC is exec.c, the
 * document docs/memory.md).
 *
 * Each handler decodes, then acts (DESIGN.md section 4):
 *   1. its service: the one bound to the rpc_node that received the
 *      request (-ENODEV if none);
 *   2. the request's fields, without any state: reserved fields 0, flags
 *      known, addresses inside user space, alignment, lengths that do not
 *      overflow (-EINVAL, or the errno Linux gives for the same call);
 *   3. under the service lock, the process: (ctx->src_node, pid), which
 *      the RPC layer vouches for, must have an address space (-ESRCH), so
 *      a node only ever reaches its own processes;
 *   4. then the address space changes (aspace.c), and pages move by RDMA.
 * An answer to a hostile request is always an errno, never a panic.
 *
 * RDMA. The service has one QP of its own. MEM_MISS WRITEs a frame into
 * the requester's line (line_key, line_offset); MEM_FLUSH and a miss's
 * victim are READ from the line into a fresh frame, which replaces the
 * page's old frame only once the READ completed, so a failed flush
 * leaves the page as it was. A transfer the fabric refuses answers
 * -EFAULT; one that does not complete within MEMSERV_RDMA_TIMEOUT_NS
 * answers -ETIMEDOUT, and the fresh frame of a READ is set aside (a
 * zombie) until its late completion comes, since the transfer could
 * still write it. A late WRITE only reads a frame: harmless to us.
 *
 * Locking. One binary semaphore (ms->lock, a completion: handlers sleep
 * in RDMA waits holding it) covers the process table, every address
 * space and the RDMA state; the frame pool has its own spinlock. The RPC
 * layer runs handlers in one thread today, so the lock costs nothing; a
 * per-process lock is the step that lets several threads serve.
 */
#include "memserv_impl.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <lib/string.h>

#define MEMSERV_MAX 2 /* services at once: the node's, a self test's */
#define PAGE	    4096ull
#define PROT_ALL    (MEM_PROT_READ | MEM_PROT_WRITE | MEM_PROT_EXEC)

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

static struct spinlock table_lock = SPINLOCK_INIT("memserv");
static struct memserv *services[MEMSERV_MAX]; /* under table_lock */

static uint64_t page_up(uint64_t a)
{
	return (a + PAGE - 1) & ~(PAGE - 1);
}

static uint64_t page_down(uint64_t a)
{
	return a & ~(PAGE - 1);
}

void memserv_count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

void memserv_lock(struct memserv *ms)
{
	wait_for_completion(&ms->lock);
}

void memserv_unlock(struct memserv *ms)
{
	complete(&ms->lock);
}

struct memserv *memserv_of(struct rpc_node *rn)
{
	struct memserv *found = NULL;

	spin_lock(&table_lock);
	for (unsigned i = 0; i < MEMSERV_MAX; i++)
		if (services[i] && services[i]->rn == rn)
			found = services[i];
	spin_unlock(&table_lock);
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

/* ---- the process table (lock held) ------------------------------------------------- */

static struct mem_proc *proc_slot(struct memserv *ms, uint16_t node, uint32_t pid)
{
	for (unsigned i = 0; i < MEMSERV_MAX_PROCS; i++)
		if (ms->procs[i].node == node && ms->procs[i].pid == pid)
			return &ms->procs[i];
	return NULL;
}

static struct aspace *proc_find(struct memserv *ms, uint16_t node, uint32_t pid)
{
	struct mem_proc *p = node ? proc_slot(ms, node, pid) : NULL;

	return p ? p->as : NULL;
}

int memserv_install(struct memserv *ms, uint16_t node, uint32_t pid, struct aspace *as)
{
	struct mem_proc *p = proc_slot(ms, node, pid);
	struct aspace *old = NULL;

	if (!p)
		p = proc_slot(ms, 0, 0);
	if (!p)
		return -ENOMEM;
	if (p->node)
		old = p->as;
	p->node = node;
	p->pid = pid;
	p->as = as;
	if (old)
		aspace_destroy(old);
	return 0;
}

/* ---- RDMA (lock held) -------------------------------------------------------------- */

static void zombie_done(struct memserv *ms, uint64_t wr_id)
{
	for (unsigned i = 0; i < MEMSERV_ZOMBIES; i++) {
		struct mem_zombie *z = &ms->zombies[i];

		if (z->wr_id && z->wr_id == wr_id) {
			frame_free(&ms->frames, z->frame);
			z->wr_id = 0;
		}
	}
}

static void zombie_add(struct memserv *ms, uint64_t wr_id, uint32_t frame)
{
	for (unsigned i = 0; i < MEMSERV_ZOMBIES; i++) {
		if (!ms->zombies[i].wr_id) {
			ms->zombies[i].wr_id = wr_id;
			ms->zombies[i].frame = frame;
			return;
		}
	}
	ms->lost_frames++; /* kept for good: it may still be written */
	pr_warn("memory: RDMA READs do not complete; %llu frames set aside for good",
		(unsigned long long)ms->lost_frames);
}

/*
 * One page between frame f and (key, remote) of node: FAB_OP_WRITE sends
 * the frame, FAB_OP_READ fills it. Returns 0, -EFAULT (refused by the
 * fabric), -ETIMEDOUT (a READ's frame then belongs to the zombies), -EIO
 * or -EAGAIN (cannot post).
 */
static int rdma(struct memserv *ms, uint16_t node, uint8_t opcode, uint32_t f,
		uint32_t key, uint64_t remote)
{
	uint64_t deadline = clock_ns() + MEMSERV_RDMA_TIMEOUT_NS;
	struct verbs_wr wr = {
		.wr_id = ++ms->wr_seq,
		.opcode = opcode,
		.length = FRAME_SIZE,
		.local_offset = frame_offset(&ms->frames, f),
		.local_key = verbs_local_key(ms->dev),
		.remote_key = key,
		.remote_offset = remote,
	};
	struct verbs_wc wc;
	int err = verbs_post_to(ms->qp, node, 0, &wr);

	if (err)
		return err == -EAGAIN ? -EAGAIN : -EIO;
	for (;;) {
		uint64_t now = clock_ns();

		if (now >= deadline || verbs_wait(ms->qp, &wc, deadline - now)) {
			if (opcode == FAB_OP_READ)
				zombie_add(ms, wr.wr_id, f);
			return -ETIMEDOUT;
		}
		if (wc.wr_id == wr.wr_id)
			break;
		zombie_done(ms, wc.wr_id); /* a late one */
	}
	return wc.status ? -EFAULT : 0;
}

/* Stores the page at va of as from node's line (key, remote): READ into a
 * fresh frame, which then replaces the page's frame. */
static int store_from_line(struct memserv *ms, struct aspace *as, uint16_t node,
			   uint64_t va, uint32_t key, uint64_t remote)
{
	uint32_t f = frame_alloc(&ms->frames);
	int err;

	if (f == FRAME_NONE)
		return -ENOMEM;
	err = rdma(ms, node, FAB_OP_READ, f, key, remote);
	if (!err)
		err = aspace_set_page(as, va, f);
	if (err && err != -ETIMEDOUT)
		frame_free(&ms->frames, f);
	if (!err)
		memserv_count(&ms->stats.flushes, 1);
	return err;
}

/* ---- the steps every handler takes ------------------------------------------------- */

/* Step 3: the lock taken and the address space of (node, pid), or an
 * errno with nothing held. */
static int enter(struct memserv *ms, uint16_t node, uint32_t pid, struct aspace **as)
{
	memserv_lock(ms);
	*as = proc_find(ms, node, pid);
	if (*as)
		return 0;
	memserv_unlock(ms);
	return -ESRCH;
}

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

/* ---- MEM_MISS and MEM_FLUSH --------------------------------------------------------- */

static int miss_decode(const struct mem_miss_req *rq)
{
	if ((rq->flags & ~MEM_MISS_VICTIM) || !line_ok(rq->line_offset))
		return -EINVAL;
	if (rq->access != MEM_PROT_READ && rq->access != MEM_PROT_WRITE &&
	    rq->access != MEM_PROT_EXEC)
		return -EINVAL;
	if (rq->va >= MEM_USER_TOP)
		return -EFAULT;
	if (rq->flags & MEM_MISS_VICTIM)
		return rq->victim_va < MEM_USER_TOP ? 0 : -EINVAL;
	return rq->victim_va || rq->victim_pid || rq->victim_home ? -EINVAL : 0;
}

/* The victim of a miss: stored if its process and VMA still exist, else
 * dropped (unmapped since, or the process exited). */
static int miss_victim(struct memserv *ms, uint16_t node, const struct mem_miss_req *rq)
{
	struct aspace *vas = proc_find(ms, node, rq->victim_pid);
	uint64_t va = page_down(rq->victim_va);

	if (!vas || !aspace_find_vma(vas, va))
		return 0;
	return store_from_line(ms, vas, node, va, rq->line_key, rq->line_offset);
}

RPC_HANDLER(MEM_MISS, struct mem_miss_req, struct mem_miss_reply)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct aspace *as;
	struct vma *v;
	uint32_t f;
	int err;

	if (!ms)
		return -ENODEV;
	err = miss_decode(rq);
	if (!err)
		err = enter(ms, ctx->src_node, rq->pid, &as);
	if (err)
		return err;
	if (rq->flags & MEM_MISS_VICTIM)
		err = miss_victim(ms, ctx->src_node, rq);
	v = err ? NULL : aspace_find_vma(as, rq->va);
	if (!err && !v)
		err = -EFAULT;
	if (!err && !allowed(v->prot, rq->access))
		err = -EACCES;
	if (!err) {
		f = aspace_page(as, rq->va);
		rp->prot = v->prot;
		rp->flags = f == FRAME_NONE ? MEM_MISS_ZERO : 0;
		if (f != FRAME_NONE)
			err = rdma(ms, ctx->src_node, FAB_OP_WRITE, f, rq->line_key,
				   rq->line_offset);
		memserv_count(&ms->stats.misses, 1);
		if (f == FRAME_NONE)
			memserv_count(&ms->stats.zero_misses, 1);
	}
	memserv_unlock(ms);
	return err;
}

RPC_HANDLER(MEM_FLUSH, struct mem_flush_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	uint64_t va = page_down(rq->va);
	struct aspace *as;
	int err;

	if (!ms)
		return -ENODEV;
	if (!line_ok(rq->line_offset))
		return -EINVAL;
	if (rq->va >= MEM_USER_TOP)
		return -EFAULT;
	err = enter(ms, ctx->src_node, rq->pid, &as);
	if (err)
		return err;
	err = aspace_find_vma(as, va) ? 0 : -EFAULT;
	if (!err)
		err = store_from_line(ms, as, ctx->src_node, va, rq->line_key,
				      rq->line_offset);
	memserv_unlock(ms);
	rp->value = 0;
	return err;
}

/* ---- MEM_MMAP, MEM_MUNMAP, MEM_MPROTECT ------------------------------------------- */

/* mmap(2)'s checks, in Linux's order where it has one. *len is rounded. */
static int mmap_decode(const struct mem_map_req *rq, uint64_t *len)
{
	uint32_t type = rq->flags & MAP_TYPE;

	if (rq->reserved || (rq->prot & ~PROT_ALL) || !rq->len)
		return -EINVAL;
	if (rq->flags & ~(MAP_OK | MAP_LATER))
		return -EINVAL;
	if (type == MAP_SHARED || type == MAP_SHARED_VALIDATE)
		return -ENODEV;
	if (type != MAP_PRIVATE)
		return -EINVAL;
	if (!(rq->flags & MAP_ANONYMOUS) || (rq->flags & MAP_LATER))
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

/* Where the mapping goes: the fixed address, the hint if free, else the
 * highest gap below MEM_MMAP_TOP. */
static int mmap_place(struct aspace *as, const struct mem_map_req *rq, uint64_t len,
		      uint64_t *addr)
{
	uint64_t hint = page_down(rq->addr);

	if (rq->flags & MAP_FIXED_NOREPLACE) {
		*addr = rq->addr;
		return aspace_range_free(as, *addr, *addr + len) ? 0 : -EEXIST;
	}
	if (rq->flags & MAP_FIXED) {
		*addr = rq->addr;
		return aspace_unmap(as, *addr, *addr + len);
	}
	if (hint >= MEM_USER_BASE && hint <= MEM_USER_TOP - len &&
	    aspace_range_free(as, hint, hint + len)) {
		*addr = hint;
		return 0;
	}
	return aspace_find_gap(as, len, MEM_USER_BASE, MEM_MMAP_TOP, addr);
}

RPC_HANDLER(MEM_MMAP, struct mem_map_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct aspace *as;
	uint64_t len = 0, addr = 0;
	int err;

	if (!ms)
		return -ENODEV;
	err = mmap_decode(rq, &len);
	if (!err)
		err = enter(ms, ctx->src_node, rq->pid, &as);
	if (err)
		return err;
	err = mmap_place(as, rq, len, &addr);
	if (!err)
		err = aspace_map(as, addr, addr + len, rq->prot, VMA_ANON);
	memserv_unlock(ms);
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

RPC_HANDLER(MEM_MUNMAP, struct mem_map_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct aspace *as;
	uint64_t end = 0;
	int err;

	if (!ms)
		return -ENODEV;
	err = range_decode(rq, false, &end);
	if (!err)
		err = enter(ms, ctx->src_node, rq->pid, &as);
	if (err)
		return err;
	err = aspace_unmap(as, rq->addr, end);
	memserv_unlock(ms);
	rp->value = 0;
	return err;
}

RPC_HANDLER(MEM_MPROTECT, struct mem_map_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct aspace *as;
	uint64_t end = 0;
	int err;

	if (!ms)
		return -ENODEV;
	err = range_decode(rq, true, &end);
	if (!err)
		err = enter(ms, ctx->src_node, rq->pid, &as);
	if (err)
		return err;
	if (end > rq->addr)
		err = aspace_protect(as, rq->addr, end, rq->prot);
	memserv_unlock(ms);
	rp->value = 0;
	return err;
}

/* ---- MEM_BRK, MEM_EXIT, MEM_STATS --------------------------------------------------- */

/* brk(2): the new break, or the old one if addr is not allowed. */
static uint64_t do_brk(struct aspace *as, uint64_t addr)
{
	uint64_t old_end = page_up(as->brk), new_end = page_up(addr);

	if (addr < as->brk_start || addr > MEM_MMAP_TOP)
		return as->brk;
	if (new_end < old_end && aspace_unmap(as, new_end, old_end))
		return as->brk;
	if (new_end > old_end &&
	    aspace_map(as, old_end, new_end, MEM_PROT_READ | MEM_PROT_WRITE, VMA_HEAP))
		return as->brk;
	as->brk = addr;
	return addr;
}

RPC_HANDLER(MEM_BRK, struct mem_pid_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct aspace *as;
	int err;

	if (!ms)
		return -ENODEV;
	if (rq->reserved)
		return -EINVAL;
	err = enter(ms, ctx->src_node, rq->pid, &as);
	if (err)
		return err;
	rp->value = do_brk(as, rq->addr);
	memserv_unlock(ms);
	return 0;
}

RPC_HANDLER(MEM_EXIT, struct mem_pid_req, struct mem_value)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct mem_proc *p;

	if (!ms)
		return -ENODEV;
	if (rq->reserved || rq->addr)
		return -EINVAL;
	memserv_lock(ms);
	p = ctx->src_node ? proc_slot(ms, ctx->src_node, rq->pid) : NULL;
	if (p) {
		rp->value = aspace_destroy(p->as);
		memset(p, 0, sizeof(*p));
	}
	memserv_unlock(ms);
	return p ? 0 : -ESRCH;
}

void memserv_get_stats(struct memserv *ms, struct mem_stats *st)
{
	memserv_lock(ms);
	*st = ms->stats;
	st->frames_total = ms->frames.nframes;
	st->frames_free = frame_free_count(&ms->frames);
	st->processes = 0;
	st->vmas = 0;
	for (unsigned i = 0; i < MEMSERV_MAX_PROCS; i++) {
		if (ms->procs[i].node) {
			st->processes++;
			st->vmas += ms->procs[i].as->nvmas;
		}
	}
	memserv_unlock(ms);
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

static int table_add(struct memserv *ms)
{
	int err = -ENOMEM;

	spin_lock(&table_lock);
	for (unsigned i = 0; i < MEMSERV_MAX; i++)
		if (services[i] && services[i]->rn == ms->rn)
			err = -EBUSY;
	for (unsigned i = 0; i < MEMSERV_MAX && err == -ENOMEM; i++) {
		if (!services[i]) {
			services[i] = ms;
			err = 0;
		}
	}
	spin_unlock(&table_lock);
	return err;
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
	ms->storage = storage;
	ms->rand_state = clock_ns();
	completion_init(&ms->lock);
	complete(&ms->lock); /* one token: unlocked */
	err = frame_pool_init(&ms->frames, dev, frame_bytes);
	if (err)
		goto free_ms;
	err = verbs_qp_create(dev, -1, NULL, NULL, &ms->qp);
	if (err)
		goto free_frames;
	err = table_add(ms);
	if (err)
		goto free_qp;
	*out = ms;
	return 0;
free_qp:
	verbs_qp_destroy(ms->qp);
free_frames:
	frame_pool_destroy(&ms->frames);
free_ms:
	kfree(ms);
	return err;
}

void memserv_stop(struct memserv *ms)
{
	spin_lock(&table_lock);
	for (unsigned i = 0; i < MEMSERV_MAX; i++)
		if (services[i] == ms)
			services[i] = NULL;
	spin_unlock(&table_lock);
	for (unsigned i = 0; i < MEMSERV_MAX_PROCS; i++)
		if (ms->procs[i].node)
			aspace_destroy(ms->procs[i].as);
	verbs_qp_destroy(ms->qp);
	for (unsigned i = 0; i < MEMSERV_ZOMBIES; i++)
		if (ms->zombies[i].wr_id)
			ms->lost_frames++; /* may still be written: keep the window */
	if (!ms->lost_frames)
		frame_pool_destroy(&ms->frames);
	else
		kfree(ms->frames.free_stack);
	kfree(ms);
}

int memserv_test_aspace(struct memserv *ms, uint16_t node, uint32_t pid,
			uint64_t brk_start)
{
	struct aspace *as = aspace_create(&ms->frames, verbs_node_id(ms->dev));
	int err;

	if (!as)
		return -ENOMEM;
	as->brk_start = as->brk = brk_start;
	err = aspace_map(as, MEM_STACK_TOP - MEM_STACK_SIZE, MEM_STACK_TOP,
			 MEM_PROT_READ | MEM_PROT_WRITE, VMA_STACK);
	if (!err) {
		memserv_lock(ms);
		err = memserv_install(ms, node, pid, as);
		memserv_unlock(ms);
	}
	if (err)
		aspace_destroy(as);
	return err;
}
