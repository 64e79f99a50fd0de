/*
 * Kernel page tables. One set, shared by all CPUs:
 *   - the direct map of the RAM and ACPI ranges of the memory map
 *     (2 MiB pages, write-back, no execute; device holes stay unmapped),
 *   - the kernel image at KERNEL_VBASE (2 MiB pages over the first 1 GiB),
 *   - device memory mapped on demand at MMIO_BASE (uncached registers, or
 *     write-back for device RAM such as the fabric window; 2 MiB pages
 *     where the range allows).
 * The boot-time identity map is gone once vmm_init() switches tables.
 *
 * The kernel half (PML4 entries 256..511) is shared by every user address
 * space (arch/x86_64/uspace.c copies those 256 entries into each new
 * uspace), so vmm_init() creates all of them up front (1 MiB of tables)
 * and they never change afterwards: later kernel mappings only fill in
 * tables below them, which every uspace then sees.
 */
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/spinlock.h>
#include <lib/string.h>

#define PTE_P	(1ull << 0)
#define PTE_W	(1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS	(1ull << 7)
#define PTE_G	(1ull << 8)
#define PTE_NX	(1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

#define KERNEL_PML4_FIRST 256 /* first PML4 entry of the kernel half */

static uint64_t kernel_root; /* physical */
static uint64_t mmio_next = MMIO_BASE;
static struct spinlock vmm_lock = SPINLOCK_INIT("vmm");
static uint64_t (*table_alloc)(void);

static uint64_t *table(uint64_t pa)
{
	return phys_to_virt(pa);
}

static uint64_t table_alloc_pmm(void)
{
	uint64_t pa = pmm_alloc(0);

	if (pa)
		memset(phys_to_virt(pa), 0, PAGE_SIZE);
	return pa;
}

/* Returns the entry for va at the given level (3 = PML4 ... 0 = PT),
 * creating intermediate tables; NULL if out of memory. */
static uint64_t *walk(uint64_t va, int level)
{
	uint64_t *t = table(kernel_root);

	for (int l = 3; l > level; l--) {
		uint64_t *e = &t[(va >> (12 + 9 * l)) & 511];

		if (!(*e & PTE_P)) {
			uint64_t pa;

			if (l == 3 && table_alloc == table_alloc_pmm)
				panic("vmm: new PML4 entry %lu after boot",
				      (unsigned long)((va >> 39) & 511));
			pa = table_alloc();

			if (!pa)
				return NULL;
			*e = pa | PTE_P | PTE_W;
		}
		t = table(*e & PTE_ADDR);
	}
	return &t[(va >> (12 + 9 * level)) & 511];
}

static void map_huge(uint64_t va, uint64_t pa, uint64_t flags)
{
	uint64_t *e = walk(va, 1);

	if (!e)
		panic("vmm: out of memory for page tables");
	*e = pa | PTE_P | PTE_PS | flags;
}

/* Maps the RAM and ACPI ranges of the memory map (not the holes between
 * them, where devices live) with 2 MiB pages; a page that straddles a range
 * edge is mapped whole. */
static void map_direct(const struct bootinfo *bi)
{
	for (unsigned i = 0; i < bi->nmem; i++) {
		const struct boot_mem_range *r = &bi->mem[i];
		uint64_t pa, end = r->base + r->len;

		if (r->type != BOOT_MEM_USABLE && r->type != BOOT_MEM_ACPI &&
		    r->type != BOOT_MEM_NVS)
			continue;
		if (end > DIRECT_MAP_SIZE)
			end = DIRECT_MAP_SIZE;
		for (pa = r->base & ~(uint64_t)(HUGE_SIZE - 1); pa < end; pa += HUGE_SIZE)
			map_huge(DIRECT_MAP_BASE + pa, pa, PTE_W | PTE_G | PTE_NX);
	}
}

void vmm_init(const struct bootinfo *bi)
{
	table_alloc = pmm_early_alloc;
	kernel_root = pmm_early_alloc();
	map_direct(bi);
	for (uint64_t pa = 0; pa < (1ull << 30); pa += HUGE_SIZE)
		map_huge(KERNEL_VBASE + pa, pa, PTE_W | PTE_G);
	for (unsigned i = KERNEL_PML4_FIRST; i < 512; i++) {
		uint64_t *root = table(kernel_root);

		if (!(root[i] & PTE_P))
			root[i] = pmm_early_alloc() | PTE_P | PTE_W;
	}
	write_cr3(kernel_root);
	table_alloc = table_alloc_pmm; /* pmm_init() comes next */
}

bool vmm_direct_mapped(uint64_t pa, size_t len)
{
	uint64_t end = pa + len;

	if (end < pa || end > DIRECT_MAP_SIZE)
		return false;
	for (uint64_t p = pa & ~(uint64_t)(HUGE_SIZE - 1); p < end; p += HUGE_SIZE) {
		uint64_t *t = table(kernel_root), va = DIRECT_MAP_BASE + p;

		for (int l = 3; l >= 1; l--) {
			uint64_t e = t[(va >> (12 + 9 * l)) & 511];

			if (!(e & PTE_P))
				return false;
			if (l == 1)
				break;
			t = table(e & PTE_ADDR);
		}
	}
	return true;
}

uint64_t vmm_kernel_root(void)
{
	return kernel_root;
}

/* Maps [base, base + len) at va, 2 MiB pages where both are aligned. */
static bool map_range(uint64_t va, uint64_t base, size_t len, uint64_t flags)
{
	for (size_t i = 0; i < len;) {
		bool huge = ((va + i) & (HUGE_SIZE - 1)) == 0 &&
			    ((base + i) & (HUGE_SIZE - 1)) == 0 && len - i >= HUGE_SIZE;
		uint64_t *e = walk(va + i, huge ? 1 : 0);

		if (!e)
			return false; /* the tables made so far stay for reuse */
		*e = (base + i) | PTE_P | PTE_W | PTE_G | PTE_NX | flags |
		     (huge ? PTE_PS : 0);
		i += huge ? HUGE_SIZE : PAGE_SIZE;
	}
	return true;
}

void *vmm_map_phys(uint64_t pa, size_t size, enum vmm_cache cache)
{
	uint64_t off = pa & (PAGE_SIZE - 1), base = pa - off, va;
	size_t len = (size + off + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1);
	uint64_t flags = cache == VMM_UNCACHED ? PTE_PCD | PTE_PWT : 0;

	spin_lock(&vmm_lock);
	/* Same offset within a 2 MiB page as pa, so big ranges get big pages. */
	va = mmio_next + (((base & (HUGE_SIZE - 1)) - mmio_next) & (HUGE_SIZE - 1));
	if (len < HUGE_SIZE)
		va = mmio_next;
	if (va + len > MMIO_BASE + MMIO_SIZE || !map_range(va, base, len, flags)) {
		spin_unlock(&vmm_lock);
		return NULL;
	}
	mmio_next = va + len;
	spin_unlock(&vmm_lock);
	return (void *)(va + off);
}

void *vmm_map_mmio(uint64_t pa, size_t size)
{
	return vmm_map_phys(pa, size, VMM_UNCACHED);
}
