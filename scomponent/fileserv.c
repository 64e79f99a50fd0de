/*
 * The file service: the server side of the file protocol
 * (include/proto/file.h; the API is scomponent/fileserv.h, the client
 * net/fs_client.c, the document docs/storage.md).
 *
 * Stateless. A request names everything it needs (credentials, full
 * path, offset, length, the client's buffer); the server keeps no open
 * files, so a restarted server answers the next request as if nothing
 * happened, and an idempotent request can be repeated.
 *
 * Each handler decodes, then acts (DESIGN.md section 4):
 *   1. its service: the one bound to the rpc_node that received the
 *      request (-ENODEV if none);
 *   2. the request: credentials (ngroups <= FS_NGROUPS, reserved 0),
 *      flags it knows, reserved fields 0, lengths (<= FS_IO_MAX, no
 *      offset overflow), and each path: NUL-terminated inside its
 *      FS_PATH_MAX bytes and absolute (-EINVAL). Paths are copied out of
 *      the receive buffer into the service's path buffers;
 *   3. the export: the requesting node (ctx->src_node, which the RPC
 *      layer checked against the fabric's word for it) must have an
 *      export root (-EACCES); without a file system the answer is the
 *      mount's error (-ENODEV no disk, -EIO unusable disk);
 *   4. then ext2 does the work from that root, with the permission checks
 *      and the ".." rule of file.h (scomponent/ext2.h); an FS_READ or
 *      FS_WRITE that names its file by (ino, gen) first checks that its
 *      path still is that file (same_file: -ESTALE, nothing moved).
 * Nothing changes on disk before step 4, and an answer to a hostile
 * request is always an errno, never a panic.
 *
 * Data moves by RDMA, with one QP of the service's own and one staging
 * buffer of FS_IO_MAX bytes in this node's window: FS_READ reads the file
 * into the buffer and WRITEs it to (buf_key, buf_offset) of the
 * requester with the reply fenced right behind (rdma_reply_behind: the
 * fabric delivers the reply once the data is there, so the requester
 * does not wait for this node to see the WRITE's completion), then waits
 * for that completion (at most FILESERV_RDMA_TIMEOUT_NS) before the
 * buffer is used again; FS_WRITE READs the data first, then writes the
 * file and replies. Requests
 * of FILESERV_DIRECT_MIN bytes or more move their whole blocks between
 * the disk and the staging buffer directly (ext2_read_direct,
 * ext2_write_direct: virtio-blk DMA into the window by its physical
 * address), past the block cache: a 1 MiB read is then one batch of disk
 * requests and no copy (before: four batches and a 1 MiB copy out of the
 * cache), a 1 MiB write goes to the disk at once rather than filling the
 * cache with dirty blocks. A
 * transfer that fails (a bad key, range or right on the requester's
 * side) answers -EFAULT. One that does not complete in time answers
 * -ETIMEDOUT, and its buffer is set aside (not reused) until its late
 * completion comes: a transfer still running must not see the buffer
 * change under it.
 *
 * Concurrency. Requests of one rpc_node are served one at a time, in the
 * RPC layer's single server thread: the path buffers, the QP and the
 * staging buffer belong to that thread. Small reads (FS_READ_INLINE) are
 * the exception: FILESERV_READERS workers of the RPC layer's pool serve
 * them (rpc_serve_pool), each with memory of its own (struct
 * small_read). ext2 is not thread-safe (one thread at a time per struct
 * ext2_fs), and the sync thread uses the same file system, so every ext2
 * call is made holding fs_sem, a binary semaphore (a completion with one
 * token: ext2 calls sleep on disk I/O, so a spinlock would not do). A
 * small read gives fs_sem up while it waits for the disk (read_small:
 * ext2_read_begin, ext2_read_fetch unlocked, ext2_read_end), so eight
 * random 4 KiB reads keep eight disk requests in flight instead of one,
 * and a read of a cached block or any other request does not wait behind
 * a disk read. ext2_read_end refuses what was fetched if a block was
 * freed meanwhile (it may be another file's by then: the read is done
 * again holding fs_sem), so a read never returns bytes its file did not
 * hold; one that overlaps a write of the same bytes may return either
 * version, as with Linux. The services table is under table_lock.
 *
 * Sync. FS_SYNC and FS_FSYNC sync at once; besides, a thread syncs a file
 * system that changed every FILESERV_SYNC_PERIOD_NS, so that a storage
 * node stopped without warning (tessera down, a crash) loses at most the
 * last seconds of changes; the file system is consistent for e2fsck
 * after every sync.
 */
#include "fileserv.h"

#include "ext2.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/wait.h>
#include <lib/string.h>
#include <proto/file.h>

#define FILESERV_MAX	 2 /* services at once: the node's, a self test's */
#define FILESERV_ZOMBIES 4 /* staging buffers of timed-out transfers */
/* FS_READ and FS_WRITE from this size on go past the block cache */
#define FILESERV_DIRECT_MIN (64u << 10)
/* RPC pool workers serving FS_READ_INLINE (read_small), so many at once */
#define FILESERV_READERS RPC_MAX_WORKERS
#define FS_MAY_ALL	    (FS_MAY_EXEC | FS_MAY_WRITE | FS_MAY_READ)
#define FS_SET_ALL	    (FS_SET_MODE | FS_SET_UID | FS_SET_GID | FS_SET_ATIME | FS_SET_MTIME)

