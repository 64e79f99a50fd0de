/*
 * Self tests of the buffer cache (mcomponent/bcache.c) and its client
 * (net/bc_client.c), in a plain `ktest` boot of the memory image.
 *
 * The storage node is a stand-in (struct mem_file, ktest_file.h): one
 * file in kernel memory, served through bcache_set_backend, which counts the reads it
 * serves, so a test can tell a hit (no read) from a miss and can change
 * the "disk" behind the cache's back. The cache's logic is tested through
 * the local interface (bcache.h) on a frame pool of a loopback node; the
 * protocol through the client, from a processor node of the loopback
 * fabric (include/net/loop_fabric.h) to a memory service on another, with
 * the same stand-in behind it: RPC, the handlers' decoding and their RDMA
 * run as on the real fabric. Everything is freed at the end of each test
 * (the harness compares free pages; the frame counts are checked here).
 */
#include "bcache.h"
#include "frames.h"
#include "ktest_file.h"
#include "memserv.h"

#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <net/bc_client.h>
#include <net/fs_client.h>
#include <net/loop_fabric.h>
#include <net/rpc.h>
#include <net/verbs.h>

#define LOOP_M	 50
#define LOOP_P	 51

/* The file client's loopback hook (net/fs_client.c; not in its header). */
void fsc_test_transport(struct rpc_node *rn, struct verbs_dev *dev);

static const struct bcache_file the_file = {.cred = &fsc_root, .path = "/f", .ino = INO};

/* Byte i of pattern seed. */
static uint8_t pat(uint64_t i, unsigned seed)
{
	return (uint8_t)(i % 251 + 13 * (i / 4096) + 7 * seed);
}

static void fill(uint8_t *buf, uint64_t from, size_t len, unsigned seed)
{
	for (size_t k = 0; k < len; k++)
		buf[k] = pat(from + k, seed);
}

/* ---- the local bed: a frame pool and a cache on a loopback node ------------------ */

struct lbed {
	struct loop_fabric *fab;
	struct frame_pool fp;
	struct bcache *bc;
	struct mem_file m;
	uint8_t *buf; /* FILE_CAP bytes of scratch */
};

static bool lbed_up(struct lbed *b, uint32_t max_pages)
{
	memset(b, 0, sizeof(*b));
	b->fab = loop_create(1, LOOP_M, 1);
	if (!b->fab)
		return false;
	b->m.dev = b->fab->nodes[0].dev;
	b->m.data = kzalloc(FILE_CAP);
	b->buf = kmalloc(FILE_CAP);
	if (!b->m.data || !b->buf || frame_pool_init(&b->fp, b->m.dev, 64 * FRAME_SIZE))
		goto free_all;
	b->bc = bcache_create(&b->fp, b->m.dev, 1, max_pages);
	if (!b->bc)
		goto free_pool;
	bcache_set_backend(b->bc, &mf_ops, &b->m);
	return true;
free_pool:
	frame_pool_destroy(&b->fp);
free_all:
	kfree(b->m.data);
	kfree(b->buf);
	loop_destroy(b->fab);
	return false;
}

/* Destroys the cache; true if every frame came back. */
static bool lbed_down(struct lbed *b)
{
	bool all_free;

	bcache_destroy(b->bc);
	all_free = frame_free_count(&b->fp) == b->fp.nframes;
	frame_pool_destroy(&b->fp);
	kfree(b->m.data);
	kfree(b->buf);
	loop_destroy(b->fab);
	return all_free;
}

static struct bc_stats stats(struct lbed *b)
{
	struct bc_stats st;

	bcache_get_stats(b->bc, &st);
	return st;
}

/* True if buf holds len bytes of pattern seed from file offset from. */
static bool is_pat(const uint8_t *buf, uint64_t from, size_t len, unsigned seed)
{
	for (size_t k = 0; k < len; k++)
		if (buf[k] != pat(from + k, seed))
			return false;
	return true;
}

static bool is_zero(const uint8_t *buf, size_t len)
{
	for (size_t k = 0; k < len; k++)
		if (buf[k])
			return false;
	return true;
}

/* ---- the cache's logic ------------------------------------------------------------ */

