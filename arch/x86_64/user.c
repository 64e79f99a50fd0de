/*
 * User threads and the ways in and out of user mode on x86-64
 * (include/kernel/uspace.h): per-CPU syscall/FPU setup, the scheduler's
 * switch hook, ring-3 entry, the hooks the role installs, routing of user
 * exceptions and of faults inside the copy routines, and the checked
 * user-memory copies.
 *
 * Switches. arch_thread_switch() keeps TSS.rsp0 and the per-CPU
 * kstack_top (read by syscall_entry) at the top of the running thread's
 * kernel stack. A user thread's FPU/SSE registers are saved with fxsave
 * when it switches out and restored with fxrstor when it switches in
 * (eager: the kernel itself never touches them, being built with
 * -mno-sse); its FS base is restored when it switches in (user mode cannot
 * change it without FSGSBASE, which stays off, so thread->user->fs_base
 * is always current and nothing needs saving). Page tables: a user thread
 * runs on its uspace, a kernel thread on the kernel's own root, loaded at
 * the switch from a user thread. This costs a CR3 load per user/kernel
 * switch, but a uspace is then active exactly on the CPUs running one of
 * its threads, so shootdowns reach no idle CPU and uspace_destroy() can
 * free tables no CPU holds.
 *
 * Interrupt bookkeeping. In user mode a CPU holds no lock: irq_depth is 0.
 * Every way in from user mode (syscall, exception) turns interrupts on
 * with irq_depth still 0 before it calls a hook, so the hook runs like any
 * thread: it may sleep, be preempted, take locks. On the way out the depth
 * must be 0 again (a hook returning with a lock held is a kernel bug:
 * panic).
 *
 * Fork. user_state_save() snapshots the calling user thread at a trap:
 * the frame, fxsave of the live FPU/SSE registers (they are the thread's:
 * see Switches), the FS base. user_resume() installs the snapshot in the
 * current user thread's uthread and leaves through the same iretq path as
 * user_enter, after the checks a hook-changed syscall frame gets.
 *
 * Signals. The fatal hook may return with the frame rewritten (a signal
 * handler's): the frame is checked like a hook-changed syscall frame and
 * the faulting code is not retried but left for the handler. On the way
 * back to user mode from an interrupt or exception, a thread whose
 * interrupt mark (thread->interrupted) is set runs the user_return hook
 * first: a thread in a compute loop gets its signals at the next timer
 * tick, or at once: thread_interrupt() sends an IPI to the CPU running it.
 * user_fpu_get/set give the signal frame the live FPU/SSE image.
 *
 * Copies. user_copy_raw/user_strncpy_raw (syscall.S) touch user memory at
 * instructions listed in .ex_table. A page fault there on a user address
 * calls the page_fault hook (from_user = false) with interrupts on and
 * retries the instruction on success; otherwise, or without hooks, the
 * routine continues at its fixup and returns -EFAULT. Range checks against
 * USPACE_TOP come first, so the routines never touch a kernel address on
 * a caller's behalf.
 */
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <arch/user.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/uspace.h>
#include <lib/string.h>
#include <stddef.h>

#define STACK_BYTES ((uint64_t)PAGE_SIZE << THREAD_STACK_ORDER)

/* MSR_FMASK: flags cleared on syscall entry. */
#define SYSCALL_FMASK (RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_NT | RFLAGS_AC)
/* MSR_STAR: syscall loads CS = SEL_KCODE, SS = SEL_KCODE + 8; sysretq
 * loads CS = base + 16, SS = base + 8, RPL 3: SEL_UCODE, SEL_UDATA. */
#define STAR_USER_BASE ((uint64_t)SEL_UCODE - 16)
_Static_assert(SEL_UCODE - 16 + 8 == SEL_UDATA, "sysret selector layout");
_Static_assert(VEC_SYSCALL == 256, "syscall.S hard-codes VEC_SYSCALL");

/* Flags a user program may set; IF (and bit 1) are always on in user mode. */
#define USER_RFLAGS                                                                     \
	(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_TF |     \
	 RFLAGS_DF | RFLAGS_OF | RFLAGS_AC | RFLAGS_ID)

#define PF_ERR_WRITE (1u << 1)
#define PF_ERR_FETCH (1u << 4)

extern const struct ex_entry __ex_table_start[], __ex_table_end[];

