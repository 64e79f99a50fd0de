/*
 * The buffer cache protocol: how a processor reads and writes the data of
 * its vNode's regular files through a memory node (DESIGN.md section 6:
 * pComponent -> mComponent (buffer cache) -> sComponent). Opcodes BC_* are
 * in messages.def; the server is mcomponent/bcache.c, the client
 * net/bc_client.c. Metadata (open, stat, getdents, unlink, ...) still goes
 * straight to the storage node (include/proto/file.h).
 *
 * Which memory node: the processor's first memory node of its vNode (its
 * processes' home). All data I/O of a vNode goes through that one node,
 * which keeps pages of 4 KiB keyed by the file's inode number, so the
 * cache is coherent for everything the vNode's processors do. Two vNodes
 * whose first memory nodes differ but which share files of one storage
 * node are NOT kept coherent with each other, nor with the processors'
 * file builtins, which talk to the storage node directly.
 *
 * Stateless like the file protocol: every request carries the caller's
 * credentials, the file's full path (for the storage node, which checks
 * permissions on every request), its inode number (the cache key: a
 * rename does not make pages stale) and the storage node that serves the
 * path (which must be the memory node's own storage node, else -EXDEV:
 * the client then talks to the storage node itself).
 *
 * Data moves by RDMA, never in the messages, as with FS_READ/FS_WRITE:
 * the request names a region of the requester's window (buf_key,
 * buf_offset) that the memory node WRITEs (BC_READ: the key needs
 * FAB_ACCESS_REMOTE_WRITE) or READs (BC_WRITE, BC_APPEND:
 * FAB_ACCESS_REMOTE_READ) before it replies.
 *
 * The cache is write-through: an acknowledged write is on the storage
 * node exactly as an FS_WRITE's, and fsync still goes to the storage
 * node. BC_TRUNCATE truncates on the storage node and drops the cached
 * pages past the new end. Inode numbers are reused by ext2 once a file's
 * last link goes: the processor sends BC_FORGET for the inode of every
 * regular file it opens empty (which every newly created file is), so
 * pages of a dead file never show under its reused number.
 *
 * Errors are negative Linux errno values in the reply header's status:
 * the storage node's, or -EINVAL (a malformed request), -EXDEV (another
 * storage node), -ENODEV (no cache on that node), -EFAULT (the RDMA
 * transfer with the requester failed), -ETIMEDOUT.
 */
#ifndef PROTO_BCACHE_H
#define PROTO_BCACHE_H

#include <proto/file.h>
#include <stdint.h>

#define BC_PAGE_SIZE 4096u
#define BC_IO_MAX    (64u << 10) /* bytes per BC_READ, BC_WRITE, BC_APPEND */

/*
 * BC_READ: up to length (<= BC_IO_MAX) bytes at offset of the regular file
 * path (inode ino on storage node storage) into [buf_offset, buf_offset +
 * length) of the requester's window; a read stops at the end of the file.
 * BC_WRITE: length bytes at offset from that region (a write extends the
 * file). BC_APPEND: the same at the end of the file, which the memory node
 * finds under its per-file lock, so appends of one vNode never overwrite
 * each other (offset must be 0). flags: 0 or BC_EXACT: the request is for
 * the file (ino, gen) only (a file mapping's, mcomponent/memfile.c): if
 * path names another file now, or nothing, -ESTALE and nothing moves
 * (gen must be 0 without BC_EXACT). Reply: struct bc_io.
 */
#define BC_EXACT 1u

struct bc_io_req {
	struct fs_cred cred;
	uint64_t ino;
	uint64_t offset;
	uint32_t length;
	uint32_t flags;	   /* 0 or BC_EXACT */
	uint64_t buf_offset;
	uint32_t buf_key;
	uint16_t storage;
	uint16_t reserved; /* 0 */
	uint32_t gen;	   /* with BC_EXACT: the file's generation (fs_attr.gen) */
	uint32_t reserved2; /* 0 */
	char path[FS_PATH_MAX];
};
_Static_assert(sizeof(struct bc_io_req) == 96 + FS_PATH_MAX, "bc_io_req wire size");

struct bc_io {
	uint32_t bytes;	   /* moved; < length only for a read at the end */
	uint32_t reserved;
	uint64_t offset;   /* where they were read or written (BC_APPEND: the end) */
	uint64_t size;	   /* the file's size after the operation */
};
_Static_assert(sizeof(struct bc_io) == 24, "bc_io wire size");

/* BC_TRUNCATE: the file gets size bytes (on the storage node, then in the
 * cache). Reply: struct fs_attr, the storage node's. */
struct bc_truncate_req {
	struct fs_cred cred;
	uint64_t ino;
	uint64_t size;
	uint16_t storage;
	uint16_t reserved[3]; /* 0 */
	char path[FS_PATH_MAX];
};
_Static_assert(sizeof(struct bc_truncate_req) == 72 + FS_PATH_MAX,
	       "bc_truncate_req wire size");

/* BC_FORGET: drop every cached page of inode ino of storage node storage,
 * or with ino 0 every page of the cache (no ext2 inode is 0; a cold cache
 * for a benchmark, LegoOS's drop_page_cache). Nothing is written: the
 * cache is write-through. Reply: struct fs_empty. */
struct bc_forget_req {
	uint64_t ino;
	uint16_t storage;
	uint16_t reserved[3]; /* 0 */
};
_Static_assert(sizeof(struct bc_forget_req) == 16, "bc_forget_req wire size");

/* A memory node's buffer cache figures, in its MEM_STATS (struct
 * mem_stats.bcache). */
struct bc_stats {
	uint64_t pages;	    /* cached now, each in a page frame */
	uint64_t max_pages; /* the bound */
	uint64_t hits;	    /* pages found in the cache */
	uint64_t misses;    /* pages read from the storage node for a request */
	uint64_t readahead; /* pages read ahead of a sequential reader */
	uint64_t evictions; /* pages dropped to make room */
	uint64_t read_bytes;	/* given to readers */
	uint64_t written_bytes; /* written through to the storage node */
};
_Static_assert(sizeof(struct bc_stats) == 64, "bc_stats wire size");

#endif
