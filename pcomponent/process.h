/*
 * Processes and their threads on the processor (pcomponent/process.c).
 * A process's address space lives on its home memory node (include/
 * proto/mem.h); here it has a pid, a uspace whose only mappings are
 * ExCache lines (pcomponent/excache.h), its threads (up to
 * PROCESS_MAX_THREADS, sharing everything but their registers, signal
 * masks and thread-directed signals), the hostlink run its
 * standard output and error go to, and its ExCache counters. Processes
 * form trees (fork): a parent, children, zombies until wait4; a tree
 * started by one `run` shares that run (its family).
 */
#ifndef PCOMPONENT_PROCESS_H
#define PCOMPONENT_PROCESS_H

#include "cred.h"
#include "excache.h"
#include "file.h"

#include <kernel/hostlink.h>
#include <kernel/spinlock.h>
#include <kernel/wait.h>
#include <lib/list.h>
#include <proto/mem.h>
#include <proto/tessera_sys.h>
#include <stdbool.h>
#include <stdint.h>

#define PROCESS_MAX	    64 /* processes at once on this processor */
#define PROCESS_MAX_THREADS 32 /* user threads per process (clone: EAGAIN beyond) */

struct signal_state;
struct signal_thread;
struct thread;
struct trap_frame;
struct tty;
struct user_state;
struct uspace;

#define PROCESS_COMM_LEN 16 /* Linux's TASK_COMM_LEN, NUL included */

/*
 * A user thread of a process: a slot of process.threads, used while tid
 * is not 0. "tlock" is the process's threads lock (struct process.tlock);
 * "the thread's" fields are read and written by that thread only (and,
 * before it starts, by the one creating it).
 */
struct pthread_info {
	struct process *proc;	  /* constant */
	unsigned tid;		  /* Linux's: the first thread's is the pid; 0: a free
				     slot; tlock (exec's de_thread rewrites it) */
	struct thread *kthread;	  /* its kernel thread, set by the thread itself once it
				     is a user thread, NULL again before it exits; tlock */
	struct signal_thread *sig; /* signal.h: its mask and pending signals; constant
				      while the slot is used */
	uint64_t clear_child_tid; /* set_tid_address, CLONE_CHILD_CLEARTID; the thread's */
	struct trap_frame *tf;	  /* its registers at the syscall being served (fork,
				     clone copy them), NULL outside one; the thread's */
	uint64_t robust_list, robust_len; /* set_robust_list; the thread's (fork, exec: 0) */
	int64_t sysno;		  /* that syscall's number, for a restart after a
				     signal (Linux's orig_ax); -1 once signal_deliver
				     has seen it; the thread's */
	/* its own name (PR_SET_NAME by a thread other than the first), ""
	 * for the process's (process_info.comm); tlock */
	char comm[PROCESS_COMM_LEN];
	/* fork, clone: the new thread's start (process.c's fork_main,
	 * thread_main) */
	struct user_state *start_state; /* the registers it resumes with */
	bool start_done;		/* proc lock: it attached, or failed */
	int start_err;			/* proc lock: what uthread_attach said */
};

#define PROCESS_CMDLINE_MAX 256 /* argv bytes kept for /proc/PID/cmdline */
#define PROCESS_RLIMITS	    16	/* Linux's RLIM_NLIMITS */

/* One resource limit (getrlimit): RLIM_INFINITY is ~0. */
struct process_rlimit {
	uint64_t cur, max;
};

/*
 * What /proc and the process-information calls report about a process
 * (pcomponent/exec.c sets it at the start and at each execve; fork
 * copies it with a new start time). Written by the process's own thread
 * only, without a lock; procfs copies another process's under the table
 * lock (process_snapshot), so a reader racing an execve may see a mix of
 * the old and the new text (NUL-ended all the same).
 */
struct process_info {
	char comm[PROCESS_COMM_LEN];	 /* prctl PR_SET_NAME; the program's base name */
	uint32_t cmdline_len;		 /* bytes of cmdline used */
	char cmdline[PROCESS_CMDLINE_MAX]; /* argv strings with their NULs, truncated */
	uint64_t start_ns;		 /* clock_ns() when it was created */
	struct process_rlimit rlim[PROCESS_RLIMITS]; /* setrlimit; kept across exec */
};

