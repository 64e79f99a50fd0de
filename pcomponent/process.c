/*
 * Processes on the processor (pcomponent/process.h).
 *
 * Start (process_run, in the hostlink run's thread): choose the home
 * memory node (process_choose_home: with several memory= nodes and a
 * manager, the global memory manager's pick, as for a vRegion; else, or
 * if it cannot answer, the first memory= node), take a pid
 * (per processor, counting from 1, never reused while the node runs),
 * send MEM_EXEC (path, argv, a small default environment, uid 0, the
 * vNode's memory nodes) to the home, which reads the ELF from its storage
 * node and builds the image and the initial stack; create the uspace
 * (empty: every page comes in by an ExCache miss), then a detached kernel
 * thread that becomes a user thread (uthread_attach, with its thread slot
 * as its owner tag: process_self() is uthread_owner(), process_current()
 * its process) and enters user mode at the reply's entry and sp.
 *
 * Threads (process_clone_thread, at a clone with CLONE_THREAD): a slot
 * of p->threads with a tid from the pid space, a signal state (the
 * caller's mask), a snapshot of the caller's registers (rax 0, the new
 * stack and TLS) and a detached kernel thread (thread_main) that
 * attaches to p's uspace, fills in its slot's kthread under p->tlock and
 * reports back before clone returns (so a failure is still the caller's
 * to undo). The slots, their kthread and tid, nthreads and the exit
 * marks change under tlock; a sender of signals interrupts kernel
 * threads under it, so never one that has exited.
 *
 * Leaving (thread_leave): a thread releases its robust futexes (futex.h:
 * the ones it still holds become FUTEX_OWNER_DIED, a waiter of each is
 * woken), detaches, clears its slot, hands the process's pending
 * signals on, and exits; the last one tears the process down
 * (process_teardown, below). exit(2) leaves alone
 * (process_thread_exit: clear_child_tid and its futex wake first);
 * exit_group and fatal signals (process_exit) mark p exiting and
 * interrupt the other threads, which leave at their next return to the
 * kernel (process_check_exit, from signal_deliver) or wake from their
 * interruptible sleep; execve's process_dethread ends the others the
 * same way but stays, and waits on the table's queue until they are
 * gone. Once a thread has counted itself out it touches p no more: the
 * last one may free it at any moment.
 *
 * Families. The processes forked from one `run` share its hostlink run
 * (their fds 1 and 2) through a struct process_family on process_run's
 * stack: members counts the processes of the family that have not
 * finished their exit. process_run sleeps until it is 0, so the run (and
 * the family) outlives every process that writes to it, orphans
 * included, and returns the root's status. The last thing an exiting
 * process does with the family is the decrement, under the table lock,
 * with the wake-up; nothing touches the family after that.
 *
 * fork (process_fork, in the calling thread at the syscall): a child
 * struct (new pid, same home, run, family, break), excache_fork (the
 * parent's dirty lines written back, fresh ranges and owners copied),
 * MEM_FORK to the home, a uspace, a snapshot of the parent's registers
 * (rax = 0) and FPU/FS state (user_state_save), and a detached thread
 * (fork_main) that attaches and reports back before the parent returns,
 * so that every failure is still the parent's to undo: MEM_EXIT for the
 * child, its uspace, slot and struct. The child is linked into the tree
 * before its thread exists (it may exit before fork returns).
 *
 * vfork (process_fork with a->vfork): no copy. The child borrows the
 * parent's address space (vfork_mm; process_mm(c) is the parent, whose
 * mm_borrowers counts it): its thread attaches to the parent's uspace,
 * its faults and memory calls act on the parent's pid, lines and
 * break. It gives the space back (process_vfork_release) at its execve,
 * once its thread runs on a uspace of its own (process_mm_take_own),
 * or at its exit, once its last thread has detached; the parent's
 * vfork returns then. The space outlives the borrowing: the lender's
 * teardown waits until mm_borrowers is 0 (its fds closed first), and
 * so does its execve (process_mm_wait).
 *
 * Teardown (process_teardown, in the process's last thread, detached
 * already): drop every ExCache line of the process without write-back
 * (the address space is going away), MEM_EXIT to the home (which frees
 * every frame and VMA), destroy the uspace (a borrower only gives its
 * parent's space back);
 * then, under the table lock: its children lose their parent (its zombie
 * children are freed, the running ones free themselves when they exit:
 * no init process to adopt them yet), it becomes a zombie with its wait
 * status (or, without a parent, leaves the table at once), the family
 * count drops and the table's wait queue wakes every waiter (wait4s and
 * process_run; few enough that one queue will do). thread_exit: the
 * thread is detached, and the struct is freed by whoever reaps it.
 *
 * Fatal exceptions become the signal Linux would send: a handler of the
 * process runs if it has one (pcomponent/signal.c builds the frame);
 * otherwise the process is killed by it (wait status: the signal; a
 * shell shows 128 + signal), and, for the process `run` started only
 * (the others have a shell or a parent to tell it, as on Linux), a line
 * like a shell's ("Segmentation fault at 0x...") goes to the run's
 * stderr. Signals sent while a thread runs
 * user code reach it at its next return from an interrupt (the
 * user_return hook).
 */
#include "process.h"

#include "exec.h"
#include "excache.h"
#include "futex.h"
#include "signal.h"
#include "syscall.h"
#include "tty.h"

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
#include <kernel/wait.h>
#include <lib/printf.h>
#include <lib/string.h>
#include <net/mgr_client.h>
#include <net/rpc.h>
#include <proto/mem.h>

#define EXEC_TIMEOUT_NS (60 * NS_PER_S) /* reads the binary; a fork copies VMAs */
#define MEM_TIMEOUT_NS	(10 * NS_PER_S)


/* The table lock is proc_wq.lock: the queue where wait4 and process_run
 * sleep, woken by every exit and every fork child's start. */
static struct waitq proc_wq = {
	.lock = SPINLOCK_INIT("process"),
	.waiters = LIST_HEAD_INIT(proc_wq.waiters),
};
static struct process *procs[PROCESS_MAX]; /* proc lock */
static uint32_t next_pid = 1;		   /* proc lock */
static uint64_t started;		   /* proc lock */

#define proc_lock()   spin_lock(&proc_wq.lock)
#define proc_unlock() spin_unlock(&proc_wq.lock)

/* ---- the home memory node ------------------------------------------------ */

#define HOME_PLACE_NS (2 * NS_PER_S) /* MGR_PLACE_VREGION for a home */

