/*
 * vfork: the child runs in its parent's memory until it execs or
 * exits, as Linux's vfork (and clone(CLONE_VM|CLONE_VFORK), which
 * posix_spawn uses). What the child stores before its execve or _exit
 * (into a global, into the parent's stack frame, an errno after a
 * failed execve), maps (mmap) or does in a signal handler is the
 * parent's; a failed execve leaves the child in the parent's memory
 * (it can try again); a successful one gives it a memory of its own:
 * the parent's globals, heap and stack are as they were. A vfork
 * parent killed meanwhile, or exec'ing from another thread, leaves the
 * memory whole for the child. (posix_spawn, which relies on this in
 * glibc, is spawn.c's.)
 *
 * Built with musl and, as vfork.glibc, with glibc (mk/cluster.mk's
 * ABI_GLIBC). Needs /bin/busybox (as spawn.c). Checks print as "ok N -
 * ..." lines (tests/abi/abi.h); exit 0 iff all passed. Expectations are
 * Linux's.
 */
#include "abi.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define BUSYBOX	   "/bin/busybox"
#define HEAP_WORDS (64 * 1024) /* 512 KiB of pattern on the heap */

extern char **environ;

static volatile int global_word;
static volatile pid_t handled_by; /* the signal handler's getpid() */
static uint64_t global_pattern[512];

static uint64_t pattern(size_t i)
{
	return (uint64_t)i * 0x9e3779b97f4a7c15ull + 0x5a5a;
}

static int exited_with(int st, int code)
{
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == code;
}

static void test_child_stores(void)
{
	volatile int local = 1;
	pid_t pid;

	global_word = 0;
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		global_word = 42;
		local = 2;
		_exit(3);
	}
	ABI_OK(pid > 0, "vfork returns the child's pid");
	ABI_EQ(global_word, 42, "the child's store into a global is seen by the parent");
	ABI_EQ(local, 2, "and its store into the parent's stack frame");
	ABI_OK(exited_with(abi_wait_status(pid), 3), "waitpid: the child's _exit(3)");
}

static void test_exec_failure(void)
{
	char *argv[] = {"nothing", NULL};
	volatile int first_errno = 0, second_errno = 0;
	pid_t pid;

	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		execve("/nonexistent/nothing", argv, environ);
		first_errno = errno;
		execve("/", argv, environ);
		second_errno = errno;
		_exit(127);
	}
	ABI_EQ(first_errno, ENOENT,
	       "the child's execve of a missing path fails: its errno, stored into the "
	       "parent's memory, is ENOENT");
	ABI_EQ(second_errno, EACCES, "a second execve (of a directory) fails too: EACCES");
	ABI_OK(exited_with(abi_wait_status(pid), 127), "waitpid: the child's _exit(127)");
}

/* A failed execve, then a good one: the child goes on in the parent's
 * memory between the two. */
static void test_exec_retry(void)
{
	char *argv[] = {"busybox", "sh", "-c", "exit 4", NULL};
	volatile int failed = 0;
	pid_t pid;

	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		execve("/nonexistent/nothing", argv, environ);
		failed = errno;
		execve(BUSYBOX, argv, environ);
		_exit(126);
	}
	ABI_EQ(failed, ENOENT, "vfork child: a failed execve, its errno stored");
	ABI_OK(exited_with(abi_wait_status(pid), 4), "then busybox sh -c 'exit 4' runs: status 4");
}

/* vfork; the child sets *flag, then execs argv (busybox). Its pid. */
static __attribute__((noinline)) pid_t vfork_store_exec(volatile int *flag, char **argv)
{
	pid_t pid;

	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		*flag = 1;
		execve(BUSYBOX, argv, environ);
		_exit(126);
	}
	return pid;
}

/* How many of the n words at w are not pattern(i + seed). */
static size_t pattern_bad(const uint64_t *w, size_t n, size_t seed)
{
	size_t bad = 0;

	for (size_t i = 0; i < n; i++)
		bad += w[i] != pattern(i + seed);
	return bad;
}

/* The exec'd program (busybox, a static binary laid out like this one)
 * writes its own globals, heap and stack: none of it is the parent's. */
