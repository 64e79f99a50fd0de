/*
 * Pipes (pipe(2), pipe2(2)): a ring buffer of PIPE_SIZE bytes in this
 * kernel with a read end and a write end, each a struct file
 * (pcomponent/file.h).
 *
 * Everything of a pipe is under its wait queue's lock, which is never
 * held while user memory is touched (a copy may take an ExCache miss and
 * sleep). So data goes through a bounce buffer per end: a reader takes
 * the read token (one reader at a time), copies a chunk out of the ring
 * into its bounce buffer under the lock, copies it to user memory
 * without it, and only then consumes it, so a bad buffer (-EFAULT)
 * loses nothing; it repeats while bytes are there, so a read returns
 * everything available up to its length, as on Linux. A writer takes
 * the write token for its whole call, so the writes of two processes
 * never interleave; one of at most
 * PIPE_BUF bytes is atomic (it waits for room for all of it), as POSIX
 * requires.
 *
 * Linux's rules: a read of an empty pipe sleeps while a writer exists
 * and returns 0 (end of file) once none does; a write with no reader
 * left sends SIGPIPE to the writer and fails with -EPIPE. O_NONBLOCK
 * turns sleeps into -EAGAIN (or the bytes moved so far). Sleeps are
 * interruptible: -EINTR, or the bytes moved so far. Every change of
 * readiness calls file_poll_event() for poll and select.
 */
#include "pipe.h"

#include "file.h"
#include "process.h"
#include "signal.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/uspace.h>
#include <kernel/wait.h>
#include <lib/string.h>

#define PIPE_SIZE	(64u * 1024) /* bytes of the ring, as Linux's default */
#define PIPE_BUF	4096u	     /* writes up to this size are atomic */
#define PIPE_BOUNCE	4096u	     /* bytes per copy through a bounce buffer */
#define PIPE_RING_ORDER 4	     /* pages of the ring: 2^4 * 4 KiB */

struct pipe {
	struct waitq wq; /* its lock guards every field below */
	uint8_t *ring;	 /* PIPE_SIZE bytes */
	uint32_t head;	 /* index of the oldest byte */
	uint32_t len;	 /* bytes in the ring */
	unsigned readers, writers; /* open ends */
	bool reading, writing;	   /* the tokens */
	uint8_t rbounce[PIPE_BOUNCE]; /* the reader's, with the token */
	uint8_t wbounce[PIPE_BOUNCE]; /* the writer's, with the token */
	uint64_t ino;		      /* for fstat */
	uint64_t gen;		      /* moves with every change (epoll's edges) */
};

static uint64_t next_ino = 1; /* atomic */

static uint32_t min_u32(uint64_t a, uint64_t b)
{
	return (uint32_t)(a < b ? a : b);
}

/* Copies n bytes from the ring at offset off (from head) into dst. */
static void ring_peek(const struct pipe *pp, uint32_t off, uint8_t *dst, uint32_t n)
{
	uint32_t at = (pp->head + off) % PIPE_SIZE;
	uint32_t first = min_u32(n, PIPE_SIZE - at);

	memcpy(dst, pp->ring + at, first);
	memcpy(dst + first, pp->ring, n - first);
}

static void ring_put(struct pipe *pp, const uint8_t *src, uint32_t n)
{
	uint32_t at = (pp->head + pp->len) % PIPE_SIZE;
	uint32_t first = min_u32(n, PIPE_SIZE - at);

	memcpy(pp->ring + at, src, first);
	memcpy(pp->ring, src + first, n - first);
	pp->len += n;
}

/* Sleeps on the pipe for a change; 0, or -EINTR. Lock held. */
static int pipe_sleep(struct pipe *pp)
{
	return waitq_wait_intr_locked(&pp->wq, 0) == -EINTR ? -EINTR : 0;
}

/* Wakes the pipe's sleepers and every poller. Lock held. */
static void pipe_changed_locked(struct pipe *pp)
{
	pp->gen++;
	waitq_wake_all_locked(&pp->wq);
}

static uint64_t pipe_poll_gen(struct file *f)
{
	struct pipe *pp = f->priv;
	uint64_t gen;

	spin_lock(&pp->wq.lock);
	gen = pp->gen;
	spin_unlock(&pp->wq.lock);
	return gen;
}

/* Takes a token (reading or writing) sleeping while another holds it. */
static int take_token(struct pipe *pp, bool *token)
{
	int err = 0;

	while (*token && !err)
		err = pipe_sleep(pp);
	if (!err)
		*token = true;
	return err;
}

/* ---- the read end ---------------------------------------------------------- */

