/*
 * The signal, timer, process group and session system calls of the
 * processor (pcomponent/signal.h's list; the table is syscall.c's). Each
 * decodes its arguments and user structures completely, then acts under
 * the locks signal_impl.h and process.h describe.
 *
 * Choices written down here:
 *  - permission (kill, tkill, tgkill, rt_sigqueueinfo): Linux's check
 *    on credentials (cred.h cred_may_signal: effective uid 0, or the
 *    sender's real or effective uid is the target's real or saved uid),
 *    or SIGCONT within the sender's session; else EPERM (for a group or
 *    kill(-1): EPERM only if no member could be signalled). Only
 *    processes of this processor are reachable. kill(-1, sig) signals
 *    every process but the caller and pid 1, as Linux.
 *  - rt_sigqueueinfo, rt_tgsigqueueinfo: the sender's siginfo (pid, uid,
 *    si_value) is delivered as given; a code >= 0 or SI_TKILL is EPERM
 *    unless the sender signals itself, as Linux. Queued signals merge
 *    like the others (signal.h: no queue of real-time signals yet).
 *  - tkill/tgkill: a thread-directed signal for the thread tid (of the
 *    process tgid for tgkill); kill(pid) is process-directed, and finds
 *    processes by their pid only (Linux also takes any tid of the
 *    process there).
 *  - masks, sigsuspend, sigtimedwait and sigaltstack are the calling
 *    thread's; actions are the process's.
 *  - setitimer/getitimer: ITIMER_REAL only (ITIMER_VIRTUAL and
 *    ITIMER_PROF are EINVAL: no CPU time accounting yet). setitimer with
 *    a NULL new value disarms, as Linux does (with its warning).
 *  - setpgid does not know whether a child has exec'd (Linux's EACCES).
 *  - setsid does not drop the controlling terminal (tty.h has none to
 *    drop yet).
 *  - a syscall interrupted by a signal returns -EINTR (restartable with
 *    SA_RESTART) or SIGNAL_ERESTARTNOHAND (pause, rt_sigsuspend,
 *    nanosleep: EINTR after a handler, SA_RESTART or not); a nanosleep
 *    restarted because no handler ran sleeps its whole request again.
 */
#include "signal_impl.h"

#include "process.h"
#include "syscall.h"

#include <arch/trap.h>
#include <kernel/errno.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <lib/string.h>

#define SIG_BLOCK   0
#define SIG_UNBLOCK 1
#define SIG_SETMASK 2

#define ITIMER_REAL 0

#define SLEEP_FOREVER SYSCALL_NS_FOREVER

struct k_timeval {
	int64_t sec;
	int64_t usec;
};

struct k_itimerval {
	struct k_timeval interval;
	struct k_timeval value;
};

/* ---- actions and masks ------------------------------------------------------ */

static bool sig_valid(uint64_t sig)
{
	return sig >= 1 && sig <= NSIG_LINUX;
}

/* rt_sigaction(sig, act, oact, sigsetsize) */
long sys_rt_sigaction(struct process *p, const uint64_t *a)
{
	struct signal_state *s = p->sig;
	struct k_sigaction nact, oact;
	int sig = (int)a[0];

	if (a[3] != sizeof(uint64_t) || !sig_valid(a[0]))
		return -EINVAL;
	if (a[1] && (sig == SIGKILL || sig == SIGSTOP))
		return -EINVAL;
	if (a[1] && copy_from_user(&nact, a[1], sizeof(nact)))
		return -EFAULT;
	spin_lock(&p->tlock);
	spin_lock(&s->lock);
	oact = s->act[sig - 1];
	if (a[1]) {
		nact.mask &= ~SIG_UNBLOCKABLE;
		s->act[sig - 1] = nact;
		if (signal_ignored_locked(s, sig))
			signal_discard_locked(p, SIG_BIT(sig)); /* POSIX: discarded */
	}
	spin_unlock(&s->lock);
	spin_unlock(&p->tlock);
	if (a[2] && copy_to_user(a[2], &oact, sizeof(oact)))
		return -EFAULT;
	return 0;
}

