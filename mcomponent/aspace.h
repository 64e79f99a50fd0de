/*
 * Address spaces of a memory node (mcomponent/aspace.c): the user
 * address space of one process, cut into vRegions of MEM_VREGION_SIZE
 * (1 GiB, DESIGN.md section 5), each with its own VMA tree
 * (mcomponent/vma.h) and its own page map (page -> frame of this node's
 * pool, mcomponent/frames.h) of the pages ever written.
 *
 * vRegions. Every vRegion of a process lives on its home node today; the
 * structure is what a later step distributes (GMM assigning vRegions to
 * memory nodes, the home forwarding VMA operations), so a VMA never
 * crosses a vRegion boundary: a mapping that does is kept as one piece
 * per vRegion, and every range operation below works vRegion by vRegion.
 * The vRegions of a process are found through a two-level directory
 * (512 x 256 slots for the 131072 vRegions of 128 TiB), filled on demand.
 *
 * Page maps. Per vRegion a two-level table of 512 x 512 entries holding
 * frame + 1 (0: the page was never written, it reads as zeros); leaves
 * are allocated at a vRegion's first page.
 *
 * Not thread-safe: the owner (the memory service, mcomponent/memserv.c)
 * serialises every call on one address space.
 */
#ifndef MCOMPONENT_ASPACE_H
#define MCOMPONENT_ASPACE_H

#include "frames.h"
#include "vma.h"

#include <proto/mem.h>
#include <stdbool.h>
#include <stdint.h>

#define VREGION_SHIFT 30
#define VREGION_COUNT (MEM_USER_TOP >> VREGION_SHIFT) /* 131072 */
#define VREGION_DIR1  512
#define VREGION_DIR2  (VREGION_COUNT / VREGION_DIR1)
#define PMAP_FANOUT   512

/* VMA flags (struct vma.flags): what a VMA is, for merging and logs. */
#define VMA_IMAGE 0x1 /* an ELF segment */
#define VMA_HEAP  0x2 /* brk */
#define VMA_STACK 0x4
#define VMA_ANON  0x8 /* mmap */

struct vregion {
	uint64_t base;	     /* first address */
	uint16_t owner;	     /* the memory node holding it (this one for now) */
	struct vma_tree vmas;
	uint32_t *pmap[PMAP_FANOUT]; /* leaves of PMAP_FANOUT entries: frame + 1 */
	uint64_t npages;	     /* entries set */
};

struct aspace {
	struct frame_pool *fp;
	uint16_t home;	 /* this node */
	uint64_t frames; /* frames held by the pages */
	uint64_t nvmas;	 /* VMAs over every vRegion */
	uint64_t brk_start, brk; /* the heap: [brk_start, page_up(brk)) */
	struct vregion **dir[VREGION_DIR1];
};

/* An empty address space (no VMA) on pool fp, home node home; NULL if out
 * of memory. */
struct aspace *aspace_create(struct frame_pool *fp, uint16_t home);
/* Frees every frame, VMA and vRegion; returns the frames freed. */
uint64_t aspace_destroy(struct aspace *as);

/* The VMA holding addr, or NULL. */
struct vma *aspace_find_vma(struct aspace *as, uint64_t addr);
/* True if no VMA meets [start, end) / every page of it has one. */
bool aspace_range_free(struct aspace *as, uint64_t start, uint64_t end);
bool aspace_range_covered(struct aspace *as, uint64_t start, uint64_t end);

/*
 * Adds the VMA [start, end) (page aligned, inside user space). Returns 0,
 * -EEXIST (it meets a VMA), -ENOMEM (nothing added).
 */
int aspace_map(struct aspace *as, uint64_t start, uint64_t end, uint32_t prot,
	       uint32_t flags);
/* munmap: drops the VMAs and frees the frames of [start, end). Returns 0 or
 * -ENOMEM (a split found no memory: some vRegions may be done). */
int aspace_unmap(struct aspace *as, uint64_t start, uint64_t end);
/* mprotect: -ENOMEM if a page of the range has no VMA (nothing changed). */
int aspace_protect(struct aspace *as, uint64_t start, uint64_t end, uint32_t prot);
/* The highest free [a, a + len) inside [low, high): 0 and *out, or -ENOMEM. */
int aspace_find_gap(struct aspace *as, uint64_t len, uint64_t low, uint64_t high,
		    uint64_t *out);

/* Frame of the page holding va, or FRAME_NONE. */
uint32_t aspace_page(struct aspace *as, uint64_t va);
/* Makes f the frame of va's page, freeing the one it had. va must lie in
 * a VMA. Returns 0 or -ENOMEM (f not taken: the caller still owns it). */
int aspace_set_page(struct aspace *as, uint64_t va, uint32_t f);

#endif
