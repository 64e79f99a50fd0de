/*
 * The file system calls of the processor's processes (pcomponent/
 * sys_file.h; the files themselves are pcomponent/file.h).
 *
 * Every call decodes first: fds through the process's table (file_for,
 * fd_get: -EBADF), paths copied from user memory into a kernel buffer of
 * FS_PATH_MAX bytes (strncpy_from_user: -EFAULT, -ENAMETOOLONG) and made
 * absolute by file_resolve (working directory or dirfd, lexical ".."),
 * flags checked against what Linux accepts (-EINVAL); then it acts
 * through file.c (open, stat, readlink by path: devices, /proc and the
 * storage node) or the storage node's file service (net/fs_client.h,
 * root credentials: uid and gid 0 until processes have credentials).
 *
 * Choices written down here:
 *  - The storage node is stateless: an open file is its absolute path.
 *    A file renamed or removed after the open is not followed: later I/O
 *    on the fd fails with ENOENT (or reaches a new file of that name).
 *    ".." is lexical (path.h), and a working directory reached through
 *    a symbolic link keeps the link's name (getcwd shows it).
 *  - O_APPEND: every write stats the file for its size first (two
 *    writers appending at once may overwrite each other); pwrite on an
 *    O_APPEND file appends, as Linux.
 *  - Record locks (fcntl F_*LK, F_OFD_*LK) and flock are lock.c's, and
 *    seen by this processor's processes only (no lock manager for the
 *    vNode yet).
 *  - sendfile works between regular files of the storage node only
 *    (EINVAL otherwise: busybox then falls back to read and write).
 *  - Times are whole seconds (ext2): nanoseconds read as 0 and are
 *    dropped on utimensat.
 *  - chmod and chown of a device, a pipe or the console: EPERM; linkat's
 *    AT_SYMLINK_FOLLOW follows one level of link; truncate and the other
 *    changes in /dev, /proc and /sys: EPERM (EACCES to create there).
 *  - st_dev is one constant per kind (file_st_dev); devices have Linux's
 *    major and minor in st_rdev.
 */
#include "sys_file.h"

#include "file.h"
#include "lock.h"
#include "path.h"
#include "process.h"
#include "socket.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <lib/string.h>
#include <net/fs_client.h>

#define IOV_MAX	      1024
#define MAX_RW_COUNT  0x7ffff000ull /* Linux's cap on one read or write */
#define SEEK_SET      0
#define SEEK_CUR      1
#define SEEK_END      2
#define SEEK_DATA     3
#define SEEK_HOLE     4
#define F_DUPFD	      0
#define F_GETFD	      1
#define F_SETFD	      2
#define F_GETFL	      3
#define F_SETFL	      4
#define F_GETLK	      5
#define F_SETLK	      6
#define F_SETLKW      7
#define F_OFD_GETLK   36
#define F_OFD_SETLK   37
#define F_OFD_SETLKW  38
#define F_DUPFD_CLOEXEC 1030
#define FD_CLOEXEC    1
#define LOCK_SH	      1 /* flock(2)'s operations */
#define LOCK_EX	      2
#define LOCK_NB	      4
#define LOCK_UN	      8
#define FIONBIO	      0x5421
#define FIONCLEX      0x5450
#define FIOCLEX	      0x5451
#define O_TMPFILE_BIT 020000000
#define AT_NO_AUTOMOUNT 0x800
#define AT_STATX_SYNC 0x6000
#define STATX_BASIC   0x7ffu
#define UTIME_NOW     ((1l << 30) - 1)
#define UTIME_OMIT    ((1l << 30) - 2)
#define CLOSE_RANGE_UNSHARE 0x2
#define CLOSE_RANGE_CLOEXEC 0x4
#define NO_ID	      0xffffffffu /* chown: leave as it is */

struct k_iovec {
	uint64_t base;
	uint64_t len;
};

/* Linux x86-64's struct stat. */
struct k_stat {
	uint64_t dev, ino, nlink;
	uint32_t mode, uid, gid, pad0;
	uint64_t rdev;
	int64_t size, blksize, blocks;
	int64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
	int64_t unused[3];
};
_Static_assert(sizeof(struct k_stat) == 144, "struct stat");

struct k_statx_ts {
	int64_t sec;
	uint32_t nsec;
	int32_t reserved;
};

/* Linux's struct statx. */
struct k_statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, spare0;
	uint64_t ino, size, blocks, attributes_mask;
	struct k_statx_ts atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t mnt_id;
	uint32_t dio_mem_align, dio_offset_align;
	uint64_t spare3[12];
};
_Static_assert(sizeof(struct k_statx) == 256, "struct statx");

/* Linux x86-64's struct statfs. */
struct k_statfs {
	int64_t type, bsize;
	uint64_t blocks, bfree, bavail, files, ffree;
	int32_t fsid[2];
	int64_t namelen, frsize, flags, spare[4];
};
_Static_assert(sizeof(struct k_statfs) == 120, "struct statfs");

/* struct flock (x86-64). */
struct k_flock {
	int16_t type, whence;
	int32_t pad;
	int64_t start, len;
	int32_t pid, pad2;
};
_Static_assert(sizeof(struct k_flock) == 32, "struct flock");

/* ---- helpers ------------------------------------------------------------------- */

/* The file at fd, opened for access (O_RDONLY: reading, O_WRONLY:
 * writing), with a reference; NULL with *err -EBADF otherwise (O_PATH
 * files are for neither). */
static struct file *file_for(struct process *p, uint64_t fd, unsigned access, long *err)
{
	struct file *f = fd <= INT32_MAX ? fd_get(p->files, (int)fd) : NULL;
	unsigned mode;

	*err = -EBADF;
	if (!f)
		return NULL;
	mode = f->flags & O_ACCMODE;
	if (!(f->flags & O_PATH) && (mode == O_RDWR || mode == access))
		return f;
	file_put(f);
	return NULL;
}

/* Any open file at fd (O_PATH ones too), with a reference. */
static struct file *file_any(struct process *p, uint64_t fd, long *err)
{
	struct file *f = fd <= INT32_MAX ? fd_get(p->files, (int)fd) : NULL;

	*err = f ? 0 : -EBADF;
	return f;
}

/*
 * read or write of len bytes at ubuf through f's ops: at *ppos if ppos
 * (pread, pwrite: the file's offset untouched; -ESPIPE if it cannot
 * seek), else at the file's offset, which moves.
 */
static long file_io(struct file *f, bool write, uint64_t ubuf, uint64_t len,
		    const int64_t *ppos)
{
	long (*op)(struct file *, uint64_t, size_t, uint64_t *) =
		write ? f->ops->write : f->ops->read;
	uint64_t pos;
	long n;

	if (len > MAX_RW_COUNT)
		len = MAX_RW_COUNT;
	if (ppos && f->ops->seek == file_no_seek)
		return -ESPIPE;
	if (ppos && *ppos < 0)
		return -EINVAL;
	if (!op)
		return -EINVAL;
	if (ppos)
		return op(f, ubuf, len, &(uint64_t){(uint64_t)*ppos});
	spin_lock(&f->lock);
	pos = f->pos;
	spin_unlock(&f->lock);
	n = op(f, ubuf, len, &pos);
	spin_lock(&f->lock);
	f->pos = pos;
	spin_unlock(&f->lock);
	return n;
}

