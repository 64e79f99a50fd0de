/*
 * creds: user and group ids and the permission checks they drive. Run
 * as root (the vNode's processes start as root; abi_test.py runs the
 * host side as root too). The ids of root; setgroups/getgroups (sorted,
 * EINVAL for a short list); then a child that drops to nobody (65534)
 * with setgroups, setgid, setuid and reports through a pipe: its ids,
 * setuid(0) refused, open of a 0600 root file EACCES and of a 0644 one
 * allowed (read only), creating in / and in a 0700 root directory
 * EACCES, creating in a 0777 directory gives a file it owns, unlink and
 * chmod of root's files refused, kill of its root parent EPERM but
 * SIGCONT allowed (same session); a child with nobody's real ids and
 * root's effective ones (access checks the real ids, AT_EACCESS and open
 * the effective ones); and a child that drops to nobody and execs
 * busybox id: the ids survive execve.
 *
 * The child uses paths relative to the working directory (Linux does not
 * check the directories above it; on the vNode they are /tmp, 1777, and
 * this program's directory, 0755). Checks print as "ok N - ..." lines
 * (tests/abi/abi.h); exit 0 iff all passed. Expectations are Linux's.
 */
#include "abi.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>

#define NOBODY 65534

/* What the dropped child found, in order (a result, or -errno). */
enum {
	R_SETGROUPS, R_SETGID, R_SETUID, R_UID, R_EUID, R_GID, R_EGID, R_NGROUPS,
	R_SETUID0, R_SETRESUID_OWN, R_OPEN_SECRET, R_OPEN_PUBLIC, R_READ_PUBLIC,
	R_WRITE_PUBLIC, R_ACCESS_SECRET, R_STAT_SECRET, R_CREATE_ROOT, R_MKDIR_CLOSED,
	R_CREATE_OPEN, R_OWNER_UID, R_OWNER_GID, R_RENAME_OWN, R_UNLINK_PUBLIC,
	R_CHMOD_PUBLIC, R_KILL_PARENT, R_KILL0_PARENT, R_CONT_PARENT, R_COUNT
};

static int res[R_COUNT];

/* A syscall-like result: the value, or -errno when it is -1. */
static int rv(long r)
{
	return r == -1 ? -errno : (int)r;
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, mode);

	if (fd >= 0) {
		write(fd, text, strlen(text));
		fchmod(fd, mode);
		close(fd);
	}
}

/* The child's work as nobody; fills res. */
static void as_nobody(void)
{
	struct stat st;
	char buf[16] = {0};
	int fd;

	res[R_UID] = rv(getuid());
	res[R_EUID] = rv(geteuid());
	res[R_GID] = rv(getgid());
	res[R_EGID] = rv(getegid());
	res[R_NGROUPS] = rv(getgroups(0, NULL));
	res[R_SETUID0] = rv(setuid(0));
	res[R_SETRESUID_OWN] = rv(setresuid(NOBODY, -1, NOBODY));
	res[R_OPEN_SECRET] = rv(open("secret", O_RDONLY));
	fd = open("public", O_RDONLY);
	res[R_OPEN_PUBLIC] = fd >= 0 ? 0 : -errno;
	res[R_READ_PUBLIC] = fd >= 0 && read(fd, buf, sizeof(buf) - 1) == 7 &&
			     !strcmp(buf, "public\n");
	res[R_WRITE_PUBLIC] = rv(open("public", O_WRONLY));
	res[R_ACCESS_SECRET] = rv(access("secret", R_OK));
	res[R_STAT_SECRET] = rv(stat("secret", &st));
	res[R_CREATE_ROOT] = rv(open("/abi-creds-not-allowed", O_CREAT | O_WRONLY, 0644));
	res[R_MKDIR_CLOSED] = rv(mkdir("closed/x", 0755));
	fd = open("open/mine", O_CREAT | O_WRONLY | O_EXCL, 0600);
	res[R_CREATE_OPEN] = fd >= 0 ? 0 : -errno;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		res[R_OWNER_UID] = (int)st.st_uid;
		res[R_OWNER_GID] = (int)st.st_gid;
	}
	res[R_RENAME_OWN] = rv(rename("open/mine", "open/mine2"));
	res[R_UNLINK_PUBLIC] = rv(unlink("public"));
	res[R_CHMOD_PUBLIC] = rv(chmod("public", 0666));
	res[R_KILL_PARENT] = rv(kill(getppid(), SIGUSR1));
	res[R_KILL0_PARENT] = rv(kill(getppid(), 0));
	res[R_CONT_PARENT] = rv(kill(getppid(), SIGCONT));
}

