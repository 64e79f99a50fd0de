/*
 * futex(2) on the processor (pcomponent/futex.h): FUTEX_WAIT, FUTEX_WAKE
 * and their _BITSET forms, private or not, with timeouts.
 *
 * A futex is named by its address space and user address: the struct
 * process whose address space it is (process_mm: its threads', and a
 * vfork child's until its execve or exit) and uaddr. A shared
 * futex (no FUTEX_PRIVATE_FLAG; also the wakes of clear_child_tid and
 * robust lists, as Linux's) in a MAP_SHARED mapping is named by the
 * object and offset instead (the ExCache's shared ranges,
 * excache_shared_get), so processes mapping one page, wherever, meet on
 * one futex: a process-shared pthread mutex works across fork. A file's
 * object is its (inode, generation) (exsh_file_key), so a new file that
 * got an unlinked one's inode number has futexes of its own. Names
 * never collide: a process's is its kernel address (bits 63..47 all
 * set), an object's key has bit 63 set and bit 62 clear (a file's) or
 * bits 61..48 clear (anonymous memory's). Waiters
 * sit on a stack-allocated struct futex_waiter in one of FUTEX_BUCKETS
 * hashed lists.
 *
 * The race every futex must close is a wake that comes between the
 * waiter's check of the user word and its sleep. The word cannot be read
 * under the bucket's spinlock (the read may take an ExCache miss and
 * sleep), so each bucket counts its wakes: the waiter notes the count,
 * reads the word without the lock, and goes to sleep only if the count
 * has not moved since. If it has, a wake may have been meant for it: it
 * returns 0, a spurious wake-up, which futex's callers must handle
 * anyway (they re-check the word and wait again).
 *
 * Robust futexes (futex_exit_robust, at a thread's exit): the thread's
 * robust list (set_robust_list: Linux's struct robust_list_head) is
 * walked as Linux's exit_robust_list does, at most ROBUST_LIST_LIMIT
 * entries, every read and write through copy_from_user/copy_to_user (a
 * bad list ends the walk, nothing more). Each futex word the thread
 * still owns (its tid in the low 30 bits) becomes FUTEX_OWNER_DIED (and
 * FUTEX_WAITERS if it was set) and one waiter is woken. There is no
 * atomic read-modify-write of user memory here: a locker that sets
 * FUTEX_WAITERS between the read and the write loses that bit, so the
 * wake is sent whatever the bit said (a spurious wake-up at worst) and
 * such a locker, asleep or about to be, looks at the word again.
 */
#include "futex.h"

#include "excache.h"
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
#define FUTEX_WAITERS	      0x80000000u
#define FUTEX_OWNER_DIED      0x40000000u
#define FUTEX_TID_MASK	      0x3fffffffu
#define ROBUST_LIST_LIMIT     2048 /* Linux's: entries walked at most */

#define FUTEX_BUCKETS 64

struct futex_bucket {
	struct spinlock lock;
	struct list_node waiters; /* struct futex_waiter; lock */
	uint64_t wakes;		  /* FUTEX_WAKE calls on this bucket; lock */
};

/* A futex's name (top comment). */
struct futex_name {
	uint64_t space; /* the process's address, or a shared object's key */
	uint64_t addr;	/* the user address, or the offset in the object */
};

struct futex_waiter {
	struct list_node node;
	struct futex_name name;
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

/* The name of p's futex at uaddr (shared: not FUTEX_PRIVATE_FLAG), in
 * the address space p uses (a vfork child: its parent's, as Linux's
 * private futexes are keyed by mm). */
static struct futex_name name_of(struct process *caller, uint64_t uaddr, bool shared)
{
	struct process *p = process_mm(caller);
	struct excache_shared r;

