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
 *
 * The kinds of files made here (docs/processor.md, "Files and fds"):
 *  - regular files and directories of the storage node, by absolute path
 *    (the file service is stateless: a file renamed after its open is not
 *    followed; its I/O then fails with ENOENT). Data moves through a
 *    kernel bounce buffer of at most FILE_BOUNCE bytes per storage call;
 *    directory listings come one FS_GETDENTS per getdents64, whole
 *    records only, the server's cookie as the file position;
 *  - O_PATH files: a name for fstat, fchdir and *at calls;
 *  - the kernel's devices under /dev, and /dev itself as a listing;
 *  - /dev/tty (tty.c) and /proc, /sys (procfs.c) are only dispatched to.
 * file_open, file_stat_path and file_readlink_path choose by the path's
 * first component ("where a path lives").
 */
#include "file.h"

#include "epoll.h"
#include "lock.h"
#include "path.h"
#include "process.h"
#include "procfs.h"
#include "tty.h"

#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <kernel/wait.h>
#include <lib/sort.h>
#include <lib/string.h>
#include <net/bc_client.h>
#include <net/fs_client.h>

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
	if (__atomic_load_n(&f->epolls, __ATOMIC_ACQUIRE))
		epoll_file_gone(f);
	lock_file_gone(f);
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

/* t let go of an fd of f (taking over that reference): t's record locks
 * on f's file go (POSIX: at any close), then the reference. */
