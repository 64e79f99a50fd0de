/*
 * Signals of the processor's processes (pcomponent/signal.h): the state,
 * sending, delivery with Linux's x86-64 signal frame, rt_sigreturn's
 * restore, and the ITIMER_REAL timer thread. The system calls are in
 * sys_signal.c; the structures both use in signal_impl.h.
 *
 * Sending (signal_send) marks the signal pending under the state's lock
 * and interrupts a thread that does not block it (thread_interrupt): the
 * caller if it is a thread of the process, else the first such slot
 * (Linux's complete_signal prefers the main thread, then walks the
 * group: any choice is right). An interruptible sleep in a syscall ends,
 * the syscall returns -EINTR (or SIGNAL_ERESTARTNOHAND) to the
 * dispatcher, which calls signal_deliver; a thread in user code gets the
 * user_return hook at its next interrupt (a timer tick at the latest).
 * Kernel thread pointers are read and interrupted under the process's
 * tlock: a leaving thread clears its slot under it before it exits, and
 * a new one fills its slot itself once it runs (it then interrupts
 * itself, so what was sent before is looked at). A signal pending for
 * the process whose chosen thread leaves, or blocks it, is handed on
 * (signal_retarget_locked). Senders hold the process table lock, or are
 * a thread of the process, so the process cannot go meanwhile.
 *
 * Delivery (signal_deliver, on the receiving thread): leaves if the
 * process is exiting; first clears the thread's interrupt mark, then
 * takes the lowest pending unblocked signal (its own first, then the
 * process's), so a sending racing with it is never lost (pending is set
 * before the interrupt). Ignored signals are dropped, default actions
 * terminate the process or do nothing, a handler gets a frame; the loop
 * goes on until nothing is deliverable (a handler's mask blocks its own
 * signal, so each frame nests at most once per signal). A syscall's
 * interrupted result is dealt with at the first handler (or at the end
 * if none ran): -EINTR restarts when no handler ran or the handler has
 * SA_RESTART, SIGNAL_ERESTARTNOHAND restarts only when none ran; a
 * restart puts the number back in rax and steps rip back over the
 * 2-byte `syscall`.
 *
 * The frame (Linux's get_sigframe/setup_rt_frame): below the red zone
 * (or at the top of the alternate stack with SA_ONSTACK), the 512-byte
 * fxsave image 64-byte aligned, then struct rt_sigframe so that rsp at
 * the handler is 8 mod 16, as after a call, pointing at pretcode (the
 * sa_restorer, which calls rt_sigreturn). The handler starts with rdi =
 * signo, rsi = &siginfo, rdx = &ucontext, a clean FPU state, DF clear.
 * rt_sigreturn trusts nothing in the frame: the arch forces the user
 * selectors and flags, rip and rsp must be user addresses, the MXCSR is
 * masked (user_fpu_set); a frame that cannot be read kills the process
 * with SIGSEGV (Linux would deliver a forced SIGSEGV; a handler for it
 * would only see the same bad frame). uc_stack is not restored.
 *
 * Timers: one kernel thread per processor, started at the first alarm or
 * setitimer, sleeps until the earliest ITIMER_REAL deadline of all
 * processes (or until a setitimer kicks it), fires the due ones as
 * SIGALRM (SI_KERNEL, as Linux's it_real_fn) under the table lock and
 * re-arms the periodic ones.
 */
#include "signal_impl.h"

#include "process.h"
#include "syscall.h"

#include <arch/trap.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <kernel/wait.h>
#include <lib/string.h>

#define RED_ZONE      128
#define SYSCALL_BYTES 2 /* 0f 05 */
/* rflags bits a handler starts without (Linux: DF, RF, TF) */
#define RFLAGS_HANDLER_CLEAR ((1ull << 10) | (1ull << 16) | (1ull << 8))

/* ---- default actions --------------------------------------------------- */

enum sig_default { SIGDFL_TERM, SIGDFL_CORE, SIGDFL_IGNORE, SIGDFL_STOP };

