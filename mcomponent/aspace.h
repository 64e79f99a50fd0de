/*
 * Address spaces of a memory node (mcomponent/aspace.c): the user
 * address space of one process, cut into vRegions of MEM_VREGION_SIZE
 * (1 GiB, DESIGN.md section 5), each with its own VMA tree
 * (mcomponent/vma.h) and its own page map (page -> frame of this node's
 * pool, mcomponent/frames.h) of the pages ever written.
 *
 * vRegions. A VMA never crosses a vRegion boundary: a mapping that does
 * is kept as one piece per vRegion, and every range operation below
 * works vRegion by vRegion. Each vRegion has an owner, the memory node
 * holding its pages (include/proto/mem.h): at a process's home the
 * address space has every vRegion of the process, with its VMAs, but
 * pages only in the vRegions it owns (owner == as->self); an owner keeps
 * a "remote" address space for the home with just the vRegions placed
 * on it (all owned by itself). The vRegions of a process are found
 * through a two-level directory (512 x 256 slots for the 131072 vRegions
 * of 128 TiB), filled on demand. A home space (keep_vregions) keeps a
 * vRegion, and so its owner, until it is destroyed, since processors
 * cache owners for the life of the process; a remote space frees a
 * vRegion when its last VMA and page go.
 *
 * Copy-on-write. aspace_clone (fork) shares every frame of the parent
 * with the child, taking a reference per page (mcomponent/frames.h).
 * Pages are only ever stored whole (a flush or a victim: aspace_set_page
 * with a fresh frame), so a shared frame is never written: the store
 * drops the space's reference to the old frame and the other holder
 * keeps it. Exec writes frames in place (copy_to_pages), but only on the
 * new, unshared space it builds.
 *
 * Page maps. Per vRegion a two-level table of 512 x 512 entries holding
 * frame + 1 (0: the page was never written, it reads as zeros, or, in a
 * file VMA, as its file says); leaves are allocated at a vRegion's first
 * page. A MAP_SHARED VMA (VMA_SHARED) has no pages here: they are its
 * shared memory object's (mcomponent/shmobj.h), which its vma_file is,
 * so fork shares the object, not frames.
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

/* VMA flags (struct vma.flags): what a VMA is, for merging, logs and
 * MEM_MAPS (so the protocol's kinds). */
#define VMA_IMAGE MEM_MAP_IMAGE /* an ELF segment */
#define VMA_HEAP  MEM_MAP_HEAP	/* brk */
#define VMA_STACK MEM_MAP_STACK
#define VMA_ANON  MEM_MAP_ANON /* mmap */
#define VMA_FILE  MEM_MAP_FILE /* file mmap (vma.file set), private or ... */
/* ... MAP_SHARED (with VMA_FILE or VMA_ANON): vma.file is a shared
 * memory object's (shmobj.h), which holds the pages */
#define VMA_SHARED MEM_MAP_SHARED

/* The end of the piece of [at, end) inside at's vRegion: range
 * operations walk a range piece by piece. */
static inline uint64_t aspace_piece_end(uint64_t at, uint64_t end)
{
	uint64_t vr_end = ((at >> VREGION_SHIFT) + 1) << VREGION_SHIFT;

	return end < vr_end ? end : vr_end;
}

struct vregion {
	uint64_t base;	/* first address */
	uint16_t owner; /* the memory node holding its pages; fixed */
	struct vma_tree vmas;
	uint32_t *pmap[PMAP_FANOUT]; /* leaves of PMAP_FANOUT entries: frame + 1 */
	uint64_t npages;	     /* entries set */
};

