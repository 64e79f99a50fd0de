/*
 * ext2, read and write (scomponent/ext2*.c), on a block device through
 * the block cache (scomponent/bcache.h). Private to the storage role.
 *
 * Portable code: the same files run in the storage kernel over
 * virtio-blk and in the host unit tests and fuzzer over an image file
 * (tests/unit/fileblk.c). Images come from `mke2fs -t ext2 [-d DIR]`
 * and stay clean for `e2fsck -fn` after any sequence of completed calls
 * followed by ext2_sync().
 *
 * The interface is the file protocol's (include/proto/file.h): every call
 * names its file by a path, resolved from a root directory inode with the
 * rules written there (".." never above root: -EACCES; symlinks followed
 * up to FS_SYMLINK_DEPTH; absolute targets restart at root), checks the
 * caller's permissions, and answers a negative Linux errno on failure.
 * Attributes, credentials and directory records use the wire structs, so
 * the server copies them without translation.
 *
 * Hostile images: every on-disk value is checked before use (block
 * numbers inside the file system, inode numbers in range, directory
 * records inside their block, sizes consistent); a corrupt structure
 * gives -EIO (-EUCLEAN is not used), never a crash or an access outside
 * the buffers. Unsupported features (journal, extents, 64bit, meta_bg,
 * inline data, encryption, ... any INCOMPAT bit but filetype; RO_COMPAT
 * bits other than sparse_super and large_file make the mount read-only)
 * are refused at mount with a message naming them.
 *
 * Concurrency: none inside. One struct ext2_fs is used by one thread at a
 * time; the caller serialises (the file server runs requests one by one).
 */
#ifndef SCOMPONENT_EXT2_H
#define SCOMPONENT_EXT2_H

#include "bcache.h"

#include <kernel/blkdev.h>
#include <proto/file.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXT2_ROOT_INO 2

struct ext2_fs;

struct ext2_mount_opts {
	size_t cache_bytes; /* block cache size (0: a default of 4 MiB) */
	bool read_only;	    /* refuse every change with -EROFS */
	/* Seconds since the epoch for timestamps; NULL: always 0. */
	int64_t (*now)(void);
};

/*
 * Mounts the ext2 file system on bd. Returns 0 and sets *out, or a
 * negative errno with a one-line reason in why (e.g. "unsupported
 * feature: has_journal (an ext3/ext4 image; make it with mke2fs -t
 * ext2)"): -EINVAL not ext2 or corrupt superblock/group descriptors,
 * -ENOTSUP (Linux's EOPNOTSUPP) unsupported features, -EIO the device
 * failed, -ENOMEM.
 */
int ext2_mount(struct blkdev *bd, const struct ext2_mount_opts *opts, struct ext2_fs **out,
	       char *why, size_t why_len);
/* Writes everything back (ext2_sync) and frees fs. Returns the sync's
 * result; fs is freed either way. */
int ext2_unmount(struct ext2_fs *fs);

/*
 * Writes every dirty block back, ordered (data and inode tables before
 * the bitmaps, group descriptors and superblock that account for them),
 * then flushes the device: when it returns 0, everything completed
 * before the call is on disk.
 */
int ext2_sync(struct ext2_fs *fs);

/* Resolves path from root to a directory inode (export roots). */
int ext2_resolve_dir(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		     const char *path, uint32_t *ino);

/* The calls of the file protocol, one for each FS_* message (see
 * include/proto/file.h for what each does and the flags it takes). */
int ext2_stat(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root, const char *path,
	      unsigned flags, unsigned may, struct fs_attr *attr);
/* Returns the bytes read (short only at the end of the file). */
int ext2_read(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root, const char *path,
	      uint64_t offset, void *buf, uint32_t len, struct fs_attr *attr);
/* ext2_read for big reads into a buffer whose physical address is
 * buf_phys (0: buf is in the direct map; the file server's staging buffer
 * is in the fabric window): whole blocks that are not cached go from the
 * disk straight into buf, neighbours as one request, and are not cached
 * (like O_DIRECT: a sequential read costs no copy and evicts nothing). */
int ext2_read_direct(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		     const char *path, uint64_t offset, void *buf, uint64_t buf_phys,
		     uint32_t len, struct fs_attr *attr);