/* rt_sigprocmask(how, set, oset, sigsetsize) */
long sys_rt_sigprocmask(struct process *p, const uint64_t *a)
{
	struct signal_state *s = p->sig;
	struct signal_thread *st = signal_self(p);
	uint64_t set = 0, old;

	if (a[3] != sizeof(uint64_t))
		return -EINVAL;
	if (a[1] && a[0] > SIG_SETMASK)
		return -EINVAL;
	if (a[1] && copy_from_user(&set, a[1], sizeof(set)))
		return -EFAULT;
	set &= ~SIG_UNBLOCKABLE;
	spin_lock(&s->lock);
	old = st->blocked;
	if (a[1] && a[0] == SIG_BLOCK)
		st->blocked |= set;
	else if (a[1] && a[0] == SIG_UNBLOCK)
		st->blocked &= ~set;
	else if (a[1])
		st->blocked = set;
	spin_unlock(&s->lock);
	/* newly unblocked pending signals: signal_deliver at the return;
	 * newly blocked ones of the process: another thread may take them */
	if (st->blocked & ~old)
		signal_retarget(p);
	if (a[2] && copy_to_user(a[2], &old, sizeof(old)))
		return -EFAULT;
	return 0;
}

/* rt_sigpending(set, sigsetsize): the pending signals that are blocked */
long sys_rt_sigpending(struct process *p, const uint64_t *a)
{
	struct signal_state *s = p->sig;
	struct signal_thread *st = signal_self(p);
	uint64_t set;

	if (a[1] > sizeof(uint64_t))
		return -EINVAL;
	spin_lock(&s->lock);
	set = (s->pending | st->pending) & st->blocked;
	spin_unlock(&s->lock);
	return copy_to_user(a[0], &set, a[1]);
}

/* Sleeps until a signal p does not block is pending. The interrupt mark
 * is cleared before each look, so a stale one cannot make this spin. */
static long sleep_until_signal(struct process *p)
{
	for (;;) {
		thread_interrupt_clear();
		if (signal_pending(p))
			return -SIGNAL_ERESTARTNOHAND;
		thread_sleep_intr_ns(SLEEP_FOREVER);
	}
}

long sys_pause(struct process *p, const uint64_t *a)
{
	return sleep_until_signal(p);
}

/* The calling thread's mask is the user's set at umask until the system
 * call returns (signal_deliver puts the old one back). */
static long mask_until_return(struct process *p, uint64_t umask, uint64_t size)
{
	struct signal_state *s = p->sig;
	struct signal_thread *st = signal_self(p);
	uint64_t set;

	if (size != sizeof(uint64_t))
		return -EINVAL;
	if (copy_from_user(&set, umask, sizeof(set)))
		return -EFAULT;
	spin_lock(&s->lock);
	st->saved_mask = st->blocked;
	st->blocked = set & ~SIG_UNBLOCKABLE;
	spin_unlock(&s->lock);
	st->restore_mask = true;
	signal_retarget(p);
	return 0;
}

uint64_t signal_blocked(struct process *p)
{
	struct signal_thread *st = signal_self(p);
	uint64_t set;

	spin_lock(&p->sig->lock);
	set = st->blocked;
	spin_unlock(&p->sig->lock);
	return set;
}

long signal_wait_mask(struct process *p, uint64_t umask, uint64_t size)
{
	return umask ? mask_until_return(p, umask, size) : 0;
}

/* rt_sigsuspend(mask, sigsetsize): the mask comes back at delivery */
long sys_rt_sigsuspend(struct process *p, const uint64_t *a)
{
	long err = mask_until_return(p, a[0], a[1]);

	return err ? err : sleep_until_signal(p);
}

/* rt_sigtimedwait's timeout as a clock_ns() deadline (none: forever). */
static int sigwait_deadline(uint64_t uts, uint64_t *deadline)
{
	uint64_t ns = SLEEP_FOREVER;
	int err = uts ? syscall_get_timespec(uts, &ns) : 0;

	if (err)
		return err;
	*deadline = clock_ns() + ns;
	return 0;
}

