/*
 * The server side of QEMU's ivshmem protocol (see ivshmem.h). QEMU (7.2,
 * hw/misc/ivshmem.c) reads the version, the id and then messages until the
 * shared memory arrives, all synchronously while the device is created;
 * the eventfds after it are read from its main loop. fabricd sends all
 * five at once: 40 bytes fit any fresh socket buffer, so on the
 * non-blocking socket a short write means something is badly wrong.
 */
#define _GNU_SOURCE
#include "ivshmem.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* One message: the integer v (little-endian: x86-64 hosts only) and fd,
 * or none if fd < 0. */
static int send_msg(int sock, int64_t v, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = &v, .iov_len = sizeof(v)};
	struct msghdr msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(v))
		return 0;
	if (n >= 0)
		errno = EAGAIN;
	return -1;
}

int ivshmem_send_setup(int sock, uint16_t id, int memfd, int doorbell_fd, int irq_fd)
{
	if (send_msg(sock, 0, -1) < 0 || send_msg(sock, id, -1) < 0 ||
	    send_msg(sock, -1, memfd) < 0 || send_msg(sock, 0, doorbell_fd) < 0 ||
	    send_msg(sock, id, irq_fd) < 0)
		return -1;
	return 0;
}