enum process_state {
	PROCESS_RUNNING, /* it has threads (or is being torn down by its last) */
	PROCESS_ZOMBIE,	 /* exited; waits for its parent's wait4 */
};

/* Linux's wait status (wait4, waitid): exit code << 8, or the number of
 * the signal that killed the process. */
#define PROCESS_EXITED(code) (((code) & 0xff) << 8)
#define PROCESS_KILLED(sig)  ((sig) & 0x7f)
#define PROCESS_WIFEXITED(ws) (((ws) & 0x7f) == 0)
/* ... and for a stop by sig, and a continue (WUNTRACED, WCONTINUED). */
#define PROCESS_STOPPED(sig)	  (0x7f | ((sig) & 0xff) << 8)
#define PROCESS_CONTINUED	  0xffff
#define PROCESS_WIFSTOPPED(ws)	  (((ws) & 0xff) == 0x7f)
#define PROCESS_WIFCONTINUED(ws) ((ws) == PROCESS_CONTINUED)

/* process_wait's options: Linux's wait4/waitid bits. */
#define PROCESS_WNOHANG	   0x1
#define PROCESS_WSTOPPED   0x2 /* WUNTRACED */
#define PROCESS_WEXITED	   0x4
#define PROCESS_WCONTINUED 0x8
#define PROCESS_WNOWAIT	   0x01000000

/* The processes of one `run`, which share its hostlink run (process.c's
 * top comment). On process_run's stack; fields under the table lock. */
struct process_family {
	struct hostlink_run *run;
	struct tty *tty;   /* the console (pcomponent/tty.h); constant */
	unsigned members;  /* processes not done exiting */
	uint32_t root_pid; /* the process `run` started */
	int root_status;   /* its wait status once it exited */
};

/*
 * Locking: fields marked "proc lock" are under the process table's lock
 * (process.c's proc_wq.lock); the process tree (parent, children,
 * sibling), state and wait_status change only under it.
 */
struct process {
	uint32_t pid;		  /* constant */
	uint16_t home;		  /* home memory node (a new program's: process_
				     choose_home; fork/vfork: the parent's); constant */
	struct uspace *us;	  /* constant from creation until the exit; a vfork
				     child's: NULL until its execve (process_mm) */
	struct hostlink_run *run; /* fds 1 and 2 (NULL: output dropped); constant,
				     the same for the whole family */
	struct process_family *family; /* constant; holds one member count */
	uint64_t entry, sp;	  /* from MEM_EXEC (fork: the parent's); the process's
				     thread changes them at execve */
	uint64_t brk_start;	  /* lowest break; set at exec */
	uint64_t brk;		  /* current break; brk_lock */
	struct completion brk_lock; /* a sleeping lock (one token): brk calls of
				       the threads one at a time */
	struct spinlock tlock;	  /* the threads lock: nthreads, the slots' tid and
				     kthread, exiting, dethread, exit_status; taken
				     under the table lock, a signal lock under it */
	unsigned nthreads;	  /* slots used; tlock */
	bool exiting;		  /* exit_group or a fatal signal: every thread leaves
				     at its next return to the kernel; tlock */
	struct pthread_info *dethread; /* an execve's thread: every other one leaves;
					  tlock */
	int exit_status;	  /* the wait status once exiting; tlock */
	struct pthread_info threads[PROCESS_MAX_THREADS];
	struct process *parent;	    /* NULL: started by the CLI, or orphaned; proc lock */
	struct list_node children;  /* its children, by sibling; proc lock */
	struct list_node sibling;   /* in parent->children; proc lock */
	enum process_state state;   /* proc lock */
	int wait_status;	    /* Linux's encoding, set with PROCESS_ZOMBIE */
	int wait_stop;		    /* a stop wait4 has not reported yet (its status,
				       PROCESS_STOPPED), 0 if none; proc lock */
	bool wait_cont;		    /* a continue not reported yet (WCONTINUED); proc
				       lock */
	uint64_t child_settid;	       /* fork: CLONE_CHILD_SETTID address, or 0 */
	bool vfork_active;	       /* a vfork child whose parent waits for its
					  execve or exit; proc lock */
	/* a vfork child runs in its parent's address space until its
	 * execve or exit (process_mm): the process it borrows it from, or
	 * NULL for its own. Set before its thread runs, cleared by its own
	 * thread (process_vfork_release); written under the proc lock,
	 * read by p's threads without it */
	struct process *vfork_mm;
	unsigned mm_borrowers;	       /* vfork children in p's address space (their
					  vfork_mm is p): its teardown and an execve
					  wait until none is left; proc lock */
	struct excache_proc ec;	       /* pcomponent/excache.c's */
	struct fd_table *files;	       /* file.h; the process's thread, until its exit */
	struct fs_view fs;	       /* working directory, umask; the process's thread */
	struct signal_state *sig;      /* signal.h; constant until the struct is freed */
	uint32_t pgid, sid;	       /* process group and session; proc lock */
	struct cred cred;	       /* cred.h: its ids; tlock (fork copies them, execve
					  keeps them) */
	char exe[MEM_EXEC_PATH_MAX];   /* the program's absolute path (/proc/self/exe);
					  the process's thread (execve) */
	char path[64];		       /* for messages, truncated */
	struct process_info info;      /* above; the process's thread */
};

