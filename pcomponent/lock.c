/*
 * Record locks and flock locks (pcomponent/lock.h).
 *
 * One table for the whole processor: a list of lock records under the
 * spinlock of lock_wq, the queue where F_SETLKW and blocking flock calls
 * sleep. A few processes hold a few locks each, so every call scans the
 * list; lock_fd_closed and lock_file_gone, called at every close, look
 * at a counter first and return at once when the table is empty.
 *
 * An owner's records of one kind on one file never overlap, and two of
 * the same type never touch (they are merged), as Linux keeps them: a
 * set first cuts the new range out of the owner's records (splitting one
 * that covers it on both sides, absorbing neighbours of the same type
 * into the new range), then inserts the new record. The two records a
 * set may need (the new one, the second half of a split) are allocated
 * before the table is locked.
 *
 * Waiting: a waiter sleeps on lock_wq until any record goes or shrinks
 * (every change wakes all waiters: few of them), then looks again. A
 * POSIX waiter is listed with the owner it waits for, so a new POSIX
 * waiter can follow the chain (owner -> the owner it waits for -> ...,
 * at most LOCK_DEADLOCK_STEPS) and answer EDEADLK if it comes back to
 * itself, as Linux's posix_locks_deadlock.
 */
#include "lock.h"

#include "file.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/wait.h>
#include <lib/list.h>

#define LOCK_DEADLOCK_STEPS 10 /* Linux's MAX_DEADLK_ITERATIONS */

struct lock_rec {
	struct list_node node; /* in lock_list */
	uint64_t key;	       /* the file (lock_key) */
	enum lock_kind kind;
	const void *owner;
	int32_t pid;	       /* the process that set it; -1 for OFD and flock */
	int type;	       /* F_RDLCK or F_WRLCK */
	int64_t start, end;    /* inclusive */
};

/* A POSIX owner asleep in lock_set, and the owner it waits for. */
struct lock_waiter {
	struct list_node node; /* in lock_waiters */
	const void *owner;
	const void *blocker;
};

/* Everything below is under lock_wq.lock. */
static struct waitq lock_wq = {
	.lock = SPINLOCK_INIT("locks"),
	.waiters = LIST_HEAD_INIT(lock_wq.waiters),
};
static struct list_node lock_list = LIST_HEAD_INIT(lock_list);
static struct list_node lock_waiters = LIST_HEAD_INIT(lock_waiters);
static unsigned lock_count; /* records in lock_list; read without the lock
			       (a close racing with a set of another fd
			       table needs no care: it is not that owner) */

/* The file a lock lies on: the storage inode of a regular file or a
 * directory (every open of it alike), else the open file itself (top bit
 * set: never an inode number). */
static uint64_t lock_key(const struct file *f)
{
	return f->ino ? f->ino : (uint64_t)(uintptr_t)f | (1ull << 63);
}

/* Whether two kinds share a name space (flock has its own). */
static bool kinds_meet(enum lock_kind a, enum lock_kind b)
{
	return (a == LOCK_FLOCK) == (b == LOCK_FLOCK);
}

static bool overlaps(const struct lock_rec *l, int64_t start, int64_t end)
{
	return l->start <= end && start <= l->end;
}

/* The first record of another owner that conflicts with type over
 * [start, end] of key for kind, or NULL. lock_wq.lock held. */
static struct lock_rec *find_conflict_locked(uint64_t key, enum lock_kind kind,
					     const void *owner, int type, int64_t start,
					     int64_t end)
{
	struct list_node *n;

	list_for_each(n, &lock_list) {
		struct lock_rec *l = list_entry(n, struct lock_rec, node);

		if (l->key != key || !kinds_meet(l->kind, kind) ||
		    (l->owner == owner && l->kind == kind) || !overlaps(l, start, end))
			continue;
		if (l->type == F_WRLCK || type == F_WRLCK)
			return l;
	}
	return NULL;
}

/* Whether owner waiting for blocker would close a cycle of waiting POSIX
 * owners. lock_wq.lock held. */
