/*
 * Open files and fd tables of the processor's processes (pcomponent/
 * file.c; DESIGN.md section 1: fd tables live on the pComponent).
 *
 * A struct file is one open file description (Linux's "struct file"):
 * what open(), pipe() or the console made, shared by every fd that dup()
 * or fork() copied from it, with one offset and one set of status flags
 * (O_APPEND, O_NONBLOCK). What it reads and writes depends on its ops:
 *   regular files and directories  the storage node's file service
 *                                  (include/proto/file.h), by path: the
 *                                  file service is stateless, so the file
 *                                  keeps the absolute path it was opened by
 *                                  (file.c); regular files' data through
 *                                  the vNode's buffer cache on a memory
 *                                  node (include/proto/bcache.h)
 *   /dev/null, /dev/zero, /dev/full, /dev/urandom, /dev/random, /dev/tty
 *                                  devices of the kernel (file.c)
 *   pipes                          a ring buffer in this kernel (pipe.c)
 *   the console                    the hostlink run the process family was
 *                                  started by: input from the host, output
 *                                  to the CLI, a small line discipline when
 *                                  the run has a terminal (tty.c)
 *   /proc and /sys files           text made at open (procfs.c)
 *
 * An fd table maps small integers to files, with a close-on-exec bit per
 * fd. fork gives the child a copy (the files shared, their counts up);
 * threads (later) share one table. execve closes the close-on-exec fds.
 *
 * Blocking: a read or write that must wait (an empty pipe, console input)
 * sleeps interruptibly (kernel/wait.h waitq_wait_intr_locked) and returns
 * -EINTR when a signal interrupts it (pcomponent/signal.h), unless it had
 * moved some bytes already (then the count). With O_NONBLOCK it returns
 * -EAGAIN instead of sleeping.
 *
 * Readiness (poll, select): a file's poll op says what it is ready for
 * now. Anything whose readiness may change calls file_poll_event(); a
 * poller reads file_poll_seq() before asking the files and sleeps in
 * file_poll_wait() only if the count has not moved since: one event count
 * for the whole node, so a poller never misses an event and never needs
 * a wait queue per file (few processes per processor).
 */
#ifndef PCOMPONENT_FILE_H
#define PCOMPONENT_FILE_H

#include <kernel/spinlock.h>
#include <proto/file.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct process;
struct file;

#define FD_MAX 256 /* fds per table: RLIMIT_NOFILE */

/* Linux's open flags (x86-64). */
#define O_ACCMODE   00000003
#define O_RDONLY    00000000
#define O_WRONLY    00000001
#define O_RDWR	    00000002
#define O_CREAT	    00000100
#define O_EXCL	    00000200
#define O_NOCTTY    00000400
#define O_TRUNC	    00001000
#define O_APPEND    00002000
#define O_NONBLOCK  00004000
#define O_DSYNC	    00010000
#define O_DIRECT    00040000
#define O_LARGEFILE 00100000
#define O_DIRECTORY 00200000
#define O_NOFOLLOW  00400000
#define O_NOATIME   01000000
#define O_CLOEXEC   02000000
#define O_SYNC	    04010000
#define O_PATH	    010000000
/* Status flags F_SETFL may change. */
#define FILE_SETFL_MASK (O_APPEND | O_NONBLOCK | O_NOATIME | O_DIRECT)

#define AT_FDCWD	    (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_REMOVEDIR	    0x200
#define AT_EACCESS	    0x200
#define AT_SYMLINK_FOLLOW   0x400
#define AT_EMPTY_PATH	    0x1000

/* poll(2)'s event bits. */
#define POLLIN	 0x001
#define POLLPRI	 0x002
#define POLLOUT	 0x004
#define POLLERR	 0x008
#define POLLHUP	 0x010
#define POLLNVAL 0x020

/*
 * What a kind of file does. Every op is optional: a missing read or
 * write answers -EINVAL (-EBADF when the file was not opened for it is
 * checked before, by the caller); a missing poll means always ready
 * (POLLIN | POLLOUT), as Linux says for regular files; a missing ioctl
 * -ENOTTY; a missing stat reports a character device.
 *
 * read and write move len bytes between the file and user memory at
 * ubuf (copy_to_user/copy_from_user: a bad buffer gives -EFAULT, or the
 * count moved before it) at *pos, which they advance; they return the
 * count or a negative errno. Files without offsets (pipes, devices,
 * console) ignore pos. pread/pwrite call them with a local pos.
 */