/*
 * ext2_read in three steps, for a caller that waits for the disk without
 * the lock it serialises ext2 calls with (the file service's small reads,
 * which run concurrently; bcache.h, "Reading without the owner's lock"):
 *   ext2_read_begin  lock held: as ext2_read of at most EXT2_SPLIT_MAX
 *                    bytes, except that the blocks the cache does not
 *                    hold are only listed in *sr; returns the bytes the
 *                    read gives (their part of buf not yet filled) or an
 *                    errno;
 *   ext2_read_fetch  no lock: reads the listed blocks into their places
 *                    in buf; 0 or -ENOMEM, -EIO;
 *   ext2_read_end    lock held: 0 if buf now holds what the read gives,
 *                    -EAGAIN if a block was freed meanwhile (buf may hold
 *                    another file's bytes: read again, with ext2_read).
 * A begin that listed no blocks needs neither of the others. After a
 * fetch, ext2_read_end must follow whether the fetch failed or not (it
 * frees what the fetch allocated); its answer only counts after a fetch
 * that returned 0.
 */
#define EXT2_SPLIT_MAX FS_INLINE_MAX
struct ext2_split_read {
	struct bcache_ticket ticket;
	unsigned n;			 /* blocks to fetch */
	uint64_t blk[BCACHE_FETCH_MAX]; /* their numbers */
	struct {
		uint32_t dst, boff, len; /* block bytes [boff, +len) go to buf + dst */
	} part[BCACHE_FETCH_MAX];
	uint8_t *blocks; /* ext2_read_fetch's copy of them, or NULL */
	bool fetched;	 /* ext2_read_fetch read them */
};
int ext2_read_begin(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		    const char *path, uint64_t offset, void *buf, uint32_t len,
		    struct fs_attr *attr, struct ext2_split_read *sr);
int ext2_read_fetch(struct ext2_fs *fs, struct ext2_split_read *sr, void *buf);
int ext2_read_end(struct ext2_fs *fs, struct ext2_split_read *sr);

/* Returns the bytes written (all of them, or an error: -ENOSPC, -EFBIG
 * leave the file as it was before the call where they can, or with a
 * prefix of the data written and its size grown only as far). */
int ext2_write(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root, const char *path,
	       uint64_t offset, const void *buf, uint32_t len, struct fs_attr *attr);
/* ext2_write from a buffer at physical address buf_phys (as
 * ext2_read_direct): whole blocks that are not cached go from buf straight
 * to the disk before the call returns (data ahead of the metadata that
 * accounts for it, which stays in the cache until the next sync). */
int ext2_write_direct(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		      const char *path, uint64_t offset, const void *buf,
		      uint64_t buf_phys, uint32_t len, struct fs_attr *attr);
int ext2_create(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root, const char *path,
		uint32_t mode, unsigned flags, struct fs_attr *attr);
int ext2_mkdir(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root, const char *path,
	       uint32_t mode, struct fs_attr *attr);
int ext2_unlink(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root, const char *path);
int ext2_rmdir(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root, const char *path);
int ext2_rename(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root, const char *from,
		const char *to);
int ext2_link(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root, const char *oldpath,
	      const char *newpath, struct fs_attr *attr);
int ext2_symlink(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		 const char *target, const char *linkpath, struct fs_attr *attr);
/* Copies the target with a NUL into buf (cap bytes); returns its length
 * (-ENAMETOOLONG if it does not fit). */
int ext2_readlink(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root, const char *path,
		  char *buf, size_t cap);
int ext2_truncate(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root, const char *path,
		  uint64_t size, struct fs_attr *attr);
/* valid: FS_SET_* bits; flags: FS_NOFOLLOW. */
int ext2_setattr(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root, const char *path,
		 unsigned flags, unsigned valid, uint32_t mode, uint32_t uid, uint32_t gid,
		 int64_t atime, int64_t mtime, struct fs_attr *attr);
/* linux_dirent64 records from *cookie into buf (cap bytes); advances
 * *cookie, sets *eof. Returns the bytes used (-EINVAL if cap cannot hold
 * the next record). */
int ext2_getdents(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		  const char *path, uint64_t *cookie, void *buf, size_t cap, bool *eof);
int ext2_statfs(struct ext2_fs *fs, struct fs_statfs *st);

#endif
