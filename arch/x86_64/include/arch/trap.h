/*
 * Interrupts and exceptions (arch/x86_64/trap.c, isr.S).
 *
 * Vector map:
 *   0..31     CPU exceptions
 *   32..47    legacy ISA IRQs routed through the IOAPIC (IRQ n -> 32 + n)
 *   48..223   allocated on demand (MSI/MSI-X, trap_alloc_vector)
 *   240       local APIC timer
 *   241       reschedule IPI
 *   242       TLB shootdown IPI (arch/x86_64/uspace.c)
 *   255       spurious
 *
 * A syscall entry (arch/x86_64/syscall.S) builds the same struct trap_frame
 * with vector VEC_SYSCALL, which is no IDT vector.
 */
#ifndef ARCH_TRAP_H
#define ARCH_TRAP_H

#define VEC_IRQ_BASE	 32
#define VEC_DYNAMIC_BASE 48
#define VEC_DYNAMIC_END	 224
#define VEC_TIMER	 240
#define VEC_RESCHED	 241
#define VEC_TLB		 242
#define VEC_SPURIOUS	 255
#define VEC_SYSCALL	 256 /* trap_frame.vector of a syscall */

#ifdef __ASSEMBLER__
/*
 * The general registers of a struct trap_frame, pushed and popped in its
 * order (isr.S for interrupts, syscall.S for syscalls): below them the
 * vector, the error code and the CPU's iret frame.
 */
	.macro TRAP_FRAME_PUSH
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	.endm

	.macro TRAP_FRAME_POP
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	.endm
#else
#include <stdbool.h>
#include <stdint.h>

/* Saved on every interrupt and syscall (TRAP_FRAME_PUSH above). */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

typedef void (*trap_handler)(struct trap_frame *tf, void *arg);

/* Loads the IDT on this CPU (the table itself is built once). */
void trap_init_cpu(void);

/* Installs fn for vector; panics if the vector is taken (a kernel bug). */
void trap_register(unsigned vector, trap_handler fn, void *arg);

/* Reserves a free vector in the dynamic range for fn; returns it, or -1
 * if none is left. */
int trap_alloc_vector(trap_handler fn, void *arg);
void trap_free_vector(unsigned vector);

/* Prints the registers of tf (exception reports, panics). */
void trap_dump(const struct trap_frame *tf);

#endif /* __ASSEMBLER__ */
#endif
