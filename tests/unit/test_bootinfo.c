/*
 * Tests of kernel/bootinfo.c: hand-built Multiboot v1 and Multiboot2
 * information blocks in fake physical memory (fakemem.h, whose accessor
 * hands out exact-size heap copies, so ASan catches any read past what the
 * parser asked for). Well-formed blocks must parse completely; malformed
 * ones (zero-size tags, sizes past the end, small entry sizes, pointers out
 * of memory) must give a sensible partial result and never fault.
 */
#include <stdlib.h>
#include <string.h>

#include <kernel/bootinfo.h>

#include "fakemem.h"
#include "unit.h"

#define MEM_PA	 0x100000ull
#define MEM_SIZE 0x10000u

/* Multiboot v1 layout (offsets into the info structure). */
#define MB1_INFO    (MEM_PA + 0x0)
#define MB1_CMDLINE (MEM_PA + 0x1000)
#define MB1_LOADER  (MEM_PA + 0x1800)
#define MB1_MMAP    (MEM_PA + 0x2000)
#define MB1_MODS    (MEM_PA + 0x4000)
#define MB1_MODSTR  (MEM_PA + 0x5000)

#define F_CMDLINE (1u << 2)
#define F_MODS	  (1u << 3)
#define F_MMAP	  (1u << 6)
#define F_LOADER  (1u << 9)

static void put32(uint64_t pa, uint32_t v)
{
	uint8_t *p = fakemem_ptr(pa, 4);

	if (!p)
		abort();
	memcpy(p, &v, 4);
}

static void put64(uint64_t pa, uint64_t v)
{
	uint8_t *p = fakemem_ptr(pa, 8);

	if (!p)
		abort();
	memcpy(p, &v, 8);
}

static void put_str(uint64_t pa, const char *s)
{
	uint8_t *p = fakemem_ptr(pa, strlen(s) + 1);

	if (!p)
		abort();
	memcpy(p, s, strlen(s) + 1);
}

static void mem_setup(void)
{
	fakemem_reset();
	fakemem_add(MEM_PA, MEM_SIZE);
}

/* Writes Multiboot v1 mmap entries with the given size field; returns the
 * byte length of the map. */
static uint32_t mb1_mmap(uint64_t pa, uint32_t size_field, const struct boot_mem_range *r,
			 unsigned n)
{
	for (unsigned i = 0; i < n; i++, pa += size_field + 4) {
		put32(pa, size_field);
		put64(pa + 4, r[i].base);
		put64(pa + 12, r[i].len);
		put32(pa + 20, r[i].type);
	}
	return n * (size_field + 4);
}

static void mb1_module(unsigned i, uint32_t start, uint32_t end, uint32_t str)
{
	put32(MB1_MODS + 16 * i, start);
	put32(MB1_MODS + 16 * i + 4, end);
	put32(MB1_MODS + 16 * i + 8, str);
}

static const struct boot_mem_range qemu_map[] = {
	{0x100000, 0x7ee0000, BOOT_MEM_USABLE},	  {0, 0x9fc00, BOOT_MEM_USABLE},
	{0xfffc0000, 0x40000, BOOT_MEM_RESERVED}, {0x9fc00, 0x400, BOOT_MEM_RESERVED},
	{0x7fe0000, 0x20000, BOOT_MEM_ACPI},
};

/* A complete, well-formed Multiboot v1 block. */
static void mb1_build_full(void)
{
	mem_setup();
	put32(MB1_INFO, F_CMDLINE | F_MODS | F_MMAP | F_LOADER);
	put_str(MB1_CMDLINE, "role=p console=ttyS0 ktest");
	put32(MB1_INFO + 16, MB1_CMDLINE);
	put_str(MB1_LOADER, "qemu");
	put32(MB1_INFO + 64, MB1_LOADER);
	put32(MB1_INFO + 44, mb1_mmap(MB1_MMAP, 20, qemu_map, 5));
	put32(MB1_INFO + 48, MB1_MMAP);
	put_str(MB1_MODSTR, "/boot/manifest.img ro");
	mb1_module(0, 0x200000, 0x201000, MB1_MODSTR);
	mb1_module(1, 0x300000, 0x300800, 0);
	put32(MB1_INFO + 20, 2);
	put32(MB1_INFO + 24, MB1_MODS);
}

