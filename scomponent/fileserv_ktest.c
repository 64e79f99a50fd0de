/*
 * Self tests of the file service (scomponent/fileserv.c) and its client
 * (net/fs_client.c), in a plain `ktest` boot of the storage image: the
 * service runs on the ext2 test disk that scripts/qemu.py gives storage
 * ktest boots as virtio-blk 1 (vdb: /hello.txt "hello from ext2\n",
 * /sub/pattern.bin 100000 bytes of i % 251, /link -> hello.txt; made
 * afresh for each boot, so the tests may write to it).
 *
 * The nodes are a loopback fabric in kernel memory (a stand-in for
 * fabricd, smaller than net/fabric_ktest.c's, which is private to that
 * file): the doorbell executes the poster's work requests at once, in its
 * thread, with fabricd's checks (keys, rights, ranges, receive buffers),
 * so RPC and the server's RDMA run as on the real fabric. Nodes:
 *
 *   LOOP_SERVER  the file service, exports= as below
 *   LOOP_ROOT    exported "/"
 *   LOOP_SUB     exported "/sub"
 *   LOOP_NONE    no export
 *
 * The hostile-request tests build raw requests and check that each bad
 * field gets its errno (and nothing else: the same request with the field
 * fixed succeeds); the kernel must stay up. Everything is freed at the end
 * of each test (the harness compares free pages).
 */
#include "ext2.h"
#include "fileserv.h"

#include <drivers/virtio_blk.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <net/fs_client.h>
#include <net/rpc.h>
#include <net/verbs.h>

#define LOOP_NODES  4
#define LOOP_ORDER  10 /* 4 MiB windows */
#define LOOP_WINDOW (4096ull << LOOP_ORDER)
#define LOOP_SERVER 20
#define LOOP_ROOT   21
#define LOOP_SUB    22
#define LOOP_NONE   23
#define CALL_NS	    (5 * NS_PER_S)
#define EXT2_DISK   1 /* vdb */

/* The file client's loopback hook (net/fs_client.c; not in its header). */
void fsc_test_transport(struct rpc_node *rn, struct verbs_dev *dev);

/* ---- a loopback fabric ------------------------------------------------------------ */

struct lnode {
	struct lfab *fab;
	uint16_t id;
	uint8_t *win;
	volatile struct fab_window_hdr *hdr;
	struct verbs_dev *dev;
	struct rpc_node *rn;
	uint32_t sq_head, cq_tail, rq_head[FAB_MAX_QPS]; /* under fab->lock */
	bool raise;					 /* under fab->lock */
};

struct lfab {
	struct spinlock lock;
	struct lnode nodes[LOOP_NODES];
};

static struct lnode *lfind(struct lfab *f, uint16_t id)
{
	for (unsigned i = 0; i < LOOP_NODES; i++)
		if (f->nodes[i].id == id)
			return &f->nodes[i];
	return NULL;
}

/* fabricd's MR check: key, rights, range inside the MR and the window. */
static bool lmr_ok(struct lnode *n, uint32_t key, uint64_t off, uint64_t len,
		   uint32_t need)
{
	struct fab_mr mr;

	memcpy(&mr, n->win + FAB_MR_OFFSET + FAB_MR_SLOT(key) * sizeof(mr), sizeof(mr));
	if (!mr.length || mr.key != key || (mr.access & need) != need ||
	    mr.offset < FAB_DATA_OFFSET || mr.offset > LOOP_WINDOW ||
	    mr.length > LOOP_WINDOW - mr.offset)
		return false;
	return off >= mr.offset && len <= mr.length && off - mr.offset <= mr.length - len;
}

static void lcqe(struct lnode *n, const struct fab_cqe *c)
{
	struct fab_cqe *slot =
		(struct fab_cqe *)(n->win + FAB_CQ_OFFSET) + n->cq_tail % FAB_CQ_ENTRIES;

	*slot = *c;
	__atomic_store_n(&n->hdr->cq_tail, ++n->cq_tail, __ATOMIC_RELEASE);
	n->raise = true;
}