/* Drops to nobody; the three results. */
static void drop(void)
{
	res[R_SETGROUPS] = rv(setgroups(0, NULL));
	res[R_SETGID] = rv(setgid(NOBODY));
	res[R_SETUID] = rv(setuid(NOBODY));
}

static void test_root_ids(void)
{
	gid_t set[2] = {5, 3}, got[4] = {0};
	uid_t r = 1, e = 1, s = 1;

	ABI_EQ(getuid(), 0, "getuid: root");
	ABI_EQ(geteuid(), 0, "geteuid: root");
	ABI_EQ(getgid(), 0, "getgid: root");
	ABI_EQ(getegid(), 0, "getegid: root");
	ABI_OK(getresuid(&r, &e, &s) == 0 && !r && !e && !s, "getresuid: 0 0 0");
	ABI_EQ(setgroups(2, set), 0, "setgroups(2) as root");
	ABI_EQ(getgroups(0, NULL), 2, "getgroups(0): the count");
	ABI_ERR(getgroups(1, got), EINVAL, "getgroups with too small a list: EINVAL");
	ABI_EQ(getgroups(4, got), 2, "getgroups(4): 2");
	ABI_OK(got[0] == 3 && got[1] == 5, "the groups, sorted");
	ABI_EQ(setgroups(0, NULL), 0, "setgroups(0) as root");
	ABI_ERR(setuid(-1), EINVAL, "setuid(-1): EINVAL");
}

static void test_nobody(void)
{
	int fd[2], st = -1;
	pid_t pid;
	ssize_t n;

	write_file("secret", "secret\n", 0600);
	write_file("public", "public\n", 0644);
	mkdir("open", 0777);
	chmod("open", 0777);
	mkdir("closed", 0700);
	ABI_EQ(pipe(fd), 0, "pipe");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fd[0]);
		drop();
		if (!res[R_SETUID])
			as_nobody();
		write(fd[1], res, sizeof(res));
		_exit(0);
	}
	close(fd[1]);
	n = read(fd[0], res, sizeof(res));
	close(fd[0]);
	ABI_EQ(n, sizeof(res), "the child reports");
	ABI_EQ(waitpid(pid, &st, 0), pid, "waitpid");
	ABI_EQ(res[R_SETGROUPS], 0, "child: setgroups(0) as root");
	ABI_EQ(res[R_SETGID], 0, "child: setgid(65534)");
	ABI_EQ(res[R_SETUID], 0, "child: setuid(65534)");
	ABI_EQ(res[R_UID], NOBODY, "nobody: getuid 65534");
	ABI_EQ(res[R_EUID], NOBODY, "nobody: geteuid 65534");
	ABI_EQ(res[R_GID], NOBODY, "nobody: getgid 65534");
	ABI_EQ(res[R_EGID], NOBODY, "nobody: getegid 65534");
	ABI_EQ(res[R_NGROUPS], 0, "nobody: no supplementary groups");
	ABI_EQ(res[R_SETUID0], -EPERM, "nobody: setuid(0) is EPERM");
	ABI_EQ(res[R_SETRESUID_OWN], 0, "nobody: setresuid to its own ids");
	ABI_EQ(res[R_OPEN_SECRET], -EACCES, "nobody: open of a 0600 root file is EACCES");
	ABI_EQ(res[R_OPEN_PUBLIC], 0, "nobody: open O_RDONLY of a 0644 root file");
	ABI_EQ(res[R_READ_PUBLIC], 1, "nobody: and reads it");
	ABI_EQ(res[R_WRITE_PUBLIC], -EACCES, "nobody: open O_WRONLY of it is EACCES");
	ABI_EQ(res[R_ACCESS_SECRET], -EACCES, "nobody: access R_OK of the 0600 file");
	ABI_EQ(res[R_STAT_SECRET], 0, "nobody: stat of the 0600 file works");
	ABI_EQ(res[R_CREATE_ROOT], -EACCES, "nobody: creating a file in / is EACCES");
	ABI_EQ(res[R_MKDIR_CLOSED], -EACCES, "nobody: mkdir in a 0700 root directory");
	ABI_EQ(res[R_CREATE_OPEN], 0, "nobody: creating a file in a 0777 directory");
	ABI_EQ(res[R_OWNER_UID], NOBODY, "nobody: the new file's owner is 65534");
	ABI_EQ(res[R_OWNER_GID], NOBODY, "nobody: the new file's group is 65534");
	ABI_EQ(res[R_RENAME_OWN], 0, "nobody: rename in the 0777 directory");
	ABI_EQ(res[R_UNLINK_PUBLIC], -EACCES, "nobody: unlink in a 0755 root directory");
	ABI_EQ(res[R_CHMOD_PUBLIC], -EPERM, "nobody: chmod of root's file is EPERM");
	ABI_EQ(res[R_KILL_PARENT], -EPERM, "nobody: kill of its root parent is EPERM");
	ABI_EQ(res[R_KILL0_PARENT], -EPERM, "nobody: kill(parent, 0) is EPERM too");
	ABI_EQ(res[R_CONT_PARENT], 0, "nobody: SIGCONT to the parent (same session)");
}

