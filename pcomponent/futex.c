/*
 * futex(2) on the processor (pcomponent/futex.h): FUTEX_WAIT, FUTEX_WAKE
 * and their _BITSET forms, private or not, with timeouts.
 *
 * A futex is named by its address space and user address: the struct
 * process (its threads share its address space) and uaddr. Without shared memory between processes, a "shared" futex has
 * the same name as a private one. Waiters sit on a stack-allocated
 * struct futex_waiter in one of FUTEX_BUCKETS hashed lists.
 *
 * The race every futex must close is a wake that comes between the
 * waiter's check of the user word and its sleep. The word cannot be read
 * under the bucket's spinlock (the read may take an ExCache miss and
 * sleep), so each bucket counts its wakes: the waiter notes the count,
 * reads the word without the lock, and goes to sleep only if the count
 * has not moved since. If it has, a wake may have been meant for it: it
 * returns 0, a spurious wake-up, which futex's callers must handle
 * anyway (they re-check the word and wait again).
 */
#include "futex.h"

#include "process.h"
#include "syscall.h"

#include <kernel/errno.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <lib/list.h>

#define FUTEX_WAIT	      0
#define FUTEX_WAKE	      1
#define FUTEX_WAIT_BITSET     9
#define FUTEX_WAKE_BITSET     10
#define FUTEX_PRIVATE_FLAG    128
#define FUTEX_CLOCK_REALTIME  256
#define FUTEX_BITSET_MATCH_ANY 0xffffffffu

#define FUTEX_BUCKETS 64

struct futex_bucket {
	struct spinlock lock;
	struct list_node waiters; /* struct futex_waiter; lock */
	uint64_t wakes;		  /* FUTEX_WAKE calls on this bucket; lock */
};

struct futex_waiter {
	struct list_node node;
	const struct process *space;
	uint64_t uaddr;
	uint32_t bitset;
	struct thread *t;
	bool woken; /* bucket lock */
};

static struct futex_bucket buckets[FUTEX_BUCKETS];

void futex_init(void)
{
	for (unsigned i = 0; i < FUTEX_BUCKETS; i++) {
		spin_init(&buckets[i].lock, "futex");
		list_init(&buckets[i].waiters);
	}
}

static struct futex_bucket *bucket_of(const struct process *space, uint64_t uaddr)
{
	uint64_t h = (uaddr >> 2) ^ ((uint64_t)(uintptr_t)space >> 4);

	h *= 0x9e3779b97f4a7c15ull;
	return &buckets[h >> 58]; /* the top 6 bits: FUTEX_BUCKETS */
}

/* The deadline (clock_ns) for a FUTEX_WAIT timeout: relative for
 * FUTEX_WAIT, absolute for FUTEX_WAIT_BITSET (monotonic, or the wall
 * clock with FUTEX_CLOCK_REALTIME). 0: none. */
static long wait_deadline(uint64_t uts, unsigned cmd, bool realtime, uint64_t *deadline)
{
	uint64_t ns, now = clock_ns();
	long err;

	*deadline = 0;
	if (!uts)
		return 0;
	err = syscall_get_timespec(uts, &ns);
	if (err)
		return err;
	if (cmd == FUTEX_WAIT)
		*deadline = now + ns;
	else if (!realtime)
		*deadline = ns;
	else /* an absolute wall-clock time, as a deadline on the monotonic clock */
		*deadline = ns > wall_clock_ns() ? now + (ns - wall_clock_ns()) : now;
	if (*deadline == 0)
		*deadline = 1; /* already passed */
	return 0;
}

static long futex_wait(struct process *p, uint64_t uaddr, uint32_t val, uint32_t bitset,
		       uint64_t deadline)
{
	struct futex_bucket *b = bucket_of(p, uaddr);
	struct futex_waiter w = {.space = p, .uaddr = uaddr, .bitset = bitset,
				 .t = thread_current()};
	uint64_t wakes;
	uint32_t now;
	long ret = 0;

	spin_lock(&b->lock);
	wakes = b->wakes;
	spin_unlock(&b->lock);
	if (copy_from_user(&now, uaddr, sizeof(now)))
		return -EFAULT;
	if (now != val)
		return -EAGAIN;
	spin_lock(&b->lock);
	if (b->wakes != wakes)
		goto unlock; /* a wake came in between: a spurious wake-up */
	list_push_back(&b->waiters, &w.node);
	w.t->state = THREAD_BLOCKED;
	sched_block_intr(&b->lock, deadline);
	list_remove(&w.node);
	if (!w.woken)
		ret = thread_interrupted() ? -EINTR : -ETIMEDOUT;
unlock:
	spin_unlock(&b->lock);
	return ret;
}

static long futex_wake(struct process *p, uint64_t uaddr, uint32_t n, uint32_t bitset)
{
	struct futex_bucket *b = bucket_of(p, uaddr);
	struct list_node *it, *tmp;
	long woken = 0;

	spin_lock(&b->lock);
	b->wakes++;
	list_for_each_safe(it, tmp, &b->waiters) {
		struct futex_waiter *w = list_entry(it, struct futex_waiter, node);

		if (woken >= n)
			break;
		if (w->space != p || w->uaddr != uaddr || !(w->bitset & bitset))
			continue;
		list_remove(&w->node);
		w->woken = true;
		sched_wake(w->t);
		woken++;
	}
	spin_unlock(&b->lock);
	return woken;
}

long futex_wake_addr(struct process *p, uint64_t uaddr, uint32_t n)
{
	return futex_wake(p, uaddr, n, FUTEX_BITSET_MATCH_ANY);
}

/* futex(uaddr, op, val, timeout, uaddr2, val3) */
long sys_futex(struct process *p, const uint64_t *a)
{
	unsigned op = (unsigned)a[1], cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
	bool realtime = op & FUTEX_CLOCK_REALTIME;
	uint32_t bitset = FUTEX_BITSET_MATCH_ANY;
	uint64_t deadline;
	long err;

	if (a[0] % 4)
		return -EINVAL;
	if (cmd == FUTEX_WAIT_BITSET || cmd == FUTEX_WAKE_BITSET) {
		bitset = (uint32_t)a[5];
		if (!bitset)
			return -EINVAL;
	}
	if (realtime && cmd != FUTEX_WAIT_BITSET)
		return -ENOSYS; /* as Linux */
	switch (cmd) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		err = wait_deadline(a[3], cmd, realtime, &deadline);
		if (err)
			return err;
		return futex_wait(p, a[0], (uint32_t)a[2], bitset, deadline);
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
		return futex_wake(p, a[0], (uint32_t)a[2], bitset);
	default:
		return -ENOSYS; /* requeue, PI and wake_op: not yet */
	}
}
