/*
 * The storage benchmark, storage side (scripts/bench_storage.py): the
 * "Tessera local" figures, measured on the storage kernel's own disk
 * through its virtio-blk driver (struct blkdev, no file system, no
 * fabric), then the file service that the processor's remote half
 * (pcomponent/storage_bench.c) measures.
 *
 * Booted with `ktest=cluster:bench_storage exports=ID:PATH`:
 *   1. the node's fabric and RPC service (status_start, as the role's
 *      start does: ktest boots do not run it);
 *   2. virtio-blk 0 and its ext2 file system, mounted as the role mounts
 *      it (scomponent.c: default options, so the same block cache);
 *   3. raw-disk figures over a scratch area that the file system does not
 *      use: the disk's bytes from the end of the file system (its
 *      superblock's block count, rounded up to 1 MiB) on, at most SB_MAX_BYTES. The
 * script makes the disk larger than the file system for this and fills the area with
 *      random bytes; the Linux guest runs blkbench on the same area
 *      (--offset) for the matching figures. Same phases and names as
 *      blkbench: seq_read (1 MiB = one batch of max_sectors requests),
 *      rand_read_4k (+ lat_read_4k), rand_read_4k_qdD (SB_DEPTH threads),
 *      seq_write, rand_write_4k, rand_write_4k_qdD (each ending with a
 *      flush, timed). Without a scratch area this step is skipped;
 *   4. the file service for exports=, then the barriers "serve", the
 *      diagnostics' (sb_srv_diag: this node's fabric counts per stream)
 *      and "done" while the processor measures; then its counters of the big
 *      (1 MiB) requests' time ("fileserv": ext2 and disk, RDMA), stop
 *      and unmount.
 * Output: "# bench: NAME key=value ..." lines. A benchmark, not a test:
 * it fails only if it cannot run.
 */
#include "ext2.h"
#include "fileserv.h"

#include <drivers/virtio_blk.h>
#include <kernel/blkdev.h>
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
#include <lib/unaligned.h>
#include <net/rpc.h>
#include <net/storage_diag.h>
#include <net/verbs.h>

#define SB_MAX_BYTES (64ull << 20)
#define SB_SEQ_REQ   (1u << 20)
#define SB_RAND_REQ  4096u
#define SB_RAND_OPS  20000
#define SB_RAND_NS   (3 * NS_PER_S)
#define SB_DEPTH     8
#define SB_SYNC_NS   (600 * NS_PER_S)
#define SB_MAX_REQS  (SB_SEQ_REQ / BLK_SECTOR_SIZE) /* 1-sector requests at worst */

struct sb_disk {
	struct blkdev *bd;
	uint64_t first; /* first sector of the scratch area */
	uint64_t bytes; /* its size, a multiple of SB_SEQ_REQ */
	int err;	/* the first failure */
};

static void sb_fail(struct sb_disk *d, const char *what, int err)
{
	if (!d->err) {
		d->err = err ? err : -EIO;
		printk_raw("# bench: error %s: %s\n", what, errno_name(d->err));
	}
}

/* len bytes at byte offset off of the scratch area, as requests of at
 * most max_sectors, in batches of at most max_batch. */
static int sb_io(struct sb_disk *d, struct blk_req *reqs, bool write, void *buf,
		 uint64_t off, size_t len)
{
	uint32_t per = d->bd->max_sectors,
		 batch = d->bd->max_batch ? d->bd->max_batch : 1;
	uint64_t sector = d->first + off / BLK_SECTOR_SIZE;
	uint32_t left = (uint32_t)(len / BLK_SECTOR_SIZE);
	uint8_t *p = buf;
	unsigned n = 0;
	int err;

	while (left) {
		uint32_t c = left < per ? left : per;

		reqs[n++] = (struct blk_req){.sector = sector, .count = c, .write = write, .buf = p};
		sector += c;
		p += (size_t)c * BLK_SECTOR_SIZE;
		left -= c;
		if (n == batch || !left) {
			err = blkdev_submit(d->bd, reqs, n);
			if (err)
				return err;
			n = 0;
		}
	}
	return 0;
}

static void sb_seq(struct sb_disk *d, bool write)
{
	struct blk_req *reqs = kmalloc(SB_MAX_REQS * sizeof(*reqs));
	void *buf = kmalloc(SB_SEQ_REQ);
	uint64_t t0, off;
	int err = 0;

	if (!reqs || !buf) {
		sb_fail(d, "buffers", -ENOMEM);
		goto free;
	}
	memset(buf, 0x5a, SB_SEQ_REQ);
	t0 = clock_ns();
	for (off = 0; off < d->bytes && !err; off += SB_SEQ_REQ)
		err = sb_io(d, reqs, write, buf, off, SB_SEQ_REQ);
	if (!err && write)
		err = blkdev_flush(d->bd);
	if (err)
		sb_fail(d, write ? "sequential write" : "sequential read", err);
	else
		printk_raw("# bench: %s bytes=%llu elapsed_ns=%llu\n",
			   write ? "seq_write" : "seq_read", (unsigned long long)d->bytes,
			   (unsigned long long)(clock_ns() - t0));
free:
	kfree(buf);
	kfree(reqs);
}