static enum sig_default sig_default_of(int sig)
{
	switch (sig) {
	case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS:
	case SIGFPE: case SIGSEGV: case SIGXCPU: case SIGXFSZ: case SIGSYS:
		return SIGDFL_CORE;
	case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
		return SIGDFL_IGNORE;
	case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
		return SIGDFL_STOP;
	default:
		return SIGDFL_TERM;
	}
}

bool signal_ignored_locked(const struct signal_state *s, int sig)
{
	uint64_t h = s->act[sig - 1].handler;

	if (sig == SIGKILL || sig == SIGSTOP)
		return false;
	return h == SIG_IGN || (h == SIG_DFL && sig_default_of(sig) == SIGDFL_IGNORE);
}

/* ---- the state ------------------------------------------------------------ */

struct signal_state *signal_state_create(void)
{
	struct signal_state *s = kzalloc(sizeof(*s));

	if (s)
		spin_init(&s->lock, "signal");
	return s;
}

struct signal_state *signal_state_fork(const struct signal_state *parent)
{
	struct signal_state *s = signal_state_create();
	struct signal_state *ps = (struct signal_state *)parent;

	if (!s)
		return NULL;
	spin_lock(&ps->lock);
	memcpy(s->act, ps->act, sizeof(s->act));
	spin_unlock(&ps->lock);
	return s; /* nothing pending, no timer: as Linux's fork */
}

void signal_state_free(struct signal_state *s)
{
	kfree(s);
}

struct signal_thread *signal_thread_create(const struct signal_thread *from, bool same_space)
{
	struct signal_thread *st = kzalloc(sizeof(*st));

	if (!st || !from)
		return st;
	/* from is the creating thread's: its mask changes only by itself */
	st->blocked = __atomic_load_n(&from->blocked, __ATOMIC_RELAXED);
	if (!same_space) {
		st->alt_sp = from->alt_sp;
		st->alt_size = from->alt_size;
	}
	return st;
}

void signal_thread_free(struct signal_thread *st)
{
	kfree(st);
}

struct signal_thread *signal_self(struct process *p)
{
	struct pthread_info *t = process_self(p);

	return t ? t->sig : NULL;
}

void signal_exec(struct process *p)
{
	struct signal_state *s = p->sig;
	struct signal_thread *st = signal_self(p);

	spin_lock(&s->lock);
	for (int i = 0; i < NSIG_LINUX; i++) {
		struct k_sigaction *a = &s->act[i];

		if (a->handler != SIG_IGN)
			a->handler = SIG_DFL;
		a->flags = a->restorer = a->mask = 0;
	}
	spin_unlock(&s->lock);
	st->alt_sp = st->alt_size = 0;
}

bool signal_on_altstack(const struct signal_thread *st, uint64_t sp)
{
	return st->alt_size && sp > st->alt_sp && sp - st->alt_sp <= st->alt_size;
}

/* ---- sending ----------------------------------------------------------------- */

/* Interrupts t's kernel thread, if it runs yet. tlock held. */
static void interrupt_thread_locked(struct pthread_info *t)
{
	if (t->kthread)
		thread_interrupt(t->kthread);
}

/* Interrupts every thread of p but skip (NULL: all). tlock held. */
static void interrupt_all_locked(struct process *p, struct pthread_info *skip)
{
	for (unsigned i = 0; i < PROCESS_MAX_THREADS; i++)
		if (&p->threads[i] != skip && p->threads[i].tid)
			interrupt_thread_locked(&p->threads[i]);
}

void signal_discard_locked(struct process *p, uint64_t mask)
{
	p->sig->pending &= ~mask;
	for (unsigned i = 0; i < PROCESS_MAX_THREADS; i++)
		if (p->threads[i].tid && p->threads[i].sig)
			p->threads[i].sig->pending &= ~mask;
}

/* What sending sig does at once, whatever its action (Linux's
 * prepare_signal): SIGCONT drops the pending stop signals and resumes a
 * stopped p (its threads woken, its parent to be told); a stop signal
 * drops a pending SIGCONT. tlock and the signal lock held. */