static void test_parent_intact(void)
{
	char *argv[] = {"busybox", "sh", "-c", "i=0; while [ $i -lt 50 ]; do i=$((i+1)); done; "
			"exit 0", NULL};
	uint64_t *heap = malloc(HEAP_WORDS * sizeof(uint64_t));
	size_t nglobal = sizeof(global_pattern) / sizeof(global_pattern[0]);
	volatile int before_exec = 0;
	pid_t pid;

	if (!ABI_OK(heap != NULL, "malloc 512 KiB"))
		return;
	for (size_t i = 0; i < HEAP_WORDS; i++)
		heap[i] = pattern(i);
	for (size_t i = 0; i < nglobal; i++)
		global_pattern[i] = pattern(i + 7);
	pid = vfork_store_exec(&before_exec, argv);
	ABI_EQ(before_exec, 1, "the child's store before its execve is the parent's");
	ABI_OK(exited_with(abi_wait_status(pid), 0), "the exec'd busybox sh ran: status 0");
	ABI_EQ(pattern_bad(heap, HEAP_WORDS, 0), 0,
	       "the parent's heap is intact after the child's execve and exit");
	ABI_EQ(pattern_bad(global_pattern, nglobal, 7), 0, "and its globals");
	free(heap);
}

/* A mapping the child makes is the parent's (one address space). */
static void test_child_mmap(void)
{
	volatile uintptr_t where = 0;
	pid_t pid;

	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		int *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);

		if (m != MAP_FAILED) {
			m[10] = 4242;
			where = (uintptr_t)m;
		}
		_exit(0);
	}
	ABI_OK(where != 0, "the vfork child's mmap succeeded (address stored for the parent)");
	if (where) {
		ABI_EQ(((int *)where)[10], 4242, "the parent reads what the child wrote there");
		ABI_EQ(munmap((void *)where, 4096), 0, "and unmaps the child's mapping");
	}
	ABI_OK(exited_with(abi_wait_status(pid), 0), "waitpid: status 0");
}

static void on_usr1(int sig)
{
	(void)sig;
	handled_by = getpid();
}

/* The child's signal handler (copied from the parent's) runs on the
 * parent's memory. */
static void test_child_signal(void)
{
	struct sigaction sa = {0}, old;
	pid_t pid;

	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	ABI_EQ(sigaction(SIGUSR1, &sa, &old), 0, "sigaction SIGUSR1");
	handled_by = 0;
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		kill(getpid(), SIGUSR1);
		_exit(handled_by == getpid() ? 0 : 1);
	}
	ABI_EQ(handled_by, pid, "the child's handler stored its pid into the parent's memory");
	ABI_OK(exited_with(abi_wait_status(pid), 0), "waitpid: status 0");
	sigaction(SIGUSR1, &old, NULL);
}

/* The middle process of test_parent_killed: fills a heap buffer, then
 * vforks a child that waits for the "go" byte on go (meanwhile the
 * middle process is killed), checks the buffer (the dead parent's
 * memory, still its own address space), reports 'y' or 'n' on res,
 * then execs busybox true. Never returns. */
static __attribute__((noreturn)) void borrower_of_killed(int go, int res)
{
	char *argv[] = {"busybox", "true", NULL};
	uint64_t *heap = malloc(HEAP_WORDS * sizeof(uint64_t));
	char c = 0;

	if (!heap)
		_exit(1);
	for (size_t i = 0; i < HEAP_WORDS; i++)
		heap[i] = pattern(i);
	if (vfork() == 0) {
		if (read(go, &c, 1) != 1)
			_exit(2);
		c = pattern_bad(heap, HEAP_WORDS, 0) == 0 ? 'y' : 'n';
		heap[0] = 0; /* and writes it */
		write(res, &c, 1);
		execve(BUSYBOX, argv, environ);
		_exit(126);
	}
	_exit(3); /* killed before the child is done: never here */
}

/* Forks a middle process that runs middle(go, res) (it vforks a child
 * that waits for a byte on go, then reports 'y' or 'n' on res); returns
 * its pid, with our ends of the pipes in *go_w and *res_r. */
