/*
 * files [DIR]: the file system calls a static Linux program uses, on
 * files it makes in DIR/abi-files-PID (DIR default /tmp), which it
 * removes again: open/openat and their flags, read/write and the
 * positioned and vectored forms, lseek, the stat family and statx,
 * getdents64, directories, names, links, permissions, descriptors (dup,
 * fcntl) and the errors of each (errno checked, not only -1).
 *
 * Checks print as "ok N - ..." lines (tests/abi/abi.h); exit 0 iff all
 * passed. Expectations are Linux's: the program passes on the host.
 */
#include "abi.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#define BAD_PTR ((void *)8) /* never mapped: the first page */

/* Linux's struct statx (musl here has no statx): the fields tested, then
 * padding to its 256 bytes. */
struct abi_statx {
	unsigned int mask, blksize;
	unsigned long long attributes;
	unsigned int nlink, uid, gid;
	unsigned short mode, spare0;
	unsigned long long ino, size, blocks, attributes_mask;
	unsigned char rest[256 - 64];
};
#define ABI_STATX_MODE 0x2u
#define ABI_STATX_SIZE 0x200u
#define ABI_STATX_BASIC 0x7ffu

static void make_file(const char *name, const char *text)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		printf("# could not make %s: %s\n", name, strerror(errno));
	close(fd);
}

/* The whole content of a file (up to 255 bytes) as a string. */
static const char *slurp(const char *name)
{
	static char buf[256];
	int fd = open(name, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return "(cannot open)";
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = 0;
	return buf;
}

static void test_open(void)
{
	int fd, fd2;

	fd = open("a", O_WRONLY | O_CREAT | O_EXCL, 0640);
	ABI_OK(fd >= 3, "open O_CREAT|O_EXCL a new file: fd >= 3");
	ABI_EQ(write(fd, "hello world", 11), 11, "write 11 bytes");
	ABI_EQ(close(fd), 0, "close");
	ABI_ERR(open("a", O_WRONLY | O_CREAT | O_EXCL, 0640), EEXIST,
		"open O_CREAT|O_EXCL an existing file: EEXIST");
	ABI_ERR(open("nosuch", O_RDONLY), ENOENT, "open a missing file: ENOENT");
	ABI_ERR(open("nosuchdir/x", O_WRONLY | O_CREAT, 0644), ENOENT,
		"open O_CREAT in a missing directory: ENOENT");
	ABI_ERR(open("a/x", O_RDONLY), ENOTDIR, "open through a file as a directory: ENOTDIR");
	ABI_ERR(open("a", O_RDONLY | O_DIRECTORY), ENOTDIR, "open O_DIRECTORY on a file: ENOTDIR");
	ABI_ERR(open(".", O_WRONLY), EISDIR, "open a directory for writing: EISDIR");
	ABI_ERR(syscall(SYS_open, BAD_PTR, O_RDONLY), EFAULT, "open with a bad path pointer: EFAULT");
	ABI_ERR(open("", O_RDONLY), ENOENT, "open an empty path: ENOENT");

	fd = open(".", O_RDONLY | O_DIRECTORY);
	ABI_OK(fd >= 0, "open . O_DIRECTORY");
	fd2 = openat(fd, "a", O_RDONLY);
	ABI_OK(fd2 >= 0, "openat(dirfd, \"a\")");
	close(fd2);
	ABI_ERR(openat(fd, "nosuch", O_RDONLY), ENOENT, "openat a missing file: ENOENT");
	ABI_ERR(openat(99, "a", O_RDONLY), EBADF, "openat with a closed dirfd: EBADF");
	fd2 = open("a", O_RDONLY);
	ABI_ERR(openat(fd2, "x", O_RDONLY), ENOTDIR, "openat with a file as dirfd: ENOTDIR");
	close(fd2);
	close(fd);

	fd = open("a", O_WRONLY | O_TRUNC);
	ABI_OK(fd >= 0, "open O_TRUNC");
	close(fd);
	{
		struct stat st;
		ABI_EQ(stat("a", &st) == 0 ? st.st_size : -1, 0, "O_TRUNC made the size 0");
	}
	make_file("a", "one\n");
	fd = open("a", O_WRONLY | O_APPEND);
	ABI_EQ(write(fd, "two\n", 4), 4, "write O_APPEND");
	ABI_EQ(lseek(fd, 0, SEEK_SET), 0, "lseek 0 on an O_APPEND file");
	ABI_EQ(write(fd, "three\n", 6), 6, "write again after lseek 0");
	close(fd);
	ABI_STR(slurp("a"), "one\ntwo\nthree\n", "O_APPEND writes go to the end");

	fd = open("a", O_RDONLY | O_CLOEXEC);
	ABI_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "O_CLOEXEC sets FD_CLOEXEC");
	ABI_ERR(write(fd, "x", 1), EBADF, "write on an O_RDONLY fd: EBADF");
	close(fd);
	fd = open("a", O_WRONLY);
	{
		char c;
		ABI_ERR(read(fd, &c, 1), EBADF, "read on an O_WRONLY fd: EBADF");
	}
	close(fd);
}

