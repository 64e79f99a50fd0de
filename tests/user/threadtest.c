/*
 * threadtest: POSIX threads (musl's pthreads over clone, futex, exit,
 * tgkill) as a program sees them. The same output on Linux and on a
 * Tessera processor.
 *
 *   threadtest            the main case: NTHREADS threads created and
 *                         joined (their return values), a mutex-protected
 *                         counter, a condition-variable producer/consumer
 *                         handing over a known sequence, a barrier round,
 *                         __thread variables distinct per thread, gettid
 *                         distinct and getpid the same everywhere, memory
 *                         written by all threads at once (pages shared by
 *                         every thread, so their misses race), large
 *                         callocs freed at once by every thread (mmap and
 *                         munmap racing other threads' misses: each reads
 *                         as zeros), clone's
 *                         flag refusals (EINVAL), a signal to one thread
 *                         (tgkill) and a process-directed one taken by the
 *                         only thread that does not block it, and a fork
 *                         from a thread (the child has one thread). Prints
 *                         one "threadtest: ok ..." line, exit 0; a failed
 *                         check prints "threadtest: FAIL ..." and exits 1.
 *   threadtest exitgroup  three threads (one spinning in user mode, one
 *                         in a condition wait, one in nanosleep) while
 *                         main exits with 7: the process ends with 7.
 *   threadtest fatal      a thread writes to NULL while the others sleep:
 *                         the whole process dies of SIGSEGV.
 *   threadtest mainexit   the main thread calls pthread_exit; the other
 *                         thread goes on, prints and returns: exit 0.
 *   threadtest exec       threads asleep while one thread execs this
 *                         program again (`threadtest execd`), which checks
 *                         that it is the only thread, with tid = pid.
 */
#define _GNU_SOURCE
#include "tu.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#define NTHREADS   4
#define COUNT_EACH 20000
#define ITEMS	   2000
#define RING	   4
#define SHARED_MB  2
#define CHURN_ROUNDS 40
#define CHURN_BYTES  (192 * 1024)

static unsigned failures;

static void check(const char *name, int ok)
{
	if (!ok) {
		printf("threadtest: FAIL %s (errno %d)\n", name, errno);
		failures++;
	}
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* ---- the main case ---------------------------------------------------- */

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static pthread_barrier_t barrier;
static unsigned long barrier_slot[NTHREADS];
static unsigned long barrier_seen[NTHREADS];

static __thread unsigned long tls_value;
static __thread int tls_zero; /* every thread's starts at 0 */

static pid_t tids[NTHREADS];
static pid_t pids[NTHREADS];
static int tls_ok[NTHREADS];

static unsigned char *shared; /* SHARED_MB MiB that every thread writes */

struct worker {
	int index;
};

/* Thread i writes the bytes at offsets = i mod NTHREADS of every page:
 * each page is written by all threads at once. */
static void shared_write(int i)
{
	size_t n = (size_t)SHARED_MB << 20;

	for (size_t off = (size_t)i; off < n; off += NTHREADS * 61)
		shared[off] = (unsigned char)(off * 7 + 3);
}

/* Large callocs (mmap'd by musl) freed at once (munmap'd), by every
 * thread at the same time: each must read as zeros. The count of bad
 * bytes seen. */
static int calloc_churn(int i)
{
	int bad = 0;

	for (int k = 0; k < CHURN_ROUNDS; k++) {
		size_t n = CHURN_BYTES + (size_t)(i * 4096 + k * 512);
		unsigned char *m = calloc(1, n);

		if (!m)
			return 1;
		for (size_t off = 0; off < n; off += 64) {
			bad += m[off] != 0;
			m[off] = (unsigned char)(i + 1);
		}
		free(m);
	}
	return bad;
}

static int churn_bad[NTHREADS];

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int i = w->index;

	tids[i] = gettid_();
	pids[i] = getpid();
	tls_ok[i] = tls_zero == 0;
	tls_zero = i + 1;
	tls_value = 1000ul * (unsigned long)(i + 1);
	for (int k = 0; k < COUNT_EACH; k++) {
		pthread_mutex_lock(&count_lock);
		counter++;
		pthread_mutex_unlock(&count_lock);
		if (k % 5000 == 0)
			sched_yield(); /* let another thread touch its own tls */
	}
	tls_ok[i] = tls_ok[i] && tls_value == 1000ul * (unsigned long)(i + 1) &&
		    tls_zero == i + 1;
	shared_write(i);
	churn_bad[i] = calloc_churn(i);
	barrier_slot[i] = (unsigned long)(i + 1) * (unsigned long)(i + 1);
	pthread_barrier_wait(&barrier);
	for (int k = 0; k < NTHREADS; k++)
		barrier_seen[i] += barrier_slot[k];
	return (void *)(intptr_t)(i * 100 + 1);
}

