/*
 * The system call table of the processor (pcomponent/syscall.h; DESIGN.md
 * section 7; include/kernel/uspace.h for the hook it serves).
 *
 * One table, indexed by Linux x86-64 numbers, each entry a name and a
 * handler, so that a generator can list what is implemented
 * (docs/syscalls.md, to compare with LegoOS's 111). Numbers without an
 * entry answer -ENOSYS and are logged once per number. Tessera's own
 * calls sit at 1024 and up (include/proto/tessera_sys.h), above every
 * Linux number.
 *
 * Every user pointer goes through copy_*_user: a bad one gives -EFAULT,
 * never a kernel fault. Memory calls change the address space the
 * caller uses (process_mm: a vfork child's is its parent's) on the
 * home memory node, after the ExCache has let go of the lines concerned
 * (include/proto/mem.h): munmap, MAP_FIXED and brk shrink drop them
 * without write-back, mprotect writes dirty ones back first; MAP_SHARED
 * ones are only left (stored if dirty: others may map them), and the
 * ExCache is told of every MAP_SHARED mapping (excache_shared_map), so
 * that processes mapping one page share one line.
 *
 * Choices written down here:
 *  - Files and fds: pcomponent/sys_file.c has the file system calls and
 *    their choices (docs/processor.md, "Files").
 *  - uname: sysname "Tessera" (what `uname -s` should print on a Tessera
 *    vNode; libcs do not look at it), release "6.1.0-tessera-0.1" (the
 *    Linux ABI level emulated, for libcs that parse the release), machine
 *    "x86_64".
 *  - getppid is 0 for a process started by the CLI, and for an orphan
 *    (no init process adopts orphans yet).
 *  - fork and clone with fork's flags: exit signal SIGCHLD, optionally
 *    CLONE_PARENT_SETTID, CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID and a
 *    new stack.
 *  - vfork, and clone with CLONE_VFORK (and CLONE_VM, as musl's and
 *    glibc's posix_spawn pass it, with a child stack): as Linux, the
 *    child runs in the parent's address space until it execs or exits
 *    (process.h process_mm: faults, the memory calls below, futexes act
 *    on the parent's space) and the parent sleeps until then (only
 *    SIGKILL ends the sleep early). What the child stores, maps or
 *    leaves as errno after a failed execve is the parent's: glibc's
 *    posix_spawn reports ENOENT as on Linux. A parent that dies
 *    meanwhile keeps its address space until the child is done with it
 *    (its zombie appears only then), and a parent's execve by another
 *    thread waits for it too. CLONE_VM without CLONE_VFORK or
 *    CLONE_THREAD (a process sharing the parent's memory without the
 *    parent waiting) is EINVAL.
 *  - clone with CLONE_THREAD makes a thread (process.h
 *    process_clone_thread): it needs CLONE_VM, CLONE_FS, CLONE_FILES and
 *    CLONE_SIGHAND (what pthread_create passes), takes CLONE_SYSVSEM,
 *    CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_SETTID,
 *    CLONE_CHILD_CLEARTID and CLONE_DETACHED (ignored, as Linux), and
 *    ignores the exit signal. As Linux: CLONE_THREAD without
 *    CLONE_SIGHAND, CLONE_SIGHAND without CLONE_VM, CLONE_FS with
 *    CLONE_NEWNS are EINVAL; a TLS outside user space is EPERM. Not
 *    supported (EINVAL): a thread with its own fd table or file system
 *    view, CLONE_PARENT, namespaces, pidfds, ptrace.
 *  - exit ends the calling thread (its clear_child_tid written 0 and
 *    woken); exit_group and fatal signals end every thread.
 *  - wait4 and waitid: stops (WUNTRACED, WSTOPPED) and continues
 *    (WCONTINUED) are reported once each, as Linux; the rusage is all
 *    zero. A status that cannot be copied out gives EFAULT and leaves
 *    the child a zombie.
 *  - signals, timers, process groups and sessions: sys_signal.c (its
 *    top comment has their choices); nanosleep and clock_nanosleep sleep
 *    interruptibly (EINTR with the time left written to rem).
 *  - getrandom is the kernel's xorshift seeded from the clocks
 *    (file_random_u64, shared with /dev/urandom): NOT cryptographic.
 *  - sockets: AF_UNIX between the processes of this processor only
 *    (socket.c's top comment has their choices); every other family is
 *    EAFNOSUPPORT: there is no network stack. epoll: epoll.c.
 */
#include "syscall.h"

#include "excache.h"
#include "epoll.h"
#include "checkpoint.h"
#include "file.h"
#include "futex.h"
#include "pipe.h"
#include "poll.h"
#include "process.h"
#include "signal.h"
#include "socket.h"
#include "sys_file.h"
#include "sysproc.h"

#include <arch/trap.h>
#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <lib/sort.h>
#include <lib/string.h>
#include <net/fs_client.h>
#include <net/rpc.h>
#include <proto/mem.h>
#include <proto/msg.h>
#include <proto/tessera_sys.h>

#define PAGE	  4096ull
#define PAGE_MASK (PAGE - 1)

#define MAP_SHARED	    0x01
#define MAP_PRIVATE	    0x02
#define MAP_TYPE	    0x0f
#define MAP_FIXED	    0x10
#define MAP_ANONYMOUS	    0x20
#define MAP_FIXED_NOREPLACE 0x100000


#define CLONE_SIGNAL	     0xff
#define CLONE_VM	     0x00000100
#define CLONE_FS	     0x00000200
#define CLONE_FILES	     0x00000400
#define CLONE_SIGHAND	     0x00000800
#define CLONE_VFORK	     0x00004000
#define CLONE_THREAD	     0x00010000
#define CLONE_NEWNS	     0x00020000
#define CLONE_SYSVSEM	     0x00040000
#define CLONE_SETTLS	     0x00080000
#define CLONE_PARENT_SETTID  0x00100000
#define CLONE_CHILD_CLEARTID 0x00200000
#define CLONE_DETACHED	     0x00400000
#define CLONE_CHILD_SETTID   0x01000000
#define CLONE_FORK_FLAGS     (CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID)
/* what a thread must share, and what it may ask besides */
#define CLONE_THREAD_NEEDS   (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
#define CLONE_THREAD_MAY     (CLONE_SYSVSEM | CLONE_SETTLS | CLONE_DETACHED | CLONE_FORK_FLAGS)

#define WNOHANG	    0x1
#define WUNTRACED   0x2
#define WSTOPPED    0x2 /* waitid */
#define WEXITED	    0x4
#define WCONTINUED  0x8
#define WNOWAIT	    0x01000000
#define WLINUX_BITS 0xe0000000u /* __WNOTHREAD, __WALL, __WCLONE */
#define P_ALL	    0
#define P_PID	    1
#define P_PGID	    2
#define RUSAGE_SIZE 144

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

#define CLOCK_REALTIME	      0
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_TAI	      11
#define TIMER_ABSTIME	      1

#define IOV_MAX	   1024
#define COPY_CHUNK 512 /* bytes on the kernel stack per copy */

struct k_timeval {
	int64_t sec;
	int64_t usec;
};

struct k_iovec {
	uint64_t base;
	uint64_t len;
};

#define UTS_LEN 65
struct k_utsname {
	char sysname[UTS_LEN], nodename[UTS_LEN], release[UTS_LEN], version[UTS_LEN],
		machine[UTS_LEN], domainname[UTS_LEN];
};