static void fd_closed(struct fd_table *t, struct file *f)
{
	lock_fd_closed(t, f);
	file_put(f);
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
			fd_closed(t, f);
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

struct file *fd_close(struct fd_table *t, int fd)
{
	struct file *f = NULL;

	if (fd < 0 || fd >= FD_MAX)
		return NULL;
	spin_lock(&t->lock);
	f = t->fd[fd];
	t->fd[fd] = NULL;
	t->cloexec[fd] = false;
	spin_unlock(&t->lock);
	if (f)
		lock_fd_closed(t, f);
	return f;
}

int fd_replace(struct fd_table *t, int fd, struct file *f, bool cloexec)
{
	struct file *old;

	if (fd < 0 || fd >= FD_MAX) {
		file_put(f);
		return -EBADF;
	}
	spin_lock(&t->lock);
	old = t->fd[fd];
	t->fd[fd] = f;
	t->cloexec[fd] = cloexec;
	spin_unlock(&t->lock);
	if (old)
		fd_closed(t, old);
	return fd;
}

int fd_cloexec_get(struct fd_table *t, int fd)
{
	int r = -EBADF;

	if (fd < 0 || fd >= FD_MAX)
		return r;
	spin_lock(&t->lock);
	if (t->fd[fd])
		r = t->cloexec[fd];
	spin_unlock(&t->lock);
	return r;
}

int fd_cloexec_set(struct fd_table *t, int fd, bool cloexec)
{
	int r = -EBADF;

	if (fd < 0 || fd >= FD_MAX)
		return r;
	spin_lock(&t->lock);
	if (t->fd[fd]) {
		t->cloexec[fd] = cloexec;
		r = 0;
	}
	spin_unlock(&t->lock);
	return r;
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

/* ---- random numbers --------------------------------------------------------- */

static struct spinlock rand_lock = SPINLOCK_INIT("file_random");
static uint64_t rand_state; /* rand_lock; 0 until first use */

uint64_t file_random_u64(void)
{
	uint64_t v;

	spin_lock(&rand_lock);
	if (!rand_state)
		rand_state = (clock_ns() * 0x9e3779b97f4a7c15ull) ^ wall_clock_ns() ^ 1;
	v = xorshift64(&rand_state);
	spin_unlock(&rand_lock);
	return v;
}

/* ---- where a path lives ---------------------------------------------------- */

enum file_place {
	PLACE_STORAGE, /* everything else: the storage node */
	PLACE_DEV,     /* "/dev" and below: this kernel's devices */
	PLACE_PROC,    /* "/proc", "/sys": procfs.c */
};

static enum file_place place_of(const char *abs)
{
	if (path_within(abs, "/dev"))
		return PLACE_DEV;
	if (path_within(abs, "/proc") || path_within(abs, "/sys"))
		return PLACE_PROC;
	return PLACE_STORAGE;
}

uint64_t file_st_dev(const char *abs)
{
	if (!abs)
		return 0xc; /* pipes, the console: Linux's anonymous kinds are small */
	if (path_within(abs, "/dev"))
		return 0x5;
	if (path_within(abs, "/proc"))
		return 0x14;
	if (path_within(abs, "/sys"))
		return 0x15;
	return 0x801; /* the storage node's disk (as sda1) */
}

uint16_t file_storage_node(void)
{
	return (uint16_t)kconfig.storage_id;
}

uint16_t file_cache_node(void)
{
	return kconfig.nmemories ? kconfig.memory_ids[0] : 0;
}

int file_cache_drop(void)
{
	uint16_t node = file_cache_node();

	return node ? bcc_forget(node, file_storage_node(), 0) : -ENODEV; /* inode 0: all */
}

int file_resolve(struct process *p, int dirfd, const char *upath, char *out)
{
	struct file *d;
	int err;

	if (upath[0] == '/' || !upath[0] || dirfd == AT_FDCWD)
		return path_join(p->fs.cwd, upath, out, FS_PATH_MAX);
	d = fd_get(p->files, dirfd);
	if (!d)
		return -EBADF;
	if (!d->path || !file_is_dir(d))
		err = -ENOTDIR;
	else
		err = path_join(d->path, upath, out, FS_PATH_MAX);
	file_put(d);
	return err;
}

/* ---- regular files and directories of the storage node ---------------------- */

#define FILE_BOUNCE (64u << 10) /* bytes staged per storage call */

/*
 * File data goes through the cache node (include/proto/bcache.h) when
 * there is one; a cache node that cannot serve the file (no cache there,
 * another storage node: -ENODEV, -EXDEV, -ENOSYS) sends it to the storage
 * node directly, as does a processor without memory nodes.
 */
static bool cache_refused(long r)
{
	return r == -ENODEV || r == -EXDEV || r == -ENOSYS;
}

static struct bc_target reg_target(const char *path, uint64_t ino, const struct fs_cred *cred)
{
	return (struct bc_target){.storage = file_storage_node(), .cred = cred, .path = path,
				  .ino = ino};
}

/* Up to len bytes of f at pos into kb: the count, 0 at the end. */
static long data_read(struct file *f, uint64_t pos, void *kb, size_t len)
{
	struct bc_target t = reg_target(f->path, f->ino, &fsc_root);
	uint16_t node = file_cache_node();
	long r;

	if (node) {
		r = bcc_read(node, &t, pos, kb, len);
		if (!cache_refused(r))
			return r;
	}
	return fsc_read(file_storage_node(), &fsc_root, f->path, pos, kb, len);
}

/* len bytes of kb to f at *pos, or at its end with append (atomically
 * through the cache node); *pos becomes the end of what was written. */
static long data_write(struct file *f, uint64_t *pos, const void *kb, size_t len,
		       bool append)
{
	struct bc_target t = reg_target(f->path, f->ino, &fsc_root);
	uint16_t node = file_cache_node();
	struct fs_attr attr;
	uint64_t at = *pos;
	long r;

	if (node) {
		r = bcc_write(node, &t, *pos, kb, len, append, &at);
		if (r > 0)
			*pos = at + (uint64_t)r;
		if (!cache_refused(r))
			return r;
	}
	if (append) {
		r = fsc_stat(file_storage_node(), &fsc_root, f->path, 0, 0, &attr);
		if (r)
			return r;
		*pos = attr.size;
	}
	r = fsc_write(file_storage_node(), &fsc_root, f->path, *pos, kb, len, 0);
	if (r > 0)
		*pos += (uint64_t)r;
	return r;
}

/* Truncates the regular file path (inode ino) to size, as cred. */
static int data_truncate(const char *path, uint64_t ino, uint64_t size,
			 const struct fs_cred *cred)
{
	struct bc_target t = reg_target(path, ino, cred);
	uint16_t node = file_cache_node();
	struct fs_attr attr;
	int err;

	if (node) {
		err = bcc_truncate(node, &t, size, &attr);
		if (!cache_refused(err))
			return err;
	}
	return fsc_truncate(file_storage_node(), cred, path, size, &attr);
}

static long reg_read(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	size_t done = 0;
	uint8_t *kb;
	long r = 0;

	if (!len)
		return 0;
	kb = kmalloc(len < FILE_BOUNCE ? len : FILE_BOUNCE);
	if (!kb)
		return -ENOMEM;
	while (done < len) {
		size_t chunk = len - done < FILE_BOUNCE ? len - done : FILE_BOUNCE;

		r = data_read(f, *pos, kb, chunk);
		if (r <= 0)
			break;
		if (copy_to_user(ubuf + done, kb, (size_t)r)) {
			r = -EFAULT;
			break;
		}
		done += (size_t)r;
		*pos += (uint64_t)r;
		if ((size_t)r < chunk)
			break;
	}
	kfree(kb);
	return done ? (long)done : r;
}

/* O_APPEND: every write at the end, pwrite too (as Linux); each
 * FILE_BOUNCE piece is one atomic append at the cache node. */
static long reg_write(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	bool append = __atomic_load_n(&f->flags, __ATOMIC_RELAXED) & O_APPEND;
	size_t done = 0;
	uint8_t *kb;
	long r = 0;

	if (!len)
		return 0;
	kb = kmalloc(len < FILE_BOUNCE ? len : FILE_BOUNCE);
	if (!kb)
		return -ENOMEM;
	while (done < len) {
		size_t chunk = len - done < FILE_BOUNCE ? len - done : FILE_BOUNCE;

		if (copy_from_user(kb, ubuf + done, chunk)) {
			r = -EFAULT;
			break;
		}
		r = data_write(f, pos, kb, chunk, append);
		if (r < 0)
			break;
		done += (size_t)r;
		if ((size_t)r < chunk)
			break;
	}
	kfree(kb);
	return done ? (long)done : r;
}

static int node_stat(struct file *f, struct fs_attr *attr)
{
	return fsc_stat(file_storage_node(), &fsc_root, f->path, 0, 0, attr);
}

int file_truncate_path(const char *abs, uint64_t size, const struct fs_cred *cred)
{
	struct fs_attr attr;
	int err = fsc_stat(file_storage_node(), cred, abs, 0, 0, &attr);

	/* not a regular file: the storage node says what (EISDIR, ...) */
	return err ? err : data_truncate(abs, attr.ino, size, cred);
}

/* ftruncate: the fd was opened for writing (checked by the caller), and
 * Linux checks permission at open only. */
static int reg_truncate(struct file *f, uint64_t size)
{
	return data_truncate(f->path, f->ino, size, &fsc_root);
}

static int node_fsync(struct file *f)
{
	return fsc_fsync(file_storage_node(), &fsc_root, f->path);
}

static long dir_read(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	return -EISDIR;
}

/* A linux_dirent64 record: header, then the NUL-ended name. */
struct dirent_head {
	uint64_t ino;
	int64_t off;
	uint16_t reclen;
	uint8_t type;
} __attribute__((packed));
#define DIRENT_NAME_OFF 19

/* Checks the record at off of a reply's data (bytes long): a header, a
 * length that is 8-aligned and inside, a NUL in the name. */
static bool dirent_ok(const uint8_t *data, uint32_t bytes, uint32_t off)
{
	struct dirent_head h;

	if (off + DIRENT_NAME_OFF > bytes)
		return false;
	memcpy(&h, data + off, sizeof(h));
	if (h.reclen <= DIRENT_NAME_OFF || (h.reclen & 7) || h.reclen > bytes - off)
		return false;
	return memchr(data + off + DIRENT_NAME_OFF, 0, h.reclen - DIRENT_NAME_OFF) != NULL;
}

/* Copies whole records of d from *pos on into ubuf (len bytes); *pos
 * becomes the cookie after the last record copied. */
static long dirents_copy(const struct fs_dirents *d, uint64_t ubuf, size_t len,
			 uint64_t *pos)
{
	uint32_t off = 0;
	size_t done = 0;

	while (off < d->bytes) {
		struct dirent_head h;

		if (!dirent_ok(d->data, d->bytes, off))
			return done ? (long)done : -EPROTO;
		memcpy(&h, d->data + off, sizeof(h));
		if (done + h.reclen > len)
			break;
		if (copy_to_user(ubuf + done, d->data + off, h.reclen))
			return done ? (long)done : -EFAULT;
		done += h.reclen;
		off += h.reclen;
		*pos = (uint64_t)h.off;
	}
	if (off >= d->bytes)
		*pos = d->next_cookie;
	if (!done && d->bytes)
		return -EINVAL; /* the first record does not fit */
	return (long)done;
}

static long dir_getdents(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	struct fs_dirents *d = kmalloc(sizeof(*d));
	long r = 0;

	if (!d)
		return -ENOMEM;
	/* an empty reply that is not the end: ask on (bounded) */
	for (int tries = 0; tries < 8; tries++) {
		uint64_t cookie = *pos;

		r = fsc_getdents(file_storage_node(), &fsc_root, f->path, &cookie, d);
		if (r)
			break;
		if (d->bytes || d->eof) {
			r = dirents_copy(d, ubuf, len, pos);
			break;
		}
		*pos = cookie;
	}
	kfree(d);
	return r;
}

/* Directories seek to a cookie (rewinddir, seekdir) or tell it. */
static long dir_seek(struct file *f, int64_t off, int whence, uint64_t *pos)
{
	if (whence == 0 && off >= 0) /* SEEK_SET */
		*pos = (uint64_t)off;
	else if (!(whence == 1 && off == 0)) /* SEEK_CUR 0: tell */
		return -EINVAL;
	return (long)*pos;
}

static const struct file_ops reg_ops = {
	.read = reg_read,
	.write = reg_write,
	.stat = node_stat,
	.truncate = reg_truncate,
	.fsync = node_fsync,
};

static const struct file_ops dir_ops = {
	.read = dir_read,
	.getdents = dir_getdents,
	.stat = node_stat,
	.seek = dir_seek,
	.fsync = node_fsync,
};

/* O_PATH files: a name only (fstat, fchdir, a dirfd); priv holds the
 * mode the file had at the open. */
static int opath_stat(struct file *f, struct fs_attr *attr)
{
	bool link = ((uint32_t)(uintptr_t)f->priv & FS_S_IFMT) == FS_S_IFLNK;

	return fsc_stat(file_storage_node(), &fsc_root, f->path, link ? FS_NOFOLLOW : 0, 0,
			attr);
}

static const struct file_ops opath_ops = {
	.stat = opath_stat,
	.seek = file_no_seek,
};

static bool is_dir_mode(uint32_t mode)
{
	return (mode & FS_S_IFMT) == FS_S_IFDIR;
}

bool file_is_dir(struct file *f)
{
	struct fs_attr attr;

	if (f->ops == &dir_ops)
		return true;
	if (f->ops == &opath_ops)
		return is_dir_mode((uint32_t)(uintptr_t)f->priv);
	if (f->ops == &reg_ops || !f->path || !f->ops->stat)
		return false;
	return f->ops->stat(f, &attr) == 0 && is_dir_mode(attr.mode);
}

int file_stat(struct file *f, struct fs_attr *attr)
{
	if (f->ops->stat)
		return f->ops->stat(f, attr);
	memset(attr, 0, sizeof(*attr));
	attr->mode = FS_S_IFCHR | 0620;
	attr->nlink = 1;
	attr->blksize = 1024;
	return 0;
}

/* The storage half of file_open, once O_NOFOLLOW and O_CREAT are done:
 * the file at abs with attributes attr, as flags asks (an O_TRUNC with
 * the opener's credentials cred). */
static int storage_file(const struct fs_cred *cred, const char *abs, unsigned flags,
			bool want_dir, const struct fs_attr *attr, struct file **out)
{
	unsigned acc = flags & O_ACCMODE;
	uint32_t type = attr->mode & FS_S_IFMT;
	const struct file_ops *ops;
	int err;

	if (type == FS_S_IFDIR) {
		if (acc != O_RDONLY || (flags & (O_CREAT | O_TRUNC)))
			return -EISDIR;
		ops = &dir_ops;
	} else if (want_dir) {
		return -ENOTDIR;
	} else if (type == FS_S_IFREG) {
		ops = &reg_ops;
	} else {
		return -ENXIO; /* fifos, sockets, device nodes on the disk: not served */
	}
	if (type == FS_S_IFREG && (flags & O_TRUNC) && acc != O_RDONLY && attr->size) {
		err = data_truncate(abs, attr->ino, 0, cred);
		if (err)
			return err;
	} else if (type == FS_S_IFREG && !attr->size && file_cache_node()) {
		/* maybe a new file under a dead one's inode number: no stale
		 * pages (include/proto/bcache.h); a failure only costs that */
		bcc_forget(file_cache_node(), file_storage_node(), attr->ino);
	}
	*out = file_alloc(ops, flags, abs, NULL);
	if (*out) {
		(*out)->ino = attr->ino;
		(*out)->gen = attr->gen;
	}
	return *out ? 0 : -ENOMEM;
}

/* Access bits (FS_MAY_*) an open with flags needs. */
static unsigned open_may(unsigned flags)
{
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		return FS_MAY_READ;
	case O_WRONLY:
		return FS_MAY_WRITE;
	default:
		return FS_MAY_READ | FS_MAY_WRITE;
	}
}

static int open_storage(struct process *p, const char *abs, unsigned flags, uint32_t mode,
			bool want_dir, struct file **out)
{
	uint16_t node = file_storage_node();
	struct fs_cred cred;
	struct fs_attr attr;
	int err;

	if (!node)
		return -ENODEV;
	process_fs_cred(p, &cred); /* Linux checks at open only: I/O on it is root's */
	if (flags & O_PATH) {
		err = fsc_stat(node, &cred, abs, (flags & O_NOFOLLOW) ? FS_NOFOLLOW : 0, 0,
			       &attr);
		if (err)
			return err;
		if (want_dir && !is_dir_mode(attr.mode))
			return -ENOTDIR;
		*out = file_alloc(&opath_ops, O_PATH, abs, (void *)(uintptr_t)attr.mode);
		return *out ? 0 : -ENOMEM;
	}
	if (flags & O_NOFOLLOW) {
		err = fsc_stat(node, &cred, abs, FS_NOFOLLOW, 0, &attr);
		if (!err && (attr.mode & FS_S_IFMT) == FS_S_IFLNK)
			return -ELOOP;
		if (err && !(err == -ENOENT && (flags & O_CREAT)))
			return err;
	}
	if (flags & O_CREAT) {
		if (want_dir)
			return -EISDIR;
		err = fsc_create(node, &cred, abs, mode & 07777 & ~p->fs.umask,
				 (flags & O_EXCL) ? FS_EXCL : 0, &attr);
		if (!err && (attr.mode & FS_S_IFMT) == FS_S_IFREG)
			flags &= ~O_CREAT; /* the file is there: the checks below as for any */
	} else {
		err = fsc_stat(node, &cred, abs, 0, open_may(flags), &attr);
	}
	if (err)
		return err;
	return storage_file(&cred, abs, flags, want_dir, &attr, out);
}

/* ---- devices ------------------------------------------------------------------- */

enum dev_kind { DEV_NULL, DEV_ZERO, DEV_FULL, DEV_RANDOM, DEV_URANDOM, DEV_TTY };

struct dev_info {
	const char *name;
	enum dev_kind kind;
	uint32_t major, minor;
};

static const struct dev_info devs[] = {
	{"null", DEV_NULL, 1, 3},      {"zero", DEV_ZERO, 1, 5},
	{"full", DEV_FULL, 1, 7},      {"random", DEV_RANDOM, 1, 8},
	{"urandom", DEV_URANDOM, 1, 9}, {"tty", DEV_TTY, 5, 0},
};
#define NDEVS (sizeof(devs) / sizeof(devs[0]))

/* /dev/stdin, /dev/stdout, /dev/stderr: links to /proc/self/fd/N. */
static const char *const std_links[] = {"stdin", "stdout", "stderr"};

static const struct dev_info *dev_find(const char *name)
{
	for (size_t i = 0; i < NDEVS; i++)
		if (!strcmp(devs[i].name, name))
			return &devs[i];
	return NULL;
}

/* NAME of "/dev/NAME" (abs under /dev); NULL for "/dev" itself and for
 * deeper paths. */
static const char *dev_name(const char *abs)
{
	if (!abs[4] || strchr(abs + 5, '/'))
		return NULL;
	return abs + 5;
}

static int std_link_find(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(std_links[i], name))
			return i;
	return -1;
}

