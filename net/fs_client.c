/*
 * The file protocol's client (include/net/fs_client.h; the protocol is
 * include/proto/file.h, the server scomponent/fileserv.c).
 *
 * Every call is one or more rpc_call()s on this node's RPC service
 * (status_rpc()) to the server node; requests are built in kmalloc'd
 * memory (they are 2 to 4 KiB, too big for a kernel stack frame) and
 * nothing outlives the call, so any number of threads may call at once
 * without locks.
 *
 * Data. FS_READ and FS_WRITE name a window region that the server WRITEs
 * or READs by RDMA. The client registers, for one call, exactly the range
 * the call moves, with exactly the right the server needs
 * (FAB_ACCESS_REMOTE_WRITE to read a file, FAB_ACCESS_REMOTE_READ to
 * write one), and deregisters it before returning: a late or duplicated
 * server transfer can never reach memory after the call ended, and the
 * server can never write into a buffer it was only meant to read.
 *
 *  - fsc_read_win()/fsc_write_win(): the caller's window range is
 *    registered whole and cut into FS_IO_MAX requests, sent one after the
 *    other (sequential. A second request in flight would hide the RPC
 *    and fabric part of all but one 1 MiB request, a third of its time
 *    under TCG, but callers today move at most 1 MiB per call;
 *    docs/storage.md has the measurements).
 *  - fsc_read()/fsc_write(): ordinary kernel memory. A staging buffer in
 *    the window (FS_IO_MAX bytes, or less if the window is short of
 *    space) is registered for the call and the data copied through it.
 *
 * A write of several requests asks the server for FS_SYNC on the last one
 * only: the server syncs everything written before, so the whole call is
 * on disk when it returns, for the price of one sync.
 *
 * The transport (RPC node and fabric device) is the node's own; the self
 * tests swap in a loopback one with fsc_test_transport() (declared where
 * it is used, scomponent/fileserv_ktest.c: not part of the interface).
 */
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/status.h>
#include <lib/string.h>
#include <net/fs_client.h>
#include <net/rpc.h>
#include <net/verbs.h>

#define FSC_STAGE_MIN (64u << 10) /* smallest staging buffer worth trying */

const struct fs_cred fsc_root = {.uid = 0, .gid = 0, .ngroups = 0};

/* Set only by self tests, before any call, and cleared after the last. */
static struct rpc_node *test_rn;
static struct verbs_dev *test_dev;

void fsc_test_transport(struct rpc_node *rn, struct verbs_dev *dev);
void fsc_test_transport(struct rpc_node *rn, struct verbs_dev *dev)
{
	test_rn = rn;
	test_dev = dev;
}

int fsc_transport(struct rpc_node **rn, struct verbs_dev **dev)
{
	if (test_rn) {
		*rn = test_rn;
		*dev = test_dev;
		return 0;
	}
	*rn = status_rpc();
	if (!*rn)
		return -ENODEV;
	return verbs_open(dev);
}

static int call(uint16_t server, unsigned opcode, const void *req, size_t req_len,
		void *reply, size_t reply_len)
{
	struct rpc_node *rn;
	struct verbs_dev *dev;
	int err = fsc_transport(&rn, &dev);

	if (err)
		return err;
	return rpc_call(rn, server, opcode, req, req_len, reply, reply_len,
			FSC_TIMEOUT_NS);
}