/* ---- process ------------------------------------------------------------------ */

static long sys_exit(struct process *p, const uint64_t *a)
{
	process_thread_exit(p, PROCESS_EXITED((int)a[0])); /* the caller only */
}

static long sys_exit_group(struct process *p, const uint64_t *a)
{
	process_exit(p, PROCESS_EXITED((int)a[0]));
}

static long sys_getpid(struct process *p, const uint64_t *a)
{
	return p->pid;
}

static long sys_gettid(struct process *p, const uint64_t *a)
{
	return process_self(p)->tid;
}

static long sys_getppid(struct process *p, const uint64_t *a)
{
	return process_ppid(p);
}

static long sys_fork(struct process *p, const uint64_t *a)
{
	struct process_fork_args fa = {0};

	return process_fork(p, &fa);
}

static long sys_vfork(struct process *p, const uint64_t *a)
{
	struct process_fork_args fa = {.vfork = true};

	return process_fork(p, &fa);
}

/* clone with CLONE_THREAD: the flags checked, a new thread of p. */
static long clone_thread(struct process *p, const uint64_t *a)
{
	struct process_clone_args ca = {.stack = a[1]};
	uint64_t flags = a[0] & ~(uint64_t)CLONE_SIGNAL; /* no exit signal */

	if ((flags & CLONE_THREAD_NEEDS) != CLONE_THREAD_NEEDS ||
	    (flags & ~(CLONE_THREAD_NEEDS | CLONE_THREAD_MAY)))
		return -EINVAL; /* threads share all of these here */
	if (ca.stack >= USPACE_TOP)
		return -EINVAL;
	if (flags & CLONE_SETTLS) {
		if (a[4] >= USPACE_TOP)
			return -EPERM; /* as arch_prctl(ARCH_SET_FS) */
		ca.settls = true;
		ca.tls = a[4];
	}
	if (flags & CLONE_PARENT_SETTID)
		ca.parent_tid = a[2];
	if (flags & CLONE_CHILD_SETTID)
		ca.child_settid = a[3];
	if (flags & CLONE_CHILD_CLEARTID)
		ca.child_cleartid = a[3];
	return process_clone_thread(p, &ca);
}

/* clone(flags, stack, parent_tid, child_tid, tls): a thread, or a fork
 * with fork's flags, or a vfork (CLONE_VFORK, with or without CLONE_VM:
 * the child borrows the parent's memory all the same, see the top
 * comment). */
static long sys_clone(struct process *p, const uint64_t *a)
{
	struct process_fork_args fa = {.stack = a[1]};
	uint64_t flags = a[0];
	long pid;

	/* Linux's copy_process refusals first */
	if ((flags & (CLONE_NEWNS | CLONE_FS)) == (CLONE_NEWNS | CLONE_FS))
		return -EINVAL;
	if ((flags & CLONE_THREAD) && !(flags & CLONE_SIGHAND))
		return -EINVAL;
	if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM))
		return -EINVAL;
	if (flags & CLONE_THREAD)
		return clone_thread(p, a);
	if ((flags & CLONE_VM) && !(flags & CLONE_VFORK))
		return -EINVAL; /* two processes in one address space: not possible here */
	if ((flags & CLONE_SIGNAL) != SIGCHLD ||
	    (flags & ~(CLONE_SIGNAL | CLONE_FORK_FLAGS | CLONE_VM | CLONE_VFORK)))
		return -EINVAL;
	fa.vfork = flags & CLONE_VFORK;
	if (fa.stack >= USPACE_TOP)
		return -EINVAL;
	if (flags & CLONE_CHILD_SETTID)
		fa.child_settid = a[3];
	if (flags & CLONE_CHILD_CLEARTID)
		fa.child_cleartid = a[3];
	pid = process_fork(p, &fa);
	if (pid > 0 && (flags & CLONE_PARENT_SETTID)) {
		uint32_t tid = (uint32_t)pid;

		(void)copy_to_user(a[2], &tid, sizeof(tid)); /* as Linux: not checked */
	}
	return pid;
}

/* Copies the zero rusage out, if asked. */
static int put_rusage(uint64_t uru)
{
	uint8_t ru[RUSAGE_SIZE];

	if (!uru)
		return 0;
	memset(ru, 0, sizeof(ru));
	return copy_to_user(uru, ru, sizeof(ru));
}

/* wait4(pid, wstatus, options, rusage) */
static long sys_wait4(struct process *p, const uint64_t *a)
{
	int32_t pid = (int32_t)a[0];
	uint32_t options = (uint32_t)a[2];
	int ws = 0;
	long r;

	if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | WLINUX_BITS))
		return -EINVAL;
	if (pid == INT32_MIN)
		return -ESRCH; /* Linux's answer: -pid overflows */
	r = process_wait(p, pid, (options & ~WLINUX_BITS) | WEXITED, &ws);
	if (r <= 0)
		return r;
	if (a[1] && copy_to_user(a[1], &ws, sizeof(ws)))
		return -EFAULT;
	if (put_rusage(a[3]))
		return -EFAULT;
	if (!PROCESS_WIFSTOPPED(ws) && !PROCESS_WIFCONTINUED(ws))
		process_reap(p, (uint32_t)r);
	return r;
}

/* The fields of a siginfo_t (128 bytes) that waitid fills. */
struct k_siginfo_chld {
	int32_t signo, err, code, pad;
	int32_t pid;
	uint32_t uid;
	int32_t status;
	uint8_t rest[128 - 28];
};
_Static_assert(sizeof(struct k_siginfo_chld) == 128, "siginfo_t size");

/* waitid's siginfo for child pid's wait status ws. */
static void waitid_info(struct k_siginfo_chld *si, int32_t pid, int ws)
{
	si->signo = SIGCHLD;
	si->pid = pid;
	if (PROCESS_WIFEXITED(ws)) {
		si->code = CLD_EXITED;
		si->status = (ws >> 8) & 0xff;
	} else if (PROCESS_WIFCONTINUED(ws)) {
		si->code = CLD_CONTINUED;
		si->status = SIGCONT;
	} else if (PROCESS_WIFSTOPPED(ws)) {
		si->code = CLD_STOPPED;
		si->status = (ws >> 8) & 0xff;
	} else {
		si->code = CLD_KILLED;
		si->status = ws & 0x7f;
	}
}

/* waitid(idtype, id, infop, options, rusage) */
static long sys_waitid(struct process *p, const uint64_t *a)
{
	uint32_t options = (uint32_t)a[3];
	struct k_siginfo_chld si;
	int64_t pid = -1;
	int ws = 0;
	long r;

	if (options & ~(WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | WLINUX_BITS))
		return -EINVAL;
	if (!(options & (WEXITED | WSTOPPED | WCONTINUED)))
		return -EINVAL;
	if (a[0] == P_PID) {
		if ((int32_t)a[1] <= 0)
			return -EINVAL;
		pid = (int32_t)a[1];
	} else if (a[0] == P_PGID) {
		if ((int32_t)a[1] < 0)
			return -EINVAL;
		pid = -(int64_t)(int32_t)a[1]; /* 0: the caller's group, as Linux 5.4+ */
	} else if (a[0] != P_ALL) {
		return -EINVAL;
	}
	r = process_wait(p, pid, options & ~WLINUX_BITS, &ws);
	if (r < 0)
		return r;
	memset(&si, 0, sizeof(si)); /* WNOHANG with nothing yet: all zero */
	if (r > 0)
		waitid_info(&si, (int32_t)r, ws);
	if (a[2] && copy_to_user(a[2], &si, sizeof(si)))
		return -EFAULT;
	if (put_rusage(a[4]))
		return -EFAULT;
	if (r > 0 && !(options & WNOWAIT) && !PROCESS_WIFSTOPPED(ws) &&
	    !PROCESS_WIFCONTINUED(ws))
		process_reap(p, (uint32_t)r);
	return 0;
}

