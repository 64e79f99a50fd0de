/*
 * The ExCache's set logic: set index and victim choice per policy
 * (pcomponent/excache_set.h says what each policy does and why). Portable
 * code: compiled into the processor image and, with tests/unit/rename.h,
 * into the host unit tests (tests/unit/test_excache_set.c). No locks: the
 * caller holds the set's lock around every call.
 */
#include "excache_set.h"

#include <lib/string.h>

#define EXS_PAGE_SHIFT 12
#define EXS_PID_MIX    0x9e3779b97f4a7c15ull /* 2^64 / golden ratio: spreads keys */

unsigned exs_set_index(uint64_t key, uint64_t va, unsigned nsets)
{
	uint64_t vpn = va >> EXS_PAGE_SHIFT;
	uint64_t shift = (key * EXS_PID_MIX) >> 32;

	return (unsigned)((vpn + shift) % nsets);
}

void exs_set_init(struct exs_set *s, struct exs_line *lines, unsigned ways)
{
	memset(lines, 0, sizeof(*lines) * ways);
	s->lines = lines;
	s->ways = ways;
	s->hand = 0;
	s->tick = 0;
}

int exs_find(const struct exs_set *s, uint64_t key, uint64_t va)
{
	uint64_t page = va & ~((1ull << EXS_PAGE_SHIFT) - 1);

	for (unsigned w = 0; w < s->ways; w++) {
		const struct exs_line *l = &s->lines[w];

		if (l->state != EXS_FREE && l->key == key && l->va == page)
			return (int)w;
	}
	return -1;
}

unsigned exs_count(const struct exs_set *s, enum exs_state st)
{
	unsigned n = 0;

	for (unsigned w = 0; w < s->ways; w++)
		n += s->lines[w].state == st;
	return n;
}

/* The VALID line with the smallest stamp (fill or use); -1 if none. */
static int oldest(const struct exs_set *s, bool by_use)
{
	int best = -1;
	uint64_t best_stamp = 0;

	for (unsigned w = 0; w < s->ways; w++) {
		const struct exs_line *l = &s->lines[w];
		uint64_t stamp = by_use ? l->use_stamp : l->fill_stamp;

		if (l->state != EXS_VALID)
			continue;
		if (best < 0 || stamp < best_stamp) {
			best = (int)w;
			best_stamp = stamp;
		}
	}
	return best;
}

/* Second chance: at most two sweeps (the first may clear every bit). */
static int clock_victim(struct exs_set *s)
{
	for (unsigned i = 0; i < 2 * s->ways; i++) {
		unsigned w = s->hand;
		struct exs_line *l = &s->lines[w];

		s->hand = (w + 1) % s->ways;
		if (l->state != EXS_VALID)
			continue;
		if (!l->referenced)
			return (int)w;
		l->referenced = 0;
	}
	return -1;
}

/* A VALID line drawn uniformly. */
static int random_victim(const struct exs_set *s, uint64_t *rng)
{
	unsigned n = exs_count(s, EXS_VALID), pick;
	uint64_t x = *rng;

	if (!n)
		return -1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*rng = x;
	pick = (unsigned)(x % n);
	for (unsigned w = 0; w < s->ways; w++)
		if (s->lines[w].state == EXS_VALID && pick-- == 0)
			return (int)w;
	return -1;
}

int exs_victim(struct exs_set *s, enum excache_policy policy, uint64_t *rng)
{
	for (unsigned w = 0; w < s->ways; w++)
		if (s->lines[w].state == EXS_FREE)
			return (int)w;
	switch (policy) {
	case EXCACHE_FIFO:
		return oldest(s, false);
	case EXCACHE_CLOCK:
		return clock_victim(s);
	case EXCACHE_RANDOM:
		return random_victim(s, rng);
	case EXCACHE_LRU:
	default:
		return oldest(s, true);
	}
}

void exs_fill(struct exs_set *s, unsigned way, void *owner, uint64_t key, uint64_t va,
	      bool prefetched)
{
	struct exs_line *l = &s->lines[way];

	l->owner = owner;
	l->maps = NULL;
	l->key = key;
	l->va = va & ~((1ull << EXS_PAGE_SHIFT) - 1);
	l->fill_stamp = l->use_stamp = ++s->tick;
	l->state = EXS_BUSY;
	l->referenced = 0;
	l->touched = 0;
	l->prefetched = prefetched;
	l->rights = 0;
	l->dirty = 0;
	l->node = 0;
}

void exs_validate(struct exs_set *s, unsigned way, uint32_t rights)
{
	s->lines[way].state = EXS_VALID;
	s->lines[way].rights = rights;
}

void exs_release(struct exs_set *s, unsigned way)
{
	memset(&s->lines[way], 0, sizeof(s->lines[way]));
}

void exs_accessed(struct exs_set *s, unsigned way)
{
	struct exs_line *l = &s->lines[way];

	l->use_stamp = ++s->tick;
	l->referenced = 1;
	l->touched = 1;
}