/* A user path in a kmalloc'd buffer of FS_PATH_MAX; NULL with *err. */
static char *path_copy(uint64_t upath, long *err)
{
	char *k = kmalloc(FS_PATH_MAX);
	long n;

	*err = -ENOMEM;
	if (!k)
		return NULL;
	n = strncpy_from_user(k, upath, FS_PATH_MAX);
	if (n < 0) {
		kfree(k);
		*err = n;
		return NULL;
	}
	*err = 0;
	return k;
}

/*
 * The absolute path of the user path upath relative to dirfd, kmalloc'd
 * (FS_PATH_MAX); NULL with *err. *dir (if not NULL) says whether the
 * spelling asks for a directory ("a/", "a/.").
 */
static char *path_at(struct process *p, int dirfd, uint64_t upath, bool *dir, long *err)
{
	char *k = path_copy(upath, err), *abs;

	if (!k)
		return NULL;
	abs = kmalloc(FS_PATH_MAX);
	if (!abs) {
		*err = -ENOMEM;
		goto free_k;
	}
	if (dir)
		*dir = path_wants_dir(k);
	*err = file_resolve(p, dirfd, k, abs);
	if (*err) {
		kfree(abs);
		abs = NULL;
	}
free_k:
	kfree(k);
	return abs;
}

/* True for paths this kernel serves itself (devices, /proc, /sys). */
static bool kernel_path(const char *abs)
{
	return path_within(abs, "/dev") || path_within(abs, "/proc") ||
	       path_within(abs, "/sys");
}

/* The storage node, for a path outside the kernel's own (else -EPERM). */
static long storage_for(const char *abs, uint16_t *node)
{
	if (kernel_path(abs))
		return -EPERM;
	*node = file_storage_node();
	return *node ? 0 : -ENODEV;
}

/* ---- read and write ------------------------------------------------------------ */

static long rw(struct process *p, const uint64_t *a, bool write, const int64_t *ppos)
{
	long err;
	struct file *f = file_for(p, a[0], write ? O_WRONLY : O_RDONLY, &err);

	if (!f)
		return err;
	err = file_io(f, write, a[1], a[2], ppos);
	file_put(f);
	return err;
}

long sys_read(struct process *p, const uint64_t *a)
{
	return rw(p, a, false, NULL);
}

long sys_write(struct process *p, const uint64_t *a)
{
	return rw(p, a, true, NULL);
}

long sys_pread64(struct process *p, const uint64_t *a)
{
	return rw(p, a, false, &(int64_t){(int64_t)a[3]});
}

long sys_pwrite64(struct process *p, const uint64_t *a)
{
	return rw(p, a, true, &(int64_t){(int64_t)a[3]});
}

/* readv, writev, preadv, pwritev: the vectors one after the other,
 * stopping at the first short transfer. */
static long rwv(struct process *p, const uint64_t *a, bool write, const int64_t *ppos)
{
	int64_t pos = ppos ? *ppos : 0;
	uint64_t total = 0;
	long err;
	struct file *f;

	if (a[2] > IOV_MAX)
		return -EINVAL;
	f = file_for(p, a[0], write ? O_WRONLY : O_RDONLY, &err);
	if (!f)
		return err;
	err = 0;
	for (uint64_t i = 0; i < a[2]; i++) {
		struct k_iovec iov;
		long n;

		if (copy_from_user(&iov, a[1] + i * sizeof(iov), sizeof(iov))) {
			err = -EFAULT;
			break;
		}
		if ((int64_t)iov.len < 0 || total + iov.len < total) {
			err = -EINVAL;
			break;
		}
		n = file_io(f, write, iov.base, iov.len, ppos ? &pos : NULL);
		if (n < 0) {
			err = n;
			break;
		}
		total += (uint64_t)n;
		pos += n;
		if ((uint64_t)n < iov.len)
			break;
	}
	file_put(f);
	return total ? (long)total : err;
}

long sys_readv(struct process *p, const uint64_t *a)
{
	return rwv(p, a, false, NULL);
}

long sys_writev(struct process *p, const uint64_t *a)
{
	return rwv(p, a, true, NULL);
}

long sys_preadv(struct process *p, const uint64_t *a)
{
	return rwv(p, a, false, &(int64_t){(int64_t)a[3]});
}

long sys_pwritev(struct process *p, const uint64_t *a)
{
	return rwv(p, a, true, &(int64_t){(int64_t)a[3]});
}

/* lseek without a seek op: regular files (and procfs text), any offset
 * >= 0; SEEK_END, SEEK_DATA, SEEK_HOLE from the size. */
static long seek_plain(struct file *f, int64_t off, int whence, uint64_t *pos)
{
	struct fs_attr attr;
	int64_t base = 0;
	int err;

	if (whence == SEEK_CUR)
		base = (int64_t)*pos;
	if (whence >= SEEK_END) {
		err = file_stat(f, &attr);
		if (err)
			return err;
		if ((attr.mode & FS_S_IFMT) == FS_S_IFDIR)
			return -EINVAL;
		if (whence != SEEK_END && (off < 0 || (uint64_t)off >= attr.size))
			return -ENXIO;
		base = whence == SEEK_END ? (int64_t)attr.size : 0;
		if (whence == SEEK_HOLE)
			off = (int64_t)attr.size; /* no holes reported: the end */
	}
	if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
		return -EINVAL;
	*pos = (uint64_t)(base + off);
	return (long)*pos;
}

long sys_lseek(struct process *p, const uint64_t *a)
{
	int whence = (int)a[2];
	uint64_t pos;
	long err;
	struct file *f = file_for(p, a[0], O_RDONLY, &err);

	if (!f)
		f = file_for(p, a[0], O_WRONLY, &err);
	if (!f)
		return err;
	if ((unsigned)whence > SEEK_HOLE) {
		file_put(f);
		return -EINVAL;
	}
	spin_lock(&f->lock);
	pos = f->pos;
	spin_unlock(&f->lock);
	err = f->ops->seek ? f->ops->seek(f, (int64_t)a[1], whence, &pos)
			   : seek_plain(f, (int64_t)a[1], whence, &pos);
	if (err >= 0) {
		spin_lock(&f->lock);
		f->pos = pos;
		spin_unlock(&f->lock);
	}
	file_put(f);
	return err;
}

