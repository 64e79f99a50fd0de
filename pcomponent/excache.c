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
 *   3. choose the line: a FREE one first, else the policy's victim
 *      (pcomponent/excache_set.c); LRU and CLOCK first sample and clear
 *      the accessed bits of the set's lines (uspace_pte);
 *   4. unmap the victim; if its PTE was dirty, write it back: inside the
 *      MEM_MISS (MEM_MISS_VICTIM) when the victim's home is the node the
 *      miss goes to, else by a MEM_FLUSH to its home first;
 *   5. MEM_MISS to the process's home: the page arrives in the line by
 *      RDMA before the reply, or the reply says MEM_MISS_ZERO and the
 *      line is zeroed here;
 *   6. map the line with the reply's prot (write only with PROT_WRITE,
 *      execute only with PROT_EXEC) and unlock.
 * Misses in different sets run at once (2 CPUs, several processes).
 *
 * Failures never lose a dirty page silently: a failed MEM_FLUSH maps the
 * victim again (with the line's sticky dirty flag set, since the fresh
 * PTE is clean) and the miss fails; a failed MEM_MISS that carried a
 * victim writes the victim back with a MEM_FLUSH (idempotent) before the
 * line is freed, and logs if even that fails.
 *
 * Prefetch (sequential, a LegoOS stub made real): when a process misses
 * on page p right after a miss on p - 1, page p + 1 is fetched too (into
 * its own set, after p's set is unlocked: one set lock at a time, so
 * there is no lock order). A prefetched line is mapped at once, so using
 * it causes no fault; whether it was used is read from its accessed bit
 * when it leaves the cache (prefetch_hits). On (EXCACHE_PREFETCH):
 * tested on a cluster with memtest, pattern and mmaptest (docs/processor.md
 * has the figures).
 *
 * Counters: per process (its misses and prefetches, the evictions and
 * write-backs they caused) and per node, bumped atomically.
 */
#include "excache.h"

#include "excache_set.h"
#include "process.h"

#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/status.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <kernel/wait.h>
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
};