static bool home_fallback_logged; /* racy: a fallback is logged once (or twice) */

uint16_t process_first_memory_node(void)
{
	return kconfig.nmemories ? kconfig.memory_ids[0] : 0;
}

bool process_is_memory_node(uint16_t node)
{
	for (unsigned i = 0; node && i < kconfig.nmemories; i++)
		if (kconfig.memory_ids[i] == node)
			return true;
	return false;
}

uint16_t process_choose_home(bool *by_gmm)
{
	uint16_t first = process_first_memory_node();
	int node;

	*by_gmm = false;
	if (kconfig.nmemories < 2)
		return first; /* nothing to choose */
	node = mgr_place(status_rpc(), MSG_MGR_PLACE_VREGION, kconfig.memory_ids,
			 kconfig.nmemories, 0, 0, HOME_PLACE_NS);
	if (node < 0) {
		if (!home_fallback_logged)
			pr_info("processor: no home placement from the global memory manager "
				"(%s): new programs' home is the first memory node, %u",
				errno_name(node), first);
		home_fallback_logged = true;
		return first;
	}
	*by_gmm = true;
	return (uint16_t)node;
}

/* ---- the process table ------------------------------------------------ */

/* Gives p a pid and a slot; -EAGAIN if every slot is taken. */
static int table_add(struct process *p)
{
	int err = -EAGAIN;

	proc_lock();
	for (unsigned i = 0; i < PROCESS_MAX; i++) {
		if (procs[i])
			continue;
		procs[i] = p;
		p->pid = next_pid++;
		started++;
		err = 0;
		break;
	}
	proc_unlock();
	return err;
}

static void table_remove_locked(struct process *p)
{
	for (unsigned i = 0; i < PROCESS_MAX; i++)
		if (procs[i] == p)
			procs[i] = NULL;
}

static void table_remove(struct process *p)
{
	proc_lock();
	table_remove_locked(p);
	proc_unlock();
}

void process_table_lock(void)
{
	proc_lock();
}

void process_table_unlock(void)
{
	proc_unlock();
}

struct process *process_find_locked(uint32_t pid)
{
	for (unsigned i = 0; i < PROCESS_MAX; i++)
		if (procs[i] && procs[i]->pid == pid)
			return procs[i];
	return NULL;
}

int process_for_each_locked(int (*fn)(struct process *q, void *arg), void *arg)
{
	for (unsigned i = 0; i < PROCESS_MAX; i++) {
		int r = procs[i] ? fn(procs[i], arg) : 0;

		if (r)
			return r;
	}
	return 0;
}

struct process *process_current(void)
{
	struct pthread_info *t = uthread_owner();

	return t ? t->proc : NULL;
}

struct pthread_info *process_self(struct process *p)
{
	struct pthread_info *t = uthread_owner();

	if (t && t->proc == p)
		return t;
	for (unsigned i = 0; i < PROCESS_MAX_THREADS; i++) /* a kernel thread: tests */
		if (__atomic_load_n(&p->threads[i].tid, __ATOMIC_RELAXED))
			return &p->threads[i];
	return NULL;
}

struct pthread_info *process_thread_locked(struct process *p, uint32_t tid)
{
	for (unsigned i = 0; i < PROCESS_MAX_THREADS; i++)
		if (tid && p->threads[i].tid == tid)
			return &p->threads[i];
	return NULL;
}

void process_counts(unsigned *running, uint64_t *total)
{
	unsigned n = 0;

	proc_lock();
	for (unsigned i = 0; i < PROCESS_MAX; i++)
		n += procs[i] != NULL;
	*total = started;
	proc_unlock();
	*running = n;
}

/* p's used slots' tids into out->tids, ascending, and their count.
 * Takes p's tlock (under the table lock). */
static void snap_tids(struct process *p, struct process_snap *out)
{
	unsigned n = 0;

	spin_lock(&p->tlock);
	for (unsigned i = 0; i < PROCESS_MAX_THREADS; i++) {
		uint32_t tid = p->threads[i].tid;
		unsigned j = n;

		if (!tid)
			continue;
		for (; j > 0 && out->tids[j - 1] > tid; j--) { /* insertion: at most 32 */
			out->tids[j] = out->tids[j - 1];
			memcpy(out->thread_comm[j], out->thread_comm[j - 1],
			       sizeof(out->thread_comm[j]));
		}
		out->tids[j] = tid;
		memcpy(out->thread_comm[j], p->threads[i].comm, sizeof(out->thread_comm[j]));
		n++;
	}
	out->nthreads = n;
	spin_unlock(&p->tlock);
}

int process_snapshot(uint32_t pid, struct process_snap *out)
{
	int err = -ESRCH;

	proc_lock();
	for (unsigned i = 0; i < PROCESS_MAX; i++) {
		struct process *p = procs[i];

		if (!p || p->pid != pid)
			continue;
		out->pid = p->pid;
		out->ppid = p->parent ? p->parent->pid : 0;
		out->pgid = p->pgid;
		out->sid = p->sid;
		out->home = process_mm(p)->home;
		out->mm_pid = process_mm(p)->pid;
		out->state = p->state;
		out->brk_start = process_mm(p)->brk_start;
		out->brk = process_mm(p)->brk;
		snap_tids(p, out);
		process_cred(p, &out->cred); /* its tlock, under the table lock */
		out->info = p->info;
		memcpy(out->exe, p->exe, sizeof(out->exe));
		memcpy(out->cwd, p->fs.cwd, sizeof(out->cwd));
		err = 0;
		break;
	}
	proc_unlock();
	if (!err) { /* written without the lock: a racing exec may tear them */
		out->info.comm[sizeof(out->info.comm) - 1] = '\0';
		out->exe[sizeof(out->exe) - 1] = '\0';
		out->cwd[sizeof(out->cwd) - 1] = '\0';
		if (out->info.cmdline_len > sizeof(out->info.cmdline))
			out->info.cmdline_len = sizeof(out->info.cmdline);
	}
	return err;
}

unsigned process_pids(uint32_t *pids, unsigned cap)
{
	unsigned n = 0;

	proc_lock();
	for (unsigned i = 0; i < PROCESS_MAX; i++) {
		uint32_t pid;
		unsigned j;

		if (!procs[i])
			continue;
		pid = procs[i]->pid;
		/* insertion into the sorted prefix (at most PROCESS_MAX) */
		j = n < cap ? n : cap;
		while (j > 0 && pids[j - 1] > pid) {
			if (j < cap)
				pids[j] = pids[j - 1];
			j--;
		}
		if (j < cap)
			pids[j] = pid;
		n++;
	}
	proc_unlock();
	return n;
}

