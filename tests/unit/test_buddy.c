/*
 * Tests of kernel/buddy.c: allocation and freeing of every order, splitting
 * and merging back to maximal blocks, free_pages accounting, exhaustion,
 * refused frees (double, wrong order, not a block start), ranges with
 * holes and clipping, and a randomized stress test against a shadow model
 * of every page (free, used by which block, or a hole).
 *
 * The allocator links free blocks through their first bytes via page_ptr();
 * here each page is a 64-byte slot of one array, so the free lists can be
 * walked and every listed block checked against the model. Allocated pages
 * are scribbled over, as their owner would, to catch an allocator that
 * still relies on them.
 */
#include <stdlib.h>
#include <string.h>

#include <kernel/buddy.h>

#include "unit.h"

#define BASE	  0x40000000ull /* aligned to the largest block */
#define PG	  ((uint64_t)BUDDY_PAGE_SIZE)
#define SLOT	  64
#define MAX_BLOCK ((size_t)1 << BUDDY_MAX_ORDER)

enum { HOLE, FREE, USED };

static struct arena {
	struct buddy b;
	size_t npages;
	uint8_t *meta;
	uint8_t *slots;	 /* SLOT bytes per page */
	uint8_t *shadow; /* HOLE, FREE or USED per page */
	bool bad_ptr;	 /* page_ptr() was asked for a page out of range */
} A;

static void *page_ptr(uint64_t addr)
{
	static uint8_t junk[SLOT];

	if (addr < BASE || (addr - BASE) % PG || (addr - BASE) / PG >= A.npages) {
		A.bad_ptr = true;
		return junk;
	}
	return A.slots + (addr - BASE) / PG * SLOT;
}

static void arena_init(size_t npages)
{
	A.npages = npages;
	A.meta = malloc(npages);
	A.slots = calloc(npages, SLOT);
	A.shadow = calloc(npages, 1);
	A.bad_ptr = false;
	if (!A.meta || !A.slots || !A.shadow)
		abort();
	buddy_init(&A.b, BASE, npages, A.meta, page_ptr);
}

static void arena_fini(void)
{
	EXPECT_FALSE(A.bad_ptr);
	free(A.meta);
	free(A.slots);
	free(A.shadow);
	memset(&A, 0, sizeof(A));
}

/* Hands pages [first, first + n) in and marks them free in the model. */
static void arena_add(size_t first, size_t n)
{
	buddy_add_range(&A.b, BASE + first * PG, n);
	for (size_t i = first; i < first + n && i < A.npages; i++)
		A.shadow[i] = FREE;
}

static size_t idx_of(uint64_t addr)
{
	return (size_t)((addr - BASE) / PG);
}

/* Allocates and checks the block against the model; BUDDY_NONE passes
 * through. Marks the pages used and scribbles over them. */
static uint64_t alloc_checked(unsigned order)
{
	uint64_t a = buddy_alloc(&A.b, order);
	size_t idx, n = (size_t)1 << order;

	if (a == BUDDY_NONE)
		return a;
	idx = idx_of(a);
	if (!EXPECT(a >= BASE && (a - BASE) % (PG << order) == 0 &&
		    idx + n <= A.npages)) {
		unit_diag("order %u block at %#llx", order, (unsigned long long)a);
		return BUDDY_NONE;
	}
	for (size_t i = idx; i < idx + n; i++) {
		if (!EXPECT_EQ(A.shadow[i], FREE)) {
			unit_diag("page %zu of an order %u block was not free", i, order);
			return BUDDY_NONE;
		}
		A.shadow[i] = USED;
		memset(A.slots + i * SLOT, 0xab, SLOT);
	}
	EXPECT_EQ(buddy_allocated_order(&A.b, a), (int)order);
	return a;
}

static bool free_checked(uint64_t a, unsigned order)
{
	size_t idx = idx_of(a);

	if (!EXPECT(buddy_free(&A.b, a, order)))
		return false;
	for (size_t i = idx; i < idx + ((size_t)1 << order); i++)
		A.shadow[i] = FREE;
	return true;
}

static bool run_free(size_t idx, unsigned order)
{
	for (size_t i = idx; i < idx + ((size_t)1 << order); i++)
		if (A.shadow[i] != FREE)
			return false;
	return true;
}