static uint8_t lsend(struct lnode *s, struct lnode *t, const struct fab_wqe *w)
{
	uint16_t q = w->dst_qpn;
	uint32_t tail = __atomic_load_n(&t->hdr->rq_tail[q], __ATOMIC_ACQUIRE);
	struct fab_rqe r;
	struct fab_cqe c;

	if (tail == t->rq_head[q])
		return FAB_ST_RNR;
	memcpy(&r,
	       t->win + FAB_RQ_OFFSET +
		       (q * FAB_RQ_ENTRIES + t->rq_head[q] % FAB_RQ_ENTRIES) * sizeof(r),
	       sizeof(r));
	t->hdr->rq_head[q] = ++t->rq_head[q];
	memset(&c, 0, sizeof(c));
	c.wr_id = r.wr_id;
	c.opcode = FAB_OP_RECV;
	c.src_node = s->id;
	c.src_qpn = w->src_qpn;
	c.qpn = q;
	c.imm = w->imm;
	if (!lmr_ok(t, r.key, r.offset, r.length, FAB_ACCESS_LOCAL_WRITE) ||
	    w->length > r.length) {
		c.status = w->length > r.length ? FAB_ST_LENGTH : FAB_ST_LOCAL_ERR;
		lcqe(t, &c);
		return c.status == FAB_ST_LENGTH ? FAB_ST_LENGTH : FAB_ST_REMOTE_ACCESS;
	}
	memmove(t->win + r.offset, s->win + w->local_offset, w->length);
	c.byte_len = w->length;
	lcqe(t, &c);
	return FAB_ST_OK;
}

/* Executes w of s; the status goes into the completion. */
static uint8_t lexec(struct lfab *f, struct lnode *s, const struct fab_wqe *w)
{
	uint32_t local_need = w->opcode == FAB_OP_READ ? FAB_ACCESS_LOCAL_WRITE : 0;
	struct lnode *t = lfind(f, w->dst_node);
	struct fab_cqe c;

	if (w->opcode < FAB_OP_SEND || w->opcode > FAB_OP_WRITE_IMM ||
	    (w->flags & ~FAB_WQE_SIGNALED) ||
	    !lmr_ok(s, w->local_key, w->local_offset, w->length, local_need))
		return FAB_ST_LOCAL_ERR;
	if (w->length > FAB_MAX_MSG)
		return FAB_ST_LENGTH;
	if (!t || !t->dev)
		return FAB_ST_UNREACHABLE;
	if (w->src_qpn >= FAB_MAX_QPS || w->dst_qpn >= FAB_MAX_QPS)
		return FAB_ST_BAD_QP;
	if (w->opcode == FAB_OP_SEND)
		return lsend(s, t, w);
	if (w->opcode == FAB_OP_READ) {
		if (!lmr_ok(t, w->remote_key, w->remote_offset, w->length,
			    FAB_ACCESS_REMOTE_READ))
			return FAB_ST_REMOTE_ACCESS;
		memmove(s->win + w->local_offset, t->win + w->remote_offset, w->length);
		return FAB_ST_OK;
	}
	if (!lmr_ok(t, w->remote_key, w->remote_offset, w->length,
		    FAB_ACCESS_REMOTE_WRITE))
		return FAB_ST_REMOTE_ACCESS;
	memmove(t->win + w->remote_offset, s->win + w->local_offset, w->length);
	if (w->opcode == FAB_OP_WRITE_IMM) {
		memset(&c, 0, sizeof(c));
		c.opcode = FAB_OP_RECV_IMM;
		c.src_node = s->id;
		c.src_qpn = w->src_qpn;
		c.qpn = w->src_qpn;
		c.byte_len = w->length;
		c.imm = w->imm;
		c.remote_offset = w->remote_offset;
		lcqe(t, &c);
	}
	return FAB_ST_OK;
}

static void ldoorbell(void *ctx)
{
	struct lnode *s = ctx;
	struct lfab *f = s->fab;

	spin_lock(&f->lock);
	for (;;) {
		uint32_t tail = __atomic_load_n(&s->hdr->sq_tail, __ATOMIC_ACQUIRE);
		struct fab_wqe w;
		struct fab_cqe done;

		if (tail == s->sq_head || tail - s->sq_head > FAB_SQ_ENTRIES)
			break;
		memcpy(&w,
		       s->win + FAB_SQ_OFFSET + (s->sq_head % FAB_SQ_ENTRIES) * sizeof(w),
		       sizeof(w));
		s->hdr->sq_head = ++s->sq_head;
		memset(&done, 0, sizeof(done));
		done.wr_id = w.wr_id;
		done.opcode = w.opcode;
		done.qpn = w.src_qpn;
		done.byte_len = w.length;
		done.status = lexec(f, s, &w);
		if (done.status || (w.flags & FAB_WQE_SIGNALED))
			lcqe(s, &done);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < LOOP_NODES; i++) {
		struct lnode *n = &f->nodes[i];

		if (n->raise && n->dev && n->hdr->guest_sleeping) {
			n->raise = false;
			verbs_interrupt(n->dev);
		}
	}
	spin_unlock(&f->lock);
}

static void lfab_destroy(struct lfab *f)
{
	for (unsigned i = 0; i < LOOP_NODES; i++) {
		struct lnode *n = &f->nodes[i];

		if (n->rn)
			rpc_stop(n->rn);
		if (n->dev)
			verbs_dev_destroy(n->dev);
		if (n->win)
			page_free(n->win, LOOP_ORDER);
	}
	kfree(f);
}

