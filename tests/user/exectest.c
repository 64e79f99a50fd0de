/*
 * exectest [DIR] | exit CODE | chain N: execve from a running process. DIR (default
 * /etc/exectest) holds the bad executables scripts/mkexecfiles.sh makes:
 * truncated-header, truncated-body, wrong-machine, text, garbage (all
 * mode 0755).
 *
 * First every exec that must fail, each checked for its errno with the
 * process still running afterwards: a missing file (ENOENT), a directory
 * (EACCES), the files of DIR (ENOEXEC), bad pointers for the path, argv,
 * an argv string and envp (EFAULT), an argument beyond any limit
 * (E2BIG); 8 MiB written before them must read back the same after. Then the success: the program opens /etc/motd twice, once
 * close-on-exec, changes a static variable, and execs itself through
 * /proc/self/exe with "child", the two fd numbers and one environment
 * variable; the new image (child mode) prints its argv and environment
 * and checks the close-on-exec fd is closed, the other open at offset 0,
 * and its static variable at its initial value (the old image's pages
 * are gone).
 *
 * Besides: a forked child execs "exectest exit 7" and the parent's
 * waitpid sees 7 (fork_exec); "exectest chain N" execs itself N times
 * in a row and prints "exectest: ok chain" at the end.
 *
 * One line per check, "exectest: ok NAME" or "exectest: FAIL NAME
 * (why)"; checks that only hold on Tessera say "skip" elsewhere
 * (truncated-body: Linux maps past the end of the file and runs it).
 * Exit 0 only if every check passed, 1 otherwise.
 */
#define _GNU_SOURCE
#include "tu.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#define USAGE "[DIR]   (default /etc/exectest)"
#define BIG   (200u << 10) /* beyond Linux's 128 KiB per string, and Tessera's 4 KiB */

static unsigned failures;
static int marker = 1; /* the parent makes it 2 before the exec */
static char big[BIG + 1];

static void check(const char *name, int ok, const char *why)
{
	if (ok)
		printf("exectest: ok %s\n", name);
	else
		printf("exectest: FAIL %s (%s)\n", name, why);
	failures += !ok;
}

static int on_tessera(void)
{
	struct utsname u;

	return uname(&u) == 0 && strcmp(u.sysname, "Tessera") == 0;
}

/* execve(path, argv, envp) must fail with want; raw syscall so bad
 * pointers reach the kernel as they are. */
static void expect_fail(const char *name, const char *path, char *const *argv,
			char *const *envp, int want)
{
	static char why[96];
	long r = syscall(SYS_execve, path, argv, envp);
	int err = errno;

	snprintf(why, sizeof(why), "returned %ld, errno %d (%s), want %d", r, err,
		 strerror(err), want);
	check(name, r == -1 && err == want, why);
}

static void expect_fail_in(const char *name, const char *dir, const char *file, int want)
{
	static char path[512];
	char *argv[] = {(char *)file, NULL};
	char *envp[] = {NULL};

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	expect_fail(name, path, argv, envp, want);
}

/* Words of memory filled before the failing execs and checked after:
 * more than an ExCache of a few MiB, so the check reads the memory
 * node's copy, which a failed exec must leave alone. */
#define KEEP_WORDS ((8u << 20) / 8)

static void failures_phase(const char *dir)
{
	uint64_t *keep = malloc(KEEP_WORDS * 8);
	int kept = keep != NULL;
	char *argv[] = {"exectest", NULL};
	char *envp[] = {"A=1", NULL};
	char *bad_str[] = {"exectest", (char *)8, NULL};
	char *big_argv[] = {"exectest", big, NULL};

	for (size_t i = 0; keep && i < KEEP_WORDS; i++)
		keep[i] = tu_pattern(i, 0x4444);
	expect_fail("missing", "/no/such/program", argv, envp, ENOENT);
	expect_fail("directory", "/bin", argv, envp, EACCES);
	expect_fail_in("truncated-header", dir, "truncated-header", ENOEXEC);
	if (on_tessera())
		expect_fail_in("truncated-body", dir, "truncated-body", ENOEXEC);
	else
		printf("exectest: skip truncated-body (Linux maps past the end)\n");
	expect_fail_in("wrong-machine", dir, "wrong-machine", ENOEXEC);
	expect_fail_in("text", dir, "text", ENOEXEC);
	expect_fail_in("garbage", dir, "garbage", ENOEXEC);
	expect_fail("bad-path", (const char *)8, argv, envp, EFAULT);
	expect_fail("bad-argv", "/proc/self/exe", (char *const *)8, envp, EFAULT);
	expect_fail("bad-argv-string", "/proc/self/exe", bad_str, envp, EFAULT);
	expect_fail("bad-envp", "/proc/self/exe", argv, (char *const *)8, EFAULT);
	memset(big, 'x', BIG);
	expect_fail("too-big", "/proc/self/exe", big_argv, envp, E2BIG);
	for (size_t i = 0; keep && i < KEEP_WORDS; i++)
		kept &= keep[i] == tu_pattern(i, 0x4444);
	check("still-running", getpid() > 0 && marker == 1 && kept,
	      "memory changed by the failed execs");
	free(keep);
}