/* Largest order of a free, aligned, in-range block starting at idx. */
static int canonical_order(size_t idx)
{
	int best = -1;

	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
		if (idx % ((size_t)1 << o) || idx + ((size_t)1 << o) > A.npages ||
		    !run_free(idx, o))
			break;
		best = (int)o;
	}
	return best;
}

/*
 * The free lists must hold exactly the canonical decomposition of the free
 * pages: maximal aligned free blocks (merging is eager). Walks every list.
 */
static void check_free_lists(void)
{
	size_t want[BUDDY_MAX_ORDER + 1] = {0}, got[BUDDY_MAX_ORDER + 1] = {0};
	size_t nfree = 0, listed = 0;
	uint8_t *seen = calloc(A.npages, 1);

	for (size_t i = 0; i < A.npages;) {
		int o = canonical_order(i);

		if (o < 0) {
			i++;
			continue;
		}
		want[o]++;
		nfree += (size_t)1 << o;
		i += (size_t)1 << o;
	}
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
		struct list_node *pos;

		list_for_each (pos, &A.b.free[o]) {
			size_t idx = (size_t)((uint8_t *)pos - A.slots) / SLOT;

			UNIT_OR_RETURN(
				EXPECT(idx < A.npages && idx % ((size_t)1 << o) == 0));
			UNIT_OR_RETURN(EXPECT(run_free(idx, o)));
			UNIT_OR_RETURN(EXPECT_FALSE(seen[idx]));
			seen[idx] = 1;
			got[o]++;
			listed += (size_t)1 << o;
			UNIT_OR_RETURN(EXPECT_LE(got[o], A.npages));
		}
		if (!EXPECT_EQ(got[o], want[o]))
			unit_diag("order %u: %zu blocks listed, %zu expected", o, got[o],
				  want[o]);
	}
	EXPECT_EQ(listed, nfree);
	EXPECT_EQ(A.b.free_pages, nfree);
	free(seen);
}

TEST(buddy_empty)
{
	arena_init(MAX_BLOCK);
	EXPECT_EQ(A.b.free_pages, 0u);
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
		EXPECT_EQ(buddy_alloc(&A.b, o), BUDDY_NONE);
	EXPECT_EQ(buddy_allocated_order(&A.b, BASE), -1);
	EXPECT_FALSE(buddy_free(&A.b, BASE, 0));
	arena_fini();
}

TEST(buddy_every_order)
{
	arena_init(MAX_BLOCK);
	arena_add(0, MAX_BLOCK);
	EXPECT_EQ(A.b.free_pages, MAX_BLOCK);
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
		uint64_t a = alloc_checked(o);

		ASSERT_NE(a, BUDDY_NONE);
		EXPECT_EQ(A.b.free_pages, MAX_BLOCK - ((size_t)1 << o));
		ASSERT(free_checked(a, o));
		EXPECT_EQ(A.b.free_pages, MAX_BLOCK);
		check_free_lists(); /* merged back into one block */
		EXPECT_EQ(list_length(&A.b.free[BUDDY_MAX_ORDER]), 1u);
	}
	EXPECT_EQ(buddy_alloc(&A.b, BUDDY_MAX_ORDER + 1), BUDDY_NONE);
	EXPECT_EQ(buddy_alloc(&A.b, 64), BUDDY_NONE);
	EXPECT_EQ(buddy_alloc(&A.b, ~0u), BUDDY_NONE);
	EXPECT_FALSE(buddy_free(&A.b, BASE, BUDDY_MAX_ORDER + 1));
	EXPECT_EQ(A.b.free_pages, MAX_BLOCK);
	arena_fini();
}

TEST(buddy_split_leaves_one_block_per_order)
{
	uint64_t a;

	arena_init(MAX_BLOCK);
	arena_add(0, MAX_BLOCK);
	a = alloc_checked(0);
	ASSERT_NE(a, BUDDY_NONE);
	for (unsigned o = 0; o < BUDDY_MAX_ORDER; o++)
		EXPECT_EQ(list_length(&A.b.free[o]), 1u);
	EXPECT(list_empty(&A.b.free[BUDDY_MAX_ORDER]));
	check_free_lists();
	arena_fini();
}

