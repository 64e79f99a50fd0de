/*
 * shmlive [DIR]: MAP_SHARED memory is live between processes, as on
 * Linux: a store by one process is seen by another mapping the same page
 * at once, with no msync. Over fork, MAP_SHARED|MAP_ANONYMOUS pages
 * written in turns by parent and child (handing over by pipes), each
 * side reading the other's stores; a counter incremented by both under a
 * process-shared pthread mutex (its futex shared too) reaching the exact
 * total; a file (DIR/abi-shmlive-PID/live) that parent and child each
 * map MAP_SHARED after the fork, live both ways, its stores in the file
 * after both unmapped; a MAP_PRIVATE mapping of it whose page was
 * written (copied) not seeing the later stores, nor giving them to the
 * file. Each exchange is done again after both sides read a private
 * buffer larger than the vNode's ExCache, so the shared pages are
 * evicted and fetched again in between.
 *
 * Children never print: they count what they saw wrong and exit with
 * that count. Checks print as "ok N - ..." lines (tests/abi/abi.h); exit
 * 0 iff all passed. Expectations are Linux's: the program passes on the
 * host.
 */
#include "abi.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE	   4096L
#define ROUNDS	   6
#define INCREMENTS 2000
#define SWEEP	   (6L << 20) /* read, to push shared lines out of a 4 MiB ExCache */

/* A pipe in each direction between parent and child. */
struct link {
	int down[2]; /* parent -> child */
	int up[2];   /* child -> parent */
};

static int link_open(struct link *l)
{
	return pipe(l->down) || pipe(l->up) ? -1 : 0;
}

/* After the fork: each side keeps its two ends. */
static void link_side(struct link *l, int child)
{
	close(child ? l->down[1] : l->down[0]);
	close(child ? l->up[0] : l->up[1]);
}

static void link_close(struct link *l, int child)
{
	close(child ? l->down[0] : l->down[1]);
	close(child ? l->up[1] : l->up[0]);
}

/* Hands the turn over (c: the round's byte); 0 or -1. */
static int pass(int fd, char c)
{
	return write(fd, &c, 1) == 1 ? 0 : -1;
}

/* Waits for the turn; the byte, or -1 (the other side is gone). */
static int await(int fd)
{
	char c;

	return read(fd, &c, 1) == 1 ? c : -1;
}

/* Reads a private buffer bigger than the ExCache, page by page. */
static void sweep(void)
{
	static volatile unsigned char *buf;
	unsigned sum = 0;

	if (!buf)
		buf = mmap(NULL, SWEEP, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return;
	for (long i = 0; i < SWEEP; i += PAGE)
		sum += buf[i];
	(void)sum;
}

/* The value round r's writer stores at word w: the parent's rounds are
 * odd, the child's even. */
static long token(int r, int w, int child)
{
	return 1000L * (2 * r + child + 1) + w;
}

/* One side of the ping-pong over m (two pages: word 0 of each): the
 * parent writes first in page 0, the child first in page 1 (so each
 * side's first access to one page finds the other's line). Returns
 * the number of wrong reads. With evict, each turn first sweeps. */
static int pingpong(volatile long *m, struct link *l, int child, int evict)
{
	int in = child ? l->down[0] : l->up[0], out = child ? l->up[1] : l->down[1];
	volatile long *mine = child ? m + PAGE / 8 : m, *theirs = child ? m : m + PAGE / 8;
	int bad = 0;

	for (int r = 0; r < ROUNDS; r++) {
		if (child || r > 0) {
			if (await(in) != r)
				return bad + 1;
			if (evict)
				sweep();
			/* the other side's store of its previous turn */
			bad += *theirs != token(child ? r : r - 1, 0, !child);
		}
		mine[0] = token(r, 0, child);
		mine[1] = token(r, 1, child);
		if (pass(out, (char)(child ? r + 1 : r)))
			return bad + 1;
	}
	if (!child) {
		if (await(in) != ROUNDS)
			return bad + 1;
		if (evict)
			sweep();
		bad += *theirs != token(ROUNDS - 1, 0, 1);
		bad += theirs[1] != token(ROUNDS - 1, 1, 1);
	}
	return bad;
}

/* One side of an exchange: the number of wrong reads (pingpong's). */
typedef int exchange_side(volatile long *m, struct link *l, int child, int evict);

/* Forks a child; parent and child each run side on m; the parent's wrong
 * reads are checked, then the child's exit status. */
static void exchange(exchange_side *side, volatile long *m, int evict, const char *what)
{
	struct link l;
	char name[160];
	int status = -1, bad;
	pid_t child;

	if (link_open(&l)) {
		ABI_OK(0, "pipes for the exchange");
		return;
	}
	fflush(stdout);
	child = fork();
	if (child == 0) {
		link_side(&l, 1);
		_exit(side(m, &l, 1, evict));
	}
	link_side(&l, 0);
	bad = child > 0 ? side(m, &l, 0, evict) : -1;
	link_close(&l, 0);
	waitpid(child, &status, 0);
	snprintf(name, sizeof(name), "%s: the parent read every store of the child at once",
		 what);
	ABI_EQ(bad, 0, name);
	snprintf(name, sizeof(name), "%s: the child read every store of the parent at once",
		 what);
	ABI_EQ(status, 0, name);
}

static void test_anon_pingpong(void)
{
	long *m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		       0);

	ABI_OK(m != MAP_FAILED, "mmap MAP_SHARED|MAP_ANONYMOUS");
	if (m == MAP_FAILED)
		return;
	exchange(pingpong, m, 0, "shared anonymous, fork");
	memset(m, 0, 2 * PAGE);
	exchange(pingpong, m, 1, "shared anonymous, fork, evicted between turns");
	munmap(m, 2 * PAGE);
}

