/*
 * sigtest: signals of a Linux process, as a static musl program that
 * prints the same lines on Linux and on a Tessera processor: handlers
 * with their siginfo and with registers and FPU state intact across
 * them, masks and pending sets, SIG_IGN, default actions killing a child
 * (wait status WIFSIGNALED), SIGCHLD (a handler; SIG_IGN reaping at
 * once), a SIGSEGV handler leaving by siglongjmp, sigaltstack, alarm
 * interrupting pause, nanosleep interrupted with the time left, SA_RESTART
 * against EINTR in wait4, setpgid/getpgid/setsid, kill(0, sig) to a
 * process group, rt_sigsuspend, setitimer/getitimer.
 *
 * One line per check, "sigtest: ok NAME" or "sigtest: FAIL NAME (why)", in
 * a fixed order; children report through their exit status. No check
 * depends on timing beyond generous margins (a timer of 100-300 ms
 * against a sleep of seconds). Exit 0 only if every check passed.
 */
#define _GNU_SOURCE
#include "tu.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

static unsigned failures;

static void check(const char *name, int ok, const char *why)
{
	if (ok)
		printf("sigtest: ok %s\n", name);
	else {
		printf("sigtest: FAIL %s (%s)\n", name, why);
		failures++;
	}
}

static volatile sig_atomic_t hits;
static volatile int got_signo, got_code, got_pid;
static volatile void *got_addr;
static volatile double handler_sum;

static void on_info(int sig, siginfo_t *si, void *uc)
{
	volatile double x = 1.0;

	(void)sig;
	(void)uc;
	hits++;
	got_signo = si->si_signo;
	got_code = si->si_code;
	got_pid = si->si_pid;
	for (int i = 0; i < 10; i++) /* the handler's own FPU work */
		x = x * 3.25 + 0.5;
	handler_sum = x;
	/* clobber every caller-saved register the interrupted code had */
	__asm__ volatile("xor %%r8d, %%r8d\n\txor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\t"
			 "xor %%r11d, %%r11d\n\txor %%ecx, %%ecx\n\txor %%edx, %%edx\n\t"
			 "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm7, %%xmm7"
			 ::: "r8", "r9", "r10", "r11", "rcx", "rdx", "xmm0", "xmm1", "xmm7");
}

static void on_count(int sig)
{
	(void)sig;
	hits++;
}

static void set_handler(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		tu_fail("sigaction %d: %s", sig, strerror(errno));
}

static void set_info_handler(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_info;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		tu_fail("sigaction %d: %s", sig, strerror(errno));
}

/* kill(getpid(), SIGUSR1) by hand with known values in r8-r10, r12-r15
 * and rbx; whether they are the same afterwards. */
static int regs_survive_kill(void)
{
	long pid = getpid(); /* before the register variables: a call clobbers them */
	register long r8 __asm__("r8") = 0x0808080808080808;
	register long r9 __asm__("r9") = 0x0909090909090909;
	register long r10 __asm__("r10") = 0x1010101010101010;
	register long r12 __asm__("r12") = 0x1212121212121212;
	register long r13 __asm__("r13") = 0x1313131313131313;
	long rax = SYS_kill, rbx = 0x0b0b0b0b0b0b0b0b;

	__asm__ volatile("syscall"
			 : "+a"(rax), "+r"(r8), "+r"(r9), "+r"(r10), "+r"(r12), "+r"(r13),
			   "+b"(rbx)
			 : "D"(pid), "S"((long)SIGUSR1)
			 : "rcx", "r11", "memory");
	return rax == 0 && r8 == 0x0808080808080808 && r9 == 0x0909090909090909 &&
	       r10 == 0x1010101010101010 && r12 == 0x1212121212121212 &&
	       r13 == 0x1313131313131313 && rbx == 0x0b0b0b0b0b0b0b0b;
}

static void test_handler_info_and_state(void)
{
	volatile double a = 1.5, b;
	double expect = 1.0;

	set_info_handler(SIGUSR1);
	hits = 0;
	b = a * 7.25;
	if (kill(getpid(), SIGUSR1))
		tu_fail("kill: %s", strerror(errno));
	b = b + a; /* across the handler */
	check("handler-ran-once", hits == 1, "hits != 1");
	check("siginfo", got_signo == SIGUSR1 && got_code == SI_USER && got_pid == getpid(),
	      "signo/code/pid");
	check("fpu-intact", b == 1.5 * 7.25 + 1.5, "double changed across handler");
	for (int i = 0; i < 10; i++)
		expect = expect * 3.25 + 0.5;
	check("handler-fpu", handler_sum == expect, "handler's own double");
	hits = 0;
	check("registers-intact", regs_survive_kill() && hits == 1, "a register changed");
}

