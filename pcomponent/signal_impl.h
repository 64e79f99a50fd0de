/*
 * What pcomponent/signal.c (the core: sending, delivery, frames) and
 * sys_signal.c (the system calls) share: a process's and a thread's
 * signal state and Linux's x86-64 structures for them. Private to those two files.
 */
#ifndef PCOMPONENT_SIGNAL_IMPL_H
#define PCOMPONENT_SIGNAL_IMPL_H

#include "signal.h"

#include <kernel/spinlock.h>
#include <stdbool.h>
#include <stdint.h>

#define SIG_DFL 0ull
#define SIG_IGN 1ull

/* sa_flags */
#define SA_NOCLDSTOP 0x00000001u
#define SA_NOCLDWAIT 0x00000002u
#define SA_SIGINFO   0x00000004u
#define SA_RESTORER  0x04000000u
#define SA_ONSTACK   0x08000000u
#define SA_RESTART   0x10000000u
#define SA_NODEFER   0x40000000u
#define SA_RESETHAND 0x80000000u

/* sigaltstack */
#define SS_ONSTACK    1
#define SS_DISABLE    2
#define SS_AUTODISARM (1u << 31)
#define MINSIGSTKSZ   2048

#define SIG_BIT(sig) (1ull << ((sig) - 1))
/* What no mask may hold. */
#define SIG_UNBLOCKABLE (SIG_BIT(SIGKILL) | SIG_BIT(SIGSTOP))
/* The stop signals (their default action stops the process). */
#define SIG_STOPS (SIG_BIT(SIGSTOP) | SIG_BIT(SIGTSTP) | SIG_BIT(SIGTTIN) | SIG_BIT(SIGTTOU))

/* signal_state.notify: what the stopped or continued process still has
 * to tell its parent (signal.c's stop_wait does, on one of its threads). */
enum sig_notify { SIG_NOTIFY_NONE, SIG_NOTIFY_STOP, SIG_NOTIFY_CONT };

/* Linux's struct sigaction as rt_sigaction passes it on x86-64. */
struct k_sigaction {
	uint64_t handler; /* SIG_DFL, SIG_IGN or the handler's address */
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

/* A process's signal state (signal.h's opaque struct): what its threads
 * share. */
struct signal_state {
	struct spinlock lock;			/* under the process's tlock */
	struct k_sigaction act[NSIG_LINUX];	/* by signo - 1; lock */
	uint64_t pending;			/* process-directed; lock */
	struct signal_info info[NSIG_LINUX];	/* of each pending signal; lock */
	/* ITIMER_REAL: clock_ns() deadline (0: off) and interval; lock */
	uint64_t real_at, real_interval;
	/* Group stop: while stopped, every thread sleeps in signal_deliver
	 * (stop_sig stopped it) until SIGCONT or SIGKILL; lock */
	bool stopped;
	int stop_sig;
	enum sig_notify notify; /* lock */
};

/* A thread's signal state (signal.h's opaque struct signal_thread).
 * "lock" is its process's signal_state lock. */
struct signal_thread {
	uint64_t blocked;		     /* lock */
	uint64_t pending;		     /* thread-directed (tgkill, SIGPIPE); lock */
	struct signal_info info[NSIG_LINUX]; /* of each of those; lock */
	/* rt_sigsuspend: the mask to put back once the signal that ended it
	 * is delivered (in the handler's frame) or found to need none. The
	 * thread only. */
	uint64_t saved_mask;
	bool restore_mask;
	/* sigaltstack; the thread only */
	uint64_t alt_sp, alt_size;
};

/* Linux's x86-64 signal frame (arch/x86/include/uapi/asm/sigcontext.h,
 * ucontext.h, kernel/signal.c's rt_sigframe). */
struct k_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate; /* user address of the 512-byte fxsave image, or 0 */
	uint64_t reserved1[8];
};

struct k_stack {
	uint64_t ss_sp;
	int32_t ss_flags;
	int32_t pad;
	uint64_t ss_size;
};

#define UC_FP_XSTATE	     0x1
#define UC_SIGCONTEXT_SS     0x2
#define UC_STRICT_RESTORE_SS 0x4

struct k_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	struct k_stack uc_stack;
	struct k_sigcontext uc_mcontext;
	uint64_t uc_sigmask;
};

struct k_siginfo {
	int32_t signo, err, code, pad;
	union {
		struct {
			int32_t pid;
			uint32_t uid;
			int32_t status;
			int32_t pad2;
			int64_t utime, stime;
		} kill; /* SI_USER, SI_TKILL, SIGCHLD */
		uint64_t addr; /* SIGSEGV, SIGBUS, SIGILL, SIGFPE */
		uint8_t bytes[112];
	} u;
};

struct rt_sigframe {
	uint64_t pretcode; /* sa_restorer: the handler's return address */
	struct k_ucontext uc;
	struct k_siginfo info;
	/* the fxsave image follows, 64-byte aligned, above */
};

_Static_assert(sizeof(struct k_sigcontext) == 256, "sigcontext layout");
_Static_assert(sizeof(struct k_ucontext) == 304, "ucontext layout");
_Static_assert(sizeof(struct k_siginfo) == 128, "siginfo layout");
_Static_assert(sizeof(struct rt_sigframe) == 440, "rt_sigframe layout");

/* The signals of mask, pending for p or any of its threads, are dropped.
 * tlock and the signal lock held. */
void signal_discard_locked(struct process *p, uint64_t mask);
/* Whether sp is on the alternate stack of st. Its thread. */
bool signal_on_altstack(const struct signal_thread *st, uint64_t sp);
/* signal_retarget_locked (signal.h), taking p's tlock. */
void signal_retarget(struct process *p);
/* The calling thread's signal state in p (process_self's). */
struct signal_thread *signal_self(struct process *p);
/* Whether sig's action in s means it is dropped at once (SIG_IGN, or
 * SIG_DFL with a default of ignore). s->lock held. */
bool signal_ignored_locked(const struct signal_state *s, int sig);
/* The siginfo user space sees for info. */
void signal_siginfo(struct k_siginfo *si, const struct signal_info *info);
/* ITIMER_REAL changed: the timer thread looks again (started at the
 * first call). */
void signal_timer_kick(void);

#endif
