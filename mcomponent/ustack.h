/*
 * The initial user stack (mcomponent/ustack.c): what a process finds at
 * its stack pointer when it starts, as the System V x86-64 ABI (section
 * 3.4.1, "Initial Stack and Register State") and Linux lay it out.
 *
 * Portable code (the memory kernel and the host tests share it); no
 * allocation, no locks.
 *
 * From the stack pointer (16-byte aligned) upwards:
 *
 *	argc                       8 bytes
 *	argv[0] .. argv[argc-1]    pointers into the strings below
 *	NULL
 *	envp[0] .. envp[envc-1]
 *	NULL
 *	auxv pairs (type, value)   AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ,
 *	                           AT_BASE (the interpreter's load address, 0
 *	                           without one), AT_FLAGS (0), AT_ENTRY, AT_UID,
 *	                           AT_EUID, AT_GID, AT_EGID, AT_SECURE,
 *	                           AT_RANDOM, AT_EXECFN, AT_CLKTCK (100:
 *	                           glibc's sysconf(_SC_CLK_TCK) reads it)
 *	AT_NULL, 0
 *	padding to 16 bytes
 *	16 random bytes            AT_RANDOM points here
 *	argument and environment strings, in order, NUL-terminated
 *	the AT_EXECFN string (the path as given to exec)
 *	8 zero bytes               the very top, as Linux leaves it
 */
#ifndef MCOMPONENT_USTACK_H
#define MCOMPONENT_USTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AT_NULL	  0
#define AT_PHDR	  3
#define AT_PHENT  4
#define AT_PHNUM  5
#define AT_PAGESZ 6
#define AT_BASE	  7
#define AT_FLAGS  8
#define AT_ENTRY  9
#define AT_UID	  11
#define AT_EUID	  12
#define AT_GID	  13
#define AT_EGID	  14
#define AT_CLKTCK 17
#define AT_SECURE 23
#define AT_RANDOM 25
#define AT_EXECFN 31

#define USTACK_NAUX 16 /* auxv pairs, AT_NULL included */

struct ustack_info {
	const char *strings; /* argc then envc strings, each NUL-ended */
	size_t strings_len;  /* bytes of strings, every NUL included */
	uint32_t argc, envc;
	const char *execfn; /* NUL-terminated */
	uint64_t phdr, phent, phnum, entry; /* of the executable */
	uint64_t base;			    /* AT_BASE: the interpreter's bias, or 0 */
	uint32_t uid, euid, gid, egid;
	bool secure;
	uint8_t random[16];
};

/*
 * 0 if strings[0..len) is exactly argc + envc NUL-terminated strings
 * (the last byte a NUL, no bytes after it), else -EINVAL.
 */
int ustack_check_strings(const char *strings, size_t len, uint32_t argc, uint32_t envc);

/*
 * Writes the initial stack for *in into buf, which stands for the user
 * addresses [top - size, top) (top 16-byte aligned). Returns 0 and sets
 * *sp to the initial stack pointer (the address of argc), -EINVAL (bad
 * strings or top), or -E2BIG (it does not fit in size bytes). Only
 * [*sp - top + size, size) of buf is written.
 */
int ustack_build(void *buf, size_t size, uint64_t top, const struct ustack_info *in,
		 uint64_t *sp);

#endif
