/*
 * Multiboot v1 and Multiboot2 information parsing. Portable; unit-tested on
 * the host against hand-built structures.
 *
 * The information block sits in memory the loader chose and may be
 * malformed: every read goes through the phys() accessor with its exact
 * length, and every size field is checked before it is used to advance.
 */
#include <kernel/bootinfo.h>
#include <lib/string.h>
#include <lib/unaligned.h>

/* Multiboot v1 info flags and field offsets. */
#define MB1_INFO_CMDLINE (1u << 2)
#define MB1_INFO_MODS	 (1u << 3)
#define MB1_INFO_MMAP	 (1u << 6)
#define MB1_INFO_LOADER	 (1u << 9)
#define MB1_INFO_SIZE	 88

/* Multiboot2 tag types. */
enum {
	MB2_TAG_END = 0,
	MB2_TAG_CMDLINE = 1,
	MB2_TAG_LOADER = 2,
	MB2_TAG_MODULE = 3,
	MB2_TAG_MMAP = 6,
	MB2_TAG_ACPI_OLD = 14,
	MB2_TAG_ACPI_NEW = 15,
};

#define MB2_MAX_INFO (1u << 20)

/* Copies the NUL-terminated string at physical pa, at most size-1 bytes. */
static void copy_phys_string(char *dst, size_t size, uint64_t pa,
			     boot_phys_fn phys)
{
	size_t n = 0;

	for (; n + 1 < size; n++) {
		const char *c = phys(pa + n, 1);

		if (!c || !*c)
			break;
		dst[n] = *c;
	}
	dst[n] = '\0';
}