static void test_io(void)
{
	char buf[64];
	int fd;
	struct iovec iov[3];

	make_file("b", "0123456789");
	fd = open("b", O_RDWR);
	ABI_EQ(read(fd, buf, 4), 4, "read 4");
	ABI_OK(!memcmp(buf, "0123", 4), "read the first 4 bytes");
	ABI_EQ(lseek(fd, 0, SEEK_CUR), 4, "lseek SEEK_CUR after reading 4");
	ABI_EQ(pread(fd, buf, 3, 7), 3, "pread 3 at 7");
	ABI_OK(!memcmp(buf, "789", 3), "pread's bytes");
	ABI_EQ(lseek(fd, 0, SEEK_CUR), 4, "pread does not move the offset");
	ABI_EQ(pwrite(fd, "AB", 2, 1), 2, "pwrite 2 at 1");
	ABI_EQ(lseek(fd, 0, SEEK_CUR), 4, "pwrite does not move the offset");
	ABI_EQ(lseek(fd, 0, SEEK_END), 10, "lseek SEEK_END: the size");
	ABI_EQ(read(fd, buf, 10), 0, "read at the end: 0");
	ABI_EQ(lseek(fd, -3, SEEK_END), 7, "lseek -3 from SEEK_END");
	ABI_ERR(lseek(fd, -20, SEEK_SET), EINVAL, "lseek to a negative offset: EINVAL");
	ABI_ERR(lseek(fd, 0, 42), EINVAL, "lseek with a bad whence: EINVAL");
	ABI_EQ(lseek(fd, 20, SEEK_SET), 20, "lseek past the end");
	ABI_EQ(write(fd, "Z", 1), 1, "write past the end (a hole)");
	ABI_EQ(pread(fd, buf, 21, 0), 21, "pread the whole file");
	ABI_OK(!memcmp(buf, "0AB3456789\0\0\0\0\0\0\0\0\0\0Z", 21),
	       "the hole reads as zeroes, pwrite's bytes are there");

	iov[0] = (struct iovec){"ab", 2};
	iov[1] = (struct iovec){"", 0};
	iov[2] = (struct iovec){"cde", 3};
	ABI_EQ(lseek(fd, 0, SEEK_SET), 0, "lseek 0");
	ABI_EQ(writev(fd, iov, 3), 5, "writev 2+0+3 bytes");
	{
		char x[2], y[4];
		struct iovec r[2] = {{x, 2}, {y, 4}};
		ABI_EQ(lseek(fd, 0, SEEK_SET), 0, "lseek 0 again");
		ABI_EQ(readv(fd, r, 2), 6, "readv 2+4 bytes");
		ABI_OK(!memcmp(x, "ab", 2) && !memcmp(y, "cde5", 4), "readv's bytes");
	}
	ABI_ERR(syscall(SYS_read, fd, BAD_PTR, 4), EFAULT, "read into a bad pointer: EFAULT");
	ABI_ERR(syscall(SYS_write, fd, BAD_PTR, 4), EFAULT, "write from a bad pointer: EFAULT");
	ABI_EQ(ftruncate(fd, 3), 0, "ftruncate to 3");
	ABI_EQ(lseek(fd, 0, SEEK_END), 3, "the size is 3");
	ABI_ERR(ftruncate(fd, -1), EINVAL, "ftruncate to -1: EINVAL");
	ABI_EQ(fsync(fd), 0, "fsync");
	ABI_EQ(fdatasync(fd), 0, "fdatasync");
	close(fd);
	ABI_ERR(read(fd, buf, 1), EBADF, "read a closed fd: EBADF");
	ABI_ERR(close(fd), EBADF, "close a closed fd: EBADF");
	ABI_ERR(write(-1, "x", 1), EBADF, "write fd -1: EBADF");
	fd = open(".", O_RDONLY | O_DIRECTORY);
	ABI_ERR(read(fd, buf, 1), EISDIR, "read a directory: EISDIR");
	close(fd);
	ABI_EQ(truncate("b", 1), 0, "truncate by name");
	ABI_STR(slurp("b"), "a", "truncate kept the first byte");
}

