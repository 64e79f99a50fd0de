/*
 * Self tests of the file service (scomponent/fileserv.c) and its client
 * (net/fs_client.c), in a plain `ktest` boot of the storage image: the
 * service runs on the ext2 test disk that scripts/qemu.py gives storage
 * ktest boots as virtio-blk 1 (vdb: /hello.txt "hello from ext2\n",
 * /sub/pattern.bin 100000 bytes of i % 251, /link -> hello.txt; made
 * afresh for each boot, so the tests may write to it).
 *
 * The nodes are on the loopback fabric (include/net/loop_fabric.h), a
 * stand-in for fabricd whose doorbell executes the poster's work requests
 * at once with fabricd's checks, so RPC and the server's RDMA run as on
 * the real fabric. Nodes:
 *
 *   LOOP_SERVER  the file service, exports= as below
 *   LOOP_ROOT    exported "/"
 *   LOOP_SUB     exported "/sub"
 *   LOOP_NONE    no export
 *
 * fileserv_small_reads_at_once puts a gate in front of the disk (struct
 * gate) that lets reads through only in pairs: small reads that waited
 * for the disk one at a time, holding the service's lock, would never
 * meet there.
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
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/wait.h>
#include <lib/string.h>
#include <net/fs_client.h>
#include <net/loop_fabric.h>
#include <net/rpc.h>
#include <net/verbs.h>

#define BED_NODES   4
#define LOOP_SERVER 20 /* the nodes' ids: LOOP_SERVER + 0 .. 3 */
#define LOOP_ROOT   21
#define LOOP_SUB    22
#define LOOP_NONE   23
#define CALL_NS	    (5 * NS_PER_S)
#define EXT2_DISK   1 /* vdb */

#define GATE_NS	    (5 * NS_PER_S)

/* The file client's loopback hook (net/fs_client.c; not in its header). */
void fsc_test_transport(struct rpc_node *rn, struct verbs_dev *dev);

/* ---- the test bed ------------------------------------------------------------------ */

struct bed {
	struct loop_fabric *fab;
	struct rpc_node *rn[BED_NODES]; /* by id - LOOP_SERVER */
	struct ext2_fs *fs;		/* NULL: no test disk */
	struct fileserv *fsv;
};

/*
 * A gate in front of the test disk: while armed (want > 0), each read
 * waits there until want of them wait at once (met), or GATE_NS passes;
 * then every one goes on to the disk.
 */
struct gate {
	struct blkdev bd; /* first: what ext2 is mounted on */
	struct blkdev *inner;
	struct waitq wq;
	unsigned want, waiting; /* under wq.lock */
	bool met;		/* under wq.lock */
};

static int gate_submit(struct blkdev *bd, struct blk_req *reqs, unsigned n)
{
	struct gate *g = (struct gate *)bd;
	uint64_t until = clock_ns() + GATE_NS;

	spin_lock(&g->wq.lock);
	if (g->want && n && !reqs[0].write && ++g->waiting == g->want) {
		g->met = true;
		g->want = 0;
		waitq_wake_all_locked(&g->wq);
	}
	while (g->want && clock_ns() < until)
		waitq_wait_locked(&g->wq, until);
	g->want = 0; /* timed out: open for everyone */
	spin_unlock(&g->wq.lock);
	return blkdev_submit(g->inner, reqs, n);
}

static int gate_flush(struct blkdev *bd)
{
	return blkdev_flush(((struct gate *)bd)->inner);
}

static void gate_init(struct gate *g)
{
	memset(g, 0, sizeof(*g));
	waitq_init(&g->wq, "fileserv-gate");
}

static struct blkdev *gate_over(struct gate *g, struct blkdev *inner)
{
	g->bd = *inner;
	g->bd.submit = gate_submit;
	g->bd.flush = gate_flush;
	g->inner = inner;
	return &g->bd;
}

static const struct kconfig_export bed_exports[] = {
	{LOOP_ROOT, "/"},
	{LOOP_SUB, "/sub"},
};

static void bed_free(struct bed *b)
{
	for (unsigned i = 0; i < BED_NODES; i++)
		if (b->rn[i])
			rpc_stop(b->rn[i]);
	if (b->fs)
		ext2_unmount(b->fs);
	if (b->fab)
		loop_destroy(b->fab);
}

/* The loopback nodes with their RPC services, the ext2 test disk mounted
 * (if with_fs; behind gate if not NULL) and the service of LOOP_SERVER on
 * it (fs_err when there is no file system). */