static bool would_deadlock_locked(const void *owner, const void *blocker)
{
	for (unsigned step = 0; step < LOCK_DEADLOCK_STEPS; step++) {
		const void *next = NULL;
		struct list_node *n;

		if (blocker == owner)
			return true;
		list_for_each(n, &lock_waiters) {
			struct lock_waiter *w = list_entry(n, struct lock_waiter, node);

			if (w->owner == blocker) {
				next = w->blocker;
				break;
			}
		}
		if (!next)
			return false;
		blocker = next;
	}
	return false;
}

static void rec_remove_locked(struct lock_rec *l, struct list_node *freed)
{
	list_remove(&l->node);
	list_push_back(freed, &l->node);
	lock_count--;
}

/*
 * Cuts [*start, *end] out of owner's records of kind on key; records of
 * type that overlap or touch the range are absorbed into it (the range
 * grows). A record covering the range on both sides keeps its first part
 * and *spare (taken: *spare set to NULL) becomes its second. Records
 * that go are moved to freed. lock_wq.lock held.
 */
static void cut_range_locked(uint64_t key, enum lock_kind kind, const void *owner, int type,
			     int64_t *start, int64_t *end, struct lock_rec **spare,
			     struct list_node *freed)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &lock_list) {
		struct lock_rec *l = list_entry(n, struct lock_rec, node);
		bool touches = (*start > 0 && l->end == *start - 1) ||
			       (*end < LOCK_EOF && l->start == *end + 1);

		if (l->key != key || l->kind != kind || l->owner != owner)
			continue;
		if (l->type == type && (overlaps(l, *start, *end) || touches)) {
			*start = l->start < *start ? l->start : *start;
			*end = l->end > *end ? l->end : *end;
			rec_remove_locked(l, freed);
		} else if (!overlaps(l, *start, *end)) {
			continue;
		} else if (l->start < *start && l->end > *end) {
			struct lock_rec *second = *spare;

			*spare = NULL;
			*second = *l;
			second->start = *end + 1;
			l->end = *start - 1;
			list_push_back(&lock_list, &second->node);
			lock_count++;
		} else if (l->start < *start) {
			l->end = *start - 1;
		} else if (l->end > *end) {
			l->start = *end + 1;
		} else {
			rec_remove_locked(l, freed);
		}
	}
}

static void free_recs(struct list_node *freed)
{
	struct list_node *n;

	while ((n = list_pop_front(freed)))
		kfree(list_entry(n, struct lock_rec, node));
}

/* The set itself, no conflict left: cut, then insert *rec (taken) unless
 * unlocking, and wake the waiters. lock_wq.lock held. */
static void apply_locked(struct lock_rec **rec, struct lock_rec **spare,
			 struct list_node *freed)
{
	struct lock_rec *l = *rec;

	cut_range_locked(l->key, l->kind, l->owner, l->type, &l->start, &l->end, spare,
			 freed);
	if (l->type != F_UNLCK) {
		list_push_back(&lock_list, &l->node);
		lock_count++;
		*rec = NULL;
	}
	waitq_wake_all_locked(&lock_wq);
}

/* flock's conversion: owner's flock lock on key goes before a conflict
 * is looked for (Linux's flock_lock_inode). lock_wq.lock held. */
static void flock_drop_locked(uint64_t key, const void *owner, struct list_node *freed)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &lock_list) {
		struct lock_rec *l = list_entry(n, struct lock_rec, node);

		if (l->key == key && l->kind == LOCK_FLOCK && l->owner == owner)
			rec_remove_locked(l, freed);
	}
	waitq_wake_all_locked(&lock_wq);
}

/* Sleeps until the table changes, listed as waiting for blocker (POSIX).
 * 0, -EINTR or -EDEADLK. lock_wq.lock held. */
static int wait_locked(enum lock_kind kind, const void *owner, const void *blocker)
{
	struct lock_waiter w = {.owner = owner, .blocker = blocker};
	int err;

	if (kind == LOCK_POSIX) {
		if (would_deadlock_locked(owner, blocker))
			return -EDEADLK;
		list_push_back(&lock_waiters, &w.node);
	}
	err = waitq_wait_intr_locked(&lock_wq, 0);
	if (kind == LOCK_POSIX)
		list_remove(&w.node);
	return err;
}

