/*
 * mmaptest CASE: one check of the memory node's VMA handling per run
 * (include/proto/mem.h: MEM_MMAP, MEM_MUNMAP, MEM_MPROTECT, MEM_BRK), as a
 * static Linux program so that the host shows what Linux does.
 *
 * Each case prints "ok CASE" and exits 0 when the check holds, or exits 1
 * with a message; the cases that must fault end in SIGSEGV (the shell's
 * status 139) before printing "ok":
 *   anon               mmap anonymous RW: reads zero, write/read back,
 *                      munmap, a second mmap reads zero again
 *   segv-after-munmap  a read of a page after munmap: SIGSEGV
 *   mprotect-ro        mprotect PROT_READ keeps the data readable, then a
 *                      write: SIGSEGV
 *   mprotect-rw        PROT_NONE, then mprotect PROT_READ|PROT_WRITE: usable
 *   brk                the raw brk system call (musl refuses sbrk): grow
 *                      by 8 MiB, write, shrink, grow again: the re-grown
 *                      pages read as zero
 *   fixed              MAP_FIXED over the middle of a mapping replaces those
 *                      pages with zeros and leaves the others alone
 *   big-reserve        a 128 MiB PROT_NONE reservation, 1 MiB of it made
 *                      RW by mprotect and used (what glibc's thread arenas do)
 *   file               a 2 MiB file in /tmp (twice a 1 MiB ExCache) mapped
 *                      MAP_SHARED and scribbled over: after munmap read()
 *                      sees every byte; a forked child's MAP_SHARED stores
 *                      reach the file at its exit; a MAP_PRIVATE mapping's
 *                      stores never do
 *   first-touch        FIRST_TOUCH_PAGES pages of .bss and as many of stack,
 *                      first touched here, read zero and keep what is written;
 *                      on Tessera it also prints its "excache:" line, whose
 *                      zero_fills and fresh_fills say whether those first
 *                      touches asked the memory node (memory_test.py checks)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tu.h"

#define USAGE                                                                            \
	"CASE   (anon, segv-after-munmap, mprotect-ro, mprotect-rw, brk, fixed, "        \
	"big-reserve, file, first-touch)"

static unsigned char *map_anon(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tu_fail("mmap of %zu bytes (prot %d) failed: %s", len, prot,
			strerror(errno));
	return p;
}

static void unmap(void *p, size_t len)
{
	if (munmap(p, len) != 0)
		tu_fail("munmap(%p, %zu) failed: %s", p, len, strerror(errno));
}

static void protect(void *p, size_t len, int prot)
{
	if (mprotect(p, len, prot) != 0)
		tu_fail("mprotect(%p, %zu, %d) failed: %s", p, len, prot,
			strerror(errno));
}

/* Every byte of [p, p+len) must be want; what names the region. */
static void expect_bytes(const volatile unsigned char *p, size_t len, unsigned char want,
			 const char *what)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != want)
			tu_fail("%s: byte at %p (offset 0x%zx) is 0x%02x, expected "
				"0x%02x",
				what, (void *)&p[i], i, p[i], want);
}

/* Writes a word pattern of seed over every page (one word per 64 bytes). */
static void scribble(volatile unsigned char *p, size_t len, uint64_t seed)
{
	for (size_t o = 0; o < len; o += 64)
		*(volatile uint64_t *)(p + o) = tu_pattern(o / 64, seed);
}

static void check_scribble(const volatile unsigned char *p, size_t len, uint64_t seed,
			   const char *what)
{
	for (size_t o = 0; o < len; o += 64) {
		uint64_t got = *(const volatile uint64_t *)(p + o),
			 want = tu_pattern(o / 64, seed);

		if (got != want)
			tu_fail("%s: word at %p (offset 0x%zx) is 0x%016llx, expected "
				"0x%016llx",
				what, (void *)(p + o), o, (unsigned long long)got,
				(unsigned long long)want);
	}
}

static void case_anon(void)
{
	size_t len = 16 * TU_PAGE;
	unsigned char *p = map_anon(len, PROT_READ | PROT_WRITE);

	expect_bytes(p, len, 0, "fresh anonymous mapping");
	scribble(p, len, 1);
	check_scribble(p, len, 1, "anonymous mapping after writing");
	unmap(p, len);
	p = map_anon(len, PROT_READ | PROT_WRITE);
	expect_bytes(p, len, 0, "second anonymous mapping");
	scribble(p, len, 2);
	check_scribble(p, len, 2, "second mapping after writing");
	unmap(p, len);
}