static bool bed_up_gated(struct bed *b, bool with_fs, int fs_err, struct gate *gate)
{
	static const uint16_t ids[BED_NODES] = {LOOP_SERVER, LOOP_ROOT, LOOP_SUB,
						LOOP_NONE};
	struct ext2_mount_opts opts = {.cache_bytes = 256 << 10};
	struct blkdev *bd = NULL;
	char why[128];

	memset(b, 0, sizeof(*b));
	b->fab = loop_create(BED_NODES, LOOP_SERVER, 1);
	if (!b->fab)
		return false;
	for (unsigned i = 0; i < BED_NODES; i++)
		if (rpc_start(b->fab->nodes[i].dev, ids, BED_NODES, &b->rn[i]))
			goto fail;
	if (with_fs) {
		if (virtio_blk_probe(EXT2_DISK, &bd))
			bd = NULL;
		else if (gate)
			bd = gate_over(gate, bd);
		if (!bd || ext2_mount(bd, &opts, &b->fs, why, sizeof(why))) {
			printk_raw("# fileserv: no ext2 test disk (vdb): boot the "
				   "storage image with scripts/ktest.py\n");
			b->fs = NULL;
			goto fail;
		}
	}
	if (fileserv_start(b->rn[0], b->fab->nodes[0].dev, b->fs, b->fs ? 0 : fs_err,
			   bed_exports, 2, &b->fsv))
		goto fail;
	return true;
fail:
	bed_free(b);
	return false;
}

static bool bed_up(struct bed *b, bool with_fs, int fs_err)
{
	return bed_up_gated(b, with_fs, fs_err, NULL);
}

static void bed_down(struct bed *b)
{
	fsc_test_transport(NULL, NULL);
	/* RPC first: no request may be in the service when it goes */
	for (unsigned i = 0; i < BED_NODES; i++) {
		rpc_stop(b->rn[i]);
		b->rn[i] = NULL;
	}
	fileserv_stop(b->fsv);
	bed_free(b);
}

static struct rpc_node *rn_of(struct bed *b, uint16_t id)
{
	return b->rn[id - LOOP_SERVER];
}

static struct verbs_dev *dev_of(struct bed *b, uint16_t id)
{
	return loop_find(b->fab, id)->dev;
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
	w->dev = dev_of(b, id);
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
	fsc_test_transport(rn_of(&b, LOOP_ROOT), dev_of(&b, LOOP_ROOT));
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
	fsc_test_transport(rn_of(&b, LOOP_SUB), dev_of(&b, LOOP_SUB));
	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/pattern.bin", 0, 0, &a), 0);
	KT_EXPECT_EQ(a.size, 100000);
	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/hello.txt", 0, 0, &a), -ENOENT);
	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/../hello.txt", 0, 0, &a),
		     -EACCES);
	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/..", 0, 0, &a), -EACCES);
	/* no export at all */
	fsc_test_transport(rn_of(&b, LOOP_NONE), dev_of(&b, LOOP_NONE));
	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/", 0, 0, &a), -EACCES);
	KT_EXPECT_EQ(fsc_read(LOOP_SERVER, &fsc_root, "/hello.txt", 0, buf, 16), -EACCES);

	bed_down(&b);
	kfree(d);
	kfree(buf);
}

/* Reads and writes naming their file by (ino, gen): ext2 gives an
 * unlinked file's inode number to the next new file with a new
 * generation, and a request meant for the old one gets -ESTALE and moves
 * nothing, whichever path it names. */
/* Two small reads of uncached blocks, each from its own thread. */
struct small_reader {
	uint64_t offset;
	uint8_t buf[64];
	long n;
};

static void small_reader_main(void *arg)
{
	struct small_reader *r = arg;

	r->n = fsc_read(LOOP_SERVER, &fsc_root, "/sub/pattern.bin", r->offset, r->buf,
			sizeof(r->buf));
}

/* Small reads wait for the disk at the same time (read_small), not one
 * after the other holding the service's lock. */
