/*
 * imgload: how execve lays out an executable's PT_LOAD segments, as
 * Linux's ELF loader does (it maps each segment from the file):
 *   - the file bytes of a segment read as the file's, and the rest of
 *     its pages, up to memsz, as zeros (bss), even where the file goes
 *     on past filesz with other bytes: those belong to other sections
 *     and must not show, neither in the page where the file bytes end
 *     nor in the bss pages after it;
 *   - /proc/self/maps shows the segments as mappings of the executable:
 *     its path (as /proc/self/exe says), its inode, and the file offset
 *     of each mapping's first page (checked by reading the file there
 *     and comparing with memory).
 *
 * The first part runs tiny ELF files written here into the work
 * directory, each an ET_EXEC with two PT_LOADs:
 *   - R+X at 0x400000, offset 0: the headers and check_code;
 *   - R+W at 0x600080, offset 0x1080: filesz bytes of 0x11, memsz up to
 *     0x603000; the file is 0x4000 bytes, 0xaa wherever it holds no
 *     header, code or data, so the bytes after filesz, in its page and
 *     in the pages after, are non-zero in the file.
 * check_code (x86-64) exits 1 if a data byte is not 0x11, 2 if a byte
 * from 0x600080 + filesz up to 0x603000 is not zero (or the last one
 * does not keep a store), else 42. Three sizes of data: ending inside
 * its first page, at a page's end, and inside the next page.
 */
#include "abi.h"
#include "elfmake.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/wait.h>

#define EXE_BASE  0x400000ull
#define PHDR_AT	  ELFMAKE_PHDR_AT
/* code after the ELF header and two program headers */
#define CODE_AT	  (PHDR_AT + 2 * ELFMAKE_PHDR_SIZE)
#define DATA_OFF  0x1080ull
#define DATA_VA	  0x600080ull
#define DATA_END  0x603000ull /* the bss ends here */
#define FILE_SIZE 0x4000
#define FILL	  0xaa
#define FILESZ_AT 6 /* the imm32 of "mov ecx, filesz" in check_code */

/*
 *	mov esi, 0x600080
 *	mov ecx, FILESZ			; patched
 * 1:	cmp byte [rsi], 0x11; jne 8f; inc rsi; dec ecx; jnz 1b
 * 2:	cmp byte [rsi], 0; jne 9f; inc rsi; cmp esi, 0x603000; jb 2b
 *	mov byte [rsi - 1], 7; cmp byte [rsi - 1], 7; jne 9f
 *	mov edi, 42; jmp 7f
 * 8:	mov edi, 1; jmp 7f
 * 9:	mov edi, 2
 * 7:	mov eax, 60; syscall
 */
static const uint8_t check_code[] = {
	0xbe, 0x80, 0x00, 0x60, 0x00, 0xb9, 0x00, 0x01, 0x00, 0x00, 0x80, 0x3e, 0x11, 0x75,
	0x28, 0x48, 0xff, 0xc6, 0xff, 0xc9, 0x75, 0xf4, 0x80, 0x3e, 0x00, 0x75, 0x23, 0x48,
	0xff, 0xc6, 0x81, 0xfe, 0x00, 0x30, 0x60, 0x00, 0x72, 0xf0, 0xc6, 0x46, 0xff, 0x07,
	0x80, 0x7e, 0xff, 0x07, 0x75, 0x0e, 0xbf, 0x2a, 0x00, 0x00, 0x00, 0xeb, 0x0c, 0xbf,
	0x01, 0x00, 0x00, 0x00, 0xeb, 0x05, 0xbf, 0x02, 0x00, 0x00, 0x00, 0xb8, 0x3c, 0x00,
	0x00, 0x00, 0x0f, 0x05,
};