long sys_sendfile(struct process *p, const uint64_t *a)
{
	struct file *out, *in;
	uint64_t pos;
	long err;

	out = file_for(p, a[0], O_WRONLY, &err);
	if (!out)
		return err;
	in = file_for(p, a[1], O_RDONLY, &err);
	if (!in)
		goto put_out;
	if (a[2] && copy_from_user(&pos, a[2], sizeof(pos))) {
		err = -EFAULT;
		goto put_in;
	}
	if (!a[2]) {
		spin_lock(&in->lock);
		pos = in->pos;
		spin_unlock(&in->lock);
	}
	if ((int64_t)pos < 0) {
		err = -EINVAL;
		goto put_in;
	}
	err = file_sendfile(out, in, &pos, a[3] > MAX_RW_COUNT ? MAX_RW_COUNT : a[3]);
	if (err >= 0 && a[2] && copy_to_user(a[2], &pos, sizeof(pos)))
		err = -EFAULT;
	if (err >= 0 && !a[2]) {
		spin_lock(&in->lock);
		in->pos = pos;
		spin_unlock(&in->lock);
	}
put_in:
	file_put(in);
put_out:
	file_put(out);
	return err;
}

/* getdents64(fd, dirp, count) */
long sys_getdents64(struct process *p, const uint64_t *a)
{
	uint64_t pos;
	long err;
	struct file *f = file_for(p, a[0], O_RDONLY, &err);

	if (!f)
		return err;
	if (!f->ops->getdents) {
		file_put(f);
		return -ENOTDIR;
	}
	spin_lock(&f->lock);
	pos = f->pos;
	spin_unlock(&f->lock);
	err = f->ops->getdents(f, a[1], a[2] > INT32_MAX ? INT32_MAX : a[2], &pos);
	spin_lock(&f->lock);
	f->pos = pos;
	spin_unlock(&f->lock);
	file_put(f);
	return err;
}

/* The old linux_dirent of getdents(2): d_ino, d_off, d_reclen, the name
 * at 18, its NUL, then d_type in the record's last byte. Its records are
 * exactly as long as linux_dirent64's (8-aligned 20 + name bytes), so a
 * getdents64 listing becomes one in place, record by record. */
#define DIRENT64_NAME 19
#define DIRENT_NAME   18
#define DIRENT_MAX    (DIRENT64_NAME + 256 + 8)

/* Rewrites the n bytes of linux_dirent64 records at ubuf as linux_dirent
 * ones; 0, or -EFAULT (or -EIO for a record that makes no sense). */
static long dirents_to_old(uint64_t ubuf, long n)
{
	uint8_t rec[DIRENT_MAX];
	uint16_t reclen;
	uint8_t type;

	for (long off = 0; off < n; off += reclen) {
		if (copy_from_user(&reclen, ubuf + off + 16, sizeof(reclen)))
			return -EFAULT;
		if (reclen <= DIRENT64_NAME || reclen > sizeof(rec) || reclen > n - off)
			return -EIO;
		if (copy_from_user(rec, ubuf + off, reclen))
			return -EFAULT;
		type = rec[DIRENT64_NAME - 1];
		memmove(rec + DIRENT_NAME, rec + DIRENT64_NAME, reclen - DIRENT64_NAME);
		rec[reclen - 1] = type;
		if (copy_to_user(ubuf + off, rec, reclen))
			return -EFAULT;
	}
	return 0;
}

/* getdents(fd, dirp, count): the old layout */
long sys_getdents(struct process *p, const uint64_t *a)
{
	long n = sys_getdents64(p, a), err;

	if (n <= 0)
		return n;
	err = dirents_to_old(a[1], n);
	return err ? err : n;
}

/* ---- open, close, dup ------------------------------------------------------------ */

static long open_at(struct process *p, int dirfd, uint64_t upath, unsigned flags,
		    uint32_t mode)
{
	struct file *f;
	long err;
	char *k;

	if (flags & O_TMPFILE_BIT)
		return -ENOTSUP; /* O_TMPFILE: EOPNOTSUPP, the same number */
	k = path_copy(upath, &err);
	if (!k)
		return err;
	err = file_open(p, dirfd, k, flags, mode, &f);
	kfree(k);
	if (err)
		return err;
	return fd_install(p->files, f, 0, flags & O_CLOEXEC);
}

long sys_open(struct process *p, const uint64_t *a)
{
	return open_at(p, AT_FDCWD, a[0], (unsigned)a[1], (uint32_t)a[2]);
}

long sys_openat(struct process *p, const uint64_t *a)
{
	return open_at(p, (int)a[0], a[1], (unsigned)a[2], (uint32_t)a[3]);
}

long sys_creat(struct process *p, const uint64_t *a)
{
	return open_at(p, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, (uint32_t)a[1]);
}

long sys_close(struct process *p, const uint64_t *a)
{
	struct file *f = a[0] <= INT32_MAX ? fd_close(p->files, (int)a[0]) : NULL;

	if (!f)
		return -EBADF;
	file_put(f);
	return 0;
}

long sys_close_range(struct process *p, const uint64_t *a)
{
	uint32_t first = (uint32_t)a[0], last = (uint32_t)a[1];

	if (a[2] & ~(uint64_t)(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) || first > last)
		return -EINVAL;
	for (uint32_t fd = first; fd <= last && fd < FD_MAX; fd++) {
		struct file *f;

		if (a[2] & CLOSE_RANGE_CLOEXEC) {
			(void)fd_cloexec_set(p->files, (int)fd, true);
			continue;
		}
		f = fd_close(p->files, (int)fd);
		if (f)
			file_put(f);
	}
	return 0;
}

long sys_dup(struct process *p, const uint64_t *a)
{
	long err;
	struct file *f = file_any(p, a[0], &err);

	return f ? fd_install(p->files, f, 0, false) : err;
}

static long dup_to(struct process *p, uint64_t oldfd, uint64_t newfd, bool cloexec)
{
	long err;
	struct file *f;

	if (newfd >= FD_MAX)
		return -EBADF;
	f = file_any(p, oldfd, &err);
	if (!f)
		return err;
	return fd_replace(p->files, (int)newfd, f, cloexec);
}

long sys_dup2(struct process *p, const uint64_t *a)
{
	long err;
	struct file *f;

	if (a[0] == a[1]) {
		f = file_any(p, a[0], &err);
		if (!f)
			return err;
		file_put(f);
		return (long)a[1];
	}
	return dup_to(p, a[0], a[1], false);
}

long sys_dup3(struct process *p, const uint64_t *a)
{
	if (a[2] & ~(uint64_t)O_CLOEXEC)
		return -EINVAL;
	if (a[0] == a[1])
		return -EINVAL;
	return dup_to(p, a[0], a[1], a[2] & O_CLOEXEC);
}

/* struct flock's range on f (l_whence SEEK_SET, SEEK_CUR, SEEK_END;
 * l_len 0: to the end, negative: the bytes before l_start) into r, as
 * Linux's flock_to_posix_lock: 0, -EINVAL, -EOVERFLOW. */
