/*
 * epoll: epoll_create1 and epoll_ctl's rules (EEXIST, ENOENT, EBADF,
 * EINVAL, EPERM, ELOOP), level-triggered readiness on a pipe and a
 * socketpair, edge-triggered events once per arrival, EPOLLONESHOT until
 * EPOLL_CTL_MOD, timeouts (0 and a short one: the count is checked, not
 * the time), a registration dropped when its file closes, a set watching
 * a set, and a child writing later waking a blocked epoll_wait.
 *
 * Checks print as "ok N - ..." lines (tests/abi/abi.h); exit 0 iff all
 * passed. Expectations are Linux's: the program passes on the host.
 */
#include "abi.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int add(int ep, int fd, unsigned events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int wait0(int ep, struct epoll_event *ev, int max)
{
	return epoll_wait(ep, ev, max, 0);
}

static void test_ctl(void)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int ep = epoll_create1(EPOLL_CLOEXEC), ep2, p[2], fd;

	ABI_OK(ep >= 0, "epoll_create1(EPOLL_CLOEXEC)");
	ABI_EQ(fcntl(ep, F_GETFD), FD_CLOEXEC, "the set is close-on-exec");
	ABI_ERR(epoll_create1(0x1234), EINVAL, "epoll_create1 with bad flags: EINVAL");
	ABI_ERR(syscall(SYS_epoll_create, 0), EINVAL, "epoll_create(0): EINVAL");
	ep2 = epoll_create(1);
	ABI_OK(ep2 >= 0, "epoll_create(1)");
	ABI_EQ(pipe(p), 0, "a pipe");
	ABI_EQ(add(ep, p[0], EPOLLIN, 1), 0, "EPOLL_CTL_ADD the read end");
	ABI_ERR(add(ep, p[0], EPOLLIN, 1), EEXIST, "add it again: EEXIST");
	ABI_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev), ENOENT, "MOD of an fd not in the set: ENOENT");
	ABI_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), ENOENT, "DEL of an fd not in the set: ENOENT");
	ABI_ERR(add(ep, 999, EPOLLIN, 0), EBADF, "add a closed fd: EBADF");
	ABI_ERR(add(999, p[0], EPOLLIN, 0), EBADF, "a closed epoll fd: EBADF");
	ABI_ERR(add(p[1], p[0], EPOLLIN, 0), EINVAL, "a pipe as the epoll fd: EINVAL");
	ABI_ERR(add(ep, ep, EPOLLIN, 0), EINVAL, "a set watching itself: EINVAL");
	ABI_ERR(epoll_ctl(ep, 99, p[0], &ev), EINVAL, "a bad op: EINVAL");
	fd = open("epoll-file", O_CREAT | O_RDWR, 0644);
	ABI_ERR(add(ep, fd, EPOLLIN, 0), EPERM, "a regular file: EPERM");
	close(fd);
	unlink("epoll-file");
	ABI_EQ(add(ep2, ep, EPOLLIN, 2), 0, "a set may watch another set");
	ABI_ERR(add(ep, ep2, EPOLLIN, 0), ELOOP, "and not one that watches it: ELOOP");
	ABI_EQ(wait0(ep2, &ev, 1), 0, "the outer set: nothing ready");
	ABI_EQ(write(p[1], "x", 1), 1, "write into the pipe");
	ABI_EQ(wait0(ep2, &ev, 1), 1, "the outer set is ready when the inner is");
	ABI_OK(ev.events == EPOLLIN && ev.data.u64 == 2, "the inner set's event: EPOLLIN");
	ABI_ERR(epoll_wait(ep, &ev, 0, 0), EINVAL, "epoll_wait with maxevents 0: EINVAL");
	ABI_ERR(epoll_wait(p[0], &ev, 1, 0), EINVAL, "epoll_wait on a pipe: EINVAL");
	ABI_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), 0, "EPOLL_CTL_DEL");
	ABI_EQ(wait0(ep, &ev, 1), 0, "a deleted fd is not reported");
	close(p[0]);
	close(p[1]);
	close(ep2);
	close(ep);
}

