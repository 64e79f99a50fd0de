/*
 * sockets: AF_UNIX sockets between processes of one machine (issue 7):
 * socketpair streams both ways, end of file, EPIPE with MSG_NOSIGNAL and
 * death by SIGPIPE without, datagram and seqpacket boundaries, MSG_TRUNC, MSG_PEEK
 * and MSG_DONTWAIT, a server bound to a path and to an abstract name
 * with a forked client (connect, accept, exchange, getsockname,
 * getpeername, SO_PEERCRED), the names' errors (ECONNREFUSED, ENOENT,
 * EADDRINUSE), unlink freeing a path's name, a full backlog (EAGAIN),
 * sendmsg/recvmsg with iovecs and SCM_RIGHTS, shutdown, socket options.
 *
 * Only what Linux and Tessera must agree on is checked: AF_INET works
 * on the host and is EAFNOSUPPORT on a vNode (no network stack), so
 * that check accepts either.
 *
 * Checks print as "ok N - ..." lines (tests/abi/abi.h); exit 0 iff all
 * passed. Expectations are Linux's: the program passes on the host.
 */
#include "abi.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

static socklen_t path_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

/* An abstract name: sun_path[0] == 0, then name (no NUL counted). */
static socklen_t abstract_addr(struct sockaddr_un *sa, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path + 1, name, strlen(name));
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

static void test_pair_stream(void)
{
	int sv[2], status;
	char buf[64];
	pid_t pid;

	ABI_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0, "socketpair SOCK_STREAM");
	ABI_EQ(write(sv[0], "ping", 4), 4, "write on one end");
	ABI_EQ(read(sv[1], buf, sizeof(buf)), 4, "read on the other: 4 bytes");
	ABI_OK(!memcmp(buf, "ping", 4), "the bytes arrive");
	ABI_EQ(send(sv[1], "pong!", 5, 0), 5, "send back");
	ABI_EQ(recv(sv[0], buf, 2, 0), 2, "recv 2 of them");
	ABI_EQ(recv(sv[0], buf + 2, sizeof(buf), 0), 3, "recv the rest: a stream has no boundaries");
	ABI_OK(!memcmp(buf, "pong!", 5), "both ways in order");
	ABI_EQ(send(sv[0], "peek", 4, 0), 4, "send for a peek");
	ABI_EQ(recv(sv[1], buf, 4, MSG_PEEK), 4, "MSG_PEEK sees the bytes");
	ABI_EQ(recv(sv[1], buf, sizeof(buf), 0), 4, "and they are still there");
	ABI_ERR(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), EAGAIN, "MSG_DONTWAIT on nothing: EAGAIN");
	ABI_ERR(lseek(sv[0], 0, SEEK_SET), ESPIPE, "lseek on a socket: ESPIPE");
	struct stat st;
	ABI_OK(fstat(sv[0], &st) == 0 && S_ISSOCK(st.st_mode), "fstat: S_IFSOCK");

	fflush(stdout);
	pid = fork();
	if (pid == 0) { /* echo one message in upper case, then exit */
		ssize_t n = read(sv[1], buf, sizeof(buf));

		for (ssize_t i = 0; i < n; i++)
			buf[i] = (char)(buf[i] - 32);
		_exit(n > 0 && write(sv[1], buf, (size_t)n) == n ? 0 : 1);
	}
	close(sv[1]);
	ABI_EQ(write(sv[0], "child", 5), 5, "write to a forked child");
	ABI_EQ(read(sv[0], buf, sizeof(buf)), 5, "its answer");
	ABI_OK(!memcmp(buf, "CHILD", 5), "the child's bytes");
	ABI_EQ(waitpid(pid, &status, 0), pid, "waitpid the echo child");
	ABI_EQ(read(sv[0], buf, sizeof(buf)), 0, "read after the peer closed: 0 (end of file)");
	signal(SIGPIPE, SIG_IGN);
	ABI_ERR(send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE, "send to a closed peer, MSG_NOSIGNAL: EPIPE");
	ABI_ERR(write(sv[0], "x", 1), EPIPE, "write to a closed peer (SIGPIPE ignored): EPIPE");
	signal(SIGPIPE, SIG_DFL);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		write(sv[0], "x", 1); /* dies here of SIGPIPE */
		_exit(3);
	}
	ABI_EQ(waitpid(pid, &status, 0), pid, "waitpid the child that wrote to a closed peer");
	ABI_OK(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE, "it died of SIGPIPE");
	close(sv[0]);
}

