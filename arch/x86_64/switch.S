/*
 * Kernel thread switch.
 *
 * void switch_stacks(uint64_t *save_rsp, uint64_t next_rsp)
 * Pushes the callee-saved registers on the current stack, stores the stack
 * pointer in *save_rsp, loads next_rsp and pops the next thread's
 * registers. Interrupts are off throughout (the scheduler holds irq_push).
 *
 * A new thread's stack is prepared by sched.c to look like a switched-out
 * one whose return address is thread_start.
 */
	.text
	.globl switch_stacks
switch_stacks:
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret

/* First code a new thread runs: rbx holds the thread; see sched.c. */
	.globl thread_start
thread_start:
	movq	%rbx, %rdi
	xorl	%ebp, %ebp
	call	thread_entry
	ud2
