/*
 * epoll (pcomponent/epoll.h): epoll_create, epoll_create1, epoll_ctl,
 * epoll_wait, epoll_pwait, epoll_pwait2 over the files' poll ops and the
 * node-wide event count of pcomponent/file.h, like poll (poll.c, whose
 * wait loop it shares): no wait queue per file, no busy polling; a
 * waiter sleeps until something anywhere changes, the timeout passes or
 * a signal comes, then asks its files again.
 *
 * An epoll set is a file whose priv is a struct epoll: a list of items,
 * one per (open file description, fd) registered, as Linux keys them.
 * An item points at its file without a reference: the file's last
 * file_put calls epoll_file_gone (file.h's epolls count says whether any
 * set watches it), which takes it out of every set, so a watched file
 * closed by all its descriptors leaves the set as on Linux, and closing
 * a watched fd that another descriptor still holds does not. One lock,
 * epoll_lock, guards every set and item; a file's poll op is asked under
 * it (poll ops do not sleep and never take it), and the final file_put
 * of a watched file takes it before the file's release runs, so an item
 * listed under the lock always has a live file.
 *
 * Modes. Level-triggered: an item is reported while its file is ready
 * for something asked (EPOLLERR and EPOLLHUP always count).
 * Edge-triggered (EPOLLET): an item is reported when its file's
 * readiness changed since the last report: for files with a poll_gen op
 * (pipes, sockets) when that count moved (new data, room, a peer going)
 * and the file is ready, so each new arrival fires once, as on Linux;
 * for other files when a bit asked became ready. After ADD or MOD a ready
 * file fires once. EPOLLONESHOT: after one report the item is disarmed
 * until EPOLL_CTL_MOD. EPOLLEXCLUSIVE and EPOLLWAKEUP are accepted and
 * mean nothing (one waiter per set is usual; no suspend).
 *
 * Sets may watch sets (ready when an item of theirs would be reported)
 * to a depth of EPOLL_MAX_NESTS; a set cannot watch itself (EINVAL) or
 * one that watches it (ELOOP). The signal mask of epoll_pwait and
 * epoll_pwait2 holds during the wait (signal_wait_mask). At most
 * EPOLL_BATCH events are reported per call.
 */
#include "epoll.h"

#include "file.h"
#include "poll.h"
#include "process.h"
#include "signal.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <lib/list.h>
#include <lib/string.h>

/* Linux's numbers. */
#define EPOLLIN		0x001u
#define EPOLLOUT	0x004u
#define EPOLLERR	0x008u
#define EPOLLHUP	0x010u
#define EPOLLRDNORM	0x040u
#define EPOLLWRNORM	0x100u
#define EPOLLRDHUP	0x2000u
#define EPOLLEXCLUSIVE	(1u << 28)
#define EPOLLWAKEUP	(1u << 29)
#define EPOLLONESHOT	(1u << 30)
#define EPOLLET		(1u << 31)
#define EPOLL_MODES	(EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET)
#define EPOLL_CTL_ADD	1
#define EPOLL_CTL_DEL	2
#define EPOLL_CTL_MOD	3
#define EPOLL_MAX_NESTS 4
#define EPOLL_BATCH	1024 /* events per epoll_wait at most */

/* Linux x86-64's struct epoll_event: packed, 12 bytes. */
struct k_epoll_event {
	uint32_t events;
	uint64_t data;
} __attribute__((packed));
_Static_assert(sizeof(struct k_epoll_event) == 12, "struct epoll_event");

#define EP_MAX_EVENTS (INT32_MAX / (int64_t)sizeof(struct k_epoll_event))

struct epoll {
	struct list_node node;	/* in epoll_sets */
	struct list_node items; /* struct epitem */
};

struct epitem {
	struct list_node node; /* in its set's items */
	struct file *file;     /* watched; not counted (top comment) */
	int fd;		       /* as registered */
	uint32_t events;       /* asked, with the mode bits */
	uint64_t data;	       /* given back */
	bool disarmed;	       /* EPOLLONESHOT reported: nothing until MOD */
	bool fresh;	       /* EPOLLET: added or modified, not reported since */
	uint64_t gen;	       /* EPOLLET: the file's poll_gen at the last report */
	unsigned mask;	       /* EPOLLET without poll_gen: the mask last seen */
};

/* Guards every field of every set and item, and epoll_sets. */
static struct spinlock epoll_lock = SPINLOCK_INIT("epoll");
static struct list_node epoll_sets = LIST_HEAD_INIT(epoll_sets);

