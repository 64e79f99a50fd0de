/*
 * spantest REGIONS SIZE_MIB: an address space spread over several vRegions
 * (DESIGN.md section 5, include/proto/mem.h "vRegions on several nodes").
 * Maps REGIONS anonymous regions of SIZE_MIB MiB, each asked for (as a
 * hint) at the start of a 1 GiB vRegion of its own, so that each is a
 * vRegion its home has never seen and the global memory manager places;
 * on a vNode with two memory nodes some of them land on the other one.
 * Fills every word of every region with a pattern of its region and
 * offset, then reads everything back in the same order and checks it.
 * With regions several times the ExCache, every page is written back to
 * whichever node owns it and fetched again from there.
 *
 * Output (deterministic, the same on the host):
 *   spantest: REGIONS x SIZE MiB checksum 0x%016x
 * and on Tessera an "excache:" line (tu.h; `redirects` counts the misses
 * the home sent on to a vRegion's owner). Exit 0; 1 at the first
 * mismatch or a failed mmap; 2 on a usage error.
 */
#include "tu.h"

#include <sys/mman.h>

#define USAGE	    "REGIONS SIZE_MIB   (REGIONS 1..16, SIZE_MIB 1..256)"
#define SPAN_BASE   0x100000000000ull /* 16 TiB: far from the heap and mmap space */
#define VREGION	    (1ull << 30)
#define MAX_REGIONS 16

static uint64_t seed_of(unsigned region)
{
	return tu_mix(0x7370616e74657374ull + region); /* "spantest" + region */
}

int main(int argc, char **argv)
{
	struct tessera_excache_stats st;
	uint64_t *region[MAX_REGIONS];
	uint64_t sum = 0;
	unsigned nregions;
	size_t size, nwords;

	tu_init("spantest");
	if (argc != 3)
		tu_usage(USAGE);
	nregions = (unsigned)tu_number(argv[1], 1, MAX_REGIONS, "REGIONS", USAGE);
	size = (size_t)tu_number(argv[2], 1, 256, "SIZE_MIB", USAGE) << 20;
	nwords = size / sizeof(uint64_t);
	for (unsigned r = 0; r < nregions; r++) {
		void *hint = (void *)(uintptr_t)(SPAN_BASE + r * VREGION);

		region[r] = mmap(hint, size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (region[r] == MAP_FAILED)
			tu_fail("mmap of region %u (%zu bytes at %p): %s", r, size, hint,
				strerror(errno));
	}
	for (unsigned r = 0; r < nregions; r++)
		for (size_t i = 0; i < nwords; i++)
			region[r][i] = tu_pattern(i, seed_of(r));
	for (unsigned r = 0; r < nregions; r++) {
		for (size_t i = 0; i < nwords; i++) {
			uint64_t want = tu_pattern(i, seed_of(r)), got = region[r][i];

			if (got != want)
				tu_fail("region %u word %zu (%p): 0x%016llx, want 0x%016llx", r,
					i, (void *)&region[r][i], (unsigned long long)got,
					(unsigned long long)want);
			sum = tu_fold(sum, got);
		}
	}
	printf("spantest: %u x %zu MiB checksum 0x%016llx\n", nregions, size >> 20,
	       (unsigned long long)sum);
	if (tu_excache(&st) == 0)
		tu_excache_print("spantest", NULL, &st);
	for (unsigned r = 0; r < nregions; r++)
		munmap(region[r], size);
	return 0;
}
