/*
 * Program images on the processor (pcomponent/exec.h): what a process
 * `run` starts first, and execve/execveat.
 *
 * The image itself is built by the home memory node (MEM_EXEC,
 * mcomponent/exec.c): it reads the ELF from its storage node, loads it
 * into a new address space beside the old one and swaps only when all
 * went well, so every failure (ENOENT, EACCES, ENOEXEC, ELIBBAD, E2BIG, ENOMEM)
 * leaves the caller's old image whole and the syscall simply returns the
 * error. The processor's part:
 *
 *   1. copy the path, argv and envp from user space into the MEM_EXEC
 *      request (strings packed as the home wants them: argc then envc
 *      NUL-ended strings in MEM_EXEC_STRINGS bytes; beyond that E2BIG);
 *   2. resolve the path (file_resolve: relative to dirfd or the working
 *      directory) and follow a /proc link (/proc/self/exe is how busybox
 *      re-executes itself in every pipeline): procfs_readlink; then find
 *      the name /proc/self/exe will show, with every symbolic link
 *      followed (path_follow, one readlink per component: /bin/cat ->
 *      busybox is /bin/busybox, as Linux shows it; more than 40 links:
 *      ELOOP; any other failure keeps the path as it is, and the home's
 *      answer to the load decides);
 *   3. end the process's other threads (process_dethread, Linux's
 *      de_thread; the caller's tid becomes the pid) and wait until they
 *      are gone. Linux does this only once the new image is known to
 *      load, so an exec that then fails (ENOEXEC from the home, an
 *      E2BIG) leaves the others running there; here they are gone
 *      already (they must not run while the image changes under them);
 *      then write back the process's dirty ExCache lines (the lines stay,
 *      clean): if the exec fails they are still the old image's; if it
 *      succeeds they can be thrown away, and no eviction in between can
 *      store an old page into the new image (a clean line is never
 *      written back);
 *   4. MEM_EXEC on the home for the same pid (a vfork child still in
 *      its parent's address space skips the write-back of step 3 and
 *      gets a new space of its own under its pid, as a first exec does,
 *      and a new uspace, which it moves to before it gives the
 *      parent's space back; its failure frees what the home built and
 *      leaves it in the parent's; a process replacing its own space
 *      first waits until no vfork child borrows it: exec_load);
 *   5. on success, past the point of no return: drop every line of the
 *      process without write-back and forget its fresh ranges and vRegion
 *      owners (excache_exec), then take the new image's fresh ranges
 *      (bss, the stack below its initial pages: their first touch is
 *      zero-filled here, excache_exec_fresh), close the close-on-exec fds, reset handled
 *      signals, set exe, name, command line and break, and rewrite the
 *      syscall's trap frame so that the return from the syscall enters
 *      the new image (rip = entry, rsp = the new stack, every other
 *      general register 0, rflags IF only), with a clean FPU/SSE state
 *      and FS base 0 (user_reset_fpu).
 *
 * The environment of a process `run` starts is the small default one
 * below; execve passes on whatever the caller gives.
 */
#include "exec.h"

#include "excache.h"
#include "file.h"
#include "path.h"
#include "process.h"
#include "procfs.h"
#include "signal.h"

#include <arch/trap.h>
#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <lib/printf.h>
#include <lib/string.h>
#include <proto/mem.h>
#include <proto/msg.h>

#define USER_RFLAGS 0x202ull /* IF, and the always-one bit */

static const char *const default_env[] = {
	"PATH=/bin:/usr/bin:/sbin:/usr/sbin",
	"HOME=/",
	"TERM=vt100",
	"USER=root",
	"LOGNAME=root",
	"SHELL=/bin/sh",
	"PWD=/",
};
#define DEFAULT_ENVC (sizeof(default_env) / sizeof(default_env[0]))

#define RLIM_INFINITY (~0ull)

/* Linux's RLIMIT_* numbers and a Debian box's defaults, with the limits
 * that are real here: fds per table, processes per processor, the stack
 * MEM_EXEC makes. */