void process_cred(struct process *p, struct cred *out)
{
	spin_lock(&p->tlock);
	*out = p->cred;
	spin_unlock(&p->tlock);
}

const struct fs_cred *process_fs_cred(struct process *p, struct fs_cred *out)
{
	struct cred c;

	process_cred(p, &c);
	cred_to_fs(&c, out);
	return out;
}

long process_cred_change(struct process *p, long (*rule)(struct cred *c, const uint32_t *ids),
			 const uint32_t *ids)
{
	struct cred c;
	long r;

	spin_lock(&p->tlock);
	c = p->cred;
	r = rule(&c, ids);
	if (r >= 0)
		p->cred = c;
	spin_unlock(&p->tlock);
	return r;
}

/* A fresh struct: no tree links, no pid yet. */
static struct process *process_alloc(void)
{
	struct process *p = kzalloc(sizeof(*p));

	if (!p)
		return NULL;
	list_init(&p->children);
	list_init(&p->sibling);
	p->state = PROCESS_RUNNING;
	spin_init(&p->tlock, "threads");
	completion_init(&p->brk_lock);
	complete(&p->brk_lock); /* its one token */
	for (unsigned i = 0; i < PROCESS_MAX_THREADS; i++)
		p->threads[i].proc = p;
	return p;
}

/* Frees a struct that left the table (or never entered it), with what
 * it still holds: its signal state, its fd table if it never exited, the
 * signal state of a first thread that never ran. */
static void process_free(struct process *p)
{
	if (!p)
		return;
	if (p->files)
		fd_table_put(p->files);
	for (unsigned i = 0; i < PROCESS_MAX_THREADS; i++)
		signal_thread_free(p->threads[i].sig);
	signal_state_free(p->sig);
	kfree(p);
}

/* A new process's first thread (tid: the pid), with its signal state
 * (from: the forking thread's, or NULL); -ENOMEM. Before it runs. */
static int first_thread(struct process *p, const struct signal_thread *from)
{
	struct pthread_info *t = &p->threads[0];

	t->sig = signal_thread_create(from, false);
	if (!t->sig)
		return -ENOMEM;
	t->tid = p->pid;
	t->sysno = -1;
	t->comm[0] = '\0';
	p->nthreads = 1;
	return 0;
}

/* A tid from the pid space (never a process's pid). */
static uint32_t new_tid(void)
{
	uint32_t tid;

	proc_lock();
	tid = next_pid++;
	proc_unlock();
	return tid;
}

/* ---- calls to the home --------------------------------------------------- */

int process_home_call(uint16_t home, unsigned opcode, const void *req, size_t req_len,
		      void *reply, size_t reply_len)
{
	struct rpc_node *rn = status_rpc();

	if (!rn)
		return -EHOSTUNREACH;
	return rpc_call(rn, home, opcode, req, req_len, reply, reply_len,
			opcode == MSG_MEM_EXEC || opcode == MSG_MEM_FORK ? EXEC_TIMEOUT_NS
								     : MEM_TIMEOUT_NS);
}

int process_maps_each(uint16_t home, uint32_t pid,
		      int (*fn)(void *ctx, const struct mem_maps *rp, const struct mem_map_entry *e),
		      void *ctx)
{
	struct mem_pid_req rq = {.pid = pid};
	struct mem_maps *rp = kmalloc(sizeof(*rp));
	int err = rp ? 0 : -ENOMEM;

	while (!err) {
		err = process_home_call(home, MSG_MEM_MAPS, &rq, sizeof(rq), rp, sizeof(*rp));
		for (uint32_t i = 0; !err && i < rp->n && i < MEM_MAPS_MAX; i++) {
			if (rp->e[i].start >= rp->e[i].end || rp->e[i].start < rq.addr)
				err = -EPROTO; /* not in address order: malformed */
			else
				err = fn(ctx, rp, &rp->e[i]);
		}
		if (err || !rp->more || !rp->n)
			break;
		rq.addr = rp->e[rp->n - 1].end;
	}
	kfree(rp);
	return err;
}

int process_mem_call(struct process *p, unsigned opcode, const void *req, size_t req_len,
		     void *reply, size_t reply_len)
{
	return process_home_call(p->home, opcode, req, req_len, reply, reply_len);
}

void process_mem_exit(struct process *p)
{
	struct mem_pid_req rq = {.pid = p->pid};
	struct mem_value rp;
	int err = process_mem_call(p, MSG_MEM_EXIT, &rq, sizeof(rq), &rp, sizeof(rp));

	if (err && err != -ESRCH)
		pr_warn("process %u: MEM_EXIT on node %u failed (%s): its memory there "
			"may stay allocated",
			p->pid, p->home, errno_name(err));
}

/* ---- the tree ------------------------------------------------------------- */

/* Frees the structs on dead (linked by sibling). No lock held. */
static void free_dead(struct list_node *dead)
{
	struct list_node *n;

	while ((n = list_pop_front(dead)))
		process_free(list_entry(n, struct process, sibling));
}

/* p is exiting: its zombie children leave the table for dead, the others
 * lose their parent (they free themselves when they exit). Proc lock. */
static void orphan_children_locked(struct process *p, struct list_node *dead)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &p->children) {
		struct process *c = list_entry(n, struct process, sibling);

		list_remove(&c->sibling);
		c->parent = NULL;
		if (c->state == PROCESS_ZOMBIE) {
			table_remove_locked(c);
			list_push_back(dead, &c->sibling);
		}
	}
}

/* The exit's bookkeeping, once p's user side is gone: zombie or freed,
 * children orphaned, the family count dropped, waiters woken. */
static __attribute__((noreturn)) void process_finish(struct process *p, int wait_status)
{
	struct process_family *fam = p->family;
	struct list_node dead;

	list_init(&dead);
	proc_lock();
	orphan_children_locked(p, &dead);
	p->wait_status = wait_status;
	p->state = PROCESS_ZOMBIE;
	p->vfork_active = false; /* the wake below ends a parent's vfork */
	if (p->parent && !signal_child_exited(p->parent, p, wait_status)) {
		list_remove(&p->sibling); /* SIGCHLD ignored: reaped at once */
		p->parent = NULL;
	}
	if (fam->root_pid == p->pid)
		fam->root_status = wait_status;
	if (!p->parent) { /* nobody will wait for it */
		table_remove_locked(p);
		list_push_back(&dead, &p->sibling);
	}
	fam->members--; /* the last use of fam: process_run may return now */
	waitq_wake_all_locked(&proc_wq);
	proc_unlock();
	free_dead(&dead); /* p too, if it had no parent */
	thread_exit();
}