static const struct file_ops epoll_ops;

static bool set_ready_locked(struct epoll *ep, int depth);

/* What f is ready for now, as epoll's bits. Lock held. */
static unsigned file_mask_locked(struct file *f, int depth)
{
	unsigned mask;

	if (f->ops == &epoll_ops)
		return depth < EPOLL_MAX_NESTS && set_ready_locked(f->priv, depth + 1)
			       ? EPOLLIN | EPOLLRDNORM
			       : 0;
	mask = f->ops->poll(f);
	if (mask & EPOLLIN)
		mask |= EPOLLRDNORM;
	if (mask & EPOLLOUT)
		mask |= EPOLLWRNORM;
	return mask;
}

/*
 * The events to report for it now, 0 if none; with consume, the report
 * is made: the edge and one-shot state move on. Lock held.
 */
static unsigned item_events_locked(struct epitem *it, int depth, bool consume)
{
	unsigned mask, want = (it->events & ~EPOLL_MODES) | EPOLLERR | EPOLLHUP;
	bool has_gen = it->file->ops->poll_gen != NULL;
	uint64_t gen = 0;

	if (it->disarmed)
		return 0;
	mask = file_mask_locked(it->file, depth) & want;
	if (it->events & EPOLLET) {
		bool edge;

		if (has_gen) {
			gen = it->file->ops->poll_gen(it->file);
			edge = mask && (it->fresh || gen != it->gen);
		} else {
			edge = it->fresh ? mask != 0 : (mask & ~it->mask) != 0;
			if (consume || !mask)
				it->mask = mask; /* transitions are seen on every look */
		}
		if (!edge)
			return 0;
		if (consume) {
			it->gen = gen;
			it->fresh = false;
		}
	}
	if (mask && consume && (it->events & EPOLLONESHOT))
		it->disarmed = true;
	return mask;
}

/* Whether any item of ep would be reported now. Lock held. */
static bool set_ready_locked(struct epoll *ep, int depth)
{
	struct list_node *n;

	list_for_each(n, &ep->items)
		if (item_events_locked(list_entry(n, struct epitem, node), depth, false))
			return true;
	return false;
}

/* ---- the set as a file ---------------------------------------------------------- */

static unsigned epoll_poll(struct file *f)
{
	bool ready;

	spin_lock(&epoll_lock);
	ready = set_ready_locked(f->priv, 0);
	spin_unlock(&epoll_lock);
	return ready ? POLLIN : 0;
}

static int epoll_stat(struct file *f, struct fs_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->mode = 0600; /* an anonymous inode, as Linux's */
	attr->nlink = 1;
	attr->blksize = 4096;
	return 0;
}

/* Takes an item out of its set (the file's count down). Lock held. */
static void item_unlink_locked(struct epitem *it)
{
	list_remove(&it->node);
	__atomic_sub_fetch(&it->file->epolls, 1, __ATOMIC_ACQ_REL);
}

static void epoll_release(struct file *f)
{
	struct epoll *ep = f->priv;
	struct list_node gone = LIST_HEAD_INIT(gone), *n;

	spin_lock(&epoll_lock);
	while (!list_empty(&ep->items)) {
		struct epitem *it = list_entry(ep->items.next, struct epitem, node);

		item_unlink_locked(it);
		list_push_back(&gone, &it->node);
	}
	list_remove(&ep->node);
	spin_unlock(&epoll_lock);
	while ((n = list_pop_front(&gone)))
		kfree(list_entry(n, struct epitem, node));
	kfree(ep);
}

static const struct file_ops epoll_ops = {
	.poll = epoll_poll,
	.stat = epoll_stat,
	.seek = file_no_seek,
	.release = epoll_release,
};

void epoll_file_gone(struct file *f)
{
	struct list_node gone = LIST_HEAD_INIT(gone), *s, *n, *tmp;

	spin_lock(&epoll_lock);
	list_for_each(s, &epoll_sets) {
		struct epoll *ep = list_entry(s, struct epoll, node);

		list_for_each_safe(n, tmp, &ep->items) {
			struct epitem *it = list_entry(n, struct epitem, node);

			if (it->file != f)
				continue;
			item_unlink_locked(it);
			list_push_back(&gone, &it->node);
		}
	}
	spin_unlock(&epoll_lock);
	while ((n = list_pop_front(&gone)))
		kfree(list_entry(n, struct epitem, node));
}

/* ---- epoll_create ------------------------------------------------------------------ */