void exec_default_rlimits(struct process *p)
{
	for (unsigned i = 0; i < PROCESS_RLIMITS; i++)
		p->info.rlim[i] = (struct process_rlimit){RLIM_INFINITY, RLIM_INFINITY};
	p->info.rlim[3] = (struct process_rlimit){MEM_STACK_SIZE, RLIM_INFINITY}; /* STACK */
	p->info.rlim[4] = (struct process_rlimit){0, RLIM_INFINITY};		   /* CORE */
	p->info.rlim[6] = (struct process_rlimit){PROCESS_MAX, PROCESS_MAX};	   /* NPROC */
	p->info.rlim[7] = (struct process_rlimit){FD_MAX, FD_MAX};		   /* NOFILE */
	p->info.rlim[8] = (struct process_rlimit){8u << 20, 8u << 20};		   /* MEMLOCK */
	p->info.rlim[11] = (struct process_rlimit){1024, 1024};	   /* SIGPENDING */
	p->info.rlim[12] = (struct process_rlimit){819200, 819200}; /* MSGQUEUE */
	p->info.rlim[13] = (struct process_rlimit){0, 0};	   /* NICE */
	p->info.rlim[14] = (struct process_rlimit){0, 0};	   /* RTPRIO */
}

/* ---- the request ------------------------------------------------------------ */

/* The request's frame: pid, the vNode's memory nodes (in memory= order,
 * whichever of them is p's home: the candidates for its vRegions), p's
 * file system credentials (the home reads the binary with them, and
 * makes AT_UID and AT_EUID of the uid, AT_GID and AT_EGID of the gid),
 * the absolute path. */
static int exec_req_init(struct process *p, const char *path, struct mem_exec_req *rq)
{
	memset(rq, 0, sizeof(*rq));
	rq->pid = p->pid;
	process_fs_cred(p, &rq->cred);
	for (unsigned i = 0; i < kconfig.nmemories && i < MEM_MAX_NODES; i++)
		rq->memory[rq->nmemory++] = kconfig.memory_ids[i];
	if (strlcpy(rq->path, path, sizeof(rq->path)) >= sizeof(rq->path))
		return -ENAMETOOLONG;
	return 0;
}

/* Appends s (with its NUL) to the request's strings. */
static int put_string(struct mem_exec_req *rq, const char *s)
{
	size_t len = strlen(s) + 1;

	if (rq->strings_len + len > sizeof(rq->strings))
		return -E2BIG;
	memcpy(rq->strings + rq->strings_len, s, len);
	rq->strings_len += (uint32_t)len;
	return 0;
}

/*
 * Appends the strings of the user vector uvec (NULL-ended array of
 * pointers; uvec 0 counts as empty, as Linux allows) to rq, counting
 * them in *count. -EFAULT, or -E2BIG when they do not fit.
 */
static int copy_user_strings(struct mem_exec_req *rq, uint64_t uvec, uint32_t *count)
{
	for (uint64_t i = 0; uvec; i++) {
		uint32_t room = sizeof(rq->strings) - rq->strings_len;
		uint64_t us;
		long n;

		if (copy_from_user(&us, uvec + i * sizeof(us), sizeof(us)))
			return -EFAULT;
		if (!us)
			break;
		if (!room)
			return -E2BIG;
		n = strncpy_from_user(rq->strings + rq->strings_len, us, room);
		if (n == -ENAMETOOLONG)
			return -E2BIG;
		if (n < 0)
			return (int)n;
		rq->strings_len += (uint32_t)n + 1;
		(*count)++;
	}
	return 0;
}

/* ---- what the process keeps of its image ----------------------------------------- */

/* comm: the base name of the path as given (Linux's kbasename). */
static void set_comm(struct process *p, const char *given)
{
	const char *base = given;

	for (const char *c = given; *c; c++)
		if (*c == '/')
			base = c + 1;
	memset(p->info.comm, 0, sizeof(p->info.comm));
	strlcpy(p->info.comm, base, sizeof(p->info.comm));
}

