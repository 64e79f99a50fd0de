/*
 * threads: what the kernel shows and does for the threads of a process.
 * /proc/self/task (one directory per thread, named by its tid; each
 * thread's stat gives its tid as the pid field; /proc/self/status's
 * Threads: line counts them), thread names (a worker's PR_SET_NAME names
 * that thread only: its task/TID/comm and PR_GET_NAME, not the
 * process's /proc/self/comm), and robust futexes: a robust mutex held by
 * a thread that exits is handed to the next locker with EOWNERDEAD (the
 * kernel walks the dead thread's robust list).
 *
 * Threads are musl's pthreads; the robust mutex is process-shared, the
 * kind musl leaves to the kernel's list walk, and its owner dies by the
 * raw exit system call (musl's pthread_exit would release it itself).
 * Built with glibc too, it checks glibc's way: every robust mutex on the
 * kernel's list. Checks print as "ok N - ..." lines
 * (tests/abi/abi.h); exit 0 iff all passed. Expectations are Linux's: the
 * program passes on the host.
 */
#include "abi.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#define WORKERS 3

static pthread_barrier_t started, finish;
static pid_t worker_tid[WORKERS];
static char worker_name[WORKERS][16]; /* what PR_GET_NAME gave each after its PR_SET_NAME */

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* A worker: records its tid, then waits until main has looked. */
static void *worker(void *arg)
{
	char name[16];

	worker_tid[(long)arg] = my_tid();
	snprintf(name, sizeof(name), "worker-%ld", (long)arg);
	if (prctl(PR_SET_NAME, name) != 0 || prctl(PR_GET_NAME, worker_name[(long)arg]) != 0)
		worker_name[(long)arg][0] = '\0';
	pthread_barrier_wait(&started);
	pthread_barrier_wait(&finish);
	return NULL;
}

/* The whole of a small file, NUL-ended; its length or -1. */
static long read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	long n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Whether every name in /proc/self/task is a number, how many there are,
 * and whether each tid in want[0..nwant) is among them. */
static void check_task_dir(const pid_t *want, int nwant)
{
	DIR *d = opendir("/proc/self/task");
	int entries = 0, numeric = 1, found = 0;
	struct dirent *e;

	if (!ABI_OK(d != NULL, "opendir /proc/self/task"))
		return;
	while ((e = readdir(d))) {
		char *end;
		long tid;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		entries++;
		tid = strtol(e->d_name, &end, 10);
		if (*end || tid <= 0)
			numeric = 0;
		for (int i = 0; i < nwant; i++)
			found += tid == want[i];
	}
	closedir(d);
	ABI_EQ(entries, nwant, "/proc/self/task has one entry per thread");
	ABI_OK(numeric, "/proc/self/task's entries are numbers");
	ABI_EQ(found, nwant, "/proc/self/task lists the tid of every thread (gettid)");
}

/* /proc/self/task/TID/stat's first field is TID. */
static void check_task_stat(pid_t tid, const char *what)
{
	char path[64], buf[1024];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if (!ABI_OK(read_text(path, buf, sizeof(buf)) > 0, "read /proc/self/task/TID/stat"))
		return;
	ABI_EQ(atol(buf), tid, what);
}

/* /proc/self/status's Threads: line, or -1. */
static long status_threads(void)
{
	char buf[4096];
	const char *line;

	if (read_text("/proc/self/status", buf, sizeof(buf)) <= 0)
		return -1;
	line = strstr(buf, "\nThreads:");
	return line ? atol(line + 9) : -1;
}

static void test_task(void)
{
	pthread_t th[WORKERS];
	pid_t tids[WORKERS + 1];
	char path[64], buf[256], comm[64] = "";

	read_text("/proc/self/comm", comm, sizeof(comm));
	pthread_barrier_init(&started, NULL, WORKERS + 1);
	pthread_barrier_init(&finish, NULL, WORKERS + 1);
	for (long i = 0; i < WORKERS; i++)
		if (!ABI_EQ(pthread_create(&th[i], NULL, worker, (void *)i), 0, "pthread_create"))
			exit(abi_done());
	pthread_barrier_wait(&started);

	tids[0] = my_tid();
	ABI_EQ(tids[0], getpid(), "the main thread's tid is the pid");
	for (int i = 0; i < WORKERS; i++)
		tids[i + 1] = worker_tid[i];
	check_task_dir(tids, WORKERS + 1);
	check_task_stat(tids[0], "/proc/self/task/PID/stat's pid field is the pid");
	check_task_stat(tids[2], "/proc/self/task/TID/stat's pid field is a worker's tid");
	ABI_EQ(status_threads(), WORKERS + 1, "/proc/self/status Threads: 4");
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tids[1]);
	ABI_OK(read_text(path, buf, sizeof(buf)) > 0, "read /proc/self/task/TID/status");
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)getpid(), (int)tids[3]);
	ABI_OK(read_text(path, buf, sizeof(buf)) > 0 && strchr(buf, '\n'),
	       "read /proc/PID/task/TID/comm (a line)");
	ABI_OK(!strcmp(worker_name[1], "worker-1"), "PR_GET_NAME in a worker: its own name");
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)tids[2]);
	ABI_OK(read_text(path, buf, sizeof(buf)) > 0 && !strcmp(buf, "worker-1\n"),
	       "/proc/self/task/TID/comm: the worker's own name");
	ABI_OK(comm[0] && read_text("/proc/self/comm", buf, sizeof(buf)) > 0 && !strcmp(buf, comm),
	       "/proc/self/comm: the process's name, not a worker's");
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)getpid() + 1000000);
	ABI_ERR(open(path, O_RDONLY), ENOENT, "/proc/self/task/TID of no thread: ENOENT");

	pthread_barrier_wait(&finish);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	/* (not checked: that they are gone from task/ at once; Linux wakes
	 * pthread_join before the thread leaves /proc) */
}

