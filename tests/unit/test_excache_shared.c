/*
 * Tests of the ExCache's shared-range set (pcomponent/excache_shared.c):
 * adds in sorted order and over what was there (cutting its ends, the
 * object offsets of the pieces following), removes (whole, cut ends, a
 * split in the middle, across several ranges), prot changes of a part,
 * offsets of pages, and the full table refusing a change that needs
 * more entries while leaving the set exactly as it was.
 */
#include "unit.h"

#include "../../pcomponent/excache_shared.h"

#include <string.h>

#define PG  4096ull
#define CAP 6
#define K1  (EXSH_KEY_SHARED | 1)
#define K2  (EXSH_KEY_SHARED | 2)

struct tab {
	struct excache_shared r[CAP + 1]; /* + 1: a guard that must stay untouched */
	unsigned n;
};

static void tab_init(struct tab *t)
{
	for (unsigned i = 0; i <= CAP; i++)
		t->r[i] = (struct excache_shared){0xdead, 0xbeef, 1, 2, 99};
	t->n = 0;
}

static int guard_ok(const struct tab *t)
{
	return t->r[CAP].start == 0xdead && t->r[CAP].prot == 99;
}

/* Range i is [s, e) pages of key from pgoff with prot. */
static void expect_range(const struct tab *t, unsigned i, uint64_t s, uint64_t e, uint64_t key,
			 uint64_t pgoff, uint32_t prot)
{
	EXPECT_LT(i, t->n);
	EXPECT_EQ(t->r[i].start, s * PG);
	EXPECT_EQ(t->r[i].end, e * PG);
	EXPECT_EQ(t->r[i].key, key);
	EXPECT_EQ(t->r[i].pgoff, pgoff);
	EXPECT_EQ(t->r[i].prot, prot);
}

TEST(excache_shared_add_sorted_and_find)
{
	struct tab t;

	tab_init(&t);
	EXPECT_EQ(exsh_add(t.r, &t.n, CAP, 20 * PG, 30 * PG, K1, 0, 3), 0);
	EXPECT_EQ(exsh_add(t.r, &t.n, CAP, 10 * PG, 12 * PG, K2, 7, 1), 0);
	EXPECT_EQ(exsh_add(t.r, &t.n, CAP, 12 * PG, 14 * PG, K2, 9, 1), 0); /* no merge */
	EXPECT_EQ(t.n, 3u);
	expect_range(&t, 0, 10, 12, K2, 7, 1);
	expect_range(&t, 1, 12, 14, K2, 9, 1);
	expect_range(&t, 2, 20, 30, K1, 0, 3);
	EXPECT_EQ(exsh_find(t.r, t.n, 11 * PG + 5), 0);
	EXPECT_EQ(exsh_find(t.r, t.n, 12 * PG), 1);
	EXPECT_EQ(exsh_find(t.r, t.n, 14 * PG), -1);
	EXPECT_EQ(exsh_find(t.r, t.n, 29 * PG + 4095), 2);
	EXPECT_EQ(exsh_find(t.r, t.n, 30 * PG), -1);
	/* offsets: the object's page for the range's start, then on */
	EXPECT_EQ(exsh_offset(&t.r[0], 11 * PG + 5), 8 * PG);
	EXPECT_EQ(exsh_offset(&t.r[2], 25 * PG), 5 * PG);
	EXPECT(guard_ok(&t));
}

TEST(excache_shared_add_over_cuts_what_was_there)
{
	struct tab t;

	tab_init(&t);
	exsh_add(t.r, &t.n, CAP, 10 * PG, 20 * PG, K1, 100, 3);
	/* MAP_FIXED in the middle: three pieces, offsets kept */
	EXPECT_EQ(exsh_add(t.r, &t.n, CAP, 13 * PG, 15 * PG, K2, 0, 1), 0);
	EXPECT_EQ(t.n, 3u);
	expect_range(&t, 0, 10, 13, K1, 100, 3);
	expect_range(&t, 1, 13, 15, K2, 0, 1);
	expect_range(&t, 2, 15, 20, K1, 105, 3);
	/* over several: replaced wholly, the ends cut */
	EXPECT_EQ(exsh_add(t.r, &t.n, CAP, 12 * PG, 16 * PG, K2, 50, 7), 0);
	EXPECT_EQ(t.n, 3u);
	expect_range(&t, 0, 10, 12, K1, 100, 3);
	expect_range(&t, 1, 12, 16, K2, 50, 7);
	expect_range(&t, 2, 16, 20, K1, 106, 3);
	EXPECT(guard_ok(&t));
}

