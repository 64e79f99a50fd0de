/*
 * Signals of the processor's processes (pcomponent/signal.c): Linux's
 * x86-64 semantics, threads included.
 *
 * Each process has 64 signals' actions (SIG_DFL, SIG_IGN or a handler
 * with sa_flags, sa_mask and sa_restorer) and a pending set of
 * process-directed signals; each of its threads has a blocked mask, a
 * pending set of thread-directed signals (tgkill, tkill, SIGPIPE) and
 * its alternate stack. signal_send() marks a process-directed signal
 * pending and interrupts one thread that does not block it (the caller
 * if it is one, else the first); signal_send_thread() marks it for one
 * thread. A thread takes its own pending signals and the process's that
 * it does not block. A default action that terminates kills the whole
 * process (process_exit). The interrupt (kernel/sched.h
 * thread_interrupt) works so: an interruptible sleep in a
 * syscall ends with -EINTR, and a thread running user code is stopped at
 * its next return to user mode. Delivery happens on the way back to user
 * mode (signal_deliver: after every syscall and every interrupt or
 * exception that came from user mode): the lowest pending unblocked
 * signal is taken; SIG_IGN drops it; SIG_DFL does Linux's default
 * (terminate, terminate with "core" (reported as killed by the signal),
 * ignore, stop); a handler gets a
 * Linux rt_sigframe on the user stack (siginfo, ucontext with the
 * registers and the FPU state) and returns through rt_sigreturn.
 *
 * SIGKILL and SIGSTOP can be neither caught, ignored nor blocked.
 * Standard and real-time signals alike are pending at most once (no
 * queue of real-time signals yet): a second sending before delivery is
 * merged, keeping the first one's siginfo.
 *
 * Stops (job control). A stop signal (SIGSTOP, SIGTSTP, SIGTTIN,
 * SIGTTOU) taken at its default action stops the whole process: every
 * thread is interrupted and sleeps on its way back to user mode (a
 * syscall it was in restarts afterwards, as after a signal without a
 * handler) until SIGCONT, or SIGKILL (which kills it as ever). Sending
 * SIGCONT resumes a stopped process at once, whatever SIGCONT's action
 * (a handler then runs as for any signal), and drops pending stop
 * signals; sending a stop signal drops a pending SIGCONT. The parent is
 * told by one of the child's threads, once the stop began (Linux: once
 * every thread has stopped) or once it resumed: wait4/waitid report it
 * (WUNTRACED/WSTOPPED, WCONTINUED) and SIGCHLD with CLD_STOPPED or
 * CLD_CONTINUED is sent unless the parent's SIGCHLD has SA_NOCLDSTOP.
 * Simplified: a process group is never treated as orphaned (Linux drops
 * SIGTSTP, SIGTTIN and SIGTTOU sent to an orphaned group, and sends
 * SIGHUP and SIGCONT to a group that becomes orphaned with a stopped
 * member); the terminal sends no SIGTTIN/SIGTTOU to background reads and
 * writes (tty.c).
 * Fatal exceptions (a refused ExCache miss, #GP, #UD, ...) are signals
 * sent by the kernel to the faulting process: with a handler installed
 * (and the signal not blocked) the handler runs; otherwise the process is
 * killed by it.
 */
#ifndef PCOMPONENT_SIGNAL_H
#define PCOMPONENT_SIGNAL_H

#include <stdbool.h>
#include <stdint.h>

struct process;
struct trap_frame;

#define NSIG_LINUX 64

#define SIGHUP	  1
#define SIGINT	  2
#define SIGQUIT	  3
#define SIGILL	  4
#define SIGTRAP	  5
#define SIGABRT	  6
#define SIGBUS	  7
#define SIGFPE	  8
#define SIGKILL	  9
#define SIGUSR1	  10
#define SIGSEGV	  11
#define SIGUSR2	  12
#define SIGPIPE	  13
#define SIGALRM	  14
#define SIGTERM	  15
#define SIGSTKFLT 16
#define SIGCHLD	  17
#define SIGCONT	  18
#define SIGSTOP	  19
#define SIGTSTP	  20
#define SIGTTIN	  21
#define SIGTTOU	  22
#define SIGURG	  23
#define SIGXCPU	  24
#define SIGXFSZ	  25
#define SIGVTALRM 26
#define SIGPROF	  27
#define SIGWINCH  28
#define SIGIO	  29
#define SIGPWR	  30
#define SIGSYS	  31