struct fs_export {
	uint16_t node;
	uint32_t ino; /* under fs_sem: the root's inode, 0 until resolved */
	char path[KCONFIG_PATH_MAX];
};

/* A staging buffer whose transfer timed out, freed at its completion. */
struct zombie {
	uint64_t wr_id; /* 0: free slot */
	struct verbs_buf buf;
};

struct fileserv {
	struct rpc_node *rn; /* set at start: the table's key */
	struct verbs_dev *dev;

	struct completion fs_sem; /* one token: held around every ext2 call */
	struct ext2_fs *fs;	  /* NULL: no file system (fs_err says why) */
	int fs_err;
	bool dirty; /* under fs_sem: changes since the last sync */
	unsigned nexports;
	struct fs_export exports[KCONFIG_MAX_EXPORTS]; /* ino under fs_sem */

	/* The RPC server thread's alone: */
	struct verbs_qp *qp;
	struct verbs_buf stage; /* size 0: lost (transfers answer -EIO) */
	uint64_t wr_seq;
	struct zombie zombies[FILESERV_ZOMBIES];
	char path[FS_PATH_MAX], path2[FS_PATH_MAX];

	/* The sync thread; stopping under stop_wq.lock. */
	struct thread *syncer;
	struct waitq stop_wq;
	bool stopping;

	uint64_t unlocked; /* small reads waiting for the disk without fs_sem */
	struct fileserv_stats stats; /* updated atomically, read approximately */
};

static struct spinlock table_lock = SPINLOCK_INIT("fileserv");
static struct fileserv *services[FILESERV_MAX]; /* under table_lock */

static const struct fs_cred root_cred = {0};

static void stat_add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static void sem_down(struct fileserv *fsv)
{
	wait_for_completion(&fsv->fs_sem);
}

static void sem_up(struct fileserv *fsv)
{
	complete(&fsv->fs_sem);
}

/* ---- the steps every handler takes ---------------------------------------------- */

static struct fileserv *service_of(struct rpc_node *rn)
{
	struct fileserv *found = NULL;

	spin_lock(&table_lock);
	for (unsigned i = 0; i < FILESERV_MAX; i++)
		if (services[i] && services[i]->rn == rn)
			found = services[i];
	spin_unlock(&table_lock);
	return found;
}

/* Steps 1 and the credentials of 2: the service, a checked copy of cred. */
static int begin(struct rpc_ctx *ctx, const struct fs_cred *wire, struct fileserv **fsv,
		 struct fs_cred *cred)
{
	*fsv = service_of(ctx->rn);
	if (!*fsv)
		return -ENODEV;
	stat_add(&(*fsv)->stats.requests, 1);
	if (wire->ngroups > FS_NGROUPS || wire->reserved)
		return -EINVAL;
	*cred = *wire;
	return 0;
}

/* Copies a path field: NUL inside FS_PATH_MAX bytes (-EINVAL); absolute
 * unless any_text (a symlink's target: any non-empty text, else
 * -ENOENT as symlink(2)). */
static int take_path(const char *wire, char *out, bool any_text)
{
	const char *nul = memchr(wire, '\0', FS_PATH_MAX);

	if (!nul)
		return -EINVAL;
	if (any_text ? nul == wire : wire[0] != '/')
		return any_text ? -ENOENT : -EINVAL;
	memcpy(out, wire, (size_t)(nul - wire) + 1);
	return 0;
}

static struct fs_export *export_of(struct fileserv *fsv, uint16_t node)
{
	for (unsigned i = 0; i < fsv->nexports; i++)
		if (fsv->exports[i].node == node)
			return &fsv->exports[i];
	return NULL;
}

/* Resolves e's root directory (fs_sem held). */
static int resolve(struct fileserv *fsv, struct fs_export *e)
{
	uint32_t ino = 0;
	int err = ext2_resolve_dir(fsv->fs, &root_cred, EXT2_ROOT_INO, e->path, &ino);

	if (!err)
		e->ino = ino;
	return err;
}

/*
 * Step 3: the requester's export root into *root, and fs_sem taken.
 * On error nothing is held.
 */
static int enter(struct fileserv *fsv, uint16_t node, uint32_t *root)
{
	struct fs_export *e = export_of(fsv, node);
	int err = 0;

	if (!e)
		return -EACCES;
	if (!fsv->fs)
		return fsv->fs_err;
	sem_down(fsv);
	if (!e->ino)
		err = resolve(fsv, e); /* a root made after start-up */
	if (err) {
		sem_up(fsv);
		return err;
	}
	*root = e->ino;
	return 0;
}

/* After the ext2 call: marks changes, gives fs_sem back, counts err. */
static int leave(struct fileserv *fsv, int err, bool changes)
{
	if (changes)
		fsv->dirty = true; /* even on error: a failed call may have written */
	sem_up(fsv);
	if (err < 0)
		stat_add(&fsv->stats.errors, 1);
	return err;
}

/* A request that failed steps 1 to 3. */
static int refuse(struct fileserv *fsv, int err)
{
	if (fsv)
		stat_add(&fsv->stats.refused, 1);
	return err;
}

/* ---- RDMA ------------------------------------------------------------------------ */

