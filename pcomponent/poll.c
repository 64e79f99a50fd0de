/*
 * poll, ppoll, select and pselect6 (pcomponent/poll.h) over the files'
 * poll ops and the node-wide event count of pcomponent/file.h.
 *
 * One pass asks every file what it is ready for; if nothing asked for is
 * ready and time is left, the caller sleeps until the event count moves
 * (something somewhere changed: a pipe, the console), the timeout passes
 * or a signal interrupts, then asks again. Reading the count before the
 * pass means an event during the pass is never missed. A file without a
 * poll op is always ready to read and write, as Linux says of regular
 * files.
 *
 * Linux's rules kept: poll reports POLLNVAL for a closed fd and ignores
 * negative ones; select fails with EBADF on a closed fd in a set; select
 * and pselect6 write the remaining time back (select only: Linux's
 * pselect6 too; the libcs keep their copy). The signal masks of ppoll
 * and pselect6 hold during the wait (signal_wait_mask), as rt_sigsuspend's.
 */
#include "poll.h"

#include "file.h"
#include "process.h"
#include "signal.h"
#include "syscall.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <lib/string.h>

struct k_pollfd {
	int32_t fd;
	int16_t events;
	int16_t revents;
};

#define FDSET_WORDS ((FD_MAX + 63) / 64)

/* What fd is ready for now, among want (POLLERR, POLLHUP always count);
 * POLLNVAL if fd is not open. */
static unsigned ready_for(struct process *p, int fd, unsigned want)
{
	struct file *f = fd_get(p->files, fd);
	unsigned mask;

	if (!f)
		return POLLNVAL;
	mask = f->ops->poll ? f->ops->poll(f) : POLLIN | POLLOUT;
	file_put(f);
	return mask & (want | POLLERR | POLLHUP);
}

/* The deadline for a timeout of ns from now (UINT64_MAX: none); 0 stays
 * "do not wait" as the callers check it first. */
static uint64_t deadline_after(uint64_t ns)
{
	return ns == UINT64_MAX ? 0 : clock_ns() + ns;
}

long poll_wait_ready(long (*scan)(struct process *, void *), struct process *p, void *ctx,
		     uint64_t timeout_ns)
{
	uint64_t deadline = timeout_ns ? deadline_after(timeout_ns) : 0;

	for (;;) {
		uint64_t seq = file_poll_seq();
		long n = scan(p, ctx);
		int err;

		if (n != 0 || timeout_ns == 0)
			return n;
		if (deadline && clock_ns() >= deadline)
			return 0;
		err = file_poll_wait(seq, deadline);
		if (err == -EINTR) /* never restarted after a handler, as Linux */
			return -SIGNAL_ERESTARTNOHAND;
	}
}

/* ---- poll --------------------------------------------------------------------- */

struct poll_ctx {
	struct k_pollfd *fds;
	uint64_t n;
};

static long poll_scan(struct process *p, void *arg)
{
	struct poll_ctx *c = arg;
	long ready = 0;

	for (uint64_t i = 0; i < c->n; i++) {
		struct k_pollfd *pf = &c->fds[i];

		pf->revents = 0;
		if (pf->fd < 0)
			continue;
		pf->revents = (int16_t)ready_for(p, pf->fd, (uint16_t)pf->events);
		ready += pf->revents != 0;
	}
	return ready;
}

static long do_poll(struct process *p, uint64_t ufds, uint64_t nfds, uint64_t timeout_ns)
{
	struct poll_ctx c = {.n = nfds};
	size_t bytes = nfds * sizeof(struct k_pollfd);
	long ret;

	if (nfds > FD_MAX)
		return -EINVAL;
	c.fds = kmalloc(bytes ? bytes : 1);
	if (!c.fds)
		return -ENOMEM;
	ret = copy_from_user(c.fds, ufds, bytes) ? -EFAULT : 0;
	if (!ret)
		ret = poll_wait_ready(poll_scan, p, &c, timeout_ns);
	for (uint64_t i = 0; ret >= 0 && i < nfds; i++)
		if (copy_to_user(ufds + i * sizeof(struct k_pollfd) +
					 offsetof(struct k_pollfd, revents),
				 &c.fds[i].revents, sizeof(c.fds[i].revents)))
			ret = -EFAULT;
	kfree(c.fds);
	return ret;
}

long sys_poll(struct process *p, const uint64_t *a)
{
	int64_t ms = (int32_t)a[2];

	return do_poll(p, a[0], a[1], ms < 0 ? UINT64_MAX : (uint64_t)ms * NS_PER_MS);
}

/* A user timespec as nanoseconds (UINT64_MAX, "none", for NULL). */
static long timespec_ns(uint64_t uts, uint64_t *ns)
{
	*ns = UINT64_MAX;
	return uts ? syscall_get_timespec(uts, ns) : 0;
}

/* ppoll(fds, nfds, timeout, sigmask, sigsetsize) */
long sys_ppoll(struct process *p, const uint64_t *a)
{
	uint64_t ns;
	long err = timespec_ns(a[2], &ns);

	if (!err)
		err = signal_wait_mask(p, a[3], a[4]);
	if (err)
		return err;
	return do_poll(p, a[0], a[1], ns);
}