/* A forked child execs "exectest exit 7": the shell's pattern. */
static void fork_exec_phase(void)
{
	char *argv[] = {"exectest", "exit", "7", NULL};
	char *envp[] = {NULL};
	int status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		syscall(SYS_execve, "/proc/self/exe", argv, envp);
		_exit(99);
	}
	check("fork-exec", pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
				   WEXITSTATUS(status) == 7,
	      "the child did not exit 7 from the new image");
}

/* exectest chain N: execs itself N more times, then passes. */
static int chain(const char *arg)
{
	static char next[16];
	char *argv[] = {"exectest", "chain", next, NULL};
	char *envp[] = {NULL};
	int n = atoi(arg);

	if (n <= 0) {
		printf("exectest: ok chain\n");
		return 0;
	}
	snprintf(next, sizeof(next), "%d", n - 1);
	syscall(SYS_execve, "/proc/self/exe", argv, envp);
	printf("exectest: FAIL chain (%s)\n", strerror(errno));
	return 1;
}

/* The success: never returns if the exec works. */
static void exec_phase(void)
{
	static char a[16], b[16];
	int fd_cloexec = open("/etc/motd", O_RDONLY | O_CLOEXEC);
	int fd_kept = open("/etc/motd", O_RDONLY);
	char *argv[] = {"exectest", "child", a, b, NULL};
	char *envp[] = {"EXECTEST=hello world", NULL};

	check("open", fd_cloexec >= 0 && fd_kept >= 0, strerror(errno));
	snprintf(a, sizeof(a), "%d", fd_cloexec);
	snprintf(b, sizeof(b), "%d", fd_kept);
	marker = 2;
	fflush(stdout);
	syscall(SYS_execve, "/proc/self/exe", argv, envp);
	marker = 1;
	check("exec-self", 0, strerror(errno));
}

/* The new image: argv = exectest child FD_CLOEXEC FD_KEPT. */
static int child(int argc, char **argv, char **envp)
{
	const char *env = getenv("EXECTEST");
	int fd_cloexec = atoi(argv[2]), fd_kept = atoi(argv[3]);
	int fd_again;
	char c, first = 0;

	for (int i = 0; i < argc; i++)
		printf("exectest: argv[%d] = %s\n", i, argv[i]);
	for (int i = 0; envp[i]; i++)
		printf("exectest: envp[%d] = %s\n", i, envp[i]);
	check("child-argc", argc == 4, "argc is not 4");
	check("child-env", env && strcmp(env, "hello world") == 0, "EXECTEST missing");
	check("child-env-only", envp[0] && !envp[1], "more than the one variable");
	check("child-fresh-image", marker == 1, "static variable kept from the old image");
	errno = 0;
	check("cloexec-closed", read(fd_cloexec, &c, 1) == -1 && errno == EBADF,
	      "close-on-exec fd still open");
	fd_again = open("/etc/motd", O_RDONLY); /* may take the closed fd's number */
	check("reopen", fd_again >= 0 && read(fd_again, &first, 1) == 1, strerror(errno));
	check("kept-open", read(fd_kept, &c, 1) == 1 && c == first,
	      "fd lost, or not at offset 0 of /etc/motd");
	check("child-malloc", malloc(1 << 20) != NULL, "malloc failed");
	return failures ? 1 : 0;
}

int main(int argc, char **argv, char **envp)
{
	tu_init("exectest");
	if (argc == 4 && strcmp(argv[1], "child") == 0)
		return child(argc, argv, envp);
	if (argc == 3 && strcmp(argv[1], "exit") == 0)
		return atoi(argv[2]);
	if (argc == 3 && strcmp(argv[1], "chain") == 0)
		return chain(argv[2]);
	if (argc > 2)
		tu_usage(USAGE);
	failures_phase(argc == 2 ? argv[1] : "/etc/exectest");
	fork_exec_phase();
	exec_phase();
	return 1;
}