/*
 * The process whose address space p uses: p itself, or, for a vfork
 * child until its execve or exit, the parent it borrows it from (its
 * pid, home, ExCache state, uspace, break). Everything that acts on
 * memory (page faults, the memory calls, futex names, /proc maps) goes
 * through it; what is p's own (pid, fds, signals, credentials) does
 * not. For p's own threads (the field changes only under them).
 */
static inline struct process *process_mm(struct process *p)
{
	struct process *lender = __atomic_load_n(&p->vfork_mm, __ATOMIC_RELAXED);

	return lender ? lender : p;
}

/*
 * p's execve (not a borrower's: its own space is new) waits until no
 * vfork child runs in p's address space any more, since MEM_EXEC
 * replaces it (Linux gives the exec a new one instead). Returns 0, or
 * -EINTR if p is exiting or has a SIGKILL pending (the caller returns
 * and leaves). Sleeps.
 */
int process_mm_wait(struct process *p);

/* The vNode's first memory= node, 0 if there is none (then no user
 * program can run here): the home when there is nothing to choose from
 * or the global memory manager cannot answer. */
uint16_t process_first_memory_node(void);

/* Whether node is one of the vNode's memory= nodes (0 is none). */
bool process_is_memory_node(uint16_t node);

/*
 * The home memory node of a new top-level program (process_run; fork,
 * vfork and exec keep the one they have): with more than one memory node
 * and a manager= node, the one the global memory manager picks among
 * them (MGR_PLACE_VREGION: the freest that is UP; *by_gmm set); else, or
 * if the manager cannot answer in time or names a node not offered, the
 * first (logged once per boot). Never fails. Sleeps (an RPC).
 */
uint16_t process_choose_home(bool *by_gmm);

/* Installs the user-mode hooks (system calls, ExCache misses, fatal
 * exceptions). Call once at start, before any process runs. */
void process_init(void);

/*
 * Runs the program at path (absolute) with argv[0..argc) as a new process
 * whose output goes to run, and waits until it and every process forked
 * from it (its family, which shares run) have ended. Its home memory node
 * is home, which must be one of memory= (127 else), or, with home 0,
 * process_choose_home's. Returns its exit status as a shell reports it
 * (0..255; 128 + signal when a signal killed it), or 127 / 126 when it
 * could not start (the reason written to run's stderr as a shell would:
 * "path: No such file or directory").
 */
int process_run(struct hostlink_run *run, uint16_t home, const char *path, int argc,
		char **argv);

/* The hostlink program for names with a '/' (a hostlink_fn): runs
 * argv[0] as a user program. */
int process_hostlink_run(struct hostlink_run *run, int argc, char **argv);