static long epoll_new(struct process *p, bool cloexec)
{
	struct epoll *ep = kzalloc(sizeof(*ep));
	struct file *f;

	if (!ep)
		return -ENOMEM;
	list_init(&ep->items);
	f = file_alloc(&epoll_ops, O_RDWR, NULL, ep);
	if (!f) {
		kfree(ep);
		return -ENOMEM;
	}
	spin_lock(&epoll_lock);
	list_push_back(&epoll_sets, &ep->node);
	spin_unlock(&epoll_lock);
	return fd_install(p->files, f, 0, cloexec);
}

/* epoll_create(size): size is a hint that must be positive. */
long sys_epoll_create(struct process *p, const uint64_t *a)
{
	if ((int32_t)a[0] <= 0)
		return -EINVAL;
	return epoll_new(p, false);
}

/* epoll_create1(flags): EPOLL_CLOEXEC only. */
long sys_epoll_create1(struct process *p, const uint64_t *a)
{
	if (a[0] & ~(uint64_t)O_CLOEXEC)
		return -EINVAL;
	return epoll_new(p, a[0] & O_CLOEXEC);
}

/* ---- epoll_ctl -------------------------------------------------------------------- */

/* ep's item for (f, fd), or NULL. Lock held. */
static struct epitem *item_find_locked(struct epoll *ep, struct file *f, int fd)
{
	struct list_node *n;

	list_for_each(n, &ep->items) {
		struct epitem *it = list_entry(n, struct epitem, node);

		if (it->file == f && it->fd == fd)
			return it;
	}
	return NULL;
}

/* Whether set from watches target, directly or through sets below it,
 * or is nested deeper than EPOLL_MAX_NESTS. Lock held. */
static bool watches_locked(struct epoll *from, struct epoll *target, int depth)
{
	struct list_node *n;

	if (from == target || depth > EPOLL_MAX_NESTS)
		return true;
	list_for_each(n, &from->items) {
		struct epitem *it = list_entry(n, struct epitem, node);

		if (it->file->ops == &epoll_ops && watches_locked(it->file->priv, target, depth + 1))
			return true;
	}
	return false;
}

/* (Re)arms it with the events of ev. Lock held. */
static void item_set_locked(struct epitem *it, const struct k_epoll_event *ev)
{
	it->events = ev->events | EPOLLERR | EPOLLHUP;
	it->data = ev->data;
	it->disarmed = false;
	it->fresh = true;
	it->mask = 0;
}

/* The operation on ep, with the item made ready for an ADD (taken over
 * or freed). 0 or -EEXIST, -ENOENT, -ELOOP, -EINVAL. */
static long ctl_locked(struct epoll *ep, int op, struct file *tf, int fd,
		       const struct k_epoll_event *ev, struct epitem **fresh)
{
	struct epitem *it = item_find_locked(ep, tf, fd);

	switch (op) {
	case EPOLL_CTL_ADD:
		if (it)
			return -EEXIST;
		if (tf->ops == &epoll_ops && watches_locked(tf->priv, ep, 1))
			return -ELOOP;
		it = *fresh;
		*fresh = NULL;
		it->file = tf;
		it->fd = fd;
		item_set_locked(it, ev);
		list_push_back(&ep->items, &it->node);
		__atomic_add_fetch(&tf->epolls, 1, __ATOMIC_ACQ_REL);
		return 0;
	case EPOLL_CTL_MOD:
		if (!it)
			return -ENOENT;
		if (it->events & EPOLLEXCLUSIVE)
			return -EINVAL;
		item_set_locked(it, ev);
		return 0;
	case EPOLL_CTL_DEL:
		if (!it)
			return -ENOENT;
		item_unlink_locked(it);
		*fresh = it; /* freed by the caller */
		return 0;
	}
	return -EINVAL;
}

/* The decoding checks of epoll_ctl, in Linux's order, once both files
 * are open. */
static long ctl_check(struct file *epf, struct file *tf, int op, const struct k_epoll_event *ev)
{
	if (!tf->ops->poll && tf->ops != &epoll_ops)
		return -EPERM; /* regular files, directories: always ready, as Linux */
	if (epf->ops != &epoll_ops || epf == tf)
		return -EINVAL;
	if (op != EPOLL_CTL_DEL && (ev->events & EPOLLEXCLUSIVE)) {
		if (op == EPOLL_CTL_MOD || tf->ops == &epoll_ops ||
		    (ev->events & ~(EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDNORM |
				    EPOLLWRNORM | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE)))
			return -EINVAL;
	}
	return 0;
}

