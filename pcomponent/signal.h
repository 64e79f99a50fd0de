/*
 * Signals of the processor's processes (pcomponent/signal.c): Linux's
 * x86-64 semantics for one thread per process (threads come later).
 *
 * Each process has 64 signals' actions (SIG_DFL, SIG_IGN or a handler
 * with sa_flags, sa_mask and sa_restorer), a blocked mask and a pending
 * set. signal_send() marks a signal pending and interrupts the target's
 * thread (kernel/sched.h thread_interrupt): an interruptible sleep in a
 * syscall ends with -EINTR, and a thread running user code is stopped at
 * its next return to user mode. Delivery happens on the way back to user
 * mode (signal_deliver: after every syscall and every interrupt or
 * exception that came from user mode): the lowest pending unblocked
 * signal is taken; SIG_IGN drops it; SIG_DFL does Linux's default
 * (terminate, terminate with "core" (reported as killed by the signal),
 * ignore; stop/continue are treated as ignore for now); a handler gets a
 * Linux rt_sigframe on the user stack (siginfo, ucontext with the
 * registers and the FPU state) and returns through rt_sigreturn.
 *
 * SIGKILL and SIGSTOP can be neither caught, ignored nor blocked.
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
#define SIGCHLD	  17
#define SIGCONT	  18
#define SIGSTOP	  19
#define SIGTSTP	  20
#define SIGTTIN	  21
#define SIGTTOU	  22
#define SIGWINCH  28

/* siginfo's si_code values the kernel sends. */
#define SI_USER	    0
#define SI_KERNEL   0x80
#define SI_TKILL    (-6)
#define SEGV_MAPERR 1
#define SEGV_ACCERR 2
#define CLD_EXITED  1
#define CLD_KILLED  2

/* What the kernel knows about one sending; becomes the siginfo. */
struct signal_info {
	int signo;
	int code;      /* SI_USER, SI_KERNEL, CLD_*, SEGV_* ... */
	uint32_t pid;  /* sender (SI_USER) or child (SIGCHLD) */
	uint32_t uid;
	int status;    /* SIGCHLD: exit code or signal */
	uint64_t addr; /* SIGSEGV, SIGBUS: the faulting address */
};

struct signal_state; /* signal.c's: actions, mask, pending */

/* A process's state for a new process (every action SIG_DFL, nothing
 * blocked or pending), for fork (a copy of parent's actions and mask,
 * nothing pending) and its end. NULL if out of memory. */
struct signal_state *signal_state_create(void);
struct signal_state *signal_state_fork(const struct signal_state *parent);
void signal_state_free(struct signal_state *s);
/* execve: handled signals go back to SIG_DFL (ignored ones stay
 * ignored); mask and pending stay. */
void signal_exec(struct process *p);

/*
 * Makes info->signo pending for p and interrupts its thread (does
 * nothing for a signal p ignores, unless it is blocked). Any thread;
 * may take spinlocks, never sleeps. Returns 0, or -EINVAL for a bad
 * number. Signal 0 checks nothing here (kill's permission checks are the
 * caller's).
 */
int signal_send(struct process *p, const struct signal_info *info);
/* The same for every process whose process group is pgrp; -ESRCH if
 * there is none. */
int signal_send_pgrp(uint32_t pgrp, const struct signal_info *info);

/* Whether p has a pending signal it does not block: a syscall that
 * sleeps checks this to return -EINTR. */
bool signal_pending(struct process *p);

/*
 * On the way back to user mode with tf, the user registers: delivers
 * p's pending unblocked signals as the top comment says (may kill p:
 * then never returns), rewriting tf for a handler. Clears the thread's
 * interrupt mark when nothing is left to deliver. A syscall's result is
 * in tf->rax already; -EINTR from an interrupted call is restarted
 * (SA_RESTART) by stepping rip back over the syscall instruction when
 * the handler asked for it.
 */
void signal_deliver(struct process *p, struct trap_frame *tf);

/* A fatal exception of p's thread (the fatal hook), as signal sig with
 * info: delivered to a handler if p has one unblocked (then returns,
 * tf rewritten), else kills p (never returns). */
void signal_fatal(struct process *p, struct trap_frame *tf, const struct signal_info *info);

/* child exited with wait_status: SIGCHLD to its parent p (if p does not
 * ignore it), and wakes p's wait4 (process.c does that part). */
void signal_child_exited(struct process *p, struct process *child, int wait_status);

#endif
