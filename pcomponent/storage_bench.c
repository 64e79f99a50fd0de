/*
 * The storage benchmark, remote side (scripts/bench_storage.py): a
 * processor reads and writes one big file of its storage node's file
 * service through the file client (include/net/fs_client.h), and prints
 * the same figures as the Linux guest's tests/bench/blkbench does on the
 * same disk image, so the script can put them side by side:
 *
 *   seq_read       1 MiB FS_READs (FS_IO_MAX), front to back
 *   rand_read_4k   4 KiB reads at random 4 KiB-aligned offsets, one at a
 *                  time, each timed: also gives lat_read_4k
 *   rand_read_4k_qdD   the same from SB_DEPTH threads
 *   seq_write      1 MiB writes front to back, then FS_FSYNC (timed)
 *   rand_write_4k, rand_write_4k_qdD   4 KiB writes, then FS_FSYNC
 *   lat_stat, lat_read_4k_hot   diagnostics: FS_STAT round trips, and
 *                  4 KiB reads of one block (in the server's cache)
 *
 * over the first SB_MAX_BYTES of SB_PATH (under this node's export: the
 * storage kernel's exports= word). Data moves straight between the
 * server's cache and buffers in this node's fabric window
 * (fsc_read_win/fsc_write_win), as O_DIRECT moves it between the disk and
 * the program's buffer on the Linux side: no copy on this node. Random
 * phases stop after SB_RAND_OPS operations or SB_RAND_NS, whichever
 * comes first (blkbench's defaults).
 *
 * Booted with `ktest=cluster:bench_storage storage=ID`; the storage node
 * runs scomponent/blk_bench.c (the raw-disk figures, then the file
 * service). The two meet at the barriers "serve" (the service is up) and
 * "done". Output lines: "# bench: NAME key=value ...", the keys of
 * blkbench. A benchmark, not a test: it fails only if it cannot run.
 */
#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/status.h>
#include <kernel/time.h>
#include <lib/printf.h>
#include <lib/sort.h>
#include <lib/string.h>
#include <net/fs_client.h>
#include <net/verbs.h>

#define SB_PATH	     "/big"
#define SB_MAX_BYTES (64ull << 20)
#define SB_SEQ_REQ   FS_IO_MAX
#define SB_RAND_REQ  4096u
#define SB_RAND_OPS  20000
#define SB_RAND_NS   (3 * NS_PER_S)
#define SB_DEPTH     8
#define SB_SYNC_NS   (600 * NS_PER_S)

struct sb_ctx {
	uint16_t server;
	struct verbs_dev *dev;
	uint64_t bytes; /* the part of the file used, a multiple of SB_SEQ_REQ */
	int err;	/* the first failure, 0 if none */
};

static void sb_fail(struct sb_ctx *c, const char *what, long err)
{
	if (!c->err) {
		c->err = err < 0 ? (int)err : -EIO;
		printk_raw("# bench: error %s: %s\n", what, errno_name(c->err));
	}
}

/* One request of len bytes at offset of the file, to or from win. */
static long sb_io(struct sb_ctx *c, bool write, uint64_t offset, uint64_t win, size_t len)
{
	if (write)
		return fsc_write_win(c->server, &fsc_root, SB_PATH, offset, win, len, 0);
	return fsc_read_win(c->server, &fsc_root, SB_PATH, offset, win, len);
}

static void sb_seq(struct sb_ctx *c, bool write)
{
	struct verbs_buf buf;
	uint64_t t0, off;
	long n;
	int err = verbs_buf_alloc(c->dev, SB_SEQ_REQ, &buf);

	if (err) {
		sb_fail(c, "window buffer", err);
		return;
	}
	t0 = clock_ns();
	for (off = 0; off < c->bytes; off += SB_SEQ_REQ) {
		n = sb_io(c, write, off, buf.offset, SB_SEQ_REQ);
		if (n != SB_SEQ_REQ) {
			sb_fail(c, write ? "sequential write" : "sequential read", n);
			break;
		}
	}
	if (write && off == c->bytes && (err = fsc_fsync(c->server, &fsc_root, SB_PATH)))
		sb_fail(c, "fsync", err);
	if (!c->err)
		printk_raw("# bench: %s bytes=%llu elapsed_ns=%llu\n",
			   write ? "seq_write" : "seq_read", (unsigned long long)c->bytes,
			   (unsigned long long)(clock_ns() - t0));
	verbs_buf_free(c->dev, &buf);
}

