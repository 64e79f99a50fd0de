/*
 * proc [DIR]: processes. fork and the statuses wait4, waitpid and waitid
 * report (exit codes, death by a signal, WNOHANG, ECHILD), getpid and
 * getppid, execve with argv, envp and the auxiliary vector checked by the
 * new image, close-on-exec, and execve's errors (ENOENT, EACCES, ENOEXEC
 * for a garbage file this program writes in DIR/abi-proc-PID, DIR
 * default /tmp), /proc/self/exe of this program run through symbolic
 * links made there (the file they lead to; ELOOP for a loop).
 *
 * The exec'd image is this program again, run as
 *     proc --exec-child KEEP_FD CLOEXEC_FD "two words" ""
 * with a small environment; it checks what it got and exits with one bit
 * per failed check (EXEC_*), so that only the parent prints (abi.h).
 * The program finds itself through argv[0], which must be an absolute path.
 *
 * Checks print as "ok N - ..." lines (tests/abi/abi.h); exit 0 iff all
 * passed. Expectations are Linux's: the program passes on the host.
 */
#include "abi.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* The exec'd child's findings: bit set = check failed. */
#define EXEC_ARGC    0x01 /* argc 6, argv[] as sent, argv[6] NULL */
#define EXEC_ENVP    0x02 /* exactly the environment sent */
#define EXEC_PAGESZ  0x04 /* AT_PAGESZ 4096 */
#define EXEC_RANDOM  0x08 /* AT_RANDOM: 16 readable bytes, not all zero */
#define EXEC_AUXV    0x10 /* AT_PHDR, AT_ENTRY set; AT_UID = getuid() */
#define EXEC_EXECFN  0x20 /* AT_EXECFN is the path given to execve */
#define EXEC_FDS     0x40 /* the kept fd open, the O_CLOEXEC fd closed */
static const struct {
	int bit;
	const char *what;
} exec_bits[] = {
	{EXEC_ARGC, "execve: the new image got argc and argv as sent"},
	{EXEC_ENVP, "execve: the new image got exactly the environment sent"},
	{EXEC_PAGESZ, "execve: getauxval(AT_PAGESZ) is 4096"},
	{EXEC_RANDOM, "execve: AT_RANDOM points at 16 bytes, not all zero"},
	{EXEC_AUXV, "execve: AT_PHDR and AT_ENTRY set, AT_UID is getuid()"},
	{EXEC_EXECFN, "execve: AT_EXECFN is the path execve was given"},
	{EXEC_FDS, "execve: a plain fd stays open, an O_CLOEXEC fd is closed"},
};

extern char **environ;

static int exec_child(int argc, char **argv)
{
	int bad = 0;
	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	const char *fn = (const char *)getauxval(AT_EXECFN);

	if (argc != 6 || strcmp(argv[4], "two words") || strcmp(argv[5], "") || argv[6])
		bad |= EXEC_ARGC;
	if (!environ[0] || strcmp(environ[0], "ABI_X=1") || !environ[1] ||
	    strcmp(environ[1], "EMPTY=") || environ[2] || strcmp(getenv("ABI_X"), "1"))
		bad |= EXEC_ENVP;
	if (getauxval(AT_PAGESZ) != 4096)
		bad |= EXEC_PAGESZ;
	if (!rnd)
		bad |= EXEC_RANDOM;
	else {
		int nz = 0;
		for (int i = 0; i < 16; i++)
			nz |= rnd[i];
		if (!nz)
			bad |= EXEC_RANDOM;
	}
	if (!getauxval(AT_PHDR) || !getauxval(AT_ENTRY) || getauxval(AT_UID) != getuid())
		bad |= EXEC_AUXV;
	if (!fn || strcmp(fn, argv[0]))
		bad |= EXEC_EXECFN;
	if (argc >= 4 && (fcntl(atoi(argv[2]), F_GETFD) != 0 ||
			  fcntl(atoi(argv[3]), F_GETFD) != -1 || errno != EBADF))
		bad |= EXEC_FDS;
	return bad;
}