/* Fills user memory with zeros (zero, full) or random bytes. */
static long dev_fill(uint64_t ubuf, size_t len, bool random)
{
	uint64_t chunk[64];
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);

		for (size_t i = 0; i < (n + 7) / 8; i++)
			chunk[i] = random ? file_random_u64() : 0;
		if (copy_to_user(ubuf + done, chunk, n))
			return done ? (long)done : -EFAULT;
		done += n;
	}
	return (long)done;
}

static long dev_read(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	const struct dev_info *d = f->priv;

	switch (d->kind) {
	case DEV_NULL:
		return 0;
	case DEV_ZERO:
	case DEV_FULL:
		return dev_fill(ubuf, len, false);
	default:
		return dev_fill(ubuf, len, true);
	}
}

/* Writes are taken whole without reading the buffer (as Linux: a NULL
 * buffer to /dev/null succeeds); /dev/full is always full. */
static long dev_write(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	const struct dev_info *d = f->priv;

	return d->kind == DEV_FULL ? -ENOSPC : (long)len;
}

static void dev_attr(const struct dev_info *d, struct fs_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = 100 + (uint64_t)(d - devs);
	attr->mode = FS_S_IFCHR | 0666;
	attr->nlink = 1;
	attr->blksize = 4096;
	attr->rdev = (d->major << 8) | d->minor;
}