struct file_ops {
	long (*read)(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos);
	long (*write)(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos);
	/* getdents64: linux_dirent64 records into ubuf (len bytes) from
	 * *pos (a cookie); 0 at the end. Directories only. */
	long (*getdents)(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos);
	int (*stat)(struct file *f, struct fs_attr *attr);
	/* POLL* bits the file is ready for now (POLLHUP, POLLERR included
	 * whatever was asked). Must not sleep. */
	unsigned (*poll)(struct file *f);
	/* A count that moves with every change of the file's readiness (new
	 * data, room, a peer gone), for epoll's edge-triggered mode
	 * (epoll.c); NULL: only changes of the poll mask count. Must not
	 * sleep. */
	uint64_t (*poll_gen)(struct file *f);
	long (*ioctl)(struct file *f, unsigned cmd, uint64_t arg);
	/* lseek to an absolute position: NULL means seekable without
	 * limit checks (regular files: the caller computes SEEK_END from
	 * stat); ops that cannot seek set it to file_no_seek (-ESPIPE). */
	long (*seek)(struct file *f, int64_t off, int whence, uint64_t *pos);
	/* ftruncate, fsync: regular files. */
	int (*truncate)(struct file *f, uint64_t size);
	int (*fsync)(struct file *f);
	/* The last reference went: free priv. May sleep. */
	void (*release)(struct file *f);
};

struct file {
	const struct file_ops *ops;
	unsigned refs;	 /* atomic: fds and other holders */
	unsigned flags;	 /* O_ACCMODE and status flags; f->lock */
	uint64_t pos;	 /* the offset; f->lock for updates */
	struct spinlock lock;
	char *path;	 /* absolute path (regular files, directories, /proc): kmalloc'd, or NULL */
	uint64_t ino;	 /* regular files: the inode at the open (the buffer cache's key) */
	uint32_t gen;	 /* regular files: its generation (with ino, the file's identity) */
	void *priv;	 /* the kind's own */
	unsigned epolls; /* atomic: epoll sets watching it (epoll.c) */
};

/* A new file with one reference; path copied if not NULL. NULL if out of
 * memory. */
struct file *file_alloc(const struct file_ops *ops, unsigned flags, const char *path,
			void *priv);
struct file *file_get(struct file *f);
/* Drops a reference; the last one takes f out of the epoll sets that
 * watch it, calls ops->release and frees f. */
void file_put(struct file *f);
/* For ops->seek of files that cannot seek. */
long file_no_seek(struct file *f, int64_t off, int whence, uint64_t *pos);

/* ---- fd tables ---- */

struct fd_table;

/* An empty table with one reference. NULL if out of memory. */
struct fd_table *fd_table_create(void);
/* A copy for fork: the same files (their counts up), the same
 * close-on-exec bits. NULL if out of memory. */
struct fd_table *fd_table_fork(struct fd_table *t);
/* Drops a reference; the last closes every fd. May sleep. */
void fd_table_put(struct fd_table *t);
/* execve: closes every close-on-exec fd. */
void fd_table_exec(struct fd_table *t);

/* Installs f (taking over the caller's reference) at the lowest free fd
 * >= min; returns the fd or -EMFILE (f then put). */
int fd_install(struct fd_table *t, struct file *f, int min, bool cloexec);
/* The file at fd with a reference the caller puts, or NULL (-EBADF). */
struct file *fd_get(struct fd_table *t, int fd);
/* Takes the file out of fd (close): returns it with the table's
 * reference, which the caller puts (outside any lock: release may
 * sleep), or NULL if fd is not open. The table's record locks on the
 * file go (lock.h), as at every way an fd closes (dup2 over it, execve's
 * close-on-exec, the table's end). */
struct file *fd_close(struct fd_table *t, int fd);
/* dup2/dup3: installs f (taking over the caller's reference) at fd
 * (0 <= fd < FD_MAX, else -EBADF and f put), with cloexec; the file fd
 * held before, if any, is put after the table is unlocked. Returns fd. */
int fd_replace(struct fd_table *t, int fd, struct file *f, bool cloexec);
/* fd's close-on-exec bit: 0 or 1, or -EBADF. */
int fd_cloexec_get(struct fd_table *t, int fd);
/* Sets fd's close-on-exec bit: 0, or -EBADF. */
int fd_cloexec_set(struct fd_table *t, int fd, bool cloexec);

/* ---- paths and the file system view of a process ---- */

/*
 * A process's view of the file system: working directory and umask.
 * fork copies it; threads (later) share it.
 */
struct fs_view {
	char cwd[FS_PATH_MAX]; /* absolute, normalised, no trailing '/' but "/" */
	uint32_t umask;
};

