/*
 * mmapfile [DIR]: file mappings and the calls around them, on files made
 * in DIR/abi-mmapfile-PID (DIR default /tmp): MAP_PRIVATE reads a file's
 * bytes and keeps its stores to itself; MAP_SHARED stores reach the file
 * (read back with pread) after msync and after munmap, and after the exit
 * of a forked child that stored; offsets; a mapping of several hundred
 * KiB checked by checksum; the zeros after the end of a file in its last
 * page, and SIGBUS for a page wholly past it; mmap's errors for file
 * mappings (EBADF, EACCES, ENODEV, EINVAL); msync's and madvise's errors; MADV_DONTNEED (anonymous pages read zero
 * again, private file pages read the file again); mremap (shrink, grow in
 * place, grow by moving with the contents kept, ENOMEM without
 * MREMAP_MAYMOVE); /proc/self/maps lines of file mappings.
 *
 * Checks print as "ok N - ..." lines (tests/abi/abi.h); exit 0 iff all
 * passed. Expectations are Linux's: the program passes on the host.
 */
#include "abi.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define PAGE	  4096L
#define BIG_PAGES 192 /* 768 KiB */

static unsigned char pattern(long i)
{
	return (unsigned char)(i * 7 + i / 4093 + 1);
}

/* A file of size bytes of pattern(offset), or -1. */
static int make_file(const char *name, long size)
{
	unsigned char buf[PAGE];
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);

	for (long off = 0; fd >= 0 && off < size; off += PAGE) {
		long n = size - off < PAGE ? size - off : PAGE;

		for (long i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		if (write(fd, buf, (size_t)n) != n) {
			printf("# could not write %s: %s\n", name, strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* The byte at off of the file fd (pread), or -1. */
static int byte_at(int fd, long off)
{
	unsigned char c;

	return pread(fd, &c, 1, off) == 1 ? c : -1;
}

/* How many of len bytes at p differ from pattern(base + i). */
static long pattern_diffs(const unsigned char *p, long base, long len)
{
	long bad = 0;

	for (long i = 0; i < len; i++)
		bad += p[i] != pattern(base + i);
	return bad;
}

static unsigned long checksum(const unsigned char *p, long len)
{
	unsigned long sum = 0;

	for (long i = 0; i < len; i++)
		sum = sum * 31 + p[i];
	return sum;
}

static void test_private(void)
{
	long size = 3 * PAGE + 100;
	int fd = make_file("priv", size), ro = open("priv", O_RDONLY);
	unsigned char *m = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE, ro, 0), *w;
	long zeros = 0;

	ABI_OK(fd >= 0 && ro >= 0 && m != MAP_FAILED, "mmap MAP_PRIVATE PROT_READ of an O_RDONLY file");
	if (m == MAP_FAILED)
		return;
	ABI_EQ(pattern_diffs(m, 0, size), 0, "private mapping: every byte is the file's");
	for (long i = size; i < 4 * PAGE; i++)
		zeros += m[i] == 0;
	ABI_EQ(zeros, 4 * PAGE - size, "after the end of the file, its last page reads zeros");
	munmap(m, 4 * PAGE);

	w = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, PAGE);
	ABI_OK(w != MAP_FAILED, "mmap MAP_PRIVATE read-write at offset 4096 of an O_RDONLY file");
	if (w == MAP_FAILED)
		return;
	ABI_EQ(pattern_diffs(w, PAGE, 2 * PAGE), 0, "offset mapping: the file's bytes from 4096");
	w[10] = 0xee;
	w[PAGE + 20] = 0xdd;
	ABI_EQ(w[10], 0xee, "private store: seen in the mapping");
	ABI_EQ(byte_at(fd, PAGE + 10), pattern(PAGE + 10), "private store: not in the file");
	ABI_EQ(madvise(w, PAGE, MADV_DONTNEED), 0, "madvise MADV_DONTNEED on a private file page");
	ABI_EQ(w[10], pattern(PAGE + 10), "after MADV_DONTNEED the page reads the file again");
	ABI_EQ(w[PAGE + 20], 0xdd, "the store in the other page stays");
	munmap(w, 2 * PAGE);
	ABI_EQ(byte_at(fd, 2 * PAGE + 20), pattern(2 * PAGE + 20), "after munmap: the file unchanged");
	close(ro);
	close(fd);
}

/* A page of the mapping wholly past the file's end: SIGBUS (BUS_ADRERR),
 * in a child, which dies of it. */
static void test_past_end(void)
{
	int fd = make_file("short", 100), status = 0;
	unsigned char *m = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	pid_t child;

	ABI_OK(fd >= 0 && m != MAP_FAILED, "mmap two pages of a 100-byte file");
	if (m == MAP_FAILED)
		return;
	ABI_EQ(m[99], pattern(99), "its first page has the file's bytes");
	child = fork();
	if (child == 0)
		_exit(m[PAGE]); /* the second page: past the end */
	ABI_EQ(waitpid(child, &status, 0), child, "waitpid for the child reading past the end");
	ABI_OK(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
	       "a read of a page wholly past the end of the file: SIGBUS");
	munmap(m, 2 * PAGE);
	close(fd);
}

static void test_shared(void)
{
	int fd = make_file("shared", 4 * PAGE), status = -1;
	unsigned char *m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pid_t child;

	ABI_OK(fd >= 0 && m != MAP_FAILED, "mmap MAP_SHARED read-write of an O_RDWR file");
	if (m == MAP_FAILED)
		return;
	ABI_EQ(pattern_diffs(m, 0, 4 * PAGE), 0, "shared mapping: the file's bytes");
	m[5] = 0xa5;
	m[3 * PAGE + 7] = 0x5a;
	ABI_EQ(msync(m, 4 * PAGE, MS_SYNC), 0, "msync MS_SYNC");
	ABI_EQ(byte_at(fd, 5), 0xa5, "after msync: a store in page 0 is in the file");
	ABI_EQ(byte_at(fd, 3 * PAGE + 7), 0x5a, "after msync: a store in page 3 is in the file");
	ABI_EQ(byte_at(fd, 6), pattern(6), "after msync: its neighbour unchanged");
	ABI_EQ(msync(m, PAGE, MS_ASYNC | MS_INVALIDATE), 0, "msync MS_ASYNC|MS_INVALIDATE");

	fflush(stdout);
	child = fork();
	if (child == 0) {
		m[PAGE + 1] = 0x42;
		_exit(0);
	}
	waitpid(child, &status, 0);
	ABI_EQ(status, 0, "a forked child stored into the shared mapping and exited");
	ABI_EQ(byte_at(fd, PAGE + 1), 0x42, "the child's store is in the file after its exit");

	m[2 * PAGE + 9] = 0x99;
	ABI_EQ(munmap(m, 4 * PAGE), 0, "munmap of the shared mapping");
	ABI_EQ(byte_at(fd, 2 * PAGE + 9), 0x99, "after munmap: the store is in the file");
	ABI_EQ(byte_at(fd, PAGE + 1), 0x42, "after munmap: the child's store is still there");
	close(fd);
}

static void test_big(void)
{
	long size = BIG_PAGES * PAGE;
	int fd = make_file("big", size);
	unsigned char *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0), *s, *buf;
	unsigned long want;
	long bad = 0;

	ABI_OK(fd >= 0 && m != MAP_FAILED, "mmap a 768 KiB file");
	if (m == MAP_FAILED)
		return;
	buf = malloc((size_t)size);
	ABI_EQ(pread(fd, buf, (size_t)size, 0), size, "pread the whole file");
	want = checksum(buf, size);
	ABI_OK(checksum(m, size) == want, "768 KiB private mapping: checksum as read()");
	munmap(m, size);

	s = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ABI_OK(s != MAP_FAILED, "mmap it MAP_SHARED");
	if (s == MAP_FAILED)
		return;
	for (long i = 0; i < size; i += 64)
		s[i] ^= 0xff;
	ABI_EQ(munmap(s, size), 0, "munmap after a store every 64 bytes");
	ABI_EQ(pread(fd, buf, (size_t)size, 0), size, "pread it again");
	for (long i = 0; i < size; i++)
		bad += buf[i] != (i % 64 ? pattern(i) : (unsigned char)(pattern(i) ^ 0xff));
	ABI_EQ(bad, 0, "every store of the 768 KiB shared mapping is in the file");
	free(buf);
	close(fd);
}

static void test_errors(void)
{
	int fd = make_file("err", PAGE), ro = open("err", O_RDONLY), wo = open("err", O_WRONLY);
	int dir = open(".", O_RDONLY), pfd[2] = {-1, -1};

	ABI_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, -1, 0), EBADF, "mmap fd -1: EBADF");
	ABI_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 999, 0), EBADF, "mmap fd 999: EBADF");
	ABI_ERR(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES,
		"mmap MAP_SHARED PROT_WRITE of an O_RDONLY fd: EACCES");
	ABI_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, wo, 0), EACCES,
		"mmap of an O_WRONLY fd: EACCES");
	ABI_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 100), EINVAL,
		"mmap at an unaligned offset: EINVAL");
	ABI_ERR(mmap(NULL, 0, PROT_READ, MAP_PRIVATE, fd, 0), EINVAL, "mmap of length 0: EINVAL");
	ABI_ERR(syscall(SYS_mmap, 0, 0, PROT_READ, MAP_PRIVATE, -1, 0), EBADF,
		"mmap of length 0 of fd -1: EBADF first");
	ABI_OK(pipe(pfd) == 0, "pipe");
	ABI_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, pfd[0], 0), ENODEV,
		"mmap of a pipe: ENODEV");
	ABI_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, dir, 0), ENODEV,
		"mmap of a directory: ENODEV");
	close(pfd[0]);
	close(pfd[1]);
	close(dir);
	close(wo);
	close(ro);
	close(fd);
}

