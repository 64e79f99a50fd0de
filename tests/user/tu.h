/*
 * tu.h: the few helpers the memory path's test programs share (tests/user/,
 * built with musl-gcc -static by mk/cluster.mk into $(BUILD)/user/).
 *
 * The programs are ordinary static Linux binaries: they run the same on
 * the host (which is how the tests get their expected output) and on a
 * Tessera processor, whose memory lives on a memory node. So they use
 * nothing but what a static musl program needs from the kernel (brk, mmap,
 * munmap, mprotect, write, clock_gettime, nanosleep, exit), print results
 * on stdout, line by line (stdout is made line-buffered so that a program
 * that dies of a signal has already written everything before the fault),
 * and exit 0 on success, 1 with a message on stderr on a failure, 2 on a
 * usage error.
 *
 * On Tessera, tu_excache reads the processor's ExCache counters with
 * Tessera's system call 1024 (include/proto/tessera_sys.h, built with
 * -Iinclude); on Linux that call fails with ENOSYS and the programs print
 * no counters.
 *
 * Header-only (static inline functions): each program is one .c file plus this.
 */
#ifndef TESTS_USER_TU_H
#define TESTS_USER_TU_H

#include <errno.h>
#include <proto/tessera_sys.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TU_PAGE 4096ul

/* Program name for messages; set by tu_init. */
static const char *tu_prog = "test";

/* Call first: names the program and makes stdout line-buffered. */
static inline void tu_init(const char *prog)
{
	tu_prog = prog;
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Prints "PROG: message" on stderr and exits 1 (a failed check). */
__attribute__((noreturn, format(printf, 1, 2))) static inline void
tu_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", tu_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Prints the usage line on stderr and exits 2. */
__attribute__((noreturn)) static inline void tu_usage(const char *usage)
{
	fprintf(stderr, "usage: %s %s\n", tu_prog, usage);
	exit(2);
}

/*
 * Parses a decimal number in [min, max] from s; anything else (empty,
 * signs, trailing bytes, out of range) is a usage error naming what.
 */
static inline uint64_t tu_number(const char *s, uint64_t min, uint64_t max,
				 const char *what, const char *usage)
{
	uint64_t v = 0;

	if (!*s)
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			goto bad;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		goto bad;
	return v;
bad:
	fprintf(stderr, "%s: %s: '%s' is not a number from %llu to %llu\n", tu_prog, what,
		s, (unsigned long long)min, (unsigned long long)max);
	tu_usage(usage);
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t tu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleeps ms milliseconds with nanosleep, resuming after EINTR. */
static inline void tu_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * splitmix64's finaliser: a cheap bijective mix, so that every word of a
 * pattern differs from its neighbours and from the same word of another
 * pass or seed (a page landing in the wrong place cannot match).
 */
static inline uint64_t tu_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* The pattern word at word index i (from the start of the region) for seed. */
static inline uint64_t tu_pattern(uint64_t i, uint64_t seed)
{
	return tu_mix(i * 0x9e3779b97f4a7c15ull + seed);
}

/* Folds a word into a running checksum (order-dependent). */
static inline uint64_t tu_fold(uint64_t sum, uint64_t w)
{
	return tu_mix(sum ^ w) + 0x632be59bd9b4e019ull;
}

/*
 * Fills st with the ExCache geometry and counters (TESSERA_SYS_EXCACHE_STATS).
 * Returns 0, or -1 when there is none (on Linux: ENOSYS; an unknown version).
 */
static inline int tu_excache(struct tessera_excache_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (syscall(TESSERA_SYS_EXCACHE_STATS, st) != 0)
		return -1;
	return st->version == TESSERA_EXCACHE_STATS_VERSION ? 0 : -1;
}

/* The manifest's word for a policy value. */
static inline const char *tu_policy_name(uint32_t policy)
{
	static const char *const names[] = {"lru", "fifo", "random", "clock"};

	return policy < sizeof(names) / sizeof(names[0]) ? names[policy] : "unknown";
}

/*
 * Prints one "excache: ..." line: the geometry of st and the process's
 * counters of st minus those of before (NULL: since the process started).
 * The line varies with the policy and timing: tests must not compare it.
 */
static inline void tu_excache_print(const char *what,
				    const struct tessera_excache_stats *before,
				    const struct tessera_excache_stats *st)
{
	static const struct tessera_excache_counters zero;
	const struct tessera_excache_counters *b = before ? &before->process : &zero;
	const struct tessera_excache_counters *a = &st->process;

	printf("excache: %s policy %s size %llu ways %u lines %u prefetch %u misses %llu "
	       "zero_fills %llu fresh_fills %llu flushes %llu piggybacks %llu evictions "
	       "%llu prefetches %llu prefetch_hits %llu drops %llu redirects %llu\n",
	       what, tu_policy_name(st->policy), (unsigned long long)st->bytes, st->ways,
	       st->lines, st->prefetch, (unsigned long long)(a->misses - b->misses),
	       (unsigned long long)(a->zero_fills - b->zero_fills),
	       (unsigned long long)(a->fresh_fills - b->fresh_fills),
	       (unsigned long long)(a->flushes - b->flushes),
	       (unsigned long long)(a->piggybacks - b->piggybacks),
	       (unsigned long long)(a->evictions - b->evictions),
	       (unsigned long long)(a->prefetches - b->prefetches),
	       (unsigned long long)(a->prefetch_hits - b->prefetch_hits),
	       (unsigned long long)(a->drops - b->drops),
	       (unsigned long long)(a->redirects - b->redirects));
}

#endif