/* Frees the staging buffer set aside for transfer wr_id, if there is one. */
static void zombie_done(struct fileserv *fsv, uint64_t wr_id)
{
	for (unsigned i = 0; i < FILESERV_ZOMBIES; i++) {
		struct zombie *z = &fsv->zombies[i];

		if (z->wr_id && z->wr_id == wr_id) {
			verbs_buf_free(fsv->dev, &z->buf);
			memset(z, 0, sizeof(*z));
		}
	}
}

/* Late completions of abandoned transfers, without waiting. */
static void zombies_reap(struct fileserv *fsv)
{
	struct verbs_wc wc;

	while (fsv->qp && verbs_poll(fsv->qp, &wc, 1) == 1)
		zombie_done(fsv, wc.wr_id);
}

/* Transfer wr_id did not complete in time: set its buffer aside until it
 * does, and continue with a new one (or none: later transfers get -EIO). */
static void abandon(struct fileserv *fsv, uint64_t wr_id)
{
	struct zombie *slot = NULL;

	for (unsigned i = 0; i < FILESERV_ZOMBIES && !slot; i++)
		if (!fsv->zombies[i].wr_id)
			slot = &fsv->zombies[i];
	if (!slot) {
		/* Too many transfers hang: keep this buffer for good. */
		pr_err("fileserv: RDMA transfers do not complete; file data transfers "
		       "disabled");
		memset(&fsv->stage, 0, sizeof(fsv->stage));
		return;
	}
	slot->wr_id = wr_id;
	slot->buf = fsv->stage;
	memset(&fsv->stage, 0, sizeof(fsv->stage));
	if (verbs_buf_alloc(fsv->dev, FS_IO_MAX, &fsv->stage)) {
		pr_err("fileserv: no window memory for a new staging buffer; file data "
		       "transfers disabled");
		memset(&fsv->stage, 0, sizeof(fsv->stage));
	}
}

/* The work request of a transfer of len bytes between the staging buffer
 * and (key, remote) of the requester: FAB_OP_WRITE sends the buffer,
 * FAB_OP_READ fills it. Reaps late completions first. */
static void rdma_wr(struct fileserv *fsv, uint8_t opcode, uint32_t key, uint64_t remote,
		    uint32_t len, struct verbs_wr *wr)
{
	zombies_reap(fsv);
	memset(wr, 0, sizeof(*wr));
	wr->wr_id = ++fsv->wr_seq;
	wr->opcode = opcode;
	wr->length = len;
	wr->local_offset = fsv->stage.offset;
	wr->local_key = verbs_local_key(fsv->dev);
	wr->remote_key = key;
	wr->remote_offset = remote;
}

/*
 * Waits for posted transfer wr (at most FILESERV_RDMA_TIMEOUT_NS).
 * Returns 0, -EFAULT (the fabric refused it: the requester's region is
 * not there, too small or lacks the right) or -ETIMEDOUT.
 */
static int rdma_wait(struct fileserv *fsv, const struct verbs_wr *wr)
{
	uint64_t deadline = clock_ns() + FILESERV_RDMA_TIMEOUT_NS;
	struct verbs_wc wc;

	for (;;) {
		uint64_t now = clock_ns();

		if (now >= deadline || verbs_wait(fsv->qp, &wc, deadline - now)) {
			stat_add(&fsv->stats.rdma_timeouts, 1);
			abandon(fsv, wr->wr_id);
			return -ETIMEDOUT;
		}
		if (wc.wr_id == wr->wr_id)
			break;
		zombie_done(fsv, wc.wr_id); /* a late one */
	}
	if (wc.status) {
		stat_add(&fsv->stats.rdma_faults, 1);
		return -EFAULT;
	}
	return 0;
}

/* Posts wr to node and waits for it: rdma_wait's answers, or -EIO /
 * -EAGAIN (this node cannot send). */
static int rdma_post_wait(struct fileserv *fsv, uint16_t node, const struct verbs_wr *wr)
{
	int err = verbs_post_to(fsv->qp, node, 0, wr);

	if (err)
		return err == -EAGAIN ? -EAGAIN : -EIO;
	return rdma_wait(fsv, wr);
}

/* One transfer between the staging buffer and (key, remote) of node. */
static int rdma(struct fileserv *fsv, uint16_t node, uint8_t opcode, uint32_t key,
		uint64_t remote, uint32_t len)
{
	struct verbs_wr wr;

	rdma_wr(fsv, opcode, key, remote, len, &wr);
	return rdma_post_wait(fsv, node, &wr);
}

/*
 * FS_READ's n bytes in the staging buffer to the requester, with the
 * reply (*rp, complete by now) fenced right behind the WRITE
 * (rpc_reply_behind): the requester has its answer as soon as the data
 * is there, without this node first waiting for the WRITE's completion.
 * We wait for it after, so that the staging buffer is not reused before
 * fabricd has read it. If the WRITE fails, the fabric flushes the early
 * reply and the requester gets the error this returns. Without an early
 * reply (it could not be posted) the WRITE alone, as rdma().
 */
static int rdma_reply_behind(struct fileserv *fsv, struct rpc_ctx *ctx, uint32_t key,
			     uint64_t remote, uint32_t n)
{
	struct verbs_wr wr;

	rdma_wr(fsv, FAB_OP_WRITE, key, remote, n, &wr);
	if (rpc_reply_behind(ctx, fsv->qp, 0, &wr))
		return rdma_post_wait(fsv, ctx->src_node, &wr);
	return rdma_wait(fsv, &wr);
}