static const struct user_hooks *user_hooks_cur; /* atomic pointer */
/* fxsave image of a clean FPU/SSE state (FCW 0x37f, MXCSR 0x1f80); written
 * once on the boot CPU. */
static uint8_t fpu_clean[512] __attribute__((aligned(16)));
/* MXCSR bits this CPU supports (fxsave's MXCSR_MASK, 0xffbf if it says
 * 0); written once on the boot CPU. */
static uint32_t mxcsr_mask = 0xffbf;

/* For syscall.S: per-CPU offsets as absolute symbols. Never called. */
void user_asm_symbols(void);
void user_asm_symbols(void)
{
	__asm__ volatile(".globl CPU_KSTACK_TOP\n\t"
			 ".set CPU_KSTACK_TOP, %c0\n\t"
			 ".globl CPU_USER_RSP\n\t"
			 ".set CPU_USER_RSP, %c1"
			 :
			 : "i"(offsetof(struct cpu, arch.kstack_top)),
			   "i"(offsetof(struct cpu, arch.user_rsp)));
}

static void fxsave(uint8_t *area)
{
	__asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])area));
}

static void fxrstor(const uint8_t *area)
{
	__asm__ volatile("fxrstor64 %0" : : "m"(*(const uint8_t(*)[512])area));
}

static const struct user_hooks *hooks(void)
{
	return __atomic_load_n(&user_hooks_cur, __ATOMIC_ACQUIRE);
}

void user_set_hooks(const struct user_hooks *h)
{
	__atomic_store_n(&user_hooks_cur, h, __ATOMIC_RELEASE);
}

static void fpu_clean_init(void)
{
	uint16_t fcw = 0x37f;
	uint32_t mxcsr = 0x1f80;

	memset(fpu_clean, 0, sizeof(fpu_clean));
	memcpy(fpu_clean + 0, &fcw, sizeof(fcw)); /* FCW; FSW, FTW 0: all empty */
	memcpy(fpu_clean + 24, &mxcsr, sizeof(mxcsr));
}

/* Reads MXCSR_MASK from a live fxsave (after fninit). Boot CPU. */
static void fpu_mask_init(void)
{
	uint8_t area[512] __attribute__((aligned(16)));
	uint32_t mask;

	fxsave(area);
	memcpy(&mask, area + 28, sizeof(mask));
	if (mask)
		mxcsr_mask = mask;
}

void user_init_cpu(struct cpu *c)
{
	uint64_t efer = rdmsr(MSR_EFER);

	if (!(efer & EFER_NXE))
		panic("cpu %u: EFER.NXE is off", c->id);
	wrmsr(MSR_EFER, efer | EFER_SCE);
	wrmsr(MSR_STAR, (STAR_USER_BASE << 48) | ((uint64_t)SEL_KCODE << 32));
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_FMASK, SYSCALL_FMASK);
	write_cr0((read_cr0() | CR0_MP | CR0_NE) & ~(CR0_EM | CR0_TS));
	write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
	__asm__ volatile("fninit");
	if (c->id == 0) {
		fpu_clean_init();
		fpu_mask_init();
		uspace_init();
	}
}

/* ---- switches and user threads ---- */

static uint64_t stack_top(const struct thread *t)
{
	return t->stack ? (uint64_t)t->stack + STACK_BYTES : 0;
}

static void set_stack_top(struct cpu *c, uint64_t top)
{
	c->arch.tss.rsp[0] = top;
	c->arch.kstack_top = top;
}

void arch_thread_switch(struct thread *prev, struct thread *next)
{
	struct cpu *c = this_cpu();
	struct uthread *pu = prev->user, *nu = next->user;

	if (pu && prev->state == THREAD_DEAD)
		panic("thread %s exited without uthread_detach()", prev->name);
	if (pu)
		fxsave(pu->fxsave);
	set_stack_top(c, stack_top(next));
	uspace_switch(pu ? pu->us : NULL, nu ? nu->us : NULL);
	if (nu) {
		fxrstor(nu->fxsave);
		wrmsr(MSR_FS_BASE, nu->fs_base);
	}
}

int uthread_attach(struct uspace *us)
{
	struct thread *t = thread_current();
	struct uthread *u;

	if (t->user || !t->stack || !us)
		panic("uthread_attach: %s is a user thread or has no stack", t->name);
	u = kzalloc(sizeof(*u));
	if (!u)
		return -ENOMEM;
	BUG_ON((uint64_t)u->fxsave & 15);
	memcpy(u->fxsave, fpu_clean, sizeof(u->fxsave));
	u->us = us;
	irq_push();
	set_stack_top(this_cpu(), stack_top(t));
	t->user = u;
	uspace_switch(NULL, us);
	fxrstor(u->fxsave);
	wrmsr(MSR_FS_BASE, 0);
	irq_pop();
	return 0;
}

