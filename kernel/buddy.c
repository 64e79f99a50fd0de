/*
 * Binary buddy allocator (see include/kernel/buddy.h for the contract).
 *
 * meta[i] describes page i: BLOCK_FREE or BLOCK_USED plus the order when
 * the page heads a block, 0 for every other page. The buddy of the block at
 * index i of order k is at i ^ 2^k; two free buddies of equal order merge.
 */
#include <kernel/buddy.h>

#define BLOCK_FREE  0x80
#define BLOCK_USED  0x40
#define ORDER_MASK  0x1f

static size_t page_index(const struct buddy *b, uint64_t addr)
{
	return (size_t)((addr - b->base) / BUDDY_PAGE_SIZE);
}

static uint64_t page_addr(const struct buddy *b, size_t idx)
{
	return b->base + (uint64_t)idx * BUDDY_PAGE_SIZE;
}

/* A free block's first bytes: its list link and its own page index. */
struct free_block {
	struct list_node link;
	size_t idx;
};

static struct free_block *block_at(const struct buddy *b, size_t idx)
{
	return b->page_ptr(page_addr(b, idx));
}

void buddy_init(struct buddy *b, uint64_t base, size_t npages, uint8_t *meta,
		void *(*page_ptr)(uint64_t addr))
{
	b->base = base;
	b->npages = npages;
	b->meta = meta;
	b->page_ptr = page_ptr;
	b->free_pages = 0;
	for (size_t i = 0; i < npages; i++)
		meta[i] = 0;
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
		list_init(&b->free[o]);
}

/* Puts the block at idx of order on the free lists, merging with free
 * buddies. The block's meta byte must not say FREE. */
static void insert_free(struct buddy *b, size_t idx, unsigned order)
{
	b->free_pages += (size_t)1 << order;
	while (order < BUDDY_MAX_ORDER) {
		size_t buddy = idx ^ ((size_t)1 << order);

		if (buddy + ((size_t)1 << order) > b->npages ||
		    b->meta[buddy] != (BLOCK_FREE | order))
			break;
		list_remove(&block_at(b, buddy)->link);
		b->meta[buddy] = 0;
		b->meta[idx] = 0;
		if (buddy < idx)
			idx = buddy;
		order++;
	}
	b->meta[idx] = (uint8_t)(BLOCK_FREE | order);
	block_at(b, idx)->idx = idx;
	list_push_front(&b->free[order], &block_at(b, idx)->link);
}

void buddy_add_range(struct buddy *b, uint64_t addr, size_t npages)
{
	size_t idx, end;

	if (addr < b->base) {
		size_t skip = (size_t)((b->base - addr) / BUDDY_PAGE_SIZE);

		if (skip >= npages)
			return;
		addr = b->base;
		npages -= skip;
	}
	idx = page_index(b, addr);
	if (idx >= b->npages)
		return;
	end = npages < b->npages - idx ? idx + npages : b->npages; /* no wrap */
	while (idx < end) {
		unsigned order = 0;

		/* The largest aligned block that starts at idx and fits. */
		while (order < BUDDY_MAX_ORDER &&
		       (idx & (((size_t)2 << order) - 1)) == 0 &&
		       idx + ((size_t)2 << order) <= end)
			order++;
		insert_free(b, idx, order);
		idx += (size_t)1 << order;
	}
}

uint64_t buddy_alloc(struct buddy *b, unsigned order)
{
	unsigned o = order;
	struct free_block *blk;
	size_t idx;

	if (order > BUDDY_MAX_ORDER)
		return BUDDY_NONE;
	while (o <= BUDDY_MAX_ORDER && list_empty(&b->free[o]))
		o++;
	if (o > BUDDY_MAX_ORDER)
		return BUDDY_NONE;

	blk = list_entry(list_pop_front(&b->free[o]), struct free_block, link);
	idx = blk->idx;
	/* Split: hand the upper halves back until the block has the order. */
	while (o > order) {
		size_t upper;

		o--;
		upper = idx + ((size_t)1 << o);
		b->meta[upper] = (uint8_t)(BLOCK_FREE | o);
		block_at(b, upper)->idx = upper;
		list_push_front(&b->free[o], &block_at(b, upper)->link);
	}
	b->meta[idx] = (uint8_t)(BLOCK_USED | order);
	b->free_pages -= (size_t)1 << order;
	return page_addr(b, idx);
}

int buddy_allocated_order(const struct buddy *b, uint64_t addr)
{
	size_t idx;

	if (addr < b->base || (addr - b->base) % BUDDY_PAGE_SIZE)
		return -1;
	idx = page_index(b, addr);
	if (idx >= b->npages || !(b->meta[idx] & BLOCK_USED))
		return -1;
	return b->meta[idx] & ORDER_MASK;
}

bool buddy_free(struct buddy *b, uint64_t addr, unsigned order)
{
	if (order > BUDDY_MAX_ORDER || buddy_allocated_order(b, addr) != (int)order)
		return false;
	b->meta[page_index(b, addr)] = 0;
	insert_free(b, page_index(b, addr), order);
	return true;
}

unsigned buddy_order_for(size_t bytes)
{
	/* Count pages, not bytes: shifting bytes up would overflow. */
	size_t pages = bytes / BUDDY_PAGE_SIZE + (bytes % BUDDY_PAGE_SIZE != 0);
	unsigned order = 0;

	while (((size_t)1 << order) < pages)
		order++;
	return order;
}