static void test_hints(void)
{
	unsigned char *m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ABI_OK(m != MAP_FAILED, "mmap 4 anonymous pages");
	if (m == MAP_FAILED)
		return;
	memset(m, 0x77, 4 * PAGE);
	ABI_EQ(madvise(m + PAGE, 2 * PAGE, MADV_DONTNEED), 0, "madvise MADV_DONTNEED");
	ABI_EQ(m[PAGE] + m[3 * PAGE - 1], 0, "MADV_DONTNEED: the pages read zero again");
	ABI_EQ(m[0] + m[3 * PAGE], 2 * 0x77, "MADV_DONTNEED: the pages around it kept");
	ABI_EQ(madvise(m, 4 * PAGE, MADV_SEQUENTIAL), 0, "madvise MADV_SEQUENTIAL");
	ABI_EQ(madvise(m, 4 * PAGE, MADV_WILLNEED), 0, "madvise MADV_WILLNEED");
	ABI_EQ(madvise(m, 4 * PAGE, MADV_RANDOM), 0, "madvise MADV_RANDOM");
	ABI_EQ(madvise(m, 4 * PAGE, MADV_NORMAL), 0, "madvise MADV_NORMAL");
	ABI_ERR(madvise(m, PAGE, 12345), EINVAL, "madvise unknown advice: EINVAL");
	ABI_ERR(madvise(m + 1, PAGE, MADV_NORMAL), EINVAL, "madvise unaligned: EINVAL");
	ABI_ERR(msync(m + 1, PAGE, MS_SYNC), EINVAL, "msync unaligned: EINVAL");
	ABI_ERR(msync(m, PAGE, MS_SYNC | MS_ASYNC), EINVAL, "msync MS_SYNC|MS_ASYNC: EINVAL");
	ABI_ERR(msync(m, PAGE, 0x100), EINVAL, "msync unknown flag: EINVAL");
	munmap(m + 2 * PAGE, PAGE);
	ABI_ERR(msync(m, 4 * PAGE, MS_SYNC), ENOMEM, "msync over a hole: ENOMEM");
	ABI_ERR(madvise(m, 4 * PAGE, MADV_NORMAL), ENOMEM, "madvise over a hole: ENOMEM");
	munmap(m, 4 * PAGE);
}

