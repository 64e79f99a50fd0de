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
 * copies what the parent sees; the child inherits the owner table, the
 * fresh ranges and the shared ranges.
 *
 * Shared pages (MAP_SHARED: files, MAP_SHARED|MAP_ANONYMOUS). Processes
 * of this processor mapping one page of a shared object map one line,
 * so a store by one is seen by the others at once with no software on
 * the hit path. Each process keeps its shared ranges (excache_shared.h,
 * under ec.lock): [start, end) -> (object key, page offset, prot); the
 * key is the file's (inode, generation), or a number excache_anon_key gives each
 * MAP_SHARED|MAP_ANONYMOUS mapping. A page in a shared range has the
 * tag (key, offset in the object) instead of (pid, va) (struct tag,
 * tag_of; its set comes from the tag), and its line has no owner but a
 * reverse map, maps: one struct ex_map (process, va, rights, node) per
 * mapping, under the set lock. So:
 *   - a miss whose tagged line is cached just maps it in the faulting
 *     process with the range's prot and joins the map (join_line, no
 *     message, counted as shared_maps); otherwise the page is fetched
 *     as any miss (MEM_MISS for the process's (pid, va): the memory
 *     node keeps one copy per shared page) and the line tagged shared,
 *     its first mapper the fetcher. Never a fresh fill: a forked child
 *     must not zero a page its parent wrote;
 *   - eviction unmaps the line from every mapper (each unmap shoots its
 *     address space down) and writes it back once if any PTE was dirty
 *     or the sticky flag is set, named by its first mapper's (pid, va)
 *     (inside the MEM_MISS, whose victim fields carry the pid, when that
 *     mapper's node is the miss's target);
 *   - a mapper leaving (munmap, MAP_FIXED, mprotect, mremap, madvise,
 *     exit, exec: leave_line) unmaps its own mapping only; its PTE's
 *     dirty bit goes into the line's sticky flag, and but for exec
 *     (whose excache_exec_prepare stored everything already) a dirty
 *     line is written back then under the leaver's (pid, va), which
 *     still names the object on the home (a forked child's stores reach
 *     a file at its exit); the last mapper's departure frees the line;
 *   - msync, fork and exec's preparation store a dirty shared line once
 *     (clean_shared): every mapper's PTE goes first, so that a store by
 *     another process meanwhile faults and waits for the set instead of
 *     landing behind the copy under a clean PTE, then all map it again.
 * A process's walk over its lines (lines_in_range) visits, for a small
 * range, each page's private set and, in a shared range, the shared
 * tag's set; for a large one, every set, where shared lines match by
 * their maps. The syscall layer drops a range's lines before it changes
 * the shared ranges, so the tags the walk computes are the ones the lines
 * were filled under; a miss racing the change leaves its line again
 * (undo_fetch), as for private lines. Lock order: a set's sleeping lock,
 * then ec.lock (lookups only); the set lock also covers every other
 * process's PTE of the lines it holds, which is why a process's exit
 * (excache_drop_process) must leave every shared line before its struct
 * goes. Processes on different processors are not coherent: each
 * processor caches its own copy, seen elsewhere after a write-back.
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

/* A dirty page to write back: which it is, where it goes; on: a victim
 * written back inside the MEM_MISS. */
struct piggyback {
	bool on;
	uint32_t pid;
	uint64_t va;
	uint16_t home; /* the page's process's home */
	uint16_t node; /* its vRegion's owner (for a victim: the miss's first
			  target) */
};

/* One process's mapping of a shared line (the line's maps list; under
 * the set lock). */
struct ex_map {
	struct ex_map *next;
	struct process *p;
	uint64_t va;	 /* where p maps the line */
	unsigned rights; /* with what */
	uint16_t node;	 /* where a write-back of p's page va goes */
};

/* What a miss on a process's page looks for: its line's tag, and in a
 * shared range the range's prot. */
struct tag {
	bool shared;
	uint64_t key, va; /* exs_find's: (pid, va) or (object, offset) */
	uint32_t prot;	  /* shared: the range's PROT_* */
};

#define PROT_ALL (MEM_PROT_READ | MEM_PROT_WRITE | MEM_PROT_EXEC)

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