KTEST(fileserv_small_reads_at_once)
{
	struct small_reader rd[2] = {{.offset = 30000}, {.offset = 70000}};
	struct fileserv_stats st;
	struct thread *t[2];
	struct gate gate;
	uint8_t warm[16];
	struct bed b;

	gate_init(&gate);
	if (!KT_EXPECT(bed_up_gated(&b, true, 0, &gate)))
		return;
	fsc_test_transport(rn_of(&b, LOOP_ROOT), dev_of(&b, LOOP_ROOT));
	/* The path, the inode and the indirect block into the cache first:
	 * only the two data blocks are left for the gate. */
	KT_EXPECT_EQ(fsc_read(LOOP_SERVER, &fsc_root, "/sub/pattern.bin", 50000, warm,
			      sizeof(warm)),
		     (long)sizeof(warm));
	spin_lock(&gate.wq.lock);
	gate.want = 2;
	spin_unlock(&gate.wq.lock);
	for (unsigned i = 0; i < 2; i++)
		t[i] = thread_create("small-reader", small_reader_main, &rd[i], false);
	for (unsigned i = 0; i < 2; i++)
		if (KT_EXPECT(t[i] != NULL))
			thread_join(t[i]);
	KT_EXPECT(gate.met);
	for (unsigned i = 0; i < 2; i++) {
		KT_EXPECT_EQ(rd[i].n, (long)sizeof(rd[i].buf));
		for (unsigned j = 0; j < sizeof(rd[i].buf); j++)
			KT_EXPECT_EQ(rd[i].buf[j], (uint8_t)((rd[i].offset + j) % 251));
	}
	fileserv_get_stats(b.fsv, &st);
	KT_EXPECT(st.unlocked_reads >= 2);
	KT_EXPECT(st.most_unlocked >= 2);
	KT_EXPECT_EQ(st.reads_again, 0);
	bed_down(&b);
}