/* ---- handlers ---------------------------------------------------------------------- */

RPC_HANDLER(FS_STAT, struct fs_stat_req, struct fs_attr)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	uint32_t root;
	int err = begin(ctx, &rq->cred, &fsv, &cred);

	if (!err && ((rq->flags & ~FS_NOFOLLOW) || (rq->may & ~FS_MAY_ALL)))
		err = -EINVAL;
	if (!err)
		err = take_path(rq->path, fsv->path, false);
	if (!err)
		err = enter(fsv, ctx->src_node, &root);
	if (err)
		return refuse(fsv, err);
	err = ext2_stat(fsv->fs, &cred, root, fsv->path, rq->flags, rq->may, rp);
	return leave(fsv, err, false);
}

/* Decodes FS_READ, FS_READ_INLINE and FS_WRITE alike (but for the path);
 * allowed: the flags each takes. */
static int io_decode(struct rpc_ctx *ctx, const struct fs_io_req *rq, unsigned allowed,
		     struct fileserv **fsv, struct fs_cred *cred)
{
	int err = begin(ctx, &rq->cred, fsv, cred);

	if (err)
		return err;
	if ((rq->flags & ~allowed) || (!rq->ino && rq->gen) || rq->length > FS_IO_MAX ||
	    rq->offset + rq->length < rq->offset)
		return -EINVAL;
	return rq->buf_offset + rq->length < rq->buf_offset ? -EFAULT : 0;
}

/* io_decode for FS_READ and FS_WRITE, which the server thread serves with
 * its path buffer and staging buffer. */
static int staged_decode(struct rpc_ctx *ctx, const struct fs_io_req *rq, unsigned allowed,
			 struct fileserv **fsv, struct fs_cred *cred)
{
	int err = io_decode(ctx, rq, allowed, fsv, cred);

	if (!err)
		err = take_path(rq->path, (*fsv)->path, false);
	if (!err && !(*fsv)->stage.size)
		err = -EIO; /* no staging buffer left (see abandon) */
	return err;
}

/* A request naming its file by (ino, gen) (fs_sem held): 0 if path is
 * that file (or rq names none), -ESTALE if it is another, path's error. */
static int same_file(struct fileserv *fsv, const struct fs_cred *cred, uint32_t root,
		     const char *path, const struct fs_io_req *rq)
{
	struct fs_attr a;
	int err;

	if (!rq->ino)
		return 0;
	err = ext2_stat(fsv->fs, cred, root, path, 0, 0, &a);
	if (!err && (a.ino != rq->ino || a.gen != rq->gen))
		err = -ESTALE;
	return err;
}

/* Accounts a big request's time: fs_ns in ext2, rdma_ns in its transfer. */
static void time_big(const struct fs_io_req *rq, struct fileserv_timing *t,
		     uint64_t fs_ns, uint64_t rdma_ns)
{
	if (rq->length < FILESERV_DIRECT_MIN)
		return;
	stat_add(&t->count, 1);
	stat_add(&t->fs_ns, fs_ns);
	stat_add(&t->rdma_ns, rdma_ns);
}

/* The file's bytes of rq into the staging buffer (fs_sem held): past the
 * block cache for a big request. Returns the bytes read or an errno. */
static int read_staged(struct fileserv *fsv, const struct fs_cred *cred, uint32_t root,
		       const struct fs_io_req *rq, struct fs_attr *attr)
{
	if (rq->length < FILESERV_DIRECT_MIN)
		return ext2_read(fsv->fs, cred, root, fsv->path, rq->offset,
				 fsv->stage.va, rq->length, attr);
	return ext2_read_direct(fsv->fs, cred, root, fsv->path, rq->offset, fsv->stage.va,
				verbs_window_phys(fsv->dev, fsv->stage.offset),
				rq->length, attr);
}

/* The staging buffer into the file as rq says (fs_sem held), as
 * read_staged. */
static int write_staged(struct fileserv *fsv, const struct fs_cred *cred, uint32_t root,
			const struct fs_io_req *rq, struct fs_attr *attr)
{
	if (rq->length < FILESERV_DIRECT_MIN)
		return ext2_write(fsv->fs, cred, root, fsv->path, rq->offset,
				  fsv->stage.va, rq->length, attr);
	return ext2_write_direct(
		fsv->fs, cred, root, fsv->path, rq->offset, fsv->stage.va,
		verbs_window_phys(fsv->dev, fsv->stage.offset), rq->length, attr);
}

RPC_HANDLER(FS_READ, struct fs_io_req, struct fs_io)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	uint64_t t0, t1;
	uint32_t root;
	int n, err = staged_decode(ctx, rq, 0, &fsv, &cred);

	if (!err)
		err = enter(fsv, ctx->src_node, &root);
	if (err)
		return refuse(fsv, err);
	t0 = clock_ns();
	n = same_file(fsv, &cred, root, fsv->path, rq);
	if (!n)
		n = read_staged(fsv, &cred, root, rq, &rp->attr);
	err = leave(fsv, n < 0 ? n : 0, false);
	if (err)
		return err;
	t1 = clock_ns();
	rp->bytes = (uint32_t)n;
	rp->reserved = 0;
	if (n > 0)
		err = rdma_reply_behind(fsv, ctx, rq->buf_key, rq->buf_offset, (uint32_t)n);
	time_big(rq, &fsv->stats.big_reads, t1 - t0, clock_ns() - t1);
	if (err) {
		stat_add(&fsv->stats.errors, 1);
		return err;
	}
	stat_add(&fsv->stats.bytes_read, (uint64_t)n);
	return 0;
}

