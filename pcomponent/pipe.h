/*
 * Pipes (pcomponent/pipe.c): the pipe and pipe2 system calls; the pipe
 * itself is only reachable through the two files they install.
 */
#ifndef PCOMPONENT_PIPE_H
#define PCOMPONENT_PIPE_H

#include <stdint.h>

struct process;

/* pipe2(fds, flags): flags O_CLOEXEC, O_NONBLOCK (O_DIRECT: EINVAL). */
long sys_pipe2(struct process *p, const uint64_t *a);
long sys_pipe(struct process *p, const uint64_t *a);
/* A writer whose reader is gone (a pipe's, a socket's peer): SIGPIPE to
 * the calling thread; returns -EPIPE. */
long pipe_epipe(void);

#endif
