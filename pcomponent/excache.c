/*
 * The ExCache, kernel side (pcomponent/excache.h; DESIGN.md section 5;
 * the protocol is include/proto/mem.h).
 *
 * Memory. One window buffer of kconfig.excache_bytes, registered once as
 * one MR with remote read and write (memory nodes RDMA pages into and out
 * of lines). Line n of the cache is the 4 KiB at buf.offset + n * 4 KiB;
 * set i holds lines i * ways .. i * ways + ways - 1. User page tables map
 * only lines: the PTE is the tag, so a hit costs no software at all.
 *
 * A miss (a user page fault, from user mode or from copy_*_user):
 *   1. lock the page's set (a sleeping lock: it is held across the RPCs
 *      and the unmaps with their TLB shootdowns, never a spinlock);
 *   2. if the page is in the set already (another thread's miss, or a
 *      prefetch) there is nothing to fetch;
 *   3. plan, under the process's ec.lock (a spinlock held for table
 *      lookups only): the target is the owner of the page's vRegion if
 *      the process's owner table knows it, else the home; a page in a
 *      fresh range leaves that set, and is zero-filled here if its owner
 *      is known and the range's prot allows the access;
 *   4. choose the line: a FREE one first, else the policy's victim
 *      (pcomponent/excache_set.c); LRU and CLOCK first sample and clear
 *      the accessed bits of the set's lines (uspace_pte);
 *   5. unmap the victim; if its PTE was dirty, write it back to the node
 *      its line records (its vRegion's owner): inside the MEM_MISS
 *      (MEM_MISS_VICTIM) when that node is the miss's target, else by a
 *      MEM_FLUSH first (always before a fresh fill: it sends no message);
 *   6. fresh fill: zero the line. Else MEM_MISS to the target: the page
 *      arrives in the line by RDMA before the reply, or the reply says
 *      MEM_MISS_ZERO and the line is zeroed here, or the home answers
 *      MEM_MISS_ELSEWHERE with the owner (checked: another memory= node),
 *      which is recorded and asked in turn (the victim, stored by the
 *      first call whatever its answer, is not sent again); the node that
 *      answered is recorded as the vRegion's owner, and in the line;
 *   7. map the line with the reply's (or the range's) prot (write only
 *      with PROT_WRITE, execute only with PROT_EXEC) and unlock.
 * Misses in different sets run at once (2 CPUs, several processes, the
 * threads of one process). Two threads of a process that miss on the
 * same page meet at the set lock: the second finds the line (step 2).
 * A miss that overlaps an address-space change of its process (another
 * thread's munmap, mprotect, MAP_FIXED or brk shrink: excache_vm_begin
 * .. excache_vm_end) may have fetched the page as it was before the
 * change, after the change's drop: it drops the line again (writing it
 * back if dirty) and the access is retried (a prefetch is abandoned), so
 * no line outlives the mapping it was fetched under.
 *
 * Owners never change while a process lives (include/proto/mem.h), so
 * the owner table is a cache of hints: when full it replaces round-robin;
 * a forgotten owner costs a redirect, nothing more, since every line
 * keeps its own node for its write-back.
 *
 * Fresh ranges (excache_fresh.h) are anonymous memory never written, so
 * zero on the memory node. A fresh-filled line is not marked dirty: if
 * the process writes it, its PTE's dirty bit makes eviction store it; if
 * it only read it, dropping it is right (still zero over there).
 *
 * fork (excache_fork): the parent's dirty lines are stored and mapped
 * again with a clean PTE (uspace_map replaces the entry), so MEM_FORK
 * copies what the parent sees; the child inherits the owner table and
 * the fresh ranges.
 *
 * Failures never lose a dirty page silently: a failed MEM_FLUSH maps the
 * victim again (with the line's sticky dirty flag set, since the fresh
 * PTE is clean) and the miss fails; a failed MEM_MISS that carried a
 * victim writes the victim back with a MEM_FLUSH (idempotent) before the
 * line is freed, and logs if even that fails; a fork write-back that
 * fails leaves its line dirty.
 *
 * Prefetch (sequential, a LegoOS stub made real): when a process misses
 * on page p right after a miss on p - 1, page p + 1 is fetched too (into
 * its own set, after p's set is unlocked: one set lock at a time, so
 * there is no lock order). A prefetched line is mapped at once, so using
 * it causes no fault; whether it was used is read from its accessed bit
 * when it leaves the cache (prefetch_hits). A fresh page is never
 * prefetched (no use asking a memory node for zeros). On
 * (EXCACHE_PREFETCH): tested on a cluster with memtest, pattern and
 * mmaptest (docs/processor.md has the figures).
 *
 * Counters: per process (its misses and prefetches, the evictions and
 * write-backs they caused) and per node, bumped atomically. misses
 * counts the pages asked from a memory node on demand (a redirected one
 * once); fresh_fills, those zeroed with no message; redirects, the
 * MEM_MISS_ELSEWHERE answers. The node's figures also go to the status
 * page (excache_status_line).
 */
#include "excache.h"

#include "excache_set.h"
#include "process.h"

#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/status.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <kernel/wait.h>
#include <lib/printf.h>
#include <lib/string.h>
#include <net/rpc.h>
#include <net/verbs.h>
#include <proto/mem.h>

#define EXCACHE_PREFETCH  true /* sequential prefetch; see the top comment */
#define EXCACHE_RPC_NS	  (10 * NS_PER_S)
#define EXCACHE_PAGE_MASK ((uint64_t)EXCACHE_LINE - 1)

struct ex_set {
	struct waitq wq;  /* its lock guards locked */
	bool locked;	  /* the set's sleeping lock */
	uint64_t rng;	  /* RANDOM's xorshift state; under the sleeping lock */
	struct exs_set s; /* under the sleeping lock */
};

static struct {
	bool ready; /* set once by excache_init; constant after */
	struct verbs_dev *dev;
	struct verbs_buf buf;
	struct verbs_mr mr;
	unsigned ways, nsets, nlines;
	enum excache_policy policy;
	bool prefetch;
	struct ex_set *sets;		       /* nsets */
	struct exs_line *lines;		       /* nlines, set by set */
	struct tessera_excache_counters total; /* atomics */
} ec;