/* Whether wait4's pid selects child c of p. Proc lock. */
static bool child_selected_locked(struct process *p, struct process *c, int64_t pid)
{
	if (pid > 0)
		return (int64_t)c->pid == pid;
	if (pid == 0)
		return c->pgid == p->pgid;
	return pid == -1 || (int64_t)c->pgid == -pid;
}

/* Whether child c has what a wait with options looks for (*status:
 * its wait status). Proc lock. */
static bool child_event_locked(struct process *c, unsigned options, int *status)
{
	if (c->state == PROCESS_ZOMBIE) {
		*status = c->wait_status;
		return options & PROCESS_WEXITED;
	}
	if ((options & PROCESS_WSTOPPED) && c->wait_stop) {
		*status = c->wait_stop;
		return true;
	}
	*status = PROCESS_CONTINUED;
	return (options & PROCESS_WCONTINUED) && c->wait_cont;
}

/* The first child of p that pid selects (one with an event for options
 * if any has: *event true, *status its status), or NULL. Proc lock. */
static struct process *find_child_locked(struct process *p, int64_t pid, unsigned options,
					 bool *event, int *status)
{
	struct process *found = NULL;
	struct list_node *n;

	*event = false;
	list_for_each(n, &p->children) {
		struct process *c = list_entry(n, struct process, sibling);

		if (!child_selected_locked(p, c, pid))
			continue;
		found = c;
		*event = child_event_locked(c, options, status);
		if (*event)
			break;
	}
	return found;
}

long process_wait(struct process *p, int64_t pid, unsigned options, int *wait_status)
{
	struct process *c;
	bool event;
	int status;
	long ret;

	proc_lock();
	for (;;) {
		c = find_child_locked(p, pid, options, &event, &status);
		if (!c || event || (options & PROCESS_WNOHANG))
			break;
		if (waitq_wait_intr_locked(&proc_wq, 0) == -EINTR) {
			proc_unlock();
			return -EINTR;
		}
	}
	ret = !c ? -ECHILD : event ? (long)c->pid : 0;
	if (event) {
		*wait_status = status;
		if (c->state != PROCESS_ZOMBIE && !(options & PROCESS_WNOWAIT)) {
			c->wait_stop = 0; /* reported */
			if (PROCESS_WIFCONTINUED(status))
				c->wait_cont = false;
		}
	}
	proc_unlock();
	return ret;
}

void process_stop_notify(struct process *p, bool stopped, int sig)
{
	proc_lock();
	p->wait_stop = stopped ? PROCESS_STOPPED(sig) : 0;
	p->wait_cont = !stopped;
	if (p->parent && p->state == PROCESS_RUNNING)
		signal_child_stopped(p->parent, p, stopped, sig);
	waitq_wake_all_locked(&proc_wq);
	proc_unlock();
}

void process_reap(struct process *p, uint32_t cpid)
{
	struct process *c;
	bool event;
	int status;

	proc_lock();
	c = find_child_locked(p, cpid, PROCESS_WEXITED, &event, &status);
	if (c && c->state == PROCESS_ZOMBIE) {
		list_remove(&c->sibling);
		table_remove_locked(c);
	} else {
		c = NULL;
	}
	proc_unlock();
	process_free(c);
}

uint32_t process_ppid(struct process *p)
{
	uint32_t ppid;

	proc_lock();
	ppid = p->parent ? p->parent->pid : 0;
	proc_unlock();
	return ppid;
}

int process_shell_status(int wait_status)
{
	if (PROCESS_WIFEXITED(wait_status))
		return (wait_status >> 8) & 0xff;
	return 128 + (wait_status & 0x7f);
}

/* ---- borrowed address spaces (vfork) ------------------------------------ */

/* c gives back the address space it borrowed, if it did; a teardown or
 * an execve waiting for the lender's borrowers to go wakes. Proc lock. */
static void mm_unborrow_locked(struct process *c)
{
	struct process *lender = c->vfork_mm;

	if (!lender)
		return;
	__atomic_store_n(&c->vfork_mm, NULL, __ATOMIC_RELAXED);
	lender->mm_borrowers--;
	waitq_wake_all_locked(&proc_wq);
}

/* Sleeps until no vfork child borrows p's address space; with killable,
 * gives up (-EINTR) once p has a SIGKILL pending or is exiting. */
static int mm_wait_borrowers(struct process *p, bool killable)
{
	int err = 0;

	proc_lock();
	while (p->mm_borrowers && !err) {
		if (!killable) {
			waitq_wait_locked(&proc_wq, 0);
			continue;
		}
		if (waitq_wait_intr_locked(&proc_wq, 0) != -EINTR)
			continue;
		if (signal_kill_pending(p))
			err = -EINTR;
		else
			thread_interrupt_clear(); /* other signals wait, as in vfork_wait */
	}
	proc_unlock();
	return err;
}

int process_mm_wait(struct process *p)
{
	return mm_wait_borrowers(p, true);
}

/* ---- threads ------------------------------------------------------------- */

/* The last thread is gone (detached): the process's user side goes, then
 * process_finish. */
static __attribute__((noreturn)) void process_teardown(struct process *p, int wait_status)
{
	struct uspace *us = p->us;

	if (p->vfork_mm) { /* a borrower: the space is its parent's to keep */
		process_vfork_release(p);
		goto files;
	}
	if (__atomic_load_n(&p->mm_borrowers, __ATOMIC_RELAXED)) {
		/* a vfork child runs in p's space: it stays until the child
		 * execs or exits; p's fds go first (the child may be reading
		 * a pipe p writes) */
		if (p->files)
			fd_table_put(p->files);
		p->files = NULL;
		mm_wait_borrowers(p, false);
	}
	excache_drop_process(p);
	process_mem_exit(p);
	p->us = NULL;
	if (us)
		uspace_destroy(us); /* no thread of p runs on it any more */
files:
	if (p->files)
		fd_table_put(p->files); /* pipes see their end close now */
	p->files = NULL;
	process_finish(p, wait_status);
}