static void test_pair_dgram(void)
{
	int sv[2];
	char buf[64];

	ABI_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0,
	       "socketpair SOCK_DGRAM | SOCK_CLOEXEC");
	ABI_EQ(fcntl(sv[0], F_GETFD), FD_CLOEXEC, "SOCK_CLOEXEC: FD_CLOEXEC");
	ABI_EQ(send(sv[0], "one", 3, 0), 3, "send a datagram of 3");
	ABI_EQ(send(sv[0], "second", 6, 0), 6, "send a datagram of 6");
	ABI_EQ(recv(sv[1], buf, sizeof(buf), 0), 3, "recv: the first datagram only");
	ABI_EQ(recv(sv[1], buf, 2, 0), 2, "recv 2 of the second: truncated");
	ABI_ERR(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), EAGAIN,
		"the rest of a truncated datagram is gone: EAGAIN");
	ABI_EQ(send(sv[1], "abcdef", 6, 0), 6, "send a datagram the other way");
	ABI_EQ(recv(sv[0], buf, 2, MSG_TRUNC), 6, "recv with MSG_TRUNC: the datagram's length");

	struct msghdr mh = {0};
	struct iovec iov[2];
	char a[3], b[8];

	iov[0] = (struct iovec){a, sizeof(a)};
	iov[1] = (struct iovec){b, sizeof(b)};
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	ABI_EQ(send(sv[1], "0123456789abc", 13, 0), 13, "send 13 bytes");
	ABI_EQ(recvmsg(sv[0], &mh, 0), 11, "recvmsg into 3 + 8 bytes: 11");
	ABI_OK(mh.msg_flags & MSG_TRUNC, "recvmsg reports MSG_TRUNC");
	ABI_OK(!memcmp(a, "012", 3) && !memcmp(b, "3456789a", 8), "the iovecs filled in order");
	close(sv[0]);
	close(sv[1]);

	ABI_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0, "socketpair SOCK_SEQPACKET");
	ABI_EQ(send(sv[0], "rec1", 4, 0), 4, "send a record of 4");
	ABI_EQ(send(sv[0], "record2", 7, 0), 7, "send a record of 7");
	ABI_EQ(recv(sv[1], buf, sizeof(buf), 0), 4, "recv: one record");
	ABI_EQ(recv(sv[1], buf, sizeof(buf), 0), 7, "recv: the next record");
	close(sv[0]);
	ABI_EQ(recv(sv[1], buf, sizeof(buf), 0), 0, "seqpacket: end of file after the peer closed");
	close(sv[1]);
}

/* The client side of the server tests, in a child: connects to the
 * address, reads a greeting, answers with its getsockname length. */
static int client(const struct sockaddr_un *sa, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	char buf[16];

	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, len) != 0)
		return 1;
	if (read(fd, buf, 5) != 5 || memcmp(buf, "hello", 5))
		return 2;
	if (write(fd, "thanks", 6) != 6)
		return 3;
	return read(fd, buf, 1) == 0 ? 0 : 4; /* the server closes */
}