/* The argv part of the strings (the first argc of them), truncated. */
static void set_cmdline(struct process *p, const struct mem_exec_req *rq)
{
	uint32_t len = 0;

	for (uint32_t i = 0; i < rq->argc; i++)
		len += (uint32_t)strlen(rq->strings + len) + 1;
	if (len > sizeof(p->info.cmdline))
		len = sizeof(p->info.cmdline);
	memcpy(p->info.cmdline, rq->strings, len);
	p->info.cmdline_len = len;
}

/* A fresh range as struct mem_fresh_range says: whole pages of user space. */
static bool fresh_range_ok(const struct mem_fresh_range *f)
{
	return !f->reserved && f->start < f->end && f->start >= MEM_USER_BASE &&
	       f->end <= MEM_USER_TOP && !(f->start % MEM_PAGE_SIZE) && !(f->end % MEM_PAGE_SIZE) &&
	       !(f->prot & ~(uint32_t)(MEM_PROT_READ | MEM_PROT_WRITE | MEM_PROT_EXEC));
}

/* Takes the reply's entry, stack and break, refusing any outside user
 * space (decode: never enter user mode at a kernel address), and checks
 * its fresh ranges (taken by take_fresh once the image is p's). */
static int take_reply(struct process *p, const struct mem_exec_reply *rp)
{
	if (rp->entry >= MEM_USER_TOP || rp->sp >= MEM_USER_TOP || rp->sp < MEM_USER_BASE ||
	    rp->brk >= MEM_USER_TOP || rp->nfresh > MEM_EXEC_FRESH_MAX || rp->reserved)
		return -EPROTO;
	for (uint32_t i = 0; i < rp->nfresh; i++)
		if (!fresh_range_ok(&rp->fresh[i]))
			return -EPROTO;
	p->entry = rp->entry;
	p->sp = rp->sp;
	p->brk_start = p->brk = rp->brk;
	return 0;
}

/* The new image's fresh ranges (checked by take_reply) go to the ExCache. */
static void take_fresh(struct process *p, const struct mem_exec_reply *rp)
{
	for (uint32_t i = 0; i < rp->nfresh; i++)
		excache_exec_fresh(p, rp->fresh[i].start, rp->fresh[i].end, rp->fresh[i].prot);
}

static int mem_exec(struct process *p, const struct mem_exec_req *rq, struct mem_exec_reply *rp)
{
	return process_mem_call(p, MSG_MEM_EXEC, rq, sizeof(*rq), rp, sizeof(*rp));
}

static long exe_readlink(void *ctx, const char *path, char *buf, size_t cap)
{
	return file_readlink_path(ctx, path, buf, cap);
}

/* Step 2's end: the program's name with its links followed, into exe
 * (MEM_EXEC_PATH_MAX bytes); path itself if they cannot be followed.
 * 0, or -ELOOP, -ENOMEM. */
static int exec_exe_name(struct process *p, const char *path, char *exe)
{
	char *scratch = kmalloc(2 * MEM_EXEC_PATH_MAX);
	int err;

	if (!scratch)
		return -ENOMEM;
	err = path_follow(path, exe_readlink, p, exe, MEM_EXEC_PATH_MAX, scratch);
	kfree(scratch);
	if (err && err != -ELOOP) {
		strlcpy(exe, path, MEM_EXEC_PATH_MAX);
		err = 0;
	}
	return err;
}

int exec_start(struct process *p, const char *path, int argc, char **argv)
{
	struct mem_exec_req *rq = kmalloc(sizeof(*rq));
	struct mem_exec_reply rp;
	int err;

	if (!rq)
		return -ENOMEM;
	err = exec_req_init(p, path, rq);
	for (int i = 0; i < argc && !err; i++)
		err = put_string(rq, argv[i]);
	for (unsigned i = 0; i < DEFAULT_ENVC && !err; i++)
		err = put_string(rq, default_env[i]);
	rq->argc = (uint32_t)argc;
	rq->envc = DEFAULT_ENVC;
	if (!err)
		err = mem_exec(p, rq, &rp);
	if (!err)
		err = take_reply(p, &rp);
	if (!err) {
		take_fresh(p, &rp);
		if (exec_exe_name(p, path, p->exe))
			strlcpy(p->exe, path, sizeof(p->exe));
		set_comm(p, path);
		set_cmdline(p, rq);
		p->info.start_ns = clock_ns();
		exec_default_rlimits(p);
	}
	kfree(rq);
	return err;
}

