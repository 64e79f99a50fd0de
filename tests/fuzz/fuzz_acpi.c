/*
 * libFuzzer target for acpi_parse and acpi_find_rsdp (kernel/acpi.c),
 * whose input is firmware tables.
 *
 * The first byte holds options; the other bytes become fake physical
 * memory at MEM_PA, in the BIOS area acpi_find_rsdp scans, with the RSDP
 * parsed at its start. Firmware garbage rarely has valid checksums, and a
 * fuzzer rarely finds them, so with option bit 0 the harness fixes the
 * checksums of the RSDP, its RSDT/XSDT and every table they list before
 * parsing, letting the mutations reach the MADT and HPET parsers; with
 * bit 1 it also runs the RSDP search over the memory. Reads go
 * through fakemem (exact-size heap copies), so ASan flags any read past
 * what the parser asked for.
 */
#include <kernel/acpi.h>
#include <kernel/errno.h>
#include <lib/unaligned.h>
#include <stdlib.h>
#include <string.h>

#include "fakemem.h"

#define MEM_PA	 0xe0000
#define MIN_MEM	 36
#define OPT_FIX	 1 /* fix checksums before parsing */
#define OPT_FIND 2 /* also run the RSDP search (slow: it reads 8192 times) */

static void fix_checksum(uint8_t *p, size_t len, size_t at)
{
	uint8_t sum = 0;

	p[at] = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	p[at] = (uint8_t)-sum;
}

/* The table at pa, if its header and whole length are in memory. */
static uint8_t *table(uint64_t pa, uint32_t *len)
{
	uint8_t *t = fakemem_ptr(pa, 36);

	if (!t)
		return NULL;
	*len = get_le32(t + 4);
	if (*len < 36 || !fakemem_ptr(pa, *len))
		return NULL;
	return t;
}

/* Fixes the listed tables first, then the root (which lists them). */
static void fix_root(uint64_t pa, unsigned esize)
{
	uint32_t len, clen;
	uint8_t *root = table(pa, &len), *t;

	if (!root)
		return;
	for (uint32_t off = 36; off + esize <= len && off < 36 + 64 * esize;
	     off += esize) {
		uint64_t child = esize == 8 ? get_le64(root + off) : get_le32(root + off);

		t = table(child, &clen);
		if (t)
			fix_checksum(t, clen, 9);
	}
	fix_checksum(root, len, 9);
}

static void fix_all(uint8_t *rsdp)
{
	fix_root(get_le32(rsdp + 16), 4);
	if (rsdp[15] >= 2)
		fix_root(get_le64(rsdp + 24), 8);
	fix_checksum(rsdp, 20, 8);
	if (rsdp[15] >= 2)
		fix_checksum(rsdp, 36, 32);
}

static void check(const struct acpi_info *ai, int err)
{
	if (err != 0 && err != -EINVAL && err != -ENOENT)
		abort();
	if (ai->ncpus > ACPI_MAX_CPUS || ai->nioapics > ACPI_MAX_IOAPICS ||
	    ai->noverrides > ACPI_MAX_OVERRIDES || ai->oem[6] != '\0')
		abort();
}

/* Whatever the search returns must be an aligned RSDP signature. */
static void check_found(uint64_t found)
{
	const uint8_t *p;

	if (!found)
		return;
	p = fakemem_ptr(found, 20);
	if (found % 16 || !p || memcmp(p, "RSD PTR ", 8) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t memsize = size > MIN_MEM ? size - 1 : MIN_MEM;
	struct acpi_info ai;
	uint8_t *mem;
	const uint8_t *rsdp;

	if (size < 1)
		return 0;
	fakemem_reset();
	mem = fakemem_add(MEM_PA, memsize);
	memcpy(mem, data + 1, size - 1);
	if (data[0] & OPT_FIX)
		fix_all(mem);
	if (data[0] & OPT_FIND)
		check_found(acpi_find_rsdp(fakemem_read));
	rsdp = fakemem_read(MEM_PA, 36);
	if (!rsdp)
		abort();
	check(&ai, acpi_parse(&ai, rsdp, fakemem_read));
	fakemem_reset();
	return 0;
}