/* The four nodes, each with its device and RPC service. */
static struct lfab *lfab_create(void)
{
	static const uint16_t ids[LOOP_NODES] = {LOOP_SERVER, LOOP_ROOT, LOOP_SUB,
						 LOOP_NONE};
	struct lfab *f = kzalloc(sizeof(*f));

	if (!f)
		return NULL;
	spin_init(&f->lock, "fs-loop");
	for (unsigned i = 0; i < LOOP_NODES; i++) {
		struct lnode *n = &f->nodes[i];
		struct verbs_hw hw;

		n->fab = f;
		n->id = ids[i];
		n->win = page_zalloc(LOOP_ORDER);
		if (!n->win)
			goto fail;
		n->hdr = (volatile struct fab_window_hdr *)n->win;
		n->hdr->magic = FAB_MAGIC;
		n->hdr->version = FAB_VERSION;
		n->hdr->node_id = n->id;
		n->hdr->generation = 1;
		n->hdr->window_size = LOOP_WINDOW;
		n->hdr->fabricd_sleeping = 1;
		hw.window = n->win;
		hw.window_size = LOOP_WINDOW;
		hw.doorbell = ldoorbell;
		hw.ctx = n;
		if (verbs_dev_create(&hw, &n->dev))
			goto fail;
	}
	for (unsigned i = 0; i < LOOP_NODES; i++)
		if (rpc_start(f->nodes[i].dev, ids, LOOP_NODES, &f->nodes[i].rn))
			goto fail;
	return f;
fail:
	lfab_destroy(f);
	return NULL;
}

/* ---- the test bed ------------------------------------------------------------------ */

struct bed {
	struct lfab *fab;
	struct ext2_fs *fs; /* NULL: no test disk */
	struct fileserv *fsv;
};

static const struct kconfig_export bed_exports[] = {
	{LOOP_ROOT, "/"},
	{LOOP_SUB, "/sub"},
};

/* The loopback nodes, the ext2 test disk mounted (if with_fs) and the
 * service of LOOP_SERVER on it (fs_err when there is no file system). */
static bool bed_up(struct bed *b, bool with_fs, int fs_err)
{
	struct ext2_mount_opts opts = {.cache_bytes = 256 << 10};
	struct lnode *srv;
	struct blkdev *bd;
	char why[128];

	memset(b, 0, sizeof(*b));
	b->fab = lfab_create();
	if (!b->fab)
		return false;
	srv = lfind(b->fab, LOOP_SERVER);
	if (with_fs) {
		if (virtio_blk_probe(EXT2_DISK, &bd) ||
		    ext2_mount(bd, &opts, &b->fs, why, sizeof(why))) {
			printk_raw("# fileserv: no ext2 test disk (vdb): boot the "
				   "storage image "
				   "with scripts/ktest.py\n");
			b->fs = NULL;
			goto fail;
		}
	}
	if (fileserv_start(srv->rn, srv->dev, b->fs, b->fs ? 0 : fs_err, bed_exports, 2,
			   &b->fsv))
		goto fail;
	return true;
fail:
	if (b->fs)
		ext2_unmount(b->fs);
	lfab_destroy(b->fab);
	return false;
}

static void bed_down(struct bed *b)
{
	fsc_test_transport(NULL, NULL);
	/* RPC first: no request may be in the service when it goes */
	for (unsigned i = 0; i < LOOP_NODES; i++) {
		rpc_stop(b->fab->nodes[i].rn);
		b->fab->nodes[i].rn = NULL;
	}
	fileserv_stop(b->fsv);
	if (b->fs)
		ext2_unmount(b->fs);
	lfab_destroy(b->fab);
}

static struct rpc_node *rn_of(struct bed *b, uint16_t id)
{
	return lfind(b->fab, id)->rn;
}

/* A buffer in node id's window registered with access (for the server). */
struct wbuf {
	struct verbs_dev *dev;
	struct verbs_buf buf;
	struct verbs_mr mr;
};

static bool wbuf_get(struct bed *b, uint16_t id, size_t size, uint32_t access,
		     struct wbuf *w)
{
	w->dev = lfind(b->fab, id)->dev;
	if (verbs_buf_alloc(w->dev, size, &w->buf))
		return false;
	if (verbs_reg_mr(w->dev, w->buf.offset, w->buf.size, access, &w->mr)) {
		verbs_buf_free(w->dev, &w->buf);
		return false;
	}
	return true;
}

static void wbuf_put(struct wbuf *w)
{
	verbs_dereg_mr(w->dev, &w->mr);
	verbs_buf_free(w->dev, &w->buf);
}

