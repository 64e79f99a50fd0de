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

#endif