static void stop_or_continue_locked(struct process *p, int sig)
{
	struct signal_state *s = p->sig;

	if (sig == SIGCONT) {
		signal_discard_locked(p, SIG_STOPS);
		if (s->stopped) {
			s->stopped = false;
			s->notify = SIG_NOTIFY_CONT;
			interrupt_all_locked(p, NULL);
		}
	} else if (sig > 0 && (SIG_BIT(sig) & SIG_STOPS)) {
		signal_discard_locked(p, SIG_BIT(SIGCONT));
	}
}

/* The thread of p to take process-directed sig: the caller if it is one
 * of p's and does not block sig, else the first that does not; NULL if
 * every thread blocks it. tlock and the signal lock held. */
static struct pthread_info *target_locked(struct process *p, int sig)
{
	struct pthread_info *self = uthread_owner();
	uint64_t bit = SIG_BIT(sig);

	if (self && self->proc == p && self->tid && !(self->sig->blocked & bit))
		return self;
	for (unsigned i = 0; i < PROCESS_MAX_THREADS; i++) {
		struct pthread_info *t = &p->threads[i];

		if (t->tid && t->sig && !(t->sig->blocked & bit))
			return t;
	}
	return NULL;
}

int signal_send(struct process *p, const struct signal_info *info)
{
	struct signal_state *s = p->sig;
	struct pthread_info *t;
	int sig = info->signo;
	uint64_t bit;

	if (sig < 0 || sig > NSIG_LINUX)
		return -EINVAL;
	if (sig == 0 || p->state != PROCESS_RUNNING)
		return 0;
	bit = SIG_BIT(sig);
	spin_lock(&p->tlock);
	spin_lock(&s->lock);
	stop_or_continue_locked(p, sig);
	t = target_locked(p, sig);
	if (t && signal_ignored_locked(s, sig))
		goto unlock; /* blocked everywhere: kept, the action may change */
	if (!(s->pending & bit)) {
		s->info[sig - 1] = *info;
		s->pending |= bit;
	}
	if (t)
		interrupt_thread_locked(t);
unlock:
	spin_unlock(&s->lock);
	spin_unlock(&p->tlock);
	return 0;
}

int signal_send_thread(struct process *p, uint32_t tid, const struct signal_info *info)
{
	struct signal_state *s = p->sig;
	struct pthread_info *t;
	int sig = info->signo, err = 0;
	uint64_t bit;
	bool blocked;

	if (sig < 0 || sig > NSIG_LINUX)
		return -EINVAL;
	spin_lock(&p->tlock);
	t = p->state == PROCESS_RUNNING ? process_thread_locked(p, tid) : NULL;
	if (!t || !t->sig) {
		err = -ESRCH;
		goto unlock_threads;
	}
	if (sig == 0)
		goto unlock_threads;
	bit = SIG_BIT(sig);
	spin_lock(&s->lock);
	stop_or_continue_locked(p, sig);
	blocked = t->sig->blocked & bit;
	if (!blocked && signal_ignored_locked(s, sig))
		goto unlock;
	if (!(t->sig->pending & bit)) {
		t->sig->info[sig - 1] = *info;
		t->sig->pending |= bit;
	}
	if (!blocked)
		interrupt_thread_locked(t);
unlock:
	spin_unlock(&s->lock);
unlock_threads:
	spin_unlock(&p->tlock);
	return err;
}

void signal_retarget(struct process *p)
{
	spin_lock(&p->tlock);
	signal_retarget_locked(p);
	spin_unlock(&p->tlock);
}

void signal_retarget_locked(struct process *p)
{
	struct signal_state *s = p->sig;
	uint64_t left;

	spin_lock(&s->lock);
	left = s->pending;
	while (left) {
		int sig = __builtin_ctzll(left) + 1;
		struct pthread_info *t = target_locked(p, sig);

		left &= ~SIG_BIT(sig);
		if (t)
			interrupt_thread_locked(t);
	}
	spin_unlock(&s->lock);
}

struct pgrp_send {
	uint32_t pgrp;
	const struct signal_info *info;
	bool found;
};

