/*
 * The user-mode edges of the kernel: the `syscall` entry, the way into
 * ring 3 (user_enter_frame), and the routines that touch user memory with
 * an exception table (.ex_table) instead of a panic on a fault.
 *
 * syscall_entry (MSR_LSTAR). The CPU leaves rip in rcx, rflags in r11,
 * interrupts off (MSR_FMASK clears IF, DF, TF, AC, NT), still on the user
 * stack with the user's %gs. We swap %gs, park the user rsp in the per-CPU
 * scratch slot, take the running thread's kernel stack top (per-CPU
 * kstack_top, kept equal to TSS.rsp0 by the scheduler) and build a
 * struct trap_frame exactly like an interrupt from ring 3 would (user
 * selectors, vector VEC_SYSCALL), so the hooks, preemption and the iret
 * path treat both alike. user_syscall() runs with interrupts on; it says
 * whether sysret can restore the frame (canonical user rip, rcx == rip,
 * r11 == rflags, no TF/RF). Otherwise we leave through trap_return
 * (isr.S) and iretq, which restores every register of the frame.
 *
 * The per-CPU offsets CPU_KSTACK_TOP and CPU_USER_RSP are absolute symbols
 * that user.c defines from offsetof(struct cpu, ...).
 */
#include <arch/percpu.h>
#include <arch/trap.h>

#define EFAULT		14
#define ENAMETOOLONG	36

	.text
	.globl syscall_entry
syscall_entry:
	swapgs
	movq	%rsp, %gs:CPU_USER_RSP
	movq	%gs:CPU_KSTACK_TOP, %rsp
	pushq	$SEL_UDATA		/* ss */
	pushq	%gs:CPU_USER_RSP	/* rsp */
	pushq	%r11			/* rflags */
	pushq	$SEL_UCODE		/* cs */
	pushq	%rcx			/* rip */
	pushq	$0			/* error */
	pushq	$VEC_SYSCALL		/* vector */
	TRAP_FRAME_PUSH
	movq	%rsp, %rdi
	xorl	%ebp, %ebp		/* backtraces end here */
	sti
	call	user_syscall		/* returns with interrupts off */
	testl	%eax, %eax
	jz	trap_return		/* iretq restores the whole frame */
	TRAP_FRAME_POP			/* rcx == rip, r11 == rflags (checked) */
	movq	40(%rsp), %rsp		/* vector, error, rip, cs, rflags: user rsp */
	swapgs
	sysretq

/*
 * void user_enter_frame(struct trap_frame *tf): leaves for ring 3 with the
 * registers of tf, which lies on the current kernel stack (so rsp can go
 * there). Never returns.
 */
	.globl user_enter_frame
user_enter_frame:
	cli
	movq	%rdi, %rsp
	jmp	trap_return

/*
 * int user_copy_raw(void *dst, const void *src, uint64_t len)
 * Copies len bytes; 0, or -EFAULT if a fault the page_fault hook could
 * not fix stopped it. A fault inside rep movsb leaves rsi, rdi and rcx at
 * the byte that faulted, so a retry continues where it stopped.
 */
	.globl user_copy_raw
user_copy_raw:
	movq	%rdx, %rcx
1:	rep movsb
	xorl	%eax, %eax
	ret
2:	movl	$-EFAULT, %eax
	ret
	.pushsection .ex_table, "a"
	.quad 1b, 2b
	.popsection

/*
 * long user_strncpy_raw(char *dst, const char *src, uint64_t cap)
 * Copies bytes up to and including a NUL among the first cap; returns the
 * string's length, -ENAMETOOLONG if no NUL came, -EFAULT on a fault.
 */
	.globl user_strncpy_raw
user_strncpy_raw:
	xorl	%eax, %eax
1:	cmpq	%rdx, %rax
	jae	3f
2:	movb	(%rsi,%rax), %cl
	movb	%cl, (%rdi,%rax)
	testb	%cl, %cl
	jz	4f
	incq	%rax
	jmp	1b
3:	movq	$-ENAMETOOLONG, %rax
4:	ret
5:	movq	$-EFAULT, %rax
	ret
	.pushsection .ex_table, "a"
	.quad 2b, 5b
	.popsection
