/*
 * pipes: pipe and pipe2, the end of file after the last writer closes,
 * EPIPE (with SIGPIPE ignored) and death by SIGPIPE (default action),
 * O_NONBLOCK and EAGAIN, poll and select on a pipe, and a pipe between
 * fork'd processes in both directions, with a payload bigger than a pipe
 * buffer.
 *
 * Checks print as "ok N - ..." lines (tests/abi/abi.h); exit 0 iff all
 * passed. Expectations are Linux's: the program passes on the host.
 */
#include "abi.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define BIG (256 * 1024) /* more than a pipe's 64 KiB buffer */

static void test_basics(void)
{
	int p[2];
	char buf[16];

	ABI_EQ(pipe(p), 0, "pipe");
	ABI_OK(p[0] >= 3 && p[1] == p[0] + 1, "pipe's fds are the lowest free ones");
	ABI_EQ(fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY, "the read end is O_RDONLY");
	ABI_EQ(fcntl(p[1], F_GETFL) & O_ACCMODE, O_WRONLY, "the write end is O_WRONLY");
	ABI_EQ(write(p[1], "hello", 5), 5, "write 5 bytes into the pipe");
	ABI_EQ(read(p[0], buf, 3), 3, "read 3 of them");
	ABI_EQ(read(p[0], buf + 3, 10), 2, "read returns what is there: 2");
	ABI_OK(!memcmp(buf, "hello", 5), "the bytes come out in order");
	ABI_ERR(write(p[0], "x", 1), EBADF, "write on the read end: EBADF");
	ABI_ERR(read(p[1], buf, 1), EBADF, "read on the write end: EBADF");
	ABI_ERR(lseek(p[0], 0, SEEK_SET), ESPIPE, "lseek on a pipe: ESPIPE");
	ABI_EQ(close(p[1]), 0, "close the write end");
	ABI_EQ(read(p[0], buf, 10), 0, "read after the writer closed: 0 (end of file)");
	close(p[0]);
	ABI_ERR(syscall(SYS_pipe, (void *)8), EFAULT, "pipe into a bad pointer: EFAULT");
	ABI_ERR(pipe2(p, 0x12345678), EINVAL, "pipe2 with bad flags: EINVAL");
}

static void test_epipe(void)
{
	int p[2], status;
	pid_t pid;

	ABI_EQ(pipe2(p, O_CLOEXEC), 0, "pipe2 O_CLOEXEC");
	ABI_EQ(fcntl(p[0], F_GETFD), FD_CLOEXEC, "pipe2 O_CLOEXEC: FD_CLOEXEC on the read end");
	ABI_EQ(fcntl(p[1], F_GETFD), FD_CLOEXEC, "pipe2 O_CLOEXEC: FD_CLOEXEC on the write end");
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	ABI_ERR(write(p[1], "x", 1), EPIPE, "write with no reader (SIGPIPE ignored): EPIPE");
	signal(SIGPIPE, SIG_DFL);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		write(p[1], "x", 1); /* dies here of SIGPIPE */
		_exit(3);
	}
	close(p[1]);
	ABI_EQ(waitpid(pid, &status, 0), pid, "waitpid the child that wrote into a readerless pipe");
	ABI_OK(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE,
	       "the child died of SIGPIPE (default action)");
}

static void test_nonblock(void)
{
	int p[2], n = 0;
	char buf[4096];
	ssize_t w;

	ABI_EQ(pipe2(p, O_NONBLOCK), 0, "pipe2 O_NONBLOCK");
	ABI_OK(fcntl(p[0], F_GETFL) & O_NONBLOCK, "F_GETFL shows O_NONBLOCK");
	ABI_ERR(read(p[0], buf, 1), EAGAIN, "read an empty O_NONBLOCK pipe: EAGAIN");
	memset(buf, 'x', sizeof(buf));
	while ((w = write(p[1], buf, sizeof(buf))) > 0 && n < (1 << 20))
		n += (int)w;
	ABI_OK(w == -1 && errno == EAGAIN, "writes into a full O_NONBLOCK pipe end with EAGAIN");
	ABI_OK(n >= 4096 && n <= 1 << 20, "the pipe held at least 4 KiB before it was full");
	{
		struct pollfd pf = {.fd = p[1], .events = POLLOUT};
		ABI_EQ(poll(&pf, 1, 0), 0, "poll POLLOUT on a full pipe: 0 ready");
	}
	ABI_EQ(read(p[0], buf, sizeof(buf)), 4096, "read 4 KiB from the full pipe");
	ABI_EQ(fcntl(p[0], F_SETFL, 0), 0, "F_SETFL 0 clears O_NONBLOCK");
	ABI_EQ(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0, "F_GETFL: no O_NONBLOCK");
	close(p[0]);
	close(p[1]);
}

