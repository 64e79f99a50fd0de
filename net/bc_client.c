/*
 * The buffer cache protocol's client (include/net/bc_client.h; the
 * protocol is include/proto/bcache.h, the server mcomponent/bcache.c).
 *
 * Built like the file client (net/fs_client.c), whose transport and
 * staging it shares: a call registers a staging buffer of this node's
 * window (its length, at most BC_IO_MAX: one request's worth, reused for
 * the next piece of a longer call) with exactly the right the cache node
 * needs
 * (FAB_ACCESS_REMOTE_WRITE to read a file, FAB_ACCESS_REMOTE_READ to write
 * one), copies the data through it, and deregisters it before returning,
 * so a late transfer can never reach memory after the call. Requests are
 * built in kmalloc'd memory (2 KiB and more) and nothing outlives a call:
 * no locks.
 */
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <lib/string.h>
#include <net/bc_client.h>
#include <net/fs_client.h>
#include <net/rpc.h>
#include <net/verbs.h>

/* Fills the credentials and path every request carries; 0, -EINVAL,
 * -EFAULT, -ENAMETOOLONG. */
static int put_target(struct fs_cred *dcred, char *dpath, const struct bc_target *t)
{
	const struct fs_cred *cred = t->cred ? t->cred : &fsc_root;
	size_t len;

	if (cred->ngroups > FS_NGROUPS || cred->reserved)
		return -EINVAL;
	if (!t->path)
		return -EFAULT;
	len = strnlen(t->path, FS_PATH_MAX);
	if (len >= FS_PATH_MAX)
		return -ENAMETOOLONG;
	*dcred = *cred;
	memcpy(dpath, t->path, len + 1);
	return 0;
}

/*
 * Moves len bytes between t at offset and buf through a staging buffer,
 * one request of at most BC_IO_MAX bytes at a time. opcode: MSG_BC_READ,
 * MSG_BC_WRITE or MSG_BC_APPEND. Returns the bytes moved or an errno.
 */
static long io(uint16_t node, unsigned opcode, const struct bc_target *t, uint64_t offset,
	       uint8_t *buf, size_t len, uint64_t *at)
{
	uint32_t access = opcode == MSG_BC_READ ? FAB_ACCESS_REMOTE_WRITE : FAB_ACCESS_REMOTE_READ;
	struct bc_io_req *rq = kzalloc(sizeof(*rq));
	struct rpc_node *rn;
	struct verbs_dev *dev;
	struct verbs_buf stage;
	struct verbs_mr mr;
	size_t done = 0;
	long err;

	if (!rq)
		return -ENOMEM;
	err = put_target(&rq->cred, rq->path, t);
	rq->ino = t->ino;
	rq->storage = t->storage;
	rq->flags = t->exact ? BC_EXACT : 0;
	rq->gen = t->exact ? t->gen : 0;
	if (!err)
		err = fsc_transport(&rn, &dev);
	if (!err)
		err = fsc_stage_get(dev, len < BC_IO_MAX ? len : BC_IO_MAX, access, &stage, &mr);
	if (err)
		goto free_rq;
	while (done < len) {
		size_t chunk = len - done < stage.size ? len - done : stage.size;
		struct bc_io rep;

		chunk = chunk < BC_IO_MAX ? chunk : BC_IO_MAX;
		if (opcode != MSG_BC_READ)
			memcpy(stage.va, buf + done, chunk);
		rq->offset = opcode == MSG_BC_APPEND ? 0 : offset + done;
		rq->length = (uint32_t)chunk;
		rq->buf_offset = stage.offset;
		rq->buf_key = mr.key;
		err = rpc_call(rn, node, opcode, rq, sizeof(*rq), &rep, sizeof(rep),
			       FSC_TIMEOUT_NS);
		if (err)
			break;
		if (rep.bytes > chunk || (opcode != MSG_BC_READ && rep.bytes != chunk)) {
			err = -EPROTO;
			break;
		}
		if (opcode == MSG_BC_READ)
			memcpy(buf + done, stage.va, rep.bytes);
		if (!done && at)
			*at = rep.offset;
		done += rep.bytes;
		if (rep.bytes < chunk)
			break; /* end of the file */
	}
	fsc_stage_put(dev, &stage, &mr);
free_rq:
	kfree(rq);
	return done ? (long)done : err;
}

long bcc_read(uint16_t node, const struct bc_target *t, uint64_t offset, void *buf,
	      size_t len)
{
	if (offset + len < offset)
		return -EINVAL;
	return len ? io(node, MSG_BC_READ, t, offset, buf, len, NULL) : 0;
}

long bcc_write(uint16_t node, const struct bc_target *t, uint64_t offset, const void *buf,
	       size_t len, bool append, uint64_t *at)
{
	if (offset + len < offset)
		return -EINVAL;
	if (!len)
		return 0;
	return io(node, append ? MSG_BC_APPEND : MSG_BC_WRITE, t, offset, (uint8_t *)buf, len,
		  at);
}

int bcc_truncate(uint16_t node, const struct bc_target *t, uint64_t size,
		 struct fs_attr *attr)
{
	struct bc_truncate_req *rq = kzalloc(sizeof(*rq));
	struct rpc_node *rn;
	struct verbs_dev *dev;
	struct fs_attr a;
	int err;

	if (!rq)
		return -ENOMEM;
	err = put_target(&rq->cred, rq->path, t);
	rq->ino = t->ino;
	rq->size = size;
	rq->storage = t->storage;
	if (!err)
		err = fsc_transport(&rn, &dev);
	if (!err)
		err = rpc_call(rn, node, MSG_BC_TRUNCATE, rq, sizeof(*rq), &a, sizeof(a),
			       FSC_TIMEOUT_NS);
	kfree(rq);
	if (!err && attr)
		*attr = a;
	return err;
}

int bcc_forget(uint16_t node, uint16_t storage, uint64_t ino)
{
	struct bc_forget_req rq = {.ino = ino, .storage = storage};
	struct rpc_node *rn;
	struct verbs_dev *dev;
	struct fs_empty rep;
	int err = fsc_transport(&rn, &dev);

	if (err)
		return err;
	return rpc_call(rn, node, MSG_BC_FORGET, &rq, sizeof(rq), &rep, sizeof(rep),
			FSC_TIMEOUT_NS);
}
