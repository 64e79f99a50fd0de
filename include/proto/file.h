/*
 * The file protocol: how processors and memories use the files of a
 * storage component (DESIGN.md sections 1 and 6). Opcodes FS_* are in
 * messages.def; the server is scomponent/fileserv.c, the client
 * net/fs_client.c.
 *
 * Stateless, like NFS: there are no open files or handles on the server.
 * Every request carries the full path, the caller's credentials and, for
 * I/O, the offset and length, so a server may restart between any two
 * requests and a retried request does no harm when it is idempotent
 * (messages.def says which; the RPC layer's duplicate cache covers the
 * others).
 *
 * Paths. Absolute ("/a/b"), NUL-terminated inside FS_PATH_MAX bytes,
 * resolved from the requesting node's export root: the directory of the
 * storage node's disk that this node may see (the storage kernel's
 * exports= word, written by `tessera up` from the manifest's vnodes). A
 * node without an export gets -EACCES for everything. Empty components
 * ("a//b") and "." are skipped; ".." goes up, but never above the export
 * root: such a path is refused with -EACCES. Symbolic links met along the
 * path are followed (at most FS_SYMLINK_DEPTH of them, else -ELOOP); an
 * absolute link target starts again at the export root. A path without
 * a NUL, or not starting with '/', gets -EINVAL; a component longer than
 * FS_NAME_MAX bytes -ENAMETOOLONG.
 *
 * Permissions are checked on the server for every request, the way Linux
 * checks them: search (x) on every directory walked, write and search on
 * the parent to create, remove or rename an entry (and the sticky bit),
 * read or write on the file for I/O, owner (or uid 0) for setattr. uid 0
 * passes every check except exec, which needs some x bit. The server
 * trusts the uid and groups the client kernel sends, as NFS's AUTH_SYS
 * does: the trust boundary is the node, enforced by the export.
 *
 * Data. FS_READ and FS_WRITE move their bytes by RDMA, never inside the
 * messages: the request names a memory region in the requester's fabric
 * window (key, offset), which the server WRITEs (FS_READ, the key needs
 * FAB_ACCESS_REMOTE_WRITE) or READs (FS_WRITE, FAB_ACCESS_REMOTE_READ)
 * before it replies. A region the server cannot reach gives -EFAULT.
 * Directory listings, link targets and reads of up to FS_INLINE_MAX
 * bytes (FS_READ_INLINE) are small and come in the reply.
 *
 * Errors are negative Linux errno values in the reply header's status.
 * Times are seconds since the epoch (ext2 keeps no finer ones).
 */
#ifndef PROTO_FILE_H
#define PROTO_FILE_H

#include <stdint.h>

#define FS_PATH_MAX	 2048	    /* bytes of a path, with its NUL */
#define FS_NAME_MAX	 255	    /* bytes of one path component */
#define FS_IO_MAX	 (1u << 20) /* bytes per FS_READ or FS_WRITE */
#define FS_NGROUPS	 8	    /* supplementary groups per request */
#define FS_DIRENT_BYTES	 4096	    /* directory entries per FS_GETDENTS reply */
#define FS_SYMLINK_DEPTH 8

/* The caller's credentials, at the start of every request. */
struct fs_cred {
	uint32_t uid;
	uint32_t gid;
	uint32_t ngroups;  /* used entries of groups, <= FS_NGROUPS */
	uint32_t reserved; /* 0 */
	uint32_t groups[FS_NGROUPS];
};
_Static_assert(sizeof(struct fs_cred) == 48, "fs_cred wire size");

/* Attributes of a file, as stat(2) gives them, and its identity: (ino,
 * gen) names one life of one file, as an NFS file handle does. ext2
 * reuses a freed inode number at once, but every new inode gets a
 * generation its number never had before (the on-disk i_generation of
 * the slot plus one), so a client that holds the pair of a file that
 * was unlinked since can tell it from a new file under the same number
 * (FS_READ and FS_WRITE's ino and gen: -ESTALE). */
struct fs_attr {
	uint64_t ino;
	uint32_t gen;	   /* the inode's generation (ext2's i_generation) */
	uint32_t reserved; /* 0 */
	uint64_t size;
	uint64_t blocks; /* 512-byte units allocated, as st_blocks */
	uint32_t mode;	 /* S_IFMT type bits and permissions, Linux values */
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint32_t blksize; /* the file system's block size */
	uint32_t rdev;
	int64_t atime;
	int64_t mtime;
	int64_t ctime;
};
_Static_assert(sizeof(struct fs_attr) == 80, "fs_attr wire size");

