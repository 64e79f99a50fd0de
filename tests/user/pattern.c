/*
 * pattern TAG MIB [ROUNDS [SLEEP_MS]]: isolation between processes on one
 * processor. Two instances with different tags run at the same time
 * (tests/cluster/memory_test.py starts them together on p1); each maps
 * MIB MiB, fills it with a pattern derived from its tag, and then ROUNDS
 * times sleeps SLEEP_MS (nanosleep, so that the other one runs and evicts
 * its lines), checks every word, and rewrites the region with the next
 * round's pattern. A process that ever saw the other's data, or its own
 * data of another round, fails.
 *
 * Output, deterministic for given arguments (the host computes the
 * expected lines by running the same binary):
 *   pattern TAG round R ok          after each round's check
 *   pattern TAG ok checksum 0x%016x at the end
 * and on Tessera an "excache: TAG ..." line before the last (tu.h), which
 * varies.
 * Exit 0; 1 with the address, round and both values at a mismatch; 2 on
 * a usage error. Defaults: ROUNDS 5, SLEEP_MS 200.
 */
#include <sys/mman.h>

#include "tu.h"

#define USAGE                                                                            \
	"TAG MIB [ROUNDS [SLEEP_MS]]   (TAG 1..32 characters, MIB 1..1024, "             \
	"ROUNDS 1..1000, SLEEP_MS 0..10000)"

/* The seed of round r for tag: FNV-1a of the tag, mixed with r. */
static uint64_t round_seed(const char *tag, unsigned r)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = tag; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	return tu_mix(h + r);
}

static void fill(uint64_t *w, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		w[i] = tu_pattern(i, seed);
}

static uint64_t check(const volatile uint64_t *w, size_t n, uint64_t seed,
		      const char *tag, unsigned r, uint64_t sum)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t got = w[i], want = tu_pattern(i, seed);

		if (got != want)
			tu_fail("%s: round %u: word at %p (offset 0x%zx) is 0x%016llx, "
				"expected 0x%016llx",
				tag, r, (void *)&w[i], i * sizeof(uint64_t),
				(unsigned long long)got, (unsigned long long)want);
		sum = tu_fold(sum, got);
	}
	return sum;
}

int main(int argc, char **argv)
{
	struct tessera_excache_stats st;
	uint64_t mib, rounds = 5, sleep_ms = 200, sum = 0;
	const char *tag;
	size_t n;
	uint64_t *w;

	tu_init("pattern");
	if (argc < 3 || argc > 5)
		tu_usage(USAGE);
	tag = argv[1];
	if (!*tag || strlen(tag) > 32)
		tu_usage(USAGE);
	mib = tu_number(argv[2], 1, 1024, "MIB", USAGE);
	if (argc > 3)
		rounds = tu_number(argv[3], 1, 1000, "ROUNDS", USAGE);
	if (argc > 4)
		sleep_ms = tu_number(argv[4], 0, 10000, "SLEEP_MS", USAGE);
	n = (size_t)(mib << 20) / sizeof(uint64_t);
	w = mmap(NULL, (size_t)mib << 20, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED)
		tu_fail("mmap of %llu MiB failed: %s", (unsigned long long)mib,
			strerror(errno));
	fill(w, n, round_seed(tag, 0));
	for (unsigned r = 1; r <= rounds; r++) {
		tu_sleep_ms((unsigned)sleep_ms);
		sum = check(w, n, round_seed(tag, r - 1), tag, r, sum);
		fill(w, n, round_seed(tag, r));
		printf("pattern %s round %u ok\n", tag, r);
	}
	sum = check(w, n, round_seed(tag, (unsigned)rounds), tag, (unsigned)rounds + 1,
		    sum);
	if (tu_excache(&st) == 0)
		tu_excache_print(tag, NULL, &st);
	printf("pattern %s ok checksum 0x%016llx\n", tag, (unsigned long long)sum);
	return 0;
}