/* Forks a child that runs fn and exits with its value; returns the pid. */
static pid_t spawn(void (*fn)(void))
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		fn();
		_exit(99);
	}
	return pid;
}

static void child_exit0(void) { _exit(0); }
static void child_exit42(void) { _exit(42); }
static void child_exit263(void) { _exit(263); } /* 263 & 0xff = 7 */
static void child_segv(void)
{
	volatile int *volatile bad = (int *)8; /* the first page is never mapped */
	*bad = 1;
}
static void child_sleep(void) { usleep(300 * 1000); _exit(5); }

static void child_ppid(void)
{
	/* the parent's pid was stored in an environment variable before fork */
	_exit(getppid() == atoi(getenv("ABI_PARENT")) && getpid() != getppid() ? 0 : 1);
}

static void test_wait(void)
{
	int status;
	pid_t pid;
	char buf[16];
	struct rusage ru;

	ABI_OK(getpid() > 0, "getpid > 0");
	ABI_OK(getppid() >= 0, "getppid >= 0");
	ABI_EQ(syscall(SYS_gettid), getpid(), "gettid is getpid (one thread)");
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	setenv("ABI_PARENT", buf, 1);
	pid = spawn(child_ppid);
	ABI_OK(pid > 0 && pid != getpid(), "fork returns the child's pid");
	ABI_EQ(waitpid(pid, &status, 0), pid, "waitpid returns the child's pid");
	ABI_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "the child's getppid is the parent's getpid");

	pid = spawn(child_exit42);
	ABI_EQ(wait4(pid, &status, 0, &ru), pid, "wait4 with rusage");
	ABI_EQ(status, 42 << 8, "exit 42: status 42 << 8");
	pid = spawn(child_exit263);
	ABI_EQ(wait4(-1, &status, 0, NULL), pid, "wait4(-1) returns the child");
	ABI_OK(WIFEXITED(status) && WEXITSTATUS(status) == 7, "exit 263: WEXITSTATUS 7");
	pid = spawn(child_segv);
	ABI_EQ(waitpid(pid, &status, 0), pid, "waitpid a child that faults");
	ABI_OK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "the child died of SIGSEGV");

	pid = spawn(child_sleep);
	ABI_EQ(waitpid(pid, &status, WNOHANG), 0, "waitpid WNOHANG on a running child: 0");
	ABI_EQ(waitpid(pid, &status, 0), pid, "then waitpid blocks until it exits");
	ABI_EQ(status, 5 << 8, "its status: exit 5");
	ABI_ERR(waitpid(-1, &status, 0), ECHILD, "waitpid with no children: ECHILD");
	ABI_ERR(waitpid(-1, &status, WNOHANG), ECHILD, "waitpid WNOHANG with no children: ECHILD");
	ABI_ERR(waitpid(getpid(), &status, 0), ECHILD, "waitpid a pid that is not a child: ECHILD");
	ABI_ERR(wait4(-1, &status, 0x100, NULL), EINVAL, "wait4 with bad options: EINVAL");

	{
		siginfo_t si;
		pid = spawn(child_exit0);
		memset(&si, 0xff, sizeof(si));
		ABI_EQ(waitid(P_PID, pid, &si, WEXITED), 0, "waitid P_PID WEXITED");
		ABI_EQ(si.si_pid, pid, "waitid: si_pid");
		ABI_EQ(si.si_code, CLD_EXITED, "waitid: si_code CLD_EXITED");
		ABI_EQ(si.si_status, 0, "waitid: si_status 0");
		ABI_EQ(si.si_signo, SIGCHLD, "waitid: si_signo SIGCHLD");
		pid = spawn(child_segv);
		ABI_EQ(waitid(P_ALL, 0, &si, WEXITED), 0, "waitid P_ALL");
		ABI_EQ(si.si_code, CLD_KILLED, "waitid: a faulting child is CLD_KILLED (no core)");
		ABI_EQ(si.si_status, SIGSEGV, "waitid: si_status SIGSEGV");
		pid = spawn(child_sleep);
		memset(&si, 0xff, sizeof(si));
		ABI_EQ(waitid(P_PID, pid, &si, WEXITED | WNOHANG), 0, "waitid WNOHANG on a running child: 0");
		ABI_EQ(si.si_pid, 0, "waitid WNOHANG with nothing to report: si_pid 0");
		ABI_EQ(waitid(P_PID, pid, &si, WEXITED), 0, "waitid until it exits");
		ABI_EQ(si.si_status, 5, "waitid: si_status 5");
		ABI_ERR(waitid(P_ALL, 0, &si, WEXITED), ECHILD, "waitid with no children: ECHILD");
		ABI_ERR(waitid(P_ALL, 0, &si, 0), EINVAL, "waitid without WEXITED etc.: EINVAL");
	}
}