/* epoll_ctl(epfd, op, fd, event) */
long sys_epoll_ctl(struct process *p, const uint64_t *a)
{
	int op = (int)a[1], fd = (int)a[2];
	struct k_epoll_event ev = {0};
	struct file *epf = NULL, *tf = NULL;
	struct epitem *fresh = NULL;
	long err = 0;

	if (op != EPOLL_CTL_DEL && copy_from_user(&ev, a[3], sizeof(ev)))
		return -EFAULT;
	if ((int)a[0] >= 0)
		epf = fd_get(p->files, (int)a[0]);
	if (fd >= 0)
		tf = fd_get(p->files, fd);
	if (!epf || !tf)
		err = -EBADF;
	if (!err)
		err = ctl_check(epf, tf, op, &ev);
	if (!err && op == EPOLL_CTL_ADD && !(fresh = kzalloc(sizeof(*fresh))))
		err = -ENOMEM;
	if (!err) {
		spin_lock(&epoll_lock);
		err = ctl_locked(epf->priv, op, tf, fd, &ev, &fresh);
		spin_unlock(&epoll_lock);
		file_poll_event(); /* a waiter may have something to report now */
	}
	kfree(fresh);
	if (tf)
		file_put(tf);
	if (epf)
		file_put(epf);
	return err;
}

/* ---- epoll_wait ------------------------------------------------------------------- */

struct wait_ctx {
	struct epoll *ep;
	struct k_epoll_event *out;
	int max;
};

/* poll_wait_ready's scan: the events to report, recorded (and consumed). */
static long wait_scan(struct process *p, void *arg)
{
	struct wait_ctx *c = arg;
	struct list_node *n;
	long got = 0;

	spin_lock(&epoll_lock);
	list_for_each(n, &c->ep->items) {
		struct epitem *it = list_entry(n, struct epitem, node);
		unsigned ev;

		if (got == c->max)
			break;
		ev = item_events_locked(it, 0, true);
		if (!ev)
			continue;
		c->out[got].events = ev;
		c->out[got].data = it->data;
		got++;
	}
	spin_unlock(&epoll_lock);
	return got;
}

/* epoll_wait's core: timeout_ns as poll_wait_ready takes it. */
static long epoll_wait_ns(struct process *p, uint64_t epfd, uint64_t uevents, int64_t max,
			  uint64_t timeout_ns)
{
	struct wait_ctx c;
	struct file *f;
	long n;

	if (max <= 0 || max > EP_MAX_EVENTS)
		return -EINVAL;
	f = epfd <= INT32_MAX ? fd_get(p->files, (int)epfd) : NULL;
	if (!f)
		return -EBADF;
	if (f->ops != &epoll_ops) {
		file_put(f);
		return -EINVAL;
	}
	c.ep = f->priv;
	c.max = max > EPOLL_BATCH ? EPOLL_BATCH : (int)max;
	c.out = kmalloc((size_t)c.max * sizeof(*c.out));
	n = c.out ? poll_wait_ready(wait_scan, p, &c, timeout_ns) : -ENOMEM;
	if (n > 0 && copy_to_user(uevents, c.out, (size_t)n * sizeof(*c.out)))
		n = -EFAULT;
	kfree(c.out);
	file_put(f);
	return n;
}

static uint64_t ms_timeout(uint64_t arg)
{
	int32_t ms = (int32_t)arg;

	return ms < 0 ? UINT64_MAX : (uint64_t)ms * NS_PER_MS;
}

/* epoll_wait(epfd, events, maxevents, timeout_ms) */
long sys_epoll_wait(struct process *p, const uint64_t *a)
{
	return epoll_wait_ns(p, a[0], a[1], (int32_t)a[2], ms_timeout(a[3]));
}

/* epoll_pwait(epfd, events, maxevents, timeout_ms, sigmask, sigsetsize) */
long sys_epoll_pwait(struct process *p, const uint64_t *a)
{
	long err = signal_wait_mask(p, a[4], a[5]);

	return err ? err : epoll_wait_ns(p, a[0], a[1], (int32_t)a[2], ms_timeout(a[3]));
}

/* epoll_pwait2(epfd, events, maxevents, timeout timespec, sigmask, sigsetsize) */
long sys_epoll_pwait2(struct process *p, const uint64_t *a)
{
	uint64_t ns = UINT64_MAX;
	long err = a[3] ? syscall_get_timespec(a[3], &ns) : 0;

	if (!err)
		err = signal_wait_mask(p, a[4], a[5]);
	if (err)
		return err;
	return epoll_wait_ns(p, a[0], a[1], (int32_t)a[2], ns);
}