static long sys_set_tid_address(struct process *p, const uint64_t *a)
{
	struct pthread_info *self = process_self(p);

	self->clear_child_tid = a[0];
	return self->tid;
}

static long sys_arch_prctl(struct process *p, const uint64_t *a)
{
	uint64_t base;

	switch (a[0]) {
	case ARCH_SET_FS:
		if (a[1] >= USPACE_TOP)
			return -EPERM;
		user_set_fs_base(a[1]);
		return 0;
	case ARCH_GET_FS:
		base = user_fs_base();
		return copy_to_user(a[1], &base, sizeof(base));
	default:
		return -EINVAL; /* GS is the kernel's */
	}
}

static long sys_uname(struct process *p, const uint64_t *a)
{
	struct k_utsname u;

	memset(&u, 0, sizeof(u));
	strlcpy(u.sysname, "Tessera", UTS_LEN);
	strlcpy(u.nodename, kconfig.name, UTS_LEN);
	strlcpy(u.release, "6.1.0-tessera-" TESSERA_VERSION, UTS_LEN);
	strlcpy(u.version, "#1 Tessera splitkernel", UTS_LEN);
	strlcpy(u.machine, "x86_64", UTS_LEN);
	strlcpy(u.domainname, "(none)", UTS_LEN);
	return copy_to_user(a[0], &u, sizeof(u));
}

/* restart_syscall: Linux's kernel uses it to resume a nanosleep or poll
 * that a stop or a handler interrupted (its restart block); here those
 * restart by stepping back over the syscall instead, so nothing is ever
 * left to resume: EINTR, as Linux answers with no restart block. */
static long sys_restart_syscall(struct process *p, const uint64_t *a)
{
	process_self(p)->sysno = -1; /* a final EINTR: signal_deliver must not restart it */
	return -EINTR;
}

static long sys_sched_yield(struct process *p, const uint64_t *a)
{
	thread_yield();
	return 0;
}

/* ---- memory -------------------------------------------------------------------- */

/* Page-aligned addr, len > 0 and [addr, addr + len) in user space. */
static bool user_range_ok(uint64_t addr, uint64_t len)
{
	return !(addr & PAGE_MASK) && len && len <= MEM_USER_TOP &&
	       addr <= MEM_USER_TOP - ((len + PAGE_MASK) & ~PAGE_MASK);
}

static long mem_map_call(struct process *p, unsigned op, uint64_t addr, uint64_t len,
			 uint32_t prot, uint32_t flags)
{
	struct mem_map_req rq = {
		.pid = p->pid, .prot = prot, .flags = flags, .addr = addr, .len = len};
	struct mem_value rp;
	int err = process_mem_call(p, op, &rq, sizeof(rq), &rp, sizeof(rp));

	return err ? err : (long)rp.value;
}

static uint64_t page_up(uint64_t v)
{
	return (v + PAGE_MASK) & ~PAGE_MASK;
}

/* The part of an address-space change that replaces what was at [start,
 * end) (munmap, MAP_FIXED, mremap's target): forget it, drop its lines
 * (shared ones are left, stored if dirty), then its shared ranges. */
static void replace_lines(struct process *p, uint64_t start, uint64_t end)
{
	excache_fresh_remove(p, start, page_up(end));
	excache_drop_range(p, start, end, false);
	excache_shared_unmap(p, start, page_up(end));
}

/* Whether the home's answer r to a mapping of len bytes is an address
 * (a page aligned range of user space). */
static bool mapped_at(long r, uint64_t len)
{
	return r >= 0 && !((uint64_t)r & PAGE_MASK) && (uint64_t)r < MEM_USER_TOP &&
	       page_up(len) <= MEM_USER_TOP - (uint64_t)r;
}

/* Room in p's shared ranges for a MAP_SHARED mapping (flags), which
 * replaces [addr, addr + len) if replace. */
static int shared_room(struct process *p, uint64_t flags, bool replace, uint64_t addr,
		       uint64_t len)
{
	if ((flags & MAP_TYPE) == MAP_PRIVATE)
		return 0;
	return replace ? excache_shared_room(p, addr, addr + page_up(len), 1)
		       : excache_shared_room(p, 0, 0, 1);
}

/* The home mapped [r, r + len) MAP_SHARED as object key from page pgoff:
 * the ExCache records it, or the mapping is undone (-ENOMEM: another
 * thread took the room shared_room saw). */
static long shared_mapped(struct process *p, long r, uint64_t len, uint64_t key,
			  uint64_t pgoff, uint32_t prot)
{
	if (!excache_shared_map(p, (uint64_t)r, (uint64_t)r + page_up(len), key, pgoff, prot))
		return r;
	mem_map_call(p, MSG_MEM_MUNMAP, (uint64_t)r, len, 0, 0);
	return -ENOMEM;
}

/* Anonymous mappings. A new private one is fresh (never written: zero on
 * every memory node), which the ExCache is told after the home made it;
 * a MAP_SHARED one gets a new object key (never fresh: a forked child
 * must not zero-fill a page its parent wrote); MAP_FIXED first forgets
 * and drops what it replaces. */
static long mmap_anon(struct process *p, const uint64_t *a)
{
	uint64_t addr = a[0], len = a[1], flags = a[3];
	bool replace = (flags & MAP_FIXED) && !(flags & MAP_FIXED_NOREPLACE);
	long r;

	if (!len || len > MEM_USER_TOP)
		return -EINVAL;
	if (replace && !user_range_ok(addr, len))
		return -EINVAL;
	r = shared_room(p, flags, replace, addr, len);
	if (r)
		return r;
	if (replace) {
		excache_vm_begin(p);
		replace_lines(p, addr, addr + len);
	}
	r = mem_map_call(p, MSG_MEM_MMAP, addr, len, (uint32_t)a[2], (uint32_t)flags);
	if (replace)
		excache_vm_end(p);
	if (!mapped_at(r, len))
		return r;
	if ((flags & MAP_TYPE) != MAP_PRIVATE)
		return shared_mapped(p, r, len, excache_anon_key(), 0, (uint32_t)a[2]);
	excache_fresh_add(p, (uint64_t)r, (uint64_t)r + page_up(len), (uint32_t)a[2]);
	return r;
}

/* Whether fd's file f may be mapped with prot and flags, as Linux's
 * do_mmap decides: a regular file of the storage node, opened for
 * reading, and for writing too if a shared mapping may write (not with
 * O_APPEND). Fills *attr. */
static int mmap_file_check(struct file *f, uint32_t prot, uint32_t flags,
			   struct fs_attr *attr)
{
	unsigned acc = f->flags & O_ACCMODE;
	bool shared_write = (flags & MAP_TYPE) != MAP_PRIVATE && (prot & MEM_PROT_WRITE);

