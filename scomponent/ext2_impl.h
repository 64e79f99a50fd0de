/*
 * ext2 internals shared by scomponent/ext2_*.c (the public interface is
 * ext2.h): the on-disk layout, the mounted file system, the in-memory
 * inode, and the functions one part of the driver offers the others.
 *
 * The parts:
 *   ext2_super.c  mount, features, group descriptors, sync, statfs, and
 *                 the allocators (block and inode bitmaps)
 *   ext2_inode.c  inodes (load, store, new, delete), block maps (direct,
 *                 single, double, triple indirect), file data, truncate
 *   ext2_dir.c    directory entries: check, lookup, add, remove, list
 *   ext2_path.c   path walk, permissions
 *   ext2_ops.c    the calls of ext2.h
 *
 * On-disk facts come from "The Second Extended File System" (Dave
 * Poirier) and Linux's Documentation/filesystems/ext2.rst; every field is
 * little-endian, read and written through ext2_get16/32, ext2_put16/32 at
 * the byte offsets named below (no packed structs: the image is hostile
 * input and offsets make each access's bounds plain).
 */
#ifndef SCOMPONENT_EXT2_IMPL_H
#define SCOMPONENT_EXT2_IMPL_H

#include "bcache.h"
#include "ext2.h"

#include <kernel/errno.h>
#include <lib/string.h>
#include <stdbool.h>
#include <stdint.h>

/* --- On-disk layout ---------------------------------------------------- */

#define EXT2_SUPER_MAGIC   0xEF53
#define EXT2_SB_OFFSET	   1024 /* bytes from the start of the device */
#define EXT2_SB_SIZE	   1024
#define EXT2_GD_SIZE	   32
#define EXT2_OLD_INODE	   128 /* revision 0 inode size */
#define EXT2_OLD_FIRST_INO 11
#define EXT2_DYNAMIC_REV   1
#define EXT2_NDIR	   12 /* direct blocks in i_block */
#define EXT2_IND	   12
#define EXT2_DIND	   13
#define EXT2_TIND	   14
#define EXT2_NBLOCKS	   15
#define EXT2_FAST_LINK_MAX 59 /* longest target kept in i_block */
#define EXT2_LINK_MAX	   32000
#define EXT2_MAX_GROUPS	   32768 /* descriptors held in memory (1 MiB) */

/* Superblock field offsets. */
#define SB_INODES_COUNT	     0
#define SB_BLOCKS_COUNT	     4
#define SB_R_BLOCKS_COUNT    8
#define SB_FREE_BLOCKS	     12
#define SB_FREE_INODES	     16
#define SB_FIRST_DATA_BLOCK  20
#define SB_LOG_BLOCK_SIZE    24
#define SB_BLOCKS_PER_GROUP  32
#define SB_INODES_PER_GROUP  40
#define SB_MTIME	     44
#define SB_WTIME	     48
#define SB_MAGIC	     56
#define SB_REV_LEVEL	     76
#define SB_DEF_RESUID	     80
#define SB_DEF_RESGID	     82
#define SB_FIRST_INO	     84
#define SB_INODE_SIZE	     88
#define SB_FEATURE_COMPAT    92
#define SB_FEATURE_INCOMPAT  96
#define SB_FEATURE_RO_COMPAT 100
#define SB_RESERVED_GDT	     206
#define SB_WANT_EXTRA_ISIZE  350

/* Feature bits. */
#define EXT2_COMPAT_HAS_JOURNAL	  0x0004
#define EXT2_COMPAT_RESIZE_INODE  0x0010
#define EXT2_INCOMPAT_FILETYPE	  0x0002
#define EXT2_RO_COMPAT_SPARSE	  0x0001
#define EXT2_RO_COMPAT_LARGE_FILE 0x0002
#define EXT2_INCOMPAT_SUPPORTED	  EXT2_INCOMPAT_FILETYPE
#define EXT2_RO_COMPAT_SUPPORTED  (EXT2_RO_COMPAT_SPARSE | EXT2_RO_COMPAT_LARGE_FILE)

/* Group descriptor field offsets. */
#define GD_BLOCK_BITMAP 0
#define GD_INODE_BITMAP 4
#define GD_INODE_TABLE	8
#define GD_FREE_BLOCKS	12
#define GD_FREE_INODES	14
#define GD_USED_DIRS	16