/* Copies a string that lives inside a tag of known bounds. */
static void copy_bounded_string(char *dst, size_t size, const uint8_t *src,
				size_t avail)
{
	size_t n = strnlen((const char *)src, avail);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void add_range(struct bootinfo *bi, uint64_t base, uint64_t len,
		      uint32_t type)
{
	if (len == 0)
		return;
	if (bi->nmem == BOOT_MAX_RANGES) {
		bi->dropped++;
		return;
	}
	bi->mem[bi->nmem++] = (struct boot_mem_range){ base, len, type };
}

static struct boot_module *add_module(struct bootinfo *bi, uint64_t start,
				      uint64_t end)
{
	struct boot_module *m;

	if (bi->nmods == BOOT_MAX_MODULES || end < start) {
		bi->dropped++;
		return NULL;
	}
	m = &bi->mods[bi->nmods++];
	m->start = start;
	m->end = end;
	m->cmdline[0] = '\0';
	return m;
}

static int parse_mb1(struct bootinfo *bi, uint64_t info, boot_phys_fn phys)
{
	const uint8_t *mbi = phys(info, MB1_INFO_SIZE);
	uint32_t flags;

	if (!mbi)
		return -1;
	flags = get_le32(mbi);
	if (flags & MB1_INFO_CMDLINE)
		copy_phys_string(bi->cmdline, sizeof(bi->cmdline),
				 get_le32(mbi + 16), phys);
	if (flags & MB1_INFO_LOADER)
		copy_phys_string(bi->loader, sizeof(bi->loader), get_le32(mbi + 64),
				 phys);
	if (flags & MB1_INFO_MMAP) {
		uint64_t p = get_le32(mbi + 48), end = p + get_le32(mbi + 44);

		while (p + 24 <= end) {
			const uint8_t *e = phys(p, 24);
			uint32_t size;

			if (!e)
				break;
			size = get_le32(e);
			if (size < 20)
				break; /* would not advance past the entry */
			add_range(bi, get_le64(e + 4), get_le64(e + 12), get_le32(e + 20));
			p += (uint64_t)size + 4;
		}
	}
	if (flags & MB1_INFO_MODS) {
		uint32_t count = get_le32(mbi + 20);
		uint64_t p = get_le32(mbi + 24);

		for (uint32_t i = 0; i < count && i < BOOT_MAX_MODULES + 1; i++) {
			const uint8_t *e = phys(p + 16ull * i, 16);
			struct boot_module *m;

			if (!e)
				break;
			m = add_module(bi, get_le32(e), get_le32(e + 4));
			if (m && get_le32(e + 8))
				copy_phys_string(m->cmdline, sizeof(m->cmdline),
						 get_le32(e + 8), phys);
		}
	}
	return 0;
}

static void parse_mb2_mmap(struct bootinfo *bi, const uint8_t *tag,
			   uint32_t size)
{
	uint32_t esize, off;

	if (size < 16)
		return;
	esize = get_le32(tag + 8);
	if (esize < 24)
		return;
	/* esize <= size - off, not off + esize <= size: no 32-bit wrap. */
	for (off = 16; esize <= size - off; off += esize)
		add_range(bi, get_le64(tag + off), get_le64(tag + off + 8),
			  get_le32(tag + off + 16));
}

static int parse_mb2(struct bootinfo *bi, uint64_t info, boot_phys_fn phys)
{
	const uint8_t *hdr = phys(info, 8), *base;
	uint32_t total, off = 8;

	if (!hdr)
		return -1;
	total = get_le32(hdr);
	if (total < 16 || total > MB2_MAX_INFO)
		return -1;
	base = phys(info, total);
	if (!base)
		return -1;

	while (off + 8 <= total) {
		const uint8_t *tag = base + off;
		uint32_t type = get_le32(tag), size = get_le32(tag + 4);

		if (type == MB2_TAG_END || size < 8 || size > total - off)
			break;
		switch (type) {
		case MB2_TAG_CMDLINE:
			copy_bounded_string(bi->cmdline, sizeof(bi->cmdline),
					    tag + 8, size - 8);
			break;
		case MB2_TAG_LOADER:
			copy_bounded_string(bi->loader, sizeof(bi->loader),
					    tag + 8, size - 8);
			break;
		case MB2_TAG_MODULE:
			if (size >= 16) {
				struct boot_module *m =
					add_module(bi, get_le32(tag + 8), get_le32(tag + 12));

				if (m)
					copy_bounded_string(m->cmdline,
							    sizeof(m->cmdline),
							    tag + 16, size - 16);
			}
			break;
		case MB2_TAG_MMAP:
			parse_mb2_mmap(bi, tag, size);
			break;
		case MB2_TAG_ACPI_OLD:
		case MB2_TAG_ACPI_NEW:
			/* The ACPI 2.0 RSDP (with the XSDT) wins over 1.0. */
			if (size >= 8 + 20 &&
			    (!bi->has_rsdp || type == MB2_TAG_ACPI_NEW)) {
				size_t n = size - 8 < sizeof(bi->rsdp) ? size - 8
								       : sizeof(bi->rsdp);

				memset(bi->rsdp, 0, sizeof(bi->rsdp));
				memcpy(bi->rsdp, tag + 8, n);
				bi->has_rsdp = true;
			}
			break;
		default:
			break;
		}
		off += (size + 7) & ~7u;
	}
	return 0;
}

/* Loaders do not promise any order; sort the map by base address. */
static void sort_ranges(struct bootinfo *bi)
{
	for (unsigned i = 1; i < bi->nmem; i++) {
		struct boot_mem_range r = bi->mem[i];
		unsigned j = i;

		for (; j > 0 && bi->mem[j - 1].base > r.base; j--)
			bi->mem[j] = bi->mem[j - 1];
		bi->mem[j] = r;
	}
}

int bootinfo_parse(struct bootinfo *bi, uint32_t magic, uint64_t info,
		   boot_phys_fn phys)
{
	int err;

	memset(bi, 0, sizeof(*bi));
	if (magic == MB1_BOOT_MAGIC) {
		bi->protocol = 1;
		err = parse_mb1(bi, info, phys);
	} else if (magic == MB2_BOOT_MAGIC) {
		bi->protocol = 2;
		err = parse_mb2(bi, info, phys);
	} else {
		return -1;
	}
	sort_ranges(bi);
	return err;
}

uint64_t bootinfo_usable_bytes(const struct bootinfo *bi)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < bi->nmem; i++)
		if (bi->mem[i].type == BOOT_MEM_USABLE)
			sum += bi->mem[i].len;
	return sum;
}

const char *boot_mem_type_name(uint32_t type)
{
	switch (type) {
	case BOOT_MEM_USABLE:
		return "usable";
	case BOOT_MEM_ACPI:
		return "ACPI data";
	case BOOT_MEM_NVS:
		return "ACPI NVS";
	case BOOT_MEM_BAD:
		return "bad";
	default:
		return "reserved";
	}
}