static long flock_range(struct file *f, const struct k_flock *fl, struct lock_range *r)
{
	int64_t base = 0, start, end = LOCK_EOF;
	struct fs_attr attr;

	if (fl->whence == SEEK_CUR) {
		spin_lock(&f->lock);
		base = (int64_t)f->pos;
		spin_unlock(&f->lock);
	} else if (fl->whence == SEEK_END) {
		long err = file_stat(f, &attr);

		if (err)
			return err;
		base = (int64_t)attr.size;
	} else if (fl->whence != SEEK_SET) {
		return -EINVAL;
	}
	if (__builtin_add_overflow(base, fl->start, &start))
		return -EOVERFLOW;
	if (start < 0)
		return -EINVAL;
	if (fl->len > 0 && __builtin_add_overflow(start, fl->len - 1, &end))
		return -EOVERFLOW;
	if (fl->len < 0) {
		end = start - 1;
		start += fl->len;
		if (start < 0)
			return -EINVAL;
	}
	r->type = fl->type;
	r->start = start;
	r->end = end;
	return 0;
}

/* F_GETLK, F_OFD_GETLK: the conflicting lock, or l_type F_UNLCK. */
static long fcntl_getlk(struct process *p, struct file *f, enum lock_kind kind,
			struct k_flock *fl, struct lock_range *r)
{
	if (r->type == F_UNLCK)
		return -EINVAL;
	lock_test(f, kind, kind == LOCK_POSIX ? (const void *)p->files : f, r);
	fl->type = (int16_t)r->type;
	if (r->type == F_UNLCK)
		return 0;
	fl->whence = SEEK_SET;
	fl->start = r->start;
	fl->len = r->end == LOCK_EOF ? 0 : r->end - r->start + 1;
	fl->pid = r->pid;
	return 0;
}

/* F_GETLK, F_SETLK, F_SETLKW and their F_OFD_ twins (lock.h). */
static long fcntl_lock(struct process *p, struct file *f, unsigned cmd, uint64_t uflock)
{
	enum lock_kind kind = cmd >= F_OFD_GETLK ? LOCK_OFD : LOCK_POSIX;
	struct lock_range r;
	struct k_flock fl;
	long err;

	if (copy_from_user(&fl, uflock, sizeof(fl)))
		return -EFAULT;
	if (fl.type != F_RDLCK && fl.type != F_WRLCK && fl.type != F_UNLCK)
		return -EINVAL;
	if (kind == LOCK_OFD && fl.pid)
		return -EINVAL; /* Linux: l_pid must be 0 */
	if (f->flags & O_PATH)
		return -EBADF;
	err = flock_range(f, &fl, &r);
	if (err)
		return err;
	if (cmd == F_GETLK || cmd == F_OFD_GETLK) {
		err = fcntl_getlk(p, f, kind, &fl, &r);
		return err ? err : copy_to_user(uflock, &fl, sizeof(fl));
	}
	if ((fl.type == F_RDLCK && (f->flags & O_ACCMODE) == O_WRONLY) ||
	    (fl.type == F_WRLCK && (f->flags & O_ACCMODE) == O_RDONLY))
		return -EBADF;
	return lock_set(f, kind, kind == LOCK_POSIX ? (const void *)p->files : f,
			(int32_t)p->pid, &r, cmd == F_SETLKW || cmd == F_OFD_SETLKW);
}

long sys_fcntl(struct process *p, const uint64_t *a)
{
	unsigned cmd = (unsigned)a[1];
	long err;
	struct file *f = file_any(p, a[0], &err);
	int fd = (int)a[0];

	if (!f)
		return err;
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		if (a[2] >= FD_MAX) {
			file_put(f);
			return -EINVAL;
		}
		return fd_install(p->files, f, (int)a[2], cmd == F_DUPFD_CLOEXEC);
	case F_GETFD:
		err = fd_cloexec_get(p->files, fd);
		err = err > 0 ? FD_CLOEXEC : err;
		break;
	case F_SETFD:
		err = fd_cloexec_set(p->files, fd, a[2] & FD_CLOEXEC);
		break;
	case F_GETFL:
		spin_lock(&f->lock);
		err = f->flags | (f->path && !(f->flags & O_PATH) ? O_LARGEFILE : 0);
		spin_unlock(&f->lock);
		break;
	case F_SETFL:
		spin_lock(&f->lock);
		f->flags = (f->flags & ~FILE_SETFL_MASK) | ((unsigned)a[2] & FILE_SETFL_MASK);
		spin_unlock(&f->lock);
		err = 0;
		break;
	case F_GETLK:
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_GETLK:
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
		err = fcntl_lock(p, f, cmd, a[2]);
		break;
	default:
		err = -EINVAL;
	}
	file_put(f);
	return err;
}

long sys_flock(struct process *p, const uint64_t *a)
{
	static const struct lock_range whole[] = {
		[LOCK_SH] = {.type = F_RDLCK, .end = LOCK_EOF},
		[LOCK_EX] = {.type = F_WRLCK, .end = LOCK_EOF},
		[LOCK_UN] = {.type = F_UNLCK, .end = LOCK_EOF},
	};
	unsigned op = (unsigned)a[1] & ~(unsigned)LOCK_NB;
	long err;
	struct file *f = file_any(p, a[0], &err);

	if (!f)
		return err;
	if (f->flags & O_PATH)
		err = -EBADF;
	else if (op != LOCK_SH && op != LOCK_EX && op != LOCK_UN)
		err = -EINVAL;
	else
		err = lock_set(f, LOCK_FLOCK, f, -1, &whole[op], !(a[1] & LOCK_NB));
	file_put(f);
	return err;
}

long sys_ioctl(struct process *p, const uint64_t *a)
{
	unsigned cmd = (unsigned)a[1];
	long err;
	struct file *f = file_any(p, a[0], &err);
	int on;

	if (!f)
		return err;
	if (f->flags & O_PATH) {
		err = -EBADF;
	} else if (cmd == FIOCLEX || cmd == FIONCLEX) {
		err = fd_cloexec_set(p->files, (int)a[0], cmd == FIOCLEX);
	} else if (cmd == FIONBIO) {
		err = copy_from_user(&on, a[2], sizeof(on));
		if (!err) {
			spin_lock(&f->lock);
			f->flags = on ? f->flags | O_NONBLOCK : f->flags & ~O_NONBLOCK;
			spin_unlock(&f->lock);
		}
	} else {
		err = f->ops->ioctl ? f->ops->ioctl(f, cmd, a[2]) : -ENOTTY;
	}
	file_put(f);
	return err;
}

/* ---- stat ------------------------------------------------------------------------ */

/*
 * The attributes behind (dirfd, upath) as the *stat*at calls name them:
 * AT_EMPTY_PATH with "" is dirfd itself (or the working directory);
 * AT_SYMLINK_NOFOLLOW stats a final link. *dev gets st_dev.
 */
