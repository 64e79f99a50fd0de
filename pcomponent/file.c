/*
 * Open files and fd tables (pcomponent/file.h).
 *
 * A file's references are counted atomically; its offset and flags are
 * under its spinlock, held only to read or update them (never across a
 * call to the storage node: two threads reading one file at once may
 * both read from the same offset, as on Linux without f_pos locking for
 * non-regular files).
 *
 * An fd table is an array of FD_MAX slots under a spinlock, with a
 * close-on-exec bit per slot. Closing takes the file out of the slot
 * under the lock and puts it after: ops->release may sleep.
 */
#include "file.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/wait.h>
#include <lib/string.h>

struct fd_table {
	unsigned refs; /* atomic */
	struct spinlock lock;
	struct file *fd[FD_MAX];       /* lock */
	bool cloexec[FD_MAX];	       /* lock */
};

/* ---- files ---------------------------------------------------------------- */

struct file *file_alloc(const struct file_ops *ops, unsigned flags, const char *path,
			void *priv)
{
	struct file *f = kzalloc(sizeof(*f));

	if (!f)
		return NULL;
	if (path) {
		size_t n = strlen(path) + 1;

		f->path = kmalloc(n);
		if (!f->path) {
			kfree(f);
			return NULL;
		}
		memcpy(f->path, path, n);
	}
	f->ops = ops;
	f->refs = 1;
	f->flags = flags & ~O_CLOEXEC;
	f->priv = priv;
	spin_init(&f->lock, "file");
	return f;
}

struct file *file_get(struct file *f)
{
	__atomic_fetch_add(&f->refs, 1, __ATOMIC_RELAXED);
	return f;
}

void file_put(struct file *f)
{
	if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL))
		return;
	if (f->ops->release)
		f->ops->release(f);
	kfree(f->path);
	kfree(f);
}

long file_no_seek(struct file *f, int64_t off, int whence, uint64_t *pos)
{
	return -ESPIPE;
}

/* ---- fd tables ---------------------------------------------------------- */

struct fd_table *fd_table_create(void)
{
	struct fd_table *t = kzalloc(sizeof(*t));

	if (!t)
		return NULL;
	t->refs = 1;
	spin_init(&t->lock, "fd_table");
	return t;
}

struct fd_table *fd_table_fork(struct fd_table *t)
{
	struct fd_table *c = fd_table_create();

	if (!c)
		return NULL;
	spin_lock(&t->lock);
	for (int i = 0; i < FD_MAX; i++) {
		if (t->fd[i])
			c->fd[i] = file_get(t->fd[i]);
		c->cloexec[i] = t->cloexec[i];
	}
	spin_unlock(&t->lock);
	return c;
}

/* Closes the fds for which which(t, fd) is true. */
static void close_where(struct fd_table *t, bool (*which)(struct fd_table *, int))
{
	for (int i = 0; i < FD_MAX; i++) {
		struct file *f = NULL;

		spin_lock(&t->lock);
		if (t->fd[i] && which(t, i)) {
			f = t->fd[i];
			t->fd[i] = NULL;
			t->cloexec[i] = false;
		}
		spin_unlock(&t->lock);
		if (f)
			file_put(f);
	}
}

static bool every_fd(struct fd_table *t, int fd)
{
	return true;
}

static bool cloexec_fd(struct fd_table *t, int fd)
{
	return t->cloexec[fd];
}

void fd_table_put(struct fd_table *t)
{
	if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL))
		return;
	close_where(t, every_fd);
	kfree(t);
}

void fd_table_exec(struct fd_table *t)
{
	close_where(t, cloexec_fd);
}

int fd_install(struct fd_table *t, struct file *f, int min, bool cloexec)
{
	int fd = -EMFILE;

	spin_lock(&t->lock);
	for (int i = min < 0 ? 0 : min; i < FD_MAX; i++) {
		if (!t->fd[i]) {
			t->fd[i] = f;
			t->cloexec[i] = cloexec;
			fd = i;
			break;
		}
	}
	spin_unlock(&t->lock);
	if (fd < 0)
		file_put(f);
	return fd;
}

struct file *fd_remove(struct fd_table *t, int fd)
{
	struct file *f = NULL;

	if (fd < 0 || fd >= FD_MAX)
		return NULL;
	spin_lock(&t->lock);
	f = t->fd[fd];
	t->fd[fd] = NULL;
	t->cloexec[fd] = false;
	spin_unlock(&t->lock);
	return f;
}

struct file *fd_get(struct fd_table *t, int fd)
{
	struct file *f = NULL;

	if (fd < 0 || fd >= FD_MAX)
		return NULL;
	spin_lock(&t->lock);
	if (t->fd[fd])
		f = file_get(t->fd[fd]);
	spin_unlock(&t->lock);
	return f;
}

/* ---- readiness ------------------------------------------------------------- */

static struct waitq poll_wq = {
	.lock = SPINLOCK_INIT("file_poll"),
	.waiters = LIST_HEAD_INIT(poll_wq.waiters),
};
static uint64_t poll_seq; /* poll_wq.lock */

uint64_t file_poll_seq(void)
{
	uint64_t seq;

	spin_lock(&poll_wq.lock);
	seq = poll_seq;
	spin_unlock(&poll_wq.lock);
	return seq;
}

void file_poll_event(void)
{
	spin_lock(&poll_wq.lock);
	poll_seq++;
	waitq_wake_all_locked(&poll_wq);
	spin_unlock(&poll_wq.lock);
}

int file_poll_wait(uint64_t seq, uint64_t deadline_ns)
{
	int err = 0;

	spin_lock(&poll_wq.lock);
	while (poll_seq == seq && !err)
		err = waitq_wait_intr_locked(&poll_wq, deadline_ns);
	spin_unlock(&poll_wq.lock);
	return err;
}
