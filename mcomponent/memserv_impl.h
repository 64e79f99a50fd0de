/*
 * The memory service's internals, shared by its parts: memserv.c (the
 * service, the process table, RDMA and the handlers of MISS, FLUSH,
 * MMAP, MUNMAP, MPROTECT, BRK, EXIT, STATS, FORK, REGION), exec.c
 * (MEM_EXEC: the ELF loader), memfile.c (file pages) and shmobj.c
 * (MAP_SHARED pages). Not for other files: the interface is memserv.h.
 */
#ifndef MCOMPONENT_MEMSERV_IMPL_H
#define MCOMPONENT_MEMSERV_IMPL_H

#include "aspace.h"
#include "bcache.h"
#include "frames.h"
#include "memserv.h"
#include "shmobj.h"

#include <kernel/spinlock.h>
#include <kernel/wait.h>
#include <stdbool.h>
#include <stdint.h>

#define MEMSERV_ZOMBIES 8 /* frames of RDMA READs that timed out, per QP */
#define MEMSERV_QPS	4 /* RDMA QPs: one per handler moving pages at once */
/* Address spaces at once: MEMSERV_MAX_PROCS home ones, as many remote. */
#define MEMSERV_SPACES	(2 * MEMSERV_MAX_PROCS)

/* Pages and rights, for every part of the service. */
#define PAGE	 MEM_PAGE_SIZE
#define PROT_ALL (MEM_PROT_READ | MEM_PROT_WRITE | MEM_PROT_EXEC)

