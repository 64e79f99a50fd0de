/*
 * Interrupt entry stubs. Each vector's stub pushes a dummy error code when
 * the CPU does not push one, then the vector number, and jumps to
 * trap_common, which saves the general registers as a struct trap_frame
 * (arch/trap.h) and calls trap_dispatch(frame). Entries from user mode swap
 * %gs so kernel code always finds its struct cpu at %gs:0.
 */
#include <arch/trap.h>

	.text

/* Exceptions 8, 10-14, 17, 21, 29 and 30 push an error code themselves. */
	.macro stub v
	.balign 16
isr_\v:
	.if !(\v == 8 || (\v >= 10 && \v <= 14) || \v == 17 || \v == 21 || \v == 29 || \v == 30)
	pushq	$0
	.endif
	pushq	$\v
	jmp	trap_common
	.endm

	.altmacro
	.macro stubs from, to
	stub \from
	.if \to-\from
	stubs %(\from+1), \to
	.endif
	.endm

	stubs 0, 63
	stubs 64, 127
	stubs 128, 191
	stubs 192, 255

trap_common:
	testb	$3, 24(%rsp)		/* CS of the interrupted code */
	jz	1f
	swapgs
1:	TRAP_FRAME_PUSH
	movq	%rsp, %rdi
	cld
	call	trap_dispatch
	.globl trap_return
trap_return:
	TRAP_FRAME_POP
	testb	$3, 24(%rsp)
	jz	2f
	swapgs
2:	addq	$16, %rsp		/* vector and error code */
	iretq

/* Table of stub addresses for building the IDT. */
	.macro stubaddr v
	.quad isr_\v
	.endm
	.macro stubaddrs from, to
	stubaddr \from
	.if \to-\from
	stubaddrs %(\from+1), \to
	.endif
	.endm

	.section .rodata
	.balign 8
	.globl isr_stubs
isr_stubs:
	stubaddrs 0, 63
	stubaddrs 64, 127
	stubaddrs 128, 191
	stubaddrs 192, 255