/* A small read's own memory: the pool's workers serve small reads at
 * once, so they cannot share the server thread's path buffer. */
struct small_read {
	char path[FS_PATH_MAX];
	struct ext2_split_read sr;
};

/* Counts a small read that waits for the disk without fs_sem. */
static void unlocked_begin(struct fileserv *fsv)
{
	uint64_t now = __atomic_add_fetch(&fsv->unlocked, 1, __ATOMIC_RELAXED);
	uint64_t most = __atomic_load_n(&fsv->stats.most_unlocked, __ATOMIC_RELAXED);

	stat_add(&fsv->stats.unlocked_reads, 1);
	while (now > most && !__atomic_compare_exchange_n(&fsv->stats.most_unlocked, &most,
							  now, false, __ATOMIC_RELAXED,
							  __ATOMIC_RELAXED))
		;
}

/*
 * A small read into buf (fs_sem held on entry and on return), waiting
 * for the disk with fs_sem given up (ext2_read_begin, _fetch, _end):
 * reads of blocks the cache holds, and every other call, go on
 * meanwhile. A block freed during the wait (the bytes read may be
 * another file's now) makes it read again, holding fs_sem throughout.
 */
static int read_small(struct fileserv *fsv, const struct fs_cred *cred, uint32_t root,
		      const struct fs_io_req *rq, struct small_read *r, void *buf,
		      struct fs_attr *attr)
{
	int n = same_file(fsv, cred, root, r->path, rq), err;

	if (!n)
		n = ext2_read_begin(fsv->fs, cred, root, r->path, rq->offset, buf,
				    rq->length, attr, &r->sr);
	if (n < 0 || !r->sr.n)
		return n;
	sem_up(fsv);
	unlocked_begin(fsv);
	err = ext2_read_fetch(fsv->fs, &r->sr, buf);
	__atomic_fetch_sub(&fsv->unlocked, 1, __ATOMIC_RELAXED);
	sem_down(fsv);
	if (ext2_read_end(fsv->fs, &r->sr) == -EAGAIN && !err) {
		stat_add(&fsv->stats.reads_again, 1);
		n = same_file(fsv, cred, root, r->path, rq);
		if (!n)
			n = ext2_read(fsv->fs, cred, root, r->path, rq->offset, buf,
				      rq->length, attr);
	}
	return err ? err : n;
}

RPC_HANDLER(FS_READ_INLINE, struct fs_io_req, struct fs_io_inline)
{
	struct small_read *r = NULL;
	struct fileserv *fsv;
	struct fs_cred cred;
	uint32_t root;
	int n, err = io_decode(ctx, rq, 0, &fsv, &cred);

	if (!err && (rq->length > FS_INLINE_MAX || rq->buf_key || rq->buf_offset))
		err = -EINVAL;
	if (!err && !(r = kmalloc(sizeof(*r))))
		err = -ENOMEM;
	if (!err)
		err = take_path(rq->path, r->path, false);
	if (!err)
		err = enter(fsv, ctx->src_node, &root);
	if (err) {
		kfree(r);
		return refuse(fsv, err);
	}
	n = read_small(fsv, &cred, root, rq, r, rp->data, &rp->io.attr);
	kfree(r);
	err = leave(fsv, n < 0 ? n : 0, false);
	if (err)
		return err;
	stat_add(&fsv->stats.bytes_read, (uint64_t)n);
	rp->io.bytes = (uint32_t)n;
	rp->io.reserved = 0;
	return 0;
}

RPC_HANDLER(FS_WRITE, struct fs_io_req, struct fs_io)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	bool synced = false;
	uint64_t t0, t1;
	uint32_t root;
	int n, err = staged_decode(ctx, rq, FS_SYNC, &fsv, &cred);

	if (!err)
		err = enter(fsv, ctx->src_node, &root);
	if (err)
		return refuse(fsv, err);
	/* fs_sem is held across the transfer too: the sync thread may wait
	 * for it, nobody else (requests come one at a time) */
	t0 = clock_ns();
	err = same_file(fsv, &cred, root, fsv->path, rq);
	if (!err && rq->length)
		err = rdma(fsv, ctx->src_node, FAB_OP_READ, rq->buf_key, rq->buf_offset,
			   rq->length);
	if (err)
		return leave(fsv, err, false);
	t1 = clock_ns();
	n = write_staged(fsv, &cred, root, rq, &rp->attr);
	time_big(rq, &fsv->stats.big_writes, clock_ns() - t1, t1 - t0);
	if (n >= 0 && (rq->flags & FS_SYNC)) {
		err = ext2_sync(fsv->fs);
		stat_add(&fsv->stats.syncs, 1);
		synced = !err;
	}
	if (synced)
		fsv->dirty = false; /* everything, not just this write, is on disk */
	err = leave(fsv, n < 0 ? n : err, !synced);
	if (err)
		return err;
	stat_add(&fsv->stats.bytes_written, (uint64_t)n);
	rp->bytes = (uint32_t)n;
	rp->reserved = 0;
	return 0;
}