/* Inode field offsets. */
#define I_MODE	      0
#define I_UID	      2
#define I_SIZE	      4
#define I_ATIME	      8
#define I_CTIME	      12
#define I_MTIME	      16
#define I_DTIME	      20
#define I_GID	      24
#define I_LINKS	      26
#define I_BLOCKS      28
#define I_FLAGS	      32
#define I_BLOCK	      40
#define I_GENERATION  100
#define I_FILE_ACL    104
#define I_SIZE_HIGH   108
#define I_UID_HIGH    120
#define I_GID_HIGH    122
#define I_EXTRA_ISIZE 128
#define I_CTIME_EXTRA 132
#define I_MTIME_EXTRA 136
#define I_ATIME_EXTRA 140
#define I_KEEP	      160 /* bytes of an inode this driver reads and writes */

/* i_flags. */
#define EXT2_INDEX_FL	    0x00001000 /* htree directory */
#define EXT2_EXTENTS_FL	    0x00080000 /* ext4 extents: not ours */
#define EXT2_INLINE_DATA_FL 0x10000000 /* ext4 inline data: not ours */

/* Directory entries: inode u32, rec_len u16, name_len u8, file_type u8. */
#define DE_INODE	    0
#define DE_REC_LEN	    4
#define DE_NAME_LEN	    6
#define DE_TYPE		    7
#define DE_NAME		    8
#define EXT2_DIR_REC_LEN(n) ((8u + (n) + 3u) & ~3u)

/* file_type values of directory entries. */
enum {
	EXT2_FT_UNKNOWN,
	EXT2_FT_REG,
	EXT2_FT_DIR,
	EXT2_FT_CHR,
	EXT2_FT_BLK,
	EXT2_FT_FIFO,
	EXT2_FT_SOCK,
	EXT2_FT_LNK,
	EXT2_FT_MAX
};

/* Extended attribute block header (freed with the last inode using it). */
#define EXT2_XATTR_MAGIC   0xEA020000u
#define XATTR_MAGIC_OFF	   0
#define XATTR_REFCOUNT_OFF 4

/* Mode bits beyond the file type. */
#define EXT2_S_ISUID 04000u
#define EXT2_S_ISGID 02000u
#define EXT2_S_ISVTX 01000u

static inline uint16_t ext2_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t ext2_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void ext2_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void ext2_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* --- The mounted file system ------------------------------------------- */

struct ext2_fs {
	struct blkdev *bd;
	struct bcache *bc;
	int64_t (*now)(void);
	bool read_only;

	/* The primary superblock and the group descriptors, as on disk; the
	 * driver changes these copies and ext2_sync writes them back. */
	uint8_t sb[EXT2_SB_SIZE];
	uint8_t *gd; /* ngroups * EXT2_GD_SIZE bytes */
	bool sb_dirty, gd_dirty;

	/* Geometry, checked at mount. */
	uint32_t block_size;
	uint32_t apb; /* block numbers per indirect block */
	uint32_t blocks_count, first_data_block, blocks_per_group;
	uint32_t inodes_count, inodes_per_group, inode_size, first_ino;
	uint32_t ngroups, gdt_blocks, reserved_gdt, itb_per_group;
	uint32_t rev, compat, incompat, ro_compat;
	uint16_t want_extra_isize;
	uint32_t free_blocks, free_inodes, r_blocks;
	uint32_t resuid, resgid;

	/* Scratch of ext2_file_read_direct and ext2_file_write_direct
	 * (calls are serialised): the disk blocks of one FS_IO_MAX request,
	 * FS_IO_MAX / block_size + 1 entries. */
	uint64_t *direct_blks;

	/* The call in progress: whose credentials (reserved blocks). */
	const struct fs_cred *cred;
	/* The last corruption found, for diagnostics (a static string). */
	const char *corrupt;
};

/* An inode as the driver uses it: decoded from its slot in the inode
 * table by ext2_iget, encoded back by ext2_iput (which leaves the fields
 * not listed here untouched). */
struct ext2_inode {
	uint32_t ino;
	uint32_t gen;  /* i_generation: ext2_inew makes it new, nothing else changes it */
	uint32_t mode; /* FS_S_IF* type and permission bits */
	uint32_t uid, gid;
	uint32_t links;
	uint64_t size;
	uint64_t blocks; /* 512-byte units, incl. indirect and xattr blocks */
	int64_t atime, mtime, ctime;
	uint32_t dtime;
	uint32_t flags;
	uint32_t file_acl;
	uint32_t block[EXT2_NBLOCKS];
	uint16_t extra_isize;
	uint32_t goal; /* allocation hint: the block after the last allocated */
};

