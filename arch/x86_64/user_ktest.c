/*
 * Self tests of user mode (include/kernel/uspace.h): tiny ring-3 programs,
 * written below in assembly in a read-only data section and copied into a
 * test uspace's code page, run in kernel threads that attach to the
 * uspace and user_enter(). The tests install their own hooks: syscalls
 * 100 (echo the arguments), 101 (report and end the thread), 102 (yield a
 * few times), 103 (set the FS base); a page-fault hook that does what
 * each test asks; a fatal hook that records and ends the thread; a
 * user_return hook (a thread_interrupt()ed thread leaving an interrupt for
 * ring 3) that records and ends the thread, as a fatal signal would.
 *
 * A test that times out waiting for its user thread cannot stop it (it may
 * spin in ring 3 forever): it reports failure and leaks the thread's
 * pages rather than free tables a CPU may still use.
 */
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/sched.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <kernel/wait.h>
#include <lib/string.h>

#define UCODE  0x400000ull /* code page: read + exec */
#define UDATA  0x600000ull /* pages[0], [1] read-write, [2] read-only */
#define UDEMAND 0x603000ull /* mapped by the fault hook when a test allows */
#define UTOP_PAGE (USPACE_TOP - PAGE_SIZE)
#define NPAGES 4
#define RET100 0xabcdef0123456789ull
#define WAIT_NS (5 * NS_PER_S)

/*
 * The programs. Each runs at UCODE (position independent) and ends with
 * syscall 101 or an exception.
 */
__asm__(".pushsection .rodata.user_ktest, \"a\"\n"
	/* syscall arguments and results, rcx/r11 as Linux leaves them */
	"ut_args:\n"
	"	movabs $0x1111111111111111, %rdi\n"
	"	movabs $0x2222222222222222, %rsi\n"
	"	movabs $0x3333333333333333, %rdx\n"
	"	movabs $0x4444444444444444, %r10\n"
	"	movabs $0x5555555555555555, %r8\n"
	"	movabs $0x6666666666666666, %r9\n"
	"	mov $-1, %rcx\n"
	"	mov $-1, %r11\n"
	"	mov $0x77, %ebx\n"
	"	mov $100, %eax\n"
	"	syscall\n"
	"1:	mov %rax, %rdi\n" /* the result */
	"	mov %rcx, %rsi\n" /* rip after the syscall */
	"	mov %r11, %rdx\n" /* rflags */
	"	lea 1b(%rip), %r10\n" /* what rcx should be */
	"	mov %rbx, %r8\n" /* preserved: 0x77 */
	"	mov $101, %eax\n" /* r9 preserved too */
	"	syscall\n"
	"	ud2\n"
	"ut_args_end:\n"
	/* syscall 104 moves rip past the ud2 and sets rcx, r11: iretq */
	"ut_iret:\n"
	"	mov $104, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"	mov %rcx, %rdi\n"
	"	mov %r11, %rsi\n"
	"	mov $101, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"ut_iret_end:\n"
	/* a write to pages[0], a read of pages[1] */
	"ut_mem:\n"
	"	mov $0x600000, %ebx\n"
	"	movl $0xfeedbeef, (%rbx)\n"
	"	mov 0x1000(%rbx), %eax\n"
	"	mov %rax, %rdi\n"
	"	mov $101, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"ut_mem_end:\n"
	/* a read of an unmapped page that the hook maps, then a write */
	"ut_fault:\n"
	"	mov $0x603010, %ebx\n"
	"	mov (%rbx), %eax\n"
	"	inc %eax\n"
	"	mov %eax, (%rbx)\n"
	"	mov %rax, %rdi\n"
	"	mov $101, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"ut_fault_end:\n"
	/* a read of the read-only pages[2], then a write to it */
	"ut_rowrite:\n"
	"	mov $0x602000, %ebx\n"
	"	mov (%rbx), %eax\n"
	"ut_rowrite_insn:\n"
	"	movl $1, (%rbx)\n"
	"	ud2\n"
	"ut_rowrite_end:\n"
	/* an invalid opcode */
	"ut_ud2:\n"
	"	nop\n"
	"ut_ud2_insn:\n"
	"	ud2\n"
	"ut_ud2_end:\n"
	/* SSE and FS base across switches; pages[0] holds inputs, outputs */
	"ut_sse:\n"
	"	mov $0x600000, %ebx\n"
	"	stmxcsr 0x10(%rbx)\n" /* the state user_enter gave */
	"	fnstcw 0x14(%rbx)\n"
	"	movdqu 0x20(%rbx), %xmm0\n"
	"	movdqu 0x30(%rbx), %xmm15\n"
	"	ldmxcsr 0x18(%rbx)\n"
	"	mov 0x40(%rbx), %rdi\n"
	"	mov $103, %eax\n" /* FS base = rdi */
	"	syscall\n"
	"	mov $20, %r12d\n"
	"1:	mov $102, %eax\n" /* yield */
	"	syscall\n"
	"	dec %r12d\n"
	"	jnz 1b\n"
	"	movdqu %xmm0, 0x50(%rbx)\n"
	"	movdqu %xmm15, 0x60(%rbx)\n"
	"	stmxcsr 0x70(%rbx)\n"
	"	mov %fs:8, %rax\n"
	"	mov %rax, 0x78(%rbx)\n"
	"	mov $101, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"ut_sse_end:\n"
	/* spins on pages[0] until it reads 2, then 3; heartbeats in pages[1] */
	"ut_spin:\n"
	"	mov $0x600000, %ebx\n"
	"	mov $0x601000, %r13d\n"
	"1:	incq (%r13)\n"
	"	mov (%rbx), %eax\n"
	"	cmp $2, %eax\n"
	"	jne 1b\n"
	"2:	incq 8(%r13)\n"
	"	mov (%rbx), %eax\n"
	"	cmp $3, %eax\n"
	"	jne 2b\n"
	"	mov %rax, %rdi\n"
	"	mov $101, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"ut_spin_end:\n"
	/* syscall 105 forks (the hook starts a thread from a snapshot); the
	 * child writes what it sees to pages[0] */
	"ut_fork:\n"
	"	mov $0x600000, %ebx\n"
	"	movdqu 0x20(%rbx), %xmm3\n"
	"	ldmxcsr 0x18(%rbx)\n"
	"	mov 0x40(%rbx), %rdi\n"
	"	mov $103, %eax\n" /* FS base = rdi */
	"	syscall\n"
	"	mov $0x1234, %r12d\n"
	"	movabs $0x5678abcd5678abcd, %r14\n"
	"	mov %rsp, 0x98(%rbx)\n"
	"	mov $105, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	movdqu %xmm3, 0x50(%rbx)\n"
	"	stmxcsr 0x60(%rbx)\n"
	"	mov %fs:8, %rcx\n"
	"	mov %rcx, 0x68(%rbx)\n"
	"	mov %r12, 0x70(%rbx)\n"
	"	mov %r14, 0x78(%rbx)\n"
	"	mov %rsp, 0x80(%rbx)\n"
	"	pushfq\n"
	"	pop %rcx\n"
	"	mov %rcx, 0x88(%rbx)\n"
	"1:	mov %rax, %rdi\n"
	"	mov $101, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"ut_fork_end:\n"
	".popsection\n");