	if (f->flags & O_PATH)
		return -EBADF;
	if (shared_write && (acc != O_RDWR || (f->flags & O_APPEND)))
		return -EACCES;
	if (acc == O_WRONLY)
		return -EACCES;
	if (!f->path || file_st_dev(f->path) != file_st_dev("/") || file_stat(f, attr) ||
	    (attr->mode & FS_S_IFMT) != FS_S_IFREG)
		return -ENODEV; /* pipes, devices, /proc, directories */
	if (f->ino && (attr->ino != f->ino || attr->gen != f->gen))
		return -ESTALE; /* its path names another file now (NFS's answer) */
	return 0;
}

/* A file mapping (caller's fd, in the address space it uses): the home
 * reads its pages from the file at their first miss (never zero-filled
 * here: not a fresh range). The file is named by its identity, (inode,
 * generation), and a MAP_SHARED one is recorded with it as its object
 * key, so that every process mapping the file shares its lines, and a
 * new file that got an unlinked one's inode number shares none of
 * them. */
static long mmap_file(struct process *caller, const uint64_t *a)
{
	uint64_t addr = a[0], len = a[1], flags = a[3], fd = a[4];
	bool replace = (flags & MAP_FIXED) && !(flags & MAP_FIXED_NOREPLACE);
	struct file *f = fd <= INT32_MAX ? fd_get(caller->files, (int)fd) : NULL;
	struct process *p = process_mm(caller); /* the address space it changes */
	struct mem_mmap_file_req *rq = NULL;
	struct fs_attr attr;
	struct mem_value rp;
	long r;

	if (!f)
		return -EBADF;
	r = !len || len > MEM_USER_TOP ? -EINVAL
				       : mmap_file_check(f, (uint32_t)a[2], (uint32_t)flags, &attr);
	if (!r && replace && !user_range_ok(addr, len))
		r = -EINVAL;
	if (!r)
		r = shared_room(p, flags, replace, addr, len);
	if (!r)
		rq = kzalloc(sizeof(*rq));
	if (!r && !rq)
		r = -ENOMEM;
	if (!r && strlen(f->path) >= sizeof(rq->path))
		r = -ENAMETOOLONG;
	if (r)
		goto put_file;
	*rq = (struct mem_mmap_file_req){.map = {.pid = p->pid, .prot = (uint32_t)a[2],
						 .flags = (uint32_t)flags, .addr = addr, .len = len},
					 .offset = a[5], .ino = attr.ino, .gen = attr.gen,
					 .cred = fsc_root};
	strlcpy(rq->path, f->path, sizeof(rq->path));
	if (replace) {
		excache_vm_begin(p);
		replace_lines(p, addr, addr + len);
	}
	r = process_mem_call(p, MSG_MEM_MMAP_FILE, rq, sizeof(*rq), &rp, sizeof(rp));
	if (replace)
		excache_vm_end(p);
	r = r ? r : (long)rp.value;
	if (mapped_at(r, len) && (flags & MAP_TYPE) != MAP_PRIVATE)
		r = shared_mapped(p, r, len, exsh_file_key(attr.ino, attr.gen), a[5] / MEM_PAGE_SIZE,
				  (uint32_t)a[2]);
	kfree(rq);
put_file:
	file_put(f);
	return r;
}

static long sys_mmap(struct process *p, const uint64_t *a)
{
	if (a[5] & PAGE_MASK)
		return -EINVAL; /* x86-64's mmap: the offset in bytes, page aligned */
	return a[3] & MAP_ANONYMOUS ? mmap_anon(process_mm(p), a) : mmap_file(p, a);
}

static long sys_munmap(struct process *caller, const uint64_t *a)
{
	struct process *p = process_mm(caller); /* a vfork child: its parent's */
	long r;

	if (!user_range_ok(a[0], a[1]))
		return -EINVAL;
	if (excache_shared_room(p, a[0], a[0] + page_up(a[1]), 0))
		return -ENOMEM; /* it would split a shared range: no room */
	excache_vm_begin(p); /* other threads' misses meanwhile are redone */
	replace_lines(p, a[0], a[0] + a[1]);
	r = mem_map_call(p, MSG_MEM_MUNMAP, a[0], a[1], 0, 0);
	excache_vm_end(p);
	return r;
}

/* A range that stops being fresh stays so: its written pages are only
 * in dirty lines, which the drop stores. Shared ranges take the new prot
 * (p's next miss there maps the line with it). */
static long sys_mprotect(struct process *caller, const uint64_t *a)
{
	struct process *p = process_mm(caller); /* a vfork child: its parent's */
	int err;

	long r;

	if (!user_range_ok(a[0], a[1]))
		return -EINVAL;
	if (excache_shared_room(p, a[0], a[0] + page_up(a[1]), 0))
		return -ENOMEM;
	excache_vm_begin(p);
	excache_fresh_remove(p, a[0], a[0] + page_up(a[1]));
	err = excache_drop_range(p, a[0], a[0] + a[1], true);
	r = err ? err : mem_map_call(p, MSG_MEM_MPROTECT, a[0], a[1], (uint32_t)a[2], 0);
	if (!r)
		excache_shared_protect(p, a[0], a[0] + page_up(a[1]), (uint32_t)a[2]);
	excache_vm_end(p);
	return r;
}

/* msync: the dirty shared lines of the range are stored (they stay
 * cached), then the home writes the MAP_SHARED pages to their files. The
 * home checks the arguments. */
static long sys_msync(struct process *caller, const uint64_t *a)
{
	struct process *p = process_mm(caller); /* a vfork child: its parent's */
	int err = 0;

	if (!(a[0] & PAGE_MASK) && a[1] <= MEM_USER_TOP)
		err = excache_clean_range(p, a[0], a[0] + a[1]);
	return err ? err : mem_map_call(p, MSG_MEM_MSYNC, a[0], a[1], 0, (uint32_t)a[2]);
}

#define MADV_DONTNEED 4
#define MADV_FREE     8

/* madvise: MADV_DONTNEED and MADV_FREE drop the lines of the range
 * (shared ones are left, stored if dirty, since those pages stay), then
 * the home frees the pages of private mappings; other advice only asks
 * the home, which checks it and the range. */
static long sys_madvise(struct process *caller, const uint64_t *a)
{
	struct process *p = process_mm(caller); /* a vfork child: its parent's */
	bool drop = (a[2] == MADV_DONTNEED || a[2] == MADV_FREE) && !(a[0] & PAGE_MASK) &&
		    a[1] && a[1] <= MEM_USER_TOP;
	long r;

	if (drop) {
		excache_vm_begin(p);
		excache_drop_range(p, a[0], a[0] + a[1], false);
	}
	r = a[2] > UINT32_MAX ? -EINVAL
			      : mem_map_call(p, MSG_MEM_MADVISE, a[0], a[1], 0, (uint32_t)a[2]);
	if (drop)
		excache_vm_end(p);
	return r;
}

/* After a successful mremap of a shared mapping (was, as it was): the
 * old range is no longer shared, the new one [to, to + len) maps the same
 * object from the old range's page. */