void uthread_detach(void)
{
	struct thread *t = thread_current();
	struct uthread *u = t->user;

	if (!u)
		return;
	irq_push();
	uspace_switch(u->us, NULL);
	t->user = NULL;
	wrmsr(MSR_FS_BASE, 0);
	irq_pop();
	kfree(u);
}

struct uspace *uthread_uspace(void)
{
	struct uthread *u = thread_current()->user;

	return u ? u->us : NULL;
}

void uthread_set_uspace(struct uspace *us)
{
	struct uthread *u = thread_current()->user;

	BUG_ON(!u || !us);
	irq_push(); /* a switch in between must load the one u says */
	uspace_switch(u->us, us);
	u->us = us;
	irq_pop();
}

void user_set_fs_base(uint64_t base)
{
	struct uthread *u = thread_current()->user;

	BUG_ON(!u);
	if (base >= USPACE_TOP) { /* wrmsr would fault on a non-canonical base */
		pr_warn("user: fs base %#llx refused (callers answer EPERM)",
			(unsigned long long)base);
		base = 0;
	}
	irq_push();
	u->fs_base = base;
	wrmsr(MSR_FS_BASE, base);
	irq_pop();
}

void user_reset_fpu(void)
{
	struct uthread *u = thread_current()->user;

	BUG_ON(!u);
	irq_push(); /* a switch in between would fxsave the old registers */
	u->fs_base = 0;
	wrmsr(MSR_FS_BASE, 0);
	memcpy(u->fxsave, fpu_clean, sizeof(u->fxsave));
	fxrstor(u->fxsave);
	irq_pop();
}

uint64_t user_fs_base(void)
{
	struct uthread *u = thread_current()->user;

	return u ? u->fs_base : 0;
}

void uthread_set_owner(void *owner)
{
	struct uthread *u = thread_current()->user;

	BUG_ON(!u);
	u->owner = owner;
}

void *uthread_owner(void)
{
	struct uthread *u = thread_current()->user;

	return u ? u->owner : NULL;
}

/* ---- FPU state for signal frames ---- */

void user_fpu_get(void *area)
{
	uint8_t buf[512] __attribute__((aligned(16)));

	BUG_ON(!thread_current()->user);
	irq_push(); /* the registers are this thread's while it runs */
	fxsave(buf);
	irq_pop();
	memcpy(area, buf, sizeof(buf));
}

void user_fpu_set(const void *area)
{
	struct uthread *u = thread_current()->user;
	uint32_t mxcsr;

	BUG_ON(!u);
	irq_push();
	memcpy(u->fxsave, area, sizeof(u->fxsave));
	memcpy(&mxcsr, u->fxsave + 24, sizeof(mxcsr));
	mxcsr &= mxcsr_mask; /* a reserved bit would make fxrstor fault */
	memcpy(u->fxsave + 24, &mxcsr, sizeof(mxcsr));
	fxrstor(u->fxsave);
	irq_pop();
}

void user_fpu_reset(void)
{
	user_fpu_set(fpu_clean);
}

/* ---- entries from user mode ---- */

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static void check_irq_depth(const char *where)
{
	if (this_cpu()->irq_depth != 0)
		panic("user: %s with irq depth %d (a lock held?)", where,
		      this_cpu()->irq_depth);
}

/* The fatal hook: ends the thread, or returns with tf rewritten (a
 * signal handler's frame), which the caller checks again. */
static void call_fatal(const struct user_hooks *h, struct trap_frame *tf, unsigned vector,
		       uint64_t addr, int err)
{
	if (!h || !h->fatal)
		panic("user: exception %u at %#llx (addr %#llx) and no fatal hook",
		      vector, (unsigned long long)tf->rip, (unsigned long long)addr);
	h->fatal(tf, vector, addr, err);
}

/* Times the fatal hook may hand back a frame that is still bad before we
 * call it a kernel bug (the processor's kills at the second: the signal
 * is blocked in its own handler). */
#define FATAL_RETRIES 8

