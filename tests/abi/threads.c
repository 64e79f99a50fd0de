/*
 * threads: what the kernel shows and does for the threads of a process.
 * /proc/self/task (one directory per thread, named by its tid; each
 * thread's stat gives its tid as the pid field; /proc/self/status's
 * Threads: line counts them), and robust futexes: a robust mutex held by
 * a thread that exits is handed to the next locker with EOWNERDEAD (the
 * kernel walks the dead thread's robust list).
 *
 * Threads are musl's pthreads. Checks print as "ok N - ..." lines
 * (tests/abi/abi.h); exit 0 iff all passed. Expectations are Linux's: the
 * program passes on the host.
 */
#include "abi.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>

#define WORKERS 3

static pthread_barrier_t started, finish;
static pid_t worker_tid[WORKERS];

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* A worker: records its tid, then waits until main has looked. */
static void *worker(void *arg)
{
	worker_tid[(long)arg] = my_tid();
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
	char path[64], buf[256];

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
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)getpid() + 1000000);
	ABI_ERR(open(path, O_RDONLY), ENOENT, "/proc/self/task/TID of no thread: ENOENT");

	pthread_barrier_wait(&finish);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	/* (not checked: that they are gone from task/ at once; Linux wakes
	 * pthread_join before the thread leaves /proc) */
}

int main(void)
{
	abi_init("threads");
	test_task();
	return abi_done();
}
