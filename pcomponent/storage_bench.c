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
 *   rpc_polls      of the processor's RPC calls over the phases above
 *                  that polled (a node's only call out polls), those
 *                  that got their reply while polling, and those that
 *                  outlasted the window and slept
 *   lat_ping, lat_bulk, lat_stat, lat_read_4k_hot   diagnostics (sb_diag):
 *                  PING, RPC_BULK and FS_STAT round trips, and 4 KiB reads
 *                  of one block (in the server's cache), with fabric counts
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
 * service). The two meet at the barriers "serve" (the service is up),
 * the diagnostics' ones and "done". Output lines: "# bench: NAME key=value ...", the keys of
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
#include <net/rpc.h>
#include <net/storage_diag.h>
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
 * Where the time of one request goes: streams of SB_DIAG_N calls to the
 * storage node, taken in turn SB_DIAG_ROUNDS times (the host's load
 * swings from second to second: each stream sees a share of every
 * swing):
 *   ping         PING (8 bytes each way): the RPC and fabric alone
 *   bulk         RPC_BULK (4 KiB each way): the same, with a FS_READ_INLINE's
 *                reply size
 *   stat         FS_STAT (a 2 KiB request, path walk, no data)
 *   read_4k_hot  4 KiB reads of one block (FS_READ_INLINE; in the
 *                server's block cache after the first: no disk)
 * Each stream's round trips ("lat_NAME") and this node's fabric counts
 * per call ("calls_NAME": work requests posted, doorbells rung,
 * interrupts taken, CQ-thread sleeps, each x100). Each stream ends at the
 * barrier "diag_NAME_ROUND", where the storage node reads its own counts
 * (scomponent/blk_bench.c; the list: include/net/storage_diag.h).
 */

struct sb_diag {
	struct sb_ctx *c;
	struct rpc_node *rn;
	struct verbs_buf buf; /* the hot read's window buffer */
	struct rpc_ping_bulk *bulk;
	uint64_t *ns[SB_NSTREAMS];   /* SB_DIAG_N * SB_DIAG_ROUNDS samples each */
	struct verbs_stats fab[SB_NSTREAMS]; /* counts summed over the rounds */
};

/* Call i of stream s, timed in *ns; 0 or the error. */
static long sb_diag_call(struct sb_diag *d, enum sb_stream s, unsigned i, uint64_t *ns)
{
	uint64_t t0 = clock_ns();
	struct fs_attr attr;
	long n;

	switch (s) {
	case SB_PING:
		return rpc_ping(d->rn, d->c->server, NULL, i, FSC_TIMEOUT_NS, ns);
	case SB_BULK:
		return rpc_ping(d->rn, d->c->server, d->bulk, i, FSC_TIMEOUT_NS, ns);
	case SB_STAT:
		n = fsc_stat(d->c->server, &fsc_root, SB_PATH, 0, 0, &attr);
		break;
	default:
		n = sb_io(d->c, false, 0, d->buf.offset, SB_RAND_REQ);
		n = n == SB_RAND_REQ ? 0 : n < 0 ? n : -EIO;
	}
	*ns = clock_ns() - t0;
	return n;
}

/* Stream s of round r: its samples, its counts, then the barrier. */
static void sb_diag_stream(struct sb_diag *d, enum sb_stream s, unsigned r)
{
	uint64_t *ns = d->ns[s] + r * SB_DIAG_N;
	struct verbs_stats a, b;
	char barrier[32];
	long err = 0;

	verbs_get_stats(d->c->dev, &a);
	for (unsigned i = 0; i < SB_DIAG_N && !err && !d->c->err; i++)
		err = sb_diag_call(d, s, i, &ns[i]);
	verbs_get_stats(d->c->dev, &b);
	verbs_stats_add_since(&d->fab[s], &a, &b);
	if (err)
		sb_fail(d->c, sb_stream_names[s], err);
	snprintf(barrier, sizeof(barrier), "diag_%s_%u", sb_stream_names[s], r);
	if (!ktest_cluster_sync(barrier, SB_SYNC_NS))
		sb_fail(d->c, "diagnostics barrier", -ETIMEDOUT);
}

static void sb_diag_report(struct sb_diag *d)
{
	unsigned calls = SB_DIAG_N * SB_DIAG_ROUNDS;
	char name[32];

	for (unsigned s = 0; s < SB_NSTREAMS; s++) {
		const struct verbs_stats *f = &d->fab[s];

		snprintf(name, sizeof(name), "lat_%s", sb_stream_names[s]);
		sb_report_lat(name, d->ns[s], calls);
		printk_raw("# bench: calls_%s n=%u posted_x100=%llu doorbells_x100=%llu "
			   "interrupts_x100=%llu sleeps_x100=%llu\n",
			   sb_stream_names[s], calls,
			   (unsigned long long)(f->posted * 100 / calls),
			   (unsigned long long)(f->doorbells * 100 / calls),
			   (unsigned long long)(f->interrupts * 100 / calls),
			   (unsigned long long)(f->sleeps * 100 / calls));
	}
}

static void sb_diag(struct sb_ctx *c)
{
	struct sb_diag d = {.c = c};
	unsigned s, r;

	for (s = 0; s < SB_NSTREAMS; s++)
		d.ns[s] = kmalloc(SB_DIAG_N * SB_DIAG_ROUNDS * sizeof(uint64_t));
	d.bulk = kzalloc(sizeof(*d.bulk));
	for (s = 0; s < SB_NSTREAMS && d.bulk; s++)
		if (!d.ns[s])
			break;
	if (s < SB_NSTREAMS || rpc_open(&d.rn) ||
	    verbs_buf_alloc(c->dev, SB_RAND_REQ, &d.buf))
		sb_fail(c, "diagnostics", -ENOMEM);
	/* the barriers even after a failure: the storage node waits for them */
	if (!ktest_cluster_sync("diag", SB_SYNC_NS))
		sb_fail(c, "diagnostics barrier", -ETIMEDOUT);
	for (r = 0; r < SB_DIAG_ROUNDS; r++)
		for (s = 0; s < SB_NSTREAMS; s++)
			sb_diag_stream(&d, s, r);
	if (!c->err)
		sb_diag_report(&d);
	verbs_buf_free(c->dev, &d.buf);
	kfree(d.bulk);
	for (s = 0; s < SB_NSTREAMS; s++)
		kfree(d.ns[s]);
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
}

KTEST_CLUSTER(bench_storage_remote)
{
	struct sb_ctx c = {.server = (uint16_t)kconfig.storage_id};
	struct rpc_stats before, after;
	int err;

	if (!KT_EXPECT(kconfig.storage_id != 0)) {
		printk_raw("# bench: error no storage= word on the command line\n");
		return;
	}
	err = status_start();
	KT_ASSERT(err == 0 && status_rpc() != NULL);
	KT_ASSERT(verbs_open(&c.dev) == 0);
	KT_ASSERT(ktest_cluster_sync("serve", SB_SYNC_NS));
	rpc_get_stats(status_rpc(), &before);
	sb_measure(kt, &c);
	rpc_get_stats(status_rpc(), &after);
	/* how the caller's poll window did over the measured phases */
	printk_raw("# bench: rpc_polls hits=%llu misses=%llu\n",
		   (unsigned long long)(after.poll_hits - before.poll_hits),
		   (unsigned long long)(after.poll_misses - before.poll_misses));
	sb_diag(&c);
	KT_EXPECT_EQ(c.err, 0);
	KT_EXPECT(ktest_cluster_sync("done", SB_SYNC_NS));
}