/* Takes the lowest pending signal of set (the thread's own first) into
 * *info: its number, 0 if none; -1 if another signal st does not block
 * is pending. */
static int sigwait_take(struct signal_state *s, struct signal_thread *st, uint64_t set,
			struct signal_info *info)
{
	int sig = 0;

	spin_lock(&s->lock);
	if (st->pending & set) {
		sig = __builtin_ctzll(st->pending & set) + 1;
		st->pending &= ~SIG_BIT(sig);
		*info = st->info[sig - 1];
	} else if (s->pending & set) {
		sig = __builtin_ctzll(s->pending & set) + 1;
		s->pending &= ~SIG_BIT(sig);
		*info = s->info[sig - 1];
	} else if ((s->pending | st->pending) & ~st->blocked) {
		sig = -1;
	}
	spin_unlock(&s->lock);
	return sig;
}

/* rt_sigtimedwait(set, info, timeout, sigsetsize): the signals of set are
 * unblocked while it waits (so a sending interrupts it), as Linux */
long sys_rt_sigtimedwait(struct process *p, const uint64_t *a)
{
	struct signal_state *s = p->sig;
	struct signal_thread *st = signal_self(p);
	struct signal_info info;
	struct k_siginfo si;
	uint64_t set, saved, deadline;
	long r;

	if (a[3] != sizeof(uint64_t))
		return -EINVAL;
	if (copy_from_user(&set, a[0], sizeof(set)))
		return -EFAULT;
	set &= ~SIG_UNBLOCKABLE;
	r = sigwait_deadline(a[2], &deadline);
	if (r)
		return r;
	spin_lock(&s->lock);
	saved = st->blocked;
	st->blocked &= ~set;
	spin_unlock(&s->lock);
	for (;;) {
		uint64_t now = clock_ns();

		thread_interrupt_clear();
		r = sigwait_take(s, st, set, &info);
		if (!r && signal_pending(p))
			r = -1; /* the thread must leave (exit_group, execve) */
		if (r)
			break;
		if (now >= deadline) {
			r = -EAGAIN;
			break;
		}
		thread_sleep_intr_ns(deadline - now);
	}
	spin_lock(&s->lock);
	st->blocked = saved;
	spin_unlock(&s->lock);
	if (r == -1)
		return -SIGNAL_ERESTARTNOHAND; /* another signal: EINTR */
	if (r > 0 && a[1]) {
		signal_siginfo(&si, &info);
		if (copy_to_user(a[1], &si, sizeof(si)))
			return -EFAULT;
	}
	return r;
}

struct k_stack_user {
	uint64_t ss_sp;
	int32_t ss_flags;
	int32_t pad;
	uint64_t ss_size;
};

/* sigaltstack(ss, oss) */
long sys_sigaltstack(struct process *p, const uint64_t *a)
{
	struct signal_thread *s = signal_self(p);
	struct trap_frame *tf = process_self(p)->tf;
	bool on = tf && signal_on_altstack(s, tf->rsp);
	struct k_stack_user ns, os = {
		.ss_sp = s->alt_sp,
		.ss_size = s->alt_size,
		.ss_flags = on ? SS_ONSTACK : s->alt_size ? 0 : SS_DISABLE,
	};

	if (a[0]) {
		uint32_t mode;

		if (copy_from_user(&ns, a[0], sizeof(ns)))
			return -EFAULT;
		if (on)
			return -EPERM;
		mode = (uint32_t)ns.ss_flags & ~SS_AUTODISARM;
		if (mode != 0 && mode != SS_ONSTACK && mode != SS_DISABLE)
			return -EINVAL;
		if (mode == SS_DISABLE) {
			ns.ss_sp = ns.ss_size = 0;
		} else if (ns.ss_size < MINSIGSTKSZ) {
			return -ENOMEM;
		} else if (ns.ss_sp >= USPACE_TOP || ns.ss_size > USPACE_TOP - ns.ss_sp) {
			return -EFAULT; /* Linux takes it and faults later; refuse now */
		}
	}
	if (a[1] && copy_to_user(a[1], &os, sizeof(os)))
		return -EFAULT;
	if (a[0]) {
		s->alt_sp = ns.ss_sp;
		s->alt_size = ns.ss_size;
	}
	return 0;
}