static long stat_at(struct process *p, int dirfd, uint64_t upath, unsigned flags,
		    struct fs_attr *attr, uint64_t *dev)
{
	bool want_dir = false;
	struct file *f;
	char *abs, *k;
	long err;

	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC))
		return -EINVAL;
	k = path_copy(upath, &err);
	if (!k)
		return err;
	if (!k[0] && (flags & AT_EMPTY_PATH) && dirfd != AT_FDCWD) {
		kfree(k);
		f = file_any(p, (uint64_t)(int64_t)dirfd, &err);
		if (!f)
			return err;
		err = file_stat(f, attr);
		*dev = file_st_dev(f->path);
		file_put(f);
		return err;
	}
	abs = kmalloc(FS_PATH_MAX);
	err = abs ? 0 : -ENOMEM;
	if (!err) {
		want_dir = path_wants_dir(k);
		err = file_resolve(p, dirfd, (!k[0] && (flags & AT_EMPTY_PATH)) ? "." : k, abs);
	}
	kfree(k);
	if (!err)
		err = file_stat_path(p, abs, flags & AT_SYMLINK_NOFOLLOW, 0, attr);
	if (!err && want_dir && (attr->mode & FS_S_IFMT) != FS_S_IFDIR)
		err = -ENOTDIR;
	if (!err)
		*dev = file_st_dev(abs);
	kfree(abs);
	return err;
}

static long put_stat(uint64_t ubuf, const struct fs_attr *at, uint64_t dev)
{
	struct k_stat st;

	memset(&st, 0, sizeof(st));
	st.dev = dev;
	st.ino = at->ino;
	st.nlink = at->nlink;
	st.mode = at->mode;
	st.uid = at->uid;
	st.gid = at->gid;
	st.rdev = at->rdev;
	st.size = (int64_t)at->size;
	st.blksize = at->blksize;
	st.blocks = (int64_t)at->blocks;
	st.atime = at->atime;
	st.mtime = at->mtime;
	st.ctime = at->ctime;
	return copy_to_user(ubuf, &st, sizeof(st));
}

static long stat_call(struct process *p, int dirfd, uint64_t upath, unsigned flags,
		      uint64_t ubuf)
{
	struct fs_attr attr;
	uint64_t dev = 0;
	long err = stat_at(p, dirfd, upath, flags, &attr, &dev);

	return err ? err : put_stat(ubuf, &attr, dev);
}

long sys_stat(struct process *p, const uint64_t *a)
{
	return stat_call(p, AT_FDCWD, a[0], 0, a[1]);
}

long sys_lstat(struct process *p, const uint64_t *a)
{
	return stat_call(p, AT_FDCWD, a[0], AT_SYMLINK_NOFOLLOW, a[1]);
}

long sys_newfstatat(struct process *p, const uint64_t *a)
{
	return stat_call(p, (int)a[0], a[1], (unsigned)a[3], a[2]);
}

long sys_fstat(struct process *p, const uint64_t *a)
{
	struct fs_attr attr;
	long err;
	struct file *f = file_any(p, a[0], &err);

	if (!f)
		return err;
	err = file_stat(f, &attr);
	if (!err)
		err = put_stat(a[1], &attr, file_st_dev(f->path));
	file_put(f);
	return err;
}

static struct k_statx_ts statx_ts(int64_t sec)
{
	return (struct k_statx_ts){.sec = sec};
}

/* statx(dirfd, path, flags, mask, buf) */
long sys_statx(struct process *p, const uint64_t *a)
{
	struct fs_attr at;
	struct k_statx sx;
	uint64_t dev = 0;
	long err;

	if (a[3] & 0x80000000u) /* STATX__RESERVED */
		return -EINVAL;
	err = stat_at(p, (int)a[0], a[1], (unsigned)a[2], &at, &dev);
	if (err)
		return err;
	memset(&sx, 0, sizeof(sx));
	sx.mask = STATX_BASIC;
	sx.blksize = at.blksize;
	sx.nlink = at.nlink;
	sx.uid = at.uid;
	sx.gid = at.gid;
	sx.mode = (uint16_t)at.mode;
	sx.ino = at.ino;
	sx.size = at.size;
	sx.blocks = at.blocks;
	sx.atime = statx_ts(at.atime);
	sx.mtime = statx_ts(at.mtime);
	sx.ctime = statx_ts(at.ctime);
	sx.rdev_major = at.rdev >> 8;
	sx.rdev_minor = at.rdev & 0xff;
	sx.dev_major = (uint32_t)(dev >> 8);
	sx.dev_minor = (uint32_t)(dev & 0xff);
	return copy_to_user(a[4], &sx, sizeof(sx));
}

/* access(2)'s family: mode F_OK or R_OK | W_OK | X_OK, checked with the
 * real user and group ids (AT_EACCESS: the effective ones), as Linux. */
static long access_at(struct process *p, int dirfd, uint64_t upath, uint64_t mode,
		      unsigned flags)
{
	struct fs_attr attr;
	struct fs_cred fc;
	struct cred c;
	char *abs;
	long err;

	if (mode & ~7ull)
		return -EINVAL;
	if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	abs = path_at(p, dirfd, upath, NULL, &err);
	if (!abs)
		return err;
	process_cred(p, &c);
	if (!(flags & AT_EACCESS)) {
		c.fsuid = c.uid;
		c.fsgid = c.gid;
	}
	cred_to_fs(&c, &fc);
	err = file_stat_path_as(p, &fc, abs, flags & AT_SYMLINK_NOFOLLOW, (unsigned)mode, &attr);
	kfree(abs);
	return err;
}

long sys_access(struct process *p, const uint64_t *a)
{
	return access_at(p, AT_FDCWD, a[0], a[1], 0);
}

long sys_faccessat(struct process *p, const uint64_t *a)
{
	return access_at(p, (int)a[0], a[1], a[2], 0);
}

long sys_faccessat2(struct process *p, const uint64_t *a)
{
	return access_at(p, (int)a[0], a[1], a[2], (unsigned)a[3]);
}

static long readlink_at(struct process *p, int dirfd, uint64_t upath, uint64_t ubuf,
			int64_t size)
{
	char *abs, *buf;
	long n, err;

	if (size <= 0)
		return -EINVAL;
	abs = path_at(p, dirfd, upath, NULL, &err);
	if (!abs)
		return err;
	buf = kmalloc(FS_PATH_MAX);
	n = buf ? file_readlink_path(p, abs, buf, FS_PATH_MAX) : -ENOMEM;
	if (n > size)
		n = size; /* cut, no NUL: as Linux */
	if (n > 0 && copy_to_user(ubuf, buf, (size_t)n))
		n = -EFAULT;
	kfree(buf);
	kfree(abs);
	return n;
}

long sys_readlink(struct process *p, const uint64_t *a)
{
	return readlink_at(p, AT_FDCWD, a[0], a[1], (int32_t)a[2]);
}

long sys_readlinkat(struct process *p, const uint64_t *a)
{
	return readlink_at(p, (int)a[0], a[1], a[2], (int32_t)a[3]);
}

/* ---- names: mkdir, unlink, rename, link ---------------------------------------------- */