/* A victim's dirty page, written back inside the MEM_MISS. */
struct piggyback {
	bool on;
	uint32_t pid;
	uint64_t va;
	uint16_t home; /* the victim's process's home */
	uint16_t node; /* the victim's vRegion owner: the miss's first target */
};

#define COUNT(p, field)                                                                  \
	do {                                                                             \
		__atomic_fetch_add(&ec.total.field, 1, __ATOMIC_RELAXED);                \
		if (p)                                                                   \
			__atomic_fetch_add(&(p)->ec.ctr.field, 1, __ATOMIC_RELAXED);     \
	} while (0)

bool excache_ready(void)
{
	return ec.ready;
}

/* ---- sets and lines --------------------------------------------------- */

static struct ex_set *set_of(uint32_t pid, uint64_t va)
{
	return &ec.sets[exs_set_index(pid, va, ec.nsets)];
}

static void set_lock(struct ex_set *set)
{
	spin_lock(&set->wq.lock);
	while (set->locked)
		waitq_wait_locked(&set->wq, 0);
	set->locked = true;
	spin_unlock(&set->wq.lock);
}

static void set_unlock(struct ex_set *set)
{
	spin_lock(&set->wq.lock);
	set->locked = false;
	waitq_wake_one_locked(&set->wq);
	spin_unlock(&set->wq.lock);
}

/* Index of the line at way of set in the whole cache. */
static unsigned line_index(const struct ex_set *set, unsigned way)
{
	return (unsigned)(set - ec.sets) * ec.ways + way;
}

static uint64_t line_offset(const struct ex_set *set, unsigned way)
{
	return ec.buf.offset + (uint64_t)line_index(set, way) * EXCACHE_LINE;
}

static uint64_t line_phys(const struct ex_set *set, unsigned way)
{
	return verbs_window_phys(ec.dev, line_offset(set, way));
}

static void *line_kva(const struct ex_set *set, unsigned way)
{
	return (char *)ec.buf.va + (uint64_t)line_index(set, way) * EXCACHE_LINE;
}

/*
 * Makes this CPU see the code a memory node just wrote into an executable
 * line. The line's bytes came by RDMA, which on the emulated fabric is
 * fabricd writing the window from outside the VM; QEMU's TCG keeps the
 * code it translated from a physical page until a CPU of the VM writes
 * that page, so without a write here a line reused for another program's
 * text would run the translations of the code it held before. Storing
 * every word back (same value, volatile so it happens) is that write; a
 * real RDMA NIC, or KVM, keeps instruction fetch coherent with DMA, and
 * there this is a 4 KiB copy per code miss.
 */
static void line_code_written(const struct ex_set *set, unsigned way)
{
	volatile uint64_t *w = line_kva(set, way);

	for (unsigned i = 0; i < EXCACHE_LINE / sizeof(*w); i++)
		w[i] = w[i];
}

/* USPACE_* rights for a VMA's PROT_* (read is always implied on x86). */
static unsigned rights_of_prot(uint32_t prot)
{
	unsigned r = USPACE_READ;

	if (prot & MEM_PROT_WRITE)
		r |= USPACE_WRITE;
	if (prot & MEM_PROT_EXEC)
		r |= USPACE_EXEC;
	return r;
}

static uint32_t prot_of_access(unsigned access)
{
	if (access & USPACE_WRITE)
		return MEM_PROT_WRITE;
	if (access & USPACE_EXEC)
		return MEM_PROT_EXEC;
	return MEM_PROT_READ;
}

/* ---- owners and fresh ranges (under p->ec.lock) ------------------------- */

static uint64_t vregion_of(uint64_t va)
{
	return va / MEM_VREGION_SIZE;
}

/* Slot of ep's owner table holding key (vRegion index + 1; 0: a free
 * slot), or -1. */
static int owner_find_locked(const struct excache_proc *ep, uint64_t key)
{
	for (unsigned i = 0; i < EXCACHE_OWNERS; i++)
		if (ep->owner_vregion[i] == key)
			return (int)i;
	return -1;
}

/* Slot of va's vRegion in ep's owner table, or -1. */
static int owner_slot_locked(const struct excache_proc *ep, uint64_t va)
{
	return owner_find_locked(ep, vregion_of(va) + 1);
}

/* node owns p's vRegion holding va (a free slot, else round-robin). */
static void owner_record(struct process *p, uint64_t va, uint16_t node)
{
	struct excache_proc *ep = &p->ec;
	int i;

	spin_lock(&ep->lock);
	i = owner_slot_locked(ep, va);
	if (i < 0)
		i = owner_find_locked(ep, 0);
	if (i < 0) {
		i = (int)(ep->owner_next % EXCACHE_OWNERS);
		ep->owner_next = (unsigned)i + 1;
	}
	ep->owner_vregion[i] = vregion_of(va) + 1;
	ep->owner_node[i] = node;
	spin_unlock(&ep->lock);
}

/* How a miss on a page not in the cache is served. */
struct plan {
	bool skip;     /* prefetch of a fresh page: nothing to do */
	bool fresh;    /* zero-fill here, no message (the page left the set) */
	uint32_t prot; /* fresh: the range's prot */
	uint16_t node; /* where the page lives (fresh) or the miss goes:
			  the known owner, else the home */
};

/*
 * Plans the miss on p's page va for access. A fresh page is zero-filled
 * if its owner is known and its prot allows access; it leaves the fresh
 * set either way (a normal miss learns the owner), except for a prefetch,
 * which skips it.
 */
static void plan_miss(struct process *p, uint64_t va, unsigned access, bool prefetch,
		      struct plan *pl)
{
	struct excache_proc *ep = &p->ec;
	uint32_t want = prot_of_access(access);
	int slot, f;

	*pl = (struct plan){0};
	spin_lock(&ep->lock);
	slot = owner_slot_locked(ep, va);
	pl->node = slot >= 0 ? ep->owner_node[slot] : ep->home;
	f = exf_find(ep->fresh, ep->nfresh, va);
	if (f >= 0 && prefetch) {
		pl->skip = true;
	} else if (f >= 0) {
		pl->prot = ep->fresh[f].prot;
		pl->fresh = slot >= 0 && (pl->prot & want) == want;
		exf_remove(ep->fresh, &ep->nfresh, EXCACHE_FRESH, va, va + EXCACHE_LINE);
	}
	spin_unlock(&ep->lock);
}