static void test_mask(void)
{
	sigset_t set, old, pend;

	set_handler(SIGUSR2, on_count, 0);
	hits = 0;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, &old);
	kill(getpid(), SIGUSR2);
	kill(getpid(), SIGUSR2);
	sigpending(&pend);
	check("blocked-not-delivered", hits == 0 && sigismember(&pend, SIGUSR2) == 1,
	      "delivered while blocked, or not pending");
	sigprocmask(SIG_SETMASK, &old, NULL);
	check("unblock-delivers-once", hits == 1, "not exactly once");
	sigpending(&pend);
	check("pending-cleared", sigismember(&pend, SIGUSR2) == 0, "still pending");
}

static void test_ignore(void)
{
	signal(SIGUSR2, SIG_IGN);
	kill(getpid(), SIGUSR2);
	check("sig-ign", 1, "");
	signal(SIGUSR2, SIG_DFL);
}

/* Forks a child running fn (which exits); its pid. */
static pid_t spawn(void (*fn)(void))
{
	pid_t pid = fork();

	if (pid < 0)
		tu_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		fn();
		_exit(99);
	}
	return pid;
}

static void child_sleeps(void)
{
	for (;;)
		pause();
}

static void test_default_kill(void)
{
	pid_t c = spawn(child_sleeps);
	int st = 0;

	tu_sleep_ms(100); /* it may or may not be in pause yet: both must work */
	kill(c, SIGTERM);
	check("sigterm-kills-child",
	      waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
	      "not killed by SIGTERM");
}

static void child_aborts(void)
{
	abort();
}

static void test_core_default(void)
{
	pid_t c = spawn(child_aborts);
	int st = 0;

	check("sigabrt-kills-child",
	      waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
	      "not killed by SIGABRT");
}

static void child_exits_3(void)
{
	_exit(3);
}

static void test_sigchld(void)
{
	pid_t c;
	int st = 0;

	set_info_handler(SIGCHLD);
	got_signo = 0;
	hits = 0;
	c = spawn(child_exits_3);
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	check("sigchld-handler",
	      hits == 1 && got_signo == SIGCHLD && got_code == CLD_EXITED && got_pid == c,
	      "no SIGCHLD with CLD_EXITED and the child's pid");
	check("exit-status", WIFEXITED(st) && WEXITSTATUS(st) == 3, "status");
	signal(SIGCHLD, SIG_DFL);

	signal(SIGCHLD, SIG_IGN);
	c = spawn(child_exits_3);
	check("sigchld-ign-echild", waitpid(c, &st, 0) < 0 && errno == ECHILD,
	      "a zombie was left");
	signal(SIGCHLD, SIG_DFL);
}

static sigjmp_buf segv_jmp;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_signo = sig;
	got_code = si->si_code;
	got_addr = si->si_addr;
	siglongjmp(segv_jmp, 1);
}

static volatile uintptr_t bad_address = 16; /* opaque to the compiler */

static void test_segv(void)
{
	struct sigaction sa;
	volatile int *bad = (volatile int *)bad_address;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	got_signo = 0;
	if (sigsetjmp(segv_jmp, 1) == 0) {
		*bad = 1;
		check("segv-handler", 0, "the write did not fault");
	} else {
		check("segv-handler",
		      got_signo == SIGSEGV && got_code == SEGV_MAPERR && got_addr == (void *)16,
		      "signo/code/addr");
	}
	/* again: siglongjmp restored the mask, so SIGSEGV is not blocked */
	got_signo = 0;
	if (sigsetjmp(segv_jmp, 1) == 0)
		*bad = 2;
	check("segv-handler-again", got_signo == SIGSEGV, "second fault not handled");
	signal(SIGSEGV, SIG_DFL);
}

static char altstack[16384];
static volatile int on_alt;

static void on_alt_check(int sig)
{
	char here;

	(void)sig;
	on_alt = &here >= altstack && &here < altstack + sizeof(altstack);
}

static void test_altstack(void)
{
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)}, cur;

	if (sigaltstack(&ss, NULL))
		tu_fail("sigaltstack: %s", strerror(errno));
	set_handler(SIGUSR1, on_alt_check, SA_ONSTACK);
	kill(getpid(), SIGUSR1);
	sigaltstack(NULL, &cur);
	check("altstack", on_alt && cur.ss_sp == altstack && cur.ss_flags == 0,
	      "handler not on the alternate stack");
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	signal(SIGUSR1, SIG_DFL);
}