/* ---- execve ---------------------------------------------------------------------- */

/*
 * The absolute path to load for the path given (kernel memory), into
 * out (MEM_EXEC_PATH_MAX bytes): resolved against dirfd, then a /proc
 * link followed once (its target is a plain absolute path).
 */
static int exec_resolve(struct process *p, int dirfd, const char *given, char *out)
{
	char *abs = kmalloc(FS_PATH_MAX);
	long n;
	int err;

	if (!abs)
		return -ENOMEM;
	err = file_resolve(p, dirfd, given, abs);
	if (!err && (!strncmp(abs, "/proc/", 6) || !strcmp(abs, "/proc"))) {
		n = procfs_readlink(p, abs, out, MEM_EXEC_PATH_MAX);
		if (n >= 0 && out[0] != '/')
			n = -ENOENT; /* "pipe:[..]", "socket:[..]": nothing to load */
		if (n == -EINVAL)
			n = -EACCES; /* a /proc file that is no link: not executable */
		err = n < 0 ? (int)n : 0;
	} else if (!err && strlcpy(out, abs, MEM_EXEC_PATH_MAX) >= MEM_EXEC_PATH_MAX) {
		err = -ENAMETOOLONG;
	}
	kfree(abs);
	return err;
}

/* execveat's AT_EMPTY_PATH: the file at dirfd, by the path it was
 * opened with. */
static int exec_fd_path(struct process *p, int dirfd, char *out)
{
	struct file *f = fd_get(p->files, dirfd);
	int err = 0;

	if (!f)
		return -EBADF;
	if (!f->path)
		err = -EACCES; /* a pipe or a device */
	else if (strlcpy(out, f->path, MEM_EXEC_PATH_MAX) >= MEM_EXEC_PATH_MAX)
		err = -ENAMETOOLONG;
	file_put(f);
	return err;
}

/* Steps 1 and 2: the request for p's execveat arguments. */
static int exec_build_req(struct process *p, int dirfd, uint64_t upath, uint64_t uargv,
			  uint64_t uenvp, int flags, struct mem_exec_req *rq, char *given)
{
	long n;
	int err;

	if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -EINVAL;
	n = strncpy_from_user(given, upath, FS_PATH_MAX);
	if (n < 0)
		return (int)n;
	err = exec_req_init(p, "/", rq);
	if (err)
		return err;
	if (!n && (flags & AT_EMPTY_PATH))
		err = exec_fd_path(p, dirfd, rq->path);
	else if (!n)
		err = -ENOENT;
	else
		err = exec_resolve(p, dirfd, given, rq->path);
	if (err)
		return err;
	err = copy_user_strings(rq, uargv, &rq->argc);
	if (!err)
		err = copy_user_strings(rq, uenvp, &rq->envc);
	return err;
}

/* Step 5's registers: the syscall returns into the new image. */
static void exec_enter_frame(struct trap_frame *tf, uint64_t entry, uint64_t sp)
{
	tf->r15 = tf->r14 = tf->r13 = tf->r12 = tf->r11 = tf->r10 = tf->r9 = tf->r8 = 0;
	tf->rbp = tf->rdi = tf->rsi = tf->rdx = tf->rcx = tf->rbx = tf->rax = 0;
	tf->rip = entry;
	tf->rsp = sp;
	tf->rflags = USER_RFLAGS;
}

/* Step 5: p runs the new image from the syscall's return on; own_us:
 * a borrower's new uspace (the ExCache state of its own it never used:
 * nothing to drop), NULL for a process replacing its own image. */