int lock_set(struct file *f, enum lock_kind kind, const void *owner, int32_t pid,
	     const struct lock_range *r, bool wait)
{
	struct lock_rec *rec = kzalloc(sizeof(*rec)), *spare = kzalloc(sizeof(*spare));
	struct list_node freed;
	int err = rec && spare ? 0 : -ENOMEM;

	list_init(&freed);
	if (err)
		goto free_recs;
	*rec = (struct lock_rec){.key = lock_key(f), .kind = kind, .owner = owner,
				 .pid = kind == LOCK_POSIX ? pid : -1, .type = r->type,
				 .start = r->start, .end = r->end};
	spin_lock(&lock_wq.lock);
	if (kind == LOCK_FLOCK)
		flock_drop_locked(rec->key, owner, &freed);
	while (!err && rec->type != F_UNLCK) {
		struct lock_rec *c = find_conflict_locked(rec->key, kind, owner, rec->type,
							  rec->start, rec->end);

		if (!c)
			break;
		err = wait ? wait_locked(kind, owner, c->owner) : -EAGAIN;
	}
	if (!err)
		apply_locked(&rec, &spare, &freed);
	spin_unlock(&lock_wq.lock);
free_recs:
	kfree(rec);
	kfree(spare);
	free_recs(&freed);
	return err;
}

int lock_test(struct file *f, enum lock_kind kind, const void *owner, struct lock_range *r)
{
	struct lock_rec *c;

	spin_lock(&lock_wq.lock);
	c = find_conflict_locked(lock_key(f), kind, owner, r->type, r->start, r->end);
	if (c) {
		r->type = c->type;
		r->start = c->start;
		r->end = c->end;
		r->pid = c->pid;
	} else {
		r->type = F_UNLCK;
	}
	spin_unlock(&lock_wq.lock);
	return 0;
}

/* Removes the records for which drop(l, arg) is true, waking the waiters
 * if any went. */
static void drop_where(bool (*drop)(const struct lock_rec *l, const void *arg),
		       const void *arg)
{
	struct list_node freed, *n, *tmp;

	if (!__atomic_load_n(&lock_count, __ATOMIC_RELAXED))
		return;
	list_init(&freed);
	spin_lock(&lock_wq.lock);
	list_for_each_safe(n, tmp, &lock_list) {
		struct lock_rec *l = list_entry(n, struct lock_rec, node);

		if (drop(l, arg))
			rec_remove_locked(l, &freed);
	}
	if (!list_empty(&freed))
		waitq_wake_all_locked(&lock_wq);
	spin_unlock(&lock_wq.lock);
	free_recs(&freed);
}

struct lock_close {
	const struct fd_table *t;
	uint64_t key;
};

static bool posix_of_table(const struct lock_rec *l, const void *arg)
{
	const struct lock_close *c = arg;

	return l->kind == LOCK_POSIX && l->owner == c->t && l->key == c->key;
}

void lock_fd_closed(const struct fd_table *t, struct file *f)
{
	struct lock_close c = {.t = t, .key = lock_key(f)};

	drop_where(posix_of_table, &c);
}

/* f's own locks, and anything left on f itself as a key. */
static bool of_file(const struct lock_rec *l, const void *arg)
{
	const struct file *f = arg;

	return (l->kind != LOCK_POSIX && l->owner == f) ||
	       (!f->ino && l->key == lock_key(f));
}

void lock_file_gone(struct file *f)
{
	drop_where(of_file, f);
}

/* ---- self tests ------------------------------------------------------------------------ */

#include <kernel/ktest.h>

static const struct file_ops ktest_lock_ops;

/* A lock of owner over [start, end] of type on f, without waiting. */
static int ktest_set(struct file *f, enum lock_kind kind, const void *owner, int type,
		     int64_t start, int64_t end)
{
	struct lock_range r = {.type = type, .start = start, .end = end};

	return lock_set(f, kind, owner, 7, &r, false);
}

/* lock_test of owner for a write lock over [start, end]: the first
 * conflicting range into *r. */