struct sb_job {
	struct sb_ctx *c;
	bool write;
	uint64_t seed, deadline;
	int *left;     /* operations not yet started, shared (atomic) */
	uint64_t *lat; /* per-operation ns, or NULL */
	unsigned ops;
	long err;
};

static void sb_rand_loop(void *arg)
{
	struct sb_job *j = arg;
	uint64_t blocks = j->c->bytes / SB_RAND_REQ;
	struct verbs_buf buf;
	int err = verbs_buf_alloc(j->c->dev, SB_RAND_REQ, &buf);

	if (err) {
		j->err = err;
		return;
	}
	while (clock_ns() < j->deadline &&
	       __atomic_fetch_sub(j->left, 1, __ATOMIC_RELAXED) > 0) {
		uint64_t off = xorshift64(&j->seed) % blocks * SB_RAND_REQ;
		uint64_t t0 = clock_ns();
		long n = sb_io(j->c, j->write, off, buf.offset, SB_RAND_REQ);

		if (n != SB_RAND_REQ) {
			j->err = n < 0 ? n : -EIO;
			break;
		}
		if (j->lat)
			j->lat[j->ops] = clock_ns() - t0;
		j->ops++;
	}
	verbs_buf_free(j->c->dev, &buf);
}

static void sb_report_lat(const char *name, uint64_t *ns, unsigned n)
{
	sort_u64(ns, n);
	printk_raw("# bench: %s median_ns=%llu p99_ns=%llu min_ns=%llu n=%u\n", name,
		   (unsigned long long)ns[n / 2], (unsigned long long)ns[n * 99 / 100],
		   (unsigned long long)ns[0], n);
}

static void sb_rand_report(bool write, unsigned depth, unsigned ops, uint64_t elapsed,
			   uint64_t *lat)
{
	char name[32];
	int len = snprintf(name, sizeof(name), "rand_%s_4k", write ? "write" : "read");

	if (depth > 1)
		snprintf(name + len, sizeof(name) - (size_t)len, "_qd%u", depth);
	printk_raw("# bench: %s ops=%u elapsed_ns=%llu\n", name, ops,
		   (unsigned long long)elapsed);
	if (lat && ops)
		sb_report_lat("lat_read_4k", lat, ops);
}

/* depth threads (1: this one, each operation timed if reading) of random
 * 4 KiB requests until SB_RAND_OPS were started or SB_RAND_NS passed. */
static void sb_rand(struct sb_ctx *c, bool write, unsigned depth)
{
	struct sb_job jobs[SB_DEPTH];
	struct thread *t[SB_DEPTH];
	int left = SB_RAND_OPS;
	uint64_t *lat = NULL, t0;
	unsigned ops = 0;
	long err = 0;

	if (depth == 1 && !write && !(lat = kmalloc(SB_RAND_OPS * sizeof(*lat)))) {
		sb_fail(c, "latency samples", -ENOMEM);
		return;
	}
	t0 = clock_ns();
	for (unsigned i = 0; i < depth; i++) {
		jobs[i] = (struct sb_job){c,
					  write,
					  0x9e3779b97f4a7c15ull * (i + 1),
					  t0 + SB_RAND_NS,
					  &left,
					  lat,
					  0,
					  0};
		t[i] = depth > 1 ? thread_create("bench-storage", sb_rand_loop, &jobs[i],
						 false)
				 : NULL;
		if (depth > 1 && !t[i])
			jobs[i].err = -ENOMEM;
	}
	if (depth == 1)
		sb_rand_loop(&jobs[0]);
	for (unsigned i = 0; i < depth; i++) {
		if (t[i])
			thread_join(t[i]);
		ops += jobs[i].ops;
		err = err ? err : jobs[i].err;
	}
	if (!err && write)
		err = fsc_fsync(c->server, &fsc_root, SB_PATH);
	if (err)
		sb_fail(c, write ? "random write" : "random read", err);
	else
		sb_rand_report(write, depth, ops, clock_ns() - t0, lat);
	kfree(lat);
}