static void shared_moved(struct process *p, const struct excache_shared *was, uint64_t from,
			 uint64_t from_len, uint64_t to, uint64_t len)
{
	uint64_t pgoff = was->pgoff + (from - was->start) / MEM_PAGE_SIZE;

	excache_shared_unmap(p, from, from + page_up(from_len));
	if (excache_shared_map(p, to, to + page_up(len), was->key, pgoff, was->prot))
		pr_warn("pid %u: mremap: shared ranges full: [%#llx, %#llx) is no longer "
			"shared",
			p->pid, (unsigned long long)to, (unsigned long long)(to + len));
}

/* mremap: the old range's lines are stored and dropped (its frames move
 * on the home), MREMAP_FIXED's target forgotten like MAP_FIXED's; the
 * home does the rest and checks the arguments; a shared range moves with
 * its object. */
static long sys_mremap(struct process *caller, const uint64_t *a)
{
	struct process *p = process_mm(caller); /* a vfork child: its parent's */
	struct mem_remap_req rq = {.pid = p->pid, .flags = (uint32_t)a[3], .old_addr = a[0],
				   .old_len = a[1], .new_len = a[2], .new_addr = a[4]};
	bool fixed = a[3] & MEM_MREMAP_FIXED;
	bool shared;
	struct excache_shared was;
	struct mem_value rp;
	int err;

	if (a[3] > UINT32_MAX || (a[0] & PAGE_MASK) || !a[1] || a[1] > MEM_USER_TOP ||
	    !a[2] || a[2] > MEM_USER_TOP)
		return -EINVAL;
	if (fixed && !user_range_ok(a[4], a[2]))
		return -EINVAL;
	shared = !excache_shared_get(p, a[0], &was);
	if (shared && (excache_shared_room(p, a[0], a[0] + page_up(a[1]), 1) ||
		       (fixed && excache_shared_room(p, a[4], a[4] + page_up(a[2]), 1))))
		return -ENOMEM;
	excache_vm_begin(p);
	excache_fresh_remove(p, a[0], a[0] + page_up(a[1]));
	err = excache_drop_range(p, a[0], a[0] + a[1], true);
	if (!err && fixed)
		replace_lines(p, a[4], a[4] + a[2]);
	if (!err)
		err = process_mem_call(p, MSG_MEM_MREMAP, &rq, sizeof(rq), &rp, sizeof(rp));
	if (!err && shared && mapped_at((long)rp.value, a[2]))
		shared_moved(p, &was, a[0], a[1], rp.value, a[2]);
	excache_vm_end(p);
	return err ? err : (long)rp.value;
}

/* brk's core, under p's brk_lock. */
static long brk_locked(struct process *p, const uint64_t *a)
{
	struct mem_pid_req rq = {.pid = p->pid, .addr = a[0]};
	struct mem_value rp;
	int err;

	uint64_t old = p->brk;
	bool shrink = a[0] >= p->brk_start && a[0] < p->brk;

	/* a shrink that the home will accept: its pages go, unwritten back */
	if (shrink) {
		excache_vm_begin(p);
		excache_fresh_remove(p, page_up(a[0]), page_up(p->brk));
		excache_drop_range(p, page_up(a[0]), p->brk + PAGE_MASK, false);
	}
	err = process_mem_call(p, MSG_MEM_BRK, &rq, sizeof(rq), &rp, sizeof(rp));
	if (shrink)
		excache_vm_end(p);
	if (err)
		return (long)p->brk; /* Linux's brk never fails: the old break */
	if (rp.value < MEM_USER_TOP)
		p->brk = rp.value;
	/* pages the heap gained were never written */
	if (page_up(p->brk) > page_up(old))
		excache_fresh_add(p, page_up(old), page_up(p->brk),
				  MEM_PROT_READ | MEM_PROT_WRITE);
	return (long)p->brk;
}

static long sys_brk(struct process *caller, const uint64_t *a)
{
	struct process *p = process_mm(caller); /* a vfork child: its parent's */
	long r;

	wait_for_completion(&p->brk_lock); /* threads: one brk at a time */
	r = brk_locked(p, a);
	complete(&p->brk_lock);
	return r;
}

/*
 * mbind(addr, len, mode, nodemask, maxnode, flags) as a Linux machine with
 * one NUMA node, node 0, answers it: a vNode's memory is one node to its
 * programs (the memory components behind it are GMM's to choose). The
 * arguments are checked as Linux checks them, and a policy naming node 0
 * succeeds without changing where pages go.
 */
#define MPOL_DEFAULT	      0
#define MPOL_PREFERRED	      1
#define MPOL_BIND	      2
#define MPOL_INTERLEAVE	      3
#define MPOL_LOCAL	      4
#define MPOL_PREFERRED_MANY   5
#define MPOL_MODE_FLAGS	      (3u << 14) /* MPOL_F_STATIC_NODES, MPOL_F_RELATIVE_NODES */
#define MPOL_MF_STRICT	      1
#define MPOL_MF_MOVE	      2
#define MPOL_MF_MOVE_ALL      4
#define MPOL_MAXNODE	      (8 * MEM_PAGE_SIZE) /* bits of a nodemask at most */

/* The first word of the user's nodemask (maxnode - 1 bits, as Linux
 * reads it); the bits past the first word must be 0 (no such nodes). */
static long nodemask_word(uint64_t umask, uint64_t maxnode, uint64_t *word)
{
	uint64_t bits = maxnode ? maxnode - 1 : 0, w;

	*word = 0;
	if (maxnode > MPOL_MAXNODE)
		return -EINVAL;
	if (!umask || !bits)
		return 0;
	for (uint64_t i = 0; i * 64 < bits; i++) {
		if (copy_from_user(&w, umask + i * 8, sizeof(w)))
			return -EFAULT;
		if (bits - i * 64 < 64)
			w &= (1ull << (bits - i * 64)) - 1;
		if (i == 0)
			*word = w;
		else if (w)
			return -EINVAL;
	}
	return 0;
}

static long sys_mbind(struct process *p, const uint64_t *a)
{
	uint32_t mode = (uint32_t)a[2] & ~MPOL_MODE_FLAGS;
	uint64_t nodes;
	struct cred c;
	long err;

	if (a[0] % MEM_PAGE_SIZE || a[0] + a[1] < a[0] || (a[2] >> 32) ||
	    mode > MPOL_PREFERRED_MANY ||
	    (a[5] & ~(uint64_t)(MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)))
		return -EINVAL;
	err = nodemask_word(a[3], a[4], &nodes);
	if (err)
		return err;
	if (mode == MPOL_DEFAULT || mode == MPOL_LOCAL) {
		if (nodes || (a[2] & MPOL_MODE_FLAGS))
			return -EINVAL;
	} else if (mode != MPOL_PREFERRED || nodes) {
		if (!nodes || nodes & ~1ull)
			return -EINVAL; /* empty, or a node other than 0 */
	}
	process_cred(p, &c);
	if ((a[5] & MPOL_MF_MOVE_ALL) && c.euid != 0)
		return -EPERM;
	return 0;
}

/* ---- time ----------------------------------------------------------------------- */

static uint64_t clock_of(uint64_t id)
{
	return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_TAI
		       ? wall_clock_ns()
		       : clock_ns();
}

static long sys_clock_gettime(struct process *p, const uint64_t *a)
{
	struct k_timespec ts;
	uint64_t ns;

	if (a[0] > CLOCK_TAI)
		return -EINVAL;
	ns = clock_of(a[0]);
	ts.sec = (int64_t)(ns / NS_PER_S);
	ts.nsec = (int64_t)(ns % NS_PER_S);
	return copy_to_user(a[1], &ts, sizeof(ts));
}