static long mkdir_at(struct process *p, int dirfd, uint64_t upath, uint32_t mode)
{
	struct fs_cred cred;
	struct fs_attr attr;
	uint16_t node;
	char *abs;
	long err;

	abs = path_at(p, dirfd, upath, NULL, &err);
	if (!abs)
		return err;
	err = storage_for(abs, &node);
	if (err)
		err = file_stat_path(p, abs, true, 0, &attr) ? -EACCES : -EEXIST;
	else
		err = fsc_mkdir(node, process_fs_cred(p, &cred), abs,
				mode & 07777 & ~p->fs.umask, &attr);
	kfree(abs);
	return err;
}

long sys_mkdir(struct process *p, const uint64_t *a)
{
	return mkdir_at(p, AT_FDCWD, a[0], (uint32_t)a[1]);
}

long sys_mkdirat(struct process *p, const uint64_t *a)
{
	return mkdir_at(p, (int)a[0], a[1], (uint32_t)a[2]);
}

static long remove_at(struct process *p, int dirfd, uint64_t upath, bool dir)
{
	struct fs_cred cred;
	struct fs_attr attr;
	bool want_dir;
	uint16_t node;
	char *abs;
	long err;

	abs = path_at(p, dirfd, upath, &want_dir, &err);
	if (!abs)
		return err;
	err = storage_for(abs, &node);
	process_fs_cred(p, &cred);
	if (!err && !dir && !want_dir && socket_unlink_name(abs))
		err = 0; /* a socket's name, kept by socket.c */
	else if (!err && dir)
		err = strcmp(abs, "/") ? fsc_rmdir(node, &cred, abs) : -EBUSY;
	else if (!err && want_dir) /* unlink("x/"): a directory is EISDIR, else ENOTDIR */
		err = fsc_stat(node, &cred, abs, FS_NOFOLLOW, 0, &attr) ?:
			((attr.mode & FS_S_IFMT) == FS_S_IFDIR ? -EISDIR : -ENOTDIR);
	else if (!err)
		err = fsc_unlink(node, &cred, abs);
	kfree(abs);
	return err;
}

long sys_unlink(struct process *p, const uint64_t *a)
{
	return remove_at(p, AT_FDCWD, a[0], false);
}

long sys_rmdir(struct process *p, const uint64_t *a)
{
	return remove_at(p, AT_FDCWD, a[0], true);
}

long sys_unlinkat(struct process *p, const uint64_t *a)
{
	if (a[2] & ~(uint64_t)AT_REMOVEDIR)
		return -EINVAL;
	return remove_at(p, (int)a[0], a[1], a[2] & AT_REMOVEDIR);
}

/* Two user paths made absolute: *from and *to, kmalloc'd. */
static long two_paths(struct process *p, int fromfd, uint64_t ufrom, int tofd, uint64_t uto,
		      char **from, char **to)
{
	long err;

	*from = path_at(p, fromfd, ufrom, NULL, &err);
	if (!*from)
		return err;
	*to = path_at(p, tofd, uto, NULL, &err);
	if (!*to) {
		kfree(*from);
		return err;
	}
	return 0;
}

static long rename_at(struct process *p, const uint64_t *a, uint64_t flags)
{
	struct fs_cred cred;
	char *from, *to;
	uint16_t node;
	long err;

	if (flags)
		return -EINVAL; /* RENAME_NOREPLACE, EXCHANGE, WHITEOUT: not yet */
	err = two_paths(p, (int)a[0], a[1], (int)a[2], a[3], &from, &to);
	if (err)
		return err;
	if (kernel_path(from) != kernel_path(to))
		err = -EXDEV;
	else
		err = storage_for(from, &node);
	if (!err)
		err = fsc_rename(node, process_fs_cred(p, &cred), from, to);
	kfree(from);
	kfree(to);
	return err;
}

long sys_rename(struct process *p, const uint64_t *a)
{
	return rename_at(p, (const uint64_t[]){(uint64_t)AT_FDCWD, a[0], (uint64_t)AT_FDCWD, a[1]},
			 0);
}

long sys_renameat(struct process *p, const uint64_t *a)
{
	return rename_at(p, a, 0);
}

long sys_renameat2(struct process *p, const uint64_t *a)
{
	return rename_at(p, a, a[4]);
}

/* linkat's AT_SYMLINK_FOLLOW: if from is a symbolic link, from becomes
 * its target (one level; a relative target from the link's directory). */
static long follow_once(struct process *p, char *from)
{
	struct fs_attr attr;
	char *target, *dir;
	long err;

	err = file_stat_path(p, from, true, 0, &attr);
	if (err || (attr.mode & FS_S_IFMT) != FS_S_IFLNK)
		return err;
	target = kmalloc(FS_PATH_MAX);
	dir = kmalloc(FS_PATH_MAX);
	err = target && dir ? file_readlink_path(p, from, target, FS_PATH_MAX) : -ENOMEM;
	if (err >= 0) {
		strlcpy(dir, from, FS_PATH_MAX);
		dir[path_last(dir) - dir > 1 ? path_last(dir) - dir - 1 : 1] = '\0';
		err = path_join(dir, target, from, FS_PATH_MAX);
	}
	kfree(target);
	kfree(dir);
	return err < 0 ? err : 0;
}

static long link_at(struct process *p, const uint64_t *a, uint64_t flags)
{
	struct fs_cred cred;
	struct fs_attr attr;
	char *from, *to;
	uint16_t node;
	long err;

	if (flags & ~(uint64_t)AT_SYMLINK_FOLLOW)
		return -EINVAL;
	err = two_paths(p, (int)a[0], a[1], (int)a[2], a[3], &from, &to);
	if (err)
		return err;
	if (kernel_path(from) != kernel_path(to))
		err = -EXDEV;
	else
		err = storage_for(from, &node);
	if (!err && (flags & AT_SYMLINK_FOLLOW))
		err = follow_once(p, from);
	if (!err)
		err = fsc_link(node, process_fs_cred(p, &cred), from, to, &attr);
	kfree(from);
	kfree(to);
	return err;
}

long sys_link(struct process *p, const uint64_t *a)
{
	return link_at(p, (const uint64_t[]){(uint64_t)AT_FDCWD, a[0], (uint64_t)AT_FDCWD, a[1]},
		       0);
}

long sys_linkat(struct process *p, const uint64_t *a)
{
	return link_at(p, a, a[4]);
}

static long symlink_at(struct process *p, uint64_t utarget, int dirfd, uint64_t upath)
{
	struct fs_cred cred;
	struct fs_attr attr;
	char *target, *abs;
	uint16_t node;
	long err;

	target = path_copy(utarget, &err);
	if (!target)
		return err;
	abs = path_at(p, dirfd, upath, NULL, &err);
	if (!abs)
		goto free_target;
	if (!target[0])
		err = -ENOENT;
	else
		err = storage_for(abs, &node);
	if (err == -EPERM)
		err = -EACCES;
	if (!err)
		err = fsc_symlink(node, process_fs_cred(p, &cred), target, abs, &attr);
	kfree(abs);
free_target:
	kfree(target);
	return err;
}

long sys_symlink(struct process *p, const uint64_t *a)
{
	return symlink_at(p, a[0], AT_FDCWD, a[1]);
}