/* Linux's file type bits (st_mode & S_IFMT) and d_type values. */
#define FS_S_IFMT     0170000u
#define FS_S_IFSOCK   0140000u
#define FS_S_IFLNK    0120000u
#define FS_S_IFREG    0100000u
#define FS_S_IFBLK    0060000u
#define FS_S_IFDIR    0040000u
#define FS_S_IFCHR    0020000u
#define FS_S_IFIFO    0010000u
#define FS_DT_UNKNOWN 0
#define FS_DT_FIFO    1
#define FS_DT_CHR     2
#define FS_DT_DIR     4
#define FS_DT_BLK     6
#define FS_DT_REG     8
#define FS_DT_LNK     10
#define FS_DT_SOCK    12

/* Access bits of FS_STAT's may (as access(2): R_OK, W_OK, X_OK). */
#define FS_MAY_EXEC  1u
#define FS_MAY_WRITE 2u
#define FS_MAY_READ  4u

/* flags of the requests below. */
#define FS_NOFOLLOW 0x1u /* FS_STAT, FS_SETATTR: do not follow a final symlink */
#define FS_EXCL	    0x2u /* FS_CREATE: -EEXIST if the path exists */
#define FS_TRUNC    0x4u /* FS_CREATE: an existing regular file becomes empty */
#define FS_SYNC	    0x8u /* FS_WRITE: on disk (flushed) before the reply */

/* FS_UNLINK, FS_RMDIR, FS_READLINK, FS_STATFS, FS_FSYNC. flags: 0. */
struct fs_path_req {
	struct fs_cred cred;
	uint32_t flags;
	uint32_t reserved; /* 0 */
	char path[FS_PATH_MAX];
};
_Static_assert(sizeof(struct fs_path_req) == 56 + FS_PATH_MAX, "fs_path_req wire size");

/* FS_STAT: the attributes of path, after checking that the caller may
 * access it as may says (FS_MAY_*; 0 checks only the walk). flags:
 * FS_NOFOLLOW. Reply: struct fs_attr. */
struct fs_stat_req {
	struct fs_cred cred;
	uint32_t flags;
	uint32_t may;
	char path[FS_PATH_MAX];
};
_Static_assert(sizeof(struct fs_stat_req) == 56 + FS_PATH_MAX, "fs_stat_req wire size");

/* FS_CREATE: a regular file with permission bits mode & 07777 (umask
 * applied by the client), or the existing one (FS_EXCL: -EEXIST; FS_TRUNC:
 * emptied, if the caller may write it). FS_MKDIR: a directory. Owner: the
 * caller's uid and gid. Reply: struct fs_attr. */
struct fs_create_req {
	struct fs_cred cred;
	uint32_t flags;
	uint32_t mode;
	char path[FS_PATH_MAX];
};
_Static_assert(sizeof(struct fs_create_req) == 56 + FS_PATH_MAX,
	       "fs_create_req wire size");

/* FS_RENAME (path -> path2, replacing a path2 of a compatible type, as
 * rename(2)), FS_LINK (a new name path2 for the file path), FS_SYMLINK (a
 * symbolic link at path2 whose target is the text path, stored as given).
 * flags: 0. Reply: struct fs_empty (FS_RENAME) or the attributes of the
 * new name (FS_LINK, FS_SYMLINK). */
struct fs_two_path_req {
	struct fs_cred cred;
	uint32_t flags;
	uint32_t reserved; /* 0 */
	char path[FS_PATH_MAX];
	char path2[FS_PATH_MAX];
};
_Static_assert(sizeof(struct fs_two_path_req) == 56 + 2 * FS_PATH_MAX,
	       "fs_two_path_req wire size");

/* FS_READ and FS_WRITE: length (<= FS_IO_MAX) bytes at offset of the
 * regular file path, to or from [buf_offset, buf_offset + length) of the
 * requester's window under buf_key. A read stops at the end of the file;
 * a write extends it (holes read as zeroes). flags: FS_SYNC (FS_WRITE).
 * ino 0: whatever file path names; else path must name the file (ino,
 * gen) (struct fs_attr), or the request does nothing and fails with
 * -ESTALE: the file it meant was unlinked (and perhaps its number given
 * to a new file). A memory node's write-back of a MAP_SHARED page names
 * its file so, and never lands in a newer file of the same path or
 * inode number. Reply: struct fs_io. */
