/*
 * VMA trees (mcomponent/vma.c): the virtual memory areas of one vRegion
 * (or of any range of addresses), as an AVL tree of non-overlapping
 * [start, end) ranges keyed by start, each with its protection and flags.
 *
 * Portable code (the memory kernel and the host tests share it): it
 * allocates with kmalloc/kfree only and takes no locks; the owner (an
 * address space, mcomponent/aspace.c) serialises every call.
 *
 * Ranges are page aligned (VMA_PAGE); every call that takes a range
 * checks it (start < end, both aligned) and answers -EINVAL otherwise.
 * Neighbours that touch and have equal prot and flags (and, for file
 * VMAs, the same file at contiguous offsets) are merged by vma_insert and
 * vma_protect, so the tree holds as few VMAs as the mappings allow. Calls
 * that can fail allocate first: on -ENOMEM the tree is as it was.
 *
 * File VMAs. A VMA may name a struct vma_file (the file behind a file
 * mapping) and the file offset of its first page; the tree keeps both
 * right as VMAs are cut, split and merged, and holds one reference to the
 * file per VMA naming it (atomic: a fork shares files between the trees
 * of two address spaces, each serialised by its own owner). The last
 * reference frees the file: kfree, or its release function if it has
 * one (a shared memory object, mcomponent/shmobj.h, embeds its
 * vma_file and has its pages to write back and free).
 */
#ifndef MCOMPONENT_VMA_H
#define MCOMPONENT_VMA_H

#include <proto/file.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMA_PAGE 4096ull

/* The file behind file VMAs (the memory service's: mcomponent/memfile.c
 * reads and writes it). Everything but refs and cache is set once,
 * before the first VMA names it. */
struct vma_file {
	uint32_t refs;	      /* atomic: the VMAs naming it */
	uint32_t gen;	      /* the file's generation (struct fs_attr) */
	uint16_t cache;	      /* atomic, set once (memfile_new, or a shared
				 object's first mapper: memfile_set_cache): the
				 memory node whose buffer cache its pages go
				 through; 0 or this node: its own */
	bool exact;	      /* reads, writes must reach (ino, gen): -ESTALE */
	uint64_t ino;	      /* its inode: for /proc/PID/maps, the caches */
	struct fs_cred cred;  /* whose rights its reads and writes use */
	char path[FS_PATH_MAX]; /* absolute, NUL-terminated */
	/* Called at the last reference instead of kfree (NULL: kfree). */
	void (*release)(struct vma_file *f);
};

/* A new reference to f (not NULL); vma_file_put drops one, freeing f at
 * the last (f->release, or kfree). Both accept NULL (anonymous VMAs). */
void vma_file_get(struct vma_file *f);
void vma_file_put(struct vma_file *f);

struct vma {
	uint64_t start, end; /* [start, end), page aligned */
	uint32_t prot;	     /* MEM_PROT_* */
	uint32_t flags;	     /* the owner's (VMA_* kinds); merging needs equal flags */
	struct vma_file *file; /* NULL: anonymous; else one reference held */
	uint64_t pgoff;	       /* file: the offset of start in the file (page aligned) */
	/* Private to vma.c. */
	struct vma *left, *right;
	int height;
};

struct vma_tree {
	struct vma *root;
	size_t count; /* VMAs in the tree */
};

static inline void vma_tree_init(struct vma_tree *t)
{
	t->root = NULL;
	t->count = 0;
}

/* The VMA containing addr, or NULL. */
struct vma *vma_find(const struct vma_tree *t, uint64_t addr);
/* The lowest VMA that ends above addr (contains addr or lies above it). */
struct vma *vma_first_from(const struct vma_tree *t, uint64_t addr);
/* The highest VMA that starts below addr. */
struct vma *vma_last_below(const struct vma_tree *t, uint64_t addr);
/* Iteration in address order: vma_first_from(t, 0), then vma_next. */
struct vma *vma_next(const struct vma_tree *t, const struct vma *v);

/* True if no VMA meets [start, end). */
bool vma_range_free(const struct vma_tree *t, uint64_t start, uint64_t end);
/* True if VMAs cover every page of [start, end) (no hole). */
bool vma_range_covered(const struct vma_tree *t, uint64_t start, uint64_t end);

/*
 * Adds [start, end) with prot and flags, merged with touching neighbours
 * of equal prot and flags. Returns 0, -EINVAL (bad range), -EEXIST (it
 * meets a VMA), -ENOMEM.
 */
int vma_insert(struct vma_tree *t, uint64_t start, uint64_t end, uint32_t prot,
	       uint32_t flags);
/* vma_insert of a file VMA: file (NULL: anonymous) at offset pgoff for
 * start; the new VMA takes its own reference to file. */
int vma_insert_file(struct vma_tree *t, uint64_t start, uint64_t end, uint32_t prot,
		    uint32_t flags, struct vma_file *file, uint64_t pgoff);

/*
 * Removes every page of [start, end) from the tree (munmap: VMAs that
 * overlap it partly are cut, one that holds it strictly inside is split
 * in two; pages without a VMA are ignored). Returns 0, -EINVAL, -ENOMEM
 * (a split found no memory; nothing changed).
 */
int vma_remove(struct vma_tree *t, uint64_t start, uint64_t end);

/*
 * Sets prot on every page of [start, end) (mprotect), splitting VMAs at
 * the ends and merging equal neighbours afterwards. Returns 0, -EINVAL,
 * -ENOMEM (a page of the range has no VMA, as mprotect(2) says, or no
 * memory for a split; nothing changed either way).
 */
int vma_protect(struct vma_tree *t, uint64_t start, uint64_t end, uint32_t prot);

/*
 * The highest address a such that [a, a + len) lies inside [low, high)
 * and meets no VMA (top-down placement, as mmap's). Returns 0 and sets
 * *out, -EINVAL (len 0 or not page aligned, low/high not aligned),
 * -ENOMEM (no such gap).
 */
int vma_find_gap(const struct vma_tree *t, uint64_t len, uint64_t low, uint64_t high,
		 uint64_t *out);
/*
 * The search behind vma_find_gap, over any set of VMAs (aspace_find_gap
 * runs it over every vRegion's tree): last_below(ctx, addr) returns the
 * highest VMA starting below addr, or NULL. len, low and high as above,
 * already checked by the caller. Returns 0 and sets *out, or -ENOMEM.
 */
typedef const struct vma *(*vma_last_below_fn)(const void *ctx, uint64_t addr);
int vma_gap_search(uint64_t len, uint64_t low, uint64_t high, vma_last_below_fn last_below,
		   const void *ctx, uint64_t *out);

/* Frees every VMA; the tree is empty afterwards. */
void vma_tree_clear(struct vma_tree *t);

/* Checks the AVL and range invariants (host tests): 0 or -EINVAL. */
int vma_tree_check(const struct vma_tree *t);

#endif