void excache_fresh_add(struct process *p, uint64_t start, uint64_t end, uint32_t prot)
{
	struct excache_proc *ep = &p->ec;

	prot &= MEM_PROT_READ | MEM_PROT_WRITE | MEM_PROT_EXEC;
	if (!prot || start >= end || start < MEM_USER_BASE || end > MEM_USER_TOP)
		return; /* PROT_NONE: no access would ever be zero-filled */
	spin_lock(&ep->lock);
	exf_add(ep->fresh, &ep->nfresh, EXCACHE_FRESH, start, end, prot);
	spin_unlock(&ep->lock);
}

void excache_fresh_remove(struct process *p, uint64_t start, uint64_t end)
{
	struct excache_proc *ep = &p->ec;

	spin_lock(&ep->lock);
	exf_remove(ep->fresh, &ep->nfresh, EXCACHE_FRESH, start, end);
	spin_unlock(&ep->lock);
}

/* ---- RPCs -------------------------------------------------------------- */

/* MEM_FLUSH to node of pid's (home's process) page va, which line (set,
 * way) holds. */
static int flush_rpc(uint16_t node, uint16_t home, uint32_t pid, uint64_t va,
		     struct ex_set *set, unsigned way)
{
	struct mem_flush_req rq = {
		.pid = pid,
		.line_key = ec.mr.key,
		.va = va,
		.line_offset = line_offset(set, way),
		.home = home,
	};
	struct mem_value rp;
	struct rpc_node *rn = status_rpc();

	if (!rn)
		return -EHOSTUNREACH;
	return rpc_call(rn, node, MSG_MEM_FLUSH, &rq, sizeof(rq), &rp, sizeof(rp),
			EXCACHE_RPC_NS);
}

/* MEM_MISS to node of p's page va into line (set, way), with the victim
 * if any. */
static int miss_rpc(struct process *p, uint16_t node, struct ex_set *set, unsigned way,
		    uint64_t va, unsigned access, const struct piggyback *pb,
		    struct mem_miss_reply *rp)
{
	struct mem_miss_req rq = {
		.pid = p->pid,
		.access = prot_of_access(access),
		.va = va,
		.line_offset = line_offset(set, way),
		.line_key = ec.mr.key,
		.flags = pb->on ? MEM_MISS_VICTIM : 0,
		.victim_va = pb->on ? pb->va : 0,
		.victim_pid = pb->on ? pb->pid : 0,
		.home = p->ec.home,
		.victim_home = pb->on ? pb->home : 0,
	};
	struct rpc_node *rn = status_rpc();

	if (!rn)
		return -EHOSTUNREACH;
	return rpc_call(rn, node, MSG_MEM_MISS, &rq, sizeof(rq), rp, sizeof(*rp),
			EXCACHE_RPC_NS);
}

/* Decode a MEM_MISS reply from node: known flags only, not both, a prot of
 * PROT_* bits. */
static int check_reply(uint16_t node, const struct mem_miss_reply *rp)
{
	if ((rp->flags & ~(MEM_MISS_ZERO | MEM_MISS_ELSEWHERE)) ||
	    (rp->flags & MEM_MISS_ZERO && rp->flags & MEM_MISS_ELSEWHERE) ||
	    (rp->prot & ~(MEM_PROT_READ | MEM_PROT_WRITE | MEM_PROT_EXEC))) {
		pr_warn("excache: malformed MEM_MISS reply from node %u (flags %#x, prot "
			"%#x)",
			node, rp->flags, rp->prot);
		return -EPROTO;
	}
	return 0;
}

/* A redirect from node to owner must name another of the vNode's memory
 * nodes (kconfig's memory=). */
static int check_owner(uint16_t node, uint16_t owner)
{
	bool member = false;

	for (unsigned i = 0; i < kconfig.nmemories; i++)
		member |= kconfig.memory_ids[i] == owner;
	if (owner && owner != node && member)
		return 0;
	pr_warn("excache: node %u redirected a miss to node %u, not another memory= "
		"node",
		node, owner);
	return -EPROTO;
}

/* ---- victims ----------------------------------------------------------- */

/* LRU and CLOCK: read and clear the accessed bits of the set's lines. */
static void sample_accessed(struct ex_set *set)
{
	for (unsigned w = 0; w < set->s.ways; w++) {
		struct exs_line *l = &set->s.lines[w];
		struct process *owner = l->owner;

		if (l->state != EXS_VALID)
			continue;
		if (uspace_pte(owner->us, l->va, true) & USPACE_ACCESSED)
			exs_accessed(&set->s, w);
	}
}

static int pick_victim(struct ex_set *set)
{
	bool full = exs_count(&set->s, EXS_FREE) == 0;

	if (full && (ec.policy == EXCACHE_LRU || ec.policy == EXCACHE_CLOCK))
		sample_accessed(set);
	return exs_victim(&set->s, ec.policy, &set->rng);
}

/* The node a VALID line's page is written back to. */
static uint16_t line_node(const struct exs_line *l)
{
	const struct process *owner = l->owner;

	return l->node ? l->node : owner->ec.home;
}

/* The line leaves its owner's page tables; counts a used prefetch.
 * Returns whether its page is dirty. */
static bool unmap_line(struct ex_set *set, unsigned way)
{
	struct exs_line *l = &set->s.lines[way];
	struct process *owner = l->owner;
	unsigned st = uspace_unmap(owner->us, l->va);

	if (l->prefetched && (l->touched || (st & USPACE_ACCESSED)))
		COUNT(owner, prefetch_hits);
	return (st & USPACE_DIRTY) || l->dirty;
}

/* Maps a line again after its write-back failed; it stays dirty. */
static void remap_dirty(struct ex_set *set, unsigned way)
{
	struct exs_line *l = &set->s.lines[way];
	struct process *owner = l->owner;

	l->dirty = 1;
	if (uspace_map(owner->us, l->va, line_phys(set, way), l->rights))
		pr_err("excache: pid %u page %#llx: cannot map it again after a failed "
		       "write-back; its data stays in the line",
		       owner->pid, (unsigned long long)l->va);
}

