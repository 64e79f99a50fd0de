/*
 * signals: what a shell needs from signals. A handler runs on kill of
 * oneself before kill returns and the interrupted code goes on (the
 * signal frame and rt_sigreturn); SIG_IGN; the blocked mask, sigpending
 * and delivery on unblock; sa_mask during a handler; SIGCHLD when a child
 * exits; kill of a child (default action: death, as wait reports it);
 * EINTR from a blocking read interrupted by a handler without SA_RESTART;
 * the signal masks of ppoll and pselect (a blocked signal pending
 * interrupts them, the old mask comes back); kill and sigaction's
 * errors.
 *
 * Checks print as "ok N - ..." lines (tests/abi/abi.h); exit 0 iff all
 * passed. Expectations are Linux's: the program passes on the host.
 */
#include "abi.h"

#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static volatile sig_atomic_t got_usr1, got_usr2, got_chld, usr2_blocked_in_usr1;

static void on_usr1(int sig)
{
	sigset_t now;

	got_usr1 += sig == SIGUSR1;
	sigprocmask(SIG_BLOCK, NULL, &now);
	usr2_blocked_in_usr1 = sigismember(&now, SIGUSR2) && sigismember(&now, SIGUSR1);
}

static void on_usr2(int sig) { got_usr2 += sig == SIGUSR2; }
static void on_chld(int sig) { got_chld += sig == SIGCHLD; }
static void on_alrm(int sig) { (void)sig; }

static int handle(int sig, void (*fn)(int), int flags, int also_block)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (also_block)
		sigaddset(&sa.sa_mask, also_block);
	return sigaction(sig, &sa, NULL);
}

static void test_handler(void)
{
	volatile long a = 6, b = 7, c;
	struct sigaction old;

	ABI_EQ(handle(SIGUSR1, on_usr1, 0, SIGUSR2), 0, "sigaction SIGUSR1");
	ABI_EQ(sigaction(SIGUSR1, NULL, &old), 0, "sigaction reads the old action");
	ABI_OK(old.sa_handler == on_usr1 && sigismember(&old.sa_mask, SIGUSR2),
	       "the old action is the handler and mask set");
	ABI_EQ(kill(getpid(), SIGUSR1), 0, "kill(getpid(), SIGUSR1)");
	ABI_EQ(got_usr1, 1, "the handler ran before kill returned");
	ABI_OK(usr2_blocked_in_usr1, "in the handler, the signal and sa_mask are blocked");
	c = a * b;
	ABI_EQ(c, 42, "the interrupted code goes on with its registers (rt_sigreturn)");
	ABI_EQ(raise(SIGUSR1), 0, "raise SIGUSR1");
	ABI_EQ(got_usr1, 2, "the handler ran again");
	ABI_OK(signal(SIGUSR2, SIG_IGN) != SIG_ERR, "signal(SIGUSR2, SIG_IGN)");
	ABI_EQ(kill(getpid(), SIGUSR2), 0, "kill SIGUSR2 while ignored");
	ABI_EQ(got_usr2, 0, "an ignored signal does nothing");
}

static void test_mask(void)
{
	sigset_t set, old, pend;

	handle(SIGUSR2, on_usr2, 0, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	ABI_EQ(sigprocmask(SIG_BLOCK, &set, &old), 0, "sigprocmask SIG_BLOCK SIGUSR2");
	ABI_OK(!sigismember(&old, SIGUSR2), "SIGUSR2 was not blocked before");
	ABI_EQ(kill(getpid(), SIGUSR2), 0, "kill SIGUSR2 while blocked");
	ABI_EQ(got_usr2, 0, "a blocked signal is not delivered");
	ABI_EQ(sigpending(&pend), 0, "sigpending");
	ABI_OK(sigismember(&pend, SIGUSR2), "sigpending shows SIGUSR2");
	ABI_EQ(sigprocmask(SIG_SETMASK, &old, NULL), 0, "sigprocmask restores the mask");
	ABI_EQ(got_usr2, 1, "the pending signal is delivered on unblock");
	sigpending(&pend);
	ABI_OK(!sigismember(&pend, SIGUSR2), "nothing pending after delivery");
	sigemptyset(&set);
	sigaddset(&set, SIGKILL);
	sigaddset(&set, SIGSTOP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigprocmask(SIG_BLOCK, NULL, &old);
	ABI_OK(!sigismember(&old, SIGKILL) && !sigismember(&old, SIGSTOP),
	       "SIGKILL and SIGSTOP cannot be blocked");
	ABI_ERR(sigprocmask(42, &set, NULL), EINVAL, "sigprocmask with a bad how: EINVAL");
	ABI_ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 4), EINVAL,
		"rt_sigprocmask with sigsetsize 4: EINVAL");
}