/* clock_getres: 1 ns for every clock, as Linux's high-resolution
 * clocks say (clock_ns counts nanoseconds); a NULL res only checks the
 * clock id. */
static long sys_clock_getres(struct process *p, const uint64_t *a)
{
	struct k_timespec res = {0, 1};

	if (a[0] > CLOCK_TAI)
		return -EINVAL;
	return a[1] ? copy_to_user(a[1], &res, sizeof(res)) : 0;
}

static long sys_gettimeofday(struct process *p, const uint64_t *a)
{
	uint64_t ns = wall_clock_ns();
	struct k_timeval tv = {(int64_t)(ns / NS_PER_S), (int64_t)(ns % NS_PER_S / 1000)};
	uint64_t tz[1] = {0}; /* struct timezone: minutes west, dst: 0, 0 */

	if (a[0] && copy_to_user(a[0], &tv, sizeof(tv)))
		return -EFAULT;
	if (a[1] && copy_to_user(a[1], tz, sizeof(tz)))
		return -EFAULT;
	return 0;
}

/* time(tloc): the realtime clock's seconds, also stored at tloc if not
 * NULL (glibc calls it where there is no vDSO). */
static long sys_time(struct process *p, const uint64_t *a)
{
	int64_t t = (int64_t)(wall_clock_ns() / NS_PER_S);

	if (a[0] && copy_to_user(a[0], &t, sizeof(t)))
		return -EFAULT;
	return t;
}

uint64_t syscall_timespec_ns(const struct k_timespec *ts)
{
	if ((uint64_t)ts->sec >= SYSCALL_NS_FOREVER / NS_PER_S)
		return SYSCALL_NS_FOREVER;
	return (uint64_t)ts->sec * NS_PER_S + (uint64_t)ts->nsec;
}

int syscall_get_timespec(uint64_t uts, uint64_t *ns)
{
	struct k_timespec ts;

	if (copy_from_user(&ts, uts, sizeof(ts)))
		return -EFAULT;
	if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= (int64_t)NS_PER_S)
		return -EINVAL;
	*ns = syscall_timespec_ns(&ts);
	return 0;
}

/* The time left of an interrupted sleep to rem (if given). */
static long sleep_interrupted(long r, uint64_t urem, uint64_t left)
{
	struct k_timespec ts = {(int64_t)(left / NS_PER_S), (int64_t)(left % NS_PER_S)};

	if (r && urem && copy_to_user(urem, &ts, sizeof(ts)))
		return -EFAULT;
	return r;
}

static long sys_nanosleep(struct process *p, const uint64_t *a)
{
	uint64_t ns, left = 0;
	int err = syscall_get_timespec(a[0], &ns);
	long r;

	if (err)
		return err;
	r = signal_sleep(p, ns, &left); /* before left is read */
	return sleep_interrupted(r, a[1], left);
}

static long sys_clock_nanosleep(struct process *p, const uint64_t *a)
{
	uint64_t ns, now, left = 0;
	long r;
	int err;

	if (a[0] > CLOCK_TAI)
		return -EINVAL;
	err = syscall_get_timespec(a[2], &ns);
	if (err)
		return err;
	if (a[1] & TIMER_ABSTIME) {
		now = clock_of(a[0]);
		/* no rem; a restart sleeps to the same deadline */
		return signal_sleep(p, ns > now ? ns - now : 0, &left);
	}
	r = signal_sleep(p, ns, &left); /* before left is read */
	return sleep_interrupted(r, a[3], left);
}

/* ---- randomness ------------------------------------------------------------------ */

static long sys_getrandom(struct process *p, const uint64_t *a)
{
	uint64_t buf[COPY_CHUNK / 8], done = 0, len = a[1];

	if (a[2] & ~7ull) /* GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE */
		return -EINVAL;
	if (len > 0x1ffffff)
		len = 0x1ffffff; /* Linux's cap per call */
	while (done < len) {
		size_t n = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);

		for (size_t i = 0; i < (n + 7) / 8; i++)
			buf[i] = file_random_u64();
		if (copy_to_user(a[0] + done, buf, n))
			return done ? (long)done : -EFAULT;
		done += n;
	}
	return (long)done;
}

/* ---- Tessera's own ------------------------------------------------------------------
 */

static long sys_tessera_excache_stats(struct process *p, const uint64_t *a)
{
	struct tessera_excache_stats st;

	if (!excache_ready())
		return -ENODEV;
	excache_get_stats(process_mm(p), &st); /* the counters of the space it uses */
	return copy_to_user(a[0], &st, sizeof(st));
}

#define FABRIC_PING_TIMEOUT_NS NS_PER_S

/* tessera_fabric_ping(bytes, count, ns[count]): include/proto/tessera_sys.h. */
static long sys_tessera_fabric_ping(struct process *p, const uint64_t *a)
{
	uint64_t bytes = a[0], count = a[1], *ns;
	struct rpc_ping_bulk *bulk = NULL;
	struct rpc_node *rn;
	long err = 0;

	if ((bytes != sizeof(struct msg_ping) && bytes != MSG_BULK_BYTES) || !count ||
	    count > TESSERA_FABRIC_PING_MAX)
		return -EINVAL;
	if (rpc_open(&rn))
		return -ENODEV;
	ns = kmalloc(count * sizeof(*ns));
	if (bytes == MSG_BULK_BYTES)
		bulk = kmalloc(sizeof(*bulk));
	if (!ns || (bytes == MSG_BULK_BYTES && !bulk)) {
		err = -ENOMEM;
		goto out_free;
	}
	for (uint64_t i = 0; i < count && !err; i++)
		err = rpc_ping(rn, p->home, bulk, i, FABRIC_PING_TIMEOUT_NS, &ns[i]);
	if (!err)
		err = copy_to_user(a[2], ns, count * sizeof(*ns));
out_free:
	kfree(bulk);
	kfree(ns);
	return err;
}

/* ---- LegoOS's own, at its numbers (no Linux call has them) ---------------------------
 *
 * So that programs written for LegoOS run unmodified: pcache_stat (667)
 * reports the ExCache, LegoOS's pcache, in LegoOS's struct; drop_page_cache
 * (668) empties the buffer cache of the vNode's memory node, as LegoOS's
 * asks its memory node to drop its page cache; checkpoint_process (666)
 * writes the caller's image as an ELF core file (checkpoint.c).
 */

struct legoos_pcache_stat {
	uint64_t nr_cachelines;	  /* sets x associativity */
	uint64_t nr_cachesets;
	uint64_t associativity;
	uint64_t cacheline_size;
	uint64_t way_stride;	  /* sets x line size */
	uint64_t nr_pgfault;	  /* the node's misses */
	uint64_t nr_pgfault_code; /* of them, instruction fetches */
	uint64_t nr_flush;	  /* dirty lines written back */
	uint64_t nr_eviction;	  /* lines taken as victims */
};
_Static_assert(sizeof(struct legoos_pcache_stat) == 72, "LegoOS's struct pcache_stat");