static void test_stat(void)
{
	struct stat st, st2;
	int fd;

	make_file("s", "12345");
	ABI_EQ(stat("s", &st), 0, "stat");
	ABI_OK(S_ISREG(st.st_mode), "stat: a regular file");
	ABI_EQ(st.st_size, 5, "stat: st_size");
	ABI_EQ(st.st_nlink, 1, "stat: st_nlink 1");
	ABI_EQ(st.st_mode & 07777, 0644 & ~022 & 0644, "stat: mode 0644 (umask 022)");
	fd = open("s", O_RDONLY);
	ABI_EQ(fstat(fd, &st2), 0, "fstat");
	ABI_OK(st.st_ino == st2.st_ino && st.st_dev == st2.st_dev, "fstat: the same inode as stat");
	close(fd);
	ABI_EQ(fstatat(AT_FDCWD, "s", &st2, 0), 0, "newfstatat AT_FDCWD");
	ABI_EQ(st2.st_size, 5, "newfstatat: st_size");
	fd = open("s", O_RDONLY);
	ABI_EQ(fstatat(fd, "", &st2, AT_EMPTY_PATH), 0, "newfstatat AT_EMPTY_PATH");
	ABI_EQ(st2.st_ino, st.st_ino, "newfstatat AT_EMPTY_PATH: the fd's inode");
	close(fd);
	ABI_EQ(stat(".", &st), 0, "stat .");
	ABI_OK(S_ISDIR(st.st_mode), "stat .: a directory");
	ABI_ERR(stat("nosuch", &st), ENOENT, "stat a missing file: ENOENT");
	ABI_ERR(stat("s/x", &st), ENOTDIR, "stat through a file: ENOTDIR");
	ABI_ERR(syscall(SYS_stat, "s", BAD_PTR), EFAULT, "stat into a bad pointer: EFAULT");
	ABI_ERR(fstat(99, &st), EBADF, "fstat a closed fd: EBADF");

	{
		struct abi_statx sx;
		ABI_EQ(syscall(SYS_statx, AT_FDCWD, "s", 0, ABI_STATX_BASIC, &sx), 0, "statx");
		ABI_EQ(sx.size, 5, "statx: stx_size");
		ABI_OK(S_ISREG(sx.mode), "statx: a regular file");
		ABI_EQ(sx.nlink, 1, "statx: stx_nlink");
		ABI_OK((sx.mask & (ABI_STATX_SIZE | ABI_STATX_MODE)) ==
			       (ABI_STATX_SIZE | ABI_STATX_MODE),
		       "statx: mask has SIZE and MODE");
		ABI_EQ(sx.ino, stat("s", &st) == 0 ? (long)st.st_ino : -1,
		       "statx: the inode stat gives");
		ABI_ERR(syscall(SYS_statx, AT_FDCWD, "nosuch", 0, ABI_STATX_BASIC, &sx), ENOENT,
			"statx a missing file: ENOENT");
	}

	ABI_EQ(symlink("s", "ln"), 0, "symlink");
	ABI_EQ(lstat("ln", &st), 0, "lstat a symlink");
	ABI_OK(S_ISLNK(st.st_mode), "lstat: a symlink");
	ABI_EQ(st.st_size, 1, "lstat: the size is the target's length");
	ABI_EQ(stat("ln", &st), 0, "stat through a symlink");
	ABI_EQ(st.st_size, 5, "stat follows the symlink");
	{
		char buf[16] = {0};
		ABI_EQ(readlink("ln", buf, sizeof(buf)), 1, "readlink: 1 byte");
		ABI_STR(buf, "s", "readlink: the target");
		ABI_ERR(readlink("s", buf, sizeof(buf)), EINVAL, "readlink a file: EINVAL");
		ABI_ERR(readlink("nosuch", buf, sizeof(buf)), ENOENT, "readlink a missing name: ENOENT");
	}
	ABI_EQ(symlink("s", "ln"), -1, "symlink over an existing name fails");
	ABI_EQ(errno, EEXIST, "...with EEXIST");
	ABI_EQ(unlink("ln"), 0, "unlink the symlink");
	ABI_EQ(stat("s", &st), 0, "the target is still there");
	ABI_EQ(link("s", "hard"), 0, "link");
	ABI_EQ(stat("s", &st), 0, "stat after link");
	ABI_EQ(st.st_nlink, 2, "st_nlink 2 after link");
	ABI_EQ(unlink("hard"), 0, "unlink the hard link");
}

