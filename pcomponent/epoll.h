/*
 * epoll on the processor (pcomponent/epoll.c): the epoll system calls
 * for syscall.c's table, and the hook file_put calls when a watched file
 * goes.
 */
#ifndef PCOMPONENT_EPOLL_H
#define PCOMPONENT_EPOLL_H

#include "syscall.h"

struct file;

#define EPOLL_CALLS(X)                                                                    \
	X(epoll_create) X(epoll_wait) X(epoll_ctl) X(epoll_pwait) X(epoll_create1)        \
	X(epoll_pwait2)

#define EPOLL_DECLARE(name) long sys_##name(struct process *p, const uint64_t *a);
EPOLL_CALLS(EPOLL_DECLARE)
#undef EPOLL_DECLARE

/* f's last reference went (file_put, before its release): f leaves every
 * epoll set that watches it, as Linux drops a registration when its open
 * file description closes. Sleeps not. */
void epoll_file_gone(struct file *f);

#endif
