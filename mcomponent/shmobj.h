/*
 * Shared memory objects of a memory node (mcomponent/shmobj.c): the one
 * copy of each page of a MAP_SHARED mapping, whatever process maps it.
 *
 * Why. A private mapping's pages live in its address space's page map
 * (aspace.h), one frame per process, copied on write after a fork. A
 * MAP_SHARED mapping must instead show every process that maps it the
 * same bytes: the object holds its pages, indexed by page offset, and
 * each MAP_SHARED VMA names the object (its vma_file is the object's,
 * so vma.c's reference counting, splitting, merging and fork sharing
 * carry it) at an offset (the VMA's pgoff). A store by any process
 * (pid, va) into such a VMA (MEM_FLUSH, a MEM_MISS victim) replaces the
 * object's page; a miss of any other process on that page then gets
 * those bytes. Nothing on the wire changes: requests name (pid, va), and
 * the memory service resolves (pid, va) -> VMA -> object page.
 *
 * Kinds. An anonymous object (MAP_SHARED | MAP_ANONYMOUS) has a size
 * (the mapping's length, as Linux's shmem file: pages at or past it are
 * -ENXIO, a bus error) and no file: a page never stored reads as zeros
 * (FRAME_NONE) and takes a frame at its first store. A file object
 * (MAP_SHARED of a file) is found by its file's identity, (inode,
 * generation), in the node's table (two processes mapping one file on
 * this node share one object; a new file that got the inode number of
 * an unlinked one another object gets another); a page is
 * read once from the file (memfile_fill, through the buffer cache) at
 * its first miss, marked dirty by each store and written back
 * (memfile_write) by shm_sync: msync, munmap, exit and exec call it
 * through memfile_sync, and the last reference calls it before the
 * frames go. Reads and write-backs name the file by (inode, generation)
 * (memfile.c): once it is unlinked (the storage node answers -ESTALE),
 * the object is gone from its file: it keeps its pages for the processes
 * that map it, as Linux keeps an unlinked inode's, but writes nothing
 * back any more (the data has no file to go to) and is out of the
 * table, so a later mapping of the path or number gets a new object.
 *
 * Lifetime. One reference per VMA naming the object (struct vma_file's
 * refs, atomic), plus the creator's until it put it. At the last one
 * (vma_file_put calls the object's release) the object leaves the table,
 * its dirty pages are written back, every frame and index node is
 * freed: the node's free frame count returns to where it was.
 *
 * Concurrency. Handlers of different processes run at once (memserv.c):
 * each object has a spinlock over its index, never held while sleeping
 * (file reads and writes, RDMA). A page's frame is handed out with a
 * frame reference (frame_ref) that the caller drops after its RDMA, so a
 * concurrent store that replaces the page never frees a frame still
 * being sent. Two first misses of one file page may both read it: one
 * frame wins, the other is freed.
 */
#ifndef MCOMPONENT_SHMOBJ_H
#define MCOMPONENT_SHMOBJ_H

#include "vma.h"

#include <kernel/spinlock.h>
#include <proto/file.h>
#include <stdbool.h>
#include <stdint.h>

struct memserv;

struct shm_obj {
	struct vma_file file; /* what the VMAs name; refs: theirs */
	struct memserv *ms;   /* set at creation: frames, files, the table */
	bool anon;	      /* set at creation: no file, never written back */
	bool gone;	      /* atomic: the file is unlinked (-ESTALE): no write-back */
	uint64_t size;	      /* set at creation: anon: bytes mapped */
	struct spinlock lock;
	uint64_t root;	  /* under lock: the index's top node (0: none) */
	unsigned height;  /* under lock: levels of the index (0: empty) */
	uint64_t npages;  /* under lock: pages with a frame */
	struct shm_obj *next; /* under the table's lock: file objects */
};

/* The objects of one memory service (struct memserv.shm). */
struct shm_table {
	struct spinlock lock;
	struct shm_obj *files; /* under lock: the file objects, by (inode, generation) */
	uint64_t objects;      /* atomic: objects alive (both kinds) */
	uint64_t pages;	       /* atomic: their pages with a frame */
	uint64_t next_ino;     /* atomic: anonymous objects' inode numbers */
};

void shm_table_init(struct shm_table *t);

/*
 * A new anonymous object of size bytes (page aligned, not 0) of ms, with
 * one reference (the caller's), as the vma_file its VMAs name (path
 * "/dev/zero (deleted)", as Linux's /proc/PID/maps shows shared anonymous
 * memory); NULL if out of memory.
 */
struct vma_file *shm_anon(struct memserv *ms, uint64_t size);
/*
 * The object of ms for the file with inode ino of generation gen, made
 * (path and cred used for its reads and write-backs) if ms has none: a
 * reference for the caller either way; NULL if out of memory.
 */
struct vma_file *shm_file(struct memserv *ms, const char *path, uint64_t ino, uint32_t gen,
			  const struct fs_cred *cred);

/* The object a VMA names: a MAP_SHARED VMA's (VMA_SHARED), else NULL. */
struct shm_obj *shm_of(const struct vma *v);

/*
 * The frame of the page at offset (page aligned) of o for a miss, with a
 * frame reference the caller drops (frame_put) once it sent the page;
 * FRAME_NONE (nothing held) for an anonymous page never stored (zeros).
 * A file page's first miss reads it from the file. Returns 0, -ENXIO
 * (past an anonymous object's size, or a page wholly past the end of the
 * file), -ENOMEM, the file service's errors. Sleeps (file reads).
 */
int shm_miss_frame(struct shm_obj *o, uint64_t offset, uint32_t *out);
/*
 * A store: f (a frame the caller holds one reference to, and gives)
 * becomes the page at offset of o, dirty if o is a file's; the old
 * frame's reference is dropped. Returns 0, -ENXIO (past an anonymous
 * object's size), -ENOMEM (f not taken: the caller still owns it).
 */
int shm_store(struct shm_obj *o, uint64_t offset, uint32_t f);
/*
 * Writes the dirty pages of o at offsets [start, end) back to its file
 * (nothing for an anonymous object, nor for one whose file is gone). A
 * page whose write fails is logged and stays dirty; returns the first
 * error. -ESTALE (the file is gone) is no error: the object is marked
 * gone and taken out of the table, its pages clean. Sleeps.
 */
int shm_sync(struct shm_obj *o, uint64_t start, uint64_t end);

/* The objects alive and their pages with a frame (MEM_STATS). */
void shm_get_stats(struct shm_table *t, uint64_t *objects, uint64_t *pages);

#endif