static int dev_stat(struct file *f, struct fs_attr *attr)
{
	dev_attr(f->priv, attr);
	return 0;
}

/* lseek on these devices is accepted and changes nothing (Linux: 0). */
static long dev_seek(struct file *f, int64_t off, int whence, uint64_t *pos)
{
	return 0;
}

static const struct file_ops dev_ops = {
	.read = dev_read,
	.write = dev_write,
	.stat = dev_stat,
	.seek = dev_seek,
};

static void devdir_attr(struct fs_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = 99;
	attr->mode = FS_S_IFDIR | 0755;
	attr->nlink = 2;
	attr->blksize = 4096;
}

static void stdlink_attr(int i, struct fs_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = 110 + (uint64_t)i;
	attr->mode = FS_S_IFLNK | 0777;
	attr->nlink = 1;
	attr->size = 15; /* "/proc/self/fd/N" */
	attr->blksize = 4096;
}

static int devdir_stat(struct file *f, struct fs_attr *attr)
{
	devdir_attr(attr);
	return 0;
}

/* Entry i of /dev: ".", "..", the devices, the std links. */
static bool devdir_entry(uint64_t i, const char **name, uint64_t *ino, uint8_t *type)
{
	if (i < 2) {
		*name = i ? ".." : ".";
		*ino = i ? 2 : 99;
		*type = FS_DT_DIR;
	} else if (i < 2 + NDEVS) {
		*name = devs[i - 2].name;
		*ino = 100 + (i - 2);
		*type = FS_DT_CHR;
	} else if (i < 2 + NDEVS + 3) {
		*name = std_links[i - 2 - NDEVS];
		*ino = 110 + (i - 2 - NDEVS);
		*type = FS_DT_LNK;
	} else {
		return false;
	}
	return true;
}