static void serve(const char *what, const struct sockaddr_un *sa, socklen_t len)
{
	struct sockaddr_un got;
	socklen_t glen = sizeof(got);
	int s = socket(AF_UNIX, SOCK_STREAM, 0), c, status;
	char buf[64], name[128];
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	pid_t pid;

	snprintf(name, sizeof(name), "%s: bind", what);
	ABI_EQ(bind(s, (const struct sockaddr *)sa, len), 0, name);
	snprintf(name, sizeof(name), "%s: getsockname gives the name back", what);
	ABI_OK(getsockname(s, (struct sockaddr *)&got, &glen) == 0 && glen == len &&
		       !memcmp(&got, sa, len), name);
	snprintf(name, sizeof(name), "%s: connect before listen: ECONNREFUSED", what);
	int early = socket(AF_UNIX, SOCK_STREAM, 0);
	ABI_ERR(connect(early, (const struct sockaddr *)sa, len), ECONNREFUSED, name);
	close(early);
	snprintf(name, sizeof(name), "%s: listen", what);
	ABI_EQ(listen(s, 4), 0, name);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(client(sa, len));
	glen = sizeof(got);
	c = accept(s, (struct sockaddr *)&got, &glen);
	snprintf(name, sizeof(name), "%s: accept", what);
	ABI_OK(c >= 0, name);
	snprintf(name, sizeof(name), "%s: accept's address of an unbound client: the family only", what);
	ABI_OK(glen == sizeof(sa_family_t) && got.sun_family == AF_UNIX, name);
	glen = sizeof(got);
	snprintf(name, sizeof(name), "%s: the accepted socket's getsockname is the server's name", what);
	ABI_OK(getsockname(c, (struct sockaddr *)&got, &glen) == 0 && glen == len &&
		       !memcmp(&got, sa, len), name);
	glen = sizeof(got);
	snprintf(name, sizeof(name), "%s: getpeername of an unbound client: the family only", what);
	ABI_OK(getpeername(c, (struct sockaddr *)&got, &glen) == 0 && glen == sizeof(sa_family_t), name);
	snprintf(name, sizeof(name), "%s: SO_PEERCRED names the client", what);
	ABI_OK(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && cred.pid == pid &&
		       cred.uid == getuid() && clen == sizeof(cred), name);
	snprintf(name, sizeof(name), "%s: write the greeting", what);
	ABI_EQ(write(c, "hello", 5), 5, name);
	snprintf(name, sizeof(name), "%s: read the client's answer", what);
	ABI_OK(read(c, buf, sizeof(buf)) == 6 && !memcmp(buf, "thanks", 6), name);
	close(c);
	snprintf(name, sizeof(name), "%s: the client saw everything (exit 0)", what);
	ABI_OK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       name);
	int again = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(name, sizeof(name), "%s: a second bind to the name: EADDRINUSE", what);
	ABI_ERR(bind(again, (const struct sockaddr *)sa, len), EADDRINUSE, name);
	close(again);
	close(s);
}

static void test_servers(void)
{
	struct sockaddr_un sa;
	socklen_t len;
	int s, c;

	len = path_addr(&sa, "srv.sock");
	serve("path", &sa, len);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ABI_ERR(bind(s, (struct sockaddr *)&sa, len), EADDRINUSE,
		"the path's name outlives its socket: EADDRINUSE");
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	ABI_ERR(connect(c, (struct sockaddr *)&sa, len), ECONNREFUSED,
		"connect to a closed socket's path: ECONNREFUSED");
	ABI_EQ(unlink("srv.sock"), 0, "unlink the path");
	ABI_ERR(connect(c, (struct sockaddr *)&sa, len), ENOENT, "connect to a missing path: ENOENT");
	ABI_EQ(bind(s, (struct sockaddr *)&sa, len), 0, "bind again after unlink");
	ABI_ERR(bind(s, (struct sockaddr *)&sa, abstract_addr(&sa, "tessera-abi-x")), EINVAL,
		"bind a bound socket: EINVAL");
	ABI_EQ(unlink("srv.sock"), 0, "unlink it again");
	ABI_ERR(unlink("srv.sock"), ENOENT, "and the name is gone: ENOENT");
	close(s);
	close(c);
	close(open("plain", O_CREAT | O_WRONLY, 0644));
	len = path_addr(&sa, "plain");
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ABI_ERR(bind(s, (struct sockaddr *)&sa, len), EADDRINUSE, "bind over a regular file: EADDRINUSE");
	ABI_ERR(connect(s, (struct sockaddr *)&sa, len), ECONNREFUSED,
		"connect to a regular file: ECONNREFUSED");
	len = path_addr(&sa, "nodir/x.sock");
	ABI_ERR(bind(s, (struct sockaddr *)&sa, len), ENOENT, "bind in a missing directory: ENOENT");
	close(s);
	unlink("plain");

	char name[32];
	snprintf(name, sizeof(name), "tessera-abi-%d", (int)getpid());
	len = abstract_addr(&sa, name);
	serve("abstract", &sa, len);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	ABI_ERR(connect(c, (struct sockaddr *)&sa, len), ECONNREFUSED,
		"an abstract name goes with its socket: ECONNREFUSED");
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ABI_EQ(bind(s, (struct sockaddr *)&sa, len), 0, "and may be bound again at once");
	close(s);
	close(c);
}