TEST(buddy_all_pages_then_merge)
{
	struct unit_rng rng = {99};
	uint64_t *blocks = malloc(MAX_BLOCK * sizeof(*blocks));

	ASSERT(blocks);
	arena_init(2 * MAX_BLOCK);
	arena_add(0, 2 * MAX_BLOCK);
	for (size_t i = 0; i < 2 * MAX_BLOCK; i += 2) {
		blocks[i / 2] = alloc_checked(1);
		ASSERT_NE(blocks[i / 2], BUDDY_NONE);
	}
	EXPECT_EQ(A.b.free_pages, 0u);
	EXPECT_EQ(buddy_alloc(&A.b, 0), BUDDY_NONE);
	/* Free in random order; everything must merge back. */
	for (size_t i = MAX_BLOCK - 1; i > 0; i--) {
		size_t j = unit_rand_below(&rng, i + 1);
		uint64_t t = blocks[i];

		blocks[i] = blocks[j];
		blocks[j] = t;
	}
	for (size_t i = 0; i < MAX_BLOCK; i++)
		ASSERT(free_checked(blocks[i], 1));
	EXPECT_EQ(A.b.free_pages, 2 * MAX_BLOCK);
	EXPECT_EQ(list_length(&A.b.free[BUDDY_MAX_ORDER]), 2u);
	check_free_lists();
	EXPECT_NE(alloc_checked(BUDDY_MAX_ORDER), BUDDY_NONE);
	EXPECT_NE(alloc_checked(BUDDY_MAX_ORDER), BUDDY_NONE);
	EXPECT_EQ(buddy_alloc(&A.b, 0), BUDDY_NONE);
	free(blocks);
	arena_fini();
}

TEST(buddy_exhaustion)
{
	arena_init(MAX_BLOCK);
	arena_add(0, MAX_BLOCK / 2);
	EXPECT_EQ(buddy_alloc(&A.b, BUDDY_MAX_ORDER), BUDDY_NONE);
	EXPECT_NE(alloc_checked(BUDDY_MAX_ORDER - 1), BUDDY_NONE);
	EXPECT_EQ(A.b.free_pages, 0u);
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
		EXPECT_EQ(buddy_alloc(&A.b, o), BUDDY_NONE);
	EXPECT_EQ(A.b.free_pages, 0u);
	arena_fini();
}

TEST(buddy_refused_frees)
{
	uint64_t a, b, c;

	arena_init(MAX_BLOCK);
	arena_add(0, MAX_BLOCK);
	a = alloc_checked(2);
	ASSERT_NE(a, BUDDY_NONE);
	EXPECT_FALSE(buddy_free(&A.b, a, 1)); /* wrong order */
	EXPECT_FALSE(buddy_free(&A.b, a, 3));
	EXPECT_FALSE(buddy_free(&A.b, a + PG, 2)); /* inside the block */
	EXPECT_FALSE(buddy_free(&A.b, a + PG, 0));
	EXPECT_FALSE(buddy_free(&A.b, a + 1, 2));		  /* not page aligned */
	EXPECT_FALSE(buddy_free(&A.b, BASE - 4 * PG, 2));	  /* below the range */
	EXPECT_FALSE(buddy_free(&A.b, BASE + MAX_BLOCK * PG, 0)); /* above */
	EXPECT_FALSE(buddy_free(&A.b, 0, 0));
	EXPECT_FALSE(buddy_free(&A.b, UINT64_MAX & ~(PG - 1), 0));
	EXPECT_EQ(buddy_allocated_order(&A.b, a + PG), -1);
	EXPECT_EQ(buddy_allocated_order(&A.b, a + 1), -1);
	EXPECT_EQ(A.b.free_pages, MAX_BLOCK - 4);
	EXPECT_EQ(buddy_allocated_order(&A.b, a), 2);
	ASSERT(free_checked(a, 2));
	EXPECT_FALSE(buddy_free(&A.b, a, 2)); /* double free */
	EXPECT_EQ(A.b.free_pages, MAX_BLOCK);
	EXPECT_EQ(buddy_allocated_order(&A.b, a), -1);

	/* Double free after the block merged with its buddy. */
	b = alloc_checked(0);
	c = alloc_checked(0);
	ASSERT(b != BUDDY_NONE && c != BUDDY_NONE);
	ASSERT(free_checked(b, 0));
	ASSERT(free_checked(c, 0));
	EXPECT_FALSE(buddy_free(&A.b, b, 0));
	EXPECT_FALSE(buddy_free(&A.b, c, 0));
	EXPECT_FALSE(buddy_free(&A.b, BASE, BUDDY_MAX_ORDER)); /* free, not used */
	EXPECT_EQ(A.b.free_pages, MAX_BLOCK);
	check_free_lists();
	arena_fini();
}

