/*
 * The client side of the file protocol (net/fs_client.c): calls on a
 * storage node's files over RPC, with file data moved by RDMA. The
 * protocol and its rules (paths, permissions, errors) are in
 * include/proto/file.h; this is the same set of calls as functions.
 *
 * Every call names the server node, sleeps until the reply and returns 0
 * (or a byte count) or a negative errno: the server's, or the RPC
 * layer's (-ETIMEDOUT, -ECONNRESET, -EHOSTUNREACH), or -ENAMETOOLONG for
 * a path longer than FS_PATH_MAX - 1. Any number of threads may call at
 * once. Thread context.
 *
 * fsc_read()/fsc_write() take ordinary kernel memory of any length: they
 * stage it through window buffers, FS_IO_MAX bytes per request, several
 * requests in flight. fsc_read_win()/fsc_write_win() take memory in this
 * node's fabric window and let the server move the bytes straight in or
 * out (no copy on this node).
 */
#ifndef NET_FS_CLIENT_H
#define NET_FS_CLIENT_H

#include <net/verbs.h>
#include <proto/file.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FSC_TIMEOUT_NS (10ull * 1000 * 1000 * 1000) /* per request */

/* Credentials of uid 0, gid 0, no groups. */
extern const struct fs_cred fsc_root;

int fsc_stat(uint16_t server, const struct fs_cred *cred, const char *path, unsigned flags,
	     unsigned may, struct fs_attr *attr);
/* Returns the bytes read: len, or fewer at the end of the file. */
long fsc_read(uint16_t server, const struct fs_cred *cred, const char *path, uint64_t offset,
	      void *buf, size_t len);
/* Returns len, or a negative errno (some prefix may have been written). */
long fsc_write(uint16_t server, const struct fs_cred *cred, const char *path, uint64_t offset,
	       const void *buf, size_t len, unsigned flags);
/* The same with buf at win_offset in this node's window (any length;
 * the client registers it for the server for the duration of the call). */
long fsc_read_win(uint16_t server, const struct fs_cred *cred, const char *path,
		  uint64_t offset, uint64_t win_offset, size_t len);
long fsc_write_win(uint16_t server, const struct fs_cred *cred, const char *path,
		   uint64_t offset, uint64_t win_offset, size_t len, unsigned flags);
/* One life of one file (struct fs_attr's ino and gen); ino 0: any. */
struct fsc_ident {
	uint64_t ino;
	uint32_t gen;
};
/* The same, with the file's attributes after the call (the last reply's)
 * in *attr when it succeeds: what a cache of the file's data needs to know
 * its size (mcomponent/bcache.c); and with id (may be NULL), the file
 * path must still name, else -ESTALE and nothing moved. */
long fsc_read_win_attr(uint16_t server, const struct fs_cred *cred, const char *path,
		       const struct fsc_ident *id, uint64_t offset, uint64_t win_offset,
		       size_t len, struct fs_attr *attr);
long fsc_write_win_attr(uint16_t server, const struct fs_cred *cred, const char *path,
			const struct fsc_ident *id, uint64_t offset, uint64_t win_offset,
			size_t len, unsigned flags, struct fs_attr *attr);

int fsc_create(uint16_t server, const struct fs_cred *cred, const char *path, uint32_t mode,
	       unsigned flags, struct fs_attr *attr);
int fsc_mkdir(uint16_t server, const struct fs_cred *cred, const char *path, uint32_t mode,
	      struct fs_attr *attr);
int fsc_unlink(uint16_t server, const struct fs_cred *cred, const char *path);
int fsc_rmdir(uint16_t server, const struct fs_cred *cred, const char *path);
int fsc_rename(uint16_t server, const struct fs_cred *cred, const char *from, const char *to);
int fsc_link(uint16_t server, const struct fs_cred *cred, const char *oldpath,
	     const char *newpath, struct fs_attr *attr);
int fsc_symlink(uint16_t server, const struct fs_cred *cred, const char *target,
		const char *linkpath, struct fs_attr *attr);
/* Copies the target with a NUL into buf; returns its length. */
int fsc_readlink(uint16_t server, const struct fs_cred *cred, const char *path, char *buf,
		 size_t cap);
int fsc_truncate(uint16_t server, const struct fs_cred *cred, const char *path, uint64_t size,
		 struct fs_attr *attr);
int fsc_setattr(uint16_t server, const struct fs_cred *cred, const char *path, unsigned flags,
		unsigned valid, uint32_t mode, uint32_t uid, uint32_t gid, int64_t atime,
		int64_t mtime, struct fs_attr *attr);
/* One FS_GETDENTS: linux_dirent64 records from *cookie into out. */
int fsc_getdents(uint16_t server, const struct fs_cred *cred, const char *path,
		 uint64_t *cookie, struct fs_dirents *out);
int fsc_statfs(uint16_t server, const struct fs_cred *cred, const char *path,
	       struct fs_statfs *st);
int fsc_fsync(uint16_t server, const struct fs_cred *cred, const char *path);

/*
 * What other clients that move data by RDMA share with this one (the
 * buffer cache's, net/bc_client.c):
 * fsc_transport: this node's RPC service and fabric device (a self test's
 * loopback ones while it has set them); -ENODEV without a fabric.
 * fsc_stage_get: a staging buffer of up to min(len, FS_IO_MAX) bytes in
 * the window (halved down to 64 KiB while the window is short of space),
 * registered with exactly access for the peer; 0 or a verbs errno.
 * fsc_stage_put: deregisters and frees it.
 */
struct rpc_node;
int fsc_transport(struct rpc_node **rn, struct verbs_dev **dev);
int fsc_stage_get(struct verbs_dev *dev, size_t len, uint32_t access, struct verbs_buf *buf,
		  struct verbs_mr *mr);
void fsc_stage_put(struct verbs_dev *dev, struct verbs_buf *buf, struct verbs_mr *mr);

#endif