/* One raw call from node id to the server. */
static int raw(struct bed *b, uint16_t id, unsigned op, const void *rq, size_t rq_len,
	       void *rp, size_t rp_len)
{
	return rpc_call(rn_of(b, id), LOOP_SERVER, op, rq, rq_len, rp, rp_len, CALL_NS);
}

static void set_path(char *field, const char *path)
{
	memset(field, 0, FS_PATH_MAX);
	memcpy(field, path, strlen(path) + 1);
}

/* ---- tests ------------------------------------------------------------------------ */

/* The service on the test disk, through the client API: reads, writes,
 * directories, links, from both exports. */
KTEST(fileserv_client_calls)
{
	static const char text[] = "hello from ext2\n";
	struct fs_dirents *d = kmalloc(sizeof(*d));
	uint8_t *buf = kmalloc(100000);
	struct fs_attr a;
	struct bed b;
	char link[64];
	uint64_t cookie = 0;
	bool found_hello = false, found_sub = false;
	long n;

	KT_ASSERT(d && buf);
	if (!KT_EXPECT(bed_up(&b, true, 0))) {
		kfree(d);
		kfree(buf);
		return;
	}
	fsc_test_transport(rn_of(&b, LOOP_ROOT), lfind(b.fab, LOOP_ROOT)->dev);
	KT_EXPECT(fileserv_export_ino(b.fsv, LOOP_ROOT) == EXT2_ROOT_INO);
	KT_EXPECT(fileserv_export_ino(b.fsv, LOOP_SUB) > EXT2_ROOT_INO);
	KT_EXPECT_EQ(fileserv_export_ino(b.fsv, LOOP_NONE), 0);

	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/hello.txt", 0, FS_MAY_READ, &a),
		     0);
	KT_EXPECT_EQ(a.size, 16);
	KT_EXPECT_EQ(a.mode & FS_S_IFMT, FS_S_IFREG);
	n = fsc_read(LOOP_SERVER, &fsc_root, "/hello.txt", 0, buf, 100);
	KT_EXPECT_EQ(n, 16);
	KT_EXPECT(n == 16 && memcmp(buf, text, 16) == 0);
	n = fsc_read(LOOP_SERVER, &fsc_root, "/hello.txt", 6, buf, 4);
	KT_EXPECT(n == 4 && memcmp(buf, "from", 4) == 0);
	n = fsc_read(LOOP_SERVER, &fsc_root, "/link", 0, buf, 100); /* followed */
	KT_EXPECT_EQ(n, 16);
	KT_EXPECT_EQ(fsc_readlink(LOOP_SERVER, &fsc_root, "/link", link, sizeof(link)),
		     9);
	KT_EXPECT(strcmp(link, "hello.txt") == 0);

	/* A small read (inline) across a block boundary. */
	n = fsc_read(LOOP_SERVER, &fsc_root, "/sub/pattern.bin", 1000, buf,
		     FS_INLINE_MAX);
	KT_EXPECT_EQ(n, FS_INLINE_MAX);
	for (unsigned i = 0; i < FS_INLINE_MAX && n == FS_INLINE_MAX; i++)
		if (buf[i] != (1000 + i) % 251) {
			KT_EXPECT_EQ(buf[i], (1000 + i) % 251);
			break;
		}

	memset(buf, 0xee, 100000);
	n = fsc_read(LOOP_SERVER, &fsc_root, "/sub/pattern.bin", 0, buf, 100000);
	KT_EXPECT_EQ(n, 100000);
	for (unsigned i = 0; i < 100000 && n == 100000; i++)
		if (buf[i] != i % 251) {
			KT_EXPECT_EQ(buf[i], i % 251);
			break;
		}

	/* a new file, written and read back, then renamed and removed */
	for (unsigned i = 0; i < 100000; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	KT_EXPECT_EQ(fsc_create(LOOP_SERVER, &fsc_root, "/new.bin", 0644, FS_EXCL, &a),
		     0);
	KT_EXPECT_EQ(fsc_create(LOOP_SERVER, &fsc_root, "/new.bin", 0644, FS_EXCL, &a),
		     -EEXIST);
	KT_EXPECT_EQ(
		fsc_write(LOOP_SERVER, &fsc_root, "/new.bin", 0, buf, 100000, FS_SYNC),
		100000);
	memset(buf, 0, 100000);
	KT_EXPECT_EQ(fsc_read(LOOP_SERVER, &fsc_root, "/new.bin", 0, buf, 100000),
		     100000);
	KT_EXPECT(buf[99999] == (uint8_t)(99999 * 7 + 3) && buf[1] == 10);
	KT_EXPECT_EQ(fsc_mkdir(LOOP_SERVER, &fsc_root, "/dir", 0755, &a), 0);
	KT_EXPECT_EQ(fsc_rename(LOOP_SERVER, &fsc_root, "/new.bin", "/dir/moved.bin"), 0);
	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/new.bin", 0, 0, &a), -ENOENT);
	KT_EXPECT_EQ(fsc_truncate(LOOP_SERVER, &fsc_root, "/dir/moved.bin", 10, &a), 0);
	KT_EXPECT_EQ(a.size, 10);
	KT_EXPECT_EQ(fsc_symlink(LOOP_SERVER, &fsc_root, "moved.bin", "/dir/l", &a), 0);
	KT_EXPECT_EQ(fsc_link(LOOP_SERVER, &fsc_root, "/dir/moved.bin", "/dir/h", &a), 0);
	KT_EXPECT_EQ(a.nlink, 2);
	KT_EXPECT_EQ(fsc_rmdir(LOOP_SERVER, &fsc_root, "/dir"), -ENOTEMPTY);
	KT_EXPECT_EQ(fsc_unlink(LOOP_SERVER, &fsc_root, "/dir/l"), 0);
	KT_EXPECT_EQ(fsc_unlink(LOOP_SERVER, &fsc_root, "/dir/h"), 0);
	KT_EXPECT_EQ(fsc_unlink(LOOP_SERVER, &fsc_root, "/dir/moved.bin"), 0);
	KT_EXPECT_EQ(fsc_rmdir(LOOP_SERVER, &fsc_root, "/dir"), 0);
	KT_EXPECT_EQ(fsc_fsync(LOOP_SERVER, &fsc_root, "/"), 0);

	/* uid 1000 may read but not write in root's 0755 directory */
	{
		struct fs_cred user = {.uid = 1000, .gid = 1000};

		KT_EXPECT_EQ(fsc_read(LOOP_SERVER, &user, "/hello.txt", 0, buf, 16), 16);
		KT_EXPECT_EQ(fsc_create(LOOP_SERVER, &user, "/mine", 0644, 0, &a),
			     -EACCES);
		KT_EXPECT_EQ(fsc_write(LOOP_SERVER, &user, "/hello.txt", 0, "x", 1, 0),
			     -EACCES);
	}

	KT_EXPECT_EQ(fsc_getdents(LOOP_SERVER, &fsc_root, "/", &cookie, d), 0);
	for (uint32_t off = 0; off + 19 < d->bytes;) {
		uint16_t reclen;
		const char *name = (const char *)d->data + off + 19;

		memcpy(&reclen, d->data + off + 16, 2);
		if (!KT_EXPECT(reclen >= 20 && off + reclen <= d->bytes))
			break;
		found_hello |= strcmp(name, "hello.txt") == 0;
		found_sub |= strcmp(name, "sub") == 0;
		off += reclen;
	}
	KT_EXPECT(found_hello && found_sub);

	/* the "/sub" export: its "/" is /sub, and nothing above it */
	fsc_test_transport(rn_of(&b, LOOP_SUB), lfind(b.fab, LOOP_SUB)->dev);
	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/pattern.bin", 0, 0, &a), 0);
	KT_EXPECT_EQ(a.size, 100000);
	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/hello.txt", 0, 0, &a), -ENOENT);
	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/../hello.txt", 0, 0, &a),
		     -EACCES);
	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/..", 0, 0, &a), -EACCES);
	/* no export at all */
	fsc_test_transport(rn_of(&b, LOOP_NONE), lfind(b.fab, LOOP_NONE)->dev);
	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/", 0, 0, &a), -EACCES);
	KT_EXPECT_EQ(fsc_read(LOOP_SERVER, &fsc_root, "/hello.txt", 0, buf, 16), -EACCES);

	bed_down(&b);
	kfree(d);
	kfree(buf);
}

