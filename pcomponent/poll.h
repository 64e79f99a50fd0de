/*
 * Waiting for several files at once (pcomponent/poll.c): the poll,
 * ppoll, select and pselect6 system calls.
 */
#ifndef PCOMPONENT_POLL_H
#define PCOMPONENT_POLL_H

#include <stdint.h>

struct process;

long sys_poll(struct process *p, const uint64_t *a);
long sys_ppoll(struct process *p, const uint64_t *a);
long sys_select(struct process *p, const uint64_t *a);
long sys_pselect6(struct process *p, const uint64_t *a);

/*
 * The wait loop of poll, select and epoll_wait: scan(p, ctx) counts the
 * ready files (and records them); until it finds some, sleeps on the
 * node-wide event count (file.h) until timeout_ns (UINT64_MAX: forever;
 * 0: never sleep). Returns the count, 0 at the timeout,
 * -SIGNAL_ERESTARTNOHAND when a signal interrupts (restarted only if no
 * handler ran), or scan's error.
 */
long poll_wait_ready(long (*scan)(struct process *, void *), struct process *p, void *ctx,
		     uint64_t timeout_ns);

#endif