/* The names of the entries of a directory through getdents64, sorted
 * and joined with spaces. */
static const char *dir_names(const char *dir)
{
	static char out[256];
	char buf[1024], *names[32];
	int fd = open(dir, O_RDONLY | O_DIRECTORY), n = 0;
	long got;

	out[0] = 0;
	if (fd < 0)
		return "(cannot open)";
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			if (n < 32)
				names[n++] = strdup(d->d_name);
			off += d->d_reclen;
		}
	}
	close(fd);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(names[j], names[i]) < 0) {
				char *t = names[i];
				names[i] = names[j];
				names[j] = t;
			}
	for (int i = 0; i < n; i++) {
		strncat(out, names[i], sizeof(out) - strlen(out) - 2);
		if (i + 1 < n)
			strcat(out, " ");
		free(names[i]);
	}
	return got < 0 ? "(getdents64 failed)" : out;
}

static void test_dirs(void)
{
	struct stat st;
	int fd;

	ABI_EQ(mkdir("d", 0755), 0, "mkdir");
	ABI_ERR(mkdir("d", 0755), EEXIST, "mkdir an existing name: EEXIST");
	ABI_ERR(mkdir("nosuch/d", 0755), ENOENT, "mkdir in a missing directory: ENOENT");
	make_file("d/f1", "1");
	make_file("d/f2", "22");
	ABI_EQ(mkdir("d/sub", 0700), 0, "mkdir d/sub");
	ABI_STR(dir_names("d"), ". .. f1 f2 sub", "getdents64 lists . .. and the entries");
	fd = open("d", O_RDONLY | O_DIRECTORY);
	{
		char buf[1024];
		unsigned short reclen;
		long got = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		ABI_OK(got > 0, "getdents64 returns bytes");
		memcpy(&reclen, buf + 16, 2); /* d_ino 8, d_off 8, d_reclen 2 */
		ABI_OK(reclen % 8 == 0 && reclen >= 20 && reclen <= got,
		       "getdents64: d_reclen 8-aligned, within the bytes");
		while (syscall(SYS_getdents64, fd, buf, sizeof(buf)) > 0)
			;
		ABI_EQ(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0,
		       "getdents64 at the end: 0");
		ABI_EQ(lseek(fd, 0, SEEK_SET), 0, "lseek 0 on a directory rewinds it");
		ABI_ERR(syscall(SYS_getdents64, fd, buf, 8), EINVAL,
			"getdents64 into 8 bytes (too small for an entry): EINVAL");
		ABI_OK(syscall(SYS_getdents64, fd, buf, sizeof(buf)) > 0,
		       "getdents64 after the rewind returns the entries again");
	}
	close(fd);
	fd = open("d/f1", O_RDONLY);
	{
		char buf[256];
		ABI_ERR(syscall(SYS_getdents64, fd, buf, sizeof(buf)), ENOTDIR,
			"getdents64 on a file: ENOTDIR");
	}
	close(fd);
	ABI_ERR(rmdir("d"), ENOTEMPTY, "rmdir a non-empty directory: ENOTEMPTY");
	ABI_ERR(rmdir("d/f1"), ENOTDIR, "rmdir a file: ENOTDIR");
	ABI_ERR(unlink("d/sub"), EISDIR, "unlink a directory: EISDIR");
	ABI_ERR(unlink("d/nosuch"), ENOENT, "unlink a missing file: ENOENT");
	ABI_EQ(rename("d/f1", "d/f3"), 0, "rename a file");
	ABI_ERR(stat("d/f1", &st), ENOENT, "the old name is gone");
	ABI_EQ(rename("d/f2", "d/f3"), 0, "rename over an existing file");
	ABI_STR(slurp("d/f3"), "22", "the file renamed over has the source's content");
	ABI_ERR(rename("d/nosuch", "d/x"), ENOENT, "rename a missing file: ENOENT");
	ABI_ERR(rename("d/f3", "d/sub"), EISDIR, "rename a file over a directory: EISDIR");
	ABI_EQ(rename("d/sub", "d/sub2"), 0, "rename a directory");
	fd = open("d", O_RDONLY | O_DIRECTORY);
	ABI_EQ(unlinkat(fd, "f3", 0), 0, "unlinkat a file");
	ABI_ERR(unlinkat(fd, "sub2", 0), EISDIR, "unlinkat a directory without AT_REMOVEDIR: EISDIR");
	ABI_EQ(unlinkat(fd, "sub2", AT_REMOVEDIR), 0, "unlinkat AT_REMOVEDIR");
	close(fd);
	ABI_STR(dir_names("d"), ". ..", "the directory is empty again");
	ABI_EQ(rmdir("d"), 0, "rmdir the empty directory");
	ABI_ERR(rmdir("d"), ENOENT, "rmdir again: ENOENT");
}

