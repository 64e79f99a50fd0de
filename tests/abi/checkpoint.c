/*
 * checkpoint [DIR]: LegoOS's checkpoint_process (system call 666), which
 * Tessera serves at LegoOS's number by writing the caller's image as an
 * ELF core file, core.PID in the working directory (DIR/abi-checkpoint-
 * PID). The program checkpoints itself and reads the file back: an ELF
 * core for x86-64; its NT_PRSTATUS names this pid and NT_PRPSINFO this
 * program; the PT_LOAD segments hold, at the right offsets, a marker in
 * .data, a pattern on the heap and a local on the stack, as they were at
 * the call. Another process's pid is EPERM.
 *
 * Linux has no such call (ENOSYS): there every check states what Linux
 * does, so the program passes on the host and the same checks mean the
 * feature on a vNode. Checks print as "ok N - ..." lines (tests/abi/abi.h).
 */
#include "abi.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/syscall.h>

#define SYS_CHECKPOINT_PROCESS 666
#define HEAP_BYTES	       (96 * 1024)

static char marker[] = "a marker in .data, to be found in the core file";

/* The whole file at path, malloc'd; *len its size. NULL if unreadable. */
static unsigned char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	size_t cap = 1 << 20, n = 0;
	unsigned char *buf = malloc(cap);
	ssize_t r;

	if (fd < 0 || !buf)
		return NULL;
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
		if (!buf)
			return NULL;
	}
	close(fd);
	*len = n;
	return buf;
}

/* The file bytes of [addr, addr + len) in core image c (size n): a
 * pointer into c, or NULL if no PT_LOAD holds them whole. */
static const unsigned char *core_bytes(const unsigned char *c, size_t n, const void *addr,
				       size_t len)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)c;
	uint64_t a = (uint64_t)(uintptr_t)addr;

	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(c + eh->e_phoff) + i;

		if (ph->p_type != PT_LOAD || a < ph->p_vaddr || a + len > ph->p_vaddr + ph->p_filesz)
			continue;
		if (ph->p_offset + (a - ph->p_vaddr) + len > n)
			return NULL;
		return c + ph->p_offset + (a - ph->p_vaddr);
	}
	return NULL;
}

/* The desc of the first note of type in the PT_NOTE segment, or NULL. */
static const unsigned char *core_note(const unsigned char *c, size_t n, uint32_t type)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)c;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(c + eh->e_phoff);

	if (ph->p_type != PT_NOTE || ph->p_offset + ph->p_filesz > n)
		return NULL;
	for (uint64_t off = 0; off + sizeof(Elf64_Nhdr) <= ph->p_filesz;) {
		const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(c + ph->p_offset + off);
		uint64_t desc = off + sizeof(*nh) + ((nh->n_namesz + 3) & ~3u);

		if (nh->n_type == type)
			return c + ph->p_offset + desc;
		off = desc + ((nh->n_descsz + 3) & ~3u);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	volatile char local[64] = "a local on the stack";
	unsigned char *heap = malloc(HEAP_BYTES), *core = NULL;
	const char *dir;
	char name[32];
	size_t n = 0;
	long r;

	abi_init("checkpoint");
	dir = abi_workdir(argc, argv);
	for (size_t i = 0; i < HEAP_BYTES; i++)
		heap[i] = (unsigned char)(i * 7 + 3);
	errno = 0;
	r = syscall(SYS_CHECKPOINT_PROCESS, 0);
	int tessera = r == 0;

	ABI_OK(tessera || errno == ENOSYS, "checkpoint_process(0): 0 (Linux: ENOSYS)");
	snprintf(name, sizeof(name), "core.%d", (int)getpid());
	if (tessera)
		core = slurp(name, &n);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)core;
	ABI_OK(!tessera || (core && n > sizeof(*eh) && !memcmp(eh->e_ident, ELFMAG, SELFMAG) &&
			    eh->e_type == ET_CORE && eh->e_machine == EM_X86_64 &&
			    eh->e_phnum >= 4),
	       "core.PID: an x86-64 ELF core file with notes and segments (Linux: none)");
	if (tessera && core && n > sizeof(*eh)) {
		const unsigned char *st = core_note(core, n, NT_PRSTATUS);
		const unsigned char *ps = core_note(core, n, NT_PRPSINFO);
		int32_t pid = 0;

		if (st)
			memcpy(&pid, st + 32, sizeof(pid)); /* elf_prstatus.pr_pid */
		ABI_EQ(pid, getpid(), "NT_PRSTATUS: this pid");
		ABI_OK(ps && !strcmp((const char *)ps + 40, "checkpoint"),
		       "NT_PRPSINFO: this program's name");
		const unsigned char *m = core_bytes(core, n, marker, sizeof(marker));
		ABI_OK(m && !memcmp(m, marker, sizeof(marker)), "the .data marker at its address");
		m = core_bytes(core, n, heap, HEAP_BYTES);
		ABI_OK(m && !memcmp(m, heap, HEAP_BYTES), "the heap pattern at its address");
		m = core_bytes(core, n, (const void *)local, sizeof(local));
		ABI_OK(m && !memcmp(m, (const void *)local, sizeof(local)),
		       "the stack local at its address");
	} else {
		ABI_OK(1, "NT_PRSTATUS: this pid");
		ABI_OK(1, "NT_PRPSINFO: this program's name");
		ABI_OK(1, "the .data marker at its address");
		ABI_OK(1, "the heap pattern at its address");
		ABI_OK(1, "the stack local at its address");
	}
	errno = 0;
	r = syscall(SYS_CHECKPOINT_PROCESS, getpid() + 1000);
	ABI_OK(r == -1 && errno == (tessera ? EPERM : ENOSYS),
	       "checkpoint_process of another pid: EPERM (Linux: ENOSYS)");
	unlink(name);
	chdir("/");
	rmdir(dir);
	free(core);
	free(heap);
	return abi_done();
}
