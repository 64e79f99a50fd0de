/*
 * ELF executables (interface and the rules: mcomponent/elf.h).
 *
 * Facts from the System V ABI (gABI "Object Files" chapter) and its
 * x86-64 supplement: Elf64_Ehdr is 64 bytes (e_ident 16, e_type at 16,
 * e_machine 18, e_version 20, e_entry 24, e_phoff 32, e_shoff 40,
 * e_flags 48, e_ehsize 52, e_phentsize 54, e_phnum 56); Elf64_Phdr is 56
 * (p_type 0, p_flags 4, p_offset 8, p_vaddr 16, p_paddr 24, p_filesz 32,
 * p_memsz 40, p_align 48). Fields are read at those offsets, never
 * through a packed struct over the hostile bytes.
 *
 * decode runs in two passes over the program headers: the first checks
 * each one on its own and collects the PT_LOADs (relocated) and the
 * PT_INTERP, the second checks them against each other (order, shared
 * pages), then the entry point and AT_PHDR are worked out. An
 * interpreter's bias comes from a pass before those (interp_bias): the
 * top of its PT_LOADs, unrelocated, put at ELF_INTERP_TOP; the first
 * pass then checks every segment at that bias as for any image.
 */
#include "elf.h"

#include <kernel/errno.h>
#include <lib/string.h>
#include <stdbool.h>

#define ET_EXEC	   2
#define ET_DYN	   3
#define EM_X86_64  62
#define PT_LOAD	   1
#define PT_INTERP  3
#define PT_PHDR	   6
#define PF_X	   0x1
#define PF_W	   0x2
#define PF_R	   0x4

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint64_t page_down(uint64_t a)
{
	return a & ~(ELF_PAGE - 1);
}

static bool is_load(const uint8_t *ph)
{
	return rd32(ph) == PT_LOAD && rd64(ph + 40) != 0;
}

/* The header fields every later step relies on (the role's type checked
 * later). */
static int check_ehdr(const uint8_t *e, size_t len)
{
	static const uint8_t ident[7] = {0x7f, 'E', 'L', 'F', 2 /* 64-bit */,
					 1 /* little-endian */, 1 /* EV_CURRENT */};
	uint16_t type, phnum;

	if (len < ELF_EHDR_SIZE || memcmp(e, ident, sizeof(ident)))
		return -ENOEXEC;
	type = rd16(e + 16);
	phnum = rd16(e + 56);
	if ((type != ET_EXEC && type != ET_DYN) || rd16(e + 18) != EM_X86_64 ||
	    rd32(e + 20) != 1 || rd16(e + 52) != ELF_EHDR_SIZE ||
	    rd16(e + 54) != ELF_PHDR_SIZE || phnum == 0 || phnum > ELF_MAX_PHDRS)
		return -ENOEXEC;
	return 0;
}

long elf_headers_size(const void *buf, size_t len, uint64_t file_size)
{
	const uint8_t *e = buf;
	uint64_t phoff, end;

	if (check_ehdr(e, len))
		return -ENOEXEC;
	phoff = rd64(e + 32);
	end = phoff + (uint64_t)rd16(e + 56) * ELF_PHDR_SIZE;
	if (phoff > file_size || end < phoff || end > file_size)
		return -ENOEXEC;
	return (long)(end > ELF_EHDR_SIZE ? end : ELF_EHDR_SIZE);
}

static uint32_t prot_of(uint32_t flags)
{
	return (flags & PF_R ? ELF_PROT_READ : 0) | (flags & PF_W ? ELF_PROT_WRITE : 0) |
	       (flags & PF_X ? ELF_PROT_EXEC : 0);
}

/* Checks one PT_LOAD on its own and relocates it into *s. */
static int take_load(const uint8_t *ph, uint64_t bias, uint64_t file_size,
		     struct elf_segment *s)
{
	uint64_t off = rd64(ph + 8), vaddr = rd64(ph + 16);
	uint64_t filesz = rd64(ph + 32), memsz = rd64(ph + 40);
	uint64_t end;

	if (filesz > memsz || off + filesz < off || off + filesz > file_size)
		return -ENOEXEC;
	if ((off ^ vaddr) & (ELF_PAGE - 1))
		return -ENOEXEC;
	if (vaddr + bias < vaddr)
		return -ENOEXEC;
	vaddr += bias;
	end = vaddr + memsz;
	if (end < vaddr || page_down(vaddr) < ELF_USER_LOW || end > ELF_USER_HIGH)
		return -ENOEXEC;
	s->vaddr = vaddr;
	s->memsz = memsz;
	s->offset = off;
	s->filesz = filesz;
	s->prot = prot_of(rd32(ph + 4));
	return 0;
}

/* PT_INTERP of ELF_MAIN: where its path lies (the first one counts, as
 * on Linux). */
static int take_interp(const uint8_t *ph, uint64_t file_size, struct elf_image *img)
{
	uint64_t off = rd64(ph + 8), size = rd64(ph + 32);

	if (img->interp_size)
		return 0;
	if (size < 2 || size > ELF_INTERP_MAX || off > file_size || size > file_size - off)
		return -ENOEXEC;
	img->interp_offset = off;
	img->interp_size = size;
	return 0;
}

/* Pass 1: every program header on its own; PT_LOADs, PT_PHDR and (for
 * ELF_MAIN) PT_INTERP kept. */
