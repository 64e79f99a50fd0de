/*
 * Kernel memory: physical pages (kernel/pmm.c), small objects
 * (kernel/kmalloc.c) and kernel mappings (arch/x86_64/vmm.c).
 *
 * Freed memory is poisoned (PAGE_POISON, KMALLOC_POISON) so a use after
 * free reads garbage that stands out instead of stale data.
 */
#ifndef KERNEL_MM_H
#define KERNEL_MM_H

#include <kernel/bootinfo.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_POISON    0x6b
#define KMALLOC_POISON 0x6d

/* Boot: start handing out pages from just above the kernel and modules
 * (used for the first page tables), then build the real allocator. */
void pmm_early_init(const struct bootinfo *bi);
uint64_t pmm_early_alloc(void); /* zeroed page, physical; panics if none */
void pmm_init(const struct bootinfo *bi);

/* Physical pages. pmm_alloc returns 0 when out of memory. Freeing a block
 * that is not allocated, or with a different order, panics (kernel bug). */
uint64_t pmm_alloc(unsigned order);
void pmm_free(uint64_t pa, unsigned order);
size_t pmm_free_pages(void);
/* Order of the allocated block starting at pa, or -1. */
int pmm_block_order(uint64_t pa);
size_t pmm_total_pages(void);

/* The same through the direct map; page_zalloc also zeroes. */
void *page_alloc(unsigned order);
void *page_zalloc(unsigned order);
void page_free(void *va, unsigned order);

/* Small objects (up to 2 KiB from slabs, larger ones as whole pages).
 * kmalloc returns NULL when out of memory; kfree(NULL) does nothing. */
void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *p);

/* Kernel page tables (arch). vmm_init builds the direct map of all memory
 * in the map and switches to it. vmm_map_phys maps physical memory outside
 * the direct map (device registers uncached, device RAM such as the fabric
 * window write-back) and returns its virtual address, or NULL if out of
 * page tables or address space; mappings are permanent. vmm_map_mmio is
 * vmm_map_phys(..., VMM_UNCACHED). */
enum vmm_cache { VMM_UNCACHED, VMM_WRITE_BACK };
void vmm_init(const struct bootinfo *bi);
void *vmm_map_phys(uint64_t pa, size_t size, enum vmm_cache cache);
void *vmm_map_mmio(uint64_t pa, size_t size);
/* True if [pa, pa + len) is reachable through the direct map. */
bool vmm_direct_mapped(uint64_t pa, size_t len);
/* Physical address of the kernel's top-level page table (for APs). */
uint64_t vmm_kernel_root(void);

#endif