extern const char ut_args[], ut_args_end[], ut_iret[], ut_iret_end[], ut_mem[], ut_mem_end[], ut_fault[],
	ut_fault_end[], ut_rowrite[], ut_rowrite_insn[], ut_rowrite_end[], ut_ud2[],
	ut_ud2_insn[], ut_ud2_end[], ut_sse[], ut_sse_end[], ut_spin[], ut_spin_end[],
	ut_fork[], ut_fork_end[];

struct utest {
	struct ktest_ctx *kt;
	struct uspace *us;
	void *code;
	void *pages[NPAGES]; /* [0..2] at UDATA.., [3] free for the test */
	void *demand; /* mapped at UDEMAND by the hook when allow_demand */
	bool allow_demand;
	void (*body)(struct utest *t); /* kernel-side test instead of ring 3 */
	struct thread *thread;
	struct completion done;

	uint64_t args[6]; /* syscall 100 */
	struct trap_frame exit_tf; /* syscall 101, the fatal exception or the
				    * interrupt the user_return hook ended */
	bool exited, fataled, interrupted;
	unsigned vector;
	uint64_t addr;
	int err;

	unsigned faults; /* page_fault hook calls */
	uint64_t fault_addr;
	unsigned fault_access;
	bool fault_from_user;
	bool wait_in_fault; /* shootdown test: sleep in the hook */
	volatile bool in_fault;
	struct completion remapped;
	unsigned yields;

	struct utest *fork_child; /* syscall 105 starts it from a snapshot */
	unsigned fork_mode;	  /* 0, or 1/2: the child's rip/rsp made bad */
	struct cpu *fork_cpu;	  /* where the child runs */
	struct user_state *state; /* the child's snapshot until it resumes */
};

static int ut_switch_log[128];
static unsigned ut_switch_n;
static unsigned ut_started; /* threads past syscall 103 (SSE test) */

static struct utest *ut_self(void)
{
	return thread_current()->arg;
}

static __attribute__((noreturn)) void ut_finish(struct utest *t)
{
	uthread_detach();
	complete(&t->done);
	thread_exit();
}

/* A child user thread in the same uspace, resuming from t->state. */
static void ut_resume_main(void *arg)
{
	struct utest *t = arg;

	if (!t->state || uthread_attach(t->us) < 0) {
		user_state_free(t->state);
		complete(&t->done);
		return;
	}
	user_resume(t->state);
}

/* Syscall 105: snapshot with rax = 0 (and, for fork_mode 1/2, a kernel
 * rip or an rsp at USPACE_TOP; IOPL 3 asked for, never granted) and a
 * thread for the child. */
static bool ut_fork_hook(struct utest *t, const struct trap_frame *tf)
{
	struct utest *ch = t->fork_child;
	struct trap_frame c = *tf;

	c.rax = 0;
	c.rflags |= 3ull << 12;
	if (t->fork_mode == 1)
		c.rip = 0xffff800000001000ull;
	if (t->fork_mode == 2)
		c.rsp = USPACE_TOP;
	ch->us = t->us;
	ch->state = user_state_save(&c);
	if (!ch->state)
		return false;
	ch->thread = thread_create_on(t->fork_cpu ? t->fork_cpu : this_cpu(), "utest-child",
				      ut_resume_main, ch, false);
	if (!ch->thread) {
		user_state_free(ch->state);
		return false;
	}
	return true;
}

static void ut_syscall(struct trap_frame *tf)
{
	struct utest *t = ut_self();

	switch (tf->rax) {
	case 100:
		t->args[0] = tf->rdi;
		t->args[1] = tf->rsi;
		t->args[2] = tf->rdx;
		t->args[3] = tf->r10;
		t->args[4] = tf->r8;
		t->args[5] = tf->r9;
		tf->rax = RET100;
		return;
	case 101:
		t->exit_tf = *tf;
		t->exited = true;
		ut_finish(t);
	case 102:
		for (int i = 0; i < 3; i++) {
			unsigned n = __atomic_fetch_add(&ut_switch_n, 1, __ATOMIC_RELAXED);

			if (n < 128)
				ut_switch_log[n] = (int)thread_current()->tid;
			thread_yield();
		}
		t->yields++;
		tf->rax = 0;
		return;
	case 103: { /* also a start barrier, so the threads take turns */
		uint64_t deadline = clock_ns() + WAIT_NS;

		user_set_fs_base(tf->rdi);
		__atomic_fetch_add(&ut_started, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&ut_started, __ATOMIC_SEQ_CST) < 2 &&
		       clock_ns() < deadline)
			thread_yield();
		tf->rax = 0;
		return;
	}
	case 104: /* sysret cannot restore this frame */
		tf->rip += 2;
		tf->rcx = 0x55;
		tf->r11 = 0x66;
		tf->rflags |= 3ull << 12; /* IOPL 3: must not reach ring 3 */
		tf->rax = 0;
		return;
	case 105:
		tf->rax = ut_fork_hook(t, tf) ? 1 : (uint64_t)-ENOMEM;
		return;
	default:
		tf->rax = (uint64_t)-ENOSYS;
	}
}