/* Waits until bytes are there (1), or end of file (0), or an error. */
static int wait_readable(struct file *f, struct pipe *pp)
{
	while (pp->len == 0) {
		if (pp->writers == 0)
			return 0;
		if (f->flags & O_NONBLOCK)
			return -EAGAIN;
		if (pipe_sleep(pp))
			return -EINTR;
	}
	return 1;
}

/*
 * Reads what is there, up to len, as Linux does: it sleeps only while the
 * pipe is empty, then moves bounce-buffer chunks until len is reached or
 * the pipe is empty again. A fault on a later chunk returns the bytes
 * already moved.
 */
static long pipe_read(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	struct pipe *pp = f->priv;
	uint64_t done = 0;
	long ret;

	if (len == 0)
		return 0;
	spin_lock(&pp->wq.lock);
	ret = take_token(pp, &pp->reading);
	if (ret)
		goto unlock;
	ret = wait_readable(f, pp);
	while (ret > 0 && done < len && pp->len) {
		uint32_t n = min_u32(min_u32(len - done, pp->len), PIPE_BOUNCE);

		ring_peek(pp, 0, pp->rbounce, n);
		spin_unlock(&pp->wq.lock);
		if (copy_to_user(ubuf + done, pp->rbounce, n))
			n = 0; /* nothing consumed */
		spin_lock(&pp->wq.lock);
		if (n == 0) {
			ret = -EFAULT;
			break;
		}
		pp->head = (pp->head + n) % PIPE_SIZE;
		pp->len -= n;
		done += n;
		pipe_changed_locked(pp);
	}
	pp->reading = false;
	pipe_changed_locked(pp);
unlock:
	spin_unlock(&pp->wq.lock);
	if (done)
		file_poll_event();
	return done ? (long)done : ret;
}

static unsigned pipe_read_poll(struct file *f)
{
	struct pipe *pp = f->priv;
	unsigned mask = 0;

	spin_lock(&pp->wq.lock);
	if (pp->len)
		mask |= POLLIN;
	if (pp->writers == 0)
		mask |= POLLHUP;
	spin_unlock(&pp->wq.lock);
	return mask;
}

/* ---- the write end ----------------------------------------------------------- */

long pipe_epipe(void)
{
	struct process *p = process_current();

	if (p) {
		struct signal_info si = {.signo = SIGPIPE, .code = SI_USER, .pid = p->pid};

		signal_send_thread(p, process_self(p)->tid, &si); /* the writer's, as Linux */
	}
	return -EPIPE;
}

/*
 * Puts the n bytes of the bounce buffer into the ring, waiting for room:
 * all of them at once if whole (a write of at most PIPE_BUF), else as
 * they fit. Returns the bytes put (n, or fewer before an error), with
 * *err the error that stopped it. Lock held.
 */
static uint32_t put_bounce(struct file *f, struct pipe *pp, uint32_t n, bool whole, long *err)
{
	uint32_t put = 0;

	*err = 0;
	while (put < n) {
		uint32_t room = PIPE_SIZE - pp->len;
		uint32_t k = min_u32(room, n - put);

		if (pp->readers == 0) {
			*err = -EPIPE;
			break;
		}
		if (k && (!whole || room >= n)) {
			ring_put(pp, pp->wbounce + put, k);
			put += k;
			pipe_changed_locked(pp);
			continue;
		}
		if (f->flags & O_NONBLOCK) {
			*err = -EAGAIN;
			break;
		}
		if (pipe_sleep(pp)) {
			*err = -EINTR;
			break;
		}
	}
	return put;
}

static long pipe_write(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	struct pipe *pp = f->priv;
	bool whole = len <= PIPE_BUF;
	uint64_t done = 0;
	long err;

	if (len == 0)
		return 0;
	spin_lock(&pp->wq.lock);
	err = take_token(pp, &pp->writing);
	spin_unlock(&pp->wq.lock);
	if (err)
		return err;
	while (done < len && !err) {
		uint32_t n = min_u32(len - done, PIPE_BOUNCE), put;

		if (copy_from_user(pp->wbounce, ubuf + done, n)) {
			err = -EFAULT;
			break;
		}
		spin_lock(&pp->wq.lock);
		put = put_bounce(f, pp, n, whole, &err);
		spin_unlock(&pp->wq.lock);
		if (put)
			file_poll_event();
		done += put;
	}
	spin_lock(&pp->wq.lock);
	pp->writing = false;
	pipe_changed_locked(pp);
	spin_unlock(&pp->wq.lock);
	if (err == -EPIPE)
		err = pipe_epipe();
	return done ? (long)done : err;
}