/* The process of the calling user thread, NULL in a kernel thread. */
struct process *process_current(void);

/*
 * The calling thread's slot in p: the user thread's own; for a kernel
 * thread (self tests play a process's thread) p's first used slot, NULL
 * if p has none.
 */
struct pthread_info *process_self(struct process *p);

/*
 * Ends the calling thread's process with wait_status (PROCESS_EXITED or
 * PROCESS_KILLED; exit_group, a fatal signal): unless another thread
 * began a group exit first (its status stays), marks the process
 * exiting and interrupts its other threads, which leave at their next
 * return to the kernel (a sleep in a syscall ends as a signal ends it);
 * then the caller leaves as process_thread_exit says. The last thread
 * out tears the process down: its ExCache lines dropped without
 * write-back, MEM_EXIT on its home, its uspace destroyed; then it
 * becomes a zombie for its parent's wait4, or, without a parent,
 * disappears. Its children lose their parent (zombies among them are
 * freed; the others are freed when they exit). Its family's count drops,
 * which may let process_run return. Called by a thread of p; never
 * returns.
 */
__attribute__((noreturn)) void process_exit(struct process *p, int wait_status);

/*
 * exit(2): ends the calling thread only. Its robust futexes are released
 * (futex_exit_robust; every leaving thread's are, whatever ends it), then,
 * unless the process is exiting, 0 is written at its clear_child_tid (if
 * set) and one futex waiter there is woken (pthread_join). If it was the last thread, the process
 * ends with wait_status (or the group's status if exiting) as above.
 * Never returns.
 */
__attribute__((noreturn)) void process_thread_exit(struct process *p, int wait_status);

/*
 * Leaves (as process_thread_exit) if the calling thread must: p is
 * exiting, or another thread's execve is ending the others. Called at
 * every return to user mode (signal_deliver) and by sleeps that must not
 * outlive the process.
 */
void process_check_exit(struct process *p);

/* What a thread-creating clone asks (syscall.c decodes the flags). */
struct process_clone_args {
	uint64_t stack;		 /* the new thread's rsp (0: the caller's) */
	uint64_t tls;		 /* CLONE_SETTLS: its FS base; else the caller's */
	bool settls;
	uint64_t parent_tid;	 /* CLONE_PARENT_SETTID: its tid written there, or 0 */
	uint64_t child_settid;	 /* CLONE_CHILD_SETTID: the same, or 0 */
	uint64_t child_cleartid; /* CLONE_CHILD_CLEARTID: its clear_child_tid, or 0 */
};

/*
 * clone with CLONE_THREAD: a new user thread of p (the caller's process,
 * in a syscall) with a tid from the pid space, its own kernel thread and
 * stack, the caller's signal mask (no alternate stack, as Linux with
 * CLONE_VM), resuming user mode with the caller's registers at the
 * syscall but rax = 0, rsp = a->stack (if given), FS base a->tls (if
 * settls), the caller's FPU/SSE state. Returns its tid once it runs, or
 * -EAGAIN (PROCESS_MAX_THREADS reached, or p exiting), -ENOMEM, -EINVAL
 * (not in a syscall): then nothing of it is left. Sleeps.
 */
long process_clone_thread(struct process *p, const struct process_clone_args *a);

/*
 * execve's de_thread: ends every thread of p but the caller's and waits
 * until they are gone; the caller's tid becomes the pid. Returns 0, or
 * never returns if p began exiting meanwhile (the caller leaves). Sleeps.
 */
void process_dethread(struct process *p);

/* What a fork-like clone asks besides a copy (syscall.c decodes it). */
struct process_fork_args {
	uint64_t stack;		 /* the child's rsp (0: the parent's) */
	bool vfork;		 /* vfork, CLONE_VFORK: the parent waits (below) */
	uint64_t child_settid;	 /* CLONE_CHILD_SETTID: its tid there, or 0 */
	uint64_t child_cleartid; /* CLONE_CHILD_CLEARTID: its clear_child_tid */
};