/* Interrupts every thread of p but self. tlock held. */
static void interrupt_others_locked(struct process *p, struct pthread_info *self)
{
	for (unsigned i = 0; i < PROCESS_MAX_THREADS; i++) {
		struct pthread_info *t = &p->threads[i];

		if (t != self && t->tid && t->kthread)
			thread_interrupt(t->kthread);
	}
}

/* Wakes the table's queue: a de_thread waiting for the others to go. */
static void wake_waiters(void)
{
	proc_lock();
	waitq_wake_all_locked(&proc_wq);
	proc_unlock();
}

/* The calling thread t of p is leaving: its robust futexes are released
 * (futex.h), once (the list is forgotten). */
static void robust_release(struct process *p, struct pthread_info *t)
{
	uint64_t head = t->robust_list;

	t->robust_list = t->robust_len = 0;
	if (head && uthread_owner() == t) /* not a test's kernel thread */
		futex_exit_robust(p, head, t->tid);
}

/*
 * The calling thread t of p goes: its robust futexes released, detached,
 * its slot freed (its pending thread-directed signals with it; the
 * process's go to another thread), and either the kernel thread ends
 * or, if it was the last, the process is torn down with wait_status (the
 * group's if p is exiting).
 */
static __attribute__((noreturn)) void thread_leave(struct process *p, struct pthread_info *t,
						   int wait_status)
{
	struct signal_thread *sig;
	bool last;

	robust_release(p, t);
	uthread_detach(); /* nothing if it never attached (or a test's thread) */
	spin_lock(&p->tlock);
	sig = t->sig;
	t->sig = NULL;
	t->kthread = NULL;
	t->tid = 0;
	p->nthreads--;
	last = p->nthreads == 0;
	if (p->exiting)
		wait_status = p->exit_status;
	if (!last)
		signal_retarget_locked(p); /* what it was to take, another takes */
	spin_unlock(&p->tlock);
	signal_thread_free(sig);
	if (last)
		process_teardown(p, wait_status);
	/* p may be gone from here on (its last thread tore it down) */
	wake_waiters();
	thread_exit();
}

__attribute__((noreturn)) void process_exit(struct process *p, int wait_status)
{
	struct pthread_info *self = process_self(p);

	if (!self)
		panic("process %u: exit from a thread that is not one of its", p->pid);
	spin_lock(&p->tlock);
	if (!p->exiting) { /* the first group exit gives the status */
		p->exiting = true;
		p->exit_status = wait_status;
	}
	interrupt_others_locked(p, self);
	spin_unlock(&p->tlock);
	wake_waiters();
	thread_leave(p, self, wait_status);
}

__attribute__((noreturn)) void process_thread_exit(struct process *p, int wait_status)
{
	struct pthread_info *self = process_self(p);
	uint64_t ctid = self ? self->clear_child_tid : 0;
	uint32_t zero = 0;

	if (!self)
		panic("process %u: exit from a thread that is not one of its", p->pid);
	robust_release(p, self); /* before the join's wake, as Linux's mm_release */
	if (ctid && !__atomic_load_n(&p->exiting, __ATOMIC_RELAXED) &&
	    !copy_to_user(ctid, &zero, sizeof(zero)))
		futex_wake_addr(p, ctid, 1); /* pthread_join sleeps there */
	thread_leave(p, self, wait_status);
}

void process_check_exit(struct process *p)
{
	struct pthread_info *self;
	bool leave;

	if (!__atomic_load_n(&p->exiting, __ATOMIC_RELAXED) &&
	    !__atomic_load_n(&p->dethread, __ATOMIC_RELAXED))
		return; /* the common case: no lock */
	self = process_self(p);
	spin_lock(&p->tlock);
	leave = p->exiting || (p->dethread && p->dethread != self);
	spin_unlock(&p->tlock);
	if (leave)
		thread_leave(p, self, 0); /* not the last if de_thread: no status */
}

void process_dethread(struct process *p)
{
	struct pthread_info *self = process_self(p);
	bool leave;

	spin_lock(&p->tlock);
	leave = p->exiting || (p->dethread && p->dethread != self);
	if (!leave && p->nthreads > 1) {
		p->dethread = self;
		interrupt_others_locked(p, self);
	}
	spin_unlock(&p->tlock);
	if (leave)
		thread_leave(p, self, 0);
	proc_lock(); /* every leaving thread wakes the queue after its count */
	while (__atomic_load_n(&p->nthreads, __ATOMIC_RELAXED) > 1 &&
	       !__atomic_load_n(&p->exiting, __ATOMIC_RELAXED))
		waitq_wait_locked(&proc_wq, 0);
	proc_unlock();
	spin_lock(&p->tlock);
	p->dethread = NULL;
	leave = p->exiting;
	if (!leave) {
		self->tid = p->pid; /* as Linux: the exec'ing thread takes the pid */
		self->comm[0] = '\0'; /* named as the new program (exec sets comm) */
	}
	spin_unlock(&p->tlock);
	if (leave)
		thread_leave(p, self, 0);
}

/* A new thread t (of a fork child or a clone) says it attached, or
 * failed to, to its creator waiting in wait_start. */
static void start_report(struct pthread_info *t, int err)
{
	proc_lock();
	t->start_err = err;
	t->start_done = true;
	waitq_wake_all_locked(&proc_wq);
	proc_unlock();
}

/* Sleeps until t's thread has attached or failed to; what it said. */
static int wait_start(struct pthread_info *t)
{
	int err;

	proc_lock();
	while (!t->start_done)
		waitq_wait_locked(&proc_wq, 0);
	err = t->start_err;
	proc_unlock();
	return err;
}

/* Makes the calling kernel thread t's user thread in p's uspace; 0 or
 * what uthread_attach said. */
static int thread_attach(struct process *p, struct pthread_info *t)
{
	int err = uthread_attach(process_mm(p)->us);

	if (err)
		return err;
	uthread_set_owner(t);
	spin_lock(&p->tlock);
	t->kthread = thread_current(); /* from now on signals interrupt it */
	spin_unlock(&p->tlock);
	return 0;
}

/* The thread of a process `run` started. */
static void process_main(void *arg)
{
	struct process *p = arg;
	int err = thread_attach(p, &p->threads[0]);

	if (err) {
		hostlink_eprintf(p->run, "%s: cannot start a user thread (%s)\n", p->path,
				 errno_message(err));
		process_exit(p, PROCESS_EXITED(126));
	}
	user_enter(p->entry, p->sp);
}

