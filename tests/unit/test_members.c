/*
 * Host tests of the global managers' member table and placement policies
 * (managers/members.c): joins, restarts, aging to SUSPECT and DOWN, and
 * what GPM, GMM and GSM choose.
 */
#include "../../managers/members.h"
#include "unit.h"
#include <errno.h>
#include <string.h>

static struct mgr_heartbeat hb(uint8_t role, uint32_t threads, uint64_t frames_free)
{
	struct mgr_heartbeat h;

	memset(&h, 0, sizeof(h));
	h.role = role;
	h.cpus = 1;
	h.mem_total_kib = 1024;
	h.mem_free_kib = 512;
	h.frames_total = 100000;
	h.frames_free = frames_free;
	h.user_threads = threads;
	return h;
}

static struct mgr_place_req place(unsigned n, const uint16_t *nodes)
{
	struct mgr_place_req rq;

	memset(&rq, 0, sizeof(rq));
	rq.n = n;
	memcpy(rq.nodes, nodes, n * sizeof(nodes[0]));
	return rq;
}

static unsigned changes;
static void count_change(void *ctx, uint16_t node, unsigned state)
{
	(void)ctx;
	(void)node;
	(void)state;
	changes++;
}

TEST(members_join_restart_age)
{
	struct members ms;
	struct mgr_heartbeat h = hb('p', 0, 0);
	struct mgr_heartbeat bad = hb('x', 0, 0);

	members_init(&ms, 1);
	EXPECT_EQ((int)members_heartbeat(&ms, 2, 7, &h, 0), (int)MEMBERS_JOINED);
	EXPECT_EQ((int)members_heartbeat(&ms, 2, 7, &h, 900), (int)MEMBERS_SAME);
	EXPECT_EQ((int)members_heartbeat(&ms, 2, 8, &h, 1000), (int)MEMBERS_RESTARTED);
	EXPECT_EQ((int)members_heartbeat(&ms, 3, 1, &bad, 1000), (int)MEMBERS_BAD);
	EXPECT_EQ((int)members_heartbeat(&ms, 0, 1, &h, 1000), (int)MEMBERS_BAD);
	EXPECT_EQ(members_count(&ms), 1u);

	changes = 0;
	members_age(&ms, 1000 + MGR_SUSPECT_MS - 1, count_change, NULL);
	EXPECT_EQ(changes, 0u);
	members_age(&ms, 1000 + MGR_SUSPECT_MS, count_change, NULL);
	EXPECT_EQ((int)members_find(&ms, 2)->state, (int)MGR_SUSPECT);
	members_age(&ms, 1000 + MGR_DOWN_MS, count_change, NULL);
	EXPECT_EQ((int)members_find(&ms, 2)->state, (int)MGR_DOWN);
	EXPECT_EQ(changes, 2u);
	EXPECT_EQ((int)members_heartbeat(&ms, 2, 8, &h, 20000), (int)MEMBERS_BACK);
	EXPECT_EQ((int)members_find(&ms, 2)->state, (int)MGR_UP);

	for (uint16_t n = 10; n < 10 + MGR_MAX_MEMBERS - 1; n++)
		EXPECT_EQ((int)members_heartbeat(&ms, n, 1, &h, 0), (int)MEMBERS_JOINED);
	EXPECT_EQ((int)members_heartbeat(&ms, 99, 1, &h, 0), (int)MEMBERS_FULL);
}

TEST(members_gpm_fewest_threads)
{
	struct members ms;
	struct mgr_heartbeat p5 = hb('p', 5, 0), p1 = hb('p', 1, 0), m = hb('m', 0, 10);
	uint16_t all[] = {2, 3, 4, 9};
	struct mgr_place_req rq = place(4, all);

	members_init(&ms, 1);
	members_heartbeat(&ms, 2, 1, &p5, 0);
	members_heartbeat(&ms, 3, 1, &p1, 0);
	members_heartbeat(&ms, 4, 1, &m, 0); /* a memory node is no candidate */
	EXPECT_EQ(members_place_process(&ms, &rq), 3);
	members_age(&ms, MGR_SUSPECT_MS, NULL, NULL);
	members_heartbeat(&ms, 2, 1, &p5, MGR_SUSPECT_MS);
	EXPECT_EQ(members_place_process(&ms, &rq), 2); /* 3 is suspect now */
	rq.n = 0;
	EXPECT_EQ(members_place_process(&ms, &rq), -EINVAL);
	rq.n = 2; /* an entry beyond n must be 0 */
	EXPECT_EQ(members_place_process(&ms, &rq), -EINVAL);
	rq = place(1, all + 3);
	EXPECT_EQ(members_place_process(&ms, &rq), -EHOSTUNREACH);
}

TEST(members_gmm_most_free_and_charges)
{
	struct members ms;
	struct mgr_heartbeat a = hb('m', 0, 1000), b = hb('m', 0, 1000 - 1);
	uint16_t two[] = {5, 6};
	struct mgr_place_req rq = place(2, two);
	int first, second;

	members_init(&ms, 1);
	members_heartbeat(&ms, 5, 1, &a, 0);
	members_heartbeat(&ms, 6, 1, &b, 0);
	first = members_place_vregion(&ms, &rq);
	second = members_place_vregion(&ms, &rq);
	EXPECT_EQ(first, 5);
	EXPECT_EQ(second, 6); /* 5 was charged a vRegion's worth */
	members_heartbeat(&ms, 5, 1, &a, 1);
	EXPECT_EQ(members_place_vregion(&ms, &rq), 5); /* charge reset */
}

TEST(members_gmm_power_of_two_choices)
{
	struct members ms;
	uint16_t nodes[] = {11, 12, 13, 14};
	struct mgr_place_req rq = place(4, nodes);
	unsigned wins[4] = {0};

	members_init(&ms, 42);
	for (unsigned i = 0; i < 4; i++) {
		struct mgr_heartbeat h = hb('m', 0, 100000 - 1000 * i);

		members_heartbeat(&ms, nodes[i], 1, &h, 0);
	}
	for (unsigned k = 0; k < 400; k++) {
		int n = members_place_vregion(&ms, &rq);

		if (!EXPECT(n >= 11 && n <= 14))
			return;
		wins[n - 11]++;
		for (unsigned i = 0; i < 4; i++)
			members_find(&ms, nodes[i])->frames_charged = 0;
	}
	/* The least free node loses every draw it is in; the freest wins
	 * every draw it is in (half of them). */
	EXPECT_EQ(wins[3], 0u);
	EXPECT(wins[0] > 150 && wins[0] < 250);
	EXPECT(wins[1] > 0 && wins[2] > 0);
}

TEST(members_gsm_storage_of)
{
	struct members ms;
	struct mgr_heartbeat p = hb('p', 0, 0), s = hb('s', 0, 0);

	members_init(&ms, 1);
	p.storage = 4;
	members_heartbeat(&ms, 2, 1, &p, 0);
	members_heartbeat(&ms, 4, 1, &s, 0);
	EXPECT_EQ(members_storage_of(&ms, 2), 4);
	EXPECT_EQ(members_storage_of(&ms, 4), -EHOSTUNREACH); /* none of its own */
	EXPECT_EQ(members_storage_of(&ms, 3), -EHOSTUNREACH);
}