/*
 * Makes a frame the hooks may have changed safe to return to ring 3:
 * user selectors, IF on, no privileged flags. A non-canonical rip or rsp
 * (which would fault in the kernel's iretq) goes to the fatal hook as a
 * general protection fault, which ends the thread or gives a new frame
 * (checked again). Interrupts on.
 */
static void sanitize_return(const struct user_hooks *h, struct trap_frame *tf)
{
	for (unsigned i = 0;; i++) {
		tf->cs = SEL_UCODE;
		tf->ss = SEL_UDATA;
		tf->rflags = (tf->rflags & USER_RFLAGS) | RFLAGS_IF | RFLAGS_1;
		if (canonical(tf->rip) && canonical(tf->rsp))
			return;
		if (i == FATAL_RETRIES)
			panic("user: the fatal hook keeps returning a bad frame (rip %#llx)",
			      (unsigned long long)tf->rip);
		call_fatal(h, tf, 13, tf->rip, -EFAULT);
	}
}

/* Can sysretq restore tf? It sets rip = rcx, rflags = r11 and cannot load
 * a non-canonical rip without faulting in ring 0. */
static bool sysret_ok(const struct trap_frame *tf)
{
	return tf->rip < USPACE_TOP && tf->rcx == tf->rip && tf->r11 == tf->rflags &&
	       !(tf->rflags & (RFLAGS_TF | RFLAGS_RF));
}

/* From syscall_entry with interrupts on; returns with them off, 1 if the
 * frame may leave by sysretq, 0 for iretq. */
int user_syscall(struct trap_frame *tf)
{
	const struct user_hooks *h = hooks();

	check_irq_depth("syscall entry");
	if (!h || !h->syscall)
		panic("user: syscall %llu at %#llx and no user hooks installed",
		      (unsigned long long)tf->rax, (unsigned long long)tf->rip);
	h->syscall(tf);
	sanitize_return(h, tf);
	irq_disable();
	check_irq_depth("syscall return");
	return sysret_ok(tf);
}

static unsigned pf_access(uint64_t err)
{
	if (err & PF_ERR_FETCH)
		return USPACE_EXEC;
	return (err & PF_ERR_WRITE) ? USPACE_WRITE : USPACE_READ;
}

bool user_exception(struct trap_frame *tf)
{
	const struct user_hooks *h = hooks();
	unsigned v = (unsigned)tf->vector;
	uint64_t addr = v == 14 ? read_cr2() : tf->rip; /* before anything can fault */
	int err = 0;

	if (!h) {
		printk(LOG_EMERG, "user: exception %u in user mode and no user hooks installed",
		       v);
		return false;
	}
	check_irq_depth("user exception");
	irq_enable();
	if (v == 14) {
		err = -EFAULT;
		if (addr < USPACE_TOP && h->page_fault)
			err = h->page_fault(addr, pf_access(tf->error), true);
		if (err == 0) {
			irq_disable();
			check_irq_depth("user page fault return");
			return true;
		}
	}
	call_fatal(h, tf, v, addr, err); /* returned: a handler's frame */
	sanitize_return(h, tf);
	irq_disable();
	check_irq_depth("user fatal return");
	return true;
}

void user_interrupt_return(struct trap_frame *tf)
{
	struct thread *t = thread_current();
	const struct user_hooks *h;

	if (!t->user || !__atomic_load_n(&t->interrupted, __ATOMIC_RELAXED))
		return;
	h = hooks();
	if (!h || !h->user_return || this_cpu()->irq_depth != 0)
		return;
	irq_enable();
	h->user_return(tf);
	sanitize_return(h, tf);
	irq_disable();
	check_irq_depth("user interrupt return");
}

static const struct ex_entry *ex_find(uint64_t rip)
{
	for (const struct ex_entry *e = __ex_table_start; e < __ex_table_end; e++)
		if (e->insn == rip)
			return e;
	return NULL;
}

bool user_copy_fault(struct trap_frame *tf)
{
	const struct ex_entry *e = ex_find(tf->rip);
	const struct user_hooks *h = hooks();
	uint64_t addr = read_cr2();
	int err = -EFAULT;

	if (!e || addr >= USPACE_TOP)
		return false; /* a kernel bug, not a bad user address */
	if (h && h->page_fault && (tf->rflags & RFLAGS_IF) &&
	    this_cpu()->irq_depth == 0) {
		irq_enable();
		err = h->page_fault(addr, pf_access(tf->error), false);
		irq_disable();
		check_irq_depth("copy fault return");
	}
	if (err)
		tf->rip = e->fixup;
	return true;
}

