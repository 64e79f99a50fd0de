/*
 * Fast user-space locking (pcomponent/futex.c): the futex system call.
 */
#ifndef PCOMPONENT_FUTEX_H
#define PCOMPONENT_FUTEX_H

#include <stdint.h>

struct process;

/* Sets up the wait lists; process_init calls it, before any process. */
void futex_init(void);

/* futex(uaddr, op, val, timeout, uaddr2, val3): FUTEX_WAIT, FUTEX_WAKE,
 * FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET (others ENOSYS). */
long sys_futex(struct process *p, const uint64_t *a);

/* FUTEX_WAKE from the kernel (a thread's exit, CLONE_CHILD_CLEARTID):
 * wakes up to n waiters on p's word at uaddr (a shared futex's wake, as
 * Linux's: in a MAP_SHARED mapping, other processes' waiters too); how
 * many it woke. */
long futex_wake_addr(struct process *p, uint64_t uaddr, uint32_t n);

/* The calling thread (tid, of p, still attached to p's address space)
 * is exiting: the robust futexes on its list at head (set_robust_list;
 * 0: none) that it still holds are marked FUTEX_OWNER_DIED and one
 * waiter of each is woken, as Linux's exit_robust_list. A bad list ends
 * the walk (never a kernel fault); at most 2048 entries. May sleep. */
void futex_exit_robust(struct process *p, uint64_t head, uint32_t tid);

#endif