/* Write, then read: the data written, and a second read all hits with no
 * read of the storage node. */
KTEST(bcache_read_after_write_then_hits)
{
	uint8_t *src = kmalloc(10000);
	struct bc_stats st;
	struct lbed b;
	uint64_t at = 0;
	unsigned reads;

	KT_ASSERT(src);
	if (!KT_EXPECT(lbed_up(&b, 32))) {
		kfree(src);
		return;
	}
	fill(src, 0, 10000, 1);
	KT_EXPECT_EQ(bcache_write(b.bc, &the_file, 0, src, 10000, false, &at), 10000);
	KT_EXPECT_EQ(at, 0);
	KT_EXPECT_EQ(b.m.size, 10000);
	KT_EXPECT(is_pat(b.m.data, 0, 10000, 1)); /* written through */
	st = stats(&b);
	KT_EXPECT_EQ(st.pages, 2); /* the two whole pages; the third is partial */
	KT_EXPECT_EQ(st.written_bytes, 10000);

	memset(b.buf, 0xaa, 12000);
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 0, b.buf, 12000), 10000);
	KT_EXPECT(is_pat(b.buf, 0, 10000, 1));
	st = stats(&b);
	KT_EXPECT_EQ(st.hits, 2);
	KT_EXPECT_EQ(st.misses, 1);
	KT_EXPECT_EQ(st.pages, 3);
	reads = b.m.reads;
	KT_EXPECT_EQ(reads, 1);

	memset(b.buf, 0xaa, 12000);
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 100, b.buf, 12000), 9900);
	KT_EXPECT(is_pat(b.buf, 100, 9900, 1));
	KT_EXPECT_EQ(b.m.reads, reads); /* all from the cache */
	KT_EXPECT_EQ(stats(&b).hits, 5);
	/* at and past the end: 0, still without the storage node */
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 10000, b.buf, 10), 0);
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 50000, b.buf, 10), 0);
	KT_EXPECT_EQ(b.m.reads, reads);
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 0, b.buf, BC_IO_MAX + 1), -EINVAL);
	KT_EXPECT(lbed_down(&b));
	kfree(src);
}

/* Truncate, then a read past the new end gives 0 bytes, and extending
 * the file again shows zeroes where the cut data was. */
KTEST(bcache_truncate_then_extend)
{
	struct fs_attr attr;
	struct lbed b;

	if (!KT_EXPECT(lbed_up(&b, 32)))
		return;
	fill(b.buf, 0, 20000, 2);
	KT_EXPECT_EQ(bcache_write(b.bc, &the_file, 0, b.buf, 20000, false, NULL), 20000);
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 0, b.buf, 20000), 20000); /* all cached */
	KT_EXPECT_EQ(bcache_truncate(b.bc, &the_file, 5000, &attr), 0);
	KT_EXPECT_EQ(attr.size, 5000);
	KT_EXPECT_EQ(stats(&b).pages, 2);
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 5000, b.buf, 100), 0);
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 8192, b.buf, 100), 0);
	memset(b.buf, 0xaa, 8192);
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 0, b.buf, 8192), 5000);
	KT_EXPECT(is_pat(b.buf, 0, 5000, 2));

	KT_EXPECT_EQ(bcache_truncate(b.bc, &the_file, 12000, &attr), 0);
	memset(b.buf, 0xaa, 12000);
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 0, b.buf, 12000), 12000);
	KT_EXPECT(is_pat(b.buf, 0, 5000, 2));
	KT_EXPECT(is_zero(b.buf + 5000, 7000));
	/* a write past the end leaves a hole of zeroes */
	fill(b.buf, 30000, 100, 3);
	KT_EXPECT_EQ(bcache_write(b.bc, &the_file, 30000, b.buf, 100, false, NULL), 100);
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 12000, b.buf, 18100), 18100);
	KT_EXPECT(is_zero(b.buf, 18000));
	KT_EXPECT(is_pat(b.buf + 18000, 30000, 100, 3));
	KT_EXPECT(lbed_down(&b));
}

/* A cache of 8 pages and a file of 48: evictions, never more than 8
 * pages, and every byte right. */