long sys_symlinkat(struct process *p, const uint64_t *a)
{
	return symlink_at(p, a[0], (int)a[1], a[2]);
}

/* ---- working directory, umask ------------------------------------------------------ */

long sys_chdir(struct process *p, const uint64_t *a)
{
	struct fs_attr attr;
	char *abs;
	long err;

	abs = path_at(p, AT_FDCWD, a[0], NULL, &err);
	if (!abs)
		return err;
	err = file_stat_path(p, abs, false, 0, &attr);
	if (!err && (attr.mode & FS_S_IFMT) != FS_S_IFDIR)
		err = -ENOTDIR;
	if (!err) /* search permission, once it is known to be a directory */
		err = file_stat_path(p, abs, false, FS_MAY_EXEC, &attr);
	if (!err)
		strlcpy(p->fs.cwd, abs, sizeof(p->fs.cwd));
	kfree(abs);
	return err;
}

long sys_fchdir(struct process *p, const uint64_t *a)
{
	long err;
	struct file *f = file_any(p, a[0], &err);

	if (!f)
		return err;
	if (f->path && file_is_dir(f))
		strlcpy(p->fs.cwd, f->path, sizeof(p->fs.cwd));
	else
		err = -ENOTDIR;
	file_put(f);
	return err;
}

long sys_getcwd(struct process *p, const uint64_t *a)
{
	size_t n = strlen(p->fs.cwd) + 1;

	if (a[1] < n)
		return -ERANGE;
	if (copy_to_user(a[0], p->fs.cwd, n))
		return -EFAULT;
	return (long)n;
}

long sys_umask(struct process *p, const uint64_t *a)
{
	uint32_t old = p->fs.umask;

	p->fs.umask = (uint32_t)a[0] & 0777;
	return old;
}

/* ---- attributes: chmod, chown, times, truncate --------------------------------------- */

/* FS_SETATTR on abs (a storage path), with p's credentials. */
static long setattr_path(struct process *p, const char *abs, bool nofollow,
			 unsigned valid, uint32_t mode, uint32_t uid, uint32_t gid,
			 int64_t atime, int64_t mtime)
{
	struct fs_attr attr;
	struct fs_cred cred;
	uint16_t node;
	long err = storage_for(abs, &node);

	if (err)
		return err;
	return fsc_setattr(node, process_fs_cred(p, &cred), abs,
			   nofollow ? FS_NOFOLLOW : 0, valid, mode, uid, gid, atime,
			   mtime, &attr);
}

/* The path of dirfd's file (AT_EMPTY_PATH, fchmod, fchown, futimens),
 * kmalloc'd; -EPERM for files without one (pipes, the console). */
static char *fd_path(struct process *p, uint64_t fd, long *err)
{
	struct file *f = file_any(p, fd, err);
	char *abs = NULL;

	if (!f)
		return NULL;
	*err = -EPERM;
	if (f->path) {
		abs = kmalloc(FS_PATH_MAX);
		*err = abs ? 0 : -ENOMEM;
		if (abs)
			strlcpy(abs, f->path, FS_PATH_MAX);
	}
	file_put(f);
	return abs;
}

/* The working directory, kmalloc'd. */
static char *cwd_path(struct process *p, long *err)
{
	char *abs = kmalloc(FS_PATH_MAX);

	*err = abs ? 0 : -ENOMEM;
	if (abs)
		strlcpy(abs, p->fs.cwd, FS_PATH_MAX);
	return abs;
}

/* (dirfd, upath) as the attribute calls name it: AT_EMPTY_PATH with ""
 * is dirfd's file; upath 0 too (utimensat's futimens form). */
static char *attr_target(struct process *p, int dirfd, uint64_t upath, unsigned flags,
			 long *err)
{
	char *k;

	if (!upath)
		return fd_path(p, (uint64_t)(int64_t)dirfd, err);
	if (flags & AT_EMPTY_PATH) {
		k = path_copy(upath, err);
		if (!k)
			return NULL;
		if (!k[0]) {
			kfree(k);
			return dirfd == AT_FDCWD ? cwd_path(p, err)
						 : fd_path(p, (uint64_t)(int64_t)dirfd, err);
		}
		kfree(k);
	}
	return path_at(p, dirfd, upath, NULL, err);
}

static long chmod_at(struct process *p, int dirfd, uint64_t upath, uint32_t mode,
		     unsigned flags)
{
	long err;
	char *abs = attr_target(p, dirfd, upath, flags, &err);

	if (!abs)
		return err;
	err = setattr_path(p, abs, flags & AT_SYMLINK_NOFOLLOW, FS_SET_MODE, mode & 07777,
			   0, 0, 0, 0);
	kfree(abs);
	return err;
}

long sys_chmod(struct process *p, const uint64_t *a)
{
	return chmod_at(p, AT_FDCWD, a[0], (uint32_t)a[1], 0);
}

long sys_fchmodat(struct process *p, const uint64_t *a)
{
	return chmod_at(p, (int)a[0], a[1], (uint32_t)a[2], 0); /* fchmodat has no flags */
}

long sys_fchmod(struct process *p, const uint64_t *a)
{
	long err;
	char *abs = fd_path(p, a[0], &err);

	if (!abs)
		return err;
	err = setattr_path(p, abs, false, FS_SET_MODE, (uint32_t)a[1] & 07777, 0, 0, 0,
			   0);
	kfree(abs);
	return err;
}

static long chown_at(struct process *p, int dirfd, uint64_t upath, uint32_t uid, uint32_t gid,
		     unsigned flags)
{
	unsigned valid = (uid != NO_ID ? FS_SET_UID : 0) | (gid != NO_ID ? FS_SET_GID : 0);
	long err;
	char *abs;

	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	abs = attr_target(p, dirfd, upath, flags, &err);
	if (!abs)
		return err;
	err = setattr_path(p, abs, flags & AT_SYMLINK_NOFOLLOW, valid, 0, uid, gid, 0, 0);
	kfree(abs);
	return err;
}

long sys_chown(struct process *p, const uint64_t *a)
{
	return chown_at(p, AT_FDCWD, a[0], (uint32_t)a[1], (uint32_t)a[2], 0);
}

long sys_lchown(struct process *p, const uint64_t *a)
{
	return chown_at(p, AT_FDCWD, a[0], (uint32_t)a[1], (uint32_t)a[2], AT_SYMLINK_NOFOLLOW);
}

long sys_fchownat(struct process *p, const uint64_t *a)
{
	return chown_at(p, (int)a[0], a[1], (uint32_t)a[2], (uint32_t)a[3], (unsigned)a[4]);
}

long sys_fchown(struct process *p, const uint64_t *a)
{
	unsigned valid = ((uint32_t)a[1] != NO_ID ? FS_SET_UID : 0) |
			 ((uint32_t)a[2] != NO_ID ? FS_SET_GID : 0);
	long err;
	char *abs = fd_path(p, a[0], &err);

	if (!abs)
		return err;
	err = setattr_path(p, abs, false, valid, 0, (uint32_t)a[1], (uint32_t)a[2], 0, 0);
	kfree(abs);
	return err;
}