static long devdir_getdents(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	const char *name;
	uint64_t ino;
	uint8_t type;
	size_t done = 0;

	while (devdir_entry(*pos, &name, &ino, &type)) {
		uint8_t rec[DIRENT_NAME_OFF + 16 + 8];
		size_t n = strlen(name);
		size_t reclen = (DIRENT_NAME_OFF + n + 1 + 7) & ~7ul;
		struct dirent_head h = {ino, (int64_t)*pos + 1, (uint16_t)reclen, type};

		if (done + reclen > len)
			break;
		memset(rec, 0, sizeof(rec));
		memcpy(rec, &h, sizeof(h));
		memcpy(rec + DIRENT_NAME_OFF, name, n);
		if (copy_to_user(ubuf + done, rec, reclen))
			return done ? (long)done : -EFAULT;
		done += reclen;
		(*pos)++;
	}
	if (!done && devdir_entry(*pos, &name, &ino, &type))
		return -EINVAL;
	return (long)done;
}

static const struct file_ops devdir_ops = {
	.read = dir_read,
	.getdents = devdir_getdents,
	.stat = devdir_stat,
	.seek = dir_seek,
};

static int open_dev(struct process *p, const char *abs, unsigned flags, bool want_dir,
		    struct file **out)
{
	const char *name = dev_name(abs);
	const struct dev_info *d;
	int std;

