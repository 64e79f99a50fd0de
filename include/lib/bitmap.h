/*
 * Fixed-size bitmaps over arrays of uint64_t (header only). The caller owns
 * the storage and any locking.
 */
#ifndef LIB_BITMAP_H
#define LIB_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BITMAP_WORDS(nbits) (((nbits) + 63) / 64)

/* Set bits in w. (Not __builtin_popcountll: without -mpopcnt it calls
 * libgcc, which the kernels do not link.) */
static inline unsigned bit_count64(uint64_t w)
{
	unsigned n = 0;

	for (; w; w &= w - 1)
		n++;
	return n;
}

static inline void bitmap_set(uint64_t *map, size_t bit)
{
	map[bit / 64] |= 1ull << (bit % 64);
}

static inline void bitmap_clear(uint64_t *map, size_t bit)
{
	map[bit / 64] &= ~(1ull << (bit % 64));
}

static inline bool bitmap_test(const uint64_t *map, size_t bit)
{
	return (map[bit / 64] >> (bit % 64)) & 1;
}

/* Index of the first clear bit below nbits, or nbits if all are set. */
static inline size_t bitmap_find_clear(const uint64_t *map, size_t nbits)
{
	for (size_t w = 0; w < BITMAP_WORDS(nbits); w++) {
		if (map[w] != UINT64_MAX) {
			size_t bit = w * 64 + (size_t)__builtin_ctzll(~map[w]);

			return bit < nbits ? bit : nbits;
		}
	}
	return nbits;
}

/* Number of set bits below nbits. */
static inline size_t bitmap_count(const uint64_t *map, size_t nbits)
{
	size_t n = 0;

	for (size_t w = 0; w < nbits / 64; w++)
		n += bit_count64(map[w]);
	if (nbits % 64)
		n += bit_count64(map[nbits / 64] & ((1ull << (nbits % 64)) - 1));
	return n;
}

#endif