static int scan_phdrs(const uint8_t *e, uint64_t file_size, enum elf_role role,
		      struct elf_image *img, uint64_t *pt_phdr)
{
	uint64_t phoff = rd64(e + 32);
	unsigned phnum = rd16(e + 56);

	*pt_phdr = 0;
	img->nsegs = 0;
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = e + phoff + (uint64_t)i * ELF_PHDR_SIZE;
		uint32_t type = rd32(ph);

		if (type == PT_INTERP &&
		    (role == ELF_INTERP || take_interp(ph, file_size, img)))
			return -ENOEXEC;
		if (type == PT_PHDR) {
			*pt_phdr = rd64(ph + 16) + img->bias;
			if (*pt_phdr < img->bias)
				return -ENOEXEC;
		}
		if (!is_load(ph))
			continue;
		if (img->nsegs == ELF_MAX_SEGMENTS ||
		    take_load(ph, img->bias, file_size, &img->segs[img->nsegs]))
			return -ENOEXEC;
		img->nsegs++;
	}
	return img->nsegs ? 0 : -ENOEXEC;
}

/* Pass 2: ascending, no page shared; img->end set. */
static int check_layout(struct elf_image *img)
{
	for (unsigned i = 1; i < img->nsegs; i++) {
		const struct elf_segment *a = &img->segs[i - 1], *b = &img->segs[i];

		/* a's last page must lie below b's first one */
		if (page_down(a->vaddr + a->memsz - 1) >= page_down(b->vaddr))
			return -ENOEXEC;
	}
	img->start = page_down(img->segs[0].vaddr);
	img->end = img->segs[img->nsegs - 1].vaddr + img->segs[img->nsegs - 1].memsz;
	return 0;
}

static bool inside(const struct elf_segment *s, uint64_t addr, uint64_t len)
{
	return addr >= s->vaddr && len <= s->memsz && addr - s->vaddr <= s->memsz - len;
}

/* AT_PHDR: PT_PHDR if it lies inside a segment's file bytes, else where
 * the segment holding e_phoff puts the table, else 0 (not mapped). */
static uint64_t find_phdr(const struct elf_image *img, uint64_t pt_phdr, uint64_t phoff,
			  uint64_t size)
{
	for (unsigned i = 0; pt_phdr && i < img->nsegs; i++) {
		const struct elf_segment *s = &img->segs[i];

		if (inside(s, pt_phdr, size) && pt_phdr - s->vaddr + size <= s->filesz)
			return pt_phdr;
	}
	for (unsigned i = 0; i < img->nsegs; i++) {
		const struct elf_segment *s = &img->segs[i];

		if (phoff >= s->offset && phoff - s->offset <= s->filesz &&
		    size <= s->filesz - (phoff - s->offset))
			return s->vaddr + (phoff - s->offset);
	}
	return 0;
}

/* The bias that puts an interpreter's highest page just below
 * ELF_INTERP_TOP (its PT_LOADs' top, unrelocated, checked for overflow;
 * the rest is checked at that bias by scan_phdrs). */
static int interp_bias(const uint8_t *e, uint64_t *bias)
{
	uint64_t phoff = rd64(e + 32), top = 0;
	unsigned phnum = rd16(e + 56);

	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = e + phoff + (uint64_t)i * ELF_PHDR_SIZE;
		uint64_t vaddr = rd64(ph + 16), memsz = rd64(ph + 40);

		if (!is_load(ph))
			continue;
		if (vaddr + memsz < vaddr || vaddr + memsz > ELF_INTERP_TOP)
			return -ENOEXEC;
		if (vaddr + memsz > top)
			top = vaddr + memsz;
	}
	*bias = ELF_INTERP_TOP - ((top + ELF_PAGE - 1) & ~(ELF_PAGE - 1));
	return 0;
}

/* img->bias for the role, after the type check. */
static int choose_bias(const uint8_t *e, enum elf_role role, struct elf_image *img)
{
	uint16_t type = rd16(e + 16);

	if (role == ELF_INTERP)
		return type == ET_DYN ? interp_bias(e, &img->bias) : -ENOEXEC;
	img->bias = type == ET_DYN ? ELF_PIE_BIAS : 0;
	return 0;
}

int elf_decode(const void *buf, size_t len, uint64_t file_size, enum elf_role role,
	       struct elf_image *img)
{
	const uint8_t *e = buf;
	long need = elf_headers_size(buf, len, file_size);
	uint64_t pt_phdr, entry;
	bool entry_ok = false;

	if (need < 0 || (uint64_t)need > len)
		return -ENOEXEC;
	memset(img, 0, sizeof(*img));
	if (choose_bias(e, role, img))
		return -ENOEXEC;
	if (scan_phdrs(e, file_size, role, img, &pt_phdr) || check_layout(img))
		return -ENOEXEC;
	entry = rd64(e + 24) + img->bias;
	if (entry < img->bias)
		return -ENOEXEC;
	for (unsigned i = 0; i < img->nsegs; i++)
		if ((img->segs[i].prot & ELF_PROT_EXEC) && inside(&img->segs[i], entry, 1))
			entry_ok = true;
	if (!entry_ok)
		return -ENOEXEC;
	img->entry = entry;
	img->phnum = rd16(e + 56);
	img->phentsize = ELF_PHDR_SIZE;
	img->phdr = find_phdr(img, pt_phdr, rd64(e + 32), img->phnum * ELF_PHDR_SIZE);
	return 0;
}