static void test_backlog(void)
{
	struct sockaddr_un sa;
	socklen_t len;
	char name[32];
	int s, c[3], a;

	snprintf(name, sizeof(name), "tessera-backlog-%d", (int)getpid());
	len = abstract_addr(&sa, name);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ABI_EQ(bind(s, (struct sockaddr *)&sa, len), 0, "bind a listener");
	ABI_EQ(listen(s, 0), 0, "listen with a backlog of 0");
	ABI_ERR(accept(s, NULL, NULL), EAGAIN, "accept with nothing pending (SOCK_NONBLOCK): EAGAIN");
	for (int i = 0; i < 3; i++)
		c[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ABI_EQ(connect(c[0], (struct sockaddr *)&sa, len), 0, "the first connect fits");
	ABI_ERR(connect(c[1], (struct sockaddr *)&sa, len), EAGAIN, "the queue is full: EAGAIN");
	ABI_EQ(send(c[0], "early", 5, 0), 5, "a connected client sends before the accept");
	a = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	ABI_OK(a >= 0, "accept4 SOCK_CLOEXEC");
	ABI_EQ(fcntl(a, F_GETFD), FD_CLOEXEC, "the accepted fd is close-on-exec");
	char buf[8];
	ABI_EQ(read(a, buf, sizeof(buf)), 5, "the early bytes are there");
	ABI_ERR(connect(c[0], (struct sockaddr *)&sa, len), EISCONN, "connect a connected socket: EISCONN");
	ABI_EQ(connect(c[1], (struct sockaddr *)&sa, len), 0, "room again after the accept");
	ABI_EQ(shutdown(a, SHUT_WR), 0, "shutdown SHUT_WR");
	ABI_EQ(read(c[0], buf, sizeof(buf)), 0, "the peer reads end of file");
	ABI_EQ(write(c[0], "more", 4), 4, "and may still write");
	ABI_EQ(read(a, buf, sizeof(buf)), 4, "which the shut-down end reads");
	ABI_ERR(send(a, "x", 1, MSG_NOSIGNAL), EPIPE, "send after SHUT_WR: EPIPE");
	ABI_ERR(shutdown(a, 7), EINVAL, "shutdown with a bad how: EINVAL");
	close(a);
	close(s);
	ABI_ERR(read(c[1], buf, sizeof(buf)), ECONNRESET,
		"a connection never accepted when the listener closed: ECONNRESET");
	for (int i = 0; i < 3; i++)
		close(c[i]);
}

static void test_dgram_named(void)
{
	struct sockaddr_un sa, from;
	socklen_t len, flen = sizeof(from);
	char name[32], buf[16];
	int s, c;

	snprintf(name, sizeof(name), "tessera-dgram-%d", (int)getpid());
	len = abstract_addr(&sa, name);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	c = socket(AF_UNIX, SOCK_DGRAM, 0);
	ABI_EQ(bind(s, (struct sockaddr *)&sa, len), 0, "bind a datagram socket");
	ABI_EQ(sendto(c, "to", 2, 0, (struct sockaddr *)&sa, len), 2, "sendto its name");
	ABI_EQ(recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen), 2, "recvfrom");
	ABI_EQ(flen, 0, "recvfrom an unbound sender: no address");
	ABI_ERR(send(c, "x", 1, 0), ENOTCONN, "send without an address or a peer: ENOTCONN");
	ABI_EQ(connect(c, (struct sockaddr *)&sa, len), 0, "connect the datagram socket");
	ABI_EQ(send(c, "abc", 3, 0), 3, "send to its peer");
	ABI_EQ(recv(s, buf, sizeof(buf), 0), 3, "received");
	close(s);
	ABI_ERR(send(c, "x", 1, 0), ECONNREFUSED, "send after the peer closed: ECONNREFUSED");
	ABI_ERR(send(c, "x", 1, 0), ENOTCONN, "then ENOTCONN");
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ABI_EQ(bind(s, (struct sockaddr *)&sa, len), 0,
	       "bind a stream socket to the freed name");
	ABI_ERR(sendto(c, "x", 1, 0, (struct sockaddr *)&sa, len), ECONNREFUSED,
		"sendto it: no datagram socket has the name: ECONNREFUSED");
	close(s);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	len = path_addr(&sa, "stream.sock");
	ABI_EQ(bind(s, (struct sockaddr *)&sa, len), 0, "bind a stream socket to a path");
	ABI_ERR(sendto(c, "x", 1, 0, (struct sockaddr *)&sa, len), EPROTOTYPE,
		"sendto a stream socket's path: EPROTOTYPE");
	ABI_EQ(unlink("stream.sock"), 0, "unlink the stream socket's path");
	close(s);
	close(c);
}