/* Copies path into a request field of FS_PATH_MAX bytes. */
static int put_path(char *dst, const char *path)
{
	size_t len;

	if (!path)
		return -EFAULT;
	len = strnlen(path, FS_PATH_MAX);
	if (len >= FS_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(dst, path, len + 1);
	return 0;
}

/* Checks and copies credentials (a request with bad ones would only come
 * back with -EINVAL: refuse it here, without a round trip). */
static int put_cred(struct fs_cred *dst, const struct fs_cred *cred)
{
	if (!cred)
		cred = &fsc_root;
	if (cred->ngroups > FS_NGROUPS || cred->reserved)
		return -EINVAL;
	*dst = *cred;
	return 0;
}

/* Fills the credentials and the path every request starts with. */
static int put_head(struct fs_cred *dst_cred, char *dst_path, const struct fs_cred *cred,
		    const char *path)
{
	int err = put_cred(dst_cred, cred);

	return err ? err : put_path(dst_path, path);
}

/*
 * Sends request rq (kzalloc'd, rq_len bytes; freed here) unless err says
 * filling it failed, for a struct fs_attr reply copied to *attr (if not
 * NULL). rq NULL: -ENOMEM.
 */
static int attr_call(uint16_t server, unsigned opcode, void *rq, size_t rq_len, int err,
		     struct fs_attr *attr)
{
	struct fs_attr a;

	if (!rq)
		return -ENOMEM;
	if (!err)
		err = call(server, opcode, rq, rq_len, &a, sizeof(a));
	kfree(rq);
	if (!err && attr)
		*attr = a;
	return err;
}

int fsc_stat(uint16_t server, const struct fs_cred *cred, const char *path,
	     unsigned flags, unsigned may, struct fs_attr *attr)
{
	struct fs_stat_req *rq = kzalloc(sizeof(*rq));

	if (!rq)
		return -ENOMEM;
	rq->flags = flags;
	rq->may = may;
	return attr_call(server, MSG_FS_STAT, rq, sizeof(*rq),
			 put_head(&rq->cred, rq->path, cred, path), attr);
}

/* ---- reads and writes -------------------------------------------------- */

/* The file an FS_READ or FS_WRITE must reach (id NULL: whatever its path
 * names). */
static void put_ident(struct fs_io_req *rq, const struct fsc_ident *id)
{
	rq->ino = id ? id->ino : 0;
	rq->gen = id && id->ino ? id->gen : 0;
}

/*
 * Moves len bytes between the file and [buf_offset, buf_offset + len) of
 * the window, registered under key, in FS_IO_MAX requests. Returns the
 * bytes moved (fewer than len only for a read at the end of the file), or
 * a negative errno; *attr (if not NULL) the attributes the last reply gave.
 */
static long io_chunks(uint16_t server, unsigned opcode, const struct fs_cred *cred,
		      const char *path, const struct fsc_ident *id, uint64_t offset,
		      uint32_t key, uint64_t buf_offset, size_t len, unsigned flags,
		      struct fs_attr *attr)
{
	struct fs_io_req *rq = kzalloc(sizeof(*rq));
	size_t done = 0;
	long err;

	if (!rq)
		return -ENOMEM;
	err = put_head(&rq->cred, rq->path, cred, path);
	put_ident(rq, id);
	while (!err && done < len) {
		uint32_t chunk =
			len - done > FS_IO_MAX ? FS_IO_MAX : (uint32_t)(len - done);
		bool last = done + chunk == len;
		struct fs_io rep;

		rq->flags = last ? flags : flags & ~FS_SYNC;
		rq->length = chunk;
		rq->offset = offset + done;
		rq->buf_offset = buf_offset + done;
		rq->buf_key = key;
		err = call(server, opcode, rq, sizeof(*rq), &rep, sizeof(rep));
		if (err)
			break;
		if (rep.bytes > chunk || (opcode == MSG_FS_WRITE && rep.bytes != chunk)) {
			err = -EPROTO;
			break;
		}
		done += rep.bytes;
		if (attr)
			*attr = rep.attr;
		if (rep.bytes < chunk)
			break; /* end of the file */
	}
	kfree(rq);
	return err ? err : (long)done;
}

/* True if [offset, offset + len) lies in the data area of dev's window
 * (where the caller's buffers are; the rings below are not theirs). */
static bool window_range_ok(struct verbs_dev *dev, uint64_t offset, size_t len)
{
	uint64_t size = verbs_window_hdr(dev)->window_size;

	return offset >= FAB_DATA_OFFSET && offset <= size && len <= size - offset;
}

/* A read of len <= FS_INLINE_MAX bytes with the data in the reply
 * (FS_READ_INLINE), into dst; returns the bytes read. */
static long read_inline(uint16_t server, const struct fs_cred *cred, const char *path,
			const struct fsc_ident *id, uint64_t offset, void *dst, size_t len,
			struct fs_attr *attr)
{
	struct fs_io_req *rq = kzalloc(sizeof(*rq));
	struct fs_io_inline *rep = kmalloc(sizeof(*rep));
	long err = rq && rep ? 0 : -ENOMEM;

	if (!err)
		err = put_head(&rq->cred, rq->path, cred, path);
	if (!err) {
		put_ident(rq, id);
		rq->length = (uint32_t)len;
		rq->offset = offset;
		err = call(server, MSG_FS_READ_INLINE, rq, sizeof(*rq), rep,
			   sizeof(*rep));
	}
	if (!err && rep->io.bytes > len)
		err = -EPROTO;
	if (!err) {
		memcpy(dst, rep->data, rep->io.bytes);
		err = rep->io.bytes;
		if (attr)
			*attr = rep->io.attr;
	}
	kfree(rq);
	kfree(rep);
	return err;
}

/* Decodes what every read and write takes; 0 or -EINVAL. */
static int io_check(uint64_t offset, size_t len, unsigned flags, unsigned allowed)
{
	if ((flags & ~allowed) || offset + len < offset || len > (size_t)INT64_MAX)
		return -EINVAL;
	return 0;
}

static long io_win(uint16_t server, unsigned opcode, const struct fs_cred *cred,
		   const char *path, const struct fsc_ident *id, uint64_t offset,
		   uint64_t win_offset, size_t len, unsigned flags, struct fs_attr *attr)
{
	uint32_t access =
		opcode == MSG_FS_READ ? FAB_ACCESS_REMOTE_WRITE : FAB_ACCESS_REMOTE_READ;
	struct rpc_node *rn;
	struct verbs_dev *dev;
	struct verbs_mr mr;
	long r;

	r = io_check(offset, len, flags, opcode == MSG_FS_WRITE ? FS_SYNC : 0);
	if (r || len == 0)
		return r;
	r = fsc_transport(&rn, &dev);
	if (r)
		return r;
	if (opcode == MSG_FS_READ && len <= FS_INLINE_MAX) {
		if (!window_range_ok(dev, win_offset, len))
			return -EFAULT;
		return read_inline(server, cred, path, id, offset,
				   (uint8_t *)verbs_window_hdr(dev) + win_offset, len, attr);
	}
	r = verbs_reg_mr(dev, win_offset, len, access, &mr);
	if (r)
		return r;
	r = io_chunks(server, opcode, cred, path, id, offset, mr.key, win_offset, len, flags,
		      attr);
	verbs_dereg_mr(dev, &mr);
	return r;
}

long fsc_read_win(uint16_t server, const struct fs_cred *cred, const char *path,
		  uint64_t offset, uint64_t win_offset, size_t len)
{
	return io_win(server, MSG_FS_READ, cred, path, NULL, offset, win_offset, len, 0,
		      NULL);
}

long fsc_write_win(uint16_t server, const struct fs_cred *cred, const char *path,
		   uint64_t offset, uint64_t win_offset, size_t len, unsigned flags)
{
	return io_win(server, MSG_FS_WRITE, cred, path, NULL, offset, win_offset, len, flags,
		      NULL);
}

long fsc_read_win_attr(uint16_t server, const struct fs_cred *cred, const char *path,
		       const struct fsc_ident *id, uint64_t offset, uint64_t win_offset,
		       size_t len, struct fs_attr *attr)
{
	return io_win(server, MSG_FS_READ, cred, path, id, offset, win_offset, len, 0, attr);
}

long fsc_write_win_attr(uint16_t server, const struct fs_cred *cred, const char *path,
			const struct fsc_ident *id, uint64_t offset, uint64_t win_offset,
			size_t len, unsigned flags, struct fs_attr *attr)
{
	return io_win(server, MSG_FS_WRITE, cred, path, id, offset, win_offset, len, flags,
		      attr);
}

int fsc_stage_get(struct verbs_dev *dev, size_t len, uint32_t access,
		  struct verbs_buf *buf, struct verbs_mr *mr)
{
	size_t size = len < FS_IO_MAX ? len : FS_IO_MAX;
	int err;

	for (;;) {
		err = verbs_buf_alloc(dev, size, buf);
		if (!err || size <= FSC_STAGE_MIN)
			break;
		size /= 2;
	}
	if (err)
		return err;
	err = verbs_reg_mr(dev, buf->offset, buf->size, access, mr);
	if (err)
		verbs_buf_free(dev, buf);
	return err;
}

void fsc_stage_put(struct verbs_dev *dev, struct verbs_buf *buf, struct verbs_mr *mr)
{
	verbs_dereg_mr(dev, mr);
	verbs_buf_free(dev, buf);
}

long fsc_read(uint16_t server, const struct fs_cred *cred, const char *path,
	      uint64_t offset, void *buf, size_t len)
{
	struct rpc_node *rn;
	struct verbs_dev *dev;
	struct verbs_buf stage;
	struct verbs_mr mr;
	size_t done = 0;
	long r;

	r = io_check(offset, len, 0, 0);
	if (r || len == 0)
		return r;
	if (len <= FS_INLINE_MAX)
		return read_inline(server, cred, path, NULL, offset, buf, len, NULL);
	r = fsc_transport(&rn, &dev);
	if (!r)
		r = fsc_stage_get(dev, len, FAB_ACCESS_REMOTE_WRITE, &stage, &mr);
	if (r)
		return r;
	while (done < len) {
		size_t chunk = len - done < stage.size ? len - done : stage.size;

		r = io_chunks(server, MSG_FS_READ, cred, path, NULL, offset + done, mr.key,
			      stage.offset, chunk, 0, NULL);
		if (r < 0)
			break;
		memcpy((uint8_t *)buf + done, stage.va, (size_t)r);
		done += (size_t)r;
		if ((size_t)r < chunk)
			break;
	}
	fsc_stage_put(dev, &stage, &mr);
	return r < 0 ? r : (long)done;
}

long fsc_write(uint16_t server, const struct fs_cred *cred, const char *path,
	       uint64_t offset, const void *buf, size_t len, unsigned flags)
{
	struct rpc_node *rn;
	struct verbs_dev *dev;
	struct verbs_buf stage;
	struct verbs_mr mr;
	size_t done = 0;
	long r;

	r = io_check(offset, len, flags, FS_SYNC);
	if (r || len == 0)
		return r;
	r = fsc_transport(&rn, &dev);
	if (!r)
		r = fsc_stage_get(dev, len, FAB_ACCESS_REMOTE_READ, &stage, &mr);
	if (r)
		return r;
	while (done < len) {
		size_t chunk = len - done < stage.size ? len - done : stage.size;
		bool last = done + chunk == len;

		memcpy(stage.va, (const uint8_t *)buf + done, chunk);
		r = io_chunks(server, MSG_FS_WRITE, cred, path, NULL, offset + done, mr.key,
			      stage.offset, chunk, last ? flags : flags & ~FS_SYNC, NULL);
		if (r < 0)
			break;
		done += chunk;
	}
	fsc_stage_put(dev, &stage, &mr);
	return r < 0 ? r : (long)done;
}

/* ---- metadata ---------------------------------------------------------- */

static int create_like(uint16_t server, unsigned opcode, const struct fs_cred *cred,
		       const char *path, uint32_t mode, unsigned flags,
		       struct fs_attr *attr)
{
	struct fs_create_req *rq = kzalloc(sizeof(*rq));

	if (!rq)
		return -ENOMEM;
	rq->flags = flags;
	rq->mode = mode;
	return attr_call(server, opcode, rq, sizeof(*rq),
			 put_head(&rq->cred, rq->path, cred, path), attr);
}

int fsc_create(uint16_t server, const struct fs_cred *cred, const char *path,
	       uint32_t mode, unsigned flags, struct fs_attr *attr)
{
	return create_like(server, MSG_FS_CREATE, cred, path, mode, flags, attr);
}

int fsc_mkdir(uint16_t server, const struct fs_cred *cred, const char *path,
	      uint32_t mode, struct fs_attr *attr)
{
	return create_like(server, MSG_FS_MKDIR, cred, path, mode, 0, attr);
}

/* FS_UNLINK, FS_RMDIR, FS_FSYNC: a path, an empty reply. */
static int path_only(uint16_t server, unsigned opcode, const struct fs_cred *cred,
		     const char *path)
{
	struct fs_path_req *rq = kzalloc(sizeof(*rq));
	struct fs_empty rep;
	int err;

	if (!rq)
		return -ENOMEM;
	err = put_head(&rq->cred, rq->path, cred, path);
	if (!err)
		err = call(server, opcode, rq, sizeof(*rq), &rep, sizeof(rep));
	kfree(rq);
	return err;
}

int fsc_unlink(uint16_t server, const struct fs_cred *cred, const char *path)
{
	return path_only(server, MSG_FS_UNLINK, cred, path);
}

int fsc_rmdir(uint16_t server, const struct fs_cred *cred, const char *path)
{
	return path_only(server, MSG_FS_RMDIR, cred, path);
}

int fsc_fsync(uint16_t server, const struct fs_cred *cred, const char *path)
{
	return path_only(server, MSG_FS_FSYNC, cred, path);
}

/* FS_RENAME, FS_LINK, FS_SYMLINK: two paths; reply_len 0 for fs_empty. */
static int two_paths(uint16_t server, unsigned opcode, const struct fs_cred *cred,
		     const char *path, const char *path2, struct fs_attr *attr)
{
	struct fs_two_path_req *rq = kzalloc(sizeof(*rq));
	union {
		struct fs_attr attr;
		struct fs_empty empty;
	} rep;
	size_t rep_len = opcode == MSG_FS_RENAME ? sizeof(rep.empty) : sizeof(rep.attr);
	int err;

	if (!rq)
		return -ENOMEM;
	err = put_head(&rq->cred, rq->path, cred, path);
	if (!err)
		err = put_path(rq->path2, path2);
	if (!err)
		err = call(server, opcode, rq, sizeof(*rq), &rep, rep_len);
	kfree(rq);
	if (!err && attr && opcode != MSG_FS_RENAME)
		*attr = rep.attr;
	return err;
}

int fsc_rename(uint16_t server, const struct fs_cred *cred, const char *from,
	       const char *to)
{
	return two_paths(server, MSG_FS_RENAME, cred, from, to, NULL);
}

int fsc_link(uint16_t server, const struct fs_cred *cred, const char *oldpath,
	     const char *newpath, struct fs_attr *attr)
{
	return two_paths(server, MSG_FS_LINK, cred, oldpath, newpath, attr);
}

int fsc_symlink(uint16_t server, const struct fs_cred *cred, const char *target,
		const char *linkpath, struct fs_attr *attr)
{
	return two_paths(server, MSG_FS_SYMLINK, cred, target, linkpath, attr);
}

int fsc_readlink(uint16_t server, const struct fs_cred *cred, const char *path, char *buf,
		 size_t cap)
{
	struct fs_path_req *rq = kzalloc(sizeof(*rq));
	struct fs_link_target *rep = kmalloc(sizeof(*rep));
	int err = rq && rep ? 0 : -ENOMEM;

	if (!err)
		err = put_head(&rq->cred, rq->path, cred, path);
	if (!err)
		err = call(server, MSG_FS_READLINK, rq, sizeof(*rq), rep, sizeof(*rep));
	if (!err && (rep->len >= FS_PATH_MAX || rep->target[rep->len] != '\0'))
		err = -EPROTO;
	if (!err && rep->len + 1 > cap)
		err = -ENAMETOOLONG;
	if (!err) {
		memcpy(buf, rep->target, rep->len + 1);
		err = (int)rep->len;
	}
	kfree(rq);
	kfree(rep);
	return err;
}

int fsc_truncate(uint16_t server, const struct fs_cred *cred, const char *path,
		 uint64_t size, struct fs_attr *attr)
{
	struct fs_truncate_req *rq = kzalloc(sizeof(*rq));

	if (!rq)
		return -ENOMEM;
	rq->size = size;
	return attr_call(server, MSG_FS_TRUNCATE, rq, sizeof(*rq),
			 put_head(&rq->cred, rq->path, cred, path), attr);
}

int fsc_setattr(uint16_t server, const struct fs_cred *cred, const char *path,
		unsigned flags, unsigned valid, uint32_t mode, uint32_t uid, uint32_t gid,
		int64_t atime, int64_t mtime, struct fs_attr *attr)
{
	struct fs_setattr_req *rq = kzalloc(sizeof(*rq));

	if (!rq)
		return -ENOMEM;
	rq->flags = flags;
	rq->valid = valid;
	rq->mode = mode;
	rq->uid = uid;
	rq->gid = gid;
	rq->atime = atime;
	rq->mtime = mtime;
	return attr_call(server, MSG_FS_SETATTR, rq, sizeof(*rq),
			 put_head(&rq->cred, rq->path, cred, path), attr);
}

int fsc_getdents(uint16_t server, const struct fs_cred *cred, const char *path,
		 uint64_t *cookie, struct fs_dirents *out)
{
	struct fs_getdents_req *rq = kzalloc(sizeof(*rq));
	int err;

	if (!rq)
		return -ENOMEM;
	err = put_head(&rq->cred, rq->path, cred, path);
	rq->cookie = *cookie;
	if (!err)
		err = call(server, MSG_FS_GETDENTS, rq, sizeof(*rq), out, sizeof(*out));
	kfree(rq);
	if (!err && out->bytes > FS_DIRENT_BYTES)
		err = -EPROTO;
	if (!err)
		*cookie = out->next_cookie;
	return err;
}

int fsc_statfs(uint16_t server, const struct fs_cred *cred, const char *path,
	       struct fs_statfs *st)
{
	struct fs_path_req *rq = kzalloc(sizeof(*rq));
	struct fs_statfs rep;
	int err;

	if (!rq)
		return -ENOMEM;
	err = put_head(&rq->cred, rq->path, cred, path);
	if (!err)
		err = call(server, MSG_FS_STATFS, rq, sizeof(*rq), &rep, sizeof(rep));
	kfree(rq);
	if (!err && st)
		*st = rep;
	return err;
}
