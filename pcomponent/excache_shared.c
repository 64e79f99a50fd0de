/*
 * Shared ranges: the range set of pcomponent/excache_shared.h.
 *
 * An array sorted by start, at most cap entries: every operation is a
 * linear walk over a few dozen ranges (EXCACHE_SHARED), under a spinlock
 * in the kernel; no allocation. A change first cuts the ranges at its two
 * ends (split_at), so that every range is then wholly inside or wholly
 * outside [start, end), and works on whole ranges after that. Whether
 * the cuts fit is known before anything moves (exsh_splits), so a
 * change that does not fit leaves the set as it was.
 */
#include "excache_shared.h"

#define EXSH_PAGE_SHIFT 12

int exsh_find(const struct excache_shared *r, unsigned n, uint64_t va)
{
	for (unsigned i = 0; i < n; i++)
		if (va >= r[i].start && va < r[i].end)
			return (int)i;
	return -1;
}

uint64_t exsh_offset(const struct excache_shared *r, uint64_t va)
{
	return (r->pgoff << EXSH_PAGE_SHIFT) + ((va - r->start) & ~((1ull << EXSH_PAGE_SHIFT) - 1));
}

/* Whether x cuts r (lies strictly inside it). */
static int cuts(const struct excache_shared *r, uint64_t x)
{
	return x > r->start && x < r->end;
}

unsigned exsh_splits(const struct excache_shared *r, unsigned n, uint64_t start,
		     uint64_t end)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		k += (unsigned)cuts(&r[i], start) + (unsigned)cuts(&r[i], end);
	return k;
}

/* Opens a gap at index i (room for one more is the caller's check). */
static void insert_gap(struct excache_shared *r, unsigned *n, unsigned i)
{
	for (unsigned k = *n; k > i; k--)
		r[k] = r[k - 1];
	(*n)++;
}

static void delete_at(struct excache_shared *r, unsigned *n, unsigned i)
{
	for (unsigned k = i; k + 1 < *n; k++)
		r[k] = r[k + 1];
	(*n)--;
}

/* Cuts the range x lies strictly inside, if any, in two at x. */
static void split_at(struct excache_shared *r, unsigned *n, uint64_t x)
{
	for (unsigned i = 0; i < *n; i++) {
		if (!cuts(&r[i], x))
			continue;
		insert_gap(r, n, i + 1);
		r[i + 1] = r[i];
		r[i + 1].start = x;
		r[i + 1].pgoff = r[i].pgoff + ((x - r[i].start) >> EXSH_PAGE_SHIFT);
		r[i].end = x;
		return;
	}
}

/* Cuts at both ends if that fits with extra more entries; -1 if not. */
static int cut_ends(struct excache_shared *r, unsigned *n, unsigned cap, uint64_t start,
		    uint64_t end, unsigned extra)
{
	if (*n + exsh_splits(r, *n, start, end) + extra > cap)
		return -1;
	split_at(r, n, start);
	split_at(r, n, end);
	return 0;
}

/* Deletes the ranges inside [start, end) (the ends are cut already). */
static void delete_inside(struct excache_shared *r, unsigned *n, uint64_t start,
			  uint64_t end)
{
	for (unsigned i = 0; i < *n;) {
		if (r[i].start >= start && r[i].end <= end)
			delete_at(r, n, i);
		else
			i++;
	}
}

int exsh_add(struct excache_shared *r, unsigned *n, unsigned cap, uint64_t start,
	     uint64_t end, uint64_t key, uint64_t pgoff, uint32_t prot)
{
	unsigned i = 0;

	if (cut_ends(r, n, cap, start, end, 1))
		return -1;
	delete_inside(r, n, start, end);
	while (i < *n && r[i].start < start)
		i++;
	insert_gap(r, n, i);
	r[i] = (struct excache_shared){start, end, key, pgoff, prot};
	return 0;
}

int exsh_remove(struct excache_shared *r, unsigned *n, unsigned cap, uint64_t start,
		uint64_t end)
{
	if (cut_ends(r, n, cap, start, end, 0))
		return -1;
	delete_inside(r, n, start, end);
	return 0;
}

int exsh_protect(struct excache_shared *r, unsigned *n, unsigned cap, uint64_t start,
		 uint64_t end, uint32_t prot)
{
	if (cut_ends(r, n, cap, start, end, 0))
		return -1;
	for (unsigned i = 0; i < *n; i++)
		if (r[i].start >= start && r[i].end <= end)
			r[i].prot = prot;
	return 0;
}