static void test_exec(const char *self)
{
	int status, keep, cloexec;
	pid_t pid;
	char keep_s[12], cloexec_s[12];

	keep = open("/", O_RDONLY | O_DIRECTORY);
	cloexec = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(keep_s, sizeof(keep_s), "%d", keep);
	snprintf(cloexec_s, sizeof(cloexec_s), "%d", cloexec);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *argv[] = {(char *)self, "--exec-child", keep_s, cloexec_s, "two words", "", NULL};
		char *envp[] = {"ABI_X=1", "EMPTY=", NULL};
		execve(self, argv, envp);
		_exit(127);
	}
	ABI_EQ(waitpid(pid, &status, 0), pid, "waitpid the exec'd child");
	if (!ABI_OK(WIFEXITED(status) && WEXITSTATUS(status) != 127,
		    "execve of this program succeeded"))
		return;
	for (size_t i = 0; i < sizeof(exec_bits) / sizeof(exec_bits[0]); i++)
		abi_check(!(WEXITSTATUS(status) & exec_bits[i].bit), exec_bits[i].what,
			  "got status %#x from the new image", WEXITSTATUS(status));
	close(keep);
	close(cloexec);
}

/* Writes n bytes of buf into a new file name, mode 0755. */
static void write_exec(const char *name, const void *buf, size_t n)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0755);

	if (fd < 0 || write(fd, buf, n) != (ssize_t)n)
		printf("# could not write %s: %s\n", name, strerror(errno));
	close(fd);
}

/* Bad ELF files: a header cut short, and this program's own first 4 KiB
 * with the machine changed to AArch64 (183). */
static void test_bad_elf(const char *self)
{
	char *argv[] = {"x", NULL}, *envp[] = {NULL};
	unsigned char head[4096];
	int fd = open(self, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, head, sizeof(head)) : -1;

	close(fd);
	if (!ABI_OK(n >= 64 && !memcmp(head, "\x7f" "ELF", 4), "read this program's ELF header"))
		return;
	write_exec("truncated", head, 16);
	ABI_ERR(execve("truncated", argv, envp), ENOEXEC,
		"execve an ELF file cut after 16 bytes: ENOEXEC");
	head[18] = 183; /* e_machine: EM_AARCH64 */
	head[19] = 0;
	write_exec("aarch64", head, n);
	ABI_ERR(execve("aarch64", argv, envp), ENOEXEC,
		"execve an ELF file for another machine: ENOEXEC");
	unlink("truncated");
	unlink("aarch64");
}

static void test_exec_errors(void)
{
	char *argv[] = {"x", NULL}, *envp[] = {NULL};
	int fd;

	ABI_ERR(execve("/nosuch/program", argv, envp), ENOENT, "execve a missing file: ENOENT");
	ABI_ERR(execve("/", argv, envp), EACCES, "execve a directory: EACCES");
	fd = open("garbage", O_WRONLY | O_CREAT | O_TRUNC, 0755);
	for (int i = 0; i < 64; i++)
		write(fd, "\x01\x02garbage\xff", 10);
	close(fd);
	ABI_ERR(execve("garbage", argv, envp), ENOEXEC,
		"execve a garbage file with x bits: ENOEXEC");
	fd = open("noexec", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write(fd, "\x7f" "ELF", 4);
	close(fd);
	ABI_ERR(execve("noexec", argv, envp), EACCES, "execve a file without x bits: EACCES");
	ABI_ERR(syscall(SYS_execve, (void *)8, argv, envp), EFAULT, "execve a bad path pointer: EFAULT");
	ABI_OK(getpid() > 0, "the process is still there after the failed execs");
	unlink("garbage");
	unlink("noexec");
}

/* --print-exe: what /proc/self/exe names, on stdout. */
static int print_exe(void)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf));

	return n > 0 && write(1, buf, (size_t)n) == n ? 0 : 1;
}