static unsigned pipe_write_poll(struct file *f)
{
	struct pipe *pp = f->priv;
	unsigned mask = 0;

	spin_lock(&pp->wq.lock);
	if (PIPE_SIZE - pp->len >= PIPE_BUF)
		mask |= POLLOUT;
	if (pp->readers == 0)
		mask |= POLLERR;
	spin_unlock(&pp->wq.lock);
	return mask;
}

/* ---- both ends --------------------------------------------------------------- */

static int pipe_stat(struct file *f, struct fs_attr *attr)
{
	struct pipe *pp = f->priv;

	memset(attr, 0, sizeof(*attr));
	attr->ino = pp->ino;
	attr->mode = FS_S_IFIFO | 0600;
	attr->nlink = 1;
	attr->blksize = PIPE_BUF;
	return 0;
}

/* Closes one end (*ends is readers or writers); the last frees the pipe. */
static void pipe_close_end(struct pipe *pp, unsigned *ends)
{
	bool last;

	spin_lock(&pp->wq.lock);
	(*ends)--;
	last = pp->readers == 0 && pp->writers == 0;
	pipe_changed_locked(pp);
	spin_unlock(&pp->wq.lock);
	file_poll_event();
	if (last) {
		page_free(pp->ring, PIPE_RING_ORDER);
		kfree(pp);
	}
}

static void pipe_read_release(struct file *f)
{
	struct pipe *pp = f->priv;

	pipe_close_end(pp, &pp->readers);
}

static void pipe_write_release(struct file *f)
{
	struct pipe *pp = f->priv;

	pipe_close_end(pp, &pp->writers);
}

static const struct file_ops pipe_read_ops = {
	.read = pipe_read,
	.poll = pipe_read_poll,
	.poll_gen = pipe_poll_gen,
	.stat = pipe_stat,
	.seek = file_no_seek,
	.release = pipe_read_release,
};

static const struct file_ops pipe_write_ops = {
	.write = pipe_write,
	.poll = pipe_write_poll,
	.poll_gen = pipe_poll_gen,
	.stat = pipe_stat,
	.seek = file_no_seek,
	.release = pipe_write_release,
};

/* A pipe with both ends open, as two files (one reference each). */
static int pipe_create(unsigned flags, struct file **rd, struct file **wr)
{
	struct pipe *pp = kzalloc(sizeof(*pp));

	if (!pp)
		return -ENOMEM;
	pp->ring = page_alloc(PIPE_RING_ORDER);
	if (!pp->ring)
		goto free_pipe;
	waitq_init(&pp->wq, "pipe");
	pp->ino = __atomic_fetch_add(&next_ino, 1, __ATOMIC_RELAXED);
	pp->readers = pp->writers = 1;
	*rd = file_alloc(&pipe_read_ops, O_RDONLY | (flags & O_NONBLOCK), NULL, pp);
	if (!*rd)
		goto free_ring;
	*wr = file_alloc(&pipe_write_ops, O_WRONLY | (flags & O_NONBLOCK), NULL, pp);
	if (!*wr) {
		file_put(*rd); /* frees the read end only: a writer is counted */
		goto free_ring;
	}
	return 0;
free_ring:
	page_free(pp->ring, PIPE_RING_ORDER);
free_pipe:
	kfree(pp);
	return -ENOMEM;
}

long sys_pipe2(struct process *p, const uint64_t *a)
{
	unsigned flags = (unsigned)a[1];
	struct file *rd, *wr;
	int fds[2], err;

	if (a[1] & ~(uint64_t)(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
		return -EINVAL;
	if (flags & O_DIRECT)
		return -EINVAL; /* packet mode: not supported */
	err = pipe_create(flags, &rd, &wr);
	if (err)
		return err;
	fds[0] = fd_install(p->files, rd, 0, flags & O_CLOEXEC);
	if (fds[0] < 0) {
		file_put(wr);
		return fds[0];
	}
	fds[1] = fd_install(p->files, wr, 0, flags & O_CLOEXEC);
	if (fds[1] < 0) {
		file_put(fd_close(p->files, fds[0]));
		return fds[1];
	}
	if (copy_to_user(a[0], fds, sizeof(fds))) {
		file_put(fd_close(p->files, fds[0]));
		file_put(fd_close(p->files, fds[1]));
		return -EFAULT;
	}
	return 0;
}

long sys_pipe(struct process *p, const uint64_t *a)
{
	uint64_t b[6] = {a[0], 0};

	return sys_pipe2(p, b);
}