struct fs_io_req {
	struct fs_cred cred;
	uint32_t flags;
	uint32_t length;
	uint64_t offset;
	uint64_t buf_offset;
	uint32_t buf_key;
	uint32_t gen; /* with ino: the generation path must have */
	uint64_t ino; /* 0, or the inode path must name (else -ESTALE) */
	char path[FS_PATH_MAX];
};
_Static_assert(sizeof(struct fs_io_req) == 88 + FS_PATH_MAX, "fs_io_req wire size");

struct fs_io {
	uint32_t bytes; /* moved; < length only at the end of the file */
	uint32_t reserved;
	struct fs_attr attr; /* after the operation */
};
_Static_assert(sizeof(struct fs_io) == 88, "fs_io wire size");

/* FS_READ_INLINE: a small read whose bytes come in the reply rather than
 * by RDMA (no memory region, one fabric operation less): the request is
 * a struct fs_io_req with length <= FS_INLINE_MAX, flags 0 and buf_key,
 * buf_offset 0 (ino and gen as FS_READ's). Reply: struct fs_io_inline. */
#define FS_INLINE_MAX 4096u

struct fs_io_inline {
	struct fs_io io;
	uint8_t data[FS_INLINE_MAX]; /* io.bytes of them are the file's */
};
_Static_assert(sizeof(struct fs_io_inline) == 88 + FS_INLINE_MAX,
	       "fs_io_inline wire size");

/* FS_TRUNCATE: the regular file path gets size bytes. Reply: fs_attr. */
struct fs_truncate_req {
	struct fs_cred cred;
	uint64_t size;
	char path[FS_PATH_MAX];
};
_Static_assert(sizeof(struct fs_truncate_req) == 56 + FS_PATH_MAX,
	       "fs_truncate_req wire size");

/* FS_SETATTR: chmod, chown, utimes in one. valid says which fields
 * apply; flags: FS_NOFOLLOW. Reply: struct fs_attr. */
#define FS_SET_MODE  0x1u
#define FS_SET_UID   0x2u
#define FS_SET_GID   0x4u
#define FS_SET_ATIME 0x8u
#define FS_SET_MTIME 0x10u
struct fs_setattr_req {
	struct fs_cred cred;
	uint32_t flags;
	uint32_t valid;
	uint32_t mode; /* permission bits only (07777) */
	uint32_t uid;
	uint32_t gid;
	uint32_t reserved; /* 0 */
	int64_t atime;
	int64_t mtime;
	char path[FS_PATH_MAX];
};
_Static_assert(sizeof(struct fs_setattr_req) == 88 + FS_PATH_MAX,
	       "fs_setattr_req wire size");

/* FS_GETDENTS: entries of directory path from cookie (0: the first) as
 * Linux's struct linux_dirent64 records (d_ino u64, d_off s64 = the
 * cookie of the next entry, d_reclen u16, d_type u8, d_name NUL-ended,
 * each record 8-byte aligned), as many as fit in FS_DIRENT_BYTES.
 * "." and ".." come first. flags: 0. */
struct fs_getdents_req {
	struct fs_cred cred;
	uint64_t cookie;
	char path[FS_PATH_MAX];
};
_Static_assert(sizeof(struct fs_getdents_req) == 56 + FS_PATH_MAX,
	       "fs_getdents_req wire size");

struct fs_dirents {
	uint64_t next_cookie; /* where the next request starts */
	uint32_t bytes;	      /* of data used */
	uint32_t eof;	      /* 1: no entries after these */
	uint8_t data[FS_DIRENT_BYTES];
};
_Static_assert(sizeof(struct fs_dirents) == 16 + FS_DIRENT_BYTES, "fs_dirents wire size");

/* FS_READLINK reply: the target, len bytes, NUL-terminated. */
struct fs_link_target {
	uint32_t len;
	uint32_t reserved;
	char target[FS_PATH_MAX];
};
_Static_assert(sizeof(struct fs_link_target) == 8 + FS_PATH_MAX,
	       "fs_link_target wire size");

/* FS_STATFS reply, as statfs(2). */
struct fs_statfs {
	uint64_t blocks; /* in bsize units */
	uint64_t bfree;
	uint64_t bavail; /* free to non-root users */
	uint64_t files;
	uint64_t ffree;
	uint32_t bsize;
	uint32_t namelen;
};
_Static_assert(sizeof(struct fs_statfs) == 48, "fs_statfs wire size");

/* Replies with nothing to say (FS_UNLINK, FS_RMDIR, FS_RENAME, FS_FSYNC). */
struct fs_empty {
	uint64_t reserved;
};
_Static_assert(sizeof(struct fs_empty) == 8, "fs_empty wire size");

#endif