static int create_like(struct rpc_ctx *ctx, const struct fs_create_req *rq,
		       struct fs_attr *rp, bool dir)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	uint32_t root;
	int err = begin(ctx, &rq->cred, &fsv, &cred);

	if (!err && (rq->flags & ~(dir ? 0 : FS_EXCL | FS_TRUNC)))
		err = -EINVAL;
	if (!err)
		err = take_path(rq->path, fsv->path, false);
	if (!err)
		err = enter(fsv, ctx->src_node, &root);
	if (err)
		return refuse(fsv, err);
	if (dir)
		err = ext2_mkdir(fsv->fs, &cred, root, fsv->path, rq->mode & 07777, rp);
	else
		err = ext2_create(fsv->fs, &cred, root, fsv->path, rq->mode & 07777,
				  rq->flags, rp);
	return leave(fsv, err, true);
}

RPC_HANDLER(FS_CREATE, struct fs_create_req, struct fs_attr)
{
	return create_like(ctx, rq, rp, false);
}

RPC_HANDLER(FS_MKDIR, struct fs_create_req, struct fs_attr)
{
	return create_like(ctx, rq, rp, true);
}

/* The decode of the requests of struct fs_path_req (flags 0). */
static int path_decode(struct rpc_ctx *ctx, const struct fs_path_req *rq,
		       struct fileserv **fsv, struct fs_cred *cred, uint32_t *root)
{
	int err = begin(ctx, &rq->cred, fsv, cred);

	if (!err && (rq->flags || rq->reserved))
		err = -EINVAL;
	if (!err)
		err = take_path(rq->path, (*fsv)->path, false);
	if (!err)
		err = enter(*fsv, ctx->src_node, root);
	return err;
}

RPC_HANDLER(FS_UNLINK, struct fs_path_req, struct fs_empty)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	uint32_t root;
	int err = path_decode(ctx, rq, &fsv, &cred, &root);

	if (err)
		return refuse(fsv, err);
	err = ext2_unlink(fsv->fs, &cred, root, fsv->path);
	rp->reserved = 0;
	return leave(fsv, err, true);
}

RPC_HANDLER(FS_RMDIR, struct fs_path_req, struct fs_empty)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	uint32_t root;
	int err = path_decode(ctx, rq, &fsv, &cred, &root);

	if (err)
		return refuse(fsv, err);
	err = ext2_rmdir(fsv->fs, &cred, root, fsv->path);
	rp->reserved = 0;
	return leave(fsv, err, true);
}

/* FS_RENAME, FS_LINK, FS_SYMLINK: two paths (for FS_SYMLINK the first is
 * the target text, stored as given). */
static int two_path_decode(struct rpc_ctx *ctx, const struct fs_two_path_req *rq,
			   bool first_is_text, struct fileserv **fsv,
			   struct fs_cred *cred, uint32_t *root)
{
	int err = begin(ctx, &rq->cred, fsv, cred);

	if (!err && (rq->flags || rq->reserved))
		err = -EINVAL;
	if (!err)
		err = take_path(rq->path, (*fsv)->path, first_is_text);
	if (!err)
		err = take_path(rq->path2, (*fsv)->path2, false);
	if (!err)
		err = enter(*fsv, ctx->src_node, root);
	return err;
}

RPC_HANDLER(FS_RENAME, struct fs_two_path_req, struct fs_empty)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	uint32_t root;
	int err = two_path_decode(ctx, rq, false, &fsv, &cred, &root);

	if (err)
		return refuse(fsv, err);
	err = ext2_rename(fsv->fs, &cred, root, fsv->path, fsv->path2);
	rp->reserved = 0;
	return leave(fsv, err, true);
}

RPC_HANDLER(FS_LINK, struct fs_two_path_req, struct fs_attr)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	uint32_t root;
	int err = two_path_decode(ctx, rq, false, &fsv, &cred, &root);

	if (err)
		return refuse(fsv, err);
	err = ext2_link(fsv->fs, &cred, root, fsv->path, fsv->path2, rp);
	return leave(fsv, err, true);
}

RPC_HANDLER(FS_SYMLINK, struct fs_two_path_req, struct fs_attr)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	uint32_t root;
	int err = two_path_decode(ctx, rq, true, &fsv, &cred, &root);

	if (err)
		return refuse(fsv, err);
	err = ext2_symlink(fsv->fs, &cred, root, fsv->path, fsv->path2, rp);
	return leave(fsv, err, true);
}

RPC_HANDLER(FS_READLINK, struct fs_path_req, struct fs_link_target)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	uint32_t root;
	int n, err = path_decode(ctx, rq, &fsv, &cred, &root);

	if (err)
		return refuse(fsv, err);
	n = ext2_readlink(fsv->fs, &cred, root, fsv->path, rp->target, FS_PATH_MAX);
	err = leave(fsv, n < 0 ? n : 0, false);
	if (err)
		return err;
	if (n >= FS_PATH_MAX) /* ext2's promise, checked: the reply must hold */
		return -EIO;
	rp->len = (uint32_t)n;
	rp->reserved = 0;
	memset(rp->target + n, 0, FS_PATH_MAX - (size_t)n); /* no stale bytes */
	return 0;
}

RPC_HANDLER(FS_TRUNCATE, struct fs_truncate_req, struct fs_attr)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	uint32_t root;
	int err = begin(ctx, &rq->cred, &fsv, &cred);

	if (!err)
		err = take_path(rq->path, fsv->path, false);
	if (!err)
		err = enter(fsv, ctx->src_node, &root);
	if (err)
		return refuse(fsv, err);
	err = ext2_truncate(fsv->fs, &cred, root, fsv->path, rq->size, rp);
	return leave(fsv, err, true);
}