static inline bool ext2_is_dir(const struct ext2_inode *ip)
{
	return (ip->mode & FS_S_IFMT) == FS_S_IFDIR;
}

static inline bool ext2_is_reg(const struct ext2_inode *ip)
{
	return (ip->mode & FS_S_IFMT) == FS_S_IFREG;
}

static inline bool ext2_is_lnk(const struct ext2_inode *ip)
{
	return (ip->mode & FS_S_IFMT) == FS_S_IFLNK;
}

static inline int64_t ext2_now(const struct ext2_fs *fs)
{
	return fs->now ? fs->now() : 0;
}

/* Records why an on-disk structure was refused; returns -EIO. */
static inline int ext2_corrupt(struct ext2_fs *fs, const char *why)
{
	fs->corrupt = why;
	return -EIO;
}

/* --- ext2_super.c ------------------------------------------------------- */

/* Group descriptor fields of group g (< ngroups). */
uint32_t ext2_gd_get32(const struct ext2_fs *fs, uint32_t g, unsigned off);
uint16_t ext2_gd_get16(const struct ext2_fs *fs, uint32_t g, unsigned off);
/* True if block blk is a valid data block number (inside the file system
 * and past the first superblock). */
bool ext2_block_ok(const struct ext2_fs *fs, uint32_t blk);
/* Allocates a block, near goal if it can. Returns 0 and *blk, -ENOSPC,
 * -EIO. The block's contents are whatever the disk had. */
int ext2_block_alloc(struct ext2_fs *fs, uint32_t goal, uint32_t *blk);
/* Frees block blk (-EIO if it was not allocated). */
int ext2_block_free(struct ext2_fs *fs, uint32_t blk);
/* Allocates an inode number for a new file (dir: a directory) near
 * parent. Returns 0 and *ino, -ENOSPC, -EIO. */
int ext2_ialloc(struct ext2_fs *fs, uint32_t parent, bool dir, uint32_t *ino);
int ext2_ifree(struct ext2_fs *fs, uint32_t ino, bool dir);
/* Sets the large_file feature (a file grew past 2 GiB). */
void ext2_note_large_file(struct ext2_fs *fs);

/* --- ext2_inode.c ------------------------------------------------------- */

/* Loads inode ino (must be in use: links > 0, a known type). -EIO. */
int ext2_iget(struct ext2_fs *fs, uint32_t ino, struct ext2_inode *ip);
/* Writes ip back into the inode table (cached, dirty). */
int ext2_iput(struct ext2_fs *fs, const struct ext2_inode *ip);
/* Sets up a fresh in-use inode ino (zeroed slot) of the given mode. */
int ext2_inew(struct ext2_fs *fs, uint32_t ino, uint32_t mode, struct ext2_inode *ip);
/* The last link of ip went away: frees its blocks and its number. */
int ext2_idelete(struct ext2_fs *fs, struct ext2_inode *ip);
/* Sets ip's ctime (and mtime if asked) to now. */
void ext2_touch(struct ext2_fs *fs, struct ext2_inode *ip, bool mtime);
/* Largest size a regular file may have on this file system. */
uint64_t ext2_max_size(const struct ext2_fs *fs);
/* True if ip keeps a symlink target in i_block (no data block). */
bool ext2_fast_symlink(const struct ext2_fs *fs, const struct ext2_inode *ip);

/* Block of ip holding logical block lblk: 0 for a hole. With alloc, holes
 * (and missing indirect blocks) get new zeroed blocks; *fresh says so. */
int ext2_bmap(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t lblk, bool alloc,
	      uint32_t *pblk, bool *fresh);
/* Reads up to len bytes at off of ip (stops at i_size). Returns bytes. */
int ext2_file_read(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off, void *buf,
		   uint32_t len);
/* ext2_file_read's part of ext2_read_begin (ext2.h): len <= EXT2_SPLIT_MAX;
 * the blocks the cache does not hold are listed in *sr, not read. */
int ext2_file_read_begin(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off,
			 void *buf, uint32_t len, struct ext2_split_read *sr);
/* The same into buf, whose physical address is buf_phys (0: buf is in the
 * direct map), len <= FS_IO_MAX: whole blocks that are not cached go from
 * the disk straight into buf and stay uncached (bcache_read_direct). */
int ext2_file_read_direct(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off,
			  void *buf, uint64_t buf_phys, uint32_t len);
/* Writes len bytes at off, growing the file. Returns len or an error
 * (the written prefix kept, the size grown only that far). */