static int parse1(struct bootinfo *bi)
{
	return bootinfo_parse(bi, MB1_BOOT_MAGIC, MB1_INFO, fakemem_read);
}

/* Properties every parse result must have, whatever the input. */
static void expect_sane(const struct bootinfo *bi)
{
	EXPECT_LE(bi->nmem, (unsigned)BOOT_MAX_RANGES);
	EXPECT_LE(bi->nmods, (unsigned)BOOT_MAX_MODULES);
	EXPECT_LT(strnlen(bi->cmdline, sizeof(bi->cmdline)), sizeof(bi->cmdline));
	EXPECT_LT(strnlen(bi->loader, sizeof(bi->loader)), sizeof(bi->loader));
	for (unsigned i = 0; i < bi->nmem && i < BOOT_MAX_RANGES; i++) {
		EXPECT_NE(bi->mem[i].len, 0u);
		if (i)
			EXPECT_LE(bi->mem[i - 1].base, bi->mem[i].base);
	}
	for (unsigned i = 0; i < bi->nmods && i < BOOT_MAX_MODULES; i++) {
		EXPECT_LE(bi->mods[i].start, bi->mods[i].end);
		EXPECT_LT(strnlen(bi->mods[i].cmdline, sizeof(bi->mods[i].cmdline)),
			  sizeof(bi->mods[i].cmdline));
	}
}

TEST(bootinfo_bad_magic)
{
	static const uint32_t magics[] = {0, 0x2BADB003, 0x36D76288, 0x1BADB002};
	struct bootinfo bi;

	mb1_build_full();
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		EXPECT_EQ(bootinfo_parse(&bi, magics[i], MB1_INFO, fakemem_read), -1);
	fakemem_reset();
}

TEST(bootinfo_mb1_full)
{
	struct bootinfo bi;

	mb1_build_full();
	memset(&bi, 0xee, sizeof(bi)); /* stale contents must be cleared */
	ASSERT_EQ(parse1(&bi), 0);
	EXPECT_EQ(bi.protocol, 1);
	EXPECT_STREQ(bi.cmdline, "role=p console=ttyS0 ktest");
	EXPECT_STREQ(bi.loader, "qemu");
	ASSERT_EQ(bi.nmem, 5u);
	/* Sorted by base. */
	EXPECT_EQ(bi.mem[0].base, 0u);
	EXPECT_EQ(bi.mem[0].len, 0x9fc00u);
	EXPECT_EQ(bi.mem[1].base, 0x9fc00u);
	EXPECT_EQ(bi.mem[1].type, (uint32_t)BOOT_MEM_RESERVED);
	EXPECT_EQ(bi.mem[2].base, 0x100000u);
	EXPECT_EQ(bi.mem[2].len, 0x7ee0000u);
	EXPECT_EQ(bi.mem[3].type, (uint32_t)BOOT_MEM_ACPI);
	EXPECT_EQ(bi.mem[4].base, 0xfffc0000u);
	EXPECT_EQ(bootinfo_usable_bytes(&bi), 0x9fc00u + 0x7ee0000u);
	ASSERT_EQ(bi.nmods, 2u);
	EXPECT_EQ(bi.mods[0].start, 0x200000u);
	EXPECT_EQ(bi.mods[0].end, 0x201000u);
	EXPECT_STREQ(bi.mods[0].cmdline, "/boot/manifest.img ro");
	EXPECT_EQ(bi.mods[1].end, 0x300800u);
	EXPECT_STREQ(bi.mods[1].cmdline, "");
	EXPECT_FALSE(bi.has_rsdp);
	EXPECT_EQ(bi.dropped, 0u);
	expect_sane(&bi);
	fakemem_reset();
}

TEST(bootinfo_mb1_flags_gate_fields)
{
	struct bootinfo bi;

	mb1_build_full();
	put32(MB1_INFO, 0);
	ASSERT_EQ(parse1(&bi), 0);
	EXPECT_EQ(bi.protocol, 1);
	EXPECT_STREQ(bi.cmdline, "");
	EXPECT_STREQ(bi.loader, "");
	EXPECT_EQ(bi.nmem, 0u);
	EXPECT_EQ(bi.nmods, 0u);
	fakemem_reset();
}