RPC_HANDLER(FS_SETATTR, struct fs_setattr_req, struct fs_attr)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	uint32_t root;
	int err = begin(ctx, &rq->cred, &fsv, &cred);

	if (!err && ((rq->flags & ~FS_NOFOLLOW) || (rq->valid & ~FS_SET_ALL) ||
		     rq->reserved || ((rq->valid & FS_SET_MODE) && (rq->mode & ~07777u))))
		err = -EINVAL;
	if (!err)
		err = take_path(rq->path, fsv->path, false);
	if (!err)
		err = enter(fsv, ctx->src_node, &root);
	if (err)
		return refuse(fsv, err);
	err = ext2_setattr(fsv->fs, &cred, root, fsv->path, rq->flags, rq->valid,
			   rq->mode, rq->uid, rq->gid, rq->atime, rq->mtime, rp);
	return leave(fsv, err, true);
}

RPC_HANDLER(FS_GETDENTS, struct fs_getdents_req, struct fs_dirents)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	uint64_t cookie = rq->cookie;
	bool eof = false;
	uint32_t root;
	int n, err = begin(ctx, &rq->cred, &fsv, &cred);

	if (!err)
		err = take_path(rq->path, fsv->path, false);
	if (!err)
		err = enter(fsv, ctx->src_node, &root);
	if (err)
		return refuse(fsv, err);
	n = ext2_getdents(fsv->fs, &cred, root, fsv->path, &cookie, rp->data,
			  FS_DIRENT_BYTES, &eof);
	err = leave(fsv, n < 0 ? n : 0, false);
	if (err)
		return err;
	if (n > FS_DIRENT_BYTES)
		return -EIO;
	rp->next_cookie = cookie;
	rp->bytes = (uint32_t)n;
	rp->eof = eof;
	memset(rp->data + n, 0, FS_DIRENT_BYTES - (size_t)n); /* no stale bytes */
	return 0;
}

RPC_HANDLER(FS_STATFS, struct fs_path_req, struct fs_statfs)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	struct fs_attr attr;
	uint32_t root;
	int err = path_decode(ctx, rq, &fsv, &cred, &root);

	if (err)
		return refuse(fsv, err);
	/* the path must be there and searchable, as for statfs(2) */
	err = ext2_stat(fsv->fs, &cred, root, fsv->path, 0, 0, &attr);
	if (!err)
		err = ext2_statfs(fsv->fs, rp);
	return leave(fsv, err, false);
}

RPC_HANDLER(FS_FSYNC, struct fs_path_req, struct fs_empty)
{
	struct fileserv *fsv;
	struct fs_cred cred;
	struct fs_attr attr;
	uint32_t root;
	int err = path_decode(ctx, rq, &fsv, &cred, &root);

	if (err)
		return refuse(fsv, err);
	err = ext2_stat(fsv->fs, &cred, root, fsv->path, 0, 0, &attr);
	if (!err) {
		/* ext2 syncs the whole file system: fsync of one file is that */
		err = ext2_sync(fsv->fs);
		stat_add(&fsv->stats.syncs, 1);
		if (!err)
			fsv->dirty = false;
	}
	rp->reserved = 0;
	return leave(fsv, err, false);
}

/* ---- the service ------------------------------------------------------------------ */

int fileserv_sync(struct fileserv *fsv)
{
	int err;

	if (!fsv->fs)
		return fsv->fs_err;
	sem_down(fsv);
	err = ext2_sync(fsv->fs);
	stat_add(&fsv->stats.syncs, 1);
	if (!err)
		fsv->dirty = false;
	sem_up(fsv);
	return err;
}

static void sync_main(void *arg)
{
	struct fileserv *fsv = arg;
	bool reported = false;

	spin_lock(&fsv->stop_wq.lock);
	while (!fsv->stopping) {
		waitq_wait_locked(&fsv->stop_wq, clock_ns() + FILESERV_SYNC_PERIOD_NS);
		if (fsv->stopping)
			break;
		spin_unlock(&fsv->stop_wq.lock);
		sem_down(fsv);
		if (fsv->dirty) {
			int err = ext2_sync(fsv->fs);

			stat_add(&fsv->stats.syncs, 1);
			if (!err)
				fsv->dirty = false;
			else if (!reported)
				pr_err("fileserv: periodic sync failed (%s)",
				       errno_name(err));
			reported = reported || err;
		}
		sem_up(fsv);
		spin_lock(&fsv->stop_wq.lock);
	}
	spin_unlock(&fsv->stop_wq.lock);
}

static void resolve_exports(struct fileserv *fsv)
{
	sem_down(fsv);
	for (unsigned i = 0; i < fsv->nexports; i++) {
		struct fs_export *e = &fsv->exports[i];
		int err = resolve(fsv, e);

		if (err)
			pr_warn("fileserv: export %s for node %u: %s (%s); its requests "
				"fail "
				"until it exists",
				e->path, e->node, errno_message(err), errno_name(err));
	}
	sem_up(fsv);
}