#define COUNT(p, field)                                                                  \
	do {                                                                             \
		__atomic_fetch_add(&ec.total.field, 1, __ATOMIC_RELAXED);                \
		if (p)                                                                   \
			__atomic_fetch_add(&(p)->ec.ctr.field, 1, __ATOMIC_RELAXED);        \
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

/* ---- RPCs -------------------------------------------------------------- */

/* MEM_FLUSH to home of pid's page va, which line (set, way) holds. */
static int flush_rpc(uint16_t home, uint32_t pid, uint64_t va, struct ex_set *set,
		     unsigned way)
{
	struct mem_flush_req rq = {
		.pid = pid,
		.line_key = ec.mr.key,
		.va = va,
		.line_offset = line_offset(set, way),
	};
	struct mem_value rp;
	struct rpc_node *rn = status_rpc();

	if (!rn)
		return -EHOSTUNREACH;
	return rpc_call(rn, home, MSG_MEM_FLUSH, &rq, sizeof(rq), &rp, sizeof(rp),
			EXCACHE_RPC_NS);
}

/* MEM_MISS of p's page va into line (set, way), with the victim if any. */
static int miss_rpc(struct process *p, struct ex_set *set, unsigned way, uint64_t va,
		    unsigned access, const struct piggyback *pb,
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
	};
	struct rpc_node *rn = status_rpc();

	if (!rn)
		return -EHOSTUNREACH;
	return rpc_call(rn, p->home, MSG_MEM_MISS, &rq, sizeof(rq), rp, sizeof(*rp),
			EXCACHE_RPC_NS);
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
 * Empties the line at way for p's miss: unmapped, and if dirty written
 * back now (another home) or marked for the MEM_MISS (the same home).
 */
static int evict(struct process *p, struct ex_set *set, unsigned way,
		 struct piggyback *pb)
{
	struct exs_line *l = &set->s.lines[way];
	struct process *owner = l->owner;
	int err;

	pb->on = false;
	if (l->state != EXS_VALID)
		return 0;
	COUNT(p, evictions);
	if (!unmap_line(set, way))
		return 0;
	if (owner->home == p->home) {
		*pb = (struct piggyback){true, owner->pid, l->va};
		return 0;
	}
	err = flush_rpc(owner->home, owner->pid, l->va, set, way);
	if (err) {
		pr_warn("excache: write-back of pid %u page %#llx failed (%s)",
			owner->pid, (unsigned long long)l->va, errno_name(err));
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
	int err = flush_rpc(p->home, pb->pid, pb->va, set, way);

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

/* Fills a chosen (and emptied) line with p's page va and maps it. */
static int fill_line(struct process *p, struct ex_set *set, unsigned way, uint64_t va,
		     unsigned access, bool prefetch, const struct piggyback *pb)
{
	struct mem_miss_reply rp;
	unsigned rights;
	int err;

	exs_fill(&set->s, way, p, p->pid, va, prefetch);
	err = miss_rpc(p, set, way, va, access, pb, &rp);
	if (err) {
		if (pb->on)
			rescue_victim(p, set, way, pb);
		goto release;
	}
	if (pb->on)
		COUNT(p, piggybacks);
	if (rp.flags & MEM_MISS_ZERO) {
		memset(line_kva(set, way), 0, EXCACHE_LINE);
		COUNT(p, zero_fills);
	}
	rights = rights_of_prot(rp.prot);
	err = uspace_map(p->us, va, line_phys(set, way), rights);
	if (err)
		goto release;
	exs_validate(&set->s, way, rights);
	if (prefetch)
		COUNT(p, prefetches);
	else
		COUNT(p, misses);
	return 0;
release:
	exs_release(&set->s, way);
	return err;
}

/* Brings p's page va into the cache (prefetch: ahead of use). */
static int fetch(struct process *p, uint64_t va, unsigned access, bool prefetch)
{
	struct ex_set *set = set_of(p->pid, va);
	struct piggyback pb;
	int way, err;

	set_lock(set);
	way = exs_find(&set->s, p->pid, va);
	if (way >= 0) {
		err = already_there(p, set, (unsigned)way, access, prefetch);
		goto unlock;
	}
	way = pick_victim(set);
	if (way < 0) { /* every line BUSY: cannot happen under the set lock */
		err = -EAGAIN;
		goto unlock;
	}
	err = evict(p, set, (unsigned)way, &pb);
	if (!err)
		err = fill_line(p, set, (unsigned)way, va, access, prefetch, &pb);
unlock:
	set_unlock(set);
	return err;
}

/* Sequential prefetch after a successful miss on va. */
static void maybe_prefetch(struct process *p, uint64_t va)
{
	uint64_t vpn = va / EXCACHE_LINE;
	bool sequential = p->ec.last_miss_vpn + 1 == vpn;

	p->ec.last_miss_vpn = vpn;
	if (!ec.prefetch || !sequential || va + EXCACHE_LINE >= MEM_USER_TOP)
		return;
	/* errors (no VMA there, no read right) just mean no prefetch */
	if (fetch(p, va + EXCACHE_LINE, USPACE_READ, true) == 0)
		p->ec.last_miss_vpn = vpn + 1; /* a miss on p + 2 is sequential too */
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
	if (!err)
		maybe_prefetch(p, va);
	return err;
}

/* ---- dropping lines ------------------------------------------------------- */

/* Takes the VALID line at way out (writing it back first if asked). */
static int drop_line(struct process *p, struct ex_set *set, unsigned way, bool writeback)
{
	struct exs_line *l = &set->s.lines[way];
	bool dirty;
	int err;

	if (l->state != EXS_VALID)
		return 0;
	dirty = unmap_line(set, way);
	if (writeback && dirty) {
		err = flush_rpc(p->home, p->pid, l->va, set, way);
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

/* Lines of p in [start, end) within one set. */
static int drop_in_set(struct process *p, struct ex_set *set, uint64_t start,
		       uint64_t end, bool writeback)
{
	int first = 0;

	set_lock(set);
	for (unsigned w = 0; w < set->s.ways; w++) {
		struct exs_line *l = &set->s.lines[w];
		int err;

		if (l->owner != p || l->va < start || l->va >= end)
			continue;
		err = drop_line(p, set, w, writeback);
		if (err && !first)
			first = err;
	}
	set_unlock(set);
	return first;
}

int excache_drop_range(struct process *p, uint64_t start, uint64_t end, bool writeback)
{
	uint64_t pages;
	int err, first = 0;

	if (!ec.ready)
		return 0;
	start &= ~EXCACHE_PAGE_MASK;
	end = end > MEM_USER_TOP - EXCACHE_LINE
		      ? MEM_USER_TOP
		      : (end + EXCACHE_PAGE_MASK) & ~EXCACHE_PAGE_MASK;
	if (start >= end)
		return 0;
	pages = (end - start) / EXCACHE_LINE;
	if (pages <= ec.nsets) { /* visit only the sets the range maps to */
		for (uint64_t va = start; va < end; va += EXCACHE_LINE) {
			err = drop_in_set(p, set_of(p->pid, va), va, va + EXCACHE_LINE,
					  writeback);
			if (err && !first)
				first = err;
		}
		return first;
	}
	for (unsigned i = 0; i < ec.nsets; i++) {
		err = drop_in_set(p, &ec.sets[i], start, end, writeback);
		if (err && !first)
			first = err;
	}
	return first;
}

void excache_drop_process(struct process *p)
{
	excache_drop_range(p, 0, MEM_USER_TOP, false);
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

void excache_proc_init(struct excache_proc *ep, uint16_t home)
{
	memset(ep, 0, sizeof(*ep));
	ep->home = home;
	ep->lock = (struct spinlock)SPINLOCK_INIT("excache-proc");
	ep->last_miss_vpn = ~0ull;
}