static void ktest_probe(struct file *f, const void *owner, int64_t start, int64_t end,
			struct lock_range *r)
{
	*r = (struct lock_range){.type = F_WRLCK, .start = start, .end = end};
	lock_test(f, LOCK_POSIX, owner, r);
}

KTEST(lock_table)
{
	static int a, b, c; /* owners */
	struct file *f = file_alloc(&ktest_lock_ops, O_RDWR, NULL, NULL);
	struct lock_waiter w = {.owner = &a, .blocker = &b};
	struct lock_range r;

	KT_ASSERT(f != NULL);
	/* split by an unlock in the middle, then merged again */
	KT_EXPECT_EQ(ktest_set(f, LOCK_POSIX, &a, F_WRLCK, 0, 99), 0);
	KT_EXPECT_EQ(ktest_set(f, LOCK_POSIX, &a, F_UNLCK, 40, 59), 0);
	KT_EXPECT_EQ(lock_count, 2);
	ktest_probe(f, &b, 50, LOCK_EOF, &r);
	KT_EXPECT(r.type == F_WRLCK && r.start == 60 && r.end == 99 && r.pid == 7);
	KT_EXPECT_EQ(ktest_set(f, LOCK_POSIX, &b, F_RDLCK, 40, 59), 0); /* the hole */
	KT_EXPECT_EQ(ktest_set(f, LOCK_POSIX, &b, F_RDLCK, 39, 39), -EAGAIN);
	KT_EXPECT_EQ(ktest_set(f, LOCK_POSIX, &b, F_UNLCK, 0, LOCK_EOF), 0);
	KT_EXPECT_EQ(ktest_set(f, LOCK_POSIX, &a, F_WRLCK, 40, 59), 0);
	KT_EXPECT_EQ(lock_count, 1); /* touching write locks merged */
	ktest_probe(f, &b, 0, LOCK_EOF, &r);
	KT_EXPECT(r.start == 0 && r.end == 99);
	/* a type change in the middle: three records */
	KT_EXPECT_EQ(ktest_set(f, LOCK_POSIX, &a, F_RDLCK, 10, 19), 0);
	KT_EXPECT_EQ(lock_count, 3);
	KT_EXPECT_EQ(ktest_set(f, LOCK_POSIX, &b, F_RDLCK, 10, 19), 0);
	KT_EXPECT_EQ(ktest_set(f, LOCK_POSIX, &b, F_UNLCK, 0, LOCK_EOF), 0);

	/* flock: its own name space; per owner, converted */
	KT_EXPECT_EQ(ktest_set(f, LOCK_FLOCK, &c, F_WRLCK, 0, LOCK_EOF), 0);
	KT_EXPECT_EQ(ktest_set(f, LOCK_FLOCK, &b, F_RDLCK, 0, LOCK_EOF), -EAGAIN);
	KT_EXPECT_EQ(ktest_set(f, LOCK_FLOCK, &c, F_RDLCK, 0, LOCK_EOF), 0);
	KT_EXPECT_EQ(ktest_set(f, LOCK_FLOCK, &b, F_RDLCK, 0, LOCK_EOF), 0);

	/* a cycle: a waits for b (listed by hand), b would wait for a */
	spin_lock(&lock_wq.lock);
	list_push_back(&lock_waiters, &w.node);
	spin_unlock(&lock_wq.lock);
	{
		struct lock_range want = {.type = F_WRLCK, .start = 0, .end = 0};

		KT_EXPECT_EQ(lock_set(f, LOCK_POSIX, &b, 8, &want, true), -EDEADLK);
	}
	spin_lock(&lock_wq.lock);
	list_remove(&w.node);
	spin_unlock(&lock_wq.lock);

	/* a close of the owner's fd drops its POSIX locks only */
	lock_fd_closed((const struct fd_table *)&a, f);
	ktest_probe(f, &b, 0, LOCK_EOF, &r);
	KT_EXPECT_EQ(r.type, F_UNLCK);
	KT_EXPECT_EQ(lock_count, 2); /* the two flock locks */
	lock_file_gone(f);	     /* its own key: every lock on it goes */
	KT_EXPECT_EQ(lock_count, 0);
	file_put(f);
}