static void test_alarm_pause(void)
{
	int r;

	set_handler(SIGALRM, on_count, 0);
	hits = 0;
	check("alarm-none-before", alarm(1) == 0, "an alarm was set");
	r = pause();
	check("alarm-interrupts-pause", r == -1 && errno == EINTR && hits == 1,
	      "pause did not end by the alarm");
	signal(SIGALRM, SIG_DFL);
}

static void test_itimer(void)
{
	struct itimerval it = {.it_value = {.tv_sec = 5}}, cur;

	setitimer(ITIMER_REAL, &it, NULL);
	getitimer(ITIMER_REAL, &cur);
	check("getitimer", cur.it_value.tv_sec <= 5 && cur.it_value.tv_sec >= 3 &&
				   cur.it_interval.tv_sec == 0,
	      "remaining time off");
	check("alarm-returns-left", alarm(0) >= 3, "alarm(0) did not say what was left");
	getitimer(ITIMER_REAL, &cur);
	check("alarm-0-disarms", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0,
	      "still armed");
}

/* The child of test_nanosleep: a SIGUSR1 handler, then a long sleep the
 * parent interrupts; exit 0 if it ended by EINTR with time left. */
static void child_nanosleep(void)
{
	struct timespec ts = {.tv_sec = 30}, rem = {0};

	set_handler(SIGUSR1, on_count, SA_RESTART); /* nanosleep ignores it */
	if (nanosleep(&ts, &rem) == 0)
		_exit(1);
	if (errno == EINTR && rem.tv_sec > 10 && rem.tv_sec <= 30)
		_exit(0);
	fprintf(stderr, "sigtest: nanosleep: errno %d, rem %lld.%09ld\n", errno,
		(long long)rem.tv_sec, rem.tv_nsec);
	_exit(2);
}

static void test_nanosleep(void)
{
	pid_t c = spawn(child_nanosleep);
	char why[64];
	int st = 0;

	tu_sleep_ms(300);
	kill(c, SIGUSR1);
	waitpid(c, &st, 0);
	snprintf(why, sizeof(why), "wait status %#x", st);
	check("nanosleep-eintr-rem", WIFEXITED(st) && WEXITSTATUS(st) == 0, why);
	c = spawn(child_sleeps);
	tu_sleep_ms(200);
	kill(c, SIGINT);
	check("sigint-kills-sleeper",
	      waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "");
}

static void child_sleeps_1500ms(void)
{
	tu_sleep_ms(1500);
	_exit(5);
}

/* wait4 interrupted by a SIGALRM handler: EINTR without SA_RESTART, the
 * child's status with it. */
static void test_restart(void)
{
	struct itimerval it = {.it_value = {.tv_usec = 200000}};
	pid_t c;
	int st = 0, r;

	set_handler(SIGALRM, on_count, 0);
	hits = 0;
	c = spawn(child_sleeps);
	setitimer(ITIMER_REAL, &it, NULL);
	r = waitpid(c, &st, 0);
	check("wait-eintr", r < 0 && errno == EINTR && hits == 1, "wait4 not interrupted");
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	check("sigkill", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "");

	set_handler(SIGALRM, on_count, SA_RESTART);
	hits = 0;
	c = spawn(child_sleeps_1500ms);
	setitimer(ITIMER_REAL, &it, NULL);
	r = waitpid(c, &st, 0);
	check("wait-sa-restart", r == c && hits == 1 && WIFEXITED(st) && WEXITSTATUS(st) == 5,
	      "wait4 not restarted");
	signal(SIGALRM, SIG_DFL);
}

static volatile sig_atomic_t stop_spinning;

static void on_stop(int sig)
{
	(void)sig;
	stop_spinning = 1;
}

/* Computes until a SIGUSR1 handler says stop; exit 0 if the sum it kept
 * in registers and the FPU is right afterwards. */
static void child_spins_until_usr1(void)
{
	volatile unsigned long n = 0;
	double d = 0.0;

	set_handler(SIGUSR1, on_stop, 0);
	while (!stop_spinning) {
		n++;
		d += 0.5;
	}
	_exit(d == 0.5 * (double)n ? 0 : 1);
}

static void child_spins(void)
{
	volatile unsigned long n = 0;

	for (;;)
		n++;
}

static volatile int fpe_num = 12345, fpe_zero, fpe_result;

static void divide_by_zero(void)
{
	fpe_result = fpe_num / fpe_zero; /* not 1 / x: gcc does that without idiv */
}

/* Signals to a process in a compute loop (no syscalls): reached at its
 * next interrupt; a handler runs and returns into the loop. */
