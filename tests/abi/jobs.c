/*
 * jobs: stop signals and job control as a shell uses them. SIGSTOP stops
 * a child (waitpid with WUNTRACED reports WIFSTOPPED and WSTOPSIG, once);
 * a stopped child runs no code; SIGCONT resumes it (WCONTINUED reports
 * WIFCONTINUED) and runs its SIGCONT handler; SIGTSTP stops at its
 * default, but runs a handler if one is installed; SIGKILL ends a
 * stopped child; waitid with WSTOPPED and WCONTINUED (CLD_STOPPED,
 * CLD_CONTINUED); the parent's SIGCHLD handler (SA_SIGINFO) sees
 * CLD_STOPPED and CLD_CONTINUED, and nothing with SA_NOCLDSTOP.
 *
 * Each child leads its own process group (see start_child). Children
 * report through pipes; nothing here depends on timing to pass
 * (a sleep only gives a broken stop the chance to show). Checks print as
 * "ok N - ..." lines (tests/abi/abi.h); exit 0 iff all passed.
 * Expectations are Linux's: the program passes on the host.
 */
#include "abi.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static int report_fd = -1; /* the child's end of its pipe */

static void child_on_cont(int sig)
{
	(void)sig;
	write(report_fd, "c", 1);
}

static void child_on_tstp(int sig)
{
	(void)sig;
	write(report_fd, "t", 1);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* A child, in a process group of its own (so that the group is not
 * orphaned, whatever session this program runs in: Linux drops SIGTSTP
 * sent to an orphaned group), that installs handlers for cont / tstp
 * (if set), says "r"
 * (ready) on its pipe and then writes "." every 10 ms forever. *rfd:
 * the parent's (non-blocking) read end. */
static pid_t start_child(int *rfd, int cont, int tstp)
{
	int fd[2];
	pid_t pid;

	if (pipe(fd))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		report_fd = fd[1];
		close(fd[0]);
		if (cont)
			signal(SIGCONT, child_on_cont);
		if (tstp)
			signal(SIGTSTP, child_on_tstp);
		write(report_fd, "r", 1);
		for (;;) {
			sleep_ms(10);
			write(report_fd, ".", 1);
		}
	}
	setpgid(pid, pid); /* before the child's own call too: no race */
	close(fd[1]);
	*rfd = fd[0];
	return pid;
}

/* Blocks until the child's first byte other than '.'; returns it (0 at
 * EOF or error). */
static char next_mark(int fd)
{
	char c;

	fcntl(fd, F_SETFL, 0);
	while (read(fd, &c, 1) == 1)
		if (c != '.')
			return c;
	return 0;
}

/* Reads what is there without blocking; how many bytes. */
static int drain(int fd)
{
	char buf[256];
	int n = 0;
	ssize_t r;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		n += (int)r;
	return n;
}

static void test_stop_cont(void)
{
	int fd, st = 0;
	pid_t pid = start_child(&fd, 1, 0);

	ABI_OK(pid > 0, "fork a child with a SIGCONT handler");
	ABI_EQ(next_mark(fd), 'r', "the child is ready");
	ABI_EQ(kill(pid, SIGSTOP), 0, "kill SIGSTOP");
	ABI_EQ(waitpid(pid, &st, WUNTRACED), pid, "waitpid WUNTRACED returns the child");
	ABI_OK(WIFSTOPPED(st), "WIFSTOPPED");
	ABI_EQ(WSTOPSIG(st), SIGSTOP, "WSTOPSIG is SIGSTOP");
	ABI_EQ(waitpid(pid, &st, WUNTRACED | WNOHANG), 0, "the stop is reported once");
	drain(fd);
	sleep_ms(100);
	ABI_EQ(drain(fd), 0, "a stopped child runs no code (writes nothing)");
	ABI_EQ(kill(pid, SIGCONT), 0, "kill SIGCONT");
	ABI_EQ(waitpid(pid, &st, WCONTINUED), pid, "waitpid WCONTINUED returns the child");
	ABI_OK(WIFCONTINUED(st), "WIFCONTINUED");
	ABI_EQ(next_mark(fd), 'c', "its SIGCONT handler ran");
	ABI_EQ(waitpid(pid, &st, WCONTINUED | WNOHANG), 0, "the continue is reported once");
	ABI_EQ(kill(pid, SIGKILL), 0, "kill SIGKILL");
	ABI_EQ(waitpid(pid, &st, 0), pid, "waitpid");
	ABI_OK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "killed by SIGKILL");
	close(fd);
}