static long sys_pcache_stat(struct process *p, const uint64_t *a)
{
	struct tessera_excache_stats st;
	struct legoos_pcache_stat out;

	if (!excache_ready())
		return -ENODEV;
	excache_get_stats(process_mm(p), &st); /* the counters of the space it uses */
	out = (struct legoos_pcache_stat){
		.nr_cachelines = st.lines,
		.nr_cachesets = st.sets,
		.associativity = st.ways,
		.cacheline_size = EXCACHE_LINE,
		.way_stride = (uint64_t)st.sets * EXCACHE_LINE,
		.nr_pgfault = st.node.misses,
		.nr_pgfault_code = st.node.code_misses,
		.nr_flush = st.node.flushes + st.node.piggybacks,
		.nr_eviction = st.node.evictions,
	};
	return copy_to_user(a[0], &out, sizeof(out));
}

static long sys_drop_page_cache(struct process *p, const uint64_t *a)
{
	return file_cache_drop();
}

/* ---- the table ----------------------------------------------------------------------
 */

#define SC(nr, nm, f) [nr] = {.name = nm, .fn = f}

static const struct syscall_entry syscall_table[SYSCALL_TABLE_SIZE] = {
	SC(0, "read", sys_read),
	SC(1, "write", sys_write),
	SC(2, "open", sys_open),
	SC(3, "close", sys_close),
	SC(4, "stat", sys_stat),
	SC(5, "fstat", sys_fstat),
	SC(6, "lstat", sys_lstat),
	SC(7, "poll", sys_poll),
	SC(8, "lseek", sys_lseek),
	SC(9, "mmap", sys_mmap), /* partial: MAP_SHARED pages are one copy on the home and one ExCache line on a processor: live between its processes; across processors a store is seen once it reached the home (msync, munmap, eviction, exit); a file unlinked while mapped keeps its pages in memory but no longer writes back (ESTALE), and mmap of an fd whose path names another file now is ESTALE */
	SC(10, "mprotect", sys_mprotect),
	SC(11, "munmap", sys_munmap),
	SC(12, "brk", sys_brk),
	SC(13, "rt_sigaction", sys_rt_sigaction),
	SC(14, "rt_sigprocmask", sys_rt_sigprocmask),
	SC(15, "rt_sigreturn", sys_rt_sigreturn),
	SC(16, "ioctl", sys_ioctl),
	SC(17, "pread64", sys_pread64),
	SC(18, "pwrite64", sys_pwrite64),
	SC(19, "readv", sys_readv),
	SC(20, "writev", sys_writev),
	SC(21, "access", sys_access),
	SC(22, "pipe", sys_pipe),
	SC(23, "select", sys_select),
	SC(24, "sched_yield", sys_sched_yield),
	SC(25, "mremap", sys_mremap), /* partial: mappings on the home node; old_len 0 and MREMAP_DONTUNMAP not yet */
	SC(26, "msync", sys_msync),
	SC(28, "madvise", sys_madvise),
	SC(32, "dup", sys_dup),
	SC(33, "dup2", sys_dup2),
	SC(34, "pause", sys_pause),
	SC(35, "nanosleep", sys_nanosleep),
	SC(36, "getitimer", sys_getitimer), /* partial: ITIMER_REAL only */
	SC(37, "alarm", sys_alarm),
	SC(38, "setitimer", sys_setitimer), /* partial: ITIMER_REAL only */
	SC(39, "getpid", sys_getpid),
	SC(40, "sendfile", sys_sendfile),   /* partial: between regular files only */
	SC(41, "socket", sys_socket), /* partial: AF_UNIX only (no network stack) */
	SC(42, "connect", sys_connect),
	SC(43, "accept", sys_accept),
	SC(44, "sendto", sys_sendto),
	SC(45, "recvfrom", sys_recvfrom),
	SC(46, "sendmsg", sys_sendmsg), /* partial: SCM_RIGHTS only of control messages */
	SC(47, "recvmsg", sys_recvmsg),
	SC(48, "shutdown", sys_shutdown),
	SC(49, "bind", sys_bind), /* a path's name is processor-local, not on the disk */
	SC(50, "listen", sys_listen),
	SC(51, "getsockname", sys_getsockname),
	SC(52, "getpeername", sys_getpeername),
	SC(53, "socketpair", sys_socketpair), /* partial: AF_UNIX only */
	SC(54, "setsockopt", sys_setsockopt), /* partial: SOL_SOCKET; buffer sizes kept, not applied */
	SC(55, "getsockopt", sys_getsockopt), /* partial: SOL_SOCKET */
	SC(56, "clone", sys_clone), /* partial: CLONE_VM only with CLONE_THREAD or CLONE_VFORK */
	SC(57, "fork", sys_fork),
	SC(58, "vfork", sys_vfork),
	SC(59, "execve", sys_execve),
	SC(60, "exit", sys_exit),
	SC(61, "wait4", sys_wait4),  /* rusage all zero */
	SC(62, "kill", sys_kill),
	SC(63, "uname", sys_uname),
	SC(72, "fcntl", sys_fcntl),         /* partial: record locks are the processor's own (not seen by other processors of the vNode) */
	SC(73, "flock", sys_flock),         /* partial: locks are the processor's own (not seen by other processors of the vNode) */
	SC(74, "fsync", sys_fsync),
	SC(75, "fdatasync", sys_fdatasync),
	SC(76, "truncate", sys_truncate),
	SC(77, "ftruncate", sys_ftruncate),
	SC(78, "getdents", sys_getdents),
	SC(79, "getcwd", sys_getcwd),
	SC(80, "chdir", sys_chdir),
	SC(81, "fchdir", sys_fchdir),
	SC(82, "rename", sys_rename),
	SC(83, "mkdir", sys_mkdir),
	SC(84, "rmdir", sys_rmdir),
	SC(85, "creat", sys_creat),
	SC(86, "link", sys_link),
	SC(87, "unlink", sys_unlink),
	SC(88, "symlink", sys_symlink),
	SC(89, "readlink", sys_readlink),
	SC(90, "chmod", sys_chmod),
	SC(91, "fchmod", sys_fchmod),
	SC(92, "chown", sys_chown),
	SC(93, "fchown", sys_fchown),
	SC(94, "lchown", sys_lchown),
	SC(95, "umask", sys_umask),
	SC(96, "gettimeofday", sys_gettimeofday),
	SC(97, "getrlimit", sys_getrlimit),
	SC(98, "getrusage", sys_getrusage), /* times 0: no CPU accounting yet */
	SC(99, "sysinfo", sys_sysinfo),
	SC(100, "times", sys_times), /* times 0: no CPU accounting yet */
	SC(102, "getuid", sys_getuid),
	SC(104, "getgid", sys_getgid),
	SC(105, "setuid", sys_setuid),
	SC(106, "setgid", sys_setgid),
	SC(107, "geteuid", sys_geteuid),
	SC(108, "getegid", sys_getegid),
	SC(109, "setpgid", sys_setpgid),
	SC(110, "getppid", sys_getppid),
	SC(111, "getpgrp", sys_getpgrp),
	SC(112, "setsid", sys_setsid),
	SC(113, "setreuid", sys_setreuid),
	SC(114, "setregid", sys_setregid),
	SC(115, "getgroups", sys_getgroups),
	SC(116, "setgroups", sys_setgroups), /* partial: at most 32 groups, 8 checked */
	SC(117, "setresuid", sys_setresuid),
	SC(118, "getresuid", sys_getresuid),
	SC(119, "setresgid", sys_setresgid),
	SC(120, "getresgid", sys_getresgid),
	SC(121, "getpgid", sys_getpgid),
	SC(122, "setfsuid", sys_setfsuid),
	SC(123, "setfsgid", sys_setfsgid),
	SC(124, "getsid", sys_getsid),
	SC(127, "rt_sigpending", sys_rt_sigpending),
	SC(128, "rt_sigtimedwait", sys_rt_sigtimedwait),
	SC(129, "rt_sigqueueinfo", sys_rt_sigqueueinfo), /* partial: no queue, values merge */
	SC(130, "rt_sigsuspend", sys_rt_sigsuspend),
	SC(131, "sigaltstack", sys_sigaltstack),
	SC(132, "utime", sys_utime),
	SC(137, "statfs", sys_statfs),
	SC(138, "fstatfs", sys_fstatfs),
	SC(143, "sched_getparam", sys_sched_getparam),
	SC(145, "sched_getscheduler", sys_sched_getscheduler),
	SC(157, "prctl", sys_prctl), /* partial: PR_SET_NAME, PR_GET_NAME */
	SC(158, "arch_prctl", sys_arch_prctl),
	SC(160, "setrlimit", sys_setrlimit),
	SC(162, "sync", sys_sync),
	SC(186, "gettid", sys_gettid),
	SC(200, "tkill", sys_tkill),
	SC(201, "time", sys_time),
	SC(202, "futex", sys_futex), /* partial: wait and wake only (shared ones across processes in MAP_SHARED memory) */
	SC(203, "sched_setaffinity", sys_sched_setaffinity), /* accepted, not enforced */
	SC(204, "sched_getaffinity", sys_sched_getaffinity),
	SC(213, "epoll_create", sys_epoll_create),
	SC(217, "getdents64", sys_getdents64),
	SC(218, "set_tid_address", sys_set_tid_address),
	SC(219, "restart_syscall", sys_restart_syscall), /* partial: never a restart block: EINTR */
	SC(228, "clock_gettime", sys_clock_gettime),
	SC(229, "clock_getres", sys_clock_getres),
	SC(230, "clock_nanosleep", sys_clock_nanosleep),
	SC(231, "exit_group", sys_exit_group),
	SC(232, "epoll_wait", sys_epoll_wait),
	SC(233, "epoll_ctl", sys_epoll_ctl),
	SC(234, "tgkill", sys_tgkill),
	SC(235, "utimes", sys_utimes),
	SC(237, "mbind", sys_mbind), /* partial: one NUMA node; placement stays GMM's */
	SC(247, "waitid", sys_waitid),
	SC(257, "openat", sys_openat),
	SC(258, "mkdirat", sys_mkdirat),
	SC(260, "fchownat", sys_fchownat),
	SC(262, "newfstatat", sys_newfstatat),
	SC(263, "unlinkat", sys_unlinkat),
	SC(264, "renameat", sys_renameat),
	SC(265, "linkat", sys_linkat),
	SC(266, "symlinkat", sys_symlinkat),
	SC(267, "readlinkat", sys_readlinkat),
	SC(268, "fchmodat", sys_fchmodat),
	SC(269, "faccessat", sys_faccessat),
	SC(270, "pselect6", sys_pselect6),
	SC(271, "ppoll", sys_ppoll),
	SC(273, "set_robust_list", sys_set_robust_list),
	SC(274, "get_robust_list", sys_get_robust_list),
	SC(280, "utimensat", sys_utimensat),
	SC(281, "epoll_pwait", sys_epoll_pwait),
	SC(288, "accept4", sys_accept4),
	SC(291, "epoll_create1", sys_epoll_create1),
	SC(292, "dup3", sys_dup3),
	SC(293, "pipe2", sys_pipe2),
	SC(295, "preadv", sys_preadv),
	SC(296, "pwritev", sys_pwritev),
	SC(297, "rt_tgsigqueueinfo", sys_rt_tgsigqueueinfo), /* partial: as 129 */
	SC(302, "prlimit64", sys_prlimit64),
	SC(309, "getcpu", sys_getcpu),
	SC(316, "renameat2", sys_renameat2),   /* partial: flags 0 only */
	SC(318, "getrandom", sys_getrandom), /* not cryptographic */
	SC(322, "execveat", sys_execveat),
	SC(324, "membarrier", sys_membarrier),
	SC(332, "statx", sys_statx),
	SC(436, "close_range", sys_close_range),
	SC(439, "faccessat2", sys_faccessat2),
	SC(441, "epoll_pwait2", sys_epoll_pwait2),
	SC(666, "checkpoint_process", sys_checkpoint_process), /* partial: the caller's, as an ELF core file; no restore */
	SC(667, "pcache_stat", sys_pcache_stat),	  /* LegoOS's: the ExCache */
	SC(668, "drop_page_cache", sys_drop_page_cache), /* LegoOS's: the buffer cache */
	SC(TESSERA_SYS_EXCACHE_STATS, "tessera_excache_stats", sys_tessera_excache_stats),
	SC(TESSERA_SYS_FABRIC_PING, "tessera_fabric_ping", sys_tessera_fabric_ping),
};