/* The thread of a fork child: attaches, tells the parent (which undoes
 * everything if that failed), then resumes the parent's snapshot. */
static void fork_main(void *arg)
{
	struct process *c = arg;
	struct pthread_info *t = &c->threads[0];
	struct user_state *st = t->start_state; /* ours from here on */
	uint64_t settid = c->child_settid;
	uint32_t tid = t->tid;
	int err = thread_attach(c, t);

	start_report(t, err);
	if (err) {
		user_state_free(st);
		return; /* c is the parent's to free now */
	}
	/* as Linux: a bad address is not the child's death */
	if (settid)
		(void)copy_to_user(settid, &tid, sizeof(tid));
	user_resume(st);
}

/* The thread of a clone: as fork_main, in its process's uspace. A
 * sending that came before it set kthread is pending: its first
 * return to the kernel looks (and leaves if p is exiting). */
static void thread_main(void *arg)
{
	struct pthread_info *t = arg;
	struct user_state *st = t->start_state; /* ours from here on */
	int err = thread_attach(t->proc, t);

	start_report(t, err);
	if (err) {
		user_state_free(st);
		return; /* the slot is the creator's to free now */
	}
	thread_interrupt(thread_current());
	user_resume(st);
}

/* ---- clone (threads) ------------------------------------------------------ */

/* The registers a fork child or a new thread starts with: the caller's
 * at its syscall, returning 0, on stack if one was given; NULL if out of
 * memory. */
static struct user_state *child_start_state(const struct trap_frame *ptf, uint64_t stack)
{
	struct trap_frame tf = *ptf;

	tf.rax = 0;
	if (stack)
		tf.rsp = stack;
	return user_state_save(&tf);
}

/* A free slot of p for tid with sig, counted; -EAGAIN if p is full or
 * exiting. */
static int slot_take(struct process *p, uint32_t tid, struct signal_thread *sig,
		     struct pthread_info **out)
{
	int err = -EAGAIN;

	spin_lock(&p->tlock);
	for (unsigned i = 0; i < PROCESS_MAX_THREADS && !p->exiting && !p->dethread; i++) {
		struct pthread_info *t = &p->threads[i];

		if (t->tid)
			continue;
		t->tid = tid;
		t->sig = sig;
		t->kthread = NULL;
		t->tf = NULL;
		t->sysno = -1;
		t->clear_child_tid = t->robust_list = t->robust_len = 0;
		t->comm[0] = '\0';
		t->start_done = false;
		t->start_err = 0;
		p->nthreads++;
		*out = t;
		err = 0;
		break;
	}
	spin_unlock(&p->tlock);
	return err;
}

/* Undoes slot_take for a thread that never ran (or has gone). */
static void slot_release(struct process *p, struct pthread_info *t)
{
	struct signal_thread *sig;

	spin_lock(&p->tlock);
	sig = t->sig;
	t->sig = NULL;
	t->tid = 0;
	p->nthreads--;
	spin_unlock(&p->tlock);
	signal_thread_free(sig);
}

long process_clone_thread(struct process *p, const struct process_clone_args *a)
{
	struct pthread_info *self = process_self(p), *t;
	struct signal_thread *sig;
	uint32_t tid;
	int err;

	if (!self || !self->tf)
		return -EINVAL;
	sig = signal_thread_create(self->sig, true);
	if (!sig)
		return -ENOMEM;
	tid = new_tid();
	err = slot_take(p, tid, sig, &t);
	if (err) {
		signal_thread_free(sig);
		return err;
	}
	t->start_state = child_start_state(self->tf, a->stack);
	if (!t->start_state) {
		err = -ENOMEM;
		goto release;
	}
	if (a->settls)
		user_state_set_fs_base(t->start_state, a->tls);
	t->clear_child_tid = a->child_cleartid;
	/* before it runs, as Linux; bad addresses are not checked */
	if (a->parent_tid)
		(void)copy_to_user(a->parent_tid, &tid, sizeof(tid));
	if (a->child_settid)
		(void)copy_to_user(a->child_settid, &tid, sizeof(tid));
	if (!thread_create(p->path, thread_main, t, true)) {
		err = -ENOMEM;
		goto free_state;
	}
	err = wait_start(t); /* after it, t may be gone already */
	if (err)
		goto release; /* the thread freed the snapshot */
	pr_debug("process %u: thread %u", p->pid, tid);
	return tid;
free_state:
	user_state_free(t->start_state);
release:
	slot_release(p, t);
	return err;
}

/* ---- fork ----------------------------------------------------------------- */

/* The child's struct, with a pid, in p's tree and family. */
static int fork_prepare(struct process *p, const struct process_fork_args *a,
			struct process **out)
{
	struct process *mm = process_mm(p), *c = process_alloc();

	if (!c)
		return -ENOMEM;
	c->home = mm->home;
	c->run = p->run;
	c->family = p->family;
	c->entry = mm->entry;
	c->sp = mm->sp;
	c->brk_start = mm->brk_start;
	c->brk = mm->brk;
	c->child_settid = a->child_settid;
	memcpy(c->path, p->path, sizeof(c->path));
	memcpy(c->exe, p->exe, sizeof(c->exe));
	c->info = p->info;
	c->info.start_ns = clock_ns();
	c->fs = p->fs;
	process_cred(p, &c->cred);
	excache_proc_init(&c->ec, c->home);
	c->sig = signal_state_fork(p->sig);
	c->files = fd_table_fork(p->files);
	if (!c->sig || !c->files) {
		process_free(c);
		return -ENOMEM;
	}
	if (table_add(c)) {
		process_free(c);
		return -EAGAIN;
	}
	if (first_thread(c, process_self(p)->sig)) {
		table_remove(c);
		process_free(c);
		return -ENOMEM;
	}
	c->threads[0].clear_child_tid = a->child_cleartid;
	c->vfork_active = a->vfork;
	proc_lock();
	if (a->vfork) { /* before its thread runs: it attaches to mm's uspace */
		c->vfork_mm = mm;
		mm->mm_borrowers++;
	}
	c->pgid = p->pgid;
	c->sid = p->sid;
	c->parent = p;
	list_push_back(&p->children, &c->sibling);
	p->family->members++; /* not the last: p is a member */
	proc_unlock();
	*out = c;
	return 0;
}

/* Undoes fork_prepare (the child's thread never ran or has gone). */
static void fork_unlink(struct process *c)
{
	proc_lock();
	mm_unborrow_locked(c);
	list_remove(&c->sibling);
	c->parent = NULL;
	c->family->members--;
	table_remove_locked(c);
	proc_unlock();
	process_free(c);
}

