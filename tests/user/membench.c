/*
 * membench WS_MIB [MISS_MIB [STEPS]]: the memory path's benchmark program
 * (`make bench-memory`, scripts/bench_memory.py runs it on processors
 * whose ExCache is 100%, 50% and 25% of WS_MIB).
 *
 * 1. ExCache miss latency. A region of MISS_MIB MiB (default 16: it must
 *    be larger than the ExCache) is written page by page (on Tessera the
 *    first touch of a never-written page is filled with zeros locally,
 *    timed as zero_fill_*), then read once page by page (each miss evicts
 *    a dirty line: miss_dirty_*), then read once more (each miss now
 *    evicts a clean line: miss_clean_*), then read once more in a fixed
 *    random order of the pages (miss_random_*: no sequential prefetch can
 *    hide a miss, so this is the plain round trip to the memory node),
 *    then, on Tessera, blocks of 4 KiB RPCs to the same memory node and
 *    random misses in turn (pair_*: paired_pass).
 *    Each touch is timed alone with
 *    clock_gettime(CLOCK_MONOTONIC); clock_ns is the cost of the two
 *    clock reads around an empty touch of a cached page, included in the
 *    per-touch figures (median, p99), not in the means (the pass's whole
 *    time over its pages, clock reads included, minus clock_ns each).
 * 2. Over a working set of WS_MIB MiB: a sequential sweep (one 8-byte
 *    read per 64-byte line, SWEEPS passes after one warm-up pass) and a
 *    random pointer chase (a single cycle through every 64-byte slot,
 *    Sattolo's shuffle with a fixed seed; STEPS steps, default 100000,
 *    after a warm-up of one step per slot). Reported in ns per access.
 *
 * On Tessera each phase also prints what the ExCache did for it (the
 * process's counters from system call 1024, include/proto/tessera_sys.h):
 * PHASE_misses, _zero_fills, _flushes, _piggybacks, _evictions,
 * _prefetches, and once excache_policy, excache_bytes, excache_ways,
 * excache_prefetch. On Linux these lines are left out.
 *
 * Output: "key value" lines, machine-readable; every value except the
 * arguments, counts and the chase's end slot is a measurement.
 */
#include <sys/mman.h>

#include "tu.h"

#define USAGE                                                                            \
	"WS_MIB [MISS_MIB [STEPS]]   (WS_MIB 1..1024, MISS_MIB 1..4096, "                \
	"STEPS 1000..100000000)"
#define LINE   64u
#define SWEEPS 4u

static unsigned char *map_rw(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);

	if (p == MAP_FAILED)
		tu_fail("mmap of %zu bytes failed: %s", len, strerror(errno));
	return p;
}

/* Counters at the start of the phase being measured; have: syscall works. */
static struct tessera_excache_stats phase_start;
static int have_excache;

static void phase_begin(void)
{
	if (have_excache)
		tu_excache(&phase_start);
}

/* Prints PREFIX_misses etc.: the process's counters since phase_begin. */
static void phase_end(const char *prefix)
{
	struct tessera_excache_stats now;
	const struct tessera_excache_counters *a = &now.process,
					      *b = &phase_start.process;

	if (!have_excache || tu_excache(&now) != 0)
		return;
	printf("%s_misses %llu\n", prefix, (unsigned long long)(a->misses - b->misses));
	printf("%s_zero_fills %llu\n", prefix,
	       (unsigned long long)(a->zero_fills - b->zero_fills));
	printf("%s_flushes %llu\n", prefix,
	       (unsigned long long)(a->flushes - b->flushes));
	printf("%s_piggybacks %llu\n", prefix,
	       (unsigned long long)(a->piggybacks - b->piggybacks));
	printf("%s_evictions %llu\n", prefix,
	       (unsigned long long)(a->evictions - b->evictions));
	printf("%s_prefetches %llu\n", prefix,
	       (unsigned long long)(a->prefetches - b->prefetches));
}