static void test_cwd(const char *work)
{
	char buf[256];
	int fd;

	ABI_STR(getcwd(buf, sizeof(buf)), work, "getcwd is the work directory");
	ABI_EQ(mkdir("c", 0755), 0, "mkdir c");
	ABI_EQ(chdir("c"), 0, "chdir c");
	snprintf(buf, sizeof(buf), "%s/c", work);
	{
		char now[256];
		ABI_STR(getcwd(now, sizeof(now)), buf, "getcwd after chdir");
	}
	ABI_EQ(chdir(".."), 0, "chdir ..");
	ABI_STR(getcwd(buf, sizeof(buf)), work, "getcwd after chdir ..");
	ABI_ERR(chdir("nosuch"), ENOENT, "chdir a missing directory: ENOENT");
	make_file("cf", "x");
	ABI_ERR(chdir("cf"), ENOTDIR, "chdir a file: ENOTDIR");
	ABI_ERR(syscall(SYS_getcwd, buf, 1), ERANGE, "getcwd into 1 byte: ERANGE");
	fd = open("c", O_RDONLY | O_DIRECTORY);
	ABI_EQ(fchdir(fd), 0, "fchdir");
	close(fd);
	snprintf(buf, sizeof(buf), "%s/c", work);
	{
		char now[256];
		ABI_STR(getcwd(now, sizeof(now)), buf, "getcwd after fchdir");
	}
	make_file("inner", "i");
	ABI_EQ(chdir(work), 0, "chdir back by absolute path");
	ABI_STR(slurp("c/inner"), "i", "a relative open after fchdir made c/inner");
	ABI_ERR(fchdir(99), EBADF, "fchdir a closed fd: EBADF");
	unlink("c/inner");
	rmdir("c");
	unlink("cf");
}

static void test_perms(void)
{
	struct stat st;
	int fd;

	ABI_EQ(umask(077), 022, "umask returns the old mask 022");
	fd = open("u", O_WRONLY | O_CREAT, 0666);
	fstat(fd, &st);
	ABI_EQ(st.st_mode & 0777, 0600, "a file made under umask 077: 0600");
	ABI_EQ(fchmod(fd, 0640), 0, "fchmod");
	fstat(fd, &st);
	ABI_EQ(st.st_mode & 0777, 0640, "fchmod's mode");
	close(fd);
	ABI_EQ(umask(022), 077, "umask back to 022");
	ABI_EQ(chmod("u", 0755), 0, "chmod");
	stat("u", &st);
	ABI_EQ(st.st_mode & 0777, 0755, "chmod's mode");
	ABI_ERR(chmod("nosuch", 0755), ENOENT, "chmod a missing file: ENOENT");
	ABI_EQ(access("u", R_OK | X_OK), 0, "access R_OK|X_OK");
	ABI_EQ(access("u", F_OK), 0, "access F_OK");
	ABI_ERR(access("nosuch", F_OK), ENOENT, "access a missing file: ENOENT");
	ABI_EQ(faccessat(AT_FDCWD, "u", W_OK, 0), 0, "faccessat W_OK");
	ABI_ERR(access("u", 0100), EINVAL, "access with a bad mode: EINVAL");
	unlink("u");
}

