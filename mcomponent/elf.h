/*
 * ELF executables (mcomponent/elf.c): decodes the header and program
 * headers of an x86-64 ELF64 executable, or of the interpreter (ld.so)
 * of a dynamic one, into what the loader needs (the segments to map, the
 * entry point, the auxv facts, the interpreter's path), refusing
 * anything it would not run with -ENOEXEC.
 *
 * Portable code (the memory kernel, the host tests and tests/fuzz/
 * fuzz_elf.c share it). The input is hostile: bytes of a file that any
 * user may have written. Every field is read at its byte offset
 * (little-endian), every sum is checked for overflow.
 *
 * Two roles (enum elf_role):
 *  - ELF_MAIN, the executable: ET_EXEC at its addresses, or ET_DYN
 *    (static-PIE, or a PIE with an interpreter) at ELF_PIE_BIAS (the
 *    address Linux gives PIEs with ASLR off). Its first PT_INTERP, if
 *    any, is reported (interp_offset, interp_size: where the path lies in
 *    the file) for the loader to read; p_filesz must be 2..ELF_INTERP_MAX
 *    and lie inside the file.
 *  - ELF_INTERP, the interpreter a PT_INTERP names (ld.so): ET_DYN only,
 *    no PT_INTERP of its own, placed top-down so that its highest page
 *    ends at ELF_INTERP_TOP (where Linux's mmap would put it: the
 *    libraries it maps come below it).
 * Refused (-ENOEXEC) in both: a bad magic, class, byte order, version,
 * machine or type; e_phentsize other than 56; no or more than
 * ELF_MAX_PHDRS program headers, or a table outside the file; no PT_LOAD
 * or more than ELF_MAX_SEGMENTS; a PT_LOAD with p_filesz > p_memsz, a
 * file range outside the file or overflowing, p_offset and p_vaddr not
 * congruent modulo the page size, an address range overflowing, below
 * ELF_USER_LOW or above ELF_USER_HIGH; PT_LOADs out of ascending order
 * or sharing a page (each page has one protection); an entry point
 * outside every executable segment. PT_LOADs with p_memsz 0 are skipped.
 */
#ifndef MCOMPONENT_ELF_H
#define MCOMPONENT_ELF_H

#include <stddef.h>
#include <stdint.h>

#define ELF_PAGE	 4096ull
#define ELF_MAX_PHDRS	 64
#define ELF_MAX_SEGMENTS 16
#define ELF_EHDR_SIZE	 64
#define ELF_PHDR_SIZE	 56
#define ELF_PIE_BIAS	 0x555555554000ull
#define ELF_INTERP_MAX	 512 /* bytes of a PT_INTERP path, its NUL included */
/* Where segments may lie: user space below the mmap area and stack
 * (include/proto/mem.h: MEM_USER_BASE, MEM_MMAP_TOP). */
#define ELF_USER_LOW  0x10000ull
#define ELF_USER_HIGH 0x7f0000000000ull
#define ELF_INTERP_TOP ELF_USER_HIGH /* an interpreter's pages end here */

enum elf_role { ELF_MAIN, ELF_INTERP };

#define ELF_PROT_READ  0x1
#define ELF_PROT_WRITE 0x2
#define ELF_PROT_EXEC  0x4

/* One PT_LOAD, relocated (bias added). */
struct elf_segment {
	uint64_t vaddr;	 /* of the first byte (not page aligned) */
	uint64_t memsz;	 /* bytes in memory; past filesz they are zero */
	uint64_t offset; /* in the file */
	uint64_t filesz;
	uint32_t prot; /* ELF_PROT_* from p_flags */
};

struct elf_image {
	uint64_t entry;
	uint64_t bias;	    /* 0 for ET_EXEC; AT_BASE of an interpreter */
	uint64_t phdr;	    /* AT_PHDR: the program headers in memory (0: not mapped) */
	uint64_t phnum;	    /* AT_PHNUM */
	uint64_t phentsize; /* AT_PHENT */
	uint64_t start;	    /* the lowest segment's first page */
	uint64_t end;	    /* first byte after the highest segment (brk from here) */
	uint64_t interp_offset, interp_size; /* ELF_MAIN's PT_INTERP in the file (size 0: none) */
	unsigned nsegs;
	struct elf_segment segs[ELF_MAX_SEGMENTS]; /* in ascending address order */
};

/*
 * How many bytes from the start of the file hold the ELF header and the
 * program header table: decode needs that many. buf holds the first len
 * bytes (at least ELF_EHDR_SIZE). Returns the count, or -ENOEXEC if the
 * header is not one elf_decode could accept or the table lies outside
 * file_size bytes.
 */
long elf_headers_size(const void *buf, size_t len, uint64_t file_size);

/*
 * Decodes the file in the given role whose first len bytes are buf (at
 * least elf_headers_size() of them) and whose size is file_size. Returns
 * 0 and fills *img, or -ENOEXEC (see the top of this file).
 */
int elf_decode(const void *buf, size_t len, uint64_t file_size, enum elf_role role,
	       struct elf_image *img);

#endif
