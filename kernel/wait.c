/*
 * Wait queues and completions. A waiter lives on the sleeping thread's
 * stack and is linked into the queue only while that thread waits, so a
 * thread can wait on one queue at a time with no allocation.
 */
#include <kernel/errno.h>
#include <kernel/sched.h>
#include <kernel/time.h>
#include <kernel/wait.h>

#define COMPLETE_ALL 0x80000000u

struct waiter {
	struct list_node node;
	struct thread *t;
	bool woken;
};

void waitq_init(struct waitq *wq, const char *name)
{
	spin_init(&wq->lock, name);
	list_init(&wq->waiters);
}

bool waitq_wait_locked(struct waitq *wq, uint64_t deadline_ns)
{
	struct waiter w = { .t = thread_current() };
	bool timed_out;

	list_push_back(&wq->waiters, &w.node);
	w.t->state = THREAD_BLOCKED;
	timed_out = sched_block(&wq->lock, deadline_ns);
	list_remove(&w.node); /* a waker may have done it already: harmless */
	return timed_out && !w.woken;
}

int waitq_wait_intr_locked(struct waitq *wq, uint64_t deadline_ns)
{
	struct waiter w = { .t = thread_current() };
	bool timed_out;

	list_push_back(&wq->waiters, &w.node);
	w.t->state = THREAD_BLOCKED;
	timed_out = sched_block_intr(&wq->lock, deadline_ns);
	list_remove(&w.node);
	if (w.woken)
		return 0;
	if (thread_interrupted())
		return -EINTR;
	return timed_out ? -ETIMEDOUT : 0;
}

static void wake(struct list_node *n)
{
	struct waiter *w = list_entry(n, struct waiter, node);

	w->woken = true;
	sched_wake(w->t);
}

void waitq_wake_one_locked(struct waitq *wq)
{
	struct list_node *n = list_pop_front(&wq->waiters);

	if (n)
		wake(n);
}

void waitq_wake_all_locked(struct waitq *wq)
{
	struct list_node *n;

	while ((n = list_pop_front(&wq->waiters)))
		wake(n);
}

void completion_init(struct completion *c)
{
	waitq_init(&c->wq, "completion");
	c->done = 0;
}

void complete(struct completion *c)
{
	spin_lock(&c->wq.lock);
	if (c->done != COMPLETE_ALL)
		c->done++;
	waitq_wake_one_locked(&c->wq);
	spin_unlock(&c->wq.lock);
}

void complete_all(struct completion *c)
{
	spin_lock(&c->wq.lock);
	c->done = COMPLETE_ALL;
	waitq_wake_all_locked(&c->wq);
	spin_unlock(&c->wq.lock);
}

bool wait_for_completion_timeout(struct completion *c, uint64_t timeout_ns)
{
	uint64_t deadline = timeout_ns ? clock_ns() + timeout_ns : 0;
	bool done;

	spin_lock(&c->wq.lock);
	while (c->done == 0)
		if (waitq_wait_locked(&c->wq, deadline) && c->done == 0)
			break;
	done = c->done != 0;
	if (done && c->done != COMPLETE_ALL)
		c->done--;
	spin_unlock(&c->wq.lock);
	return done;
}

void wait_for_completion(struct completion *c)
{
	wait_for_completion_timeout(c, 0);
}
