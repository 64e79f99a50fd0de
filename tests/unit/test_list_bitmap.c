/*
 * Tests of the header-only include/lib/list.h and include/lib/bitmap.h:
 * list order and removal against an array model, and bitmap operations
 * against a bool-per-bit model, with sizes that are not multiples of 64.
 */
#include "unit.h"

#include <lib/bitmap.h>
#include <lib/list.h>
#include <string.h>

struct item {
	int value;
	struct list_node link;
};

/* Checks that the list holds exactly want[0..n) in order, both ways. */
static bool list_matches(struct list_node *head, const int *want, size_t n)
{
	struct list_node *pos;
	size_t i = 0;

	if (list_length(head) != n)
		return false;
	list_for_each (pos, head)
		if (list_entry(pos, struct item, link)->value != want[i++])
			return false;
	for (pos = head->prev; pos != head; pos = pos->prev)
		if (list_entry(pos, struct item, link)->value != want[--i])
			return false;
	return i == 0;
}

TEST(list_push_and_pop)
{
	struct list_node head = LIST_HEAD_INIT(head);
	struct item it[4] = {{.value = 0}, {.value = 1}, {.value = 2}, {.value = 3}};
	struct list_node *n;

	EXPECT(list_empty(&head));
	EXPECT_EQ(list_length(&head), 0u);
	EXPECT(list_pop_front(&head) == NULL);
	list_push_back(&head, &it[1].link);
	list_push_back(&head, &it[2].link);
	list_push_front(&head, &it[0].link);
	list_push_back(&head, &it[3].link);
	EXPECT(!list_empty(&head));
	EXPECT(list_matches(&head, (int[]){0, 1, 2, 3}, 4));
	n = list_pop_front(&head);
	ASSERT(n != NULL);
	EXPECT_EQ(list_entry(n, struct item, link)->value, 0);
	EXPECT(n->next == n && n->prev == n); /* unlinked node points to itself */
	EXPECT(list_matches(&head, (int[]){1, 2, 3}, 3));
}

TEST(list_remove)
{
	struct list_node head;
	struct item it[5];

	list_init(&head);
	for (int i = 0; i < 5; i++) {
		it[i].value = i;
		list_push_back(&head, &it[i].link);
	}
	list_remove(&it[2].link);
	EXPECT(list_matches(&head, (int[]){0, 1, 3, 4}, 4));
	list_remove(&it[2].link); /* a second remove changes nothing */
	EXPECT(list_matches(&head, (int[]){0, 1, 3, 4}, 4));
	list_remove(&it[0].link);
	list_remove(&it[4].link);
	EXPECT(list_matches(&head, (int[]){1, 3}, 2));
	list_remove(&it[1].link);
	list_remove(&it[3].link);
	EXPECT(list_empty(&head));
	EXPECT(head.next == &head && head.prev == &head);
}

TEST(list_for_each_safe_removal)
{
	struct list_node head, *pos, *tmp;
	struct item it[8];

	list_init(&head);
	for (int i = 0; i < 8; i++) {
		it[i].value = i;
		list_push_back(&head, &it[i].link);
	}
	list_for_each_safe (pos, tmp, &head)
		if (list_entry(pos, struct item, link)->value % 2)
			list_remove(pos);
	EXPECT(list_matches(&head, (int[]){0, 2, 4, 6}, 4));
}

TEST(list_container_of)
{
	struct outer {
		char pad[13];
		struct list_node node;
	} o;

	EXPECT(container_of(&o.node, struct outer, node) == &o);
}

/* Random set/clear against a bool model; checks test, count, find_clear. */
static void bitmap_check_size(size_t nbits, struct unit_rng *rng)
{
	uint64_t map[BITMAP_WORDS(200) + 1];
	bool model[200 + 64];

	memset(map, 0, sizeof(map));
	memset(model, 0, sizeof(model));
	map[BITMAP_WORDS(nbits)] = UINT64_MAX; /* a word past the end */
	for (int step = 0; step < 600; step++) {
		size_t bit = unit_rand_below(rng, nbits), count = 0, first = nbits;

		if (unit_rand(rng) % 3) {
			bitmap_set(map, bit);
			model[bit] = true;
		} else {
			bitmap_clear(map, bit);
			model[bit] = false;
		}
		for (size_t i = 0; i < nbits; i++) {
			UNIT_OR_RETURN(EXPECT_EQ(bitmap_test(map, i), model[i]));
			count += model[i];
			if (!model[i] && first == nbits)
				first = i;
		}
		UNIT_OR_RETURN(EXPECT_EQ(bitmap_count(map, nbits), count));
		UNIT_OR_RETURN(EXPECT_EQ(bitmap_find_clear(map, nbits), first));
	}
}

TEST(bitmap_random_against_model)
{
	static const size_t sizes[] = {1, 7, 63, 64, 65, 100, 128, 130, 200};
	struct unit_rng rng = {42};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		bitmap_check_size(sizes[i], &rng);
		if (unit_failed()) {
			unit_diag("bitmap of %zu bits", sizes[i]);
			return;
		}
	}
}

TEST(bitmap_full_and_tail_bits)
{
	uint64_t map[2] = {0, 0};

	for (size_t i = 0; i < 70; i++)
		bitmap_set(map, i);
	EXPECT_EQ(map[0], UINT64_MAX);
	EXPECT_EQ(map[1], 0x3full);
	EXPECT_EQ(bitmap_count(map, 70), 70u);
	EXPECT_EQ(bitmap_count(map, 65), 65u); /* bits past nbits not counted */
	EXPECT_EQ(bitmap_find_clear(map, 70), 70u);
	EXPECT_EQ(bitmap_find_clear(map, 71), 70u);
	/* A clear bit past nbits in the last word is not a clear bit. */
	EXPECT_EQ(bitmap_find_clear(map, 68), 68u);
	bitmap_clear(map, 64);
	EXPECT_EQ(bitmap_find_clear(map, 70), 64u);
	EXPECT_EQ(bitmap_find_clear(map, 64), 64u);
	EXPECT_FALSE(bitmap_test(map, 64));
	EXPECT_TRUE(bitmap_test(map, 63));
	EXPECT_EQ(BITMAP_WORDS(0), 0);
	EXPECT_EQ(BITMAP_WORDS(64), 1);
	EXPECT_EQ(BITMAP_WORDS(65), 2);
}