static int pgrp_send_one(struct process *q, void *arg)
{
	struct pgrp_send *ps = arg;

	if (q->pgid != ps->pgrp || q->state != PROCESS_RUNNING)
		return 0;
	ps->found = true;
	return signal_send(q, ps->info);
}

int signal_send_pgrp(uint32_t pgrp, const struct signal_info *info)
{
	struct pgrp_send ps = {.pgrp = pgrp, .info = info};
	int err;

	if (info->signo < 0 || info->signo > NSIG_LINUX)
		return -EINVAL;
	process_table_lock();
	err = process_for_each_locked(pgrp_send_one, &ps);
	process_table_unlock();
	if (err)
		return err;
	return ps.found ? 0 : -ESRCH;
}

bool signal_pending(struct process *p)
{
	struct signal_state *s = p->sig;
	struct pthread_info *self = process_self(p);
	bool r;

	if (!self || !self->sig)
		return false;
	spin_lock(&p->tlock);
	r = p->exiting || (p->dethread && p->dethread != self);
	spin_unlock(&p->tlock);
	spin_lock(&s->lock);
	r = r || s->stopped || ((s->pending | self->sig->pending) & ~self->sig->blocked) != 0;
	spin_unlock(&s->lock);
	return r;
}

bool signal_kill_pending(struct process *p)
{
	struct signal_state *s = p->sig;
	struct pthread_info *self = process_self(p);
	bool r;

	spin_lock(&p->tlock);
	r = p->exiting || (p->dethread && p->dethread != self);
	spin_unlock(&p->tlock);
	spin_lock(&s->lock);
	r = r || ((s->pending | (self ? self->sig->pending : 0)) & SIG_BIT(SIGKILL));
	spin_unlock(&s->lock);
	return r;
}

bool signal_child_exited(struct process *p, struct process *child, int wait_status)
{
	struct signal_state *s = p->sig;
	struct k_sigaction *a = &s->act[SIGCHLD - 1];
	struct signal_info info = {.signo = SIGCHLD, .pid = child->pid};
	bool keep;

	if (PROCESS_WIFEXITED(wait_status)) {
		info.code = CLD_EXITED;
		info.status = (wait_status >> 8) & 0xff;
	} else {
		info.code = CLD_KILLED;
		info.status = wait_status & 0x7f;
	}
	spin_lock(&s->lock);
	keep = a->handler != SIG_IGN && !(a->flags & SA_NOCLDWAIT);
	spin_unlock(&s->lock);
	signal_send(p, &info); /* table lock held: p cannot go */
	return keep;
}

void signal_child_stopped(struct process *p, struct process *child, bool stopped, int sig)
{
	struct signal_state *s = p->sig;
	struct signal_info info = {
		.signo = SIGCHLD,
		.code = stopped ? CLD_STOPPED : CLD_CONTINUED,
		.pid = child->pid,
		.status = stopped ? sig : SIGCONT,
	};
	bool send;

	spin_lock(&s->lock);
	send = !(s->act[SIGCHLD - 1].flags & SA_NOCLDSTOP);
	spin_unlock(&s->lock);
	if (send)
		signal_send(p, &info); /* table lock held: p cannot go */
}

/* ---- the frame --------------------------------------------------------------- */

void signal_siginfo(struct k_siginfo *si, const struct signal_info *info)
{
	memset(si, 0, sizeof(*si));
	si->signo = info->signo;
	si->code = info->code;
	if (info->queued) { /* Linux's _rt layout: pid, uid, then the value */
		si->u.kill.pid = (int32_t)info->pid;
		si->u.kill.uid = info->uid;
		si->u.kill.status = (int32_t)(uint32_t)info->value;
		si->u.kill.pad2 = (int32_t)(uint32_t)(info->value >> 32);
		return;
	}
	switch (info->signo) {
	case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGTRAP:
		if (info->code != SI_USER && info->code != SI_TKILL) {
			si->u.addr = info->addr;
			return;
		}
		break;
	default:
		break;
	}
	si->u.kill.pid = (int32_t)info->pid;
	si->u.kill.uid = info->uid;
	if (info->signo == SIGCHLD)
		si->u.kill.status = info->status;
}