static pid_t start_middle(void (*middle)(int go, int res), int *go_w, int *res_r)
{
	int go[2], res[2];
	pid_t mid;

	ABI_EQ(pipe(go), 0, "pipe");
	ABI_EQ(pipe(res), 0, "pipe");
	fflush(stdout);
	mid = fork();
	if (mid == 0) {
		close(go[1]);
		close(res[0]);
		middle(go[0], res[1]);
	}
	close(go[0]);
	close(res[1]);
	*go_w = go[1];
	*res_r = res[0];
	return mid;
}

/* Lets the middle process's vfork child go on; its report ('y': the
 * memory was whole). */
static char middle_report(int go_w, int res_r)
{
	char c = 0;

	ABI_EQ(write(go_w, "g", 1), 1, "tell the vfork child to go on");
	ABI_EQ(read(res_r, &c, 1), 1, "the child reports");
	close(go_w);
	close(res_r);
	return c;
}

/* A vfork parent killed (SIGKILL) while its child runs in its memory:
 * the memory stays the child's until it execs. */
static void test_parent_killed(void)
{
	struct timespec ts = {0, 100 * 1000 * 1000};
	int go, res, st = 0;
	pid_t mid = start_middle(borrower_of_killed, &go, &res);

	nanosleep(&ts, NULL); /* not needed for the result: lets the vfork happen */
	ABI_EQ(kill(mid, SIGKILL), 0, "SIGKILL to a vfork parent whose child waits");
	nanosleep(&ts, NULL);
	ABI_EQ(middle_report(go, res), 'y', "the dead parent's memory was whole for its vfork child");
	ABI_EQ(waitpid(mid, &st, 0), mid, "waitpid the killed parent");
	ABI_OK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "killed by SIGKILL");
}

/* test_exec_while_borrowed's second thread: execs busybox sh -c
 * 'exit 9' while the first one is in vfork. */
static void *exec_thread(void *arg)
{
	char *argv[] = {"busybox", "sh", "-c", "exit 9", NULL};
	struct timespec ts = {0, 100 * 1000 * 1000};

	(void)arg;
	nanosleep(&ts, NULL); /* not needed for the result: lets the vfork happen */
	execve(BUSYBOX, argv, environ);
	_exit(8);
}

/* The middle process of test_exec_while_borrowed: a second thread
 * execs while the first one's vfork child (waiting for "go") runs in
 * the memory; the child checks it, reports on res, _exits. */
static __attribute__((noreturn)) void exec_beside_borrower(int go, int res)
{
	uint64_t *heap = malloc(HEAP_WORDS * sizeof(uint64_t));
	pthread_t th;
	char c = 0;

	if (!heap)
		_exit(1);
	for (size_t i = 0; i < HEAP_WORDS; i++)
		heap[i] = pattern(i);
	if (pthread_create(&th, NULL, exec_thread, NULL))
		_exit(2);
	if (vfork() == 0) {
		if (read(go, &c, 1) != 1)
			_exit(2);
		c = pattern_bad(heap, HEAP_WORDS, 0) == 0 ? 'y' : 'n';
		write(res, &c, 1);
		_exit(0);
	}
	for (;;) /* the exec ends this thread (Linux's de_thread) */
		pause();
}

/* Another thread of a vfork parent execs while the child runs in the
 * memory: the child's memory stays whole; the exec happens. */
static void test_exec_while_borrowed(void)
{
	struct timespec ts = {0, 300 * 1000 * 1000};
	int go, res, st = 0;
	pid_t mid = start_middle(exec_beside_borrower, &go, &res);

	nanosleep(&ts, NULL); /* not needed for the result */
	ABI_EQ(middle_report(go, res), 'y',
	       "its memory was whole while another thread of its parent exec'd");
	ABI_EQ(waitpid(mid, &st, 0), mid, "waitpid the parent");
	ABI_OK(WIFEXITED(st) && WEXITSTATUS(st) == 9, "its exec'd busybox sh: exit 9");
}

int main(int argc, char **argv)
{
	abi_init("vfork");
	(void)argc;
	(void)argv;
	test_child_stores();
	test_exec_failure();
	test_exec_retry();
	test_parent_intact();
	test_child_mmap();
	test_child_signal();
	test_parent_killed();
	test_exec_while_borrowed();
	return abi_done();
}