/* A child whose real ids are nobody's and effective ids root's:
 * access(2) checks with the real ids, AT_EACCESS and open with the
 * effective ones. Results through a pipe, in this order. */
static void test_real_ids(void)
{
	int r[6] = {0}, fd[2], st = -1;
	pid_t pid;

	ABI_EQ(pipe(fd), 0, "pipe");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fd[0]);
		r[0] = rv(setresgid(NOBODY, -1, -1));
		r[1] = rv(setresuid(NOBODY, -1, -1));
		r[2] = rv(access("secret", R_OK));
		r[3] = rv(faccessat(AT_FDCWD, "secret", R_OK, AT_EACCESS));
		r[4] = rv(access("public", W_OK));
		r[5] = rv(close(open("secret", O_RDONLY)));
		write(fd[1], r, sizeof(r));
		_exit(0);
	}
	close(fd[1]);
	ABI_EQ(read(fd[0], r, sizeof(r)), sizeof(r), "the real-ids child reports");
	close(fd[0]);
	waitpid(pid, &st, 0);
	ABI_OK(!r[0] && !r[1], "setresgid/setresuid: real ids nobody, effective root");
	ABI_EQ(r[2], -EACCES, "access R_OK of the 0600 file: the real ids, EACCES");
	ABI_EQ(r[3], 0, "faccessat AT_EACCESS of it: the effective ids, allowed");
	ABI_EQ(r[4], -EACCES, "access W_OK of a 0644 root file: EACCES");
	ABI_EQ(r[5], 0, "open of the 0600 file: the effective ids, allowed");
}

static void test_exec_keeps_ids(void)
{
	char *argv[] = {"id", "-u", NULL};
	char buf[32] = {0};
	int fd[2], st = -1;
	pid_t pid;

	ABI_EQ(pipe(fd), 0, "pipe");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 1);
		drop();
		execve("/bin/busybox", argv, (char *[]){"PATH=/bin", NULL});
		_exit(127);
	}
	close(fd[1]);
	read(fd[0], buf, sizeof(buf) - 1);
	close(fd[0]);
	waitpid(pid, &st, 0);
	ABI_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "nobody execs busybox id -u: exit 0");
	ABI_STR(buf, "65534\n", "execve keeps the ids: id -u says 65534");
}

int main(int argc, char **argv)
{
	const char *dir;

	abi_init("creds");
	dir = abi_workdir(argc, argv);
	chmod(dir, 0755);
	test_root_ids();
	test_nobody();
	test_real_ids();
	test_exec_keeps_ids();
	unlink("secret");
	unlink("public");
	unlink("open/mine2");
	rmdir("open");
	rmdir("closed");
	return abi_done();
}