/* ---- sending --------------------------------------------------------------- */

/* Who sends (kill, tkill, tgkill, rt_sigqueueinfo): the permission
 * check's side. */
struct sender {
	struct process *p;
	struct cred cred; /* a copy of p's */
};

static void sender_init(struct sender *s, struct process *p)
{
	s->p = p;
	process_cred(p, &s->cred);
}

/* Whether s may send sig to q (Linux's check_kill_permission): its ids
 * (cred_may_signal), or SIGCONT within its session. Table lock held. */
static bool may_send_locked(struct sender *s, struct process *q, int sig)
{
	struct cred qc;

	if (q == s->p)
		return true;
	process_cred(q, &qc);
	if (cred_may_signal(&s->cred, &qc))
		return true;
	return sig == SIGCONT && q->sid == s->p->sid;
}

/* Sends info to q if s may (0, -EPERM, or signal_send's error). Table
 * lock held. */
static int send_checked_locked(struct sender *s, struct process *q,
			       const struct signal_info *info)
{
	if (!may_send_locked(s, q, info->signo))
		return -EPERM;
	return signal_send(q, info);
}

/* kill(-1, sig) and kill(-pgrp, sig): every process of the group (pgrp
 * 0: every one but the sender and pid 1) the sender may signal. */
struct kill_many {
	struct sender *s;
	uint32_t pgrp;
	const struct signal_info *info;
	bool found, sent;
};

static int kill_many_one(struct process *q, void *arg)
{
	struct kill_many *k = arg;
	int err;

	if (q->state != PROCESS_RUNNING)
		return 0;
	if (k->pgrp ? q->pgid != k->pgrp : (q == k->s->p || q->pid == 1))
		return 0;
	k->found = true;
	err = send_checked_locked(k->s, q, k->info);
	if (err == -EPERM)
		return 0; /* as Linux: the others still get it */
	k->sent = true;
	return err;
}

/* Linux's answer: ESRCH if none matched, EPERM if none could be sent. */
static long kill_many(struct sender *s, uint32_t pgrp, const struct signal_info *info)
{
	struct kill_many k = {.s = s, .pgrp = pgrp, .info = info};
	int err;

	process_table_lock();
	err = process_for_each_locked(kill_many_one, &k);
	process_table_unlock();
	return err ? err : !k.found ? -ESRCH : !k.sent ? -EPERM : 0;
}

/* Sends info to the process pid (a zombie takes it and does nothing). */
static long kill_pid(struct sender *s, uint32_t pid, const struct signal_info *info)
{
	struct process *q;
	long err = -ESRCH;

	process_table_lock();
	q = process_find_locked(pid);
	if (q)
		err = send_checked_locked(s, q, info);
	process_table_unlock();
	return err;
}

/* kill's and rt_sigqueueinfo's target: pid > 0 one process, 0 the
 * sender's group, -1 every process it may signal, < -1 the group -pid. */
static long kill_target(struct process *p, int32_t pid, const struct signal_info *info)
{
	struct sender s;
	uint32_t pgrp;

	sender_init(&s, p);
	if (pid > 0)
		return kill_pid(&s, (uint32_t)pid, info);
	if (pid == -1)
		return kill_many(&s, 0, info);
	if (pid == INT32_MIN)
		return -ESRCH;
	if (pid == 0) {
		process_table_lock();
		pgrp = p->pgid;
		process_table_unlock();
	} else {
		pgrp = (uint32_t)-pid;
	}
	return kill_many(&s, pgrp, info);
}

/* The siginfo of a sending by p (SI_USER, SI_TKILL). */
static struct signal_info user_info(struct process *p, int sig, int code)
{
	struct cred c;