struct sb_job {
	struct sb_disk *d;
	bool write;
	uint64_t seed, deadline;
	int *left;     /* operations not yet started, shared (atomic) */
	uint64_t *lat; /* per-operation ns, or NULL */
	unsigned ops;
	int err;
};

static void sb_rand_loop(void *arg)
{
	struct sb_job *j = arg;
	uint64_t blocks = j->d->bytes / SB_RAND_REQ;
	void *buf = kmalloc(SB_RAND_REQ);
	struct blk_req req[SB_RAND_REQ / BLK_SECTOR_SIZE];

	if (!buf) {
		j->err = -ENOMEM;
		return;
	}
	memset(buf, 0xa5, SB_RAND_REQ);
	while (clock_ns() < j->deadline &&
	       __atomic_fetch_sub(j->left, 1, __ATOMIC_RELAXED) > 0) {
		uint64_t off = xorshift64(&j->seed) % blocks * SB_RAND_REQ;
		uint64_t t0 = clock_ns();
		int err = sb_io(j->d, req, j->write, buf, off, SB_RAND_REQ);

		if (err) {
			j->err = err;
			break;
		}
		if (j->lat)
			j->lat[j->ops] = clock_ns() - t0;
		j->ops++;
	}
	kfree(buf);
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
	if (lat && ops) {
		sort_u64(lat, ops);
		printk_raw("# bench: lat_read_4k median_ns=%llu p99_ns=%llu min_ns=%llu "
			   "n=%u\n",
			   (unsigned long long)lat[ops / 2],
			   (unsigned long long)lat[ops * 99 / 100],
			   (unsigned long long)lat[0], ops);
	}
}

