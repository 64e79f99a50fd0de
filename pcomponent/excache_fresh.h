/*
 * Fresh ranges (pcomponent/excache_fresh.c): a small set of page ranges
 * of a process that are anonymous memory never written since they were
 * mapped, so every page of them is zero on whichever memory node owns
 * it, and the ExCache can zero-fill a miss there without a message
 * (pcomponent/excache.h, excache_fresh_add). Portable: no locks, no
 * kernel services, no arch headers; the host tests drive it (tests/unit/
 * test_excache_fresh.c) and the kernel calls it under the process's
 * ec.lock.
 *
 * The set is an array of at most cap ranges, sorted by start, never
 * overlapping, each page aligned and non-empty. Forgetting a range (or
 * part of one) is always safe: a miss there then simply asks the memory
 * node. So when the array is full, the smallest range goes (the new one
 * itself if none is larger). Adjacent ranges with the same prot merge.
 */
#ifndef PCOMPONENT_EXCACHE_FRESH_H
#define PCOMPONENT_EXCACHE_FRESH_H

#include <stdint.h>

/* A range of anonymous memory never written since it was mapped: its
 * pages are zero on every memory node, so a miss there needs no message. */
struct excache_fresh {
	uint64_t start, end; /* page aligned; end > start */
	uint32_t prot;	     /* the mapping's PROT_* */
};

/*
 * Adds [start, end) with prot to the set r[0..*n) (capacity cap): start
 * is rounded up and end down to pages (only whole pages are fresh); what
 * the set held in that range is replaced. Merges with a neighbour of the
 * same prot that touches it. Full: the smallest range is forgotten.
 */
void exf_add(struct excache_fresh *r, unsigned *n, unsigned cap, uint64_t start,
	     uint64_t end, uint32_t prot);

/*
 * Removes [start, end) (start rounded down, end up to pages) from every
 * range: ranges inside it go, ranges overlapping an end are cut, a range
 * holding it in its middle is split in two (full: the smallest range of
 * the set, the two pieces included, is forgotten).
 */
void exf_remove(struct excache_fresh *r, unsigned *n, unsigned cap, uint64_t start,
		uint64_t end);

/* Index of the range holding va, or -1. */
int exf_find(const struct excache_fresh *r, unsigned n, uint64_t va);

#endif