void user_enter(uint64_t rip, uint64_t rsp)
{
	struct thread *t = thread_current();
	const struct user_hooks *h = hooks();
	struct trap_frame tf;

	if (!t->user)
		panic("user_enter: %s is not a user thread", t->name);
	check_irq_depth("user_enter");
	memset(&tf, 0, sizeof(tf));
	tf.rip = rip;
	tf.rsp = rsp;
	sanitize_return(h, &tf); /* selectors, flags; fatal if non-canonical */
	irq_disable();
	t->user->fs_base = 0;
	wrmsr(MSR_FS_BASE, 0);
	memcpy(t->user->fxsave, fpu_clean, sizeof(fpu_clean));
	fxrstor(t->user->fxsave);
	user_enter_frame(&tf);
}

/* ---- snapshots (fork) ---- */

/* What user_state_save() copies; kmalloc keeps it 16-byte aligned. */
struct user_state {
	uint8_t fxsave[512] __attribute__((aligned(16)));
	struct trap_frame tf;
	uint64_t fs_base;
};

struct user_state *user_state_save(const struct trap_frame *tf)
{
	struct uthread *u = thread_current()->user;
	struct user_state *st;

	if (!u)
		return NULL;
	st = kmalloc(sizeof(*st));
	if (!st)
		return NULL;
	BUG_ON((uint64_t)st->fxsave & 15);
	st->tf = *tf;
	/* The registers hold this thread's FPU/SSE state: the kernel never
	 * touches them, and a switch restores them before we run again. */
	irq_push();
	fxsave(st->fxsave);
	st->fs_base = u->fs_base;
	irq_pop();
	return st;
}

void user_state_free(struct user_state *st)
{
	kfree(st);
}

void user_state_set_fs_base(struct user_state *st, uint64_t base)
{
	st->fs_base = base; /* user_resume loads only a user address */
}

void user_resume(struct user_state *st)
{
	struct thread *t = thread_current();
	const struct user_hooks *h = hooks();
	struct trap_frame tf;
	uint64_t fs_base;

	if (!t->user)
		panic("user_resume: %s is not a user thread", t->name);
	check_irq_depth("user_resume");
	tf = st->tf;
	fs_base = st->fs_base < USPACE_TOP ? st->fs_base : 0;
	memcpy(t->user->fxsave, st->fxsave, sizeof(st->fxsave));
	kfree(st);
	tf.vector = 0;
	tf.error = 0;
	irq_push();
	t->user->fs_base = fs_base;
	wrmsr(MSR_FS_BASE, fs_base);
	fxrstor(t->user->fxsave);
	irq_pop();
	if (tf.rip >= USPACE_TOP || tf.rsp >= USPACE_TOP)
		call_fatal(h, &tf, 13, tf.rip, -EFAULT); /* returned: a handler's frame */
	sanitize_return(h, &tf);
	irq_disable();
	user_enter_frame(&tf);
}

/* ---- user memory ---- */

static bool user_range_ok(uint64_t ua, size_t len)
{
	return ua < USPACE_TOP && len <= USPACE_TOP - ua;
}

int copy_from_user(void *dst, uint64_t usrc, size_t len)
{
	if (len == 0)
		return 0;
	if (!uthread_uspace() || !user_range_ok(usrc, len))
		return -EFAULT;
	return user_copy_raw(dst, (const void *)usrc, len);
}

int copy_to_user(uint64_t udst, const void *src, size_t len)
{
	if (len == 0)
		return 0;
	if (!uthread_uspace() || !user_range_ok(udst, len))
		return -EFAULT;
	return user_copy_raw((void *)udst, src, len);
}

long strncpy_from_user(char *dst, uint64_t usrc, size_t cap)
{
	size_t n;
	long r;

	if (cap == 0)
		return -ENAMETOOLONG;
	if (!uthread_uspace() || usrc >= USPACE_TOP)
		return -EFAULT;
	n = cap < USPACE_TOP - usrc ? cap : (size_t)(USPACE_TOP - usrc);
	r = user_strncpy_raw(dst, (const char *)usrc, n);
	if (r == -ENAMETOOLONG && n < cap)
		r = -EFAULT; /* the string runs into the kernel half */
	if (r == -ENAMETOOLONG)
		dst[cap - 1] = '\0';
	return r;
}