static int ut_page_fault(uint64_t addr, unsigned access, bool from_user)
{
	struct utest *t = ut_self();

	t->faults++;
	t->fault_addr = addr;
	t->fault_access = access;
	t->fault_from_user = from_user;
	if (t->wait_in_fault) {
		t->in_fault = true;
		return wait_for_completion_timeout(&t->remapped, WAIT_NS) ? 0 : -EFAULT;
	}
	if (t->allow_demand && addr >= UDEMAND && addr < UDEMAND + PAGE_SIZE)
		return uspace_map(t->us, UDEMAND, virt_to_phys(t->demand),
				  USPACE_READ | USPACE_WRITE);
	return -EACCES;
}

static __attribute__((noreturn)) void ut_fatal(struct trap_frame *tf, unsigned vector,
					       uint64_t addr, int err)
{
	struct utest *t = ut_self();

	t->exit_tf = *tf;
	t->fataled = true;
	t->vector = vector;
	t->addr = addr;
	t->err = err;
	ut_finish(t);
}

static __attribute__((noreturn)) void ut_user_return(struct trap_frame *tf)
{
	struct utest *t = ut_self();

	t->exit_tf = *tf;
	t->interrupted = true;
	ut_finish(t);
}

static const struct user_hooks ut_hooks = {
	.syscall = ut_syscall,
	.page_fault = ut_page_fault,
	.fatal = ut_fatal,
	.user_return = ut_user_return,
};

static void ut_main(void *arg)
{
	struct utest *t = arg;

	if (uthread_attach(t->us) < 0) {
		complete(&t->done);
		return;
	}
	if (t->body) {
		t->body(t);
		uthread_detach();
		complete(&t->done);
		return;
	}
	user_enter(UCODE, UDATA + PAGE_SIZE);
}

/* A uspace with the program [prog, end) at UCODE and zeroed pages. */
static bool ut_setup(struct ktest_ctx *kt, struct utest *t, const char *prog,
		     const char *end)
{
	memset(t, 0, sizeof(*t));
	t->kt = kt;
	completion_init(&t->done);
	completion_init(&t->remapped);
	t->us = uspace_create();
	t->code = page_zalloc(0);
	t->demand = page_zalloc(0);
	for (int i = 0; i < NPAGES; i++)
		t->pages[i] = page_zalloc(0);
	if (!t->us || !t->code || !t->demand || !t->pages[NPAGES - 1])
		return false;
	memcpy(t->code, prog, (size_t)(end - prog));
	if (uspace_map(t->us, UCODE, virt_to_phys(t->code), USPACE_READ | USPACE_EXEC))
		return false;
	for (int i = 0; i < 3; i++)
		if (uspace_map(t->us, UDATA + (uint64_t)i * PAGE_SIZE,
			       virt_to_phys(t->pages[i]),
			       i == 2 ? USPACE_READ : USPACE_READ | USPACE_WRITE))
			return false;
	return true;
}

static void ut_start(struct utest *t, struct cpu *on)
{
	t->thread = thread_create_on(on ? on : this_cpu(), "utest", ut_main, t, false);
}

/* Waits for the thread; false (and the thread left alone) on timeout. */
static bool ut_wait(struct utest *t)
{
	if (!t->thread || !wait_for_completion_timeout(&t->done, WAIT_NS))
		return false;
	thread_join(t->thread);
	t->thread = NULL;
	return true;
}

static void ut_teardown(struct utest *t)
{
	if (t->thread)
		return; /* still running: leak rather than pull its pages */
	uspace_destroy(t->us);
	page_free(t->code, 0);
	page_free(t->demand, 0);
	for (int i = 0; i < NPAGES; i++)
		page_free(t->pages[i], 0);
}

/* Runs one program to its end on cpu `on` (NULL: this one). */
static bool ut_run(struct ktest_ctx *kt, struct utest *t, const char *prog,
		   const char *end, struct cpu *on)
{
	if (!KT_EXPECT(ut_setup(kt, t, prog, end)))
		return false;
	user_set_hooks(&ut_hooks);
	ut_start(t, on);
	if (!KT_EXPECT(ut_wait(t))) {
		user_set_hooks(NULL);
		return false;
	}
	user_set_hooks(NULL);
	return true;
}

static struct cpu *other_cpu(void)
{
	for (unsigned i = 0; i < cpu_count; i++)
		if (cpus[i].online && &cpus[i] != this_cpu())
			return &cpus[i];
	return NULL;
}

static void ut_check_root(struct utest *t)
{
	struct ktest_ctx *kt = t->kt;
	uint64_t *root = phys_to_virt(read_cr3() & ~0xfffull);
	uint64_t *k = phys_to_virt(vmm_kernel_root());

	KT_EXPECT(read_cr3() != vmm_kernel_root());
	KT_EXPECT(memcmp(root + 256, k + 256, 256 * sizeof(uint64_t)) == 0);
	KT_EXPECT(uthread_uspace() == t->us);
	KT_EXPECT(uthread_owner() == NULL); /* until the role sets one */
	uthread_set_owner(t);
	KT_EXPECT(uthread_owner() == t);
}

KTEST(user_attach_loads_the_uspace)
{
	struct utest t;

	KT_ASSERT(ut_setup(kt, &t, ut_ud2, ut_ud2_end));
	t.body = ut_check_root;
	ut_start(&t, NULL);
	KT_EXPECT(ut_wait(&t));
	KT_EXPECT(read_cr3() == vmm_kernel_root()); /* a kernel thread */
	KT_EXPECT(uthread_uspace() == NULL);
	KT_EXPECT(uthread_owner() == NULL);
	ut_teardown(&t);
}