static int64_t now_sec(void)
{
	return (int64_t)(wall_clock_ns() / NS_PER_S);
}

/* Sets the times of the target: valid FS_SET_ATIME/MTIME bits. */
static long times_at(struct process *p, int dirfd, uint64_t upath, unsigned flags,
		     unsigned valid, int64_t atime, int64_t mtime)
{
	long err;
	char *abs;

	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	abs = attr_target(p, dirfd, upath, flags, &err);
	if (!abs)
		return err;
	err = valid ? setattr_path(p, abs, flags & AT_SYMLINK_NOFOLLOW, valid, 0, 0, 0,
				   atime, mtime)
		    : file_stat_path(p, abs, false, 0, &(struct fs_attr){0});
	kfree(abs);
	return err;
}

/* utimensat(dirfd, path, times[2], flags) */
long sys_utimensat(struct process *p, const uint64_t *a)
{
	int64_t ts[4], t[2];
	unsigned valid = FS_SET_ATIME | FS_SET_MTIME;

	t[0] = t[1] = now_sec();
	if (a[2]) {
		if (copy_from_user(ts, a[2], sizeof(ts)))
			return -EFAULT;
		for (int i = 0; i < 2; i++) {
			int64_t ns = ts[2 * i + 1];

			if (ns == UTIME_OMIT)
				valid &= ~(i ? FS_SET_MTIME : FS_SET_ATIME);
			else if (ns != UTIME_NOW && (ns < 0 || ns >= (int64_t)NS_PER_S))
				return -EINVAL;
			else if (ns != UTIME_NOW)
				t[i] = ts[2 * i];
		}
	}
	return times_at(p, (int)a[0], a[1], (unsigned)a[3], valid, t[0], t[1]);
}

/* utimes(path, times[2] as timevals) */
long sys_utimes(struct process *p, const uint64_t *a)
{
	int64_t tv[4], t[2];

	t[0] = t[1] = now_sec();
	if (a[1]) {
		if (copy_from_user(tv, a[1], sizeof(tv)))
			return -EFAULT;
		if (tv[1] < 0 || tv[1] >= 1000000 || tv[3] < 0 || tv[3] >= 1000000)
			return -EINVAL;
		t[0] = tv[0];
		t[1] = tv[2];
	}
	return times_at(p, AT_FDCWD, a[0], 0, FS_SET_ATIME | FS_SET_MTIME, t[0], t[1]);
}

/* utime(path, struct utimbuf {actime, modtime}) */
long sys_utime(struct process *p, const uint64_t *a)
{
	int64_t t[2];

	t[0] = t[1] = now_sec();
	if (a[1] && copy_from_user(t, a[1], sizeof(t)))
		return -EFAULT;
	return times_at(p, AT_FDCWD, a[0], 0, FS_SET_ATIME | FS_SET_MTIME, t[0], t[1]);
}

long sys_truncate(struct process *p, const uint64_t *a)
{
	struct fs_cred cred;
	uint16_t node;
	char *abs;
	long err;

	if ((int64_t)a[1] < 0)
		return -EINVAL;
	abs = path_at(p, AT_FDCWD, a[0], NULL, &err);
	if (!abs)
		return err;
	err = storage_for(abs, &node);
	if (!err)
		err = file_truncate_path(abs, a[1], process_fs_cred(p, &cred));
	kfree(abs);
	return err;
}

long sys_ftruncate(struct process *p, const uint64_t *a)
{
	long err;
	struct file *f = file_for(p, a[0], O_WRONLY, &err);

	if (!f) {
		f = file_any(p, a[0], &err);
		if (f) {
			file_put(f);
			return -EINVAL; /* not open for writing: Linux's EINVAL */
		}
		return err;
	}
	if ((int64_t)a[1] < 0 || !f->ops->truncate)
		err = -EINVAL;
	else
		err = f->ops->truncate(f, a[1]);
	file_put(f);
	return err;
}

static long sync_fd(struct process *p, uint64_t fd)
{
	long err;
	struct file *f = file_any(p, fd, &err);

	if (!f)
		return err;
	err = (f->flags & O_PATH) ? -EBADF : f->ops->fsync ? f->ops->fsync(f) : -EINVAL;
	file_put(f);
	return err;
}

long sys_fsync(struct process *p, const uint64_t *a)
{
	return sync_fd(p, a[0]);
}

long sys_fdatasync(struct process *p, const uint64_t *a)
{
	return sync_fd(p, a[0]);
}

/* sync: the storage node syncs its whole file system for any FS_FSYNC. */
long sys_sync(struct process *p, const uint64_t *a)
{
	uint16_t node = file_storage_node();

	if (node)
		(void)fsc_fsync(node, &fsc_root, "/");
	return 0;
}

/* ---- statfs ------------------------------------------------------------------------ */

/* statfs of the file system abs lives on (NULL: pipes, the console). */
static long statfs_of(const char *abs, uint64_t ubuf)
{
	struct k_statfs sf;
	struct fs_statfs st;
	long err;

	memset(&sf, 0, sizeof(sf));
	sf.bsize = sf.frsize = 4096;
	sf.namelen = FS_NAME_MAX;
	if (!abs)
		sf.type = 0x50495045; /* PIPEFS_MAGIC */
	else if (path_within(abs, "/dev"))
		sf.type = 0x01021994; /* TMPFS_MAGIC (devtmpfs) */
	else if (path_within(abs, "/proc"))
		sf.type = 0x9fa0; /* PROC_SUPER_MAGIC */
	else if (path_within(abs, "/sys"))
		sf.type = 0x62656572; /* SYSFS_MAGIC */
	if (abs && !kernel_path(abs)) {
		if (!file_storage_node())
			return -ENODEV;
		err = fsc_statfs(file_storage_node(), &fsc_root, abs, &st);
		if (err)
			return err;
		sf.type = 0xef53; /* EXT2_SUPER_MAGIC */
		sf.bsize = sf.frsize = st.bsize;
		sf.blocks = st.blocks;
		sf.bfree = st.bfree;
		sf.bavail = st.bavail;
		sf.files = st.files;
		sf.ffree = st.ffree;
		sf.namelen = st.namelen;
	}
	return copy_to_user(ubuf, &sf, sizeof(sf));
}

long sys_statfs(struct process *p, const uint64_t *a)
{
	struct fs_attr attr;
	long err;
	char *abs = path_at(p, AT_FDCWD, a[0], NULL, &err);

	if (!abs)
		return err;
	err = file_stat_path(p, abs, false, 0, &attr);
	if (!err)
		err = statfs_of(abs, a[1]);
	kfree(abs);
	return err;
}

long sys_fstatfs(struct process *p, const uint64_t *a)
{
	long err;
	struct file *f = file_any(p, a[0], &err);

	if (!f)
		return err;
	err = statfs_of(f->path, a[1]);
	file_put(f);
	return err;
}
