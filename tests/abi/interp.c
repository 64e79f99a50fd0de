/*
 * interp: execve of dynamically linked executables, the kernel's part
 * (PT_INTERP): the program interpreter named there is loaded beside the
 * executable and started first, with AT_BASE its load address and
 * AT_ENTRY the executable's entry; an interpreter that is missing, not
 * an ELF or for another machine fails the execve (ENOENT, ELIBBAD, ...)
 * in the caller, whose image stays.
 *
 * The executables and interpreters are tiny ELF files written here into
 * the work directory (so their PT_INTERP paths are absolute paths there):
 *   - the executable: ET_EXEC, one R+X PT_LOAD at 0x400000 whose code is
 *     exit(43), and a PT_INTERP;
 *   - the interpreter: ET_DYN linked at 0, one R+X PT_LOAD; its code
 *     (interp_code, x86-64) finds its own load address rip-relatively,
 *     walks the initial stack to the auxv, exits 98 unless AT_BASE is
 *     that address, else jumps to AT_ENTRY.
 * So exit status 43 says the interpreter ran, was told where it lies
 * and found the executable's entry. The real loaders (musl's and
 * glibc's ld.so with their libraries) are the dynamic variants of time
 * and signals (tests/cluster/abi_test.py).
 */
#include "abi.h"
#include "elfmake.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/wait.h>

#define EXE_BASE   0x400000ull
#define PHDR_AT	   ELFMAKE_PHDR_AT
/* code after the ELF header and two program headers */
#define CODE_AT	   (PHDR_AT + 2 * ELFMAKE_PHDR_SIZE)
#define INTERP_MAX 300

/* exit(43): mov edi, 43; mov eax, 60; syscall */
static const uint8_t exe_code[] = {0xbf, 0x2b, 0, 0, 0, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05};

/* The interpreter's code, at file offset and vaddr 0x78 (CODE_AT of a
 * file with one program header):
 *	lea r12, [rip - 0x7f]		; the load address (vaddr 0)
 *	mov rax, [rsp]			; argc
 *	lea rbx, [rsp + rax*8 + 16]	; envp
 * 1:	mov rax, [rbx]; add rbx, 8; test rax, rax; jnz 1b   ; past envp's NULL
 *	xor r13d, r13d; xor r14d, r14d
 * 2:	mov rax, [rbx]; test rax, rax; jz 4f
 *	cmp rax, 7; jne 3f; mov r13, [rbx + 8]		; AT_BASE
 * 3:	cmp rax, 9; jne 5f; mov r14, [rbx + 8]		; AT_ENTRY
 * 5:	add rbx, 16; jmp 2b
 * 4:	cmp r13, r12; jne 6f; jmp r14
 * 6:	mov edi, 98; mov eax, 60; syscall
 */
static const uint8_t interp_code[] = {
	0x4c, 0x8d, 0x25, 0x81, 0xff, 0xff, 0xff, 0x48, 0x8b, 0x04, 0x24, 0x48, 0x8d, 0x5c,
	0xc4, 0x10, 0x48, 0x8b, 0x03, 0x48, 0x83, 0xc3, 0x08, 0x48, 0x85, 0xc0, 0x75, 0xf4,
	0x45, 0x31, 0xed, 0x45, 0x31, 0xf6, 0x48, 0x8b, 0x03, 0x48, 0x85, 0xc0, 0x74, 0x1a,
	0x48, 0x83, 0xf8, 0x07, 0x75, 0x04, 0x4c, 0x8b, 0x6b, 0x08, 0x48, 0x83, 0xf8, 0x09,
	0x75, 0x04, 0x4c, 0x8b, 0x73, 0x08, 0x48, 0x83, 0xc3, 0x10, 0xeb, 0xde, 0x4d, 0x39,
	0xe5, 0x75, 0x03, 0x41, 0xff, 0xe6, 0xbf, 0x62, 0x00, 0x00, 0x00, 0xb8, 0x3c, 0x00,
	0x00, 0x00, 0x0f, 0x05,
};

static int write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, mode);
	int ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;

	if (fd >= 0)
		close(fd);
	return ok && chmod(name, mode) == 0 ? 0 : -1;
}

/* The executable NAME whose PT_INTERP holds interp_len bytes of interp
 * (its NUL included, or not). */
static int write_exe(const char *name, const char *interp, size_t interp_len)
{
	uint8_t f[CODE_AT + sizeof(exe_code) + INTERP_MAX] = {0};
	size_t path_at = CODE_AT + sizeof(exe_code), size = path_at + interp_len;

	if (interp_len > INTERP_MAX)
		return -1;
	elfmake_ehdr(f, 2, EXE_BASE + CODE_AT, 2);
	elfmake_phdr(f + PHDR_AT, ELFMAKE_PT_LOAD, 5, 0, EXE_BASE, size, size); /* R+X */
	elfmake_phdr(f + PHDR_AT + 56, ELFMAKE_PT_INTERP, 4, path_at, EXE_BASE + path_at,
		     interp_len, interp_len);
	memcpy(f + CODE_AT, exe_code, sizeof(exe_code));
	memcpy(f + path_at, interp, interp_len);
	return write_file(name, f, size, 0755);
}

