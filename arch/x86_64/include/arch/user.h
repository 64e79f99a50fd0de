/*
 * x86-64 user mode internals shared by arch/x86_64/uspace.c (page tables,
 * shootdowns), user.c (user threads, hooks, fault routing), syscall.S
 * (entry, user_enter, copy routines), trap.c, cpu.c and kernel/sched.c.
 * The portable contract is include/kernel/uspace.h; nothing outside arch/
 * and the scheduler includes this.
 */
#ifndef ARCH_USER_H
#define ARCH_USER_H

#include <kernel/uspace.h>
#include <stdbool.h>
#include <stdint.h>

struct cpu;
struct thread;
struct trap_frame;

/* The user-mode state of a user thread (thread->user). Owned by the
 * thread; the scheduler reads it at switches on the thread's CPU. */
struct uthread {
	uint8_t fxsave[512] __attribute__((aligned(16))); /* FPU/SSE registers while
							     switched out */
	struct uspace *us; /* the thread's address space */
	uint64_t fs_base; /* loaded into MSR_FS_BASE whenever the thread runs */
	void *owner; /* the role's tag (uthread_set_owner); the thread's own */
};


/* Per-CPU user-mode setup (cpu.c, on every CPU): SCE, STAR, LSTAR, FMASK,
 * CR0/CR4 FPU bits; on the boot CPU also the shootdown vector. */
void user_init_cpu(struct cpu *c);

/* Makes `to` (NULL: the kernel's tables) the loaded address space of this
 * CPU in place of `from`, keeping both uspaces' CPU masks right.
 * Interrupts off. */
void uspace_switch(struct uspace *from, struct uspace *to);
/* Boot CPU: installs the shootdown IPI handler (VEC_TLB). */
void uspace_init(void);

/* Exception from user mode (trap.c): runs the hooks; returns true once
 * the faulting instruction may be retried, false if no hooks are
 * installed (trap.c then reports and panics). Interrupts off at entry and
 * exit. */
bool user_exception(struct trap_frame *tf);
/* On the way out of an interrupt or exception that came from user mode
 * (trap.c): runs the user_return hook if the thread's interrupt mark is
 * set. Interrupts off at entry and exit. */
void user_interrupt_return(struct trap_frame *tf);
/* Kernel-mode page fault (trap.c): true if it happened in a copy routine
 * and was handled (retry or fixup to -EFAULT), false for a kernel bug. */
bool user_copy_fault(struct trap_frame *tf);

/* syscall.S. user_enter_frame(tf) loads tf (on the current kernel stack)
 * and irets to ring 3: used by user_enter. The copy routines return 0 / -EFAULT,
 * and the string copy its length / -ENAMETOOLONG / -EFAULT. */
void syscall_entry(void);
/* C side of syscall_entry (user.c): runs the syscall hook with interrupts
 * on, returns with them off: 1 if sysretq can restore tf, else 0. */
int user_syscall(struct trap_frame *tf);
__attribute__((noreturn)) void user_enter_frame(struct trap_frame *tf);
int user_copy_raw(void *dst, const void *src, uint64_t len);
long user_strncpy_raw(char *dst, const char *src, uint64_t cap);

/* One entry of the copy routines' exception table (.ex_table): a fault
 * at `insn` continues at `fixup`. */
struct ex_entry {
	uint64_t insn;
	uint64_t fixup;
};

#endif
