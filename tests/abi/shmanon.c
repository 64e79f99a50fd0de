/*
 * shmanon: shared anonymous memory (mmap MAP_SHARED | MAP_ANONYMOUS)
 * between a parent and its forked child, as Linux has it: one copy of
 * each page, no copy-on-write. The parent stores before the fork and the
 * child reads it; the child stores and msyncs, then tells the parent by
 * a pipe, and the parent reads the child's bytes; the parent stores and
 * msyncs, the child reads them; the child stores and exits without msync,
 * and the parent reads them after waitpid. Then MADV_DONTNEED keeps the
 * pages (they are the object's), MADV_FREE is EINVAL, /proc/self/maps
 * shows the mapping shared at offset 0 as "/dev/zero (deleted)", and
 * munmap works.
 *
 * Then a child reads a page the parent just stored and execs: the
 * parent's page is whole after the exec.
 *
 * Each side touches a page for the first time only after the other
 * side's store was made visible by msync or exit (a page is not read
 * early and kept), so the program asks nothing about how soon a store is
 * seen without msync: it passes wherever msync and exit write back.
 *
 * Checks print as "ok N - ..." lines (tests/abi/abi.h); the child
 * reports through its exit status. Expectations are Linux's.
 */
#include "abi.h"

#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE  4096L
#define PAGES 16

/* Byte i of page pattern seed. */
static unsigned char pat(long i, int seed)
{
	return (unsigned char)(i * 13 + seed * 41 + 1);
}

static void fill(unsigned char *p, int seed)
{
	for (long i = 0; i < PAGE; i++)
		p[i] = pat(i, seed);
}

/* How many bytes of the page p differ from pattern seed. */
static long diffs(const unsigned char *p, int seed)
{
	long bad = 0;

	for (long i = 0; i < PAGE; i++)
		bad += p[i] != pat(i, seed);
	return bad;
}

/* The child: bit 0 the parent's pre-fork page wrong, bit 1 its msync or
 * pipe failed, bit 2 the parent's msync'ed page wrong. */
static int child_main(unsigned char *m, int to_parent, int from_parent)
{
	int status = 0;
	char c = 'x';

	if (diffs(m, 1))
		status |= 1;
	fill(m + 4 * PAGE, 2);
	if (msync(m + 4 * PAGE, PAGE, MS_SYNC) != 0 || write(to_parent, &c, 1) != 1)
		status |= 2;
	if (read(from_parent, &c, 1) != 1 || diffs(m + 8 * PAGE, 3))
		status |= 4;
	fill(m + 12 * PAGE, 4); /* written back by the exit alone */
	return status;
}

/* A line of /proc/self/maps that starts with head and ends with tail
 * (before its newline). */
static int maps_line(const char *head, const char *tail)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\n"), t = strlen(tail);

		found = !strncmp(line, head, strlen(head)) && n >= t &&
			!strncmp(line + n - t, tail, t);
	}
	if (f)
		fclose(f);
	return found;
}

int main(void)
{
	unsigned char *m = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int up[2], down[2], status = -1;
	char c = 'y', head[64];
	pid_t child;

	abi_init("shmanon");
	ABI_OK(m != MAP_FAILED, "mmap MAP_SHARED|MAP_ANONYMOUS of 16 pages");
	if (m == MAP_FAILED || pipe(up) || pipe(down))
		return abi_done();
	snprintf(head, sizeof(head), "%08lx-%08lx rw-s 00000000 ", (unsigned long)m,
		 (unsigned long)(m + PAGES * PAGE));
	ABI_OK(maps_line(head, " /dev/zero (deleted)"),
	       "/proc/self/maps: shared, at offset 0, named /dev/zero (deleted)");
	ABI_EQ(m[2 * PAGE], 0, "a page never written reads zero");
	fill(m, 1);

	fflush(stdout);
	child = fork();
	if (child == 0)
		_exit(child_main(m, up[1], down[0]));
	ABI_OK(child > 0, "fork");
	ABI_EQ(read(up[0], &c, 1), 1, "the child stored a page and msynced it");
	ABI_EQ(diffs(m + 4 * PAGE, 2), 0, "the parent reads the child's page");
	fill(m + 8 * PAGE, 3);
	ABI_EQ(msync(m + 8 * PAGE, PAGE, MS_SYNC), 0, "msync of the parent's page");
	ABI_EQ(write(down[1], &c, 1), 1, "tell the child");
	ABI_EQ(waitpid(child, &status, 0), child, "waitpid");
	ABI_OK(WIFEXITED(status), "the child exited");
	ABI_EQ(WEXITSTATUS(status) & 1, 0, "the child read the parent's page stored before fork");
	ABI_EQ(WEXITSTATUS(status) & 2, 0, "the child's msync and pipe write worked");
	ABI_EQ(WEXITSTATUS(status) & 4, 0, "the child read the parent's page stored after fork");
	ABI_EQ(diffs(m + 12 * PAGE, 4), 0, "the parent reads the page the child stored and exited");
	ABI_EQ(diffs(m, 1), 0, "the parent's own page is unchanged");

	fill(m + 14 * PAGE, 5); /* dirty here when the child execs */
	fflush(stdout);
	child = fork();
	if (child == 0) {
		char *argv[] = {"true", NULL};

		if (diffs(m + 14 * PAGE, 5))
			_exit(1);
		execve("/bin/busybox", argv, (char *[]){NULL});
		_exit(2);
	}
	ABI_EQ(waitpid(child, &status, 0), child, "waitpid the child that read a page and exec'd");
	ABI_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "it read the page and exec'd true");
	ABI_EQ(diffs(m + 14 * PAGE, 5), 0, "the parent's page, shared with it, survives its exec");

	ABI_EQ(madvise(m, PAGES * PAGE, MADV_DONTNEED), 0, "madvise MADV_DONTNEED");
	ABI_EQ(diffs(m + 4 * PAGE, 2) + diffs(m + 12 * PAGE, 4), 0,
	       "after MADV_DONTNEED the shared pages keep their bytes");
	ABI_ERR(madvise(m, PAGE, MADV_FREE), EINVAL, "madvise MADV_FREE of shared memory: EINVAL");
	ABI_EQ(munmap(m, PAGES * PAGE), 0, "munmap");
	return abi_done();
}