/* uthread_set_uspace: a second uspace maps another page at UDATA; the
 * thread moves there (copies see that page, CR3 changed) and back. */
static void ut_move_body(struct utest *t)
{
	struct ktest_ctx *kt = t->kt;
	struct uspace *other = uspace_create();
	uint64_t cr3 = read_cr3();
	char buf[4] = {0};

	if (!KT_EXPECT(other != NULL))
		return;
	memcpy(t->pages[0], "one", 4);
	memcpy(t->pages[3], "two", 4);
	if (!KT_EXPECT_EQ(uspace_map(other, UDATA, virt_to_phys(t->pages[3]), USPACE_READ), 0))
		goto destroy;
	KT_EXPECT_EQ(copy_from_user(buf, UDATA, 4), 0);
	KT_EXPECT(memcmp(buf, "one", 4) == 0);
	uthread_set_uspace(other);
	KT_EXPECT(uthread_uspace() == other);
	KT_EXPECT(read_cr3() != cr3);
	KT_EXPECT_EQ(copy_from_user(buf, UDATA, 4), 0);
	KT_EXPECT(memcmp(buf, "two", 4) == 0);
	KT_EXPECT_EQ(copy_from_user(buf, UDATA + PAGE_SIZE, 4), -EFAULT); /* not mapped there */
	uthread_set_uspace(t->us);
	KT_EXPECT(uthread_uspace() == t->us);
	KT_EXPECT_EQ(read_cr3(), cr3);
	uspace_unmap(other, UDATA);
destroy:
	uspace_destroy(other); /* no thread uses it any more */
}

KTEST(user_set_uspace_moves_the_thread)
{
	struct utest t;

	KT_ASSERT(ut_setup(kt, &t, ut_ud2, ut_ud2_end));
	t.body = ut_move_body;
	ut_start(&t, NULL);
	KT_EXPECT(ut_wait(&t));
	ut_teardown(&t);
}

KTEST(user_syscall_arguments_and_result)
{
	struct utest t;

	if (!ut_run(kt, &t, ut_args, ut_args_end, NULL))
		goto out;
	KT_EXPECT(t.exited);
	KT_EXPECT_EQ(t.args[0], 0x1111111111111111ull);
	KT_EXPECT_EQ(t.args[1], 0x2222222222222222ull);
	KT_EXPECT_EQ(t.args[2], 0x3333333333333333ull);
	KT_EXPECT_EQ(t.args[3], 0x4444444444444444ull);
	KT_EXPECT_EQ(t.args[4], 0x5555555555555555ull);
	KT_EXPECT_EQ(t.args[5], 0x6666666666666666ull);
	KT_EXPECT_EQ(t.exit_tf.rdi, RET100);
	KT_EXPECT_EQ(t.exit_tf.rsi, t.exit_tf.r10); /* rcx = rip after syscall */
	KT_EXPECT(t.exit_tf.rsi > UCODE && t.exit_tf.rsi < UCODE + PAGE_SIZE);
	KT_EXPECT_EQ(t.exit_tf.rdx & (RFLAGS_IF | RFLAGS_1), RFLAGS_IF | RFLAGS_1);
	KT_EXPECT_EQ(t.exit_tf.r8, 0x77);
	KT_EXPECT_EQ(t.exit_tf.r9, 0x6666666666666666ull);
	KT_EXPECT_EQ(t.exit_tf.vector, VEC_SYSCALL);
	KT_EXPECT_EQ(t.exit_tf.cs, SEL_UCODE);
	KT_EXPECT_EQ(t.exit_tf.ss, SEL_UDATA);
out:
	ut_teardown(&t);
}


KTEST(user_syscall_frame_changed_by_the_hook)
{
	struct utest t;

	if (!ut_run(kt, &t, ut_iret, ut_iret_end, NULL))
		goto out;
	KT_EXPECT(t.exited);
	KT_EXPECT_EQ(t.exit_tf.rdi, 0x55);
	KT_EXPECT_EQ(t.exit_tf.rsi, 0x66);
	KT_EXPECT_EQ(t.exit_tf.r11 & (3ull << 12), 0); /* rflags: IOPL 0 */
	KT_EXPECT(t.exit_tf.r11 & RFLAGS_IF);
	KT_EXPECT(!t.fataled);
out:
	ut_teardown(&t);
}

KTEST(user_writes_reach_memory_and_set_dirty)
{
	struct utest t;
	uint64_t u;

	if (!KT_EXPECT(ut_setup(kt, &t, ut_mem, ut_mem_end)))
		goto out;
	*(uint32_t *)t.pages[1] = 0x5a5a5a5a;
	user_set_hooks(&ut_hooks);
	ut_start(&t, NULL);
	KT_EXPECT(ut_wait(&t));
	user_set_hooks(NULL);
	if (!KT_EXPECT(t.exited))
		goto out;
	KT_EXPECT_EQ(*(uint32_t *)t.pages[0], 0xfeedbeef);
	KT_EXPECT_EQ(t.exit_tf.rdi, 0x5a5a5a5a);
	KT_EXPECT_EQ(t.faults, 0);
	u = UDATA;
	KT_EXPECT_EQ(uspace_pte(t.us, UCODE, false), USPACE_PRESENT | USPACE_ACCESSED);
	KT_EXPECT_EQ(uspace_pte(t.us, u + PAGE_SIZE, false),
		     USPACE_PRESENT | USPACE_ACCESSED);
	KT_EXPECT_EQ(uspace_pte(t.us, u + 2 * PAGE_SIZE, false), USPACE_PRESENT);
	KT_EXPECT_EQ(uspace_pte(t.us, u + PAGE_SIZE, true), USPACE_PRESENT | USPACE_ACCESSED);
	KT_EXPECT_EQ(uspace_pte(t.us, u + PAGE_SIZE, false), USPACE_PRESENT);
	KT_EXPECT_EQ(uspace_unmap(t.us, u), USPACE_PRESENT | USPACE_ACCESSED | USPACE_DIRTY);
	KT_EXPECT_EQ(uspace_unmap(t.us, u), 0);
	KT_EXPECT_EQ(uspace_pte(t.us, u, false), 0);
	KT_EXPECT_EQ(uspace_pte(t.us, 0x123456789000ull, false), 0);
	KT_EXPECT_EQ(uspace_unmap(t.us, 0x123456789000ull), 0);
	KT_EXPECT_EQ(uspace_map(t.us, u + 1, virt_to_phys(t.pages[0]), USPACE_READ), -EINVAL);
	KT_EXPECT_EQ(uspace_map(t.us, USPACE_TOP, virt_to_phys(t.pages[0]), USPACE_READ),
		     -EINVAL);
	KT_EXPECT_EQ(uspace_map(t.us, u, 1ull << 52, USPACE_READ), -EINVAL);
	KT_EXPECT_EQ(uspace_map(t.us, u, virt_to_phys(t.pages[0]) + 8, USPACE_READ), -EINVAL);
out:
	ut_teardown(&t);
}