TEST(bootinfo_mb1_info_unreadable)
{
	struct bootinfo bi;

	mb1_build_full();
	EXPECT_EQ(bootinfo_parse(&bi, MB1_BOOT_MAGIC, 0x1000, fakemem_read), -1);
	/* Only 40 of the 88 bytes of the structure are in memory. */
	EXPECT_EQ(
		bootinfo_parse(&bi, MB1_BOOT_MAGIC, MEM_PA + MEM_SIZE - 40, fakemem_read),
		-1);
	EXPECT_EQ(bootinfo_parse(&bi, MB1_BOOT_MAGIC, UINT64_MAX - 8, fakemem_read), -1);
	fakemem_reset();
}

TEST(bootinfo_mb1_strings_bounded)
{
	struct bootinfo bi;
	char *longline = malloc(3000);

	ASSERT(longline);
	mb1_build_full();
	/* Pointer outside memory: empty string, no fault. */
	put32(MB1_INFO + 16, 0x5000);
	ASSERT_EQ(parse1(&bi), 0);
	EXPECT_STREQ(bi.cmdline, "");
	/* No terminator before memory ends: stops at the end. */
	memset(fakemem_ptr(MEM_PA + MEM_SIZE - 5, 5), 'z', 5);
	put32(MB1_INFO + 16, MEM_PA + MEM_SIZE - 5);
	ASSERT_EQ(parse1(&bi), 0);
	EXPECT_STREQ(bi.cmdline, "zzzzz");
	/* Longer than the buffers: truncated and terminated. */
	memset(longline, 'a', 2999);
	longline[2999] = '\0';
	put_str(MB1_CMDLINE, longline);
	put32(MB1_INFO + 16, MB1_CMDLINE);
	put32(MB1_INFO + 64, MB1_CMDLINE);
	ASSERT_EQ(parse1(&bi), 0);
	EXPECT_EQ(strlen(bi.cmdline), (size_t)BOOT_CMDLINE_MAX - 1);
	EXPECT_EQ(strlen(bi.loader), sizeof(bi.loader) - 1);
	expect_sane(&bi);
	free(longline);
	fakemem_reset();
}

TEST(bootinfo_mb1_mmap_entry_sizes)
{
	struct bootinfo bi;
	uint32_t len;

	/* A larger size field means padding after each entry. */
	mb1_build_full();
	len = mb1_mmap(MB1_MMAP, 28, qemu_map, 5);
	put32(MB1_INFO + 44, len);
	ASSERT_EQ(parse1(&bi), 0);
	EXPECT_EQ(bi.nmem, 5u);
	EXPECT_EQ(bootinfo_usable_bytes(&bi), 0x9fc00u + 0x7ee0000u);

	/* Too small to advance past an entry: the map is abandoned. */
	static const uint32_t bad_sizes[] = {0, 4, 19};

	for (size_t i = 0; i < 3; i++) {
		mb1_build_full();
		mb1_mmap(MB1_MMAP, 20, qemu_map, 5);
		put32(MB1_MMAP + 24, bad_sizes[i]); /* second entry */
		ASSERT_EQ(parse1(&bi), 0);
		EXPECT_EQ(bi.nmem, 1u);
		expect_sane(&bi);
	}

	/* A length that ends inside an entry: the partial entry is ignored. */
	mb1_build_full();
	put32(MB1_INFO + 44, 2 * 24 + 10);
	ASSERT_EQ(parse1(&bi), 0);
	EXPECT_EQ(bi.nmem, 2u);
	fakemem_reset();
}

TEST(bootinfo_mb1_mmap_out_of_memory)
{
	struct bootinfo bi;

	/* The map runs off the end of memory: entries up to the end only. */
	mb1_build_full();
	mb1_mmap(MEM_PA + MEM_SIZE - 48, 20, qemu_map, 2);
	put32(MB1_INFO + 48, MEM_PA + MEM_SIZE - 48);
	put32(MB1_INFO + 44, 0xffffffff);
	ASSERT_EQ(parse1(&bi), 0);
	EXPECT_EQ(bi.nmem, 2u);
	/* The map is nowhere. */
	put32(MB1_INFO + 48, 0x10);
	ASSERT_EQ(parse1(&bi), 0);
	EXPECT_EQ(bi.nmem, 0u);
	fakemem_reset();
}