/* siginfo's si_code values the kernel sends. */
#define SI_USER	    0
#define SI_KERNEL   0x80
#define SI_QUEUE    (-1)
#define SI_TKILL    (-6)
#define SEGV_MAPERR 1
#define SEGV_ACCERR 2
#define BUS_ADRERR  2
#define CLD_EXITED  1
#define CLD_KILLED  2
#define CLD_DUMPED  3
#define CLD_STOPPED 5
#define CLD_CONTINUED 6

/*
 * Kernel-internal result of a syscall that a signal interrupted and that
 * must not be restarted after a handler ran, SA_RESTART or not (pause,
 * rt_sigsuspend, nanosleep: Linux's ERESTARTNOHAND): signal_deliver
 * turns it into -EINTR when a handler runs and restarts the call when
 * none did. Never reaches user space. (A plain -EINTR is Linux's
 * ERESTARTSYS: restarted when no handler ran or the handler has
 * SA_RESTART.)
 */
#define SIGNAL_ERESTARTNOHAND 514

/* What the kernel knows about one sending; becomes the siginfo. */
struct signal_info {
	int signo;
	int code;      /* SI_USER, SI_KERNEL, CLD_*, SEGV_* ... */
	uint32_t pid;  /* sender (SI_USER) or child (SIGCHLD) */
	uint32_t uid;
	int status;    /* SIGCHLD: exit code or signal */
	uint64_t addr; /* SIGSEGV, SIGBUS: the faulting address */
	uint64_t value; /* queued: the sender's si_value (sigqueue) */
	bool queued;	/* rt_sigqueueinfo: pid, uid, value as the sender said */
};

struct signal_state; /* signal.c's: actions, mask, pending */

/* A process's state for a new process (every action SIG_DFL, nothing
 * pending), for fork (a copy of parent's actions, nothing pending) and
 * its end. NULL if out of memory. */
struct signal_state *signal_state_create(void);
struct signal_state *signal_state_fork(const struct signal_state *parent);
void signal_state_free(struct signal_state *s);

struct signal_thread; /* signal_impl.h's: a thread's mask, pending set, altstack */
/* A thread's state: from NULL (nothing blocked), or a copy of from's mask
 * (fork: and its alternate stack; a thread of the same address space,
 * same_space, starts without one, as Linux). NULL if out of memory.
 * signal_thread_free(NULL) does nothing. */
struct signal_thread *signal_thread_create(const struct signal_thread *from, bool same_space);
void signal_thread_free(struct signal_thread *st);

/* execve: handled signals go back to SIG_DFL (ignored ones stay
 * ignored); the caller's alternate stack goes; masks and pending stay. */
void signal_exec(struct process *p);

/*
 * Makes info->signo pending for p and interrupts a thread of p that does
 * not block it (does nothing for a signal p ignores, unless every thread
 * blocks it; a zombie gets nothing). The caller holds the process table
 * lock (process.h process_table_lock: p cannot exit meanwhile) or is a
 * thread of p. Takes spinlocks (p's tlock, then its signal lock), never
 * sleeps. Returns 0, or -EINVAL for a bad number. Signal 0 checks
 * nothing here (kill's permission checks are the caller's).
 */
int signal_send(struct process *p, const struct signal_info *info);
/* The same for p's thread tid only (tgkill, tkill, SIGPIPE): -ESRCH if
 * p has no such thread. */
int signal_send_thread(struct process *p, uint32_t tid, const struct signal_info *info);
/* After p's threads changed (one left) or a thread blocked signals: each
 * pending process-directed signal interrupts a thread that does not block
 * it. p's tlock held (not its signal lock). */
void signal_retarget_locked(struct process *p);
/* The same for every process whose process group is pgrp; -ESRCH if
 * there is none. Takes the process table lock (call it without). */
int signal_send_pgrp(uint32_t pgrp, const struct signal_info *info);

/* Whether the calling thread of p has a pending signal it does not
 * block, or must leave (p exiting, another thread's execve): a syscall
 * that sleeps checks this to return -EINTR. */
bool signal_pending(struct process *p);

/* Whether p must die now: a SIGKILL pending for it or the calling
 * thread, or p exiting (or another thread's execve ending this one).
 * Takes p's tlock and signal lock: callable under the table lock. Sleeps
 * that only a fatal signal may end (vfork's) check this. */
