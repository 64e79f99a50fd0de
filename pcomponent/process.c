/*
 * Processes on the processor (pcomponent/process.h).
 *
 * Start (process_run, in the hostlink run's thread): choose the home
 * memory node (process_home_node: memory=ID,... first entry), take a pid
 * (per processor, counting from 1, never reused while the node runs),
 * send MEM_EXEC (path, argv, a small default environment, uid 0) to the
 * home, which reads the ELF from its storage node and builds the image
 * and the initial stack; create the uspace (empty: every page comes in by
 * an ExCache miss), then a kernel thread that becomes a user thread
 * (uthread_attach) and enters user mode at the reply's entry and sp. The
 * run's thread then joins that thread and returns the exit status.
 *
 * Exit (process_exit, in the process's own thread: exit, exit_group, or
 * a fatal exception): drop every ExCache line of the process without
 * write-back (the address space is going away), MEM_EXIT to the home
 * (which frees every frame and VMA), detach from the uspace, destroy it,
 * record the status, thread_exit. Nothing stays behind: the waiter frees
 * the struct and the pid's table slot after the join.
 *
 * Fatal exceptions become the signal Linux would send (no handlers yet):
 * the process ends with 128 + signal, and a line like a shell's ("Segmentation
 * fault at 0x...") goes to its stderr.
 *
 * The process of a user thread is found by its uspace (a scan of the
 * PROCESS_MAX slots under proc_lock): struct thread has no owner field
 * to hang it on.
 */
#include "process.h"

#include "excache.h"
#include "syscall.h"

#include <arch/trap.h>
#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/status.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <lib/printf.h>
#include <lib/string.h>
#include <net/rpc.h>
#include <proto/mem.h>

#define EXEC_TIMEOUT_NS (60 * NS_PER_S) /* reads the binary from storage */
#define MEM_TIMEOUT_NS	(10 * NS_PER_S)

#define SIGTRAP 5
#define SIGILL	4
#define SIGBUS	7
#define SIGFPE	8
#define SIGSEGV 11

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

static struct spinlock proc_lock = SPINLOCK_INIT("process");
static struct process *procs[PROCESS_MAX]; /* under proc_lock */
static uint32_t next_pid = 1;		   /* under proc_lock */
static uint64_t started;		   /* under proc_lock */

uint16_t process_home_node(void)
{
	return kconfig.nmemories ? kconfig.memory_ids[0] : 0;
}

/* ---- the process table ------------------------------------------------ */

/* Gives p a pid and a slot; -EAGAIN if every slot is taken. */
static int table_add(struct process *p)
{
	int err = -EAGAIN;

	spin_lock(&proc_lock);
	for (unsigned i = 0; i < PROCESS_MAX; i++) {
		if (procs[i])
			continue;
		procs[i] = p;
		p->pid = next_pid++;
		started++;
		err = 0;
		break;
	}
	spin_unlock(&proc_lock);
	return err;
}

static void table_remove(struct process *p)
{
	spin_lock(&proc_lock);
	for (unsigned i = 0; i < PROCESS_MAX; i++)
		if (procs[i] == p)
			procs[i] = NULL;
	spin_unlock(&proc_lock);
}

struct process *process_current(void)
{
	struct uspace *us = uthread_uspace();
	struct process *found = NULL;

	if (!us)
		return NULL;
	spin_lock(&proc_lock);
	for (unsigned i = 0; i < PROCESS_MAX && !found; i++)
		if (procs[i] && procs[i]->us == us)
			found = procs[i];
	spin_unlock(&proc_lock);
	return found;
}

void process_counts(unsigned *running, uint64_t *total)
{
	unsigned n = 0;

	spin_lock(&proc_lock);
	for (unsigned i = 0; i < PROCESS_MAX; i++)
		n += procs[i] != NULL;
	*total = started;
	spin_unlock(&proc_lock);
	*running = n;
}

/* ---- calls to the home --------------------------------------------------- */

int process_mem_call(struct process *p, unsigned opcode, const void *req, size_t req_len,
		     void *reply, size_t reply_len)
{
	struct rpc_node *rn = status_rpc();

	if (!rn)
		return -EHOSTUNREACH;
	return rpc_call(rn, p->home, opcode, req, req_len, reply, reply_len,
			opcode == MSG_MEM_EXEC ? EXEC_TIMEOUT_NS : MEM_TIMEOUT_NS);
}