KTEST(user_fault_mapped_by_the_hook_is_retried)
{
	struct utest t;

	if (!KT_EXPECT(ut_setup(kt, &t, ut_fault, ut_fault_end)))
		goto out;
	t.allow_demand = true;
	((uint32_t *)t.demand)[4] = 41;
	user_set_hooks(&ut_hooks);
	ut_start(&t, NULL);
	KT_EXPECT(ut_wait(&t));
	user_set_hooks(NULL);
	if (!KT_EXPECT(t.exited))
		goto out;
	KT_EXPECT_EQ(t.faults, 1);
	KT_EXPECT_EQ(t.fault_addr, UDEMAND + 0x10);
	KT_EXPECT_EQ(t.fault_access, USPACE_READ);
	KT_EXPECT(t.fault_from_user);
	KT_EXPECT_EQ(t.exit_tf.rdi, 42);
	KT_EXPECT_EQ(((uint32_t *)t.demand)[4], 42);
	KT_EXPECT_EQ(uspace_unmap(t.us, UDEMAND),
		     USPACE_PRESENT | USPACE_ACCESSED | USPACE_DIRTY);
out:
	ut_teardown(&t);
}

KTEST(user_write_to_read_only_page_is_fatal)
{
	struct utest t;

	if (!ut_run(kt, &t, ut_rowrite, ut_rowrite_end, NULL))
		goto out;
	KT_EXPECT(t.fataled);
	KT_EXPECT_EQ(t.vector, 14);
	KT_EXPECT_EQ(t.addr, UDATA + 2 * PAGE_SIZE);
	KT_EXPECT_EQ(t.err, -EACCES);
	KT_EXPECT_EQ(t.faults, 1);
	KT_EXPECT_EQ(t.fault_access, USPACE_WRITE);
	KT_EXPECT(t.fault_from_user);
	KT_EXPECT_EQ(t.exit_tf.rip, UCODE + (uint64_t)(ut_rowrite_insn - ut_rowrite));
	KT_EXPECT_EQ(t.exit_tf.error & 3, 3); /* protection, write */
	KT_EXPECT_EQ(*(uint32_t *)t.pages[2], 0);
out:
	ut_teardown(&t);
}

KTEST(user_invalid_opcode_is_fatal)
{
	struct utest t;

	if (!ut_run(kt, &t, ut_ud2, ut_ud2_end, NULL))
		goto out;
	KT_EXPECT(t.fataled);
	KT_EXPECT_EQ(t.vector, 6);
	KT_EXPECT_EQ(t.addr, UCODE + (uint64_t)(ut_ud2_insn - ut_ud2));
	KT_EXPECT_EQ(t.exit_tf.rip, t.addr);
	KT_EXPECT_EQ(t.exit_tf.cs, SEL_UCODE);
	KT_EXPECT_EQ(t.faults, 0);
out:
	ut_teardown(&t);
}

