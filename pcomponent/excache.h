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
#include "excache_shared.h"

#include <kernel/spinlock.h>
#include <proto/tessera_sys.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct process;

#define EXCACHE_OWNERS 32 /* vRegion owners remembered per process */
#define EXCACHE_FRESH  64 /* fresh ranges remembered per process */
#define EXCACHE_SHARED 64 /* MAP_SHARED mappings a process may have */

/* What the ExCache keeps per process (struct process.ec). Only the
 * functions below touch it. */
struct excache_proc {
	uint16_t home;	      /* the process's home memory node */
	struct spinlock lock; /* the three tables below; never held across an
				 RPC or a page table change */
	/* vRegion owners learnt so far: hints for routing (a miss for an
	 * unknown vRegion goes to the home, which redirects it); each line
	 * records its own node, so forgetting an owner never loses data */
	uint64_t owner_vregion[EXCACHE_OWNERS]; /* vRegion index + 1 (0: free) */
	uint16_t owner_node[EXCACHE_OWNERS];
	unsigned owner_next; /* round-robin slot to replace when full */
	struct excache_fresh fresh[EXCACHE_FRESH]; /* excache_fresh.h's set */
	unsigned nfresh;
	struct excache_shared shared[EXCACHE_SHARED]; /* excache_shared.h's set */
	unsigned nshared;
	uint64_t last_miss_vpn;		     /* prefetch's sequence detector; atomic
						(threads race on it: a hint only) */
	/* address-space changes under way and done (excache_vm_begin/end);
	 * atomics */
	uint32_t vm_busy;
	uint64_t vm_seq;
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
 * MAP_SHARED mappings (files, and MAP_SHARED|MAP_ANONYMOUS memory): the
 * processes of this processor that map one page of a shared object map
 * one ExCache line, so each sees the others' stores at once
 * (pcomponent/excache.c, top comment). The syscall layer keeps p's
 * shared ranges (excache_shared.h) in step with its mappings, after the
 * ExCache let go of the lines concerned:
 *   excache_shared_room: 0 if a change of [start, end) adding adds
 *     ranges fits p's table, else -ENOMEM (checked before anything is
 *     changed, as Linux checks vm.max_map_count);
 *   excache_shared_map: [start, end) maps object key from page pgoff
 *     with prot (after the home made the mapping); -ENOMEM if it does not
 *     fit (nothing recorded: the caller undoes the mapping);
 *   excache_shared_unmap: [start, end) is no longer shared (munmap,
 *     MAP_FIXED over it, mremap's old range), after the lines' drop;
 *   excache_shared_protect: its prot is now prot (mprotect, after the
 *     home's yes);
 *   excache_shared_get: the range holding va, copied to *out: 0, or
 *     -ENOENT if va is not in one.
 * Should a racing thread have taken the room meanwhile, unmap and
 * protect forget the ranges the change overlaps wholly (their other
 * pages become the process's private copies: not coherent any more,
 * never another object's; logged). excache_anon_key gives a new
 * MAP_SHARED|MAP_ANONYMOUS mapping its object key (unique on this
 * processor); a file's is exsh_file_key(its inode, its generation).
 *
 * A shared line is written back (to the memory node, which keeps one
 * copy of the page for every process) when a mapper that dirtied it, or
 * the last one, lets go of it (munmap, exit, exec, madvise), when it is
 * evicted, and by excache_clean_range (msync), which stores the dirty
 * shared lines p maps in [start, end) (they stay cached, clean); 0 or
 * the first write-back error (that line stays dirty).
 */
int excache_shared_room(struct process *p, uint64_t start, uint64_t end, unsigned adds);
int excache_shared_map(struct process *p, uint64_t start, uint64_t end, uint64_t key,
		       uint64_t pgoff, uint32_t prot);
void excache_shared_unmap(struct process *p, uint64_t start, uint64_t end);
void excache_shared_protect(struct process *p, uint64_t start, uint64_t end, uint32_t prot);
int excache_shared_get(struct process *p, uint64_t va, struct excache_shared *out);
uint64_t excache_anon_key(void);
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
 * ranges, shared ranges (the child maps the same objects: its misses
 * there find the parent's lines) and known owners into child->ec. Returns 0 or the first
 * write-back error (nothing is lost: a line that failed stays dirty).
 * Sleeps. The parent's other threads must not run meanwhile.
 */
int excache_fork(struct process *parent, struct process *child);

/*
 * execve, on the processor side (pcomponent/exec.c). Before MEM_EXEC:
 * excache_exec_prepare stores every dirty line of p on its memory nodes
 * (its private lines stay cached, now clean, so a failed exec loses
 * nothing and no eviction can store an old page into the new image) and
 * takes p out of every shared line's mappers (so that no other
 * process's eviction names p's (pid, va), which the new image may map
 * differently; a failed exec maps them again at its next touch);
 * returns 0 or the first write-back error. After a successful MEM_EXEC: excache_exec
 * drops every line of p without write-back (a shared line stays for its
 * other mappers) and forgets its fresh ranges, shared ranges and vRegion
 * owners (the counters stay: they are the process's). Both
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
 * tables. With writeback, dirty private lines are first stored on their
 * vRegion's owner (mprotect, mremap); without, their contents are thrown
 * away (munmap, exit, mmap MAP_FIXED, brk shrink, madvise). Shared lines
 * (MAP_SHARED) are p's to leave, never to throw away: p's mappings go, a
 * line p dirtied is stored, and one p mapped last leaves the cache.
 * Returns 0, or the first write-back error (the line whose write-back
 * failed stays cached and mapped). Sleeps.
 */
int excache_drop_range(struct process *p, uint64_t start, uint64_t end, bool writeback);
/* Every line of p, as excache_drop_range without write-back (the
 * address space is going away; a failed store of a shared line is
 * logged, and the line dropped: the process is ending). */
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
