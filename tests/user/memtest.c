/*
 * memtest SIZE_MIB [PASSES]: the memory path's basic check (DESIGN.md
 * section 5). Allocates SIZE_MIB MiB with malloc (musl: brk or mmap), and
 * for each pass fills every 64-bit word with a pattern that depends on
 * the word's offset in the region and on the pass, then reads every word
 * back and checks it. On Tessera, with a region several times the
 * processor's ExCache, every page is evicted (written back to the memory
 * node) between the fill and the check, so a lost write-back, a page
 * fetched into the wrong line or a line mapped at the wrong address shows
 * up as a mismatch.
 *
 * Output (deterministic: the same on the host and on Tessera, which is
 * how tests/cluster/memory_test.py gets its expected line):
 *   memtest: SIZE MiB PASSES passes checksum 0x%016x
 * plus lines starting with "timing:" and, on Tessera, one "excache:"
 * line with the process's ExCache counters (tu.h); only those vary. The
 * checksum folds every word read, in order, over every pass.
 * Exit 0 on success; 1 at the first mismatch, naming the address, offset,
 * pass and both values; 2 on a usage error.
 */
#include "tu.h"

#define USAGE "SIZE_MIB [PASSES]   (SIZE_MIB 1..4096, PASSES 1..100, default 1)"

static uint64_t pass_seed(unsigned pass)
{
	return tu_mix(0x6d656d74657374ull + pass); /* "memtest" + pass */
}

static void fill(uint64_t *w, size_t nwords, unsigned pass)
{
	uint64_t seed = pass_seed(pass);

	for (size_t i = 0; i < nwords; i++)
		w[i] = tu_pattern(i, seed);
}

/* Checks every word; returns the checksum folded on from sum. */
static uint64_t verify(const volatile uint64_t *w, size_t nwords, unsigned pass,
		       uint64_t sum)
{
	uint64_t seed = pass_seed(pass);

	for (size_t i = 0; i < nwords; i++) {
		uint64_t want = tu_pattern(i, seed), got = w[i];

		if (got != want)
			tu_fail("mismatch at address %p (offset 0x%zx, pass %u): read "
				"0x%016llx, expected 0x%016llx",
				(void *)&w[i], i * sizeof(uint64_t), pass,
				(unsigned long long)got, (unsigned long long)want);
		sum = tu_fold(sum, got);
	}
	return sum;
}

int main(int argc, char **argv)
{
	struct tessera_excache_stats st;
	uint64_t mib, passes, sum = 0;
	size_t nwords;
	uint64_t *w;

	tu_init("memtest");
	if (argc < 2 || argc > 3)
		tu_usage(USAGE);
	mib = tu_number(argv[1], 1, 4096, "SIZE_MIB", USAGE);
	passes = argc > 2 ? tu_number(argv[2], 1, 100, "PASSES", USAGE) : 1;
	nwords = (size_t)(mib << 20) / sizeof(uint64_t);
	w = malloc((size_t)mib << 20);
	if (!w)
		tu_fail("malloc of %llu MiB failed", (unsigned long long)mib);
	for (unsigned pass = 1; pass <= passes; pass++) {
		uint64_t t0 = tu_now_ns(), t1, t2;

		fill(w, nwords, pass);
		t1 = tu_now_ns();
		sum = verify(w, nwords, pass, sum);
		t2 = tu_now_ns();
		printf("timing: memtest pass %u fill %.1f ms verify %.1f ms\n", pass,
		       (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6);
	}
	free(w);
	if (tu_excache(&st) == 0)
		tu_excache_print("memtest", NULL, &st);
	printf("memtest: %llu MiB %llu passes checksum 0x%016llx\n",
	       (unsigned long long)mib, (unsigned long long)passes,
	       (unsigned long long)sum);
	return 0;
}
