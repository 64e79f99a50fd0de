/*
 * Tests of the ExCache set logic (pcomponent/excache_set.c): the set
 * index (range, sequential pages, pid separation, shared keys), finding
 * a private and a shared tag (a shared key is never a pid's), free
 * lines first, and
 * each policy's victim on scripted sequences: FIFO by fill order, LRU by
 * sampled accesses, CLOCK's second chance and hand, RANDOM staying within
 * the VALID lines and roughly uniform; BUSY lines are never chosen.
 */
#include "unit.h"

#include "../../pcomponent/excache_set.h"
#include "../../pcomponent/excache_shared.h"

#include <string.h>

#define WAYS 4
#define PG   4096ull

static int owner_tag; /* any non-NULL owner */

/* Fills every way of s with pages 0..WAYS-1 of pid 1, VALID. */
static void fill_all(struct exs_set *s, struct exs_line *lines)
{
	exs_set_init(s, lines, WAYS);
	for (unsigned w = 0; w < WAYS; w++) {
		exs_fill(s, w, &owner_tag, 1, w * PG, false);
		exs_validate(s, w, 1);
	}
}

TEST(excache_set_index_range_and_sequence)
{
	for (unsigned nsets = 1; nsets <= 512; nsets *= 2)
		for (uint64_t va = 0; va < 64 * PG; va += PG)
			EXPECT_LT(exs_set_index(7, va, nsets), nsets);
	/* consecutive pages: consecutive sets; offsets within a page: same set */
	for (uint64_t p = 0; p < 100; p++) {
		EXPECT_EQ(exs_set_index(3, (p + 1) * PG, 64),
			  (exs_set_index(3, p * PG, 64) + 1) % 64);
		EXPECT_EQ(exs_set_index(3, p * PG + 123, 64),
			  exs_set_index(3, p * PG, 64));
	}
	EXPECT_EQ(exs_set_index(5, 0x1234000, 1), 0u);
	EXPECT_EQ(exs_set_index(5, 0x7ffffffff000ull, 3),
		  exs_set_index(5, 0x7ffffffff000ull, 3));
}

TEST(excache_set_index_pids_differ)
{
	unsigned same = 0;

	/* the same address of pids 1..64 in 64 sets: mostly different sets */
	for (uint32_t pid = 2; pid <= 64; pid++)
		same += exs_set_index(pid, 0x400000, 64) ==
			exs_set_index(1, 0x400000, 64);
	EXPECT_LE(same, 4u);
	EXPECT_NE(exs_set_index(1, 0x400000, 64), exs_set_index(2, 0x400000, 64));
}

TEST(excache_set_free_lines_first)
{
	struct exs_line lines[WAYS];
	struct exs_set s;
	uint64_t rng = 1;

	exs_set_init(&s, lines, WAYS);
	for (int pol = EXCACHE_LRU; pol <= EXCACHE_CLOCK; pol++)
		EXPECT_EQ(exs_victim(&s, pol, &rng), 0);
	exs_fill(&s, 0, &owner_tag, 1, 0, false);
	EXPECT_EQ(exs_victim(&s, EXCACHE_FIFO, &rng), 1); /* BUSY 0 skipped */
	exs_validate(&s, 0, 1);
	exs_fill(&s, 1, &owner_tag, 1, PG, false);
	exs_validate(&s, 1, 1);
	exs_fill(&s, 3, &owner_tag, 1, 3 * PG, false);
	exs_validate(&s, 3, 1);
	for (int pol = EXCACHE_LRU; pol <= EXCACHE_CLOCK; pol++)
		EXPECT_EQ(exs_victim(&s, pol, &rng), 2);
	EXPECT_EQ(exs_count(&s, EXS_VALID), 3u);
	EXPECT_EQ(exs_count(&s, EXS_FREE), 1u);
}

TEST(excache_set_find)
{
	struct exs_line lines[WAYS];
	struct exs_set s;

	fill_all(&s, lines);
	EXPECT_EQ(exs_find(&s, 1, 2 * PG + 5), 2);
	EXPECT_EQ(exs_find(&s, 2, 2 * PG), -1); /* other pid */
	EXPECT_EQ(exs_find(&s, 1, 9 * PG), -1);
	exs_release(&s, 2);
	EXPECT_EQ(exs_find(&s, 1, 2 * PG), -1);
	EXPECT(lines[2].owner == NULL);
	EXPECT_EQ(lines[2].state, EXS_FREE);
}