/* Bad fields of FS_READ / FS_WRITE: each gets its errno, and the request
 * with the field fixed works. */
KTEST(fileserv_hostile_io)
{
	struct fs_io_req *rq = kzalloc(sizeof(*rq));
	struct fileserv_stats st;
	struct wbuf w, ro;
	struct fs_io rp;
	struct bed b;

	KT_ASSERT(rq);
	if (!KT_EXPECT(bed_up(&b, true, 0))) {
		kfree(rq);
		return;
	}
	KT_ASSERT(wbuf_get(&b, LOOP_ROOT, 8192, FAB_ACCESS_REMOTE_WRITE, &w));
	KT_ASSERT(wbuf_get(&b, LOOP_ROOT, 8192, FAB_ACCESS_REMOTE_READ, &ro));
#define GOOD_READ()                                                                      \
	do {                                                                             \
		memset(rq, 0, sizeof(*rq));                                              \
		set_path(rq->path, "/hello.txt");                                        \
		rq->length = 16;                                                         \
		rq->buf_key = w.mr.key;                                                  \
		rq->buf_offset = w.buf.offset;                                           \
	} while (0)
#define READ_RC() raw(&b, LOOP_ROOT, MSG_FS_READ, rq, sizeof(*rq), &rp, sizeof(rp))

	GOOD_READ();
	KT_EXPECT_EQ(READ_RC(), 0);
	KT_EXPECT(rp.bytes == 16 && memcmp(w.buf.va, "hello from ext2\n", 16) == 0);

	/* FS_READ_INLINE: the same read with the bytes in the reply, and
	 * only that: no buffer, at most FS_INLINE_MAX bytes, no flags. */
	{
		struct fs_io_inline *in = kmalloc(sizeof(*in));

		KT_ASSERT(in);
		memset(rq, 0, sizeof(*rq));
		set_path(rq->path, "/hello.txt");
		rq->length = FS_INLINE_MAX;
		KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_READ_INLINE, rq, sizeof(*rq), in,
				 sizeof(*in)),
			     0);
		KT_EXPECT(in->io.bytes == 16 &&
			  memcmp(in->data, "hello from ext2\n", 16) == 0);
		rq->length = FS_INLINE_MAX + 1;
		KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_READ_INLINE, rq, sizeof(*rq), in,
				 sizeof(*in)),
			     -EINVAL);
		rq->length = 16;
		rq->buf_key = w.mr.key;
		KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_READ_INLINE, rq, sizeof(*rq), in,
				 sizeof(*in)),
			     -EINVAL);
		rq->buf_key = 0;
		rq->flags = FS_SYNC;
		KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_READ_INLINE, rq, sizeof(*rq), in,
				 sizeof(*in)),
			     -EINVAL);
		kfree(in);
	}

	GOOD_READ();
	memset(rq->path, 'a', FS_PATH_MAX); /* no NUL */
	KT_EXPECT_EQ(READ_RC(), -EINVAL);
	GOOD_READ();
	set_path(rq->path, "hello.txt"); /* relative */
	KT_EXPECT_EQ(READ_RC(), -EINVAL);
	GOOD_READ();
	set_path(rq->path, ""); /* empty */
	KT_EXPECT_EQ(READ_RC(), -EINVAL);
	GOOD_READ();
	set_path(rq->path, "/../hello.txt"); /* above the export root "/" */
	KT_EXPECT_EQ(READ_RC(), -EACCES);
	GOOD_READ();
	set_path(rq->path, "/sub/../../../hello.txt");
	KT_EXPECT_EQ(READ_RC(), -EACCES);
	GOOD_READ();
	rq->reserved = 1;
	KT_EXPECT_EQ(READ_RC(), -EINVAL);
	GOOD_READ();
	rq->flags = FS_SYNC; /* a write's flag */
	KT_EXPECT_EQ(READ_RC(), -EINVAL);
	GOOD_READ();
	rq->flags = 0x80000000u;
	KT_EXPECT_EQ(READ_RC(), -EINVAL);
	GOOD_READ();
	rq->cred.ngroups = FS_NGROUPS + 1;
	KT_EXPECT_EQ(READ_RC(), -EINVAL);
	GOOD_READ();
	rq->cred.reserved = 7;
	KT_EXPECT_EQ(READ_RC(), -EINVAL);
	GOOD_READ();
	rq->length = FS_IO_MAX + 1;
	KT_EXPECT_EQ(READ_RC(), -EINVAL);
	GOOD_READ();
	rq->offset = UINT64_MAX - 4; /* offset + length wraps */
	KT_EXPECT_EQ(READ_RC(), -EINVAL);
	GOOD_READ();
	rq->buf_offset = UINT64_MAX - 4;
	KT_EXPECT_EQ(READ_RC(), -EFAULT);
	/* buffers the server cannot use */
	GOOD_READ();
	rq->buf_key = 0xdead0042u; /* no such MR */
	KT_EXPECT_EQ(READ_RC(), -EFAULT);
	GOOD_READ();
	rq->buf_key = ro.mr.key; /* read-only for the server */
	rq->buf_offset = ro.buf.offset;
	KT_EXPECT_EQ(READ_RC(), -EFAULT);
	GOOD_READ();
	rq->buf_offset = w.buf.offset + 8192 - 8; /* runs past the MR */
	KT_EXPECT_EQ(READ_RC(), -EFAULT);
	GOOD_READ();
	rq->buf_key = verbs_local_key(w.dev); /* local rights only */
	KT_EXPECT_EQ(READ_RC(), -EFAULT);
	/* from a node without an export, whatever else is wrong or right */
	GOOD_READ();
	KT_EXPECT_EQ(raw(&b, LOOP_NONE, MSG_FS_READ, rq, sizeof(*rq), &rp, sizeof(rp)),
		     -EACCES);
	/* and still fine after all that */
	GOOD_READ();
	KT_EXPECT_EQ(READ_RC(), 0);

	/* FS_WRITE: the server must READ the data, so a write-only key fails */
	GOOD_READ();
	set_path(rq->path, "/w.txt");
	rq->length = 5;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_WRITE, rq, sizeof(*rq), &rp, sizeof(rp)),
		     -EFAULT);
	rq->buf_key = ro.mr.key;
	rq->buf_offset = ro.buf.offset;
	rq->flags = FS_TRUNC; /* a create's flag */
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_WRITE, rq, sizeof(*rq), &rp, sizeof(rp)),
		     -EINVAL);
	rq->flags = FS_SYNC;
	memcpy(ro.buf.va, "12345", 5);
	/* /w.txt does not exist: FS_WRITE does not create */
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_WRITE, rq, sizeof(*rq), &rp, sizeof(rp)),
		     -ENOENT);

	fileserv_get_stats(b.fsv, &st);
	KT_EXPECT(st.refused >= 13);
	KT_EXPECT(st.rdma_faults >= 5);
	KT_EXPECT_EQ(st.rdma_timeouts, 0);