static void exec_commit(struct process *p, const struct mem_exec_req *rq,
			const struct mem_exec_reply *rp, const char *given, const char *exe,
			struct uspace *own_us)
{
	struct pthread_info *self = process_self(p);

	if (own_us)
		process_mm_take_own(p, own_us); /* its vfork parent returns now */
	else
		excache_exec(p);
	take_fresh(p, rp);
	fd_table_exec(p->files);
	signal_exec(p);
	strlcpy(p->exe, exe, sizeof(p->exe));
	strlcpy(p->path, rq->path, sizeof(p->path));
	set_comm(p, given[0] ? given : rq->path);
	set_cmdline(p, rq);
	self->clear_child_tid = 0; /* the old memory is gone */
	self->robust_list = self->robust_len = 0;
	exec_enter_frame(self->tf, p->entry, p->sp);
	user_reset_fpu();
}

/*
 * Steps 3 and 4 for p: the other threads gone, the home builds the
 * image and its reply is taken. p's own space is replaced in place,
 * once no vfork child borrows it, its dirty lines stored first: an
 * error with *lost set (a timed-out MEM_EXEC, a reply take_reply
 * refuses) means the old image may be gone. A borrower (a vfork child)
 * gets a space of its own under its pid, as a first exec does, and a
 * new uspace (*own_us), leaving its parent's lines alone; on an error
 * its half-made space is freed (MEM_EXIT) and it goes on in the
 * borrowed one (*lost never set).
 */
static int exec_load(struct process *p, const struct mem_exec_req *rq,
		     struct mem_exec_reply *rp, struct uspace **own_us, bool *lost)
{
	int err;

	process_dethread(p); /* the other threads end (or we do) */
	*own_us = NULL;
	*lost = false;
	if (!p->vfork_mm) {
		err = process_mm_wait(p);
		if (!err)
			err = excache_exec_prepare(p);
		if (err)
			return err;
		err = mem_exec(p, rq, rp);
		*lost = err == -ETIMEDOUT;
		if (!err) {
			err = take_reply(p, rp);
			*lost = err != 0; /* the home did replace it */
		}
		return err;
	}
	*own_us = uspace_create();
	if (!*own_us)
		return -ENOMEM;
	err = mem_exec(p, rq, rp);
	if (!err && take_reply(p, rp))
		err = -EPROTO; /* the home did build it */
	if (err == -ETIMEDOUT || err == -EPROTO)
		process_mem_exit(p); /* the home may have built it */
	if (err) {
		uspace_destroy(*own_us);
		*own_us = NULL;
	}
	return err;
}

long exec_execve(struct process *p, int dirfd, uint64_t upath, uint64_t uargv, uint64_t uenvp,
		 int flags)
{
	struct mem_exec_req *rq = kmalloc(sizeof(*rq));
	char *given = kmalloc(FS_PATH_MAX), *exe = kmalloc(MEM_EXEC_PATH_MAX);
	struct mem_exec_reply rp;
	struct uspace *own_us;
	bool lost;
	int err = -ENOMEM;

	if (!process_self(p)->tf) {
		err = -EINVAL;
		goto free;
	}
	if (!rq || !given || !exe)
		goto free;
	err = exec_build_req(p, dirfd, upath, uargv, uenvp, flags, rq, given);
	if (!err)
		err = exec_exe_name(p, rq->path, exe);
	if (err)
		goto free;
	err = exec_load(p, rq, &rp, &own_us, &lost);
	if (lost)
		goto kill; /* the home may have replaced the image */
	if (err)
		goto free;
	exec_commit(p, rq, &rp, given, exe, own_us);
	pr_debug("process %u: exec %s", p->pid, p->exe);
free:
	kfree(exe);
	kfree(given);
	kfree(rq);
	return err;
kill:
	pr_warn("process %u: exec of %s failed past the point of no return (%s): killed",
		p->pid, rq->path, errno_name(err));
	kfree(exe);
	kfree(given);
	kfree(rq);
	process_exit(p, PROCESS_KILLED(SIGKILL));
}
