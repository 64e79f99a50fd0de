/*
 * libFuzzer target for bootinfo_parse (kernel/bootinfo.c), whose input
 * comes from the boot loader.
 *
 * The first byte picks the magic (Multiboot v1, Multiboot2 or a wrong
 * one); the other bytes become fake physical memory at INFO_PA, with the
 * information block at its start, so pointers in the block (strings, the
 * v1 memory map, modules) can land back inside the input. Every read goes
 * through fakemem (exact-size heap copies), so ASan flags any read past
 * what the parser asked for; the result is checked against what the
 * parser promises.
 */
#include <kernel/bootinfo.h>
#include <stdlib.h>
#include <string.h>

#include "fakemem.h"

#define INFO_PA 0x1000

static void check_string(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		abort();
}

static void check(const struct bootinfo *bi)
{
	if (bi->nmem > BOOT_MAX_RANGES || bi->nmods > BOOT_MAX_MODULES)
		abort();
	if (bi->protocol != 1 && bi->protocol != 2)
		abort();
	check_string(bi->cmdline, sizeof(bi->cmdline));
	check_string(bi->loader, sizeof(bi->loader));
	for (unsigned i = 0; i < bi->nmem; i++) {
		if (bi->mem[i].len == 0)
			abort();
		if (i && bi->mem[i - 1].base > bi->mem[i].base)
			abort(); /* not sorted */
	}
	for (unsigned i = 0; i < bi->nmods; i++) {
		if (bi->mods[i].start > bi->mods[i].end)
			abort();
		check_string(bi->mods[i].cmdline, sizeof(bi->mods[i].cmdline));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t magics[] = {MB1_BOOT_MAGIC, MB2_BOOT_MAGIC, 0x2BADB003};
	struct bootinfo bi;
	uint32_t magic;
	int err;

	if (size < 1)
		return 0;
	magic = magics[data[0] % 3];
	fakemem_reset();
	memcpy(fakemem_add(INFO_PA, size - 1), data + 1, size - 1);
	err = bootinfo_parse(&bi, magic, INFO_PA, fakemem_read);
	if (err == 0)
		check(&bi);
	else if (err != -1 || (magic == MB1_BOOT_MAGIC && size - 1 >= 88))
		abort(); /* -1 only; a readable v1 block is always usable */
	fakemem_reset();
	return 0;
}