	if (!strcmp(abs, "/dev")) {
		if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)))
			return -EISDIR;
		*out = file_alloc(&devdir_ops, flags, abs, NULL);
		return *out ? 0 : -ENOMEM;
	}
	d = name ? dev_find(name) : NULL;
	std = name ? std_link_find(name) : -1;
	if (!d && std < 0)
		return (flags & O_CREAT) ? -EACCES : -ENOENT;
	if (want_dir)
		return -ENOTDIR;
	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return -EEXIST;
	if (std >= 0) {
		/* a link to /proc/self/fd/N: the same open file (Linux reopens
		 * ttys and files with a new offset; pipes are the same) */
		if (flags & O_NOFOLLOW)
			return -ELOOP;
		*out = fd_get(p->files, std);
		return *out ? 0 : -ENOENT;
	}
	if (d->kind == DEV_TTY)
		return tty_open_dev(p, flags, out);
	*out = file_alloc(&dev_ops, flags, abs, (void *)d);
	return *out ? 0 : -ENOMEM;
}

/* stat of a /dev path; p may be NULL (no std links then). */
static int stat_dev(struct process *p, const char *abs, bool nofollow, unsigned may,
		    struct fs_attr *attr)
{
	const struct dev_info *d;
	struct file *f;
	int std, err;