static void frame_regs(struct k_sigcontext *sc, const struct trap_frame *tf)
{
	sc->r8 = tf->r8, sc->r9 = tf->r9, sc->r10 = tf->r10, sc->r11 = tf->r11;
	sc->r12 = tf->r12, sc->r13 = tf->r13, sc->r14 = tf->r14, sc->r15 = tf->r15;
	sc->rdi = tf->rdi, sc->rsi = tf->rsi, sc->rbp = tf->rbp, sc->rbx = tf->rbx;
	sc->rdx = tf->rdx, sc->rax = tf->rax, sc->rcx = tf->rcx, sc->rsp = tf->rsp;
	sc->rip = tf->rip, sc->eflags = tf->rflags;
	sc->cs = (uint16_t)tf->cs, sc->ss = (uint16_t)tf->ss;
	if (tf->vector < 32) { /* an exception: what it said */
		sc->trapno = tf->vector;
		sc->err = tf->error;
	}
}

/* Where the frame goes: its address (8 mod 16) and the fxsave image's. */
static int frame_place(struct signal_thread *s, const struct k_sigaction *a,
		       const struct trap_frame *tf, uint64_t *frame, uint64_t *fx)
{
	uint64_t sp = tf->rsp;
	bool onstack = (a->flags & SA_ONSTACK) && s->alt_size &&
		       !signal_on_altstack(s, sp);

	if (onstack)
		sp = s->alt_sp + s->alt_size;
	else
		sp -= RED_ZONE;
	*fx = (sp - USER_FPU_SIZE) & ~63ull;
	*frame = ((*fx - sizeof(struct rt_sigframe)) & ~15ull) - 8;
	if (*frame >= USPACE_TOP || *frame > sp)
		return -EFAULT; /* wrapped */
	if (onstack && *frame < s->alt_sp)
		return -EFAULT; /* overflows the alternate stack */
	return 0;
}

/*
 * Builds sig's frame on the user stack of st's thread (the caller) and
 * points tf at the handler a. uc_sigmask is mask (what sigreturn puts
 * back). 0 or -EFAULT (the frame could not be written, or no
 * sa_restorer: Linux's x86-64 requires one).
 */
static int frame_setup(struct signal_thread *s, struct trap_frame *tf, const struct k_sigaction *a,
		       const struct signal_info *info, uint64_t mask)
{
	uint8_t fpu[USER_FPU_SIZE];
	struct rt_sigframe f;
	uint64_t frame, fx;

	if (!(a->flags & SA_RESTORER) || frame_place(s, a, tf, &frame, &fx))
		return -EFAULT;
	memset(&f, 0, sizeof(f));
	f.pretcode = a->restorer;
	f.uc.uc_flags = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	f.uc.uc_stack.ss_sp = s->alt_sp;
	f.uc.uc_stack.ss_size = s->alt_size;
	f.uc.uc_stack.ss_flags = !s->alt_size			 ? SS_DISABLE
				 : signal_on_altstack(s, tf->rsp) ? SS_ONSTACK
								  : 0;
	frame_regs(&f.uc.uc_mcontext, tf);
	f.uc.uc_mcontext.oldmask = mask;
	f.uc.uc_mcontext.cr2 = info->signo == SIGSEGV ? info->addr : 0;
	f.uc.uc_mcontext.fpstate = fx;
	f.uc.uc_sigmask = mask;
	signal_siginfo(&f.info, info);
	user_fpu_get(fpu);
	if (copy_to_user(fx, fpu, sizeof(fpu)) || copy_to_user(frame, &f, sizeof(f)))
		return -EFAULT;
	tf->rdi = (uint64_t)info->signo;
	tf->rsi = frame + offsetof(struct rt_sigframe, info);
	tf->rdx = frame + offsetof(struct rt_sigframe, uc);
	tf->rax = 0;
	tf->rsp = frame;
	tf->rip = a->handler;
	tf->rflags &= ~RFLAGS_HANDLER_CLEAR;
	user_fpu_reset();
	return 0;
}

/* ---- delivery ------------------------------------------------------------- */

