/*
 * legacy: older or rarer system calls that static programs still make.
 * getdents (78: the old linux_dirent, d_type in each record's last
 * byte) lists a directory with the right names and types and advances
 * like getdents64; restart_syscall with nothing to restart is EINTR;
 * sigqueue (rt_sigqueueinfo) delivers its value and SI_QUEUE to a
 * handler of the sender itself and, through sigwaitinfo, to a child;
 * rt_sigqueueinfo with a code >= 0 to another process is EPERM (to
 * itself allowed), rt_tgsigqueueinfo to one of its threads.
 *
 * Checks print as "ok N - ..." lines (tests/abi/abi.h); exit 0 iff all
 * passed. Expectations are Linux's: the program passes on the host.
 */
#include "abi.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* The old struct linux_dirent (no libc declares it). */
struct old_dirent {
	unsigned long d_ino;
	unsigned long d_off;
	unsigned short d_reclen;
	char d_name[];
};

static void test_getdents(void)
{
	char buf[4096];
	int fd, seen = 0, types_ok = 1, sizes_ok = 1;
	long n, total = 0;

	mkdir("d", 0755);
	mkdir("d/sub", 0755);
	close(open("d/a", O_CREAT | O_WRONLY, 0644));
	close(open("d/bb", O_CREAT | O_WRONLY, 0644));
	fd = open("d", O_RDONLY | O_DIRECTORY);
	ABI_OK(fd >= 0, "open the directory");
	while ((n = syscall(SYS_getdents, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct old_dirent *d = (struct old_dirent *)(buf + off);
			unsigned char type = (unsigned char)buf[off + d->d_reclen - 1];
			size_t len = strlen(d->d_name);

			if (d->d_reclen % 8 || len + 20 > d->d_reclen)
				sizes_ok = 0;
			if (!strcmp(d->d_name, "a") || !strcmp(d->d_name, "bb"))
				seen |= 1 << len, types_ok &= type == DT_REG;
			else if (!strcmp(d->d_name, "sub"))
				seen |= 8, types_ok &= type == DT_DIR;
			else if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				types_ok &= type == DT_DIR;
			else
				seen |= 16; /* something else */
			off += d->d_reclen;
			total++;
		}
	}
	ABI_EQ(n, 0, "getdents ends with 0");
	ABI_EQ(seen, 2 | 4 | 8, "getdents lists a, bb and sub (and nothing else)");
	ABI_EQ(total, 5, "five entries with . and ..");
	ABI_OK(types_ok, "d_type in each record's last byte: DT_REG, DT_DIR");
	ABI_OK(sizes_ok, "records 8-byte aligned, the name inside");
	ABI_EQ(lseek(fd, 0, SEEK_SET), 0, "rewind the directory");
	ABI_ERR(syscall(SYS_getdents, fd, buf, 8), EINVAL,
		"getdents with a buffer too small for one entry: EINVAL");
	close(fd);
	fd = open("d/a", O_RDONLY);
	ABI_ERR(syscall(SYS_getdents, fd, buf, sizeof(buf)), ENOTDIR,
		"getdents of a regular file: ENOTDIR");
	close(fd);
	unlink("d/a");
	unlink("d/bb");
	rmdir("d/sub");
	rmdir("d");
}

static volatile sig_atomic_t got_code, got_value, got_pid;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	got_code = si->si_code;
	got_value = si->si_value.sival_int;
	got_pid = si->si_pid;
}

static void test_sigqueue(void)
{
	struct sigaction sa;
	siginfo_t si;
	sigset_t set;
	int fd[2], value = 0, st;
	pid_t pid;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	ABI_EQ(sigaction(SIGUSR1, &sa, NULL), 0, "sigaction SIGUSR1 SA_SIGINFO");
	ABI_EQ(sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 4242}), 0,
	       "sigqueue to itself");
	ABI_EQ(got_code, SI_QUEUE, "the handler sees SI_QUEUE");
	ABI_EQ(got_value, 4242, "and the value");
	ABI_EQ(got_pid, getpid(), "and the sender's pid");
	memset(&si, 0, sizeof(si));
	si.si_code = SI_USER;
	si.si_pid = getpid();
	got_code = -100;
	ABI_EQ(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si), 0,
	       "rt_sigqueueinfo with SI_USER to itself is allowed");
	ABI_EQ(got_code, SI_USER, "and delivered as sent");
	ABI_EQ(syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGUSR1, &si), 0,
	       "rt_tgsigqueueinfo to its own thread");

	ABI_EQ(pipe(fd), 0, "pipe");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL); /* the child inherits it blocked */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		siginfo_t ci;
		int v;

		close(fd[0]);
		v = sigwaitinfo(&set, &ci) == SIGUSR2 && ci.si_code == SI_QUEUE
			    ? ci.si_value.sival_int
			    : -1;
		write(fd[1], &v, sizeof(v));
		_exit(0);
	}
	close(fd[1]);
	memset(&si, 0, sizeof(si));
	si.si_code = SI_USER;
	ABI_ERR(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR2, &si), EPERM,
		"rt_sigqueueinfo with SI_USER to another process: EPERM");
	si.si_code = SI_TKILL;
	ABI_ERR(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR2, &si), EPERM,
		"rt_sigqueueinfo with SI_TKILL to another process: EPERM");
	ABI_EQ(sigqueue(pid, SIGUSR2, (union sigval){.sival_int = 77}), 0,
	       "sigqueue to the child");
	ABI_EQ(read(fd[0], &value, sizeof(value)), sizeof(value), "the child reports");
	ABI_EQ(value, 77, "its sigwaitinfo got SI_QUEUE and the value");
	ABI_EQ(waitpid(pid, &st, 0), pid, "waitpid");
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	close(fd[0]);
}

int main(int argc, char **argv)
{
	abi_init("legacy");
	abi_workdir(argc, argv);
	test_getdents();
	ABI_ERR(syscall(SYS_restart_syscall), EINTR,
		"restart_syscall with nothing to restart: EINTR");
	test_sigqueue();
	return abi_done();
}