/*
 * Empties the line at way for p's miss: unmapped, and if dirty marked
 * for the MEM_MISS when its node is target (the node the miss goes to
 * first; 0: no miss message, a fresh fill), else written back now.
 */
static int evict(struct process *p, struct ex_set *set, unsigned way, uint16_t target,
		 struct piggyback *pb)
{
	struct exs_line *l = &set->s.lines[way];
	struct process *owner = l->owner;
	uint16_t node;
	int err;

	pb->on = false;
	if (l->state != EXS_VALID)
		return 0;
	COUNT(p, evictions);
	if (!unmap_line(set, way))
		return 0;
	node = line_node(l);
	if (target && node == target) {
		*pb = (struct piggyback){true, owner->pid, l->va, owner->ec.home, node};
		return 0;
	}
	err = flush_rpc(node, owner->ec.home, owner->pid, l->va, set, way);
	if (err) {
		pr_warn("excache: write-back of pid %u page %#llx to node %u failed (%s)",
			owner->pid, (unsigned long long)l->va, node, errno_name(err));
		remap_dirty(set, way);
		return err;
	}
	COUNT(p, flushes);
	return 0;
}

/* A MEM_MISS carrying a victim failed: store the victim on its own. */
static void rescue_victim(struct process *p, struct ex_set *set, unsigned way,
			  const struct piggyback *pb)
{
	int err = flush_rpc(pb->node, pb->home, pb->pid, pb->va, set, way);

	if (err)
		pr_err("excache: dirty page %#llx of pid %u lost: miss and write-back "
		       "both failed (%s)",
		       (unsigned long long)pb->va, pb->pid, errno_name(err));
	else
		COUNT(p, flushes);
}

/* ---- misses ------------------------------------------------------------- */

/* The page is in the set already: fine if its rights allow access. */
static int already_there(struct process *p, struct ex_set *set, unsigned way,
			 unsigned access, bool prefetch)
{
	struct exs_line *l = &set->s.lines[way];

	if (prefetch)
		return -EEXIST;
	if ((l->rights & access) != access)
		return -EACCES;
	if (!(uspace_pte(p->us, l->va, false) & USPACE_PRESENT))
		return uspace_map(p->us, l->va, line_phys(set, way), l->rights);
	return 0;
}

/*
 * Asks *node for p's page va (with the victim pb), following one
 * MEM_MISS_ELSEWHERE to the owner it names (recorded; the victim went
 * with the first call, whatever its answer). On success *node is the
 * node that answered and *rp its checked reply.
 */
static int ask_page(struct process *p, struct ex_set *set, unsigned way, uint64_t va,
		    unsigned access, uint16_t *node, const struct piggyback *pb,
		    struct mem_miss_reply *rp)
{
	static const struct piggyback none;
	int err = miss_rpc(p, *node, set, way, va, access, pb, rp);

	if (err) {
		if (pb->on)
			rescue_victim(p, set, way, pb);
		return err;
	}
	if (pb->on)
		COUNT(p, piggybacks);
	err = check_reply(*node, rp);
	if (err || !(rp->flags & MEM_MISS_ELSEWHERE))
		return err;
	err = check_owner(*node, rp->owner);
	if (err)
		return err;
	COUNT(p, redirects);
	owner_record(p, va, rp->owner);
	*node = rp->owner;
	err = miss_rpc(p, *node, set, way, va, access, &none, rp);
	if (!err)
		err = check_reply(*node, rp);
	if (!err && (rp->flags & MEM_MISS_ELSEWHERE)) {
		pr_warn("excache: node %u redirected a miss that node %u had sent it",
			*node, p->ec.home);
		err = -EPROTO;
	}
	return err;
}

/* Fills a chosen (and emptied) line with p's page va from node (or its
 * vRegion's owner) and maps it. */
static int fill_line(struct process *p, struct ex_set *set, unsigned way, uint64_t va,
		     unsigned access, bool prefetch, uint16_t node,
		     const struct piggyback *pb)
{
	struct mem_miss_reply rp;
	unsigned rights;
	int err;

	exs_fill(&set->s, way, p, p->pid, va, prefetch);
	err = ask_page(p, set, way, va, access, &node, pb, &rp);
	if (err)
		goto release;
	owner_record(p, va, node);
	if (rp.flags & MEM_MISS_ZERO) {
		memset(line_kva(set, way), 0, EXCACHE_LINE);
		COUNT(p, zero_fills);
	}
	rights = rights_of_prot(rp.prot);
	if ((rights & USPACE_EXEC) && !(rp.flags & MEM_MISS_ZERO))
		line_code_written(set, way);
	err = uspace_map(p->us, va, line_phys(set, way), rights);
	if (err)
		goto release;
	exs_validate(&set->s, way, rights);
	set->s.lines[way].node = node;
	if (prefetch)
		COUNT(p, prefetches);
	else
		COUNT(p, misses);
	if (!prefetch && (access & USPACE_EXEC))
		COUNT(p, code_misses);
	return 0;
release:
	exs_release(&set->s, way);
	return err;
}

/* A miss in a fresh range: the line is zeroed and mapped with the range's
 * prot, no message. Its PTE's dirty bit tells eviction whether to store
 * it on node (a page only read is still zero there). */
static int fresh_fill(struct process *p, struct ex_set *set, unsigned way, uint64_t va,
		      const struct plan *pl)
{
	unsigned rights = rights_of_prot(pl->prot);
	int err;

	exs_fill(&set->s, way, p, p->pid, va, false);
	memset(line_kva(set, way), 0, EXCACHE_LINE);
	err = uspace_map(p->us, va, line_phys(set, way), rights);
	if (err) {
		exs_release(&set->s, way);
		return err;
	}
	exs_validate(&set->s, way, rights);
	set->s.lines[way].node = pl->node;
	COUNT(p, fresh_fills);
	return 0;
}

static int drop_line(struct process *p, struct ex_set *set, unsigned way, bool writeback);