TEST(buddy_ranges_with_holes)
{
	uint64_t x, y;
	size_t n = 0;

	arena_init(2 * MAX_BLOCK);
	arena_add(0, 100);
	arena_add(300, MAX_BLOCK - 300);
	arena_add(1500, 2 * MAX_BLOCK - 1500);
	EXPECT_EQ(A.b.free_pages, 100u + (MAX_BLOCK - 300) + (2 * MAX_BLOCK - 1500));
	check_free_lists();
	/* Exactly two aligned 512-page blocks lie inside the ranges. */
	x = alloc_checked(9);
	y = alloc_checked(9);
	EXPECT_EQ(buddy_alloc(&A.b, 9), BUDDY_NONE);
	EXPECT_EQ(buddy_alloc(&A.b, 10), BUDDY_NONE);
	EXPECT(x != BUDDY_NONE && y != BUDDY_NONE);
	EXPECT((x == BASE + 512 * PG && y == BASE + 1536 * PG) ||
	       (y == BASE + 512 * PG && x == BASE + 1536 * PG));
	/* The rest, page by page: never a page in a hole (alloc_checked). */
	while (alloc_checked(0) != BUDDY_NONE && !unit_failed())
		n++;
	EXPECT_EQ(n, 100u + (MAX_BLOCK - 300) + (2 * MAX_BLOCK - 1500) - 1024);
	EXPECT_EQ(A.b.free_pages, 0u);
	arena_fini();
}

TEST(buddy_unaligned_range_is_canonical)
{
	arena_init(MAX_BLOCK);
	arena_add(3, 997);
	EXPECT_EQ(A.b.free_pages, 997u);
	check_free_lists();
	EXPECT_EQ(list_length(&A.b.free[0]), 1u); /* page 3 */
	EXPECT_EQ(list_length(&A.b.free[8]), 2u); /* pages 256 and 512 */
	EXPECT_EQ(buddy_alloc(&A.b, 9), BUDDY_NONE);
	/* Adding the missing pages later merges up to a full block. */
	arena_add(0, 3);
	arena_add(1000, 24);
	EXPECT_EQ(A.b.free_pages, MAX_BLOCK);
	check_free_lists();
	EXPECT_EQ(list_length(&A.b.free[BUDDY_MAX_ORDER]), 1u);
	arena_fini();
}

TEST(buddy_range_clipping)
{
	arena_init(MAX_BLOCK);
	buddy_add_range(&A.b, BASE - 10 * PG, 20);    /* pages 0..9 */
	buddy_add_range(&A.b, BASE + 1020 * PG, 100); /* 1020..1023 */
	buddy_add_range(&A.b, BASE + 2000 * PG, 5);   /* past the end */
	buddy_add_range(&A.b, BASE - 100 * PG, 50);   /* before the start */
	buddy_add_range(&A.b, 0, 10);
	buddy_add_range(&A.b, BASE + 500 * PG, 0); /* nothing */
	for (size_t i = 0; i < 10; i++)
		A.shadow[i] = FREE;
	for (size_t i = 1020; i < 1024; i++)
		A.shadow[i] = FREE;
	EXPECT_EQ(A.b.free_pages, 14u);
	check_free_lists();
	arena_fini();
}

TEST(buddy_range_huge_count)
{
	/* A page count running past the end of everything is clipped to the
	 * allocator's pages, not wrapped around. */
	arena_init(MAX_BLOCK);
	buddy_add_range(&A.b, BASE + 5 * PG, SIZE_MAX);
	for (size_t i = 5; i < MAX_BLOCK; i++)
		A.shadow[i] = FREE;
	EXPECT_EQ(A.b.free_pages, MAX_BLOCK - 5);
	check_free_lists();
	arena_fini();
}

