/*
 * shmgen [DIR]: a MAP_SHARED mapping is of the file it was made from,
 * not of whatever file has its inode number later. File systems reuse a
 * freed inode number (ext2 gives the next new file the number just
 * freed); a file unlinked while mapped lives on in its mappings, as on
 * Linux, and a new file that took its number is another file: its own
 * contents when mapped, its own pages, and the old mapping's stores (and
 * msync) never reach it. Tessera names a shared file mapping by (inode,
 * generation) for that (docs/memory.md).
 *
 * In DIR/abi-shmgen-PID: "a" is made, mapped MAP_SHARED and filled with
 * 'A', unlinked; "b" is made (on ext2, with a's inode number: the
 * program says so in a comment line, the checks do not depend on it)
 * and written 'B' with write(); then b mapped MAP_SHARED reads 'B', its
 * stores ('b') and msync reach b's read(), the old mapping still reads
 * 'A'; a store to the old mapping and its msync (0, as on Linux) leave b
 * as it was; a forked child maps b anew, reads 'b', stores 'c' that
 * reach the file, while a's mapping (its and the parent's) reads 'A'.
 *
 * Children never print: they count what they saw wrong and exit with
 * that count. Expectations are Linux's: the program passes on the host.
 */
#include "abi.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE 4096L

/* Bytes of the page p that are not c. */
static long count_not(const char *p, char c)
{
	long bad = 0;

	for (long i = 0; i < PAGE; i++)
		bad += p[i] != c;
	return bad;
}

/* A new file name of PAGE bytes c, written with write(); its fd (O_RDWR). */
static int make_file(const char *name, char c)
{
	char buf[PAGE];
	int fd = open(name, O_RDWR | O_CREAT | O_EXCL, 0644);

	memset(buf, c, sizeof(buf));
	if (fd >= 0 && write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
		close(fd);
		return -1;
	}
	return fd;
}

static char *map_shared(int fd)
{
	char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Bytes of the file fd (read with pread) that differ from the page want. */
static long file_differs(int fd, const char *want)
{
	char buf[PAGE];

	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return PAGE;
	long bad = 0;
	for (long i = 0; i < PAGE; i++)
		bad += buf[i] != want[i];
	return bad;
}

/* The child's part: b (opened anew) mapped MAP_SHARED reads 'b', takes
 * stores of 'c' that msync puts in the file; the old mapping old still
 * reads 'A'. Returns the count of things wrong. */
static int child_maps_b(const char *old)
{
	char want[PAGE];
	int fd = open("b", O_RDWR), bad = 0;
	char *p = fd >= 0 ? map_shared(fd) : NULL;

	if (!p)
		return 100;
	bad += count_not(p, 'b') != 0;
	memset(p, 'c', PAGE);
	bad += msync(p, PAGE, MS_SYNC) != 0;
	memset(want, 'c', PAGE);
	bad += file_differs(fd, want) != 0;
	bad += count_not(old, 'A') != 0;
	bad += munmap(p, PAGE) != 0;
	close(fd);
	return bad;
}

int main(int argc, char **argv)
{
	char want[PAGE];
	struct stat sa, sb;
	const char *dir;
	char *pa, *pb;
	int fa, fb, status = -1;
	pid_t pid;

	abi_init("shmgen");
	dir = abi_workdir(argc, argv);

	/* a: mapped, filled through the mapping, written back, unlinked */
	fa = make_file("a", 'a');
	ABI_OK(fa >= 0, "make a");
	pa = fa >= 0 ? map_shared(fa) : NULL;
	if (!ABI_OK(pa != NULL, "mmap a MAP_SHARED")) {
		printf("Bail out! no mapping of a: %s\n", strerror(errno));
		return 1;
	}
	memset(pa, 'A', PAGE);
	ABI_EQ(msync(pa, PAGE, MS_SYNC), 0, "msync a");
	ABI_EQ(fstat(fa, &sa), 0, "fstat a");
	close(fa);
	ABI_EQ(unlink("a"), 0, "unlink a while mapped");
	ABI_EQ(count_not(pa, 'A'), 0, "a's mapping lives on after the unlink");

	/* b: a new file, maybe under a's number */
	fb = make_file("b", 'B');
	ABI_OK(fb >= 0, "make b");
	ABI_EQ(fstat(fb, &sb), 0, "fstat b");
	printf("# b %s a's inode number (%llu, %llu)\n",
	       sb.st_ino == sa.st_ino ? "has" : "does not have",
	       (unsigned long long)sb.st_ino, (unsigned long long)sa.st_ino);

	/* b mapped by this process, which still maps a */
	pb = map_shared(fb);
	if (!ABI_OK(pb != NULL, "mmap b MAP_SHARED")) {
		printf("Bail out! no mapping of b: %s\n", strerror(errno));
		return 1;
	}
	ABI_EQ(count_not(pb, 'B'), 0, "b's mapping reads b, not a's pages");
	ABI_EQ(count_not(pa, 'A'), 0, "a's mapping still reads a");
	memset(pb, 'b', PAGE);
	ABI_EQ(msync(pb, PAGE, MS_SYNC), 0, "msync b");
	memset(want, 'b', PAGE);
	ABI_EQ(file_differs(fb, want), 0, "b's stores are in b's read()");
	ABI_EQ(count_not(pa, 'A'), 0, "b's stores are not in a's mapping");

	/* the old mapping's stores and msync do not reach b */
	memset(pa, 'Z', PAGE);
	ABI_EQ(msync(pa, PAGE, MS_SYNC), 0, "msync of the unlinked a: 0");
	ABI_EQ(file_differs(fb, want), 0, "a's stores and msync do not reach b");
	ABI_EQ(count_not(pb, 'b'), 0, "nor b's mapping");
	ABI_EQ(munmap(pb, PAGE), 0, "munmap b");
	memset(pa, 'A', PAGE);

	/* another process maps b while this one maps a */
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(child_maps_b(pa));
	ABI_OK(pid > 0, "fork");
	ABI_EQ(waitpid(pid, &status, 0), pid, "waitpid");
	ABI_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "child: b mapped reads b, its stores reach b's read(), a unchanged");
	memset(want, 'c', PAGE);
	ABI_EQ(file_differs(fb, want), 0, "the child's stores are in b");
	ABI_EQ(count_not(pa, 'A'), 0, "a's mapping still reads a after the child");

	/* a's last mapping goes: nothing of it lands in b */
	ABI_EQ(munmap(pa, PAGE), 0, "munmap a");
	ABI_EQ(file_differs(fb, want), 0, "b unchanged after a's last munmap");
	close(fb);
	ABI_EQ(unlink("b"), 0, "unlink b");
	chdir("/");
	rmdir(dir);
	return abi_done();
}