TEST(bootinfo_mb1_mmap_overflow_and_zero_length)
{
	struct boot_mem_range r[BOOT_MAX_RANGES + 10];
	struct bootinfo bi;

	for (unsigned i = 0; i < BOOT_MAX_RANGES + 10; i++)
		r[i] = (struct boot_mem_range){(uint64_t)(100 - i) << 20,
					       i == 3 ? 0 : 0x1000, BOOT_MEM_USABLE};
	mb1_build_full();
	put32(MB1_INFO + 44, mb1_mmap(MB1_MMAP, 20, r, BOOT_MAX_RANGES + 10));
	ASSERT_EQ(parse1(&bi), 0);
	/* 73 non-empty ranges: 64 kept, 9 dropped, the empty one ignored. */
	EXPECT_EQ(bi.nmem, (unsigned)BOOT_MAX_RANGES);
	EXPECT_EQ(bi.dropped, 9u);
	EXPECT_EQ(bootinfo_usable_bytes(&bi), (uint64_t)BOOT_MAX_RANGES * 0x1000);
	expect_sane(&bi);
	fakemem_reset();
}

TEST(bootinfo_mb1_modules)
{
	struct bootinfo bi;
	char name[300];

	mb1_build_full();
	memset(name, 'm', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	put_str(MB1_MODSTR, name);
	mb1_module(1, 0x500000, 0x400000, 0); /* end before start */
	mb1_module(2, 0x600000, 0x600000, 0); /* empty is fine */
	put32(MB1_INFO + 20, 3);
	ASSERT_EQ(parse1(&bi), 0);
	ASSERT_EQ(bi.nmods, 2u);
	EXPECT_EQ(strlen(bi.mods[0].cmdline), sizeof(bi.mods[0].cmdline) - 1);
	EXPECT_EQ(bi.mods[1].start, 0x600000u);
	EXPECT_EQ(bi.dropped, 1u);

	/* Far more modules than fit: the count is not trusted for reads. */
	for (unsigned i = 0; i < 12; i++)
		mb1_module(i, 0x1000 * i, 0x1000 * i + 0x800, 0);
	put32(MB1_INFO + 20, 0xffffffff);
	ASSERT_EQ(parse1(&bi), 0);
	EXPECT_EQ(bi.nmods, (unsigned)BOOT_MAX_MODULES);
	EXPECT_GE(bi.dropped, 1u);
	EXPECT_LT(fakemem_reads(), 1000ul);
	expect_sane(&bi);

	/* The module list is out of memory. */
	put32(MB1_INFO + 24, MEM_PA + MEM_SIZE - 8);
	put32(MB1_INFO + 20, 4);
	ASSERT_EQ(parse1(&bi), 0);
	EXPECT_EQ(bi.nmods, 0u);
	fakemem_reset();
}

/* Multiboot2: a block assembled in a local buffer, then copied in. */
#define MB2_INFO (MEM_PA + 0x8000)

struct mb2 {
	uint8_t b[8192];
	uint32_t len;
};

static void mb2_init(struct mb2 *m)
{
	memset(m, 0, sizeof(*m));
	m->len = 8;
}

/* Appends a tag with the given size field (normally 8 + n) and payload. */
static void mb2_tag_sized(struct mb2 *m, uint32_t type, uint32_t size,
			  const void *payload, uint32_t n)
{
	memcpy(m->b + m->len, &type, 4);
	memcpy(m->b + m->len + 4, &size, 4);
	if (n)
		memcpy(m->b + m->len + 8, payload, n);
	m->len += (8 + n + 7) & ~7u;
}

static void mb2_tag(struct mb2 *m, uint32_t type, const void *payload, uint32_t n)
{
	mb2_tag_sized(m, type, 8 + n, payload, n);
}

static void mb2_str_tag(struct mb2 *m, uint32_t type, const char *s)
{
	mb2_tag(m, type, s, (uint32_t)strlen(s) + 1);
}

static void mb2_module_tag(struct mb2 *m, uint32_t start, uint32_t end, const char *s)
{
	uint8_t p[256];

	memcpy(p, &start, 4);
	memcpy(p + 4, &end, 4);
	strcpy((char *)p + 8, s);
	mb2_tag(m, 3, p, 8 + (uint32_t)strlen(s) + 1);
}

static void mb2_mmap_tag(struct mb2 *m, uint32_t esize, const struct boot_mem_range *r,
			 unsigned n)
{
	uint8_t p[2048] = {0};
	uint32_t version = 0;

	memcpy(p, &esize, 4);
	memcpy(p + 4, &version, 4);
	for (unsigned i = 0; i < n; i++) {
		memcpy(p + 8 + i * esize, &r[i].base, 8);
		memcpy(p + 16 + i * esize, &r[i].len, 8);
		memcpy(p + 24 + i * esize, &r[i].type, 4);
	}
	mb2_tag(m, 6, p, 8 + n * esize);
}

/* Adds the end tag, sets the total size and copies the block in. */
static void mb2_finish(struct mb2 *m)
{
	mb2_tag(m, 0, NULL, 0);
	memcpy(m->b, &m->len, 4);
	mem_setup();
	memcpy(fakemem_ptr(MB2_INFO, m->len), m->b, m->len);
}

static int parse2(struct bootinfo *bi)
{
	return bootinfo_parse(bi, MB2_BOOT_MAGIC, MB2_INFO, fakemem_read);
}

static const uint8_t rsdp_v2[36] = "RSD PTR \x42TESSER\x02";

static void mb2_build_full(struct mb2 *m)
{
	mb2_init(m);
	mb2_str_tag(m, 1, "role=m node=2");
	mb2_str_tag(m, 2, "GRUB 2.06");
	mb2_module_tag(m, 0x400000, 0x480000, "initrd");
	mb2_mmap_tag(m, 24, qemu_map, 5);
	mb2_module_tag(m, 0x500000, 0x500100, "");
	mb2_tag(m, 15, rsdp_v2, 36);
}

TEST(bootinfo_mb2_full)
{
	struct mb2 m;
	struct bootinfo bi;

	mb2_build_full(&m);
	mb2_finish(&m);
	memset(&bi, 0xee, sizeof(bi));
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT_EQ(bi.protocol, 2);
	EXPECT_STREQ(bi.cmdline, "role=m node=2");
	EXPECT_STREQ(bi.loader, "GRUB 2.06");
	ASSERT_EQ(bi.nmods, 2u);
	EXPECT_EQ(bi.mods[0].start, 0x400000u);
	EXPECT_EQ(bi.mods[0].end, 0x480000u);
	EXPECT_STREQ(bi.mods[0].cmdline, "initrd");
	EXPECT_STREQ(bi.mods[1].cmdline, "");
	ASSERT_EQ(bi.nmem, 5u);
	EXPECT_EQ(bi.mem[0].base, 0u);
	EXPECT_EQ(bi.mem[4].base, 0xfffc0000u);
	EXPECT_EQ(bootinfo_usable_bytes(&bi), 0x9fc00u + 0x7ee0000u);
	EXPECT(bi.has_rsdp);
	EXPECT_MEMEQ(bi.rsdp, rsdp_v2, 36);
	EXPECT_EQ(bi.dropped, 0u);
	expect_sane(&bi);
	fakemem_reset();
}

TEST(bootinfo_mb2_acpi_tags)
{
	static const uint8_t zero[16];
	struct mb2 m;
	struct bootinfo bi;

	/* The old tag alone: a 20-byte ACPI 1.0 RSDP; the rest stays 0. */
	mb2_init(&m);
	mb2_tag(&m, 14, "RSD PTR \x11OEMID!\x00\x00\x10\x00\x00", 20);
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT(bi.has_rsdp);
	EXPECT_MEMEQ(bi.rsdp, "RSD PTR \x11OEMID!", 15);
	EXPECT_MEMEQ(bi.rsdp + 20, zero, 16);

	/* Both: the ACPI 2.0 RSDP wins, whichever comes first. */
	for (int new_first = 0; new_first < 2; new_first++) {
		mb2_init(&m);
		if (new_first)
			mb2_tag(&m, 15, rsdp_v2, 36);
		mb2_tag(&m, 14, "RSD PTR \x11OEMID!\x00\x00\x10\x00\x00", 20);
		if (!new_first)
			mb2_tag(&m, 15, rsdp_v2, 36);
		mb2_finish(&m);
		ASSERT_EQ(parse2(&bi), 0);
		EXPECT(bi.has_rsdp);
		EXPECT_MEMEQ(bi.rsdp, rsdp_v2, 36);
	}

	/* Too short to hold an RSDP. */
	mb2_init(&m);
	mb2_tag(&m, 15, rsdp_v2, 19);
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT_FALSE(bi.has_rsdp);

	/* Longer than 36 bytes: only 36 are kept. */
	mb2_init(&m);
	mb2_tag(&m, 15, "RSD PTR 0123456789012345678901234567890123456789", 48);
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT(bi.has_rsdp);
	EXPECT_MEMEQ(bi.rsdp, "RSD PTR 0123456789012345678901234567", 36);
	fakemem_reset();
}

TEST(bootinfo_mb2_zero_size_tag)
{
	struct mb2 m;
	struct bootinfo bi;

	mb2_init(&m);
	mb2_str_tag(&m, 1, "before");
	mb2_tag_sized(&m, 4, 0, "\0\0\0\0\0\0\0\0", 8);
	mb2_str_tag(&m, 2, "after");
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT_STREQ(bi.cmdline, "before");
	EXPECT_STREQ(bi.loader, ""); /* parsing stopped at the bad tag */
	fakemem_reset();
}

TEST(bootinfo_mb2_tag_past_end)
{
	struct mb2 m;
	struct bootinfo bi;

	mb2_init(&m);
	mb2_str_tag(&m, 2, "loader");
	mb2_tag_sized(&m, 1, 4096, "cmd", 4); /* claims far more than there is */
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT_STREQ(bi.loader, "loader");
	EXPECT_STREQ(bi.cmdline, "");

	/* Every tag size from 0 to past the end on the last tag. */
	for (uint32_t size = 0; size < 64; size++) {
		mb2_init(&m);
		mb2_str_tag(&m, 2, "x");
		mb2_tag_sized(&m, 1, size, "abcdefghijklmnop", 16);
		memcpy(m.b, &m.len, 4); /* no end tag: it is the last tag */
		mem_setup();
		memcpy(fakemem_ptr(MB2_INFO, m.len), m.b, m.len);
		ASSERT_EQ(parse2(&bi), 0);
		EXPECT_STREQ(bi.loader, "x");
		expect_sane(&bi);
	}
	fakemem_reset();
}

TEST(bootinfo_mb2_total_size)
{
	struct mb2 m;
	struct bootinfo bi;
	uint32_t sizes[] = {0, 8, 15, (1u << 20) + 8, 0xffffffff, MEM_SIZE};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		mb2_build_full(&m);
		mb2_finish(&m);
		put32(MB2_INFO, sizes[i]);
		EXPECT_EQ(parse2(&bi), -1); /* too small, too big, past memory */
	}
	/* The header itself is not readable. */
	mem_setup();
	EXPECT_EQ(
		bootinfo_parse(&bi, MB2_BOOT_MAGIC, MEM_PA + MEM_SIZE - 4, fakemem_read),
		-1);
	/* The smallest valid block: just the end tag. */
	mb2_init(&m);
	mb2_finish(&m);
	EXPECT_EQ(m.len, 16u);
	EXPECT_EQ(parse2(&bi), 0);
	EXPECT_EQ(bi.nmem, 0u);
	fakemem_reset();
}