struct aspace {
	struct frame_pool *fp;
	uint16_t self;	    /* this node: the owner of vRegions made by a map */
	bool keep_vregions; /* a home space: vRegions stay until destroy */
	uint64_t frames;    /* pages with a frame (shared frames count here too) */
	uint64_t nvmas;	    /* VMAs over every vRegion */
	uint64_t nvregions; /* vRegions in the directory */
	uint64_t brk_start, brk; /* the heap: [brk_start, page_up(brk)) */
	/* The memory nodes of the process's vNode (MEM_EXEC's memory[]):
	 * where its later vRegions may go. 0 entries: only this node. */
	uint32_t nmemory;
	uint16_t memory[MEM_MAX_NODES];
	struct vregion **dir[VREGION_DIR1];
};

/* An empty address space (no VMA) on pool fp of node self; NULL if out
 * of memory. keep_vregions false. */
struct aspace *aspace_create(struct frame_pool *fp, uint16_t self);
/* Drops every frame reference, VMA and vRegion; returns the pages that
 * had a frame (the frames freed, but for frames still shared). */
uint64_t aspace_destroy(struct aspace *as);
/*
 * fork: a new address space with as's vRegions (owners kept), VMAs, break,
 * memory nodes and pages, every frame shared (one more reference per
 * page). NULL if out of memory (nothing taken).
 */
struct aspace *aspace_clone(struct aspace *as);

/* The vRegion holding addr, or NULL if it has none. */
struct vregion *aspace_vregion(struct aspace *as, uint64_t addr);
/* Makes the (empty) vRegion holding addr with owner. Returns 0, -EEXIST
 * (it exists: its owner is fixed), -ENOMEM. */
int aspace_add_vregion(struct aspace *as, uint64_t addr, uint16_t owner);
/* The distinct owners other than as->self of as's vRegions, at most max
 * of them into out; returns how many. */
unsigned aspace_remote_owners(struct aspace *as, uint16_t *out, unsigned max);
/* True if va's vRegion exists and this node owns it (holds its pages). */
bool aspace_local(struct aspace *as, uint64_t va);

/* The VMA holding addr, or NULL. */
struct vma *aspace_find_vma(struct aspace *as, uint64_t addr);
/* The first VMA of as, in address order, that ends above addr; NULL if
 * none. */
struct vma *aspace_vma_from(struct aspace *as, uint64_t addr);
/* True if no VMA meets [start, end) / every page of it has one. */
bool aspace_range_free(struct aspace *as, uint64_t start, uint64_t end);
bool aspace_range_covered(struct aspace *as, uint64_t start, uint64_t end);

/*
 * Adds the VMA [start, end) (page aligned, inside user space). Returns 0,
 * -EEXIST (it meets a VMA), -ENOMEM (nothing added).
 */
int aspace_map(struct aspace *as, uint64_t start, uint64_t end, uint32_t prot,
	       uint32_t flags);
/* aspace_map of a file mapping: file (a reference per VMA taken) at
 * offset pgoff for start (vma.h). */
int aspace_map_file(struct aspace *as, uint64_t start, uint64_t end, uint32_t prot,
		    uint32_t flags, struct vma_file *file, uint64_t pgoff);
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
/* The pages with a frame in [start, end) (tests and logs). */
uint64_t aspace_count_pages(struct aspace *as, uint64_t start, uint64_t end);
/* Makes f (a frame the caller holds one reference to, and gives) the
 * frame of va's page (a store, or a private file page read), dropping
 * the reference to the one it had. va must lie in a local vRegion.
 * Returns 0, 1 (the old frame was shared: a copy-on-write break) or
 * -ENOMEM (f not taken: the caller still owns it). */
int aspace_set_page(struct aspace *as, uint64_t va, uint32_t f);
/* Drops the frames of [start, end) (madvise MADV_DONTNEED), VMAs kept. */
void aspace_discard(struct aspace *as, uint64_t start, uint64_t end);
/* mremap: moves the pages of [from, from + len) to [to, to + len) (its
 * vRegions local, with VMAs, and no page yet); frames move, nothing is
 * copied. 0 or -ENOMEM (no page-map memory: pages before it moved). */
int aspace_move_pages(struct aspace *as, uint64_t from, uint64_t to, uint64_t len);

#endif