/* A shared object's page has one tag whoever maps it: the key and the
 * page's offset; a shared line and a private one of the same number are
 * told apart; shared and private lines are victims alike. */
TEST(excache_set_shared_keys)
{
	const uint64_t key = exsh_anon_key(5), file = exsh_file_key(5, 1);
	struct exs_line lines[WAYS];
	struct exs_set s;
	uint64_t rng = 1;

	EXPECT_NE(key, file);
	EXPECT_NE(key & EXSH_KEY_SHARED, 0u);
	EXPECT_NE(file & EXSH_KEY_SHARED, 0u);
	EXPECT_EQ(file & EXSH_KEY_ANON, 0u);
	EXPECT_NE(file, 5u); /* never pid 5's */
	/* sequential offsets of one object: consecutive sets */
	for (uint64_t p = 0; p < 100; p++)
		EXPECT_EQ(exs_set_index(key, (p + 1) * PG, 64),
			  (exs_set_index(key, p * PG, 64) + 1) % 64);
	EXPECT_LT(exs_set_index(key, 7 * PG, 5), 5u);
	/* pid keys index as the pid did (a uint32 widened) */
	EXPECT_EQ(exs_set_index(0xffffffffull, 0x400000, 64),
		  exs_set_index((uint32_t)0xffffffffu, 0x400000, 64));
	exs_set_init(&s, lines, WAYS);
	exs_fill(&s, 0, &owner_tag, 5, 2 * PG, false);
	exs_validate(&s, 0, 1);
	exs_fill(&s, 1, NULL, key, 2 * PG, false);
	exs_validate(&s, 1, 1);
	exs_fill(&s, 2, NULL, file, 2 * PG, false);
	EXPECT(lines[1].owner == NULL && lines[1].maps == NULL);
	EXPECT_EQ(exs_find(&s, 5, 2 * PG), 0);
	EXPECT_EQ(exs_find(&s, key, 2 * PG + 17), 1);
	EXPECT_EQ(exs_find(&s, file, 2 * PG), 2); /* BUSY: found */
	EXPECT_EQ(exs_find(&s, key, 3 * PG), -1);
	EXPECT_EQ(exs_find(&s, exsh_anon_key(6), 2 * PG), -1);
	/* the free way first; then among VALID ones only (2 is BUSY) */
	EXPECT_EQ(exs_victim(&s, EXCACHE_FIFO, &rng), 3);
	exs_fill(&s, 3, &owner_tag, 5, 3 * PG, false);
	exs_validate(&s, 3, 1);
	EXPECT_EQ(exs_victim(&s, EXCACHE_FIFO, &rng), 0);
	exs_accessed(&s, 0);
	EXPECT_EQ(exs_victim(&s, EXCACHE_LRU, &rng), 1); /* the shared line */
	exs_release(&s, 1);
	EXPECT_EQ(exs_find(&s, key, 2 * PG), -1);
}

TEST(excache_set_fifo_order)
{
	struct exs_line lines[WAYS];
	struct exs_set s;
	uint64_t rng = 1;
	int v;

	fill_all(&s, lines);
	exs_accessed(&s, 0); /* accesses do not matter to FIFO */
	/* refill the victim each time: the order cycles 0, 1, 2, 3, 0 ... */
	for (unsigned i = 0; i < 2 * WAYS; i++) {
		v = exs_victim(&s, EXCACHE_FIFO, &rng);
		EXPECT_EQ(v, (int)(i % WAYS));
		exs_fill(&s, (unsigned)v, &owner_tag, 1, (10 + i) * PG, false);
		exs_validate(&s, (unsigned)v, 1);
	}
}

TEST(excache_set_lru_order)
{
	struct exs_line lines[WAYS];
	struct exs_set s;
	uint64_t rng = 1;

	fill_all(&s, lines);
	/* untouched: the oldest fill goes first */
	EXPECT_EQ(exs_victim(&s, EXCACHE_LRU, &rng), 0);
	/* sample: 0 and 2 were accessed (in that order), then 1 */
	exs_accessed(&s, 0);
	exs_accessed(&s, 2);
	exs_accessed(&s, 1);
	EXPECT_EQ(exs_victim(&s, EXCACHE_LRU, &rng), 3);
	exs_accessed(&s, 3);
	EXPECT_EQ(exs_victim(&s, EXCACHE_LRU, &rng), 0);
	exs_accessed(&s, 0);
	EXPECT_EQ(exs_victim(&s, EXCACHE_LRU, &rng), 2);
	/* a BUSY line is never the victim, however old */
	exs_fill(&s, 2, &owner_tag, 1, 50 * PG, false);
	EXPECT_EQ(exs_victim(&s, EXCACHE_LRU, &rng), 1);
}