/* Kernel side of the copy test, in a user thread that never enters ring 3. */
static void ut_copy_body(struct utest *t)
{
	struct ktest_ctx *kt = t->kt;
	char buf[64];
	unsigned f;

	/* Mapped pages. */
	KT_EXPECT_EQ(copy_to_user(UDATA + 8, "abcdefgh", 8), 0);
	KT_EXPECT(memcmp((char *)t->pages[0] + 8, "abcdefgh", 8) == 0);
	memset(buf, 0, sizeof(buf));
	KT_EXPECT_EQ(copy_from_user(buf, UDATA + 8, 8), 0);
	KT_EXPECT(memcmp(buf, "abcdefgh", 8) == 0);
	KT_EXPECT_EQ(copy_from_user(buf, UDATA, 0), 0);

	/* Across a page the hook maps on demand, for a read then a write. */
	memcpy((char *)t->pages[2] + PAGE_SIZE - 4, "WXYZ", 4);
	memcpy(t->demand, "1234", 4);
	t->allow_demand = true;
	KT_EXPECT_EQ(copy_from_user(buf, UDEMAND - 4, 8), 0);
	KT_EXPECT(memcmp(buf, "WXYZ1234", 8) == 0);
	KT_EXPECT_EQ(t->faults, 1);
	KT_EXPECT_EQ(t->fault_addr, UDEMAND);
	KT_EXPECT_EQ(t->fault_access, USPACE_READ);
	KT_EXPECT(!t->fault_from_user);
	KT_EXPECT_EQ(uspace_unmap(t->us, UDEMAND), USPACE_PRESENT | USPACE_ACCESSED);
	KT_EXPECT_EQ(copy_to_user(UDEMAND + 0x10, "hi", 2), 0);
	KT_EXPECT_EQ(t->faults, 2);
	KT_EXPECT_EQ(t->fault_access, USPACE_WRITE);
	KT_EXPECT(memcmp((char *)t->demand + 0x10, "hi", 2) == 0);
	KT_EXPECT_EQ(uspace_unmap(t->us, UDEMAND),
		     USPACE_PRESENT | USPACE_ACCESSED | USPACE_DIRTY);
	t->allow_demand = false;

	/* Pages the hook refuses: unmapped, read-only for a write. */
	f = t->faults;
	KT_EXPECT_EQ(copy_from_user(buf, 0x700000, 4), -EFAULT);
	KT_EXPECT_EQ(copy_to_user(UDATA + 2 * PAGE_SIZE, "no", 2), -EFAULT);
	KT_EXPECT_EQ(t->faults, f + 2);
	KT_EXPECT(memcmp(t->pages[2], "no", 2) != 0);

	/* Kernel addresses, ranges past USPACE_TOP or wrapping: refused
	 * before anything is touched (the hook is not called). */
	f = t->faults;
	KT_EXPECT_EQ(copy_from_user(buf, (uint64_t)t->pages[0], 4), -EFAULT);
	KT_EXPECT_EQ(copy_to_user((uint64_t)buf, "x", 1), -EFAULT);
	KT_EXPECT_EQ(copy_from_user(buf, USPACE_TOP - 4, 8), -EFAULT);
	KT_EXPECT_EQ(copy_to_user(USPACE_TOP - 4, "12345678", 8), -EFAULT);
	KT_EXPECT_EQ(copy_from_user(buf, 0x1000, ~0ull - 0x800), -EFAULT);
	KT_EXPECT_EQ(strncpy_from_user(buf, (uint64_t)t->pages[0], 8), -EFAULT);
	KT_EXPECT_EQ(t->faults, f);

	/* Strings. */
	memcpy((char *)t->pages[0] + 0x100, "hello", 6);
	memset(buf, 'q', sizeof(buf));
	KT_EXPECT_EQ(strncpy_from_user(buf, UDATA + 0x100, sizeof(buf)), 5);
	KT_EXPECT(strcmp(buf, "hello") == 0);
	KT_EXPECT_EQ(strncpy_from_user(buf, UDATA + 0x100, 6), 5);
	KT_EXPECT_EQ(strncpy_from_user(buf, UDATA + 0x100, 5), -ENAMETOOLONG);
	KT_EXPECT_EQ(strncpy_from_user(buf, UDATA + 0x100, 0), -ENAMETOOLONG);
	/* "WXYZ" at the end of pages[2], then the refused UDEMAND. */
	KT_EXPECT_EQ(strncpy_from_user(buf, UDEMAND - 4, sizeof(buf)), -EFAULT);
	/* The last user page: a string ending at USPACE_TOP, one running
	 * into it. */
	memset(t->pages[3], 'x', PAGE_SIZE);
	KT_EXPECT_EQ(uspace_map(t->us, UTOP_PAGE, virt_to_phys(t->pages[3]), USPACE_READ), 0);
	KT_EXPECT_EQ(strncpy_from_user(buf, USPACE_TOP - 4, sizeof(buf)), -EFAULT);
	((char *)t->pages[3])[PAGE_SIZE - 1] = '\0';
	KT_EXPECT_EQ(strncpy_from_user(buf, USPACE_TOP - 4, sizeof(buf)), 3);
	KT_EXPECT(strcmp(buf, "xxx") == 0);
	KT_EXPECT_EQ(copy_from_user(buf, USPACE_TOP - 8, 8), 0);
	KT_EXPECT_EQ(uspace_unmap(t->us, UTOP_PAGE), USPACE_PRESENT | USPACE_ACCESSED);
}

KTEST(user_copies_check_ranges_and_fault_in)
{
	struct utest t;
	char buf[8];

	/* A kernel thread has no user memory at all. */
	KT_EXPECT_EQ(copy_from_user(buf, UDATA, 4), -EFAULT);
	KT_EXPECT_EQ(copy_to_user(UDATA, "abc", 4), -EFAULT);
	KT_EXPECT_EQ(strncpy_from_user(buf, UDATA, sizeof(buf)), -EFAULT);
	if (!KT_EXPECT(ut_setup(kt, &t, ut_ud2, ut_ud2_end)))
		goto out;
	t.body = ut_copy_body;
	user_set_hooks(&ut_hooks);
	ut_start(&t, NULL);
	KT_EXPECT(ut_wait(&t));
	/* Without hooks, a fault in a copy is just -EFAULT. */
	user_set_hooks(NULL);
out:
	ut_teardown(&t);
}

static void ut_nohook_body(struct utest *t)
{
	struct ktest_ctx *kt = t->kt;
	char buf[8];

	KT_EXPECT_EQ(copy_from_user(buf, UDEMAND, 4), -EFAULT);
	KT_EXPECT_EQ(copy_from_user(buf, UDATA, 4), 0);
}

KTEST(user_copies_without_hooks_fail_cleanly)
{
	struct utest t;

	if (!KT_EXPECT(ut_setup(kt, &t, ut_ud2, ut_ud2_end)))
		goto out;
	t.body = ut_nohook_body;
	ut_start(&t, NULL);
	KT_EXPECT(ut_wait(&t));
	KT_EXPECT_EQ(t.faults, 0);
out:
	ut_teardown(&t);
}

/* Inputs of ut_sse in pages[0]. */
static void ut_sse_prepare(struct utest *t, uint8_t x0, uint8_t x15, uint32_t mxcsr,
			   uint64_t fs_off, uint64_t magic)
{
	uint8_t *p = t->pages[0];

	memset(p + 0x20, x0, 16);
	memset(p + 0x30, x15, 16);
	memcpy(p + 0x18, &mxcsr, 4);
	*(uint64_t *)(p + 0x40) = UDATA + fs_off;
	*(uint64_t *)(p + fs_off + 8) = magic;
}