/* A producer hands ITEMS values to a consumer through a ring of RING. */
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ring_not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t ring_not_empty = PTHREAD_COND_INITIALIZER;
static unsigned ring[RING], ring_head, ring_count;

static unsigned item(unsigned k)
{
	return k * 2654435761u ^ (k >> 3);
}

static void *producer_main(void *arg __attribute__((unused)))
{
	for (unsigned k = 0; k < ITEMS; k++) {
		pthread_mutex_lock(&ring_lock);
		while (ring_count == RING)
			pthread_cond_wait(&ring_not_full, &ring_lock);
		ring[(ring_head + ring_count) % RING] = item(k);
		ring_count++;
		pthread_cond_signal(&ring_not_empty);
		pthread_mutex_unlock(&ring_lock);
	}
	return NULL;
}

static void *consumer_main(void *arg __attribute__((unused)))
{
	unsigned long in_order = 0, hash = 0;

	for (unsigned k = 0; k < ITEMS; k++) {
		unsigned v;

		pthread_mutex_lock(&ring_lock);
		while (ring_count == 0)
			pthread_cond_wait(&ring_not_empty, &ring_lock);
		v = ring[ring_head];
		ring_head = (ring_head + 1) % RING;
		ring_count--;
		pthread_cond_signal(&ring_not_full);
		pthread_mutex_unlock(&ring_lock);
		in_order += v == item(k);
		hash = hash * 31 + v;
	}
	return (void *)(uintptr_t)(in_order == ITEMS ? hash : 0);
}

/* clone's refusals, as Linux: CLONE_THREAD without CLONE_SIGHAND,
 * CLONE_SIGHAND without CLONE_VM. */
static int clone_refusals(void)
{
	long r1, r2;
	int e1, e2;

	errno = 0;
	r1 = syscall(SYS_clone, CLONE_THREAD | CLONE_VM, NULL, NULL, NULL, 0);
	e1 = errno;
	errno = 0;
	r2 = syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, NULL, NULL, NULL, 0);
	e2 = errno;
	return r1 == -1 && e1 == EINVAL && r2 == -1 && e2 == EINVAL;
}

/* Signals: which thread ran the handler. */
static volatile pid_t handled_by[2];

static void on_usr1(int sig __attribute__((unused)))
{
	handled_by[0] = gettid_();
}

static void on_usr2(int sig __attribute__((unused)))
{
	handled_by[1] = gettid_();
}

static volatile int sig_go, sig_done;
static volatile pid_t sig_tids[2];

/* Thread k of two: records its tid, unblocks SIGUSR2 if k is 1, then
 * waits (in user mode and in nanosleep) until the main thread is done. */
static void *sig_main(void *arg __attribute__((unused)))
{
	int k = (int)(intptr_t)arg;
	struct timespec ms = {0, 1000 * 1000};

	if (k == 1) {
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR2);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	}
	sig_tids[k] = gettid_();
	__atomic_fetch_add(&sig_go, 1, __ATOMIC_SEQ_CST);
	while (!sig_done)
		nanosleep(&ms, NULL);
	return NULL;
}

static void wait_handled(volatile pid_t *who)
{
	struct timespec ms = {0, 1000 * 1000};

	for (int i = 0; i < 5000 && !*who; i++)
		nanosleep(&ms, NULL);
}

/* tgkill to thread 0 runs the SIGUSR1 handler there; a process-directed
 * SIGUSR2, blocked by every thread but thread 1, runs there. */