int ext2_file_write(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off,
		    const void *buf, uint32_t len);
/* The same from buf at physical address buf_phys (as ext2_file_read_direct),
 * len <= FS_IO_MAX: whole blocks that are not cached go from buf straight
 * to the disk before this returns (bcache_write_direct). */
int ext2_file_write_direct(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off,
			   const void *buf, uint64_t buf_phys, uint32_t len);
/* Sets ip's size, freeing the blocks past it (shrink) or leaving a
 * hole (grow). */
int ext2_file_truncate(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t size);
/* Copies the target of symlink ip with a NUL into buf; returns its
 * length, -ENAMETOOLONG if cap cannot hold it. */
int ext2_link_target(struct ext2_fs *fs, struct ext2_inode *ip, char *buf, size_t cap);
/* Stores target (len < block size) in the new symlink ip: in i_block
 * when it fits, else in a data block. */
int ext2_link_store(struct ext2_fs *fs, struct ext2_inode *ip, const char *target,
		    size_t len);

/* --- ext2_dir.c --------------------------------------------------------- */

/* Where an entry sits: logical block, and byte offsets in that block. */
struct ext2_dirloc {
	uint32_t lblk;
	uint32_t off;
	uint32_t prev_off; /* previous entry in the block, or UINT32_MAX */
};

int ext2_dir_lookup(struct ext2_fs *fs, struct ext2_inode *dir, const char *name,
		    size_t len, uint32_t *ino, struct ext2_dirloc *loc);
/* Adds the entry name -> ino (type: EXT2_FT_*); dir's size may grow. */
int ext2_dir_add(struct ext2_fs *fs, struct ext2_inode *dir, const char *name, size_t len,
		 uint32_t ino, unsigned type);
int ext2_dir_remove(struct ext2_fs *fs, struct ext2_inode *dir,
		    const struct ext2_dirloc *loc);
/* Points the entry at loc to ino (rename over an existing name). */
int ext2_dir_retarget(struct ext2_fs *fs, struct ext2_inode *dir,
		      const struct ext2_dirloc *loc, uint32_t ino, unsigned type);
/* 1 if dir holds only "." and "..", 0 if not, or a negative errno. */
int ext2_dir_empty(struct ext2_fs *fs, struct ext2_inode *dir);
/* Gives a new directory its first block with "." and "..". */
int ext2_dir_init(struct ext2_fs *fs, struct ext2_inode *dir, uint32_t parent);
/* Points dir's ".." at parent. */
int ext2_dir_set_parent(struct ext2_fs *fs, struct ext2_inode *dir, uint32_t parent);
/* linux_dirent64 records from *cookie, as ext2_getdents says. */
int ext2_dir_list(struct ext2_fs *fs, struct ext2_inode *dir, uint64_t *cookie,
		  uint8_t *buf, size_t cap, bool *eof);
unsigned ext2_mode_to_ft(uint32_t mode);

/* --- ext2_path.c -------------------------------------------------------- */

/* What a walk to the parent of a path's last component found. */
enum ext2_last {
	EXT2_LAST_NAME,	  /* an ordinary name */
	EXT2_LAST_NONE,	  /* no component ("/"): the directory itself */
	EXT2_LAST_DOT,	  /* "." */
	EXT2_LAST_DOTDOT, /* ".." */
};

struct ext2_parent {
	uint32_t dir; /* the directory that holds the last name */
	enum ext2_last kind;
	char name[FS_NAME_MAX + 1]; /* the last component, NUL-terminated */
	size_t len;
	uint32_t ino; /* what the name is now: 0 if absent */
	struct ext2_dirloc loc;
};

int ext2_check_path(const char *path);
/* Resolves path from root, following symlinks (the last one too if
 * follow). Returns 0 and *ino. */
int ext2_walk(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
	      const char *path, bool follow, uint32_t *ino);
/* Resolves everything but the last component (not followed). */
int ext2_walk_parent(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		     const char *path, struct ext2_parent *out);
/* The access check of include/proto/file.h: 0 or -EACCES. */
int ext2_permission(const struct fs_cred *cred, const struct ext2_inode *ip,
		    unsigned may);
bool ext2_in_group(const struct fs_cred *cred, uint32_t gid);
/* Sticky directory rule: may cred remove ip from dir? */
bool ext2_sticky_ok(const struct fs_cred *cred, const struct ext2_inode *dir,
		    const struct ext2_inode *ip);

#endif