static void sb_rand(struct sb_disk *d, bool write, unsigned depth)
{
	struct sb_job jobs[SB_DEPTH];
	struct thread *t[SB_DEPTH];
	int left = SB_RAND_OPS, err = 0;
	uint64_t *lat = NULL, t0;
	unsigned ops = 0;

	if (depth == 1 && !write && !(lat = kmalloc(SB_RAND_OPS * sizeof(*lat)))) {
		sb_fail(d, "latency samples", -ENOMEM);
		return;
	}
	t0 = clock_ns();
	for (unsigned i = 0; i < depth; i++) {
		jobs[i] = (struct sb_job){d,
					  write,
					  0x9e3779b97f4a7c15ull * (i + 1),
					  t0 + SB_RAND_NS,
					  &left,
					  lat,
					  0,
					  0};
		t[i] = depth > 1
			       ? thread_create("bench-blk", sb_rand_loop, &jobs[i], false)
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
		err = blkdev_flush(d->bd);
	if (err)
		sb_fail(d, write ? "random write" : "random read", err);
	else
		sb_rand_report(write, depth, ops, clock_ns() - t0, lat);
	kfree(lat);
}

/*
 * Where the file system ends: s_blocks_count << (10 + s_log_block_size)
 * from the superblock (byte 1024 of the disk), read here rather than
 * from ext2_statfs(), whose block count leaves out the metadata
 * overhead as Linux's does. Returns 0 if the superblock makes no sense.
 */
static uint64_t sb_fs_end(struct blkdev *bd)
{
	uint8_t *sb = kmalloc(2 * BLK_SECTOR_SIZE);
	struct blk_req req = {.sector = 2, .count = 2, .buf = sb};
	uint64_t end = 0;

	if (sb && blkdev_submit(bd, &req, 1) == 0 &&
	    (get_le32(sb + 56) & 0xffff) == 0xef53 && get_le32(sb + 24) <= 6)
		end = (uint64_t)get_le32(sb + 4) << (10 + get_le32(sb + 24));
	kfree(sb);
	return end;
}

/* The raw-disk figures over the scratch area after the file system. */
static void sb_local(struct ktest_ctx *kt, struct blkdev *bd)
{
	struct sb_disk d = {.bd = bd};
	uint64_t fs_end = sb_fs_end(bd), disk_end = bd->nsectors * BLK_SECTOR_SIZE;

	if (!KT_EXPECT(fs_end != 0))
		return;
	fs_end = (fs_end + SB_SEQ_REQ - 1) / SB_SEQ_REQ * SB_SEQ_REQ;
	d.first = fs_end / BLK_SECTOR_SIZE;
	d.bytes = disk_end > fs_end ? (disk_end - fs_end) / SB_SEQ_REQ * SB_SEQ_REQ : 0;
	if (d.bytes > SB_MAX_BYTES)
		d.bytes = SB_MAX_BYTES;
	printk_raw("# bench: info disk=%s offset=%llu bytes=%llu max_sectors=%u "
		   "max_batch=%u\n",
		   bd->name, (unsigned long long)fs_end, (unsigned long long)d.bytes,
		   bd->max_sectors, bd->max_batch);
	if (!d.bytes || bd->read_only) {
		printk_raw("# bench: no scratch area after the file system: no local "
			   "figures\n");
		return;
	}
	sb_seq(&d, false);
	sb_rand(&d, false, 1);
	sb_rand(&d, false, SB_DEPTH);
	sb_seq(&d, true);
	sb_rand(&d, true, 1);
	sb_rand(&d, true, SB_DEPTH);
	KT_EXPECT_EQ(d.err, 0);
}

/*
 * The storage node's side of the processor's diagnostic streams
 * (pcomponent/storage_bench.c's sb_diag; include/net/storage_diag.h):
 * after the barrier "diag", each "diag_NAME_ROUND" ends a stream; the
 * counts since the previous barrier are that stream's. Printed per call,
 * x100: "srv_NAME posted_x100=.. doorbells_x100=.. interrupts_x100=..
 * sleeps_x100=.. served_x100=..".
 */
struct sb_srv_counts {
	struct verbs_stats fab;
	uint64_t served;
};

static void sb_srv_read(struct verbs_dev *dev, struct sb_srv_counts *c)
{
	struct rpc_stats rs;

	verbs_get_stats(dev, &c->fab);
	rpc_get_stats(status_rpc(), &rs);
	c->served = rs.served;
}

static void sb_srv_diag(struct verbs_dev *dev)
{
	struct sb_srv_counts sum[SB_NSTREAMS] = {0}, a, b;
	unsigned calls = SB_DIAG_N * SB_DIAG_ROUNDS;
	char barrier[32];

	if (!ktest_cluster_sync("diag", SB_SYNC_NS))
		return;
	sb_srv_read(dev, &a);
	for (unsigned r = 0; r < SB_DIAG_ROUNDS; r++) {
		for (unsigned s = 0; s < SB_NSTREAMS; s++) {
			snprintf(barrier, sizeof(barrier), "diag_%s_%u", sb_stream_names[s],
				 r);
			if (!ktest_cluster_sync(barrier, SB_SYNC_NS))
				return;
			sb_srv_read(dev, &b);
			verbs_stats_add_since(&sum[s].fab, &a.fab, &b.fab);
			sum[s].served += b.served - a.served;
			a = b;
		}
	}
	for (unsigned s = 0; s < SB_NSTREAMS; s++)
		printk_raw("# bench: srv_%s posted_x100=%llu doorbells_x100=%llu "
			   "interrupts_x100=%llu sleeps_x100=%llu served_x100=%llu\n",
			   sb_stream_names[s],
			   (unsigned long long)(sum[s].fab.posted * 100 / calls),
			   (unsigned long long)(sum[s].fab.doorbells * 100 / calls),
			   (unsigned long long)(sum[s].fab.interrupts * 100 / calls),
			   (unsigned long long)(sum[s].fab.sleeps * 100 / calls),
			   (unsigned long long)(sum[s].served * 100 / calls));
}

KTEST_CLUSTER(bench_storage_local)
{
	struct ext2_mount_opts opts = {.now = wall_clock_s};
	struct fileserv *fsv = NULL;
	struct ext2_fs *fs = NULL;
	struct verbs_dev *dev;
	struct blkdev *bd;
	char why[160] = "";
	int err;

	err = status_start();
	KT_ASSERT(err == 0 && status_rpc() != NULL);
	KT_ASSERT(verbs_open(&dev) == 0);
	err = virtio_blk_probe(0, &bd);
	if (err)
		printk_raw("# bench: error no disk: %s\n", errno_name(err));
	KT_ASSERT(err == 0);
	err = ext2_mount(bd, &opts, &fs, why, sizeof(why));
	if (err)
		printk_raw("# bench: error cannot mount ext2: %s (%s)\n", errno_name(err),
			   why);
	KT_ASSERT(err == 0);
	sb_local(kt, bd);
	err = fileserv_start(status_rpc(), dev, fs, 0, kconfig.exports, kconfig.nexports,
			     &fsv);
	if (err)
		printk_raw("# bench: error file service: %s\n", errno_name(err));
	/* the barriers even so: the processor waits for them */
	KT_EXPECT_EQ(err, 0);
	KT_EXPECT(ktest_cluster_sync("serve", SB_SYNC_NS));
	sb_srv_diag(dev);
	KT_EXPECT(ktest_cluster_sync("done", SB_SYNC_NS));
	if (fsv) {
		struct fileserv_stats st;

		fileserv_get_stats(fsv, &st);
		printk_raw("# bench: fileserv big_reads=%llu read_fs_ns=%llu "
			   "read_rdma_ns=%llu big_writes=%llu write_fs_ns=%llu "
			   "write_rdma_ns=%llu unlocked_reads=%llu most_unlocked=%llu "
			   "reads_again=%llu\n",
			   (unsigned long long)st.big_reads.count,
			   (unsigned long long)st.big_reads.fs_ns,
			   (unsigned long long)st.big_reads.rdma_ns,
			   (unsigned long long)st.big_writes.count,
			   (unsigned long long)st.big_writes.fs_ns,
			   (unsigned long long)st.big_writes.rdma_ns,
			   (unsigned long long)st.unlocked_reads,
			   (unsigned long long)st.most_unlocked,
			   (unsigned long long)st.reads_again);
		fileserv_stop(fsv);
	}
	KT_EXPECT_EQ(ext2_unmount(fs), 0);
}
