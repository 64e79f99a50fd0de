/*
 * Tests of the ExCache's fresh-range set (pcomponent/excache_fresh.c):
 * adds (page rounding, sorted order, replacing what was there, merging
 * neighbours of the same prot only), removes (whole ranges, cut ends, a
 * split in the middle, one remove across several ranges), lookups, and
 * the full table forgetting its smallest range (the new one included).
 */
#include "unit.h"

#include "../../pcomponent/excache_fresh.h"

#define PG  4096ull
#define CAP 8

struct tab {
	struct excache_fresh r[CAP + 1]; /* + 1: a guard that must stay untouched */
	unsigned n;
};

static void tab_init(struct tab *t)
{
	for (unsigned i = 0; i <= CAP; i++)
		t->r[i] = (struct excache_fresh){0xdead, 0xbeef, 99};
	t->n = 0;
}

static void add(struct tab *t, uint64_t s, uint64_t e, uint32_t prot)
{
	exf_add(t->r, &t->n, CAP, s, e, prot);
}

static void del(struct tab *t, uint64_t s, uint64_t e)
{
	exf_remove(t->r, &t->n, CAP, s, e);
}

/* The set is sorted, disjoint, page aligned, non-empty, guard intact. */
static bool well_formed(const struct tab *t)
{
	if (t->n > CAP || t->r[CAP].start != 0xdead || t->r[CAP].prot != 99)
		return false;
	for (unsigned i = 0; i < t->n; i++) {
		const struct excache_fresh *f = &t->r[i];

		if (f->start >= f->end || f->start % PG || f->end % PG)
			return false;
		if (i && t->r[i - 1].end > f->start)
			return false;
	}
	return true;
}

/* Range i is [s, e) pages with prot. */
static bool is(const struct tab *t, unsigned i, uint64_t s, uint64_t e, uint32_t prot)
{
	return i < t->n && t->r[i].start == s * PG && t->r[i].end == e * PG &&
	       t->r[i].prot == prot;
}

TEST(excache_fresh_add_sorts_rounds_and_finds)
{
	struct tab t;

	tab_init(&t);
	add(&t, 10 * PG, 20 * PG, 3);
	add(&t, 1 * PG, 4 * PG, 1);
	add(&t, 30 * PG + 1, 40 * PG - 1, 3); /* only whole pages: [31, 39) */
	add(&t, 50 * PG + 5, 51 * PG - 5, 3); /* no whole page: nothing */
	EXPECT(well_formed(&t));
	EXPECT_EQ(t.n, 3u);
	EXPECT(is(&t, 0, 1, 4, 1));
	EXPECT(is(&t, 1, 10, 20, 3));
	EXPECT(is(&t, 2, 31, 39, 3));
	EXPECT_EQ(exf_find(t.r, t.n, 0), -1);
	EXPECT_EQ(exf_find(t.r, t.n, 1 * PG), 0);
	EXPECT_EQ(exf_find(t.r, t.n, 4 * PG - 1), 0);
	EXPECT_EQ(exf_find(t.r, t.n, 4 * PG), -1);
	EXPECT_EQ(exf_find(t.r, t.n, 19 * PG + 7), 1);
	EXPECT_EQ(exf_find(t.r, t.n, 30 * PG + 8), -1);
	EXPECT_EQ(exf_find(t.r, t.n, 38 * PG), 2);
	EXPECT_EQ(exf_find(t.r, t.n, 39 * PG), -1);
	EXPECT_EQ(exf_find(t.r, 0, 1 * PG), -1);
}

TEST(excache_fresh_add_merges_same_prot_and_replaces)
{
	struct tab t;

	tab_init(&t);
	add(&t, 10 * PG, 20 * PG, 3);
	add(&t, 20 * PG, 25 * PG, 3); /* touches on the right, same prot */
	add(&t, 5 * PG, 10 * PG, 3);  /* touches on the left */
	EXPECT_EQ(t.n, 1u);
	EXPECT(is(&t, 0, 5, 25, 3));
	add(&t, 25 * PG, 30 * PG, 1); /* touches, other prot: separate */
	EXPECT_EQ(t.n, 2u);
	EXPECT(is(&t, 1, 25, 30, 1));
	/* an add over existing ranges replaces what was there */
	add(&t, 8 * PG, 27 * PG, 1);
	EXPECT(well_formed(&t));
	EXPECT_EQ(t.n, 2u);
	EXPECT(is(&t, 0, 5, 8, 3));
	EXPECT(is(&t, 1, 8, 30, 1)); /* merged with [27, 30) prot 1 */
	/* filling a hole between two same-prot ranges joins all three */
	tab_init(&t);
	add(&t, 1 * PG, 2 * PG, 3);
	add(&t, 3 * PG, 4 * PG, 3);
	add(&t, 2 * PG, 3 * PG, 3);
	EXPECT_EQ(t.n, 1u);
	EXPECT(is(&t, 0, 1, 4, 3));
}