/* ---- select ------------------------------------------------------------------ */

struct select_ctx {
	int nfds;
	uint64_t in[3][FDSET_WORDS];  /* read, write, except: asked */
	uint64_t out[3][FDSET_WORDS]; /* ready */
};

static const unsigned select_want[3] = {
	POLLIN | POLLHUP | POLLERR,
	POLLOUT | POLLERR,
	POLLPRI,
};

static long select_scan(struct process *p, void *arg)
{
	struct select_ctx *c = arg;
	long ready = 0;

	memset(c->out, 0, sizeof(c->out));
	for (int fd = 0; fd < c->nfds; fd++) {
		uint64_t bit = 1ull << (fd % 64);
		unsigned asked = 0, mask;

		for (int s = 0; s < 3; s++)
			if (c->in[s][fd / 64] & bit)
				asked |= select_want[s];
		if (!asked)
			continue;
		mask = ready_for(p, fd, asked);
		if (mask & POLLNVAL)
			return -EBADF;
		for (int s = 0; s < 3; s++) {
			if ((c->in[s][fd / 64] & bit) && (mask & select_want[s])) {
				c->out[s][fd / 64] |= bit;
				ready++;
			}
		}
	}
	return ready;
}

/* The sets' bytes for nfds descriptors, as Linux copies them: whole
 * 64-bit words. */
static size_t set_bytes(int nfds)
{
	return (size_t)(nfds + 63) / 64 * 8;
}

static long do_select(struct process *p, int64_t nfds, const uint64_t usets[3],
		      uint64_t timeout_ns)
{
	struct select_ctx *c;
	size_t bytes;
	long ret = 0;

	if (nfds < 0 || nfds > INT32_MAX)
		return -EINVAL;
	c = kzalloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->nfds = nfds > FD_MAX ? FD_MAX : (int)nfds;
	bytes = set_bytes(c->nfds);
	for (int s = 0; s < 3 && !ret; s++)
		if (usets[s] && copy_from_user(c->in[s], usets[s], bytes))
			ret = -EFAULT;
	if (!ret)
		ret = poll_wait_ready(select_scan, p, c, timeout_ns);
	for (int s = 0; s < 3 && ret >= 0; s++)
		if (usets[s] && copy_to_user(usets[s], c->out[s], bytes))
			ret = -EFAULT;
	kfree(c);
	return ret;
}

/* Writes back what is left of the timeout that ended at deadline. */
static void time_left(uint64_t uptr, uint64_t deadline, bool timeval)
{
	uint64_t now = clock_ns(), left = deadline > now ? deadline - now : 0;
	struct k_timespec ts = {(int64_t)(left / NS_PER_S), (int64_t)(left % NS_PER_S)};

	if (timeval)
		ts.nsec /= 1000;
	(void)copy_to_user(uptr, &ts, sizeof(ts)); /* as Linux: ignored */
}

/* select(nfds, readfds, writefds, exceptfds, timeval) */
long sys_select(struct process *p, const uint64_t *a)
{
	const uint64_t sets[3] = {a[1], a[2], a[3]};
	uint64_t ns = UINT64_MAX, deadline;
	long ret;

	if (a[4]) {
		struct k_timespec tv; /* a timeval: seconds, microseconds */

		if (copy_from_user(&tv, a[4], sizeof(tv)))
			return -EFAULT;
		if (tv.sec < 0 || tv.nsec < 0)
			return -EINVAL;
		/* as Linux: whole seconds of the microseconds carried over */
		tv.sec += tv.nsec / 1000000;
		tv.nsec = tv.nsec % 1000000 * 1000;
		ns = syscall_timespec_ns(&tv);
	}
	deadline = ns == UINT64_MAX ? 0 : clock_ns() + ns;
	ret = do_select(p, (int64_t)a[0], sets, ns);
	if (a[4] && ret != -EFAULT)
		time_left(a[4], deadline, true);
	return ret;
}

/* pselect6(nfds, readfds, writefds, exceptfds, timespec, sigmask data) */
long sys_pselect6(struct process *p, const uint64_t *a)
{
	const uint64_t sets[3] = {a[1], a[2], a[3]};
	struct {
		uint64_t set, size; /* the sigmask and its size, as Linux passes them */
	} mask = {0, 0};
	uint64_t ns, deadline;
	long ret = timespec_ns(a[4], &ns);

	if (!ret && a[5] && copy_from_user(&mask, a[5], sizeof(mask)))
		ret = -EFAULT;
	if (!ret)
		ret = signal_wait_mask(p, mask.set, mask.size);
	if (ret)
		return ret;
	deadline = ns == UINT64_MAX ? 0 : clock_ns() + ns;
	ret = do_select(p, (int64_t)a[0], sets, ns);
	if (a[4] && ret != -EFAULT)
		time_left(a[4], deadline, false);
	return ret;
}
