/*
 * Tests of the ELF decoder (mcomponent/elf.c) on headers built in memory:
 * a static executable laid out like musl's and glibc's (R, RX, R, RW with
 * bss), a static-PIE, then one broken field at a time, each of which must
 * give -ENOEXEC while the same image with the field fixed decodes; a
 * dynamic executable's PT_INTERP and its interpreter (ELF_INTERP) placed
 * below ELF_INTERP_TOP.
 */
#include "../../mcomponent/elf.h"
#include "unit.h"

#include <errno.h>
#include <string.h>

#define FILE_SIZE 0x10000ull

struct img {
	uint8_t b[4096];
	unsigned phnum;
};

static void w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void w32(uint8_t *p, uint32_t v)
{
	w16(p, (uint16_t)v);
	w16(p + 2, (uint16_t)(v >> 16));
}

static void w64(uint8_t *p, uint64_t v)
{
	w32(p, (uint32_t)v);
	w32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t *ph(struct img *m, unsigned i)
{
	return m->b + 64 + i * 56;
}

static void add_ph(struct img *m, uint32_t type, uint32_t flags, uint64_t off,
		   uint64_t vaddr, uint64_t filesz, uint64_t memsz)
{
	uint8_t *p = ph(m, m->phnum++);

	w32(p, type);
	w32(p + 4, flags);
	w64(p + 8, off);
	w64(p + 16, vaddr);
	w64(p + 24, vaddr);
	w64(p + 32, filesz);
	w64(p + 40, memsz);
	w64(p + 48, 0x1000);
	w16(m->b + 56, (uint16_t)m->phnum);
}

/* musl's static layout: R (headers), RX, R, RW with bss. */
static void make_exec(struct img *m, uint16_t type, uint64_t base)
{
	static const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1};

	memset(m, 0, sizeof(*m));
	memcpy(m->b, ident, 16);
	w16(m->b + 16, type);
	w16(m->b + 18, 62);
	w32(m->b + 20, 1);
	w64(m->b + 24, base + 0x1010); /* entry */
	w64(m->b + 32, 64);	       /* phoff */
	w16(m->b + 52, 64);
	w16(m->b + 54, 56);
	add_ph(m, 1, 4, 0, base, 0x190, 0x190);
	add_ph(m, 1, 5, 0x1000, base + 0x1000, 0x82c, 0x82c);
	add_ph(m, 1, 4, 0x2000, base + 0x2000, 0x4c, 0x4c);
	add_ph(m, 1, 6, 0x2fd0, base + 0x3fd0, 0x40, 0x2a8);
	add_ph(m, 0x6474e551, 6, 0, 0, 0, 0); /* GNU_STACK */
}

static int decode(struct img *m, struct elf_image *out)
{
	return elf_decode(m->b, sizeof(m->b), FILE_SIZE, ELF_MAIN, out);
}

static int decode_interp(struct img *m, struct elf_image *out)
{
	return elf_decode(m->b, sizeof(m->b), FILE_SIZE, ELF_INTERP, out);
}

TEST(elf_static_exec)
{
	struct img m;
	struct elf_image e;

	make_exec(&m, 2, 0x400000);
	ASSERT_EQ(decode(&m, &e), 0);
	EXPECT_EQ(e.bias, 0u);
	EXPECT_EQ(e.entry, 0x401010u);
	EXPECT_EQ(e.nsegs, 4u);
	EXPECT_EQ(e.phnum, 5u);
	EXPECT_EQ(e.phentsize, 56u);
	EXPECT_EQ(e.phdr, 0x400040u); /* from the segment holding e_phoff */
	EXPECT_EQ(e.end, 0x403fd0u + 0x2a8);
	EXPECT_EQ(e.segs[1].prot, (uint32_t)(ELF_PROT_READ | ELF_PROT_EXEC));
	EXPECT_EQ(e.segs[3].prot, (uint32_t)(ELF_PROT_READ | ELF_PROT_WRITE));
	EXPECT_EQ(e.segs[3].offset, 0x2fd0u);
	EXPECT_EQ(e.segs[3].filesz, 0x40u);
	EXPECT_EQ(e.segs[3].memsz, 0x2a8u);
	EXPECT_EQ(elf_headers_size(m.b, sizeof(m.b), FILE_SIZE), 64 + 5 * 56);
}

TEST(elf_static_pie_and_pt_phdr)
{
	struct img m;
	struct elf_image e;

	make_exec(&m, 3, 0);
	/* vaddr 0 is fine for ET_DYN: relocated by the bias */
	add_ph(&m, 6, 4, 64, 64, 6 * 56, 6 * 56); /* PT_PHDR */
	ASSERT_EQ(decode(&m, &e), 0);
	EXPECT_EQ(e.bias, ELF_PIE_BIAS);
	EXPECT_EQ(e.entry, ELF_PIE_BIAS + 0x1010);
	EXPECT_EQ(e.phdr, ELF_PIE_BIAS + 64);
	EXPECT_EQ(e.segs[0].vaddr, ELF_PIE_BIAS);
	/* the same as ET_EXEC at 0 is below user space */
	w16(m.b + 16, 2);
	EXPECT_EQ(decode(&m, &e), -ENOEXEC);
}

