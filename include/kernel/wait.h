/*
 * Wait queues and completions (kernel/wait.c), built on sched_block().
 *
 * Typical use of a wait queue, with the condition protected by wq->lock:
 *
 *	spin_lock(&wq->lock);
 *	while (!condition)
 *		waitq_wait_locked(wq, 0);
 *	spin_unlock(&wq->lock);
 *
 * and on the other side: change the condition under wq->lock, then
 * waitq_wake_all_locked(wq).
 */
#ifndef KERNEL_WAIT_H
#define KERNEL_WAIT_H

#include <kernel/spinlock.h>
#include <lib/list.h>
#include <stdbool.h>
#include <stdint.h>

struct waitq {
	struct spinlock lock;
	struct list_node waiters; /* struct waiter, on the waiters' stacks */
};

void waitq_init(struct waitq *wq, const char *name);

/* Sleeps until woken or until clock_ns() passes deadline_ns (0: never).
 * Caller holds wq->lock; it is released while asleep and held again on
 * return. Returns true if the deadline passed without a wakeup. */
bool waitq_wait_locked(struct waitq *wq, uint64_t deadline_ns);

/* The same, but an interruptible sleep (kernel/sched.h): returns 0 when
 * woken, -ETIMEDOUT when the deadline passed, -EINTR when the thread was
 * interrupted (before or during the sleep). Caller holds wq->lock. */
int waitq_wait_intr_locked(struct waitq *wq, uint64_t deadline_ns);

/* Wake the first / every waiter. Caller holds wq->lock. */
void waitq_wake_one_locked(struct waitq *wq);
void waitq_wake_all_locked(struct waitq *wq);

struct completion {
	struct waitq wq;
	unsigned done; /* complete() calls not yet consumed by a waiter */
};

void completion_init(struct completion *c);
/* Lets one waiter (present or future) through. */
void complete(struct completion *c);
/* Lets every waiter through, now and later. */
void complete_all(struct completion *c);
void wait_for_completion(struct completion *c);
/* Returns true if completed, false if timeout_ns passed first. */
bool wait_for_completion_timeout(struct completion *c, uint64_t timeout_ns);

#endif
