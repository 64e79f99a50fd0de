/*
 * What the boot loader told us, in one loader-independent structure
 * (kernel/bootinfo.c). Both Multiboot v1 (QEMU -kernel) and Multiboot2
 * (GRUB2) are understood.
 */
#ifndef KERNEL_BOOTINFO_H
#define KERNEL_BOOTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB1_BOOT_MAGIC 0x2BADB002u
#define MB2_BOOT_MAGIC 0x36D76289u

#define BOOT_MAX_RANGES	 64
#define BOOT_MAX_MODULES 8
#define BOOT_CMDLINE_MAX 1024

enum boot_mem_type {
	BOOT_MEM_USABLE = 1,
	BOOT_MEM_RESERVED = 2,
	BOOT_MEM_ACPI = 3,
	BOOT_MEM_NVS = 4,
	BOOT_MEM_BAD = 5,
};

struct boot_mem_range {
	uint64_t base;
	uint64_t len;
	uint32_t type; /* enum boot_mem_type; unknown values count as reserved */
};

struct boot_module {
	uint64_t start, end; /* physical, end exclusive */
	char cmdline[128];
};

struct bootinfo {
	int protocol; /* 1 or 2 */
	char cmdline[BOOT_CMDLINE_MAX];
	char loader[64];
	struct boot_mem_range mem[BOOT_MAX_RANGES];
	unsigned nmem;
	struct boot_module mods[BOOT_MAX_MODULES];
	unsigned nmods;
	uint8_t rsdp[36]; /* copy of the ACPI RSDP if the loader gave one */
	bool has_rsdp;
	unsigned dropped; /* ranges or modules that did not fit */
};

/*
 * Returns a pointer through which len bytes at physical address pa can be
 * read, or NULL if that memory is not accessible.
 */
typedef const void *(*boot_phys_fn)(uint64_t pa, size_t len);

/*
 * Fills bi from the loader's information at physical address info. Returns
 * 0, or -1 if magic is not a multiboot magic or the structure is unusable.
 * Malformed parts (bad sizes, unreadable pointers) are skipped, never
 * followed out of bounds.
 */
int bootinfo_parse(struct bootinfo *bi, uint32_t magic, uint64_t info,
		   boot_phys_fn phys);

/* Sum of usable bytes in the memory map. */
uint64_t bootinfo_usable_bytes(const struct bootinfo *bi);

const char *boot_mem_type_name(uint32_t type);

#endif