static void test_errors(void)
{
	ABI_EQ(kill(getpid(), 0), 0, "kill(self, 0): the process exists");
	ABI_ERR(kill(999999, 0), ESRCH, "kill a missing pid: ESRCH");
	ABI_ERR(kill(getpid(), 65), EINVAL, "kill with signal 65: EINVAL");
	ABI_ERR(handle(SIGKILL, on_usr2, 0, 0), EINVAL, "sigaction SIGKILL: EINVAL");
	ABI_ERR(handle(SIGSTOP, on_usr2, 0, 0), EINVAL, "sigaction SIGSTOP: EINVAL");
	ABI_ERR(handle(0, on_usr2, 0, 0), EINVAL, "sigaction signal 0: EINVAL");
	ABI_ERR(syscall(SYS_rt_sigaction, SIGUSR1, (void *)8, NULL, 8), EFAULT,
		"rt_sigaction with a bad pointer: EFAULT");
}

static void test_children(void)
{
	int status, p[2];
	pid_t pid;
	char c;

	ABI_EQ(handle(SIGCHLD, on_chld, SA_RESTART, 0), 0, "sigaction SIGCHLD");
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(0);
	ABI_EQ(waitpid(pid, &status, 0), pid, "waitpid the child");
	ABI_EQ(got_chld, 1, "SIGCHLD was delivered when the child exited");

	pipe(p);
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		read(p[0], &c, 1); /* blocks until killed */
		_exit(0);
	}
	close(p[0]);
	ABI_EQ(kill(pid, SIGTERM), 0, "kill a child blocked in read with SIGTERM");
	ABI_EQ(waitpid(pid, &status, 0), pid, "waitpid the killed child");
	ABI_OK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "the child died of SIGTERM");
	close(p[1]);
	signal(SIGCHLD, SIG_DFL);

	/* EINTR: a blocking read interrupted by a handler without SA_RESTART */
	pipe(p);
	ABI_EQ(handle(SIGALRM, on_alrm, 0, 0), 0, "sigaction SIGALRM (no SA_RESTART)");
	pid = fork();
	if (pid == 0) { /* again and again: the parent may not be in read yet */
		for (int i = 0; i < 100; i++) {
			usleep(200 * 1000);
			kill(getppid(), SIGALRM);
		}
		_exit(0);
	}
	ABI_ERR(read(p[0], &c, 1), EINTR, "a read interrupted by a handled signal: EINTR");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(p[0]);
	close(p[1]);
}

/* ppoll and pselect with a mask that unblocks a pending SIGUSR1: the
 * handler runs, the call fails with EINTR, SIGUSR1 is blocked again. */
static void test_wait_masks(void)
{
	struct timespec ten = {10, 0};
	sigset_t block, none, now;
	struct pollfd pfd;
	int p[2];
	fd_set rd;

	ABI_EQ(pipe(p), 0, "pipe for ppoll");
	pfd = (struct pollfd){.fd = p[0], .events = POLLIN};
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&none);
	ABI_EQ(handle(SIGUSR1, on_usr1, 0, 0), 0, "sigaction SIGUSR1 (no SA_RESTART)");
	ABI_EQ(sigprocmask(SIG_BLOCK, &block, NULL), 0, "block SIGUSR1");
	got_usr1 = 0;
	kill(getpid(), SIGUSR1);
	ABI_EQ(got_usr1, 0, "SIGUSR1 pending while blocked");
	ABI_ERR(ppoll(&pfd, 1, &ten, &none), EINTR,
		"ppoll with an empty mask: the pending SIGUSR1 interrupts it");
	ABI_EQ(got_usr1, 1, "its handler ran");
	sigprocmask(SIG_BLOCK, NULL, &now);
	ABI_OK(sigismember(&now, SIGUSR1), "after ppoll, SIGUSR1 is blocked again");
	kill(getpid(), SIGUSR1);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	ABI_ERR(pselect(p[0] + 1, &rd, NULL, NULL, &ten, &none), EINTR,
		"pselect with an empty mask: the pending SIGUSR1 interrupts it");
	ABI_EQ(got_usr1, 2, "its handler ran");
	sigprocmask(SIG_BLOCK, NULL, &now);
	ABI_OK(sigismember(&now, SIGUSR1), "after pselect, SIGUSR1 is blocked again");
	ABI_EQ(sigprocmask(SIG_UNBLOCK, &block, NULL), 0, "unblock SIGUSR1");
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	abi_init("signals");
	test_handler();
	test_mask();
	test_errors();
	test_children();
	test_wait_masks();
	return abi_done();
}
