/*
 * spawn: starting programs the way libcs and shells do without fork.
 * vfork: the parent resumes only once the child has exited or exec'd
 * (a child that sleeps before it writes to a pipe has always written
 * when vfork returns in the parent), the child's own pid, _exit's status
 * through waitpid, execve of busybox true and false; posix_spawn (musl's:
 * clone with CLONE_VM|CLONE_VFORK on a child stack) with file actions
 * (dup2 of a pipe onto stdout, close) and its exit status, with
 * POSIX_SPAWN_SETPGROUP, of a missing path (ENOENT returned: musl
 * reports it through a pipe, glibc by a store into the parent's memory,
 * which its vfork child shares) and of a directory (EACCES);
 * posix_spawnp searching PATH. Built with musl and with glibc.
 *
 * Needs /bin/busybox (on the disk; on the host, Debian's busybox-static
 * as abi_test.py requires). Checks print as "ok N - ..." lines
 * (tests/abi/abi.h); exit 0 iff all passed. Expectations are Linux's.
 */
#include "abi.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#define BUSYBOX "/bin/busybox"

extern char **environ;

static void test_vfork_waits(void)
{
	int fd[2], st;
	pid_t pid, child_pid = 0;
	char c = 0;

	ABI_EQ(pipe(fd), 0, "pipe");
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		pid_t me = getpid();

		nanosleep(&ts, NULL); /* the parent must not run meanwhile */
		write(fd[1], &me, sizeof(me));
		write(fd[1], "x", 1);
		_exit(7);
	}
	ABI_OK(pid > 0, "vfork returns the child's pid in the parent");
	fcntl(fd[0], F_SETFL, O_NONBLOCK);
	ABI_EQ(read(fd[0], &child_pid, sizeof(child_pid)), sizeof(child_pid),
	       "when vfork returns, the child has run to its _exit (its pid in the pipe)");
	ABI_EQ(child_pid, pid, "the child's getpid() is the pid vfork returned");
	ABI_EQ(read(fd[0], &c, 1), 1, "and its last write is there too");
	ABI_EQ(c, 'x', "the byte it wrote");
	st = abi_wait_status(pid);
	ABI_OK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "waitpid: the vfork child's _exit(7)");
	close(fd[0]);
	close(fd[1]);
}

/* vfork, then execve of busybox applet; its exit status. */
static int vfork_exec(const char *applet)
{
	char *argv[] = {(char *)applet, NULL};
	pid_t pid;

	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		execve(BUSYBOX, argv, environ);
		_exit(126);
	}
	return pid > 0 ? abi_wait_status(pid) : -1;
}

static void test_vfork_exec(void)
{
	int st = vfork_exec("true");

	ABI_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "vfork + execve busybox true: status 0");
	st = vfork_exec("false");
	ABI_OK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "vfork + execve busybox false: status 1");
}

static void test_spawn_file_actions(void)
{
	char *argv[] = {"busybox", "sh", "-c", "echo spawned; echo oops >&2; exit 3", NULL};
	posix_spawn_file_actions_t fa;
	char buf[64] = {0};
	int out[2], err[2], st, r;
	pid_t pid = 0;
	ssize_t n;

	ABI_EQ(pipe(out), 0, "pipe for stdout");
	ABI_EQ(pipe(err), 0, "pipe for stderr");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	posix_spawn_file_actions_addclose(&fa, err[0]);
	fflush(stdout);
	r = posix_spawn(&pid, BUSYBOX, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	ABI_EQ(r, 0, "posix_spawn busybox sh with dup2 and close actions: 0");
	ABI_OK(pid > 0, "posix_spawn gives the child's pid");
	close(out[1]);
	close(err[1]);
	n = read(out[0], buf, sizeof(buf) - 1);
	ABI_EQ(n, 8, "the child's stdout is the pipe (8 bytes)");
	ABI_STR(buf, "spawned\n", "what it wrote there");
	memset(buf, 0, sizeof(buf));
	n = read(err[0], buf, sizeof(buf) - 1);
	ABI_STR(n > 0 ? buf : "", "oops\n", "its stderr is the other pipe");
	st = abi_wait_status(pid);
	ABI_OK(WIFEXITED(st) && WEXITSTATUS(st) == 3, "waitpid: the spawned child's exit 3");
	close(out[0]);
	close(err[0]);
}

static void test_spawn_pgroup(void)
{
	char *argv[] = {"busybox", "sh", "-c", "exit 0", NULL};
	posix_spawnattr_t at;
	pid_t pid = 0;
	int r, st;

	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&at, 0);
	fflush(stdout);
	r = posix_spawn(&pid, BUSYBOX, NULL, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	ABI_EQ(r, 0, "posix_spawn with POSIX_SPAWN_SETPGROUP: 0");
	ABI_EQ(getpgid(pid), pid, "the child leads its own process group");
	st = abi_wait_status(pid);
	ABI_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "waitpid: exit 0");
}

static void test_spawn_errors(void)
{
	char *argv[] = {"nothing", NULL};
	pid_t pid = 0;
	int r;

	fflush(stdout);
	r = posix_spawn(&pid, "/nonexistent/nothing", NULL, NULL, argv, environ);
	ABI_EQ(r, ENOENT, "posix_spawn of a missing path returns ENOENT");
	ABI_EQ(waitpid(-1, NULL, WNOHANG), -1, "and leaves no child behind (the libc reaps it)");
	r = posix_spawn(&pid, "/", NULL, NULL, argv, environ);
	ABI_EQ(r, EACCES, "posix_spawn of a directory returns EACCES");
	r = posix_spawnp(&pid, "no-such-program-anywhere", NULL, NULL, argv, environ);
	ABI_EQ(r, ENOENT, "posix_spawnp of a name on no PATH entry: ENOENT");
}

static void test_spawnp_path(void)
{
	char *argv[] = {"busybox", "sh", "-c", "exit 5", NULL};
	pid_t pid = 0;
	int r, st;

	fflush(stdout);
	r = posix_spawnp(&pid, "busybox", NULL, NULL, argv, environ);
	ABI_EQ(r, 0, "posix_spawnp finds busybox on PATH");
	st = abi_wait_status(pid);
	ABI_OK(WIFEXITED(st) && WEXITSTATUS(st) == 5, "waitpid: its exit 5");
}

int main(int argc, char **argv)
{
	abi_init("spawn");
	(void)argc;
	(void)argv;
	test_vfork_waits();
	test_vfork_exec();
	test_spawn_file_actions();
	test_spawn_pgroup();
	test_spawn_errors();
	test_spawnp_path();
	return abi_done();
}