/* One signal taken off the pending set, with what to do about it. */
struct sig_take {
	int sig;
	struct signal_info info;
	struct k_sigaction act;
};

/* Takes the lowest pending signal st does not block (SIGKILL first; its
 * own before the process's); false if none. With a handler, blocks what
 * it asks and applies SA_RESETHAND. */
static bool sig_take(struct signal_state *s, struct signal_thread *st, struct sig_take *t)
{
	uint64_t ready, bit;

	spin_lock(&s->lock);
	ready = (st->pending | s->pending) & ~st->blocked;
	if (!ready) {
		spin_unlock(&s->lock);
		return false;
	}
	t->sig = (ready & SIG_BIT(SIGKILL)) ? SIGKILL : __builtin_ctzll(ready) + 1;
	bit = SIG_BIT(t->sig);
	if (st->pending & bit) {
		st->pending &= ~bit;
		t->info = st->info[t->sig - 1];
	} else {
		s->pending &= ~bit;
		t->info = s->info[t->sig - 1];
	}
	t->act = s->act[t->sig - 1];
	if (t->act.handler != SIG_DFL && t->act.handler != SIG_IGN) {
		st->blocked |= t->act.mask & ~SIG_UNBLOCKABLE;
		if (!(t->act.flags & SA_NODEFER))
			st->blocked |= bit;
		if (t->act.flags & SA_RESETHAND)
			s->act[t->sig - 1].handler = SIG_DFL;
	}
	spin_unlock(&s->lock);
	return true;
}

/* A syscall's interrupted result at the first handler (handler true) or
 * when none ran: restart it, or let the handler see EINTR. */
static void syscall_restart(struct trap_frame *tf, int64_t nr, bool handler,
			    const struct k_sigaction *a)
{
	long r = (long)tf->rax;
	bool restart;

	if (r == -EINTR)
		restart = !handler || (a->flags & SA_RESTART);
	else if (r == -SIGNAL_ERESTARTNOHAND)
		restart = !handler;
	else
		return;
	if (restart) {
		tf->rax = (uint64_t)nr;
		tf->rip -= SYSCALL_BYTES;
	} else {
		tf->rax = (uint64_t)-EINTR;
	}
}

/* The mask the first handler's frame records: sigsuspend's saved one. */
static uint64_t frame_mask(struct signal_thread *s, uint64_t blocked_before)
{
	if (!s->restore_mask)
		return blocked_before;
	s->restore_mask = false;
	return s->saved_mask;
}

/* A stop signal sig taken at its default: p stops (unless it is
 * stopped already, or a SIGCONT came since), every other thread is
 * interrupted to sleep in stop_wait too, the parent is to be told. */
static void stop_begin(struct process *p, int sig)
{
	struct signal_state *s = p->sig;

	spin_lock(&p->tlock);
	spin_lock(&s->lock);
	if (!s->stopped) {
		s->stopped = true;
		s->stop_sig = sig;
		s->notify = SIG_NOTIFY_STOP;
		interrupt_all_locked(p, process_self(p));
	}
	spin_unlock(&s->lock);
	spin_unlock(&p->tlock);
}

/*
 * The calling thread of p while p is stopped: tells the parent what it
 * has to know (the first thread to look does), then sleeps until a
 * SIGCONT resumes p or p must die (SIGKILL, exit). The interrupt mark is
 * cleared before each look, so a sending between the look and the sleep
 * ends the sleep.
 */
static void stop_wait(struct process *p)
{
	struct signal_state *s = p->sig;

	for (;;) {
		enum sig_notify notify;
		bool stopped;
		int sig;

		thread_interrupt_clear();
		spin_lock(&s->lock);
		notify = s->notify;
		s->notify = SIG_NOTIFY_NONE;
		stopped = s->stopped;
		sig = s->stop_sig;
		spin_unlock(&s->lock);
		if (notify != SIG_NOTIFY_NONE)
			process_stop_notify(p, notify == SIG_NOTIFY_STOP, sig);
		if (!stopped || signal_kill_pending(p))
			return;
		thread_sleep_intr_ns(SYSCALL_NS_FOREVER);
	}
}