/* What the counter's processes share. */
struct counter {
	pthread_mutex_t mu;
	long count;
};

static int count_up(struct counter *c)
{
	for (int i = 0; i < INCREMENTS; i++) {
		if (pthread_mutex_lock(&c->mu))
			return 1;
		c->count++;
		if ((i & 63) == 0)
			sched_yield(); /* holding the lock: the other side waits on it */
		if (pthread_mutex_unlock(&c->mu))
			return 1;
	}
	return 0;
}

static void test_shared_mutex(void)
{
	struct counter *c = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_t attr;
	int status = -1, err;
	pid_t child;

	ABI_OK(c != MAP_FAILED, "mmap MAP_SHARED|MAP_ANONYMOUS for a mutex");
	if (c == MAP_FAILED)
		return;
	pthread_mutexattr_init(&attr);
	ABI_EQ(pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), 0,
	       "pthread_mutexattr_setpshared PTHREAD_PROCESS_SHARED");
	pthread_mutex_init(&c->mu, &attr);
	c->count = 0;
	fflush(stdout);
	child = fork();
	if (child == 0)
		_exit(count_up(c));
	err = count_up(c);
	waitpid(child, &status, 0);
	ABI_EQ(err, 0, "the parent's increments under the process-shared mutex");
	ABI_EQ(status, 0, "the child's increments under the process-shared mutex");
	ABI_EQ(c->count, 2 * INCREMENTS, "the shared counter: every increment of both");
	munmap(c, PAGE);
}

/* A file of two pages of 'f'; its fd, or -1. */
static int make_file(const char *name)
{
	char buf[PAGE];
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);

	memset(buf, 'f', sizeof(buf));
	for (int i = 0; fd >= 0 && i < 2; i++)
		if (write(fd, buf, sizeof(buf)) != PAGE)
			return -1;
	return fd;
}

/* Each side maps the file MAP_SHARED on its own, after the fork (an
 * exchange_side: no m of the parent's). */
static int file_side(volatile long *unused, struct link *l, int child, int evict)
{
	int fd = open("live", O_RDWR);
	long *m = fd < 0 ? MAP_FAILED
			 : mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int bad;

	(void)unused;
	if (m == MAP_FAILED)
		return 100;
	bad = pingpong(m, l, child, evict);
	munmap(m, 2 * PAGE);
	close(fd);
	return bad;
}

static void test_file(int evict, const char *what)
{
	int fd = make_file("live");
	unsigned char *priv;
	char name[160];
	long last[2] = {0, 0};

	ABI_OK(fd >= 0, "a two-page file");
	if (fd < 0)
		return;
	/* a private mapping whose page 1 is written (copied) before any store */
	priv = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ABI_OK(priv != MAP_FAILED, "mmap MAP_PRIVATE of the file");
	if (priv == MAP_FAILED)
		return;
	priv[PAGE + 100] = 'P';
	exchange(file_side, NULL, evict, what);
	pread(fd, last, sizeof(last), PAGE);
	snprintf(name, sizeof(name), "%s: the child's last stores are in the file", what);
	ABI_OK(last[0] == token(ROUNDS - 1, 0, 1) && last[1] == token(ROUNDS - 1, 1, 1), name);
	pread(fd, last, sizeof(last), 0);
	snprintf(name, sizeof(name), "%s: the parent's last stores are in the file", what);
	ABI_OK(last[0] == token(ROUNDS - 1, 0, 0) && last[1] == token(ROUNDS - 1, 1, 0), name);
	snprintf(name, sizeof(name), "%s: the written MAP_PRIVATE page kept its copy", what);
	ABI_OK(priv[PAGE + 100] == 'P' && ((long *)priv)[PAGE / 8] == 0x6666666666666666L &&
		       priv[PAGE + 101] == 'f',
	       name);
	snprintf(name, sizeof(name), "%s: the private store is not in the file", what);
	ABI_EQ(pread(fd, last, 1, PAGE + 100) == 1 ? ((char *)last)[0] : -1, 'f', name);
	munmap(priv, 2 * PAGE);
	close(fd);
	unlink("live");
}

int main(int argc, char **argv)
{
	const char *dir;

	abi_init("shmlive");
	dir = abi_workdir(argc, argv);
	test_file(0, "file MAP_SHARED by two processes");
	test_file(1, "file MAP_SHARED by two processes, evicted between turns");
	test_anon_pingpong();
	test_shared_mutex();
	chdir("/");
	rmdir(dir);
	return abi_done();
}