	if (!strcmp(abs, "/dev")) {
		devdir_attr(attr);
		return (may & FS_MAY_WRITE) ? -EACCES : 0;
	}
	d = dev_name(abs) ? dev_find(dev_name(abs)) : NULL;
	std = dev_name(abs) ? std_link_find(dev_name(abs)) : -1;
	if (d) {
		dev_attr(d, attr);
		return (may & FS_MAY_EXEC) ? -EACCES : 0;
	}
	if (std < 0)
		return -ENOENT;
	if (nofollow || !p) {
		stdlink_attr(std, attr);
		return 0;
	}
	f = fd_get(p->files, std);
	if (!f)
		return -ENOENT;
	err = file_stat(f, attr);
	file_put(f);
	return err;
}

/* ---- open, stat and readlink by path ----------------------------------------- */

int file_open(struct process *p, int dirfd, const char *path, unsigned flags, uint32_t mode,
	      struct file **out)
{
	bool want_dir = (flags & O_DIRECTORY) || path_wants_dir(path);
	char *abs = kmalloc(FS_PATH_MAX);
	int err;

	if (!abs)
		return -ENOMEM;
	if ((flags & O_ACCMODE) == O_ACCMODE && !(flags & O_PATH)) {
		err = -EINVAL;
		goto free_abs;
	}
	if (flags & O_PATH)
		flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	err = file_resolve(p, dirfd, path, abs);
	if (err)
		goto free_abs;
	switch (place_of(abs)) {
	case PLACE_DEV:
		err = open_dev(p, abs, flags, want_dir, out);
		break;
	case PLACE_PROC:
		err = (flags & O_CREAT) && !(flags & O_PATH) ? -EACCES
							      : procfs_open(p, abs, flags, out);
		break;
	default:
		err = open_storage(p, abs, flags, mode, want_dir, out);
	}
free_abs:
	kfree(abs);
	return err;
}

/* stat of a /proc or /sys path: a link itself, or what an open sees. */
static int stat_proc(struct process *p, const char *abs, bool nofollow, unsigned may,
		     struct fs_attr *attr)
{
	char *buf;
	struct file *f;
	long n;
	int err;

	if (!p)
		return -ENOENT;
	if (nofollow) {
		buf = kmalloc(FS_PATH_MAX);
		if (!buf)
			return -ENOMEM;
		n = procfs_readlink(p, abs, buf, FS_PATH_MAX);
		kfree(buf);
		if (n >= 0) {
			memset(attr, 0, sizeof(*attr));
			attr->mode = FS_S_IFLNK | 0777;
			attr->nlink = 1;
			attr->size = (uint64_t)n;
			attr->blksize = 1024;
			return 0;
		}
	}
	err = procfs_open(p, abs, O_RDONLY, &f);
	if (err)
		return err;
	err = file_stat(f, attr);
	file_put(f);
	if (!err && (may & FS_MAY_WRITE))
		err = -EACCES;
	return err;
}