/* Runs path --print-exe; what the new image's /proc/self/exe named, into
 * out (cap bytes), "" if nothing came. */
static void exe_of(const char *path, char *out, size_t cap)
{
	int fds[2];
	ssize_t n = 0;
	pid_t pid;

	out[0] = '\0';
	if (pipe(fds))
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *argv[] = {(char *)path, "--print-exe", NULL}, *envp[] = {NULL};

		dup2(fds[1], 1);
		execve(path, argv, envp);
		_exit(127);
	}
	close(fds[1]);
	for (ssize_t r; (r = read(fds[0], out + n, cap - 1 - (size_t)n)) > 0;)
		n += r;
	out[n] = '\0';
	close(fds[0]);
	waitpid(pid, NULL, 0);
}

/* /proc/self/exe of a program executed through symbolic links names the
 * file the links lead to. */
static void test_exe_links(const char *self)
{
	char want[4096], got[4096];
	char *argv[] = {"x", NULL}, *envp[] = {NULL};
	ssize_t n = readlink("/proc/self/exe", want, sizeof(want) - 1);

	if (!ABI_OK(n > 0, "readlink /proc/self/exe"))
		return;
	want[n] = '\0';
	ABI_EQ(symlink(self, "lnk"), 0, "symlink lnk -> this program");
	ABI_EQ(symlink("lnk", "lnk2"), 0, "symlink lnk2 -> lnk");
	ABI_EQ(symlink(".", "d"), 0, "symlink d -> .");
	exe_of(self, got, sizeof(got));
	ABI_STR(got, want, "/proc/self/exe of this program run by its path");
	exe_of("lnk", got, sizeof(got));
	ABI_STR(got, want, "/proc/self/exe of this program run through a link: the target");
	exe_of("d/lnk2", got, sizeof(got));
	ABI_STR(got, want, "... through a directory link and a chain of two links");
	ABI_EQ(symlink("loop2", "loop1"), 0, "symlink loop1 -> loop2");
	ABI_EQ(symlink("loop1", "loop2"), 0, "symlink loop2 -> loop1");
	ABI_ERR(execve("loop1", argv, envp), ELOOP, "execve a loop of links: ELOOP");
	unlink("lnk");
	unlink("lnk2");
	unlink("d");
	unlink("loop1");
	unlink("loop2");
}

static void test_auxv(void)
{
	ABI_EQ(getauxval(AT_PAGESZ), 4096, "getauxval(AT_PAGESZ): 4096");
	ABI_OK(getauxval(AT_RANDOM) != 0, "getauxval(AT_RANDOM) is set");
	ABI_OK(getauxval(AT_PHDR) != 0, "getauxval(AT_PHDR) is set");
	ABI_EQ(getauxval(AT_PHENT), 56, "getauxval(AT_PHENT): 56");
	ABI_EQ(getauxval(AT_EUID), geteuid(), "getauxval(AT_EUID) is geteuid()");
	ABI_EQ(getauxval(AT_SECURE), 0, "getauxval(AT_SECURE): 0");
}

int main(int argc, char **argv)
{
	const char *work;

	if (argc >= 2 && !strcmp(argv[1], "--exec-child"))
		return exec_child(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "--print-exe"))
		return print_exe();
	abi_init("proc");
	if (argv[0][0] != '/') {
		printf("Bail out! argv[0] must be the absolute path of this program\n");
		return 1;
	}
	work = abi_workdir(argc, argv);
	test_auxv();
	test_wait();
	test_exec(argv[0]);
	test_exec_errors();
	test_bad_elf(argv[0]);
	test_exe_links(argv[0]);
	chdir("/");
	ABI_EQ(rmdir(work), 0, "the work directory is empty and removed");
	return abi_done();
}
