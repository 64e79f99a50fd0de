/*
 * Fake physical memory for parser tests (see fakemem.h). Regions and the
 * copies handed out are kept in simple growing arrays; fakemem_reset frees
 * them all, so a test (or a fuzz iteration) ends with no leaks.
 */
#include "fakemem.h"

#include <stdlib.h>
#include <string.h>

struct region {
	uint64_t pa;
	size_t size;
	uint8_t *bytes;
};

static struct region *regions;
static size_t nregions;
static void **copies;
static size_t ncopies, copies_cap;
static unsigned long nreads;

void fakemem_reset(void)
{
	for (size_t i = 0; i < nregions; i++)
		free(regions[i].bytes);
	free(regions);
	regions = NULL;
	nregions = 0;
	for (size_t i = 0; i < ncopies; i++)
		free(copies[i]);
	free(copies);
	copies = NULL;
	ncopies = copies_cap = 0;
	nreads = 0;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

uint8_t *fakemem_add(uint64_t pa, size_t size)
{
	struct region *r;

	r = realloc(regions, (nregions + 1) * sizeof(*regions));
	if (!r)
		abort();
	regions = r;
	r = &regions[nregions++];
	r->pa = pa;
	r->size = size;
	r->bytes = xmalloc(size);
	memset(r->bytes, 0, size);
	return r->bytes;
}

uint8_t *fakemem_ptr(uint64_t pa, size_t len)
{
	for (size_t i = 0; i < nregions; i++) {
		const struct region *r = &regions[i];

		if (pa >= r->pa && pa - r->pa <= r->size && len <= r->size - (pa - r->pa))
			return r->bytes + (pa - r->pa);
	}
	return NULL;
}

static void remember_copy(void *p)
{
	if (ncopies == copies_cap) {
		void **c;

		copies_cap = copies_cap ? 2 * copies_cap : 64;
		c = realloc(copies, copies_cap * sizeof(*copies));
		if (!c)
			abort();
		copies = c;
	}
	copies[ncopies++] = p;
}

const void *fakemem_read(uint64_t pa, size_t len)
{
	const uint8_t *src;
	void *copy;

	nreads++;
	src = fakemem_ptr(pa, len);
	if (!src)
		return NULL;
	copy = xmalloc(len);
	memcpy(copy, src, len);
	remember_copy(copy);
	return copy;
}

unsigned long fakemem_reads(void)
{
	return nreads;
}
