/*
 * filetest [DIR]: the file system calls of a process, on a tree under DIR
 * (default /tmp/filetest, removed first if a previous run left it):
 * creating, writing, reading, seeking, positioned and vectored I/O,
 * O_APPEND, O_TRUNC, O_EXCL, stat/lstat/fstat/statx, dup/dup2/dup3/fcntl,
 * rename, link, symlink, readlink, O_NOFOLLOW, getdents64, mkdir, rmdir,
 * unlink and its EISDIR, chdir/getcwd/fchdir, openat with a directory fd,
 * truncate/ftruncate, chmod, utimensat, access, sendfile, and the devices
 * /dev/null, zero, full, urandom and the /dev listing.
 *
 * One line per check, "filetest: ok NAME" or "filetest: FAIL NAME (why)",
 * in a fixed order, with nothing that differs between machines (no inode
 * numbers, times or devices), so the output is the same on Linux and on
 * Tessera. Exit 0 only if every check passed, 1 otherwise.
 */
#define _GNU_SOURCE
#include "tu.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define USAGE "[DIR]   (default /tmp/filetest)"
#define BIG   (200 * 1024)

/* struct statx (musl 1.2.3 has no statx()): the fields checked. */
struct t_statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, spare0;
	uint64_t ino, size, blocks, attributes_mask;
	uint8_t rest[256 - 64];
};
#define T_STATX_BASIC 0x7ffu

static unsigned failures;
static char dir[256];

static void check(const char *name, int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("filetest: ok %s\n", name);
		return;
	}
	failures++;
	printf("filetest: FAIL %s (", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(", errno %d)\n", errno);
}

/* DIR/name in a static buffer (two at once). */
static const char *at(const char *name)
{
	static char buf[2][512];
	static int which;

	which ^= 1;
	snprintf(buf[which], sizeof(buf[which]), "%s/%s", dir, name);
	return buf[which];
}

/* The names in directory path (getdents64), sorted, space-separated. */
static int list_dir(const char *path, char *out, size_t cap)
{
	static char names[256][64];
	char buf[512];
	int fd = open(path, O_RDONLY | O_DIRECTORY), n = 0;
	long got;

	out[0] = '\0';
	if (fd < 0)
		return -1;
	/* a small buffer: several calls, whole records each */
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);

			if (n < 256)
				snprintf(names[n++], 64, "%.63s", d->d_name);
			off += d->d_reclen;
		}
	}
	close(fd);
	if (got < 0)
		return -1;
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(names[j], names[i]) < 0) {
				char t[64];

				memcpy(t, names[i], 64);
				memcpy(names[i], names[j], 64);
				memcpy(names[j], t, 64);
			}
	for (int i = 0; i < n; i++) {
		strncat(out, names[i], cap - strlen(out) - 1);
		if (i + 1 < n)
			strncat(out, " ", cap - strlen(out) - 1);
	}
	return n;
}

/* Removes what a previous run left (one level of files, one of dirs). */
static void clean(void)
{
	char names[2048], *s, *save;

	if (list_dir(dir, names, sizeof(names)) < 0)
		return;
	for (s = strtok_r(names, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
		if (!strcmp(s, ".") || !strcmp(s, ".."))
			continue;
		if (unlink(at(s)) && errno == EISDIR)
			rmdir(at(s));
	}
	rmdir(dir);
}

/* True if the space-separated list has word. */
static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *s = strstr(list, word); s; s = strstr(s + 1, word))
		if ((s == list || s[-1] == ' ') && (s[n] == ' ' || s[n] == '\0'))
			return 1;
	return 0;
}