/* One broken field at a time. */
TEST(elf_bad_headers)
{
	struct img m;
	struct elf_image e;
	struct {
		unsigned at, size;
		uint64_t value;
	} bad[] = {
		{0, 1, 0x7e},	   /* magic */
		{4, 1, 1},	   /* ELFCLASS32 */
		{5, 1, 2},	   /* big-endian */
		{6, 1, 0},	   /* ident version */
		{16, 2, 1},	   /* ET_REL */
		{16, 2, 4},	   /* ET_CORE */
		{18, 2, 3},	   /* EM_386 */
		{20, 4, 2},	   /* e_version */
		{24, 8, 0x400100}, /* entry in a non-exec segment */
		{24, 8, 0x409000}, /* entry outside everything */
		{32, 8, FILE_SIZE}, /* phoff: table outside the file */
		{32, 8, ~0ull - 10}, /* phoff overflowing */
		{52, 2, 52},	   /* e_ehsize */
		{54, 2, 32},	   /* e_phentsize */
		{56, 2, 0},	   /* phnum 0 */
		{56, 2, ELF_MAX_PHDRS + 1},
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_exec(&m, 2, 0x400000);
		ASSERT_EQ(decode(&m, &e), 0);
		if (bad[i].size == 1)
			m.b[bad[i].at] = (uint8_t)bad[i].value;
		else if (bad[i].size == 2)
			w16(m.b + bad[i].at, (uint16_t)bad[i].value);
		else if (bad[i].size == 4)
			w32(m.b + bad[i].at, (uint32_t)bad[i].value);
		else
			w64(m.b + bad[i].at, bad[i].value);
		if (!EXPECT_EQ(decode(&m, &e), -ENOEXEC))
			unit_diag("bad field %u (offset %u) accepted", i, bad[i].at);
	}
	/* too short a buffer */
	make_exec(&m, 2, 0x400000);
	EXPECT_EQ(elf_decode(m.b, 63, FILE_SIZE, ELF_MAIN, &e), -ENOEXEC);
	EXPECT_EQ(elf_decode(m.b, 64 + 56, FILE_SIZE, ELF_MAIN, &e), -ENOEXEC);
}

/* One broken program header at a time (segment 3: the RW one). */
TEST(elf_bad_segments)
{
	struct img m;
	struct elf_image e;
	struct {
		unsigned field; /* offset in the phdr */
		uint64_t value;
	} bad[] = {
		{32, 0x2a9},		   /* filesz > memsz */
		{8, FILE_SIZE},		   /* offset + filesz beyond the file */
		{8, ~0ull - 0x10},	   /* offset + filesz overflowing */
		{8, 0x2fd8},		   /* offset and vaddr not congruent */
		{16, 0x402fd0},		   /* shares a page with segment 2 */
		{16, 0x3fd0},		   /* below user space: also out of order */
		{16, ELF_USER_HIGH - 0x30}, /* ends above the user limit */
		{16, ~0ull - 0x2f},	   /* vaddr + memsz overflowing */
		{40, ~0ull - 0x1000},	   /* memsz overflowing */
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_exec(&m, 2, 0x400000);
		w64(ph(&m, 3) + bad[i].field, bad[i].value);
		if (!EXPECT_EQ(decode(&m, &e), -ENOEXEC))
			unit_diag("bad segment field %u accepted", i);
	}
	/* segments out of order */
	make_exec(&m, 2, 0x400000);
	w32(ph(&m, 0), 0x6474e551); /* drop the first so we can move one */
	w64(ph(&m, 4), 0);
	add_ph(&m, 1, 4, 0, 0x400000, 0x190, 0x190);
	EXPECT_EQ(decode(&m, &e), -ENOEXEC);
	/* no PT_LOAD at all (memsz 0 ones are skipped) */
	make_exec(&m, 2, 0x400000);
	for (unsigned i = 0; i < 4; i++) {
		w64(ph(&m, i) + 32, 0);
		w64(ph(&m, i) + 40, 0);
	}
	EXPECT_EQ(decode(&m, &e), -ENOEXEC);
	/* more PT_LOADs than ELF_MAX_SEGMENTS */
	make_exec(&m, 2, 0x400000);
	for (unsigned i = 0; i < ELF_MAX_SEGMENTS; i++)
		add_ph(&m, 1, 4, 0, 0x500000 + i * 0x1000, 0x10, 0x10);
	EXPECT_EQ(decode(&m, &e), -ENOEXEC);
}

TEST(elf_phdr_not_mapped)
{
	struct img m;
	struct elf_image e;

	make_exec(&m, 2, 0x400000);
	w64(ph(&m, 0) + 32, 0x40); /* the first segment's file bytes stop before the table */
	w64(ph(&m, 0) + 40, 0x40);
	ASSERT_EQ(decode(&m, &e), 0);
	EXPECT_EQ(e.phdr, 0u);
	/* a PT_PHDR outside every segment is not believed */
	make_exec(&m, 2, 0x400000);
	add_ph(&m, 6, 4, 64, 0x700000, 6 * 56, 6 * 56);
	ASSERT_EQ(decode(&m, &e), 0);
	EXPECT_EQ(e.phdr, 0x400040u);
}

