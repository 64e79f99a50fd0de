/*
 * libFuzzer target for the ELF decoder (mcomponent/elf.c), whose input
 * is any file a user asks to execute.
 *
 * Input: the first byte picks how the rest is read and the role (bit 1:
 * ELF_INTERP, else ELF_MAIN). Bit 0 clear: the rest is the
 * file itself (its size is the file size). Odd: the rest is XORed over a
 * built-in valid static executable's first 1 KiB (header, program
 * headers), so that mutations start from an image the decoder accepts
 * and reach the per-segment and layout checks at once without a seed
 * corpus; the file size is then taken from the second byte (in 4 KiB
 * units, at least 1).
 *
 * Whatever decodes must be loadable: segments ascending with no page
 * shared, each inside user space with its file bytes inside the file and
 * filesz <= memsz, the entry inside an executable segment, AT_PHDR either
 * 0 or inside a segment, and elf_headers_size() no more than the input;
 * an executable's PT_INTERP path inside the file and 2..ELF_INTERP_MAX
 * bytes; an interpreter without one, its last page ending at
 * ELF_INTERP_TOP. Anything else aborts.
 */
#include "../../mcomponent/elf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define TEMPLATE 1024

static void w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void w64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void ph(uint8_t *p, uint32_t type, uint32_t flags, uint64_t off, uint64_t va,
	       uint64_t filesz, uint64_t memsz)
{
	w64(p, (uint64_t)flags << 32 | type);
	w64(p + 8, off);
	w64(p + 16, va);
	w64(p + 24, va);
	w64(p + 32, filesz);
	w64(p + 40, memsz);
	w64(p + 48, 0x1000);
}

static void template_image(uint8_t *b)
{
	static const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1};

	memset(b, 0, TEMPLATE);
	memcpy(b, ident, 16);
	w16(b + 16, 2);
	w16(b + 18, 62);
	b[20] = 1;
	w64(b + 24, 0x401010);
	w64(b + 32, 64);
	w16(b + 52, 64);
	w16(b + 54, 56);
	w16(b + 56, 6);
	ph(b + 64, 6, 4, 64, 0x400040, 6 * 56, 6 * 56); /* PT_PHDR */
	ph(b + 120, 1, 4, 0, 0x400000, 0x190, 0x190);
	ph(b + 176, 1, 5, 0x1000, 0x401000, 0x82c, 0x82c);
	ph(b + 232, 1, 4, 0x2000, 0x402000, 0x4c, 0x4c);
	ph(b + 288, 1, 6, 0x2fd0, 0x403fd0, 0x40, 0x2a8);
	ph(b + 344, 0x6474e551, 6, 0, 0, 0, 0);
}

/* What the role adds: the PT_INTERP path's place, or the interpreter's. */
static void check_role(const struct elf_image *e, uint64_t file_size, enum elf_role role)
{
	uint64_t top = (e->end + ELF_PAGE - 1) & ~(ELF_PAGE - 1);

	if (e->start != (e->segs[0].vaddr & ~(ELF_PAGE - 1)))
		abort();
	if (role == ELF_INTERP && (e->interp_size || top != ELF_INTERP_TOP))
		abort();
	if (e->interp_size && (e->interp_size < 2 || e->interp_size > ELF_INTERP_MAX ||
			       e->interp_offset > file_size ||
			       e->interp_size > file_size - e->interp_offset))
		abort();
}

static void check(const struct elf_image *e, uint64_t file_size, enum elf_role role)
{
	bool entry_ok = false, phdr_ok = e->phdr == 0;

	if (e->nsegs == 0 || e->nsegs > ELF_MAX_SEGMENTS || e->phentsize != ELF_PHDR_SIZE)
		abort();
	for (unsigned i = 0; i < e->nsegs; i++) {
		const struct elf_segment *s = &e->segs[i];
		uint64_t end = s->vaddr + s->memsz;

		if (s->filesz > s->memsz || end < s->vaddr || s->vaddr < ELF_USER_LOW ||
		    end > ELF_USER_HIGH || s->offset + s->filesz < s->offset ||
		    s->offset + s->filesz > file_size)
			abort();
		if (i && (e->segs[i - 1].vaddr + e->segs[i - 1].memsz - 1) / ELF_PAGE >=
			     s->vaddr / ELF_PAGE)
			abort();
		if ((s->prot & ELF_PROT_EXEC) && e->entry >= s->vaddr && e->entry < end)
			entry_ok = true;
		if (e->phdr >= s->vaddr && e->phdr < end)
			phdr_ok = true;
	}
	if (!entry_ok || !phdr_ok || e->end != e->segs[e->nsegs - 1].vaddr +
						    e->segs[e->nsegs - 1].memsz)
		abort();
	check_role(e, file_size, role);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_image e;
	enum elf_role role;
	uint64_t file_size;
	uint8_t *buf;
	size_t len;
	long need;

	if (size < 1)
		return 0;
	role = data[0] & 2 ? ELF_INTERP : ELF_MAIN;
	if (data[0] & 1) {
		len = TEMPLATE;
		buf = malloc(len);
		template_image(buf);
		for (size_t i = 2; i < size && i - 2 < len; i++)
			buf[i - 2] ^= data[i];
		file_size = (uint64_t)(size > 1 && data[1] ? data[1] : 16) * 4096;
	} else {
		len = size - 1;
		buf = malloc(len ? len : 1);
		memcpy(buf, data + 1, len);
		file_size = len;
	}
	need = len >= ELF_EHDR_SIZE ? elf_headers_size(buf, len, file_size) : -1;
	if (elf_decode(buf, len, file_size, role, &e) == 0) {
		if (need < ELF_EHDR_SIZE || (size_t)need > len)
			abort();
		check(&e, file_size, role);
	}
	free(buf);
	return 0;
}