KTEST(bcache_eviction_keeps_contents)
{
	const size_t size = 48 * 4096 + 123;
	struct bc_stats st;
	struct lbed b;
	bool ok = true;

	if (!KT_EXPECT(lbed_up(&b, 8)))
		return;
	for (size_t off = 0; off < size; off += BC_IO_MAX) {
		size_t n = size - off < BC_IO_MAX ? size - off : BC_IO_MAX;

		fill(b.buf, off, n, 4);
		ok &= bcache_write(b.bc, &the_file, off, b.buf, n, false, NULL) == (long)n;
	}
	KT_EXPECT(ok);
	KT_EXPECT_EQ(b.m.size, size);
	for (unsigned pass = 0; pass < 2; pass++) {
		for (size_t off = 0; off < size; off += 5000) {
			size_t n = size - off < 5000 ? size - off : 5000;

			ok &= bcache_read(b.bc, &the_file, off, b.buf, 5000) == (long)n &&
			      is_pat(b.buf, off, n, 4);
		}
	}
	KT_EXPECT(ok);
	st = stats(&b);
	KT_EXPECT(st.pages <= 8);
	KT_EXPECT(st.evictions > 0);
	KT_EXPECT(st.readahead > 0); /* 5000-byte reads one after the other */
	KT_EXPECT_EQ(frame_free_count(&b.fp), b.fp.nframes - st.pages);
	KT_EXPECT(lbed_down(&b));
}

/* Appends land at the end, one after the other; BC_FORGET drops pages
 * that a change behind the cache's back made stale. */
KTEST(bcache_append_and_forget)
{
	struct lbed b;
	uint64_t at = 0;

	if (!KT_EXPECT(lbed_up(&b, 32)))
		return;
	fill(b.buf, 0, 3000, 5);
	KT_EXPECT_EQ(bcache_write(b.bc, &the_file, 0, b.buf, 3000, true, &at), 3000);
	KT_EXPECT_EQ(at, 0);
	fill(b.buf, 3000, 3000, 5);
	KT_EXPECT_EQ(bcache_write(b.bc, &the_file, 0, b.buf, 3000, true, &at), 3000);
	KT_EXPECT_EQ(at, 3000);
	KT_EXPECT_EQ(b.m.size, 6000);
	memset(b.buf, 0, 6000);
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 0, b.buf, 6000), 6000);
	KT_EXPECT(is_pat(b.buf, 0, 6000, 5));
	/* the file's first page was cached by the append into a new file */
	KT_EXPECT(stats(&b).hits >= 1);

	fill(b.m.data, 0, 6000, 6); /* changed behind the cache's back */
	KT_EXPECT_EQ(bcache_read(b.bc, &the_file, 0, b.buf, 4096), 4096);
	KT_EXPECT(is_pat(b.buf, 0, 4096, 5)); /* the cache's (stale) copy */
	bcache_forget(b.bc, INO);
	KT_EXPECT_EQ(stats(&b).pages, 0);
	KT_EXPECT_EQ(bcache_read_page(b.bc, &the_file, 1, b.buf), 6000 - 4096);
	KT_EXPECT(is_pat(b.buf, 4096, 6000 - 4096, 6));
	KT_EXPECT(is_zero(b.buf + 6000 - 4096, 8192 - 6000));
	KT_EXPECT(lbed_down(&b));
}

/* ---- the protocol: a processor's client, a memory service ------------------------- */

struct rbed {
	struct loop_fabric *fab;
	struct rpc_node *rn[2]; /* LOOP_M, LOOP_P */
	struct memserv *ms;
	struct mem_file m;
	uint8_t *buf;
};

static void rbed_down(struct rbed *b)
{
	fsc_test_transport(NULL, NULL);
	for (unsigned i = 0; i < 2; i++)
		if (b->rn[i])
			rpc_stop(b->rn[i]);
	if (b->ms)
		memserv_stop(b->ms);
	kfree(b->m.data);
	kfree(b->buf);
	loop_destroy(b->fab);
}