#undef GOOD_READ
#undef READ_RC
	wbuf_put(&w);
	wbuf_put(&ro);
	bed_down(&b);
	kfree(rq);
}

/* Bad fields of the metadata requests. */
KTEST(fileserv_hostile_metadata)
{
	struct fs_two_path_req *two = kzalloc(sizeof(*two));
	struct fs_setattr_req *sa = kzalloc(sizeof(*sa));
	struct fs_create_req *cr = kzalloc(sizeof(*cr));
	struct fs_path_req *pr = kzalloc(sizeof(*pr));
	struct fs_stat_req *sr = kzalloc(sizeof(*sr));
	struct fs_getdents_req *gr = kzalloc(sizeof(*gr));
	struct fs_dirents *dr = kzalloc(sizeof(*dr));
	struct fs_link_target *lt = kzalloc(sizeof(*lt));
	struct fs_empty e;
	struct fs_attr a;
	struct fs_statfs sf;
	struct bed b;

	KT_ASSERT(two && sa && cr && pr && sr && gr && dr && lt);
	if (!KT_EXPECT(bed_up(&b, true, 0)))
		goto free;

	set_path(sr->path, "/hello.txt");
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_STAT, sr, sizeof(*sr), &a, sizeof(a)), 0);
	sr->flags = 0x10;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_STAT, sr, sizeof(*sr), &a, sizeof(a)),
		     -EINVAL);
	sr->flags = 0;
	sr->may = 8;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_STAT, sr, sizeof(*sr), &a, sizeof(a)),
		     -EINVAL);

	set_path(cr->path, "/c.txt");
	cr->flags = FS_SYNC;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_CREATE, cr, sizeof(*cr), &a, sizeof(a)),
		     -EINVAL);
	cr->flags = FS_EXCL;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_MKDIR, cr, sizeof(*cr), &a, sizeof(a)),
		     -EINVAL); /* mkdir takes no flags */
	cr->mode = 0100644;    /* type bits are dropped: mode & 07777 */
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_CREATE, cr, sizeof(*cr), &a, sizeof(a)),
		     0);
	KT_EXPECT_EQ(a.mode, FS_S_IFREG | 0644);

	set_path(pr->path, "/c.txt");
	pr->reserved = 1;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_UNLINK, pr, sizeof(*pr), &e, sizeof(e)),
		     -EINVAL);
	pr->reserved = 0;
	pr->flags = 1;
	KT_EXPECT_EQ(
		raw(&b, LOOP_ROOT, MSG_FS_READLINK, pr, sizeof(*pr), lt, sizeof(*lt)),
		-EINVAL);
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_STATFS, pr, sizeof(*pr), &sf, sizeof(sf)),
		     -EINVAL);
	pr->flags = 0;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_STATFS, pr, sizeof(*pr), &sf, sizeof(sf)),
		     0);
	KT_EXPECT(sf.bsize >= 1024 && sf.blocks > 0);
	set_path(pr->path, "/link");
	KT_EXPECT_EQ(
		raw(&b, LOOP_ROOT, MSG_FS_READLINK, pr, sizeof(*pr), lt, sizeof(*lt)), 0);
	KT_EXPECT(lt->len == 9 && strcmp(lt->target, "hello.txt") == 0 &&
		  lt->target[FS_PATH_MAX - 1] == 0);

	/* two paths: each must be decoded; a symlink's target is any text */
	set_path(two->path, "/c.txt");
	memset(two->path2, 'b', FS_PATH_MAX);
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_RENAME, two, sizeof(*two), &e, sizeof(e)),
		     -EINVAL);
	set_path(two->path2, "d.txt");
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_LINK, two, sizeof(*two), &a, sizeof(a)),
		     -EINVAL);
	set_path(two->path2, "/../d.txt");
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_RENAME, two, sizeof(*two), &e, sizeof(e)),
		     -EACCES);
	set_path(two->path, "");
	set_path(two->path2, "/s");
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_SYMLINK, two, sizeof(*two), &a, sizeof(a)),
		     -ENOENT);
	set_path(two->path, "../../anything");
	two->flags = 2;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_SYMLINK, two, sizeof(*two), &a, sizeof(a)),
		     -EINVAL);
	two->flags = 0;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_SYMLINK, two, sizeof(*two), &a, sizeof(a)),
		     0);
	/* following it from the export root still cannot leave the root */
	set_path(sr->path, "/s");
	sr->may = 0;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_STAT, sr, sizeof(*sr), &a, sizeof(a)),
		     -EACCES);

	set_path(sa->path, "/c.txt");
	sa->valid = FS_SET_MODE;
	sa->mode = 010000;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_SETATTR, sa, sizeof(*sa), &a, sizeof(a)),
		     -EINVAL);
	sa->mode = 0600;
	sa->valid = 0x40;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_SETATTR, sa, sizeof(*sa), &a, sizeof(a)),
		     -EINVAL);
	sa->valid = FS_SET_MODE;
	sa->reserved = 3;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_SETATTR, sa, sizeof(*sa), &a, sizeof(a)),
		     -EINVAL);
	sa->reserved = 0;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_SETATTR, sa, sizeof(*sa), &a, sizeof(a)),
		     0);
	KT_EXPECT_EQ(a.mode & 07777, 0600);

	/* getdents with any cookie: an answer, not a crash */
	set_path(gr->path, "/");
	gr->cookie = 0x7fffffffffffull;
	{
		int r = raw(&b, LOOP_ROOT, MSG_FS_GETDENTS, gr, sizeof(*gr), dr,
			    sizeof(*dr));

		KT_EXPECT(r == 0 || r == -EINVAL || r == -ENOENT || r == -EIO);
		KT_EXPECT(r != 0 || dr->bytes <= FS_DIRENT_BYTES);
	}
	gr->cookie = 0;
	gr->cred.ngroups = 1000;
	KT_EXPECT_EQ(
		raw(&b, LOOP_ROOT, MSG_FS_GETDENTS, gr, sizeof(*gr), dr, sizeof(*dr)),
		-EINVAL);
	/* a truncate from the export without the right */
	{
		struct fs_truncate_req *tr = kzalloc(sizeof(*tr));

		if (KT_EXPECT(tr != NULL)) {
			set_path(tr->path, "/hello.txt");
			tr->cred.uid = 1000;
			tr->size = 0;
			KT_EXPECT_EQ(raw(&b, LOOP_SUB, MSG_FS_TRUNCATE, tr, sizeof(*tr),
					 &a, sizeof(a)),
				     -ENOENT); /* /sub has no hello.txt */
			KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_TRUNCATE, tr, sizeof(*tr),
					 &a, sizeof(a)),
				     -EACCES);
			KT_EXPECT_EQ(raw(&b, LOOP_NONE, MSG_FS_TRUNCATE, tr, sizeof(*tr),
					 &a, sizeof(a)),
				     -EACCES);
			kfree(tr);
		}
	}
	bed_down(&b);
free:
	kfree(two);
	kfree(sa);
	kfree(cr);
	kfree(pr);
	kfree(sr);
	kfree(gr);
	kfree(dr);
	kfree(lt);
}

/* Without a file system: decode errors stay decode errors, the rest get
 * the mount's errno; nodes without an export still get -EACCES. */
KTEST(fileserv_without_disk)
{
	struct fs_stat_req *sr = kzalloc(sizeof(*sr));
	struct fs_attr a;
	struct bed b;

	KT_ASSERT(sr);
	if (!KT_EXPECT(bed_up(&b, false, -ENODEV))) {
		kfree(sr);
		return;
	}
	set_path(sr->path, "/hello.txt");
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_STAT, sr, sizeof(*sr), &a, sizeof(a)),
		     -ENODEV);
	KT_EXPECT_EQ(raw(&b, LOOP_NONE, MSG_FS_STAT, sr, sizeof(*sr), &a, sizeof(a)),
		     -EACCES);
	set_path(sr->path, "x");
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_STAT, sr, sizeof(*sr), &a, sizeof(a)),
		     -EINVAL);
	KT_EXPECT_EQ(fileserv_sync(b.fsv), -ENODEV);
	bed_down(&b);
	kfree(sr);
}