	process_cred(p, &c);
	return (struct signal_info){.signo = sig, .code = code, .pid = p->pid, .uid = c.uid};
}

/* kill(pid, sig) */
long sys_kill(struct process *p, const uint64_t *a)
{
	struct signal_info info = user_info(p, (int)a[1], SI_USER);

	if (a[1] > NSIG_LINUX)
		return -EINVAL;
	return kill_target(p, (int32_t)a[0], &info);
}

struct tkill {
	struct sender *s;
	uint32_t tid;
	const struct signal_info *info;
};

/* tkill: the process that has the thread tid takes it (nonzero: found,
 * or an error). */
static int tkill_one(struct process *q, void *arg)
{
	struct tkill *k = arg;
	/* signal 0 only asks whether q has the thread */
	int err = signal_send_thread(q, k->tid, &(struct signal_info){0});

	if (err == -ESRCH)
		return 0;
	if (!may_send_locked(k->s, q, k->info->signo))
		return -EPERM;
	err = signal_send_thread(q, k->tid, k->info);
	return err ? err : 1;
}

/* tgkill(tgid, tid, sig), tkill(tid, sig) and rt_tgsigqueueinfo: info
 * to the thread tid (of the process tgid, -1: any), -ESRCH if there is
 * none */
static long thread_send(struct process *p, int64_t tgid, int64_t tid,
			const struct signal_info *info)
{
	struct sender s;
	struct tkill k = {.s = &s, .tid = (uint32_t)tid, .info = info};
	struct process *q;
	long err = -ESRCH;

	sender_init(&s, p);
	process_table_lock();
	if (tgid == -1) {
		err = process_for_each_locked(tkill_one, &k);
		err = err == 1 ? 0 : err ? err : -ESRCH;
	} else if ((q = process_find_locked((uint32_t)tgid))) {
		err = tkill_one(q, &k);
		err = err == 1 ? 0 : err ? err : -ESRCH;
	}
	process_table_unlock();
	return err;
}

static long thread_kill(struct process *p, int64_t tgid, int64_t tid, uint64_t sig)
{
	struct signal_info info = user_info(p, (int)sig, SI_TKILL);

	if (tid <= 0 || (tgid != -1 && tgid <= 0) || sig > NSIG_LINUX)
		return -EINVAL;
	return thread_send(p, tgid, tid, &info);
}

long sys_tkill(struct process *p, const uint64_t *a)
{
	return thread_kill(p, -1, (int32_t)a[0], a[1]);
}

long sys_tgkill(struct process *p, const uint64_t *a)
{
	return thread_kill(p, (int32_t)a[0], (int32_t)a[1], a[2]);
}

/* rt_sigqueueinfo's and rt_tgsigqueueinfo's siginfo from user memory:
 * what the sender says, but its code must be negative (a user's, e.g.
 * SI_QUEUE) and not SI_TKILL unless it signals itself (Linux: EPERM). */
static long queue_info(struct process *p, bool self, int sig, uint64_t uinfo,
		       struct signal_info *info)
{
	struct k_siginfo si;

	if (sig < 0 || sig > NSIG_LINUX)
		return -EINVAL;
	if (copy_from_user(&si, uinfo, sizeof(si)))
		return -EFAULT;
	if ((si.code >= 0 || si.code == SI_TKILL) && !self)
		return -EPERM;
	*info = (struct signal_info){
		.signo = sig,
		.code = si.code,
		.pid = (uint32_t)si.u.kill.pid,
		.uid = si.u.kill.uid,
		.value = (uint64_t)(uint32_t)si.u.kill.status |
			 (uint64_t)(uint32_t)si.u.kill.pad2 << 32,
		.queued = true,
	};
	return 0;
}

/* rt_sigqueueinfo(tgid, sig, info) */
long sys_rt_sigqueueinfo(struct process *p, const uint64_t *a)
{
	int32_t pid = (int32_t)a[0];
	struct signal_info info;
	long err = queue_info(p, pid == (int32_t)p->pid, (int)a[1], a[2], &info);

	if (err)
		return err;
	return pid > 0 ? kill_target(p, pid, &info) : -ESRCH; /* a process only */
}