TEST(bootinfo_mb2_mmap_entry_sizes)
{
	struct mb2 m;
	struct bootinfo bi;

	/* Larger entries than ours: stride by entry_size. */
	mb2_init(&m);
	mb2_mmap_tag(&m, 40, qemu_map, 5);
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT_EQ(bi.nmem, 5u);
	EXPECT_EQ(bootinfo_usable_bytes(&bi), 0x9fc00u + 0x7ee0000u);

	/* Entry sizes that cannot hold an entry: the map is ignored. */
	static const uint32_t small[] = {0, 1, 8, 20, 23};

	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		mb2_init(&m);
		mb2_mmap_tag(&m, 24, qemu_map, 5);
		memcpy(m.b + 8 + 8, &small[i], 4);
		mb2_finish(&m);
		ASSERT_EQ(parse2(&bi), 0);
		EXPECT_EQ(bi.nmem, 0u);
	}

	/* A tag too short for its own header fields. */
	mb2_init(&m);
	mb2_tag(&m, 6, "\x18\0\0\0", 4);
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT_EQ(bi.nmem, 0u);

	/* A size that is not a multiple of the entry size. */
	mb2_init(&m);
	mb2_mmap_tag(&m, 24, qemu_map, 3);
	memcpy(m.b + 8 + 4, &(uint32_t){16 + 3 * 24 - 5}, 4);
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT_EQ(bi.nmem, 2u);
	fakemem_reset();
}

