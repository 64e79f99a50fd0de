/*
 * Fresh ranges: the interval set of pcomponent/excache_fresh.h.
 *
 * An array sorted by start, at most cap entries, so every operation is a
 * linear walk over at most a few dozen ranges (EXCACHE_FRESH), done under
 * a spinlock in the kernel: no allocation, no recursion. Shifting is done
 * by hand (no memmove) so that the file stands alone in the host tests.
 */
#include "excache_fresh.h"

#define EXF_PAGE 4096ull

static uint64_t size_of(const struct excache_fresh *f)
{
	return f->end - f->start;
}

/* Deletes r[i], closing the gap. */
static void delete_at(struct excache_fresh *r, unsigned *n, unsigned i)
{
	for (unsigned k = i; k + 1 < *n; k++)
		r[k] = r[k + 1];
	(*n)--;
}

/* Index of the smallest range (the first of equals); *n > 0. */
static unsigned smallest(const struct excache_fresh *r, unsigned n)
{
	unsigned s = 0;

	for (unsigned i = 1; i < n; i++)
		if (size_of(&r[i]) < size_of(&r[s]))
			s = i;
	return s;
}

/*
 * Inserts f at index i (sorted order is the caller's business). Full:
 * forgets the smallest range, f itself if nothing is larger.
 */
static void insert_at(struct excache_fresh *r, unsigned *n, unsigned cap, unsigned i,
		      struct excache_fresh f)
{
	if (cap == 0)
		return;
	if (*n >= cap) {
		unsigned s = smallest(r, *n);

		if (size_of(&f) <= size_of(&r[s]))
			return;
		delete_at(r, n, s);
		if (s < i)
			i--;
	}
	for (unsigned k = *n; k > i; k--)
		r[k] = r[k - 1];
	r[i] = f;
	(*n)++;
}

/* First index whose range ends after va (where va is, or would go). */
static unsigned lower_bound(const struct excache_fresh *r, unsigned n, uint64_t va)
{
	unsigned i = 0;

	while (i < n && r[i].end <= va)
		i++;
	return i;
}

void exf_remove(struct excache_fresh *r, unsigned *n, unsigned cap, uint64_t start,
		uint64_t end)
{
	unsigned i;

	start &= ~(EXF_PAGE - 1);
	end = end > UINT64_MAX - (EXF_PAGE - 1) ? UINT64_MAX & ~(EXF_PAGE - 1)
						: (end + EXF_PAGE - 1) & ~(EXF_PAGE - 1);
	if (start >= end)
		return;
	i = lower_bound(r, *n, start);
	while (i < *n && r[i].start < end) {
		struct excache_fresh *f = &r[i];

		if (f->start >= start && f->end <= end) { /* inside: goes */
			delete_at(r, n, i);
		} else if (f->start < start && f->end > end) { /* holds it: split */
			struct excache_fresh right = {end, f->end, f->prot};

			f->end = start;
			insert_at(r, n, cap, i + 1, right);
			return;
		} else if (f->start < start) { /* overlaps the start: cut its end */
			f->end = start;
			i++;
		} else { /* overlaps the end: cut its start */
			f->start = end;
			return;
		}
	}
}

/* Joins r[i] with r[i + 1] if they touch and have the same prot. */
static void merge_next(struct excache_fresh *r, unsigned *n, unsigned i)
{
	if (i + 1 < *n && r[i].end == r[i + 1].start && r[i].prot == r[i + 1].prot) {
		r[i].end = r[i + 1].end;
		delete_at(r, n, i + 1);
	}
}

void exf_add(struct excache_fresh *r, unsigned *n, unsigned cap, uint64_t start,
	     uint64_t end, uint32_t prot)
{
	struct excache_fresh f;
	unsigned i;

	start = start > UINT64_MAX - (EXF_PAGE - 1)
			? UINT64_MAX
			: (start + EXF_PAGE - 1) & ~(EXF_PAGE - 1);
	end &= ~(EXF_PAGE - 1);
	if (start >= end)
		return;
	exf_remove(r, n, cap, start, end);
	f = (struct excache_fresh){start, end, prot};
	i = lower_bound(r, *n, start);
	insert_at(r, n, cap, i, f);
	/* where did it land (or was it the one forgotten)? */
	for (i = 0; i < *n; i++) {
		if (r[i].start == start && r[i].end == end) {
			merge_next(r, n, i);
			if (i > 0)
				merge_next(r, n, i - 1);
			return;
		}
	}
}

int exf_find(const struct excache_fresh *r, unsigned n, uint64_t va)
{
	unsigned i = lower_bound(r, n, va);

	return i < n && r[i].start <= va ? (int)i : -1;
}
