/*
 * The ExCache (pcomponent/excache.c): the processor's cache of user
 * pages in its fabric window, and the only memory user page tables ever
 * map (DESIGN.md section 5, include/proto/mem.h). A page fault on a user
 * address is a miss, answered by the process's home memory node, which
 * RDMA-writes the page into a line. Set logic: pcomponent/excache_set.h.
 */
#ifndef PCOMPONENT_EXCACHE_H
#define PCOMPONENT_EXCACHE_H

#include <proto/tessera_sys.h>
#include <stdbool.h>
#include <stdint.h>

struct process;

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
 * page's set (evicting, and writing back if dirty, a victim), asks p's
 * home node for the page and maps the line with the rights the reply
 * allows. Returns 0 once mapped, -EFAULT (no VMA, or addr outside user
 * space), -EACCES (the VMA forbids access), -ENODEV (no cache), or an RPC
 * error. Sleeps; thread context, no spinlock held.
 */
int excache_fault(struct process *p, uint64_t addr, unsigned access);

/*
 * Takes the lines of p in [start, end) out of the cache and its page
 * tables. With writeback, dirty lines are first stored on p's home node
 * (mprotect); without, their contents are thrown away (munmap, exit,
 * mmap MAP_FIXED, brk shrink). Returns 0, or the first write-back error
 * (the line whose write-back failed stays cached and mapped). Sleeps.
 */
int excache_drop_range(struct process *p, uint64_t start, uint64_t end, bool writeback);
/* Every line of p, without write-back (the address space is going away). */
void excache_drop_process(struct process *p);

/* Geometry and counters (p may be NULL: process fields zero). */
void excache_get_stats(const struct process *p, struct tessera_excache_stats *st);

#endif
