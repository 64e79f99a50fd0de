/* Self tests of the page allocator and kmalloc (run with `ktest`). */
#include <arch/memlayout.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <lib/string.h>

KTEST(pmm_alloc_every_order)
{
	for (unsigned order = 0; order <= 10; order++) {
		size_t before = pmm_free_pages();
		uint64_t pa = pmm_alloc(order);

		KT_ASSERT(pa != 0);
		KT_EXPECT_EQ(pa & (((uint64_t)PAGE_SIZE << order) - 1), 0);
		KT_EXPECT_EQ(pmm_free_pages(), before - ((size_t)1 << order));
		KT_EXPECT_EQ(pmm_block_order(pa), order);
		pmm_free(pa, order);
		KT_EXPECT_EQ(pmm_free_pages(), before);
	}
}

KTEST(pmm_freed_pages_are_poisoned)
{
	uint8_t *p = page_alloc(0);
	unsigned bad = 0;

	KT_ASSERT(p != NULL);
	memset(p, 0x11, PAGE_SIZE);
	page_free(p, 0);
	/* The first bytes may hold free-list links; the rest is poison. */
	for (unsigned i = 64; i < PAGE_SIZE; i++)
		bad += p[i] != PAGE_POISON;
	KT_EXPECT_EQ(bad, 0);
}

KTEST(pmm_exhaustion_returns_zero)
{
	enum { ORDER = 10, LIST_ORDER = 6 }; /* 4 MiB blocks; 32768 slots */
	const size_t max_blocks = ((size_t)PAGE_SIZE << LIST_ORDER) / sizeof(uint64_t);
	uint64_t *blocks = page_alloc(LIST_ORDER);
	size_t before = pmm_free_pages(), n = 0;
	uint64_t pa, extra;

	KT_ASSERT(blocks != NULL);
	/* Take every largest block (up to 128 GiB), then ask for one more. */
	while (n < max_blocks && (pa = pmm_alloc(ORDER)) != 0)
		blocks[n++] = pa;
	extra = pmm_alloc(ORDER);
	KT_EXPECT(n < max_blocks);
	KT_EXPECT_EQ(extra, 0);
	if (extra)
		pmm_free(extra, ORDER);
	while (n)
		pmm_free(blocks[--n], ORDER);
	page_free(blocks, LIST_ORDER);
	KT_EXPECT_EQ(pmm_free_pages(), before + ((size_t)1 << LIST_ORDER));
}

KTEST(kmalloc_sizes_and_poison)
{
	static const size_t sizes[] = { 1, 8, 16, 17, 100, 512, 2000, 2048 };
	void *p[8];

	for (unsigned i = 0; i < 8; i++) {
		p[i] = kmalloc(sizes[i]);
		KT_ASSERT(p[i] != NULL);
		KT_EXPECT(((uintptr_t)p[i] & (PAGE_SIZE - 1)) != 0);
		memset(p[i], (int)i, sizes[i]);
	}
	for (unsigned i = 0; i < 8; i++)
		for (unsigned j = i + 1; j < 8; j++)
			KT_EXPECT(p[i] != p[j]);
	for (unsigned i = 0; i < 8; i++) {
		const uint8_t *b = p[i];
		unsigned bad = 0;

		for (size_t k = 0; k < sizes[i]; k++)
			bad += b[k] != (uint8_t)i;
		KT_EXPECT_EQ(bad, 0);
	}
	for (unsigned i = 0; i < 8; i++)
		kfree(p[i]);
}

KTEST(kmalloc_large_uses_pages)
{
	size_t before = pmm_free_pages();
	void *p = kmalloc(3 * PAGE_SIZE);

	KT_ASSERT(p != NULL);
	KT_EXPECT_EQ((uintptr_t)p & (PAGE_SIZE - 1), 0);
	KT_EXPECT_EQ(before - pmm_free_pages(), 4); /* rounded to order 2 */
	memset(p, 0xab, 3 * PAGE_SIZE);
	kfree(p);
	KT_EXPECT_EQ(pmm_free_pages(), before);
}

KTEST(kmalloc_many_objects_return_all_pages)
{
	enum { N = 1000 };
	void **p = kmalloc(N * sizeof(void *));
	size_t before;

	KT_ASSERT(p != NULL);
	before = pmm_free_pages();
	for (unsigned i = 0; i < N; i++) {
		p[i] = kmalloc(64);
		KT_ASSERT(p[i] != NULL);
	}
	KT_EXPECT(pmm_free_pages() < before);
	for (unsigned i = 0; i < N; i++)
		kfree(p[i]);
	KT_EXPECT_EQ(pmm_free_pages(), before);
	kfree(p);
}