/* A dynamic executable: PT_INTERP's place reported, the first one
 * counting; bad ones refused. */
TEST(elf_pt_interp)
{
	struct img m;
	struct elf_image e;

	make_exec(&m, 3, 0);
	add_ph(&m, 3, 4, 0x1c8, 0x1c8, 0x1c, 0x1c);
	ASSERT_EQ(decode(&m, &e), 0);
	EXPECT_EQ(e.bias, ELF_PIE_BIAS);
	EXPECT_EQ(e.interp_offset, 0x1c8u);
	EXPECT_EQ(e.interp_size, 0x1cu);
	EXPECT_EQ(e.start, ELF_PIE_BIAS);
	add_ph(&m, 3, 4, 0x300, 0x300, 0x10, 0x10); /* a second: ignored, as Linux */
	ASSERT_EQ(decode(&m, &e), 0);
	EXPECT_EQ(e.interp_offset, 0x1c8u);
	/* ET_EXEC with one */
	make_exec(&m, 2, 0x400000);
	add_ph(&m, 3, 4, 0x1c8, 0x4001c8, 0x1c, 0x1c);
	ASSERT_EQ(decode(&m, &e), 0);
	EXPECT_EQ(e.bias, 0u);
	EXPECT_EQ(e.interp_size, 0x1cu);
	/* none: size 0 */
	make_exec(&m, 2, 0x400000);
	ASSERT_EQ(decode(&m, &e), 0);
	EXPECT_EQ(e.interp_size, 0u);
	/* sizes 0, 1 and ELF_INTERP_MAX + 1, a range past the file or overflowing */
	{
		static const uint64_t bad[][2] = {
			{0x1c8, 0}, {0x1c8, 1}, {0x1c8, ELF_INTERP_MAX + 1},
			{FILE_SIZE - 4, 8}, {FILE_SIZE + 1, 2}, {~0ull - 2, 8},
		};

		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			make_exec(&m, 2, 0x400000);
			add_ph(&m, 3, 4, bad[i][0], 0x4001c8, bad[i][1], bad[i][1]);
			if (!EXPECT_EQ(decode(&m, &e), -ENOEXEC))
				unit_diag("bad PT_INTERP %u accepted", i);
		}
	}
	make_exec(&m, 2, 0x400000);
	add_ph(&m, 3, 4, 0x1c8, 0x4001c8, ELF_INTERP_MAX, ELF_INTERP_MAX);
	EXPECT_EQ(decode(&m, &e), 0);
}

/* An interpreter: ET_DYN only, no PT_INTERP, its last page ending at
 * ELF_INTERP_TOP; the segment checks as for any image. */
TEST(elf_interp_image)
{
	struct img m;
	struct elf_image e;
	uint64_t bias = ELF_INTERP_TOP - 0x4000; /* the RW segment ends at 0x4278 */

	make_exec(&m, 3, 0);
	ASSERT_EQ(decode_interp(&m, &e), 0);
	EXPECT_EQ(e.bias, bias - 0x1000);
	EXPECT_EQ(e.start, bias - 0x1000);
	EXPECT_EQ(e.segs[0].vaddr, bias - 0x1000);
	EXPECT_EQ(e.entry, bias - 0x1000 + 0x1010);
	EXPECT_EQ(e.end, bias - 0x1000 + 0x3fd0 + 0x2a8);
	EXPECT_EQ(e.interp_size, 0u);
	/* linked away from 0: still ends at the top */
	make_exec(&m, 3, 0x200000);
	ASSERT_EQ(decode_interp(&m, &e), 0);
	EXPECT_EQ(e.segs[0].vaddr, bias - 0x1000);
	EXPECT_EQ(e.bias, bias - 0x1000 - 0x200000);
	/* ET_EXEC, or a PT_INTERP of its own */
	make_exec(&m, 2, 0x400000);
	EXPECT_EQ(decode_interp(&m, &e), -ENOEXEC);
	make_exec(&m, 3, 0);
	add_ph(&m, 3, 4, 0x1c8, 0x1c8, 0x1c, 0x1c);
	EXPECT_EQ(decode_interp(&m, &e), -ENOEXEC);
	/* a segment whose end overflows, or one too big to fit below the top */
	make_exec(&m, 3, 0);
	w64(ph(&m, 3) + 40, ~0ull - 0x1000);
	EXPECT_EQ(decode_interp(&m, &e), -ENOEXEC);
	make_exec(&m, 3, 0);
	w64(ph(&m, 3) + 40, ELF_INTERP_TOP);
	EXPECT_EQ(decode_interp(&m, &e), -ENOEXEC);
	/* a bad header field is still refused */
	make_exec(&m, 3, 0);
	w16(m.b + 18, 183);
	EXPECT_EQ(decode_interp(&m, &e), -ENOEXEC);
}