TEST(buddy_order_for)
{
	EXPECT_EQ(buddy_order_for(0), 0u);
	EXPECT_EQ(buddy_order_for(1), 0u);
	EXPECT_EQ(buddy_order_for(4096), 0u);
	EXPECT_EQ(buddy_order_for(4097), 1u);
	EXPECT_EQ(buddy_order_for(8192), 1u);
	EXPECT_EQ(buddy_order_for(8193), 2u);
	EXPECT_EQ(buddy_order_for(3 * 4096), 2u);
	EXPECT_EQ(buddy_order_for((size_t)4 << 20), (unsigned)BUDDY_MAX_ORDER);
	EXPECT_EQ(buddy_order_for(((size_t)4 << 20) + 1), BUDDY_MAX_ORDER + 1u);
	/* Sizes no block can hold (kmalloc of a huge length) must still give
	 * an answer, too large to allocate, not loop or overflow a shift. */
	EXPECT_EQ(buddy_order_for((size_t)1 << 63), 51u);
	EXPECT_EQ(buddy_order_for(((size_t)1 << 63) + 1), 52u);
	EXPECT_EQ(buddy_order_for(SIZE_MAX), 52u);
}

/* One live block of the stress test. */
struct live {
	uint64_t addr;
	unsigned order;
};

/* With eager merging, a failed allocation means no aligned free run of
 * that order exists anywhere. */
static bool no_free_run(unsigned order)
{
	for (size_t i = 0; i + ((size_t)1 << order) <= A.npages; i += (size_t)1 << order)
		if (run_free(i, order))
			return false;
	return true;
}

static unsigned random_order(struct unit_rng *rng)
{
	unsigned a = (unsigned)unit_rand_below(rng, BUDDY_MAX_ORDER + 1);
	unsigned b = (unsigned)unit_rand_below(rng, BUDDY_MAX_ORDER + 1);

	return a < b ? a : b; /* small orders more often */
}

/* Frees a random live block, sometimes first trying a bad free of it.
 * Returns the number of pages freed. */
static size_t stress_free(struct live *live, size_t *nlive, struct unit_rng *rng)
{
	size_t k = unit_rand_below(rng, *nlive);
	struct live l = live[k];
	size_t before = A.b.free_pages;

	if (unit_rand_below(rng, 8) == 0) {
		EXPECT_FALSE(
			buddy_free(&A.b, l.addr, (l.order + 1) % (BUDDY_MAX_ORDER + 1)));
		if (l.order)
			EXPECT_FALSE(buddy_free(&A.b, l.addr + PG, 0));
		EXPECT_EQ(A.b.free_pages, before);
	}
	free_checked(l.addr, l.order);
	EXPECT_EQ(A.b.free_pages, before + ((size_t)1 << l.order));
	if (unit_rand_below(rng, 8) == 0) /* double free */
		EXPECT_FALSE(buddy_free(&A.b, l.addr, l.order));
	live[k] = live[--*nlive];
	return (size_t)1 << l.order;
}

TEST(buddy_random_stress)
{
	enum { NPAGES = 3 * MAX_BLOCK, OPS = 20000 };
	struct unit_rng rng = {0xb0dd1e5};
	struct live *live = malloc(NPAGES * sizeof(*live));
	size_t nlive = 0, used = 0, avail;

	ASSERT(live);
	arena_init(NPAGES);
	arena_add(0, 700);
	arena_add(900, 1000);
	arena_add(2000, NPAGES - 2000 - 37);
	avail = A.b.free_pages;
	EXPECT_EQ(avail, 700u + 1000 + (NPAGES - 2000 - 37));
	for (int op = 0; op < OPS && !unit_failed(); op++) {
		if (nlive && unit_rand_below(&rng, 100) < 45) {
			used -= stress_free(live, &nlive, &rng);
		} else {
			unsigned order = random_order(&rng);
			uint64_t a = alloc_checked(order);

			if (a == BUDDY_NONE) {
				if (!EXPECT(no_free_run(order)))
					unit_diag("op %d: order %u refused but a free "
						  "run exists",
						  op, order);
			} else {
				live[nlive++] = (struct live){a, order};
				used += (size_t)1 << order;
			}
		}
		EXPECT_EQ(A.b.free_pages, avail - used);
		if (op % 1000 == 0)
			check_free_lists();
	}
	check_free_lists();
	while (nlive && !unit_failed())
		stress_free(live, &nlive, &rng);
	EXPECT_EQ(A.b.free_pages, avail);
	check_free_lists();
	free(live);
	arena_fini();
}