/*
 * fork: a child of p (the caller's process, in a syscall: the calling
 * thread's tf set) with one thread, a copy of the caller, and a copy of
 * p's address space (process_mm(p)'s: excache_fork, then MEM_FORK on
 * the home), the same home, run and break, resuming user mode with p's
 * registers at the syscall but rax = 0, p's FPU/SSE state and FS base.
 * Returns the child's pid, or -ENOMEM, -EAGAIN (no slot), -EINVAL (not
 * in a syscall), or the write-back or MEM_FORK error (-ENOSYS from a
 * memory node without fork): then nothing of the child is left. Sleeps.
 *
 * With a->vfork the child gets no copy: it borrows p's address space
 * (vfork_mm, process_mm) until its execve or exit, as Linux's vfork,
 * and the calling thread sleeps until then (process_vfork_release);
 * only a SIGKILL (or p's exit, or another thread's execve) ends the
 * sleep early; other signals wait until it is over. p's address space
 * outlives the borrowing (process_mm_wait, and p's teardown waits).
 */
long process_fork(struct process *p, const struct process_fork_args *a);

/*
 * p (a vfork child) exec'd or is exiting: it gives back the address
 * space it borrowed (its threads must run on it no more: the execve
 * switched to its own uspace, the exit detached) and its parent's vfork
 * returns. Nothing if p is no vfork child or released already.
 */
void process_vfork_release(struct process *p);

/*
 * The borrower's side of execve (pcomponent/exec.c): the calling thread
 * of p (a vfork child, its only thread) leaves the borrowed uspace for
 * us, p's own new one (empty: the new image comes in by misses), then p
 * gives back the borrowed space (process_vfork_release).
 */
void process_mm_take_own(struct process *p, struct uspace *us);

/*
 * wait4's and waitid's core: waits until a child of p matching pid (> 0:
 * that child; -1: any child; 0: any child in p's process group; below
 * -1: any child in process group -pid) has something options asks for
 * (PROCESS_W*: WEXITED a zombie, WSTOPPED a stop not reported yet,
 * WCONTINUED a continue not reported yet), unless WNOHANG. Returns its
 * pid with *wait_status the status (PROCESS_EXITED/KILLED, or
 * PROCESS_STOPPED, PROCESS_CONTINUED); a zombie stays one (process_reap
 * frees it), a stop or continue counts as reported unless WNOWAIT; 0
 * with WNOHANG if nothing is there yet; -ECHILD if p has no matching
 * child (children of a parent that ignores SIGCHLD never become zombies:
 * it waits until the last matching one is gone, then ECHILD, as Linux);
 * -EINTR if a signal interrupted the sleep. Sleeps interruptibly on the
 * process table's wait queue (every exit, stop and continue wakes it),
 * never polls. p's own thread only.
 */
long process_wait(struct process *p, int64_t pid, unsigned options, int *wait_status);
/* p stopped (stopped, by sig) or was continued: what wait4 reports
 * changes, the parent gets SIGCHLD (signal_child_stopped) and its wait4
 * wakes. Called by a thread of p (signal.c's stop_wait), no lock held. */
void process_stop_notify(struct process *p, bool stopped, int sig);

/* Frees p's zombie child cpid (found by process_wait). p's thread only. */
void process_reap(struct process *p, uint32_t cpid);

/*
 * The process table's lock (the "proc lock" of the fields above), for
 * callers that find processes and act on them at once (signals: kill,
 * process groups, the alarm timer). Nothing may sleep under it; a
 * process's signal lock is taken under it, never the other way round.
 * process_find_locked: the process with pid (zombies too), or NULL.
 * process_for_each_locked: fn(q, arg) for every process in the table
 * (zombies too) until fn returns nonzero, which it returns; else 0.
 */
void process_table_lock(void);
void process_table_unlock(void);
struct process *process_find_locked(uint32_t pid);
int process_for_each_locked(int (*fn)(struct process *q, void *arg), void *arg);

/* A copy of p's credentials (takes p's tlock: callable under the table
 * lock). */
void process_cred(struct process *p, struct cred *out);
/* The same as the storage node wants them (cred_to_fs), into *out,
 * which it returns: what path operations of p's files pass. */