TEST(bootinfo_mb2_mmap_huge_entry_size)
{
	static const uint32_t huge[] = {0xffffffff, 0xfffffff8, 0xfffffff0, 0x80000000,
					0x7fffffff};
	struct mb2 m;
	struct bootinfo bi;

	/* The map is the last tag, ending where the block ends, with no
	 * entries or one: an entry size that wraps 32-bit offsets must
	 * neither read past the tag nor invent entries. */
	for (unsigned n = 0; n < 2; n++)
		for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
			mb2_init(&m);
			mb2_mmap_tag(&m, 24, qemu_map, n);
			memcpy(m.b + 8 + 8, &huge[i], 4);
			memcpy(m.b, &m.len, 4); /* no end tag */
			mem_setup();
			memcpy(fakemem_ptr(MB2_INFO, m.len), m.b, m.len);
			ASSERT_EQ(parse2(&bi), 0);
			if (!EXPECT_EQ(bi.nmem, 0u))
				unit_diag("%u entries, entry size %#x", n, huge[i]);
			expect_sane(&bi);
		}
	fakemem_reset();
}

TEST(bootinfo_mb2_strings_bounded)
{
	struct mb2 m;
	struct bootinfo bi;
	char big[1500];

	/* No NUL inside the tag: the tag's size bounds the string. */
	mb2_init(&m);
	mb2_tag(&m, 1, "abcdefgh", 8);
	mb2_tag(&m, 2, "ijklmnop", 5);
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT_STREQ(bi.cmdline, "abcdefgh");
	EXPECT_STREQ(bi.loader, "ijklm");

	/* Empty payloads. */
	mb2_init(&m);
	mb2_tag(&m, 1, NULL, 0);
	mb2_tag(&m, 3, "\0\0\x10\0\0\0\x20\0", 8); /* module, no name at all */
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT_STREQ(bi.cmdline, "");
	ASSERT_EQ(bi.nmods, 1u);
	EXPECT_EQ(bi.mods[0].start, 0x100000u);
	EXPECT_EQ(bi.mods[0].end, 0x200000u);
	EXPECT_STREQ(bi.mods[0].cmdline, "");

	/* Too long: truncated to the buffers. */
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mb2_init(&m);
	mb2_str_tag(&m, 1, big);
	mb2_str_tag(&m, 2, big);
	mb2_module_tag(&m, 0, 1, big + 1300);
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT_EQ(strlen(bi.cmdline), (size_t)BOOT_CMDLINE_MAX - 1);
	EXPECT_EQ(strlen(bi.loader), sizeof(bi.loader) - 1);
	EXPECT_EQ(strlen(bi.mods[0].cmdline), sizeof(bi.mods[0].cmdline) - 1);
	expect_sane(&bi);
	fakemem_reset();
}

