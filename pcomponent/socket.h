/*
 * Unix domain sockets of the processor (pcomponent/socket.c): the
 * socket system calls for syscall.c's table, and the hook unlink needs
 * for the names sockets are bound to.
 */
#ifndef PCOMPONENT_SOCKET_H
#define PCOMPONENT_SOCKET_H

#include "syscall.h"

#include <stdbool.h>

#define SOCKET_CALLS(X)                                                                  \
	X(socket) X(connect) X(accept) X(sendto) X(recvfrom) X(sendmsg) X(recvmsg)       \
	X(shutdown) X(bind) X(listen) X(getsockname) X(getpeername) X(socketpair)        \
	X(setsockopt) X(getsockopt) X(accept4)

#define SOCKET_DECLARE(name) long sys_##name(struct process *p, const uint64_t *a);
SOCKET_CALLS(SOCKET_DECLARE)
#undef SOCKET_DECLARE

/*
 * unlink(2) of abs (absolute, normalised) when it names a socket this
 * processor bound: forgets the name and returns true (the unlink has
 * succeeded); false if abs is no socket's name (the storage node's to
 * unlink).
 */
bool socket_unlink_name(const char *abs);

#endif