static void test_scm_rights(void)
{
	int sv[2], p[2], got = -1;
	char buf[8], ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {buf, 1};
	struct msghdr mh = {0};
	struct cmsghdr *cm;

	ABI_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0, "socketpair for SCM_RIGHTS");
	ABI_EQ(pipe(p), 0, "a pipe to pass");
	buf[0] = 'F';
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl;
	mh.msg_controllen = sizeof(ctl);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
	ABI_EQ(sendmsg(sv[0], &mh, 0), 1, "sendmsg with the pipe's write end");
	close(p[1]);
	memset(ctl, 0, sizeof(ctl));
	mh.msg_controllen = sizeof(ctl);
	ABI_EQ(recvmsg(sv[1], &mh, MSG_CMSG_CLOEXEC), 1, "recvmsg");
	cm = CMSG_FIRSTHDR(&mh);
	ABI_OK(cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		       cm->cmsg_len == CMSG_LEN(sizeof(int)), "an SCM_RIGHTS message came");
	if (cm)
		memcpy(&got, CMSG_DATA(cm), sizeof(int));
	ABI_EQ(fcntl(got, F_GETFD), FD_CLOEXEC, "the new fd is close-on-exec (MSG_CMSG_CLOEXEC)");
	ABI_EQ(write(got, "via", 3), 3, "write through the passed fd");
	ABI_EQ(read(p[0], buf, sizeof(buf)), 3, "the pipe got it");
	close(got);
	ABI_EQ(read(p[0], buf, sizeof(buf)), 0, "its last writer closed: end of file");
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
}

static void test_errors(void)
{
	int fd, v;
	socklen_t len = sizeof(v);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	/* AF_INET: a socket on the host, EAFNOSUPPORT on a vNode */
	ABI_OK(s >= 0 || errno == EAFNOSUPPORT, "socket(AF_INET): a socket or EAFNOSUPPORT");
	if (s >= 0)
		close(s);
	ABI_ERR(socket(AF_UNIX, 4, 0), ESOCKTNOSUPPORT, "socket of SOCK_RDM: ESOCKTNOSUPPORT");
	ABI_ERR(socket(AF_UNIX, SOCK_STREAM, 6), EPROTONOSUPPORT, "a protocol for AF_UNIX: EPROTONOSUPPORT");
	ABI_ERR(socket(AF_UNIX, SOCK_STREAM | 0x10000, 0), EINVAL, "bad type flags: EINVAL");
	ABI_ERR(socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}), EOPNOTSUPP, "socketpair AF_INET: EOPNOTSUPP");
	fd = open("/dev/null", O_RDONLY);
	ABI_ERR(listen(fd, 1), ENOTSOCK, "listen on a file: ENOTSOCK");
	ABI_ERR(listen(999, 1), EBADF, "listen on a closed fd: EBADF");
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ABI_ERR(listen(fd, 1), EINVAL, "listen unbound: EINVAL");
	ABI_ERR(accept(fd, NULL, NULL), EINVAL, "accept on a socket not listening: EINVAL");
	ABI_ERR(send(fd, "x", 1, MSG_NOSIGNAL), ENOTCONN, "send unconnected: ENOTCONN");
	ABI_ERR(recv(fd, &v, 1, MSG_DONTWAIT), EINVAL, "recv on an unconnected stream socket: EINVAL");
	ABI_ERR(getpeername(fd, (struct sockaddr *)&(struct sockaddr_un){0}, &(socklen_t){110}), ENOTCONN,
		"getpeername unconnected: ENOTCONN");
	ABI_ERR(connect(fd, (struct sockaddr *)&(struct sockaddr_un){.sun_family = AF_INET}, 4), EINVAL,
		"connect with another family: EINVAL");
	ABI_OK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == SOCK_STREAM, "SO_TYPE");
	ABI_OK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len) == 0 && v == 0, "SO_ERROR: none");
	v = 65536;
	ABI_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 0, "SO_RCVBUF accepted");
	ABI_OK(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) == 0 && v >= 65536, "SO_RCVBUF read back");
	ABI_ERR(setsockopt(fd, SOL_SOCKET, 9999, &v, sizeof(v)), ENOPROTOOPT, "an unknown option: ENOPROTOOPT");
	close(fd);
}

int main(int argc, char **argv)
{
	abi_init("sockets");
	abi_workdir(argc, argv);
	test_pair_stream();
	test_pair_dgram();
	test_servers();
	test_backlog();
	test_dgram_named();
	test_scm_rights();
	test_errors();
	return abi_done();
}