/*
 * The absolute, normalised path (no "." or empty components; ".." taken
 * away lexically, never above "/") of upath, a path in kernel memory,
 * relative to dirfd (AT_FDCWD: p's working directory, or an open
 * directory) unless absolute, into out (FS_PATH_MAX bytes). Returns 0,
 * -ENOENT (empty path), -EBADF, -ENOTDIR (dirfd not a directory),
 * -ENAMETOOLONG. Symbolic links are the storage node's to follow.
 */
int file_resolve(struct process *p, int dirfd, const char *upath, char *out);

/*
 * Opens path (relative to dirfd: AT_FDCWD or an open directory) for p,
 * as openat(2) with flags and mode: dispatches /dev/..., /proc/..., /sys/...
 * to their kinds and everything else to the storage node. Returns the
 * file (one reference) through *out, or a negative errno. Sleeps.
 */
int file_open(struct process *p, int dirfd, const char *path, unsigned flags, uint32_t mode,
	      struct file **out);

/* file_open's other kinds: procfs.h ("/proc", "/sys"), tty.h
 * ("/dev/tty"), pipe.c (pipes have no path). */

/*
 * The attributes of the file at abs (absolute, normalised, as
 * file_resolve makes it), for stat(2) and access(2): a final symbolic link
 * itself with nofollow; may (FS_MAY_*) checked as access(2) does (0: only
 * existence) with the process's file system ids. Devices, /dev, /proc
 * and /sys answer for themselves, the rest is the storage node's. 0 or a
 * negative errno. Sleeps. file_stat_path_as checks may with cred instead
 * (access(2) checks with the real ids).
 */
int file_stat_path_as(struct process *p, const struct fs_cred *cred, const char *abs,
		      bool nofollow, unsigned may, struct fs_attr *attr);
int file_stat_path(struct process *p, const char *abs, bool nofollow, unsigned may,
		   struct fs_attr *attr);
/* readlink(2) of abs into buf (cap bytes, NUL-ended): the target's
 * length; -EINVAL if abs is not a symbolic link. Sleeps. */
long file_readlink_path(struct process *p, const char *abs, char *buf, size_t cap);
/* fstat: f's ops->stat, or a character device's attributes without one. */
int file_stat(struct file *f, struct fs_attr *attr);
/* True if f is an open directory (a dirfd, fchdir). May sleep (stat). */
bool file_is_dir(struct file *f);
/* Linux's st_dev for a file at abs (NULL: a file without a path: pipes,
 * the console): one constant per kind (storage, /dev, /proc, /sys). */
uint64_t file_st_dev(const char *abs);
/* sendfile's core: up to count bytes of in from *pos (advanced) to out
 * at its offset (O_APPEND: at its end), through a kernel buffer. Both
 * must be regular files of the storage node, else -EINVAL (callers such
 * as busybox then fall back to read and write). Returns the count. */
long file_sendfile(struct file *out, struct file *in, uint64_t *pos, size_t count);
/* Writes len bytes of kernel memory kb to the regular file f at *pos
 * (advanced by what was written), through the buffer cache as write(2)
 * does: the count, or a negative errno if nothing was written. Sleeps. */
long file_write_kernel(struct file *f, const void *kb, size_t len, uint64_t *pos);
/* truncate(2) of the storage file at abs (absolute, normalised) as cred
 * (the storage node checks write permission): through the buffer cache,
 * so no stale page outlives it. 0 or a negative errno. Sleeps. */
int file_truncate_path(const char *abs, uint64_t size, const struct fs_cred *cred);
/* The storage node that serves this processor's files; 0: none. */
uint16_t file_storage_node(void);
/* The memory node whose buffer cache this processor's regular-file reads
 * and writes go through: its vNode's first memory node (the same for
 * every processor of the vNode: include/proto/bcache.h); 0: none, they
 * go to the storage node. */
uint16_t file_cache_node(void);
/* Empties that buffer cache (every file's pages; nothing is lost, it is
 * write-through): 0, -ENODEV (no cache node) or the RPC's error. */
int file_cache_drop(void);
/* The kernel's random numbers (getrandom, /dev/urandom, /dev/random): a
 * xorshift64 stream seeded from the clocks, NOT cryptographic. */
uint64_t file_random_u64(void);

/* ---- readiness ---- */

/* The node-wide event count (top comment). */
uint64_t file_poll_seq(void);
/* Something's readiness may have changed: wake every poller. Any context
 * that may take a spinlock. */
void file_poll_event(void);
/* Sleeps until the count differs from seq, deadline_ns passes (0: none)
 * or a signal interrupts: 0, -ETIMEDOUT, -EINTR. */
int file_poll_wait(uint64_t seq, uint64_t deadline_ns);

#endif