static bool rbed_up(struct rbed *b)
{
	static const uint16_t ids[2] = {LOOP_M, LOOP_P};

	memset(b, 0, sizeof(*b));
	b->fab = loop_create(2, LOOP_M, 1);
	if (!b->fab)
		return false;
	b->m.dev = b->fab->nodes[0].dev;
	b->m.data = kzalloc(FILE_CAP);
	b->buf = kmalloc(FILE_CAP);
	if (!b->m.data || !b->buf)
		goto fail;
	for (unsigned i = 0; i < 2; i++)
		if (rpc_start(b->fab->nodes[i].dev, ids, 2, &b->rn[i]))
			goto fail;
	if (memserv_pool(b->rn[0], 4))
		pr_info("bcache ktest: no pool on the loopback node: one thread serves");
	if (memserv_start(b->rn[0], b->m.dev, 1 << 20, 1, &b->ms))
		goto fail;
	bcache_set_backend(memserv_bcache(b->ms), &mf_ops, &b->m);
	fsc_test_transport(b->rn[1], b->fab->nodes[1].dev);
	return true;
fail:
	rbed_down(b);
	return false;
}

/* The client's calls through the memory service: data and the figures
 * MEM_STATS gives. */
KTEST(bcache_client_calls)
{
	struct bc_target t = {.storage = 1, .cred = NULL, .path = "/f", .ino = INO};
	const size_t size = 200000; /* several BC_IO_MAX requests */
	struct mem_stats st;
	struct fs_attr attr;
	struct rbed b;
	uint64_t at = 0;
	unsigned reads;

	if (!KT_EXPECT(rbed_up(&b)))
		return;
	fill(b.buf, 0, size, 7);
	KT_EXPECT_EQ(bcc_write(LOOP_M, &t, 0, b.buf, size, false, &at), (long)size);
	KT_EXPECT_EQ(b.m.size, size);
	KT_EXPECT(is_pat(b.m.data, 0, size, 7));
	memset(b.buf, 0, size);
	KT_EXPECT_EQ(bcc_read(LOOP_M, &t, 0, b.buf, size + 100), (long)size);
	KT_EXPECT(is_pat(b.buf, 0, size, 7));
	reads = b.m.reads;
	KT_EXPECT_EQ(bcc_read(LOOP_M, &t, 1000, b.buf, 50000), 50000);
	KT_EXPECT(is_pat(b.buf, 1000, 50000, 7));
	KT_EXPECT_EQ(b.m.reads, reads); /* hits */

	fill(b.buf, size, 10, 7);
	KT_EXPECT_EQ(bcc_write(LOOP_M, &t, 0, b.buf, 10, true, &at), 10);
	KT_EXPECT_EQ(at, size);
	KT_EXPECT_EQ(bcc_truncate(LOOP_M, &t, 4096, &attr), 0);
	KT_EXPECT_EQ(attr.size, 4096);
	KT_EXPECT_EQ(bcc_read(LOOP_M, &t, 4096, b.buf, 10), 0);
	t.ino = INO + 1; /* a second file with pages */
	KT_EXPECT_EQ(bcc_write(LOOP_M, &t, 0, b.buf, 8192, false, NULL), 8192);
	t.ino = INO;
	memserv_get_stats(b.ms, &st);
	KT_EXPECT(st.bcache.pages >= 3);
	KT_EXPECT_EQ(bcc_forget(LOOP_M, 1, INO), 0);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.bcache.pages, 2); /* the other file's */
	KT_EXPECT_EQ(bcc_forget(LOOP_M, 1, 0), 0); /* inode 0: every file */

	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.bcache.pages, 0);
	KT_EXPECT(st.bcache.hits >= 12);
	KT_EXPECT_EQ(st.bcache.written_bytes, size + 10 + 8192);
	KT_EXPECT(st.bcache.read_bytes >= size + 50000);
	KT_EXPECT_EQ(st.bcache.max_pages, 256 / BCACHE_FRAME_SHARE);
	KT_EXPECT_EQ(st.frames_free, st.frames_total);

	/* refused: another storage node, no inode, a relative path */
	t.storage = 2;
	KT_EXPECT_EQ(bcc_read(LOOP_M, &t, 0, b.buf, 10), -EXDEV);
	KT_EXPECT_EQ(bcc_forget(LOOP_M, 2, INO), -EXDEV);
	t.storage = 1;
	t.ino = 0;
	KT_EXPECT_EQ(bcc_write(LOOP_M, &t, 0, b.buf, 10, false, NULL), -EINVAL);
	t.ino = INO;
	t.path = "f";
	KT_EXPECT_EQ(bcc_read(LOOP_M, &t, 0, b.buf, 10), -EINVAL);
	rbed_down(&b);
}

