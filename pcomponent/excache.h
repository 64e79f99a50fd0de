/*
 * The ExCache (pcomponent/excache.c): the processor's cache of user
 * pages in its fabric window, and the only memory user page tables ever
 * map (DESIGN.md section 5, include/proto/mem.h). A page fault on a user
 * address is a miss, answered by the memory node owning the page's
 * vRegion (learnt from the process's home), which RDMA-writes the page
 * into a line; a miss in a fresh range is zero-filled here with no
 * message. Set logic: pcomponent/excache_set.h; fresh ranges:
 * pcomponent/excache_fresh.h.
 */
#ifndef PCOMPONENT_EXCACHE_H
#define PCOMPONENT_EXCACHE_H

#include "excache_fresh.h"

#include <kernel/spinlock.h>
#include <proto/tessera_sys.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct process;

#define EXCACHE_OWNERS 32 /* vRegion owners remembered per process */
#define EXCACHE_FRESH  64 /* fresh ranges remembered per process */

/* What the ExCache keeps per process (struct process.ec). Only the
 * functions below touch it. */
struct excache_proc {
	uint16_t home;	      /* the process's home memory node */
	struct spinlock lock; /* the two tables below; never held across an
				 RPC or a page table change */
	/* vRegion owners learnt so far: hints for routing (a miss for an
	 * unknown vRegion goes to the home, which redirects it); each line
	 * records its own node, so forgetting an owner never loses data */
	uint64_t owner_vregion[EXCACHE_OWNERS]; /* vRegion index + 1 (0: free) */
	uint16_t owner_node[EXCACHE_OWNERS];
	unsigned owner_next; /* round-robin slot to replace when full */
	struct excache_fresh fresh[EXCACHE_FRESH]; /* excache_fresh.h's set */
	unsigned nfresh;
	uint64_t last_miss_vpn;		     /* prefetch's sequence detector; atomic
						(threads race on it: a hint only) */
	/* address-space changes under way and done (excache_vm_begin/end);
	 * atomics */
	uint32_t vm_busy;
	uint64_t vm_seq;
	bool has_shared; /* atomic: a MAP_SHARED file mapping was made */
	struct tessera_excache_counters ctr; /* atomics */
};

/* Sets ep up for a process whose home is home (nothing cached, no fresh
 * range). */
void excache_proc_init(struct excache_proc *ep, uint16_t home);

/*
 * Fresh ranges. After a successful anonymous mmap (or a brk that grew
 * the heap) the syscall layer calls excache_fresh_add with the range and
 * its prot; a later miss there is zero-filled here with no message
 * (once its vRegion's owner is known; the page then leaves the set; a
 * page the process writes has a dirty PTE, so eviction stores it; one
 * only read is dropped clean: it is still zero on the memory node;
 * prefetch skips fresh pages). Before any
 * change of [start, end) on the memory side (munmap, MAP_FIXED over it,
 * mprotect, brk shrink) it calls excache_fresh_remove. Forgetting a
 * range is always safe (a miss then asks the memory node); a full table
 * forgets the smallest range.
 */
void excache_fresh_add(struct process *p, uint64_t start, uint64_t end, uint32_t prot);
void excache_fresh_remove(struct process *p, uint64_t start, uint64_t end);

/*
 * MAP_SHARED file mappings. Their stores must reach the memory node (which
 * writes them to the file) before the mapping goes, where anonymous lines
 * are simply dropped. Once p made one (excache_shared_add, after the
 * home's yes) excache_has_shared is true for p (and for its forks, until
 * an exec): munmap, MAP_FIXED, madvise and exit (excache_drop_process)
 * then write dirty lines back before dropping them. excache_clean_range
 * (msync) stores p's dirty lines of [start, end), which stay cached,
 * clean; 0 or the first write-back error (that line stays dirty).
 */
void excache_shared_add(struct process *p);
bool excache_has_shared(struct process *p);
int excache_clean_range(struct process *p, uint64_t start, uint64_t end);

/*
 * An address-space change of p (munmap, mprotect, mmap MAP_FIXED, brk
 * shrink) brackets its drop of lines and its call to the home with
 * excache_vm_begin and excache_vm_end. A miss by another thread of p
 * that overlaps the bracket (its page could have been fetched between
 * the drop and the home's change, so with the old mapping) drops what
 * it fetched (writing it back if dirty) and is retried: a demand miss
 * retries the access once the change is done, a prefetch is abandoned.
 */
