/*
 * The ExCache's set logic (pcomponent/excache_set.c): which set a page
 * goes to, and which line of a set a miss takes, per replacement policy.
 * Portable: no kernel services, no locks, no arch headers, so the host
 * unit tests drive it with scripted sequences (tests/unit/
 * test_excache_set.c). The kernel side (pcomponent/excache.c) owns the
 * locking (one sleeping lock per set), the page tables and the RPCs, and
 * feeds this code what it sampled from the page tables.
 *
 * A line holds one page, named by a tag (key, va): for a process's
 * private page, its pid and the page's address; for a page of a shared
 * object (a MAP_SHARED mapping, pcomponent/excache_shared.h), the
 * object's key (bit 63 set, so never a pid) and the page's byte offset
 * in the object, so that every process mapping it finds the same line.
 *
 * A set is `ways` lines. A line is FREE, BUSY (a miss, prefetch or flush
 * is in flight for it: never a victim, never a hit) or VALID (mapped in
 * its owner's page tables, or its mappers' for a shared page). Every policy takes a FREE line first; only
 * when none is left does it choose among the VALID lines:
 *
 *   FIFO    the line filled longest ago (fill_stamp)
 *   LRU     the line whose access was last seen longest ago (use_stamp):
 *           the hardware keeps no order, so the kernel samples and clears
 *           the PTE accessed bits of the set at each miss in it and calls
 *           exs_accessed() for the lines that had been touched; the order
 *           is thus approximate at the granularity of misses in the set
 *   CLOCK   second chance: a hand sweeps the ways; a line whose
 *           referenced bit (from the same samples) is set loses it and is
 *           passed over, the first line without one is the victim
 *   RANDOM  a VALID line drawn uniformly with a xorshift64 stream
 *
 * Stamps come from one counter per set (tick), bumped at each fill and
 * each sampled access, so they order events within the set only.
 */
#ifndef PCOMPONENT_EXCACHE_SET_H
#define PCOMPONENT_EXCACHE_SET_H

#include <kernel/config.h>
#include <stdbool.h>
#include <stdint.h>

enum exs_state { EXS_FREE, EXS_BUSY, EXS_VALID };

/* One line's metadata. All fields are the set lock holder's. */
struct exs_line {
	void *owner;	     /* the kernel's: owning process; NULL when FREE
				and for a shared page */
	void *maps;	     /* the kernel's: a shared page's mappers */
	uint64_t key;	     /* the tag: the owner's pid, or a shared key */
	uint64_t va;	     /* the tag: page address in the owner's space,
				or page offset in the shared object */
	uint64_t fill_stamp; /* set tick at fill (FIFO) */
	uint64_t use_stamp;  /* set tick at fill or last sampled access (LRU) */
	uint8_t state;	     /* enum exs_state */
	uint8_t referenced;  /* CLOCK's second-chance bit */
	uint8_t prefetched;  /* filled by a prefetch, not demanded */
	uint8_t touched;     /* an access was seen since the fill */
	uint32_t rights;     /* the kernel's: what the line is mapped with */
	uint8_t dirty;	     /* the kernel's: dirty data its PTE no longer shows
				(a write-back failed and the line was mapped
				again); cleared by exs_fill and exs_release */
	uint8_t pad;
	uint16_t node;	     /* the kernel's: memory node owning the page's
				vRegion (where write-backs go); 0 while BUSY */
};

struct exs_set {
	struct exs_line *lines; /* ways entries */
	unsigned ways;
	unsigned hand; /* CLOCK's next way to look at */
	uint64_t tick; /* event counter for the stamps */
};

/* Set of the page holding va for key (a pid, or a shared key with va an
 * offset), among nsets (> 0). Pages that follow each other land in
 * consecutive sets; the key shifts its pages so two processes' identical
 * addresses fall in different sets. */
unsigned exs_set_index(uint64_t key, uint64_t va, unsigned nsets);

/* Makes every line of s FREE (lines must hold ways entries). */
void exs_set_init(struct exs_set *s, struct exs_line *lines, unsigned ways);

/* The way of the VALID or BUSY line tagged (key, page of va), or -1. */
int exs_find(const struct exs_set *s, uint64_t key, uint64_t va);

/* Number of lines in state st. */
unsigned exs_count(const struct exs_set *s, enum exs_state st);

/*
 * The way a miss should take: a FREE line if any (the lowest), else the
 * policy's choice among VALID lines (CLOCK moves its hand and clears the
 * referenced bits it passes). -1 if every line is BUSY. *rng is the
 * RANDOM policy's xorshift64 state (must not be 0).
 */
int exs_victim(struct exs_set *s, enum excache_policy policy, uint64_t *rng);

/* The line at way is taken for owner (NULL: a shared page) and the tag
 * (key, page of va): BUSY, stamped as the newest fill, the kernel's
 * fields and referenced and touched cleared. */
void exs_fill(struct exs_set *s, unsigned way, void *owner, uint64_t key, uint64_t va,
	      bool prefetched);
/* The fill at way finished: VALID, mapped with rights. */
void exs_validate(struct exs_set *s, unsigned way, uint32_t rights);
/* The line at way is FREE again (metadata cleared). */
void exs_release(struct exs_set *s, unsigned way);
/* A sampled access of the VALID line at way: newest use (LRU), second
 * chance (CLOCK), touched (prefetch accounting). */
void exs_accessed(struct exs_set *s, unsigned way);

#endif