static int mem_fork(struct process *p, struct process *c)
{
	struct mem_fork_req rq = {.pid = p->pid, .child_pid = c->pid};
	struct mem_value rp;

	return process_mem_call(p, MSG_MEM_FORK, &rq, sizeof(rq), &rp, sizeof(rp));
}

/* A fork child's own address space: a copy of the one p uses (its
 * lines written back, MEM_FORK on the home) and an empty uspace. 0, or
 * the error with nothing of it left. */
static int fork_copy_space(struct process *p, struct process *c)
{
	struct process *mm = process_mm(p);
	int err = excache_fork(mm, c);

	if (err)
		return err;
	err = mem_fork(mm, c);
	if (!err) {
		c->us = uspace_create();
		err = c->us ? 0 : -ENOMEM;
	}
	if (err)
		process_mem_exit(c); /* a timed-out MEM_FORK may have made the copy */
	return err;
}

/* The vfork parent's sleep until child cpid releases it (exec, exit) or
 * is gone; a SIGKILL for p ends it early. Other signals stay pending:
 * the interrupt mark is cleared and the sleep goes on (signal_deliver
 * finds them in the pending sets afterwards). */
static void vfork_wait(struct process *p, uint32_t cpid)
{
	struct process *c;

	proc_lock();
	while ((c = process_find_locked(cpid)) && c->vfork_active) {
		if (waitq_wait_intr_locked(&proc_wq, 0) != -EINTR)
			continue;
		if (signal_kill_pending(p))
			break;
		thread_interrupt_clear();
	}
	proc_unlock();
}

void process_vfork_release(struct process *p)
{
	proc_lock();
	mm_unborrow_locked(p);
	if (p->vfork_active) {
		p->vfork_active = false;
		waitq_wake_all_locked(&proc_wq);
	}
	proc_unlock();
}

long process_fork(struct process *p, const struct process_fork_args *a)
{
	struct pthread_info *self = process_self(p);
	const struct trap_frame *ptf = self ? self->tf : NULL;
	struct process *c;
	uint32_t cpid;
	int err;

	if (!ptf)
		return -EINVAL;
	err = fork_prepare(p, a, &c);
	if (err)
		return err;
	cpid = c->pid;
	if (!a->vfork) {
		err = fork_copy_space(p, c);
		if (err)
			goto unlink;
	}
	c->threads[0].start_state = child_start_state(ptf, a->stack);
	if (!c->threads[0].start_state) {
		err = -ENOMEM;
		goto drop_space;
	}
	if (!thread_create(c->path, fork_main, c, true)) {
		err = -ENOMEM;
		goto free_state;
	}
	err = wait_start(&c->threads[0]);
	if (err)
		goto drop_space; /* the thread freed the snapshot */
	/* c may be gone from here on (exited, reaped by another thread) */
	pr_debug("process %u: forked %u%s", p->pid, cpid, a->vfork ? " (vfork)" : "");
	if (a->vfork)
		vfork_wait(p, cpid);
	return cpid;
free_state:
	user_state_free(c->threads[0].start_state);
drop_space:
	if (c->us) { /* not a vfork child's: it has none */
		uspace_destroy(c->us);
		process_mem_exit(c);
	}
unlink:
	fork_unlink(c);
	return err;
}

void process_mm_take_own(struct process *p, struct uspace *us)
{
	p->us = us;
	uthread_set_uspace(us); /* off the lender's tables before it may go */
	process_vfork_release(p);
}

/* ---- start ----------------------------------------------------------------- */

/* The shell's exit status and message for a failed start. */
static int start_failure(struct hostlink_run *run, const char *path, int err)
{
	hostlink_eprintf(run, "%s: %s\n", path, errno_message(err));
	return err == -EACCES || err == -ENOEXEC || err == -EISDIR ? 126 : 127;
}

/* Checks that a user program can start here at all, with home if it
 * is not 0; 0 or the status. */