/* ---- robust mutexes ---- */

static pthread_mutex_t robust;

/* The mutex's futex word (musl's pthread_mutex_t has it at int 1, glibc's
 * at int 0): the owner's tid, bit 31 once a locker waits (both set it
 * before they sleep), bit 30 once the owner died. */
static volatile int *robust_word(void)
{
#ifdef __GLIBC__
	return (volatile int *)&robust;
#else
	return (volatile int *)&robust + 1;
#endif
}

/* Locks the robust mutex and dies holding it through the raw exit system
 * call: no pthread_exit, whose user-space walk (musl's) would release
 * it; only the kernel's walk of the robust list can. With arg, it first
 * waits until the main thread waits for the mutex (bit 31 of the word).
 * Nobody joins it: musl's join waits for what pthread_exit sets. */
static void *die_holding(void *arg)
{
	if (pthread_mutex_lock(&robust))
		return NULL;
	while (arg && !(*robust_word() & 0x80000000))
		sched_yield();
	syscall(SYS_exit, 0);
	return NULL;
}

/* pthread_mutex_timedlock with a deadline far enough to mean "never"
 * (only a kernel that does not release the mutex reaches it). */
static int lock_or_give_up(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 60;
	return pthread_mutex_timedlock(&robust, &ts);
}

/* Starts die_holding(arg) and waits until it has locked the mutex (the
 * word not 0: its tid, or already FUTEX_OWNER_DIED). */
static void start_dying(void *arg)
{
	pthread_t th;

	if (pthread_create(&th, NULL, die_holding, arg))
		return;
	pthread_detach(th);
	while (!*robust_word())
		sched_yield();
}

static void test_robust(void)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	ABI_EQ(pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST), 0,
	       "pthread_mutexattr_setrobust");
	/* musl hands only process-shared robust mutexes to the kernel's list
	 * (its pthread_exit releases the others itself) */
	ABI_EQ(pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), 0,
	       "pthread_mutexattr_setpshared");
	ABI_EQ(pthread_mutex_init(&robust, &attr), 0, "pthread_mutex_init (robust, shared)");

	/* the owner dies before or while this thread locks */
	start_dying(NULL);
	ABI_EQ(lock_or_give_up(), EOWNERDEAD,
	       "robust mutex of a thread that exited holding it: EOWNERDEAD");
	ABI_EQ(pthread_mutex_consistent(&robust), 0, "pthread_mutex_consistent");
	ABI_EQ(pthread_mutex_unlock(&robust), 0, "unlock once consistent");
	ABI_EQ(pthread_mutex_lock(&robust), 0, "the next lock: 0");
	ABI_EQ(pthread_mutex_unlock(&robust), 0, "unlock");

	/* the owner dies while this thread waits for it */
	start_dying((void *)1);
	ABI_EQ(lock_or_give_up(), EOWNERDEAD,
	       "a waiter is woken with EOWNERDEAD when the owner dies");
	pthread_mutex_consistent(&robust);
	ABI_EQ(pthread_mutex_unlock(&robust), 0, "unlock once consistent");
	ABI_ERR(syscall(SYS_set_robust_list, (void *)0, 23), EINVAL,
		"set_robust_list with a wrong length: EINVAL");
}

/* A robust list of this program's own making (Linux's struct
 * robust_list_head and one entry with its futex word), for a thread to
 * register in place of its libc's and die with. */
struct my_entry {
	void *next;
	int word;
};
struct my_head {
	void *next;
	long futex_offset;
	void *pending;
};

static struct my_head head;
static struct my_entry entry;

/* Registers arg (or head) as its robust list, then pthread_exit: libc's
 * own walk uses its own list, the kernel's walks this one. */
static void *die_with_list(void *arg)
{
	entry.word = my_tid();
	syscall(SYS_set_robust_list, arg ? arg : &head, sizeof(head));
	return NULL;
}

static void run_and_join(void *arg)
{
	pthread_t th;

	if (!pthread_create(&th, NULL, die_with_list, arg))
		pthread_join(th, NULL);
}

static void test_robust_list(void)
{
	head.futex_offset = (long)offsetof(struct my_entry, word);
	head.pending = NULL;

	head.next = &entry;
	entry.next = &head;
	run_and_join(NULL);
	ABI_EQ(entry.word, 0x40000000, "the exit marks its futex FUTEX_OWNER_DIED (a list of one)");

	entry.next = &entry; /* a loop that never comes back to the head */
	run_and_join(NULL);
	ABI_EQ(entry.word, 0x40000000, "a looping list: walked a bounded number of times");

	head.next = &head; /* empty, the entry only pending */
	head.pending = &entry;
	run_and_join(NULL);
	ABI_EQ(entry.word, 0x40000000, "list_op_pending's futex is marked too");

	run_and_join((void *)8); /* a head that cannot be read */
	head.next = (void *)8;	 /* an entry that cannot be read */
	head.pending = NULL;
	run_and_join(NULL);
	ABI_OK(1, "threads exit with unreadable robust lists, the process goes on");
}

int main(void)
{
	abi_init("threads");
	test_task();
	test_robust();
	test_robust_list();
	return abi_done();
}