static int write_file(const char *path, const char *text, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags, 0666);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void test_create_rw(void)
{
	char buf[64];
	struct stat st = {0};
	int fd;

	umask(022);
	check("mkdir", mkdir(dir, 0755) == 0, "mkdir %s", dir);
	fd = open(at("a"), O_CREAT | O_EXCL | O_WRONLY, 0666);
	check("create", fd >= 0, "open O_CREAT|O_EXCL");
	check("write", write(fd, "hello world\n", 12) == 12, "write");
	check("close", close(fd) == 0 && close(fd) == -1 && errno == EBADF, "close twice");
	check("excl", open(at("a"), O_CREAT | O_EXCL | O_WRONLY, 0644) == -1 && errno == EEXIST,
	      "O_EXCL on an existing file");
	check("stat", stat(at("a"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 12 &&
			      (st.st_mode & 07777) == 0644 && st.st_nlink == 1,
	      "mode %o size %ld", st.st_mode, (long)st.st_size);
	fd = open(at("a"), O_RDWR);
	check("seek-end", lseek(fd, 0, SEEK_END) == 12, "SEEK_END");
	check("seek-set", lseek(fd, 6, SEEK_SET) == 6, "SEEK_SET");
	memset(buf, 0, sizeof(buf));
	check("read", read(fd, buf, 5) == 5 && !memcmp(buf, "world", 5), "read '%s'", buf);
	check("seek-cur", lseek(fd, 0, SEEK_CUR) == 11, "SEEK_CUR");
	check("seek-neg", lseek(fd, -20, SEEK_CUR) == -1 && errno == EINVAL, "negative");
	check("pread", pread(fd, buf, 5, 0) == 5 && !memcmp(buf, "hello", 5) &&
			       lseek(fd, 0, SEEK_CUR) == 11,
	      "pread");
	check("pwrite", pwrite(fd, "HELLO", 5, 0) == 5 && pread(fd, buf, 12, 0) == 12 &&
				!memcmp(buf, "HELLO world\n", 12),
	      "pwrite");
	check("read-eof", lseek(fd, 0, SEEK_END) == 12 && read(fd, buf, 10) == 0, "eof");
	check("fstat", fstat(fd, &st) == 0 && st.st_size == 12, "fstat");
	close(fd);
}

static void test_append_trunc(void)
{
	struct stat st = {0};
	char buf[64];
	int fd = open(at("a"), O_WRONLY | O_APPEND);

	check("append", write(fd, "tail\n", 5) == 5 && fstat(fd, &st) == 0 && st.st_size == 17,
	      "size %ld", (long)st.st_size);
	check("pwrite-append", pwrite(fd, "X", 1, 0) == 1 && fstat(fd, &st) == 0 &&
				       st.st_size == 18,
	      "size %ld", (long)st.st_size);
	close(fd);
	fd = open(at("a"), O_RDONLY);
	memset(buf, 0, sizeof(buf));
	check("append-content", read(fd, buf, 64) == 18 && !strcmp(buf, "HELLO world\ntail\nX"),
	      "'%s'", buf);
	close(fd);
	fd = open(at("a"), O_WRONLY | O_TRUNC);
	check("trunc", fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0, "O_TRUNC");
	close(fd);
}

static void test_big(void)
{
	static unsigned char out[BIG], in[BIG];
	struct iovec iov[3] = {{in, 1000}, {in + 1000, 70000}, {in + 71000, BIG - 71000}};
	unsigned sum = 0;
	int fd;

	for (int i = 0; i < BIG; i++)
		out[i] = (unsigned char)(i * 7 + i / 251);
	fd = open(at("big"), O_CREAT | O_RDWR | O_TRUNC, 0600);
	check("big-write", write(fd, out, BIG) == BIG, "write %d", BIG);
	lseek(fd, 0, SEEK_SET);
	check("big-readv", readv(fd, iov, 3) == BIG && !memcmp(in, out, BIG), "readv");
	memset(in, 0, 5000);
	check("big-preadv", preadv(fd, iov, 2, 100000) == 71000 &&
				    !memcmp(in, out + 100000, 71000),
	      "preadv");
	for (int i = 0; i < BIG; i++)
		sum = sum * 31 + in[i];
	printf("filetest: big checksum computed\n");
	close(fd);
}

static void test_fds(void)
{
	char buf[8];
	int fd = open(at("a"), O_RDWR | O_APPEND), d, flags;

	write(fd, "0123456789", 10);
	lseek(fd, 2, SEEK_SET);
	d = dup(fd);
	check("dup-shares-offset", d > fd && read(d, buf, 2) == 2 && lseek(fd, 0, SEEK_CUR) == 4,
	      "dup");
	check("dup2", dup2(fd, 100) == 100 && lseek(100, 0, SEEK_CUR) == 4, "dup2");
	check("dup2-same", dup2(fd, fd) == fd, "dup2 same");
	check("dup3-same", dup3(fd, fd, 0) == -1 && errno == EINVAL, "dup3 same");
	check("dup3-cloexec", dup3(fd, 101, O_CLOEXEC) == 101 &&
				      fcntl(101, F_GETFD) == FD_CLOEXEC &&
				      fcntl(100, F_GETFD) == 0,
	      "dup3 O_CLOEXEC");
	check("f-dupfd", fcntl(fd, F_DUPFD, 50) >= 50, "F_DUPFD");
	check("f-dupfd-cloexec", fcntl(fd, F_DUPFD_CLOEXEC, 60) >= 60, "F_DUPFD_CLOEXEC");
	flags = fcntl(fd, F_GETFL);
	check("f-getfl", (flags & O_ACCMODE) == O_RDWR && (flags & O_APPEND), "flags %o", flags);
	check("f-setfl", fcntl(fd, F_SETFL, O_NONBLOCK) == 0 &&
				 (fcntl(fd, F_GETFL) & (O_APPEND | O_NONBLOCK)) == O_NONBLOCK,
	      "F_SETFL");
	check("f-setfd", fcntl(100, F_SETFD, FD_CLOEXEC) == 0 && fcntl(100, F_GETFD) == 1,
	      "F_SETFD");
	{
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

		check("f-setlk", fcntl(fd, F_SETLK, &fl) == 0, "F_SETLK");
		check("f-getlk", fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK, "F_GETLK");
	}
	check("ioctl-notty", ioctl(fd, TIOCGWINSZ, buf) == -1 && errno == ENOTTY, "ENOTTY");
	check("bad-fd", read(200, buf, 1) == -1 && errno == EBADF, "EBADF");
	check("write-rdonly", write(open(at("a"), O_RDONLY), "x", 1) == -1 && errno == EBADF,
	      "write on O_RDONLY");
	for (int i = 3; i < 256; i++)
		close(i);
}

static void test_names(void)
{
	struct stat st = {0};
	char buf[64];
	int fd;

	check("rename", rename(at("a"), at("b")) == 0 && stat(at("a"), &st) == -1 &&
				errno == ENOENT && stat(at("b"), &st) == 0,
	      "rename");
	check("renameat2-flags", syscall(SYS_renameat2, AT_FDCWD, at("b"), AT_FDCWD, at("q"),
					 8ul) == -1 && errno == EINVAL,
	      "flags");
	check("link", link(at("b"), at("c")) == 0 && stat(at("b"), &st) == 0 && st.st_nlink == 2,
	      "nlink %ld", (long)st.st_nlink);
	check("symlink", symlink("b", at("l")) == 0, "symlink");
	memset(buf, 0, sizeof(buf));
	check("readlink", readlink(at("l"), buf, sizeof(buf)) == 1 && buf[0] == 'b', "'%s'", buf);
	check("readlink-short", syscall(SYS_readlink, at("l"), buf, 0) == -1 && errno == EINVAL,
	      "size 0");
	check("readlink-notlink", readlink(at("b"), buf, 8) == -1 && errno == EINVAL, "EINVAL");
	check("lstat", lstat(at("l"), &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 1,
	      "lstat");
	check("stat-follows", stat(at("l"), &st) == 0 && S_ISREG(st.st_mode), "stat");
	check("nofollow", open(at("l"), O_RDONLY | O_NOFOLLOW) == -1 && errno == ELOOP,
	      "O_NOFOLLOW");
	fd = open(at("l"), O_RDONLY);
	check("open-link", fd >= 0, "open through the link");
	close(fd);
	check("newfstatat-nofollow",
	      fstatat(AT_FDCWD, at("l"), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode),
	      "fstatat");
	check("mkdir-sub", mkdir(at("sub"), 0700) == 0 && stat(at("sub"), &st) == 0 &&
				   S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	      "mode %o", st.st_mode);
	check("mkdir-exists", mkdir(at("sub"), 0700) == -1 && errno == EEXIST, "EEXIST");
	{
		char names[512];

		list_dir(dir, names, sizeof(names));
		check("getdents", !strcmp(names, ". .. b big c l sub"), "'%s'", names);
		printf("filetest: entries %s\n", names);
	}
}

static void test_dirs(void)
{
	char buf[512], small[4];
	struct stat st;
	int dfd, fd;

	check("chdir", chdir(at("sub")) == 0 && getcwd(buf, sizeof(buf)) &&
			       !strcmp(buf, at("sub")),
	      "cwd '%s'", buf);
	check("getcwd-erange", getcwd(small, sizeof(small)) == NULL && errno == ERANGE,
	      "ERANGE");
	check("relative", (fd = open("../b", O_RDONLY)) >= 0, "../b");
	close(fd);
	check("create-relative", write_file("r", "rel\n", 0) == 0 && stat(at("sub/r"), &st) == 0,
	      "sub/r");
	check("chdir-notdir", chdir("../b") == -1 && errno == ENOTDIR, "ENOTDIR");
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	check("fchdir", fchdir(dfd) == 0 && getcwd(buf, sizeof(buf)) && !strcmp(buf, dir),
	      "'%s'", buf);
	check("openat", (fd = openat(dfd, "sub/r", O_RDONLY)) >= 0, "openat");
	close(fd);
	check("openat-notdir", openat(open(at("b"), O_RDONLY), "x", O_RDONLY) == -1 &&
				       errno == ENOTDIR,
	      "dirfd not a directory");
	check("dir-write", open(dir, O_WRONLY) == -1 && errno == EISDIR, "EISDIR");
	check("dir-read", read(dfd, buf, 4) == -1 && errno == EISDIR, "read of a directory");
	check("o-directory", open(at("b"), O_RDONLY | O_DIRECTORY) == -1 && errno == ENOTDIR,
	      "O_DIRECTORY");
	check("slash-notdir", open("b/", O_RDONLY) == -1 && errno == ENOTDIR, "b/");
	check("unlink-dir", unlink(at("sub")) == -1 && errno == EISDIR, "unlink of a directory");
	check("rmdir-notempty", rmdir(at("sub")) == -1 && errno == ENOTEMPTY, "ENOTEMPTY");
	check("unlinkat", unlinkat(dfd, "sub/r", 0) == 0, "unlinkat");
	check("unlinkat-removedir", unlinkat(dfd, "sub", AT_REMOVEDIR) == 0, "AT_REMOVEDIR");
	check("unlink-missing", unlink(at("sub")) == -1 && errno == ENOENT, "ENOENT");
	close(dfd);
	for (int i = 3; i < 256; i++)
		close(i);
}

static void test_attrs(void)
{
	struct timespec ts[2] = {{1000000000, 0}, {1100000000, 0}};
	struct t_statx sx;
	struct stat st = {0};
	char buf[16];
	int fd;

	check("truncate", truncate(at("b"), 3) == 0 && stat(at("b"), &st) == 0 && st.st_size == 3,
	      "size %ld", (long)st.st_size);
	fd = open(at("b"), O_RDWR);
	check("ftruncate", ftruncate(fd, 10) == 0 && pread(fd, buf, 16, 0) == 10 &&
				   !memcmp(buf, "012\0\0\0\0\0\0\0", 10),
	      "ftruncate");
	check("ftruncate-rdonly", ftruncate(open(at("b"), O_RDONLY), 1) == -1 && errno == EINVAL,
	      "EINVAL");
	check("fsync", fsync(fd) == 0 && fdatasync(fd) == 0, "fsync");
	close(fd);
	check("chmod", chmod(at("b"), 0600) == 0 && stat(at("b"), &st) == 0 &&
			       (st.st_mode & 07777) == 0600,
	      "mode %o", st.st_mode);
	check("utimensat", utimensat(AT_FDCWD, at("b"), ts, 0) == 0 && stat(at("b"), &st) == 0 &&
				   st.st_atime == 1000000000 && st.st_mtime == 1100000000,
	      "times %ld %ld", (long)st.st_atime, (long)st.st_mtime);
	check("statx", syscall(SYS_statx, AT_FDCWD, at("b"), 0, T_STATX_BASIC, &sx) == 0 &&
			       sx.size == 10 && S_ISREG(sx.mode) && sx.nlink == 2 &&
			       (sx.mask & T_STATX_BASIC) == T_STATX_BASIC,
	      "statx");
	check("access", access(at("b"), R_OK | W_OK) == 0, "access");
	check("access-missing", access(at("zz"), F_OK) == -1 && errno == ENOENT, "ENOENT");
	check("umask", umask(077) == 022 && umask(022) == 077, "umask");
	{
		int in = open(at("b"), O_RDONLY), out = open(at("d"), O_CREAT | O_WRONLY, 0644);
		off_t off = 1;

		check("sendfile", sendfile(out, in, &off, 100) == 9 && off == 10 &&
					  stat(at("d"), &st) == 0 && st.st_size == 9,
		      "sendfile");
		close(in);
		close(out);
	}
}

static void test_devices(void)
{
	unsigned char buf[64];
	struct stat st;
	int fd, nz = 0;
	static char names[16384];

	fd = open("/dev/zero", O_RDONLY);
	memset(buf, 0xaa, sizeof(buf));
	check("dev-zero", read(fd, buf, 16) == 16 && buf[0] == 0 && buf[15] == 0 &&
				  buf[16] == 0xaa,
	      "zero");
	close(fd);
	fd = open("/dev/null", O_RDWR);
	check("dev-null", write(fd, NULL, 10) == 10 && read(fd, buf, 10) == 0, "null");
	close(fd);
	fd = open("/dev/full", O_WRONLY);
	check("dev-full", write(fd, "x", 1) == -1 && errno == ENOSPC, "ENOSPC");
	close(fd);
	fd = open("/dev/urandom", O_RDONLY);
	check("dev-urandom", read(fd, buf, 32) == 32, "read");
	for (int i = 0; i < 32; i++)
		nz += buf[i] != 0;
	check("dev-urandom-bytes", nz > 8, "%d nonzero", nz);
	close(fd);
	check("dev-stat", stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) &&
				  major(st.st_rdev) == 1 && minor(st.st_rdev) == 3,
	      "rdev %lx", (long)st.st_rdev);
	check("dev-stat-urandom", stat("/dev/urandom", &st) == 0 && major(st.st_rdev) == 1 &&
					  minor(st.st_rdev) == 9,
	      "rdev");
	list_dir("/dev", names, sizeof(names));
	check("dev-list", has_word(names, "null") && has_word(names, "zero") &&
				  has_word(names, "urandom") && has_word(names, "full"),
	      "'%.60s'", names);
	check("dev-missing", open("/dev/nonexistent", O_RDONLY) == -1 && errno == ENOENT,
	      "ENOENT");
}

static void test_cleanup(void)
{
	check("cleanup", unlink(at("b")) == 0 && unlink(at("c")) == 0 && unlink(at("l")) == 0 &&
				 unlink(at("d")) == 0 && unlink(at("big")) == 0 &&
				 rmdir(dir) == 0,
	      "cleanup");
}

int main(int argc, char **argv)
{
	tu_init("filetest");
	if (argc > 2)
		tu_usage(USAGE);
	snprintf(dir, sizeof(dir), "%s", argc > 1 ? argv[1] : "/tmp/filetest");
	clean();
	test_create_rw();
	test_append_trunc();
	test_big();
	test_fds();
	test_names();
	test_dirs();
	test_attrs();
	test_devices();
	test_cleanup();
	printf("filetest: %u failed\n", failures);
	return failures ? 1 : 0;
}