/* Reads a page after munmap: must not come back. */
static void case_segv_after_munmap(void)
{
	size_t len = 4 * TU_PAGE;
	volatile unsigned char *p = map_anon(len, PROT_READ | PROT_WRITE);
	unsigned char v;

	scribble(p, len, 3);
	unmap((void *)p, len);
	v = p[TU_PAGE + 8];
	tu_fail("a read at %p after munmap returned 0x%02x instead of SIGSEGV",
		(void *)(p + TU_PAGE + 8), v);
}

static void case_mprotect_ro(void)
{
	size_t len = 4 * TU_PAGE;
	volatile unsigned char *p = map_anon(len, PROT_READ | PROT_WRITE);

	scribble(p, len, 4);
	protect((void *)p, len, PROT_READ);
	check_scribble(p, len, 4, "mapping after mprotect PROT_READ");
	p[2 * TU_PAGE] = 0x5a;
	tu_fail("a write at %p after mprotect PROT_READ did not fault",
		(void *)(p + 2 * TU_PAGE));
}

static void case_mprotect_rw(void)
{
	size_t len = 8 * TU_PAGE;
	unsigned char *p = map_anon(len, PROT_NONE);

	protect(p, len, PROT_READ | PROT_WRITE);
	expect_bytes(p, len, 0, "PROT_NONE mapping made RW");
	scribble(p, len, 5);
	check_scribble(p, len, 5, "PROT_NONE mapping made RW, after writing");
	unmap(p, len);
}

static uintptr_t raw_brk(uintptr_t addr)
{
	return (uintptr_t)syscall(SYS_brk, addr);
}

static void case_brk(void)
{
	size_t grow = 8ul << 20;
	uintptr_t cur = raw_brk(0), end, got;
	volatile unsigned char *p;

	if (cur == 0 || cur % 8)
		tu_fail("brk(0) returned %#lx", (unsigned long)cur);
	/* start at a page boundary, so that the whole area is fresh pages */
	cur = (cur + TU_PAGE - 1) & ~(TU_PAGE - 1);
	end = cur + grow;
	got = raw_brk(end);
	if (got != end)
		tu_fail("brk(%#lx) to grow by 8 MiB returned %#lx", (unsigned long)end,
			(unsigned long)got);
	p = (volatile unsigned char *)cur;
	expect_bytes(p, grow, 0, "new brk area");
	scribble(p, grow, 6);
	check_scribble(p, grow, 6, "brk area after writing");
	got = raw_brk(cur);
	if (got != cur)
		tu_fail("brk(%#lx) to shrink returned %#lx", (unsigned long)cur,
			(unsigned long)got);
	got = raw_brk(end);
	if (got != end)
		tu_fail("brk(%#lx) to grow again returned %#lx", (unsigned long)end,
			(unsigned long)got);
	expect_bytes(p, grow, 0, "brk area shrunk and grown again");
	scribble(p, grow, 7);
	check_scribble(p, grow, 7, "re-grown brk area after writing");
	if (raw_brk(cur) != cur)
		tu_fail("brk(%#lx) to shrink at the end failed", (unsigned long)cur);
}

