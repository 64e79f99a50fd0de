/*
 * Tessera's own system calls: numbers above Linux's (which end below
 * 1024), so no Linux binary calls them by accident. User programs include
 * this header as it is (fixed-width types only, no kernel headers); the
 * processor's syscall table (pcomponent/syscall.c) serves them.
 *
 *   TESSERA_SYS_EXCACHE_STATS (1024): syscall(1024, struct
 *       tessera_excache_stats *out) copies the ExCache geometry and the
 *       counters of the calling process and of the whole node to out.
 *       Returns 0, -EFAULT (bad pointer), -ENODEV (no ExCache).
 *
 *   TESSERA_SYS_FABRIC_PING (1025): syscall(1025, uint64_t bytes,
 *       uint64_t count, uint64_t *ns) makes count round trips (1..
 *       TESSERA_FABRIC_PING_MAX), one after another, from this processor
 *       to the calling process's home memory node, through the RPC
 *       layer's echo services: bytes 16 is a PING (16 bytes each way),
 *       4096 an RPC_BULK (a page each way, the size of an ExCache miss's
 *       page; the echo is checked). Stores each round trip's time in
 *       nanoseconds in ns[0..count). For measuring the fabric from a
 *       program, next to what its own misses cost (tests/user/membench.c).
 *       Returns 0, -EINVAL (bytes or count), -EFAULT (bad ns), -ENODEV
 *       (no fabric), -ENOMEM, or the first failed round trip's error
 *       (-ETIMEDOUT, -EHOSTUNREACH, -EPROTO...; ns is then not written).
 */
#ifndef PROTO_TESSERA_SYS_H
#define PROTO_TESSERA_SYS_H

#include <stdint.h>

#define TESSERA_SYS_EXCACHE_STATS 1024
#define TESSERA_SYS_FABRIC_PING	  1025
#define TESSERA_FABRIC_PING_MAX	  4096

#define TESSERA_EXCACHE_STATS_VERSION 4 /* 4: shared_maps */

/* What misses did (per process: its own misses and prefetches). */
struct tessera_excache_counters {
	uint64_t misses;	/* page faults answered by a memory node */
	uint64_t flushes;	/* dirty lines written back by MEM_FLUSH */
	uint64_t piggybacks;	/* dirty victims written back inside MEM_MISS */
	uint64_t evictions;	/* valid lines taken as victims */
	uint64_t zero_fills;	/* misses answered MEM_MISS_ZERO (zeroed here) */
	uint64_t fresh_fills;	/* misses in a fresh range: zeroed, no message */
	uint64_t redirects;	/* misses the home answered MEM_MISS_ELSEWHERE */
	uint64_t prefetches;	/* pages fetched ahead of a sequential miss */
	uint64_t prefetch_hits; /* prefetched lines accessed before eviction */
	uint64_t drops;		/* lines dropped without write-back (exit, munmap) */
	uint64_t code_misses;	/* of misses, those of an instruction fetch */
	uint64_t shared_maps;	/* faults on a MAP_SHARED page another process
				   had cached: mapped, no message */
};
_Static_assert(sizeof(struct tessera_excache_counters) == 96, "counters size");

/* The policy field: same values as the excache= word's order. */
enum tessera_excache_policy {
	TESSERA_EXCACHE_LRU = 0,
	TESSERA_EXCACHE_FIFO = 1,
	TESSERA_EXCACHE_RANDOM = 2,
	TESSERA_EXCACHE_CLOCK = 3,
};

struct tessera_excache_stats {
	uint32_t version; /* TESSERA_EXCACHE_STATS_VERSION */
	uint32_t policy;  /* enum tessera_excache_policy */
	uint64_t bytes;	  /* cache size */
	uint32_t ways;
	uint32_t sets;
	uint32_t lines;
	uint32_t lines_valid; /* holding a page now (all processes) */
	uint32_t pid;	      /* the caller's */
	uint32_t prefetch;    /* 1 if sequential prefetch is on */
	struct tessera_excache_counters process;
	struct tessera_excache_counters node;
};
_Static_assert(sizeof(struct tessera_excache_stats) == 32 + 8 + 192, "stats size");

#endif