static void test_compute_loop(void)
{
	pid_t c = spawn(child_spins_until_usr1);
	int st = 0;

	tu_sleep_ms(300);
	kill(c, SIGUSR1);
	check("handler-in-compute-loop",
	      waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "the loop did not see its handler, or its state changed");
	c = spawn(child_spins);
	tu_sleep_ms(200);
	kill(c, SIGKILL);
	check("sigkill-compute-loop",
	      waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "");
}

static void on_fpe(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_signo = sig;
	got_code = si->si_code;
	siglongjmp(segv_jmp, 1);
}

static void test_fpe_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fpe;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGFPE, &sa, NULL);
	got_signo = 0;
	if (sigsetjmp(segv_jmp, 1) == 0)
		divide_by_zero();
	check("sigfpe-handler", got_signo == SIGFPE && got_code == FPE_INTDIV, "signo/code");
	signal(SIGFPE, SIG_DFL);
}

static void test_sigtimedwait(void)
{
	struct timespec ts = {.tv_nsec = 50000000};
	sigset_t set;
	siginfo_t si;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	kill(getpid(), SIGUSR2);
	memset(&si, 0, sizeof(si));
	check("sigtimedwait", sigtimedwait(&set, &si, &ts) == SIGUSR2 &&
				      si.si_signo == SIGUSR2 && si.si_code == SI_USER &&
				      si.si_pid == getpid(),
	      "signal not taken with its siginfo");
	check("sigtimedwait-eagain", sigtimedwait(&set, &si, &ts) < 0 && errno == EAGAIN,
	      "no EAGAIN after the timeout");
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void test_sigsuspend(void)
{
	sigset_t set, none, now;

	set_handler(SIGUSR2, on_count, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	hits = 0;
	kill(getpid(), SIGUSR2);
	sigemptyset(&none);
	check("sigsuspend", sigsuspend(&none) == -1 && errno == EINTR && hits == 1, "");
	sigprocmask(SIG_BLOCK, NULL, &now);
	check("sigsuspend-mask-back", sigismember(&now, SIGUSR2) == 1, "mask not restored");
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGUSR2, SIG_DFL);
}

static void grandchild_handler(int sig)
{
	(void)sig;
	_exit(7);
}

/* In its own process group with two children; kill(0, SIGUSR1) reaches
 * all three. Exit 0 if it all went so. */
static void child_group_leader(void)
{
	pid_t g[2];
	int st, ok = 1;

	if (setpgid(0, 0) || getpgid(0) != getpid() || getpgrp() != getpid())
		_exit(1);
	set_handler(SIGUSR1, grandchild_handler, 0);
	for (int i = 0; i < 2; i++) {
		g[i] = fork();
		if (g[i] == 0)
			for (;;)
				pause();
	}
	set_handler(SIGUSR1, on_count, 0);
	hits = 0;
	if (getpgid(g[0]) != getpid() || getpgid(g[1]) != getpid())
		_exit(2);
	kill(0, SIGUSR1);
	for (int i = 0; i < 2; i++)
		ok &= waitpid(g[i], &st, 0) == g[i] && WIFEXITED(st) && WEXITSTATUS(st) == 7;
	_exit(ok && hits == 1 ? 0 : 3);
}

static void child_new_session(void)
{
	pid_t s = setsid();

	_exit(s == getpid() && getsid(0) == getpid() && getpgid(0) == getpid() &&
			      setpgid(0, 0) < 0 && errno == EPERM
		      ? 0
		      : 1);
}

static void test_groups(void)
{
	pid_t c = spawn(child_group_leader);
	int st = 0;

	setpgid(c, c); /* races the child's own setpgid: both set the same */
	check("kill-0-reaches-group", waitpid(c, &st, 0) == c && WIFEXITED(st) &&
					      WEXITSTATUS(st) == 0,
	      "group kill or getpgid wrong");
	c = spawn(child_new_session);
	check("setsid", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "setsid/getsid wrong");
	check("setsid-leader-eperm", getpgid(0) != getpid() || setsid() < 0, "");
	check("kill-esrch", kill(999999, 0) < 0 && errno == ESRCH, "no ESRCH");
	check("kill-einval", kill(getpid(), 65) < 0 && errno == EINVAL, "no EINVAL");
}

int main(void)
{
	tu_init("sigtest");
	test_handler_info_and_state();
	test_mask();
	test_ignore();
	test_default_kill();
	test_core_default();
	test_sigchld();
	test_segv();
	test_altstack();
	test_alarm_pause();
	test_itimer();
	test_nanosleep();
	test_restart();
	test_compute_loop();
	test_fpe_handler();
	test_sigtimedwait();
	test_sigsuspend();
	test_groups();
	printf("sigtest: %s\n", failures ? "FAILED" : "all passed");
	return failures ? 1 : 0;
}