/* Runs one taken signal: ignore, default, or a handler's frame. */
static void deliver_one(struct process *p, struct signal_thread *st, struct trap_frame *tf,
			struct sig_take *t, uint64_t mask)
{
	enum sig_default d = sig_default_of(t->sig);

	if (t->act.handler == SIG_IGN)
		return;
	if (t->act.handler == SIG_DFL) {
		if (t->sig != SIGKILL && d == SIGDFL_IGNORE)
			return;
		if (t->sig != SIGKILL && d == SIGDFL_STOP) {
			stop_begin(p, t->sig); /* stop_wait sleeps next */
			return;
		}
		process_exit(p, PROCESS_KILLED(t->sig));
	}
	if (frame_setup(st, tf, &t->act, &t->info, mask))
		process_exit(p, PROCESS_KILLED(SIGSEGV)); /* Linux: force_sigsegv */
}

void signal_deliver(struct process *p, struct trap_frame *tf)
{
	struct signal_state *s = p->sig;
	struct pthread_info *self = process_self(p);
	struct signal_thread *st = self->sig;
	int64_t nr = -1;
	struct sig_take t;

	if (tf->vector == VEC_SYSCALL) {
		nr = self->sysno;
		self->sysno = -1;
	}
	for (;;) {
		uint64_t blocked_before;

		thread_interrupt_clear(); /* before looking: no sending lost */
		stop_wait(p);		  /* while p is stopped */
		process_check_exit(p);	  /* may not return */
		spin_lock(&s->lock);
		blocked_before = st->blocked;
		spin_unlock(&s->lock);
		if (!sig_take(s, st, &t)) {
			if (!st->restore_mask)
				break;
			st->restore_mask = false; /* sigsuspend's signal needed no handler */
			spin_lock(&s->lock);
			st->blocked = st->saved_mask;
			spin_unlock(&s->lock);
			continue;
		}
		if (t.act.handler <= SIG_IGN) {
			deliver_one(p, st, tf, &t, 0);
			continue;
		}
		if (nr >= 0) {
			syscall_restart(tf, nr, true, &t.act);
			nr = -1;
		}
		deliver_one(p, st, tf, &t, frame_mask(st, blocked_before));
	}
	if (nr >= 0)
		syscall_restart(tf, nr, false, NULL);
}

int signal_fatal(struct process *p, struct trap_frame *tf, const struct signal_info *info)
{
	struct signal_state *s = p->sig;
	struct signal_thread *st = signal_self(p);
	int sig = info->signo;
	struct k_sigaction a;
	uint64_t mask;

	spin_lock(&s->lock);
	a = s->act[sig - 1];
	mask = st->blocked;
	if ((mask & SIG_BIT(sig)) || a.handler == SIG_DFL || a.handler == SIG_IGN) {
		spin_unlock(&s->lock);
		return sig; /* Linux's force_sig: blocked or ignored kills too */
	}
	st->blocked |= a.mask & ~SIG_UNBLOCKABLE;
	if (!(a.flags & SA_NODEFER))
		st->blocked |= SIG_BIT(sig);
	if (a.flags & SA_RESETHAND)
		s->act[sig - 1].handler = SIG_DFL;
	spin_unlock(&s->lock);
	if (frame_setup(st, tf, &a, info, mask))
		return SIGSEGV;
	return 0;
}

/* ---- rt_sigreturn ---------------------------------------------------------- */

static void sigreturn_regs(struct trap_frame *tf, const struct k_sigcontext *sc)
{
	tf->r8 = sc->r8, tf->r9 = sc->r9, tf->r10 = sc->r10, tf->r11 = sc->r11;
	tf->r12 = sc->r12, tf->r13 = sc->r13, tf->r14 = sc->r14, tf->r15 = sc->r15;
	tf->rdi = sc->rdi, tf->rsi = sc->rsi, tf->rbp = sc->rbp, tf->rbx = sc->rbx;
	tf->rdx = sc->rdx, tf->rax = sc->rax, tf->rcx = sc->rcx, tf->rsp = sc->rsp;
	tf->rip = sc->rip;
	tf->rflags = sc->eflags; /* the arch keeps only the user flags */
}

