/*
 * Small helpers for measurements (lib/sort.c): sorting samples to read
 * medians and percentiles off them, and a fast deterministic random
 * stream for choosing offsets. Portable.
 */
#ifndef LIB_SORT_H
#define LIB_SORT_H

#include <stddef.h>
#include <stdint.h>

/* Sorts v[0..n) ascending in place (Shell sort: no recursion, no
 * allocation; fine for tens of thousands of samples). */
void sort_u64(uint64_t *v, size_t n);

/* The next value of a xorshift64 stream; *state must not be 0. */
static inline uint64_t xorshift64(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

#endif