static void test_poll(void)
{
	int p[2];
	struct pollfd pf[2];
	fd_set rd, wr;
	struct timeval tv = {0, 0};
	char c;

	pipe(p);
	pf[0] = (struct pollfd){.fd = p[0], .events = POLLIN};
	pf[1] = (struct pollfd){.fd = p[1], .events = POLLOUT};
	ABI_EQ(poll(pf, 2, 0), 1, "poll an empty pipe: only the write end is ready");
	ABI_EQ(pf[0].revents, 0, "poll: the read end has no events");
	ABI_EQ(pf[1].revents, POLLOUT, "poll: the write end has POLLOUT");
	write(p[1], "y", 1);
	ABI_EQ(poll(pf, 1, 1000), 1, "poll after a write: the read end is ready");
	ABI_EQ(pf[0].revents, POLLIN, "poll: POLLIN");
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(p[0], &rd);
	FD_SET(p[1], &wr);
	ABI_EQ(select(p[1] + 1, &rd, &wr, NULL, &tv), 2, "select: both ends ready");
	ABI_OK(FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr), "select: the bits of both ends");
	read(p[0], &c, 1);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv = (struct timeval){0, 10000};
	ABI_EQ(select(p[0] + 1, &rd, NULL, NULL, &tv), 0, "select on an empty pipe times out: 0");
	close(p[1]);
	pf[0].revents = 0;
	ABI_EQ(poll(pf, 1, 1000), 1, "poll after the writer closed: ready");
	ABI_OK(pf[0].revents & POLLHUP, "poll: POLLHUP once the writer is gone");
	close(p[0]);
	pf[0] = (struct pollfd){.fd = p[0], .events = POLLIN};
	ABI_EQ(poll(pf, 1, 0), 1, "poll a closed fd: counted as ready");
	ABI_EQ(pf[0].revents, POLLNVAL, "poll a closed fd: POLLNVAL");
	ABI_ERR(select(1, (fd_set *)8, NULL, NULL, &tv), EFAULT, "select with a bad set: EFAULT");
}

/* A child copies the parent's bytes back with each byte + 1 (two pipes,
 * more than a pipe buffer each way, so both block on a full pipe). */
static void test_fork_pipe(void)
{
	int down[2], up[2], status;
	static unsigned char out[BIG], in[BIG];
	pid_t pid;
	size_t got = 0, put = 0;

	pipe(down);
	pipe(up);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		unsigned char buf[1000];
		ssize_t n;

		close(down[1]);
		close(up[0]);
		while ((n = read(down[0], buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < n; i++)
				buf[i]++;
			if (write(up[1], buf, n) != n)
				_exit(2);
		}
		_exit(n == 0 ? 0 : 1);
	}
	ABI_OK(pid > 0, "fork the echo child");
	close(down[0]);
	close(up[1]);
	for (size_t i = 0; i < BIG; i++)
		out[i] = (unsigned char)(i * 7 + i / 251);
	fcntl(up[0], F_SETFL, O_NONBLOCK);
	while (got < BIG) { /* write and read in turns: no deadlock */
		ssize_t n;
		if (put < BIG) {
			n = write(down[1], out + put, BIG - put > 8192 ? 8192 : BIG - put);
			if (n > 0)
				put += n;
			if (put == BIG)
				close(down[1]);
		}
		n = read(up[0], in + got, BIG - got);
		if (n > 0)
			got += n;
		else if (n == 0 || errno != EAGAIN)
			break;
		else if (put == BIG) {
			struct pollfd pf = {.fd = up[0], .events = POLLIN};
			poll(&pf, 1, 1000);
		}
	}
	ABI_EQ(got, BIG, "all 256 KiB came back through the child");
	{
		size_t bad = 0;
		for (size_t i = 0; i < got; i++)
			bad += in[i] != (unsigned char)(out[i] + 1);
		ABI_EQ(bad, 0, "every byte came back + 1");
	}
	close(up[0]);
	ABI_EQ(waitpid(pid, &status, 0), pid, "waitpid the echo child");
	ABI_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "the child saw end of file and exited 0");
}

int main(void)
{
	abi_init("pipes");
	test_basics();
	test_epipe();
	test_nonblock();
	test_poll();
	test_fork_pipe();
	return abi_done();
}