void excache_vm_begin(struct process *p);
void excache_vm_end(struct process *p);

/*
 * fork, on the processor side: stores every dirty line of parent on its
 * memory nodes (the lines stay cached, now clean), so that MEM_FORK then
 * gives the child the parent's memory as it is; copies parent's fresh
 * ranges and known owners into child->ec. Returns 0 or the first
 * write-back error (nothing is lost: a line that failed stays dirty).
 * Sleeps. The parent's other threads must not run meanwhile.
 */
int excache_fork(struct process *parent, struct process *child);

/*
 * execve, on the processor side (pcomponent/exec.c). Before MEM_EXEC:
 * excache_exec_prepare stores every dirty line of p on its memory nodes
 * (the lines stay cached, now clean, so a failed exec loses nothing and
 * no eviction can store an old page into the new image); returns 0 or
 * the first write-back error. After a successful MEM_EXEC: excache_exec
 * drops every line of p without write-back and forgets its fresh ranges
 * and vRegion owners (the counters stay: they are the process's). Both
 * sleep; p's other threads must not run meanwhile.
 */
int excache_exec_prepare(struct process *p);
void excache_exec(struct process *p);
/*
 * After MEM_EXEC (and excache_exec): [start, end) with prot is a fresh
 * range of the new image, as the reply said (struct mem_fresh_range:
 * bss, the stack below its initial pages), and the home owns its
 * vRegion, so its misses are zero-filled here with no message.
 */
void excache_exec_fresh(struct process *p, uint64_t start, uint64_t end, uint32_t prot);

/*
 * Sets the cache up from kconfig (excache=): one window buffer of the
 * whole size, registered once for remote read and write, and the set
 * metadata. Returns 0, -ENODEV (no excache= word, or no fabric device),
 * -ENOMEM (window or kernel memory short), or the verbs error. Call once,
 * after status_start(), in thread context.
 */
int excache_init(void);
/* True once excache_init() succeeded. */
bool excache_ready(void);

/*
 * A miss: the user page holding addr of p (the calling thread's process)
 * is wanted for access (USPACE_READ, WRITE or EXEC). Takes a line of the
 * page's set (evicting, and writing back if dirty, a victim); in a fresh
 * range whose owner is known, zeroes it; else asks the owner of the
 * page's vRegion (the home if not known yet: a MEM_MISS_ELSEWHERE reply
 * names the owner, which is asked next). Maps the line with the rights
 * the reply (or the fresh range) allows. Returns 0 once mapped, -EFAULT
 * (no VMA, or addr outside user space), -EACCES (the VMA forbids
 * access), -ENODEV (no cache), -EPROTO (a redirect to a node that is not
 * one of kconfig's memory= nodes, or a malformed reply), or an RPC
 * error. Sleeps; thread context, no spinlock held.
 */
int excache_fault(struct process *p, uint64_t addr, unsigned access);

/*
 * Takes the lines of p in [start, end) out of the cache and its page
 * tables. With writeback, dirty lines are first stored on their
 * vRegion's owner (mprotect); without, their contents are thrown away (munmap, exit,
 * mmap MAP_FIXED, brk shrink). Returns 0, or the first write-back error
 * (the line whose write-back failed stays cached and mapped). Sleeps.
 */
int excache_drop_range(struct process *p, uint64_t start, uint64_t end, bool writeback);
/* Every line of p, without write-back (the address space is going away),
 * except that with excache_has_shared dirty lines are stored first (a
 * failure is logged: the process is ending). */
void excache_drop_process(struct process *p);

/* Geometry and counters (p may be NULL: process fields zero). */
void excache_get_stats(const struct process *p, struct tessera_excache_stats *st);

/*
 * The status page's live line (kernel/status.h, status_set_line_fn; set
 * by excache_init): "ec KIB WAYS POLICY" then EXCACHE_STATUS_FIELDS node
 * figures, space separated: lines valid, misses, fresh_fills, zero_fills,
 * evictions, flushes, piggybacks, prefetches, prefetch_hits, redirects,
 * drops. A figure is exact below 100000, else its leading digits and k,
 * M, G, T or P (x1000 each; rounded down), so the line stays under 90
 * bytes. tools/tessera/status.c parses it. Empty without a cache.
 */
#define EXCACHE_STATUS_FIELDS 11
void excache_status_line(char *buf, size_t cap);

#endif