/* Puts fsv into the table; -EBUSY if its rpc_node has a service. */
static int table_add(struct fileserv *fsv)
{
	int err = -ENOSPC;

	spin_lock(&table_lock);
	for (unsigned i = 0; i < FILESERV_MAX; i++)
		if (services[i] && services[i]->rn == fsv->rn)
			err = -EBUSY;
	for (unsigned i = 0; i < FILESERV_MAX && err == -ENOSPC; i++) {
		if (!services[i]) {
			services[i] = fsv;
			err = 0;
		}
	}
	spin_unlock(&table_lock);
	return err;
}

/* Hands FS_READ_INLINE to rn's worker pool (made here, or the one rn has
 * already). Without one, the server thread serves them, one at a time. */
static void pool_small_reads(struct rpc_node *rn)
{
	int err = rpc_serve_pool(rn, MSG_FS_READ_INLINE, MSG_FS_READ_INLINE, FILESERV_READERS);

	if (err == -EBUSY)
		err = rpc_pool_add_range(rn, MSG_FS_READ_INLINE, MSG_FS_READ_INLINE);
	if (err)
		pr_warn("fileserv: small reads are served one at a time (no RPC worker "
			"pool: %s)",
			errno_name(err));
}

static void table_remove(struct fileserv *fsv)
{
	spin_lock(&table_lock);
	for (unsigned i = 0; i < FILESERV_MAX; i++)
		if (services[i] == fsv)
			services[i] = NULL;
	spin_unlock(&table_lock);
}

int fileserv_start(struct rpc_node *rn, struct verbs_dev *dev, struct ext2_fs *fs,
		   int fs_err, const struct kconfig_export *exports, unsigned n,
		   struct fileserv **out)
{
	struct fileserv *fsv;
	int err;

	if (n > KCONFIG_MAX_EXPORTS || (!fs && fs_err >= 0))
		return -EINVAL;
	fsv = kzalloc(sizeof(*fsv));
	if (!fsv)
		return -ENOMEM;
	fsv->rn = rn;
	fsv->dev = dev;
	fsv->fs = fs;
	fsv->fs_err = fs_err;
	completion_init(&fsv->fs_sem);
	complete(&fsv->fs_sem); /* the one token */
	waitq_init(&fsv->stop_wq, "fileserv-stop");
	for (unsigned i = 0; i < n; i++) {
		fsv->exports[i].node = exports[i].node;
		memcpy(fsv->exports[i].path, exports[i].path, KCONFIG_PATH_MAX);
		fsv->exports[i].path[KCONFIG_PATH_MAX - 1] = '\0';
	}
	fsv->nexports = n;
	err = verbs_qp_create(dev, -1, NULL, NULL, &fsv->qp);
	if (err)
		goto free_fsv;
	err = verbs_buf_alloc(dev, FS_IO_MAX, &fsv->stage);
	if (err)
		goto destroy_qp;
	if (fs) {
		resolve_exports(fsv);
		fsv->syncer = thread_create("fileserv-sync", sync_main, fsv, false);
		if (!fsv->syncer) {
			err = -ENOMEM;
			goto free_stage;
		}
	}
	pool_small_reads(rn);
	err = table_add(fsv);
	if (err)
		goto stop_syncer;
	*out = fsv;
	return 0;
stop_syncer:
	if (fsv->syncer) {
		spin_lock(&fsv->stop_wq.lock);
		fsv->stopping = true;
		waitq_wake_all_locked(&fsv->stop_wq);
		spin_unlock(&fsv->stop_wq.lock);
		thread_join(fsv->syncer);
	}
free_stage:
	verbs_buf_free(dev, &fsv->stage);
destroy_qp:
	verbs_qp_destroy(fsv->qp);
free_fsv:
	kfree(fsv);
	return err;
}

void fileserv_stop(struct fileserv *fsv)
{
	table_remove(fsv);
	if (fsv->syncer) {
		spin_lock(&fsv->stop_wq.lock);
		fsv->stopping = true;
		waitq_wake_all_locked(&fsv->stop_wq);
		spin_unlock(&fsv->stop_wq.lock);
		thread_join(fsv->syncer);
	}
	if (fsv->fs && fsv->dirty)
		fileserv_sync(fsv);
	/* Abandoned transfers get a last chance to complete; then their
	 * buffers are freed whatever happened (no RDMA can be pending on a
	 * device whose QP goes away with no peer left to serve). */
	for (unsigned tries = 0; tries < 10; tries++) {
		bool any = false;

		zombies_reap(fsv);
		for (unsigned i = 0; i < FILESERV_ZOMBIES; i++)
			any = any || fsv->zombies[i].wr_id;
		if (!any)
			break;
		thread_sleep_ns(10 * NS_PER_MS);
	}
	for (unsigned i = 0; i < FILESERV_ZOMBIES; i++)
		if (fsv->zombies[i].wr_id)
			verbs_buf_free(fsv->dev, &fsv->zombies[i].buf);
	verbs_qp_destroy(fsv->qp);
	verbs_buf_free(fsv->dev, &fsv->stage);
	kfree(fsv);
}

uint32_t fileserv_export_ino(struct fileserv *fsv, uint16_t node)
{
	struct fs_export *e = export_of(fsv, node);
	uint32_t ino = 0;

	if (e && fsv->fs) {
		sem_down(fsv);
		ino = e->ino;
		sem_up(fsv);
	}
	return ino;
}

void fileserv_get_stats(struct fileserv *fsv, struct fileserv_stats *st)
{
	*st = fsv->stats;
}