KTEST(fileserv_stale_generation)
{
	struct fs_attr a, b, c, now;
	struct fsc_ident old, cur;
	struct wbuf w;
	struct bed d;
	char buf[8];

	if (!KT_EXPECT(bed_up(&d, true, 0)))
		return;
	fsc_test_transport(rn_of(&d, LOOP_ROOT), dev_of(&d, LOOP_ROOT));
	KT_ASSERT(wbuf_get(&d, LOOP_ROOT, 4096, FAB_ACCESS_REMOTE_READ, &w));
	KT_EXPECT_EQ(fsc_create(LOOP_SERVER, &fsc_root, "/gen.a", 0644, FS_EXCL, &a), 0);
	KT_EXPECT_EQ(fsc_write(LOOP_SERVER, &fsc_root, "/gen.a", 0, "AAAA", 4, 0), 4);
	KT_EXPECT_EQ(fsc_unlink(LOOP_SERVER, &fsc_root, "/gen.a"), 0);
	KT_EXPECT_EQ(fsc_create(LOOP_SERVER, &fsc_root, "/gen.b", 0644, FS_EXCL, &b), 0);
	KT_EXPECT_EQ(b.ino, a.ino); /* ext2: the first free inode, the one just freed */
	KT_EXPECT(b.gen != a.gen);
	KT_EXPECT_EQ(fsc_write(LOOP_SERVER, &fsc_root, "/gen.b", 0, "bbbb", 4, 0), 4);
	KT_EXPECT_EQ(fsc_create(LOOP_SERVER, &fsc_root, "/gen.a", 0644, FS_EXCL, &c), 0);
	KT_EXPECT_EQ(fsc_write(LOOP_SERVER, &fsc_root, "/gen.a", 0, "cccc", 4, 0), 4);

	old = (struct fsc_ident){.ino = a.ino, .gen = a.gen};
	cur = (struct fsc_ident){.ino = b.ino, .gen = b.gen};
	memcpy(w.buf.va, "XXXX", 4);
	/* the old file's write: neither under its path nor under its number */
	KT_EXPECT_EQ(fsc_write_win_attr(LOOP_SERVER, &fsc_root, "/gen.a", &old, 0, w.buf.offset,
					4, 0, &now),
		     -ESTALE);
	KT_EXPECT_EQ(fsc_write_win_attr(LOOP_SERVER, &fsc_root, "/gen.b", &old, 0, w.buf.offset,
					4, 0, &now),
		     -ESTALE);
	KT_EXPECT_EQ(fsc_read_win_attr(LOOP_SERVER, &fsc_root, "/gen.b", &old, 0, w.buf.offset,
				       4, &now),
		     -ESTALE);
	KT_EXPECT_EQ(fsc_read(LOOP_SERVER, &fsc_root, "/gen.a", 0, buf, 4), 4);
	KT_EXPECT(memcmp(buf, "cccc", 4) == 0);
	KT_EXPECT_EQ(fsc_read(LOOP_SERVER, &fsc_root, "/gen.b", 0, buf, 4), 4);
	KT_EXPECT(memcmp(buf, "bbbb", 4) == 0);
	/* the file's own identity works, and the attributes carry it */
	KT_EXPECT_EQ(fsc_write_win_attr(LOOP_SERVER, &fsc_root, "/gen.b", &cur, 0, w.buf.offset,
					4, 0, &now),
		     4);
	KT_EXPECT(now.ino == b.ino && now.gen == b.gen);
	KT_EXPECT_EQ(fsc_read(LOOP_SERVER, &fsc_root, "/gen.b", 0, buf, 4), 4);
	KT_EXPECT(memcmp(buf, "XXXX", 4) == 0);
	KT_EXPECT_EQ(fsc_stat(LOOP_SERVER, &fsc_root, "/gen.b", 0, 0, &now), 0);
	KT_EXPECT(now.ino == b.ino && now.gen == b.gen);
	KT_EXPECT_EQ(fsc_unlink(LOOP_SERVER, &fsc_root, "/gen.a"), 0);
	KT_EXPECT_EQ(fsc_unlink(LOOP_SERVER, &fsc_root, "/gen.b"), 0);
	wbuf_put(&w);
	bed_down(&d);
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
	rq->gen = 1; /* a generation without an inode */
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

/* A big FS_READ's reply goes fenced behind its WRITE (rdma_reply_behind):
 * whole, short at the end of the file, and into a region too small (the
 * WRITE fails, the early reply is flushed, the error comes instead). */
KTEST(fileserv_big_read_reply)
{
	const uint32_t size = 700 << 10, at_end = 512 << 10;
	struct fs_io_req *rq = kzalloc(sizeof(*rq));
	uint8_t *data = kmalloc(size);
	struct fileserv_stats st;
	struct wbuf w, small;
	struct fs_io rp;
	struct bed b;
	bool same = true;

	KT_ASSERT(rq && data);
	for (uint32_t i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 7 + i / 4096);
	if (!KT_EXPECT(bed_up(&b, true, 0))) {
		kfree(rq);
		kfree(data);
		return;
	}
	fsc_test_transport(rn_of(&b, LOOP_ROOT), dev_of(&b, LOOP_ROOT));
	KT_EXPECT_EQ(fsc_create(LOOP_SERVER, &fsc_root, "/pieces", 0644, FS_TRUNC, NULL), 0);
	KT_EXPECT_EQ(fsc_write(LOOP_SERVER, &fsc_root, "/pieces", 0, data, size, 0),
		     (long)size);
	KT_ASSERT(wbuf_get(&b, LOOP_ROOT, size, FAB_ACCESS_REMOTE_WRITE, &w));
	KT_ASSERT(wbuf_get(&b, LOOP_ROOT, 300 << 10, FAB_ACCESS_REMOTE_WRITE, &small));
	set_path(rq->path, "/pieces");
	rq->length = size;
	rq->buf_key = w.mr.key;
	rq->buf_offset = w.buf.offset;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_READ, rq, sizeof(*rq), &rp, sizeof(rp)), 0);
	KT_EXPECT_EQ(rp.bytes, size);
	for (uint32_t i = 0; i < size && same; i++)
		same = ((uint8_t *)w.buf.va)[i] == data[i];
	KT_EXPECT(same);
	/* a short read: the file ends before the request does */
	KT_EXPECT_EQ(fsc_truncate(LOOP_SERVER, &fsc_root, "/pieces", at_end, NULL), 0);
	memset(w.buf.va, 0, size);
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_READ, rq, sizeof(*rq), &rp, sizeof(rp)), 0);
	KT_EXPECT_EQ(rp.bytes, at_end);
	KT_EXPECT(memcmp(w.buf.va, data, at_end) == 0);
	/* a region that holds part of it only */
	rq->buf_key = small.mr.key;
	rq->buf_offset = small.buf.offset;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_READ, rq, sizeof(*rq), &rp, sizeof(rp)),
		     -EFAULT);
	rq->length = 300 << 10;
	KT_EXPECT_EQ(raw(&b, LOOP_ROOT, MSG_FS_READ, rq, sizeof(*rq), &rp, sizeof(rp)), 0);
	KT_EXPECT_EQ(rp.bytes, 300u << 10);
	KT_EXPECT(memcmp(small.buf.va, data, 300 << 10) == 0);
	fileserv_get_stats(b.fsv, &st);
	KT_EXPECT(st.rdma_faults >= 1);
	KT_EXPECT_EQ(st.rdma_timeouts, 0);
	wbuf_put(&w);
	wbuf_put(&small);
	bed_down(&b);
	kfree(rq);
	kfree(data);
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