static int check_can_run(struct hostlink_run *run, const char *path, uint16_t home)
{
	if (!process_first_memory_node()) {
		hostlink_eprintf(
			run,
			"%s: cannot run user programs: no memory= word on this "
			"processor's command line (its vNode has no memory node)\n",
			path);
		return 127;
	}
	if (home && !process_is_memory_node(home)) {
		hostlink_eprintf(run, "%s: node %u is not one of this vNode's memory nodes\n",
				 path, home);
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

/* Exec on the home, uspace, thread. 0 once the thread exists (p is its
 * from then on), else the error with all but p's slot undone. */
static int start_root(struct process *p, const char *path, int argc, char **argv)
{
	int err;

	err = exec_start(p, path, argc, argv);
	if (err)
		goto mem_exit;
	p->us = uspace_create();
	if (!p->us) {
		err = -ENOMEM;
		goto mem_exit;
	}
	proc_lock();
	p->family->members++;
	proc_unlock();
	if (!thread_create(p->path, process_main, p, true)) {
		err = -ENOMEM;
		goto leave_family;
	}
	return 0;
leave_family:
	proc_lock();
	p->family->members--;
	proc_unlock();
	uspace_destroy(p->us);
	p->us = NULL;
mem_exit:
	process_mem_exit(p); /* a timed-out MEM_EXEC may have built the space anyway */
	return err;
}

/* What a process `run` starts has besides memory: its own process
 * group and session, the family's console as fds 0-2, "/" as working
 * directory, umask 022, every signal at its default. */
static int root_setup(struct process *p, struct process_family *fam, const char *path)
{
	struct file *std[3];
	int err;

	p->pgid = p->sid = p->pid;
	cred_root(&p->cred);
	strlcpy(p->exe, path, sizeof(p->exe));
	strlcpy(p->fs.cwd, "/", sizeof(p->fs.cwd));
	p->fs.umask = 022;
	p->sig = signal_state_create();
	p->files = fd_table_create();
	fam->tty = tty_create(fam->run, p->pid);
	if (!p->sig || !p->files || !fam->tty || first_thread(p, NULL))
		return -ENOMEM;
	err = tty_std_files(fam->tty, std);
	for (int fd = 0; fd < 3 && !err; fd++)
		if (fd_install(p->files, std[fd], fd, false) != fd)
			err = -EMFILE; /* cannot happen in a new table */
	return err;
}

void process_family_wait(struct process_family *fam)
{
	proc_lock();
	while (fam->members)
		waitq_wait_locked(&proc_wq, 0);
	proc_unlock();
}

int process_run(struct hostlink_run *run, uint16_t home, const char *path, int argc,
		char **argv)
{
	struct process_family fam = {.run = run};
	bool by_gmm = false;
	struct process *p;
	int status, err;

	status = check_can_run(run, path, home);
	if (status)
		return status;
	p = process_alloc();
	if (!p)
		return start_failure(run, path, -ENOMEM);
	p->run = run;
	p->family = &fam;
	p->home = home ? home : process_choose_home(&by_gmm);
	excache_proc_init(&p->ec, p->home);
	strlcpy(p->path, path, sizeof(p->path));
	if (table_add(p)) {
		kfree(p);
		hostlink_eprintf(run, "%s: too many processes (at most %u)\n", path,
				 PROCESS_MAX);
		return 127;
	}
	fam.root_pid = p->pid;
	pr_debug("process %u: %s: home memory node %u (%s)", p->pid, path, p->home,
		 home ? "asked for" : by_gmm ? "GMM" : "first memory node");
	err = root_setup(p, &fam, path);
	if (!err)
		err = start_root(p, path, argc, argv);
	if (err) {
		table_remove(p);
		process_free(p);
		if (fam.tty)
			tty_destroy(fam.tty);
		return start_failure(run, path, err);
	}
	process_family_wait(&fam); /* p freed itself: it has no parent */
	tty_destroy(fam.tty);	   /* every file of it was closed at the exits */
	return process_shell_status(fam.root_status);
}

int process_hostlink_run(struct hostlink_run *run, int argc, char **argv)
{
	return process_run(run, 0, argv[0], argc, argv);
}

struct process *process_ktest_add(struct process_family *fam, struct process *parent)
{
	struct process *p = process_alloc();

	if (!p)
		return NULL;
	p->family = fam;
	p->run = fam->run;
	strlcpy(p->path, "ktest", sizeof(p->path));
	p->sig = signal_state_create();
	if (!p->sig || table_add(p)) {
		process_free(p);
		return NULL;
	}
	if (first_thread(p, NULL)) {
		table_remove(p);
		process_free(p);
		return NULL;
	}
	proc_lock();
	p->pgid = parent ? parent->pgid : p->pid; /* as fork and run do */
	p->sid = parent ? parent->sid : p->pid;
	p->parent = parent;
	if (parent)
		list_push_back(&parent->children, &p->sibling);
	fam->members++;
	proc_unlock();
	return p;
}

/* ---- hooks ----------------------------------------------------------------- */

static int hook_page_fault(uint64_t addr, unsigned access, bool from_user)
{
	struct process *p = process_current();

	if (!p)
		return -EFAULT;
	return excache_fault(process_mm(p), addr, access);
}

struct fatal_kind {
	int sig;
	const char *what; /* as shells say it */
};

/* The signal of a fatal exception; a page fault's err says which (a page
 * of a file mapping wholly past the file's end: -ENXIO, SIGBUS). */
static struct fatal_kind fatal_kind(unsigned vector, int err)
{
	if (vector == 14 && err == -ENXIO)
		return (struct fatal_kind){SIGBUS, "Bus error"};
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

/* What a fatal exception tells the handler (siginfo). */
static struct signal_info fatal_info(unsigned vector, int sig, uint64_t addr, int err)
{
	struct signal_info info = {.signo = sig, .code = SI_KERNEL};

	if (sig == SIGSEGV && vector == 14) {
		info.code = err == -EACCES ? SEGV_ACCERR : SEGV_MAPERR;
		info.addr = addr;
	} else if (sig == SIGBUS && vector == 14) {
		info.code = BUS_ADRERR;
		info.addr = addr;
	} else if (sig != SIGSEGV) {
		info.code = sig == SIGTRAP ? SI_KERNEL : 1; /* ILL_ILLOPC, FPE_INTDIV, BUS_ADRALN */
		info.addr = addr;		    /* the faulting rip */
	}
	return info;
}

/* Whether p's death by a fatal exception is told on the run's stderr:
 * only for the process `run` started, which has no shell above it to
 * tell it (Linux prints nothing itself; a shell reports its child's
 * death). */
static bool fatal_told(struct process *p)
{
	bool root;

	proc_lock();
	root = p->family->root_pid == p->pid;
	proc_unlock();
	return root;
}

/* A fatal exception: to the process's handler if it has one (returns with
 * tf rewritten), else it is killed by the signal, with a shell-like line
 * on the run's stderr if it is the run's first process (fatal_told), and
 * a console line for any. */
static void hook_fatal(struct trap_frame *tf, unsigned vector, uint64_t addr, int err)
{
	struct process *p = process_current();
	struct fatal_kind k = fatal_kind(vector, err);
	struct signal_info info = fatal_info(vector, k.sig, addr, err);
	int kill_sig;

	if (!p)
		panic("user-mode exception %u in a thread without a process", vector);
	kill_sig = signal_fatal(p, tf, &info);
	if (!kill_sig)
		return; /* a handler runs next */
	if (kill_sig != k.sig)
		k = (struct fatal_kind){kill_sig, "Segmentation fault"}; /* no room for a frame */
	if (fatal_told(p) && vector == 14)
		hostlink_eprintf(p->run, "%s at 0x%llx (rip 0x%llx, %s)\n", k.what,
				 (unsigned long long)addr, (unsigned long long)tf->rip,
				 errno_message(err));
	else if (fatal_told(p))
		hostlink_eprintf(p->run, "%s (rip 0x%llx)\n", k.what,
				 (unsigned long long)tf->rip);
	pr_info("process %u (%s): %s, vector %u, rip %#llx, address %#llx", p->pid,
		p->path, k.what, vector, (unsigned long long)tf->rip,
		(unsigned long long)addr);
	process_exit(p, PROCESS_KILLED(k.sig));
}

/* Back to user mode from an interrupt with the thread interrupted: the
 * signals sent to it meanwhile. */
static void hook_user_return(struct trap_frame *tf)
{
	struct process *p = process_current();

	if (p)
		signal_deliver(p, tf);
}

static const struct user_hooks process_hooks = {
	.syscall = syscall_dispatch,
	.page_fault = hook_page_fault,
	.fatal = hook_fatal,
	.user_return = hook_user_return,
};

void process_init(void)
{
	futex_init();
	user_set_hooks(&process_hooks);
}