/* rt_tgsigqueueinfo(tgid, tid, sig, info) */
long sys_rt_tgsigqueueinfo(struct process *p, const uint64_t *a)
{
	int32_t tgid = (int32_t)a[0], tid = (int32_t)a[1];
	struct signal_info info;
	long err;

	if (tgid <= 0 || tid <= 0)
		return -EINVAL;
	err = queue_info(p, tgid == (int32_t)p->pid, (int)a[2], a[3], &info);
	if (err)
		return err;
	return thread_send(p, tgid, tid, &info);
}

/* ---- ITIMER_REAL and alarm -------------------------------------------------- */

static uint64_t timeval_ns(const struct k_timeval *tv)
{
	if ((uint64_t)tv->sec > SLEEP_FOREVER / NS_PER_S)
		return SLEEP_FOREVER;
	return (uint64_t)tv->sec * NS_PER_S + (uint64_t)tv->usec * NS_PER_US;
}

static struct k_timeval ns_timeval(uint64_t ns)
{
	return (struct k_timeval){(int64_t)(ns / NS_PER_S), (int64_t)(ns % NS_PER_S / NS_PER_US)};
}

/* Sets ITIMER_REAL to fire in value ns (0: off), then every interval;
 * gives back what was left of the old one. */
static void itimer_swap(struct process *p, uint64_t value, uint64_t interval,
			uint64_t *old_value, uint64_t *old_interval)
{
	struct signal_state *s = p->sig;
	uint64_t now = clock_ns();

	spin_lock(&s->lock);
	*old_value = s->real_at ? (s->real_at > now ? s->real_at - now : 1) : 0;
	*old_interval = s->real_interval;
	s->real_at = value ? now + value : 0;
	s->real_interval = value ? interval : 0;
	spin_unlock(&s->lock);
	signal_timer_kick();
}

static int get_itimerval(uint64_t uaddr, uint64_t *value, uint64_t *interval)
{
	struct k_itimerval it;

	if (copy_from_user(&it, uaddr, sizeof(it)))
		return -EFAULT;
	if (it.value.sec < 0 || it.value.usec < 0 || it.value.usec >= 1000000 ||
	    it.interval.sec < 0 || it.interval.usec < 0 || it.interval.usec >= 1000000)
		return -EINVAL;
	*value = timeval_ns(&it.value);
	*interval = timeval_ns(&it.interval);
	return 0;
}

/* setitimer(which, new, old) */
long sys_setitimer(struct process *p, const uint64_t *a)
{
	uint64_t value = 0, interval = 0, ov, oi;
	struct k_itimerval old;
	int err;

	if (a[0] != ITIMER_REAL)
		return -EINVAL;
	if (a[1]) {
		err = get_itimerval(a[1], &value, &interval);
		if (err)
			return err;
	}
	itimer_swap(p, value, interval, &ov, &oi);
	old.value = ns_timeval(ov);
	old.interval = ns_timeval(oi);
	if (a[2] && copy_to_user(a[2], &old, sizeof(old)))
		return -EFAULT;
	return 0;
}

/* getitimer(which, cur) */
long sys_getitimer(struct process *p, const uint64_t *a)
{
	struct signal_state *s = p->sig;
	struct k_itimerval cur;
	uint64_t now = clock_ns();

	if (a[0] != ITIMER_REAL)
		return -EINVAL;
	spin_lock(&s->lock);
	cur.value = ns_timeval(s->real_at ? (s->real_at > now ? s->real_at - now : 1) : 0);
	cur.interval = ns_timeval(s->real_interval);
	spin_unlock(&s->lock);
	return copy_to_user(a[1], &cur, sizeof(cur));
}

/* alarm(seconds): the seconds left of the old alarm, rounded as Linux */
long sys_alarm(struct process *p, const uint64_t *a)
{
	uint64_t secs = (uint32_t)a[0], ov, oi;
	uint64_t left;

	itimer_swap(p, secs * NS_PER_S, 0, &ov, &oi);
	if (!ov)
		return 0;
	left = (ov + NS_PER_S / 2) / NS_PER_S;
	return left ? (long)left : 1;
}