TEST(excache_set_clock_second_chance)
{
	struct exs_line lines[WAYS];
	struct exs_set s;
	uint64_t rng = 1;

	fill_all(&s, lines);
	/* none referenced: the hand's line (0), and the hand moves on */
	EXPECT_EQ(exs_victim(&s, EXCACHE_CLOCK, &rng), 0);
	EXPECT_EQ(s.hand, 1u);
	/* 1 and 2 referenced: both get a second chance, 3 goes */
	exs_accessed(&s, 1);
	exs_accessed(&s, 2);
	EXPECT_EQ(exs_victim(&s, EXCACHE_CLOCK, &rng), 3);
	EXPECT_EQ(lines[1].referenced, 0);
	EXPECT_EQ(lines[2].referenced, 0);
	EXPECT_EQ(s.hand, 0u);
	/* all referenced: one full sweep clears them, the hand's line goes */
	for (unsigned w = 0; w < WAYS; w++)
		exs_accessed(&s, w);
	EXPECT_EQ(exs_victim(&s, EXCACHE_CLOCK, &rng), 0);
	EXPECT_EQ(lines[3].referenced, 0);
	/* 1 referenced again: skipped, 2 (cleared by the sweep) goes */
	exs_accessed(&s, 1);
	EXPECT_EQ(exs_victim(&s, EXCACHE_CLOCK, &rng), 2);
}

TEST(excache_set_all_busy)
{
	struct exs_line lines[WAYS];
	struct exs_set s;
	uint64_t rng = 1;

	exs_set_init(&s, lines, WAYS);
	for (unsigned w = 0; w < WAYS; w++)
		exs_fill(&s, w, &owner_tag, 1, w * PG, false);
	for (int pol = EXCACHE_LRU; pol <= EXCACHE_CLOCK; pol++)
		EXPECT_EQ(exs_victim(&s, pol, &rng), -1);
}

TEST(excache_set_random_valid_and_uniform)
{
	struct exs_line lines[8];
	struct exs_set s;
	unsigned hits[8] = {0};
	uint64_t rng = 0x1234567;

	exs_set_init(&s, lines, 8);
	for (unsigned w = 0; w < 8; w++) {
		exs_fill(&s, w, &owner_tag, 1, w * PG, false);
		if (w != 3 && w != 6) /* 3 and 6 stay BUSY */
			exs_validate(&s, w, 1);
	}
	for (unsigned i = 0; i < 6000; i++) {
		int v = exs_victim(&s, EXCACHE_RANDOM, &rng);

		ASSERT(v >= 0 && v < 8);
		hits[v]++;
	}
	EXPECT_EQ(hits[3], 0u);
	EXPECT_EQ(hits[6], 0u);
	for (unsigned w = 0; w < 8; w++)
		if (w != 3 && w != 6) { /* expected 1000 each */
			EXPECT_GT(hits[w], 850u);
			EXPECT_LT(hits[w], 1150u);
		}
	EXPECT_NE(rng, 0x1234567ull);
}

TEST(excache_set_fill_metadata)
{
	struct exs_line lines[WAYS];
	struct exs_set s;

	exs_set_init(&s, lines, WAYS);
	exs_fill(&s, 1, &owner_tag, 9, 0x5123, true);
	EXPECT_EQ(lines[1].state, EXS_BUSY);
	EXPECT_EQ(lines[1].va, 0x5000ull);
	EXPECT_EQ(lines[1].key, 9u);
	EXPECT_EQ(lines[1].prefetched, 1);
	EXPECT_EQ(lines[1].touched, 0);
	EXPECT_EQ(exs_find(&s, 9, 0x5fff), 1);
	exs_validate(&s, 1, 3);
	EXPECT_EQ(lines[1].rights, 3u);
	exs_accessed(&s, 1);
	EXPECT_EQ(lines[1].touched, 1);
	EXPECT_GT(lines[1].use_stamp, lines[1].fill_stamp);
}