TEST(excache_shared_remove)
{
	struct tab t;

	tab_init(&t);
	exsh_add(t.r, &t.n, CAP, 10 * PG, 20 * PG, K1, 0, 3);
	exsh_add(t.r, &t.n, CAP, 30 * PG, 40 * PG, K2, 0, 3);
	EXPECT_EQ(exsh_remove(t.r, &t.n, CAP, 14 * PG, 16 * PG), 0); /* split */
	EXPECT_EQ(t.n, 3u);
	expect_range(&t, 0, 10, 14, K1, 0, 3);
	expect_range(&t, 1, 16, 20, K1, 6, 3);
	EXPECT_EQ(exsh_remove(t.r, &t.n, CAP, 18 * PG, 35 * PG), 0); /* two cut ends */
	EXPECT_EQ(t.n, 3u);
	expect_range(&t, 1, 16, 18, K1, 6, 3);
	expect_range(&t, 2, 35, 40, K2, 5, 3);
	EXPECT_EQ(exsh_remove(t.r, &t.n, CAP, 0, 100 * PG), 0); /* all */
	EXPECT_EQ(t.n, 0u);
	EXPECT_EQ(exsh_remove(t.r, &t.n, CAP, 0, 100 * PG), 0); /* nothing there */
	EXPECT(guard_ok(&t));
}

TEST(excache_shared_protect_part)
{
	struct tab t;

	tab_init(&t);
	exsh_add(t.r, &t.n, CAP, 10 * PG, 20 * PG, K1, 4, 3);
	EXPECT_EQ(exsh_protect(t.r, &t.n, CAP, 12 * PG, 13 * PG, 1), 0);
	EXPECT_EQ(t.n, 3u);
	expect_range(&t, 0, 10, 12, K1, 4, 3);
	expect_range(&t, 1, 12, 13, K1, 6, 1);
	expect_range(&t, 2, 13, 20, K1, 7, 3);
	EXPECT_EQ(exsh_protect(t.r, &t.n, CAP, 0, 100 * PG, 0), 0); /* all: no cut */
	EXPECT_EQ(t.n, 3u);
	for (unsigned i = 0; i < t.n; i++)
		EXPECT_EQ(t.r[i].prot, 0u);
	EXPECT(guard_ok(&t));
}

TEST(excache_shared_full_refuses_and_keeps)
{
	struct excache_shared before[CAP];
	struct tab t;

	tab_init(&t);
	for (uint64_t i = 0; i < CAP; i++)
		EXPECT_EQ(exsh_add(t.r, &t.n, CAP, (10 * i + 10) * PG, (10 * i + 15) * PG, K1,
				   i, 3),
			  0);
	EXPECT_EQ(t.n, (unsigned)CAP);
	memcpy(before, t.r, sizeof(before));
	EXPECT_EQ(exsh_splits(t.r, t.n, 11 * PG, 12 * PG), 2u);
	EXPECT_EQ(exsh_splits(t.r, t.n, 10 * PG, 15 * PG), 0u);
	EXPECT_EQ(exsh_add(t.r, &t.n, CAP, 200 * PG, 201 * PG, K2, 0, 1), -1);
	EXPECT_EQ(exsh_remove(t.r, &t.n, CAP, 11 * PG, 12 * PG), -1);
	EXPECT_EQ(exsh_protect(t.r, &t.n, CAP, 12 * PG, 22 * PG, 1), -1);
	EXPECT_EQ(t.n, (unsigned)CAP);
	EXPECT_MEMEQ(t.r, before, sizeof(before));
	/* what needs no cut still works when full, and frees room */
	EXPECT_EQ(exsh_protect(t.r, &t.n, CAP, 10 * PG, 15 * PG, 1), 0);
	EXPECT_EQ(exsh_remove(t.r, &t.n, CAP, 10 * PG, 25 * PG), 0);
	EXPECT_EQ(t.n, CAP - 2u);
	EXPECT_EQ(exsh_add(t.r, &t.n, CAP, 200 * PG, 201 * PG, K2, 0, 1), 0);
	EXPECT(guard_ok(&t));
}

/* A file's key is its (inode, generation): two lives of one inode number
 * (ext2 reuses it with the next generation) are two objects, and no
 * file's key is an anonymous mapping's or a pid. */
TEST(excache_shared_file_keys_are_identities)
{
	uint64_t a = exsh_file_key(12, 7), b = exsh_file_key(12, 8), c = exsh_file_key(13, 7);

	EXPECT_NE(a, b);
	EXPECT_NE(a, c);
	EXPECT_EQ(a, exsh_file_key(12, 7));
	EXPECT_NE(exsh_file_key(12, 0), exsh_file_key(12, 1));
	EXPECT_NE(exsh_file_key(0xffffffffu, 0x3fffffffu), exsh_file_key(0xffffffffu, 0));
	EXPECT_NE(a & EXSH_KEY_SHARED, 0u);
	EXPECT_EQ(a & EXSH_KEY_ANON, 0u);
	EXPECT_EQ(exsh_file_key(0xffffffffu, 0xffffffffu) & EXSH_KEY_ANON, 0u);
	EXPECT_NE(exsh_anon_key(12) & EXSH_KEY_ANON, 0u);
}