static void mem_exit(struct process *p)
{
	struct mem_pid_req rq = {.pid = p->pid};
	struct mem_value rp;
	int err = process_mem_call(p, MSG_MEM_EXIT, &rq, sizeof(rq), &rp, sizeof(rp));

	if (err && err != -ESRCH)
		pr_warn("process %u: MEM_EXIT on node %u failed (%s): its memory there "
			"may stay allocated",
			p->pid, p->home, errno_name(err));
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

/* MEM_EXEC's request: path, argv, the default environment, uid 0. */
static int build_exec(struct process *p, const char *path, int argc, char **argv,
		      struct mem_exec_req *rq)
{
	int err = 0;

	memset(rq, 0, sizeof(*rq));
	rq->pid = p->pid;
	if (strlcpy(rq->path, path, sizeof(rq->path)) >= sizeof(rq->path))
		return -ENAMETOOLONG;
	for (int i = 0; i < argc && !err; i++)
		err = put_string(rq, argv[i]);
	for (unsigned i = 0; i < DEFAULT_ENVC && !err; i++)
		err = put_string(rq, default_env[i]);
	rq->argc = (uint32_t)argc;
	rq->envc = DEFAULT_ENVC;
	return err;
}

static int exec_remote(struct process *p, const char *path, int argc, char **argv)
{
	struct mem_exec_req *rq = kmalloc(sizeof(*rq));
	struct mem_exec_reply rp;
	int err;

	if (!rq)
		return -ENOMEM;
	err = build_exec(p, path, argc, argv, rq);
	if (!err)
		err = process_mem_call(p, MSG_MEM_EXEC, rq, sizeof(*rq), &rp, sizeof(rp));
	kfree(rq);
	if (err)
		return err;
	if (rp.entry >= MEM_USER_TOP || rp.sp >= MEM_USER_TOP || rp.sp < MEM_USER_BASE ||
	    rp.brk >= MEM_USER_TOP)
		return -EPROTO; /* decode: never enter user mode at a kernel address */
	p->entry = rp.entry;
	p->sp = rp.sp;
	p->brk_start = p->brk = rp.brk;
	return 0;
}

/* ---- threads ------------------------------------------------------------- */

static void process_main(void *arg)
{
	struct process *p = arg;
	int err = uthread_attach(p->us);

	if (err) {
		hostlink_eprintf(p->run, "%s: cannot start a user thread (%s)\n", p->path,
				 errno_message(err));
		p->exit_status = 126;
		return; /* process_run cleans up after the join */
	}
	user_enter(p->entry, p->sp);
}

__attribute__((noreturn)) void process_exit(struct process *p, int status)
{
	struct uspace *us = p->us;

	excache_drop_process(p);
	mem_exit(p);
	uthread_detach();
	spin_lock(&proc_lock);
	p->us = NULL; /* process_current() no longer finds it */
	spin_unlock(&proc_lock);
	uspace_destroy(us);
	p->exit_status = status & 0xff;
	thread_exit();
}

/* The shell's exit status and message for a failed start. */
static int start_failure(struct hostlink_run *run, const char *path, int err)
{
	hostlink_eprintf(run, "%s: %s\n", path, errno_message(err));
	return err == -EACCES || err == -ENOEXEC || err == -EISDIR ? 126 : 127;
}

/* Checks that a user program can start here at all; 0 or the status. */
static int check_can_run(struct hostlink_run *run, const char *path)
{
	if (!process_home_node()) {
		hostlink_eprintf(
			run,
			"%s: cannot run user programs: no memory= word on this "
			"processor's command line (its vNode has no memory node)\n",
			path);
		return 127;
	}
	if (!excache_ready()) {
		hostlink_eprintf(
			run,
			"%s: cannot run user programs: no ExCache (excache= word "
			"missing, or the fabric is down)\n",
			path);
		return 127;
	}
	if (path[0] != '/') {
		hostlink_eprintf(run,
				 "%s: give an absolute path (no working directory "
				 "yet)\n",
				 path);
		return 127;
	}
	return 0;
}

/* Exec on the home, uspace, thread; then waits. Frees everything. */
static int start_and_wait(struct process *p, const char *path, int argc, char **argv)
{
	int err, status;

	err = exec_remote(p, path, argc, argv);
	if (err)
		goto mem_exit;
	p->us = uspace_create();
	if (!p->us) {
		err = -ENOMEM;
		goto mem_exit;
	}
	p->nthreads = 1;
	p->threads[0].tid = p->pid;
	p->threads[0].kthread = thread_create(p->path, process_main, p, false);
	if (!p->threads[0].kthread) {
		err = -ENOMEM;
		goto destroy_uspace;
	}
	thread_join(p->threads[0].kthread);
	status = p->exit_status;
	if (p->us) { /* the thread never reached user mode */
		mem_exit(p);
		uspace_destroy(p->us);
		p->us = NULL;
	}
	return status;
destroy_uspace:
	uspace_destroy(p->us);
	p->us = NULL;
mem_exit:
	mem_exit(p); /* a timed-out MEM_EXEC may have built the space anyway */
	return start_failure(p->run, path, err);
}

int process_run(struct hostlink_run *run, const char *path, int argc, char **argv)
{
	struct process *p;
	int status;

	status = check_can_run(run, path);
	if (status)
		return status;
	p = kzalloc(sizeof(*p));
	if (!p)
		return start_failure(run, path, -ENOMEM);
	p->run = run;
	p->home = process_home_node();
	excache_proc_init(&p->ec, p->home);
	strlcpy(p->path, path, sizeof(p->path));
	if (table_add(p)) {
		kfree(p);
		hostlink_eprintf(run, "%s: too many processes (at most %u)\n", path,
				 PROCESS_MAX);
		return 127;
	}
	pr_debug("process %u: %s on home node %u", p->pid, path, p->home);
	status = start_and_wait(p, path, argc, argv);
	table_remove(p);
	kfree(p);
	return status;
}

int process_hostlink_run(struct hostlink_run *run, int argc, char **argv)
{
	return process_run(run, argv[0], argc, argv);
}

/* ---- hooks ----------------------------------------------------------------- */

static int hook_page_fault(uint64_t addr, unsigned access, bool from_user)
{
	struct process *p = process_current();

	if (!p)
		return -EFAULT;
	return excache_fault(p, addr, access);
}

struct fatal_kind {
	int sig;
	const char *what; /* as shells say it */
};

static struct fatal_kind fatal_kind(unsigned vector)
{
	switch (vector) {
	case 0:	 /* #DE */
	case 16: /* #MF */
	case 19: /* #XM */
		return (struct fatal_kind){SIGFPE, "Floating point exception"};
	case 6: /* #UD */
		return (struct fatal_kind){SIGILL, "Illegal instruction"};
	case 1: /* #DB */
	case 3: /* #BP */
		return (struct fatal_kind){SIGTRAP, "Trace/breakpoint trap"};
	case 17: /* #AC */
		return (struct fatal_kind){SIGBUS, "Bus error"};
	default: /* #PF, #GP, #SS, #NP, ... */
		return (struct fatal_kind){SIGSEGV, "Segmentation fault"};
	}
}

static __attribute__((noreturn)) void hook_fatal(struct trap_frame *tf, unsigned vector,
						 uint64_t addr, int err)
{
	struct process *p = process_current();
	struct fatal_kind k = fatal_kind(vector);

	if (!p)
		panic("user-mode exception %u in a thread without a process", vector);
	if (vector == 14)
		hostlink_eprintf(p->run, "%s at 0x%llx (rip 0x%llx, %s)\n", k.what,
				 (unsigned long long)addr, (unsigned long long)tf->rip,
				 errno_message(err));
	else
		hostlink_eprintf(p->run, "%s (rip 0x%llx)\n", k.what,
				 (unsigned long long)tf->rip);
	pr_info("process %u (%s): %s, vector %u, rip %#llx, address %#llx", p->pid,
		p->path, k.what, vector, (unsigned long long)tf->rip,
		(unsigned long long)addr);
	process_exit(p, 128 + k.sig);
}

static const struct user_hooks process_hooks = {
	.syscall = syscall_dispatch,
	.page_fault = hook_page_fault,
	.fatal = hook_fatal,
};

void process_init(void)
{
	user_set_hooks(&process_hooks);
}