/* Raw requests: fields the decoder must refuse, and a window region
 * without the right the transfer needs (-EFAULT, nothing written). */
KTEST(bcache_hostile_requests)
{
	struct bc_io_req *rq = kzalloc(sizeof(*rq));
	struct verbs_buf wb;
	struct verbs_mr mr;
	struct verbs_dev *pdev;
	struct bc_io rp;
	struct rbed b;

	KT_ASSERT(rq);
	if (!KT_EXPECT(rbed_up(&b))) {
		kfree(rq);
		return;
	}
	pdev = b.fab->nodes[1].dev;
	KT_ASSERT(!verbs_buf_alloc(pdev, 4096, &wb));
	KT_ASSERT(!verbs_reg_mr(pdev, wb.offset, 4096, FAB_ACCESS_REMOTE_READ, &mr));
	fill(b.m.data, 0, 4096, 8);
	b.m.size = 4096;
	rq->ino = INO;
	rq->storage = 1;
	rq->length = 4096;
	rq->buf_offset = wb.offset;
	rq->buf_key = mr.key;
	memcpy(rq->path, "/f", 3);
#define RAW(op) rpc_call(b.rn[1], LOOP_M, op, rq, sizeof(*rq), &rp, sizeof(rp), 5 * NS_PER_S)
	memset(wb.va, 0, 4096);
	KT_EXPECT_EQ(RAW(MSG_BC_READ), -EFAULT); /* the key allows READ only */
	KT_EXPECT(is_zero(wb.va, 4096));
	KT_EXPECT_EQ(RAW(MSG_BC_WRITE), 0); /* which a write needs */
	rq->length = BC_IO_MAX + 1;
	KT_EXPECT_EQ(RAW(MSG_BC_WRITE), -EINVAL);
	rq->length = 16;
	rq->flags = 2; /* only BC_EXACT is known */
	KT_EXPECT_EQ(RAW(MSG_BC_WRITE), -EINVAL);
	rq->flags = 0;
	rq->gen = 3; /* a generation without BC_EXACT */
	KT_EXPECT_EQ(RAW(MSG_BC_READ), -EINVAL);
	rq->gen = 0;
	rq->reserved = 1;
	KT_EXPECT_EQ(RAW(MSG_BC_READ), -EINVAL);
	rq->reserved = 0;
	rq->reserved2 = 1;
	KT_EXPECT_EQ(RAW(MSG_BC_READ), -EINVAL);
	rq->reserved2 = 0;
	rq->flags = BC_EXACT; /* a file mapping's write: only its life of the file */
	rq->gen = b.m.gen;
	KT_EXPECT_EQ(RAW(MSG_BC_WRITE), 0);
	rq->gen = b.m.gen + 1;
	KT_EXPECT_EQ(RAW(MSG_BC_WRITE), -ESTALE);
	rq->flags = 0;
	rq->gen = 0;
	rq->offset = 10;
	KT_EXPECT_EQ(RAW(MSG_BC_APPEND), -EINVAL); /* appends name no offset */
	rq->offset = UINT64_MAX - 4;
	KT_EXPECT_EQ(RAW(MSG_BC_WRITE), -EINVAL);
	rq->offset = 0;
	memset(rq->path, 'a', FS_PATH_MAX);
	rq->path[0] = '/';
	KT_EXPECT_EQ(RAW(MSG_BC_READ), -EINVAL); /* no NUL */
	rq->cred.ngroups = FS_NGROUPS + 1;
	memcpy(rq->path, "/f", 3);
	KT_EXPECT_EQ(RAW(MSG_BC_READ), -EINVAL);
	rq->cred.ngroups = 0;
	KT_EXPECT_EQ(RAW(MSG_BC_WRITE), 0); /* the same request, fixed */
#undef RAW
	verbs_dereg_mr(pdev, &mr);
	verbs_buf_free(pdev, &wb);
	rbed_down(&b);
	kfree(rq);
}