static void case_fixed(void)
{
	size_t len = 8 * TU_PAGE;
	unsigned char *p = map_anon(len, PROT_READ | PROT_WRITE), *q;

	memset(p, 0xaa, len);
	q = mmap(p + 2 * TU_PAGE, 3 * TU_PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (q != p + 2 * TU_PAGE)
		tu_fail("mmap MAP_FIXED at %p returned %p (%s)",
			(void *)(p + 2 * TU_PAGE), (void *)q,
			q == MAP_FAILED ? strerror(errno) : "another address");
	expect_bytes(p, 2 * TU_PAGE, 0xaa, "pages before the MAP_FIXED range");
	expect_bytes(q, 3 * TU_PAGE, 0, "the MAP_FIXED range");
	expect_bytes(p + 5 * TU_PAGE, 3 * TU_PAGE, 0xaa,
		     "pages after the MAP_FIXED range");
	memset(q, 0x55, 3 * TU_PAGE);
	expect_bytes(q, 3 * TU_PAGE, 0x55, "the MAP_FIXED range after writing");
	expect_bytes(p + 5 * TU_PAGE, TU_PAGE, 0xaa, "the page after it, after writing");
	unmap(p, len);
}

static void case_big_reserve(void)
{
	size_t len = 128ul << 20, off = 64ul << 20, rw = 1ul << 20;
	unsigned char *p = mmap(NULL, len, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		tu_fail("mmap of a 128 MiB PROT_NONE reservation failed: %s",
			strerror(errno));
	protect(p + off, rw, PROT_READ | PROT_WRITE);
	expect_bytes(p + off, rw, 0, "1 MiB made RW in the reservation");
	scribble(p + off, rw, 8);
	check_scribble(p + off, rw, 8, "1 MiB made RW, after writing");
	unmap(p, len);
}

/* The file's len bytes (pread) match scribble seed, or fail with what. */
static void check_file(int fd, size_t len, uint64_t seed, const char *what)
{
	unsigned char *buf = malloc(len);

	if (!buf || pread(fd, buf, len, 0) != (ssize_t)len)
		tu_fail("%s: pread of %zu bytes failed: %s", what, len, strerror(errno));
	check_scribble(buf, len, seed, what);
	free(buf);
}

static void case_file(void)
{
	size_t len = 2ul << 20;
	char name[64];
	unsigned char *p;
	int fd, status = -1;
	pid_t child;

	snprintf(name, sizeof(name), "/tmp/mmaptest-file-%d", (int)getpid());
	fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)len))
		tu_fail("cannot make %s: %s", name, strerror(errno));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		tu_fail("mmap MAP_SHARED of %zu bytes failed: %s", len, strerror(errno));
	expect_bytes(p, len, 0, "a new file's shared mapping");
	scribble(p, len, 9);
	unmap(p, len);
	check_file(fd, len, 9, "the file after munmap of its scribbled shared mapping");
	child = fork();
	if (child == 0) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(2);
		scribble(p, len, 10);
		_exit(0); /* no munmap: the exit writes back */
	}
	if (child < 0 || waitpid(child, &status, 0) != child || status != 0)
		tu_fail("the child that scribbles a shared mapping: status %#x", status);
	check_file(fd, len, 10, "the file after a child scribbled its shared mapping");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		tu_fail("mmap MAP_PRIVATE failed: %s", strerror(errno));
	check_scribble(p, len, 10, "the private mapping reads the file");
	scribble(p, len, 11);
	unmap(p, len);
	check_file(fd, len, 10, "the file after stores into a private mapping");
	close(fd);
	unlink(name); /* only now: Tessera's file mappings name the file by path */
}

#define FIRST_TOUCH_PAGES 32

static unsigned char first_touch_bss[FIRST_TOUCH_PAGES * TU_PAGE];

/* Writes and checks a stack array well below main's frame; noinline so
 * the array really is this frame's. */
static __attribute__((noinline)) void first_touch_stack(void)
{
	volatile unsigned char deep[FIRST_TOUCH_PAGES * TU_PAGE];

	for (size_t i = 0; i < sizeof(deep); i += TU_PAGE)
		deep[i] = (unsigned char)(i / TU_PAGE + 1);
	for (size_t i = 0; i < sizeof(deep); i += TU_PAGE)
		if (deep[i] != (unsigned char)(i / TU_PAGE + 1))
			tu_fail("stack page %zu lost its byte", i / TU_PAGE);
}

static void case_first_touch(void)
{
	struct tessera_excache_stats before, after;
	int tessera = tu_excache(&before) == 0;

	expect_bytes(first_touch_bss, sizeof(first_touch_bss), 0, ".bss never written");
	memset(first_touch_bss, 0x5a, sizeof(first_touch_bss));
	expect_bytes(first_touch_bss, sizeof(first_touch_bss), 0x5a, ".bss after writing");
	first_touch_stack();
	if (tessera && tu_excache(&after) == 0)
		tu_excache_print("first-touch", &before, &after);
}

static const struct {
	const char *name;
	void (*run)(void);
} cases[] = {
	{"anon", case_anon},
	{"segv-after-munmap", case_segv_after_munmap},
	{"mprotect-ro", case_mprotect_ro},
	{"mprotect-rw", case_mprotect_rw},
	{"brk", case_brk},
	{"fixed", case_fixed},
	{"big-reserve", case_big_reserve},
	{"file", case_file},
	{"first-touch", case_first_touch},
};

int main(int argc, char **argv)
{
	tu_init("mmaptest");
	if (argc != 2)
		tu_usage(USAGE);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(argv[1], cases[i].name) == 0) {
			cases[i].run();
			printf("ok %s\n", cases[i].name);
			return 0;
		}
	}
	fprintf(stderr, "mmaptest: no case '%s'\n", argv[1]);
	tu_usage(USAGE);
}