/* rt_sigreturn(): the frame's ucontext is at rsp (the handler's return
 * popped pretcode). Restores registers, FPU state and mask; returns the
 * restored rax (the dispatcher writes it back). */
long sys_rt_sigreturn(struct process *p, const uint64_t *a)
{
	struct pthread_info *self = process_self(p);
	struct trap_frame *tf = self->tf;
	struct signal_state *s = p->sig;
	uint8_t fpu[USER_FPU_SIZE];
	struct k_ucontext uc;

	if (!tf)
		return -EINVAL;
	if (copy_from_user(&uc, tf->rsp, sizeof(uc)))
		goto bad_frame;
	if (uc.uc_mcontext.rip >= USPACE_TOP || uc.uc_mcontext.rsp >= USPACE_TOP)
		goto bad_frame;
	if (uc.uc_mcontext.fpstate && copy_from_user(fpu, uc.uc_mcontext.fpstate, sizeof(fpu)))
		goto bad_frame;
	if (uc.uc_mcontext.fpstate)
		user_fpu_set(fpu);
	else
		user_fpu_reset();
	spin_lock(&s->lock);
	self->sig->blocked = uc.uc_sigmask & ~SIG_UNBLOCKABLE;
	spin_unlock(&s->lock);
	signal_retarget(p); /* the restored mask may block what we were sent */
	sigreturn_regs(tf, &uc.uc_mcontext);
	self->sysno = -1; /* rax is the interrupted code's, not a result */
	return (long)tf->rax;
bad_frame:
	pr_info("process %u: bad signal frame at %#llx: killed by SIGSEGV", p->pid,
		(unsigned long long)tf->rsp);
	process_exit(p, PROCESS_KILLED(SIGSEGV));
}

/* ---- ITIMER_REAL ------------------------------------------------------------ */

static struct waitq timer_wq = {
	.lock = SPINLOCK_INIT("signal timer"),
	.waiters = LIST_HEAD_INIT(timer_wq.waiters),
};
static bool timer_changed; /* timer_wq.lock: look again before sleeping */
static bool timer_started; /* atomic */

struct timer_scan {
	uint64_t now;
	uint64_t earliest; /* 0: none */
};

/* Fires q's timer if due, re-arms a periodic one; notes the earliest. */
static int timer_scan_one(struct process *q, void *arg)
{
	struct timer_scan *ts = arg;
	struct signal_state *s = q->sig;
	struct signal_info info = {.signo = SIGALRM, .code = SI_KERNEL};
	bool fire = false;

	if (q->state != PROCESS_RUNNING || !s)
		return 0;
	spin_lock(&s->lock);
	if (s->real_at && s->real_at <= ts->now) {
		fire = true;
		s->real_at = s->real_interval ? ts->now + s->real_interval : 0;
	}
	if (s->real_at && (!ts->earliest || s->real_at < ts->earliest))
		ts->earliest = s->real_at;
	spin_unlock(&s->lock);
	if (fire)
		signal_send(q, &info); /* table lock held */
	return 0;
}

static void timer_main(void *arg)
{
	for (;;) {
		struct timer_scan ts = {.now = clock_ns()};

		process_table_lock();
		process_for_each_locked(timer_scan_one, &ts);
		process_table_unlock();
		spin_lock(&timer_wq.lock);
		if (!timer_changed)
			waitq_wait_locked(&timer_wq, ts.earliest);
		timer_changed = false;
		spin_unlock(&timer_wq.lock);
	}
}

void signal_timer_kick(void)
{
	if (!__atomic_exchange_n(&timer_started, true, __ATOMIC_ACQ_REL) &&
	    !thread_create("sigtimer", timer_main, NULL, true)) {
		pr_warn("signal: no memory for the timer thread: alarms will not fire");
		__atomic_store_n(&timer_started, false, __ATOMIC_RELEASE);
		return;
	}
	spin_lock(&timer_wq.lock);
	timer_changed = true;
	waitq_wake_all_locked(&timer_wq);
	spin_unlock(&timer_wq.lock);
}