static void ut_sse_check(struct ktest_ctx *kt, struct utest *t, uint8_t x0, uint8_t x15,
			 uint32_t mxcsr, uint64_t magic)
{
	uint8_t *p = t->pages[0];
	uint8_t want[16];

	KT_EXPECT(t->exited);
	KT_EXPECT_EQ(*(uint32_t *)(p + 0x10), 0x1f80); /* clean state at entry */
	KT_EXPECT_EQ(*(uint16_t *)(p + 0x14), 0x37f);
	memset(want, x0, 16);
	KT_EXPECT(memcmp(p + 0x50, want, 16) == 0);
	memset(want, x15, 16);
	KT_EXPECT(memcmp(p + 0x60, want, 16) == 0);
	KT_EXPECT_EQ(*(uint32_t *)(p + 0x70), mxcsr);
	KT_EXPECT_EQ(*(uint64_t *)(p + 0x78), magic);
	KT_EXPECT_EQ(t->yields, 20);
}

KTEST(user_sse_and_fs_base_survive_switches)
{
	static struct utest a, b; /* big: keep them off the boot stack */
	struct cpu *on = other_cpu();
	unsigned alternations = 0;

	ut_switch_n = 0;
	ut_started = 0;
	if (!KT_EXPECT(ut_setup(kt, &a, ut_sse, ut_sse_end)) ||
	    !KT_EXPECT(ut_setup(kt, &b, ut_sse, ut_sse_end)))
		goto out;
	ut_sse_prepare(&a, 0x11, 0x22, 0x3f80, 0x100, 0xa0a0a0a0a0a0a0a0ull);
	ut_sse_prepare(&b, 0x33, 0x44, 0x5f80, 0x200, 0xb0b0b0b0b0b0b0b0ull);
	user_set_hooks(&ut_hooks);
	ut_start(&a, on); /* same CPU: they take turns */
	ut_start(&b, on);
	KT_EXPECT(ut_wait(&a));
	KT_EXPECT(ut_wait(&b));
	user_set_hooks(NULL);
	ut_sse_check(kt, &a, 0x11, 0x22, 0x3f80, 0xa0a0a0a0a0a0a0a0ull);
	ut_sse_check(kt, &b, 0x33, 0x44, 0x5f80, 0xb0b0b0b0b0b0b0b0ull);
	for (unsigned i = 1; i < ut_switch_n && i < 128; i++)
		alternations += ut_switch_log[i] != ut_switch_log[i - 1];
	KT_EXPECT(alternations >= 10);
out:
	ut_teardown(&a);
	ut_teardown(&b);
}

static bool ut_wait_until(volatile uint64_t *p, uint64_t above)
{
	uint64_t deadline = clock_ns() + WAIT_NS;

	while (*p <= above) {
		if (clock_ns() > deadline)
			return false;
		thread_sleep_ns(NS_PER_MS);
	}
	return true;
}

KTEST(user_shootdown_reaches_a_spinning_cpu)
{
	static struct utest t;
	struct cpu *on = other_cpu();
	volatile uint64_t *beat;
	void *two = page_zalloc(0), *three = page_zalloc(0);
	uint64_t deadline;

	if (!KT_EXPECT(two && three) || !KT_EXPECT(ut_setup(kt, &t, ut_spin, ut_spin_end)))
		goto out;
	*(uint32_t *)t.pages[0] = 1;
	*(uint32_t *)two = 2;
	*(uint32_t *)three = 3;
	beat = t.pages[1];
	t.wait_in_fault = true;
	user_set_hooks(&ut_hooks);
	ut_start(&t, on);
	/* Spinning on pages[0], its translation cached on the other CPU. */
	if (!KT_EXPECT(ut_wait_until(&beat[0], 1000)))
		goto stuck;
	KT_EXPECT_EQ(uspace_unmap(t.us, UDATA), USPACE_PRESENT | USPACE_ACCESSED);
	deadline = clock_ns() + WAIT_NS;
	while (!t.in_fault && clock_ns() < deadline)
		thread_sleep_ns(NS_PER_MS);
	KT_EXPECT(t.in_fault); /* the unmap reached the other CPU's TLB */
	KT_EXPECT_EQ(uspace_map(t.us, UDATA, virt_to_phys(two), USPACE_READ | USPACE_WRITE), 0);
	complete(&t.remapped);
	if (!KT_EXPECT(ut_wait_until(&beat[1], 1000)))
		goto stuck;
	/* Replace the page under the spinning thread. */
	KT_EXPECT_EQ(uspace_map(t.us, UDATA, virt_to_phys(three), USPACE_READ | USPACE_WRITE),
		     0);
	if (!KT_EXPECT(ut_wait(&t)))
		goto stuck;
	KT_EXPECT(t.exited);
	KT_EXPECT_EQ(t.exit_tf.rdi, 3);
	KT_EXPECT_EQ(t.faults, 1);
	KT_EXPECT_EQ(t.fault_addr, UDATA);
	KT_EXPECT_EQ(t.fault_access, USPACE_READ);
	KT_EXPECT(t.fault_from_user);
stuck:
	user_set_hooks(NULL);
	ut_teardown(&t);
	if (t.thread)
		return; /* the pages may still be mapped: leak them */
out:
	page_free(two, 0);
	page_free(three, 0);
}

/* Ends ut_spin through its two phases (pages[0] = 2, then 3); false if
 * it does not get there in time. */
static bool ut_spin_stop(struct utest *t)
{
	volatile uint64_t *beat = t->pages[1];

	*(volatile uint32_t *)t->pages[0] = 2;
	if (!ut_wait_until(&beat[1], 0))
		return false;
	*(volatile uint32_t *)t->pages[0] = 3;
	return ut_wait(t);
}

static void ut_set_flag(void *arg)
{
	*(volatile int *)arg = 1;
}

/*
 * A thread spinning in ring 3 that has used up its slice with nothing
 * else to run on its CPU: a kernel thread created there then runs while
 * it still spins, the spinner goes on afterwards, and thread_interrupt()
 * ends it through the user_return hook at its next interrupt, with the
 * frame of its loop. (The processor's view: a `while :; do :; done`
 * shell must leave room for the hostlink and die of Ctrl-C.)
 */