static void test_fds(void)
{
	int fd, fd2;

	make_file("f", "abcdef");
	fd = open("f", O_RDONLY);
	fd2 = dup(fd);
	ABI_OK(fd2 > fd, "dup returns a new fd");
	{
		char c;
		read(fd, &c, 2);
		ABI_EQ(lseek(fd2, 0, SEEK_CUR), 2, "a dup shares the offset");
	}
	ABI_EQ(dup2(fd, 20), 20, "dup2 to 20");
	ABI_EQ(dup2(fd, fd), fd, "dup2 to itself returns the fd");
	ABI_ERR(dup2(99, 21), EBADF, "dup2 a closed fd: EBADF");
	ABI_ERR(dup3(fd, fd, 0), EINVAL, "dup3 to itself: EINVAL");
	ABI_EQ(dup3(fd, 21, O_CLOEXEC), 21, "dup3 O_CLOEXEC");
	ABI_EQ(fcntl(21, F_GETFD), FD_CLOEXEC, "dup3's fd has FD_CLOEXEC");
	ABI_EQ(fcntl(20, F_GETFD), 0, "dup2's fd has no FD_CLOEXEC");
	ABI_EQ(fcntl(fd, F_DUPFD, 30), 30, "F_DUPFD 30: the lowest free fd >= 30");
	ABI_EQ(fcntl(fd, F_DUPFD, 30), 31, "F_DUPFD 30 again: 31");
	ABI_EQ(fcntl(fd, F_DUPFD_CLOEXEC, 0), fd2 + 1, "F_DUPFD_CLOEXEC 0: the lowest free fd");
	ABI_EQ(fcntl(fd2 + 1, F_GETFD), FD_CLOEXEC, "F_DUPFD_CLOEXEC sets FD_CLOEXEC");
	ABI_EQ(fcntl(20, F_SETFD, FD_CLOEXEC), 0, "F_SETFD FD_CLOEXEC");
	ABI_EQ(fcntl(20, F_GETFD), FD_CLOEXEC, "F_GETFD after F_SETFD");
	ABI_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY, "F_GETFL: O_RDONLY");
	close(fd);
	fd = open("f", O_WRONLY);
	ABI_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND), O_WRONLY, "F_GETFL: O_WRONLY");
	ABI_EQ(fcntl(fd, F_SETFL, O_APPEND), 0, "F_SETFL O_APPEND");
	ABI_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND), O_WRONLY | O_APPEND,
	       "F_GETFL: O_WRONLY|O_APPEND");
	ABI_EQ(write(fd, "g", 1), 1, "write after F_SETFL O_APPEND");
	close(fd);
	ABI_STR(slurp("f"), "abcdefg", "F_SETFL O_APPEND made the write append");
	ABI_ERR(fcntl(99, F_GETFD), EBADF, "fcntl a closed fd: EBADF");
	ABI_ERR(fcntl(20, 9999), EINVAL, "fcntl with a bad command: EINVAL");
	for (int i = fd2; i < 40; i++)
		close(i);
	close(20);
	close(21);
	unlink("f");
}

int main(int argc, char **argv)
{
	const char *work;

	abi_init("files");
	umask(022);
	work = abi_workdir(argc, argv);
	test_open();
	test_io();
	test_stat();
	test_dirs();
	test_cwd(work);
	test_perms();
	test_fds();
	unlink("a");
	unlink("b");
	unlink("s");
	ABI_EQ(chdir("/"), 0, "chdir /");
	ABI_EQ(rmdir(work), 0, "the work directory is empty and removed");
	return abi_done();
}