/* One bit per number: logged already. */
static uint64_t logged[(SYSCALL_TABLE_SIZE + 63) / 64];
static bool logged_beyond;

const struct syscall_entry *syscall_entry_of(uint64_t nr)
{
	if (nr >= SYSCALL_TABLE_SIZE || !syscall_table[nr].fn)
		return NULL;
	return &syscall_table[nr];
}

unsigned syscall_count(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < SYSCALL_TABLE_SIZE; i++)
		n += syscall_table[i].fn != NULL;
	return n;
}

static void log_unknown(uint64_t nr)
{
	bool first;

	if (nr < SYSCALL_TABLE_SIZE) {
		uint64_t bit = 1ull << (nr % 64);

		first = !(__atomic_fetch_or(&logged[nr / 64], bit, __ATOMIC_RELAXED) &
			  bit);
	} else {
		first = !__atomic_exchange_n(&logged_beyond, true, __ATOMIC_RELAXED);
	}
	if (first)
		pr_info("syscall %llu not implemented: ENOSYS%s", (unsigned long long)nr,
			nr < SYSCALL_TABLE_SIZE ? ""
						: " (beyond the table; logged once)");
}

long syscall_invoke(struct process *p, uint64_t nr, const uint64_t *args)
{
	const struct syscall_entry *e = syscall_entry_of(nr);

	if (!e) {
		log_unknown(nr);
		return -ENOSYS;
	}
	if (!p)
		return -ESRCH; /* a kernel thread (self tests) */
	return e->fn(p, args);
}

void syscall_dispatch(struct trap_frame *tf)
{
	uint64_t args[6] = {tf->rdi, tf->rsi, tf->rdx, tf->r10, tf->r8, tf->r9};
	struct process *p = process_current();
	struct pthread_info *self = p ? process_self(p) : NULL;
	long r;

	if (self) {
		self->tf = tf; /* fork and clone copy it */
		self->sysno = (int64_t)tf->rax; /* a restart needs it */
	}
	r = syscall_invoke(p, tf->rax, args);
	if (self)
		self->tf = NULL;
	tf->rax = (uint64_t)r;
	if (p)
		signal_deliver(p, tf);
}