/*
 * Where the time of one request goes: FS_STAT round trips (RPC + path
 * walk, no data) and 4 KiB reads of the same block again and again (in
 * the server's block cache after the first: no disk), SB_DIAG_N each.
 */
#define SB_DIAG_N 500

static void sb_diag(struct sb_ctx *c)
{
	uint64_t *ns = kmalloc(SB_DIAG_N * sizeof(*ns));
	struct verbs_buf buf;
	struct fs_attr attr;
	unsigned i;
	long n = 0;

	if (!ns || verbs_buf_alloc(c->dev, SB_RAND_REQ, &buf)) {
		kfree(ns);
		sb_fail(c, "diagnostics", -ENOMEM);
		return;
	}
	for (i = 0; i < SB_DIAG_N && n == 0; i++) {
		uint64_t t0 = clock_ns();

		n = fsc_stat(c->server, &fsc_root, SB_PATH, 0, 0, &attr);
		ns[i] = clock_ns() - t0;
	}
	if (n)
		sb_fail(c, "stat", n);
	else
		sb_report_lat("lat_stat", ns, SB_DIAG_N);
	n = SB_RAND_REQ;
	for (i = 0; i < SB_DIAG_N && n == SB_RAND_REQ; i++) {
		uint64_t t0 = clock_ns();

		n = sb_io(c, false, 0, buf.offset, SB_RAND_REQ);
		ns[i] = clock_ns() - t0;
	}
	if (n != SB_RAND_REQ)
		sb_fail(c, "hot read", n);
	else
		sb_report_lat("lat_read_4k_hot", ns, SB_DIAG_N);
	verbs_buf_free(c->dev, &buf);
	kfree(ns);
}

static void sb_measure(struct ktest_ctx *kt, struct sb_ctx *c)
{
	struct fs_attr attr;
	int err = fsc_stat(c->server, &fsc_root, SB_PATH, 0, FS_MAY_READ | FS_MAY_WRITE,
			   &attr);

	if (err) {
		sb_fail(c, "stat " SB_PATH, err);
		KT_EXPECT_EQ(err, 0);
		return;
	}
	c->bytes = attr.size < SB_MAX_BYTES ? attr.size : SB_MAX_BYTES;
	c->bytes -= c->bytes % SB_SEQ_REQ;
	if (!KT_EXPECT(c->bytes >= SB_SEQ_REQ))
		return;
	printk_raw("# bench: info path=%s server=%u bytes=%llu file_bytes=%llu\n",
		   SB_PATH, c->server, (unsigned long long)c->bytes,
		   (unsigned long long)attr.size);
	sb_seq(c, false);
	sb_rand(c, false, 1);
	sb_rand(c, false, SB_DEPTH);
	sb_seq(c, true);
	sb_rand(c, true, 1);
	sb_rand(c, true, SB_DEPTH);
	sb_diag(c);
	KT_EXPECT_EQ(c->err, 0);
}

KTEST_CLUSTER(bench_storage_remote)
{
	struct sb_ctx c = {.server = (uint16_t)kconfig.storage_id};
	int err;

	if (!KT_EXPECT(kconfig.storage_id != 0)) {
		printk_raw("# bench: error no storage= word on the command line\n");
		return;
	}
	err = status_start();
	KT_ASSERT(err == 0 && status_rpc() != NULL);
	KT_ASSERT(verbs_open(&c.dev) == 0);
	KT_ASSERT(ktest_cluster_sync("serve", SB_SYNC_NS));
	sb_measure(kt, &c);
	KT_EXPECT(ktest_cluster_sync("done", SB_SYNC_NS));
}
