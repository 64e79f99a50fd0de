/*
 * The host floor for the fabric benchmark (scripts/bench_fabric.py): the
 * round trip of an 8-byte eventfd ping-pong between two processes, which
 * is what one doorbell plus one interrupt cost the emulated fabric at
 * best (DESIGN.md section 3). Both processes are pinned to one CPU by
 * default, as the design's reference number was measured; --two-cpus
 * puts them on CPUs 0 and 1.
 *
 *   eventfd_pingpong [--iters N] [--two-cpus]
 *
 * Prints one line: "eventfd_rtt median_ns=M p99_ns=P min_ns=L n=N".
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set); /* best effort */
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Writes 1 to fd and reads the other side's answer from back. */
static int ping(int fd, int back)
{
	uint64_t v = 1;

	if (write(fd, &v, sizeof(v)) != sizeof(v))
		return -1;
	if (read(back, &v, sizeof(v)) != sizeof(v))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	long iters = 100000, warm = 2000;
	int two = 0, a, b, status;
	uint64_t *t, v;
	pid_t pid;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc)
			iters = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--two-cpus") == 0)
			two = 1;
		else {
			fprintf(stderr, "usage: %s [--iters N] [--two-cpus]\n", argv[0]);
			return 2;
		}
	}
	if (iters < 1 || iters > 100000000)
		return 2;
	a = eventfd(0, 0);
	b = eventfd(0, 0);
	t = malloc(sizeof(*t) * (size_t)iters);
	if (a < 0 || b < 0 || !t) {
		perror("eventfd_pingpong");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		pin(two ? 1 : 0);
		for (long i = 0; i < iters + warm; i++) {
			if (read(a, &v, sizeof(v)) != sizeof(v) ||
			    write(b, &v, sizeof(v)) != sizeof(v))
				_exit(1);
		}
		_exit(0);
	}
	pin(0);
	for (long i = 0; i < warm; i++)
		if (ping(a, b))
			return 1;
	for (long i = 0; i < iters; i++) {
		uint64_t t0 = now_ns();

		if (ping(a, b))
			return 1;
		t[i] = now_ns() - t0;
	}
	waitpid(pid, &status, 0);
	qsort(t, (size_t)iters, sizeof(*t), cmp_u64);
	printf("eventfd_rtt median_ns=%llu p99_ns=%llu min_ns=%llu n=%ld\n",
	       (unsigned long long)t[iters / 2], (unsigned long long)t[iters * 99 / 100],
	       (unsigned long long)t[0], iters);
	free(t);
	return 0;
}
