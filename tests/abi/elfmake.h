/*
 * Tiny x86-64 ELF files made by hand, for the ABI programs that test
 * what exec does with odd executables (interp.c, imgload.c): an ELF
 * header whose program headers follow it at ELFMAKE_PHDR_AT, and program
 * headers, little-endian, written into a caller's buffer; and a run of
 * such a file in a child.
 */
#ifndef TESTS_ABI_ELFMAKE_H
#define TESTS_ABI_ELFMAKE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ELFMAKE_PHDR_AT	  64 /* right after the ELF header */
#define ELFMAKE_PHDR_SIZE 56
#define ELFMAKE_PT_LOAD	  1
#define ELFMAKE_PT_INTERP 3

static inline void elfmake_w16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void elfmake_w32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void elfmake_w64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* The ELF header of an x86-64 file of type (2 ET_EXEC, 3 ET_DYN) starting
 * at entry, with phnum program headers at ELFMAKE_PHDR_AT. */
static inline void elfmake_ehdr(uint8_t *f, uint16_t type, uint64_t entry, uint16_t phnum)
{
	static const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1};

	memcpy(f, ident, sizeof(ident));
	elfmake_w16(f + 16, type);
	elfmake_w16(f + 18, 62); /* x86-64 */
	elfmake_w32(f + 20, 1);
	elfmake_w64(f + 24, entry);
	elfmake_w64(f + 32, ELFMAKE_PHDR_AT);
	elfmake_w16(f + 52, 64);
	elfmake_w16(f + 54, ELFMAKE_PHDR_SIZE);
	elfmake_w16(f + 56, phnum);
}

/* A program header at p: type, flags (PF_R 4, PF_W 2, PF_X 1), file
 * offset, address, file and memory sizes; loads are page aligned. */
static inline void elfmake_phdr(uint8_t *p, uint32_t type, uint32_t flags, uint64_t off,
				uint64_t vaddr, uint64_t filesz, uint64_t memsz)
{
	elfmake_w32(p, type);
	elfmake_w32(p + 4, flags);
	elfmake_w64(p + 8, off);
	elfmake_w64(p + 16, vaddr);
	elfmake_w64(p + 24, vaddr);
	elfmake_w64(p + 32, filesz);
	elfmake_w64(p + 40, memsz);
	elfmake_w64(p + 48, type == ELFMAKE_PT_LOAD ? 0x1000 : 1);
}

/* execve of path in a child (argv {path}, envp {"A=1"}): its wait
 * status, -1 if fork or waitpid failed; exit 127 if the execve did. */
static inline int elfmake_run(const char *path)
{
	char *argv[] = {(char *)path, NULL}, *envp[] = {"A=1", NULL};
	int status = -1;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execve(path, argv, envp);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

#endif