	if (shared && !excache_shared_get(p, uaddr, &r))
		return (struct futex_name){r.key, exsh_offset(&r, uaddr) | (uaddr % 4096)};
	return (struct futex_name){(uint64_t)(uintptr_t)p, uaddr};
}

static bool name_eq(const struct futex_name *a, const struct futex_name *b)
{
	return a->space == b->space && a->addr == b->addr;
}

static struct futex_bucket *bucket_of(const struct futex_name *n)
{
	uint64_t h = (n->addr >> 2) ^ (n->space >> 4);

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

static long futex_wait(struct process *p, uint64_t uaddr, bool shared, uint32_t val,
		       uint32_t bitset, uint64_t deadline)
{
	struct futex_waiter w = {.name = name_of(p, uaddr, shared), .bitset = bitset,
				 .t = thread_current()};
	struct futex_bucket *b = bucket_of(&w.name);
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

static long futex_wake(struct process *p, uint64_t uaddr, bool shared, uint32_t n,
		       uint32_t bitset)
{
	struct futex_name name = name_of(p, uaddr, shared);
	struct futex_bucket *b = bucket_of(&name);
	struct list_node *it, *tmp;
	long woken = 0;

	spin_lock(&b->lock);
	b->wakes++;
	list_for_each_safe(it, tmp, &b->waiters) {
		struct futex_waiter *w = list_entry(it, struct futex_waiter, node);

		if (woken >= n)
			break;
		if (!name_eq(&w->name, &name) || !(w->bitset & bitset))
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
	return futex_wake(p, uaddr, true, n, FUTEX_BITSET_MATCH_ANY);
}

/* Linux's struct robust_list_head (x86-64). */
struct robust_head {
	uint64_t next;	      /* the first entry (its own address: empty); bit 0: PI */
	int64_t futex_offset; /* from an entry to its futex word */
	uint64_t pending;     /* an entry being locked or unlocked, or 0 */
};

/* Linux's handle_futex_death for the futex word at uaddr of the dying
 * thread tid (pi: a PI futex, not woken; pending: the list_op_pending
 * entry, whose lock may not have been taken yet). */
static void robust_death(struct process *p, uint64_t uaddr, uint32_t tid, bool pi,
			 bool pending)
{
	uint32_t val, mark;

	if (uaddr % 4 || copy_from_user(&val, uaddr, sizeof(val)))
		return;
	if (pending && !pi && !val) { /* it was unlocking: a waiter may need a wake */
		futex_wake_addr(p, uaddr, 1);
		return;
	}
	if ((val & FUTEX_TID_MASK) != tid)
		return;
	mark = (val & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
	if (copy_to_user(uaddr, &mark, sizeof(mark)))
		return;
	if (!pi)
		futex_wake_addr(p, uaddr, 1); /* whatever FUTEX_WAITERS said: top comment */
}

void futex_exit_robust(struct process *p, uint64_t head, uint32_t tid)
{
	struct robust_head h;
	uint64_t entry, next;
	unsigned limit = ROBUST_LIST_LIMIT;
	int err = 0;

	if (!head || copy_from_user(&h, head, sizeof(h)))
		return;
	entry = h.next;
	while (!err && (entry & ~1ull) != head && limit--) {
		uint64_t e = entry & ~1ull;

		err = copy_from_user(&next, e, sizeof(next)); /* entry->next */
		if (e != (h.pending & ~1ull))
			robust_death(p, e + (uint64_t)h.futex_offset, tid, entry & 1, false);
		entry = next;
	}
	if (!err && (h.pending & ~1ull))
		robust_death(p, (h.pending & ~1ull) + (uint64_t)h.futex_offset, tid,
			     h.pending & 1, true);
}

/* futex(uaddr, op, val, timeout, uaddr2, val3) */
long sys_futex(struct process *p, const uint64_t *a)
{
	unsigned op = (unsigned)a[1], cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
	bool realtime = op & FUTEX_CLOCK_REALTIME, shared = !(op & FUTEX_PRIVATE_FLAG);
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
		return futex_wait(p, a[0], shared, (uint32_t)a[2], bitset, deadline);
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
		return futex_wake(p, a[0], shared, (uint32_t)a[2], bitset);
	default:
		return -ENOSYS; /* requeue, PI and wake_op: not yet */
	}
}
