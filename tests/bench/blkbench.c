/*
 * The Linux side of the storage benchmark (scripts/bench_storage.py): a
 * static program (musl-gcc -static) that a Linux guest runs as part of
 * its initramfs, on the same disk image and in the same QEMU setup as
 * Tessera's storage node, to give the "local" figures that the remote
 * ones (pcomponent/storage_bench.c) are compared with.
 *
 *   blkbench [--mib N] [--offset MIB] [--rand-ms MS] [--rand-ops N]
 *            [--depth D] [--read-only] PATH
 *
 * PATH is a regular file or a block device, opened with O_DIRECT (so the
 * guest's page cache is out of the picture; without it if the file system
 * refuses, reported as direct=0). Over N MiB (default: all of it, at
 * most 64 MiB) from --offset MiB on (default 0), in this order:
 *
 *   seq_read       1 MiB reads, front to back
 *   rand_read_4k   4 KiB reads at random 4 KiB-aligned offsets, queue
 *                  depth 1, each one timed: also gives lat_read_4k
 *   rand_read_4k_qdD   the same from D threads (if --depth D > 1)
 *   seq_write      1 MiB writes front to back, then fdatasync (timed)
 *   rand_write_4k  4 KiB writes at random offsets, depth 1, fdatasync
 *   rand_write_4k_qdD
 *
 * The writes overwrite the bytes in place (no allocation) and are skipped
 * with --read-only. Random phases stop after --rand-ops operations or
 * --rand-ms milliseconds, whichever comes first.
 *
 * Output, one line per figure, integers only (the Tessera side prints the
 * same names and keys after "# bench: "):
 *   blkbench: info path=P offset=O bytes=N direct=1
 *   blkbench: seq_read bytes=N elapsed_ns=T
 *   blkbench: rand_read_4k ops=N elapsed_ns=T
 *   blkbench: lat_read_4k median_ns=M p99_ns=P min_ns=L n=N
 *   blkbench: done
 * Errors go to stdout too ("blkbench: error ..."), since in the guest
 * only the serial console is read; the exit status is 1 then.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEQ_REQ	  (1u << 20)
#define RAND_REQ  4096u
#define MAX_DEPTH 64

struct opts {
	const char *path;
	uint64_t offset;   /* where the region starts, a multiple of SEQ_REQ */
	uint64_t bytes;	   /* the region used, a multiple of SEQ_REQ */
	uint64_t rand_ns;  /* time bound of a random phase */
	unsigned rand_ops; /* op bound of a random phase */
	unsigned depth;
	bool read_only;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fail(const char *what)
{
	printf("blkbench: error %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static void *aligned_buf(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len))
		fail("posix_memalign");
	memset(p, 0x5a, len);
	return p;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void full_io(int fd, bool write, void *buf, size_t len, uint64_t off)
{
	ssize_t n = write ? pwrite(fd, buf, len, (off_t)off)
			  : pread(fd, buf, len, (off_t)off);

	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EIO;
		fail(write ? "pwrite" : "pread");
	}
}

static void seq_phase(int fd, const struct opts *o, bool write)
{
	void *buf = aligned_buf(SEQ_REQ);
	uint64_t t0 = now_ns();

	for (uint64_t off = 0; off < o->bytes; off += SEQ_REQ)
		full_io(fd, write, buf, SEQ_REQ, o->offset + off);
	if (write && fdatasync(fd))
		fail("fdatasync");
	printf("blkbench: %s bytes=%llu elapsed_ns=%llu\n",
	       write ? "seq_write" : "seq_read", (unsigned long long)o->bytes,
	       (unsigned long long)(now_ns() - t0));
	free(buf);
}

struct rand_job {
	int fd;
	bool write;
	const struct opts *o;
	uint64_t seed, deadline;
	atomic_int *left; /* operations not yet started, shared */
	uint64_t *lat;	  /* per-op ns, or NULL */
	unsigned ops;
};

static void *rand_loop(void *arg)
{
	struct rand_job *j = arg;
	void *buf = aligned_buf(RAND_REQ);
	uint64_t blocks = j->o->bytes / RAND_REQ;

	while (now_ns() < j->deadline) {
		if (atomic_fetch_sub(j->left, 1) <= 0)
			break;
		uint64_t off = xorshift(&j->seed) % blocks * RAND_REQ;
		uint64_t t0 = now_ns();

		full_io(j->fd, j->write, buf, RAND_REQ, j->o->offset + off);
		if (j->lat)
			j->lat[j->ops] = now_ns() - t0;
		j->ops++;
	}
	free(buf);
	return NULL;
}

static void rand_phase(int fd, const struct opts *o, bool write, unsigned depth)
{
	struct rand_job jobs[MAX_DEPTH];
	pthread_t th[MAX_DEPTH];
	atomic_int left = (int)o->rand_ops;
	uint64_t *lat = NULL, t0, elapsed;
	unsigned ops = 0;
	char name[32];

	if (depth == 1 && !write && !(lat = calloc(o->rand_ops, sizeof(*lat))))
		fail("calloc");
	t0 = now_ns();
	for (unsigned i = 0; i < depth; i++) {
		jobs[i] = (struct rand_job){
			fd,    write, o, 0x9e3779b97f4a7c15ull * (i + 1), t0 + o->rand_ns,
			&left, lat,   0};
		if (depth > 1 && pthread_create(&th[i], NULL, rand_loop, &jobs[i]))
			fail("pthread_create");
	}
	if (depth == 1)
		rand_loop(&jobs[0]);
	for (unsigned i = 0; i < depth; i++) {
		if (depth > 1)
			pthread_join(th[i], NULL);
		ops += jobs[i].ops;
	}
	if (write && fdatasync(fd))
		fail("fdatasync");
	elapsed = now_ns() - t0;
	snprintf(name, sizeof(name), "rand_%s_4k", write ? "write" : "read");
	if (depth > 1)
		snprintf(name + strlen(name), sizeof(name) - strlen(name), "_qd%u",
			 depth);
	printf("blkbench: %s ops=%u elapsed_ns=%llu\n", name, ops,
	       (unsigned long long)elapsed);
	if (lat && ops) {
		qsort(lat, ops, sizeof(*lat), cmp_u64);
		printf("blkbench: lat_read_4k median_ns=%llu p99_ns=%llu min_ns=%llu "
		       "n=%u\n",
		       (unsigned long long)lat[ops / 2],
		       (unsigned long long)lat[ops * 99 / 100],
		       (unsigned long long)lat[0], ops);
	}
	free(lat);
}

static uint64_t target_size(int fd)
{
	/* a block device's size too (no kernel headers with musl-gcc) */
	off_t end = lseek(fd, 0, SEEK_END);

	if (end < 0)
		fail("lseek");
	return (uint64_t)end;
}

static void usage(void)
{
	printf("usage: blkbench [--mib N] [--offset MIB] [--rand-ms MS] [--rand-ops N] "
	       "[--depth D] "
	       "[--read-only] PATH\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {NULL, 0, 64ull << 20, 3000ull * 1000000, 20000, 1, false};
	int fd, flags;
	bool direct = true;
	uint64_t size;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--read-only"))
			o.read_only = true;
		else if (i + 1 < argc && !strcmp(argv[i], "--mib"))
			o.bytes = strtoull(argv[++i], NULL, 0) << 20;
		else if (i + 1 < argc && !strcmp(argv[i], "--offset"))
			o.offset = strtoull(argv[++i], NULL, 0) << 20;
		else if (i + 1 < argc && !strcmp(argv[i], "--rand-ms"))
			o.rand_ns = strtoull(argv[++i], NULL, 0) * 1000000;
		else if (i + 1 < argc && !strcmp(argv[i], "--rand-ops"))
			o.rand_ops = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--depth"))
			o.depth = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (argv[i][0] != '-' && !o.path)
			o.path = argv[i];
		else
			usage();
	}
	if (!o.path || !o.depth || o.depth > MAX_DEPTH || !o.rand_ops)
		usage();
	flags = o.read_only ? O_RDONLY : O_RDWR;
	fd = open(o.path, flags | O_DIRECT);
	if (fd < 0 && errno == EINVAL) {
		direct = false;
		fd = open(o.path, flags);
	}
	if (fd < 0)
		fail(o.path);
	size = target_size(fd) / SEQ_REQ * SEQ_REQ;
	size = size > o.offset ? size - o.offset : 0;
	if (o.bytes > size)
		o.bytes = size;
	if (!o.bytes) {
		errno = ENOSPC;
		fail("smaller than 1 MiB");
	}
	printf("blkbench: info path=%s offset=%llu bytes=%llu direct=%d\n", o.path,
	       (unsigned long long)o.offset, (unsigned long long)o.bytes, direct);
	seq_phase(fd, &o, false);
	rand_phase(fd, &o, false, 1);
	if (o.depth > 1)
		rand_phase(fd, &o, false, o.depth);
	if (!o.read_only) {
		seq_phase(fd, &o, true);
		rand_phase(fd, &o, true, 1);
		if (o.depth > 1)
			rand_phase(fd, &o, true, o.depth);
	}
	close(fd);
	printf("blkbench: done\n");
	fflush(stdout);
	return 0;
}
