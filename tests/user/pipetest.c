/*
 * pipetest: pipes between processes on one processor: data through a
 * pipe across fork (1 MiB with a checksum, so the ring wraps and both
 * sides sleep), end of file once every writer has closed, EPIPE for a
 * write with no reader (SIGPIPE ignored), O_NONBLOCK's EAGAIN on both
 * ends, poll and select readiness, an atomic small write, EFAULT that
 * loses nothing, and a bad pipe2 flag.
 *
 * The parent prints one line per check, "pipetest: ok NAME" or
 * "pipetest: FAIL NAME (why)", in a fixed order, so the output is the
 * same on Linux and on Tessera. Exit 0 only if every check passed.
 */
#define _GNU_SOURCE /* pipe2 */
#include "tu.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/wait.h>

#define BIG (1u << 20)

static unsigned failures;

static void check(const char *name, int ok, const char *why)
{
	if (ok)
		printf("pipetest: ok %s\n", name);
	else
		printf("pipetest: FAIL %s (%s)\n", name, why);
	failures += !ok;
}

static uint32_t sum_bytes(uint32_t sum, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sum = sum * 31 + b[i];
	return sum;
}

static unsigned char byte_at(size_t i)
{
	return (unsigned char)(i * 7 + (i >> 12));
}

/* A child writes BIG bytes in odd-sized pieces; the parent reads them
 * in other sizes and compares checksums. */
static void test_big_transfer(void)
{
	static unsigned char buf[70000];
	uint32_t want = 0, got = 0;
	size_t total = 0;
	int fds[2], status;
	pid_t pid;

	for (size_t i = 0; i < BIG; i++) {
		unsigned char c = byte_at(i);

		want = sum_bytes(want, &c, 1);
	}
	if (pipe(fds)) {
		check("big_transfer", 0, strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		size_t done = 0;

		close(fds[0]);
		while (done < BIG) {
			size_t n = BIG - done < 9001 ? BIG - done : 9001;

			for (size_t i = 0; i < n; i++)
				buf[i] = byte_at(done + i);
			if (write(fds[1], buf, n) != (ssize_t)n)
				_exit(3);
			done += n;
		}
		_exit(0);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], buf, 5000);

		if (n <= 0)
			break;
		got = sum_bytes(got, buf, (size_t)n);
		total += (size_t)n;
	}
	close(fds[0]);
	waitpid(pid, &status, 0);
	check("big_transfer", total == BIG && got == want && WIFEXITED(status) &&
				      WEXITSTATUS(status) == 0,
	      "bytes, checksum or the writer's status differ");
}

static void test_eof_and_epipe(void)
{
	char c = 'x';
	int fds[2];

	pipe(fds);
	write(fds[1], "ab", 2);
	close(fds[1]);
	check("read_after_close", read(fds[0], &c, 1) == 1 && c == 'a', "first byte");
	check("read_rest", read(fds[0], &c, 1) == 1 && c == 'b', "second byte");
	check("eof", read(fds[0], &c, 1) == 0, "no end of file");
	close(fds[0]);

	pipe(fds);
	close(fds[0]);
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	check("epipe", write(fds[1], "x", 1) == -1 && errno == EPIPE, strerror(errno));
	close(fds[1]);
}

static void test_nonblock_and_poll(void)
{
	static char fill[4096];
	struct pollfd pf[2];
	size_t total = 0;
	char c;
	int fds[2];
	fd_set rd;
	struct timeval tv = {0, 0};

	if (pipe2(fds, O_NONBLOCK)) {
		check("pipe2_nonblock", 0, strerror(errno));
		return;
	}
	errno = 0;
	check("read_eagain", read(fds[0], &c, 1) == -1 && errno == EAGAIN, strerror(errno));
	pf[0] = (struct pollfd){.fd = fds[0], .events = POLLIN};
	pf[1] = (struct pollfd){.fd = fds[1], .events = POLLOUT};
	check("poll_empty", poll(pf, 2, 0) == 1 && pf[0].revents == 0 &&
				    pf[1].revents == POLLOUT,
	      "want only the write end ready");
	for (;;) {
		ssize_t n = write(fds[1], fill, sizeof(fill));

		if (n <= 0)
			break;
		total += (size_t)n;
	}
	check("write_eagain_when_full", errno == EAGAIN && total >= 4096, strerror(errno));
	check("poll_full", poll(pf, 2, 0) == 1 && pf[0].revents == POLLIN, "want only POLLIN");
	FD_ZERO(&rd);
	FD_SET(fds[0], &rd);
	check("select_readable", select(fds[0] + 1, &rd, NULL, NULL, &tv) == 1 &&
					 FD_ISSET(fds[0], &rd),
	      "read end not reported");
	close(fds[1]);
	pf[0].revents = 0;
	check("poll_hup", poll(pf, 1, 0) == 1 && (pf[0].revents & POLLHUP), "no POLLHUP");
	close(fds[0]);
	errno = 0;
	check("poll_nval", poll(pf, 1, 0) == 1 && pf[0].revents == POLLNVAL, "no POLLNVAL");
}

/* A reader blocks in poll until a child writes. */
static void test_poll_wakes(void)
{
	struct pollfd pf;
	int fds[2], status;
	pid_t pid;
	char c = 0;

	pipe(fds);
	pid = fork();
	if (pid == 0) {
		struct timespec ts = {0, 20 * 1000 * 1000};

		nanosleep(&ts, NULL);
		_exit(write(fds[1], "z", 1) == 1 ? 0 : 1);
	}
	pf = (struct pollfd){.fd = fds[0], .events = POLLIN};
	check("poll_waits_for_writer", poll(&pf, 1, -1) == 1 && pf.revents == POLLIN &&
					       read(fds[0], &c, 1) == 1 && c == 'z',
	      "poll or read");
	waitpid(pid, &status, 0);
	close(fds[0]);
	close(fds[1]);
}

static void test_errors(void)
{
	int fds[2];
	char c = 0;

	errno = 0;
	check("pipe2_bad_flag", pipe2(fds, 0x1) == -1 && errno == EINVAL, strerror(errno));
	errno = 0;
	check("pipe_efault", syscall(SYS_pipe, (long)8) == -1 && errno == EFAULT, strerror(errno));
	pipe(fds);
	write(fds[1], "q", 1);
	errno = 0;
	check("read_efault", read(fds[0], (void *)8, 1) == -1 && errno == EFAULT,
	      strerror(errno));
	check("efault_lost_nothing", read(fds[0], &c, 1) == 1 && c == 'q', "byte lost");
	errno = 0;
	check("write_to_read_end", write(fds[0], "x", 1) == -1 && errno == EBADF,
	      strerror(errno));
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	tu_init("pipetest");
	test_big_transfer();
	test_eof_and_epipe();
	test_nonblock_and_poll();
	test_poll_wakes();
	test_errors();
	if (failures)
		return 1;
	printf("pipetest: all passed\n");
	return 0;
}