static void test_tstp(void)
{
	int fd, st = 0;
	pid_t pid = start_child(&fd, 0, 1);

	ABI_EQ(next_mark(fd), 'r', "a child with a SIGTSTP handler is ready");
	ABI_EQ(kill(pid, SIGTSTP), 0, "kill SIGTSTP");
	ABI_EQ(next_mark(fd), 't', "its handler runs instead of a stop");
	ABI_EQ(waitpid(pid, &st, WUNTRACED | WNOHANG), 0, "it is not stopped");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	close(fd);
	pid = start_child(&fd, 0, 0);
	ABI_EQ(next_mark(fd), 'r', "a child without one is ready");
	ABI_EQ(kill(pid, SIGTSTP), 0, "kill SIGTSTP");
	ABI_EQ(waitpid(pid, &st, WUNTRACED), pid, "waitpid WUNTRACED");
	ABI_OK(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTSTP, "stopped by SIGTSTP at its default");
	ABI_EQ(kill(pid, SIGKILL), 0, "SIGKILL to the stopped child");
	ABI_EQ(waitpid(pid, &st, 0), pid, "waitpid");
	ABI_OK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the stopped child dies of SIGKILL");
	close(fd);
}

static void test_waitid(void)
{
	siginfo_t si;
	int fd, st;
	pid_t pid = start_child(&fd, 0, 0);

	ABI_EQ(next_mark(fd), 'r', "a child for waitid is ready");
	kill(pid, SIGSTOP);
	memset(&si, 0, sizeof(si));
	ABI_EQ(waitid(P_PID, pid, &si, WSTOPPED), 0, "waitid WSTOPPED");
	ABI_EQ(si.si_code, CLD_STOPPED, "si_code CLD_STOPPED");
	ABI_EQ(si.si_status, SIGSTOP, "si_status SIGSTOP");
	ABI_EQ(si.si_pid, pid, "si_pid the child");
	kill(pid, SIGCONT);
	memset(&si, 0, sizeof(si));
	ABI_EQ(waitid(P_PID, pid, &si, WCONTINUED), 0, "waitid WCONTINUED");
	ABI_EQ(si.si_code, CLD_CONTINUED, "si_code CLD_CONTINUED");
	ABI_EQ(si.si_status, SIGCONT, "si_status SIGCONT");
	ABI_ERR(waitid(P_PID, pid, &si, WNOHANG), EINVAL,
		"waitid without WEXITED, WSTOPPED or WCONTINUED: EINVAL");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	close(fd);
}

static volatile sig_atomic_t chld_count, chld_code, chld_status, chld_pid;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	chld_count++;
	chld_code = si->si_code;
	chld_status = si->si_status;
	chld_pid = si->si_pid;
}

static int handle_chld(int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | flags;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGCHLD, &sa, NULL);
}

/* Sleeps (SIGCHLD unblocked by old) until the handler has seen code:
 * Linux sends CLD_CONTINUED when the continued child next runs, which
 * may be after the parent's waitpid saw WIFCONTINUED. */
static void await_chld_code(int code, const sigset_t *old)
{
	while (chld_code != code)
		sigsuspend(old);
}

static void test_sigchld(void)
{
	sigset_t chld, old;
	int fd, st;
	pid_t pid;
	int before;

	ABI_EQ(handle_chld(0), 0, "sigaction SIGCHLD with SA_SIGINFO");
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pid = start_child(&fd, 0, 0);
	ABI_EQ(next_mark(fd), 'r', "a child is ready");
	sigprocmask(SIG_BLOCK, &chld, &old);
	kill(pid, SIGSTOP);
	ABI_EQ(waitpid(pid, &st, WUNTRACED), pid, "waitpid WUNTRACED");
	await_chld_code(CLD_STOPPED, &old);
	ABI_EQ(chld_count, 1, "the parent's SIGCHLD handler ran once for the stop");
	ABI_EQ(chld_status, SIGSTOP, "with si_code CLD_STOPPED and si_status SIGSTOP");
	ABI_EQ(chld_pid, pid, "and si_pid the child");
	kill(pid, SIGCONT);
	ABI_EQ(waitpid(pid, &st, WCONTINUED), pid, "waitpid WCONTINUED");
	await_chld_code(CLD_CONTINUED, &old);
	ABI_EQ(chld_status, SIGCONT, "SIGCHLD with si_code CLD_CONTINUED, si_status SIGCONT");
	sigprocmask(SIG_SETMASK, &old, NULL);
	ABI_EQ(handle_chld(SA_NOCLDSTOP), 0, "sigaction SIGCHLD with SA_NOCLDSTOP");
	before = chld_count;
	kill(pid, SIGSTOP);
	ABI_EQ(waitpid(pid, &st, WUNTRACED), pid, "waitpid WUNTRACED");
	ABI_EQ(chld_count, before, "SA_NOCLDSTOP: no SIGCHLD for the stop");
	sigprocmask(SIG_BLOCK, &chld, &old);
	kill(pid, SIGKILL);
	ABI_EQ(waitpid(pid, &st, 0), pid, "waitpid for the killed child");
	await_chld_code(CLD_KILLED, &old);
	ABI_EQ(chld_status, SIGKILL, "its death still sends SIGCHLD (CLD_KILLED, SIGKILL)");
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGCHLD, SIG_DFL);
	close(fd);
}

int main(int argc, char **argv)
{
	abi_init("jobs");
	(void)argc;
	(void)argv;
	test_stop_cont();
	test_tstp();
	test_waitid();
	test_sigchld();
	return abi_done();
}