TEST(bootinfo_mb2_unknown_tags_and_end)
{
	struct mb2 m;
	struct bootinfo bi;

	mb2_init(&m);
	mb2_tag(&m, 4, "\x80\x02\0\0\0\xfc\x1f\0", 8); /* basic meminfo */
	mb2_tag(&m, 21, "abc", 3);		       /* size 11: padded */
	mb2_tag(&m, 0x1234, "x", 1);
	mb2_str_tag(&m, 1, "found");
	mb2_tag(&m, 0, NULL, 0); /* end: what follows is not read */
	mb2_str_tag(&m, 2, "hidden");
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT_STREQ(bi.cmdline, "found");
	EXPECT_STREQ(bi.loader, "");
	fakemem_reset();
}

TEST(bootinfo_mb2_modules)
{
	struct mb2 m;
	struct bootinfo bi;

	mb2_init(&m);
	mb2_tag(&m, 3, "\0\0\x10\0", 4);	       /* too short for start/end */
	mb2_module_tag(&m, 0x300000, 0x200000, "bad"); /* end before start */
	for (unsigned i = 0; i < BOOT_MAX_MODULES + 3; i++)
		mb2_module_tag(&m, 0x1000 * i, 0x1000 * i + 1, "m");
	mb2_finish(&m);
	ASSERT_EQ(parse2(&bi), 0);
	EXPECT_EQ(bi.nmods, (unsigned)BOOT_MAX_MODULES);
	EXPECT_EQ(bi.dropped, 4u); /* the reversed one and 3 extra */
	EXPECT_EQ(bi.mods[0].start, 0u);
	EXPECT_STREQ(bi.mods[7].cmdline, "m");
	fakemem_reset();
}