static struct ex_set *set_of(uint64_t key, uint64_t va)
{
	return &ec.sets[exs_set_index(key, va, ec.nsets)];
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

/* Where p's page va lives: its vRegion's owner if known, else the home. */
static uint16_t node_of_locked(const struct excache_proc *ep, uint64_t va)
{
	int slot = owner_slot_locked(ep, va);

	return slot >= 0 ? ep->owner_node[slot] : ep->home;
}

static uint16_t node_of(struct process *p, uint64_t va)
{
	uint16_t node;

	spin_lock(&p->ec.lock);
	node = node_of_locked(&p->ec, va);
	spin_unlock(&p->ec.lock);
	return node;
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
	pl->node = node_of_locked(ep, va);
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

/* The tag of p's page va: shared if a shared range holds it. */
static void tag_of(struct process *p, uint64_t va, struct tag *t)
{
	struct excache_proc *ep = &p->ec;
	int i;

	spin_lock(&ep->lock);
	i = exsh_find(ep->shared, ep->nshared, va);
	if (i >= 0)
		*t = (struct tag){true, ep->shared[i].key, exsh_offset(&ep->shared[i], va),
				  ep->shared[i].prot};
	else
		*t = (struct tag){false, p->pid, va & ~EXCACHE_PAGE_MASK, 0};
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

/* ---- shared ranges (under p->ec.lock) ------------------------------------- */

int excache_shared_room(struct process *p, uint64_t start, uint64_t end, unsigned adds)
{
	struct excache_proc *ep = &p->ec;
	bool fits;

	spin_lock(&ep->lock);
	fits = ep->nshared + exsh_splits(ep->shared, ep->nshared, start, end) + adds <=
	       EXCACHE_SHARED;
	spin_unlock(&ep->lock);
	return fits ? 0 : -ENOMEM;
}

int excache_shared_map(struct process *p, uint64_t start, uint64_t end, uint64_t key,
		       uint64_t pgoff, uint32_t prot)
{
	struct excache_proc *ep = &p->ec;
	int err;

	spin_lock(&ep->lock);
	err = exsh_add(ep->shared, &ep->nshared, EXCACHE_SHARED, start, end, key, pgoff,
		       prot & PROT_ALL);
	spin_unlock(&ep->lock);
	return err ? -ENOMEM : 0;
}

/* The change of [start, end) did not fit: the ranges it overlaps go;
 * [*lo, *hi) covers them. */
static void shared_forget_locked(struct process *p, uint64_t start, uint64_t end,
				 uint64_t *lo, uint64_t *hi)
{
	struct excache_proc *ep = &p->ec;

	*lo = start;
	*hi = end;
	for (int i = 0; i < (int)ep->nshared; i++) {
		struct excache_shared *r = &ep->shared[i];

		if (r->end <= start || r->start >= end)
			continue;
		*lo = r->start < *lo ? r->start : *lo;
		*hi = r->end > *hi ? r->end : *hi;
		exsh_remove(ep->shared, &ep->nshared, EXCACHE_SHARED, r->start, r->end);
		i--;
	}
}

static void leave_all_shared(struct process *p, uint64_t start, uint64_t end);

/* Ranges of p that a change could not cut were forgotten ([lo, hi)
 * covers them): p leaves its shared lines there, so that no line's map
 * names a page the process will fetch as its own from now on. */
static void shared_lost(struct process *p, uint64_t lo, uint64_t hi)
{
	pr_warn("excache: pid %u: shared ranges full at [%#llx, %#llx): the mappings there "
		"are no longer shared",
		p->pid, (unsigned long long)lo, (unsigned long long)hi);
	leave_all_shared(p, lo, hi);
}

void excache_shared_unmap(struct process *p, uint64_t start, uint64_t end)
{
	struct excache_proc *ep = &p->ec;
	uint64_t lo, hi;
	int err;

	spin_lock(&ep->lock);
	err = exsh_remove(ep->shared, &ep->nshared, EXCACHE_SHARED, start, end);
	if (err)
		shared_forget_locked(p, start, end, &lo, &hi);
	spin_unlock(&ep->lock);
	if (err)
		shared_lost(p, lo, hi);
}

void excache_shared_protect(struct process *p, uint64_t start, uint64_t end, uint32_t prot)
{
	struct excache_proc *ep = &p->ec;
	uint64_t lo, hi;
	int err;

	spin_lock(&ep->lock);
	err = exsh_protect(ep->shared, &ep->nshared, EXCACHE_SHARED, start, end,
			   prot & PROT_ALL);
	if (err)
		shared_forget_locked(p, start, end, &lo, &hi);
	spin_unlock(&ep->lock);
	if (err)
		shared_lost(p, lo, hi);
}

int excache_shared_get(struct process *p, uint64_t va, struct excache_shared *out)
{
	struct excache_proc *ep = &p->ec;
	int i;

	spin_lock(&ep->lock);
	i = exsh_find(ep->shared, ep->nshared, va);
	if (i >= 0)
		*out = ep->shared[i];
	spin_unlock(&ep->lock);
	return i >= 0 ? 0 : -ENOENT;
}

uint64_t excache_anon_key(void)
{
	static uint64_t next; /* atomic */

	return exsh_anon_key(__atomic_add_fetch(&next, 1, __ATOMIC_RELAXED));
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

/* ---- lines and their mappers ---------------------------------------------- */

/* Maps p's page va to the line at way again (after a write-back); a
 * failure is logged: the data stays in the line, and p's next access
 * faults and maps it. */
static void map_again(struct process *p, uint64_t va, struct ex_set *set, unsigned way,
		      unsigned rights)
{
	int err = uspace_map(p->us, va, line_phys(set, way), rights);

	if (err)
		pr_warn("excache: pid %u page %#llx: cannot map it again (%s)", p->pid,
			(unsigned long long)va, errno_name(err));
}

/* The first of p's mappings of the shared line l at an address in
 * [start, end), or NULL. */
static struct ex_map *map_find(const struct exs_line *l, const struct process *p,
			       uint64_t start, uint64_t end)
{
	for (struct ex_map *m = l->maps; m; m = m->next)
		if (m->p == p && m->va >= start && m->va < end)
			return m;
	return NULL;
}

/* Takes m off l's list and frees it. */
static void map_unlink(struct exs_line *l, struct ex_map *m)
{
	struct ex_map **pp = (struct ex_map **)&l->maps;

	while (*pp != m)
		pp = &(*pp)->next;
	*pp = m->next;
	kfree(m);
}

static void maps_free(struct exs_line *l)
{
	while (l->maps)
		map_unlink(l, l->maps);
}

/* Where the VALID line l's page is written back: its owner's page, or
 * for a shared line its first mapper's (every mapper's names the same
 * page of the object on the memory node). */
static void line_wb(const struct exs_line *l, struct piggyback *wb)
{
	const struct process *owner = l->owner;
	const struct ex_map *m = l->maps;

	if (owner)
		*wb = (struct piggyback){true, owner->pid, l->va, owner->ec.home,
					 l->node ? l->node : owner->ec.home};
	else
		*wb = (struct piggyback){true, m->p->pid, m->va, m->p->ec.home, m->node};
}

/* Reads and clears the accessed bits of the VALID line l's mappings;
 * whether one was set. */
static bool line_accessed(const struct exs_line *l)
{
	struct process *owner = l->owner;
	bool seen = false;

	if (owner)
		return uspace_pte(owner->us, l->va, true) & USPACE_ACCESSED;
	for (const struct ex_map *m = l->maps; m; m = m->next)
		seen |= !!(uspace_pte(m->p->us, m->va, true) & USPACE_ACCESSED);
	return seen;
}

/* ---- victims ----------------------------------------------------------- */

/* LRU and CLOCK: read and clear the accessed bits of the set's lines. */
static void sample_accessed(struct ex_set *set)
{
	for (unsigned w = 0; w < set->s.ways; w++)
		if (set->s.lines[w].state == EXS_VALID && line_accessed(&set->s.lines[w]))
			exs_accessed(&set->s, w);
}

static int pick_victim(struct ex_set *set)
{
	bool full = exs_count(&set->s, EXS_FREE) == 0;

	if (full && (ec.policy == EXCACHE_LRU || ec.policy == EXCACHE_CLOCK))
		sample_accessed(set);
	return exs_victim(&set->s, ec.policy, &set->rng);
}

/* The line leaves every page table that maps it (its owner's, or each
 * mapper's of a shared line, each with its TLB shootdown); counts a used
 * prefetch. Returns whether its page is dirty. */
static bool unmap_line(struct ex_set *set, unsigned way)
{
	struct exs_line *l = &set->s.lines[way];
	struct process *who = l->owner;
	unsigned st = 0;

	if (who) {
		st = uspace_unmap(who->us, l->va);
	} else {
		for (struct ex_map *m = l->maps; m; m = m->next)
			st |= uspace_unmap(m->p->us, m->va);
		who = ((struct ex_map *)l->maps)->p;
	}
	if (l->prefetched && (l->touched || (st & USPACE_ACCESSED)))
		COUNT(who, prefetch_hits);
	return (st & USPACE_DIRTY) || l->dirty;
}

/* Maps a line again after its write-back failed; it stays dirty. */
static void remap_dirty(struct ex_set *set, unsigned way)
{
	struct exs_line *l = &set->s.lines[way];

	l->dirty = 1;
	if (l->owner)
		map_again(l->owner, l->va, set, way, l->rights);
	for (struct ex_map *m = l->maps; m; m = m->next)
		map_again(m->p, m->va, set, way, m->rights);
}

/*
 * Empties the line at way for p's miss: unmapped (from every mapper),
 * and if dirty marked for the MEM_MISS when its node is target (the node
 * the miss goes to first; 0: no miss message, a fresh fill), else
 * written back now, once, with its owner's or a mapper's page.
 */
static int evict(struct process *p, struct ex_set *set, unsigned way, uint16_t target,
		 struct piggyback *pb)
{
	struct exs_line *l = &set->s.lines[way];
	struct piggyback wb;
	int err;

	pb->on = false;
	if (l->state != EXS_VALID)
		return 0;
	COUNT(p, evictions);
	line_wb(l, &wb);
	if (!unmap_line(set, way))
		goto forget_maps;
	if (target && wb.node == target) {
		*pb = wb;
		goto forget_maps;
	}
	err = flush_rpc(wb.node, wb.home, wb.pid, wb.va, set, way);
	if (err) {
		pr_warn("excache: write-back of pid %u page %#llx to node %u failed (%s)",
			wb.pid, (unsigned long long)wb.va, wb.node, errno_name(err));
		remap_dirty(set, way);
		return err;
	}
	COUNT(p, flushes);
forget_maps:
	maps_free(l);
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

/* p's page va is mapped with rights to the line at way already (another
 * thread's miss, or a prefetch): fine if rights allow access. */
static int already_there(struct process *p, struct ex_set *set, unsigned way, uint64_t va,
			 unsigned rights, unsigned access)
{
	if ((rights & access) != access)
		return -EACCES;
	if (!(uspace_pte(p->us, va, false) & USPACE_PRESENT))
		return uspace_map(p->us, va, line_phys(set, way), rights);
	return 0;
}

/*
 * p misses on va, a page of a shared range (t) whose line, at way, is
 * cached: p maps it too, with the range's prot (no message), and joins
 * its mappers; or, if p maps it there already, as already_there.
 */
static int join_line(struct process *p, struct ex_set *set, unsigned way, uint64_t va,
		     unsigned access, const struct tag *t)
{
	struct exs_line *l = &set->s.lines[way];
	struct ex_map *m = map_find(l, p, va, va + 1);
	unsigned rights = rights_of_prot(t->prot);
	int err;

	if (m)
		return already_there(p, set, way, va, m->rights, access);
	if (!(t->prot & PROT_ALL) || (rights & access) != access)
		return -EACCES;
	m = kzalloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	*m = (struct ex_map){l->maps, p, va, rights, node_of(p, va)};
	if ((rights & USPACE_EXEC) && !(l->rights & USPACE_EXEC)) {
		line_code_written(set, way); /* see there: first run as code */
		l->rights |= USPACE_EXEC;
	}
	err = uspace_map(p->us, va, line_phys(set, way), rights);
	if (err) {
		kfree(m);
		return err;
	}
	l->maps = m;
	COUNT(p, shared_maps);
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

/* Fills a chosen (and emptied) line with p's page va (tagged t) from
 * node (or its vRegion's owner) and maps it; a shared line gets p as its
 * first mapper. */
static int fill_line(struct process *p, struct ex_set *set, unsigned way, uint64_t va,
		     const struct tag *t, unsigned access, bool prefetch, uint16_t node,
		     const struct piggyback *pb)
{
	struct ex_map *m = NULL;
	struct mem_miss_reply rp;
	unsigned rights;
	int err;

	if (t->shared) {
		m = kzalloc(sizeof(*m));
		if (!m)
			return -ENOMEM; /* before the victim went: nothing lost */
	}
	exs_fill(&set->s, way, t->shared ? NULL : p, t->key, t->va, prefetch);
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
	if (m) {
		*m = (struct ex_map){NULL, p, va, rights, node};
		set->s.lines[way].maps = m;
	}
	if (prefetch)
		COUNT(p, prefetches);
	else
		COUNT(p, misses);
	if (!prefetch && (access & USPACE_EXEC))
		COUNT(p, code_misses);
	return 0;
release:
	kfree(m);
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
static int leave_line(struct process *p, struct ex_set *set, unsigned way, struct ex_map *m,
		      bool store);

/* A fetch of p's page va into the line at way raced an address-space
 * change: p lets go of it again (a dirty page is stored). */
static void undo_fetch(struct process *p, struct ex_set *set, unsigned way, uint64_t va)
{
	struct exs_line *l = &set->s.lines[way];
	struct ex_map *m;

	if (l->owner) {
		drop_line(p, set, way, true); /* a failed store stays mapped */
		return;
	}
	m = map_find(l, p, va, va + 1);
	if (m)
		leave_line(p, set, way, m, true);
}

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
	uint64_t seq = __atomic_load_n(&p->ec.vm_seq, __ATOMIC_SEQ_CST);
	struct ex_set *set;
	struct piggyback pb;
	struct plan pl;
	struct tag t;
	int way, err;

	tag_of(p, va, &t);
	set = set_of(t.key, t.va);
	set_lock(set);
	way = exs_find(&set->s, t.key, t.va);
	if (way >= 0 && prefetch) {
		err = -EEXIST;
		goto unlock;
	}
	if (way >= 0 && !t.shared) {
		err = already_there(p, set, (unsigned)way, va, set->s.lines[way].rights,
				    access);
		goto unlock;
	}
	if (way >= 0) {
		err = join_line(p, set, (unsigned)way, va, access, &t);
		goto check_race;
	}
	plan_miss(p, va, access, prefetch, &pl);
	pl.fresh &= !t.shared; /* never fresh: a shared page may be written */
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
		err = fill_line(p, set, (unsigned)way, va, &t, access, prefetch, pl.node,
				&pb);
check_race:
	if (!err && vm_changed(p, seq)) {
		undo_fetch(p, set, (unsigned)way, va);
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
	LINE_DROP,	 /* out of the cache, contents thrown away (a shared
			    line: left, see leave_line) */
	LINE_STORE_DROP, /* out of the cache, a dirty one written back first
			    (a shared line: left) */
	LINE_FORGET,	 /* as LINE_DROP, but a shared line left unstored
			    (exec: the address space is another already) */
	LINE_CLEAN,	 /* a dirty one written back; it stays cached, clean */
	LINE_CLEAN_SHARED, /* LINE_CLEAN for shared lines only (msync) */
	LINE_LEAVE_SHARED, /* LINE_DROP for shared lines only */
};

/* Takes the VALID private line at way out (writing it back first if
 * asked). */
static int drop_line(struct process *p, struct ex_set *set, unsigned way, bool writeback)
{
	struct exs_line *l = &set->s.lines[way];
	struct piggyback wb;
	bool dirty;
	int err;

	line_wb(l, &wb);
	dirty = unmap_line(set, way);
	if (writeback && dirty) {
		err = flush_rpc(wb.node, wb.home, wb.pid, wb.va, set, way);
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

/*
 * p's mapping m of the shared VALID line at way goes: its PTE is
 * unmapped, its dirty bit kept in the line's sticky dirty flag; with
 * store, a dirty line is written back now with p's page m->va (which
 * still maps the object on the memory node). The last mapper's
 * departure frees the line. A failed store keeps the line dirty: with
 * other mappers left they still have it (0); the last mapping is mapped
 * again and the error returned.
 */
static int leave_line(struct process *p, struct ex_set *set, unsigned way, struct ex_map *m,
		      bool store)
{
	struct exs_line *l = &set->s.lines[way];
	unsigned st = uspace_unmap(p->us, m->va);
	bool last = l->maps == m && !m->next, stored = false;
	int err;

	if (st & USPACE_DIRTY)
		l->dirty = 1;
	if (last && l->prefetched && (l->touched || (st & USPACE_ACCESSED)))
		COUNT(p, prefetch_hits);
	if (l->dirty && store) {
		err = flush_rpc(m->node, p->ec.home, p->pid, m->va, set, way);
		if (err && last) {
			map_again(p, m->va, set, way, m->rights);
			return err;
		}
		if (err)
			pr_warn("excache: pid %u: write-back of shared page %#llx failed (%s); "
				"its other mappers keep it",
				p->pid, (unsigned long long)m->va, errno_name(err));
		stored = !err;
		l->dirty = !stored;
	}
	if (stored)
		COUNT(p, flushes);
	else if (last)
		COUNT(p, drops);
	map_unlink(l, m);
	if (last)
		exs_release(&set->s, way);
	return 0;
}

/* Stores p's VALID private line at way if dirty; it stays cached and
 * mapped, now clean (a new PTE, whose dirty bit is clear). For fork. */
static int clean_line(struct process *p, struct ex_set *set, unsigned way)
{
	struct exs_line *l = &set->s.lines[way];
	unsigned st = uspace_pte(p->us, l->va, false);
	struct piggyback wb;
	int err;

	if (!(st & USPACE_DIRTY) && !l->dirty)
		return 0;
	if (st & USPACE_ACCESSED)
		exs_accessed(&set->s, way); /* the new PTE forgets it */
	line_wb(l, &wb);
	err = flush_rpc(wb.node, wb.home, wb.pid, wb.va, set, way);
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

/*
 * Stores the shared VALID line at way, which p maps (mine), if any
 * mapper's PTE or the line says dirty; every mapper keeps it, mapped
 * again clean. The PTEs go before the write-back, so that a store
 * meanwhile (by any mapper, on any CPU) faults and waits for the set
 * instead of landing unseen behind the copy and a clean PTE.
 */
static int clean_shared(struct process *p, struct ex_set *set, unsigned way,
			const struct ex_map *mine)
{
	struct exs_line *l = &set->s.lines[way];
	bool dirty = l->dirty;
	unsigned st = 0;
	int err;

	for (struct ex_map *m = l->maps; m; m = m->next)
		dirty |= !!(uspace_pte(m->p->us, m->va, false) & USPACE_DIRTY);
	if (!dirty)
		return 0;
	for (struct ex_map *m = l->maps; m; m = m->next)
		st |= uspace_unmap(m->p->us, m->va);
	if (st & USPACE_ACCESSED)
		exs_accessed(&set->s, way);
	err = flush_rpc(mine->node, p->ec.home, p->pid, mine->va, set, way);
	l->dirty = err != 0;
	if (!err)
		COUNT(p, flushes);
	for (struct ex_map *m = l->maps; m; m = m->next)
		map_again(m->p, m->va, set, way, m->rights);
	return err;
}

/* Does act to p's mappings in [start, end) of the shared VALID line at
 * way (one store for a clean, one departure per mapping else). */
static int shared_act(struct process *p, struct ex_set *set, unsigned way, uint64_t start,
		      uint64_t end, enum line_action act)
{
	struct exs_line *l = &set->s.lines[way];
	struct ex_map *m;
	int err;

	if (act == LINE_CLEAN || act == LINE_CLEAN_SHARED) {
		m = map_find(l, p, start, end);
		return m ? clean_shared(p, set, way, m) : 0;
	}
	while ((m = map_find(l, p, start, end))) { /* none once the line is FREE */
		err = leave_line(p, set, way, m, act != LINE_FORGET);
		if (err)
			return err;
	}
	return 0;
}

/* Does act to p's private line at way. */
static int private_act(struct process *p, struct ex_set *set, unsigned way,
		       enum line_action act)
{
	switch (act) {
	case LINE_CLEAN_SHARED:
	case LINE_LEAVE_SHARED:
		return 0;
	case LINE_CLEAN:
		return clean_line(p, set, way);
	case LINE_STORE_DROP:
		return drop_line(p, set, way, true);
	default:
		return drop_line(p, set, way, false);
	}
}

/* Does act to p's VALID lines in [start, end) within one set (its
 * private lines there, and the shared ones it maps there); returns the
 * first error. */
static int lines_in_set(struct process *p, struct ex_set *set, uint64_t start,
			uint64_t end, enum line_action act)
{
	int first = 0;

	set_lock(set);
	for (unsigned w = 0; w < set->s.ways; w++) {
		struct exs_line *l = &set->s.lines[w];
		int err;

		if (l->state != EXS_VALID)
			continue;
		if (!l->owner)
			err = shared_act(p, set, w, start, end, act);
		else if (l->owner == p && l->va >= start && l->va < end)
			err = private_act(p, set, w, act);
		else
			continue;
		if (err && !first)
			first = err;
	}
	set_unlock(set);
	return first;
}

/* Does act to p's lines of its page va: the private line's set, and the
 * shared line's if a shared range holds va. */
static int lines_of_page(struct process *p, uint64_t va, enum line_action act)
{
	struct tag t;
	int err = 0, err2;

	tag_of(p, va, &t);
	if (act != LINE_CLEAN_SHARED && act != LINE_LEAVE_SHARED)
		err = lines_in_set(p, set_of(p->pid, va), va, va + EXCACHE_LINE, act);
	if (!t.shared)
		return err;
	err2 = lines_in_set(p, set_of(t.key, t.va), va, va + EXCACHE_LINE, act);
	return err ? err : err2;
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
			err = lines_of_page(p, va, act);
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

/* p leaves the shared lines it maps in [start, end), found by a walk of
 * every set (its shared ranges there may be forgotten already). */
static void leave_all_shared(struct process *p, uint64_t start, uint64_t end)
{
	for (unsigned i = 0; ec.ready && i < ec.nsets; i++)
		lines_in_set(p, &ec.sets[i], start, end, LINE_LEAVE_SHARED);
}

int excache_drop_range(struct process *p, uint64_t start, uint64_t end, bool writeback)
{
	if (!ec.ready)
		return 0;
	return lines_in_range(p, start, end, writeback ? LINE_STORE_DROP : LINE_DROP);
}

void excache_drop_process(struct process *p)
{
	int err = excache_drop_range(p, 0, MEM_USER_TOP, false);

	if (err) { /* shared lines whose store failed stay: let go of them now */
		pr_warn("excache: pid %u: MAP_SHARED write-back at exit failed (%s)", p->pid,
			errno_name(err));
		lines_in_range(p, 0, MEM_USER_TOP, LINE_FORGET);
	}
}

int excache_clean_range(struct process *p, uint64_t start, uint64_t end)
{
	return ec.ready ? lines_in_range(p, start, end, LINE_CLEAN_SHARED) : 0;
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
	memcpy(ce->shared, pe->shared, sizeof(ce->shared));
	ce->nshared = pe->nshared;
	spin_unlock(&pe->lock);
	return err;
}

/* ---- exec ----------------------------------------------------------------- */

int excache_exec_prepare(struct process *p)
{
	int err = 0;

	if (ec.ready)
		err = lines_in_range(p, 0, MEM_USER_TOP, LINE_LEAVE_SHARED);
	if (ec.ready && !err)
		err = lines_in_range(p, 0, MEM_USER_TOP, LINE_CLEAN);

	if (err)
		pr_warn("excache: exec of pid %u: write-back failed (%s)", p->pid,
			errno_name(err));
	return err;
}

void excache_exec(struct process *p)
{
	struct excache_proc *ep = &p->ec;

	/* the old image's: gone (stored by excache_exec_prepare) */
	if (ec.ready)
		lines_in_range(p, 0, MEM_USER_TOP, LINE_FORGET);
	spin_lock(&ep->lock);
	memset(ep->owner_vregion, 0, sizeof(ep->owner_vregion));
	memset(ep->owner_node, 0, sizeof(ep->owner_node));
	ep->owner_next = 0;
	memset(ep->fresh, 0, sizeof(ep->fresh));
	ep->nfresh = 0;
	memset(ep->shared, 0, sizeof(ep->shared));
	ep->nshared = 0;
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
	dst->shared_maps = __atomic_load_n(&src->shared_maps, __ATOMIC_RELAXED);
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

/* The tags misses look lines up by: a private page's is (pid, va); a
 * shared range's page's is (object, offset), the same in a forked child
 * and in another process mapping the object elsewhere; exec forgets the
 * ranges; a change that does not fit is refused before anything moves. */
KTEST(excache_shared_tags_fork_and_exec)
{
	struct process *a = kzalloc(sizeof(*a)), *b = kzalloc(sizeof(*b)),
		       *c = kzalloc(sizeof(*c));
	const uint64_t pg = EXCACHE_LINE, at = 5 * MEM_VREGION_SIZE;
	const uint64_t key = excache_anon_key();
	struct excache_shared r = {0};
	struct tag t, u;

	KT_ASSERT(a && b && c);
	excache_proc_init(&a->ec, 1);
	excache_proc_init(&b->ec, 1);
	excache_proc_init(&c->ec, 1);
	a->pid = 40;
	b->pid = 41;
	c->pid = 42;
	KT_EXPECT(key & EXSH_KEY_SHARED);
	KT_EXPECT(excache_anon_key() != key);
	KT_EXPECT_EQ(excache_shared_map(a, at, at + 8 * pg, key, 2,
					MEM_PROT_READ | MEM_PROT_WRITE | 0x100),
		     0);
	tag_of(a, at + 3 * pg + 5, &t);
	KT_EXPECT(t.shared && t.key == key);
	KT_EXPECT_EQ(t.va, 5 * pg);
	KT_EXPECT_EQ(t.prot, MEM_PROT_READ | MEM_PROT_WRITE); /* PROT_* bits only */
	tag_of(a, at + 8 * pg, &t); /* past the end: private */
	KT_EXPECT(!t.shared && t.key == 40 && t.va == at + 8 * pg);
	/* the child shares: the same tags */
	KT_EXPECT_EQ(excache_fork(a, b), 0);
	tag_of(b, at + 3 * pg, &u);
	KT_EXPECT(u.shared && u.key == key && u.va == 5 * pg);
	/* another process mapping pages 4.. of the object elsewhere */
	KT_EXPECT_EQ(excache_shared_map(c, 0x10000000, 0x10000000 + 4 * pg, key, 4,
					MEM_PROT_READ),
		     0);
	tag_of(c, 0x10000000 + pg, &u);
	KT_EXPECT(u.shared && u.key == key && u.va == 5 * pg && u.prot == MEM_PROT_READ);
	/* mprotect of one page splits; munmap of another; get */
	excache_shared_protect(a, at + pg, at + 2 * pg, MEM_PROT_READ);
	KT_EXPECT_EQ(a->ec.nshared, 3);
	tag_of(a, at + pg, &t);
	KT_EXPECT(t.shared && t.prot == MEM_PROT_READ && t.va == 3 * pg);
	excache_shared_unmap(a, at, at + 2 * pg);
	KT_EXPECT_EQ(excache_shared_get(a, at, &r), -ENOENT);
	KT_EXPECT_EQ(excache_shared_get(a, at + 2 * pg, &r), 0);
	KT_EXPECT(r.start == at + 2 * pg && r.pgoff == 4 && r.key == key);
	KT_EXPECT_EQ(b->ec.nshared, 1); /* the child's own copy */
	/* full: a split is refused up front */
	for (unsigned i = 0; c->ec.nshared < EXCACHE_SHARED; i++)
		KT_EXPECT_EQ(excache_shared_map(c, 0x20000000 + 4 * i * pg,
						0x20000000 + (4 * i + 2) * pg, key, 0, 1),
			     0);
	KT_EXPECT_EQ(excache_shared_room(c, 0x20000000 + pg, 0x20000000 + 2 * pg, 0), -ENOMEM);
	KT_EXPECT_EQ(excache_shared_room(c, 0x20000000, 0x20000000 + 2 * pg, 0), 0);
	KT_EXPECT_EQ(excache_shared_map(c, 0x30000000, 0x30000000 + pg, key, 0, 1), -ENOMEM);
	/* exec forgets the ranges */
	excache_exec(b);
	KT_EXPECT_EQ(b->ec.nshared, 0);
	tag_of(b, at + 3 * pg, &u);
	KT_EXPECT(!u.shared && u.key == 41);
	kfree(a);
	kfree(b);
	kfree(c);
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