KTEST(user_spinning_thread_gives_way_and_is_interrupted)
{
	static struct utest t;
	static volatile int ran;
	struct cpu *on = other_cpu();
	struct thread *k = NULL;
	volatile uint64_t *beat;
	uint64_t seen, deadline;

	if (!KT_EXPECT(ut_setup(kt, &t, ut_spin, ut_spin_end)))
		goto out;
	*(uint32_t *)t.pages[0] = 1;
	beat = t.pages[1];
	ran = 0;
	user_set_hooks(&ut_hooks);
	ut_start(&t, on);
	if (!KT_EXPECT(ut_wait_until(&beat[0], 1000)))
		goto stop;
	deadline = clock_ns() + WAIT_NS;
	while (!sched_slice_spent(t.thread) && clock_ns() < deadline)
		thread_sleep_ns(NS_PER_MS);
	if (!KT_EXPECT(sched_slice_spent(t.thread)))
		goto stop;
	k = thread_create_on(t.thread->cpu, "utest-kernel", ut_set_flag, (void *)&ran, false);
	if (!KT_EXPECT(k != NULL))
		goto stop;
	deadline = clock_ns() + WAIT_NS;
	while (!ran && clock_ns() < deadline)
		thread_sleep_ns(NS_PER_MS);
	KT_EXPECT(ran);
	KT_EXPECT_EQ(beat[1], 0); /* still in its first loop */
	seen = beat[0];
	KT_EXPECT(ut_wait_until(&beat[0], seen)); /* and back to it */
	thread_interrupt(t.thread);
	if (!KT_EXPECT(ut_wait(&t)))
		goto stop;
	KT_EXPECT(t.interrupted && !t.exited && !t.fataled);
	KT_EXPECT_EQ(t.exit_tf.cs, SEL_UCODE);
	KT_EXPECT(t.exit_tf.rip >= UCODE &&
		  t.exit_tf.rip < UCODE + (uint64_t)(ut_spin_end - ut_spin));
	KT_EXPECT_EQ(beat[1], 0);
stop:
	if (t.thread)
		KT_EXPECT(ut_spin_stop(&t));
	if (k && ran)
		thread_join(k); /* else it may never run: leave it */
	user_set_hooks(NULL);
out:
	ut_teardown(&t);
}

/* ---- snapshots: a forked-style thread -------------------------------------- */

/* Runs ut_fork with the child on another CPU; false if either thread
 * did not finish. */
static bool ut_fork_run(struct ktest_ctx *kt, struct utest *t, struct utest *ch,
			unsigned mode)
{
	bool ok;

	memset(ch, 0, sizeof(*ch));
	ch->kt = kt;
	completion_init(&ch->done);
	if (!KT_EXPECT(ut_setup(kt, t, ut_fork, ut_fork_end)))
		return false;
	t->fork_child = ch;
	t->fork_mode = mode;
	t->fork_cpu = other_cpu();
	ut_sse_prepare(t, 0x5c, 0, 0x3f80, 0x100, 0xc0ffee00c0ffee00ull);
	ut_started = 2; /* syscall 103 waits for nobody */
	user_set_hooks(&ut_hooks);
	ut_start(t, NULL);
	ok = KT_EXPECT(ut_wait(t));
	ok = KT_EXPECT(ch->thread != NULL) && KT_EXPECT(ut_wait(ch)) && ok;
	if (ch->thread)
		t->thread = ch->thread; /* it may still use t's uspace: leak it */
	user_set_hooks(NULL);
	return ok && KT_EXPECT(t->exited) && KT_EXPECT_EQ(t->exit_tf.rdi, 1);
}

KTEST(user_resume_gives_the_child_the_parents_state)
{
	static struct utest t, ch;
	uint8_t *p, want[16];

	KT_EXPECT(user_state_save(&t.exit_tf) == NULL); /* a kernel thread */
	if (!ut_fork_run(kt, &t, &ch, 0))
		goto out;
	p = t.pages[0];
	KT_EXPECT(ch.exited && !ch.fataled);
	KT_EXPECT_EQ(ch.exit_tf.rdi, 0); /* rax = 0 in the child */
	memset(want, 0x5c, sizeof(want));
	KT_EXPECT(memcmp(p + 0x50, want, 16) == 0); /* xmm3 */
	KT_EXPECT_EQ(*(uint32_t *)(p + 0x60), 0x3f80);		      /* MXCSR */
	KT_EXPECT_EQ(*(uint64_t *)(p + 0x68), 0xc0ffee00c0ffee00ull); /* via FS */
	KT_EXPECT_EQ(*(uint64_t *)(p + 0x70), 0x1234);
	KT_EXPECT_EQ(*(uint64_t *)(p + 0x78), 0x5678abcd5678abcdull);
	KT_EXPECT_EQ(*(uint64_t *)(p + 0x80), *(uint64_t *)(p + 0x98)); /* rsp */
	KT_EXPECT_EQ(*(uint64_t *)(p + 0x88) & (3ull << 12), 0);	/* IOPL 0 */
	KT_EXPECT(*(uint64_t *)(p + 0x88) & RFLAGS_IF);
	KT_EXPECT_EQ(ch.exit_tf.cs, SEL_UCODE);
out:
	ut_teardown(&t);
}

KTEST(user_resume_refuses_a_kernel_rip_or_rsp)
{
	static struct utest t, ch;

	for (unsigned mode = 1; mode <= 2; mode++) {
		if (ut_fork_run(kt, &t, &ch, mode)) {
			KT_EXPECT(ch.fataled && !ch.exited);
			KT_EXPECT_EQ(ch.vector, 13);
			KT_EXPECT_EQ(ch.err, -EFAULT);
			KT_EXPECT_EQ(ch.addr, mode == 1 ? 0xffff800000001000ull
							: ch.exit_tf.rip);
			if (mode == 2)
				KT_EXPECT_EQ(ch.exit_tf.rsp, USPACE_TOP);
		}
		ut_teardown(&t);
	}
}