int file_stat_path_as(struct process *p, const struct fs_cred *cred, const char *abs,
		      bool nofollow, unsigned may, struct fs_attr *attr)
{
	uint16_t node = file_storage_node();

	switch (place_of(abs)) {
	case PLACE_DEV:
		return stat_dev(p, abs, nofollow, may, attr);
	case PLACE_PROC:
		return stat_proc(p, abs, nofollow, may, attr);
	default:
		if (!node)
			return -ENODEV;
		return fsc_stat(node, cred, abs, nofollow ? FS_NOFOLLOW : 0, may, attr);
	}
}

int file_stat_path(struct process *p, const char *abs, bool nofollow, unsigned may,
		   struct fs_attr *attr)
{
	struct fs_cred cred;

	return file_stat_path_as(p, process_fs_cred(p, &cred), abs, nofollow, may, attr);
}

long file_readlink_path(struct process *p, const char *abs, char *buf, size_t cap)
{
	uint16_t node = file_storage_node();
	struct fs_cred cred;
	struct fs_attr attr;
	int std, err;

	switch (place_of(abs)) {
	case PLACE_DEV:
		std = dev_name(abs) ? std_link_find(dev_name(abs)) : -1;
		if (std < 0) {
			err = stat_dev(p, abs, true, 0, &attr);
			return err ? err : -EINVAL;
		}
		if (cap < 16)
			return -ENAMETOOLONG;
		memcpy(buf, "/proc/self/fd/0", 16);
		buf[14] = (char)('0' + std);
		return 15;
	case PLACE_PROC:
		return procfs_readlink(p, abs, buf, cap);
	default:
		if (!node)
			return -ENODEV;
		return fsc_readlink(node, process_fs_cred(p, &cred), abs, buf, cap);
	}
}

/* ---- sendfile --------------------------------------------------------------------- */

/* One chunk of sendfile: n bytes of in at *pos to out at its offset (its
 * end with O_APPEND). */
static long sendfile_chunk(struct file *out, struct file *in, uint64_t *pos, uint8_t *kb,
			   size_t n)
{
	bool append = __atomic_load_n(&out->flags, __ATOMIC_RELAXED) & O_APPEND;
	uint64_t opos;
	long r, w;

	r = data_read(in, *pos, kb, n);
	if (r <= 0)
		return r;
	spin_lock(&out->lock);
	opos = out->pos;
	spin_unlock(&out->lock);
	w = data_write(out, &opos, kb, (size_t)r, append);
	if (w < 0)
		return w;
	r = w;
	spin_lock(&out->lock);
	out->pos = opos;
	spin_unlock(&out->lock);
	*pos += (uint64_t)r;
	return r;
}

long file_write_kernel(struct file *f, const void *kb, size_t len, uint64_t *pos)
{
	size_t done = 0;
	long r = 0;

	if (f->ops != &reg_ops)
		return -EINVAL;
	while (done < len) {
		size_t n = len - done < FILE_BOUNCE ? len - done : FILE_BOUNCE;

		r = data_write(f, pos, (const uint8_t *)kb + done, n, false);
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	return done ? (long)done : r;
}

long file_sendfile(struct file *out, struct file *in, uint64_t *pos, size_t count)
{
	size_t done = 0;
	uint8_t *kb;
	long r = 0;

	if (in->ops != &reg_ops || out->ops != &reg_ops)
		return -EINVAL;
	if (!count)
		return 0;
	kb = kmalloc(count < FILE_BOUNCE ? count : FILE_BOUNCE);
	if (!kb)
		return -ENOMEM;
	while (done < count) {
		size_t n = count - done < FILE_BOUNCE ? count - done : FILE_BOUNCE;

		r = sendfile_chunk(out, in, pos, kb, n);
		if (r <= 0)
			break;
		done += (size_t)r;
		if ((size_t)r < n)
			break;
	}
	kfree(kb);
	return done ? (long)done : r;
}
