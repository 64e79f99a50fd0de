/*
 * Binary buddy allocator over a range of page frames (kernel/buddy.c).
 * Portable and lock-free by itself: kernel/pmm.c wraps one instance for
 * physical memory under a spinlock; host unit tests drive it directly.
 *
 * Blocks are 2^order pages, order 0..BUDDY_MAX_ORDER. Each page has one byte
 * of metadata (caller-provided) that records whether it heads a free or an
 * allocated block and of which order, so frees are checked: freeing a
 * block that is not allocated, or with the wrong order, is refused.
 * Free blocks are linked through their own first bytes, reached through
 * the caller's page_ptr() (the direct map in the kernel).
 */
#ifndef KERNEL_BUDDY_H
#define KERNEL_BUDDY_H

#include <lib/list.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDDY_MAX_ORDER 10 /* 4 MiB blocks */
#define BUDDY_PAGE_SIZE 4096
#define BUDDY_NONE	UINT64_MAX

struct buddy {
	uint64_t base; /* address of page 0, aligned to the largest block */
	size_t npages;
	uint8_t *meta; /* npages bytes */
	void *(*page_ptr)(uint64_t addr);
	struct list_node free[BUDDY_MAX_ORDER + 1];
	size_t free_pages;
};

/* Sets up b over npages pages at base, all of them unavailable until
 * buddy_add_range() hands them in. meta must hold npages bytes. */
void buddy_init(struct buddy *b, uint64_t base, size_t npages, uint8_t *meta,
		void *(*page_ptr)(uint64_t addr));

/* Makes [addr, addr + npages pages) available. Pages outside b's range are
 * ignored. Must not overlap pages already available. */
void buddy_add_range(struct buddy *b, uint64_t addr, size_t npages);

/* Returns the address of a free 2^order-page block, or BUDDY_NONE. */
uint64_t buddy_alloc(struct buddy *b, unsigned order);

/* Returns the block at addr to the allocator. Returns false (and changes
 * nothing) if addr is not the start of an allocated block of that order. */
bool buddy_free(struct buddy *b, uint64_t addr, unsigned order);

/* Order of the allocated block starting at addr, or -1 if none starts there. */
int buddy_allocated_order(const struct buddy *b, uint64_t addr);

/* Smallest order whose block holds bytes bytes. */
unsigned buddy_order_for(size_t bytes);

#endif