long signal_sleep(struct process *p, uint64_t ns, uint64_t *left)
{
	uint64_t end = clock_ns() + ns;

	for (;;) {
		uint64_t now = clock_ns();

		if (now >= end)
			return 0;
		if (thread_sleep_intr_ns(end - now) == -EINTR) {
			if (signal_pending(p)) {
				now = clock_ns();
				*left = end > now ? end - now : 0;
				return -SIGNAL_ERESTARTNOHAND;
			}
			thread_interrupt_clear(); /* nothing for us: sleep on */
		}
	}
}

/* ---- process groups and sessions ---------------------------------------------- */

/* The process pid means (0: p), or NULL. Table lock held. */
static struct process *target_locked(struct process *p, uint32_t pid)
{
	return pid ? process_find_locked(pid) : p;
}

struct pgrp_probe {
	uint32_t pgid, sid;
	bool found;
};

static int pgrp_probe_one(struct process *q, void *arg)
{
	struct pgrp_probe *pp = arg;

	if (q->pgid == pp->pgid && (!pp->sid || q->sid == pp->sid)) {
		pp->found = true;
		return 1;
	}
	return 0;
}

/* Whether a process group pgid exists (in session sid, if not 0). Table
 * lock held. */
static bool pgrp_exists_locked(uint32_t pgid, uint32_t sid)
{
	struct pgrp_probe pp = {.pgid = pgid, .sid = sid};

	process_for_each_locked(pgrp_probe_one, &pp);
	return pp.found;
}

/* The checks of setpgid(pid, pgid) with t its target; 0 or the error. */
static long setpgid_check_locked(struct process *p, struct process *t, uint32_t pgid)
{
	if (!t || (t != p && t->parent != p) || t->state != PROCESS_RUNNING)
		return -ESRCH;
	if (t->sid != p->sid || t->sid == t->pid)
		return -EPERM; /* another session, or a session leader */
	if (pgid != t->pid && !pgrp_exists_locked(pgid, p->sid))
		return -EPERM;
	return 0;
}

/* setpgid(pid, pgid) */
long sys_setpgid(struct process *p, const uint64_t *a)
{
	int32_t pid = (int32_t)a[0], pgid = (int32_t)a[1];
	struct process *t;
	long err;

	if (pid < 0 || pgid < 0)
		return -EINVAL;
	process_table_lock();
	t = target_locked(p, (uint32_t)pid);
	err = setpgid_check_locked(p, t, pgid ? (uint32_t)pgid : t ? t->pid : 0);
	if (!err)
		t->pgid = pgid ? (uint32_t)pgid : t->pid;
	process_table_unlock();
	return err;
}

/* getpgid(pid) and getsid(pid): the field of pid's process (0: p's) */
static long get_group_id(struct process *p, int32_t pid, bool session)
{
	struct process *t;
	long r = -ESRCH;

	if (pid < 0)
		return -ESRCH;
	process_table_lock();
	t = target_locked(p, (uint32_t)pid);
	if (t)
		r = session ? t->sid : t->pgid;
	process_table_unlock();
	return r;
}

long sys_getpgid(struct process *p, const uint64_t *a)
{
	return get_group_id(p, (int32_t)a[0], false);
}

long sys_getpgrp(struct process *p, const uint64_t *a)
{
	return get_group_id(p, 0, false);
}

long sys_getsid(struct process *p, const uint64_t *a)
{
	return get_group_id(p, (int32_t)a[0], true);
}

/* setsid(): p leads a new session and process group, unless a process
 * group with its pid exists already (it leads one: EPERM) */
long sys_setsid(struct process *p, const uint64_t *a)
{
	long r;

	process_table_lock();
	if (pgrp_exists_locked(p->pid, 0)) {
		r = -EPERM;
	} else {
		p->sid = p->pgid = p->pid;
		r = p->pid;
	}
	process_table_unlock();
	return r;
}