static int signals_to_threads(void)
{
	struct sigaction sa = {0};
	pthread_t th[2];
	sigset_t set, old;
	int ok;

	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, &old); /* the threads inherit it */
	for (intptr_t k = 0; k < 2; k++)
		pthread_create(&th[k], NULL, sig_main, (void *)k);
	while (sig_go < 2)
		sched_yield();
	syscall(SYS_tgkill, getpid(), sig_tids[0], SIGUSR1);
	wait_handled(&handled_by[0]);
	kill(getpid(), SIGUSR2);
	wait_handled(&handled_by[1]);
	sig_done = 1;
	for (int k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	ok = handled_by[0] == sig_tids[0] && handled_by[1] == sig_tids[1];
	if (!ok)
		printf("threadtest: signals: USR1 by %d (want %d), USR2 by %d (want %d)\n",
		       (int)handled_by[0], (int)sig_tids[0], (int)handled_by[1],
		       (int)sig_tids[1]);
	return ok;
}

/* fork from a thread: the child is one thread (tid = its pid) and
 * exits 42 after using malloc and printf's lock. */
static void *fork_main(void *arg __attribute__((unused)))
{
	int status = 0;
	pid_t c = fork();

	if (c == 0) {
		char *m = malloc(100);

		_exit(m && gettid_() == getpid() ? 42 : 1);
	}
	if (c < 0 || waitpid(c, &status, 0) != c)
		return (void *)0;
	return (void *)(intptr_t)(WIFEXITED(status) && WEXITSTATUS(status) == 42);
}

static int main_case(void)
{
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS], prod, cons, forker;
	void *ret, *hash, *forked;
	long joins = 0;
	unsigned long sum = 0;
	int tids_ok = 1, pids_ok = 1, tls_all = 1, seen_ok = 1, mem_ok = 1;
	size_t n = (size_t)SHARED_MB << 20;

	shared = calloc(1, n);
	if (!shared)
		tu_fail("no memory");
	check("main_tid_is_pid", gettid_() == getpid());
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		w[i].index = i;
		check("create", pthread_create(&th[i], NULL, worker_main, &w[i]) == 0);
	}
	check("create_producer", pthread_create(&prod, NULL, producer_main, NULL) == 0);
	check("create_consumer", pthread_create(&cons, NULL, consumer_main, NULL) == 0);
	for (int i = 0; i < NTHREADS; i++) {
		check("join", pthread_join(th[i], &ret) == 0);
		joins += (intptr_t)ret;
	}
	pthread_join(prod, NULL);
	pthread_join(cons, &hash);
	for (int i = 0; i < NTHREADS; i++) {
		pids_ok &= pids[i] == getpid();
		tids_ok &= tids[i] > 0 && tids[i] != getpid();
		for (int j = 0; j < i; j++)
			tids_ok &= tids[i] != tids[j];
		tls_all &= tls_ok[i];
		seen_ok &= barrier_seen[i] == barrier_seen[0];
		mem_ok &= churn_bad[i] == 0;
	}
	for (size_t off = 0; off < n; off++) {
		unsigned char want = off % (NTHREADS * 61) < NTHREADS
					     ? (unsigned char)(off * 7 + 3) : 0;

		mem_ok &= shared[off] == want;
		sum += shared[off];
	}
	check("counter", counter == (long)NTHREADS * COUNT_EACH);
	check("joins", joins == 0 + 100 + 200 + 300 + NTHREADS);
	check("tids_distinct", tids_ok);
	check("getpid_same", pids_ok);
	check("tls", tls_all && tls_zero == 0);
	check("barrier", seen_ok && barrier_seen[0] == 1 + 4 + 9 + 16);
	check("producer_consumer", hash != NULL);
	check("shared_memory", mem_ok);
	check("clone_refusals", clone_refusals());
	check("signals", signals_to_threads());
	check("fork_from_thread", pthread_create(&forker, NULL, fork_main, NULL) == 0 &&
					  pthread_join(forker, &forked) == 0 && forked);
	if (failures)
		return 1;
	printf("threadtest: ok threads=%d counter=%ld joins=%ld barrier=%lu items=%d "
	       "hash=%lx memsum=%lu\n",
	       NTHREADS, counter, joins, barrier_seen[0], ITEMS,
	       (unsigned long)(uintptr_t)hash, sum);
	return 0;
}