static void print_geometry(void)
{
	struct tessera_excache_stats st;

	have_excache = tu_excache(&st) == 0;
	if (!have_excache)
		return;
	printf("excache_policy %s\n", tu_policy_name(st.policy));
	printf("excache_bytes %llu\n", (unsigned long long)st.bytes);
	printf("excache_ways %u\n", st.ways);
	printf("excache_prefetch %u\n", st.prefetch);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The cost of two clock reads around a touch of a page that is cached. */
static uint64_t clock_cost(volatile unsigned char *p)
{
	uint64_t best = UINT64_MAX;

	p[0] = 1;
	for (int i = 0; i < 1000; i++) {
		uint64_t t0 = tu_now_ns();
		uint64_t t1;

		(void)p[0];
		t1 = tu_now_ns();
		best = t1 - t0 < best ? t1 - t0 : best;
	}
	return best;
}

/* xorshift64: a fixed, portable sequence for the shuffle. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Touches every page of p once (a write if write), in order, or in the
 * order of order[] if not NULL, timing each; prints PREFIX_ns_mean,
 * _median, _p99 from ns[] (npages entries).
 */
static void touch_pass(const char *prefix, volatile unsigned char *p, size_t npages,
		       int write, const uint32_t *order, uint64_t *ns, uint64_t clock_ns)
{
	uint64_t start, total, mean;

	phase_begin();
	start = tu_now_ns();
	for (size_t i = 0; i < npages; i++) {
		size_t pg = order ? order[i] : i;
		uint64_t t0 = tu_now_ns();

		if (write)
			p[pg * TU_PAGE] = (unsigned char)pg;
		else
			(void)p[pg * TU_PAGE];
		ns[i] = tu_now_ns() - t0;
	}
	total = tu_now_ns() - start;
	phase_end(prefix);
	mean = total / npages > clock_ns ? total / npages - clock_ns : 0;
	qsort(ns, npages, sizeof(*ns), cmp_u64);
	printf("%s_ns_mean %llu\n", prefix, (unsigned long long)mean);
	printf("%s_ns_median %llu\n", prefix, (unsigned long long)ns[npages / 2]);
	printf("%s_ns_p99 %llu\n", prefix, (unsigned long long)ns[npages * 99 / 100]);
}

/* A fixed random permutation of 0..n-1 (Fisher-Yates) from seed. */
static void shuffle(uint32_t *order, size_t n, uint64_t rng)
{

	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(rng_next(&rng) % (i + 1));
		uint32_t t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorts it). */
static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/*
 * Misses against the raw 4 KiB RPC, paired in time (Tessera only: system
 * call 1025 makes the processor time RPC_BULK round trips to this
 * process's home memory node, include/proto/tessera_sys.h). In each of
 * PAIR_BLOCKS blocks, PAIR_TOUCHES round trips, then PAIR_TOUCHES pages
 * touched in the order of order[] (a fresh random order: nearly all
 * misses); each block's miss median over its RPC median is one ratio, so
 * the host's slow and fast stretches, which last longer than a block,
 * weigh on both sides alike. Prints pair_blocks, pair_miss_ns_median and
 * pair_rpc_ns_median (over every touch and round trip), and
 * pair_ratio_median, _min and _max (over the blocks).
 */
#define PAIR_BLOCKS  16u
#define PAIR_TOUCHES 128u

static void paired_pass(volatile unsigned char *p, size_t npages, const uint32_t *order)
{
	uint64_t miss[PAIR_BLOCKS * PAIR_TOUCHES], rpc[PAIR_BLOCKS * PAIR_TOUCHES];
	double ratio[PAIR_BLOCKS];

	if (npages < PAIR_BLOCKS * PAIR_TOUCHES)
		return;
	for (unsigned b = 0; b < PAIR_BLOCKS; b++) {
		uint64_t *m = &miss[b * PAIR_TOUCHES], *r = &rpc[b * PAIR_TOUCHES];

		if (syscall(TESSERA_SYS_FABRIC_PING, 4096ul, (unsigned long)PAIR_TOUCHES, r))
			return; /* not Tessera, or no fabric: no pair_ lines */
		for (unsigned i = 0; i < PAIR_TOUCHES; i++) {
			size_t pg = order[b * PAIR_TOUCHES + i];
			uint64_t t0 = tu_now_ns();

			(void)p[pg * TU_PAGE];
			m[i] = tu_now_ns() - t0; /* clock reads included, as in touch_pass */
		}
		/* sorted in place: the medians over all blocks do not mind */
		ratio[b] = (double)median(m, PAIR_TOUCHES) / (double)median(r, PAIR_TOUCHES);
	}
	printf("pair_blocks %u\n", PAIR_BLOCKS);
	printf("pair_miss_ns_median %llu\n",
	       (unsigned long long)median(miss, PAIR_BLOCKS * PAIR_TOUCHES));
	printf("pair_rpc_ns_median %llu\n",
	       (unsigned long long)median(rpc, PAIR_BLOCKS * PAIR_TOUCHES));
	qsort(ratio, PAIR_BLOCKS, sizeof(*ratio), cmp_double);
	printf("pair_ratio_median %.3f\n", ratio[PAIR_BLOCKS / 2]);
	printf("pair_ratio_min %.3f\n", ratio[0]);
	printf("pair_ratio_max %.3f\n", ratio[PAIR_BLOCKS - 1]);
}

static void bench_miss(uint64_t miss_mib)
{
	size_t len = (size_t)miss_mib << 20, npages = len / TU_PAGE;
	uint64_t *ns = malloc(npages * sizeof(*ns));
	uint32_t *order = malloc(npages * sizeof(*order));
	volatile unsigned char *p = map_rw(len);
	uint64_t clock_ns;

	if (!ns || !order)
		tu_fail("malloc of the timing arrays failed");
	memset(ns, 0, npages * sizeof(*ns)); /* its pages are in before we time */
	shuffle(order, npages, 0x13198a2e03707344ull);
	clock_ns = clock_cost((volatile unsigned char *)ns);
	printf("clock_ns %llu\n", (unsigned long long)clock_ns);
	printf("miss_pages %zu\n", npages);
	touch_pass("zero_fill", p, npages, 1, NULL, ns, clock_ns);
	touch_pass("miss_dirty", p, npages, 0, NULL, ns, clock_ns);
	touch_pass("miss_clean", p, npages, 0, NULL, ns, clock_ns);
	touch_pass("miss_random", p, npages, 0, order, ns, clock_ns);
	shuffle(order, npages, 0xa4093822299f31d0ull);
	paired_pass(p, npages, order);
	munmap((void *)p, len);
	free(order);
	free(ns);
}

static void bench_sweep(volatile unsigned char *ws, size_t len)
{
	uint64_t sum = 0, t0, t1;
	size_t n = len / LINE;

	for (size_t i = 0; i < n; i++) /* write it all once: pages on the memory node */
		*(volatile uint64_t *)(ws + i * LINE) = i;
	for (size_t i = 0; i < n; i++) /* warm-up: what fits is now cached */
		sum += *(volatile uint64_t *)(ws + i * LINE);
	phase_begin();
	t0 = tu_now_ns();
	for (unsigned s = 0; s < SWEEPS; s++)
		for (size_t i = 0; i < n; i++)
			sum += *(volatile uint64_t *)(ws + i * LINE);
	t1 = tu_now_ns();
	phase_end("seq");
	printf("seq_accesses %zu\n", n * SWEEPS);
	printf("seq_ns_per_access %.2f\n", (double)(t1 - t0) / (double)(n * SWEEPS));
	if (sum != (uint64_t)(SWEEPS + 1) * ((uint64_t)n * (n - 1) / 2))
		tu_fail("sequential sweep: sum %llu, expected %llu",
			(unsigned long long)sum,
			(unsigned long long)((SWEEPS + 1) * ((uint64_t)n * (n - 1) / 2)));
}

/* Slot i (64 bytes apart) holds the index of the next slot: one cycle. */
static void chase_build(volatile uint64_t *ws, size_t n)
{
	uint64_t rng = 0x243f6a8885a308d3ull;
	const size_t step = LINE / sizeof(uint64_t);

	for (size_t i = 0; i < n; i++)
		ws[i * step] = i;
	for (size_t i = n - 1; i > 0; i--) { /* Sattolo: a single cycle */
		size_t j = (size_t)(rng_next(&rng) % i);
		uint64_t t = ws[i * step];

		ws[i * step] = ws[j * step];
		ws[j * step] = t;
	}
}

static void bench_chase(volatile uint64_t *ws, size_t len, uint64_t steps)
{
	const size_t step = LINE / sizeof(uint64_t), n = len / LINE;
	uint64_t at = 0, t0, t1;

	chase_build(ws, n);
	for (size_t i = 0; i < n; i++) /* warm-up */
		at = ws[at * step];
	if (at != 0)
		tu_fail("pointer chase: %zu steps from slot 0 ended at %llu, not 0 (not "
			"one "
			"cycle: memory changed under us)",
			n, (unsigned long long)at);
	phase_begin();
	t0 = tu_now_ns();
	for (uint64_t i = 0; i < steps; i++)
		at = ws[at * step];
	t1 = tu_now_ns();
	phase_end("chase");
	printf("chase_steps %llu\n", (unsigned long long)steps);
	printf("chase_ns_per_access %.2f\n", (double)(t1 - t0) / (double)steps);
	printf("chase_end_slot %llu\n", (unsigned long long)at);
}

int main(int argc, char **argv)
{
	uint64_t ws_mib, miss_mib = 16, steps = 100000;
	unsigned char *ws;
	size_t len;

	tu_init("membench");
	if (argc < 2 || argc > 4)
		tu_usage(USAGE);
	ws_mib = tu_number(argv[1], 1, 1024, "WS_MIB", USAGE);
	if (argc > 2)
		miss_mib = tu_number(argv[2], 1, 4096, "MISS_MIB", USAGE);
	if (argc > 3)
		steps = tu_number(argv[3], 1000, 100000000, "STEPS", USAGE);
	printf("ws_mib %llu\n", (unsigned long long)ws_mib);
	printf("miss_mib %llu\n", (unsigned long long)miss_mib);
	print_geometry();
	bench_miss(miss_mib);
	len = (size_t)ws_mib << 20;
	ws = map_rw(len);
	bench_sweep(ws, len);
	bench_chase((volatile uint64_t *)ws, len, steps);
	munmap(ws, len);
	return 0;
}