/* The interpreter NAME for machine (62: x86-64), mode 0755 or mode. */
static int write_interp(const char *name, uint16_t machine, mode_t mode)
{
	uint8_t f[PHDR_AT + 56 + sizeof(interp_code)] = {0};

	elfmake_ehdr(f, 3, PHDR_AT + 56, 1);
	elfmake_w16(f + 18, machine);
	elfmake_phdr(f + PHDR_AT, ELFMAKE_PT_LOAD, 5, 0, 0, sizeof(f), sizeof(f)); /* R+X, at 0 */
	memcpy(f + PHDR_AT + 56, interp_code, sizeof(interp_code));
	return write_file(name, f, sizeof(f), mode);
}

/* execve of NAME here: -1 and errno if it fails (it must). */
static int try_exec(const char *name)
{
	char *argv[] = {(char *)name, NULL};

	return execve(name, argv, (char *[]){NULL});
}

/* The exe NAME with PT_INTERP dir/interp (NUL included). */
static int exe_for(const char *name, const char *dir, const char *interp)
{
	char path[INTERP_MAX];
	int n = snprintf(path, sizeof(path), "%s%s%s", dir, *interp ? "/" : "", interp);

	if (n < 0 || n >= (int)sizeof(path))
		return -1;
	return write_exe(name, path, (size_t)n + 1);
}

/* Every file main makes in the work directory. */
static const char *const made[] = {
	"ld-ok", "prog-ok", "ld-link", "prog-link", "prog-missing", "text", "prog-text",
	"ld-arm", "prog-arm", "ld-noexec", "prog-noexec", "prog-dir", "prog-nonul",
};

int main(int argc, char **argv)
{
	static const char text[] = "this is a text file, not an ELF interpreter; it is long "
				   "enough to hold an ELF header: sixty-four bytes and more\n";
	const char *dir;
	int st;

	abi_init("interp");
	dir = abi_workdir(argc, argv);

	ABI_EQ(write_interp("ld-ok", 62, 0755), 0, "write a tiny ELF interpreter");
	ABI_EQ(exe_for("prog-ok", dir, "ld-ok"), 0, "write an executable whose PT_INTERP names it");
	st = elfmake_run("./prog-ok");
	ABI_EQ(st, 43 << 8, "execve: the interpreter runs with AT_BASE its load address, "
			    "then the executable's entry (AT_ENTRY): exit 43");
	ABI_EQ(symlink("ld-ok", "ld-link"), 0, "symlink ld-link -> ld-ok");
	ABI_EQ(exe_for("prog-link", dir, "ld-link"), 0, "an executable whose PT_INTERP is the link");
	ABI_EQ(elfmake_run("./prog-link"), 43 << 8, "execve through an interpreter link: exit 43");

	ABI_EQ(exe_for("prog-missing", dir, "missing"), 0, "PT_INTERP names a missing file");
	ABI_ERR(try_exec("./prog-missing"), ENOENT, "execve: missing interpreter: ENOENT");
	ABI_EQ(write_file("text", text, sizeof(text) - 1, 0755), 0, "a text file, mode 0755");
	ABI_EQ(exe_for("prog-text", dir, "text"), 0, "PT_INTERP names the text file");
	ABI_ERR(try_exec("./prog-text"), ELIBBAD, "execve: interpreter not an ELF: ELIBBAD");
	ABI_EQ(write_interp("ld-arm", 183, 0755), 0, "an interpreter for AArch64");
	ABI_EQ(exe_for("prog-arm", dir, "ld-arm"), 0, "PT_INTERP names it");
	ABI_ERR(try_exec("./prog-arm"), ELIBBAD, "execve: interpreter for another machine: ELIBBAD");
	ABI_EQ(write_interp("ld-noexec", 62, 0644), 0, "an interpreter without an x bit");
	ABI_EQ(exe_for("prog-noexec", dir, "ld-noexec"), 0, "PT_INTERP names it");
	ABI_ERR(try_exec("./prog-noexec"), EACCES, "execve: interpreter without an x bit: EACCES");
	ABI_EQ(exe_for("prog-dir", dir, ""), 0, "PT_INTERP names the work directory");
	ABI_ERR(try_exec("./prog-dir"), EACCES, "execve: interpreter a directory: EACCES");
	ABI_EQ(write_exe("prog-nonul", "/ld", 3), 0, "PT_INTERP without its NUL");
	ABI_ERR(try_exec("./prog-nonul"), ENOEXEC, "execve: PT_INTERP not NUL-terminated: ENOEXEC");
	ABI_EQ(elfmake_run("./prog-ok"), 43 << 8, "after the failures, the good one still runs");
	for (unsigned i = 0; i < sizeof(made) / sizeof(made[0]); i++)
		unlink(made[i]);
	ABI_EQ(chdir("/"), 0, "chdir /");
	ABI_EQ(rmdir(dir), 0, "the work directory is empty and removed");
	return abi_done();
}