/* ---- exit_group, fatal, main exit, exec ------------------------------- */

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static volatile int started;

static void *spin_main(void *arg __attribute__((unused)))
{
	__atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
	for (volatile unsigned long k = 0;; k++)
		;
	return NULL;
}

static void *cond_main(void *arg __attribute__((unused)))
{
	pthread_mutex_lock(&idle_lock);
	__atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pthread_cond_wait(&idle_cond, &idle_lock);
	return NULL;
}

static void *sleep_main(void *arg __attribute__((unused)))
{
	struct timespec long_time = {1000, 0};

	__atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
	for (;;)
		nanosleep(&long_time, NULL);
	return NULL;
}

/* Starts the three idle threads and waits until each runs. */
static void start_idlers(void)
{
	void *(*fn[3])(void *) = {spin_main, cond_main, sleep_main};
	pthread_t th;

	for (int i = 0; i < 3; i++)
		if (pthread_create(&th, NULL, fn[i], NULL))
			tu_fail("pthread_create");
	while (started < 3)
		sched_yield();
}

static int exitgroup_case(void)
{
	start_idlers();
	printf("threadtest: exitgroup: 3 threads running, exiting with 7\n");
	exit(7);
}

static void *null_main(void *arg __attribute__((unused)))
{
	struct timespec ms = {0, 20 * 1000 * 1000};

	nanosleep(&ms, NULL);
	*(volatile int *)arg = 1; /* arg is NULL */
	return NULL;
}

static int fatal_case(void)
{
	pthread_t th;

	start_idlers();
	printf("threadtest: fatal: a thread writes to NULL\n");
	pthread_create(&th, NULL, null_main, NULL);
	pthread_join(th, NULL);
	printf("threadtest: fatal: FAIL still alive\n");
	return 1;
}

static pid_t main_tid;

static void *after_main(void *arg __attribute__((unused)))
{
	struct timespec ms = {0, 50 * 1000 * 1000};

	nanosleep(&ms, NULL);
	/* the main thread has gone (Linux keeps it a zombie: no tgkill test) */
	printf("threadtest: mainexit: worker %s after the main thread's exit\n",
	       gettid_() != main_tid && getpid() == main_tid ? "goes on" : "FAIL");
	return NULL; /* the last thread: the process exits 0 */
}

static int mainexit_case(void)
{
	pthread_t th;

	main_tid = gettid_();
	pthread_create(&th, NULL, after_main, NULL);
	pthread_exit(NULL);
}

static void *exec_main(void *arg __attribute__((unused)))
{
	char *argv[] = {"threadtest", "execd", NULL};
	char *envp[] = {NULL};

	while (started < 3)
		sched_yield();
	execve("/proc/self/exe", argv, envp);
	printf("threadtest: exec: FAIL execve: %s\n", strerror(errno));
	exit(1);
}

static int exec_case(void)
{
	pthread_t th;
	struct timespec long_time = {1000, 0};

	start_idlers();
	pthread_create(&th, NULL, exec_main, NULL);
	for (int i = 0; i < 1000; i++)
		nanosleep(&long_time, NULL);
	return 1;
}

/* The threads in /proc/self/status ("Threads:\tN"), or -1. */
static int proc_threads(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/self/status", "r");
	int n = -1;

	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static int execd_case(void)
{
	int alone = gettid_() == getpid();
	int n = proc_threads();

	printf("threadtest: execd: %s, Threads %d\n", alone ? "tid = pid" : "FAIL tid != pid",
	       n);
	return alone && n == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	tu_init("threadtest");
	if (argc < 2)
		return main_case();
	if (!strcmp(argv[1], "exitgroup"))
		return exitgroup_case();
	if (!strcmp(argv[1], "fatal"))
		return fatal_case();
	if (!strcmp(argv[1], "mainexit"))
		return mainexit_case();
	if (!strcmp(argv[1], "exec"))
		return exec_case();
	if (!strcmp(argv[1], "execd"))
		return execd_case();
	fprintf(stderr, "usage: threadtest [exitgroup|fatal|mainexit|exec]\n");
	return 2;
}
