/*
 * Physical memory manager: one buddy allocator (kernel/buddy.c) over all
 * RAM the boot loader reported usable, behind one spinlock.
 *
 * Boot order: pmm_early_init() starts a bump allocator just above the
 * kernel image and boot modules; vmm_init() takes its page tables from it;
 * pmm_init() then places the buddy's metadata (one byte per page) the same
 * way and hands every usable page above the bump pointer to the buddy.
 * Memory below that point (the first MiB, the kernel, modules, early page
 * tables) is never handed out.
 */
#include <arch/memlayout.h>
#include <kernel/buddy.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <lib/string.h>

extern char _end_phys[];

static struct buddy phys;
static struct spinlock pmm_lock = SPINLOCK_INIT("pmm");
static size_t total_pages;
static uint64_t early_next; /* next free physical page of the bump allocator */
static uint64_t early_limit; /* end of the usable range it carves from */

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static void *page_ptr(uint64_t pa)
{
	return phys_to_virt(pa);
}

void pmm_early_init(const struct bootinfo *bi)
{
	uint64_t start = (uint64_t)_end_phys;

	for (unsigned i = 0; i < bi->nmods; i++)
		if (bi->mods[i].end > start)
			start = bi->mods[i].end;
	start = align_up(start, PAGE_SIZE);
	for (unsigned i = 0; i < bi->nmem; i++) {
		const struct boot_mem_range *r = &bi->mem[i];

		if (r->type == BOOT_MEM_USABLE && r->base <= start &&
		    r->base + r->len > start) {
			early_next = start;
			early_limit = r->base + r->len;
			return;
		}
	}
	panic("pmm: no usable memory above the kernel at %#llx",
	      (unsigned long long)start);
}

uint64_t pmm_early_alloc(void)
{
	uint64_t pa = early_next;

	if (pa + PAGE_SIZE > early_limit)
		panic("pmm: out of early boot memory");
	early_next += PAGE_SIZE;
	memset(phys_to_virt(pa), 0, PAGE_SIZE);
	return pa;
}

void pmm_init(const struct bootinfo *bi)
{
	uint64_t top = 0, meta_bytes;
	size_t npages;

	for (unsigned i = 0; i < bi->nmem; i++)
		if (bi->mem[i].type == BOOT_MEM_USABLE &&
		    bi->mem[i].base + bi->mem[i].len > top)
			top = bi->mem[i].base + bi->mem[i].len;
	npages = top / PAGE_SIZE;
	meta_bytes = align_up(npages, PAGE_SIZE);
	if (early_next + meta_bytes > early_limit)
		panic("pmm: no room for page metadata");
	buddy_init(&phys, 0, npages, phys_to_virt(early_next), page_ptr);
	early_next += meta_bytes;
	early_limit = early_next; /* the bump allocator is done */

	for (unsigned i = 0; i < bi->nmem; i++) {
		const struct boot_mem_range *r = &bi->mem[i];
		uint64_t base = align_up(r->base, PAGE_SIZE);
		uint64_t end = (r->base + r->len) & ~(uint64_t)(PAGE_SIZE - 1);

		if (r->type != BOOT_MEM_USABLE)
			continue;
		if (base < early_next)
			base = early_next;
		if (end > base)
			buddy_add_range(&phys, base, (end - base) / PAGE_SIZE);
	}
	total_pages = phys.free_pages;
	pr_info("pmm: %zu pages (%zu MiB) free, metadata %llu KiB",
		total_pages, total_pages / 256, (unsigned long long)meta_bytes / 1024);
}

uint64_t pmm_alloc(unsigned order)
{
	uint64_t pa;

	spin_lock(&pmm_lock);
	pa = buddy_alloc(&phys, order);
	spin_unlock(&pmm_lock);
	return pa == BUDDY_NONE ? 0 : pa;
}

void pmm_free(uint64_t pa, unsigned order)
{
	spin_lock(&pmm_lock);
	if (buddy_allocated_order(&phys, pa) != (int)order)
		panic("pmm_free(%#llx, order %u): not an allocated block of that order",
		      (unsigned long long)pa, order);
	memset(phys_to_virt(pa), PAGE_POISON, (size_t)PAGE_SIZE << order);
	buddy_free(&phys, pa, order);
	spin_unlock(&pmm_lock);
}

size_t pmm_free_pages(void)
{
	return phys.free_pages;
}

size_t pmm_total_pages(void)
{
	return total_pages;
}

void *page_alloc(unsigned order)
{
	uint64_t pa = pmm_alloc(order);

	return pa ? phys_to_virt(pa) : NULL;
}

void *page_zalloc(unsigned order)
{
	void *p = page_alloc(order);

	if (p)
		memset(p, 0, (size_t)PAGE_SIZE << order);
	return p;
}

void page_free(void *va, unsigned order)
{
	if (va)
		pmm_free(virt_to_phys(va), order);
}

int pmm_block_order(uint64_t pa)
{
	int order;

	spin_lock(&pmm_lock);
	order = buddy_allocated_order(&phys, pa);
	spin_unlock(&pmm_lock);
	return order;
}
