/*
 * The storage buffer cache of a memory node (mcomponent/bcache.c; the
 * protocol is include/proto/bcache.h, the document docs/memory.md "The
 * buffer cache"): pages of the vNode's regular files, 4 KiB each, keyed by
 * (inode number, page index), in page frames of the node's frame pool,
 * between the processors and the storage node (DESIGN.md section 6).
 *
 * Write-through: every write and truncate is made on the storage node
 * before it returns, so the cache never holds the only copy of anything
 * and dropping a page is always safe.
 *
 * One bcache belongs to one memory service (memserv_start makes it, for
 * the node's storage node) and serves its BC_* handlers; the functions
 * below are the local interface for other code of the memory node (the
 * handlers are built on them too). Thread context; any number of threads
 * may call at once: requests on one file are serialised, requests on
 * different files run in parallel.
 */
#ifndef MCOMPONENT_BCACHE_H
#define MCOMPONENT_BCACHE_H

#include "frames.h"

#include <net/verbs.h>
#include <proto/bcache.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bcache;

/* The file a request is about: credentials and path for the storage
 * node, the inode number for the cache. With exact, reads and writes
 * that go to the storage node must reach the file (ino, gen) (struct
 * fs_attr), else fail with -ESTALE: a file mapping's, whose file may
 * have been unlinked since, its path and number given to another. */
struct bcache_file {
	const struct fs_cred *cred;
	const char *path;
	uint64_t ino;
	uint32_t gen;
	bool exact;
};

/*
 * Where the pages come from and go to: the storage node through the file
 * client (the default), or a self test's stand-in. read and write move len
 * bytes between the file at offset and win_offset of the node's window
 * (read: fewer only at the end of the file) and return the count or an
 * errno; each call fills *attr with the file's attributes after it when it
 * succeeds.
 */
struct bcache_backend {
	long (*read)(void *ctx, const struct bcache_file *f, uint64_t offset,
		     uint64_t win_offset, size_t len, struct fs_attr *attr);
	long (*write)(void *ctx, const struct bcache_file *f, uint64_t offset,
		      uint64_t win_offset, size_t len, struct fs_attr *attr);
	int (*truncate)(void *ctx, const struct bcache_file *f, uint64_t size,
			struct fs_attr *attr);
	int (*stat)(void *ctx, const struct bcache_file *f, struct fs_attr *attr);
};

/* Pages per cache by default: this share of the node's frames. */
#define BCACHE_FRAME_SHARE 4 /* a quarter */

/*
 * A cache of at most max_pages pages taken from fp as they are needed,
 * for the files of storage node storage, with staging buffers in dev's
 * window (about 0.5 MiB). NULL if out of memory or window space.
 */
struct bcache *bcache_create(struct frame_pool *fp, struct verbs_dev *dev, uint16_t storage,
			     uint32_t max_pages);
/* Frees every page and the cache; no call may be running. */
void bcache_destroy(struct bcache *bc);
/* Self tests: pages come from ops (with ctx) instead of the storage node.
 * Before any request. */
void bcache_set_backend(struct bcache *bc, const struct bcache_backend *ops, void *ctx);
uint16_t bcache_storage(const struct bcache *bc);
void bcache_get_stats(struct bcache *bc, struct bc_stats *st);

/*
 * Reads up to len (<= BC_IO_MAX) bytes of f at offset into dst: the bytes
 * read (fewer only at the end of the file) or a negative errno.
 */
long bcache_read(struct bcache *bc, const struct bcache_file *f, uint64_t offset, void *dst,
		 size_t len);
/*
 * Fills page (FRAME_SIZE bytes of kernel memory) with page index of f:
 * the bytes of the file in it (0..FRAME_SIZE; the rest of page is zeroed),
 * or a negative errno. For file-backed mappings.
 */
long bcache_read_page(struct bcache *bc, const struct bcache_file *f, uint64_t index,
		      void *page);
/*
 * Writes len (<= BC_IO_MAX) bytes of src to f at offset, or at its end
 * with append (the end found under the file's lock: appends through this
 * cache never overwrite each other), through to the storage node. Returns
 * len or a negative errno (then some prefix may have been written); *at
 * (if not NULL) where the bytes went.
 */
long bcache_write(struct bcache *bc, const struct bcache_file *f, uint64_t offset,
		  const void *src, size_t len, bool append, uint64_t *at);
/* f's attributes, from the storage node (or the self test's stand-in):
 * 0 or a negative errno. Not cached. */
int bcache_stat(struct bcache *bc, const struct bcache_file *f, struct fs_attr *attr);
/* Truncates f to size on the storage node, then drops the pages past the
 * end and zeroes the tail of the last one. 0 or a negative errno; *attr
 * the storage node's reply. */
int bcache_truncate(struct bcache *bc, const struct bcache_file *f, uint64_t size,
		    struct fs_attr *attr);
/* Drops every page of inode ino. */
void bcache_forget(struct bcache *bc, uint64_t ino);
/* Drops every page of every inode (LegoOS's drop_page_cache). */
void bcache_forget_all(struct bcache *bc);

#endif