static void test_mremap(void)
{
	unsigned char *m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *g, *s;
	long bad = 0, zeros = 0;

	ABI_OK(m != MAP_FAILED, "mmap 4 anonymous pages");
	if (m == MAP_FAILED)
		return;
	for (long i = 0; i < 4 * PAGE; i++)
		m[i] = pattern(i);
	ABI_ERR(mremap(m, PAGE, 2 * PAGE, 0), ENOMEM,
		"mremap grow of a page inside a mapping without MREMAP_MAYMOVE: ENOMEM");
	ABI_ERR(mremap(m + 1, PAGE, 2 * PAGE, MREMAP_MAYMOVE), EINVAL,
		"mremap unaligned: EINVAL");
	ABI_ERR(mremap(m, PAGE, 0, MREMAP_MAYMOVE), EINVAL, "mremap to length 0: EINVAL");
	ABI_ERR(mremap(m, PAGE, PAGE, MREMAP_FIXED), EINVAL,
		"mremap MREMAP_FIXED without MREMAP_MAYMOVE: EINVAL");
	s = mremap(m, 4 * PAGE, 3 * PAGE, 0);
	ABI_OK(s == m, "mremap shrink: same address");
	g = mremap(m, 3 * PAGE, 64 * PAGE, MREMAP_MAYMOVE);
	ABI_OK(g != MAP_FAILED, "mremap grow to 64 pages with MREMAP_MAYMOVE");
	if (g == MAP_FAILED)
		return;
	for (long i = 0; i < 3 * PAGE; i++)
		bad += g[i] != pattern(i);
	for (long i = 3 * PAGE; i < 64 * PAGE; i++)
		zeros += g[i] == 0;
	ABI_EQ(bad, 0, "mremap grow: the contents kept");
	ABI_EQ(zeros, 61 * PAGE, "mremap grow: the new pages read zero");
	g[63 * PAGE] = 1;
	ABI_EQ(g[63 * PAGE], 1, "mremap grow: the new pages are writable");
	munmap(g, 64 * PAGE);
}

