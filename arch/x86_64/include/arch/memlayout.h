/*
 * Virtual memory layout of every Tessera kernel (x86-64, 4-level paging).
 *
 *   0x0000000000000000 ... 0x00007fffffffffff  user space (pComponent only)
 *   0xffff800000000000 ... DIRECT_MAP_END      direct map of all physical memory
 *   0xffffc00000000000 ...                     MMIO mappings (uncached)
 *   0xffffffff80000000 ...                     kernel image (phys + KERNEL_VBASE)
 *
 * Usable from C and assembly.
 */
#ifndef ARCH_MEMLAYOUT_H
#define ARCH_MEMLAYOUT_H

#define KERNEL_VBASE	0xffffffff80000000
#define KERNEL_PHYS	0x100000
#define DIRECT_MAP_BASE 0xffff800000000000
#define DIRECT_MAP_SIZE 0x0000100000000000 /* 16 TiB */
#define MMIO_BASE	0xffffc00000000000
#define MMIO_SIZE	0x0000010000000000 /* 1 TiB */

#define PAGE_SHIFT 12
#define PAGE_SIZE  4096
#define HUGE_SIZE  0x200000 /* 2 MiB */

/* Low physical page where application processors start (real mode). */
#define AP_TRAMPOLINE_PHYS 0x8000

#define BOOT_STACK_SIZE 16384

#ifndef __ASSEMBLER__
#include <stdint.h>

static inline void *phys_to_virt(uint64_t pa)
{
	return (void *)(pa + DIRECT_MAP_BASE);
}

static inline uint64_t virt_to_phys(const void *va)
{
	uint64_t v = (uint64_t)va;

	if (v >= KERNEL_VBASE)
		return v - KERNEL_VBASE;
	return v - DIRECT_MAP_BASE;
}
#endif

#endif