void excache_vm_begin(struct process *p)
{
	__atomic_fetch_add(&p->ec.vm_busy, 1, __ATOMIC_SEQ_CST);
}

void excache_vm_end(struct process *p)
{
	__atomic_fetch_add(&p->ec.vm_seq, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_sub(&p->ec.vm_busy, 1, __ATOMIC_SEQ_CST);
}

/* Whether an address-space change of p is under way, or one began and
 * ended since vm_seq was seq. */
static bool vm_changed(struct process *p, uint64_t seq)
{
	return __atomic_load_n(&p->ec.vm_busy, __ATOMIC_SEQ_CST) ||
	       __atomic_load_n(&p->ec.vm_seq, __ATOMIC_SEQ_CST) != seq;
}

/* Brings p's page va into the cache (prefetch: ahead of use). -EAGAIN:
 * it raced an address-space change and must be tried again. */
static int fetch(struct process *p, uint64_t va, unsigned access, bool prefetch)
{
	struct ex_set *set = set_of(p->pid, va);
	uint64_t seq = __atomic_load_n(&p->ec.vm_seq, __ATOMIC_SEQ_CST);
	struct piggyback pb;
	struct plan pl;
	int way, err;

	set_lock(set);
	way = exs_find(&set->s, p->pid, va);
	if (way >= 0) {
		err = already_there(p, set, (unsigned)way, access, prefetch);
		goto unlock;
	}
	plan_miss(p, va, access, prefetch, &pl);
	if (pl.skip) {
		err = -EEXIST;
		goto unlock;
	}
	way = pick_victim(set);
	if (way < 0) { /* every line BUSY: cannot happen under the set lock */
		err = -EAGAIN;
		goto unlock;
	}
	err = evict(p, set, (unsigned)way, pl.fresh ? 0 : pl.node, &pb);
	if (err)
		goto unlock;
	if (pl.fresh)
		err = fresh_fill(p, set, (unsigned)way, va, &pl);
	else
		err = fill_line(p, set, (unsigned)way, va, access, prefetch, pl.node,
				&pb);
	if (!err && vm_changed(p, seq)) {
		drop_line(p, set, (unsigned)way, true); /* a failed store stays mapped */
		err = -EAGAIN;
	}
unlock:
	set_unlock(set);
	return err;
}

/* Sequential prefetch after a successful miss on va. */
static void maybe_prefetch(struct process *p, uint64_t va)
{
	uint64_t vpn = va / EXCACHE_LINE;
	uint64_t last = __atomic_exchange_n(&p->ec.last_miss_vpn, vpn, __ATOMIC_RELAXED);

	if (!ec.prefetch || last + 1 != vpn || va + EXCACHE_LINE >= MEM_USER_TOP)
		return;
	/* errors (no VMA there, no read right, a fresh page, a race with an
	 * address-space change) mean no prefetch */
	if (fetch(p, va + EXCACHE_LINE, USPACE_READ, true) == 0)
		/* a miss on p + 2 is sequential too */
		__atomic_store_n(&p->ec.last_miss_vpn, vpn + 1, __ATOMIC_RELAXED);
}

int excache_fault(struct process *p, uint64_t addr, unsigned access)
{
	uint64_t va = addr & ~EXCACHE_PAGE_MASK;
	int err;

	if (!ec.ready)
		return -ENODEV;
	if (va < MEM_USER_BASE || va >= MEM_USER_TOP)
		return -EFAULT;
	err = fetch(p, va, access, false);
	if (err == -EAGAIN) {
		thread_yield(); /* let the change finish; the access faults again */
		return 0;
	}
	if (!err)
		maybe_prefetch(p, va);
	return err;
}

/* ---- dropping and cleaning lines ------------------------------------------ */

/* What a walk over a process's lines (lines_in_range) does to each. */
enum line_action {
	LINE_DROP,	 /* out of the cache, contents thrown away */
	LINE_STORE_DROP, /* out of the cache, a dirty one written back first */
	LINE_CLEAN,	 /* a dirty one written back; it stays cached, clean */
};

/* Takes the VALID line at way out (writing it back first if asked). */
static int drop_line(struct process *p, struct ex_set *set, unsigned way, bool writeback)
{
	struct exs_line *l = &set->s.lines[way];
	bool dirty;
	int err;

	dirty = unmap_line(set, way);
	if (writeback && dirty) {
		err = flush_rpc(line_node(l), p->ec.home, p->pid, l->va, set, way);
		if (err) {
			remap_dirty(set, way);
			return err;
		}
		COUNT(p, flushes);
	} else {
		COUNT(p, drops);
	}
	exs_release(&set->s, way);
	return 0;
}

/* Stores p's VALID line at way if dirty; it stays cached and mapped, now
 * clean (a new PTE, whose dirty bit is clear). For fork. */
static int clean_line(struct process *p, struct ex_set *set, unsigned way)
{
	struct exs_line *l = &set->s.lines[way];
	unsigned st = uspace_pte(p->us, l->va, false);
	int err;

	if (!(st & USPACE_DIRTY) && !l->dirty)
		return 0;
	if (st & USPACE_ACCESSED)
		exs_accessed(&set->s, way); /* the new PTE forgets it */
	err = flush_rpc(line_node(l), p->ec.home, p->pid, l->va, set, way);
	if (err) {
		l->dirty = 1;
		return err;
	}
	COUNT(p, flushes);
	l->dirty = 0;
	err = uspace_map(p->us, l->va, line_phys(set, way), l->rights);
	if (err) { /* the old PTE, dirty, stays: a later write-back is harmless */
		l->dirty = 1;
		pr_warn("excache: pid %u page %#llx: cannot remap it clean (%s)", p->pid,
			(unsigned long long)l->va, errno_name(err));
	}
	return 0;
}

/* Does act to p's VALID lines in [start, end) within one set; returns
 * the first error. */
static int lines_in_set(struct process *p, struct ex_set *set, uint64_t start,
			uint64_t end, enum line_action act)
{
	int first = 0;

	set_lock(set);
	for (unsigned w = 0; w < set->s.ways; w++) {
		struct exs_line *l = &set->s.lines[w];
		int err;

		if (l->owner != p || l->state != EXS_VALID || l->va < start ||
		    l->va >= end)
			continue;
		err = act == LINE_CLEAN ? clean_line(p, set, w)
					: drop_line(p, set, w, act == LINE_STORE_DROP);
		if (err && !first)
			first = err;
	}
	set_unlock(set);
	return first;
}

/* Does act to p's lines in [start, end) (pages it touches), visiting only
 * the sets the range maps to when it has fewer pages than there are
 * sets; returns the first error. */
static int lines_in_range(struct process *p, uint64_t start, uint64_t end,
			  enum line_action act)
{
	uint64_t pages;
	int err, first = 0;

	start &= ~EXCACHE_PAGE_MASK;
	end = end > MEM_USER_TOP - EXCACHE_LINE
		      ? MEM_USER_TOP
		      : (end + EXCACHE_PAGE_MASK) & ~EXCACHE_PAGE_MASK;
	if (start >= end)
		return 0;
	pages = (end - start) / EXCACHE_LINE;
	if (pages <= ec.nsets) {
		for (uint64_t va = start; va < end; va += EXCACHE_LINE) {
			err = lines_in_set(p, set_of(p->pid, va), va, va + EXCACHE_LINE,
					   act);
			if (err && !first)
				first = err;
		}
		return first;
	}
	for (unsigned i = 0; i < ec.nsets; i++) {
		err = lines_in_set(p, &ec.sets[i], start, end, act);
		if (err && !first)
			first = err;
	}
	return first;
}

int excache_drop_range(struct process *p, uint64_t start, uint64_t end, bool writeback)
{
	if (!ec.ready)
		return 0;
	return lines_in_range(p, start, end, writeback ? LINE_STORE_DROP : LINE_DROP);
}

void excache_drop_process(struct process *p)
{
	bool shared = excache_has_shared(p);
	int err = excache_drop_range(p, 0, MEM_USER_TOP, shared);

	if (err) { /* lines that failed stay: drop them now */
		pr_warn("excache: pid %u: MAP_SHARED write-back at exit failed (%s)", p->pid,
			errno_name(err));
		excache_drop_range(p, 0, MEM_USER_TOP, false);
	}
}

void excache_shared_add(struct process *p)
{
	__atomic_store_n(&p->ec.has_shared, true, __ATOMIC_SEQ_CST);
}

bool excache_has_shared(struct process *p)
{
	return __atomic_load_n(&p->ec.has_shared, __ATOMIC_SEQ_CST);
}

int excache_clean_range(struct process *p, uint64_t start, uint64_t end)
{
	return ec.ready ? lines_in_range(p, start, end, LINE_CLEAN) : 0;
}

/* ---- fork ----------------------------------------------------------------- */

int excache_fork(struct process *parent, struct process *child)
{
	struct excache_proc *pe = &parent->ec, *ce = &child->ec;
	int err = ec.ready ? lines_in_range(parent, 0, MEM_USER_TOP, LINE_CLEAN) : 0;

	if (err)
		pr_warn("excache: fork of pid %u: write-back failed (%s)", parent->pid,
			errno_name(err));
	/* the child is not running yet: its tables are ours to write */
	spin_lock(&pe->lock);
	memcpy(ce->owner_vregion, pe->owner_vregion, sizeof(ce->owner_vregion));
	memcpy(ce->owner_node, pe->owner_node, sizeof(ce->owner_node));
	ce->owner_next = pe->owner_next;
	memcpy(ce->fresh, pe->fresh, sizeof(ce->fresh));
	ce->nfresh = pe->nfresh;
	spin_unlock(&pe->lock);
	ce->has_shared = excache_has_shared(parent);
	return err;
}

/* ---- exec ----------------------------------------------------------------- */

int excache_exec_prepare(struct process *p)
{
	int err = ec.ready ? lines_in_range(p, 0, MEM_USER_TOP, LINE_CLEAN) : 0;

	if (err)
		pr_warn("excache: exec of pid %u: write-back failed (%s)", p->pid,
			errno_name(err));
	return err;
}

void excache_exec(struct process *p)
{
	struct excache_proc *ep = &p->ec;

	excache_drop_range(p, 0, MEM_USER_TOP, false); /* the old image's: gone */
	__atomic_store_n(&ep->has_shared, false, __ATOMIC_SEQ_CST);
	spin_lock(&ep->lock);
	memset(ep->owner_vregion, 0, sizeof(ep->owner_vregion));
	memset(ep->owner_node, 0, sizeof(ep->owner_node));
	ep->owner_next = 0;
	memset(ep->fresh, 0, sizeof(ep->fresh));
	ep->nfresh = 0;
	ep->last_miss_vpn = ~0ull;
	spin_unlock(&ep->lock);
}

void excache_exec_fresh(struct process *p, uint64_t start, uint64_t end, uint32_t prot)
{
	owner_record(p, start, p->ec.home);
	owner_record(p, end - 1, p->ec.home); /* the same vRegion, or the next */
	excache_fresh_add(p, start, end, prot);
}

/* ---- set-up and figures -------------------------------------------------- */

static int alloc_sets(void)
{
	ec.sets = kzalloc(sizeof(*ec.sets) * ec.nsets);
	if (!ec.sets)
		return -ENOMEM;
	ec.lines = kzalloc(sizeof(*ec.lines) * ec.nlines);
	if (!ec.lines) {
		kfree(ec.sets);
		ec.sets = NULL;
		return -ENOMEM;
	}
	for (unsigned i = 0; i < ec.nsets; i++) {
		struct ex_set *set = &ec.sets[i];

		waitq_init(&set->wq, "excache-set");
		exs_set_init(&set->s, ec.lines + (uint64_t)i * ec.ways, ec.ways);
		set->rng = (clock_ns() ^ (0x9e3779b97f4a7c15ull * (i + 1))) | 1;
	}
	return 0;
}

int excache_init(void)
{
	int err;

	if (!kconfig.excache_set)
		return -ENODEV;
	err = verbs_open(&ec.dev);
	if (err)
		return err;
	ec.ways = kconfig.excache_ways;
	ec.nlines = (unsigned)(kconfig.excache_bytes / EXCACHE_LINE);
	ec.nsets = ec.nlines / ec.ways;
	ec.policy = kconfig.excache_policy;
	ec.prefetch = EXCACHE_PREFETCH;
	if (!ec.nsets)
		return -EINVAL;
	err = alloc_sets();
	if (err)
		return err;
	err = verbs_buf_alloc(ec.dev, (size_t)kconfig.excache_bytes, &ec.buf);
	if (err)
		goto free_sets;
	err = verbs_reg_mr(ec.dev, ec.buf.offset, kconfig.excache_bytes,
			   FAB_ACCESS_REMOTE_READ | FAB_ACCESS_REMOTE_WRITE, &ec.mr);
	if (err)
		goto free_buf;
	ec.ready = true;
	status_set_line_fn(excache_status_line);
	return 0;
free_buf:
	verbs_buf_free(ec.dev, &ec.buf);
free_sets:
	kfree(ec.lines);
	kfree(ec.sets);
	ec.lines = NULL;
	ec.sets = NULL;
	return err;
}

static void copy_counters(struct tessera_excache_counters *dst,
			  const struct tessera_excache_counters *src)
{
	dst->misses = __atomic_load_n(&src->misses, __ATOMIC_RELAXED);
	dst->flushes = __atomic_load_n(&src->flushes, __ATOMIC_RELAXED);
	dst->piggybacks = __atomic_load_n(&src->piggybacks, __ATOMIC_RELAXED);
	dst->evictions = __atomic_load_n(&src->evictions, __ATOMIC_RELAXED);
	dst->zero_fills = __atomic_load_n(&src->zero_fills, __ATOMIC_RELAXED);
	dst->prefetches = __atomic_load_n(&src->prefetches, __ATOMIC_RELAXED);
	dst->prefetch_hits = __atomic_load_n(&src->prefetch_hits, __ATOMIC_RELAXED);
	dst->drops = __atomic_load_n(&src->drops, __ATOMIC_RELAXED);
	dst->fresh_fills = __atomic_load_n(&src->fresh_fills, __ATOMIC_RELAXED);
	dst->redirects = __atomic_load_n(&src->redirects, __ATOMIC_RELAXED);
	dst->code_misses = __atomic_load_n(&src->code_misses, __ATOMIC_RELAXED);
}

void excache_get_stats(const struct process *p, struct tessera_excache_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->version = TESSERA_EXCACHE_STATS_VERSION;
	if (!ec.ready)
		return;
	st->policy = ec.policy;
	st->bytes = (uint64_t)ec.nlines * EXCACHE_LINE;
	st->ways = ec.ways;
	st->sets = ec.nsets;
	st->lines = ec.nlines;
	st->prefetch = ec.prefetch;
	/* read without the set locks: a snapshot that may be a line off */
	for (unsigned i = 0; i < ec.nlines; i++)
		st->lines_valid += __atomic_load_n(&ec.lines[i].state,
						   __ATOMIC_RELAXED) == EXS_VALID;
	if (p) {
		st->pid = p->pid;
		copy_counters(&st->process, &p->ec.ctr);
	}
	copy_counters(&st->node, &ec.total);
}

/* n in at most 6 characters: exact below 100000, else the leading digits
 * with k, M, G or T (rounded down). */
static void compact_number(uint64_t n, char *buf, size_t cap)
{
	static const char unit[] = "kMGTP";
	unsigned u = 0;

	if (n < 100000) {
		snprintf(buf, cap, "%llu", (unsigned long long)n);
		return;
	}
	n /= 1000;
	while (n >= 10000 && u + 1 < sizeof(unit) - 1) {
		n /= 1000;
		u++;
	}
	snprintf(buf, cap, "%llu%c", (unsigned long long)n, unit[u]);
}

void excache_status_line(char *buf, size_t cap)
{
	struct tessera_excache_stats st;
	const struct tessera_excache_counters *c = &st.node;
	uint64_t v[EXCACHE_STATUS_FIELDS];
	size_t o;

	excache_get_stats(NULL, &st);
	v[0] = st.lines_valid;
	v[1] = c->misses;
	v[2] = c->fresh_fills;
	v[3] = c->zero_fills;
	v[4] = c->evictions;
	v[5] = c->flushes;
	v[6] = c->piggybacks;
	v[7] = c->prefetches;
	v[8] = c->prefetch_hits;
	v[9] = c->redirects;
	v[10] = c->drops;
	if (!st.lines) {
		buf[0] = '\0';
		return;
	}
	o = (size_t)snprintf(buf, cap, "ec %llu %u %s",
			     (unsigned long long)(st.bytes >> 10), st.ways,
			     kconfig_policy_name(st.policy));
	for (unsigned i = 0; i < EXCACHE_STATUS_FIELDS && o < cap; i++) {
		char num[16];

		compact_number(v[i], num, sizeof(num));
		o += (size_t)snprintf(buf + o, cap - o, " %s", num);
	}
}

void excache_proc_init(struct excache_proc *ep, uint16_t home)
{
	memset(ep, 0, sizeof(*ep));
	ep->home = home;
	ep->lock = (struct spinlock)SPINLOCK_INIT("excache-proc");
	ep->last_miss_vpn = ~0ull;
}

/* ---- self tests (no memory node needed) ------------------------------------ */

#include <kernel/ktest.h>

KTEST(excache_plan_owner_and_fresh)
{
	struct process *p = kzalloc(sizeof(*p));
	const uint64_t g = MEM_VREGION_SIZE, pg = EXCACHE_LINE;
	struct plan pl;

	KT_ASSERT(p);
	excache_proc_init(&p->ec, 7);
	/* unknown owner: the home; a fresh page leaves the set, no fresh fill */
	excache_fresh_add(p, 2 * g, 2 * g + 4 * pg, MEM_PROT_READ | MEM_PROT_WRITE);
	excache_fresh_add(p, 3 * g, 3 * g + 4 * pg, 0); /* PROT_NONE: not kept */
	KT_EXPECT_EQ(p->ec.nfresh, 1);
	plan_miss(p, 2 * g + pg, USPACE_WRITE, false, &pl);
	KT_EXPECT(!pl.fresh && !pl.skip);
	KT_EXPECT_EQ(pl.node, 7);
	KT_EXPECT_EQ(p->ec.nfresh, 2); /* split around the page */
	KT_EXPECT_EQ(exf_find(p->ec.fresh, p->ec.nfresh, 2 * g + pg), -1);
	/* known owner: fresh fill with the range's prot */
	owner_record(p, 2 * g + 123, 9);
	plan_miss(p, 2 * g, USPACE_WRITE, false, &pl);
	KT_EXPECT(pl.fresh);
	KT_EXPECT_EQ(pl.node, 9);
	KT_EXPECT_EQ(pl.prot, MEM_PROT_READ | MEM_PROT_WRITE);
	KT_EXPECT_EQ(exf_find(p->ec.fresh, p->ec.nfresh, 2 * g), -1);
	/* an access the prot does not allow: a normal miss (which will fail) */
	plan_miss(p, 2 * g + 2 * pg, USPACE_EXEC, false, &pl);
	KT_EXPECT(!pl.fresh && !pl.skip);
	KT_EXPECT_EQ(pl.node, 9);
	/* prefetch skips a fresh page and leaves it fresh */
	plan_miss(p, 2 * g + 3 * pg, USPACE_READ, true, &pl);
	KT_EXPECT(pl.skip);
	KT_EXPECT(exf_find(p->ec.fresh, p->ec.nfresh, 2 * g + 3 * pg) >= 0);
	/* not fresh, other vRegion: home */
	plan_miss(p, 5 * g, USPACE_READ, false, &pl);
	KT_EXPECT(!pl.fresh && pl.node == 7);
	excache_fresh_remove(p, 0, MEM_USER_TOP);
	KT_EXPECT_EQ(p->ec.nfresh, 0);
	kfree(p);
}

KTEST(excache_owner_table_full_replaces_round_robin)
{
	struct process *p = kzalloc(sizeof(*p));
	const uint64_t g = MEM_VREGION_SIZE;
	struct plan pl;

	KT_ASSERT(p);
	excache_proc_init(&p->ec, 1);
	for (unsigned i = 0; i < EXCACHE_OWNERS; i++)
		owner_record(p, (uint64_t)i * g, (uint16_t)(100 + i));
	owner_record(p, 3 * g, 103); /* known: no new slot */
	plan_miss(p, 31 * g, USPACE_READ, false, &pl);
	KT_EXPECT_EQ(pl.node, 100 + 31);
	owner_record(p, 40 * g, 2); /* full: replaces slot 0 (vRegion 0) */
	plan_miss(p, 40 * g, USPACE_READ, false, &pl);
	KT_EXPECT_EQ(pl.node, 2);
	plan_miss(p, 0, USPACE_READ, false, &pl);
	KT_EXPECT_EQ(pl.node, 1); /* forgotten: the home again */
	plan_miss(p, 1 * g, USPACE_READ, false, &pl);
	KT_EXPECT_EQ(pl.node, 101);
	kfree(p);
}

KTEST(excache_fork_copies_tables)
{
	struct process *a = kzalloc(sizeof(*a)), *b = kzalloc(sizeof(*b));
	struct plan pl;

	KT_ASSERT(a && b);
	excache_proc_init(&a->ec, 1);
	excache_proc_init(&b->ec, 1);
	owner_record(a, 5 * MEM_VREGION_SIZE, 4);
	excache_fresh_add(a, 5 * MEM_VREGION_SIZE,
			  5 * MEM_VREGION_SIZE + 8 * EXCACHE_LINE, MEM_PROT_READ);
	/* a process with no line: nothing to write back, even with a cache */
	KT_EXPECT_EQ(excache_fork(a, b), 0);
	KT_EXPECT_EQ(b->ec.nfresh, 1);
	plan_miss(b, 5 * MEM_VREGION_SIZE, USPACE_READ, false, &pl);
	KT_EXPECT(pl.fresh && pl.node == 4);
	KT_EXPECT_EQ(a->ec.nfresh, 1); /* the parent's own set is untouched */
	kfree(a);
	kfree(b);
}

KTEST(excache_reply_and_redirect_checks)
{
	struct mem_miss_reply rp = {.prot = MEM_PROT_READ, .flags = MEM_MISS_ZERO};

	KT_EXPECT_EQ(check_reply(1, &rp), 0);
	rp.flags = MEM_MISS_ZERO | MEM_MISS_ELSEWHERE;
	KT_EXPECT_EQ(check_reply(1, &rp), -EPROTO);
	rp.flags = 0x80;
	KT_EXPECT_EQ(check_reply(1, &rp), -EPROTO);
	rp.flags = 0;
	rp.prot = 0x10;
	KT_EXPECT_EQ(check_reply(1, &rp), -EPROTO);
	KT_EXPECT_EQ(check_owner(1, 0), -EPROTO);
	KT_EXPECT_EQ(check_owner(1, 1), -EPROTO);   /* to itself */
	KT_EXPECT_EQ(check_owner(1, 999), -EPROTO); /* not a memory= node */
	if (kconfig.nmemories >= 2)
		KT_EXPECT_EQ(check_owner(kconfig.memory_ids[0], kconfig.memory_ids[1]),
			     0);
}

KTEST(excache_status_line_format)
{
	char buf[128];

	compact_number(0, buf, sizeof(buf));
	KT_EXPECT(strcmp(buf, "0") == 0);
	compact_number(99999, buf, sizeof(buf));
	KT_EXPECT(strcmp(buf, "99999") == 0);
	compact_number(100000, buf, sizeof(buf));
	KT_EXPECT(strcmp(buf, "100k") == 0);
	compact_number(12345678, buf, sizeof(buf));
	KT_EXPECT(strcmp(buf, "12M") == 0);
	compact_number(~0ull, buf, sizeof(buf));
	KT_EXPECT(strlen(buf) <= 6);
	excache_status_line(buf, sizeof(buf));
	if (!ec.ready)
		KT_EXPECT_EQ(buf[0], '\0');
	else
		KT_EXPECT(buf[0] == 'e' && buf[1] == 'c' && buf[2] == ' ');
}