static void test_level(void)
{
	struct epoll_event ev[4];
	int ep = epoll_create1(0), p[2], sv[2];
	char buf[8];

	pipe(p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	ABI_EQ(add(ep, p[0], EPOLLIN, 10), 0, "add a pipe's read end");
	ABI_EQ(add(ep, sv[0], EPOLLIN | EPOLLRDHUP, 20), 0, "add a socket for input");
	ABI_EQ(wait0(ep, ev, 4), 0, "timeout 0, nothing ready: 0");
	ABI_EQ(epoll_wait(ep, ev, 4, 50), 0, "a 50 ms timeout, nothing ready: 0");
	write(p[1], "ab", 2);
	ABI_EQ(wait0(ep, ev, 4), 1, "the pipe has data: 1 event");
	ABI_OK(ev[0].events == EPOLLIN && ev[0].data.u64 == 10, "EPOLLIN with the pipe's data");
	ABI_EQ(wait0(ep, ev, 4), 1, "level-triggered: reported again while unread");
	write(sv[1], "s", 1);
	ABI_EQ(wait0(ep, ev, 4), 2, "the socket too: 2 events");
	ABI_EQ(wait0(ep, ev, 1), 1, "maxevents 1: 1 event");
	read(p[0], buf, sizeof(buf));
	read(sv[0], buf, sizeof(buf));
	ABI_EQ(wait0(ep, ev, 4), 0, "both read: nothing");
	close(sv[1]);
	ABI_EQ(wait0(ep, ev, 4), 1, "the socket's peer closed: 1 event");
	ABI_OK(ev[0].events == (EPOLLIN | EPOLLRDHUP | EPOLLHUP) && ev[0].data.u64 == 20,
	       "EPOLLIN | EPOLLRDHUP | EPOLLHUP");
	ABI_EQ(add(ep, p[1], EPOLLOUT, 30), 0, "add the write end for output");
	close(p[0]);
	ABI_EQ(wait0(ep, ev, 4), 2, "the socket and the readerless pipe");
	ABI_OK((ev[0].data.u64 == 30 ? ev[0].events : ev[1].events) == (EPOLLOUT | EPOLLERR),
	       "a pipe without readers: EPOLLOUT | EPOLLERR");
	close(sv[0]);
	ABI_EQ(wait0(ep, ev, 4), 1, "a closed fd leaves the set");
	int d = dup(p[1]);
	close(p[1]);
	ABI_EQ(wait0(ep, ev, 4), 1, "a closed fd whose file is still open (dup) stays");
	close(d);
	ABI_EQ(wait0(ep, ev, 4), 0, "until its last descriptor closes");
	close(ep);
}

static void test_edge_oneshot(void)
{
	struct epoll_event ev[2], mod = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 7};
	int ep = epoll_create1(0), p[2], sv[2];
	char buf[8];

	pipe(p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	ABI_EQ(add(ep, p[0], EPOLLIN | EPOLLET, 1), 0, "add a pipe edge-triggered");
	ABI_EQ(add(ep, sv[0], EPOLLIN | EPOLLET, 2), 0, "add a socket edge-triggered");
	write(p[1], "a", 1);
	ABI_EQ(wait0(ep, ev, 2), 1, "EPOLLET: new data on the pipe fires");
	ABI_EQ(wait0(ep, ev, 2), 0, "and only once");
	write(p[1], "b", 1);
	ABI_EQ(wait0(ep, ev, 2), 1, "more data fires again, though unread");
	ABI_EQ(wait0(ep, ev, 2), 0, "once");
	write(sv[1], "x", 1);
	ABI_EQ(wait0(ep, ev, 2), 1, "EPOLLET: new data on the socket fires");
	ABI_OK(ev[0].data.u64 == 2, "the socket's event");
	ABI_EQ(wait0(ep, ev, 2), 0, "and only once");
	write(sv[1], "y", 1);
	ABI_EQ(wait0(ep, ev, 2), 1, "more data on the socket fires again");
	read(p[0], buf, sizeof(buf));
	read(sv[0], buf, sizeof(buf));
	ABI_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), 0, "delete the pipe");
	ABI_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, sv[0], NULL), 0, "delete the socket");
	ABI_EQ(add(ep, p[0], EPOLLIN | EPOLLONESHOT, 5), 0, "add the pipe EPOLLONESHOT");
	write(p[1], "c", 1);
	ABI_EQ(wait0(ep, ev, 2), 1, "EPOLLONESHOT fires once");
	ABI_EQ(wait0(ep, ev, 2), 0, "then the fd is disarmed, though data is there");
	write(p[1], "d", 1);
	ABI_EQ(wait0(ep, ev, 2), 0, "still disarmed after more data");
	ABI_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &mod), 0, "EPOLL_CTL_MOD rearms it");
	ABI_EQ(wait0(ep, ev, 2), 1, "it fires again");
	ABI_OK(ev[0].data.u64 == 7, "with MOD's data");
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	close(ep);
}

static void test_wakeup(void)
{
	struct epoll_event ev;
	int ep = epoll_create1(0), sv[2], status;
	pid_t pid;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	add(ep, sv[0], EPOLLIN, 42);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		usleep(200 * 1000);
		_exit(write(sv[1], "late", 4) == 4 ? 0 : 1);
	}
	ABI_EQ(epoll_wait(ep, &ev, 1, -1), 1, "a blocked epoll_wait wakes when a child writes");
	ABI_OK(ev.events == EPOLLIN && ev.data.u64 == 42, "the socket's EPOLLIN");
	ABI_EQ(waitpid(pid, &status, 0), pid, "waitpid the writer");
	close(sv[0]);
	close(sv[1]);
	close(ep);
}

int main(int argc, char **argv)
{
	abi_init("epoll");
	abi_workdir(argc, argv);
	test_ctl();
	test_level();
	test_edge_oneshot();
	test_wakeup();
	return abi_done();
}