bool signal_kill_pending(struct process *p);

/*
 * On the way back to user mode with tf, the user registers: leaves if
 * the thread must (process_check_exit), then delivers the calling
 * thread's pending unblocked signals (its own and p's) as the top
 * comment says (may kill p: then never returns), rewriting tf for a
 * handler. Clears the thread's
 * interrupt mark when nothing is left to deliver. A syscall's result is
 * in tf->rax already; -EINTR from an interrupted call is restarted
 * (SA_RESTART) by stepping rip back over the syscall instruction when
 * the handler asked for it.
 */
void signal_deliver(struct process *p, struct trap_frame *tf);

/* A fatal exception of p's thread (the fatal hook), as signal
 * info->signo with info: returns 0 once a handler of p's (installed, the
 * signal not blocked) has its frame (tf rewritten); otherwise the signal
 * p must be killed by (the caller reports it and calls process_exit):
 * info->signo, or SIGSEGV when the frame could not be written. */
int signal_fatal(struct process *p, struct trap_frame *tf, const struct signal_info *info);

/* child exited with wait_status: SIGCHLD to its parent p (if p does not
 * ignore it); process.c wakes p's wait4. Returns false if p wants no
 * zombie (SIGCHLD is SIG_IGN or has SA_NOCLDWAIT): the child is then
 * reaped at once. Table lock held (process_finish). */
bool signal_child_exited(struct process *p, struct process *child, int wait_status);

/* child stopped (stopped, by sig) or was continued: SIGCHLD to its
 * parent p with CLD_STOPPED or CLD_CONTINUED, unless p's SIGCHLD action
 * has SA_NOCLDSTOP. Table lock held (process_stop_notify). */
void signal_child_stopped(struct process *p, struct process *child, bool stopped, int sig);

/* ---- system calls (sys_signal.c; handlers of pcomponent/syscall.c's
 * table, same signature as syscall_fn) ---- */
long sys_rt_sigaction(struct process *p, const uint64_t *a);
long sys_rt_sigprocmask(struct process *p, const uint64_t *a);
long sys_rt_sigreturn(struct process *p, const uint64_t *a);
long sys_rt_sigpending(struct process *p, const uint64_t *a);
long sys_rt_sigsuspend(struct process *p, const uint64_t *a);

/*
 * The signal mask argument of ppoll, pselect6 and epoll_pwait(2): the
 * calling thread waits with the mask at umask (size bytes; umask 0: its
 * own mask, nothing to do) as rt_sigsuspend does, and its own mask comes
 * back on the way out of the system call (signal_deliver), recorded in
 * the frame of a handler that runs. Call once the call's other arguments
 * are decoded. Returns 0, -EINVAL (size not 8), -EFAULT.
 */
long signal_wait_mask(struct process *p, uint64_t umask, uint64_t size);

/* The calling thread's blocked signals (bit N-1 for signal N). */
uint64_t signal_blocked(struct process *p);
long sys_sigaltstack(struct process *p, const uint64_t *a);
long sys_rt_sigtimedwait(struct process *p, const uint64_t *a);
long sys_pause(struct process *p, const uint64_t *a);
long sys_alarm(struct process *p, const uint64_t *a);
long sys_getitimer(struct process *p, const uint64_t *a);
long sys_setitimer(struct process *p, const uint64_t *a);
long sys_kill(struct process *p, const uint64_t *a);
long sys_tkill(struct process *p, const uint64_t *a);
long sys_tgkill(struct process *p, const uint64_t *a);
long sys_rt_sigqueueinfo(struct process *p, const uint64_t *a);
long sys_rt_tgsigqueueinfo(struct process *p, const uint64_t *a);
long sys_setpgid(struct process *p, const uint64_t *a);
long sys_getpgid(struct process *p, const uint64_t *a);
long sys_getpgrp(struct process *p, const uint64_t *a);
long sys_setsid(struct process *p, const uint64_t *a);
long sys_getsid(struct process *p, const uint64_t *a);
/* An interruptible sleep of ns for nanosleep and clock_nanosleep: 0 when
 * it ended, or SIGNAL_ERESTARTNOHAND with *left the time not slept when
 * a signal p does not block came first. */
long signal_sleep(struct process *p, uint64_t ns, uint64_t *left);

#endif