const struct fs_cred *process_fs_cred(struct process *p, struct fs_cred *out);
/* Applies rule (one of cred.c's set*id calls on ids) to a copy of p's
 * credentials under its tlock and stores the copy if rule returned >= 0
 * (an error, negative, leaves them). Returns what rule returned. */
long process_cred_change(struct process *p, long (*rule)(struct cred *c, const uint32_t *ids),
			 const uint32_t *ids);

/* p's parent's pid; 0 for a process the CLI started, or an orphan. */
uint32_t process_ppid(struct process *p);

/* The status a shell shows for a wait status: the exit code, or 128 +
 * the signal. */
int process_shell_status(int wait_status);

/* Sleeps until every process of fam is done exiting (members 0). */
void process_family_wait(struct process_family *fam);

/*
 * Self tests (process_ktest.c): a process with a pid and a slot but no
 * address space and no thread, in fam (which the caller keeps until
 * process_family_wait returns), as a child of parent (NULL: none). A
 * kernel thread of the test then plays its thread: process_exit(p, ...)
 * goes through the whole exit (MEM_EXIT fails without a fabric, with a
 * warning). It has a signal state (every action SIG_DFL), and its
 * parent's process group and session (without a parent: its own pid, as
 * a process `run` starts). NULL if out of memory or slots.
 */
struct process *process_ktest_add(struct process_family *fam, struct process *parent);

/* MEM_EXIT for p's pid on its home: every frame and VMA of that space
 * freed (a failure other than "no such space" is logged). */
void process_mem_exit(struct process *p);

/* A call of opcode on p's home (timeouts chosen per opcode). */
int process_mem_call(struct process *p, unsigned opcode, const void *req, size_t req_len,
		     void *reply, size_t reply_len);
/* The same on the memory node home, for a caller that holds a snapshot
 * (struct process_snap) rather than the process. */
/*
 * Walks pid's VMAs as its home lists them (MEM_MAPS, in address order, a
 * reply of MEM_MAPS_MAX entries at a time): fn(ctx, rp, e) for each entry
 * e of reply rp (whose names hold file paths), until fn returns non-zero.
 * Returns 0, fn's value, -ENOMEM, or the home's error (-EPROTO for an
 * answer out of address order). Sleeps.
 */
struct mem_maps;
struct mem_map_entry;
int process_maps_each(uint16_t home, uint32_t pid,
		      int (*fn)(void *ctx, const struct mem_maps *rp, const struct mem_map_entry *e),
		      void *ctx);
int process_home_call(uint16_t home, unsigned opcode, const void *req, size_t req_len,
		      void *reply, size_t reply_len);

/* Processes now, and started since boot. */
void process_counts(unsigned *running, uint64_t *started);

/* p's thread tid, or NULL. p's threads lock held. */
struct pthread_info *process_thread_locked(struct process *p, uint32_t tid);

/* What procfs shows of another process, copied under the table lock. */
struct process_snap {
	uint32_t pid, ppid, pgid, sid;
	uint16_t home;
	uint32_t mm_pid; /* whose address space it uses (process_mm): pid, or a
			    vfork parent's */
	enum process_state state;
	uint64_t brk_start, brk;
	struct process_info info;
	unsigned nthreads;
	uint32_t tids[PROCESS_MAX_THREADS]; /* its threads' tids, ascending (the order
					       they were made in); nthreads of them */
	/* tids[i]'s own name, "" for the process's (info.comm) */
	char thread_comm[PROCESS_MAX_THREADS][PROCESS_COMM_LEN];
	struct cred cred; /* its ids (/proc/PID/status's Uid, Gid, Groups) */
	char exe[MEM_EXEC_PATH_MAX];
	char cwd[FS_PATH_MAX];
};

/* Fills *out with process pid's snapshot: 0, or -ESRCH if there is no
 * such process. */
int process_snapshot(uint32_t pid, struct process_snap *out);
/* The pids of the processes in the table, ascending, at most cap of them
 * into pids; returns how many there are (may exceed cap). */
unsigned process_pids(uint32_t *pids, unsigned cap);

#endif