TEST(excache_fresh_remove_cuts_and_splits)
{
	struct tab t;

	tab_init(&t);
	add(&t, 10 * PG, 20 * PG, 3);
	del(&t, 15 * PG, 16 * PG); /* one page in the middle: split */
	EXPECT(well_formed(&t));
	EXPECT_EQ(t.n, 2u);
	EXPECT(is(&t, 0, 10, 15, 3));
	EXPECT(is(&t, 1, 16, 20, 3));
	EXPECT_EQ(exf_find(t.r, t.n, 15 * PG), -1);
	del(&t, 10 * PG, 11 * PG); /* first page: cut the start */
	EXPECT(is(&t, 0, 11, 15, 3));
	del(&t, 19 * PG + 1, 19 * PG + 2); /* a byte: its whole page goes */
	EXPECT(is(&t, 1, 16, 19, 3));
	del(&t, 0, 5 * PG); /* nothing there */
	EXPECT_EQ(t.n, 2u);
	del(&t, 11 * PG, 15 * PG); /* exactly a range */
	EXPECT_EQ(t.n, 1u);
	EXPECT(is(&t, 0, 16, 19, 3));
	del(&t, 0, ~0ull); /* everything, end near the top */
	EXPECT_EQ(t.n, 0u);
	EXPECT(well_formed(&t));
}

TEST(excache_fresh_remove_across_ranges)
{
	struct tab t;

	tab_init(&t);
	add(&t, 1 * PG, 5 * PG, 3);
	add(&t, 6 * PG, 8 * PG, 1);
	add(&t, 9 * PG, 12 * PG, 3);
	add(&t, 20 * PG, 30 * PG, 3);
	del(&t, 3 * PG, 10 * PG); /* cuts the first's end, drops the second,
				     cuts the third's start */
	EXPECT(well_formed(&t));
	EXPECT_EQ(t.n, 3u);
	EXPECT(is(&t, 0, 1, 3, 3));
	EXPECT(is(&t, 1, 10, 12, 3));
	EXPECT(is(&t, 2, 20, 30, 3));
}

TEST(excache_fresh_full_forgets_smallest)
{
	struct tab t;

	tab_init(&t);
	/* CAP ranges of sizes 2, 3, ..., CAP + 1 pages, 100 pages apart */
	for (unsigned i = 0; i < CAP; i++)
		add(&t, i * 100 * PG, (i * 100 + 2 + i) * PG, 3);
	EXPECT_EQ(t.n, (unsigned)CAP);
	/* a smaller new range is itself the one forgotten */
	add(&t, 5000 * PG, 5001 * PG, 3);
	EXPECT_EQ(t.n, (unsigned)CAP);
	EXPECT_EQ(exf_find(t.r, t.n, 5000 * PG), -1);
	EXPECT(is(&t, 0, 0, 2, 3));
	/* a larger one pushes out the smallest ([0, 2)) */
	add(&t, 6000 * PG, 6050 * PG, 3);
	EXPECT(well_formed(&t));
	EXPECT_EQ(t.n, (unsigned)CAP);
	EXPECT_EQ(exf_find(t.r, t.n, 0), -1);
	EXPECT(is(&t, 0, 100, 103, 3));
	EXPECT(is(&t, CAP - 1, 6000, 6050, 3));
	/* a split with a full table: the smallest of all, pieces included, goes */
	del(&t, 6001 * PG, 6002 * PG); /* pieces [6000, 6001) and [6002, 6050) */
	EXPECT(well_formed(&t));
	EXPECT_EQ(t.n, (unsigned)CAP);
	EXPECT_EQ(exf_find(t.r, t.n, 6000 * PG), -1);
	EXPECT(exf_find(t.r, t.n, 6002 * PG) >= 0);
	EXPECT(exf_find(t.r, t.n, 100 * PG) >= 0);
	/* a split where an old range is smaller than both pieces */
	del(&t, 6020 * PG, 6021 * PG);
	EXPECT(well_formed(&t));
	EXPECT_EQ(exf_find(t.r, t.n, 100 * PG), -1); /* 3 pages: the smallest */
	EXPECT(exf_find(t.r, t.n, 6019 * PG) >= 0);
	EXPECT(exf_find(t.r, t.n, 6021 * PG) >= 0);
	EXPECT_EQ(exf_find(t.r, t.n, 6020 * PG), -1);
}

TEST(excache_fresh_zero_capacity_holds_nothing)
{
	struct excache_fresh r[1] = {{0xdead, 0xbeef, 99}};
	unsigned n = 0;

	exf_add(r, &n, 0, 0, 10 * PG, 3);
	EXPECT_EQ(n, 0u);
	EXPECT_EQ(r[0].start, 0xdeadull);
}