/* The executable NAME with filesz bytes of data. */
static int write_prog(const char *name, uint32_t filesz)
{
	static uint8_t f[FILE_SIZE];
	int fd, ok;

	memset(f, FILL, sizeof(f));
	memset(f, 0, CODE_AT);
	elfmake_ehdr(f, 2, EXE_BASE + CODE_AT, 2); /* ET_EXEC */
	elfmake_phdr(f + PHDR_AT, ELFMAKE_PT_LOAD, 5, 0, EXE_BASE, CODE_AT + sizeof(check_code),
		     CODE_AT + sizeof(check_code));
	elfmake_phdr(f + PHDR_AT + 56, ELFMAKE_PT_LOAD, 6, DATA_OFF, DATA_VA, filesz,
		     DATA_END - DATA_VA);
	memcpy(f + CODE_AT, check_code, sizeof(check_code));
	elfmake_w32(f + CODE_AT + FILESZ_AT, filesz);
	memset(f + DATA_OFF, 0x11, filesz);
	fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ok = fd >= 0 && write(fd, f, sizeof(f)) == (ssize_t)sizeof(f);
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* One line of /proc/self/maps. */
struct map_line {
	unsigned long start, end, offset, ino;
	char perms[5];
	char path[256];
};

/* The line of /proc/self/maps whose range holds addr: 0, or -1. */
static int find_map(const void *addr, struct map_line *m)
{
	unsigned long a = (unsigned long)addr;
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = -1;

	if (!f)
		return -1;
	while (found && fgets(line, sizeof(line), f)) {
		unsigned dmaj, dmin;

		m->path[0] = '\0';
		if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %255s", &m->start, &m->end, m->perms,
			   &m->offset, &dmaj, &dmin, &m->ino, m->path) >= 7 &&
		    m->start <= a && a < m->end)
			found = 0;
	}
	fclose(f);
	return found;
}

/* Whether the len bytes at addr equal those of file exe at the offset
 * its maps line m gives them. */
static int bytes_from_file(const char *exe, const struct map_line *m, const void *addr,
			   size_t len)
{
	static uint8_t buf[256];
	int fd = open(exe, O_RDONLY);
	ssize_t n = fd >= 0 && len <= sizeof(buf)
			    ? pread(fd, buf, len, (off_t)(m->offset + (unsigned long)addr - m->start))
			    : -1;

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)len && !memcmp(buf, addr, len);
}

/* In the executable's data segment, never written: still the file's. */
int imgload_data = 0x5eed;

/* The maps line of the segment holding addr names the executable (path
 * and inode) at the offset where its len bytes at addr are. */
static void check_segment(const char *exe, unsigned long ino, const void *addr, size_t len,
			  const char *what)
{
	struct map_line m;
	char name[160];

	snprintf(name, sizeof(name), "/proc/self/maps: %s lies in a mapping", what);
	if (!ABI_EQ(find_map(addr, &m), 0, name))
		return;
	snprintf(name, sizeof(name), "/proc/self/maps: the %s mapping names the executable", what);
	abi_check(!strcmp(m.path, exe), name, "path %s, want %s", m.path, exe);
	snprintf(name, sizeof(name), "/proc/self/maps: the %s mapping has its inode", what);
	ABI_EQ(m.ino, ino, name);
	snprintf(name, sizeof(name), "/proc/self/maps: the %s mapping's offset is its bytes'",
		 what);
	abi_check(bytes_from_file(exe, &m, addr, len), name, "offset %#lx of %lx-%lx", m.offset,
		  m.start, m.end);
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = {0x100, 0x1000 - 0x80, 0x1000};
	static char exe[256];
	const char *dir;
	struct stat st;
	ssize_t n;

	abi_init("imgload");
	dir = abi_workdir(argc, argv);

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char what[160];

		snprintf(what, sizeof(what), "write an executable with %#x data bytes", sizes[i]);
		ABI_EQ(write_prog("prog", sizes[i]), 0, what);
		snprintf(what, sizeof(what),
			 "execve: %#x data bytes read, the file's bytes past them zero up to memsz "
			 "(exit 42)",
			 sizes[i]);
		ABI_EQ(elfmake_run("./prog"), 42 << 8, what);
	}
	ABI_EQ(unlink("prog"), 0, "unlink prog");
	ABI_EQ(chdir("/"), 0, "chdir /");
	ABI_EQ(rmdir(dir), 0, "the work directory is empty and removed");

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ABI_OK(n > 0, "readlink /proc/self/exe");
	exe[n > 0 ? n : 0] = '\0';
	ABI_EQ(stat(exe, &st), 0, "stat the executable");
	check_segment(exe, st.st_ino, (const void *)main, 64, "code");
	check_segment(exe, st.st_ino, &imgload_data, sizeof(imgload_data), "data");
	return abi_done();
}