TEST(bootinfo_mem_type_names)
{
	struct bootinfo bi = {.nmem = 4};

	EXPECT_STREQ(boot_mem_type_name(BOOT_MEM_USABLE), "usable");
	EXPECT_STREQ(boot_mem_type_name(BOOT_MEM_RESERVED), "reserved");
	EXPECT_STREQ(boot_mem_type_name(BOOT_MEM_ACPI), "ACPI data");
	EXPECT_STREQ(boot_mem_type_name(BOOT_MEM_NVS), "ACPI NVS");
	EXPECT_STREQ(boot_mem_type_name(BOOT_MEM_BAD), "bad");
	EXPECT_STREQ(boot_mem_type_name(0), "reserved");
	EXPECT_STREQ(boot_mem_type_name(12), "reserved");
	bi.mem[0] = (struct boot_mem_range){0, 100, BOOT_MEM_USABLE};
	bi.mem[1] = (struct boot_mem_range){100, 50, 7}; /* unknown */
	bi.mem[2] = (struct boot_mem_range){200, 1000, BOOT_MEM_USABLE};
	bi.mem[3] = (struct boot_mem_range){2000, 3, BOOT_MEM_NVS};
	EXPECT_EQ(bootinfo_usable_bytes(&bi), 1100u);
}

/* Flips random bytes of a valid block many times: never a fault (ASan),
 * never an insane result. */
static void corrupt_and_parse(uint32_t magic, uint64_t info, uint64_t lo, uint32_t span,
			      struct unit_rng *rng)
{
	struct bootinfo bi;
	uint8_t *p = fakemem_ptr(lo, span);
	unsigned flips = 1 + (unsigned)unit_rand_below(rng, 4);

	for (unsigned i = 0; i < flips; i++) {
		uint32_t at = (uint32_t)unit_rand_below(rng, span);

		p[at] = (uint8_t)unit_rand(rng);
		if (unit_rand(rng) & 1) /* also try interesting values */
			p[at & ~3u] = (uint8_t[]){0, 8, 0xff, 24}[at & 3];
	}
	if (bootinfo_parse(&bi, magic, info, fakemem_read) == 0)
		expect_sane(&bi);
}

TEST(bootinfo_random_corruption)
{
	struct unit_rng rng = {0x5eed};
	struct mb2 m;

	for (int i = 0; i < 1500 && !unit_failed(); i++) {
		mb1_build_full();
		corrupt_and_parse(MB1_BOOT_MAGIC, MB1_INFO, MB1_INFO, 88, &rng);
		mb1_build_full();
		corrupt_and_parse(MB1_BOOT_MAGIC, MB1_INFO, MB1_MMAP, 5 * 24, &rng);
		mb2_build_full(&m);
		mb2_finish(&m);
		corrupt_and_parse(MB2_BOOT_MAGIC, MB2_INFO, MB2_INFO, m.len, &rng);
	}
	fakemem_reset();
}
