/*
 * Tests of include/kernel/pollwin.h, the adaptive poll window of the CQ
 * thread and the RPC caller: where it starts, that it doubles for events
 * within max_ns and halves for later or missing ones, that it never
 * leaves [min_ns, max_ns] whatever it is fed, and that a window not a
 * power-of-two multiple of min_ns still reaches max_ns exactly.
 */
#include <kernel/pollwin.h>

#include "unit.h"

#define US 1000ull

TEST(pollwin_starts_at_min)
{
	struct pollwin w;

	pollwin_init(&w, 20 * US, 1000 * US);
	EXPECT_EQ(pollwin_ns(&w), 20 * US);
	pollwin_init(&w, 50 * US, 10 * US); /* max below min: max = min */
	EXPECT_EQ(w.max_ns, 50 * US);
	EXPECT_EQ(pollwin_slept(&w, 1 * US, true), 50 * US);
}

TEST(pollwin_grows_for_events_within_max)
{
	struct pollwin w;

	pollwin_init(&w, 20 * US, 1000 * US);
	EXPECT_EQ(pollwin_slept(&w, 400 * US, true), 40 * US);
	EXPECT_EQ(pollwin_slept(&w, 400 * US, true), 80 * US);
	EXPECT_EQ(pollwin_slept(&w, 400 * US, true), 160 * US);
	EXPECT_EQ(pollwin_slept(&w, 1000 * US, true), 320 * US); /* max: still in */
	EXPECT_EQ(pollwin_slept(&w, 400 * US, true), 640 * US);
	/* 20 us * 2^6 overshoots: capped at max, exactly */
	EXPECT_EQ(pollwin_slept(&w, 400 * US, true), 1000 * US);
	EXPECT_EQ(pollwin_slept(&w, 400 * US, true), 1000 * US);
}

TEST(pollwin_shrinks_for_late_or_missing_events)
{
	struct pollwin w;

	pollwin_init(&w, 20 * US, 1000 * US);
	for (int i = 0; i < 10; i++)
		pollwin_slept(&w, 100 * US, true);
	ASSERT_EQ(pollwin_ns(&w), 1000 * US);
	EXPECT_EQ(pollwin_slept(&w, 1000 * US + 1, true), 500 * US);
	EXPECT_EQ(pollwin_slept(&w, 0, false), 250 * US); /* timed out */
	EXPECT_EQ(pollwin_slept(&w, 5 * US, false), 125 * US);
	EXPECT_EQ(pollwin_slept(&w, 50000 * US, true), 62500ull);
	EXPECT_EQ(pollwin_slept(&w, 50000 * US, true), 31250ull);
	EXPECT_EQ(pollwin_slept(&w, 50000 * US, true), 20 * US); /* floor */
	EXPECT_EQ(pollwin_slept(&w, 50000 * US, true), 20 * US);
}

TEST(pollwin_stays_in_bounds)
{
	struct pollwin w;
	uint64_t x = 88172645463325252ull;

	pollwin_init(&w, 7 * US, 333 * US);
	for (int i = 0; i < 10000; i++) {
		uint64_t ns;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ns = pollwin_slept(&w, x % (700 * US), x >> 63);
		EXPECT_EQ(ns, pollwin_ns(&w));
		EXPECT_GE(ns, 7 * US);
		EXPECT_LE(ns, 333 * US);
		if (unit_failed())
			return;
	}
}