static inline uint64_t page_up(uint64_t a)
{
	return (a + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

static inline uint64_t page_down(uint64_t a)
{
	return a & ~(uint64_t)(PAGE - 1);
}

/*
 * One address space in the service's table: a home space (home == this
 * node: the process's whole layout) or a remote one (home: another node,
 * which placed some of the process's vRegions here). Key: (node, pid,
 * home). Lifetime: counted references (the table holds one while the
 * entry is in it; each handler using it holds one); the last put of an
 * entry taken out of the table (dead) frees it.
 */
struct mem_proc {
	uint16_t node; /* set at creation: the processor running pid */
	uint16_t home; /* set at creation */
	uint32_t pid;  /* set at creation */
	bool dead;     /* under ms->table_lock: out of the table */
	uint32_t refs; /* under ms->table_lock */
	/* A binary semaphore (a completion with one token), held by a
	 * handler for its whole call on this space (it sleeps in RDMA and
	 * RPC waits holding it). */
	struct completion lock;
	/* Under lock, and changed with ms->table_lock held too (the
	 * statistics read it under the table lock alone). NULL only while
	 * the entry's creator holds lock. */
	struct aspace *as;
};

/* A frame whose RDMA READ timed out, freed at its late completion. */
struct mem_zombie {
	uint64_t wr_id; /* 0: free slot */
	uint32_t frame;
};

/* One RDMA QP with what only its holder touches. */
struct mem_qp {
	struct verbs_qp *qp;			    /* set at start */
	uint64_t wr_seq;			    /* holder only */
	struct mem_zombie zombies[MEMSERV_ZOMBIES]; /* holder only */
	struct mem_qp *next;			    /* under ms->qp_lock: free list */
};

struct memserv {
	struct rpc_node *rn; /* set at start: the services table's key */
	struct verbs_dev *dev;
	uint16_t self;	  /* set at start: this node */
	uint16_t storage; /* the file server of MEM_EXEC (0: none) */
	struct frame_pool frames; /* its own spinlock */
	struct bcache *bc;	  /* set at start: the buffer cache (bcache.c); NULL: none */

	struct spinlock table_lock;
	struct mem_proc *spaces[MEMSERV_SPACES]; /* under table_lock */

	struct mem_qp qps[MEMSERV_QPS];
	struct spinlock qp_lock;
	struct mem_qp *qp_free;	      /* under qp_lock */
	struct completion qp_tokens;  /* one token per QP on qp_free */
	uint64_t lost_frames;	      /* atomic: zombies that found no slot */

	struct shm_table shm;	/* the shared memory objects (shmobj.h) */
	uint64_t rand_state;	/* atomic: AT_RANDOM's generator */
	struct mem_stats stats; /* counters updated atomically */
	bool warned_no_storage; /* racy: a log once (or twice) */
	bool warned_placement;	/* racy: a log once (or twice) */
};

#define MEMSERV_MAX_OWNERS MEM_MAX_NODES /* remote owners of one process */

/* The service of rn, or NULL. */
struct memserv *memserv_of(struct rpc_node *rn);

/*
 * The table (memserv.c; the locking rules are its top comment).
 * space_enter: a reference to the space (node, pid, home) and its lock,
 * or -ESRCH with nothing held; space_leave gives both back.
 * space_create: a new entry for a key not in the table, its lock held
 * and as NULL (the creator sets it, or removes the entry, then leaves);
 * -EEXIST, -ENOMEM. space_remove (lock held): takes the entry out of the
 * table and returns its aspace, which the caller then destroys.
 * space_set_as (lock held): sets the entry's aspace.
 */
int space_enter(struct memserv *ms, uint16_t node, uint32_t pid, uint16_t home,
		struct mem_proc **out);
void space_leave(struct memserv *ms, struct mem_proc *p);
int space_create(struct memserv *ms, uint16_t node, uint32_t pid, uint16_t home,
		 struct mem_proc **out);
struct aspace *space_remove(struct memserv *ms, struct mem_proc *p);
void space_set_as(struct memserv *ms, struct mem_proc *p, struct aspace *as);

/* MEM_REGION rq to owner; *value (if not NULL) the reply's value. 0 or
 * the call's errno. */
int region_call(struct memserv *ms, uint16_t owner, const struct mem_region_req *rq,
		uint64_t *value);
/* MEM_REGION_EXIT of p's process to every remote owner of as (p's lock
 * held); failures are logged, not returned. */
void region_exit_all(struct memserv *ms, struct mem_proc *p, struct aspace *as);
/*
 * Installs as as the home space of (node, pid) (exec; as->self is this
 * node), replacing any old one: the old one's remote owners get
 * MEM_REGION_EXIT, then it is destroyed. Waits for handlers using the
 * old one. Returns 0, or -ENOMEM (table full: as is not taken).
 */
int memserv_install(struct memserv *ms, uint16_t node, uint32_t pid, struct aspace *as);
/*
 * One RDMA transfer of len bytes between local_offset of this node's
 * window and (key, remote) of node, for a buffer that is not a frame.
 * Returns 0, -EFAULT, -ETIMEDOUT (a READ may still write the buffer
 * later: the caller must never reuse it), -EIO, -EAGAIN. Sleeps for a
 * free QP.
 */
int memserv_rdma_buf(struct memserv *ms, uint16_t node, uint8_t opcode, uint64_t local_offset,
		     uint32_t len, uint32_t key, uint64_t remote);
/* 16 bytes for AT_RANDOM (not cryptographic: clock and a counter mixed). */
void memserv_random(struct memserv *ms, uint8_t out[16]);
void memserv_count(uint64_t *counter, uint64_t n);

/*
 * File pages (memfile.c). memfile_fill: frame f gets the page at offset of
 * file (zeros past the end; -ENXIO if the page is wholly past it; the
 * file service's errors). memfile_write: frame f's page back to the file
 * at offset, never past its end. memfile_page: a new frame for the page
 * va of the private file VMA v of as (locked), filled and set in as;
 * *out its frame. memfile_sync: every dirty page of the shared memory
 * objects of the MAP_SHARED VMAs of as in [start, end) written back
 * (failures logged, the pages kept dirty; the first error returned).
 * memfile_new: the file at path (absolute, NUL-terminated, shorter than
 * FS_PATH_MAX) with inode ino of generation gen, read and written with
 * cred (exact: only while path names (ino, gen), else -ESTALE) through
 * the buffer cache of memory node cache (0: this node's), with one
 * reference (the caller's), or NULL (MEM_MMAP_FILE's file, exact, and
 * MEM_EXEC's images, by path: exec.c). memfile_set_cache: a shared
 * memory object's file gets cache unless it has one (its first mapper
 * decides). memfile_cache_of: the file cache node of as's vNode
 * (MEM_EXEC's memory[0]; 0 if none).
 */
int memfile_fill(struct memserv *ms, const struct vma_file *file, uint64_t offset,
		 uint32_t f);
int memfile_write(struct memserv *ms, const struct vma_file *file, uint64_t offset,
		  uint32_t f);
int memfile_page(struct memserv *ms, struct aspace *as, const struct vma *v, uint64_t va,
		 uint32_t *out);
int memfile_sync(struct memserv *ms, struct aspace *as, uint64_t start, uint64_t end);
struct vma_file *memfile_new(const char *path, uint64_t ino, uint32_t gen, bool exact,
			     const struct fs_cred *cred, uint16_t cache);
void memfile_set_cache(struct vma_file *file, uint16_t cache);
uint16_t memfile_cache_of(const struct aspace *as);

/* Where MEM_EXEC reads files (the executable, its interpreter), by
 * absolute path: open gives 0, the size and the inode number of a
 * regular file the request's credentials may execute, or an errno; read
 * returns the bytes read (fewer only at the end) or an errno. lazy: the
 * files are the storage node's and this node has a buffer cache, so the
 * segments become private file VMAs read at their first miss
 * (memfile.c); else (the self tests' images in memory) their bytes are
 * read into frames at exec. */
struct exec_files {
	int (*open)(void *ctx, const char *path, uint64_t *size, uint64_t *ino);
	long (*read)(void *ctx, const char *path, uint64_t offset, void *buf, size_t len);
	void *ctx;
	bool lazy;
	uint16_t cache; /* the vNode's file cache node (memory[0]) for the
			   image's file VMAs; 0: this node's */
};

/* Decodes rq (everything but the file) for the receiver self: 0,
 * -EINVAL or -E2BIG. */
int exec_decode(const struct mem_exec_req *rq, uint16_t self);
/* Builds pid's new address space from rq->path of fs (and its
 * interpreter) and installs it for (node, pid); fills *rp. The old one
 * stays until the new one is complete. */
int exec_build(struct memserv *ms, uint16_t node, const struct mem_exec_req *rq,
	       const struct exec_files *fs, struct mem_exec_reply *rp);

#endif