/* A line of /proc/self/maps that starts with start and contains each
 * further string (NULL-terminated list). */
static int maps_has(const char *start, ...)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		va_list ap;
		const char *s;

		if (strncmp(line, start, strlen(start)))
			continue;
		found = 1;
		va_start(ap, start);
		while ((s = va_arg(ap, const char *)))
			found &= strstr(line, s) != NULL;
		va_end(ap);
	}
	if (f)
		fclose(f);
	return found;
}

static void test_maps(const char *dir)
{
	int fd = make_file("mapped", 3 * PAGE);
	unsigned char *m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PAGE);
	unsigned char *p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	struct stat st;
	char head[64], ino[32], path[300];

	ABI_OK(fd >= 0 && m != MAP_FAILED && p != MAP_FAILED && fstat(fd, &st) == 0,
	       "map a file twice");
	if (m == MAP_FAILED || p == MAP_FAILED)
		return;
	snprintf(head, sizeof(head), "%08lx-%08lx rw-s 00001000 ", (unsigned long)m,
		 (unsigned long)(m + 2 * PAGE));
	snprintf(ino, sizeof(ino), " %lu ", (unsigned long)st.st_ino);
	snprintf(path, sizeof(path), "%s/mapped\n", dir);
	ABI_OK(maps_has(head, ino, path, (char *)NULL),
	       "/proc/self/maps: MAP_SHARED at offset 4096 with its inode and path");
	snprintf(head, sizeof(head), "%08lx-%08lx r--p 00000000 ", (unsigned long)p,
		 (unsigned long)(p + PAGE));
	ABI_OK(maps_has(head, ino, path, (char *)NULL),
	       "/proc/self/maps: MAP_PRIVATE at offset 0 with its inode and path");
	munmap(m, 2 * PAGE);
	munmap(p, PAGE);
	close(fd);
}

int main(int argc, char **argv)
{
	const char *dir;

	abi_init("mmapfile");
	dir = abi_workdir(argc, argv);
	test_private();
	test_past_end();
	test_shared();
	test_big();
	test_errors();
	test_hints();
	test_mremap();
	test_maps(dir);
	unlink("priv");
	unlink("short");
	unlink("shared");
	unlink("big");
	unlink("err");
	unlink("mapped");
	chdir("/");
	rmdir(dir);
	return abi_done();
}
